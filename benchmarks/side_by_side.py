"""Set-up and simulation of two checkouts of the code measured side by side (interleaved).

For each size, ``--repeat`` rounds; each round runs ``benchmarks/scaling.py --child`` once with
each checkout on ``PYTHONPATH`` (fresh subprocesses, alternating, so both meet the same load).
Prints medians of CPU time and their ratio (after / before). Use it to report a change:

    python benchmarks/side_by_side.py --before /path/to/main --after . --sizes 1000000 2000000 5000000
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def child(tree: Path, size: int, env_extra: dict[str, str], setup_only: bool = False) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree), **env_extra}
    extra = ["--setup-only"] if setup_only else []
    res = subprocess.run([sys.executable, str(HERE / "scaling.py"), "--child", str(size), *extra], cwd=tree,
                         env=env, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise RuntimeError(f"{tree} at {size}: {res.stderr[-2000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--before", type=Path, required=True, help="checkout of the code before")
    p.add_argument("--after", type=Path, default=HERE.parent, help="checkout of the code after")
    p.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 2_000_000, 5_000_000])
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--setup-only", action="store_true",
                   help="build and initialise only (no simulation): set-up changes, at half the CPU")
    args = p.parse_args(argv)
    keys = ("setup_cpu", "population_cpu", "init_cpu", "sim_cpu", "ns_per_firm_step_cpu", "kernel_load_cpu",
            "setup_sys", "setup_new_memory_mb")
    print(f"load average {os.getloadavg()[0]:.1f}", flush=True)
    table = {}
    for size in args.sizes:
        runs: dict[str, list[dict]] = {"before": [], "after": []}
        for _ in range(args.repeat):
            for name, tree in (("before", args.before), ("after", args.after)):
                runs[name].append(child(tree.resolve(), size, {}, args.setup_only))
        med = {name: {k: statistics.median(r.get(k, float("nan")) for r in rs) for k in keys}
               for name, rs in runs.items()}
        table[size] = med
        b, a = med["before"], med["after"]
        print(f"{size:>10,} firms | set-up {b['setup_cpu']:.2f} -> {a['setup_cpu']:.2f} s "
              f"(population {b['population_cpu']:.2f} -> {a['population_cpu']:.2f}, init {b['init_cpu']:.2f} -> "
              f"{a['init_cpu']:.2f}) | simulation {b['sim_cpu']:.2f} -> {a['sim_cpu']:.2f} s, "
              f"{b['ns_per_firm_step_cpu']:.1f} -> {a['ns_per_firm_step_cpu']:.1f} ns/firm-step | once per process "
              f"(tiny warm-up run, kernel load): {b['kernel_load_cpu']:.2f} -> {a['kernel_load_cpu']:.2f} s | set-up "
              f"system time {b['setup_sys']:.2f} -> {a['setup_sys']:.2f} s, new memory {b['setup_new_memory_mb']:,.0f} -> "
              f"{a['setup_new_memory_mb']:,.0f} MB | after/before {a['setup_cpu'] / b['setup_cpu']:.3f} "
              f"(load {os.getloadavg()[0]:.1f})", flush=True)
    if 1_000_000 in table and 5_000_000 in table:
        for name in ("before", "after"):
            lo, hi = table[1_000_000][name], table[5_000_000][name]
            print(f"{name}: set-up 5e6/1e6 = {hi['setup_cpu'] / lo['setup_cpu']:.2f}, simulation "
                  f"{hi['sim_cpu'] / lo['sim_cpu']:.2f}; set-up per million firms at 5e6: {hi['setup_cpu'] / 5:.2f} s")
    if args.json:
        args.json.write_text(json.dumps(table, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
