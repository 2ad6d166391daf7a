"""Parameter sweeps: run a scenario at many points of its parameters, the same replicates at each.

A sweep file (:class:`SweepSpec`, strict YAML: unknown keys are errors) names a base scenario,
overrides applied to every point, the parameters (dotted scenario keys with a list of ``values``
or a range ``lower``/``upper``) and a design:

* ``factorial``: every combination of the parameters' values (a range needs ``levels``: evenly
  spaced values from ``lower`` to ``upper``); the first parameter varies slowest;
* ``latin_hypercube``: ``samples`` points, one in each of ``samples`` equal strata of every
  parameter (scipy's ``qmc.LatinHypercube``, seeded by ``seed``); a parameter with ``values``
  takes ``values[floor(u * len(values))]``;
* ``table``: the points are given, as a CSV file (relative to the sweep file; header = dotted
  keys, cells read as numbers or YAML, an empty cell is null; a ``point`` column is ignored, so
  a sweep's ``points.csv`` can be reused) or as a list of mappings under ``table``.

Example (``scenarios/analysis/sweep_vouchers.yaml``)::

    base: demo
    parameters:
      - path: policies.vouchers.budget_cny_per_year
        values: [0, 300000000, 600000000, 1200000000]
      - path: policies.vouchers.subsidy_share
        lower: 0.2
        upper: 0.6
        levels: 3
    design: factorial
    replicates: 4

Before anything runs, :func:`prepare` checks every parameter path against the schema, every
value, and every point as a full :class:`~sim.scenario.schema.Scenario`; a problem is one
:class:`~sim.errors.ScenarioError` line naming the sweep file and the key. Integer keys (and
parameters with ``integer: true``) take rounded values.

:func:`run_sweep` runs every (point, replicate) pair on an executor (serial, processes, dask).
Replicate ``r`` of every point uses the seed ``SeedSequence(seed, spawn_key=(r,))``: common
random numbers, so differences between points are not blurred by different random draws. The
results go to a new folder ``<out>/sweep/<UTC timestamp>-<hash>/``:

* ``points.csv``: ``point`` and the value of each parameter (as validated);
* ``runs/point-NNNNN.csv``: the outcomes of one point, written as soon as its replicates are
  done (an interrupted sweep keeps them);
* ``outcomes.csv``: one row per point and replicate (:data:`OUTCOME_COLUMNS`: cloud and
  transformed firms at the goal date, goals, gaps, met flags, ...) with the parameter values;
* ``point_summary.csv``: one row per point (:data:`SUMMARY_COLUMNS`): the probability of
  meeting each goal (share of replicates), median, 10% and 90% quantiles of the counts, with the
  parameter values;
* ``figures/sweep.png``: for one parameter, the probability of meeting each goal against it;
  for two or more, the first two parameters coloured by the median cloud firms;
* ``sweep.resolved.yaml`` (loads back as a sweep: same points and seeds) and
  ``scenario.resolved.yaml`` (the base with overrides); ``manifest.json``;
  ``failures.csv`` if a run failed (the other runs go on; failures are data).

Counts are those of the simulated population and the goals are scaled to it, as in
``gdcloud run`` (:func:`sim.analysis.summary.scaled_goals`); a run that ends before ``goals.date`` is
evaluated at its last month.
"""

from __future__ import annotations

import copy
import csv
import hashlib
import json
import math
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from sim.errors import ScenarioError
from sim.runs.executors import Executor
from sim.scenario import limits
from sim.scenario.docs import strip
from sim.scenario.paths import annotation_of, assign, get_value, set_values
from sim.scenario.safeyaml import YamlProblem, load_yaml
from sim.scenario.schema import Scenario, month_number

SWEEP_DIR = "sweep"
"""Sub-folder of the results folder where sweep folders are created."""

RUNS = "runs"
POINTS = "points.csv"
OUTCOMES = "outcomes.csv"
POINT_SUMMARY = "point_summary.csv"
FAILURES = "failures.csv"
RESOLVED_SPEC = "sweep.resolved.yaml"
RESOLVED_BASE = "scenario.resolved.yaml"
FIGURE = "figures/sweep.png"

RUN_COLUMNS: list[str] = [
    "goal_date", "cloud_firms", "transformed_firms", "cloud_goal", "transformed_goal", "cloud_gap",
    "transformed_gap", "cloud_goal_met", "transformed_goal_met", "both_goals_met",
    "cloud_goal_first_met", "transformed_goal_first_met", "voucher_spend_total_cny",
]
"""Outcomes of one run (:func:`sim.analysis.summary.goal_outcomes` plus ``both_goals_met``)."""

OUTCOME_COLUMNS: list[str] = ["point", "replicate", "<parameters>", *RUN_COLUMNS]
"""Columns of ``outcomes.csv``; ``<parameters>`` stands for one column per parameter path."""

