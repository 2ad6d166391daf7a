"""Parametric uncertainty: each replicate draws the scenario's uncertain parameters.

The draws come from a random stream of the replicate's own seed (``sim.core.seeds.STREAMS['uncertainties']`` of
``run_seed(root_seed, replicate)``), so they are the same whatever the executor, and replicate r
of two scenarios with the same uncertainties draws the same values (common random numbers).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from sim.core.seeds import run_seed, spawn_streams
from sim.scenario.parameters import from_uncertainty
from sim.scenario.paths import get_value, set_values
from sim.scenario.posterior import draw_row, read_posterior
from sim.scenario.schema import Scenario, Uncertainty


def draw(uncertainties: list[Uncertainty], rng: np.random.Generator) -> dict[str, float]:
    """One value per uncertain parameter, in the order listed (one uniform number each, turned
    into the value by :meth:`sim.scenario.parameters.Real.from_unit`)."""
    return {u.path: from_uncertainty(u).from_unit(rng.random()) for u in uncertainties}


def draw_all(config: Scenario, rng: np.random.Generator) -> dict[str, float]:
    """The values one replicate runs with: the ``uncertainties`` list (:func:`draw`), then one
    jointly drawn row of the scenario's ``posterior`` (one more uniform number), if any."""
    values = draw(config.uncertainties, rng)
    if config.posterior is not None:
        values.update(draw_row(config.posterior, float(rng.random())))
    return values


def has_uncertainty(config: Scenario) -> bool:
    """True if replicates draw parameters (an ``uncertainties`` list or a ``posterior``); without
    it, replicates differ only by the model's stochasticity (probabilities are stochastic-only)."""
    return bool(config.uncertainties) or config.posterior is not None


def apply(config: Scenario, values: dict[str, float]) -> Scenario:
    """``config`` with the drawn values set (integer keys rounded) and no uncertainties left."""
    return set_values(config, {"uncertainties": [], "posterior": None, **values}, label="(uncertainties)")


def sample_for_replicate(config: Scenario, root_seed: int, replicate: int) -> dict[str, float]:
    """The values replicate ``replicate`` draws (recomputable anywhere from the seed)."""
    if not has_uncertainty(config):
        return {}
    stream = spawn_streams(run_seed(root_seed, replicate))["uncertainties"]
    values = draw_all(config, np.random.default_rng(stream))
    applied = apply(config, values)  # integer keys are rounded there: report what was run
    return {path: get_value(applied, path) for path in values}


def touches_structure(config: Scenario) -> bool:
    """True if an uncertain parameter changes the population (so it cannot be shared)."""
    return any(p.startswith(("population.", "time.")) for p in uncertain_paths(config))


def uncertain_paths(config: Scenario) -> list[str]:
    """Dotted keys a replicate draws: the ``uncertainties`` list, then the posterior's columns."""
    paths = [u.path for u in config.uncertainties]
    if config.posterior is not None:
        paths += list(read_posterior(config.posterior)[0])
    return paths


PARAMETERS = "parameters.csv"
"""File of a results folder with the values each replicate drew."""


def parameters_frame(config: Scenario, replicates: Iterable[int]) -> pd.DataFrame:
    """The uncertain parameters' values of each replicate: one row per replicate, one column per
    parameter path (recomputed from the seeds, so identical on every executor and on resume)."""
    rows = [{"replicate": r, **sample_for_replicate(config, config.run.seed, r)} for r in replicates]
    return pd.DataFrame(rows, columns=["replicate", *uncertain_paths(config)])


def with_uncertainties(config: Scenario, uncertainties: list[Uncertainty] | Scenario) -> Scenario:
    """``config`` carrying ``uncertainties`` (replacing its own), re-validated.

    Used to compare policy scenarios under the same parameter uncertainty: replicate r of each
    then draws the same parameter values as well as the same random numbers. Given a scenario,
    both its ``uncertainties`` list and its ``posterior`` are taken.
    """
    data = config.model_dump(mode="python")
    if isinstance(uncertainties, Scenario):
        data["posterior"] = uncertainties.posterior
        uncertainties = uncertainties.uncertainties
    data["uncertainties"] = [u.model_dump(mode="python") for u in uncertainties]
    return Scenario.model_validate(data)
