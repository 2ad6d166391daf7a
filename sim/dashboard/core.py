"""The dashboard's model: :class:`CloudAdoptionModel` with the levers as plain keyword arguments.

Nothing here imports Solara, so the model and the data behind every chart can be built and
stepped in-process (tests, notebooks) without the web stack.

Each lever is one keyword argument of :class:`DashboardModel` (what Mesa's ``SolaraViz`` passes
when the user presses *Reset*), in the unit shown on its slider, and maps to one scenario path.
Money and service capacity are **province-wide** figures, as in the scenario files: the model
scales them by ``total_firms / 2,000,000`` (``sim.scenario.schema``), so a slider keeps its meaning
when the population size changes.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from sim import datasets
from sim.analysis.outcomes import scaled_goals
from sim.core.model import CloudAdoptionModel
from sim.core.policies import N_CLUSTERS, cell_grid
from sim.core.population import DEFAULT_TOTAL_FIRMS, NEVER
from sim.core.state import CHURNED, NONE, ON_CLOUD, WAITING
from sim.dashboard import guard
from sim.scenario.parameters import Categorical, Integer, Parameter, Real
from sim.scenario.paths import get_value
from sim.scenario.schema import Scenario

DEFAULT_POPULATION = 50_000
"""Default simulated population: 1 : 40 of the province, small enough to step in milliseconds."""

NETWORK_SAMPLE = 150
"""Firms drawn for the supply-chain network view (plus their partners)."""

LAYOUT_SEED = 7
"""Seed of the network layout and of the firm sample, so a reset with the same levers redraws the
same picture."""


_SERIAL = itertools.count(1)


@dataclass(frozen=True)
class Lever:
    """One slider or switch: keyword name, scenario path, label, range and unit factor.

    ``factor`` converts the slider value to the scenario value (e.g. million CNY -> CNY).
    ``kind`` is ``"int"``, ``"float"``, ``"bool"`` or ``"text_int"`` (an integer typed in a box).
    """

    name: str
    path: str
    label: str
    kind: str
    min: float = 0
    max: float = 1
    step: float = 1
    factor: float = 1.0
    group: str = "lever"

    def default(self) -> Any:
        if self.name == "total_firms":
            return DEFAULT_POPULATION
        value: Any = get_value(Scenario(), self.path)
        if self.kind == "bool":
            return bool(value)
        value = value / self.factor
        return int(round(value)) if self.kind in ("int", "text_int") else float(value)

    def parameter(self) -> Parameter:
        """The lever in the one parameter vocabulary (:mod:`sim.scenario.parameters`), in scenario
        units: a switch is categorical, an integer slider an integer, the others real."""
        if self.kind == "bool":
            return Categorical(self.name, (self.path,), (False, True))
        if self.kind == "text_int":  # typed in a box (the seed): any 32-bit value
            return Integer(self.name, (self.path,), 0, 2**32 - 1)
        lo, hi = self.to_scenario(self.min), self.to_scenario(self.max)
        if self.kind == "int":
            return Integer(self.name, (self.path,), int(lo), int(hi))
        return Real(self.name, (self.path,), float(lo), float(hi))

    def to_scenario(self, value: Any) -> Any:
        if self.kind == "bool":
            return bool(value)
        if self.kind == "text_int":
            try:
                return int(str(value).strip().replace(",", "")) * int(self.factor)
            except ValueError:
                raise ValueError(f"{self.label} must be a whole number, got {value!r}") from None
        if self.kind == "int":
            return int(round(float(value) * self.factor))
        return float(value) * self.factor


LEVERS: tuple[Lever, ...] = (
    Lever("voucher_budget_m_cny", "policies.vouchers.budget_cny_per_year",
          "Voucher budget, million CNY / year (province-wide)", "int", 0, 2000, 25, factor=1e6),
    Lever("voucher_subsidy_share", "policies.vouchers.subsidy_share",
          "Voucher subsidy: government share of a cloud contract", "float", 0.0, 1.0, 0.05),
    Lever("chain_leaders_on", "policies.chain_leaders.enabled",
          "Chain-leader programme on", "bool"),
    Lever("chain_leader_strength", "policies.chain_leaders.scale",
          "Chain-leader programme strength, x assumed effect", "float", 0.0, 5.0, 0.25),
    Lever("service_capacity_per_month", "policies.service_capacity.onboardings_per_month",
          "Service capacity, onboardings / month (province-wide, 2021)", "int", 1000, 60_000, 1000),
    Lever("cloud_market_rate", "diffusion.cloud.market_rate_per_year",
          "Uncertain: market pull to the cloud, hazard / year", "float", 0.0, 0.3, 0.005,
          group="uncertainty"),
    Lever("chain_peer_weight", "diffusion.cloud.chain_weight_per_year",
          "Uncertain: peer effect of supply-chain partners, / year", "float", 0.0, 0.3, 0.005,
          group="uncertainty"),
    Lever("park_peer_weight", "diffusion.cloud.park_weight_per_year",
          "Uncertain: peer effect within the industrial park, / year", "float", 0.0, 0.3, 0.005,
          group="uncertainty"),
    Lever("cluster_city_peer_weight", "diffusion.cloud.cluster_city_weight_per_year",
          "Uncertain: peer effect of the cluster in the city, / year", "float", 0.0, 0.3, 0.005,
          group="uncertainty"),
    Lever("total_firms", "population.total_firms",
          "Simulated firms at the start (province: 2,000,000)", "int", 10_000, 2_000_000, 10_000,
          group="run"),
    Lever("seed", "run.seed", "Random seed", "text_int", group="run"),
)
"""The dashboard's levers (policy), uncertainties (behaviour) and run settings, in sidebar order."""

