"""Matplotlib figures of the dashboard, one function per panel, each from a :class:`DashboardModel`.

Figures are built with ``matplotlib.figure.Figure`` (no pyplot state), so they are safe in the
server's worker threads and leave nothing open.
"""

from __future__ import annotations

import numpy as np
from matplotlib.dates import DateFormatter, MonthLocator, YearLocator
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, PercentFormatter

from sim import datasets
from sim.dashboard.core import STAGES, DashboardModel

C_CUM = "#1f5fa8"
C_ACTIVE = "#6fa8dc"
C_TRANS = "#2e8b57"
C_GOAL = "#c0392b"
C_REPORTED = "#222222"
STAGE_COLOURS = ("#ffffff", "#bdbdbd", "#f0a020", "#1f5fa8", "#2e8b57")
STAGE_EDGES = ("#bdbdbd", "#8a8a8a", "#b07000", "#123a66", "#1b5e38")

WIDTH = 6.6
HEIGHT = 3.8
DPI = 100


def _figure(**margins) -> Figure:
    """A panel-sized figure with fixed margins (constrained layout would double the drawing
    time of every step)."""
    fig = Figure(figsize=(WIDTH, HEIGHT), dpi=DPI)
    fig.subplots_adjust(**margins)
    return fig


def fmt_count(v: float, _pos=None) -> str:
    """Compact firm counts for axis ticks: 950, 25k, 1.2M."""
    a = abs(v)
    if a >= 1e6:
        return f"{v / 1e6:.1f}M".replace(".0M", "M")
    if a >= 1e4:
        return f"{v / 1e3:.0f}k"
    if a >= 1e3:
        return f"{v / 1e3:.1f}k".replace(".0k", "k")
    return f"{v:.0f}"


def month_label(date: str) -> str:
    """'2021-09-30' -> 'Sep 2021'."""
    return np.datetime64(date, "D").astype("datetime64[M]").item().strftime("%b %Y")


def _time_axes(ax, model: DashboardModel) -> None:
    start, end = np.datetime64(model.dates[0]), np.datetime64(model.dates[-1])
    ax.set_xlim(start - np.timedelta64(20, "D"), end + np.timedelta64(40, "D"))
    ax.xaxis.set_major_locator(YearLocator())
    ax.xaxis.set_major_formatter(DateFormatter("%Y"))
    ax.xaxis.set_minor_locator(MonthLocator(bymonth=(4, 7, 10)))
    ax.grid(True, axis="y", color="#e6e6e6", lw=0.8)
    ax.set_axisbelow(True)
    for s in ("top",):
        ax.spines[s].set_visible(False)
    now = np.datetime64(model.dates[model.month])
    ax.axvline(now, color="#999999", lw=0.8, ls=":", zorder=0)


def _province_axis(ax, model: DashboardModel) -> None:
    """Right-hand axis in province-equivalent firms (model count / scale)."""
    s = model.scale
    sec = ax.secondary_yaxis("right", functions=(lambda y: y / s, lambda y: y * s))
    sec.yaxis.set_major_formatter(FuncFormatter(fmt_count))
    sec.set_ylabel(f"province-equivalent firms (x {1 / s:,.0f})" if s < 1 else "province firms",
                   color="#555555", fontsize=8.5)
    sec.tick_params(labelsize=8, colors="#555555")


def _goal_line(ax, model: DashboardModel, goal_scaled: float, goal_province: int, what: str) -> None:
    ax.axhline(goal_scaled, color=C_GOAL, lw=1.6, ls="--", zorder=2)
    end = np.datetime64(model.dates[-1])
    ax.plot([end], [goal_scaled], marker="*", ms=11, color=C_GOAL, zorder=3)
    ax.annotate(
        f"Goal end-2025: {goal_province:,} {what}\n= {goal_scaled:,.0f} in this {model.config.population.total_firms:,}-firm run",
        xy=(np.datetime64(model.dates[0]), goal_scaled), xytext=(4, 5), textcoords="offset points",
        color=C_GOAL, fontsize=8.5, va="bottom", ha="left", fontweight="bold",
    )


def _ylim(ax, goal: float, *values: np.ndarray) -> None:
    top = max([goal] + [float(np.max(v)) for v in values if len(v)])
    ax.set_ylim(0, top * 1.25)
    ax.yaxis.set_major_formatter(FuncFormatter(fmt_count))


