"""The ``gdcloud`` command line (also ``python -m sim``): run, compare, sweep, validate, list,
schema, and the analyses calibrate, sensitivity, what-it-takes, attribution, discover.

A thin layer over :mod:`sim.runs.runner` and the analysis modules (:mod:`sim.analysis.calibration`,
:mod:`sim.analysis.sensitivity`, :mod:`sim.analysis.questions`). Exit codes:

* 0 - success;
* 1 - some replicate failed (the results folder is kept; errors are in ``manifest.json`` and
  ``failures.csv``);
* 2 - bad input: an invalid scenario file, ``--set`` override or option (one ``error:`` line on
  stderr, no traceback, nothing written);
* 130 - interrupted with Ctrl-C (finished replicates are kept; complete them with
  ``gdcloud run --resume FOLDER``; an interrupted analysis is not resumable and its folder is
  marked ``interrupted`` in ``manifest.json``).

Every analysis writes a new folder ``<out>/<command>/<UTC timestamp>-<hash>/`` holding the files
the analysis function writes (CSV, PNG), the resolved inputs (``spec.resolved.yaml`` or
``scenario.resolved.yaml``) and ``manifest.json``; its inputs are fully checked before the folder
is created.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

from sim.cli import record as record_commands
from sim.errors import ScenarioError

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

EPILOG_SCENARIO = (
    "SCENARIO is a YAML file or the name of a shipped scenario (see `gdcloud list`). "
    "Precedence, lowest first: schema defaults < extended file < the file < --set < "
    "--replicates/--seed. Reference of every key: docs/scenario_reference.md."
)


class UsageError(Exception):
    """Bad command-line arguments (exit code 2)."""


class _Parser(argparse.ArgumentParser):
    """argparse that reports errors as one ``error:`` line (exit code 2) instead of usage text."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (see `{self.prog} --help`)")


# --------------------------------------------------------------------------- parser


def out_dir(text: str) -> Path:
    """``--out``: a folder (created when needed); an existing file is refused (exit code 2)."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"--out {text!r:.200} is a file, not a folder")
    return path


def scheduler_address(text: str) -> str:
    """``--address``: a Dask scheduler address ``[tcp|tls|ucx|ws|wss]://HOST:PORT``."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(text if "://" in text else f"tcp://{text}")
        ok = parts.scheme in ("tcp", "tls", "ucx", "ws", "wss") and bool(parts.hostname) and parts.port
    except ValueError:
        ok = False
    if not ok:
        raise argparse.ArgumentTypeError(f"{text!r:.200} is not a scheduler address such as "
                                         "tcp://10.0.0.5:8786")
    return text


def _add_run_options(p: argparse.ArgumentParser, *, resume: bool) -> None:
    p.add_argument("--replicates", "-n", type=int, metavar="N",
                   help="number of replicates (overrides run.replicates)")
    p.add_argument("--seed", type=int, metavar="S", help="root seed (overrides run.seed)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE",
                   help="override one scenario value, e.g. --set policies.vouchers.scale=2 "
                        "(repeatable; values are read as YAML)")
    p.add_argument("--out", type=out_dir, default="results", metavar="DIR",
                   help="folder under which <scenario>/<timestamp>-<hash>/ is created "
                        "(default: results)")
    p.add_argument("--executor", choices=("serial", "processes", "dask"),
                   help="where replicates run (default: processes, or serial for a single run)")
    p.add_argument("--workers", "-j", type=int, metavar="N",
                   help="worker processes (default: CPUs available, at most one per replicate "
                        "and as many as memory allows)")
    p.add_argument("--address", type=scheduler_address, metavar="tcp://HOST:PORT",
                   help="Dask scheduler to use (implies --executor dask; default: a local cluster)")
    if resume:
        p.add_argument("--resume", type=Path, metavar="FOLDER",
                       help="complete an interrupted run folder: only missing replicates are "
                            "run; the scenario (if given) must be the same")
    p.add_argument("--no-figures", action="store_true", help="do not write figures/*.png")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="show a progress bar (default: only when stderr is a terminal)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="gdcloud",
        description="Agent-based scenarios of Guangdong firms moving onto the cloud: will "
                    "1,000,000 firms be on the cloud and 50,000 above-scale firms be digitally "
                    "transformed by the end of 2025?",
        epilog="Run `gdcloud COMMAND --help` for the options of a command.",
    )
    from sim import __version__

    parser.add_argument("--version", action="version", version=f"gdcloud-sim {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show the Python traceback of an unexpected error (also anywhere on "
                             "the command line, or GDCLOUD_DEBUG=1)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("run", help="run the replicates of one scenario and save the results",
                       description="Run every replicate of a scenario; results go to a new folder "
                                   "<out>/<scenario>/<UTC timestamp>-<hash>/.",
                       epilog=EPILOG_SCENARIO)
    p.add_argument("scenario", nargs="?", metavar="SCENARIO",
                   help="scenario file or shipped scenario name (optional with --resume)")
    _add_run_options(p, resume=True)

    p = sub.add_parser("compare", help="run several scenarios with common random numbers",
                       description="Run two or more scenarios with the same seeds (replicate r of "
                                   "each uses the same random numbers) and report paired "
                                   "differences against the first one.",
                       epilog=EPILOG_SCENARIO)
    p.add_argument("scenarios", nargs="+", metavar="SCENARIO", help="scenario files or names; the first is the reference")
    p.add_argument("--uncertainties-from", metavar="SCENARIO", default=None,
                   help="give every scenario the 'uncertainties' of this scenario (e.g. "
                        "baseline_uncertain), so policies are compared under the same parameter "
                        "uncertainty, replicate by replicate")
    _add_run_options(p, resume=False)

    p = sub.add_parser(
        "sweep", help="run a scenario over a grid, Latin hypercube or table of parameter values",
        description="How do the chances of meeting the goals change across values of one or more "
                    "scenario keys? Runs the sweep file's base scenario at every point of its design "
                    "(full factorial, Latin hypercube or a given table), each point with the same "
                    "replicates (replicate r uses the same seed at every point: common random "
                    "numbers). Every point is checked as a full scenario before anything runs. "
                    "--dry-run prints the number of points and runs and an estimated time, and writes "
                    "nothing.",
        epilog="SWEEP is a YAML file of sim.analysis.sweep.SweepSpec (keys: description, base, overrides, "
               "parameters [path, values | lower, upper, levels, integer], design "
               "factorial|latin_hypercube|table, samples, table, replicates, seed; unknown keys are "
               "errors) or the name of a shipped sweep in scenarios/analysis/ (sweep_vouchers). "
               "Precedence, lowest first: base < the sweep's overrides < --set < the point's values. "
               "Results go to a new folder <out>/sweep/<UTC timestamp>-<hash>/: points.csv, "
               "outcomes.csv (per point and replicate), point_summary.csv (per point: probability of "
               "meeting each goal, median, p10, p90), figures/sweep.png, runs/point-*.csv (written as "
               "points finish), sweep.resolved.yaml, scenario.resolved.yaml, manifest.json and "
               "failures.csv if a run failed (exit code 1).")
    p.add_argument("sweep", metavar="SWEEP", help="sweep file (YAML) or shipped sweep name")
    p.add_argument("--dry-run", action="store_true",
                   help="check the sweep, print the number of points and runs and an estimated time; "
                        "write nothing")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE",
                   help="override one value of the base scenario (repeatable; values are read as YAML)")
    p.add_argument("--out", type=out_dir, default="results", metavar="DIR",
                   help="folder under which sweep/<timestamp>-<hash>/ is created (default: results)")
    p.add_argument("--executor", choices=("serial", "processes", "dask"),
                   help="where runs go (default: processes, or serial for a single run)")
    p.add_argument("--workers", "-j", type=int, metavar="N",
                   help="worker processes (default: CPUs available, at most one per run and as many as "
                        "memory allows)")
    p.add_argument("--address", type=scheduler_address, metavar="tcp://HOST:PORT",
                   help="Dask scheduler to use (implies --executor dask; default: a local cluster)")
    p.add_argument("--no-figures", action="store_true", help="do not write figures/sweep.png")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="show a progress bar (default: only when stderr is a terminal)")

    p = sub.add_parser("validate", help="check scenario files without running them",
                       description="Load and validate each scenario (extends chain, --set "
                                   "overrides, every value); print OK or one error line per file.",
                       epilog=EPILOG_SCENARIO)
    p.add_argument("scenarios", nargs="+", metavar="SCENARIO")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE",
                   help="override one value (repeatable)")

    sub.add_parser("list", help="list the shipped scenarios",
                   description="List the shipped scenarios (scenarios/*.yaml) with their descriptions.")
    sub.add_parser("schema", help="print the JSON Schema of scenario files",
                   description="Print the JSON Schema of scenario files (for editors).")
    _add_analysis_parsers(sub)
    return parser


