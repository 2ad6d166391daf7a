"""Sweeps: designs, strict checks before anything runs, dry run, files written, common random
numbers and byte-identical outcomes whatever the executor.

Fast: 10,000-20,000 firms over one year (goals.date moved to the end of the run), one or two
replicates, a handful of points.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from sim.analysis import sweep, sweep_plan
from sim.cli.main import main
from sim.errors import ScenarioError
from sim.runs.rundir import COMMON_KEYS

REPO = Path(__file__).resolve().parents[1]

SMALL = {"population.total_firms": 10000, "time.end": "2022-06", "goals.date": "2022-06"}
"""One year at 10,000 firms: the goal date moved to the end of the run."""

BUDGET = "policies.vouchers.budget_cny_per_year"
SHARE = "policies.vouchers.subsidy_share"
CAPACITY = "policies.service_capacity.onboardings_per_month"
MARKET = "diffusion.cloud.market_rate_per_year"


def spec(**extra) -> dict:
    d = {"base": "baseline", "overrides": dict(SMALL),
         "parameters": [{"path": BUDGET, "values": [0, 3e8, 6e8]},
                        {"path": SHARE, "lower": 0.2, "upper": 0.6, "levels": 2}],
         "design": "factorial", "replicates": 1}
    d.update(extra)
    return d


def write(path: Path, data: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def only_folder(out: Path) -> Path:
    folders = list((out / "sweep").iterdir())
    assert len(folders) == 1, folders
    return folders[0]


# --------------------------------------------------------------------------- designs


def test_factorial_gives_the_product_of_the_levels():
    pts = sweep_plan.design_points(spec(parameters=[
        {"path": BUDGET, "values": [0, 3e8, 6e8]},
        {"path": SHARE, "lower": 0.2, "upper": 0.6, "levels": 3},
        {"path": "policies.pilots.enabled", "values": [True, False]}]))
    assert len(pts) == 3 * 3 * 2
    assert list(pts.columns) == ["point", BUDGET, SHARE, "policies.pilots.enabled"]
    assert list(pts["point"]) == list(range(18))
    # the first parameter varies slowest; a range gives evenly spaced levels, ends included
    assert list(pts[BUDGET].iloc[:6]) == [0.0] * 6
    assert sorted(set(pts[SHARE])) == [0.2, 0.4, 0.6]
    assert len(pts.drop(columns="point").drop_duplicates()) == 18


def test_integer_keys_are_rounded_and_levels_deduplicated():
    pts = sweep_plan.design_points(spec(parameters=[{"path": CAPACITY, "lower": 10000, "upper": 10002, "levels": 5}]))
    assert list(pts[CAPACITY]) == [10000, 10001, 10002]
    assert pts[CAPACITY].dtype.kind == "i"


def test_latin_hypercube_is_inside_the_bounds_stratified_and_seeded():
    params = [{"path": MARKET, "lower": 0.02, "upper": 0.1},
              {"path": CAPACITY, "lower": 10000, "upper": 40000},
              {"path": "policies.pilots.enabled", "values": [True, False]}]
    lhs = spec(parameters=params, design="latin_hypercube", samples=12, seed=3)
    a, b = sweep_plan.design_points(lhs), sweep_plan.design_points(lhs)
    assert len(a) == 12
    pd.testing.assert_frame_equal(a, b)
    assert a[MARKET].between(0.02, 0.1).all()
    assert a[CAPACITY].between(10000, 40000).all() and a[CAPACITY].dtype.kind == "i"
    # one point in each of the 12 equal strata of the range
    strata = ((a[MARKET] - 0.02) / 0.08 * 12).astype(int).clip(upper=11)
    assert sorted(strata) == list(range(12))
    assert a["policies.pilots.enabled"].value_counts().to_dict() == {True: 6, False: 6}
    other = sweep_plan.design_points({**lhs, "seed": 4})
    assert not other[MARKET].equals(a[MARKET])


def test_table_design_inline_and_csv(tmp_path):
    rows = [{BUDGET: 1e8, SHARE: 0.25}, {BUDGET: 2e8, SHARE: 0.5}, {BUDGET: 4e8, SHARE: 0.3}]
    inline = sweep_plan.design_points(spec(parameters=[], design="table", table=rows))
    assert list(inline.columns) == ["point", BUDGET, SHARE]
    assert inline[[BUDGET, SHARE]].to_dict(orient="records") == rows
    # a CSV next to the sweep file; a `point` column (e.g. a points.csv) is ignored
    (tmp_path / "sweeps").mkdir()
    (tmp_path / "sweeps" / "points.csv").write_text(
        f"point,{BUDGET},{SHARE}\n0,1e8,0.25\n1,200000000,0.5\n2,4e8,0.3\n", encoding="utf-8")
    f = write(tmp_path / "sweeps" / "table.yaml", spec(parameters=[], design="table", table="points.csv"))
    from_csv = sweep_plan.design_points(f)
    pd.testing.assert_frame_equal(from_csv, inline)


# --------------------------------------------------------------------------- checks: exit 2


def _bad(tmp: Path) -> dict[str, dict]:
    return {
        "path": spec(parameters=[{"path": "policies.vouchers.budget_cny", "values": [1, 2]}]),
        "value": spec(parameters=[{"path": SHARE, "values": [0.3, 1.5]}]),
        "bound": spec(parameters=[{"path": "diffusion.churn_rate_per_year", "lower": -1, "upper": 0.2,
                                   "levels": 2}]),
        "typo": {**spec(), "desing": "factorial"},
        "both": spec(parameters=[{"path": SHARE, "values": [0.3], "lower": 0.1, "upper": 0.2}]),
        "levels": spec(parameters=[{"path": SHARE, "lower": 0.1, "upper": 0.2}]),
        "samples": spec(design="latin_hypercube", parameters=[{"path": SHARE, "lower": 0.1, "upper": 0.2}]),
        "lhs_levels": spec(design="latin_hypercube", samples=4),
        "text_range": spec(parameters=[{"path": "policies.vouchers.start", "lower": 1, "upper": 2, "levels": 2}]),
        "point": spec(parameters=[{"path": "policies.vouchers.start", "values": ["2022-01", "2024-01"]},
                                  {"path": "policies.vouchers.end", "values": ["2023-01"]}]),
        "override": spec(overrides={"population.total_firmz": 10000}),
        "base": spec(base="no_such_base"),
        "table": spec(parameters=[], design="table", table="missing.csv"),
        "table_value": spec(parameters=[], design="table", table=[{SHARE: 0.3}, {SHARE: 2}]),
    }


BAD = [
    ("path", ["parameters[0].path: policies.vouchers.budget_cny: unknown key 'budget_cny'",
              "did you mean 'budget_cny_per_year'"]),
    ("value", [f"parameters[0].values[1]: {SHARE}: got 1.5", "allowed: number, 0 <= x <= 1"]),
    ("bound", ["parameters[0].lower: diffusion.churn_rate_per_year: got -1", "0 <= x"]),
    ("typo", ["desing: unknown key 'desing'", "did you mean 'design'"]),
    ("both", ["parameters[0]: give either values or a range"]),
    ("levels", ["parameters[0].levels: a range in a factorial design needs levels"]),
    ("samples", ["samples: design: latin_hypercube needs samples"]),
    ("lhs_levels", ["parameters[1].levels: levels is only used by design: factorial"]),
    ("text_range", ["parameters[0].lower: policies.vouchers.start: a range needs a numeric key"]),
    ("point", ["policies.vouchers: point 1 (policies.vouchers.start=2024-01, policies.vouchers.end=2023-01): "
               "end 2023-01 is before start 2024-01"]),
    ("override", ["overrides.population.total_firmz: unknown key 'total_firmz'"]),
    ("base", ["base: 'no_such_base': no such scenario file", "allowed: a path relative to the spec file's folder"]),
    ("table", ["table: 'missing.csv': no such file"]),
    ("table_value", [f"table[1]: {SHARE}: got 2"]),
]


@pytest.mark.parametrize("name, fragments", BAD, ids=[b[0] for b in BAD])
def test_bad_sweep_exits_2_with_one_line_and_writes_nothing(name, fragments, tmp_path, capsys):
    f = write(tmp_path / f"{name}.yaml", _bad(tmp_path)[name])
    out = tmp_path / "out"
    for extra in ([], ["--dry-run"]):
        code = main(["sweep", str(f), "--out", str(out), *extra])
        cap = capsys.readouterr()
        assert code == 2
        lines = cap.err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"error: {f}: "), cap.err
        assert "; allowed: " in lines[0]
        for fragment in fragments:
            assert fragment in lines[0], (fragment, lines[0])
        assert cap.out == ""
        assert not out.exists()


def test_bad_set_and_missing_file_exit_2(tmp_path, capsys):
    f = write(tmp_path / "ok.yaml", spec())
    out = tmp_path / "out"
    assert main(["sweep", str(f), "--set", "policies.voucher.scale=2", "--out", str(out)]) == 2
    assert "error: --set policies.voucher.scale=2: policies.voucher: unknown key" in capsys.readouterr().err
    assert main(["sweep", str(tmp_path / "missing.yaml"), "--out", str(out)]) == 2
    assert "no such sweep spec file" in capsys.readouterr().err
    assert main(["sweep", str(f), "--workers", "0", "--out", str(out)]) == 2
    assert "--workers must be >= 1" in capsys.readouterr().err
    assert not out.exists()


def test_bad_sweep_in_a_fresh_process_has_no_traceback(tmp_path):
    f = write(tmp_path / "bad.yaml", spec(parameters=[{"path": SHARE, "values": [0.3, 1.5]}]))
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-m", "sim", "sweep", str(f), "--out", str(out)],
                       capture_output=True, text=True, cwd=REPO, timeout=120)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        f"error: {f}: parameters[0].values[1]: {SHARE}: got 1.5: input should be less than or equal to 1; "
        "allowed: number, 0 <= x <= 1"]
    assert r.stdout == "" and not out.exists()


def test_api_raises_scenario_error():
    with pytest.raises(ScenarioError, match=r"^\(sweep spec\): parameters\[0\]\.path: nope.key: unknown key"):
        sweep_plan.prepare(spec(parameters=[{"path": "nope.key", "values": [1]}]))


# --------------------------------------------------------------------------- dry run


def test_dry_run_prints_the_count_and_writes_nothing(tmp_path, capsys):
    f = write(tmp_path / "s.yaml", spec())
    out = tmp_path / "out"
    assert main(["sweep", str(f), "--dry-run", "--set", "run.replicates=2", "--workers", "2",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "nothing written" in printed
    # the spec's replicates (1) win over the base's run.replicates
    assert "design factorial: 6 point(s) x 1 replicate(s) = 6 model runs of baseline (10,000 firms" in printed
    assert "estimated time: about" in printed and "on 2 worker(s)" in printed
    assert not out.exists()


def test_shipped_sweep_dry_run(tmp_path, capsys):
    assert main(["sweep", "sweep_vouchers", "--dry-run", "--executor", "serial", "--out", str(tmp_path / "o")]) == 0
    printed = capsys.readouterr().out
    assert "20 point(s) x 4 replicate(s) = 80 model runs of demo (50,000 firms" in printed
    assert not (tmp_path / "o").exists()


# --------------------------------------------------------------------------- real sweeps


def test_tiny_sweep_writes_every_file(tmp_path, capsys):
    f = write(tmp_path / "s.yaml", spec(replicates=2))
    out = tmp_path / "out"
    assert main(["sweep", str(f), "--executor", "serial", "--out", str(out)]) == 0
    folder = only_folder(out)
    names = {p.name for p in folder.iterdir()}
    assert {"points.csv", "outcomes.csv", "point_summary.csv", "manifest.json", "sweep.resolved.yaml",
            "scenario.resolved.yaml", "figures", "runs"} <= names
    assert "failures.csv" not in names and not [n for n in names if n.startswith(".")]
    assert (folder / "figures" / "sweep.png").stat().st_size > 0
    assert len(list((folder / "runs").glob("point-*.csv"))) == 6

    points = pd.read_csv(folder / "points.csv")
    assert list(points.columns) == ["point", BUDGET, SHARE] and len(points) == 6
    outcomes = pd.read_csv(folder / "outcomes.csv")
    assert len(outcomes) == 12
    assert list(outcomes.columns[:4]) == ["point", "replicate", BUDGET, SHARE]
    assert {"cloud_firms", "transformed_firms", "cloud_gap", "cloud_goal_met", "transformed_goal_met"} <= set(outcomes.columns)
    # outcomes carry each run's parameter values
    merged = outcomes.merge(points, on="point", suffixes=("", "_p"))
    assert (merged[BUDGET] == merged[f"{BUDGET}_p"]).all() and (merged[SHARE] == merged[f"{SHARE}_p"]).all()
    assert (outcomes.cloud_goal == 5000).all() and (outcomes.goal_date == "2022-06-30").all()
    summ = pd.read_csv(folder / "point_summary.csv")
    assert list(summ.columns[:3]) == ["point", BUDGET, SHARE] and len(summ) == 6
    first = outcomes[outcomes.point == 0]
    assert summ.loc[0, "p_meet_transformed_goal"] == first.transformed_goal_met.mean()
    assert summ.loc[0, "cloud_firms_median"] == first.cloud_firms.median()
    assert (summ.n_replicates == 2).all()

    m = json.loads((folder / "manifest.json").read_text())
    assert tuple(m)[:len(COMMON_KEYS)] == COMMON_KEYS and m["kind"] == "sweep"
    assert m["status"] == "complete" and m["runs"] == {"planned": 12, "done": 12, "failed": 0}
    assert m["points"] == 6 and m["replicates"] == 2 and m["command"].startswith("gdcloud sweep")
    assert "figures/sweep.png" in m["files"]
    printed = capsys.readouterr().out
    assert printed.startswith("sweep s: 6 point(s) x 2 replicate(s) = 12 runs, 12 done, 0 failed")
    assert f"results: {folder}" in printed and "P(cloud)" in printed

    # the resolved spec reproduces the points from the folder alone
    again = sweep_plan.prepare(folder / "sweep.resolved.yaml")
    pd.testing.assert_frame_equal(again.points, sweep_plan.prepare(f).points)
    assert again.hash() == sweep_plan.prepare(f).hash()


def test_api_result_and_common_random_numbers(tmp_path):
    """A parameter that does not change the dynamics gives the same outcomes at every point for a
    given replicate (same seeds), and different outcomes across replicates."""
    res = sweep.run_sweep(spec(parameters=[{"path": "outputs.figures", "values": [True, False]},
                                           {"path": BUDGET, "values": [3e8]}], replicates=2),
                          out_dir=tmp_path, figures=False)
    assert isinstance(res, sweep.SweepResult) and res.ok and res.folder.parent == tmp_path / "sweep"
    assert list(res.points.columns) == ["point", "outputs.figures", BUDGET]
    o = res.outcomes.set_index(["point", "replicate"])
    cols = ["cloud_firms", "transformed_firms", "voucher_spend_total_cny"]
    for r in (0, 1):
        assert o.loc[(0, r), cols].equals(o.loc[(1, r), cols])
    assert not o.loc[(0, 0), cols].equals(o.loc[(0, 1), cols])
    assert not (tmp_path / "sweep" / res.folder.name / "figures").exists()
    mem = sweep.run_sweep(res.plan, save=False)
    assert mem.folder is None
    pd.testing.assert_frame_equal(mem.outcomes, res.outcomes)


def test_set_applies_to_the_base_and_points_win(tmp_path):
    plan = sweep_plan.prepare(spec(parameters=[{"path": SHARE, "values": [0.25]}]),
                         ["policies.vouchers.subsidy_share=0.9", "policies.pilots.scale=3"])
    sc = plan.scenarios[0]
    assert sc.policies.vouchers.subsidy_share == 0.25 and sc.policies.pilots.scale == 3
    assert sc.population.total_firms == 10000


def test_same_outcome_bytes_serial_and_two_processes(tmp_path):
    f = write(tmp_path / "s.yaml", spec(parameters=[{"path": MARKET, "lower": 0.02, "upper": 0.1}],
                                        design="latin_hypercube", samples=3, replicates=2))
    a = sweep.run_sweep(f, executor="serial", out_dir=tmp_path / "a", figures=False)
    b = sweep.run_sweep(f, executor="processes", workers=2, out_dir=tmp_path / "b", figures=False)
    assert a.ok and b.ok and b.manifest["executor"]["workers"] == 2
    for name in ("points.csv", "outcomes.csv", "point_summary.csv"):
        assert digest(a.folder / name) == digest(b.folder / name), name


def test_a_failing_point_is_data_and_exits_1(tmp_path, capsys):
    # valid for the schema, but the model refuses more initial cloud firms than firms
    f = write(tmp_path / "s.yaml", spec(parameters=[{"path": "initial.cloud_firms", "values": [None, 1000000]}]))
    out = tmp_path / "out"
    assert main(["sweep", str(f), "--executor", "serial", "--no-figures", "--out", str(out)]) == 1
    folder = only_folder(out)
    failures = pd.read_csv(folder / "failures.csv")
    assert list(failures.point) == [1] and failures.error_type.iloc[0] == "ValueError"
    outcomes = pd.read_csv(folder / "outcomes.csv")
    assert list(outcomes.point) == [0]
    summ = pd.read_csv(folder / "point_summary.csv")
    assert list(summ.n_failed) == [0, 1] and list(summ.n_replicates) == [1, 0]
    m = json.loads((folder / "manifest.json").read_text())
    assert m["status"] == "failed" and m["runs"]["failed"] == 1
    err = capsys.readouterr().err
    assert "1 run(s) failed" in err and "point 1, replicate 0: ValueError" in err


def test_help_mentions_the_designs(capsys):
    with pytest.raises(SystemExit):
        main(["sweep", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert out.startswith("usage: gdcloud sweep")
    for word in ("--dry-run", "factorial", "latin_hypercube", "table", "--workers", "--set"):
        assert word in out


def test_docstring_examples():
    import doctest

    for module in (sweep, sweep_plan):
        failed, _ = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert failed == 0


def test_dry_run_counts_a_large_design_without_building_its_points(tmp_path, capsys, monkeypatch):
    """--dry-run checks the base, each value and range end, and the first and last point only:
    49,000 points are counted (and 10^6 refused) without building or validating the others."""
    from sim.analysis import sweep_estimate
    from sim.analysis.sweep_plan import SweepOutline

    built = []
    real = SweepOutline.point_scenario
    monkeypatch.setattr(SweepOutline, "point_scenario", lambda self, k, row: built.append(k) or real(self, k, row))
    params = [{"path": BUDGET, "lower": 0, "upper": 1e9, "levels": 70},
              {"path": SHARE, "lower": 0.1, "upper": 0.9, "levels": 70},
              {"path": "population.total_firms", "values": [10000, 20000, 30000, 40000, 50000,
                                                            60000, 70000, 80000, 90000, 100000]}]
    f = write(tmp_path / "big.yaml", spec(parameters=params))
    dry = sweep_estimate.dry_run(f, measure=False)
    assert dry.outline.n_points == 70 * 70 * 10 and dry.outline.n_runs == 49_000
    assert built == [0, 48_999]
    # the rough estimate follows the swept population (mean 55,000 firms) over one year
    per_run = sweep_estimate.NS_PER_FIRM_MONTH * 55_000 * 12 + sweep_estimate.SETUP_PER_FIRM * 55_000
    assert dry.estimate.model_s == pytest.approx(per_run * 49_000)
    lines = dry.summary_lines()
    assert "design factorial: 49,000 point(s) x 1 replicate(s) = 49,000 model runs" in lines[1]
    assert f"  {SHARE}: 70 distinct value(s): 0.1, " in "\n".join(lines)
    # the command line: the same lines, and the last point is checked (it fails here)
    built.clear()
    assert main(["sweep", str(f), "--dry-run", "--executor", "serial", "--out", str(tmp_path / "o")]) == 0
    assert "49,000 model runs" in capsys.readouterr().out and built == [0, 48_999]
    bad = write(tmp_path / "bad_last.yaml", spec(parameters=[
        *params[:2], {"path": "policies.vouchers.start", "values": ["2022-01", "2024-01"]},
        {"path": "policies.vouchers.end", "values": ["2025-01", "2023-01"]}]))
    built.clear()
    assert main(["sweep", str(bad), "--dry-run", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "point 19599 (" in err and "end 2023-01 is before start 2024-01" in err and built == [0, 19_599]
    # 10^6 points: refused from the counts alone
    huge = write(tmp_path / "huge.yaml", spec(parameters=[
        {"path": BUDGET, "lower": 0, "upper": 1e9, "levels": 1000},
        {"path": SHARE, "lower": 0.1, "upper": 0.9, "levels": 1000}]))
    built.clear()
    with pytest.raises(ScenarioError, match="the design has 1,000,000 points"):
        sweep_estimate.dry_run(huge, measure=False)
    assert built == [] and not (tmp_path / "o").exists()


def test_outline_and_prepare_agree_on_the_count(tmp_path):
    lhs = spec(parameters=[{"path": CAPACITY, "lower": 10000, "upper": 10002, "levels": 5}])
    assert sweep_plan.outline(lhs).n_points == len(sweep_plan.prepare(lhs).points) == 3
    lhs = spec(design="latin_hypercube", samples=7, parameters=[{"path": MARKET, "lower": 0.02, "upper": 0.1}])
    assert sweep_plan.outline(lhs).n_points == sweep_plan.prepare(lhs).n_points == 7
