"""The compiled loops of the population's firm columns and the initial adopters' selection
(Numba, the optional ``fast`` extra): categorical and row draws, park assignment, scaled and capped
columns, the radix select of the initial adopters' top-k keys, and the loops behind
:mod:`sim.core.random_draws` (ziggurats, Poisson counts).

Split from :mod:`sim.core.setup_kernel` (the supply links and the adjacency) to keep modules
small; the same contract holds: each function gives exactly the arrays of the NumPy construction in
:mod:`sim.core.columns`, :mod:`sim.core.population`, :mod:`sim.core.links` or
:mod:`sim.core.initial` (the reference, used without Numba or with ``GDCLOUD_KERNEL=numpy``;
``tests/test_population_build.py`` compares the bytes), and nothing here is called without Numba.
No loop calls another loop of this closure (Numba's on-disk cache would not keep the caller).
"""

from __future__ import annotations

import numpy as np

from sim.core.kernel import interruptible, kernel_name

_compiled: dict[str, object] = {}


def _kernels() -> dict[str, object]:
    """Compile (or load from Numba's on-disk cache) the column loops, once per process."""
    if _compiled:
        return _compiled
    import numba

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def draw_rows_guided(shifted, n_cols, row, u, guide, buckets, out):
        # draw_rows (below) with a guide table: guide[r, e] is how many of row r's entries are
        # <= r + e / buckets (float64, as x is made), so the count for a u in bucket
        # b = floor(u * buckets) lies between guide[r, b] and guide[r, b + 1] (x only grows
        # with u) and only the entries in between are compared (most buckets: none or one).
        cap = n_cols - 1
        stride = buckets + 1
        for i in range(row.size):
            r = row[i]
            x = np.float64(r) + u[i]
            g = r * stride + np.int64(u[i] * buckets)
            p = guide[g]
            base = r * n_cols
            for j in range(guide[g], guide[g + 1]):
                p += shifted[base + j] <= x
            out[i] = p if p < cap else cap
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
        # out has one spare place: every firm is written at the next place and the place
        # advanced when the firm is kept (no branch on the compare: ~a third are kept, at random).
        j = 0
        if out.size == 0:
            for i in range(idx.size):
                j += -key[idx[i]] <= v
            return j
        for i in range(idx.size):
            f = idx[i]
            out[j] = f
            j += -key[f] <= v
        return j

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def categories_guided(cdf, u, guide, buckets, out):
        # categories (below) with a guide table: guide[e] is how many entries are <= e / buckets,
        # so only the entries between guide[b] and guide[b + 1] are compared for a u in bucket b.
        for i in range(u.size):
            x = u[i]
            b = np.int64(x * buckets)
            j = guide[b]
            for c in range(guide[b], guide[b + 1]):
                j += cdf[c] <= x
            out[i] = j
        return 0

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

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def exponential_f32(words, out, i, ke, we, fe, tail):
        # NumPy's float32 ziggurat (random_standard_exponential_f, distributions.c) over the bit
        # generator's 32-bit outputs ``words``, filling out from i; returns where it stopped and
        # the first word not used. An attempt reads one word (98.9% of the values end there) or,
        # on the C code's slow path, two; a rejected attempt is a new draw from the next word
        # (the C code's recursion), so no value spans more than one attempt's words and the loop
        # stops before the last word (a slow path may need it): the next call starts there.
        # float32 arithmetic throughout, as the C code's.
        scale = np.float32(1.0 / 16777216.0)
        h = 0
        last = words.size - 1
        n = out.size
        while h < last and i < n:
            # A run of attempts that end on their first word (98.9% each), counted by one index
            # (~15% faster than the loop advancing h and i per value), then one other attempt.
            lim = min(last - h, n - i)
            k = 0
            while k < lim:
                ri = words[h + k] >> np.uint32(1)
                idx = ri & np.uint32(0xFF)
                ri >>= np.uint32(8)
                if ri >= ke[idx]:
                    break
                out[i + k] = np.float32(ri) * we[idx]
                k += 1
            h += k
            i += k
            if k == lim:
                continue
            ri = words[h] >> np.uint32(1)
            idx = ri & np.uint32(0xFF)
            ri >>= np.uint32(8)
            x = np.float32(ri) * we[idx]
            u = np.float32(words[h + 1] >> np.uint32(8)) * scale  # next_float
            h += 2
            if idx == 0:
                out[i] = tail - np.float32(np.log1p(-u))
                i += 1
            elif (fe[idx - 1] - fe[idx]) * u + fe[idx] < np.float32(np.exp(-x)):
                out[i] = x
                i += 1
        return i, h

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def normal_f64(words, out, i, ki, wi, fi, r_nor, inv_r):
        # NumPy's float64 normal ziggurat (random_standard_normal, distributions.c) over the bit
        # generator's 64-bit outputs ``words``, filling out from i; returns where it stopped and
        # the first output not used. An attempt reads one output (99.3% of the values end
        # there; a run of those is counted by one index, the sign selected without a branch)
        # or, on the C code's slow paths, more; an attempt that would read past the end is left
        # for the next call, which starts it again from its first output.
        scale = 1.0 / 9007199254740992.0  # next_double: (output >> 11) * 2**-53
        h = 0
        m = words.size
        n = out.size
        while h < m and i < n:
            lim = min(m - h, n - i)
            k = 0
            while k < lim:
                r = words[h + k] >> np.uint64(8)
                idx = words[h + k] & np.uint64(0xFF)
                rabs = (r >> np.uint64(1)) & np.uint64(0x000FFFFFFFFFFFFF)
                if rabs >= ki[idx]:
                    break
                x = np.float64(rabs) * wi[idx]
                out[i + k] = -x if r & np.uint64(1) else x
                k += 1
            h += k
            i += k
            if k == lim:
                continue
            r = words[h] >> np.uint64(8)
            idx = words[h] & np.uint64(0xFF)
            rabs = (r >> np.uint64(1)) & np.uint64(0x000FFFFFFFFFFFFF)
            x = np.float64(rabs) * wi[idx]
            if r & np.uint64(1):
                x = -x
            if idx == 0:
                t = h + 1
                while True:
                    if t + 1 >= m:
                        return i, h
                    xx = -inv_r * np.log1p(-(np.float64(words[t] >> np.uint64(11)) * scale))
                    yy = -np.log1p(-(np.float64(words[t + 1] >> np.uint64(11)) * scale))
                    t += 2
                    if yy + yy > xx * xx:
                        break
                out[i] = -(r_nor + xx) if (rabs >> np.uint64(8)) & np.uint64(1) else r_nor + xx
                i += 1
                h = t
            else:
                if h + 1 >= m:
                    return i, h
                u = np.float64(words[h + 1] >> np.uint64(11)) * scale
                h += 2
                if (fi[idx - 1] - fi[idx]) * u + fi[idx] < np.exp(-0.5 * x * x):
                    out[i] = x
                    i += 1
        return i, h

    loops = {"exponential_f32": exponential_f32, "normal_f64": normal_f64, "poisson_mult": poisson_mult, "draw_rows": draw_rows, "parks": parks,
             "scale_by": scale_by, "capped_for": capped_for, "neg_key_bins": neg_key_bins, "neg_keys_in_bin": neg_keys_in_bin,
             "neg_keys_at_most": neg_keys_at_most, "categories": categories,
             "draw_rows_guided": draw_rows_guided, "categories_guided": categories_guided}
    _compiled.update({name: interruptible(f) for name, f in loops.items()})
    return _compiled


