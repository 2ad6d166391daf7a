"""Start the slow parts of a single in-process run early, side by side, on the two CPUs.

A plain ``gdcloud run`` of one replicate would otherwise do everything in turn on one CPU: import
pandas, Mesa and the model (~1.2-1.6 s; Mesa's ``discrete_space`` pulls in SciPy's spatial module
and networkx), build the population (~2 s at full scale), load about 20 compiled kernels from
Numba's cache at their first calls (~0.4 s), run the months, then draw the figures. As soon as the
scenario is read, the command line calls :func:`start`, which

1. forks the figure process (:class:`sim.plots.parallel.FigureProcess`) first, while this process
   runs no other thread and has not imported matplotlib; it imports and warms the drawing code
   at once, or, with the thread of 2., only when the population is built (:func:`take`), when
   this process runs the months on one CPU and the other is free;
2. if turned on (``GDCLOUD_PREBUILD=1``), starts a thread that loads Numba, builds the population and then loads the model's kernels
   (:mod:`sim.core.kernel_cache`): the compiled loops release the GIL, so the build runs on the
   second CPU while this thread imports the run layer and the model.

The replicate takes the population (:func:`take`) where the model would build its own; while it
waits it loads the step kernels itself and imports what the run's tables need. The population is the one the model would build (same
scenario, replicate and root seed, so the same structure seed and the same bytes: the same
function builds it, in the same process, only earlier). Nothing is copied: the thread's arrays
are the model's.

An earlier version forked the build into another process (fourth session): it was slower
(7.9/8.3 s against 7.1/7.4 s quietly) because its arrays were copied through a pipe into freshly
faulted pages and three processes competed for two CPUs. Anything
unexpected (one CPU, a failed build, a different scenario at :func:`take`) only means the model
builds the population itself. The thread is off by default (:func:`worth_it`):
``GDCLOUD_PREBUILD=1`` turns it on; the figure process is forked early either way.
"""

from __future__ import annotations

import importlib
import os
import threading
import traceback
from collections.abc import Sequence
from typing import Any

from sim.scenario.schema import Scenario

_pending: dict[str, Any] = {}
"""The build in flight in this process: ``key``, ``thread``, ``box`` (at most one)."""

_figures: dict[str, Any] = {}
"""The figure process forked by :func:`start`: ``process`` until the run takes it, ``to_warm``
until :func:`take` lets it warm up."""


def worth_it(config: Scenario) -> bool:
    """True if building one run's population of ``config`` in a thread is asked for and useful
    here: turned on (``GDCLOUD_PREBUILD=1``; off by default: on the final code of the fifth
    session it made no measurable difference side by side, 6.23 against 6.17 s with figures and
    3.97 against 3.79 s without, and cost 0.4-0.5 s more CPU), two CPUs available, and the model
    will use a population it is given (no uncertain parameter that could change the structure;
    no shared structure, which the batch path caches instead)."""
    if os.environ.get("GDCLOUD_PREBUILD", "").strip() != "1":
        return False
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if cpus < 2:
        return False
    spec = config.population
    if spec.structure_seed is not None or spec.structure_pool is not None:
        return False
    return not config.uncertainties and config.posterior is None


def _key(config: Scenario, replicate: int, root_seed: int) -> str:
    return config.model_dump_json() + f"|{replicate}|{root_seed}"


def start(config: Scenario, replicate: int = 0, *, figures: bool = False, later: Sequence[str] = ()) -> bool:
    """Fork the figure process (if ``figures``) and start building replicate ``replicate``'s
    population of ``config`` (root seed ``config.run.seed``) in a thread if :func:`worth_it`;
    returns whether a build was started. ``later`` names modules the run imports after the
    replicate (its tables): :func:`take` imports them while it waits for the build."""
    discard()
    build = worth_it(config)
    if figures:  # forked first: no thread may run in this process at a fork
        from sim.plots.parallel import FigureProcess

        process = FigureProcess.start(warm=not build)
        if process is not None:
            _figures["process"] = process
            if build:
                _figures["to_warm"] = process
    if not build:
        return False
    # Imported here, before the thread starts, so that the two threads never import the same
    # module at once; Numba itself is loaded by the thread.
    from sim.core import kernel_cache
    from sim.core.population import build_population
    from sim.core.seeds import replicate_structure_seed

    box: dict[str, Any] = {"ready": threading.Event()}

    def run() -> None:
        try:
            box["dispatchers"] = kernel_cache.model_dispatchers()
            box["ready"].set()
            box["population"] = build_population(config, replicate_structure_seed(config, config.run.seed, replicate))
            kernel_cache.preload(box["dispatchers"])
        except BaseException:  # noqa: BLE001 - the model builds the population itself
            box["error"] = traceback.format_exc()
        finally:
            box["ready"].set()

    thread = threading.Thread(target=run, name="gdcloud-population", daemon=True)
    _pending.update(key=_key(config, replicate, config.run.seed), thread=thread, box=box, later=tuple(later))
    thread.start()
    return True


def take_figure_process():
    """The figure process :func:`start` forked for this run (the caller closes it), or None."""
    return _figures.pop("process", None)


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

    thread, box, later = _pending["thread"], _pending["box"], _pending["later"]
    _pending.clear()
    box["ready"].wait()
    kernel_cache.preload(box.get("dispatchers", ()))  # those the build has not loaded yet
    for name in later:  # only while waiting: imported later anyway
        if not thread.is_alive():
            break
        importlib.import_module(name)
    thread.join()
    process = _figures.pop("to_warm", None)
    if process is not None:
        process.warm()
    return box.get("population")


def in_flight() -> bool:
    """True while a build started here has not been taken or discarded."""
    return bool(_pending)


def discard() -> None:
    """Forget a build that will not be taken (a new :func:`start`, or the run ended early) and
    stop a figure process the run did not take. The thread cannot be stopped: it ends with its
    build (it is a daemon thread, so it never keeps the process alive)."""
    _pending.clear()
    _figures.pop("to_warm", None)
    process = _figures.pop("process", None)
    if process is not None:
        process.close()
