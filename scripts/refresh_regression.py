"""Refresh the pinned baseline summary that ``tests/test_regression.py`` compares against.

Run this, and commit the file, only when a change of the model's results is intended (new
default rates, a changed rule); say in the commit message why the numbers moved::

    .venv/bin/python scripts/refresh_regression.py
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from test_regression import PINNED, regression_summary  # noqa: E402


def main() -> None:
    summary = regression_summary()
    PINNED.parent.mkdir(parents=True, exist_ok=True)
    tmp = PINNED.with_suffix(".tmp")
    summary.to_csv(tmp, index=False)
    tmp.replace(PINNED)
    print(f"wrote {PINNED.relative_to(ROOT)} ({len(summary)} outcomes)")


if __name__ == "__main__":
    main()
