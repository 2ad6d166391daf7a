"""The fast set-up paths give exactly what the plain constructions give.

The population build and the initial peer counts use vectorised shortcuts (one 64-bit key sort
for the symmetric adjacency, one bincount per indicator over the partners of the flagged firms
instead of a sparse product). These tests compare them with the straightforward SciPy
constructions on the same inputs, so a shortcut that drops, duplicates or misorders a link fails.
"""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest
import scipy.sparse as sp

from sim.core.links import symmetric_csr
from sim.core.model import CloudAdoptionModel
from sim.core.population import build_population
from sim.core.seeds import replicate_structure_seed
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
    assert indptr.dtype == np.int32 and indices.dtype == np.int32  # int32 pointers below ~1e9 links
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
    np.testing.assert_array_equal(model.state.chain_cloud, expect)
    assert model.state.chain_cloud.sum() > 1000  # the test sees real links


HAS_NUMBA = importlib.util.find_spec("numba") is not None


@pytest.mark.skipif(not HAS_NUMBA, reason="numba (the 'fast' extra) is not installed")
@pytest.mark.parametrize("population", [
    {"total_firms": 40_000},
    # other link shares (float32 thresholds), a few chain leaders, more links per firm, a city split
    {"total_firms": 25_000, "same_city_link_share": 0.3, "leader_link_share": 0.37, "lead_firms": 7,
     "customers_per_firm": 3.3, "sme_guangzhou_odds_ratio": 1.7},
    {"total_firms": 8_000, "lead_firms": 0},  # no chain leader
    {"total_firms": 12_000, "cluster_shares": {"electronics": 0.0, "light_industry_textiles": 0.3}},  # an empty cluster
])
def test_compiled_population_build_gives_the_same_bytes(monkeypatch, population):
    config = Scenario.model_validate({"population": population})
    built = {}
    for name in ("numpy", "numba"):
        monkeypatch.setenv("GDCLOUD_KERNEL", name)
        pop = build_population(config, np.random.SeedSequence(11))
        built[name] = {k: v for k, v in vars(pop).items() if isinstance(v, np.ndarray)}
        built[name]["chain_n"] = pop.partner_counts(np.arange(pop.n_firms) < pop.n_initial)
    assert built["numpy"].keys() == built["numba"].keys()
    for key, a in built["numpy"].items():
        b = built["numba"][key]
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), key
    assert built["numba"]["adj_indices"].size > 2 * population["total_firms"]  # real links


@pytest.mark.skipif(not HAS_NUMBA, reason="numba (the 'fast' extra) is not installed")
def test_compiled_category_draw_is_generator_choice():
    from sim.core import column_kernel

    for p in (np.full(20, 0.05), np.array([0.0, 0.2, 0.0, 0.5, 0.3, 0.0]), np.array([1.0])):
        drawn = np.random.default_rng(4).choice(p.size, size=50_000, p=p).astype(np.int8)
        cdf = p.cumsum()
        cdf /= cdf[-1]
        assert drawn.tobytes() == column_kernel.draw_categories(cdf, np.random.default_rng(4).random(50_000)).tobytes()


