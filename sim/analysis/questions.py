"""Policy questions on the replicated model: what it takes, who gets the credit, where it fails.

* :func:`what_it_takes`: the smallest value of one lever (a dotted scenario path) at which the
  goal is met with a chosen probability, by bisection on a *fixed* replicate set (common random
  numbers), with the bracketing lever values and a Clopper-Pearson interval of the probability.
* :func:`attribution`: counterfactual runs switching off one channel at a time (policy
  instruments, supply-chain pull, park/cluster peers, market), with the same seeds; the
  adoption lost without a channel is its raw contribution, then normalised so that the
  contributions add up to the new adoption of the full run.
* :func:`sim.analysis.discover.discover` (its own module): a Latin-hypercube sweep of
  uncertainties and levers, then PRIM for the boxes of inputs in which the goal is missed.

Counts are reported scaled to 2,000,000 firms (``2,000,000 / total_firms``); whether a goal is
met is decided by the one rule of :mod:`sim.analysis.outcomes`.

Execution: each function takes ``executor=None, workers=None, address=None`` (None: serially in
this process; ``workers`` alone: local processes; see :mod:`sim.runs.executors`). Independent runs are
submitted together (every replicate of a lever value, the grid of :func:`what_it_takes`, every
counterfactual of :func:`attribution`, every point of :func:`discover`) and their results are put
back by index, so the results are the same whatever the executor or the number of workers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim import i18n
from sim.analysis.outcomes import Goal, check_goal_in_horizon, goal_month_index, goals_met, scale_up
from sim.analysis.tables import csv_encoding
from sim.errors import ScenarioError
from sim.fileio import atomic_write_csv, save_figure
from sim.i18n.columns import with_names
from sim.i18n.header import figure_header, plain_numbers
from sim.runs.executors import Executor
from sim.runs.jobs import executor_for, run_groups
from sim.scenario.docs import strip
from sim.scenario.labels import parameter_axis, parameter_value
from sim.scenario.loader import load_scenario
from sim.scenario.paths import annotation_of, set_values
from sim.scenario.schema import Scenario
from sim.scenario.specs import check_fraction, check_int

POLICY_INSTRUMENTS = ("vouchers", "platforms", "pilots", "chain_leaders", "sme_pilot_cities")
"""Instruments switched off by the ``policy`` channel (service capacity is a market constraint
and stays on, as in ``scenarios/no_policy_at_all.yaml``)."""

CHANNELS: dict[str, dict[str, Any]] = {
    "policy": {f"policies.{p}.enabled": False for p in POLICY_INSTRUMENTS},
    "supply_chain": {"diffusion.cloud.chain_weight_per_year": 0.0,
                     "diffusion.transform.chain_weight_per_year": 0.0},
    "park_cluster_peers": {f"diffusion.{s}.{w}": 0.0 for s in ("cloud", "transform")
                           for w in ("park_weight_per_year", "cluster_city_weight_per_year",
                                     "province_weight_per_year")},
    "market": {"diffusion.cloud.market_rate_per_year": 0.0,
               "diffusion.transform.market_rate_per_year": 0.0},
}
"""Counterfactual overrides per channel."""


def scenario_label(base: Scenario | str | Path) -> str:
    """How errors name the scenario: its file or shipped name, or ``(scenario <name>)``."""
    return str(base) if not isinstance(base, Scenario) else f"(scenario {base.name})"


def question_scenario(base: Scenario | str | Path, total_firms: int | None, overrides: dict | None,
             seed: int | None) -> Scenario:
    cfg = base if isinstance(base, Scenario) else load_scenario(base)
    ov: dict[str, Any] = dict(overrides or {})
    if total_firms is not None:
        ov["population.total_firms"] = total_firms
    if seed is not None:
        ov["run.seed"] = seed
    return set_values(cfg, ov, label="(overrides)") if ov else cfg


COUNT_METRICS: tuple[str, ...] = ("cloud_cumulative", "transformed")
"""Metrics read at the goal date."""


def _count_jobs(config: Scenario, replicates: int) -> list:
    return [(config, r, COUNT_METRICS) for r in range(replicates)]


def _counts(config: Scenario, results: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """(cloud, transformed) at the goal date per replicate at the population's scale, from the
    runs in replicate order."""
    k = goal_month_index(config)
    cloud, trans = np.zeros(len(results)), np.zeros(len(results))
    for r, res in enumerate(results):
        cloud[r], trans[r] = res["cloud_cumulative"][k], res["transformed"][k]
    return cloud, trans


def goal_counts_many(configs: Sequence[Scenario], replicates: int, executor: Executor | None = None,
                     on_group: Callable[[int, int], None] | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Counts at the goal date (at each population's scale, unlike :func:`goal_counts`) of several
    scenarios, every run submitted to ``executor`` at once."""
    return run_groups([_count_jobs(c, replicates) for c in configs], executor,
                      reduce=lambda g, results: _counts(configs[g], results), on_group=on_group)


