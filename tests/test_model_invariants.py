"""Invariants of the full model: bookkeeping, reproducibility, policy mechanisms, Mesa use.

Most checks run the default parameters at 50,000 firms with every mechanism on (entry, exit,
churn, city voucher quotas, all instruments); counts, budgets and capacities scale with
total_firms / 2,000,000.
"""

from __future__ import annotations

import multiprocessing
import warnings

import mesa
import numpy as np
import pytest

from sim import datasets
from sim.core.model import CloudAdoptionModel
from sim.core.policies import N_CITIES, N_CLUSTERS, N_SIZE
from sim.core.population import ABOVE, IND_SME, NEVER, SERVICE
from sim.core.run_output import METRICS
from sim.core.state import CHURNED, COUNT_NAMES, NONE, ON_CLOUD, WAITING

N_SMALL = 50_000
SCALE = N_SMALL / 2_000_000
SHENZHEN = datasets.city_names().index("Shenzhen")


def metric(out, name: str) -> np.ndarray:
    """Per-cell series of one metric, shape (months + 1, N_CELLS)."""
    return out.cells[:, :, METRICS.index(name)]


def by_axes(out, name: str) -> np.ndarray:
    """One metric as (months + 1, cluster, city, size class)."""
    return metric(out, name).reshape(-1, N_CLUSTERS, N_CITIES, N_SIZE)


def year_of(dates: list[str]) -> np.ndarray:
    return np.array([int(d[:4]) for d in dates])


@pytest.fixture(scope="module")
def default_run(make_default_style):
    """(model, output) of the default-style scenario at 50,000 firms, run to 2025-12."""
    model = CloudAdoptionModel(make_default_style(N_SMALL))
    return model, model.run()


# --------------------------------------------------------------------------- initial state


def test_initial_state_equals_scaled_reported_figures(default_run):
    model, out = default_run
    assert out.total("cloud_cumulative")[0] == round(550_000 * SCALE)
    assert out.total("transformed")[0] == round(17_000 * SCALE)
    above = model.is_above[: model.pop.n_initial]
    on_cloud = model.cloud_month[: model.pop.n_initial] == 0
    share = model.config.initial.above_scale_cloud_share
    assert np.count_nonzero(above & on_cloud) == round(share * np.count_nonzero(above))


def test_initial_state_at_full_scale(full_model):
    """At 2,000,000 firms the initial state is the reported 550,000 and 17,000 (2021-06)."""
    cube0 = full_model.cube[0]
    assert cube0[:, METRICS.index("cloud_cumulative")].sum() == 550_000
    assert cube0[:, METRICS.index("transformed")].sum() == 17_000
    assert cube0[:, METRICS.index("n_firms")].sum() == 2_000_000


# --------------------------------------------------------------------------- bookkeeping


def test_adopters_never_exceed_firms(default_run):
    model, out = default_run
    n, active, waiting = metric(out, "n_firms"), metric(out, "cloud_active"), metric(out, "waiting")
    assert np.all(active <= n)
    assert np.all(active + waiting <= n)
    # cumulative adopters include firms that left: bounded by the firms that ever entered
    pop = model.pop
    ever = np.stack([np.bincount(pop.cell[pop.entry_month <= k], minlength=n.shape[1])
                     for k in range(n.shape[0])])
    assert np.all(metric(out, "cloud_cumulative") <= ever)
    assert np.any(n < ever), "exits should happen in this scenario"


def test_transformed_are_above_scale_cloud_adopters(default_run):
    model, out = default_run
    trans = by_axes(out, "transformed")
    assert np.all(trans[..., IND_SME:] == 0), "only above-scale cells can hold transformed firms"
    assert np.all(metric(out, "transformed") <= metric(out, "cloud_cumulative"))
    t = np.flatnonzero(model.trans_month != NEVER)
    assert t.size > round(17_000 * SCALE)
    assert np.all(model.pop.size_class[t] <= ABOVE)
    assert np.all(model.cloud_month[t] != NEVER)
    assert np.all(model.cloud_month[t] <= model.trans_month[t])


