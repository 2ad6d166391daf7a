"""Validate a scenario dump and turn pydantic's errors into one-line :class:`ScenarioError` s.

The loader, the ``--set`` overrides, the analysis tools (:mod:`sim.scenario.paths`) and the
runner all validate through :func:`validate`, so a bad value reads the same wherever it came
from: ``<file or --set key=value>: <key.path>: <what is wrong>; allowed: <what is allowed>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, get_args, get_origin

from pydantic import ValidationError

from sim.errors import ScenarioError
from sim.scenario.docs import allowed_text, child_annotation, locate, model_class, strip
from sim.scenario.schema import Scenario

Loc = tuple[object, ...]
"""A key path as a tuple of keys (list indices as ints)."""

SEE_DOCS = "docs/scenario_reference.md"


def dotted(loc: Loc) -> str:
    """``("a", "items", 0, "b")`` -> ``a.items[0].b`` (``(top level)`` for the empty path)."""
    text = ""
    for key in loc:
        text += (
            f"[{key}]" if isinstance(key, int) and not isinstance(key, bool) and text else f".{key}"
        )
    return text.lstrip(".") or "(top level)"


def validate(data: Mapping[str, Any], origin: Mapping[Loc, str], fallback: str) -> Scenario:
    """``Scenario.model_validate(data)``; the first error as a one-line ScenarioError.

    Args:
        data: A scenario as plain data.
        origin: Which file or override wrote each key path (the error names it).
        fallback: Label for a key path with no recorded origin.

    Raises:
        ScenarioError: The data is not a valid scenario (with a count of further errors).
    """
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        raise convert(errors[0], origin, fallback, len(errors) - 1) from None


def _clean_loc(loc: Loc) -> tuple[Loc, bool]:
    """Drop pydantic's union/validator tags from an error location; flag mapping-key errors."""
    out: list[object] = []
    annotation: Any = Scenario
    key_error = False
    for i, el in enumerate(loc):
        if el == "[key]":
            key_error = True
        elif _is_key(annotation, el, last=i == len(loc) - 1):
            out.append(el)
            annotation = child_annotation(annotation, el) if annotation is not None else None
    return tuple(out), key_error


def _is_key(annotation: Any, el: object, *, last: bool) -> bool:
    """Whether a location element is a real key (not a tag) of a value of ``annotation``."""
    if annotation is None:
        return True
    model = model_class(annotation)
    if model is not None:
        return el in model.model_fields or last
    origin = get_origin(strip(annotation)[0])
    return origin is dict or (origin is list and isinstance(el, int))


def _source(origin: Mapping[Loc, str], loc: Loc, fallback: str) -> str:
    for k in range(len(loc), 0, -1):
        if loc[:k] in origin:
            return origin[loc[:k]]
    return fallback


def short_repr(value: object) -> str:
    """``repr(value)`` cut to 60 characters (for error messages)."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _lower(msg: str) -> str:
    return msg[:1].lower() + msg[1:]


def convert(
    error: Mapping[str, Any], origin: Mapping[Loc, str], fallback: str, more: int
) -> ScenarioError:
    """Turn one pydantic error of a scenario into a one-line ScenarioError.

    Args:
        error: One item of ``ValidationError.errors()``.
        origin: Which file or override wrote each key path.
        fallback: Label used when the key path has no recorded origin.
        more: Number of further errors.
    """
    loc, key_error = _clean_loc(tuple(error["loc"]))
    source = _source(origin, loc, fallback)
    where = dotted(loc)
    kind, msg, value = error["type"], error["msg"], error.get("input")
    if kind == "extra_forbidden" and loc:
        keys = list(model_class(locate(loc[:-1])).model_fields)  # type: ignore[union-attr]
        if len(loc) == 1:
            keys.insert(0, "extends")
        return ScenarioError.unknown_key(source, where, loc[-1], keys, more=more)
    annotation = locate(loc)
    if key_error:
        args = get_args(strip(locate(loc[:-1]))[0])
        allowed = f"keys of type {allowed_text(args[0])}" if args else "valid keys"
        return ScenarioError(
            source, where, f"invalid key {loc[-1]!r}: {_lower(msg)}", allowed, more=more
        )
    if annotation is not None and model_class(annotation) is None:
        allowed = allowed_text(annotation)
    elif annotation is not None and kind == "model_type":
        allowed = allowed_text(annotation)
    else:
        allowed = f"consistent values (see `{where}` in {SEE_DOCS})"
    if kind == "value_error":
        text = msg.removeprefix("Value error, ")
        message, _, stated = text.partition("; allowed: ")
        return ScenarioError(source, where, message, stated or allowed, more=more)
    if kind == "missing":
        return ScenarioError(source, where, "a value is required", allowed, more=more)
    return ScenarioError(
        source, where, f"got {short_repr(value)}: {_lower(msg)}", allowed, more=more
    )
