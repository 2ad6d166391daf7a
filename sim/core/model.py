"""The firm-level cloud-adoption model: a ``mesa.Model`` whose firms live in NumPy columns.

Why this module is over ~500 lines: the model's set-up, its incremental peer counts and its
monthly step rules all read and write the same state columns of one ``mesa.Model`` object; split
into mix-in classes they would share private attributes across modules, which the project's
layering rule forbids. What does not need that state is already outside: the static tables and
the compiled kernels (:mod:`sim.core.kernel`, :mod:`sim.core.batch`), the peer-share rule
(:mod:`sim.core.peers`), the programme quota (:mod:`sim.core.programme`), the instruments
(:mod:`sim.core.policies`) and the population build (:mod:`sim.core.population`,
:mod:`sim.core.links`). The long method ``_substep`` (about 120 lines) is one synchronous
update of both stages, vouchers, the queue and churn reading the state at its start; its order is
the process order below and must stay visible in one place. A further split (the ``Firm`` view and ``RunOutput`` into modules of their
own; the cloud and transformation rules of ``_substep`` as functions over a state object) is the
next step.

Process order of one month ``k`` (``docs/model.md``, ODD section 3):

1. firms entering in month k join (and exiting firms leave) their parks, cities and chains;
2. policy instruments give their rates for the month; the voucher budget resets in January;
3. ``substeps_per_month`` synchronous updates, each reading the state at its start:
   a. cloud stage: hazard of every firm not yet on the cloud; the cumulative hazard crosses the
      firm's exponential threshold -> the firm decides; vouchers are claimed first come first
      served; deciders join the service queue;
   b. transformation stage: hazard of every above-scale firm on the cloud and not transformed;
   c. onboarding of queued firms up to the service capacity;
   d. churn of subsidised adopters whose subsidy has ended;
   then every count used by peers is updated at once;
4. the month's counts by cluster x city x size class are recorded.

Per-step probability: each firm draws one Exp(1) threshold per stage at set-up and adopts when
its cumulative hazard ``sum(h dt)`` reaches it. This is exactly a per-step probability of
``1 - exp(-h dt)`` given the state at the start of the step, with h held over the step; it
converges to the continuous model as ``dt -> 0`` (validation_reference.md section 2), and it
gives common random numbers across scenarios: a firm's threshold does not depend on the policy.
"""

from __future__ import annotations

import gc
import weakref
from dataclasses import dataclass, field

import mesa
import numpy as np

from sim import datasets
from sim.core import kernel, peers, programme
from sim.core.policies import N_CELLS, N_CITIES, N_CLUSTERS, build_instruments, cell_grid
from sim.core.population import ABOVE, LEAD, NEVER, Population, build_population, population_scale
from sim.core.schedules import monthly
from sim.core.seeds import replicate_structure_seed, run_seed, spawn_streams
from sim.scenario.paths import keyword_values, set_values
from sim.scenario.schema import Scenario
from sim.scenario.schema_policies import StageRates
from sim.scenario.schema_types import month_number

METRICS: tuple[str, ...] = (
    "n_firms", "cloud_cumulative", "cloud_active", "transformed", "new_cloud", "new_transformed",
    "voucher_spend_cny", "waiting",
)
"""Per-cell monthly outputs: firms present, firms ever on the cloud (comparable with official
counts), firms on the cloud now (net of churn), transformed above-scale firms (cumulative), new
cloud adopters and transformations in the month, voucher money granted in the month (CNY), and
firms waiting for service capacity at month end."""

RUN_SEED = "run.seed"
"""Default of ``CloudAdoptionModel(rng=...)``: the root seed is the scenario's ``run.seed``."""

# cloud_state codes (EXITED: left the population before adopting)
NONE, WAITING, ON_CLOUD, CHURNED, EXITED = 0, 1, 2, 3, 4


def static_tables(pop: Population) -> dict[str, np.ndarray]:
    """The model's replicate-independent tables of a population, computed once and kept in
    ``pop.derived`` (the batch path reuses them). Never modified by a model: counts that change
    during a run are copied first.

    Park x size-class groups: every group-level term of the hazard (market and policy rates, park
    and cluster-city shares) is constant inside one, so it is computed per group and gathered
    once per firm. Start counts are those of the firms present at the start.
    """
    t = pop.derived.get("model")
    if t is not None:
        return t
    is_above = pop.size_class <= ABOVE
    is_lead = pop.size_class == LEAD
    # intp indices: NumPy gathers with int32 indices convert them first (measured 2.7x slower).
    pg = pop.park.astype(np.intp) * 4 + pop.size_class
    pg32 = pg.astype(np.int32)  # the same ids in half the bytes, for the compiled loop
    pg_park = np.arange(pop.n_parks * 4) // 4
    pg_cc = pop.park_cluster[pg_park].astype(np.int64) * N_CITIES + pop.park_city[pg_park]
    cc = pop.cluster.astype(np.int64) * N_CITIES + pop.city
    pres = np.zeros(pop.n_firms, dtype=bool)
    pres[:pop.n_initial] = True
    ab = pres & is_above
    ncc = N_CLUSTERS * N_CITIES
    t = {
        "initial_above": np.flatnonzero(ab), "initial_smes": np.flatnonzero(pres & ~is_above),
        "is_above": is_above, "is_lead": is_lead, "pg": pg, "pg32": pg32, "pg_park": pg_park, "pg_cc": pg_cc,
        "pg_cell": pg_cc * 4 + np.arange(pop.n_parks * 4) % 4, "cc": cc,
        "park_n": _count(pop.park, pres, pop.n_parks), "park_as": _count(pop.park, ab, pop.n_parks),
        "cc_n": _count(cc, pres, ncc), "cc_as": _count(cc, ab, ncc), "cell_n": _count(pop.cell, pres, N_CELLS),
        "chain_n": pop.partner_counts(pres), "chain_as": pop.partner_counts(ab),
        "lead_n": pop.partner_counts(pres & is_lead),
    }
    for v in t.values():
        v.flags.writeable = False
    pop.derived["model"] = t
    return t


