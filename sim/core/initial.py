"""The initial state of a run: which firms are on the cloud and transformed at the start, and
the finite candidate pools (``diffusion.cloud_candidate_share``, ``transform_candidate_share``)."""

from __future__ import annotations

import numpy as np

from sim import datasets
from sim.core import column_kernel, kernel, tables
from sim.core.population import NEVER, population_scale
from sim.core.state import NONE, ON_CLOUD, FirmState
from sim.scenario.schema import Scenario


def initial_targets(config: Scenario) -> tuple[int, int]:
    """Firms on the cloud and transformed at ``time.start``: the scenario's ``initial`` values, or
    the published progress interpolated to the start and scaled to the population."""
    scale = population_scale(config)
    ym = (int(config.time.start[:4]), int(config.time.start[5:7]))

    def target(value, indicator):
        if value is not None:
            return int(value)
        return int(round(datasets.interpolate_progress(indicator, ym) * scale))

    return (target(config.initial.cloud_firms, "cloud_enterprises_cumulative"),
            target(config.initial.transformed_firms, "above_scale_transformed_cumulative"))


def select_initial(state: FirmState, config: Scenario, rng: np.random.Generator) -> None:
    """Choose the initial adopters exactly, weighted by readiness.

    Transformed firms (a subset of above-scale cloud firms) first, then other above-scale
    cloud firms up to ``above_scale_cloud_share``, then SMEs up to the cloud total.
    Weighted sampling without replacement by Efraimidis-Spirakis keys (log u / w).
    """
    pop = state.pop
    n0 = pop.n_initial
    cloud0, trans0 = initial_targets(config)
    st = tables.static_tables(pop)
    above, smes = st["initial_above"], st["initial_smes"]
    above_cloud = max(trans0, int(round(config.initial.above_scale_cloud_share * above.size)))
    above_cloud = min(above_cloud, above.size, cloud0)
    if trans0 > above.size or trans0 > cloud0:
        raise ValueError(f"initial.transformed_firms={trans0} exceeds the above-scale firms ({above.size}) or the cloud firms ({cloud0})")
    if cloud0 - above_cloud > smes.size:
        raise ValueError(f"initial.cloud_firms={cloud0} exceeds the firms present ({n0})")
    key = _keys(rng.random(n0), pop.readiness)
    trans = top_keys(above, key, trans0)
    rest_above = np.setdiff1d(above, trans, assume_unique=True)
    cloud_above = np.concatenate((trans, top_keys(rest_above, key, above_cloud - trans0)))
    cloud_sme = top_keys(smes, key, cloud0 - cloud_above.size)
    on = np.concatenate((cloud_above, cloud_sme))
    state.cloud_state[on] = ON_CLOUD
    state.cloud_month[on] = 0
    state.trans_month[trans] = 0
    state.thr_live[on] = np.inf  # the only firms not NONE


def top_keys(idx: np.ndarray, key: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` of ``idx`` with the largest ``key``: the set
    ``idx[np.argpartition(-key[idx], k - 1)[:k]]`` gives (in another order; every use of it
    is order-free).

    The k-th smallest negated key ``v`` is found by a partition of the values alone; when
    exactly k of them are <= v, they are the set argpartition returns (its first k are all
    <= v, the others >= v), and they are picked a block at a time in index order. Otherwise
    (a tie at v) argpartition itself decides. No index array of ``idx``'s size in between
    (8 bytes per firm: 37 MB for the SMEs at 5,000,000 firms). Compiled, ``v`` comes from a
    radix select over the keys in place (:func:`sim.core.column_kernel.kth_largest_key`; the
    keys are never NaN) and the firms are picked in one pass.
    """
    if k <= 0:
        return idx[:0]
    if k >= idx.size:
        return idx
    if kernel.kernel_name() == "numba" and key.dtype == np.float64:
        v, at_most = column_kernel.kth_largest_key(key, idx, k)  # the same v, by a radix select
        if at_most == k:
            return column_kernel.keys_at_most(key, idx, v, k)
        neg = np.negative(key[idx])  # a tie at the k-th key
        return idx[np.argpartition(neg, k - 1)[:k]]
    neg = key[idx]
    np.negative(neg, out=neg)
    neg.partition(k - 1)
    v = neg[k - 1]
    if np.count_nonzero(neg <= v) != k:  # a tie at the k-th key
        np.negative(key[idx], out=neg)
        return idx[np.argpartition(neg, k - 1)[:k]]
    del neg
    picked = []
    for lo in range(0, idx.size, KEY_BLOCK):
        part = idx[lo:lo + KEY_BLOCK]
        picked.append(part[np.negative(key[part]) <= v])
    return np.concatenate(picked)


KEY_BLOCK = 1 << 16
"""Firms whose readiness weights are widened to float64 at a time (512 KB, in the cache)."""


def _keys(u: np.ndarray, readiness: np.ndarray) -> np.ndarray:
    """``log(max(u, 1e-300)) / max(float64(readiness), 1e-12)`` for the first ``u.size`` firms,
    in place in ``u``: the float64 weights are made a block at a time, not as a column of the
    firms (40 MB at 5,000,000 firms, touched once, then kept)."""
    np.log(np.maximum(u, 1e-300, out=u), out=u)
    weight = np.empty(min(KEY_BLOCK, u.size))
    for lo in range(0, u.size, KEY_BLOCK):
        hi = min(lo + KEY_BLOCK, u.size)
        w = weight[:hi - lo]
        w[...] = readiness[lo:hi]  # float32 -> float64 exactly; the floor in float64 (not float32)
        np.maximum(w, 1e-12, out=w)
        np.divide(u[lo:hi], w, out=u[lo:hi])
    return u


def limit_candidates(state: FirmState, config: Scenario, rng: np.random.Generator) -> None:
    """Finite candidate pools (``diffusion.cloud_candidate_share``, ``transform_candidate_share``).

    A firm outside a pool never crosses that stage's threshold (its threshold is +inf): only a
    share of the SMEs not on the cloud at the start can join the cloud tally, and only a share
    of the above-scale firms not transformed at the start can become transformed. Both draws
    come from their own stream and are made whenever either share is below 1, so a pool of
    1 changes nothing (common random numbers) and the two pools do not disturb each other.
    """
    d = config.diffusion
    if d.cloud_candidate_share >= 1.0 and d.transform_candidate_share >= 1.0:
        return
    n = state.pop.n_firms
    u_cloud = rng.random(n, dtype=np.float32)
    u_trans = rng.random(n, dtype=np.float32)
    if d.cloud_candidate_share < 1.0:
        out = (~state.is_above) & (state.cloud_state == NONE) & (u_cloud >= d.cloud_candidate_share)
        state.thr_live[out] = np.inf
    if d.transform_candidate_share < 1.0:
        out = state.is_above & (state.trans_month == NEVER) & (u_trans >= d.transform_candidate_share)
        state.thr_trans[out] = np.inf
