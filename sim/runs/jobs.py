"""The one job layer under every tool: which executor, one population cache, batches of runs with
failures kept as data.

* :func:`resolve_executor` / :func:`executor_for`: the executor of a call (serial by default,
  local processes with ``workers``, Dask with ``address`` or ``executor="dask"``).
* :func:`population_for`: the population a replicate runs on, from this process's cache. Only the
  ``population`` and ``time`` sections and the structure seed determine it, so a calibration
  trial, a sensitivity point or a lever value that changes other parameters reuses it (common
  random numbers and no rebuild). With ``population.structure_seed`` set, every replicate shares
  one population; with ``population.structure_pool = K`` replicates cycle over K of them (the
  core's batch path, :mod:`sim.core.batch`).
* :func:`run_groups`: groups of model runs (the replicates of a parameter point) submitted to the
  executor together; results are put back in submission order, so nothing depends on the
  executor, the worker count or the finishing order. A run that fails is recorded (scenario,
  replicate, seed, error, traceback) and the other runs complete; then :class:`~sim.errors.RunsFailed`
  is raised with every failure, which the command line prints as one line (exit 1) and writes
  into the manifest. The analyses built on it (calibration, sensitivity, what-it-takes,
  attribution, discover) need every run of a batch, so they stop there rather than answer from
  part of their design.

``gdcloud run`` / ``compare`` (:mod:`sim.runs.runner`) and ``sweep`` keep the time series or the
outcomes of each run and report failed replicates next to the finished ones; they use the same
executor choice, population cache and collector (:func:`collect`: results handed over as they
arrive, lost runs made into failure records by :func:`failure_fields`, one progress bar).
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sim.core import batch
from sim.core.model import simulate
from sim.core.population import Population
from sim.core.seeds import run_seed
from sim.errors import RunsFailed
from sim.runs.executors import Executor, SerialExecutor, make_executor
from sim.scenario.schema import Scenario

# --------------------------------------------------------------------------- executors


@dataclass(frozen=True)
class SizedExecutor:
    """An executor chosen once the size of the work is known (:func:`sized_executor`): what the
    command line passes to the library, which knows the number of runs and the scenario only
    after checking its inputs.

    Attributes:
        name: ``serial``, ``processes``, ``dask`` or None (chosen by size).
        workers: Worker processes (None: as many as CPUs, runs and memory allow).
        address: Dask scheduler address.
    """

    name: str | None = None
    workers: int | None = None
    address: str | None = None

    def make(self, n_runs: int, scenario: Scenario) -> Executor:
        return sized_executor(self.name, self.workers, self.address, n_runs=n_runs, scenario=scenario)


ExecutorChoice = Executor | SizedExecutor | str | None
"""What the library's ``executor=`` takes: an executor, a :class:`SizedExecutor`, a name or None."""


def resolve_executor(executor: ExecutorChoice = None, workers: int | None = None,
                     address: str | None = None, *, n_runs: int = 1,
                     scenario: Scenario | None = None) -> tuple[Executor, bool]:
    """The executor of a call and whether it was created here (and so must be closed here).

    None, None, None is serial (in this process); ``workers`` alone means local processes;
    ``address`` a Dask scheduler. An :class:`~sim.runs.executors.Executor` is used as it is; a
    :class:`SizedExecutor` is made for ``n_runs`` runs of ``scenario``.
    """
    if isinstance(executor, Executor):
        return executor, False
    if isinstance(executor, SizedExecutor):
        if scenario is None:
            raise TypeError("a SizedExecutor needs the scenario of the runs")
        return executor.make(n_runs, scenario), True
    if executor is None and workers is None and address is None:
        return SerialExecutor(), True
    return make_executor(executor or "processes", workers=workers, address=address), True


def estimated_worker_gb(scenario: Scenario) -> float:
    """Rough peak memory of one worker, GB (0.65 GB at the full 2,000,000-firm scale)."""
    from sim.core.population import population_scale

    return 0.2 + 0.45 * population_scale(scenario)


