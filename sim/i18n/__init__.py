"""One translation table for every figure, table header, category name and sentence.

Two languages: English (``"en"``, the default) and Simplified Chinese (``"zh"``). Terms live in
``sim/i18n/terms.csv`` (columns ``key,en,zh``); Chinese names of clusters and cities come from
the shipped data (``clusters.csv: name_zh``, ``cities.csv: city_zh``), and policy terms are
written as the provincial documents write them (上云用云, 规上工业企业数字化转型, 链主, 服务券).

Numbers shown to people use one minus sign (U+2212 "−") and amounts of money in the units a
report uses: ``format_cny(1.35e9)`` is ``"1.35 billion CNY"`` in English and ``"13.5亿元"`` in
Chinese.

Example:
    >>> from sim import i18n
    >>> i18n.cluster_name("electronics", "zh"), i18n.city_name("Guangzhou", "zh")
    ('新一代电子信息', '广州')
    >>> i18n.format_cny(1.35e9, "en"), i18n.format_cny(1.35e9, "zh")
    ('1.35 billion CNY', '13.5亿元')
"""

from __future__ import annotations

import csv
import math
import re
from functools import cache
from importlib import resources
from typing import Literal, get_args

from sim import datasets

Lang = Literal["en", "zh"]
"""A supported language code."""

LANGS: tuple[str, ...] = get_args(Lang)
"""The supported language codes."""

MINUS = "\u2212"
"""The one minus sign used in text shown to people (matplotlib uses it on tick labels too)."""

_YEAR_SUFFIX = re.compile(r"^(cloud_firms|transformed_firms)_(\d{4})$")


def check_lang(lang: str) -> Lang:
    """Return ``lang`` if supported.

    Raises:
        ValueError: With the allowed codes, if ``lang`` is not one of :data:`LANGS`.
    """
    if lang not in LANGS:
        raise ValueError(f"unknown language {lang!r}; allowed: {', '.join(LANGS)}")
    return lang  # type: ignore[return-value]


@cache
def _terms() -> dict[str, dict[str, str]]:
    path = resources.files("sim.i18n").joinpath("terms.csv")
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    broken = [r["key"] for r in rows if None in r or None in r.values()]
    if broken:  # an unquoted comma splits a text: quote it ("...") in terms.csv
        raise ValueError(f"sim/i18n/terms.csv: rows without exactly key,en,zh: {', '.join(broken)}")
    seen: set[str] = set()
    twice = sorted({r["key"] for r in rows if r["key"] in seen or seen.add(r["key"])})
    if twice:  # a second row would silently replace the first one's text everywhere it is used
        raise ValueError(f"sim/i18n/terms.csv: keys given twice: {', '.join(twice)}")
    # The CSV holds "\n" as two characters so that a row stays on one line.
    return {r["key"]: {lang: r[lang].replace("\\n", "\n") for lang in LANGS} for r in rows}


def keys() -> list[str]:
    """Every key of the translation table."""
    return list(_terms())


def text(key: str, lang: str = "en", /, **fields: object) -> str:
    """The text of ``key`` in ``lang``, with ``{field}`` placeholders filled from ``fields``.

    Raises:
        KeyError: If ``key`` is not in the table (a missing translation is a bug, not a fallback).
    """
    lang = check_lang(lang)
    try:
        template = _terms()[key][lang]
    except KeyError:
        raise KeyError(f"no translation for {key!r} in sim/i18n/terms.csv") from None
    return template.format(**fields) if fields else template


# --------------------------------------------------------------------------- category names


@cache
def _cluster_names() -> dict[str, dict[str, str]]:
    return {c.cluster_id: {"en": c.name_en, "zh": c.name_zh} for c in datasets.clusters()}


@cache
def _city_names() -> dict[str, dict[str, str]]:
    return {en: {"en": en, "zh": zh} for en, zh, _region in datasets.cities()}


def cluster_name(cluster_id: str, lang: str = "en") -> str:
    """Full name of a strategic cluster (``clusters.csv``: ``name_en`` / ``name_zh``)."""
    lang = check_lang(lang)
    names = _cluster_names().get(cluster_id)
    return names[lang] if names else cluster_id


def city_name(city: str, lang: str = "en") -> str:
    """Name of a city given its English name (``cities.csv``: ``city_en`` / ``city_zh``)."""
    lang = check_lang(lang)
    names = _city_names().get(city)
    return names[lang] if names else city


def size_class_name(size_class: str, lang: str = "en") -> str:
    """Name of a firm size class (``lead``, ``above_scale``, ``industrial_sme``, ``service_sme``)."""
    key = f"size.{size_class}"
    return text(key, lang) if key in _terms() else size_class


def group_name(level: str, group: str, lang: str = "en") -> str:
    """Name of a group of the tidy time series (``level`` is cluster, city or size_class)."""
    if group == "all":
        return text("province", lang)
    if level == "cluster":
        return cluster_name(group, lang)
    if level == "city":
        return city_name(group, lang)
    if level == "size_class":
        return size_class_name(group, lang)
    raise ValueError(f"unknown level {level!r}; allowed: cluster, city, size_class")


