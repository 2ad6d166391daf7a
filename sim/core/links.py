"""Supply-chain links of the population: a symmetric CSR adjacency (``indptr``, ``indices``).

Split from :mod:`sim.core.population` (which draws the firms) because the links are most of the
set-up time: they have their own NumPy construction and, when Numba is installed, a compiled one
(:mod:`sim.core.setup_kernel`) that gives the same arrays (``tests/test_population_build.py``).
"""

from __future__ import annotations

import sys

import numpy as np

from sim.core import kernel, pcg_kernel, random_draws, setup_kernel
from sim.scenario.schema_population import PopulationSpec

LEAD, ABOVE, IND_SME, SERVICE = 0, 1, 2, 3
"""Size classes (the codes :mod:`sim.core.population` and :mod:`sim.core.columns` use)."""


def group_order(cand_group: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the candidates sorted by group (stable) and the size of every group."""
    if kernel.kernel_name() == "numba":
        return setup_kernel.stable_group_order(cand_group, n_groups)
    # Group ids fit in 16 bits (at most 420 cluster-city groups): NumPy's stable sort is then a
    # radix sort, ~6x faster than on int32/int64 (same order, so the same population).
    key = cand_group.astype(np.int16) if n_groups <= np.iinfo(np.int16).max else cand_group
    return np.argsort(key, kind="stable"), np.bincount(cand_group, minlength=n_groups)


def group_table(sorted_cands: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start of every group in ``sorted_cands`` (candidates sorted by group, then a final -1)
    and its size as float64; an empty group starts at the -1 sentinel with size 1."""
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    empty = counts == 0
    starts[empty] = sorted_cands.size - 1  # the -1 sentinel
    return starts, np.where(empty, 1.0, counts.astype(np.float64))


def pick_in_groups(group: np.ndarray, candidates: np.ndarray, cand_group: np.ndarray,
                   n_groups: int, u: np.ndarray) -> np.ndarray:
    """For each query group id, pick a uniformly random candidate of that group (-1 if none)."""
    order, counts = group_order(cand_group, n_groups)
    return pick_sorted(group, np.append(candidates[order], -1), counts, u)


def pick_sorted(group: np.ndarray, sorted_cands: np.ndarray, counts: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Candidate ``floor(u * size)`` of each query's group in ``sorted_cands`` (candidates
    sorted by group, then a final -1 returned for an empty group)."""
    starts, size = group_table(sorted_cands, counts)
    # float64 product of the float32 u and the group size, as an exact float64 of the size
    # (min(floor(x), c - 1) == floor(min(x, c - 1)) for an integer c).
    at_f = size[group]
    last = at_f - 1.0
    np.multiply(at_f, u, out=at_f)
    np.minimum(at_f, last, out=at_f)
    del last
    at = at_f.astype(np.int64)
    del at_f
    at += starts[group]
    return sorted_cands[at]


def supply_links(spec: PopulationSpec, rng: np.random.Generator, cluster: np.ndarray, cc: np.ndarray,
                 size_class: np.ndarray, n_cl: int, n_ci: int) -> tuple[np.ndarray, np.ndarray]:
    """Supplier -> customer links within a cluster; chain leaders are hubs.

    Each firm draws Poisson(customers_per_firm) customers. For industrial firms a share
    ``leader_link_share`` of links go to a chain leader of the cluster; the rest go to a firm of
    the same cluster, in the same city with probability ``same_city_link_share``, and to an
    above-scale firm in half of the cases (customers are larger than suppliers: ASSUMPTION).
    Links are symmetric for peer influence (both sides see each other's adoption); a link drawn
    twice is kept once.
    """
    n = cluster.size
    compiled = kernel.kernel_name() == "numba"
    if compiled and 0 < spec.customers_per_firm < 10:
        n_links = random_draws.poisson(rng, spec.customers_per_firm, n)  # the same draws, int32
    else:
        n_links = rng.poisson(spec.customers_per_firm, size=n)
    m = int(n_links.sum())
    if m == 0:
        return np.zeros(n + 1, dtype=setup_kernel.pointer_dtype(0)), np.empty(0, dtype=np.int32)
    # float32 uniforms: the link arrays are the peak of set-up memory (the compiled path draws
    # the same numbers a chunk of firms at a time).
    u_all = None if compiled else rng.random((4, m), dtype=np.float32)
    above_idx = np.flatnonzero(size_class <= ABOVE).astype(np.int32)
    leads = np.flatnonzero(size_class == LEAD).astype(np.int32)
    cc32 = cc if cc.dtype == np.int32 else cc.astype(np.int32)
    # The compiled loops read the int8 cluster column itself (the NumPy path adds offsets to it).
    cl_ids = cluster if compiled else cluster.astype(np.int32)
    n_cc = n_cl * n_ci

    # The four kinds of customer as one table of groups (one pass over the links instead of one
    # per kind): same city-cluster and larger | same city-cluster, any | same cluster and larger |
    # same cluster, any. A group without candidates falls back to any firm of the cluster.
    tables = [(above_idx, cc32[above_idx], n_cc), (None, cc32, n_cc),
              (above_idx, cl_ids[above_idx], n_cl), (None, cl_ids, n_cl)]
    if compiled:
        sorted_cands, counts = setup_kernel.candidate_table(tables)
    else:
        sorted_parts, count_parts = [], []
        for cands, cand_group, n_groups in tables:
            order, group_counts = group_order(cand_group, n_groups)
            sorted_parts.append(order.astype(np.int32) if cands is None else cands[order])
            count_parts.append(group_counts)
        sorted_cands = np.concatenate([*sorted_parts, np.array([-1], dtype=np.int32)])
        counts = np.concatenate(count_parts)
    del tables
    fallback = 2 * n_cc + n_cl + np.concatenate(  # the 'same cluster, any' group of each group
        [np.arange(n_cc) // n_ci, np.arange(n_cc) // n_ci, np.arange(n_cl), np.arange(n_cl)])
    group_of = np.arange(counts.size)
    group_of[counts == 0] = fallback[counts == 0]
    industrial = (size_class >= ABOVE) & (size_class <= IND_SME)
    # Thresholds as float32: a float32 array compared with a Python float compares in float32
    # (NEP 50), and the compiled loop must compare the same way.
    same_share, lead_share = np.float32(spec.same_city_link_share), np.float32(spec.leader_link_share)

    if compiled:
        lead_order, lead_counts = group_order(cl_ids[leads], n_cl)
        lead_sorted = np.append(leads[lead_order], np.int32(-1))
        return setup_kernel.supply_csr(
            n_links, uniform_rows(rng, m, 4), cc32, cl_ids, industrial, same_share, lead_share, n_cc, n_cl,
            sorted_cands, *group_table(sorted_cands, counts), group_of,
            lead_sorted, *group_table(lead_sorted, lead_counts))

    src = np.repeat(np.arange(n, dtype=np.int32), n_links)
    u_kind, u_city, u_big, u_pick = u_all
    same_city = u_city < same_share
    other = u_big >= 0.5  # any customer rather than a larger one
    del u_city, u_big
    group = np.where(same_city, np.repeat(cc32, n_links) + other * np.int32(n_cc),
                     np.repeat(cl_ids + 2 * n_cc, n_links) + other * np.int32(n_cl))
    del same_city, other
    dst = pick_sorted(group_of[group], sorted_cands, counts, u_pick)
    del group
    if leads.size:
        to_lead = np.repeat(industrial, n_links)
        to_lead &= u_kind < lead_share
        idx = np.flatnonzero(to_lead)
        picked = pick_in_groups(np.repeat(cl_ids, n_links)[idx], leads, cl_ids[leads], n_cl, u_pick[idx])
        ok = picked >= 0
        dst[idx[ok]] = picked[ok]
    return symmetric_csr(n, src, dst)


def uniform_rows(rng: np.random.Generator, m: int, rows: int) -> list[np.random.Generator | pcg_kernel.UniformStream]:
    """Generators (or their compiled copies) whose float32 draws are the rows of ``rng.random((rows, m), dtype=np.float32)``
    (row r starts where row r - 1 ends), so that the rows can be drawn a block at a time; ``rng``
    itself is not advanced.

    A float32 draw uses 32 bits of the bit generator's 64-bit output (the other half is kept for
    the next draw), so row r starts ``r * m`` half-outputs on: a copy of the bit generator is
    advanced by ``r * m // 2`` outputs, then by one float32 draw if ``r * m`` is odd. Needs a bit
    generator with ``advance`` (PCG64, what ``np.random.default_rng`` gives).
    """
    state = rng.bit_generator.state
    out = []
    for r in range(rows):
        bit_gen = type(rng.bit_generator)()
        bit_gen.state = state
        skip = r * m
        if skip and state["has_uint32"]:  # the first draw uses the kept half
            skip -= 1
            bit_gen.state = {**state, "has_uint32": 0}
        if skip:
            bit_gen.advance(skip // 2)
        gen = np.random.Generator(bit_gen)
        if skip % 2:
            gen.random(1, dtype=np.float32)
        # The same draws from the compiled copy of PCG64 (sim.core.pcg_kernel), ~4x faster.
        out.append(pcg_kernel.UniformStream(bit_gen) if pcg_kernel.available(bit_gen) else gen)
    return out


def symmetric_csr(n: int, src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """CSR (indptr of :func:`sim.core.setup_kernel.pointer_dtype`, indices int32; columns sorted)
    of the undirected links src -- dst, without self-links, without -1 targets and with a link
    drawn twice kept once."""
    keep = (dst >= 0) & (dst != src)
    src, dst = src[keep], dst[keep]
    if kernel.kernel_name() == "numba":
        return setup_kernel.symmetric_csr(n, src, dst)
    m = src.size
    # One sort of 64-bit (row, column) keys (vectorised quicksort) orders both directions.
    key = np.empty(2 * m, dtype=np.uint64)
    key[:m] = src
    key[m:] = dst
    key <<= np.uint64(32)
    key[:m] |= dst.astype(np.uint64)
    key[m:] |= src.astype(np.uint64)
    del src, dst
    key.sort()
    first = np.empty(key.size, dtype=bool)
    first[:1] = True
    np.not_equal(key[1:], key[:-1], out=first[1:])
    key = key[first]
    if sys.byteorder == "little":  # the two 32-bit halves of a key are (column, row)
        halves = key.view(np.uint32)
        indices, rows = halves[0::2].astype(np.int32), halves[1::2]
    else:
        indices, rows = (key & np.uint64(0xFFFFFFFF)).astype(np.int32), key >> np.uint64(32)
    indptr = np.zeros(n + 1, dtype=setup_kernel.pointer_dtype(m))
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    return indptr, indices


def ring(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Each firm linked to its two ring neighbours (verification network, Fibich & Gibori 2010)."""
    i = np.arange(n, dtype=np.int64)
    indices = np.stack(((i - 1) % n, (i + 1) % n), axis=1).ravel().astype(np.int32)
    return np.arange(0, 2 * n + 1, 2, dtype=setup_kernel.pointer_dtype(n)), indices
