"""``gdcloud run``, ``compare``, ``sweep``, ``validate``, ``list``, ``schema``: parse, one library
call, print. The executor is the library's choice by size (:class:`sim.runs.jobs.SizedExecutor`)."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import textwrap
from collections.abc import Callable, Sequence

from sim.cli.report import compare_header_lines, print_error, print_failures, run_summary_lines
from sim.cli.usage import UsageError
from sim.errors import ScenarioError

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def command_line(argv: Sequence[str] | None) -> str:
    args = list(sys.argv[1:] if argv is None else argv)
    return " ".join(shlex.quote(a) for a in ["gdcloud", *args])


def run_and_print(label: str, call: Callable[[], object]) -> int:
    """Run ``call()`` (one library call returning an AnalysisRun) and print its summary lines."""
    from sim.runs.rundir import AnalysisInterrupted

    try:
        run = call()
    except AnalysisInterrupted as exc:
        print(f"\ninterrupted: {label} stopped; whatever it wrote is in {exc.folder} (status 'interrupted' "
              "in manifest.json); an analysis cannot be resumed: run the command again",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    for line in run.summary_lines():
        print(line)
    return EXIT_OK


def cmd_run(args: argparse.Namespace, argv: Sequence[str] | None) -> int:
    if args.scenario is None and args.resume is None:
        raise UsageError("give a SCENARIO (file or shipped name) or --resume FOLDER")
    start_population_build(args)  # before the model (and Mesa) are imported
    from sim.runs.jobs import SizedExecutor
    from sim.runs.runner import run_scenario

    result = run_scenario(args.scenario, replicates=args.replicates, seed=args.seed, overrides=args.overrides,
                          executor=SizedExecutor(args.executor, args.workers, args.address), out_dir=args.out,
                          resume=args.resume, figures=not args.no_figures, progress=args.progress,
                          command=command_line(argv), label=args.label if args.resume is None else None)
    for line in run_summary_lines(result):
        print(line)
    print_failures(result)
    return EXIT_OK if result.ok else EXIT_FAILED


def start_population_build(args: argparse.Namespace) -> None:
    """For a run of one replicate in this process, fork the build of its population now, while
    this process imports the model (:mod:`sim.runs.prebuild`; same bytes either way)."""
    if args.resume is not None or args.address is not None or args.executor not in (None, "serial"):
        return
    from sim.runs import prebuild
    from sim.scenario.loader import load_scenario

    try:
        sc = load_scenario(args.scenario, args.overrides, replicates=args.replicates, seed=args.seed)
    except Exception:  # noqa: BLE001 - run_scenario reports a bad scenario
        return
    if sc.run.replicates == 1:
        prebuild.start(sc, 0)


def cmd_compare(args: argparse.Namespace, argv: Sequence[str] | None) -> int:
    from sim.runs.compare import compare_scenarios
    from sim.runs.jobs import SizedExecutor

    if len(args.scenarios) < 2:
        raise UsageError("compare needs at least two scenarios (the first is the reference)")
    cmp = compare_scenarios(args.scenarios, replicates=args.replicates, seed=args.seed, overrides=args.overrides,
                            uncertainties_from=args.uncertainties_from,
                            executor=SizedExecutor(args.executor, args.workers, args.address), out_dir=args.out,
                            figures=not args.no_figures, progress=args.progress, command=command_line(argv),
                            label=args.label)
    for res in cmp.results.values():
        for line in run_summary_lines(res):
            print(line)
        print_failures(res)
    for line in compare_header_lines(cmp):
        print(line)
    return EXIT_OK if cmp.ok else EXIT_FAILED


def cmd_sweep(args: argparse.Namespace, argv: Sequence[str] | None) -> int:
    from sim.analysis import sweep
    from sim.analysis.sweep_estimate import dry_run
    from sim.runs.jobs import SizedExecutor

    executor = SizedExecutor(args.executor, args.workers, args.address)
    if args.dry_run:  # points counted, not built: instant whatever the design's size
        for line in dry_run(args.sweep, args.overrides, executor=executor).summary_lines():
            print(line)
        return EXIT_OK
    try:
        result = sweep.run_sweep(args.sweep, overrides=args.overrides, executor=executor, out_dir=args.out,
                                 figures=not args.no_figures, progress=args.progress,
                                 command=command_line(argv), label=args.label)
    except sweep.SweepInterrupted as exc:
        where = f"the finished points are kept in {exc.folder / sweep.RUNS}; " if exc.folder else ""
        print(f"\ninterrupted: {where}a sweep cannot be resumed: run it again", file=sys.stderr)
        return EXIT_INTERRUPTED
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
            print_error(exc)
            status = EXIT_USAGE
            continue
        print(f"OK {path} (name {sc.name}, hash {scenario_hash(sc)[:10]}, "
              f"{sc.run.replicates} replicate{'s' if sc.run.replicates != 1 else ''})")
    return status


def cmd_latest(args: argparse.Namespace) -> int:
    """``gdcloud latest [NAME]``: the newest complete folder of a scenario, or every folder."""
    from sim.runs.finding import latest, list_results

    if args.name is None:
        table = list_results(root=args.out)
        if table.empty:
            print(f"no results under {args.out}")
            return EXIT_OK
        for row in table.itertuples(index=False):
            print(f"{row.folder}  ({row.kind}, {row.status}, {row.created})")
        return EXIT_OK
    print(latest(args.name, root=args.out, complete_only=not args.any_status))
    return EXIT_OK


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
