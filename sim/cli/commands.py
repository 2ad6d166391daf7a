"""``gdcloud run``, ``compare``, ``sweep``, ``validate``, ``list``, ``schema``: parse, one library
call, print; and the executor choice shared by every command."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import textwrap
from collections.abc import Sequence

from sim.cli.report import print_error, print_failures, run_summary_lines
from sim.cli.usage import UsageError
from sim.errors import ScenarioError

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def choose_executor(args: argparse.Namespace, n_runs: int, scenario):
    """The executor for a command from --executor/--workers/--address and the run size
    (:func:`sim.runs.jobs.sized_executor`)."""
    from sim.runs.jobs import sized_executor

    return sized_executor(args.executor, args.workers, args.address, n_runs=n_runs, scenario=scenario)


def command_line(argv: Sequence[str] | None) -> str:
    args = list(sys.argv[1:] if argv is None else argv)
    return " ".join(shlex.quote(a) for a in ["gdcloud", *args])


def cmd_run(args: argparse.Namespace, argv: Sequence[str] | None) -> int:
    from sim.runs.runfolder import RunFolder, read_resolved_scenario
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
                                  progress=args.progress, command=command_line(argv))
        else:
            result = run_scenario(sc, executor=executor, out_dir=args.out,
                                  figures=not args.no_figures, progress=args.progress,
                                  command=command_line(argv), label=args.label)
    finally:
        executor.close()
    for line in run_summary_lines(result):
        print(line)
    print_failures(result)
    return EXIT_OK if result.ok else EXIT_FAILED


def cmd_compare(args: argparse.Namespace, argv: Sequence[str] | None) -> int:
    from sim.runs.compare import compare_scenarios
    from sim.runs.runner import resolve_scenario

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
                                command=command_line(argv))
    finally:
        executor.close()
    for res in cmp.results.values():
        for line in run_summary_lines(res):
            print(line)
        print_failures(res)
    if cmp.folder is not None:
        print(f"comparison: {cmp.folder}")
    if cmp.differences is not None and not cmp.differences.empty:
        print(f"paired differences vs {cmp.reference} (same seeds, replicate by replicate):")
        for sentence in cmp.differences["sentence"]:
            print(f"  {sentence}")
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
                                 command=command_line(argv))
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
