"""Draw independent figures in two processes at once (a run's figures cost seconds of CPU each).

A figure task draws one figure and writes it (atomically), returning its path. With at least two
CPUs available, :func:`run_figure_tasks` forks one child process that draws part of the tasks
while this process draws the rest (each takes the next task when free, the most expensive
first), so a run's figures take about half the wall time; the files are the same bytes either way. The child is
forked (no imports or data to send), so this is done only where ``fork`` is safe: on a platform
that has it, in a process running no other thread and not itself a daemon worker. Set
``GDCLOUD_FIGURE_WORKERS=1`` to draw everything in this process.

:class:`FigureProcess` goes one step further for a run that will draw figures after a long
computation: it forks a process *before* the computation, which imports the drawing code and
reads the map outlines while this process computes (on the other CPU), runs the ``prepare`` calls
it is sent (e.g. :func:`sim.plots.scenario.prepare_figures`, the figures' axes) until the figure
call arrives, then runs that call and returns its result; that process splits the figures with a
forked child of its own (:func:`run_figure_tasks`), while this process writes the tables. The same
rules decide whether it is safe (:func:`figure_processes`), and the same bytes are written.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import signal
import threading
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

FigureTask = tuple[float, Callable[[], Path]]
"""``(expected cost, draw-and-write function)``; costs are relative weights (CPU seconds)."""

_calls = None
"""In a :class:`FigureProcess`, the end of the pipe its call arrives on (:func:`call_waiting`)."""

_throwaway = False
"""True in a process that exists only to draw figures and then exits (:func:`_child`,
:func:`_serve`): its figures need not be taken apart after they are written."""


def call_waiting() -> bool:
    """True in a :class:`FigureProcess` whose call has arrived: work done before it (its
    ``prepare`` calls) should stop, so that it never delays the call."""
    return _calls is not None and _calls.poll()


def throwaway_process() -> bool:
    """True in a figure process that exits after drawing (see :func:`sim.plots.common.save`)."""
    return _throwaway


def figure_processes(n_tasks: int) -> int:
    """How many processes draw ``n_tasks`` figures here: 2 when it is safe and worth it, else 1."""
    env = os.environ.get("GDCLOUD_FIGURE_WORKERS", "").strip()
    if env:
        try:
            wanted = int(env)
        except ValueError:
            raise ValueError(f"GDCLOUD_FIGURE_WORKERS={env!r}; allowed: a positive integer") from None
        if wanted < 1:
            raise ValueError(f"GDCLOUD_FIGURE_WORKERS={env!r}; allowed: a positive integer")
        if wanted == 1:
            return 1
    if n_tasks < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if cpus < 2:
        return 1
    # fork copies only the calling thread: with others running (a progress bar, a Dask client)
    # a lock they hold could never be released in the child.
    if threading.active_count() > 1 or multiprocessing.current_process().daemon:
        return 1
    return 2


def _order(costs: Sequence[float]) -> list[int]:
    """Task indices, the most expensive first (equal costs in the tasks' order)."""
    return sorted(range(len(costs)), key=lambda i: -costs[i])


def _claim(order: list[int], counter) -> int | None:
    """The next unclaimed task of ``order`` (None when every task is claimed).

    Each process claims the next task whenever it is free, so the two end at most about one task
    apart whatever the tasks really cost here (a figure costs more as the first one drawn in a
    process, or under load): a fixed split by expected costs left one process 0.25-0.7 s after
    the other once the costs had moved.
    """
    with counter.get_lock():
        k = counter.value
        counter.value = k + 1
    return order[k] if k < len(order) else None


def _child(tasks: Sequence[FigureTask], order: list[int], counter, conn) -> None:
    global _throwaway
    _throwaway = True
    try:
        done: list[tuple[int, str]] = []
        i: int | None = order[0]
        while i is not None:
            done.append((i, str(tasks[i][1]())))
            i = _claim(order, counter)
        conn.send(("ok", done))
    except BaseException:  # noqa: BLE001 - reported to the parent, which raises
        conn.send(("error", traceback.format_exc()))
    finally:
        conn.close()


def run_figure_tasks(tasks: Sequence[FigureTask]) -> list[Path]:
    """Run every task once and return their paths in the order of ``tasks``.

    The child forked here draws the most expensive task and this process the next; then each
    takes the next most expensive unclaimed task when it is free (:func:`_claim`).

    Raises:
        RuntimeError: If a task failed in the child process (with its traceback).
    """
    if figure_processes(len(tasks)) < 2:
        return [draw() for _cost, draw in tasks]
    order = _order([cost for cost, _draw in tasks])
    ctx = multiprocessing.get_context("fork")
    counter = ctx.Value("i", 2)  # order[0] is the child's, order[1] this process's
    recv, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_child, args=(tasks, order, counter, send), name="gdcloud-figures")
    child.start()
    send.close()
    paths: dict[int, Path] = {}
    try:
        i: int | None = order[1]
        while i is not None:
            paths[i] = tasks[i][1]()
            i = _claim(order, counter)
    finally:
        try:
            status, payload = recv.recv()
        except EOFError:
            status, payload = "error", "the figure process ended without a result"
        child.join()
    if status != "ok":
        raise RuntimeError(f"drawing figures in a second process failed:\n{payload}")
    paths.update((i, Path(p)) for i, p in payload)
    return [paths[i] for i in range(len(tasks))]


