"""``gdcloud calibrate``, ``sensitivity``, ``what-it-takes``, ``attribution``, ``discover``: check the
inputs (one-line errors, nothing written), run the analysis in a new results folder
(:func:`sim.runs.rundir.run_analysis`), print its summary."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from sim.cli import record as record_commands
from sim.cli.commands import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, choose_executor, command_line
from sim.cli.report import executor_text, number_text, progress_callbacks
from sim.cli.usage import UsageError
from sim.errors import ScenarioError


def _relabel(exc: ScenarioError, file: str, key_path: str | None = None, prefix: str = "") -> ScenarioError:
    return ScenarioError(file, key_path or exc.key_path, prefix + exc.message, exc.allowed,
                         suggestion=exc.suggestion, more=exc.more)


def _apply_checked(scenario, values: dict[str, object], label: str, key_path: str | None = None,
                   prefix: str = ""):
    """``scenario`` with dotted ``values`` set as the analysis functions set them
    (:func:`sim.scenario.paths.set_values`); one-line ScenarioError naming ``label`` if refused."""
    from sim.scenario.paths import set_values

    try:
        return set_values(scenario, values, label=label)
    except ScenarioError as exc:
        if key_path and key_path != exc.key_path:
            prefix += f"{exc.key_path}: "
        raise _relabel(exc, label, key_path, prefix) from None


def _question_scenario(args: argparse.Namespace, *, goal: bool):
    """SCENARIO with --set (checked like `gdcloud run`) and --total-firms applied."""
    from sim.scenario.loader import load_scenario
    from sim.scenario.specs import check_int

    check_int("--replicates", args.replicates, 1)
    sc = load_scenario(args.scenario, args.overrides)
    sc = _apply_checked(sc, {"population.total_firms": args.total_firms}, "--total-firms")
    if goal:
        from sim.analysis.outcomes import check_goal_in_horizon

        check_goal_in_horizon(sc, args.scenario)
    return sc


def _run_analysis(label: str, args: argparse.Namespace, argv: Sequence[str] | None, *,
                  inputs: dict, resolved: tuple[str, str], call, summarize, executor) -> int:
    """Start the executor, run ``call(folder)`` in a new results folder
    (:func:`sim.runs.rundir.run_analysis`), print the summary; the executor is closed at the end.

    Args:
        label: Folder label and manifest ``kind`` (the command name with underscores).
        inputs: The checked inputs (recorded in the manifest and hashed for the folder name).
        resolved: (file name, text) of the resolved spec or scenario written into the folder.
        call: Runs the analysis writing into the folder; returns its result.
        summarize: ``summarize(result) -> (lines, json-able result summary)``.
        executor: Where the model runs go (:func:`choose_executor`); recorded in the manifest.
    """
    from sim.runs.rundir import MANIFEST, AnalysisInterrupted, run_analysis

    try:
        executor.start()  # an unreachable scheduler is reported before anything is written
        run = run_analysis(args.out, label, inputs=inputs, resolved=resolved, call=call,
                           summarize=lambda res: summarize(res)[1], executor=executor.describe(),
                           command=command_line(argv))
    except AnalysisInterrupted as exc:
        print(f"\ninterrupted: {label} stopped; whatever it wrote is in {exc.folder} (status 'interrupted' "
              "in manifest.json); an analysis cannot be resumed: run the command again",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        executor.close()
    if run.error is not None:
        exc = run.error
        print(f"{label} failed: {type(exc).__name__}: {' '.join(str(exc).split())} "
              f"(traceback in {run.folder / MANIFEST})", file=sys.stderr)
        return EXIT_FAILED
    lines, _ = summarize(run.result)
    lines[0] += f", {run.manifest['wall_time_s']:.1f} s ({executor_text(executor)})"
    lines.insert(1, f"  results: {run.folder}")
    for line in lines:
        print(line)
    return EXIT_OK


def cmd_calibrate(args: argparse.Namespace, argv: Sequence[str] | None) -> int:
    from sim.analysis.calibration import calibrate, make_problem
    from sim.analysis.calibration_spec import load_spec
    from sim.scenario.specs import check_int

    check_int("--seed", args.seed, 0)
    spec = load_spec(args.spec)
    path, label = spec.file, spec.label
    problem = make_problem(spec)
    from sim.analysis.calibration_spec import scenario_target, spec_write_path

    write = False if args.no_write_scenario else args.write_scenario
    target = scenario_target(spec, write, True, results_root=args.out, force=args.force)
    if target is not None and target.is_dir():
        raise ScenarioError("--write-scenario" if args.write_scenario else label, "write_scenario",
                         f"{target} is a folder", "a YAML file path, e.g. scenarios/calibrated.yaml")
    say, _ = progress_callbacks(args)
    import yaml

    # The largest batch submitted at once: the ABC draws or the profile points, x the seeds.
    d = len(spec.parameters)
    batch = spec.replicates * max(1, spec.abc.draws if spec.abc.enabled else 1,
                                  spec.profile.points * d if spec.profile.enabled else 1)
    executor = choose_executor(args, batch, problem.config)

    def call(folder: Path):
        return calibrate(spec, out_dir=folder, seed=args.seed, progress=say,
                         write_scenario=target if target is not None else False,
                         executor=executor)

    def summarize(res):
        lines = [f"calibration of {len(res.labels)} parameter(s) to {len(res.fit)} target(s) "
                 f"({spec.replicates} seed(s) x {spec.total_firms:,} firms, counts scaled to 2,000,000): "
                 f"{res.n_runs} model runs"]
        lines.append(f"  fit (objective {res.objective:.3g}: sum of squared relative errors):")
        for r in res.fit.itertuples():
            lines.append(f"    {r.indicator} {r.date}: reported {r.reported:,.0f}, simulated "
                         f"{r.simulated:,.0f} ({r.relative_error:+.1%})")
        lines.append("  parameters:")
        for r in res.summary.to_dict(orient="records"):
            text = f"    {r['parameter']} = {number_text(r['fitted'])} (box {number_text(r['lower'])} to {number_text(r['upper'])})"
            if "q05" in r and r["q05"] == r["q05"]:
                text += (f"; ABC 90% {number_text(r['q05'])} to {number_text(r['q95'])}, width ratio {r['width_ratio']:.2f}"
                         f" ({'pinned' if r['pinned'] else 'not pinned'})")
            lines.append(text)
        if "scenario" in res.files:
            lines.append(f"  calibrated scenario: {res.files['scenario']} (copy: {res.files['scenario_copy']})")
        else:
            skipped = spec_write_path(spec) if args.no_write_scenario else None
            lines.append(f"  calibrated scenario: {res.files['scenario_copy']}"
                         + (f" (--no-write-scenario: {skipped} not written)" if skipped else ""))
        return lines, {"fitted": res.fitted_dict(), "objective": res.objective, "n_runs": res.n_runs,
                       "optimizer_message": res.optimizer_message,
                       "fit": res.fit.to_dict(orient="records"),
                       "scenario_written": str(res.files.get("scenario")) if "scenario" in res.files else None}

    inputs = {"spec_file": str(path), "spec": spec.model_dump(mode="json"), "abc_seed": args.seed,
              "write_scenario": str(target) if target is not None else False}
    resolved = ("spec.resolved.yaml", yaml.safe_dump(spec.model_dump(mode="json"), sort_keys=False,
                                                     allow_unicode=True, width=100))
    return _run_analysis("calibrate", args, argv, inputs=inputs, resolved=resolved, call=call,
                         summarize=summarize, executor=executor)


def _estimate_seconds(spec, config, n_runs: int, workers: int = 1) -> tuple[float, float, float]:
    """(estimated wall time on ``workers`` workers, one cached run, population set-up) from two
    timed runs at the box centre. Each worker builds (and then keeps) the population of each
    replicate it runs."""
    import time

    from sim.analysis.calibration_spec import with_values
    from sim.runs.jobs import run_totals

    cfg = with_values(config, spec.parameters, [(p.lower + p.upper) / 2 for p in spec.parameters])
    t0 = time.perf_counter()
    run_totals(cfg, 0)
    t1 = time.perf_counter()
    run_totals(cfg, 0)  # the population is cached now, as for every later run of replicate 0
    t2 = time.perf_counter()
    run, setup = t2 - t1, max(0.0, (t1 - t0) - (t2 - t1))
    workers = max(1, min(workers, n_runs))
    return n_runs * run / workers + spec.replicates * setup, run, setup


def cmd_sensitivity(args: argparse.Namespace, argv: Sequence[str] | None) -> int:
    import importlib.util

    import yaml

    from sim.analysis.sensitivity import (
        CHUNK_ROWS,
        load_spec,
        n_model_runs,
        n_points,
        run_sensitivity,
    )
    from sim.analysis.sweep_estimate import duration_text

    spec = load_spec(args.spec)
    path = spec.file
    config = spec.scenario()
    if importlib.util.find_spec("SALib") is None:
        raise UsageError("sensitivity needs SALib: pip install '.[analysis]'")
    n_runs = n_model_runs(spec)
    per = " x 2 (runs without vouchers for voucher_cny_per_extra_cloud_firm)" \
        if "voucher_cny_per_extra_cloud_firm" in spec.outcomes else ""
    count = (f"{spec.method}: {n_points(spec)} points x {spec.replicates} replicate(s){per} = "
             f"{n_runs:,} model runs of {spec.total_firms:,} firms, {config.time.start} to {config.time.end}")
    executor = choose_executor(args, min(n_points(spec), CHUNK_ROWS) * n_runs // n_points(spec), config)
    if args.dry_run:
        try:
            workers = int(executor.describe().get("workers") or 1)
        finally:
            executor.close()
        dry = run_sensitivity(spec, dry_run=True)  # samples only: checks the SALib sampling
        total, run, setup = _estimate_seconds(spec, config, n_runs, workers)
        where = "in one process" if workers == 1 else f"on {workers} workers"
        print(f"sensitivity dry run ({spec.label}): nothing written")
        print(f"  {count} ({len(dry.samples)} sample rows)")
        print(f"  estimated time: about {duration_text(total)} {where} (one model run at the centre of "
              f"the box: {run:.2f} s, population set-up {setup:.2f} s per replicate; run times vary "
              "across the box)")
        return EXIT_OK
    _, count_cb = progress_callbacks(args)

    def call(folder: Path):
        return run_sensitivity(spec, out_dir=folder, progress=count_cb, executor=executor)

    def summarize(res):
        lines = [f"sensitivity ({count})"]
        keys = ("ST", "S1") if spec.method == "sobol" else ("mu_star", "sigma")
        for outcome in spec.outcomes:
            sub = res.indices[res.indices.outcome == outcome]
            if (sub["index"] == "constant").all():
                lines.append(f"  {outcome}: constant over the sample")
                continue
            main = sub[sub["index"] == keys[0]].sort_values("value", ascending=False)
            ranked = ", ".join(f"{r.parameter} {number_text(r.value, 3)} (+/- {number_text(r.conf, 2)})"
                               for r in main.head(4).itertuples())
            undefined = int(sub.n_undefined.max()) if "n_undefined" in sub else 0
            note = f" [{undefined} undefined point(s) replaced by the mean]" if undefined else ""
            lines.append(f"  {outcome}, {keys[0]} largest first: {ranked}{note}")
        return lines, {"n_runs": res.n_runs, "n_points": len(res.samples),
                       "top": {o: res.indices[(res.indices.outcome == o) & (res.indices["index"] == keys[0])]
                               .sort_values("value", ascending=False).parameter.head(3).tolist()
                               for o in spec.outcomes}}

    inputs = {"spec_file": str(path), "spec": spec.model_dump(mode="json")}
    resolved = ("spec.resolved.yaml", yaml.safe_dump(spec.model_dump(mode="json"), sort_keys=False,
                                                     allow_unicode=True, width=100))
    return _run_analysis("sensitivity", args, argv, inputs=inputs, resolved=resolved, call=call,
                         summarize=summarize, executor=executor)


def _scenario_inputs(args: argparse.Namespace, sc, **extra) -> tuple[dict, tuple[str, str]]:
    from sim.scenario.loader import resolved_yaml, scenario_hash

    inputs = {"scenario": args.scenario, "scenario_name": sc.name, "scenario_hash": scenario_hash(sc),
              "overrides": list(args.overrides), "replicates": args.replicates,
              "total_firms": args.total_firms, **extra}
    return inputs, ("scenario.resolved.yaml", resolved_yaml(sc))


def cmd_what_it_takes(args: argparse.Namespace, argv: Sequence[str] | None) -> int:
    from sim.analysis.questions import check_what_it_takes, what_it_takes
    from sim.scenario.specs import check_fraction

    check_fraction("--probability", args.probability)
    check_fraction("--rel-tol", args.rel_tol)
    sc = _question_scenario(args, goal=True)
    lo, hi = args.bounds
    integer = check_what_it_takes(sc, args.lever, args.probability, (lo, hi), args.rel_tol, args.integer,
                                  labels={"lever": "LEVER", "bounds": "--bounds", "probability": "--probability",
                                          "rel_tol": "--rel-tol"})
    say, _ = progress_callbacks(args)
    executor = choose_executor(args, args.replicates, sc)  # one lever value at a time

    def call(folder: Path):
        return what_it_takes(sc, args.lever, goal=args.goal, probability=args.probability, bounds=(lo, hi),
                             replicates=args.replicates, total_firms=None, rel_tol=args.rel_tol,
                             increasing=not args.decreasing, integer=integer, out_dir=folder, progress=say,
                             executor=executor)

    def summarize(res):
        direction = "largest" if args.decreasing else "smallest"
        lines = [f"what it takes: {direction} {args.lever} for the {args.goal} goal with probability >= "
                 f"{args.probability:g} ({sc.name}, {args.replicates} replicate(s) x {args.total_firms:,} firms, "
                 f"goal date {sc.goals.date})"]
        ev = res.evaluations
        if res.status == "not_reached":
            edge = lo if args.decreasing else hi
            met = int(ev.set_index("lever_value").met.get(float(round(edge)) if integer else float(edge), 0))
            lines.append(f"  not reached within {number_text(lo)} to {number_text(hi)}: {met}/{args.replicates} replicates "
                         f"meet the goal at {number_text(edge)}")
        else:
            where = "found"
            if res.status == "met_at_lower_bound":
                where = f"met already at the {'upper' if args.decreasing else 'lower'} bound"
            ci = res.interval
            lines.append(f"  {where}: {number_text(res.value)} (bracket {number_text(res.bracket[0])} to {number_text(res.bracket[1])}); "
                         f"{round(res.probability_at_value * args.replicates)}/{args.replicates} replicates meet "
                         f"the goal there, 95% interval {ci[0]:.2f} to {ci[1]:.2f}")
        lines.append(f"  {len(ev)} lever value(s) evaluated; the share moves in steps of 1/{args.replicates}")
        return lines, {"status": res.status, "value": res.value,
                       "bracket": list(res.bracket) if res.bracket else None,
                       "probability_at_value": res.probability_at_value,
                       "interval": list(res.interval) if res.interval else None}

    inputs, resolved = _scenario_inputs(args, sc, lever=args.lever, goal=args.goal,
                                        probability=args.probability, bounds=[lo, hi], rel_tol=args.rel_tol,
                                        decreasing=args.decreasing, integer=integer)
    return _run_analysis("what_it_takes", args, argv, inputs=inputs, resolved=resolved, call=call,
                         summarize=summarize, executor=executor)


def cmd_attribution(args: argparse.Namespace, argv: Sequence[str] | None) -> int:
    from sim.analysis.questions import CHANNELS, attribution

    sc = _question_scenario(args, goal=False)
    executor = choose_executor(args, (1 + len(CHANNELS)) * args.replicates, sc)

    def call(folder: Path):
        return attribution(sc, replicates=args.replicates, total_firms=None, out_dir=folder,
                           executor=executor)

    def summarize(res):
        fin = res.final
        last = str(fin.date.iloc[0])[:7] if len(fin) else sc.time.end
        lines = [f"attribution of new adoption {sc.time.start} to {last} ({sc.name}, {args.replicates} "
                 f"replicate(s) x {args.total_firms:,} firms, counts scaled to 2,000,000)"]
        inter = res.interaction[res.interaction.date == res.interaction.date.max()].set_index("metric")
        out = {}
        for metric, name in (("cloud_cumulative", "cloud firms"), ("transformed", "transformed firms")):
            sub = fin[fin.metric == metric]
            if sub.empty:
                continue
            total = float(sub.new_full.iloc[0])
            parts = ", ".join(f"{r.channel} {r.share:.0%} (raw {number_text(r.raw)})" for r in sub.itertuples())
            lines.append(f"  new {name} {number_text(total)}: {parts}; interaction "
                         f"{number_text(float(inter.loc[metric, 'interaction']))}")
            out[metric] = {"new_full": total, **{r.channel: {"raw": r.raw, "share": r.share}
                                                 for r in sub.itertuples()}}
        return lines, out

    inputs, resolved = _scenario_inputs(args, sc)
    return _run_analysis("attribution", args, argv, inputs=inputs, resolved=resolved, call=call,
                         summarize=summarize, executor=executor)


def cmd_discover(args: argparse.Namespace, argv: Sequence[str] | None) -> int:
    from sim.analysis.discover import DEFAULT_SWEEP, check_discover, discover
    from sim.scenario import limits
    from sim.scenario.specs import check_int

    check_int("--samples", args.samples, 2, limits.MAX_DESIGN_POINTS)
    check_int("--replicates", args.replicates, 1, limits.MAX_RUNS // args.samples)
    check_int("--seed", args.seed, 0)
    sc = _question_scenario(args, goal=True)
    check_discover(sc, DEFAULT_SWEEP, n_samples=args.samples, replicates=args.replicates, seed=args.seed,
                   threshold=args.threshold, label=args.scenario,
                   labels={"n_samples": "--samples", "replicates": "--replicates", "seed": "--seed",
                           "threshold": "--threshold"})
    _, count_cb = progress_callbacks(args)
    executor = choose_executor(args, args.samples * args.replicates, sc)

    def call(folder: Path):
        return discover(sc, n_samples=args.samples, replicates=args.replicates, total_firms=None,
                        seed=args.seed, threshold=args.threshold, goal=args.goal, out_dir=folder,
                        progress=count_cb, executor=executor)

    def summarize(res):
        n, k = len(res.cases), int(res.cases.missed.sum())
        st = res.prim.stats
        lines = [f"discover: {n} points ({sc.name}, {args.replicates} replicate(s) x {args.total_firms:,} firms), "
                 f"{k} miss the {args.goal} goal ({k / n:.0%})"]
        lines.append(f"  PRIM box ({res.prim.backend}): coverage {st.coverage:.2f}, density {st.density:.2f}, "
                     f"mass {st.mass:.2f}" + ("" if st.density >= args.threshold else
                                              f" (no box reaches density {args.threshold:g}: the densest)"))
        if res.box.empty:
            lines.append("  the box restricts no input")
        for r in res.box.itertuples():
            lines.append(f"    {r.input}: {number_text(r.box_min)} to {number_text(r.box_max)} (sampled {number_text(r.data_min)} to "
                         f"{number_text(r.data_max)})")
        return lines, {"points": n, "missed": k, "coverage": float(st.coverage), "density": float(st.density),
                       "mass": float(st.mass), "backend": res.prim.backend,
                       "box": res.box.to_dict(orient="records")}

    inputs, resolved = _scenario_inputs(args, sc, samples=args.samples, goal=args.goal,
                                        threshold=args.threshold, seed=args.seed)
    return _run_analysis("discover", args, argv, inputs=inputs, resolved=resolved, call=call,
                         summarize=summarize, executor=executor)


ANALYSIS_COMMANDS = {
    "calibrate": cmd_calibrate,
    "sensitivity": cmd_sensitivity,
    "what-it-takes": cmd_what_it_takes,
    "attribution": cmd_attribution,
    "discover": cmd_discover,
}
"""Analysis subcommands: name -> function(args, argv) returning the exit code."""
ANALYSIS_COMMANDS.update(record_commands.COMMANDS)  # history-match, backtest, evaluate
