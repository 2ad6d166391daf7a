"""The one goal-outcome rule: is a goal met, with one scaling convention for small populations.

Goals are written for the full population of 2,000,000 firms (``population.total_firms`` at its
default). A smaller population of ``N`` firms keeps proportions (initial state, budgets and
capacity scale by ``s = N / 2,000,000``), so its goal is the proportional count ``goal x s``.

**The rule.** A replicate meets a goal when its count at the end of the goal month is at least
``goal x s``; as counts are whole firms this is the same as::

    count >= ceil(goal x N / 2,000,000)            (computed exactly, in integers)

and the same as comparing the count scaled up, ``count / s``, with the unscaled goal. The goal at
the population's scale (:func:`scaled_goal`, :func:`scaled_goals`) is that ceiling: the fewest
whole firms that reach the proportional goal. At full scale it is the goal itself.

Every tool that says "met" or "missed" uses this module: ``gdcloud run`` / ``compare`` summaries
(:mod:`sim.analysis.summary`), ``sweep``, ``sensitivity``, ``what-it-takes``, ``discover`` and the
dashboard. (Before, the run summary rounded ``goal x s`` to the nearest integer while the question
tools compared ``count / s`` in floating point; see the README changelog.)
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from sim.core.outputs import select
from sim.core.population import DEFAULT_TOTAL_FIRMS, population_scale
from sim.errors import ScenarioError
from sim.scenario.schema import Goals, Scenario
from sim.scenario.schema_types import month_number

Goal = Literal["cloud", "transformed", "both"]
"""Which goal a question is about: the cloud goal, the transformation goal, or both at once."""

GOAL_OUTCOME_COLUMNS: list[str] = [
    "replicate", "goal_date", "cloud_firms", "transformed_firms", "cloud_goal", "transformed_goal",
    "cloud_gap", "transformed_gap", "cloud_goal_met", "transformed_goal_met",
    "cloud_goal_first_met", "transformed_goal_first_met", "voucher_spend_total_cny",
]
"""Columns of :func:`goal_outcomes`."""


def scaled_goal(goal_firms: int, total_firms: int) -> int:
    """The goal at a population of ``total_firms``: ``ceil(goal x total_firms / 2,000,000)``.

    Args:
        goal_firms: A goal for the full 2,000,000-firm population.
        total_firms: The simulated population.

    Returns:
        The fewest whole firms at least proportional to the goal (exact integer arithmetic).

    Example:
        >>> scaled_goal(1_000_000, 20_000), scaled_goal(50_000, 30_001)
        (10000, 751)
    """
    return -(-int(goal_firms) * int(total_firms) // DEFAULT_TOTAL_FIRMS)


def scaled_goals(config: Scenario) -> Goals:
    """The scenario's goals at the scale of its population (:func:`scaled_goal` of each)."""
    g, n = config.goals, config.population.total_firms
    if n == DEFAULT_TOTAL_FIRMS:
        return g
    return Goals(date=g.date, cloud_firms=scaled_goal(g.cloud_firms, n),
                 transformed_firms=scaled_goal(g.transformed_firms, n))


def goal_month_index(config: Scenario) -> int:
    """Index of the goal month in a run's monthly series (0 = the start month)."""
    return month_number(config.goals.date) - month_number(config.time.start)


def goals_met(config: Scenario, cloud: np.ndarray, transformed: np.ndarray, goal: Goal = "cloud") -> np.ndarray:
    """Per replicate: is ``goal`` met, from the counts at the goal date at the population's scale.

    Args:
        config: The scenario (its goals and population size).
        cloud: Cumulative cloud firms at the end of the goal month, one per replicate.
        transformed: Transformed above-scale firms at the same date.
        goal: ``"cloud"``, ``"transformed"`` or ``"both"``.

    Returns:
        Boolean array, one per replicate.
    """
    goals = scaled_goals(config)
    c = np.asarray(cloud) >= goals.cloud_firms
    t = np.asarray(transformed) >= goals.transformed_firms
    return {"cloud": c, "transformed": t, "both": c & t}[goal]