def _young_firms(pop: Population, min_age_months: int) -> tuple[np.ndarray, np.ndarray]:
    """Firms below the voucher age at the start, ordered by the month they reach it (stable),
    and that month; cached with the population per minimum age."""
    key = ("voucher_young", int(min_age_months))
    if key not in pop.derived:
        elig_month = pop.birth_month.astype(np.int32) + min_age_months
        young = np.flatnonzero(elig_month > 0)
        young = young[np.argsort(elig_month[young], kind="stable")]
        pop.derived[key] = (young, elig_month[young])
    return pop.derived[key]


def _exit_order(pop: Population) -> tuple[np.ndarray, np.ndarray]:
    """Firms ordered by exit month (stable: ascending index within a month) and their sorted exit
    months, cached with the population: the firms leaving in month k are a slice, not a pass over
    every firm."""
    hit = pop.derived.get("exit_order")
    if hit is None:
        order = np.argsort(pop.exit_month, kind="stable")
        hit = pop.derived["exit_order"] = (order, pop.exit_month[order])
        for a in hit:
            a.flags.writeable = False
    return hit


def _from_readiness(pop: Population, key: tuple, make) -> np.ndarray:
    """A read-only table computed by ``make()`` from ``pop.readiness``, cached with the population
    while its readiness column is the same array: a structure reused with a redrawn readiness
    column (:func:`sim.core.population.with_readiness`) shares the derived tables of the first,
    so the entry keeps the column it was computed from and is recomputed for another."""
    hit = pop.derived.get(key)
    if hit is not None and hit[0] is pop.readiness:
        return hit[1]
    table = make()
    table.flags.writeable = False
    pop.derived[key] = (pop.readiness, table)
    return table


def _readiness_dt(pop: Population, dt_years: float) -> np.ndarray:
    """``readiness x dt`` of every firm (float32): depends on the structure and the sub-steps
    only, not on the replicate."""
    return _from_readiness(pop, ("readiness_dt", float(dt_years)), lambda: pop.readiness * np.float32(dt_years))


def _initial_weight(pop: Population) -> np.ndarray:
    """``max(readiness, 1e-12)`` of the firms present at the start, float64 (the weights of the
    initial adopters' draw)."""
    return _from_readiness(pop, ("initial_weight",),
                           lambda: np.maximum(pop.readiness[:pop.n_initial].astype(np.float64), 1e-12))


def by_priority(firms: np.ndarray, priority: np.ndarray) -> np.ndarray:
    """``firms`` (ascending indices) ordered by ``priority`` (floats in [0, 1)), ties by index: the
    stable sort by priority, as one sort of 64-bit keys (priority bits, index). Non-negative
    floats order like their bit patterns, so the keys order exactly as (priority, index); this
    sort is ~8x faster than a stable argsort of the priorities (measured, 13,000 firms)."""
    bits = priority[firms].view(np.uint32).astype(np.uint64)
    keys = (bits << np.uint64(32)) | firms.astype(np.uint64)
    return (np.sort(keys) & np.uint64(0xFFFFFFFF)).astype(firms.dtype)


def _count(group: np.ndarray, mask: np.ndarray, size: int) -> np.ndarray:
    return kernel.count_in_groups(group, mask, size)


@dataclass
class RunOutput:
    """The small result of one run: monthly per-cell counts plus provincial series."""

    dates: list[str]
    cells: np.ndarray  # (n_months + 1, N_CELLS, len(METRICS)) float64
    replicate: int
    seed_entropy: int
    totals: dict[str, np.ndarray] = field(default_factory=dict)
    meta: dict = field(default_factory=dict)

    def total(self, metric: str) -> np.ndarray:
        return self.cells[:, :, METRICS.index(metric)].sum(axis=1)


def month_end_dates(start: str, n_months: int) -> list[str]:
    """ISO dates of the end of each month from ``start`` (index 0) for ``n_months`` more."""
    import calendar

    m0 = month_number(start)
    out = []
    for k in range(n_months + 1):
        y, mo = divmod(m0 + k, 12)
        out.append(f"{y:04d}-{mo + 1:02d}-{calendar.monthrange(y, mo + 1)[1]:02d}")
    return out


class Firm(mesa.Agent):
    """A view of one firm as a ``mesa.Agent``: its attributes read the model's columns.

    Created on demand by :meth:`CloudAdoptionModel.firm`; the simulation itself never loops over
    agents.
    """

    def __init__(self, model: CloudAdoptionModel, index: int):
        super().__init__(model)
        self.index = int(index)

    def _col(self, name: str):
        return getattr(self.model.pop, name)[self.index]

    @property
    def cluster(self) -> str:
        return datasets.cluster_ids()[int(self._col("cluster"))]

    @property
    def city(self) -> str:
        return datasets.city_names()[int(self._col("city"))]

    @property
    def size_class(self) -> str:
        return datasets.SIZE_CLASSES[int(self._col("size_class"))]

    @property
    def park(self) -> int:
        return int(self._col("park"))

    @property
    def readiness(self) -> float:
        return float(self._col("readiness"))

    @property
    def revenue_cny(self) -> float:
        return float(self._col("revenue_cny"))

    @property
    def entry_month(self) -> int:
        return int(self._col("entry_month"))

    @property
    def supply_partners(self) -> list[int]:
        return self.model.pop.neighbours(np.array([self.index])).tolist()

    @property
    def on_cloud(self) -> bool:
        return bool(self.model.cloud_state[self.index] == ON_CLOUD)

    @property
    def cloud_month(self) -> int | None:
        m = int(self.model.cloud_month[self.index])
        return None if m == NEVER else m

    @property
    def transformed_month(self) -> int | None:
        m = int(self.model.trans_month[self.index])
        return None if m == NEVER else m

    @property
    def subsidised(self) -> bool:
        return bool(self.model.subsidised[self.index])

    def __repr__(self) -> str:
        return (f"Firm({self.index}: {self.size_class}, {self.cluster}, {self.city}, "
                f"cloud_month={self.cloud_month}, transformed_month={self.transformed_month})")


