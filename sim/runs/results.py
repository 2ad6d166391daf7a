"""A run's results in memory (:class:`ScenarioResult`: time series, summary, failures, plots) and
read back from a run folder (:func:`load_results`); the folder itself is :mod:`sim.runs.runfolder`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from sim import i18n
from sim.core.outputs import TIMESERIES_COLUMNS
from sim.runs.rundir import read_manifest
from sim.runs.runfolder import (
    FAILURE_COLUMNS,
    FAILURES,
    SUMMARY,
    TIMESERIES,
    read_resolved_scenario,
    read_timeseries,
    replicate_file,
    replicates_on_disk,
)
from sim.scenario.loader import scenario_hash
from sim.scenario.schema import Scenario
from sim.scenario.schema_types import month_number


def goals_evaluated(config: Scenario) -> tuple[Scenario, str | None]:
    """The scenario used for summaries, and a warning if its horizon ends before the goal date.

    A run that ends before ``goals.date`` cannot say whether the goals are met then; its goals
    are evaluated at the last simulated month instead and a note (in ``outputs.lang``) says so.
    """
    if month_number(config.time.end) >= month_number(config.goals.date):
        return config, None
    note = i18n.text("note.goal_date", config.outputs.lang, end=config.time.end, date=config.goals.date)
    data = config.model_dump(mode="json")
    data["goals"]["date"] = config.time.end
    return Scenario.model_validate(data), note


def summarize_scenario(ts: pd.DataFrame, config: Scenario) -> pd.DataFrame:
    """:func:`sim.analysis.summary.summarize` with the goals evaluated as in :func:`goals_evaluated`."""
    from sim.analysis import summary

    cfg, _ = goals_evaluated(config)
    return summary.summarize(ts, cfg)


# --------------------------------------------------------------------------- reading back


def failures_frame(failures: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(failures, columns=FAILURE_COLUMNS).sort_values("replicate").reset_index(drop=True)


@dataclass
class ScenarioResult:
    """The results of one scenario: time series, summary, failures and where they are saved.

    Attributes:
        scenario: The resolved scenario that ran.
        timeseries: Tidy monthly counts of every successful replicate (columns
            :data:`sim.core.outputs.TIMESERIES_COLUMNS`; provincial rows have
            ``cluster == city == size_class == "all"``).
        summary: :func:`sim.analysis.summary.summarize` of the time series (None if no replicate ran).
        failures: One row per failed replicate (columns :data:`FAILURE_COLUMNS`); empty if none.
        folder: The results folder, or None if the run was not saved.
        manifest: The run manifest (as in ``manifest.json``).
    """

    scenario: Scenario
    timeseries: pd.DataFrame
    summary: pd.DataFrame | None
    failures: pd.DataFrame
    folder: Path | None = None
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.scenario.name

    @property
    def hash(self) -> str:
        return scenario_hash(self.scenario)

    @property
    def replicates_done(self) -> list[int]:
        if self.timeseries.empty:
            return []
        return sorted(int(r) for r in self.timeseries["replicate"].unique())

    @property
    def ok(self) -> bool:
        """True if every planned replicate finished (and its figures, if asked for, were written)."""
        return (self.failures.empty and len(self.replicates_done) == self.scenario.run.replicates
                and "figures_error" not in (self.manifest or {}))

    def provincial(self) -> pd.DataFrame:
        """The provincial rows of the time series (one per replicate and month)."""
        from sim.core.outputs import select

        return select(self.timeseries, "province").reset_index(drop=True)

    def goal_outcomes(self) -> pd.DataFrame:
        """Each replicate against the goals (:func:`sim.analysis.outcomes.goal_outcomes`), goals scaled to
        the population and evaluated at the end of the run if it ends before the goal date."""
        from sim.analysis.outcomes import goal_outcomes

        goals, _ = self._goals()
        return goal_outcomes(self.timeseries, goals)

    # -- plots (thin wrappers of sim.plots.scenario with this scenario's goals and scale)

    def parameters(self) -> pd.DataFrame:
        """Values each replicate drew for the scenario's ``uncertainties`` (empty if none)."""
        from sim.core.uncertainty import parameters_frame

        return parameters_frame(self.scenario, self.replicates_done)

    @property
    def goals(self):
        """The goals at this run's population scale (goal x total_firms / 2,000,000), as used by
        the summary and the figures; ``self.scenario.goals`` holds them as written."""
        return self._goals()[0]

    def _goals(self):
        from sim.analysis.outcomes import scaled_goals
        from sim.core.population import population_scale

        cfg, _ = goals_evaluated(self.scenario)
        return scaled_goals(cfg), population_scale(cfg)

    def plot_provincial(self, ax=None, *, metric: str = "cloud_cumulative", **kwargs):
        """Provincial median and 10-90% band of ``metric`` with the goal and reported figures.

        Args:
            ax: Matplotlib axes to draw into (default: a new figure).
            metric: A time-series column, e.g. ``cloud_cumulative``, ``transformed``,
                ``cloud_active``, ``waiting``.
            **kwargs: Passed to :func:`sim.plots.scenario.plot_provincial` (``reported``, ``label``).

        Returns:
            The axes.

        Example:
            >>> res = sim.load_results("results/baseline/...")  # doctest: +SKIP
            >>> res.plot_provincial()  # doctest: +SKIP
        """
        from sim.plots import scenario as plots

        goals, scale = self._goals()
        return plots.plot_provincial(axes_or_new(ax), self.timeseries, goals, metric=metric,
                                     scale=kwargs.pop("scale", scale), **kwargs)

    def plot_transformed(self, ax=None, **kwargs):
        """Transformed above-scale firms against their goal (see :meth:`plot_provincial`)."""
        return self.plot_provincial(ax, metric="transformed", **kwargs)

    def plot_clusters(self, fig=None):
        """Cloud share of each of the 20 clusters (5 x 4 panels) into ``fig`` (default: new).

        Returns:
            The 5 x 4 array of axes.
        """
        from sim.plots import scenario as plots

        if fig is None:
            import matplotlib.pyplot as plt

            fig = plt.figure(figsize=(11, 13), layout="constrained")
        goals, _ = self._goals()
        return plots.plot_clusters(fig, self.timeseries, goals=goals)

    def plot_city_gap(self, ax=None):
        """Each city's gap to a proportional share of the cloud goal (bars, 10-90% whiskers)."""
        from sim.plots import scenario as plots

        goals, _ = self._goals()
        return plots.plot_city_gap(axes_or_new(ax, (9, 7)), self.timeseries, goals)

    def __repr__(self) -> str:
        where = f", folder='{self.folder}'" if self.folder else ""
        return (f"ScenarioResult({self.name!r}, replicates={len(self.replicates_done)}/"
                f"{self.scenario.run.replicates}, failed={len(self.failures)}{where})")