SUMMARY_STATS: list[str] = [
    "n_replicates", "n_failed", "p_meet_cloud_goal", "p_meet_transformed_goal", "p_meet_both_goals",
    "cloud_firms_median", "cloud_firms_p10", "cloud_firms_p90",
    "transformed_firms_median", "transformed_firms_p10", "transformed_firms_p90",
    "cloud_gap_median", "transformed_gap_median", "cloud_goal", "transformed_goal", "goal_date",
]
"""Statistics per point in ``point_summary.csv`` (after ``point`` and the parameter columns)."""

SUMMARY_COLUMNS: list[str] = ["point", "<parameters>", *SUMMARY_STATS]
"""Columns of ``point_summary.csv``."""

FAILURE_COLUMNS: list[str] = ["point", "replicate", "seed_entropy", "seed_spawn_key", "error_type",
                              "message", "traceback"]
"""Columns of ``failures.csv``."""

NS_PER_FIRM_MONTH = 10e-9
"""Rough model time per firm and simulated month (s), used when a run is not timed: measured
14 ns per firm-step at 2,000,000 firms on a 2-core machine (benchmarks/README.md), rounded down
because fewer firms are present early in a run."""

SETUP_PER_FIRM = 1.5e-6
"""Rough population set-up time per firm (s): about 1.5 s per million firms (measured 1.3-1.5 s,
benchmarks/README.md)."""

MEASURE_LIMIT_S = 20.0
"""A dry run times one model run of the base only if the rough estimate is below this (s)."""


# --------------------------------------------------------------------------- spec


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


class SweepParameter(_Strict):
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


class SweepSpec(_Strict):
    """A sweep: base scenario, overrides, parameters, design, replicates and seed."""

    description: str = Field("", description="The question the sweep answers.")
    base: str = Field("baseline", description="Base scenario: a path relative to the sweep file, or a shipped scenario name.")
    overrides: dict[str, Any] = Field(default_factory=dict, description="Dotted key -> value applied to the base at every point (like --set).")
    parameters: list[SweepParameter] = Field(default_factory=list, description="The swept keys (not used by design: table, whose columns are the keys).")
    design: Literal["factorial", "latin_hypercube", "table"] = Field("factorial", description="How points are generated.")
    samples: int | None = Field(None, ge=1, le=1_000_000, description="Points of a latin_hypercube design.")
    table: str | list[dict[str, Any]] | None = Field(None, description="design: table: a CSV file (relative to the sweep file) or a list of rows (mappings dotted key -> value).")
    replicates: int | None = Field(None, ge=1, le=100_000, description="Replicates per point (default: the base's run.replicates).")
    seed: int | None = Field(None, ge=0, description="Root seed of the replicates and of the Latin hypercube (default: the base's run.seed).")

    _folder: Path | None = PrivateAttr(default=None)
    _label: str = PrivateAttr(default="(sweep)")

    def located(self, file: str | Path | None) -> SweepSpec:
        """Record the sweep file (relative paths are resolved from its folder); returns self."""
        if file is None:
            self._folder, self._label = None, "(sweep)"
        else:
            self._folder, self._label = Path(file).parent, str(file)
        return self

    @property
    def folder(self) -> Path | None:
        """Folder of the sweep file (None for a spec built in Python: the current directory)."""
        return self._folder

    @property
    def label(self) -> str:
        """The sweep file as named in error messages."""
        return self._label


def load_sweep(spec: str | Path | SweepSpec | dict) -> SweepSpec:
    """A validated :class:`SweepSpec` from a YAML file, a shipped sweep name, a dict or a spec.

    A bare name (``sweep_vouchers``) that is not a file is looked up in ``scenarios/analysis/``.

    Raises:
        ScenarioError: Missing or unreadable file, invalid YAML, an unknown key or a bad value
            (one line naming the file and the key).
    """
    from sim.cli.main import _find_spec, _read_spec, _spec_error

    if isinstance(spec, SweepSpec):
        return spec
    if isinstance(spec, dict):
        data, file = spec, None
    else:
        file = _find_spec(str(spec), "sweep")
        data = _read_spec(file)
    label = str(file) if file is not None else "(sweep)"
    if not isinstance(data, dict):
        raise ScenarioError(label, "(top level)", f"the file holds a {type(data).__name__}, not a mapping",
                            "a mapping of sweep keys: " + ", ".join(SweepSpec.model_fields))
    try:
        return SweepSpec.model_validate(data).located(file)
    except ValidationError as exc:
        raise _spec_error(exc, SweepSpec, label) from None


# --------------------------------------------------------------------------- schema helpers


def _plain(path: str) -> str:
    """``a.items[0].b`` -> ``a.items.0.b`` (the loader writes list indices in brackets)."""
    return path.replace("[", ".").replace("]", "")