LEVER_BY_NAME = {lv.name: lv for lv in LEVERS}


def default_levers() -> dict[str, Any]:
    """Every lever's default value (the scenario defaults, population 50,000)."""
    return {lv.name: lv.default() for lv in LEVERS}


def lever_overrides(**levers: Any) -> dict[str, Any]:
    """Double-underscore scenario overrides for the given lever values."""
    out = {}
    for name, value in levers.items():
        lv = LEVER_BY_NAME[name]
        out[lv.path.replace(".", "__")] = lv.to_scenario(value)
    return out


# Firm stages shown in the network view, in legend order.
STAGES: tuple[str, ...] = ("not in the market (yet)", "not on the cloud", "waiting for service",
                           "on the cloud", "transformed")
ABSENT, OFF, QUEUED, ON, TRANSFORMED = range(len(STAGES))


@dataclass
class NetworkSample:
    """A fixed sample of firms and their supply-chain partners, laid out once."""

    nodes: np.ndarray  # firm indices (sampled firms first)
    sampled: np.ndarray  # bool per node: drawn in the sample (vs. a partner of one)
    edges: np.ndarray  # (m, 2) positions into ``nodes``
    pos: np.ndarray  # (n, 2) layout coordinates


class DashboardModel(CloudAdoptionModel):
    """:class:`CloudAdoptionModel` built from the dashboard's levers (see :data:`LEVERS`).

    Args:
        config: base scenario (default: all defaults); levers override it.
        **kwargs: lever values by name (unit of the slider), and any other
            double-underscore scenario override accepted by :class:`CloudAdoptionModel`.
    """

    def __init__(self, config: Scenario | None = None, **kwargs: Any):
        # Mesa's SolaraViz passes its own (experimental) ``scenario`` object on Reset; the
        # randomness of this model comes from the seed lever, so it is not used.
        kwargs.pop("scenario", None)
        kwargs.pop("rng", None)  # the seed lever sets the randomness (rng=None would be unseeded)
        levers = default_levers()
        extra = {}
        for key, value in kwargs.items():
            if key in LEVER_BY_NAME:
                levers[key] = value
            else:
                extra[key] = value
        # The page's values are not trusted: checked on the server, refused ones shown as messages.
        levers, self.input_messages = guard.check_levers(LEVERS, levers, config)
        levers["total_firms"], busy = guard.admit(self, levers["total_firms"], DEFAULT_POPULATION)
        self.input_messages += [busy] if busy else []
        self.levers = levers
        self.serial = next(_SERIAL)  # tells a page (and a test) that Reset built a new model
        super().__init__(config, **lever_overrides(**levers), **extra)

    # ------------------------------------------------------------------ scale and goals

    @property
    def scale(self) -> float:
        """Simulated population / province (2,000,000 firms at the start)."""
        return self.config.population.total_firms / DEFAULT_TOTAL_FIRMS

    @property
    def goal_cloud(self) -> float:
        """The 1,000,000-firm cloud goal at this population's scale (:mod:`sim.analysis.outcomes`)."""
        return float(scaled_goals(self.config).cloud_firms)

    @property
    def goal_transformed(self) -> float:
        """The 50,000-firm transformation goal at this population's scale."""
        return float(scaled_goals(self.config).transformed_firms)

    # ------------------------------------------------------------------ series for the charts

    def series(self) -> dict[str, np.ndarray]:
        """Provincial monthly series from the start to the current month (model counts)."""
        df = self.datacollector.get_model_vars_dataframe()
        out = {c: df[c].to_numpy() for c in df.columns if c != "date"}
        out["date"] = np.array(df["date"].to_numpy(), dtype="datetime64[D]")
        return out

    def reported(self, indicator: str) -> list[tuple[np.datetime64, float]]:
        """Reported figures of ``indicator`` within the horizon, scaled to this population."""
        lo, hi = np.datetime64(self.dates[0]), np.datetime64(self.dates[-1])
        out = []
        for r in datasets.reported_progress():
            d = np.datetime64(str(r["date"]))
            if r["indicator"] == indicator and lo <= d <= hi:
                out.append((d, float(r["value"]) * self.scale))  # type: ignore[arg-type]
        return out

    def cluster_shares(self, month: int | None = None) -> np.ndarray:
        """Share of firms present ever on the cloud, per cluster, at ``month`` (default now)."""
        k = self.month if month is None else month
        cl = cell_grid()[0]
        n = np.bincount(cl, weights=self.cube[k, :, 0], minlength=N_CLUSTERS)
        cum = np.bincount(cl, weights=self.cube[k, :, 1], minlength=N_CLUSTERS)
        return cum / np.maximum(n, 1.0)

    def province_share(self, month: int | None = None) -> float:
        k = self.month if month is None else month
        return float(self.cube[k, :, 1].sum() / max(self.cube[k, :, 0].sum(), 1.0))

    def capacity_per_month(self) -> np.ndarray:
        """Onboarding capacity of months 0..n (model scale; NaN where unconstrained), as in
        :class:`sim.core.policies.ServiceQueue` (read without touching its running allowance)."""
        q = self.instruments["service_capacity"]
        out = np.full(self.n_months + 1, np.nan)
        if not q.active:
            return out
        for k in range(1, self.n_months + 1):
            cap = q.capacity_per_month(k)
            if cap is not None:
                out[k] = cap
        return out

    def voucher_budget_per_year(self) -> dict[int, float]:
        """Voucher money available per calendar year (model scale, CNY), pro rata in the
        first year, as in :class:`sim.core.policies.VoucherBudget` (no carry-over shown)."""
        v = self.instruments["vouchers"]
        return v.budget_by_year() if v.active else {}

    # ------------------------------------------------------------------ network sample

    @cached_property
    def network(self) -> NetworkSample:
        """150 firms present at the start (fixed seed) and their partners, with a fixed layout.

        The same for every model built on the same population (seed and population levers), so
        it is computed once and reused after a Reset that changes only policies.
        """
        key = (self.config.run.seed, self.replicate, self.config.population.model_dump_json(),
               NETWORK_SAMPLE, LAYOUT_SEED)
        net = _NETWORK_CACHE.get(key)
        if net is None:
            net = _NETWORK_CACHE[key] = build_network_sample(self.pop)
            while len(_NETWORK_CACHE) > 8:
                _NETWORK_CACHE.pop(next(iter(_NETWORK_CACHE)))
        return net

    def network_stages(self) -> np.ndarray:
        """Stage code (index into :data:`STAGES`) of every node of :attr:`network` now."""
        f = self.network.nodes
        st = self.cloud_state[f]
        out = np.full(f.size, OFF, dtype=np.int8)
        out[st == WAITING] = QUEUED
        out[st == ON_CLOUD] = ON
        out[(st == NONE) | (st == CHURNED)] = OFF
        out[self.trans_month[f] != NEVER] = TRANSFORMED
        out[~self.present[f]] = ABSENT
        return out


