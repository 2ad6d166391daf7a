"""The README's next-plan table: what the 2026-2030 plan could do, as lever variants of
``next_plan_continue`` under the record posterior with common random numbers, written to
``docs/next_plan/next_plan.csv`` and rendered into README.md between the ``next-plan-table``
markers.

Which scenarios, and why. The question an analyst brings is "what should the next plan
(2026-2030) do?". ``next_plan_continue`` is ``outlook_2030`` (the record's policies continued
with every 2025 instrument unchanged) plus the two mechanisms the record posterior was matched
with (the 2021 launch campaign and the annual transformation targets, as ``history_launch``), so
its path to 2025-12 is the record's. Each lever variant extends it and changes only policy after
2025: every instrument stopped (the counterfactual), the annual targets stopped, the voucher
budget doubled, the chain-leader programme doubled, twice as many park pilots, the vouchers opened
to smaller firms (revenue threshold 10 M -> 2 M CNY), alone and with the budget doubled. Every number after
2025 is an ASSUMPTION (the scenario files say which). As ``forward_table.py``: every scenario
takes ``baseline_uncertain``'s uncertainties (the record posterior, drawn jointly per replicate,
and the two ranges it does not identify), so replicate r of every variant has the same parameter
set and seeds, and the paired differences against the continuation isolate the lever.

Read: cloud firms (cumulative) at 2027-12 and 2030-12 and transformed above-scale firms at
2030-12 (province-equivalent, median and 10-90% of replicates), the probability of the national
goal of an SME cloud rate of at least 40% by 2027-12 (``outlook_2030``'s listed goal, read by
:func:`sim.analysis.goal_list.listed_goal_outcomes`) with its Monte Carlo standard error, and the
paired differences (median and 10-90% of pairs).

Size. 200,000 firms, as ``forward_table.py`` (its docstring gives the measured scale bias).

Usage::

    PYTHONPATH=. .venv/bin/python scripts/next_plan_table.py               # all variants, 40 replicates
    PYTHONPATH=. .venv/bin/python scripts/next_plan_table.py --render-only # README from the CSV

``tests/test_next_plan_table.py`` checks that the README's table is the rendering of the
committed CSV and runs this script end to end at a tiny size.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from paired_table import REPO, Block, TableScript, count, probability, run_paired, signed  # noqa: E402

CSV = REPO / "docs" / "next_plan" / "next_plan.csv"
START, END = "<!-- next-plan-table:start -->", "<!-- next-plan-table:end -->"
BLOCK = Block(START, END)

UNCERTAINTIES_FROM = "baseline_uncertain"
"""Scenario whose ``posterior`` and ``uncertainties`` every variant takes (as the forward table)."""

NEXT_PLAN: dict[str, tuple[str, str]] = {
    "next_plan_continue": ("every 2025 instrument continues, annual target 9,200 transformed a year",
                           "2025年各项工具原样延续，年度目标每年新增转型9,200家"),
    "next_plan_stop_all": ("every instrument stops after 2025 (counterfactual)",
                           "2025年后全部工具停止（反事实）"),
    "next_plan_no_targets": ("annual transformation targets stop after 2025, the rest continues",
                             "2025年后不再设年度转型目标，其余延续"),
    "next_plan_vouchers_doubled": ("voucher budget doubled from 2026 (600 M CNY a year)",
                                   "2026年起服务券预算加倍（每年6亿元）"),
    "next_plan_chain_leaders": ("chain-leader programme (链式改造) doubled from 2026",
                                "2026年起链主（链式改造）力度加倍"),
    "next_plan_more_parks": ("40 park pilots a year from 2026 instead of 20",
                             "2026年起每年园区试点由20个增至40个"),
    "next_plan_all_levers": ("vouchers, chain leaders and park pilots all doubled from 2026",
                             "2026年起服务券、链主和园区试点同时加倍"),
    "next_plan_vouchers_wider": ("vouchers opened to firms with >= 2 M CNY revenue from 2026 (was 10 M CNY)",
                                 "2026年起服务券营业收入门槛由1,000万元降至200万元"),
    "next_plan_vouchers_wider_doubled": ("vouchers opened to >= 2 M CNY revenue and budget doubled from 2026",
                                         "2026年起服务券门槛降至200万元且预算加倍"),
}
"""The variants (the first is the reference of the paired differences) and what each changes
after 2025, in English and Chinese."""

READS: dict[str, tuple[str, str]] = {
    "cloud_2025": ("cloud_firms", "2025-12"),
    "transformed_2025": ("transformed_firms", "2025-12"),
    "cloud_2027": ("cloud_firms", "2027-12"),
    "cloud_2030": ("cloud_firms", "2030-12"),
    "transformed_2030": ("transformed_firms", "2030-12"),
}
"""The counts read per replicate: key -> (indicator, month). The 2025-12 counts only check that
a variant changes nothing before 2026 (:data:`SHOWN` are the table's)."""

SHOWN = ("cloud_2027", "cloud_2030", "transformed_2030")
"""The counts of the table."""

GOALS: dict[str, str] = {
    "sme_goal_2027": "sme_cloud_rate>=0.4@2027-12",
    "cloud_goal_2030": "cloud_firms>=1500000@2030-12",
    "transformed_goal_2030": "transformed_firms>=70000@2030-12",
}
"""Listed goals of ``outlook_2030`` (by label) whose probability the table gives: the national goal
of an SME cloud rate above 40% by 2027 (MIIT) and the two illustrative goals of a next plan
(ASSUMPTIONS of outlook_2030.yaml: no goal of the next plan is in shared/data)."""

TOTAL_FIRMS = 200_000
REPLICATES = 40
COLUMNS = (["scenario", "changes", "changes_zh", "total_firms", "replicates", "posterior", "posterior_sha256"]
           + [f"{k}_{s}" for k in SHOWN for s in ("median", "p10", "p90")]
           + ["transformed_2025_median", "sme_rate_2027_median"]
           + [f"p_{k}{s}" for k in GOALS for s in ("", "_mc_se")]
           + [f"d_{k}_{s}" for k in SHOWN for s in ("median", "p10", "p90")]
           + ["voucher_cny_2026_2030_median", "d_2025_max_abs", "wall_time_s"])
"""Columns of ``next_plan.csv``: counts province-equivalent (median and 10-90% of replicates),
the transformed count at 2025-12 (median; the same in every variant), the SME cloud rate at
2027-12 (median share) and the probability of the 40% goal with its Monte
Carlo standard error, paired differences from ``next_plan_continue`` (median and 10-90% of
pairs, province-equivalent), the voucher money granted 2026-2030 (median, CNY province-equivalent),
the largest absolute paired difference of either count at 2025-12
(simulated firms; 0 = the variant changes nothing before 2026), and the run's wall time."""

COLUMNS_ZH: dict[str, str] = {
    "scenario": "情景", "changes": "2025年后的变化", "changes_zh": "2025年后的变化（中文）",
    "total_firms": "模拟企业数", "replicates": "重复次数", "posterior": "后验文件", "posterior_sha256": "后验sha256",
    "cloud_2027_median": "2027年12月上云企业数中位数", "cloud_2027_p10": "2027年12月上云企业数10%分位",
    "cloud_2027_p90": "2027年12月上云企业数90%分位",
    "cloud_2030_median": "2030年12月上云企业数中位数", "cloud_2030_p10": "2030年12月上云企业数10%分位",
    "cloud_2030_p90": "2030年12月上云企业数90%分位",
    "transformed_2030_median": "2030年12月规上工业企业数字化转型数中位数",
    "transformed_2030_p10": "2030年12月转型数10%分位", "transformed_2030_p90": "2030年12月转型数90%分位",
    "transformed_2025_median": "2025年12月规上工业企业数字化转型数中位数",
    "sme_rate_2027_median": "2027年12月中小企业上云率中位数", "p_sme_goal_2027": "2027年中小企业上云率≥40%的概率",
    "p_sme_goal_2027_mc_se": "该概率的蒙特卡洛标准误",
    "p_cloud_goal_2030": "2030年12月上云企业≥150万家的概率（示意目标，假设）", "p_cloud_goal_2030_mc_se": "该概率的蒙特卡洛标准误",
    "p_transformed_goal_2030": "2030年12月转型企业≥7万家的概率（示意目标，假设）",
    "p_transformed_goal_2030_mc_se": "该概率的蒙特卡洛标准误",
    "d_cloud_2027_median": "与延续情景相比2027年上云企业差值（配对中位数）", "d_cloud_2027_p10": "同上10%分位",
    "d_cloud_2027_p90": "同上90%分位",
    "d_cloud_2030_median": "与延续情景相比2030年上云企业差值（配对中位数）", "d_cloud_2030_p10": "同上10%分位",
    "d_cloud_2030_p90": "同上90%分位",
    "d_transformed_2030_median": "与延续情景相比2030年转型企业差值（配对中位数）", "d_transformed_2030_p10": "同上10%分位",
    "d_transformed_2030_p90": "同上90%分位",
    "voucher_cny_2026_2030_median": "2026—2030年发放的服务券金额中位数（元，全省当量）",
    "d_2025_max_abs": "2025年12月与延续情景的最大绝对配对差值（0表示2026年前无变化）",
    "wall_time_s": "运行耗时（秒）",
}
"""Chinese names of the CSV's columns (for readers of the CSV in Chinese; the CSV keeps the English
names as its header)."""


def per_replicate(result) -> pd.DataFrame:
    """One row per replicate: the counts of :data:`READS` at the population's size, the SME cloud
    rate at 2027-12, whether each goal of :data:`GOALS` is met (the one listed-goal rule) and the
    voucher money granted 2026-2030."""
    from sim.analysis.goal_list import indicator_paths, listed_goal_outcomes
    from sim.core.outputs import select
    from sim.scenario.schema import Goal

    ts, config = result.timeseries, result.scenario
    out = pd.DataFrame(index=pd.Index(sorted(pd.unique(ts["replicate"])), name="replicate"))
    for key, (indicator, month) in READS.items():
        paths = indicator_paths(ts, config, Goal(indicator=indicator, value=0, date=month))
        out[key] = paths[paths["date"] == month].set_index("replicate")["value"]
    goals = listed_goal_outcomes(ts, config)
    for key, label in GOALS.items():
        rows = goals[goals["goal"] == label].set_index("replicate")
        if rows.empty:
            raise RuntimeError(f"{config.name}: no listed goal {label} (outlook_2030's goals.more)")
        out[f"met_{key}"] = rows["met"].astype(float)
        if key == "sme_goal_2027":
            out["sme_rate_2027"] = rows["value"]
    prov = select(ts, "province")
    later = prov[prov["date"].astype(str).str[:4].between("2026", "2030")]
    out["voucher_cny_2026_2030"] = later.groupby("replicate")["voucher_spend_cny"].sum()
    return out


def _quantiles(x: pd.Series) -> dict[str, float]:
    """Median, p10 and p90 over replicates, as the summary tables compute them."""
    from sim.analysis.summary import describe

    d = describe(x.to_numpy())
    return {stat: d[stat] for stat in ("median", "p10", "p90")}


def compute(total_firms: int = TOTAL_FIRMS, replicates: int = REPLICATES, workers: int | None = None) -> pd.DataFrame:
    """Run the variants and return the table (:data:`COLUMNS`)."""
    from sim.analysis.summary import describe

    runs = run_paired(list(NEXT_PLAN), total_firms, replicates, workers, UNCERTAINTIES_FROM)
    values = {name: per_replicate(r) for name, r in runs.compare.results.items()}
    ref = values[next(iter(NEXT_PLAN))]
    rows = []
    for name, (changes, changes_zh) in NEXT_PLAN.items():
        v = values[name]
        row: dict[str, object] = {"scenario": name, "changes": changes, "changes_zh": changes_zh,
                                  "total_firms": total_firms, "replicates": replicates,
                                  "posterior": runs.posterior, "posterior_sha256": runs.posterior_sha256}
        for key in SHOWN:
            for stat, q in _quantiles(v[key]).items():
                row[f"{key}_{stat}"] = round(q / runs.scale)
        row["transformed_2025_median"] = round(float(v["transformed_2025"].median()) / runs.scale)
        row["sme_rate_2027_median"] = round(float(v["sme_rate_2027"].median()), 4)
        for key in GOALS:
            met = describe(v[f"met_{key}"].to_numpy())
            row[f"p_{key}"], row[f"p_{key}_mc_se"] = round(met["mean"], 3), round(met["mc_se"], 3)
        row["voucher_cny_2026_2030_median"] = round(float(v["voucher_cny_2026_2030"].median()) / runs.scale)
        paired = v - ref.reindex(v.index)  # replicate r against replicate r
        for key in SHOWN:
            for stat, q in _quantiles(paired[key]).items():
                row[f"d_{key}_{stat}"] = round(q / runs.scale)
        row["d_2025_max_abs"] = int(paired[["cloud_2025", "transformed_2025"]].abs().to_numpy().max())
        row["wall_time_s"] = round(runs.wall_time_s)
        rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS)


