"""The gdcloud command line: exit codes, one-line errors, files written, resume, compare."""

from __future__ import annotations

import glob
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from sim.analysis.summary import PAIRED_COLUMNS, SUMMARY_COLUMNS
from sim.cli.main import main
from sim.core.outputs import TIMESERIES_COLUMNS
from sim.runs.results import load_results

TINY = ["--set", "population.total_firms=20000", "--set", "time.end=2022-06"]
"""Small and short: the horizon does not matter for these checks."""

REPO = Path(__file__).resolve().parents[1]


def gdcloud(*args: str, **kw) -> subprocess.CompletedProcess:
    """Run ``python -m sim`` in a fresh process (exactly what a user sees)."""
    return subprocess.run([sys.executable, "-m", "sim", *args], capture_output=True, text=True,
                          cwd=kw.pop("cwd", REPO), timeout=kw.pop("timeout", 120), **kw)


def only_folder(out: Path, scenario: str) -> Path:
    folders = list((out / scenario).iterdir())
    assert len(folders) == 1, folders
    return folders[0]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------- bad input: exit 2


def test_unknown_key_exits_2_with_one_line_and_writes_nothing(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("extends: baseline\npopulation:\n  total_firmz: 20000\n")
    out = tmp_path / "out"
    r = gdcloud("run", str(bad), "--out", str(out))
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("error: ") and "population.total_firmz" in lines[0]
    assert "did you mean 'total_firms'" in lines[0]
    assert "Traceback" not in r.stderr and r.stdout == ""
    assert not out.exists()


@pytest.mark.parametrize("args, fragment", [
    (["run", "baseline", "--set", "run.replicatez=2"], "unknown key 'replicatez'"),
    (["run", "baseline", "--set", "novalue"], "missing '='"),
    (["run", "baseline", "--replicates", "0"], "run.replicates"),
    (["run", "no_such_scenario"], "no such scenario file"),
    (["run", "baseline", "--workers", "0"], "--workers must be >= 1"),
    (["run", "baseline", "--executor", "serial", "--address", "tcp://127.0.0.1:1"], "--address"),
    (["run", "baseline", "--bogus"], "unrecognized arguments"),
    (["run", "baseline", "--executor", "threads"], "invalid choice"),
    (["run"], "give a SCENARIO"),
    (["compare", "baseline"], "at least two scenarios"),
    (["run", "--resume", "."], "not a results folder"),
])
def test_bad_input_exits_2(args, fragment, tmp_path, capsys):
    code = main([*args, "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1, err
    assert fragment in err
    assert not (tmp_path / "out").exists()


def test_yaml_syntax_error_exits_2(tmp_path, capsys):
    bad = tmp_path / "broken.yaml"
    bad.write_text("name: x\npopulation: [\n")
    assert main(["run", str(bad), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {bad}: line ") and len(err.strip().splitlines()) == 1


# --------------------------------------------------------------------------- validate, list, schema, help


def test_validate_prints_ok_per_file_and_fails_on_a_bad_one(tmp_path, capsys):
    assert main(["validate", "baseline", "demo"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in out] == [["OK", "baseline"], ["OK", "demo"]]
    bad = tmp_path / "bad.yaml"
    bad.write_text("goals:\n  cloud_firms: -1\n")
    assert main(["validate", "baseline", str(bad)]) == 2
    cap = capsys.readouterr()
    assert cap.out.startswith("OK baseline")
    assert cap.err.startswith(f"error: {bad}: goals.cloud_firms")


def test_list_shows_shipped_scenarios_with_descriptions(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "baseline" in out and "demo" in out
    assert "Are the 2025-12 goals" in out  # baseline's description


def test_schema_prints_json_schema(capsys):
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert "population" in schema["properties"] and "extends" in schema["properties"]


@pytest.mark.parametrize("command", [[], ["run"], ["compare"], ["validate"], ["list"], ["schema"]])
def test_help(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([*command, "--help"])
    assert exc.value.code == 0
    assert "usage: gdcloud" in capsys.readouterr().out


# --------------------------------------------------------------------------- run


def test_run_writes_every_promised_file(tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["run", "baseline", *TINY, "--replicates", "2", "--out", str(out)])
    assert code == 0
    folder = only_folder(out, "baseline")
    names = {p.name for p in folder.iterdir()}
    assert names == {"manifest.json", "scenario.resolved.yaml", "replicates", "timeseries.csv",
                     "summary.csv", "figures", "wide.csv", "goals.csv", "provincial.csv", "progress_city.csv",
                     "progress_cluster.csv", "results.xlsx"}
    assert sorted(p.name for p in (folder / "replicates").iterdir()) == ["rep-00000.csv", "rep-00001.csv"]
    assert any((folder / "figures").glob("*.png"))
    assert list(pd.read_csv(folder / "timeseries.csv").columns) == TIMESERIES_COLUMNS
    assert list(pd.read_csv(folder / "summary.csv").columns) == SUMMARY_COLUMNS
    m = json.loads((folder / "manifest.json").read_text())
    assert m["status"] == "complete" and m["replicates"]["done"] == [0, 1]
    assert m["command"].startswith("gdcloud run baseline")
    assert m["executor"]["name"] == "processes"  # the command-line default for several runs
    printed = capsys.readouterr().out
    assert str(folder) in printed
    assert "firms on the cloud at 2022-06: median" in printed
    assert "probability met" in printed and "first reached" in printed
    assert "stochastic-only: no parametric uncertainty" in printed  # baseline draws no parameters


def test_set_changes_the_run(tmp_path, capsys):
    common = ["run", "baseline", *TINY, "-n", "2", "--executor", "serial", "--no-figures"]
    assert main([*common, "--out", str(tmp_path / "a")]) == 0
    assert main([*common, "--set", "policies.vouchers.enabled=false", "--out", str(tmp_path / "b")]) == 0
    a, b = only_folder(tmp_path / "a", "baseline"), only_folder(tmp_path / "b", "baseline")
    assert a.name.split("-")[1] != b.name.split("-")[1]  # different scenario hash
    assert "enabled: false" in (b / "scenario.resolved.yaml").read_text()
    sa, sb = load_results(a).summary.set_index("outcome"), load_results(b).summary.set_index("outcome")
    spend = "voucher_spend_total_cny"
    assert sa.loc[spend, "median"] > 0
    assert sb.loc[spend, "median"] == 0
    assert sa.loc["cloud_firms_2022", "median"] != sb.loc["cloud_firms_2022", "median"]
    assert not (b / "figures").exists()


def test_outputs_figures_false_in_the_scenario(tmp_path):
    assert main(["run", "baseline", *TINY, "--set", "outputs.figures=false", "--out", str(tmp_path)]) == 0
    assert not (only_folder(tmp_path, "baseline") / "figures").exists()


def test_failed_runs_exit_1_and_are_recorded(tmp_path, capsys):
    out = tmp_path / "out"
    # initial.cloud_firms larger than the population passes the schema but makes the model
    # raise when each replicate starts (tests/test_runner.py checks that it raises there).
    code = main(["run", "baseline", *TINY, "--set", "initial.cloud_firms=1000000", "-n", "2",
                 "--executor", "serial", "--out", str(out)])
    assert code == 1
    folder = only_folder(out, "baseline")
    failures = pd.read_csv(folder / "failures.csv")
    assert list(failures["replicate"]) == [0, 1]
    assert set(failures["error_type"]) == {"ValueError"}
    assert failures["traceback"].str.contains("Traceback").all()
    m = json.loads((folder / "manifest.json").read_text())
    assert m["status"] == "failed" and m["replicates"]["failed"] == [0, 1]
    assert "exceeds" in m["failures"][0]["message"]
    err = capsys.readouterr().err
    assert "replicate 0: ValueError" in err and "failures.csv" in err


def test_shipped_name_and_file_path_are_equivalent(tmp_path):
    common = [*TINY, "-n", "1", "--no-figures"]
    assert main(["run", "baseline", *common, "--out", str(tmp_path / "a")]) == 0
    assert main(["run", str(REPO / "scenarios" / "baseline.yaml"), *common, "--out", str(tmp_path / "b")]) == 0
    a, b = only_folder(tmp_path / "a", "baseline"), only_folder(tmp_path / "b", "baseline")
    assert digest(a / "timeseries.csv") == digest(b / "timeseries.csv")


def test_workers_flag_gives_identical_bytes(tmp_path):
    common = ["run", "baseline", *TINY, "-n", "3", "--no-figures"]
    assert main([*common, "--executor", "serial", "--out", str(tmp_path / "s")]) == 0
    assert main([*common, "--workers", "2", "--out", str(tmp_path / "p")]) == 0
    s, p = only_folder(tmp_path / "s", "baseline"), only_folder(tmp_path / "p", "baseline")
    assert digest(s / "timeseries.csv") == digest(p / "timeseries.csv")
    assert json.loads((p / "manifest.json").read_text())["executor"]["workers"] == 2


def test_one_replicate_runs_in_process_whatever_workers_says(tmp_path):
    # A pool for one run only adds its start-up; --executor processes still forces one.
    common = ["run", "baseline", *TINY, "-n", "1", "--no-figures"]
    assert main([*common, "--workers", "2", "--out", str(tmp_path / "j")]) == 0
    assert main([*common, "--executor", "processes", "--workers", "2", "--out", str(tmp_path / "p")]) == 0
    j, p = only_folder(tmp_path / "j", "baseline"), only_folder(tmp_path / "p", "baseline")
    assert json.loads((j / "manifest.json").read_text())["executor"] == {"name": "serial"}
    assert json.loads((p / "manifest.json").read_text())["executor"]["name"] == "processes"
    assert digest(j / "timeseries.csv") == digest(p / "timeseries.csv")


# --------------------------------------------------------------------------- interrupt and resume


def test_ctrl_c_exits_130_keeps_finished_replicates_and_resume_completes(tmp_path):
    out = tmp_path / "out"
    args = ["run", "baseline", *TINY, "-n", "60", "--executor", "serial", "--no-figures",
            "--out", str(out)]
    proc = subprocess.Popen([sys.executable, "-m", "sim", *args], cwd=REPO, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 90
    while time.time() < deadline and len(glob.glob(str(out / "baseline" / "*" / "replicates" / "*.csv"))) < 3:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "--resume" in err
    folder = only_folder(out, "baseline")
    done = sorted(p.name for p in (folder / "replicates").iterdir())
    assert 3 <= len(done) < 60
    assert all(n.startswith("rep-") and n.endswith(".csv") for n in done)  # no temporary files
    assert not (folder / "timeseries.csv").exists()
    assert json.loads((folder / "manifest.json").read_text())["status"] == "interrupted"

    assert main(["run", "--resume", str(folder), "--executor", "serial", "--no-figures"]) == 0
    assert main(["run", "baseline", *TINY, "-n", "60", "--executor", "serial", "--no-figures",
                 "--out", str(tmp_path / "ref")]) == 0
    ref = only_folder(tmp_path / "ref", "baseline")
    assert digest(folder / "timeseries.csv") == digest(ref / "timeseries.csv")
    m = json.loads((folder / "manifest.json").read_text())
    assert m["status"] == "complete" and [s["status"] for s in m["sessions"]] == ["interrupted", "complete"]


def test_resume_with_a_different_scenario_exits_2(tmp_path, capsys):
    assert main(["run", "baseline", *TINY, "-n", "1", "--no-figures", "--out", str(tmp_path)]) == 0
    folder = only_folder(tmp_path, "baseline")
    code = main(["run", "baseline", *TINY, "--set", "policies.pilots.enabled=false",
                 "--resume", str(folder)])
    assert code == 2
    assert "not the one this folder was run with" in capsys.readouterr().err


# --------------------------------------------------------------------------- compare


def test_compare_reports_paired_differences(tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["compare", "baseline", "no_policy_at_all", *TINY, "-n", "2", "--executor", "serial",
                 "--no-figures", "--out", str(out)])
    assert code == 0
    folder = only_folder(out, "compare")
    diffs = pd.read_csv(folder / "differences.csv")
    assert list(diffs.columns) == PAIRED_COLUMNS
    assert set(diffs["scenario"]) == {"no_policy_at_all"} and set(diffs["reference"]) == {"baseline"}
    assert (diffs["n_pairs"] == 2).all()
    # both scenarios used the same seeds
    seeds = {json.loads((only_folder(out, s) / "manifest.json").read_text())["root_seed"]
             for s in ("baseline", "no_policy_at_all")}
    assert len(seeds) == 1
    printed = capsys.readouterr().out
    assert "paired differences vs baseline" in printed
    assert "no_policy_at_all" in printed and "cloud firms" in printed
