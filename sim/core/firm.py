"""One firm of a model seen as a ``mesa.Agent``: its attributes read the model's columns."""

from __future__ import annotations

import mesa
import numpy as np

from sim import datasets
from sim.core.population import NEVER
from sim.core.state import ON_CLOUD


class Firm(mesa.Agent):
    """A view of one firm as a ``mesa.Agent``: its attributes read the model's columns.

    Created on demand by :meth:`sim.core.model.CloudAdoptionModel.firm`; the simulation itself
    never loops over agents.
    """

    def __init__(self, model: mesa.Model, index: int):
        super().__init__(model)
        self.index = int(index)

    def _col(self, name: str):
        return getattr(self.model.pop, name)[self.index]

    @property
    def cluster(self) -> str:
        return datasets.cluster_ids()[int(self._col("cluster"))]

    @property
    def city(self) -> str:
        return datasets.city_names()[int(self._col("city"))]

    @property
    def size_class(self) -> str:
        return datasets.SIZE_CLASSES[int(self._col("size_class"))]

    @property
    def park(self) -> int:
        return int(self._col("park"))

    @property
    def readiness(self) -> float:
        return float(self._col("readiness"))

    @property
    def revenue_cny(self) -> float:
        return float(self._col("revenue_cny"))

    @property
    def entry_month(self) -> int:
        return int(self._col("entry_month"))

    @property
    def supply_partners(self) -> list[int]:
        return self.model.pop.neighbours(np.array([self.index])).tolist()

    @property
    def on_cloud(self) -> bool:
        return bool(self.model.cloud_state[self.index] == ON_CLOUD)

    @property
    def cloud_month(self) -> int | None:
        m = int(self.model.cloud_month[self.index])
        return None if m == NEVER else m

    @property
    def transformed_month(self) -> int | None:
        m = int(self.model.trans_month[self.index])
        return None if m == NEVER else m

    @property
    def subsidised(self) -> bool:
        return bool(self.model.subsidised[self.index])

    def __repr__(self) -> str:
        return (f"Firm({self.index}: {self.size_class}, {self.cluster}, {self.city}, "
                f"cloud_month={self.cloud_month}, transformed_month={self.transformed_month})")
