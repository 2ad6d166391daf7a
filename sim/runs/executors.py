"""Where replicates run: in this process, in a pool of local processes, or on a Dask cluster.

Every executor has the same interface, :meth:`Executor.map`, which calls a picklable function on
each run specification and hands each result to a callback *as soon as that run finishes* (in
whatever order runs finish). Results never depend on the executor: every run carries its own
seed (:func:`sim.core.model.run_seed`), and the runner sorts results by replicate before writing.

Failures are data: the run function (:func:`sim.runs.replicate.run_one`) catches exceptions and returns
a failure record. If a run cannot even report back (a worker process dies, a result cannot be
unpickled), ``map`` calls ``on_error(spec, exception)`` instead of stopping the other runs.

Example:
    >>> from sim.runs.executors import SerialExecutor
    >>> out = []
    >>> SerialExecutor().map(lambda x: x * x, [1, 2, 3], out.append)
    >>> out
    [1, 4, 9]
"""

from __future__ import annotations

import importlib.util
import multiprocessing
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any

from sim import i18n
from sim.runs.lifecycle import worker_init

ResultCallback = Callable[[Any], None]
ErrorCallback = Callable[[Any, BaseException], None]

PRELOAD: tuple[str, ...] = ("sim.runs.runner",)
"""Modules the fork server imports before forking workers (saves each worker the import)."""

EXECUTORS: tuple[str, ...] = ("serial", "processes", "dask")
"""Names accepted by :func:`make_executor` and the ``--executor`` option."""


class ExecutorError(RuntimeError):
    """An executor cannot be used (e.g. Dask is not installed or the scheduler is unreachable)."""


class Executor(ABC):
    """Runs ``fn(spec)`` for every spec and streams the results to a callback.

    Subclasses implement :meth:`map`. Executors are context managers; :meth:`close` releases
    worker processes or cluster connections.
    """

    name: str = "executor"

    @abstractmethod
    def map(
        self,
        fn: Callable[[Any], Any],
        specs: Iterable[Any],
        on_result: ResultCallback,
        on_error: ErrorCallback | None = None,
    ) -> None:
        """Run ``fn`` on every spec; call ``on_result(result)`` as each run finishes.

        Args:
            fn: A picklable, module-level function of one argument.
            specs: The arguments, one per run.
            on_result: Called in the calling process with each result, in completion order.
            on_error: Called with ``(spec, exception)`` when a run could not return a result
                (the exception escaped ``fn`` or its worker died). If None, the exception is
                raised after cancelling the pending runs.

        Raises:
            KeyboardInterrupt: On Ctrl-C; pending runs are cancelled and workers stopped first.
        """

    def describe(self) -> dict[str, Any]:
        """A JSON-serialisable description for the run manifest."""
        return {"name": self.name}

    def start(self) -> None:
        """Acquire workers now (so problems show before anything is written); optional."""
        return None  # the serial executor has nothing to acquire

    def close(self) -> None:
        """Release workers (no-op by default)."""
        return None

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.describe().items() if k != "name")
        return f"{type(self).__name__}({args})"


class SerialExecutor(Executor):
    """Runs every spec one after the other in the calling process (the notebook default)."""

    name = "serial"

    def map(self, fn, specs, on_result, on_error=None):
        for spec in specs:
            try:
                result = fn(spec)
            except Exception as exc:  # noqa: BLE001 - reported as data
                interrupt = interrupt_behind(exc)
                if interrupt is not None:
                    raise interrupt from exc
                if on_error is None:
                    raise
                on_error(spec, exc)
                continue
            on_result(result)


def interrupt_behind(exc: BaseException) -> KeyboardInterrupt | None:
    """The Ctrl-C (or SIGTERM) hidden behind ``exc``, if any.

    A KeyboardInterrupt raised by the signal handler while compiled code (the Numba kernel) runs
    comes back as ``SystemError: ... returned a result with an exception set`` whose context is
    the interrupt; it must stop the run, not be recorded as a failed replicate.
    """
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        if isinstance(link, KeyboardInterrupt):
            return link
        seen.add(id(link))
        link = link.__cause__ or link.__context__
    return None


