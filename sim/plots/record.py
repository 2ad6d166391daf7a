"""Figures of the record: posterior predictive fans against the published figures, backtest
fans per origin, and the ex-post evaluation of the instruments."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.dates import AutoDateLocator
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from sim import i18n
from sim.analysis.abc import weighted_quantile
from sim.analysis.backtest import NAIVE_METHODS, OriginResult, naive_forecast, published_points
from sim.analysis.history_match import METRICS, MatchResult
from sim.fileio import save_figure
from sim.i18n.header import figure_header
from sim.plots.scenario import SIM_COLOR, draw_figures, thousands

TITLES = {"cloud_cumulative": "indicator.cloud_firms", "transformed": "indicator.transformed_firms"}
"""Metric -> the translation key of its panel title."""


FAN_COLUMNS: list[str] = ["metric", "date", "p05", "p25", "p50", "p75", "p95"]
"""Columns of a fan table (``predictive_fan.csv``, ``fan_<origin>.csv``): the weighted 5/25/50/75/95%
posterior predictive quantiles of each series at each month end, what the fans are drawn from."""

FAN_FILE = "predictive_fan.csv"
"""The fan table of a history match's folder (``gdcloud history-match`` and ``evaluate``)."""


@dataclass(frozen=True)
class Head:
    """What the header of a record figure names: the matched scenario, its population, the
    posterior runs behind the fans, and the figure's language."""

    scenario: str
    total_firms: int
    runs: int
    lang: str

    @classmethod
    def of(cls, match: MatchResult) -> Head:
        cfg = match.config
        return cls(cfg.name, cfg.population.total_firms, len(match.abc.kept), cfg.outputs.lang)


def _header(fig: Figure, head: Head, title: str) -> None:
    """The header every figure carries: the matched scenario, its scale, the posterior runs."""
    figure_header(fig, head.scenario, head.total_firms, head.runs, head.lang, title=title, runs="posterior")


def _panel(ax: Axes, metric: str, lang: str) -> None:
    """Title, axis labels and legend of one panel of a fan."""
    ax.set_title(i18n.text(TITLES[metric], lang), fontsize=10)
    ax.xaxis.set_major_locator(AutoDateLocator(minticks=3, maxticks=7))  # dates never overlap
    ax.set_xlabel(i18n.text("month_end", lang), fontsize=8.5)
    ax.set_ylabel(i18n.text("firms_province_axis", lang), fontsize=8.5)
    ax.legend(fontsize=6, loc="upper left")


def _month(m: str) -> int:
    return int(m[:4]) * 12 + int(m[5:7]) - 1


def fan_table(match: MatchResult) -> pd.DataFrame:
    """The weighted posterior predictive quantiles of both series at every month end
    (:data:`FAN_COLUMNS`): the data of the fans, saved beside the figures so that they can be
    drawn again in another language (:func:`redraw`)."""
    w = match.abc.weights
    rows = []
    for metric in METRICS:
        s = match.series(metric)
        for k, date in enumerate(match.dates):
            q = weighted_quantile(s[:, k], w, [0.05, 0.25, 0.5, 0.75, 0.95])
            rows.append({"metric": metric, "date": date, **dict(zip(FAN_COLUMNS[2:], q, strict=True))})
    return pd.DataFrame(rows, columns=FAN_COLUMNS)


def draw_fan(ax: Axes, fan: pd.DataFrame, metric: str, lang: str) -> None:
    """Weighted 5-95% and 25-75% posterior predictive bands and the median over time."""
    f = fan[fan["metric"] == metric]
    t = pd.to_datetime(f["date"])
    ax.fill_between(t, f["p05"], f["p95"], color=SIM_COLOR, alpha=0.15, lw=0, label=i18n.text("record.band90", lang))
    ax.fill_between(t, f["p25"], f["p75"], color=SIM_COLOR, alpha=0.3, lw=0, label=i18n.text("record.band50", lang))
    ax.plot(t, f["p50"], color=SIM_COLOR, lw=2, label=i18n.text("record.median", lang))
    ax.yaxis.set_major_formatter(thousands)


def predictive_figure(match: MatchResult, path: str | os.PathLike[str], title: str) -> None:
    """Posterior predictive intervals of both series against every published figure."""
    draw_predictive(fan_table(match), Head.of(match), path, title)


def draw_predictive(fan: pd.DataFrame, head: Head, path: str | os.PathLike[str], title: str) -> None:
    """:func:`predictive_figure` from a fan table."""
    fig = Figure(figsize=(11, 4.5), layout="constrained")
    for i, metric in enumerate(METRICS):
        ax = fig.add_subplot(1, 2, i + 1)
        draw_fan(ax, fan, metric, head.lang)
        draw_figures(ax, metric, lang=head.lang)
        _panel(ax, metric, head.lang)
    _header(fig, head, title)
    save_figure(fig, path)


