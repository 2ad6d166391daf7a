"""The batch path: population structures built once per worker process and reused.

A batch of runs that differ only in parameters and seeds (a sweep, a calibration, a backtest, a
sensitivity design, replicates of one scenario) does not need a new population for every run.
:func:`structure_for` gives the population a replicate runs on, from a per-process cache, and
each cached population also keeps the model's replicate-independent tables (group ids, counts of
the firms present at the start, the partners of chain leaders, voucher age order: see
:func:`sim.core.tables.static_tables`), so a reused structure skips both the build and most of the
model's initialisation.

Which structure a replicate uses (:func:`structure_index`):

* ``population.structure_seed`` set: one structure for every replicate (no structural variation);
* ``population.structure_pool = K``: a pool of K structures cycled over the replicates:
  replicate ``r`` runs on the structure replicate ``r mod K`` would draw for itself, so the first
  K replicates are exactly those of an unpooled run and a worker builds at most K structures;
* neither: every replicate draws its own structure (cached too, so that calibration trials and
  backtests re-running the same replicates with other parameters reuse it).

The structure depends only on the ``population`` and ``time`` sections and the seed, so runs of
any parameter values share it (common random numbers across trials). The readiness multipliers by
size class (``population.readiness_by_size``, calibrated by the history match) change only the
readiness column: a structure cached for other values is reused with that column redrawn
(:func:`sim.core.population.with_readiness`). Results are the same bytes as
without the cache: a cached population is exactly the one the model would build.

Example:
    >>> from sim.scenario.loader import load_scenario
    >>> sc = load_scenario("demo", ["population.total_firms=5000", "population.structure_pool=2"])
    >>> [structure_index(sc, r) for r in range(5)]
    [0, 1, 0, 1, 0]
    >>> first, _ = structure_for(sc, 0)
    >>> pop, cached = structure_for(sc, 2)
    >>> pop is first, cached
    (True, True)
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict

from sim.core.population import READINESS_ONLY, Population, build_population, with_readiness
from sim.core.seeds import replicate_structure_seed
from sim.scenario.schema import Scenario

CACHE_BYTES = 1_200_000_000
"""Bytes of cached structures kept per process (a full-scale population is 129 MB, 261 MB with its
model tables: measured 2026-11-29 with ``Population.nbytes``; so 4 of them next to a running
model's ~0.7 GB); least recently used ones are dropped first."""

CACHE_ENTRIES = 16
"""Most structures kept per process (small populations: a calibration at 200,000 firms)."""

_CACHE: OrderedDict[tuple, tuple[Population, str]] = OrderedDict()
"""Structure key -> (population, the readiness values it carries)."""


def structure_index(config: Scenario, replicate: int) -> int | None:
    """Index of the structure replicate ``replicate`` runs on: None for the single structure of a
    fixed ``population.structure_seed``, ``replicate mod K`` in a pool of K, else the replicate."""
    spec = config.population
    if spec.structure_seed is not None:
        return None
    if spec.structure_pool is not None:
        return replicate % spec.structure_pool
    return replicate


def structure_key(config: Scenario, replicate: int, root_seed: int | None = None) -> tuple:
    """Cache key: what the structure of this replicate depends on (seed and population/time)."""
    root = config.run.seed if root_seed is None else int(root_seed)
    j = structure_index(config, replicate)
    seed = ("fixed", config.population.structure_seed) if j is None else ("replicate", root, j)
    sections = {"population": config.population.model_dump(mode="json", exclude={"structure_pool", *READINESS_ONLY}),
                "time": config.time.model_dump(mode="json")}
    text = json.dumps(sections, sort_keys=True, separators=(",", ":"))
    return seed, hashlib.sha256(text.encode()).hexdigest()


def structure_for(config: Scenario, replicate: int, root_seed: int | None = None) -> tuple[Population, bool]:
    """The population replicate ``replicate`` runs on, built or taken from this process's cache.

    Args:
        config: The scenario (values after parametric uncertainty do not matter unless they
            touch the population: the model then rebuilds its own).
        replicate: Replicate index.
        root_seed: Root seed if not ``config.run.seed``.

    Returns:
        ``(population, was_cached)``.
    """
    key = structure_key(config, replicate, root_seed)
    root = config.run.seed if root_seed is None else int(root_seed)
    readiness = _readiness_key(config)
    entry = _CACHE.get(key)
    if entry is not None:
        _CACHE.move_to_end(key)
        pop, built_for = entry
        if built_for != readiness:
            # Same structure, other readiness multipliers (a calibrated readiness_by_size):
            # only the readiness column is redrawn, the same bytes as a fresh build.
            pop = with_readiness(pop, config, replicate_structure_seed(config, root, replicate))
            _CACHE[key] = (pop, readiness)
        return pop, True
    pop = build_population(config, replicate_structure_seed(config, root, replicate))
    _CACHE[key] = (pop, readiness)
    while len(_CACHE) > 1 and (len(_CACHE) > CACHE_ENTRIES
                               or sum(p.nbytes() for p, _ in _CACHE.values()) > CACHE_BYTES):
        _CACHE.popitem(last=False)
    return pop, False


def _readiness_key(config: Scenario) -> str:
    """The values of the fields that change only the readiness column (excluded from the key)."""
    spec = config.population.model_dump(mode="json", include=set(READINESS_ONLY))
    return json.dumps(spec, sort_keys=True)


def cached_structures() -> int:
    """How many structures this process holds."""
    return len(_CACHE)


def clear_cache() -> None:
    """Forget the structures cached in this process."""
    _CACHE.clear()