MONTH_COLUMNS: tuple[str, ...] = ("median_month", "p10_month", "p90_month")
"""Text columns of ``summary.csv`` (ISO dates or empty); every statistic column is numeric."""


def read_summary(path: Path) -> pd.DataFrame:
    """Read ``summary.csv`` with its types: statistics as floats, months as text (``""`` if none).

    A summary written before the month columns existed (months as text in ``median``, ``p10``,
    ``p90``) is converted: the months move to ``*_month`` and the statistics become numeric.
    """
    stats = ("median", "p10", "p90", "mean", "mc_se")
    summ = pd.read_csv(path, keep_default_na=False, na_values={c: [""] for c in stats},
                       dtype={c: str for c in MONTH_COLUMNS})
    for col in ("median", "p10", "p90"):
        if col in summ.columns and not pd.api.types.is_numeric_dtype(summ[col]):
            month = f"{col}_month"
            if month not in summ.columns:
                text = summ[col].astype(str)
                summ[month] = text.where(text.str.match(r"^\d{4}-\d{2}-\d{2}$"), "")
            summ[col] = pd.to_numeric(summ[col], errors="coerce")
    for month in MONTH_COLUMNS:
        if month in summ.columns:
            summ[month] = summ[month].fillna("").astype(str)
    return summ


def axes_or_new(ax, size: tuple[float, float] = (9, 5.5)):
    """``ax`` or the axes of a new pyplot figure (for notebooks)."""
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=size, layout="constrained")
    return ax


def load_results(folder: str | Path) -> ScenarioResult:
    """Read a run folder back.

    Works on an interrupted run too: if ``timeseries.csv`` is missing, the finished replicate
    files are read (and the summary is recomputed from them).

    Args:
        folder: A folder written by :func:`sim.run` or ``gdcloud run``.

    Returns:
        The :class:`ScenarioResult` (same contents as when the run returned).

    Raises:
        ScenarioError: ``folder`` is not a results folder.

    Example:
        >>> res = load_results("results/baseline/20250101T120000Z-0123456789")  # doctest: +SKIP
        >>> res.summary.head()  # doctest: +SKIP
    """
    folder = Path(folder)
    manifest = read_manifest(folder)
    scenario = read_resolved_scenario(folder)
    ts_path = folder / TIMESERIES
    if ts_path.is_file():
        ts = read_timeseries(ts_path)
    else:
        frames = [read_timeseries(replicate_file(folder, r)) for r in replicates_on_disk(folder)]
        ts = (pd.concat(frames, ignore_index=True) if frames
              else pd.DataFrame({c: pd.Series(dtype=object) for c in TIMESERIES_COLUMNS}))
    summary_path = folder / SUMMARY
    if summary_path.is_file():
        summ = read_summary(summary_path)
    elif not ts.empty:
        summ = summarize_scenario(ts, scenario)
    else:
        summ = None
    fail_path = folder / FAILURES
    failures = (pd.read_csv(fail_path, keep_default_na=False) if fail_path.is_file()
                else failures_frame(manifest.get("failures", [])))
    return ScenarioResult(scenario=scenario, timeseries=ts, summary=summ, failures=failures,
                          folder=folder, manifest=manifest)


__all__ = ["ScenarioResult", "load_results", "goals_evaluated", "summarize_scenario", "read_summary"]
