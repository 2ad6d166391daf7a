"""Figures for the goal in doubt: progress of cities and clusters toward both goals, and scenario
comparisons per goal (paired differences with intervals, and goal probabilities).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, MaxNLocator, PercentFormatter

from sim import i18n
from sim.analysis.outcomes import goal_outcomes
from sim.analysis.progress import progress_table
from sim.analysis.summary import Z95
from sim.plots.common import AHEAD_COLOR, GOAL_COLOR, PALETTE, SIM_COLOR, set_title, thousands
from sim.scenario.schema import Goals

GOAL_KEYS: tuple[str, ...] = ("cloud", "transformed")
"""The two goals: firms on the cloud, above-scale firms transformed."""


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """95% Wilson score interval of a proportion (sensible at 0 and 1, unlike p +- 2 se)."""
    if n <= 0:
        return math.nan, math.nan
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def plot_group_progress(fig: Figure, ts: pd.DataFrame, goals: Goals, *, level: str = "city",
                        lang: str = "en", config=None) -> np.ndarray:
    """Progress of each city (or cluster) toward a proportional share of both goals.

    Two panels (cloud goal, transformation goal); one bar per group: the median over replicates
    of ``value / (goal x group share)`` with 10-90% whiskers; 100% = on track for its share.
    The label at each bar gives the share of the group's own firms on the cloud (left) and of its
    own above-scale firms transformed (right). Groups are sorted by cloud progress.

    Args:
        fig: An empty figure (about 12 x 8.5 inches for 21 cities).
        ts: Tidy time series of all replicates.
        goals: Goals at the population's scale.
        level: ``"city"`` or ``"cluster"``.
        lang: ``"en"`` or ``"zh"``.
        config: The scenario (for a ``population.cluster_shares`` override).

    Returns:
        The two axes.
    """
    tab = progress_table(ts, goals, level, config).sort_values("cloud_progress_median",
                                                               kind="stable")
    names = [i18n.group_name(level, g, lang) for g in tab["group"]]
    axes = fig.subplots(1, 2, sharey=True)
    y = np.arange(len(tab))
    for ax, key in zip(axes, GOAL_KEYS, strict=True):
        med = tab[f"{key}_progress_median"].to_numpy()
        lo, hi = tab[f"{key}_progress_p10"].to_numpy(), tab[f"{key}_progress_p90"].to_numpy()
        colors = np.where(med >= 1.0, AHEAD_COLOR, GOAL_COLOR)
        err = np.vstack([np.clip(med - lo, 0, None), np.clip(hi - med, 0, None)])
        ax.barh(y, med, color=colors, alpha=0.8, height=0.7, xerr=err,
                error_kw={"elinewidth": 1, "capsize": 2, "ecolor": "#333333"})
        ax.axvline(1.0, color="black", linewidth=1.0, linestyle="--")
        own = tab[f"{key}_share_of_firms_median" if key == "cloud"
                  else "transformed_share_of_above_scale_median"].to_numpy()
        top = float(np.nanmax(np.concatenate([hi, [1.0]])))
        for yi, (h, s) in enumerate(zip(hi, own, strict=True)):
            if np.isfinite(s):
                ax.text(max(h, 0) + 0.01 * top, yi, f"{s:.0%}", va="center", fontsize=7,
                        color="#444444")
        ax.set_xlim(0, top * 1.15)
        ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        set_title(ax, i18n.text(f"goal.{key}", lang), fontsize=10)
        ax.set_xlabel(i18n.text("progress_x", lang), fontsize=8.5)
        ax.grid(True, axis="x", alpha=0.3)
        ax.tick_params(labelsize=8)
    axes[0].set_yticks(y, names, fontsize=8.5 if level == "city" else 7.5)
    axes[0].set_ylim(-0.7, len(tab) - 0.3)
    level_name = i18n.text(f"level.{level}", lang)
    fig.suptitle(i18n.text("progress_title", lang, level=level_name, date=goals.date))
    return axes


def plot_goal_comparison(fig: Figure, ts_by_scenario: Mapping[str, pd.DataFrame],
                         differences: pd.DataFrame, goals: Goals, *, goal: str = "cloud",
                         lang: str = "en") -> np.ndarray:
    """One goal across scenarios: paired differences vs the reference, and goal probabilities.

    Left: for each scenario other than the reference, the paired difference of the goal's firm
    count at the goal date (replicate ``r`` vs replicate ``r`` of the reference): median (dot),
    10-90% of pairs (thick line) and the 95% CI of the mean (thin line with caps). Right: every
    scenario's probability of meeting the goal (share of replicates) with its 95% Wilson
    interval; the reference is drawn first.

    Args:
        fig: An empty figure.
        ts_by_scenario: Tidy time series per scenario label (first = reference).
        differences: :func:`sim.analysis.summary.paired_differences` of these scenarios.
        goals: Goals at the population's scale.
        goal: ``"cloud"`` or ``"transformed"``.
        lang: ``"en"`` or ``"zh"``.

    Returns:
        The two axes.
    """
    if goal not in GOAL_KEYS:
        raise ValueError(f"unknown goal {goal!r}; allowed: {', '.join(GOAL_KEYS)}")
    names = list(ts_by_scenario)
    reference = names[0]
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
    d = differences[differences["outcome"] == f"{goal}_firms"].set_index("scenario")
    others = [n for n in names[1:] if n in d.index]
    y = np.arange(len(others))[::-1]
    for yi, name in zip(y, others, strict=True):
        r = d.loc[name]
        color = PALETTE[(names.index(name)) % len(PALETTE)]
        left.plot([r["p10"], r["p90"]], [yi, yi], color=color, linewidth=6, alpha=0.35,
                  solid_capstyle="butt")
        if np.isfinite(r["ci_low"]):
            left.errorbar([r["mean"]], [yi], xerr=[[r["mean"] - r["ci_low"]], [r["ci_high"] - r["mean"]]],
                          fmt="none", ecolor="#222222", elinewidth=1.2, capsize=4)
        left.plot([r["median"]], [yi], marker="o", color=color, markersize=8)
    left.axvline(0, color="black", linewidth=0.8)
    left.set_yticks(y, [i18n.scenario_title(n, lang) for n in others])
    left.set_ylim(-0.8, max(len(others), 1) - 0.2)
    left.xaxis.set_major_locator(MaxNLocator(integer=True))
    left.xaxis.set_major_formatter(FuncFormatter(thousands))
    left.set_xlabel(i18n.text("diff_x", lang), fontsize=8.5)
    set_title(left, i18n.text("diff_title", lang, goal=i18n.text(f"goal.{goal}", lang),
                              reference=i18n.scenario_title(reference, lang), date=goals.date), fontsize=10)
    left.grid(True, axis="x", alpha=0.3)
    left.legend(handles=[
        Line2D([], [], marker="o", color="#555555", linestyle="none", label=i18n.text("paired_median", lang)),
        Line2D([], [], color="#555555", linewidth=6, alpha=0.35, label=i18n.text("paired_band", lang)),
        Line2D([], [], color="#222222", linewidth=1.2, marker="|", markersize=8, label=i18n.text("mean_ci", lang)),
    ], fontsize=7.5, loc="best", frameon=True, framealpha=0.9, edgecolor="none")

    yp = np.arange(len(names))[::-1]
    for yi, name in zip(yp, names, strict=True):
        met = goal_outcomes(ts_by_scenario[name], goals)[f"{goal}_goal_met"].to_numpy(dtype=bool)
        p = float(met.mean()) if met.size else math.nan
        lo, hi = wilson_interval(int(met.sum()), int(met.size))
        color = PALETTE[names.index(name) % len(PALETTE)]
        right.plot([lo, hi], [yi, yi], color=color, linewidth=2)
        right.plot([p], [yi], marker="o", color=color, markersize=8)
        right.text(1.02, yi, f"{p:.0%} (n={met.size})", va="center", fontsize=7.5,
                   transform=right.get_yaxis_transform())
    right.set_yticks(yp, [i18n.scenario_title(n, lang) for n in names])
    right.set_xlim(-0.02, 1.02)
    right.set_ylim(-0.8, len(names) - 0.2)
    right.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    right.set_xlabel(i18n.text("prob_x", lang), fontsize=8.5)
    set_title(right, i18n.text("prob_title", lang) + f" ({goals.date})", fontsize=10)
    right.grid(True, axis="x", alpha=0.3)
    right.axvline(0.5, color=SIM_COLOR, linewidth=0.6, linestyle=":")
    return np.array([left, right])
