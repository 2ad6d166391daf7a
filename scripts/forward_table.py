"""The README's forward-scenario table: the shipped policy variants of the baseline under the
record posterior, with common random numbers, written to ``docs/forward/forward.csv`` and
rendered into README.md between the ``forward-table`` markers.

Which scenarios, and why. The forward question an analyst brings is "which policy mix from
mid-2021 makes the 2025 goals likely, given what the 2020-2025 record says about behaviour?".
The scenarios that answer it start from the reported 2021-06 state and differ from
``baseline`` only in policy: ``vouchers_halved`` / ``vouchers_doubled`` (the assumed budget
bracketed), ``chain_leaders`` (a strong 链主 programme), ``plan_2021`` (the plan's announced
measures), ``no_provincial_policy`` and ``no_policy_at_all`` (what the support adds). Every one
is given the uncertainties of ``baseline_uncertain``, i.e. its parameters drawn jointly per
replicate from the saved posterior ``scenarios/posteriors/record.csv`` (``posterior: record``)
plus the two ranges the record does not identify, so replicate r of every scenario has the same
parameter set and the same random numbers, and the paired differences isolate the policy.
Left out: ``strong_peer_effects``, ``weak_peer_effects`` and ``calibrated`` (they change the
behavioural parameters that the posterior draws replace, so under the posterior they equal the
baseline); ``demo`` (a small copy of the baseline); ``history*`` and ``outlook_2030`` (they start
at end-2020 from the record: the README's record section reports them).

Size. 200,000 firms (1:10), the size the dashboard uses: ``scripts/scale_bias.py`` measures its
bias against 2,000,000 firms at -0.01% (cloud) and -0.26% (transformed) at 2025-12, far inside
the Monte Carlo error of this table (the ``*_mc_se`` columns). Counts are simulated at that size
and shown province-equivalent (divided by ``total_firms / 2,000,000``,
:func:`sim.population_scale`); goal probabilities use the one goal rule
(:mod:`sim.analysis.outcomes`: the count at the population against the scaled goal).

Usage::

    PYTHONPATH=. .venv/bin/python scripts/forward_table.py               # 390-477 s with 2 workers on the busy 2-core machine
    PYTHONPATH=. .venv/bin/python scripts/forward_table.py --render-only # README from the CSV

``tests/test_forward_table.py`` checks that the README's table is the rendering of the committed
CSV and runs this script end to end at a tiny size.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from paired_table import REPO, Block, TableScript, count, probability, run_paired, signed  # noqa: E402

CSV = REPO / "docs" / "forward" / "forward.csv"
START, END = "<!-- forward-table:start -->", "<!-- forward-table:end -->"
BLOCK = Block(START, END)

UNCERTAINTIES_FROM = "baseline_uncertain"
"""Scenario whose ``posterior`` and ``uncertainties`` every forward scenario takes."""

FORWARD: dict[str, str] = {
    "baseline": "mid-2021 policies continue",
    "as_implemented": "+ the 2021 plan's launch campaign and the 2023-2025 annual transformation targets",
    "vouchers_halved": "voucher budget halved (150 M CNY a year)",
    "vouchers_doubled": "voucher budget doubled (600 M CNY a year)",
    "chain_leaders": "strong chain-leader (链主) programme",
    "plan_2021": "the measures of 粤府〔2021〕45号",
    "no_provincial_policy": "no provincial support (national SME pilot cities stay)",
    "no_policy_at_all": "no support at all (no pilot cities either)",
}
"""The forward scenarios (the first is the reference of the paired differences) and what each
changes."""

TOTAL_FIRMS = 200_000
REPLICATES = 40
COLUMNS = ["scenario", "changes", "total_firms", "replicates", "posterior", "posterior_sha256",
           "cloud_median", "cloud_p10", "cloud_p90", "p_cloud_goal", "p_cloud_goal_mc_se",
           "transformed_median", "transformed_p10", "transformed_p90", "p_transformed_goal",
           "p_transformed_goal_mc_se", "d_cloud_median", "d_cloud_p10", "d_cloud_p90",
           "d_transformed_median", "d_transformed_p10", "d_transformed_p90", "wall_time_s"]
"""Columns of ``forward.csv``: counts at 2025-12 province-equivalent (median and 10-90% of
replicates), goal probabilities with their Monte Carlo standard error, paired differences from
the baseline (median and 10-90% of pairs, province-equivalent), and the run's wall time."""


