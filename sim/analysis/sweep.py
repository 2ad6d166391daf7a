"""Parameter sweeps: run a scenario at many points of its parameters, the same replicates at each.

A sweep file (:class:`SweepSpec`, strict YAML: unknown keys are errors) names a base scenario,
overrides applied to every point, the parameters (dotted scenario keys with a list of ``values``
or a range ``lower``/``upper``) and a design:

* ``factorial``: every combination of the parameters' values (a range needs ``levels``: evenly
  spaced values from ``lower`` to ``upper``); the first parameter varies slowest;
* ``latin_hypercube``: ``samples`` points, one in each of ``samples`` equal strata of every
  parameter (scipy's ``qmc.LatinHypercube``, seeded by ``seed``); a parameter with ``values``
  takes ``values[floor(u * len(values))]``;
* ``table``: the points are given, as a CSV file (relative to the sweep file; header = dotted
  keys, cells read as numbers or YAML, an empty cell is null; a ``point`` column is ignored, so
  a sweep's ``points.csv`` can be reused) or as a list of mappings under ``table``.

Example (``scenarios/analysis/sweep_vouchers.yaml``)::

    base: demo
    parameters:
      - path: policies.vouchers.budget_cny_per_year
        values: [0, 300000000, 600000000, 1200000000]
      - path: policies.vouchers.subsidy_share
        lower: 0.2
        upper: 0.6
        levels: 3
    design: factorial
    replicates: 4

Before anything runs, :func:`prepare` checks every parameter path against the schema, every
value, and every point as a full :class:`~sim.scenario.schema.Scenario`; a problem is one
:class:`~sim.errors.ScenarioError` line naming the sweep file and the key. Integer keys (and
parameters with ``integer: true``) take rounded values.

:func:`run_sweep` runs every (point, replicate) pair on an executor (serial, processes, dask).
Replicate ``r`` of every point uses the seed ``SeedSequence(seed, spawn_key=(r,))``: common
random numbers, so differences between points are not blurred by different random draws. The
results go to a new folder ``<out>/sweep/<UTC timestamp>-<hash>/``:

* ``points.csv``: ``point`` and the value of each parameter (as validated);
* ``runs/point-NNNNN.csv``: the outcomes of one point, written as soon as its replicates are
  done (an interrupted sweep keeps them);
* ``outcomes.csv``: one row per point and replicate (columns ``point``, ``replicate``, one per
  parameter path, then :data:`~sim.analysis.sweep_outcomes.RUN_COLUMNS`: cloud and transformed firms at the goal date, goals,
  gaps, met flags, ...);
* ``point_summary.csv``: one row per point (:data:`~sim.analysis.sweep_outcomes.SUMMARY_COLUMNS`): the probability of
  meeting each goal (share of replicates), median, 10% and 90% quantiles of the counts, with the
  parameter values; the names of its columns in the language are in ``point_summary_columns.csv``;
* ``figures/sweep.png``: for one parameter, the probability of meeting each goal against it;
  for two or more, the first two parameters coloured by the median cloud firms;
* ``sweep.resolved.yaml`` (loads back as a sweep: same points and seeds) and
  ``scenario.resolved.yaml`` (the base with overrides); ``manifest.json``;
  ``failures.csv`` if a run failed (the other runs go on; failures are data).

Counts are those of the simulated population and the goals are scaled to it, as in
``gdcloud run`` (:func:`sim.analysis.outcomes.scaled_goals`); a run that ends before ``goals.date`` is
evaluated at its last month.

Long function: :func:`run_sweep` (about 120 lines, 40 of them its docstring) keeps the folder's
write order in one place (manifest ``running``, resolved inputs, points, one file per finished
point, outcomes, summary, figure, manifest closed), so an interruption at any line leaves a
consistent folder.
"""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from sim import i18n
from sim.analysis.sweep_figure import plot_sweep
from sim.analysis.sweep_outcomes import (
    FAILURE_COLUMNS,
    SweepRun,
    SweepRunResult,
    csv_text,
    lost_point_run,
    outcomes_table,
    point_summary,
    run_point,
)
from sim.analysis.sweep_plan import SweepPlan, prepare
from sim.analysis.sweep_spec import RESOLVED_BASE, RESOLVED_SPEC, SweepSpec, native, shown_value
from sim.analysis.tables import write_column_names
from sim.runs.jobs import ExecutorChoice
from sim.runs.root import results_root
from sim.scenario.labels import input_label
from sim.scenario.parameters import label_of

