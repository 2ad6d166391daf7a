"""The calibration spec (:class:`CalibrationSpec`: parameters, targets, optimizer, ABC, profiles)
and the parameter spec shared by calibration, sensitivity and the policy questions
(:class:`ParameterSpec`, set on a scenario by :func:`with_values`), and where a spec may write the
calibrated scenario (:func:`scenario_target`). The calibration itself is :mod:`sim.analysis.calibration`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from sim import datasets
from sim.errors import ScenarioError
from sim.scenario import limits
from sim.scenario.locations import scenarios_dir
from sim.scenario.parameters import Real, label_of
from sim.scenario.paths import set_values
from sim.scenario.schema import Scenario
from sim.scenario.schema_types import YearMonth
from sim.scenario.specs import BaseScenarioSpec, StrictSpec

INDICATOR_METRIC: dict[str, str] = {
    "cloud_enterprises_cumulative": "cloud_cumulative",
    "above_scale_transformed_cumulative": "transformed",
}
"""Reported indicator -> model metric (:data:`sim.core.run_output.METRICS`)."""


class ParameterSpec(StrictSpec):
    """One fitted parameter: a dotted scenario path (or several set to the same value)."""

    path: str | list[str] = Field(description="Dotted key path(s), e.g. diffusion.cloud.market_rate_per_year.")
    lower: float = Field(description="Lower bound (and of the uniform ABC prior).")
    upper: float = Field(description="Upper bound.")
    name: str | None = Field(None, description="Short label (default: the last key of the path).")

    @model_validator(mode="after")
    def _box(self) -> ParameterSpec:
        if not self.upper > self.lower:
            raise ValueError(f"upper ({self.upper}) must exceed lower ({self.lower})")
        return self

    @property
    def paths(self) -> list[str]:
        return [self.path] if isinstance(self.path, str) else list(self.path)

    @property
    def label(self) -> str:
        """The name, or the last two keys of the first path."""
        return self.name or label_of(self.paths)

    def parameter(self) -> Real:
        """This parameter in the one vocabulary (:mod:`sim.scenario.parameters`)."""
        return Real(self.label, tuple(self.paths), self.lower, self.upper)


class TargetSpec(StrictSpec):
    """One reported figure to match."""

    indicator: Literal["cloud_enterprises_cumulative", "above_scale_transformed_cumulative"]
    date: str = Field(description="Reported date, YYYY-MM-DD (a month end).")
    value: float | None = Field(None, gt=0, description="Figure to match; default: the reported value.")
    weight: float = Field(1.0, gt=0, description="Weight of the squared relative error.")

    @model_validator(mode="after")
    def _reported(self) -> TargetSpec:
        if self.value is None:
            v = datasets.reported_value(self.indicator, self.date)
            if v is None:
                raise ValueError(f"no reported {self.indicator} at {self.date}; give value explicitly")
            self.value = v
        return self

    @property
    def metric(self) -> str:
        return INDICATOR_METRIC[self.indicator]


def _default_targets() -> list[TargetSpec]:
    return [TargetSpec(indicator="cloud_enterprises_cumulative", date="2021-12-31"),
            TargetSpec(indicator="above_scale_transformed_cumulative", date="2021-12-31")]


class OptimizerSpec(StrictSpec):
    method: Literal["nelder-mead", "least_squares"] = "nelder-mead"
    max_evaluations: int = Field(80, ge=1, le=limits.MAX_DESIGN_POINTS, description="Objective evaluations (each = `replicates` runs).")
    start: dict[str, float] | None = Field(None, description="Start values by label; default: the base scenario's values (clipped into the box).")


class AbcSpec(StrictSpec):
    enabled: bool = True
    draws: int = Field(200, ge=2, le=limits.MAX_DESIGN_POINTS, description="Prior draws (Latin hypercube over the box).")
    accept_fraction: float = Field(0.1, gt=0, le=1, description="Fraction of draws kept (smallest distance).")


class ProfileSpec(StrictSpec):
    enabled: bool = True
    points: int = Field(9, ge=3, le=1000, description="Grid points per parameter over its box.")


class CalibrationSpec(BaseScenarioSpec):
    """A calibration: what to fit, to which figures, how."""

    KIND: ClassVar[str] = "calibration"

    base: str = Field("baseline", description="Base scenario: a path relative to the spec file, or a shipped scenario name.")
    overrides: dict[str, Any] = Field(default_factory=dict, description="Dotted overrides applied to the base before fitting.")
    start: YearMonth | None = Field(None, description="Run start (YYYY-MM); '2020-12' uses the end-2020 figures as initial state and the 2021-06 figures as targets. Default: the base's start.")
    parameters: list[ParameterSpec]
    targets: list[TargetSpec] = Field(default_factory=_default_targets)
    replicates: int = Field(2, ge=1, le=1000, description="Seeds per trial (the same at every trial).")
    seed: int = Field(20210706, ge=0, description="Root seed of the replicates.")
    total_firms: int = Field(200_000, ge=1_000, le=limits.MAX_FIRMS, description="Population simulated; counts are scaled by 2,000,000/total_firms.")
    optimizer: OptimizerSpec = Field(default_factory=OptimizerSpec)
    abc: AbcSpec = Field(default_factory=AbcSpec)
    profile: ProfileSpec = Field(default_factory=ProfileSpec)
    write_scenario: str | None = Field(None, description="Also write the calibrated scenario to this file (a relative path is taken from the repository root, e.g. scenarios/calibrated.yaml; it is replaced if it exists). Default null: only the copy in the results folder.")

    @model_validator(mode="after")
    def _design_size(self) -> CalibrationSpec:
        # Counted before anything runs: ABC draws, profile grid and optimizer trials, x seeds.
        points = self.abc.draws + self.profile.points * len(self.parameters) + self.optimizer.max_evaluations
        limits.check_design(points, self.replicates, "abc.draws + profile.points x parameters + "
                            "optimizer.max_evaluations", "trials")
        return self

    @field_validator("parameters")
    @classmethod
    def _nonempty(cls, v: list[ParameterSpec]) -> list[ParameterSpec]:
        if not v:
            raise ValueError("at least one parameter is needed")
        labels = [p.label for p in v]
        if len(set(labels)) != len(labels):
            raise ValueError(f"parameter labels must be unique, got {labels}")
        return v


def with_values(config: Scenario, params: Sequence[ParameterSpec], theta: Sequence[float]) -> Scenario:
    """``config`` with parameter values ``theta`` set at their dotted paths (integer keys rounded)."""
    values = {path: float(v) for p, v in zip(params, theta, strict=True) for path in p.paths}
    return set_values(config, values, label=SPEC_LABEL)


SPEC_LABEL = "(calibration spec)"
"""Named in errors about a spec given as an object rather than a file."""


def spec_write_path(spec: CalibrationSpec) -> Path | None:
    """The spec's ``write_scenario`` as a path (relative paths from the repository root), or None."""
    if not spec.write_scenario:
        return None
    path = Path(spec.write_scenario)
    return path if path.is_absolute() else Path(__file__).resolve().parents[2] / path


