"""The further goals of a scenario (goals.more) in the outputs: drawn on the progress figures,
listed in goals.csv / the goals sheet / wide.csv / summary.csv, in both languages.

outlook_2030 at 5,000 firms (2 replicates, 2020-12 to 2030-12) carries the national 2027 SME
cloud-rate goal (a share over 7,745,000 firms) and two illustrative 2030 count goals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

import sim
from sim import i18n
from sim.analysis.goal_list import goal_label, indicator_paths, listed_goal_outcomes, scaled_count
from sim.analysis.outcomes import scaled_goals
from sim.i18n.header import figure_texts
from sim.plots.listed_goals import plot_more_goals
from sim.plots.scenario import plot_provincial

N = 5_000
SME = "sme_cloud_rate>=0.4@2027-12"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    texts: dict[str, str] = {}
    from sim.plots import scenario as plots

    real = plots.save
    mp = pytest.MonkeyPatch()

    def capture(fig, path):
        texts[Path(path).name] = figure_texts(fig)
        return real(fig, path)

    mp.setattr(plots, "save", capture)
    # every figure drawn in this process: a forked figure worker's saves would not be captured
    # (the test failed whenever sim.plots.parallel chose two workers)
    mp.setenv("GDCLOUD_FIGURE_WORKERS", "1")
    try:
        res = sim.run("outlook_2030", replicates=2, overrides=[f"population.total_firms={N}"],
                      out_dir=tmp_path_factory.mktemp("out"), lang="zh")
    finally:
        mp.undo()
    return res, texts


def test_goal_table_lists_every_goal_at_the_population_scale(run) -> None:
    res, _ = run
    table = pd.read_csv(res.folder / "goals.csv", encoding="utf-8-sig").set_index("goal")
    cfg = res.scenario
    assert list(table.index) == ["cloud_firms>=1000000@2025-12", "transformed_firms>=50000@2025-12", SME,
                                 "cloud_firms>=1500000@2030-12", "transformed_firms>=70000@2030-12"]
    sme = table.loc[SME]
    assert sme["indicator_name"] == "中小企业上云率" and sme["target"] == 0.4 and sme["n_evaluable"] == 2
    # the value is the SME cloud firms over 7,745,000 firms scaled to the population, at 2027-12
    paths = indicator_paths(res.timeseries, cfg, cfg.goals.more[0])
    at = paths[paths["date"] == "2027-12"]["value"].to_numpy()
    assert sme["value_median"] == pytest.approx(np.median(at), abs=1e-4)
    assert sme["p_meet"] == pytest.approx(np.mean(at >= 0.4))
    assert 0.0 < sme["value_median"] < 1.0
    # count goals: the target is the one goal rule at 5,000 firms (1,500,000 -> 3,750)
    assert table.loc["cloud_firms>=1500000@2030-12", "target"] == scaled_count(1_500_000, N) == 3_750
    lo = listed_goal_outcomes(res.timeseries, cfg).set_index("goal")
    assert table.loc["transformed_firms>=70000@2030-12", "p_meet"] == pytest.approx(
        lo.loc["transformed_firms>=70000@2030-12", "met"].astype(bool).mean())
    xlsx = pd.read_excel(res.folder / "results.xlsx", sheet_name="goals")
    assert len(xlsx) == 5


def test_summary_and_wide_carry_the_further_goals(run) -> None:
    res, _ = run
    summ = pd.read_csv(res.folder / "summary.csv", encoding="utf-8-sig").set_index("outcome")
    assert summ.loc[f"p_meet:{SME}", "unit"] == "probability"
    wide = pd.read_csv(res.folder / "wide.csv", encoding="utf-8-sig")
    assert f"p_meet:{SME}" in wide.columns and f"goal:{SME}_median" in wide.columns
    assert wide[f"p_meet:{SME}"].iloc[0] == summ.loc[f"p_meet:{SME}", "mean"]
    names = pd.read_excel(res.folder / "results.xlsx", sheet_name="summary").iloc[:, 2].tolist()
    assert "2027-12中小企业上云率（目标40%）" in names


def test_further_goals_are_drawn(run) -> None:
    res, texts = run
    more = texts["goals_more.png"]
    assert "中小企业上云率：\n2027-12前目标40%" in more and "情景 2030年展望情景" in more
    assert "2次重复中" in more  # the share of replicates meeting each goal
    assert "其他目标：2030-12前3,750家（goals.more）" in texts["provincial_cloud.png"]
    assert "其他目标：2030-12前175家（goals.more）" in texts["provincial_transformed.png"]
    assert (res.folder / "figures" / "goals_more.png").stat().st_size > 0


def test_further_goal_markers_in_english(run) -> None:
    res, _ = run
    cfg = res.scenario
    fig = Figure()
    ax = plot_provincial(fig.add_subplot(), res.timeseries, scaled_goals(cfg), lang="en", config=cfg)
    diamonds = [ln for ln in ax.get_lines() if ln.get_marker() == "D"]
    assert [float(ln.get_ydata()[0]) for ln in diamonds] == [3_750.0]
    assert ax.get_ylim()[1] >= 3_750
    fig = Figure()
    axes = plot_more_goals(fig, res.timeseries, cfg, lang="en")
    assert [a.get_title() for a in axes] == [
        "SME cloud adoption rate:\ngoal 40% by 2027-12",
        "Firms on the cloud (cumulative):\ngoal 1,500,000 by 2030-12",
        "Above-scale firms transformed (cumulative):\ngoal 70,000 by 2030-12"]
    # the goal line of a count goal is at its scaled target, of a rate at the share
    stars = [next(ln for ln in a.get_lines() if ln.get_marker() == "*") for a in axes]
    assert [float(s.get_ydata()[0]) for s in stars] == [0.4, 3_750.0, 175.0]
    assert i18n.outcome_name(f"p_meet:{goal_label(cfg.goals.more[0])}", "en") == (
        "Probability of meeting the goal: SME cloud adoption rate ≥ 40% by 2027-12")


def test_note_column_and_units_are_in_the_run_language(run) -> None:
    import re

    from sim.analysis.summary import summarize
    from sim.scenario.paths import set_values

    res, _ = run
    summ = pd.read_csv(res.folder / "summary.csv", encoding="utf-8-sig")
    cjk = re.compile(r"[\u4e00-\u9fff]")
    english = re.compile(r"\b(goal|replicates?|firms|share|scaled|positive|month)\b")
    assert summ["note"].map(lambda s: bool(cjk.search(s))).all()
    assert not summ["note"].map(lambda s: bool(english.search(s))).any(), summ["note"].tolist()
    notes = summ.set_index("outcome")["note"]
    assert notes["cloud_firms_2025"] == "2025-12-31累计上云用云企业数；目标2,500；目标已按5,000家企业的模拟总体缩放×0.0025"
    assert notes[f"p_meet:{SME}"].startswith("2次重复中达标的比例")
    sheet = pd.read_excel(res.folder / "results.xlsx", sheet_name="summary")
    assert set(sheet["单位"]) <= {"家", "概率", "元", "月末", "比例"}
    # the same run summarized in English: the notes as before, units as identifiers
    en = summarize(res.timeseries, set_values(res.scenario, {"outputs.lang": "en"})).set_index("outcome")
    assert en.loc["cloud_firms_2025", "note"] == (
        "firms ever on the cloud at 2025-12-31; goal 2,500; goal scaled x0.0025 to the 5,000-firm population")
    assert en.loc[f"goal:{SME}", "note"].startswith("sme_cloud_rate at 2027-12; goal 0.4 (national target")
    own = en.index.str.startswith("goal:")  # these carry the scenario's own scope text (上云率)
    assert not en.loc[~own, "note"].map(lambda s: bool(cjk.search(s))).any()