def _relabel(exc: ScenarioError, label: str, key_path: str, path: str) -> ScenarioError:
    """An error about the value of scenario key ``path`` reported at ``key_path`` of the sweep."""
    prefix = f"{path}: " if _plain(exc.key_path) == path else f"{path}: {exc.key_path}: "
    return ScenarioError(label, key_path, prefix + exc.message, exc.allowed, suggestion=exc.suggestion,
                         more=exc.more)


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "null"
    if isinstance(value, float):
        return f"{value:g}"
    return json.dumps(value, ensure_ascii=False, default=str) if not isinstance(value, str) else value


# --------------------------------------------------------------------------- plan


@dataclass
class SweepPlan:
    """A checked sweep: the base, the points (each a validated scenario), replicates and seed.

    Attributes:
        spec: The sweep spec.
        label: The sweep file (or ``(sweep)``) as named in messages.
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
            out.update(design="table", table=[{k: _native(v) for k, v in r.items()} for r in rows])
        else:
            out["parameters"] = [p.model_dump(mode="json", exclude_defaults=True) for p in self.checked]
            out["design"] = spec.design
            if spec.samples is not None:
                out["samples"] = spec.samples
        out.update(replicates=self.replicates, seed=self.seed)
        return out


def _native(v: Any) -> Any:
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


def _lhs(d: int, n: int, seed: int) -> np.ndarray:
    from scipy.stats import qmc

    try:
        sampler = qmc.LatinHypercube(d=d, rng=np.random.default_rng(seed))
    except TypeError:  # scipy < 1.15
        sampler = qmc.LatinHypercube(d=d, seed=np.random.default_rng(seed))
    return sampler.random(n)


def _levels(p: SweepParameter, integer: bool) -> list[Any]:
    """The values of one parameter in a factorial design."""
    if not p.is_range:
        return list(p.values or [])
    assert p.lower is not None and p.upper is not None and p.levels is not None
    grid = np.linspace(p.lower, p.upper, p.levels)
    if integer:
        return list(dict.fromkeys(int(round(v)) for v in grid))
    return [float(f"{v:.12g}") for v in grid]


def _int_bounds(p: SweepParameter) -> tuple[int, int]:
    assert p.lower is not None and p.upper is not None
    return math.ceil(p.lower - 1e-9), math.floor(p.upper + 1e-9)


def _design(spec: SweepSpec, integer: list[bool], seed: int) -> list[list[Any]]:
    """Rows of parameter values (before validation)."""
    import itertools

    params = spec.parameters
    if spec.design == "factorial":
        return [list(row) for row in itertools.product(*[_levels(p, k) for p, k in zip(params, integer, strict=True)])]
    u = _lhs(len(params), int(spec.samples or 0), seed)
    cols = []
    for j, (p, k) in enumerate(zip(params, integer, strict=True)):
        x = u[:, j]
        if not p.is_range:
            vals = list(p.values or [])
            cols.append([vals[min(int(v * len(vals)), len(vals) - 1)] for v in x])
        elif k:
            lo, hi = _int_bounds(p)
            cols.append([int(min(lo + math.floor(v * (hi - lo + 1)), hi)) for v in x])
        else:
            lo, hi = float(p.lower), float(p.upper)  # type: ignore[arg-type]
            cols.append([float(lo + v * (hi - lo)) for v in x])
    return [list(row) for row in zip(*cols, strict=True)]


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
    from sim.analysis.calibration import resolve_base
    from sim.scenario.loader import load_scenario

    spec = load_sweep(spec)
    label = spec.label
    sets = list(overrides or [])
    _check_design(spec, label)
    try:
        base_file = resolve_base(spec.base, spec.folder)
    except ScenarioError as exc:
        raise ScenarioError(label, "base", f"{spec.base!r}: {exc.message}", exc.allowed) from None
    try:
        base = load_scenario(base_file, dict(spec.overrides) or None)
    except ScenarioError as exc:
        if exc.file.startswith("--set "):
            raise ScenarioError(label, f"overrides.{exc.key_path}", exc.message, exc.allowed,
                                suggestion=exc.suggestion, more=exc.more) from None
        raise
    if sets:
        spec_sets = [f"{k}={json.dumps(v, ensure_ascii=False, default=str)}" for k, v in spec.overrides.items()]
        base = load_scenario(base_file, [*spec_sets, *sets])
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
                if is_int and _int_bounds(p)[1] < _int_bounds(p)[0]:
                    raise ScenarioError(label, f"parameters[{i}]", f"{p.path}: no integer between "
                                        f"{p.lower:g} and {p.upper:g}", "a range containing an integer")
                ends = _int_bounds(p) if is_int else (p.lower, p.upper)
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
        where = f"point {k} ({', '.join(f'{p}={_fmt(v)}' for p, v in point.items())})"
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


# --------------------------------------------------------------------------- estimates


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
    from sim.runs.runner import RunSpec, run_one

    rough = rough_run_seconds(plan.base)
    base_s, measured = rough, False
    if measure and rough <= MEASURE_LIMIT_S:
        res = run_one(RunSpec(plan.base, plan.base.name, 0, plan.seed))
        if res.ok:
            base_s, measured = res.wall_time_s, True
    ratio = base_s / rough if rough > 0 else 1.0
    model = sum(rough_run_seconds(sc) * ratio for sc in plan.scenarios) * plan.replicates
    workers = max(1, min(int(workers), max(plan.n_runs, 1)))
    return Estimate(base_s, measured, model, workers, model / workers)


# --------------------------------------------------------------------------- one run


@dataclass(frozen=True)
class SweepRun:
    """One (point, replicate) to run; picklable, sent to workers."""

    point: int
    replicate: int
    scenario: dict
    root_seed: int
    name: str


@dataclass
class SweepRunResult:
    """The outcomes of one run (``outcome``), or why it failed."""

    point: int
    replicate: int
    ok: bool
    seed_entropy: int
    seed_spawn_key: tuple[int, ...]
    wall_time_s: float
    outcome: dict[str, Any] | None = None
    error_type: str | None = None
    error_message: str | None = None
    traceback: str | None = None
    worker: str = ""

    def failure_record(self) -> dict[str, Any]:
        return {"point": self.point, "replicate": self.replicate, "seed_entropy": self.seed_entropy,
                "seed_spawn_key": list(self.seed_spawn_key), "error_type": self.error_type,
                "message": self.error_message, "traceback": self.traceback}


def _value(v: Any) -> Any:
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    return v


def run_point(run: SweepRun) -> SweepRunResult:
    """Run one replicate of one point and reduce it to its goal outcomes (never raises)."""
    from sim.analysis import summary
    from sim.runs import runner
    from sim.runs.results import goals_evaluated

    res = runner.run_one(runner.RunSpec(run.scenario, run.name, run.replicate, run.root_seed,
                                        label=f"point-{run.point}"))
    base = {"point": run.point, "replicate": run.replicate, "seed_entropy": res.seed_entropy,
            "seed_spawn_key": res.seed_spawn_key, "worker": res.worker}
    if not res.ok:
        return SweepRunResult(**base, ok=False, wall_time_s=res.wall_time_s, error_type=res.error_type,
                              error_message=res.error_message, traceback=res.traceback)
    t0 = time.perf_counter()
    try:
        cfg, _ = goals_evaluated(Scenario.model_validate(run.scenario))
        go = summary.goal_outcomes(res.timeseries, summary.scaled_goals(cfg)).iloc[0]
        out = {c: _value(go[c]) for c in RUN_COLUMNS if c in go.index}
        out["both_goals_met"] = bool(out["cloud_goal_met"] and out["transformed_goal_met"])
        out["voucher_spend_total_cny"] = round(float(out["voucher_spend_total_cny"]), 2)
        out = {c: out[c] for c in RUN_COLUMNS}
    except Exception as exc:  # noqa: BLE001 - failures are data
        return SweepRunResult(**base, ok=False, wall_time_s=res.wall_time_s + time.perf_counter() - t0,
                              error_type=type(exc).__name__,
                              error_message=" ".join(str(exc).split()) or type(exc).__name__,
                              traceback=traceback.format_exc())
    return SweepRunResult(**base, ok=True, wall_time_s=res.wall_time_s + time.perf_counter() - t0,
                          outcome=out)


def _lost(run: SweepRun, exc: BaseException) -> SweepRunResult:
    from sim.core.model import run_seed

    seq = run_seed(run.root_seed, run.replicate)
    return SweepRunResult(run.point, run.replicate, False, int(seq.entropy),
                          tuple(int(k) for k in seq.spawn_key), 0.0, error_type=type(exc).__name__,
                          error_message=" ".join(str(exc).split()) or type(exc).__name__,
                          traceback="".join(traceback.format_exception(exc)))


# --------------------------------------------------------------------------- tables


def _csv_value(v: Any) -> Any:
    return json.dumps(v, ensure_ascii=False) if isinstance(v, list | dict) else v


def _csv(df: pd.DataFrame) -> str:
    out = df.copy()
    for c in out.columns:
        if out[c].dtype == object:
            out[c] = out[c].map(_csv_value)
    return out.to_csv(index=False, lineterminator="\n")


def outcomes_table(plan: SweepPlan, results: Sequence[SweepRunResult]) -> pd.DataFrame:
    """One row per finished (point, replicate), sorted, with the parameter values."""
    ok = sorted((r for r in results if r.ok), key=lambda r: (r.point, r.replicate))
    params = plan.points.set_index("point")
    rows = []
    for r in ok:
        row: dict[str, Any] = {"point": r.point, "replicate": r.replicate}
        row.update({p: params.at[r.point, p] for p in plan.parameters})
        row.update(r.outcome or {})
        rows.append(row)
    cols = ["point", "replicate", *plan.parameters, *RUN_COLUMNS]
    df = pd.DataFrame(rows, columns=cols)
    for c in ("point", "replicate", "cloud_firms", "transformed_firms", "cloud_goal", "transformed_goal",
              "cloud_gap", "transformed_gap"):
        df[c] = df[c].astype(np.int64)
    for c in ("cloud_goal_met", "transformed_goal_met", "both_goals_met"):
        df[c] = df[c].astype(bool)
    return df


def point_summary(plan: SweepPlan, outcomes: pd.DataFrame, failures: pd.DataFrame) -> pd.DataFrame:
    """One row per point: share of replicates meeting each goal, quantiles of the counts."""
    rows = []
    failed = failures.groupby("point").size() if not failures.empty else pd.Series(dtype=np.int64)
    by_point = {k: g for k, g in outcomes.groupby("point", sort=True)}
    for rec in plan.points.to_dict(orient="records"):
        k = int(rec["point"])
        g = by_point.get(k)
        n = 0 if g is None else len(g)
        row: dict[str, Any] = dict(rec)
        row["n_replicates"] = n
        row["n_failed"] = int(failed.get(k, 0))
        if n:
            row["p_meet_cloud_goal"] = float(g["cloud_goal_met"].mean())
            row["p_meet_transformed_goal"] = float(g["transformed_goal_met"].mean())
            row["p_meet_both_goals"] = float(g["both_goals_met"].mean())
            for col in ("cloud_firms", "transformed_firms"):
                x = g[col].to_numpy(dtype=np.float64)
                row[f"{col}_median"] = float(np.median(x))
                row[f"{col}_p10"] = float(np.quantile(x, 0.1))
                row[f"{col}_p90"] = float(np.quantile(x, 0.9))
            for col in ("cloud_gap", "transformed_gap"):
                row[f"{col}_median"] = float(np.median(g[col].to_numpy(dtype=np.float64)))
            row["cloud_goal"] = int(g["cloud_goal"].iloc[0])
            row["transformed_goal"] = int(g["transformed_goal"].iloc[0])
            row["goal_date"] = str(g["goal_date"].iloc[0])
        rows.append(row)
    df = pd.DataFrame(rows, columns=["point", *plan.parameters, *SUMMARY_STATS])
    for c in ("point", "n_replicates", "n_failed"):
        df[c] = df[c].astype(np.int64)
    return df


# --------------------------------------------------------------------------- figure


def _axis(values: pd.Series) -> tuple[np.ndarray, list[str] | None]:
    """Numeric positions of a parameter column, and tick labels if it is not numeric."""
    try:
        if values.isna().any() or values.map(lambda v: isinstance(v, bool | np.bool_)).any():
            raise TypeError
        return values.astype(np.float64).to_numpy(), None
    except (TypeError, ValueError):
        text = values.map(_fmt)
        cats = list(dict.fromkeys(text))
        return np.array([cats.index(t) for t in text], dtype=np.float64), cats


def plot_sweep(plan: SweepPlan, summary: pd.DataFrame, path: Path) -> Path:
    """Write ``figures/sweep.png``: P(goal) against one parameter, or the first two parameters
    coloured by the median cloud firms at the goal date."""
    from matplotlib.figure import Figure

    from sim.plots.scenario import _save

    path.parent.mkdir(parents=True, exist_ok=True)
    done = summary[summary.n_replicates > 0]
    fig = Figure(figsize=(8, 5.5), layout="constrained")
    ax = fig.add_subplot()
    reps = f"{plan.replicates} replicate{'s' if plan.replicates != 1 else ''} per point, same seeds at every point"
    if len(plan.parameters) == 1:
        from sim.analysis.questions import binomial_interval

        p = plan.parameters[0]
        x, ticks = _axis(done[p])
        order = np.argsort(x, kind="stable")
        for goal, col, color in (("cloud", "p_meet_cloud_goal", "C0"), ("transformed", "p_meet_transformed_goal", "C1")):
            y = done[col].to_numpy(dtype=np.float64)
            n = done.n_replicates.to_numpy()
            ci = np.array([binomial_interval(int(round(pi * ni)), int(ni)) for pi, ni in zip(y, n, strict=True)])
            ax.errorbar(x[order], y[order], yerr=[y[order] - ci[order, 0], ci[order, 1] - y[order]],
                        marker="o", capsize=3, color=color, label=f"{goal} goal (95% Clopper-Pearson)")
        if ticks is not None:
            ax.set_xticks(range(len(ticks)), ticks)
        ax.set_xlabel(p)
        ax.set_ylabel("share of replicates meeting the goal")
        ax.set_ylim(-0.05, 1.05)
        ax.legend(fontsize=8)
        ax.set_title(f"Probability of meeting each goal\n({reps})", fontsize=10)
    else:
        px, py = plan.parameters[:2]
        x, xt = _axis(done[px])
        y, yt = _axis(done[py])
        c = done.cloud_firms_median.to_numpy(dtype=np.float64)
        sc = ax.scatter(x, y, c=c, cmap="viridis", s=180 if len(done) <= 100 else 40, marker="s",
                        edgecolors="0.3", linewidths=0.5)
        cb = fig.colorbar(sc, ax=ax)
        goal = done.cloud_goal.iloc[0] if len(done) else float("nan")
        cb.set_label(f"median cloud firms at the goal date (goal {goal:,.0f})")
        if len(done) <= 60:
            for xi, yi, pc, pt in zip(x, y, done.p_meet_cloud_goal, done.p_meet_transformed_goal, strict=True):
                ax.annotate(f"{pc:.2f} / {pt:.2f}", (xi, yi), textcoords="offset points", xytext=(0, 9),
                            ha="center", fontsize=7)
        if xt is not None:
            ax.set_xticks(range(len(xt)), xt)
        if yt is not None:
            ax.set_yticks(range(len(yt)), yt)
        ax.set_xlabel(px)
        ax.set_ylabel(py)
        more = "; other parameters vary too" if len(plan.parameters) > 2 else ""
        numbers = "; numbers: P(cloud goal met) / P(transformed goal met)" if len(done) <= 60 else ""
        ax.set_title(f"Median cloud firms at the goal date by point\n({reps}{numbers}{more})", fontsize=9)
        ax.margins(0.08)
    try:
        _save(fig, path)
    finally:
        fig.clear()
    return path


# --------------------------------------------------------------------------- running


@dataclass
class SweepResult:
    """What :func:`run_sweep` returns.

    Attributes:
        plan: The checked sweep (base, points, scenarios, replicates, seed).
        points: ``point`` and the parameter values.
        outcomes: One row per finished (point, replicate) (``outcomes.csv``).
        summary: One row per point (``point_summary.csv``).
        failures: One row per failed run (columns :data:`FAILURE_COLUMNS`).
        folder: The results folder, or None if not saved.
        manifest: The manifest (as in ``manifest.json``).
    """

    plan: SweepPlan
    points: pd.DataFrame
    outcomes: pd.DataFrame
    summary: pd.DataFrame
    failures: pd.DataFrame
    folder: Path | None = None
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True if every run finished."""
        return self.failures.empty and len(self.outcomes) == self.plan.n_runs

    def __repr__(self) -> str:
        where = f", folder='{self.folder}'" if self.folder else ""
        return (f"SweepResult({self.plan.n_points} points x {self.plan.replicates} replicates, "
                f"done={len(self.outcomes)}, failed={len(self.failures)}{where})")


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C during a sweep: the finished points are kept in ``folder / 'runs'``."""

    def __init__(self, folder: Path | None):
        super().__init__("interrupted")
        self.folder = folder


class _Collector:
    """Receives run results; writes a point's file as soon as its replicates are in."""

    def __init__(self, plan: SweepPlan, folder: Path | None):
        self.plan = plan
        self.folder = folder
        self.results: list[SweepRunResult] = []
        self.pending = {k: plan.replicates for k in range(plan.n_points)}
        self.by_point: dict[int, list[SweepRunResult]] = {}

    def add(self, res: SweepRunResult) -> None:
        self.results.append(res)
        self.by_point.setdefault(res.point, []).append(res)
        self.pending[res.point] -= 1
        if self.pending[res.point] == 0 and self.folder is not None:
            from sim.fileio import atomic_write_text

            table = outcomes_table(self.plan, self.by_point[res.point])
            atomic_write_text(self.folder / RUNS / f"point-{res.point:05d}.csv", _csv(table))

    def failures(self) -> pd.DataFrame:
        recs = sorted((r.failure_record() for r in self.results if not r.ok),
                      key=lambda f: (f["point"], f["replicate"]))
        return pd.DataFrame(recs, columns=FAILURE_COLUMNS)


