"""The small result of one run: monthly per-cell counts (:class:`RunOutput`) and their dates."""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field

import numpy as np

from sim.scenario.schema_types import month_number

METRICS: tuple[str, ...] = (
    "n_firms", "cloud_cumulative", "cloud_active", "transformed", "new_cloud", "new_transformed",
    "voucher_spend_cny", "waiting",
)
"""Per-cell monthly outputs: firms present, firms ever on the cloud (comparable with official
counts), firms on the cloud now (net of churn), transformed above-scale firms (cumulative), new
cloud adopters and transformations in the month, voucher money granted in the month (CNY), and
firms waiting for service capacity at month end."""


@dataclass
class RunOutput:
    """The small result of one run: monthly per-cell counts plus provincial series."""

    dates: list[str]
    cells: np.ndarray  # (n_months + 1, N_CELLS, len(METRICS)) float64
    replicate: int
    seed_entropy: int
    totals: dict[str, np.ndarray] = field(default_factory=dict)
    meta: dict = field(default_factory=dict)

    def total(self, metric: str) -> np.ndarray:
        return self.cells[:, :, METRICS.index(metric)].sum(axis=1)


def month_end_dates(start: str, n_months: int) -> list[str]:
    """ISO dates of the end of each month from ``start`` (index 0) for ``n_months`` more."""
    m0 = month_number(start)
    out = []
    for k in range(n_months + 1):
        y, mo = divmod(m0 + k, 12)
        out.append(f"{y:04d}-{mo + 1:02d}-{calendar.monthrange(y, mo + 1)[1]:02d}")
    return out
