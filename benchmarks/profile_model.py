"""Where the model's time goes: one run under cProfile (or pyinstrument if installed).

Set-up (population build and model initialisation) and simulation are profiled separately, so
the simulation profile is not diluted by one-off costs. For each, the top functions by own time
(``tottime``: time inside the function itself, e.g. a NumPy call) and by cumulative time are
printed. NumPy functions show up by name (``numpy.ufunc.at``, ``bincount``, ...).

cProfile cannot see inside a vectorized function: array arithmetic (``h += ...``, comparisons,
fancy indexing) is counted as the own time of the line's function. So a second, un-instrumented
pass samples the source line of ``sim/`` being executed every 0.5 ms (a stdlib sampling thread)
and lists the lines that take the most time, e.g. inside ``sim.core.stages.substep``.

Usage::

    python benchmarks/profile_model.py                      # default scenario, 2,000,000 firms
    python benchmarks/profile_model.py --firms 100000 --top 30
    python benchmarks/profile_model.py --pyinstrument       # call tree (needs pyinstrument)
"""

from __future__ import annotations

import argparse
import cProfile
import io
import linecache
import os
import pstats
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sim
from sim.core.model import CloudAdoptionModel
from sim.core.population import build_population
from sim.core.seeds import run_seed, spawn_streams, structure_seed
from sim.scenario.schema import Scenario
from sim.scenario.schema_types import month_number


def _profile_cprofile(label: str, fn: Callable[[], Any], top: int) -> Any:
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    result = prof.runcall(fn)
    wall = time.perf_counter() - t0
    buf = io.StringIO()
    stats = pstats.Stats(prof, stream=buf)
    total = stats.total_tt  # type: ignore[attr-defined]
    print(f"\n=== {label}: {wall:.2f} s wall under cProfile ({total:.2f} s profiled) ===")
    for key, title in (("tottime", "own time"), ("cumulative", "cumulative time")):
        buf.seek(0)
        buf.truncate()
        stats.sort_stats(key).print_stats(top)
        print(f"--- top {top} by {title} ---")
        lines = buf.getvalue().splitlines()
        start = next((i for i, ln in enumerate(lines) if ln.lstrip().startswith("ncalls")), 0)
        print("\n".join(ln for ln in lines[start:] if ln.strip()))
    return result


class LineSampler:
    """Sample, every ``interval`` seconds, the innermost source line of the main thread that
    lies under ``prefix`` (the ``sim`` package); the counts estimate the time per line."""

    def __init__(self, prefix: str, interval: float = 0.0005):
        self.prefix, self.interval = prefix, interval
        self.counts: Counter = Counter()
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._main = threading.main_thread().ident

    def _run(self) -> None:
        while not self._stop.is_set():
            f = sys._current_frames().get(self._main)
            while f is not None and not f.f_code.co_filename.startswith(self.prefix):
                f = f.f_back
            self.samples += 1
            if f is not None:
                self.counts[(f.f_code.co_filename, f.f_lineno, f.f_code.co_name)] += 1
            time.sleep(self.interval)

    def __enter__(self) -> LineSampler:
        self._switch = sys.getswitchinterval()
        sys.setswitchinterval(self.interval / 5)  # let the sampler in promptly
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        sys.setswitchinterval(self._switch)

    def report(self, top: int, wall: float) -> str:
        lines = [f"--- top {top} source lines of sim/ (sampled; share of {wall:.2f} s wall) ---"]
        for (fn, ln, func), c in self.counts.most_common(top):
            src = linecache.getline(fn, ln).strip()
            lines.append(f"{100 * c / max(self.samples, 1):5.1f}%  {Path(fn).name}:{ln} {func}: {src[:90]}")
        inside = sum(self.counts.values())
        lines.append(f"({100 * inside / max(self.samples, 1):.0f}% of samples inside sim/, the rest in Mesa/NumPy glue)")
        return "\n".join(lines)


STAGE_FUNCTIONS = (
    ("sim.core.stages", "enter_and_exit"), ("sim.core.stages", "transform_stage"), ("sim.core.stages", "onboard"),
    ("sim.core.stages", "programme_quota"), ("sim.core.hazards", "group_tables"),
    ("sim.core.hazards", "transform_tables"), ("sim.core.kernel", "cloud_deciders"),
    ("sim.core.stage_kernel", "churn_due"), ("sim.core.kernel", "update_counts"), ("sim.core.tables", "by_priority"),
    ("sim.core.state.FirmState", "update"), ("sim.core.stage_kernel", "onboard"),
    ("sim.core.model.CloudAdoptionModel", "_record"), ("sim.core.model.CloudAdoptionModel", "_policy_rates"),
)
"""Functions timed by ``--stages`` (module or class, attribute): the stages of a month and the
compiled calls inside them; nested ones are also counted in their callers."""


