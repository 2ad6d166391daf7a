"""The results root: the one folder setting under which results are written and searched.

In order: the ``out_dir`` / ``--out`` given, the environment variable ``GDCLOUD_RESULTS_DIR``, or
``results`` in the current folder. Its own module so that the runner, the comparison, the sweep
and :mod:`sim.runs.finding` (which reads every kind of folder back) share it without importing
each other.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "GDCLOUD_RESULTS_DIR"
"""Environment variable naming the results root."""

DEFAULT_ROOT = Path("results")
"""The results root when neither ``--out`` nor :data:`ENV_VAR` is given."""


def results_root(out: str | os.PathLike[str] | None = None) -> Path:
    """The folder under which results are written and searched.

    Args:
        out: An explicit folder (``--out``, ``out_dir=``); wins over everything else.

    Returns:
        ``out``, else ``$GDCLOUD_RESULTS_DIR`` if set and not empty, else ``results``.
    """
    if out is not None:
        return Path(out)
    env = os.environ.get(ENV_VAR, "").strip()
    return Path(env).expanduser() if env else DEFAULT_ROOT
