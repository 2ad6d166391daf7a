"""Figures of the record: posterior predictive fans against the published figures, backtest
fans per origin, and the ex-post evaluation of the instruments."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.dates import AutoDateLocator
from matplotlib.figure import Figure

from sim import i18n
from sim.analysis.abc import weighted_quantile
from sim.analysis.backtest import NAIVE_METHODS, OriginResult, naive_forecast, published_points
from sim.analysis.history_match import METRICS, MatchResult
from sim.fileio import save_figure
from sim.i18n.header import figure_header
from sim.plots.scenario import SIM_COLOR, draw_figures, thousands

TITLES = {"cloud_cumulative": "indicator.cloud_firms", "transformed": "indicator.transformed_firms"}
"""Metric -> the translation key of its panel title."""


def _header(fig: Figure, match: MatchResult, title: str) -> None:
    """The header every figure carries: the matched scenario, its scale, the posterior runs."""
    cfg = match.config
    figure_header(fig, cfg.name, cfg.population.total_firms, len(match.abc.kept), cfg.outputs.lang,
                  title=title, runs="posterior")


def _lang(match: MatchResult) -> str:
    return match.config.outputs.lang


def _panel(ax: Axes, metric: str, lang: str) -> None:
    """Title, axis labels and legend of one panel of a fan."""
    ax.set_title(i18n.text(TITLES[metric], lang), fontsize=10)
    ax.xaxis.set_major_locator(AutoDateLocator(minticks=3, maxticks=7))  # dates never overlap
    ax.set_xlabel(i18n.text("month_end", lang), fontsize=8.5)
    ax.set_ylabel(i18n.text("firms_province_axis", lang), fontsize=8.5)
    ax.legend(fontsize=6, loc="upper left")


def _month(m: str) -> int:
    return int(m[:4]) * 12 + int(m[5:7]) - 1


def draw_fan(ax: Axes, match: MatchResult, metric: str) -> None:
    """Weighted 5-95% and 25-75% posterior predictive bands and the median over time."""
    t = pd.to_datetime(match.dates)
    s = match.series(metric)
    w = match.abc.weights
    lang = _lang(match)
    q = np.array([weighted_quantile(s[:, k], w, [0.05, 0.25, 0.5, 0.75, 0.95]) for k in range(s.shape[1])])
    ax.fill_between(t, q[:, 0], q[:, 4], color=SIM_COLOR, alpha=0.15, lw=0, label=i18n.text("record.band90", lang))
    ax.fill_between(t, q[:, 1], q[:, 3], color=SIM_COLOR, alpha=0.3, lw=0, label=i18n.text("record.band50", lang))
    ax.plot(t, q[:, 2], color=SIM_COLOR, lw=2, label=i18n.text("record.median", lang))
    ax.yaxis.set_major_formatter(thousands)


def predictive_figure(match: MatchResult, path: str | os.PathLike[str], title: str) -> None:
    """Posterior predictive intervals of both series against every published figure."""
    fig = Figure(figsize=(11, 4.5), layout="constrained")
    for i, metric in enumerate(METRICS):
        ax = fig.add_subplot(1, 2, i + 1)
        draw_fan(ax, match, metric)
        draw_figures(ax, metric, lang=_lang(match))
        _panel(ax, metric, _lang(match))
    _header(fig, match, title)
    save_figure(fig, path)


def fan_chart(result: OriginResult, path: str | os.PathLike[str]) -> None:
    """Backtest from one origin: predictive fan, naive forecasts, and the figures (those stated
    after the origin are the targets)."""
    fig = Figure(figsize=(11, 4.5), layout="constrained")
    lang = _lang(result.match)
    t = pd.to_datetime(result.match.dates)
    m0 = _month(result.origin)
    later = [k for k, d in enumerate(result.match.dates) if _month(d[:7]) >= m0]
    for i, metric in enumerate(METRICS):
        ax = fig.add_subplot(1, 2, i + 1)
        draw_fan(ax, result.match, metric)
        pts = published_points(metric, result.origin)
        for method, style in zip(NAIVE_METHODS, (":", "--", "-."), strict=True):
            ys = [naive_forecast(method, pts, _month(result.match.dates[k][:7]), metric) for k in later]
            ax.plot(t[later], ys, style, color="#555555", lw=1.2,
                    label=i18n.text("record.naive", lang, method=i18n.term_or("naive", method, lang)))
        ax.axvline(pd.Timestamp(f"{result.origin}-01") + pd.offsets.MonthEnd(0), color="#c0392b", lw=1,
                   label=i18n.text("record.origin", lang, origin=result.origin))
        draw_figures(ax, metric, lang=lang)
        _panel(ax, metric, lang)
    _header(fig, result.match, i18n.text("record.fan_title", lang, origin=result.origin))
    save_figure(fig, path)


def instruments_figure(table: pd.DataFrame, path: str | os.PathLike[str], end: str, match: MatchResult) -> None:
    """What each instrument accounts for at the end date (median, 90% interval), both series."""
    lang = _lang(match)
    fig = Figure(figsize=(11, 4), layout="constrained")
    for i, (metric, what) in enumerate((("transformed", "sent.what_transformed"),
                                        ("cloud_cumulative", "sent.what_cloud"))):
        ax = fig.add_subplot(1, 2, i + 1)
        y = np.arange(len(table))
        med = table[f"{metric}_p50"].to_numpy()
        err = np.vstack([med - table[f"{metric}_p05"].to_numpy(), table[f"{metric}_p95"].to_numpy() - med])
        ax.barh(y, med, xerr=err, color=SIM_COLOR, alpha=0.8, capsize=3)
        ax.set_yticks(y, [i18n.instrument_name(x, lang) for x in table["instrument"]])
        ax.axvline(0, color="black", lw=0.8)
        ax.xaxis.set_major_formatter(thousands)
        ax.set_xlabel(i18n.text("record.difference_axis", lang), fontsize=8.5)
        ax.set_title(i18n.text("record.accounts", lang, what=i18n.text(what, lang), end=end), fontsize=9)
    _header(fig, match, i18n.text("record.instruments_title", lang))
    save_figure(fig, path)
