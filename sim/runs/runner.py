"""Run replicates of one or several scenarios on an executor and save them as they finish.

* :func:`sim.runs.replicate.run_one` runs one replicate (:class:`~sim.runs.replicate.ReplicateRun`)
  and returns a :class:`~sim.runs.replicate.ReplicateResult`: its tidy time series and wall time,
  or a failure record. It never raises: failures are data.
* :func:`run_scenario` runs the replicates of one scenario (:class:`ScenarioJob` collects them,
  :func:`execute_jobs` runs the jobs of one or several scenarios on one executor);
  :func:`sim.runs.compare.compare_scenarios` builds on them to compare scenarios.

Replicate ``r`` always uses the seed ``run_seed(root_seed, r)``, whatever the executor, the number
of workers or the order in which runs finish, and rows are written sorted by replicate, so the
same scenario and seed give byte-identical ``timeseries.csv`` files.

When ``population.structure_seed`` (or ``population.structure_pool``) is set, replicates share populations; a worker
process builds it once and keeps it (keyed by the structure seed and a hash of the scenario's
``population`` and ``time`` sections) for its later replicates.

Long function: :func:`run_scenario` (about 110 lines) is half docstring, the reference of the
public ``sim.run``; its code checks every input before the folder is created, then runs.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from sim import i18n
from sim.core import outputs, uncertainty
from sim.errors import ScenarioError
from sim.fileio import atomic_write_text
from sim.runs.executors import Executor
from sim.runs.jobs import ExecutorChoice, collect, resolve_executor
from sim.runs.lifecycle import Interrupted
from sim.runs.replicate import ReplicateResult, ReplicateRun, lost_run, run_one
from sim.runs.results import ScenarioResult, failures_frame, goals_evaluated, summarize_scenario
from sim.runs.root import results_root
from sim.runs.rundir import (
    default_command,
    utc_now,
)
from sim.runs.runfolder import (
    FIGURES,
    SUMMARY,
    TIMESERIES,
    RunFolder,
    concatenate_replicate_files,
    read_resolved_scenario,
    read_timeseries,
)
from sim.scenario.loader import load_scenario, scenario_hash, with_overrides
from sim.scenario.schema import Scenario

DEFAULT_RESULTS_DIR = Path("results")
"""Where run folders are created unless ``out_dir`` / ``--out`` or ``$GDCLOUD_RESULTS_DIR`` says
otherwise (:func:`sim.runs.root.results_root`)."""

ScenarioLike = Scenario | str | Path | dict


# --------------------------------------------------------------------------- scenarios


def resolve_scenario(scenario: ScenarioLike, *, replicates: int | None = None,
                     seed: int | None = None, overrides: Sequence[str] | dict | None = None) -> Scenario:
    """A validated scenario from a Scenario, a dict, a YAML path or a shipped scenario name.

    Args:
        scenario: What to run.
        replicates: Overrides ``run.replicates`` if given.
        seed: Overrides ``run.seed`` if given.
        overrides: ``--set`` style overrides (``["key.path=value", ...]`` or a mapping).

    Raises:
        ScenarioError: The file, an override or a value is invalid.
    """
    if isinstance(scenario, str | Path):
        return load_scenario(scenario, overrides, replicates=replicates, seed=seed)
    if not isinstance(scenario, Scenario | dict):
        raise TypeError(f"expected a Scenario, a dict, a path or a scenario name, got {type(scenario).__name__}")
    if overrides is None and replicates is None and seed is None and isinstance(scenario, Scenario):
        return scenario
    # The loader's steps and messages, as on the command line.
    return with_overrides(scenario, overrides, replicates=replicates, seed=seed)


# --------------------------------------------------------------------------- progress


# --------------------------------------------------------------------------- collecting


class ScenarioJob:
    """The replicates of one scenario: where they are written and what came back."""

    def __init__(self, scenario: Scenario, label: str, folder: RunFolder | None, replicates: list[int]):
        self.scenario = scenario
        self.label = label
        self.folder = folder
        self.todo = replicates
        self.frames: dict[int, pd.DataFrame] = {}
        self.failures: dict[int, ReplicateResult] = {}
        self.wall: dict[int, float] = {}
        self.reused = 0
        self.start = utc_now()

    def specs(self) -> list[ReplicateRun]:
        data = self.scenario.model_dump(mode="json")
        return [ReplicateRun(data, self.scenario.name, r, self.scenario.run.seed, self.label) for r in self.todo]

    def add(self, res: ReplicateResult) -> None:
        self.wall[res.replicate] = res.wall_time_s
        self.reused += bool(res.population_cached)
        if self.folder is not None and res.worker:
            # Which process ran each replicate, with which package versions (once per process).
            self.folder.manifest.setdefault("replicate_workers", {})[str(res.replicate)] = res.worker
            self.folder.manifest.setdefault("workers", {})[res.worker] = res.versions
        if res.ok:
            self.failures.pop(res.replicate, None)
            if self.folder is not None:
                self.folder.write_replicate(res.replicate, res.timeseries, res.wall_time_s)
            else:
                self.frames[res.replicate] = res.timeseries
        else:
            self.failures[res.replicate] = res

    def failure_records(self) -> list[dict[str, Any]]:
        return [self.failures[r].failure_record() for r in sorted(self.failures)]

    def finish(self, *, figures: bool, interrupted: bool = False, figure_process=None) -> ScenarioResult:
        """Write the final files (or, if interrupted, only the manifest) and build the result.

        A ``figure_process`` (:class:`sim.plots.parallel.FigureProcess`, warmed while the
        replicates ran) draws the figures while this process writes the tables.
        """
        sc = self.scenario
        failures = self.failure_records()
        _, note = goals_evaluated(sc)
        if interrupted and self.folder is None:
            return None  # type: ignore[return-value]
        if self.folder is None:
            reps = sorted(self.frames)
            ts = (pd.concat([self.frames[r] for r in reps], ignore_index=True) if reps
                  else _empty_timeseries())
            summ = summarize_scenario(ts, sc) if reps else None
            manifest = {"scenario": {"name": sc.name, "hash": scenario_hash(sc)},
                        "root_seed": sc.run.seed, "notes": [note] if note else [],
                        "replicates": {"planned": sc.run.replicates, "done": reps,
                                       "failed": sorted(self.failures)}}
            return ScenarioResult(sc, ts, summ, failures_frame(failures), None, manifest)

        rf = self.folder
        rf.manifest["notes"] = [note] if note else []
        rf.manifest["sessions"][-1]["populations_reused"] = self.reused
        if interrupted:
            rf.end_session(status="interrupted", start=self.start, failures=failures)
            return None  # type: ignore[return-value]
        done = rf.done()
        rf.write_failures(failures)
        rf.manifest.pop("figures_error", None)
        summ = None
        ts = _empty_timeseries()
        if not done:  # no replicate: files of an earlier session must not pass for this one
            for name in (TIMESERIES, SUMMARY):
                (rf.path / name).unlink(missing_ok=True)
        if done:
            concatenate_replicate_files(rf.path, done, rf.path / TIMESERIES)
            ts = read_timeseries(rf.path / TIMESERIES)
            draw = figures and sc.outputs.figures
            if draw and figure_process is not None:  # named: this process has not imported it
                figure_process.submit("sim.plots.scenario:write_figures", rf.path / FIGURES, ts,
                                      goals_evaluated(sc)[0])
            summ = summarize_scenario(ts, sc)
            report_tables(rf.path, ts, summ, sc)
            if uncertainty.has_uncertainty(sc):
                params = uncertainty.parameters_frame(sc, done)
                atomic_write_text(rf.path / uncertainty.PARAMETERS, params.to_csv(index=False, lineterminator="\n"))
            if draw:
                try:
                    made = (figure_process.result() if figure_process is not None
                            else scenario_figures(rf.path / FIGURES, ts, sc))
                    rf.manifest["figures"] = [str(p.relative_to(rf.path)) for p in made]
                except Exception as exc:  # noqa: BLE001 - figures must not lose the results
                    rf.manifest["figures_error"] = f"{type(exc).__name__}: {exc}"
        complete = not failures and len(done) == sc.run.replicates and "figures_error" not in rf.manifest
        rf.end_session(status="complete" if complete else "failed", start=self.start, failures=failures)
        return ScenarioResult(sc, ts, summ, failures_frame(failures), rf.path, rf.manifest)


def _empty_timeseries() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in outputs.TIMESERIES_COLUMNS})


def report_tables(folder: Path, ts: pd.DataFrame, summ: pd.DataFrame, config: Scenario) -> list[Path]:
    """Write a run folder's ``summary.csv`` and report tables
    (:func:`sim.analysis.tables.write_report_tables`), every CSV in the encoding of the
    scenario's language (UTF-8 with a byte-order mark for Chinese, so that Excel reads it)."""
    from sim.analysis import tables
    from sim.analysis.outcomes import scaled_goals

    cfg, _ = goals_evaluated(config)
    written = [tables.write_csv(folder / SUMMARY, summ, config.outputs.lang)]
    return written + tables.write_report_tables(folder, ts, summ, cfg, scaled_goals(cfg))