# --------------------------------------------------------------------------- helpers


def _err(message: str) -> None:
    print(f"error: {' '.join(str(message).split())}", file=sys.stderr)


def _estimated_worker_gb(scenario) -> float:
    """Rough peak memory of one worker, GB (0.65 GB at the full 2,000,000-firm scale)."""
    from sim.core.population import population_scale

    return 0.2 + 0.45 * population_scale(scenario)


def choose_executor(args: argparse.Namespace, n_runs: int, scenario):
    """The executor for a command from --executor/--workers/--address and the run size."""
    from sim.runs.executors import default_workers, make_executor

    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers must be >= 1, got {args.workers}")
    name = args.executor
    if name is None:
        if args.address is not None:
            name = "dask"
        elif args.workers is None and n_runs <= 1:
            name = "serial"  # a pool would only add start-up time
        else:
            name = "processes"
    if args.address is not None and name != "dask":
        raise UsageError("--address is only used with --executor dask")
    workers = args.workers
    if workers is None and name in ("processes", "dask") and args.address is None:
        workers = max(1, min(default_workers(), max(n_runs, 1)))
        try:
            import psutil

            fit = int(psutil.virtual_memory().available / 1e9 / _estimated_worker_gb(scenario))
            workers = max(1, min(workers, fit))
        except Exception:  # noqa: BLE001 - memory is only a hint
            pass
    if args.address is None:
        _check_memory(scenario, workers if name != "serial" else 1)
    return make_executor(name, workers=workers, address=args.address)


def _check_memory(scenario, workers: int | None) -> None:
    """Refuse a local run whose workers cannot all fit in the memory available now (the rule of
    sim/scenario/limits.py: the schema caps one run; this caps the run times the workers)."""
    try:
        import psutil

        available_gb = psutil.virtual_memory().available / 1e9
    except Exception:  # noqa: BLE001 - no measurement, no refusal
        return
    need_gb = _estimated_worker_gb(scenario) * (workers or 1)
    if need_gb > available_gb:
        raise UsageError(f"{workers or 1} worker(s) of this scenario need about {need_gb:.1f} GB of memory, "
                         f"{available_gb:.1f} GB are available; use fewer --workers or a smaller "
                         "population.total_firms")


def _fmt(x: float) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:,.0f}"


def summary_lines(result) -> list[str]:
    """The short human summary printed after a run."""
    from sim.analysis.summary import population_scale, scaled_goals
    from sim.core.uncertainty import has_uncertainty
    from sim.runs.results import goals_evaluated

    lines = []
    m = result.manifest or {}
    n_plan = result.scenario.run.replicates
    n_done = len(result.replicates_done)
    wall = m.get("wall_time_s")
    lines.append(f"{result.name}: {n_done} of {n_plan} replicates done, {len(result.failures)} failed"
                 + (f", {wall:.1f} s" if isinstance(wall, int | float) else ""))
    if result.folder is not None:
        lines.append(f"  results: {result.folder}")
    for note in m.get("notes", []):
        lines.append(f"  note: {note}")
    summ = result.summary
    if summ is None or summ.empty:
        return lines
    cfg, _ = goals_evaluated(result.scenario)
    goals = scaled_goals(cfg)
    rows = summ.set_index("outcome")
    year = goals.date[:4]
    scale = population_scale(result.scenario)
    scale_note = "" if scale == 1 else f" (scaled x{scale:.4g} to {result.scenario.population.total_firms:,} firms)"
    for key, label, goal in (("cloud", "firms on the cloud", goals.cloud_firms),
                             ("transformed", "above-scale firms transformed", goals.transformed_firms)):
        val = rows.loc[f"{key}_firms_{year}"] if f"{key}_firms_{year}" in rows.index else None
        p = rows.loc[f"p_meet_{key}_goal"] if f"p_meet_{key}_goal" in rows.index else None
        when = rows.loc[f"month_{key}_goal_met"] if f"month_{key}_goal_met" in rows.index else None
        if val is None:
            continue
        if n_done == 1:
            lines.append(f"  {label} at {goals.date}: {_fmt(float(val['median']))} (one replicate: no spread)")
        else:
            lines.append(f"  {label} at {goals.date}: median {_fmt(float(val['median']))} "
                         f"(10-90%: {_fmt(float(val['p10']))} to {_fmt(float(val['p90']))})")
        if p is None:
            continue
        month = _month(when["median"]) if when is not None else "n/a"
        if n_done == 1:
            met = "met" if float(p["mean"]) >= 1 else "not met"
            lines.append(f"    goal {goal:,}{scale_note}: {met}; first reached: {month}")
        else:
            kind = "" if has_uncertainty(result.scenario) else ", stochastic-only: no parametric uncertainty"
            lines.append(f"    goal {goal:,}{scale_note}: probability met {float(p['mean']):.2f} "
                         f"(of {n_done} replicates{kind}); first reached (median): {month}")
    return lines


def _month(value: object) -> str:
    """``2024-07-31`` -> ``2024-07``; other text (e.g. ``not by 2025-12``) unchanged."""
    text = str(value)
    return text[:7] if len(text) == 10 and text[4] == "-" and text[7] == "-" else text


