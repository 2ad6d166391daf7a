"""The one results-folder and manifest writer: every run, comparison, sweep and analysis folder.

Every tool writes a new folder ``<out>/<kind or scenario>/<UTC YYYYmmddTHHMMSSZ>-<short hash>/``
(:func:`new_run_folder`; never an existing one) holding ``manifest.json`` in one layout
(:func:`new_manifest`): first the keys common to every folder::

    format       1
    kind         run | compare | sweep | calibrate | sensitivity | what_it_takes | attribution | discover
    status       running -> complete | failed | interrupted
    command      the command line (or "(python API)")
    executor     where the model runs went (name, workers, address)
    versions     this package, Python and the main dependencies
    start_time, end_time, wall_time_s
    files        the files of the folder (relative paths)

then the keys of the kind (a run's seeds and replicates, a sweep's design, an analysis's
``inputs``, ``result`` and ``error``). Files are written atomically (:mod:`sim.fileio`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import platform
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from sim import i18n
from sim.errors import RunsFailed, ScenarioError
from sim.fileio import atomic_write_text
from sim.runs import integrity
from sim.scenario import limits

MANIFEST = "manifest.json"
TIMESTAMP_FORMAT = "%Y%m%dT%H%M%SZ"
"""UTC timestamp of a results folder name."""

DEPENDENCIES: tuple[str, ...] = ("numpy", "scipy", "mesa", "pandas", "matplotlib", "pydantic")
"""Packages whose versions are recorded in every manifest."""

COMMON_KEYS: tuple[str, ...] = ("format", "kind", "status", "command", "executor", "versions",
                                "start_time", "end_time", "wall_time_s", "files")
"""The keys every manifest starts with."""


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def iso(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def new_run_folder(root: Path, name: str, short_hash: str, now: dt.datetime | None = None) -> Path:
    """Create ``root/<name>/<timestamp>-<short hash>/`` (adding ``-2``, ``-3``... if taken)."""
    problem = limits.name_problem(name)
    if problem:  # names are validated by the schema; this guards every other caller
        raise ScenarioError(str(root), "name", f"{name!r:.80} is {problem}",
                            "a short name such as baseline or vouchers_doubled")
    stamp = (now or utc_now()).strftime(TIMESTAMP_FORMAT)
    parent = Path(root) / name
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # read-only file system, no permission, a file in the way
        raise ScenarioError(str(root), "(folder)", f"cannot create {parent}: {exc.strerror or exc}",
                            "a writable results folder (--out DIR)") from exc
    base = f"{stamp}-{short_hash}"
    for i in range(1, 10_000):
        folder = parent / (base if i == 1 else f"{base}-{i}")
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        return folder
    raise RuntimeError(f"cannot create a new results folder under {parent}")  # pragma: no cover


def versions() -> dict[str, str]:
    """Versions of this package, Python and the main dependencies."""
    out = {"gdcloud-sim": _version("gdcloud-sim"), "python": platform.python_version()}
    for name in DEPENDENCIES:
        out[name] = _version(name)
    return out


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def default_command() -> str:
    """The command recorded when the caller gives none: ``(python API)`` plus ``sys.argv``."""
    argv = [Path(sys.argv[0]).name, *sys.argv[1:]] if sys.argv and sys.argv[0] else []
    if not argv or "ipykernel" in " ".join(argv) or argv[0] in ("", "-c"):
        return "(python API)"
    return "(python API) " + " ".join(argv)


def jsonable(value: Any) -> Any:
    """``value`` with NumPy scalars, paths and non-finite floats made JSON-safe (NaN -> None)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item") and callable(value.item):  # NumPy scalar
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def json_text(data: Any, indent: int = 2) -> str:
    """JSON with nested objects indented but lists of scalars and small objects on one line."""

    def flat(x: Any) -> bool:
        if isinstance(x, list):
            return all(not isinstance(v, dict | list) for v in x)
        return not isinstance(x, dict) or not x

    def enc(x: Any, level: int) -> str:
        pad, inner = " " * (indent * level), " " * (indent * (level + 1))
        if isinstance(x, dict) and x:
            one = json.dumps(x, ensure_ascii=False, default=str)
            if all(flat(v) for v in x.values()) and len(one) <= 100 and level > 0:
                return one
            items = [f"{inner}{json.dumps(str(k), ensure_ascii=False)}: {enc(v, level + 1)}" for k, v in x.items()]
            return "{\n" + ",\n".join(items) + "\n" + pad + "}"
        if isinstance(x, list) and x:
            if all(flat(v) for v in x):
                return json.dumps(x, ensure_ascii=False, default=str)
            return "[\n" + ",\n".join(inner + enc(v, level + 1) for v in x) + "\n" + pad + "]"
        return json.dumps(x, ensure_ascii=False, default=str)

    return enc(data, 0) + "\n"


