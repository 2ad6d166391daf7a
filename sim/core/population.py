"""Build the synthetic firm population at 1:1 scale: firms, parks, supply-chain links.

Long function: :func:`build_population` (about 100 lines) draws the columns in one fixed order
from six named random streams (assignment, parks, links, readiness, revenue, exit); keeping the
draws in one body keeps that order visible, and the order is what makes the same seed give the
same bytes (``tests/test_population_build.py``). The supply links are in :mod:`sim.core.links`,
the columns drawn a block of firms at a time (city, readiness, revenue, birth, exit) in
:mod:`sim.core.columns`.

The population is a set of NumPy columns (one row per firm) plus a CSR adjacency of supply-chain
links. Firms that enter during the run are allocated up front and ordered by entry month, so the
firms present in month ``k`` are always the prefix ``[0, n_present[k])`` of every column.

Derivation of the default population (``docs/model.md`` has the full text):

* 2,000,000 firms at 2021-06-30 that can be counted toward the 1,000,000 cloud goal
  (``PopulationSpec.total_firms``).
* Industrial firms = 33.4% of them (~668,000): the industrial legal units of the 4th (584,400,
  end-2018) and 5th (763,800, end-2023) economic censuses interpolated geometrically to mid-2021
  (``population.csv``).
* Above-scale industrial firms (规上): 62,416 at mid-2021, linear between 58,504 (end-2020) and
  66,329 (end-2021), 广东统计年鉴2024 table 12-6; of them 300 chain leaders (ASSUMPTION).
* The rest (~1.33 M) are service and trade SMEs around the clusters (ASSUMPTION).
* Entry: above-scale firms follow the year-end counts; below-scale industrial firms grow 5.5%/yr
  and service firms 8.3%/yr (census growth 2018-2023, ``population.csv``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from sim import datasets
from sim.core import column_kernel, columns, kernel, links, memory, setup_kernel
from sim.scenario.schema import Scenario
from sim.scenario.schema_population import PopulationSpec
from sim.scenario.schema_types import month_number

# Before the set-up's arrays exist (sim.core.memory says why): small pages, freed memory kept.
memory.use_small_pages()
memory.keep_freed_memory()

DEFAULT_TOTAL_FIRMS = 2_000_000
INDUSTRIAL_SHARE = 0.334
"""Industrial legal units / default population at mid-2021: 584,400 x 1.307^(2.5/5) = 668,000
(census, population.csv) over 2,000,000."""

LEAD, ABOVE, IND_SME, SERVICE = links.LEAD, links.ABOVE, links.IND_SME, links.SERVICE
N_SIZE = len(datasets.SIZE_CLASSES)
NEVER = np.iinfo(np.int16).max
"""Month index meaning 'never' in int16 month columns."""


@dataclass
class Population:
    """Static structure of the firms (nothing here changes during a run).

    Attributes:
        n_initial: firms present at the start (month 0).
        n_present: firms present in month k (prefix length), length n_months + 1.
        cluster, city, size_class: categorical columns (int8), ids index ``datasets``.
        cell: cluster x city x size-class cell id (int16), the unit of the output tables.
        park: industrial park/cluster-area id (int32); parks never span two clusters or cities.
        entry_month, birth_month, exit_month: month indices relative to the start (int16).
        readiness: digital-readiness multiplier of every hazard (float32).
        revenue_cny: annual revenue, CNY (float32), used for voucher eligibility.
        adj_indptr, adj_indices: symmetric CSR adjacency of supply-chain links (row pointers
            int32 below about a billion links, else int64; partner ids int32).
    """

    n_initial: int
    n_present: np.ndarray
    cluster: np.ndarray
    city: np.ndarray
    size_class: np.ndarray
    cell: np.ndarray
    park: np.ndarray
    park_cluster: np.ndarray
    park_city: np.ndarray
    entry_month: np.ndarray
    birth_month: np.ndarray
    exit_month: np.ndarray
    readiness: np.ndarray
    revenue_cny: np.ndarray
    adj_indptr: np.ndarray
    adj_indices: np.ndarray
    meta: dict = field(default_factory=dict)
    derived: dict = field(default_factory=dict, repr=False, compare=False)
    """Replicate-independent tables computed from this structure by its users (e.g. the model's
    static tables), kept with it so a reused population does not recompute them. Read-only."""

    @property
    def n_firms(self) -> int:
        return int(self.cluster.shape[0])

    @property
    def n_parks(self) -> int:
        return int(self.park_cluster.shape[0])

    def neighbours(self, firms: np.ndarray) -> np.ndarray:
        """Supply-chain partners of ``firms``, concatenated (with repeats), vectorized."""
        return kernel.gather_rows(self.adj_indptr, self.adj_indices, firms)

    def partner_counts(self, mask: np.ndarray) -> np.ndarray:
        """For every firm, how many of its supply-chain partners have ``mask`` set (float32).

        The adjacency is symmetric, so this is a count over the partners of the masked firms:
        one pass over their links, not over all links (exact integers, so the same values as a
        sparse product in any order). Compiled, a mask covering most firms (the firms present)
        is counted over every firm's own row instead: sequential reads of the links and a bit
        mask that stays in the cache, rather than a random float32 write per link (measured at
        5,000,000 firms: 0.10 against 0.18-0.25 s; at a quarter of the firms adding at the
        partners is faster).
        """
        if kernel.kernel_name() == "numba":
            if np.count_nonzero(mask) > self.n_firms // 2:  # (no index array of most firms)
                return setup_kernel.marked_partners(self.adj_indptr, self.adj_indices, mask)
            firms = np.flatnonzero(mask)
            out = np.zeros(self.n_firms, dtype=np.float32)
            kernel.add_to_partners(self.adj_indptr, self.adj_indices, firms, out, 1.0)
            return out
        firms = np.flatnonzero(mask)
        if firms.size and int(firms[-1]) - int(firms[0]) + 1 == firms.size:  # a contiguous block
            nb = self.adj_indices[self.adj_indptr[firms[0]]:self.adj_indptr[firms[-1] + 1]]
        else:
            nb = self.neighbours(firms)
        out = np.zeros(self.n_firms, dtype=np.float32)
        np.add.at(out, nb, np.float32(1))  # measured faster than bincount + astype
        return out

    def partners_before(self, k: int) -> np.ndarray:
        """For every firm, how many of its partners are among the first ``k`` firms (float32):
        :meth:`partner_counts` of that prefix (the firms present at the start are the first
        ``n_initial``), counted by a compare per link when compiled."""
        if kernel.kernel_name() == "numba":
            return setup_kernel.partners_below(self.adj_indptr, self.adj_indices, k)
        return self.partner_counts(np.arange(self.n_firms) < k)

    def start_partner_counts(self, present_dtype=np.float32) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For every firm, how many of its partners are present at the start (``present_dtype``,
        which must hold every firm's degree: e.g. int16, ``tables.partner_count_dtype``, written
        as such instead of converted from float32), present and above-scale (chain leaders
        included), and present chain leaders (float32): what :meth:`partner_counts` gives for
        those three masks.

        The firms present at the start are ordered by size class (:func:`build_population`:
        chain leaders, other above-scale firms, industrial SMEs, service SMEs), so each mask
        is a prefix of the firms and the three counts are compares per link, counted in one
        pass when compiled (checked: a population laid out otherwise is counted by masks).
        """
        n0 = self.n_initial
        initial = self.size_class[:n0]
        if kernel.kernel_name() == "numba" and not np.any(initial[1:] < initial[:-1]):
            ends = np.searchsorted(initial, np.array([LEAD, ABOVE], dtype=initial.dtype), side="right")
            return tuple(setup_kernel.partners_below_each(self.adj_indptr, self.adj_indices,
                                                          (n0, int(ends[1]), int(ends[0])), present_dtype))
        present = np.arange(self.n_firms) < n0
        above = present & (self.size_class <= ABOVE)
        return (self.partners_before(n0).astype(present_dtype, copy=False), self.partner_counts(above),
                self.partner_counts(above & (self.size_class == LEAD)))

    def nbytes(self) -> int:
        """Bytes of the arrays held, including the derived tables."""
        arrays = [v for v in vars(self).values() if isinstance(v, np.ndarray)]
        for table in self.derived.values():
            items = table.values() if isinstance(table, dict) else table if isinstance(table, tuple) else [table]
            arrays += [v for v in items if isinstance(v, np.ndarray)]
        return sum(v.nbytes for v in arrays)


