"""Policy instruments as objects, each acting through one stated mechanism.

Instruments that add to the external hazard expose, for a month ``k``, per-cell and per-park
rates in 1/year (``cloud_cell_rate``, ``transform_cell_rate``, ``cloud_park_rate``,
``transform_park_rate``); the model adds them to the market rate of the firms they reach and
scales them by the firm's readiness. Vouchers (a budget queue), service capacity (an onboarding
queue) and the chain-leader pull need firm state and are applied by the model using the
parameters exposed here. An instrument that is disabled or has ``scale = 0`` acts on nothing,
so it reproduces the run without it bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim import datasets
from sim.core import columns
from sim.core.eligibility import EligibilityRules, revenue_ok
from sim.core.population import ABOVE, IND_SME, LEAD, N_SIZE, SERVICE, Population, population_scale
from sim.core.programme import TransformationQuota
from sim.core.schedules import monthly, value_at, window_months
from sim.scenario import schema, schema_policies
from sim.scenario.schema_types import month_number, schedule_max

N_CLUSTERS = len(datasets.cluster_ids())
N_CITIES = len(datasets.city_names())
N_CELLS = N_CLUSTERS * N_CITIES * N_SIZE


def cell_grid() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(cluster, city, size_class) of every cell id."""
    c = np.arange(N_CELLS)
    return c // (N_CITIES * N_SIZE), (c // N_SIZE) % N_CITIES, c % N_SIZE


def _cluster_mask(clusters: list[str]) -> np.ndarray:
    if "all" in clusters:
        return np.ones(N_CLUSTERS, dtype=bool)
    ids = datasets.cluster_ids()
    m = np.zeros(N_CLUSTERS, dtype=bool)
    m[[ids.index(c) for c in clusters]] = True
    return m


def _city_mask(cities: list[str] | None) -> np.ndarray:
    if cities is None:
        return np.ones(N_CITIES, dtype=bool)
    names = datasets.city_names()
    m = np.zeros(N_CITIES, dtype=bool)
    m[[names.index(c) for c in cities]] = True
    return m


@dataclass
class Calendar:
    """Maps the model's month index k (0 = initial state) to calendar months."""

    start_month: int

    def month_of(self, ym: str) -> int:
        return month_number(ym) - self.start_month

    def year(self, k: int) -> int:
        return (self.start_month + k) // 12

    def month_in_year(self, k: int) -> int:
        return (self.start_month + k) % 12 + 1

    def monthly(self, value: float | dict[str, float], n_months: int) -> np.ndarray:
        """A number or schedule as its value in each month index 0..n_months."""
        return monthly(value, self.start_month, n_months)


class Instrument:
    """Base: contributes nothing unless a subclass says otherwise."""

    name = "instrument"

    def cloud_cell_rate(self, k: int) -> np.ndarray | None:
        return None

    def transform_cell_rate(self, k: int) -> np.ndarray | None:
        return None

    def cloud_park_rate(self, k: int) -> np.ndarray | None:
        return None

    def transform_park_rate(self, k: int) -> np.ndarray | None:
        return None


class PlatformsInstrument(Instrument):
    """Industrial internet platforms: a lower adoption cost in the clusters they serve."""

    name = "platforms"

    def __init__(self, spec: schema_policies.Platforms, cal: Calendar, n_months: int):
        self.items = []
        if spec.enabled and schedule_max(spec.scale) > 0:
            cl, _, _ = cell_grid()
            scale = cal.monthly(spec.scale, n_months)
            for p in spec.items:
                mask = _cluster_mask(p.clusters)[cl]
                self.items.append((cal.month_of(p.start), cal.month_of(p.end), mask,
                                   cal.monthly(p.cloud_rate_per_year, n_months) * scale,
                                   cal.monthly(p.transform_rate_per_year, n_months) * scale))

    def _rate(self, k: int, which: int) -> np.ndarray | None:
        out = None
        for s, e, mask, rc, rt in self.items:
            r = (rc, rt)[which][k]
            if s <= k <= e and r > 0:
                if out is None:
                    out = np.zeros(N_CELLS)
                out[mask] += r
        return out

    def cloud_cell_rate(self, k: int) -> np.ndarray | None:
        return self._rate(k, 0)

    def transform_cell_rate(self, k: int) -> np.ndarray | None:
        return self._rate(k, 1)


