"""The stages of one month over a run's :class:`~sim.core.state.FirmState`.

Process order of one month ``k`` (``docs/model.md``, ODD section 3), driven by
:meth:`sim.core.model.CloudAdoptionModel.step`:

1. :func:`enter_and_exit`: firms entering in month k join (and exiting firms leave) their parks,
   cities and chains;
2. policy instruments give their rates for the month; the voucher budget resets in January;
3. ``substeps_per_month`` synchronous updates (:func:`substep`), each reading the state at its
   start:
   a. cloud stage: hazard of every firm not yet on the cloud; the cumulative hazard crosses the
      firm's exponential threshold -> the firm decides; vouchers are claimed first come first
      served; deciders join the service queue;
   b. transformation stage: hazard of every above-scale firm on the cloud and not transformed;
   c. onboarding of queued firms up to the service capacity;
   d. churn of subsidised adopters whose subsidy has ended;
   then every count used by peers is updated at once;
4. :func:`programme_quota` (if on), then the month's counts are recorded by the model.

Why :func:`substep` is one function of ~100 lines: it is one synchronous update of both stages,
vouchers, the queue and churn reading the state at its start; its order is the process order
above and must stay visible in one place.
"""

from __future__ import annotations

import numpy as np

from sim.core import hazards, kernel, programme, stage_kernel, tables
from sim.core.policies import N_CELLS
from sim.core.population import NEVER
from sim.core.state import CHURNED, EXITED, NONE, ON_CLOUD, WAITING, FirmState, VoucherPush


def enter_and_exit(state: FirmState, k: int, exits: bool) -> None:
    """Month ``k``'s entrants join their groups; if ``exits``, the month's leavers leave them."""
    pop = state.pop
    lo, hi = pop.n_present[k - 1], pop.n_present[k]
    if hi > lo:
        new = np.arange(lo, hi)
        state.present[new] = True
        state.update(new, "present", 1.0)
    if not exits:
        return
    order, months = tables.exit_order(pop)
    cand = order[np.searchsorted(months, months.dtype.type(k)):np.searchsorted(months, months.dtype.type(k),
                                                                              side="right")]
    gone = cand[state.present[cand]]  # ascending: the firms of np.flatnonzero(present & exit == k)
    if gone.size:
        state.present[gone] = False
        state.update(gone, "present", -1.0)
        on = gone[state.cloud_state[gone] == ON_CLOUD]
        state.update(on, "cloud", -1.0)
        state.update(gone[state.trans_month[gone] != NEVER], "trans", -1.0)
        wait = gone[state.cloud_state[gone] == WAITING]
        kernel.scatter_add(state.cell_wait, pop.cell, wait, -1.0)
        never = gone[(state.cloud_state[gone] == NONE) | (state.cloud_state[gone] == WAITING)]
        state.cloud_state[never] = EXITED
        state.thr_live[never] = np.inf
        # Exited firms keep their cumulative adoption (official counts are cumulative)
        # but leave every active count (done by the updates above).


