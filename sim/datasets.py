"""Read the curated public statistics shipped in ``sim/data`` (sources are in each CSV row).

All numbers that the population and the goals are built from come through this module, so that
every empirical figure has exactly one place where it enters the code.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np

SIZE_CLASSES: tuple[str, ...] = ("lead", "above_scale", "industrial_sme", "service_sme")
"""Size classes: chain-leader/lead firms, other above-scale industrial firms (revenue >= 20 M CNY),
below-scale industrial firms, and service/other SMEs around the clusters."""

ABOVE_SCALE_CLASSES: tuple[int, ...] = (0, 1)
"""Indices of the size classes counted as above-scale industrial firms (规上工业企业)."""


def _rows(name: str) -> list[dict[str, str]]:
    with resources.files("sim.data").joinpath(name).open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@dataclass(frozen=True)
class Cluster:
    cluster_id: str
    name_zh: str
    name_en: str
    kind: str
    firm_share: float
    digital_readiness: float


@cache
def clusters() -> tuple[Cluster, ...]:
    """The 20 strategic clusters (``clusters.csv``) joined with ``cluster_assumptions.csv``."""
    facts = _rows("clusters.csv")
    assumptions = {r["cluster_id"]: r for r in _rows("cluster_assumptions.csv")}
    out = []
    for r in facts:
        a = assumptions[r["cluster_id"]]
        out.append(
            Cluster(
                cluster_id=r["cluster_id"],
                name_zh=r["name_zh"],
                name_en=r["name_en"],
                kind=r["type"],
                firm_share=float(a["firm_share"]),
                digital_readiness=float(a["digital_readiness"]),
            )
        )
    return tuple(out)


def cluster_ids() -> tuple[str, ...]:
    return tuple(c.cluster_id for c in clusters())


@cache
def cities() -> tuple[tuple[str, str, str], ...]:
    """The 21 prefecture-level cities as (english name, chinese name, region), ``cities.csv``."""
    return tuple((r["city_en"], r["city_zh"], r["region"]) for r in _rows("cities.csv"))


def city_names() -> tuple[str, ...]:
    return tuple(c[0] for c in cities())


@cache
def above_scale_by_city(year: int = 2021) -> dict[str, float]:
    """Above-scale industrial firms per city at the end of ``year``.

    The ten largest cities are reported (``above_scale_firms_by_city.csv``, 广东统计年鉴2024);
    for the other eleven only their region's total is reported
    (``above_scale_firms_by_region.csv``). ASSUMPTION: a region's remainder is split equally
    among its unreported cities.
    """
    col = f"y{year}"
    reported = {r["city_en"]: float(r[col]) for r in _rows("above_scale_firms_by_city.csv")}
    out: dict[str, float] = {}
    for r in _rows("above_scale_firms_by_region.csv"):
        members = r["cities"].split()
        rest = float(r[col]) - sum(reported.get(c, 0.0) for c in members)
        missing = [c for c in members if c not in reported]
        for c in members:
            out[c] = reported[c] if c in reported else rest / len(missing)
    return {c: out[c] for c in city_names()}


@cache
def population_indicator(indicator: str) -> dict[str, float]:
    """``population.csv`` rows of one indicator as {date: value}."""
    return {r["date"]: float(r["value"]) for r in _rows("population.csv") if r["indicator"] == indicator}


@dataclass(frozen=True)
class ProgressRecord:
    """One row of ``progress_reported.csv``, whatever its ``kind`` (see :mod:`sim.analysis.observation`).

    Attributes:
        row: Data row number in the file (1 = the first row after the header), to cite a figure.
        date: Date the figure refers to (YYYY-MM-DD).
        indicator: What is counted (e.g. ``cloud_enterprises_cumulative``).
        value: The published number; None for ``not reported`` rows (nothing was published).
        kind: How to read it: ``reported``, ``reported lower bound``, ``reported (repeat)``,
            ``reported headline (likely stale)``, ``reported (date approximate)``,
            ``not reported`` or ``target``.
        scope: What the source says was counted.
        source: The publication.
        url: Where it was read (may be empty).
    """

    row: int
    date: str
    indicator: str
    value: float | None
    kind: str
    scope: str
    source: str
    url: str


@cache
def progress_records() -> tuple[ProgressRecord, ...]:
    """Every row of ``progress_reported.csv`` (every kind; rows without a value included)."""
    return tuple(
        ProgressRecord(row=i, date=r["date"], indicator=r["indicator"],
                       value=float(r["value"]) if r["value"].strip() else None, kind=r["kind"],
                       scope=r["scope"], source=r["source"], url=r["url"])
        for i, r in enumerate(_rows("progress_reported.csv"), start=1)
    )


@cache
def reported_progress() -> list[dict[str, object]]:
    """Reported (not target) cumulative progress figures, ``progress_reported.csv``."""
    return [
        {"date": r["date"], "indicator": r["indicator"], "value": float(r["value"]), "source": r["source"]}
        for r in _rows("progress_reported.csv")
        if r["kind"] == "reported"
    ]


def reported_value(indicator: str, date: str) -> float | None:
    for r in reported_progress():
        if r["indicator"] == indicator and r["date"] == date:
            return float(r["value"])  # type: ignore[arg-type]
    return None


def interpolate_progress(indicator: str, year_month: tuple[int, int]) -> float:
    """Reported cumulative figure at the end of a month, linear between reported dates.

    Used for the default initial state when a run starts at a date between reported points
    (e.g. 2020-12 -> 500,000 cloud firms, 2021-06 -> 550,000; ``progress_reported.csv``).
    """
    pts = sorted(
        (_month_number(str(r["date"])), float(r["value"]))  # type: ignore[arg-type]
        for r in reported_progress()
        if r["indicator"] == indicator
    )
    xs, ys = zip(*pts, strict=True)
    m = year_month[0] * 12 + (year_month[1] - 1)
    if m < xs[0] or m > xs[-1]:
        raise ValueError(
            f"no reported {indicator} around {year_month[0]}-{year_month[1]:02d}; "
            f"reported months span {_fmt(xs[0])}..{_fmt(xs[-1])}: set initial values explicitly"
        )
    return float(np.interp(m, xs, ys))


def _month_number(date: str) -> int:
    y, mo = int(date[:4]), int(date[5:7])
    return y * 12 + (mo - 1)


def _fmt(m: int) -> str:
    return f"{m // 12}-{m % 12 + 1:02d}"


@cache
def above_scale_year_end() -> dict[int, int]:
    """Above-scale industrial firms at year ends 2019-2023 (广东统计年鉴2024 table 12-6)."""
    vals = population_indicator("above_scale_industrial_firms")
    return {int(d[:4]): int(v) for d, v in vals.items()}