def test_stocks_and_flows_agree(default_run):
    _, out = default_run
    cum, trans = metric(out, "cloud_cumulative"), metric(out, "transformed")
    assert np.all(np.diff(cum, axis=0) >= 0), "cumulative adopters never decrease (per cell)"
    assert np.all(np.diff(trans, axis=0) >= 0)
    assert np.array_equal(np.diff(cum, axis=0), metric(out, "new_cloud")[1:])
    assert np.array_equal(np.diff(trans, axis=0), metric(out, "new_transformed")[1:])
    assert np.all(metric(out, "cloud_active") <= cum)
    for name in METRICS:
        assert np.array_equal(out.totals[name], out.total(name))


def test_churn_and_exit_only_lower_active_adopters(default_run, make_default_style, variant):
    model, out = default_run
    assert np.count_nonzero(model.cloud_state == CHURNED) > 0, "churn should happen here"
    assert out.total("cloud_active")[-1] < out.total("cloud_cumulative")[-1]
    quiet = variant(make_default_style(N_SMALL), {"population": {"exit_rate_per_year": 0.0},
                                                  "diffusion": {"churn_rate_per_year": 0.0}})
    q = CloudAdoptionModel(quiet).run()
    assert np.array_equal(metric(q, "cloud_active"), metric(q, "cloud_cumulative"))
    assert np.all(np.diff(metric(q, "n_firms"), axis=0) >= 0)


def test_marginals_match_firm_level_recount(default_run):
    """Cell counts summed over each axis equal counts taken directly from the firm columns."""
    model, out = default_run
    pop, k = model.pop, -1
    present = model.present
    ever_on = model.cloud_month != NEVER
    active = present & (model.cloud_state == ON_CLOUD)
    trans = model.trans_month != NEVER
    waiting = present & (model.cloud_state == WAITING)
    cases = {
        "n_firms": present, "cloud_cumulative": ever_on, "cloud_active": active,
        "transformed": trans, "waiting": waiting,
    }
    for name, mask in cases.items():
        cube = by_axes(out, name)[k]
        assert np.array_equal(cube.sum(axis=(1, 2)), np.bincount(pop.cluster[mask], minlength=N_CLUSTERS)), name
        assert np.array_equal(cube.sum(axis=(0, 2)), np.bincount(pop.city[mask], minlength=N_CITIES)), name
        assert np.array_equal(cube.sum(axis=(0, 1)), np.bincount(pop.size_class[mask], minlength=N_SIZE)), name
        assert cube.sum() == out.total(name)[k] == np.count_nonzero(mask), name
    new_cloud = (model.cloud_month == model.month)
    assert out.total("new_cloud")[k] == np.count_nonzero(new_cloud)


def test_start_counts_match_a_recount(make_default_style):
    """The counts at the start (added over the initial adopters' links, FirmState.start) equal a
    recount over every firm."""
    model = CloudAdoptionModel(make_default_style(N_SMALL), replicate=3)
    st = model.state
    before = {name: np.array(getattr(st, name), dtype=float) for name in COUNT_NAMES}
    cand = st.cand_trans.copy()
    st.recount()
    for name in COUNT_NAMES:
        np.testing.assert_array_equal(before[name], np.array(getattr(st, name), dtype=float), err_msg=name)
    assert before["chain_cloud"].sum() > 100 and before["cell_trans"].sum() > 10  # real counts
    np.testing.assert_array_equal(cand, np.flatnonzero(st.present & st.is_above & (st.cloud_state == ON_CLOUD)
                                                       & (st.trans_month == NEVER)))


def test_incremental_peer_counts_match_a_recount(make_default_style):
    """The counts updated step by step equal a recount from the firm state at the end."""
    model = CloudAdoptionModel(make_default_style(N_SMALL))  # own model: the recount overwrites state
    model.run()
    names = ["park_n", "park_cloud", "park_as", "park_trans", "cc_n", "cc_cloud", "cc_as", "cc_trans",
             "chain_n", "chain_cloud", "chain_as", "chain_trans", "lead_n", "lead_trans",
             "prov_n", "prov_cloud", "cell_n", "cell_active"]
    before = {name: np.array(getattr(model.state, name), dtype=float) for name in names}
    model.state.recount()
    for name in names:
        np.testing.assert_array_equal(before[name], np.array(getattr(model.state, name), dtype=float), err_msg=name)


# --------------------------------------------------------------------------- random numbers


