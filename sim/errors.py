"""Exceptions shown to users: a bad scenario (one readable line) and failed model runs."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

_MAX_PART_CHARS = 1000
"""Longest part of an error line: a hostile value or path is cut, never echoed whole."""


def _one_line(text: str) -> str:
    text = str(text)
    if len(text) > 4 * _MAX_PART_CHARS:
        text = text[: 4 * _MAX_PART_CHARS]
    text = " ".join(text.split())
    return text if len(text) <= _MAX_PART_CHARS else text[: _MAX_PART_CHARS - 3] + "..."


class ScenarioError(Exception):
    """A scenario file, ``--set`` override or argument that cannot be used.

    ``str(error)`` is a single line::

        <file>: <key.path>: <what is wrong>; allowed: <what is allowed> (did you mean 'x'?)

    Attributes:
        file: The file the bad value came from, or ``--set key=value`` for an override.
        key_path: Dotted key path (list items as ``items[0]``), or a location such as
            ``line 3, column 7`` for YAML syntax errors.
        message: What is wrong.
        allowed: What would be accepted instead.
        suggestion: Closest allowed key for a misspelt key, or None.
        more: Number of further errors found in the same scenario.
    """

    def __init__(
        self,
        file: str,
        key_path: str,
        message: str,
        allowed: str,
        *,
        suggestion: str | None = None,
        more: int = 0,
    ) -> None:
        self.file = _one_line(file)
        self.key_path = _one_line(key_path) or "(top level)"
        self.message = _one_line(message)
        self.allowed = _one_line(allowed)
        self.suggestion = suggestion
        self.more = more
        super().__init__(str(self))

    @classmethod
    def unknown_key(
        cls, file: str, key_path: str, key: object, allowed_keys: Iterable[str], *, more: int = 0
    ) -> ScenarioError:
        """Error for a key that the schema does not know, with a did-you-mean suggestion.

        Args:
            file: Where the key was written.
            key_path: Dotted path of the unknown key itself.
            key: The unknown key.
            allowed_keys: The keys allowed at that level of the schema.
            more: Number of further errors.
        """
        allowed = list(allowed_keys)
        close = difflib.get_close_matches(str(key), allowed, n=1)
        return cls(
            file,
            key_path,
            f"unknown key {str(key)!r}",
            ", ".join(allowed),
            suggestion=close[0] if close else None,
            more=more,
        )

    def __str__(self) -> str:
        text = f"{self.file}: {self.key_path}: {self.message}; allowed: {self.allowed}"
        if self.suggestion:
            text += f" (did you mean {self.suggestion!r}?)"
        if self.more:
            text += f" (and {self.more} more error{'s' if self.more > 1 else ''})"
        return text


class RunsFailed(Exception):
    """Model runs of an analysis failed; the analysis stops (it needs every run of its design).

    ``str(error)`` is one line: how many runs failed and the first failure. The records are kept
    as data for the manifest.

    Attributes:
        failures: One record per failed run (scenario, replicate, seed_entropy, seed_spawn_key,
            error_type, message, traceback), in submission order.
        total: Runs in the batch.
    """

    def __init__(self, failures: list[dict], total: int) -> None:
        self.failures = failures
        self.total = total
        first = failures[0]
        super().__init__(
            f"{len(failures)} of {total} model run{'s' if total != 1 else ''} failed; first: scenario "
            f"{first['scenario']!r} replicate {first['replicate']}: {first['error_type']}: "
            f"{first['message']}"
        )


class AnalysisFailed(Exception):
    """An analysis stopped by an error after its results folder was created; the folder's
    manifest is closed as ``failed`` with the error and its traceback.

    ``str(error)`` is the one line the command line prints:
    ``<kind> failed: <ErrorType>: <message> (traceback in <folder>/manifest.json)``.

    Attributes:
        kind: The analysis (``calibrate``, ``sensitivity``, ...).
        manifest: The manifest file that holds the traceback.
        error: The exception that stopped it (e.g. :class:`RunsFailed`).
    """

    def __init__(self, kind: str, manifest: object, error: BaseException) -> None:
        self.kind = kind
        self.manifest = manifest
        self.error = error
        super().__init__(f"{kind} failed: {type(error).__name__}: {' '.join(str(error).split())} "
                         f"(traceback in {manifest})")
