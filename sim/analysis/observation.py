"""The observation model: how each published figure is compared with a simulated series.

Every row of ``progress_reported.csv`` (:func:`sim.datasets.progress_records`) becomes a
:class:`Figure` carrying an explicit rule, chosen by its ``kind`` and ``scope``:

===============================  ================================================================
kind                             rule
===============================  ================================================================
``reported``                     *interval*: the figure was rounded (press figures are given in 万
                                 with one decimal at most), so the true count lies within half a
                                 rounding unit: ``[value - unit/2, value + unit/2]``, ``unit`` =
                                 the largest of 10,000 / 1,000 / 100 / 10 / 1 that divides it.
``reported lower bound``         *lower bound* (censored): "more than value", ``[value, inf)``.
``reported (repeat)``            *no evidence*: an earlier figure said again; shown hollow, kept
                                 as the lower bound ``[value, inf)`` a cumulative tally implies.
``reported headline (likely      *no evidence*: the same as a repeat (an old headline reused).
stale)``
``reported (date approximate)``  *interval* over a *date window*: the month is not known, so the
                                 distance is the smallest over the window's months and the
                                 likelihood their average (a uniform prior on the date).
``not reported``                 *unknown*: nothing published (an estimand, not evidence).
``target``                       *target*: a goal, not evidence.
===============================  ================================================================

Definitions that differ from the model's count are stated rules too (:data:`SCOPE_RULES`):

* "approximate" figures (the end-2020 ones, reported months later) get a relative half-width of
  :data:`APPROXIMATE_HALF_WIDTH` instead of half a rounding unit (ASSUMPTION).
* A count that "may not be limited to above-scale firms" is a superset of the model's
  above-scale count, so it bounds it from above only: ``[0, value + unit/2]``.
* "SMEs 上云用云" and "上云上平台" wording: ASSUMPTION, the model's cloud and transformation counts
  *are* these programme tallies (the model's initial state is set from the same figures), so no
  adjustment is made; the above-scale firms on the cloud that an SMEs-only tally leaves out are
  under ~5% of the count (about 33,000 of 625,000 at the default 50% above-scale cloud share).
* Indicators the model does not simulate (platform counts, annual flows, a combined "technical
  upgrading and digital transformation" flow, the national SME cloud rate) are *not comparable*.
* What was counted (an option, :func:`recount`; default ``above_scale``, the rules above):
  ``with_sme_programmes`` reads the transformed tallies from 2024 on (44,000 in 2025, "more than
  50,000" at end-2025) as possibly including up to :data:`SME_PROGRAMME_FIRMS` SMEs transformed by
  the SME pilot-city programmes, so the model's above-scale count may lie that much below them.

Two comparisons follow from the rule; calibration, plots and backtests all use them:

* :func:`distance`: relative distance of the simulated value from the figure's interval, 0 inside
  it (so an ABC tolerance of 0 means "within the precision of the data"), the smallest over the
  date window. :func:`total_distance` is the largest over the figures used as evidence.
* :func:`log_likelihood`: log probability of the published interval when the tally has a
  Gaussian counting error of relative s.d. :data:`REPORTING_REL_SD` around the simulated value
  (ASSUMPTION), averaged over the date window.

Forecast scores (:func:`interval_score`, :func:`covers`, :func:`median_error`) treat an interval
figure as the set it stands for and a lower bound as censored: an interval forecast is penalised
only for the part of the figure's set it misses.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy.special import log_ndtr

from sim import datasets

INDICATOR_METRIC: dict[str, str] = {
    "cloud_enterprises_cumulative": "cloud_cumulative",
    "above_scale_transformed_cumulative": "transformed",
}
"""Published indicator -> model metric (:data:`sim.core.run_output.METRICS`); others are not simulated."""

REPORTING_REL_SD = 0.01
"""ASSUMPTION: relative s.d. of the counting error of a programme tally (smooths the interval
edges in :func:`log_likelihood`; no published figure says how precise the tallies are)."""

APPROXIMATE_HALF_WIDTH = 0.05
"""ASSUMPTION: relative half-width of a figure its source calls "approximate" (the end-2020
figures, reported in 2021-04, progress_reported.csv rows 1-2)."""

DATE_WINDOW_MONTHS = (-3, 5)
"""ASSUMPTION: months before / after the stated date that a ``reported (date approximate)``
figure may refer to (row 17: an undated 2025 feature, "probably mid or late 2025")."""

SME_PROGRAMME_FIRMS = 7_000
"""ASSUMPTION (what was counted, option ``with_sme_programmes``): the most SMEs a transformed tally
from 2024 on may include besides above-scale firms: "more than 4,000 SMEs 数字化改造 by end-2025" in
the provincial SME pilot cities (policy_instruments.csv, provincial_sme_pilot_cities 2023-2025)
plus about 500 per national SME pilot city (the eastern per-city target) x 6 Guangdong cities
(policy_instruments.csv, national_sme_pilot_cities 2023-2025, second row, low confidence)."""

COUNTED: tuple[str, ...] = ("above_scale", "with_sme_programmes")
"""What the transformed tallies count (:func:`recount`)."""

COUNTED_FROM = "2024-01"
"""First month of a figure that ``with_sme_programmes`` reads as possibly including SMEs (the
provincial and national SME pilot-city programmes ran from 2023; their first results were reported
in 2024: policy_instruments.csv)."""

RULES = ("interval", "lower_bound", "no_evidence", "unknown", "target", "not_comparable")

KIND_RULE: dict[str, str] = {
    "reported": "interval",
    "reported lower bound": "lower_bound",
    "reported (repeat)": "no_evidence",
    "reported headline (likely stale)": "no_evidence",
    "reported (date approximate)": "interval",
    "not reported": "unknown",
    "target": "target",
}
"""Rule of each ``kind`` of ``progress_reported.csv`` (an unknown kind is an error)."""

SCOPE_RULES: dict[str, str] = {
    "approximate": f"approximate figure: +-{APPROXIMATE_HALF_WIDTH:.0%} (ASSUMPTION)",
    "may not be limited to above-scale": "broader scope than above-scale firms: an upper bound on the model's count",
}
"""Phrases of ``scope`` that change the interval, and what they do."""


@dataclass(frozen=True)
class Figure:
    """A published figure and the rule that compares a simulated series with it.

    Attributes:
        row: Data row of ``progress_reported.csv`` (1 = first row after the header).
        date: Stated date (YYYY-MM-DD).
        indicator: Published indicator.
        kind: Published kind.
        value: Published number (None: nothing published).
        metric: Model metric compared (None: not simulated).
        rule: One of :data:`RULES`.
        lower: Lowest model value consistent with the figure (-inf: none).
        upper: Highest model value consistent with the figure (inf: a lower bound).
        first_month: First month (YYYY-MM) the figure may refer to.
        last_month: Last month it may refer to.
        why: The rule in words (for tables and plots).
        source: The publication.
    """

    row: int
    date: str
    indicator: str
    kind: str
    value: float | None
    metric: str | None
    rule: str
    lower: float
    upper: float
    first_month: str
    last_month: str
    why: str
    source: str

    @property
    def is_evidence(self) -> bool:
        """True if the figure constrains the model (interval or lower bound of a simulated metric)."""
        return self.metric is not None and self.rule in ("interval", "lower_bound")

    @property
    def label(self) -> str:
        """Short name, e.g. ``transformed 2025-12 >50,000``."""
        v = "" if self.value is None else f"{'>' if self.rule == 'lower_bound' else ''}{self.value:,.0f}"
        what = self.metric or self.indicator
        return f"{what} {self.date[:7]} {v}".strip()

    @property
    def marker(self) -> str:
        """How plots draw it: ``exact``, ``lower_bound``, ``stale``, ``date_window`` or ``none``."""
        if self.rule == "no_evidence":
            return "stale"
        if self.rule == "lower_bound":
            return "lower_bound"
        if self.rule == "interval":
            return "date_window" if self.first_month != self.last_month else "exact"
        return "none"


# --------------------------------------------------------------------------- rules


def rounding_unit(value: float) -> float:
    """Rounding unit of a published count: the largest of 10,000/1,000/100/10/1 dividing it.

    Press figures are given in 万 (10,000) with at most one decimal, so 550,000 (55万) is
    rounded to 10,000 and 625,000 (62.5万) to 1,000.
    """
    for unit in (10_000, 1_000, 100, 10):
        if value % unit == 0:
            return float(unit)
    return 1.0


def _shift_month(month: str, k: int) -> str:
    m = int(month[:4]) * 12 + int(month[5:7]) - 1 + k
    return f"{m // 12:04d}-{m % 12 + 1:02d}"


def rule_for(rec: datasets.ProgressRecord) -> Figure:
    """The :class:`Figure` of one row of ``progress_reported.csv``.

    Raises:
        ValueError: The row's ``kind`` is not one of :data:`KIND_RULE`.
    """
    if rec.kind not in KIND_RULE:
        raise ValueError(f"progress_reported.csv row {rec.row}: unknown kind {rec.kind!r}; "
                         f"known: {', '.join(KIND_RULE)}")
    rule = KIND_RULE[rec.kind]
    metric = INDICATOR_METRIC.get(rec.indicator)
    month = rec.date[:7]
    first, last = month, month
    lower, upper = -math.inf, math.inf
    why: list[str] = []
    if metric is None and rule not in ("target",):
        rule = "not_comparable"
        why.append(f"{rec.indicator} is not simulated")
    v = rec.value
    if rule == "interval" and v is not None:
        unit = rounding_unit(v)
        lower, upper = v - unit / 2, v + unit / 2
        why.append(f"rounded to {unit:,.0f}")
        if "approximate" in rec.scope:
            lower, upper = v * (1 - APPROXIMATE_HALF_WIDTH), v * (1 + APPROXIMATE_HALF_WIDTH)
            why.append(SCOPE_RULES["approximate"])
        if rec.kind == "reported (date approximate)":
            first, last = (_shift_month(month, k) for k in DATE_WINDOW_MONTHS)
            why.append(f"date unknown within {first}..{last} (ASSUMPTION)")
        if "may not be limited to above-scale" in rec.scope:
            lower = 0.0
            why.append(SCOPE_RULES["may not be limited to above-scale"])
    elif rule == "lower_bound" and v is not None:
        lower = v
        why.append("'more than': censored lower bound")
    elif rule == "no_evidence" and v is not None:
        lower = v
        why.append("an earlier figure said again: no evidence beyond the cumulative lower bound")
    elif rule == "unknown":
        why.append("nothing published")
    elif rule == "target":
        why.append("a goal, not evidence")
    return Figure(row=rec.row, date=rec.date, indicator=rec.indicator, kind=rec.kind, value=v,
                  metric=metric, rule=rule, lower=lower, upper=upper, first_month=first,
                  last_month=last, why="; ".join(why), source=rec.source)


def figures() -> tuple[Figure, ...]:
    """Every row of ``progress_reported.csv`` with its rule, in file order."""
    return tuple(rule_for(r) for r in datasets.progress_records())


def recount(figs: Iterable[Figure], counted: str = "above_scale") -> tuple[Figure, ...]:
    """The figures under a reading of what was counted (:data:`COUNTED`).

    ``above_scale``: unchanged. ``with_sme_programmes``: a transformed figure whose window starts
    at or after :data:`COUNTED_FROM` gets its lower end lowered by :data:`SME_PROGRAMME_FIRMS`
    (the tally may include that many SMEs the model does not count as above-scale).

    Raises:
        ValueError: ``counted`` is not one of :data:`COUNTED`.
    """
    if counted not in COUNTED:
        raise ValueError(f"unknown reading of what was counted {counted!r}; known: {', '.join(COUNTED)}")
    out = []
    for f in figs:
        if (counted == "with_sme_programmes" and f.metric == "transformed" and f.first_month >= COUNTED_FROM
                and f.rule in ("interval", "lower_bound")):
            f = replace(f, lower=max(f.lower - SME_PROGRAMME_FIRMS, 0.0),
                        why=f"{f.why}; may include up to {SME_PROGRAMME_FIRMS:,} SMEs of the SME pilot-city "
                            "programmes (ASSUMPTION)")
        out.append(f)
    return tuple(out)


def evidence(after: str | None = None, until: str | None = None,
             published_by: str | None = None, counted: str = "above_scale") -> tuple[Figure, ...]:
    """The figures that constrain a run (:attr:`Figure.is_evidence`), optionally restricted.

    Args:
        after: Keep figures whose window ends after this month (YYYY-MM): a figure at or before
            a run's start is its initial state, not evidence.
        until: Keep figures whose window starts no later than this month (the run's end).
        published_by: Keep figures whose stated date is at or before this month (a backtest
            origin: what was known then).
        counted: What the transformed tallies count (:func:`recount`).
    """
    out = []
    for f in figures():
        if not f.is_evidence:
            continue
        if after is not None and f.last_month <= after:
            continue
        if until is not None and f.first_month > until:
            continue
        if published_by is not None and f.date[:7] > published_by:
            continue
        out.append(f)
    return recount(out, counted)


# --------------------------------------------------------------------------- comparisons


def window_index(fig: Figure, dates: Sequence[str]) -> np.ndarray:
    """Indices of ``dates`` (month-end ISO dates of a run) inside the figure's date window."""
    months = np.array([d[:7] for d in dates])
    return np.flatnonzero((months >= fig.first_month) & (months <= fig.last_month))


def _window_values(fig: Figure, dates: Sequence[str], values: np.ndarray) -> np.ndarray:
    idx = window_index(fig, dates)
    if idx.size == 0:
        raise ValueError(f"{fig.label}: its months {fig.first_month}..{fig.last_month} are not simulated "
                         f"({dates[0][:7]}..{dates[-1][:7]})")
    return np.asarray(values, dtype=float)[..., idx]


def outside(fig: Figure, x: np.ndarray | float) -> np.ndarray:
    """Signed distance of ``x`` from the figure's interval (negative below, positive above, 0 inside)."""
    x = np.asarray(x, dtype=float)
    return np.where(x < fig.lower, x - fig.lower, np.where(x > fig.upper, x - fig.upper, 0.0))


def distance(fig: Figure, dates: Sequence[str], values: np.ndarray) -> np.ndarray:
    """Relative distance of simulated series from the figure: 0 within its interval.

    Args:
        fig: The figure.
        dates: Month-end dates of the series.
        values: Simulated values at full scale, shape ``(..., len(dates))``.

    Returns:
        ``|outside| / value``, the smallest over the figure's date window; shape ``values.shape[:-1]``.
    """
    w = _window_values(fig, dates, values)
    return (np.abs(outside(fig, w)) / float(fig.value)).min(axis=-1)  # type: ignore[arg-type]


def total_distance(figs: Iterable[Figure], dates: Sequence[str], series: dict[str, np.ndarray]) -> np.ndarray:
    """The largest :func:`distance` over ``figs`` (each compared with ``series[fig.metric]``)."""
    ds = [distance(f, dates, series[f.metric]) for f in figs]  # type: ignore[index]
    if not ds:
        raise ValueError("no figure to compare with")
    return np.max(np.stack(ds), axis=0)


def _interval_log_prob(x: np.ndarray, lower: float, upper: float, sd: float) -> np.ndarray:
    """log P(lower <= x + e <= upper), e ~ N(0, sd), computed on the accurate tail."""
    if math.isinf(upper):
        return log_ndtr((x - lower) / sd)
    if math.isinf(lower):
        return log_ndtr((upper - x) / sd)
    # log(Phi(a) - Phi(b)) with a > b taken on the side where both are small (no cancellation).
    below = x <= (lower + upper) / 2
    a = np.where(below, (x - lower) / sd, (upper - x) / sd)
    b = np.where(below, (x - upper) / sd, (lower - x) / sd)
    la, lb = log_ndtr(a), log_ndtr(b)
    return la + np.log1p(-np.exp(lb - la))


def log_likelihood(fig: Figure, dates: Sequence[str], values: np.ndarray,
                   rel_sd: float = REPORTING_REL_SD) -> np.ndarray:
    """Log probability of the published figure given simulated series.

    The tally is the simulated value plus a Gaussian counting error of s.d. ``rel_sd * value``;
    the figure is the event "tally within ``[lower, upper]``"; over a date window the months are
    equally likely.

    Returns:
        Shape ``values.shape[:-1]``.
    """
    w = _window_values(fig, dates, values)
    lp = _interval_log_prob(w, fig.lower, fig.upper, rel_sd * float(fig.value))  # type: ignore[arg-type]
    top = lp.max(axis=-1, keepdims=True)
    return (top + np.log(np.exp(lp - top).mean(axis=-1, keepdims=True)))[..., 0]


def point_month(fig: Figure) -> str:
    """The month a point forecast of the figure is read at (the middle of its window)."""
    a = int(fig.first_month[:4]) * 12 + int(fig.first_month[5:7]) - 1
    b = int(fig.last_month[:4]) * 12 + int(fig.last_month[5:7]) - 1
    m = (a + b) // 2
    return f"{m // 12:04d}-{m % 12 + 1:02d}"


def median_error(fig: Figure, median: float) -> float:
    """Relative error of a median forecast: its distance from the figure's set, signed.

    0 inside the interval (or above a lower bound); negative when the forecast is too low.
    """
    return float(outside(fig, median)) / float(fig.value)  # type: ignore[arg-type]


def covers(fig: Figure, lo: float, hi: float) -> bool:
    """True if the forecast interval ``[lo, hi]`` meets the figure's set ``[lower, upper]``."""
    return bool(hi >= fig.lower and lo <= fig.upper)


def interval_score(fig: Figure, lo: float, hi: float, alpha: float) -> float:
    """Interval score of a central ``1 - alpha`` forecast interval, censored by the figure's rule.

    ``(hi - lo) + 2/alpha * (gap below + gap above)``, where the gaps are the parts of the
    figure's set the interval misses: for an exact point this is the usual score (Gneiting and
    Raftery 2007); a lower bound only penalises an interval lying wholly below it.
    """
    below = max(fig.lower - hi, 0.0)
    above = max(lo - fig.upper, 0.0)
    return float((hi - lo) + 2.0 / alpha * (below + above))
