"""The firm-level cloud-adoption model: a ``mesa.Model`` whose firms live in NumPy columns.

The model wires a run together: the scenario, the seeds, the population, the run's firm state
(:mod:`sim.core.state`, its initial adopters from :mod:`sim.core.initial`), the policy instruments
(:mod:`sim.core.policies`) and the rates (:mod:`sim.core.hazards`); each month it runs the stages of
:mod:`sim.core.stages` (the process order is written there) and records the month's counts by
cluster x city x size class. The compiled inner loops are in :mod:`sim.core.kernel`; tables that
depend only on the structure are cached with it (:mod:`sim.core.tables`, :mod:`sim.core.batch`).

Per-step probability: each firm draws one Exp(1) threshold per stage at set-up and adopts when
its cumulative hazard ``sum(h dt)`` reaches it. This is exactly a per-step probability of
``1 - exp(-h dt)`` given the state at the start of the step, with h held over the step; it
converges to the continuous model as ``dt -> 0`` (validation_reference.md section 2), and it
gives common random numbers across scenarios: a firm's threshold does not depend on the policy.
"""

from __future__ import annotations

import gc
import weakref

import mesa
import numpy as np

from sim.core import hazards, initial, kernel, stages, tables
from sim.core.eligibility import revenue_ok
from sim.core.firm import Firm
from sim.core.policies import N_CELLS, build_instruments
from sim.core.population import Population, build_population
from sim.core.run_output import METRICS, RunOutput, month_end_dates
from sim.core.seeds import replicate_structure_seed, run_seed, spawn_streams
from sim.core.state import FirmState, VoucherPush
from sim.scenario.paths import keyword_values, set_values
from sim.scenario.schema import Scenario
from sim.scenario.schema_types import month_number

RUN_SEED = "run.seed"
"""Default of ``CloudAdoptionModel(rng=...)``: the root seed is the scenario's ``run.seed``."""


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
        take_population: the given ``population`` was built for this model alone (e.g. by a
            forked process for a single run): its start counts are taken, not copied, as when the
            model builds its own (no other run may use it afterwards).
        **overrides: dotted scenario overrides written with double underscores, e.g.
            ``policies__vouchers__budget_cny_per_year=6e8`` (for ``mesa.batch_run``).
    """

    def __init__(self, config: Scenario | None = None, *, replicate: int = 0, rng: int | str | None = RUN_SEED,
                 population: Population | None = None, take_population: bool = False, **overrides):
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

        owns_population = population is None or take_population
        self.pop = (population if population is not None
                    else build_population(config, replicate_structure_seed(config, root, replicate)))
        self.month = 0
        s = self.streams
        self.state = FirmState(self.pop, s, self.dt_years)
        initial.select_initial(self.state, config, np.random.default_rng(s["initial"]))
        initial.limit_candidates(self.state, config, np.random.default_rng(s["candidates"]))
        self.state.start(owns_population)
        self.cube = np.zeros((self.n_months + 1, N_CELLS, len(METRICS)))
        self.instruments = build_instruments(config, self.pop, np.random.default_rng(s["pilots"]), self.n_months)
        v = self.instruments["vouchers"]
        self.voucher_push = self._voucher_push(0, None if owns_population else self.pop.derived) if v.active else None
        self.rates = hazards.Rates(config, self.n_months)
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
        return "state" not in vars(self)

    # ------------------------------------------------------------------ firm columns (read them, do not resize)

    @property
    def cloud_state(self) -> np.ndarray:
        """Per firm: NONE, WAITING, ON_CLOUD, CHURNED or EXITED (:mod:`sim.core.state`)."""
        return self.state.cloud_state

    @property
    def cloud_month(self) -> np.ndarray:
        """Per firm: the month index it went onto the cloud (``population.NEVER`` if not)."""
        return self.state.cloud_month

    @property
    def trans_month(self) -> np.ndarray:
        """Per firm: the month index it was transformed (``population.NEVER`` if not)."""
        return self.state.trans_month

    @property
    def subsidised(self) -> np.ndarray:
        """Per firm: granted a voucher."""
        return self.state.subsidised

    @property
    def present(self) -> np.ndarray:
        """Per firm: in the population now."""
        return self.state.present

    @property
    def is_above(self) -> np.ndarray:
        """Per firm: an above-scale firm (chain leaders included)."""
        return self.state.is_above

    # ------------------------------------------------------------------ dynamics

    def step(self) -> None:
        """Advance one month (called by Mesa's scheduler; ``model.time`` counts months)."""
        if self.month >= self.n_months:
            self.running = False
            return
        k = self.month + 1
        self.month = k
        state = self.state
        stages.enter_and_exit(state, k, self.config.population.exit_rate_per_year > 0)
        self.rates.set_month(k)
        inst = self.instruments
        policy = self._policy_rates(k)
        inst["vouchers"].start_month(k)
        if self.voucher_push is not None and k in inst["vouchers"].eligibility.change_months:
            # The eligibility rules change this month: the push of every firm under the new rules.
            self.voucher_push = self._voucher_push(k, None)
        pulls = inst["chain_leaders"].pulls(k)
        state.cell_new[:] = 0
        churn = self.config.diffusion.churn_rate_per_year
        for _ in range(self.substeps):
            stages.substep(state, k, self.dt_years, self.rates, inst, self.voucher_push, churn, policy, pulls,
                           exits=self.config.population.exit_rate_per_year > 0)
        if inst["transformation_programme"].on(k):
            stages.programme_quota(state, k, inst["transformation_programme"], self.cube)
        self._record()
        self.datacollector.collect(self)
        if self.month >= self.n_months:
            self.running = False

    def _voucher_push(self, k: int, cache: dict | None) -> VoucherPush:
        """The firms' voucher push under the eligibility rules in force in month ``k`` (the
        firms that reach the minimum age by month ``k`` are switched on by its first ``now``).

        Args:
            cache: Where the push at the start may be kept for the next run on this structure.
        """
        v = self.instruments["vouchers"]
        min_revenue_cny, min_age_months = v.eligibility.at(k)
        static_ok = v.static_ok if k == 0 else revenue_ok(self.pop, min_revenue_cny,
                                                           self.config.policies.vouchers.excluded_cities)
        young, young_month = tables.young_firms(self.pop, min_age_months)
        return VoucherPush(self.state.readiness_dt, v.rate, static_ok, young, young_month, cache=cache,
                           column=kernel.kernel_name() == "numpy")

    def _policy_rates(self, k: int):
        def total(method: str) -> np.ndarray | None:
            out = None
            for ins in self.instruments.values():
                f = getattr(ins, method, None)
                r = f(k) if f is not None else None
                if r is not None:
                    out = r.copy() if out is None else out + r
            return out

        return (total("cloud_cell_rate"), total("transform_cell_rate"),
                total("cloud_park_rate"), total("transform_park_rate"))

    def _record(self) -> None:
        k = self.month
        st = self.state
        c = self.cube[k]
        c[:, 0] = st.cell_n
        c[:, 1] = st.cell_cum
        c[:, 2] = st.cell_active
        c[:, 3] = st.cell_trans
        if k > 0:
            c[:, 4:7] = st.cell_new.T
        c[:, 7] = st.cell_wait

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
