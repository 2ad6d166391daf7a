"""``scripts/mutation_check.py``: deliberate errors are caught by meaning-based tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import mutation_check  # noqa: E402


def test_every_mutation_still_applies_to_the_code() -> None:
    """Each mutated line occurs exactly once in the current code (else the check is stale)."""
    for m in mutation_check.MUTATIONS:
        assert (ROOT / m.file).read_text(encoding="utf-8").count(m.old) == 1, m.name


@pytest.mark.slow
def test_every_mutation_is_caught_by_a_meaning_based_test() -> None:
    """The four mutations of issue 11 (transformation hazard x12; cluster-city transformation
    share over all firms; pilot cloud rate x12; the old voucher-refusal rule) and a churn timing
    error each fail at least one test of tests/test_mechanisms.py or test_scale_invariance.py."""
    caught = mutation_check.run()
    assert all(caught.values()), {k: v for k, v in caught.items() if not v}
