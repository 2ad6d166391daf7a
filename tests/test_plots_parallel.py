"""Figures drawn in two processes are the same files as figures drawn in one; failures surface.

Not timed (speed is measured in benchmarks/): this checks that the split over a forked process
writes every figure, in the documented order, with the same bytes, and that a figure failing in
the child process stops the call with its traceback.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.core.model import CloudAdoptionModel
from sim.core.outputs import tidy_timeseries
from sim.plots import parallel
from sim.plots.scenario import write_figures
from sim.scenario.schema import Scenario


def test_two_processes_write_the_same_figures_as_one(monkeypatch, tmp_path: Path):
    cfg = Scenario.model_validate({"name": "par", "population": {"total_firms": 4000}})
    ts = tidy_timeseries(CloudAdoptionModel(cfg).run())
    monkeypatch.setenv("GDCLOUD_FIGURE_WORKERS", "1")
    assert parallel.figure_processes(7) == 1
    one = write_figures(tmp_path / "one", ts, cfg)
    monkeypatch.delenv("GDCLOUD_FIGURE_WORKERS")
    if parallel.figure_processes(len(one)) < 2:
        pytest.skip("one CPU available here: figures are drawn in this process")
    two = write_figures(tmp_path / "two", ts, cfg)
    assert [p.name for p in two] == [p.name for p in one] and len(one) >= 6
    for a, b in zip(one, two, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name


def test_child_failure_is_raised_and_bad_setting_refused(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("GDCLOUD_FIGURE_WORKERS", "zero")
    with pytest.raises(ValueError, match="positive integer"):
        parallel.figure_processes(3)
    monkeypatch.delenv("GDCLOUD_FIGURE_WORKERS")
    if parallel.figure_processes(2) < 2:
        pytest.skip("one CPU available here: figures are drawn in this process")

    def ok(name: str):
        def run() -> Path:
            path = tmp_path / name
            path.write_text(name)
            return path
        return run

    def broken() -> Path:
        raise ValueError("no such panel")

    paths = parallel.run_figure_tasks([(1.0, ok("a")), (3.0, ok("b")), (1.5, ok("c"))])
    assert [p.read_text() for p in paths] == ["a", "b", "c"]
    with pytest.raises(RuntimeError, match="no such panel"):
        parallel.run_figure_tasks([(5.0, broken), (1.0, ok("d"))])  # the heavier task goes to the child
    assert (tmp_path / "d").read_text() == "d"  # this process drew its own part
