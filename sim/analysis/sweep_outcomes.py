"""What one run of a sweep gives: the run (:class:`SweepRun`, sent to a worker), its goal outcomes
(:func:`run_point` -> :class:`SweepRunResult`), and the tables built from them: one row per run
(:func:`outcomes_table`, ``outcomes.csv``) and one per point (:func:`point_summary`,
``point_summary.csv``). Running a sweep and writing its folder is :mod:`sim.analysis.sweep`.
"""

from __future__ import annotations

import json
import math
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis.sweep_plan import SweepPlan
from sim.scenario.schema import Scenario

RUN_COLUMNS: list[str] = [
    "goal_date", "cloud_firms", "transformed_firms", "cloud_goal", "transformed_goal", "cloud_gap",
    "transformed_gap", "cloud_goal_met", "transformed_goal_met", "both_goals_met",
    "cloud_goal_first_met", "transformed_goal_first_met", "voucher_spend_total_cny",
]
"""Outcomes of one run (:func:`sim.analysis.outcomes.goal_outcomes` plus ``both_goals_met``)."""




SUMMARY_STATS: list[str] = [
    "n_replicates", "n_failed", "p_meet_cloud_goal", "p_meet_transformed_goal", "p_meet_both_goals",
    "cloud_firms_median", "cloud_firms_p10", "cloud_firms_p90",
    "transformed_firms_median", "transformed_firms_p10", "transformed_firms_p90",
    "cloud_gap_median", "transformed_gap_median", "cloud_goal", "transformed_goal", "goal_date",
]
"""Statistics per point in ``point_summary.csv`` (after ``point`` and the parameter columns)."""


SUMMARY_COLUMNS: list[str] = ["point", "<parameters>", *SUMMARY_STATS]
"""Columns of ``point_summary.csv``."""


FAILURE_COLUMNS: list[str] = ["point", "replicate", "seed_entropy", "seed_spawn_key", "error_type",
                              "message", "traceback"]
"""Columns of ``failures.csv``."""


@dataclass(frozen=True)
class SweepRun:
    """One (point, replicate) to run; picklable, sent to workers."""

    point: int
    replicate: int
    scenario: dict
    root_seed: int
    name: str


@dataclass
class SweepRunResult:
    """The outcomes of one run (``outcome``), or why it failed."""

    point: int
    replicate: int
    ok: bool
    seed_entropy: int
    seed_spawn_key: tuple[int, ...]
    wall_time_s: float
    outcome: dict[str, Any] | None = None
    error_type: str | None = None
    error_message: str | None = None
    traceback: str | None = None
    worker: str = ""

    def failure_record(self) -> dict[str, Any]:
        return {"point": self.point, "replicate": self.replicate, "seed_entropy": self.seed_entropy,
                "seed_spawn_key": list(self.seed_spawn_key), "error_type": self.error_type,
                "message": self.error_message, "traceback": self.traceback}


def _value(v: Any) -> Any:
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    return v


def run_point(run: SweepRun) -> SweepRunResult:
    """Run one replicate of one point and reduce it to its goal outcomes (never raises)."""
    from sim.analysis.outcomes import goal_outcomes, scaled_goals
    from sim.runs import replicate
    from sim.runs.results import goals_evaluated

    res = replicate.run_one(replicate.ReplicateRun(run.scenario, run.name, run.replicate, run.root_seed,
                                        label=f"point-{run.point}"))
    base = {"point": run.point, "replicate": run.replicate, "seed_entropy": res.seed_entropy,
            "seed_spawn_key": res.seed_spawn_key, "worker": res.worker}
    if not res.ok:
        return SweepRunResult(**base, ok=False, wall_time_s=res.wall_time_s, error_type=res.error_type,
                              error_message=res.error_message, traceback=res.traceback)
    t0 = time.perf_counter()
    try:
        cfg, _ = goals_evaluated(Scenario.model_validate(run.scenario))
        go = goal_outcomes(res.timeseries, scaled_goals(cfg)).iloc[0]
        out = {c: _value(go[c]) for c in RUN_COLUMNS if c in go.index}
        out["both_goals_met"] = bool(out["cloud_goal_met"] and out["transformed_goal_met"])
        out["voucher_spend_total_cny"] = round(float(out["voucher_spend_total_cny"]), 2)
        out = {c: out[c] for c in RUN_COLUMNS}
    except Exception as exc:  # noqa: BLE001 - failures are data
        return SweepRunResult(**base, ok=False, wall_time_s=res.wall_time_s + time.perf_counter() - t0,
                              error_type=type(exc).__name__,
                              error_message=" ".join(str(exc).split()) or type(exc).__name__,
                              traceback=traceback.format_exc())
    return SweepRunResult(**base, ok=True, wall_time_s=res.wall_time_s + time.perf_counter() - t0,
                          outcome=out)