def run_sweep(
    spec: str | Path | SweepSpec | dict | SweepPlan,
    *,
    overrides: Sequence[str] | None = None,
    executor: Executor | str | None = None,
    workers: int | None = None,
    address: str | None = None,
    out_dir: str | Path | None = None,
    save: bool = True,
    figures: bool = True,
    progress: bool | None = None,
    command: str | None = None,
) -> SweepResult:
    """Run every point of a sweep, ``replicates`` times each, and save the results.

    Args:
        spec: A sweep file, a shipped sweep name (``scenarios/analysis/<name>.yaml``), a dict,
            a :class:`SweepSpec` or a :class:`SweepPlan` from :func:`prepare`.
        overrides: ``--set`` strings applied to the base (ignored for a SweepPlan).
        executor: An :class:`~sim.runs.executors.Executor` or ``"serial"``, ``"processes"``,
            ``"dask"`` (default: serial, or processes if ``workers`` is given).
        workers: Worker processes for ``processes`` / a local ``dask`` cluster.
        address: Dask scheduler address.
        out_dir: Folder under which ``sweep/<timestamp>-<hash>/`` is created (default ``results``).
        save: If False, nothing is written (``folder`` is None).
        figures: Write ``figures/sweep.png``.
        progress: Show a progress bar (default: only if stderr is a terminal).
        command: Command line recorded in the manifest.

    Returns:
        A :class:`SweepResult`; failed runs are in ``result.failures`` (the others are complete).

    Raises:
        ScenarioError: Invalid sweep (nothing is written).
        SweepInterrupted: Ctrl-C; the finished points are kept in the folder.
    """
    from sim.runs import runner
    from sim.runs.results import (
        MANIFEST,
        atomic_write_json,
        atomic_write_text,
        iso,
        new_run_folder,
        utc_now,
        versions,
    )
    from sim.scenario.loader import resolved_yaml, scenario_hash

    plan = spec if isinstance(spec, SweepPlan) else prepare(spec, overrides)
    ex, owned = runner._executor(executor, workers, address)
    start = utc_now()
    t0 = time.perf_counter()
    folder: Path | None = None
    manifest: dict[str, Any] = {}
    try:
        ex.start()
        if save:
            root = Path(out_dir) if out_dir is not None else runner.DEFAULT_RESULTS_DIR
            folder = new_run_folder(root, SWEEP_DIR, plan.hash()[:10])
            (folder / RUNS).mkdir()
            atomic_write_text(folder / RESOLVED_BASE, resolved_yaml(plan.base))
            atomic_write_text(folder / RESOLVED_SPEC, yaml.safe_dump(plan.resolved_spec(), sort_keys=False,
                                                                     allow_unicode=True, width=100))
            atomic_write_text(folder / POINTS, _csv(plan.points))
            manifest = {
                "format": 1, "kind": "sweep", "status": "running",
                "sweep_file": plan.label, "description": plan.spec.description,
                "base": {"given": plan.spec.base, "file": str(plan.base_file), "name": plan.base.name,
                         "hash": scenario_hash(plan.base)},
                "overrides": plan.spec.overrides, "set": plan.set_overrides,
                "design": plan.spec.design, "parameters": plan.parameters,
                "points": plan.n_points, "replicates": plan.replicates,
                "root_seed": plan.seed,
                "seeds": "replicate r of every point uses SeedSequence(root_seed, spawn_key=(r,))",
                "runs": {"planned": plan.n_runs, "done": 0, "failed": 0},
                "failures": [], "versions": versions(), "command": command or runner._default_command(),
                "executor": ex.describe(), "start_time": iso(start), "end_time": None,
                "wall_time_s": None, "files": [],
            }
            atomic_write_json(folder / MANIFEST, manifest)
        col = _Collector(plan, folder)
        dumps = [sc.model_dump(mode="json") for sc in plan.scenarios]  # one per point, shared by its runs
        runs = [SweepRun(k, r, dumps[k], plan.seed, plan.base.name)
                for k in range(plan.n_points) for r in range(plan.replicates)]
        bar = runner._Progress(len(runs), "sweep", runner._want_progress(progress))

        def on_result(res: SweepRunResult) -> None:
            col.add(res)
            bar.update(res.ok)

        try:
            ex.map(run_point, runs, on_result, lambda run, exc: on_result(_lost(run, exc)))
        except KeyboardInterrupt as exc:
            bar.close()
            if folder is not None:
                failed = col.failures()
                manifest.update(status="interrupted", end_time=iso(utc_now()),
                                wall_time_s=round(time.perf_counter() - t0, 3),
                                runs={"planned": plan.n_runs, "done": sum(r.ok for r in col.results),
                                      "failed": len(failed)},
                                failures=failed.drop(columns="traceback").to_dict(orient="records"))
                atomic_write_json(folder / MANIFEST, manifest)
            raise SweepInterrupted(folder) from exc
        bar.close()
    finally:
        if owned:
            ex.close()

    outcomes = outcomes_table(plan, col.results)
    failures = col.failures()
    summ = point_summary(plan, outcomes, failures)
    result = SweepResult(plan, plan.points, outcomes, summ, failures, folder, manifest)
    if folder is None:
        return result
    atomic_write_text(folder / OUTCOMES, _csv(outcomes))
    atomic_write_text(folder / POINT_SUMMARY, _csv(summ))
    if not failures.empty:
        atomic_write_text(folder / FAILURES, failures.to_csv(index=False, lineterminator="\n"))
    if figures and not outcomes.empty:
        try:
            plot_sweep(plan, summ, folder / FIGURE)
            manifest["figures"] = [FIGURE]
        except Exception as exc:  # noqa: BLE001 - a figure must not lose the results
            manifest["figures_error"] = f"{type(exc).__name__}: {exc}"
    end = utc_now()
    manifest.update(
        status="complete" if result.ok else "failed", end_time=iso(end),
        wall_time_s=round(time.perf_counter() - t0, 3),
        runs={"planned": plan.n_runs, "done": len(outcomes), "failed": len(failures)},
        failures=failures.drop(columns="traceback").to_dict(orient="records"),
        files=sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                     if p.is_file() and not p.name.startswith(".") and p.parent.name != RUNS
                     and p.name != MANIFEST),
    )
    atomic_write_json(folder / MANIFEST, manifest)
    return result


