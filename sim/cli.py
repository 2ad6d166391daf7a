"""The ``gdcloud`` command line (also ``python -m sim``): run, compare, validate, list, schema.

A thin layer over :mod:`sim.runner`. Exit codes:

* 0 - success;
* 1 - some replicate failed (the results folder is kept; errors are in ``manifest.json`` and
  ``failures.csv``);
* 2 - bad input: an invalid scenario file, ``--set`` override or option (one ``error:`` line on
  stderr, no traceback, nothing written);
* 130 - interrupted with Ctrl-C (finished replicates are kept; complete them with
  ``gdcloud run --resume FOLDER``).
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

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


def _add_run_options(p: argparse.ArgumentParser, *, resume: bool) -> None:
    p.add_argument("--replicates", "-n", type=int, metavar="N",
                   help="number of replicates (overrides run.replicates)")
    p.add_argument("--seed", type=int, metavar="S", help="root seed (overrides run.seed)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE",
                   help="override one scenario value, e.g. --set policies.vouchers.scale=2 "
                        "(repeatable; values are read as YAML)")
    p.add_argument("--out", type=Path, default=Path("results"), metavar="DIR",
                   help="folder under which <scenario>/<timestamp>-<hash>/ is created "
                        "(default: results)")
    p.add_argument("--executor", choices=("serial", "processes", "dask"),
                   help="where replicates run (default: processes, or serial for a single run)")
    p.add_argument("--workers", "-j", type=int, metavar="N",
                   help="worker processes (default: CPUs available, at most one per replicate "
                        "and as many as memory allows)")
    p.add_argument("--address", metavar="tcp://HOST:PORT",
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
    _add_run_options(p, resume=False)

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
    return parser


# --------------------------------------------------------------------------- helpers


def _err(message: str) -> None:
    print(f"error: {' '.join(str(message).split())}", file=sys.stderr)


def _estimated_worker_gb(scenario) -> float:
    """Rough peak memory of one worker, GB (0.65 GB at the full 2,000,000-firm scale)."""
    return 0.2 + 0.45 * scenario.population.total_firms / 2_000_000


def choose_executor(args: argparse.Namespace, n_runs: int, scenario):
    """The executor for a command from --executor/--workers/--address and the run size."""
    from sim.executors import default_workers, make_executor

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
    return make_executor(name, workers=workers, address=args.address)


def _fmt(x: float) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:,.0f}"


def summary_lines(result) -> list[str]:
    """The short human summary printed after a run."""
    from sim.results import goals_evaluated
    from sim.summary import scaled_goals

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
    scale = result.scenario.population.total_firms / 2_000_000
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
            lines.append(f"    goal {goal:,}{scale_note}: probability met {float(p['mean']):.2f} "
                         f"(of {n_done} replicates); first reached (median): {month}")
    return lines


def _month(value: object) -> str:
    """``2024-07-31`` -> ``2024-07``; other text (e.g. ``not by 2025-12``) unchanged."""
    text = str(value)
    return text[:7] if len(text) == 10 and text[4] == "-" and text[7] == "-" else text


def _print_failures(result) -> None:
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
    from sim.results import RunFolder
    from sim.runner import resolve_scenario, run_scenario

    if args.scenario is None and args.resume is None:
        raise UsageError("give a SCENARIO (file or shipped name) or --resume FOLDER")
    # Validate the scenario first: nothing is written for bad input.
    if args.resume is not None:
        sc = resolve_scenario(args.scenario, seed=args.seed, overrides=args.overrides) if args.scenario else None
        rf = RunFolder.reopen(args.resume, sc)
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
            result = run_scenario(args.scenario and sc, replicates=args.replicates,
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
    from sim.runner import compare_scenarios, resolve_scenario

    if len(args.scenarios) < 2:
        raise UsageError("compare needs at least two scenarios (the first is the reference)")
    first = resolve_scenario(args.scenarios[0], replicates=args.replicates, seed=args.seed,
                             overrides=args.overrides)
    resolved = [first] + [resolve_scenario(s, replicates=first.run.replicates, seed=first.run.seed,
                                           overrides=args.overrides) for s in args.scenarios[1:]]
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


# --------------------------------------------------------------------------- entry point


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (see the module docstring)."""
    from sim.executors import ExecutorError
    from sim.runner import Interrupted

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
        if args.command == "validate":
            return cmd_validate(args)
        if args.command == "list":
            return cmd_list(args)
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


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
