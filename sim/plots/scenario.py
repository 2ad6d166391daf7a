"""Figures of a scenario: provincial paths against the goals, clusters, city gaps, comparisons.

Every drawing function takes the matplotlib ``Axes`` (or ``Figure``) to draw into and returns
it, so notebooks can place the plots in their own layouts. :func:`write_figures` builds its own
``matplotlib.figure.Figure`` objects (no pyplot state, safe in worker processes and without a
display) and writes PNGs atomically.

Lines are medians over replicates; shaded bands span the 10th to 90th percentiles.
"""

from __future__ import annotations

import os
import re
import textwrap
from collections.abc import Mapping
from pathlib import Path

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter, PercentFormatter

from sim import datasets
from sim.analysis import observation
from sim.analysis.outcomes import scaled_goals
from sim.analysis.summary import bands, group_gaps
from sim.core.outputs import select
from sim.core.population import population_scale
from sim.fileio import save_figure
from sim.scenario.schema import Goals, Scenario

METRIC_TITLE: dict[str, str] = {
    "cloud_cumulative": "Firms on the cloud (cumulative), Guangdong",
    "cloud_active": "Firms on the cloud now (net of churn), Guangdong",
    "transformed": "Above-scale industrial firms digitally transformed, Guangdong",
    "n_firms": "Firms in the population, Guangdong",
    "waiting": "Firms waiting for a cloud service provider, Guangdong",
}

SIM_COLOR = "#1f5fa8"
GOAL_COLOR = "#c0392b"
REPORTED_COLOR = "#222222"
PALETTE = ("#1f5fa8", "#e67e22", "#27ae60", "#8e44ad", "#7f8c8d", "#c71585", "#17becf",
           "#8c564b", "#bcbd22", "#000000")

_CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")
_DATE_IN_PARENS = re.compile(r"\((\d{4}-\d{2}(?:-\d{2})?)\)")


# --------------------------------------------------------------------------- helpers


def thousands(x: float, _pos: object = None) -> str:
    """Tick label with thousands separators (``1,000,000``)."""
    return f"{x:,.0f}".replace("-", "\u2212")


def _dates(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values.astype(str))


def _format_time_axis(ax: Axes, *, labelsize: float | None = None) -> None:
    """Year boundaries as ticks, year labels centred on each year (call after plotting).

    Month-end points sit just before a year boundary (2025-12-31), so labelling the boundary
    ticks would put the end of 2025 under "2026". Fixed locators are used because the
    rrule-based date locators are slow when many panels are laid out.
    """
    lo, hi = ax.dataLim.intervalx
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return
    y0, y1 = mdates.num2date(lo).year, mdates.num2date(hi).year + 1
    bounds = [mdates.date2num(pd.Timestamp(y, 1, 1)) for y in range(y0, y1 + 1)]
    mids = [mdates.date2num(pd.Timestamp(y, 7, 1)) for y in range(y0, y1 + 1)]
    ax.xaxis.set_major_locator(FixedLocator(bounds))
    ax.xaxis.set_major_formatter(NullFormatter())
    ax.xaxis.set_minor_locator(FixedLocator(mids))
    labels = {m: str(y) for m, y in zip(mids, range(y0, y1 + 1), strict=True)}
    ax.xaxis.set_minor_formatter(FuncFormatter(lambda x, _pos: labels.get(x, "")))
    ax.tick_params(axis="x", which="major", length=6)
    ax.tick_params(axis="x", which="minor", length=0)
    if labelsize is not None:
        ax.tick_params(axis="x", which="minor", labelsize=labelsize)


def _band_frame(rows: pd.DataFrame, metric: str, by: list[str]) -> pd.DataFrame:
    b = bands(rows, metrics=[metric], by=by)
    b["t"] = _dates(b["date"])
    return b.sort_values("t", kind="stable")


