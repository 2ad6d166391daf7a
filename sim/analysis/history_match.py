"""History match: an ABC-SMC posterior of a scenario's uncertain rates given the published record.

:func:`history_match` runs :func:`sim.analysis.abc.abc_smc` with the simulator "run the
scenario with these parameter values at ``total_firms`` firms, one replicate per particle (seed
``run_seed(seed, key)``), scale the counts to 2,000,000 firms and measure
:func:`sim.analysis.observation.total_distance` to the figures used as evidence". The distance is
0 when every figure is matched within its precision (rounding interval, lower bound, date
window), so the tolerance is read directly as "relative miss beyond the precision of the data";
the default floor :data:`DATA_PRECISION` is the counting error assumed of a tally beyond its
rounding (1% of the figure, the observation model's ``REPORTING_REL_SD``).

The posterior is kept with the final particles' simulated series (each is one posterior
predictive draw: a parameter set and one replicate's randomness), from which
:func:`predictive_table` gives the posterior predictive interval of every published figure.

Prior (:data:`DEFAULT_PARAMETERS`, ASSUMPTION: uniform boxes wide enough to contain the
hand-tuned defaults and the 2021 calibration's posterior, docs/analysis.md): the market rate and
the peer weights of both stages (what the 2021 figures pin only as a sum), the above-scale cloud
share at the start and the above-scale readiness multiplier (the two starting assumptions the
transformation answer moved most with: issue 11, point 2).

Population size: the runs are at ``total_firms`` (default :data:`DEFAULT_TOTAL_FIRMS`); the bias
of that size against full scale is measured by ``scripts/record_figures.py`` and stated with
the results.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis import observation
from sim.analysis.abc import AbcResult, Simulation, abc_smc, weighted_quantile
from sim.analysis.outcomes import scale_up
from sim.core import uncertainty
from sim.core.model import CloudAdoptionModel
from sim.core.run_output import METRICS as MODEL_METRICS
from sim.errors import RunsFailed
from sim.runs.executors import Executor, SerialExecutor
from sim.runs.jobs import failure_record, population_for
from sim.scenario.schema import Scenario

DEFAULT_TOTAL_FIRMS = 50_000
"""Population of a history-match run (1:40); its bias is measured, see the module docstring."""

STRUCTURE_POOL = 16
"""Population structures the particles' runs cycle over (``population.structure_pool``): the batch
path (:mod:`sim.core.batch`) builds each once per worker process and reuses it, with the readiness
column redrawn for each particle's ``readiness_by_size``. 16 = the structures a worker caches
(:data:`sim.core.batch.CACHE_ENTRIES`); replicate ``r`` runs on structure ``r mod 16``, so the runs
keep structural variation and stay reproducible by seed."""

MAX_BATCH = 1_000
"""Most proposals run in one batch of the executor (near the data's precision the acceptance is a
few per cent, so one generation would otherwise go out as one batch of several thousand runs;
``stop`` is asked between batches)."""

DATA_PRECISION = observation.REPORTING_REL_SD
"""Tolerance floor and target (0.01): the distance is already 0 inside a figure's rounding interval
(or above its lower bound, within its date window), so what is left of the data's precision is the
counting error of a tally itself, whose relative s.d. the observation model assumes to be
:data:`sim.analysis.observation.REPORTING_REL_SD` (ASSUMPTION; no source states it). A tolerance of
0.01 accepts a run whose every count lies within its figure's rounding interval widened by one such
s.d. (for 550,000, rounded to 10,000, that is +-1.9%; for 29,000: +-2.7%; for 625,000: +-1.1%)."""

METRICS = ("cloud_cumulative", "transformed")


@dataclass(frozen=True)
class Parameter:
    """One calibrated quantity: a name, the dotted scenario keys it sets, a uniform prior box."""

    name: str
    paths: tuple[str, ...]
    lower: float
    upper: float


DEFAULT_PARAMETERS: tuple[Parameter, ...] = (
    Parameter("cloud_market_rate", ("diffusion.cloud.market_rate_per_year",), 0.0, 0.15),
    Parameter("cloud_peer_weight", ("diffusion.cloud.chain_weight_per_year", "diffusion.cloud.park_weight_per_year",
                                    "diffusion.cloud.cluster_city_weight_per_year"), 0.0, 0.15),
    Parameter("transform_market_rate", ("diffusion.transform.market_rate_per_year",), 0.0, 0.5),
    Parameter("transform_peer_weight", ("diffusion.transform.chain_weight_per_year",
                                        "diffusion.transform.park_weight_per_year",
                                        "diffusion.transform.cluster_city_weight_per_year"), 0.0, 0.4),
    Parameter("above_scale_cloud_share", ("initial.above_scale_cloud_share",), 0.3, 0.7),
    Parameter("above_scale_readiness", ("population.readiness_by_size.above_scale",), 1.5, 3.5),
)
"""The prior (ASSUMPTION: boxes, see the module docstring)."""

MECHANISM_PARAMETERS: tuple[Parameter, ...] = (
    Parameter("cloud_candidate_share", ("diffusion.cloud_candidate_share",), 0.2, 1.0),
    Parameter("transform_candidate_share", ("diffusion.transform_candidate_share",), 0.3, 1.0),
)
"""Competing explanations of the bends (finite addressable pool, saturation of ready firms),
calibrated when the scenario schema has them. ASSUMPTION: prior boxes."""


PROGRAMME_PARAMETER = Parameter("programme_delivery", ("policies.transformation_programme.scale",), 0.5, 1.5)
"""How much of its annual targets the transformation programme delivers (1 = the targets exactly),
calibrated when the scenario switches the programme on (history_quota.yaml). ASSUMPTION: the box
(half to one and a half times the targets; the record says the 2025 goal was "exceeded")."""


LAUNCH_PARAMETERS: tuple[Parameter, ...] = (
    Parameter("launch_cloud_push", ("policies.plan_launch.cloud_rate_per_year",), 0.0, 0.2),
    Parameter("launch_transform_push", ("policies.plan_launch.transform_rate_per_year",), 0.0, 1.0),
)
"""The pushes of the 2021 plan's launch campaign (``policies.plan_launch``, 2021-07 to 2021-12),
calibrated when the scenario switches it on (history_launch.yaml). ASSUMPTION: the boxes. Their
order of magnitude: the record's second half of 2021 exceeds the first by ~25,000 cloud firms among
~1.4 million not on the cloud (~0.04 per year over half a year) and by ~2,000 transformations among
~10,000 above-scale firms on the cloud and not transformed, of readiness ~2 (~0.2 per year); the
boxes hold several times that."""


def parameters_for(config: Scenario, include_mechanisms: bool = True) -> tuple[Parameter, ...]:
    """:data:`DEFAULT_PARAMETERS`, plus the :data:`MECHANISM_PARAMETERS` the schema knows,
    :data:`PROGRAMME_PARAMETER` when the transformation programme is on and
    :data:`LAUNCH_PARAMETERS` when the plan's launch campaign is on."""
    from sim.scenario.paths import get_value

    out = list(DEFAULT_PARAMETERS)
    if include_mechanisms:
        for p in MECHANISM_PARAMETERS:
            try:
                get_value(config, p.paths[0])
            except Exception:  # noqa: BLE001 - a key this schema does not have
                continue
            out.append(p)
        if config.policies.transformation_programme.enabled:
            out.append(PROGRAMME_PARAMETER)
        if config.policies.plan_launch.enabled:
            out.extend(LAUNCH_PARAMETERS)
    return tuple(out)


