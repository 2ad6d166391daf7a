"""Where the CPU of ``gdcloud run scenarios/baseline.yaml`` goes: per process and per phase.

Runs the single-run target's command (``gdcloud run scenarios/baseline.yaml --out TMP
--no-progress``, one replicate, figures on: what ``replicates.py -n 1 --pool 0`` times) with
``cpu_sampler.py`` in every process it forks, and prints for each process (the command, the
population build, the figure process and its child) its CPU split into phases (imports, Numba,
population build, model initialisation, months, tables, figures: constrained layout, rendering,
PNG encoding...), the totals over all processes, and a timeline (when the build ends, the months
end, the figures start, the command ends). With ``--repeat N`` every figure is the median over N
runs. The sampler costs ~1-2% of CPU, so wall and CPU here are a little above ``replicates.py``'s.

Usage::

    python benchmarks/single_run.py                 # one sampled run of this checkout
    python benchmarks/single_run.py --repeat 3 --checkout ../before
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PHASES: list[tuple[str, tuple[str, ...]]] = [  # the first phase with a frame in the stack wins
    ("figures: constrained layout", ("_constrained_layout.py:do_constrained_layout",)),
    ("figures: PNG encoding", ("PIL/",)),
    ("figures: rendering (Agg)", ("backend_agg.py:print_raw",)),
    ("figures: rest of savefig", ("figure.py:savefig",)),
    ("figures: our drawing code (artists, data)", ("plots/scenario.py:write_figures", "plots/scenario.py:run")),
    ("figures: axes made in advance", ("plots/scenario.py:prepare_figures",)),
    ("Numba: import, kernels from its cache", ("numba/core/caching.py:load_overload", "numba/__init__.py:<module>",
                                               "kernel_cache.py:preload")),
    ("population: build", ("core/population.py:build_population",)),
    ("population: copy into shared memory", ("population_process.py:_share",)),
    ("model initialisation", ("core/model.py:__init__",)),
    ("months (model.run)", ("core/model.py:run",)),
    ("results: tidy, CSV, summary, tables, manifest", ("runner.py:finish_jobs", "runner.py:add",
                                                       "replicate.py:run_one")),
    ("imports", ("_find_and_load",)),
]
ROLES = (("population process", "population_process.py:_build"), ("figure child", "parallel.py:_child"),
         ("figure process", "parallel.py:_serve"))
EVENTS = (  # (label, role, frame, first or last sample)
    ("population process forked", "population process", "", "first"),
    ("population built", "population process", "core/population.py:build_population", "last"),
    ("model initialisation starts", "command", "core/model.py:__init__", "first"),
    ("months start", "command", "core/model.py:run", "first"),
    ("months end", "command", "core/model.py:run", "last"),
    ("figures start (figure process)", "figure process", "plots/scenario.py:write_figures", "first"),
    ("figure process ends", "figure process", "", "last"),
    ("command ends", "command", "", "last"),
)
BOOT = ("import sys; sys.path.insert(0, {bench!r}); import cpu_sampler; cpu_sampler.start({folder!r}); "
        "from sim.cli.main import main; sys.argv = ['gdcloud', *sys.argv[1:]]; main()")


def read_process(path: Path) -> dict:
    """One process's sampler file: header fields, CPU per stack, sample times."""
    lines = path.read_text().splitlines()
    head = dict(re.findall(r"(\w+) (\S+)", lines[0]))
    cut = lines.index("#times")
    stacks = [ln.rsplit(" ", 1) for ln in lines[1:cut]]
    keys = [k for k, _ in stacks]
    times = [(float(t), keys[int(i)]) for t, i in (ln.split() for ln in lines[cut + 1:])]
    return {"pid": head["pid"], "parent": head["parent"], "start": float(head["start"]), "end": float(head["end"]),
            "cpu": float(head["user"]) + float(head["system"]), "stacks": {k: float(v) for k, v in stacks},
            "times": times}


def role(proc: dict, root_pid: str) -> str:
    if proc["pid"] == root_pid:
        return "command"
    for name, frame in ROLES:
        if any(frame in k for k in proc["stacks"]):
            return name
    return "other process"


