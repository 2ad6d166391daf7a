"""Every mechanism against a number derived by hand or analytically (not against a pinned run).

Each test switches on one mechanism in the degenerate configuration of ``tests/conftest.py``
(homogeneous readiness 1, one cluster unless stated, no entry or exit, no policy, nobody on the
cloud at the start) and compares the model with the closed form of that mechanism alone.
Tolerances are 4 binomial standard deviations of the compared count unless the quantity is
exact (budgets, capacity, counts fixed by construction).

The threshold method makes a constant hazard h over a step of length dt an adoption probability
of exactly 1 - exp(-h dt) (``docs/model.md`` section 4), so for constant hazards the discrete
model has the continuous closed form at the step ends.

``scripts/mutation_check.py`` shows that these tests catch deliberate errors in the code.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim import datasets
from sim.core.model import CloudAdoptionModel
from sim.core.population import LEAD
from sim.core.state import ON_CLOUD

IDS = datasets.cluster_ids()


def within(observed: float, expected_share: float, n: int, sds: float = 4.0) -> bool:
    """|observed - n p| <= sds binomial standard deviations (and at least one firm)."""
    sd = math.sqrt(max(n * expected_share * (1 - expected_share), 1.0))
    return abs(observed - n * expected_share) <= sds * sd


def all_above_scale(n: int, leads: int = 0) -> dict:
    """Population overrides making every firm an above-scale industrial firm (no entry)."""
    return {"population": {"total_firms": n, "industrial_firms": n, "above_scale_firms": n,
                           "lead_firms": leads}}


# --------------------------------------------------------------------------- transformation


def two_stage_share(a: float, b: float, months: int, dt: float) -> float:
    """P(transformed by the end of step ``months``) for two exponential stages in series with the
    model's step rule: the cloud decision in step j has probability e^{-a dt (j-1)}(1-e^{-a dt});
    the firm is onboarded in that step and accumulates the transformation hazard from step j+1."""
    j = np.arange(1, months + 1)
    p_cloud_j = np.exp(-a * dt * (j - 1)) * (1 - np.exp(-a * dt))
    return float(np.sum(p_cloud_j * (1 - np.exp(-b * dt * (months - j)))))


def two_stage_continuous(a: float, b: float, t: float) -> float:
    """Hypoexponential CDF: 1 - (b e^{-at} - a e^{-bt}) / (b - a)."""
    return 1 - (b * math.exp(-a * t) - a * math.exp(-b * t)) / (b - a)


def test_transformation_stage_is_the_second_of_two_stages_in_series(make_degenerate) -> None:
    """Cloud hazard a, transformation hazard b, no peers: the transformed share is the
    hypoexponential distribution (in its monthly-step form)."""
    n, a, b, years = 20_000, 0.5, 0.3, 3
    cfg = make_degenerate(a, 0.0, total_firms=n, substeps=1, years=years, extra={
        **all_above_scale(n), "diffusion": {"transform": {"market_rate_per_year": b}}})
    out = CloudAdoptionModel(cfg).run()
    months = 12 * years
    expected = two_stage_share(a, b, months, 1 / 12)
    assert abs(expected - two_stage_continuous(a, b, years)) < 0.02  # monthly steps lag slightly
    transformed = out.total("transformed")
    assert within(transformed[-1], expected, n)
    for m in (6, 12, 24):  # along the path too
        assert within(transformed[m], two_stage_share(a, b, m, 1 / 12), n)
    assert within(out.total("cloud_cumulative")[-1], 1 - math.exp(-a * years), n)


def test_transformation_cluster_city_peer_term_counts_above_scale_peers(make_degenerate) -> None:
    """First month of a pure cluster-city peer effect in the transformation stage: an untransformed
    above-scale firm of cluster-city j has the hazard u x T_j / (A_j - 1), T_j transformed and A_j
    above-scale firms of j (the share among its above-scale peers, not among all firms)."""
    n, above, trans0, u = 60_000, 12_000, 4_000, 1.2
    cfg = make_degenerate(0.0, 0.0, total_firms=n, substeps=1, years=1, extra={
        "population": {"above_scale_firms": above, "industrial_firms": 20_000, "lead_firms": 0},
        "initial": {"cloud_firms": above, "transformed_firms": trans0, "above_scale_cloud_share": 1.0},
        "diffusion": {"transform": {"cluster_city_weight_per_year": u}}})
    model = CloudAdoptionModel(cfg)
    pop = model.pop
    is_above = pop.size_class <= 1
    assert np.all(model.cloud_state[is_above] == ON_CLOUD)
    city = pop.city[is_above]  # one cluster: cluster-city = city
    a_j = np.bincount(city, minlength=21).astype(float)
    t_j = np.bincount(city[model.trans_month[is_above] == 0], minlength=21).astype(float)
    p_j = 1 - np.exp(-u * t_j / np.maximum(a_j - 1, 1) / 12)
    expected = float(np.sum((a_j - t_j) * p_j))
    sd = math.sqrt(float(np.sum((a_j - t_j) * p_j * (1 - p_j))))
    model.step()
    new = model.cube[1, :, 3].sum() - trans0
    assert abs(new - expected) <= 4 * sd, (new, expected, sd)
    assert expected > 200  # the test has power: dividing by all firms would give ~1/5 of it


# --------------------------------------------------------------------------- pilots and platforms


def test_pilot_parks_add_their_rate_from_january_of_the_pilot_year(make_degenerate) -> None:
    """Only firms of selected parks adopt (no other hazard), with F = 1 - e^{-r t}, t counted from
    January of the pilot year."""
    n, r = 100_000, 0.4
    cfg = make_degenerate(0.0, 0.0, total_firms=n, substeps=1, years=2, extra={"policies": {"pilots": {
        "enabled": True, "items": [{"level": "park", "parks_per_year": 20, "years": [2022],
                                    "duration_months": 24, "cloud_rate_per_year": r}]}}})
    model = CloudAdoptionModel(cfg)
    (chosen,) = model.instruments["pilots"].selected_parks
    in_pilot = np.isin(model.pop.park, chosen)
    n_in = int(in_pilot.sum())
    # parks_per_year x scale x 400 firms are covered in expectation (here 20 x 0.05 x 400 = 400)
    assert 100 < n_in < 2_000
    out = model.run()
    cum = out.total("cloud_cumulative")
    k_jan = 7  # 2021-06 + 7 months = 2022-01
    assert cum[k_jan - 1] == 0
    adopted = model.cloud_state != 0
    assert not adopted[~in_pilot].any()
    for k in (k_jan + 5, 24):
        assert within(cum[k], 1 - math.exp(-r * (k - k_jan + 1) / 12), n_in)


def test_platforms_add_their_rate_in_served_clusters_only(make_degenerate) -> None:
    """Two clusters, market rate p; a platform serving the first adds r: F = 1 - e^{-(p+r)t}
    there and 1 - e^{-pt} in the other cluster."""
    n, p, r, years = 40_000, 0.1, 0.3, 2
    groups = {IDS[0]: 0.5, IDS[1]: 0.5}
    cfg = make_degenerate(p, 0.0, total_firms=n, substeps=1, years=years, groups=groups, extra={"policies": {
        "platforms": {"enabled": True, "items": [{"clusters": [IDS[0]], "start": "2021-07", "end": "2031-06",
                                                  "cloud_rate_per_year": r, "transform_rate_per_year": 0.0}]}}})
    model = CloudAdoptionModel(cfg)
    model.run()
    adopted = model.cloud_state != 0
    for cl, rate in ((0, p + r), (1, p)):
        mask = model.pop.cluster == cl
        assert within(adopted[mask].sum(), 1 - math.exp(-rate * years), int(mask.sum()))


# --------------------------------------------------------------------------- vouchers


def voucher_scenario(make_degenerate, n: int, p: float, push: float, vouchers_per_year: float, **rules):
    """Market rate p; voucher push ``push``/yr (full subsidy of a 15,000 CNY voucher); a budget
    paying ``vouchers_per_year`` vouchers (the budget is for 2,000,000 firms and scaled); start
    2021-12 so that month 1 is January with a full year's budget."""
    value = 15_000.0
    budget = vouchers_per_year * value * 2_000_000 / n
    v = {"enabled": True, "start": "2022-01", "end": "2031-06", "budget_cny_per_year": budget,
         "contract_value_cny": value, "subsidy_share": 1.0, "max_voucher_cny": value,
         "rate_per_year_at_full_subsidy": push, "min_age_months": 0, "min_revenue_cny": 0.0,
         "excluded_cities": [], **rules}
    cfg = make_degenerate(p, 0.0, total_firms=n, substeps=1, years=2, extra={
        "time": {"start": "2021-12", "end": "2023-12"}, "policies": {"vouchers": v}})
    return cfg, value