def stochastic_round(x: float, rng: np.random.Generator) -> int:
    """floor(x) plus one with probability frac(x): an integer whose expectation is exactly x."""
    base = int(np.floor(x))
    return base + int(rng.random() < x - base)


def pilot_park_count(parks_per_year: int, pop_scale: float, park_size_mean: float,
                     eligible_park_firms: np.ndarray, rng: np.random.Generator) -> int:
    """Parks to select in one pilot year so that the pilots cover the same share of firms at any
    population size.

    ``parks_per_year`` is given for the full 2,000,000-firm population, where parks hold about
    ``park_size_mean`` firms, so a pilot year covers ``parks_per_year x park_size_mean x pop_scale``
    firms in expectation. A smaller population has fewer and smaller parks (every cluster-city
    keeps at least one park), so the count is that firm target divided by the mean size of the
    eligible parks here, stochastically rounded from the pilot stream (the expected covered share
    is exact; at full scale the count is ``parks_per_year`` up to the park-size rounding).
    """
    if parks_per_year <= 0 or eligible_park_firms.size == 0:
        return 0
    mean_size = float(eligible_park_firms.mean())
    if mean_size <= 0:
        return 0
    return stochastic_round(parks_per_year * pop_scale * park_size_mean / mean_size, rng)


class PilotsInstrument(Instrument):
    """Park/cluster pilots (一园一策): a boost for selected parks or clusters in given years.

    Parks are selected at random among eligible parks each pilot year (from the pilot stream,
    fixed at model set-up) and boosted from January of that year (or the run start) for
    ``duration_months``. The number of parks scales with the population
    (:func:`pilot_park_count`).
    """

    name = "pilots"

    def __init__(self, spec: schema_policies.Pilots, cal: Calendar, pop: Population, rng: np.random.Generator,
                 n_months: int, pop_scale: float = 1.0, park_size_mean: float = 400.0):
        self.cloud_cell = np.zeros((n_months + 1, N_CELLS))
        self.trans_cell = np.zeros((n_months + 1, N_CELLS))
        self.cloud_park = np.zeros((n_months + 1, pop.n_parks))
        self.trans_park = np.zeros((n_months + 1, pop.n_parks))
        self.selected_parks: list[np.ndarray] = []
        self.active = spec.enabled and schedule_max(spec.scale) > 0
        if not self.active:
            return
        cl, ci, _ = cell_grid()
        park_firms = pop.derived.get("park_firms")  # firms allocated to each park (per structure)
        if park_firms is None:
            park_firms = pop.derived["park_firms"] = columns.counts(pop.park, pop.n_parks)
            park_firms.flags.writeable = False
        scale = cal.monthly(spec.scale, n_months)
        for p in spec.items:
            cmask, tmask = _cluster_mask(p.clusters), _city_mask(p.cities)
            rc = cal.monthly(p.cloud_rate_per_year, n_months) * scale
            rt = cal.monthly(p.transform_rate_per_year, n_months) * scale
            for year in p.years:
                s = max(1, year * 12 - cal.start_month)  # January of the pilot year, month index
                e = min(n_months, s + p.duration_months - 1)
                if s > n_months or e < 1:
                    continue
                if p.level == "cluster":
                    m = cmask[cl] & tmask[ci]
                    self.cloud_cell[s:e + 1, m] += rc[s:e + 1, None]
                    self.trans_cell[s:e + 1, m] += rt[s:e + 1, None]
                else:
                    eligible = np.flatnonzero(cmask[pop.park_cluster] & tmask[pop.park_city])
                    # The year's count is the schedule's value in January of the pilot year.
                    parks_this_year = int(value_at(p.parks_per_year, year * 12))
                    n_pick = min(pilot_park_count(parks_this_year, pop_scale, park_size_mean,
                                                  park_firms[eligible], rng), eligible.size)
                    chosen = rng.choice(eligible, size=n_pick, replace=False) if n_pick else eligible[:0]
                    self.selected_parks.append(chosen)
                    self.cloud_park[s:e + 1, chosen] += rc[s:e + 1, None]
                    self.trans_park[s:e + 1, chosen] += rt[s:e + 1, None]

    def cloud_cell_rate(self, k):
        return self.cloud_cell[k] if self.active and self.cloud_cell[k].any() else None

    def transform_cell_rate(self, k):
        return self.trans_cell[k] if self.active and self.trans_cell[k].any() else None

    def cloud_park_rate(self, k):
        return self.cloud_park[k] if self.active and self.cloud_park[k].any() else None

    def transform_park_rate(self, k):
        return self.trans_park[k] if self.active and self.trans_park[k].any() else None


