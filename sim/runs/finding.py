"""Finding saved results again: the results root, the latest run of a scenario, and reading any
results folder (a run, a comparison or a sweep) back.

The results root is, in order: the ``out_dir`` / ``--out`` given, the environment variable
``GDCLOUD_RESULTS_DIR``, or ``results`` in the current folder (:func:`results_root`); the CLI,
``sim.run``, ``sim.compare``, the sweep and the notebooks all use it.

Folders are ``<root>/<scenario or label>/<UTC timestamp>-<hash>/`` for runs,
``<root>/compare/...`` for comparisons and ``<root>/sweep/...`` for sweeps; the timestamp makes
the newest folder the last in name order, which :func:`latest` relies on.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from sim.errors import ScenarioError
from sim.runs.results import ScenarioResult, load_results
from sim.runs.root import results_root
from sim.runs.rundir import MANIFEST

KINDS: tuple[str, ...] = ("run", "compare", "sweep")
"""Kinds of results folders."""


def raw_manifest(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """The JSON of any results folder's manifest (run, comparison or sweep), unchecked.

    A run folder's manifest is checked in full by :func:`sim.runs.rundir.read_manifest` when
    the run is loaded; this only reads what is needed to find and classify folders.

    Raises:
        ScenarioError: No readable ``manifest.json`` in ``folder``.
    """
    path = Path(folder) / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ScenarioError(str(folder), "(folder)", f"not a results folder ({MANIFEST}: {exc})",
                            "a folder written by gdcloud run, compare or sweep") from None
    if not isinstance(data, dict):
        raise ScenarioError(str(path), "(file)", "not a JSON object", "a manifest written by gdcloud")
    return data


def folder_kind(folder: str | os.PathLike[str]) -> str:
    """``"run"``, ``"compare"`` or ``"sweep"`` from a results folder's manifest.

    Raises:
        ScenarioError: ``folder`` is not a results folder.
    """
    manifest = raw_manifest(folder)
    kind = manifest.get("kind", "run")
    return kind if kind in KINDS else "run"


def _candidates(root: Path, name: str) -> list[Path]:
    parent = root / name
    if not parent.is_dir():
        return []
    return sorted((p for p in parent.iterdir() if p.is_dir() and (p / "manifest.json").is_file()),
                  key=lambda p: p.name)


def latest(name: str, *, root: str | os.PathLike[str] | None = None,
           complete_only: bool = True) -> Path:
    """The newest results folder of a scenario (or label, or ``"compare"`` / ``"sweep"``).

    Args:
        name: Scenario name or ``--label`` of the run, or ``compare`` / ``sweep``.
        root: The results root (default :func:`results_root`).
        complete_only: Skip runs that are still running, interrupted or failed.

    Returns:
        The folder path.

    Raises:
        ScenarioError: No such folder under the root (the message lists the names there).

    Example:
        >>> folder = sim.latest("baseline")  # doctest: +SKIP
        >>> res = sim.load_results(folder)  # doctest: +SKIP
    """
    base = results_root(root)
    for folder in reversed(_candidates(base, name)):
        if not complete_only:
            return folder
        try:
            status = raw_manifest(folder).get("status", "complete")
        except ScenarioError:
            continue
        if status == "complete":
            return folder
    names = sorted(p.name for p in base.iterdir() if p.is_dir()) if base.is_dir() else []
    allowed = ", ".join(names) if names else f"none yet (run `gdcloud run {name}`)"
    what = "complete results" if complete_only else "results"
    raise ScenarioError(str(base), name, f"no {what} for {name!r} under {base}",
                        f"a scenario or label with results: {allowed}")


def list_results(*, root: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """Every results folder under the root: name, kind, status, created, folder (newest last)."""
    base = results_root(root)
    rows = []
    if base.is_dir():
        for parent in sorted(p for p in base.iterdir() if p.is_dir()):
            for folder in _candidates(base, parent.name):
                try:
                    m = raw_manifest(folder)
                except ScenarioError:
                    continue
                rows.append({"name": parent.name, "kind": m.get("kind", "run"),
                             "status": m.get("status", "complete"),
                             "created": m.get("created") or m.get("start_time", ""),
                             "folder": str(folder)})
    return pd.DataFrame(rows, columns=["name", "kind", "status", "created", "folder"])


# --------------------------------------------------------------------------- reading back


def load_compare(folder: str | os.PathLike[str]):
    """Read a comparison folder back as a :class:`~sim.runs.runner.CompareResult`.

    The scenario folders named in its manifest are read with :func:`load_results`; the paired
    differences come from ``differences.csv``.

    Raises:
        ScenarioError: ``folder`` is not a comparison folder, or a scenario folder is missing.
    """
    from sim.runs.compare import CompareResult

    folder = Path(folder)
    manifest = raw_manifest(folder)
    if manifest.get("kind") != "compare":
        raise ScenarioError(str(folder), "(folder)", "not a comparison folder",
                            "a folder written by `gdcloud compare` (results/compare/...)")
    results: dict[str, ScenarioResult] = {}
    for entry in manifest.get("scenarios", []):
        rel = entry.get("folder")
        if rel is None:
            raise ScenarioError(str(folder), entry.get("label", "?"), "the scenario was not saved",
                                "a comparison run with saving on")
        results[entry["label"]] = load_results((folder / rel).resolve())
    diff_path = folder / "differences.csv"
    diffs = pd.read_csv(diff_path) if diff_path.is_file() else None
    return CompareResult(results, diffs, manifest.get("reference", next(iter(results))),
                         folder=folder, manifest=manifest)


@dataclass
class SavedSweep:
    """A sweep folder read back (:func:`load_sweep`).

    Attributes:
        folder: The sweep folder.
        manifest: Its manifest.
        points: ``points.csv`` (point number and parameter values).
        outcomes: ``outcomes.csv`` (one row per finished point x replicate).
        summary: ``point_summary.csv`` (one row per point).
        failures: ``failures.csv`` (empty if none failed).
    """

    folder: Path
    manifest: dict[str, Any]
    points: pd.DataFrame
    outcomes: pd.DataFrame
    summary: pd.DataFrame
    failures: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def ok(self) -> bool:
        return self.manifest.get("status") == "complete" and self.failures.empty

    def __repr__(self) -> str:
        return (f"SavedSweep(points={len(self.points)}, runs={len(self.outcomes)}, "
                f"folder='{self.folder}')")


def load_sweep(folder: str | os.PathLike[str]) -> SavedSweep:
    """Read a sweep folder (``gdcloud sweep``) back.

    Raises:
        ScenarioError: ``folder`` is not a sweep folder.
    """
    folder = Path(folder)
    manifest = raw_manifest(folder)
    if manifest.get("kind") != "sweep":
        raise ScenarioError(str(folder), "(folder)", "not a sweep folder",
                            "a folder written by `gdcloud sweep` (results/sweep/...)")

    def read(name: str) -> pd.DataFrame:
        p = folder / name
        return pd.read_csv(p) if p.is_file() else pd.DataFrame()

    return SavedSweep(folder, manifest, read("points.csv"), read("outcomes.csv"),
                      read("point_summary.csv"), read("failures.csv"))


def load_any(folder: str | os.PathLike[str]):
    """Read any results folder: a run (:class:`ScenarioResult`), a comparison
    (:class:`~sim.runs.runner.CompareResult`) or a sweep (:class:`SavedSweep`)."""
    kind = folder_kind(folder)
    if kind == "compare":
        return load_compare(folder)
    if kind == "sweep":
        return load_sweep(folder)
    return load_results(folder)
