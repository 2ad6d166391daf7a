"""The transformation programme quota (sim/core/programme.py) against counts derived by hand."""

from __future__ import annotations

import numpy as np

from sim.core.model import CloudAdoptionModel
from sim.core.programme import readiest


def _cfg(make_degenerate, n: int, programme: dict, *, cloud_rate: float = 0.0, trans_rate: float = 0.0,
         cloud_share: float = 0.0, years: int = 2):
    return make_degenerate(cloud_rate, 0.0, total_firms=n, substeps=1, years=years, extra={
        "population": {"total_firms": n, "industrial_firms": n, "above_scale_firms": n, "lead_firms": 0},
        "initial": {"above_scale_cloud_share": cloud_share, "cloud_firms": int(n * cloud_share)},
        "diffusion": {"transform": {"market_rate_per_year": trans_rate}},
        "policies": {"transformation_programme": {"enabled": True, "start": "2021-07", **programme}}})


def test_additive_quota_transforms_the_target_pro_rata_and_brings_firms_onto_the_cloud(make_degenerate) -> None:
    """24,000 a year at full scale is 240 a year at 20,000 firms (scale 1/100): exactly 20 a
    month; nobody else transforms or adopts, so the programme's firms are the cloud count too."""
    out = CloudAdoptionModel(_cfg(make_degenerate, 20_000, {"firms_per_year": 24_000, "mode": "additive"})).run()
    trans = out.total("transformed")
    assert list(trans[:13]) == [20 * m for m in range(13)]
    assert np.array_equal(out.total("cloud_cumulative"), trans)


def test_on_cloud_pool_counts_only_firms_already_on_the_cloud(make_degenerate) -> None:
    """pool on_cloud with nobody on the cloud and no cloud adoption: nothing to count."""
    out = CloudAdoptionModel(_cfg(make_degenerate, 20_000, {"firms_per_year": 24_000, "mode": "additive",
                                                            "pool": "on_cloud"})).run()
    assert out.total("transformed")[-1] == 0


def test_top_up_meets_the_yearly_target_and_adds_nothing_when_it_is_met(make_degenerate) -> None:
    """top_up: every month the year's transformations reach floor(target to date); a target
    below the organic flow adds nothing (the run equals the run without the programme)."""
    n, b = 20_000, 0.3
    low = _cfg(make_degenerate, n, {"firms_per_year": 24_000, "mode": "top_up"}, cloud_share=1.0, trans_rate=b)
    base = _cfg(make_degenerate, n, {"enabled": False}, cloud_share=1.0, trans_rate=b)
    out, ref = CloudAdoptionModel(low).run(), CloudAdoptionModel(base).run()
    # organic flow ~ 0.3/yr x 20,000 = 6,000 a year >> 240: the quota never binds.
    assert np.array_equal(out.total("transformed"), ref.total("transformed"))
    high = _cfg(make_degenerate, n, {"firms_per_year": 1_200_000, "mode": "top_up"}, cloud_share=1.0, trans_rate=b)
    trans = CloudAdoptionModel(high).run().total("transformed")
    # 12,000 a year = 1,000 a month at this size; the run starts 2021-06: 2021 is months 1-6 and
    # January 2022 (month 7) starts a new year's count.
    assert all(trans[m] - trans[0] >= 1_000 * m for m in range(1, 7))
    assert all(trans[6 + j] - trans[6] >= 1_000 * j for j in range(1, 7))
    assert trans[12] - trans[11] <= 1_000 + 4 * np.sqrt(0.3 / 12 * n)  # about the target, not more


def test_quota_scales_with_the_population(make_degenerate) -> None:
    """The same full-scale target gives twice the firms in twice the population."""
    small = CloudAdoptionModel(_cfg(make_degenerate, 20_000, {"firms_per_year": 30_000, "mode": "additive"})).run()
    big = CloudAdoptionModel(_cfg(make_degenerate, 40_000, {"firms_per_year": 30_000, "mode": "additive"})).run()
    assert small.total("transformed")[12] == 300
    assert big.total("transformed")[12] == 600


def test_readiest_picks_the_smallest_remaining_distance() -> None:
    firms = np.array([7, 3, 9, 1])
    assert list(readiest(firms, np.array([0.5, 0.1, 0.1, 2.0]), 2)) == [3, 9]
    assert list(readiest(firms, np.array([0.5, 0.1, 0.1, 2.0]), 9)) == [1, 3, 7, 9]
    assert readiest(firms, np.array([0.5, 0.1, 0.1, 2.0]), 0).size == 0
