"""A sweep made concrete before anything runs: the strict spec (:class:`SweepSpec`), every point
checked as a full scenario (:func:`prepare` -> :class:`SweepPlan`), and the time estimate of a dry run.
The sweep itself, its files and its outputs are described in :mod:`sim.analysis.sweep`.

Long function: :func:`prepare` (about 105 lines) checks a sweep in the order its errors are
reported (design, base, each parameter path, each value, then every point as a full scenario), so
it reads top to bottom; a third of it is the docstring and the error messages.
"""

from __future__ import annotations

import copy
import csv
import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from sim.analysis.design import factorial_rows, lhs_rows
from sim.errors import ScenarioError
from sim.scenario import limits
from sim.scenario.docs import strip
from sim.scenario.parameters import Categorical, Integer, Parameter, Real, integer_bounds
from sim.scenario.paths import annotation_of, assign, get_value, set_values
from sim.scenario.safeyaml import YamlProblem, load_yaml
from sim.scenario.schema import Scenario, month_number
from sim.scenario.specs import BaseScenarioSpec, StrictSpec, load_spec

RESOLVED_SPEC = "sweep.resolved.yaml"


RESOLVED_BASE = "scenario.resolved.yaml"


NS_PER_FIRM_MONTH = 10e-9
"""Rough model time per firm and simulated month (s), used when a run is not timed: measured
14 ns per firm-step at 2,000,000 firms on a 2-core machine (benchmarks/README.md), rounded down
because fewer firms are present early in a run."""


SETUP_PER_FIRM = 1.5e-6
"""Rough population set-up time per firm (s): about 1.5 s per million firms (measured 1.3-1.5 s,
benchmarks/README.md)."""


MEASURE_LIMIT_S = 20.0
"""A dry run times one model run of the base only if the rough estimate is below this (s)."""


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


class SweepParameter(StrictSpec):
    """One swept scenario key: a list of values or a range."""

    path: str = Field(description="Dotted scenario key, e.g. policies.vouchers.budget_cny_per_year "
                                  "(list items by index: policies.pilots.items.0.parks_per_year).")
    values: list[Any] | None = Field(None, description="The values the key takes (any YAML values the key accepts).")
    lower: float | None = Field(None, description="Lower end of a range (numeric keys only).")
    upper: float | None = Field(None, description="Upper end of a range.")
    levels: int | None = Field(None, ge=2, description="Factorial design with a range: this many evenly spaced values from lower to upper.")
    integer: bool = Field(False, description="Round the range's values to integers (automatic for integer keys).")

    @model_validator(mode="after")
    def _kind(self) -> SweepParameter:
        ranged = self.lower is not None or self.upper is not None
        if self.values is not None:
            if ranged or self.levels is not None or self.integer:
                raise ValueError("give either values or a range (lower, upper, levels, integer), not both; "
                                 "allowed: values: [a, b, ...] or lower: x, upper: y")
            if not self.values:
                raise ValueError("values is empty; allowed: a non-empty list of values")
            keys = [_key(v) for v in self.values]
            if len(set(keys)) != len(keys):
                raise ValueError(f"values repeat: {self.values}; allowed: distinct values")
            return self
        if not ranged:
            raise ValueError("no values and no range; allowed: values: [a, b, ...] or lower: x, upper: y")
        if self.lower is None or self.upper is None:
            raise ValueError("a range needs both lower and upper; allowed: lower: x, upper: y with x < y")
        if not (math.isfinite(self.lower) and math.isfinite(self.upper) and self.lower < self.upper):
            raise ValueError(f"upper ({self.upper:g}) must exceed lower ({self.lower:g}); allowed: lower < upper")
        return self

    @property
    def is_range(self) -> bool:
        return self.values is None


class SweepSpec(BaseScenarioSpec):
    """A sweep: base scenario, overrides, parameters, design, replicates and seed."""

    KIND: ClassVar[str] = "sweep"

    description: str = Field("", description="The question the sweep answers.")
    base: str = Field("baseline", description="Base scenario: a path relative to the sweep file, or a shipped scenario name.")
    overrides: dict[str, Any] = Field(default_factory=dict, description="Dotted key -> value applied to the base at every point (like --set).")
    parameters: list[SweepParameter] = Field(default_factory=list, description="The swept keys (not used by design: table, whose columns are the keys).")
    design: Literal["factorial", "latin_hypercube", "table"] = Field("factorial", description="How points are generated.")
    samples: int | None = Field(None, ge=1, le=1_000_000, description="Points of a latin_hypercube design.")
    table: str | list[dict[str, Any]] | None = Field(None, description="design: table: a CSV file (relative to the sweep file) or a list of rows (mappings dotted key -> value).")
    replicates: int | None = Field(None, ge=1, le=100_000, description="Replicates per point (default: the base's run.replicates).")
    seed: int | None = Field(None, ge=0, description="Root seed of the replicates and of the Latin hypercube (default: the base's run.seed).")


