"""Describe the scenario schema: reference tables, JSON Schema, and type/range texts.

The reference (``docs/scenario_reference.md``) and the JSON Schema
(``docs/scenario.schema.json``) are generated from the pydantic models in
:mod:`sim.scenario.schema`, so the field descriptions there stay the single source. Regenerate
with ``python -m sim.scenario.docs [docs-folder]``; a test fails when the committed files are
out of date. The loader uses :func:`locate` and :func:`allowed_text` to say what a key accepts.
"""

from __future__ import annotations

import json
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types as at
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from sim import datasets
from sim.scenario.schema import Scenario
from sim.scenario.schema_types import ScheduleBounds

EXTENDS_DESCRIPTION = (
    "Parent scenario this file starts from: a path relative to this file, or the name of a "
    "shipped scenario (e.g. `baseline`). Only allowed at the top level; not part of the resolved "
    "scenario."
)
_YM_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"

# --------------------------------------------------------------------------- introspection


def strip(annotation: Any) -> tuple[Any, list[Any], bool]:
    """Remove ``Annotated`` and ``Optional`` wrappers from a type annotation.

    Args:
        annotation: A field annotation.

    Returns:
        The core annotation, the metadata collected from ``Annotated`` layers, and whether
        ``None`` is allowed.
    """
    meta: list[Any] = []
    nullable = False
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            meta.extend(annotation.__metadata__)
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            args = [a for a in get_args(annotation) if a is not type(None)]
            nullable = nullable or len(args) < len(get_args(annotation))
            if _schedule_bounds(meta) is not None:
                # A number or a schedule: its core is the number (a numeric key for every tool;
                # a plain number set by a tool replaces the schedule).
                return args[0], meta, nullable
            if len(args) != 1:
                return annotation, meta, nullable
            annotation = args[0]
        else:
            return annotation, meta, nullable