IN_FORCE_SINCE_2018: dict[str, Any] = {
    "policies.vouchers.start": "2018-03",   # 粤府〔2018〕23号 上云上平台 vouchers (policy_instruments.csv)
    # industrial internet platforms named 2018-2019 (policy_instruments.csv); other settings default
    "policies.platforms.items": [{"start": "2019-01"}],
}
"""Overrides for a base whose instruments start in 2021-07 (the baseline): vouchers and
platforms were in force before the record starts."""


def values_of(params: Sequence[Parameter], theta: Sequence[float]) -> dict[str, float]:
    """Dotted path -> value of one parameter vector (tied paths take the same value)."""
    return {path: float(v) for p, v in zip(params, theta, strict=True) for path in p.paths}


def match_config(base: Scenario, *, total_firms: int, start: str | None, end: str, seed: int,
                 overrides: dict[str, Any] | None = None, structure_pool: int | None = STRUCTURE_POOL) -> Scenario:
    """The base scenario at the match's size, horizon and seed, uncertainties removed; its runs
    cycle over ``structure_pool`` population structures unless the base fixes one structure
    (``population.structure_seed``) or ``structure_pool`` is None."""
    ov: dict[str, Any] = {"population.total_firms": total_firms, "time.end": end, "run.seed": seed}
    if structure_pool is not None and base.population.structure_seed is None:
        ov["population.structure_pool"] = structure_pool
    if start is not None:
        ov["time.start"] = start
    ov.update(overrides or {})
    return uncertainty.apply(base, ov)


