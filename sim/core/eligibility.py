"""Voucher eligibility in force month by month (``policies.vouchers.min_revenue_cny`` and
``min_age_months``, each a number or a schedule).

A firm may claim a voucher in month k when its prior-year revenue is at least the revenue
threshold in force in k, it is at least the minimum age in force in k, and its city is not
excluded. The rules are resolved once per run into one value per month index; the months where
either changes are the only ones where the run recomputes what depends on them (the firms'
push, :class:`sim.core.state.VoucherPush`): a plain number has no such month and costs nothing
per month.
"""

from __future__ import annotations

import numpy as np

from sim import datasets
from sim.core.population import Population
from sim.core.schedules import monthly
from sim.scenario import schema_policies


class EligibilityRules:
    """The revenue threshold (CNY) and minimum age (months) in force in each month index.

    Args:
        spec: The voucher section of the scenario.
        start_month: Month number of month index 0 (``time.start``).
        n_months: Months simulated.
    """

    def __init__(self, spec: schema_policies.Vouchers, start_month: int, n_months: int):
        self.min_revenue_cny = monthly(spec.min_revenue_cny, start_month, n_months)
        self.min_age_months = monthly(spec.min_age_months, start_month, n_months).astype(np.int64)
        changed = ((self.min_revenue_cny[1:] != self.min_revenue_cny[:-1])
                   | (self.min_age_months[1:] != self.min_age_months[:-1]))
        self.change_months = frozenset(int(k) for k in np.flatnonzero(changed) + 1)
        """Month indices k >= 1 whose rules differ from those of month k - 1 (empty: constant)."""

    def at(self, k: int) -> tuple[float, int]:
        """``(min_revenue_cny, min_age_months)`` in force in month index ``k``."""
        return float(self.min_revenue_cny[k]), int(self.min_age_months[k])


def revenue_ok(pop: Population, min_revenue_cny: float, excluded_cities: list[str]) -> np.ndarray:
    """Firms eligible by revenue and city (bool per firm, read-only).

    Depends on the structure and the two rule values only: cached with the population.
    """
    key = ("voucher_static_ok", float(min_revenue_cny), tuple(excluded_cities))
    hit = pop.derived.get(key)
    if hit is None:
        names = datasets.city_names()
        excluded = np.zeros(len(names), dtype=bool)
        for c in excluded_cities:
            excluded[names.index(c)] = True
        hit = pop.derived[key] = (pop.revenue_cny >= min_revenue_cny) & ~excluded[pop.city]
        hit.flags.writeable = False
    return hit