def _draw_band(ax: Axes, b: pd.DataFrame, *, color: str, label: str | None,
               band_label: str | None) -> None:
    ax.fill_between(b["t"], b["p10"], b["p90"], color=color, alpha=0.22, linewidth=0,
                    label=band_label)
    ax.plot(b["t"], b["median"], color=color, linewidth=2.0, label=label)


def _goal_timestamp(goals: Goals) -> pd.Timestamp:
    return pd.Period(goals.date, freq="M").to_timestamp(how="end").normalize()


def _draw_goal(ax: Axes, goals: Goals, value: float, what: str) -> None:
    t = _goal_timestamp(goals)
    ax.axhline(value, color=GOAL_COLOR, linestyle="--", linewidth=1.2, zorder=1)
    ax.plot([t], [value], marker="*", markersize=13, color=GOAL_COLOR, linestyle="none",
            zorder=4, label=f"Goal: {value:,.0f} {what} by {goals.date}")


def short_source(source: str) -> str:
    """A source citation shortened to ASCII-renderable text for a footnote.

    Segments written in Chinese are dropped (the default fonts cannot draw them); of the rest,
    the first clause and a date in parentheses are kept, e.g. ``"Xinhua, China's ...
    (2021-04-05)"`` -> ``"Xinhua (2021-04-05)"``.
    """
    parts = [p.strip() for p in source.split(";")]
    latin = [p for p in parts if p and not _CJK.search(p)]
    if not latin:
        m = _DATE_IN_PARENS.search(source)
        return f"official document ({m.group(1)})" if m else "official document"
    p = latin[0]
    head = p.split(",")[0].strip()
    m = _DATE_IN_PARENS.search(p)
    if m and m.group(0) not in head:
        head = f"{head} ({m.group(1)})"
    return head


FIGURE_STYLE: dict[str, tuple[str, str, str]] = {
    "exact": ("o", REPORTED_COLOR, "Reported (rounding interval)"),
    "date_window": ("o", REPORTED_COLOR, "Reported, date approximate (window)"),
    "lower_bound": ("^", REPORTED_COLOR, "Reported lower bound ('more than')"),
    "stale": ("^", "white", "Repeated / stale headline (no evidence)"),
}
"""Marker, face colour and legend label of each :attr:`sim.analysis.observation.Figure.marker`."""


def draw_figures(ax: Axes, metric: str, *, scale: float = 1.0, notes: list[str] | None = None) -> list[float]:
    """Mark the published figures of ``metric`` by their observation rule; return their values.

    Exact figures are filled circles with their rounding interval, lower bounds filled triangles
    up, repeated or stale headlines hollow triangles, figures with an approximate date circles
    with a horizontal bar over their date window (:mod:`sim.analysis.observation`).
    """
    figs = [f for f in observation.figures() if f.metric == metric and f.marker != "none"]
    seen: set[str] = set()
    for f in figs:
        shape, face, text = FIGURE_STYLE[f.marker]
        t = pd.Timestamp(f.date)
        v = float(f.value) * scale  # type: ignore[arg-type]
        kw: dict[str, object] = {}
        if f.marker == "date_window":
            t0 = pd.Timestamp(f"{f.first_month}-01")
            t1 = pd.Timestamp(f"{f.last_month}-01") + pd.offsets.MonthEnd(0)
            kw["xerr"] = [[t - t0], [t1 - t]]
        elif f.marker == "exact":
            kw["yerr"] = [[v - f.lower * scale], [f.upper * scale - v]]
        ax.errorbar([t], [v], fmt=shape, markersize=7, markerfacecolor=face, markeredgecolor=REPORTED_COLOR,
                    markeredgewidth=1.5, ecolor=REPORTED_COLOR, capsize=3, zorder=5,
                    label=None if f.marker in seen else text, **kw)
        seen.add(f.marker)
    if figs and notes is not None:
        srcs = list(dict.fromkeys(short_source(f.source) for f in figs))
        notes.append("Reported: " + "; ".join(srcs) + ".")
    return [float(f.value) * scale for f in figs]  # type: ignore[arg-type]


