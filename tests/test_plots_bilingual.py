"""Chinese figures: every glyph drawn (the shipped CJK font), names from the shipped data,
figure headers with scenario, scale and caveat, comparison figures per goal."""

from __future__ import annotations

import warnings
from pathlib import Path

import matplotlib
import pandas as pd
import pytest
from matplotlib.figure import Figure

from sim import i18n
from sim.analysis.outcomes import goal_outcomes
from sim.analysis.progress import group_progress, progress_table
from sim.analysis.summary import paired_differences, scaled_goals
from sim.core.model import CloudAdoptionModel
from sim.core.outputs import concat_replicates, tidy_timeseries
from sim.i18n import fonts
from sim.plots.goals import plot_goal_comparison, plot_group_progress, wilson_interval
from sim.plots.scenario import plot_city_gap, plot_clusters, plot_provincial, write_compare_figures
from sim.scenario import Scenario


@pytest.fixture(scope="module")
def runs() -> tuple[Scenario, pd.DataFrame, pd.DataFrame]:
    base = Scenario.model_validate({"name": "demo", "population": {"total_firms": 20_000}})
    more = Scenario.model_validate({"name": "more", "population": {"total_firms": 20_000},
                                    "policies": {"vouchers": {"budget_cny_per_year": 9e8}}})
    ts = concat_replicates(tidy_timeseries(CloudAdoptionModel(base, replicate=r).run()) for r in range(3))
    ts2 = concat_replicates(tidy_timeseries(CloudAdoptionModel(more, replicate=r).run()) for r in range(3))
    return base, ts, ts2


def _render_strict(fig: Figure, path: Path) -> None:
    """Save, failing on matplotlib's "Glyph ... missing from font(s)" warning."""
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=r".*[Gg]lyph.*missing.*")
        fig.savefig(path, dpi=50)


def test_missing_glyph_warning_is_caught_without_the_cjk_font(tmp_path: Path) -> None:
    # The check can fail: with only DejaVu Sans, Chinese text raises the warning.
    fig = Figure()
    fig.add_subplot().set_title("广东", fontfamily="DejaVu Sans")
    with pytest.raises(UserWarning, match="[Gg]lyph"):
        _render_strict(fig, tmp_path / "x.png")


def test_chinese_figures_render_every_glyph(runs, tmp_path: Path) -> None:
    cfg, ts, _ = runs
    assert fonts.register_cjk_font() == "Noto Sans CJK SC"
    assert "Noto Sans CJK SC" in matplotlib.rcParams["font.family"]
    goals = scaled_goals(cfg)
    fig = Figure(figsize=(9, 6), layout="constrained")
    ax = plot_provincial(fig.add_subplot(), ts, goals, lang="zh")
    assert ax.get_title() == "广东省上云用云企业（累计）"
    assert ax.get_ylabel() == "企业数（家）"
    _render_strict(fig, tmp_path / "prov.png")

    fig = Figure(figsize=(11, 13), layout="constrained")
    axes = plot_clusters(fig, ts, goals=goals, lang="zh")
    titles = {a.get_title().replace("\n", "") for a in axes.flat}
    assert {"新一代电子信息", "安全应急与环保", "软件与信息服务"} <= titles
    _render_strict(fig, tmp_path / "clusters.png")

    fig = Figure(figsize=(9, 7), layout="constrained")
    ax = plot_city_gap(fig.add_subplot(), ts, goals, lang="zh")
    assert {"广州", "深圳", "云浮"} <= {t.get_text() for t in ax.get_yticklabels()}
    _render_strict(fig, tmp_path / "city.png")

    fig = Figure(figsize=(12, 8), layout="constrained")
    plot_group_progress(fig, ts, goals, level="cluster", lang="zh")
    _render_strict(fig, tmp_path / "progress.png")


def test_english_cluster_titles_are_full_length(runs) -> None:
    cfg, ts, _ = runs
    fig = Figure(figsize=(11, 13), layout="constrained")
    axes = plot_clusters(fig, ts, goals=scaled_goals(cfg))
    titles = {a.get_title().replace("\n", " ") for a in axes.flat}
    assert "Safety emergency and environmental protection" in " ".join(titles) or all(
        i18n.cluster_name(c) in titles for c in ("electronics", "automotive"))
    for c in ("electronics", "high_end_equipment", "precision_instruments"):
        assert i18n.cluster_name(c) in titles


