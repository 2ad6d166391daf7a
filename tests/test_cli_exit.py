"""The command line's fast exit (``sim.cli.main.end_process``): output and exit callbacks are
not lost, the exit code is kept, a thread that ends soon is waited for, and one that never ends
does not hold the exit."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from faults_support import REPO

PROGRAM = """
import atexit, sys, threading, time
from sim.cli.main import end_process
atexit.register(lambda: print("callback ran"))
print("buffered output", end=" ")
if sys.argv[1] == "thread":
    threading.Thread(target=lambda: (time.sleep(0.5), print("thread done", end=" "))).start()
if sys.argv[1] == "blocked":
    threading.Thread(target=threading.Event().wait).start()  # never ends: a normal exit joins it
end_process(int(sys.argv[2]), thread_grace_s=1.0)
print("returned")
"""


def _run(mode: str, code: int = 3) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    # stdout is a pipe, so it is block-buffered: nothing is written unless it is flushed
    return subprocess.run([sys.executable, "-c", PROGRAM, mode, str(code)], env=env, capture_output=True,
                          text=True, timeout=120)


def test_end_process_flushes_runs_callbacks_and_keeps_the_exit_code() -> None:
    done = _run("alone")
    assert done.returncode == 3, done.stderr
    assert done.stdout == "buffered output callback ran\n"


def test_end_process_waits_for_a_thread_that_ends_within_the_grace() -> None:
    done = _run("thread")
    assert done.returncode == 3, done.stderr
    assert done.stdout == "buffered output thread done callback ran\n"


@pytest.mark.parametrize("code", [0, 1])
def test_a_blocked_thread_does_not_hold_the_exit(code) -> None:
    # A failed run whose results folder was removed under it stayed 14 minutes in Python's exit,
    # joining a process pool's manager thread (2026-11-30); it timed out here before end_process
    # gave threads a bounded grace.
    done = _run("blocked", code)
    assert done.returncode == code, done.stderr
    assert done.stdout == "buffered output callback ran\n"


INTERRUPTED = """
import multiprocessing, threading, time
from sim.cli.main import end_process

def hold():
    time.sleep(600)

if __name__ == "__main__":
    child = multiprocessing.get_context("fork").Process(target=hold)  # not a daemon: joined at exit
    child.start()
    print(child.pid, flush=True)
    threading.Thread(target=threading.Event().wait).start()  # never ends: a normal exit joins it
    end_process(130)
    print("returned")
"""


def test_an_interrupted_run_ends_even_with_a_blocked_thread_and_a_live_child(tmp_path) -> None:
    # A pool's manager thread left waiting for workers that were terminated mid-run made an
    # interrupted `gdcloud run` hang after its message (CI, 2026-11-29).
    script = tmp_path / "interrupted.py"
    script.write_text(INTERRUPTED)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 130, done.stderr
    assert "returned" not in done.stdout
    child_pid = int(done.stdout.split()[0])
    try:
        os.kill(child_pid, 0)
    except ProcessLookupError:
        pass  # stopped and reaped
    else:
        raise AssertionError(f"child {child_pid} still runs")
