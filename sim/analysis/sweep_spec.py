"""The sweep spec: the strict YAML of a sweep (:class:`SweepSpec`, :class:`SweepParameter`), its
loader, the table of a ``design: table`` sweep, and how a point's values are written in messages
and files. The checked sweep is :mod:`sim.analysis.sweep_plan`; running it, :mod:`sim.analysis.sweep`.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field, model_validator

from sim.errors import ScenarioError
from sim.scenario import limits
from sim.scenario.safeyaml import YamlProblem, load_yaml
from sim.scenario.specs import BaseScenarioSpec, StrictSpec

RESOLVED_SPEC = "sweep.resolved.yaml"
"""The spec as resolved, in a sweep's results folder (loads back as the same sweep)."""

RESOLVED_BASE = "scenario.resolved.yaml"
"""The base scenario with its overrides, in a sweep's results folder."""


def value_key(value: Any) -> str:
    """A value as canonical JSON: equal values (as YAML reads them) give equal keys."""
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
            keys = [value_key(v) for v in self.values]
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


def value_text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "null"
    if isinstance(value, float):
        return f"{value:g}"
    return json.dumps(value, ensure_ascii=False, default=str) if not isinstance(value, str) else value


def shown_value(path: str, value: Any, lang: str = "en") -> str:
    """A swept value as the printed lines show it: :func:`value_text` in English (as before); in
    Chinese a number as a report writes it (money in 万元/亿元, never ``1.5e+08``:
    :func:`sim.scenario.labels.parameter_value`)."""
    if lang == "en" or isinstance(value, bool) or not isinstance(value, int | float) or \
            (isinstance(value, float) and math.isnan(value)):
        return value_text(value)
    from sim.scenario.labels import parameter_value

    return parameter_value(path, float(value), lang)


def native(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def _cell(text: str) -> Any:
    """A CSV cell: an integer, a float, else YAML (an empty cell is null)."""
    text = text.strip()
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    return load_yaml(text)


def read_table(spec: SweepSpec, label: str) -> tuple[list[str], list[dict[str, Any]], str | None]:
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
