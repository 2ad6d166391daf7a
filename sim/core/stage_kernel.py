"""Fused per-month stage work: the state changes of deciders, onboarding, the transformation
stage and the churn clock, each one compiled pass over the firms concerned (Numba), or the NumPy
operations of :mod:`sim.core.stages` array by array (``GDCLOUD_KERNEL=numpy``). Both give the same bytes: the
counts are integers in floating point (any order of additions gives the same values), the lists
come out in the same order, and the transformation hazard does the same float32 operations in the
same order per firm (``tests/test_kernel.py``).

Why: after the cloud-stage loop and the count updates (:mod:`sim.core.kernel`), the rest of a
month was ~40 small NumPy operations over the deciders, the queue and the transformation
candidates, each gathering the same firms' columns again (about a quarter of the simulation's
CPU at 2,000,000 firms, measured 2026-11-29); one pass reads each firm's columns once.
"""

from __future__ import annotations

import numpy as np

from sim.core import kernel

_compiled: dict[str, object] = {}
_NO_WORD = np.zeros(1, dtype=np.uint64)  # stands in for the onboarding words when there are none
_NO_FLAGS = np.zeros(0, dtype=np.uint8)  # stands in for the deciders' voucher grants when there are none


def compiled_stages() -> dict[str, object]:
    """Compile (or load from Numba's on-disk cache) the fused stage loops, once per process."""
    if _compiled:
        return _compiled
    import numba

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def onboard(queue, deciders, capacity, cloud_state, waiting, on_code, present, k, cloud_month, cell, cell_wait,
                cell_cum, cell_new, park, cc, indptr, indices, park_cloud, cc_cloud, cell_active, chain_cloud,
                subsidised, end_month, is_above, rest, watch, watch_end, cand, coded, above_max,
                chain_one, has_word, word, pg_cell, write_month, has_granted, granted_at):
        # In phases, each a loop without branches on what it loads (the firms' columns are
        # random accesses; a mispredicted branch waiting on one stops the others in flight):
        # who is onboarded, their own columns and link ranges, their partners, the partners'
        # counts. Measured 2026-11-29 (20 months at 2,000,000 firms): 249 -> 209 ns per firm.
        # A decider onboarded in its own step is not marked waiting first (its state and cell
        # are written once, in the second phase; the +1 -1 on its cell's waiting count
        # is left out: integer counts, the same values).
        n_on = n_rest = n_watch = n_cand = n_queued = 0
        firms = np.empty(queue.size + deciders.size, dtype=queue.dtype)
        # Subsidised or not, per onboarded firm: a decider is iff it was granted a voucher in this
        # step (granted_at, in order), so only queued firms read the column at random.
        sub = np.empty(queue.size + deciders.size, dtype=np.uint8)
        for j in range(queue.size + deciders.size):
            queued = j < queue.size
            if queued:
                f = queue[j]
                if cloud_state[f] != waiting or not present[f]:
                    continue
            else:  # the step's deciders join the queue (present and deciding by construction)
                f = deciders[j - queue.size]
            if capacity >= 0 and n_on >= capacity:
                if not queued:  # a decider waits in the queue (its live threshold is +inf already)
                    cloud_state[f] = waiting
                    cell_wait[cell[f]] += 1.0
                rest[n_rest] = f
                n_rest += 1
            else:
                firms[n_on] = f
                if queued:
                    sub[n_on] = subsidised[f]
                else:
                    sub[n_on] = granted_at[j - queue.size] if has_granted else 0
                n_on += 1
                n_queued += queued  # the queued firms come first (queue order)
        lo = np.empty(n_on, dtype=indptr.dtype)
        hi = np.empty(n_on, dtype=indptr.dtype)
        cs = np.empty(n_on, dtype=np.int64)  # each firm's cell and park, read in the loop below
        ps = np.empty(n_on, dtype=np.int64)
        total = 0
        # The firms' own random reads and writes first, the small group tables after, from the
        # values read: an addition to a group table whose index waits on a random load is a
        # store of unknown address that every later load of the tables is ordered against (a
        # collision found late clears the pipeline). Measured 2026-11-30 (months 20 and 40 at
        # 2,000,000 firms): this phase 0.75-0.8 -> 0.4 ms, onboarding -15-30%.
        for j in range(n_on):
            f = firms[j]
            cloud_state[f] = on_code
            if write_month:  # else the caller logs the onboarded firms (FirmState.cloud_month)
                cloud_month[f] = k
            if has_word:  # group, link start and count in one word: one random read, not three
                w = word[f]
                g = w >> np.uint64(48)
                cs[j] = pg_cell[g]
                ps[j] = np.int64(g >> np.uint64(2))
                a = np.int64(w & np.uint64(0xFFFFFFFF))
                b = a + np.int64((w >> np.uint64(32)) & np.uint64(0xFFFF))
            else:
                cs[j] = np.int64(cell[f])
                ps[j] = np.int64(park[f])
                a, b = indptr[f], indptr[f + 1]
            lo[j], hi[j] = a, b
            total += b - a
        for j in range(n_on):
            f = firms[j]
            c, p = cs[j], ps[j]
            cell_wait[c] -= np.float64(j < n_queued)
            cell_cum[c] += 1.0
            cell_new[c] += 1.0
            cell_active[c] += 1.0
            park_cloud[p] += 1.0
            if coded:  # cluster-city and size class from the cell id: two random reads less
                cc_cloud[c >> 2] += 1.0
            else:
                cc_cloud[cc[f]] += 1.0
            watch[n_watch] = f  # kept if subsidised (no branch)
            n_watch += sub[j]
            cand[n_cand] = f  # kept if above-scale
            n_cand += ((c & 3) <= above_max) if coded else is_above[f]
        # The partners: each link's position in the adjacency as a running sum (+1 within a row,
        # a jump to the next row at its first link), so the rows are read by one loop with no
        # branch on a row's end (mispredicted at most rows: they hold ~4.5 links) and the reads,
        # at random rows, overlap. Measured 2026-11-30 (months 20 and 40): onboarding -17-24%
        # against a loop per row.
        step = np.ones(total + 1, dtype=np.int64)  # + 1: rows without links at the end write there
        t = 0
        last = 0  # one past the last link of the last row with links
        for j in range(n_on):
            a, b = lo[j], hi[j]
            step[t] = a - last + 1  # a row without links: the next row writes the same place
            last = b if b > a else last
            t += b - a
        partners = np.empty(total, dtype=indices.dtype)
        i = -1
        for t in range(total):
            i += step[t]
            partners[t] = indices[i]
        for t in range(total):
            chain_cloud[partners[t]] += chain_one  # 1 in the counts' dtype (int16 or float32)
        for j in range(n_watch):
            watch_end[j] = end_month
        return n_on, n_rest, n_watch, n_cand, firms

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def transform(cand, trans_month, never, cloud_state, on_code, present, cell, park, cc, chain_trans, chain_as,
                  lead_trans, lead_n, readiness, lam, thr, dt, has_chain, chain_w, has_park, park_t, has_cc, cc_t,
                  has_prov, prov, ext_cell, peer_cell, has_park_add, park_add, has_pull, pull, keep, out):
        # cell, park, cc, readiness and thr are parallel to cand (the candidates' static columns,
        # read in order, not at random firms), compacted in place with it.
        one = np.float32(1)
        n_keep = n_out = 0
        for j in range(cand.size):
            f = cand[j]
            if trans_month[f] != never or cloud_state[f] != on_code or not present[f]:
                continue
            c, p, q, rd, th = cell[j], park[j], cc[j], readiness[j], thr[j]
            keep[n_keep] = f
            cell[n_keep], park[n_keep], cc[n_keep], readiness[n_keep], thr[n_keep] = c, p, q, rd, th
            n_keep += 1
            peer = np.float32(0)
            if has_chain:
                d = chain_as[f]
                peer = peer + chain_w * np.float32(chain_trans[f]) / (d if d > one else one)
            if has_park:
                peer = peer + park_t[p]
            if has_cc:
                peer = peer + cc_t[q]
            if has_prov:
                peer = peer + prov
            h = ext_cell[c] + peer * peer_cell[c]
            if has_park_add:
                h = h + park_add[p]
            if has_pull:
                d = np.float32(lead_n[f])  # int8 or float32 counts: the same float32 values
                h = h + pull * np.float32(lead_trans[f]) / (d if d > one else one)
            h = h * rd
            x = lam[f] + h * dt
            lam[f] = x
            if x >= th:
                out[n_out] = f
                n_out += 1
        return n_keep, n_out

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def group_rates(pg_park, pg_cc, pg_cell, pk_num, pk_den, cc_num, cc_den, w_park, w_cc, has_prov, prov,
                    market_cell, peer_cell, has_cell_add, cell_add, has_park_add, park_add, w_chain, rate, chain):
        same = True
        first = w_chain * peer_cell[pg_cell[0]]
        # The park and cluster-city terms once per park and cluster-city, not per group (four
        # groups a park): the same float64 operations, a quarter of the divisions.
        park_term = np.empty(pk_num.size)
        for p in range(pk_num.size):
            park_term[p] = w_park * (pk_num[p] / max(pk_den[p] - 1.0, 1.0))
        cc_term = np.empty(cc_num.size)
        for c in range(cc_num.size):
            cc_term[c] = w_cc * (cc_num[c] / max(cc_den[c] - 1.0, 1.0))
        for g in range(pg_park.size):
            p, c, x = pg_park[g], pg_cc[g], pg_cell[g]
            peer = 0.0
            if w_park > 0:
                peer = peer + park_term[p]
            if w_cc > 0:
                peer = peer + cc_term[c]
            if has_prov:
                peer = peer + prov
            m = peer_cell[x]
            r = market_cell[x] + m * peer
            if has_cell_add:
                r = r + cell_add[x]
            if has_park_add:
                r = r + park_add[p]
            rate[g] = np.float32(r)
            ch = w_chain * m
            chain[g] = np.float32(ch)
            same = same and ch == first
        return same

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def words(indptr, pg, cell, pg_cell, out):
        for f in range(out.size):
            g = pg[f]
            a = indptr[f]
            d = indptr[f + 1] - a
            if pg_cell[g] != cell[f] or d > 0xFFFF:
                return False
            out[f] = np.uint64(a) | (np.uint64(d) << np.uint64(32)) | (np.uint64(g) << np.uint64(48))
        return True

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def churn(head, present, check_present, lam, thr, inc, keep, out):
        k = 0
        for j in range(head.size):
            f = head[j]
            ok = present[f] if check_present else True  # no random read without exits
            churns = False
            if ok:
                x = lam[j] + inc
                lam[j] = x
                churns = x >= thr[j]
                if churns:
                    out[k] = f
                    k += 1
            keep[j] = ok and not churns
        return k

    _compiled.update({name: kernel.interruptible(f) for name, f in (("onboard", onboard), ("transform", transform),
                                                                    ("group_rates", group_rates), ("words", words),
                                                                    ("churn", churn))})
    return _compiled