def _footnote(ax: Axes, text: str) -> None:
    ax.annotate(textwrap.fill(text, 130), xy=(0.0, 0.0), xycoords="axes fraction",
                xytext=(0, -34), textcoords="offset points", ha="left", va="top",
                fontsize=7, color="#444444")


# --------------------------------------------------------------------------- provincial


def plot_provincial(ax: Axes, ts: pd.DataFrame, goals: Goals, *, metric: str = "cloud_cumulative",
                    reported: bool = True, label: str | None = None, scale: float = 1.0) -> Axes:
    """Provincial path of one metric: median and 10-90% band, goal, reported figures.

    Args:
        ax: Axes to draw into.
        ts: Tidy time series of one or more replicates.
        goals: Goals at the population's scale (:func:`sim.analysis.outcomes.scaled_goals`).
        metric: Column to plot (``cloud_cumulative`` or ``transformed`` have a goal and
            reported figures).
        reported: Mark the reported figures of ``progress_reported.csv`` with their sources.
        label: Legend label of the median line (default: "Simulated median (n replicates)").
        scale: Population scale (``total_firms / 2,000,000``); reported figures are multiplied
            by it so that they compare with a scaled-down run.

    Returns:
        The axes.
    """
    prov = select(ts, "province")
    n_rep = prov["replicate"].nunique()
    b = _band_frame(prov, metric, ["date"])
    _draw_band(ax, b, color=SIM_COLOR,
               label=label or (f"Simulated median ({n_rep} replicates)" if n_rep > 1
                               else "Simulated (1 replicate)"),
               band_label="10\u201390% of replicates" if n_rep > 1 else None)
    goal_value = {"cloud_cumulative": goals.cloud_firms, "transformed": goals.transformed_firms}.get(metric)
    if goal_value is not None:
        _draw_goal(ax, goals, goal_value, "firms")
    notes = []
    tops: list[float] = []
    if reported:
        tops.extend(draw_figures(ax, metric, scale=scale, notes=notes))
    if scale != 1.0:
        notes.append(f"Goal and reported figures scaled \u00d7{scale:.4g} to the simulated population "
                     f"(total_firms / 2,000,000).")
    if notes:
        _footnote(ax, " ".join(notes))
    ax.set_title(METRIC_TITLE.get(metric, metric))
    _finish_firms_axes(ax, [b["p90"].max(), goal_value or 0.0, *tops])
    ax.legend(loc="lower right", fontsize=8, frameon=True, framealpha=0.9, edgecolor="none")
    return ax


def _finish_firms_axes(ax: Axes, tops: list[float]) -> None:
    ax.set_xlabel("Month end")
    ax.set_ylabel("Firms")
    ax.yaxis.set_major_formatter(FuncFormatter(thousands))
    top = float(np.nanmax(np.asarray(tops, dtype=float))) if tops else 0.0
    ax.set_ylim(0, top * 1.12 if top > 0 else 1.0)
    _format_time_axis(ax)
    ax.grid(True, axis="y", alpha=0.3)


def plot_transformed(ax: Axes, ts: pd.DataFrame, goals: Goals, *, reported: bool = True,
                     label: str | None = None, scale: float = 1.0) -> Axes:
    """Transformed above-scale firms against their goal (see :func:`plot_provincial`)."""
    return plot_provincial(ax, ts, goals, metric="transformed", reported=reported, label=label,
                           scale=scale)


# --------------------------------------------------------------------------- clusters and cities


