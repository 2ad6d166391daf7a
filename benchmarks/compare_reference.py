"""Run the vectorized model and the per-agent Mesa reference side by side and compare them.

Both run in this process on the same population and the same random numbers (replicate ``r`` of
the scenario's root seed), with every mechanism switched on: vouchers with a binding budget,
platforms, park pilots, SME pilot cities, chain leaders, a binding service capacity, churn,
entry and exit, province-wide peer terms and per-cluster multipliers
(:func:`all_mechanisms_scenario`).

Printed: set-up and simulation time of each (wall clock and CPU time of this process), ns per
firm-step of the simulation alone, their ratio, the largest difference between the mean
cumulative-adoption curves (as a share of the initial firms) with its standard error over the
seeds, and how many seeds agree exactly.

A firm-step is one firm present in one month (summed over the months of the run).

Usage::

    python benchmarks/compare_reference.py                  # 100,000 firms, 20 + 5 seeds
    python benchmarks/compare_reference.py --firms 20000 --seeds 4 --ref-seeds 4 --months 24
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from reference_mesa import ReferenceModel  # noqa: E402
from reference_mesa_tuned import TunedReferenceModel  # noqa: E402

from sim.core.model import CloudAdoptionModel  # noqa: E402
from sim.core.population import build_population  # noqa: E402
from sim.core.run_output import METRICS  # noqa: E402
from sim.core.seeds import run_seed, spawn_streams, structure_seed  # noqa: E402
from sim.scenario.schema import Scenario  # noqa: E402
from sim.scenario.schema_types import month_number  # noqa: E402

START = "2021-06"


def end_month(months: int, start: str = START) -> str:
    """``YYYY-MM`` of the month ``months`` after ``start``."""
    y, m = divmod(month_number(start) + months, 12)
    return f"{y:04d}-{m + 1:02d}"


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def all_mechanisms_scenario(total_firms: int = 100_000, months: int = 54, *, substeps: int = 1,
                            seed: int = 20210706, extra: dict[str, Any] | None = None) -> Scenario:
    """Default parameters with every mechanism of the model switched on and binding.

    * vouchers: budget cut to 100 M CNY/yr (of the 2 M-firm population) so that it runs out
      within weeks each year; eligibility by revenue and age; Shenzhen excluded;
    * service capacity: 10,000 onboardings/month (2 M-firm scale) until 2023-12 (unlimited
      after), so that a queue forms and empties again -- a capacity that binds all the time
      would make the cumulative curve deterministic (capacity x months);
    * platforms, park pilots, SME pilot cities and the chain-leader programme as by default;
    * churn (default 0.1/yr after the subsidy), entry (census growth) and exit (0.05/yr);
    * province-wide peer weights (0.02/yr) and per-cluster market and peer multipliers.

    Args:
        total_firms: firms at the start.
        months: months simulated from 2021-06.
        substeps: synchronous updates per month.
        seed: the root seed (``run.seed``).
        extra: nested overrides merged in before validation.

    Returns:
        The validated scenario.
    """
    data: dict[str, Any] = {
        "name": "all_mechanisms",
        "time": {"start": START, "end": end_month(months), "substeps_per_month": substeps},
        "population": {"total_firms": total_firms, "exit_rate_per_year": 0.05},
        "diffusion": {
            "cloud": {"market_rate_per_year": 0.045, "chain_weight_per_year": 0.04,
                      "park_weight_per_year": 0.03, "cluster_city_weight_per_year": 0.03,
                      "province_weight_per_year": 0.02,
                      "cluster_market_multiplier": {"electronics": 1.3},
                      "cluster_peer_multiplier": {"petrochemicals": 1.5}},
            "transform": {"market_rate_per_year": 0.05, "chain_weight_per_year": 0.08,
                          "park_weight_per_year": 0.05, "cluster_city_weight_per_year": 0.05,
                          "province_weight_per_year": 0.02,
                          "cluster_peer_multiplier": {"electronics": 0.8}},
            "churn_rate_per_year": 0.1,
        },
        "policies": {
            "vouchers": {"budget_cny_per_year": 100e6},
            "service_capacity": {"onboardings_per_month": 10_000, "end": "2023-12"},
        },
        "run": {"seed": seed},
    }
    return Scenario.model_validate(_merge(data, extra or {}))


class Timer:
    """Wall-clock and process CPU seconds of a ``with`` block."""

    def __enter__(self) -> Timer:
        gc.collect()
        self.w0, self.c0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.w0
        self.cpu = time.process_time() - self.c0


def run_pair(config: Scenario, replicate: int, with_reference: bool) -> dict[str, Any]:
    """One replicate of the model (and of the reference) on one population; times and totals."""
    streams = spawn_streams(run_seed(config.run.seed, replicate))
    out: dict[str, Any] = {"replicate": replicate}
    with Timer() as t:
        pop = build_population(config, structure_seed(config, streams))
    out["population"] = (t.wall, t.cpu)
    with Timer() as t:
        model = CloudAdoptionModel(config, replicate=replicate, population=pop)
    out["model_setup"] = (t.wall, t.cpu)
    with Timer() as t:
        res = model.run()
    out["model_sim"] = (t.wall, t.cpu)
    out["model"] = {m: res.totals[m].copy() for m in METRICS}
    out["firm_steps"] = float(res.totals["n_firms"][1:].sum()) * config.time.substeps_per_month
    out["n_allocated"] = pop.n_firms
    del model, res
    if with_reference:
        with Timer() as t:
            ref = ReferenceModel(config, replicate=replicate, population=pop)
        out["ref_setup"] = (t.wall, t.cpu)
        with Timer() as t:
            tot = ref.run()
        out["ref_sim"] = (t.wall, t.cpu)
        out["ref"] = tot
        del ref
        gc.collect()
        with Timer() as t:
            tuned = TunedReferenceModel(config, replicate=replicate, population=pop)
        out["tuned_setup"] = (t.wall, t.cpu)
        with Timer() as t:
            out["tuned"] = tuned.run()
        out["tuned_sim"] = (t.wall, t.cpu)
        del tuned
        gc.collect()
    return out


def _series(totals: dict[str, np.ndarray], metric: str) -> np.ndarray:
    """A metric's monthly totals; ``decided`` = on the cloud ever + waiting (decisions taken,
    whether or not a provider had capacity)."""
    if metric == "decided":
        return totals["cloud_cumulative"] + totals["waiting"]
    return totals[metric]


def curve_stats(model: np.ndarray, ref: np.ndarray) -> dict[str, float]:
    """Largest |mean difference| between two sets of curves (seeds x months), paired by seed.

    Returns the month, the difference, its paired standard error, and for scale the standard
    error of the model's mean curve at that month (seed-to-seed variation).
    """
    d = model - ref
    s = d.shape[0]
    mean = d.mean(axis=0)
    se = d.std(axis=0, ddof=1) / np.sqrt(s) if s > 1 else np.full(d.shape[1], np.nan)
    se_curve = model.std(axis=0, ddof=1) / np.sqrt(s) if s > 1 else np.full(d.shape[1], np.nan)
    t = int(np.argmax(np.abs(mean)))
    return {"month": t, "max_abs_mean_diff": float(abs(mean[t])), "se_paired": float(se[t]),
            "se_of_mean_curve": float(se_curve[t]), "max_abs_diff_any_seed": float(np.abs(d).max())}


def summarize(runs: list[dict[str, Any]], total_firms: int) -> dict[str, Any]:
    """Times per firm-step, curve agreement and exact matches over the runs."""
    paired = [r for r in runs if "ref" in r]

    def ns_per_fs(key: str, rs: list[dict[str, Any]], which: int) -> float:
        return 1e9 * sum(r[key][which] for r in rs) / sum(r["firm_steps"] for r in rs)

    def per_firm(key: str, rs: list[dict[str, Any]], which: int) -> float:
        return 1e9 * sum(r[key][which] for r in rs) / sum(r["n_allocated"] for r in rs)

    s: dict[str, Any] = {"seeds_model": len(runs), "seeds_reference": len(paired),
                         "firm_steps_per_run": runs[0]["firm_steps"], "n_allocated": runs[0]["n_allocated"]}
    for which, name in ((0, "wall"), (1, "cpu")):
        s[f"model_ns_per_firm_step_{name}"] = ns_per_fs("model_sim", runs, which)
        s[f"model_ns_per_firm_step_paired_{name}"] = ns_per_fs("model_sim", paired, which) if paired else float("nan")
        s[f"population_ns_per_firm_{name}"] = per_firm("population", runs, which)
        s[f"model_setup_ns_per_firm_{name}"] = per_firm("model_setup", runs, which)
        if paired:
            s[f"ref_ns_per_firm_step_{name}"] = ns_per_fs("ref_sim", paired, which)
            s[f"ref_setup_ns_per_firm_{name}"] = per_firm("ref_setup", paired, which)
            # The model's speed does not depend on the seed: its time over all seeds is the
            # steadier estimate (a run of ~0.1 s is sensitive to other load on the machine).
            s[f"ratio_{name}"] = s[f"ref_ns_per_firm_step_{name}"] / s[f"model_ns_per_firm_step_{name}"]
            s[f"ratio_paired_{name}"] = s[f"ref_ns_per_firm_step_{name}"] / s[f"model_ns_per_firm_step_paired_{name}"]
            s[f"tuned_ns_per_firm_step_{name}"] = ns_per_fs("tuned_sim", paired, which)
            s[f"ratio_tuned_{name}"] = s[f"tuned_ns_per_firm_step_{name}"] / s[f"model_ns_per_firm_step_{name}"]
        s[f"model_sim_s_{name}"] = float(np.mean([r["model_sim"][which] for r in runs]))
        s[f"model_setup_s_{name}"] = float(np.mean([r["model_setup"][which] for r in runs]))
        s[f"population_s_{name}"] = float(np.mean([r["population"][which] for r in runs]))
        if paired:
            s[f"ref_sim_s_{name}"] = float(np.mean([r["ref_sim"][which] for r in paired]))
            s[f"ref_setup_s_{name}"] = float(np.mean([r["ref_setup"][which] for r in paired]))
    if paired:
        for metric in ("cloud_cumulative", "decided", "transformed", "cloud_active", "waiting"):
            m = np.array([_series(r["model"], metric) for r in paired]) / total_firms
            f = np.array([_series(r["ref"], metric) for r in paired]) / total_firms
            s[f"curve_{metric}"] = curve_stats(m, f)
        m_final = np.array([r["model"]["cloud_cumulative"][-1] for r in runs]) / total_firms
        s["se_final_share_over_seeds"] = float(m_final.std(ddof=1) / np.sqrt(len(runs))) if len(runs) > 1 else float("nan")
        # Unpaired: every model seed against the reference seeds.
        m_all = np.array([r["model"]["cloud_cumulative"] for r in runs]) / total_firms
        f_all = np.array([r["ref"]["cloud_cumulative"] for r in paired]) / total_firms
        diff = m_all.mean(axis=0) - f_all.mean(axis=0)
        t = int(np.argmax(np.abs(diff)))
        se = np.sqrt(m_all.var(axis=0, ddof=1)[t] / len(runs) + f_all.var(axis=0, ddof=1)[t] / len(paired)) \
            if len(paired) > 1 and len(runs) > 1 else float("nan")
        s["curve_cloud_cumulative_unpaired"] = {"month": t, "max_abs_mean_diff": float(abs(diff[t])), "se": float(se)}
        s["exact_final"] = sum(all(r["model"][k][-1] == r["ref"][k][-1] for k in METRICS) for r in paired)
        s["exact_series"] = sum(all(np.array_equal(r["model"][k], r["ref"][k]) for k in METRICS) for r in paired)
        s["exact_series_tuned"] = sum(all(np.array_equal(r["model"][k], r["tuned"][k]) for k in METRICS)
                                      for r in paired)
        s["final_cloud_cumulative_model"] = [int(r["model"]["cloud_cumulative"][-1]) for r in paired]
        s["final_cloud_cumulative_ref"] = [int(r["ref"]["cloud_cumulative"][-1]) for r in paired]
    # Evidence that the constraints bind (mean over model runs).
    spend = np.array([r["model"]["voucher_spend_cny"] for r in runs])
    s["months_with_voucher_spend"] = float((spend[:, 1:] > 0).mean())
    s["mean_waiting_max"] = float(np.mean([r["model"]["waiting"].max() for r in runs]))
    s["share_months_waiting"] = float(np.mean([(r["model"]["waiting"][1:] > 0).mean() for r in runs]))
    s["mean_churned_final"] = float(np.mean([r["model"]["cloud_cumulative"][-1] - r["model"]["cloud_active"][-1]
                                             for r in runs]))
    return s


def report(s: dict[str, Any], args: argparse.Namespace) -> str:
    """The human-readable summary."""
    lines = [
        f"model vs per-agent Mesa reference: {args.firms:,} firms at start "
        f"({s['n_allocated']:,} allocated with entrants), {args.months} months, "
        f"{args.substeps} step(s)/month, all mechanisms on",
        f"seeds: model {s['seeds_model']}, reference {s['seeds_reference']} (replicates 0..{s['seeds_reference'] - 1} paired)",
        f"firm-steps per run: {s['firm_steps_per_run']:,.0f}",
        "",
        "set-up (per run; population shared by both):",
        f"  population build  {s['population_s_wall']:8.2f} s wall  {s['population_s_cpu']:8.2f} s cpu  "
        f"({s['population_ns_per_firm_cpu']:,.0f} ns/firm cpu)",
        f"  model init        {s['model_setup_s_wall']:8.2f} s wall  {s['model_setup_s_cpu']:8.2f} s cpu  "
        f"({s['model_setup_ns_per_firm_cpu']:,.0f} ns/firm cpu)",
    ]
    if s["seeds_reference"]:
        lines.append(f"  reference init    {s['ref_setup_s_wall']:8.2f} s wall  {s['ref_setup_s_cpu']:8.2f} s cpu  "
                     f"({s['ref_setup_ns_per_firm_cpu']:,.0f} ns/firm cpu)")
    lines += [
        "simulation only (per run):",
        f"  model             {s['model_sim_s_wall']:8.2f} s wall  {s['model_sim_s_cpu']:8.2f} s cpu  "
        f"{s['model_ns_per_firm_step_wall']:10,.1f} ns/firm-step wall  {s['model_ns_per_firm_step_cpu']:10,.1f} cpu",
    ]
    if s["seeds_reference"]:
        c = s["curve_cloud_cumulative"]
        u = s["curve_cloud_cumulative_unpaired"]
        lines += [
            f"  reference         {s['ref_sim_s_wall']:8.2f} s wall  {s['ref_sim_s_cpu']:8.2f} s cpu  "
            f"{s['ref_ns_per_firm_step_wall']:10,.1f} ns/firm-step wall  {s['ref_ns_per_firm_step_cpu']:10,.1f} cpu",
            f"  ratio reference/model: {s['ratio_wall']:,.0f}x wall, {s['ratio_cpu']:,.0f}x cpu "
            f"(model timed on the paired seeds only: {s['ratio_paired_wall']:,.0f}x wall, {s['ratio_paired_cpu']:,.0f}x cpu)",
            f"  tuned reference   {s['tuned_ns_per_firm_step_wall']:10,.1f} ns/firm-step wall  "
            f"{s['tuned_ns_per_firm_step_cpu']:10,.1f} cpu (incremental partner counts, reference_mesa_tuned.py)",
            f"  ratio tuned reference/model: {s['ratio_tuned_wall']:,.0f}x wall, {s['ratio_tuned_cpu']:,.0f}x cpu "
            f"(the fair comparison); tuned identical to the model in {s['exact_series_tuned']}/{s['seeds_reference']} seeds",
            "",
            "agreement (cumulative cloud adoption as a share of the initial firms):",
            f"  largest |mean model - mean reference| over months, paired by seed: {c['max_abs_mean_diff']:.2e} "
            f"(SE {c['se_paired']:.2e}) at month {c['month']}; largest single-seed difference "
            f"{c['max_abs_diff_any_seed']:.2e}",
            f"  for scale: seed-to-seed SE of the mean final share {s['se_final_share_over_seeds']:.2e}",
            f"  unpaired (model {s['seeds_model']} seeds vs reference {s['seeds_reference']}): "
            f"{u['max_abs_mean_diff']:.2e} (SE {u['se']:.2e}) at month {u['month']}",
        ]
        for metric in ("decided", "transformed", "cloud_active", "waiting"):
            c = s[f"curve_{metric}"]
            lines.append(f"  {metric:16s} largest |mean diff| {c['max_abs_mean_diff']:.2e} (SE {c['se_paired']:.2e})")
        lines += [
            f"  seeds with identical final counts (all {len(METRICS)} metrics): "
            f"{s['exact_final']}/{s['seeds_reference']}; identical whole series: {s['exact_series']}/{s['seeds_reference']}",
        ]
    lines += [
        "",
        f"constraints bind: vouchers paid in {100 * s['months_with_voucher_spend']:.0f}% of months (budget gone the "
        f"rest of each year); a service queue in {100 * s['share_months_waiting']:.0f}% of months, "
        f"up to {s['mean_waiting_max']:,.0f} firms; "
        f"{s['mean_churned_final']:,.0f} firms churned or exited after adopting",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--firms", type=int, default=100_000, help="firms at the start")
    p.add_argument("--seeds", type=int, default=20, help="replicates run with the model")
    p.add_argument("--ref-seeds", type=int, default=5,
                   help="replicates 0..n-1 also run with the reference (about a minute each at the defaults)")
    p.add_argument("--months", type=int, default=54, help="months simulated from 2021-06 (54 = to 2025-12)")
    p.add_argument("--substeps", type=int, default=1, help="synchronous updates per month")
    p.add_argument("--seed", type=int, default=20210706, help="root seed")
    p.add_argument("--json", type=Path, default=None, help="also write the summary to this JSON file")
    args = p.parse_args(argv)
    ref_seeds = min(args.ref_seeds, args.seeds)
    config = all_mechanisms_scenario(args.firms, args.months, substeps=args.substeps, seed=args.seed)
    # Not timed: load the compiled kernel if there is one (once per process, like the imports).
    CloudAdoptionModel(all_mechanisms_scenario(2_000, 2, seed=args.seed)).run()
    runs = []
    for r in range(args.seeds):
        runs.append(run_pair(config, r, with_reference=r < ref_seeds))
        last = runs[-1]
        msg = f"replicate {r}: model {last['model_sim'][0]:.2f} s"
        if "ref" in last:
            same = all(np.array_equal(last["model"][k], last["ref"][k]) for k in METRICS)
            msg += f", reference {last['ref_sim'][0]:.1f} s, {'identical' if same else 'DIFFERENT'}"
        print(msg, file=sys.stderr, flush=True)
    s = summarize(runs, args.firms)
    print(report(s, args))
    if args.json:
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, **s}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