def _print_failures(result) -> None:
    figures_error = (result.manifest or {}).get("figures_error")
    if figures_error:
        print(f"error: the figures could not be written: {figures_error}", file=sys.stderr)
    f = result.failures
    if f.empty:
        return
    where = f" (details in {result.folder / 'failures.csv'})" if result.folder else ""
    print(f"  {len(f)} replicate(s) failed{where}:", file=sys.stderr)
    for row in f.head(5).itertuples():
        print(f"    replicate {row.replicate}: {row.error_type}: {row.message}", file=sys.stderr)
    if len(f) > 5:
        print(f"    ... and {len(f) - 5} more", file=sys.stderr)


def _command_line(argv: Sequence[str] | None) -> str:
    args = list(sys.argv[1:] if argv is None else argv)
    return " ".join(shlex.quote(a) for a in ["gdcloud", *args])


# --------------------------------------------------------------------------- commands


def cmd_run(args: argparse.Namespace, argv: Sequence[str] | None) -> int:
    from sim.runs.results import RunFolder, read_resolved_scenario
    from sim.runs.runner import resolve_scenario, run_scenario

    if args.scenario is None and args.resume is None:
        raise UsageError("give a SCENARIO (file or shipped name) or --resume FOLDER")
    # Validate the scenario first: nothing is written for bad input.
    if args.resume is not None:
        given = args.scenario
        if given is None and (args.overrides or args.seed is not None):
            given = read_resolved_scenario(args.resume)  # --set/--seed must leave the scenario unchanged
        given_sc = resolve_scenario(given, seed=args.seed, overrides=args.overrides) if given else None
        rf = RunFolder.reopen(args.resume, given_sc)
        planned = args.replicates if args.replicates is not None else rf.manifest["replicates"]["planned"]
        sc = resolve_scenario(rf.scenario, replicates=planned)
        n_runs = planned - len([r for r in rf.done() if r < planned])
    else:
        sc = resolve_scenario(args.scenario, replicates=args.replicates, seed=args.seed,
                              overrides=args.overrides)
        n_runs = sc.run.replicates
    executor = choose_executor(args, n_runs, sc)
    try:
        if args.resume is not None:
            result = run_scenario(given_sc, replicates=args.replicates,
                                  executor=executor, resume=args.resume, figures=not args.no_figures,
                                  progress=args.progress, command=_command_line(argv))
        else:
            result = run_scenario(sc, executor=executor, out_dir=args.out,
                                  figures=not args.no_figures, progress=args.progress,
                                  command=_command_line(argv))
    finally:
        executor.close()
    for line in summary_lines(result):
        print(line)
    _print_failures(result)
    return EXIT_OK if result.ok else EXIT_FAILED


def cmd_compare(args: argparse.Namespace, argv: Sequence[str] | None) -> int:
    from sim.runs.runner import compare_scenarios, resolve_scenario

    if len(args.scenarios) < 2:
        raise UsageError("compare needs at least two scenarios (the first is the reference)")
    first = resolve_scenario(args.scenarios[0], replicates=args.replicates, seed=args.seed,
                             overrides=args.overrides)
    resolved = [first] + [resolve_scenario(s, replicates=first.run.replicates, seed=first.run.seed,
                                           overrides=args.overrides) for s in args.scenarios[1:]]
    if args.uncertainties_from:
        from sim.core.uncertainty import with_uncertainties

        source = resolve_scenario(args.uncertainties_from)
        resolved = [with_uncertainties(sc, source) for sc in resolved]
    executor = choose_executor(args, first.run.replicates * len(resolved), first)
    try:
        cmp = compare_scenarios(resolved, executor=executor, out_dir=args.out,
                                figures=not args.no_figures, progress=args.progress,
                                command=_command_line(argv))
    finally:
        executor.close()
    for res in cmp.results.values():
        for line in summary_lines(res):
            print(line)
        _print_failures(res)
    if cmp.folder is not None:
        print(f"comparison: {cmp.folder}")
    if cmp.differences is not None and not cmp.differences.empty:
        print(f"paired differences vs {cmp.reference} (same seeds, replicate by replicate):")
        for sentence in cmp.differences["sentence"]:
            print(f"  {sentence}")
    return EXIT_OK if cmp.ok else EXIT_FAILED


def cmd_sweep(args: argparse.Namespace, argv: Sequence[str] | None) -> int:
    from sim.analysis import sweep

    plan = sweep.prepare(args.sweep, args.overrides)  # every point checked: nothing written if bad
    executor = choose_executor(args, plan.n_runs, plan.base)
    if args.dry_run:
        try:
            workers = int(executor.describe().get("workers") or 1)
        finally:
            executor.close()
        for line in sweep.dry_run_lines(plan, sweep.estimate(plan, workers=workers)):
            print(line)
        return EXIT_OK
    try:
        result = sweep.run_sweep(plan, executor=executor, out_dir=args.out, figures=not args.no_figures,
                                 progress=args.progress, command=_command_line(argv))
    except sweep.SweepInterrupted as exc:
        where = f"the finished points are kept in {exc.folder / sweep.RUNS}; " if exc.folder else ""
        print(f"\ninterrupted: {where}a sweep cannot be resumed: run it again", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        executor.close()
    for line in sweep.summary_lines(result):
        print(line)
    f = result.failures
    if not f.empty:
        print(f"  {len(f)} run(s) failed (details in {result.folder / sweep.FAILURES if result.folder else 'failures'}):",
              file=sys.stderr)
        for row in f.head(5).itertuples():
            print(f"    point {row.point}, replicate {row.replicate}: {row.error_type}: {row.message}",
                  file=sys.stderr)
        if len(f) > 5:
            print(f"    ... and {len(f) - 5} more", file=sys.stderr)
    return EXIT_OK if result.ok else EXIT_FAILED


def cmd_validate(args: argparse.Namespace) -> int:
    from sim.scenario.loader import load_scenario, scenario_hash

    status = EXIT_OK
    for path in args.scenarios:
        try:
            sc = load_scenario(path, args.overrides)
        except ScenarioError as exc:
            _err(exc)
            status = EXIT_USAGE
            continue
        print(f"OK {path} (name {sc.name}, hash {scenario_hash(sc)[:10]}, "
              f"{sc.run.replicates} replicate{'s' if sc.run.replicates != 1 else ''})")
    return status


def cmd_list(args: argparse.Namespace) -> int:
    from sim.scenario.loader import shipped_scenarios

    items = shipped_scenarios()
    if not items:
        print("no shipped scenarios found")
        return EXIT_OK
    for name, (path, description) in items.items():
        print(f"{name}  ({path})")
        text = description.strip() or "(no description)"
        print(textwrap.fill(text, width=100, initial_indent="    ", subsequent_indent="    "))
    return EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    try:
        from sim.scenario.docs import json_schema
    except ImportError as exc:  # pragma: no cover - docs module always shipped
        raise UsageError(f"the schema generator is not available: {exc}") from exc
    print(json.dumps(json_schema(), indent=2, ensure_ascii=False))
    return EXIT_OK


# --------------------------------------------------------------------------- analysis: parsers

ANALYSIS_EPILOG = (
    "Results go to a new folder <out>/{label}/<UTC timestamp>-<hash>/ ({files}, plus "
    "manifest.json with the inputs, executor, versions, times and status); nothing is overwritten, "
    "and nothing is written when an input is invalid (exit code 2). The model runs go to the "
    "executor (--executor, --workers, --address, as for `gdcloud run`); results are the same "
    "whichever executor and number of workers run them. Methods and caveats: docs/analysis.md."
)
QUESTION_EPILOG = (
    "SCENARIO is a YAML file or a shipped scenario name (see `gdcloud list`); --set applies on "
    "top of it as in `gdcloud run`. Counts are simulated at --total-firms and scaled to "
    "2,000,000 firms before they are compared with the goals."
)


def _epilog(label: str, files: str, extra: str = "") -> str:
    return (extra + " " if extra else "") + ANALYSIS_EPILOG.format(label=label, files=files)


def _add_common_analysis(p: argparse.ArgumentParser, *, overrides: bool, progress: bool = True) -> None:
    if overrides:
        p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE",
                       help="override one scenario value, e.g. --set time.end=2023-12 (repeatable; "
                            "values are read as YAML)")
    p.add_argument("--out", type=out_dir, default="results", metavar="DIR",
                   help="folder under which <command>/<timestamp>-<hash>/ is created (default: results)")
    if progress:
        p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                       help="print progress on stderr (default: only when stderr is a terminal)")
    _add_executor_options(p)


