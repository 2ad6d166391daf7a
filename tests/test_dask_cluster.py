"""The distributed path fails loudly (docs/distributed.md), checked on real Dask processes.

* A LocalCluster loses a whole worker (its nanny told not to restart it, its process killed
  with SIGKILL) in the middle of a run: the replicates are re-run on the other worker and every
  replicate finishes, with the process that ran it and its package versions in the manifest.
* The recipe of docs/distributed.md: a scheduler and a worker started as separate processes
  with the ``dask`` command, ``gdcloud run --executor dask --address``: the run completes; then
  the only worker's process group is killed mid-run: the command stops after the lost-worker
  timeout with exit 1 and a clear message, the finished replicates kept.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("distributed")

from sim.runs.executors import DaskExecutor  # noqa: E402
from sim.runs.runner import run_scenario  # noqa: E402

pytestmark = pytest.mark.slow  # worker processes start in ~5-20 s on a loaded 2-core machine

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SMALL = ["population.total_firms=60000", "time.end=2023-06"]


def first_replicate_written(out: Path, timeout_s: float = 300) -> Path:
    """Wait until some replicate file exists under ``out``; return its run folder."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        files = list(out.glob("*/*/replicates/rep-*.csv"))
        if files:
            return files[0].parents[1]
        time.sleep(0.05)
    raise AssertionError("no replicate finished in time")


def test_local_cluster_loses_a_whole_worker_and_reruns_its_replicates(tmp_path):
    ex = DaskExecutor(workers=2, lost_worker_timeout_s=30)
    ex.start()
    killed: list[int] = []

    def kill_one_worker() -> None:
        first_replicate_written(tmp_path)
        nanny = next(iter(ex._cluster.workers.values()))
        nanny.close_gracefully()  # the nanny must not start a new worker: the whole worker is lost
        killed.append(nanny.pid)
        os.kill(nanny.pid, signal.SIGKILL)

    killer = threading.Thread(target=kill_one_worker, daemon=True)
    killer.start()
    try:
        res = run_scenario("demo", replicates=8, overrides=SMALL, executor=ex, out_dir=tmp_path, figures=False)
    finally:
        ex.close()
    killer.join(5)
    assert killed, "the worker was not killed during the run"
    assert res.ok and res.replicates_done == list(range(8))
    m = res.manifest
    assert sorted(m["replicate_workers"], key=int) == [str(r) for r in range(8)]
    assert set(m["replicate_workers"].values()) <= set(m["workers"])
    assert all(v["numpy"] and v["gdcloud-sim"] for v in m["workers"].values())
    assert all("tcp://" in w for w in m["replicate_workers"].values())  # the Dask worker address
    assert m["sessions"][-1]["executor"]["allowed_failures"] == 2


def start(cmd: list[str], **kw) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True, **kw)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)


def test_recipe_on_separate_processes_and_losing_the_only_worker(tmp_path):
    sched_file = tmp_path / "scheduler.json"
    scheduler = start([str(BIN / "dask"), "scheduler", "--scheduler-file", str(sched_file), "--port", "0",
                       "--no-dashboard"])
    worker = None
    try:
        t0 = time.monotonic()
        while not sched_file.exists() and time.monotonic() - t0 < 120:
            time.sleep(0.2)
        address = json.loads(sched_file.read_text())["address"]
        worker = start([str(BIN / "dask"), "worker", address, "--nworkers", "1", "--nthreads", "1",
                        "--no-dashboard"])
        env = {**os.environ, "PYTHONPATH": str(REPO), "GDCLOUD_DASK_LOST_WORKER_TIMEOUT_S": "5"}
        run = [str(BIN / "gdcloud"), "run", "demo", "--executor", "dask", "--address", address,
               "--no-figures", "--no-progress", *[a for s in SMALL for a in ("--set", s)]]

        ok = subprocess.run([*run, "--replicates", "2", "--out", str(tmp_path / "ok")], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=600)
        assert ok.returncode == 0, ok.stderr
        manifest = json.loads(next((tmp_path / "ok").glob("*/*/manifest.json")).read_text())
        assert len(manifest["replicate_workers"]) == 2 and address.split(":")[1] in json.dumps(manifest)

        out = tmp_path / "lost"
        proc = subprocess.Popen([*run, "--replicates", "12", "--out", str(out)], cwd=REPO, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        folder = first_replicate_written(out)
        stop(worker)  # the whole worker: its nanny and its worker process
        t_kill = time.monotonic()
        _, err = proc.communicate(timeout=300)
        assert time.monotonic() - t_kill < 120  # stops: timeout 5 s plus start-up and writing
        assert proc.returncode == 1, err
        assert "no Dask worker connected" in err and "Traceback" not in err
        m = json.loads((folder / "manifest.json").read_text())
        assert m["status"] == "failed" and m["replicates"]["done"] and m["replicates"]["failed"]
        assert len(m["replicates"]["done"]) + len(m["replicates"]["failed"]) == 12
        assert all("no Dask worker connected" in f["message"] for f in m["failures"])
        assert len(list((folder / "replicates").glob("rep-*.csv"))) == len(m["replicates"]["done"])
    finally:
        if worker is not None:
            stop(worker)
        stop(scheduler)