def cloud_figure(model: DashboardModel) -> Figure:
    """Firms on the cloud (cumulative and active) against the scaled 1,000,000 goal."""
    s = model.series()
    fig = _figure(left=0.095, right=0.885, top=0.91, bottom=0.085)
    ax = fig.subplots()
    _time_axes(ax, model)
    _goal_line(ax, model, model.goal_cloud, model.config.goals.cloud_firms, "firms on the cloud")
    ax.plot(s["date"], s["cloud_cumulative"], color=C_CUM, lw=2.4, label="ever on the cloud (as officially counted)")
    ax.plot(s["date"], s["cloud_active"], color=C_ACTIVE, lw=1.6, ls="-.", label="on the cloud now (net of churn)")
    rep = model.reported("cloud_enterprises_cumulative")
    if rep:
        d, v = zip(*rep, strict=True)
        ax.plot(d, v, ls="none", marker="D", ms=5, color=C_REPORTED, label="reported figure (scaled)")
    _ylim(ax, model.goal_cloud, s["cloud_cumulative"])
    ax.set_ylabel("firms in the simulated population", fontsize=8.5)
    ax.tick_params(labelsize=8)
    _province_axis(ax, model)
    ax.legend(loc="lower right", fontsize=7.5, frameon=False)
    now = int(s["cloud_cumulative"][-1])
    ax.set_title(f"Firms on the cloud: {now:,} = {now / model.goal_cloud:.0%} of the scaled goal "
                 f"({month_label(model.dates[model.month])})", fontsize=10.5, loc="left")
    return fig


def transformed_figure(model: DashboardModel) -> Figure:
    """Digitally transformed above-scale firms against the scaled 50,000 goal."""
    s = model.series()
    fig = _figure(left=0.095, right=0.885, top=0.91, bottom=0.085)
    ax = fig.subplots()
    _time_axes(ax, model)
    _goal_line(ax, model, model.goal_transformed, model.config.goals.transformed_firms,
               "above-scale firms transformed")
    ax.plot(s["date"], s["transformed"], color=C_TRANS, lw=2.4, label="above-scale firms transformed")
    rep = model.reported("above_scale_transformed_cumulative")
    if rep:
        d, v = zip(*rep, strict=True)
        ax.plot(d, v, ls="none", marker="D", ms=5, color=C_REPORTED, label="reported figure (scaled)")
    _ylim(ax, model.goal_transformed, s["transformed"])
    ax.set_ylabel("firms in the simulated population", fontsize=8.5)
    ax.tick_params(labelsize=8)
    _province_axis(ax, model)
    ax.legend(loc="lower right", fontsize=7.5, frameon=False)
    now = int(s["transformed"][-1])
    ax.set_title(f"Above-scale firms transformed: {now:,} = {now / model.goal_transformed:.0%} of the scaled goal",
                 fontsize=10.5, loc="left")
    return fig


def bottleneck_figure(model: DashboardModel) -> Figure:
    """Service capacity and voucher budget: are they binding? (province-equivalent)."""
    s = model.series()
    scale = model.scale
    k = model.month
    dates = np.array(model.dates, dtype="datetime64[D]")
    fig = _figure(left=0.095, right=0.975, top=0.915, bottom=0.085, hspace=0.4)
    top, bot = fig.subplots(2, 1, sharex=True)
    new = model.cube[: k + 1, :, 4].sum(axis=1) / scale
    wait = s["waiting"] / scale
    cap = model.capacity_per_month() / scale
    if k >= 1:
        top.bar(dates[1 : k + 1], new[1:], width=np.timedelta64(22, "D"), color=C_ACTIVE,
                label="onboarded in the month")
    if np.isfinite(cap).any():
        top.step(dates, cap, where="mid", color=C_GOAL, lw=1.4, ls="--", label="service capacity per month")
    top.plot(dates[: k + 1], wait, color="#b07000", lw=1.8, label="waiting for a provider (month end)")
    top_max = max(float(np.nanmax(cap)) if np.isfinite(cap).any() else 0.0, float(new[1:].max(initial=0)),
                  float(wait.max(initial=0)), 1.0)
    top.set_ylim(0, top_max * 1.3)
    top.yaxis.set_major_formatter(FuncFormatter(fmt_count))
    top.set_ylabel("firms", fontsize=8.5)
    top.legend(loc="upper left", fontsize=7, frameon=False, ncol=2)
    top.set_title("Bottlenecks (province-equivalent): cloud onboardings vs service capacity",
                  fontsize=10.5, loc="left")

    spend = model.cube[: k + 1, :, 6].sum(axis=1) / scale / 1e6
    years = np.array([model.instruments["vouchers"].cal.year(i) for i in range(model.n_months + 1)])
    in_year = np.zeros_like(spend)
    for y in np.unique(years[: k + 1]):
        m = years[: k + 1] == y
        in_year[m] = np.cumsum(spend[m])
    budget = model.voucher_budget_per_year()
    bud = np.array([budget.get(int(y), np.nan) for y in years]) / scale / 1e6
    bot.plot(dates[: k + 1], in_year, color=C_CUM, lw=2.0, label="granted so far this year")
    if np.isfinite(bud).any():
        bot.step(dates, bud, where="mid", color=C_GOAL, lw=1.4, ls="--", label="budget of the year")
    bot_max = max(float(np.nanmax(bud)) if np.isfinite(bud).any() else 0.0, float(in_year.max(initial=0)), 1.0)
    bot.set_ylim(0, bot_max * 1.35)
    bot.set_ylabel("CNY million", fontsize=8.5)
    bot.legend(loc="upper left", fontsize=7, frameon=False, ncol=2)
    bot.set_title("Voucher money granted this year vs the year's budget", fontsize=9.5, loc="left")
    for ax in (top, bot):
        _time_axes(ax, model)
        ax.tick_params(labelsize=8)
    return fig


