"""Shared drawing helpers: colours, resolution, number formats, time axes, bands.

Every figure's header (scenario, population scale, replicates, caveat line) is drawn by
:func:`sim.i18n.header.figure_header`, the one helper the analysis figures use too.
"""

from __future__ import annotations

import os
import re
import textwrap
from pathlib import Path

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter, ScalarFormatter

from sim import i18n
from sim.analysis.summary import bands
from sim.fileio import FIGURE_DPI, save_figure
from sim.i18n.fonts import register_cjk_font
from sim.plots.parallel import throwaway_process

register_cjk_font()  # Chinese labels in every figure drawn with these helpers

DPI = FIGURE_DPI
"""Resolution of every written figure (report, comparison and analysis figures alike)."""

SIM_COLOR = "#1f5fa8"
GOAL_COLOR = "#c0392b"
AHEAD_COLOR = "#2e8b57"
REPORTED_COLOR = "#222222"
PALETTE = ("#1f5fa8", "#e67e22", "#27ae60", "#8e44ad", "#7f8c8d", "#c71585", "#17becf",
           "#8c564b", "#bcbd22", "#000000")

_CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")
_DATE_IN_PARENS = re.compile(r"\((\d{4}-\d{2}(?:-\d{2})?)\)")


def thousands(x: float, _pos: object = None) -> str:
    """Tick label with thousands separators and the one minus sign (``1,000,000``, ``−5,000``)."""
    return i18n.minus(f"{x:,.0f}")


def plain_axis(ax: Axes, axis: str = "both") -> None:
    """No scientific offset (``1e9``) or multiplier on the axis: full numbers with separators."""
    for a in ((ax.xaxis, ax.yaxis) if axis == "both" else (getattr(ax, f"{axis}axis"),)):
        fmt = a.get_major_formatter()
        if isinstance(fmt, ScalarFormatter):
            fmt.set_useOffset(False)
            fmt.set_scientific(False)


def dates(values: pd.Series) -> pd.Series:
    """ISO date strings as timestamps."""
    return pd.to_datetime(values.astype(str))


def format_time_axis(ax: Axes, *, labelsize: float | None = None) -> None:
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


def band_frame(rows: pd.DataFrame, metric: str, by: list[str]) -> pd.DataFrame:
    """Median and 10-90% band of ``metric`` per group, with a timestamp column ``t``."""
    b = bands(rows, metrics=[metric], by=by)
    b["t"] = dates(b["date"])
    return b.sort_values("t", kind="stable")


def draw_band(ax: Axes, b: pd.DataFrame, *, color: str, label: str | None,
              band_label: str | None) -> None:
    """A median line over its 10-90% band."""
    ax.fill_between(b["t"], b["p10"], b["p90"], color=color, alpha=0.22, linewidth=0,
                    label=band_label)
    ax.plot(b["t"], b["median"], color=color, linewidth=2.0, label=label)


_CJK_NAME = re.compile(r"[0-9A-Za-z.]*[\u4e00-\u9fff〔〕（）()—0-9.]*[\u4e00-\u9fff][\u4e00-\u9fff〔〕（）()—0-9.]*")


def short_source(source: str, lang: str = "en") -> str:
    """A source citation shortened to its Latin-script head for a footnote.

    Of the segments (separated by ``;``) the first one without Chinese characters is kept, cut to
    its first clause plus a date in parentheses, e.g. ``"Xinhua, China's ... (2021-04-05)"`` ->
    ``"Xinhua (2021-04-05)"``; a source written only in Chinese becomes ``"official document
    (<date>)"``.

    In Chinese (``lang="zh"``) the first Chinese name in the citation is kept (``粤府〔2018〕23号
    (2018-03-20)``, ``21世纪经济报道``); a citation without one becomes its publisher's Chinese
    name (the ``source.<head>`` rows of ``sim/i18n/terms.csv``: ``Xinhua`` is ``新华社``).
    """
    if lang != "en":
        return _short_source_zh(source, lang)
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


def _short_source_zh(source: str, lang: str) -> str:
    m = _DATE_IN_PARENS.search(source)
    date = f"（{m.group(1)}）" if m else ""
    name = _CJK_NAME.search(source)
    if name:
        head = name.group(0).strip("（(")
        return head if (m and m.group(1) in head) else head + date
    english = short_source(source)
    head = english.split(" (")[0]
    key = f"source.{head}"
    return i18n.text(key, lang) + date if key in i18n.keys() else english


def set_title(ax: Axes, text: str, **kwargs: object) -> None:
    """``ax.set_title(text, **kwargs)`` placed at the top of the axes (``y=1.0``) once and for all.

    A title placed automatically is moved above any tick labels or axis label at the top of its
    axes. To find out, matplotlib computes the tight boxes of both axes' ticks and labels
    again every time the figure is laid out or drawn (the constrained layout's two passes and
    the draw): about a third of the CPU of the 20-panel clusters figure. Run figures have
    nothing at the top of an axes, so their titles always stay at ``y=1.0``: the same pixels
    (tested) for less work.
    """
    ax.set_title(text, y=1.0, **kwargs)


def footnote(ax: Axes, text: str) -> None:
    """Small grey text under an axes (sources, scaling notes)."""
    width = 130 if not _CJK.search(text) else 75
    ax.annotate(textwrap.fill(text, width), xy=(0.0, 0.0), xycoords="axes fraction",
                xytext=(0, -34), textcoords="offset points", ha="left", va="top",
                fontsize=7, color="#444444")


def save(fig: Figure, path: str | os.PathLike[str]) -> Path:
    """Write a PNG at :data:`DPI` (RGB: :func:`sim.fileio.save_figure`), atomically, and free the
    figure's artists (not in a figure process that exits after drawing: clearing re-creates every
    axis' ticks, ~5% of a figure's CPU)."""
    try:
        return save_figure(fig, path, rgb=True)
    finally:
        if not throwaway_process():
            fig.clear()