def test_voucher_budget_pays_exactly_the_vouchers_it_can_afford(make_degenerate) -> None:
    """With far more claimants than money, each January's budget pays exactly its vouchers and
    nothing after; the market-free firms refused a voucher never adopt."""
    n = 20_000
    cfg, value = voucher_scenario(make_degenerate, n, 0.0, 2.0, 300)
    model = CloudAdoptionModel(cfg)
    out = model.run()
    spend = out.total("voucher_spend_cny")
    assert spend[1] == spend[13] == 300 * value  # January 2022 and January 2023
    assert spend.sum() == 600 * value
    assert model.subsidised.sum() == 600
    assert out.total("cloud_cumulative")[-1] == 600


def test_refused_claimants_continue_on_their_own_hazard(make_degenerate) -> None:
    """The refusal rule (docs/model.md 7.4): a claimant left without money adopts in that step
    only if its hazard without the voucher push carries it over its threshold; otherwise it draws
    a new threshold, so from then on every non-adopter adopts at the market rate p. With the
    budget spent in January: adopters(m) = A_1 + (N - A_1)(1 - e^{-p (m-1)/12}) until the next
    January (A_1: adopters of month 1)."""
    n, p, push = 20_000, 0.1, 0.5
    cfg, _ = voucher_scenario(make_degenerate, n, p, push, 100)
    out = CloudAdoptionModel(cfg).run()
    cum = out.total("cloud_cumulative")
    a1 = cum[1]
    # month 1: 100 vouchers, plus refused claimants whose market hazard alone crosses
    claimants = n * (1 - math.exp(-(p + push) / 12))
    base_share = (1 - math.exp(-p / 12)) / (1 - math.exp(-(p + push) / 12))
    assert within(a1 - 100, base_share, round(claimants - 100))
    for m in (3, 6, 12):
        assert within(cum[m] - a1, 1 - math.exp(-p * (m - 1) / 12), int(n - a1))


