"""The 2020-2025 record as one call each, the same from Python and from ``gdcloud``
(``history-match``, ``backtest``, ``evaluate``): the inputs are checked (one-line
:class:`~sim.errors.ScenarioError`, nothing written), the history match runs in a new results
folder ``<out_dir>/<kind>/<UTC timestamp>-<hash>/`` with a manifest
(:func:`sim.analysis.tools.run_tool`), and the :class:`~sim.runs.rundir.AnalysisRun`'s
``summary_lines()`` is what the command line prints.

Besides the manifest and the resolved scenario each folder holds CSV tables, PNG figures and
``settings.json``; the history match also writes ``posterior.csv`` (one column per dotted key +
``weight``) that a scenario can name with ``posterior:``.

This module sits in ``sim.plots`` (not ``sim.analysis``) because it writes the record's figures
(:mod:`sim.plots.record`), and imports run analysis -> plots, never back.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from sim import i18n
from sim.analysis import observation
from sim.analysis.backtest import OriginResult, score_origin, summary
from sim.analysis.evaluate import INSTRUMENTS, evaluate
from sim.analysis.history_match import (
    DATA_PRECISION,
    IN_FORCE_SINCE_2018,
    MAX_BATCH,
    METRICS,
    STRUCTURE_POOL,
    MatchResult,
    history_match,
    parameters_for,
    predictive_table,
    save_posterior,
)
from sim.analysis.tables import csv_encoding
from sim.analysis.tools import run_tool
from sim.errors import ScenarioError
from sim.fileio import atomic_write_csv, atomic_write_text
from sim.i18n.columns import with_names
from sim.plots.record import (
    FAN_FILE,
    Head,
    draw_backtest,
    draw_predictive,
    fan_table,
    instruments_figure,
)
from sim.runs.executors import Executor
from sim.runs.jobs import ExecutorChoice
from sim.runs.rundir import AnalysisRun
from sim.runs.runner import resolve_scenario
from sim.scenario.labels import input_label
from sim.scenario.loader import resolved_yaml
from sim.scenario.locations import scenarios_dir
from sim.scenario.paths import get_value, set_values
from sim.scenario.schema import Scenario

COMMANDS = {"history_match": "history-match", "backtest": "backtest", "evaluate": "evaluate"}
"""Kind of analysis (results folder) -> its ``gdcloud`` command (named in errors and settings)."""

MINIMUM = {"particles": 2, "generations": 2, "max_simulations": 2, "total_firms": 1_000}
"""Smallest accepted ABC settings and population."""

METRIC_INDICATOR = {"cloud_cumulative": "cloud_firms", "transformed": "transformed_firms"}
"""Metric of the record -> the goal indicator that names it (``indicator.<name>`` in terms.csv)."""

_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def record_base(scenario: Scenario | str | Path | None) -> tuple[Scenario, dict[str, Any]]:
    """The scenario of the policies as implemented and the overrides the match applies to it.

    None is ``history`` if shipped, else ``baseline``; a scenario whose vouchers start after
    2018 gets :data:`~sim.analysis.history_match.IN_FORCE_SINCE_2018` (vouchers since 2018-03,
    platforms since 2019-01).
    """
    if scenario is None:
        scenario = "history" if (scenarios_dir() / "history.yaml").is_file() else "baseline"
    base = resolve_scenario(scenario)
    overrides = IN_FORCE_SINCE_2018 if str(get_value(base, "policies.vouchers.start")) > "2018-12" else {}
    return base, overrides


def _check(kind: str, names: Mapping[str, str], *, start: str, origins: Sequence[str],
           sizes: Mapping[str, int]) -> None:
    """The one-line errors of bad input (nothing is written)."""
    cmd = COMMANDS[kind]
    for label, months in ((names["start"], [start]), (names["origins"], list(origins))):
        bad = [m for m in months if not _MONTH.match(m)]
        if bad:
            raise ScenarioError(cmd, label, f"{', '.join(bad)} is not a month", "YYYY-MM (e.g. 2021-12)")
    for name, value in sizes.items():
        if value < MINIMUM[name]:
            raise ScenarioError(cmd, names[name], f"{names[name]} is too small ({value})",
                                f"an integer >= {MINIMUM[name]:,}")
    if not observation.evidence(after=start, until="2025-12"):
        raise ScenarioError(cmd, names["start"], f"no published figure after {names['start']} {start}",
                            "a month before the last published figure")
    empty = [o for o in origins if not observation.evidence(after=start, published_by=o)]
    if empty:
        raise ScenarioError(cmd, names["origins"], f"no figure was published between {names['start']} "
                            f"{start} and origin {', '.join(empty)}", "origins after the first figure")


def _instrument_names(instruments: str | Sequence[str], label: str) -> tuple[str, ...]:
    if isinstance(instruments, str):
        named = {"all": INSTRUMENTS, "none": ()}.get(instruments)
        if named is not None:
            return tuple(named)
        instruments = instruments.split(",")
    names = tuple(i.strip() for i in instruments if i.strip())
    unknown = [i for i in names if i not in INSTRUMENTS]
    if unknown:
        raise ScenarioError("evaluate", label, f"{label}: unknown {', '.join(unknown)}",
                            f"all, none or a comma-separated list of {', '.join(INSTRUMENTS)}")
    return names


def _code_commit() -> str:
    """Short git commit of the code that ran (``""`` outside a git checkout): the saved record
    outputs say which model version produced them."""
    try:
        out = subprocess.run(["git", "-C", str(Path(__file__).resolve().parent), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def _cpu_s_all(since: float | None = 0.0) -> float | None:
    """CPU seconds of this process and its live descendants (the executor's workers), minus
    ``since``; None without psutil. Read while the workers run, so their CPU is counted."""
    try:
        import psutil
    except ImportError:  # pragma: no cover - psutil is optional
        return None
    me = psutil.Process()
    total = sum(me.cpu_times()[:2])
    for child in me.children(recursive=True):
        try:
            total += sum(child.cpu_times()[:2])
        except psutil.Error:
            continue
    return None if since is None else round(total - since, 1)


def _completed(out: dict[str, Any]) -> dict[str, Any]:
    """``generations_complete`` and ``stopped_early`` of a history match (nothing for a backtest)."""
    match = out.get("match")
    if match is None:
        return {}
    g = match.abc.generations
    return {"generations_complete": int(g["complete"].sum()), "stopped_early": bool(match.abc.budget_exhausted)}


def _write_match(match: MatchResult, folder: Path, title: str) -> None:
    save_posterior(match, folder / "posterior.csv")
    atomic_write_csv(folder / "generations.csv", match.abc.generations, index=False)
    lang = match.config.outputs.lang
    paths = {p.name: p.paths for p in match.params}
    named = with_names(match.abc.summary(), "parameter", lambda x: input_label(x, paths.get(x, ()), lang))
    atomic_write_csv(folder / "parameters.csv", named, index=False, encoding=csv_encoding(lang))
    table = predictive_table(match.dates, {m: match.series(m) for m in METRICS}, match.abc.weights,
                             observation.recount(observation.figures(), match.counted), used=match.figures)
    atomic_write_csv(folder / "predictive.csv", table, index=False)
    fan = fan_table(match)  # saved: the figure can be drawn again in another language (record.redraw)
    atomic_write_csv(folder / FAN_FILE, fan, index=False)
    draw_predictive(fan, Head.of(match), folder / "predictive.png", title)


def _backtest(base: Scenario, origins: Sequence[str], folder: Path | None, kw: dict[str, Any],
              say: Callable[[str], None]) -> pd.DataFrame:
    scores = []
    for origin in origins:
        say(i18n.text("prog.rec_origin", base.outputs.lang, origin=origin))
        match = history_match(base, published_by=origin, **kw)
        res = OriginResult(origin, match, score_origin(origin, match))
        scores.append(res.scores)
        if folder is not None:
            atomic_write_csv(folder / f"generations_{origin}.csv", match.abc.generations, index=False)
            fan = fan_table(match)
            atomic_write_csv(folder / f"fan_{origin}.csv", fan, index=False)
            draw_backtest(fan, origin, Head.of(match), folder / f"fan_{origin}.png")
    table = pd.concat(scores, ignore_index=True)
    summ = summary(table)
    if folder is not None:
        atomic_write_csv(folder / "backtest.csv", table, index=False)
        atomic_write_csv(folder / "backtest_summary.csv", summ, index=False)
    return summ


def _evaluate(match: MatchResult, folder: Path | None, ex: Executor,
              names: tuple[str, ...]) -> tuple[pd.DataFrame, pd.DataFrame]:
    ev = evaluate(match, instruments=names, executor=ex)
    goals, inst = ev.goals_table(), ev.instruments_table()
    if folder is not None:
        lang = match.config.outputs.lang
        csv = {"encoding": csv_encoding(lang)}
        named = with_names(goals, "quantity", lambda m: i18n.term_or("indicator", METRIC_INDICATOR.get(m, m), lang))
        atomic_write_csv(folder / "goals.csv", named, index=False, **csv)
        if names:
            named = with_names(inst, "instrument", lambda x: i18n.instrument_name(x, lang))
            atomic_write_csv(folder / "instruments.csv", named, index=False, **csv)
            instruments_figure(inst, folder / "instruments.png", ev.end, match)
    return goals, inst


def printed_table(frame: pd.DataFrame, lang: str = "en") -> str:
    """A record table as the command line prints it: as is in English; in Chinese with the
    columns and the identifiers (quantity, instrument, forecast method) named from the table."""
    if lang == "en":
        return frame.to_string(index=False)
    names = {"quantity": lambda m: i18n.term_or("indicator", METRIC_INDICATOR.get(m, m), lang),
             "instrument": lambda x: i18n.instrument_name(x, lang),
             "method": lambda m: i18n.text("rec.model", lang) if m == "model" else i18n.term_or("naive", m, lang)}
    out = frame.copy()
    for column, name in names.items():
        if column in out:
            out[column] = [name(str(v)) for v in out[column]]
    out.columns = [i18n.term_or("rec_col", str(c), lang) for c in out.columns]
    with pd.option_context("display.unicode.east_asian_width", True):  # CJK names take two columns
        return out.to_string(index=False, na_rep=i18n.text("line.na", lang))


def record_tool(kind: str, scenario: Scenario | str | Path | None = None, *, particles: int = 100,
                generations: int = 8, max_simulations: int = 1500, total_firms: int = 50_000,
                start: str = "2020-12", seed: int = 0, counted: str = "above_scale",
                origins: Sequence[str] = (), instruments: str | Sequence[str] = "all",
                out_dir: str | Path | None = None, save: bool = True,
                progress: Callable[[str], None] | None = None, executor: ExecutorChoice = None,
                workers: int | None = None, address: str | None = None, command: str | None = None,
                labels: Mapping[str, str] | None = None, stop: Callable[[], bool] | None = None,
                lang: str | None = None) -> AnalysisRun:
    """Run ``kind`` (``history_match``, ``backtest`` or ``evaluate``); arguments as for
    :func:`history_match_tool`, ``origins`` as for :func:`backtest_tool`, ``instruments`` as for
    :func:`evaluate_tool`. A history match needs the model runs of every generation, so it stops
    on a failed run (:class:`~sim.errors.AnalysisFailed`). ``stop`` (e.g. a wall-clock deadline)
    ends each history match at its last complete generation (:func:`sim.analysis.abc.abc_smc`);
    ``settings.json`` then records ``generations_complete``, the ``generations`` that reproduce it."""
    # Why this function is long: it is the one place the three commands' inputs, files and
    # summary lines are put together, so that they cannot drift apart.
    names = {k: k for k in (*MINIMUM, "start", "origins", "instruments")} | dict(labels or {})
    cmd = COMMANDS[kind]
    origins = [o.strip() for o in origins if o.strip()] if kind == "backtest" else []
    sizes = {"particles": particles, "generations": generations, "max_simulations": max_simulations,
             "total_firms": total_firms}
    _check(kind, names, start=start, origins=origins, sizes=sizes)
    chosen = _instrument_names(instruments, names["instruments"]) if kind == "evaluate" else ()
    base, overrides = record_base(scenario)
    if lang is not None:  # the figures' language (default: the scenario's outputs.lang)
        base = set_values(base, {"outputs.lang": i18n.check_lang(lang)}, label="lang")
    say = progress or (lambda _text: None)
    t0, c0, cpu0 = time.time(), time.process_time(), _cpu_s_all()
    inputs: dict[str, Any] = {"scenario": base.name, "overrides": overrides, **sizes, "start": start,
                              "seed": seed, "workers": workers, "counted": counted}
    if kind == "backtest":
        inputs["origins"] = ",".join(origins)
    if kind == "evaluate":
        inputs["instruments"] = instruments if isinstance(instruments, str) else ",".join(chosen)

    def on_generation(row: dict) -> None:
        say(i18n.text("prog.rec_generation", base.outputs.lang, generation=row["generation"],
                      tolerance=f"{row['tolerance']:.4f}", accepted=row["accepted"], runs=row["simulations"],
                      ess=f"{row['ess']:.0f}"))

    def call(folder: Path | None, ex: Executor) -> dict[str, Any]:
        kw = {"params": parameters_for(base), "total_firms": total_firms, "start": start,
              "particles": particles, "generations": generations, "max_simulations": max_simulations,
              "seed": seed, "overrides": overrides, "executor": ex, "on_generation": on_generation,
              "counted": counted, "stop": stop}
        out: dict[str, Any] = {}
        if kind == "backtest":
            out["backtest_summary"] = _backtest(base, origins, folder, kw, say)
        else:
            say(i18n.text("prog.rec_match", base.outputs.lang, name=i18n.scenario_title(base.name, base.outputs.lang),
                          firms=f"{total_firms:,}"))
            out["match"] = match = history_match(base, **kw)
            if folder is not None:
                _write_match(match, folder, i18n.text("record.match_title", base.outputs.lang, scenario=i18n.scenario_title(base.name, base.outputs.lang)))
            if kind == "evaluate":
                out["goals"], out["instruments"] = _evaluate(match, folder, ex, chosen)
        if folder is not None:
            settings = {"command": cmd, "scenario": base.name, "commit": _code_commit(), "counted": counted,
                        "overrides": overrides, **sizes, "start": start, "seed": seed,
                        "min_tolerance": DATA_PRECISION, "structure_pool": STRUCTURE_POOL, "max_batch": MAX_BATCH,
                        "kernel": "scaled", **_completed(out),
                        "wall_s": round(time.time() - t0, 1),
                        "cpu_s_this_process": round(time.process_time() - c0, 1),
                        "cpu_s_all_processes": _cpu_s_all(cpu0)}
            atomic_write_text(folder / "settings.json", json.dumps(settings, indent=2, default=str) + "\n")
        return out

    def summarize(res: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
        lang = base.outputs.lang
        lines = [i18n.text("rec.head", lang, cmd=cmd if lang == "en" else i18n.text(f"rec.cmd_{kind}", lang),
                           name=i18n.scenario_title(base.name, lang), firms=f"{total_firms:,}", particles=particles, seed=seed)]
        record: dict[str, Any] = {}
        if "match" in res:
            gens = res["match"].abc.generations
            record = {"generations": len(gens), "simulations": int(gens["simulations"].sum())}
            lines[0] += i18n.text("rec.generations", lang, n=record["generations"], runs=record["simulations"])
        for table in ("backtest_summary", "goals", "instruments"):
            if table in res:
                lines += printed_table(res[table], lang).splitlines()
        return lines, record

    return run_tool(kind, call=call, summarize=summarize, inputs=inputs,
                    resolved=("scenario.resolved.yaml", resolved_yaml(base)), n_runs=particles, scenario=base,
                    executor=executor, workers=workers, address=address, out_dir=out_dir, save=save,
                    command=command)


def history_match_tool(scenario: Scenario | str | Path | None = None, *, particles: int = 100,
                       generations: int = 8, max_simulations: int = 1500, total_firms: int = 50_000,
                       start: str = "2020-12", seed: int = 0, counted: str = "above_scale",
                       out_dir: str | Path | None = None, save: bool = True,
                       progress: Callable[[str], None] | None = None, executor: ExecutorChoice = None,
                       workers: int | None = None, address: str | None = None, command: str | None = None,
                       labels: Mapping[str, str] | None = None,
                       lang: str | None = None) -> AnalysisRun:
    """``gdcloud history-match``: the ABC-SMC posterior of the model's rates given every published
    figure 2020-2025 (:func:`sim.analysis.history_match.history_match`), in a new results folder
    ``<out_dir>/history_match/<timestamp>-<hash>/`` (``posterior.csv``, ``generations.csv``,
    ``parameters.csv``, ``predictive.csv``, ``predictive.png``, ``settings.json``).

    Args:
        scenario: The policies as implemented (a scenario, file or shipped name; None:
            ``history`` if shipped, else ``baseline``; see :func:`record_base`).
        particles, generations, max_simulations: ABC-SMC settings.
        total_firms: Simulated firms (counts scaled to 2,000,000).
        start: Run start (YYYY-MM); figures at or before it are the initial state.
        seed: Root seed.
        counted: What the transformed tallies count: ``above_scale`` or ``with_sme_programmes``.
        out_dir: The results root (default: ``$GDCLOUD_RESULTS_DIR`` or ``results``).
        save: If False, nothing is written (``folder`` is None).
        progress: Callback of one-line progress messages (one per ABC generation).
        executor, workers, address: Where the model runs go (default: serially here;
            :func:`sim.runs.jobs.resolve_executor`).
        command: The command line recorded in the manifest.
        labels: Names of the arguments in errors (the command line passes its option names).
        lang: Language of the figures, ``"en"`` or ``"zh"`` (default: the scenario's
            ``outputs.lang``).

    Returns:
        An :class:`~sim.runs.rundir.AnalysisRun` whose ``result`` holds the
        :class:`~sim.analysis.history_match.MatchResult` under ``"match"``.

    Raises:
        ScenarioError: Bad input (nothing written). AnalysisFailed: The match stopped with an
            error (see :func:`sim.analysis.tools.run_tool`).
    """
    return record_tool("history_match", scenario, particles=particles, generations=generations,
                       max_simulations=max_simulations, total_firms=total_firms, start=start, seed=seed,
                       counted=counted, out_dir=out_dir, save=save, progress=progress, executor=executor,
                       workers=workers, address=address, command=command, labels=labels, lang=lang)


def backtest_tool(scenario: Scenario | str | Path | None = None, *,
                  origins: Sequence[str] = ("2021-12", "2023-09", "2025-06"), particles: int = 100,
                  generations: int = 8, max_simulations: int = 1500, total_firms: int = 50_000,
                  start: str = "2020-12", seed: int = 0, counted: str = "above_scale",
                  out_dir: str | Path | None = None, save: bool = True,
                  progress: Callable[[str], None] | None = None, executor: ExecutorChoice = None,
                  workers: int | None = None, address: str | None = None, command: str | None = None,
                  labels: Mapping[str, str] | None = None,
                  lang: str | None = None) -> AnalysisRun:
    """``gdcloud backtest``: a rolling-origin backtest: at each origin, a history match on the
    figures published by then scores the later ones (:mod:`sim.analysis.backtest`), in a new
    results folder ``<out_dir>/backtest/<timestamp>-<hash>/`` (``backtest.csv``,
    ``backtest_summary.csv``, ``generations_<origin>.csv``, ``fan_<origin>.png``, ``settings.json``).

    Args:
        scenario: As for :func:`history_match_tool`.
        origins: Forecast origins (YYYY-MM); at least one figure must be published between
            ``start`` and each.
        particles, generations, max_simulations, total_firms, start, seed, counted, out_dir, save,
            progress, executor, workers, address, command, labels, lang: As for
            :func:`history_match_tool`.

    Returns:
        An :class:`~sim.runs.rundir.AnalysisRun` whose ``result`` holds the summary table of the
        scores under ``"backtest_summary"``.

    Raises:
        ScenarioError: Bad input (nothing written). AnalysisFailed: as for :func:`history_match_tool`.
    """
    return record_tool("backtest", scenario, origins=origins, particles=particles, generations=generations,
                       max_simulations=max_simulations, total_firms=total_firms, start=start, seed=seed,
                       counted=counted, out_dir=out_dir, save=save, progress=progress, executor=executor,
                       workers=workers, address=address, command=command, labels=labels, lang=lang)


def evaluate_tool(scenario: Scenario | str | Path | None = None, *, instruments: str | Sequence[str] = "all",
                  particles: int = 100, generations: int = 8, max_simulations: int = 1500,
                  total_firms: int = 50_000, start: str = "2020-12", seed: int = 0,
                  counted: str = "above_scale", out_dir: str | Path | None = None, save: bool = True,
                  progress: Callable[[str], None] | None = None, executor: ExecutorChoice = None,
                  workers: int | None = None, address: str | None = None, command: str | None = None,
                  labels: Mapping[str, str] | None = None,
                  lang: str | None = None) -> AnalysisRun:
    """``gdcloud evaluate``: ex-post evaluation: a history match, then cloud firms at end-2025,
    what each instrument accounts for and the cost per firm (:func:`sim.analysis.evaluate.evaluate`),
    in a new results folder ``<out_dir>/evaluate/<timestamp>-<hash>/`` (the history match's files,
    ``goals.csv`` and, unless no instrument is named, ``instruments.csv`` and ``instruments.png``).

    Args:
        scenario: As for :func:`history_match_tool`.
        instruments: Instruments switched off one at a time in the paired runs: ``"all"``,
            ``"none"`` (only the goals at the end date), a comma-separated string or a sequence of
            names of :data:`sim.analysis.evaluate.INSTRUMENTS`.
        particles, generations, max_simulations, total_firms, start, seed, counted, out_dir, save,
            progress, executor, workers, address, command, labels, lang: As for
            :func:`history_match_tool`.

    Returns:
        An :class:`~sim.runs.rundir.AnalysisRun` whose ``result`` holds ``"match"``, ``"goals"``
        and ``"instruments"`` (tables).

    Raises:
        ScenarioError: Bad input (nothing written). AnalysisFailed: as for :func:`history_match_tool`.
    """
    return record_tool("evaluate", scenario, instruments=instruments, particles=particles,
                       generations=generations, max_simulations=max_simulations, total_firms=total_firms,
                       start=start, seed=seed, counted=counted, out_dir=out_dir, save=save, progress=progress,
                       executor=executor, workers=workers, address=address, command=command, labels=labels, lang=lang)