def _scale_factor(spec: PopulationSpec) -> float:
    return spec.total_firms / DEFAULT_TOTAL_FIRMS


def population_scale(config: Scenario) -> float:
    """``total_firms / 2,000,000``: the factor by which default counts, budgets, capacities and
    goals are scaled for a population other than the default."""
    return _scale_factor(config.population)


DEFAULT_LEAD_FIRMS = 300
"""ASSUMPTION: 20 clusters x ~5 key chains x 2-3 chain leaders (百链 programme)."""


def _scaled(spec: PopulationSpec, name: str, default: float) -> int:
    """A count left null in the scenario scales with total_firms (a small demo keeps proportions)."""
    value = getattr(spec, name)
    if value is not None:
        return int(value)
    return int(round(default * _scale_factor(spec)))


def above_scale_path(spec: PopulationSpec, start_month: int, n_months: int) -> np.ndarray:
    """Above-scale firms (incl. leads) at the end of each month 0..n_months, at scenario scale."""
    years = sorted(spec.above_scale_year_end)
    xs = np.array([y * 12 + 11 for y in years], dtype=float)
    ys = np.array([spec.above_scale_year_end[y] for y in years], dtype=float)
    months = start_month + np.arange(n_months + 1)
    path = np.interp(months, xs, ys)  # flat before the first given year
    # ASSUMPTION: beyond the last given year-end the count grows at a constant rate (runs to 2030).
    after = months > xs[-1]
    path[after] = ys[-1] * (1 + spec.above_scale_growth_after_data_per_year) ** ((months[after] - xs[-1]) / 12)
    a0 = _scaled(spec, "above_scale_firms", path[0])
    return path * (a0 / path[0]) if path[0] > 0 else np.zeros_like(path)