def test_same_seed_same_result_other_replicate_differs(default_run, make_default_style):
    _, out = default_run
    cfg = make_default_style(N_SMALL)
    again = CloudAdoptionModel(cfg, replicate=0).run()
    assert np.array_equal(out.cells, again.cells)
    other = CloudAdoptionModel(cfg, replicate=1).run()
    assert not np.array_equal(out.cells, other.cells)
    assert other.seed_entropy == again.seed_entropy == cfg.run.seed


ZERO_EFFECT = {
    "platform item with zero rates": (
        {}, {"policies": {"platforms": {"items": [{}, {"cloud_rate_per_year": 0.0, "transform_rate_per_year": 0.0}]}}}),
    "pilot item with zero rates": (
        {}, {"policies": {"pilots": {"items": [{}, {"cloud_rate_per_year": 0.0, "transform_rate_per_year": 0.0}]}}}),
    "pilots scale 0 vs disabled": (
        {"policies": {"pilots": {"enabled": False}}}, {"policies": {"pilots": {"scale": 0.0}}}),
    "platforms scale 0 vs disabled": (
        {"policies": {"platforms": {"enabled": False}}}, {"policies": {"platforms": {"scale": 0.0}}}),
    "vouchers budget 0 vs disabled": (
        {"policies": {"vouchers": {"enabled": False}}}, {"policies": {"vouchers": {"budget_cny_per_year": 0.0}}}),
    "chain leaders scale 0 vs disabled": (
        {"policies": {"chain_leaders": {"enabled": False}}}, {"policies": {"chain_leaders": {"scale": 0.0}}}),
    "pilot cities scale 0 vs disabled": (
        {"policies": {"sme_pilot_cities": {"enabled": False}}}, {"policies": {"sme_pilot_cities": {"scale": 0.0}}}),
    "unbounded service capacity vs disabled": (
        {"policies": {"service_capacity": {"enabled": False}}},
        {"policies": {"service_capacity": {"onboardings_per_month": 10**9}}}),
}


@pytest.mark.parametrize("case", list(ZERO_EFFECT))
def test_zero_effect_policy_is_bit_identical(case, default_run, make_default_style, variant):
    base_extra, zero_extra = ZERO_EFFECT[case]
    cfg = make_default_style(N_SMALL)
    base = default_run[1] if not base_extra else CloudAdoptionModel(variant(cfg, base_extra)).run()
    zero = CloudAdoptionModel(variant(cfg, zero_extra)).run()
    assert np.array_equal(base.cells, zero.cells)


# --------------------------------------------------------------------------- vouchers


@pytest.mark.parametrize("quotas", [True, False], ids=["city_quotas", "one_pot"])
def test_larger_voucher_budget_never_lowers_adoption(quotas, make_default_style, variant):
    """Common random numbers: more money never gives fewer cumulative adopters at the end."""
    cfg = make_default_style(N_SMALL)
    if not quotas:
        cfg = variant(cfg, {"policies": {"vouchers": {"city_quota_shares": None}}})
    ends = []
    for budget in (0.0, 5e7, 1e8, 3e8, 1e9):
        out = CloudAdoptionModel(variant(cfg, {"policies": {"vouchers": {"budget_cny_per_year": budget}}})).run()
        ends.append(out.total("cloud_cumulative")[-1])
    assert np.all(np.diff(ends) >= 0), ends
    assert ends[-1] > ends[0]  # measured 28,372 -> 29,371 (quotas), 29,785 (one pot)


