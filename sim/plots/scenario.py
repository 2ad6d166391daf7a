"""Figures of a scenario: provincial paths against the goals, clusters, city gaps, comparisons.

Every drawing function takes the matplotlib ``Axes`` (or ``Figure``) to draw into and returns
it, so notebooks can place the plots in their own layouts, and a ``lang`` argument (``"en"`` or
``"zh"``, :mod:`sim.i18n`). :func:`write_figures` builds its own ``matplotlib.figure.Figure``
objects (no pyplot state, safe in worker processes and without a display), titles each with the
scenario, its scale and a caveat line, and writes PNGs atomically.

Lines are medians over replicates; shaded bands span the 10th to 90th percentiles.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, PercentFormatter

from sim import datasets, i18n
from sim.analysis import observation
from sim.analysis.outcomes import scaled_goals
from sim.analysis.summary import group_gaps
from sim.core.outputs import select
from sim.core.population import population_scale
from sim.i18n.header import figure_header
from sim.plots import goals as goal_plots
from sim.plots import maps, prepared
from sim.plots.common import (
    DPI,
    GOAL_COLOR,
    PALETTE,
    REPORTED_COLOR,
    SIM_COLOR,
    band_frame,
    draw_band,
    footnote,
    format_time_axis,
    save,
    set_title,
    short_source,
    thousands,
)
from sim.plots.listed_goals import MAX_PANELS, draw_more_goals, more_goal_points, plot_more_goals
from sim.plots.parallel import FigureTask, run_figure_tasks
from sim.scenario.schema import Goals, Scenario

__all__ = [
    "DPI", "FIGURE_STYLE", "METRIC_TITLE", "draw_figures", "plot_provincial", "plot_transformed",
    "plot_clusters", "plot_city_gap", "plot_compare", "write_figures", "write_compare_figures",
    "short_source", "thousands",
]

METRIC_TITLE: dict[str, str] = {m: i18n.text(f"metric.{m}", "en")
                                for m in ("cloud_cumulative", "cloud_active", "transformed",
                                          "n_firms", "waiting")}
"""English title of each plotted metric (``sim.i18n`` key ``metric.<name>`` in both languages)."""


def _metric_title(metric: str, lang: str) -> str:
    key = f"metric.{metric}"
    return i18n.text(key, lang) if key in i18n.keys() else metric


# --------------------------------------------------------------------------- helpers


def _goal_timestamp(goals: Goals) -> pd.Timestamp:
    return pd.Period(goals.date, freq="M").to_timestamp(how="end").normalize()


def _draw_goal(ax: Axes, goals: Goals, value: float, lang: str = "en") -> None:
    t = _goal_timestamp(goals)
    ax.axhline(value, color=GOAL_COLOR, linestyle="--", linewidth=1.2, zorder=1)
    ax.plot([t], [value], marker="*", markersize=13, color=GOAL_COLOR, linestyle="none",
            zorder=4, label=i18n.text("goal_line", lang, value=i18n.format_count(value), date=goals.date))


FIGURE_STYLE: dict[str, tuple[str, str, str]] = {
    m: (shape, face, i18n.text(f"reported.{m}", "en"))
    for m, shape, face in (("exact", "o", REPORTED_COLOR), ("date_window", "o", REPORTED_COLOR),
                           ("lower_bound", "^", REPORTED_COLOR), ("stale", "^", "white"))
}
"""Marker, face colour and English legend label of each
:attr:`sim.analysis.observation.Figure.marker` (other languages: ``sim.i18n`` key
``reported.<marker>``)."""


def draw_figures(ax: Axes, metric: str, *, scale: float = 1.0, notes: list[str] | None = None,
                 lang: str = "en") -> list[float]:
    """Mark the published figures of ``metric`` by their observation rule; return their values.

    Exact figures are filled circles with their rounding interval, lower bounds filled triangles
    up, repeated or stale headlines hollow triangles, figures with an approximate date circles
    with a horizontal bar over their date window (:mod:`sim.analysis.observation`).
    """
    figs = [f for f in observation.figures() if f.metric == metric and f.marker != "none"]
    seen: set[str] = set()
    for f in figs:
        shape, face, _ = FIGURE_STYLE[f.marker]
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
                    label=None if f.marker in seen else i18n.text(f"reported.{f.marker}", lang), **kw)
        seen.add(f.marker)
    if figs and notes is not None:
        srcs = list(dict.fromkeys(short_source(f.source, lang) for f in figs))
        notes.append(i18n.text("reported_note", lang, sources=("; " if lang == "en" else "；").join(srcs)))
    return [float(f.value) * scale for f in figs]  # type: ignore[arg-type]


# --------------------------------------------------------------------------- provincial


def plot_provincial(ax: Axes, ts: pd.DataFrame, goals: Goals, *, metric: str = "cloud_cumulative",
                    reported: bool = True, label: str | None = None, scale: float = 1.0,
                    lang: str = "en", config: Scenario | None = None) -> Axes:
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
        lang: ``"en"`` or ``"zh"``.
        config: If given, the count goals of its ``goals.more`` on this metric that fall inside
            the run are marked too (hollow diamonds, scaled like the headline goal).

    Returns:
        The axes.
    """
    prov = select(ts, "province")
    n_rep = prov["replicate"].nunique()
    b = band_frame(prov, metric, ["date"])
    draw_band(ax, b, color=SIM_COLOR,
              label=label or (i18n.text("sim_median", lang, n=n_rep) if n_rep > 1
                              else i18n.text("sim_one", lang)),
              band_label=i18n.text("band", lang) if n_rep > 1 else None)
    goal_value = {"cloud_cumulative": goals.cloud_firms, "transformed": goals.transformed_firms}.get(metric)
    if goal_value is not None:
        _draw_goal(ax, goals, goal_value, lang)
    notes = []
    tops: list[float] = []
    if config is not None:
        tops.extend(draw_more_goals(ax, more_goal_points(config, metric, b["date"]), lang))
    if reported:
        tops.extend(draw_figures(ax, metric, scale=scale, notes=notes, lang=lang))
    if scale != 1.0:
        notes.append(i18n.text("scaled_note", lang, scale=f"{scale:.4g}"))
    if notes:
        footnote(ax, " ".join(notes))
    set_title(ax, _metric_title(metric, lang))
    _finish_firms_axes(ax, [b["p90"].max(), goal_value or 0.0, *tops], lang)
    ax.legend(loc="lower right", fontsize=8, frameon=True, framealpha=0.9, edgecolor="none")
    return ax


