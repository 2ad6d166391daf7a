"""The analysis subcommands of gdcloud: calibrate, sensitivity, what-it-takes, attribution, discover.

Fast: tiny populations (5,000-10,000 firms), one-year horizons, few trials, samples and
replicates. The analyses themselves are tested in test_calibration.py, test_sensitivity.py and
test_policy_questions.py; here only the command line: help, exit codes, one-line errors, nothing
written for bad input, and a new results folder with the promised files for each run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from sim.analysis.sensitivity import SensitivitySpec, n_model_runs
from sim.cli.main import main
from sim.runs.rundir import COMMON_KEYS

REPO = Path(__file__).resolve().parents[1]

SHORT = ["--set", "time.end=2022-06", "--set", "goals.date=2022-06",
         "--set", "goals.cloud_firms=750000"]
"""One-year horizon with a cloud goal that a higher market rate reaches (as in
test_policy_questions.py)."""

LEVER = "diffusion.cloud.market_rate_per_year"


def write_yaml(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def calibration_spec(**extra) -> dict:
    """Two market rates fitted to the end-2021 figures at 5,000 firms with a handful of trials."""
    return {
        "parameters": [{"path": LEVER, "lower": 0.0, "upper": 0.2},
                       {"path": "diffusion.transform.market_rate_per_year", "lower": 0.0, "upper": 0.6}],
        "total_firms": 5000, "replicates": 1,
        "optimizer": {"max_evaluations": 4},
        "abc": {"draws": 4, "accept_fraction": 0.5},
        "profile": {"points": 3},
        "write_scenario": None,
        **extra,
    }


def sensitivity_spec(**extra) -> dict:
    """Morris with 2 trajectories of 2 inputs (6 points) at 5,000 firms over one year."""
    return {
        "overrides": {"time.end": "2022-06", "goals.date": "2022-06", "goals.cloud_firms": 750000},
        "method": "morris", "n": 2, "replicates": 1, "total_firms": 5000,
        "parameters": [{"path": LEVER, "lower": 0.02, "upper": 0.2},
                       {"path": "diffusion.churn_rate_per_year", "lower": 0.0, "upper": 0.2}],
        "outcomes": ["cloud_firms", "p_cloud_goal"],
        **extra,
    }


def new_folders(out: Path, label: str) -> list[Path]:
    return sorted((out / label).iterdir()) if (out / label).exists() else []


def check_folder(folder: Path, files: set[str]) -> dict:
    """The folder holds ``files`` and a complete manifest listing them; returns the manifest."""
    names = {p.name for p in folder.iterdir()}
    assert files | {"manifest.json"} <= names, names
    assert not [n for n in names if n.startswith(".")], names  # no temporary files left
    m = json.loads((folder / "manifest.json").read_text())
    assert tuple(m)[:len(COMMON_KEYS)] == COMMON_KEYS  # the one manifest layout
    assert m["kind"] == m["analysis"] == folder.parent.name
    assert m["status"] == "complete" and m["error"] is None
    assert files <= set(m["files"])
    assert m["wall_time_s"] >= 0 and m["command"].startswith("gdcloud ")
    return m


# --------------------------------------------------------------------------- help


@pytest.mark.parametrize("command, phrase", [
    ("calibrate", "reproduce the reported progress figures"),
    ("sensitivity", "Which uncertain inputs drive the outcomes"),
    ("what-it-takes", "How much of one policy lever is needed"),
    ("attribution", "How much of the new adoption comes from each channel"),
    ("discover", "In which combinations of uncertainties and levers is the goal missed"),
])
def test_help(command, phrase, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert out.startswith(f"usage: gdcloud {command}")
    assert phrase in out and "--out DIR" in out


def test_top_level_help_lists_the_analysis_commands(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for command in ("calibrate", "sensitivity", "what-it-takes", "attribution", "discover"):
        assert command in out


# --------------------------------------------------------------------------- sensitivity --dry-run


def test_sensitivity_dry_run_counts_runs_and_writes_nothing(tmp_path, capsys):
    spec = write_yaml(tmp_path / "sens.yaml",
                      sensitivity_spec(outcomes=["cloud_firms", "voucher_cny_per_extra_cloud_firm"]))
    out = tmp_path / "out"
    assert main(["sensitivity", str(spec), "--dry-run", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    n = n_model_runs(SensitivitySpec.load(spec))
    assert n == 6 * 1 * 2  # 2 trajectories x (2 + 1) points, 1 replicate, x2 for the voucher outcome
    assert f"= {n:,} model runs" in printed
    assert "estimated time: about" in printed and "nothing written" in printed
    assert not out.exists()


def test_shipped_sensitivity_spec_dry_run(tmp_path, capsys):
    """The shipped spec by its short name; 448 runs (docs/analysis.md)."""
    assert main(["sensitivity", "sensitivity", "--dry-run", "--out", str(tmp_path / "out")]) == 0
    assert "= 448 model runs" in capsys.readouterr().out
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------- bad input: exit 2


def _bad_specs(tmp: Path) -> dict[str, Path]:
    return {
        "typo": write_yaml(tmp / "typo.yaml", calibration_spec(optimiser={"max_evaluations": 3})),
        "path": write_yaml(tmp / "path.yaml", calibration_spec(parameters=[
            {"path": "diffusion.cloud.market_rate_per_yr", "lower": 0.0, "upper": 0.2}])),
        "box": write_yaml(tmp / "box.yaml", calibration_spec(parameters=[
            {"path": LEVER, "lower": 0.3, "upper": 0.2}])),
        "value": write_yaml(tmp / "value.yaml", calibration_spec(parameters=[
            {"path": "diffusion.churn_rate_per_year", "lower": -1.0, "upper": 0.2}])),
        "base": write_yaml(tmp / "base.yaml", calibration_spec(base="no_such_base")),
        "override": write_yaml(tmp / "override.yaml", calibration_spec(overrides={"time.ends": "2022-06"})),
        "sens_typo": write_yaml(tmp / "sens_typo.yaml", sensitivity_spec(metod="sobol")),
        "sens_n": write_yaml(tmp / "sens_n.yaml", sensitivity_spec(n=3)),
        "sens_outcome": write_yaml(tmp / "sens_outcome.yaml", sensitivity_spec(outcomes=["cloud_firm"])),
        "yaml": tmp / "broken.yaml",
    }


BAD = [
    # (arguments, with {name} replaced by the spec files above, fragments of the error line)
    (["calibrate", "{missing}"], ["no such calibration spec file", "allowed: a YAML file"]),
    (["calibrate", "{typo}"], ["typo.yaml: optimiser: unknown key 'optimiser'", "did you mean 'optimizer'"]),
    (["calibrate", "{path}"], ["path.yaml: parameters[0].path: diffusion.cloud.market_rate_per_yr",
                               "did you mean 'market_rate_per_year'"]),
    (["calibrate", "{box}"], ["box.yaml: parameters[0]: upper (0.2) must exceed lower (0.3)"]),
    (["calibrate", "{value}"], ["value.yaml: parameters[0].lower: diffusion.churn_rate_per_year",
                                "0 <= x"]),
    (["calibrate", "{base}"], ["base.yaml: base: 'no_such_base': no such scenario file"]),
    (["calibrate", "{override}"], ["override.yaml: overrides.time.ends: unknown key 'ends'"]),
    (["calibrate", "{yaml}"], ["broken.yaml: line ", "invalid YAML"]),
    (["calibrate", "{typo}", "--seed", "-1"], ["--seed: seed: got -1"]),
    (["sensitivity", "{missing}"], ["no such sensitivity spec file"]),
    (["sensitivity", "{sens_typo}", "--dry-run"], ["sens_typo.yaml: metod: unknown key 'metod'",
                                                   "did you mean 'method'"]),
    (["sensitivity", "{sens_n}", "--dry-run"], ["sens_n.yaml: n: n must be a power of two"]),
    (["sensitivity", "{sens_outcome}"], ["outcomes[0]: unknown outcome 'cloud_firm'",
                                         "did you mean 'cloud_firms'"]),
    (["what-it-takes", "baseline", "policies.vouchers.budget_cny", *SHORT],
     ["error: LEVER: policies.vouchers.budget_cny: unknown key 'budget_cny'",
      "did you mean 'budget_cny_per_year'"]),
    (["what-it-takes", "baseline", "policies.vouchers.enabled", *SHORT],
     ["LEVER: policies.vouchers.enabled: not a number"]),
    (["what-it-takes", "baseline", "policies.vouchers", *SHORT],
     ["LEVER: policies.vouchers: a section, not a number", "budget_cny_per_year"]),
    (["what-it-takes", "baseline", LEVER, "--bounds", "0.4", "0.1", *SHORT],
     [f"--bounds: {LEVER}: got 0.4 0.1: the lower bound must be below the upper", "allowed: LO < HI"]),
    (["what-it-takes", "baseline", LEVER, "--bounds", "-1", "0.1", *SHORT],
     [f"--bounds: {LEVER}: got -1.0", "allowed: number, 0 <= x"]),
    (["what-it-takes", "baseline", LEVER, "--probability", "1.5", *SHORT],
     ["--probability: probability: got 1.5", "allowed: a number 0 < x < 1"]),
    (["what-it-takes", "baseline", LEVER, "--probability", "0", *SHORT], ["--probability: probability: got 0"]),
    (["what-it-takes", "baseline", LEVER, "--replicates", "0", *SHORT], ["--replicates: replicates: got 0"]),
    (["what-it-takes", "baseline", LEVER, "--total-firms", "10", *SHORT],
     ["--total-firms: population.total_firms: got 10"]),
    (["what-it-takes", "baseline", LEVER, "--set", "time.end=2022-06"],
     ["baseline: goals.date: 2025-12 is outside the run 2021-06 to 2022-06"]),
    (["what-it-takes", "baseline", LEVER, "--goal", "jobs"], ["argument --goal: invalid choice"]),
    (["what-it-takes", "no_such_scenario", LEVER], ["no_such_scenario: (file): no such scenario file"]),
    (["attribution", "baseline", "--set", "policies.voucher.scale=2"],
     ["--set policies.voucher.scale=2: policies.voucher: unknown key 'voucher'", "did you mean 'vouchers'"]),
    (["attribution", "baseline", "--replicates", "0"], ["--replicates: replicates: got 0"]),
    (["discover", "baseline", "--threshold", "1.5", *SHORT], ["--threshold: threshold: got 1.5"]),
    (["discover", "baseline", "--samples", "1", *SHORT], ["--samples: samples: got 1"]),
]


@pytest.mark.parametrize("args, fragments", BAD, ids=[" ".join(a[:2]) + f" #{i}" for i, (a, _) in enumerate(BAD)])
def test_bad_input_exits_2_with_one_line_and_writes_nothing(args, fragments, tmp_path, capsys):
    specs = _bad_specs(tmp_path)
    specs["yaml"].write_text("parameters: [\n")
    paths = {k: str(v) for k, v in specs.items()} | {"missing": str(tmp_path / "missing.yaml")}
    out = tmp_path / "out"
    code = main([a.format(**paths) for a in args] + ["--out", str(out)])
    cap = capsys.readouterr()
    assert code == 2
    lines = cap.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), cap.err
    assert "; allowed: " in lines[0] or "invalid choice" in lines[0]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    assert cap.out == ""
    assert not out.exists()


def test_bad_spec_in_a_fresh_process_has_no_traceback(tmp_path):
    spec = write_yaml(tmp_path / "bad.yaml", calibration_spec(abc={"draws": 4, "acept_fraction": 0.5}))
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-m", "sim", "calibrate", str(spec), "--out", str(out)],
                       capture_output=True, text=True, cwd=REPO, timeout=120)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        f"error: {spec}: abc.acept_fraction: unknown key 'acept_fraction'; allowed: enabled, draws, "
        "accept_fraction (did you mean 'accept_fraction'?)"]
    assert r.stdout == "" and not out.exists()


# --------------------------------------------------------------------------- tiny real runs


def test_what_it_takes_writes_a_new_folder(tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["what-it-takes", "baseline", LEVER, "--bounds", "0", "0.4", "--replicates", "3",
                 "--total-firms", "10000", "--rel-tol", "0.1", *SHORT, "--out", str(out)])
    assert code == 0
    [folder] = new_folders(out, "what_it_takes")
    m = check_folder(folder, {"what_it_takes.csv", "what_it_takes.png", "scenario.resolved.yaml"})
    assert m["analysis"] == "what_it_takes" and m["inputs"]["lever"] == LEVER
    assert m["result"]["status"] == "found"
    ev = pd.read_csv(folder / "what_it_takes.csv")
    assert {"lever_value", "met", "probability", "ci_low", "ci_high"} <= set(ev.columns)
    assert ev.lever_value.min() == 0.0 and ev.lever_value.max() == 0.4
    assert "time.end: 2022-06" not in (folder / "scenario.resolved.yaml").read_text()  # nested YAML
    assert "end: 2022-06" in (folder / "scenario.resolved.yaml").read_text()
    printed = capsys.readouterr().out
    assert printed.startswith(f"what it takes: smallest {LEVER} for the cloud goal")
    assert f"results: {folder}" in printed and "found: " in printed and "95% interval" in printed


def test_attribution_writes_a_new_folder_each_time(tmp_path, capsys):
    out = tmp_path / "out"
    args = ["attribution", "baseline", "--replicates", "1", "--total-firms", "10000",
            "--set", "time.end=2022-06", "--out", str(out)]
    assert main(args) == 0
    assert main(args) == 0  # the same inputs again: a second folder, nothing overwritten
    folders = new_folders(out, "attribution")
    assert len(folders) == 2
    for folder in folders:
        check_folder(folder, {"attribution.csv", "attribution.png", "scenario.resolved.yaml"})
    table = pd.read_csv(folders[0] / "attribution.csv")
    assert set(table.channel) == {"policy", "supply_chain", "park_cluster_peers", "market"}
    assert (folders[0] / "attribution.csv").read_bytes() == (folders[1] / "attribution.csv").read_bytes()
    printed = capsys.readouterr().out
    assert "attribution of new adoption 2021-06 to 2022-06" in printed
    assert "new cloud firms" in printed and "interaction" in printed


def test_calibrate_writes_a_new_folder_and_honours_no_write_scenario(tmp_path, capsys):
    target = tmp_path / "elsewhere" / "calibrated_here.yaml"
    target.parent.mkdir()
    spec = write_yaml(tmp_path / "cal.yaml", calibration_spec(write_scenario=str(target)))
    out = tmp_path / "out"
    assert main(["calibrate", str(spec), "--no-write-scenario", "--seed", "3", "--out", str(out)]) == 0
    [folder] = new_folders(out, "calibrate")
    files = {"calibration_fit.png", "calibration_profiles.png", "abc_draws.csv", "calibration_summary.csv",
             "calibration_fit.csv", "calibration.json", "calibrated.yaml", "spec.resolved.yaml"}
    m = check_folder(folder, files)
    assert m["inputs"]["abc_seed"] == 3 and m["inputs"]["write_scenario"] is False
    assert set(m["result"]["fitted"]) == {"cloud.market_rate_per_year", "transform.market_rate_per_year"}
    assert not target.exists()  # --no-write-scenario
    summary = pd.read_csv(folder / "calibration_summary.csv")
    assert list(summary.parameter) == ["cloud.market_rate_per_year", "transform.market_rate_per_year"]
    calibrated = yaml.safe_load((folder / "calibrated.yaml").read_text())
    assert calibrated["extends"] == "baseline" and "market_rate_per_year" in calibrated["diffusion"]["cloud"]
    printed = capsys.readouterr().out
    assert printed.startswith("calibration of 2 parameter(s) to 2 target(s)")
    assert "cloud_enterprises_cumulative 2021-12-31: reported 625,000" in printed

    assert main(["calibrate", str(spec), "--out", str(out)]) == 0  # now the spec's write_scenario
    assert len(new_folders(out, "calibrate")) == 2
    assert yaml.safe_load(target.read_text())["name"] == "calibrated_here"
    assert str(target) in capsys.readouterr().out


def test_sensitivity_writes_a_new_folder(tmp_path, capsys):
    spec = write_yaml(tmp_path / "sens.yaml", sensitivity_spec())
    out = tmp_path / "out"
    assert main(["sensitivity", str(spec), "--out", str(out)]) == 0
    [folder] = new_folders(out, "sensitivity")
    check_folder(folder, {"samples_outputs.csv", "indices.csv", "sensitivity_cloud_firms.png",
                          "spec.resolved.yaml"})
    assert len(pd.read_csv(folder / "samples_outputs.csv")) == 6
    printed = capsys.readouterr().out
    assert "sensitivity (morris: 6 points x 1 replicate(s) = 6 model runs" in printed
    assert "cloud_firms, mu_star largest first: cloud.market_rate_per_year" in printed


def test_discover_writes_a_new_folder(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["discover", "baseline", "--samples", "8", "--total-firms", "5000", "--seed", "1",
                 *SHORT, "--out", str(out)]) == 0
    [folder] = new_folders(out, "discover")
    check_folder(folder, {"discovery_cases.csv", "prim_trajectory.csv", "prim_box.csv",
                          "discovery.png", "scenario.resolved.yaml"})
    assert len(pd.read_csv(folder / "discovery_cases.csv")) == 8
    printed = capsys.readouterr().out
    assert "discover: 8 points" in printed and "PRIM box" in printed


def test_a_failing_analysis_exits_1_and_records_the_error(tmp_path, capsys):
    out = tmp_path / "out"
    # Valid for the schema, but the model refuses it when a replicate starts.
    code = main(["attribution", "baseline", "--replicates", "1", "--total-firms", "10000",
                 "--set", "time.end=2022-06", "--set", "initial.cloud_firms=1000000", "--out", str(out)])
    assert code == 1
    [folder] = new_folders(out, "attribution")
    m = json.loads((folder / "manifest.json").read_text())
    assert m["status"] == "failed" and m["error"]["type"] == "RunsFailed"
    assert "Traceback" in m["error"]["traceback"]
    # Every run failed (the full run and the four counterfactuals): each is recorded as data.
    fails = m["error"]["failures"]
    assert len(fails) == 5 and {f["error_type"] for f in fails} == {"ValueError"}
    assert all("Traceback" in f["traceback"] and f["replicate"] == 0 for f in fails)
    err = capsys.readouterr().err
    assert err.startswith("attribution failed: RunsFailed: 5 of 5 model runs failed; first: scenario "
                          "'baseline' replicate 0: ValueError:") and "Traceback" not in err


# --------------------------------------------------------------------------- executors


@pytest.mark.parametrize("command", ["calibrate", "sensitivity", "what-it-takes", "attribution", "discover"])
def test_help_lists_the_executor_options(command, capsys):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    out = " ".join(capsys.readouterr().out.split())
    for option in ("--executor {serial,processes,dask}", "--workers N, -j N", "--address tcp://HOST:PORT"):
        assert option in out, option


def test_sensitivity_on_two_workers_writes_the_same_files_as_serial(tmp_path, capsys):
    spec = write_yaml(tmp_path / "sens.yaml", sensitivity_spec(replicates=2))
    out = tmp_path / "out"
    assert main(["sensitivity", str(spec), "--executor", "serial", "--out", str(out)]) == 0
    assert main(["sensitivity", str(spec), "--workers", "2", "--out", str(out)]) == 0
    serial, pooled = new_folders(out, "sensitivity")
    if json.loads((serial / "manifest.json").read_text())["executor"]["name"] != "serial":
        serial, pooled = pooled, serial  # same second: the suffix decides the order
    assert json.loads((pooled / "manifest.json").read_text())["executor"] == {
        "name": "processes", "workers": 2, "context": "forkserver"}
    for name in ("samples_outputs.csv", "indices.csv"):
        assert (serial / name).read_bytes() == (pooled / name).read_bytes(), name
    printed = capsys.readouterr().out
    assert "(serial)" in printed and "(2 worker processes)" in printed


@pytest.mark.parametrize("args, message", [
    (["--workers", "0"], "--workers must be >= 1, got 0"),
    (["--executor", "processes", "--address", "tcp://127.0.0.1:1"], "--address is only used with --executor dask"),
])
def test_bad_executor_options_exit_2_and_write_nothing(args, message, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["attribution", "baseline", "--replicates", "1", "--total-firms", "5000",
                 "--set", "time.end=2022-06", *args, "--out", str(out)])
    cap = capsys.readouterr()
    assert code == 2 and cap.err.startswith("error: ") and message in cap.err and cap.out == ""
    assert not out.exists()


# --------------------------------------------------------------------------- one library call


def test_api_and_command_line_give_the_same_folder_and_lines(tmp_path, capsys):
    """`sim.attribution(...)` is what `gdcloud attribution` calls: the same files (byte for byte,
    figures aside), the same manifest layout and result, the same summary lines."""
    import sim

    out = tmp_path / "out"
    assert main(["attribution", "baseline", "--replicates", "1", "--total-firms", "10000",
                 "--set", "time.end=2022-06", "--executor", "serial", "--out", str(out)]) == 0
    printed = capsys.readouterr().out.splitlines()
    [cli_folder] = new_folders(out, "attribution")
    run = sim.attribution("baseline", replicates=1, total_firms=10000, overrides=["time.end=2022-06"],
                          out_dir=tmp_path / "api")
    assert run.ok and run.folder.parent == tmp_path / "api" / "attribution"
    for name in ("attribution.csv", "scenario.resolved.yaml"):
        assert (run.folder / name).read_bytes() == (cli_folder / name).read_bytes()
    m_cli = json.loads((cli_folder / "manifest.json").read_text())
    assert run.manifest["result"] == m_cli["result"] and run.manifest["inputs"] == m_cli["inputs"]
    assert list(run.manifest)[:len(COMMON_KEYS)] == list(COMMON_KEYS)
    assert run.manifest["command"].startswith("(python API)") and m_cli["command"].startswith("gdcloud attribution")
    lines = run.summary_lines()
    assert lines[1] == f"  results: {run.folder}" and printed[1] == f"  results: {cli_folder}"
    assert lines[2:] == printed[2:] and len(lines) >= 4
    assert lines[0].split(", 1 replicate")[0] == printed[0].split(", 1 replicate")[0]
    assert lines[0].endswith("s (serial)") and printed[0].endswith("s (serial)")
    # not saved: the same lines without a folder
    unsaved = sim.attribution("baseline", replicates=1, total_firms=10000, overrides=["time.end=2022-06"],
                              save=False)
    assert unsaved.folder is None and unsaved.summary_lines()[1:] == printed[2:]


def test_api_failure_raises_analysis_failed_with_the_folder(tmp_path):
    import sim
    from sim.errors import RunsFailed

    with pytest.raises(sim.AnalysisFailed) as info:
        sim.attribution("baseline", replicates=1, total_firms=10000, out_dir=tmp_path,
                        overrides=["time.end=2022-06", "initial.cloud_firms=1000000"])
    assert isinstance(info.value.error, RunsFailed)
    assert str(info.value).startswith("attribution failed: RunsFailed: 5 of 5 model runs failed")
    m = json.loads(info.value.manifest.read_text())
    assert m["status"] == "failed" and len(m["error"]["failures"]) == 5
    # bad input through the API: the command line's one line, argument names, nothing written
    with pytest.raises(sim.ScenarioError, match=r"^replicates: replicates: got 0: too small"):
        sim.attribution("baseline", replicates=0, out_dir=tmp_path / "bad")
    assert not (tmp_path / "bad").exists()


def test_public_names_are_the_same_in_sim_and_sim_api():
    import sim
    import sim.api

    assert sorted(sim.__all__) == sorted([*sim.api.__all__, "__version__"])
    assert len(set(sim.__all__)) == len(sim.__all__)
    for name in ("calibrate", "sensitivity", "what_it_takes", "attribution", "discover", "sweep"):
        assert getattr(sim, name) is getattr(sim.api, name)
    assert sim.calibrate.__name__ == "calibrate_tool" and sim.sweep.__name__ == "run_sweep"
