"""``gdcloud history-match``, ``gdcloud backtest`` and ``gdcloud evaluate``: the 2020-2025 record.

Each command writes a new folder ``<out>/<command>/<UTC timestamp>-<hash>/`` (never overwritten,
:func:`sim.runs.rundir.run_analysis`: ``manifest.json`` in the common layout, the resolved scenario)
with CSV tables, PNG figures and ``settings.json``; the history match also writes ``posterior.csv``
(one column per dotted key + ``weight``) that a scenario can name with ``posterior:``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from sim.cli.usage import UsageError
from sim.fileio import atomic_write_csv, atomic_write_text

HELP = {
    "history-match": "ABC-SMC posterior of the model's rates given every published figure 2020-2025",
    "backtest": "rolling-origin backtest: calibrate on the figures published by each origin, score later ones",
    "evaluate": "ex-post evaluation: cloud firms at end-2025, what each instrument accounts for, cost per firm",
}


def add_parsers(sub) -> None:
    """Add the three commands to the ``gdcloud`` sub-parsers."""
    for name, text in HELP.items():
        p = sub.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
        p.add_argument("scenario", nargs="?", default=None,
                       help="scenario of the policies as implemented (default: history if shipped, else "
                            "baseline with vouchers since 2018-03 and platforms since 2019-01)")
        p.add_argument("--particles", type=int, default=100, metavar="N", help="ABC particles (default 100)")
        p.add_argument("--generations", type=int, default=8, metavar="G", help="most ABC generations (default 8)")
        p.add_argument("--max-simulations", type=int, default=1500, metavar="M",
                       help="model runs per history match (default 1500)")
        p.add_argument("--total-firms", type=int, default=50_000, metavar="N",
                       help="simulated firms (counts scaled to 2,000,000; default 50,000)")
        p.add_argument("--start", default="2020-12", metavar="YYYY-MM",
                       help="run start; figures at or before it are the initial state (default 2020-12)")
        p.add_argument("--seed", type=int, default=0, metavar="S", help="root seed (default 0)")
        p.add_argument("--out", type=Path, default=Path("results/record"), metavar="DIR",
                       help="results root (default results/record)")
        p.add_argument("--workers", "-j", type=int, default=None, metavar="N",
                       help="worker processes (default: serial)")
        p.add_argument("--counted", default="above_scale", choices=("above_scale", "with_sme_programmes"),
                       help="what the transformed tallies count: above_scale (default) or with_sme_programmes "
                            "(from 2024 they may include up to 7,000 SMEs of the SME pilot-city programmes)")
        if name == "evaluate":
            p.add_argument("--instruments", default="all", metavar="LIST",
                           help="instruments switched off one at a time in the paired runs, comma-separated, "
                                "'all' (default) or 'none' (only the goals at the end date)")
        if name == "backtest":
            p.add_argument("--origins", default="2021-12,2023-09,2025-06", metavar="LIST",
                           help="forecast origins, comma-separated YYYY-MM (default 2021-12,2023-09,2025-06)")


def _base(name: str | None):
    from sim.analysis.history_match import IN_FORCE_SINCE_2018
    from sim.runs.runner import resolve_scenario
    from sim.scenario.locations import scenarios_dir
    from sim.scenario.paths import get_value

    if name is None:
        name = "history" if (scenarios_dir() / "history.yaml").is_file() else "baseline"
    base = resolve_scenario(name)
    overrides = IN_FORCE_SINCE_2018 if str(get_value(base, "policies.vouchers.start")) > "2018-12" else {}
    return base, overrides


def _code_commit() -> str:
    """Short git commit of the code that ran (``""`` outside a git checkout): the saved record
    outputs say which model version produced them."""
    import subprocess

    try:
        out = subprocess.run(["git", "-C", str(Path(__file__).resolve().parent), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def _settings(args: argparse.Namespace, base, overrides: dict, folder: Path, extra: dict[str, Any]) -> None:
    data = {"command": args.command, "scenario": base.name, "commit": _code_commit(), "counted": args.counted,
            "overrides": overrides,
            "particles": args.particles, "generations": args.generations,
            "max_simulations": args.max_simulations, "total_firms": args.total_firms,
            "start": args.start, "seed": args.seed, **extra}
    atomic_write_text(folder / "settings.json", json.dumps(data, indent=2, default=str) + "\n")


def _progress(row: dict) -> None:
    print(f"  generation {row['generation']}: tolerance {row['tolerance']:.4f}, "
          f"{row['accepted']} of {row['simulations']} accepted, ESS {row['ess']:.0f}", file=sys.stderr)


def _match_kw(args: argparse.Namespace, base, overrides: dict, executor) -> dict:
    from sim.analysis.history_match import parameters_for

    return {"params": parameters_for(base), "total_firms": args.total_firms, "start": args.start,
            "particles": args.particles, "generations": args.generations,
            "max_simulations": args.max_simulations, "seed": args.seed, "overrides": overrides,
            "executor": executor, "on_generation": _progress, "counted": args.counted}


def _write_match(match, folder: Path, title: str) -> None:
    from sim.analysis import observation
    from sim.analysis.history_match import METRICS, predictive_table, save_posterior
    from sim.plots.record import predictive_figure

    save_posterior(match, folder / "posterior.csv")
    atomic_write_csv(folder / "generations.csv", match.abc.generations, index=False)
    atomic_write_csv(folder / "parameters.csv", match.abc.summary(), index=False)
    table = predictive_table(match.dates, {m: match.series(m) for m in METRICS}, match.abc.weights,
                             observation.recount(observation.figures(), match.counted), used=match.figures)
    atomic_write_csv(folder / "predictive.csv", table, index=False)
    predictive_figure(match, folder / "predictive.png", title)


def cmd_record(args: argparse.Namespace, argv=None) -> int:
    """Run one of the three commands (dispatch on ``args.command``)."""
    import re

    from sim.runs.jobs import executor_for
    from sim.runs.rundir import MANIFEST, run_analysis
    from sim.scenario.loader import resolved_yaml

    month = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
    months = [args.start] + ([o.strip() for o in args.origins.split(",")] if args.command == "backtest" else [])
    bad = [m for m in months if not month.match(m)]
    if bad:
        raise UsageError(f"{args.command}: {', '.join(bad)} is not a month; use YYYY-MM (e.g. 2021-12)")
    for name in ("particles", "generations", "max_simulations", "total_firms"):
        if getattr(args, name) < (2 if name != "total_firms" else 1_000):
            raise UsageError(f"{args.command}: --{name.replace('_', '-')} is too small ({getattr(args, name)})")
    if args.command == "evaluate" and args.instruments not in ("all", "none"):
        from sim.analysis.evaluate import INSTRUMENTS

        unknown = [i for i in args.instruments.split(",") if i.strip() not in INSTRUMENTS]
        if unknown:
            raise UsageError(f"evaluate: --instruments: unknown {', '.join(unknown)}; use all, none or a "
                             f"comma-separated list of {', '.join(INSTRUMENTS)}")
    base, overrides = _base(args.scenario)
    from sim.analysis import observation

    if not observation.evidence(after=args.start, until="2025-12"):
        raise UsageError(f"{args.command}: no published figure after --start {args.start}")
    if args.command == "backtest":
        empty = [o for o in months[1:] if not observation.evidence(after=args.start, published_by=o)]
        if empty:
            raise UsageError(f"backtest: no figure was published between --start {args.start} and origin "
                             f"{', '.join(empty)}")
    t0, c0 = time.time(), time.process_time()
    inputs = {"scenario": base.name, "overrides": overrides, **{k: v for k, v in vars(args).items()
                                                                 if k not in ("command", "out", "scenario")}}
    with executor_for(workers=args.workers) as ex:

        def call(folder: Path) -> None:
            kw = _match_kw(args, base, overrides, ex)
            if args.command == "backtest":
                _backtest(args, base, folder, kw)
            else:
                from sim.analysis.history_match import history_match

                print(f"history match of {base.name} ({args.total_firms:,} firms)", file=sys.stderr)
                match = history_match(base, **kw)
                _write_match(match, folder, f"History match of {base.name}: posterior predictive vs every figure")
                if args.command == "evaluate":
                    _evaluate(match, folder, ex, args.instruments)
            _settings(args, base, overrides, folder, {"wall_s": round(time.time() - t0, 1),
                                                      "cpu_s_this_process": round(time.process_time() - c0, 1)})

        run = run_analysis(args.out, args.command.replace("-", "_"), inputs=inputs,
                           resolved=("scenario.resolved.yaml", resolved_yaml(base)), call=call,
                           summarize=lambda _res: {}, executor=ex.describe(), command=None)
    if run.error is not None:
        exc = run.error
        print(f"{args.command} failed: {type(exc).__name__}: {' '.join(str(exc).split())} "
              f"(traceback in {run.folder / MANIFEST})", file=sys.stderr)
        return 1
    print(f"results: {run.folder}")
    return 0


def _backtest(args: argparse.Namespace, base, folder: Path, kw: dict) -> None:
    from sim.analysis.backtest import OriginResult, score_origin, summary
    from sim.analysis.history_match import history_match
    from sim.plots.record import fan_chart

    origins = [o.strip() for o in args.origins.split(",") if o.strip()]
    scores = []
    for origin in origins:
        print(f"origin {origin}: history match on the figures stated by then", file=sys.stderr)
        match = history_match(base, published_by=origin, **kw)
        res = OriginResult(origin, match, score_origin(origin, match))
        scores.append(res.scores)
        atomic_write_csv(folder / f"generations_{origin}.csv", match.abc.generations, index=False)
        fan_chart(res, folder / f"fan_{origin}.png")
    import pandas as pd

    table = pd.concat(scores, ignore_index=True)
    atomic_write_csv(folder / "backtest.csv", table, index=False)
    summ = summary(table)
    atomic_write_csv(folder / "backtest_summary.csv", summ, index=False)
    print(summ.to_string(index=False))


def _evaluate(match, folder: Path, ex, instruments: str = "all") -> None:
    from sim.analysis.evaluate import INSTRUMENTS, evaluate
    from sim.plots.record import instruments_figure

    names = {"all": INSTRUMENTS, "none": ()}.get(instruments)
    if names is None:
        names = tuple(i.strip() for i in instruments.split(",") if i.strip())
    ev = evaluate(match, instruments=names, executor=ex)
    goals = ev.goals_table()
    atomic_write_csv(folder / "goals.csv", goals, index=False)
    inst = ev.instruments_table()
    if names:
        atomic_write_csv(folder / "instruments.csv", inst, index=False)
        instruments_figure(inst, folder / "instruments.png", ev.end, match)
    print(goals.to_string(index=False))
    print(inst.to_string(index=False))


COMMANDS = {name: cmd_record for name in HELP}
"""Command name -> handler (registered in :mod:`sim.cli.main`)."""
