"""Wall time of many full-scale replicates of the baseline through the CLI, on N worker processes.

Runs ``gdcloud run scenarios/baseline.yaml -n R -j W --set population.structure_pool=K`` into a
temporary folder (figures included unless ``--no-figures``) and prints its wall time, the wall time per replicate,
and the machine's load average before and after (``os.getloadavg``: the other processes competing
for the same cores; the target is a wall time, so it is only meaningful on a quiet machine). The pool of K structures is
the batch path (``sim/core/batch.py``): each worker builds at most K populations and reuses them.

With ``-n 1 --pool 0`` it times the plain ``gdcloud run scenarios/baseline.yaml --out TMP
--no-progress`` (one replicate, figures included; no ``-n`` or ``-j``): the single-run target. ``--repeat`` runs the command several times and reports
the median.

Usage::

    python benchmarks/replicates.py                      # 100 replicates, 2 workers, pool of 2
    python benchmarks/replicates.py -n 1 --pool 0 --repeat 3   # gdcloud run baseline, median of 3
    python benchmarks/replicates.py -n 20 --pool 0       # no pool: every replicate builds its own
    python benchmarks/replicates.py -n 1 --pool 0 --repeat 3 --before ../main-before   # a change, side by side
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

WRAPPER = ("import json, resource, subprocess, sys, time; t = time.perf_counter(); "
           "r = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
           "u = resource.getrusage(resource.RUSAGE_CHILDREN); "
           "print(json.dumps([r.returncode, time.perf_counter() - t, u.ru_utime + u.ru_stime, r.stderr[-3000:]]))")
"""A fresh process that runs the command and reports its exit code, wall time and the CPU time of
the command and every process it started (user + system)."""


def time_command(cmd: list[str], checkout: Path = ROOT) -> dict:
    """Run ``cmd`` under :data:`WRAPPER` with ``sim`` imported from ``checkout``; its exit code,
    wall seconds, CPU seconds of all its processes and stderr tail."""
    env = {**os.environ, "PYTHONPATH": str(checkout), "MPLBACKEND": "Agg"}
    res = subprocess.run([sys.executable, "-c", WRAPPER, *cmd], capture_output=True, text=True, cwd=ROOT,
                         check=True, env=env)
    code, wall, cpu, err = json.loads(res.stdout.strip().splitlines()[-1])
    return {"exit": code, "wall_s": wall, "cpu_s": cpu, "stderr": err}


def gdcloud() -> str:
    """The ``gdcloud`` script next to this interpreter (the project's venv)."""
    exe = shutil.which("gdcloud", path=str(Path(sys.executable).parent)) or shutil.which("gdcloud")
    if exe is None:
        raise SystemExit("gdcloud is not installed next to this Python (pip install -e .)")
    return exe


def command(args: argparse.Namespace, out: str) -> list[str]:
    """The timed ``gdcloud run`` command line."""
    cmd = [gdcloud(), "run", str(ROOT / args.scenario), "--out", out, "--no-progress"]
    if args.replicates != 1 or args.pool:  # else the plain command the single-run target names
        cmd += ["-n", str(args.replicates), "-j", str(args.workers)]
    if args.pool:
        cmd += ["--set", f"population.structure_pool={args.pool}"]
    if args.no_figures:
        cmd.append("--no-figures")
    return cmd


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("-n", "--replicates", type=int, default=100, help="replicates")
    p.add_argument("-j", "--workers", type=int, default=2, help="worker processes")
    p.add_argument("--pool", type=int, default=2, help="population structures K (0: no pool)")
    p.add_argument("--scenario", default="scenarios/baseline.yaml", help="scenario file")
    p.add_argument("--no-figures", action="store_true", help="do not draw the figures")
    p.add_argument("--repeat", type=int, default=1, help="times the command is run (median reported)")
    p.add_argument("--before", type=Path, default=None,
                   help="another checkout (the code before a change): its command and this one run "
                        "alternately, medians and the ratio reported")
    p.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    args = p.parse_args(argv)

    checkouts = {"after": ROOT} if args.before is None else {"before": args.before.resolve(), "after": ROOT}
    runs: dict[str, list[dict]] = {name: [] for name in checkouts}
    load_before = os.getloadavg()
    for _ in range(args.repeat):
        for name, checkout in checkouts.items():
            with tempfile.TemporaryDirectory(prefix="gdcloud_reps_") as out:
                cmd = command(args, out)
                one = time_command(cmd, checkout)
            if one["exit"] != 0:
                print(f"`{' '.join(cmd)}` ({checkout}) failed (exit {one['exit']}):\n{one['stderr']}", file=sys.stderr)
                return 1
            one["load"] = os.getloadavg()[0]
            runs[name].append(one)
    load_after = os.getloadavg()
    plain = args.replicates == 1 and not args.pool
    res: dict = {"replicates": args.replicates, "workers": None if plain else args.workers, "pool": args.pool,
                 "figures": not args.no_figures, "load_before": load_before, "load_after": load_after,
                 "command": " ".join(command(args, "TMP")[1:])}
    where = ("1 replicate, plain command (in-process)" if plain else
             f"{args.replicates} replicates on {args.workers} workers, pool of {args.pool or 'none'}")
    print(f"gdcloud run {args.scenario}: {where}, figures {'on' if res['figures'] else 'off'}")
    for name, checkout in checkouts.items():
        walls = [r["wall_s"] for r in runs[name]]
        cpus = [r["cpu_s"] for r in runs[name]]
        res[name] = {"checkout": str(checkout), "wall_s": statistics.median(walls), "walls_s": walls,
                     "cpu_s": statistics.median(cpus), "cpus_s": cpus, "loads": [r["load"] for r in runs[name]]}
        label = f"{name} ({checkout}): " if len(checkouts) > 1 else ""
        print(f"  {label}wall {res[name]['wall_s']:.1f} s ({res[name]['wall_s'] / args.replicates:.2f} s per "
              f"replicate), CPU of all processes {res[name]['cpu_s']:.1f} s"
              f"{'; medians of ' + ', '.join(f'{w:.1f}' for w in walls) if len(walls) > 1 else ''}")
    if "before" in res:
        res["wall_ratio"] = res["after"]["wall_s"] / res["before"]["wall_s"]
        res["cpu_ratio"] = res["after"]["cpu_s"] / res["before"]["cpu_s"]
        print(f"  after / before: wall {res['wall_ratio']:.2f}, CPU {res['cpu_ratio']:.2f} (run alternately)")
    print(f"  load average (1, 5, 15 min) before {', '.join(f'{x:.1f}' for x in load_before)}; "
          f"after {', '.join(f'{x:.1f}' for x in load_after)}")
    if args.json:
        args.json.write_text(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
