"""A tuned per-agent Mesa reference: the same rules as ``reference_mesa.py``, counts kept up to date.

The plain reference recomputes every peer count in every step: each firm walks its partners for
its chain shares, and the model walks all firms for the park, cluster-city and provincial counts.
Here every firm keeps the counts over its partners (present, on the cloud, above-scale,
transformed above-scale, chain leaders, transformed chain leaders) and the model keeps the park,
cluster-city and provincial counters; a firm whose state changes (entry, exit, onboarding, churn,
transformation) updates them once. The Mesa idioms are the same (one ``mesa.Agent`` per firm,
``AgentSet.do("decide")`` then ``AgentSet.do("apply")``), the shares are the same integer ratios,
so the output is identical (``tests/test_reference_agreement.py``), only faster: this is the fair
per-agent baseline the vectorised model is compared with (``compare_reference.py --tuned``).
"""

from __future__ import annotations

from collections import Counter

from reference_mesa import ON_CLOUD, Firm, PeerCounts, ReferenceModel, share


class TunedFirm(Firm):
    """A firm that keeps counts over its partners and tells its partners and the model about
    its own changes of state (present, on the cloud, transformed)."""

    _tracking = False  # off while the model builds its firms and initial state

    def __init__(self, *args, **kwargs):
        self.n_present = self.n_cloud = self.n_above = self.n_trans_above = 0
        self.n_lead = self.n_lead_trans = 0
        super().__init__(*args, **kwargs)

    # The three state attributes as properties: a change while tracking updates the counts.
    @property
    def present(self) -> bool:
        return self._present

    @present.setter
    def present(self, value: bool) -> None:
        old = getattr(self, "_present", False)
        self._present = value
        if self._tracking and old != value:
            self._count(1 if value else -1, present=True, cloud=self._cloud_state == ON_CLOUD,
                        trans=self._transformed_month is not None)

    @property
    def cloud_state(self) -> int:
        return self._cloud_state

    @cloud_state.setter
    def cloud_state(self, value: int) -> None:
        old = getattr(self, "_cloud_state", None)
        self._cloud_state = value
        if self._tracking and self._present and (old == ON_CLOUD) != (value == ON_CLOUD):
            self._count(1 if value == ON_CLOUD else -1, cloud=True)

    @property
    def transformed_month(self) -> int | None:
        return self._transformed_month

    @transformed_month.setter
    def transformed_month(self, value: int | None) -> None:
        old = getattr(self, "_transformed_month", None)
        self._transformed_month = value
        if self._tracking and self._present and (old is None) != (value is None):
            self._count(1 if value is not None else -1, trans=True)

    def _count(self, d: int, *, present: bool = False, cloud: bool = False, trans: bool = False) -> None:
        """Add ``d`` to the counts this firm enters: as present, on the cloud, transformed."""
        for p in self.partners:
            if present:
                p.n_present += d
                p.n_above += d * self.is_above
                p.n_lead += d * self.is_lead
            if cloud:
                p.n_cloud += d
            if trans:
                p.n_trans_above += d * self.is_above
                p.n_lead_trans += d * self.is_lead
        self.model.peer_counts.add(self, d, present=present, cloud=cloud, trans=trans)

    def chain_cloud_share(self) -> float:
        return share(self.n_cloud, self.n_present)

    def chain_transformed_share(self) -> float:
        return share(self.n_trans_above, self.n_above)

    def leader_transformed_share(self) -> float:
        return share(self.n_lead_trans, self.n_lead)


class RunningCounts(PeerCounts):
    """The park, cluster-city and provincial counts, updated by the firms that change."""

    def add(self, f: TunedFirm, d: int, *, present: bool, cloud: bool, trans: bool) -> None:
        if present:
            self.park_firms[f.park] += d
            self.area_firms[f.area] += d
            self.firms += d
            if f.is_above:
                self.park_above[f.park] += d
                self.area_above[f.area] += d
                self.above += d
        if cloud:
            self.park_cloud[f.park] += d
            self.area_cloud[f.area] += d
            self.cloud += d
        if trans:
            self.park_transformed[f.park] += d
            self.area_transformed[f.area] += d
            self.transformed += d


class TunedReferenceModel(ReferenceModel):
    """:class:`ReferenceModel` with incremental peer counts (same arguments, same output)."""

    firm_class = TunedFirm

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Counts of the initial state from scratch, once; from now on firms keep them current.
        self.peer_counts = RunningCounts(*(Counter() for _ in range(8)))
        for f in self.firms:
            f.n_present = f.n_cloud = f.n_above = f.n_trans_above = f.n_lead = f.n_lead_trans = 0
        for f in self.firms:
            f._count(1, present=True, cloud=f.cloud_state == ON_CLOUD, trans=f.transformed_month is not None)
        for f in self.all_firms:
            f._tracking = True

    def count_peers(self) -> PeerCounts:
        return self.peer_counts
