"""Human names of scenario parameters for figure axes and tables, in English or Chinese.

``parameter_label("policies.vouchers.budget_cny_per_year")`` is ``"Voucher budget (CNY per
year)"`` and, with ``lang="zh"``, ``"服务券预算（元/年）"``. The names are rows ``param.<key>``
of the one translation table (``sim/i18n/terms.csv``; list indices dropped from the key), written
from the field descriptions of the schema (the text an analyst also reads in
docs/scenario_reference.md); ``tests/test_analysis_figures_zh.py`` checks that every field of
the schema has one, so no figure shows a raw key path. A key the table does not name (a custom
evaluator's input, a spec's own group name) falls back to the first clause of the schema
description in English, else to the key as written.

The unit comes from the key's suffix (``_cny`` -> CNY / 元, ``_per_year`` -> per year / 每年 ...);
schedule keys, list items, clusters and cities named after the field are added as qualifiers:
``policies.vouchers.budget_cny_per_year.2024`` is ``"Voucher budget (2024, CNY per year)"``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence

from pydantic import BaseModel

from sim import i18n
from sim.scenario.parameters import label_of
from sim.scenario.schema import Scenario

UNIT_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("_cny_per_year", "cny_per_year"),
    ("_cny", "cny"),
    ("_rate_per_year", "per_year"),
    ("_per_year", "per_year"),
    ("_per_month", "per_month"),
    ("_months", "months"),
    ("_share", "share"),
)
"""Key suffix -> unit (``punit.<unit>`` in the translation table) shown after a parameter's name."""

MONEY_SCALES: dict[str, tuple[tuple[float, str], ...]] = {
    "en": ((1e9, "billion"), (1e6, "million")), "zh": ((1e8, "yi"), (1e4, "wan"))}
"""Units an axis of money is shown in, largest first: a report writes 6亿元 or 600 million CNY,
not 600,000,000 (``punit.<unit>_<scale>`` in the translation table)."""

MAX_LENGTH = 60
"""Longest label taken from a schema description before it is cut at a word boundary."""

_MONTH_KEY = re.compile(r"^\d{4}-\d{2}$")


def _field(path: str):
    """The pydantic field of a dotted key, the key's field names, and its other parts (list
    indices, keys of a dict-valued field: a year, a cluster, a city), or ``(None, [], [])``."""
    model: type[BaseModel] | None = Scenario
    info, names, extra = None, [], []
    for part in path.split("."):
        fields = getattr(model, "model_fields", {}) if model is not None else {}
        if part not in fields:
            if info is None:
                return None, [], []
            extra.append(part)
            continue
        info = fields[part]
        names.append(part)
        ann = info.annotation
        candidates = [ann, *getattr(ann, "__args__", ())]
        candidates += [a for c in list(candidates) for a in getattr(c, "__args__", ())]
        model = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
    return info, names, extra


def _unit_id(path: str) -> str:
    _, names, _ = _field(path)
    leaf = names[-1] if names else path.rsplit(".", 1)[-1]
    return next((unit for suffix, unit in UNIT_SUFFIXES if leaf.endswith(suffix)), "")


def money_scale(path: str, largest: float | None, lang: str = "en") -> tuple[float, str]:
    """``(divisor, scale name)`` of an axis of ``path`` whose largest absolute value is
    ``largest``: ``(1e8, "yi")`` for 600,000,000 CNY in Chinese, ``(1.0, "")`` for a key that is
    not money or a small amount (see :data:`MONEY_SCALES`)."""
    if largest is None or not _unit_id(path).startswith("cny"):
        return 1.0, ""
    return next(((d, name) for d, name in MONEY_SCALES[lang] if abs(largest) >= d), (1.0, ""))


def parameter_unit(path: str, lang: str = "en", *, largest: float | None = None) -> str:
    """The unit of a parameter from its key's suffix, or ``""``; money in the scale that suits
    ``largest`` (:func:`money_scale`)."""
    unit = _unit_id(path)
    if not unit:
        return ""
    _, scale = money_scale(path, largest, lang)
    return i18n.text(f"punit.{unit}_{scale}" if scale else f"punit.{unit}", lang)


