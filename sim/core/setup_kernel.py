"""The loops of the population build, compiled with Numba (the optional ``fast`` extra).

Each function here gives exactly the arrays of a NumPy construction in :mod:`sim.core.population`
or :mod:`sim.core.links`, which remain the reference and the path used without Numba (or with
``GDCLOUD_KERNEL=numpy``); ``tests/test_population_build.py`` builds populations both ways and
compares the bytes. Callers choose with :func:`sim.core.kernel.kernel_name`; nothing here is
called without Numba. The compiled loops avoid the NumPy path's temporaries (repeats of firm
columns over links, 64-bit sort keys, float64 index arrays), which at full scale are memory-bound.

Arrays that outlive the build are NumPy-allocated: the adjacency and the firm columns are written
straight into arrays allocated by NumPy (the columns a block of firms at a time), so that
:mod:`sim.core.memory` decides their pages (NumPy's huge-page advice is off by default there;
Numba's allocator never asks for huge pages).

The links are drawn a chunk of firms at a time (:data:`CHUNK_FIRMS`), so their uniforms and
picks stay in the cache, and the adjacency is built without a scatter of both directions: each
firm's own targets (in the order drawn) are merged with the counting-sorted links to it, which
come out ascending. The rows are made a block of :data:`TARGET_BLOCK_BITS` rows at a time: the
links partitioned by block of targets, each block's counting sort done in the cache and its rows
written straight into the final column array; the kept links per firm are counted into the
Poisson draws' own array. At 5,000,000 firms (13.8 M links drawn) the link temporaries went from
~0.55 GB to ~0.11 GB, and the copies of the adjacency (~0.17 GB) are gone. The hot loops branch
on no random number where they can (a branch on a coin flip mispredicts every other time): the
link loop selects between computed choices and rows of at most 8 entries are sorted by a min/max
network. The loops of the firm columns, the Poisson link counts and the initial adopters' selection
are in :mod:`sim.core.column_kernel`.
"""

from __future__ import annotations

import numpy as np

from sim.core.kernel import interruptible, kernel_name

_compiled: dict[str, object] = {}


