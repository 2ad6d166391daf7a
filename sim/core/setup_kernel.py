"""The loops of the population build, compiled with Numba (the optional ``fast`` extra).

Each function here gives exactly the arrays of a NumPy construction in :mod:`sim.core.population`
or :mod:`sim.core.links`, which remain the reference and the path used without Numba (or with
``GDCLOUD_KERNEL=numpy``); ``tests/test_population_build.py`` builds populations both ways and
compares the bytes. Callers choose with :func:`sim.core.kernel.kernel_name`; nothing here is
called without Numba. The compiled loops avoid the NumPy path's temporaries (repeats of firm
columns over links, 64-bit sort keys, float64 index arrays), which at full scale are memory-bound.

Arrays that outlive the build are handed back as NumPy-allocated copies (:func:`_owned`): NumPy
asks the kernel for transparent huge pages on large arrays and Numba's allocator does not, and the
simulation's random accesses to the adjacency and firm columns were measured ~10-20% slower on
4 KiB pages (same bytes either way).
"""

from __future__ import annotations

import numpy as np

from sim.core.kernel import interruptible

_compiled: dict[str, object] = {}


def _owned(a: np.ndarray) -> np.ndarray:
    """A NumPy-allocated copy of an array Numba allocated (see the module docstring)."""
    return np.array(a, copy=True)


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
    def links(n_links, cc, cl, industrial, u, same_share, lead_share, n_cc, n_cl,
              cands, starts, size, group_of, leads, lead_starts, lead_size):
        # The NumPy construction of sim.core.links.supply_links, one link at a time: the
        # customer group, the pick in it, the chain-leader override, then self-links and
        # missing targets dropped. Same float32 comparisons and float64 products.
        m = u.shape[1]
        src = np.empty(m, dtype=np.int32)
        dst = np.empty(m, dtype=np.int32)
        has_leads = leads.size > 1
        half = np.float32(0.5)
        j = 0
        k = 0
        for i in range(n_links.size):
            for _ in range(n_links[i]):
                if u[1, j] < same_share:
                    g = cc[i] + (n_cc if u[2, j] >= half else 0)
                else:
                    g = cl[i] + 2 * n_cc + (n_cl if u[2, j] >= half else 0)
                g = group_of[g]
                up = np.float64(u[3, j])
                at = size[g] * up
                last = size[g] - 1.0
                if at > last:
                    at = last
                d = cands[np.int64(at) + starts[g]]
                if has_leads and industrial[i] and u[0, j] < lead_share:
                    c = cl[i]
                    at = lead_size[c] * up
                    last = lead_size[c] - 1.0
                    if at > last:
                        at = last
                    p = leads[np.int64(at) + lead_starts[c]]
                    if p >= 0:
                        d = p
                if d >= 0 and d != i:
                    src[k] = i
                    dst[k] = d
                    k += 1
                j += 1
        return src[:k], dst[:k]

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def csr(n, src, dst, start):
        # Counting sort of both directions by row, then each row sorted and de-duplicated.
        # ``start`` (zeros, n + 1) is int32 when the links allow: the row positions are the
        # randomly accessed array, so half its bytes is fewer cache misses.
        m = src.size
        for i in range(m):
            start[src[i] + 1] += 1
            start[dst[i] + 1] += 1
        for r in range(n):
            start[r + 1] += start[r]
        pos = start[:-1].copy()
        cols = np.empty(2 * m, dtype=np.int32)
        for i in range(m):
            a, b = src[i], dst[i]
            cols[pos[a]] = b
            pos[a] += 1
            cols[pos[b]] = a
            pos[b] += 1
        indptr = np.zeros(n + 1, dtype=np.int64)
        w = 0
        for r in range(n):
            a, b = start[r], start[r + 1]
            if b - a > 16:
                cols[a:b].sort()  # in place (hub rows of chain leaders)
            else:
                for j in range(a + 1, b):  # insertion sort: rows have ~4 partners
                    c = cols[j]
                    i = j - 1
                    while i >= a and cols[i] > c:
                        cols[i + 1] = cols[i]
                        i -= 1
                    cols[i + 1] = c
            prev = -1
            for j in range(a, b):
                c = cols[j]
                if c != prev:
                    cols[w] = c
                    w += 1
                    prev = c
            indptr[r + 1] = w
        return indptr, cols, w

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def draw_rows(shifted, n_cols, row, u):
        # searchsorted(shifted, row + u, side="right") - row * n_cols, capped at n_cols - 1.
        # Every entry before row * n_cols is <= row <= row + u (see draw_rows below), so a
        # forward scan from there finds the same first entry above row + u.
        out = np.empty(row.size, dtype=np.int8)
        end = shifted.size
        for i in range(row.size):
            x = np.float64(row[i]) + u[i]
            j = row[i] * n_cols
            while j < end and shifted[j] <= x:
                j += 1
            p = j - row[i] * n_cols
            out[i] = p if p < n_cols - 1 else n_cols - 1
        return out

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def parks(offset, per_cc, cc, u):
        out = np.empty(cc.size, dtype=np.int32)
        for i in range(cc.size):
            c = cc[i]
            p = np.int64(u[i] * np.float64(per_cc[c]))
            last = per_cc[c] - 1
            out[i] = offset[c] + (p if p < last else last)
        return out

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def categories(cdf, u):
        out = np.empty(u.size, dtype=np.int8)
        k = cdf.size
        for i in range(u.size):
            j = 0
            x = u[i]
            while j < k and cdf[j] <= x:
                j += 1
            out[i] = j
        return out

    loops = {"group_order": group_order, "links": links, "csr": csr, "draw_rows": draw_rows, "parks": parks,
             "categories": categories}
    _compiled.update({name: interruptible(f) for name, f in loops.items()})
    return _compiled