PARALLEL_HELP = {
    "calibrate": "the ABC draws, the profile points and the plotted runs go together; each "
                 "optimizer step runs its replicates together",
    "sensitivity": "every run of every sample point goes together",
    "what-it-takes": "the replicates of each lever value go together; bisection steps are sequential",
    "attribution": "the full run and every counterfactual go together",
    "discover": "every run of every point goes together",
}
"""What each analysis submits to the executor at once (shown in --help)."""


def _add_executor_options(p: argparse.ArgumentParser) -> None:
    together = PARALLEL_HELP.get(p.prog.split()[-1], "")
    p.add_argument("--executor", choices=("serial", "processes", "dask"),
                   help="where the model runs go (default: processes, or serial for a single run; "
                        f"{together})")
    p.add_argument("--workers", "-j", type=int, metavar="N",
                   help="worker processes (default: CPUs available, at most one per run that can go at "
                        "once and as many as memory allows)")
    p.add_argument("--address", type=scheduler_address, metavar="tcp://HOST:PORT",
                   help="Dask scheduler to use (implies --executor dask; default: a local cluster)")


def _add_analysis_parsers(sub) -> None:
    record_commands.add_parsers(sub)
    p = sub.add_parser(
        "calibrate", help="fit diffusion parameters to the reported progress figures",
        description="Which values of the diffusion parameters make the model reproduce the reported "
                    "progress figures (firms on the cloud, transformed above-scale firms), and how well "
                    "do those few figures pin them down? Fits the spec's parameters within their boxes "
                    "(bounded Nelder-Mead or least squares, the same seeds at every trial), draws an "
                    "ABC-rejection posterior over the prior box and profiles the objective along each "
                    "parameter. The calibrated scenario (extends the spec's base, with the spec's "
                    "overrides and the fitted values) is written into the results folder; it is also "
                    "written to --write-scenario PATH, or else to the spec's write_scenario if the spec "
                    "sets one (the shipped spec: scenarios/calibrated.yaml), replacing that file. "
                    "--no-write-scenario keeps it in the results folder only.",
        epilog=_epilog("calibrate", "calibration_fit.png, calibration_profiles.png, abc_draws.csv, "
                       "calibration_summary.csv, calibration_fit.csv, calibration.json, calibrated.yaml",
                       "SPEC is a YAML file of sim.analysis.calibration.CalibrationSpec (unknown keys are errors), "
                       "or `calibration` for the shipped scenarios/analysis/calibration.yaml."))
    p.add_argument("spec", metavar="SPEC", help="calibration spec (YAML file or shipped spec name)")
    p.add_argument("--seed", type=int, default=0, metavar="N",
                   help="seed of the ABC prior draws (default 0; the model replicates use the spec's seed)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--write-scenario", type=Path, metavar="PATH",
                       help="also write the calibrated scenario to PATH (e.g. scenarios/calibrated.yaml; "
                            "replaced if it exists), instead of the spec's write_scenario")
    where.add_argument("--no-write-scenario", action="store_true",
                       help="write the calibrated scenario only into the results folder, even if the spec "
                            "sets write_scenario")
    p.add_argument("--force", action="store_true",
                   help="let the spec's write_scenario replace a file outside the spec's folder, the "
                        "scenarios folder and --out (refused otherwise)")
    _add_common_analysis(p, overrides=False)

    p = sub.add_parser(
        "sensitivity", help="global sensitivity analysis (SALib: Morris or Sobol)",
        description="Which uncertain inputs drive the outcomes at the goal date (cloud and transformed "
                    "firms, probability of meeting each goal, voucher money per extra cloud firm)? "
                    "Samples the spec's parameter box with SALib (Morris elementary effects or "
                    "Sobol/Saltelli), runs the model at every point with the same seeds and computes the "
                    "indices (mu*, sigma or S1, ST) with bootstrap confidence intervals. The number of "
                    "model runs grows as n (d + 1) (Morris) or n (d + 2) (Sobol) times the replicates: "
                    "check it first with --dry-run, which prints the count and an estimated time (from "
                    "one timed model run) and writes nothing.",
        epilog=_epilog("sensitivity", "samples_outputs.csv, indices.csv, sensitivity_<outcome>.png",
                       "SPEC is a YAML file of sim.analysis.sensitivity.SensitivitySpec (unknown keys are errors), "
                       "or `sensitivity` for the shipped scenarios/analysis/sensitivity.yaml."))
    p.add_argument("spec", metavar="SPEC", help="sensitivity spec (YAML file or shipped spec name)")
    p.add_argument("--dry-run", action="store_true",
                   help="only count the model runs and estimate the time; write nothing")
    _add_common_analysis(p, overrides=False)

    p = sub.add_parser(
        "what-it-takes", help="smallest lever value that meets a goal with a given probability",
        description="How much of one policy lever is needed for the goal to be met with a given "
                    "probability? Finds by bisection the smallest value of LEVER within --bounds at which "
                    "at least --probability of a fixed set of replicates (the same seeds at every value: "
                    "common random numbers) meet the goal at the goal date, and reports the bracketing "
                    "values and a Clopper-Pearson 95% interval of the share; with --decreasing (a lever "
                    "that hurts, such as churn) the largest value that still meets it. The share moves in "
                    "steps of 1/replicates, so a claim of 90% needs of the order of 50-100 replicates.",
        epilog=_epilog("what_it_takes", "what_it_takes.csv, what_it_takes.png, scenario.resolved.yaml",
                       QUESTION_EPILOG))
    p.add_argument("scenario", metavar="SCENARIO", help="scenario file or shipped scenario name")
    p.add_argument("lever", metavar="LEVER",
                   help="numeric scenario key, e.g. policies.vouchers.budget_cny_per_year or "
                        "policies.platforms.scale")
    p.add_argument("--goal", choices=("cloud", "transformed", "both"), default="cloud",
                   help="goal to meet: cloud (1,000,000 firms), transformed (50,000) or both (default cloud)")
    p.add_argument("--probability", type=float, default=0.9, metavar="P",
                   help="required share of replicates meeting the goal, 0 < P < 1 (default 0.9)")
    p.add_argument("--bounds", type=float, nargs=2, default=(0.0, 1.0), metavar=("LO", "HI"),
                   help="search interval of the lever (default 0 1)")
    p.add_argument("--replicates", "-n", type=int, default=20, metavar="N",
                   help="replicates per lever value, the same seeds at every value (default 20)")
    p.add_argument("--total-firms", type=int, default=100_000, metavar="N",
                   help="population simulated; counts are scaled to 2,000,000 firms (default 100000)")
    p.add_argument("--rel-tol", type=float, default=0.01, metavar="R",
                   help="stop when the bracket is narrower than R x (HI - LO) (default 0.01)")
    p.add_argument("--decreasing", action="store_true",
                   help="more of the lever hurts: search the largest value still meeting the goal")
    p.add_argument("--integer", action="store_true",
                   help="round lever values to integers (automatic for integer keys)")
    _add_common_analysis(p, overrides=True)

    p = sub.add_parser(
        "attribution", help="how much new adoption each channel (policy, chains, peers, market) brings",
        description="How much of the new adoption comes from each channel: the policy instruments, "
                    "supply-chain pull, park and cluster peers, and the market? Reruns the scenario with "
                    "one channel switched off at a time (the same seeds), takes the adoption lost as the "
                    "channel's raw contribution and normalises the contributions so that they add up to "
                    "the full run's new adoption at every date; the gap (interaction) is reported "
                    "separately. The shares are an accounting convention; the raw contribution is the "
                    "effect of removing one channel with the others in place.",
        epilog=_epilog("attribution", "attribution.csv, attribution.png, scenario.resolved.yaml",
                       QUESTION_EPILOG))
    p.add_argument("scenario", metavar="SCENARIO", help="scenario file or shipped scenario name")
    p.add_argument("--replicates", "-n", type=int, default=4, metavar="N",
                   help="replicates per run, the same seeds in every counterfactual (default 4)")
    p.add_argument("--total-firms", type=int, default=100_000, metavar="N",
                   help="population simulated; counts are scaled to 2,000,000 firms (default 100000)")
    _add_common_analysis(p, overrides=True, progress=False)

    p = sub.add_parser(
        "discover", help="scenario discovery: where the goal is missed (Latin hypercube + PRIM)",
        description="In which combinations of uncertainties and levers is the goal missed? Sweeps a Latin "
                    "hypercube over the cloud market rate, the cloud peer weights, churn, the voucher "
                    "budget and service capacity (sim.analysis.questions.DEFAULT_SWEEP), runs the model at "
                    "every point and finds with PRIM the box of inputs in which misses concentrate: the "
                    "box of highest coverage (share of all misses inside it) whose density (share of its "
                    "points that miss) reaches --threshold. A point misses when the goal is missed in "
                    "more than half of its replicates.",
        epilog=_epilog("discover", "discovery_cases.csv, prim_trajectory.csv, prim_box.csv, "
                       "scenario.resolved.yaml; no figure", QUESTION_EPILOG))
    p.add_argument("scenario", metavar="SCENARIO", help="scenario file or shipped scenario name")
    p.add_argument("--samples", type=int, default=200, metavar="N", help="points of the sweep (default 200)")
    p.add_argument("--replicates", "-n", type=int, default=1, metavar="N",
                   help="replicates per point, the same seeds at every point (default 1)")
    p.add_argument("--total-firms", type=int, default=50_000, metavar="N",
                   help="population simulated; counts are scaled to 2,000,000 firms (default 50000)")
    p.add_argument("--goal", choices=("cloud", "transformed", "both"), default="cloud",
                   help="goal whose miss is the case of interest (default cloud)")
    p.add_argument("--threshold", type=float, default=0.8, metavar="D",
                   help="minimum density of the reported PRIM box, 0 < D <= 1 (default 0.8)")
    p.add_argument("--seed", type=int, default=0, metavar="N", help="seed of the Latin hypercube (default 0)")
    _add_common_analysis(p, overrides=True)


