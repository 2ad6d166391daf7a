"""The compiled loops of the population's firm columns and the initial adopters' selection
(Numba, the optional ``fast`` extra): categorical and row draws, park assignment, scaled and capped
columns, the Poisson link counts and the radix select of the initial adopters' top-k keys.

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

    loops = {"poisson_mult": poisson_mult, "draw_rows": draw_rows, "parks": parks, "scale_by": scale_by,
             "capped_for": capped_for, "neg_key_bins": neg_key_bins, "neg_keys_in_bin": neg_keys_in_bin,
             "neg_keys_at_most": neg_keys_at_most, "categories": categories}
    _compiled.update({name: interruptible(f) for name, f in loops.items()})
    return _compiled


def load() -> dict[str, object]:
    """Load the compiled column loops now; nothing without Numba. Returns them by name."""
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
