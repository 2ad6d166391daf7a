"""The model's replicate-independent tables of a population, cached with it.

Everything here depends on the population structure (and sometimes its readiness column or a
scenario constant), not on the replicate's random numbers, so it is computed once and kept in
``pop.derived``: the batch path (:mod:`sim.core.batch`) reuses a cached structure, and with it
these tables, for every replicate that runs on it. Tables are read-only; counts that change
during a run are copied by the run's state (:mod:`sim.core.state`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from sim.core import columns, kernel, setup_kernel, stage_kernel
from sim.core.policies import N_CELLS, N_CITIES, N_CLUSTERS
from sim.core.population import ABOVE, LEAD, N_SIZE, Population


def count(group: np.ndarray, mask: np.ndarray, size: int) -> np.ndarray:
    """Firms with ``mask`` set in each of ``size`` groups (float64, exact)."""
    return kernel.count_in_groups(group, mask, size)


def static_tables(pop: Population) -> dict[str, np.ndarray]:
    """Group ids and the start counts of ``pop``, computed once and kept in ``pop.derived``.

    Park x size-class groups: every group-level term of the hazard (market and policy rates, park
    and cluster-city shares) is constant inside one, so it is computed per group and gathered
    once per firm. Start counts are those of the firms present at the start.
    """
    t = pop.derived.get("model")
    if t is not None:
        return t
    is_above = pop.size_class <= ABOVE
    is_lead = pop.size_class == LEAD
    # Narrow ids for the compiled loop (uint16 while the groups fit, 65,536: about 4,700,000 firms,
    # else int32: the loop streams them, 2 bytes a firm-step less); the NumPy path gathers with
    # intp ids (NumPy converts narrower indices first: measured 2.7x slower), kept only when it
    # is the path in use (the int64 column is 55 MB at 5,000,000 firms, touched once at set-up).
    pg32 = np.multiply(pop.park, 4, dtype=np.int32)
    pg32 += pop.size_class
    compiled = kernel.kernel_name() == "numba"
    narrow = pop.n_parks * 4 <= np.iinfo(np.uint16).max + 1
    if compiled:
        pg = pg32.astype(np.uint16) if narrow else pg32
    else:
        pg = pg32.astype(np.intp)
    pg_park = np.arange(pop.n_parks * 4) // 4
    pg_cc = pop.park_cluster[pg_park].astype(np.int64) * N_CITIES + pop.park_city[pg_park]
    cc = pop.cluster.astype(np.int16)  # 420 cluster-cities: int16 (was int64, 55 MB at 5,000,000 firms)
    cc *= N_CITIES
    cc += pop.city
    # The compiled count updates and onboarding read a firm's cluster-city and size class from its
    # cell id (cc x 4 + size class, as build_population makes it) instead of two more columns at
    # random: checked here, once per structure, so another encoding falls back to the columns.
    cell_coded = (N_SIZE == 4 and (kernel.ABOVE_CODE, kernel.LEAD_CODE) == (ABOVE, LEAD)
                  and bool(np.array_equal(cc, pop.cell >> 2)) and bool(np.array_equal(pop.size_class, pop.cell & 3)))
    pres = np.zeros(pop.n_firms, dtype=bool)
    pres[:pop.n_initial] = True
    ab = pres & is_above
    ncc = N_CLUSTERS * N_CITIES
    chain_n, chain_as, lead_n = pop.start_partner_counts(partner_count_dtype(pop))
    lead_n = lead_n.astype(leader_count_dtype(pop, is_lead, lead_n), copy=False)
    t = {
        # int32 firm indices: read once, by the initial adopters' draw (half the bytes of intp).
        "initial_above": columns.indices(is_above[:pop.n_initial]),
        "initial_smes": columns.indices(~is_above[:pop.n_initial]),
        "is_above": is_above, "above_bits": firm_bits(is_above), "is_lead": is_lead, "pg": pg, "pg_park": pg_park, "pg_cc": pg_cc,
        "pg_cell": pg_cc * 4 + np.arange(pop.n_parks * 4) % 4, "cc": cc, "cell_coded": np.array(cell_coded),
        "park_n": count(pop.park, pres, pop.n_parks), "park_as": count(pop.park, ab, pop.n_parks),
        "cc_n": count(cc, pres, ncc), "cc_as": count(cc, ab, ncc), "cell_n": count(pop.cell, pres, N_CELLS),
        "chain_n": chain_n, "chain_as": chain_as, "lead_n": lead_n,
    }
    # One word per firm of what onboarding reads at random (compiled path only; empty: the columns).
    word = stage_kernel.onboard_words(pop.adj_indptr, pg, pop.cell, t["pg_cell"]) if compiled else None
    t["onboard_word"] = np.empty(0, dtype=np.uint64) if word is None else word
    if compiled:
        # The compiled cloud pass reads the group ids size class first (size class x parks + park,
        # kernel.cloud_deciders reorders the group tables alike): the ids of the SMEs and service
        # firms (97% of firms) then point into two runs of the rate table of 27 KB each, instead of
        # every line of its 110 KB, so more of its gathers hit the L1 cache. Measured 2026-11-30
        # (two runs each way, alternating, one structure): cloud stage 0.168-0.171 -> 0.156-0.159 s
        # per run.
        by_class = np.multiply(pop.size_class, pop.n_parks, dtype=np.int32)
        by_class += pop.park
        t["pg"] = by_class.astype(np.uint16) if narrow else by_class
    for v in t.values():
        v.flags.writeable = False
    pop.derived["model"] = t
    return t


def firm_bits(mask: np.ndarray) -> np.ndarray:
    """``mask`` (bool per firm) as a bitmap: bit ``f % 64`` of uint64 word ``f // 64`` is firm
    f's. The compiled count update tests a random partner's bit in it (344 KB at 2,750,000 firms:
    it stays in the L2 cache, where the bool column, 8x larger, would not)."""
    words = np.zeros((mask.size + 63) // 64 * 8, dtype=np.uint8)
    packed = np.packbits(mask, bitorder="little")
    words[:packed.size] = packed
    return words.view("<u8")


def partner_count_dtype(pop: Population) -> np.dtype:
    """The dtype of a run's two partner counts the cloud stage reads for every firm every step
    (``FirmState.chain_n``: partners present, ``chain_cloud``: partners on the cloud): int16 while
    every firm's links fit (a count never exceeds the firm's degree), else float32.

    Why: the cloud stage streams every present firm's columns each step and is bound by their
    bytes; two int16 counts are 4 bytes a firm-step less than two float32 ones, and the share
    ``num / max(den, 1)`` converts the same integers to float32 first, so it is the same float32
    division (integers below 2**24 are exact in float32): the same bytes.
    """
    indptr = pop.adj_indptr
    most = int(np.max(indptr[1:] - indptr[:-1])) if pop.n_firms else 0
    return np.dtype(np.int16) if most <= np.iinfo(np.int16).max else np.dtype(np.float32)


def leader_count_dtype(pop: Population, is_lead: np.ndarray, start_counts: np.ndarray | None = None) -> np.dtype:
    """The dtype of a run's two leader-partner counts (``FirmState.lead_n``: chain leaders among
    the partners present, ``lead_trans``: transformed ones): int8 while no firm has more than 127
    links to chain leaders (the most either count can reach), else float32.

    Why: the compiled cloud stage reads the leaders' share of every firm every step; two int8 counts
    are 2 bytes against 4 for the stored float32 share, and the share is the same float32 division
    of the same integers (``FirmState.lead_share`` is still kept, for the NumPy path).

    ``start_counts``: the leader partners present at the start of every firm (``lead_n`` of
    :func:`static_tables`); when every leader is present at the start (no leader enters later,
    as :func:`sim.core.population.build_population` makes them), their largest value is the
    most, without a pass over the leaders' links.
    """
    if start_counts is not None and not is_lead[pop.n_initial:].any():
        most = int(start_counts.max()) if start_counts.size else 0
    else:
        leaders = np.flatnonzero(is_lead)
        rows = kernel.gather_rows(pop.adj_indptr, pop.adj_indices, leaders) if leaders.size else leaders
        most = int(np.bincount(rows).max()) if rows.size else 0
    return np.dtype(np.int8) if most <= np.iinfo(np.int8).max else np.dtype(np.float32)


def young_firms(pop: Population, min_age_months: int) -> tuple[np.ndarray, np.ndarray]:
    """Firms below the voucher age at the start, ordered by the month they reach it (stable),
    and that month; cached with the population per minimum age."""
    key = ("voucher_young", int(min_age_months))
    if key not in pop.derived:
        is_young = np.empty(pop.n_firms, dtype=bool)  # eligibility month > 0, a block at a time
        for lo, hi in columns.blocks(pop.n_firms):
            np.greater(pop.birth_month[lo:hi].astype(np.int32) + min_age_months, 0, out=is_young[lo:hi])
        young = columns.indices(is_young)
        elig_month = pop.birth_month[young].astype(np.int32) + min_age_months
        # A stable sort of 16-bit keys is a radix sort (linear); the months fit in 16 bits.
        # Compiled: a counting sort over the months (1 .. the last), the same order.
        narrow = elig_month.size == 0 or int(elig_month.max()) <= np.iinfo(np.int16).max
        if kernel.kernel_name() == "numba" and elig_month.size and narrow:
            order, _ = setup_kernel.stable_group_order(elig_month, int(elig_month.max()) + 1)
        else:
            order = np.argsort(elig_month.astype(np.int16) if narrow else elig_month, kind="stable")
        pop.derived[key] = (young[order], elig_month[order])
    return pop.derived[key]


def exit_order(pop: Population) -> tuple[np.ndarray, np.ndarray]:
    """Firms ordered by exit month (stable: ascending index within a month) and their sorted exit
    months, cached with the population: the firms leaving in month k are a slice, not a pass over
    every firm."""
    hit = pop.derived.get("exit_order")
    if hit is None:
        order = np.argsort(pop.exit_month, kind="stable")
        hit = pop.derived["exit_order"] = (order, pop.exit_month[order])
        for a in hit:
            a.flags.writeable = False
    return hit


def from_readiness(pop: Population, key: tuple, make: Callable[[], np.ndarray]) -> np.ndarray:
    """A read-only table computed by ``make()`` from ``pop.readiness``, cached with the population
    while its readiness column is the same array: a structure reused with a redrawn readiness
    column (:func:`sim.core.population.with_readiness`) shares the derived tables of the first,
    so the entry keeps the column it was computed from and is recomputed for another."""
    hit = pop.derived.get(key)
    if hit is not None and hit[0] is pop.readiness:
        return hit[1]
    table = make()
    table.flags.writeable = False
    pop.derived[key] = (pop.readiness, table)
    return table


def readiness_dt(pop: Population, dt_years: float) -> np.ndarray:
    """``readiness x dt`` of every firm (float32): depends on the structure and the sub-steps
    only, not on the replicate."""
    return from_readiness(pop, ("readiness_dt", float(dt_years)), lambda: pop.readiness * np.float32(dt_years))


def by_priority(firms: np.ndarray, priority: np.ndarray) -> np.ndarray:
    """``firms`` (ascending indices) ordered by ``priority`` (floats in [0, 1)), ties by index: the
    stable sort by priority, as one sort of 64-bit keys (priority bits, index). Non-negative
    floats order like their bit patterns, so the keys order exactly as (priority, index); this
    sort is ~8x faster than a stable argsort of the priorities (measured, 13,000 firms)."""
    bits = priority[firms].view(np.uint32).astype(np.uint64)
    keys = (bits << np.uint64(32)) | firms.astype(np.uint64)
    return (np.sort(keys) & np.uint64(0xFFFFFFFF)).astype(firms.dtype)
