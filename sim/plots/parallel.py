"""Draw independent figures in two processes at once (a run's figures cost seconds of CPU each).

A figure task draws one figure and writes it (atomically), returning its path. With at least two
CPUs available, :func:`run_figure_tasks` forks one child process that draws part of the tasks
while this process draws the rest (the split balances the tasks' expected costs), so a run's
figures take about half the wall time; the files are the same bytes either way. The child is
forked (no imports or data to send), so this is done only where ``fork`` is safe: on a platform
that has it, in a process running no other thread and not itself a daemon worker. Set
``GDCLOUD_FIGURE_WORKERS=1`` to draw everything in this process.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

FigureTask = tuple[float, Callable[[], Path]]
"""``(expected cost, draw-and-write function)``; costs are relative weights (CPU seconds)."""


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


def _split(costs: Sequence[float]) -> tuple[list[int], list[int]]:
    """Task indices for the child and for this process: largest first to the lighter side."""
    sides: tuple[list[int], list[int]] = ([], [])
    load = [0.0, 0.0]
    for i in sorted(range(len(costs)), key=lambda i: -costs[i]):
        s = 0 if load[0] <= load[1] else 1
        sides[s].append(i)
        load[s] += costs[i]
    return sides


def _child(tasks: Sequence[FigureTask], indices: list[int], conn) -> None:
    try:
        conn.send(("ok", [(i, str(tasks[i][1]())) for i in indices]))
    except BaseException:  # noqa: BLE001 - reported to the parent, which raises
        conn.send(("error", traceback.format_exc()))
    finally:
        conn.close()


def run_figure_tasks(tasks: Sequence[FigureTask]) -> list[Path]:
    """Run every task once and return their paths in the order of ``tasks``.

    Raises:
        RuntimeError: If a task failed in the child process (with its traceback).
    """
    if figure_processes(len(tasks)) < 2:
        return [draw() for _cost, draw in tasks]
    theirs, mine = _split([cost for cost, _draw in tasks])
    ctx = multiprocessing.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_child, args=(tasks, theirs, send), name="gdcloud-figures")
    child.start()
    send.close()
    paths: dict[int, Path] = {}
    try:
        for i in mine:
            paths[i] = tasks[i][1]()
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
