"""The two inner loops of a model step, in NumPy and (optionally) compiled with Numba.

* :func:`cloud_deciders`: the cloud-stage hazard of every present firm added to its cumulative
  hazard, and the firms whose cumulative hazard reaches their threshold;
* :func:`update_counts`: a change of indicator of some firms added to their group counts (park,
  cluster-city, cell) and to a partner count of all their supply-chain partners
  (:func:`add_to_partners` alone for the partners).

The chain share of the cloud hazard (``partners adopted / max(partners, 1)``) is computed where
it is read, in the cloud-stage loop, from the two counts, not kept up to date at every partner of
every firm that changes: the streaming pass reads 4 bytes more per firm (+0.4 ns per firm
measured for 8) while each partner update touches one cache line instead of three (a change of
cloud state cost 77 ns per link with the stored share, load 7). The counts are int16 while the
links fit (:func:`sim.core.tables.partner_count_dtype`). The chain-leader share is stored for the
NumPy path (``FirmState.lead_share``; leaders change state rarely); the compiled pass divides its
two int8 counts instead (:func:`sim.core.tables.leader_count_dtype`): 2 bytes a firm-step, not 4.

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


def _share(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / max(den, 1)`` in float32 (a share among partners)."""
    return num / np.maximum(den, np.float32(1))


def _cloud_deciders_numpy(n, pg, g_rate, g_chain, chain_num, chain_den, lead_share, pull, readiness_dt,
                          voucher_cur, open_city, city, lam_all, thr, buf_h, buf_tmp):
    h, tmp = buf_h[:n], buf_tmp[:n]
    np.take(g_rate, pg[:n], out=h, mode="wrap")  # pg is always in range; 'wrap' skips the check
    if g_chain.size == 1:  # one chain weight for all firms (no per-cluster multiplier)
        if g_chain[0] != 0:
            h += np.multiply(_share(chain_num[:n], chain_den[:n]), g_chain[0], out=tmp)
    else:
        h += np.multiply(np.take(g_chain, pg[:n], out=tmp, mode="wrap"), _share(chain_num[:n], chain_den[:n]), out=tmp)
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
    deciders = np.flatnonzero(lam >= thr[:n])
    thr[deciders] = np.inf
    return deciders


def _add_to_partners_numpy(indptr, indices, firms, counts, sign):
    nb = gather_rows(indptr, indices, firms)
    # The value must have the array's dtype: a Python float on a float32 array sends
    # np.add.at down a slow casting path (measured ~28x slower).
    np.add.at(counts, nb, counts.dtype.type(sign))


# --------------------------------------------------------------------------- Numba

_compiled: dict[str, object] = {}
_NO_F32, _NO_I8 = np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int8)  # stand-ins for counts that are off
_NO_U8 = np.zeros(0, dtype=np.uint8)  # stands in for the voucher bytes when vouchers are closed
_NO_BITS = np.zeros(0, dtype=np.uint64)  # stands in for a bitmap of firms that is off
_NO_BITS.flags.writeable = False  # as the bitmaps of the static tables: one compiled specialisation

ABOVE_CODE, LEAD_CODE, N_SIZE_CLASSES = 1, 0, 4
"""Size classes ``sim.core.population.ABOVE``, ``LEAD`` (chain leaders are above-scale too) and
their number; the kernel does not import the population module (imports point the other way)."""

