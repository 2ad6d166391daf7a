"""The one way to read and write a scenario value by its dotted key path.

A key path names a value of a scenario: ``policies.vouchers.budget_cny_per_year``; list items by
index, written ``platforms.items[0].cloud_rate_per_year`` or ``platforms.items.0.cloud_rate_per_year``;
keys of mappings as written (``population.above_scale_year_end.2025``). The ``--set`` overrides,
the analysis tools (sweep, calibration, sensitivity, policy questions), parametric uncertainty,
the dashboard levers and ``mesa.batch_run`` keyword arguments all go through this module, so a
misspelt key gives the same one-line :class:`~sim.errors.ScenarioError` with a did-you-mean
everywhere.

Integer rule: when :func:`set_values` is given a non-integral number for a key whose schema type
is an integer (for example a sampled ``policies.service_capacity.onboardings_per_month``), the
number is rounded to the nearest integer (Python's ``round``). The loader's ``--set`` does not
round: a user who writes ``1.5`` for an integer key is told it is not an integer.
"""

from __future__ import annotations

import copy
import numbers
from collections.abc import Iterable, Mapping
from typing import Any, get_args, get_origin

from pydantic import BaseModel

from sim.errors import ScenarioError
from sim.scenario.docs import allowed_text, child_annotation, model_class, strip, type_text
from sim.scenario.schema import Scenario
from sim.scenario.validation import Loc, dotted, validate

EXAMPLE = "e.g. policies.vouchers.budget_cny_per_year or diffusion.churn_rate_per_year"


def split(key_path: str, label: str = "(key path)") -> list[str]:
    """The keys of a dotted path: ``a.items[0].b`` -> ``['a', 'items', '0', 'b']``.

    Raises:
        ScenarioError: An empty key (``a..b``, a leading or trailing dot).
    """
    parts = str(key_path).replace("[", ".").replace("]", "").split(".")
    if not all(parts):
        raise ScenarioError(label, str(key_path) or "(empty)", "empty key in the key path",
                            f"dotted keys, {EXAMPLE}")
    return parts


def _key(node: Any, annotation: Any, part: str, loc: Loc, label: str) -> object:
    """The key ``part`` converted for ``node`` (a schema section, list or mapping), or an error."""
    model = model_class(annotation)
    core = strip(annotation)[0]
    where = dotted((*loc, int(part) if part.isdigit() and isinstance(node, list) else part))
    if model is not None and isinstance(node, dict | BaseModel):
        if part not in model.model_fields:
            raise ScenarioError.unknown_key(label, where, part, model.model_fields)
        return part
    if get_origin(core) is list and isinstance(node, list):
        if not part.isdigit() or int(part) >= len(node):
            allowed = f"an item index 0..{len(node) - 1}" if node else "no index: the list is empty"
            raise ScenarioError(label, where, f"no list item {part!r}", allowed)
        return int(part)
    if get_origin(core) is dict and isinstance(node, dict):
        args = get_args(core)
        if args and args[0] is int and part.lstrip("-").isdigit():
            return int(part)
        return part
    raise ScenarioError(label, where, f"{dotted(loc)} is not a mapping, so it has no key {part!r}",
                        allowed_text(annotation))


def annotation_of(key_path: str, label: str = "(key path)", *, numeric: bool = False) -> Any:
    """The schema annotation of a dotted key (list items by index), checked against the schema.

    Args:
        key_path: Dotted key path.
        label: What to name in an error (a file, an option).
        numeric: Also require the value to be a number (int or float, not bool).

    Raises:
        ScenarioError: The key does not exist (with a did-you-mean) or, with ``numeric``, is a
            section or not a number.
    """
    parts = split(key_path, label)
    annotation: Any = Scenario
    for i, part in enumerate(parts):
        here = ".".join(parts[: i + 1])
        model = model_class(annotation)
        if model is not None and part not in model.model_fields:
            raise ScenarioError.unknown_key(label, here, part, model.model_fields)
        origin = get_origin(strip(annotation)[0])
        if origin is list and not part.isdigit():
            raise ScenarioError(label, here, f"no list item {part!r}", "an item index 0, 1, ...")
        child = child_annotation(annotation, int(part) if origin is list else part)
        if child is None:
            raise ScenarioError(label, here, f"{'.'.join(parts[:i])} has no key {part!r}",
                                allowed_text(annotation))
        annotation = child
    if numeric:
        model = model_class(annotation)
        if model is not None:
            keys = [k for k in model.model_fields if is_number(child_annotation(annotation, k))]
            raise ScenarioError(label, key_path, "a section, not a number",
                                "one of its numeric keys: " + (", ".join(keys) or "(none)"))
        if not is_number(annotation):
            raise ScenarioError(label, key_path, f"not a number ({type_text(annotation)})",
                                f"a numeric key, {EXAMPLE}")
    return annotation