def sized_executor(executor: str | None, workers: int | None, address: str | None, *, n_runs: int,
                   scenario: Scenario) -> Executor:
    """The executor a command uses when the user gave only some of executor / workers / address:
    serial for a single run (whatever ``workers`` says), else local processes, as many as CPUs,
    runs and free memory allow (Dask if an address is given). The command line's default; the Python API's is
    :func:`resolve_executor` (serial unless asked).

    Raises:
        ExecutorError: ``workers`` below 1, or an ``address`` without the Dask executor.
    """
    from sim.runs.executors import ExecutorError, default_workers

    if workers is not None and workers < 1:
        raise ExecutorError(f"--workers must be >= 1, got {workers}")
    name = executor
    if name is None:
        if address is not None:
            name = "dask"
        elif n_runs <= 1:
            # Whatever --workers says: a pool for one run only adds its start-up (a worker
            # spawned, the model imported again: ~2.5 s of a ~8 s `gdcloud run`). The results
            # are the same bytes on any executor; --executor processes still forces a pool.
            name = "serial"
        else:
            name = "processes"
    if address is not None and name != "dask":
        raise ExecutorError("--address is only used with --executor dask")
    if workers is None and name in ("processes", "dask") and address is None:
        workers = max(1, min(default_workers(), max(n_runs, 1)))
        try:
            import psutil

            fit = int(psutil.virtual_memory().available / 1e9 / estimated_worker_gb(scenario))
            workers = max(1, min(workers, fit))
        except Exception:  # noqa: BLE001 - memory is only a hint
            pass
    if address is None:
        check_memory(scenario, workers if name != "serial" else 1)
    return make_executor(name, workers=workers, address=address)


def available_memory_gb() -> float | None:
    """Memory available now, GB (10^9 bytes): Linux's ``MemAvailable`` (what psutil reports there,
    read without importing psutil: ~30 ms of every ``gdcloud run``'s start-up), else psutil's
    ``virtual_memory().available``; None if neither can tell."""
    try:
        with open("/proc/meminfo", "rb") as f:
            for line in f:
                if line.startswith(b"MemAvailable:"):
                    return int(line.split()[1]) * 1024 / 1e9  # the file's unit is KiB
    except (OSError, ValueError, IndexError):
        pass
    try:
        import psutil

        return psutil.virtual_memory().available / 1e9
    except Exception:  # noqa: BLE001 - memory is only measured when it can be
        return None


def check_memory(scenario: Scenario, workers: int | None) -> None:
    """Refuse a local run whose workers cannot all fit in the memory available now (the rule of
    sim/scenario/limits.py: the schema caps one run; this caps the run times the workers).

    Raises:
        ExecutorError: The workers need more memory than is available.
    """
    from sim.runs.executors import ExecutorError

    available_gb = available_memory_gb()
    if available_gb is None:  # no measurement, no refusal
        return
    need_gb = estimated_worker_gb(scenario) * (workers or 1)
    if need_gb > available_gb:
        raise ExecutorError(f"{workers or 1} worker(s) of this scenario need about {need_gb:.1f} GB of memory, "
                            f"{available_gb:.1f} GB are available; use fewer --workers or a smaller "
                            "population.total_firms")


@contextmanager
def executor_for(executor: ExecutorChoice = None, workers: int | None = None,
                 address: str | None = None, *, n_runs: int = 1,
                 scenario: Scenario | None = None) -> Iterator[Executor]:
    """:func:`resolve_executor` as a context: an executor created here is closed on exit."""
    ex, owned = resolve_executor(executor, workers, address, n_runs=n_runs, scenario=scenario)
    try:
        yield ex
    finally:
        if owned:
            ex.close()


# --------------------------------------------------------------------------- progress


def want_progress(progress: bool | None) -> bool:
    """Show a bar if asked, else in a terminal or a Jupyter kernel (tqdm.auto draws a widget
    there; stderr is not a terminal in Jupyter, so checking isatty alone kept notebooks silent)."""
    if progress is not None:
        return bool(progress)
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if type(shell).__name__ == "ZMQInteractiveShell":  # a Jupyter kernel, not a test importing it
        return True
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


