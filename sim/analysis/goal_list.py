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


def _value(goal: Goal, config: Scenario, by_rep: pd.DataFrame, months: list[str]) -> float:
    """Simulated value of ``goal`` in one replicate (``by_rep`` indexed by month, in order)."""
    if goal.date not in months:
        return np.nan
    k = months.index(goal.date)
    if goal.indicator in ("cloud_firms", "transformed_firms"):
        col = "cloud_cumulative" if goal.indicator == "cloud_firms" else "transformed"
        return float(by_rep[col].iloc[k])
    if goal.indicator in ("cloud_firms_added", "transformed_firms_added"):
        if k < 12:
            return np.nan  # the 12 months before the date are not all in the run
        col = "new_cloud" if goal.indicator == "cloud_firms_added" else "new_transformed"
        return float(by_rep[col].iloc[k - 11:k + 1].sum())
    num = by_rep["transformed" if goal.indicator == "transformed_rate" else "cloud_cumulative"].iloc[k]
    if goal.denominator_firms is not None:
        den = goal.denominator_firms * config.population.total_firms / DEFAULT_TOTAL_FIRMS
    else:
        den = by_rep["n_firms"].iloc[k]
    return float(num / den) if den > 0 else np.nan


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
    tables = {None: _series(ts, None), SME_CLASSES: _series(ts, SME_CLASSES),
              ("lead", "above_scale"): _series(ts, ("lead", "above_scale"))}
    rows = []
    for goal in listed_goals(config):
        group = SME_CLASSES if goal.indicator == "sme_cloud_rate" else (
            ("lead", "above_scale") if goal.indicator == "transformed_rate" else None)
        table = tables[group]
        rate = goal.indicator in GOAL_RATES
        target = goal.value if rate else scaled_count(goal.value, n)
        for rep, by_rep in table.groupby(level="replicate", sort=True):
            by_rep = by_rep.droplevel("replicate")
            months = [str(d)[:7] for d in by_rep.index]
            value = _value(goal, config, by_rep, months)
            met = pd.NA if np.isnan(value) else bool(value >= target)
            rows.append({"replicate": int(rep), "goal": goal_label(goal), "indicator": goal.indicator,
                         "date": goal.date, "value": value, "target": target, "met": met})
    return pd.DataFrame(rows, columns=LISTED_GOAL_COLUMNS)