def class_counts(config: Scenario) -> tuple[np.ndarray, np.ndarray]:
    """Initial firms per size class and entrants per month and size class.

    Returns:
        (initial[4], entrants[n_months + 1, 4]); entrants[0] is zero.
    """
    spec = config.population
    start = month_number(config.time.start)
    n_months = month_number(config.time.end) - start
    total = spec.total_firms
    industrial = _scaled(spec, "industrial_firms", INDUSTRIAL_SHARE * DEFAULT_TOTAL_FIRMS)
    industrial = min(industrial, total)
    above_path = above_scale_path(spec, start, n_months)
    above0 = min(int(round(above_path[0])), industrial)
    leads = _scaled(spec, "lead_firms", DEFAULT_LEAD_FIRMS)
    if spec.lead_firms is None:
        # Every cluster has chain leaders at full scale (at least 1.5 each); a smaller population
        # keeps at least one per cluster so that the supplier pull reaches every cluster (the
        # pull is a share of leader partners, so one leader carries it without bias).
        leads = max(leads, int(np.count_nonzero(_cluster_weights(spec)[0] > 0)))
    leads = min(leads, above0)
    initial = np.array([leads, above0 - leads, industrial - above0, total - industrial], dtype=np.int64)

    k = np.arange(n_months + 1)
    # Above-scale entrants follow the statistical-yearbook path; ASSUMPTION: firms crossing the
    # 20 M CNY threshold are modelled as entrants (the below-scale pool keeps its own growth).
    above_cum = np.maximum.accumulate(np.round(above_path).astype(np.int64))
    ind_cum = np.round(initial[IND_SME] * (1 + spec.industrial_growth_per_year) ** (k / 12)).astype(np.int64)
    svc_cum = np.round(initial[SERVICE] * (1 + spec.service_growth_per_year) ** (k / 12)).astype(np.int64)
    entrants = np.zeros((n_months + 1, N_SIZE), dtype=np.int64)
    entrants[1:, ABOVE] = np.maximum(np.diff(above_cum), 0)
    entrants[1:, IND_SME] = np.maximum(np.diff(np.maximum.accumulate(ind_cum)), 0)
    entrants[1:, SERVICE] = np.maximum(np.diff(np.maximum.accumulate(svc_cum)), 0)
    return initial, entrants