def test_voucher_eligibility_revenue_age_and_shenzhen(make_degenerate) -> None:
    """Only eligible firms get the push (no market rate): firms under the revenue minimum, too
    young, or in Shenzhen never adopt; eligible ones adopt with 1 - e^{-vt} (unlimited budget)."""
    n, push = 40_000, 0.6
    cfg, _ = voucher_scenario(make_degenerate, n, 0.0, push, 1e9, min_revenue_cny=3e6, min_age_months=12,
                              excluded_cities=["Shenzhen"])
    cfg = cfg.model_copy(update={"population": cfg.population.model_copy(update={"service_growth_per_year": 0.2})})
    model = CloudAdoptionModel(cfg)
    model.run()
    pop = model.pop
    shenzhen = pop.city == datasets.city_names().index("Shenzhen")
    poor = pop.revenue_cny < 3e6
    young_until = pop.birth_month.astype(int) + 12  # eligible from this month index on
    adopted = model.cloud_state != 0
    assert not adopted[shenzhen | poor].any()
    assert poor.mean() == pytest.approx(0.5, abs=0.02)  # median SME revenue 3 M CNY
    ok = ~shenzhen & ~poor
    old = ok & (young_until <= 1)
    assert within(adopted[old].sum(), 1 - math.exp(-push * 2), int(old.sum()))
    young = ok & (young_until > 1)
    assert young.sum() > 100
    # present from the entry month, eligible from birth + 12 (entrants are born on entry)
    first = np.maximum(np.maximum(young_until[young], pop.entry_month[young]), 1)
    months_eligible = np.clip(24 - first + 1, 0, None)
    expected = float(np.sum(1 - np.exp(-push * months_eligible / 12)))
    assert abs(adopted[young].sum() - expected) <= 4 * math.sqrt(expected) + 1


