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
link loop selects between computed choices, the Poisson loop advances by a flag, and rows of at
most 8 entries are sorted by a min/max network.
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
    def partners_below(indptr, indices, k, out):
        # For every firm, its partners with an index below k: a compare per link, no lookup.
        for r in range(out.size):
            c = 0
            for j in range(indptr[r], indptr[r + 1]):
                c += indices[j] < k
            out[r] = c
        return 0

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def partners_below_each(indptr, indices, k0, k1, k2, out0, out1, out2):
        # partners_below for three bounds in one pass over the rows (the row's loop, whose
        # varying length costs a mispredicted branch per row, is paid once for three counts).
        for r in range(out0.size):
            c0 = 0
            c1 = 0
            c2 = 0
            for j in range(indptr[r], indptr[r + 1]):
                b = indices[j]
                c0 += b < k0
                c1 += b < k1
                c2 += b < k2
            out0[r] = c0
            out1[r] = c1
            out2[r] = c2
        return 0

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def draw_rows(shifted, n_cols, row, u, out):
        # searchsorted(shifted, row + u, side="right") - row * n_cols, capped at n_cols - 1.
        # Every entry before row * n_cols is <= row <= row + u and the row's own entries are
        # nondecreasing (see draw_rows below), so that is how many of the row's entries are
        # <= row + u (capped: a scan past the row's last entry, row + 1, is capped too); counted
        # without branches, which the compiler vectorizes (a scan that stops mispredicts).
        cap = n_cols - 1
        for i in range(row.size):
            x = np.float64(row[i]) + u[i]
            base = row[i] * n_cols
            p = 0
            for j in range(n_cols):
                p += shifted[base + j] <= x
            out[i] = p if p < cap else cap
        return 0

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def parks(offset, per_cc, cc, u, out):
        for i in range(cc.size):
            c = cc[i]
            p = np.int64(u[i] * np.float64(per_cc[c]))
            last = per_cc[c] - 1
            out[i] = offset[c] + (p if p < last else last)
        return 0

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def scale_by(x, a, ia, b, ib, out):
        # out = float32((x * a[ia]) * b[ib]): the NumPy expression's float64 products in its
        # order, without converting the int8 indices to intp first.
        for i in range(x.size):
            out[i] = (x[i] * a[ia[i]]) * b[ib[i]]
        return 0

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def capped_for(x, code, which, cap, out):
        # out = float32(min(x, cap) where code == which, else x).
        for i in range(x.size):
            v = x[i]
            out[i] = (v if v <= cap else cap) if code[i] == which else v
        return 0

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def neg_key_bins(keybits, idx, hist):
        # How many of -key[idx] fall in each bin of the top 16 bits of their order (the bits
        # of -key as an unsigned integer ordered like the values: sign set -> all bits flipped,
        # else the sign bit set; written out, see merge_blocks on the cache).
        sign = np.uint64(1) << np.uint64(63)
        for i in range(idx.size):
            nb = keybits[idx[i]] ^ sign
            hist[(~nb if nb >> np.uint64(63) else nb | sign) >> np.uint64(48)] += 1
        return 0

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def neg_keys_in_bin(key, keybits, idx, b, out):
        # The values -key[idx] of bin b (neg_key_bins), in index order; returns how many.
        sign = np.uint64(1) << np.uint64(63)
        j = 0
        for i in range(idx.size):
            f = idx[i]
            nb = keybits[f] ^ sign
            if ((~nb if nb >> np.uint64(63) else nb | sign) >> np.uint64(48)) == b:
                out[j] = -key[f]
                j += 1
        return j

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def neg_keys_at_most(key, idx, v, out):
        # The firms of idx with -key <= v, in index order (out may be empty: then only counted).
        j = 0
        keep = out.size > 0
        for i in range(idx.size):
            f = idx[i]
            if -key[f] <= v:
                if keep:
                    out[j] = f
                j += 1
        return j

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def categories(cdf, u, out):
        # How many entries of the nondecreasing cdf are <= u: where a forward scan stops,
        # counted without branches (vectorized).
        k = cdf.size
        for i in range(u.size):
            x = u[i]
            j = 0
            for c in range(k):
                j += cdf[c] <= x
            out[i] = j
        return 0

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def poisson_mult(u, enlam, out, i, x, prod):
        # NumPy's Poisson draw for lam < 10 (random_poisson_mult: multiply uniforms until the
        # product is <= exp(-lam); the count of those above is the draw), over the uniforms u,
        # resuming firm i's draw at (x, prod); returns where it stopped and the uniforms used.
        # Without a branch on the product (it ends a draw at random, ~1 in 3 uniforms): the
        # count is written at every uniform and the position advanced when a draw ends.
        j = 0
        while j < u.size and i < out.size:
            prod *= u[j]
            j += 1
            done = prod <= enlam
            out[i] = x
            i += done
            x = 0 if done else x + 1
            prod = 1.0 if done else prod
        return i, x, prod, j

    loops = {"poisson_mult": poisson_mult, "group_order": group_order, "fill_groups": fill_groups, "link_chunk": link_chunk,
             "bucket_links": bucket_links, "merge_blocks": merge_blocks, "marked_partners": marked_partners,
             "partners_below": partners_below, "partners_below_each": partners_below_each, "draw_rows": draw_rows, "parks": parks, "scale_by": scale_by, "capped_for": capped_for,
             "neg_key_bins": neg_key_bins, "neg_keys_in_bin": neg_keys_in_bin, "neg_keys_at_most": neg_keys_at_most,
             "categories": categories}
    _compiled.update({name: interruptible(f) for name, f in loops.items()})
    return _compiled


