"""Answers do not depend on the population size.

Every count-like instrument scales with ``total_firms`` (pilot parks by the firms they cover,
chain leaders with at least one per cluster, budgets, capacity, initial counts), and peer shares
are shares among a firm's peers (the firm itself out of the denominator; a firm without peers in
its park or cluster-city reads the enclosing group, sim/core/peers.py), so the scaled provincial
counts of a small run estimate the full-scale ones up to the small bias measured below.

Measured (``docs/scale_bias.csv``, ``scripts/scale_bias.py --measure``; one run's standard
deviation of the scaled 2025-12 counts): transformed 454 at 100,000 firms, 266 at 400,000, 107 at
2,000,000 (full-scale mean 47,900); cloud 3,710 / 1,894 / 800 (mean 1,214,443). Measured bias
against full scale: transformed -0.26% at 100,000 firms, -0.09% at 400,000; cloud -0.00%, +0.02%.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from sim import datasets
from sim.core import peers
from sim.core.model import CloudAdoptionModel
from sim.core.policies import pilot_park_count
from sim.scenario.loader import load_scenario

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

from scale_bias import scaled_outcomes  # noqa: E402

TOLERANCE = 0.01


def assert_agree(small, large) -> None:
    for outcome in ("cloud_cumulative", "transformed"):
        a, b = small.mean(outcome), large.mean(outcome)
        assert abs(a / b - 1) < TOLERANCE, (outcome, a, b)


def test_baseline_100k_agrees_with_400k() -> None:
    """The fast variant: 24 replicates at 100,000 firms against 4 at 400,000 (scaled x20 / x5).
    Noise of the compared means: transformed sqrt(454^2/24 + 266^2/4) = 162 (0.34%), cloud 1,213
    (0.10%); the expected difference is -0.17% (transformed), so 1% is 2.5 s.d. away for the
    transformed count and 10 for the cloud count."""
    assert_agree(scaled_outcomes(100_000, 24), scaled_outcomes(400_000, 4))


@pytest.mark.slow
def test_baseline_100k_agrees_with_full_scale() -> None:
    """24 replicates at 100,000 firms against 2 full-scale runs (same seed family): within 1%.
    Noise of the compared means: transformed sqrt(454^2/24 + 107^2/2) = 120 (0.25%), cloud 945
    (0.08%); the measured bias at 100,000 firms is -0.26% (transformed), so 1% is 3 s.d. away."""
    assert_agree(scaled_outcomes(100_000, 24), scaled_outcomes(2_000_000, 2))


def test_pilot_park_count_has_the_exact_expectation() -> None:
    """Stochastic rounding: the expected count is parks_per_year x scale x 400 / mean park size."""
    rng = np.random.default_rng(0)
    sizes = np.full(50, 250.0)  # smaller parks than the 400 of full scale
    draws = [pilot_park_count(20, 0.05, 400.0, sizes, rng) for _ in range(4000)]
    assert set(draws) == {1, 2}  # 20 x 0.05 x 400 / 250 = 1.6
    assert np.mean(draws) == pytest.approx(1.6, abs=0.03)  # 4 sd of the mean of 4,000 draws
    assert pilot_park_count(20, 1.0, 400.0, np.full(10, 400.0), rng) == 20  # full scale, exact
    assert pilot_park_count(0, 1.0, 400.0, sizes, rng) == 0


@pytest.mark.parametrize("total_firms", [50_000, 400_000])
def test_share_of_firms_in_pilot_parks_does_not_depend_on_size(total_firms) -> None:
    """Five pilot years of 20 parks of ~400 firms among the 2,752,096 firms allocated by 2025-12
    (full scale): each year covers 8,000 / 2,752,096 = 0.29% of the firms, so with independent
    draws about 1 - (1 - 0.0029)^5 = 1.44% of firms ever sit in a pilot park, at any size."""
    sc = load_scenario("baseline", [f"population.total_firms={total_firms}"])
    shares = []
    for r in range(6 if total_firms < 100_000 else 2):
        m = CloudAdoptionModel(sc, replicate=r)
        parks = np.unique(np.concatenate(m.instruments["pilots"].selected_parks))
        shares.append(np.isin(m.pop.park, parks).mean())
    expected = 1 - (1 - 20 * 400 / 2_752_096) ** 5
    # a park holds ~400 firms: at 50,000 firms the 5-10 selected parks make the share coarse
    assert np.mean(shares) == pytest.approx(expected, rel=0.25)


@pytest.mark.parametrize("total_firms", [20_000, 50_000, 100_000])
def test_every_cluster_keeps_a_chain_leader(total_firms) -> None:
    """300 leaders x scale would leave clusters without one below 1:7; each keeps at least one."""
    m = CloudAdoptionModel(load_scenario("baseline", [f"population.total_firms={total_firms}",
                                                      "time.end=2021-07"]))
    leaders = m.pop.cluster[m.pop.size_class == 0]
    assert np.unique(leaders).size == 20
    assert leaders.size == max(20, round(300 * total_firms / 2_000_000))


def test_a_group_without_peers_reads_the_enclosing_group() -> None:
    """peers.with_enclosing / nested_counts: groups whose only member is the deciding firm take the
    (adopters, members) of the smallest enclosing group that has peers; others are unchanged."""
    # two clusters x two cities: cluster-cities 0,1 (cluster 0) and 2,3 (cluster 1)
    cc_adopters = np.array([3.0, 0.0, 0.0, 0.0])
    cc_members = np.array([7.0, 1.0, 1.0, 0.0])  # cluster 1 has a single member: the province
    park_cc = np.array([0, 0, 1, 2])
    park_adopters = np.array([3.0, 0.0, 0.0, 0.0])
    park_members = np.array([6.0, 1.0, 1.0, 1.0])
    pa, pm, ca, cm = peers.nested_counts(park_adopters, park_members, park_cc, cc_adopters, cc_members, 2)
    assert ca.tolist() == [3.0, 3.0, 3.0, 3.0] and cm.tolist() == [7.0, 8.0, 9.0, 9.0]
    # park 1 (cc 0) reads cc 0; park 2 reads cc 1 -> cluster 0 (3 of 8); park 3 -> province (3 of 9)
    assert pa.tolist() == [3.0, 3.0, 3.0, 3.0] and pm.tolist() == [6.0, 7.0, 8.0, 9.0]
    # nothing alone: the same arrays come back
    same = peers.nested_counts(park_adopters[:1], park_members[:1], park_cc[:1], cc_adopters[:1], cc_members[:1], 1)
    assert all(np.array_equal(a, b) for a, b in zip(same, (park_adopters[:1], park_members[:1], cc_adopters[:1], cc_members[:1]), strict=True))


def test_an_above_scale_firm_alone_in_its_cluster_city_feels_its_cluster(make_degenerate) -> None:
    """Pure cluster-city peer term u of the transformation stage in a small population (two
    clusters, 300 above-scale firms over 21 cities, so several firms are alone in their
    cluster-city): after one month every candidate's cumulative hazard is u x T / (A - 1) / 12
    with (T, A) the transformed and above-scale firms of its cluster-city, or of its cluster where
    it has no above-scale peer in its cluster-city (before: 0 for those firms, which made small
    runs low)."""
    ids = datasets.cluster_ids()
    u, n, above, trans0 = 1.2, 3_000, 300, 90
    cfg = make_degenerate(0.0, 0.0, total_firms=n, substeps=1, years=1, groups={ids[0]: 0.5, ids[1]: 0.5}, extra={
        "population": {"above_scale_firms": above, "industrial_firms": 1_000, "lead_firms": 0},
        "initial": {"cloud_firms": above, "transformed_firms": trans0, "above_scale_cloud_share": 1.0},
        "diffusion": {"transform": {"cluster_city_weight_per_year": u}}})
    model = CloudAdoptionModel(cfg)
    pop = model.pop
    ab = np.flatnonzero(pop.size_class <= 1)
    cc = pop.cluster[ab].astype(int) * 21 + pop.city[ab]
    tr = model.trans_month[ab] == 0
    a_cc, t_cc = np.bincount(cc, minlength=420), np.bincount(cc, weights=tr, minlength=420)
    a_cl, t_cl = np.bincount(pop.cluster[ab], minlength=20), np.bincount(pop.cluster[ab], weights=tr, minlength=20)
    model.step()
    cand = ab[~tr]
    ccc = cc[~tr]
    alone = a_cc[ccc] == 1
    assert 3 <= alone.sum() < cand.size  # the case occurs, next to firms with peers
    share = np.where(alone, t_cl[pop.cluster[cand]] / (a_cl[pop.cluster[cand]] - 1), t_cc[ccc] / np.maximum(a_cc[ccc] - 1, 1))
    assert np.allclose(model.state.lam_trans[cand], u * share / 12, rtol=1e-5)
    assert np.all(model.state.lam_trans[cand][alone] > 0)