def lost_point_run(run: SweepRun, exc: BaseException) -> SweepRunResult:
    """Failure record for a run whose worker could not report back (e.g. it died)."""
    from sim.runs.jobs import failure_fields

    return SweepRunResult(run.point, run.replicate, False, wall_time_s=0.0,
                          **failure_fields(run.root_seed, run.replicate, exc))


def _csv_value(v: Any) -> Any:
    return json.dumps(v, ensure_ascii=False) if isinstance(v, list | dict) else v


def csv_text(df: pd.DataFrame) -> str:
    """A table as CSV text: lists and mappings as JSON, rows ending in ``\\n``."""
    out = df.copy()
    for c in out.columns:
        if out[c].dtype == object:
            out[c] = out[c].map(_csv_value)
    return out.to_csv(index=False, lineterminator="\n")


def outcomes_table(plan: SweepPlan, results: Sequence[SweepRunResult]) -> pd.DataFrame:
    """One row per finished (point, replicate), sorted, with the parameter values."""
    ok = sorted((r for r in results if r.ok), key=lambda r: (r.point, r.replicate))
    params = plan.points.set_index("point")
    rows = []
    for r in ok:
        row: dict[str, Any] = {"point": r.point, "replicate": r.replicate}
        row.update({p: params.at[r.point, p] for p in plan.parameters})
        row.update(r.outcome or {})
        rows.append(row)
    cols = ["point", "replicate", *plan.parameters, *RUN_COLUMNS]
    df = pd.DataFrame(rows, columns=cols)
    for c in ("point", "replicate", "cloud_firms", "transformed_firms", "cloud_goal", "transformed_goal",
              "cloud_gap", "transformed_gap"):
        df[c] = df[c].astype(np.int64)
    for c in ("cloud_goal_met", "transformed_goal_met", "both_goals_met"):
        df[c] = df[c].astype(bool)
    return df


def point_summary(plan: SweepPlan, outcomes: pd.DataFrame, failures: pd.DataFrame) -> pd.DataFrame:
    """One row per point: share of replicates meeting each goal, quantiles of the counts."""
    rows = []
    failed = failures.groupby("point").size() if not failures.empty else pd.Series(dtype=np.int64)
    by_point = {k: g for k, g in outcomes.groupby("point", sort=True)}
    for rec in plan.points.to_dict(orient="records"):
        k = int(rec["point"])
        g = by_point.get(k)
        n = 0 if g is None else len(g)
        row: dict[str, Any] = dict(rec)
        row["n_replicates"] = n
        row["n_failed"] = int(failed.get(k, 0))
        if n:
            row["p_meet_cloud_goal"] = float(g["cloud_goal_met"].mean())
            row["p_meet_transformed_goal"] = float(g["transformed_goal_met"].mean())
            row["p_meet_both_goals"] = float(g["both_goals_met"].mean())
            for col in ("cloud_firms", "transformed_firms"):
                x = g[col].to_numpy(dtype=np.float64)
                row[f"{col}_median"] = float(np.median(x))
                row[f"{col}_p10"] = float(np.quantile(x, 0.1))
                row[f"{col}_p90"] = float(np.quantile(x, 0.9))
            for col in ("cloud_gap", "transformed_gap"):
                row[f"{col}_median"] = float(np.median(g[col].to_numpy(dtype=np.float64)))
            row["cloud_goal"] = int(g["cloud_goal"].iloc[0])
            row["transformed_goal"] = int(g["transformed_goal"].iloc[0])
            row["goal_date"] = str(g["goal_date"].iloc[0])
        rows.append(row)
    df = pd.DataFrame(rows, columns=["point", *plan.parameters, *SUMMARY_STATS])
    for c in ("point", "n_replicates", "n_failed"):
        df[c] = df[c].astype(np.int64)
    return df