def load() -> dict[str, object]:
    """Load the compiled column loops now; nothing without Numba. Returns them by name."""
    return _kernels() if kernel_name() == "numba" else {}


GUIDE_BUCKETS = 1024
"""Buckets of u in [0, 1) of the guide tables of :func:`row_guide` and :func:`draw_categories`
(a power of two: ``u * GUIDE_BUCKETS`` and the bucket edges are exact)."""


def row_guide(shifted: np.ndarray, n_cols: int) -> np.ndarray:
    """For every row r of ``shifted`` (nondecreasing) and every bucket edge e, how many of the
    row's entries are <= ``float64(r) + e / GUIDE_BUCKETS`` (int16, rows x (buckets + 1), flat)."""
    rows = shifted.size // n_cols
    edges = np.arange(GUIDE_BUCKETS + 1) / GUIDE_BUCKETS
    guide = np.empty((rows, GUIDE_BUCKETS + 1), dtype=np.int16)
    for r in range(rows):
        guide[r] = np.searchsorted(shifted[r * n_cols:(r + 1) * n_cols], np.float64(r) + edges, side="right")
    return guide.ravel()


def draw_rows(shifted: np.ndarray, n_cols: int, row: np.ndarray, u: np.ndarray, out: np.ndarray,
              guide: np.ndarray | None = None) -> np.ndarray:
    """The int8 column of :func:`sim.core.columns.draw_rows` written into ``out`` (``shifted``:
    the row-shifted cumulative weights, nondecreasing, each row ending at exactly ``row + 1``);
    ``guide``: :func:`row_guide` of them (then only the entries a u's bucket leaves open are
    compared: ~4x faster with 21 columns)."""
    if guide is None:
        _kernels()["draw_rows"](shifted, n_cols, row, u, out)
    else:
        _kernels()["draw_rows_guided"](shifted, n_cols, row, u, guide, GUIDE_BUCKETS, out)
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
    two passes over the keys instead of a partition of all of them (and no copy of them). The
    values of lower bins are all below v and those of higher bins above it, so the count is the
    lower bins' plus v's bin's (a third pass only when v is a zero: -0.0 and 0.0 are equal but
    sit in different bins)."""
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
    if v == 0:
        return float(v), k_["neg_keys_at_most"](key, idx, v, np.empty(0, dtype=idx.dtype))
    return float(v), before + int(np.count_nonzero(vals <= v))


def keys_at_most(key: np.ndarray, idx: np.ndarray, v: float, count: int) -> np.ndarray:
    """The ``count`` firms of ``idx`` whose ``-key`` is ``<= v``, in index order."""
    out = np.empty(count + 1, dtype=idx.dtype)  # the loop's spare place
    _kernels()["neg_keys_at_most"](key, idx, np.float64(v), out)
    return out[:count]


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
    # how many entries are <= each bucket edge: only those between a u's two edges are compared
    guide = np.searchsorted(cdf, np.arange(GUIDE_BUCKETS + 1) / GUIDE_BUCKETS, side="right").astype(np.int16)
    _kernels()["categories_guided"](cdf, u, guide, GUIDE_BUCKETS, out)
    return out
