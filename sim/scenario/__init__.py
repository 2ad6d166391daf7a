"""Scenario files: strict schema, loading with ``extends`` and ``--set`` overrides."""

from sim.scenario.schema import Scenario, YearMonth

__all__ = ["Scenario", "YearMonth"]
