"""Draw the Chinese copies of the record's committed figures (docs/record/<folder>/zh/*.png).

The English figures in ``docs/record/evaluate/`` and ``docs/record/backtest/`` are written by
``gdcloud evaluate`` and ``gdcloud backtest`` (docs/record/README.md). Those commands also save the
tables the figures are drawn from (``predictive_fan.csv``, ``fan_<origin>.csv``, ``instruments.csv``
with ``goals.csv``, and ``settings.json``); this script draws the same figures again in Chinese
from those saved tables (:func:`sim.plots.record.redraw`, no model run, a few seconds).
``tests/test_record_figures_zh.py`` runs it and requires the committed copies to be its output.
A figure whose table a folder lacks (saved before the tables were kept) has no Chinese copy.

Usage::

    python scripts/record_figures_zh.py            # list what would be drawn
    python scripts/record_figures_zh.py --write    # draw docs/record/<folder>/zh/*.png
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECORD = ROOT / "docs" / "record"
FOLDERS = ("evaluate", "backtest")
"""The record folders whose figures are committed."""


def draw(out_root: Path, record: Path = RECORD) -> list[Path]:
    """Draw the Chinese copies of every committed record folder under ``out_root/<folder>/zh``."""
    from sim.plots.record import redraw

    written: list[Path] = []
    for name in FOLDERS:
        folder = record / name
        if (folder / "settings.json").is_file():
            written += redraw(folder, out_root / name / "zh", "zh")
    return written


def main(argv: list[str]) -> int:
    if "--write" in argv:
        for path in draw(RECORD):
            print(path.relative_to(ROOT))
        return 0
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        for path in draw(Path(tmp)):
            print(Path(path).relative_to(tmp))
    print("(dry run: --write draws them into docs/record/<folder>/zh/)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