def plot_clusters(fig: Figure, ts: pd.DataFrame, *, goals: Goals | None = None) -> np.ndarray:
    """Cloud-adoption share of each of the 20 clusters, one small panel each (5 rows x 4).

    Args:
        fig: Figure to draw into (it should be empty; about 11 x 12 inches reads well).
        ts: Tidy time series with the cluster marginal rows.
        goals: If given, a dashed line marks the provincial share the cloud goal implies
            (goal / median firms at the goal date).

    Returns:
        The 5 x 4 array of axes.
    """
    rows = select(ts, "cluster").copy()
    rows["cloud_share"] = rows["cloud_cumulative"] / rows["n_firms"].where(rows["n_firms"] > 0)
    b = _band_frame(rows, "cloud_share", ["date", "cluster"])
    # Same limits on every panel, set by hand: shared axes make the layout very slow.
    axes = fig.subplots(5, 4, squeeze=False)
    needed = None
    if goals is not None:
        prov = select(ts, "province")
        at = prov[prov["date"].astype(str).str[:7] == goals.date]
        if not at.empty:
            needed = goals.cloud_firms / float(at["n_firms"].median())
    top = max(float(b["p90"].max()) if len(b) else 0.0, needed or 0.0)
    ylim = (0.0, min(1.0, top * 1.08) if top > 0 else 1.0)
    t0, t1 = b["t"].min(), b["t"].max()
    pad = (t1 - t0) * 0.03
    names = {c.cluster_id: c.name_en for c in datasets.clusters()}
    for (i, j), cid in zip(np.ndindex(axes.shape), datasets.cluster_ids(), strict=True):
        ax = axes[i, j]
        sub = b[b["cluster"] == cid]
        _draw_band(ax, sub, color=SIM_COLOR, label="Median", band_label="10\u201390% of replicates")
        if needed is not None:
            ax.axhline(needed, color=GOAL_COLOR, linestyle="--", linewidth=1.0,
                       label="Provincial share the goal implies")
        ax.set_title(textwrap.fill(names.get(cid, cid), 30), fontsize=8.5)
        ax.set_ylim(*ylim)
        ax.set_xlim(t0 - pad, t1 + pad)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        ax.grid(True, axis="y", alpha=0.3)
        ax.tick_params(labelsize=8)
        _format_time_axis(ax, labelsize=7)
        if j > 0:
            ax.tick_params(axis="y", labelleft=False)
        else:
            ax.set_ylabel("Share on cloud", fontsize=8)
        if i < axes.shape[0] - 1:
            ax.tick_params(axis="x", which="both", labelbottom=False)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=len(labels), frameon=False, fontsize=9)
    fig.suptitle("Share of firms on the cloud (cumulative) by strategic cluster")
    return axes


def plot_city_gap(ax: Axes, ts: pd.DataFrame, goals: Goals) -> Axes:
    """Each city's shortfall against a proportional share of the cloud goal at the goal date.

    The proportional share is ``goal x city's share of firms``; bars are medians over
    replicates with 10-90% whiskers; positive = short of the share (red), negative = ahead.

    Args:
        ax: Axes to draw into (about 8 x 7 inches for 21 cities).
        ts: Tidy time series with the city marginal rows.
        goals: Goals at the population's scale.

    Returns:
        The axes.
    """
    gg = group_gaps(ts, goals, "city")
    st = gg.groupby("group", sort=False)["gap"].agg(
        median="median", p10=lambda s: s.quantile(0.1), p90=lambda s: s.quantile(0.9))
    st = st.sort_values("median", kind="stable")
    y = np.arange(len(st))
    colors = np.where(st["median"] > 0, GOAL_COLOR, "#2e8b57")
    err = np.vstack([st["median"] - st["p10"], st["p90"] - st["median"]])
    show_err = bool(np.any(err > 0))
    ax.barh(y, st["median"], color=colors, alpha=0.85, height=0.7,
            xerr=err if show_err else None, error_kw={"elinewidth": 1, "capsize": 2, "ecolor": "#333333"})
    ax.set_yticks(y, st.index.tolist(), fontsize=9)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.xaxis.set_major_formatter(FuncFormatter(thousands))
    ax.set_xlabel("Firms short of the city's proportional share of the goal (negative = ahead)")
    ax.set_title(f"Cities: gap to a proportional share of the {goals.cloud_firms:,}-firm cloud goal "
                 f"at {goals.date}\nbars: median over replicates; whiskers: 10\u201390%",
                 fontsize=11)
    ax.grid(True, axis="x", alpha=0.3)
    vals = np.concatenate([st["p10"], st["p90"], st["median"], [0.0]])
    lo, hi = float(np.nanmin(vals)), float(np.nanmax(vals))
    pad = 0.08 * (hi - lo) if hi > lo else 1.0
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_ylim(-0.7, len(st) - 0.3)
    ax.tick_params(axis="x", labelsize=8)
    return ax