def simulate_particles(config: Scenario, params: Sequence[Parameter], thetas: np.ndarray,
                       keys: np.ndarray, executor: Executor | None = None,
                       figures: Sequence[observation.Figure] = (),
                       tolerance: float = np.inf) -> tuple[list[str], list[dict | None]]:
    """Run one replicate (``keys[i]``) per parameter vector; series scaled to 2,000,000 firms.

    With ``figures`` and a finite ``tolerance`` a run stops at the first month where a figure
    already simulated misses by more than ``tolerance`` (:func:`match_run_task`); its entry is then
    ``{"distance": partial distance}`` without series (the ABC rejects it either way).

    Returns:
        The month-end dates and, per particle, ``{metric: float array}`` (or the partial distance).
    """
    cfgs = [uncertainty.apply(config, values_of(params, th)) for th in thetas]
    figs = tuple(figures)
    specs = [MatchRun(i, c, int(k), float(tolerance), figs) for i, (c, k) in enumerate(zip(cfgs, keys, strict=True))]
    ex = executor if executor is not None else SerialExecutor()
    out: list[dict | None] = [None] * len(specs)
    failures: list[dict] = []

    def on_result(res: tuple[int, dict]) -> None:
        out[res[0]] = res[1]

    ex.map(match_run_task, specs, on_result, lambda run, exc: failures.append(failure_record(run, exc)))
    if failures:
        raise RunsFailed(sorted(failures, key=lambda f: f["index"]), len(specs))
    dates = next((r["dates"] for r in out if r is not None and "dates" in r), [])
    return dates, out


@dataclass(frozen=True)
class MatchRun:
    """One particle's run (picklable; sent to worker processes).

    Attributes:
        index: Position in its batch.
        scenario: The scenario with the particle's values.
        replicate: Replicate (the particle's key).
        tolerance: The batch's acceptance threshold (inf: run to the end).
        figures: The evidence the distance is measured on.
    """

    index: int
    scenario: Scenario
    replicate: int
    tolerance: float
    figures: tuple[observation.Figure, ...]


def checkpoints(figures: Sequence[observation.Figure], dates: Sequence[str]) -> list[int]:
    """Months (indices of ``dates``) after which a figure's whole window is simulated, in order."""
    months = [d[:7] for d in dates]
    return sorted({months.index(f.last_month) for f in figures if f.last_month in months})


def match_run_task(run: MatchRun) -> tuple[int, dict]:
    """Run one particle (the executors call this): month by month up to each :func:`checkpoints`
    month, where the figures already simulated are compared; a miss beyond ``run.tolerance`` ends
    the run with ``{"distance": d}``. A run that gets through is completed and returns
    ``{"dates", metric: series scaled to 2,000,000 firms}``: the same bytes as
    :func:`sim.runs.jobs.run_totals` (the model's months do not depend on where a run pauses).
    """
    config = run.scenario
    model = CloudAdoptionModel(config, replicate=run.replicate,
                               population=population_for(config, run.replicate)[0])
    factor = scale_up(config)
    if np.isfinite(run.tolerance):
        col = {m: MODEL_METRICS.index(m) for m in METRICS}
        for k in checkpoints(run.figures, model.dates):
            if k > model.month:
                model.run_for(k - model.month)
            dates = model.dates[:k + 1]
            series = {m: model.cube[:k + 1, :, col[m]].sum(axis=1) * factor for m in METRICS}
            judged = [f for f in run.figures if f.last_month <= dates[-1][:7]]
            d = float(observation.total_distance(judged, dates, series))
            if d > run.tolerance:
                model.close()  # frees its memory now for the next particle (CloudAdoptionModel.close)
                return run.index, {"distance": d}
    out = model.run()
    model.close()
    return run.index, {"dates": out.dates, **{m: np.asarray(out.total(m), dtype=float) * factor for m in METRICS}}


