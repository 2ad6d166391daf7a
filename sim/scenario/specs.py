"""Analysis specs (calibration, sensitivity, sweep): one strict base class, one loader, one rule
for the base scenario.

* :class:`StrictSpec` rejects unknown keys and remembers the file it was read from.
* :class:`BaseScenarioSpec` adds ``base`` and ``overrides``. **The rule for a relative ``base``:**
  it is a path relative to the spec file's folder (the current directory for a spec built in
  Python), tried as written and with ``.yaml`` added, else the name of a shipped scenario
  (``baseline``), exactly like ``extends`` in a scenario file (:func:`resolve_base`).
* :func:`load_spec` (``<Spec class>.load(...)``) reads a spec from a YAML file, a shipped spec name
  (``scenarios/analysis/<name>.yaml``), a dict or a spec object; every problem is the same
  one-line :class:`~sim.errors.ScenarioError` the command line prints.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from sim.errors import ScenarioError
from sim.scenario.loader import load_scenario, read_yaml_file
from sim.scenario.locations import scenarios_dir
from sim.scenario.paths import set_values, spec_key
from sim.scenario.schema import Scenario
from sim.scenario.validation import convert

ANALYSIS_DIR = "analysis"
"""Sub-folder of the shipped scenarios holding the shipped analysis specs."""


class StrictSpec(BaseModel):
    """Base of every analysis spec: unknown keys are rejected; the spec knows its file."""

    model_config = ConfigDict(extra="forbid")

    KIND: ClassVar[str] = "analysis"
    """What the spec is, for messages (``no such <KIND> spec file``)."""

    _file: Path | None = PrivateAttr(default=None)

    @classmethod
    def load(cls, spec: str | Path | Mapping[str, Any] | StrictSpec) -> Self:
        """A validated spec of this class (:func:`load_spec`) from a YAML file, a shipped spec
        name (``scenarios/analysis/<name>.yaml``), a dict or a spec; a relative ``base`` is taken
        from the spec file's folder.

        Raises:
            ScenarioError: One line naming the file and the key.
        """
        return load_spec(spec, cls)

    def located(self, file: str | Path | None) -> StrictSpec:
        """Record the spec file (relative paths are taken from its folder); returns self."""
        self._file = None if file is None else Path(file)
        return self

    @property
    def file(self) -> Path | None:
        """The spec file, or None for a spec built in Python."""
        return self._file

    @property
    def folder(self) -> Path | None:
        """Folder of the spec file (None for a spec built in Python: the current directory)."""
        return None if self._file is None else self._file.parent

    @property
    def label(self) -> str:
        """The spec as named in error messages: its file, or ``(<kind> spec)``."""
        return str(self._file) if self._file is not None else f"({self.KIND} spec)"


class BaseScenarioSpec(StrictSpec):
    """A spec that starts from a base scenario with overrides."""

    base: str = Field("baseline", description="Base scenario: a path relative to the spec file, or a shipped scenario name.")
    overrides: dict[str, Any] = Field(default_factory=dict, description="Dotted key -> value applied to the base (like --set).")

    def base_file(self) -> Path:
        """The base scenario file (:func:`resolve_base` from the spec's folder).

        Raises:
            ScenarioError: ``<spec>: base: '<ref>': no such scenario file; allowed: ...``.
        """
        try:
            return resolve_base(self.base, self.folder)
        except ScenarioError as exc:
            raise ScenarioError(self.label, "base", f"{self.base!r}: {exc.message}", exc.allowed) from None

    def base_scenario(self, extra: list[str] | None = None) -> Scenario:
        """The base scenario with the spec's ``overrides`` (then ``extra`` ``--set`` strings).

        Raises:
            ScenarioError: A bad base or override, named at ``overrides.<key>`` of the spec.
        """
        path = self.base_file()
        try:
            base = load_scenario(path, dict(self.overrides) or None)
        except ScenarioError as exc:
            if exc.file.startswith("--set "):
                raise ScenarioError(self.label, f"overrides.{exc.key_path}", exc.message, exc.allowed,
                                    suggestion=exc.suggestion, more=exc.more) from None
            raise
        if extra:
            base = load_scenario(path, [*override_strings(self.overrides), *extra])
        return base


def override_strings(overrides: Mapping[str, Any]) -> list[str]:
    """``{key: value}`` as ``--set`` strings (``key=<value as YAML/JSON>``)."""
    import json

    return [f"{k}={json.dumps(v, ensure_ascii=False, default=str)}" for k, v in overrides.items()]


def resolve_base(ref: str, folder: str | Path | None = None) -> Path:
    """The scenario file a spec's ``base`` names, looked up as ``extends`` in a scenario file.

    Candidates, in order: ``folder / ref``, ``folder / (ref + ".yaml")`` (if ``ref`` has no
    suffix), and the shipped scenario ``scenarios/<ref>.yaml`` (if ``ref`` is a bare name).

    Args:
        ref: The ``base`` text: a path or a shipped scenario name.
        folder: Folder of the spec file (None: the current directory).

    Raises:
        ScenarioError: No candidate exists (the error's file is ``ref``).
    """
    ref_path = Path(ref)
    here = Path(folder) if folder is not None else Path(".")
    candidates = [ref_path if ref_path.is_absolute() else here / ref_path]
    if not ref_path.suffix:
        candidates.append(here / f"{ref}.yaml")
    if ref_path.parent == Path(".") and ref_path.suffix in ("", ".yaml"):
        candidates.append(scenarios_dir() / f"{ref_path.stem}.yaml")
    for candidate in candidates:
        if candidate.is_file():
            return Path(os.path.normpath(candidate))
    names = ", ".join(p.stem for p in sorted(scenarios_dir().glob("*.yaml")))
    where = "the spec file's folder" if folder is not None else "the current directory"
    raise ScenarioError(ref, "(file)", "no such scenario file",
                        f"a path relative to {where}, or a shipped scenario: {names}")


def shipped_name(path: str | Path) -> str | None:
    """The shipped scenario name if ``path`` is a shipped scenario file, else None."""
    path = Path(path)
    shipped = scenarios_dir() / f"{path.stem}.yaml"
    try:
        return path.stem if shipped.is_file() and path.resolve() == shipped.resolve() else None
    except OSError:  # pragma: no cover
        return None


def find_spec(text: str, kind: str) -> Path:
    """A spec file: ``text`` itself, or the shipped spec ``scenarios/analysis/<text>.yaml``.

    Raises:
        ScenarioError: Neither exists (the shipped specs are listed).
    """
    path = Path(text)
    if path.is_file():
        return path
    folder = scenarios_dir() / ANALYSIS_DIR
    if path.parent == Path(".") and path.suffix in ("", ".yaml"):
        shipped = folder / f"{path.stem}.yaml"
        if shipped.is_file():
            return shipped
    names = ", ".join(p.stem for p in sorted(folder.glob("*.yaml")))
    raise ScenarioError(text, "(file)", f"no such {kind} spec file",
                        f"a YAML file or a shipped spec ({names})")


S = TypeVar("S", bound=StrictSpec)


def load_spec(spec: str | Path | Mapping[str, Any] | StrictSpec, model: type[S]) -> S:  # noqa: UP047 - parsed by Python 3.11 tools
    """A validated spec of class ``model`` from a YAML file, a shipped spec name, a dict or a spec.

    Raises:
        ScenarioError: Missing or unreadable file, invalid YAML, an unknown key (with a
            did-you-mean) or a bad value: one line naming the file and the key.
    """
    if isinstance(spec, model):
        return spec
    if isinstance(spec, StrictSpec):
        raise TypeError(f"expected a {model.__name__}, got a {type(spec).__name__}")
    file: Path | None
    if isinstance(spec, Mapping):
        data: object = dict(spec)
        file = None
    else:
        file = find_spec(str(spec), model.KIND)
        data = read_yaml_file(file, "a mapping of spec keys")
    label = str(file) if file is not None else f"({model.KIND} spec)"
    if not isinstance(data, dict):
        raise ScenarioError(label, "(top level)", f"the file holds a {type(data).__name__}, not a mapping",
                            f"a mapping of {model.KIND} keys: " + ", ".join(model.model_fields))
    try:
        return model.model_validate(data).located(file)  # type: ignore[return-value]
    except ValidationError as exc:
        raise convert(exc, model, label) from None


def check_parameters(config: Scenario, parameters: Sequence[Any], label: str) -> None:
    """Every parameter path is a numeric scenario key and both bounds are valid values of it.

    Args:
        config: The scenario the parameters will be set on.
        parameters: Items with ``paths``, ``lower`` and ``upper`` (calibration, sensitivity and
            policy-question parameters).
        label: The spec, named in errors.

    Raises:
        ScenarioError: ``<label>: parameters[i].path: <path>: ...`` or
            ``<label>: parameters[i].lower: <path>: ...`` (a bound the scenario refuses).
    """
    for i, p in enumerate(parameters):
        for path in p.paths:
            spec_key(path, label, f"parameters[{i}].path")
        for bound in ("lower", "upper"):
            try:
                set_values(config, dict.fromkeys(p.paths, getattr(p, bound)), label=label)
            except ScenarioError as exc:
                raise ScenarioError(label, f"parameters[{i}].{bound}", f"{exc.key_path}: {exc.message}",
                                    exc.allowed, suggestion=exc.suggestion, more=exc.more) from None


def _key_of(label: str) -> str:
    return label.lstrip("-").replace("-", "_")


def check_int(label: str, value: int, minimum: int, maximum: int | None = None) -> None:
    """An integer argument in ``[minimum, maximum]``; else ``<label>: <name>: got v: too small``
    (or ``too large``).

    ``label`` is the option or argument name (``--samples`` on the command line, ``n_samples``
    in Python); the key is the same name without dashes.
    """
    if value < minimum or maximum is not None and value > maximum:
        raise ScenarioError(label, _key_of(label), f"got {value}: too {'small' if value < minimum else 'large'}",
                            f"an integer >= {minimum}" + (f" and <= {maximum:,}" if maximum is not None else ""))


def check_fraction(label: str, value: float, *, upper_inclusive: bool = False) -> None:
    """A number in ``(0, 1)`` (or ``(0, 1]``); else ``<label>: <name>: got v: out of range``."""
    ok = 0 < value <= 1 if upper_inclusive else 0 < value < 1
    if not (ok and math.isfinite(value)):
        allowed = "0 < x <= 1" if upper_inclusive else "0 < x < 1"
        raise ScenarioError(label, _key_of(label), f"got {value:g}: out of range", f"a number {allowed}")
