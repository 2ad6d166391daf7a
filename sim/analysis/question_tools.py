"""The policy questions as one call each, the same from Python and from ``gdcloud``
(``what-it-takes``, ``attribution``, ``discover``): the scenario is built and checked, the
question runs in a new results folder with a manifest, and the
:class:`~sim.runs.rundir.AnalysisRun`'s ``summary_lines()`` is what the command line prints.
The shared runner and ``labels`` are described in :mod:`sim.analysis.tools`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from sim import i18n
from sim.analysis import discover as discovery
from sim.analysis import questions
from sim.analysis.outcomes import Goal, check_goal_in_horizon
from sim.analysis.tools import number_text, run_tool
from sim.runs.executors import Executor
from sim.runs.jobs import ExecutorChoice
from sim.runs.rundir import AnalysisRun
from sim.runs.runner import resolve_scenario, with_lang
from sim.scenario import limits
from sim.scenario.labels import input_label
from sim.scenario.loader import resolved_yaml, scenario_hash
from sim.scenario.parameters import label_of
from sim.scenario.paths import set_values
from sim.scenario.schema import Scenario
from sim.scenario.specs import check_fraction, check_int

ARGUMENT_NAMES: dict[str, str] = {
    "replicates": "replicates", "total_firms": "total_firms", "samples": "n_samples", "seed": "seed",
    "threshold": "threshold", **questions.WHAT_IT_TAKES_LABELS}
"""How errors name the arguments by default (the command line passes its option names)."""


def question_scenario(scenario: Scenario | str | Path, overrides: Sequence[str] | dict | None,
                      total_firms: int | None, replicates: int, names: Mapping[str, str], *,
                      goal: bool) -> Scenario:
    """The scenario of a question: ``overrides`` (checked like ``--set``) and ``total_firms``
    applied; with ``goal``, ``goals.date`` must lie within the run."""
    check_int(names["replicates"], replicates, 1)
    sc = resolve_scenario(scenario, overrides=overrides)
    if total_firms is not None:
        sc = set_values(sc, {"population.total_firms": total_firms}, label=names["total_firms"])
    if goal:
        check_goal_in_horizon(sc, questions.scenario_label(scenario))
    return sc


def _inputs(scenario: Scenario | str | Path, sc: Scenario, overrides: Sequence[str] | dict | None,
            replicates: int, total_firms: int | None, **extra: Any) -> dict[str, Any]:
    given = str(scenario) if not isinstance(scenario, Scenario) else questions.scenario_label(scenario)
    listed = list(overrides or []) if not isinstance(overrides, dict) else [f"{k}={v}" for k, v in overrides.items()]
    return {"scenario": given, "scenario_name": sc.name, "scenario_hash": scenario_hash(sc),
            "overrides": listed, "replicates": replicates, "total_firms": total_firms, **extra}


def what_it_takes_tool(scenario: Scenario | str | Path, lever: str, *, goal: Goal = "cloud",
                       probability: float = 0.9, bounds: tuple[float, float] = (0.0, 1.0),
                       replicates: int = 20, total_firms: int | None = 400_000,
                       overrides: Sequence[str] | dict | None = None, rel_tol: float = 0.01,
                       increasing: bool = True, integer: bool = False, out_dir: str | Path | None = None,
                       save: bool = True, progress: Callable[[str], None] | None = None,
                       executor: ExecutorChoice = None, workers: int | None = None,
                       address: str | None = None, command: str | None = None,
                       labels: Mapping[str, str] | None = None, lang: str | None = None) -> AnalysisRun:
    """``gdcloud what-it-takes``: the smallest (or, with ``increasing=False``, largest) lever value
    meeting ``goal`` with at least ``probability`` (:func:`sim.analysis.questions.what_it_takes`),
    in a new results folder ``<out_dir>/what_it_takes/<timestamp>-<hash>/``.

    Args:
        scenario: A scenario, its file or a shipped name; ``overrides`` (``--set`` strings or a
            mapping) and ``total_firms`` (None: the scenario's) are applied to it.
        lever: Dotted path of the lever; the other arguments as in
            :func:`~sim.analysis.questions.what_it_takes`.
        out_dir, save, executor, workers, address, command, labels: As for
            :func:`sim.analysis.tools.calibrate_tool`.
        lang: Language of the figure, ``"en"`` or ``"zh"`` (default: the scenario's
            ``outputs.lang``); applied as the override ``outputs.lang``.

    Returns:
        An :class:`~sim.runs.rundir.AnalysisRun` whose ``result`` is the
        :class:`~sim.analysis.questions.WhatItTakesResult`.
    """
    names = {**ARGUMENT_NAMES, **(labels or {})}
    overrides = with_lang(overrides, lang)
    check_fraction(names["probability"], probability)
    check_fraction(names["rel_tol"], rel_tol)
    sc = question_scenario(scenario, overrides, total_firms, replicates, names, goal=True)
    lo, hi = bounds
    integer = questions.check_what_it_takes(sc, lever, probability, (lo, hi), rel_tol, integer, labels=names)

    def call(folder: Path | None, ex: Executor) -> questions.WhatItTakesResult:
        return questions.what_it_takes(sc, lever, goal=goal, probability=probability, bounds=(lo, hi),
                                       replicates=replicates, total_firms=None, rel_tol=rel_tol,
                                       increasing=increasing, integer=integer, out_dir=folder,
                                       progress=progress, executor=ex)

    def summarize(res: questions.WhatItTakesResult) -> tuple[list[str], dict[str, Any]]:
        lang = sc.outputs.lang
        zh = lang != "en"  # English keeps the lever's path and the goal's key as written
        lines = [i18n.text("wit.line_head", lang, direction=i18n.text(f"wit.direction_{'smallest' if increasing else 'largest'}", lang),
                           lever=input_label(label_of([lever]), [lever], lang) if zh else lever,
                           goal=i18n.text(f"goal.{goal}", lang) if zh else goal, p=f"{probability:g}",
                           name=i18n.scenario_title(sc.name, lang), reps=replicates, firms=f"{sc.population.total_firms:,}",
                           date=sc.goals.date)]
        ev = res.evaluations
        if res.status == "not_reached":
            edge = hi if increasing else lo
            met = int(ev.set_index("lever_value").met.get(float(round(edge)) if integer else float(edge), 0))
            lines.append(i18n.text("wit.not_reached", lang, lo=number_text(lo, lang=lang),
                                   hi=number_text(hi, lang=lang), met=met, reps=replicates,
                                   edge=number_text(edge, lang=lang)))
        else:
            where = i18n.text("wit.found", lang)
            if res.status == "met_at_lower_bound":
                where = i18n.text(f"wit.met_at_{'lower' if increasing else 'upper'}", lang)
            ci = res.interval
            lines.append(i18n.text("wit.line_value", lang, where=where, value=number_text(res.value, lang=lang),
                                   b0=number_text(res.bracket[0], lang=lang), b1=number_text(res.bracket[1], lang=lang),
                                   k=round(res.probability_at_value * replicates), reps=replicates,
                                   c0=f"{ci[0]:.2f}", c1=f"{ci[1]:.2f}"))
        lines.append(i18n.text("wit.line_count", lang, n=len(ev), reps=replicates))
        return lines, {"status": res.status, "value": res.value,
                       "bracket": list(res.bracket) if res.bracket else None,
                       "probability_at_value": res.probability_at_value,
                       "interval": list(res.interval) if res.interval else None}

    inputs = _inputs(scenario, sc, overrides, replicates, total_firms, lever=lever, goal=goal,
                     probability=probability, bounds=[lo, hi], rel_tol=rel_tol, decreasing=not increasing,
                     integer=integer)
    return run_tool("what_it_takes", call=call, summarize=summarize, inputs=inputs,
                    resolved=("scenario.resolved.yaml", resolved_yaml(sc)), n_runs=replicates, scenario=sc,
                    executor=executor, workers=workers, address=address, out_dir=out_dir, save=save,
                    command=command)


def attribution_tool(scenario: Scenario | str | Path = "baseline", *, replicates: int = 4,
                     total_firms: int | None = 100_000, overrides: Sequence[str] | dict | None = None,
                     out_dir: str | Path | None = None, save: bool = True, executor: ExecutorChoice = None,
                     workers: int | None = None, address: str | None = None, command: str | None = None,
                     labels: Mapping[str, str] | None = None, lang: str | None = None) -> AnalysisRun:
    """``gdcloud attribution``: what each channel adds to new adoption
    (:func:`sim.analysis.questions.attribution`), in a new results folder
    ``<out_dir>/attribution/<timestamp>-<hash>/``; arguments (``lang`` too) as for
    :func:`what_it_takes_tool`."""
    names = {**ARGUMENT_NAMES, **(labels or {})}
    overrides = with_lang(overrides, lang)
    sc = question_scenario(scenario, overrides, total_firms, replicates, names, goal=False)

    def call(folder: Path | None, ex: Executor) -> questions.AttributionResult:
        return questions.attribution(sc, replicates=replicates, total_firms=None, out_dir=folder, executor=ex)

    def summarize(res: questions.AttributionResult) -> tuple[list[str], dict[str, Any]]:
        lang = sc.outputs.lang
        fin = res.final
        last = str(fin.date.iloc[0])[:7] if len(fin) else sc.time.end
        lines = [i18n.text("att.line_head", lang, start=sc.time.start, last=last, name=i18n.scenario_title(sc.name, lang), reps=replicates,
                           firms=f"{sc.population.total_firms:,}")]
        inter = res.interaction[res.interaction.date == res.interaction.date.max()].set_index("metric")
        out = {}
        for metric in ("cloud_cumulative", "transformed"):
            sub = fin[fin.metric == metric]
            if sub.empty:
                continue
            total = float(sub.new_full.iloc[0])
            parts = i18n.text("att.sep", lang).join(
                i18n.text("att.item", lang, channel=r.channel if lang == "en" else i18n.term_or("channel", r.channel, lang),
                          share=f"{r.share:.0%}", raw=number_text(r.raw, lang=lang)) for r in sub.itertuples())
            lines.append(i18n.text("att.line", lang, name=i18n.text(f"att.{metric}", lang),
                                   total=number_text(total, lang=lang), parts=parts,
                                   inter=number_text(float(inter.loc[metric, "interaction"]), lang=lang)))
            out[metric] = {"new_full": total, **{r.channel: {"raw": r.raw, "share": r.share}
                                                 for r in sub.itertuples()}}
        return lines, out

    return run_tool("attribution", call=call, summarize=summarize,
                    inputs=_inputs(scenario, sc, overrides, replicates, total_firms),
                    resolved=("scenario.resolved.yaml", resolved_yaml(sc)),
                    n_runs=(1 + len(questions.CHANNELS)) * replicates, scenario=sc, executor=executor,
                    workers=workers, address=address, out_dir=out_dir, save=save, command=command)


def discover_tool(scenario: Scenario | str | Path = "baseline", *, n_samples: int = 200, replicates: int = 1,
                  total_firms: int | None = 50_000, overrides: Sequence[str] | dict | None = None,
                  seed: int = 0, threshold: float = 0.8, goal: Goal = "cloud",
                  out_dir: str | Path | None = None, save: bool = True,
                  progress: Callable[[int, int], None] | None = None, executor: ExecutorChoice = None,
                  workers: int | None = None, address: str | None = None, command: str | None = None,
                  labels: Mapping[str, str] | None = None, lang: str | None = None) -> AnalysisRun:
    """``gdcloud discover``: a Latin-hypercube sweep of the default uncertainties and levers, then
    PRIM on "goal missed" (:func:`sim.analysis.discover.discover`), in a new results folder
    ``<out_dir>/discover/<timestamp>-<hash>/``; arguments (``lang`` too) as for
    :func:`what_it_takes_tool`."""
    names = {**ARGUMENT_NAMES, **(labels or {})}
    overrides = with_lang(overrides, lang)
    check_int(names["samples"], n_samples, 2, limits.MAX_DESIGN_POINTS)
    check_int(names["replicates"], replicates, 1, limits.MAX_RUNS // n_samples)
    check_int(names["seed"], seed, 0)
    sc = question_scenario(scenario, overrides, total_firms, replicates, names, goal=True)
    discovery.check_discover(sc, discovery.DEFAULT_SWEEP, n_samples=n_samples, replicates=replicates,
                             seed=seed, threshold=threshold, label=questions.scenario_label(scenario),
                             labels={"n_samples": names["samples"], "replicates": names["replicates"],
                                     "seed": names["seed"], "threshold": names["threshold"]})

    def call(folder: Path | None, ex: Executor) -> discovery.DiscoveryResult:
        return discovery.discover(sc, n_samples=n_samples, replicates=replicates, total_firms=None, seed=seed,
                                  threshold=threshold, goal=goal, out_dir=folder, progress=progress,
                                  executor=ex)

    def summarize(res: discovery.DiscoveryResult) -> tuple[list[str], dict[str, Any]]:
        lang = sc.outputs.lang
        zh = lang != "en"  # English keeps the goal's key, the backend's and the inputs' names as written
        n, k = len(res.cases), int(res.cases.missed.sum())
        st = res.prim.stats
        lines = [i18n.text("disc.line_head", lang, n=n, name=i18n.scenario_title(sc.name, lang), reps=replicates,
                           firms=f"{sc.population.total_firms:,}", k=k,
                           goal=i18n.text(f"goal.{goal}", lang) if zh else goal, share=f"{k / n:.0%}")]
        note = "" if st.density >= threshold else i18n.text("disc.densest", lang, t=f"{threshold:g}")
        lines.append(i18n.text("disc.line_box", lang, c=f"{st.coverage:.2f}", d=f"{st.density:.2f}",
                               m=f"{st.mass:.2f}", note=note,
                               backend=i18n.term_or("prim_backend", res.prim.backend, lang) if zh
                               else res.prim.backend))
        if res.box.empty:
            lines.append(i18n.text("disc.no_input", lang))
        paths = {p.label: p.paths for p in discovery.DEFAULT_SWEEP}
        for r in res.box.itertuples():
            lines.append(i18n.text("disc.line_input", lang,
                                   input=input_label(r.input, paths.get(r.input, ()), lang) if zh else r.input,
                                   lo=number_text(r.box_min, lang=lang), hi=number_text(r.box_max, lang=lang),
                                   dlo=number_text(r.data_min, lang=lang), dhi=number_text(r.data_max, lang=lang)))
        return lines, {"points": n, "missed": k, "coverage": float(st.coverage), "density": float(st.density),
                       "mass": float(st.mass), "backend": res.prim.backend,
                       "box": res.box.to_dict(orient="records")}

    inputs = _inputs(scenario, sc, overrides, replicates, total_firms, samples=n_samples, goal=goal,
                     threshold=threshold, seed=seed)
    return run_tool("discover", call=call, summarize=summarize, inputs=inputs,
                    resolved=("scenario.resolved.yaml", resolved_yaml(sc)), n_runs=n_samples * replicates,
                    scenario=sc, executor=executor, workers=workers, address=address, out_dir=out_dir,
                    save=save, command=command)
