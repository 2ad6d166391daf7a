"""How fast this machine is right now: a fixed workload to run beside a target's measurement.

This VM's speed drifts between quiet slots by more than the targets' margins (the batch's
simulation took 0.48 to 0.75 s per run for the same code, benchmarks/HISTORY.md "Where the targets
stood"), while a plain memory stream hardly moves (the batch's floor: 1.36-1.42 ns per firm-step).
The model's slow parts are random reads over tables larger than the caches it shares with other
guests, so the probe times exactly that, beside a stream and a Python-interpreter loop:

- ``gather_big_ns``: one random read from a 256 MiB table (beyond any share of the L3 cache),
- ``gather_small_ns``: one random read from an 8 MiB table (in the caches when they are ours),
- ``stream_ns_per_mib``: summing 256 MiB in order,
- ``python_ns``: one iteration of a Python loop (what imports and figure text cost).

Each is the median of ``--repeat`` timings in this process. Quote the probe beside a target's
figure (``--json`` for scripts); two slots with the same code compare through it.

    python benchmarks/slot_probe.py
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

BIG_BYTES = 256 * 2**20
SMALL_BYTES = 8 * 2**20


def _median_s(fn, repeat: int) -> float:
    fn()  # first touch of the pages and the caches: not timed
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def probe(reads: int = 4_000_000, repeat: int = 5, seed: int = 20211) -> dict[str, float]:
    """Time the four workloads; returns nanoseconds per unit (see the module's docstring)."""
    rng = np.random.default_rng(np.random.SeedSequence(seed))  # fixed: the same reads in every slot
    big = rng.random(BIG_BYTES // 4, dtype=np.float32)
    small = big[: SMALL_BYTES // 4].copy()
    idx_big = rng.integers(0, big.size, reads, dtype=np.int32)
    idx_small = rng.integers(0, small.size, reads, dtype=np.int32)
    out = np.empty(reads, dtype=np.float32)

    def loop() -> int:
        total = 0
        for i in range(reads // 4):
            total += i & 7
        return total

    gather_big = _median_s(lambda: np.take(big, idx_big, out=out), repeat)
    gather_small = _median_s(lambda: np.take(small, idx_small, out=out), repeat)
    stream = _median_s(lambda: np.add.reduce(big), repeat)
    python = _median_s(loop, repeat)
    return {
        "gather_big_ns": gather_big / reads * 1e9,
        "gather_small_ns": gather_small / reads * 1e9,
        "stream_ns_per_mib": stream / (BIG_BYTES / 2**20) * 1e9,
        "python_ns": python / (reads // 4) * 1e9,
    }


def describe(res: dict[str, float]) -> str:
    """One line for a benchmark's output."""
    return (f"slot probe: random read {res['gather_big_ns']:.2f} ns (256 MiB table), "
            f"{res['gather_small_ns']:.2f} ns (8 MiB); stream {res['stream_ns_per_mib'] / 1e3:.1f} us per MiB; "
            f"Python loop {res['python_ns']:.1f} ns per iteration")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--reads", type=int, default=4_000_000, help="random reads per timing")
    p.add_argument("--repeat", type=int, default=5, help="timings per workload (median)")
    p.add_argument("--json", type=Path, default=None, help="write the figures here as JSON")
    args = p.parse_args(argv)
    res = probe(args.reads, args.repeat)
    print(describe(res))
    if args.json:
        args.json.write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