def _kernels() -> dict[str, object]:  # noqa: C901 - one closure per compiled loop, compiled together
    """Compile (or load from Numba's on-disk cache) the set-up loops, once per process."""
    if _compiled:
        return _compiled
    import numba

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def group_order(groups, n_groups):
        # Counting sort: the positions sorted by group, ties in index order (a stable sort).
        counts = np.zeros(n_groups, dtype=np.int64)
        for g in groups:
            counts[g] += 1
        pos = np.zeros(n_groups, dtype=np.int64)
        for g in range(1, n_groups):
            pos[g] = pos[g - 1] + counts[g - 1]
        order = np.empty(groups.size, dtype=np.int64)
        for i in range(groups.size):
            g = groups[i]
            order[pos[g]] = i
            pos[g] += 1
        return order, counts

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def fill_groups(groups, members, n_groups, out, base):
        # Counting sort into out[base:]: the members (or, if members is empty, the positions)
        # ordered by group, ties in index order (a stable sort); returns the group sizes.
        counts = np.zeros(n_groups, dtype=np.int64)
        for g in groups:
            counts[g] += 1
        pos = np.empty(n_groups, dtype=np.int64)
        s = base
        for g in range(n_groups):
            pos[g] = s
            s += counts[g]
        by_position = members.size == 0
        for i in range(groups.size):
            g = groups[i]
            out[pos[g]] = i if by_position else members[i]
            pos[g] += 1
        return counts

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def link_chunk(i0, i1, n_links, cc, cl, industrial, u, same_share, lead_share, n_cc, n_cl,
                   cands, starts, size, group_of, leads, lead_starts, lead_size, pick, owner,
                   dst, k, fcount, bcount, shift):
        # The links of firms i0..i1-1 (their uniforms: u[:, 0:...]) as the NumPy construction
        # of sim.core.links.supply_links draws them (same float32 comparisons, same float64
        # products), in passes over the chunk's links that branch on no random number (a branch
        # per coin flip mispredicts about once per link: ~40% of this loop's time before):
        # the owner of every link (a mark after each firm's last link, then a running sum);
        # where its pick lies in the candidate table (both choices computed, one selected;
        # a pick of a chain leader coded -2 - leader); the picks gathered from the table (a
        # loop of independent loads whose cache misses overlap, the targets written over the
        # codes); then the kept links (no self-link, no missing target) appended to dst[k:]
        # and counted per source in fcount (it may be n_links itself: zeroed once read) and
        # per block of targets (bcount[1 + (target >> shift)], for bucket_links).
        t_all = 0
        for i in range(i0, i1):
            t_all += n_links[i]
        for t in range(t_all):
            owner[t] = 0
        t = 0
        for i in range(i0, i1):
            t += n_links[i]
            if t < t_all:
                owner[t] += 1
        run = i0
        for t in range(t_all):
            run += owner[t]
            owner[t] = run
        has_leads = leads.size > 1
        half = np.float32(0.5)
        for t in range(t_all):
            i = owner[t]
            big = u[2, t] >= half
            g_city = cc[i] + (n_cc if big else 0)
            g_cluster = cl[i] + 2 * n_cc + (n_cl if big else 0)
            g = group_of[g_city if u[1, t] < same_share else g_cluster]
            up = np.float64(u[3, t])
            at = size[g] * up
            last = size[g] - 1.0
            code = np.int64(at if at <= last else last) + starts[g]
            c = cl[i]  # a chain leader of the cluster (an empty group: the -1 sentinel)
            at = lead_size[c] * up
            last = lead_size[c] - 1.0
            p = leads[np.int64(at if at <= last else last) + lead_starts[c]]
            to_lead = has_leads & industrial[i] & (u[0, t] < lead_share) & (p >= 0)
            pick[t] = -2 - np.int64(p) if to_lead else code
        for t in range(t_all):
            code = pick[t]
            d = cands[code if code >= 0 else 0]
            pick[t] = d if code >= 0 else -2 - code
        for i in range(i0, i1):
            fcount[i] = 0
        for t in range(t_all):
            d = pick[t]
            i = owner[t]
            if d >= 0 and d != i:
                dst[k] = d
                fcount[i] += 1
                bcount[1 + (d >> shift)] += 1
                k += 1
        return k

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def bucket_links(n, dst, fcount, shift, pos, bsrc, bloc):
        # The links (source, target) in the order of target >> shift (a block of targets),
        # sources ascending within a block: a stable partition of the links, read in source
        # order (dst lists the targets of source 0, then 1...) and written into one stream per
        # block, whose current cache lines stay in L1; the target is kept as its row in the
        # block (bloc). pos: the blocks' starts, advanced here.
        mask = (1 << shift) - 1
        k = 0
        for i in range(n):
            for _ in range(fcount[i]):
                d = dst[k]
                b = d >> shift
                p = pos[b]
                bsrc[p] = i
                bloc[p] = d & mask
                pos[b] = p + 1
                k += 1
        return 0

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def merge_blocks(n, dst, fcount, shift, bstart, bsrc, bloc, indptr, cols, lcount, rev):
        # The rows of the symmetric adjacency, a block of 2**shift rows at a time: the block's
        # reverse links (bucket_links) counting-sorted by row into rev (in the cache: the
        # sources of the links to each row, ascending), then each row's own targets (dst, in
        # the order drawn) and reverse sources written in order without repeats, at the end
        # of cols. Returns the entries written. Long (~110 lines) because Numba's on-disk cache
        # does not keep a kernel that calls another kernel of this closure: the row code is
        # written out here. A row of at most 8 entries (most rows) is sorted by Batcher's
        # 19-comparator min/max network (no branch: both loads of each entry made, indices
        # clamped, one value selected; a sentinel above every firm pads the row) and written
        # without repeats by advancing the write position for a new value (cols has 8 spare
        # places); a longer row sorts its own targets by insertion and merges.
        big = np.int32(2147483647)
        dend = dst.size - 1
        rend = rev.size - 1
        w = 0
        a = 0
        indptr[0] = 0
        for blk in range(bstart.size - 1):
            r0 = blk << shift
            r1 = min(n, r0 + (1 << shift))
            for x in range(r1 - r0 + 1):
                lcount[x] = 0
            for p in range(bstart[blk], bstart[blk + 1]):
                lcount[bloc[p] + 1] += 1
            for x in range(r1 - r0):
                lcount[x + 1] += lcount[x]
            for p in range(bstart[blk], bstart[blk + 1]):
                x = bloc[p]
                rev[lcount[x]] = bsrc[p]
                lcount[x] += 1
            q = 0  # lcount[x] is now the end of row r0 + x's sources in rev
            for r in range(r0, r1):
                f = fcount[r]
                qb = lcount[r - r0]
                n_row = f + qb - q
                if n_row <= 8:
                    o = dst[min(a + 0, dend)]
                    x = rev[max(min(q + 0 - f, rend), 0)]
                    v0 = o if 0 < f else (x if 0 < n_row else big)
                    o = dst[min(a + 1, dend)]
                    x = rev[max(min(q + 1 - f, rend), 0)]
                    v1 = o if 1 < f else (x if 1 < n_row else big)
                    o = dst[min(a + 2, dend)]
                    x = rev[max(min(q + 2 - f, rend), 0)]
                    v2 = o if 2 < f else (x if 2 < n_row else big)
                    o = dst[min(a + 3, dend)]
                    x = rev[max(min(q + 3 - f, rend), 0)]
                    v3 = o if 3 < f else (x if 3 < n_row else big)
                    o = dst[min(a + 4, dend)]
                    x = rev[max(min(q + 4 - f, rend), 0)]
                    v4 = o if 4 < f else (x if 4 < n_row else big)
                    o = dst[min(a + 5, dend)]
                    x = rev[max(min(q + 5 - f, rend), 0)]
                    v5 = o if 5 < f else (x if 5 < n_row else big)
                    o = dst[min(a + 6, dend)]
                    x = rev[max(min(q + 6 - f, rend), 0)]
                    v6 = o if 6 < f else (x if 6 < n_row else big)
                    o = dst[min(a + 7, dend)]
                    x = rev[max(min(q + 7 - f, rend), 0)]
                    v7 = o if 7 < f else (x if 7 < n_row else big)
                    v0, v1 = min(v0, v1), max(v0, v1)
                    v2, v3 = min(v2, v3), max(v2, v3)
                    v4, v5 = min(v4, v5), max(v4, v5)
                    v6, v7 = min(v6, v7), max(v6, v7)
                    v0, v2 = min(v0, v2), max(v0, v2)
                    v1, v3 = min(v1, v3), max(v1, v3)
                    v4, v6 = min(v4, v6), max(v4, v6)
                    v5, v7 = min(v5, v7), max(v5, v7)
                    v1, v2 = min(v1, v2), max(v1, v2)
                    v5, v6 = min(v5, v6), max(v5, v6)
                    v0, v4 = min(v0, v4), max(v0, v4)
                    v1, v5 = min(v1, v5), max(v1, v5)
                    v2, v6 = min(v2, v6), max(v2, v6)
                    v3, v7 = min(v3, v7), max(v3, v7)
                    v2, v4 = min(v2, v4), max(v2, v4)
                    v3, v5 = min(v3, v5), max(v3, v5)
                    v1, v2 = min(v1, v2), max(v1, v2)
                    v3, v4 = min(v3, v4), max(v3, v4)
                    v5, v6 = min(v5, v6), max(v5, v6)
                    cols[w] = v0
                    w += 0 < n_row
                    cols[w] = v1
                    w += (1 < n_row) & (v1 != v0)
                    cols[w] = v2
                    w += (2 < n_row) & (v2 != v1)
                    cols[w] = v3
                    w += (3 < n_row) & (v3 != v2)
                    cols[w] = v4
                    w += (4 < n_row) & (v4 != v3)
                    cols[w] = v5
                    w += (5 < n_row) & (v5 != v4)
                    cols[w] = v6
                    w += (6 < n_row) & (v6 != v5)
                    cols[w] = v7
                    w += (7 < n_row) & (v7 != v6)
                else:
                    b = a + f
                    for j in range(a + 1, b):
                        c = dst[j]
                        i = j - 1
                        while i >= a and dst[i] > c:
                            dst[i + 1] = dst[i]
                            i -= 1
                        dst[i + 1] = c
                    p = a
                    t = q
                    prev = -1
                    while p < b or t < qb:
                        if t >= qb or (p < b and dst[p] <= rev[t]):
                            c = dst[p]
                            p += 1
                        else:
                            c = rev[t]
                            t += 1
                        if c != prev:
                            cols[w] = c
                            w += 1
                            prev = c
                indptr[r + 1] = w
                a += f
                q = qb
        return w

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def marked_partners(indptr, indices, bits, out):
        # For every firm, its partners whose bit is set: a pass over the rows in order
        # (sequential reads of the links and writes; random reads of a bit mask, 0.9 MB at
        # 5,000,000 firms, which stays in the L2 cache).
        for r in range(out.size):
            c = 0
            for j in range(indptr[r], indptr[r + 1]):
                b = indices[j]
                c += (bits[b >> 3] >> (b & 7)) & 1
            out[r] = c
        return 0

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def partners_below_each(indptr, indices, k0, k1, k2, out0, out1, out2, rows, buf):
        # For every firm, its partners with an index below k0, k1 and k2: a block of ``rows``
        # rows at a time, the three compares of each link packed in 21-bit fields of a running
        # sum over the block's links (``buf``, in the cache; fewer than 2**21 links a block),
        # then one difference per row. No loop per row, whose varying length mispredicts once
        # a row (measured at 2,000,000 firms: 39-41 -> 27-28 ms).
        field = np.int64((1 << 21) - 1)
        n = out0.size
        for r0 in range(0, n, rows):
            r1 = min(r0 + rows, n)
            a = indptr[r0]
            acc = np.int64(0)
            buf[0] = 0
            for j in range(a, indptr[r1]):
                b = indices[j]
                acc += np.int64(b < k0) + (np.int64(b < k1) << 21) + (np.int64(b < k2) << 42)
                buf[j - a + 1] = acc
            for r in range(r0, r1):
                d = buf[indptr[r + 1] - a] - buf[indptr[r] - a]
                out0[r] = d & field
                out1[r] = (d >> 21) & field
                out2[r] = d >> 42
        return 0

    loops = {"group_order": group_order, "fill_groups": fill_groups, "link_chunk": link_chunk,
             "bucket_links": bucket_links, "merge_blocks": merge_blocks, "marked_partners": marked_partners,
             "partners_below_each": partners_below_each}
    _compiled.update({name: interruptible(f) for name, f in loops.items()})
    return _compiled


