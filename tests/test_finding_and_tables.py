"""Finding results again (results root, latest, --label, reading compare and sweep folders) and
the report tables (typed CSVs, wide table, results.xlsx, Chinese CSVs with a byte-order mark)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import sim
from sim.cli.main import main
from sim.errors import ScenarioError
from sim.runs.root import ENV_VAR, results_root

SMALL = ["population.total_firms=20000", "time.end=2022-06"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("results")
    plain = sim.run("demo", overrides=SMALL, replicates=2, out_dir=root, figures=False,
                    progress=False)
    labelled = sim.run("demo", overrides=SMALL, replicates=2, out_dir=root, figures=False,
                       progress=False, label="demo-zh", lang="zh")
    cmp = sim.compare(["demo", "no_policy_at_all"], overrides=SMALL, replicates=2, out_dir=root,
                      figures=False, progress=False)
    return root, plain, labelled, cmp


def test_results_root_order(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert results_root() == Path("results")
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    assert results_root() == tmp_path
    assert results_root("elsewhere") == Path("elsewhere")


def test_latest_and_label(runs) -> None:
    root, plain, labelled, cmp = runs
    assert plain.folder.parent.name == "demo"
    assert labelled.folder.parent.name == "demo-zh"
    # the comparison ran "demo" last, in its own run folder
    assert sim.latest("demo", root=root) == cmp["demo"].folder != plain.folder
    assert sim.latest("demo-zh", root=root) == labelled.folder
    assert sim.latest("compare", root=root) == cmp.folder
    with pytest.raises(ScenarioError, match="no complete results for 'baseline'"):
        sim.latest("baseline", root=root)
    table = sim.list_results(root=root)
    assert set(table["kind"]) == {"run", "compare"}


def test_load_results_reads_run_and_compare_folders(runs) -> None:
    root, plain, _, cmp = runs
    back = sim.load_results(plain.folder)
    pd.testing.assert_frame_equal(back.timeseries, plain.timeseries)
    c = sim.load_results(cmp.folder)
    assert isinstance(c, sim.CompareResult)
    assert list(c.results) == ["demo", "no_policy_at_all"] and c.reference == "demo"
    pd.testing.assert_frame_equal(c["no_policy_at_all"].timeseries, cmp["no_policy_at_all"].timeseries)
    assert c.differences["sentence"].tolist() == cmp.differences["sentence"].tolist()


def test_report_tables(runs) -> None:
    _, plain, labelled, cmp = runs
    names = {p.name for p in plain.folder.iterdir()}
    assert {"summary.csv", "wide.csv", "provincial.csv", "progress_city.csv",
            "progress_cluster.csv", "results.xlsx"} <= names
    wide = pd.read_csv(plain.folder / "wide.csv")
    assert len(wide) == 1 and wide.loc[0, "scenario"] == "demo"
    assert pd.api.types.is_float_dtype(wide["p_meet_cloud_goal"])
    assert pd.api.types.is_numeric_dtype(wide["cloud_firms_2022_median"])
    book = pd.read_excel(plain.folder / "results.xlsx", sheet_name=None)
    assert list(book) == ["summary", "wide", "goals", "provincial", "city", "cluster"]
    assert len(book["city"]) == 21 and len(book["cluster"]) == 20
    # Chinese run: CSVs with a byte-order mark, Chinese names and headers in the workbook
    raw = (labelled.folder / "progress_city.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    city = pd.read_csv(labelled.folder / "progress_city.csv", encoding="utf-8-sig")
    assert "广州" in set(city["group_name"])
    zh = pd.read_excel(labelled.folder / "results.xlsx", sheet_name="summary")
    assert "指标名称" in zh.columns and "中位数" in zh.columns
    # comparison folder: one row per scenario, and one per comparison
    cw = pd.read_csv(cmp.folder / "wide.csv")
    assert cw["scenario"].tolist() == ["demo", "no_policy_at_all"]
    dw = pd.read_csv(cmp.folder / "differences_wide.csv")
    assert dw["scenario"].tolist() == ["no_policy_at_all"] and "cloud_firms_diff_median" in dw


def test_cli_latest_and_env_root(runs, monkeypatch, capsys) -> None:
    root, _, labelled, _ = runs
    monkeypatch.setenv(ENV_VAR, str(root))
    assert main(["latest", "demo-zh"]) == 0
    assert capsys.readouterr().out.strip() == str(labelled.folder)
    assert main(["latest", "nothing-here"]) == 2
    err = capsys.readouterr().err
    assert "no complete results for 'nothing-here'" in err and "Traceback" not in err
    assert main(["run", "demo", "--label", "../x", "--no-figures"]) == 2
    assert "label" in capsys.readouterr().err
