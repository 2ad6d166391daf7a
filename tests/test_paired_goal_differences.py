"""A paired difference of 0/1 goal indicators that is the same in every pair is not a CI.

Without parametric uncertainty the replicates of a scenario differ only by the model's small
stochastic noise, so whether a goal is met is the same in every replicate; a paired difference
of +1 in every pair used to be printed as "+100 pp (95% CI +100 to +100)".
"""

from __future__ import annotations

import math

from test_summary import GOALS, synthetic

from sim.analysis.summary import paired_differences


def test_constant_goal_difference_gets_no_interval() -> None:
    base = synthetic({r: [800, 900, 950 + r, 1_000] for r in range(5)})  # never meets 1,000
    more = synthetic({r: [800, 900, 1_050 + r, 1_100] for r in range(5)})  # always meets it
    row = paired_differences({"baseline": base, "more": more}, "baseline", goals=GOALS).set_index(
        "outcome").loc["cloud_goal_met"]
    assert row["mean"] == 1.0
    assert math.isnan(row["ci_low"]) and math.isnan(row["ci_high"])
    assert "95% CI" not in row["sentence"]
    assert "in every one of the 5 paired replicates: no interval" in row["sentence"]


def test_varying_goal_difference_keeps_its_interval() -> None:
    base = synthetic({r: [800, 900, 950, 1_000] for r in range(6)})
    more = synthetic({r: [800, 900, 1_050 if r % 2 else 950, 1_100] for r in range(6)})
    row = paired_differences({"baseline": base, "more": more}, "baseline", goals=GOALS).set_index(
        "outcome").loc["cloud_goal_met"]
    assert row["mean"] == 0.5 and row["ci_low"] < 0.5 < row["ci_high"]
    assert "95% CI" in row["sentence"]