@dataclass
class MatchResult:
    """A history match: the posterior, the figures it was conditioned on, predictive series."""

    abc: AbcResult
    params: tuple[Parameter, ...]
    config: Scenario
    figures: tuple[observation.Figure, ...]
    dates: list[str]
    counted: str = "above_scale"

    def series(self, metric: str) -> np.ndarray:
        """Posterior predictive series of ``metric`` (particles x months, full scale)."""
        return np.stack([k[metric] for k in self.abc.kept])

    @property
    def keys(self) -> np.ndarray:
        """Replicate of each final particle's run (``run_seed(config.run.seed, key)``): a paired
        counterfactual reruns the same parameter set with the same key."""
        return np.array([k["key"] for k in self.abc.kept], dtype=np.int64)

    def posterior_frame(self) -> pd.DataFrame:
        """Jointly drawn parameter sets: one column per dotted path, plus ``weight``."""
        rows = [values_of(self.params, th) for th in self.abc.particles]
        df = pd.DataFrame(rows)
        df["weight"] = self.abc.weights
        return df


def history_match(base: Scenario, *, params: Sequence[Parameter] = DEFAULT_PARAMETERS,
                  figures: Sequence[observation.Figure] | None = None, published_by: str | None = None,
                  total_firms: int = DEFAULT_TOTAL_FIRMS, start: str | None = None, end: str = "2025-12",
                  particles: int = 100, generations: int = 8, max_simulations: int = 2_000,
                  min_tolerance: float = DATA_PRECISION, quantile: float = 0.5, seed: int = 0,
                  overrides: dict[str, Any] | None = None, executor: Executor | None = None,
                  on_generation=None, counted: str = "above_scale", stop=None,
                  structure_pool: int | None = STRUCTURE_POOL, max_batch: int = MAX_BATCH,
                  kernel: str = "scaled") -> MatchResult:
    """ABC-SMC posterior of ``params`` given the published figures.

    Args:
        base: Scenario whose rates are calibrated (policies as they were implemented).
        params: Calibrated quantities and their uniform prior boxes.
        figures: Evidence (default: :func:`sim.analysis.observation.evidence` after the run's
            start, up to ``end``, published by ``published_by``).
        published_by: Only figures stated by this month (YYYY-MM), for a backtest origin.
        total_firms: Simulated population (counts are scaled to 2,000,000).
        start: Run start (YYYY-MM; default the base's). Figures at or before it are initial state.
        end: Last simulated month.
        particles, generations, max_simulations, min_tolerance, quantile: ABC-SMC settings
            (:func:`sim.analysis.abc.abc_smc`).
        seed: Root seed (replicate seeds of the particles and the sampler's stream).
        overrides: Dotted overrides of the base (e.g. :data:`IN_FORCE_SINCE_2018`).
        executor: Where the model runs go (None: serially here).
        on_generation: Progress callback with each generation's row.
        counted: What the transformed tallies count (:func:`sim.analysis.observation.recount`).
        stop: Asked before each batch of runs; True ends the match at its last complete
            generation (:func:`sim.analysis.abc.abc_smc`).
        structure_pool: Population structures the runs cycle over (:data:`STRUCTURE_POOL`).
        max_batch: Most runs sent to the executor at once (:data:`MAX_BATCH`).
        kernel: Perturbation kernel (:data:`sim.analysis.abc.KERNELS`).
    """
    config = match_config(base, total_firms=total_firms, start=start, end=end, seed=seed, overrides=overrides,
                          structure_pool=structure_pool)
    params = tuple(params)
    if figures is None:
        figures = observation.evidence(after=config.time.start, until=end, published_by=published_by,
                                       counted=counted)
    figures = tuple(figures)
    if not figures:
        raise ValueError("no published figure to match in this window")
    dates_box: list[list[str]] = [[]]

    def simulate(thetas: np.ndarray, keys: np.ndarray, tolerance: float) -> Simulation:
        dates, runs = simulate_particles(config, params, thetas, keys, executor, figures, tolerance)
        whole = [i for i, r in enumerate(runs) if "dates" in r]
        d = np.array([r["distance"] if "distance" in r else np.nan for r in runs])
        keep: list[dict | None] = [None] * len(runs)
        if whole:
            dates_box[0] = dates
            stacked = {m: np.stack([runs[i][m] for i in whole]) for m in METRICS}
            d[whole] = observation.total_distance(figures, dates, stacked)
            for i in whole:
                keep[i] = {"key": int(keys[i]), **{m: runs[i][m].astype(np.float32) for m in METRICS}}
        return Simulation(d, keep=keep)

    res = abc_smc(simulate, [p.name for p in params], np.array([p.lower for p in params]),
                  np.array([p.upper for p in params]), particles=particles, generations=generations,
                  quantile=quantile, min_tolerance=min_tolerance, max_simulations=max_simulations,
                  seed=seed, on_generation=on_generation, stop=stop, max_batch=max_batch,
                  kernel=kernel)
    return MatchResult(res, params, config, figures, dates_box[0], counted)


