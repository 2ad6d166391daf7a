"""Name columns of the CSV tables the analysis and record commands write.

The tables keep their English identifier columns in both languages (code that reads them works
whatever ``--lang`` was); next to a column of identifiers (``parameter``, ``outcome``,
``channel``, ``instrument`` ...) a ``<column>_name`` column carries the human names in the
figures' language, as the run folders do (``group_name``, ``outcome_name``; see
:mod:`sim.analysis.tables`, which also writes Chinese CSVs with a byte-order mark for Excel).

A wide table, with one column per parameter or outcome (``samples_outputs.csv``,
``discovery_cases.csv``, ``point_summary.csv``), keeps its identifier headers too; its columns'
names in the language are in a table beside it, ``<table>_columns.csv`` (:func:`column_table`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

from sim import i18n

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


def with_names(frame: pd.DataFrame, column: str, name: Callable[[str], str]) -> pd.DataFrame:
    """A copy of ``frame`` with ``<column>_name`` (``name`` of each value) right after ``column``."""
    out = frame.copy()
    out.insert(out.columns.get_loc(column) + 1, f"{column}_name", [name(str(v)) for v in out[column]])
    return out


STAT_SUFFIXES = ("ci_low", "ci_high", "mc_se", "median", "p10", "p90", "mean")
"""Suffixes of a wide table's statistic columns (``cloud_firms_median``, ``cloud_firms_diff_ci_low``):
named "<name> (<statistic>)"."""


def _base_name(column: str, lang: str) -> str:
    """The name of a column without a statistic suffix: ``col.<column>``, the outcome's name,
    ``metric.<column>`` (a series of the time series), or ``<name> difference`` for ``<x>_diff``."""
    if f"col.{column}" in i18n.keys():
        return i18n.text(f"col.{column}", lang)
    try:
        name = i18n.outcome_name(column, lang)
    except (KeyError, ValueError):  # "x:y" of an unknown prefix: not an outcome
        name = column
    if name != column:
        return name
    if f"metric.{column}" in i18n.keys():
        return i18n.text(f"metric.{column}", lang)
    if column.endswith("_diff"):
        inner = _base_name(column.removesuffix("_diff"), lang)
        if inner != column.removesuffix("_diff"):
            return i18n.text("col.diff_of", lang, name=inner[:1].lower() + inner[1:] if lang == "en" else inner)
    return column


def column_name(column: str, lang: str = "en") -> str:
    """Human name of a column of a wide table or workbook sheet: the ``col.<column>`` row, else the
    outcome's name (``outcome.<column>``), the series' name (``metric.<column>``), ``<name>
    difference`` (``<x>_diff``), each with ``(<statistic>)`` for a suffix of
    :data:`STAT_SUFFIXES`; else the column as written."""
    if f"col.{column}" in i18n.keys():
        return i18n.text(f"col.{column}", lang)
    for stat in STAT_SUFFIXES:  # first: a goal label's date must not swallow the suffix
        base = column.removesuffix(f"_{stat}")
        if base != column and base:
            inner = _base_name(base, lang)
            if inner != base:
                stat_name = i18n.text(f"col.{stat}", lang)
                return f"{inner} ({stat_name})" if lang == "en" else f"{inner}（{stat_name}）"
    return _base_name(column, lang)


def column_table(columns: Iterable[str], lang: str = "en", names: Mapping[str, str] | None = None) -> pd.DataFrame:
    """The names of a wide table's columns (parameters and outcomes, one column each), as a table
    ``column, column_name`` in ``lang``: ``names`` first (e.g. the parameters' labels), else
    :func:`column_name`. Written next to the wide table as ``<table>_columns.csv``."""
    import pandas as pd

    names = names or {}
    return pd.DataFrame({"column": list(columns),
                         "column_name": [names.get(c) or column_name(c, lang) for c in columns]})
