"""Calibration of diffusion parameters to the reported progress figures.

A calibration is described by a strict YAML spec (:class:`CalibrationSpec`, ``extra="forbid"``):
the base scenario, the parameters to fit (dotted key paths with a box ``[lower, upper]``), the
targets (reported figures of :func:`sim.datasets.reported_progress`), the seeds, the population
size and the optimizer. :func:`calibrate` then

1. minimises the sum of squared *relative* errors ``(simulated - reported) / reported`` with
   :func:`scipy.optimize.minimize` (bounded Nelder-Mead, default) or
   :func:`scipy.optimize.least_squares`, over **common random numbers**: every trial runs the
   same replicates (same seeds, same firm thresholds and populations), so the objective changes
   only through the parameters and is smooth up to the granularity of single firms;
2. draws an approximate-Bayesian posterior by **ABC rejection** over the uniform prior box
   (numpy, seeded; the simulator and seeds are the same as in the fit), keeping the draws whose
   distance is within the ``accept_fraction`` quantile;
3. profiles the objective along each parameter (others at the fitted values) and compares the
   posterior widths with the prior widths: a parameter is *pinned* when its 90% posterior
   interval is under half its prior width;
4. writes a plot of the fit, a CSV of the ABC draws, a JSON summary and the calibrated
   scenario ``calibrated.yaml`` into the output folder: it ``extends`` the spec's base (the
   shipped name, or a path relative to the written file) and sets the spec's ``overrides`` and
   the fitted values, with a comment block saying how they were produced. It is written anywhere
   else (such as the repository's ``scenarios/calibrated.yaml``) only when asked: the spec's
   ``write_scenario`` or the ``write_scenario`` argument (``gdcloud calibrate --write-scenario``).

A relative ``base`` path in a spec file is resolved from the spec file's folder (as ``extends``
in a scenario file), then as a shipped scenario name.

Population-size approximation: to keep trials cheap the model is run at ``total_firms``
(default 200,000) and every simulated count is multiplied by ``2,000,000 / total_firms`` (the
model itself scales initial counts, the voucher budget and service capacity by the same
ratio). Peer shares in parks and chains are shares, so this is a good approximation of the full
population, but small parks are noisier; the fitted values carry this approximation.

Execution: the model runs go to an executor of :mod:`sim.runs.executors` (``executor``, ``workers``,
``address`` of :func:`calibrate`; serial by default) through :func:`run_groups`, which the
sensitivity and policy tools use too: the ABC draws, the profile points and the plotted runs are
submitted together, and each optimizer evaluation runs its seeds together. Results are put back
by index, so they are identical whatever the executor or the number of workers.

pyabc (0.13) could be installed, but it pulls about 20 further packages (ipykernel, redis,
SQLAlchemy, scikit-learn, GitPython) and a database back end for what is, with four targets,
a few lines of numpy; ABC rejection is therefore implemented here.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from sim import datasets
from sim.core.model import run_seed, simulate, spawn_streams, structure_seed
from sim.core.population import DEFAULT_TOTAL_FIRMS, Population, build_population, population_scale
from sim.errors import ScenarioError
from sim.fileio import atomic_savefig, atomic_write_csv, atomic_write_text
from sim.runs.executors import Executor, SerialExecutor
from sim.scenario import limits
from sim.scenario.loader import load_scenario, read_yaml_file, scenarios_dir
from sim.scenario.paths import assign, get_value, set_values, spec_key
from sim.scenario.schema import Scenario, YearMonth

INDICATOR_METRIC: dict[str, str] = {
    "cloud_enterprises_cumulative": "cloud_cumulative",
    "above_scale_transformed_cumulative": "transformed",
}
"""Reported indicator -> model metric (:data:`sim.core.model.METRICS`)."""


# --------------------------------------------------------------------------- spec


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ParameterSpec(_Strict):
    """One fitted parameter: a dotted scenario path (or several set to the same value)."""

    path: str | list[str] = Field(description="Dotted key path(s), e.g. diffusion.cloud.market_rate_per_year.")
    lower: float = Field(description="Lower bound (and of the uniform ABC prior).")
    upper: float = Field(description="Upper bound.")
    name: str | None = Field(None, description="Short label (default: the last key of the path).")

    @model_validator(mode="after")
    def _box(self) -> ParameterSpec:
        if not self.upper > self.lower:
            raise ValueError(f"upper ({self.upper}) must exceed lower ({self.lower})")
        return self

    @property
    def paths(self) -> list[str]:
        return [self.path] if isinstance(self.path, str) else list(self.path)

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        p = self.paths[0].split(".")
        return f"{p[-2]}.{p[-1]}" if len(p) > 1 else p[-1]


class TargetSpec(_Strict):
    """One reported figure to match."""

    indicator: Literal["cloud_enterprises_cumulative", "above_scale_transformed_cumulative"]
    date: str = Field(description="Reported date, YYYY-MM-DD (a month end).")
    value: float | None = Field(None, gt=0, description="Figure to match; default: the reported value.")
    weight: float = Field(1.0, gt=0, description="Weight of the squared relative error.")

    @model_validator(mode="after")
    def _reported(self) -> TargetSpec:
        if self.value is None:
            v = datasets.reported_value(self.indicator, self.date)
            if v is None:
                raise ValueError(f"no reported {self.indicator} at {self.date}; give value explicitly")
            self.value = v
        return self

    @property
    def metric(self) -> str:
        return INDICATOR_METRIC[self.indicator]


def _default_targets() -> list[TargetSpec]:
    return [TargetSpec(indicator="cloud_enterprises_cumulative", date="2021-12-31"),
            TargetSpec(indicator="above_scale_transformed_cumulative", date="2021-12-31")]


class OptimizerSpec(_Strict):
    method: Literal["nelder-mead", "least_squares"] = "nelder-mead"
    max_evaluations: int = Field(80, ge=1, le=limits.MAX_DESIGN_POINTS, description="Objective evaluations (each = `replicates` runs).")
    start: dict[str, float] | None = Field(None, description="Start values by label; default: the base scenario's values (clipped into the box).")


class AbcSpec(_Strict):
    enabled: bool = True
    draws: int = Field(200, ge=2, le=limits.MAX_DESIGN_POINTS, description="Prior draws (Latin hypercube over the box).")
    accept_fraction: float = Field(0.1, gt=0, le=1, description="Fraction of draws kept (smallest distance).")


class ProfileSpec(_Strict):
    enabled: bool = True
    points: int = Field(9, ge=3, le=1000, description="Grid points per parameter over its box.")


class CalibrationSpec(_Strict):
    """A calibration: what to fit, to which figures, how."""

    base: str = Field("baseline", description="Base scenario (file or shipped name).")
    overrides: dict[str, Any] = Field(default_factory=dict, description="Dotted overrides applied to the base before fitting.")
    start: YearMonth | None = Field(None, description="Run start (YYYY-MM); '2020-12' uses the end-2020 figures as initial state and the 2021-06 figures as targets. Default: the base's start.")
    parameters: list[ParameterSpec]
    targets: list[TargetSpec] = Field(default_factory=_default_targets)
    replicates: int = Field(2, ge=1, le=1000, description="Seeds per trial (the same at every trial).")
    seed: int = Field(20210706, ge=0, description="Root seed of the replicates.")
    total_firms: int = Field(200_000, ge=1_000, le=limits.MAX_FIRMS, description="Population simulated; counts are scaled by 2,000,000/total_firms.")
    optimizer: OptimizerSpec = Field(default_factory=OptimizerSpec)
    abc: AbcSpec = Field(default_factory=AbcSpec)
    profile: ProfileSpec = Field(default_factory=ProfileSpec)
    write_scenario: str | None = Field(None, description="Also write the calibrated scenario to this file (a relative path is taken from the repository root, e.g. scenarios/calibrated.yaml; it is replaced if it exists). Default null: only the copy in the results folder.")

    _folder: Path | None = PrivateAttr(default=None)

    def located(self, folder: str | Path | None) -> CalibrationSpec:
        """Record the folder of the spec file (relative ``base`` paths are resolved from it); returns self."""
        self._folder = None if folder is None else Path(folder)
        return self

    @property
    def folder(self) -> Path | None:
        """Folder of the spec file, or None for a spec built in Python (then: the current directory)."""
        return self._folder

    def base_file(self) -> Path:
        """The base scenario file (:func:`resolve_base` from the spec's folder)."""
        return resolve_base(self.base, self._folder)

    def base_scenario(self) -> Scenario:
        """The base scenario with the spec's overrides applied."""
        return load_scenario(self.base_file(), dict(self.overrides) or None)

    @model_validator(mode="after")
    def _design_size(self) -> CalibrationSpec:
        # Counted before anything runs: ABC draws, profile grid and optimizer trials, x seeds.
        points = self.abc.draws + self.profile.points * len(self.parameters) + self.optimizer.max_evaluations
        if points > limits.MAX_DESIGN_POINTS or points * self.replicates > limits.MAX_RUNS:
            raise ValueError(f"abc.draws + profile.points x parameters + optimizer.max_evaluations = "
                             f"{points:,} trials ({points * self.replicates:,} runs); allowed: at most "
                             f"{limits.MAX_DESIGN_POINTS:,} trials and {limits.MAX_RUNS:,} runs")
        return self

    @field_validator("parameters")
    @classmethod
    def _nonempty(cls, v: list[ParameterSpec]) -> list[ParameterSpec]:
        if not v:
            raise ValueError("at least one parameter is needed")
        labels = [p.label for p in v]
        if len(set(labels)) != len(labels):
            raise ValueError(f"parameter labels must be unique, got {labels}")
        return v


def load_spec(spec: str | Path | CalibrationSpec | dict) -> CalibrationSpec:
    """A validated :class:`CalibrationSpec` from a YAML path, a dict or a spec.

    A spec read from a file remembers its folder, from which a relative ``base`` is resolved;
    for a dict, relative paths are taken from the current directory.
    """
    if isinstance(spec, CalibrationSpec):
        return spec
    if isinstance(spec, dict):
        return CalibrationSpec.model_validate(spec)
    data = read_yaml_file(Path(spec), "a mapping of calibration spec keys")
    return CalibrationSpec.model_validate(data).located(Path(spec).parent)


def resolve_base(ref: str, folder: str | Path | None = None) -> Path:
    """The scenario file a spec's ``base`` names, looked up as ``extends`` in a scenario file.

    Candidates, in order: ``folder / ref``, ``folder / (ref + ".yaml")`` (if ``ref`` has no
    suffix), and the shipped scenario ``scenarios/<ref>.yaml`` (if ``ref`` is a bare name).

    Args:
        ref: The ``base`` text: a path or a shipped scenario name.
        folder: Folder of the spec file (None: the current directory).

    Raises:
        ScenarioError: No candidate exists (the error's file is ``ref``).
    """
    ref_path = Path(ref)
    here = Path(folder) if folder is not None else Path(".")
    candidates = [ref_path if ref_path.is_absolute() else here / ref_path]
    if not ref_path.suffix:
        candidates.append(here / f"{ref}.yaml")
    if ref_path.parent == Path(".") and ref_path.suffix in ("", ".yaml"):
        candidates.append(scenarios_dir() / f"{ref_path.stem}.yaml")
    for candidate in candidates:
        if candidate.is_file():
            return Path(os.path.normpath(candidate))
    names = ", ".join(p.stem for p in sorted(scenarios_dir().glob("*.yaml")))
    where = "the spec file's folder" if folder is not None else "the current directory"
    raise ScenarioError(ref, "(file)", "no such scenario file",
                        f"a path relative to {where}, or a shipped scenario: {names}")


def shipped_name(path: str | Path) -> str | None:
    """The shipped scenario name if ``path`` is a shipped scenario file, else None."""
    path = Path(path)
    shipped = scenarios_dir() / f"{path.stem}.yaml"
    try:
        return path.stem if shipped.is_file() and path.resolve() == shipped.resolve() else None
    except OSError:  # pragma: no cover
        return None


# --------------------------------------------------------------------------- simulator


_POP_CACHE: OrderedDict[tuple, Population] = OrderedDict()
POP_CACHE_SIZE = 16


def _population_for(config: Scenario, replicate: int) -> Population:
    """The population :func:`sim.core.model.simulate` would build for this replicate, cached.

    Only the population and time sections and the seed determine it, so every trial of a
    calibration (which changes diffusion parameters only) reuses it: common random numbers and
    no rebuild cost.
    """
    key = (json.dumps({"p": config.population.model_dump(mode="json"),
                       "t": config.time.model_dump(mode="json")}, sort_keys=True),
           config.run.seed, replicate)
    pop = _POP_CACHE.get(key)
    if pop is None:
        seq = structure_seed(config, spawn_streams(run_seed(config.run.seed, replicate)))
        pop = build_population(config, seq)
        _POP_CACHE[key] = pop
        while len(_POP_CACHE) > POP_CACHE_SIZE:
            _POP_CACHE.popitem(last=False)
    else:
        _POP_CACHE.move_to_end(key)
    return pop


def run_totals(config: Scenario, replicate: int, metrics: Sequence[str] = ("cloud_cumulative", "transformed")) -> dict:
    """Run one replicate (population cached) and return ``{"dates": [...], metric: array}``."""
    out = simulate(config, replicate, population=_population_for(config, replicate))
    res: dict[str, Any] = {"dates": out.dates}
    for m in metrics:
        res[m] = out.total(m)
    return res


# --------------------------------------------------------------------------- batches of runs


@dataclass(frozen=True)
class TotalsRun:
    """One model run of an analysis tool (small and picklable; sent to worker processes).

    Attributes:
        index: Position of the run in its batch; results are put back in this order.
        scenario: The scenario to run (a pydantic model pickles as it is: no re-validation).
        replicate: Replicate ``r``; the run uses ``run_seed(scenario.run.seed, r)``.
        metrics: Metrics returned (names of :data:`sim.core.model.METRICS`).
    """

    index: int
    scenario: Scenario
    replicate: int
    metrics: tuple[str, ...]


def run_totals_task(run: TotalsRun) -> tuple[int, dict]:
    """What the executors call: ``(run.index, run_totals(...))`` of one :class:`TotalsRun`.

    A module-level function, so worker processes (forkserver) and Dask workers can import it.
    Each worker process keeps its own population cache (:func:`run_totals`).
    """
    return run.index, run_totals(run.scenario, run.replicate, run.metrics)


Job = tuple[Scenario, int, Sequence[str]]
"""One model run: ``(config, replicate, metrics)``."""


def run_groups(groups: Sequence[Sequence[Job]], executor: Executor | None = None, *,
               reduce: Callable[[int, list[dict]], Any] | None = None,
               on_group: Callable[[int, int], None] | None = None) -> list[Any]:
    """Run groups of independent model runs, all submitted to the executor together.

    Each job is ``(config, replicate, metrics)`` and gives ``run_totals(config, replicate,
    metrics)``. Results are collected by their index, so what this returns does not depend on
    the executor, the number of workers or the order in which runs finish.

    Args:
        groups: The runs, grouped (e.g. the replicates of one parameter point).
        executor: Where the runs go (None: serially in this process).
        reduce: ``reduce(g, results)`` with group ``g``'s results in job order, called as soon
            as the group is complete (its raw results are then dropped). None keeps the list.
        on_group: Called with ``(groups done, groups)`` after each group completes.

    Returns:
        One entry per group, in group order: ``reduce(g, results)`` or the list of results.

    Raises:
        Whatever a run raised (the executor cancels the pending runs first).
    """
    ex = executor if executor is not None else SerialExecutor()
    specs: list[TotalsRun] = []
    where: list[tuple[int, int]] = []
    for g, jobs in enumerate(groups):
        for j, (cfg, r, metrics) in enumerate(jobs):
            where.append((g, j))
            specs.append(TotalsRun(len(specs), cfg, int(r), tuple(metrics)))
    pending = [len(jobs) for jobs in groups]
    raw: list[list[Any]] = [[None] * len(jobs) for jobs in groups]
    out: list[Any] = [None] * len(groups)
    done = 0

    def complete(g: int) -> None:
        nonlocal done
        out[g] = reduce(g, raw[g]) if reduce is not None else raw[g]
        raw[g] = []
        done += 1
        if on_group is not None:
            on_group(done, len(groups))

    def on_result(res: tuple[int, dict]) -> None:
        i, totals = res
        g, j = where[i]
        raw[g][j] = totals
        pending[g] -= 1
        if pending[g] == 0:
            complete(g)

    for g, n in enumerate(pending):
        if n == 0:
            complete(g)
    ex.map(run_totals_task, specs, on_result)
    return out


@contextmanager
def executor_for(executor: Executor | str | None = None, workers: int | None = None,
                 address: str | None = None) -> Iterator[Executor]:
    """The executor of an analysis call, closed on exit if it was created here.

    None, None, None is serial (in this process); ``workers`` alone means local processes;
    ``address`` a Dask scheduler. An :class:`~sim.runs.executors.Executor` is used as it is and left
    open (the caller closes it).
    """
    from sim.runs.runner import _executor

    ex, owned = _executor(executor, workers, address)
    try:
        yield ex
    finally:
        if owned:
            ex.close()


def scale_up(config: Scenario) -> float:
    """Factor from the simulated population to the 2,000,000 firms the figures refer to."""
    return 1.0 / population_scale(config)


def with_values(config: Scenario, params: Sequence[ParameterSpec], theta: Sequence[float]) -> Scenario:
    """``config`` with parameter values ``theta`` set at their dotted paths (integer keys rounded)."""
    values = {path: float(v) for p, v in zip(params, theta, strict=True) for path in p.paths}
    return set_values(config, values, label=SPEC_LABEL)


SPEC_LABEL = "(calibration spec)"
"""Named in errors about a spec given as an object rather than a file."""


@dataclass
class Problem:
    """The calibration problem made concrete: base config, parameter box, targets, seeds."""

    spec: CalibrationSpec
    config: Scenario
    n_evals: int = 0
    executor: Executor | None = None
    """Where the model runs go (None: serially in this process)."""

    @property
    def params(self) -> list[ParameterSpec]:
        return self.spec.parameters

    @property
    def lower(self) -> np.ndarray:
        return np.array([p.lower for p in self.params])

    @property
    def upper(self) -> np.ndarray:
        return np.array([p.upper for p in self.params])

    @property
    def observed(self) -> np.ndarray:
        return np.array([t.value for t in self.spec.targets], dtype=float)

    @property
    def weights(self) -> np.ndarray:
        return np.array([t.weight for t in self.spec.targets], dtype=float)

    def simulate(self, theta: Sequence[float]) -> np.ndarray:
        """Mean over the fixed replicates of each target, scaled to 2,000,000 firms.

        The replicates run together on :attr:`executor`.
        """
        return self.simulate_many([theta])[0]

    def simulate_many(self, thetas: Sequence[Sequence[float]]) -> list[np.ndarray]:
        """:meth:`simulate` at several parameter points, every run submitted at once."""
        cfgs = [with_values(self.config, self.params, theta) for theta in thetas]
        metrics = sorted({t.metric for t in self.spec.targets})
        reps = self.spec.replicates

        def mean_targets(g: int, results: list[dict]) -> np.ndarray:
            acc = np.zeros(len(self.spec.targets))
            for res in results:  # replicate order: the same sums whatever the executor
                for i, t in enumerate(self.spec.targets):
                    acc[i] += res[t.metric][res["dates"].index(t.date)]
            return acc / reps * scale_up(cfgs[g])

        out = run_groups([[(cfg, r, metrics) for r in range(reps)] for cfg in cfgs], self.executor,
                         reduce=mean_targets)
        self.n_evals += len(cfgs)
        return out

    def residuals(self, simulated: np.ndarray) -> np.ndarray:
        """Weighted relative errors ``sqrt(w) (sim - obs) / obs``."""
        return np.sqrt(self.weights) * (simulated - self.observed) / self.observed

    def objective(self, theta: Sequence[float]) -> float:
        r = self.residuals(self.simulate(theta))
        return float(r @ r)


def make_problem(spec: CalibrationSpec) -> Problem:
    """Resolve the base scenario, horizon and population size of a spec."""
    base = spec.base_scenario()
    last = max(t.date for t in spec.targets)
    ov: dict[str, Any] = {"population.total_firms": spec.total_firms, "time.end": last[:7],
                          "run.seed": spec.seed}
    if spec.start is not None:
        ov["time.start"] = spec.start
    config = set_values(base, ov, label=SPEC_LABEL)
    for t in spec.targets:
        if t.date[:7] <= config.time.start:
            raise ValueError(f"target {t.indicator} at {t.date} is not after the run start {config.time.start}")
    for i, p in enumerate(spec.parameters):
        for path in p.paths:
            spec_key(path, SPEC_LABEL, f"parameters[{i}].path")
    with_values(config, spec.parameters, [(p.lower + p.upper) / 2 for p in spec.parameters])
    return Problem(spec, config)


# --------------------------------------------------------------------------- result


@dataclass
class CalibrationResult:
    """What :func:`calibrate` found.

    Attributes:
        spec: The spec used.
        labels: Parameter labels, in spec order.
        fitted: Best-fit values (optimizer).
        objective: Sum of weighted squared relative errors at the fit.
        fit: Per target: date, indicator, reported, simulated, relative error.
        posterior: ABC draws kept (one row per draw, plus ``distance``); empty if ABC is off.
        draws: All ABC draws with their distance.
        summary: Per parameter: prior box, fitted value, posterior 5/50/95% quantiles, width
            ratio (90% posterior width / prior width) and ``pinned``.
        profiles: Per parameter and grid value: objective with the others at the fit.
        n_runs: Model runs used.
        files: Written files by role.
    """

    spec: CalibrationSpec
    labels: list[str]
    fitted: np.ndarray
    objective: float
    fit: pd.DataFrame
    posterior: pd.DataFrame
    draws: pd.DataFrame
    summary: pd.DataFrame
    profiles: pd.DataFrame
    n_runs: int
    optimizer_message: str = ""
    files: dict[str, Path] = field(default_factory=dict)

    def fitted_dict(self) -> dict[str, float]:
        return dict(zip(self.labels, map(float, self.fitted), strict=True))


# --------------------------------------------------------------------------- fitting


def fit(problem: Problem) -> tuple[np.ndarray, float, str]:
    """Minimise the objective inside the box; returns (theta, objective, message)."""
    from scipy import optimize

    spec = problem.spec
    lo, hi = problem.lower, problem.upper
    x0 = []
    for p in problem.params:
        if spec.optimizer.start and p.label in spec.optimizer.start:
            v = spec.optimizer.start[p.label]
        else:
            v = float(get_value(problem.config, p.paths[0]))
        x0.append(float(np.clip(v, p.lower, p.upper)))
    # Work in unit coordinates so every parameter gets comparable simplex steps.
    u0 = (np.array(x0) - lo) / (hi - lo)
    to_x = lambda u: lo + np.clip(u, 0, 1) * (hi - lo)  # noqa: E731
    if spec.optimizer.method == "least_squares":
        res = optimize.least_squares(lambda u: problem.residuals(problem.simulate(to_x(u))), u0,
                                     bounds=(0, 1), diff_step=0.02, max_nfev=spec.optimizer.max_evaluations,
                                     x_scale=1.0)
        return to_x(res.x), float(2 * res.cost), str(res.message)
    # Initial simplex of +/-15% of the box around the start (reflected inside).
    d = len(u0)
    simplex = np.tile(u0, (d + 1, 1))
    for i in range(d):
        simplex[i + 1, i] += 0.15 if u0[i] <= 0.85 else -0.15
    res = optimize.minimize(lambda u: problem.objective(to_x(u)), u0, method="Nelder-Mead",
                            bounds=[(0, 1)] * d,
                            options={"maxfev": spec.optimizer.max_evaluations, "initial_simplex": simplex,
                                     "xatol": 1e-3, "fatol": 1e-6})
    return to_x(res.x), float(res.fun), str(res.message)


def abc_rejection(problem: Problem, rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """ABC rejection over the uniform prior box (Latin hypercube draws).

    Distance = root mean square of the weighted relative errors; the ``accept_fraction`` of
    draws with the smallest distance are kept (so the tolerance is a quantile of the distances).

    Returns:
        (all draws with distance and simulated targets, accepted draws).
    """
    from scipy.stats import qmc

    spec = problem.spec
    d = len(problem.params)
    try:
        sampler = qmc.LatinHypercube(d=d, rng=rng)
    except TypeError:  # scipy < 1.15
        sampler = qmc.LatinHypercube(d=d, seed=rng)
    u = sampler.random(spec.abc.draws)
    thetas = problem.lower + u * (problem.upper - problem.lower)
    labels = [p.label for p in problem.params]
    rows = []
    for th, sim in zip(thetas, problem.simulate_many(list(thetas)), strict=True):
        r = problem.residuals(sim)
        rows.append([*th, float(np.sqrt(np.mean(r * r))), *sim])
    draws = pd.DataFrame(rows, columns=[*labels, "distance",
                                        *[f"sim:{t.indicator}@{t.date}" for t in spec.targets]])
    draws.index.name = "draw"
    k = max(2, int(np.ceil(spec.abc.accept_fraction * len(draws))))
    accepted = draws.nsmallest(k, "distance")
    return draws, accepted


def profiles(problem: Problem, theta: np.ndarray) -> pd.DataFrame:
    """Objective along each parameter's box with the others held at ``theta`` (all points at once)."""
    rows, thetas = [], []
    for i, p in enumerate(problem.params):
        for v in np.linspace(p.lower, p.upper, problem.spec.profile.points):
            th = theta.copy()
            th[i] = v
            thetas.append(th)
            rows.append({"parameter": p.label, "value": float(v)})
    for row, sim in zip(rows, problem.simulate_many(thetas), strict=True):
        r = problem.residuals(sim)
        row["objective"] = float(r @ r)
    return pd.DataFrame(rows, columns=["parameter", "value", "objective"])


def _summary(problem: Problem, theta: np.ndarray, accepted: pd.DataFrame, prof: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for i, p in enumerate(problem.params):
        row: dict[str, Any] = {"parameter": p.label, "path": ",".join(p.paths), "lower": p.lower,
                               "upper": p.upper, "fitted": float(theta[i])}
        if len(accepted):
            q = accepted[p.label].quantile([0.05, 0.5, 0.95]).to_numpy()
            row.update(q05=q[0], q50=q[1], q95=q[2])
            row["width_ratio"] = float((q[2] - q[0]) / (p.upper - p.lower))
            row["pinned"] = bool(row["width_ratio"] < 0.5)
        if len(prof):
            pr = prof[prof.parameter == p.label]
            best = pr.objective.min()
            # Share of the box where the profile stays within 2x the best objective + 1e-4
            # (about a 1% relative error): a flat profile means a poorly identified parameter.
            row["profile_flat_share"] = float(np.mean(pr.objective <= 2 * best + 1e-4))
        rows.append(row)
    return pd.DataFrame(rows)


def fit_table(problem: Problem, theta: np.ndarray) -> pd.DataFrame:
    sim = problem.simulate(theta)
    return pd.DataFrame({
        "date": [t.date for t in problem.spec.targets],
        "indicator": [t.indicator for t in problem.spec.targets],
        "reported": problem.observed,
        "simulated": sim,
        "relative_error": (sim - problem.observed) / problem.observed,
    })


def calibrate(spec_path_or_spec: str | Path | CalibrationSpec | dict, *, out_dir: str | Path | None = None,
              seed: int = 0, write_scenario: bool | str | Path | None = None,
              progress: Callable[[str], None] | None = None, executor: Executor | str | None = None,
              workers: int | None = None, address: str | None = None) -> CalibrationResult:
    """Fit the spec's parameters to the reported figures and quantify their uncertainty.

    Args:
        spec_path_or_spec: A YAML path, a dict or a :class:`CalibrationSpec`.
        out_dir: Folder for ``calibration_fit.png``, ``calibration_profiles.png``,
            ``abc_draws.csv``, ``calibration_summary.csv``, ``calibration_fit.csv``,
            ``calibration.json`` and the calibrated scenario ``calibrated.yaml``
            (``files["scenario_copy"]``); nothing is written if None.
        seed: Seed of the ABC prior draws (the model replicates use ``spec.seed``).
        write_scenario: Where else to write the calibrated scenario (``files["scenario"]``):
            a path (relative to the current directory), True for the spec's
            ``write_scenario``, False for nowhere; None (default) means the spec's
            ``write_scenario`` if it is set and ``out_dir`` is given.
        progress: Optional callback receiving one-line progress messages.
        executor: Where the model runs go: an :class:`~sim.runs.executors.Executor` (left open) or
            ``"serial"``, ``"processes"``, ``"dask"``. Default None: serially in this process,
            or local processes if ``workers`` is given. The ABC draws, the profile points and
            the plotted runs are submitted together; each optimizer evaluation (sequential by
            nature) runs its ``replicates`` seeds together. Results do not depend on it.
        workers: Worker processes for ``processes`` / a local ``dask`` cluster.
        address: Dask scheduler address (implies ``dask``).

    Returns:
        A :class:`CalibrationResult`.
    """
    spec = load_spec(spec_path_or_spec)
    problem = make_problem(spec)
    with executor_for(executor, workers, address) as ex:
        problem.executor = ex
        try:
            return _calibrate(spec, problem, out_dir=out_dir, seed=seed, write_scenario=write_scenario,
                              progress=progress)
        finally:
            problem.executor = None


def _calibrate(spec: CalibrationSpec, problem: Problem, *, out_dir: str | Path | None, seed: int,
               write_scenario: bool | str | Path | None,
               progress: Callable[[str], None] | None) -> CalibrationResult:
    say = progress or (lambda _msg: None)
    labels = [p.label for p in spec.parameters]
    say(f"fitting {labels} to {len(spec.targets)} targets, {spec.replicates} seeds x {spec.total_firms} firms")
    theta, obj, msg = fit(problem)
    say(f"fit: {dict(zip(labels, np.round(theta, 5), strict=True))} objective {obj:.3g} ({msg})")
    fit_df = fit_table(problem, theta)
    obj = float(np.sum(problem.weights * fit_df.relative_error.to_numpy() ** 2))
    if spec.abc.enabled:
        draws, accepted = abc_rejection(problem, np.random.default_rng(seed))
        say(f"ABC: kept {len(accepted)} of {len(draws)} draws, distance <= {accepted.distance.max():.3g}")
    else:
        draws = accepted = pd.DataFrame(columns=[*labels, "distance"])
    prof = profiles(problem, theta) if spec.profile.enabled else pd.DataFrame(columns=["parameter", "value", "objective"])
    summary = _summary(problem, theta, accepted, prof)
    result = CalibrationResult(spec=spec, labels=labels, fitted=theta, objective=obj, fit=fit_df,
                               posterior=accepted, draws=draws, summary=summary, profiles=prof,
                               n_runs=problem.n_evals * spec.replicates, optimizer_message=msg)
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        result.files["draws"] = out / "abc_draws.csv"
        atomic_write_csv(result.files["draws"], draws)
        result.files["summary"] = out / "calibration_summary.csv"
        atomic_write_csv(result.files["summary"], summary, index=False)
        result.files["fit"] = out / "calibration_fit.csv"
        atomic_write_csv(result.files["fit"], fit_df, index=False)
        result.files["json"] = out / "calibration.json"
        atomic_write_text(result.files["json"], json.dumps(_json(result), indent=2, default=float))
        result.files.update(plot_calibration(result, problem, out))
        result.files["scenario_copy"] = write_calibrated_scenario(result, out / "calibrated.yaml")
    target = scenario_target(spec, write_scenario, out_dir is not None)
    if target is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
        result.files["scenario"] = write_calibrated_scenario(result, target)
    return result


def spec_write_path(spec: CalibrationSpec) -> Path | None:
    """The spec's ``write_scenario`` as a path (relative paths from the repository root), or None."""
    if not spec.write_scenario:
        return None
    path = Path(spec.write_scenario)
    return path if path.is_absolute() else Path(__file__).resolve().parents[2] / path


def scenario_target(spec: CalibrationSpec, write_scenario: bool | str | Path | None,
                    has_out_dir: bool, *, results_root: Path | None = None,
                    force: bool = False) -> Path | None:
    """Where :func:`calibrate` writes the extra copy of the calibrated scenario (None: nowhere).

    A path named by the caller (``write_scenario`` as a path: ``--write-scenario``) is used as
    given, and so is the ``write_scenario`` of a spec built in Python. The ``write_scenario`` of a
    spec read from a file is checked with :func:`check_spec_target` unless ``force``: a spec file
    must not be able to replace an arbitrary file.
    """
    if write_scenario is None:
        path = spec_write_path(spec) if has_out_dir else None
    elif isinstance(write_scenario, bool):
        path = spec_write_path(spec) if write_scenario else None
    else:
        return Path(write_scenario)
    if path is not None and not force and spec.folder is not None:  # a spec read from a file
        check_spec_target(spec, path, results_root)
    return path


def check_spec_target(spec: CalibrationSpec, path: Path, results_root: Path | None = None) -> None:
    """Refuse a spec's ``write_scenario`` that could replace a file it has no business with.

    Allowed: a ``.yaml``/``.yml`` file (not a symbolic link, not a folder) inside the spec's own
    folder, the shipped scenarios folder (:func:`sim.scenario.loader.scenarios_dir`) or the
    results root. Anything else needs ``--force`` (or an explicit ``--write-scenario PATH``).

    Raises:
        ScenarioError: The target is not allowed.
    """
    roots = [spec.folder if spec.folder is not None else Path.cwd(), scenarios_dir()] + ([results_root] if results_root is not None else [])
    resolved = path.resolve()
    inside = any(resolved.is_relative_to(Path(r).resolve()) for r in roots)
    problem = None
    if path.suffix.lower() not in (".yaml", ".yml"):
        problem = "is not a .yaml file"
    elif path.is_symlink() or path.is_dir():
        problem = "is a symbolic link or a folder"
    elif not inside:
        problem = "is outside the spec's folder, the scenarios folder and the results root"
    if problem:
        label = str(spec.folder) if spec.folder is not None else "(spec)"
        raise ScenarioError(label, "write_scenario", f"{path} {problem}",
                            "a .yaml file in one of: " + ", ".join(str(r) for r in roots)
                            + " (or pass --force, or name the file with --write-scenario PATH)")


def _json(result: CalibrationResult) -> dict:
    return {"spec": result.spec.model_dump(mode="json"), "fitted": result.fitted_dict(),
            "objective": result.objective, "n_runs": result.n_runs,
            "optimizer_message": result.optimizer_message,
            "fit": result.fit.to_dict(orient="records"),
            "summary": result.summary.to_dict(orient="records")}


# --------------------------------------------------------------------------- outputs


def _override_tree(config: Scenario, keys: Sequence[str]) -> dict[str, Any]:
    """Nested scenario sections holding the values of ``config`` at the dotted ``keys``.

    Written into a file, the tree sets those keys when merged onto the base: sections merge key
    by key, but lists and free-form mappings replace the parent's value whole, so a key inside
    one (``policies.pilots.items.0.parks_per_year``, ``policies.sme_pilot_cities.schedule.X``)
    writes the whole list or mapping as it is in ``config``.
    """
    from sim.scenario.docs import child_annotation, model_class, strip

    data = config.model_dump(mode="json")
    tree: dict[str, Any] = {}
    for key in keys:
        parts = key.split(".")
        annotation: Any = Scenario
        node, src = tree, data
        for i, part in enumerate(parts):
            sub = child_annotation(annotation, part)
            section = sub is not None and model_class(sub) is not None and not strip(sub)[2]
            if i == len(parts) - 1 or not section or not isinstance(src.get(part), dict):
                node[part] = copy.deepcopy(src[part])
                break
            if not isinstance(node.get(part), dict):
                node[part] = {}
            node, src, annotation = node[part], src[part], sub
    return tree


def _chain_files(path: Path) -> list[Path]:
    """The file and every file it extends (resolved paths)."""
    from sim.scenario.loader import _read_chain

    return [Path(label).resolve() for label, _ in _read_chain(Path(path), [])]


def write_calibrated_scenario(result: CalibrationResult, path: str | Path) -> Path:
    """Write the calibrated scenario: the spec's base, its overrides and the fitted values.

    The file ``extends`` the spec's base: by its shipped name (``baseline``) or by a path
    relative to the written file, so it moves with the base. It sets the spec's ``overrides``
    (a key inside a list or free-form mapping writes that whole list or mapping) and then the
    fitted values, under a comment block with the provenance. If ``path`` is the base itself or
    a file the base extends, the file cannot extend it; it then holds the fully resolved base
    instead (no ``extends``).
    """
    spec = result.spec
    path = Path(path)
    base_file = spec.base_file()
    base = spec.base_scenario()
    self_contained = path.resolve() in _chain_files(base_file)
    if self_contained:
        head: dict[str, Any] = {}
        data: dict[str, Any] = base.model_dump(mode="json")
        for k in ("name", "description"):
            data.pop(k, None)
    else:
        name = shipped_name(base_file)
        extends = name or Path(os.path.relpath(base_file.resolve(), path.resolve().parent)).as_posix()
        head = {"extends": extends}
        data = _override_tree(base, list(spec.overrides))
    for p, v in zip(spec.parameters, result.fitted, strict=True):
        for dotted in p.paths:
            assign(data, dotted, round(float(v), 6), SPEC_LABEL, round_integers=True)
    errs = ", ".join(f"{r.indicator} {r.date}: {r.relative_error:+.2%}" for r in result.fit.itertuples())
    lines = [
        "# Calibrated diffusion rates: generated by sim.analysis.calibration.calibrate; do not edit by hand.",
        f"# Produced: {dt.date.today().isoformat()}",
        f"# Spec: base={spec.base}, start={spec.start or 'base'}, targets="
        + "; ".join(f"{t.indicator}@{t.date}={t.value:g}" for t in spec.targets),
        "# Overrides of the base: " + (", ".join(f"{k}={json.dumps(v, ensure_ascii=False, default=str)}"
                                                 for k, v in spec.overrides.items()) or "none"),
        f"# Seeds: root {spec.seed}, replicates 0..{spec.replicates - 1} (common random numbers at every trial);"
        f" {spec.total_firms} firms, counts scaled x{DEFAULT_TOTAL_FIRMS / spec.total_firms:g}",
        f"# Optimizer: {spec.optimizer.method}, objective (sum of squared relative errors) = {result.objective:.3g}",
        f"# Fit: {errs}",
    ]
    for row in result.summary.itertuples():
        extra = f", ABC 90% [{row.q05:.4g}, {row.q95:.4g}]" if hasattr(row, "q05") else ""
        lines.append(f"# {row.parameter}: fitted {row.fitted:.4g} in box [{row.lower:g}, {row.upper:g}]{extra}")
    if self_contained:
        lines.append(f"# The file replaces the base {spec.base} (or a file it extends), so it holds the "
                     "fully resolved base instead of extending it.")
    changed = " with the spec's overrides" if spec.overrides else ""
    desc = (
        f"The {base.name} scenario{changed} with diffusion rates fitted to the reported progress figures ("
        + ", ".join(sorted({t.date for t in spec.targets})) + "). "
        f"Every other setting is the {base.name} scenario's. ASSUMPTION: the fitted rates absorb the "
        "effect of the hand-set policy strengths and peer weights, which the few reported figures "
        "cannot separate (docs/analysis.md)."
    )
    doc = {**head, "name": path.stem, "description": desc, **data}
    text = "\n".join(lines) + "\n" + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)

    atomic_write_text(path, text)
    return path


def plot_calibration(result: CalibrationResult, problem: Problem, out: Path) -> dict[str, Path]:
    """Fit against data (time series of the fitted and ABC-kept runs) and the profiles."""
    # A Figure without pyplot: no global backend switch (keeps notebooks' inline plots).
    from matplotlib.figure import Figure

    files: dict[str, Path] = {}
    cfg = with_values(problem.config, problem.params, result.fitted)
    fig = Figure(figsize=(11, 4))
    axes = fig.subplots(1, 2)
    metrics = ("cloud_cumulative", "transformed")
    indic = {v: k for k, v in INDICATOR_METRIC.items()}
    k = min(len(result.posterior), 20)
    post = [result.posterior[result.labels].iloc[i].to_numpy() for i in range(k)]
    # Every plotted run at once (k posterior draws with seed 0, then the fit's replicates).
    jobs = [[(with_values(problem.config, problem.params, th), 0, metrics)] for th in post]
    jobs += [[(cfg, r, metrics)] for r in range(problem.spec.replicates)]
    runs = [g[0] for g in run_groups(jobs, problem.executor)]
    for ax, m in zip(axes, metrics, strict=True):
        for j, res in enumerate(runs[:k]):
            ax.plot(pd.to_datetime(res["dates"]), res[m] * scale_up(cfg), color="0.7", lw=0.8,
                    label="ABC posterior draws (seed 0)" if j == 0 else None)
        for r, res in enumerate(runs[k:]):
            ax.plot(pd.to_datetime(res["dates"]), res[m] * scale_up(cfg), color="C0",
                    label="fitted" if r == 0 else None)
        rep = [x for x in datasets.reported_progress() if x["indicator"] == indic[m]]
        ax.scatter(pd.to_datetime([x["date"] for x in rep]), [x["value"] for x in rep], color="C3",
                   zorder=5, label="reported")
        ax.set_title(m.replace("_", " "))
        ax.legend(fontsize=8)
    fig.suptitle("Calibration: model (scaled to 2,000,000 firms) vs reported figures")
    fig.autofmt_xdate()
    fig.tight_layout()
    files["fit_plot"] = out / "calibration_fit.png"
    atomic_savefig(fig, files["fit_plot"], dpi=110)
    if len(result.profiles):
        d = len(result.labels)
        fig = Figure(figsize=(4 * d, 3.2))
        axes = fig.subplots(1, d, squeeze=False)
        for ax, lab, th in zip(axes[0], result.labels, result.fitted, strict=True):
            pr = result.profiles[result.profiles.parameter == lab]
            ax.plot(pr.value, pr.objective, marker="o")
            ax.axvline(th, color="C3", ls="--")
            if len(result.posterior):
                ax.axvspan(*result.posterior[lab].quantile([0.05, 0.95]), color="C1", alpha=0.2,
                           label="ABC 90%")
                ax.legend(fontsize=8)
            ax.set_yscale("log")
            ax.set_title(lab, fontsize=9)
            ax.set_ylabel("objective")
        fig.tight_layout()
        files["profile_plot"] = out / "calibration_profiles.png"
        atomic_savefig(fig, files["profile_plot"], dpi=110)
    return files
