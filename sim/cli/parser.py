"""Argument parsers of ``gdcloud``: every subcommand, its options, help text and epilog.

Long functions: :func:`build_parser` and :func:`_add_analysis_parsers` (about 85 and 120 lines)
are flat lists of ``add_argument`` calls, one per option with its help text; split, a command's
options would be scattered over several functions.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sim.cli import record as record_commands
from sim.cli.usage import UsageError

EPILOG_SCENARIO = (
    "SCENARIO is a YAML file or the name of a shipped scenario (see `gdcloud list`). "
    "Precedence, lowest first: schema defaults < extended file < the file < --set < "
    "--replicates/--seed. Reference of every key: docs/scenario_reference.md."
)


class _Parser(argparse.ArgumentParser):
    """argparse that reports errors as one ``error:`` line (exit code 2) instead of usage text."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (see `{self.prog} --help`)")


class _VersionAction(argparse.Action):
    """``--version``: argparse's version action, with the version read only when asked for
    (importlib.metadata costs ~30 ms at every start-up otherwise)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS,
                 help="show program's version number and exit"):
        super().__init__(option_strings=option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        from sim import __version__

        print(f"gdcloud-sim {__version__}")  # on stdout, as argparse's version action
        parser.exit()


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


PROGRESS_BAR = "show a progress bar (default: only when stderr is a terminal)"
SET_HELP = ("override one scenario value, e.g. --set policies.vouchers.scale=2 (repeatable; values are "
            "read as YAML)")


def add_shared_options(p: argparse.ArgumentParser, *, out: str, runs: str, executor: str,
                       set_help: str | None = SET_HELP, figures: str | None = None,
                       progress: str | None = PROGRESS_BAR, lang: str | None = None) -> None:
    """The options every running command shares, in one place: ``--set``, ``--out``,
    ``--executor``, ``--workers``, ``--address``, ``--no-figures`` and ``--progress``.

    Args:
        p: The subcommand's parser.
        out: What ``--out`` holds, e.g. ``sweep/<timestamp>-<hash>/``.
        runs: What a worker runs at most one of (``replicate``, ``run``...).
        executor: The ``--executor`` help: where the runs go and what goes together.
        set_help: The ``--set`` help (None: no ``--set``).
        figures: The figures ``--no-figures`` skips (None: no ``--no-figures``).
        progress: The ``--progress`` help (None: no ``--progress``).
        lang: The ``--lang`` help (None: no ``--lang``; ``gdcloud run`` and ``compare`` add
            their own). The CLI turns ``--lang`` into ``--set outputs.lang=...``.
    """
    if set_help is not None:
        p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE",
                       help=set_help)
    if lang is not None:
        p.add_argument("--lang", choices=("en", "zh"), default=None, help=lang)
    p.add_argument("--out", type=out_dir, default=None, metavar="DIR",
                   help=f"folder under which {out} is created (default: $GDCLOUD_RESULTS_DIR, else results)")
    p.add_argument("--executor", choices=("serial", "processes", "dask"), help=executor)
    p.add_argument("--workers", "-j", type=int, metavar="N",
                   help=f"worker processes (default: CPUs available, at most one per {runs} and as many "
                        "as memory allows)")
    p.add_argument("--address", type=scheduler_address, metavar="tcp://HOST:PORT",
                   help="Dask scheduler to use (implies --executor dask; default: a local cluster)")
    if figures is not None:
        p.add_argument("--no-figures", action="store_true", help=f"do not write {figures}")
    if progress is not None:
        p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None, help=progress)


def _add_run_options(p: argparse.ArgumentParser, *, resume: bool) -> None:
    p.add_argument("--replicates", "-n", type=int, metavar="N",
                   help="number of replicates (overrides run.replicates)")
    p.add_argument("--seed", type=int, metavar="S", help="root seed (overrides run.seed)")
    if resume:
        p.add_argument("--label", metavar="NAME", default=None,
                       help="name the results folder <out>/<NAME>/<timestamp>-<hash>/ instead of "
                            "by the scenario name (e.g. to tell --set runs apart; "
                            "`gdcloud latest NAME` finds it)")
        p.add_argument("--resume", type=Path, metavar="FOLDER",
                       help="complete an interrupted run folder: only missing replicates are "
                            "run; the scenario (if given) must be the same")
    p.add_argument("--lang", choices=("en", "zh"), default=None,
                   help="language of figures, table headers and sentences: en or zh "
                        "(default: the scenario's outputs.lang, en)")
    add_shared_options(p, out="<scenario>/<timestamp>-<hash>/", runs="replicate",
                       executor="where replicates run (default: processes, or serial for a single run, whatever --workers says)",
                       figures="figures/*.png")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="gdcloud",
        description="Agent-based scenarios of Guangdong firms moving onto the cloud: will "
                    "1,000,000 firms be on the cloud and 50,000 above-scale firms be digitally "
                    "transformed by the end of 2025?",
        epilog="Run `gdcloud COMMAND --help` for the options of a command.",
    )
    parser.add_argument("--version", action=_VersionAction)
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
    p.add_argument("--label", metavar="NAME", default=None,
                   help="name the comparison folder <out>/<NAME>/<timestamp>-<hash>/ instead of "
                        "compare/ (`gdcloud latest NAME` finds it)")
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
        epilog="SWEEP is a YAML file of sim.analysis.sweep_spec.SweepSpec (keys: description, base, overrides, "
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
    p.add_argument("--label", metavar="NAME", default=None,
                   help="name the sweep folder <out>/<NAME>/<timestamp>-<hash>/ instead of sweep/ "
                        "(`gdcloud latest NAME` finds it)")
    p.add_argument("--dry-run", action="store_true",
                   help="check the sweep, print the number of points and runs and an estimated time; "
                        "write nothing")
    add_shared_options(p, out="sweep/<timestamp>-<hash>/", runs="run",
                       executor="where runs go (default: processes, or serial for a single run)",
                       set_help="override one value of the base scenario (repeatable; values are read as YAML)",
                       figures="figures/sweep.png", lang=LANG_HEADER_HELP)

    p = sub.add_parser("validate", help="check scenario files without running them",
                       description="Load and validate each scenario (extends chain, --set "
                                   "overrides, every value); print OK or one error line per file.",
                       epilog=EPILOG_SCENARIO)
    p.add_argument("scenarios", nargs="+", metavar="SCENARIO")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE",
                   help="override one value (repeatable)")
    p.add_argument("--lang", choices=("en", "zh"), default=None, help=LANG_LINES_HELP)

    p = sub.add_parser("latest", help="print the newest complete results folder of a scenario",
                       description="Print the newest complete results folder of a scenario, a "
                                   "--label, 'compare' or 'sweep' (under --out, else "
                                   "$GDCLOUD_RESULTS_DIR, else results); with no NAME, list "
                                   "every results folder.")
    p.add_argument("name", nargs="?", metavar="NAME", help="scenario name or label")
    p.add_argument("--out", type=out_dir, default=None, metavar="DIR",
                   help="results root (default: $GDCLOUD_RESULTS_DIR, else results)")
    p.add_argument("--any-status", action="store_true",
                   help="also consider running, interrupted or failed runs")
    p.add_argument("--lang", choices=("en", "zh"), default=None, help=LANG_PLAIN_HELP)

    p = sub.add_parser("list", help="list the shipped scenarios",
                       description="List the shipped scenarios (scenarios/*.yaml) with their descriptions.")
    p.add_argument("--lang", choices=("en", "zh"), default=None,
                   help="language of the titles and descriptions: en or zh (default en)")
    p = sub.add_parser("schema", help="print the JSON Schema of scenario files",
                       description="Print the JSON Schema of scenario files (for editors).")
    p.add_argument("--lang", choices=("en", "zh"), default=None,
                   help="language of the field titles: en or zh (zh: each field's title is its Chinese "
                        "name; descriptions stay English; default en)")
    _add_analysis_parsers(sub)
    return parser


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


LANG_LINES_HELP = ("language of the printed lines and error lines: en or zh (default: each scenario's "
                   "outputs.lang, en)")
"""``--lang`` of ``gdcloud validate``."""

LANG_PLAIN_HELP = "language of the printed lines and error lines: en or zh (default en)"
"""``--lang`` of the commands without a scenario (``latest``)."""

LANG_HEADER_HELP = ("language of the figures (titles, axes, legends, names, header and caveat line): "
                    "en or zh (default: the scenario's outputs.lang, en)")
"""``--lang`` of the sweep, the analysis and the record commands."""


PARALLEL_HELP = {
    "calibrate": "the ABC draws, the profile points and the plotted runs go together; each "
                 "optimizer step runs its replicates together",
    "sensitivity": "every run of every sample point goes together",
    "what-it-takes": "the replicates of each lever value go together; bisection steps are sequential",
    "attribution": "the full run and every counterfactual go together",
    "discover": "every run of every point goes together",
}
"""What each analysis submits to the executor at once (shown in --help)."""


def _add_common_analysis(p: argparse.ArgumentParser, *, overrides: bool, progress: bool = True) -> None:
    together = PARALLEL_HELP.get(p.prog.split()[-1], "")
    add_shared_options(
        p, out="<command>/<timestamp>-<hash>/", runs="run that can go at once",
        executor=f"where the model runs go (default: processes, or serial for a single run; {together})",
        set_help="override one scenario value, e.g. --set time.end=2023-12 (repeatable; values are read as YAML)"
        if overrides else None,
        progress="print progress on stderr (default: only when stderr is a terminal)" if progress else None,
        lang=LANG_HEADER_HELP)


def _add_question_size(p: argparse.ArgumentParser, *, replicates: int, per: str, total_firms: int) -> None:
    """``--replicates`` and ``--total-firms`` of a policy question."""
    p.add_argument("--replicates", "-n", type=int, default=replicates, metavar="N",
                   help=f"replicates per {per} (default {replicates})")
    p.add_argument("--total-firms", type=int, default=total_firms, metavar="N",
                   help=f"population simulated; counts are scaled to 2,000,000 firms (default {total_firms})")


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
                       "SPEC is a YAML file of sim.analysis.calibration_spec.CalibrationSpec (unknown keys are errors), "
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
    # 400,000: the smallest size whose bias is below the MC error of 20 replicates (scripts/scale_bias.py)
    _add_question_size(p, replicates=20, per="lever value, the same seeds at every value", total_firms=400000)
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
    _add_question_size(p, replicates=4, per="run, the same seeds in every counterfactual", total_firms=100000)
    _add_common_analysis(p, overrides=True, progress=False)

    p = sub.add_parser(
        "discover", help="scenario discovery: where the goal is missed (Latin hypercube + PRIM)",
        description="In which combinations of uncertainties and levers is the goal missed? Sweeps a Latin "
                    "hypercube over the cloud market rate, the cloud peer weights, churn, the voucher "
                    "budget and service capacity (sim.analysis.discover.DEFAULT_SWEEP), runs the model at "
                    "every point and finds with PRIM the box of inputs in which misses concentrate: the "
                    "box of highest coverage (share of all misses inside it) whose density (share of its "
                    "points that miss) reaches --threshold. A point misses when the goal is missed in "
                    "more than half of its replicates.",
        epilog=_epilog("discover", "discovery_cases.csv, prim_trajectory.csv, prim_box.csv, "
                       "discovery.png, scenario.resolved.yaml", QUESTION_EPILOG))
    p.add_argument("scenario", metavar="SCENARIO", help="scenario file or shipped scenario name")
    p.add_argument("--samples", type=int, default=200, metavar="N", help="points of the sweep (default 200)")
    _add_question_size(p, replicates=1, per="point, the same seeds at every point", total_firms=50000)
    p.add_argument("--goal", choices=("cloud", "transformed", "both"), default="cloud",
                   help="goal whose miss is the case of interest (default cloud)")
    p.add_argument("--threshold", type=float, default=0.8, metavar="D",
                   help="minimum density of the reported PRIM box, 0 < D <= 1 (default 0.8)")
    p.add_argument("--seed", type=int, default=0, metavar="N", help="seed of the Latin hypercube (default 0)")
    _add_common_analysis(p, overrides=True)