def default_workers() -> int:
    """Worker processes to use by default: the CPUs this process may use (at least 1)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


class ProcessExecutor(Executor):
    """A pool of local worker processes (the command-line default).

    Uses :class:`concurrent.futures.ProcessPoolExecutor` with the ``forkserver`` start method
    where available (``spawn`` elsewhere), so workers never inherit the parent's threads or
    state. Each worker keeps its own population cache (see :mod:`sim.runs.runner`), so a fixed
    ``population.structure_seed`` makes later replicates in the same worker cheap.

    Args:
        workers: Number of worker processes (default: the CPUs available).
        context: ``"forkserver"`` or ``"spawn"`` (default: forkserver if the platform has it).
    """

    name = "processes"

    def __init__(self, workers: int | None = None, context: str | None = None):
        if workers is not None and workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.workers = workers or default_workers()
        methods = multiprocessing.get_all_start_methods()
        if context is None:
            context = "forkserver" if "forkserver" in methods else "spawn"
        if context not in ("forkserver", "spawn") or context not in methods:
            raise ValueError(f"start method {context!r} not available; allowed: "
                             f"{', '.join(m for m in ('forkserver', 'spawn') if m in methods)}")
        self.context = context
        self._pool: ProcessPoolExecutor | None = None

    def describe(self):
        return {"name": self.name, "workers": self.workers, "context": self.context}

    def start(self) -> None:
        self._ensure_pool()

    def _ensure_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            ctx = multiprocessing.get_context(self.context)
            if self.context == "forkserver":
                # The fork server imports the model once; workers fork from it ready to run.
                ctx.set_forkserver_preload(list(PRELOAD))
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=ctx,
                initializer=worker_init,
                initargs=(os.getpid(),),
            )
        return self._pool

    def map(self, fn, specs, on_result, on_error=None):
        """See :meth:`Executor.map`. A worker that dies breaks the whole pool, failing every run
        in flight; those runs are retried once: the ones that may have been running when it died
        (the oldest ``workers + 1`` in flight) each alone in a fresh pool, so that only the run
        that kills its worker again is reported to ``on_error``; the others simply run again."""
        todo = list(enumerate(specs))
        suspects: list[tuple[int, Any]] = []
        try:
            while todo or suspects:
                if suspects:
                    index, spec = suspects.pop(0)  # alone: a second death is its own
                    self._run_batch(fn, [(index, spec)], on_result, on_error, retried=True)
                    continue
                batch, todo = todo, []
                broken = self._run_batch(fn, batch, on_result, on_error, retried=False)
                if broken:
                    suspects = broken[: self.workers + 1]
                    todo = broken[self.workers + 1:]
        except BaseException:
            self._terminate()
            raise

    def _run_batch(self, fn, batch, on_result, on_error, *, retried: bool) -> list[tuple[int, Any]]:
        """Run a batch; returns the runs lost to a dead worker (in submission order) unless
        ``retried`` (then they are reported to ``on_error``)."""
        pool = self._ensure_pool()
        pending: dict[Future, tuple[int, Any]] = {}
        lost: list[tuple[int, Any]] = []
        try:
            for item in batch:
                pending[pool.submit(fn, item[1])] = item
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in sorted(done, key=lambda f: pending[f][0]):
                    item = pending.pop(fut)
                    try:
                        result = fut.result()
                    except Exception as exc:  # noqa: BLE001 - reported as data
                        if _broken(exc) and not retried:
                            lost.append(item)
                            continue
                        if on_error is None:
                            raise
                        on_error(item[1], exc)
                        continue
                    on_result(result)
        except BaseException:
            for fut in pending:
                fut.cancel()
            raise
        if lost or retried and self._pool is not None and getattr(self._pool, "_broken", False):
            self._terminate()  # a dead worker breaks the pool; the next batch starts a new one
        return sorted(lost)

    def _terminate(self) -> None:
        """Stop the workers now (used on Ctrl-C or an error: running replicates are abandoned)."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        procs = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for p in procs:
            if p.is_alive():
                p.terminate()
        for p in procs:
            p.join(timeout=5)

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def _broken(exc: BaseException) -> bool:
    from concurrent.futures.process import BrokenProcessPool

    return isinstance(exc, BrokenProcessPool)


