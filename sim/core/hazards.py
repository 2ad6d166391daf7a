"""The hazards of the two stages, from the state at the start of a step.

* :func:`group_tables`: the cloud hazard's group terms, per park x size-class group (market and
  policy rates, park, cluster-city and provincial peer shares), which the cloud stage gathers
  per firm (:func:`sim.core.kernel.cloud_deciders`);
* :func:`transform_hazard`: the transformation hazard of a (small) set of candidates;
* :class:`Rates`: the scenario's rates of both stages per cell, with a scheduled intensity.
"""

from __future__ import annotations

import numpy as np

from sim import datasets
from sim.core import kernel, peers, stage_kernel
from sim.core.policies import N_CITIES, N_CLUSTERS, cell_grid
from sim.core.schedules import monthly
from sim.core.state import FirmState
from sim.scenario.schema import Scenario
from sim.scenario.schema_policies import StageRates
from sim.scenario.schema_types import month_number


def per_cell(table: dict[str, float] | None, default: float) -> np.ndarray:
    """A per-cluster table (cluster id -> value, others ``default``) spread over the cells."""
    cl, _, _ = cell_grid()
    per_cluster = np.full(N_CLUSTERS, default)
    if table:
        ids = datasets.cluster_ids()
        for k, v in table.items():
            per_cluster[ids.index(k)] = v
    return per_cluster[cl]


def stage_tables(r: StageRates) -> dict[str, object]:
    """One stage's rates: market and peer multipliers per cell, the four peer weights."""
    return {
        "market_cell": r.market_rate_per_year * per_cell(r.cluster_market_multiplier, 1.0),
        "peer_cell": per_cell(r.cluster_peer_multiplier, 1.0),
        "chain": r.chain_weight_per_year, "park": r.park_weight_per_year,
        "cc": r.cluster_city_weight_per_year, "prov": r.province_weight_per_year,
    }


class Rates:
    """The rates of the cloud (``cloud``) and transformation (``trans``) stages; a stage's
    ``intensity`` multiplies its market rate once if constant, every month if a schedule."""

    def __init__(self, config: Scenario, n_months: int):
        d = config.diffusion
        self.cloud = stage_tables(d.cloud)
        self.trans = stage_tables(d.transform)
        self._by_month: list[tuple[dict, np.ndarray, np.ndarray]] = []
        start = month_number(config.time.start)
        for rates, spec in ((self.cloud, d.cloud), (self.trans, d.transform)):
            by_month = monthly(spec.intensity, start, n_months)
            if np.any(by_month != by_month[0]):
                self._by_month.append((rates, rates["market_cell"], by_month))
            elif by_month[0] != 1.0:
                rates["market_cell"] = rates["market_cell"] * by_month[0]

    def set_month(self, k: int) -> None:
        """The month's market rates when a stage's ``intensity`` is a schedule."""
        for rates, base, by_month in self._by_month:
            rates["market_cell"] = base * by_month[k]


