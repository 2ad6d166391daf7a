"""Where the set-up's CPU goes at two sizes, function by function, and which parts grow faster
than the firms.

Each round runs one fresh process per size (the sizes alternate, as in ``scaling.py``): the
tiny warm-up run of ``scaling.py``'s child (compiled kernels and data tables loaded), then every
function of the set-up's modules wrapped by a timer, then the set-up measured by
``scaling.py`` (``build_population`` + ``CloudAdoptionModel(..., take_population=True)``). A
wrapper records, per function, the CPU time of its calls (``time.process_time``: user + system)
with and without the wrapped functions it calls (self time), and the page faults (new memory
touched) of its own body. Wrapped: the module-level functions and class methods of the set-up's
modules, and the compiled loops in their kernel tables (a compiled loop's time is its caller's
self time otherwise). NumPy's own calls are their caller's self time.

Printed: the medians over rounds of each function's self time at every size, the ratio of the
largest to the smallest size, and the *excess*: the largest size's time minus the smallest's
scaled by the firms (what makes the set-up's ratio exceed the firms' ratio), largest first; the
set-up's total, its per-round ratios and the load average. The timers cost ~2 us a call (the
number of calls is printed; ~3,000 at 5,000,000 firms).

Usage::

    python benchmarks/setup_profile.py                                   # 1e6 and 5e6 firms, 3 rounds
    python benchmarks/setup_profile.py --rounds 5 --top 40
    python benchmarks/setup_profile.py --checkout ../main-before         # another checkout's code
"""

from __future__ import annotations

import argparse
import functools
import importlib
import inspect
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODULES = ("sim.core.population", "sim.core.links", "sim.core.setup_kernel", "sim.core.column_kernel",
           "sim.core.random_draws", "sim.core.pcg_kernel", "sim.core.columns", "sim.core.initial",
           "sim.core.tables", "sim.core.state", "sim.core.model", "sim.core.kernel", "sim.core.policies",
           "sim.core.hazards", "sim.core.memory", "sim.core.batch", "sim.core.programme")
"""Modules whose functions are timed (a module missing in a checkout is skipped)."""

SKIP = {"interruptible", "kernel_name", "_kernels", "_numba_kernels", "load"}
"""Helpers called around every compiled loop: timing them would only add the timers' cost."""


class Timers:
    """Inclusive and self CPU time, calls and page faults per wrapped function."""

    def __init__(self) -> None:
        self.stats: dict[str, list[float]] = {}  # name -> [calls, inclusive s, self s, self faults, self system s]
        self.stack: list[list[float]] = []  # per active call: [time, faults, system time in wrapped callees]
        self.on = False

    def wrap(self, name: str, fn):
        timers = self

        @functools.wraps(fn)
        def timed(*args, **kwargs):
            if not timers.on:
                return fn(*args, **kwargs)
            r0 = resource.getrusage(resource.RUSAGE_SELF)
            timers.stack.append([0.0, 0, 0.0])
            t0 = time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                dt = time.process_time() - t0
                r1 = resource.getrusage(resource.RUSAGE_SELF)
                df, ds = r1.ru_minflt - r0.ru_minflt, r1.ru_stime - r0.ru_stime
                inner_t, inner_f, inner_s = timers.stack.pop()
                s = timers.stats.setdefault(name, [0, 0.0, 0.0, 0, 0.0])
                s[0] += 1
                s[1] += dt
                s[2] += dt - inner_t
                s[3] += df - inner_f
                s[4] += ds - inner_s
                if timers.stack:
                    timers.stack[-1][0] += dt
                    timers.stack[-1][1] += df
                    timers.stack[-1][2] += ds

        timed.__wrapped_by_profile__ = True
        return timed

    def install(self) -> int:
        """Wrap the functions of :data:`MODULES` (module attributes, class methods and the kernel
        tables' entries); returns how many."""
        wrapped = 0
        for mod_name in MODULES:
            try:
                mod = importlib.import_module(mod_name)
            except ImportError:
                continue
            short = mod_name.rsplit(".", 1)[1]
            for attr, value in list(vars(mod).items()):
                if attr in SKIP or attr.startswith("__"):
                    continue
                if isinstance(value, types.FunctionType) and value.__module__ == mod_name:
                    setattr(mod, attr, self.wrap(f"{short}.{attr}", value))
                    wrapped += 1
                elif inspect.isclass(value) and value.__module__ == mod_name:
                    for m_name, m in list(vars(value).items()):
                        if isinstance(m, types.FunctionType) and (not m_name.startswith("__") or m_name == "__init__"):
                            setattr(value, m_name, self.wrap(f"{short}.{attr}.{m_name}", m))
                            wrapped += 1
            table = vars(mod).get("_compiled")
            if isinstance(table, dict):
                for key, fn in list(table.items()):
                    if callable(fn):
                        table[key] = self.wrap(f"{short}[{key}]", fn)
                        wrapped += 1
        return wrapped