LOST_WORKER_TIMEOUT_S = 60.0
"""How long a Dask run waits with no worker connected before it stops (seconds); override with
the environment variable ``GDCLOUD_DASK_LOST_WORKER_TIMEOUT_S`` or the executor's argument."""

ALLOWED_FAILURES = 2
"""Worker losses a replicate may suffer (it is re-run on another worker each time) before it is
reported as failed: ``distributed.scheduler.allowed-failures`` of a LocalCluster started here
(an existing scheduler uses its own setting, default 3)."""

WORKER_TTL = "30s"
"""A LocalCluster started here drops a worker that has not sent a heartbeat for this long
(``distributed.scheduler.worker-ttl``; a killed process is noticed at once, a hung host after
this)."""


class DaskExecutor(Executor):
    """Runs on a Dask cluster: an existing scheduler, or a LocalCluster started on demand.

    Needs the optional extra: ``pip install '.[dask]'`` (``dask[distributed]``). The package is
    imported only when the executor is first used.

    Lost workers (``docs/distributed.md``): the scheduler re-runs the replicates of a worker that
    dies on another worker, at most ``ALLOWED_FAILURES`` times per replicate (then that replicate
    is reported as failed: ``KilledWorker``). If no worker is connected for
    ``lost_worker_timeout_s``, the replicates not finished are reported as failed with a message
    naming the scheduler, and the run ends (finished replicates are kept; ``--resume`` completes
    it). Nothing waits forever.

    Args:
        address: Scheduler address such as ``tcp://10.0.0.5:8786``; if None, a
            ``LocalCluster`` of worker processes is started (and stopped by :meth:`close`).
        workers: Worker processes of the LocalCluster (default: the CPUs available); ignored
            when ``address`` is given.
        lost_worker_timeout_s: Seconds without any worker before the run stops (default
            ``GDCLOUD_DASK_LOST_WORKER_TIMEOUT_S`` or :data:`LOST_WORKER_TIMEOUT_S`).
    """

    name = "dask"

    def __init__(self, address: str | None = None, workers: int | None = None,
                 lost_worker_timeout_s: float | None = None):
        if workers is not None and workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        if lost_worker_timeout_s is None:
            env = os.environ.get("GDCLOUD_DASK_LOST_WORKER_TIMEOUT_S")
            try:
                lost_worker_timeout_s = float(env) if env else LOST_WORKER_TIMEOUT_S
            except ValueError:
                raise ExecutorError(f"GDCLOUD_DASK_LOST_WORKER_TIMEOUT_S={env!r} is not a number of seconds") from None
        if not lost_worker_timeout_s > 0:
            raise ValueError(f"lost_worker_timeout_s must be > 0, got {lost_worker_timeout_s}")
        self.address = address
        self.workers = workers
        self.lost_worker_timeout_s = float(lost_worker_timeout_s)
        self._client = None
        self._cluster = None
        if importlib.util.find_spec("distributed") is None:
            raise ExecutorError(
                "the dask executor needs dask.distributed, which is not installed; install it "
                "with: pip install 'gdcloud-sim[dask]' (or pip install 'dask[distributed]')")

    def describe(self):
        d: dict[str, Any] = {"name": self.name, "address": self.address,
                             "lost_worker_timeout_s": self.lost_worker_timeout_s}
        if self.address is None:
            d.update(workers=self.workers or default_workers(), allowed_failures=ALLOWED_FAILURES)
        return d

    def start(self) -> None:
        self._ensure_client()

    def _ensure_client(self):
        if self._client is not None:
            return self._client
        try:
            import dask
            from dask.distributed import Client, LocalCluster
        except ImportError as exc:
            raise ExecutorError(
                "the dask executor needs dask.distributed, which is not installed; "
                "install it with: pip install 'gdcloud-sim[dask]' (or pip install 'dask[distributed]')"
            ) from exc
        import logging

        try:
            if self.address is None:
                with dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES,
                                      "distributed.scheduler.worker-ttl": WORKER_TTL}):
                    self._cluster = LocalCluster(
                        n_workers=self.workers or default_workers(), threads_per_worker=1,
                        processes=True, dashboard_address=None, silence_logs=logging.ERROR,
                    )
                self._client = Client(self._cluster)
            else:
                self._client = Client(self.address, timeout="20s")
        except OSError as exc:
            self.close()
            raise ExecutorError(f"cannot connect to the Dask scheduler at {self.address}: {exc}") from exc
        return self._client

    def _n_workers(self, client) -> int:
        try:
            return len(client.nthreads())
        except Exception:  # noqa: BLE001 - a scheduler that cannot answer has no usable worker
            return 0

    def map(self, fn, specs, on_result, on_error=None):
        specs = list(specs)
        if not specs:
            return
        import time

        from dask.distributed import wait as dask_wait

        client = self._ensure_client()
        futures = client.map(fn, specs, pure=False)
        spec_of = {f.key: s for f, s in zip(futures, specs, strict=True)}
        pending = set(futures)
        alone_since: float | None = None
        poll_s = min(1.0, self.lost_worker_timeout_s / 4)
        try:
            while pending:
                try:
                    done, _ = dask_wait(list(pending), timeout=poll_s, return_when="FIRST_COMPLETED")
                except TimeoutError:
                    done = set()
                for fut in done:
                    pending.discard(fut)
                    try:
                        result = fut.result()
                    except Exception as exc:  # noqa: BLE001 - reported as data
                        if on_error is None:
                            raise
                        on_error(spec_of[fut.key], exc)
                        continue
                    on_result(result)
                    fut.release()
                if not pending:
                    break
                if self._n_workers(client) > 0:
                    alone_since = None
                    continue
                now = time.monotonic()
                alone_since = alone_since or now
                if now - alone_since >= self.lost_worker_timeout_s:
                    self._give_up(client, pending, spec_of, on_error)
                    return
        except BaseException:
            client.cancel(futures)
            raise

    def _give_up(self, client, pending, spec_of, on_error) -> None:
        """No worker for the timeout: every unfinished replicate is reported as failed."""
        where = self.address or "the local cluster"
        err = ExecutorError(
            f"no Dask worker connected to {where} for {self.lost_worker_timeout_s:g} s (all workers "
            f"lost); {len(pending)} replicate(s) not run, finished ones are kept: start workers "
            "and complete the run with --resume")
        client.cancel(list(pending))
        if on_error is None:
            raise err
        for fut in pending:
            on_error(spec_of[fut.key], err)

    def close(self) -> None:
        client, cluster = self._client, self._cluster
        self._client = self._cluster = None
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()


