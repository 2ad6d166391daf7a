"""Human names in the language where tables and figures used to show identifiers: the sensitivity
result in memory, the wide tables' column names, the history match's parameters, scenario titles,
goal scopes and source footnotes."""

from __future__ import annotations

import re

import pandas as pd
import yaml

import sim
from sim import i18n
from sim.analysis import observation
from sim.analysis.sensitivity import SensitivitySpec, run_sensitivity
from sim.cli.main import main
from sim.i18n.columns import column_name, column_table
from sim.i18n.header import header_text
from sim.plots.common import short_source
from sim.scenario.loader import load_scenario, shipped_scenarios

CJK = re.compile(r"[\u4e00-\u9fff]")
BUDGET = "policies.vouchers.budget_cny_per_year"
MARKET = "diffusion.cloud.market_rate_per_year"


def sens_spec(lang: str) -> SensitivitySpec:
    return SensitivitySpec.load({
        "base": "baseline", "overrides": {"outputs.lang": lang}, "method": "morris", "n": 2, "replicates": 1,
        "total_firms": 5000, "outcomes": ["cloud_firms", "p_cloud_goal"],
        "parameters": [{"path": MARKET, "lower": 0.02, "upper": 0.2}, {"path": BUDGET, "lower": 0, "upper": 1e9}]})


def analytic(samples: pd.DataFrame) -> pd.DataFrame:
    """An outcome with known effects (no model runs): the market rate matters, the budget a little."""
    x = samples.to_numpy()
    return pd.DataFrame({"cloud_firms": 1e6 * x[:, 0] + x[:, 1] / 1e4, "p_cloud_goal": x[:, 0] > 0.1},
                        index=samples.index).astype(float)


def test_sensitivity_result_carries_the_human_names_in_memory_and_in_its_files(tmp_path):
    en = run_sensitivity(sens_spec("en"), evaluate=analytic, out_dir=tmp_path / "en")
    assert list(en.indices.columns[:4]) == ["outcome", "outcome_name", "parameter", "parameter_name"]
    names = dict(zip(en.indices.parameter, en.indices.parameter_name, strict=True))
    labels = [p.label for p in en.spec.parameters]
    assert set(names) == set(labels) and all(n != p and "_" not in n for p, n in names.items()), names
    assert set(en.indices.outcome_name) == {"Cloud firms at the goal date", "Probability of meeting the cloud goal"}
    saved = pd.read_csv(tmp_path / "en" / "indices.csv")
    pd.testing.assert_frame_equal(saved, en.indices, check_dtype=False)

    zh = run_sensitivity(sens_spec("zh"), evaluate=analytic, out_dir=tmp_path / "zh")
    assert all(CJK.search(n) and "." not in n for n in zh.indices.parameter_name)
    assert all(CJK.search(n) for n in zh.indices.outcome_name)
    cols = pd.read_csv(tmp_path / "zh" / "samples_outputs_columns.csv", encoding="utf-8-sig")
    assert list(cols.column) == [*labels, "cloud_firms", "p_cloud_goal"]
    assert all(CJK.search(n) for n in cols.column_name), cols
    assert (tmp_path / "zh" / "samples_outputs_columns.csv").read_bytes().startswith(b"\xef\xbb\xbf")  # Excel
    assert set(zh.files) >= {"samples_outputs", "samples_outputs_columns", "indices"}


def test_column_names_of_wide_tables_in_both_languages():
    assert column_name("cloud_firms_median", "en") == "Cloud firms at the goal date (median)"
    assert column_name("cloud_firms_median", "zh") == "目标日上云用云企业数（中位数）"
    assert column_name("p_meet_both_goals", "zh") != "p_meet_both_goals"
    assert column_name("n_replicates", "zh") == "重复次数"
    assert column_name("not_a_known_column", "zh") == "not_a_known_column"
    table = column_table(["point", BUDGET, "p_missed"], "zh", {BUDGET: "服务券预算（亿元/年）"})
    assert list(table.columns) == ["column", "column_name"]
    assert list(table.column_name[:2]) == ["样本点", "服务券预算（亿元/年）"]