def _finish_firms_axes(ax: Axes, tops: list[float], lang: str = "en") -> None:
    ax.set_xlabel(i18n.text("month_end", lang))
    ax.set_ylabel(i18n.text("firms_axis", lang))
    ax.yaxis.set_major_formatter(FuncFormatter(thousands))
    top = float(np.nanmax(np.asarray(tops, dtype=float))) if tops else 0.0
    ax.set_ylim(0, top * 1.12 if top > 0 else 1.0)
    format_time_axis(ax)
    ax.grid(True, axis="y", alpha=0.3)


def plot_transformed(ax: Axes, ts: pd.DataFrame, goals: Goals, *, reported: bool = True,
                     label: str | None = None, scale: float = 1.0, lang: str = "en",
                     config: Scenario | None = None) -> Axes:
    """Transformed above-scale firms against their goal (see :func:`plot_provincial`)."""
    return plot_provincial(ax, ts, goals, metric="transformed", reported=reported, label=label,
                           scale=scale, lang=lang, config=config)


# --------------------------------------------------------------------------- clusters and cities


def plot_clusters(fig: Figure, ts: pd.DataFrame, *, goals: Goals | None = None,
                  lang: str = "en") -> np.ndarray:
    """Cloud-adoption share of each of the 20 clusters, one small panel each (5 rows x 4).

    Args:
        fig: Figure to draw into (it should be empty; about 11 x 13 inches reads well).
        ts: Tidy time series with the cluster marginal rows.
        goals: If given, a dashed line marks the provincial share the cloud goal implies
            (goal / median firms at the goal date).
        lang: ``"en"`` or ``"zh"``.

    Returns:
        The 5 x 4 array of axes.
    """
    rows = select(ts, "cluster").copy()
    rows["cloud_share"] = rows["cloud_cumulative"] / rows["n_firms"].where(rows["n_firms"] > 0)
    b = band_frame(rows, "cloud_share", ["date", "cluster"])
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
    wrap = 30 if lang == "en" else 14
    for (i, j), cid in zip(np.ndindex(axes.shape), datasets.cluster_ids(), strict=True):
        ax = axes[i, j]
        sub = b[b["cluster"] == cid]
        draw_band(ax, sub, color=SIM_COLOR, label=i18n.text("median", lang),
                  band_label=i18n.text("band", lang))
        if needed is not None:
            ax.axhline(needed, color=GOAL_COLOR, linestyle="--", linewidth=1.0,
                       label=i18n.text("goal_share_implied", lang))
        # Full names (wrapped, never cut): an analyst must recognise the cluster.
        set_title(ax, textwrap.fill(i18n.cluster_name(cid, lang), wrap), fontsize=8.5)
        ax.set_ylim(*ylim)
        ax.set_xlim(t0 - pad, t1 + pad)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        ax.grid(True, axis="y", alpha=0.3)
        ax.tick_params(labelsize=8)
        format_time_axis(ax, labelsize=7)
        if j > 0:
            ax.tick_params(axis="y", labelleft=False)
        else:
            ax.set_ylabel(i18n.text("share_on_cloud", lang), fontsize=8)
        if i < axes.shape[0] - 1:
            ax.tick_params(axis="x", which="both", labelbottom=False)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=len(labels), frameon=False, fontsize=9)
    fig.suptitle(i18n.text("clusters_title", lang))
    return axes


