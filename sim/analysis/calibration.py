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

import json
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim import datasets, i18n
from sim.analysis.calibrated_scenario import write_calibrated_scenario
from sim.analysis.calibration_spec import (
    INDICATOR_METRIC,
    CalibrationSpec,
    ParameterSpec,
    scenario_target,
    with_values,
)
from sim.analysis.design import latin_hypercube
from sim.analysis.outcomes import scale_up
from sim.analysis.tables import csv_encoding
from sim.errors import ScenarioError
from sim.fileio import atomic_write_csv, atomic_write_text, save_figure
from sim.i18n.columns import with_names
from sim.i18n.header import figure_header, plain_numbers
from sim.runs.executors import Executor
from sim.runs.jobs import executor_for, run_groups
from sim.scenario.labels import input_label, parameter_axis
from sim.scenario.paths import get_value, set_values
from sim.scenario.schema import Scenario
from sim.scenario.specs import check_parameters

# --------------------------------------------------------------------------- spec


# --------------------------------------------------------------------------- simulator


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
    """Resolve the base scenario, horizon and population size of a spec, checking everything.

    Raises:
        ScenarioError: A bad base, override, parameter path or bound, run window or target date
            (one line naming the spec file and the key, as on the command line).
    """
    label = spec.label
    base = spec.base_scenario()
    check_parameters(set_values(base, {"population.total_firms": spec.total_firms}, label=label),
                     spec.parameters, label)
    last = max(t.date for t in spec.targets)
    ov: dict[str, Any] = {"population.total_firms": spec.total_firms, "time.end": last[:7],
                          "run.seed": spec.seed}
    if spec.start is not None:
        ov["time.start"] = spec.start
    try:
        config = set_values(base, ov, label=label)
    except ScenarioError as exc:  # the run window from start and the target dates
        raise ScenarioError(label, "start", f"{exc.key_path}: {exc.message}", exc.allowed,
                            suggestion=exc.suggestion, more=exc.more) from None
    for t in spec.targets:
        if t.date[:7] <= config.time.start:
            raise ScenarioError(label, "targets", f"target {t.indicator} at {t.date} is not after the run "
                                f"start {config.time.start}", "target dates after the run start (start or "
                                "the base scenario's time.start)")
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
    spec = problem.spec
    u = latin_hypercube(spec.abc.draws, len(problem.params), rng)
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
        executor, workers, address: Where the model runs go (:func:`sim.runs.jobs.resolve_executor`:
            serially in this process by default; an executor given is left open). The ABC draws, the
            profile points and the plotted runs are submitted together; each optimizer evaluation
            (sequential by nature) runs its ``replicates`` seeds together. Results do not depend on
            it.

    Returns:
        A :class:`CalibrationResult`.
    """
    spec = CalibrationSpec.load(spec_path_or_spec)
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
    lang = spec.base_scenario().outputs.lang if progress is not None else "en"
    say(i18n.text("prog.cal_fitting", lang, labels=labels, n=len(spec.targets), reps=spec.replicates,
                  firms=spec.total_firms))
    theta, obj, msg = fit(problem)
    say(i18n.text("prog.cal_fit", lang, values=dict(zip(labels, np.round(theta, 5), strict=True)),
                  objective=f"{obj:.3g}", message=msg))
    fit_df = fit_table(problem, theta)
    obj = float(np.sum(problem.weights * fit_df.relative_error.to_numpy() ** 2))
    if spec.abc.enabled:
        draws, accepted = abc_rejection(problem, np.random.default_rng(seed))
        say(i18n.text("prog.cal_abc", lang, kept=len(accepted), n=len(draws),
                      distance=f"{accepted.distance.max():.3g}"))
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
        lang = problem.config.outputs.lang
        csv = {"encoding": csv_encoding(lang)}
        keys = {p.label: p.paths for p in problem.params}
        result.files["draws"] = out / "abc_draws.csv"
        atomic_write_csv(result.files["draws"], draws, **csv)
        result.files["summary"] = out / "calibration_summary.csv"
        named = with_names(summary, "parameter", lambda x: input_label(x, keys.get(x, ()), lang))
        atomic_write_csv(result.files["summary"], named, index=False, **csv)
        result.files["fit"] = out / "calibration_fit.csv"
        atomic_write_csv(result.files["fit"], fit_df, index=False, **csv)
        result.files["json"] = out / "calibration.json"
        atomic_write_text(result.files["json"], json.dumps(_json(result), indent=2, default=float))
        result.files.update(plot_calibration(result, problem, out))
        result.files["scenario_copy"] = write_calibrated_scenario(result, out / "calibrated.yaml")
    target = scenario_target(spec, write_scenario, out_dir is not None)
    if target is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
        result.files["scenario"] = write_calibrated_scenario(result, target)
    return result


def _json(result: CalibrationResult) -> dict:
    return {"spec": result.spec.model_dump(mode="json"), "fitted": result.fitted_dict(),
            "objective": result.objective, "n_runs": result.n_runs,
            "optimizer_message": result.optimizer_message,
            "fit": result.fit.to_dict(orient="records"),
            "summary": result.summary.to_dict(orient="records")}


# --------------------------------------------------------------------------- outputs


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
    lang = cfg.outputs.lang
    for ax, m in zip(axes, metrics, strict=True):
        for j, res in enumerate(runs[:k]):
            ax.plot(pd.to_datetime(res["dates"]), res[m] * scale_up(cfg), color="0.7", lw=0.8,
                    label=i18n.text("calib.draws", lang) if j == 0 else None)
        for r, res in enumerate(runs[k:]):
            ax.plot(pd.to_datetime(res["dates"]), res[m] * scale_up(cfg), color="C0",
                    label=i18n.text("calib.fitted", lang) if r == 0 else None)
        rep = [x for x in datasets.reported_progress() if x["indicator"] == indic[m]]
        ax.scatter(pd.to_datetime([x["date"] for x in rep]), [x["value"] for x in rep], color="C3",
                   zorder=5, label=i18n.text("reported", lang))
        ax.set_title(i18n.text(f"metric.{m}", lang), fontsize=10)
        ax.set_xlabel(i18n.text("month_end", lang))
        ax.set_ylabel(i18n.text("firms_province_axis", lang), fontsize=8.5)
        plain_numbers(ax.yaxis)
        ax.legend(fontsize=8)
    fig.autofmt_xdate()
    firms, reps = cfg.population.total_firms, problem.spec.replicates
    figure_header(fig, cfg.name, firms, reps, lang, title=i18n.text("calib.title", lang))
    files["fit_plot"] = out / "calibration_fit.png"
    save_figure(fig, files["fit_plot"])
    if len(result.profiles):
        d = len(result.labels)
        fig = Figure(figsize=(4.5 * d, 3.6))
        axes = fig.subplots(1, d, squeeze=False)
        keys = {p.label: p.paths for p in problem.params}
        for ax, lab, th in zip(axes[0], result.labels, result.fitted, strict=True):
            pr = result.profiles[result.profiles.parameter == lab]
            ax.plot(pr.value, pr.objective, marker="o")
            ax.axvline(th, color="C3", ls="--", label=i18n.text("calib.fitted_value", lang))
            if len(result.posterior):
                ax.axvspan(*result.posterior[lab].quantile([0.05, 0.95]), color="C1", alpha=0.2,
                           label=i18n.text("calib.abc90", lang))
            ax.legend(fontsize=8)
            ax.set_yscale("log")
            ax.set_title(i18n.text("calib.profile", lang), fontsize=9)
            parameter_axis(ax.xaxis, lab, pr.value, lang, paths=keys.get(lab, ()))
            ax.xaxis.label.set_text(textwrap.fill(ax.xaxis.label.get_text(), 40 if lang == "en" else 22))
            ax.xaxis.label.set_fontsize(8)
            ax.set_ylabel(i18n.text("calib.objective", lang), fontsize=8)
        figure_header(fig, cfg.name, firms, reps, lang, title=i18n.text("calib.profile_title", lang))
        files["profile_plot"] = out / "calibration_profiles.png"
        save_figure(fig, files["profile_plot"])
    return files
