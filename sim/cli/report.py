"""What ``gdcloud`` prints: run summaries, failed replicates, numbers, executors, progress."""

from __future__ import annotations

import argparse
import math
import sys

from sim import i18n
from sim.i18n.messages import error_line, translate


def print_error(message: object, lang: str = "en") -> None:
    """One ``error:`` line on stderr (``message`` an exception or text) in ``lang``."""
    print(error_line(message, lang), file=sys.stderr)


def argv_lang(argv: list[str]) -> str:
    """The language asked for on the command line (``--lang zh``, ``--lang=zh`` or
    ``--set outputs.lang=zh``; the last one given), else English: the language of the error lines
    of arguments that cannot be parsed or scenarios that cannot be loaded."""
    lang = "en"
    for i, arg in enumerate(argv):
        value = arg.split("=", 1)[1] if arg.startswith("--lang=") else (
            argv[i + 1] if arg == "--lang" and i + 1 < len(argv) else None)
        if arg.startswith("--set=outputs.lang=") or (
                arg == "--set" and i + 1 < len(argv) and argv[i + 1].startswith("outputs.lang=")):
            value = (arg if arg.startswith("--set=") else argv[i + 1]).rsplit("=", 1)[1]
        if value in i18n.LANGS:
            lang = value
    return lang


def _count_text(x: float, lang: str = "en") -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return i18n.text("line.na", lang)
    return f"{x:,.0f}"


def run_summary_lines(result) -> list[str]:
    """The short human summary printed after a run, in the scenario's ``outputs.lang``
    (every sentence is a ``line.*`` template of ``sim/i18n/terms.csv``)."""
    from sim.analysis.outcomes import scaled_goals
    from sim.core.population import population_scale
    from sim.core.uncertainty import has_uncertainty
    from sim.runs.results import goals_evaluated

    lang = result.scenario.outputs.lang
    lines = []
    m = result.manifest or {}
    n_plan = result.scenario.run.replicates
    n_done = len(result.replicates_done)
    wall = m.get("wall_time_s")
    wall_text = i18n.text("line.wall", lang, s=f"{wall:.1f}") if isinstance(wall, int | float) else ""
    lines.append(i18n.text("line.run_head", lang, name=i18n.scenario_title(result.name, lang), done=n_done, plan=n_plan,
                           failed=len(result.failures), wall=wall_text))
    if result.folder is not None:
        lines.append(i18n.text("line.results", lang, folder=result.folder))
    for note in m.get("notes", []):
        lines.append(i18n.text("line.note", lang, note=note))
    summ = result.summary
    if summ is None or summ.empty:
        return lines
    cfg, _ = goals_evaluated(result.scenario)
    goals = scaled_goals(cfg)
    rows = summ.set_index("outcome")
    year = goals.date[:4]
    scale = population_scale(result.scenario)
    scale_note = "" if scale == 1 else i18n.text("line.scaled", lang, scale=f"{scale:.4g}",
                                                 firms=f"{result.scenario.population.total_firms:,}")
    for key, goal in (("cloud", goals.cloud_firms), ("transformed", goals.transformed_firms)):
        val = rows.loc[f"{key}_firms_{year}"] if f"{key}_firms_{year}" in rows.index else None
        p = rows.loc[f"p_meet_{key}_goal"] if f"p_meet_{key}_goal" in rows.index else None
        when = rows.loc[f"month_{key}_goal_met"] if f"month_{key}_goal_met" in rows.index else None
        if val is None:
            continue
        label = i18n.text(f"line.label_{key}", lang)
        if n_done == 1:
            lines.append(i18n.text("line.value_one", lang, label=label, date=goals.date,
                                   value=_count_text(float(val["median"]), lang)))
        else:
            lines.append(i18n.text("line.value", lang, label=label, date=goals.date,
                                   value=_count_text(float(val["median"]), lang),
                                   lo=_count_text(float(val["p10"]), lang),
                                   hi=_count_text(float(val["p90"]), lang)))
        if p is None:
            continue
        month = (_month(when.get("median_month", when["median"])) or i18n.text("not_by", lang, month=goals.date)
                 if when is not None else i18n.text("line.na", lang))
        if n_done == 1:
            met = i18n.text("line.met" if float(p["mean"]) >= 1 else "line.not_met", lang)
            lines.append(i18n.text("line.goal_one", lang, goal=f"{goal:,}", scaled=scale_note, met=met,
                                   month=month))
        else:
            kind = "" if has_uncertainty(result.scenario) else i18n.text("line.stochastic_only", lang)
            lines.append(i18n.text("line.goal", lang, goal=f"{goal:,}", scaled=scale_note,
                                   p=f"{float(p['mean']):.2f}", n=n_done, kind=kind, month=month))
    return lines


