"""Start the slow parts of a single in-process run early, side by side, on the two CPUs.

A plain ``gdcloud run`` of one replicate would otherwise do everything in turn on one CPU: import
pandas, Mesa and the model (~0.6 s; Mesa's unused spaces, with SciPy's spatial module and
networkx, are deferred by :mod:`sim.lazy_imports`, which the command line installs), build the population (~1.2 s at full
scale), load about 20 compiled kernels from Numba's cache (~0.4 s), run the months, then draw
the figures. As soon as the scenario is read,
the command line calls :func:`start`, which

1. forks a process that builds the population
   (:class:`sim.runs.population_process.PopulationProcess`: the same function, scenario and
   structure seed as the model's, so the same bytes; the arrays come back in shared memory, not
   copied) while this process imports the run layer and the model;
2. when the population is taken (:func:`take`), forks the figure process
   (:class:`sim.plots.parallel.FigureProcess`): it inherits pandas and the run layer instead of
   importing them again, imports and warms the drawing code, and makes the figures' axes
   (:func:`sim.plots.scenario.prepare_figures`) while this process runs the months, until the
   results arrive. Without a build (``GDCLOUD_PREBUILD=0``, one CPU...) it is forked at once.

Before the fork this process loads Numba and the build's kernels from Numba's cache
(:mod:`sim.core.kernel_cache`), which both processes use: the build process inherits them. The
replicate takes the population (:func:`take`) where the model would build its own; before it
waits it loads the model's other kernels and, if the
build is still running, imports what the run's tables need. Anything unexpected (one CPU, a
failed build, a different scenario at :func:`take`) only means the model builds the population
itself. ``GDCLOUD_PREBUILD=0`` turns the build off.

History: the fourth session forked the build and sent the arrays through a pipe (slower: ~120 MiB
copied into freshly faulted pages, and three busy processes on two CPUs); the fifth session built
in a thread (no measurable gain: the imports and the build share the GIL).
"""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Sequence
from typing import Any

from sim.scenario.schema import Scenario

_pending: dict[str, Any] = {}
"""The build in flight in this process: ``key``, ``builder``, ``later`` (at most one)."""

_figures: dict[str, Any] = {}
"""The figure process forked by :func:`start` or :func:`take`: ``process`` until the run takes
it; ``later`` while :func:`take` is to fork it."""


def worth_it(config: Scenario) -> bool:
    """True if building one run's population of ``config`` in another process is useful here:
    not turned off (``GDCLOUD_PREBUILD=0``), two CPUs, ``fork`` and shared-memory files
    available, no other thread running (a fork copies only the calling thread), and the model
    will use a population it is given (no uncertain parameter that could change the structure;
    no shared structure, which the batch path caches instead)."""
    from sim.runs import population_process

    if os.environ.get("GDCLOUD_PREBUILD", "").strip() == "0":
        return False
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if cpus < 2 or not population_process.available() or threading.active_count() > 1:
        return False
    spec = config.population
    if spec.structure_seed is not None or spec.structure_pool is not None:
        return False
    return not config.uncertainties and config.posterior is None


def _key(config: Scenario, replicate: int, root_seed: int) -> str:
    return config.model_dump_json() + f"|{replicate}|{root_seed}"


def start(config: Scenario, replicate: int = 0, *, figures: bool = False, later: Sequence[str] = ()) -> bool:
    """Fork the figure process (if ``figures``) and start building replicate ``replicate``'s
    population of ``config`` (root seed ``config.run.seed``) in another process if
    :func:`worth_it`; returns whether a build was started. ``later`` names modules the run
    imports after the replicate (its tables): :func:`take` imports them while it waits."""
    discard()
    build = worth_it(config)
    if build:
        from sim.core import kernel_cache
        from sim.runs.population_process import PopulationProcess

        # Numba's start-up (its import, its CPU target's registries, the BLAS check importing
        # SciPy's linalg: ~0.4 s of CPU) and the build's kernels, loaded here before the fork:
        # the build process inherits them and this process needs them too (the model's
        # initialisation calls the same loops), so they are paid once instead of twice.
        kernel_cache.preload(kernel_cache.build_dispatchers())

        try:
            builder = PopulationProcess(config, replicate)
        except OSError:  # cannot fork or map now: the model builds it
            build = False
        else:
            _pending.update(key=_key(config, replicate, config.run.seed), builder=builder, later=tuple(later))
    if figures and build:  # forked when the population is taken (:func:`take`)
        _figures["later"] = True
    elif figures:  # forked now, while no thread runs and the process is small
        from sim.plots.parallel import FigureProcess

        process = FigureProcess.start()
        if process is not None:
            _figures["process"] = process
    return build


