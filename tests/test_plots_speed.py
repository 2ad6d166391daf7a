"""The speed-ups of the run figures change nothing but speed.

Not timed (speed is measured in benchmarks/): figures drawn in two processes are the same files
as figures drawn in one, in the documented order, and a figure failing in the child process stops
the call with its traceback; the cached city outlines are the numbers computed from the
boundaries.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.core.model import CloudAdoptionModel
from sim.core.outputs import tidy_timeseries
from sim.plots import maps, parallel
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


@pytest.mark.skipif(not maps.available(), reason="the optional maps extra is not installed")
def test_cached_city_outlines_equal_the_computed_ones(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    maps.city_outlines.cache_clear()
    try:
        computed = maps.city_outlines()
        files = list((tmp_path / "gdcloud-sim").glob("city_outlines-*.npz"))
        assert len(files) == 1
        maps.city_outlines.cache_clear()
        cached = maps.city_outlines()
    finally:
        maps.city_outlines.cache_clear()
    assert list(cached) == list(computed) and len(cached) == 21
    for name, (verts, codes, xy) in computed.items():
        v2, c2, xy2 = cached[name]
        assert verts.tobytes() == v2.tobytes() and codes.tobytes() == c2.tobytes() and xy == xy2
        assert verts.shape[0] > 100  # real boundaries
