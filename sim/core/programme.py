"""The transformation programme quota: annual targets of transformed above-scale firms as counts.

Why this exists (issue 12, docs/record/README.md "Why no rate variant bends upward"): every
transformation hazard of the model (market pull, peers, pilots, chain leaders, and the
target-following ``intensity``) acts only on above-scale firms *already on the cloud* and not
yet transformed. That pool is small (about 7,000 of 72,000 above-scale firms at 2023-09 at the
posterior of ``history_intensity``) and is refilled only as fast as above-scale firms adopt the
cloud, so raising a rate drains it without raising the flow for long: the transformed count cannot
bend upward to the +9,200 a year of the 2024 target. A programme that counts firms against a
yearly target is a different mechanism: a number of firms per year, not a rate.

The quota (``policies.transformation_programme``) in month ``k`` of calendar year ``y``: the target
to date is ``firms_per_year(y) x scale(k) x (months of y simulated so far) / 12``, times the
population scale. ``mode`` says what it is compared with (the year's transformations of every
kind, ``top_up``, or the programme's own deliveries, ``additive``); the shortfall (rounded down; a
fraction carries to the next month) is transformed at the end of the month: the readiest eligible
firms first (smallest remaining distance to their transformation threshold divided by
readiness), so no random number is drawn and common random numbers hold. A firm of the
``above_scale`` pool that is not on the cloud goes onto it with its transformation (a programme
project brings both).
"""

from __future__ import annotations

import numpy as np

from sim.core.schedules import monthly, window_months
from sim.scenario import schema_policies


class TransformationQuota:
    """Monthly firms due under ``policies.transformation_programme`` (module docstring).

    Args:
        spec: The programme.
        start_month: Month number of month index 0 (``time.start``).
        n_months: Months simulated.
        pop_scale: ``total_firms / 2,000,000`` (the targets are for the full population).
    """

    def __init__(self, spec: schema_policies.TransformationProgramme, start_month: int, n_months: int, pop_scale: float):
        self.spec = spec
        self.start_month = start_month
        self.active = window_months(spec, start_month, n_months)
        months = start_month + np.arange(n_months + 1)
        per_year = monthly(spec.firms_per_year, start_month, n_months)
        scale = monthly(spec.scale, start_month, n_months)
        # Quota of each month (full-scale targets x population scale), 0 outside the window.
        self.per_month = np.where(self.active, per_year * scale * pop_scale / 12.0, 0.0)
        self.year = months // 12
        self.delivered = np.zeros(n_months + 1)

    def on(self, k: int) -> bool:
        """True if the quota acts in month ``k``."""
        return bool(self.active[k])

    def due(self, k: int, transformed_by_month: np.ndarray) -> int:
        """Firms to transform at the end of month ``k``.

        Args:
            k: Month index.
            transformed_by_month: Transformations of every kind in months ``0..k`` (month ``k``
                before the programme acts), used by ``top_up``.
        """
        same_year = np.flatnonzero(self.year[: k + 1] == self.year[k])
        target = float(self.per_month[same_year].sum())
        if self.spec.mode == "top_up":
            done = float(np.asarray(transformed_by_month)[same_year].sum())
        else:
            done = float(self.delivered[same_year].sum())
        return max(int(np.floor(target - done + 1e-9)), 0)

    def record(self, k: int, n: int) -> None:
        """Note the programme's deliveries in month ``k``."""
        self.delivered[k] += n


def readiest(eligible: np.ndarray, remaining: np.ndarray, n: int) -> np.ndarray:
    """The ``n`` eligible firms with the smallest ``remaining`` distance (ties by index), sorted.

    Args:
        eligible: Firm indices.
        remaining: Their remaining distance to the threshold (same order).
        n: How many to pick.
    """
    if n <= 0 or eligible.size == 0:
        return eligible[:0]
    if n >= eligible.size:
        return np.sort(eligible)
    order = np.lexsort((eligible, remaining))
    return np.sort(eligible[order[:n]])
