"""Finding results again (results root, latest, --label, reading compare and sweep folders) and
the report tables (typed CSVs, wide table, results.xlsx, Chinese CSVs with a byte-order mark)."""

from __future__ import annotations

import re
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
    book_zh = pd.read_excel(labelled.folder / "results.xlsx", sheet_name=None)
    english = {sheet: [c for c in f.columns if re.search(r"[A-Za-z]{3,}", str(c))] for sheet, f in book_zh.items()}
    assert english == {sheet: [] for sheet in book_zh}, english  # every header named in Chinese
    assert "2022年末上云用云企业数（中位数）" in book_zh["wide"].columns
    # comparison folder: one row per scenario, and one per comparison
    cw = pd.read_csv(cmp.folder / "wide.csv")
    assert cw["scenario"].tolist() == ["demo", "no_policy_at_all"]
    dw = pd.read_csv(cmp.folder / "differences_wide.csv")
    assert dw["scenario"].tolist() == ["no_policy_at_all"] and "cloud_firms_diff_median" in dw
    assert cw["total_firms"].tolist() == [20_000, 20_000] and set(cw["goal_date"]) == {"2022-06"}


def _decimals(values: pd.Series) -> int:
    """Most decimals any value of a column carries as written (``12.5`` -> 1)."""
    text = values.dropna().astype(str)
    return int(text.str.split(".").str[1].str.rstrip("0").str.len().fillna(0).max())


def test_chinese_summary_and_differences_open_in_excel_and_values_are_rounded(runs) -> None:
    """With --lang zh every CSV holding Chinese text has the byte-order mark (summary.csv's note,
    differences.csv's sentence), pandas reads them typed; values carry no float noise."""
    root, plain, labelled, cmp = runs
    raw = (labelled.folder / "summary.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and "目标".encode() in raw
    assert not (plain.folder / "summary.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    back = sim.load_results(labelled.folder).summary
    assert back.columns[0] == "scenario" and pd.api.types.is_float_dtype(back["median"])
    pd.testing.assert_frame_equal(back, labelled.summary, check_dtype=False)
    # the outcomes are named in the run's language beside their identifiers
    names = back.set_index("outcome")["outcome_name"]
    assert names["p_meet_cloud_goal"] == "达成上云用云目标的概率"
    assert names["transformed_gap"] == "与数字化转型目标的差距（正数为未达）"
    assert sim.load_results(plain.folder).summary.set_index("outcome").loc[
        "transformed_gap", "outcome_name"] == "Gap to the transformation goal (positive = short)"
    # a comparison in Chinese: the sentences in the CSV open in Excel
    zh = sim.compare(["demo", "no_policy_at_all"], overrides=SMALL, replicates=2, out_dir=root,
                     figures=False, progress=False, lang="zh")
    for name in ("differences.csv", "summary.csv", "wide.csv", "differences_wide.csv"):
        assert (zh.folder / name).read_bytes().startswith(b"\xef\xbb\xbf"), name
    diffs = pd.read_csv(zh.folder / "differences.csv")
    assert diffs["sentence"].str.contains("与演示情景相比").all()
    firms = diffs[diffs["outcome"].isin(["cloud_firms", "transformed_firms"])]
    assert _decimals(firms[["ci_low", "ci_high", "mean"]].stack()) <= 1
    assert _decimals(diffs.loc[diffs["outcome"] == "voucher_spend_total_cny", "ci_low"]) == 0
    city = pd.read_csv(plain.folder / "progress_city.csv")
    assert _decimals(city["cloud_goal_share_median"]) <= 1  # firms: a tenth
    assert _decimals(city["cloud_share_of_firms_median"]) <= 4
    assert city["cloud_goal_share_median"].sum() == pytest.approx(
        sim.scaled_goals(plain.scenario).cloud_firms, rel=1e-3)


def test_load_results_reads_a_sweep_folder(runs, monkeypatch) -> None:
    root, *_ = runs
    spec = {"base": "demo", "replicates": 2, "design": "factorial",
            "parameters": [{"path": "policies.vouchers.scale", "values": [1.0, 2.0]}]}
    done = sim.sweep(spec, overrides=SMALL, out_dir=root, figures=False, progress=False,
                     label="voucher-scale")
    assert done.folder.parent.name == "voucher-scale"
    back = sim.load_results(done.folder)
    assert isinstance(back, sim.SavedSweep) and back.ok
    assert back.folder == sim.latest("voucher-scale", root=root)
    assert len(back.points) == 2 and len(back.outcomes) == 4 and len(back.summary) == 2
    assert back.summary["policies.vouchers.scale"].tolist() == [1.0, 2.0]
    monkeypatch.setenv(ENV_VAR, str(root))  # the one results root: sim.latest without root=
    assert sim.latest("voucher-scale") == done.folder


def test_compare_label_names_the_folder(runs, monkeypatch, capsys) -> None:
    """`gdcloud compare --label NAME` writes <root>/NAME/...; `gdcloud latest NAME` finds it and
    sim.load_results reads it back as a comparison."""
    root, *_ = runs
    monkeypatch.setenv(ENV_VAR, str(root))
    sets = [a for o in SMALL for a in ("--set", o)]
    assert main(["compare", "demo", "no_policy_at_all", *sets, "-n", "2", "--label", "cmp-label",
                 "--executor", "serial", "--no-figures"]) == 0
    capsys.readouterr()
    assert main(["latest", "cmp-label"]) == 0
    folder = Path(capsys.readouterr().out.strip())
    assert folder.parent == root / "cmp-label"
    back = sim.load_results(folder)
    assert isinstance(back, sim.CompareResult) and list(back.results) == ["demo", "no_policy_at_all"]
    assert main(["compare", "demo", "no_policy_at_all", "--label", "../up"]) == 2
    assert "label" in capsys.readouterr().err


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

