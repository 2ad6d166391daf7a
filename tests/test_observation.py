"""The observation model: every published figure's rule, checked with hand-computed numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim import datasets
from sim.analysis import observation as obs


def by_row(row: int) -> obs.Figure:
    return next(f for f in obs.figures() if f.row == row)


def test_every_kind_is_read_including_rows_without_value() -> None:
    recs = datasets.progress_records()
    kinds = {r.kind for r in recs}
    assert kinds == set(obs.KIND_RULE)  # every kind in the file has a rule
    missing = [r for r in recs if r.value is None]
    assert [(r.row, r.kind) for r in missing] == [(19, "not reported")]
    assert len(obs.figures()) == len(recs) == 24


def test_unknown_kind_is_refused() -> None:
    rec = datasets.ProgressRecord(99, "2024-12-31", "cloud_enterprises_cumulative", 1.0, "rumour", "", "", "")
    with pytest.raises(ValueError, match="row 99: unknown kind 'rumour'"):
        obs.rule_for(rec)


@pytest.mark.parametrize(("value", "unit"), [(550_000, 10_000), (625_000, 1_000), (17_000, 1_000),
                                             (44_500, 100), (7, 1)])
def test_rounding_unit(value: float, unit: float) -> None:
    assert obs.rounding_unit(value) == unit


def test_rules_of_the_published_record() -> None:
    # 62.5万 -> rounded to 0.1万: [624,500, 625,500]
    f = by_row(5)
    assert (f.rule, f.lower, f.upper, f.marker) == ("interval", 624_500, 625_500, "exact")
    # "超75万": censored at 750,000
    f = by_row(14)
    assert (f.rule, f.lower, f.upper, f.marker) == ("lower_bound", 750_000, math.inf, "lower_bound")
    # a stale headline and a repeat: no evidence, drawn hollow
    for row in (12, 13, 16):
        f = by_row(row)
        assert (f.rule, f.is_evidence, f.marker) == ("no_evidence", False, "stale")
    # approximate date: a window 2025-03..2025-11 around 2025-06
    f = by_row(17)
    assert (f.first_month, f.last_month, f.marker) == ("2025-03", "2025-11", "date_window")
    # end-2020 cloud is "approximate": +-5%; end-2020 transformed may include other firms: upper bound
    assert (by_row(1).lower, by_row(1).upper) == (475_000, 525_000)
    assert (by_row(2).lower, by_row(2).upper) == (0.0, 15_500)
    # no value, targets and unsimulated indicators are not evidence
    assert by_row(19).rule == "unknown" and by_row(10).rule == "target" and by_row(23).rule == "not_comparable"


def test_evidence_subsets() -> None:
    assert [f.row for f in obs.evidence(after="2020-12")] == [3, 4, 5, 6, 14, 15, 17, 18]
    assert [f.row for f in obs.evidence(after="2020-12", published_by="2021-12")] == [3, 4, 5, 6]
    assert [f.row for f in obs.evidence(after="2021-06", published_by="2023-09")] == [5, 6, 14, 15]
    assert [f.row for f in obs.evidence(after="2020-12", until="2024-12")] == [3, 4, 5, 6, 14, 15]


DATES = [f"2025-{m:02d}-28" for m in range(1, 13)]


def test_distance_hand_computed() -> None:
    f = by_row(5)
    dates = ["2021-11-30", "2021-12-31"]
    # (630,000 - 625,500) / 625,000 = 0.0072
    assert obs.distance(f, dates, np.array([0.0, 630_000.0])) == pytest.approx(0.0072)
    assert obs.distance(f, dates, np.array([0.0, 625_200.0])) == 0.0
    lb = by_row(14)
    # (750,000 - 700,000) / 750,000
    assert obs.distance(lb, ["2023-09-30"], np.array([[700_000.0], [800_000.0]])).tolist() == \
        pytest.approx([1 / 15, 0.0])
    # date window 2025-03..2025-11: series 40,000 + 500 per month -> inside the interval in 2025-08
    w = by_row(17)
    series = 40_000 + 500 * np.arange(12.0)
    assert obs.distance(w, DATES, series) == 0.0
    # a series at 42,000 throughout misses by 1,500 / 44,000
    assert obs.distance(w, DATES, np.full(12, 42_000.0)) == pytest.approx(1_500 / 44_000)
    with pytest.raises(ValueError, match="not simulated"):
        obs.distance(w, ["2021-12-31"], np.array([1.0]))


def test_total_distance_is_the_worst_figure() -> None:
    figs = [by_row(5), by_row(6)]
    dates = ["2021-12-31"]
    d = obs.total_distance(figs, dates, {"cloud_cumulative": np.array([625_000.0]),
                                         "transformed": np.array([22_000.0])})
    assert d == pytest.approx(500 / 21_000)


def test_log_likelihood_hand_computed() -> None:
    lb = by_row(14)  # sd = 1% of 750,000 = 7,500
    assert obs.log_likelihood(lb, ["2023-09-30"], np.array([750_000.0])) == pytest.approx(math.log(0.5))
    # one s.d. below the bound: Phi(-1) = 0.158655
    assert obs.log_likelihood(lb, ["2023-09-30"], np.array([742_500.0])) == pytest.approx(math.log(0.158655), abs=1e-5)
    f = by_row(4)  # [16,500, 17,500], sd = 170
    # at the centre: 1 - 2 Phi(-500/170) = 1 - 2 * 0.0016351
    assert obs.log_likelihood(f, ["2021-06-30"], np.array([17_000.0])) == pytest.approx(math.log(0.9967298), abs=1e-6)
    # far above: the accurate tail, not log(0)
    far = obs.log_likelihood(f, ["2021-06-30"], np.array([20_000.0]))
    assert far == pytest.approx(-111.743, abs=0.01)  # log Phi(-2,500/170) = log(Phi(-14.71))
    # a date window averages its 9 months: one month at the centre (sd 440: p = 1 - 2 Phi(-500/440)
    # = 1 - 2 * 0.12791), the others far below (p ~ 0)
    w = by_row(17)
    series = np.full(12, 30_000.0)
    series[7] = 44_000.0
    assert obs.log_likelihood(w, DATES, series) == pytest.approx(math.log(0.74418 / 9), abs=1e-4)


def test_forecast_scores_hand_computed() -> None:
    f = by_row(15)  # 29,000 -> [28,500, 29,500]
    assert obs.interval_score(f, 30_000, 32_000, alpha=0.1) == pytest.approx(2_000 + 20 * 500)
    assert obs.interval_score(f, 28_000, 29_000, alpha=0.1) == pytest.approx(1_000)
    assert obs.covers(f, 29_400, 31_000) and not obs.covers(f, 29_600, 31_000)
    assert obs.median_error(f, 30_500) == pytest.approx(1_000 / 29_000)
    assert obs.median_error(f, 29_200) == 0.0
    lb = by_row(18)  # > 50,000
    assert obs.interval_score(lb, 45_000, 49_000, alpha=0.5) == pytest.approx(4_000 + 4 * 1_000)
    assert obs.interval_score(lb, 45_000, 52_000, alpha=0.5) == pytest.approx(7_000)
    assert obs.median_error(lb, 47_000) == pytest.approx(-0.06)
    assert obs.median_error(lb, 60_000) == 0.0
    assert obs.point_month(by_row(17)) == "2025-07"


def test_plot_marks_lower_bounds_stale_and_exact_differently() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sim.plots.scenario import FIGURE_STYLE, draw_figures

    fig, ax = plt.subplots()
    values = draw_figures(ax, "transformed")
    # rows 2, 4, 6, 13 (repeat), 15, 17 (date window), 18 (lower bound), in file order
    assert values == [15_000, 17_000, 21_000, 21_000, 29_000, 44_000, 50_000]
    labels = [t.get_text() for t in ax.legend().get_texts()]
    assert labels == [FIGURE_STYLE[m][2] for m in ("exact", "stale", "date_window", "lower_bound")]
    shapes = {c.get_label(): (c.lines[0].get_marker(), c.lines[0].get_markerfacecolor())
              for c in ax.containers if not c.get_label().startswith("_")}
    assert shapes[FIGURE_STYLE["lower_bound"][2]][0] == "^"
    assert shapes[FIGURE_STYLE["stale"][2]][1] == "white"
    assert shapes[FIGURE_STYLE["exact"][2]][0] == "o"
    plt.close(fig)


def test_what_was_counted_lowers_only_the_later_transformed_figures() -> None:
    base = {f.row: f for f in obs.evidence()}
    wide = {f.row: f for f in obs.evidence(counted="with_sme_programmes")}
    assert set(base) == set(wide)
    changed = {r for r in base if base[r] != wide[r]}
    # 44,000 (2025, date window from 2025-03) and >50,000 (2025-12); not 29,000 (2023-09), no cloud figure
    assert changed == {17, 18}
    assert wide[17].lower == base[17].lower - obs.SME_PROGRAMME_FIRMS == 36_500
    assert wide[18].lower == 43_000 and wide[18].upper == base[18].upper
    # a model count of 45,000 at end-2025 misses the lower bound as above-scale firms only, not with SMEs
    dates = ["2025-12-31"]
    assert obs.distance(base[18], dates, np.array([45_000.0])) == pytest.approx(0.1)
    assert obs.distance(wide[18], dates, np.array([45_000.0])) == 0.0
    with pytest.raises(ValueError, match="what was counted"):
        obs.recount(obs.figures(), "everything")