def load() -> dict[str, object]:
    """Load the compiled set-up loops now (the model's initialisation uses
    :func:`marked_partners`); nothing without Numba. Returns them by name (empty without Numba)."""
    return _kernels() if kernel_name() == "numba" else {}


POISSON_BLOCK = 1 << 16
"""Uniforms drawn at a time for :func:`poisson` (512 KB)."""


def poisson(rng: np.random.Generator, lam: float, n: int) -> np.ndarray:
    """``rng.poisson(lam, size=n)`` as int32, leaving ``rng`` where that call leaves it, for
    ``0 < lam < 10`` (NumPy's multiplication method; other means are not handled here).

    The uniforms are drawn in blocks from a copy of the bit generator (what ``Generator.random``
    draws is what the Poisson draw reads, one 64-bit output each), consumed by the compiled loop,
    and ``rng`` is then advanced by the number used: ~2x faster than NumPy's draw, whose cost is
    a call per uniform, and no int64 column.
    """
    if not 0 < lam < 10:
        raise ValueError(f"poisson: lam={lam} outside (0, 10)")
    loop = _kernels()["poisson_mult"]
    bit_gen = type(rng.bit_generator)()
    bit_gen.state = rng.bit_generator.state
    copy = np.random.Generator(bit_gen)
    out = np.empty(n, dtype=np.int32)
    enlam = np.exp(-lam)  # the C code's exp(-lam), computed once (the same double)
    i, x, prod, used = 0, 0, 1.0, 0
    while i < n:
        i, x, prod, j = loop(copy.random(POISSON_BLOCK), enlam, out, i, x, prod)
        used += j
    rng.bit_generator.advance(used)
    return out


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


CHUNK_FIRMS = 1 << 15
"""Firms whose links are drawn at a time: their uniforms (4 float32 per link) and pick positions
stay in the L2 cache (~1 MB) instead of a 16-bytes-per-link array of all the links."""


def supply_csr(n_links: np.ndarray, uniforms: list[np.random.Generator], cc, cl, industrial, same_share,
               lead_share, n_cc, n_cl, cands, starts, size, group_of, leads, lead_starts,
               lead_size) -> tuple[np.ndarray, np.ndarray]:
    """The symmetric CSR (indptr int64, indices int32) of the links of
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
    indptr = np.zeros(n + 1, dtype=np.int64)
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
    """CSR (indptr int64, indices int32, columns sorted, no repeats) of the undirected links
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
    out = np.empty(indptr.size - 1, dtype=np.float32)
    _kernels()["partners_below"](indptr, indices, int(k), out)
    return out


