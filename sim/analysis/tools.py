"""The analysis tools as one call each, the same from Python and from ``gdcloud``: the inputs are
checked (one-line :class:`~sim.errors.ScenarioError`, nothing written), the executor is chosen
once the size of the work is known, the analysis runs in a new results folder
``<out>/<kind>/<UTC timestamp>-<hash>/`` with a manifest (:func:`sim.runs.rundir.run_analysis`),
and an :class:`~sim.runs.rundir.AnalysisRun` comes back whose ``summary_lines()`` is what the
command line prints.

This module: the shared runner (:func:`run_tool`), :func:`calibrate_tool` and :func:`sensitivity_tool`; the policy
questions (what it takes, attribution, discover) are in :mod:`sim.analysis.question_tools`.

``labels`` maps argument names to the names errors use (the command line passes its option
names, e.g. ``{"seed": "--seed"}``); by default errors name the Python arguments.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml

from sim import i18n
from sim.analysis import calibration, sensitivity
from sim.analysis.calibration_spec import (
    CalibrationSpec,
    scenario_target,
    spec_write_path,
    with_values,
)
from sim.analysis.sensitivity import (
    CHUNK_ROWS,
    SensitivitySpec,
    n_model_runs,
    n_points,
    run_sensitivity,
)
from sim.analysis.sweep_estimate import duration_text
from sim.errors import AnalysisFailed, ScenarioError
from sim.runs.executors import Executor, describe_text
from sim.runs.jobs import ExecutorChoice, resolve_executor, run_totals
from sim.runs.root import results_root
from sim.runs.rundir import MANIFEST, AnalysisRun, run_analysis
from sim.scenario.labels import input_label
from sim.scenario.schema import Scenario
from sim.scenario.specs import check_int

Summarize = Callable[[Any], tuple[list[str], dict[str, Any]]]
"""``summarize(result) -> (summary lines, JSON-able record for the manifest)``."""


def number_text(x: float | None, digits: int = 4, lang: str = "en") -> str:
    """A number in a summary line: thousands separators from 1,000 on, else ``digits`` digits."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return i18n.text("line.na", lang)
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.{digits}g}"


def spec_yaml(spec: CalibrationSpec | SensitivitySpec) -> str:
    """The resolved spec as written into the results folder (``spec.resolved.yaml``)."""
    return yaml.safe_dump(spec.model_dump(mode="json"), sort_keys=False, allow_unicode=True, width=100)


Spec = TypeVar("Spec", CalibrationSpec, SensitivitySpec)
"""An analysis spec with ``overrides`` (no PEP 695 syntax: the repository tools parse with 3.11)."""


def spec_with_lang(spec: Spec, lang: str | None) -> Spec:  # noqa: UP047
    """``spec`` with ``outputs.lang=<lang>`` added to its overrides (unchanged if ``lang`` is
    None): the language of the figures, as ``--lang`` gives it to a scenario."""
    if lang is None:
        return spec
    return spec.model_copy(update={"overrides": {**spec.overrides, "outputs.lang": i18n.check_lang(lang)}})


def run_tool(kind: str, *, call: Callable[[Path | None, Executor], Any], summarize: Summarize,
             inputs: dict[str, Any], resolved: tuple[str, str], n_runs: int, scenario: Scenario,
             executor: ExecutorChoice, workers: int | None, address: str | None,
             out_dir: str | Path | None, save: bool, command: str | None) -> AnalysisRun:
    """Run an analysis whose inputs are checked: choose the executor for ``n_runs`` runs of
    ``scenario``, run ``call(folder, executor)`` in a new results folder (or with ``None`` if not
    ``save``), build the summary.

    Returns:
        The :class:`~sim.runs.rundir.AnalysisRun` (``result``, ``folder``, ``manifest``,
        ``summary_lines()``).

    Raises:
        AnalysisFailed: The analysis stopped with an error (the manifest says ``failed``); its
            ``error`` is the cause (e.g. :class:`~sim.errors.RunsFailed`).
        AnalysisInterrupted: Ctrl-C (the manifest says ``interrupted``).
    """
    ex, owned = resolve_executor(executor, workers, address, n_runs=n_runs, scenario=scenario)
    try:
        ex.start()  # an unreachable scheduler is reported before anything is written
        lang = scenario.outputs.lang
        where = describe_text(ex.describe(), lang)
        if not save:
            result = call(None, ex)
            return AnalysisRun(result, None, lines=summarize(result)[0], executor_text=where, lang=lang)
        run = run_analysis(results_root(out_dir), kind, inputs=inputs, resolved=resolved,
                           call=lambda folder: call(folder, ex), summarize=lambda res: summarize(res)[1],
                           executor=ex.describe(), command=command)
    finally:
        if owned:
            ex.close()
    if run.error is not None:
        raise AnalysisFailed(kind, run.folder / MANIFEST, run.error) from run.error
    run.lines, run.executor_text, run.lang = summarize(run.result)[0], where, lang
    return run


