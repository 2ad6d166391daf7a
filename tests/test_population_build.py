"""The fast set-up paths give exactly what the plain constructions give.

The population build and the initial peer counts use vectorised shortcuts (one 64-bit key sort
for the symmetric adjacency, one bincount per indicator over the partners of the flagged firms
instead of a sparse product). These tests compare them with the straightforward SciPy
constructions on the same inputs, so a shortcut that drops, duplicates or misorders a link fails.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from sim.core.model import CloudAdoptionModel
from sim.core.population import build_population, symmetric_csr
from sim.scenario.schema import Scenario


def scipy_symmetric(n: int, src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    keep = (dst >= 0) & (dst != src)
    src, dst = src[keep], dst[keep]
    adj = sp.coo_matrix((np.ones(2 * src.size), (np.concatenate((src, dst)), np.concatenate((dst, src)))),
                        shape=(n, n)).tocsr()
    adj.sum_duplicates()
    adj.sort_indices()
    return adj.indptr.astype(np.int64), adj.indices.astype(np.int32)


def test_symmetric_csr_equals_scipy_with_duplicates_self_links_and_missing_targets():
    rng = np.random.default_rng(7)
    n = 500
    src = np.sort(rng.integers(0, n, 3000)).astype(np.int32)
    dst = rng.integers(-1, n, 3000).astype(np.int32)
    dst[:50] = src[:50]  # self-links are dropped
    dst[50:100] = dst[100:150]  # repeated targets
    src[50:100] = src[100:150]
    indptr, indices = symmetric_csr(n, src, dst)
    ref_ptr, ref_ind = scipy_symmetric(n, src, dst)
    assert indptr.dtype == np.int64 and indices.dtype == np.int32
    np.testing.assert_array_equal(indptr, ref_ptr)
    np.testing.assert_array_equal(indices, ref_ind)
    # symmetric, no self-links, no repeated partner in a row
    rows = np.repeat(np.arange(n), np.diff(indptr))
    assert set(zip(rows.tolist(), indices.tolist(), strict=True)) == set(zip(indices.tolist(), rows.tolist(), strict=True))
    assert not np.any(rows == indices)
    assert all(np.all(np.diff(indices[indptr[i]:indptr[i + 1]]) > 0) for i in range(n))


def test_partner_counts_equal_the_sparse_product():
    config = Scenario.model_validate({"population": {"total_firms": 20_000}})
    pop = build_population(config, np.random.SeedSequence(3))
    adj = sp.csr_matrix((np.ones(pop.adj_indices.size), pop.adj_indices, pop.adj_indptr),
                        shape=(pop.n_firms, pop.n_firms))
    rng = np.random.default_rng(1)
    prefix = np.zeros(pop.n_firms, dtype=bool)
    prefix[:pop.n_initial] = True
    for mask in (prefix, rng.random(pop.n_firms) < 0.3, rng.random(pop.n_firms) < 0.001,
                 np.zeros(pop.n_firms, dtype=bool)):
        got = pop.partner_counts(mask)
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, adj @ mask.astype(float))


def test_model_initial_counts_match_a_recount_by_links():
    config = Scenario.model_validate({"population": {"total_firms": 20_000}})
    model = CloudAdoptionModel(config, replicate=2)
    pop = model.pop
    on = model.present & (model.cloud_state == 2)
    rows = np.repeat(np.arange(pop.n_firms), np.diff(pop.adj_indptr))
    expect = np.bincount(rows[on[pop.adj_indices]], minlength=pop.n_firms)
    np.testing.assert_array_equal(model.chain_cloud, expect)
    assert model.chain_cloud.sum() > 1000  # the test sees real links