class Progress:
    """tqdm bar with runs done, failed and ETA (silent when disabled)."""

    def __init__(self, total: int, desc: str, enabled: bool):
        self.bar = None
        self.failed = 0
        if enabled and total:
            from tqdm.auto import tqdm

            # No tqdm monitor thread (it outlives the bar): the run figures are drawn in a forked
            # process, which sim.plots.parallel allows only when no other thread runs.
            bar_class = type("RunsBar", (tqdm,), {"monitor_interval": 0})
            self.bar = bar_class(total=total, desc=desc, unit="run", file=sys.stderr, dynamic_ncols=True,
                                 smoothing=0.1)
            self.bar.set_postfix(failed=0)

    def update(self, ok: bool) -> None:
        if not ok:
            self.failed += 1
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(failed=self.failed)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


# --------------------------------------------------------------------------- collecting


def failure_fields(root_seed: int, replicate: int, exc: BaseException) -> dict[str, Any]:
    """What every failure record holds about a run that raised ``exc``: its seed (entropy and
    spawn key of ``run_seed(root_seed, replicate)``), the error type, a one-line message and the
    traceback."""
    seq = run_seed(root_seed, replicate)
    return {"seed_entropy": int(seq.entropy), "seed_spawn_key": tuple(int(k) for k in seq.spawn_key),
            "error_type": type(exc).__name__, "error_message": " ".join(str(exc).split()) or type(exc).__name__,
            "traceback": "".join(traceback.format_exception(exc))}


def collect(executor: Executor, fn: Callable[[Any], Any], tasks: Sequence[Any], *,
            on_result: Callable[[Any], None], lost: Callable[[Any, BaseException], Any],
            progress: bool | None, desc: str) -> None:
    """The one collector of ``run``, ``compare`` and ``sweep``: run ``fn`` on every task on the
    executor and hand each result to ``on_result`` as it arrives (which writes it where it
    belongs), a run whose worker could not report back as the failure record ``lost(task, exc)``,
    with a progress bar of runs done and failed (a result's ``ok`` says which).

    Raises:
        KeyboardInterrupt: On Ctrl-C, after the bar is closed (the results so far were handed over).
    """
    bar = Progress(len(tasks), desc, want_progress(progress))

    def take(res: Any) -> None:
        on_result(res)
        bar.update(res.ok)

    try:
        executor.map(fn, tasks, take, lambda task, exc: take(lost(task, exc)))
    finally:
        bar.close()


# --------------------------------------------------------------------------- population cache

def population_for(config: Scenario, replicate: int, *,
                   shared_only: bool = False) -> tuple[Population | None, bool]:
    """The population replicate ``replicate`` of ``config`` runs on, built or from this process's
    cache (the core's batch path, :func:`sim.core.batch.structure_for`, which also keeps the
    model's static tables with it).

    It equals the one :class:`~sim.core.model.CloudAdoptionModel` would build itself.

    Args:
        config: The scenario (its ``run.seed`` is the root seed).
        replicate: The replicate.
        shared_only: Only use the cache for populations shared by several replicates
            (``population.structure_seed`` or ``population.structure_pool`` set); otherwise
            return ``(None, False)`` and let the model build its own.

    Returns:
        ``(population, was_cached)``.
    """
    spec = config.population
    if shared_only and spec.structure_seed is None and spec.structure_pool is None:
        return None, False
    return batch.structure_for(config, replicate)


def clear_population_cache() -> None:
    """Forget the populations cached in this process."""
    batch.clear_cache()


# --------------------------------------------------------------------------- batches of runs


def run_totals(config: Scenario, replicate: int,
               metrics: Sequence[str] = ("cloud_cumulative", "transformed")) -> dict:
    """Run one replicate (population cached) and return ``{"dates": [...], metric: array}``."""
    out = simulate(config, replicate, population=population_for(config, replicate)[0])
    res: dict[str, Any] = {"dates": out.dates}
    for m in metrics:
        res[m] = out.total(m)
    return res


