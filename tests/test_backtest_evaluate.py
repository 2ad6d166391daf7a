"""Backtest scoring, naive forecasts and the paired ex-post evaluation."""

from __future__ import annotations

import numpy as np
import pytest

from sim.analysis import backtest as bt
from sim.analysis import history_match as hm
from sim.analysis.evaluate import evaluate, pilot_city_money_cny
from sim.scenario.loader import load_scenario


def test_published_points_by_origin() -> None:
    # 2020-12 500,000 (approximate), 2021-06 550,000, 2021-12 625,000; then >750,000 at 2023-09
    assert bt.published_points("cloud_cumulative", "2021-12") == [(24251, 500_000.0), (24257, 550_000.0),
                                                                  (24263, 625_000.0)]
    assert bt.published_points("cloud_cumulative", "2023-09")[-1] == (24284, 750_000.0)


def test_naive_forecasts_hand_computed() -> None:
    pts = [(0, 100.0), (6, 121.0)]
    # linear: +21 per 6 months -> 12 months after the last point: 121 + 42
    assert bt.naive_forecast("linear_trend", pts, 18, "transformed") == pytest.approx(163.0)
    # compounding: x1.21 per 6 months -> 121 * 1.21^2
    assert bt.naive_forecast("last_growth", pts, 18, "transformed") == pytest.approx(121 * 1.4641)
    with pytest.raises(ValueError, match="unknown naive method"):
        bt.naive_forecast("oracle", pts, 18, "transformed")


def test_bass_path_and_fit_recover_a_bass_curve() -> None:
    # the closed form solves dN/dt = (p + q N/m)(m - N): check by a finite difference
    p, q, m = 0.03, 0.4, 2_000_000.0
    t = np.array([1.0, 1.0 + 1e-4])
    n = bt.bass_path(500_000.0, p, q, m, t)
    assert (n[1] - n[0]) / 1e-4 == pytest.approx((p + q * n[0] / m) * (m - n[0]), rel=1e-3)
    assert bt.bass_path(500_000.0, p, q, m, np.array([0.0]))[0] == pytest.approx(500_000.0)
    # points on a Bass curve near the prior are recovered (the fit forecasts them 3 years on)
    years = np.array([0.0, 0.5, 1.0, 1.5])
    vals = bt.bass_path(500_000.0, 0.03, 0.38, 1_500_000.0, years)
    pts = [(int(12 * y), float(v)) for y, v in zip(years, vals, strict=True)]
    truth = bt.bass_path(500_000.0, 0.03, 0.38, 1_500_000.0, np.array([4.5]))[0]
    assert bt.bass_fit(pts, "cloud_cumulative")(54) == pytest.approx(truth, rel=0.03)


def test_crps_of_draws_against_a_point_an_interval_and_a_lower_bound() -> None:
    # two equally likely draws 0 and 2 against the point 1: E|X-1| = 1, E|X-X'| = 1 -> 0.5
    w = np.array([0.5, 0.5])
    assert bt.crps_set(np.array([0.0, 2.0]), w, 1.0, 1.0) == pytest.approx(0.5)
    # against the point 4: E|X-4| = 3 -> 2.5; the interval [3, 5] is scored at its nearest point 3
    assert bt.crps_set(np.array([0.0, 2.0]), w, 4.0, 4.0) == pytest.approx(2.5)
    assert bt.crps_set(np.array([0.0, 2.0]), w, 3.0, 5.0) == pytest.approx(1.5)
    # a lower bound the median lies above costs only the spread term: E|X-y| at y = median 1
    assert bt.crps_set(np.array([0.0, 2.0]), w, -1.0, np.inf) == pytest.approx(0.5)
    # one point forecast: its distance from the set
    assert bt.crps_set(np.array([7.0]), np.ones(1), 3.0, 5.0) == pytest.approx(2.0)
    # matches the closed form of a uniform sample against a point (many draws)
    x = np.linspace(0, 1, 2001)
    assert bt.crps_set(x, np.ones_like(x), 0.5, 0.5) == pytest.approx(0.25 - 1 / 6, abs=1e-3)


@pytest.fixture(scope="module")
def match() -> hm.MatchResult:
    return hm.history_match(load_scenario("baseline"), params=hm.DEFAULT_PARAMETERS[:3], published_by="2021-12",
                            start="2020-12", overrides=hm.IN_FORCE_SINCE_2018, total_firms=5_000,
                            particles=8, generations=2, max_simulations=24, seed=2)