def check_label(label: str | None) -> str | None:
    """``label`` if it is a safe folder name (letters, digits, ``_ . -``; not starting with ``.``).

    Raises:
        ScenarioError: Otherwise, saying what is allowed.
    """
    if label is None:
        return None
    if not re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}", label):
        raise ScenarioError("(arguments)", "label", f"{label!r} is not a folder name",
                            "1-100 letters, digits, '_', '.', '-' (not starting with '.')")
    return label


def with_lang(overrides: Sequence[str] | dict | None, lang: str | None) -> Sequence[str] | dict | None:
    """``overrides`` plus ``outputs.lang=<lang>`` (unchanged if ``lang`` is None)."""
    if lang is None:
        return overrides
    from sim import i18n

    i18n.check_lang(lang)
    if isinstance(overrides, dict):
        return {**overrides, "outputs.lang": lang}
    return [*(overrides or []), f"outputs.lang={lang}"]


def scenario_figures(folder: Path, ts: pd.DataFrame, config: Scenario, compare=None) -> list[Path]:
    from sim.plots import scenario as plots

    cfg, _ = goals_evaluated(config)
    return plots.write_figures(folder, ts, cfg, compare=compare)  # each PNG written atomically


def execute_jobs(jobs: list[ScenarioJob], executor: Executor, progress: bool | None, desc: str) -> None:
    """Run every job's replicates on one executor, dispatching results as they arrive."""
    by_label = {job.label: job for job in jobs}
    collect(executor, run_one, [s for job in jobs for s in job.specs()],
            on_result=lambda res: by_label[res.label].add(res), lost=lost_run, progress=progress, desc=desc)


