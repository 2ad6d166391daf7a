"""The per-firm columns of the population drawn a block of firms at a time: city, readiness,
revenue, birth and exit months (:func:`sim.core.population.build_population` draws the firms'
classes, clusters, parks and links and calls these).

Split from :mod:`sim.core.population` so that the block-wise drawing (what keeps the set-up's
memory linear in the firms) has one place; the draws, their order and their values are those of
one draw of all firms (``tests/test_population_build.py`` builds both ways and compares bytes).
"""

from __future__ import annotations

import numpy as np

from sim.core import column_kernel, kernel, random_draws
from sim.core.links import IND_SME, SERVICE
from sim.scenario.schema_population import PopulationSpec

BLOCK_FIRMS = 1 << 16
"""Firms whose columns are drawn at a time: their float64 temporaries (512 KB) stay in the
cache, instead of full-size columns (55 MB each at 5,000,000 firms) that the process must be
given memory for (new memory costs ~1.5 s of system time per GiB on the developers' machine).
Every draw is elementwise and the streams are read in the same order, so the blocks give the
same numbers as one draw of all firms (``tests/test_population_build.py``)."""


def blocks(n: int) -> list[tuple[int, int]]:
    """``(lo, hi)`` of the blocks of :data:`BLOCK_FIRMS` firms covering ``0..n-1``, in order."""
    return [(lo, min(lo + BLOCK_FIRMS, n)) for lo in range(0, n, BLOCK_FIRMS)]


def indices(mask: np.ndarray) -> np.ndarray:
    """``np.flatnonzero(mask)`` as int32 (``mask.size < 2**31``), found a block at a time: no
    intp array of the firms in between (8 bytes per firm)."""
    out = np.empty(np.count_nonzero(mask), dtype=np.int32)
    at = 0
    for lo, hi in blocks(mask.size):
        found = np.flatnonzero(mask[lo:hi])
        np.add(found, lo, out=out[at:at + found.size], casting="unsafe")
        at += found.size
    return out


def counts(ids: np.ndarray, size: int) -> np.ndarray:
    """``np.bincount(ids, minlength=size)`` (int64), a block at a time: bincount widens its input
    to intp first (55 MB for an int32 column of 5,000,000 firms)."""
    out = np.zeros(size, dtype=np.int64)
    for lo, hi in blocks(ids.size):
        out += np.bincount(ids[lo:hi], minlength=size)
    return out


def draw_rows(table: np.ndarray, row_of, u_of, n: int) -> np.ndarray:
    """Column (int8) drawn for each of ``n`` items from its row of weights, by inverting the
    row's distribution function at a uniform (vectorized: row r's cumulative weights are shifted
    by r, so the rows form one increasing sequence and one searchsorted serves all). Drawn a
    block at a time: ``row_of(lo, hi)`` and ``u_of(hi - lo)`` give the rows and uniforms of items
    ``lo..hi-1``."""
    cdf = np.cumsum(table, axis=1)
    cdf /= cdf[:, -1:]
    shifted = (cdf + np.arange(table.shape[0])[:, None]).ravel()
    n_cols = table.shape[1]
    compiled = kernel.kernel_name() == "numba" and np.all(np.isfinite(shifted)) and np.all(np.diff(shifted) >= 0)
    out = np.empty(n, dtype=np.int8)
    guide = column_kernel.row_guide(shifted, n_cols) if compiled else None
    for lo, hi in blocks(n):
        row, u = row_of(lo, hi), u_of(hi - lo)
        if compiled:
            column_kernel.draw_rows(shifted, n_cols, row, u, out[lo:hi], guide)
        else:
            pick = np.searchsorted(shifted, row + u, side="right") - row * n_cols
            out[lo:hi] = np.minimum(pick, n_cols - 1)
    return out


