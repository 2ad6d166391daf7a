"""The figure of a sweep (``figures/sweep.png``): P(goal met) against one parameter, or the first two
parameters coloured by the median cloud firms."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sim import i18n
from sim.analysis.sweep_plan import SweepPlan
from sim.analysis.sweep_spec import value_text
from sim.fileio import save_figure
from sim.i18n.header import figure_header, plain_numbers
from sim.scenario.labels import parameter_axis, parameter_label


def _category(value: object, lang: str) -> str:
    """A category tick: a switch as on/off (开启/关闭), a choice of the schema, a cluster or a city
    by its name, else the value as the sweep file writes it."""
    if isinstance(value, bool | np.bool_):
        return i18n.text("value.true" if value else "value.false", lang)
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return i18n.text("value.null", lang)
    if isinstance(value, str):  # a choice of the schema (top_up, park ...), a cluster or a city
        name = i18n.term_or("value", value, lang)
        name = name if name != value else i18n.cluster_name(value, lang)
        return name if name != value else i18n.city_name(value, lang)
    return value_text(value)


def _axis(values: pd.Series, lang: str = "en") -> tuple[np.ndarray, list[str] | None]:
    """Numeric positions of a parameter column, and tick labels if it is not numeric."""
    try:
        if values.isna().any() or values.map(lambda v: isinstance(v, bool | np.bool_)).any():
            raise TypeError
        return values.astype(np.float64).to_numpy(), None
    except (TypeError, ValueError):
        text = values.map(lambda v: _category(v, lang))
        cats = list(dict.fromkeys(text))
        return np.array([cats.index(t) for t in text], dtype=np.float64), cats


def plot_sweep(plan: SweepPlan, summary: pd.DataFrame, path: Path) -> Path:
    """Write ``figures/sweep.png``: P(goal) against one parameter, or the first two parameters
    coloured by the median cloud firms at the goal date."""
    from matplotlib.figure import Figure


    path.parent.mkdir(parents=True, exist_ok=True)
    base, lang = plan.base, plan.base.outputs.lang
    done = summary[summary.n_replicates > 0]
    fig = Figure(figsize=(8, 5.5), layout="constrained")
    ax = fig.add_subplot()
    reps = i18n.text("sweep.reps", lang, n=plan.replicates)
    if len(plan.parameters) == 1:
        from sim.analysis.questions import binomial_interval

        p = plan.parameters[0]
        x, ticks = _axis(done[p], lang)
        order = np.argsort(x, kind="stable")
        for goal, col, color in (("cloud", "p_meet_cloud_goal", "C0"), ("transformed", "p_meet_transformed_goal", "C1")):
            y = done[col].to_numpy(dtype=np.float64)
            n = done.n_replicates.to_numpy()
            ci = np.array([binomial_interval(int(round(pi * ni)), int(ni)) for pi, ni in zip(y, n, strict=True)])
            ax.errorbar(x[order], y[order], yerr=[y[order] - ci[order, 0], ci[order, 1] - y[order]],
                        marker="o", capsize=3, color=color,
                        label=i18n.text("sweep.goal_ci", lang, goal=i18n.text(f"goal.{goal}", lang)))
        if ticks is not None:
            ax.set_xticks(range(len(ticks)), ticks)
            ax.set_xlabel(parameter_label(p, lang))
        else:
            parameter_axis(ax.xaxis, p, x, lang)
        ax.set_ylabel(i18n.text("wit.share", lang))
        ax.set_ylim(-0.05, 1.05)
        ax.legend(fontsize=8)
        ax.set_title(i18n.text("sweep.p_title", lang, reps=reps), fontsize=10)
    else:
        px, py = plan.parameters[:2]
        x, xt = _axis(done[px], lang)
        y, yt = _axis(done[py], lang)
        c = done.cloud_firms_median.to_numpy(dtype=np.float64)
        sc = ax.scatter(x, y, c=c, cmap="viridis", s=180 if len(done) <= 100 else 40, marker="s",
                        edgecolors="0.3", linewidths=0.5)
        cb = fig.colorbar(sc, ax=ax)
        plain_numbers(cb.ax.yaxis)
        goal = done.cloud_goal.iloc[0] if len(done) else float("nan")
        cb.set_label(i18n.text("sweep.colorbar", lang, goal=i18n.format_count(goal, lang)))
        if len(done) <= 60:
            for xi, yi, pc, pt in zip(x, y, done.p_meet_cloud_goal, done.p_meet_transformed_goal, strict=True):
                ax.annotate(f"{pc:.2f} / {pt:.2f}", (xi, yi), textcoords="offset points", xytext=(0, 9),
                            ha="center", fontsize=7)
        for axis, key, pos, ticks in ((ax.xaxis, px, x, xt), (ax.yaxis, py, y, yt)):
            if ticks is not None:
                axis.set_ticks(range(len(ticks)), ticks)
                axis.set_label_text(parameter_label(key, lang))
            else:
                parameter_axis(axis, key, pos, lang)
        more = i18n.text("sweep.more", lang) if len(plan.parameters) > 2 else ""
        numbers = i18n.text("sweep.numbers", lang) if len(done) <= 60 else ""
        ax.set_title(i18n.text("sweep.map_title", lang, reps=reps, numbers=numbers, more=more), fontsize=9)
        ax.margins(0.08)
    note = i18n.text("analysis_note", lang, points=len(done), n=plan.replicates,
                     runs=len(done) * plan.replicates)
    figure_header(fig, base.name, base.population.total_firms, plan.replicates, lang, note=note)
    try:
        save_figure(fig, path)
    finally:
        fig.clear()
    return path