def scenario_target(spec: CalibrationSpec, write_scenario: bool | str | Path | None,
                    has_out_dir: bool, *, results_root: Path | None = None,
                    force: bool = False) -> Path | None:
    """Where :func:`calibrate` writes the extra copy of the calibrated scenario (None: nowhere).

    A path named by the caller (``write_scenario`` as a path: ``--write-scenario``) is used as
    given, and so is the ``write_scenario`` of a spec built in Python. The ``write_scenario`` of a
    spec read from a file is checked with :func:`check_spec_target` unless ``force``: a spec file
    must not be able to replace an arbitrary file.
    """
    if write_scenario is None:
        path = spec_write_path(spec) if has_out_dir else None
    elif isinstance(write_scenario, bool):
        path = spec_write_path(spec) if write_scenario else None
    else:
        return Path(write_scenario)
    if path is not None and not force and spec.folder is not None:  # a spec read from a file
        check_spec_target(spec, path, results_root)
    return path


def check_spec_target(spec: CalibrationSpec, path: Path, results_root: Path | None = None) -> None:
    """Refuse a spec's ``write_scenario`` that could replace a file it has no business with.

    Allowed: a ``.yaml``/``.yml`` file (not a symbolic link, not a folder) inside the spec's own
    folder, the shipped scenarios folder (:func:`sim.scenario.locations.scenarios_dir`) or the
    results root. Anything else needs ``--force`` (or an explicit ``--write-scenario PATH``).

    Raises:
        ScenarioError: The target is not allowed.
    """
    roots = [spec.folder if spec.folder is not None else Path.cwd(), scenarios_dir()] + ([results_root] if results_root is not None else [])
    resolved = path.resolve()
    inside = any(resolved.is_relative_to(Path(r).resolve()) for r in roots)
    problem = None
    if path.suffix.lower() not in (".yaml", ".yml"):
        problem = "is not a .yaml file"
    elif path.is_symlink() or path.is_dir():
        problem = "is a symbolic link or a folder"
    elif not inside:
        problem = "is outside the spec's folder, the scenarios folder and the results root"
    if problem:
        label = str(spec.folder) if spec.folder is not None else "(spec)"
        raise ScenarioError(label, "write_scenario", f"{path} {problem}",
                            "a .yaml file in one of: " + ", ".join(str(r) for r in roots)
                            + " (or pass --force, or name the file with --write-scenario PATH)")
