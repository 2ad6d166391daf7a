"""Regression pin: the baseline summary must not move unless a change says so.

The pinned table is the baseline scenario at 1:20 scale (100,000 firms, 3 replicates, the full
2021-07..2025-12 horizon). Only ``scripts/refresh_regression.py`` rewrites it; a test failure
here means the model's results changed, which must be intended and explained.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

import sim

PINNED = Path(__file__).resolve().parent / "data" / "baseline_regression_summary.csv"
OVERRIDES = ["population.total_firms=100000"]
REPLICATES = 3


def regression_summary() -> pd.DataFrame:
    res = sim.run("baseline", replicates=REPLICATES, overrides=OVERRIDES, save=False, figures=False)
    return res.summary.reset_index(drop=True)


def test_baseline_summary_matches_the_pinned_file() -> None:
    assert PINNED.exists(), "run scripts/refresh_regression.py to create the pinned summary"
    now = regression_summary()
    pinned = pd.read_csv(PINNED)
    # Round-trip through CSV so both sides have the same types.
    now = pd.read_csv(pd.io.common.StringIO(now.to_csv(index=False)))
    assert list(now.columns) == list(pinned.columns)
    assert now["outcome"].tolist() == pinned["outcome"].tolist()
    for col in now.columns:
        a, b = now[col], pinned[col]
        if pd.api.types.is_numeric_dtype(a) and pd.api.types.is_numeric_dtype(b):
            assert np.allclose(a.to_numpy(float), b.to_numpy(float), rtol=1e-9, atol=0, equal_nan=True), col
        else:
            assert a.fillna("").astype(str).tolist() == b.fillna("").astype(str).tolist(), col


def test_pinned_summary_is_plausible() -> None:
    """The pinned numbers themselves: the 1:20 baseline starts at the reported state and ends
    between the reported end-2021 level and the whole population (a guard against pinning a
    broken run)."""
    pinned = pd.read_csv(PINNED).set_index("outcome")
    cloud = float(pinned.loc["cloud_firms_2025", "median"])
    transformed = float(pinned.loc["transformed_firms_2025", "median"])
    assert 625_000 / 20 < cloud < 2_752_096 / 20
    assert 21_000 / 20 < transformed < 80_000 / 20
