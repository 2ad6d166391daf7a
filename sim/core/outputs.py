"""Turn one run's per-cell monthly counts into a small tidy table.

A :class:`~sim.core.run_output.RunOutput` holds an array ``cells`` of shape
``(n_months + 1, N_CELLS, len(METRICS))``; cell id ``(cluster * 21 + city) * 4 + size_class``.
:func:`tidy_timeseries` reduces it to one row per (group, month end) where the groups are the
provincial total, the 20 clusters, the 21 cities and the 4 size classes (and optionally every
non-empty cell). A dimension that is summed over is written ``"all"``, so the provincial rows
are those with ``cluster == city == size_class == "all"``.

Row order is fixed (groups in the order total, clusters, cities, size classes, cells; months in
time order inside each group), so equal runs give byte-identical tables.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

import numpy as np
import pandas as pd

from sim import datasets
from sim.core.policies import N_CELLS, N_CITIES, N_CLUSTERS, cell_grid
from sim.core.run_output import METRICS, RunOutput

ALL = "all"
"""Label of a dimension that is summed over."""

KEY_COLUMNS: list[str] = ["replicate", "date", "cluster", "city", "size_class"]
"""Columns identifying a row."""

INT_METRICS: list[str] = [
    "n_firms", "cloud_cumulative", "cloud_active", "transformed", "new_cloud", "new_transformed",
    "waiting",
]
"""Metric columns holding firm counts (int64)."""

FLOAT_METRICS: list[str] = ["voucher_spend_cny"]
"""Metric columns holding money (float64, CNY)."""

TIMESERIES_COLUMNS: list[str] = [
    "replicate", "date", "cluster", "city", "size_class", "n_firms", "cloud_cumulative",
    "cloud_active", "transformed", "new_cloud", "new_transformed", "voucher_spend_cny", "waiting",
]
"""Columns of the tidy time series, in order."""

METRIC_COLUMNS: list[str] = TIMESERIES_COLUMNS[len(KEY_COLUMNS):]
"""The metric columns of the tidy time series (the model's METRICS, in table order)."""

Level = Literal["province", "cluster", "city", "size_class", "cell"]

_N_SIZE = len(datasets.SIZE_CLASSES)


def tidy_timeseries(out: RunOutput, *, cells: bool = False) -> pd.DataFrame:
    """Monthly counts of one run as a tidy table.

    Args:
        out: The result of one run (``CloudAdoptionModel.run()``).
        cells: Also include one row per month for every cell (cluster x city x size class)
            that has at least one firm at some month (about 60 k rows at full scale).

    Returns:
        A DataFrame with columns :data:`TIMESERIES_COLUMNS`: the provincial total, then the
        marginals by cluster, by city and by size class (other dimensions ``"all"``), then the
        cells if requested. Each group has one row per month end, the first being the initial
        state (``out.dates[0]``). Counts are int64, ``voucher_spend_cny`` is float64 (CNY
        granted in the month), ``date`` is an ISO date string (month end).

    Raises:
        ValueError: If ``out.cells`` does not have the shape the model produces.
    """
    arr = np.asarray(out.cells, dtype=np.float64)
    n_t = len(out.dates)
    expected = (n_t, N_CELLS, len(METRICS))
    if arr.shape != expected:
        raise ValueError(f"RunOutput.cells has shape {arr.shape}, expected {expected} "
                         f"(months+1, cells, metrics)")
    cube = arr.reshape(n_t, N_CLUSTERS, N_CITIES, _N_SIZE, len(METRICS))

    blocks: list[np.ndarray] = [cube.sum(axis=(1, 2, 3))[None]]  # (1, T, M)
    blocks.append(cube.sum(axis=(2, 3)).transpose(1, 0, 2))  # (clusters, T, M)
    blocks.append(cube.sum(axis=(1, 3)).transpose(1, 0, 2))  # (cities, T, M)
    blocks.append(cube.sum(axis=(1, 2)).transpose(1, 0, 2))  # (sizes, T, M)

    cl_names = np.array(datasets.cluster_ids(), dtype=object)
    ci_names = np.array(datasets.city_names(), dtype=object)
    sz_names = np.array(datasets.SIZE_CLASSES, dtype=object)
    a1 = np.array([ALL], dtype=object)
    labels = [
        (a1, a1, a1),
        (cl_names, np.repeat(a1, N_CLUSTERS), np.repeat(a1, N_CLUSTERS)),
        (np.repeat(a1, N_CITIES), ci_names, np.repeat(a1, N_CITIES)),
        (np.repeat(a1, _N_SIZE), np.repeat(a1, _N_SIZE), sz_names),
    ]
    if cells:
        keep = np.flatnonzero(arr[:, :, METRICS.index("n_firms")].max(axis=0) > 0)
        blocks.append(arr[:, keep, :].transpose(1, 0, 2))
        cl, ci, sz = cell_grid()
        labels.append((cl_names[cl[keep]], ci_names[ci[keep]], sz_names[sz[keep]]))

    values = np.concatenate(blocks, axis=0)  # (groups, T, M)
    n_groups = values.shape[0]
    values = values.reshape(n_groups * n_t, len(METRICS))
    cluster = np.repeat(np.concatenate([lab[0] for lab in labels]), n_t)
    city = np.repeat(np.concatenate([lab[1] for lab in labels]), n_t)
    size = np.repeat(np.concatenate([lab[2] for lab in labels]), n_t)
    dates = np.tile(np.array(out.dates, dtype=object), n_groups)

    data: dict[str, object] = {
        "replicate": np.full(n_groups * n_t, int(out.replicate), dtype=np.int64),
        "date": dates,
        "cluster": cluster,
        "city": city,
        "size_class": size,
    }
    for name in METRIC_COLUMNS:
        col = values[:, METRICS.index(name)]
        data[name] = np.rint(col).astype(np.int64) if name in INT_METRICS else col.astype(np.float64)
    return pd.DataFrame(data, columns=TIMESERIES_COLUMNS)


def concat_replicates(frames: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """Stack the tidy tables of several replicates into one, ordered by replicate.

    Args:
        frames: Tables from :func:`tidy_timeseries` (in any order, e.g. as workers finish).

    Returns:
        One table with the same columns, sorted by replicate (stable, so each replicate keeps
        its own row order) and with a fresh 0..n-1 index.

    Raises:
        ValueError: If there are no frames, a frame lacks columns, or two frames hold the same
            replicate.
    """
    frames = list(frames)
    if not frames:
        raise ValueError("concat_replicates needs at least one frame")
    seen: set[int] = set()
    for f in frames:
        missing = [c for c in TIMESERIES_COLUMNS if c not in f.columns]
        if missing:
            raise ValueError(f"frame lacks columns {missing}")
        reps = set(pd.unique(f["replicate"]).tolist())
        dup = seen & reps
        if dup:
            raise ValueError(f"replicate(s) {sorted(dup)} appear in more than one frame")
        seen |= reps
    ts = pd.concat([f[TIMESERIES_COLUMNS] for f in frames], ignore_index=True)
    return ts.sort_values("replicate", kind="stable").reset_index(drop=True)


def level_mask(ts: pd.DataFrame, level: Level) -> pd.Series:
    """Boolean mask of the rows of one aggregation level.

    Args:
        ts: A tidy time series.
        level: ``"province"`` (all three dimensions summed), ``"cluster"``, ``"city"`` or
            ``"size_class"`` (marginal of that dimension), or ``"cell"`` (no dimension summed).

    Returns:
        A boolean Series aligned with ``ts``.
    """
    a = {d: ts[d] == ALL for d in ("cluster", "city", "size_class")}
    if level == "province":
        return a["cluster"] & a["city"] & a["size_class"]
    if level == "cell":
        return ~a["cluster"] & ~a["city"] & ~a["size_class"]
    if level not in a:
        raise ValueError(f"unknown level {level!r}; allowed: province, cluster, city, size_class, cell")
    others = [d for d in a if d != level]
    return ~a[level] & a[others[0]] & a[others[1]]


def select(ts: pd.DataFrame, level: Level) -> pd.DataFrame:
    """The rows of one aggregation level (see :func:`level_mask`)."""
    return ts.loc[level_mask(ts, level)]
