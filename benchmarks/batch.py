"""CPU cost per run of a batch of full-scale runs that differ only in parameters and seeds.

This is the batch path (``sim/core/batch.py``) as a calibration, a sweep or a backtest uses it:
one process, ``--runs`` runs of the default scenario (2,000,000 firms unless ``--firms``), each
with another replicate seed and another value of two diffusion parameters, over a pool of ``--pool``
population structures (``population.structure_pool = K``; replicate r runs on structure r mod K).
Printed: CPU seconds per run in total and split into structure builds (paid K times), model
set-up (per run) and simulation, and the kernel in use (``GDCLOUD_KERNEL``: numpy or numba).
Also the floor of the kernel (:func:`stream_floor_ns`): the CPU time per firm of streaming the
~40 bytes of state a firm-step must read and write, measured with NumPy on this machine.

Usage::

    python benchmarks/batch.py                         # 12 runs, pool of 2, 2,000,000 firms
    python benchmarks/batch.py --runs 20 --pool 4 --firms 1000000
    GDCLOUD_KERNEL=numpy python benchmarks/batch.py    # the NumPy fallback
    python benchmarks/batch.py --before ../main-before --after . --rounds 2   # a change, alternating
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def stream_floor_ns(n: int = 2_400_000, repeat: int = 7) -> float:
    """CPU ns per firm of reading 40 bytes per firm in one streaming pass (median of ``repeat``).

    The bytes a cloud-stage firm-step cannot avoid: group id, chain share, lead share,
    readiness, voucher push, threshold, cumulative hazard (4 each), and the hazard written back
    (4), rounded up to 40. One vectorised maximum over a buffer of that size, much larger than
    the caches, measures how fast this machine streams them; a firm-step cannot be cheaper.
    A maximum, not a sum: NumPy's pairwise float32 sum is bound by its additions, not by memory
    (4.3 against 1.3-1.9 ns per 40 bytes on the developers' machine, 2026-11-29, load 3.4), so
    the floor reported before that date (a sum) was about 2.5x too high.
    """
    buf = np.ones(10 * n, dtype=np.float32)
    times = []
    for _ in range(repeat):
        c = time.process_time()
        np.maximum.reduce(buf)
        times.append(time.process_time() - c)
    return 1e9 * statistics.median(times) / n


def warm_up() -> float:
    """Load the kernel (Numba compiles or loads its cache once per process); CPU seconds."""
    from sim.core.model import CloudAdoptionModel
    from sim.scenario.schema import Scenario

    c = time.process_time()
    CloudAdoptionModel(Scenario.model_validate({"population": {"total_firms": 2000},
                                                "time": {"end": "2021-08"}})).run()
    return time.process_time() - c


def side_by_side(before: Path, after: Path, rounds: int, args: list[str]) -> int:
    """Run this benchmark in two checkouts alternately (each with its own code and its own copy of
    this script, in a fresh process), ``rounds`` times; print each run, the load average before
    it, and the medians. The floor is measured once here (this checkout's definition)."""
    keys = ("cpu_per_run_s", "structure_builds_per_run_s", "setup_per_run_s", "simulation_per_run_s",
            "ns_per_firm_step")
    runs: dict[str, list[dict]] = {"before": [], "after": []}
    for i in range(rounds):
        for name, tree in (("before", before.resolve()), ("after", after.resolve())):
            out = Path(f"/tmp/batch_side_by_side_{os.getpid()}_{name}_{i}.json")
            load = os.getloadavg()[0]
            env = {**os.environ, "PYTHONPATH": str(tree)}
            subprocess.run([sys.executable, str(tree / "benchmarks" / "batch.py"), *args, "--json", str(out)],
                           cwd=tree, env=env, check=True, capture_output=True)
            res = json.loads(out.read_text())
            out.unlink()
            runs[name].append(res)
            print(f"round {i + 1} {name:6s} (load {load:.1f}): per run {res['cpu_per_run_s']:.2f} s = builds "
                  f"{res['structure_builds_per_run_s']:.2f} + set-up {res['setup_per_run_s']:.2f} + simulation "
                  f"{res['simulation_per_run_s']:.2f}; {res['ns_per_firm_step']:.2f} ns per firm-step "
                  f"({res['kernel']} kernel)", flush=True)
    med = {name: {k: statistics.median(r[k] for r in rs) for k in keys} for name, rs in runs.items()}
    floor = stream_floor_ns()
    for name in ("before", "after"):
        m = med[name]
        print(f"median {name:6s}: per run {m['cpu_per_run_s']:.2f} s = builds {m['structure_builds_per_run_s']:.2f} "
              f"+ set-up {m['setup_per_run_s']:.2f} + simulation {m['simulation_per_run_s']:.2f}; "
              f"{m['ns_per_firm_step']:.2f} ns per firm-step (ratio to the floor {m['ns_per_firm_step'] / floor:.1f})")
    print(f"after / before: per run {med['after']['cpu_per_run_s'] / med['before']['cpu_per_run_s']:.2f}, "
          f"simulation {med['after']['simulation_per_run_s'] / med['before']['simulation_per_run_s']:.2f}, "
          f"set-up {med['after']['setup_per_run_s'] / med['before']['setup_per_run_s']:.2f}; streaming floor "
          f"{floor:.2f} ns per firm; load average now {os.getloadavg()[0]:.1f}")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--runs", type=int, default=12, help="runs in the batch")
    p.add_argument("--pool", type=int, default=2, help="population structures (K)")
    p.add_argument("--firms", type=int, default=2_000_000, help="firms at the start")
    p.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    p.add_argument("--before", type=Path, default=None, help="checkout of the code before a change: run the "
                   "benchmark there and in --after alternately (side by side)")
    p.add_argument("--after", type=Path, default=Path(__file__).resolve().parent.parent,
                   help="checkout of the code after (with --before)")
    p.add_argument("--rounds", type=int, default=2, help="alternating rounds (with --before)")
    args = p.parse_args(argv)
    if args.before is not None:
        return side_by_side(args.before, args.after, args.rounds,
                            ["--runs", str(args.runs), "--pool", str(args.pool), "--firms", str(args.firms)])

    from sim.core import batch, kernel
    from sim.core.model import CloudAdoptionModel
    from sim.scenario.paths import set_values
    from sim.scenario.schema import Scenario

    base = Scenario.model_validate({"population": {"total_firms": args.firms, "structure_pool": args.pool}})
    load_before = os.getloadavg()[0]
    load = warm_up()
    rng = np.random.default_rng(0)
    build = setup = sim = 0.0
    firm_steps = 0.0
    c_all = time.process_time()
    for r in range(args.runs):
        config = set_values(base, {"diffusion.cloud.market_rate_per_year": float(rng.uniform(0.02, 0.06)),
                                   "diffusion.cloud.chain_weight_per_year": float(rng.uniform(0.1, 0.4))})
        c0 = time.process_time()
        pop, _ = batch.structure_for(config, r)
        c1 = time.process_time()
        model = CloudAdoptionModel(config, replicate=r, population=pop)
        c2 = time.process_time()
        out = model.run()
        model.close()  # as sim.core.model.simulate does: the next replicate reuses the memory
        c3 = time.process_time()
        build, setup, sim = build + c1 - c0, setup + c2 - c1, sim + c3 - c2
        firm_steps += float(out.totals["n_firms"][1:].sum()) * config.time.substeps_per_month
    total = time.process_time() - c_all
    floor = stream_floor_ns()
    res = {"runs": args.runs, "pool": args.pool, "firms": args.firms, "kernel": kernel.kernel_name(),
           "kernel_load_once_s": load,
           "cpu_per_run_s": total / args.runs, "structure_builds_per_run_s": build / args.runs,
           "setup_per_run_s": setup / args.runs, "simulation_per_run_s": sim / args.runs,
           "ns_per_firm_step": 1e9 * sim / firm_steps, "floor_ns_per_firm": floor}
    print(f"{args.runs} runs, pool of {args.pool} structures, {args.firms:,} firms, kernel {res['kernel']} "
          f"(CPU time):\n  per run {res['cpu_per_run_s']:.2f} s = structure builds "
          f"{res['structure_builds_per_run_s']:.2f} + model set-up {res['setup_per_run_s']:.2f} + "
          f"simulation {res['simulation_per_run_s']:.2f}\n  simulation {res['ns_per_firm_step']:.2f} ns per "
          f"firm-step; streaming floor {floor:.2f} ns per firm (ratio {res['ns_per_firm_step'] / floor:.1f})\n"
          f"  once per process: loading the kernel {load:.2f} s\n"
          f"  load average before/after: {load_before:.1f} / {os.getloadavg()[0]:.1f} (target: <= 1.0 s per run)")
    if args.json:
        args.json.write_text(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
