"""Designs of experiments over parameters of the one vocabulary (:mod:`sim.scenario.parameters`):
the one Latin-hypercube sampler, factorial grids.

:func:`latin_hypercube` is used by ``sweep`` (``design: latin_hypercube``), ``discover`` and the
ABC draws of ``calibrate``; SALib's samplers (Sobol, Morris) are used by ``sensitivity``.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from sim.scenario.parameters import Parameter


def latin_hypercube(n: int, d: int, seed: int | np.random.Generator) -> np.ndarray:
    """``n`` points of a Latin hypercube in the unit cube ``[0, 1)^d`` (scipy's ``qmc``).

    Args:
        n: Points.
        d: Dimensions.
        seed: A seed or a NumPy generator (used as it is).

    Returns:
        Array ``(n, d)``; each column has one point in each of ``n`` equal strata.
    """
    from scipy.stats import qmc

    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    try:
        sampler = qmc.LatinHypercube(d=d, rng=rng)
    except TypeError:  # scipy < 1.15
        sampler = qmc.LatinHypercube(d=d, seed=rng)
    return sampler.random(n)


def lhs_rows(parameters: Sequence[Parameter], n: int, seed: int | np.random.Generator) -> list[list[Any]]:
    """``n`` rows of parameter values from :func:`latin_hypercube` (each column mapped by the
    parameter's :meth:`from_unit`)."""
    u = latin_hypercube(n, len(parameters), seed)
    cols = [[p.from_unit(float(v)) for v in u[:, j]] for j, p in enumerate(parameters)]
    return [list(row) for row in zip(*cols, strict=True)] if cols else [[] for _ in range(n)]


def factorial_rows(parameters: Sequence[Parameter], levels: Sequence[int | None]) -> list[list[Any]]:
    """Every combination of the parameters' grids (``levels`` values per ranged parameter)."""
    grids = [p.grid(k) if k is not None else p.grid(0) for p, k in zip(parameters, levels, strict=True)]
    return [list(row) for row in itertools.product(*grids)]