def money(cny: float) -> str:
    """CNY in 亿 (100 M) to one decimal, as the policy documents state budgets."""
    return f"{cny / 1e8:,.1f}亿"


def _spread(r, key: str) -> str:
    return (f"{count(getattr(r, f'{key}_median'))} ({count(getattr(r, f'{key}_p10'))}–"
            f"{count(getattr(r, f'{key}_p90'))})")


def _paired(r, key: str) -> str:
    return (f"{signed(getattr(r, f'd_{key}_median'))} ({signed(getattr(r, f'd_{key}_p10'))} to "
            f"{signed(getattr(r, f'd_{key}_p90'))})")


def _goal(key: str) -> str:
    """``≥ 1,500,000`` for a count goal of :data:`GOALS`."""
    return f"≥ {int(GOALS[key].split('>=')[1].split('@')[0]):,}"


def _p(r, key: str) -> str:
    return probability(getattr(r, f"p_{key}"), getattr(r, f"p_{key}_mc_se"), int(r.replicates))


def render(table: pd.DataFrame) -> str:
    """The README block (between the markers, markers excluded) for a next-plan table."""
    first = table.iloc[0]
    lines = [
        "| variant | after 2025 (2025年后) | cloud firms 2027-12 | P(SME cloud rate ≥ 40%, 2027-12) | "
        f"cloud firms 2030-12; P({_goal('cloud_goal_2030')}) | transformed 2030-12; "
        f"P({_goal('transformed_goal_2030')}) | vs continuation: cloud 2027-12 | cloud 2030-12 | "
        "transformed 2030-12 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in table.itertuples(index=False):
        ref = r.scenario == first.scenario
        diffs = "reference | reference | reference" if ref else (
            f"{_paired(r, 'cloud_2027')} | {_paired(r, 'cloud_2030')} | {_paired(r, 'transformed_2030')}")
        lines.append(
            f"| `{r.scenario}` | {r.changes} ({r.changes_zh}) | {_spread(r, 'cloud_2027')} "
            f"| {_p(r, 'sme_goal_2027')} (rate {r.sme_rate_2027_median:.1%}) "
            f"| {_spread(r, 'cloud_2030')}; {_p(r, 'cloud_goal_2030')} "
            f"| {_spread(r, 'transformed_2030')}; {_p(r, 'transformed_goal_2030')} "
            f"| {diffs} |")
    lines += [
        "",
        f"Counts: median (10–90% of replicates); paired differences: median (10–90% of pairs), replicate r of "
        f"a variant against replicate r of `{first.scenario}`. Each of the {int(first.replicates)} replicates "
        f"draws its behavioural parameters jointly from the record posterior (`scenarios/posteriors/"
        f"{first.posterior}`, sha256 {first.posterior_sha256}…) and the voucher effect and churn from "
        f"`{UNCERTAINTIES_FROM}`'s ranges (ASSUMPTION); replicate r of every variant uses the same draw and "
        f"seeds. ± is one Monte Carlo standard error. The SME rate is over the 7,745,000 registered private "
        f"enterprises (`outlook_2030`'s goal; median in brackets); the 2030 goals are `outlook_2030`'s "
        f"illustrative goals of a next plan (ASSUMPTION: none is published). Simulated at {int(first.total_firms):,} firms "
        f"(1:{2_000_000 / first.total_firms:,.0f}), counts province-equivalent to the nearest 100. Produced by "
        f"`python scripts/next_plan_table.py` ({int(first.wall_time_s)} s) into `docs/next_plan/next_plan.csv`.",
        "",
        reading(table),
    ]
    return "\n".join(lines)


def reading(table: pd.DataFrame) -> str:
    """The table in a few sentences (every number from the table; which lever leads is read from it)."""
    ref = table.iloc[0]
    by = table.set_index("scenario")
    kept = table.iloc[1:][~table.iloc[1:]["scenario"].isin(["next_plan_stop_all", "next_plan_no_targets"])]
    pace = (ref.transformed_2030_median - ref.transformed_2025_median) / 5
    text = (f"Read as: continuing the 2025 instruments gives a median {count(ref.cloud_2030_median)} cloud firms and "
            f"{count(ref.transformed_2030_median)} transformed above-scale firms at 2030-12, the latter from "
            f"{count(ref.transformed_2025_median)} at 2025-12, i.e. about {count(pace)} a year (medians). ")
    if "next_plan_stop_all" in by.index:
        stop = by.loc["next_plan_stop_all"]
        text += (f"Stopping every instrument after 2025 changes these by {signed(stop.d_cloud_2030_median)} and "
                 f"{signed(stop.d_transformed_2030_median)} (median of pairs); stopping only the annual targets by "
                 f"{signed(by.loc['next_plan_no_targets', 'd_transformed_2030_median'])} transformed firms. "
                 if "next_plan_no_targets" in by.index else
                 f"Stopping every instrument after 2025 changes these by {signed(stop.d_cloud_2030_median)} and "
                 f"{signed(stop.d_transformed_2030_median)} (median of pairs). ")
    if not kept.empty:
        best = kept.loc[kept["d_cloud_2030_median"].idxmax()]
        lo, hi = (signed(kept["d_transformed_2030_median"].min()), signed(kept["d_transformed_2030_median"].max()))
        text += (f"Of the levers that add to the continuation, the largest paired gain in cloud firms at 2030-12 is "
                 f"{signed(best.d_cloud_2030_median)} (`{best.scenario}`), and their paired gain in transformed "
                 f"firms is {lo if lo == hi else f'{lo} to {hi}'}{' in each' if lo == hi else ''}. ")
    if "next_plan_vouchers_doubled" in by.index:
        text += (f"The vouchers granted 2026-2030 are {money(ref.voucher_cny_2026_2030_median)} CNY in the continuation "
                 f"and {money(by.loc['next_plan_vouchers_doubled', 'voucher_cny_2026_2030_median'])} CNY with the "
                 f"budget doubled (yearly budgets of 3亿 and 6亿 CNY, ASSUMPTION). ")
    if "next_plan_vouchers_wider" in by.index:
        text += wider_reading(by)
    pc, pt = table["p_cloud_goal_2030"], table["p_transformed_goal_2030"]
    text += (f"For the illustrative 2030 goals (ASSUMPTION), P(cloud firms {_goal('cloud_goal_2030')}) is "
             f"{ref.p_cloud_goal_2030:.2f} in the continuation and {pc.min():.2f}–{pc.max():.2f} across the variants, "
             f"P(transformed {_goal('transformed_goal_2030')}) {pt.min():.2f}–{pt.max():.2f}. ")
    p, rate = table["p_sme_goal_2027"], table["sme_rate_2027_median"]
    text += (f"P(SME cloud rate ≥ 40% at 2027-12) is {p.min():.2f}–{p.max():.2f} across the variants, with median "
             f"rates {rate.min():.1%}–{rate.max():.1%} over all registered private enterprises.")
    return text


def budget_2026_2030(name: str) -> float:
    """The voucher budget of a scenario over 2026-2030 (CNY, province; the yearly budget is the
    schedule's value in January: the instrument acts all year)."""
    from sim.core.schedules import value_at
    from sim.scenario.loader import load_scenario
    from sim.scenario.schema_types import month_number

    budget = load_scenario(name).policies.vouchers.budget_cny_per_year
    return sum(value_at(budget, month_number(f"{year}-01")) for year in range(2026, 2031))


def wider_reading(by: pd.DataFrame) -> str:
    """The sentence on the wider voucher rules: the money they spend against the budget, and what
    they add (every number from the table)."""
    w = by.loc["next_plan_vouchers_wider"]
    text = (f"Opening the vouchers to firms with at least 2 M CNY revenue (was 10 M CNY) grants "
            f"{money(w.voucher_cny_2026_2030_median)} CNY 2026-2030 of a budget of "
            f"{money(budget_2026_2030('next_plan_vouchers_wider'))} and adds "
            f"{signed(w.d_cloud_2027_median)} cloud firms by 2027-12 and {signed(w.d_cloud_2030_median)} by 2030-12 "
            f"(median of pairs; transformed {signed(w.d_transformed_2030_median)})")
    if "next_plan_vouchers_wider_doubled" in by.index:
        d = by.loc["next_plan_vouchers_wider_doubled"]
        text += (f"; with the budget doubled as well it grants {money(d.voucher_cny_2026_2030_median)} CNY of "
                 f"{money(budget_2026_2030('next_plan_vouchers_wider_doubled'))} "
                 f"and adds {signed(d.d_cloud_2027_median)} and {signed(d.d_cloud_2030_median)}")
    return text + ". "


SCRIPT = TableScript(__doc__.split("\n\n")[0], compute, render, BLOCK, CSV, TOTAL_FIRMS, REPLICATES)
main = SCRIPT.main
"""The command line: ``main(argv)`` runs (or with ``--render-only`` reads) the table and writes
the README block."""

if __name__ == "__main__":
    sys.exit(main())
