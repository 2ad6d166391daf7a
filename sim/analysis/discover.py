"""Scenario discovery: a Latin-hypercube sweep of uncertainties and levers, then PRIM
(:mod:`sim.analysis.prim`) for the boxes of inputs in which the goal is missed (:func:`discover`).
Counts are compared with the goals by the one rule of :mod:`sim.analysis.outcomes`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sim.analysis.calibration_spec import ParameterSpec, with_values
from sim.analysis.design import latin_hypercube
from sim.analysis.discover_figure import plot_discovery
from sim.analysis.outcomes import Goal, check_goal_in_horizon, goals_met, scale_up
from sim.analysis.prim import PrimResult, find_box
from sim.analysis.questions import goal_counts_many, question_scenario, scenario_label
from sim.analysis.tables import csv_encoding, write_column_names
from sim.fileio import atomic_write_csv
from sim.i18n.columns import with_names
from sim.runs.executors import Executor
from sim.runs.jobs import executor_for
from sim.scenario import limits
from sim.scenario.labels import input_label
from sim.scenario.paths import set_values
from sim.scenario.schema import Scenario
from sim.scenario.specs import check_fraction, check_int

DEFAULT_SWEEP: tuple[ParameterSpec, ...] = (
    ParameterSpec(path="diffusion.cloud.market_rate_per_year", lower=0.02, upper=0.10),
    ParameterSpec(path=["diffusion.cloud.chain_weight_per_year", "diffusion.cloud.park_weight_per_year",
                        "diffusion.cloud.cluster_city_weight_per_year"], lower=0.0, upper=0.15,
                  name="cloud.peer_weights"),
    ParameterSpec(path="diffusion.churn_rate_per_year", lower=0.0, upper=0.3),
    ParameterSpec(path="policies.vouchers.budget_cny_per_year", lower=0.0, upper=1.2e9),
    ParameterSpec(path="policies.service_capacity.onboardings_per_month", lower=10_000, upper=40_000),
)
"""Default uncertainties (market rate, peer weights, churn) and levers (voucher budget,
service capacity) of :func:`discover`."""


@dataclass
class DiscoveryResult:
    """Sweep and PRIM boxes.

    Attributes:
        cases: One row per sampled point: inputs, cloud firms at the goal date (mean over
            replicates, scaled), ``p_missed`` and ``missed`` (the case of interest:
            the goal is missed in more than half of the replicates).
        prim: The :class:`~sim.analysis.prim.PrimResult`.
        box: Restricted dimensions of the selected box.
        files: Written files.
    """

    cases: pd.DataFrame
    prim: PrimResult
    box: pd.DataFrame
    files: dict[str, Path] = field(default_factory=dict)


def check_discover(cfg: Scenario, params: Sequence[ParameterSpec], *, n_samples: int, replicates: int,
                   seed: int, threshold: float, label: str,
                   labels: dict[str, str] | None = None) -> None:
    """Check the inputs of :func:`discover` before any run (``labels`` renames the arguments in
    the errors, as the command line does with its options).

    Raises:
        ScenarioError: Fewer than 2 samples, no replicate, a negative seed, a threshold outside
            (0, 1], a goal date outside the run, or a parameter bound the scenario refuses.
    """
    names = {"n_samples": "n_samples", "replicates": "replicates", "seed": "seed", "threshold": "threshold",
             **(labels or {})}
    check_int(names["n_samples"], n_samples, 2, limits.MAX_DESIGN_POINTS)
    check_int(names["replicates"], replicates, 1, limits.MAX_RUNS // n_samples)
    check_int(names["seed"], seed, 0)
    check_fraction(names["threshold"], threshold, upper_inclusive=True)
    check_goal_in_horizon(cfg, label)
    for p in params:  # the sweep's bounds must fit the scenario
        for bound in ("lower", "upper"):
            set_values(cfg, dict.fromkeys(p.paths, getattr(p, bound)), label=label)


def discover(base: Scenario | str | Path = "baseline", parameters: Sequence[ParameterSpec | dict] = DEFAULT_SWEEP, *,
             n_samples: int = 200, replicates: int = 1, total_firms: int | None = 50_000,
             overrides: dict | None = None, seed: int = 0, threshold: float = 0.8,
             goal: Goal = "cloud", out_dir: str | Path | None = None,
             progress: Callable[[int, int], None] | None = None, executor: Executor | str | None = None,
             workers: int | None = None, address: str | None = None) -> DiscoveryResult:
    """Latin-hypercube sweep of uncertainties and levers, then PRIM on "goal missed".

    Args:
        base: Scenario or file/name.
        parameters: Inputs to sweep (``ParameterSpec`` or dicts: path, lower, upper, name).
        n_samples: Points of the sweep.
        replicates: Replicates per point (the same seeds at every point).
        total_firms: Population simulated; counts are scaled to 2,000,000 firms.
        overrides: Extra dotted overrides of the base.
        seed: Seed of the Latin hypercube.
        threshold: Minimum density of the reported PRIM box.
        goal: Which goal must be missed to be a case of interest.
        out_dir: If given, writes ``discovery_cases.csv``, ``prim_trajectory.csv``,
            ``prim_box.csv`` and ``discovery.png``.
        progress: Callback ``(done, total)`` as points complete.
        executor, workers, address: Where the model runs go (:func:`sim.runs.jobs.resolve_executor`:
            serially in this process by default; an executor given is left open). Every point's
            replicates are submitted together; results do not depend on it.

    Returns:
        A :class:`DiscoveryResult`.
    """
    cfg = question_scenario(base, total_firms, overrides, None)
    params = [p if isinstance(p, ParameterSpec) else ParameterSpec.model_validate(p) for p in parameters]
    check_discover(cfg, params, n_samples=n_samples, replicates=replicates, seed=seed, threshold=threshold,
                   label=scenario_label(base))
    lo = np.array([p.lower for p in params])
    hi = np.array([p.upper for p in params])
    x = lo + latin_hypercube(n_samples, len(params), seed) * (hi - lo)
    cases = pd.DataFrame(x, columns=[p.label for p in params])
    cases.index.name = "row"
    cfgs = [with_values(cfg, params, th) for th in x]
    with executor_for(executor, workers, address) as ex:
        counts = goal_counts_many(cfgs, replicates, ex, on_group=progress)
    cloud, pmiss = [], []
    for c, (cl, tr) in zip(cfgs, counts, strict=True):
        pmiss.append(1.0 - goals_met(c, cl, tr, goal).mean())
        cloud.append((cl * scale_up(c)).mean())
    cases["cloud_firms"] = cloud
    cases["p_missed"] = pmiss
    cases["missed"] = cases.p_missed > 0.5
    labels = [p.label for p in params]
    pr = find_box(cases[labels], cases.missed.to_numpy(), threshold=threshold)
    res = DiscoveryResult(cases, pr, pr.restrictions(cases[labels]))
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        lang, keys = cfg.outputs.lang, {p.label: p.paths for p in params}
        csv = {"encoding": csv_encoding(lang)}
        res.files["cases"] = out / "discovery_cases.csv"
        atomic_write_csv(res.files["cases"], cases, **csv)
        res.files["cases_columns"] = write_column_names(
            res.files["cases"], cases.columns, lang, {p.label: input_label(p.label, p.paths, lang) for p in params})
        res.files["trajectory"] = out / "prim_trajectory.csv"
        atomic_write_csv(res.files["trajectory"], pr.trajectory, index=False, **csv)
        res.files["box"] = out / "prim_box.csv"
        box = res.box.assign(coverage=pr.stats.coverage, density=pr.stats.density, mass=pr.stats.mass,
                             backend=pr.backend)
        box = with_names(box, "input", lambda x: input_label(x, keys.get(x, ()), lang))
        atomic_write_csv(res.files["box"], box, index=False, **csv)
        res.files["plot"] = plot_discovery(cases, pr, res.box, labels, cfg, replicates, goal,
                                           out / "discovery.png", paths=keys)
    return res
