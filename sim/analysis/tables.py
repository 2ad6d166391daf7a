"""Report tables for Excel and pandas: a wide one-row-per-scenario table, group progress tables,
the provincial series, and ``results.xlsx`` holding them on separate sheets.

CSV columns are stable English identifiers in both languages (code that reads them works
whatever ``--lang`` was); a ``*_name`` column carries the human name in the run's language. With
``lang="zh"`` CSVs are written as UTF-8 with a byte-order mark (``utf-8-sig``) so that Excel
opens them with Chinese text intact; ``pd.read_csv`` reads both (pass ``encoding="utf-8-sig"``
to drop the mark from the first header). In ``results.xlsx`` the headers are in the run's
language.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from sim import i18n
from sim.analysis.goal_list import goal_table
from sim.analysis.progress import LEVELS, progress_table
from sim.analysis.summary import bands
from sim.core.outputs import select
from sim.fileio import atomic_write
from sim.xlsx import Sheet, Value, write_workbook

WIDE = "wide.csv"
XLSX = "results.xlsx"
PROGRESS = "progress_{level}.csv"
PROVINCIAL = "provincial.csv"
GOALS = "goals.csv"

PROVINCIAL_METRICS: list[str] = ["n_firms", "cloud_cumulative", "cloud_active", "transformed",
                                 "waiting", "voucher_spend_cny"]
"""Metrics of the provincial series table (median, p10, p90 per month end)."""

DECIMALS: dict[str, int] = {"firms": 1, "probability": 4, "CNY": 0, "share": 4, "ratio": 3}
"""Decimals kept per unit, as in ``summary.csv`` (:data:`sim.analysis.summary.SUMMARY_DECIMALS`):
a count's statistic to a tenth of a firm, money to the yuan, a probability to 0.01 percentage
point (far finer than its Monte Carlo error at any feasible replicate count)."""


def csv_encoding(lang: str) -> str:
    """``utf-8-sig`` (with a byte-order mark, for Excel) for Chinese, ``utf-8`` otherwise."""
    return "utf-8-sig" if i18n.check_lang(lang) == "zh" else "utf-8"


def write_column_names(table: str | os.PathLike[str], columns, lang: str = "en",
                       names: Mapping[str, str] | None = None) -> Path:
    """Write the names of a wide table's columns in ``lang`` beside it: ``<table>_columns.csv``
    (``column, column_name``; :func:`sim.i18n.columns.column_table`). Returns its path."""
    from sim.i18n.columns import column_table

    table = Path(table)
    path = table.with_name(f"{table.stem}_columns.csv")
    return write_csv(path, column_table(columns, lang, names), lang)


def write_csv(path: str | os.PathLike[str], frame: pd.DataFrame, lang: str = "en") -> Path:
    """Write a table as CSV atomically in the encoding for ``lang`` (``\\n`` line ends)."""
    text = frame.to_csv(index=False, lineterminator="\n")
    return atomic_write(path, lambda p: p.write_bytes(text.encode(csv_encoding(lang))))


def round_meaningful(frame: pd.DataFrame, unit_of: Mapping[str, str]) -> pd.DataFrame:
    """Round float columns to :data:`DECIMALS` of their unit (``unit_of``: column -> unit)."""
    out = frame.copy()
    for col, unit in unit_of.items():
        if col in out.columns and pd.api.types.is_float_dtype(out[col]):
            out[col] = out[col].round(DECIMALS.get(unit, 3))
    return out


def round_goal_table(table: pd.DataFrame) -> pd.DataFrame:
    """Round a goal table: values and targets of rate goals as shares, of count goals as firms,
    probabilities as probabilities (:data:`DECIMALS`)."""
    out = table.copy()
    rate = out["indicator"].str.endswith("_rate").to_numpy()
    for col in ("target", "value_median", "value_p10", "value_p90"):
        v = out[col].astype(float)
        out[col] = v.round(DECIMALS["share"]).where(rate, v.round(DECIMALS["firms"]))
    for col in ("p_meet", "p_meet_mc_se"):
        out[col] = out[col].astype(float).round(DECIMALS["probability"])
    return out


def format_table(frame: pd.DataFrame, formats: Mapping[str, str]) -> pd.DataFrame:
    """A copy of ``frame`` with the given columns formatted as text for display.

    Args:
        frame: Any table.
        formats: Column -> format string, e.g. ``{"firms": "{:,.0f}", "share": "{:.0%}"}``.
            Missing values show as empty cells; negative numbers use the one minus sign.

    Example:
        >>> import pandas as pd
        >>> format_table(pd.DataFrame({"gap": [-1234.0, None]}), {"gap": "{:+,.0f}"})["gap"].tolist()
        ['−1,234', '']
    """
    out = frame.copy()
    for col, fmt in formats.items():
        out[col] = [i18n.minus(fmt.format(v)) if pd.notna(v) else "" for v in out[col]]
    return out


# --------------------------------------------------------------------------- wide tables


def _is_group_row(outcome: str) -> bool:
    """A city or cluster gap row (``city_gap:Shenzhen``); the rows of ``goals.more``
    (``goal:...``, ``p_meet:...``) are scenario-level and stay in the wide table."""
    return outcome.startswith(("city_gap:", "cluster_gap:"))


def wide_table(summary: pd.DataFrame, *, config=None) -> pd.DataFrame:
    """One row per scenario from a (typed) summary table, for reports.

    Columns: ``scenario``, and if ``config`` is given ``total_firms`` and ``goal_date``; then per
    outcome: ``<outcome>_median``, ``_p10``, ``_p90`` for counts and money; ``<outcome>`` and
    ``<outcome>_mc_se`` for probabilities; ``<outcome>_median`` (text, month) for first-met
    months. Group gaps (``cluster_gap:...``) are left out: they differ between scenarios.
    """
    rows = []
    for name, sub in summary.groupby("scenario", sort=False):
        row: dict[str, object] = {"scenario": name}
        if config is not None:
            row["total_firms"] = int(config.population.total_firms)
            row["goal_date"] = config.goals.date
        row["n_replicates"] = int(sub["n_replicates"].iloc[0])
        for r in sub.itertuples(index=False):
            if _is_group_row(r.outcome):
                continue
            if r.unit == "probability":
                row[r.outcome] = r.mean
                row[f"{r.outcome}_mc_se"] = r.mc_se
            elif r.unit == "month end":
                for stat in ("median", "p10", "p90"):
                    row[f"{r.outcome}_{stat}"] = _month_value(r, stat)
            else:
                for stat in ("median", "p10", "p90"):
                    row[f"{r.outcome}_{stat}"] = getattr(r, stat)
        rows.append(row)
    return pd.DataFrame(rows)


def _month_value(row: object, stat: str) -> str:
    """The month of a first-met outcome: the typed ``<stat>_month`` column, else ``<stat>``."""
    v = getattr(row, f"{stat}_month", None)
    if v is None:
        v = getattr(row, stat)
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    return str(v)


def wide_differences(differences: pd.DataFrame) -> pd.DataFrame:
    """One row per compared scenario: every paired difference vs the reference in columns
    ``<outcome>_diff_<stat>`` (median, p10, p90, mean, ci_low, ci_high)."""
    rows = []
    for (name, ref), sub in differences.groupby(["scenario", "reference"], sort=False):
        row: dict[str, object] = {"scenario": name, "reference": ref,
                                  "n_pairs": int(sub["n_pairs"].iloc[0])}
        for r in sub.itertuples(index=False):
            for stat in ("median", "p10", "p90", "mean", "ci_low", "ci_high"):
                row[f"{r.outcome}_diff_{stat}"] = getattr(r, stat)
        rows.append(row)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- series and groups


def provincial_table(ts: pd.DataFrame) -> pd.DataFrame:
    """Provincial series per month end: median, p10 and p90 over replicates of each metric."""
    b = bands(select(ts, "province"), metrics=PROVINCIAL_METRICS, by=["date"])
    wide = b.pivot(index="date", columns="metric", values=["median", "p10", "p90"])
    wide.columns = [f"{metric}_{stat}" for stat, metric in wide.columns]
    cols = [f"{m}_{s}" for m in PROVINCIAL_METRICS for s in ("median", "p10", "p90")]
    return wide[cols].reset_index().sort_values("date", kind="stable").reset_index(drop=True)


def group_table(ts: pd.DataFrame, goals, level: str, config=None, lang: str = "en") -> pd.DataFrame:
    """:func:`sim.analysis.progress.progress_table` with a ``group_name`` column in ``lang`` and
    shares rounded to four decimals, counts to one."""
    tab = progress_table(ts, goals, level, config)
    tab.insert(2, "group_name", [i18n.group_name(level, g, lang) for g in tab["group"]])
    return round_meaningful(tab, {c: _group_unit(c) for c in tab.columns
                                  if c not in ("level", "group", "group_name", "n_replicates")})


def _group_unit(column: str) -> str:
    """Unit of a progress-table column: ``*_goal_share_*`` is the group's proportional share of a
    goal, in firms; other shares and the progress ratios are shares; counts are firms."""
    if "goal_share" in column:
        return "firms"
    return "share" if ("share" in column or "progress" in column) else "firms"


# --------------------------------------------------------------------------- Excel


def readable_summary(summary: pd.DataFrame, lang: str) -> pd.DataFrame:
    """The summary as a report sheet: an ``outcome_name`` column and the units in ``lang``
    (the ``note`` column is already in the run's language; ``summary.csv`` keeps the unit
    identifiers, which code reads)."""
    summ = summary.copy()
    names = [i18n.outcome_name(o, lang) for o in summ["outcome"]]
    if "outcome_name" in summ.columns:  # a summary written before the column existed has none
        summ["outcome_name"] = names
    else:
        summ.insert(2, "outcome_name", names)
    keys = set(i18n.keys())
    summ["unit"] = [i18n.text(k, lang) if (k := f"unit.{str(u).lower().replace(' ', '_')}") in keys else u
                    for u in summ["unit"]]
    return summ


def localized_headers(frame: pd.DataFrame, lang: str) -> pd.DataFrame:
    """Column headers in ``lang`` where the translation table names them
    (:func:`sim.i18n.columns.column_name`: ``col.<name>``, outcomes, series, statistics)."""
    if lang == "en":
        return frame
    from sim.i18n.columns import column_name

    return frame.rename(columns={c: column_name(c, lang) for c in frame.columns})


def excel_value(value: object) -> Value:
    """A table value as ``DataFrame.to_excel`` (pandas with openpyxl) writes it: missing -> empty,
    +-infinity -> the text ``inf``/``-inf``, NumPy numbers -> Python ones, anything else -> text."""
    if pd.api.types.is_scalar(value) and pd.isna(value):
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else ("inf" if value > 0 else "-inf")
    return str(value)


def write_xlsx(path: str | os.PathLike[str], sheets: Mapping[str, pd.DataFrame],
               lang: str = "en") -> Path:
    """Write tables to one Excel workbook, one sheet each, atomically (:mod:`sim.xlsx`: the
    cell values ``DataFrame.to_excel`` writes, in ~1/20 of openpyxl's CPU).

    Header row frozen and bold, columns sized to their content (up to 60 characters).
    """
    book: dict[str, Sheet] = {}
    for name, frame in sheets.items():
        frame = localized_headers(frame, lang)
        columns = [[excel_value(v) for v in frame.iloc[:, k]] for k in range(frame.shape[1])]
        rows = [[excel_value(c) for c in frame.columns], *(list(r) for r in zip(*columns, strict=True))]
        widths = [min(60, max(len(v) for v in [str(col), *(str(v) for v in frame[col].head(200))]) + 2)
                  for col in frame.columns]
        book[name[:31]] = Sheet(rows, widths)
    return write_workbook(path, book)


def write_compare_tables(folder: str | os.PathLike[str], summary: pd.DataFrame,
                         differences: pd.DataFrame | None, lang: str = "en", *,
                         config=None) -> list[Path]:
    """Write a comparison folder's ``wide.csv`` (one row per scenario; with ``config``, the
    reference scenario, also its ``total_firms`` and ``goal_date``), ``differences_wide.csv``
    (one row per compared scenario) and ``results.xlsx``."""
    out = Path(folder)
    wide = wide_table(summary, config=config)
    written = [write_csv(out / WIDE, wide, lang)]
    sheets = {"summary": readable_summary(summary, lang), "wide": wide}
    if differences is not None and not differences.empty:
        dw = wide_differences(differences)
        written.append(write_csv(out / "differences_wide.csv", dw, lang))
        sheets.update(differences=differences, differences_wide=dw)
    written.append(write_xlsx(out / XLSX, sheets, lang))
    return written


def write_report_tables(folder: str | os.PathLike[str], ts: pd.DataFrame, summary: pd.DataFrame,
                        config, goals, *, lang: str | None = None) -> list[Path]:
    """Write a run folder's report tables: ``wide.csv``, ``goals.csv`` (every listed goal:
    :func:`sim.analysis.goal_list.goal_table`), ``provincial.csv``, ``progress_city.csv``,
    ``progress_cluster.csv`` and ``results.xlsx`` (sheets summary, wide, goals, provincial, city,
    cluster).

    Args:
        folder: The run folder.
        ts: Tidy time series of all replicates.
        summary: The run's summary table.
        config: The scenario (goals as evaluated).
        goals: Goals at the population's scale.
        lang: ``"en"`` or ``"zh"`` (default: ``config.outputs.lang``).

    Returns:
        The paths written.
    """
    lang = i18n.check_lang(lang or getattr(config.outputs, "lang", "en"))
    out = Path(folder)
    wide = wide_table(summary, config=config)
    prov = provincial_table(ts)
    groups = {level: group_table(ts, goals, level, config, lang) for level in LEVELS}
    goal_rows = goal_table(ts, config)
    goal_rows.insert(2, "indicator_name", [i18n.indicator_name(x, lang) for x in goal_rows["indicator"]])
    goal_rows.insert(goal_rows.columns.get_loc("scope") + 1, "scope_name",
                     [i18n.goal_scope(x, lang) for x in goal_rows["scope"]])
    goal_rows = round_goal_table(goal_rows)
    written = [write_csv(out / WIDE, wide, lang), write_csv(out / GOALS, goal_rows, lang),
               write_csv(out / PROVINCIAL, prov, lang)]
    written += [write_csv(out / PROGRESS.format(level=lv), t, lang) for lv, t in groups.items()]
    summ = readable_summary(summary, lang)
    sheets = {"summary": summ, "wide": wide, "goals": goal_rows, "provincial": prov,
              "city": groups["city"], "cluster": groups["cluster"]}
    written.append(write_xlsx(out / XLSX, sheets, lang))
    return written