def test_every_column_of_a_zh_sweep_summary_and_discovery_table_has_a_chinese_name(tmp_path, capsys):
    from sim.analysis.sweep_outcomes import SUMMARY_STATS

    for c in ["point", *SUMMARY_STATS]:
        assert CJK.search(column_name(c, "zh")), c
    for c in ("cloud_firms", "p_missed", "missed"):  # discovery_cases.csv beside the inputs
        assert CJK.search(column_name(c, "zh")), c


def test_a_zh_sweep_writes_its_column_names(tmp_path, capsys):
    spec = {"base": "baseline", "overrides": {"population.total_firms": 5000, "time.end": "2021-09",
                                              "goals.date": "2021-09"},
            "parameters": [{"path": BUDGET, "values": [0, 6e8]}], "design": "factorial", "replicates": 1}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    assert main(["sweep", str(path), "--executor", "serial", "--no-figures", "--lang", "zh",
                 "--out", str(tmp_path / "out")]) == 0
    [folder] = (tmp_path / "out" / "sweep").iterdir()
    summ = pd.read_csv(folder / "point_summary.csv")
    names = pd.read_csv(folder / "point_summary_columns.csv", encoding="utf-8-sig")
    assert list(names.column) == list(summ.columns)
    left = [c for c, n in zip(names.column, names.column_name, strict=True) if not CJK.search(n)]
    assert left == [], left


def test_history_match_parameters_have_names(tmp_path):
    sizes = {"particles": 4, "generations": 2, "max_simulations": 4, "total_firms": 3000}
    en = sim.history_match("baseline", **sizes, out_dir=tmp_path / "en")
    zh = sim.history_match("baseline", **sizes, out_dir=tmp_path / "zh", lang="zh")
    a = pd.read_csv(en.folder / "parameters.csv")
    b = pd.read_csv(zh.folder / "parameters.csv", encoding="utf-8-sig")
    assert list(a.columns[:2]) == ["parameter", "parameter_name"] and list(a.parameter) == list(b.parameter)
    assert all(n != p and "_" not in n for p, n in zip(a.parameter, a.parameter_name, strict=True))
    assert all(CJK.search(n) for n in b.parameter_name)


def test_shipped_scenarios_have_chinese_titles_in_figure_headers():
    for name in shipped_scenarios():
        assert CJK.search(i18n.scenario_title(name, "zh")), name
        assert i18n.scenario_title(name, "en") == name
    assert header_text("baseline", 50_000, 2, "zh").startswith("情景 基准情景 · ")
    assert header_text("baseline", 50_000, 2, "en").startswith("Scenario baseline · ")
    assert i18n.scenario_title("my_own_scenario", "zh") == "my_own_scenario"


def test_goal_scopes_of_the_shipped_scenarios_are_translated(tmp_path):
    scopes = {g.scope for name in shipped_scenarios() for g in load_scenario(name).goals.more if g.scope}
    assert len(scopes) >= 4
    for scope in scopes | {"headline goal"}:
        zh = i18n.goal_scope(scope, "zh")
        assert CJK.search(zh) and not re.search(r"[A-Za-z]{3,}", zh), (scope, zh)
        assert i18n.goal_scope(scope, "en") == scope


def test_source_footnotes_in_chinese_have_no_english_words():
    sources = {f.source for f in observation.figures()}
    assert len(sources) > 5
    for source in sources:
        zh = short_source(source, "zh")
        assert CJK.search(zh) and not re.search(r"[A-Za-z]{2,}", zh), (source, zh)
    assert short_source("Xinhua, a story (2021-04-05)") == "Xinhua (2021-04-05)"  # English unchanged


def test_compare_prints_scenario_titles_in_chinese(tmp_path, capsys):
    tiny = ["--set", "population.total_firms=20000", "--set", "time.end=2021-09", "--executor", "serial",
            "--no-figures", "-n", "1"]
    assert main(["compare", "baseline", "vouchers_doubled", *tiny, "--lang", "zh", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "基准情景：已完成1/1次重复" in printed and "服务券预算加倍情景：已完成1/1次重复" in printed
    assert "与基准情景的配对差异" in printed and "与基准情景相比，服务券预算加倍情景" in printed