SWEEP_DIR = "sweep"
"""Sub-folder of the results folder where sweep folders are created."""


RUNS = "runs"


POINTS = "points.csv"


OUTCOMES = "outcomes.csv"


POINT_SUMMARY = "point_summary.csv"


FAILURES = "failures.csv"


FIGURE = "figures/sweep.png"


@dataclass
class SweepResult:
    """What :func:`run_sweep` returns.

    Attributes:
        plan: The checked sweep (base, points, scenarios, replicates, seed).
        points: ``point`` and the parameter values.
        outcomes: One row per finished (point, replicate) (``outcomes.csv``).
        summary: One row per point (``point_summary.csv``).
        failures: One row per failed run (columns :data:`FAILURE_COLUMNS`).
        folder: The results folder, or None if not saved.
        manifest: The manifest (as in ``manifest.json``).
    """

    plan: SweepPlan
    points: pd.DataFrame
    outcomes: pd.DataFrame
    summary: pd.DataFrame
    failures: pd.DataFrame
    folder: Path | None = None
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True if every run finished."""
        return self.failures.empty and len(self.outcomes) == self.plan.n_runs

    def __repr__(self) -> str:
        where = f", folder='{self.folder}'" if self.folder else ""
        return (f"SweepResult({self.plan.n_points} points x {self.plan.replicates} replicates, "
                f"done={len(self.outcomes)}, failed={len(self.failures)}{where})")


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C during a sweep: the finished points are kept in ``folder / 'runs'``."""

    def __init__(self, folder: Path | None):
        super().__init__("interrupted")
        self.folder = folder


class _Collector:
    """Receives run results; writes a point's file as soon as its replicates are in."""

    def __init__(self, plan: SweepPlan, folder: Path | None):
        self.plan = plan
        self.folder = folder
        self.results: list[SweepRunResult] = []
        self.pending = {k: plan.replicates for k in range(plan.n_points)}
        self.by_point: dict[int, list[SweepRunResult]] = {}

    def add(self, res: SweepRunResult) -> None:
        self.results.append(res)
        self.by_point.setdefault(res.point, []).append(res)
        self.pending[res.point] -= 1
        if self.pending[res.point] == 0 and self.folder is not None:
            from sim.fileio import atomic_write_text

            table = outcomes_table(self.plan, self.by_point[res.point])
            atomic_write_text(self.folder / RUNS / f"point-{res.point:05d}.csv", csv_text(table))

    def failures(self) -> pd.DataFrame:
        recs = sorted((r.failure_record() for r in self.results if not r.ok),
                      key=lambda f: (f["point"], f["replicate"]))
        return pd.DataFrame(recs, columns=FAILURE_COLUMNS)