def test_group_progress_is_relative_to_group_size(runs) -> None:
    cfg, ts, _ = runs
    goals = scaled_goals(cfg)
    gp = group_progress(ts, goals, "city", cfg)
    assert len(gp) == 3 * 21
    # proportional cloud goals add up to the goal in every replicate
    sums = gp.groupby("replicate")["cloud_goal_share"].sum()
    assert sums.to_numpy() == pytest.approx(goals.cloud_firms)
    tsum = gp.groupby("replicate")["transformed_goal_share"].sum()
    assert tsum.to_numpy() == pytest.approx(goals.transformed_firms)
    row = gp.iloc[0]
    assert row["cloud_progress"] == pytest.approx(row["cloud_firms"] / row["cloud_goal_share"])
    assert 0 < row["cloud_share_of_firms"] < 1
    tab = progress_table(ts, goals, "cluster", cfg)
    assert len(tab) == 20 and (tab["n_replicates"] == 3).all()
    assert (tab["cloud_progress_p10"] <= tab["cloud_progress_median"]).all()
    assert (tab["cloud_progress_median"] <= tab["cloud_progress_p90"]).all()
    # read at the goal month's date of goal_outcomes, in any row order; a series that ends
    # before the goal month, or has no provincial rows, is refused
    gdate = goal_outcomes(ts, goals)["goal_date"].iloc[0]
    at = ts[(ts["date"] == gdate) & (ts["city"] == gp.iloc[0]["group"]) & (ts["cluster"] == "all")
            & (ts["size_class"] == "all")]
    assert sorted(at["cloud_cumulative"]) == sorted(gp[gp["group"] == gp.iloc[0]["group"]]["cloud_firms"])
    shuffled = group_progress(ts.sample(frac=1.0, random_state=3), goals, "city", cfg)
    assert shuffled.sort_values(["replicate", "group"]).reset_index(drop=True).equals(
        gp.sort_values(["replicate", "group"]).reset_index(drop=True))
    with pytest.raises(ValueError, match="does not reach the goal month"):
        group_progress(ts[ts["date"] < gdate], goals, "city", cfg)
    with pytest.raises(ValueError, match="no provincial rows"):
        group_progress(ts[ts["city"] != "all"], goals, "city", cfg)


def test_goal_comparison_figure_and_compare_folder_files(runs, tmp_path: Path) -> None:
    cfg, ts, ts2 = runs
    goals = scaled_goals(cfg)
    series = {"demo": ts, "more": ts2}
    diffs = paired_differences(series, "demo", goals=goals)
    fig = Figure(figsize=(12, 4), layout="constrained")
    left, right = plot_goal_comparison(fig, series, diffs, goals, goal="transformed")
    assert [t.get_text() for t in left.get_yticklabels()] == ["more"]
    assert [t.get_text() for t in right.get_yticklabels()] == ["demo", "more"]  # reference on top
    assert "transformation goal" in left.get_title()
    paths = write_compare_figures(tmp_path, series, diffs, cfg, lang="zh")
    assert [p.name for p in paths] == ["compare_cloud.png", "compare_transformed.png",
                                       "goal_cloud.png", "goal_transformed.png"]
    assert not (tmp_path / "clusters.png").exists()  # no copies of one scenario's figures


def test_wilson_interval() -> None:
    lo, hi = wilson_interval(0, 20)
    assert lo == 0.0 and 0.1 < hi < 0.2
    lo, hi = wilson_interval(10, 20)
    assert lo == pytest.approx(0.299, abs=0.002) and hi == pytest.approx(0.701, abs=0.002)


def test_translation_table_is_complete() -> None:
    for key in i18n.keys():
        assert i18n.text(key, "en") and i18n.text(key, "zh")
    assert i18n.text("goal.cloud", "zh") == "上云用云目标"
    assert i18n.instrument_name("chain_leaders", "zh") == "链主企业带动"
    assert i18n.instrument_name("vouchers", "zh") == "上云上平台服务券"
    assert i18n.size_class_name("above_scale", "zh") == "规上工业企业"
    with pytest.raises(ValueError, match="allowed: en, zh"):
        i18n.text("province", "fr")
    with pytest.raises(KeyError):
        i18n.text("no.such.key")


def test_money_and_signs() -> None:
    assert i18n.format_cny(1.35e9, "en") == "1.35 billion CNY"
    assert i18n.format_cny(1.35e9, "zh") == "13.5亿元"
    assert i18n.format_cny(3e8, "en") == "300 million CNY"
    assert i18n.format_cny(52_000, "zh") == "5.2万元"
    assert i18n.format_cny(-2.5e7, "en") == "\u221225 million CNY"
    assert i18n.signed(-3.0) == "\u22123" and i18n.signed(4.2) == "+4"
    assert i18n.format_count(-12_345) == "\u221212,345"


def test_written_files_respect_the_umask(tmp_path: Path) -> None:
    import os
    import stat

    from sim.fileio import atomic_write_text

    old = os.umask(0o022)
    try:
        p = atomic_write_text(tmp_path / "a.csv", "x\n")
        assert stat.S_IMODE(p.stat().st_mode) == 0o644
        os.umask(0o077)
        q = atomic_write_text(tmp_path / "b.csv", "x\n")
        assert stat.S_IMODE(q.stat().st_mode) == 0o600
    finally:
        os.umask(old)


def test_paired_sentences_in_both_languages(runs) -> None:
    cfg, ts, ts2 = runs
    goals = scaled_goals(cfg)
    en = paired_differences({"demo": ts, "more": ts2}, "demo", goals=goals).set_index("outcome")
    zh = paired_differences({"demo": ts, "more": ts2}, "demo", goals=goals, lang="zh").set_index("outcome")
    spend = en.loc["voucher_spend_total_cny"]
    # 9e8 vs 3e8 CNY a year at 1:100 scale: millions of CNY, written as a report writes them
    assert spend["sentence"].startswith("more spends ") and " million CNY more on vouchers" in spend["sentence"]
    assert "亿元" in zh.loc["voucher_spend_total_cny", "sentence"] or "万元" in zh.loc["voucher_spend_total_cny", "sentence"]
    assert zh.loc["cloud_firms", "sentence"].startswith("与演示情景相比，more增加上云用云企业")  # a shipped scenario by its Chinese title
    assert "-" not in en.loc["cloud_goal_met", "sentence"].replace("demo", "")
