"""One replicate: what a worker needs (:class:`ReplicateRun`, small and picklable), running it
(:func:`run_one`, which never raises: failures are data) and what comes back
(:class:`ReplicateResult`: the tidy time series and wall time, or the error with its seed).
Collecting replicates into run folders is :mod:`sim.runs.runner`.
"""

from __future__ import annotations

import functools
import os
import socket
import sys
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from sim.core import outputs
from sim.core.model import CloudAdoptionModel
from sim.core.seeds import run_seed
from sim.runs import prebuild
from sim.runs.executors import interrupt_behind
from sim.runs.jobs import failure_fields, population_for
from sim.runs.rundir import versions
from sim.runs.runfolder import normalise_timeseries
from sim.scenario.schema import Scenario


@dataclass(frozen=True)
class ReplicateRun:
    """One replicate to run (picklable; sent to worker processes).

    Attributes:
        scenario: The resolved scenario, as a :class:`Scenario` or its ``model_dump()`` dict.
        scenario_name: Name used in messages and results.
        replicate: Replicate index ``r``; the run's seed is ``run_seed(root_seed, r)``.
        root_seed: Root seed (normally ``scenario.run.seed``).
        label: Key of the scenario within a comparison (default: ``scenario_name``).
    """

    scenario: Scenario | dict
    scenario_name: str
    replicate: int
    root_seed: int
    label: str = ""

    @property
    def key(self) -> str:
        return self.label or self.scenario_name


@dataclass
class ReplicateResult:
    """What one replicate returns: its time series and wall time, or why it failed.

    Attributes:
        scenario_name, label, replicate: Which run this is.
        seed_entropy, seed_spawn_key: The run's ``SeedSequence`` (entropy = root seed).
        ok: True if the run finished.
        timeseries: Tidy time series of this replicate (None if it failed).
        wall_time_s: Seconds spent in the worker.
        error_type, error_message, traceback: The failure (None if ok).
        population_cached: True if a cached population was reused.
        worker: ``host:pid`` of the process that ran it (and its Dask address, if any).
        versions: Package versions in that process (:func:`sim.runs.rundir.versions`).
    """

    scenario_name: str
    label: str
    replicate: int
    seed_entropy: int
    seed_spawn_key: tuple[int, ...]
    ok: bool
    timeseries: pd.DataFrame | None
    wall_time_s: float
    error_type: str | None = None
    error_message: str | None = None
    traceback: str | None = None
    population_cached: bool = False
    worker: str = ""
    versions: dict[str, str] = field(default_factory=dict)

    def failure_record(self) -> dict[str, Any]:
        """The row of ``failures.csv`` / the manifest entry for a failed run."""
        return {"replicate": self.replicate, "seed_entropy": self.seed_entropy,
                "seed_spawn_key": list(self.seed_spawn_key), "error_type": self.error_type,
                "message": self.error_message, "traceback": self.traceback}


def run_one(spec: ReplicateRun) -> ReplicateResult:
    """Run one replicate; never raises (a failure is returned as a record).

    Args:
        spec: The replicate to run.

    Returns:
        A :class:`ReplicateResult` holding the replicate's tidy time series, or the error.

    Example:
        >>> from sim.scenario.loader import load_scenario
        >>> sc = load_scenario("demo", ["population.total_firms=20000", "time.end=2021-09"])
        >>> res = run_one(ReplicateRun(sc, sc.name, replicate=0, root_seed=sc.run.seed))
        >>> res.ok, sorted(res.timeseries["date"].unique())[-1]
        (True, '2021-09-30')
    """
    t0 = time.perf_counter()
    seq = run_seed(spec.root_seed, spec.replicate)
    base = {"scenario_name": spec.scenario_name, "label": spec.key, "replicate": spec.replicate,
            "seed_entropy": int(seq.entropy), "seed_spawn_key": tuple(int(k) for k in seq.spawn_key),
            "worker": _worker_id(), "versions": _worker_versions()}
    cached = False
    try:
        config = spec.scenario if isinstance(spec.scenario, Scenario) else Scenario.model_validate(spec.scenario)
        pop, cached = population_for(config, spec.replicate, shared_only=True)
        prebuilt = False
        if pop is None:  # built meanwhile by a process the command line forked, if any
            pop = prebuild.take(config, spec.replicate, spec.root_seed)
            prebuilt = pop is not None  # built for this replicate alone: the model takes its tables
        model = CloudAdoptionModel(config, replicate=spec.replicate, rng=spec.root_seed, population=pop,
                                   take_population=prebuilt)
        out = model.run()
        model.close()  # frees its memory now for the next replicate (CloudAdoptionModel.close)
        ts = normalise_timeseries(outputs.tidy_timeseries(out, cells=config.outputs.cells))
    except Exception as exc:  # noqa: BLE001 - failures are data
        interrupt = interrupt_behind(exc)
        if interrupt is not None:  # Ctrl-C/SIGTERM inside the compiled kernel: stop, not a failed replicate
            raise interrupt from exc
        return ReplicateResult(**base, ok=False, timeseries=None,
                               wall_time_s=time.perf_counter() - t0, error_type=type(exc).__name__,
                               error_message=" ".join(str(exc).split()) or type(exc).__name__,
                               traceback=traceback.format_exc(), population_cached=cached)
    return ReplicateResult(**base, ok=True, timeseries=ts, wall_time_s=time.perf_counter() - t0,
                           population_cached=cached)


def _worker_id() -> str:
    """``host:pid`` of this process, plus the Dask worker address when run by a Dask worker."""
    ident = f"{socket.gethostname()}:{os.getpid()}"
    if "distributed" in sys.modules:
        try:
            from distributed import get_worker

            ident += f" ({get_worker().address})"
        except ValueError:  # not inside a Dask worker
            pass
    return ident


@functools.cache
def _worker_versions() -> dict[str, str]:
    return versions()


def lost_run(spec: ReplicateRun, exc: BaseException) -> ReplicateResult:
    """Failure record for a run whose worker could not report back (e.g. it died)."""
    return ReplicateResult(scenario_name=spec.scenario_name, label=spec.key, replicate=spec.replicate,
                           ok=False, timeseries=None, wall_time_s=0.0,
                           **failure_fields(spec.root_seed, spec.replicate, exc))
