"""A sweep made concrete before anything runs, in two steps:

* :func:`outline` -> :class:`SweepOutline`: the spec, the base scenario and every parameter
  checked (each path against the schema, each listed value and each range end on the base), the
  number of points counted from the design without building them, and the first and last point
  checked as full scenarios. This is all ``gdcloud sweep --dry-run`` needs, whatever the size.
* :func:`prepare` -> :class:`SweepPlan`: the outline with every point built and checked as a full
  scenario (what :func:`sim.analysis.sweep.run_sweep` runs).

The spec is :mod:`sim.analysis.sweep_spec`; the time estimate, :mod:`sim.analysis.sweep_estimate`.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis.design import factorial_rows, lhs_rows
from sim.analysis.sweep_spec import (
    RESOLVED_BASE,
    SweepParameter,
    SweepSpec,
    native,
    read_table,
    value_key,
    value_text,
)
from sim.errors import ScenarioError
from sim.scenario import limits
from sim.scenario.docs import strip, type_text
from sim.scenario.parameters import Categorical, Integer, Parameter, Real, integer_bounds
from sim.scenario.paths import annotation_of, assign, get_value, set_values
from sim.scenario.schema import Scenario
from sim.scenario.schema_types import month_number


def _plain(path: str) -> str:
    """``a.items[0].b`` -> ``a.items.0.b`` (the loader writes list indices in brackets)."""
    return path.replace("[", ".").replace("]", "")


def _relabel(exc: ScenarioError, label: str, key_path: str, path: str) -> ScenarioError:
    """An error about the value of scenario key ``path`` reported at ``key_path`` of the sweep."""
    prefix = f"{path}: " if _plain(exc.key_path) == path else f"{path}: {exc.key_path}: "
    return ScenarioError(label, key_path, prefix + exc.message, exc.allowed, suggestion=exc.suggestion,
                         more=exc.more)


def _parameter(p: SweepParameter, integer: bool) -> Parameter:
    """A swept key in the one parameter vocabulary."""
    if not p.is_range:
        return Categorical(p.path, (p.path,), tuple(p.values or []))
    assert p.lower is not None and p.upper is not None
    if integer:
        return Integer(p.path, (p.path,), *integer_bounds(p.lower, p.upper))
    return Real(p.path, (p.path,), float(p.lower), float(p.upper))


@dataclass
class SweepOutline:
    """A checked sweep whose points are counted but not built (:func:`outline`).

    Attributes:
        spec: The sweep spec.
        label: The sweep file (or ``(sweep spec)``) as named in messages.
        base_file: The base scenario file.
        base: The base with the spec's overrides and ``--set`` applied (``run.seed`` and
            ``run.replicates`` set to the sweep's).
        set_overrides: The ``--set`` strings applied to the base.
        parameters: The parameter paths (column names), in order.
        replicates: Replicates per point.
        seed: Root seed: replicate ``r`` of every point uses ``SeedSequence(seed, spawn_key=(r,))``.
        checked: The spec's parameters with their values as the scenario reads them (empty for
            a table design).
        integer: Whether each parameter takes integer values.
        table: The rows of a table design (None for the other designs).
        csv_file: The CSV file of a table design, if any.
    """

    spec: SweepSpec
    label: str
    base_file: Path
    base: Scenario
    set_overrides: list[str]
    parameters: list[str]
    replicates: int
    seed: int
    checked: list[SweepParameter] = field(default_factory=list)
    integer: list[bool] = field(default_factory=list)
    table: list[list[Any]] | None = None
    csv_file: str | None = None

    @functools.cached_property
    def base_data(self) -> dict[str, Any]:
        """The base as a dict (each point is the base with its values set)."""
        return self.base.model_dump(mode="json")

    def grids(self) -> list[list[Any]]:
        """The values each parameter takes in a factorial design (ranges: its levels)."""
        return [_parameter(p, k).grid(p.levels or 0) for p, k in zip(self.checked, self.integer, strict=True)]

    @property
    def n_points(self) -> int:
        """Points of the design, counted without building them."""
        if self.table is not None:
            return len(self.table)
        if self.spec.design == "factorial":
            return math.prod(len(g) for g in self.grids())
        return int(self.spec.samples or 0)

    @property
    def n_runs(self) -> int:
        return self.n_points * self.replicates

    def rows(self) -> list[list[Any]]:
        """Every point's parameter values (before validation)."""
        if self.table is not None:
            return self.table
        params = [_parameter(p, k) for p, k in zip(self.checked, self.integer, strict=True)]
        if self.spec.design == "factorial":
            return factorial_rows(params, [p.levels for p in self.checked])
        return lhs_rows(params, int(self.spec.samples or 0), self.seed)

    def ends(self) -> list[tuple[int, list[Any]]]:
        """``(index, values)`` of the first and the last point (factorial: without the others)."""
        n = self.n_points
        if n == 0:
            return []
        if self.spec.design == "factorial":
            grids = self.grids()
            rows = [(0, [g[0] for g in grids]), (n - 1, [g[-1] for g in grids])]
        else:
            every = self.rows()
            rows = [(0, every[0]), (n - 1, every[-1])]
        return rows[:1] if n == 1 else rows

    def point_scenario(self, k: int, row: Sequence[Any]) -> Scenario:
        """Point ``k`` (values ``row``) as a full scenario.

        Raises:
            ScenarioError: One line naming the point (or the table row) and the key.
        """
        point = dict(zip(self.parameters, row, strict=True))
        where = f"point {k} ({', '.join(f'{p}={value_text(v)}' for p, v in point.items())})"
        try:
            sc = set_values(self.base_data, point, label=self.label, round_integers=False)
        except ScenarioError as exc:
            if self.spec.design == "table":
                file, key = (self.csv_file, f"line {k + 2}") if self.csv_file else (self.label, f"table[{k}]")
                raise ScenarioError(file, key, f"{exc.key_path}: {exc.message}", exc.allowed,
                                    suggestion=exc.suggestion, more=exc.more) from None
            raise ScenarioError(self.label, exc.key_path, f"{where}: {exc.message}", exc.allowed,
                                suggestion=exc.suggestion, more=exc.more) from None
        if month_number(sc.goals.date) < month_number(sc.time.start):
            raise ScenarioError(self.label, "goals.date", f"{where}: the goal month {sc.goals.date} is before "
                                f"the run start {sc.time.start}", "a goals.date from time.start on")
        return sc


