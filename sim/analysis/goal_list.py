"""Every listed goal of a scenario, evaluated per replicate on the tidy time series.

A scenario's goals are the plan's two headline goals (``goals.date``, ``goals.cloud_firms``,
``goals.transformed_firms``; the old two-goal form) and the list ``goals.more`` of further goals,
each an indicator, a value and a due month (:class:`sim.scenario.schema.Goal`). This module reads
the simulated value of any goal and says whether it is met:

* counts (``cloud_firms``, ``transformed_firms``, and the 12-month flows ``*_added``) are given
  for the full 2,000,000-firm population; a run of N firms meets one when its count is at least
  ``ceil(value x N / 2,000,000)``, computed exactly in integers (the one goal-outcome rule,
  :func:`sim.analysis.outcomes.scaled_goal`);
* rates are shares: the count over the firms present of the indicator (all firms, SMEs, or
  above-scale firms) or, with ``denominator_firms``, over that many firms scaled to N; a rate
  goal is met when the share is at least the value.

A goal whose month (or, for a flow, its 12 months) lies outside the run is *not evaluable*
(value NaN, ``met`` NA) rather than missed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.analysis.outcomes import scaled_goal
from sim.core.outputs import ALL
from sim.core.population import DEFAULT_TOTAL_FIRMS
from sim.scenario.schema import GOAL_RATES, Goal, Scenario

LISTED_GOAL_COLUMNS: list[str] = ["replicate", "goal", "indicator", "date", "value", "target", "met"]
"""Columns of :func:`listed_goal_outcomes`."""

SME_CLASSES = ("industrial_sme", "service_sme")
"""Size classes counted as SMEs by the ``sme_cloud_rate`` indicator."""


def scaled_count(value: float, total_firms: int) -> int:
    """A count goal at a population of ``total_firms``: the one goal-outcome rule of
    :func:`sim.analysis.outcomes.scaled_goal` (``ceil(value x total_firms / 2,000,000)``), for a
    goal value given as a number."""
    return scaled_goal(round(value), total_firms)


def listed_goals(config: Scenario) -> list[Goal]:
    """The headline goals (as :class:`Goal` items) followed by ``goals.more``."""
    g = config.goals
    head = [
        Goal(indicator="cloud_firms", value=g.cloud_firms, date=g.date, scope="headline goal",
             source="goals.cloud_firms"),
        Goal(indicator="transformed_firms", value=g.transformed_firms, date=g.date, scope="headline goal",
             source="goals.transformed_firms"),
    ]
    return head + list(g.more)


def goal_label(goal: Goal) -> str:
    """Short label of a goal, e.g. ``sme_cloud_rate>=0.4@2027-12``."""
    value = f"{goal.value:g}" if goal.indicator in GOAL_RATES else str(round(goal.value))
    return f"{goal.indicator}>={value}@{goal.date}"


def _series(ts: pd.DataFrame, size_classes: tuple[str, ...] | None) -> pd.DataFrame:
    """Per replicate and month: firms, cloud firms, transformed, new cloud, new transformed."""
    cols = ["n_firms", "cloud_cumulative", "transformed", "new_cloud", "new_transformed"]
    if size_classes is None:
        rows = ts[(ts["cluster"] == ALL) & (ts["city"] == ALL) & (ts["size_class"] == ALL)]
    else:
        rows = ts[(ts["cluster"] == ALL) & (ts["city"] == ALL) & ts["size_class"].isin(size_classes)]
    out = rows.groupby(["replicate", "date"], sort=True)[cols].sum()
    return out


def _group(goal: Goal) -> tuple[str, ...] | None:
    """Size classes an indicator counts (None: all firms)."""
    if goal.indicator == "sme_cloud_rate":
        return SME_CLASSES
    if goal.indicator == "transformed_rate":
        return ("lead", "above_scale")
    return None


def _path(goal: Goal, config: Scenario, table: pd.DataFrame) -> pd.Series:
    """Simulated value of ``goal``'s indicator at every month (``table``: :func:`_series` of its
    group, indexed by replicate and date); a 12-month flow is NaN in a replicate's first 12 months."""
    if goal.indicator in ("cloud_firms", "transformed_firms"):
        return table["cloud_cumulative" if goal.indicator == "cloud_firms" else "transformed"].astype(float)
    if goal.indicator in ("cloud_firms_added", "transformed_firms_added"):
        col = "new_cloud" if goal.indicator == "cloud_firms_added" else "new_transformed"
        # the 12 months up to each date; NaN until 12 months after the start month are in the run
        # (the start month holds the initial state, not a month of adoption)
        flows = table[col].astype(float).groupby(level="replicate", sort=False)
        summed = flows.transform(lambda x: x.rolling(12, min_periods=12).sum())
        return summed.where(flows.cumcount() >= 12)
    num = table["transformed" if goal.indicator == "transformed_rate" else "cloud_cumulative"].astype(float)
    if goal.denominator_firms is not None:
        den = pd.Series(goal.denominator_firms * config.population.total_firms / DEFAULT_TOTAL_FIRMS,
                        index=table.index)
    else:
        den = table["n_firms"].astype(float)
    return (num / den).where(den > 0)


