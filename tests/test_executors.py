"""Executors: one interface, results streamed as runs finish, failures reported not raised."""

from __future__ import annotations

import importlib.util
import os

import pytest

from sim.runs import executors
from sim.runs.executors import (
    DaskExecutor,
    ExecutorError,
    ProcessExecutor,
    SerialExecutor,
    make_executor,
)

HAVE_DASK = importlib.util.find_spec("distributed") is not None


# Module-level so that worker processes can unpickle them.
def square(x: int) -> int:
    return x * x


def fail_on_three(x: int) -> int:
    if x == 3:
        raise RuntimeError("three is bad")
    return x


def die_on_two(x: int) -> int:
    if x == 2:
        os._exit(17)  # the worker process dies without reporting
    return x


def test_serial_streams_in_order():
    out: list[int] = []
    SerialExecutor().map(square, [1, 2, 3], out.append)
    assert out == [1, 4, 9]


def test_serial_reports_errors_to_on_error():
    out, errors = [], []
    SerialExecutor().map(fail_on_three, range(5), out.append, lambda s, e: errors.append((s, str(e))))
    assert out == [0, 1, 2, 4]
    assert errors == [(3, "three is bad")]


def test_serial_raises_without_on_error():
    with pytest.raises(RuntimeError, match="three"):
        SerialExecutor().map(fail_on_three, range(5), lambda r: None)


def test_processes_stream_every_result_and_report_errors():
    out, errors = [], []
    with ProcessExecutor(2) as ex:
        ex.map(fail_on_three, range(8), out.append, lambda s, e: errors.append((s, type(e).__name__)))
        assert sorted(out) == [0, 1, 2, 4, 5, 6, 7]
        assert errors == [(3, "RuntimeError")]
        # the pool is reused for a second map
        more: list[int] = []
        ex.map(square, [5, 6], more.append)
        assert sorted(more) == [25, 36]


def test_processes_dead_worker_is_reported_and_pool_recovers():
    out, errors = [], []
    with ProcessExecutor(2) as ex:
        ex.map(die_on_two, [2], out.append, lambda s, e: errors.append(s))
        assert errors == [2] and out == []
        ex.map(square, [3], out.append)  # a fresh pool replaces the broken one
        assert out == [9]


def test_process_executor_describes_itself():
    ex = ProcessExecutor(3)
    assert ex.describe() == {"name": "processes", "workers": 3, "context": ex.context}
    assert ex.context in ("forkserver", "spawn")
    with pytest.raises(ValueError):
        ProcessExecutor(0)
    with pytest.raises(ValueError):
        ProcessExecutor(1, context="fork")


def test_make_executor():
    assert isinstance(make_executor(None), SerialExecutor)
    assert isinstance(make_executor("serial"), SerialExecutor)
    assert make_executor("processes", workers=2).workers == 2
    ex = SerialExecutor()
    assert make_executor(ex) is ex
    with pytest.raises(ValueError, match="unknown executor"):
        make_executor("threads")
    with pytest.raises(ValueError, match="dask"):
        make_executor("processes", address="tcp://127.0.0.1:8786")


def test_dask_missing_gives_clear_error(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(executors.importlib.util, "find_spec",
                        lambda name, *a: None if name == "distributed" else real(name, *a))
    with pytest.raises(ExecutorError, match=r"pip install .*dask"):
        DaskExecutor()


@pytest.mark.skipif(not HAVE_DASK, reason="dask.distributed not installed")
@pytest.mark.slow
def test_dask_local_cluster_streams_and_reports_errors():
    out, errors = [], []
    with DaskExecutor(workers=2) as ex:
        ex.map(fail_on_three, range(6), out.append, lambda s, e: errors.append(s))
    assert sorted(out) == [0, 1, 2, 4, 5]
    assert errors == [3]


def test_an_interrupt_behind_a_compiled_kernel_error_stops_the_serial_run() -> None:
    """Ctrl-C inside Numba code surfaces as a SystemError whose context is the interrupt."""
    from sim.runs.executors import SerialExecutor

    def fn(spec):
        if spec == 2:
            try:
                raise KeyboardInterrupt
            except KeyboardInterrupt:
                raise SystemError("CPUDispatcher(...) returned a result with an exception set")  # noqa: B904
        return spec

    done, failed = [], []
    with pytest.raises(KeyboardInterrupt):
        SerialExecutor().map(fn, [1, 2, 3], done.append, lambda s, e: failed.append(s))
    assert done == [1] and failed == []
    # an ordinary error is still data
    SerialExecutor().map(lambda s: 1 / (s - 2), [1, 2, 3], done.append, lambda s, e: failed.append(s))
    assert failed == [2] and done == [1, -1.0, 1.0]
