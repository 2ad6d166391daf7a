"""benchmarks/single_run.py accounts for every process of a run (not timed: it only reads CPU).

The sampler (benchmarks/cpu_sampler.py) follows the command into the processes it forks (the
population build and the figure processes, which end with ``os._exit``), and each process's CPU
is split into phases that exist: a broken sampler or phase table would print zeros here.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from single_run import one_run  # noqa: E402

TWO_CPUS = (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)) >= 2


@pytest.mark.skipif(not TWO_CPUS or not hasattr(os, "fork"), reason="the run forks its helpers only on 2 CPUs")
def test_every_process_and_the_main_phases_are_accounted_for(tmp_path: Path):
    small = tmp_path / "small.yaml"  # one replicate (the population is then built by a forked process)
    small.write_text("extends: baseline\nname: small\npopulation:\n  total_firms: 50000\nrun:\n  replicates: 1\n")
    run = one_run(ROOT, str(small))
    assert {"command", "population process", "figure process"} <= set(run["total"]), run["total"]
    phases = {name for (_, name), cpu in run["cpu"].items() if cpu > 0}
    assert {"imports", "months (model.run)", "population: build", "figures: rendering (Agg)",
            "figures: constrained layout"} <= phases, phases
    total = sum(run["total"].values())
    assert 0 < total and abs(sum(run["cpu"].values()) - total) < 1e-6 * max(total, 1)  # every second split
    ev = run["events"]
    assert ev["population process forked"] < ev["population built"] < ev["months end"] < ev["command ends"]