# --------------------------------------------------------------------------- chain leaders


def test_chain_leaders_transform_at_their_rate(make_degenerate) -> None:
    """All above-scale firms are on the cloud; leaders get l, others nothing: F = 1 - e^{-l t}."""
    n, leads, rate, years = 20_000, 2_000, 0.5, 2
    cfg = make_degenerate(0.0, 0.0, total_firms=n, substeps=1, years=years, extra={
        **all_above_scale(n, leads), "initial": {"cloud_firms": n, "above_scale_cloud_share": 1.0},
        "policies": {"chain_leaders": {"enabled": True, "start": "2021-07", "end": "2031-06",
                                       "leader_transform_rate_per_year": rate,
                                       "supplier_cloud_pull_per_year": 0.0,
                                       "supplier_transform_pull_per_year": 0.0}}})
    model = CloudAdoptionModel(cfg)
    model.run()
    is_lead = model.pop.size_class == LEAD
    transformed = model.trans_month != np.iinfo(np.int16).max
    assert not transformed[~is_lead].any()
    assert within(transformed[is_lead].sum(), 1 - math.exp(-rate * years), leads)


def test_supplier_pull_acts_on_firms_linked_to_transformed_leaders(make_degenerate) -> None:
    """All leaders transformed from the start; industrial SMEs link only to leaders; the pull pi
    is the only cloud hazard: firms with a leader partner adopt with 1 - e^{-pi t}, others never."""
    n, leads, pull, years = 40_000, 40, 0.3, 2
    cfg = make_degenerate(0.0, 0.0, total_firms=n, substeps=1, years=years, extra={
        "population": {"above_scale_firms": leads, "lead_firms": leads, "industrial_firms": 20_000,
                       "network": "supply_chain", "leader_link_share": 1.0},
        "initial": {"cloud_firms": leads, "transformed_firms": leads, "above_scale_cloud_share": 1.0},
        "policies": {"chain_leaders": {"enabled": True, "start": "2021-07", "end": "2031-06",
                                       "leader_transform_rate_per_year": 0.0,
                                       "supplier_cloud_pull_per_year": pull,
                                       "supplier_transform_pull_per_year": 0.0}}})
    model = CloudAdoptionModel(cfg)
    pop = model.pop
    is_lead = pop.size_class == LEAD
    linked = np.zeros(pop.n_firms, dtype=bool)
    linked[pop.neighbours(np.flatnonzero(is_lead))] = True
    linked &= ~is_lead
    assert linked.sum() > 5_000
    model.run()
    adopted = (model.cloud_state != 0) & ~is_lead
    assert not adopted[~linked].any()
    assert within(adopted[linked].sum(), 1 - math.exp(-pull * years), int(linked.sum()))


# --------------------------------------------------------------------------- capacity


def test_binding_capacity_onboards_exactly_its_capacity_and_queues_the_rest(make_degenerate) -> None:
    """Decisions at market rate p; a capacity C per month below the arrivals: each month exactly C
    firms are onboarded and the queue's expected length is N(1 - e^{-p m/12}) - m C."""
    n, p, cap = 100_000, 0.6, 1_500  # first-month arrivals ~4,900, falling to ~3,000 at month 12
    cfg = make_degenerate(p, 0.0, total_firms=n, substeps=1, years=1, extra={"policies": {"service_capacity": {
        "enabled": True, "start": "2021-07", "end": "2031-06", "scale": 1.0, "growth_per_year": 0.0,
        "onboardings_per_month": cap * 2_000_000 / n}}})
    out = CloudAdoptionModel(cfg).run()
    m = np.arange(13)
    assert np.array_equal(out.total("cloud_cumulative"), m * cap)
    decided = n * (1 - np.exp(-p * m / 12))
    waiting = out.total("waiting")
    sd = np.sqrt(n * (1 - np.exp(-p * m / 12)) * np.exp(-p * m / 12))
    assert np.all(np.abs(waiting - (decided - m * cap)) <= 4 * sd + 1)
    assert waiting[12] > 20_000  # it binds