def phase(stack: str) -> str:
    for name, frames in PHASES:
        if any(f in stack for f in frames):
            return name
    return "other"


def one_run(checkout: Path, scenario: str) -> dict:
    """Run the command once under the sampler; CPU per role and phase, events, wall."""
    with tempfile.TemporaryDirectory(prefix="gdcloud_single_") as tmp:
        folder = Path(tmp) / "samples"
        folder.mkdir()
        env = {**os.environ, "PYTHONPATH": str(checkout), "MPLBACKEND": "Agg"}
        cmd = [sys.executable, "-c", BOOT.format(bench=str(Path(__file__).parent), folder=str(folder)),
               "run", str(checkout / scenario), "--out", str(Path(tmp) / "out"), "--no-progress"]
        t = time.perf_counter()
        done = subprocess.run(cmd, env=env, cwd=checkout, capture_output=True, text=True)
        wall = time.perf_counter() - t
        if done.returncode != 0:
            raise SystemExit(f"the run failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
        procs = [read_process(p) for p in folder.glob("*.txt")]
    root = next(p for p in procs if not any(q["pid"] == p["parent"] for q in procs))
    t0 = root["start"]
    cpu: dict[tuple[str, str], float] = collections.Counter()
    total: dict[str, float] = collections.Counter()
    events: dict[str, float] = {}
    for p in procs:
        r = role(p, root["pid"])
        total[r] += p["cpu"]
        sampled = sum(p["stacks"].values()) or 1.0
        entry = dict(ROLES).get(r)
        for stack, c in p["stacks"].items():  # the process's CPU split as its samples are
            own = stack.split(entry, 1)[-1] if entry else stack  # not the frames inherited by the fork
            cpu[(r, phase(own))] += c * p["cpu"] / sampled
        for label, who, frame, which in EVENTS:
            if who != r:
                continue
            ts = [t for t, k in p["times"] if frame in k] if frame else [p["start"], p["end"]]
            if ts:
                events[label] = (min(ts) if which == "first" else max(ts)) - t0
    return {"wall": wall, "cpu": cpu, "total": total, "events": events}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkout", type=Path, default=ROOT, help="the checkout whose sim is run")
    p.add_argument("--scenario", default="scenarios/baseline.yaml")
    p.add_argument("--repeat", type=int, default=1, help="runs (medians are printed)")
    args = p.parse_args(argv)
    load = os.getloadavg()
    runs = [one_run(args.checkout.resolve(), args.scenario) for _ in range(args.repeat)]
    med = statistics.median
    print(f"gdcloud run {args.scenario} ({args.checkout.resolve()}), {args.repeat} run(s), sampled: wall "
          f"{med(r['wall'] for r in runs):.2f} s ({', '.join(f'{r['wall']:.2f}' for r in runs)}), CPU of all "
          f"processes {med(sum(r['total'].values()) for r in runs):.2f} s")
    roles = [r for r in ("command", "population process", "figure process", "figure child", "other process")
             if any(r in run["total"] for run in runs)]
    for r in roles:
        print(f"  {r}: CPU {med(run['total'].get(r, 0.0) for run in runs):.2f} s")
        names = {name for run in runs for (who, name) in run["cpu"] if who == r}
        rows = sorted(((med(run["cpu"].get((r, n), 0.0) for run in runs), n) for n in names), reverse=True)
        for c, n in rows:
            if c >= 0.005:
                print(f"      {c:5.2f}  {n}")
    print("  all processes, by phase:")
    names = {name for run in runs for (_, name) in run["cpu"]}
    rows = sorted(((med(sum(v for (_, n2), v in run["cpu"].items() if n2 == n) for run in runs), n)
                   for n in names), reverse=True)
    for c, n in rows:
        if c >= 0.005:
            print(f"      {c:5.2f}  {n}")
    print("  timeline (s from the command's start; medians):")
    for label, *_ in EVENTS:
        vals = [run["events"][label] for run in runs if label in run["events"]]
        if vals:
            print(f"      {med(vals):5.2f}  {label}")
    after = os.getloadavg()
    print(f"  load average (1, 5, 15 min) before {', '.join(f'{x:.1f}' for x in load)}; "
          f"after {', '.join(f'{x:.1f}' for x in after)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
