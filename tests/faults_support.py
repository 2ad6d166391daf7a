"""Helpers shared by the fault-injection tests (tests/test_faults*.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.cli.main import main

REPO = Path(__file__).resolve().parents[1]
SMALL = ["population.total_firms=5000", "time.end=2021-09"]
"""--set overrides of a run that takes well under a second."""


def write_file(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    """Run the command line in-process: (exit code, stderr)."""
    code = main(list(argv))
    return code, capsys.readouterr().err


def validate_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    return cli(capsys, "validate", *argv)


def one_error_line(err: str) -> str:
    """The single ``error:`` line of ``err`` (the test fails if there is more, or a traceback)."""
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and "Traceback" not in err
    return lines[0]