def _per_cell(table: dict[str, float] | None, default: float) -> np.ndarray:
    cl, _, _ = cell_grid()
    per_cluster = np.full(N_CLUSTERS, default)
    if table:
        ids = datasets.cluster_ids()
        for k, v in table.items():
            per_cluster[ids.index(k)] = v
    return per_cluster[cl]


class CloudAdoptionModel(mesa.Model):
    """Guangdong firms moving onto the cloud, month by month, at 1:1 scale.

    Args:
        config: a validated :class:`~sim.scenario.Scenario` (default: all defaults).
        replicate: replicate index; its seed is child ``replicate`` of ``config.run.seed``.
        rng: root seed. Left out: ``config.run.seed`` (reproducible). An integer: that seed (so
            ``mesa.batch_run(rng=[...])`` can vary it). ``None``, as Mesa passes it for
            ``batch_run(iterations=n)``: fresh entropy from the operating system (Mesa's meaning
            of an unseeded run), so the n iterations differ; the seed used is kept in
            ``root_seed`` and in the output's ``seed_entropy``, so each run can be repeated.
        population: optional pre-built population to reuse (must come from the same structure
            seed and population spec; used when ``population.structure_seed`` is fixed).
        **overrides: dotted scenario overrides written with double underscores, e.g.
            ``policies__vouchers__budget_cny_per_year=6e8`` (for ``mesa.batch_run``).
    """

    def __init__(self, config: Scenario | None = None, *, replicate: int = 0, rng: int | str | None = RUN_SEED,
                 population: Population | None = None, **overrides):
        config = config if config is not None else Scenario()
        if overrides:
            config = apply_overrides(config, overrides)
        if isinstance(rng, str) and rng == RUN_SEED:
            root = config.run.seed
        elif rng is None:
            root = int(np.random.SeedSequence().entropy)  # unseeded: fresh, but recorded
        else:
            root = int(rng)
        _collect_unclosed_model()
        super().__init__(rng=root)
        self._mesa_names = frozenset(vars(self)) | {"_mesa_names"}
        self.root_seed = root
        self.replicate = replicate
        self.seed_sequence = run_seed(root, replicate)
        self.streams = spawn_streams(self.seed_sequence)
        # Parametric uncertainty: this replicate's draws replace the uncertain values.
        self.sampled_parameters: dict[str, float] = {}
        if config.uncertainties or config.posterior is not None:
            from sim.core import uncertainty

            self.sampled_parameters = uncertainty.draw_all(
                config, np.random.default_rng(self.streams["uncertainties"]))
            if population is not None and uncertainty.touches_structure(config):
                population = None  # the shared population was built for other values
            config = uncertainty.apply(config, self.sampled_parameters)
        self.config = config  # the values this replicate runs with
        self.n_months = month_number(config.time.end) - month_number(config.time.start)
        self.substeps = config.time.substeps_per_month
        self.dt_years = 1.0 / (12.0 * self.substeps)
        self.dates = month_end_dates(config.time.start, self.n_months)

        self.pop = (population if population is not None
                    else build_population(config, replicate_structure_seed(config, root, replicate)))
        self._init_state()
        self.instruments = build_instruments(config, self.pop, np.random.default_rng(self.streams["pilots"]), self.n_months)
        v = self.instruments["vouchers"]
        if v.active:
            # Voucher push per year of each firm if eligible (readiness x rate x static
            # eligibility); the age rule is checked against elig_month each step.
            w = np.multiply(self.readiness_dt, np.float32(v.rate))  # float32, then x 0/1 in place
            self.voucher_w = np.multiply(w, v.static_ok, out=w)
            self._young, self._young_month = _young_firms(self.pop, config.policies.vouchers.min_age_months)
            self._voucher_cur = self.voucher_w.copy()
            self._voucher_cur[self._young] = 0
            self._voucher_k = 0
        self._init_rates()
        self.datacollector = mesa.DataCollector(model_reporters={
            "date": lambda m: m.dates[m.month],
            "cloud_cumulative": lambda m: int(m.cube[m.month, :, 1].sum()),
            "cloud_active": lambda m: int(m.cube[m.month, :, 2].sum()),
            "transformed": lambda m: int(m.cube[m.month, :, 3].sum()),
            "waiting": lambda m: int(m.cube[m.month, :, 7].sum()),
            # money granted in the month, and since the start (the end-of-run row of
            # mesa.batch_run then gives the whole spend, not only the last month's)
            "voucher_spend_cny_month": lambda m: float(m.cube[m.month, :, 6].sum()),
            "voucher_spend_cny_cumulative": lambda m: float(m.cube[1:m.month + 1, :, 6].sum()),
        })
        self._record()
        self.datacollector.collect(self)
        if self.pop.n_firms >= COLLECT_ABOVE_FIRMS:
            global _last_model
            _last_model = weakref.ref(self)

    def close(self) -> None:
        """Free this model's state now; afterwards only :attr:`closed` may be read.

        Why: a ``mesa.Model`` holds reference cycles (its scenario and event schedule point back
        at it), so a model that is no longer referenced is freed only by Python's cyclic garbage
        collector, some time later. Until then its ~0.3 GB of firm columns (2,000,000 firms) stay
        allocated, the next model's set-up gets fresh pages from the operating system, and
        zeroing them cost 0.3-0.4 s of system time per replicate at 2,000,000 firms (measured
        2026-11-29, against 0.17 s of user time for the whole set-up). A batch
        (:func:`simulate`, the run layer) closes each model after reading its output, so the
        next replicate reuses the memory. The attributes Mesa's ``Model`` set are kept.
        """
        for name in [n for n in vars(self) if n not in self._mesa_names]:
            delattr(self, name)

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return "pop" not in vars(self)

    # ------------------------------------------------------------------ set-up

    def _init_state(self) -> None:
        pop = self.pop
        n = pop.n_firms
        s = self.streams
        self.month = 0
        self.cloud_state = np.zeros(n, dtype=np.int8)
        self.cloud_month = np.full(n, NEVER, dtype=np.int16)
        self.trans_month = np.full(n, NEVER, dtype=np.int16)
        self.subsidised = np.zeros(n, dtype=bool)
        self.subsidy_end = np.full(n, NEVER, dtype=np.int16)
        self.lam_cloud = np.zeros(n, dtype=np.float32)
        self.lam_trans = np.zeros(n, dtype=np.float32)
        self.lam_churn = np.zeros(n, dtype=np.float32)
        self.thr_cloud = np.random.default_rng(s["threshold_cloud"]).standard_exponential(n, dtype=np.float32)
        self.thr_trans = np.random.default_rng(s["threshold_transform"]).standard_exponential(n, dtype=np.float32)
        self.thr_live = self.thr_cloud.copy()
        self.thr_churn = np.random.default_rng(s["threshold_churn"]).standard_exponential(n, dtype=np.float32)
        # A fixed per-firm priority orders voucher claims and the service queue (first come,
        # first served among firms deciding in the same step).
        self.priority = np.random.default_rng(s["priority"]).random(n, dtype=np.float32)
        # New thresholds of claimants refused a voucher, drawn in the order of refusal.
        self.rng_refusal = np.random.default_rng(s["voucher_refusal"])
        st = static_tables(pop)
        self.is_above, self.is_lead, self.pg, self.pg32 = st["is_above"], st["is_lead"], st["pg"], st["pg32"]
        self.pg_park, self.pg_cc, self.pg_cell, self.cc = st["pg_park"], st["pg_cc"], st["pg_cell"], st["cc"]
        self.present = np.zeros(n, dtype=bool)
        self.queue = np.empty(0, dtype=np.int64)
        self.subsidy_watch = np.empty(0, dtype=np.int64)
        self.subsidy_watch_end = np.empty(0, dtype=np.int16)  # subsidy end of each watched firm

        n0 = pop.n_initial
        self.present[:n0] = True
        self._select_initial(np.random.default_rng(s["initial"]))
        self.thr_live[self.cloud_state != NONE] = np.inf
        self._limit_candidates(np.random.default_rng(s["candidates"]))
        self.readiness_dt = _readiness_dt(pop, self.dt_years)
        self._buf_h = np.empty(n, dtype=np.float32)
        self._buf_tmp = np.empty(n, dtype=np.float32)
        self._recount()
        self._cand_trans = np.flatnonzero(self.present & self.is_above & (self.cloud_state == ON_CLOUD)
                                          & (self.trans_month == NEVER))
        self.cube = np.zeros((self.n_months + 1, N_CELLS, len(METRICS)))
        self.cell_new = np.zeros((3, N_CELLS))  # new cloud, new transformed, voucher spend (month)

    def _initial_targets(self) -> tuple[int, int]:
        cfg = self.config
        scale = population_scale(cfg)
        ym = (int(cfg.time.start[:4]), int(cfg.time.start[5:7]))

        def target(value, indicator):
            if value is not None:
                return int(value)
            return int(round(datasets.interpolate_progress(indicator, ym) * scale))

        return (target(cfg.initial.cloud_firms, "cloud_enterprises_cumulative"),
                target(cfg.initial.transformed_firms, "above_scale_transformed_cumulative"))

    def _select_initial(self, rng: np.random.Generator) -> None:
        """Choose the initial adopters exactly, weighted by readiness.

        Transformed firms (a subset of above-scale cloud firms) first, then other above-scale
        cloud firms up to ``above_scale_cloud_share``, then SMEs up to the cloud total.
        Weighted sampling without replacement by Efraimidis-Spirakis keys (log u / w).
        """
        pop = self.pop
        n0 = pop.n_initial
        cloud0, trans0 = self._initial_targets()
        st = static_tables(pop)
        above, smes = st["initial_above"], st["initial_smes"]
        above_cloud = max(trans0, int(round(self.config.initial.above_scale_cloud_share * above.size)))
        above_cloud = min(above_cloud, above.size, cloud0)
        if trans0 > above.size or trans0 > cloud0:
            raise ValueError(f"initial.transformed_firms={trans0} exceeds the above-scale firms ({above.size}) or the cloud firms ({cloud0})")
        if cloud0 - above_cloud > smes.size:
            raise ValueError(f"initial.cloud_firms={cloud0} exceeds the firms present ({n0})")
        # key = log(max(u, 1e-300)) / max(readiness, 1e-12), computed in place (fewer fresh
        # 16 MB arrays); the readiness term depends on the structure only and is kept with it.
        key = rng.random(n0)
        np.log(np.maximum(key, 1e-300, out=key), out=key)
        np.divide(key, _initial_weight(pop), out=key)

        def top(idx: np.ndarray, k: int) -> np.ndarray:
            if k <= 0:
                return idx[:0]
            if k >= idx.size:
                return idx
            return idx[np.argpartition(-key[idx], k - 1)[:k]]

        trans = top(above, trans0)
        rest_above = np.setdiff1d(above, trans, assume_unique=True)
        cloud_above = np.concatenate((trans, top(rest_above, above_cloud - trans0)))
        cloud_sme = top(smes, cloud0 - cloud_above.size)
        on = np.concatenate((cloud_above, cloud_sme))
        self.cloud_state[on] = ON_CLOUD
        self.cloud_month[on] = 0
        self.trans_month[trans] = 0

    def _limit_candidates(self, rng: np.random.Generator) -> None:
        """Finite candidate pools (``diffusion.cloud_candidate_share``, ``transform_candidate_share``).

        A firm outside a pool never crosses that stage's threshold (its threshold is +inf): only a
        share of the SMEs not on the cloud at the start can join the cloud tally, and only a share
        of the above-scale firms not transformed at the start can become transformed. Both draws
        come from their own stream and are made whenever either share is below 1, so a pool of
        1 changes nothing (common random numbers) and the two pools do not disturb each other.
        """
        d = self.config.diffusion
        if d.cloud_candidate_share >= 1.0 and d.transform_candidate_share >= 1.0:
            return
        n = self.pop.n_firms
        u_cloud = rng.random(n, dtype=np.float32)
        u_trans = rng.random(n, dtype=np.float32)
        if d.cloud_candidate_share < 1.0:
            out = (~self.is_above) & (self.cloud_state == NONE) & (u_cloud >= d.cloud_candidate_share)
            self.thr_live[out] = np.inf
        if d.transform_candidate_share < 1.0:
            out = self.is_above & (self.trans_month == NEVER) & (u_trans >= d.transform_candidate_share)
            self.thr_trans[out] = np.inf

    def _recount(self) -> None:
        """All peer counts from scratch (set-up; steps update them incrementally). At the start
        the counts of the firms present come from the population's static tables (copied: they
        change); later (a check) they are counted from the state."""
        pop = self.pop
        pres = self.present
        on = pres & (self.cloud_state == ON_CLOUD)
        tr = pres & (self.trans_month != NEVER)
        ld_tr = pres & self.is_lead & tr
        npk = pop.n_parks
        cc = self.cc
        ncc = N_CLUSTERS * N_CITIES
        park, cell = pop.park, pop.cell
        if self.month == 0:
            st = {k: v.copy() for k, v in static_tables(pop).items() if k.endswith(("_n", "_as"))}
        else:
            ab, ld = pres & self.is_above, pres & self.is_lead
            st = {"park_n": _count(park, pres, npk), "park_as": _count(park, ab, npk), "cc_n": _count(cc, pres, ncc),
                  "cc_as": _count(cc, ab, ncc), "cell_n": _count(cell, pres, N_CELLS), "chain_n": pop.partner_counts(pres),
                  "chain_as": pop.partner_counts(ab), "lead_n": pop.partner_counts(ld)}
        self.park_n, self.park_cloud = st["park_n"], _count(park, on, npk)
        self.park_as, self.park_trans = st["park_as"], _count(park, tr, npk)
        self.cc_n, self.cc_cloud = st["cc_n"], _count(cc, on, ncc)
        self.cc_as, self.cc_trans = st["cc_as"], _count(cc, tr, ncc)
        self.chain_n, self.chain_as, self.lead_n = st["chain_n"], st["chain_as"], st["lead_n"]
        self.chain_cloud, self.chain_trans, self.lead_trans = (pop.partner_counts(m) for m in (on, tr, ld_tr))
        self.prov_n = float(pres.sum())
        self.prov_cloud = float(on.sum())
        self.cell_n = st["cell_n"]
        self.cell_cum = _count(cell, pres & (self.cloud_state >= ON_CLOUD), N_CELLS)
        self.cell_active = _count(cell, on, N_CELLS)
        self.cell_trans = _count(cell, tr, N_CELLS)
        self.cell_wait = np.zeros(N_CELLS)

    def _init_rates(self) -> None:
        d = self.config.diffusion
        self.cloud_rates = self._stage_tables(d.cloud)
        self.trans_rates = self._stage_tables(d.transform)
        # intensity: a constant multiplies the market rate once; a schedule every month (step).
        self._market_by_month: list[tuple[dict, np.ndarray, np.ndarray]] = []
        start = month_number(self.config.time.start)
        for rates, spec in ((self.cloud_rates, d.cloud), (self.trans_rates, d.transform)):
            by_month = monthly(spec.intensity, start, self.n_months)
            if np.any(by_month != by_month[0]):
                self._market_by_month.append((rates, rates["market_cell"], by_month))
            elif by_month[0] != 1.0:
                rates["market_cell"] = rates["market_cell"] * by_month[0]

    def _set_market_rates(self, k: int) -> None:
        """The month's market rates when a stage's ``intensity`` is a schedule."""
        for rates, base, by_month in self._market_by_month:
            rates["market_cell"] = base * by_month[k]

    @staticmethod
    def _stage_tables(r: StageRates) -> dict[str, object]:
        return {
            "market_cell": r.market_rate_per_year * _per_cell(r.cluster_market_multiplier, 1.0),
            "peer_cell": _per_cell(r.cluster_peer_multiplier, 1.0),
            "chain": r.chain_weight_per_year, "park": r.park_weight_per_year,
            "cc": r.cluster_city_weight_per_year, "prov": r.province_weight_per_year,
        }

    # ------------------------------------------------------------------ incremental counts

    def _update(self, firms: np.ndarray, what: str, sign: float) -> None:
        """Add ``sign`` to every count that ``firms`` enter for indicator ``what``."""
        if firms.size == 0:
            return
        pop = self.pop
        common = (firms, sign, pop.park, self.cc, pop.cell, self.is_above, self.is_lead, pop.adj_indptr,
                  pop.adj_indices)
        if what == "present":
            kernel.update_counts(*common, park_counts=self.park_n, cc_counts=self.cc_n, cell_counts=self.cell_n,
                                 park_above=self.park_as, cc_above=self.cc_as, chain_counts=self.chain_n,
                                 chain_above=self.chain_as, lead_counts=self.lead_n)
            self.prov_n += sign * firms.size
        elif what == "cloud":
            kernel.update_counts(*common, park_counts=self.park_cloud, cc_counts=self.cc_cloud,
                                 cell_counts=self.cell_active, chain_counts=self.chain_cloud)
            self.prov_cloud += sign * firms.size
        elif what == "trans":
            kernel.update_counts(*common, park_counts=self.park_trans, cc_counts=self.cc_trans,
                                 chain_counts=self.chain_trans, lead_counts=self.lead_trans)

    # ------------------------------------------------------------------ dynamics

    def step(self) -> None:
        """Advance one month (called by Mesa's scheduler; ``model.time`` counts months)."""
        if self.month >= self.n_months:
            self.running = False
            return
        k = self.month + 1
        self.month = k
        self._enter_and_exit(k)
        self._set_market_rates(k)
        inst = self.instruments
        cloud_cell, trans_cell, cloud_park, trans_park = self._policy_rates(k)
        vouchers = inst["vouchers"]
        vouchers.start_month(k)
        pull_cloud, pull_trans = inst["chain_leaders"].pulls(k)
        self.cell_new[:] = 0
        for sub in range(self.substeps):
            self._substep(k, sub, cloud_cell, trans_cell, cloud_park, trans_park, pull_cloud, pull_trans)
        if inst["transformation_programme"].on(k):
            self._programme_quota(k, inst["transformation_programme"])
        self._record()
        self.datacollector.collect(self)
        if self.month >= self.n_months:
            self.running = False

    def _enter_and_exit(self, k: int) -> None:
        pop = self.pop
        lo, hi = pop.n_present[k - 1], pop.n_present[k]
        if hi > lo:
            new = np.arange(lo, hi)
            self.present[new] = True
            self._update(new, "present", 1.0)
        if self.config.population.exit_rate_per_year > 0:
            order, months = _exit_order(pop)
            cand = order[np.searchsorted(months, months.dtype.type(k)):np.searchsorted(months, months.dtype.type(k),
                                                                                      side="right")]
            gone = cand[self.present[cand]]  # ascending: the firms of np.flatnonzero(present & exit == k)
            if gone.size:
                self.present[gone] = False
                self._update(gone, "present", -1.0)
                on = gone[self.cloud_state[gone] == ON_CLOUD]
                self._update(on, "cloud", -1.0)
                self._update(gone[self.trans_month[gone] != NEVER], "trans", -1.0)
                wait = gone[self.cloud_state[gone] == WAITING]
                kernel.scatter_add(self.cell_wait, pop.cell, wait, -1.0)
                never = gone[(self.cloud_state[gone] == NONE) | (self.cloud_state[gone] == WAITING)]
                self.cloud_state[never] = EXITED
                self.thr_live[never] = np.inf
                # Exited firms keep their cumulative adoption (official counts are cumulative)
                # but leave every active count (done by the updates above).

    def _policy_rates(self, k: int):
        def total(method: str, size: int) -> np.ndarray | None:
            out = None
            for ins in self.instruments.values():
                f = getattr(ins, method, None)
                r = f(k) if f is not None else None
                if r is not None:
                    out = r.copy() if out is None else out + r
            return out

        return (total("cloud_cell_rate", N_CELLS), total("transform_cell_rate", N_CELLS),
                total("cloud_park_rate", self.pop.n_parks), total("transform_park_rate", self.pop.n_parks))

    def _voucher_now(self, k: int) -> np.ndarray:
        """Voucher push x dt of every firm that is eligible in month k (age rule included);
        firms reaching the minimum age are switched on incrementally."""
        if k != self._voucher_k:
            # Keys of the array's dtype: a Python int makes searchsorted convert the whole array.
            month = self._young_month.dtype.type
            lo = np.searchsorted(self._young_month, month(self._voucher_k), side="right")
            hi = np.searchsorted(self._young_month, month(k), side="right")
            f = self._young[lo:hi]
            self._voucher_cur[f] = self.voucher_w[f]
            self._voucher_k = k
        return self._voucher_cur

    def _group_tables(self, cell_add, park_add) -> tuple[np.ndarray, np.ndarray]:
        """Per park x size-class group: the rate not depending on chain partners, and the
        coefficient of the chain share (both per year, before readiness)."""
        r = self.cloud_rates
        pk = self.pg_park
        peer = np.zeros(pk.size)
        # Shares among the firm's peers: a firm still deciding is counted in the firms present
        # but not among the adopters, so it is taken out of the denominator (others only);
        # otherwise small parks and cluster-cities would dilute peer effects (a bias that grows
        # as the population shrinks).
        # A firm alone in its park or cluster-city reads the enclosing group's share (peers.py).
        pk_num, pk_den, cc_num, cc_den = peers.nested_counts(self.park_cloud, self.park_n, self.pg_cc[::4],
                                                             self.cc_cloud, self.cc_n, N_CITIES)
        if r["park"] > 0:
            peer += r["park"] * (pk_num / np.maximum(pk_den - 1.0, 1.0))[pk]
        if r["cc"] > 0:
            peer += r["cc"] * (cc_num / np.maximum(cc_den - 1.0, 1.0))[self.pg_cc]
        if r["prov"] > 0:
            peer += r["prov"] * self.prov_cloud / max(self.prov_n - 1.0, 1.0)
        peer_mult = r["peer_cell"][self.pg_cell]
        rate = r["market_cell"][self.pg_cell] + peer_mult * peer
        if cell_add is not None:
            rate += cell_add[self.pg_cell]
        if park_add is not None:
            rate += park_add[pk]
        chain = r["chain"] * peer_mult
        if np.all(chain == chain[0]):
            chain = chain[:1]
        return rate.astype(np.float32), chain.astype(np.float32)

    def _transform_hazard(self, idx: np.ndarray, cell_add, park_add, pull: float) -> np.ndarray:
        """Transformation hazard per year of the above-scale firms ``idx`` (a small set, so it
        is computed on their indices), from the start-of-step counts: peers are the transformed
        share among above-scale partners, park mates and cluster-city firms."""
        rates = self.trans_rates
        pop = self.pop
        cell = pop.cell[idx]
        park = pop.park[idx]
        cc = self.cc[idx]
        ch_num, ch_den = self.chain_trans, self.chain_as
        # A firm alone in its park or cluster-city reads the enclosing group's share (peers.py).
        pk_num, pk_den, cc_num, cc_den = peers.nested_counts(self.park_trans, self.park_as, self.pg_cc[::4],
                                                             self.cc_trans, self.cc_as, N_CITIES)
        # Shares among the firm's above-scale peers (the candidate itself is not transformed,
        # so it is taken out of the denominator: see _group_tables).
        prov = float(self.cc_trans.sum()) / max(float(self.cc_as.sum()) - 1.0, 1.0)
        peer = np.zeros(idx.size, dtype=np.float32)
        if rates["chain"] > 0:
            peer += rates["chain"] * ch_num[idx] / np.maximum(ch_den[idx], 1.0)
        if rates["park"] > 0:
            peer += (rates["park"] * pk_num / np.maximum(pk_den - 1.0, 1.0)).astype(np.float32)[park]
        if rates["cc"] > 0:
            peer += (rates["cc"] * cc_num / np.maximum(cc_den - 1.0, 1.0)).astype(np.float32)[cc]
        if rates["prov"] > 0:
            peer += np.float32(rates["prov"] * prov)
        ext_cell = rates["market_cell"] if cell_add is None else rates["market_cell"] + cell_add
        h = ext_cell.astype(np.float32)[cell] + peer * rates["peer_cell"].astype(np.float32)[cell]
        if park_add is not None:
            h += park_add.astype(np.float32)[park]
        if pull > 0:
            h += np.float32(pull) * self.lead_trans[idx] / np.maximum(self.lead_n[idx], 1.0)
        return h * self.pop.readiness[idx]

    def _substep(self, k, sub, cloud_cell, trans_cell, cloud_park, trans_park, pull_cloud, pull_trans) -> None:
        pop = self.pop
        dt = np.float32(self.dt_years)
        vouchers = self.instruments["vouchers"]

        # (a) cloud stage over the present prefix: contiguous vector operations are cheaper than
        # gathering the (still large) set of non-adopters; firms already on the cloud keep a
        # meaningless cumulative hazard that is never read.
        n = int(pop.n_present[k])
        g_rate, g_chain = self._group_tables(cloud_cell, cloud_park)
        open_city = None
        if vouchers.on(k) and vouchers.rate > 0:
            open_city = vouchers.open_for_city()
            if not open_city.any():
                open_city = None
        voucher_cur = self._voucher_now(k) if open_city is not None else None
        factor = vouchers.rate_factor(k)
        if voucher_cur is not None and factor is not None:
            # A scheduled push: a new array (the stored push is at the reference rate).
            voucher_cur = voucher_cur * factor
        deciders = kernel.cloud_deciders(n, self.pg, g_rate, g_chain, self.chain_cloud, self.chain_n,
                                         self.lead_trans, self.lead_n,
                                         np.float32(pull_cloud), self.readiness_dt, voucher_cur, open_city,
                                         pop.city, self.lam_cloud, self.thr_live, self._buf_h, self._buf_tmp,
                                         pg_narrow=self.pg32)
        lam = self.lam_cloud

        def voucher_at(firms: np.ndarray) -> np.ndarray:
            """The voucher push of ``firms`` in this step (as added to their hazard)."""
            v = voucher_cur[firms]
            return v * open_city[pop.city[firms]] if open_city.size > 1 else v

        granted_firms = deciders[:0]
        if voucher_cur is not None and deciders.size:
            claim = deciders[voucher_at(deciders) > 0]
            claim = by_priority(claim, self.priority)
            granted = vouchers.grant(claim, pop.city[claim])
            granted_firms = claim[granted]
            late = claim[~granted]
            if late.size:
                # Budget gone before their turn: no voucher push for them in this step, so they
                # decide only if their hazard without it carries them over the threshold.
                lam[late] -= voucher_at(late)
                drop = late[lam[late] < self.thr_cloud[late]]
                deciders = np.setdiff1d(deciders, drop, assume_unique=True)
                if drop.size:
                    # Refusal rule (docs/model.md 7.4): the decision did not happen, so by the
                    # memorylessness of the exponential clock the firm's remaining distance to
                    # a decision is a fresh Exp(1): it draws a new threshold above its cumulative
                    # hazard (otherwise the voucher push it had accumulated would carry it over
                    # its old threshold within a month or two, without a voucher).
                    fresh = lam[drop] + self.rng_refusal.standard_exponential(drop.size, dtype=np.float32)
                    self.thr_cloud[drop] = fresh
                    self.thr_live[drop] = fresh

        # (b) transformation stage (above-scale firms on the cloud), same start-of-step state.
        tc = self._cand_trans
        tc = tc[(self.trans_month[tc] == NEVER) & (self.cloud_state[tc] == ON_CLOUD) & self.present[tc]]
        self._cand_trans = tc
        h2 = self._transform_hazard(tc, trans_cell, trans_park, pull_trans)
        lam2 = self.lam_trans[tc] + h2 * dt
        self.lam_trans[tc] = lam2
        transformers = tc[lam2 >= self.thr_trans[tc]]

        # (d) churn of subsidised adopters after their subsidy ends (state at start of step).
        churners = self.subsidy_watch[:0]
        churn_rate = self.config.diffusion.churn_rate_per_year
        if churn_rate > 0 and self.subsidy_watch.size:
            # The watch list is appended month by month, so subsidy ends never decrease along it
            # and the firms due are a prefix; later entries are filtered when they fall due (a
            # firm off the cloud or out of the population stays so): the same firms as a filter
            # of the whole list every step.
            w, ends = self.subsidy_watch, self.subsidy_watch_end
            cut = int(np.searchsorted(ends, ends.dtype.type(k), side="right"))
            head = w[:cut]
            keep, churners = kernel.churn_due(head, self.cloud_state, ON_CLOUD, self.present, self.lam_churn,
                                              self.thr_churn, np.float32(churn_rate) * dt)
            if not keep.all():
                self.subsidy_watch = np.concatenate((head[keep], w[cut:]))
                self.subsidy_watch_end = np.concatenate((ends[:cut][keep], ends[cut:]))

        # ---- apply all changes at once (synchronous update)
        if granted_firms.size:
            self.subsidised[granted_firms] = True
            spend = np.bincount(pop.cell[granted_firms], minlength=N_CELLS) * vouchers.voucher_cny
            self.cell_new[2] += spend
        if deciders.size:
            deciders = by_priority(deciders, self.priority)
            self.cloud_state[deciders] = WAITING
            self.thr_live[deciders] = np.inf
            self.queue = np.concatenate((self.queue, deciders))
            kernel.scatter_add(self.cell_wait, pop.cell, deciders, 1.0)
        if transformers.size:
            self.trans_month[transformers] = k
            self._update(transformers, "trans", 1.0)
            kernel.scatter_add(self.cell_trans, pop.cell, transformers, 1.0)
            kernel.scatter_add(self.cell_new[1], pop.cell, transformers, 1.0)
        if churners.size:
            self.cloud_state[churners] = CHURNED
            self._update(churners, "cloud", -1.0)

        # (c) onboarding from the queue, first come first served, up to capacity.
        q = self.queue
        q = q[(self.cloud_state[q] == WAITING) & self.present[q]]
        cap = self.instruments["service_capacity"].capacity_this_substep(k)
        n_on = q.size if cap is None else min(cap, q.size)
        onboard, self.queue = q[:n_on], q[n_on:]
        if onboard.size:
            self.cloud_state[onboard] = ON_CLOUD
            self.cloud_month[onboard] = k
            kernel.scatter_add(self.cell_wait, pop.cell, onboard, -1.0)
            kernel.scatter_add(self.cell_cum, pop.cell, onboard, 1.0)
            kernel.scatter_add(self.cell_new[0], pop.cell, onboard, 1.0)
            self._update(onboard, "cloud", 1.0)
            sub_on = onboard[self.subsidised[onboard]]
            if sub_on.size:
                self.subsidy_end[sub_on] = k + vouchers.spec.subsidy_months
                self.subsidy_watch = np.concatenate((self.subsidy_watch, sub_on))
                self.subsidy_watch_end = np.concatenate((self.subsidy_watch_end, self.subsidy_end[sub_on]))
            self._cand_trans = np.concatenate((self._cand_trans, onboard[self.is_above[onboard]]))

    def _programme_quota(self, k: int, quota) -> None:
        """End of month ``k``: the transformation programme's quota (sim/core/programme.py)."""
        flows = self.cube[: k + 1, :, 5].sum(axis=1)
        flows[k] = self.cell_new[1].sum()
        n = quota.due(k, flows)
        if n <= 0:
            return
        state = self.cloud_state
        ok = self.present & self.is_above & (self.trans_month == NEVER) & np.isfinite(self.thr_trans)
        ok &= (state == ON_CLOUD) | ((state == NONE) if quota.spec.pool == "above_scale" else False)
        eligible = np.flatnonzero(ok)
        remaining = (self.thr_trans[eligible] - self.lam_trans[eligible]) / self.pop.readiness[eligible]
        firms = programme.readiest(eligible, remaining, n)
        quota.record(k, firms.size)
        pop = self.pop
        new_cloud = firms[state[firms] == NONE]
        if new_cloud.size:
            # A programme project brings the firm onto the cloud with its transformation.
            state[new_cloud] = ON_CLOUD
            self.cloud_month[new_cloud] = k
            self.thr_live[new_cloud] = np.inf
            kernel.scatter_add(self.cell_cum, pop.cell, new_cloud, 1.0)
            kernel.scatter_add(self.cell_new[0], pop.cell, new_cloud, 1.0)
            self._update(new_cloud, "cloud", 1.0)
        if firms.size:
            self.trans_month[firms] = k
            self._update(firms, "trans", 1.0)
            kernel.scatter_add(self.cell_trans, pop.cell, firms, 1.0)
            kernel.scatter_add(self.cell_new[1], pop.cell, firms, 1.0)

    def _record(self) -> None:
        k = self.month
        c = self.cube[k]
        c[:, 0] = self.cell_n
        c[:, 1] = self.cell_cum
        c[:, 2] = self.cell_active
        c[:, 3] = self.cell_trans
        if k > 0:
            c[:, 4:7] = self.cell_new.T
        c[:, 7] = self.cell_wait

    # ------------------------------------------------------------------ public helpers

    def run(self) -> RunOutput:
        """Run to the end of the horizon and return the small result."""
        remaining = self.n_months - self.month
        if remaining > 0:
            self.run_for(remaining)
        return self.output()

    def output(self) -> RunOutput:
        return RunOutput(
            dates=self.dates, cells=self.cube.copy(), replicate=self.replicate,
            seed_entropy=int(self.seed_sequence.entropy),
            totals={m: self.cube[:, :, i].sum(axis=1) for i, m in enumerate(METRICS)},
            meta={"n_firms_allocated": self.pop.n_firms, "n_initial": self.pop.n_initial,
                  "months_run": self.month, "sampled_parameters": dict(self.sampled_parameters),
                  **self.pop.meta},
        )

    def firm(self, index: int) -> Firm:
        """Inspect one firm as a ``mesa.Agent`` (created on demand)."""
        if not 0 <= index < self.pop.n_firms:
            raise IndexError(f"firm index {index} outside 0..{self.pop.n_firms - 1}")
        # One view per firm, so inspecting a firm twice does not register two agents.
        views = self.__dict__.setdefault("_firm_views", {})
        if index not in views:
            views[index] = Firm(self, index)
        return views[index]

    def sample_firms(self, n: int, *, seed: int = 0) -> list[Firm]:
        """``n`` present firms drawn at random (for notebooks and dashboards)."""
        idx = np.flatnonzero(self.present)
        pick = np.random.default_rng(seed).choice(idx, size=min(n, idx.size), replace=False)
        return [self.firm(int(i)) for i in np.sort(pick)]


