"""Does the service-provider capacity bind? The queue of every shipped scenario, and the level at
which capacity would start to bind in the baseline.

For each shipped scenario (one replicate at 100,000 firms, counts scaled to 2,000,000: the model
is scale invariant, ``scripts/scale_bias.py``) it prints the largest number of firms waiting for
service capacity at a month end. For the baseline it prints the largest monthly number of cloud
decisions and the capacity of that month: capacity binds only when it is set below the monthly
decisions. ``docs/analysis.md`` section 4 quotes this script; ``tests/test_docs_numbers.py``
runs it.

Usage::

    PYTHONPATH=. .venv/bin/python scripts/capacity_check.py
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.core.model import simulate
from sim.core.population import DEFAULT_TOTAL_FIRMS
from sim.scenario.loader import load_scenario, shipped_scenarios
from sim.scenario.schema_types import month_number

TOTAL_FIRMS = 100_000


@dataclass
class CapacityReport:
    max_waiting: dict[str, float]
    """Scenario -> largest number of firms waiting at a month end (scaled to 2,000,000 firms)."""
    peak_decisions_per_month: float
    """Baseline: the largest number of firms onboarded in a month (= decisions: nobody waits)."""
    peak_month: str
    capacity_that_month: float
    """Baseline: onboardings the provider pool could do in that month (full scale)."""


def baseline_capacity(config, k: int) -> float:
    """Onboardings allowed in month k at full scale (``sim.core.policies.ServiceQueue``)."""
    spec = config.policies.service_capacity
    k_start = max(month_number(spec.start) - month_number(config.time.start), 1)
    return spec.onboardings_per_month * (1 + spec.growth_per_year) ** ((k - k_start) / 12) / spec.scale


def check(total_firms: int = TOTAL_FIRMS) -> CapacityReport:
    factor = DEFAULT_TOTAL_FIRMS / total_firms
    waiting: dict[str, float] = {}
    peak = month = cap = None
    for name in shipped_scenarios():
        sc = load_scenario(name, [f"population.total_firms={total_firms}"])
        out = simulate(sc, replicate=0)
        waiting[name] = float(out.total("waiting").max() * factor)
        if name == "baseline":
            new = out.total("new_cloud") * factor
            k = int(np.argmax(new))
            peak, month, cap = float(new[k]), out.dates[k][:7], baseline_capacity(sc, k)
    return CapacityReport(waiting, peak, month, cap)


def main() -> None:
    rep = check()
    print(f"largest number of firms waiting for service capacity at a month end "
          f"({TOTAL_FIRMS:,} firms, scaled to 2,000,000):")
    for name, w in rep.max_waiting.items():
        print(f"  {name}: {w:,.0f}")
    print(f"baseline: at most {rep.peak_decisions_per_month:,.0f} cloud decisions in a month "
          f"({rep.peak_month}), against a capacity of {rep.capacity_that_month:,.0f} onboardings "
          f"that month: capacity binds only below that level")


if __name__ == "__main__":
    main()
