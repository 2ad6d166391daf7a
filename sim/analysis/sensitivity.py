"""Global sensitivity analysis with SALib: Morris screening and Sobol indices.

A strict spec (:class:`SensitivitySpec`, YAML) names the parameters (dotted scenario paths with
bounds), the outcomes, the method, the base sample size ``N`` (a power of two), the replicates
averaged at every sample point and the seed. :func:`run_sensitivity` samples with SALib
(``morris.sample`` or Saltelli/Sobol ``sobol.sample``), evaluates every row with a *pluggable*
evaluation function, and analyses with ``morris.analyze`` / ``sobol.analyze`` (bootstrap
confidence intervals).

Outcomes of the model evaluator (:class:`ModelEvaluator`), all at the goal date (2025-12) and
scaled to 2,000,000 firms:

* ``cloud_firms``: cumulative firms on the cloud, mean over replicates;
* ``transformed_firms``: transformed above-scale firms, mean over replicates;
* ``p_cloud_goal`` / ``p_transformed_goal`` / ``p_both_goals``: share of replicates meeting the
  goal (1,000,000 / 50,000), i.e. a probability estimated from ``replicates`` runs;
* ``voucher_cny_per_extra_cloud_firm``: voucher money spent over the run divided by the extra
  cloud firms compared with the same run without vouchers (same seed: common random numbers);
  NaN when vouchers add no firm. Requesting it doubles the runs.

Alignment: the sample matrix, the outputs and the index tables are kept as DataFrames that carry
the sample row index (``row``); :func:`run_sensitivity` asserts that the evaluator returned
exactly one row per sample row, in order, before any analysis.

Execution: the model evaluator submits the runs of every sample row (all replicates, and the
runs without vouchers) to an executor of :mod:`sim.runs.executors` together (in chunks of
:data:`CHUNK_ROWS` rows), and puts the results back by row and replicate, so the outputs are the
same bytes whatever the executor, the number of workers or the order in which runs finish.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import Field, field_validator, model_validator

from sim import i18n
from sim.analysis.calibration_spec import ParameterSpec, with_values
from sim.analysis.outcomes import check_goal_in_horizon, goal_month_index, goals_met, scale_up
from sim.analysis.tables import csv_encoding, write_column_names
from sim.errors import ScenarioError
from sim.fileio import atomic_write_csv, save_figure
from sim.i18n.columns import with_names
from sim.i18n.header import figure_header, plain_numbers
from sim.runs.executors import Executor
from sim.runs.jobs import Job, executor_for, run_groups
from sim.scenario import limits
from sim.scenario.labels import input_label
from sim.scenario.paths import set_values
from sim.scenario.schema import Scenario
from sim.scenario.specs import BaseScenarioSpec, check_parameters

OUTCOMES: tuple[str, ...] = ("cloud_firms", "transformed_firms", "p_cloud_goal", "p_transformed_goal",
                             "p_both_goals", "voucher_cny_per_extra_cloud_firm")
"""Outcomes the model evaluator can compute."""

OUTCOME_UNITS: dict[str, str] = {"cloud_firms": "firms", "transformed_firms": "firms",
                                  "p_cloud_goal": "probability", "p_transformed_goal": "probability",
                                  "p_both_goals": "probability",
                                  "voucher_cny_per_extra_cloud_firm": "cny_per_firm"}
"""Unit of each outcome (``ounit.<unit>`` in the translation table) on the Morris axis."""

CHUNK_ROWS = 1024
"""Sample rows whose runs are submitted to the executor at once (bounds the memory of a long
Sobol analysis; every run of a chunk is independent)."""

POINT_METRICS: tuple[str, ...] = ("cloud_cumulative", "transformed", "voucher_spend_cny")
"""Metrics read from each run at a sample point."""

Evaluator = Callable[[pd.DataFrame], pd.DataFrame]
"""Takes the sample (one row per point, one column per parameter label, index ``row``) and
returns the outcomes (one row per point, same index, one column per outcome)."""


class SensitivitySpec(BaseScenarioSpec):
    """A sensitivity analysis: parameters with bounds, outcomes, method and sample size."""

    KIND: ClassVar[str] = "sensitivity"

    base: str = Field("baseline", description="Base scenario: a path relative to the spec file, or a shipped scenario name.")
    overrides: dict[str, Any] = Field(default_factory=dict, description="Dotted overrides applied to the base.")
    parameters: list[ParameterSpec]
    outcomes: list[str] = Field(default_factory=lambda: ["cloud_firms", "transformed_firms", "p_cloud_goal"],
                                description=f"Outcome columns; the model evaluator knows {', '.join(OUTCOMES)}.")
    method: Literal["morris", "sobol"] = "sobol"
    n: int = Field(64, ge=2, le=limits.MAX_DESIGN_POINTS, description="Base sample size N (a power of two). Runs: Sobol N(d+2), Morris N(d+1) trajectories' points, times replicates.")
    num_levels: int = Field(4, ge=2, le=1000, description="Morris grid levels.")
    replicates: int = Field(2, ge=1, le=limits.MAX_REPLICATES, description="Replicates averaged at each sample point.")
    seed: int = Field(20210706, ge=0, description="Seed of the SALib sampler, the bootstrap and the model replicates.")
    total_firms: int = Field(200_000, ge=1_000, le=limits.MAX_FIRMS, description="Population simulated; counts scaled by 2,000,000/total_firms.")
    conf_level: float = Field(0.95, gt=0, lt=1)

    @model_validator(mode="after")
    def _design_size(self) -> SensitivitySpec:
        # Counted before any sample is drawn: Sobol N(d+2) points, Morris N(d+1), x replicates.
        points = self.n * (len(self.parameters) + (2 if self.method == "sobol" else 1))
        limits.check_design(points, self.replicates, f"n = {self.n}, {len(self.parameters)} parameter(s)",
                            "sample points")
        return self

    @field_validator("n")
    @classmethod
    def _pow2(cls, v: int) -> int:
        if v & (v - 1):
            raise ValueError(f"n must be a power of two (Sobol sequences), got {v}")
        return v

    @field_validator("outcomes")
    @classmethod
    def _nonempty(cls, v: list[str]) -> list[str]:
        if not v or len(set(v)) != len(v):
            raise ValueError(f"outcomes must be a non-empty list of unique names, got {v}")
        return v

    @model_validator(mode="after")
    def _labels(self) -> SensitivitySpec:
        labels = [p.label for p in self.parameters]
        if len(labels) < 2 or len(set(labels)) != len(labels):
            raise ValueError(f"need at least two parameters with unique labels, got {labels}")
        return self

    def problem(self) -> dict:
        """The SALib problem dict."""
        return {"num_vars": len(self.parameters), "names": [p.label for p in self.parameters],
                "bounds": [[p.lower, p.upper] for p in self.parameters]}


    def scenario(self) -> Scenario:
        """The scenario every sample point starts from: the base with the spec's overrides,
        ``total_firms`` and ``seed``, checked (outcomes, parameter paths and bounds, goal date).

        Raises:
            ScenarioError: One line naming the spec file and the key, as on the command line.
        """
        for i, o in enumerate(self.outcomes):
            if o not in OUTCOMES:
                close = difflib.get_close_matches(o, OUTCOMES, n=1)
                raise ScenarioError(self.label, f"outcomes[{i}]", f"unknown outcome {o!r}", ", ".join(OUTCOMES),
                                    suggestion=close[0] if close else None)
        config = set_values(self.base_scenario(), {"population.total_firms": self.total_firms,
                                                   "run.seed": self.seed}, label=self.label)
        check_parameters(config, self.parameters, self.label)
        check_goal_in_horizon(config, self.label, spec=True)
        return config


def n_points(spec: SensitivitySpec) -> int:
    """Sample points SALib will generate."""
    d = len(spec.parameters)
    return spec.n * (d + 2) if spec.method == "sobol" else spec.n * (d + 1)


def n_model_runs(spec: SensitivitySpec) -> int:
    """Model runs the analysis needs (points x replicates, x2 for the voucher-cost outcome)."""
    per = 2 if "voucher_cny_per_extra_cloud_firm" in spec.outcomes else 1
    return n_points(spec) * spec.replicates * per


def sample(spec: SensitivitySpec) -> pd.DataFrame:
    """SALib sample as a DataFrame (columns = parameter labels, index ``row``)."""
    prob = spec.problem()
    if spec.method == "sobol":
        from SALib.sample import sobol as sobol_sample

        x = sobol_sample.sample(prob, spec.n, calc_second_order=False, seed=spec.seed)
    else:
        from SALib.sample import morris as morris_sample

        x = morris_sample.sample(prob, spec.n, num_levels=spec.num_levels, seed=spec.seed)
    df = pd.DataFrame(x, columns=prob["names"])
    df.index.name = "row"
    return df


# --------------------------------------------------------------------------- model evaluator


@dataclass
class ModelEvaluator:
    """Evaluates sample rows with the model (replicates 0..R-1 of ``spec.seed`` at every row).

    Attributes:
        spec: The analysis.
        progress: Called with ``(rows done, rows)`` as rows complete.
        executor: Where the runs go (None: serially in this process). The caller closes it.
    """

    spec: SensitivitySpec
    progress: Callable[[int, int], None] | None = None
    executor: Executor | None = None

    def __post_init__(self) -> None:
        self.config = self.spec.scenario()

    def point(self, theta: np.ndarray) -> dict[str, float]:
        """Outcomes at one parameter point."""
        cfg = with_values(self.config, self.spec.parameters, theta)
        return point_outcomes(cfg, self.spec.replicates, self.spec.outcomes, executor=self.executor)

    def __call__(self, x: pd.DataFrame) -> pd.DataFrame:
        thetas = x.to_numpy()
        rows: list[dict[str, float]] = []
        for start in range(0, len(thetas), CHUNK_ROWS):
            cfgs = [with_values(self.config, self.spec.parameters, th) for th in thetas[start:start + CHUNK_ROWS]]
            rows += _evaluate_points(cfgs, self.spec.replicates, self.spec.outcomes, self.executor,
                                     self._rows_done(start, len(thetas)))
        return pd.DataFrame(rows, index=x.index, columns=self.spec.outcomes)

    def _rows_done(self, offset: int, total: int) -> Callable[[int, int], None] | None:
        """Progress callback of a chunk starting at row ``offset``."""
        if self.progress is None:
            return None
        progress = self.progress
        return lambda done, _n: progress(offset + done, total)


def _point_jobs(cfg: Scenario, replicates: int, outcomes: list[str]) -> list[Job]:
    """The runs of one sample point: replicates ``0..R-1``, then (for the voucher cost) the
    same replicates without vouchers."""
    jobs: list[Job] = [(cfg, r, POINT_METRICS) for r in range(replicates)]
    if "voucher_cny_per_extra_cloud_firm" in outcomes:
        nov = set_values(cfg, {"policies.vouchers.enabled": False}, label="(voucher cost)")
        jobs += [(nov, r, ("cloud_cumulative",)) for r in range(replicates)]
    return jobs


def _evaluate_points(cfgs: list[Scenario], replicates: int, outcomes: list[str],
                     executor: Executor | None,
                     on_group: Callable[[int, int], None] | None = None) -> list[dict[str, float]]:
    """:func:`point_outcomes` of several points, every run submitted at once."""

    def reduce(g: int, results: list[dict]) -> dict[str, float]:
        return _point_reduce(cfgs[g], replicates, outcomes, results)

    return run_groups([_point_jobs(cfg, replicates, outcomes) for cfg in cfgs], executor, reduce=reduce,
                      on_group=on_group)


def point_outcomes(cfg: Scenario, replicates: int, outcomes: list[str], *,
                   executor: Executor | None = None) -> dict[str, float]:
    """Outcomes of one scenario at its goal date over replicates ``0..replicates-1``.

    The runs go to ``executor`` together (None: serially in this process).
    """
    return _evaluate_points([cfg], replicates, outcomes, executor)[0]


def _point_reduce(cfg: Scenario, replicates: int, outcomes: list[str], results: list[dict]) -> dict[str, float]:
    """Outcomes of one point from its runs (in :func:`_point_jobs` order)."""
    k = goal_month_index(cfg)
    f = scale_up(cfg)
    need_nov = "voucher_cny_per_extra_cloud_firm" in outcomes
    cloud, trans, spend, extra, met = [], [], [], [], []
    for r in range(replicates):
        res = results[r]
        c = res["cloud_cumulative"][k] * f
        cloud.append(c)
        trans.append(res["transformed"][k] * f)
        met.append((res["cloud_cumulative"][k], res["transformed"][k]))
        if need_nov:
            res0 = results[replicates + r]
            spend.append(res["voucher_spend_cny"][1:k + 1].sum() * f)
            extra.append(c - res0["cloud_cumulative"][k] * f)
    cloud_a, trans_a = np.array(cloud), np.array(trans)
    at_scale = np.array(met, dtype=np.float64).reshape(-1, 2)  # counts at the population's scale
    met_c = goals_met(cfg, at_scale[:, 0], at_scale[:, 1], "cloud")
    met_t = goals_met(cfg, at_scale[:, 0], at_scale[:, 1], "transformed")
    out = {"cloud_firms": cloud_a.mean(), "transformed_firms": trans_a.mean(),
           "p_cloud_goal": met_c.mean(), "p_transformed_goal": met_t.mean(),
           "p_both_goals": (met_c & met_t).mean()}
    if need_nov:
        ex = float(np.mean(extra))
        out["voucher_cny_per_extra_cloud_firm"] = float(np.mean(spend)) / ex if ex > 0 else math.nan
    return {o: float(out[o]) for o in outcomes}


# --------------------------------------------------------------------------- analysis


@dataclass
class SensitivityResult:
    """Samples, outputs and indices of one analysis.

    Attributes:
        spec: The spec used.
        samples: Sample matrix (index ``row``, one column per parameter).
        outputs: Outcomes per sample row (same index).
        indices: Tidy table: outcome, outcome_name, parameter, parameter_name (the human names
            in the base scenario's ``outputs.lang``), index name (S1, ST, mu_star, sigma, ...),
            value and confidence half-width (``indices.csv``).
        n_runs: Model runs (``n_model_runs``); 0 for a dry run.
        files: Written files by role.
    """

    spec: SensitivitySpec
    samples: pd.DataFrame
    outputs: pd.DataFrame
    indices: pd.DataFrame
    n_runs: int
    files: dict[str, Path] = field(default_factory=dict)


def analyze(spec: SensitivitySpec, samples: pd.DataFrame, outputs: pd.DataFrame) -> pd.DataFrame:
    """SALib indices for every outcome as a tidy DataFrame (with confidence half-widths)."""
    assert samples.shape == (n_points(spec), len(spec.parameters)), samples.shape
    assert outputs.index.equals(samples.index), "outputs are not aligned with the sample rows"
    prob = spec.problem()
    rows = []
    for outcome in outputs.columns:
        y = outputs[outcome].to_numpy(dtype=float)
        if not np.all(np.isfinite(y)):
            # Indices need every point; replace undefined values by the mean (reported below).
            n_bad = int(np.sum(~np.isfinite(y)))
            y = np.where(np.isfinite(y), y, np.nanmean(y) if n_bad < y.size else 0.0)
        else:
            n_bad = 0
        if np.allclose(y, y[0]):
            for name in prob["names"]:
                rows.append({"outcome": outcome, "parameter": name, "index": "constant", "value": 0.0,
                             "conf": 0.0, "n_undefined": n_bad})
            continue
        if spec.method == "sobol":
            from SALib.analyze import sobol

            si = sobol.analyze(prob, y, calc_second_order=False, conf_level=spec.conf_level, seed=spec.seed)
            pairs = (("S1", "S1_conf"), ("ST", "ST_conf"))
        else:
            from SALib.analyze import morris

            si = morris.analyze(prob, samples.to_numpy(), y, conf_level=spec.conf_level,
                                num_levels=spec.num_levels, seed=spec.seed)
            pairs = (("mu_star", "mu_star_conf"), ("mu", None), ("sigma", None))
        for j, name in enumerate(prob["names"]):
            for key, conf in pairs:
                rows.append({"outcome": outcome, "parameter": name, "index": key,
                             "value": float(np.asarray(si[key])[j]),
                             "conf": float(np.asarray(si[conf])[j]) if conf else math.nan,
                             "n_undefined": n_bad})
    return pd.DataFrame(rows)


def run_sensitivity(spec_path_or_spec: str | Path | SensitivitySpec | dict, *,
                    evaluate: Evaluator | None = None, out_dir: str | Path | None = None,
                    dry_run: bool = False, progress: Callable[[int, int], None] | None = None,
                    executor: Executor | str | None = None, workers: int | None = None,
                    address: str | None = None) -> SensitivityResult:
    """Sample, evaluate and analyse.

    Args:
        spec_path_or_spec: YAML path, dict or :class:`SensitivitySpec`.
        evaluate: The evaluation function (default: :class:`ModelEvaluator` of the spec). Any
            function of the sample DataFrame returning one row of outcomes per sample row; the
            Ishigami test plugs in an analytic function here.
        out_dir: Where to write ``samples_outputs.csv``, ``indices.csv`` and
            ``sensitivity_<outcome>.png`` (nothing written if None).
        dry_run: Only sample and count: returns empty outputs and ``n_runs = 0``; the number of
            model runs the analysis would need is ``n_model_runs(spec)``.
        progress: Callback ``(done, total)`` per evaluated row (model evaluator only).
        executor, workers, address: Where the model runs go (:func:`sim.runs.jobs.resolve_executor`:
            serially in this process by default; an executor given is left open). The outputs do not
            depend on it. Not used with ``evaluate``.

    Returns:
        A :class:`SensitivityResult`.
    """
    spec = SensitivitySpec.load(spec_path_or_spec)
    samples = sample(spec)
    assert len(samples) == n_points(spec)
    if dry_run:
        return SensitivityResult(spec, samples, pd.DataFrame(index=samples.index), pd.DataFrame(), 0)
    if evaluate is not None:
        outputs = evaluate(samples)
    else:
        ev = ModelEvaluator(spec, progress=progress)
        with executor_for(executor, workers, address) as ex:
            ev.executor = ex
            outputs = ev(samples)
    if not isinstance(outputs, pd.DataFrame):
        outputs = pd.DataFrame(np.asarray(outputs).reshape(len(samples), -1), index=samples.index,
                               columns=spec.outcomes[: np.asarray(outputs).reshape(len(samples), -1).shape[1]])
    assert len(outputs) == len(samples) and outputs.index.equals(samples.index), \
        "evaluator must return one row per sample row, in order"
    indices = analyze(spec, samples, outputs)
    lang = spec.base_scenario().outputs.lang
    labels = {p.label: input_label(p.label, p.paths, lang) for p in spec.parameters}
    # The human names travel with the result (notebooks and the API read them), not only in the CSV.
    indices = with_names(indices, "parameter", lambda x: labels.get(x, x))
    indices = with_names(indices, "outcome", lambda x: i18n.outcome_name(x, lang))
    n_runs = n_model_runs(spec) if evaluate is None else 0
    result = SensitivityResult(spec, samples, outputs, indices, n_runs)
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        result.files["samples_outputs"] = out / "samples_outputs.csv"
        atomic_write_csv(result.files["samples_outputs"], samples.join(outputs), encoding=csv_encoding(lang))
        result.files["samples_outputs_columns"] = write_column_names(
            result.files["samples_outputs"], [*samples.columns, *outputs.columns], lang, labels)
        result.files["indices"] = out / "indices.csv"
        atomic_write_csv(result.files["indices"], indices, index=False, encoding=csv_encoding(lang))
        result.files.update(plot_indices(result, out))
    return result


def plot_indices(result: SensitivityResult, out: Path) -> dict[str, Path]:
    """One tornado-style horizontal bar chart per outcome (S1 and ST, or mu* with CI)."""
    # A Figure without pyplot: no global backend switch (keeps notebooks' inline plots).
    from matplotlib.figure import Figure

    files = {}
    idx = result.indices
    cfg = result.spec.base_scenario()  # not .scenario(): a custom evaluator's keys need not be scenario keys
    lang = cfg.outputs.lang
    points, reps = len(result.samples), result.spec.replicates
    note = i18n.text("analysis_note", lang, points=points, n=reps, runs=points * reps)
    paths = {p.label: p.paths for p in result.spec.parameters}
    for outcome in idx.outcome.unique():
        sub = idx[idx.outcome == outcome]
        if (sub["index"] == "constant").all():
            continue
        keys = ("S1", "ST") if result.spec.method == "sobol" else ("mu_star",)
        main = sub[sub["index"] == keys[-1]].sort_values("value")
        names = main.parameter.tolist()
        fig = Figure(figsize=(9, 0.5 * len(names) + 1.8))
        ax = fig.subplots()
        h = 0.8 / len(keys)
        for j, key in enumerate(keys):
            s = sub[sub["index"] == key].set_index("parameter").loc[names]
            ax.barh(np.arange(len(names)) + j * h, s.value, height=h, xerr=s.conf,
                    label=i18n.text(f"sens.{key}", lang), capsize=3)
        ax.set_yticks(np.arange(len(names)) + h * (len(keys) - 1) / 2)
        ax.set_yticklabels([input_label(n, paths.get(n, ()), lang) for n in names], fontsize=8)
        what = i18n.outcome_name(outcome, lang)
        what = what[:1].lower() + what[1:] if lang == "en" else what  # mid-sentence
        if result.spec.method == "sobol":
            ax.set_xlabel(i18n.text("sens.x_sobol", lang))
            ax.set_title(i18n.text("sens.title_sobol", lang, what=what))
        else:
            unit = i18n.text(f"ounit.{OUTCOME_UNITS.get(outcome, 'outcome')}", lang)
            ax.set_xlabel(i18n.text("sens.x_morris", lang, unit=unit))
            ax.set_title(i18n.text("sens.title_morris", lang, what=what))
        plain_numbers(ax.xaxis)  # no "1e9" offset
        ax.legend()
        figure_header(fig, cfg.name, result.spec.total_firms, reps, lang, note=note)
        p = out / f"sensitivity_{outcome}.png"
        save_figure(fig, p)
        files[f"plot_{outcome}"] = p
    return files
