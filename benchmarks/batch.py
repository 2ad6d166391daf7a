"""CPU cost per run of a batch of full-scale runs that differ only in parameters and seeds.

This is the batch path (``sim/core/batch.py``) as a calibration, a sweep or a backtest uses it:
one process, ``--runs`` runs of the default scenario (2,000,000 firms unless ``--firms``), each
with another replicate seed and another value of two diffusion parameters, over a pool of ``--pool``
population structures (``population.structure_pool = K``; replicate r runs on structure r mod K).
Printed: CPU seconds per run in total and split into structure builds (paid K times), model
set-up (per run) and simulation, and the kernel in use (``GDCLOUD_KERNEL``: numpy or numba).
Also the floor of a firm-step on this machine (:func:`floor_ns`): one compiled streaming pass over
40 bytes per firm plus the random partner-count updates the runs made per firm-step, and the old
floor (:func:`stream_floor_ns`, a NumPy maximum over the same bytes) for comparison.

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

FLOOR_FIRMS = 2_400_000
"""Firms streamed by the floor's pass: about the mean present population of a default run (2.0 M at
the start, 2.75 M at the end), so its 96 MB stand where the model's columns stand in the caches."""

FLOOR_BYTES = 40
"""Bytes of state per firm-step in the floor's pass (issue 14: "about 40 bytes of state per
firm-step"): eight float32 columns read and a ninth read and written in place."""


def stream_floor_ns(n: int = FLOOR_FIRMS, repeat: int = 7) -> float:
    """The old floor (2026-11-29 14:00 to the sixth session): CPU ns per firm of one NumPy maximum
    over ``10 n`` float32 (40 bytes per firm), median of ``repeat`` in this process.

    Printed beside the new floor (:func:`floor_ns`) for comparison only. It moved between 1.6 and
    2.9 ns from one process to the next on the same machine, with or without huge pages (sixth
    session, ``benchmarks/HISTORY.md``), and it is slower than a compiled pass over the same bytes
    (1.1-1.5 ns): NumPy's reduction is not bound by memory alone.
    """
    buf = np.ones(10 * n, dtype=np.float32)
    times = []
    for _ in range(repeat):
        c = time.process_time()
        np.maximum.reduce(buf)
        times.append(time.process_time() - c)
    return 1e9 * statistics.median(times) / n


def _floor_passes():
    """The floor's two compiled passes (Numba, cached on disk), or None without Numba."""
    try:
        import numba
    except ImportError:
        return None

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def stream(a, b, c, d, e, f, g, h, acc):
        for i in range(acc.size):  # vectorised: bound by the bytes, not by the additions
            acc[i] = acc[i] + ((a[i] + b[i]) + (c[i] + d[i])) + ((e[i] + f[i]) + (g[i] + h[i]))
        return 0

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def scatter(partners, counts):
        for t in range(partners.size):
            counts[partners[t]] += np.float32(1)
        return 0

    return stream, scatter


def floor_ns(updates_per_firm_step: float, n: int = FLOOR_FIRMS, n_allocated: int = 2_750_000,
             repeat: int = 21) -> dict[str, float]:
    """The floor of a firm-step on this machine: work every kernel of these rules must do.

    ``stream``: CPU ns per firm of one compiled pass over :data:`FLOOR_BYTES` bytes per firm
    (eight float32 columns of ``n`` firms read, a ninth read and written), the fastest of
    ``repeat`` passes (a floor: what the machine can do; the median moved more with the load). A firm-step reads its own state (group, chain and leader shares, readiness, voucher
    push, threshold, cumulative hazard) and writes its cumulative hazard back; this pass does
    the same loads and stores in order with no other work.
    ``scatter``: CPU ns per partner-count update, +1 at a random firm of ``n_allocated``
    (float32 counts, as the model's) with the partner index read in order, the fastest of 9
    passes of 4,000,000 updates. A firm that enters, leaves, goes onto the cloud, churns or transforms
    changes a count at each of its partners, which sit anywhere in the firm columns.
    ``floor`` = ``stream + updates_per_firm_step x scatter``, with the updates a run needs per
    firm-step counted from the batch's own runs (:func:`partner_updates`). Arrays are allocated
    after :func:`sim.core.memory.use_small_pages`, as the model's are. Without Numba the stream
    is NumPy's maximum over the same bytes (:func:`stream_floor_ns`) and the scatter ``np.add.at``.
    """
    from sim.core import memory

    memory.use_small_pages()
    passes = _floor_passes()
    rng = np.random.default_rng(14)
    partners = rng.integers(0, n_allocated, 4_000_000).astype(np.int32)
    counts = np.zeros(n_allocated, dtype=np.float32)
    if passes is None:
        stream_ns = stream_floor_ns(n, repeat)
        c = time.process_time()
        np.add.at(counts, partners, np.float32(1))
        scatter_ns = 1e9 * (time.process_time() - c) / partners.size
    else:
        stream, scatter = passes
        cols = [np.full(n, 1.0 + i, dtype=np.float32) for i in range(9)]
        stream(*cols)  # compiled or loaded, and the pages touched
        scatter(partners, counts)
        times = []
        for _ in range(repeat):
            c = time.process_time()
            stream(*cols)
            times.append(time.process_time() - c)
        stream_ns = 1e9 * min(times) / n
        times = []
        for _ in range(9):
            c = time.process_time()
            scatter(partners, counts)
            times.append(time.process_time() - c)
        scatter_ns = 1e9 * min(times) / partners.size
    return {"stream_ns": stream_ns, "scatter_ns_per_update": scatter_ns,
            "updates_per_firm_step": updates_per_firm_step,
            "floor_ns": stream_ns + updates_per_firm_step * scatter_ns}