def group_tables(state: FirmState, r: dict, cell_add: np.ndarray | None,
                 park_add: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Per park x size-class group: the rate not depending on chain partners, and the
    coefficient of the chain share (both per year, before readiness)."""
    pk = state.pg_park
    peer = np.zeros(pk.size)
    # Shares among the firm's peers: a firm still deciding is counted in the firms present
    # but not among the adopters, so it is taken out of the denominator (others only);
    # otherwise small parks and cluster-cities would dilute peer effects (a bias that grows
    # as the population shrinks).
    # A firm alone in its park or cluster-city reads the enclosing group's share (peers.py).
    pk_num, pk_den, cc_num, cc_den = peers.nested_counts(state.park_cloud, state.park_n, state.pg_cc[::4],
                                                         state.cc_cloud, state.cc_n, N_CITIES)
    if kernel.kernel_name() == "numba":  # the same operations per group in one compiled pass
        prov = r["prov"] * state.prov_cloud / max(state.prov_n - 1.0, 1.0) if r["prov"] > 0 else None
        return stage_kernel.group_rates(pk, state.pg_cc, state.pg_cell, (pk_num, pk_den, cc_num, cc_den), r, prov,
                                        cell_add, park_add)
    if r["park"] > 0:
        peer += r["park"] * (pk_num / np.maximum(pk_den - 1.0, 1.0))[pk]
    if r["cc"] > 0:
        peer += r["cc"] * (cc_num / np.maximum(cc_den - 1.0, 1.0))[state.pg_cc]
    if r["prov"] > 0:
        peer += r["prov"] * state.prov_cloud / max(state.prov_n - 1.0, 1.0)
    peer_mult = r["peer_cell"][state.pg_cell]
    rate = r["market_cell"][state.pg_cell] + peer_mult * peer
    if cell_add is not None:
        rate += cell_add[state.pg_cell]
    if park_add is not None:
        rate += park_add[pk]
    chain = r["chain"] * peer_mult
    if np.all(chain == chain[0]):
        chain = chain[:1]
    return rate.astype(np.float32), chain.astype(np.float32)


def transform_tables(state: FirmState, rates: dict, cell_add: np.ndarray | None, park_add: np.ndarray | None,
                     pull: float) -> dict:
    """The group terms of the transformation hazard from the start-of-step counts (float32 tables
    per park, cluster-city and cell; None where a term is off): peers are the transformed share
    among above-scale partners (``chain``, a weight), park mates (``park``), cluster-city firms
    (``cc``) and the province (``prov``, a constant); ``pull`` is the chain leaders' pull."""
    # A firm alone in its park or cluster-city reads the enclosing group's share (peers.py).
    pk_num, pk_den, cc_num, cc_den = peers.nested_counts(state.park_trans, state.park_as, state.pg_cc[::4],
                                                         state.cc_trans, state.cc_as, N_CITIES)
    # Shares among the firm's above-scale peers (the candidate itself is not transformed,
    # so it is taken out of the denominator: see group_tables).
    prov = float(state.cc_trans.sum()) / max(float(state.cc_as.sum()) - 1.0, 1.0)
    ext_cell = rates["market_cell"] if cell_add is None else rates["market_cell"] + cell_add
    return {
        "chain": np.float32(rates["chain"]) if rates["chain"] > 0 else None,
        "park": (rates["park"] * pk_num / np.maximum(pk_den - 1.0, 1.0)).astype(np.float32) if rates["park"] > 0 else None,
        "cc": (rates["cc"] * cc_num / np.maximum(cc_den - 1.0, 1.0)).astype(np.float32) if rates["cc"] > 0 else None,
        "prov": np.float32(rates["prov"] * prov) if rates["prov"] > 0 else None,
        "ext_cell": ext_cell.astype(np.float32), "peer_cell": rates["peer_cell"].astype(np.float32),
        "park_add": park_add.astype(np.float32) if park_add is not None else None,
        "pull": np.float32(pull) if pull > 0 else None,
    }


def transform_hazard(state: FirmState, t: dict, idx: np.ndarray) -> np.ndarray:
    """Transformation hazard per year of the above-scale firms ``idx`` (a small set, so it is
    computed on their indices), from the group terms ``t`` of :func:`transform_tables`."""
    pop = state.pop
    cell = pop.cell[idx]
    park = pop.park[idx]
    peer = np.zeros(idx.size, dtype=np.float32)
    if t["chain"] is not None:
        peer += t["chain"] * state.chain_trans[idx] / np.maximum(state.chain_as[idx], np.float32(1))
    if t["park"] is not None:
        peer += t["park"][park]
    if t["cc"] is not None:
        peer += t["cc"][state.cc[idx]]
    if t["prov"] is not None:
        peer += t["prov"]
    h = t["ext_cell"][cell] + peer * t["peer_cell"][cell]
    if t["park_add"] is not None:
        h += t["park_add"][park]
    if t["pull"] is not None:
        h += t["pull"] * state.lead_trans[idx] / np.maximum(state.lead_n[idx], np.float32(1))
    return h * pop.readiness[idx]
