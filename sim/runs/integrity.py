"""Integrity of a results folder: checksums, a writer's lock, stale temporary files, a sane manifest.

* Every replicate file's SHA-256 is recorded in the manifest when it is written
  (:func:`text_sha256`); on resume :func:`verified_replicates` keeps only the files whose bytes
  still match, so a truncated, edited or foreign file is run again instead of being trusted.
* :class:`FolderLock` is held by the process writing a folder (an OS lock on
  ``<folder>/.lock``, removed when the writer ends and released automatically if the process
  dies): a second process that tries to write (say a second ``--resume``) is refused with one
  line.
* :func:`remove_stale_tmp` deletes the ``.*.tmp`` files an interrupted atomic write left behind.
* :func:`check_manifest` refuses a manifest that is not what ``gdcloud`` writes (a list, missing
  keys) with one line instead of a traceback later on.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from sim.errors import ScenarioError

LOCK_FILE = ".lock"
"""Name of the lock file inside a results folder."""

MANIFEST_KEYS: dict[str, type | tuple[type, ...]] = {
    "status": str,
    "scenario": dict,
    "replicates": dict,
    "sessions": list,
}
"""Keys every run manifest has, with their JSON types."""


def text_sha256(text: str) -> str:
    """SHA-256 (hex) of text encoded as UTF-8 (the bytes the atomic writer puts on disk)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def file_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 (hex) of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verified_replicates(files: Mapping[int, Path], checksums: Mapping[str, str]) -> tuple[list[int], list[int]]:
    """Split replicate files into those whose bytes match the recorded checksum and the others.

    Args:
        files: Replicate index -> its file.
        checksums: ``manifest["replicate_sha256"]`` (replicate index as text -> hex digest).

    Returns:
        ``(good, bad)``, each sorted; a file without a recorded checksum is bad.
    """
    good, bad = [], []
    for rep, path in sorted(files.items()):
        want = checksums.get(str(rep))
        try:
            ok = want is not None and file_sha256(path) == want
        except OSError:
            ok = False
        (good if ok else bad).append(rep)
    return good, bad


def remove_stale_tmp(folders: Iterable[Path]) -> list[Path]:
    """Delete ``.*.tmp`` files (left by interrupted atomic writes) in ``folders``; returns them."""
    removed = []
    for folder in folders:
        for path in Path(folder).glob(".*.tmp"):
            with contextlib.suppress(OSError):
                path.unlink()
                removed.append(path)
    return removed


class FolderLock:
    """An exclusive lock on a results folder while this process writes it.

    Args:
        folder: The results folder.

    Raises (from :meth:`acquire`):
        ScenarioError: Another process holds the lock.
    """

    def __init__(self, folder: Path):
        self.path = Path(folder) / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> FolderLock:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: no advisory locks, no refusal
            return self
        for _ in range(5):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = ""
                with contextlib.suppress(OSError, ValueError):
                    holder = f" (process {int(os.read(fd, 32).decode().strip())})"
                os.close(fd)
                raise ScenarioError(str(self.path.parent), "(folder)",
                                    f"another process is writing this folder{holder}",
                                    "wait until it ends (or stop it) and resume then") from None
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:  # else the previous holder removed the file meanwhile: lock the new one
                os.ftruncate(fd, 0)
                os.write(fd, str(os.getpid()).encode())
                self._fd = fd
                return self
            os.close(fd)
        raise ScenarioError(str(self.path.parent), "(folder)", "could not lock the folder",
                            "try again")  # pragma: no cover - five lost races in a row

    def release(self) -> None:
        """Remove the lock file and release the lock (removing first: a process that opened the
        old file before then sees that it no longer is the lock file, and tries again)."""
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                self.path.unlink()
            with contextlib.suppress(OSError):
                os.close(fd)

    def __enter__(self) -> FolderLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __del__(self) -> None:
        self.release()


def check_manifest(data: Any, path: Path) -> dict[str, Any]:
    """``data`` if it looks like a run manifest written by gdcloud, else a one-line error.

    Raises:
        ScenarioError: Not a JSON object, or a required key missing or of the wrong type.
    """
    allowed = "a manifest.json written by gdcloud (do not edit it)"
    if not isinstance(data, dict):
        raise ScenarioError(str(path), "(top level)", f"the manifest holds a {type(data).__name__}, "
                            "not an object", allowed)
    for key, kind in MANIFEST_KEYS.items():
        if key not in data:
            raise ScenarioError(str(path), key, "missing", allowed)
        if not isinstance(data[key], kind):
            raise ScenarioError(str(path), key, f"is a {type(data[key]).__name__}", allowed)
    planned = data["replicates"].get("planned")
    if not isinstance(planned, int) or isinstance(planned, bool) or planned < 1:
        raise ScenarioError(str(path), "replicates.planned", f"got {planned!r:.40}", allowed)
    if not isinstance(data["scenario"].get("hash"), str):
        raise ScenarioError(str(path), "scenario.hash", "missing or not text", allowed)
    return data
