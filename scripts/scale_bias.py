"""Measure the population-size bias of every analysis tool at its default size.

Every tool that runs the model on fewer than 2,000,000 firms multiplies its counts by
``2,000,000 / total_firms``. This script runs the baseline at each default size (many
replicates, common seeds ``0..R-1``) and at full scale, and prints for the cloud and transformed
counts at 2025-12 the bias of the scaled mean against full scale, the Monte Carlo error of the
bias estimate, and the tool's own Monte Carlo error (one run's standard deviation at that size
divided by the square root of the replicates the tool uses by default). A tool is unbiased when
its bias is smaller than its own Monte Carlo error.

Usage::

    PYTHONPATH=. .venv/bin/python scripts/scale_bias.py            # ~1 min, 4 full-scale runs
    PYTHONPATH=. .venv/bin/python scripts/scale_bias.py --quick    # the test's variant
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass

import numpy as np

from sim.core.model import simulate
from sim.core.population import DEFAULT_TOTAL_FIRMS
from sim.scenario.loader import load_scenario

OUTCOMES = ("cloud_cumulative", "transformed")

TOOLS: tuple[tuple[str, int, int], ...] = (
    # (tool, default population, replicates it uses by default)
    ("demo scenario (scenarios/demo.yaml)", 50_000, 2),
    ("sweep (scenarios/analysis/sweep_vouchers.yaml, base demo)", 50_000, 4),
    ("questions.discover", 50_000, 1),
    ("dashboard step-by-step model (sim.dashboard.core.DEFAULT_POPULATION)", 50_000, 1),
    ("dashboard report page (sim.dashboard.report.DASHBOARD_POPULATION)", 200_000, 5),
    ("sensitivity (scenarios/analysis/sensitivity.yaml)", 100_000, 2),
    ("questions.what_it_takes", 100_000, 20),
    ("questions.attribution", 100_000, 4),
    ("regression pin (tests/test_regression.py)", 100_000, 3),
    ("calibration / sensitivity schema default", 200_000, 2),
)


@dataclass
class SizeStats:
    """Scaled end-of-run counts of R replicates at one population size."""

    total_firms: int
    values: dict[str, np.ndarray]

    def mean(self, outcome: str) -> float:
        return float(self.values[outcome].mean())

    def sd(self, outcome: str) -> float:
        v = self.values[outcome]
        return float(v.std(ddof=1)) if v.size > 1 else 0.0

    def se(self, outcome: str) -> float:
        return self.sd(outcome) / math.sqrt(self.values[outcome].size)


def scaled_outcomes(total_firms: int, replicates: int, scenario: str = "baseline",
                    overrides: list[str] | None = None) -> SizeStats:
    """Run ``replicates`` replicates (0..R-1, the scenario's seed) at ``total_firms`` firms and
    return the 2025-12 counts scaled to 2,000,000 firms."""
    sc = load_scenario(scenario, [f"population.total_firms={total_firms}", *(overrides or [])])
    factor = DEFAULT_TOTAL_FIRMS / total_firms
    values = {o: np.empty(replicates) for o in OUTCOMES}
    for r in range(replicates):
        out = simulate(sc, replicate=r)
        for o in OUTCOMES:
            values[o][r] = out.total(o)[-1] * factor
    return SizeStats(total_firms, values)


def bias_table(sizes: dict[int, int], full_replicates: int) -> tuple[SizeStats, dict[int, SizeStats]]:
    """Full-scale reference and the stats at each size (size -> replicates)."""
    full = scaled_outcomes(DEFAULT_TOTAL_FIRMS, full_replicates)
    return full, {n: scaled_outcomes(n, r) for n, r in sizes.items()}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer replicates (the test's variant)")
    args = ap.parse_args(argv)
    reps = {50_000: 40, 100_000: 24, 200_000: 12} if not args.quick else {50_000: 12, 100_000: 8, 200_000: 4}
    full, stats = bias_table(reps, 4 if not args.quick else 1)
    print(f"full scale (2,000,000 firms, {full.values[OUTCOMES[0]].size} replicate(s)): "
          + ", ".join(f"{o} {full.mean(o):,.0f} (sd {full.sd(o):,.0f})" for o in OUTCOMES))
    for n, st in stats.items():
        print(f"{n:,} firms, {st.values[OUTCOMES[0]].size} replicates: "
              + ", ".join(f"{o} {st.mean(o):,.0f} (one run sd {st.sd(o):,.0f})" for o in OUTCOMES))
    print()
    print("| tool | firms | its replicates | outcome | bias vs full scale | MC error of the bias "
          "estimate | the tool's own MC error | bias < its MC error |")
    print("|---|---:|---:|---|---:|---:|---:|---|")
    for tool, n, tool_reps in TOOLS:
        st = stats[n]
        for o in OUTCOMES:
            bias = st.mean(o) - full.mean(o)
            est_err = math.hypot(st.se(o), full.se(o))
            own = st.sd(o) / math.sqrt(tool_reps)
            print(f"| {tool} | {n:,} | {tool_reps} | {o} | {bias:+,.0f} ({100 * bias / full.mean(o):+.2f}%) "
                  f"| {est_err:,.0f} | {own:,.0f} | {'yes' if abs(bias) < own else 'NO'} |")


if __name__ == "__main__":
    main()