# --------------------------------------------------------------------------- calibrate


def _calibration_summary(spec: CalibrationSpec, skipped: str | None, lang: str = "en") -> Summarize:
    paths = {p.label: p.paths for p in spec.parameters}

    def name(parameter: str) -> str:  # English keeps the spec's labels
        return parameter if lang == "en" else input_label(parameter, paths.get(parameter, ()), lang)

    def summarize(res: calibration.CalibrationResult) -> tuple[list[str], dict[str, Any]]:
        lines = [i18n.text("cal.line_head", lang, params=len(res.labels), targets=len(res.fit),
                           reps=spec.replicates, firms=f"{spec.total_firms:,}", runs=res.n_runs)]
        lines.append(i18n.text("cal.line_fit", lang, objective=f"{res.objective:.3g}"))
        for r in res.fit.itertuples():
            indicator = r.indicator if lang == "en" else i18n.term_or("reported", r.indicator, lang)
            lines.append(i18n.text("cal.line_target", lang, indicator=indicator, date=r.date,
                                   reported=f"{r.reported:,.0f}", simulated=f"{r.simulated:,.0f}",
                                   error=f"{r.relative_error:+.1%}"))
        lines.append(i18n.text("cal.line_parameters", lang))
        for r in res.summary.to_dict(orient="records"):
            text = i18n.text("cal.line_parameter", lang, parameter=name(r["parameter"]),
                             fitted=number_text(r["fitted"], lang=lang), lower=number_text(r["lower"], lang=lang),
                             upper=number_text(r["upper"], lang=lang))
            if "q05" in r and r["q05"] == r["q05"]:
                text += i18n.text("cal.line_abc", lang, lo=number_text(r["q05"], lang=lang),
                                  hi=number_text(r["q95"], lang=lang), ratio=f"{r['width_ratio']:.2f}",
                                  pinned=i18n.text("cal.pinned" if r["pinned"] else "cal.not_pinned", lang))
            lines.append(text)
        if "scenario" in res.files:
            lines.append(i18n.text("cal.line_written", lang, path=res.files["scenario"],
                                   copy=res.files["scenario_copy"]))
        elif "scenario_copy" in res.files:
            lines.append(i18n.text("cal.line_copy", lang, copy=res.files["scenario_copy"])
                         + (i18n.text("cal.line_skipped", lang, skipped=skipped) if skipped else ""))
        return lines, {"fitted": res.fitted_dict(), "objective": res.objective, "n_runs": res.n_runs,
                       "optimizer_message": res.optimizer_message,
                       "fit": res.fit.to_dict(orient="records"),
                       "scenario_written": str(res.files.get("scenario")) if "scenario" in res.files else None}

    return summarize