def _check_design(spec: SweepSpec, label: str) -> None:
    """Keys that only some designs use, and what each design needs."""
    paths = [p.path for p in spec.parameters]
    for i, p in enumerate(paths):
        if p in paths[:i]:
            raise ScenarioError(label, f"parameters[{i}].path", f"{p} is swept twice",
                                "each scenario key at most once")
    if spec.design != "latin_hypercube" and spec.samples is not None:
        raise ScenarioError(label, "samples", f"samples is only used by design: latin_hypercube (design is {spec.design})",
                            "remove samples, or design: latin_hypercube")
    if spec.design != "table" and spec.table is not None:
        raise ScenarioError(label, "table", f"table is only used by design: table (design is {spec.design})",
                            "remove table, or design: table")
    if spec.design == "table":
        if spec.table is None:
            raise ScenarioError(label, "table", "design: table needs a table",
                                "a CSV file relative to the sweep file, or a list of rows {key.path: value}")
        if spec.parameters:
            raise ScenarioError(label, "parameters", "design: table takes the parameters from the table's columns",
                                "remove parameters (the table's header names the scenario keys)")
        return
    if not spec.parameters:
        raise ScenarioError(label, "parameters", "no parameter to sweep",
                            "a list of {path, values} or {path, lower, upper}")
    if spec.design == "latin_hypercube" and spec.samples is None:
        raise ScenarioError(label, "samples", "design: latin_hypercube needs samples",
                            "samples: n (the number of points)")
    for i, p in enumerate(spec.parameters):
        if spec.design == "factorial" and p.is_range and p.levels is None:
            raise ScenarioError(label, f"parameters[{i}].levels",
                                f"a range in a factorial design needs levels ({p.path})",
                                "levels: n (n >= 2 evenly spaced values from lower to upper), or values: [...]")
        if spec.design == "latin_hypercube" and p.levels is not None:
            raise ScenarioError(label, f"parameters[{i}].levels", "levels is only used by design: factorial",
                                "remove levels (a Latin hypercube samples the whole range)")
    n_points = _design_size(spec)
    if n_points > limits.MAX_DESIGN_POINTS:  # counted before any point is built (also --dry-run)
        raise ScenarioError(label, "parameters" if spec.design == "factorial" else "samples",
                            f"the design has {n_points:,} points", f"at most {limits.MAX_DESIGN_POINTS:,} "
                            "points (sim/scenario/limits.py); fewer values or levels")


def _design_size(spec: SweepSpec) -> int:
    """Points of a factorial or Latin-hypercube design before integer levels are merged (an upper
    bound of the final count, from the spec's numbers alone)."""
    if spec.design == "factorial":
        return math.prod(p.levels if p.is_range else len(p.values or []) for p in spec.parameters)
    return int(spec.samples or 0)


