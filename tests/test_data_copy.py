"""The package's copy of the public data (sim/data) equals the project's shared/data."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
COPIED = sorted(p.name for p in (REPO / "sim" / "data").glob("*.csv") if p.name != "cluster_assumptions.csv")


def test_every_shared_table_is_shipped() -> None:
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} not present (the project's shared data sit beside the repository)")
    assert sorted(p.name for p in SHARED.glob("*.csv")) == COPIED


@pytest.mark.parametrize("name", COPIED + ["validation_reference.md"])
def test_copy_is_identical(name: str) -> None:
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} not present (the project's shared data sit beside the repository)")
    assert (REPO / "sim" / "data" / name).read_bytes() == (SHARED / name).read_bytes()