def predictive_table(dates: Sequence[str], series: dict[str, np.ndarray], weights: np.ndarray,
                     figs: Sequence[observation.Figure],
                     used: Sequence[observation.Figure] = (), tolerance: float = DATA_PRECISION) -> pd.DataFrame:
    """Posterior predictive interval of each figure (weighted quantiles at its point month).

    Columns: ``row, figure, rule, used`` (the figure was evidence of the match: in ``used``),
    ``lower, upper, p05, p25, p50, p75, p95, covered50, covered90, consistent`` (share of the
    weighted draws within the figure's set over its window), ``within_tolerance`` (share whose
    :func:`sim.analysis.observation.distance` is at most ``tolerance``, the target of the match:
    which figure keeps the match from reaching it) and ``median_error``
    (:func:`sim.analysis.observation.median_error`).
    """
    used_rows = {f.row for f in used}
    rows = []
    months = [d[:7] for d in dates]
    for f in figs:
        if f.metric is None or f.metric not in series or f.value is None or f.rule == "target":
            continue
        if not (months[0] <= observation.point_month(f) <= months[-1]):
            continue
        x = series[f.metric][:, months.index(observation.point_month(f))]
        q = weighted_quantile(x, weights, [0.05, 0.25, 0.5, 0.75, 0.95])
        dist = observation.distance(f, dates, series[f.metric])
        ok = dist == 0.0
        rows.append({"row": f.row, "figure": f.label, "rule": f.rule, "used": f.row in used_rows,
                     "lower": f.lower, "upper": f.upper,
                     "p05": q[0], "p25": q[1], "p50": q[2], "p75": q[3], "p95": q[4],
                     "covered50": observation.covers(f, q[1], q[3]),
                     "covered90": observation.covers(f, q[0], q[4]),
                     # shares of normalised weights: clipped, a sum of all of them may exceed 1 by 1e-16
                     "consistent": min(float(weights[ok].sum()), 1.0),
                     "within_tolerance": min(float(weights[dist <= tolerance].sum()), 1.0),
                     "median_error": observation.median_error(f, q[2])})
    return pd.DataFrame(rows)


def save_posterior(result: MatchResult, path: str | Path) -> Path:
    """Write the posterior (one column per dotted path + ``weight``) as CSV, atomically."""
    from sim.fileio import atomic_write_csv

    path = Path(path)
    atomic_write_csv(path, result.posterior_frame(), index=False)
    return path
