"""Compare scenarios with common random numbers: replicate ``r`` of every scenario uses
``run_seed(root, r)``; each scenario gets its run folder and the comparison its own folder with the
paired differences (:func:`compare_scenarios`).

Long function: :func:`compare_scenarios` (about 105 lines) is half docstring, the reference of the
public ``sim.compare``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from sim import i18n
from sim.core import uncertainty
from sim.errors import ScenarioError
from sim.runs.executors import Executor
from sim.runs.jobs import ExecutorChoice, resolve_executor
from sim.runs.lifecycle import Interrupted
from sim.runs.results import ScenarioResult, goals_evaluated
from sim.runs.root import results_root
from sim.runs.rundir import (
    default_command,
    finish_manifest,
    iso,
    new_manifest,
    new_run_folder,
    utc_now,
)
from sim.runs.runfolder import FIGURES, SUMMARY, RunFolder
from sim.runs.runner import (
    ScenarioJob,
    ScenarioLike,
    check_label,
    execute_jobs,
    finish_jobs,
    record_write_error,
    resolve_scenario,
    with_lang,
)
from sim.scenario.loader import scenario_hash
from sim.scenario.schema import Scenario


@dataclass
class CompareResult:
    """Several scenarios run with common random numbers, and their paired differences.

    Attributes:
        results: :class:`ScenarioResult` per scenario label (first = reference).
        differences: :func:`sim.analysis.summary.paired_differences` of every other scenario vs the
            reference (None if a scenario has no successful replicate).
        reference: Label of the reference (first) scenario.
        folder: The comparison folder (``results/compare/<timestamp>-<hash>/``) or None.
    """

    results: dict[str, ScenarioResult]
    differences: pd.DataFrame | None
    reference: str
    folder: Path | None = None
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results.values())

    @property
    def timeseries(self) -> dict[str, pd.DataFrame]:
        return {k: r.timeseries for k, r in self.results.items()}

    @property
    def summary(self) -> pd.DataFrame:
        """The summaries of all scenarios stacked (column ``scenario``)."""
        frames = [r.summary for r in self.results.values() if r.summary is not None]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def plot_compare(self, ax=None, *, metric: str = "cloud_cumulative"):
        """All scenarios on one chart (median and 10-90% band each) with the goal.

        Args:
            ax: Matplotlib axes (default: a new figure).
            metric: A time-series column such as ``cloud_cumulative`` or ``transformed``.

        Returns:
            The axes.
        """
        from sim.plots import scenario as plots
        from sim.runs.results import axes_or_new

        goals, _ = self.results[self.reference]._goals()
        return plots.plot_compare(axes_or_new(ax), self.timeseries, goals, metric=metric)

    def __getitem__(self, label: str) -> ScenarioResult:
        return self.results[label]

    def __repr__(self) -> str:
        where = f", folder='{self.folder}'" if self.folder else ""
        return f"CompareResult({list(self.results)}, reference={self.reference!r}{where})"


def _labels(scenarios: list[Scenario]) -> list[str]:
    out: list[str] = []
    for sc in scenarios:
        label, i = sc.name, 2
        while label in out:
            label, i = f"{sc.name}-{i}", i + 1
        out.append(label)
    return out


def compare_scenarios(
    scenarios: Sequence[ScenarioLike],
    *,
    replicates: int | None = None,
    seed: int | None = None,
    overrides: Sequence[str] | dict | None = None,
    executor: ExecutorChoice = None,
    workers: int | None = None,
    address: str | None = None,
    out_dir: str | Path | None = None,
    save: bool = True,
    figures: bool = True,
    progress: bool | None = None,
    command: str | None = None,
    uncertainties_from: ScenarioLike | None = None,
    lang: str | None = None,
    label: str | None = None,
) -> CompareResult:
    """Run several scenarios with common random numbers and compare them with the first.

    Every scenario runs the same replicates with the same root seed (``seed``, default the
    first scenario's ``run.seed``), so replicate ``r`` of each uses ``run_seed(seed, r)`` and the
    differences are paired. Each scenario gets its usual run folder; the comparison folder
    ``<out_dir>/compare/<timestamp>-<hash>/`` holds ``differences.csv``, ``summary.csv`` (all
    scenarios), ``figures/`` and a ``manifest.json`` pointing to the scenario folders.

    Args:
        scenarios: Two or more scenarios (Scenario, path, shipped name or dict); the first is
            the reference.
        replicates: Replicates per scenario (default: the first scenario's ``run.replicates``).
        seed: Common root seed (default: the first scenario's ``run.seed``).
        overrides: ``--set`` overrides applied to every scenario.
        executor, workers, address, out_dir, save, figures, progress, command, lang: As in
            :func:`run_scenario`.
        uncertainties_from: A scenario whose ``uncertainties`` every compared scenario takes
            (replacing its own), so that the policies are compared under the same parameter
            uncertainty: replicate r of each draws the same parameter values.
        label: Name of the comparison folder's parent instead of ``compare``
            (``<out_dir>/<label>/<timestamp>-<hash>/``; ``sim.latest(label)`` finds it).

    Returns:
        A :class:`CompareResult`.

    Raises:
        ScenarioError: A scenario is invalid, or fewer than two are given.

    Example:
        >>> import sim
        >>> cmp = sim.compare(["baseline", "no_policy_at_all"], replicates=2,
        ...                   overrides=["population.total_firms=20000", "time.end=2022-06"],
        ...                   save=False)
        >>> list(cmp.differences["outcome"].unique())[:2]
        ['cloud_firms', 'transformed_firms']
    """
    if isinstance(scenarios, str | Path | Scenario | dict):  # a str would be read letter by letter
        raise ScenarioError("(arguments)", "scenarios", f"got one {type(scenarios).__name__}, not a list",
                            "a list of two or more scenarios, e.g. ['baseline', 'no_policy_at_all']")
    if len(scenarios) < 2:
        raise ScenarioError("(arguments)", "scenarios", f"got {len(scenarios)} scenario(s)",
                            "two or more scenarios (the first is the reference)")
    label = check_label(label)
    overrides = with_lang(overrides, lang)
    first = resolve_scenario(scenarios[0], seed=seed, replicates=replicates, overrides=overrides)
    root, n = first.run.seed, first.run.replicates
    resolved = [first] + [resolve_scenario(s, seed=root, replicates=n, overrides=overrides)
                          for s in scenarios[1:]]
    if uncertainties_from is not None:
        source = resolve_scenario(uncertainties_from)
        resolved = [uncertainty.with_uncertainties(sc, source) for sc in resolved]
    labels = _labels(resolved)
    root_dir = results_root(out_dir)
    ex, owned = resolve_executor(executor, workers, address, n_runs=n * len(resolved), scenario=first)
    cmd = command or default_command()
    start = utc_now()
    try:
        ex.start()
        jobs = [ScenarioJob(sc, label, RunFolder.create(root_dir, sc) if save else None, list(range(n)))
                for sc, label in zip(resolved, labels, strict=True)]
        for job in jobs:
            if job.folder is not None:
                job.folder.begin_session(replicates=job.todo, command=cmd, executor=ex.describe(),
                                         start=job.start)
        try:
            execute_jobs(jobs, ex, progress, i18n.term_or("kind", "compare", first.outputs.lang))
        except OSError as exc:
            record_write_error(jobs, exc)
            raise
        except KeyboardInterrupt as exc:
            for job in jobs:
                job.finish(figures=False, interrupted=True)
            raise Interrupted([j.folder.path for j in jobs if j.folder is not None]) from exc
    finally:
        if owned:
            ex.close()
    results = finish_jobs(jobs, figures)
    ts_ok = {k: r.timeseries for k, r in results.items() if not r.timeseries.empty}
    diffs = None
    ref_cfg, _ = goals_evaluated(first)
    if len(ts_ok) == len(results):
        from sim.analysis import summary
        from sim.analysis.outcomes import scaled_goals

        diffs = summary.paired_differences(ts_ok, labels[0], goals=scaled_goals(ref_cfg),
                                           lang=ref_cfg.outputs.lang)
    cmp = CompareResult(results, diffs, labels[0])
    if save:
        cmp.folder, cmp.manifest = _write_compare_folder(root_dir, cmp, resolved, figures, cmd, ex, start,
                                                         label)
    return cmp


def _write_compare_folder(root: Path, cmp: CompareResult, scenarios: list[Scenario], figures: bool,
                          command: str, ex: Executor, start: dt.datetime,
                          label: str | None = None) -> tuple[Path, dict[str, Any]]:
    hashes = [scenario_hash(s) for s in scenarios]
    combined = hashlib.sha256(",".join(hashes).encode()).hexdigest()
    folder = new_run_folder(root, label or "compare", combined[:10])
    manifest = new_manifest(
        "compare", command=command, executor=ex.describe(), start=start,
        reference=cmp.reference,
        root_seed=scenarios[0].run.seed,
        replicates=scenarios[0].run.replicates,
        scenarios=[{"label": label, "name": sc.name, "hash": h,
                    "folder": os.path.relpath(r.folder, folder) if r.folder else None,
                    "replicates_done": r.replicates_done,
                    "replicates_failed": sorted(int(x) for x in r.failures["replicate"])}
                   for (label, r), sc, h in zip(cmp.results.items(), scenarios, hashes, strict=True)],
        created=iso(utc_now()),
    )
    from sim.analysis import tables

    lang = scenarios[0].outputs.lang  # CSVs with Chinese text get a byte-order mark (Excel)
    if cmp.differences is not None:
        tables.write_csv(folder / "differences.csv", cmp.differences, lang)
    summ = cmp.summary
    if not summ.empty:
        tables.write_csv(folder / SUMMARY, summ, lang)
        tables.write_compare_tables(folder, summ, cmp.differences, lang,
                                    config=goals_evaluated(scenarios[0])[0])
    if figures and cmp.differences is not None and scenarios[0].outputs.figures:
        try:
            from sim.plots import scenario as plots

            cfg, _ = goals_evaluated(scenarios[0])
            made = plots.write_compare_figures(folder / FIGURES, cmp.timeseries, cmp.differences, cfg)
            manifest["figures"] = [str(p.relative_to(folder)) for p in made]
        except Exception as exc:  # noqa: BLE001
            manifest["figures_error"] = f"{type(exc).__name__}: {exc}"
    status = "complete" if cmp.ok and cmp.differences is not None else "failed"
    finish_manifest(folder, manifest, status, wall_time_s=(utc_now() - start).total_seconds())
    return folder, manifest


__all__ = ["CompareResult", "compare_scenarios"]