def readiness(spec: PopulationSpec, rng_ready: np.random.Generator, size_class: np.ndarray,
              cluster: np.ndarray, cluster_ready: np.ndarray) -> np.ndarray:
    """Digital-readiness multiplier of every firm (float32), one standard normal per firm."""
    # Readiness: lognormal heterogeneity (mean 1) x size-class and cluster multipliers (ASSUMPTION:
    # larger and more digital firms are more ready; Eurostat cloud use by size, validation_reference).
    sigma = spec.readiness_sigma
    shift = 0.5 * sigma * sigma
    size_mult = np.array([spec.readiness_by_size.lead, spec.readiness_by_size.above_scale,
                          spec.readiness_by_size.industrial_sme, spec.readiness_by_size.service_sme])
    out = np.empty(size_class.size, dtype=np.float32)
    compiled = kernel.kernel_name() == "numba"
    for lo, hi in blocks(size_class.size):
        z = random_draws.standard_normal(rng_ready, hi - lo)  # rng_ready.standard_normal(hi - lo)
        if compiled:  # the same float64 operations, in place, and the products compiled
            np.multiply(z, sigma, out=z)
            np.subtract(z, shift, out=z)
            column_kernel.scale_by(np.exp(z, out=z), size_mult, size_class[lo:hi], cluster_ready, cluster[lo:hi],
                                  out[lo:hi])
        else:
            out[lo:hi] = np.exp(sigma * z - shift) * size_mult[size_class[lo:hi]] * cluster_ready[cluster[lo:hi]]
    return out


def revenue(spec: PopulationSpec, rng_revenue: np.random.Generator, size_class: np.ndarray,
            above: np.ndarray) -> np.ndarray:
    """Annual revenue of every firm, CNY (float32): one standard normal per firm, then one
    Pareto draw per above-scale firm (``above``)."""
    # Revenue (only used for voucher eligibility): above-scale >= 20 M CNY by definition;
    # SMEs lognormal (ASSUMPTION), below-scale industrial capped under 20 M CNY.
    out = np.empty(size_class.size, dtype=np.float32)
    log_median = np.log(spec.sme_revenue_median_cny)
    compiled = kernel.kernel_name() == "numba"
    for lo, hi in blocks(size_class.size):
        z = random_draws.standard_normal(rng_revenue, hi - lo)  # rng_revenue.standard_normal(hi - lo)
        if compiled:  # the same float64 operations, in place, and the cap compiled
            np.multiply(spec.sme_revenue_sigma, z, out=z)
            np.add(log_median, z, out=z)
            column_kernel.capped_for(np.exp(z, out=z), size_class[lo:hi], IND_SME, 19.99e6, out[lo:hi])
            continue
        revenue = np.exp(log_median + spec.sme_revenue_sigma * z)
        ind = size_class[lo:hi] == IND_SME
        revenue[ind] = np.minimum(revenue[ind], 19.99e6)
        out[lo:hi] = revenue
    # ASSUMPTION: Pareto tail (shape 1.5) above the 20 M CNY threshold; only ">= 10 M" matters.
    out[above] = 20e6 * (1.0 + rng_revenue.pareto(1.5, size=int(above.sum())))
    return out


def birth_month(spec: PopulationSpec, rng_revenue: np.random.Generator, size_class: np.ndarray,
                entry_month: np.ndarray, above: np.ndarray) -> np.ndarray:
    """Birth month of every firm (int16, relative to the start): one uniform per firm, then one
    integer per initial firm born in the last 12 months."""
    # Birth month: entrants are born when they enter, except above-scale entrants, which are
    # existing firms crossing the threshold (ASSUMPTION). Among initial firms, the share born in
    # the last 12 months equals the yearly growth rate of their class (census growth).
    birth = np.where((entry_month > 0) & ~above, entry_month, np.int16(-120))
    young_p = np.zeros(SERVICE + 1)
    young_p[IND_SME], young_p[SERVICE] = spec.industrial_growth_per_year, spec.service_growth_per_year
    young = np.empty(size_class.size, dtype=bool)
    for lo, hi in blocks(size_class.size):
        np.less(rng_revenue.random(hi - lo), young_p[size_class[lo:hi]], out=young[lo:hi])
    young &= entry_month == 0
    birth[young] = -(rng_revenue.integers(0, 12, size=int(young.sum()))).astype(np.int16)
    return birth


def exit_month(spec: PopulationSpec, rng_exit: np.random.Generator, entry_month: np.ndarray,
               n_months: int, never: int) -> np.ndarray:
    """Exit month of every firm (int16; ``never`` if after the last month or no exit rate)."""
    exit_month = np.full(entry_month.size, never, dtype=np.int16)
    if spec.exit_rate_per_year > 0:
        # Geometric exit month from the month after entry (exit independent of adoption: ASSUMPTION).
        p_month = 1.0 - np.exp(-spec.exit_rate_per_year / 12.0)
        for lo, hi in blocks(entry_month.size):
            m = entry_month[lo:hi] + rng_exit.geometric(p_month, size=hi - lo)
            exit_month[lo:hi] = np.where(m <= n_months, m, never)
    return exit_month