def test_scores_of_every_later_figure(match: hm.MatchResult) -> None:
    s = bt.score_origin("2021-12", match)
    # the later evidence: 2023-09 (cloud >750,000; transformed 29,000), 2025-06 window, 2025-12 >50,000
    assert sorted(set(s["row"])) == [14, 15, 17, 18]
    assert set(s["method"]) == {"model", *bt.NAIVE_METHODS}
    naive = s[s["method"] != "model"]
    assert (naive["p05"] == naive["p95"]).all()  # points: degenerate intervals
    # a degenerate interval scores 2/alpha times its miss
    r = naive[(naive["row"] == 15) & (naive["method"] == "linear_trend")].iloc[0]
    miss = max(r["median"] - 29_500, 28_500 - r["median"], 0)
    assert r["is90"] == pytest.approx(20 * miss)
    assert r["crps"] == pytest.approx(miss)  # a point forecast's CRPS is its miss
    summ = bt.summary(s)
    assert summ["targets"].tolist() == [4, 4, 4, 4]


def test_evaluation_is_paired_with_the_history_runs(match: hm.MatchResult) -> None:
    ev = evaluate(match, instruments=("vouchers", "chain_leaders"))
    # the history reruns reproduce the posterior's own runs (same parameters, same replicate)
    kept = match.series("transformed")[:, -1]
    assert np.allclose(ev.history["transformed"], kept, rtol=1e-6)
    t = ev.instruments_table()
    assert t["instrument"].tolist() == ["vouchers", "chain_leaders"]
    # voucher money is only spent with vouchers on; the cost per extra firm is money / extra firms
    assert (ev.without["vouchers"]["voucher_spend_cny"] == 0).all()
    assert (ev.history["voucher_spend_cny"] > 0).all()
    g = ev.goals_table()
    assert g["quantity"].tolist() == ["cloud_cumulative", "transformed"]
    assert 0.0 <= g["p_goal_reached"].min() and g["p_goal_reached"].max() <= 1.0


def test_pilot_city_money_from_the_schedule() -> None:
    # Shenzhen, Guangzhou 1.5亿; Dongguan, Zhongshan, Foshan, Jiangmen 1亿 (policy_instruments.csv)
    assert pilot_city_money_cny(load_scenario("baseline")) == pytest.approx(7.0e8)
    assert pilot_city_money_cny(load_scenario("baseline", {"time.end": "2024-12"})) == pytest.approx(5.0e8)


def test_cli_backtest_writes_table_and_fans(tmp_path) -> None:
    import pandas as pd

    from sim.cli.main import main

    code = main(["backtest", "baseline", "--origins", "2023-09", "--particles", "6", "--generations", "2",
                 "--max-simulations", "12", "--total-firms", "3000", "--out", str(tmp_path)])
    assert code == 0
    (folder,) = (tmp_path / "backtest").iterdir()
    assert {p.name for p in folder.iterdir()} >= {"backtest.csv", "backtest_summary.csv", "fan_2023-09.png",
                                                  "generations_2023-09.csv", "settings.json"}
    table = pd.read_csv(folder / "backtest.csv")
    assert sorted(set(table["row"])) == [17, 18] and set(table["origin"]) == {"2023-09"}
    assert (table["crps"] >= 0).all()


def test_cli_evaluate_goals_only_with_what_was_counted(tmp_path) -> None:
    """--instruments none writes the goals and no instrument table; --counted is recorded and
    moves the later transformed figures' lower ends (predictive.csv)."""
    import json

    import pandas as pd

    from sim.cli.main import main

    code = main(["evaluate", "baseline", "--instruments", "none", "--counted", "with_sme_programmes",
                 "--particles", "4", "--generations", "2", "--max-simulations", "4", "--total-firms", "3000",
                 "--out", str(tmp_path)])
    assert code == 0
    (folder,) = (tmp_path / "evaluate").iterdir()
    names = {p.name for p in folder.iterdir()}
    assert "goals.csv" in names and "instruments.csv" not in names
    assert json.loads((folder / "settings.json").read_text())["counted"] == "with_sme_programmes"
    pred = pd.read_csv(folder / "predictive.csv").set_index("row")
    assert pred.loc[18, "lower"] == 43_000 and pred.loc[15, "lower"] == 28_500


@pytest.mark.parametrize(("argv", "message"), [
    (["backtest", "--origins", "2021-13"], "2021-13 is not a month"),
    (["backtest", "--origins", "2020-06"], "no figure was published between"),
    (["evaluate", "--start", "2025-12"], "no published figure after --start 2025-12"),
    (["history-match", "--particles", "1"], "--particles is too small"),
    (["evaluate", "--instruments", "vouchers,magic"], "--instruments: unknown magic"),
])
def test_cli_bad_input_is_one_line(argv, message, tmp_path, capsys) -> None:
    from sim.cli.main import main

    assert main([*argv, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not any(tmp_path.iterdir())  # nothing written
