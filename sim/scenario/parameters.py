"""One vocabulary of varied parameters, in the spirit of EMA Workbench's Real/Integer/Categorical
parameters: a name, the dotted scenario keys it sets (:mod:`sim.scenario.paths`) and its range.

Every tool that varies scenario values describes them with these classes: parametric
uncertainty (``Scenario.uncertainties``, :mod:`sim.core.uncertainty`), sweep parameters
(:mod:`sim.analysis.sweep`), calibration, sensitivity and policy-question parameters
(:class:`sim.analysis.calibration_spec.ParameterSpec`). Each maps a number ``u`` in [0, 1) to a value
(:meth:`from_unit`: the inverse distribution function for a :class:`Real`, equal strata for an
:class:`Integer` or :class:`Categorical`), so one sampler (:func:`sim.analysis.design.latin_hypercube`
or one uniform draw per parameter) serves them all, and :func:`to_ema` hands them to EMA Workbench.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

Distribution = Literal["uniform", "triangular", "loguniform"]


@dataclass(frozen=True)
class Real:
    """A real-valued parameter on ``[lower, upper]``.

    Attributes:
        name: Short label.
        paths: The dotted scenario keys set to the value.
        lower, upper: The range.
        distribution: ``uniform``, ``triangular`` (with ``mode``) or ``loguniform``.
        mode: Most likely value of a triangular distribution.
    """

    name: str
    paths: tuple[str, ...]
    lower: float
    upper: float
    distribution: Distribution = "uniform"
    mode: float | None = None

    def from_unit(self, u: float) -> float:
        """The value at quantile ``u`` (inverse distribution function)."""
        lo, hi = self.lower, self.upper
        if self.distribution == "uniform":
            return float(lo + u * (hi - lo))
        if self.distribution == "loguniform":
            return float(np.exp(np.log(lo) + u * (np.log(hi) - np.log(lo))))
        c = float(self.mode)  # type: ignore[arg-type]
        f = (c - lo) / (hi - lo)
        return float(lo + np.sqrt(u * (hi - lo) * (c - lo)) if u < f
                     else hi - np.sqrt((1 - u) * (hi - lo) * (hi - c)))

    def grid(self, levels: int) -> list[float]:
        """``levels`` evenly spaced values from lower to upper (a factorial design)."""
        return [float(f"{v:.12g}") for v in np.linspace(self.lower, self.upper, levels)]


@dataclass(frozen=True)
class Integer:
    """An integer parameter on ``[lower, upper]`` (both included)."""

    name: str
    paths: tuple[str, ...]
    lower: int
    upper: int

    def from_unit(self, u: float) -> int:
        """One of ``upper - lower + 1`` equal strata of [0, 1) per integer."""
        return int(min(self.lower + math.floor(u * (self.upper - self.lower + 1)), self.upper))

    def grid(self, levels: int) -> list[int]:
        """``levels`` evenly spaced values, rounded, without repeats."""
        return list(dict.fromkeys(int(round(v)) for v in np.linspace(self.lower, self.upper, levels)))


@dataclass(frozen=True)
class Categorical:
    """A parameter taking one of a list of values (any values the scenario keys accept)."""

    name: str
    paths: tuple[str, ...]
    values: tuple[Any, ...]

    def from_unit(self, u: float) -> Any:
        """One of ``len(values)`` equal strata of [0, 1) per value."""
        return self.values[min(int(u * len(self.values)), len(self.values) - 1)]

    def grid(self, levels: int | None = None) -> list[Any]:
        """Every value (``levels`` is not used)."""
        return list(self.values)


Parameter = Real | Integer | Categorical
"""Any parameter of the vocabulary."""


def integer_bounds(lower: float, upper: float) -> tuple[int, int]:
    """The integers inside ``[lower, upper]`` as (first, last) (tolerant to float noise)."""
    return math.ceil(lower - 1e-9), math.floor(upper + 1e-9)


def label_of(paths: Sequence[str]) -> str:
    """Default short label of a parameter: the last two keys of its first path."""
    p = paths[0].split(".")
    return f"{p[-2]}.{p[-1]}" if len(p) > 1 else p[-1]


def values_at(parameters: Sequence[Parameter], row: Sequence[Any]) -> dict[str, Any]:
    """``{dotted key: value}`` setting each parameter's keys to its value in ``row``."""
    return {path: v for p, v in zip(parameters, row, strict=True) for path in p.paths}


def to_ema(parameters: Sequence[Parameter]) -> list[Any]:
    """The parameters as EMA Workbench ``RealParameter`` / ``IntegerParameter`` /
    ``CategoricalParameter`` objects (needs the optional ``ema_workbench`` package)."""
    from ema_workbench import CategoricalParameter, IntegerParameter, RealParameter

    out: list[Any] = []
    for p in parameters:
        if isinstance(p, Real):
            out.append(RealParameter(p.name, p.lower, p.upper))
        elif isinstance(p, Integer):
            out.append(IntegerParameter(p.name, p.lower, p.upper))
        else:
            out.append(CategoricalParameter(p.name, list(p.values)))
    return out


def from_uncertainty(u: Any) -> Real:
    """A scenario ``uncertainties`` entry (:class:`sim.scenario.schema.Uncertainty`) as a :class:`Real`."""
    return Real(u.path, (u.path,), u.lower, u.upper, u.distribution, u.mode)