@pytest.mark.parametrize("m", [0, 1, 10, 11, 1001])
@pytest.mark.parametrize("drawn_before", [0, 1, 2, 3])
def test_uniform_rows_draw_the_rows_of_one_float32_draw(m, drawn_before):
    from sim.core.links import uniform_rows

    rng, ref_rng = np.random.default_rng(5), np.random.default_rng(5)
    rng.random(drawn_before, dtype=np.float32)  # a float32 draw may leave half an output kept
    ref_rng.random(drawn_before, dtype=np.float32)
    rows = uniform_rows(rng, m, 4)
    # drawn in uneven blocks, row by row
    got = np.stack([np.concatenate([g.random(size, dtype=np.float32) for size in (m // 3, m - m // 3)]) for g in rows])
    assert got.tobytes() == ref_rng.random((4, m), dtype=np.float32).tobytes()


@pytest.mark.skipif(not HAS_NUMBA, reason="numba (the 'fast' extra) is not installed")
def test_compiled_symmetric_csr_takes_links_in_any_order(monkeypatch):
    rng = np.random.default_rng(8)
    n = 300
    src = rng.integers(0, n, 2000).astype(np.int32)  # not sorted by source
    dst = rng.integers(-1, n, 2000).astype(np.int32)
    monkeypatch.setenv("GDCLOUD_KERNEL", "numba")
    indptr, indices = symmetric_csr(n, src, dst)
    ref_ptr, ref_ind = scipy_symmetric(n, src, dst)
    np.testing.assert_array_equal(indptr, ref_ptr)
    np.testing.assert_array_equal(indices, ref_ind)
    assert indices.size > 3000


@pytest.mark.skipif(not HAS_NUMBA, reason="numba (the 'fast' extra) is not installed")
def test_partner_counts_over_rows_equal_the_counts_at_partners(monkeypatch):
    monkeypatch.setenv("GDCLOUD_KERNEL", "numba")
    pop = build_population(Scenario.model_validate({"population": {"total_firms": 20_000}}), np.random.SeedSequence(4))
    mask = np.random.default_rng(2).random(pop.n_firms) < 0.6  # dense: counted over every row
    pushed = np.zeros(pop.n_firms, dtype=np.float32)
    from sim.core import kernel

    kernel.add_to_partners(pop.adj_indptr, pop.adj_indices, np.flatnonzero(mask), pushed, 1.0)
    got = pop.partner_counts(mask)
    assert got.dtype == np.float32 and got.tobytes() == pushed.tobytes()
    assert pushed.sum() > 20_000


@pytest.mark.parametrize("kernel_name", ["numpy", "numba"] if HAS_NUMBA else ["numpy"])
def test_columns_drawn_in_blocks_equal_one_draw_of_all_firms(monkeypatch, kernel_name):
    from sim.core import columns

    monkeypatch.setenv("GDCLOUD_KERNEL", kernel_name)
    config = Scenario.model_validate({"population": {"total_firms": 9_000, "exit_rate_per_year": 0.08}})
    built = {}
    for block in (777, 10**9):  # uneven blocks (the last one short), then one block of every firm
        monkeypatch.setattr(columns, "BLOCK_FIRMS", block)
        pop = build_population(config, np.random.SeedSequence(21))
        built[block] = {k: v for k, v in vars(pop).items() if isinstance(v, np.ndarray)}
    assert pop.n_firms > 4 * 777
    for key, a in built[10**9].items():
        b = built[777][key]
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), key
    assert np.unique(built[777]["exit_month"]).size > 10 and np.unique(built[777]["birth_month"]).size > 10


def test_a_model_on_its_own_population_takes_the_start_counts_and_leaves_none_behind():
    config = Scenario.model_validate({"population": {"total_firms": 20_000}, "time": {"end": "2022-06"}})
    owner = CloudAdoptionModel(config, replicate=1)  # builds its population: takes the static counts
    assert "model" not in owner.pop.derived
    given = CloudAdoptionModel(config, replicate=1, population=build_population(
        config, replicate_structure_seed(config, config.run.seed, 1)))
    for name in ("park_n", "cc_n", "cell_n", "chain_n", "chain_as", "lead_n"):
        assert getattr(owner.state, name).tobytes() == getattr(given.state, name).tobytes(), name
    assert "model" in given.pop.derived  # a given population keeps its tables for the next run
    first = owner.run()
    # a later model given the first one's population (whose counts were changed by its run)
    # recomputes the tables, so it runs exactly as the first did
    again = CloudAdoptionModel(config, replicate=1, population=owner.pop).run()
    assert again.cells.tobytes() == first.cells.tobytes()
    assert again.cells.tobytes() == given.run().cells.tobytes()
    assert first.totals["cloud_cumulative"][-1] > first.totals["cloud_cumulative"][0]
    # a population handed over to one model (a single run's prebuilt one): taken like its own
    alone = build_population(config, replicate_structure_seed(config, config.run.seed, 1))
    taker = CloudAdoptionModel(config, replicate=1, population=alone, take_population=True)
    assert "model" not in alone.derived
    assert taker.run().cells.tobytes() == first.cells.tobytes()


@pytest.mark.parametrize("kernel_name", ["numpy", "numba"] if HAS_NUMBA else ["numpy"])
@pytest.mark.parametrize("n", [0, 1, 2, 131_073, 1_000_003])
def test_threshold_and_priority_draws_are_numpys_and_leave_the_stream_where_it_does(monkeypatch, kernel_name, n):
    from sim.core import random_draws

    monkeypatch.setenv("GDCLOUD_KERNEL", kernel_name)
    seed = np.random.SeedSequence(14, spawn_key=(n,))
    ref, rng = np.random.default_rng(seed), np.random.default_rng(seed)
    # twice each, alternating, so each draw also starts where the other left the stream (a kept
    # 32-bit half after an odd count)
    for _ in range(2):
        expect = ref.standard_exponential(n, dtype=np.float32)
        got = random_draws.exponential_f32(rng, n)
        assert got.dtype == np.float32 and got.tobytes() == expect.tobytes()
        assert rng.bit_generator.state == ref.bit_generator.state
        expect = ref.random(n, dtype=np.float32)
        got = random_draws.uniform_f32(rng, n)
        assert got.dtype == np.float32 and got.tobytes() == expect.tobytes()
        assert rng.bit_generator.state == ref.bit_generator.state
    assert rng.random(3).tobytes() == ref.random(3).tobytes()
    if n > 1_000_000:  # the ziggurat's tail (x > 7.697) and its other slow path were drawn
        tail = random_draws.exponential_f32(rng, n)
        assert tail.tobytes() == ref.standard_exponential(n, dtype=np.float32).tobytes() and tail.max() > 7.7


@pytest.mark.skipif(not HAS_NUMBA, reason="numba (the 'fast' extra) is not installed")
@pytest.mark.parametrize("lam", [2.0, 0.05, 9.9])
@pytest.mark.parametrize("n", [0, 1, 70_001])
def test_compiled_poisson_draws_generator_poisson_and_leaves_the_stream_where_it_does(lam, n, monkeypatch):
    from sim.core import random_draws

    monkeypatch.setenv("GDCLOUD_KERNEL", "numba")  # the compiled loop, even in a GDCLOUD_KERNEL=numpy session

    ref, rng = np.random.default_rng(6), np.random.default_rng(6)
    expect = ref.poisson(lam, size=n)
    got = random_draws.poisson(rng, lam, n)
    assert got.dtype == np.int32 and np.array_equal(got, expect)
    assert rng.bit_generator.state == ref.bit_generator.state
    assert rng.random(3, dtype=np.float32).tobytes() == ref.random(3, dtype=np.float32).tobytes()
    if n > 1000:
        assert expect.max() > 0


@pytest.mark.parametrize("kernel_name", ["numpy", "numba"] if HAS_NUMBA else ["numpy"])
def test_top_keys_pick_the_set_argpartition_picks_with_and_without_ties(monkeypatch, kernel_name):
    from sim.core.initial import top_keys

    monkeypatch.setenv("GDCLOUD_KERNEL", kernel_name)
    rng = np.random.default_rng(0)
    for n, k in ((10, 3), (1000, 999), (200_000, 70_000), (200_000, 1)):
        idx = np.sort(rng.choice(2 * n, n, replace=False)).astype(np.int32)
        # distinct keys; many ties; negative keys (the model's log(u) / weight), zeros of both signs
        signed = np.log(rng.random(2 * n)) / rng.random(2 * n)
        signed[rng.random(2 * n) < 0.01] = -0.0
        signed[rng.random(2 * n) < 0.01] = 0.0
        for key in (rng.random(2 * n), np.round(rng.random(2 * n), 2), signed):
            expect = idx[np.argpartition(-key[idx], k - 1)[:k]]
            got = top_keys(idx, key, k)
            assert got.size == k and np.array_equal(np.sort(got), np.sort(expect))
            if kernel_name == "numba":  # the count of values <= v, from the bins (or a pass at a zero v)
                from sim.core import column_kernel

                v, at_most = column_kernel.kth_largest_key(key, idx, k)
                assert v == np.partition(-key[idx], k - 1)[k - 1]
                assert at_most == np.count_nonzero(-key[idx] <= v)
        zero = np.where(np.arange(2 * n) % 2, -0.0, 0.0)  # v a zero: -0.0 and 0.0 in two bins
        if kernel_name == "numba" and k < n:
            from sim.core import column_kernel

            assert column_kernel.kth_largest_key(zero, idx, k) == (0.0, n)


@pytest.mark.parametrize(("env", "advice_after_import"), [({}, False), ({"GDCLOUD_HUGEPAGES": "1"}, True),
                                                         ({"NUMPY_MADVISE_HUGEPAGE": "1"}, True)])
def test_numpys_huge_page_advice_is_off_unless_asked_for(env, advice_after_import):
    import os
    import subprocess
    import sys

    code = ("import numpy as np, sim.core.population\n"
            "core = getattr(np, '_core', None) or np.core\n"
            "print(core.multiarray._set_madvise_hugepage(False))")
    clean = {k: v for k, v in os.environ.items() if k not in ("GDCLOUD_HUGEPAGES", "NUMPY_MADVISE_HUGEPAGE")}
    out = subprocess.run([sys.executable, "-c", code], env={**clean, **env}, capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == str(advice_after_import)


@pytest.mark.skipif(not HAS_NUMBA, reason="numba (the 'fast' extra) is not installed")
@pytest.mark.parametrize("bits", [0, 3, 20])
def test_compiled_symmetric_csr_with_links_in_blocks_of_targets_equals_scipy(monkeypatch, bits):
    from sim.core import setup_kernel

    monkeypatch.setenv("GDCLOUD_KERNEL", "numba")
    monkeypatch.setattr(setup_kernel, "TARGET_BLOCK_BITS", bits)  # 1, 8 or 2**20 targets per block
    rng = np.random.default_rng(9)
    n = 777
    src = rng.integers(0, n, 5000).astype(np.int32)
    dst = rng.integers(-1, n, 5000).astype(np.int32)
    indptr, indices = symmetric_csr(n, src, dst)
    ref_ptr, ref_ind = scipy_symmetric(n, src, dst)
    np.testing.assert_array_equal(indptr, ref_ptr)
    np.testing.assert_array_equal(indices, ref_ind)
    assert indices.size > 8000


@pytest.mark.parametrize("kernel_name", ["numpy", "numba"] if HAS_NUMBA else ["numpy"])
def test_partners_before_k_equal_the_partner_counts_of_the_first_k_firms(monkeypatch, kernel_name):
    monkeypatch.setenv("GDCLOUD_KERNEL", kernel_name)
    pop = build_population(Scenario.model_validate({"population": {"total_firms": 20_000}}), np.random.SeedSequence(8))
    adj = sp.csr_matrix((np.ones(pop.adj_indices.size), pop.adj_indices, pop.adj_indptr),
                        shape=(pop.n_firms, pop.n_firms))
    for k in (0, 1, pop.n_initial, pop.n_firms):
        got = pop.partners_before(k)
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, adj @ (np.arange(pop.n_firms) < k).astype(float))
    assert pop.partners_before(pop.n_initial).sum() > 20_000


@pytest.mark.parametrize("kernel_name", ["numpy", "numba"] if HAS_NUMBA else ["numpy"])
@pytest.mark.parametrize("layout", ["built", "initial firms not ordered by class"])
def test_start_partner_counts_are_the_partner_counts_of_the_present_above_and_leader_firms(
        monkeypatch, kernel_name, layout):
    from dataclasses import replace

    monkeypatch.setenv("GDCLOUD_KERNEL", kernel_name)
    pop = build_population(Scenario.model_validate({"population": {"total_firms": 20_000}}), np.random.SeedSequence(8))
    if layout != "built":  # the prefix shortcut must not apply: the masks are counted instead
        size_class = pop.size_class.copy()
        size_class[:pop.n_initial] = np.random.default_rng(3).permutation(size_class[:pop.n_initial])
        pop = replace(pop, size_class=size_class, derived={})
    present = np.arange(pop.n_firms) < pop.n_initial
    above = present & (pop.size_class <= 1)
    leads = present & (pop.size_class == 0)
    got = pop.start_partner_counts()
    for counts, mask in zip(got, (present, above, leads), strict=True):
        assert counts.dtype == np.float32
        np.testing.assert_array_equal(counts, pop.partner_counts(mask))
    assert got[1].sum() > 1000 and got[2].sum() > 10  # real counts, not all zero


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt: Linux only")
@pytest.mark.parametrize(("env", "kept"), [({}, True), ({"GDCLOUD_KEEP_MEMORY": "0"}, False),
                                           ({"MALLOC_MMAP_THRESHOLD_": "131072"}, False)])
def test_freed_arrays_are_reused_without_new_memory_unless_switched_off(env, kept):
    import os
    import subprocess

    code = ("import resource, numpy as np, sim.core.population\n"
            "from sim.core import memory\n"
            "a = np.ones(64 << 20, dtype=np.uint8); del a\n"  # above glibc's largest mmap threshold
            "before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
            "b = np.ones(64 << 20, dtype=np.uint8)\n"
            "print(memory.keep_freed_memory(), resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)")
    names = ("GDCLOUD_KEEP_MEMORY", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_",
             "GLIBC_TUNABLES", "GDCLOUD_HUGEPAGES", "NUMPY_MADVISE_HUGEPAGE")
    clean = {k: v for k, v in os.environ.items() if k not in names}
    out = subprocess.run([sys.executable, "-c", code], env={**clean, **env}, capture_output=True, text=True,
                         check=True)
    status, new_pages = out.stdout.split()
    if kept and status != "True":
        pytest.skip("not glibc: nothing to set")
    assert status == str(kept)
    if kept:
        assert int(new_pages) < 1_000  # the freed block served again
    else:
        assert int(new_pages) >= 32  # new memory: a fault per page (64 MiB: 16,384 small or 32 huge pages)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/self/statm: Linux only")
def test_a_sparse_zero_column_takes_memory_only_where_written():
    from sim.core import memory

    def resident_bytes() -> int:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * 4096

    a = np.ones(64 << 20, dtype=np.uint8)  # a freed block a plain np.zeros would be served from
    del a
    before = resident_bytes()
    col = memory.sparse_zeros(16 << 20, np.float32)  # 64 MiB
    col[::1 << 16] = 2.5  # 256 values, one per 256 KiB
    grown = resident_bytes() - before
    assert col.dtype == np.float32 and col.shape == (16 << 20,) and col.flags.writeable
    assert np.count_nonzero(col) == 256 and col[1 << 16] == 2.5 and col[1] == 0.0
    assert grown < 8 << 20  # ~256 pages written, not the 64 MiB column
    small = memory.sparse_zeros(10, np.int16)  # below the threshold: a plain array
    assert small.dtype == np.int16 and not small.any() and small.base is None


@pytest.mark.skipif(not HAS_NUMBA, reason="numba (the 'fast' extra) is not installed")
def test_static_tables_shortcuts_give_what_the_plain_constructions_give(monkeypatch):
    """The leader-count dtype from the start counts, the voucher age order by a counting sort and
    the present-partner counts written as int16 equal the plain constructions."""
    from sim.core import tables
    from sim.core.population import LEAD

    config = Scenario.model_validate({"population": {"total_firms": 40_000}})
    pop = build_population(config, replicate_structure_seed(config, config.run.seed, 0))
    is_lead = pop.size_class == LEAD
    lead_n = pop.start_partner_counts()[2]
    assert lead_n.max() > 0 and not is_lead[pop.n_initial:].any()
    assert tables.leader_count_dtype(pop, is_lead, lead_n) == tables.leader_count_dtype(pop, is_lead)
    narrow = pop.start_partner_counts(np.int16)[0]
    assert narrow.dtype == np.int16 and np.array_equal(narrow, pop.start_partner_counts()[0])
    monkeypatch.setenv("GDCLOUD_KERNEL", "numba")
    young, month = tables.young_firms(pop, 12)
    monkeypatch.setenv("GDCLOUD_KERNEL", "numpy")
    pop.derived.clear()
    young_np, month_np = tables.young_firms(pop, 12)
    assert young.size > 1000 and np.array_equal(young, young_np) and np.array_equal(month, month_np)
    assert young.dtype == young_np.dtype and month.dtype == month_np.dtype


@pytest.mark.skipif(not HAS_NUMBA, reason="numba (the 'fast' extra) is not installed")
def test_partners_below_each_counts_what_a_per_link_compare_counts(monkeypatch):
    """The blocked prefix sums give each firm's partners below each bound, as the plain compare
    per link does, on a built structure and on rows too long for the packed fields."""
    from sim.core import setup_kernel

    monkeypatch.setenv("GDCLOUD_KERNEL", "numba")

    def plain(indptr, indices, k):
        rows = np.repeat(np.arange(indptr.size - 1), np.diff(indptr))
        return np.bincount(rows[indices < k], minlength=indptr.size - 1)

    config = Scenario.model_validate({"population": {"total_firms": 40_000}})
    pop = build_population(config, replicate_structure_seed(config, config.run.seed, 0))
    rng = np.random.default_rng(3)
    huge = np.concatenate(([0, 3], 3 + (1 << 21) + np.arange(1, 6) * 7)).astype(np.int64)  # a row of 2**21 links
    cases = [(pop.adj_indptr, pop.adj_indices), (huge, rng.integers(0, 6, int(huge[-1])).astype(np.int32))]
    for indptr, indices in cases:
        n = indptr.size - 1
        ks = (n // 2, n // 5, 1)
        got = setup_kernel.partners_below_each(indptr, indices, ks, np.int32 if n < 10 else np.int16)
        for k, counts in zip(ks, got, strict=True):
            assert np.array_equal(counts, plain(indptr, indices, k))
        assert np.array_equal(setup_kernel.partners_below(indptr, indices, ks[1]), got[1])
    assert got[0].dtype == np.int32 and got[1].dtype == np.float32


@pytest.mark.skipif(not HAS_NUMBA, reason="numba (the 'fast' extra) is not installed")
def test_guided_row_and_category_draws_equal_searchsorted_at_bucket_edges_and_ties():
    from sim.core import column_kernel

    rng = np.random.default_rng(12)
    weights = rng.random((6, 9))
    weights[1, 2:5] = 0.0  # repeated cumulative entries
    weights[3, :] = [0, 0, 0, 0, 1.0, 0, 0, 0, 0]
    weights[4, 0] = 1e-9
    cdf = np.cumsum(weights, axis=1)
    cdf /= cdf[:, -1:]
    shifted = (cdf + np.arange(6)[:, None]).ravel()
    edges = np.arange(column_kernel.GUIDE_BUCKETS + 1) / column_kernel.GUIDE_BUCKETS
    # u on the guide's bucket edges, on the weights' cumulative values and next to both, and at random
    special = np.concatenate((edges, cdf.ravel(), rng.random(20_000)))
    special = np.concatenate((special, np.nextafter(special, 0), np.nextafter(special, 1)))
    u = special[(special >= 0) & (special < 1)]
    for r in range(6):
        row = np.full(u.size, r, dtype=np.int64)
        expect = np.minimum(np.searchsorted(shifted, row + u, side="right") - row * 9, 8).astype(np.int8)
        guide = column_kernel.row_guide(shifted, 9)
        got = column_kernel.draw_rows(shifted, 9, row, u, np.empty(u.size, dtype=np.int8), guide)
        assert got.tobytes() == expect.tobytes(), r
        plain = column_kernel.draw_rows(shifted, 9, row, u, np.empty(u.size, dtype=np.int8))
        assert plain.tobytes() == expect.tobytes(), r
        expect_cat = np.searchsorted(cdf[r], u, side="right").astype(np.int8)
        assert column_kernel.draw_categories(cdf[r], u).tobytes() == expect_cat.tobytes(), r