# --------------------------------------------------------------------------- scenarios


def plot_compare(ax: Axes, ts_by_scenario: Mapping[str, pd.DataFrame], goals: Goals,
                 metric: str = "cloud_cumulative") -> Axes:
    """Several scenarios on one chart: median line and 10-90% band each, and the goal.

    Args:
        ax: Axes to draw into.
        ts_by_scenario: Tidy time series per scenario name (drawn in the given order).
        goals: Goals at the population's scale.
        metric: Column to plot.

    Returns:
        The axes.
    """
    tops: list[float] = []
    for i, (name, ts) in enumerate(ts_by_scenario.items()):
        b = _band_frame(select(ts, "province"), metric, ["date"])
        _draw_band(ax, b, color=PALETTE[i % len(PALETTE)], label=name, band_label=None)
        tops.append(float(b["p90"].max()))
    goal_value = {"cloud_cumulative": goals.cloud_firms, "transformed": goals.transformed_firms}.get(metric)
    if goal_value is not None:
        _draw_goal(ax, goals, goal_value, "firms")
        tops.append(float(goal_value))
    ax.set_title(METRIC_TITLE.get(metric, metric) + ": scenarios")
    _finish_firms_axes(ax, tops)
    ax.legend(loc="lower right", fontsize=8, frameon=True, framealpha=0.9, edgecolor="none",
              title="Median and 10\u201390% band", title_fontsize=8)
    return ax


# --------------------------------------------------------------------------- files


def write_figures(folder: str | os.PathLike[str], ts: pd.DataFrame, config: Scenario, *,
                  compare: Mapping[str, pd.DataFrame] | None = None) -> list[Path]:
    """Write the report figures of a scenario as PNGs (150 dpi), each atomically.

    Files: ``provincial_cloud.png``, ``provincial_transformed.png``, ``clusters.png``,
    ``city_gap.png`` and, if ``compare`` is given, ``compare.png``. Goals and reported figures
    are scaled to the population (:func:`sim.analysis.outcomes.scaled_goals`).

    Args:
        folder: Output folder (created if missing).
        ts: Tidy time series of all replicates of the scenario.
        config: The scenario.
        compare: Optional tidy time series per scenario name for the comparison chart.

    Returns:
        The paths written, in the order above.
    """
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    goals = scaled_goals(config)
    scale = population_scale(config)
    written: list[Path] = []

    def emit(name: str, fig: Figure) -> None:
        path = out / name
        try:
            save_figure(fig, path)
        finally:
            fig.clear()
        written.append(path)

    fig = Figure(figsize=(9, 5.5), layout="constrained")
    plot_provincial(fig.add_subplot(), ts, goals, scale=scale)
    emit("provincial_cloud.png", fig)

    fig = Figure(figsize=(9, 5.5), layout="constrained")
    plot_transformed(fig.add_subplot(), ts, goals, scale=scale)
    emit("provincial_transformed.png", fig)

    fig = Figure(figsize=(11, 13), layout="constrained")
    plot_clusters(fig, ts, goals=goals)
    emit("clusters.png", fig)

    fig = Figure(figsize=(9, 7), layout="constrained")
    plot_city_gap(fig.add_subplot(), ts, goals)
    emit("city_gap.png", fig)

    if compare:
        fig = Figure(figsize=(9, 5.5), layout="constrained")
        plot_compare(fig.add_subplot(), compare, goals)
        emit("compare.png", fig)
    return written