def child(size: int, replicate: int) -> dict:
    """The set-up of ``size`` firms with every function timed, in this process."""
    from sim.core.model import CloudAdoptionModel
    from sim.scenario.schema import Scenario

    CloudAdoptionModel(Scenario.model_validate({"population": {"total_firms": 2000},
                                                "time": {"end": "2021-08"}})).run()  # load kernels and tables
    from sim.core import population as population_module
    from sim.core import seeds

    timers = Timers()
    n_wrapped = timers.install()
    config = Scenario.model_validate({"population": {"total_firms": size}})
    structure = seeds.structure_seed(config, seeds.spawn_streams(seeds.run_seed(config.run.seed, replicate)))
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    c0 = time.process_time()
    timers.on = True
    pop = population_module.build_population(config, structure)
    c1 = time.process_time()
    CloudAdoptionModel(config, replicate=replicate, population=pop, take_population=True)
    timers.on = False
    c2 = time.process_time()
    r2 = resource.getrusage(resource.RUSAGE_SELF)
    page = os.sysconf("SC_PAGE_SIZE")
    return {"size": size, "population_cpu": c1 - c0, "init_cpu": c2 - c1, "setup_cpu": c2 - c0,
            "setup_user": r2.ru_utime - r0.ru_utime, "setup_sys": r2.ru_stime - r0.ru_stime,
            "setup_new_memory_mb": (r2.ru_minflt - r0.ru_minflt) * page / 1e6, "wrapped": n_wrapped,
            "calls": sum(int(s[0]) for s in timers.stats.values()),
            "functions": {name: {"calls": int(s[0]), "incl": s[1], "self": s[2], "self_mb": s[3] * page / 1e6,
                                 "self_sys": s[4]}
                          for name, s in timers.stats.items()}}