def run_sweep(
    spec: str | Path | SweepSpec | dict | SweepPlan,
    *,
    overrides: Sequence[str] | None = None,
    executor: ExecutorChoice = None,
    workers: int | None = None,
    address: str | None = None,
    out_dir: str | Path | None = None,
    save: bool = True,
    figures: bool = True,
    progress: bool | None = None,
    command: str | None = None,
    lang: str | None = None,
    label: str | None = None,
) -> SweepResult:
    """Run every point of a sweep, ``replicates`` times each, and save the results.

    Args:
        spec: A sweep file, a shipped sweep name (``scenarios/analysis/<name>.yaml``), a dict,
            a :class:`SweepSpec` or a :class:`SweepPlan` from :func:`prepare`.
        overrides: ``--set`` strings applied to the base (ignored for a SweepPlan).
        executor: An :class:`~sim.runs.executors.Executor` or ``"serial"``, ``"processes"``,
            ``"dask"`` (default: serial, or processes if ``workers`` is given), or a
            :class:`~sim.runs.jobs.SizedExecutor` (the command line's choice by size).
        workers: Worker processes for ``processes`` / a local ``dask`` cluster.
        address: Dask scheduler address.
        out_dir: Folder under which ``sweep/<timestamp>-<hash>/`` is created (default:
            ``$GDCLOUD_RESULTS_DIR`` or ``results``).
        save: If False, nothing is written (``folder`` is None).
        figures: Write ``figures/sweep.png``.
        progress: Show a progress bar (default: only if stderr is a terminal).
        command: Command line recorded in the manifest.
        lang: Language of the figure, ``"en"`` or ``"zh"`` (default: the base scenario's
            ``outputs.lang``); applied on top of ``overrides`` (ignored for a SweepPlan).
        label: Name of the sweep folder's parent instead of ``sweep``
            (``<out_dir>/<label>/<timestamp>-<hash>/``; ``sim.latest(label)`` finds it).

    Returns:
        A :class:`SweepResult`; failed runs are in ``result.failures`` (the others are complete).

    Raises:
        ScenarioError: Invalid sweep (nothing is written).
        SweepInterrupted: Ctrl-C; the finished points are kept in the folder.
    """
    from sim.fileio import atomic_write_text
    from sim.runs.jobs import collect, resolve_executor
    from sim.runs.rundir import (
        MANIFEST,
        atomic_write_json,
        finish_manifest,
        iso,
        new_manifest,
        new_run_folder,
        utc_now,
    )
    from sim.runs.runner import check_label, with_lang
    from sim.scenario.loader import resolved_yaml, scenario_hash

    label = check_label(label)
    plan = spec if isinstance(spec, SweepPlan) else prepare(spec, with_lang(overrides, lang))
    ex, owned = resolve_executor(executor, workers, address, n_runs=plan.n_runs, scenario=plan.base)
    start = utc_now()
    t0 = time.perf_counter()
    folder: Path | None = None
    manifest: dict[str, Any] = {}
    try:
        ex.start()
        if save:
            root = results_root(out_dir)
            folder = new_run_folder(root, label or SWEEP_DIR, plan.hash()[:10])
            (folder / RUNS).mkdir()
            atomic_write_text(folder / RESOLVED_BASE, resolved_yaml(plan.base))
            atomic_write_text(folder / RESOLVED_SPEC, yaml.safe_dump(plan.resolved_spec(), sort_keys=False,
                                                                     allow_unicode=True, width=100))
            atomic_write_text(folder / POINTS, csv_text(plan.points))
            manifest = new_manifest(
                "sweep", command=command, executor=ex.describe(), start=start, **{
                "sweep_file": plan.label, "description": plan.spec.description,
                "base": {"given": plan.spec.base, "file": str(plan.base_file), "name": plan.base.name,
                         "hash": scenario_hash(plan.base)},
                "overrides": plan.spec.overrides, "set": plan.set_overrides,
                "design": plan.spec.design, "parameters": plan.parameters,
                "points": plan.n_points, "replicates": plan.replicates,
                "root_seed": plan.seed,
                "seeds": "replicate r of every point uses SeedSequence(root_seed, spawn_key=(r,))",
                "runs": {"planned": plan.n_runs, "done": 0, "failed": 0},
                "failures": []})
            atomic_write_json(folder / MANIFEST, manifest)
        col = _Collector(plan, folder)
        dumps = [sc.model_dump(mode="json") for sc in plan.scenarios]  # one per point, shared by its runs
        runs = [SweepRun(k, r, dumps[k], plan.seed, plan.base.name)
                for k in range(plan.n_points) for r in range(plan.replicates)]
        try:
            collect(ex, run_point, runs, on_result=col.add, lost=lost_point_run, progress=progress,
                    desc=i18n.term_or("kind", "sweep", plan.base.outputs.lang))
        except KeyboardInterrupt as exc:
            if folder is not None:
                failed = col.failures()
                manifest.update(status="interrupted", end_time=iso(utc_now()),
                                wall_time_s=round(time.perf_counter() - t0, 3),
                                runs={"planned": plan.n_runs, "done": sum(r.ok for r in col.results),
                                      "failed": len(failed)},
                                failures=failed.drop(columns="traceback").to_dict(orient="records"))
                atomic_write_json(folder / MANIFEST, manifest)
            raise SweepInterrupted(folder) from exc
    finally:
        if owned:
            ex.close()

    outcomes = outcomes_table(plan, col.results)
    failures = col.failures()
    summ = point_summary(plan, outcomes, failures)
    result = SweepResult(plan, plan.points, outcomes, summ, failures, folder, manifest)
    if folder is None:
        return result
    atomic_write_text(folder / OUTCOMES, csv_text(outcomes))
    atomic_write_text(folder / POINT_SUMMARY, csv_text(summ))
    lang = plan.base.outputs.lang
    write_column_names(folder / POINT_SUMMARY, summ.columns, lang,
                       {p: input_label(label_of([p]), [p], lang) for p in plan.parameters})
    if not failures.empty:
        atomic_write_text(folder / FAILURES, failures.to_csv(index=False, lineterminator="\n"))
    if figures and not outcomes.empty:
        try:
            plot_sweep(plan, summ, folder / FIGURE)
            manifest["figures"] = [FIGURE]
        except Exception as exc:  # noqa: BLE001 - a figure must not lose the results
            manifest["figures_error"] = f"{type(exc).__name__}: {exc}"
    finish_manifest(folder, manifest, "complete" if result.ok else "failed",
                    wall_time_s=time.perf_counter() - t0, skip_dirs=(RUNS,),
                    runs={"planned": plan.n_runs, "done": len(outcomes), "failed": len(failures)},
                    failures=failures.drop(columns="traceback").to_dict(orient="records"))
    return result


