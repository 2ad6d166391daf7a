"""Competing explanations of the bend in the record, as scenario options (docs/model.md 7.9).

Meaning-based: a finite candidate pool caps the cloud tally at the pool and bends the curve as it
empties; a transformation pool of 0 stops every new transformation; pools of 1 change nothing;
runs go on to 2030 with above-scale entry growing at the stated rate after the data.
"""

from __future__ import annotations

import numpy as np
import pytest

from sim.core.model import CloudAdoptionModel, simulate
from sim.core.population import above_scale_path
from sim.scenario.schema import Scenario
from sim.scenario.schema_types import month_number

N_FIRMS = 20_000


def _config(end: str = "2025-12", **diffusion) -> Scenario:
    return Scenario.model_validate({"population": {"total_firms": N_FIRMS}, "time": {"end": end},
                                    "diffusion": diffusion})


def test_pools_of_one_change_nothing() -> None:
    a = simulate(_config(), replicate=1).cells
    b = simulate(_config(cloud_candidate_share=1.0, transform_candidate_share=1.0), replicate=1).cells
    assert np.array_equal(a, b)


def test_only_candidates_join_the_cloud_tally() -> None:
    share = 0.3
    strong = {"market_rate_per_year": 2.0, "chain_weight_per_year": 0.0, "park_weight_per_year": 0.0,
              "cluster_city_weight_per_year": 0.0}
    model = CloudAdoptionModel(_config("2030-12", cloud_candidate_share=share, cloud=strong))
    # The candidates, redrawn from the run's own stream as the model draws them.
    u_cloud = np.random.default_rng(model.streams["candidates"]).random(model.pop.n_firms, dtype=np.float32)
    sme_left = ~model.is_above & (model.cloud_state == 0)
    model.run()
    adopted = sme_left & (model.cloud_month != np.iinfo(np.int16).max)
    candidates = sme_left & (u_cloud < share)
    assert not (adopted & ~candidates).any()  # nobody outside the pool joins
    present_candidates = candidates & (model.pop.entry_month <= model.n_months - 60)
    assert (adopted & present_candidates).sum() > 0.8 * present_candidates.sum()
    assert candidates.sum() / sme_left.sum() == pytest.approx(share, abs=0.01)
    # Above-scale firms are not limited by the cloud pool.
    above_left = model.is_above & (model.cloud_state == 0) & model.present
    assert above_left.sum() < 0.05 * model.is_above.sum()


def test_cloud_pool_bends_the_curve_at_the_same_early_pace() -> None:
    def gains(config: Scenario) -> tuple[float, float]:
        out = simulate(config, replicate=0)
        cloud = out.total("cloud_cumulative")
        at = {d[:7]: cloud[i] for i, d in enumerate(out.dates)}
        return at["2022-06"] - at["2021-06"], at["2025-12"] - at["2024-12"]

    share = 0.25
    early_full, late_full = gains(_config())
    # A quarter of the firms are candidates, each four times as likely to adopt: the same pace at
    # first, then the pool empties and the curve bends.
    base = Scenario().diffusion.cloud
    pool = {k: (v / share if k.endswith("_per_year") else v) for k, v in base.model_dump().items()}
    early_pool, late_pool = gains(_config(cloud_candidate_share=share, cloud=pool))
    assert early_pool == pytest.approx(early_full, rel=0.35)
    assert late_pool / early_pool < 0.6 * (late_full / early_full)


def test_transformation_pool_of_zero_stops_new_transformations() -> None:
    out = simulate(_config(transform_candidate_share=0.0), replicate=0)
    transformed = out.total("transformed")
    assert transformed[0] == pytest.approx(17_000 * N_FIRMS / 2_000_000, rel=0.01)
    assert np.all(transformed == transformed[0])
    assert out.total("cloud_cumulative")[-1] > out.total("cloud_cumulative")[0]


def test_runs_to_2030_with_above_scale_entry_growing_after_the_data() -> None:
    config = _config("2030-12")
    spec = config.population
    start = month_number(config.time.start)
    path = above_scale_path(spec, start, month_number("2030-12") - start)
    last = month_number("2025-12") - start
    growth = spec.above_scale_growth_after_data_per_year
    assert path[-1] / path[last] == pytest.approx((1 + growth) ** 5, rel=1e-9)
    out = simulate(config, replicate=0)
    assert out.dates[-1] == "2030-12-31"
    assert np.all(np.diff(out.total("n_firms")) >= 0)


def test_intensity_schedule_is_programme_intensity_over_time() -> None:
    quiet = {"chain_weight_per_year": 0.0, "park_weight_per_year": 0.0, "cluster_city_weight_per_year": 0.0}
    off = {name: {"enabled": False} for name in ("vouchers", "platforms", "pilots", "chain_leaders",
                                                 "service_capacity", "sme_pilot_cities")}

    def run(scale) -> object:
        cloud = {**Scenario().diffusion.cloud.model_dump(), **quiet, "intensity": scale}
        config = Scenario.model_validate({"population": {"total_firms": N_FIRMS}, "time": {"end": "2024-12"},
                                          "diffusion": {"cloud": cloud}, "policies": off})
        return simulate(config, replicate=0)

    plain, constant, stopped = run(1.0), run({"2021": 1.0}), run({"2021": 1.0, "2023": 0.0})
    assert np.array_equal(plain.cells, constant.cells)
    new = stopped.total("new_cloud")
    first_2023 = [d[:7] for d in stopped.dates].index("2023-01")
    assert new[1:first_2023].sum() > 0
    assert not new[first_2023:].any()  # market pull only, and it stops in January 2023
    # Identical until the schedule changes (common random numbers).
    assert np.array_equal(plain.cells[:first_2023], stopped.cells[:first_2023])