def spec_key(key_path: str, label: str, where: str, *, numeric: bool = True) -> Any:
    """:func:`annotation_of` for a key path written in a spec: an error is reported at ``where``
    (``parameters[0].path``) of the spec ``label``, its message starting with the key path.

    Raises:
        ScenarioError: ``<label>: <where>: <key path>: <what is wrong>; allowed: ...``.
    """
    try:
        return annotation_of(key_path, label, numeric=numeric)
    except ScenarioError as exc:
        raise ScenarioError(label, where, f"{key_path}: {exc.message}", exc.allowed,
                            suggestion=exc.suggestion, more=exc.more) from None


def is_number(annotation: Any) -> bool:
    """Whether the schema type is a number (int or float; bool is not a number here)."""
    return strip(annotation)[0] in (int, float)


def is_integer(key_path: str) -> bool:
    """Whether the schema type of a dotted key is an integer (the integer rule applies)."""
    return strip(annotation_of(key_path))[0] is int


def get_value(scenario: Scenario | Mapping[str, Any], key_path: str,
              label: str = "(key path)") -> Any:
    """The value at a dotted key path of a scenario (or of its ``model_dump``).

    Raises:
        ScenarioError: The key does not exist (with a did-you-mean).

    Example:
        >>> get_value(Scenario(), "policies.vouchers.subsidy_share")
        0.3
    """
    node: Any = scenario
    annotation: Any = Scenario
    loc: Loc = ()
    for part in split(key_path, label):
        if node is None:  # an unset (null) section or mapping: no value below it
            annotation_of(key_path, label)
            return None
        key = _key(node, annotation, part, loc, label)
        loc = (*loc, key)
        annotation = child_annotation(annotation, key)
        if isinstance(node, BaseModel):
            node = getattr(node, key)  # type: ignore[arg-type]
        elif isinstance(node, dict) and key not in node and str(key) in node:
            node = node[str(key)]  # a JSON dump writes integer mapping keys as text
        elif isinstance(node, dict) and key not in node:
            raise ScenarioError(label, dotted(loc), f"no key {key!r} in {dotted(loc[:-1])}",
                                "one of " + (", ".join(map(str, node)) or "(none: it is empty)"))
        else:
            node = node[key]
    return node


def assign(data: dict[str, Any], key_path: str, value: object, label: str,
           origin: dict[Loc, str] | None = None, *, round_integers: bool = False) -> None:
    """Set the value at a dotted key path of a scenario dump in place, key by key checked.

    Missing sections and mappings on the way are created (``population.cluster_shares.x``
    when ``cluster_shares`` is null). The value itself is checked later, by validation.

    Args:
        data: A scenario as plain data (``Scenario.model_dump()`` or a merged YAML tree).
        key_path: Dotted key path.
        value: The new value (copied).
        label: Where the value comes from (``--set key=value``, a spec file), named in errors.
        origin: If given, records ``label`` for every key path written (for error messages).
        round_integers: Round a non-integral number set on an integer key (the integer rule).

    Raises:
        ScenarioError: A key of the path does not exist (with a did-you-mean).
    """
    parts = split(key_path, label)
    node: Any = data
    annotation: Any = Scenario
    loc: Loc = ()
    for i, part in enumerate(parts):
        key = _key(node, annotation, part, loc, label)
        loc = (*loc, key)
        if origin is not None:
            origin[loc] = label
        annotation = child_annotation(annotation, key)
        if i == len(parts) - 1:
            if round_integers and _fractional(value) and strip(annotation)[0] is int:
                value = int(round(value))  # type: ignore[call-overload]
            node[key] = copy.deepcopy(value)
            return
        missing = isinstance(node, dict) and node.get(key) is None
        if missing and (model_class(annotation) is not None
                        or get_origin(strip(annotation)[0]) is dict):
            node[key] = {}
        node = node[key]


def _fractional(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral)


def set_values(scenario: Scenario | Mapping[str, Any], values: Mapping[str, object] | Iterable[
        tuple[str, object]], *, label: str = "(values)", round_integers: bool = True) -> Scenario:
    """A new scenario with the values at dotted key paths set, validated.

    Args:
        scenario: The scenario to start from (or its plain data).
        values: ``{key path: value}`` (or pairs), applied in order.
        label: Where the values come from, named in errors (a spec file, an option).
        round_integers: Apply the integer rule (default: yes).

    Returns:
        The validated scenario.

    Raises:
        ScenarioError: An unknown key (with a did-you-mean) or a value the schema refuses.

    Example:
        >>> set_values(Scenario(), {"policies.service_capacity.onboardings_per_month": 12345.6}
        ...            ).policies.service_capacity.onboardings_per_month
        12346
    """
    data = scenario.model_dump(mode="python") if isinstance(scenario, BaseModel) \
        else copy.deepcopy(dict(scenario))
    origin: dict[Loc, str] = {}
    items = values.items() if isinstance(values, Mapping) else values
    for key, value in items:
        assign(data, key, value, label, origin, round_integers=round_integers)
    return validate(data, origin, label)


def keyword_values(overrides: Mapping[str, object]) -> dict[str, object]:
    """``{"a__b__c": v}`` keyword arguments (``mesa.batch_run`` style) as dotted key paths."""
    return {key.replace("__", "."): value for key, value in overrides.items()}
