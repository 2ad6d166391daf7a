"""Measure the population-size bias of every analysis tool at its default size.

Every tool that runs the model on fewer than 2,000,000 firms multiplies its counts by
``2,000,000 / total_firms``. This script runs the baseline at each default size (many
replicates, common seeds ``0..R-1``) and at full scale, and reports for the cloud and transformed
counts at 2025-12 the bias of the scaled mean against full scale, the Monte Carlo error of the
bias estimate, and the tool's own Monte Carlo error (one run's standard deviation at that size
divided by the square root of the replicates the tool uses by default). A tool is unbiased when
its bias is smaller than its own Monte Carlo error.

The tools' default sizes and replicates are read from the code (:func:`tool_defaults`), so the
table cannot state a stale default. ``--measure`` writes the per-size statistics to
``docs/scale_bias.csv`` (minutes of CPU); the table of ``docs/analysis.md`` between
``<!-- scale-bias:begin -->`` and ``<!-- scale-bias:end -->`` is rendered from that file
(``--write``), and ``tests/test_docs_numbers.py`` requires the document to hold exactly the
rendered table, the file to cover every tool's default size, and every tool to be unbiased.

Usage::

    PYTHONPATH=. .venv/bin/python scripts/scale_bias.py --measure   # ~10 min: docs/scale_bias.csv
    PYTHONPATH=. .venv/bin/python scripts/scale_bias.py --write     # render into docs/analysis.md
    PYTHONPATH=. .venv/bin/python scripts/scale_bias.py             # print the table
    PYTHONPATH=. .venv/bin/python scripts/scale_bias.py --quick     # a quick live measurement
"""

from __future__ import annotations

import argparse
import inspect
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from sim.core.model import simulate
from sim.core.population import DEFAULT_TOTAL_FIRMS
from sim.scenario.loader import load_scenario

ROOT = Path(__file__).resolve().parents[1]
CSV = ROOT / "docs" / "scale_bias.csv"
DOC = ROOT / "docs" / "analysis.md"
BEGIN, END = "<!-- scale-bias:begin -->", "<!-- scale-bias:end -->"
OUTCOMES = ("cloud_cumulative", "transformed")

MEASURE_REPLICATES = {50_000: 120, 100_000: 96, 200_000: 160, 400_000: 160, DEFAULT_TOTAL_FIRMS: 24}
"""Replicates per size for ``--measure``: enough that the error of each bias estimate is below
the Monte Carlo error of the tools at that size (one run at 2,000,000 firms costs ~5-10 s)."""

QUICK_REPLICATES = {50_000: 12, 100_000: 8, 200_000: 4, DEFAULT_TOTAL_FIRMS: 1}


def tool_defaults() -> list[tuple[str, int, int]]:
    """(tool, default population, replicates it uses by default), read from the code and the
    shipped analysis scenarios."""
    from sim.analysis import calibration_spec, discover, questions, sensitivity
    from sim.dashboard import core as dash_core
    from sim.dashboard import report as dash_report

    def default(func, name):
        return inspect.signature(func).parameters[name].default

    def analysis_yaml(name):
        return yaml.safe_load((ROOT / "scenarios" / "analysis" / name).read_text(encoding="utf-8"))

    demo = load_scenario("demo")
    sweep = analysis_yaml("sweep_vouchers.yaml")
    sweep_base = load_scenario(sweep["base"])
    sens = analysis_yaml("sensitivity.yaml")
    calib = analysis_yaml("calibration.yaml")
    sens_fields = sensitivity.SensitivitySpec.model_fields
    calib_fields = calibration_spec.CalibrationSpec.model_fields
    return [
        ("demo scenario (scenarios/demo.yaml)", demo.population.total_firms, demo.run.replicates),
        ("sweep (scenarios/analysis/sweep_vouchers.yaml)", sweep_base.population.total_firms, sweep["replicates"]),
        ("questions.discover", default(discover.discover, "total_firms"), default(discover.discover, "replicates")),
        ("dashboard step-by-step model (sim.dashboard.core)", dash_core.DEFAULT_POPULATION, 1),
        ("dashboard report page (sim.dashboard.report)", dash_report.DASHBOARD_POPULATION,
         dash_report.DEFAULT_REPLICATES),
        ("sensitivity (scenarios/analysis/sensitivity.yaml)", sens["total_firms"], sens["replicates"]),
        ("sensitivity (schema default)", sens_fields["total_firms"].default, sens_fields["replicates"].default),
        ("questions.what_it_takes", default(questions.what_it_takes, "total_firms"),
         default(questions.what_it_takes, "replicates")),
        ("questions.attribution", default(questions.attribution, "total_firms"),
         default(questions.attribution, "replicates")),
        ("regression pin (tests/test_regression.py)", 100_000, 3),
        ("calibration (scenarios/analysis/calibration.yaml)", calib["total_firms"], calib["replicates"]),
        ("calibration (schema default)", calib_fields["total_firms"].default, calib_fields["replicates"].default),
    ]


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