def summary_lines(result: SweepResult, *, max_rows: int = 20) -> list[str]:
    """A short human summary of a finished sweep (printed by ``gdcloud sweep``)."""
    plan = result.plan
    m = result.manifest
    wall = m.get("wall_time_s")
    name = Path(plan.label).stem if plan.label != "(sweep)" else "sweep"
    lines = [f"sweep {name}: {plan.n_points} point(s) x {plan.replicates} replicate(s) = {plan.n_runs} runs, "
             f"{len(result.outcomes)} done, {len(result.failures)} failed"
             + (f", {wall:.1f} s" if isinstance(wall, int | float) else "")]
    if result.folder is not None:
        lines.append(f"  results: {result.folder}")
    s = result.summary
    done = s[s.n_replicates > 0]
    if done.empty:
        return lines
    firms = plan.base.population.total_firms
    scale = "" if firms == 2_000_000 else f"; counts and goals at the {firms:,}-firm population"
    lines.append(f"  goals at {done.goal_date.iloc[0][:7]}: cloud {done.cloud_goal.iloc[0]:,}, "
                 f"transformed {done.transformed_goal.iloc[0]:,}{scale}")
    short = [p.split(".")[-1] for p in plan.parameters]
    if len(set(short)) != len(short):
        short = list(plan.parameters)
    head = ["point", *short, "P(cloud)", "P(transf.)", "cloud median"]
    body = [[str(int(r["point"])), *[_fmt(_native(r[p])) for p in plan.parameters],
             f"{r['p_meet_cloud_goal']:.2f}", f"{r['p_meet_transformed_goal']:.2f}",
             f"{r['cloud_firms_median']:,.0f}"] for r in done.head(max_rows).to_dict(orient="records")]
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(head)]
    lines.append("  " + "  ".join(h.rjust(w) for h, w in zip(head, widths, strict=True)))
    for b in body:
        lines.append("  " + "  ".join(c.rjust(w) for c, w in zip(b, widths, strict=True)))
    if len(done) > max_rows:
        lines.append(f"  ... {len(done) - max_rows} more point(s) in {POINT_SUMMARY}")
    return lines


