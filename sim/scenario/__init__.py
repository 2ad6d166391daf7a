"""Scenario files: strict schema, loading with ``extends`` and ``--set`` overrides."""

from sim.scenario.schema import Scenario
from sim.scenario.schema_types import YearMonth

__all__ = ["Scenario", "YearMonth"]