def calibrate_tool(spec: str | Path | CalibrationSpec | dict, *, seed: int = 0,
              write_scenario: bool | str | Path | None = None, force: bool = False,
              out_dir: str | Path | None = None, save: bool = True,
              progress: Callable[[str], None] | None = None, executor: ExecutorChoice = None,
              workers: int | None = None, address: str | None = None, command: str | None = None,
              labels: Mapping[str, str] | None = None, lang: str | None = None) -> AnalysisRun:
    """``gdcloud calibrate``: fit the spec's parameters to the reported figures
    (:func:`sim.analysis.calibration.calibrate`) in a new results folder
    ``<out_dir>/calibrate/<timestamp>-<hash>/`` with a manifest.

    Args:
        spec: A calibration spec file, a shipped spec name, a dict or a spec.
        seed: Seed of the ABC prior draws.
        write_scenario: Where else to write the calibrated scenario: a path, True or None for
            the spec's ``write_scenario`` (checked unless ``force``), False for nowhere.
        force: Let the spec's ``write_scenario`` point outside its folder and the results root.
        out_dir: The results root (default: ``$GDCLOUD_RESULTS_DIR`` or ``results``).
        save: If False, nothing is written (``folder`` is None).
        progress: Callback of one-line progress messages.
        executor, workers, address: Where the model runs go (default: serially here).
        command: The command line recorded in the manifest.
        labels: Names of the arguments in errors (see the module docstring).
        lang: Language of the figures, ``"en"`` or ``"zh"`` (default: ``outputs.lang`` of the
            spec's scenario); set as the spec's override ``outputs.lang``.

    Returns:
        An :class:`~sim.runs.rundir.AnalysisRun` whose ``result`` is the
        :class:`~sim.analysis.calibration.CalibrationResult`.

    Raises:
        ScenarioError: Bad input (nothing written). AnalysisFailed: see :func:`run_tool`.
    """
    names = {"seed": "seed", "write_scenario": "write_scenario", "no_write_scenario": "write_scenario=False",
             **(labels or {})}
    check_int(names["seed"], seed, 0)
    spec = spec_with_lang(CalibrationSpec.load(spec), lang)
    problem = calibration.make_problem(spec)
    target = scenario_target(spec, write_scenario, save, results_root=results_root(out_dir), force=force)
    if target is not None and target.is_dir():
        named = isinstance(write_scenario, str | Path)
        raise ScenarioError(names["write_scenario"] if named else spec.label, "write_scenario",
                            f"{target} is a folder", "a YAML file path, e.g. scenarios/calibrated.yaml")
    # The largest batch submitted at once: the ABC draws or the profile points, x the seeds.
    d = len(spec.parameters)
    batch = spec.replicates * max(1, spec.abc.draws if spec.abc.enabled else 1,
                                  spec.profile.points * d if spec.profile.enabled else 1)
    skipped = spec_write_path(spec) if write_scenario is False else None

    def call(folder: Path | None, ex: Executor) -> calibration.CalibrationResult:
        return calibration.calibrate(spec, out_dir=folder, seed=seed, progress=progress,
                                     write_scenario=target if target is not None and folder else False,
                                     executor=ex)

    inputs = {"spec_file": str(spec.file), "spec": spec.model_dump(mode="json"), "abc_seed": seed,
              "write_scenario": str(target) if target is not None else False}
    return run_tool("calibrate", call=call,
                    summarize=_calibration_summary(spec, f"{names['no_write_scenario']}: {skipped}" if skipped else None,
                                                   problem.config.outputs.lang),
                    inputs=inputs, resolved=("spec.resolved.yaml", spec_yaml(spec)), n_runs=batch,
                    scenario=problem.config, executor=executor, workers=workers, address=address,
                    out_dir=out_dir, save=save, command=command)


# --------------------------------------------------------------------------- sensitivity


def estimate_seconds(spec: SensitivitySpec, config: Scenario, n_runs: int,
                     workers: int = 1) -> tuple[float, float, float]:
    """(estimated wall time on ``workers`` workers, one cached run, population set-up) from two
    timed runs at the box centre. Each worker builds (and then keeps) the population of each
    replicate it runs."""
    cfg = with_values(config, spec.parameters, [(p.lower + p.upper) / 2 for p in spec.parameters])
    t0 = time.perf_counter()
    run_totals(cfg, 0)
    t1 = time.perf_counter()
    run_totals(cfg, 0)  # the population is cached now, as for every later run of replicate 0
    t2 = time.perf_counter()
    run, setup = t2 - t1, max(0.0, (t1 - t0) - (t2 - t1))
    workers = max(1, min(workers, n_runs))
    return n_runs * run / workers + spec.replicates * setup, run, setup


def _sensitivity_summary(spec: SensitivitySpec, count: str, lang: str) -> Summarize:
    keys = ("ST", "S1") if spec.method == "sobol" else ("mu_star", "sigma")
    paths = {p.label: p.paths for p in spec.parameters}

    def top(res: sensitivity.SensitivityResult, outcome: str) -> Any:
        sub = res.indices[(res.indices.outcome == outcome) & (res.indices["index"] == keys[0])]
        return sub.sort_values("value", ascending=False)

    def names(outcome: str, parameter: str) -> tuple[str, str]:  # English keeps the spec's keys
        if lang == "en":
            return outcome, parameter
        return i18n.outcome_name(outcome, lang), input_label(parameter, paths.get(parameter, ()), lang)

    def summarize(res: sensitivity.SensitivityResult) -> tuple[list[str], dict[str, Any]]:
        lines = [i18n.text("sens.line_head", lang, count=count)]
        for outcome in spec.outcomes:
            sub = res.indices[res.indices.outcome == outcome]
            if (sub["index"] == "constant").all():
                lines.append(i18n.text("sens.line_constant", lang, outcome=names(outcome, "")[0]))
                continue
            ranked = i18n.text("sens.line_sep", lang).join(
                i18n.text("sens.line_item", lang, parameter=names(outcome, r.parameter)[1],
                          value=number_text(r.value, 3, lang), conf=number_text(r.conf, 2, lang))
                for r in top(res, outcome).head(4).itertuples())
            undefined = int(sub.n_undefined.max()) if "n_undefined" in sub else 0
            note = i18n.text("sens.line_undefined", lang, n=undefined) if undefined else ""
            lines.append(i18n.text("sens.line_ranked", lang, outcome=names(outcome, "")[0],
                                   index=i18n.text(f"sens.index_{keys[0]}", lang), ranked=ranked, note=note))
        return lines, {"n_runs": res.n_runs, "n_points": len(res.samples),
                       "top": {o: top(res, o).parameter.head(3).tolist() for o in spec.outcomes}}

    return summarize