def dry_run_lines(plan: SweepPlan, est: Estimate) -> list[str]:
    """What ``gdcloud sweep --dry-run`` prints."""
    from sim.cli.main import _duration

    sc = plan.base
    lines = [f"sweep dry run ({plan.label}): nothing written",
             f"  design {plan.spec.design}: {plan.n_points:,} point(s) x {plan.replicates} replicate(s) = "
             f"{plan.n_runs:,} model runs of {sc.name} ({sc.population.total_firms:,} firms, "
             f"{sc.time.start} to {sc.time.end}), root seed {plan.seed}"]
    for p in plan.parameters:
        col = plan.points[p]
        distinct = list(dict.fromkeys(_fmt(_native(v)) for v in col))
        shown = ", ".join(distinct[:6]) + (", ..." if len(distinct) > 6 else "")
        lines.append(f"  {p}: {len(distinct)} distinct value(s): {shown}")
    how = (f"one run of the base measured at {est.base_run_s:.2f} s" if est.measured else
           f"rough estimate {est.base_run_s:.1f} s per run of the base: about 10 ns per firm-month "
           "plus 1.5 s per million firms of set-up")
    lines.append(f"  estimated time: about {_duration(est.wall_s)} on {est.workers} worker(s) "
                 f"({_duration(est.model_s)} of model time; {how}; plus start-up and figures)")
    return lines


__all__ = [
    "SweepSpec", "SweepParameter", "SweepPlan", "SweepResult", "SweepInterrupted", "Estimate",
    "load_sweep", "prepare", "design_points", "run_sweep", "estimate", "run_point",
    "outcomes_table", "point_summary", "plot_sweep", "summary_lines", "dry_run_lines",
]