def _apportion_at_least_one(total: int, weights: np.ndarray) -> np.ndarray:
    """Largest-remainder apportionment, but every positive weight gets at least one item when
    ``total`` allows (the same as :func:`_apportion` when that already gives everyone one)."""
    base = _apportion(total, weights)
    positive = weights > 0
    if np.all(base[positive] >= 1) or total < int(positive.sum()):
        return base
    return positive.astype(np.int64) + _apportion(total - int(positive.sum()), weights)


def _apportion(total: int, weights: np.ndarray) -> np.ndarray:
    """Largest-remainder apportionment of ``total`` items to weights (deterministic)."""
    w = weights / weights.sum()
    raw = w * total
    base = np.floor(raw).astype(np.int64)
    rest = total - int(base.sum())
    if rest > 0:
        base[np.argsort(-(raw - base), kind="stable")[:rest]] += 1
    return base


def _cluster_weights(spec: PopulationSpec) -> tuple[np.ndarray, np.ndarray]:
    cl = datasets.clusters()
    shares = np.array([c.firm_share for c in cl], dtype=float)
    ready = np.array([c.digital_readiness for c in cl], dtype=float)
    ids = [c.cluster_id for c in cl]
    if spec.cluster_shares:
        for k, v in spec.cluster_shares.items():
            shares[ids.index(k)] = v
    if spec.cluster_readiness:
        for k, v in spec.cluster_readiness.items():
            ready[ids.index(k)] = v
    if shares.sum() <= 0:
        raise ValueError("population.cluster_shares: at least one cluster needs a positive share")
    return shares / shares.sum(), ready


def _city_weights() -> np.ndarray:
    # ASSUMPTION: firms are spread over cities like above-scale firms in 2021 (广东统计年鉴2024;
    # unreported cities share their region's remainder equally), except where the data or the
    # scenario say otherwise (city_weight_table).
    w = np.array(list(datasets.above_scale_by_city(2021).values()), dtype=float)
    return w / w.sum()


ELECTRONICS_VALUE_ADDED_100M_CNY = {"Shenzhen": 3706.0, "Dongguan": 1017.0, "Huizhou": 457.0, "Guangzhou": 305.0}
"""Value added of the electronics cluster in Q1-Q3 2020, 亿 CNY, in the four cities reported
(``clusters.csv`` row ``electronics``, known_fact; 第一财经 2019-04-17 / Xinhua): the only cluster x
city figures in the data."""


