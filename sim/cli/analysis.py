"""``gdcloud calibrate``, ``sensitivity``, ``what-it-takes``, ``attribution``, ``discover``: parse,
one library call (:mod:`sim.analysis.tools`, :mod:`sim.analysis.question_tools`: inputs checked,
a new results folder with its manifest), print its ``summary_lines()``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from sim.cli import record as record_commands
from sim.cli.commands import command_line, run_and_print
from sim.cli.report import progress_callbacks
from sim.cli.usage import UsageError


def _executor(args: argparse.Namespace):
    from sim.runs.jobs import SizedExecutor

    return SizedExecutor(args.executor, args.workers, args.address)


QUESTION_OPTIONS: dict[str, str] = {
    "replicates": "--replicates", "total_firms": "--total-firms", "samples": "--samples", "seed": "--seed",
    "threshold": "--threshold", "lever": "LEVER", "bounds": "--bounds", "probability": "--probability",
    "rel_tol": "--rel-tol"}
"""The option names the errors of the policy questions use on the command line."""


def cmd_calibrate(args: argparse.Namespace, argv: Sequence[str] | None) -> int:
    from sim.analysis.tools import calibrate_tool

    say, _ = progress_callbacks(args)
    write = False if args.no_write_scenario else args.write_scenario
    return run_and_print("calibrate", lambda: calibrate_tool(
        args.spec, seed=args.seed, write_scenario=write, force=args.force, out_dir=args.out, progress=say,
        executor=_executor(args), command=command_line(argv), lang=args.lang,
        labels={"seed": "--seed", "write_scenario": "--write-scenario",
                "no_write_scenario": "--no-write-scenario"}), args.lang)


def cmd_sensitivity(args: argparse.Namespace, argv: Sequence[str] | None) -> int:
    import importlib.util

    from sim.analysis.tools import sensitivity_tool

    if importlib.util.find_spec("SALib") is None:
        raise UsageError("sensitivity needs SALib: pip install '.[analysis]'")
    _, count = progress_callbacks(args)
    return run_and_print("sensitivity", lambda: sensitivity_tool(
        args.spec, dry_run=args.dry_run, out_dir=args.out, progress=count, executor=_executor(args),
        command=command_line(argv), lang=args.lang), args.lang)


def cmd_what_it_takes(args: argparse.Namespace, argv: Sequence[str] | None) -> int:
    from sim.analysis.question_tools import what_it_takes_tool

    say, _ = progress_callbacks(args)
    return run_and_print("what_it_takes", lambda: what_it_takes_tool(
        args.scenario, args.lever, goal=args.goal, probability=args.probability, bounds=tuple(args.bounds),
        replicates=args.replicates, total_firms=args.total_firms, overrides=args.overrides,
        rel_tol=args.rel_tol, increasing=not args.decreasing, integer=args.integer, out_dir=args.out,
        progress=say, executor=_executor(args), command=command_line(argv), labels=QUESTION_OPTIONS,
        lang=args.lang), args.lang)


def cmd_attribution(args: argparse.Namespace, argv: Sequence[str] | None) -> int:
    from sim.analysis.question_tools import attribution_tool

    return run_and_print("attribution", lambda: attribution_tool(
        args.scenario, replicates=args.replicates, total_firms=args.total_firms, overrides=args.overrides,
        out_dir=args.out, executor=_executor(args), command=command_line(argv), labels=QUESTION_OPTIONS,
        lang=args.lang), args.lang)


def cmd_discover(args: argparse.Namespace, argv: Sequence[str] | None) -> int:
    from sim.analysis.question_tools import discover_tool

    _, count = progress_callbacks(args)
    return run_and_print("discover", lambda: discover_tool(
        args.scenario, n_samples=args.samples, replicates=args.replicates, total_firms=args.total_firms,
        overrides=args.overrides, seed=args.seed, threshold=args.threshold, goal=args.goal, out_dir=args.out,
        progress=count, executor=_executor(args), command=command_line(argv), labels=QUESTION_OPTIONS,
        lang=args.lang), args.lang)


ANALYSIS_COMMANDS = {
    "calibrate": cmd_calibrate,
    "sensitivity": cmd_sensitivity,
    "what-it-takes": cmd_what_it_takes,
    "attribution": cmd_attribution,
    "discover": cmd_discover,
}
"""Analysis subcommands: name -> function(args, argv) returning the exit code."""
ANALYSIS_COMMANDS.update(record_commands.COMMANDS)  # history-match, backtest, evaluate
