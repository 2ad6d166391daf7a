"""The state of a run's firms: NumPy columns, the peer counts kept up to date, the voucher push.

One :class:`FirmState` per model; the per-month stages (:mod:`sim.core.stages`) and the hazards
(:mod:`sim.core.hazards`) read and write it, the model (:mod:`sim.core.model`) owns it and records
its cell counts each month. Releasing it (``CloudAdoptionModel.close``) frees every per-firm array
at once.

Per-step probability: each firm draws one Exp(1) threshold per stage at set-up and adopts when
its cumulative hazard ``sum(h dt)`` reaches it (``docs/model.md``); ``thr_live`` is the cloud
threshold of firms still deciding and +inf for every other firm, so the cloud stage needs no
mask. ``lam_cloud`` is meaningful only for firms still deciding.
"""

from __future__ import annotations

import numpy as np

from sim.core import kernel, memory, random_draws, tables
from sim.core.policies import N_CELLS, N_CITIES, N_CLUSTERS
from sim.core.population import NEVER, Population

# cloud_state codes (EXITED: left the population before adopting)
NONE, WAITING, ON_CLOUD, CHURNED, EXITED = 0, 1, 2, 3, 4

COUNT_NAMES: tuple[str, ...] = (
    "park_n", "park_cloud", "park_as", "park_trans", "cc_n", "cc_cloud", "cc_as", "cc_trans",
    "chain_n", "chain_cloud", "chain_as", "chain_trans", "lead_n", "lead_trans",
    "prov_n", "prov_cloud", "cell_n", "cell_cum", "cell_active", "cell_trans", "cell_wait", "lead_share",
)
"""The peer and cell counts of a :class:`FirmState` (kept up to date by :meth:`FirmState.update`), and
the lead share derived from two of them."""


