"""Common random numbers in the real model: paired scenario differences are much tighter than
differences between independent replicates (the reason `compare` pairs replicates by seed)."""

from __future__ import annotations

import numpy as np

from sim.core.model import simulate
from sim.scenario import Scenario

N_FIRMS = 20_000
REPLICATES = 8


def _cloud_at_end(config: Scenario) -> np.ndarray:
    return np.array([simulate(config, replicate=r).total("cloud_cumulative")[-1] for r in range(REPLICATES)])


def test_paired_differences_have_much_smaller_spread_than_unpaired() -> None:
    base = Scenario.model_validate({"population": {"total_firms": N_FIRMS}, "time": {"end": "2023-12"}})
    more = base.model_copy(deep=True)
    more.policies.vouchers.budget_cny_per_year *= 2
    a, b = _cloud_at_end(base), _cloud_at_end(more)
    paired = b - a
    # Unpaired: replicate r of one scenario against replicate r+1 of the other (different seeds).
    unpaired = b - np.roll(a, 1)
    assert paired.mean() > 0  # doubling the budget adds adopters in every pairing on average
    assert np.all(paired >= 0)  # and never removes any under common random numbers
    assert paired.std(ddof=1) * 3 < unpaired.std(ddof=1)


def test_zero_effect_change_reproduces_baseline_exactly() -> None:
    base = Scenario.model_validate({"population": {"total_firms": N_FIRMS}, "time": {"end": "2022-12"}})
    same = base.model_copy(deep=True)
    same.policies.pilots.scale = 0.0
    same.policies.pilots.enabled = True
    off = base.model_copy(deep=True)
    off.policies.pilots.enabled = False
    a = simulate(same, replicate=3).cells
    b = simulate(off, replicate=3).cells
    assert np.array_equal(a, b)