def compute(total_firms: int = TOTAL_FIRMS, replicates: int = REPLICATES, workers: int | None = None) -> pd.DataFrame:
    """Run the forward scenarios and return the table (:data:`COLUMNS`)."""
    import sim

    runs = run_paired(list(FORWARD), total_firms, replicates, workers, UNCERTAINTIES_FROM)
    cmp, scale, wall = runs.compare, runs.scale, runs.wall_time_s
    summ = cmp.summary.set_index(["scenario", "outcome"])
    diff = cmp.differences.set_index(["scenario", "outcome"])
    rows = []
    for name, changes in FORWARD.items():
        year = sim.load_scenario(name).goals.date[:4]
        row: dict[str, object] = {"scenario": name, "changes": changes, "total_firms": total_firms,
                                  "replicates": replicates, "posterior": runs.posterior,
                                  "posterior_sha256": runs.posterior_sha256}
        for key, outcome in (("cloud", f"cloud_firms_{year}"), ("transformed", f"transformed_firms_{year}")):
            s = summ.loc[(name, outcome)]
            for stat in ("median", "p10", "p90"):
                row[f"{key}_{stat}"] = round(float(s[stat]) / scale)
            p = summ.loc[(name, f"p_meet_{key}_goal")]
            row[f"p_{key}_goal"], row[f"p_{key}_goal_mc_se"] = round(float(p["mean"]), 3), round(float(p["mc_se"]), 3)
            for stat in ("median", "p10", "p90"):
                d = diff.loc[(name, f"{key}_firms"), stat] if name != next(iter(FORWARD)) else 0.0
                row[f"d_{key}_{stat}"] = round(float(d) / scale)
        row["wall_time_s"] = round(wall)
        rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS)


def render(table: pd.DataFrame) -> str:
    """The README block (between the markers, markers excluded) for a forward table."""
    first = table.iloc[0]
    lines = [
        "| scenario | changes | cloud firms 2025-12, median (10–90%) | P(≥ 1,000,000) | "
        "transformed 2025-12, median (10–90%) | P(≥ 50,000) | vs baseline: cloud, transformed (median of pairs) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in table.itertuples(index=False):
        paired = "reference" if r.scenario == first.scenario else (
            f"{signed(r.d_cloud_median)}, {signed(r.d_transformed_median)}")
        lines.append(
            f"| `{r.scenario}` | {r.changes} | {count(r.cloud_median)} ({count(r.cloud_p10)}–{count(r.cloud_p90)}) "
            f"| {probability(r.p_cloud_goal, r.p_cloud_goal_mc_se, int(r.replicates))} "
            f"| {count(r.transformed_median)} ({count(r.transformed_p10)}–{count(r.transformed_p90)}) "
            f"| {probability(r.p_transformed_goal, r.p_transformed_goal_mc_se, int(r.replicates))} | {paired} |")
    lines += [
        "",
        f"Goal probabilities are **data-conditioned**: each of the {int(first.replicates)} replicates per "
        f"scenario draws its behavioural parameters jointly from the record posterior "
        f"(`scenarios/posteriors/{first.posterior}`, sha256 {first.posterior_sha256}…) and the voucher "
        f"effect and churn from `{UNCERTAINTIES_FROM}`'s ranges (ASSUMPTION); replicate r of every "
        f"scenario uses the same draw and seeds. ± is one Monte Carlo standard error. Simulated at "
        f"{int(first.total_firms):,} firms (1:{2_000_000 / first.total_firms:,.0f}), counts shown "
        f"province-equivalent to the nearest 100. Produced by `python scripts/forward_table.py` "
        f"({int(first.wall_time_s)} s) into `docs/forward/forward.csv`.",
        "",
        reading(table),
    ]
    return "\n".join(lines)


SUPPORT_REMOVED = ("no_provincial_policy", "no_policy_at_all")
"""The variants without the provincial support (read apart from the others)."""


def reading(table: pd.DataFrame) -> str:
    """The table in two sentences (every number from the table; the README's prose has none)."""
    kept = table[~table["scenario"].isin(SUPPORT_REMOVED)]
    removed = table[table["scenario"].isin(SUPPORT_REMOVED)]
    others = table.iloc[1:]
    best = others.loc[others["d_transformed_median"].idxmax()]

    def span(col: pd.Series, fmt) -> str:
        lo, hi = fmt(col.min()), fmt(col.max())
        return lo if lo == hi else f"{lo}–{hi}"

    prob = lambda v: f"{v:.2f}"  # noqa: E731 - a format
    return (f"Read as: P(≥ 1,000,000 cloud firms) is {span(kept['p_cloud_goal'], prob)} in the variants that keep "
            f"the provincial support and {span(removed['p_cloud_goal'], prob)} without it; the transformed count "
            f"at 2025-12 has medians {span(table['transformed_median'], count)} and P(≥ 50,000) "
            f"{span(table['p_transformed_goal'], prob)} across the variants, the largest paired gain being "
            f"{signed(best['d_transformed_median'])} firms (`{best['scenario']}`).")


SCRIPT = TableScript(__doc__.split("\n\n")[0], compute, render, BLOCK, CSV, TOTAL_FIRMS, REPLICATES)
main = SCRIPT.main
"""The command line: ``main(argv)`` runs (or with ``--render-only`` reads) the table and writes
the README block."""

if __name__ == "__main__":
    sys.exit(main())
