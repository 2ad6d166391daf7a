"""How set-up time, simulation time and memory of the model grow with the number of firms.

Each size runs in a fresh subprocess (so peak memory is that of one run): the default scenario
(``Scenario()``: every default policy, entry, churn; 54 months 2021-06 -> 2025-12) with
``population.total_firms`` set to the size. The child reports

* set-up: population build + ``CloudAdoptionModel`` initialisation (imports excluded);
* simulation: ``model.run()`` for all months;
* ns per firm-step: simulation time / sum over months of the firms present;
* peak memory: the process's RSS high-water mark (``resource.getrusage``), in bytes per
  allocated firm (firms present at the start plus all entrants), both in total and above the
  RSS after imports.

Times are wall clock and CPU time of the child. Before timing, a tiny run loads the compiled
kernel if Numba is installed and the data tables (``kernel_load_cpu``, once per process). With ``--cli`` the end-to-end
``gdcloud run scenarios/baseline.yaml`` is also timed (one replicate, no figures unless
``--cli-figures``).

The sizes alternate, one run of each per round (``--repeat`` rounds), so that a ratio of two
sizes is measured under the same conditions; the set-up ratio of each round is printed too.

Usage::

    python benchmarks/scaling.py                          # 1e5, 1e6, 2e6, 5e6 firms
    python benchmarks/scaling.py --sizes 100000 1000000 --repeat 3 --cli
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SIZES = (100_000, 1_000_000, 2_000_000, 5_000_000)


def _rss_peak_bytes(who: int = resource.RUSAGE_SELF) -> int:
    return resource.getrusage(who).ru_maxrss * 1024  # Linux reports KiB


def _rss_now_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _user_sys() -> tuple[float, float]:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime, r.ru_stime


def child(size: int, replicate: int, simulate: bool = True) -> dict:
    """Build and run one model of ``size`` firms in this process (``simulate=False``: set-up only);
    return the measurements. CPU time is the process's user + system time (``time.process_time``);
    the set-up's system time (the kernel giving the process new memory) is also reported apart."""
    from sim.core.model import CloudAdoptionModel
    from sim.core.population import build_population
    try:
        from sim.core.seeds import run_seed, spawn_streams, structure_seed
    except ImportError:  # checkouts before sim/core/seeds.py (side_by_side.py compares versions)
        from sim.core.model import run_seed, spawn_streams, structure_seed
    from sim.scenario.schema import Scenario

    # Like the imports, not part of set-up: a tiny run loads the compiled kernel (Numba, if
    # installed: once per process) and the data tables; its CPU time is reported apart.
    c_load = time.process_time()
    CloudAdoptionModel(Scenario.model_validate({"population": {"total_firms": 2000},
                                                "time": {"end": "2021-08"}})).run()
    kernel_load_cpu = time.process_time() - c_load
    config = Scenario.model_validate({"population": {"total_firms": size}})
    rss_imports = _rss_now_bytes()
    fault0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    u0, s0 = _user_sys()
    w0, c0 = time.perf_counter(), time.process_time()
    pop = build_population(config, structure_seed(config, spawn_streams(run_seed(config.run.seed, replicate))))
    w1, c1 = time.perf_counter(), time.process_time()
    # Built for this model alone, as a single run's population is (the model takes its tables;
    # checkouts before take_population copied them: side_by_side.py compares versions).
    alone = {"take_population": True} if "take_population" in inspect.signature(CloudAdoptionModel).parameters else {}
    model = CloudAdoptionModel(config, replicate=replicate, population=pop, **alone)
    w2, c2 = time.perf_counter(), time.process_time()
    u2, s2 = _user_sys()
    setup_new_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - fault0) * os.sysconf("SC_PAGE_SIZE") / 1e6
    if simulate:
        out = model.run()
        firm_steps = float(out.totals["n_firms"][1:].sum()) * config.time.substeps_per_month
        cloud_final = float(out.totals["cloud_cumulative"][-1])
    else:
        firm_steps, cloud_final = float("nan"), float("nan")
    w3, c3 = time.perf_counter(), time.process_time()
    peak = _rss_peak_bytes()
    return {
        "size": size, "allocated": pop.n_firms, "months": model.n_months, "firm_steps": firm_steps,
        "population_wall": w1 - w0, "population_cpu": c1 - c0,
        "init_wall": w2 - w1, "init_cpu": c2 - c1,
        "setup_wall": w2 - w0, "setup_cpu": c2 - c0, "setup_user": u2 - u0, "setup_sys": s2 - s0,
        "setup_new_memory_mb": setup_new_mb,
        "sim_wall": w3 - w2, "sim_cpu": c3 - c2,
        "ns_per_firm_step_wall": 1e9 * (w3 - w2) / firm_steps,
        "ns_per_firm_step_cpu": 1e9 * (c3 - c2) / firm_steps,
        "peak_rss": peak, "rss_after_imports": rss_imports,
        "bytes_per_firm": peak / pop.n_firms,
        "bytes_per_firm_above_imports": (peak - rss_imports) / pop.n_firms,
        "cloud_final": cloud_final,
        "kernel_load_cpu": kernel_load_cpu,
    }


