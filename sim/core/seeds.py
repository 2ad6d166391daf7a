"""Seeds of a run: one ``numpy.random.SeedSequence`` per replicate and named streams spawned from it.

Replicate ``r`` of a scenario with root seed ``s`` uses ``SeedSequence(s, spawn_key=(r,))``, whatever
the executor, the worker count or the order in which runs finish; scenarios sharing a root seed share
random numbers (common random numbers).
"""

from __future__ import annotations

import numpy as np

from sim.scenario.schema import Scenario

STREAMS: tuple[str, ...] = ("structure", "initial", "threshold_cloud", "threshold_transform",
                            "threshold_churn", "priority", "pilots", "uncertainties", "voucher_refusal",
                            "candidates")
"""Named random streams, spawned in this order from the run's SeedSequence (one per decision).
New streams are only ever appended: the children spawned before them stay the same."""


def run_seed(root_seed: int, replicate: int) -> np.random.SeedSequence:
    """The SeedSequence of one replicate: child ``replicate`` of the scenario's root seed.

    Independent of how many replicates are run and of the executor, so results are identical
    whatever the order or the worker count, and scenarios sharing a seed share random numbers.
    """
    return np.random.SeedSequence(root_seed, spawn_key=(replicate,))


def spawn_streams(seq: np.random.SeedSequence) -> dict[str, np.random.SeedSequence]:
    """The named streams of a run (:data:`STREAMS`), children of its SeedSequence."""
    return dict(zip(STREAMS, seq.spawn(len(STREAMS)), strict=True))


def structure_seed(config: Scenario, streams: dict[str, np.random.SeedSequence]) -> np.random.SeedSequence:
    """The seed of the population: the fixed ``population.structure_seed`` (every replicate shares
    one population) or the run's own ``structure`` stream."""
    if config.population.structure_seed is not None:
        return np.random.SeedSequence(config.population.structure_seed)
    return streams["structure"]


def replicate_structure_seed(config: Scenario, root_seed: int, replicate: int) -> np.random.SeedSequence:
    """The seed replicate ``replicate`` builds its population from: the fixed
    ``population.structure_seed``, else the ``structure`` stream of replicate ``replicate mod K``
    in a pool of K structures (``population.structure_pool``), else its own."""
    pool = config.population.structure_pool
    j = replicate % pool if pool is not None and config.population.structure_seed is None else replicate
    return structure_seed(config, spawn_streams(run_seed(root_seed, j)))