class SmePilotCitiesInstrument(Instrument):
    """National SME digital-transformation pilot cities: SMEs of a pilot city get a cloud push,
    its above-scale firms a transformation push, from January of the city's pilot year."""

    name = "sme_pilot_cities"

    def __init__(self, spec: schema_policies.SmePilotCities, cal: Calendar, n_months: int):
        self.cloud_cell = np.zeros((n_months + 1, N_CELLS))
        self.trans_cell = np.zeros((n_months + 1, N_CELLS))
        on = window_months(spec, cal.start_month, n_months)
        self.active = bool(on.any())
        if not self.active:
            return
        _, ci, sz = cell_grid()
        names = datasets.city_names()
        scale = cal.monthly(spec.scale, n_months)
        # Months outside the window or a round get rate 0 (x 1.0 leaves the other months exact).
        rc = cal.monthly(spec.cloud_rate_per_year, n_months) * scale * on
        rt = cal.monthly(spec.transform_rate_per_year, n_months) * scale * on
        w0, w1 = max(1, cal.month_of(spec.start)), min(n_months, cal.month_of(spec.end))
        for city, year in spec.schedule.items():
            s = max(w0, year * 12 - cal.start_month)
            e = min(w1, year * 12 - cal.start_month + spec.duration_months - 1)
            if s > e:
                continue
            in_city = ci == names.index(city)
            self.cloud_cell[s:e + 1, in_city & ((sz == IND_SME) | (sz == SERVICE))] += rc[s:e + 1, None]
            self.trans_cell[s:e + 1, in_city & (sz <= ABOVE)] += rt[s:e + 1, None]

    def cloud_cell_rate(self, k):
        return self.cloud_cell[k] if self.active and self.cloud_cell[k].any() else None

    def transform_cell_rate(self, k):
        return self.trans_cell[k] if self.active and self.trans_cell[k].any() else None


class PlanLaunchInstrument(Instrument):
    """The 2021 plan's launch campaign (``policies.plan_launch``): every firm of a stage gets the
    campaign's push in the months of its window (the same value in every cell; the model scales
    it by readiness). Disabled or with rates 0 it returns nothing, so the run is unchanged."""

    name = "plan_launch"

    def __init__(self, spec: schema_policies.PlanLaunch, cal: Calendar, n_months: int):
        on = window_months(spec, cal.start_month, n_months)
        scale = cal.monthly(spec.scale, n_months)
        # Months outside the window get rate 0 (one value per month; every cell takes it).
        self.cloud = cal.monthly(spec.cloud_rate_per_year, n_months) * scale * on
        self.trans = cal.monthly(spec.transform_rate_per_year, n_months) * scale * on

    @staticmethod
    def _all_cells(rate: float) -> np.ndarray | None:
        return np.full(N_CELLS, rate) if rate > 0 else None

    def cloud_cell_rate(self, k):
        return self._all_cells(self.cloud[k])

    def transform_cell_rate(self, k):
        return self._all_cells(self.trans[k])


class ChainLeadersInstrument(Instrument):
    """链主 programme: chain leaders get a transformation push; the model adds the supplier pull
    (rate x share of the firm's chain-leader partners already transformed)."""

    name = "chain_leaders"

    def __init__(self, spec: schema_policies.ChainLeaders, cal: Calendar, n_months: int):
        self.on_month = window_months(spec, cal.start_month, n_months)
        self.active = bool(self.on_month.any())
        _, _, sz = cell_grid()
        self.leader_cells = sz == LEAD
        scale = cal.monthly(spec.scale, n_months)
        self.leader_rate = cal.monthly(spec.leader_transform_rate_per_year, n_months) * scale
        self.cloud_pull = cal.monthly(spec.supplier_cloud_pull_per_year, n_months) * scale
        self.transform_pull = cal.monthly(spec.supplier_transform_pull_per_year, n_months) * scale

    def on(self, k: int) -> bool:
        return bool(self.on_month[k])

    def transform_cell_rate(self, k):
        if not self.on(k) or self.leader_rate[k] <= 0:
            return None
        out = np.zeros(N_CELLS)
        out[self.leader_cells] = self.leader_rate[k]
        return out

    def pulls(self, k: int) -> tuple[float, float]:
        return (float(self.cloud_pull[k]), float(self.transform_pull[k])) if self.on(k) else (0.0, 0.0)


