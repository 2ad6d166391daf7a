"""Run folders: layout, atomic writes, manifest contents, reading results back."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest
import yaml

from sim.analysis.summary import SUMMARY_COLUMNS
from sim.core.outputs import TIMESERIES_COLUMNS
from sim.errors import ScenarioError
from sim.fileio import atomic_write, atomic_write_text
from sim.runs import rundir
from sim.runs.results import load_results
from sim.runs.rundir import DEPENDENCIES, new_run_folder
from sim.runs.runfolder import read_timeseries, replicates_on_disk
from sim.runs.runner import run_scenario
from sim.scenario.loader import load_scenario, scenario_hash
from sim.scenario.schema import Scenario

TINY = ["population.total_firms=20000", "time.end=2022-06"]


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """One small saved run (3 replicates, no figures), shared by the read-only checks."""
    out = tmp_path_factory.mktemp("results")
    sc = load_scenario("baseline", TINY, replicates=3)
    return run_scenario(sc, out_dir=out, figures=False, command="gdcloud run baseline (test)")


def test_folder_name_and_layout(saved):
    folder = saved.folder
    assert folder.parent.name == "baseline"
    stamp, short = folder.name.split("-")
    dt.datetime.strptime(stamp, rundir.TIMESTAMP_FORMAT)
    assert short == scenario_hash(saved.scenario)[:10]
    names = {p.name for p in folder.iterdir()}
    assert names == {"manifest.json", "scenario.resolved.yaml", "replicates", "timeseries.csv",
                     "summary.csv", "wide.csv", "goals.csv", "provincial.csv", "progress_city.csv",
                     "progress_cluster.csv", "results.xlsx"}
    assert replicates_on_disk(folder) == [0, 1, 2]
    assert not [p for p in folder.rglob("*") if p.name.startswith(".")]  # no temporary files


def test_timeseries_and_summary_columns(saved):
    ts = pd.read_csv(saved.folder / "timeseries.csv")
    assert list(ts.columns) == TIMESERIES_COLUMNS
    assert list(ts["replicate"].unique()) == [0, 1, 2]
    rep = pd.read_csv(saved.folder / "replicates" / "rep-00001.csv")
    assert list(rep.columns) == TIMESERIES_COLUMNS and set(rep["replicate"]) == {1}
    summ = pd.read_csv(saved.folder / "summary.csv")
    assert list(summ.columns) == SUMMARY_COLUMNS
    assert "p_meet_cloud_goal" in set(summ["outcome"])
    # money is written with a fixed format
    line = (saved.folder / "timeseries.csv").read_text().splitlines()[1]
    assert line.split(",")[11].endswith(".00") or "." in line.split(",")[11]


def test_timeseries_is_the_concatenation_of_replicate_files(saved):
    parts = [(saved.folder / "replicates" / f"rep-{r:05d}.csv").read_text().splitlines()
             for r in range(3)]
    expected = parts[0] + parts[1][1:] + parts[2][1:]
    assert (saved.folder / "timeseries.csv").read_text().splitlines() == expected


def test_manifest_contents(saved):
    m = json.loads((saved.folder / "manifest.json").read_text())
    sc = saved.scenario
    assert m["status"] == "complete"
    assert m["scenario"]["name"] == "baseline" and m["scenario"]["hash"] == scenario_hash(sc)
    assert m["root_seed"] == sc.run.seed
    assert m["replicates"] == {"planned": 3, "done": [0, 1, 2], "failed": []}
    assert m["replicate_seeds"][2] == {"replicate": 2, "entropy": sc.run.seed, "spawn_key": [2]}
    assert set(m["versions"]) == {"gdcloud-sim", "python", *DEPENDENCIES}
    assert m["command"] == "gdcloud run baseline (test)"
    assert m["executor"] == {"name": "serial"}
    assert m["start_time"].endswith("Z") and m["end_time"].endswith("Z")
    assert m["wall_time_s"] >= 0 and set(m["replicate_wall_time_s"]) == {"0", "1", "2"}
    assert m["failures"] == []


def test_resolved_yaml_loads_back_to_the_same_scenario(saved):
    data = yaml.safe_load((saved.folder / "scenario.resolved.yaml").read_text())
    assert scenario_hash(Scenario.model_validate(data)) == scenario_hash(saved.scenario)
    again = load_scenario(saved.folder / "scenario.resolved.yaml")
    assert scenario_hash(again) == scenario_hash(saved.scenario)


def test_load_results_round_trip(saved):
    back = load_results(saved.folder)
    assert back.folder == saved.folder and back.name == "baseline"
    pd.testing.assert_frame_equal(back.timeseries, saved.timeseries)
    pd.testing.assert_frame_equal(back.summary, saved.summary)
    assert back.failures.empty and back.ok
    assert back.replicates_done == [0, 1, 2]
    assert set(back.provincial()[["cluster", "city", "size_class"]].stack()) == {"all"}
    assert len(back.goal_outcomes()) == 3


def test_load_results_of_an_interrupted_folder_reads_finished_replicates(saved, tmp_path):
    import shutil

    part = tmp_path / saved.folder.name
    shutil.copytree(saved.folder, part)
    (part / "timeseries.csv").unlink()
    (part / "summary.csv").unlink()
    (part / "replicates" / "rep-00002.csv").unlink()
    back = load_results(part)
    assert back.replicates_done == [0, 1]
    pd.testing.assert_frame_equal(back.timeseries, saved.timeseries[saved.timeseries["replicate"] < 2])
    assert back.summary is not None and not back.ok


def test_load_results_of_something_else(tmp_path):
    with pytest.raises(ScenarioError, match="not a results folder"):
        load_results(tmp_path)


def test_new_folder_never_overwrites(tmp_path):
    now = dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    a = new_run_folder(tmp_path, "x", "0123456789", now)
    b = new_run_folder(tmp_path, "x", "0123456789", now)
    c = new_run_folder(tmp_path, "x", "0123456789", now)
    assert a.name == "20250102T030405Z-0123456789"
    assert b.name == a.name + "-2" and c.name == a.name + "-3"


def test_atomic_write_replaces_and_cleans_up(tmp_path):
    target = tmp_path / "f.txt"
    atomic_write_text(target, "first\n")
    assert target.read_text() == "first\n"

    def broken(tmp):
        tmp.write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, broken)
    assert target.read_text() == "first\n"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]


def test_read_timeseries_keeps_dtypes(saved):
    ts = read_timeseries(saved.folder / "timeseries.csv")
    assert ts["cloud_cumulative"].dtype == "int64"
    assert ts["voucher_spend_cny"].dtype == "float64"
    assert ts["date"].iloc[0] == "2021-06-30"


def test_figures_written_when_asked(tmp_path):
    res = run_scenario(load_scenario("baseline", TINY, replicates=2), out_dir=tmp_path)
    pngs = sorted(p.name for p in (res.folder / "figures").glob("*.png"))
    assert pngs and "provincial_cloud.png" in pngs
    assert set(res.manifest["figures"]) == {f"figures/{n}" for n in pngs}