def run_child(size: int, replicate: int) -> dict:
    """One measurement in a fresh interpreter."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(size), "--replicate", str(replicate)]
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False)
    if res.returncode != 0:
        raise RuntimeError(f"size {size} failed:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def _median(rs: list[dict], key: str) -> float:
    vals = sorted(r[key] for r in rs)
    n = len(vals)
    return vals[n // 2] if n % 2 else 0.5 * (vals[n // 2 - 1] + vals[n // 2])


def time_cli(scenario: str, figures: bool) -> str:
    """Time ``gdcloud run <scenario> --out <tmp>`` (one replicate); a message if unavailable."""
    exe = shutil.which("gdcloud", path=str(Path(sys.executable).parent)) or shutil.which("gdcloud")
    if exe is None:
        return "CLI: gdcloud not installed (entry point sim.cli.main:main missing); skipped"
    try:
        __import__("sim.cli.main")
    except ImportError as err:
        return f"CLI: sim.cli.main cannot be imported ({err}); skipped"
    path = ROOT / scenario
    if not path.exists():
        return f"CLI: {scenario} does not exist yet; skipped"
    with tempfile.TemporaryDirectory(prefix="gdcloud_bench_") as out:
        cmd = [exe, "run", str(path), "--out", out, "--replicates", "1", "--no-progress"]
        if not figures:
            cmd.append("--no-figures")
        # A fresh wrapper process, so that its children's rusage is that of the CLI alone.
        wrapper = ("import json, resource, subprocess, sys, time; t = time.perf_counter(); "
                   "r = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
                   "u = resource.getrusage(resource.RUSAGE_CHILDREN); "
                   "print(json.dumps([r.returncode, time.perf_counter() - t, u.ru_utime + u.ru_stime, "
                   "u.ru_maxrss * 1024, r.stderr[-2000:]]))")
        res = subprocess.run([sys.executable, "-c", wrapper, *cmd], capture_output=True, text=True,
                             cwd=ROOT, check=True)
        code, wall, cpu, peak, err = json.loads(res.stdout.strip().splitlines()[-1])
        if code != 0:
            return f"CLI: `{' '.join(cmd)}` failed (exit {code}):\n{err}"
        return (f"CLI: gdcloud run {scenario} (1 replicate{'' if figures else ', --no-figures'}): "
                f"{wall:.1f} s wall, {cpu:.1f} s cpu (all child processes), "
                f"peak RSS of the largest child {peak / 2**20:,.0f} MiB")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES),
                   help="firms at the start, one fresh subprocess each")
    p.add_argument("--repeat", type=int, default=1, help="subprocesses per size; medians are reported")
    p.add_argument("--replicate", type=int, default=0, help="replicate (seed child) to run")
    p.add_argument("--cli", action="store_true", help="also time `gdcloud run scenarios/baseline.yaml`")
    p.add_argument("--cli-scenario", default="scenarios/baseline.yaml", help="scenario for --cli")
    p.add_argument("--cli-figures", action="store_true", help="let the CLI write its figures too")
    p.add_argument("--json", type=Path, default=None, help="also write the measurements to this file")
    p.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--setup-only", action="store_true", help=argparse.SUPPRESS)  # child: no simulation
    args = p.parse_args(argv)

    if args.child is not None:
        print(json.dumps(child(args.child, args.replicate, simulate=not args.setup_only)))
        return 0

    print(f"default scenario, 54 months, replicate {args.replicate}; one fresh subprocess per run; "
          f"median of {args.repeat}; cpu = process CPU time")
    print(f"{'firms':>10} {'allocated':>10} | {'setup s':>8} {'(cpu)':>7} | {'sim s':>7} {'(cpu)':>7} | "
          f"{'ns/firm-step':>12} {'(cpu)':>6} | {'peak RSS':>9} {'B/firm':>7} {'B/firm>imp':>10}")
    results = []
    load_before = os.getloadavg()
    # The sizes alternate (1e6, 5e6, 1e6, 5e6, ...), not all runs of one size and then all of the
    # next: this VM's speed drifts by 10-30% within minutes (the other core's work), and a ratio
    # of two sizes measured minutes apart carried that drift (eighth session, benchmarks/README.md).
    runs: dict[int, list[dict]] = {size: [] for size in args.sizes}
    for _ in range(args.repeat):
        for size in args.sizes:
            runs[size].append(run_child(size, args.replicate))
    for size in args.sizes:
        rs = runs[size]
        r = {k: _median(rs, k) if isinstance(v, float) else v for k, v in rs[0].items()}
        results.append(r)
        print(f"{size:>10,} {r['allocated']:>10,} | {r['setup_wall']:>8.2f} {r['setup_cpu']:>7.2f} | "
              f"{r['sim_wall']:>7.2f} {r['sim_cpu']:>7.2f} | {r['ns_per_firm_step_wall']:>12.1f} "
              f"{r['ns_per_firm_step_cpu']:>6.1f} | {r['peak_rss'] / 2**20:>7,.0f}Mi {r['bytes_per_firm']:>7.0f} "
              f"{r['bytes_per_firm_above_imports']:>10.0f}", flush=True)
    by = {r["size"]: r for r in results}
    if 1_000_000 in by and 5_000_000 in by:
        a, b = by[1_000_000], by[5_000_000]
        print(f"time(5e6)/time(1e6): simulation {b['sim_wall'] / a['sim_wall']:.2f} wall, "
              f"{b['sim_cpu'] / a['sim_cpu']:.2f} cpu; set-up {b['setup_wall'] / a['setup_wall']:.2f} wall, "
              f"{b['setup_cpu'] / a['setup_cpu']:.2f} cpu (firm-steps ratio "
              f"{b['firm_steps'] / a['firm_steps']:.2f})")
        pairs = ", ".join(f"{b5['setup_cpu'] / a1['setup_cpu']:.2f}"
                          for a1, b5 in zip(runs[1_000_000], runs[5_000_000], strict=True))
        small = ", ".join(f"{a1['setup_cpu']:.2f}" for a1 in runs[1_000_000])
        print(f"set-up cpu 5e6/1e6 of each round (the two run one after the other): {pairs}; 1e6 set-up {small} s")
        print(f"set-up cpu = user + system: 1e6 {a['setup_user']:.2f} + {a['setup_sys']:.2f} s, 5e6 "
              f"{b['setup_user']:.2f} + {b['setup_sys']:.2f} s (new memory {a['setup_new_memory_mb']:,.0f} / "
              f"{b['setup_new_memory_mb']:,.0f} MB)")
        print(f"set-up per million firms at 5e6: {b['setup_cpu'] / 5:.2f} s cpu (targets: 5e6/1e6 <= 5.3, "
              f"<= 0.6 s per million); load average before/after: "
              f"{load_before[0]:.1f} / {os.getloadavg()[0]:.1f}")
    if args.cli:
        print(time_cli(args.cli_scenario, args.cli_figures))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