def stable_group_order(cand_group: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """``(np.argsort(cand_group, kind="stable"), np.bincount(cand_group, minlength=n_groups))``
    by a counting sort (group ids in ``0..n_groups-1``)."""
    return _kernels()["group_order"](cand_group, n_groups)


def link_targets(n_links, cc, cl, industrial, u, same_share, lead_share, n_cc, n_cl, cands, starts, size,
                 group_of, leads, lead_starts, lead_size) -> tuple[np.ndarray, np.ndarray]:
    """Source and target (int32) of every link of :func:`sim.core.links.supply_links`, with
    self-links and missing targets dropped (its NumPy construction's ``src, dst`` after the
    filter of :func:`sim.core.links.symmetric_csr`)."""
    return _kernels()["links"](n_links, cc, cl, industrial, u, same_share, lead_share, n_cc, n_cl,
                               cands, starts, size, group_of, leads, lead_starts, lead_size)


def symmetric_csr(n: int, src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """CSR (indptr int64, indices int32, columns sorted, no repeats) of the undirected links
    ``src[i] -- dst[i]`` (no self-links, no -1): the compiled equivalent of the 64-bit key sort
    in :func:`sim.core.links.symmetric_csr` (same arrays)."""
    start = np.zeros(n + 1, dtype=np.int32 if 2 * src.size < np.iinfo(np.int32).max else np.int64)
    indptr, cols, w = _kernels()["csr"](n, src.astype(np.int32, copy=False), dst.astype(np.int32, copy=False), start)
    return _owned(indptr), _owned(cols[:w])


def draw_rows(shifted: np.ndarray, n_cols: int, row: np.ndarray, u: np.ndarray) -> np.ndarray:
    """The int8 column of :func:`sim.core.population.draw_rows` (``shifted``: the row-shifted
    cumulative weights, nondecreasing, each row ending at exactly ``row + 1``)."""
    return _owned(_kernels()["draw_rows"](shifted, n_cols, row, u))


def assign_parks(offset: np.ndarray, per_cc: np.ndarray, cc: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Park (int32) of each firm: ``offset[cc] + min(floor(u * per_cc[cc]), per_cc[cc] - 1)``."""
    return _owned(_kernels()["parks"](offset, per_cc, cc, u))


def draw_categories(cdf: np.ndarray, u: np.ndarray) -> np.ndarray:
    """``np.searchsorted(cdf, u, side="right")`` as int8 for a short nondecreasing ``cdf`` (at
    most 127 categories) by a forward scan: with ``cdf = p.cumsum() / p.cumsum()[-1]`` and
    ``u = rng.random(n)`` this is what ``rng.choice(len(p), n, p=p)`` draws."""
    return _owned(_kernels()["categories"](cdf, u))