def sensitivity_tool(spec: str | Path | SensitivitySpec | dict, *, dry_run: bool = False,
                     out_dir: str | Path | None = None, save: bool = True,
                     progress: Callable[[int, int], None] | None = None, executor: ExecutorChoice = None,
                     workers: int | None = None, address: str | None = None,
                     command: str | None = None, lang: str | None = None) -> AnalysisRun:
    """``gdcloud sensitivity``: Sobol or Morris indices (:func:`sim.analysis.sensitivity.run_sensitivity`)
    in a new results folder ``<out_dir>/sensitivity/<timestamp>-<hash>/`` with a manifest.

    Args:
        spec: A sensitivity spec file, a shipped spec name, a dict or a spec.
        dry_run: Only count the model runs and estimate the time (two timed runs at the centre
            of the box); nothing is written, ``result`` holds the samples.
        out_dir, save, executor, workers, address, command: As for :func:`calibrate_tool`.
        progress: Callback ``(done, total)`` per evaluated row.
        lang: As for :func:`calibrate_tool`.

    Returns:
        An :class:`~sim.runs.rundir.AnalysisRun` whose ``result`` is the
        :class:`~sim.analysis.sensitivity.SensitivityResult`.
    """
    spec = spec_with_lang(SensitivitySpec.load(spec), lang)
    config = spec.scenario()
    n_runs = n_model_runs(spec)
    lang = config.outputs.lang
    extra = "voucher_cny_per_extra_cloud_firm"
    per = i18n.text("sens.line_per", lang, outcome=extra if lang == "en" else i18n.outcome_name(extra, lang)) \
        if extra in spec.outcomes else ""
    count = i18n.text("sens.line_count", lang, method=i18n.text(f"sens.method_{spec.method}", lang),
                      points=n_points(spec), reps=spec.replicates, per=per, runs=f"{n_runs:,}",
                      firms=f"{spec.total_firms:,}", start=config.time.start, end=config.time.end)
    batch = min(n_points(spec), CHUNK_ROWS) * n_runs // n_points(spec)
    if dry_run:
        ex, owned = resolve_executor(executor, workers, address, n_runs=batch, scenario=config)
        try:
            n_workers = int(ex.describe().get("workers") or 1)
        finally:
            if owned:
                ex.close()
        dry = run_sensitivity(spec, dry_run=True)  # samples only: checks the SALib sampling
        total, run, setup = estimate_seconds(spec, config, n_runs, n_workers)
        where = (i18n.text("sens.where_one", lang) if n_workers == 1
                 else i18n.text("sens.where_workers", lang, n=n_workers))
        lines = [i18n.text("sens.dry_head", lang, label=spec.label),
                 i18n.text("sens.dry_count", lang, count=count, rows=len(dry.samples)),
                 i18n.text("sens.dry_time", lang, duration=duration_text(total, lang), where=where,
                           run=f"{run:.2f}", setup=f"{setup:.2f}")]
        return AnalysisRun(dry, None, lines=lines, lang=lang)

    def call(folder: Path | None, ex: Executor) -> sensitivity.SensitivityResult:
        return run_sensitivity(spec, out_dir=folder, progress=progress, executor=ex)

    return run_tool("sensitivity", call=call, summarize=_sensitivity_summary(spec, count, lang),
                    inputs={"spec_file": str(spec.file), "spec": spec.model_dump(mode="json")},
                    resolved=("spec.resolved.yaml", spec_yaml(spec)), n_runs=batch, scenario=config,
                    executor=executor, workers=workers, address=address, out_dir=out_dir, save=save,
                    command=command)