def _first_clause(text: str) -> str:
    text = re.split(r"(?<=[a-z0-9)])\. |\. ASSUMPTION|; |, CNY|, for the full", text, maxsplit=1)[0]
    short = text.split(" (", 1)[0]
    text = (short if len(short) >= 15 else text).strip().rstrip(".")
    if len(text) > MAX_LENGTH:
        text = text[:MAX_LENGTH].rsplit(" ", 1)[0] + "\u2026"
    return text


def _qualifier(part: str, lang: str) -> str:
    if part.isdigit() and len(part) == 4:
        return i18n.text("punit.year", lang, year=part)
    if part.isdigit():
        return i18n.text("punit.item", lang, n=int(part) + 1)
    if _MONTH_KEY.match(part):
        return part
    name = i18n.cluster_name(part, lang)
    return name if name != part else i18n.city_name(part, lang)


def parameter_name(path: str, lang: str = "en") -> str:
    """A parameter's human name without unit or qualifiers (see the module docstring)."""
    info, names, _ = _field(path)
    key = f"param.{'.'.join(names) if names else path}"
    if key in i18n.keys():
        return i18n.text(key, lang)
    if info is not None and info.description:
        return _first_clause(info.description)
    return path.rsplit(".", 1)[-1].replace("_", " ") if lang == "en" else path


def parameter_value(path: str, value: float, lang: str = "en") -> str:
    """A parameter's value as a figure writes it: money as a report writes it (``650 million CNY``
    / ``6.5亿元``), other numbers to four significant digits, never in scientific notation."""
    if parameter_unit(path, "en").startswith("CNY"):
        return i18n.format_cny(value, lang)
    return i18n.format_number(value, 4)


def parameter_label(path: str, lang: str = "en", *, unit: bool = True, largest: float | None = None,
                    unit_path: str | None = None) -> str:
    """A parameter's human name for an axis, with its qualifiers and unit in parentheses.

    Args:
        path: Dotted scenario key (or a spec's name of a group of keys).
        lang: ``"en"`` or ``"zh"``.
        unit: Append the unit when the key names one.
        largest: The largest absolute value the axis shows: money is then labelled in the
            scale that suits it (``亿元/年``; see :func:`money_scale`).
        unit_path: The key whose suffix gives the unit (default: ``path``; a spec's group of
            keys takes the unit of its first key).
    """
    i18n.check_lang(lang)
    _, _, extra = _field(path)
    name = parameter_name(path, lang)
    quals = [_qualifier(p, lang) for p in extra]
    u = parameter_unit(unit_path or path, lang, largest=largest) if unit else ""
    if u and u not in name:
        quals.append(u)
    if not quals:
        return name
    return f"{name} ({', '.join(quals)})" if lang == "en" else f"{name}（{'，'.join(quals)}）"


def _input_key(label: str, paths: Sequence[str]) -> str:
    if paths and label == label_of(paths) and f"param.{label}" not in i18n.keys():
        return paths[0]
    return label


def parameter_axis(axis, label: str, values: Iterable[float], lang: str = "en", *,
                   paths: Sequence[str] = ()) -> None:
    """Label a matplotlib axis with a parameter (:func:`input_label`) and write its ticks as
    plain numbers (no ``1e9`` offset), money in the scale that suits ``values`` (the values
    the axis shows): 0, 2, 4 (亿元/年) rather than 0, 200,000,000, 400,000,000."""
    from matplotlib.ticker import FuncFormatter

    key = _input_key(label, paths)
    finite = [abs(float(v)) for v in values if math.isfinite(float(v))]
    largest = max(finite) if finite else None
    first = paths[0] if paths else key
    divisor, _ = money_scale(first, largest, lang)
    axis.set_label_text(parameter_label(key, lang, largest=largest, unit_path=first))
    axis.set_major_formatter(FuncFormatter(lambda x, _p: i18n.format_number(x / divisor, 6) if x else "0"))


def input_label(label: str, paths: Sequence[str], lang: str = "en") -> str:
    """The axis label of an analysis input (a spec's parameter: a ``label`` and the ``paths`` it
    sets): the human name of its first key when the label is the default one (the key's last two
    parts, :func:`sim.scenario.parameters.label_of`), else the label's own name (a row
    ``param.<label>`` of the translation table, or the name as the spec writes it)."""
    return parameter_label(_input_key(label, paths), lang, unit_path=paths[0] if paths else None)
