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

import os
import shlex
import sys
from collections.abc import Sequence

from sim.cli.analysis import ANALYSIS_COMMANDS
from sim.cli.commands import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    cmd_compare,
    cmd_latest,
    cmd_list,
    cmd_run,
    cmd_schema,
    cmd_sweep,
    cmd_validate,
)
from sim.cli.parser import build_parser
from sim.cli.report import argv_lang, print_error
from sim.cli.usage import UsageError
from sim.errors import AnalysisFailed, ScenarioError
from sim.i18n import text
from sim.i18n.messages import translate


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (see the module docstring). Called without
    ``argv`` (the ``gdcloud`` program, ``python -m sim``) it ends the process itself
    (:func:`end_process`)."""
    code = run_command(argv)
    if argv is None:
        end_process(code)
    return code


def end_process(code: int, thread_grace_s: float = 5.0) -> None:
    """End the program now with exit code ``code``: flush the output and run the exit callbacks
    (logging, multiprocessing, temporary folders) as Python's own exit does, then skip the
    interpreter's teardown of ~1,500 modules and Numba's compiled code, which took 0.3-0.6 s after
    a run here (nothing is left to write: every file of a run is written and closed). Returns
    (and Python exits normally) only if the exit callbacks cannot be run.

    A thread that still runs gets up to ``thread_grace_s`` seconds in all to finish, then the
    process ends without it: Python's normal exit would join it for ever. A process pool whose
    workers died or were terminated mid-run (an interruption, a failure, a worker killed while it
    sent its result) can leave its manager thread blocked reading a half-written result; seen on
    the 2-core CI machine after an interruption (2026-11-29) and after a failed run whose results
    folder was removed under it (2026-11-30: the process stayed, joining that thread, for 14
    minutes). After a failure or an interruption the children that still run are stopped first
    (the run's folder is complete by then, its manifest says what happened)."""
    import atexit
    import threading
    import time

    run_exit_callbacks = getattr(atexit, "_run_exitfuncs", None)  # CPython's own exit step
    if run_exit_callbacks is None:
        return
    if code != EXIT_OK:
        stop_children()
    deadline = time.monotonic() + thread_grace_s
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
    if any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.current_thread()):
        stop_children()  # the callbacks join the children; a blocked pool may still hold some
    run_exit_callbacks()
    for stream in (sys.stdout, sys.stderr):  # after the callbacks: they may print
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`gdcloud list | head`) or stream
            pass
    os._exit(code)


def stop_children(grace_s: float = 2.0) -> None:
    """Terminate this process's multiprocessing children that still run, wait up to ``grace_s``
    seconds each, then kill the rest (so that the exit callbacks' join of them cannot block)."""
    import multiprocessing

    children = multiprocessing.active_children()
    for child in children:
        child.terminate()
    for child in children:
        child.join(timeout=grace_s)
        if child.is_alive():
            child.kill()
            child.join(timeout=grace_s)


def run_command(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``) and run the command; returns the exit code."""
    from sim.runs.executors import ExecutorError
    from sim.runs.lifecycle import Interrupted, terminate_as_interrupt

    terminate_as_interrupt()  # SIGTERM/SIGHUP stop the workers like Ctrl-C: no orphans
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get("GDCLOUD_DEBUG", "") not in ("", "0")
    argv = [a for a in argv if a != "--debug"]
    lang = argv_lang(argv)  # of the lines on stderr, known before the arguments are parsed
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return EXIT_USAGE
        # run, compare, sweep and validate take --lang as an override; the analysis and record
        # commands pass lang= to their library call.
        if getattr(args, "lang", None) and hasattr(args, "overrides") and args.command not in ANALYSIS_COMMANDS:
            args.overrides.append(f"outputs.lang={args.lang}")
        if hasattr(args, "out"):  # one results root: --out, else $GDCLOUD_RESULTS_DIR, else results
            from sim.runs.root import results_root

            args.out = results_root(args.out)
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
        if args.command == "latest":
            return cmd_latest(args)
        if args.command in ANALYSIS_COMMANDS:
            return ANALYSIS_COMMANDS[args.command](args, argv)
        return cmd_schema(args)
    except (ScenarioError, UsageError, ExecutorError) as exc:
        print_error(exc, lang)
        return EXIT_USAGE
    except AnalysisFailed as exc:  # the folder's manifest holds the traceback
        print(translate(str(exc), lang), file=sys.stderr)
        return EXIT_FAILED
    except Interrupted as exc:
        print(file=sys.stderr)
        for folder in exc.folders:
            print(text("msg_line.interrupted_run", lang, folder=folder, resume=shlex.quote(str(folder))),
                  file=sys.stderr)
        if not exc.folders:
            print(text("msg_line.interrupted", lang), file=sys.stderr)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        print("\n" + text("msg_line.interrupted", lang), file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. `gdcloud schema | head`
        return EXIT_OK
    except OSError as exc:  # disk full, file too large, read-only or vanished folder...
        if debug:
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        print_error(f"{where}{exc.strerror or exc} (the results written so far are kept; run with "
                    "--debug for the traceback)", lang)
        return EXIT_FAILED
    except Exception as exc:  # noqa: BLE001 - no traceback reaches a user unless --debug
        if debug:
            raise
        print_error(f"unexpected {type(exc).__name__}: {str(exc)[:300]} (run with --debug for the traceback)", lang)
        return EXIT_FAILED


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