def outcome_name(outcome: str, lang: str = "en") -> str:
    """Human name of a summary outcome, e.g. ``cloud_firms_2025`` or ``city_gap:Shenzhen``."""
    m = _YEAR_SUFFIX.match(outcome)
    if m:
        return text(f"outcome.{m.group(1)}_at", lang, year=m.group(2))
    if outcome.startswith(("goal:", "p_meet:")):  # a goal of goals.more: <indicator>>=<value>@<date>
        prefix, label = outcome.split(":", 1)
        indicator, rest = label.split(">=", 1)
        value, date = rest.split("@", 1)
        return text(f"outcome.{prefix}", lang, indicator=indicator_name(indicator, lang),
                    value=goal_value_text(indicator, float(value), lang), date=date)
    if ":" in outcome:
        prefix, group = outcome.split(":", 1)
        level = prefix.removesuffix("_gap")
        sep = ": " if lang == "en" else "："
        return text(f"outcome.{prefix}", lang) + sep + group_name(level, group, lang)
    key = f"outcome.{outcome}"
    return text(key, lang) if key in _terms() else outcome


def indicator_name(indicator: str, lang: str = "en") -> str:
    """Name of a goal indicator (``goals.more[].indicator``, e.g. ``sme_cloud_rate``)."""
    key = f"indicator.{indicator}"
    return text(key, lang) if key in _terms() else indicator


def goal_value_text(indicator: str, value: float, lang: str = "en") -> str:
    """A goal's value as people read it: a share as a percentage (``40%``), a count of firms
    with separators (``1,500,000``)."""
    if indicator.endswith("_rate"):
        return f"{value:.0%}" if abs(value * 100 - round(value * 100)) < 1e-9 else f"{value:.1%}"
    return format_count(value, lang)


def instrument_name(instrument: str, lang: str = "en") -> str:
    """Name of a policy instrument (a key of the scenario's ``policies`` section)."""
    key = f"instrument.{instrument}"
    return text(key, lang) if key in _terms() else instrument


def scenario_title(name: str, lang: str = "en") -> str:
    """A scenario's title in ``lang``: its name in English (as written in the file), the row
    ``scenario.<name>`` of the table in Chinese (the shipped scenarios), else the name."""
    if check_lang(lang) == "en":
        return name
    return term_or("scenario", name, lang)


def scenario_description(name: str, description: str, lang: str = "en") -> str:
    """A scenario's description in ``lang``: the file's ``description`` in English; in Chinese
    the row ``scenario_desc.<name>`` (the shipped scenarios), else the file's text."""
    if check_lang(lang) == "en":
        return description
    key = f"scenario_desc.{name}"
    return text(key, lang) if key in _terms() else description


def goal_scope(scope: str, lang: str = "en") -> str:
    """What a goal covers (``goals.more[].scope``, the scenario's own words) in ``lang``: the row
    ``scope.<text as written>`` of the table (the shipped scenarios' scopes), else as written."""
    check_lang(lang)
    return term_or("scope", scope, lang) if scope else scope


def term_or(prefix: str, name: str, lang: str = "en") -> str:
    """The text of ``<prefix>.<name>`` if the table has it, else ``name`` as written (a user's own
    name: a custom outcome, a channel or method added in code)."""
    key = f"{prefix}.{name}"
    return text(key, lang) if key in _terms() else name


# --------------------------------------------------------------------------- numbers


def minus(s: str) -> str:
    """Replace ASCII hyphen-minus signs in front of digits by :data:`MINUS`."""
    return re.sub(r"(?<![\w.])-(?=\d)", MINUS, s)


def format_count(value: float, lang: str = "en") -> str:
    """A whole count with thousands separators and the one minus sign (``−1,234``)."""
    check_lang(lang)
    if not math.isfinite(value):
        return "n/a" if lang == "en" else "无"
    return minus(f"{round(value):,.0f}")


def signed(value: float, digits: int = 0) -> str:
    """A number with an explicit sign (``+3``, ``−3``, ``0``)."""
    if round(value, digits) == 0:
        return f"{0:.{digits}f}"
    return minus(f"{value:+,.{digits}f}")


def _significant(value: float, digits: int) -> str:
    if value == 0:
        return "0"
    exp = math.floor(math.log10(abs(value)))
    decimals = max(0, digits - 1 - exp)
    s = f"{round(value, decimals):,.{decimals}f}"
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return minus(s)


def format_number(value: float, digits: int = 4) -> str:
    """A number to ``digits`` significant digits, with thousands separators, never in scientific
    notation (``6.5e8`` is ``650,000,000``; ``0.0375`` is ``0.0375``)."""
    if not math.isfinite(value):
        return str(value)
    return _significant(value, digits)


def format_cny(value: float, lang: str = "en", *, digits: int = 3) -> str:
    """An amount of money as a report writes it, to ``digits`` significant digits.

    English uses million and billion (``"1.35 billion CNY"``); Chinese uses 万 and 亿
    (``"13.5亿元"``). Amounts below 10,000 (en: one million) are written in full.
    """
    lang = check_lang(lang)
    if not math.isfinite(value):
        return "n/a" if lang == "en" else "无"
    a = abs(value)
    if lang == "en":
        for unit, name in ((1e9, " billion"), (1e6, " million")):
            if a >= unit:
                return f"{_significant(value / unit, digits)}{name} CNY"
        return f"{_significant(value, max(digits, len(str(int(a)))))} CNY"
    for unit, name in ((1e8, "亿元"), (1e4, "万元")):
        if a >= unit:
            return f"{_significant(value / unit, digits)}{name}"
    return f"{_significant(value, max(digits, len(str(int(a)))))}元"


def format_firms(value: float, lang: str = "en") -> str:
    """A count of firms with its unit (``"12,345 firms"`` / ``"12,345家"``)."""
    return format_count(value, lang) + (" firms" if lang == "en" else "家")