CLOUD_BLOCK = 2048
"""Firms per block of the compiled cloud stage (its buffers, 8 KiB each, stay in the L1 cache); a
multiple of 8 (the deciders are read from the block's byte mask 8 bytes at a time)."""


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
    def cloud(n, pg, g_rate, g_chain, chain_num, chain_den, lead_num, lead_den, pull, readiness_dt, pushed, v_rate,
              v_factor, has_voucher, open_city, city, lam, thr, out, push_out):
        # Blocks of CLOUD_BLOCK firms: the gathers by group (and city) into buffers that stay
        # in the L1 cache, then one loop over the firm columns that vectorises (the division
        # runs 8 firms at a time, the column streams advance together), then the deciders
        # picked from a byte mask 8 firms at a time. The same float32 operations in the same
        # order per firm as one scalar loop (every intermediate is a float32). The voucher push
        # is VoucherPush's float32 product readiness_dt x rate (x the month's factor) where its
        # byte ``pushed`` is set, 0 elsewhere: 1 byte a firm-step instead of the 4 of the column.
        # No switch inside the firm loop (LLVM kept them as masked loads; -4% of the stage,
        # 2026-11-30): a term that is off adds +0 (0 x a finite share), which leaves the sums
        # (>= 0) the same; one loop per voucher case.
        inf = np.float32(np.inf)
        zero = np.float32(0)
        one = np.float32(1)
        pull_on = pull if pull > zero else zero
        per_city = has_voucher and open_city.size > 1
        hb = np.empty(CLOUD_BLOCK, dtype=np.float32)
        cb = np.full(CLOUD_BLOCK, g_chain[0], dtype=np.float32)  # the chain weight of each firm
        vb = np.zeros(CLOUD_BLOCK, dtype=np.float32)  # the voucher push of each firm (per city)
        flag = np.zeros(CLOUD_BLOCK, dtype=np.uint8)
        words = flag.view(np.uint64)
        k = 0
        for s in range(0, n, CLOUD_BLOCK):
            e = min(s + CLOUD_BLOCK, n)
            m = e - s
            gs = pg[s:e]
            for j in range(m):
                hb[j] = g_rate[gs[j]]
            if g_chain.size > 1:
                for j in range(m):
                    cb[j] = g_chain[gs[j]]
            rd = readiness_dt[s:e]
            num, den = chain_num[s:e], chain_den[s:e]
            lnum, lden = lead_num[s:e], lead_den[s:e]
            la, th = lam[s:e], thr[s:e]
            if per_city:
                pu, cs = pushed[s:e], city[s:e]
                for j in range(m):
                    v = (rd[j] * v_rate) * v_factor if pu[j] else zero
                    vb[j] = v if open_city[cs[j]] else v * zero
            if has_voucher and not per_city:
                pu = pushed[s:e]
                for j in range(m):
                    d = np.float32(den[j])  # counts of either dtype (int16 or float32): the same float32 values
                    h = hb[j] + cb[j] * (np.float32(num[j]) / (d if d > one else one))
                    d = np.float32(lden[j])  # the leaders' share from its two counts: the stored share's division
                    h = h + (np.float32(lnum[j]) / (d if d > one else one)) * pull_on
                    r = rd[j]
                    v = (r * v_rate) * v_factor
                    x = la[j] + (h * r + (v if pu[j] else zero))
                    la[j] = x
                    flag[j] = x >= th[j]
            elif per_city:
                for j in range(m):
                    d = np.float32(den[j])
                    h = hb[j] + cb[j] * (np.float32(num[j]) / (d if d > one else one))
                    d = np.float32(lden[j])
                    h = h + (np.float32(lnum[j]) / (d if d > one else one)) * pull_on
                    x = la[j] + (h * rd[j] + vb[j])
                    la[j] = x
                    flag[j] = x >= th[j]
            else:
                for j in range(m):
                    d = np.float32(den[j])
                    h = hb[j] + cb[j] * (np.float32(num[j]) / (d if d > one else one))
                    d = np.float32(lden[j])
                    h = h + (np.float32(lnum[j]) / (d if d > one else one)) * pull_on
                    x = la[j] + h * rd[j]
                    la[j] = x
                    flag[j] = x >= th[j]
            for j in range(m, CLOUD_BLOCK):
                flag[j] = 0
            for w in range((m + 7) // 8):  # deciders are ~0.5% of firms: most words are 0
                if words[w] != 0:
                    for j in range(8 * w, 8 * w + 8):
                        if flag[j]:
                            out[k] = s + j
                            if per_city:  # the decider's voucher push, as added to its hazard
                                push_out[k] = vb[j]
                            elif has_voucher:
                                push_out[k] = (rd[j] * v_rate) * v_factor if pushed[s + j] else zero
                            k += 1
                            th[j] = inf  # a decider decides once (its line is in the cache now)
        return k

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def partners(indptr, indices, firms, counts, sign):
        for f in firms:
            for j in range(indptr[f], indptr[f + 1]):
                counts[indices[j]] += sign
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

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def update(firms, s64, s32, s_chain, s_lead, park, cc, cell, is_above, is_lead, indptr, indices,
               park_counts, cc_counts, cell_counts, has_cell, park_above, cc_above, has_above,
               chain_counts, chain_above, has_chain_above, lead_counts, has_lead, lead_share, lead_num, lead_den,
               has_share, coded, above_max, lead_code, chain_only, chain_bits):
        # In phases without branches on what they load (see stage_kernel.onboard): the firms'
        # group counts and link ranges, then their partners, then the partners' counts.
        one = np.float32(1)
        m = firms.size
        lo = np.empty(m, dtype=indptr.dtype)
        hi = np.empty(m, dtype=indptr.dtype)
        flag = np.empty(m, dtype=np.uint8)  # bit 0: above-scale links counted, bit 1: a leader
        total = 0
        for j in range(m):
            f = firms[j]
            p = park[f]
            if coded:  # cluster-city and size class from the cell id: two random reads less
                cl = cell[f]
                c = cl >> 2
                size = cl & 3
                above = has_above and size <= above_max
                lead = has_lead and size == lead_code
            else:
                c = cc[f]
                above = has_above and is_above[f]
                lead = has_lead and is_lead[f]
            park_counts[p] += s64
            cc_counts[c] += s64
            if has_cell:
                cell_counts[cell[f]] += s64
            if above:
                park_above[p] += s64
                cc_above[c] += s64
            flag[j] = np.uint8(above and has_chain_above) | (np.uint8(lead) << np.uint8(1))
            a, b = indptr[f], indptr[f + 1]
            lo[j], hi[j] = a, b
            total += b - a
        run = m > 0 and firms[m - 1] - firms[0] == m - 1
        for j in range(m):  # consecutive firms (a month's entrants): their rows are one run of links
            run = run and firms[j] == firms[0] + j
        if run:  # a view, not a copy (the rows' loop would mispredict each short row's end)
            partners = indices[lo[0]:hi[m - 1]]
        else:
            partners = np.empty(total, dtype=indices.dtype)
            t = 0
            for j in range(m):
                for i in range(lo[j], hi[j]):
                    partners[t] = indices[i]
                    t += 1
        for t in range(total):
            q = partners[t]
            if chain_only and not (chain_bits[q >> 6] >> np.uint64(q & 63)) & np.uint64(1):
                continue  # a partner whose chain count is not kept (not read by any stage)
            chain_counts[q] += s_chain  # the sign in the counts' dtype (int16 or float32)
        if has_chain_above or has_lead:
            t = 0
            for j in range(m):
                d = hi[j] - lo[j]
                if flag[j] & 1:
                    for i in range(t, t + d):
                        chain_above[partners[i]] += s32
                if flag[j] & 2:
                    for i in range(t, t + d):
                        lead_counts[partners[i]] += s_lead  # the sign in the counts' dtype
                    if has_share:  # the partner's count just changed: its share again
                        for i in range(t, t + d):
                            q = partners[i]
                            den = np.float32(lead_den[q])
                            lead_share[q] = np.float32(lead_num[q]) / (den if den > one else one)
                t += d
        return 0

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def scatter(counts, group, firms, s64):
        for f in firms:
            counts[group[f]] += s64
        return 0

    _compiled.update({name: interruptible(f) for name, f in (("cloud", cloud), ("partners", partners),
                                                             ("count", count), ("update", update),
                                                             ("scatter", scatter))})
    return _compiled


def load() -> dict[str, object]:
    """Load the compiled loops now (from Numba's on-disk cache; nothing without Numba), e.g.
    while another process builds the population, instead of at the model's first step. Returns
    them by name (empty without Numba)."""
    return _numba_kernels() if kernel_name() == "numba" else {}


def cloud_deciders(n: int, pg: np.ndarray, g_rate: np.ndarray, g_chain: np.ndarray, chain_num: np.ndarray,
                   chain_den: np.ndarray, lead: tuple, pull: np.float32, readiness_dt: np.ndarray,
                   voucher: tuple | None, open_city: np.ndarray | None, city: np.ndarray, lam: np.ndarray,
                   thr: np.ndarray, buf_h: np.ndarray, buf_tmp: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Add one step's cloud hazard x dt to ``lam[:n]``; return the firms with ``lam >= thr`` (the
    deciders), whose ``thr`` is set to +inf: a decider decides once (it waits or is onboarded; a
    voucher claimant refused draws a new threshold). The compiled pass writes it while the
    firm's line is in the cache, instead of onboarding writing it at random later. Also returns
    each decider's voucher push as added (float32; None: vouchers closed) for the voucher claims.

    ``pg``: each firm's park x size-class group, the index of the group tables ``g_rate`` and
    ``g_chain`` (park x 4 + size class) for the NumPy path; for the compiled pass size class x
    parks + park (:func:`sim.core.tables.static_tables`), and the tables are reordered alike here.
    Per firm: ``h = g_rate[pg] + chain term + pull * lead share``, times ``readiness_dt``, plus
    the voucher push if vouchers are open (times the city's open flag if quotas are per city).
    The chain term is ``g_chain * chain_num / max(chain_den, 1)`` (one weight, or one per group
    ``pg``). ``lead`` = ``(share, num, den)`` with ``share = num / max(den, 1)``: the NumPy path
    reads the stored share, the compiled pass divides the two counts (int8 while they fit:
    2 bytes a firm-step instead of 4; the same float32 division). All float32.
    ``voucher`` = ``(column, pushed, rate, factor)`` of :class:`sim.core.state.VoucherPush`
    (None: vouchers closed): the push is ``column`` (``readiness_dt x rate`` where ``pushed``,
    0 elsewhere) times the month's ``factor`` (None: 1); the NumPy path reads the column, the
    compiled pass the byte ``pushed`` (the same float32 products).
    ``buf_h``/``buf_tmp`` are scratch arrays of at least ``n`` (NumPy path).
    """
    lead_share, lead_num, lead_den = lead
    if kernel_name() == "numba":
        # The compiled pass's ids are size class first (tables.static_tables): the tables alike.
        g_rate = g_rate.reshape(-1, N_SIZE_CLASSES).T.ravel()
        g_chain = g_chain if g_chain.size == 1 else g_chain.reshape(-1, N_SIZE_CLASSES).T.ravel()
        k = _numba_kernels()["cloud"]
        out = np.empty(n, dtype=np.intp)
        if voucher is None:
            pushed, rate, factor, open_city = _NO_U8, np.float32(0), np.float32(1), np.ones(1, dtype=bool)
        else:
            _, pushed, rate, factor = voucher
            factor = np.float32(1) if factor is None else np.float32(factor)
        push = np.empty(n if voucher is not None else 0, dtype=np.float32)
        m = k(n, pg, g_rate, g_chain, chain_num, chain_den, lead_num, lead_den, np.float32(pull), readiness_dt,
              pushed, np.float32(rate), factor, voucher is not None, open_city, city, lam, thr, out, push)
        return out[:m].copy(), None if voucher is None else push[:m].copy()
    voucher_cur = None
    if voucher is not None:
        voucher_cur, _, _, factor = voucher
        if factor is not None:  # a scheduled push: a new array (the stored push is at the reference rate)
            voucher_cur = voucher_cur * factor
    deciders = _cloud_deciders_numpy(n, pg, g_rate, g_chain, chain_num, chain_den, lead_share, np.float32(pull),
                                     readiness_dt, voucher_cur, open_city, city, lam, thr, buf_h, buf_tmp)
    if voucher_cur is None:
        return deciders, None
    push = voucher_cur[deciders]
    return deciders, push * open_city[city[deciders]] if open_city.size > 1 else push


def add_to_partners(indptr: np.ndarray, indices: np.ndarray, firms: np.ndarray, counts: np.ndarray,
                    sign: float) -> None:
    """Add ``sign`` to ``counts`` at every partner of ``firms`` (once per link)."""
    if firms.size == 0:
        return
    if kernel_name() == "numba":
        _numba_kernels()["partners"](indptr, indices, firms, counts, counts.dtype.type(sign))
        return
    _add_to_partners_numpy(indptr, indices, firms, counts, sign)


def count_in_groups(group: np.ndarray, mask: np.ndarray, size: int) -> np.ndarray:
    """``np.bincount(group[mask], minlength=size)`` as float64 (exact integer counts), in one
    pass without the masked copy when compiled."""
    if kernel_name() == "numba":
        out, ok = _numba_kernels()["count"](group, mask, size)
        if ok:
            return out
    return np.bincount(group[mask], minlength=size).astype(np.float64)


def scatter_add(counts: np.ndarray, group: np.ndarray, firms: np.ndarray, sign: float) -> None:
    """``np.add.at(counts, group[firms], sign)`` (float64 counts), without the gathered copy when
    compiled."""
    if firms.size == 0:
        return
    if kernel_name() == "numba":
        _numba_kernels()["scatter"](counts, group, firms, counts.dtype.type(sign))
        return
    np.add.at(counts, group[firms], counts.dtype.type(sign))


def update_counts(firms: np.ndarray, sign: float, park: np.ndarray, cc: np.ndarray, cell: np.ndarray,
                  is_above: np.ndarray, is_lead: np.ndarray, indptr: np.ndarray, indices: np.ndarray, *,
                  park_counts: np.ndarray, cc_counts: np.ndarray, cell_counts: np.ndarray | None = None,
                  park_above: np.ndarray | None = None, cc_above: np.ndarray | None = None,
                  chain_counts: np.ndarray, chain_above: np.ndarray | None = None,
                  lead_counts: np.ndarray | None = None, lead_share: tuple | None = None,
                  cell_coded: bool = False, chain_only: np.ndarray | None = None) -> None:
    """Add ``sign`` to every count that ``firms`` enter: their park, cluster-city (``cc``) and
    cell (float64 group counts) and their partners' chain count (int16 or float32); for above-scale firms
    also ``park_above``/``cc_above`` and their partners' ``chain_above``; for chain leaders their
    partners' ``lead_counts``; ``lead_share`` = ``(share, num, den)``: after that,
    ``share = num / max(den, 1)`` (float32) again at those partners (``lead_counts`` is ``num`` or
    ``den``). ``cell_coded``: ``cc == cell >> 2`` and the size class is ``cell & 3`` for every firm
    (``tables.static_tables`` checks it), so the compiled pass reads them from the cell id.
    ``chain_only`` (a bitmap: bit ``f % 64`` of word ``f // 64`` for firm f; None: every firm):
    ``chain_counts`` is kept only at the partners whose bit is set.

    Compiled, one pass over the firms and their links (each partner's counts touched once); the
    NumPy path does the same additions array by array. The counts are integers in floating point,
    so the order of the additions does not change any value: the same bytes.
    """
    if firms.size == 0:
        return
    if kernel_name() == "numba":
        # Stand-ins of the types the present-firm update passes (float32 above-scale counts, int8
        # leader counts), so the three updates of a step share one compiled specialisation.
        dummy64, dummy32, dummy8 = park_counts[:0], _NO_F32, _NO_I8
        lead = dummy8 if lead_counts is None else lead_counts
        _numba_kernels()["update"](
            firms, np.float64(sign), np.float32(sign), chain_counts.dtype.type(sign), lead.dtype.type(sign), park, cc,
            cell, is_above, is_lead, indptr, indices,
            park_counts, cc_counts, dummy64 if cell_counts is None else cell_counts, cell_counts is not None,
            dummy64 if park_above is None else park_above, dummy64 if cc_above is None else cc_above,
            park_above is not None, chain_counts, dummy32 if chain_above is None else chain_above,
            chain_above is not None, lead, lead_counts is not None,
            *((dummy32, dummy8, dummy8) if lead_share is None else lead_share), lead_share is not None,
            bool(cell_coded), ABOVE_CODE, LEAD_CODE, chain_only is not None,
            _NO_BITS if chain_only is None else chain_only)
        return
    s64 = park_counts.dtype.type(sign)
    np.add.at(park_counts, park[firms], s64)
    np.add.at(cc_counts, cc[firms], s64)
    if cell_counts is not None:
        np.add.at(cell_counts, cell[firms], s64)
    if chain_only is None:
        add_to_partners(indptr, indices, firms, chain_counts, sign)
    else:
        nb = gather_rows(indptr, indices, firms)
        nb = nb[(chain_only[nb >> 6] >> (nb & 63).astype(np.uint64)) & np.uint64(1) != 0]
        np.add.at(chain_counts, nb, chain_counts.dtype.type(sign))
    if park_above is not None:
        ab = firms[is_above[firms]]
        if ab.size:
            np.add.at(park_above, park[ab], s64)
            np.add.at(cc_above, cc[ab], s64)
            if chain_above is not None:
                add_to_partners(indptr, indices, ab, chain_above, sign)
    if lead_counts is not None:
        ld = firms[is_lead[firms]]
        if ld.size:
            add_to_partners(indptr, indices, ld, lead_counts, sign)
            if lead_share is not None:
                share, num, den = lead_share
                p = gather_rows(indptr, indices, ld)
                share[p] = num[p] / np.maximum(den[p], np.float32(1))