def load_sweep(spec: str | Path | SweepSpec | dict) -> SweepSpec:
    """A validated :class:`SweepSpec` from a YAML file, a shipped sweep name, a dict or a spec.

    A bare name (``sweep_vouchers``) that is not a file is looked up in ``scenarios/analysis/``.

    Raises:
        ScenarioError: Missing or unreadable file, invalid YAML, an unknown key or a bad value
            (one line naming the file and the key).
    """
    return load_spec(spec, SweepSpec)


def _plain(path: str) -> str:
    """``a.items[0].b`` -> ``a.items.0.b`` (the loader writes list indices in brackets)."""
    return path.replace("[", ".").replace("]", "")


def _relabel(exc: ScenarioError, label: str, key_path: str, path: str) -> ScenarioError:
    """An error about the value of scenario key ``path`` reported at ``key_path`` of the sweep."""
    prefix = f"{path}: " if _plain(exc.key_path) == path else f"{path}: {exc.key_path}: "
    return ScenarioError(label, key_path, prefix + exc.message, exc.allowed, suggestion=exc.suggestion,
                         more=exc.more)


def value_text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "null"
    if isinstance(value, float):
        return f"{value:g}"
    return json.dumps(value, ensure_ascii=False, default=str) if not isinstance(value, str) else value


