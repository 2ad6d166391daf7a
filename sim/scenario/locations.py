"""Where shipped files live (a leaf module: the loader, the specs and the posteriors import it)."""

from __future__ import annotations

import os
from pathlib import Path


def scenarios_dir() -> Path:
    """The folder of shipped scenarios: ``$GDCLOUD_SCENARIOS`` or ``<repo>/scenarios``."""
    env = os.environ.get("GDCLOUD_SCENARIOS")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "scenarios"