# --------------------------------------------------------------------------- public entry points


def run_scenario(
    scenario: ScenarioLike | None = None,
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
    resume: str | Path | None = None,
    command: str | None = None,
    lang: str | None = None,
    label: str | None = None,
) -> ScenarioResult:
    """Run every replicate of a scenario and save the results in a new folder.

    Args:
        scenario: A :class:`Scenario`, a YAML path, a shipped scenario name (``"baseline"``) or
            a dict. May be omitted with ``resume`` (the folder's saved scenario is used).
        replicates: Number of replicates (overrides ``run.replicates``; with ``resume``,
            default: the number planned by the interrupted run).
        seed: Root seed (overrides ``run.seed``).
        overrides: ``--set`` style overrides, e.g. ``["population.total_firms=50000"]``.
        executor: An :class:`~sim.runs.executors.Executor` or ``"serial"``, ``"processes"``,
            ``"dask"`` (default: serial, or processes if ``workers`` is given), or a
            :class:`~sim.runs.jobs.SizedExecutor` (chosen for the replicates to run).
        workers: Worker processes for ``processes`` / a local ``dask`` cluster.
        address: Dask scheduler address (``tcp://host:8786``).
        out_dir: Folder under which ``<scenario>/<timestamp>-<hash>/`` is created (default:
            ``$GDCLOUD_RESULTS_DIR`` or ``results``, :func:`sim.runs.root.results_root`).
        save: If False, nothing is written and the result has ``folder=None``.
        figures: Write ``figures/*.png`` (if ``outputs.figures`` is also true).
        progress: Show a progress bar (default: in a terminal or a Jupyter kernel).
        lang: Language of figures, headers and sentences, ``"en"`` or ``"zh"`` (sets the
            scenario's ``outputs.lang``; default: the scenario's own).
        label: Name of the results folder's parent instead of the scenario name
            (``<out_dir>/<label>/<timestamp>-<hash>/``), e.g. to tell runs with ``--set`` apart;
            :func:`sim.latest` finds runs by it.
        resume: An interrupted run folder to complete; only missing replicates are run and the
            final files equal those of an uninterrupted run.
        command: Command line recorded in the manifest.

    Returns:
        The :class:`~sim.runs.results.ScenarioResult`; check ``result.failures`` for failed runs.

    Raises:
        ScenarioError: Invalid scenario, overrides or resume folder (nothing is written).
        KeyboardInterrupt: On Ctrl-C, after recording the finished replicates; the folder can
            be completed with ``resume``.

    Example:
        >>> import sim
        >>> res = sim.run("demo", replicates=2,
        ...               overrides=["population.total_firms=20000", "time.end=2022-06"],
        ...               save=False)
        >>> res.replicates_done
        [0, 1]
    """
    # 1. Everything that can be wrong with the input is checked before anything is written.
    label = check_label(label)
    if resume is not None:
        if scenario is None and (overrides or seed is not None):
            scenario = read_resolved_scenario(Path(resume))  # --set/--seed must leave it unchanged
        if scenario is not None:
            scenario = resolve_scenario(scenario, seed=seed, overrides=with_lang(overrides, lang))
        rf: RunFolder | None = RunFolder.reopen(Path(resume), scenario)
        planned = replicates if replicates is not None else rf.manifest["replicates"]["planned"]
        rf.lock()  # one writer at a time; replicate files that fail their checksum are dropped
        done = set(rf.done())
        if done and planned <= max(done):
            rf.unlock()
            raise ScenarioError(str(resume), "replicates", f"{planned} planned, but replicates up to "
                                f"{max(done)} are already done", f"at least {max(done) + 1} replicates")
        sc = resolve_scenario(rf.scenario, replicates=planned)
        rf.scenario = sc
        todo = [r for r in range(sc.run.replicates) if r not in done]
    else:
        if scenario is None:
            raise ScenarioError("(arguments)", "scenario", "no scenario given",
                                "a scenario file, a shipped scenario name, or resume=FOLDER")
        sc = resolve_scenario(scenario, replicates=replicates, seed=seed,
                              overrides=with_lang(overrides, lang))
        rf = None
        todo = list(range(sc.run.replicates))
    try:  # the executor is chosen for the replicates to run (a SizedExecutor sizes itself)
        ex, owned = resolve_executor(executor, workers, address, n_runs=len(todo), scenario=sc)
    except BaseException:
        if rf is not None:
            rf.unlock()
        raise
    # Forked before the executor starts workers or threads; imports the drawing code meanwhile.
    writes_figures = figures and sc.outputs.figures and (resume is not None or save)
    figure_process = start_figure_process() if writes_figures else None
    try:
        return _run_job(sc, rf, todo, ex, owned, resume=resume, save=save, out_dir=out_dir, label=label,
                        command=command, progress=progress, figures=figures, figure_process=figure_process)
    finally:
        if figure_process is not None:
            figure_process.close()


