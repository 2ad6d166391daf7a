"""The job layer (sim.runs.jobs): failed runs kept as data, one population cache, executor choice."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sim.analysis.questions import what_it_takes
from sim.cli.main import main
from sim.core.model import simulate
from sim.errors import RunsFailed
from sim.runs import jobs
from sim.runs.executors import ProcessExecutor, SerialExecutor
from sim.scenario.loader import load_scenario

TINY = ["population.total_firms=5000", "time.end=2022-06", "goals.date=2022-06"]
LEVER = "initial.cloud_firms"
"""A lever whose upper bound (more cloud firms than firms) makes the model refuse to run."""


def test_failed_runs_are_recorded_and_the_others_complete() -> None:
    sc = load_scenario("baseline", TINY)
    bad = load_scenario("baseline", [*TINY, "initial.cloud_firms=1000000"])
    seen: list[tuple[int, int]] = []
    with pytest.raises(RunsFailed) as info:
        jobs.run_groups([[(sc, 0, ("cloud_cumulative",)), (sc, 1, ("cloud_cumulative",))],
                         [(bad, 0, ("cloud_cumulative",))]], SerialExecutor(),
                        on_group=lambda done, n: seen.append((done, n)))
    err = info.value
    assert seen == [(1, 2)]  # the good group completed
    assert err.total == 3 and len(err.failures) == 1
    rec = err.failures[0]
    assert (rec["replicate"], rec["index"], rec["error_type"]) == (0, 2, "ValueError")
    assert rec["seed_entropy"] == bad.run.seed and rec["seed_spawn_key"] == [0]
    assert "exceeds" in rec["message"] and "Traceback" in rec["traceback"]
    assert str(err).startswith("1 of 3 model runs failed; first: scenario 'baseline' replicate 0: ValueError: ")
    assert "\n" not in str(err)


def test_what_it_takes_stops_with_the_failures_as_data() -> None:
    sc = load_scenario("baseline", TINY)
    with pytest.raises(RunsFailed) as info:
        what_it_takes(sc, LEVER, bounds=(100, 1_000_000), replicates=2, total_firms=None)
    assert {f["replicate"] for f in info.value.failures} == {0, 1}
    assert all(f["error_type"] == "ValueError" for f in info.value.failures)


def test_cli_prints_one_line_exit_1_and_records_the_failures(tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    code = main(["what-it-takes", "baseline", LEVER, "--bounds", "100", "1000000", "--replicates", "2",
                 "--total-firms", "5000", "--set", "time.end=2022-06", "--set", "goals.date=2022-06",
                 "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 1
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err
    assert lines[0].startswith("what_it_takes failed: RunsFailed: 2 of ")
    [manifest] = out.glob("what_it_takes/*/manifest.json")
    m = json.loads(manifest.read_text())
    assert m["status"] == "failed"
    assert [f["replicate"] for f in m["error"]["failures"]] == [0, 1]


def test_one_population_cache_gives_the_models_own_population() -> None:
    sc = load_scenario("baseline", TINY)
    jobs.clear_population_cache()
    pop, cached = jobs.population_for(sc, 1)
    again, cached_again = jobs.population_for(sc, 1)
    assert not cached and cached_again and again is pop
    assert jobs.population_for(sc, 1, shared_only=True) == (None, False)
    own = simulate(sc, 1)
    shared = simulate(sc, 1, population=pop)
    np.testing.assert_array_equal(own.cells, shared.cells)
    fixed = load_scenario("baseline", [*TINY, "population.structure_seed=5"])
    a, _ = jobs.population_for(fixed, 0, shared_only=True)
    b, b_cached = jobs.population_for(fixed, 3, shared_only=True)
    assert b is a and b_cached
    jobs.clear_population_cache()


def test_resolve_executor() -> None:
    ex, owned = jobs.resolve_executor()
    assert isinstance(ex, SerialExecutor) and owned
    ex, owned = jobs.resolve_executor(workers=2)
    assert isinstance(ex, ProcessExecutor) and ex.workers == 2 and owned
    mine = SerialExecutor()
    assert jobs.resolve_executor(mine) == (mine, False)