_NETWORK_CACHE: dict[tuple, NetworkSample] = {}


def build_network_sample(pop, n: int = NETWORK_SAMPLE, seed: int = LAYOUT_SEED) -> NetworkSample:
    """Draw ``n`` of the firms present at the start, add their supply-chain partners, keep every
    link among these firms (the induced subgraph) and lay it out (:func:`packed_layout`)."""
    import networkx as nx

    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(pop.n_initial, size=min(n, pop.n_initial), replace=False)).astype(np.int64)
    partners = np.setdiff1d(np.unique(pop.neighbours(sample)), sample)
    nodes = np.concatenate((sample, partners))
    where = {int(f): i for i, f in enumerate(nodes)}
    g = nx.Graph()
    g.add_nodes_from(range(nodes.size))
    ptr, ind = pop.adj_indptr, pop.adj_indices
    for i, f in enumerate(nodes):
        for p in ind[ptr[f]:ptr[f + 1]]:
            j = where.get(int(p))
            if j is not None and j > i:
                g.add_edge(i, j)
    xy = packed_layout(g, seed=seed)
    edges = np.array(list(g.edges()), dtype=np.int64).reshape(-1, 2)
    return NetworkSample(nodes=nodes, sampled=np.arange(nodes.size) < sample.size, edges=edges, pos=xy)