def substep(state: FirmState, k: int, dt_years: float, rates: hazards.Rates, instruments: dict,
            push: VoucherPush | None, churn_rate_per_year: float, policy: tuple, pulls: tuple[float, float],
            exits: bool = True) -> None:
    """One synchronous update of month ``k`` (stages a-d of the module docstring).

    Args:
        exits: Firms may leave the population (the churn stage then reads whether a watched
            firm is still present; without exits every watched firm is).
        policy: The month's policy rates (cloud per cell, transformation per cell, cloud per park,
            transformation per park; None where no instrument adds one).
        pulls: The chain leaders' pull on the cloud and the transformation stage.
    """
    pop = state.pop
    dt = np.float32(dt_years)
    vouchers = instruments["vouchers"]
    cloud_cell, trans_cell, cloud_park, trans_park = policy

    # (a) cloud stage over the present prefix: contiguous vector operations are cheaper than
    # gathering the (still large) set of non-adopters; firms already on the cloud keep a
    # meaningless cumulative hazard that is never read.
    n = int(pop.n_present[k])
    g_rate, g_chain = hazards.group_tables(state, rates.cloud, cloud_cell, cloud_park)
    open_city = None
    if push is not None and vouchers.on(k) and vouchers.rate > 0:
        open_city = vouchers.open_for_city()
        if not open_city.any():
            open_city = None
    voucher_cur = push.now(k) if open_city is not None else None  # None: closed, or no column (compiled)
    voucher_on = open_city is not None
    factor = vouchers.rate_factor(k)  # a scheduled push (the stored push is at the reference rate), or None
    deciders, pushes = kernel.cloud_deciders(n, state.pg, g_rate, g_chain, state.chain_cloud, state.chain_n,
                                             (state.lead_share, state.lead_trans, state.lead_n), np.float32(pulls[0]),
                                             state.readiness_dt,
                                             (voucher_cur, push.pushed, push.rate, factor) if voucher_on else None,
                                             open_city, pop.city, state.lam_cloud, state.thr_live, state.buf_h,
                                             state.buf_tmp)
    lam = state.lam_cloud

    def voucher_at(firms: np.ndarray) -> np.ndarray:
        """The voucher push of ``firms`` in this step (as added to their hazard)."""
        v = push.at(firms)
        if factor is not None:
            v = v * factor
        return v * open_city[pop.city[firms]] if open_city.size > 1 else v

    granted_firms = deciders[:0]
    granted_at = None  # per decider: granted a voucher in this step (uint8; None: none was)
    by_priority = False  # deciders in priority order (else ascending)
    capacity = instruments["service_capacity"].capacity_this_substep(k)
    order_matters = onboarding_order_matters(capacity, state.queue.size, deciders.size)
    if voucher_on and deciders.size:
        if order_matters:
            # One sort: the claimants, a subset, keep the deciders' priority order, and so do
            # the deciders left after the refusals.
            deciders, by_priority = tables.by_priority(deciders, state.priority), True
            pushes = None  # in ascending order: read again below
        # Positions among the deciders; their push as the cloud stage added it (or read again).
        at_claim = np.flatnonzero((voucher_at(deciders) if pushes is None else pushes) > 0)
        if not order_matters:  # only the claimants in priority order (vouchers go first come first served)
            at_claim = np.searchsorted(deciders, tables.by_priority(deciders[at_claim], state.priority))
        claim = deciders[at_claim]
        granted = vouchers.grant(claim, pop.city[claim])
        granted_firms = claim[granted]
        if granted_firms.size:
            granted_at = np.zeros(deciders.size, dtype=np.uint8)
            granted_at[at_claim[granted]] = 1
        at_late = at_claim[~granted]
        late = claim[~granted]
        if late.size:
            # Budget gone before their turn: no voucher push for them in this step, so they
            # decide only if their hazard without it carries them over the threshold.
            lam[late] -= voucher_at(late) if pushes is None else pushes[at_late]
            below = lam[late] < state.thr_cloud[late]
            drop = late[below]
            if drop.size:
                keep = np.ones(deciders.size, dtype=bool)  # a mask by position, not a set difference
                keep[at_late[below]] = False
                deciders = deciders[keep]
                if granted_at is not None:
                    granted_at = granted_at[keep]
                # Refusal rule (docs/model.md 7.4): the decision did not happen, so by the
                # memorylessness of the exponential clock the firm's remaining distance to
                # a decision is a fresh Exp(1): it draws a new threshold above its cumulative
                # hazard (otherwise the voucher push it had accumulated would carry it over
                # its old threshold within a month or two, without a voucher).
                fresh = lam[drop] + state.rng_refusal.standard_exponential(drop.size, dtype=np.float32)
                state.thr_cloud[drop] = fresh
                state.thr_live[drop] = fresh

    # (b) transformation stage (above-scale firms on the cloud), same start-of-step state.
    transformers = transform_stage(state, hazards.transform_tables(state, rates.trans, trans_cell, trans_park,
                                                                   pulls[1]), dt)

    # (d) churn of subsidised adopters after their subsidy ends (state at start of step).
    watch = state.subsidy_watch
    churners = watch.firms[:0]
    if churn_rate_per_year > 0 and watch.size:
        # The watch list is appended month by month, so subsidy ends never decrease along it
        # and the firms due are a prefix; churners leave it when found, later entries are
        # filtered when they fall due (a firm out of the population stays so): the same firms as a filter
        # of the whole list every step.
        w, ends, lam_w, thr_w = watch.live()
        cut = int(np.searchsorted(ends, ends.dtype.type(k), side="right"))
        keep, churners = stage_kernel.churn_due(w[:cut], state.present, exits, lam_w[:cut], thr_w[:cut],
                                                np.float32(churn_rate_per_year) * dt)
        if not keep.all():
            watch.keep_prefix(cut, keep)

    # ---- apply all changes at once (synchronous update)
    if granted_firms.size:
        state.subsidised[granted_firms] = True
        spend = np.bincount(pop.cell[granted_firms], minlength=N_CELLS) * vouchers.voucher_cny
        state.cell_new[2] += spend
    if deciders.size and order_matters and not by_priority:
        deciders = tables.by_priority(deciders, state.priority)
    # Deciders join the queue and onboarding follows in one pass; before the transformation and
    # churn updates, which touch other firms' states and only add integers to shared counts.
    onboard(state, k, capacity, vouchers.spec.subsidy_months, deciders, granted_at)
    if transformers.size:
        state.trans_month[transformers] = k
        state.update(transformers, "trans", 1.0)
        kernel.scatter_add(state.cell_trans, pop.cell, transformers, 1.0)
        kernel.scatter_add(state.cell_new[1], pop.cell, transformers, 1.0)
    if churners.size:
        state.cloud_state[churners] = CHURNED
        state.update(churners, "cloud", -1.0)


