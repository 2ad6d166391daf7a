"""Validate a scenario dump; turn pydantic's errors (of scenarios and of analysis specs) into
one-line :class:`ScenarioError` s.

The loader, the ``--set`` overrides, the analysis tools (:mod:`sim.scenario.paths`) and the
runner all validate through :func:`validate`, so a bad value reads the same wherever it came
from: ``<file or --set key=value>: <key.path>: <what is wrong>; allowed: <what is allowed>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ValidationError

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
        raise convert(exc, Scenario, fallback, origin) from None


def _clean(loc: Loc, root: type[BaseModel]) -> tuple[Loc, Any, bool]:
    """An error location without pydantic's union/validator tags, the annotation it points to
    (None if unknown) and whether the error is about a mapping key (``[key]``)."""
    out: list[object] = []
    annotation: Any = root
    key_error = False
    for i, el in enumerate(loc):
        if el == "[key]":
            key_error = True
            continue
        if annotation is None:
            out.append(el)
            continue
        model = model_class(annotation)
        origin = get_origin(strip(annotation)[0])
        if model is not None:
            if isinstance(el, str) and el in model.model_fields:
                out.append(el)
                annotation = child_annotation(annotation, el)
            elif i == len(loc) - 1:
                out.append(el)
                annotation = None
        elif (origin is list and isinstance(el, int)) or origin is dict:
            out.append(el)
            annotation = child_annotation(annotation, el)
        # else: a union/validator tag such as 'str' or 'list[str]': not a key
    return tuple(out), annotation, key_error


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


def _hint(root: type[BaseModel], where: str, annotation: Any) -> str:
    """Where to read what is allowed when no short type text says it."""
    if root is Scenario:
        return f"consistent values (see `{where}` in {SEE_DOCS})"
    if annotation is None:
        return f"see {root.__name__} in docs/analysis.md"
    return f"consistent values (see {model_class(annotation).__name__} in docs/analysis.md)"


def convert(exc: ValidationError, root: type[BaseModel], label: str,
            origin: Mapping[Loc, str] | None = None) -> ScenarioError:
    """The one converter of pydantic errors (scenarios and analysis specs) to a one-line
    :class:`ScenarioError` about the first wrong key, with a count of the other wrong keys.

    Args:
        exc: The validation error of ``root.model_validate``.
        root: The validated model (:class:`Scenario` or an analysis spec class).
        label: The file (or other source) named in the message.
        origin: For a scenario merged from several files and ``--set`` overrides: which source
            wrote each key path (named instead of ``label``).
    """
    errors = exc.errors()
    cleaned = [_clean(tuple(e["loc"]), root) for e in errors]
    loc, annotation, key_error = cleaned[0]
    same = [e for e, c in zip(errors, cleaned, strict=True) if c[0] == loc]
    more = len({c[0] for c in cleaned}) - 1
    source = _source(origin or {}, loc, label)
    where = dotted(loc)
    kind, msg = same[0]["type"], same[0]["msg"]
    if kind == "extra_forbidden" and loc:
        parent = model_class(locate(loc[:-1], root))
        keys = list(parent.model_fields) if parent is not None else []
        if len(loc) == 1 and root is Scenario:
            keys.insert(0, "extends")
        return ScenarioError.unknown_key(source, where, loc[-1], keys, more=more)
    if key_error:
        args = get_args(strip(locate(loc[:-1], root))[0])
        allowed = f"keys of type {allowed_text(args[0])}" if args else "valid keys"
        return ScenarioError(source, where, f"invalid key {loc[-1]!r}: {_lower(msg)}", allowed,
                             more=more)
    if annotation is not None and (model_class(annotation) is None or kind == "model_type"):
        allowed = allowed_text(annotation)
    else:
        allowed = _hint(root, where, annotation)
    if kind == "value_error":
        text = msg.removeprefix("Value error, ")
        message, _, stated = text.partition("; allowed: ")
        return ScenarioError(source, where, message, stated or allowed, more=more)
    if kind == "missing":
        return ScenarioError(source, where, "a value is required", allowed, more=more)
    problem = " or ".join(dict.fromkeys(_lower(e["msg"]) for e in same))
    return ScenarioError(source, where, f"got {short_repr(same[0].get('input'))}: {problem}",
                         allowed, more=more)
