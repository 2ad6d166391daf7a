"""Start the slow parts of a single in-process run early, side by side, on the two CPUs.

A plain ``gdcloud run`` of one replicate would otherwise do everything in turn on one CPU: import
pandas, Mesa and the model (~0.9 s; Mesa's ``discrete_space`` pulls in SciPy's spatial module
and networkx), build the population (~1.2 s at full scale), load about 20 compiled kernels from
Numba's cache (~0.4 s), run the months, then draw the figures. As soon as the scenario is read,
the command line calls :func:`start`, which

1. forks the figure process (:class:`sim.plots.parallel.FigureProcess`) first, while this process
   runs no other thread and has not imported matplotlib; it imports and warms the drawing code
   at once, or, with the build of 2., only
   when the population is handed over (:func:`take`), while this process runs the months on one
   CPU and the other is free;
2. forks a process that builds the population
   (:class:`sim.runs.population_process.PopulationProcess`: the same function, scenario and
   structure seed as the model's, so the same bytes; the arrays come back in shared memory, not
   copied) while this process imports the run layer and the model.

The replicate takes the population (:func:`take`) where the model would build its own; before it
waits it loads the model's kernels from Numba's cache (:mod:`sim.core.kernel_cache`) and, if the
build is still running, imports what the run's tables need. Anything unexpected (one CPU, a
failed build, a different scenario at :func:`take`) only means the model builds the population
itself. ``GDCLOUD_PREBUILD=0`` turns the build off (the figure process is forked early either way).

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
"""The figure process forked by :func:`start`: ``process`` until the run takes it, ``to_warm``
until :func:`take` lets it warm up."""


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
    if figures:  # forked first, while the process is small
        from sim.plots.parallel import FigureProcess

        process = FigureProcess.start(warm=not build)
        if process is not None:
            _figures["process"] = process
            if build:
                _figures["to_warm"] = process
    if not build:
        return False
    from sim.runs.population_process import PopulationProcess

    try:
        builder = PopulationProcess(config, replicate)
    except OSError:  # cannot fork or map now: the model builds it
        warm_figure_process()
        return False
    _pending.update(key=_key(config, replicate, config.run.seed), builder=builder, later=tuple(later))
    return True


def take_figure_process():
    """The figure process :func:`start` forked for this run (the caller closes it), or None."""
    return _figures.pop("process", None)


def warm_figure_process() -> None:
    """Let the figure process forked by :func:`start` import and warm up now (once)."""
    process = _figures.pop("to_warm", None)
    if process is not None:
        process.warm()


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
        warm_figure_process()


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
    _figures.pop("to_warm", None)
    process = _figures.pop("process", None)
    if process is not None:
        process.close()
