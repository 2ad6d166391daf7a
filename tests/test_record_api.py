"""``sim.history_match`` is the one call ``gdcloud history-match`` makes: same files, same lines."""

from __future__ import annotations

import json

import pytest

import sim
from sim.cli.main import main

SIZES = {"particles": 4, "generations": 2, "max_simulations": 4, "total_firms": 3000}


def test_api_and_cli_write_the_same_history_match(tmp_path, capsys) -> None:
    code = main(["history-match", "baseline", "--particles", "4", "--generations", "2", "--max-simulations",
                 "4", "--total-firms", "3000", "--out", str(tmp_path / "cli")])
    assert code == 0
    printed = capsys.readouterr().out.splitlines()
    run = sim.history_match("baseline", **SIZES, out_dir=tmp_path / "api")
    (cli_folder,) = (tmp_path / "cli" / "history_match").iterdir()
    assert run.folder.parent == tmp_path / "api" / "history_match"
    names = {p.name for p in cli_folder.iterdir()}
    assert names == {p.name for p in run.folder.iterdir()}
    assert names >= {"posterior.csv", "generations.csv", "parameters.csv", "predictive.csv", "predictive.png",
                     "settings.json", "manifest.json", "scenario.resolved.yaml"}
    for name in ("posterior.csv", "generations.csv", "parameters.csv", "predictive.csv", "scenario.resolved.yaml"):
        assert (cli_folder / name).read_bytes() == (run.folder / name).read_bytes(), name
    settings = [json.loads((f / "settings.json").read_text()) for f in (cli_folder, run.folder)]
    for s in settings:
        s.pop("wall_s"), s.pop("cpu_s_this_process"), s.pop("cpu_s_all_processes")
    assert settings[0] == settings[1] and settings[0]["command"] == "history-match"
    assert settings[0]["particles"] == 4 and settings[0]["total_firms"] == 3000
    # the same lines, apart from the wall time and the folder
    lines = run.summary_lines()
    assert len(printed) == len(lines) == 2
    assert printed[0].split(": ")[0] == lines[0].split(": ")[0] == "history-match of baseline (3,000 firms, 4 particles, seed 0)"
    assert printed[0].split(", ")[:-2] == lines[0].split(", ")[:-2]
    assert printed[1] == f"  results: {cli_folder}" and lines[1] == f"  results: {run.folder}"
    assert run.result["match"].abc.weights.sum() == pytest.approx(1.0)


def test_api_bad_input_is_the_cli_one_line_error(tmp_path) -> None:
    with pytest.raises(sim.ScenarioError, match="instruments: unknown magic"):
        sim.evaluate("baseline", instruments="vouchers,magic", out_dir=tmp_path)
    with pytest.raises(sim.ScenarioError, match="2021-13 is not a month"):
        sim.backtest("baseline", origins=["2021-13"], out_dir=tmp_path)
    assert not any(tmp_path.iterdir())