def goal_date(prov: pd.DataFrame, goals: Goals) -> str:
    """The month end of ``goals.date`` among the dates of a provincial series (ISO text).

    Raises:
        ValueError: The series does not reach the goal month.
    """
    dates = pd.unique(prov["date"])
    hit = [d for d in dates if str(d)[:7] == goals.date]
    if not hit:
        raise ValueError(f"the time series ({dates.min()} to {dates.max()}) does not reach the goal "
                         f"month {goals.date}; extend time.end or change goals.date")
    return str(hit[0])


def goal_outcomes(ts: pd.DataFrame, goals: Goals) -> pd.DataFrame:
    """Where each replicate stands against the goals.

    Args:
        ts: Tidy time series (only the provincial rows are used).
        goals: The goals to compare with, at the population's scale (:func:`scaled_goals`).

    Returns:
        One row per replicate (sorted) with the columns :data:`GOAL_OUTCOME_COLUMNS`: cloud firms
        (cumulative) and transformed firms at the end of the goal month, the goals, the gaps
        ``goal - value`` (positive = short of the goal), whether each goal is met at the goal
        date, the first month end (ISO date) at which each goal was reached or None if never
        within the run, and the voucher money granted from the start to the goal date (CNY).

    Raises:
        ValueError: If the series has no provincial rows or does not reach the goal month.
    """
    prov = select(ts, "province")
    if prov.empty:
        raise ValueError("the time series has no provincial rows (cluster = city = size_class = 'all')")
    prov = prov.sort_values(["replicate", "date"], kind="stable")
    gdate = goal_date(prov, goals)
    at = prov[prov["date"] == gdate].set_index("replicate")
    reps = np.sort(pd.unique(prov["replicate"]))
    at = at.reindex(reps)
    out = pd.DataFrame({"replicate": reps.astype(np.int64), "goal_date": gdate})
    spend = prov[prov["date"] <= gdate].groupby("replicate")["voucher_spend_cny"].sum()
    for key, col, goal in (("cloud", "cloud_cumulative", goals.cloud_firms),
                           ("transformed", "transformed", goals.transformed_firms)):
        value = at[col].to_numpy()
        out[f"{key}_firms"] = value
        out[f"{key}_goal"] = np.int64(goal)
        out[f"{key}_gap"] = goal - value
        out[f"{key}_goal_met"] = value >= goal
        first = prov[prov[col] >= goal].groupby("replicate")["date"].first()
        out[f"{key}_goal_first_met"] = pd.Series([first.get(r) for r in reps], dtype=object)
    out["voucher_spend_total_cny"] = spend.reindex(reps).to_numpy(dtype=np.float64)
    return out[GOAL_OUTCOME_COLUMNS]


def check_goal_in_horizon(config: Scenario, label: str, *, spec: bool = False) -> None:
    """The question tools read the counts at ``goals.date``: it must lie within the run.

    Args:
        config: The scenario.
        label: Where the scenario came from (a spec file or a scenario), named in the error.
        spec: The hint names a spec's ``overrides`` instead of ``--set``.

    Raises:
        ScenarioError: ``<label>: goals.date: <date> is outside the run ...``.
    """
    g, t = config.goals.date, config.time
    if not t.start <= g <= t.end:
        month = min(t.end, "2025-12")
        hint = f"overrides: {{goals.date: '{month}'}}" if spec else f"--set goals.date={month}"
        raise ScenarioError(label, "goals.date", f"{g} is outside the run {t.start} to {t.end} (the "
                            "outcomes are read at goals.date)",
                            f"a month from time.start to time.end, e.g. {hint}")


def scale_up(config: Scenario) -> float:
    """Factor from the simulated population to the 2,000,000 firms the figures refer to
    (``2,000,000 / total_firms``; used to report counts, never to decide whether a goal is met)."""
    return 1.0 / population_scale(config)