def _short(name: str, width: int = 34) -> str:
    return name if len(name) <= width else name[: width - 1].rstrip() + "."


def cluster_figure(model: DashboardModel) -> Figure:
    """Share of firms ever on the cloud in each of the 20 strategic clusters, now vs at the start."""
    now = model.cluster_shares()
    start = model.cluster_shares(0)
    order = np.argsort(start)  # fixed order (by the initial share), so bars do not jump
    names = [_short(c.name_en) for c in datasets.clusters()]
    fig = _figure(left=0.345, right=0.975, top=0.92, bottom=0.12)
    ax = fig.subplots()
    y = np.arange(order.size)
    ax.barh(y, now[order], color=C_CUM, height=0.7, label=f"now ({month_label(model.dates[model.month])})")
    ax.plot(start[order], y, ls="none", marker="|", ms=11, mew=2, color=C_REPORTED,
            label=f"at start ({month_label(model.dates[0])})")
    prov = model.province_share()
    ax.axvline(prov, color=C_GOAL, lw=1.2, ls="--", label=f"province average now: {prov:.0%}")
    ax.set_yticks(y, [names[i] for i in order], fontsize=7.5)
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.tick_params(axis="x", labelsize=8)
    ax.set_xlabel("share of the cluster's firms ever on the cloud", fontsize=8.5)
    ax.grid(True, axis="x", color="#e6e6e6", lw=0.8)
    ax.set_axisbelow(True)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(loc="lower right", fontsize=7.5, frameon=True, framealpha=0.9)
    ax.set_title("Cloud adoption by strategic industry cluster", fontsize=10.5, loc="left")
    return fig


def network_figure(model: DashboardModel) -> Figure:
    """The sampled firms and their supply-chain partners, coloured by stage."""
    net = model.network
    stage = model.network_stages()
    fig = _figure(left=0.01, right=0.99, top=0.92, bottom=0.2)
    ax = fig.subplots()
    p = net.pos
    if net.edges.size:
        from matplotlib.collections import LineCollection

        ax.add_collection(LineCollection(p[net.edges], colors="#a0a0a0", linewidths=0.7, zorder=1))
    size = np.where(net.sampled, 40.0, 11.0)
    ax.scatter(p[:, 0], p[:, 1], s=size, c=[STAGE_COLOURS[i] for i in stage],
               edgecolors=[STAGE_EDGES[i] for i in stage], linewidths=np.where(net.sampled, 0.9, 0.5), zorder=2)
    counts = np.bincount(stage[net.sampled], minlength=len(STAGES))
    handles = [Line2D([], [], ls="none", marker="o", ms=7, mfc=STAGE_COLOURS[i], mec=STAGE_EDGES[i],
                      label=f"{STAGES[i]}: {counts[i]}") for i in range(len(STAGES))]
    handles.append(Line2D([], [], ls="none", marker="o", ms=4, mfc="#ffffff", mec="#8a8a8a",
                          label="small dot: their supply-chain partner"))
    fig.legend(handles=handles, loc="lower center", ncol=3, fontsize=7.5, frameon=False,
               title="stage of the sampled firms (count) - large dot: sampled firm", title_fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_aspect("equal", adjustable="datalim")
    for s in ax.spines.values():
        s.set_visible(False)
    ax.set_title(f"Supply-chain network: {int(net.sampled.sum())} sampled firms and their "
                 f"{int((~net.sampled).sum())} partners", fontsize=10.5, loc="left")
    return fig