class FirmState:
    """Per-firm columns of one run, and the counts its hazards read.

    Args:
        pop: The population.
        streams: The run's named random streams (:func:`sim.core.seeds.spawn_streams`).
        dt_years: Length of one sub-step in years.

    After construction no firm is on the cloud; :mod:`sim.core.initial` chooses the initial
    adopters and candidate pools, then :meth:`start` computes the counts.
    """

    def __init__(self, pop: Population, streams: dict[str, np.random.SeedSequence], dt_years: float):
        n = pop.n_firms
        self.pop = pop
        self.cloud_state = np.zeros(n, dtype=np.int8)
        self.cloud_month_col = np.full(n, NEVER, dtype=np.int16)
        # Firms onboarded by the compiled path, by month, not yet written to cloud_month_col: no
        # stage reads the month a firm went onto the cloud, so it is written when it is read (the
        # cloud_month property), not at random in each onboarding (one random line less per
        # onboarded firm; a batch's runs never read it).
        self.onboarded_log: list[tuple[int, np.ndarray]] = []
        self.trans_month = np.full(n, NEVER, dtype=np.int16)
        self.subsidised = np.zeros(n, dtype=bool)
        self.lam_cloud = np.zeros(n, dtype=np.float32)
        self.lam_trans = memory.sparse_zeros(n, np.float32)  # written at the transformation candidates only
        # The draws of rng.standard_exponential(n, dtype=np.float32) and rng.random(n, dtype=np.float32),
        # made from the bit generator's raw outputs (random_draws: the same values, ~2x faster).
        self.thr_cloud = random_draws.exponential_f32(np.random.default_rng(streams["threshold_cloud"]), n)
        self.thr_trans = random_draws.exponential_f32(np.random.default_rng(streams["threshold_transform"]), n)
        self.thr_live = self.thr_cloud.copy()
        self.thr_churn = random_draws.exponential_f32(np.random.default_rng(streams["threshold_churn"]), n)
        # A fixed per-firm priority orders voucher claims and the service queue (first come,
        # first served among firms deciding in the same step).
        self.priority = random_draws.uniform_f32(np.random.default_rng(streams["priority"]), n)
        # New thresholds of claimants refused a voucher, drawn in the order of refusal.
        self.rng_refusal = np.random.default_rng(streams["voucher_refusal"])
        st = tables.static_tables(pop)
        # pg: each firm's park x size-class group as the cloud stage reads it (kernel.cloud_deciders:
        # park x 4 + size class for the NumPy path, size class first for the compiled pass).
        self.is_above, self.is_lead, self.pg = st["is_above"], st["is_lead"], st["pg"]
        self.above_bits = st["above_bits"]  # the above-scale firms as a bitmap (tables.firm_bits)
        self.pg_park, self.pg_cc, self.pg_cell, self.cc = st["pg_park"], st["pg_cc"], st["pg_cell"], st["cc"]
        self.cell_coded = bool(st["cell_coded"])  # cc and size class are functions of the cell id
        # What onboarding reads of a firm in one word (None: from the columns; stage_kernel.onboard_words).
        self.onboard_word = st["onboard_word"] if st["onboard_word"].size else None
        self.present = np.zeros(n, dtype=bool)
        self.present[:pop.n_initial] = True
        self.queue = np.empty(0, dtype=np.int64)
        self.subsidy_watch = WatchList()
        self.readiness_dt = tables.readiness_dt(pop, dt_years)
        # Scratch of the NumPy cloud stage (the compiled one has its own, in the cache): not
        # allocated for the compiled kernel, where the two columns (55 MB at 5,000,000 firms)
        # would only take memory the process already has from later arrays.
        scratch = n if kernel.kernel_name() == "numpy" else 0
        self.buf_h = np.empty(scratch, dtype=np.float32)
        self.buf_tmp = np.empty(scratch, dtype=np.float32)
        self.cell_new = np.zeros((3, N_CELLS))  # new cloud, new transformed, voucher spend (month)
        self.cand_trans = np.empty(0, dtype=np.int64)
        self.cand_columns = self.candidate_columns(self.cand_trans)
        self.cand_buffers: tuple[np.ndarray, ...] | None = None  # add_candidates
        self.prov_n = self.prov_cloud = 0.0

    def start(self, owns_population: bool = False) -> None:
        """The counts and the transformation candidates of the initial state (firms present: the
        first ``pop.n_initial``; on the cloud or not; transformed ones on the cloud).

        The counts of the firms present come from the population's static tables (copied: they
        change); the cloud and transformed counts are added over the initial adopters and the
        initially transformed firms, as a step adds them (:meth:`update`), instead of group
        counts over every firm: the same values (integer counts), a pass over the adopters' links
        instead of ten over all firms.

        Args:
            owns_population: The model built the population for itself, so no other run reads
                its static tables: the counts are taken instead of copied (three float32
                columns of the firms, 79 MB at 5,000,000 firms), and the tables are dropped from
                the population's cache, so a model given this population later recomputes them.
        """
        pop = self.pop
        n0 = pop.n_initial
        static = tables.static_tables(pop)
        if owns_population:
            pop.derived.pop("model", None)
        for name in ("park_n", "park_as", "cc_n", "cc_as", "cell_n", "chain_n", "chain_as", "lead_n"):
            counts = static[name]
            if owns_population:
                counts.flags.writeable = True
            setattr(self, name, counts if owns_population else counts.copy())
        self.prov_n = float(n0)
        self.park_cloud, self.park_trans = np.zeros(pop.n_parks), np.zeros(pop.n_parks)
        self.cc_cloud, self.cc_trans = np.zeros(N_CLUSTERS * N_CITIES), np.zeros(N_CLUSTERS * N_CITIES)
        self.cell_active, self.cell_trans, self.cell_wait = np.zeros(N_CELLS), np.zeros(N_CELLS), np.zeros(N_CELLS)
        # chain_cloud and chain_trans have chain_n's dtype (int16 while the links fit,
        # tables.partner_count_dtype): the three count updates are then one compiled specialisation.
        self.chain_cloud = np.zeros(pop.n_firms, dtype=self.chain_n.dtype)
        self.chain_trans = np.zeros(pop.n_firms, dtype=self.chain_n.dtype)
        self.lead_trans = np.zeros(pop.n_firms, dtype=self.lead_n.dtype)  # int8 while it fits (tables)
        # lead_trans / max(lead_n, 1) of every firm: 0 while no partner leader is transformed;
        # the updates below refresh it at the partners of the leaders they count.
        self.lead_share = np.zeros(pop.n_firms, dtype=np.float32)
        on = np.flatnonzero(self.cloud_state[:n0] == ON_CLOUD)
        transformed = np.flatnonzero(self.trans_month[:n0] != NEVER)
        self.update(on, "cloud", 1.0)
        self.update(transformed, "trans", 1.0)
        kernel.scatter_add(self.cell_trans, pop.cell, transformed, 1.0)
        self.cell_cum = self.cell_active.copy()  # at the start no firm has churned
        self.cand_trans = np.setdiff1d(on[self.is_above[on]], transformed, assume_unique=True)
        self.cand_columns = self.candidate_columns(self.cand_trans)

    def candidate_columns(self, firms: np.ndarray) -> tuple[np.ndarray, ...]:
        """The static columns the transformation stage reads of its candidates ``firms``: cell,
        park, cluster-city, readiness and threshold, kept parallel to the candidate list
        (``cand_columns``) so the stage reads them in order instead of five columns at random
        firms every step (the candidates are the same ~10,000-60,000 firms month after month)."""
        pop = self.pop
        return pop.cell[firms], pop.park[firms], self.cc[firms], pop.readiness[firms], self.thr_trans[firms]

    def add_candidates(self, firms: np.ndarray) -> None:
        """Append ``firms`` (just onboarded, above-scale) to the transformation candidates.

        The candidates and their columns are the front of six buffers with spare room
        (``cand_buffers``), which the compiled transformation stage compacts in place: an append
        writes only the new firms instead of concatenating the six lists every step. Lists that
        are not the front of the buffers (the NumPy stage makes new ones) are copied into new
        buffers twice their size.
        """
        m = firms.size
        if not m:
            return
        n = self.cand_trans.size
        bufs = self.cand_buffers
        if bufs is None or n + m > bufs[0].size or self.cand_trans.base is not bufs[0] or any(
                col.base is not b for col, b in zip(self.cand_columns, bufs[1:], strict=True)):
            bufs = self.cand_buffers = spare_room((self.cand_trans, *self.cand_columns), m)
        for b, a in zip(bufs, (firms, *self.candidate_columns(firms)), strict=True):
            b[n:n + m] = a
        self.cand_trans = bufs[0][:n + m]
        self.cand_columns = tuple(b[:n + m] for b in bufs[1:])

    def recount(self) -> None:
        """All peer counts from scratch, from the state (a check: steps update them
        incrementally, :meth:`start` computes them at the start)."""
        pop = self.pop
        pres = self.present
        on = pres & (self.cloud_state == ON_CLOUD)
        tr = pres & (self.trans_month != NEVER)
        ld_tr = pres & self.is_lead & tr
        npk = pop.n_parks
        cc = self.cc
        ncc = N_CLUSTERS * N_CITIES
        park, cell = pop.park, pop.cell
        count = tables.count
        ab, ld = pres & self.is_above, pres & self.is_lead
        st = {"park_n": count(park, pres, npk), "park_as": count(park, ab, npk), "cc_n": count(cc, pres, ncc),
              "cc_as": count(cc, ab, ncc), "cell_n": count(cell, pres, N_CELLS), "chain_n": pop.partner_counts(pres),
              "chain_as": pop.partner_counts(ab), "lead_n": pop.partner_counts(ld)}
        self.park_n, self.park_cloud = st["park_n"], count(park, on, npk)
        self.park_as, self.park_trans = st["park_as"], count(park, tr, npk)
        self.cc_n, self.cc_cloud = st["cc_n"], count(cc, on, ncc)
        self.cc_as, self.cc_trans = st["cc_as"], count(cc, tr, ncc)
        narrow = tables.partner_count_dtype(pop)
        lead_dtype = tables.leader_count_dtype(pop, self.is_lead)
        self.chain_n, self.chain_as = st["chain_n"].astype(narrow), st["chain_as"]
        self.lead_n = st["lead_n"].astype(lead_dtype)
        self.chain_cloud = pop.partner_counts(on).astype(narrow)
        self.chain_trans = np.where(self.is_above, pop.partner_counts(tr), 0).astype(narrow)  # kept at above-scale firms
        self.lead_trans = pop.partner_counts(ld_tr).astype(lead_dtype)
        self.lead_share = self.lead_trans / np.maximum(self.lead_n, np.float32(1))
        self.prov_n = float(pres.sum())
        self.prov_cloud = float(on.sum())
        self.cell_n = st["cell_n"]
        self.cell_cum = count(cell, pres & (self.cloud_state >= ON_CLOUD), N_CELLS)
        self.cell_active = count(cell, on, N_CELLS)
        self.cell_trans = count(cell, tr, N_CELLS)
        self.cell_wait = np.zeros(N_CELLS)

    @property
    def cloud_month(self) -> np.ndarray:
        """Per firm: the month it went onto the cloud (``NEVER`` if not), int16."""
        col = self.cloud_month_col
        for k, firms in self.onboarded_log:
            col[firms] = k
        self.onboarded_log.clear()
        return col

    def update(self, firms: np.ndarray, what: str, sign: float) -> None:
        """Add ``sign`` to every count that ``firms`` enter for indicator ``what`` (present, cloud
        or trans)."""
        if firms.size == 0:
            return
        pop = self.pop
        common = (firms, sign, pop.park, self.cc, pop.cell, self.is_above, self.is_lead, pop.adj_indptr,
                  pop.adj_indices)
        coded = self.cell_coded
        # lead_share is stored, not computed where the cloud stage reads it (every firm, every step):
        # leaders change state rarely; the update refreshes it at their partners.
        share = (self.lead_share, self.lead_trans, self.lead_n)
        if what == "present":
            kernel.update_counts(*common, park_counts=self.park_n, cc_counts=self.cc_n, cell_counts=self.cell_n,
                                 park_above=self.park_as, cc_above=self.cc_as, chain_counts=self.chain_n,
                                 chain_above=self.chain_as, lead_counts=self.lead_n, lead_share=share,
                                 cell_coded=coded)
            self.prov_n += sign * firms.size
        elif what == "cloud":
            kernel.update_counts(*common, park_counts=self.park_cloud, cc_counts=self.cc_cloud,
                                 cell_counts=self.cell_active, chain_counts=self.chain_cloud, cell_coded=coded)
            self.prov_cloud += sign * firms.size
        elif what == "trans":
            # chain_trans is read only at above-scale firms (the transformation candidates), so it
            # is kept there only: 94% of a transformed firm's partners are SMEs (measured, default
            # scenario), each a random count update saved.
            kernel.update_counts(*common, park_counts=self.park_trans, cc_counts=self.cc_trans,
                                 chain_counts=self.chain_trans, lead_counts=self.lead_trans, lead_share=share,
                                 cell_coded=coded, chain_only=self.above_bits)