def indicator_paths(ts: pd.DataFrame, config: Scenario, goal: Goal) -> pd.DataFrame:
    """The path of a goal's indicator in every replicate: what the goal is compared with, month
    by month (counts at the population's scale, rates as shares; as :func:`listed_goal_outcomes`
    reads them at the goal's month).

    Returns:
        Columns ``replicate``, ``date`` (``YYYY-MM``) and ``value``.
    """
    path = _path(goal, config, _series(ts, _group(goal)))
    out = path.rename("value").reset_index()
    out["date"] = [str(d)[:7] for d in out["date"]]
    return out[["replicate", "date", "value"]]


def listed_goal_outcomes(ts: pd.DataFrame, config: Scenario) -> pd.DataFrame:
    """Every listed goal (:func:`listed_goals`) in every replicate of a tidy time series.

    Args:
        ts: Tidy time series of one scenario (provincial and size-class rows are used).
        config: The scenario (its goals and population size).

    Returns:
        One row per replicate and goal (:data:`LISTED_GOAL_COLUMNS`): the goal's label, indicator
        and month, the simulated ``value``, the ``target`` at the population's scale (counts:
        :func:`scaled_count`; rates: the share) and ``met`` (NA when the goal is outside the run).
    """
    n = config.population.total_firms
    tables = {g: _series(ts, g) for g in (None, SME_CLASSES, ("lead", "above_scale"))}
    rows = []
    for goal in listed_goals(config):
        table = tables[_group(goal)]
        rate = goal.indicator in GOAL_RATES
        target = goal.value if rate else scaled_count(goal.value, n)
        path = _path(goal, config, table)
        for rep, by_rep in path.groupby(level="replicate", sort=True):
            months = [str(d)[:7] for d in by_rep.index.get_level_values("date")]
            value = float(by_rep.iloc[months.index(goal.date)]) if goal.date in months else np.nan
            met = pd.NA if np.isnan(value) else bool(value >= target)
            rows.append({"replicate": int(rep), "goal": goal_label(goal), "indicator": goal.indicator,
                         "date": goal.date, "value": value, "target": target, "met": met})
    return pd.DataFrame(rows, columns=LISTED_GOAL_COLUMNS)



GOAL_TABLE_COLUMNS: list[str] = [
    "goal", "indicator", "date", "goal_value", "scope", "source", "total_firms", "target",
    "value_median", "value_p10", "value_p90", "p_meet", "p_meet_mc_se", "n_evaluable"]
"""Columns of :func:`goal_table`."""


def goal_table(ts: pd.DataFrame, config: Scenario) -> pd.DataFrame:
    """One row per listed goal (the two headline goals, then ``goals.more``): the goal as written
    (``goal_value`` for the full population, ``scope``, ``source``), its ``target`` at the
    simulated population (``total_firms``; counts by the one goal rule, rates unchanged), the
    simulated value at the goal's month (median, 10th and 90th percentiles over replicates, at
    the same scale as ``target``) and the share of replicates meeting it (``p_meet`` with its
    Monte Carlo standard error; empty when the month is outside the run: ``n_evaluable`` 0)."""
    lo = listed_goal_outcomes(ts, config)
    rows = []
    for goal in listed_goals(config):
        sub = lo[lo["goal"] == goal_label(goal)]
        vals = sub["value"].dropna().to_numpy(dtype=float)
        met = sub["met"].dropna().astype(bool).to_numpy()
        n = int(met.size)
        p = float(met.mean()) if n else np.nan
        q = np.quantile(vals, [0.5, 0.1, 0.9]) if vals.size else [np.nan] * 3
        rows.append({"goal": goal_label(goal), "indicator": goal.indicator, "date": goal.date,
                     "goal_value": goal.value, "scope": goal.scope, "source": goal.source,
                     "total_firms": config.population.total_firms, "target": float(sub["target"].iloc[0]),
                     "value_median": q[0], "value_p10": q[1], "value_p90": q[2], "p_meet": p,
                     "p_meet_mc_se": float(np.sqrt(p * (1 - p) / n)) if n else np.nan, "n_evaluable": n})
    return pd.DataFrame(rows, columns=GOAL_TABLE_COLUMNS)