class VoucherBudget:
    """上云上平台 vouchers: a yearly budget, spent first come first served (总额控制、先到先得).

    Mechanism: while money is left (in the firm's city quota, if quotas are set), an eligible
    firm that has not adopted gets ``rate_per_year_at_full_subsidy x subsidy_share`` added to its
    external hazard. Firms that decide to adopt in a step claim a voucher in their fixed priority
    order; those beyond the budget decide again without the voucher push. Budgets reset each
    January, pro rata in the first year; unspent money lapses unless ``carry_over_unspent``.

    Budget, rate and scale may be schedules: the year's budget is the schedule's value in the
    month it is allotted (January, or the first month of a round, pro rata for the months left in
    the year), and the push of each month follows the rate and scale of that month.
    """

    def __init__(self, spec: schema_policies.Vouchers, cal: Calendar, pop: Population, pop_scale: float = 1.0,
                 n_months: int = 0):
        self.spec = spec
        # Budgets are given for the full-size population; a smaller population gets its share.
        self.budget_cny_per_year = cal.monthly(spec.budget_cny_per_year, n_months) * pop_scale
        self.cal = cal
        # Push per year at each month (rate x subsidy share x scale), 0 outside the window/rounds.
        self.rate_by_month = (cal.monthly(spec.rate_per_year_at_full_subsidy, n_months) * spec.subsidy_share
                              * cal.monthly(spec.scale, n_months))
        self.on_month = window_months(spec, cal.start_month, n_months) & (self.rate_by_month > 0)
        self.active = (bool(self.on_month.any()) and schedule_max(spec.budget_cny_per_year) > 0
                       and spec.voucher_cny > 0)
        self.voucher_cny = spec.voucher_cny
        # The firms' push is stored at the reference rate; months with another rate rescale it.
        self.rate = float(self.rate_by_month[self.on_month].max()) if self.on_month.any() else 0.0
        constant = np.all(self.rate_by_month[self.on_month] == self.rate)
        self._factor = None if constant else (self.rate_by_month / max(self.rate, 1e-300)).astype(np.float32)
        # Eligibility may change over the run: the rules of each month, and the revenue and city
        # rule in force at the start.
        self.eligibility = EligibilityRules(spec, cal.start_month, n_months)
        self.static_ok = revenue_ok(pop, self.eligibility.at(0)[0], spec.excluded_cities)
        names = datasets.city_names()
        if spec.city_quota_shares:
            self.shares = np.zeros(N_CITIES)
            for c, v in spec.city_quota_shares.items():
                self.shares[names.index(c)] = v
        else:
            self.shares = None
        self.remaining = np.zeros(N_CITIES if self.shares is not None else 1)

    def on(self, k: int) -> bool:
        return self.active and bool(self.on_month[k])

    def rate_factor(self, k: int) -> np.float32 | None:
        """Push of month k relative to ``rate`` (None when the push never changes)."""
        return None if self._factor is None else self._factor[k]

    def allotment_cny(self, k: int) -> float | None:
        """Money allotted at the start of month k (None if none is): the year's budget in January,
        pro rata for the months left in the year at the first month of each spell of acting."""
        if not self.on(k):
            return None
        first = k == 1 or not self.on_month[k - 1]
        if not (first or self.cal.month_in_year(k) == 1):
            return None
        months_left = 13 - self.cal.month_in_year(k) if first else 12
        return self.budget_cny_per_year[k] * months_left / 12.0

    def budget_by_year(self) -> dict[int, float]:
        """Money allotted per calendar year (CNY, at the population's scale; no carry-over)."""
        out: dict[int, float] = {}
        for k in range(1, self.on_month.size):
            fresh = self.allotment_cny(k)
            if fresh is not None:
                out[self.cal.year(k)] = out.get(self.cal.year(k), 0.0) + fresh
        return out

    def start_month(self, k: int) -> None:
        """Reset the budget in January (and pro rata at the first month of each spell of acting)."""
        fresh = self.allotment_cny(k)
        if fresh is not None:
            first = k == 1 or not self.on_month[k - 1]
            pot = fresh * (self.shares if self.shares is not None else np.ones(1))
            if self.spec.carry_over_unspent and not first:
                self.remaining = self.remaining + pot
            else:
                self.remaining = pot

    def open_for_city(self) -> np.ndarray:
        """Whether a voucher can still be paid, per city (or a length-1 array for one pot)."""
        return self.remaining >= self.voucher_cny

    def grant(self, claimants: np.ndarray, claimant_city: np.ndarray) -> np.ndarray:
        """Grant vouchers to claimants (already in priority order); returns a boolean mask."""
        if claimants.size == 0:
            return np.zeros(0, dtype=bool)
        if self.shares is None:  # one provincial pot: the first claimants it affords (no sort by pot)
            affordable = np.floor(self.remaining / self.voucher_cny).astype(np.int64)
            granted = np.arange(claimants.size) < affordable[0]
            spent = np.array([np.count_nonzero(granted)]) * self.voucher_cny
            self.remaining = self.remaining - spent
            return granted
        group = claimant_city.astype(np.int64)
        order = np.argsort(group, kind="stable")  # keeps priority order inside each pot
        g_sorted = group[order]
        starts = np.searchsorted(g_sorted, np.arange(self.remaining.size))
        rank = np.arange(claimants.size) - starts[g_sorted]
        affordable = np.floor(self.remaining / self.voucher_cny).astype(np.int64)
        ok_sorted = rank < affordable[g_sorted]
        granted = np.empty(claimants.size, dtype=bool)
        granted[order] = ok_sorted
        spent = np.bincount(group[granted], minlength=self.remaining.size) * self.voucher_cny
        self.remaining = self.remaining - spent
        return granted