@dataclass
class SweepPlan:
    """A checked sweep: the base, the points (each a validated scenario), replicates and seed.

    Attributes:
        spec: The sweep spec.
        label: The sweep file (or ``(sweep spec)``) as named in messages.
        base_file: The base scenario file.
        base: The base with the spec's overrides and ``--set`` applied (``run.seed`` and
            ``run.replicates`` set to the sweep's).
        set_overrides: The ``--set`` strings applied to the base.
        parameters: The parameter paths (column names), in order.
        points: ``point`` and one column per parameter (the values as validated).
        scenarios: The scenario of each point.
        replicates: Replicates per point.
        seed: Root seed: replicate ``r`` of every point uses ``SeedSequence(seed, spawn_key=(r,))``.
        checked: The spec's parameters with their values as the scenario reads them (empty for
            a table design).
    """

    spec: SweepSpec
    label: str
    base_file: Path
    base: Scenario
    set_overrides: list[str]
    parameters: list[str]
    points: pd.DataFrame
    scenarios: list[Scenario]
    replicates: int
    seed: int
    checked: list[SweepParameter] = field(default_factory=list)

    @property
    def n_points(self) -> int:
        return len(self.scenarios)

    @property
    def n_runs(self) -> int:
        return self.n_points * self.replicates

    def hash(self) -> str:
        """sha256 of the base scenario, the points, the replicates and the seed."""
        from sim.scenario.loader import scenario_hash

        data = {"base": scenario_hash(self.base), "parameters": self.parameters,
                "points": [[_key(v) for v in row] for row in self.points[self.parameters].itertuples(index=False)],
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


def native(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


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
    if spec.design == "factorial":
        return math.prod(p.levels if p.is_range else len(p.values or []) for p in spec.parameters)
    return int(spec.samples or 0)


def _cell(text: str) -> Any:
    """A CSV cell: an integer, a float, else YAML (an empty cell is null)."""
    text = text.strip()
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    return load_yaml(text)


def _read_table(spec: SweepSpec, label: str) -> tuple[list[str], list[dict[str, Any]], str | None]:
    """(columns, rows, CSV file or None) of a table design; a ``point`` column is ignored."""
    if isinstance(spec.table, str):
        path = Path(spec.table)
        if not path.is_absolute():
            path = (spec.folder or Path(".")) / path
        if not path.is_file():
            raise ScenarioError(label, "table", f"{spec.table!r}: no such file (looked for {path})",
                                "a CSV file relative to the sweep file, or a list of rows")
        if path.stat().st_size > limits.MAX_FILE_BYTES:
            raise ScenarioError(str(path), "(file)", f"the table is larger than {limits.MAX_FILE_BYTES:,} bytes",
                                "a smaller table (sim/scenario/limits.py)")
        try:
            with open(path, newline="", encoding="utf-8") as fh:
                lines = [r for r in csv.reader(fh) if any(c.strip() for c in r)]
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise ScenarioError(str(path), "(file)", f"cannot read the table: {exc}", "a UTF-8 CSV file") from None
        if len(lines) < 2:
            raise ScenarioError(str(path), "(file)", "the table has no data row",
                                "a header of dotted scenario keys and one row per point")
        header = [h.strip() for h in lines[0]]
        rows = []
        for n, line in enumerate(lines[1:], start=2):
            if len(line) != len(header):
                raise ScenarioError(str(path), f"line {n}", f"{len(line)} cells, the header has {len(header)}",
                                    "one value per column")
            row = {}
            for h, c in zip(header, line, strict=True):
                try:
                    row[h] = _cell(c)
                except YamlProblem:
                    raise ScenarioError(str(path), f"line {n}", f"{h}: {c!r} is not a valid value",
                                        "a number or a YAML value") from None
            rows.append(row)
        where, prefix, csv_file = str(path), "", str(path)
    else:
        rows = [dict(r) for r in spec.table or []]
        if not rows:
            raise ScenarioError(label, "table", "the table is empty", "a list of rows {key.path: value}")
        header = list(rows[0])
        where, prefix, csv_file = label, "table", None
        for i, r in enumerate(rows):
            if set(r) != set(header):
                raise ScenarioError(label, f"table[{i}]", f"the keys {sorted(r)} differ from the first row's "
                                    f"{sorted(header)}", "the same keys in every row")
    if len(set(header)) != len(header):
        raise ScenarioError(where, prefix or "line 1", f"repeated column in {header}", "each key once")
    columns = [h for h in header if h != "point"]
    if not columns:
        raise ScenarioError(where, prefix or "line 1", "no parameter column", "dotted scenario keys as columns")
    return columns, [{c: r[c] for c in columns} for r in rows], csv_file


def _parameter(p: SweepParameter, integer: bool) -> Parameter:
    """A swept key in the one parameter vocabulary."""
    if not p.is_range:
        return Categorical(p.path, (p.path,), tuple(p.values or []))
    assert p.lower is not None and p.upper is not None
    if integer:
        return Integer(p.path, (p.path,), *integer_bounds(p.lower, p.upper))
    return Real(p.path, (p.path,), float(p.lower), float(p.upper))


def _design(spec: SweepSpec, integer: list[bool], seed: int) -> list[list[Any]]:
    """Rows of parameter values (before validation)."""
    params = [_parameter(p, k) for p, k in zip(spec.parameters, integer, strict=True)]
    if spec.design == "factorial":
        return factorial_rows(params, [p.levels for p in spec.parameters])
    return lhs_rows(params, int(spec.samples or 0), seed)


def prepare(spec: str | Path | SweepSpec | dict, overrides: Sequence[str] | None = None) -> SweepPlan:
    """Load and check a sweep; every point is validated as a full scenario.

    Args:
        spec: A sweep file, a shipped sweep name, a dict or a :class:`SweepSpec`.
        overrides: ``--set key.path=value`` strings applied to the base (after the spec's
            ``overrides``; the parameters' values are applied last).

    Returns:
        The :class:`SweepPlan`.

    Raises:
        ScenarioError: Anything invalid (one line naming the sweep file, or the ``--set``).
    """
    spec = load_sweep(spec)
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

    # Parameters: paths, then each value on its own (precise messages), then the design.
    csv_file = None
    if spec.design == "table":
        paths, rows, csv_file = _read_table(spec, label)
        if len(rows) > limits.MAX_DESIGN_POINTS or len(rows) * replicates > limits.MAX_RUNS:
            raise ScenarioError(csv_file or label, "table", f"the table has {len(rows):,} rows "
                                f"({len(rows) * replicates:,} runs)", f"at most {limits.MAX_DESIGN_POINTS:,} "
                                f"points and {limits.MAX_RUNS:,} runs (sim/scenario/limits.py)")
        for j, path in enumerate(paths):
            if csv_file is not None:
                _check_path(data, path, csv_file, "line 1", f"column {j + 1}: ")
            else:
                _check_path(data, path, label, "table[0]")
        design_rows = [[r[p] for p in paths] for r in rows]
        integer = [False] * len(paths)
    else:
        paths = [p.path for p in spec.parameters]
        integer = []
        checked: list[SweepParameter] = []
        for i, p in enumerate(spec.parameters):
            _check_path(data, p.path, label, f"parameters[{i}].path")
            annotation = annotation_of(p.path, label)
            core = strip(annotation)[0]
            is_int = core is int
            if p.is_range:
                if core not in (int, float):
                    from sim.scenario.docs import type_text

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
                checked.append(p)
            else:
                normal = []
                for j, v in enumerate(p.values or []):
                    try:
                        sc = set_values(data, {p.path: v}, label=label, round_integers=False)
                    except ScenarioError as exc:
                        raise _relabel(exc, label, f"parameters[{i}].values[{j}]", p.path) from None
                    normal.append(get_value(sc.model_dump(mode="json"), p.path))
                if len({_key(v) for v in normal}) != len(normal):
                    raise ScenarioError(label, f"parameters[{i}].values",
                                        f"{p.path}: values repeat once read by the scenario: {normal}",
                                        "distinct values")
                checked.append(p.model_copy(update={"values": normal}))
            integer.append(is_int)
        design_rows = _design(spec.model_copy(update={"parameters": checked}), integer, seed)

    # Every point as a full scenario.
    scenarios: list[Scenario] = []
    values: list[list[Any]] = []
    for k, row in enumerate(design_rows):
        point = dict(zip(paths, row, strict=True))
        where = f"point {k} ({', '.join(f'{p}={value_text(v)}' for p, v in point.items())})"
        try:
            sc = set_values(data, point, label=label, round_integers=False)
        except ScenarioError as exc:
            if spec.design == "table":
                file, key = (csv_file, f"line {k + 2}") if csv_file else (label, f"table[{k}]")
                raise ScenarioError(file, key, f"{exc.key_path}: {exc.message}", exc.allowed,
                                    suggestion=exc.suggestion, more=exc.more) from None
            raise ScenarioError(label, exc.key_path, f"{where}: {exc.message}", exc.allowed,
                                suggestion=exc.suggestion, more=exc.more) from None
        if month_number(sc.goals.date) < month_number(sc.time.start):
            raise ScenarioError(label, "goals.date", f"{where}: the goal month {sc.goals.date} is before "
                                f"the run start {sc.time.start}", "a goals.date from time.start on")
        dump = sc.model_dump(mode="json")
        scenarios.append(sc)
        values.append([get_value(dump, p) for p in paths])
    points = pd.DataFrame(values, columns=paths) if values else pd.DataFrame(columns=paths)
    points.insert(0, "point", np.arange(len(values), dtype=np.int64))
    return SweepPlan(spec, label, base_file, base, sets, paths, points, scenarios, replicates, seed,
                     checked if spec.design != "table" else [])


def _check_path(data: dict[str, Any], path: str, label: str, key_path: str, prefix: str = "") -> None:
    """The loader's error for an unknown key (with its did-you-mean), reported at ``key_path``."""
    try:
        assign(copy.deepcopy(data), path, None, label)
    except ScenarioError as exc:
        raise ScenarioError(label, key_path, f"{prefix}{path}: {exc.message}", exc.allowed,
                            suggestion=exc.suggestion) from None


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


def rough_run_seconds(sc: Scenario) -> float:
    """About 10 ns per firm and month (x substeps) plus 1.5 s per million firms of set-up."""
    months = month_number(sc.time.end) - month_number(sc.time.start)
    firms = sc.population.total_firms
    return NS_PER_FIRM_MONTH * firms * months * sc.time.substeps_per_month + SETUP_PER_FIRM * firms


@dataclass
class Estimate:
    """Estimated time of a sweep.

    Attributes:
        base_run_s: Seconds of one model run of the base (measured, or the rough estimate).
        measured: True if ``base_run_s`` was measured.
        model_s: Model time of all runs (each point scaled from the base by the rough estimate).
        workers: Workers assumed.
        wall_s: ``model_s / workers`` (runs are independent).
    """

    base_run_s: float
    measured: bool
    model_s: float
    workers: int
    wall_s: float


def estimate(plan: SweepPlan, *, workers: int = 1, measure: bool = True) -> Estimate:
    """Estimate the sweep's time: one timed run of the base at its population size if it is quick
    (rough estimate below :data:`MEASURE_LIMIT_S`), else :func:`rough_run_seconds`."""
    from sim.runs.runner import ReplicateRun, run_one

    rough = rough_run_seconds(plan.base)
    base_s, measured = rough, False
    if measure and rough <= MEASURE_LIMIT_S:
        res = run_one(ReplicateRun(plan.base, plan.base.name, 0, plan.seed))
        if res.ok:
            base_s, measured = res.wall_time_s, True
    ratio = base_s / rough if rough > 0 else 1.0
    model = sum(rough_run_seconds(sc) * ratio for sc in plan.scenarios) * plan.replicates
    workers = max(1, min(int(workers), max(plan.n_runs, 1)))
    return Estimate(base_s, measured, model, workers, model / workers)