# --------------------------------------------------------------------------- analysis: input checks


def _arg_error(option: str, key: str, problem: str, allowed: str) -> ScenarioError:
    """A bad option value in the one-line format ``<option>: <key>: <problem>; allowed: ...``."""
    return ScenarioError(option, key, problem, allowed)


def _check_int(option: str, value: int, minimum: int, maximum: int | None = None) -> None:
    if value < minimum or maximum is not None and value > maximum:
        raise _arg_error(option, option.lstrip("-").replace("-", "_"),
                         f"got {value}: too {'small' if value < minimum else 'large'}",
                         f"an integer >= {minimum}" + (f" and <= {maximum:,}" if maximum is not None else ""))


def _check_fraction(option: str, value: float, *, upper_inclusive: bool = False) -> None:
    ok = 0 < value <= 1 if upper_inclusive else 0 < value < 1
    if not (ok and math.isfinite(value)):
        allowed = "0 < x <= 1" if upper_inclusive else "0 < x < 1"
        raise _arg_error(option, option.lstrip("-").replace("-", "_"), f"got {value:g}: out of range",
                         f"a number {allowed}")


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


def _check_goal_in_horizon(config, label: str, *, spec: bool = False) -> None:
    """The question tools read the counts at goals.date: it must lie within the run."""
    g, t = config.goals.date, config.time
    if not t.start <= g <= t.end:
        month = min(t.end, "2025-12")
        hint = f"overrides: {{goals.date: '{month}'}}" if spec else f"--set goals.date={month}"
        raise ScenarioError(label, "goals.date", f"{g} is outside the run {t.start} to {t.end} (the "
                            "outcomes are read at goals.date)",
                            f"a month from time.start to time.end, e.g. {hint}")


def _question_scenario(args: argparse.Namespace, *, goal: bool):
    """SCENARIO with --set (checked like `gdcloud run`) and --total-firms applied."""
    from sim.scenario.loader import load_scenario

    _check_int("--replicates", args.replicates, 1)
    sc = load_scenario(args.scenario, args.overrides)
    sc = _apply_checked(sc, {"population.total_firms": args.total_firms}, "--total-firms")
    if goal:
        _check_goal_in_horizon(sc, args.scenario)
    return sc


def _find_spec(text: str, kind: str) -> Path:
    from sim.scenario.loader import scenarios_dir

    path = Path(text)
    if path.is_file():
        return path
    if path.parent == Path(".") and path.suffix in ("", ".yaml"):
        shipped = scenarios_dir() / "analysis" / f"{path.stem}.yaml"
        if shipped.is_file():
            return shipped
    names = ", ".join(p.stem for p in sorted((scenarios_dir() / "analysis").glob("*.yaml")))
    raise ScenarioError(text, "(file)", f"no such {kind} spec file",
                        f"a YAML file or a shipped spec ({names})")


def _read_spec(path: Path) -> object:
    from sim.scenario.loader import read_yaml_file

    return read_yaml_file(path, "a mapping of spec keys")