def partner_updates(model) -> int:
    """Partner-count updates the run of ``model`` (run, not closed) made in its months: per firm
    that entered or left, its links x (1 + above-scale + leader) (partners present, above-scale
    and leader partners), and per link of a firm that went onto the cloud, churned or transformed
    (+1 if a leader) in the run, or left on the cloud or transformed, one more. The group counts
    (park, cluster-city, cell) are small tables that stay in the cache and are not counted."""
    from sim.core.population import NEVER
    from sim.core.state import CHURNED, ON_CLOUD

    st, pop = model.state, model.pop
    n_end = int(pop.n_present[model.month])
    deg = np.diff(pop.adj_indptr[:n_end + 1]).astype(np.int64)
    above, lead = st.is_above[:n_end], st.is_lead[:n_end]
    presence = deg * (1 + above + lead)
    left = ~st.present[:n_end]
    cloud_month, trans_month = st.cloud_month[:n_end], st.trans_month[:n_end]
    onboarded = (cloud_month >= 1) & (cloud_month != NEVER)
    transformed = (trans_month >= 1) & (trans_month != NEVER)
    total = presence[pop.n_initial:].sum() + presence[left].sum()
    total += deg[onboarded].sum() + deg[st.cloud_state[:n_end] == CHURNED].sum()
    total += (deg * (1 + lead))[transformed].sum()
    total += deg[left & (st.cloud_state[:n_end] == ON_CLOUD)].sum()
    total += (deg * (1 + lead))[left & (trans_month != NEVER)].sum()
    return int(total)


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
    # The updates per firm-step are counted by this checkout's script (the after side's runs).
    updates = statistics.median(r.get("updates_per_firm_step", 0.0) for r in runs["after"])
    fl = floor_ns(updates)
    floor = fl["floor_ns"]
    for name in ("before", "after"):
        m = med[name]
        print(f"median {name:6s}: per run {m['cpu_per_run_s']:.2f} s = builds {m['structure_builds_per_run_s']:.2f} "
              f"+ set-up {m['setup_per_run_s']:.2f} + simulation {m['simulation_per_run_s']:.2f}; "
              f"{m['ns_per_firm_step']:.2f} ns per firm-step (ratio to the floor {m['ns_per_firm_step'] / floor:.1f})")
    print(f"after / before: per run {med['after']['cpu_per_run_s'] / med['before']['cpu_per_run_s']:.2f}, "
          f"simulation {med['after']['simulation_per_run_s'] / med['before']['simulation_per_run_s']:.2f}, "
          f"set-up {med['after']['setup_per_run_s'] / med['before']['setup_per_run_s']:.2f}; floor {floor:.2f} ns "
          f"per firm-step = stream {fl['stream_ns']:.2f} + {updates:.3f} updates x {fl['scatter_ns_per_update']:.2f} "
          f"(old floor {stream_floor_ns():.2f}); load average now {os.getloadavg()[0]:.1f}")
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
    updates = 0
    untimed = 0.0
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
        c3 = time.process_time()
        updates += partner_updates(model)  # for the floor: not timed
        c4 = time.process_time()
        model.close()  # as sim.core.model.simulate does: the next replicate reuses the memory
        c5 = time.process_time()
        build, setup, sim = build + c1 - c0, setup + c2 - c1, sim + (c3 - c2) + (c5 - c4)
        untimed += c4 - c3
        firm_steps += float(out.totals["n_firms"][1:].sum()) * config.time.substeps_per_month
    total = time.process_time() - c_all - untimed
    fl = floor_ns(updates / firm_steps)
    floor, old_floor = fl["floor_ns"], stream_floor_ns()
    res = {"runs": args.runs, "pool": args.pool, "firms": args.firms, "kernel": kernel.kernel_name(),
           "kernel_load_once_s": load,
           "cpu_per_run_s": total / args.runs, "structure_builds_per_run_s": build / args.runs,
           "setup_per_run_s": setup / args.runs, "simulation_per_run_s": sim / args.runs,
           "ns_per_firm_step": 1e9 * sim / firm_steps, "updates_per_firm_step": updates / firm_steps,
           "floor_ns_per_firm_step": floor, "floor_stream_ns": fl["stream_ns"],
           "floor_scatter_ns_per_update": fl["scatter_ns_per_update"], "old_floor_ns_per_firm": old_floor}
    print(f"{args.runs} runs, pool of {args.pool} structures, {args.firms:,} firms, kernel {res['kernel']} "
          f"(CPU time):\n  per run {res['cpu_per_run_s']:.2f} s = structure builds "
          f"{res['structure_builds_per_run_s']:.2f} + model set-up {res['setup_per_run_s']:.2f} + "
          f"simulation {res['simulation_per_run_s']:.2f}\n  simulation {res['ns_per_firm_step']:.2f} ns per "
          f"firm-step; floor {floor:.2f} ns per firm-step (ratio {res['ns_per_firm_step'] / floor:.1f}) = stream "
          f"{fl['stream_ns']:.2f} + {fl['updates_per_firm_step']:.3f} partner updates x "
          f"{fl['scatter_ns_per_update']:.2f}; old floor (NumPy maximum) {old_floor:.2f} (ratio "
          f"{res['ns_per_firm_step'] / old_floor:.1f})\n"
          f"  once per process: loading the kernel {load:.2f} s\n"
          f"  load average before/after: {load_before:.1f} / {os.getloadavg()[0]:.1f} (target: <= 1.0 s per run)")
    if args.json:
        args.json.write_text(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
