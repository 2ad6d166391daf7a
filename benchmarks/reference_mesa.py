"""Reference implementation of the model's rules as idiomatic, per-agent Mesa 3.5.

This file is a *specification*: it restates the rules of ``sim.core.model.CloudAdoptionModel`` one
firm at a time, in plain Python, so that the vectorized model can be checked against it and
timed against the way a Mesa model is usually written. It is written for reading, not speed.

* Every firm is a :class:`Firm` (a ``mesa.Agent``) with Python attributes: cluster, city, size
  class, park, readiness, revenue, birth/entry/exit month, its supply-chain partners as a Python
  list of ``Firm`` objects, and its three exponential thresholds.
* One month ``k`` of :class:`ReferenceModel` (``step``):

  1. firms entering in month k join the present firms, firms exiting in month k leave;
  2. the policy rate tables of month k are read; the voucher budget resets in January;
  3. ``substeps_per_month`` synchronous updates, each in two phases:

     a. the peer counts of the start of the step are recomputed from scratch (park and
        cluster-city counts in dicts; chain shares are read from each firm's partner list);
     b. ``firms.do("decide")``: every firm computes its hazards from the start-of-step state and
        says what it would do (adopt, claim a voucher, transform, churn) -- nothing changes yet;
     c. vouchers are granted to the claimants first come first served (by fixed priority) while
        the yearly budget lasts;
     d. ``firms.do("apply")``: every firm applies its own decision;
     e. waiting firms are onboarded first come first served up to the service capacity;

  4. the month's totals are collected by a ``mesa.DataCollector``.

Firms that exit leave every count of present firms (and the service queue) but stay counted in
the cumulative totals; churned firms never come back to the cloud.

The decision rule (model docstring): each firm draws one Exp(1) threshold per stage at set-up and
acts when its cumulative hazard ``sum(h * dt)`` reaches it, with ``h`` read at the start of the
step and held over the step.

The reference takes the same population (``sim.core.population.build_population``) and the same random
numbers as the model: the thresholds, the priorities and the initial adopters are drawn from the
same named children of the run's ``SeedSequence`` (``sim.core.model.run_seed``/``spawn_streams``).
Hazards are computed here in float64 (the model uses float32), so a firm whose threshold lies
within float32 rounding of its cumulative hazard may act one step apart in the two; otherwise
the two give identical results for the same seed (and in every comparison run so far -- up to
100,000 firms over 54 months -- they were identical).

The policy *rate tables* of platforms, pilots, SME pilot cities and the chain-leader programme
are taken from ``sim.core.policies`` instruments (they are inputs: which cells and parks get how much
extra hazard in month k). Vouchers and service capacity, which need firm state, are restated here
from the scenario fields.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from dataclasses import dataclass

import mesa
import numpy as np
from mesa.agentset import AgentSet

from sim import datasets
from sim.core.policies import N_CELLS, build_instruments
from sim.core.population import NEVER, Population, build_population
from sim.core.run_output import METRICS
from sim.core.seeds import run_seed, spawn_streams, structure_seed
from sim.scenario.schema import Scenario

# Cloud states of a firm.
from sim.scenario.schema_policies import StageRates

# Cloud states of a firm.
from sim.scenario.schema_types import month_number

# Cloud states of a firm.
NONE = "none"  # not on the cloud, never decided
WAITING = "waiting"  # decided to adopt, waiting for a service provider
ON_CLOUD = "on_cloud"  # onboarded
CHURNED = "churned"  # left the cloud after its subsidy ended (never comes back)

ABOVE_SCALE = ("lead", "above_scale")
"""Size classes counted as above-scale industrial firms (规上); only they can transform."""

RATE_INSTRUMENTS = ("platforms", "pilots", "sme_pilot_cities", "chain_leaders")
"""Instruments that act as additive per-cell and per-park rates (summed in this order)."""


@dataclass(frozen=True)
class StageParams:
    """Hazard parameters of one stage (cloud or transformation), per year.

    Attributes:
        market: market rate of each cluster (market rate x cluster market multiplier).
        peer_mult: multiplier of all peer terms, per cluster.
        chain, park, area, province: weights of the share of adopters among the firm's present
            supply-chain partners, in its park, in its cluster within its city, in the province.
    """

    market: dict[str, float]
    peer_mult: dict[str, float]
    chain: float
    park: float
    area: float
    province: float

    @classmethod
    def from_rates(cls, r: StageRates) -> StageParams:
        mm = r.cluster_market_multiplier or {}
        pm = r.cluster_peer_multiplier or {}
        ids = datasets.cluster_ids()
        return cls(market={c: r.market_rate_per_year * mm.get(c, 1.0) for c in ids},
                   peer_mult={c: pm.get(c, 1.0) for c in ids},
                   chain=r.chain_weight_per_year, park=r.park_weight_per_year,
                   area=r.cluster_city_weight_per_year, province=r.province_weight_per_year)


@dataclass
class PeerCounts:
    """Counts over the firms present at the start of a step (recomputed every step).

    ``area`` is a (cluster, city) pair. "cloud" counts firms on the cloud now (not waiting, not
    churned); "transformed" counts transformed firms; "above" counts above-scale firms. The
    shares read by the hazards are derived once per step by :meth:`shares`.
    """

    park_firms: Counter
    park_cloud: Counter
    park_above: Counter
    park_transformed: Counter
    area_firms: Counter
    area_cloud: Counter
    area_above: Counter
    area_transformed: Counter
    firms: int = 0
    cloud: int = 0
    above: int = 0
    transformed: int = 0

    def shares(self) -> PeerShares:
        # The firm reading a share has not adopted (it is still deciding), so its own row is
        # taken out of the denominator: the share among its peers (others only). Groups whose
        # only member is the reader have no peers and are left out: the reader then looks up
        # the enclosing group (PeerShares.nested; sim/core/peers.py).
        def per_key(num: Counter, den: Counter) -> dict:
            return {key: share(num[key], n - 1) for key, n in den.items() if n > 1}

        def by_cluster(area_counts: Counter) -> Counter:
            out = Counter()
            for (cluster, _city), v in area_counts.items():
                out[cluster] += v
            return out

        return PeerShares(
            park_cloud=per_key(self.park_cloud, self.park_firms),
            area_cloud=per_key(self.area_cloud, self.area_firms),
            cluster_cloud=per_key(by_cluster(self.area_cloud), by_cluster(self.area_firms)),
            province_cloud=share(self.cloud, self.firms - 1),
            park_transformed=per_key(self.park_transformed, self.park_above),
            area_transformed=per_key(self.area_transformed, self.area_above),
            cluster_transformed=per_key(by_cluster(self.area_transformed), by_cluster(self.area_above)),
            province_transformed=share(self.transformed, self.above - 1))


@dataclass
class PeerShares:
    """Adopter shares at the start of a step: on the cloud among present firms (cloud stage);
    transformed among present above-scale firms (transformation stage). A group without peers is missing (nested reads the enclosing group)."""

    park_cloud: dict
    area_cloud: dict
    cluster_cloud: dict
    province_cloud: float
    park_transformed: dict
    area_transformed: dict
    cluster_transformed: dict
    province_transformed: float

    def nested(self, stage: str, park: int, area: tuple) -> tuple[float, float]:
        """(park share, cluster-city share) read by a firm of ``park`` in ``area``: a group
        without peers reads the smallest enclosing group that has some (cluster, province)."""
        province = getattr(self, f"province_{stage}")
        cluster = getattr(self, f"cluster_{stage}").get(area[0], province)
        area_share = getattr(self, f"area_{stage}").get(area, cluster)
        return getattr(self, f"park_{stage}").get(park, area_share), area_share


def share(num: float, den: float) -> float:
    """``num / max(den, 1)``: a share that is 0 when there is nobody to look at."""
    return num / max(den, 1)


class Firm(mesa.Agent):
    """One firm. Its rules are :meth:`decide` (phase 1) and :meth:`apply` (phase 2).

    Attributes:
        index: row of the firm in the population arrays (also breaks priority ties).
        cluster, city, size_class: names (``datasets.cluster_ids``/``city_names``/``SIZE_CLASSES``).
        cell: cluster x city x size-class cell id (the unit of the policy rate tables).
        park: park id. area: (cluster, city).
        readiness: multiplier of every adoption hazard. revenue_cny: for voucher eligibility.
        birth_month, entry_month, exit_month: month indices (exit_month None = never).
        partners: supply-chain partners (other ``Firm`` objects; a repeated link repeats).
        thr_cloud, thr_transform, thr_churn: Exp(1) thresholds. priority: voucher/queue order.
        voucher_rules_met: revenue at least the minimum and city not excluded (static rules).
        present, cloud_state, cloud_month, transformed_month, subsidised, subsidy_end: state.
        lam_cloud, lam_transform, lam_churn: cumulative hazards.
    """

    def __init__(self, model: ReferenceModel, index: int, *, cluster: str, city: str,
                 size_class: str, cell: int, park: int, readiness: float, revenue_cny: float,
                 birth_month: int, entry_month: int, exit_month: int | None, thr_cloud: float,
                 thr_transform: float, thr_churn: float, priority: float):
        super().__init__(model)
        self.index = index
        self.cluster, self.city, self.size_class = cluster, city, size_class
        self.cell, self.park, self.area = cell, park, (cluster, city)
        self.is_above = size_class in ABOVE_SCALE
        self.is_lead = size_class == "lead"
        self.readiness, self.revenue_cny = readiness, revenue_cny
        self.birth_month, self.entry_month, self.exit_month = birth_month, entry_month, exit_month
        self.partners: list[Firm] = []
        self.thr_cloud, self.thr_transform, self.thr_churn = thr_cloud, thr_transform, thr_churn
        self.priority = priority
        self.voucher_rules_met = False  # revenue and city rules, set by the model
        self.present = False
        self.cloud_state = NONE
        self.cloud_month: int | None = None
        self.transformed_month: int | None = None
        self.subsidised = False
        self.subsidy_end: int | None = None
        self.lam_cloud = self.lam_transform = self.lam_churn = 0.0
        self._clear_intent()

    def _clear_intent(self) -> None:
        self.adopts = self.claims_voucher = self.voucher_granted = False
        self.transforms = self.churns = False
        self.next_lam_cloud = self.lam_cloud
        self.lam_without_voucher = self.lam_with_voucher = self.lam_cloud
        self.next_lam_transform = self.lam_transform
        self.next_lam_churn = self.lam_churn

    # ------------------------------------------------------------------ peer shares

    def chain_cloud_share(self) -> float:
        """Share of the firm's present supply-chain partners that are on the cloud."""
        n = on = 0
        for p in self.partners:
            if p.present:
                n += 1
                on += p.cloud_state == ON_CLOUD
        return share(on, n)

    def chain_transformed_share(self) -> float:
        """Transformed present partners over present above-scale partners."""
        n = tr = 0
        for p in self.partners:
            if p.present and p.is_above:
                n += 1
                tr += p.transformed_month is not None
        return share(tr, n)

    def leader_transformed_share(self) -> float:
        """Share of the firm's present chain-leader partners that are transformed."""
        n = tr = 0
        for p in self.partners:
            if p.present and p.is_lead:
                n += 1
                tr += p.transformed_month is not None
        return share(tr, n)

    # ------------------------------------------------------------------ hazards (per year)

    def cloud_hazard(self) -> float:
        """Cloud-adoption hazard without the voucher push, from the start-of-step state.

        ``readiness x (market + cell policy rates + peer_mult x (chain + park + cluster-city +
        province terms) + park policy rates + chain-leader pull x share of leader partners
        transformed)``.
        """
        m = self.model
        r, s = m.cloud_params, m.shares
        park_share, area_share = s.nested("cloud", self.park, self.area)
        peer = (r.chain * self.chain_cloud_share()
                + r.park * park_share
                + r.area * area_share
                + r.province * s.province_cloud)
        h = (r.market[self.cluster] + m.cloud_cell_rate[self.cell]
             + r.peer_mult[self.cluster] * peer + m.cloud_park_rate[self.park])
        if m.cloud_pull > 0:
            h += m.cloud_pull * self.leader_transformed_share()
        return self.readiness * h

    def transform_hazard(self) -> float:
        """Transformation hazard of an above-scale firm on the cloud (peers: above-scale firms)."""
        m = self.model
        r, s = m.transform_params, m.shares
        park_share, area_share = s.nested("transformed", self.park, self.area)
        peer = (r.chain * self.chain_transformed_share()
                + r.park * park_share
                + r.area * area_share
                + r.province * s.province_transformed)
        h = (r.market[self.cluster] + m.transform_cell_rate[self.cell]
             + r.peer_mult[self.cluster] * peer + m.transform_park_rate[self.park])
        if m.transform_pull > 0:
            h += m.transform_pull * self.leader_transformed_share()
        return self.readiness * h

    # ------------------------------------------------------------------ the two phases

    def decide(self) -> None:
        """Phase 1: read the start-of-step state, record what the firm would do."""
        m = self.model
        self._clear_intent()
        if self.cloud_state == NONE:
            self._decide_cloud()
        elif self.cloud_state == ON_CLOUD:
            if self.is_above and self.transformed_month is None:
                self.next_lam_transform = self.lam_transform + self.transform_hazard() * m.dt
                self.transforms = self.next_lam_transform >= self.thr_transform
            if (m.churn_rate > 0 and self.subsidised and self.subsidy_end is not None
                    and self.subsidy_end <= m.month):
                # Churn of a subsidised adopter once its subsidy has ended.
                self.next_lam_churn = self.lam_churn + m.churn_rate * m.dt
                self.churns = self.next_lam_churn >= self.thr_churn

    def _decide_cloud(self) -> None:
        """Cloud stage. An eligible firm, while its voucher pot has money, has the voucher push
        added to its hazard; if that makes it cross its threshold it claims a voucher (granted
        by the model in priority order). A claimant left without a voucher decides again
        without the push for this step."""
        m = self.model
        self.lam_without_voucher = self.lam_cloud + self.cloud_hazard() * m.dt
        push = m.voucher_push(self)
        if push > 0:
            self.lam_with_voucher = self.lam_without_voucher + push * m.dt
            if self.lam_with_voucher >= self.thr_cloud:
                self.claims_voucher = True  # outcome decided between the phases
                return
            # Not adopting: the push still accumulates (it acts while money is left), unless
            # the one-off rule of commit 129bb03 is asked for.
            self.next_lam_cloud = (self.lam_with_voucher if m.voucher_push_cumulative
                                   else self.lam_without_voucher)
        else:
            self.next_lam_cloud = self.lam_without_voucher
        self.adopts = self.next_lam_cloud >= self.thr_cloud

    def apply(self) -> None:
        """Phase 2: apply the firm's own decision (all firms decided on the same state)."""
        m = self.model
        if self.claims_voucher:
            if self.voucher_granted:
                self.next_lam_cloud = self.lam_with_voucher
                self.subsidised = True
                self.adopts = True
            else:
                self.next_lam_cloud = self.lam_without_voucher
                self.adopts = self.lam_without_voucher >= self.thr_cloud
        self.lam_cloud = self.next_lam_cloud
        self.lam_transform = self.next_lam_transform
        self.lam_churn = self.next_lam_churn
        if self.adopts:
            self.cloud_state = WAITING
            m.new_waiting.append(self)
        if self.transforms:
            self.transformed_month = m.month
            m.month_new_transformed += 1
        if self.churns:
            self.cloud_state = CHURNED

    def onboard(self) -> None:
        """A service provider puts the waiting firm on the cloud; a subsidy starts running."""
        m = self.model
        self.cloud_state = ON_CLOUD
        self.cloud_month = m.month
        if self.subsidised:
            self.subsidy_end = m.month + m.subsidy_months
        m.month_new_cloud += 1

    def __repr__(self) -> str:
        return (f"Firm({self.index}: {self.size_class}, {self.cluster}, {self.city}, "
                f"{self.cloud_state}, transformed={self.transformed_month})")