def spare_room(live: tuple[np.ndarray, ...], extra: int) -> tuple[np.ndarray, ...]:
    """New buffers for the parallel arrays ``live``, each holding a copy of its array at the front
    and room for twice the new length (``len + extra``; at least 4,096): appends then write only
    the new values, and the copies are amortized."""
    cap = max(2 * (live[0].size + extra), 4096)
    bufs = tuple(np.empty(cap, dtype=a.dtype) for a in live)
    for b, a in zip(bufs, live, strict=True):
        b[:a.size] = a
    return bufs


class WatchList:
    """The subsidised adopters watched by the churn clock, in the order they were onboarded: each
    firm's index, subsidy end (month, int16), cumulative churn hazard and churn threshold
    (float32), as four parallel arrays.

    Firms are appended at the end (month by month, so the subsidy ends never decrease along the
    list) and leave only from a prefix (the firms due, :func:`sim.core.stages.substep`). The
    arrays are buffers with spare room at both ends, so an append writes only the new firms and a
    removal compacts only the prefix in place (toward the end of the prefix), instead of
    concatenating the four whole lists twice a step: the same firms in the same order.
    """

    def __init__(self):
        self.firms = np.empty(0, dtype=np.int64)
        self.end = np.empty(0, dtype=np.int16)  # subsidy end of each watched firm
        # The churn clock of each watched firm (cumulative hazard, threshold from thr_churn), kept
        # beside the list: the churn stage reads them in order, not at random firm indices.
        self.lam = np.empty(0, dtype=np.float32)
        self.thr = np.empty(0, dtype=np.float32)
        self.lo = self.hi = 0  # the live part of the buffers

    @property
    def size(self) -> int:
        """Number of firms watched."""
        return self.hi - self.lo

    def live(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Views of (firms, subsidy ends, cumulative hazards, thresholds) of the firms watched;
        the hazards may be updated in place."""
        part = slice(self.lo, self.hi)
        return self.firms[part], self.end[part], self.lam[part], self.thr[part]

    def append(self, firms: np.ndarray, end: np.ndarray, thr: np.ndarray) -> None:
        """Watch ``firms`` (subsidy ends ``end``, churn thresholds ``thr``), hazard 0, after the others."""
        m = firms.size
        if self.hi + m > self.firms.size:
            self.firms, self.end, self.lam, self.thr = spare_room(self.live(), m)
            self.lo, self.hi = 0, self.size
        new = slice(self.hi, self.hi + m)
        self.firms[new], self.end[new], self.lam[new], self.thr[new] = firms, end, 0, thr
        self.hi += m

    def keep_prefix(self, cut: int, keep: np.ndarray) -> None:
        """Of the first ``cut`` firms watched, keep those where ``keep`` (bool, ``cut`` values), in order."""
        head = slice(self.lo, self.lo + cut)
        start = self.lo + cut - int(np.count_nonzero(keep))
        for a in (self.firms, self.end, self.lam, self.thr):
            a[start:self.lo + cut] = a[head][keep]  # the mask copies first, so the overlap is safe
        self.lo = start


class VoucherPush:
    """Voucher push x dt of every firm, switched on month by month as firms reach the minimum age.

    Args:
        readiness_dt: ``readiness x dt`` of every firm (float32).
        rate: The voucher hazard per year.
        static_ok: Eligibility by revenue and sector (bool per firm).
        young: Firms below the minimum age at the start, ordered by the month they reach it.
        young_month: That month, per firm of ``young``.
        cache: Where to keep the start column for the next push made with the same arrays and
            rate (the population's ``derived`` tables), or None.
        column: Keep the push of every firm as a float32 column (``current``; the NumPy cloud
            stage reads it). Without it (the compiled kernel, which streams the byte ``pushed``)
            ``current`` is None and :meth:`at` computes the push of the firms asked for: no copy
            of the column per run and one scatter less per month.
    """

    def __init__(self, readiness_dt: np.ndarray, rate: float, static_ok: np.ndarray, young: np.ndarray,
                 young_month: np.ndarray, cache: dict | None = None, column: bool = True):
        # Voucher push per year of each firm if eligible (readiness x rate x static
        # eligibility); the age rule is applied by now(). Only the young firms' full push is
        # kept apart (not a second column of every firm).
        self.young, self.young_month = young, young_month
        self.month = 0
        key = ("voucher_push", float(rate))
        self.readiness_dt, self.rate = readiness_dt, np.float32(rate)
        hit = None if cache is None else cache.get(key)
        if hit is not None and all(a is b for a, b in zip(hit[:3], (readiness_dt, static_ok, young), strict=True)) \
                and (hit[3] is not None or not column):
            # The start columns, as computed below.
            self.current = hit[3].copy() if column else None
            self.young_full, self.pushed = hit[4], hit[5].copy()
            return
        # The push of the young firms: readiness_dt x rate x 0/1, the float32 products of the column.
        self.young_full = np.multiply(np.multiply(readiness_dt[young], self.rate), static_ok[young])
        # Whether each firm's push is nonzero (uint8): the compiled cloud stage streams this byte
        # and multiplies readiness_dt x rate itself (the same float32 product as ``current``),
        # 1 byte a firm-step instead of 4.
        if column:
            w = np.multiply(readiness_dt, self.rate)  # float32, then x 0/1 in place
            self.current = np.multiply(w, static_ok, out=w)
            self.current[young] = 0
            self.pushed = (self.current != 0).view(np.uint8)
        else:
            # Without the column: the same products a block of firms at a time (no float32
            # column of the firms at the set-up's memory peak: 27.5 MB at 5,000,000 firms).
            self.current = None
            self.pushed = push_bits(readiness_dt, self.rate, static_ok)
        self.pushed[young] = 0
        if cache is not None:
            # Replicate-independent (the structure's readiness, eligibility and ages, and the
            # rate): a batch's next run on this structure copies the start column instead.
            start = None if self.current is None else self.current.copy()
            pushed = self.pushed.copy()
            for a in (start, self.young_full, pushed):
                if a is not None:
                    a.flags.writeable = False
            cache[key] = (readiness_dt, static_ok, young, start, self.young_full, pushed)

    def now(self, k: int) -> np.ndarray | None:
        """The push of every firm eligible in month ``k`` (age rule included; None without the
        column); firms reaching the minimum age are switched on incrementally."""
        if k != self.month:
            # Keys of the array's dtype: a Python int makes searchsorted convert the whole array.
            month = self.young_month.dtype.type
            lo = np.searchsorted(self.young_month, month(self.month), side="right")
            hi = np.searchsorted(self.young_month, month(k), side="right")
            firms = self.young[lo:hi]
            if self.current is not None:
                self.current[firms] = self.young_full[lo:hi]
            self.pushed[firms] = self.young_full[lo:hi] != 0
            self.month = k
        return self.current

    def at(self, firms: np.ndarray) -> np.ndarray:
        """The push of ``firms`` as of the last :meth:`now` (float32): the column's values, or
        without it ``readiness_dt x rate`` where ``pushed`` is set and 0 elsewhere (the same
        float32 product the column holds: it is ``readiness_dt x rate`` times 1 or 0)."""
        if self.current is not None:
            return self.current[firms]
        return np.where(self.pushed[firms] != 0, self.readiness_dt[firms] * self.rate, np.float32(0))


PUSH_BLOCK = 1 << 16
"""Firms whose voucher push :func:`push_bits` computes at a time (a float32 block in the cache)."""


def push_bits(readiness_dt: np.ndarray, rate: np.float32, static_ok: np.ndarray) -> np.ndarray:
    """``(readiness_dt x rate x static_ok != 0)`` per firm as uint8 (the float32 products of
    :class:`VoucherPush`'s column), a block of firms at a time instead of a float32 column."""
    out = np.empty(readiness_dt.size, dtype=bool)
    w = np.empty(min(PUSH_BLOCK, readiness_dt.size), dtype=np.float32)
    for lo in range(0, readiness_dt.size, PUSH_BLOCK):
        hi = min(lo + PUSH_BLOCK, readiness_dt.size)
        part = w[:hi - lo]
        np.multiply(readiness_dt[lo:hi], rate, out=part)
        np.multiply(part, static_ok[lo:hi], out=part)
        np.not_equal(part, 0, out=out[lo:hi])
    return out.view(np.uint8)
