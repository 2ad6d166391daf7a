"""Human names of scenario parameters for figure axes and tables, from the schema's field
descriptions (one source: the text an analyst also reads in docs/scenario_reference.md).

``parameter_label("policies.vouchers.budget_cny_per_year")`` is
``"Voucher money per calendar year (CNY)"``: the first clause of the field's description, with
the unit taken from the key's suffix (``_cny`` -> CNY, ``_per_year`` -> per year ...).
"""

from __future__ import annotations

import re

from pydantic import BaseModel

from sim.scenario.schema import Scenario

UNIT_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("_cny_per_year", "CNY per year"),
    ("_cny", "CNY"),
    ("_rate_per_year", "per year"),
    ("_per_year", "per year"),
    ("_per_month", "per month"),
    ("_months", "months"),
    ("_share", "share, 0-1"),
)
"""Key suffix -> unit shown after a parameter's name."""

MAX_LENGTH = 60
"""Longest label before it is cut at a word boundary."""


def _field(path: str):
    model: type[BaseModel] = Scenario
    info = None
    for part in path.split("."):
        if part.isdigit():  # a list index, e.g. policies.platforms.items.0.cloud_rate_per_year
            continue
        fields = getattr(model, "model_fields", {})
        if part not in fields:
            return None
        info = fields[part]
        ann = info.annotation
        args = [a for a in getattr(ann, "__args__", ()) if isinstance(a, type)]
        candidates = [ann, *args]
        model = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)),
                     model)
    return info


def parameter_unit(path: str) -> str:
    """The unit of a parameter from its key's suffix, or ``""``."""
    leaf = path.rsplit(".", 1)[-1]
    for suffix, unit in UNIT_SUFFIXES:
        if leaf.endswith(suffix):
            return unit
    return ""


def _first_clause(text: str) -> str:
    text = re.split(r"(?<=[a-z0-9)])\. |\. ASSUMPTION|; |, CNY|, for the full", text, maxsplit=1)[0]
    short = text.split(" (", 1)[0]
    return (short if len(short) >= 15 else text).strip().rstrip(".")


def parameter_label(path: str, *, unit: bool = True) -> str:
    """A parameter's human name for an axis, from the schema description (or the key).

    Args:
        path: Dotted scenario key.
        unit: Append the unit in parentheses when the key names one.
    """
    info = _field(path)
    text = _first_clause(info.description) if info is not None and info.description else ""
    if not text:
        text = path.rsplit(".", 1)[-1].replace("_", " ")
    if len(text) > MAX_LENGTH:
        text = text[:MAX_LENGTH].rsplit(" ", 1)[0] + "\u2026"
    u = parameter_unit(path) if unit else ""
    return f"{text} ({u})" if u and u not in text else text