def atomic_write_json(path: Path, data: Any) -> Path:
    """Write JSON atomically."""
    return atomic_write_text(path, json_text(data))


def new_manifest(kind: str, *, command: str | None, executor: dict[str, Any] | None,
                 start: dt.datetime | None = None, **fields: Any) -> dict[str, Any]:
    """A manifest in the one layout: :data:`COMMON_KEYS` first, then ``fields`` of the kind."""
    head = {"format": 1, "kind": kind, "status": "running",
            "command": command or default_command(), "executor": executor, "versions": versions(),
            "start_time": iso(start) if start is not None else None, "end_time": None,
            "wall_time_s": None, "files": []}
    return {**head, **fields}


def folder_files(folder: Path, *, skip_dirs: tuple[str, ...] = ()) -> list[str]:
    """The files of a results folder (relative paths, sorted), without the manifest and temporary
    files (and without those under ``skip_dirs``)."""
    return sorted(str(p.relative_to(folder)) for p in Path(folder).rglob("*")
                  if p.is_file() and p.name != MANIFEST and not p.name.startswith(".")
                  and p.parent.name not in skip_dirs)


def finish_manifest(folder: Path, manifest: dict[str, Any], status: str, *, wall_time_s: float,
                    skip_dirs: tuple[str, ...] = (), **fields: Any) -> dict[str, Any]:
    """Close a manifest: status, end time, wall time, the folder's files and ``fields``; written."""
    manifest.update(status=status, end_time=iso(utc_now()), wall_time_s=round(wall_time_s, 3),
                    files=folder_files(folder, skip_dirs=skip_dirs), **jsonable(fields))
    atomic_write_json(Path(folder) / MANIFEST, manifest)
    return manifest


def read_manifest(folder: Path) -> dict[str, Any]:
    """The manifest of a results folder.

    Raises:
        ScenarioError: ``folder`` is not a results folder or its manifest is unreadable.
    """
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise ScenarioError(str(folder), "(folder)", f"not a results folder (no {MANIFEST})",
                            "a folder written by `gdcloud run`, e.g. results/baseline/20250101T000000Z-0123456789")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ScenarioError(str(path), "(file)", f"unreadable manifest: {exc}", "a JSON manifest written by gdcloud") from exc
    return integrity.check_manifest(data, path)


# --------------------------------------------------------------------------- analysis folders


