"""The synthetic population: class counts, geography, parks, supply links, readiness, entry.

The derivation checked here is the one in the ``sim/core/population.py`` docstring and
``docs/model.md`` (Initialization): 2,000,000 firms at 2021-06-30, industrial share 0.334
(census interpolation), above-scale firms linear between 58,504 (end-2020) and 66,329
(end-2021), 300 chain leaders, the rest service and trade SMEs.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from sim import datasets
from sim.core.population import (
    ABOVE,
    IND_SME,
    LEAD,
    NEVER,
    SERVICE,
    build_population,
    class_counts,
)
from sim.scenario.schema import Scenario

N_MID = 100_000


def scenario(**population) -> Scenario:
    return Scenario.model_validate({"name": "pop", "population": population})


@pytest.fixture(scope="module")
def mid_pop():
    """A default-parameter population of 100,000 firms (with exits) and its scenario."""
    cfg = scenario(total_firms=N_MID, exit_rate_per_year=0.05)
    return cfg, build_population(cfg, np.random.SeedSequence(7))


def expected_initial(total: int) -> np.ndarray:
    """Initial firms per class (lead, above-scale, industrial SME, service) from first principles."""
    scale = total / 2_000_000
    industrial = round(0.334 * 2_000_000 * scale)
    above = (58_504 + (66_329 - 58_504) * 6 / 12) * scale  # mid-2021, linear between year ends
    # 300 x scale, but at least one per cluster (20 clusters) so the pull reaches every cluster
    leads = max(round(300 * scale), 20)
    return np.array([leads, above - leads, industrial - above, total - industrial])


# --------------------------------------------------------------------------- class counts


@pytest.mark.parametrize("total", [2_000_000, N_MID, 20_000])
def test_class_counts_follow_the_derivation(total):
    initial, entrants = class_counts(scenario(total_firms=total))
    assert initial.sum() == total
    assert np.allclose(initial, expected_initial(total), atol=1.0)
    if total == 2_000_000:
        assert initial.tolist() == [300, 62_116, 605_584, 1_332_000]
    # entry to 2025-12 (54 months): above-scale firms to the 74,611 assumed for end-2025, census
    # growth for the below-scale classes
    scale = total / 2_000_000
    assert entrants[0].sum() == 0
    assert entrants[:, LEAD].sum() == 0
    assert entrants[:, ABOVE].sum() == pytest.approx((74_611 - 62_416.5) * scale, abs=1.5)
    assert entrants[:, IND_SME].sum() == pytest.approx(initial[IND_SME] * (1.055 ** 4.5 - 1), abs=1.0)
    assert entrants[:, SERVICE].sum() == pytest.approx(initial[SERVICE] * (1.083 ** 4.5 - 1), abs=1.0)


def test_built_population_has_the_class_counts(mid_pop):
    cfg, pop = mid_pop
    initial, entrants = class_counts(cfg)
    n0 = pop.n_initial
    assert n0 == initial.sum() == N_MID
    assert np.array_equal(np.bincount(pop.size_class[:n0], minlength=4), initial)
    assert np.array_equal(np.bincount(pop.size_class[n0:], minlength=4), entrants.sum(axis=0))
    # entrants are ordered by entry month: the firms present in month k are a prefix
    assert np.all(np.diff(pop.entry_month) >= 0)
    assert np.array_equal(pop.n_present, np.searchsorted(pop.entry_month, np.arange(pop.n_present.size), side="right"))
    assert np.array_equal(np.diff(pop.n_present), entrants.sum(axis=1)[1:])


def test_full_scale_population(full_model):
    """The default population: class counts and every cluster with its chain leaders."""
    pop = full_model.pop
    n0 = pop.n_initial
    assert n0 == 2_000_000
    assert np.bincount(pop.size_class[:n0], minlength=4).tolist() == [300, 62_116, 605_584, 1_332_000]
    leads = pop.cluster[pop.size_class == LEAD]
    per_cluster = np.bincount(leads, minlength=len(datasets.cluster_ids()))
    assert np.all(per_cluster >= 1)
    shares = np.array([c.firm_share for c in datasets.clusters()])
    assert np.all(np.abs(per_cluster - 300 * shares / shares.sum()) < 1.0)  # largest remainder


# --------------------------------------------------------------------------- geography and parks


def test_city_distribution_follows_above_scale_firms(mid_pop):
    """Firms outside the electronics cluster spread like above-scale firms (2021); electronics
    firms in Shenzhen, Dongguan, Huizhou and Guangzhou like the cluster's value added there
    (clusters.csv), those four cities keeping their combined share."""
    _, pop = mid_pop
    w = np.array(list(datasets.above_scale_by_city(2021).values()))
    w = w / w.sum()
    electronics = pop.cluster == datasets.cluster_ids().index("electronics")
    n = int((~electronics).sum())
    share = np.bincount(pop.city[~electronics], minlength=w.size) / n
    assert np.all(np.abs(share - w) <= 4 * np.sqrt(w * (1 - w) / n))
    names = datasets.city_names()
    four = [names.index(c) for c in ("Shenzhen", "Dongguan", "Huizhou", "Guangzhou")]
    va = np.array([3706, 1017, 457, 305]) / (3706 + 1017 + 457 + 305)
    w_el = w.copy()
    w_el[four] = w[four].sum() * va
    n_el = int(electronics.sum())
    share_el = np.bincount(pop.city[electronics], minlength=w.size) / n_el
    assert np.all(np.abs(share_el - w_el) <= 4 * np.sqrt(w_el * (1 - w_el) / n_el) + 1e-9)
    assert share_el[four[0]] > 0.3  # Shenzhen: 68% of the four cities' 49%
    # the eleven cities not in the yearbook table share their region's remainder equally
    by_city = datasets.above_scale_by_city(2021)
    assert by_city["Shenzhen"] == 13_027
    assert by_city["Chaozhou"] == by_city["Jieyang"] == by_city["Shanwei"] == pytest.approx((4_849 - 2_061) / 3)
    assert sum(by_city.values()) == pytest.approx(56_435 + 4_849 + 1_901 + 3_144)


def test_cluster_distribution_follows_assumed_shares(mid_pop):
    _, pop = mid_pop
    w = np.array([c.firm_share for c in datasets.clusters()])
    w = w / w.sum()
    not_lead = pop.size_class != LEAD
    n = int(not_lead.sum())
    share = np.bincount(pop.cluster[not_lead], minlength=w.size) / n
    assert np.all(np.abs(share - w) <= 4 * np.sqrt(w * (1 - w) / n))


def test_parks_never_span_two_clusters_or_cities(mid_pop):
    cfg, pop = mid_pop
    assert np.array_equal(pop.park_cluster[pop.park], pop.cluster)
    assert np.array_equal(pop.park_city[pop.park], pop.city)
    sizes = np.bincount(pop.park, minlength=pop.n_parks)
    assert np.all(sizes > 0)
    # each cluster x city area is split into max(1, round(firms / park_size_mean)) parks
    cc = pop.cluster.astype(np.int64) * 21 + pop.city
    firms = np.bincount(cc, minlength=20 * 21)
    parks = np.bincount(pop.park_cluster.astype(np.int64) * 21 + pop.park_city, minlength=20 * 21)
    expected = np.where(firms > 0, np.maximum(1, np.round(firms / cfg.population.park_size_mean)), 0)
    assert np.array_equal(parks, expected)
    big = firms[pop.park_cluster.astype(np.int64) * 21 + pop.park_city] >= 4 * cfg.population.park_size_mean
    assert sizes[big].mean() == pytest.approx(cfg.population.park_size_mean, rel=0.1)
    assert np.array_equal(pop.cell, (pop.cluster.astype(np.int64) * 21 + pop.city) * 4 + pop.size_class)


# --------------------------------------------------------------------------- supply links


def test_adjacency_is_symmetric_without_self_links(mid_pop):
    cfg, pop = mid_pop
    n = pop.n_firms
    assert pop.adj_indptr.size == n + 1 and pop.adj_indptr[-1] == pop.adj_indices.size
    rows = np.repeat(np.arange(n), np.diff(pop.adj_indptr))
    cols = pop.adj_indices.astype(np.int64)
    adj = sp.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(n, n))
    assert (adj != adj.T).nnz == 0
    assert not np.any(rows == cols)
    # links stay within a cluster; most are within the city (same_city_link_share 0.8)
    assert np.array_equal(pop.cluster[rows], pop.cluster[cols])
    same_city = np.mean(pop.city[rows] == pop.city[cols])
    assert cfg.population.same_city_link_share - 0.05 < same_city < 0.95
    # mean degree: each firm draws Poisson(2) customers, each link counted at both ends
    assert rows.size / n == pytest.approx(2 * cfg.population.customers_per_firm, rel=0.1)
    # chain leaders are hubs
    deg = np.diff(pop.adj_indptr)
    assert deg[pop.size_class == LEAD].mean() > 20 * deg[pop.size_class == SERVICE].mean()
    # the neighbours helper returns the CSR rows
    some = np.array([0, 5, n - 1])
    assert np.array_equal(pop.neighbours(some), np.concatenate([cols[pop.adj_indptr[i]:pop.adj_indptr[i + 1]] for i in some]))


def test_ring_network():
    cfg = scenario(total_firms=1_000, network="ring")
    pop = build_population(cfg, np.random.SeedSequence(1))
    n = pop.n_firms
    i = np.arange(n)
    nb = pop.adj_indices.reshape(n, 2)
    assert np.array_equal(np.sort(nb, axis=1), np.sort(np.stack(((i - 1) % n, (i + 1) % n), axis=1), axis=1))


# --------------------------------------------------------------------------- firm attributes


def test_readiness_is_higher_for_larger_firms(mid_pop):
    cfg, pop = mid_pop
    mean = np.array([pop.readiness[pop.size_class == c].mean() for c in range(4)])
    assert mean[LEAD] > mean[ABOVE] > mean[IND_SME]
    assert mean[SERVICE] < mean[ABOVE]
    by_size = cfg.population.readiness_by_size
    # the lognormal factor has mean 1 and clusters are mixed alike across classes
    assert mean[ABOVE] / mean[IND_SME] == pytest.approx(by_size.above_scale / by_size.industrial_sme, rel=0.05)
    assert mean[SERVICE] / mean[IND_SME] == pytest.approx(by_size.service_sme / by_size.industrial_sme, rel=0.05)
    assert np.all(pop.readiness > 0)


def test_revenue_respects_the_above_scale_threshold(mid_pop):
    _, pop = mid_pop
    above = pop.size_class <= ABOVE
    assert np.all(pop.revenue_cny[above] >= 20e6)
    assert np.all(pop.revenue_cny[pop.size_class == IND_SME] < 20e6)


def test_birth_and_exit_months(mid_pop):
    cfg, pop = mid_pop
    spec = cfg.population
    initial = pop.entry_month == 0
    entrant = ~initial
    # below-scale entrants are born when they enter; above-scale entrants are older firms
    small_entrant = entrant & (pop.size_class >= IND_SME)
    assert np.array_equal(pop.birth_month[small_entrant], pop.entry_month[small_entrant])
    assert np.all(pop.birth_month[entrant & (pop.size_class <= ABOVE)] < 0)
    # share of initial firms born in the last year = their class's growth rate
    young = initial & (pop.birth_month > -12)
    service = initial & (pop.size_class == SERVICE)
    assert young[service].mean() == pytest.approx(spec.service_growth_per_year, abs=0.005)
    # geometric exit at exit_rate_per_year, at least one month after entry
    leaving = pop.exit_month != NEVER
    assert np.all(pop.exit_month[leaving] > pop.entry_month[leaving])
    within_year = initial & (pop.exit_month <= 12)
    assert within_year.sum() / initial.sum() == pytest.approx(1 - np.exp(-spec.exit_rate_per_year), abs=0.004)


def test_structure_is_reproducible_and_independent_of_policies(mid_pop):
    cfg, pop = mid_pop
    no_policy = Scenario.model_validate({**cfg.model_dump(), "policies": {"vouchers": {"enabled": False}}})
    again = build_population(no_policy, np.random.SeedSequence(7))
    other = build_population(cfg, np.random.SeedSequence(8))
    for name in ("cluster", "city", "size_class", "park", "readiness", "revenue_cny", "exit_month",
                 "birth_month", "adj_indptr", "adj_indices"):
        assert np.array_equal(getattr(pop, name), getattr(again, name)), name
    assert not np.array_equal(pop.city, other.city)


def test_sme_city_shares_move_smes_only() -> None:
    """An SME city override (e.g. for service-heavy Guangzhou) leaves above-scale firms alone."""
    import numpy as np

    from sim.core.population import ABOVE, build_population
    from sim.scenario import Scenario

    base = Scenario.model_validate({"population": {"total_firms": 100_000}})
    moved = Scenario.model_validate({"population": {"total_firms": 100_000, "sme_city_shares": {"Guangzhou": 0.3}}})
    a = build_population(base, np.random.SeedSequence(5))
    b = build_population(moved, np.random.SeedSequence(5))
    gz = 0  # Guangzhou is the first city of cities.csv
    above_a, above_b = a.size_class <= ABOVE, b.size_class <= ABOVE
    assert np.array_equal(a.city[above_a], b.city[above_b])
    other = a.cluster != datasets.cluster_ids().index("electronics")  # same clusters in b
    share_a = np.mean(a.city[~above_a & other] == gz)
    share_b = np.mean(b.city[~above_b & other] == gz)
    assert share_a == pytest.approx(0.102, abs=0.01)  # 6,757 / 66,329 above-scale firms (2021)
    assert share_b == pytest.approx(0.3 / (1 - 0.102 + 0.3), abs=0.01)


def test_sme_guangzhou_odds_ratio_moves_smes_only() -> None:
    """The starting assumption for service-heavy Guangzhou: SMEs' odds of being there x r."""
    from sim.core.population import ABOVE, build_population
    from sim.scenario import Scenario

    base = Scenario.model_validate({"population": {"total_firms": 100_000}})
    moved = Scenario.model_validate({"population": {"total_firms": 100_000, "sme_guangzhou_odds_ratio": 1.7}})
    a = build_population(base, np.random.SeedSequence(5))
    b = build_population(moved, np.random.SeedSequence(5))
    above = a.size_class <= ABOVE
    assert np.array_equal(a.city[above], b.city[above])
    other = ~above & (a.cluster != datasets.cluster_ids().index("electronics"))
    g = 0.10187  # Guangzhou's share of above-scale firms, 2021
    odds = 1.7 * g / (1 - g)
    assert np.mean(b.city[other] == 0) == pytest.approx(odds / (1 + odds), abs=0.01)  # 0.162
    with pytest.raises(ValueError, match="not both"):
        Scenario.model_validate({"population": {"sme_guangzhou_odds_ratio": 1.7,
                                                "sme_city_shares": {"Guangzhou": 0.2}}})