def goal_counts(config: Scenario, replicates: int, *,
                executor: Executor | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per replicate ``0..replicates-1``: (cloud firms, transformed firms) at the goal date,
    scaled to 2,000,000 firms. The replicates run together on ``executor`` (None: serially)."""
    cloud, trans = goal_counts_many([config], replicates, executor)[0]
    return cloud * scale_up(config), trans * scale_up(config)


def goal_met(config: Scenario, replicates: int, goal: Goal = "cloud", *,
             executor: Executor | None = None) -> np.ndarray:
    """Per replicate ``0..replicates-1``: is the goal met at the goal date
    (:func:`sim.analysis.outcomes.goals_met`)?"""
    return goals_met(config, *goal_counts_many([config], replicates, executor)[0], goal)


def binomial_interval(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Clopper-Pearson interval of a proportion ``k / n``."""
    from scipy.stats import binomtest

    ci = binomtest(k, n).proportion_ci(confidence_level=level, method="exact")
    return float(ci.low), float(ci.high)


@dataclass
class WhatItTakesResult:
    """Answer of :func:`what_it_takes`.

    Attributes:
        lever: Dotted path of the lever.
        value: Smallest evaluated lever value meeting the probability (None if not reached
            within the bounds).
        bracket: (highest value failing, lowest value meeting) after bisection.
        probability_at_value: Share of replicates meeting the goal at ``value``.
        interval: Clopper-Pearson 95% interval of that probability.
        evaluations: Every lever value evaluated with its probability and met count.
        status: ``"found"``, ``"met_at_lower_bound"`` or ``"not_reached"``.
        files: Written files.
    """

    lever: str
    goal: str
    probability: float
    replicates: int
    value: float | None
    bracket: tuple[float, float] | None
    probability_at_value: float | None
    interval: tuple[float, float] | None
    evaluations: pd.DataFrame
    status: str
    files: dict[str, Path] = field(default_factory=dict)


WHAT_IT_TAKES_LABELS: dict[str, str] = {"lever": "lever_path", "bounds": "bounds",
                                         "probability": "probability", "rel_tol": "rel_tol"}
"""Argument names used in the errors of :func:`check_what_it_takes` (the command line passes its
option names instead)."""


def check_what_it_takes(cfg: Scenario, lever_path: str, probability: float, bounds: tuple[float, float],
                        rel_tol: float, integer: bool, *, labels: dict[str, str] | None = None) -> bool:
    """Check the inputs of :func:`what_it_takes` before any run.

    Args:
        cfg: The scenario the lever is set on.
        lever_path, probability, bounds, rel_tol, integer: As in :func:`what_it_takes`.
        labels: Names of the arguments in the errors (default :data:`WHAT_IT_TAKES_LABELS`).

    Returns:
        Whether the lever takes whole numbers (``integer``, or an integer scenario key).

    Raises:
        ScenarioError: One line naming the argument: a probability or tolerance outside (0, 1),
            a lever that is not a numeric scenario key (with a did-you-mean), bounds not in
            order or with no integer between them, a bound the scenario refuses, or a goal date
            outside the run.
    """
    names = {**WHAT_IT_TAKES_LABELS, **(labels or {})}
    check_fraction(names["probability"], probability)
    check_fraction(names["rel_tol"], rel_tol)
    integer = integer or strip(annotation_of(lever_path, names["lever"], numeric=True))[0] is int
    lo, hi = bounds
    where = names["bounds"]
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ScenarioError(where, lever_path, f"got {lo:g} {hi:g}: the lower bound must be below the upper",
                            "LO < HI (finite numbers), e.g. --bounds 0 2")
    if integer and math.floor(hi) < math.ceil(lo):
        raise ScenarioError(where, lever_path, f"got {lo:g} {hi:g}: no integer in between",
                            "LO < HI with an integer between them (the lever is rounded)")
    for v in (lo, hi):
        try:
            set_values(cfg, {lever_path: int(round(v)) if integer else float(v)}, label=where)
        except ScenarioError as exc:
            prefix = "" if exc.key_path == lever_path else f"{exc.key_path}: "
            raise ScenarioError(where, lever_path, prefix + exc.message, exc.allowed,
                                suggestion=exc.suggestion, more=exc.more) from None
    return integer


def what_it_takes(base: Scenario | str | Path, lever_path: str, goal: Goal = "cloud", probability: float = 0.9,
                  bounds: tuple[float, float] = (0.0, 1.0), replicates: int = 20, *,
                  total_firms: int | None = 400_000, overrides: dict | None = None, seed: int | None = None,
                  rel_tol: float = 0.01, grid: int = 0, increasing: bool = True, integer: bool = False,
                  out_dir: str | Path | None = None, progress: Callable[[str], None] | None = None,
                  executor: Executor | str | None = None, workers: int | None = None,
                  address: str | None = None) -> WhatItTakesResult:
    """Smallest lever value meeting ``goal`` with at least ``probability``.

    The probability is estimated as the share of the fixed replicates ``0..replicates-1`` that
    meet the goal. With common random numbers each replicate's outcome is (nearly) monotone in
    the lever, so the estimated probability is a step function of it; bisection stops when the
    bracket is narrower than ``rel_tol`` of the bounds' width.

    Args:
        base: Scenario or scenario file/name.
        lever_path: Dotted path, e.g. ``policies.vouchers.budget_cny_per_year``.
        goal: ``"cloud"`` (1,000,000 firms), ``"transformed"`` (50,000) or ``"both"``.
        probability: Required share of replicates meeting the goal.
        bounds: Search interval of the lever.
        replicates: Replicates per lever value (the same seeds at every value).
        total_firms: Population simulated (None = the scenario's); counts are scaled.
        overrides: Extra dotted overrides of the base.
        seed: Root seed (default: the scenario's).
        rel_tol: Bisection tolerance relative to ``bounds[1] - bounds[0]``.
        grid: Extra evenly spaced lever values evaluated for the plot (0 = none).
        increasing: True if more of the lever helps (else the largest value is searched).
        integer: Round lever values (for counts such as onboardings per month).
        out_dir: If given, writes ``what_it_takes.csv`` and ``what_it_takes.png``.
        progress: Optional callback of one-line messages.
        executor, workers, address: Where the model runs go (:func:`sim.runs.jobs.resolve_executor`:
            serially in this process by default; an executor given is left open). The replicates of
            a lever value run together, and so do the ``grid`` values with the first bound; the
            bisection steps themselves are sequential. Results do not depend on it.

    Returns:
        A :class:`WhatItTakesResult`.
    """
    cfg = question_scenario(base, total_firms, overrides, seed)
    check_int("replicates", replicates, 1)
    check_goal_in_horizon(cfg, scenario_label(base))
    integer = check_what_it_takes(cfg, lever_path, probability, bounds, rel_tol, integer)
    with executor_for(executor, workers, address) as ex:
        return _what_it_takes(cfg, lever_path, goal, probability, bounds, replicates, rel_tol=rel_tol,
                              grid=grid, increasing=increasing, integer=integer, out_dir=out_dir,
                              progress=progress, executor=ex)


def _what_it_takes(cfg: Scenario, lever_path: str, goal: Goal, probability: float, bounds: tuple[float, float],
                   replicates: int, *, rel_tol: float, grid: int, increasing: bool, integer: bool,
                   out_dir: str | Path | None, progress: Callable[[str], None] | None,
                   executor: Executor) -> WhatItTakesResult:
    say = progress or (lambda _m: None)
    cache: dict[float, int] = {}

    def lever(v: float) -> float:
        return float(round(v)) if integer else float(v)

    def evaluate(values: Sequence[float]) -> None:
        """Evaluate the lever values not yet in the cache, all replicates of all values at once."""
        todo = [v for v in dict.fromkeys(lever(v) for v in values) if v not in cache]
        cfgs = [set_values(cfg, {lever_path: v}, label="lever") for v in todo]
        for v, c, (cloud, trans) in zip(todo, cfgs, goal_counts_many(cfgs, replicates, executor), strict=True):
            cache[v] = int(goals_met(c, cloud, trans, goal).sum())
            lang = cfg.outputs.lang
            say(i18n.text("prog.wit_step", lang, lever=lever_path, value=f"{v:g}", met=cache[v], reps=replicates,
                          goal=goal if lang == "en" else i18n.text(f"goal.{goal}", lang)))

    def p_at(v: float) -> float:
        evaluate([v])
        return cache[lever(v)] / replicates

    ok = (lambda v: p_at(v) >= probability) if increasing else (lambda v: p_at(v) < probability)
    lo, hi = map(float, bounds)
    width = hi - lo
    # The grid and the bound the search checks first (always evaluated) go together.
    evaluate([*(np.linspace(lo, hi, grid) if grid else ()), lo if increasing else hi])
    if increasing:
        if ok(lo):
            status, value, bracket = "met_at_lower_bound", lo, (lo, lo)
        elif not ok(hi):
            status, value, bracket = "not_reached", None, None
        else:
            while hi - lo > rel_tol * width and (not integer or hi - lo > 1):
                mid = (lo + hi) / 2
                if ok(mid):
                    hi = mid
                else:
                    lo = mid
            status, value, bracket = "found", hi, (lo, hi)
    else:  # decreasing lever (e.g. churn): the largest value still meeting the goal
        if p_at(hi) >= probability:
            status, value, bracket = "met_at_lower_bound", hi, (hi, hi)
        elif p_at(lo) < probability:
            status, value, bracket = "not_reached", None, None
        else:
            while hi - lo > rel_tol * width and (not integer or hi - lo > 1):
                mid = (lo + hi) / 2
                if p_at(mid) >= probability:
                    lo = mid
                else:
                    hi = mid
            status, value, bracket = "found", lo, (lo, hi)
    if integer and value is not None:
        value = float(round(value))
        bracket = (float(round(bracket[0])), float(round(bracket[1])))
    ev = pd.DataFrame(sorted(cache.items()), columns=["lever_value", "met"])
    ev["replicates"] = replicates
    ev["probability"] = ev.met / replicates
    ci = [binomial_interval(int(m), replicates) for m in ev.met]
    ev["ci_low"], ev["ci_high"] = [c[0] for c in ci], [c[1] for c in ci]
    pv = iv = None
    if value is not None:
        m = cache[float(round(value)) if integer else value]
        pv, iv = m / replicates, binomial_interval(m, replicates)
    res = WhatItTakesResult(lever_path, goal, probability, replicates, value, bracket, pv, iv, ev, status)
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        res.files["csv"] = out / "what_it_takes.csv"
        atomic_write_csv(res.files["csv"], ev, index=False)
        res.files["plot"] = _plot_what_it_takes(res, out / "what_it_takes.png", cfg, increasing)
    return res


def _plot_what_it_takes(res: WhatItTakesResult, path: Path, cfg: Scenario, increasing: bool = True) -> Path:
    # A Figure without pyplot: no global backend switch (keeps notebooks' inline plots).
    from matplotlib.figure import Figure

    lang = cfg.outputs.lang
    goal = i18n.text(f"goal.{res.goal}", lang)
    ev = res.evaluations
    fig = Figure(figsize=(8, 4.6))
    ax = fig.subplots()
    ax.step(ev.lever_value, ev.probability, where="post", color="C0", label=i18n.text("wit.share", lang))
    ax.errorbar(ev.lever_value, ev.probability, yerr=[ev.probability - ev.ci_low, ev.ci_high - ev.probability],
                fmt="o", color="C0", capsize=3, label=i18n.text("wit.ci", lang))
    ax.axhline(res.probability, color="C3", ls="--", label=i18n.text("wit.required", lang, p=f"{res.probability:.0%}"))
    if res.value is not None:
        found = parameter_value(res.lever, res.value, lang)
        ax.axvline(res.value, color="C2", ls=":",
                   label=i18n.text("wit.smallest" if increasing else "wit.largest", lang, value=found))
    parameter_axis(ax.xaxis, res.lever, ev.lever_value, lang)
    ax.set_ylabel(i18n.text("wit.y", lang, goal=goal))
    ax.set_ylim(-0.05, 1.05)
    ax.legend(fontsize=8)
    ax.set_title(i18n.text("wit.title", lang, goal=goal, n=res.replicates), fontsize=10)
    note = i18n.text("analysis_note", lang, points=len(ev), n=res.replicates, runs=len(ev) * res.replicates)
    figure_header(fig, cfg.name, cfg.population.total_firms, res.replicates, lang, note=note)
    save_figure(fig, path)
    return path


# --------------------------------------------------------------------------- attribution


@dataclass
class AttributionResult:
    """Adoption attributable to each channel.

    Attributes:
        table: Tidy: date, metric, channel, new_full (new adoption of the full run since the
            start), raw (new_full minus new adoption without the channel, mean over replicates),
            attributed (raw normalised so the channels add up to new_full) and share.
        final: ``table`` at the last date.
        interaction: Per date and metric: sum of raw contributions minus new_full (positive
            when switching channels off one at a time loses more than the whole, i.e. channels
            reinforce each other).
        files: Written files.
    """

    table: pd.DataFrame
    final: pd.DataFrame
    interaction: pd.DataFrame
    files: dict[str, Path] = field(default_factory=dict)


def attribution(base: Scenario | str | Path = "baseline", *, replicates: int = 4, total_firms: int | None = 100_000,
                overrides: dict | None = None, seed: int | None = None,
                channels: Sequence[str] = tuple(CHANNELS), out_dir: str | Path | None = None,
                executor: Executor | str | None = None, workers: int | None = None,
                address: str | None = None) -> AttributionResult:
    """Counterfactual attribution of new adoption to channels (common random numbers).

    For each channel c and date t, ``raw_c(t) = new_full(t) - new_without_c(t)``, with ``new``
    the cumulative adopters since the start, averaged over the same replicates. Channels
    interact (peer effects multiply what the market and policy start), so the raw contributions
    do not add up to ``new_full``. Normalisation: negative raw values are set to 0 and the rest
    are scaled proportionally, ``attributed_c = new_full * raw_c / sum_c raw_c``; the gap
    ``sum_c raw_c - new_full`` is reported as ``interaction``.

    Args:
        base: Scenario or file/name.
        replicates: Replicates per run (the same seeds in every counterfactual).
        total_firms: Population simulated (None = the scenario's); counts are scaled.
        overrides: Extra dotted overrides of the base.
        seed: Root seed (default: the scenario's).
        channels: Channels to evaluate (keys of :data:`CHANNELS`).
        out_dir: If given, writes ``attribution.csv`` and a stacked-area ``attribution.png``.
        executor, workers, address: Where the model runs go (:func:`sim.runs.jobs.resolve_executor`:
            serially in this process by default; an executor given is left open). The full run and
            every counterfactual (``(1 + channels) x replicates`` runs) are submitted together;
            results do not depend on it.

    Returns:
        An :class:`AttributionResult`.
    """
    cfg = question_scenario(base, total_firms, overrides, seed)
    check_int("replicates", replicates, 1)
    f = scale_up(cfg)
    metrics = ("cloud_cumulative", "transformed")

    def new_adoption(_g: int, results: list[dict]) -> tuple[list[str], dict[str, np.ndarray]]:
        acc = {m: 0.0 for m in metrics}
        for res in results:  # replicate order
            for m in metrics:
                acc[m] = acc[m] + (res[m] - res[m][0]) * f
        return res["dates"], {m: acc[m] / replicates for m in metrics}

    configs = [cfg] + [set_values(cfg, CHANNELS[ch], label=f"channel {ch}") for ch in channels]
    with executor_for(executor, workers, address) as ex:
        adoption = run_groups([[(c, r, metrics) for r in range(replicates)] for c in configs], ex,
                              reduce=new_adoption)
    dates, full = adoption[0]
    rows = []
    raw: dict[str, dict[str, np.ndarray]] = {}
    for ch, (_, without) in zip(channels, adoption[1:], strict=True):
        raw[ch] = {m: full[m] - without[m] for m in metrics}
    inter = []
    for m in metrics:
        pos = np.array([np.maximum(raw[ch][m], 0.0) for ch in channels])
        tot = pos.sum(axis=0)
        safe = np.where(tot > 0, tot, 1.0)
        for i, ch in enumerate(channels):
            att = np.where(tot > 0, full[m] * pos[i] / safe, 0.0)
            for t, d in enumerate(dates):
                rows.append({"date": d, "metric": m, "channel": ch, "new_full": full[m][t],
                             "raw": raw[ch][m][t], "attributed": att[t],
                             "share": att[t] / full[m][t] if full[m][t] > 0 else 0.0})
        for t, d in enumerate(dates):
            inter.append({"date": d, "metric": m, "new_full": full[m][t],
                          "sum_raw": float(sum(raw[ch][m][t] for ch in channels)),
                          "interaction": float(sum(raw[ch][m][t] for ch in channels) - full[m][t])})
    table = pd.DataFrame(rows)
    final = table[table.date == dates[-1]].reset_index(drop=True)
    res = AttributionResult(table, final, pd.DataFrame(inter))
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        res.files["csv"] = out / "attribution.csv"
        lang = cfg.outputs.lang
        named = with_names(table, "metric", lambda m: i18n.text(f"metric.{m}", lang))
        named = with_names(named, "channel", lambda c: i18n.term_or("channel", c, lang))
        atomic_write_csv(res.files["csv"], named, index=False, encoding=csv_encoding(lang))
        res.files["plot"] = _plot_attribution(res, out / "attribution.png", cfg, replicates, len(configs))
    return res


def _plot_attribution(res: AttributionResult, path: Path, cfg: Scenario, replicates: int,
                      n_configs: int) -> Path:
    # A Figure without pyplot: no global backend switch (keeps notebooks' inline plots).
    from matplotlib.figure import Figure

    lang = cfg.outputs.lang
    fig = Figure(figsize=(12, 4.6))
    axes = fig.subplots(1, 2)
    for ax, m in zip(axes, ("cloud_cumulative", "transformed"), strict=True):
        sub = res.table[res.table.metric == m]
        wide = sub.pivot(index="date", columns="channel", values="attributed")
        x = pd.to_datetime(wide.index)
        ax.stackplot(x, wide.to_numpy().T, labels=[i18n.term_or("channel", c, lang) for c in wide.columns],
                     alpha=0.85)
        what = i18n.text("sent.what_cloud" if m == "cloud_cumulative" else "sent.what_transformed", lang)
        ax.set_title(i18n.text("attr.title", lang, what=what), fontsize=10)
        ax.set_xlabel(i18n.text("month_end", lang))
        ax.set_ylabel(i18n.text("firms_province_axis", lang), fontsize=8.5)  # counts are scaled (scale_up)
        plain_numbers(ax.yaxis)
        ax.legend(loc="upper left", fontsize=8)
    fig.autofmt_xdate()
    note = i18n.text("analysis_note", lang, points=n_configs, n=replicates, runs=n_configs * replicates)
    figure_header(fig, cfg.name, cfg.population.total_firms, replicates, lang, note=note,
                  title=i18n.text("attr.header", lang))
    save_figure(fig, path)
    return path