def load() -> dict[str, object]:
    """Load the compiled stage loops now (from Numba's on-disk cache; nothing without Numba),
    instead of at the model's first step (:func:`sim.core.kernel.load` does the same for its own).
    Returns them by name (empty without Numba)."""
    return compiled_stages() if kernel.kernel_name() == "numba" else {}


def onboard_words(indptr: np.ndarray, pg: np.ndarray, cell: np.ndarray, pg_cell: np.ndarray) -> np.ndarray | None:
    """Per firm, one uint64 holding what onboarding reads of it at random (call only when the
    kernel is ``numba``): its link start ``indptr[f]`` (bits 0-31), its link count (32-47) and its
    park x size-class group ``pg[f]`` (48-63), from which the park (``pg >> 2``) and the cell
    (``pg_cell[pg]``) follow. None if a firm does not fit (links beyond 2**32, 65,536 partners or
    more, groups beyond uint16) or its cell is not its group's: onboarding then reads the columns.

    Why: an onboarded firm is a random firm; its cell, park and link range are three cache misses
    in three columns (~15 per onboarded firm in all), one in the word.
    """
    if pg.dtype != np.uint16 or indptr.size == 0 or int(indptr[-1]) >= 1 << 32:
        return None
    out = np.empty(indptr.size - 1, dtype=np.uint64)
    return out if compiled_stages()["words"](indptr, pg, cell, pg_cell, out) else None


