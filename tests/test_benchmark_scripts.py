"""The benchmark scripts whose figures README.md and benchmarks/README.md quote run and report
consistent figures (not timed: the sizes are tiny, and no time is compared with a target).

The quoted timings come from these scripts at full scale on a quiet machine; this test keeps the
scripts working, so that every quoted figure is produced by a script the tests run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _bench(script: str, *args: str, tmp_path: Path) -> tuple[dict | list, str]:
    out = tmp_path / f"{script}.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / f"{script}.py"), *args, "--json", str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(out.read_text()), done.stdout


def test_replicates_times_the_plain_run_command(tmp_path: Path) -> None:
    small = tmp_path / "small.yaml"
    small.write_text("extends: baseline\nname: small\npopulation:\n  total_firms: 20000\n")
    res, stdout = _bench("replicates", "-n", "1", "--pool", "0", "--scenario", str(small), "--no-figures",
                         "--repeat", "2", tmp_path=tmp_path)
    assert res["command"].startswith(f"run {small} --out TMP") and "-n" not in res["command"].split()
    assert len(res["after"]["walls_s"]) == 2 and all(w > 0 for w in res["after"]["walls_s"])
    assert min(res["after"]["walls_s"]) <= res["after"]["wall_s"] <= max(res["after"]["walls_s"])
    assert res["after"]["cpu_s"] > 0 and "plain command (in-process)" in stdout


def test_batch_splits_the_cost_per_run_and_measures_the_floor(tmp_path: Path) -> None:
    res, stdout = _bench("batch", "--runs", "2", "--pool", "1", "--firms", "20000", tmp_path=tmp_path)
    parts = res["structure_builds_per_run_s"] + res["setup_per_run_s"] + res["simulation_per_run_s"]
    assert 0.5 * res["cpu_per_run_s"] < parts <= res["cpu_per_run_s"] * (1 + 1e-9)  # the rest: data collection
    assert res["ns_per_firm_step"] > 0 and 0 < res["floor_ns_per_firm_step"]
    assert 0 < res["updates_per_firm_step"] < 1  # partner-count updates are rarer than firm-steps
    assert "per run" in stdout and "ratio" in stdout


def test_scaling_reports_set_up_and_simulation_per_size(tmp_path: Path) -> None:
    res, stdout = _bench("scaling", "--sizes", "20000", "40000", "--repeat", "1", tmp_path=tmp_path)
    assert [r["size"] for r in res] == [20000, 40000]
    for r in res:
        assert r["setup_cpu"] == pytest.approx(r["setup_user"] + r["setup_sys"], abs=0.02)
        assert r["sim_cpu"] > 0 and r["cloud_final"] > 0
    assert "20,000" in stdout and "40,000" in stdout


def test_compare_reference_agrees_exactly_and_reports_both_ratios(tmp_path: Path) -> None:
    res, _ = _bench("compare_reference", "--firms", "2000", "--seeds", "1", "--ref-seeds", "1", "--months", "6",
                    tmp_path=tmp_path)
    assert res["exact_series"] == 1 and res["exact_series_tuned"] == 1
    # Both ratios are reported and consistent with the times they divide. Which reference is faster
    # is not asserted: at this size it is a timing under whatever else runs (a flaky comparison
    # under load, 13.7 against 18.8 once); the full-size figures are in benchmarks/README.md.
    for name in ("", "_tuned"):
        ref = res["ref_ns_per_firm_step_cpu"] if not name else res["tuned_ns_per_firm_step_cpu"]
        assert res[f"ratio{name}_cpu"] == pytest.approx(ref / res["model_ns_per_firm_step_cpu"])
        assert res[f"ratio{name}_cpu"] > 0


def test_slot_probe_times_its_four_workloads(tmp_path: Path) -> None:
    res, stdout = _bench("slot_probe", "--reads", "20000", "--repeat", "1", tmp_path=tmp_path)
    assert set(res) == {"gather_big_ns", "gather_small_ns", "stream_ns_per_mib", "python_ns"}
    assert all(v > 0 for v in res.values())
    assert stdout.startswith("slot probe: random read") and "256 MiB" in stdout


def test_setup_profile_times_every_set_up_function_at_two_sizes(tmp_path: Path) -> None:
    res, stdout = _bench("setup_profile", "--sizes", "20000", "40000", "--rounds", "1", tmp_path=tmp_path)
    by_name = {r["name"]: r for r in res["functions"]}
    build = by_name["population.build_population"]
    for size in ("20000", "40000"):
        total = res["totals"][size]["setup_cpu"]
        # The build's inclusive time is part of the set-up, and the self times add up to at most the set-up.
        assert 0 < build[size]["incl"] <= total
        assert sum(r[size]["self"] for r in res["functions"]) <= total * (1 + 1e-6)
        assert build[size]["calls"] == 1
    assert by_name["state.FirmState.__init__"]["40000"]["calls"] == 1
    assert "ratio 40,000/20,000: set-up" in stdout and "excess" in stdout
