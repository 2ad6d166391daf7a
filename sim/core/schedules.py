"""Policy values that change over time, evaluated once per run as arrays over the run's months.

A scheduled scenario value (:func:`sim.scenario.schema.Scheduled`) is a number or a step
function ``{YYYY or YYYY-MM: value}``. The instruments turn it into one value per month index
``k = 0 .. n_months`` at set-up, so the monthly step only indexes an array (vectorized, and a
constant value gives exactly the numbers of an unscheduled one: common random numbers hold).
"""

from __future__ import annotations

import numpy as np

from sim.scenario import schema_types
from sim.scenario.schema_types import month_number, schedule_values


def monthly(value: float | dict[str, float], start_month: int, n_months: int) -> np.ndarray:
    """The value in force in each month index 0..n_months (float64).

    Args:
        value: A number or a schedule.
        start_month: Month number (:func:`month_number`) of month index 0 (``time.start``).
        n_months: Months simulated.
    """
    steps = schedule_values(value)
    months = start_month + np.arange(n_months + 1)
    out = np.full(n_months + 1, steps[0][1])
    for first_month, v in steps[1:]:
        out[months >= first_month] = v
    return out


def value_at(value: float | dict[str, float], month: int) -> float:
    """The value in force in calendar month number ``month``."""
    steps = schedule_values(value)
    current = steps[0][1]
    for first_month, v in steps:
        if first_month <= month:
            current = v
    return current


def window_months(spec: schema_types.Window, start_month: int, n_months: int) -> np.ndarray:
    """Months (index 0..n_months, bool) in which an instrument with a window acts.

    The instrument acts when it is enabled, the month lies in ``start..end`` and, if rounds are
    given, in one of the rounds, and its ``scale`` in that month is above 0.
    """
    months = start_month + np.arange(n_months + 1)
    on = (months >= month_number(spec.start)) & (months <= month_number(spec.end))
    if spec.rounds is not None:
        in_round = np.zeros(n_months + 1, dtype=bool)
        for r in spec.rounds:
            in_round |= (months >= month_number(r.start)) & (months <= month_number(r.end))
        on &= in_round
    on &= monthly(spec.scale, start_month, n_months) > 0
    return on & bool(spec.enabled)
