"""Load a scenario: ``extends`` chains, ``--set`` overrides, and one-line validation errors.

Precedence, lowest first (a later source overrides an earlier one):

1. schema defaults (:mod:`sim.scenario.schema`);
2. the extended (parent) file, itself assembled the same way, recursively;
3. the file itself;
4. ``--set key.path=value`` overrides, in the order given;
5. the explicit ``replicates`` / ``seed`` arguments of :func:`load_scenario`.

Merging is key by key inside schema sections; lists and free-form mappings (such as
``policies.sme_pilot_cities.schedule``) are replaced whole, so a child can also remove entries.
A section written with no value (``policies:`` followed only by comments) leaves the section as
it is. ``name`` is never inherited: it is the file's own ``name`` or else the file stem.
``description`` is inherited from the parent when the file sets none. ``extends`` is a path
relative to the file, or the name of a shipped scenario (``baseline``); it must name a
``.yaml``/``.yml`` file whose top-level keys are scenario keys (no other file's keys are echoed).
YAML is read with :func:`sim.scenario.safeyaml.load_yaml` only (safe tags; a key written twice,
deep nesting and alias bombs are errors). Every problem is raised as :class:`sim.errors.ScenarioError`, whose
``str()`` is one line naming the file (or ``--set key=value``), the key path and what is allowed.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from sim.errors import ScenarioError
from sim.scenario import limits
from sim.scenario.docs import child_annotation, model_class, strip
from sim.scenario.locations import scenarios_dir
from sim.scenario.paths import assign
from sim.scenario.safeyaml import YamlProblem, load_yaml
from sim.scenario.schema import Scenario
from sim.scenario.validation import Loc, validate


def shipped_scenarios() -> dict[str, tuple[Path, str]]:
    """The shipped scenarios as ``{name: (path, description)}``, sorted by name.

    Each file is loaded and validated, so a broken shipped file raises ScenarioError.
    """
    out: dict[str, tuple[Path, str]] = {}
    for path in sorted(scenarios_dir().glob("*.yaml")):
        out[path.stem] = (path, load_scenario(path).description)
    return out


def parse_overrides(items: Sequence[str]) -> dict[str, object]:
    """Parse ``key.path=value`` strings; values are read as YAML (``5``, ``true``, ``[a, b]``).

    Args:
        items: Override strings as given to ``--set``.

    Returns:
        ``{dotted key path: value}``; a later override of the same key wins.

    Raises:
        ScenarioError: A string without ``=``, with an empty key, or with a value that is not
            valid YAML.
    """
    return {key: value for key, value, _ in map(_parse_one, items)}


def load_scenario(
    path: str | Path,
    overrides: Sequence[str] | Mapping[str, object] | None = None,
    *,
    replicates: int | None = None,
    seed: int | None = None,
) -> Scenario:
    """Read, merge and validate a scenario file.

    Args:
        path: A YAML file, or the name of a shipped scenario (``baseline``).
        overrides: ``--set`` strings (``key.path=value``) or a mapping of dotted key paths to
            already-parsed values.
        replicates: If given, overrides ``run.replicates`` (highest precedence).
        seed: If given, overrides ``run.seed`` (highest precedence).

    Returns:
        The validated scenario.

    Raises:
        ScenarioError: Unreadable or invalid YAML, a bad ``extends`` chain, an unknown key or
            an invalid value (the first one found, with a count of the others).
    """
    path = _find_file(path)
    label = str(path)
    data: dict[str, Any] = Scenario().model_dump()
    origin: dict[Loc, str] = {}
    layers = _read_chain(path, [])
    for layer_label, layer in layers:
        _merge(data, layer, Scenario, (), origin, layer_label)
    if "name" not in layers[-1][1]:
        data["name"] = path.stem
        origin[("name",)] = label
    return _with_overrides(data, origin, label, overrides, replicates, seed)


def with_overrides(
    scenario: Scenario | Mapping[str, Any],
    overrides: Sequence[str] | Mapping[str, object] | None = None,
    *,
    replicates: int | None = None,
    seed: int | None = None,
    label: str = "(scenario)",
) -> Scenario:
    """A scenario (or its plain data) with ``--set`` overrides, ``replicates`` and ``seed`` applied.

    The same steps and messages as :func:`load_scenario` after reading the files.

    Raises:
        ScenarioError: An unknown key, an invalid value, or invalid data (named after ``label``
            or the override).
    """
    data = scenario.model_dump(mode="python") if isinstance(scenario, Scenario) \
        else copy.deepcopy(dict(scenario))
    return _with_overrides(data, {}, label, overrides, replicates, seed)


def _with_overrides(data: dict[str, Any], origin: dict[Loc, str], label: str,
                    overrides: Sequence[str] | Mapping[str, object] | None,
                    replicates: int | None, seed: int | None) -> Scenario:
    for key, value, source in _override_items(overrides):
        assign(data, key, value, source, origin)
    if replicates is not None:
        assign(data, "run.replicates", replicates, f"argument replicates={replicates}", origin)
    if seed is not None:
        assign(data, "run.seed", seed, f"argument seed={seed}", origin)
    return validate(data, origin, label)


def resolved_yaml(scenario: Scenario) -> str:
    """The fully merged scenario as YAML (schema key order); loads back to an equal Scenario."""
    return yaml.safe_dump(
        scenario.model_dump(mode="json"), sort_keys=False, allow_unicode=True, width=100
    )


def scenario_hash(scenario: Scenario) -> str:
    """sha256 (hex) of the canonical JSON of the scenario, ignoring ``run.replicates``.

    Two runs with equal hashes simulate the same thing; more replicates extend the same
    experiment. :func:`short_hash` is the first 10 characters.
    """
    data = scenario.model_dump(mode="json")
    data["run"].pop("replicates", None)
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def short_hash(scenario: Scenario) -> str:
    """First 10 hex characters of :func:`scenario_hash`."""
    return scenario_hash(scenario)[:10]


# --------------------------------------------------------------------------- files and extends


def _find_file(path: str | Path) -> Path:
    candidate = Path(path)
    if candidate.is_file():
        return candidate
    if candidate.parent == Path(".") and candidate.suffix in ("", ".yaml"):
        shipped = scenarios_dir() / f"{candidate.stem}.yaml"
        if shipped.is_file():
            return shipped
    names = ", ".join(p.stem for p in sorted(scenarios_dir().glob("*.yaml")))
    raise ScenarioError(
        str(path), "(file)", "no such scenario file", f"a YAML file or a shipped scenario: {names}"
    )


def extends_chain(path: str | Path) -> list[Path]:
    """The most distant ancestor first, then every file down to ``path`` (its ``extends`` chain).

    Raises:
        ScenarioError: A file of the chain is missing, unreadable or circular.
    """
    return [Path(label) for label, _ in _read_chain(_find_file(path), [])]


def read_yaml_file(path: Path, allowed_top: str) -> Any:
    """Parse a YAML file with :func:`sim.scenario.safeyaml.load_yaml`; unreadable, oversized,
    invalid or empty files, duplicate keys and alias bombs are one-line :class:`ScenarioError` s
    naming the file and the line (``allowed_top`` says what the file should hold, for the
    empty-file message)."""
    label = str(path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read(limits.MAX_FILE_BYTES + 1)
        if len(raw) > limits.MAX_FILE_BYTES:
            raise ScenarioError(label, "(file)", f"the file is larger than {limits.MAX_FILE_BYTES:,} bytes",
                                "a scenario or spec file of at most that size")
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(
            label, "(file)", f"cannot read the file: {exc}", "a UTF-8 YAML file"
        ) from exc
    try:
        data = load_yaml(text)
    except YamlProblem as exc:
        raise ScenarioError(
            label, exc.where, exc.message, "YAML 'key: value' lines indented with spaces, each key once"
        ) from exc
    if data is None:
        raise ScenarioError(label, "(top level)", "the file is empty", allowed_top)
    return data


def _read_yaml(path: Path) -> dict[str, Any]:
    label = str(path)
    data = read_yaml_file(path, "a mapping of scenario keys (write {} for all defaults)")
    if not isinstance(data, dict):
        raise ScenarioError(
            label,
            "(top level)",
            f"the file holds a {type(data).__name__}, not a mapping",
            "a mapping of scenario keys: extends, " + ", ".join(Scenario.model_fields),
        )
    return data


def _read_chain(path: Path, chain: list[Path]) -> list[tuple[str, dict[str, Any]]]:
    """The file and its ancestors as (label, data) pairs, most distant ancestor first."""
    names = [p.name for p in (*chain, path)]
    if any(path.resolve() == p.resolve() for p in chain):
        raise ScenarioError(
            str(chain[-1]),
            "extends",
            "circular extends: " + " -> ".join(names),
            "a chain of files that ends in a file without 'extends'",
        )
    if chain and path.suffix.lower() not in (".yaml", ".yml"):
        _not_a_scenario(path, chain[-1], "it is not a .yaml/.yml file")
    data = _read_yaml(path)
    if chain:
        foreign = sum(1 for key in data if key not in {"extends", *Scenario.model_fields})
        if foreign:
            _not_a_scenario(path, chain[-1], f"{foreign} top-level key(s) are not scenario keys")
    parent = data.pop("extends", None)
    layers: list[tuple[str, dict[str, Any]]] = []
    if parent is not None:
        if not isinstance(parent, str) or not parent.strip():
            raise ScenarioError(
                str(path),
                "extends",
                f"got {parent!r}",
                "a file path or a shipped scenario name (text)",
            )
        layers = _read_chain(_parent_path(path, parent.strip(), names), [*chain, path])
    return [*layers, (str(path), data)]


def _not_a_scenario(path: Path, child: Path, why: str) -> None:
    """An extended file must be a scenario file; its keys are not shown (it may be any readable
    file, and its content is not the user's to see through an error message)."""
    raise ScenarioError(
        str(child), "extends", f"{path} is not a scenario file ({why})",
        "a scenario file (.yaml) with the keys extends, " + ", ".join(Scenario.model_fields),
    )


def _parent_path(child: Path, ref: str, names: list[str]) -> Path:
    ref_path = Path(ref)
    candidates = [child.parent / ref_path]
    if not ref_path.suffix:
        candidates.append(child.parent / f"{ref}.yaml")
    if ref_path.parent == Path("."):
        candidates.append(scenarios_dir() / (ref if ref_path.suffix else f"{ref}.yaml"))
    for candidate in candidates:
        if candidate.is_file():
            return Path(os.path.normpath(candidate))
    shipped = ", ".join(p.stem for p in sorted(scenarios_dir().glob("*.yaml")))
    raise ScenarioError(
        str(child),
        "extends",
        f"parent {ref!r} not found (chain: {' -> '.join([*names, ref])}; "
        f"looked for {', '.join(str(c) for c in candidates)})",
        f"a path relative to the file, or a shipped scenario: {shipped}",
    )


# --------------------------------------------------------------------------- merging


def _merge(
    target: dict[Any, Any],
    new: Mapping[Any, Any],
    annotation: Any,
    loc: Loc,
    origin: dict[Loc, str],
    label: str,
) -> None:
    """Merge ``new`` into ``target`` in place, key by key inside schema sections."""
    for key, value in new.items():
        here = (*loc, key)
        origin[here] = label
        sub = child_annotation(annotation, key) if annotation is not None else None
        section = model_class(sub) is not None and not strip(sub)[2]
        if section and value is None:
            continue
        if section and isinstance(value, Mapping) and isinstance(target.get(key), dict):
            _merge(target[key], value, sub, here, origin, label)
        else:
            target[key] = copy.deepcopy(value)


def _override_items(
    overrides: Sequence[str] | Mapping[str, object] | None,
) -> list[tuple[str, object, str]]:
    if overrides is None:
        return []
    if isinstance(overrides, Mapping):
        return [(str(k), v, f"--set {k}={_inline(v)}") for k, v in overrides.items()]
    if isinstance(overrides, str):
        overrides = [overrides]
    return [_parse_one(text) for text in overrides]


def _inline(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _parse_one(text: str) -> tuple[str, object, str]:
    label = f"--set {text}"
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep:
        raise ScenarioError(
            label, key or "(override)", "missing '='", "key.path=value, e.g. run.replicates=5"
        )
    if not key:
        raise ScenarioError(
            label, "(override)", "missing key before '='", "key.path=value, e.g. run.replicates=5"
        )
    try:
        value = load_yaml(raw)
    except YamlProblem as exc:
        raise ScenarioError(
            label,
            key,
            f"value is not valid YAML: {exc.message}",
            "a YAML value such as 5, 0.3, true, [a, b], null",
        ) from exc
    return key, value, label