@dataclass(frozen=True)
class TotalsRun:
    """One model run of an analysis tool (small and picklable; sent to worker processes).

    Attributes:
        index: Position of the run in its batch; results are put back in this order.
        scenario: The scenario to run (a pydantic model pickles as it is: no re-validation).
        replicate: Replicate ``r``; the run uses ``run_seed(scenario.run.seed, r)``.
        metrics: Metrics returned (names of :data:`sim.core.run_output.METRICS`).
    """

    index: int
    scenario: Scenario
    replicate: int
    metrics: tuple[str, ...]


def run_totals_task(run: TotalsRun) -> tuple[int, dict]:
    """What the executors call: ``(run.index, run_totals(...))`` of one :class:`TotalsRun`.

    A module-level function, so worker processes (forkserver) and Dask workers can import it.
    """
    return run.index, run_totals(run.scenario, run.replicate, run.metrics)


Job = tuple[Scenario, int, Sequence[str]]
"""One model run: ``(config, replicate, metrics)``."""


def failure_record(run: TotalsRun, exc: BaseException) -> dict[str, Any]:
    """The record of a failed run: which scenario and replicate, its seed, the error."""
    f = failure_fields(run.scenario.run.seed, run.replicate, exc)
    return {"scenario": run.scenario.name, "replicate": run.replicate, "index": run.index,
            "seed_entropy": f["seed_entropy"], "seed_spawn_key": list(f["seed_spawn_key"]),
            "error_type": f["error_type"], "message": f["error_message"], "traceback": f["traceback"]}


def run_groups(groups: Sequence[Sequence[Job]], executor: Executor | None = None, *,
               reduce: Callable[[int, list[dict]], Any] | None = None,
               on_group: Callable[[int, int], None] | None = None) -> list[Any]:
    """Run groups of independent model runs, all submitted to the executor together.

    Each job is ``(config, replicate, metrics)`` and gives ``run_totals(config, replicate,
    metrics)``. Results are collected by their index, so what this returns does not depend on
    the executor, the number of workers or the order in which runs finish.

    Args:
        groups: The runs, grouped (e.g. the replicates of one parameter point).
        executor: Where the runs go (None: serially in this process).
        reduce: ``reduce(g, results)`` with group ``g``'s results in job order, called as soon
            as the group is complete (its raw results are then dropped). None keeps the list.
        on_group: Called with ``(groups done, groups)`` after each group completes.

    Returns:
        One entry per group, in group order: ``reduce(g, results)`` or the list of results.

    Raises:
        RunsFailed: Some runs failed (after every other run finished); ``failures`` holds a
            record per failed run.
    """
    ex = executor if executor is not None else SerialExecutor()
    specs: list[TotalsRun] = []
    where: list[tuple[int, int]] = []
    for g, jobs in enumerate(groups):
        for j, (cfg, r, metrics) in enumerate(jobs):
            where.append((g, j))
            specs.append(TotalsRun(len(specs), cfg, int(r), tuple(metrics)))
    pending = [len(jobs) for jobs in groups]
    raw: list[list[Any]] = [[None] * len(jobs) for jobs in groups]
    out: list[Any] = [None] * len(groups)
    failures: list[dict[str, Any]] = []
    done = 0

    def complete(g: int) -> None:
        nonlocal done
        out[g] = reduce(g, raw[g]) if reduce is not None else raw[g]
        raw[g] = []
        done += 1
        if on_group is not None:
            on_group(done, len(groups))

    def on_result(res: tuple[int, dict]) -> None:
        i, totals = res
        g, j = where[i]
        raw[g][j] = totals
        pending[g] -= 1
        if pending[g] == 0:
            complete(g)

    def on_error(run: TotalsRun, exc: BaseException) -> None:
        failures.append(failure_record(run, exc))

    for g, n in enumerate(pending):
        if n == 0:
            complete(g)
    ex.map(run_totals_task, specs, on_result, on_error)
    if failures:
        raise RunsFailed(sorted(failures, key=lambda f: f["index"]), len(specs))
    return out