@dataclass
class AnalysisRun:
    """What an analysis run in its own results folder gives back.

    Attributes:
        result: The analysis result (None if it failed or was interrupted).
        folder: The results folder (None if nothing was saved).
        manifest: Its manifest (``status`` complete, failed or interrupted).
        error: The exception that stopped the analysis (None if complete).
        lines: The analysis's summary lines (:meth:`summary_lines` adds the folder and time).
        executor_text: Where the model runs went (:func:`sim.runs.executors.describe_text`).
        lang: Language of the lines that :meth:`summary_lines` adds (``"en"`` or ``"zh"``).
    """

    result: Any
    folder: Path | None
    manifest: dict[str, Any] = field(default_factory=dict)
    error: BaseException | None = None
    lines: list[str] = field(default_factory=list)
    executor_text: str = ""
    lang: str = "en"

    @property
    def ok(self) -> bool:
        return self.manifest.get("status") == "complete"

    def summary_lines(self) -> list[str]:
        """What the command line prints: the analysis's own lines, the first with the wall time
        and where the runs went, then the results folder (when one was written)."""
        lines = list(self.lines)
        if self.folder is not None and lines:
            lines[0] += i18n.text("line.wall_where", self.lang, s=f"{self.manifest['wall_time_s']:.1f}",
                                  where=self.executor_text)
            lines.insert(1, i18n.text("line.results", self.lang, folder=self.folder))
        return lines


class AnalysisInterrupted(KeyboardInterrupt):
    """Ctrl-C during an analysis; what it wrote is in ``folder`` (status ``interrupted``)."""

    def __init__(self, folder: Path):
        super().__init__("interrupted")
        self.folder = folder


def run_analysis(root: str | Path, kind: str, *, inputs: dict[str, Any], resolved: tuple[str, str],
                 call: Callable[[Path], Any], summarize: Callable[[Any], dict[str, Any]],
                 executor: dict[str, Any] | None, command: str | None = None) -> AnalysisRun:
    """Run an analysis in a new results folder ``<root>/<kind>/<timestamp>-<hash of inputs>/``.

    The folder gets the resolved spec or scenario and a ``running`` manifest first; then
    ``call(folder)`` writes the analysis files; the manifest is closed as ``complete`` (with
    ``summarize(result)`` under ``result``), ``failed`` (with the error, its traceback and, for
    failed model runs, their records) or ``interrupted``.

    Args:
        root: Where the ``<kind>`` folder is created.
        kind: The analysis (``calibrate``, ``sensitivity``, ``what_it_takes``...).
        inputs: The checked inputs (recorded and hashed for the folder name).
        resolved: ``(file name, text)`` of the resolved spec or scenario.
        call: Runs the analysis into the folder and returns its result.
        summarize: A JSON-able summary of the result for the manifest.
        executor: :meth:`~sim.runs.executors.Executor.describe` of where the runs go.
        command: The command line (default: :func:`default_command`).

    Returns:
        An :class:`AnalysisRun`; a failure is returned as data (``error`` set, ``ok`` False).

    Raises:
        AnalysisInterrupted: On Ctrl-C, after closing the manifest.
    """
    data = jsonable(inputs)
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    folder = new_run_folder(Path(root), kind, hashlib.sha256(text.encode("utf-8")).hexdigest()[:10])
    atomic_write_text(folder / resolved[0], resolved[1])
    manifest = new_manifest(kind, command=command, executor=executor, start=utc_now(), analysis=kind,
                            inputs=data, result=None, error=None)
    atomic_write_json(folder / MANIFEST, manifest)
    t0 = time.perf_counter()
    try:
        result = call(folder)
    except KeyboardInterrupt as exc:
        finish_manifest(folder, manifest, "interrupted", wall_time_s=time.perf_counter() - t0)
        raise AnalysisInterrupted(folder) from exc
    except Exception as exc:  # noqa: BLE001 - a failed analysis is recorded as data
        error: dict[str, Any] = {"type": type(exc).__name__, "message": str(exc),
                                 "traceback": traceback.format_exc()}
        if isinstance(exc, RunsFailed):
            error["failures"] = exc.failures
        finish_manifest(folder, manifest, "failed", wall_time_s=time.perf_counter() - t0, error=error)
        return AnalysisRun(None, folder, manifest, exc)
    finish_manifest(folder, manifest, "complete", wall_time_s=time.perf_counter() - t0,
                    result=summarize(result))
    return AnalysisRun(result, folder, manifest)