@pytest.mark.parametrize("quotas", [True, False], ids=["city_quotas", "one_pot"])
def test_voucher_spend_within_yearly_budget(quotas, make_default_style, variant):
    budget = 5e7  # small enough to bind: 1.25 M CNY a year at 50,000 firms
    extra = {"policies": {"vouchers": {"budget_cny_per_year": budget}}}
    if not quotas:
        extra["policies"]["vouchers"]["city_quota_shares"] = None
    cfg = variant(make_default_style(N_SMALL), extra)
    out = CloudAdoptionModel(cfg).run()
    yearly = budget * SCALE
    spec = cfg.policies.vouchers
    spend = by_axes(out, "voucher_spend_cny").sum(axis=(1, 3))  # (months, city)
    years = year_of(out.dates)
    first_months = 13 - 7  # the instrument starts 2021-07: pro rata 6/12 in 2021
    shares = np.zeros(N_CITIES)
    if quotas:
        for city, s in spec.city_quota_shares.items():
            shares[datasets.city_names().index(city)] = s
    binding = False
    for y in np.unique(years[1:]):
        cap = yearly * (first_months / 12 if y == 2021 else 1.0)
        in_year = spend[years == y].sum(axis=0)
        assert in_year.sum() <= cap + 1e-6
        if quotas:
            assert np.all(in_year <= shares * cap + 1e-6)
            # a city pot is exhausted when less than one voucher is left in it
            binding |= bool(np.any((shares > 0) & (in_year > shares * cap - spec.voucher_cny)))
        else:
            binding |= in_year.sum() > cap - spec.voucher_cny
    assert binding, "the budget should bind in at least one year"
    assert np.all(spend[:, SHENZHEN] == 0)


def test_shenzhen_firms_never_get_vouchers(default_run):
    model, out = default_run
    pop = model.pop
    granted = np.flatnonzero(model.subsidised)
    assert granted.size > 0
    assert not np.any(pop.city[granted] == SHENZHEN)
    spec = model.config.policies.vouchers
    assert np.all(pop.revenue_cny[granted] >= spec.min_revenue_cny)
    assert np.all(model.cloud_state[granted] != NONE), "a voucher is granted only to a firm that adopts"
    # age rule (>= 12 months old); capacity never binds here, so firms onboard in the grant month
    assert out.total("waiting").max() == 0
    assert np.all(pop.birth_month[granted] + spec.min_age_months <= model.cloud_month[granted])
    assert out.total("voucher_spend_cny").sum() == granted.size * spec.voucher_cny


VOUCHERS_ONLY = {
    "enabled": True, "subsidy_share": 1.0, "contract_value_cny": 1000.0, "max_voucher_cny": 1000.0,
    "min_age_months": 0, "min_revenue_cny": 0.0, "excluded_cities": ["Shenzhen"],
}
"""Vouchers of 1,000 CNY whose push is ``rate_per_year_at_full_subsidy`` for every firm outside
Shenzhen (the degenerate scenario has no other hazard)."""


def test_voucher_push_is_a_hazard(make_degenerate):
    """Unlimited budget, p = q = 0: eligible firms adopt as 1 - exp(-v t), Shenzhen firms never,
    whatever the time step (the push accumulates in the cumulative hazard)."""
    v = 0.5
    shares = {}
    for substeps in (1, 10):
        vouchers = {**VOUCHERS_ONLY, "budget_cny_per_year": 1e15, "rate_per_year_at_full_subsidy": v}
        cfg = make_degenerate(0.0, 0.0, substeps=substeps, years=2, extra={"policies": {"vouchers": vouchers}})
        model = CloudAdoptionModel(cfg)
        out = model.run()
        cum = by_axes(out, "cloud_cumulative").sum(axis=(1, 3))  # (months, city)
        n = by_axes(out, "n_firms").sum(axis=(1, 3))
        assert np.all(cum[:, SHENZHEN] == 0)
        others = np.arange(N_CITIES) != SHENZHEN
        shares[substeps] = cum[:, others].sum(axis=1) / n[:, others].sum(axis=1)
        t = np.arange(cum.shape[0]) / 12.0
        expected = 1.0 - np.exp(-v * t)
        sd = np.sqrt(expected * (1.0 - expected) / n[0, others].sum())
        assert np.all(np.abs(shares[substeps] - expected) <= 4 * sd + 1e-12)
        assert np.array_equal(np.flatnonzero(model.subsidised), np.flatnonzero(model.cloud_month != NEVER))
        assert out.total("voucher_spend_cny").sum() == 1000.0 * out.total("cloud_cumulative")[-1]
    assert np.abs(shares[1] - shares[10]).max() <= 3e-5  # same thresholds, same curve


