"""The population built in another process while the model is imported (sim.runs.prebuild,
sim.runs.population_process) is the one the model builds, handed over in shared memory; a run that
takes it gives the same bytes; a failed build only means the model builds its own; the command
line forks the figure process first; and the kernels preloaded from Numba's cache are the ones a
run uses (sim.core.kernel_cache).

The checks run in a fresh interpreter: the figure process is only forked when no other thread
runs, and earlier tests of a session may leave threads alive.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHECKS = textwrap.dedent('''
    import mmap
    import threading

    import numpy as np
    from sim.cli.commands import start_population_build
    from sim.cli.parser import build_parser
    from sim.core.population import build_population
    from sim.core.seeds import replicate_structure_seed
    from sim.runs import prebuild
    from sim.runs.replicate import ReplicateRun, run_one
    from sim.scenario.schema import Scenario

    SMALL = {"population": {"total_firms": 20_000}, "time": {"end": "2022-06"}}
    sc = Scenario.model_validate(SMALL)
    import os
    assert "GDCLOUD_PREBUILD" not in os.environ
    if not prebuild.worth_it(sc):  # on by default where it can run
        print("SKIP: needs two CPUs, fork and memfd")
        raise SystemExit(0)

    def arrays(pop):
        return {k: (v.dtype.str, v.shape, v.flags.writeable, v.tobytes())
                for k, v in vars(pop).items() if isinstance(v, np.ndarray)}

    def shared(arr):
        while isinstance(arr, np.ndarray):
            arr = arr.base
        return isinstance(getattr(arr, "obj", arr), mmap.mmap)  # through the memoryview

    # 1. the prebuilt population is the one the model builds, its arrays mapped, not copied; the
    # build's compiled kernels are loaded here before the fork (the build process inherits them)
    from sim.core import kernel_cache
    assert all(not d.overloads for d in kernel_cache.build_dispatchers())
    assert prebuild.start(sc, 0)
    assert kernel_cache.preload(kernel_cache.build_dispatchers()) == 0  # start() loaded what the cache holds
    got = prebuild.take(sc, 0, sc.run.seed)
    assert got is not None and not prebuild.in_flight()
    ref = build_population(sc, replicate_structure_seed(sc, sc.run.seed, 0))
    assert arrays(got) == arrays(ref)
    assert (got.n_initial, got.meta, got.derived) == (ref.n_initial, ref.meta, ref.derived)
    assert got.adj_indices.size > 40_000  # real links
    assert shared(got.adj_indices) and shared(got.cluster) and not shared(ref.cluster)

    # 2. a build for another replicate, root seed or scenario is discarded, not used
    other = Scenario.model_validate({**SMALL, "population": {"total_firms": 20_001}})
    for args in ((sc, 1, sc.run.seed), (sc, 0, sc.run.seed + 1), (other, 0, other.run.seed)):
        assert prebuild.start(sc, 0)
        builder = prebuild._pending["builder"]
        assert prebuild.take(*args) is None
        assert not prebuild.in_flight() and builder._proc is None  # its process stopped and reaped

    # 3. a run taking the prebuilt population gives the same bytes
    spec = ReplicateRun(sc, sc.name, replicate=0, root_seed=sc.run.seed)
    plain = run_one(spec)
    assert prebuild.start(sc, 0)
    taken = run_one(spec)
    assert not prebuild.in_flight()  # the run took it
    assert plain.ok and taken.ok
    assert plain.timeseries.to_csv() == taken.timeseries.to_csv()

    # 4. a build process that dies gives no population (the model builds its own), and the run
    # is the same
    assert prebuild.start(sc, 0)
    prebuild._pending["builder"]._proc.kill()
    assert prebuild.take(sc, 0, sc.run.seed) is None and not prebuild.in_flight()
    assert prebuild.start(sc, 0)
    prebuild._pending["builder"]._proc.kill()
    died = run_one(spec)
    assert died.ok and died.timeseries.to_csv() == plain.timeseries.to_csv()

    # 5. no build for a shared structure
    shared_sc = Scenario.model_validate({**SMALL, "population": {"total_firms": 20_000, "structure_pool": 2}})
    assert not prebuild.worth_it(shared_sc) and not prebuild.start(shared_sc, 0) and not prebuild.in_flight()

    # 6. GDCLOUD_PREBUILD=0 turns it off, and so does a running thread (no fork then)
    os.environ["GDCLOUD_PREBUILD"] = "0"
    assert not prebuild.worth_it(sc) and not prebuild.start(sc, 0)
    del os.environ["GDCLOUD_PREBUILD"]
    stop = threading.Event()
    t = threading.Thread(target=stop.wait)
    t.start()
    assert not prebuild.worth_it(sc)
    stop.set()
    t.join()

    # 7. the command line starts one only for a single replicate run in this process; the figure
    # process is then forked when the population is taken (none with --no-figures); discard()
    # stops the processes not taken
    small = ["--set", "population.total_firms=20000", "--set", "time.end=2022-06"]
    for extra, expected in (([], True), (["-n", "2"], False), (["--executor", "dask"], False), (["-j", "2"], True),
                            (["--no-figures"], True)):
        start_population_build(build_parser().parse_args(["run", "baseline", *small, *extra]))
        assert prebuild.in_flight() is expected, extra
        if expected:
            builder = prebuild._pending["builder"]._proc
            assert builder.is_alive() and "process" not in prebuild._figures
            assert prebuild._figures.get("later", False) is ("--no-figures" not in extra), extra
        prebuild.discard()
        assert threading.active_count() == 1 and not prebuild._figures
    assert prebuild.take_figure_process() is None
    start_population_build(build_parser().parse_args(["run", "baseline", *small]))
    later = prebuild.take_figure_process()
    assert type(later).__name__ == "LaterFigureProcess"
    builder = prebuild._pending["builder"]._proc
    from sim.scenario.loader import load_scenario
    sc_cli = load_scenario("baseline", small[1::2])
    assert prebuild.take(sc_cli, 0, sc_cli.run.seed) is not None
    proc = prebuild._figures["process"]._proc  # forked by take()
    assert proc.is_alive() and not builder.is_alive()
    later.close()
    prebuild.discard()
    assert not proc.is_alive() and not prebuild.in_flight() and not prebuild._figures

    # 8. the kernels preloaded from Numba's cache are the specialisations the runs above used
    from sim.core import kernel_cache
    if kernel_cache.model_dispatchers():
        import subprocess, sys
        code = ("from sim.core import kernel_cache; d = kernel_cache.model_dispatchers(); "
                "n = kernel_cache.preload(d); print(n, sum(len(x.overloads) for x in d), kernel_cache.preload(d))")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
        used = sum(len(x.overloads) for x in kernel_cache.model_dispatchers())
        loaded, present, again = map(int, out)
        assert loaded == present >= used > 0, (loaded, present, used)  # everything cached, compiled once
        assert again == 0  # loaded once
    print("OK")
''')


def test_prebuilt_population_same_bytes_discarded_when_not_for_this_run_and_started_by_the_cli():
    env = {**{k: v for k, v in os.environ.items() if k != "GDCLOUD_PREBUILD"}, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    res = subprocess.run([sys.executable, "-c", CHECKS], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=300, check=False)
    assert res.returncode == 0, res.stderr[-3000:]
    last = res.stdout.strip().splitlines()[-1]
    if last.startswith("SKIP"):
        import pytest

        pytest.skip(last)
    assert last == "OK"