def onboarding_order_matters(capacity: int | None, queued: int, deciders: int) -> bool:
    """Whether the order of the step's deciders can change what onboarding does: only if the
    ``queued`` firms and the ``deciders`` may not all be onboarded within ``capacity`` (None:
    unlimited), so that some wait, in priority order.

    Otherwise every one of them is onboarded and the deciders stay in ascending order (no sort;
    voucher claimants are still served in priority order): what onboarding writes per firm or
    adds to integer counts does not depend on the order, and the lists it appends (the churn
    watch list, the transformation candidates, the month log) are read per firm or as sets
    (``tests/test_kernel.py`` runs both orders and compares the bytes).
    """
    return capacity is not None and queued + deciders > capacity


def transform_stage(state: FirmState, t: dict, dt: np.float32) -> np.ndarray:
    """(b) The transformation candidates (above-scale firms on the cloud, not transformed, present)
    add their hazard (group terms ``t``) x ``dt`` to their cumulative hazard; returns those
    reaching their threshold. The compiled pass and the NumPy operations give the same bytes."""
    if kernel.kernel_name() == "numba":
        state.cand_trans, state.cand_columns, out = stage_kernel.transform_compiled(
            state.cand_trans, state.cand_columns, t, dt, trans_month=state.trans_month, never=NEVER,
            cloud_state=state.cloud_state, on_cloud=ON_CLOUD, present=state.present, chain_trans=state.chain_trans,
            chain_as=state.chain_as, lead_trans=state.lead_trans, lead_n=state.lead_n, lam=state.lam_trans)
        return out
    tc = state.cand_trans
    still = (state.trans_month[tc] == NEVER) & (state.cloud_state[tc] == ON_CLOUD) & state.present[tc]
    tc = tc[still]
    state.cand_trans, state.cand_columns = tc, tuple(col[still] for col in state.cand_columns)
    lam2 = state.lam_trans[tc] + hazards.transform_hazard(state, t, tc) * dt
    state.lam_trans[tc] = lam2
    return tc[lam2 >= state.thr_trans[tc]]


def onboard(state: FirmState, k: int, capacity: int | None, subsidy_months: int, deciders: np.ndarray,
            granted_at: np.ndarray | None = None) -> None:
    """(c) The step's ``deciders`` (priority order; ascending when the queue and they are all
    onboarded in this step) join the queue; onboarding from the queue, first come first served, up
    to ``capacity`` (None: all). ``granted_at``: per decider, granted a voucher in this step (None:
    none was)."""
    pop = state.pop
    n_on, state.queue, sub_on, sub_end, above = stage_kernel.onboard(
        state.queue, deciders, capacity, k, k + subsidy_months, cloud_state=state.cloud_state, waiting=WAITING,
        on_cloud=ON_CLOUD, present=state.present, cloud_month=state.cloud_month_col, cell=pop.cell,
        cell_wait=state.cell_wait, cell_cum=state.cell_cum, cell_new=state.cell_new[0], park=pop.park, cc=state.cc,
        indptr=pop.adj_indptr, indices=pop.adj_indices, park_cloud=state.park_cloud, cc_cloud=state.cc_cloud,
        cell_active=state.cell_active, chain_cloud=state.chain_cloud, subsidised=state.subsidised,
        is_above=state.is_above, cell_coded=state.cell_coded,
        word=state.onboard_word, pg_cell=state.pg_cell, month_log=state.onboarded_log, granted_at=granted_at)
    if not n_on:
        return
    state.prov_cloud += n_on
    if sub_on.size:
        state.subsidy_watch.append(sub_on, sub_end, state.thr_churn[sub_on])
    state.add_candidates(above)


def programme_quota(state: FirmState, k: int, quota: programme.TransformationQuota, cube: np.ndarray) -> None:
    """End of month ``k``: the transformation programme's quota (sim/core/programme.py); ``cube``
    holds the months recorded so far (its new-transformed column is read)."""
    flows = cube[: k + 1, :, 5].sum(axis=1)
    flows[k] = state.cell_new[1].sum()
    n = quota.due(k, flows)
    if n <= 0:
        return
    cloud = state.cloud_state
    ok = state.present & state.is_above & (state.trans_month == NEVER) & np.isfinite(state.thr_trans)
    ok &= (cloud == ON_CLOUD) | ((cloud == NONE) if quota.spec.pool == "above_scale" else False)
    eligible = np.flatnonzero(ok)
    remaining = (state.thr_trans[eligible] - state.lam_trans[eligible]) / state.pop.readiness[eligible]
    firms = programme.readiest(eligible, remaining, n)
    quota.record(k, firms.size)
    pop = state.pop
    new_cloud = firms[cloud[firms] == NONE]
    if new_cloud.size:
        # A programme project brings the firm onto the cloud with its transformation.
        cloud[new_cloud] = ON_CLOUD
        state.cloud_month[new_cloud] = k
        state.thr_live[new_cloud] = np.inf
        kernel.scatter_add(state.cell_cum, pop.cell, new_cloud, 1.0)
        kernel.scatter_add(state.cell_new[0], pop.cell, new_cloud, 1.0)
        state.update(new_cloud, "cloud", 1.0)
    if firms.size:
        state.trans_month[firms] = k
        state.update(firms, "trans", 1.0)
        kernel.scatter_add(state.cell_trans, pop.cell, firms, 1.0)
        kernel.scatter_add(state.cell_new[1], pop.cell, firms, 1.0)