def model_class(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model an annotation stands for (``X``, ``X | None``), else None."""
    core = strip(annotation)[0]
    return core if isinstance(core, type) and issubclass(core, BaseModel) else None


def child_annotation(annotation: Any, key: object) -> Any | None:
    """Annotation of ``key`` inside a value of ``annotation`` (model field, list item, dict value).

    Returns None when the key cannot exist there (unknown field, or a scalar).
    """
    model = model_class(annotation)
    if model is not None:
        field = model.model_fields.get(key) if isinstance(key, str) else None
        return None if field is None else _field_annotation(field)
    core = strip(annotation)[0]
    args = get_args(core)
    if get_origin(core) is list and args:
        return args[0]
    if get_origin(core) is dict and len(args) == 2:
        return args[1]
    return None


def _field_annotation(field: FieldInfo) -> Any:
    """A field's annotation with its own metadata (constraints, validators) re-attached."""
    if field.metadata:
        return Annotated[(field.annotation, *field.metadata)]  # type: ignore[valid-type]
    return field.annotation


def locate(loc: tuple[object, ...], root: Any = Scenario) -> Any | None:
    """Annotation of the value at key path ``loc`` of a scenario (``()`` is the Scenario).

    Args:
        loc: Keys from the top, list indices as ints.
        root: The model at the top (a scenario by default; an analysis spec's model for its keys).

    Returns:
        The annotation (with constraints as ``Annotated`` metadata) or None if the path does
        not exist in the schema.
    """
    annotation: Any = root
    for key in loc:
        annotation = child_annotation(annotation, key)
        if annotation is None:
            return None
    return annotation


def _num(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _validator_names(meta: list[Any]) -> set[str]:
    return {getattr(getattr(m, "func", None), "__name__", "") for m in meta}


def type_text(annotation: Any) -> str:
    """Short human name of a type, e.g. ``integer``, ``list of city names``, ``number or null``."""
    core, meta, nullable = strip(annotation)
    names = _validator_names(meta)
    origin, args = get_origin(core), get_args(core)
    if _schedule_bounds(meta) is not None:
        value = type_text(core)
        text = f"{value} or schedule {{YYYY or YYYY-MM: {value}}}"
    elif "_check_year_month" in names:
        text = "month"
    elif "check_cities" in names:
        text = "list of city names"
    elif "check_clusters" in names:
        text = "list of cluster ids or 'all'"
    elif origin is Literal:
        text = "text"
    elif origin is list:
        text = "list of " + _plural(type_text(args[0]) if args else "values")
    elif origin is dict:
        text = f"mapping {type_text(args[0])} -> {type_text(args[1])}" if args else "mapping"
    elif model_class(core) is not None:
        text = "section"
    else:
        text = {bool: "true/false", int: "integer", float: "number", str: "text"}.get(
            core, getattr(core, "__name__", str(core))
        )
    return f"null or {text}" if nullable else text


def _schedule_bounds(meta: list[Any]) -> ScheduleBounds | None:
    return next((m for m in meta if isinstance(m, ScheduleBounds)), None)


def is_scheduled(annotation: Any) -> bool:
    """Whether a field takes a number or a schedule (:func:`sim.scenario.schema.Scheduled`): a
    numeric key for the analysis tools (a plain number they set replaces the schedule)."""
    return _schedule_bounds(strip(annotation)[1]) is not None


def _plural(text: str) -> str:
    return {"integer": "integers", "number": "numbers", "section": "sections"}.get(text, text)


def range_text(annotation: Any) -> str:
    """Allowed values beyond the type: numeric bounds, pattern, literal values (or '')."""
    core, meta, _ = strip(annotation)
    lower = upper = ""
    parts: list[str] = []
    bounds = _schedule_bounds(meta)
    if bounds is not None:
        return "; ".join(p for p in (bounds.text(), "schedule keys YYYY (from January) or YYYY-MM") if p)
    for m in meta:
        if isinstance(m, at.Ge):
            lower = f"{_num(m.ge)} <= "
        elif isinstance(m, at.Gt):
            lower = f"{_num(m.gt)} < "
        elif isinstance(m, at.Le):
            upper = f" <= {_num(m.le)}"
        elif isinstance(m, at.Lt):
            upper = f" < {_num(m.lt)}"
        elif getattr(m, "pattern", None):
            parts.append(f"matches {m.pattern}")
    if lower or upper:
        parts.insert(0, f"{lower}x{upper}")
    names = _validator_names(meta)
    if "_check_year_month" in names:
        parts.append("YYYY-MM (month 01-12)")
    if "check_cities" in names:
        parts.append("city names (see the list at the top)")
    if "check_clusters" in names:
        parts.append("'all' or cluster ids (see the list at the top)")
    if get_origin(core) is Literal:
        parts.append("one of " + ", ".join(repr(a) for a in get_args(core)))
    return "; ".join(parts)


def allowed_text(annotation: Any) -> str:
    """What a value of this type may be, for error messages, e.g. ``integer, 1 <= x <= 100``."""
    model = model_class(annotation)
    if model is not None:
        return "a mapping with keys " + ", ".join(model.model_fields)
    rng = range_text(annotation)
    return type_text(annotation) + (f", {rng}" if rng else "")


# --------------------------------------------------------------------------- JSON Schema


def json_schema(lang: str = "en") -> dict[str, Any]:
    """JSON Schema of a scenario file (the Scenario model plus the top-level ``extends`` key).

    Month fields get their ``YYYY-MM`` pattern and city/cluster lists their allowed names, so
    editors can check files as they are typed. With ``lang="zh"`` each field's ``title`` is its
    Chinese name (the ``param.<key>`` rows of ``sim/i18n/terms.csv``); descriptions stay English.
    """
    out = Scenario.model_json_schema()
    out = {"$schema": "https://json-schema.org/draft/2020-12/schema", **out}
    out["properties"] = {
        "extends": {"type": "string", "title": "Extends", "description": EXTENDS_DESCRIPTION},
        **out["properties"],
    }
    for model in _models(Scenario):
        target = out if model is Scenario else out["$defs"].get(model.__name__)
        if target is None:
            continue
        for name, field in model.model_fields.items():
            prop = target["properties"].get(name)
            if prop is not None:
                _enrich(prop, _field_annotation(field))
    if lang != "en":
        _translate_titles(out, lang)
    return out


def _translate_titles(out: dict[str, Any], lang: str) -> None:
    """Set the ``title`` of every field that has a ``param.<key>`` row to its name in ``lang``."""
    from sim import i18n

    for key in i18n.keys():
        if not key.startswith("param."):
            continue
        *parents, leaf = key.removeprefix("param.").split(".")
        model: type[BaseModel] | None = Scenario
        for name in parents:
            field = model.model_fields.get(name) if model is not None else None
            model = None if field is None else next(
                (model_class(t) for t in _all_types(field.annotation) if model_class(t) is not None), None)
        target = None if model is None else out if model is Scenario else out["$defs"].get(model.__name__)
        prop = (target or {}).get("properties", {}).get(leaf)
        if prop is not None:
            prop["title"] = i18n.text(key, lang)


def _models(root: type[BaseModel]) -> Iterator[type[BaseModel]]:
    seen: list[type[BaseModel]] = []
    stack = [root]
    while stack:
        model = stack.pop()
        if model in seen:
            continue
        seen.append(model)
        yield model
        for field in model.model_fields.values():
            for arg in _all_types(field.annotation):
                sub = model_class(arg)
                if sub is not None:
                    stack.append(sub)


def _all_types(annotation: Any) -> Iterator[Any]:
    yield annotation
    for arg in get_args(annotation):
        yield from _all_types(arg)


def _enrich(prop: dict[str, Any], annotation: Any) -> None:
    names = _validator_names(strip(annotation)[1])
    branches = [b for b in prop.get("anyOf", [prop]) if b.get("type") != "null"]
    for branch in branches:
        if "_check_year_month" in names and branch.get("type") == "string":
            branch["pattern"] = _YM_PATTERN
        if branch.get("type") == "array" and "check_cities" in names:
            branch["items"] = {"enum": list(datasets.city_names())}
        if branch.get("type") == "array" and "check_clusters" in names:
            branch["items"] = {"enum": ["all", *datasets.cluster_ids()]}


# --------------------------------------------------------------------------- Markdown reference

_INTRO = """\
# Scenario file reference

Generated from the models of `sim/scenario/schema*.py` by `python -m sim.scenario.docs`; do not edit by hand.
The JSON Schema of the same format is `docs/scenario.schema.json`.

A scenario is a YAML file. Every key is optional: a missing key takes the value from the file
it extends, or else the default below. Unknown keys, wrong types and out-of-range values are
errors that name the file, the key path and what is allowed.

## How a scenario is assembled

Later sources override earlier ones (lowest to highest precedence):

1. schema defaults (the tables below);
2. the extended file (`extends:`), itself assembled the same way, recursively;
3. the file itself;
4. `--set key.path=value` overrides, in the order given;
5. explicit `--replicates` / `--seed` arguments (`run.replicates`, `run.seed`).

- `extends` is a path relative to the file, or the name of a shipped scenario in `scenarios/`
  (e.g. `extends: baseline`). Chains may be any length; cycles and missing parents are errors.
- Merging is key by key inside schema sections (e.g. setting only
  `policies.vouchers.budget_cny_per_year` keeps every other voucher key). Lists (e.g.
  `policies.pilots.items`) and free-form mappings (e.g. `policies.sme_pilot_cities.schedule`,
  `population.cluster_shares`) are replaced whole, so a child can also remove entries.
- `name` is never inherited: it is the file's own `name`, or else the file name without
  `.yaml`. `description` is inherited from the parent when the file sets none.
- `--set` values are read as YAML (`5`, `0.3`, `true`, `[a, b]`, `null`, `2021-07`). The key
  path is dotted; list items are addressed by index (`policies.pilots.items.0.parks_per_year=40`);
  an entry of a free-form mapping can be set alone (`policies.sme_pilot_cities.schedule.Zhuhai=2025`).
- The resolved scenario (all sources merged, every value explicit) is written next to each run's
  results; its hash (sha256 of the canonical JSON, excluding `run.replicates`) identifies it.

Times are months written `YYYY-MM`; a state "at" a month means at the end of that month. Rates are
hazards per year. Defaults marked ASSUMPTION are modelling choices, not data.
"""


def _cell(value: str) -> str:
    return " ".join(value.replace("|", "\\|").split())


def _default_cell(value: Any, annotation: Any) -> str:
    core = strip(annotation)[0]
    item = model_class(get_args(core)[0]) if get_origin(core) is list and get_args(core) else None
    if item is not None and isinstance(value, list):
        base = item().model_dump(mode="json") if _constructible(item) else {}
        value = [{k: v for k, v in x.items() if base.get(k, object()) != v} for x in value]
    return "`" + json.dumps(value, ensure_ascii=False) + "`"


def _constructible(model: type[BaseModel]) -> bool:
    return all(not f.is_required() for f in model.model_fields.values())


def _table(model: type[BaseModel], prefix: str, values: dict[str, Any] | None) -> list[str]:
    rows = ["| key | type | default | allowed | description |", "|---|---|---|---|---|"]
    for name, field in model.model_fields.items():
        annotation = _field_annotation(field)
        if model_class(annotation) is not None:
            continue
        if values is not None:
            default = _default_cell(values[name], annotation)
        elif field.is_required():
            default = "required"
        else:
            raw = field.get_default(call_default_factory=True)
            default = _default_cell(_jsonable(raw), annotation)
        key = f"{prefix}.{name}" if prefix else name
        rows.append(
            f"| `{key}` | {_cell(type_text(annotation))} | {default} | "
            f"{_cell(range_text(annotation))} | {_cell(field.description or '')} |"
        )
    return rows


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


def _sections(
    model: type[BaseModel], prefix: str, values: dict[str, Any] | None, depth: int
) -> Iterator[str]:
    for name, field in model.model_fields.items():
        annotation = _field_annotation(field)
        core = strip(annotation)[0]
        sub = model_class(annotation)
        path = f"{prefix}.{name}" if prefix else name
        if sub is None and get_origin(core) is list and get_args(core):
            item = model_class(get_args(core)[0])
            if item is not None:
                note = f"Each item of the list `{path}`."
                yield from _section(item, f"{path}[]", None, depth, note)
            continue
        if sub is not None:
            sub_values = values.get(name) if values is not None else None
            yield from _section(sub, path, sub_values, depth, field.description or "")


def _section(
    model: type[BaseModel], path: str, values: dict[str, Any] | None, depth: int, fallback: str
) -> Iterator[str]:
    intro = " ".join((model.__doc__ or "").split()) if model.__doc__ else fallback
    yield f"{'#' * min(depth + 2, 6)} `{path}`"
    yield ""
    if intro:
        yield intro
        yield ""
    if any(model_class(_field_annotation(f)) is None for f in model.model_fields.values()):
        yield from _table(model, path, values)
        yield ""
    yield from _sections(model, path, values, depth + 1)


def reference_markdown() -> str:
    """The scenario reference: precedence rules, then one table per section of the schema.

    Each table lists key path, type, default (the value in a scenario that sets nothing),
    allowed range and description.
    """
    defaults = Scenario().model_dump(mode="json")
    lines = [_INTRO, "City names: " + ", ".join(datasets.city_names()) + ".", ""]
    lines += ["Cluster ids: " + ", ".join(datasets.cluster_ids()) + ".", ""]
    lines += ["## Top level", ""]
    top = _table(Scenario, "", defaults)
    top.insert(2, f"| `extends` | text | `null` |  | {_cell(EXTENDS_DESCRIPTION)} |")
    lines += [*top, ""]
    lines += list(_sections(Scenario, "", defaults, 0))
    return "\n".join(lines).rstrip() + "\n"


def write_docs(folder: str | Path) -> list[Path]:
    """Write ``scenario_reference.md`` and ``scenario.schema.json`` into ``folder``.

    Args:
        folder: The docs folder (created if missing).

    Returns:
        The two paths written.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    md = folder / "scenario_reference.md"
    js = folder / "scenario.schema.json"
    md.write_text(reference_markdown(), encoding="utf-8")
    js.write_text(json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return [md, js]


def _main(argv: list[str]) -> int:
    folder = Path(argv[0]) if argv else Path(__file__).resolve().parents[2] / "docs"
    for path in write_docs(folder):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
