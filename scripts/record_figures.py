"""Write the README's "What happened and what explains it" tables from the saved record outputs.

The heavy computations are the CLI commands listed in ``docs/record/README.md`` (``gdcloud
evaluate`` and ``gdcloud backtest``); their CSV outputs are kept in ``docs/record/``. This script
only reads them and renders the markdown block between ``<!-- record:begin -->`` and
``<!-- record:end -->`` of README.md; ``tests/test_record_figures.py`` runs it and requires the
README to contain exactly its output, so every number of that section comes from here.

Usage::

    python scripts/record_figures.py            # print the block
    python scripts/record_figures.py --write    # replace the block in README.md
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
RECORD = ROOT / "docs" / "record"
BEGIN, END = "<!-- record:begin -->", "<!-- record:end -->"

INSTRUMENT_LABEL = {"vouchers": "上云上平台 vouchers", "platforms": "industrial internet platforms",
                    "pilots": "park / cluster pilots", "chain_leaders": "chain leaders (链主)",
                    "sme_pilot_cities": "national SME pilot cities"}


def _n(x: float) -> str:
    return f"{x:,.0f}"


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def goals_lines(folder: Path) -> list[str]:
    g = pd.read_csv(folder / "goals.csv").set_index("quantity")
    c, t = g.loc["cloud_cumulative"], g.loc["transformed"]
    return [
        "| at end-2025 | posterior median | 90% interval | goal | P(goal reached) |",
        "|---|---:|---:|---:|---:|",
        f"| firms on the cloud (never published) | {_n(c.p50)} | {_n(c.p05)} - {_n(c.p95)} | "
        f"{_n(c.goal)} | {c.p_goal_reached:.2f} |",
        f"| above-scale firms transformed (published: more than 50,000) | {_n(t.p50)} | {_n(t.p05)} - "
        f"{_n(t.p95)} | more than {_n(t.goal)} | {t.p_goal_reached:.2f} |",
    ]


def instrument_lines(folder: Path) -> list[str]:
    t = pd.read_csv(folder / "instruments.csv")
    out = ["| instrument | transformed firms it accounts for (90%) | cloud firms it accounts for (90%) | "
           "P(>50,000 transformed without it) | CNY per extra cloud firm (median) |",
           "|---|---:|---:|---:|---:|"]
    for r in t.itertuples():
        cost = getattr(r, "cny_per_extra_cloud_firm_p50", float("nan"))
        cost_txt = "no published money" if pd.isna(cost) else _n(cost)
        out.append(f"| {INSTRUMENT_LABEL.get(r.instrument, r.instrument)} | {_n(r.transformed_p50)} "
                   f"({_n(r.transformed_p05)} to {_n(r.transformed_p95)}) | {_n(r.cloud_cumulative_p50)} "
                   f"({_n(r.cloud_cumulative_p05)} to {_n(r.cloud_cumulative_p95)}) | "
                   f"{r.p_transformed_goal_without:.2f} | {cost_txt} |")
    return out


def match_lines(folder: Path) -> list[str]:
    g = pd.read_csv(folder / "generations.csv")
    s = json.loads((folder / "settings.json").read_text(encoding="utf-8"))
    done = g[g["complete"]]
    last = done.iloc[-1]
    lines = [f"History match of `{s['scenario']}` at {s['total_firms']:,} firms, {s['particles']} particles, "
             f"{int(g['simulations'].sum()):,} model runs ({s['wall_s']:,.0f} s wall on a shared 2-core machine): "
             f"{len(done)} generations, final tolerance {last.tolerance:.3f} (largest relative miss beyond a "
             f"figure's precision), acceptance {_pct(last.acceptance_rate)}, ESS {last.ess:.0f}."]
    p = pd.read_csv(folder / "predictive.csv")
    ev = p[p["used"]]
    lines += ["", "| published figure | rule | posterior predictive median | 90% interval | consistent share |",
              "|---|---|---:|---:|---:|"]
    for r in ev.itertuples():
        lines.append(f"| {r.figure} | {r.rule} | {_n(r.p50)} | {_n(r.p05)} - {_n(r.p95)} | {r.consistent:.2f} |")
    return lines


def bias_lines(path: Path) -> list[str]:
    b = pd.read_csv(path)
    parts = [f"{r.quantity} {100 * r.relative_bias:+.1f}% (s.e. of the small-size mean "
             f"{100 * r.small_se / r.small_mean:.1f}%)" for r in b.itertuples()]
    return [f"Population size: at {int(b.small_firms.iloc[0]):,} firms the scaled counts of `{b.scenario.iloc[0]}` "
            f"differ from the 2,000,000-firm runs (same seeds, default parameters) by " + "; ".join(parts) +
            ". The posterior is conditioned at that size, so its predictive counts match the data there; "
            "its rates carry the bias into full-scale runs."]


def backtest_lines(folder: Path) -> list[str]:
    s = pd.read_csv(folder / "backtest_summary.csv")
    cfg = json.loads((folder / "settings.json").read_text(encoding="utf-8"))
    out = [f"Scenario `{cfg['scenario']}` at {cfg['total_firms']:,} firms, {cfg['particles']} particles and at most "
           f"{cfg['max_simulations']:,} model runs per origin.", "",
           "| origin | method | targets | mean abs. error of median | 50% coverage | 90% coverage | "
           "mean 90% interval score / value |", "|---|---|---:|---:|---:|---:|---:|"]
    for r in s.itertuples():
        out.append(f"| {r.origin} | {r.method.replace('_', ' ')} | {r.targets} | {_pct(r.mean_abs_median_error)} | "
                   f"{_pct(r.coverage50)} | {_pct(r.coverage90)} | {r.mean_is90_rel:.2f} |")
    return out


def block() -> str:
    ev, bt = RECORD / "evaluate", RECORD / "backtest"
    lines = [BEGIN, "", "**Was the 1,000,000 cloud goal reached?**", "", *goals_lines(ev), "",
             "**What each instrument accounts for** (paired runs: the history against the same run "
             "without the instrument, same parameters and seeds):", "", *instrument_lines(ev), "",
             "**How well the model fits the record**", "", *match_lines(ev), "", *bias_lines(RECORD / "scale_bias.csv"), "",
             "**Backtest** (calibrated on the figures stated by each origin; later figures scored by the "
             "same rules; naive forecasts are points, scored as degenerate intervals):", "",
             *backtest_lines(bt), "", END]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    text = block()
    if "--write" in argv:
        readme = ROOT / "README.md"
        body = readme.read_text(encoding="utf-8")
        a, b = body.index(BEGIN), body.index(END) + len(END)
        readme.write_text(body[:a] + text + body[b:], encoding="utf-8")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