def onboard(queue: np.ndarray, deciders: np.ndarray, capacity: int | None, k: int, end_month: int, *,
            cloud_state: np.ndarray, waiting: int, on_cloud: int, present: np.ndarray, cloud_month: np.ndarray,
            cell: np.ndarray, cell_wait: np.ndarray, cell_cum: np.ndarray, cell_new: np.ndarray, park: np.ndarray,
            cc: np.ndarray, indptr: np.ndarray, indices: np.ndarray, park_cloud: np.ndarray, cc_cloud: np.ndarray,
            cell_active: np.ndarray, chain_cloud: np.ndarray, subsidised: np.ndarray, is_above: np.ndarray,
            cell_coded: bool = False, word: np.ndarray | None = None, pg_cell: np.ndarray | None = None,
            month_log: list | None = None, granted_at: np.ndarray | None = None) -> tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The step's ``deciders`` (in priority order) join the service queue, then onboarding from the
    queue (``queue`` then ``deciders``: firms still waiting and present, in order) up to
    ``capacity`` (None: all).

    Deciders get state ``waiting`` and are counted in their cell's waiting firms (their live cloud
    threshold is +inf already: :func:`sim.core.kernel.cloud_deciders`). Onboarded firms go onto the
    cloud in month ``k`` and enter their cloud counts (park, cluster-city, cell, partners' chain),
    their cell's new and cumulative adopters, and leave its waiting firms; subsidised ones are
    returned with their subsidy end ``end_month`` (int16; the churn clock's watch list keeps it,
    no per-firm column: nothing read one).
    Compiled, one call: the deciders join the queue and the onboarding follows (the counts are
    integers, so the same values as the two apart); with ``cell_coded`` (see
    :func:`sim.core.kernel.update_counts`) it reads ``cc`` and the size class from the cell id;
    with ``word`` (:func:`onboard_words`, and the group cells ``pg_cell``) the compiled pass reads
    a firm's park, cell and link range from its word. With ``month_log`` (a list) the compiled
    pass does not write ``cloud_month``: it appends ``(k, onboarded firms)`` to the log instead.
    ``granted_at`` (uint8 per decider, None: none): the deciders granted a voucher in this step,
    the only deciders ``subsidised``; the compiled pass reads it instead of the column.

    Returns:
        ``(onboarded, the queue left, subsidised onboarded firms, their subsidy ends, above-scale
        onboarded firms)``, the lists in queue order.
    """
    if kernel.kernel_name() == "numba":
        size = queue.size + deciders.size
        rest, watch, cand = (np.empty(size, dtype=queue.dtype) for _ in range(3))
        watch_end = np.empty(size, dtype=np.int16)
        n_on, n_rest, n_watch, n_cand, onboarded = compiled_stages()["onboard"](
            queue, deciders.astype(queue.dtype, copy=False), -1 if capacity is None else int(capacity), cloud_state,
            cloud_state.dtype.type(waiting), cloud_state.dtype.type(on_cloud), present, cloud_month.dtype.type(k),
            cloud_month, cell, cell_wait, cell_cum, cell_new, park, cc, indptr, indices, park_cloud, cc_cloud,
            cell_active, chain_cloud, subsidised, np.int16(end_month), is_above, rest,
            watch, watch_end, cand, bool(cell_coded), kernel.ABOVE_CODE, chain_cloud.dtype.type(1),
            word is not None, _NO_WORD if word is None else word, _NO_WORD.view(np.int64) if pg_cell is None else pg_cell,
            month_log is None, granted_at is not None, _NO_FLAGS if granted_at is None else granted_at)
        if month_log is not None and n_on:
            month_log.append((k, onboarded[:n_on]))
        # The three lists after the queue are copied by the caller into its own lists (the watch
        # list, the candidates), so they are returned as views of this step's scratch arrays.
        return n_on, rest[:n_rest].copy(), watch[:n_watch], watch_end[:n_watch], cand[:n_cand]
    if deciders.size:
        cloud_state[deciders] = waiting
        kernel.scatter_add(cell_wait, cell, deciders, 1.0)
        queue = np.concatenate((queue, deciders))
    q = queue[(cloud_state[queue] == waiting) & present[queue]]
    n_on = q.size if capacity is None else min(capacity, q.size)
    firms, rest = q[:n_on], q[n_on:]
    if not firms.size:
        return 0, rest, firms, np.empty(0, dtype=np.int16), firms
    cloud_state[firms] = on_cloud
    cloud_month[firms] = k
    kernel.scatter_add(cell_wait, cell, firms, -1.0)
    kernel.scatter_add(cell_cum, cell, firms, 1.0)
    kernel.scatter_add(cell_new, cell, firms, 1.0)
    kernel.update_counts(firms, 1.0, park, cc, cell, is_above, is_above, indptr, indices, park_counts=park_cloud,
                         cc_counts=cc_cloud, cell_counts=cell_active, chain_counts=chain_cloud)
    sub_on = firms[subsidised[firms]]
    return n_on, rest, sub_on, np.full(sub_on.size, end_month, dtype=np.int16), firms[is_above[firms]]


def group_rates(pg_park: np.ndarray, pg_cc: np.ndarray, pg_cell: np.ndarray, shares: tuple, r: dict, prov: float | None,
                cell_add: np.ndarray | None, park_add: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`sim.core.hazards.group_tables` after its nested counts, in one compiled pass over the
    park x size-class groups (call only when the kernel is ``numba``): the same float64 operations
    in the same order per group, rounded to float32 at the end, so the same bytes.

    Args:
        shares: ``(park adopters, park members, cluster-city adopters, cluster-city members)``.
        r: The stage's rates (:func:`sim.core.hazards.stage_tables`).
        prov: The provincial peer term (None: off).
    """
    pk_num, pk_den, cc_num, cc_den = shares
    rate = np.empty(pg_park.size, dtype=np.float32)
    chain = np.empty(pg_park.size, dtype=np.float32)
    off = np.zeros(1)
    same = compiled_stages()["group_rates"](
        pg_park, pg_cc, pg_cell, pk_num, pk_den, cc_num, cc_den, float(r["park"]), float(r["cc"]), prov is not None,
        0.0 if prov is None else float(prov), r["market_cell"], r["peer_cell"], cell_add is not None,
        off if cell_add is None else cell_add, park_add is not None, off if park_add is None else park_add,
        float(r["chain"]), rate, chain)
    return rate, chain[:1].copy() if same else chain


def transform_compiled(cand: np.ndarray, columns: tuple, t: dict, dt: np.float32, *, trans_month: np.ndarray,
                       never: int, cloud_state: np.ndarray, on_cloud: int, present: np.ndarray,
                       chain_trans: np.ndarray, chain_as: np.ndarray, lead_trans: np.ndarray, lead_n: np.ndarray,
                       lam: np.ndarray) -> tuple[np.ndarray, tuple, np.ndarray]:
    """The transformation stage in one compiled pass (call only when the kernel is ``numba``):
    the candidates ``cand`` still untransformed, on the cloud and present, their hazard from the
    group terms ``t`` (:func:`sim.core.hazards.transform_tables`) x ``dt`` added to ``lam``, and
    those reaching their threshold. ``columns``: the candidates' cell, park, cluster-city,
    readiness and threshold, parallel to ``cand`` (``FirmState.candidate_columns``), compacted in
    place. The same float32 operations in the same order per firm as
    :func:`sim.core.hazards.transform_hazard`. Returns (the candidates kept, their columns: the
    fronts of ``cand`` and ``columns``, compacted in place; the transformers)."""
    cell, park, cc, readiness, thr = columns
    keep = cand  # compacted in place like its columns (a kept firm is written after it is read)
    out = np.empty(cand.size, dtype=cand.dtype)
    off_table = np.zeros(1, dtype=np.float32)  # stands in for a table that is off
    on = {name: t[name] is not None for name in ("chain", "park", "cc", "prov", "park_add", "pull")}
    scalar = {name: np.float32(t[name]) if on[name] else np.float32(0) for name in ("chain", "prov", "pull")}
    table = {name: t[name] if on[name] else off_table for name in ("park", "cc", "park_add")}
    n_keep, n_out = compiled_stages()["transform"](
        cand, trans_month, trans_month.dtype.type(never), cloud_state, cloud_state.dtype.type(on_cloud), present,
        cell, park, cc, chain_trans, chain_as, lead_trans, lead_n, readiness, lam, thr, np.float32(dt),
        on["chain"], scalar["chain"], on["park"], table["park"], on["cc"], table["cc"], on["prov"], scalar["prov"],
        t["ext_cell"], t["peer_cell"], on["park_add"], table["park_add"], on["pull"], scalar["pull"], keep, out)
    return keep[:n_keep], tuple(col[:n_keep] for col in columns), out[:n_out].copy()


def churn_due(watched: np.ndarray, present: np.ndarray, exits: bool, lam: np.ndarray, thr: np.ndarray,
              increment: np.float32) -> tuple[np.ndarray, np.ndarray]:
    """One step of the churn clock of ``watched`` firms (distinct, on the cloud, subsidy ended):
    those present (read only if ``exits``: otherwise every watched firm is) add ``increment`` to
    their ``lam`` (float32, parallel to ``watched``, updated in place); returns (the mask of the
    firms that stay watched: present and not churning, the firms whose ``lam`` reaches their
    ``thr``, also parallel to ``watched``).

    A watched firm leaves the cloud only by churning (found here, so it leaves the list at once)
    or by leaving the population (``present``), so the cloud state itself is not read: the list
    holds the same firms step by step as a filter by state and presence (one random read per
    watched firm and step less, two without exits).
    """
    if kernel.kernel_name() == "numba":
        keep = np.empty(watched.size, dtype=bool)
        out = np.empty(watched.size, dtype=watched.dtype)
        m = compiled_stages()["churn"](watched, present, bool(exits), lam, thr, np.float32(increment), keep, out)
        return keep, out[:m].copy()
    keep = present[watched] if exits else np.ones(watched.size, dtype=bool)
    due = np.flatnonzero(keep)
    if due.size == 0:
        return keep, watched[:0]
    lam[due] += increment
    hit = due[lam[due] >= thr[due]]
    keep[hit] = False
    return keep, watched[hit]
