"""Build the population of a single in-process run in a process forked before the model is imported.

A plain ``gdcloud run`` of one replicate first imports Mesa and the model (~0.9 s: Mesa's
``discrete_space`` pulls in SciPy's spatial module and networkx) and loads the compiled kernels,
then builds the population (~1 s at full scale), all on one CPU. The build needs neither Mesa nor
the model, so the command line forks a process that builds it as soon as the scenario is read
(:func:`start`), and the replicate takes it (:func:`take`) when the model would build its own:
the imports and the build overlap on the two CPUs. The arrays come back through a pipe as raw
bytes written straight into NumPy-allocated arrays (one copy, ~0.05 s at full scale).

The population is the one the model would build (same scenario, replicate and root seed: the same
structure seed, so the same bytes). Anything unexpected (no ``fork``, one CPU, another thread
running, a failed or killed build, a different scenario at :func:`take`) only means the model
builds the population itself, as without this module.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import traceback
from typing import Any

import numpy as np

from sim.scenario.schema import Scenario

_pending: dict[str, Any] = {}
"""The build in flight in this process: ``key``, ``process``, ``conn`` (at most one)."""


def worth_it(config: Scenario) -> bool:
    """True if forking a build for one run of ``config`` here is asked for and safe: turned on
    (``GDCLOUD_PREBUILD=1``; off by default because on the 2-CPU developers' machine it did not
    pay: quiet, 3 runs each way, 7.9/8.3 s wall on against 7.1/7.4 s off, the forked build competing
    with the figure process for the second CPU), ``fork`` exists, two CPUs are available, no other thread
    runs (a lock held by one could never be released in the child), this is not a daemon worker,
    and the model will use a population it is given (no uncertain parameter that could change
    the structure; no shared structure, which the batch path caches instead)."""
    if os.environ.get("GDCLOUD_PREBUILD", "").strip() != "1":  # off unless asked for (see above)
        return False
    if "fork" not in multiprocessing.get_all_start_methods():
        return False
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if cpus < 2 or threading.active_count() > 1 or multiprocessing.current_process().daemon:
        return False
    spec = config.population
    if spec.structure_seed is not None or spec.structure_pool is not None:
        return False
    return not config.uncertainties and config.posterior is None


def _key(config: Scenario, replicate: int, root_seed: int) -> str:
    return config.model_dump_json() + f"|{replicate}|{root_seed}"


def start(config: Scenario, replicate: int = 0) -> bool:
    """Fork a process building replicate ``replicate``'s population of ``config`` (root seed
    ``config.run.seed``) if :func:`worth_it`; returns whether one was started."""
    discard()
    if not worth_it(config):
        return False
    ctx = multiprocessing.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(config, replicate, send), name="gdcloud-population", daemon=True)
    proc.start()
    send.close()
    _pending.update(key=_key(config, replicate, config.run.seed), process=proc, conn=recv)
    return True


def _child(config: Scenario, replicate: int, conn) -> None:
    """Build the population and send it: a header (the other fields, then each array's name,
    dtype and shape), then each array's bytes."""
    try:
        from sim.core.population import build_population
        from sim.core.seeds import replicate_structure_seed

        pop = build_population(config, replicate_structure_seed(config, config.run.seed, replicate))
        fields = {k: v for k, v in vars(pop).items() if k != "derived"}
        arrays = {k: v for k, v in fields.items() if isinstance(v, np.ndarray)}
        others = {k: v for k, v in fields.items() if k not in arrays}
        conn.send(("ok", others, [(k, v.dtype.str, v.shape) for k, v in arrays.items()]))
        for v in arrays.values():
            conn.send_bytes(memoryview(np.ascontiguousarray(v)).cast("B"))
    except BaseException:  # noqa: BLE001 - the parent builds the population itself
        try:
            conn.send(("error", traceback.format_exc(), []))
        except Exception:  # noqa: BLE001 - the parent is gone or stopped reading
            pass
    finally:
        conn.close()


def take(config: Scenario, replicate: int, root_seed: int):
    """The population built for this run, or None (no build in flight for this scenario,
    replicate and root seed, or it failed: the model then builds its own)."""
    if not _pending:
        return None
    if _pending["key"] != _key(config, replicate, root_seed):
        discard()  # built for another run: this process will not use it
        return None
    from sim.core import kernel, setup_kernel, stage_kernel
    from sim.core.population import Population

    proc, conn = _pending["process"], _pending["conn"]
    _pending.clear()
    try:
        kernel.load()  # needed next; loaded while the build finishes
        setup_kernel.load()
        stage_kernel.load()
        status, others, layout = conn.recv()
        if status != "ok":
            return None
        arrays = {}
        for name, dtype, shape in layout:
            a = np.empty(shape, dtype=np.dtype(dtype))
            if a.nbytes:
                conn.recv_bytes_into(memoryview(a).cast("B"))
            else:
                conn.recv_bytes()
            arrays[name] = a
        return Population(**others, **arrays)
    except (EOFError, OSError, ValueError):
        return None
    finally:
        conn.close()
        proc.join(timeout=5)
        if proc.is_alive():
            proc.terminate()


def in_flight() -> bool:
    """True while a build started here has not been taken or discarded."""
    return bool(_pending)


def discard() -> None:
    """Stop a build that will not be taken (a new :func:`start`, or the run ended early)."""
    if not _pending:
        return
    proc, conn = _pending["process"], _pending["conn"]
    _pending.clear()
    conn.close()
    if proc.is_alive():
        proc.terminate()
    proc.join(timeout=5)