def _check_path(data: dict[str, Any], path: str, label: str, key_path: str, prefix: str = "") -> None:
    """The loader's error for an unknown key (with its did-you-mean), reported at ``key_path``."""
    try:
        assign(copy.deepcopy(data), path, None, label)
    except ScenarioError as exc:
        raise ScenarioError(label, key_path, f"{prefix}{path}: {exc.message}", exc.allowed,
                            suggestion=exc.suggestion) from None


def _check_parameter(data: dict[str, Any], p: SweepParameter, i: int, label: str) -> tuple[SweepParameter, bool]:
    """One parameter checked on the base: its path, then each value or both range ends.

    Returns:
        The parameter with its values as the scenario reads them, and whether it is an integer.
    """
    _check_path(data, p.path, label, f"parameters[{i}].path")
    annotation = annotation_of(p.path, label)
    core = strip(annotation)[0]
    is_int = core is int
    if not p.is_range:
        normal = []
        for j, v in enumerate(p.values or []):
            try:
                sc = set_values(data, {p.path: v}, label=label, round_integers=False)
            except ScenarioError as exc:
                raise _relabel(exc, label, f"parameters[{i}].values[{j}]", p.path) from None
            normal.append(get_value(sc.model_dump(mode="json"), p.path))
        if len({value_key(v) for v in normal}) != len(normal):
            raise ScenarioError(label, f"parameters[{i}].values",
                                f"{p.path}: values repeat once read by the scenario: {normal}",
                                "distinct values")
        return p.model_copy(update={"values": normal}), is_int
    if core not in (int, float):
        raise ScenarioError(label, f"parameters[{i}].lower",
                            f"{p.path}: a range needs a numeric key, this one is {type_text(annotation)}",
                            "values: [...] for this key, or a numeric key")
    is_int = is_int or p.integer
    if is_int and integer_bounds(p.lower, p.upper)[1] < integer_bounds(p.lower, p.upper)[0]:
        raise ScenarioError(label, f"parameters[{i}]", f"{p.path}: no integer between "
                            f"{p.lower:g} and {p.upper:g}", "a range containing an integer")
    ends = integer_bounds(p.lower, p.upper) if is_int else (p.lower, p.upper)
    for bound, value in zip(("lower", "upper"), ends, strict=True):
        try:
            set_values(data, {p.path: value}, label=label, round_integers=False)
        except ScenarioError as exc:
            raise _relabel(exc, label, f"parameters[{i}].{bound}", p.path) from None
    return p, is_int


def outline(spec: str | Path | SweepSpec | dict, overrides: Sequence[str] | None = None) -> SweepOutline:
    """Load and check a sweep without building its points.

    Checked: the spec and its design, the base with the overrides, the size (points and runs,
    counted from the design), every parameter path, every listed value and both ends of every
    range on the base, and the first and last point as full scenarios. The other points are
    checked by :func:`prepare`.

    Args:
        spec: A sweep file, a shipped sweep name, a dict or a :class:`SweepSpec`.
        overrides: ``--set key.path=value`` strings applied to the base (after the spec's
            ``overrides``; the parameters' values are applied last).

    Returns:
        The :class:`SweepOutline`.

    Raises:
        ScenarioError: Anything invalid (one line naming the sweep file, or the ``--set``).
    """
    spec = SweepSpec.load(spec)
    label = spec.label
    sets = list(overrides or [])
    _check_design(spec, label)
    base_file = spec.base_file()
    base = spec.base_scenario(sets)
    replicates = spec.replicates if spec.replicates is not None else base.run.replicates
    seed = spec.seed if spec.seed is not None else base.run.seed
    n_points = len(spec.table) if isinstance(spec.table, list) else None
    if n_points is not None and n_points * replicates > limits.MAX_RUNS or \
            spec.design != "table" and _design_size(spec) * replicates > limits.MAX_RUNS:
        raise ScenarioError(label, "replicates", f"{replicates:,} replicates per point make more than "
                            f"{limits.MAX_RUNS:,} runs", "fewer points or replicates (sim/scenario/limits.py)")
    data = base.model_dump(mode="json")
    data["run"].update(replicates=replicates, seed=seed)
    base = Scenario.model_validate(data)

    if spec.design == "table":
        paths, table, csv_file = read_table(spec, label)
        if len(table) > limits.MAX_DESIGN_POINTS or len(table) * replicates > limits.MAX_RUNS:
            raise ScenarioError(csv_file or label, "table", f"the table has {len(table):,} rows "
                                f"({len(table) * replicates:,} runs)", f"at most {limits.MAX_DESIGN_POINTS:,} "
                                f"points and {limits.MAX_RUNS:,} runs (sim/scenario/limits.py)")
        for j, path in enumerate(paths):
            if csv_file is not None:
                _check_path(data, path, csv_file, "line 1", f"column {j + 1}: ")
            else:
                _check_path(data, path, label, "table[0]")
        out = SweepOutline(spec, label, base_file, base, sets, paths, replicates, seed,
                           integer=[False] * len(paths), table=[[r[p] for p in paths] for r in table],
                           csv_file=csv_file)
    else:
        checked = [_check_parameter(data, p, i, label) for i, p in enumerate(spec.parameters)]
        out = SweepOutline(spec, label, base_file, base, sets, [p.path for p in spec.parameters], replicates,
                           seed, checked=[c for c, _ in checked], integer=[k for _, k in checked])
    for k, row in out.ends():
        out.point_scenario(k, row)
    return out