def apply_overrides(config: Scenario, overrides: dict) -> Scenario:
    """``config`` with ``a__b__c=value`` keyword overrides set (:func:`sim.scenario.paths.set_values`)."""
    return set_values(config, keyword_values(overrides), label="(keyword overrides)")


def simulate(config: Scenario, replicate: int = 0, population: Population | None = None) -> RunOutput:
    """Build and run one replicate of ``config`` (the function executors call); the model is
    closed after its output is taken (:meth:`CloudAdoptionModel.close`)."""
    model = CloudAdoptionModel(config, replicate=replicate, population=population)
    try:
        return model.run()
    finally:
        model.close()


COLLECT_ABOVE_FIRMS = 200_000
"""A model of at least this many firms that is still alive, not closed, when the next model is
built triggers a garbage collection first (:func:`_collect_unclosed_model`)."""

_last_model: weakref.ref | None = None
"""The last model of at least :data:`COLLECT_ABOVE_FIRMS` firms built in this process."""


def _collect_unclosed_model() -> None:
    """Collect garbage if the last large model is still alive and not closed: a loop that drops
    models without :meth:`CloudAdoptionModel.close` (``mesa.batch_run``, a user's script) would
    otherwise keep it, unreachable but uncollected, while the next model allocates fresh pages
    (a collection costs ~0.05 s against 0.3-0.4 s of page zeroing at 2,000,000 firms)."""
    global _last_model
    prev = _last_model() if _last_model is not None else None
    _last_model = None
    if prev is not None and not prev.closed:
        del prev
        gc.collect()