def start_figure_process():
    """A :class:`sim.plots.parallel.FigureProcess` for the run's figures (the one the command line
    forked early, :mod:`sim.runs.prebuild`, else a new one), or None."""
    from sim.plots.parallel import FigureProcess
    from sim.runs import prebuild

    return prebuild.take_figure_process() or FigureProcess.start()


def _run_job(sc: Scenario, rf: RunFolder | None, todo: list[int], ex: Executor, owned: bool, *, resume, save,
             out_dir, label, command, progress, figures, figure_process) -> ScenarioResult:
    """Steps 2-3 of :func:`run_scenario`: create the folder, run the replicates, finish."""
    try:
        ex.start()
        # 2. Then the folder is created (or reopened) and the replicates run.
        if resume is None and save:
            rf = RunFolder.create(results_root(out_dir), sc, label=label)
        job = ScenarioJob(sc, sc.name, rf, todo)
        if rf is not None:
            rf.begin_session(replicates=todo, command=command or default_command(),
                             executor=ex.describe(), start=job.start)
        try:
            execute_jobs([job], ex, progress, i18n.scenario_title(sc.name, sc.outputs.lang))
        except KeyboardInterrupt as exc:
            job.finish(figures=False, interrupted=True)
            raise Interrupted([rf.path] if rf is not None else []) from exc
        except OSError as exc:  # disk full, file too large...: the manifest says so
            record_write_error([job], exc)
            raise
    finally:
        if owned:
            ex.close()
    return finish_jobs([job], figures, figure_process=figure_process)[job.label]


def finish_jobs(jobs: list[ScenarioJob], figures: bool, *, figure_process=None) -> dict[str, ScenarioResult]:
    """Write every job's final files; Ctrl-C here leaves the folders resumable. A
    ``figure_process`` draws the figures of a single job (:meth:`ScenarioJob.finish`)."""
    out: dict[str, ScenarioResult] = {}
    try:
        for job in jobs:
            out[job.label] = job.finish(figures=figures, figure_process=figure_process if len(jobs) == 1 else None)
    except OSError as exc:
        record_write_error([j for j in jobs if j.label not in out], exc)
        raise
    except KeyboardInterrupt as exc:
        folders = []
        for job in jobs:
            if job.folder is not None:
                if job.label not in out:
                    job.folder.manifest["status"] = "interrupted"
                    job.folder.manifest["sessions"][-1]["status"] = "interrupted"
                    job.folder.write_manifest()
                folders.append(job.folder.path)
        raise Interrupted(folders) from exc
    return out


def record_write_error(jobs: list[ScenarioJob], exc: OSError) -> None:
    """Best effort: mark the folders failed with the error (the disk may refuse this too, then
    the manifest keeps saying ``running`` and ``--resume`` completes the folder later)."""
    for job in jobs:
        rf = job.folder
        if rf is None:
            continue
        rf.manifest["status"] = "failed"
        rf.manifest["error"] = f"{type(exc).__name__}: {exc}"
        if rf.manifest.get("sessions"):
            rf.manifest["sessions"][-1]["status"] = "failed"
        with contextlib.suppress(OSError):
            rf.write_manifest()
        rf.unlock()


__all__ = [
    "run_scenario", "resolve_scenario", "ScenarioJob", "execute_jobs", "finish_jobs",
    "scenario_figures", "record_write_error", "DEFAULT_RESULTS_DIR",
]