@pytest.mark.parametrize("quotas", [
    pytest.param(None, id="one_pot"),
    pytest.param({"Guangzhou": 0.2, "Foshan": 0.8}, id="city_quotas"),
])
def test_vouchers_first_come_first_served_under_a_binding_budget(quotas, make_degenerate):
    """Demand far above the budget: every (city) pot pays exactly floor(pot / voucher) vouchers
    every year, to the claimants with the highest priority, and then closes."""
    budget = 12.5e6  # 625,000 CNY a year at 100,000 firms
    vouchers = {**VOUCHERS_ONLY, "budget_cny_per_year": budget, "rate_per_year_at_full_subsidy": 0.2,
                "city_quota_shares": quotas, "end": "2024-12"}
    cfg = make_degenerate(0.0, 0.0, substeps=1, years=4, extra={"policies": {"vouchers": vouchers}})
    model = CloudAdoptionModel(cfg)
    out = model.run()
    pot = budget * cfg.population.total_firms / 2_000_000
    shares = np.zeros(N_CITIES)
    if quotas:
        for city, s in quotas.items():
            shares[datasets.city_names().index(city)] = s
    else:
        shares[0] = 1.0  # one pot, reported under the first city
    years = year_of(out.dates)
    granted = by_axes(out, "voucher_spend_cny").sum(axis=(1, 3)) / 1000.0  # (months, city)
    for y in (2021, 2022, 2023, 2024):
        fraction = 6 / 12 if y == 2021 else 1.0
        in_year = granted[years == y].sum(axis=0)
        if not quotas:
            in_year = np.array([in_year.sum(), *np.zeros(N_CITIES - 1)])
        assert np.array_equal(in_year, np.floor(shares * pot * fraction / 1000.0)), y
    # all adopters are voucher holders (there is no other hazard)
    assert np.array_equal(np.flatnonzero(model.subsidised), np.flatnonzero(model.cloud_month != NEVER))


# --------------------------------------------------------------------------- service capacity


def test_binding_service_capacity(make_default_style, variant):
    """2,000 onboardings a month at full scale = 50 a month here: a queue forms, never more."""
    cfg = variant(make_default_style(N_SMALL),
                  {"policies": {"service_capacity": {"onboardings_per_month": 2000, "growth_per_year": 0.0}}})
    out = CloudAdoptionModel(cfg).run()
    cap = 2000 * SCALE
    new = out.total("new_cloud")[1:]
    assert np.all(new <= cap)
    assert np.count_nonzero(new == cap) > len(new) // 2
    assert out.total("waiting").max() > 1000  # measured ~10,300
    assert np.all(out.total("waiting") >= 0)


def test_service_capacity_scale_is_continuous_at_zero(make_default_style, variant):
    cfg = variant(make_default_style(N_SMALL), {"policies": {"service_capacity": {"onboardings_per_month": 10_000}}})
    ends = {}
    for scale in (0.0, 1e-3):
        sc = variant(cfg, {"policies": {"service_capacity": {"scale": scale}}})
        ends[scale] = CloudAdoptionModel(sc).run().total("cloud_cumulative")[-1]
    # scale is the strength of the constraint (capacity / scale): 0 lifts it, like 0.001 nearly does
    assert ends[1e-3] == pytest.approx(ends[0.0], rel=0.01)


# --------------------------------------------------------------------------- entry


def test_entry_follows_population_growth(make_default_style, variant):
    cfg = variant(make_default_style(N_SMALL), {"population": {"exit_rate_per_year": 0.0}})
    model = CloudAdoptionModel(cfg)
    out = model.run()
    n = by_axes(out, "n_firms").sum(axis=(1, 2))  # (months, size class)
    index = {d[:7]: i for i, d in enumerate(out.dates)}
    reported = datasets.above_scale_year_end()
    for year in (2021, 2022, 2023):
        above = n[index[f"{year}-12"], :IND_SME].sum()
        assert above == pytest.approx(reported[year] * SCALE, abs=1.0)  # 66,329 x scale at end-2021
    spec = cfg.population
    k = index["2022-06"]
    assert n[k, IND_SME] == round(n[0, IND_SME] * (1 + spec.industrial_growth_per_year))
    assert n[k, SERVICE] == round(n[0, SERVICE] * (1 + spec.service_growth_per_year))


# --------------------------------------------------------------------------- Mesa