def _spec_error(exc, model: type, label: str) -> ScenarioError:
    """A pydantic ValidationError of an analysis spec as one ScenarioError line."""
    from typing import get_origin

    from sim.scenario.docs import allowed_text, child_annotation, model_class, strip

    def clean(loc: tuple) -> tuple[tuple, object]:
        out, annotation = [], model
        for i, el in enumerate(loc):
            last = i == len(loc) - 1
            m = model_class(annotation) if annotation is not None else None
            origin = get_origin(strip(annotation)[0]) if annotation is not None else None
            if annotation is None:
                out.append(el)
            elif m is not None:
                if isinstance(el, str) and el in m.model_fields:
                    out.append(el)
                    annotation = child_annotation(annotation, el)
                elif last:
                    out.append(el)
                    annotation = None
            elif (origin is list and isinstance(el, int)) or origin is dict:
                out.append(el)
                annotation = child_annotation(annotation, el)
            # else: a union/validator tag such as 'str' or 'list[str]': not a key
        return tuple(out), annotation

    def dotted(loc: tuple) -> str:
        text = ""
        for el in loc:
            text += f"[{el}]" if isinstance(el, int) else f".{el}"
        return text.lstrip(".") or "(top level)"

    errors = exc.errors()
    first_loc, annotation = clean(tuple(errors[0]["loc"]))
    same = [e for e in errors if clean(tuple(e["loc"]))[0] == first_loc]
    more = len({clean(tuple(e["loc"]))[0] for e in errors}) - 1
    e = same[0]
    where = dotted(first_loc)
    kind, msg = e["type"], e["msg"]
    if kind == "extra_forbidden" and first_loc:
        parent = model
        for el in first_loc[:-1]:
            parent = child_annotation(parent, el)
        keys = list(model_class(parent).model_fields) if model_class(parent) else []
        return ScenarioError.unknown_key(label, where, first_loc[-1], keys, more=more)
    if annotation is None:
        allowed = f"see {model.__name__} in docs/analysis.md"
    elif model_class(annotation) is not None and kind != "model_type":
        allowed = f"consistent values (see {model_class(annotation).__name__} in docs/analysis.md)"
    else:
        allowed = allowed_text(annotation)
    if kind == "value_error":
        text = msg.removeprefix("Value error, ")
        message, _, stated = text.partition("; allowed: ")
        return ScenarioError(label, where, message, stated or allowed, more=more)
    if kind == "missing":
        return ScenarioError(label, where, "a value is required", allowed, more=more)
    value = repr(e.get("input"))
    value = value if len(value) <= 60 else value[:57] + "..."
    problem = " or ".join(dict.fromkeys(x["msg"][:1].lower() + x["msg"][1:] for x in same))
    return ScenarioError(label, where, f"got {value}: {problem}", allowed, more=more)


def _load_spec(text: str, model: type, kind: str):
    """(validated spec, its file) from a YAML path or a shipped spec name."""
    from pydantic import ValidationError

    path = _find_spec(text, kind)
    data = _read_spec(path)
    try:
        return model.model_validate(data), path
    except ValidationError as exc:
        raise _spec_error(exc, model, str(path)) from None


def _spec_base(spec, label: str, folder: Path | None = None):
    """The spec's base scenario with its overrides (errors name the spec file).

    With ``folder`` (the spec file's folder), a relative ``base`` is resolved from it, as the
    calibration does; without, from the current directory.
    """
    from sim.analysis.calibration import resolve_base
    from sim.scenario.loader import load_scenario

    try:
        base = resolve_base(spec.base, folder) if folder is not None else spec.base
        return load_scenario(base, dict(spec.overrides) or None)
    except ScenarioError as exc:
        if exc.file.startswith("--set "):
            raise _relabel(exc, label, f"overrides.{exc.key_path}") from None
        if exc.file == spec.base and exc.key_path == "(file)":
            raise _relabel(exc, label, "base", f"{spec.base!r}: ") from None
        raise


def _check_parameters(spec, config, label: str) -> None:
    """Every parameter path is a numeric scenario key and both bounds are valid values of it."""
    from sim.scenario.paths import spec_key

    for i, p in enumerate(spec.parameters):
        for path in p.paths:
            spec_key(path, label, f"parameters[{i}].path")
        for bound in ("lower", "upper"):
            value = getattr(p, bound)
            _apply_checked(config, dict.fromkeys(p.paths, value), label,
                           f"parameters[{i}].{bound}")


# --------------------------------------------------------------------------- analysis: running


def _progress(args: argparse.Namespace):
    """(message callback, (done, total) callback) printing on stderr, or (None, None)."""
    show = args.progress if args.progress is not None else sys.stderr.isatty()
    if not show:
        return None, None

    def say(message: str) -> None:
        print(f"  {message}", file=sys.stderr, flush=True)

    def count(done: int, total: int) -> None:
        end = "\n" if done >= total else ""
        print(f"\r  {done}/{total}", end=end, file=sys.stderr, flush=True)

    return say, count


def _jsonable(x: object) -> object:
    """Plain JSON values (NaN and infinities become null; numpy scalars become numbers)."""
    import numpy as np

    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, Path):
        return str(x)
    return x


def _executor_text(executor) -> str:
    """``serial``, ``2 worker processes``, ``dask at tcp://...`` for the summary line."""
    d = executor.describe()
    if d["name"] == "processes":
        return f"{d['workers']} worker process{'es' if d['workers'] != 1 else ''}"
    if d["name"] == "dask":
        return f"dask at {d['address']}" if d.get("address") else f"dask, {d.get('workers')} local workers"
    return d["name"]


def _run_analysis(label: str, args: argparse.Namespace, argv: Sequence[str] | None, *,
                  inputs: dict, resolved: tuple[str, str], call, summarize, executor) -> int:
    """Start the executor, create the results folder, run ``call(folder)``, write the manifest,
    print the summary; the executor is closed at the end.

    Args:
        label: Folder label and manifest ``analysis`` (the command name with underscores).
        inputs: The checked inputs (recorded in the manifest and hashed for the folder name).
        resolved: (file name, text) of the resolved spec or scenario written into the folder.
        call: Runs the analysis writing into the folder; returns its result.
        summarize: ``summarize(result, folder) -> (lines, json-able result summary)``.
        executor: Where the model runs go (:func:`choose_executor`); recorded in the manifest.
    """
    try:
        executor.start()  # an unreachable scheduler is reported before anything is written
        return _run_analysis_in(label, args, argv, inputs=inputs, resolved=resolved, call=call,
                                summarize=summarize, executor=executor)
    finally:
        executor.close()