def load() -> dict[str, object]:
    """Load the compiled set-up loops now (the model's initialisation uses
    :func:`marked_partners`); nothing without Numba. Returns them by name (empty without Numba)."""
    return _kernels() if kernel_name() == "numba" else {}



def stable_group_order(cand_group: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """``(np.argsort(cand_group, kind="stable"), np.bincount(cand_group, minlength=n_groups))``
    by a counting sort (group ids in ``0..n_groups-1``)."""
    return _kernels()["group_order"](cand_group, n_groups)


def candidate_table(tables: list[tuple[np.ndarray | None, np.ndarray, int]]) -> tuple[np.ndarray, np.ndarray]:
    """The candidates of every ``(members, groups, n_groups)`` table (``members`` None: the
    positions ``0..len(groups)-1``) sorted by group, tables one after another, then a final -1
    (int32), and the group sizes (int64): what :func:`sim.core.links.group_order` and a
    concatenation give, written once into one array by a counting sort per table."""
    out = np.empty(sum(groups.size for _, groups, _ in tables) + 1, dtype=np.int32)
    out[-1] = -1
    fill, none = _kernels()["fill_groups"], np.empty(0, dtype=np.int32)
    counts, base = [], 0
    for members, groups, n_groups in tables:
        counts.append(fill(groups, none if members is None else members, n_groups, out, base))
        base += groups.size
    return out, np.concatenate(counts)


def pointer_dtype(links: int) -> type:
    """Row pointers' dtype for ``links`` undirected links (kept, repeats not yet removed): int32
    while both directions of every link fit (~1e9 links), else int64 (int32: 27.5 MB less at
    5,000,000 firms). Both constructions decide by it, so they give the same bytes."""
    return np.int32 if 2 * links + 8 <= np.iinfo(np.int32).max else np.int64


CHUNK_FIRMS = 1 << 15
"""Firms whose links are drawn at a time: their uniforms (4 float32 per link) and pick positions
stay in the L2 cache (~1 MB) instead of a 16-bytes-per-link array of all the links."""


def supply_csr(n_links: np.ndarray, uniforms: list[np.random.Generator], cc, cl, industrial, same_share,
               lead_share, n_cc, n_cl, cands, starts, size, group_of, leads, lead_starts,
               lead_size) -> tuple[np.ndarray, np.ndarray]:
    """The symmetric CSR (indptr int32 below a billion links, indices int32) of the links of
    :func:`sim.core.links.supply_links`: the same arrays as its NumPy construction.

    ``uniforms[r]`` draws row r of the NumPy path's ``rng.random((4, m), dtype=float32)``
    (:func:`sim.core.links.uniform_rows`); the rows are drawn a chunk of firms at a time. The
    links are kept as targets in source order plus counts (no source column); the links by
    target are a counting sort of them, and each row of the adjacency is the merge of the two,
    written once into NumPy-allocated arrays (no copy of Numba-allocated ones, see the module
    docstring).
    """
    k_ = _kernels()
    n = n_links.size
    m = int(n_links.sum())
    firsts = np.arange(0, n, CHUNK_FIRMS)
    # Per-chunk sums (reduceat would first widen all of n_links to int64: 55 MB at 5 M firms).
    per_chunk = np.array([int(n_links[i0:i0 + CHUNK_FIRMS].sum()) for i0 in firsts.tolist()], dtype=np.int64)
    widest = int(per_chunk.max()) if per_chunk.size else 0
    u = np.empty((4, widest), dtype=np.float32)
    pick, owner = np.empty(widest, dtype=np.int64), np.empty(widest, dtype=np.int32)
    dst = np.empty(m, dtype=np.int32)
    shift = TARGET_BLOCK_BITS
    block_count = np.zeros(_n_blocks(n, shift) + 1, dtype=np.int64)
    # The kept links per source are counted into n_links itself, a chunk once drawn (no
    # second column of the firms).
    fcount = n_links
    k = 0
    for i0, links_here in zip(firsts.tolist(), per_chunk.tolist(), strict=True):
        for r in range(4):
            uniforms[r].random(dtype=np.float32, out=u[r, :links_here])
        k = k_["link_chunk"](i0, min(i0 + CHUNK_FIRMS, n), n_links, cc, cl, industrial, u, same_share, lead_share,
                             n_cc, n_cl, cands, starts, size, group_of, leads, lead_starts, lead_size, pick, owner,
                             dst, k, fcount, block_count, shift)
    del u, pick, owner
    return _merge(n, dst[:k], fcount, block_count)


TARGET_BLOCK_BITS = 15
"""The rows of the adjacency are made a block of 2**15 rows at a time: the links are partitioned
by blocks of targets first, so that the counting sort of a block's links by target (counts 128 KB,
sources ~0.3 MB) stays in the cache: random accesses over the whole adjacency were what made the
build grow faster than the firms (at 5,000,000 firms the counting sort cost 0.27 s against 0.04 s
at 1,000,000)."""


def _n_blocks(n: int, shift: int) -> int:
    return ((n - 1) >> shift) + 1 if n else 0


def _merge(n: int, dst: np.ndarray, fcount: np.ndarray, block_count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """CSR of the links whose targets are ``dst`` in source order (``fcount`` per source;
    ``block_count[1 + b]``: the links to block b of targets); ``dst`` is sorted in place per
    source."""
    k_ = _kernels()
    shift = TARGET_BLOCK_BITS
    indptr = np.zeros(n + 1, dtype=pointer_dtype(dst.size))
    if dst.size == 0:
        return indptr, np.empty(0, dtype=np.int32)
    bstart = np.cumsum(block_count)
    bsrc = np.empty(dst.size, dtype=np.int32)
    bloc = np.empty(dst.size, dtype=np.uint16 if shift <= 16 else np.int32)  # a row in its block
    k_["bucket_links"](n, dst, fcount, shift, bstart[:-1].copy(), bsrc, bloc)
    count_type = np.int32 if dst.size < np.iinfo(np.int32).max else np.int64
    lcount = np.empty(min(n, 1 << shift) + 1, dtype=count_type)
    rev = np.empty(max(int(np.diff(bstart).max()), 1), dtype=np.int32)
    cols = np.empty(2 * dst.size + 8, dtype=np.int32)  # 8 spare places: see short_row
    w = k_["merge_blocks"](n, dst, fcount, shift, bstart, bsrc, bloc, indptr, cols, lcount, rev)
    return indptr, cols[:w]


def symmetric_csr(n: int, src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """CSR (indptr int32 or int64, indices int32, columns sorted, no repeats) of the undirected links
    ``src[i] -- dst[i]`` (no self-links, no -1): the compiled equivalent of the 64-bit key sort
    in :func:`sim.core.links.symmetric_csr` (same arrays)."""
    if src.size > 1 and np.any(src[1:] < src[:-1]):
        order = np.argsort(src, kind="stable")
        src, dst = src[order], dst[order]
    count_type = np.int32 if 2 * src.size < np.iinfo(np.int32).max else np.int64
    fcount = np.bincount(src, minlength=n).astype(count_type)
    block_count = np.zeros(_n_blocks(n, TARGET_BLOCK_BITS) + 1, dtype=np.int64)
    block_count[1:] = np.bincount(dst >> TARGET_BLOCK_BITS, minlength=block_count.size - 1)
    return _merge(n, np.array(dst, dtype=np.int32), fcount, block_count)


def marked_partners(indptr: np.ndarray, indices: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """For every firm, how many of its partners have ``mask`` set, as float32: counted over each
    firm's own row (the adjacency is symmetric), the same integers as adding one at the partners
    of every masked firm."""
    out = np.empty(indptr.size - 1, dtype=np.float32)
    _kernels()["marked_partners"](indptr, indices, np.packbits(mask != 0, bitorder="little"), out)
    return out


def partners_below(indptr: np.ndarray, indices: np.ndarray, k: int) -> np.ndarray:
    """For every firm, how many of its partners have an index below ``k``, as float32: what
    :func:`marked_partners` counts for the mask of the first ``k`` firms, by a compare instead of
    a bit lookup per link (0.08 against 0.10 s at 5,000,000 firms)."""
    return partners_below_each(indptr, indices, (k, k, k))[0]


def partners_below_each(indptr: np.ndarray, indices: np.ndarray, ks: tuple[int, int, int],
                        first_dtype=np.float32) -> list[np.ndarray]:
    """:func:`partners_below` for each of the three bounds ``ks``, in one pass over the links; the
    first count in ``first_dtype`` (which must hold every degree), the others float32."""
    outs = [np.empty(indptr.size - 1, dtype=dtype) for dtype in (first_dtype, np.float32, np.float32)]
    rows = 4096
    while True:  # the most links of a block of rows must fit a 21-bit field
        edges = np.append(indptr[::rows], indptr[-1])
        span = int(np.max(np.diff(edges))) if edges.size > 1 else 0
        if span < 1 << 21 or rows == 1:
            break
        rows //= 2
    if span >= 1 << 21:  # a firm with 2**21 links or more: a bit mask per bound
        return [marked_partners(indptr, indices, np.arange(indptr.size - 1) < k).astype(o.dtype) for k, o in
                zip(ks, outs, strict=True)]
    buf = np.empty(span + 1, dtype=np.int64)
    _kernels()["partners_below_each"](indptr, indices, *(int(k) for k in ks), *outs, rows, buf)
    return outs
