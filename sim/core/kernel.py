"""The two inner loops of a model step, in NumPy and (optionally) compiled with Numba.

* :func:`cloud_deciders`: the cloud-stage hazard of every present firm added to its cumulative
  hazard, and the firms whose cumulative hazard reaches their threshold;
* :func:`add_to_partners`: a change of indicator of some firms added to a partner count of all
  their supply-chain partners, with the partners' share recomputed.

Both implementations do the same float32 operations in the same order for every firm (no fused
multiply-add, no reassociation), so they give the same bytes; ``tests/test_kernel.py`` checks it.
Numba is an optional extra (``pip install 'gdcloud-sim[fast]'``): the fused loop reads each firm's
state once instead of once per term. ``GDCLOUD_KERNEL=numpy`` forces the NumPy path.
"""

from __future__ import annotations

import functools
import importlib.util
import os

import numpy as np

KERNELS: tuple[str, ...] = ("numpy", "numba")


@functools.cache
def _numba_installed() -> bool:
    # Looked up once: find_spec searches the import path (~0.1 ms, and kernels are called often).
    return importlib.util.find_spec("numba") is not None


def kernel_name() -> str:
    """The kernel in use: ``GDCLOUD_KERNEL`` if set (numpy or numba), else numba if installed."""
    chosen = os.environ.get("GDCLOUD_KERNEL", "").strip().lower()
    if chosen and chosen not in KERNELS:
        raise ValueError(f"GDCLOUD_KERNEL={chosen!r}; allowed: {', '.join(KERNELS)}")
    if chosen == "numpy":
        return "numpy"
    if not _numba_installed():
        if chosen == "numba":
            raise ValueError("GDCLOUD_KERNEL=numba but numba is not installed (pip install 'gdcloud-sim[fast]')")
        return "numpy"
    return "numba"


# --------------------------------------------------------------------------- NumPy