class ServiceQueue:
    """Service-provider capacity: at most ``onboardings_per_month`` cloud onboardings a month
    (growing by ``growth_per_year``); firms that decided wait in first-come order.

    ``scale`` is the strength of the constraint: capacity = onboardings / scale, so scale 1 is
    as specified, 2 halves the capacity, and scale -> 0 lifts the constraint continuously
    (scale 0 = no constraint, the same as disabled).
    """

    def __init__(self, spec: schema_policies.ServiceCapacity, cal: Calendar, substeps: int, pop_scale: float = 1.0,
                 n_months: int = 0):
        self.pop_scale = pop_scale  # capacity is given for the full-size population
        self.on_month = window_months(spec, cal.start_month, n_months)
        self.active = bool(self.on_month.any())
        self.s = cal.month_of(spec.start)
        self.spec = spec
        self.onboardings = cal.monthly(spec.onboardings_per_month, n_months)
        self.scale = cal.monthly(spec.scale, n_months)
        self.substeps = substeps
        self.allowance = 0.0

    def capacity_per_month(self, k: int) -> float | None:
        """Onboardings allowed in month k (population scale), or None for unlimited."""
        if not self.on_month[k]:
            return None
        per_month = self.pop_scale * self.onboardings[k] * (1 + self.spec.growth_per_year) ** ((k - max(self.s, 1)) / 12)
        return per_month / self.scale[k]

    def capacity_this_substep(self, k: int) -> int | None:
        """Onboardings allowed in this substep, or None for unlimited."""
        per_month = self.capacity_per_month(k)
        if per_month is None:
            return None
        # Accumulate fractions so no onboarding is lost to rounding.
        self.allowance += per_month / self.substeps
        n = int(np.floor(self.allowance))
        self.allowance -= n
        return n


def build_instruments(config: schema.Scenario, pop: Population, rng_pilots: np.random.Generator,
                      n_months: int) -> dict[str, object]:
    cal = Calendar(month_number(config.time.start))
    p = config.policies
    pop_scale = population_scale(config)
    return {
        "platforms": PlatformsInstrument(p.platforms, cal, n_months),
        "pilots": PilotsInstrument(p.pilots, cal, pop, rng_pilots, n_months, pop_scale,
                                   config.population.park_size_mean),
        "sme_pilot_cities": SmePilotCitiesInstrument(p.sme_pilot_cities, cal, n_months),
        "chain_leaders": ChainLeadersInstrument(p.chain_leaders, cal, n_months),
        "vouchers": VoucherBudget(p.vouchers, cal, pop, pop_scale, n_months),
        "service_capacity": ServiceQueue(p.service_capacity, cal, config.time.substeps_per_month, pop_scale,
                                         n_months),
        "transformation_programme": TransformationQuota(p.transformation_programme, cal.start_month, n_months,
                                                        pop_scale),
        "plan_launch": PlanLaunchInstrument(p.plan_launch, cal, n_months),
    }