def text_width(text: str) -> int:
    """Columns ``text`` takes in a terminal: CJK characters take two (for aligned tables)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def summary_lines(result: SweepResult, *, max_rows: int = 20) -> list[str]:
    """A short human summary of a finished sweep (printed by ``gdcloud sweep``), in the base
    scenario's ``outputs.lang``."""
    plan = result.plan
    lang = plan.base.outputs.lang
    m = result.manifest
    wall = m.get("wall_time_s")
    name = plan.spec.file.stem if plan.spec.file is not None else "sweep"
    lines = [i18n.text("sweep.head", lang, name=name, points=plan.n_points, reps=plan.replicates, runs=plan.n_runs,
                       done=len(result.outcomes), failed=len(result.failures),
                       wall=i18n.text("line.wall", lang, s=f"{wall:.1f}") if isinstance(wall, int | float) else "")]
    if result.folder is not None:
        lines.append(i18n.text("line.results", lang, folder=result.folder))
    s = result.summary
    done = s[s.n_replicates > 0]
    if done.empty:
        return lines
    firms = plan.base.population.total_firms
    scale = "" if firms == 2_000_000 else i18n.text("sweep.scale", lang, firms=f"{firms:,}")
    lines.append(i18n.text("sweep.goals", lang, date=done.goal_date.iloc[0][:7], cloud=f"{done.cloud_goal.iloc[0]:,}",
                           transformed=f"{done.transformed_goal.iloc[0]:,}", scale=scale))
    if lang == "en":
        short = [p.split(".")[-1] for p in plan.parameters]
        if len(set(short)) != len(short):
            short = list(plan.parameters)
    else:
        short = [input_label(label_of([p]), [p], lang) for p in plan.parameters]
    head = [i18n.text(f"sweep.col_{c}", lang) for c in ("point", "p_cloud", "p_transformed", "cloud_median")]
    head[1:1] = short
    body = [[str(int(r["point"])), *[shown_value(p, native(r[p]), lang) for p in plan.parameters],
             f"{r['p_meet_cloud_goal']:.2f}", f"{r['p_meet_transformed_goal']:.2f}",
             f"{r['cloud_firms_median']:,.0f}"] for r in done.head(max_rows).to_dict(orient="records")]
    widths = [max(text_width(h), *(text_width(b[i]) for b in body)) for i, h in enumerate(head)]

    def row(cells: list[str]) -> str:
        return "  " + "  ".join(" " * (w - text_width(c)) + c for c, w in zip(cells, widths, strict=True))

    lines.append(row(head))
    lines.extend(row(b) for b in body)
    if len(done) > max_rows:
        lines.append(i18n.text("sweep.more_points", lang, n=len(done) - max_rows, file=POINT_SUMMARY))
    return lines
