"""Ex-post evaluation on a history-matched posterior, with paired counterfactual runs.

For every final particle of a history match (a parameter set and the replicate key of its run),
:func:`evaluate` reruns the scenario as it was implemented and once per instrument with that
instrument switched off, with the same parameters and the same replicate seed (paired runs:
common random numbers, so a difference is the instrument's effect in that world, not noise).
Weighted by the posterior weights it gives

(a) the firms on the cloud at the end date, with an interval, and the probability that the
    1,000,000 goal was reached (no figure was published: progress_reported.csv row 19);
(b) per instrument, the transformed and cloud firms at the end date it accounts for (history
    minus the run without it) with intervals, and the probability that the transformed count
    would still have exceeded 50,000 without it;
(c) the cost per additional firm of each funded instrument: simulated voucher money (all months
    summed) for vouchers; for the national SME pilot cities the central rewards of the cities
    whose pilot starts by the end date (up to 1.5亿 CNY for sub-provincial Shenzhen and
    Guangzhou, 1亿 for the others: policy_instruments.csv, national_sme_pilot_cities; an upper
    bound). Instruments without published money get no cost.

Counts are at full scale (the run's counts times 2,000,000 / ``total_firms``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.analysis.abc import weighted_quantile
from sim.analysis.history_match import MatchResult, values_of
from sim.analysis.outcomes import scale_up
from sim.core import uncertainty
from sim.runs.executors import Executor
from sim.runs.jobs import run_groups
from sim.scenario.schema import Scenario

INSTRUMENTS: tuple[str, ...] = ("vouchers", "platforms", "pilots", "chain_leaders", "sme_pilot_cities",
                                "transformation_programme", "plan_launch")
"""Policy instruments evaluated (``policies.<name>.enabled`` switched off); service capacity is a
market constraint, not an instrument."""

PILOT_CITY_REWARD_CNY: dict[str, float] = {"Shenzhen": 1.5e8, "Guangzhou": 1.5e8}
"""Central reward per national SME pilot city, CNY: up to 1.5亿 for sub-provincial cities
(Shenzhen, Guangzhou), 1亿 for others (:data:`PILOT_CITY_REWARD_DEFAULT_CNY`)
(policy_instruments.csv, national_sme_pilot_cities)."""

PILOT_CITY_REWARD_DEFAULT_CNY = 1.0e8

METRICS = ("cloud_cumulative", "transformed", "voucher_spend_cny")
QUANTILES = (0.05, 0.5, 0.95)


def _without(config: Scenario, instrument: str) -> Scenario:
    return uncertainty.apply(config, {f"policies.{instrument}.enabled": False})


def pilot_city_money_cny(config: Scenario) -> float:
    """Central rewards of the national SME pilot cities named by the run's end (upper bound)."""
    spec = config.policies.sme_pilot_cities
    if not spec.enabled:
        return 0.0
    end_year = int(config.time.end[:4])
    return float(sum(PILOT_CITY_REWARD_CNY.get(c, PILOT_CITY_REWARD_DEFAULT_CNY)
                     for c, y in spec.schedule.items() if int(y) <= end_year))


@dataclass
class Evaluation:
    """Paired runs of a posterior: end-date counts per particle, history and counterfactuals."""

    weights: np.ndarray
    end: str
    history: dict[str, np.ndarray]
    without: dict[str, dict[str, np.ndarray]]
    money_cny: dict[str, np.ndarray]

    def goals_table(self, cloud_goal: float = 1_000_000, transformed_goal: float = 50_000) -> pd.DataFrame:
        """(a): cloud and transformed firms at the end date and the probability of each goal."""
        rows = []
        for metric, goal in (("cloud_cumulative", cloud_goal), ("transformed", transformed_goal)):
            x = self.history[metric]
            q = weighted_quantile(x, self.weights, QUANTILES)
            rows.append({"quantity": metric, "date": self.end, "p05": q[0], "p50": q[1], "p95": q[2],
                         "goal": goal, "p_goal_reached": float(self.weights[x > goal].sum() if metric == "transformed"
                                                                 else self.weights[x >= goal].sum())})
        return pd.DataFrame(rows)

    def instruments_table(self, transformed_goal: float = 50_000) -> pd.DataFrame:
        """(b) and (c): what each instrument accounts for, and its cost per additional firm."""
        rows = []
        for name, runs in self.without.items():
            row: dict[str, object] = {"instrument": name}
            for metric in ("transformed", "cloud_cumulative"):
                d = self.history[metric] - runs[metric]
                q = weighted_quantile(d, self.weights, QUANTILES)
                row.update({f"{metric}_p05": q[0], f"{metric}_p50": q[1], f"{metric}_p95": q[2]})
            row["p_transformed_goal_without"] = float(self.weights[runs["transformed"] > transformed_goal].sum())
            money = self.money_cny.get(name)
            if money is not None:
                extra = self.history["cloud_cumulative"] - runs["cloud_cumulative"]
                extra_t = self.history["transformed"] - runs["transformed"]
                row["money_cny_p50"] = float(weighted_quantile(money, self.weights, [0.5])[0])
                with np.errstate(divide="ignore", invalid="ignore"):
                    for label, e in (("cloud", extra), ("transformed", extra_t)):
                        per = np.where(e > 0, money / np.maximum(e, 1e-9), np.nan)
                        ok = np.isfinite(per)
                        row[f"cny_per_extra_{label}_firm_p50"] = (
                            float(weighted_quantile(per[ok], self.weights[ok], [0.5])[0]) if ok.any() else np.nan)
            rows.append(row)
        return pd.DataFrame(rows)


def evaluate(match: MatchResult, *, instruments: Sequence[str] = INSTRUMENTS, end: str = "2025-12",
             executor: Executor | None = None) -> Evaluation:
    """Paired history / counterfactual runs of every final particle of ``match`` (module doc)."""
    base = match.config
    if base.time.end != end:
        base = uncertainty.apply(base, {"time.end": end})
    instruments = [i for i in instruments if getattr(base.policies, i).enabled]
    worlds = [("history", base)] + [(i, _without(base, i)) for i in instruments]
    thetas, keys = match.abc.particles, match.keys
    jobs = []
    for _, cfg in worlds:
        for th, k in zip(thetas, keys, strict=True):
            jobs.append([(uncertainty.apply(cfg, values_of(match.params, th)), int(k), METRICS)])
    factor = scale_up(base)

    def reduce(g: int, results: list[dict]) -> dict:
        r = results[0]
        return {"cloud_cumulative": float(r["cloud_cumulative"][-1]) * factor,
                "transformed": float(r["transformed"][-1]) * factor,
                "voucher_spend_cny": float(np.sum(r["voucher_spend_cny"])) * factor}

    out = run_groups(jobs, executor, reduce=reduce)
    n = len(thetas)
    per_world = {name: out[i * n:(i + 1) * n] for i, (name, _) in enumerate(worlds)}

    def col(name: str, metric: str) -> np.ndarray:
        return np.array([r[metric] for r in per_world[name]])

    history = {m: col("history", m) for m in METRICS}
    without = {i: {m: col(i, m) for m in METRICS} for i in instruments}
    money = {}
    if "vouchers" in instruments:
        money["vouchers"] = history["voucher_spend_cny"]
    if "sme_pilot_cities" in instruments:
        money["sme_pilot_cities"] = np.full(n, pilot_city_money_cny(base))
    return Evaluation(weights=match.abc.weights, end=end, history=history, without=without, money_cny=money)
