"""Rolling-origin backtest: calibrate on what was published by an origin, forecast what came later.

For each origin (default 2021-12, 2023-09, 2025-06) :func:`backtest` runs a history match
(:func:`sim.analysis.history_match.history_match`) on the figures *stated by the origin* only,
and reads the forecast of every later figure off the posterior predictive series (the final
particles' runs continue to 2025-12). The scenario's policies are those actually implemented
(the backtest is conditional on the policy path, which a forecaster at the origin did not know
for sure; say so when quoting it).

Every later figure used as evidence (interval or lower bound, :mod:`sim.analysis.observation`) is
scored by the same rules as the calibration uses:

* ``median_error``: relative miss of the median beyond the figure's set (0 inside it; a lower
  bound only counts misses below it);
* ``covered50`` / ``covered90``: the central 50% / 90% interval meets the figure's set;
* ``is50`` / ``is90``: interval scores of those intervals, censored (:func:`observation.interval_score`),
  also divided by the figure's value (``is90_rel``) so that indicators can be averaged;
* ``crps``: the continuous ranked probability score of the weighted predictive draws
  (:func:`crps_set`), also relative to the figure's value (``crps_rel``).

The same targets are forecast by three naive methods from the same published figures:
``last_growth`` (the last published relative growth continued, compounding), ``linear_trend``
(a straight line through the last two figures) and ``bass`` (a Bass curve fitted to the same
figures). Naive methods give a point only: they are scored as degenerate intervals (width 0,
full penalty for a miss) and "covered" means the point lies in the figure's set.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

from sim.analysis import observation
from sim.analysis.abc import weighted_quantile
from sim.analysis.history_match import MatchResult, history_match
from sim.scenario.schema import Scenario

ORIGINS: tuple[str, ...] = ("2021-12", "2023-09", "2025-06")
"""Default forecast origins (issue 12)."""

NAIVE_METHODS: tuple[str, ...] = ("last_growth", "linear_trend", "bass")

BASS_PRIOR = (0.03, 0.38)
"""Weak pull of a Bass fit toward the average innovation / imitation coefficients p, q per
year of the meta-analysis of Sultan, Farley and Lehmann (1990, J. Marketing Research 27:70):
two to four published points cannot identify three Bass parameters on their own."""

CEILING = {"cloud_cumulative": 2_750_000.0, "transformed": 74_611.0}
"""Largest market potential of a Bass fit: the firms that can adopt (2.75 M firms by 2025-12,
schema population growth; 74,611 above-scale firms at end-2025, schema above_scale_year_end)."""


def crps_set(draws: np.ndarray, weights: np.ndarray, lower: float, upper: float) -> float:
    """Sample CRPS of weighted draws against a figure that stands for the set ``[lower, upper]``.

    ``CRPS(F, y) = E|X - y| - E|X - X'| / 2`` (Gneiting and Raftery 2007, eq. 20) with the
    draws' weights; the figure only says that the true count lies in its set, so the score is
    the smallest over that set, reached at the weighted median projected onto it (``E|X - y|`` is
    convex in ``y`` with its minimum at the median). For an exact point it is the usual CRPS; for
    one point forecast it is the distance from the set; a lower bound is censored like the interval
    score.
    """
    x = np.asarray(draws, float)
    w = np.asarray(weights, float) / np.sum(weights)
    y = float(np.clip(weighted_quantile(x, w, [0.5])[0], lower, upper))
    spread = float(w @ np.abs(x[:, None] - x[None, :]) @ w)
    return float(w @ np.abs(x - y)) - 0.5 * spread


def _month(m: str) -> int:
    return int(m[:4]) * 12 + int(m[5:7]) - 1


def published_points(metric: str, origin: str) -> list[tuple[int, float]]:
    """(month number, value) of the figures of ``metric`` stated by ``origin`` that a naive
    forecaster would use (exact figures and lower bounds at their stated month), sorted."""
    pts = {}
    for f in observation.figures():
        if f.metric == metric and f.rule in ("interval", "lower_bound") and f.date[:7] <= origin:
            pts[_month(f.date[:7])] = float(f.value)  # type: ignore[arg-type]
    return sorted(pts.items())


def naive_forecast(method: str, points: Sequence[tuple[int, float]], month: int, metric: str) -> float:
    """Point forecast of a naive method at ``month`` from published ``points`` (see module doc)."""
    (m0, v0), (m1, v1) = points[-2], points[-1]
    h = month - m1
    if method == "last_growth":
        return v1 * (v1 / v0) ** (h / (m1 - m0))
    if method == "linear_trend":
        return v1 + (v1 - v0) / (m1 - m0) * h
    if method == "bass":
        return bass_fit(points, metric)(month)
    raise ValueError(f"unknown naive method {method!r}; known: {', '.join(NAIVE_METHODS)}")


def bass_path(n0: float, p: float, q: float, m: float, years: np.ndarray) -> np.ndarray:
    """Bass cumulative adopters from ``n0`` at time 0 (closed form of dN/dt = (p + qN/m)(m - N))."""
    f0 = n0 / m
    # F(t) solves the logistic-type Riccati equation; shift time so that F(s0) = f0.
    s0 = np.log((1 + q / p * f0) / (1 - f0)) / (p + q)
    s = years + s0
    e = np.exp(-(p + q) * s)
    return m * (1 - e) / (1 + q / p * e)


def bass_fit(points: Sequence[tuple[int, float]], metric: str):
    """A Bass curve through published points (least squares on relative errors, weak prior)."""
    months = np.array([p[0] for p in points], float)
    vals = np.array([p[1] for p in points], float)
    years = (months - months[0]) / 12.0
    lo_m, hi_m = vals.max() * 1.01, CEILING[metric]

    def unpack(x: np.ndarray) -> tuple[float, float, float]:
        p, q = np.exp(x[0]), np.exp(x[1])
        m = lo_m + (hi_m - lo_m) / (1 + np.exp(-x[2]))
        return p, q, m

    def resid(x: np.ndarray) -> np.ndarray:
        p, q, m = unpack(x)
        fit = bass_path(vals[0], p, q, m, years)
        prior = 0.1 * np.array([x[0] - np.log(BASS_PRIOR[0]), x[1] - np.log(BASS_PRIOR[1])])
        return np.concatenate([(fit[1:] - vals[1:]) / vals[1:], prior])

    x = least_squares(resid, np.array([np.log(BASS_PRIOR[0]), np.log(BASS_PRIOR[1]), 0.0])).x
    p, q, m = unpack(x)

    def at(month: int) -> float:
        return float(bass_path(vals[0], p, q, m, np.array([(month - months[0]) / 12.0]))[0])

    return at


@dataclass
class OriginResult:
    """The history match at one origin and the scores of its forecasts."""

    origin: str
    match: MatchResult
    scores: pd.DataFrame


def later_figures(origin: str, end: str = "2025-12", counted: str = "above_scale") -> list[observation.Figure]:
    """Figures used as evidence that were stated after ``origin`` (the forecast targets), read as
    ``counted`` (:func:`sim.analysis.observation.recount`)."""
    return [f for f in observation.evidence(until=end, counted=counted) if f.date[:7] > origin]


def score_origin(origin: str, match: MatchResult) -> pd.DataFrame:
    """Score the posterior predictive and the naive forecasts of every later figure."""
    rows = []
    months = [d[:7] for d in match.dates]
    w = match.abc.weights
    for f in later_figures(origin, months[-1], match.counted):
        pm = observation.point_month(f)
        x = match.series(f.metric)[:, months.index(pm)]  # type: ignore[arg-type]
        q = weighted_quantile(x, w, [0.05, 0.25, 0.5, 0.75, 0.95])
        rows.append(_score_row(origin, "model", f, q, crps_set(x, w, f.lower, f.upper)))
        pts = published_points(f.metric, origin)  # type: ignore[arg-type]
        for method in NAIVE_METHODS:
            v = naive_forecast(method, pts, _month(pm), f.metric)  # type: ignore[arg-type]
            rows.append(_score_row(origin, method, f, np.full(5, v), crps_set(np.array([v]), np.ones(1),
                                                                               f.lower, f.upper)))
    return pd.DataFrame(rows)


def _score_row(origin: str, method: str, f: observation.Figure, q: np.ndarray, crps: float) -> dict:
    value = float(f.value)  # type: ignore[arg-type]
    is90 = observation.interval_score(f, q[0], q[4], 0.1)
    return {"origin": origin, "method": method, "row": f.row, "figure": f.label, "metric": f.metric,
            "date": f.date, "rule": f.rule, "lower": f.lower, "upper": f.upper,
            "p05": q[0], "p25": q[1], "median": q[2], "p75": q[3], "p95": q[4],
            "median_error": observation.median_error(f, q[2]),
            "covered50": observation.covers(f, q[1], q[3]), "covered90": observation.covers(f, q[0], q[4]),
            "is50": observation.interval_score(f, q[1], q[3], 0.5), "is90": is90, "is90_rel": is90 / value,
            "crps": crps, "crps_rel": crps / value}


def summary(scores: pd.DataFrame) -> pd.DataFrame:
    """Per origin and method: targets, mean |median error|, coverage of the 50%/90% intervals,
    mean relative 90% interval score, mean relative CRPS."""
    g = scores.assign(abs_err=scores["median_error"].abs()).groupby(["origin", "method"], sort=False)
    return g.agg(targets=("row", "size"), mean_abs_median_error=("abs_err", "mean"),
                 coverage50=("covered50", "mean"), coverage90=("covered90", "mean"),
                 mean_is90_rel=("is90_rel", "mean"), mean_crps_rel=("crps_rel", "mean")).reset_index()


def backtest(base: Scenario, *, origins: Sequence[str] = ORIGINS, **match_kw) -> list[OriginResult]:
    """History match at each origin on the figures stated by then, and score the later ones.

    Args:
        base: The scenario of the policies actually implemented.
        origins: Forecast origins (YYYY-MM).
        **match_kw: Settings of :func:`sim.analysis.history_match.history_match` (population,
            particles, budget, seed, overrides, executor, start).
    """
    out = []
    for origin in origins:
        match = history_match(base, published_by=origin, **match_kw)
        out.append(OriginResult(origin, match, score_origin(origin, match)))
    return out
