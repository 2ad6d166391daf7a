"""Parametric uncertainty: per-replicate draws of uncertain parameters (EMA-style)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import sim
from sim.core.model import CloudAdoptionModel
from sim.core.uncertainty import apply, draw, parameters_frame, sample_for_replicate
from sim.scenario.loader import load_scenario
from sim.scenario.schema import Scenario, Uncertainty

SMALL = ["population.total_firms=20000", "time.end=2022-06", "goals.date=2022-06"]


def with_uncertainties(config: Scenario, items: list[dict]) -> Scenario:
    data = config.model_dump(mode="python")
    data["uncertainties"] = items
    return Scenario.model_validate(data)


def test_distributions_have_the_right_moments() -> None:
    rng = np.random.default_rng(1)
    us = [Uncertainty(path="x", lower=2.0, upper=4.0),
          Uncertainty(path="y", distribution="triangular", lower=0.0, mode=3.0, upper=6.0),
          Uncertainty(path="z", distribution="loguniform", lower=0.01, upper=1.0)]
    draws = pd.DataFrame([draw(us, rng) for _ in range(20_000)])
    assert draws["x"].between(2, 4).all() and draws["x"].mean() == pytest.approx(3.0, abs=0.02)
    assert draws["y"].mean() == pytest.approx(3.0, abs=0.03)  # (a + b + c) / 3
    assert draws["y"].std() == pytest.approx(np.sqrt(27 / 18), rel=0.03)  # sqrt((a²+b²+c²-ab-ac-bc) / 18)
    assert np.log10(draws["z"]).mean() == pytest.approx(-1.0, abs=0.02)  # uniform in log10 on [-2, 0]


def test_bad_uncertainties_are_rejected() -> None:
    base = Scenario()
    with pytest.raises(ValueError, match="unknown scenario key"):
        with_uncertainties(base, [{"path": "diffusion.cloud.nope", "lower": 0, "upper": 1}])
    with pytest.raises(ValueError, match="not a number"):
        with_uncertainties(base, [{"path": "policies.vouchers.enabled", "lower": 0, "upper": 1}])
    with pytest.raises(ValueError, match="must be above"):
        with_uncertainties(base, [{"path": "diffusion.churn_rate_per_year", "lower": 1, "upper": 1}])
    with pytest.raises(ValueError, match="mode"):
        with_uncertainties(base, [{"path": "diffusion.churn_rate_per_year", "distribution": "triangular",
                                   "lower": 0, "upper": 1}])


def test_replicates_draw_their_own_values_and_scenarios_share_them() -> None:
    u = [{"path": "diffusion.cloud.market_rate_per_year", "lower": 0.03, "upper": 0.08},
         {"path": "policies.service_capacity.onboardings_per_month", "lower": 10_000, "upper": 40_000}]
    a = with_uncertainties(load_scenario("baseline", SMALL), u)
    b = with_uncertainties(load_scenario("vouchers_doubled", SMALL), u)
    draws = [sample_for_replicate(a, a.run.seed, r) for r in range(4)]
    assert len({d["diffusion.cloud.market_rate_per_year"] for d in draws}) == 4
    assert all(isinstance(d["policies.service_capacity.onboardings_per_month"], int) for d in draws)
    for r in range(4):  # common random numbers across scenarios
        assert sample_for_replicate(b, b.run.seed, r) == draws[r]
    model = CloudAdoptionModel(a, replicate=2)
    assert model.config.diffusion.cloud.market_rate_per_year == pytest.approx(
        draws[2]["diffusion.cloud.market_rate_per_year"])
    assert model.config.uncertainties == []


def test_uncertain_structure_rebuilds_a_shared_population() -> None:
    base = load_scenario("baseline", SMALL)
    model0 = CloudAdoptionModel(base)
    cfg = with_uncertainties(base, [{"path": "population.readiness_sigma", "lower": 0.2, "upper": 0.4}])
    model = CloudAdoptionModel(cfg, population=model0.pop)
    assert model.pop is not model0.pop
    sigma = model.config.population.readiness_sigma
    assert 0.2 <= sigma <= 0.4


def test_run_writes_the_draws_and_they_change_the_outcome(tmp_path) -> None:
    cfg = with_uncertainties(load_scenario("baseline", SMALL),
                             [{"path": "diffusion.cloud.market_rate_per_year", "lower": 0.01, "upper": 0.2}])
    res = sim.run(cfg, replicates=4, out_dir=tmp_path, figures=False)
    saved = pd.read_csv(res.folder / "parameters.csv")
    assert saved["replicate"].tolist() == [0, 1, 2, 3]
    assert np.allclose(saved.iloc[:, 1], res.parameters().iloc[:, 1])
    prov = res.timeseries[(res.timeseries.cluster == "all") & (res.timeseries.city == "all")
                          & (res.timeseries.size_class == "all")]
    final = prov[prov.date == prov.date.max()].set_index("replicate")["cloud_cumulative"]
    rates = saved.set_index("replicate").iloc[:, 0]
    # a higher market rate gives more adopters: the ranks agree
    assert final.rank().tolist() == rates.loc[final.index].rank().tolist()


def test_apply_keeps_the_rest_of_the_scenario() -> None:
    base = load_scenario("baseline", SMALL)
    cfg = with_uncertainties(base, [{"path": "diffusion.churn_rate_per_year", "lower": 0, "upper": 1}])
    applied = apply(cfg, {"diffusion.churn_rate_per_year": 0.25})
    assert applied.diffusion.churn_rate_per_year == 0.25
    assert applied.model_dump(exclude={"diffusion", "uncertainties"}) == base.model_dump(exclude={"diffusion", "uncertainties"})
    assert parameters_frame(base, [0, 1]).columns.tolist() == ["replicate"]


def test_compare_under_shared_uncertainty() -> None:
    cmp = sim.compare(["baseline", "vouchers_doubled"], replicates=3, overrides=SMALL, save=False,
                      uncertainties_from="baseline_uncertain")
    a, b = (cmp.results[k] for k in ("baseline", "vouchers_doubled"))
    assert len(a.scenario.uncertainties) == len(load_scenario("baseline_uncertain").uncertainties) > 0
    pa, pb = a.parameters(), b.parameters()
    assert pa.equals(pb)  # same draws replicate by replicate
    assert pa.iloc[:, 1].nunique() == 3
    met = cmp.differences.set_index("outcome").loc["transformed_goal_met"]
    if math.isnan(met["ci_low"]):  # the same 0/1 difference in every pair: no interval
        assert met["mean"] in (-1.0, 0.0, 1.0) and "95% CI" not in met["sentence"]
    else:
        assert -1.0 <= met["ci_low"] <= met["ci_high"] <= 1.0


def test_cli_compare_with_uncertainties(tmp_path, capsys) -> None:
    from sim.cli.main import main

    code = main(["compare", "baseline", "no_policy_at_all", "--uncertainties-from", "baseline_uncertain",
                 "-n", "2", "--executor", "serial", "--no-figures", "--out", str(tmp_path),
                 *[a for kv in SMALL for a in ("--set", kv)]])
    assert code == 0
    folders = sorted((tmp_path / "baseline").iterdir())
    assert (folders[0] / "parameters.csv").exists()
    assert "paired differences vs baseline" in capsys.readouterr().out