def plot_city_gap(ax: Axes, ts: pd.DataFrame, goals: Goals, *, lang: str = "en") -> Axes:
    """Each city's shortfall against a proportional share of the cloud goal at the goal date.

    The proportional share is ``goal x city's share of firms``; bars are medians over
    replicates with 10-90% whiskers; positive = short of the share (red), negative = ahead.

    Args:
        ax: Axes to draw into (about 8 x 7 inches for 21 cities).
        ts: Tidy time series with the city marginal rows.
        goals: Goals at the population's scale.
        lang: ``"en"`` or ``"zh"``.

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
    ax.set_yticks(y, [i18n.city_name(c, lang) for c in st.index], fontsize=9)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.xaxis.set_major_formatter(FuncFormatter(thousands))
    ax.set_xlabel(i18n.text("city_gap_x", lang))
    set_title(ax, i18n.text("city_gap_title", lang, goal=i18n.format_count(goals.cloud_firms),
                            date=goals.date), fontsize=11)
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
                 metric: str = "cloud_cumulative", *, lang: str = "en") -> Axes:
    """Several scenarios on one chart: median line and 10-90% band each, and the goal.

    Args:
        ax: Axes to draw into.
        ts_by_scenario: Tidy time series per scenario name (drawn in the given order).
        goals: Goals at the population's scale.
        metric: Column to plot.
        lang: ``"en"`` or ``"zh"``.

    Returns:
        The axes.
    """
    tops: list[float] = []
    for i, (name, ts) in enumerate(ts_by_scenario.items()):
        b = band_frame(select(ts, "province"), metric, ["date"])
        draw_band(ax, b, color=PALETTE[i % len(PALETTE)], label=i18n.scenario_title(name, lang), band_label=None)
        tops.append(float(b["p90"].max()))
    goal_value = {"cloud_cumulative": goals.cloud_firms, "transformed": goals.transformed_firms}.get(metric)
    if goal_value is not None:
        _draw_goal(ax, goals, goal_value, lang)
        tops.append(float(goal_value))
    set_title(ax, i18n.text("compare_title", lang, metric=_metric_title(metric, lang)))
    _finish_firms_axes(ax, tops, lang)
    ax.legend(loc="lower right", fontsize=8, frameon=True, framealpha=0.9, edgecolor="none",
              title=i18n.text("compare_legend", lang), title_fontsize=8)
    return ax


# --------------------------------------------------------------------------- files


def _n_replicates(ts: pd.DataFrame) -> int:
    return int(ts["replicate"].nunique()) if "replicate" in ts.columns else 0


def write_figures(folder: str | os.PathLike[str], ts: pd.DataFrame, config: Scenario, *,
                  compare: Mapping[str, pd.DataFrame] | None = None,
                  lang: str | None = None) -> list[Path]:
    """Write the report figures of a scenario as PNGs (150 dpi), each atomically.

    Files: ``provincial_cloud.png``, ``provincial_transformed.png`` (with the count goals of
    ``goals.more`` marked), ``goals_more.png`` (only if ``goals.more`` lists goals: one panel
    per goal with its indicator's path), ``clusters.png``,
    ``city_gap.png``, ``progress_city.png`` and ``progress_cluster.png`` (both goals as shares
    of each group's proportional share of the goal), ``map_cities.png`` (only if the optional
    ``maps`` extra is installed) and, if ``compare`` is given, ``compare.png``. Each figure is
    titled with the scenario, its scale and a caveat line. Goals and reported figures are scaled
    to the population (:func:`sim.analysis.outcomes.scaled_goals`).

    Args:
        folder: Output folder (created if missing).
        ts: Tidy time series of all replicates of the scenario.
        config: The scenario.
        compare: Optional tidy time series per scenario name for the comparison chart (a
            comparison folder uses :func:`write_compare_figures` instead).
        lang: ``"en"`` or ``"zh"`` (default: the scenario's ``outputs.lang``).

    Returns:
        The paths written, in the order above.
    """
    lang = i18n.check_lang(lang or getattr(config.outputs, "lang", "en"))
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    goals = scaled_goals(config)
    scale = population_scale(config)
    n_rep = _n_replicates(ts)
    firms = config.population.total_firms

    key = _prepared_key(config, lang)

    def task(name: str, size: tuple[float, float], draw, note: str | None = None):
        def run() -> Path:
            fig = prepared.take(key, name, size)  # axes made while the run computed, if any
            draw(fig)
            figure_header(fig, config.name, firms, n_rep, lang, note=note)
            return save(fig, out / name)
        return run

    def more_goals(fig: Figure) -> None:
        plot_more_goals(fig, ts, config, lang=lang)
        fig.suptitle(i18n.text("more_goals_title", lang))

    # (expected CPU seconds, task): the two figure processes draw the most expensive first, each
    # taking the next when free (sim.plots.parallel). Measured in the run's figure processes
    # (baseline, 2,000,000 firms, 2026-11-30, three runs, axes made in advance): provincial
    # 0.18-0.29 each, clusters 0.87-1.06 (1.34 before its titles were fixed), city gap 0.17-0.35,
    # progress 0.32-0.69 (cities) and 0.39-0.56 (clusters), map 0.40-0.78: a figure costs more as
    # the first drawn in a process. A fixed split by the 2026-11-29 weights left one process
    # 0.25-0.7 s after the other.
    tasks: list[FigureTask] = [
        (0.2, task("provincial_cloud.png", (9, 6),
                   lambda f: plot_provincial(f.add_subplot(), ts, goals, scale=scale, lang=lang, config=config))),
        (0.2, task("provincial_transformed.png", (9, 6),
                   lambda f: plot_transformed(f.add_subplot(), ts, goals, scale=scale, lang=lang, config=config))),
    ]
    if config.goals.more:
        k = min(len(config.goals.more), MAX_PANELS)
        tasks.append((0.5, task("goals_more.png", (4.6 * min(3, k), 3.9 * -(-k // 3) + 1.2), more_goals,
                                note=i18n.text("scaled_note", lang, scale=f"{scale:.4g}") if scale != 1.0 else None)))
    tasks += [
        (0.9, task("clusters.png", (11, 13.5), lambda f: plot_clusters(f, ts, goals=goals, lang=lang))),
        (0.22, task("city_gap.png", (9, 7.5), lambda f: plot_city_gap(f.add_subplot(), ts, goals, lang=lang))),
    ]
    for level, cost in (("city", 0.5), ("cluster", 0.44)):
        tasks.append((cost, task(f"progress_{level}.png", (12, 8.5 if level == "city" else 8.0),
                                lambda f, level=level: goal_plots.plot_group_progress(
                                    f, ts, goals, level=level, lang=lang, config=config),
                                note=i18n.text("progress_note", lang))))
    if maps.available():
        tasks.append((0.55, task("map_cities.png", (12, 6), lambda f: maps.plot_city_map(f, ts, goals, lang=lang))))
    if compare:
        tasks.append((0.5, task("compare.png", (9, 6),
                                lambda f: plot_compare(f.add_subplot(), compare, goals, lang=lang))))
    return run_figure_tasks(tasks)


def _prepared_key(config: Scenario, lang: str) -> str:
    return f"{lang}|{config.model_dump_json()}"


def prepare_figures(config: Scenario, lang: str | None = None) -> None:
    """Make the axes of :func:`write_figures`' figures of ``config`` now, before its results
    exist (:mod:`sim.plots.prepared`; the figure process calls this while the model runs).

    Each entry: the figure's size and its drawing code's axes call as in :func:`write_figures`,
    and the tick objects to create on each axis (x major, x minor, y major): a time axis has a
    tick at each year boundary and a label at each mid-year, a bar chart one tick per city or
    cluster, a value axis about six; too many cost only this idle time, too few are created
    when the figure is drawn.
    """
    lang = i18n.check_lang(lang or getattr(config.outputs, "lang", "en"))
    years = int(config.time.end[:4]) - int(config.time.start[:4]) + 2
    time_axis = (years, years, 8)
    n_cities, n_clusters = len(datasets.cities()), len(datasets.cluster_ids())
    plan = {  # the most axes first: if the results arrive meanwhile, the rest is not prepared
        "clusters.png": ((11, 13.5), ("subplots", (5, 4), {"squeeze": False}), (years, years, 6)),
        "provincial_cloud.png": ((9, 6), ("add_subplot", (), {}), time_axis),
        "provincial_transformed.png": ((9, 6), ("add_subplot", (), {}), time_axis),
        "city_gap.png": ((9, 7.5), ("add_subplot", (), {}), (8, 0, n_cities)),
        "progress_city.png": ((12, 8.5), ("subplots", (1, 2), {"sharey": True}), (8, 0, n_cities)),
        "progress_cluster.png": ((12, 8.0), ("subplots", (1, 2), {"sharey": True}), (8, 0, n_clusters)),
    }
    if maps.available():
        plan["map_cities.png"] = ((12, 6), ("subplots", (1, 2), {}), (0, 0, 0))  # axes off: no ticks
    prepared.prepare(_prepared_key(config, lang), plan)


def write_compare_figures(folder: str | os.PathLike[str], ts_by_scenario: Mapping[str, pd.DataFrame],
                          differences: pd.DataFrame, config: Scenario, *,
                          lang: str | None = None) -> list[Path]:
    """Write the figures of a comparison folder (no copies of one scenario's own figures).

    Files: ``compare_cloud.png`` and ``compare_transformed.png`` (every scenario's path with
    its band against each goal), ``goal_cloud.png`` and ``goal_transformed.png`` (per goal:
    paired differences vs the reference with 10-90% spread and the 95% CI of the mean, and each
    scenario's probability of meeting the goal with its 95% interval).

    Args:
        folder: Output folder (created if missing).
        ts_by_scenario: Tidy time series per scenario label (first = reference).
        differences: :func:`sim.analysis.summary.paired_differences` of the comparison.
        config: The reference scenario (its goals, scale and name).
        lang: ``"en"`` or ``"zh"`` (default: the scenario's ``outputs.lang``).

    Returns:
        The paths written.
    """
    lang = i18n.check_lang(lang or getattr(config.outputs, "lang", "en"))
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    goals = scaled_goals(config)
    names = list(ts_by_scenario)
    if lang == "en":
        label = " vs ".join(names) if len(names) <= 4 else f"{names[0]} vs {len(names) - 1}"
    else:
        titles = [i18n.scenario_title(n, lang) for n in names]
        label = (i18n.text("compare_label", lang, reference=titles[0], others="、".join(titles[1:])) if len(names) <= 4
                 else i18n.text("compare_label_many", lang, reference=titles[0], n=len(names) - 1))
    n_rep = min(_n_replicates(t) for t in ts_by_scenario.values())
    firms = config.population.total_firms
    written: list[Path] = []
    for key, metric in (("cloud", "cloud_cumulative"), ("transformed", "transformed")):
        fig = Figure(figsize=(9, 6), layout="constrained")
        plot_compare(fig.add_subplot(), ts_by_scenario, goals, metric, lang=lang)
        figure_header(fig, label, firms, n_rep, lang)
        written.append(save(fig, out / f"compare_{key}.png"))
    for key in ("cloud", "transformed"):
        fig = Figure(figsize=(12, 0.55 * len(names) + 3.2), layout="constrained")
        goal_plots.plot_goal_comparison(fig, ts_by_scenario, differences, goals, goal=key, lang=lang)
        figure_header(fig, label, firms, n_rep, lang)
        written.append(save(fig, out / f"goal_{key}.png"))
    return written