def stage_times(run: Callable[[], Any]) -> tuple[dict[str, list[float]], float]:
    """CPU seconds (this thread) and calls of each of :data:`STAGE_FUNCTIONS` during ``run()``,
    and the CPU of the whole call. The functions are wrapped for the call and restored after."""
    import importlib

    totals: dict[str, list[float]] = {}
    saved = []
    for owner_name, attr in STAGE_FUNCTIONS:
        if owner_name.endswith((".FirmState", ".CloudAdoptionModel")):
            mod_name, cls = owner_name.rsplit(".", 1)
            owner = getattr(importlib.import_module(mod_name), cls)
        else:
            owner = importlib.import_module(owner_name)
        fn = getattr(owner, attr)
        key = f"{owner_name.rsplit('.', 1)[-1]}.{attr}"
        acc = totals.setdefault(key, [0.0, 0])

        def timed(*a, _fn=fn, _acc=acc, **kw):
            c = time.thread_time()
            try:
                return _fn(*a, **kw)
            finally:
                _acc[0] += time.thread_time() - c
                _acc[1] += 1

        saved.append((owner, attr, fn))
        setattr(owner, attr, timed)
    c = time.thread_time()
    try:
        run()
    finally:
        total = time.thread_time() - c
        for owner, attr, fn in saved:
            setattr(owner, attr, fn)
    return totals, total


def _profile_pyinstrument(label: str, fn: Callable[[], Any], top: int) -> Any:
    from pyinstrument import Profiler

    prof = Profiler(interval=0.001)
    prof.start()
    result = fn()
    prof.stop()
    print(f"\n=== {label} ===")
    print(prof.output_text(unicode=True, color=False, show_all=False))
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--firms", type=int, default=2_000_000, help="firms at the start (default scenario otherwise)")
    p.add_argument("--months", type=int, default=None, help="months to simulate (default: the whole horizon, 54)")
    p.add_argument("--replicate", type=int, default=0, help="replicate (seed child)")
    p.add_argument("--top", type=int, default=25, help="functions to list")
    p.add_argument("--pyinstrument", action="store_true", help="use pyinstrument (call tree) instead of cProfile")
    p.add_argument("--skip-setup", action="store_true", help="do not print the set-up profile")
    p.add_argument("--no-lines", action="store_true", help="skip the sampled per-line pass")
    p.add_argument("--stages", type=int, default=0, metavar="RUNS",
                   help="only time the stages of RUNS runs (CPU per function, no cProfile) on one structure")
    args = p.parse_args(argv)

    data: dict[str, Any] = {"population": {"total_firms": args.firms}}
    if args.months is not None:
        y, m = divmod(month_number("2021-06") + args.months, 12)
        data["time"] = {"start": "2021-06", "end": f"{y:04d}-{m + 1:02d}"}
    config = Scenario.model_validate(data)
    if args.pyinstrument:
        try:
            import pyinstrument  # noqa: F401
        except ImportError:
            print("pyinstrument is not installed; using cProfile", file=sys.stderr)
            args.pyinstrument = False
    prof = _profile_pyinstrument if args.pyinstrument else _profile_cprofile

    def setup() -> CloudAdoptionModel:
        streams = spawn_streams(run_seed(config.run.seed, args.replicate))
        pop = build_population(config, structure_seed(config, streams))
        return CloudAdoptionModel(config, replicate=args.replicate, population=pop)

    if args.stages:
        return _print_stages(config, args.stages)
    if args.skip_setup:
        model = setup()
    else:
        model = prof(f"set-up, {args.firms:,} firms", setup, args.top)
    print(f"\n{model.pop.n_firms:,} firms allocated, {model.n_months} months")
    prof(f"simulation, {model.n_months} months", model.run, args.top)
    if not args.no_lines:
        model = setup()
        sim_dir = str(Path(sim.__file__).resolve().parent)
        t0 = time.perf_counter()
        with LineSampler(sim_dir) as sampler:
            model.run()
        wall = time.perf_counter() - t0
        print(f"\n=== simulation again, not instrumented: {wall:.2f} s wall ===")
        print(sampler.report(args.top, wall))
        if not args.skip_setup:
            t0 = time.perf_counter()
            with LineSampler(sim_dir) as sampler:
                setup()
            print("\n=== set-up again, not instrumented ===")
            print(sampler.report(args.top, time.perf_counter() - t0))
    return 0


def _print_stages(config: Scenario, runs: int) -> int:
    """``--stages``: CPU per stage function over ``runs`` runs on one structure (the first run's
    set-up warms the kernels and tables and is not counted)."""
    from sim.core import kernel, stage_kernel

    kernel.load()
    stage_kernel.load()
    streams = spawn_streams(run_seed(config.run.seed, 0))
    pop = build_population(config, structure_seed(config, streams))
    warm = CloudAdoptionModel(config, replicate=0, population=pop)
    warm.run_for(2)  # the tables and the compiled loops loaded (or compiled) before the timed runs
    warm.close()
    sums: dict[str, list[float]] = {}
    sim_total, steps = 0.0, 0
    for r in range(runs):
        model = CloudAdoptionModel(config, replicate=r, population=pop)
        totals, total = stage_times(model.run)
        steps += int(pop.n_present[1:model.month + 1].sum())
        model.close()
        sim_total += total
        for key, (t, n) in totals.items():
            acc = sums.setdefault(key, [0.0, 0])
            acc[0] += t
            acc[1] += n
    print(f"simulation: {sim_total / runs:.3f} s CPU per run, {1e9 * sim_total / steps:.2f} ns per firm-step "
          f"({runs} runs, {pop.n_firms:,} firms allocated; load {os.getloadavg()[0]:.1f}); per run:")
    for key, (t, n) in sorted(sums.items(), key=lambda kv: -kv[1][0]):
        print(f"  {key:38s} {t / runs:7.3f} s  {100 * t / sim_total:5.1f}%  {n // runs:5d} calls")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