def gather_rows(indptr: np.ndarray, indices: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Concatenate ``indices[indptr[r]:indptr[r+1]]`` for every r in ``rows`` without a loop."""
    starts = indptr[rows]
    lengths = indptr[rows + 1] - starts
    total = int(lengths.sum())
    if total == 0:
        return np.empty(0, dtype=indices.dtype)
    # Position of each output element: start of its row plus its offset within the row.
    row_of = np.repeat(np.arange(rows.size), lengths)
    offsets = np.arange(total) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return indices[starts[row_of] + offsets]



def _cloud_deciders_numpy(n, pg, g_rate, g_chain, chain_share, lead_share, pull, readiness_dt,
                          voucher_cur, open_city, city, lam_all, thr, buf_h, buf_tmp):
    h, tmp = buf_h[:n], buf_tmp[:n]
    np.take(g_rate, pg[:n], out=h, mode="wrap")  # pg is always in range; 'wrap' skips the check
    if g_chain.size == 1:  # one chain weight for all firms (no per-cluster multiplier)
        if g_chain[0] != 0:
            h += np.multiply(chain_share[:n], g_chain[0], out=tmp)
    else:
        h += np.multiply(np.take(g_chain, pg[:n], out=tmp, mode="wrap"), chain_share[:n], out=tmp)
    if pull > 0:
        h += np.multiply(lead_share[:n], pull, out=tmp)
    h *= readiness_dt[:n]
    if voucher_cur is not None:
        if open_city.size > 1:
            h += np.multiply(voucher_cur[:n], open_city[city[:n]], out=tmp)
        else:
            h += voucher_cur[:n]
    lam = lam_all[:n]
    lam += h
    # thr is the threshold of firms still deciding and +inf for all others.
    return np.flatnonzero(lam >= thr[:n])


def _add_to_partners_numpy(indptr, indices, firms, counts, sign, num, den, share):
    nb = gather_rows(indptr, indices, firms)
    # The value must have the array's dtype: a Python float on a float32 array sends
    # np.add.at down a slow casting path (measured ~28x slower).
    np.add.at(counts, nb, counts.dtype.type(sign))
    if share is not None:
        share[nb] = num[nb] / np.maximum(den[nb], np.float32(1))


# --------------------------------------------------------------------------- Numba

_compiled: dict[str, object] = {}


def interruptible(fn):
    """``fn`` (a compiled function) with a Ctrl-C during the call raised as KeyboardInterrupt.

    A SIGINT that arrives while Numba's dispatcher converts the arguments sets KeyboardInterrupt
    inside the call; the dispatcher still returns a result, which Python reports as a SystemError
    caused by the KeyboardInterrupt, and the run layer would record a failed replicate instead of
    stopping (seen in ``tests/test_cli.py``'s Ctrl-C test, once wrapped twice).
    """
    @functools.wraps(fn)
    def call(*args):
        try:
            return fn(*args)
        except SystemError as exc:
            cause = exc.__cause__
            while isinstance(cause, SystemError):  # the dispatcher's unpickler may wrap it too
                cause = cause.__cause__
            if isinstance(cause, KeyboardInterrupt):
                raise cause from None
            raise
    return call


def _numba_kernels() -> dict[str, object]:
    """Compile (or load from Numba's on-disk cache) the fused loops, once per process."""
    if _compiled:
        return _compiled
    import numba

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def cloud(n, pg, g_rate, g_chain, chain_share, lead_share, pull, readiness_dt,
              voucher_cur, has_voucher, open_city, city, lam, thr, out):
        one_chain = g_chain.size == 1
        c0 = g_chain[0]
        per_city = open_city.size > 1
        zero = np.float32(0)
        k = 0
        for i in range(n):
            g = pg[i]
            h = g_rate[g]
            if one_chain:
                if c0 != zero:
                    h = h + chain_share[i] * c0
            else:
                h = h + g_chain[g] * chain_share[i]
            if pull > zero:
                h = h + lead_share[i] * pull
            h = h * readiness_dt[i]
            if has_voucher:
                if per_city:
                    h = h + (voucher_cur[i] if open_city[city[i]] else voucher_cur[i] * zero)
                else:
                    h = h + voucher_cur[i]
            x = lam[i] + h
            lam[i] = x
            if x >= thr[i]:
                out[k] = i
                k += 1
        return k

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def partners(indptr, indices, firms, counts, sign, num, den, share, has_share):
        one = np.float32(1)
        for f in firms:
            for j in range(indptr[f], indptr[f + 1]):
                b = indices[j]
                counts[b] += sign
                if has_share:
                    d = den[b]
                    share[b] = num[b] / (d if d > one else one)
        return 0

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def count(group, mask, size):
        out = np.zeros(size, dtype=np.float64)
        for i in range(group.size):
            if mask[i]:
                g = group[i]
                if g < 0 or g >= size:
                    return out, False  # outside the table: NumPy's bincount decides
                out[g] += 1.0
        return out, True

    _compiled.update({name: interruptible(f) for name, f in (("cloud", cloud), ("partners", partners),
                                                             ("count", count))})
    return _compiled


def cloud_deciders(n: int, pg: np.ndarray, g_rate: np.ndarray, g_chain: np.ndarray, chain_share: np.ndarray,
                   lead_share: np.ndarray, pull: np.float32, readiness_dt: np.ndarray,
                   voucher_cur: np.ndarray | None, open_city: np.ndarray | None, city: np.ndarray,
                   lam: np.ndarray, thr: np.ndarray, buf_h: np.ndarray, buf_tmp: np.ndarray) -> np.ndarray:
    """Add one step's cloud hazard x dt to ``lam[:n]``; return the firms with ``lam >= thr``.

    Per firm: ``h = g_rate[pg] + chain term + pull * lead_share``, times ``readiness_dt``, plus
    the voucher push if vouchers are open (times the city's open flag if quotas are per city).
    All float32. ``buf_h``/``buf_tmp`` are scratch arrays of at least ``n`` (NumPy path).
    """
    if kernel_name() == "numba":
        k = _numba_kernels()["cloud"]
        out = np.empty(n, dtype=np.intp)
        has_v = voucher_cur is not None
        m = k(n, pg, g_rate, g_chain, chain_share, lead_share, np.float32(pull), readiness_dt,
              voucher_cur if has_v else readiness_dt, has_v,
              open_city if has_v else np.ones(1, dtype=bool), city, lam, thr, out)
        return out[:m].copy()
    return _cloud_deciders_numpy(n, pg, g_rate, g_chain, chain_share, lead_share, np.float32(pull), readiness_dt,
                                 voucher_cur, open_city, city, lam, thr, buf_h, buf_tmp)


def add_to_partners(indptr: np.ndarray, indices: np.ndarray, firms: np.ndarray, counts: np.ndarray, sign: float,
                    num: np.ndarray | None = None, den: np.ndarray | None = None,
                    share: np.ndarray | None = None) -> None:
    """Add ``sign`` to ``counts`` at every partner of ``firms`` (once per link), then, if
    ``share`` is given, set ``share = num / max(den, 1)`` at those partners (float32)."""
    if firms.size == 0:
        return
    if kernel_name() == "numba":
        has = share is not None
        _numba_kernels()["partners"](indptr, indices, firms, counts, counts.dtype.type(sign),
                                     num if has else counts, den if has else counts, share if has else counts, has)
        return
    _add_to_partners_numpy(indptr, indices, firms, counts, sign, num, den, share)


def count_in_groups(group: np.ndarray, mask: np.ndarray, size: int) -> np.ndarray:
    """``np.bincount(group[mask], minlength=size)`` as float64 (exact integer counts), in one
    pass without the masked copy when compiled."""
    if kernel_name() == "numba":
        out, ok = _numba_kernels()["count"](group, mask, size)
        if ok:
            return out
    return np.bincount(group[mask], minlength=size).astype(np.float64)
