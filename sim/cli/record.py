"""``gdcloud history-match``, ``gdcloud backtest`` and ``gdcloud evaluate``: the 2020-2025 record.

Parse the options, make one library call (:mod:`sim.plots.record_tools`: ``sim.history_match``,
``sim.backtest``, ``sim.evaluate``), print its summary lines; the files each command writes are
described there.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

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
        p.add_argument("--lang", choices=("en", "zh"), default=None,
                       help="language of the figures: en or zh (default: the scenario's outputs.lang, en)")
        if name == "evaluate":
            p.add_argument("--instruments", default="all", metavar="LIST",
                           help="instruments switched off one at a time in the paired runs, comma-separated, "
                                "'all' (default) or 'none' (only the goals at the end date)")
        if name == "backtest":
            p.add_argument("--origins", default="2021-12,2023-09,2025-06", metavar="LIST",
                           help="forecast origins, comma-separated YYYY-MM (default 2021-12,2023-09,2025-06)")


OPTIONS: dict[str, str] = {
    "particles": "--particles", "generations": "--generations", "max_simulations": "--max-simulations",
    "total_firms": "--total-firms", "start": "--start", "origins": "--origins", "instruments": "--instruments"}
"""The option names the errors of the record commands use."""


def _say(text: str) -> None:
    print(text, file=sys.stderr)


def cmd_record(args: argparse.Namespace, argv=None) -> int:
    """Run one of the three commands (dispatch on ``args.command``): one library call, then print
    its summary lines."""
    from sim.cli.commands import command_line, run_and_print
    from sim.plots import record_tools

    common = {"particles": args.particles, "generations": args.generations,
              "max_simulations": args.max_simulations, "total_firms": args.total_firms, "start": args.start,
              "seed": args.seed, "counted": args.counted, "out_dir": args.out, "progress": _say,
              "workers": args.workers, "command": command_line(argv), "labels": OPTIONS,
              "lang": args.lang}
    if args.command == "backtest":
        return run_and_print("backtest", lambda: record_tools.backtest_tool(
            args.scenario, origins=args.origins.split(","), **common), args.lang)
    if args.command == "evaluate":
        return run_and_print("evaluate", lambda: record_tools.evaluate_tool(
            args.scenario, instruments=args.instruments, **common), args.lang)
    return run_and_print("history-match", lambda: record_tools.history_match_tool(args.scenario, **common),
                         args.lang)


COMMANDS = {name: cmd_record for name in HELP}
"""Command name -> handler (registered in :mod:`sim.cli.main`)."""