def fan_chart(result: OriginResult, path: str | os.PathLike[str]) -> None:
    """Backtest from one origin: predictive fan, naive forecasts, and the figures (those stated
    after the origin are the targets)."""
    draw_backtest(fan_table(result.match), result.origin, Head.of(result.match), path)


def draw_backtest(fan: pd.DataFrame, origin: str, head: Head, path: str | os.PathLike[str]) -> None:
    """:func:`fan_chart` from a fan table."""
    fig = Figure(figsize=(11, 4.5), layout="constrained")
    lang = head.lang
    dates = list(dict.fromkeys(fan["date"]))
    t = pd.to_datetime(pd.Series(dates))
    m0 = _month(origin)
    later = [k for k, d in enumerate(dates) if _month(d[:7]) >= m0]
    for i, metric in enumerate(METRICS):
        ax = fig.add_subplot(1, 2, i + 1)
        draw_fan(ax, fan, metric, lang)
        pts = published_points(metric, origin)
        for method, style in zip(NAIVE_METHODS, (":", "--", "-."), strict=True):
            ys = [naive_forecast(method, pts, _month(dates[k][:7]), metric) for k in later]
            ax.plot(t.iloc[later], ys, style, color="#555555", lw=1.2,
                    label=i18n.text("record.naive", lang, method=i18n.term_or("naive", method, lang)))
        ax.axvline(pd.Timestamp(f"{origin}-01") + pd.offsets.MonthEnd(0), color="#c0392b", lw=1,
                   label=i18n.text("record.origin", lang, origin=origin))
        draw_figures(ax, metric, lang=lang)
        _panel(ax, metric, lang)
    _header(fig, head, i18n.text("record.fan_title", lang, origin=origin))
    save_figure(fig, path)


def instruments_figure(table: pd.DataFrame, path: str | os.PathLike[str], end: str, match: MatchResult) -> None:
    """What each instrument accounts for at the end date (median, 90% interval), both series."""
    draw_instruments(table, end, Head.of(match), path)


def draw_instruments(table: pd.DataFrame, end: str, head: Head, path: str | os.PathLike[str]) -> None:
    """:func:`instruments_figure` from the instruments table (``instruments.csv``)."""
    lang = head.lang
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
        ax.xaxis.set_major_locator(MaxNLocator(nbins=5))  # "10,000" labels never run into each other
        ax.xaxis.set_major_formatter(thousands)
        ax.set_xlabel(i18n.text("record.difference_axis", lang), fontsize=8.5)
        ax.set_title(i18n.text("record.accounts", lang, what=i18n.text(what, lang), end=end), fontsize=9)
    _header(fig, head, i18n.text("record.instruments_title", lang))
    save_figure(fig, path)


def redraw(folder: str | os.PathLike[str], out: str | os.PathLike[str], lang: str) -> list[Path]:
    """Draw a record folder's figures again in ``lang`` into ``out``, from its saved files
    (``settings.json``, :data:`FAN_FILE` or ``fan_<origin>.csv``, ``instruments.csv`` with
    ``goals.csv``): the same figures the command drew, in another language, without a model run.
    A figure whose table the folder lacks (folders written before the fan tables were saved) is
    skipped.

    Returns:
        The figures written.
    """
    folder, out = Path(folder), Path(out)
    settings = json.loads((folder / "settings.json").read_text(encoding="utf-8"))
    head = Head(settings["scenario"], int(settings["total_firms"]), int(settings["particles"]), i18n.check_lang(lang))
    written: list[Path] = []
    if (folder / FAN_FILE).is_file():
        title = i18n.text("record.match_title", lang, scenario=i18n.scenario_title(head.scenario, lang))
        out.mkdir(parents=True, exist_ok=True)
        written.append(out / "predictive.png")
        draw_predictive(pd.read_csv(folder / FAN_FILE), head, written[-1], title)
    for path in sorted(folder.glob("fan_*.csv")):
        origin = path.stem.removeprefix("fan_")
        out.mkdir(parents=True, exist_ok=True)
        written.append(out / f"fan_{origin}.png")
        draw_backtest(pd.read_csv(path), origin, head, written[-1])
    if (folder / "instruments.csv").is_file() and (folder / "goals.csv").is_file():
        end = str(pd.read_csv(folder / "goals.csv")["date"].iloc[0])
        out.mkdir(parents=True, exist_ok=True)
        written.append(out / "instruments.png")
        draw_instruments(pd.read_csv(folder / "instruments.csv"), end, head, written[-1])
    return written