def city_weight_table(spec: PopulationSpec, n_clusters: int) -> np.ndarray:
    """City weights (rows sum to 1) of the firms of each cluster: rows ``0..n_clusters-1`` for
    above-scale firms (incl. leads), rows ``n_clusters..2 n_clusters-1`` for SMEs.

    Start: every row like above-scale firms in 2021. Then, where the data have a cluster x city
    split (``cluster_cities_from_data``: electronics by value added), that cluster's firms in the
    reported cities are split like it, the reported cities keeping their combined share
    (ASSUMPTION). SME rows then take ``sme_city_shares`` (listed cities get the given weight) and
    ``sme_guangzhou_odds_ratio`` (Guangzhou's odds multiplied by it).
    """
    base = _city_weights()
    names = datasets.city_names()
    table = np.tile(base, (2 * n_clusters, 1))
    if spec.cluster_cities_from_data:
        e = datasets.cluster_ids().index("electronics")
        cols = [names.index(c) for c in ELECTRONICS_VALUE_ADDED_100M_CNY]
        va = np.array(list(ELECTRONICS_VALUE_ADDED_100M_CNY.values()))
        for r in (e, n_clusters + e):
            table[r, cols] = table[r, cols].sum() * va / va.sum()
    sme = slice(n_clusters, 2 * n_clusters)
    if spec.sme_city_shares:
        for c, v in spec.sme_city_shares.items():
            table[sme, names.index(c)] = v
        table[sme] /= table[sme].sum(axis=1, keepdims=True)
    if spec.sme_guangzhou_odds_ratio != 1.0:
        # odds w/(1-w) times the ratio, the other cities keeping their relative weights
        table[sme, names.index("Guangzhou")] *= spec.sme_guangzhou_odds_ratio
        table[sme] /= table[sme].sum(axis=1, keepdims=True)
    return table


READINESS_ONLY = ("readiness_by_size",)
"""Fields of ``population`` that change only the readiness column of a built population (so a
structure built for other values of them is reused with :func:`with_readiness`)."""


def with_readiness(pop: Population, config: Scenario, seed: np.random.SeedSequence) -> Population:
    """``pop`` (built from ``seed``) with the readiness column ``config`` gives: the same bytes as
    ``build_population(config, seed)`` when the two specs differ only in :data:`READINESS_ONLY`.

    The readiness stream is redrawn (one normal per firm), not rescaled, so the float32 column is
    exactly the one a fresh build computes. The derived tables are shared: none of them reads
    readiness.
    """
    streams = np.random.SeedSequence(seed.entropy, spawn_key=seed.spawn_key).spawn(6)
    _, cluster_ready = _cluster_weights(config.population)
    ready = columns.readiness(config.population, np.random.default_rng(streams[3]), pop.size_class, pop.cluster,
                       cluster_ready)
    return replace(pop, readiness=ready)


