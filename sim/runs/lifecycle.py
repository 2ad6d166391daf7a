"""Process lifecycle: no worker outlives the process that started it.

* :func:`worker_init` is the initializer of every local worker process: Ctrl-C is left to the
  parent (which stops the workers itself), and a watchdog thread ends the worker as soon as the
  main process is gone (killed with SIGKILL, say), so a killed run leaves no ~1 GB worker
  behind; the fork server and the resource tracker then see their pipes close and exit too.
* :func:`terminate_as_interrupt` makes SIGTERM (and SIGHUP) in the main process behave like
  Ctrl-C: the runner records the finished replicates, stops its workers and the command exits,
  instead of the process vanishing and orphaning its pool. The fork server and the resource
  tracker of :mod:`multiprocessing` exit by themselves once the main process has exited.
"""

from __future__ import annotations

import os
import signal
import threading
import time


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a run: finished replicates are saved in ``folders`` (resume them later).

    Defined here, with the other signal handling, so that the command line can catch it without
    importing the run layer (pandas, Mesa) before a single run has started its population build.
    """

    def __init__(self, folders: list):
        super().__init__("interrupted")
        self.folders = folders


WATCHDOG_INTERVAL_S = 0.5
"""How often a worker checks that its parent is still alive, seconds."""


def _alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _watch_parent(main_pid: int) -> None:
    # The main process, not os.getppid(): a worker forked by the fork server has the fork server
    # as parent, and the fork server stays up as long as any worker holds its "alive" pipe.
    while True:
        time.sleep(WATCHDOG_INTERVAL_S)
        if not _alive(main_pid):
            os._exit(1)  # nobody will collect this worker's results


def worker_init(main_pid: int) -> None:
    """Initializer of a local worker process (see the module docstring).

    Args:
        main_pid: The process that owns the pool (``os.getpid()`` there).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    thread = threading.Thread(target=_watch_parent, args=(main_pid,), name="parent-watchdog", daemon=True)
    thread.start()


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP received: handled like Ctrl-C (finished work is kept)."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated(signal.Signals(signum).name)


def terminate_as_interrupt() -> None:
    """From now on SIGTERM and SIGHUP raise :class:`Terminated` in the main thread (the command
    line calls this first; a notebook keeps the default handlers). Does nothing outside the
    main thread, where handlers cannot be installed."""
    if threading.current_thread() is not threading.main_thread():
        return
    for name in ("SIGTERM", "SIGHUP"):
        sig = getattr(signal, name, None)
        if sig is not None:
            signal.signal(sig, _raise_terminated)