@dataclass
class SweepPlan(SweepOutline):
    """A checked sweep with every point built (:func:`prepare`).

    Attributes:
        points: ``point`` and one column per parameter (the values as validated).
        scenarios: The scenario of each point.
    """

    points: pd.DataFrame = field(default_factory=pd.DataFrame)
    scenarios: list[Scenario] = field(default_factory=list)

    @property
    def n_points(self) -> int:
        return len(self.scenarios)

    def hash(self) -> str:
        """sha256 of the base scenario, the points, the replicates and the seed."""
        from sim.scenario.loader import scenario_hash

        data = {"base": scenario_hash(self.base), "parameters": self.parameters,
                "points": [[value_key(v) for v in row] for row in self.points[self.parameters].itertuples(index=False)],
                "replicates": self.replicates, "seed": self.seed, "design": self.spec.design}
        text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def resolved_spec(self) -> dict[str, Any]:
        """A sweep spec that reproduces this one from the folder's ``scenario.resolved.yaml``."""
        spec = self.spec
        out: dict[str, Any] = {"description": spec.description, "base": RESOLVED_BASE, "overrides": {}}
        if spec.design == "table":
            rows = self.points[self.parameters].to_dict(orient="records")
            out.update(design="table", table=[{k: native(v) for k, v in r.items()} for r in rows])
        else:
            out["parameters"] = [p.model_dump(mode="json", exclude_defaults=True) for p in self.checked]
            out["design"] = spec.design
            if spec.samples is not None:
                out["samples"] = spec.samples
        out.update(replicates=self.replicates, seed=self.seed)
        return out


def prepare(spec: str | Path | SweepSpec | dict, overrides: Sequence[str] | None = None) -> SweepPlan:
    """Load and check a sweep (:func:`outline`), then build every point as a full scenario.

    Args:
        spec: A sweep file, a shipped sweep name, a dict or a :class:`SweepSpec`.
        overrides: ``--set key.path=value`` strings applied to the base.

    Returns:
        The :class:`SweepPlan`.

    Raises:
        ScenarioError: Anything invalid (one line naming the sweep file, or the ``--set``).
    """
    out = outline(spec, overrides)
    paths = out.parameters
    scenarios: list[Scenario] = []
    values: list[list[Any]] = []
    for k, row in enumerate(out.rows()):
        sc = out.point_scenario(k, row)
        dump = sc.model_dump(mode="json")
        scenarios.append(sc)
        values.append([get_value(dump, p) for p in paths])
    points = pd.DataFrame(values, columns=paths) if values else pd.DataFrame(columns=paths)
    points.insert(0, "point", np.arange(len(values), dtype=np.int64))
    kept = {f.name: getattr(out, f.name) for f in dataclasses.fields(SweepOutline)}
    return SweepPlan(**kept, points=points, scenarios=scenarios)


def design_points(spec: str | Path | SweepSpec | dict, overrides: Sequence[str] | None = None) -> pd.DataFrame:
    """The points of a sweep: column ``point`` and one column per parameter path.

    Every point is checked as a full scenario (see :func:`prepare`).

    Example:
        >>> design_points({"base": "demo", "parameters": [
        ...     {"path": "policies.vouchers.subsidy_share", "values": [0.2, 0.4]},
        ...     {"path": "policies.pilots.scale", "values": [0, 1, 2]}]}).shape
        (6, 3)
    """
    return prepare(spec, overrides).points
