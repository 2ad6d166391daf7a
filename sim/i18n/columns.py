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


STAT_SUFFIXES = ("median", "p10", "p90", "mean")
"""Suffixes of a wide table's summary columns (``cloud_firms_median``): named "<outcome> (median)"."""


def column_name(column: str, lang: str = "en") -> str:
    """Human name of a column of a wide table: the ``col.<column>`` row, else the outcome's name
    (``outcome.<column>``), else ``<outcome> (<statistic>)`` for ``<outcome>_median`` and the like,
    else the column as written."""
    if f"col.{column}" in i18n.keys():
        return i18n.text(f"col.{column}", lang)
    name = i18n.outcome_name(column, lang)
    if name != column:
        return name
    base, _, stat = column.rpartition("_")
    if stat in STAT_SUFFIXES and base:
        inner = column_name(base, lang)
        if inner != base:
            stat_name = i18n.text(f"col.{stat}", lang)
            return f"{inner} ({stat_name})" if lang == "en" else f"{inner}（{stat_name}）"
    return column


def column_table(columns: Iterable[str], lang: str = "en", names: Mapping[str, str] | None = None) -> pd.DataFrame:
    """The names of a wide table's columns (parameters and outcomes, one column each), as a table
    ``column, column_name`` in ``lang``: ``names`` first (e.g. the parameters' labels), else
    :func:`column_name`. Written next to the wide table as ``<table>_columns.csv``."""
    import pandas as pd

    names = names or {}
    return pd.DataFrame({"column": list(columns),
                         "column_name": [names.get(c) or column_name(c, lang) for c in columns]})