def build_population(config: Scenario, seed: np.random.SeedSequence) -> Population:
    """Draw a population for ``config`` from its own random stream (structure only).

    Args:
        config: the validated scenario (``population`` and ``time`` sections are used).
        seed: the structure stream; the same seed and population spec give identical arrays.
    """
    spec = config.population
    streams = seed.spawn(6)
    rng_assign, rng_park, rng_links, rng_ready, rng_revenue, rng_exit = (np.random.default_rng(s) for s in streams)
    n_months = month_number(config.time.end) - month_number(config.time.start)

    initial, entrants = class_counts(config)
    # Firms ordered: initial (by class), then entrants by month (by class within month).
    per_month_class = np.concatenate(([initial], entrants[1:]))  # firms of (month, class)
    size_class = np.repeat(np.tile(np.arange(N_SIZE, dtype=np.int8), n_months + 1), per_month_class.ravel())
    entry_month = np.repeat(np.arange(n_months + 1, dtype=np.int16), per_month_class.sum(axis=1))
    n = size_class.size
    n_initial = int(initial.sum())
    # Keys of the column's dtype (int keys would convert the whole column to int64 first).
    n_present = np.searchsorted(entry_month, np.arange(n_months + 1, dtype=entry_month.dtype),
                                side="right").astype(np.int64)

    cluster_w, cluster_ready = _cluster_weights(spec)
    city_w = _city_weights()
    n_cl, n_ci = cluster_w.size, city_w.size

    if kernel.kernel_name() == "numba":
        # What Generator.choice(p=...) does (the same uniforms from Generator.random, inverted
        # through the normalised cumulative weights), by counting the 20 weights below each
        # uniform instead of a binary search per firm; tests/test_population_build.py checks the bytes.
        cdf = cluster_w.cumsum()
        cdf /= cdf[-1]
        cluster = np.empty(n, dtype=np.int8)
        for lo, hi in columns.blocks(n):
            column_kernel.draw_categories(cdf, rng_assign.random(hi - lo), cluster[lo:hi])
    else:
        cluster = rng_assign.choice(n_cl, size=n, p=cluster_w).astype(np.int8)
    # Leads: apportioned so every cluster has its chain leaders (百链: 2-3 per key chain).
    lead_idx = np.flatnonzero(size_class == LEAD)
    if lead_idx.size:
        per_cluster = _apportion_at_least_one(lead_idx.size, cluster_w)
        cluster[lead_idx] = np.repeat(np.arange(n_cl), per_cluster).astype(np.int8)
    # City: one weight row per (cluster, above-scale or SME), one uniform per firm.
    city = columns.draw_rows(city_weight_table(spec, n_cl),
                      lambda lo, hi: cluster[lo:hi].astype(np.int64) + n_cl * (size_class[lo:hi] >= IND_SME),
                      rng_assign.random, n)
    cell = cluster.astype(np.int16)
    cell *= n_ci
    cell += city
    cell *= N_SIZE
    cell += size_class

    # Parks: the firms of one cluster in one city are split into parks of ~park_size_mean firms.
    cc = cluster.astype(np.int32)
    cc *= n_ci
    cc += city
    cc_count = columns.counts(cc, n_cl * n_ci)
    parks_per_cc = np.maximum(1, np.round(cc_count / spec.park_size_mean)).astype(np.int64)
    parks_per_cc[cc_count == 0] = 0
    park_offset = np.concatenate(([0], np.cumsum(parks_per_cc)[:-1]))
    park = np.empty(n, dtype=np.int32)
    for lo, hi in columns.blocks(n):
        u, c = rng_park.random(hi - lo), cc[lo:hi]
        if kernel.kernel_name() == "numba":
            column_kernel.assign_parks(park_offset, parks_per_cc, c, u, park[lo:hi])
        else:
            park[lo:hi] = park_offset[c] + np.minimum((u * parks_per_cc[c]).astype(np.int64), parks_per_cc[c] - 1)
    park_cc = np.repeat(np.arange(n_cl * n_ci), parks_per_cc)
    park_cluster = (park_cc // n_ci).astype(np.int8)
    park_city = (park_cc % n_ci).astype(np.int8)

    if spec.network == "supply_chain":
        adj_indptr, adj_indices = links.supply_links(spec, rng_links, cluster, cc, size_class, n_cl, n_ci)
    elif spec.network == "ring":
        adj_indptr, adj_indices = links.ring(n)
    else:
        adj_indptr, adj_indices = np.zeros(n + 1, dtype=setup_kernel.pointer_dtype(0)), np.empty(0, dtype=np.int32)
    del cc

    readiness = columns.readiness(spec, rng_ready, size_class, cluster, cluster_ready)
    above = size_class <= ABOVE
    revenue = columns.revenue(spec, rng_revenue, size_class, above)
    birth = columns.birth_month(spec, rng_revenue, size_class, entry_month, above)
    exit_month = columns.exit_month(spec, rng_exit, entry_month, n_months, NEVER)

    return Population(
        n_initial=n_initial, n_present=n_present, cluster=cluster, city=city,
        size_class=size_class, cell=cell, park=park, park_cluster=park_cluster, park_city=park_city,
        entry_month=entry_month, birth_month=birth, exit_month=exit_month,
        readiness=readiness, revenue_cny=revenue,
        adj_indptr=adj_indptr, adj_indices=adj_indices,
        meta={"initial_by_class": initial.tolist(), "entrants_by_class": entrants.sum(axis=0).tolist()},
    )


