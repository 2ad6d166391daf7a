"""Tidy time series from a real small model run."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim import datasets
from sim.core.model import CloudAdoptionModel
from sim.core.outputs import (
    ALL,
    METRIC_COLUMNS,
    TIMESERIES_COLUMNS,
    concat_replicates,
    level_mask,
    select,
    tidy_timeseries,
)
from sim.core.policies import N_CELLS
from sim.core.run_output import METRICS, RunOutput
from sim.scenario import Scenario


@pytest.fixture(scope="module")
def out() -> RunOutput:
    cfg = Scenario.model_validate({"population": {"total_firms": 20_000}, "time": {"end": "2023-06"}})
    return CloudAdoptionModel(cfg, replicate=3).run()


@pytest.fixture(scope="module")
def ts(out: RunOutput) -> pd.DataFrame:
    return tidy_timeseries(out)


def test_columns_and_dtypes(ts: pd.DataFrame) -> None:
    assert list(ts.columns) == TIMESERIES_COLUMNS
    assert METRIC_COLUMNS == list(METRICS[:6]) + ["voucher_spend_cny", "waiting"]
    for c in ("replicate", "n_firms", "cloud_cumulative", "cloud_active", "transformed",
              "new_cloud", "new_transformed", "waiting"):
        assert ts[c].dtype == np.int64, c
    assert ts["voucher_spend_cny"].dtype == np.float64
    assert (ts["replicate"] == 3).all()


def test_row_count_and_order(out: RunOutput, ts: pd.DataFrame) -> None:
    n_t = len(out.dates)
    n_groups = 1 + len(datasets.cluster_ids()) + len(datasets.city_names()) + len(datasets.SIZE_CLASSES)
    assert len(ts) == n_groups * n_t
    # each group is a contiguous block of months in time order
    assert ts["date"].iloc[:n_t].tolist() == out.dates
    assert ts["cluster"].iloc[n_t] == datasets.cluster_ids()[0]
    assert not ts.duplicated(["date", "cluster", "city", "size_class"]).any()
    # deterministic
    pd.testing.assert_frame_equal(ts, tidy_timeseries(out))


def test_first_date_is_initial_state(out: RunOutput, ts: pd.DataFrame) -> None:
    prov = select(ts, "province")
    first = prov.iloc[0]
    assert first["date"] == out.dates[0] == "2021-06-30"
    assert first["cloud_cumulative"] == round(out.total("cloud_cumulative")[0])
    assert first["n_firms"] == out.meta["n_initial"]
    # flows are zero in the initial state
    assert first["new_cloud"] == 0 and first["new_transformed"] == 0
    assert first["voucher_spend_cny"] == 0.0
    # the provincial series is the model's total
    np.testing.assert_array_equal(prov["cloud_cumulative"].to_numpy(),
                                  np.rint(out.total("cloud_cumulative")).astype(np.int64))


@pytest.mark.parametrize("level", ["cluster", "city", "size_class"])
def test_marginals_sum_to_totals(ts: pd.DataFrame, level: str) -> None:
    prov = select(ts, "province").set_index("date")[METRIC_COLUMNS]
    marg = select(ts, level).groupby("date", sort=True)[METRIC_COLUMNS].sum()
    pd.testing.assert_frame_equal(marg.sort_index(), prov.sort_index(), check_exact=False, rtol=1e-12)
    expected = {"cluster": 20, "city": 21, "size_class": 4}[level]
    assert select(ts, level)[level].nunique() == expected


def test_cells_option(out: RunOutput, ts: pd.DataFrame) -> None:
    full = tidy_timeseries(out, cells=True)
    pd.testing.assert_frame_equal(full.iloc[: len(ts)], ts)
    cells = select(full, "cell")
    assert len(full) == len(ts) + len(cells)
    n_nonempty = int((out.cells[:, :, 0].max(axis=0) > 0).sum())
    assert cells[["cluster", "city", "size_class"]].drop_duplicates().shape[0] == n_nonempty
    prov = select(ts, "province").set_index("date")["cloud_cumulative"]
    assert (cells.groupby("date")["cloud_cumulative"].sum() == prov).all()
    assert not (cells[["cluster", "city", "size_class"]] == ALL).any().any()


def test_level_masks_partition_rows(out: RunOutput) -> None:
    full = tidy_timeseries(out, cells=True)
    total = sum(int(level_mask(full, lv).sum()) for lv in ("province", "cluster", "city", "size_class", "cell"))
    assert total == len(full)
    with pytest.raises(ValueError, match="unknown level"):
        level_mask(full, "region")  # type: ignore[arg-type]


def test_bad_shape_rejected(out: RunOutput) -> None:
    bad = RunOutput(dates=out.dates, cells=np.zeros((len(out.dates), N_CELLS - 1, len(METRICS))),
                    replicate=0, seed_entropy=0)
    with pytest.raises(ValueError, match="shape"):
        tidy_timeseries(bad)


def test_concat_replicates_orders_and_checks(ts: pd.DataFrame) -> None:
    other = ts.assign(replicate=1)
    both = concat_replicates([ts, other])
    assert both["replicate"].tolist() == [1] * len(ts) + [3] * len(ts)
    assert both.index.tolist() == list(range(2 * len(ts)))
    pd.testing.assert_frame_equal(both.iloc[len(ts):].reset_index(drop=True), ts)
    with pytest.raises(ValueError, match="more than one frame"):
        concat_replicates([ts, ts])
    with pytest.raises(ValueError, match="at least one"):
        concat_replicates([])