def take_figure_process():
    """The figure process :func:`start` forked for this run, or the one :func:`take` will fork
    (a :class:`LaterFigureProcess`), or None; the caller closes it."""
    if _figures.get("later"):
        return LaterFigureProcess()
    return _figures.pop("process", None)


class LaterFigureProcess:
    """Stands for the figure process :func:`take` forks (:func:`fork_figure_process`), for a run
    that asks for it before it exists: :meth:`submit`, :meth:`result` and :meth:`close` go to
    that process, or, if it was never forked (the population was not taken), to one forked at
    :meth:`submit`, or else the call runs in this process."""

    def __init__(self) -> None:
        self._process: Any = None
        self._inline: tuple | None = None

    def submit(self, fn, *args: Any, **kwargs: Any) -> None:  # noqa: D102 - FigureProcess.submit
        from sim.plots.parallel import FigureProcess

        _figures.pop("later", None)
        self._process = _figures.pop("process", None) or FigureProcess.start()
        if self._process is None:
            self._inline = (fn, args, kwargs)
        else:
            self._process.submit(fn, *args, **kwargs)

    def result(self) -> Any:  # noqa: D102 - FigureProcess.result
        if self._inline is None:
            return self._process.result()
        fn, args, kwargs = self._inline
        if isinstance(fn, str):
            module, _, name = fn.partition(":")
            fn = getattr(importlib.import_module(module), name)
        return fn(*args, **kwargs)

    def close(self) -> None:  # noqa: D102 - FigureProcess.close
        _figures.pop("later", None)
        process, self._process = self._process or _figures.pop("process", None), None
        if process is not None:
            process.close()


def fork_figure_process(config: Scenario) -> None:
    """Fork the figure process now if :func:`start` left it for later: this process has then
    imported pandas and the run layer, which it inherits instead of importing them again (~0.3 s
    of CPU on the CPU that also finishes the build). It warms up at once and then makes the axes
    of ``config``'s figures (:func:`sim.plots.scenario.prepare_figures`) until the run sends it
    its results."""
    if not _figures.pop("later", False):
        return
    from sim.plots.parallel import FigureProcess
    from sim.runs.results import goals_evaluated

    process = FigureProcess.start()
    if process is not None:
        _figures["process"] = process
        # The scenario write_figures will be sent (sim.runs.runner): the figures match only it.
        process.prepare("sim.plots.scenario:prepare_figures", goals_evaluated(config)[0])


def take(config: Scenario, replicate: int, root_seed: int):
    """The population built for this run, or None (no build in flight for this scenario,
    replicate and root seed, or it failed: the model then builds its own). Loads the model's
    kernels while the build finishes, then lets the figure process warm up."""
    if not _pending:
        return None
    if _pending["key"] != _key(config, replicate, root_seed):
        discard()  # built for another run: this process will not use it
        return None
    from sim.core import kernel_cache

    builder, later = _pending["builder"], _pending["later"]
    _pending.clear()
    try:
        kernel_cache.preload(kernel_cache.model_dispatchers())
        for name in later:  # only while waiting: imported later anyway
            if builder.ready():
                break
            importlib.import_module(name)
        return builder.take()
    finally:
        builder.close()
        fork_figure_process(config)


def in_flight() -> bool:
    """True while a build started here has not been taken or discarded."""
    return bool(_pending)


def discard() -> None:
    """Forget a build that will not be taken (a new :func:`start`, or the run ended early): stop
    its process, and stop a figure process the run did not take."""
    builder = _pending.get("builder")
    _pending.clear()
    if builder is not None:
        builder.close()
    _figures.pop("later", None)
    process = _figures.pop("process", None)
    if process is not None:
        process.close()
