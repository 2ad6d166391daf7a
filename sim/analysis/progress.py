"""Progress of each city and cluster toward both goals, relative to the group's own size.

Absolute gaps mostly show how big a city is; a report needs to know which groups are behind for
their size. For every group (city or cluster) at the goal date this module gives

* the share of the group's own firms on the cloud (``cloud_share_of_firms``);
* the share of the group's own above-scale firms that are digitally transformed
  (``transformed_share_of_above_scale``);
* progress toward a *proportional share* of each goal: the group's value divided by
  ``goal x the group's share`` (``cloud_progress``, ``transformed_progress``; 1.0 = on track for
  its share). The cloud goal is shared by the group's share of all firms (as
  :func:`sim.analysis.summary.group_gaps` does); the transformation goal by its share of
  above-scale firms.

The tidy time series holds firm counts per group but not above-scale firms per group, so the
above-scale firms of a group are its expected share of the provincial above-scale firms (size
classes ``lead`` + ``above_scale``), with the weights the population builder places them by:
cities by their 2021 above-scale firms (``datasets.above_scale_by_city``), clusters by the
cluster shares (``cluster_assumptions.csv`` or ``population.cluster_shares``).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from sim import datasets
from sim.analysis.outcomes import goal_date
from sim.core.outputs import select
from sim.scenario.schema import Goals, Scenario

LEVELS: tuple[str, ...] = ("city", "cluster")
"""Group levels with progress tables."""

ABOVE_SCALE_CLASSES: tuple[str, ...] = ("lead", "above_scale")
"""Size classes counted as above-scale industrial firms (the transformation goal's firms)."""

PROGRESS_COLUMNS: list[str] = [
    "replicate", "level", "group", "n_firms", "firm_share", "cloud_firms", "cloud_share_of_firms",
    "cloud_goal_share", "cloud_progress", "above_scale_firms", "above_scale_share",
    "transformed_firms", "transformed_share_of_above_scale", "transformed_goal_share",
    "transformed_progress",
]
"""Columns of :func:`group_progress` (``*_goal_share`` are the group's proportional goals)."""

STAT_COLUMNS: list[str] = [
    "cloud_firms", "cloud_share_of_firms", "cloud_goal_share", "cloud_progress",
    "transformed_firms", "transformed_share_of_above_scale", "transformed_goal_share",
    "transformed_progress",
]
"""Columns summarised (median, p10, p90) by :func:`progress_table`."""


def above_scale_weights(level: str, config: Scenario | None = None) -> dict[str, float]:
    """Expected share of the above-scale firms in each group (sums to 1).

    Args:
        level: ``"city"`` or ``"cluster"``.
        config: The scenario (its ``population.cluster_shares`` override is used); default the
            shipped cluster shares.
    """
    if level == "city":
        w = datasets.above_scale_by_city(2021)
    elif level == "cluster":
        w = {c.cluster_id: c.firm_share for c in datasets.clusters()}
        override: Mapping[str, float] | None = config.population.cluster_shares if config else None
        if override:
            w.update(override)
    else:
        raise ValueError(f"unknown level {level!r}; allowed: {', '.join(LEVELS)}")
    total = sum(w.values())
    return {k: v / total for k, v in w.items()}


def group_progress(ts: pd.DataFrame, goals: Goals, level: str,
                   config: Scenario | None = None) -> pd.DataFrame:
    """Each group's progress toward both goals at the goal date, per replicate.

    Args:
        ts: Tidy time series (provincial, size-class and ``level`` rows are used).
        goals: Goals at the population's scale (:func:`sim.analysis.summary.scaled_goals`).
        level: ``"city"`` or ``"cluster"``.
        config: The scenario (for a ``population.cluster_shares`` override).

    Returns:
        One row per (replicate, group), columns :data:`PROGRESS_COLUMNS`.

    Raises:
        ValueError: Unknown level, or the series does not reach the goal month.
    """
    weights = above_scale_weights(level, config)
    prov_all = select(ts, "province")
    if prov_all.empty:
        raise ValueError("the time series has no provincial rows (cluster = city = size_class = 'all')")
    # the goal month's date as goal_outcomes reads it (without its other outcomes: ~5 ms)
    gdate = goal_date(prov_all.sort_values(["replicate", "date"], kind="stable"), goals)
    at = ts[ts["date"] == gdate]
    prov = select(at, "province").set_index("replicate")
    sizes = select(at, "size_class")
    above = (sizes[sizes["size_class"].isin(ABOVE_SCALE_CLASSES)]
             .groupby("replicate")["n_firms"].sum())
    rows = select(at, level)
    reps = rows["replicate"].to_numpy()
    groups = rows[level].to_numpy(dtype=object)
    n = rows["n_firms"].to_numpy(dtype=np.float64)
    share = n / prov.loc[reps, "n_firms"].to_numpy(dtype=np.float64)
    w = np.array([weights.get(g, np.nan) for g in groups])
    above_g = above.reindex(reps).to_numpy(dtype=np.float64) * w
    cloud = rows["cloud_cumulative"].to_numpy(dtype=np.float64)
    trans = rows["transformed"].to_numpy(dtype=np.float64)
    cloud_goal = goals.cloud_firms * share
    trans_goal = goals.transformed_firms * w
    with np.errstate(divide="ignore", invalid="ignore"):
        out = pd.DataFrame({
            "replicate": reps.astype(np.int64), "level": level, "group": groups,
            "n_firms": n.astype(np.int64), "firm_share": share,
            "cloud_firms": cloud.astype(np.int64), "cloud_share_of_firms": cloud / n,
            "cloud_goal_share": cloud_goal, "cloud_progress": cloud / cloud_goal,
            "above_scale_firms": above_g, "above_scale_share": w,
            "transformed_firms": trans.astype(np.int64),
            "transformed_share_of_above_scale": trans / above_g,
            "transformed_goal_share": trans_goal, "transformed_progress": trans / trans_goal,
        })
    return out[PROGRESS_COLUMNS]


def progress_table(ts: pd.DataFrame, goals: Goals, level: str,
                   config: Scenario | None = None) -> pd.DataFrame:
    """Median and 10-90% band over replicates of :func:`group_progress`, one row per group.

    Returns:
        Columns ``level``, ``group``, ``n_replicates`` and, for every column of
        :data:`STAT_COLUMNS`, ``<column>_median``, ``<column>_p10``, ``<column>_p90``; groups in
        the table order of the series.
    """
    gp = group_progress(ts, goals, level, config)
    g = gp.groupby("group", sort=False)[STAT_COLUMNS]
    parts = {"median": g.median(), "p10": g.quantile(0.1), "p90": g.quantile(0.9)}
    out = pd.DataFrame(index=parts["median"].index)
    for col in STAT_COLUMNS:
        for stat, frame in parts.items():
            out[f"{col}_{stat}"] = frame[col]
    out.insert(0, "n_replicates", gp.groupby("group", sort=False)["replicate"].nunique())
    out.insert(0, "level", level)
    return out.reset_index()