def make_executor(name: str | Executor | None = None, *, workers: int | None = None,
                  address: str | None = None) -> Executor:
    """An executor from its name.

    Args:
        name: ``"serial"``, ``"processes"`` or ``"dask"`` (or an Executor, returned as is);
            None means ``"serial"``.
        workers: Worker processes for ``processes`` and a local ``dask`` cluster.
        address: Dask scheduler address (``dask`` only).

    Raises:
        ValueError: An unknown name, or ``address`` given for another executor.
    """
    if isinstance(name, Executor):
        return name
    name = name or "serial"
    if address is not None and name != "dask":
        raise ValueError("an address is only used by the dask executor (use --executor dask)")
    if name == "serial":
        return SerialExecutor()
    if name == "processes":
        return ProcessExecutor(workers)
    if name == "dask":
        return DaskExecutor(address, workers)
    raise ValueError(f"unknown executor {name!r}; allowed: {', '.join(EXECUTORS)}")


def describe_text(description: dict[str, Any], lang: str = "en") -> str:
    """``serial``, ``2 worker processes``, ``dask at tcp://...`` from :meth:`Executor.describe`
    (in ``lang``: ``"zh"`` takes the ``exec.*`` templates of ``sim/i18n/terms.csv``)."""
    d = description
    if lang != "en":
        if d["name"] == "dask":
            return (i18n.text("exec.dask_at", lang, address=d["address"]) if d.get("address")
                    else i18n.text("exec.dask_local", lang, n=d.get("workers")))
        if d["name"] == "processes":
            return i18n.text("exec.processes", lang, n=d["workers"])
        return i18n.term_or("exec", d["name"], lang)
    if d["name"] == "processes":
        return f"{d['workers']} worker process{'es' if d['workers'] != 1 else ''}"
    if d["name"] == "dask":
        return f"dask at {d['address']}" if d.get("address") else f"dask, {d.get('workers')} local workers"
    return d["name"]