def run_child(tree: Path, size: int, replicate: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    res = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", str(size), "--replicate",
                          str(replicate)], cwd=tree, env=env, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise RuntimeError(f"{tree} at {size} firms:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def _med(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def summarise(runs: dict[int, list[dict]], top: int) -> dict:
    """Per function: median self/inclusive time and self memory at each size, ratio, excess."""
    sizes = sorted(runs)
    lo, hi = sizes[0], sizes[-1]
    scale = hi / lo
    names = sorted({name for rs in runs.values() for r in rs for name in r["functions"]})
    rows = []
    for name in names:
        row = {"name": name}
        for size in sizes:
            got = [r["functions"].get(name, {}) for r in runs[size]]
            row[size] = {k: _med([g.get(k, 0.0) for g in got]) for k in ("self", "incl", "self_mb", "calls", "self_sys")}
            row[size]["self_user"] = _med([g.get("self", 0.0) - g.get("self_sys", 0.0) for g in got])
        row["excess"] = row[hi]["self"] - scale * row[lo]["self"]
        row["user_excess"] = row[hi]["self_user"] - scale * row[lo]["self_user"]
        row["ratio"] = row[hi]["self"] / row[lo]["self"] if row[lo]["self"] > 0 else float("inf")
        rows.append(row)
    rows.sort(key=lambda r: -abs(r["excess"]))
    print(f"\nself CPU per function, medians of {len(runs[lo])} rounds (ms); excess = {hi:,} - {scale:g} x {lo:,}; "
          f"user: the same for user time alone (getrusage: the user/system split is sampled at clock ticks, so read it for the large functions only); "
          f"new memory touched in the function's own body (MB)")
    print(f"{'function':<46} {'calls':>6} | {'ms ' + format(lo, ','):>13} {'ms ' + format(hi, ','):>13} "
          f"{'ratio':>6} {'excess':>8} {'user':>7} | {'MB lo':>6} {'MB hi':>6} | {'incl hi':>8}")
    for r in rows[:top]:
        a, b = r[lo], r[hi]
        print(f"{r['name']:<46} {b['calls']:>6.0f} | {1e3 * a['self']:>13.1f} {1e3 * b['self']:>13.1f} "
              f"{r['ratio']:>6.2f} {1e3 * r['excess']:>+8.1f} {1e3 * r['user_excess']:>+7.0f} | {a['self_mb']:>6.0f} {b['self_mb']:>6.0f} | "
              f"{1e3 * b['incl']:>8.1f}")
    tot = {size: {k: _med([r[k] for r in runs[size]]) for k in
                  ("setup_cpu", "population_cpu", "init_cpu", "setup_user", "setup_sys", "setup_new_memory_mb")}
           for size in sizes}
    a, b = tot[lo], tot[hi]
    pairs = ", ".join(f"{y['setup_cpu'] / x['setup_cpu']:.2f}" for x, y in zip(runs[lo], runs[hi], strict=True))
    print(f"\nset-up {lo:,}: {a['setup_cpu']:.3f} s (population {a['population_cpu']:.3f}, init {a['init_cpu']:.3f}; "
          f"user {a['setup_user']:.3f} + system {a['setup_sys']:.3f}; new memory {a['setup_new_memory_mb']:,.0f} MB)")
    print(f"set-up {hi:,}: {b['setup_cpu']:.3f} s (population {b['population_cpu']:.3f}, init {b['init_cpu']:.3f}; "
          f"user {b['setup_user']:.3f} + system {b['setup_sys']:.3f}; new memory {b['setup_new_memory_mb']:,.0f} MB)")
    print(f"ratio {hi:,}/{lo:,}: set-up {b['setup_cpu'] / a['setup_cpu']:.2f} (rounds {pairs}), population "
          f"{b['population_cpu'] / a['population_cpu']:.2f}, init {b['init_cpu'] / a['init_cpu']:.2f}, user "
          f"{b['setup_user'] / a['setup_user']:.2f}, system {b['setup_sys'] / max(a['setup_sys'], 1e-9):.2f}; "
          f"{b['setup_cpu'] / (hi / 1e6):.3f} s per million at {hi:,}; timed calls {runs[hi][0]['calls']:,}")
    excess = sum(r["excess"] for r in rows if r["excess"] > 0)
    print(f"sum of positive excesses {1e3 * excess:+.1f} ms; whole set-up's excess "
          f"{1e3 * (b['setup_cpu'] - scale * a['setup_cpu']):+.1f} ms")
    return {"totals": tot, "functions": rows}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 5_000_000], help="firms; first and last compared")
    p.add_argument("--rounds", type=int, default=3, help="rounds of one fresh process per size")
    p.add_argument("--replicate", type=int, default=0)
    p.add_argument("--checkout", type=Path, default=ROOT, help="the checkout whose code is profiled")
    p.add_argument("--top", type=int, default=25, help="functions printed (largest excess first)")
    p.add_argument("--json", type=Path, default=None, help="also write the summary here")
    p.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child is not None:
        print(json.dumps(child(args.child, args.replicate)))
        return 0
    tree = args.checkout.resolve()
    load0 = os.getloadavg()[0]
    print(f"set-up profile of {tree}; sizes {', '.join(f'{s:,}' for s in args.sizes)}, {args.rounds} rounds "
          f"(alternating fresh processes); load average {load0:.1f}", flush=True)
    runs: dict[int, list[dict]] = {size: [] for size in args.sizes}
    for k in range(args.rounds):
        for size in args.sizes:
            runs[size].append(run_child(tree, size, args.replicate))
        print(f"round {k + 1}: " + ", ".join(f"{s:,} {runs[s][-1]['setup_cpu']:.3f} s" for s in args.sizes)
              + f" (load {os.getloadavg()[0]:.1f})", flush=True)
    summary = summarise(runs, args.top)
    print(f"load average before/after: {load0:.1f} / {os.getloadavg()[0]:.1f}")
    if args.json:
        args.json.write_text(json.dumps({"runs": runs, **summary}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