class ReferenceModel(mesa.Model):
    """The rules of :class:`sim.core.model.CloudAdoptionModel`, one agent at a time.

    Args:
        config: the scenario (default: all defaults).
        replicate: replicate index; its seed is child ``replicate`` of ``config.run.seed``.
        population: the population to use (default: built from the replicate's structure seed,
            exactly as the model does).
        voucher_push_cumulative: True (the documented rule, ``VoucherBudget`` docstring): an
            eligible firm has the voucher push in its hazard in every step its pot has money,
            so the push accumulates in its cumulative hazard. False: the rule of commit 129bb03,
            where a firm that did not adopt in a step kept no trace of the push.
    """

    firm_class: type[Firm] = Firm
    """The agent class (the tuned variant, reference_mesa_tuned.py, substitutes its own)."""

    def __init__(self, config: Scenario | None = None, *, replicate: int = 0,
                 population: Population | None = None, voucher_push_cumulative: bool = True):
        config = config if config is not None else Scenario()
        super().__init__(rng=config.run.seed)
        self.config = config
        self.voucher_push_cumulative = voucher_push_cumulative
        self.month = 0
        self.n_months = month_number(config.time.end) - month_number(config.time.start)
        self.substeps = config.time.substeps_per_month
        self.dt = 1.0 / (12.0 * self.substeps)
        streams = spawn_streams(run_seed(config.run.seed, replicate))
        pop = population if population is not None else build_population(
            config, structure_seed(config, streams))
        self.pop_scale = config.population.total_firms / 2_000_000
        self.n_parks = pop.n_parks

        self._create_firms(pop, streams)
        self.rng_refusal = np.random.default_rng(streams["voucher_refusal"])
        self._choose_initial_adopters(pop, np.random.default_rng(streams["initial"]))
        self.firms = AgentSet([f for f in self.all_firms if f.entry_month == 0], random=self.random)
        for f in self.firms:
            f.present = True
        self.entrants: dict[int, list[Firm]] = {}
        self.leavers: dict[int, list[Firm]] = {}
        for f in self.all_firms:
            if f.entry_month > 0:
                self.entrants.setdefault(f.entry_month, []).append(f)
            if f.exit_month is not None:
                self.leavers.setdefault(f.exit_month, []).append(f)

        self.cloud_params = StageParams.from_rates(config.diffusion.cloud)
        self.transform_params = StageParams.from_rates(config.diffusion.transform)
        self.churn_rate = config.diffusion.churn_rate_per_year
        self.instruments = build_instruments(config, pop, np.random.default_rng(streams["pilots"]),
                                             self.n_months)
        self._init_vouchers(config)
        self._init_service_capacity(config)
        self.queue: deque[Firm] = deque()
        self.new_waiting: list[Firm] = []
        self.month_new_cloud = self.month_new_transformed = 0
        self.month_voucher_spend = 0.0
        self.datacollector = mesa.DataCollector(model_reporters={
            "n_firms": lambda m: len(m.firms),
            "cloud_cumulative": lambda m: sum(f.cloud_month is not None for f in m.all_firms),
            "cloud_active": lambda m: sum(f.cloud_state == ON_CLOUD for f in m.firms),
            "transformed": lambda m: sum(f.transformed_month is not None for f in m.all_firms),
            "new_cloud": lambda m: m.month_new_cloud,
            "new_transformed": lambda m: m.month_new_transformed,
            "voucher_spend_cny": lambda m: m.month_voucher_spend,
            "waiting": lambda m: sum(f.cloud_state == WAITING for f in m.firms),
        })
        self.datacollector.collect(self)

    # ------------------------------------------------------------------ set-up

    def _create_firms(self, pop: Population, streams: dict[str, np.random.SeedSequence]) -> None:
        """One agent per firm of the population, with the model's random numbers."""
        n = pop.n_firms

        def exp_thresholds(name: str) -> list[float]:
            return np.random.default_rng(streams[name]).standard_exponential(n, dtype=np.float32).tolist()

        thr_cloud = exp_thresholds("threshold_cloud")
        thr_transform = exp_thresholds("threshold_transform")
        thr_churn = exp_thresholds("threshold_churn")
        priority = np.random.default_rng(streams["priority"]).random(n, dtype=np.float32).tolist()
        clusters, cities, sizes = datasets.cluster_ids(), datasets.city_names(), datasets.SIZE_CLASSES
        cols = {name: getattr(pop, name).tolist() for name in (
            "cluster", "city", "size_class", "cell", "park", "readiness", "revenue_cny",
            "birth_month", "entry_month", "exit_month")}
        self.all_firms: list[Firm] = []
        for i in range(n):
            exit_month = cols["exit_month"][i]
            self.all_firms.append(self.firm_class(
                self, i, cluster=clusters[cols["cluster"][i]], city=cities[cols["city"][i]],
                size_class=sizes[cols["size_class"][i]], cell=cols["cell"][i], park=cols["park"][i],
                readiness=cols["readiness"][i], revenue_cny=cols["revenue_cny"][i],
                birth_month=cols["birth_month"][i], entry_month=cols["entry_month"][i],
                exit_month=None if exit_month == NEVER else exit_month,
                thr_cloud=thr_cloud[i], thr_transform=thr_transform[i], thr_churn=thr_churn[i],
                priority=priority[i]))
        indptr, indices = pop.adj_indptr.tolist(), pop.adj_indices.tolist()
        for i, f in enumerate(self.all_firms):
            f.partners = [self.all_firms[j] for j in indices[indptr[i]:indptr[i + 1]]]

    def _initial_targets(self) -> tuple[int, int]:
        """Cloud and transformed firms at the start: given, or the reported figures scaled."""
        cfg = self.config
        ym = (int(cfg.time.start[:4]), int(cfg.time.start[5:7]))

        def target(value: int | None, indicator: str) -> int:
            if value is not None:
                return int(value)
            return int(round(datasets.interpolate_progress(indicator, ym) * self.pop_scale))

        return (target(cfg.initial.cloud_firms, "cloud_enterprises_cumulative"),
                target(cfg.initial.transformed_firms, "above_scale_transformed_cumulative"))

    def _choose_initial_adopters(self, pop: Population, rng: np.random.Generator) -> None:
        """Initial adopters, weighted by readiness, without replacement.

        Each initial firm gets the key ``log(u) / readiness`` (Efraimidis-Spirakis); the firms
        with the largest keys are chosen: first the transformed firms among above-scale firms,
        then more above-scale cloud firms up to ``above_scale_cloud_share``, then SMEs up to the
        cloud total.
        """
        initial = self.all_firms[:pop.n_initial]
        u = rng.random(len(initial)).tolist()
        key = {f: math.log(max(ui, 1e-300)) / max(f.readiness, 1e-12) for f, ui in zip(initial, u, strict=True)}

        def top(group: list[Firm], k: int) -> list[Firm]:
            return sorted(group, key=key.__getitem__, reverse=True)[:max(k, 0)]

        cloud0, trans0 = self._initial_targets()
        above = [f for f in initial if f.is_above]
        smes = [f for f in initial if not f.is_above]
        above_cloud = max(trans0, int(round(self.config.initial.above_scale_cloud_share * len(above))))
        above_cloud = min(above_cloud, len(above), cloud0)
        transformed = top(above, trans0)
        chosen = set(transformed)
        cloud_above = transformed + top([f for f in above if f not in chosen], above_cloud - trans0)
        for f in cloud_above + top(smes, cloud0 - len(cloud_above)):
            f.cloud_state, f.cloud_month = ON_CLOUD, 0
        for f in transformed:
            f.transformed_month = 0

    def _init_vouchers(self, config: Scenario) -> None:
        """上云上平台 vouchers: a yearly budget paid first come first served (see ``voucher_push``)."""
        v = config.policies.vouchers
        self.voucher_spec = v
        self.voucher_cny = v.voucher_cny
        self.voucher_rate = v.rate_per_year_at_full_subsidy * v.subsidy_share * v.scale
        self.vouchers_active = v.enabled and v.scale > 0 and v.budget_cny_per_year > 0 and self.voucher_cny > 0
        self.voucher_window = (self.month_of(v.start), self.month_of(v.end))
        self.voucher_budget = v.budget_cny_per_year * self.pop_scale  # budgets are for 2 M firms
        self.subsidy_months = v.subsidy_months
        self.voucher_pots: dict[str | None, float] = {}
        self.pot_open: dict[str | None, bool] = {}
        for f in self.all_firms:  # the static rules: prior-year revenue, city not excluded
            f.voucher_rules_met = f.revenue_cny >= v.min_revenue_cny and f.city not in v.excluded_cities

    def _init_service_capacity(self, config: Scenario) -> None:
        s = config.policies.service_capacity
        self.capacity_spec = s
        self.capacity_active = s.enabled and s.scale > 0
        self.capacity_window = (self.month_of(s.start), self.month_of(s.end))
        self.capacity_allowance = 0.0

    def month_of(self, ym: str) -> int:
        """Month index of a ``YYYY-MM`` month (0 = the initial state)."""
        return month_number(ym) - month_number(self.config.time.start)

    def month_in_year(self, k: int) -> int:
        return (month_number(self.config.time.start) + k) % 12 + 1

    # ------------------------------------------------------------------ policies

    def vouchers_on(self, k: int) -> bool:
        s, e = self.voucher_window
        return self.vouchers_active and s <= k <= e

    def pot_of(self, firm: Firm) -> str | None:
        """The budget pot a firm draws on: its city's quota, or the single provincial pot."""
        return firm.city if self.voucher_spec.city_quota_shares else None

    def reset_voucher_budget(self, k: int) -> None:
        """New money in January, pro rata for the rest of the year in the first month."""
        if not self.vouchers_on(k):
            return
        first = k == max(1, self.voucher_window[0])
        if not (first or self.month_in_year(k) == 1):
            return
        months_left = 13 - self.month_in_year(k) if first else 12
        fresh = self.voucher_budget * months_left / 12.0
        quotas = self.voucher_spec.city_quota_shares
        new = ({c: fresh * quotas.get(c, 0.0) for c in datasets.city_names()} if quotas else {None: fresh})
        carry = self.voucher_spec.carry_over_unspent and not first
        self.voucher_pots = {p: (self.voucher_pots.get(p, 0.0) if carry else 0.0) + x for p, x in new.items()}

    def voucher_push(self, firm: Firm) -> float:
        """Added cloud hazard per year of a firm from the voucher programme this step.

        ``rate x subsidy_share x scale x readiness`` if the programme acts this month, a voucher
        can still be paid from the firm's pot, the firm's revenue is at least the minimum, its
        city is not excluded (Shenzhen) and it is at least ``min_age_months`` old; else 0.
        """
        if not (firm.voucher_rules_met and self.pot_open.get(self.pot_of(firm), False)):
            return 0.0
        if firm.birth_month > self.month - self.voucher_spec.min_age_months:
            return 0.0
        return self.voucher_rate * firm.readiness

    def open_pots(self) -> dict[str | None, bool]:
        """Pots that can still pay a voucher at the start of the step (none if the programme
        does not act this month)."""
        if not self.vouchers_on(self.month) or self.voucher_rate <= 0:
            return {}
        return {pot: left >= self.voucher_cny for pot, left in self.voucher_pots.items()}

    def grant_vouchers(self) -> None:
        """Claimants in fixed priority order (ties: firm index) get a voucher while money lasts."""
        claimants = sorted((f for f in self.firms if f.claims_voucher), key=lambda f: (f.priority, f.index))
        refused = []
        for f in claimants:
            pot = self.pot_of(f)
            if self.voucher_pots[pot] >= self.voucher_cny:
                self.voucher_pots[pot] -= self.voucher_cny
                f.voucher_granted = True
                self.month_voucher_spend += self.voucher_cny
            elif f.lam_without_voucher < f.thr_cloud:
                refused.append(f)
        # A refused claimant that its hazard without the push does not carry over its threshold
        # did not decide: it draws a new threshold Exp(1) above its cumulative hazard (the
        # exponential clock is memoryless), in priority order.
        fresh = self.rng_refusal.standard_exponential(len(refused), dtype=np.float32)
        for f, e in zip(refused, fresh.tolist(), strict=True):
            f.thr_cloud = float(np.float32(np.float32(f.lam_without_voucher) + np.float32(e)))

    def service_capacity(self, k: int) -> int | None:
        """Onboardings allowed in this step (None: unlimited); fractions carry over.

        ``scale`` is the strength of the constraint: the capacity is divided by it (scale 0 =
        no constraint, like disabled).
        """
        s, e = self.capacity_window
        spec = self.capacity_spec
        if not (self.capacity_active and s <= k <= e):
            return None
        per_month = self.pop_scale * spec.onboardings_per_month * (1 + spec.growth_per_year) ** ((k - max(s, 1)) / 12)
        self.capacity_allowance += per_month / spec.scale / self.substeps
        n = math.floor(self.capacity_allowance)
        self.capacity_allowance -= n
        return n

    def _rates(self, method: str, k: int, size: int) -> list[float]:
        total = np.zeros(size)
        for name in RATE_INSTRUMENTS:
            r = getattr(self.instruments[name], method)(k)
            if r is not None:
                total = total + r
        return total.tolist()

    # ------------------------------------------------------------------ dynamics

    def count_peers(self) -> PeerCounts:
        """Park, cluster-city and provincial counts over the present firms, from scratch."""
        c = PeerCounts(*(Counter() for _ in range(8)))
        for f in self.firms:
            on = f.cloud_state == ON_CLOUD
            tr = f.transformed_month is not None
            c.park_firms[f.park] += 1
            c.area_firms[f.area] += 1
            c.firms += 1
            if on:
                c.park_cloud[f.park] += 1
                c.area_cloud[f.area] += 1
                c.cloud += 1
            if f.is_above:
                c.park_above[f.park] += 1
                c.area_above[f.area] += 1
                c.above += 1
            if tr:
                c.park_transformed[f.park] += 1
                c.area_transformed[f.area] += 1
                c.transformed += 1
        return c

    def step(self) -> None:
        """One month."""
        if self.month >= self.n_months:
            self.running = False
            return
        k = self.month = self.month + 1
        for f in self.entrants.get(k, []):
            f.present = True
            self.firms.add(f)
        for f in self.leavers.get(k, []):
            if f.present:  # exited firms keep their cumulative adoption, leave every active count
                f.present = False
                self.firms.discard(f)
        n_parks = self.n_parks
        self.cloud_cell_rate = self._rates("cloud_cell_rate", k, N_CELLS)
        self.transform_cell_rate = self._rates("transform_cell_rate", k, N_CELLS)
        self.cloud_park_rate = self._rates("cloud_park_rate", k, n_parks)
        self.transform_park_rate = self._rates("transform_park_rate", k, n_parks)
        self.cloud_pull, self.transform_pull = self.instruments["chain_leaders"].pulls(k)
        self.reset_voucher_budget(k)
        self.month_new_cloud = self.month_new_transformed = 0
        self.month_voucher_spend = 0.0
        for _ in range(self.substeps):
            self.shares = self.count_peers().shares()
            self.pot_open = self.open_pots()
            self.firms.do("decide")
            self.grant_vouchers()
            self.new_waiting = []
            self.firms.do("apply")
            # Firms that decided in the same step queue in priority order (ties: index).
            self.queue.extend(sorted(self.new_waiting, key=lambda f: (f.priority, f.index)))
            self.onboard(k)
        self.datacollector.collect(self)
        if self.month >= self.n_months:
            self.running = False

    def onboard(self, k: int) -> None:
        """Onboard waiting firms first come first served up to the capacity of the step."""
        cap = self.service_capacity(k)
        done = 0
        while self.queue and (cap is None or done < cap):
            f = self.queue.popleft()
            if f.present and f.cloud_state == WAITING:  # exited firms leave the queue
                f.onboard()
                done += 1

    def run(self) -> dict[str, np.ndarray]:
        """Run to the end of the horizon; monthly totals of each metric (months 0..n)."""
        remaining = self.n_months - self.month
        if remaining > 0:
            self.run_for(remaining)
        return self.totals()

    def totals(self) -> dict[str, np.ndarray]:
        df = self.datacollector.get_model_vars_dataframe()
        return {m: df[m].to_numpy(dtype=float) for m in METRICS}
