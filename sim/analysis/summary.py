"""Reduce tidy time series over replicates: bands, goal outcomes, the summary table, comparisons.

Everything here is a pure function of tidy tables built by :mod:`sim.core.outputs` (one or many
replicates stacked, column ``replicate``). Replicate ``r`` of every scenario uses the same seeds
(child ``r`` of the root seed), so differences between scenarios are taken replicate by
replicate (common random numbers, :func:`paired_differences`).

Goals of a scenario are given for the full 2,000,000-firm population; a smaller demo population
keeps proportions, so :func:`summarize` compares it with the goals at its scale by the one rule
of :mod:`sim.analysis.outcomes`.

Long function: :func:`summarize` (about 80 lines, 30 of them its docstring) adds the rows of
``summary.csv`` one by one in their order, so the table reads as the code.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from sim import i18n
from sim.analysis.goal_list import goal_label, listed_goal_outcomes
from sim.analysis.outcomes import goal_date, goal_outcomes, scaled_goals
from sim.core.outputs import METRIC_COLUMNS, select
from sim.core.population import population_scale
from sim.scenario.schema import GOAL_RATES, Goals, Scenario

Z95 = 1.959963984540054
"""Two-sided 95% normal quantile."""

SUMMARY_COLUMNS: list[str] = [
    "scenario", "outcome", "outcome_name", "unit", "median", "p10", "p90", "mean", "mc_se", "n_replicates", "note",
    "median_month", "p10_month", "p90_month",
]
"""Columns of :func:`summarize` (``summary.csv``). ``outcome`` is the identifier code reads,
``outcome_name`` its human name in the run's language (``outputs.lang``, like ``note``). The
statistic columns hold numbers only; the
first-met month of a goal is in the ``*_month`` columns (ISO month-end date, empty if not reached
by the goal month)."""

SUMMARY_DECIMALS: dict[str, int] = {"firms": 1, "CNY": 0, "probability": 4, "share": 4}
"""Decimals kept in ``summary.csv`` per unit: statistics of whole firms to a tenth (a median of
an even count of replicates or a percentile falls between two counts), money to the yuan, a
probability to 0.01 percentage point (finer than its Monte Carlo error)."""

BAND_STATS: list[str] = ["median", "p10", "p90", "mean", "mean_ci_low", "mean_ci_high", "n_replicates"]
"""Statistic columns of :func:`bands`."""

PAIRED_OUTCOMES: list[str] = [
    "cloud_firms", "transformed_firms", "cloud_goal_met", "transformed_goal_met",
    "voucher_spend_total_cny",
]
"""Per-replicate goal outcomes compared by :func:`paired_differences`."""

PAIRED_COLUMNS: list[str] = [
    "scenario", "reference", "outcome", "median", "p10", "p90", "mean", "ci_low", "ci_high",
    "n_pairs", "sentence",
]
"""Columns of :func:`paired_differences`."""

N_PRECISE = 30
"""Below this many replicates the summary notes that Monte Carlo precision is limited."""

N_TOP_GAPS = 5
"""Largest cluster and city gaps listed in the summary."""


# --------------------------------------------------------------------------- bands


def bands(ts: pd.DataFrame, metrics: Sequence[str] | None = None,
          by: Sequence[str] = ("date", "cluster", "city", "size_class")) -> pd.DataFrame:
    """Spread over replicates of each metric, per group.

    Args:
        ts: Tidy time series of one or more replicates (any extra numeric column, e.g. a share,
            can be listed in ``metrics``).
        metrics: Columns to summarise; default every metric of :data:`sim.core.outputs.METRIC_COLUMNS`
            present in ``ts``.
        by: Grouping columns (one value per replicate in each group is expected).

    Returns:
        Long table with the ``by`` columns, ``metric`` and :data:`BAND_STATS`: median, 10th and
        90th percentiles (linear interpolation), mean, the 95% normal-approximation confidence
        interval of the mean (NaN with one replicate), and the number of replicates. Groups
        keep their order of first appearance in ``ts``; metrics keep the given order.
    """
    by = list(by)
    if metrics is None:
        metrics = [m for m in METRIC_COLUMNS if m in ts.columns]
    metrics = list(metrics)
    missing = [c for c in by + metrics if c not in ts.columns]
    if missing:
        raise ValueError(f"columns {missing} not in the time series")
    g = ts.groupby(by, sort=False, dropna=False)[metrics]
    n = g.count()
    mean = g.mean()
    half = Z95 * g.std(ddof=1) / np.sqrt(n)
    stats = {
        "median": g.median(), "p10": g.quantile(0.1), "p90": g.quantile(0.9), "mean": mean,
        "mean_ci_low": mean - half, "mean_ci_high": mean + half, "n_replicates": n,
    }
    long = {}
    for name, frame in stats.items():
        frame = frame[metrics]
        frame.columns.name = "metric"
        long[name] = frame.stack()
    out = pd.concat(long, axis=1).reset_index()
    out["n_replicates"] = out["n_replicates"].astype(np.int64)
    return out[by + ["metric"] + BAND_STATS]


# --------------------------------------------------------------------------- goal outcomes


def group_gaps(ts: pd.DataFrame, goals: Goals, level: str = "cluster") -> pd.DataFrame:
    """Each group's shortfall against a proportional share of the cloud goal.

    The proportional share of group ``g`` is ``goal x n_firms_g / n_firms_total`` at the goal
    date; the gap is that share minus the group's cumulative cloud firms (positive = short).

    Args:
        ts: Tidy time series with the marginal rows of ``level``.
        goals: Goals (the cloud goal is used).
        level: ``"cluster"``, ``"city"`` or ``"size_class"``.

    Returns:
        One row per (replicate, group) in the table's group order, columns replicate, group,
        n_firms, share, cloud_cumulative, proportional_goal, gap.
    """
    if level not in ("cluster", "city", "size_class"):
        raise ValueError(f"unknown level {level!r}; allowed: cluster, city, size_class")
    prov = select(ts, "province")
    gdate = goal_date(prov, goals)
    rows = select(ts, level)
    rows = rows[rows["date"] == gdate]
    if rows.empty:
        raise ValueError(f"the time series has no {level} rows")
    total = prov[prov["date"] == gdate].set_index("replicate")["n_firms"]
    share = rows["n_firms"].to_numpy() / total.loc[rows["replicate"]].to_numpy()
    proportional = goals.cloud_firms * share
    return pd.DataFrame({
        "replicate": rows["replicate"].to_numpy(dtype=np.int64),
        "group": rows[level].to_numpy(dtype=object),
        "n_firms": rows["n_firms"].to_numpy(),
        "share": share,
        "cloud_cumulative": rows["cloud_cumulative"].to_numpy(),
        "proportional_goal": proportional,
        "gap": proportional - rows["cloud_cumulative"].to_numpy(),
    })


# --------------------------------------------------------------------------- summary table


def describe(x: np.ndarray) -> dict[str, float]:
    """Median, 10% and 90% quantiles (NumPy's linear), mean and Monte Carlo standard error of replicate values."""
    x = np.asarray(x, dtype=np.float64)
    n = x.size
    return {
        "median": float(np.median(x)), "p10": float(np.quantile(x, 0.1)),
        "p90": float(np.quantile(x, 0.9)), "mean": float(x.mean()),
        "mc_se": float(x.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan,
    }


def _month_stats(first: pd.Series, goal_month: str) -> dict[str, object]:
    """Median, p10, p90 of first-met dates; never-met replicates count as later than any month.

    Quantiles take the later of two middle observations (``method="higher"``), so the median is
    a date only when more than half of the replicates met the goal. Results go to the
    ``<stat>_month`` keys (ISO date, or ``""`` if not reached by the goal month).
    """
    keys = np.array([np.inf if v is None or (isinstance(v, float) and math.isnan(v))
                     else pd.Timestamp(v).value for v in first], dtype=np.float64)
    out: dict[str, object] = {}
    for name, q in (("median", 0.5), ("p10", 0.1), ("p90", 0.9)):
        k = float(np.quantile(keys, q, method="higher"))
        out[f"{name}_month"] = "" if math.isinf(k) else pd.Timestamp(int(k)).strftime("%Y-%m-%d")
    return out


def _probability_row(met: np.ndarray, lang: str = "en") -> tuple[float, float, str]:
    n = met.size
    p = float(np.mean(met))
    se = math.sqrt(p * (1.0 - p) / n)
    notes = [i18n.text("note.p_share", lang, n=n)]
    if p in (0.0, 1.0):
        bound = i18n.text("note.p_bound", lang, x=f"{3.0 / n:.2g}") if n > 3 else ""
        notes.append(i18n.text("note.p_none" if p == 0.0 else "note.p_every", lang, bound=bound))
    if n < N_PRECISE:
        notes.append(i18n.text("note.p_few", lang, n=n, min=N_PRECISE))
    return p, se, i18n.text("note.sep", lang).join(notes)


def summarize(ts: pd.DataFrame, config: Scenario) -> pd.DataFrame:
    """The ``summary.csv`` table of one scenario: one row per outcome, statistics over replicates.

    Outcomes (``<year>`` is the goal year, 2025 by default):

    * ``cloud_firms_<year>``, ``transformed_firms_<year>``: cumulative cloud firms and transformed
      above-scale firms at the end of the goal month;
    * ``cloud_gap``, ``transformed_gap``: goal minus value (positive = short of the goal);
    * ``p_meet_cloud_goal``, ``p_meet_transformed_goal``: share of replicates meeting the goal at
      the goal date (in ``mean``), with its Monte Carlo standard error in ``mc_se``;
    * ``month_cloud_goal_met``, ``month_transformed_goal_met``: month end at which the goal is
      first reached (in ``median_month``, ``p10_month``, ``p90_month``); a replicate that never
      reaches it counts as later than any month, so the median month is empty unless more than
      half of the replicates met it;
    * ``voucher_spend_total_cny``: voucher money granted from the start to the goal date;
    * ``cluster_gap:<cluster_id>`` and ``city_gap:<city>``: the five largest (by median)
      shortfalls of a group's cloud firms versus its proportional share of the goal
      (:func:`group_gaps`).

    Goals are scaled to the population (:func:`scaled_goals`).

    Args:
        ts: Tidy time series of all replicates of the scenario.
        config: The scenario (its name and goals are used).

    Returns:
        Long table with columns :data:`SUMMARY_COLUMNS`, rounded by :func:`round_summary`.
        The statistic columns are numbers only (NaN where they do not apply: quantiles of a
        probability, every statistic of a month outcome; the months are in ``*_month``, empty if
        not reached by the goal month); ``mc_se`` is the Monte
        Carlo standard error of ``mean`` (NaN for months and with one replicate).
    """
    goals = scaled_goals(config)
    go = goal_outcomes(ts, goals)
    n = len(go)
    year = goals.date[:4]
    s = population_scale(config)
    lang = config.outputs.lang  # the note column is written in the run's language
    scale_note = "" if s == 1.0 else i18n.text("note.scaled", lang, scale=f"{s:.4g}",
                                               firms=f"{config.population.total_firms:,}")
    gdate = go["goal_date"].iloc[0]
    rows: list[dict[str, object]] = []

    def add(outcome: str, unit: str, stats: Mapping[str, object], note: str) -> None:
        row = {"scenario": config.name, "outcome": outcome, "unit": unit, "median": math.nan,
               "p10": math.nan, "p90": math.nan, "mean": math.nan, "mc_se": math.nan,
               "n_replicates": n, "note": note, "median_month": "", "p10_month": "",
               "p90_month": ""}
        row.update(stats)
        rows.append(row)

    cloud_goal, transformed_goal = f"{goals.cloud_firms:,}", f"{goals.transformed_firms:,}"
    add(f"cloud_firms_{year}", "firms", describe(go["cloud_firms"]),
        i18n.text("note.cloud_firms", lang, date=gdate, goal=cloud_goal, scaled=scale_note))
    add(f"transformed_firms_{year}", "firms", describe(go["transformed_firms"]),
        i18n.text("note.transformed_firms", lang, date=gdate, goal=transformed_goal, scaled=scale_note))
    add("cloud_gap", "firms", describe(go["cloud_gap"]),
        i18n.text("note.cloud_gap", lang, goal=cloud_goal, date=gdate))
    add("transformed_gap", "firms", describe(go["transformed_gap"]),
        i18n.text("note.transformed_gap", lang, goal=transformed_goal, date=gdate))
    for key, label in (("cloud", "cloud"), ("transformed", "transformed")):
        p, se, note = _probability_row(go[f"{key}_goal_met"].to_numpy(dtype=bool), lang)
        add(f"p_meet_{label}_goal", "probability", {"mean": p, "mc_se": se}, note)
    for key in ("cloud", "transformed"):
        add(f"month_{key}_goal_met", "month end", _month_stats(go[f"{key}_goal_first_met"], goals.date),
            i18n.text("note.month_met", lang))
    add("voucher_spend_total_cny", "CNY", describe(go["voucher_spend_total_cny"]),
        i18n.text("note.voucher_spend", lang, date=gdate))
    for level, prefix in (("cluster", "cluster_gap"), ("city", "city_gap")):
        gg = group_gaps(ts, goals, level)
        med = gg.groupby("group", sort=False)["gap"].median()
        top = med.sort_values(ascending=False, kind="stable").index[:N_TOP_GAPS]
        for grp in top:
            sub = gg[gg["group"] == grp]
            share = float(sub["share"].median())
            add(f"{prefix}:{grp}", "firms", describe(sub["gap"]),
                i18n.text("note.group_gap", lang, level=i18n.text(f"level.{level}", lang), date=gdate,
                          share=f"{share:.1%}"))
    _add_listed_goals(ts, config, add, lang)
    out = pd.DataFrame(rows, columns=[c for c in SUMMARY_COLUMNS if c != "outcome_name"])
    out.insert(SUMMARY_COLUMNS.index("outcome_name"), "outcome_name",
               [i18n.outcome_name(o, lang) for o in out["outcome"]])
    out["n_replicates"] = out["n_replicates"].astype(np.int64)
    return round_summary(out)


def round_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Round the statistic columns of a summary table to :data:`SUMMARY_DECIMALS` of each row's
    unit (float noise such as ``14764.49651756334`` becomes ``14764.5``)."""
    out = table.copy()
    stats = ["median", "p10", "p90", "mean", "mc_se"]
    out[stats] = out[stats].astype(np.float64)
    for unit, decimals in SUMMARY_DECIMALS.items():
        rows = out["unit"] == unit
        out.loc[rows, stats] = out.loc[rows, stats].round(decimals)
    return out


def _add_listed_goals(ts: pd.DataFrame, config: Scenario, add, lang: str = "en") -> None:
    """Rows ``goal:<label>`` (simulated value) and ``p_meet:<label>`` for every goal of
    ``goals.more`` (:mod:`sim.analysis.goal_list`; the headline goals have their own rows)."""
    if not config.goals.more:
        return
    lo = listed_goal_outcomes(ts, config)
    for goal in config.goals.more:
        label = goal_label(goal)
        sub = lo[lo["goal"] == label]
        unit = "share" if goal.indicator in GOAL_RATES else "firms"
        indicator = goal.indicator if lang == "en" else i18n.indicator_name(goal.indicator, lang)
        where = i18n.text("note.more_goal", lang, indicator=indicator, date=goal.date, value=f"{goal.value:g}")
        scope = i18n.goal_scope(goal.scope, lang)
        if scope and (lang == "en" or scope != goal.scope):  # a scope with no translation: goals.csv has it
            where += i18n.text("note.more_scope", lang, scope=scope)
        if sub["value"].isna().all():
            add(f"goal:{label}", unit, {}, where + i18n.text("note.more_outside", lang))
            continue
        target = sub["target"].iloc[0]
        add(f"goal:{label}", unit, describe(sub["value"]),
            where + i18n.text("note.more_target", lang, target=f"{target:g}"))
        p, se, note = _probability_row(sub["met"].astype(bool).to_numpy(), lang)
        add(f"p_meet:{label}", "probability", {"mean": p, "mc_se": se}, note)


# --------------------------------------------------------------------------- comparisons


def _paired_frame(ts_by_scenario: Mapping[str, pd.DataFrame], reference: str,
                  goals: Goals | None) -> dict[str, pd.DataFrame]:
    if reference not in ts_by_scenario:
        raise ValueError(f"reference {reference!r} not among the scenarios {list(ts_by_scenario)}")
    goals = goals if goals is not None else Goals()
    return {name: goal_outcomes(ts, goals).set_index("replicate") for name, ts in ts_by_scenario.items()}


def _common(a: pd.DataFrame, b: pd.DataFrame, name: str, reference: str) -> pd.Index:
    common = a.index.intersection(b.index).sort_values()
    if common.empty:
        raise ValueError(f"scenarios {name!r} and {reference!r} share no replicate index, "
                         f"so they cannot be paired")
    return common


def _step(values: Sequence[float]) -> float:
    """Rounding step giving about two significant digits of the spread of ``values``."""
    v = np.asarray(values, dtype=np.float64)
    width = float(np.nanmax(v) - np.nanmin(v)) if v.size else 0.0
    ref = width if width > 0 else float(np.nanmax(np.abs(v))) if v.size else 0.0
    if not np.isfinite(ref) or ref < 10:
        return 1.0
    return 10.0 ** (math.floor(math.log10(ref)) - 1)


def _num(x: float, step: float) -> str:
    r = round(x / step) * step
    return f"{r:,.0f}".replace("-", "\u2212")


def _sentence(name: str, reference: str, outcome: str, st: Mapping[str, float],
              lang: str = "en") -> str:
    """The finding of one paired difference as a sentence in ``lang`` (:mod:`sim.i18n`): counts
    rounded to about two significant digits of their spread, money as a report writes it
    (``1.35 billion CNY`` / ``13.5亿元``), one minus sign."""
    med, lo, hi = st["median"], st["p10"], st["p90"]
    if outcome == "voucher_spend_total_cny":
        more = i18n.text("sent.more" if med >= 0 else "sent.less", lang)
        return i18n.text("sent.spend", lang, name=name, value=i18n.format_cny(abs(med), lang),
                         more=more, lo=i18n.format_cny(lo, lang), hi=i18n.format_cny(hi, lang),
                         reference=reference)
    if outcome in ("cloud_firms", "transformed_firms"):
        step = _step([med, lo, hi])
        what = i18n.text("sent.what_cloud" if outcome == "cloud_firms" else "sent.what_transformed", lang)
        verb = i18n.text("sent.verb_removes" if med < 0 else "sent.verb_adds", lang)
        return i18n.text("sent.adds", lang, name=name, verb=verb, value=_num(abs(med), step),
                         what=what, lo=_num(lo, step), hi=_num(hi, step), reference=reference)
    goal = i18n.text("goal.cloud" if outcome.startswith("cloud") else "goal.transformed", lang)
    if lang == "en":
        goal = "cloud goal" if outcome.startswith("cloud") else "transformation goal"
    mean, cl, ch = 100 * st["mean"], 100 * st["ci_low"], 100 * st["ci_high"]
    ci = "" if math.isnan(cl) else i18n.text("sent.ci", lang, lo=i18n.signed(cl), hi=i18n.signed(ch))
    if math.isnan(cl) and mean in (-100, 0, 100) and st.get("n_pairs", 0) > 1:
        # the same 0/1 difference in every pair: not a confidence interval (paired_differences)
        n = st["n_pairs"]
        ci = i18n.text("sent.no_interval", lang, n=n)
    if mean == 0 and (math.isnan(cl) or cl == ch):
        return i18n.text("sent.prob_same", lang, name=name, goal=goal, reference=reference)
    verb = i18n.text("sent.raises" if mean > 0 else "sent.lowers", lang)
    return i18n.text("sent.prob", lang, name=name, verb=verb, goal=goal, value=f"{abs(mean):.0f}",
                     ci=ci, reference=reference)


def paired_differences(ts_by_scenario: dict[str, pd.DataFrame], reference: str, *,
                       goals: Goals | None = None, lang: str = "en") -> pd.DataFrame:
    """Per-replicate differences of goal outcomes against a reference scenario.

    Replicate ``r`` of every scenario shares its seeds, so ``outcome(s, r) - outcome(ref, r)``
    removes most of the replicate noise (common random numbers).

    Args:
        ts_by_scenario: Tidy time series per scenario name (same population scale).
        reference: Name of the reference scenario.
        goals: Goals at the population's scale (default: the plan's goals); they matter for
            the ``*_goal_met`` outcomes only.
        lang: Language of the ``sentence`` column, ``"en"`` or ``"zh"``.

    Returns:
        One row per (other scenario, outcome of :data:`PAIRED_OUTCOMES`), columns
        :data:`PAIRED_COLUMNS`: median, 10th and 90th percentiles and mean of the paired
        differences, the 95% normal-approximation CI of the mean (NaN with one pair, and for a
        goal indicator whose paired difference is the same in every pair), the number
        of pairs, and a sentence. For ``*_goal_met`` the mean is the change in the probability of
        meeting the goal.

    Raises:
        ValueError: If ``reference`` is missing or a scenario shares no replicate with it.
    """
    outs = _paired_frame(ts_by_scenario, reference, goals)
    ref = outs[reference]
    rows = []
    for name, o in outs.items():
        if name == reference:
            continue
        common = _common(o, ref, name, reference)
        for outcome in PAIRED_OUTCOMES:
            d = (o.loc[common, outcome].astype(np.float64) - ref.loc[common, outcome].astype(np.float64)).to_numpy()
            st = describe(d)
            half = Z95 * st.pop("mc_se")
            lo, hi = st["mean"] - half, st["mean"] + half
            if outcome.endswith("_goal_met"):  # a change of probability lies in [-1, 1]
                lo, hi = max(lo, -1.0), min(hi, 1.0)
                if d.size > 1 and np.all(d == d[0]):
                    # Every pair differs by the same 0/±1: without parametric uncertainty the
                    # goal indicator barely varies between replicates, so a zero-width
                    # "interval" is an artefact, not a confidence interval.
                    lo = hi = math.nan
            st.update(ci_low=lo, ci_high=hi, n_pairs=int(d.size))
            rows.append({"scenario": name, "reference": reference, "outcome": outcome, **st,
                         "n_pairs": int(d.size),
                         "sentence": _sentence(i18n.scenario_title(name, lang), i18n.scenario_title(reference, lang),
                                               outcome, st, lang)})
    return _round_differences(pd.DataFrame(rows, columns=PAIRED_COLUMNS))


PAIRED_UNITS: dict[str, str] = {"cloud_firms": "firms", "transformed_firms": "firms",
                                "cloud_goal_met": "probability", "transformed_goal_met": "probability",
                                "voucher_spend_total_cny": "CNY"}
"""Unit of each paired outcome (:data:`PAIRED_OUTCOMES`), for rounding."""


def _round_differences(table: pd.DataFrame) -> pd.DataFrame:
    """Round the statistics of paired differences to :data:`SUMMARY_DECIMALS` of each outcome's
    unit (a CI bound such as ``-2585.723340797327`` becomes ``-2585.7``)."""
    stats = ["median", "p10", "p90", "mean", "ci_low", "ci_high"]
    table[stats] = table[stats].astype(np.float64)
    for outcome, unit in PAIRED_UNITS.items():
        rows = table["outcome"] == outcome
        table.loc[rows, stats] = table.loc[rows, stats].round(SUMMARY_DECIMALS[unit])
    return table


def unpaired_spread(ts_by_scenario: dict[str, pd.DataFrame], reference: str, *,
                    goals: Goals | None = None, outcome: str = "cloud_firms",
                    n_shuffles: int = 200, seed: int = 0) -> pd.DataFrame:
    """Spread of paired differences versus differences of randomly re-paired replicates.

    Shuffling which replicate of a scenario is compared with which replicate of the reference
    makes the two independent; the standard deviation of those differences shows what common
    random numbers save.

    Args:
        ts_by_scenario: Tidy time series per scenario name.
        reference: Name of the reference scenario.
        goals: Goals (default: the plan's goals).
        outcome: A column of :func:`goal_outcomes` (numeric or bool).
        n_shuffles: Random re-pairings averaged over.
        seed: Seed of the shuffles.

    Returns:
        One row per other scenario: scenario, reference, outcome, n_pairs, paired_sd,
        unpaired_sd (mean over shuffles), ratio = paired_sd / unpaired_sd.
    """
    outs = _paired_frame(ts_by_scenario, reference, goals)
    ref = outs[reference]
    rng = np.random.default_rng(seed)
    rows = []
    for name, o in outs.items():
        if name == reference:
            continue
        common = _common(o, ref, name, reference)
        if common.size < 2:
            raise ValueError("at least two common replicates are needed to measure a spread")
        a = o.loc[common, outcome].to_numpy(dtype=np.float64)
        b = ref.loc[common, outcome].to_numpy(dtype=np.float64)
        paired = float(np.std(a - b, ddof=1))
        unpaired = float(np.mean([np.std(a - rng.permutation(b), ddof=1) for _ in range(n_shuffles)]))
        rows.append({"scenario": name, "reference": reference, "outcome": outcome,
                     "n_pairs": int(common.size), "paired_sd": paired, "unpaired_sd": unpaired,
                     "ratio": paired / unpaired if unpaired > 0 else math.nan})
    return pd.DataFrame(rows)