def test_firm_view_is_a_mesa_agent_matching_the_columns(default_run):
    model, _ = default_run
    pop = model.pop
    picks = {
        "transformed": int(np.flatnonzero(model.trans_month != NEVER)[-1]),
        "subsidised": int(np.flatnonzero(model.subsidised)[0]),
        "never adopted": int(np.flatnonzero(model.cloud_month == NEVER)[0]),
        "entrant": int(pop.n_firms - 1),
    }
    for label, i in picks.items():
        firm = model.firm(i)
        assert isinstance(firm, mesa.Agent), label
        assert firm.model is model
        assert firm.cluster == datasets.cluster_ids()[pop.cluster[i]]
        assert firm.city == datasets.city_names()[pop.city[i]]
        assert firm.size_class == datasets.SIZE_CLASSES[pop.size_class[i]]
        assert firm.park == pop.park[i]
        assert firm.readiness == pytest.approx(float(pop.readiness[i]))
        assert firm.revenue_cny == pytest.approx(float(pop.revenue_cny[i]))
        assert firm.entry_month == pop.entry_month[i]
        assert sorted(firm.supply_partners) == sorted(pop.adj_indices[pop.adj_indptr[i]:pop.adj_indptr[i + 1]].tolist())
        assert firm.on_cloud == (model.cloud_state[i] == ON_CLOUD)
        assert firm.cloud_month == (None if model.cloud_month[i] == NEVER else model.cloud_month[i])
        assert firm.transformed_month == (None if model.trans_month[i] == NEVER else model.trans_month[i])
        assert firm.subsidised == bool(model.subsidised[i])
    assert model.firm(picks["transformed"]).transformed_month is not None
    assert model.firm(picks["never adopted"]).cloud_month is None
    with pytest.raises(IndexError):
        model.firm(pop.n_firms)


def test_mesa_batch_run(make_default_style):
    """``mesa.batch_run`` drives the model: the scenario is passed as ``config``, overrides as
    ``a__b__c`` keywords, and seeds through ``rng``; ``iterations`` without ``rng`` gives
    different (unseeded, recorded) runs, as Mesa means it."""
    cfg = make_default_style(5_000)
    key = "policies__vouchers__budget_cny_per_year"
    method = multiprocessing.get_start_method(allow_none=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            rows = mesa.batch_run(CloudAdoptionModel, parameters={"config": [cfg], key: [1e8, 2e8]},
                                  rng=[1, 2], max_steps=12, number_processes=1, display_progress=False)
            unseeded = mesa.batch_run(CloudAdoptionModel, parameters={"config": [cfg]}, iterations=2,
                                  max_steps=12, number_processes=1, display_progress=False,
                                  data_collection_period=1)
    finally:  # batch_run forces the 'spawn' start method process-wide
        multiprocessing.set_start_method(method, force=True)
    assert len(rows) == 4
    assert {(r["rng"], r[key]) for r in rows} == {(1, 1e8), (1, 2e8), (2, 1e8), (2, 2e8)}
    assert all(r["date"] == "2022-06-30" for r in rows)
    direct = CloudAdoptionModel(cfg, rng=2, **{key: 2e8})
    direct.run_for(12)
    row = next(r for r in rows if r["rng"] == 2 and r[key] == 2e8)
    frame = direct.datacollector.get_model_vars_dataframe()
    for name in ("cloud_cumulative", "cloud_active", "transformed", "voucher_spend_cny_month",
                 "voucher_spend_cny_cumulative"):
        assert row[name] == frame[name].iloc[-1]
    # the end-of-run row carries the whole spend since the start, not the last month's
    assert row["voucher_spend_cny_cumulative"] == frame["voucher_spend_cny_month"].sum() > 0
    by_seed = {r["rng"]: r["cloud_cumulative"] for r in rows if r[key] == 1e8}
    assert by_seed[1] != by_seed[2]
    # iterations=n (rng=None for each): n different unseeded runs, as in Mesa
    # Compared month by month: two different runs at 5,000 firms end on the same cloud count
    # about once in 40 (one run's s.d. is about 12 firms), but not on the same 12-month path.
    paths: dict[int, list[tuple[int, int, int]]] = {}
    for r in unseeded:
        paths.setdefault(r["iteration"], []).append((r["Step"], r["cloud_cumulative"], r["transformed"]))
    assert len(paths) == 2
    assert sorted(paths[0]) != sorted(paths[1])
    # a model built without rng uses run.seed (reproducible)
    assert CloudAdoptionModel(cfg).root_seed == cfg.run.seed