class FigureProcess:
    """A process forked now, warmed while this one computes, that later runs one figure call.

    Use :meth:`start` (None when forking is not safe or useful here), then :meth:`submit` the
    call (a module-level function and picklable arguments) once its data exist, :meth:`result`
    to wait for what it returned, and :meth:`close` in a ``finally`` (it stops a process that was
    never used or is still running).
    """

    def __init__(self, modules: Sequence[str]):
        ctx = multiprocessing.get_context("fork")
        self._jobs_recv, self._jobs = ctx.Pipe(duplex=False)
        self._results, self._results_send = ctx.Pipe(duplex=False)
        self._proc = ctx.Process(target=_serve, name="gdcloud-figures", daemon=False,
                                 args=(tuple(modules), self._jobs_recv, self._jobs, self._results_send))
        self._proc.start()
        self._jobs_recv.close()
        self._results_send.close()
        try:  # room for a run's time series (~0.2 MB), so that submit() never waits for the process
            import fcntl

            fcntl.fcntl(self._jobs.fileno(), fcntl.F_SETPIPE_SZ, 1 << 20)
        except (ImportError, AttributeError, OSError):  # not Linux, or above the system's limit
            pass
        self._submitted = False
        self._waiting = False  # a call was sent and not answered yet

    @classmethod
    def start(cls, modules: Sequence[str] = ("sim.plots.scenario",)) -> FigureProcess | None:
        """Fork the process, which imports ``modules`` and warms the drawing code at once; None
        if figures would be drawn in this process only (:func:`figure_processes`: one CPU,
        threads running, a daemon worker, no ``fork``, ``GDCLOUD_FIGURE_WORKERS=1``)."""
        if figure_processes(2) < 2:
            return None
        try:
            return cls(modules)
        except OSError:  # cannot fork now (process or memory limits): draw here, as without it
            return None

    def prepare(self, fn: str, *args: Any, **kwargs: Any) -> None:
        """Send a call the process runs once it is warm, before the one call of :meth:`submit`
        (``fn`` named as ``"package.module:function"``): work that needs no results yet, such as
        creating the figures' axes. Its result is discarded and its failure ignored."""
        if self._submitted or self._proc is None:
            return
        try:
            self._jobs.send(("prepare", fn, args, kwargs))
        except OSError:  # the process is gone: result() reports it, or close() reaps it
            pass

    def submit(self, fn: Callable[..., Any] | str, *args: Any, **kwargs: Any) -> None:
        """Send the call ``fn(*args, **kwargs)`` to the process (once). ``fn`` may be named as
        ``"package.module:function"``: the process imports it, this one need not (a function
        object is sent by reference too, but the process then imports its module on receipt)."""
        if self._submitted:
            raise RuntimeError("a FigureProcess runs one call")
        self._submitted = self._waiting = True
        self._jobs.send((fn, args, kwargs))

    def result(self) -> Any:
        """Wait for the call's return value.

        Raises:
            RuntimeError: The call failed in the process (with its traceback), or the process
                ended without an answer.
        """
        try:
            status, payload = self._results.recv()
        except EOFError:
            status, payload = "error", (None, "the figure process ended without a result")
        self._waiting = False  # answered: it is ending by itself
        self.close()
        if status != "ok":
            exc, text = payload
            if exc is not None:  # the call's own exception, as if it had run here
                exc.add_note(f"raised in the figure process:\n{text}")
                raise exc
            raise RuntimeError(f"drawing figures in a second process failed:\n{text}")
        return payload

    def close(self) -> None:
        """Tell an unused (or finished) process to exit, stop one still drawing, and reap it."""
        if self._proc is None:
            return
        proc, self._proc = self._proc, None
        try:
            self._jobs.close()  # an unused process sees the end of its job pipe and exits
        finally:
            proc.join(timeout=0 if self._waiting else 5)
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=5)
            self._results.close()


def _warm() -> None:
    """What the first figure of a process pays once: the font list, a text drawn with the
    default font (its file loaded and cached), and the map outlines when maps are drawn."""
    from io import BytesIO

    from matplotlib.figure import Figure

    fig = Figure(figsize=(1, 1))
    fig.text(0.5, 0.5, "0,9 %")
    fig.savefig(BytesIO(), format="png")
    maps = importlib.import_module("sim.plots.maps")
    if maps.available():
        maps.city_outlines()


def _named(target: str) -> Callable[..., Any]:
    """The function ``"package.module:function"`` (imported)."""
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def _serve(modules: tuple[str, ...], jobs, jobs_send, results) -> None:
    """The forked process: warm up, run the ``prepare`` calls sent until the one call arrives,
    then run it (or exit when none comes)."""
    global _throwaway, _calls
    _throwaway, _calls = True, jobs
    # Ctrl-C and SIGTERM are the parent's to handle: it stops this process itself (close()).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    jobs_send.close()  # else the end of the job pipe would never be seen here
    try:
        try:
            for name in modules:
                importlib.import_module(name)
            _warm()
        except Exception:  # noqa: BLE001 - warming is optional; the call imports what it needs
            pass
        job = jobs.recv()
        while job[0] == "prepare":  # optional work before the call: failures are the call's to meet
            try:
                _named(job[1])(*job[2], **job[3])
            except Exception:  # noqa: BLE001
                pass
            job = jobs.recv()
        fn, args, kwargs = job
    except (EOFError, OSError):  # no figures this time (failed run, interrupted, parent gone)
        return
    if isinstance(fn, str):
        fn = _named(fn)
    try:
        out = ("ok", fn(*args, **kwargs))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which raises it
        out = ("error", (exc, traceback.format_exc()))
    try:
        results.send(out)
    except OSError:  # the parent is gone
        pass
    except Exception:  # noqa: BLE001 - an exception that does not pickle: its text then
        results.send(("error", (None, out[1][1] if out[0] == "error" else traceback.format_exc())))