def partners_below_each(indptr: np.ndarray, indices: np.ndarray, ks: tuple[int, int, int]) -> list[np.ndarray]:
    """:func:`partners_below` for each of the three bounds ``ks``, in one pass over the links."""
    outs = [np.empty(indptr.size - 1, dtype=np.float32) for _ in ks]
    _kernels()["partners_below_each"](indptr, indices, *(int(k) for k in ks), *outs)
    return outs


def draw_rows(shifted: np.ndarray, n_cols: int, row: np.ndarray, u: np.ndarray, out: np.ndarray) -> np.ndarray:
    """The int8 column of :func:`sim.core.columns.draw_rows` written into ``out`` (``shifted``:
    the row-shifted cumulative weights, nondecreasing, each row ending at exactly ``row + 1``)."""
    _kernels()["draw_rows"](shifted, n_cols, row, u, out)
    return out


def assign_parks(offset: np.ndarray, per_cc: np.ndarray, cc: np.ndarray, u: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Park (int32) of each firm: ``offset[cc] + min(floor(u * per_cc[cc]), per_cc[cc] - 1)``,
    written into ``out``."""
    _kernels()["parks"](offset, per_cc, cc, u, out)
    return out


def kth_largest_key(key: np.ndarray, idx: np.ndarray, k: int) -> tuple[float, int]:
    """``v``, the k-th smallest of ``-key[idx]`` (what ``np.partition(-key[idx], k - 1)[k - 1]``
    gives; ``1 <= k <= idx.size``, no NaN), and how many of ``-key[idx]`` are ``<= v``: a radix
    select (the values binned by the top 16 bits of their order, then only v's bin partitioned),
    two passes over the keys instead of a partition of all of them (and no copy of them)."""
    k_ = _kernels()
    keybits = key.view(np.uint64)
    hist = np.zeros(1 << 16, dtype=np.int64)
    k_["neg_key_bins"](keybits, idx, hist)
    below = np.cumsum(hist)
    b = int(np.searchsorted(below, k))  # the first bin whose cumulative count reaches k
    before = int(below[b - 1]) if b else 0
    vals = np.empty(int(hist[b]), dtype=np.float64)
    k_["neg_keys_in_bin"](key, keybits, idx, np.uint64(b), vals)
    v = vals[np.argpartition(vals, k - before - 1)[k - before - 1]]
    return float(v), k_["neg_keys_at_most"](key, idx, v, np.empty(0, dtype=idx.dtype))


def keys_at_most(key: np.ndarray, idx: np.ndarray, v: float, count: int) -> np.ndarray:
    """The ``count`` firms of ``idx`` whose ``-key`` is ``<= v``, in index order."""
    out = np.empty(count, dtype=idx.dtype)
    _kernels()["neg_keys_at_most"](key, idx, np.float64(v), out)
    return out


def scale_by(x: np.ndarray, a: np.ndarray, ia: np.ndarray, b: np.ndarray, ib: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``(x * a[ia]) * b[ib]`` (float64 products) written into ``out`` (float32)."""
    _kernels()["scale_by"](x, a, ia, b, ib, out)
    return out


def capped_for(x: np.ndarray, code: np.ndarray, which: int, cap: float, out: np.ndarray) -> np.ndarray:
    """``x`` with ``np.minimum(x, cap)`` where ``code == which``, written into ``out`` (float32)."""
    _kernels()["capped_for"](x, code, code.dtype.type(which), np.float64(cap), out)
    return out


def draw_categories(cdf: np.ndarray, u: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``np.searchsorted(cdf, u, side="right")`` as int8 for a short nondecreasing ``cdf`` (at
    most 127 categories) by counting the entries <= u: with ``cdf = p.cumsum() / p.cumsum()[-1]``
    and ``u = rng.random(n)`` this is what ``rng.choice(len(p), n, p=p)`` draws. Written into
    ``out`` if given."""
    out = np.empty(u.size, dtype=np.int8) if out is None else out
    _kernels()["categories"](cdf, u, out)
    return out