def compare_header_lines(cmp) -> list[str]:
    """The lines printed after the scenarios' own summaries of a comparison: its folder and the
    heading of the paired differences, in the reference scenario's ``outputs.lang``."""
    lang = cmp.results[cmp.reference].scenario.outputs.lang if cmp.reference in cmp.results else "en"
    lines = []
    if cmp.folder is not None:
        lines.append(i18n.text("line.comparison", lang, folder=cmp.folder))
    if cmp.differences is not None and not cmp.differences.empty:
        lines.append(i18n.text("line.paired", lang, reference=i18n.scenario_title(cmp.reference, lang)))
        lines.extend(f"  {sentence}" for sentence in cmp.differences["sentence"])
    return lines


def _month(value: object) -> str:
    """``2024-07-31`` -> ``2024-07``; other text (e.g. ``not by 2025-12``) unchanged."""
    text = str(value)
    return text[:7] if len(text) == 10 and text[4] == "-" and text[7] == "-" else text


def print_failures(result) -> None:
    """The failed replicates of a run (and a figures error) on stderr, in the scenario's language."""
    lang = result.scenario.outputs.lang
    figures_error = (result.manifest or {}).get("figures_error")
    if figures_error:
        print(error_line(f"the figures could not be written: {figures_error}", lang), file=sys.stderr)
    print_failed_rows(result.failures, result.folder / "failures.csv" if result.folder else None, lang)


def print_failed_rows(failures, details, lang: str = "en", *, point: bool = False) -> None:
    """Up to five failed runs (``failures``: rows with replicate, error_type, message and, for a
    sweep, point) with where the rest are (``details``), on stderr in ``lang``."""
    if failures.empty:
        return
    n = len(failures)
    if point:
        where = details if details is not None else "failures"
        print(i18n.text("msg_line.runs_failed", lang, n=n, where=where), file=sys.stderr)
    else:
        where = i18n.text("msg_line.details_in", lang, where=details) if details is not None else ""
        print(i18n.text("msg_line.replicates_failed", lang, n=n, where=where), file=sys.stderr)
    for row in failures.head(5).itertuples():
        message = translate(str(row.message), lang)
        if point:
            print(i18n.text("msg_line.failed_point", lang, point=row.point, replicate=row.replicate,
                            error_type=row.error_type, message=message), file=sys.stderr)
        else:
            print(i18n.text("msg_line.failed_replicate", lang, replicate=row.replicate,
                            error_type=row.error_type, message=message), file=sys.stderr)
    if n > 5:
        print(i18n.text("msg_line.and_more", lang, n=n - 5), file=sys.stderr)


def progress_callbacks(args: argparse.Namespace):
    """(message callback, (done, total) callback) printing on stderr, or (None, None)."""
    show = args.progress if args.progress is not None else sys.stderr.isatty()
    if not show:
        return None, None

    def say(message: str) -> None:
        print(f"  {message}", file=sys.stderr, flush=True)

    def count(done: int, total: int) -> None:
        end = "\n" if done >= total else ""
        print(f"\r  {done}/{total}", end=end, file=sys.stderr, flush=True)

    return say, count
