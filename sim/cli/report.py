"""What ``gdcloud`` prints: run summaries, failed replicates, numbers, executors, progress."""

from __future__ import annotations

import argparse
import math
import sys


def print_error(message: str) -> None:
    print(f"error: {' '.join(str(message).split())}", file=sys.stderr)


def _count_text(x: float) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:,.0f}"


def run_summary_lines(result) -> list[str]:
    """The short human summary printed after a run."""
    from sim.analysis.outcomes import scaled_goals
    from sim.core.population import population_scale
    from sim.core.uncertainty import has_uncertainty
    from sim.runs.results import goals_evaluated

    lines = []
    m = result.manifest or {}
    n_plan = result.scenario.run.replicates
    n_done = len(result.replicates_done)
    wall = m.get("wall_time_s")
    lines.append(f"{result.name}: {n_done} of {n_plan} replicates done, {len(result.failures)} failed"
                 + (f", {wall:.1f} s" if isinstance(wall, int | float) else ""))
    if result.folder is not None:
        lines.append(f"  results: {result.folder}")
    for note in m.get("notes", []):
        lines.append(f"  note: {note}")
    summ = result.summary
    if summ is None or summ.empty:
        return lines
    cfg, _ = goals_evaluated(result.scenario)
    goals = scaled_goals(cfg)
    rows = summ.set_index("outcome")
    year = goals.date[:4]
    scale = population_scale(result.scenario)
    scale_note = "" if scale == 1 else f" (scaled x{scale:.4g} to {result.scenario.population.total_firms:,} firms)"
    for key, label, goal in (("cloud", "firms on the cloud", goals.cloud_firms),
                             ("transformed", "above-scale firms transformed", goals.transformed_firms)):
        val = rows.loc[f"{key}_firms_{year}"] if f"{key}_firms_{year}" in rows.index else None
        p = rows.loc[f"p_meet_{key}_goal"] if f"p_meet_{key}_goal" in rows.index else None
        when = rows.loc[f"month_{key}_goal_met"] if f"month_{key}_goal_met" in rows.index else None
        if val is None:
            continue
        if n_done == 1:
            lines.append(f"  {label} at {goals.date}: {_count_text(float(val['median']))} (one replicate: no spread)")
        else:
            lines.append(f"  {label} at {goals.date}: median {_count_text(float(val['median']))} "
                         f"(10-90%: {_count_text(float(val['p10']))} to {_count_text(float(val['p90']))})")
        if p is None:
            continue
        month = (_month(when.get("median_month", when["median"])) or f"not by {goals.date}"
                 if when is not None else "n/a")
        if n_done == 1:
            met = "met" if float(p["mean"]) >= 1 else "not met"
            lines.append(f"    goal {goal:,}{scale_note}: {met}; first reached: {month}")
        else:
            kind = "" if has_uncertainty(result.scenario) else ", stochastic-only: no parametric uncertainty"
            lines.append(f"    goal {goal:,}{scale_note}: probability met {float(p['mean']):.2f} "
                         f"(of {n_done} replicates{kind}); first reached (median): {month}")
    return lines


def _month(value: object) -> str:
    """``2024-07-31`` -> ``2024-07``; other text (e.g. ``not by 2025-12``) unchanged."""
    text = str(value)
    return text[:7] if len(text) == 10 and text[4] == "-" and text[7] == "-" else text


def print_failures(result) -> None:
    figures_error = (result.manifest or {}).get("figures_error")
    if figures_error:
        print(f"error: the figures could not be written: {figures_error}", file=sys.stderr)
    f = result.failures
    if f.empty:
        return
    where = f" (details in {result.folder / 'failures.csv'})" if result.folder else ""
    print(f"  {len(f)} replicate(s) failed{where}:", file=sys.stderr)
    for row in f.head(5).itertuples():
        print(f"    replicate {row.replicate}: {row.error_type}: {row.message}", file=sys.stderr)
    if len(f) > 5:
        print(f"    ... and {len(f) - 5} more", file=sys.stderr)


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
