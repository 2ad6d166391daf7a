"""Runner: replicates, determinism across executors, failures as data, resume, comparisons."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import pickle
import shutil
from pathlib import Path

import pandas as pd
import pytest

import sim
from sim.analysis.summary import PAIRED_COLUMNS, PAIRED_OUTCOMES
from sim.core.model import CloudAdoptionModel
from sim.core.outputs import TIMESERIES_COLUMNS
from sim.errors import ScenarioError
from sim.runs import jobs, runner
from sim.runs.replicate import ReplicateResult, ReplicateRun, run_one
from sim.runs.rundir import COMMON_KEYS, read_manifest
from sim.runs.runner import run_scenario
from sim.scenario.loader import load_scenario, scenario_hash

HAVE_DASK = importlib.util.find_spec("distributed") is not None

TINY = ["population.total_firms=20000", "time.end=2022-06"]
"""A small, short scenario: the horizon does not matter for these checks."""

BROKEN = [*TINY, "initial.cloud_firms=1000000"]
"""More initial cloud firms than firms: the model raises inside the run."""


def tiny(*extra: str, replicates: int = 3):
    return load_scenario("baseline", [*TINY, *extra], replicates=replicates)


def digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# --------------------------------------------------------------------------- run_one


def test_run_one_returns_tidy_timeseries_and_is_deterministic():
    sc = tiny()
    spec = ReplicateRun(sc.model_dump(mode="json"), sc.name, replicate=1, root_seed=sc.run.seed)
    spec = pickle.loads(pickle.dumps(spec))  # specs travel to worker processes
    a, b = run_one(spec), run_one(spec)
    assert a.ok and a.error_type is None
    assert list(a.timeseries.columns) == TIMESERIES_COLUMNS
    assert set(a.timeseries["replicate"]) == {1}
    assert a.seed_entropy == sc.run.seed and a.seed_spawn_key == (1,)
    pd.testing.assert_frame_equal(a.timeseries, b.timeseries)
    assert pickle.loads(pickle.dumps(a)).timeseries.equals(a.timeseries)


def test_run_one_returns_a_failure_record_instead_of_raising():
    sc = load_scenario("baseline", BROKEN)
    # The scenario is valid for the schema but the model refuses it when the run starts.
    with pytest.raises(ValueError, match="exceeds"):
        CloudAdoptionModel(sc)
    res = run_one(ReplicateRun(sc, sc.name, replicate=0, root_seed=sc.run.seed))
    assert isinstance(res, ReplicateResult) and not res.ok and res.timeseries is None
    assert res.error_type == "ValueError"
    assert "exceeds" in res.error_message and "\n" not in res.error_message
    assert "Traceback" in res.traceback
    rec = res.failure_record()
    assert rec["replicate"] == 0 and rec["seed_entropy"] == sc.run.seed


def test_structure_seed_population_is_cached_and_gives_the_same_results():
    sc = tiny("population.structure_seed=11")
    jobs.clear_population_cache()
    spec = ReplicateRun(sc, sc.name, replicate=2, root_seed=sc.run.seed)
    first = run_one(spec)
    second = run_one(spec)
    assert not first.population_cached and second.population_cached
    pd.testing.assert_frame_equal(first.timeseries, second.timeseries)
    jobs.clear_population_cache()
    assert run_one(spec).timeseries.equals(first.timeseries)


def test_structure_seed_cache_is_used_across_replicates(tmp_path):
    res = run_scenario(tiny("population.structure_seed=11", replicates=3), out_dir=tmp_path,
                       figures=False)
    assert res.manifest["sessions"][-1]["populations_reused"] >= 2
    jobs.clear_population_cache()


# --------------------------------------------------------------------------- determinism


def test_same_bytes_serial_and_two_processes(tmp_path):
    sc = tiny(replicates=4)
    a = run_scenario(sc, executor="serial", out_dir=tmp_path / "serial", figures=False)
    b = run_scenario(sc, executor="processes", workers=2, out_dir=tmp_path / "proc", figures=False)
    assert a.ok and b.ok
    assert digest(a.folder / "timeseries.csv") == digest(b.folder / "timeseries.csv")
    assert digest(a.folder / "summary.csv") == digest(b.folder / "summary.csv")
    assert b.manifest["executor"]["workers"] == 2


@pytest.mark.skipif(not HAVE_DASK, reason="dask.distributed not installed (pip install '.[dask]')")
def test_same_bytes_with_dask_local_cluster(tmp_path):
    sc = tiny(replicates=4)
    a = run_scenario(sc, out_dir=tmp_path / "serial", figures=False)
    b = run_scenario(sc, executor="dask", workers=2, out_dir=tmp_path / "dask", figures=False)
    assert b.manifest["executor"]["name"] == "dask"
    assert digest(a.folder / "timeseries.csv") == digest(b.folder / "timeseries.csv")


def test_replicate_does_not_depend_on_how_many_are_run(tmp_path):
    three = run_scenario(tiny(replicates=3), save=False)
    five = run_scenario(tiny(replicates=5), save=False)
    head = five.timeseries[five.timeseries["replicate"] < 3].reset_index(drop=True)
    pd.testing.assert_frame_equal(three.timeseries, head)


def test_in_memory_result_equals_saved_result(tmp_path):
    mem = run_scenario(tiny(), save=False)
    disk = run_scenario(tiny(), out_dir=tmp_path, figures=False)
    assert mem.folder is None and not list(tmp_path.glob("*/*/replicates/*.tmp"))
    pd.testing.assert_frame_equal(mem.timeseries, disk.timeseries)
    pd.testing.assert_frame_equal(mem.summary, disk.summary)


# --------------------------------------------------------------------------- failures


def test_failing_run_does_not_stop_the_others(tmp_path, monkeypatch):
    real = runner.run_one

    def flaky(spec):
        if spec.replicate == 1:
            raise RuntimeError("injected failure")
        return real(spec)

    monkeypatch.setattr(runner, "run_one", flaky)
    res = run_scenario(tiny(replicates=3), out_dir=tmp_path, figures=False)
    assert res.replicates_done == [0, 2]
    assert not res.ok
    assert list(res.failures["replicate"]) == [1]
    assert res.failures["error_type"].iloc[0] == "RuntimeError"
    m = read_manifest(res.folder)
    assert tuple(m)[:len(COMMON_KEYS)] == COMMON_KEYS and m["kind"] == "run"
    assert "failures.csv" in m["files"] and "timeseries.csv" in m["files"]
    assert m["status"] == "failed" and m["replicates"]["failed"] == [1]
    assert m["failures"][0]["message"] == "injected failure"
    assert (res.folder / "failures.csv").is_file() and (res.folder / "timeseries.csv").is_file()


def test_all_failing_scenario_keeps_folder_and_records_errors(tmp_path):
    res = run_scenario(load_scenario("baseline", BROKEN, replicates=2), out_dir=tmp_path)
    assert res.replicates_done == [] and len(res.failures) == 2
    assert res.summary is None
    files = {p.name for p in res.folder.iterdir()}
    assert {"manifest.json", "scenario.resolved.yaml", "failures.csv"} <= files
    assert "timeseries.csv" not in files


# --------------------------------------------------------------------------- resume


def test_resume_after_interruption_gives_identical_files(tmp_path):
    sc = tiny(replicates=5)
    full = run_scenario(sc, out_dir=tmp_path / "a", figures=False)
    # Simulate an interrupted copy: some replicates and every final file missing.
    part = tmp_path / "b" / full.folder.name
    shutil.copytree(full.folder, part)
    for name in ("rep-00001.csv", "rep-00003.csv"):
        (part / "replicates" / name).unlink()
    for name in ("timeseries.csv", "summary.csv"):
        (part / name).unlink()
    m = json.loads((part / "manifest.json").read_text())
    m["status"] = "interrupted"
    (part / "manifest.json").write_text(json.dumps(m))

    res = run_scenario(resume=part, figures=False)
    assert res.folder == part and res.ok
    assert digest(part / "timeseries.csv") == digest(full.folder / "timeseries.csv")
    assert digest(part / "summary.csv") == digest(full.folder / "summary.csv")
    m = read_manifest(part)
    assert m["status"] == "complete" and m["sessions"][-1]["replicates_run"] == 2


def test_resume_can_extend_the_replicates(tmp_path):
    four = run_scenario(tiny(replicates=2), out_dir=tmp_path / "a", figures=False)
    run_scenario(resume=four.folder, replicates=4, figures=False)
    fresh = run_scenario(tiny(replicates=4), out_dir=tmp_path / "b", figures=False)
    assert digest(four.folder / "timeseries.csv") == digest(fresh.folder / "timeseries.csv")


def test_resume_refuses_another_scenario(tmp_path):
    res = run_scenario(tiny(replicates=1), out_dir=tmp_path, figures=False)
    before = sorted(p.name for p in res.folder.rglob("*"))
    with pytest.raises(ScenarioError, match="not the one this folder was run with"):
        run_scenario(tiny("policies.vouchers.scale=2"), resume=res.folder)
    assert sorted(p.name for p in res.folder.rglob("*")) == before
    with pytest.raises(ScenarioError, match="not a results folder"):
        run_scenario(resume=tmp_path)


# --------------------------------------------------------------------------- compare


def test_compare_uses_common_random_numbers_and_reports_paired_differences(tmp_path):
    cmp = sim.compare(["baseline", "no_policy_at_all"], replicates=3, overrides=TINY, out_dir=tmp_path,
                      figures=False)
    assert list(cmp.results) == ["baseline", "no_policy_at_all"] and cmp.reference == "baseline"
    d = cmp.differences
    assert list(d.columns) == PAIRED_COLUMNS
    assert list(d["outcome"]) == PAIRED_OUTCOMES and set(d["scenario"]) == {"no_policy_at_all"}
    assert (d["n_pairs"] == 3).all()
    # Replicate r of each scenario is the same run as replicate r run on its own (same seeds).
    alone = run_scenario("no_policy_at_all", replicates=3, overrides=TINY, save=False)
    pd.testing.assert_frame_equal(cmp["no_policy_at_all"].timeseries, alone.timeseries)
    # The paired median equals the median of per-replicate differences computed by hand.
    end = "2022-06-30"

    def cloud(ts):
        prov = ts[(ts["cluster"] == "all") & (ts["city"] == "all") & (ts["size_class"] == "all")]
        return prov[prov["date"] == end].set_index("replicate")["cloud_cumulative"]

    diff = cloud(cmp["no_policy_at_all"].timeseries) - cloud(cmp["baseline"].timeseries)
    row = d[d["outcome"] == "cloud_firms"].iloc[0]
    assert row["median"] == pytest.approx(diff.median())
    files = {p.name for p in cmp.folder.iterdir()}
    assert {"differences.csv", "summary.csv", "manifest.json"} <= files
    m = json.loads((cmp.folder / "manifest.json").read_text())
    assert tuple(m)[:len(COMMON_KEYS)] == COMMON_KEYS and m["kind"] == "compare"
    assert m["status"] == "complete" and "differences.csv" in m["files"]
    assert [s["name"] for s in m["scenarios"]] == ["baseline", "no_policy_at_all"]
    assert all((cmp.folder / s["folder"]).is_dir() for s in m["scenarios"])


def test_compare_needs_two_scenarios():
    with pytest.raises(ScenarioError):
        sim.compare(["baseline"], overrides=TINY, save=False)


# --------------------------------------------------------------------------- inputs and progress


def test_bad_input_raises_before_anything_is_written(tmp_path):
    with pytest.raises(ScenarioError, match="unknown key"):
        run_scenario("baseline", overrides=["population.total_firmz=5"], out_dir=tmp_path)
    with pytest.raises(ScenarioError):
        run_scenario(tiny(), replicates=0, out_dir=tmp_path)
    assert not any(tmp_path.iterdir())


def test_resolve_scenario_accepts_objects_dicts_and_overrides():
    sc = tiny()
    assert runner.resolve_scenario(sc) is sc
    again = runner.resolve_scenario(sc.model_dump(mode="json"))
    assert scenario_hash(again) == scenario_hash(sc)
    changed = runner.resolve_scenario(sc, overrides=["policies.vouchers.scale=2"], seed=5)
    assert changed.policies.vouchers.scale == 2 and changed.run.seed == 5
    with pytest.raises(ScenarioError, match="unknown key"):
        runner.resolve_scenario(sc, overrides=["nope=1"])


def test_progress_bar_when_asked(capsys):
    run_scenario(tiny(replicates=2), save=False, progress=True)
    err = capsys.readouterr().err
    assert "2/2" in err and "failed=0" in err


def test_docstring_examples():
    import doctest

    from sim import api
    from sim.runs import executors, replicate

    for module in (runner, replicate, api, executors):
        failed, _ = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert failed == 0, module.__name__


def test_an_interrupt_inside_the_kernel_stops_the_run_instead_of_failing_a_replicate(monkeypatch):
    """A Ctrl-C or SIGTERM that lands in compiled code comes back as a SystemError whose context is
    the KeyboardInterrupt; run_one caught it as a failed replicate (flaky test_ctrl_c_exits_130 and
    test_p9_two_concurrent_resumes: the manifest said 'failed', not 'interrupted')."""
    from sim.runs import replicate

    def interrupted_run(self):
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise SystemError("CPUDispatcher(<function csr>) returned a result with an exception set") from None

    sc = load_scenario("demo", ["population.total_firms=5000", "time.end=2021-09"])
    monkeypatch.setattr(replicate.CloudAdoptionModel, "run", interrupted_run)
    with pytest.raises(KeyboardInterrupt):
        run_one(ReplicateRun(sc, sc.name, replicate=0, root_seed=sc.run.seed))

    def broken_run(self):
        raise SystemError("a real failure")

    monkeypatch.setattr(replicate.CloudAdoptionModel, "run", broken_run)
    res = run_one(ReplicateRun(sc, sc.name, replicate=0, root_seed=sc.run.seed))
    assert not res.ok and res.error_type == "SystemError" and res.error_message == "a real failure"