def measure(replicates: dict[int, int]) -> pd.DataFrame:
    """Per size and outcome: replicates, mean and one run's standard deviation (scaled)."""
    rows = []
    for n, reps in replicates.items():
        st = scaled_outcomes(n, reps)
        rows += [{"total_firms": n, "replicates": reps, "outcome": o, "mean": round(st.mean(o), 1),
                  "sd": round(st.sd(o), 1)} for o in OUTCOMES]
    return pd.DataFrame(rows)


def tool_table(stats: pd.DataFrame, tools: list[tuple[str, int, int]] | None = None) -> pd.DataFrame:
    """Bias of every tool at its default size against full scale, with both Monte Carlo errors."""
    s = stats.set_index(["total_firms", "outcome"])
    rows = []
    for tool, n, tool_reps in tools if tools is not None else tool_defaults():
        for o in OUTCOMES:
            full, small = s.loc[(DEFAULT_TOTAL_FIRMS, o)], s.loc[(n, o)]
            bias = small["mean"] - full["mean"]
            est_err = math.hypot(small["sd"] / math.sqrt(small["replicates"]),
                                 full["sd"] / math.sqrt(full["replicates"]))
            own = small["sd"] / math.sqrt(tool_reps)
            rows.append({"tool": tool, "total_firms": n, "tool_replicates": tool_reps, "outcome": o,
                         "bias": bias, "bias_pct": 100 * bias / full["mean"], "estimate_error": est_err,
                         "tool_mc_error": own, "unbiased": abs(bias) < own})
    return pd.DataFrame(rows)


def block(stats: pd.DataFrame | None = None) -> str:
    """The markdown table of docs/analysis.md (from docs/scale_bias.csv by default)."""
    stats = pd.read_csv(CSV) if stats is None else stats
    s = stats.set_index(["total_firms", "outcome"])
    full = {o: s.loc[(DEFAULT_TOTAL_FIRMS, o)] for o in OUTCOMES}
    sizes = ", ".join(f"{n:,} firms x {int(r)}" for n, r in
                      stats.drop_duplicates("total_firms")[["total_firms", "replicates"]].itertuples(index=False))
    lines = [BEGIN,
             f"Measured by `python scripts/scale_bias.py --measure` (`docs/scale_bias.csv`; baseline, "
             f"replicates 0..R-1 at {sizes}). Full scale at 2025-12: "
             + ", ".join(f"{o} {full[o]['mean']:,.0f} (one run's s.d. {full[o]['sd']:,.0f})" for o in OUTCOMES)
             + ". Counts scaled to 2,000,000 firms; bias = small-size mean minus full-scale mean.",
             "",
             "| tool | default firms | its replicates | outcome | bias | error of the bias estimate "
             "| the tool's own MC error | bias < its MC error |",
             "|---|---:|---:|---|---:|---:|---:|---|"]
    for r in tool_table(stats).itertuples(index=False):
        lines.append(f"| {r.tool} | {r.total_firms:,} | {r.tool_replicates} | {r.outcome} | "
                     f"{r.bias:+,.0f} ({r.bias_pct:+.2f}%) | {r.estimate_error:,.0f} | {r.tool_mc_error:,.0f} | "
                     f"{'yes' if r.unbiased else 'NO'} |")
    lines.append(END)
    return "\n".join(lines)


def write_block(text: str) -> None:
    body = DOC.read_text(encoding="utf-8")
    a, b = body.index(BEGIN), body.index(END) + len(END)
    DOC.write_text(body[:a] + text + body[b:], encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--measure", action="store_true", help="run the model and write docs/scale_bias.csv")
    ap.add_argument("--quick", action="store_true", help="a quick live measurement (printed, not saved)")
    ap.add_argument("--write", action="store_true", help="render the table into docs/analysis.md")
    ap.add_argument("--sizes", nargs="+", type=int, metavar="N",
                    help="with --measure: measure only these sizes and replace their rows of the file")
    args = ap.parse_args(argv)
    if args.quick:
        stats = measure(QUICK_REPLICATES)
    elif args.measure:
        sizes = args.sizes or list(MEASURE_REPLICATES)
        stats = measure({n: MEASURE_REPLICATES[n] for n in sizes})
        if args.sizes:
            old = pd.read_csv(CSV)
            stats = pd.concat([old[~old["total_firms"].isin(sizes)], stats]).sort_values(
                ["total_firms", "outcome"], kind="stable").reset_index(drop=True)
        stats.to_csv(CSV, index=False)
    else:
        stats = pd.read_csv(CSV)
    if args.quick:
        print(stats.to_string(index=False))
        quick_tools = [t for t in tool_defaults() if t[1] in QUICK_REPLICATES]
        print(tool_table(stats, quick_tools).to_string(index=False))
        return
    text = block(stats)
    if args.write:
        write_block(text)
    print(text)


if __name__ == "__main__":
    main()
