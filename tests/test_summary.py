"""Bands, goal outcomes, the summary table and paired comparisons."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sim.analysis.outcomes import (
    GOAL_OUTCOME_COLUMNS,
    goal_outcomes,
    goals_met,
    scaled_goal,
    scaled_goals,
)
from sim.analysis.summary import (
    BAND_STATS,
    PAIRED_COLUMNS,
    SUMMARY_COLUMNS,
    Z95,
    bands,
    group_gaps,
    paired_differences,
    summarize,
    unpaired_spread,
)
from sim.core.model import CloudAdoptionModel
from sim.core.outputs import ALL, TIMESERIES_COLUMNS, concat_replicates, select, tidy_timeseries
from sim.scenario import Scenario
from sim.scenario.schema import Goals

DATES = ["2025-10-31", "2025-11-30", "2025-12-31", "2026-01-31"]
GOALS = Goals(date="2025-12", cloud_firms=1_000, transformed_firms=50)


def synthetic(cloud: dict[int, list[float]], transformed: dict[int, list[float]] | None = None,
              *, n_firms: float = 2_000.0, spend: float = 10.0,
              clusters: dict[str, tuple[float, float]] | None = None) -> pd.DataFrame:
    """A tidy frame by hand: provincial rows per replicate, optional two-cluster/two-city split.

    ``clusters`` maps a group name to (share of firms, share of cloud firms); the same split is
    used for the clusters ``c1``/``c2`` and the cities ``A``/``B``.
    """
    rows = []
    for r, series in cloud.items():
        tr = (transformed or {}).get(r, [0.0] * len(series))
        for d, c, t in zip(DATES, series, tr, strict=True):
            base = {"replicate": r, "date": d, "n_firms": n_firms, "cloud_cumulative": c,
                    "cloud_active": c, "transformed": t, "new_cloud": 0, "new_transformed": 0,
                    "voucher_spend_cny": spend, "waiting": 0}
            rows.append({**base, "cluster": ALL, "city": ALL, "size_class": ALL})
            for dim, names in (("cluster", ("c1", "c2")), ("city", ("A", "B"))):
                for name, (fs, cs) in zip(names, (clusters or {"x": (0.5, 0.5), "y": (0.5, 0.5)}).values(), strict=True):
                    row = {**base, "cluster": ALL, "city": ALL, "size_class": ALL,
                           "n_firms": n_firms * fs, "cloud_cumulative": c * cs}
                    row[dim] = name
                    rows.append(row)
    df = pd.DataFrame(rows)[TIMESERIES_COLUMNS]
    for col in ("replicate", "n_firms", "cloud_cumulative", "cloud_active", "transformed",
                "new_cloud", "new_transformed", "waiting"):
        df[col] = np.rint(df[col]).astype(np.int64)
    return df


@pytest.fixture(scope="module")
def real() -> tuple[Scenario, pd.DataFrame]:
    cfg = Scenario.model_validate({"name": "demo", "population": {"total_firms": 20_000}})
    ts = concat_replicates(tidy_timeseries(CloudAdoptionModel(cfg, replicate=r).run()) for r in range(2))
    return cfg, ts


# --------------------------------------------------------------------------- bands


def test_bands_of_identical_replicates_have_zero_width(real) -> None:
    _, ts = real
    one = ts[ts["replicate"] == 0]
    same = concat_replicates([one.assign(replicate=r) for r in range(4)])
    b = bands(same)
    assert list(b.columns) == ["date", "cluster", "city", "size_class", "metric"] + BAND_STATS
    assert len(b) == len(one) * 8
    assert (b["n_replicates"] == 4).all()
    for col in ("p10", "p90", "mean", "mean_ci_low", "mean_ci_high"):
        np.testing.assert_allclose(b[col], b["median"], rtol=0, atol=1e-6)
    # medians are the replicate's values, in the table's group order
    prov = b[(b["cluster"] == ALL) & (b["city"] == ALL) & (b["size_class"] == ALL)
             & (b["metric"] == "cloud_cumulative")]
    np.testing.assert_array_equal(prov["median"], select(one, "province")["cloud_cumulative"])


def test_bands_statistics_by_hand() -> None:
    vals = np.arange(1.0, 11.0)
    ts = synthetic({r: [v] * 4 for r, v in enumerate(vals)})
    b = bands(ts, metrics=["cloud_cumulative"], by=["date", "cluster", "city", "size_class"])
    row = b[(b["date"] == DATES[0]) & (b["cluster"] == ALL) & (b["city"] == ALL)].iloc[0]
    assert row["median"] == 5.5
    assert row["p10"] == pytest.approx(1.9)
    assert row["p90"] == pytest.approx(9.1)
    half = Z95 * np.std(vals, ddof=1) / math.sqrt(10)
    assert row["mean_ci_low"] == pytest.approx(5.5 - half)
    assert row["mean_ci_high"] == pytest.approx(5.5 + half)
    assert row["n_replicates"] == 10


def test_bands_one_replicate_has_nan_ci() -> None:
    b = bands(synthetic({0: [1, 2, 3, 4]}), metrics=["cloud_cumulative"])
    assert b["mean_ci_low"].isna().all() and b["mean_ci_high"].isna().all()
    assert (b["p10"] == b["median"]).all() and (b["n_replicates"] == 1).all()
    with pytest.raises(ValueError, match="not in the time series"):
        bands(synthetic({0: [1, 2, 3, 4]}), metrics=["nope"])


# --------------------------------------------------------------------------- goal outcomes


def test_goal_outcomes_by_hand() -> None:
    ts = synthetic(
        {0: [900, 1_000, 1_050, 1_100],   # met in November
         1: [800, 900, 990, 995],         # 10 short, never met
         2: [700, 800, 900, 1_001]},      # met only after the goal month
        {0: [40, 45, 49, 60], 1: [50, 50, 50, 50], 2: [0, 0, 0, 0]},
        spend=7.5,
    )
    go = goal_outcomes(ts, GOALS)
    assert list(go.columns) == GOAL_OUTCOME_COLUMNS
    assert go["replicate"].tolist() == [0, 1, 2]
    assert (go["goal_date"] == "2025-12-31").all()
    assert go["cloud_firms"].tolist() == [1_050, 990, 900]
    assert go["cloud_gap"].tolist() == [-50, 10, 100]
    assert go["cloud_goal_met"].tolist() == [True, False, False]
    assert go["cloud_goal_first_met"].tolist() == ["2025-11-30", None, "2026-01-31"]
    assert go["transformed_firms"].tolist() == [49, 50, 0]
    assert go["transformed_gap"].tolist() == [1, 0, 50]
    assert go["transformed_goal_met"].tolist() == [False, True, False]
    assert go["transformed_goal_first_met"].tolist() == ["2026-01-31", "2025-10-31", None]
    # spend summed over the three months up to and including the goal month
    assert go["voucher_spend_total_cny"].tolist() == [22.5, 22.5, 22.5]


def test_goal_month_outside_series_is_an_error() -> None:
    ts = synthetic({0: [1, 2, 3, 4]})
    with pytest.raises(ValueError, match="does not reach the goal month 2027-12"):
        goal_outcomes(ts, Goals(date="2027-12"))


def test_group_gaps_by_hand() -> None:
    # group x: 60% of firms, 40% of cloud firms; at 2025-12 cloud = 1,000
    ts = synthetic({0: [1, 2, 1_000, 4]}, clusters={"x": (0.6, 0.4), "y": (0.4, 0.6)})
    gg = group_gaps(ts, GOALS, "city")
    assert gg["group"].tolist() == ["A", "B"]
    np.testing.assert_allclose(gg["share"], [0.6, 0.4])
    np.testing.assert_allclose(gg["proportional_goal"], [600, 400])
    np.testing.assert_allclose(gg["gap"], [600 - 400, 400 - 600])
    assert group_gaps(ts, GOALS, "cluster")["group"].tolist() == ["c1", "c2"]


def test_scaled_goals() -> None:
    small = Scenario.model_validate({"population": {"total_firms": 50_000}})
    assert scaled_goals(small) == Goals(date="2025-12", cloud_firms=25_000, transformed_firms=1_250)
    assert scaled_goals(Scenario()) == Scenario().goals


def test_one_goal_rule_when_the_scaled_goal_is_not_whole() -> None:
    """30,001 firms: the goals scale to 15,000.5 and 750.025 firms. A replicate meets a goal when
    its count reaches them, i.e. 15,001 and 751 firms (before, the run summary rounded them to
    15,000 and 750, so 750 transformed firms counted as met there and as missed in what-it-takes)."""
    cfg = Scenario.model_validate({"population": {"total_firms": 30_001}})
    goals = scaled_goals(cfg)
    assert (goals.cloud_firms, goals.transformed_firms) == (15_001, 751)
    ts = synthetic({0: [0, 0, 15_000, 0], 1: [0, 0, 15_001, 0]},
                   {0: [0, 0, 750, 0], 1: [0, 0, 751, 0]})
    go = goal_outcomes(ts, goals)
    assert go["cloud_goal_met"].tolist() == [False, True]
    assert go["transformed_goal_met"].tolist() == [False, True]
    assert go["transformed_gap"].tolist() == [1, 0]
    # The question tools use the same rule on the same counts.
    cloud, trans = np.array([15_000.0, 15_001.0]), np.array([750.0, 751.0])
    assert goals_met(cfg, cloud, trans, "cloud").tolist() == [False, True]
    assert goals_met(cfg, cloud, trans, "both").tolist() == [False, True]
    # Exactly the scaled-up comparison count / s >= goal, in exact arithmetic.
    from fractions import Fraction

    for n in (1_999, 30_001, 123_457, 2_000_000):
        for goal in (1_000_000, 50_000, 7):
            g = scaled_goal(goal, n)
            assert Fraction(g * 2_000_000, n) >= goal > Fraction((g - 1) * 2_000_000, n)


# --------------------------------------------------------------------------- summary table


def _ten_replicates(n_met: int, n: int = 10) -> pd.DataFrame:
    # replicate r meets the cloud goal in November (r < n_met) or never
    cloud = {r: [900, 1_000, 1_010, 1_020] if r < n_met else [900, 950, 990, 995] for r in range(n)}
    return synthetic(cloud, {r: [10, 20, 30, 40] for r in range(n)},
                     clusters={"x": (0.6, 0.4), "y": (0.4, 0.6)})


def _cfg() -> Scenario:
    return Scenario.model_validate({"name": "hand", "goals": {"cloud_firms": 1_000, "transformed_firms": 50}})


def test_summarize_probability_and_mc_se() -> None:
    table = summarize(_ten_replicates(7), _cfg())
    assert list(table.columns) == SUMMARY_COLUMNS
    s = table.set_index("outcome")
    p = s.loc["p_meet_cloud_goal"]
    assert p["mean"] == pytest.approx(0.7)
    assert p["mc_se"] == pytest.approx(math.sqrt(0.7 * 0.3 / 10), abs=5e-5)  # 4 decimals
    assert math.isnan(p["median"])
    assert "precision is limited" in p["note"]
    assert s.loc["p_meet_transformed_goal", "mean"] == 0.0
    assert s.loc["p_meet_transformed_goal", "mc_se"] == 0.0
    assert "no replicate met" in s.loc["p_meet_transformed_goal", "note"]
    assert (s["n_replicates"] == 10).all() and (s["scenario"] == "hand").all()
    # 7 of 10 met in 2025-11: the median replicate met
    assert s.loc["month_cloud_goal_met", "median_month"] == "2025-11-30"
    assert s.loc["month_cloud_goal_met", "p10_month"] == "2025-11-30"
    assert s.loc["month_cloud_goal_met", "p90_month"] == ""  # not reached by 2025-12
    assert s.loc["month_transformed_goal_met", "median_month"] == ""
    assert math.isnan(s.loc["month_cloud_goal_met", "median"])  # numbers only in median
    for col in ("median", "p10", "p90", "mean", "mc_se"):  # read back as numbers, not text
        assert pd.api.types.is_float_dtype(table[col])
    # firms and gaps
    assert s.loc["cloud_firms_2025", "median"] == 1_010
    assert s.loc["cloud_firms_2025", "mean"] == pytest.approx(0.7 * 1_010 + 0.3 * 990, abs=0.05)
    assert s.loc["cloud_gap", "p90"] == pytest.approx(10)
    assert s.loc["transformed_gap", "median"] == 20
    assert s.loc["voucher_spend_total_cny", "median"] == 30.0
    # group gaps: x has 60% of firms and 40% of cloud firms -> short; y ahead
    assert s.loc["city_gap:A", "median"] == pytest.approx(1_000 * 0.6 - 1_010 * 0.4)
    assert s.index.get_loc("city_gap:A") < s.index.get_loc("city_gap:B")
    assert "cluster_gap:c1" in s.index


def test_summarize_enough_replicates_and_half_met() -> None:
    s = summarize(_ten_replicates(20, n=40), _cfg()).set_index("outcome")
    p = s.loc["p_meet_cloud_goal"]
    assert p["mean"] == 0.5
    assert p["mc_se"] == pytest.approx(math.sqrt(0.25 / 40), abs=5e-5)
    assert "precision is limited" not in p["note"]
    # exactly half met: the median replicate did not (later of the two middle replicates)
    assert s.loc["month_cloud_goal_met", "median_month"] == ""


def test_summarize_real_run(real) -> None:
    cfg, ts = real
    s = summarize(ts, cfg).set_index("outcome")
    goals = scaled_goals(cfg)
    last = select(ts, "province").query("date == '2025-12-31'")
    assert s.loc["cloud_firms_2025", "median"] == pytest.approx(last["cloud_cumulative"].median())
    assert s.loc["cloud_gap", "median"] == pytest.approx(goals.cloud_firms - last["cloud_cumulative"].median())
    assert "scaled x0.01" in s.loc["cloud_firms_2025", "note"]
    assert sum(o.startswith("cluster_gap:") for o in s.index) == 5
    assert sum(o.startswith("city_gap:") for o in s.index) == 5
    gaps = s.loc[[o for o in s.index if o.startswith("city_gap:")], "median"].to_numpy(dtype=float)
    assert (np.diff(gaps) <= 0).all()


# --------------------------------------------------------------------------- comparisons


def _crn_pair(n: int = 40, effect: float = 50.0) -> dict[str, pd.DataFrame]:
    """Two scenarios whose replicate r shares a large common noise term."""
    rng = np.random.default_rng(1)
    common = rng.normal(0, 40, n)
    own = rng.normal(0, 2, n)
    base = {r: [800, 900, 950 + common[r], 1_000] for r in range(n)}
    alt = {r: [800, 900, 950 + effect + common[r] + own[r], 1_000] for r in range(n)}
    return {"baseline": synthetic(base), "more": synthetic(alt, spend=20.0)}


def test_paired_differences_recover_effect() -> None:
    pair = _crn_pair()
    pdf = paired_differences(pair, "baseline", goals=GOALS)
    assert list(pdf.columns) == PAIRED_COLUMNS
    assert (pdf["scenario"] == "more").all() and (pdf["n_pairs"] == 40).all()
    row = pdf.set_index("outcome").loc["cloud_firms"]
    assert abs(row["mean"] - 50) < 2 and row["ci_low"] < row["mean"] < row["ci_high"]
    assert 45 < row["median"] < 55 and row["p10"] < row["median"] < row["p90"]
    assert row["sentence"].startswith("more adds ") and row["sentence"].endswith("vs baseline")
    spend = pdf.set_index("outcome").loc["voucher_spend_total_cny"]
    assert spend["median"] == 30.0  # (20 - 10) CNY x 3 months
    assert "spends 30 CNY more" in spend["sentence"]
    met = pdf.set_index("outcome").loc["cloud_goal_met"]
    go_b, go_m = goal_outcomes(pair["baseline"], GOALS), goal_outcomes(pair["more"], GOALS)
    assert met["mean"] == pytest.approx(go_m["cloud_goal_met"].mean() - go_b["cloud_goal_met"].mean())


def test_paired_spread_much_smaller_than_unpaired() -> None:
    spread = unpaired_spread(_crn_pair(), "baseline", goals=GOALS).iloc[0]
    assert spread["paired_sd"] < 3.5
    assert spread["unpaired_sd"] > 45
    assert spread["ratio"] < 0.1


def test_paired_differences_errors() -> None:
    pair = _crn_pair(4)
    with pytest.raises(ValueError, match="reference 'nope'"):
        paired_differences(pair, "nope")
    shifted = {"baseline": pair["baseline"], "other": pair["more"].assign(replicate=lambda d: d["replicate"] + 10)}
    with pytest.raises(ValueError, match="share no replicate"):
        paired_differences(shifted, "baseline", goals=GOALS)
