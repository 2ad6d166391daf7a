"""Name columns of the CSV tables the analysis and record commands write.

The tables keep their English identifier columns in both languages (code that reads them works
whatever ``--lang`` was); next to a column of identifiers (``parameter``, ``outcome``,
``channel``, ``instrument`` ...) a ``<column>_name`` column carries the human names in the
figures' language, as the run folders do (``group_name``, ``outcome_name``; see
:mod:`sim.analysis.tables`, which also writes Chinese CSVs with a byte-order mark for Excel).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


def with_names(frame: pd.DataFrame, column: str, name: Callable[[str], str]) -> pd.DataFrame:
    """A copy of ``frame`` with ``<column>_name`` (``name`` of each value) right after ``column``."""
    out = frame.copy()
    out.insert(out.columns.get_loc(column) + 1, f"{column}_name", [name(str(v)) for v in out[column]])
    return out
