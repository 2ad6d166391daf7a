"""The further goals of a scenario (``goals.more``) in figures.

Count goals (``cloud_firms``, ``transformed_firms``) are marked on the provincial figures
(:func:`more_goal_points`, :func:`draw_more_goals`), and every listed goal, rates and 12-month
flows included, gets a panel in ``goals_more.png`` (:func:`plot_more_goals`): the path of its
indicator (median and 10-90% band over replicates), the goal at its month, and the share of
replicates meeting it. Counts are at the simulated population's scale and goals are scaled by
the one goal rule (:func:`sim.analysis.goal_list.scaled_count`), as in every run figure.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, PercentFormatter

from sim import i18n
from sim.analysis.goal_list import goal_label, indicator_paths, listed_goal_outcomes, scaled_count
from sim.plots.common import GOAL_COLOR, SIM_COLOR, format_time_axis, set_title, thousands
from sim.plots.goals import wilson_interval
from sim.scenario.schema import GOAL_RATES, Goal, Scenario

METRIC_OF: dict[str, str] = {"cloud_firms": "cloud_cumulative", "transformed_firms": "transformed"}
"""Count indicators of ``goals.more`` and the provincial metric they are drawn on."""

MAX_PANELS = 12
"""Panels of ``goals_more.png`` (further goals beyond this are in the tables only)."""


def _month_end(date: str) -> pd.Timestamp:
    return pd.Period(date, freq="M").to_timestamp(how="end").normalize()


def more_goal_points(config: Scenario, metric: str, dates: pd.Series) -> list[tuple[pd.Timestamp, float, Goal]]:
    """The count goals of ``goals.more`` on ``metric`` due inside the run: (month end, goal at the
    population's scale, goal)."""
    months = {str(d)[:7] for d in dates}
    n = config.population.total_firms
    return [(_month_end(g.date), float(scaled_count(g.value, n)), g) for g in config.goals.more
            if METRIC_OF.get(g.indicator) == metric and g.date in months]


def draw_more_goals(ax: Axes, points: list[tuple[pd.Timestamp, float, Goal]], lang: str = "en") -> list[float]:
    """Mark further goals as hollow diamonds with a short dashed level; return their values."""
    for t, value, g in points:
        ax.plot([t - pd.DateOffset(months=9), t], [value, value], color=GOAL_COLOR, linestyle=":",
                linewidth=1.0, zorder=1)
        ax.plot([t], [value], marker="D", markersize=8, markerfacecolor="white", markeredgecolor=GOAL_COLOR,
                markeredgewidth=1.6, linestyle="none", zorder=4,
                label=i18n.text("more_goal_marker", lang, value=i18n.format_count(value), date=g.date))
    return [v for _, v, _ in points]


def plot_more_goals(fig: Figure, ts: pd.DataFrame, config: Scenario, *, lang: str = "en") -> list[Axes]:
    """One panel per goal of ``goals.more`` (at most :data:`MAX_PANELS`).

    Args:
        fig: An empty figure.
        ts: Tidy time series of all replicates.
        config: The scenario (its goals and population size).
        lang: ``"en"`` or ``"zh"``.

    Returns:
        The panels drawn.
    """
    goals = list(config.goals.more)[:MAX_PANELS]
    if not goals:
        return []
    ncols = min(3, len(goals))
    nrows = -(-len(goals) // ncols)
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    outcomes = listed_goal_outcomes(ts, config)
    for ax, g in zip(axes, goals, strict=False):
        _panel(ax, ts, config, g, outcomes[outcomes["goal"] == goal_label(g)], lang)
    for ax in axes[len(goals):]:
        ax.set_visible(False)
    return list(axes[:len(goals)])


def _panel(ax: Axes, ts: pd.DataFrame, config: Scenario, g: Goal, outcome: pd.DataFrame, lang: str) -> None:
    rate = g.indicator in GOAL_RATES
    paths = indicator_paths(ts, config, g).dropna(subset=["value"])
    if len(paths):
        q = paths.groupby("date", sort=True)["value"].quantile([0.1, 0.5, 0.9]).unstack()
        t = [_month_end(d) for d in q.index]
        ax.fill_between(t, q[0.1], q[0.9], color=SIM_COLOR, alpha=0.22, linewidth=0,
                        label=i18n.text("band", lang))
        ax.plot(t, q[0.5], color=SIM_COLOR, linewidth=2.0, label=i18n.text("median", lang))
    target = float(outcome["target"].iloc[0]) if len(outcome) else (
        g.value if rate else float(scaled_count(g.value, config.population.total_firms)))
    ax.axhline(target, color=GOAL_COLOR, linestyle="--", linewidth=1.0, zorder=1)
    ax.plot([_month_end(g.date)], [target], marker="*", markersize=13, color=GOAL_COLOR, linestyle="none",
            zorder=4, label=i18n.text("goal_short", lang, value=i18n.goal_value_text(g.indicator, target, lang),
                                      date=g.date))
    met = outcome["met"].dropna().astype(bool).to_numpy()
    if met.size:
        lo, hi = wilson_interval(int(met.sum()), int(met.size))
        text = i18n.text("more_goal_p", lang, p=f"{met.mean():.0%}", lo=f"{lo:.0%}", hi=f"{hi:.0%}", n=met.size)
    else:
        text = i18n.text("more_goal_outside", lang)
    ax.text(0.02, 0.97, text, transform=ax.transAxes, va="top", fontsize=8,
            bbox={"facecolor": "white", "alpha": 0.85, "edgecolor": "none"})
    set_title(ax, i18n.text("more_goal_title", lang, indicator=i18n.indicator_name(g.indicator, lang),
                            value=i18n.goal_value_text(g.indicator, g.value, lang), date=g.date), fontsize=9.5)
    if rate:
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        ax.set_ylabel(i18n.text("share_axis", lang), fontsize=8.5)
    else:
        ax.yaxis.set_major_formatter(FuncFormatter(thousands))
        ax.set_ylabel(i18n.text("firms_axis", lang), fontsize=8.5)
    top = max(float(paths["value"].max()) if len(paths) else 0.0, target)
    ax.set_ylim(0, top * 1.15 if top > 0 else 1.0)
    ax.set_xlabel(i18n.text("month_end", lang), fontsize=8.5)
    format_time_axis(ax, labelsize=7.5)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=7, loc="lower right", frameon=True, framealpha=0.9, edgecolor="none")
