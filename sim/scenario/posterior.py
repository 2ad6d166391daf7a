"""Saved posteriors: jointly drawn parameter sets a scenario can take its uncertainty from.

A posterior is a CSV file with one column per dotted scenario key and a ``weight`` column (one
row per parameter set, e.g. the final particles of a history match:
:func:`sim.analysis.history_match.save_posterior`). A scenario names it with ``posterior:``,
either by a shipped name (``scenarios/posteriors/<name>.csv``) or by a path to a ``.csv`` file;
each replicate then draws ONE row (by weight) from its uncertainties stream, so parameters that
trade off keep their joint distribution, and replicate r of every scenario naming the same
posterior draws the same row (common random numbers).
"""

from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path

import numpy as np

from sim.scenario.locations import scenarios_dir

WEIGHT = "weight"


def posteriors_dir() -> Path:
    """Folder of the shipped posteriors (``scenarios/posteriors``)."""
    return scenarios_dir() / "posteriors"


def posterior_file(ref: str) -> Path:
    """The CSV a ``posterior:`` value names.

    Raises:
        ValueError: No such file (the message lists the shipped names).
    """
    if ref.endswith(".csv"):
        path = Path(ref)
    else:
        path = posteriors_dir() / f"{ref}.csv"
    if not path.is_file():
        names = ", ".join(sorted(p.stem for p in posteriors_dir().glob("*.csv"))) or "none"
        raise ValueError(f"no posterior {ref!r} (a .csv path, or a shipped name: {names})")
    return path


@lru_cache(maxsize=8)
def _read(path: str, mtime_ns: int) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    if not rows or WEIGHT not in rows[0]:
        raise ValueError(f"posterior {path}: needs a header with dotted keys and a {WEIGHT!r} column")
    header = rows[0]
    try:
        table = np.array([[float(x) for x in r] for r in rows[1:]], dtype=float)
    except ValueError as exc:
        raise ValueError(f"posterior {path}: every value must be a number ({exc})") from None
    if table.size == 0:
        raise ValueError(f"posterior {path}: no rows")
    wi = header.index(WEIGHT)
    w = table[:, wi]
    if np.any(w < 0) or not w.sum() > 0:
        raise ValueError(f"posterior {path}: weights must be >= 0 with a positive sum")
    paths = tuple(h for i, h in enumerate(header) if i != wi)
    values = np.delete(table, wi, axis=1)
    return paths, values, w / w.sum()


def read_posterior(ref: str) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    """``(paths, values (rows x paths), normalised weights)`` of a posterior (cached by file)."""
    path = posterior_file(ref)
    return _read(str(path.resolve()), path.stat().st_mtime_ns)


def draw_row(ref: str, u: float) -> dict[str, float]:
    """The parameter set of the row that the uniform number ``u`` selects (weighted inverse CDF)."""
    paths, values, w = read_posterior(ref)
    i = int(np.searchsorted(np.cumsum(w), u, side="right"))
    i = min(i, len(w) - 1)
    return {p: float(v) for p, v in zip(paths, values[i], strict=True)}
