"""``gdcloud run``, ``compare``, ``sweep``, ``validate``, ``list``, ``schema``: parse, one library
call, print. The executor is the library's choice by size (:class:`sim.runs.jobs.SizedExecutor`)."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import textwrap
from collections.abc import Callable, Sequence

from sim.cli.report import (
    compare_header_lines,
    print_error,
    print_failed_rows,
    print_failures,
    run_summary_lines,
)
from sim.cli.usage import UsageError
from sim.errors import ScenarioError

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def command_line(argv: Sequence[str] | None) -> str:
    args = list(sys.argv[1:] if argv is None else argv)
    return " ".join(shlex.quote(a) for a in ["gdcloud", *args])


def run_and_print(label: str, call: Callable[[], object], lang: str | None = "en") -> int:
    """Run ``call()`` (one library call returning an AnalysisRun) and print its summary lines
    (an interruption in ``lang``; None is English)."""
    from sim.i18n import text
    from sim.runs.rundir import AnalysisInterrupted

    try:
        run = call()
    except AnalysisInterrupted as exc:
        print("\n" + text("msg_line.interrupted_analysis", lang or "en", label=label, folder=exc.folder),
              file=sys.stderr)
        return EXIT_INTERRUPTED
    for line in run.summary_lines():
        print(line)
    return EXIT_OK


def cmd_run(args: argparse.Namespace, argv: Sequence[str] | None) -> int:
    if args.scenario is None and args.resume is None:
        raise UsageError("give a SCENARIO (file or shipped name) or --resume FOLDER")
    from sim.runs import prebuild

    start_population_build(args)  # before the model (and Mesa) are imported
    try:
        from sim.runs.jobs import SizedExecutor
        from sim.runs.runner import run_scenario

        result = run_scenario(args.scenario, replicates=args.replicates, seed=args.seed, overrides=args.overrides,
                              executor=SizedExecutor(args.executor, args.workers, args.address), out_dir=args.out,
                              resume=args.resume, figures=not args.no_figures, progress=args.progress,
                              command=command_line(argv), label=args.label if args.resume is None else None)
    finally:
        prebuild.discard()  # what the run did not take (it failed early)
    for line in run_summary_lines(result):
        print(line)
    print_failures(result)
    return EXIT_OK if result.ok else EXIT_FAILED


FIGURE_MODULES = ("matplotlib", "matplotlib.patches", "matplotlib.text", "matplotlib.offsetbox", "matplotlib.axes",
                  "matplotlib.figure", "scipy.special", "sim.plots.scenario")
"""The figure code (~0.5 s of CPU) in steps of ~0.03-0.15 s: the run
checks between two steps whether the population is built (:func:`sim.runs.prebuild.take`), so
that this import delays the model by at most one step, not by the whole (0.2-0.3 s measured
when the build ended during it); the figure process imports what is left itself."""


def start_population_build(args: argparse.Namespace) -> None:
    """For a run of one replicate in this process, fork its figure process and start building its
    population in another process now, while this one imports the model
    (:mod:`sim.runs.prebuild`; same bytes either way)."""
    if args.resume is not None or args.address is not None or args.executor not in (None, "serial"):
        return
    from sim.runs import prebuild
    from sim.scenario.loader import load_scenario

    try:
        sc = load_scenario(args.scenario, args.overrides, replicates=args.replicates, seed=args.seed)
    except Exception:  # noqa: BLE001 - run_scenario reports a bad scenario
        return
    if sc.run.replicates == 1:
        figures = not args.no_figures and sc.outputs.figures
        # What the run imports after its replicate (the tables), then what the
        # figure process forked at the take would import (it inherits it): imported only while
        # this process waits for the build.
        later = ("sim.analysis.tables", *(FIGURE_MODULES if figures else ()))
        prebuild.start(sc, 0, figures=figures, later=later)


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
        from sim.i18n import text

        lang = args.lang or "en"
        where = text("msg_line.points_kept", lang, folder=exc.folder / sweep.RUNS) if exc.folder else ""
        print("\n" + text("msg_line.interrupted_sweep", lang, where=where), file=sys.stderr)
        return EXIT_INTERRUPTED
    for line in sweep.summary_lines(result):
        print(line)
    print_failed_rows(result.failures, result.folder / sweep.FAILURES if result.folder else None,
                      result.plan.base.outputs.lang, point=True)
    return EXIT_OK if result.ok else EXIT_FAILED


def cmd_validate(args: argparse.Namespace) -> int:
    """``gdcloud validate``: an OK line per valid file (in its ``outputs.lang``), else its error line."""
    from sim import i18n
    from sim.scenario.loader import load_scenario, scenario_hash

    status = EXIT_OK
    for path in args.scenarios:
        try:
            sc = load_scenario(path, args.overrides)
        except ScenarioError as exc:
            print_error(exc, args.lang or "en")
            status = EXIT_USAGE
            continue
        n = sc.run.replicates
        print(i18n.text("cli.validate_ok", sc.outputs.lang, path=path, name=sc.name, hash=scenario_hash(sc)[:10],
                        n=n, s="s" if n != 1 else ""))
    return status


def cmd_latest(args: argparse.Namespace) -> int:
    """``gdcloud latest [NAME]``: the newest complete folder of a scenario, or every folder."""
    from sim import i18n
    from sim.runs.finding import latest, list_results

    lang = args.lang or "en"
    if args.name is None:
        table = list_results(root=args.out)
        if table.empty:
            print(i18n.text("cli.no_results", lang, root=args.out))
            return EXIT_OK
        for row in table.itertuples(index=False):
            print(i18n.text("cli.result_row", lang, folder=row.folder, kind=i18n.term_or("kind", row.kind, lang),
                            status=i18n.term_or("status", row.status, lang), created=row.created))
        return EXIT_OK
    print(latest(args.name, root=args.out, complete_only=not args.any_status))
    return EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    """``gdcloud list``: each shipped scenario, its file and description (``--lang zh``: its
    Chinese title and description, :func:`sim.i18n.scenario_title`)."""
    from sim import i18n
    from sim.scenario.loader import shipped_scenarios

    lang = args.lang or "en"
    items = shipped_scenarios()
    if not items:
        print(i18n.text("cli.no_shipped", lang))
        return EXIT_OK
    for name, (path, description) in items.items():
        if lang == "en":
            print(f"{name}  ({path})")
            text = description.strip() or "(no description)"
            print(textwrap.fill(text, width=100, initial_indent="    ", subsequent_indent="    "))
            continue
        title = i18n.scenario_title(name, lang)
        print(f"{name}  {title}（{path}）" if title != name else f"{name}（{path}）")
        text = i18n.scenario_description(name, description, lang).strip() or i18n.text("cli.no_description", lang)
        print(fill_wide(text, width=100, indent="    "))
    return EXIT_OK


def fill_wide(text: str, *, width: int, indent: str) -> str:
    """``text`` wrapped to ``width`` terminal columns (CJK characters take two and may end a line
    anywhere; Latin words are kept whole), each line indented."""
    import re
    import unicodedata

    lines, line = [], ""
    for token in re.findall(r"\s+|[^\s\u2e80-\uffef]+|.", text):
        if token.isspace():
            token = " "
        cols = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line + token)
        if cols > width - len(indent) and line.strip():
            lines.append(indent + line.rstrip())
            line = "" if token == " " else token
            continue
        line += token
    if line.strip():
        lines.append(indent + line.rstrip())
    return "\n".join(lines)


def cmd_schema(args: argparse.Namespace) -> int:
    try:
        from sim.scenario.docs import json_schema
    except ImportError as exc:  # pragma: no cover - docs module always shipped
        raise UsageError(f"the schema generator is not available: {exc}") from exc
    print(json.dumps(json_schema(args.lang or "en"), indent=2, ensure_ascii=False))
    return EXIT_OK