def _run_analysis_in(label: str, args: argparse.Namespace, argv: Sequence[str] | None, *,
                     inputs: dict, resolved: tuple[str, str], call, summarize, executor) -> int:
    import hashlib
    import time
    import traceback

    from sim.runs.results import (
        MANIFEST,
        atomic_write_json,
        atomic_write_text,
        iso,
        new_run_folder,
        utc_now,
        versions,
    )

    data = _jsonable(inputs)
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    folder = new_run_folder(Path(args.out), label, hashlib.sha256(text.encode("utf-8")).hexdigest()[:10])
    atomic_write_text(folder / resolved[0], resolved[1])
    start = utc_now()
    manifest = {"format": 1, "analysis": label, "status": "running", "inputs": data,
                "command": _command_line(argv), "executor": executor.describe(),
                "versions": versions(), "start_time": iso(start),
                "end_time": None, "wall_time_s": None, "files": [], "result": None, "error": None}
    atomic_write_json(folder / MANIFEST, manifest)
    t0 = time.perf_counter()

    def finish(status: str, **extra) -> float:
        wall = time.perf_counter() - t0
        files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                       if p.is_file() and p.name != MANIFEST and not p.name.startswith("."))
        manifest.update(status=status, end_time=iso(utc_now()), wall_time_s=round(wall, 3), files=files,
                        **_jsonable(extra))
        atomic_write_json(folder / MANIFEST, manifest)
        return wall

    try:
        result = call(folder)
    except KeyboardInterrupt:
        finish("interrupted")
        print(f"\ninterrupted: {label} stopped; whatever it wrote is in {folder} (status 'interrupted' "
              "in manifest.json); an analysis cannot be resumed: run the command again",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - a failed analysis is reported, not a traceback
        finish("failed", error={"type": type(exc).__name__, "message": str(exc),
                                "traceback": traceback.format_exc()})
        print(f"{label} failed: {type(exc).__name__}: {' '.join(str(exc).split())} "
              f"(traceback in {folder / MANIFEST})", file=sys.stderr)
        return EXIT_FAILED
    lines, summary = summarize(result, folder)
    wall = finish("complete", result=summary)
    lines[0] += f", {wall:.1f} s ({_executor_text(executor)})"
    lines.insert(1, f"  results: {folder}")
    for line in lines:
        print(line)
    return EXIT_OK


def _g(x: float | None, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.{digits}g}"


# --------------------------------------------------------------------------- analysis: commands


def cmd_calibrate(args: argparse.Namespace, argv: Sequence[str] | None) -> int:
    from pydantic import ValidationError

    from sim.analysis.calibration import CalibrationSpec, calibrate, make_problem

    _check_int("--seed", args.seed, 0)
    spec, path = _load_spec(args.spec, CalibrationSpec, "calibration")
    spec.located(path.parent)
    label = str(path)
    base = _spec_base(spec, label, path.parent)
    _check_parameters(spec, _apply_checked(base, {"population.total_firms": spec.total_firms}, label), label)
    try:
        make_problem(spec)
    except ValidationError as exc:  # the run window from start and the target dates
        from sim.scenario.loader import _convert

        errors = exc.errors()
        conv = _convert(errors[0], {}, label, len(errors) - 1)
        raise _relabel(conv, label, "start", f"{conv.key_path}: ") from None
    except ValueError as exc:  # a target not after the run start
        raise ScenarioError(label, "targets", str(exc), "target dates after the run start (start or "
                            "the base scenario's time.start)") from None
    from sim.analysis.calibration import scenario_target, spec_write_path

    write = False if args.no_write_scenario else args.write_scenario
    target = scenario_target(spec, write, True, results_root=args.out, force=args.force)
    if target is not None and target.is_dir():
        raise _arg_error("--write-scenario" if args.write_scenario else label, "write_scenario",
                         f"{target} is a folder", "a YAML file path, e.g. scenarios/calibrated.yaml")
    say, _ = _progress(args)
    import yaml

    # The largest batch submitted at once: the ABC draws or the profile points, x the seeds.
    d = len(spec.parameters)
    batch = spec.replicates * max(1, spec.abc.draws if spec.abc.enabled else 1,
                                  spec.profile.points * d if spec.profile.enabled else 1)
    executor = choose_executor(args, batch, _apply_checked(base, {"population.total_firms": spec.total_firms},
                                                           label))

    def call(folder: Path):
        return calibrate(spec, out_dir=folder, seed=args.seed, progress=say,
                         write_scenario=target if target is not None else False,
                         executor=executor)

    def summarize(res, folder: Path):
        lines = [f"calibration of {len(res.labels)} parameter(s) to {len(res.fit)} target(s) "
                 f"({spec.replicates} seed(s) x {spec.total_firms:,} firms, counts scaled to 2,000,000): "
                 f"{res.n_runs} model runs"]
        lines.append(f"  fit (objective {res.objective:.3g}: sum of squared relative errors):")
        for r in res.fit.itertuples():
            lines.append(f"    {r.indicator} {r.date}: reported {r.reported:,.0f}, simulated "
                         f"{r.simulated:,.0f} ({r.relative_error:+.1%})")
        lines.append("  parameters:")
        for r in res.summary.to_dict(orient="records"):
            text = f"    {r['parameter']} = {_g(r['fitted'])} (box {_g(r['lower'])} to {_g(r['upper'])})"
            if "q05" in r and r["q05"] == r["q05"]:
                text += (f"; ABC 90% {_g(r['q05'])} to {_g(r['q95'])}, width ratio {r['width_ratio']:.2f}"
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


def _sensitivity_config(spec, label: str):
    import difflib

    from sim.analysis.sensitivity import OUTCOMES

    for i, o in enumerate(spec.outcomes):
        if o not in OUTCOMES:
            close = difflib.get_close_matches(o, OUTCOMES, n=1)
            raise ScenarioError(label, f"outcomes[{i}]", f"unknown outcome {o!r}", ", ".join(OUTCOMES),
                                suggestion=close[0] if close else None)
    base = _spec_base(spec, label)
    config = _apply_checked(base, {"population.total_firms": spec.total_firms, "run.seed": spec.seed}, label)
    _check_parameters(spec, config, label)
    _check_goal_in_horizon(config, label, spec=True)
    return config


def _estimate_seconds(spec, config, n_runs: int, workers: int = 1) -> tuple[float, float, float]:
    """(estimated wall time on ``workers`` workers, one cached run, population set-up) from two
    timed runs at the box centre. Each worker builds (and then keeps) the population of each
    replicate it runs."""
    import time

    from sim.analysis.calibration import run_totals, with_values

    cfg = with_values(config, spec.parameters, [(p.lower + p.upper) / 2 for p in spec.parameters])
    t0 = time.perf_counter()
    run_totals(cfg, 0)
    t1 = time.perf_counter()
    run_totals(cfg, 0)  # the population is cached now, as for every later run of replicate 0
    t2 = time.perf_counter()
    run, setup = t2 - t1, max(0.0, (t1 - t0) - (t2 - t1))
    workers = max(1, min(workers, n_runs))
    return n_runs * run / workers + spec.replicates * setup, run, setup


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def cmd_sensitivity(args: argparse.Namespace, argv: Sequence[str] | None) -> int:
    import importlib.util

    import yaml

    from sim.analysis.sensitivity import (
        CHUNK_ROWS,
        SensitivitySpec,
        n_model_runs,
        n_points,
        run_sensitivity,
    )

    spec, path = _load_spec(args.spec, SensitivitySpec, "sensitivity")
    label = str(path)
    config = _sensitivity_config(spec, label)
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
        print(f"sensitivity dry run ({label}): nothing written")
        print(f"  {count} ({len(dry.samples)} sample rows)")
        print(f"  estimated time: about {_duration(total)} {where} (one model run at the centre of "
              f"the box: {run:.2f} s, population set-up {setup:.2f} s per replicate; run times vary "
              "across the box)")
        return EXIT_OK
    _, count_cb = _progress(args)

    def call(folder: Path):
        return run_sensitivity(spec, out_dir=folder, progress=count_cb, executor=executor)

    def summarize(res, folder: Path):
        lines = [f"sensitivity ({count})"]
        keys = ("ST", "S1") if spec.method == "sobol" else ("mu_star", "sigma")
        for outcome in spec.outcomes:
            sub = res.indices[res.indices.outcome == outcome]
            if (sub["index"] == "constant").all():
                lines.append(f"  {outcome}: constant over the sample")
                continue
            main = sub[sub["index"] == keys[0]].sort_values("value", ascending=False)
            ranked = ", ".join(f"{r.parameter} {_g(r.value, 3)} (+/- {_g(r.conf, 2)})"
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
    from sim.analysis.questions import what_it_takes
    from sim.scenario.docs import strip

    _check_fraction("--probability", args.probability)
    _check_fraction("--rel-tol", args.rel_tol)
    sc = _question_scenario(args, goal=True)
    from sim.scenario.paths import annotation_of

    annotation = annotation_of(args.lever, "LEVER", numeric=True)
    integer = args.integer or strip(annotation)[0] is int
    lo, hi = args.bounds
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise _arg_error("--bounds", args.lever, f"got {lo:g} {hi:g}: the lower bound must be below the upper",
                         "LO < HI (finite numbers), e.g. --bounds 0 2")
    if integer and math.floor(hi) < math.ceil(lo):
        raise _arg_error("--bounds", args.lever, f"got {lo:g} {hi:g}: no integer in between",
                         "LO < HI with an integer between them (the lever is rounded)")
    for v in (lo, hi):
        _apply_checked(sc, {args.lever: int(round(v)) if integer else float(v)}, "--bounds", args.lever)
    say, _ = _progress(args)
    executor = choose_executor(args, args.replicates, sc)  # one lever value at a time

    def call(folder: Path):
        return what_it_takes(sc, args.lever, goal=args.goal, probability=args.probability, bounds=(lo, hi),
                             replicates=args.replicates, total_firms=None, rel_tol=args.rel_tol,
                             increasing=not args.decreasing, integer=integer, out_dir=folder, progress=say,
                             executor=executor)

    def summarize(res, folder: Path):
        direction = "largest" if args.decreasing else "smallest"
        lines = [f"what it takes: {direction} {args.lever} for the {args.goal} goal with probability >= "
                 f"{args.probability:g} ({sc.name}, {args.replicates} replicate(s) x {args.total_firms:,} firms, "
                 f"goal date {sc.goals.date})"]
        ev = res.evaluations
        if res.status == "not_reached":
            edge = lo if args.decreasing else hi
            met = int(ev.set_index("lever_value").met.get(float(round(edge)) if integer else float(edge), 0))
            lines.append(f"  not reached within {_g(lo)} to {_g(hi)}: {met}/{args.replicates} replicates "
                         f"meet the goal at {_g(edge)}")
        else:
            where = "found"
            if res.status == "met_at_lower_bound":
                where = f"met already at the {'upper' if args.decreasing else 'lower'} bound"
            ci = res.interval
            lines.append(f"  {where}: {_g(res.value)} (bracket {_g(res.bracket[0])} to {_g(res.bracket[1])}); "
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

    def summarize(res, folder: Path):
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
            parts = ", ".join(f"{r.channel} {r.share:.0%} (raw {_g(r.raw)})" for r in sub.itertuples())
            lines.append(f"  new {name} {_g(total)}: {parts}; interaction "
                         f"{_g(float(inter.loc[metric, 'interaction']))}")
            out[metric] = {"new_full": total, **{r.channel: {"raw": r.raw, "share": r.share}
                                                 for r in sub.itertuples()}}
        return lines, out

    inputs, resolved = _scenario_inputs(args, sc)
    return _run_analysis("attribution", args, argv, inputs=inputs, resolved=resolved, call=call,
                         summarize=summarize, executor=executor)


def cmd_discover(args: argparse.Namespace, argv: Sequence[str] | None) -> int:
    from sim.analysis.questions import DEFAULT_SWEEP, discover
    from sim.scenario import limits

    _check_int("--samples", args.samples, 2, limits.MAX_DESIGN_POINTS)
    _check_int("--replicates", args.replicates, 1, limits.MAX_RUNS // args.samples)
    _check_int("--seed", args.seed, 0)
    _check_fraction("--threshold", args.threshold, upper_inclusive=True)
    sc = _question_scenario(args, goal=True)
    for p in DEFAULT_SWEEP:  # the shipped sweep must still fit the scenario
        for bound in ("lower", "upper"):
            _apply_checked(sc, dict.fromkeys(p.paths, getattr(p, bound)), args.scenario)
    _, count_cb = _progress(args)
    executor = choose_executor(args, args.samples * args.replicates, sc)

    def call(folder: Path):
        return discover(sc, n_samples=args.samples, replicates=args.replicates, total_firms=None,
                        seed=args.seed, threshold=args.threshold, goal=args.goal, out_dir=folder,
                        progress=count_cb, executor=executor)

    def summarize(res, folder: Path):
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
            lines.append(f"    {r.input}: {_g(r.box_min)} to {_g(r.box_max)} (sampled {_g(r.data_min)} to "
                         f"{_g(r.data_max)})")
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


# --------------------------------------------------------------------------- entry point


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (see the module docstring)."""
    from sim.runs.executors import ExecutorError
    from sim.runs.lifecycle import terminate_as_interrupt
    from sim.runs.runner import Interrupted

    terminate_as_interrupt()  # SIGTERM/SIGHUP stop the workers like Ctrl-C: no orphans
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get("GDCLOUD_DEBUG", "") not in ("", "0")
    argv = [a for a in argv if a != "--debug"]
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return EXIT_USAGE
        if args.command == "run":
            return cmd_run(args, argv)
        if args.command == "compare":
            return cmd_compare(args, argv)
        if args.command == "sweep":
            return cmd_sweep(args, argv)
        if args.command == "validate":
            return cmd_validate(args)
        if args.command == "list":
            return cmd_list(args)
        if args.command in ANALYSIS_COMMANDS:
            return ANALYSIS_COMMANDS[args.command](args, argv)
        return cmd_schema(args)
    except (ScenarioError, UsageError, ExecutorError) as exc:
        _err(exc)
        return EXIT_USAGE
    except Interrupted as exc:
        print(file=sys.stderr)
        for folder in exc.folders:
            print(f"interrupted: finished replicates are kept in {folder}; complete the run with: "
                  f"gdcloud run --resume {shlex.quote(str(folder))}", file=sys.stderr)
        if not exc.folders:
            print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. `gdcloud schema | head`
        return EXIT_OK
    except OSError as exc:  # disk full, file too large, read-only or vanished folder...
        if debug:
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        _err(f"{where}{exc.strerror or exc} (the results written so far are kept; run with "
             "--debug for the traceback)")
        return EXIT_FAILED
    except Exception as exc:  # noqa: BLE001 - no traceback reaches a user unless --debug
        if debug:
            raise
        _err(f"unexpected {type(exc).__name__}: {str(exc)[:300]} (run with --debug for the traceback)")
        return EXIT_FAILED


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