def packed_layout(g, *, seed: int = LAYOUT_SEED, aspect: float = 2.3) -> np.ndarray:
    """Positions of the nodes ``0..n-1`` of ``g``: a spring layout of each connected component,
    components packed in rows, largest first (a sample of a sparse network is many small
    stars; one spring layout of the whole would be slow and scatter them on a ring)."""
    import networkx as nx

    n = g.number_of_nodes()
    xy = np.zeros((n, 2))
    comps = sorted((sorted(c) for c in nx.connected_components(g)), key=lambda c: (-len(c), c[0]))
    radius = [0.35 * np.sqrt(len(c)) + 0.15 for c in comps]
    gap = 0.2
    width = np.sqrt(aspect * sum((2 * r + gap) ** 2 for r in radius))
    x = y = row_h = 0.0
    for c, r in zip(comps, radius, strict=True):
        if len(c) == 1:
            local = np.zeros((1, 2))
        else:
            pos = nx.spring_layout(g.subgraph(c), seed=seed, iterations=60)
            local = np.array([pos[i] for i in c])
            local -= local.mean(axis=0)
            local *= (r - 0.1) / max(np.sqrt((local**2).sum(axis=1)).max(), 1e-9)
        if x > 0 and x + 2 * r > width:
            x, y, row_h = 0.0, y - row_h - gap, 0.0
        xy[c] = local + (x + r, y - r)
        x += 2 * r + gap
        row_h = max(row_h, 2 * r)
    return xy
