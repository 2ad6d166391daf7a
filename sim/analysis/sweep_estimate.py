"""How long a sweep will take, and ``gdcloud sweep --dry-run`` (:func:`dry_run`): the count of
points and runs and the estimated time, from the :class:`~sim.analysis.sweep_plan.SweepOutline`
(no point is built beyond the first and the last, whatever the size of the design).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim import i18n
from sim.analysis.sweep_plan import SweepOutline, outline
from sim.analysis.sweep_spec import SweepSpec, native, shown_value
from sim.runs.jobs import ExecutorChoice, resolve_executor
from sim.scenario.labels import input_label
from sim.scenario.parameters import label_of
from sim.scenario.paths import get_value
from sim.scenario.schema import Scenario
from sim.scenario.schema_types import month_number

NS_PER_FIRM_MONTH = 10e-9
"""Rough model time per firm and simulated month (s), used when a run is not timed: measured
14 ns per firm-step at 2,000,000 firms on a 2-core machine (benchmarks/HISTORY.md), rounded down
because fewer firms are present early in a run."""


SETUP_PER_FIRM = 1.5e-6
"""Rough population set-up time per firm (s): about 1.5 s per million firms (measured 1.3-1.5 s,
benchmarks/HISTORY.md)."""


MEASURE_LIMIT_S = 20.0
"""A dry run times one model run of the base only if the rough estimate is below this (s)."""


SIZE_KEYS: tuple[str, ...] = ("population.total_firms", "time.start", "time.end", "time.substeps_per_month")
"""The scenario keys the rough run time depends on."""


def rough_seconds(size: dict[str, Any]) -> float:
    """About 10 ns per firm and month (x substeps) plus 1.5 s per million firms of set-up, from
    the values of :data:`SIZE_KEYS`."""
    months = month_number(str(size["time.end"])) - month_number(str(size["time.start"]))
    firms = float(size["population.total_firms"])
    return NS_PER_FIRM_MONTH * firms * months * float(size["time.substeps_per_month"]) + SETUP_PER_FIRM * firms


def rough_run_seconds(sc: Scenario) -> float:
    """:func:`rough_seconds` of a scenario."""
    data = sc.model_dump(mode="json")
    return rough_seconds({k: get_value(data, k) for k in SIZE_KEYS})


def mean_rough_seconds(o: SweepOutline) -> float:
    """The mean :func:`rough_seconds` over the points of a sweep, from the design's values of the
    size keys only: a factorial design is walked over the grids of those keys alone; a swept
    section that holds a size key (e.g. ``time``) is taken as the mean of the first and last point.
    """
    base = rough_run_seconds(o.base)
    if o.n_points == 0:
        return base
    data = o.base_data
    size = {k: get_value(data, k) for k in SIZE_KEYS}
    if any(p != k and k.startswith(p + ".") for p in o.parameters for k in SIZE_KEYS):
        ends = [rough_run_seconds(o.point_scenario(k, row)) for k, row in o.ends()]
        return sum(ends) / len(ends)
    cols = [j for j, p in enumerate(o.parameters) if p in SIZE_KEYS]
    if not cols:
        return base
    if o.spec.design == "factorial":
        grids = o.grids()
        combos = list(itertools.product(*(grids[j] for j in cols)))
    else:
        combos = [tuple(row[j] for j in cols) for row in o.rows()]
    total = 0.0
    for combo in combos:
        point = dict(size)
        point.update({o.parameters[j]: v for j, v in zip(cols, combo, strict=True)})
        total += rough_seconds(point)
    return total / len(combos)


@dataclass
class Estimate:
    """Estimated time of a sweep.

    Attributes:
        base_run_s: Seconds of one model run of the base (measured, or the rough estimate).
        measured: True if ``base_run_s`` was measured.
        model_s: Model time of all runs (each point scaled from the base by the rough estimate).
        workers: Workers assumed.
        wall_s: ``model_s / workers`` (runs are independent).
    """

    base_run_s: float
    measured: bool
    model_s: float
    workers: int
    wall_s: float


def estimate(plan: SweepOutline, *, workers: int = 1, measure: bool = True) -> Estimate:
    """Estimate the sweep's time: one timed run of the base at its population size if it is quick
    (rough estimate below :data:`MEASURE_LIMIT_S`), else :func:`rough_run_seconds`; the points
    scaled from it by :func:`mean_rough_seconds`. Takes an outline or a plan."""
    from sim.runs.replicate import ReplicateRun, run_one

    rough = rough_run_seconds(plan.base)
    base_s, measured = rough, False
    if measure and rough <= MEASURE_LIMIT_S:
        res = run_one(ReplicateRun(plan.base, plan.base.name, 0, plan.seed))
        if res.ok:
            base_s, measured = res.wall_time_s, True
    ratio = base_s / rough if rough > 0 else 1.0
    model = mean_rough_seconds(plan) * ratio * plan.n_points * plan.replicates
    workers = max(1, min(int(workers), max(plan.n_runs, 1)))
    return Estimate(base_s, measured, model, workers, model / workers)


def duration_text(seconds: float, lang: str = "en") -> str:
    """``42 s``, ``12 min`` or ``3.5 h`` (for time estimates; ``42秒``... in ``"zh"``)."""
    if seconds < 90:
        return i18n.text("dur.s", lang, n=f"{seconds:.0f}")
    if seconds < 5400:
        return i18n.text("dur.min", lang, n=f"{seconds / 60:.0f}")
    return i18n.text("dur.h", lang, n=f"{seconds / 3600:.1f}")


def _values_line(o: SweepOutline, j: int, column: Sequence[Any] | None, lang: str = "en") -> str:
    p = o.parameters[j]
    name = p if lang == "en" else input_label(label_of([p]), [p], lang)
    if column is None:  # a factorial grid, or a sampled range
        if o.spec.design == "factorial":
            column = o.grids()[j]
        else:
            c = o.checked[j]
            if c.is_range:
                kind = i18n.text("sweep.integers" if o.integer[j] else "sweep.values", lang)
                return i18n.text("sweep.values_range", lang, p=name, n=f"{o.n_points:,}", kind=kind,
                                 lo=shown_value(p, c.lower, lang), hi=shown_value(p, c.upper, lang))
            column = list(c.values or [])
    distinct = list(dict.fromkeys(shown_value(p, native(v), lang) for v in column))
    shown = i18n.text("sweep.sep", lang).join(distinct[:6]) + (i18n.text("sweep.etc", lang) if len(distinct) > 6 else "")
    return i18n.text("sweep.values_distinct", lang, p=name, n=len(distinct), shown=shown)


@dataclass
class DryRun:
    """What ``gdcloud sweep --dry-run`` computes (:func:`dry_run`).

    Attributes:
        outline: The checked sweep (points counted, not built).
        estimate: The time estimate.
    """

    outline: SweepOutline
    estimate: Estimate

    def summary_lines(self) -> list[str]:
        """What ``gdcloud sweep --dry-run`` prints (in the base scenario's ``outputs.lang``)."""
        o, est = self.outline, self.estimate
        sc = o.base
        lang = sc.outputs.lang
        lines = [i18n.text("sweep.dry_head", lang, label=o.label),
                 i18n.text("sweep.dry_design", lang, design=i18n.text(f"sweep.design_{o.spec.design}", lang),
                           points=f"{o.n_points:,}", reps=o.replicates, runs=f"{o.n_runs:,}", name=i18n.scenario_title(sc.name, lang),
                           firms=f"{sc.population.total_firms:,}", start=sc.time.start, end=sc.time.end,
                           seed=o.seed),
                 i18n.text("sweep.dry_checked", lang)]
        for j in range(len(o.parameters)):
            column = [row[j] for row in o.table] if o.table is not None else None
            lines.append(_values_line(o, j, column, lang))
        how = (i18n.text("sweep.how_measured", lang, s=f"{est.base_run_s:.2f}") if est.measured else
               i18n.text("sweep.how_rough", lang, s=f"{est.base_run_s:.1f}"))
        lines.append(i18n.text("sweep.dry_time", lang, wall=duration_text(est.wall_s, lang), workers=est.workers,
                               model=duration_text(est.model_s, lang), how=how))
        return lines


def dry_run(spec: str | Path | SweepSpec | dict, overrides: Sequence[str] | None = None, *,
            executor: ExecutorChoice = None, workers: int | None = None, address: str | None = None,
            measure: bool = True) -> DryRun:
    """Check a sweep, count its points and runs and estimate its time; nothing is written and no
    point is built beyond the first and the last (:func:`~sim.analysis.sweep_plan.outline`).

    Args:
        spec: A sweep file, a shipped sweep name, a dict or a :class:`SweepSpec`.
        overrides: ``--set`` strings applied to the base.
        executor, workers, address: Where the sweep would run (the estimate divides by its
            workers); as in :func:`sim.analysis.sweep.run_sweep`.
        measure: Time one run of the base if it is quick (else only the rough estimate).

    Raises:
        ScenarioError: Anything invalid, including a design above the size limits.
    """
    o = outline(spec, overrides)
    ex, owned = resolve_executor(executor, workers, address, n_runs=o.n_runs, scenario=o.base)
    try:
        n = int(ex.describe().get("workers") or 1)
    finally:
        if owned:
            ex.close()
    return DryRun(o, estimate(o, workers=n, measure=measure))