# --------------------------------------------------------------------------- churn, entry, exit


def test_churn_starts_when_the_subsidy_ends(make_degenerate) -> None:
    """Everyone adopts with a voucher in month 1 (huge push, unlimited budget); churn c acts from
    the month the 12-month subsidy ends: active(m) = N e^{-c (m - 12)/12} for m >= 12, N before."""
    n, c = 20_000, 0.6
    cfg, _ = voucher_scenario(make_degenerate, n, 0.0, 100.0, 1e9, subsidy_months=12)
    cfg = cfg.model_copy(update={"diffusion": cfg.diffusion.model_copy(update={"churn_rate_per_year": c})})
    model = CloudAdoptionModel(cfg)
    out = model.run()
    active, cum = out.total("cloud_active"), out.total("cloud_cumulative")
    assert cum[1] >= n * (1 - 2 * math.exp(-100 / 12))  # everyone but a handful in month 1
    assert np.all(active[:13] == cum[:13])  # subsidy months 1..12: no churn
    cm = model.cloud_month[model.subsidised].astype(float)
    assert cm.size == cum[-1]
    for m in (13, 18, 24):
        # churn hazard accumulated over the months from cloud_month + 12 to m
        expected = float(np.sum(np.exp(-c * np.maximum(0, m - cm - 11) / 12)))
        assert abs(active[m] - expected) <= 4 * math.sqrt(expected * (1 - expected / cm.size)) + 1
    assert active[24] < 0.6 * n  # it acts: e^{-0.6} = 0.55


def test_entrants_adopt_from_their_entry_month(make_degenerate) -> None:
    """Census growth g of service firms; market rate p: an entrant of month j adopts by month m
    with 1 - e^{-p (m - j + 1)/12} (it decides in its entry month already)."""
    n, p = 40_000, 0.3
    cfg = make_degenerate(p, 0.0, total_firms=n, substeps=1, years=3, extra={
        "population": {"service_growth_per_year": 0.2, "industrial_growth_per_year": 0.2}})
    model = CloudAdoptionModel(cfg)
    model.run()
    pop = model.pop
    entry = pop.entry_month.astype(int)
    new = entry > 0
    assert new.sum() > 0.5 * n  # (1.2^3 - 1) x the SMEs
    m = 36
    expected = float(np.sum(1 - np.exp(-p * (m - entry[new] + 1) / 12)))
    adopted = (model.cloud_state != 0)[new].sum()
    assert abs(adopted - expected) <= 4 * math.sqrt(expected) + 1


def test_exit_is_geometric_and_keeps_cumulative_adoption(make_degenerate) -> None:
    """Exit rate x: present firms N e^{-x m/12}; exited adopters stay in the cumulative count."""
    n, x, p = 40_000, 0.4, 0.5
    cfg = make_degenerate(p, 0.0, total_firms=n, substeps=1, years=2, extra={
        "population": {"exit_rate_per_year": x}})
    out = CloudAdoptionModel(cfg).run()
    present = out.total("n_firms")
    for m in (6, 24):
        assert within(present[m], math.exp(-x * m / 12), n)
    # adopted before exiting: both hazards act on a present firm (competing risks)
    share = p / (p + x) * (1 - math.exp(-(p + x) * 2))
    assert abs(out.total("cloud_cumulative")[24] / n - share) < 0.02  # monthly steps: order dt
    assert within(out.total("cloud_active")[24], (1 - math.exp(-p * 2)) * math.exp(-x * 2), n, sds=6)
