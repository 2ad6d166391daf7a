"""A run folder: its layout, the time-series files and :class:`RunFolder`, which creates, reopens
(``--resume``), locks and writes it; reading a folder back is :mod:`sim.runs.results`.

Layout of a run folder ``results/<scenario>/<UTC YYYYmmddTHHMMSSZ>-<short hash>/``::

    manifest.json            what ran: scenario hash, seeds, versions, times, executor, failures
    scenario.resolved.yaml   the fully merged scenario (loads back to the same scenario)
    replicates/rep-00000.csv one tidy time series per finished replicate, written as it finishes
    timeseries.csv           all replicates (rows sorted by replicate, then the tidy row order)
    summary.csv              quantile bands and goal outcomes (sim.analysis.summary.summarize)
    figures/*.png            standard figures (unless outputs.figures is false / --no-figures)
    failures.csv             one row per failed replicate (only if some failed)

Every file is first written under a temporary name in the same folder and then renamed
(``os.replace``), so a reader never sees a half-written file, and an interrupted run keeps every
replicate that had finished. ``timeseries.csv`` is the concatenation of the replicate files, so
a resumed run ends with the same bytes as an uninterrupted one.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import shutil
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import ValidationError

from sim.core.outputs import FLOAT_METRICS, INT_METRICS, TIMESERIES_COLUMNS
from sim.errors import ScenarioError
from sim.fileio import atomic_write, atomic_write_text
from sim.runs import integrity
from sim.runs.rundir import (
    MANIFEST,
    atomic_write_json,
    folder_files,
    iso,
    new_manifest,
    new_run_folder,
    read_manifest,
    utc_now,
)
from sim.scenario.loader import read_yaml_file, resolved_yaml, scenario_hash
from sim.scenario.schema import Scenario

FLOAT_FORMAT = "%.2f"
"""How float columns of the time series are written (CNY to the fen); integers are exact."""

FLOAT_DECIMALS = 2

RESOLVED = "scenario.resolved.yaml"
TIMESERIES = "timeseries.csv"
SUMMARY = "summary.csv"
FAILURES = "failures.csv"
FIGURES = "figures"
REPLICATES = "replicates"

MANIFEST_INTERVAL_S = 1.0
"""The manifest (with the replicates' checksums) is rewritten at most this often while
replicates finish, and always at the end of a session: a crash costs at most this much work."""

FAILURE_COLUMNS: list[str] = ["replicate", "seed_entropy", "seed_spawn_key", "error_type",
                              "message", "traceback"]
"""Columns of ``failures.csv`` and of ``ScenarioResult.failures``."""

# --------------------------------------------------------------------------- time series I/O


def normalise_timeseries(ts: pd.DataFrame) -> pd.DataFrame:
    """Fix the dtypes and round float columns to :data:`FLOAT_DECIMALS` decimals.

    Applied to every replicate's table before it is written or kept, so a table held in memory
    equals the one read back from disk (and summaries computed from either are equal).
    """
    out = ts[TIMESERIES_COLUMNS].copy()
    out["replicate"] = out["replicate"].astype("int64")
    for c in ("date", "cluster", "city", "size_class"):
        out[c] = out[c].astype(str)
    for c in INT_METRICS:
        out[c] = out[c].astype("int64")
    for c in FLOAT_METRICS:
        out[c] = out[c].astype("float64").round(FLOAT_DECIMALS)
    return out.reset_index(drop=True)


def timeseries_csv(ts: pd.DataFrame, *, header: bool = True) -> str:
    """The CSV text of a tidy time series (fixed float format, ``\\n`` line ends)."""
    return ts.to_csv(index=False, header=header, float_format=FLOAT_FORMAT, lineterminator="\n")


def read_timeseries(path: Path) -> pd.DataFrame:
    """Read a tidy time series CSV written by this module (same dtypes as when written)."""
    ts = pd.read_csv(path, keep_default_na=False,
                     dtype={"date": str, "cluster": str, "city": str, "size_class": str})
    return normalise_timeseries(ts)


def replicate_file(folder: Path, replicate: int) -> Path:
    """Path of one replicate's time series inside a run folder."""
    return Path(folder) / REPLICATES / f"rep-{replicate:05d}.csv"


def replicates_on_disk(folder: Path) -> list[int]:
    """Replicate indices whose time series file exists in ``folder/replicates``, sorted."""
    out = []
    for p in (Path(folder) / REPLICATES).glob("rep-*.csv"):
        stem = p.stem[4:]
        if stem.isdigit():
            out.append(int(stem))
    return sorted(out)


def concatenate_replicate_files(folder: Path, replicates: Iterable[int], target: Path) -> Path:
    """Write ``target`` as the header plus the rows of each replicate file, in replicate order."""
    files = [replicate_file(folder, r) for r in sorted(replicates)]

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as out:
            for i, f in enumerate(files):
                with open(f, "rb") as src:
                    if i > 0:
                        src.readline()  # header
                    shutil.copyfileobj(src, out)

    return atomic_write(target, write)


# --------------------------------------------------------------------------- folders and manifest


def read_resolved_scenario(folder: Path) -> Scenario:
    """The scenario saved in a run folder (``scenario.resolved.yaml``)."""
    path = Path(folder) / RESOLVED
    if not path.is_file():
        raise ScenarioError(str(folder), "(folder)", f"not a results folder (no {RESOLVED})",
                            "a folder written by `gdcloud run`")
    data = read_yaml_file(path, "the scenario a run used, written by gdcloud")
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "(top level)"
        raise ScenarioError(str(path), where, f"not a valid scenario: {first['msg']}",
                            "the scenario.resolved.yaml written by gdcloud (do not edit it)") from None


class RunFolder:
    """Writes one scenario's run folder as replicates finish, then the final files.

    Use :meth:`create` for a new run and :meth:`reopen` to resume an interrupted one.
    """

    def __init__(self, folder: Path, scenario: Scenario, manifest: dict[str, Any]):
        self.path = Path(folder)
        self.scenario = scenario
        self.manifest = manifest
        self.manifest.setdefault("replicate_sha256", {})
        self._lock: integrity.FolderLock | None = None
        self._manifest_written = 0.0

    def lock(self) -> None:
        """Take the folder's writer lock (see :class:`sim.runs.integrity.FolderLock`), clean the
        temporary files an interrupted write left, and forget replicate files whose bytes do not
        match their recorded checksum (they are run again).

        Raises:
            ScenarioError: Another process is writing the folder.
        """
        if self._lock is None:
            self._lock = integrity.FolderLock(self.path).acquire()
        integrity.remove_stale_tmp([self.path, self.path / REPLICATES, self.path / FIGURES])
        files = {r: replicate_file(self.path, r) for r in replicates_on_disk(self.path)}
        _, bad = integrity.verified_replicates(files, self.manifest["replicate_sha256"])
        for r in bad:  # truncated, edited or never recorded: not a finished result
            with contextlib.suppress(OSError):
                files[r].unlink()
            self.manifest["replicate_sha256"].pop(str(r), None)
        self.manifest["replicates_rejected"] = sorted(set(self.manifest.get("replicates_rejected", [])) | set(bad))

    def unlock(self) -> None:
        lock, self._lock = self._lock, None
        if lock is not None:
            lock.release()

    # -- opening

    @classmethod
    def create(cls, root: Path, scenario: Scenario, *, label: str | None = None) -> RunFolder:
        """Make a new folder under ``root`` and write the scenario and a first manifest."""
        h = scenario_hash(scenario)
        folder = new_run_folder(root, label or scenario.name, h[:10])
        (folder / REPLICATES).mkdir()
        atomic_write_text(folder / RESOLVED, resolved_yaml(scenario))
        manifest = new_manifest(
            "run", command=None, executor=None,
            scenario={"name": scenario.name, "description": scenario.description,
                      "hash": h, "short_hash": h[:10]},
            root_seed=scenario.run.seed,
            structure_seed=scenario.population.structure_seed,
            structure_pool=scenario.population.structure_pool,
            replicates={"planned": scenario.run.replicates, "done": [], "failed": []},
            replicate_seeds=[],
            failures=[],
            replicate_wall_time_s={},
            sessions=[],
        )
        manifest["command"] = None  # set by each session
        rf = cls(folder, scenario, manifest)
        rf._lock = integrity.FolderLock(folder).acquire()
        rf.write_manifest()
        return rf

    @classmethod
    def reopen(cls, folder: Path, scenario: Scenario | None = None) -> RunFolder:
        """Open an existing folder to complete it.

        Args:
            folder: A run folder.
            scenario: The scenario meant to be resumed; if given, its hash must equal the
                folder's (``run.replicates`` may differ). If None, the saved scenario is used.

        Raises:
            ScenarioError: Not a results folder, or the scenario does not match it.
        """
        folder = Path(folder)
        manifest = read_manifest(folder)
        saved = read_resolved_scenario(folder)
        want = manifest.get("scenario", {}).get("hash")
        if scenario_hash(saved) != want:
            raise ScenarioError(str(folder / RESOLVED), "(file)",
                                "the saved scenario does not match the hash in manifest.json",
                                "an unmodified results folder")
        if scenario is None:
            scenario = saved
        elif scenario_hash(scenario) != want:
            raise ScenarioError(
                str(folder), "scenario_hash",
                f"the scenario (hash {scenario_hash(scenario)[:10]}) is not the one this folder "
                f"was run with (hash {want[:10]})",
                "the same scenario file, --set overrides and --seed as the interrupted run "
                "(or give only --resume FOLDER)")
        return cls(folder, scenario, manifest)

    # -- progress

    def done(self) -> list[int]:
        """Replicates whose time series is on disk with its checksum recorded (verified by
        :meth:`lock` when a folder is resumed)."""
        sums = self.manifest.get("replicate_sha256", {})
        return [r for r in replicates_on_disk(self.path) if str(r) in sums]

    def begin_session(self, *, replicates: list[int], command: str | None,
                      executor: dict[str, Any], start: dt.datetime) -> None:
        m = self.manifest
        m["status"] = "running"
        m.pop("error", None)
        m["replicates"]["planned"] = self.scenario.run.replicates
        if m.get("start_time") is None:
            m["start_time"] = iso(start)
        m["command"] = command
        m["executor"] = executor
        m["sessions"].append({"start_time": iso(start), "end_time": None, "wall_time_s": None,
                              "command": command, "executor": executor,
                              "replicates_run": len(replicates), "status": "running"})
        root = self.scenario.run.seed
        m["replicate_seeds"] = [{"replicate": r, "entropy": root, "spawn_key": [r]}
                                for r in range(self.scenario.run.replicates)]
        self.write_manifest()

    def write_replicate(self, replicate: int, ts: pd.DataFrame, wall_time_s: float) -> Path:
        """Write one finished replicate's time series (atomically)."""
        text = timeseries_csv(ts)
        path = atomic_write_text(replicate_file(self.path, replicate), text)
        self.manifest["replicate_wall_time_s"][str(replicate)] = round(wall_time_s, 3)
        self.manifest["replicate_sha256"][str(replicate)] = integrity.text_sha256(text)
        if time.monotonic() - self._manifest_written > MANIFEST_INTERVAL_S:
            self.write_manifest()  # a replicate counts as done once its checksum is on disk
        return path

    def write_manifest(self) -> Path:
        self._manifest_written = time.monotonic()
        return atomic_write_json(self.path / MANIFEST, self.manifest)

    def end_session(self, *, status: str, start: dt.datetime, failures: list[dict[str, Any]],
                    end: dt.datetime | None = None) -> None:
        end = end or utc_now()
        m = self.manifest
        done = self.done()
        failed = sorted(f["replicate"] for f in failures)
        m["status"] = status
        m["replicates"].update({"planned": self.scenario.run.replicates, "done": done, "failed": failed})
        m["failures"] = failures
        m["end_time"] = iso(end)
        session = m["sessions"][-1]
        session.update({"end_time": iso(end), "wall_time_s": round((end - start).total_seconds(), 3),
                        "status": status})
        m["wall_time_s"] = round(sum(s["wall_time_s"] or 0.0 for s in m["sessions"]), 3)
        m["files"] = folder_files(self.path, skip_dirs=(REPLICATES,))
        self.write_manifest()
        self.unlock()

    def write_failures(self, failures: list[dict[str, Any]]) -> None:
        path = self.path / FAILURES
        if failures:
            df = pd.DataFrame(failures, columns=FAILURE_COLUMNS).sort_values("replicate")
            atomic_write_text(path, df.to_csv(index=False, lineterminator="\n"))
        elif path.exists():
            path.unlink()  # a resumed run that now succeeded

    def remove_final_files(self) -> None:
        """Drop files of a previous session that will be rewritten (resume)."""
        for name in (TIMESERIES, SUMMARY, FAILURES):
            with contextlib.suppress(FileNotFoundError):
                (self.path / name).unlink()
