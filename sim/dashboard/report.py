"""What the dashboard shows, without Solara: run a scenario's replicates, draw its figures in
either language, and pack the current run's figures and tables into one download.

The page (:mod:`sim.dashboard.app`) calls only this module, so everything on screen can be built
and checked in-process (tests, notebooks).

Population size: the page runs at :data:`DASHBOARD_POPULATION` firms (1:10 of the province)
with :data:`DEFAULT_REPLICATES` replicates by default. ``scripts/scale_bias.py`` measures the
bias of the scaled 2025-12 counts against full scale at this size and compares it with the
page's own Monte Carlo error (its row "dashboard report page"); the count instruments scale
with the population (``tests/test_scale_invariance.py``).
"""

from __future__ import annotations

import io
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from sim import i18n
from sim.analysis import tables
from sim.analysis.goal_list import goal_table
from sim.analysis.summary import scaled_goals
from sim.core import uncertainty
from sim.core.population import population_scale
from sim.dashboard import guard
from sim.dashboard.core import LEVER_BY_NAME, LEVERS
from sim.errors import ScenarioError
from sim.i18n.header import figure_header
from sim.plots import goals as goal_plots
from sim.plots.listed_goals import MAX_PANELS, plot_more_goals
from sim.plots.scenario import plot_provincial, write_figures
from sim.runs.results import ScenarioResult, goals_evaluated
from sim.runs.runner import resolve_scenario, run_scenario
from sim.scenario.loader import load_scenario, shipped_scenarios
from sim.scenario.paths import get_value
from sim.scenario.schema import Scenario

POPULATIONS: tuple[int, ...] = (50_000, 200_000, 400_000, 2_000_000)
"""Population sizes offered on the page: the sizes whose bias against full scale
``scripts/scale_bias.py`` measures (``docs/scale_bias.csv``; ``tests/test_dashboard.py`` checks
that every size offered is measured there)."""

SIZE_STATS: dict[int, dict[str, tuple[float, float]]] = {
    50_000: {"cloud_cumulative": (1214914.3, 5003.2), "transformed": (47752.7, 697.7)},
    200_000: {"cloud_cumulative": (1214301.4, 2734.9), "transformed": (47801.9, 377.0)},
    400_000: {"cloud_cumulative": (1214643.7, 1893.6), "transformed": (47856.8, 265.8)},
    2_000_000: {"cloud_cumulative": (1214443.2, 799.7), "transformed": (47900.0, 107.1)},
}
"""Per size offered: mean and one run's standard deviation of the baseline's 2025-12 counts
scaled to 2,000,000 firms, as measured by ``scripts/scale_bias.py --measure`` (rows of
``docs/scale_bias.csv``; ``tests/test_dashboard.py`` checks these numbers against that file)."""


def size_check(total_firms: int, replicates: int) -> dict[str, tuple[float, float, bool]]:
    """Is a run of ``replicates`` replicates at ``total_firms`` firms unbiased by its size?

    Returns:
        Per outcome (``cloud_cumulative``, ``transformed``): the measured bias of the scaled
        count against full scale in percent, the Monte Carlo error of the mean of
        ``replicates`` replicates in percent, and whether the bias is smaller than that error
        (:data:`SIZE_STATS`; the baseline's measurement).
    """
    full = SIZE_STATS[max(SIZE_STATS)]
    out = {}
    for outcome, (mean, sd) in SIZE_STATS[total_firms].items():
        ref = full[outcome][0]
        bias = 100 * (mean - ref) / ref
        error = 100 * sd / replicates ** 0.5 / ref
        out[outcome] = (bias, error, abs(bias) < error or total_firms == max(SIZE_STATS))
    return out


POSTERIOR = "record"
"""The posterior the page's "parameter uncertainty" switch draws from
(``scenarios/posteriors/record.csv``: the ABC-SMC history match of every published figure)."""

POSTERIOR_REPLICATES = 10
"""Replicates the page proposes with parameter uncertainty on: a 10-90% band of posterior draws
needs more than the few replicates that show the model's own noise."""

DASHBOARD_POPULATION = int(os.environ.get("GDCLOUD_DASHBOARD_FIRMS", "200000"))
"""Firms simulated by default (1:10 of the province): see the module docstring for the check.
``GDCLOUD_DASHBOARD_FIRMS`` (one of :data:`POPULATIONS`) changes it, e.g. for a quick test."""

DEFAULT_REPLICATES = int(os.environ.get("GDCLOUD_DASHBOARD_REPLICATES", "5"))
"""Replicates per run: enough for a 10-90% band, quick at 1:10 (about a second each);
``GDCLOUD_DASHBOARD_REPLICATES`` changes it."""

MAX_REPLICATES = 20
"""Most replicates the page allows in one run."""

POLICY_LEVERS: tuple[str, ...] = tuple(lv.name for lv in LEVERS if lv.group == "lever")
"""Levers on the page: the policy instruments (population and seed are run settings)."""


def scenario_names() -> list[str]:
    """Shipped scenario names, ``baseline`` first."""
    names = list(shipped_scenarios())
    return sorted(names, key=lambda n: (n != "baseline", n))


def scenario_from_upload(name: str, data: bytes) -> Scenario:
    """Validate an uploaded YAML scenario as the command line does.

    Raises:
        ScenarioError: One line naming the file, the key path and what is allowed.
    """
    if not name.lower().endswith((".yaml", ".yml")):
        raise ScenarioError(name, "(file)", "not a YAML file", "a scenario file ending in .yaml")
    with tempfile.TemporaryDirectory(prefix="gdcloud-upload-") as tmp:
        path = Path(tmp) / Path(name).name
        path.write_bytes(data)
        try:
            sc = load_scenario(path)
        except ScenarioError as exc:  # name the uploaded file, not the temporary copy
            raise ScenarioError(name, exc.key_path, exc.message, exc.allowed,
                                suggestion=exc.suggestion, more=exc.more) from None
    return sc


def scheduled_levers(scenario: Scenario) -> dict[str, dict[str, float]]:
    """The levers whose value in ``scenario`` changes over time (a schedule ``{YYYY or YYYY-MM:
    value}``), with the schedule in the slider units. The page shows them as scheduled and
    leaves them as the scenario has them (a slider would flatten the schedule to one value)."""
    out = {}
    for name in POLICY_LEVERS:
        lv = LEVER_BY_NAME[name]
        value: Any = get_value(scenario, lv.path)
        if isinstance(value, dict):
            out[name] = {str(k): float(v) / lv.factor for k, v in value.items()}
    return out


def lever_values(scenario: Scenario) -> dict[str, Any]:
    """The policy levers' values in a scenario (in the slider units); ``None`` for a lever the
    scenario schedules over time (:func:`scheduled_levers`)."""
    out: dict[str, Any] = {}
    for name in POLICY_LEVERS:
        lv = LEVER_BY_NAME[name]
        value: Any = get_value(scenario, lv.path)
        if isinstance(value, dict):
            out[name] = None
        elif lv.kind == "bool":
            out[name] = bool(value)
        else:
            v = value / lv.factor
            out[name] = int(round(v)) if lv.kind in ("int", "text_int") else float(v)
    return out


class RunToken:
    """Counts a dashboard run against :data:`sim.dashboard.guard.MAX_MODELS` while it is alive."""


def check_inputs(base: Scenario, levers: dict[str, Any], total_firms: int
                 ) -> tuple[dict[str, Any], int, list[str], RunToken]:
    """The page's values checked on the server (the browser is not trusted).

    Every lever value is checked by :func:`sim.dashboard.guard.check_levers` (a refused value
    keeps its default and gives a one-line message); a lever the base scenario schedules over
    time is left as scheduled, whatever was sent (:func:`scheduled_levers`); a population not offered on the page, or
    above ``GDCLOUD_DASHBOARD_MAX_FIRMS``, falls back to the smallest size with a message; and
    :func:`sim.dashboard.guard.admit` limits the large runs alive at once.

    Returns:
        ``(levers, total_firms, messages, token)``: keep ``token`` referenced while the run lives.
    """
    scheduled = scheduled_levers(base)
    active = [LEVER_BY_NAME[n] for n in POLICY_LEVERS if n not in scheduled]
    values, messages = guard.check_levers(active, levers, base)
    small = min(POPULATIONS)
    if total_firms not in POPULATIONS or total_firms > guard.MAX_FIRMS:
        allowed = ", ".join(f"{p:,}" for p in POPULATIONS if p <= guard.MAX_FIRMS)
        messages.append(f"population: {str(total_firms)[:20]!r} is not one of {allowed}; "
                        f"used {small:,}")
        total_firms = small
    token = RunToken()
    total_firms, busy = guard.admit(token, total_firms, small)
    return values, total_firms, messages + ([busy] if busy else []), token


def build_scenario(base: Scenario, *, levers: dict[str, Any] | None = None,
                   total_firms: int = DASHBOARD_POPULATION, replicates: int = DEFAULT_REPLICATES,
                   lang: str = "en", posterior: bool | None = None) -> Scenario:
    """The scenario a dashboard run simulates: ``base`` with the levers, size and language.

    Args:
        posterior: True: every replicate draws its behavioural parameters from the record
            posterior (:data:`POSTERIOR`), so the band shows parameter uncertainty; False: no
            posterior (the band shows the model's own noise, plus any ``uncertainties`` of the
            scenario); None: as the scenario says.
    """
    if not 1 <= replicates <= MAX_REPLICATES:
        raise ScenarioError("(dashboard)", "replicates", f"{replicates} replicates",
                            f"1 to {MAX_REPLICATES}")
    if total_firms not in POPULATIONS:
        raise ScenarioError("(dashboard)", "population.total_firms", f"{total_firms:,} firms",
                            ", ".join(f"{p:,}" for p in POPULATIONS))
    overrides = {"population.total_firms": total_firms, "outputs.lang": i18n.check_lang(lang)}
    for name, value in (levers or {}).items():
        lv = LEVER_BY_NAME[name]
        overrides[lv.path] = lv.to_scenario(value)
    if posterior is not None and posterior != (base.posterior is not None):
        overrides["posterior"] = POSTERIOR if posterior else None
    return resolve_scenario(base, replicates=replicates, overrides=overrides)


MORE_GOAL_COLUMNS: list[str] = ["indicator", "indicator_name", "date", "goal_value", "goal_text",
                                 "rate", "median", "p10", "p90", "p_meet", "n_evaluable", "scope",
                                 "source"]
"""Columns of :meth:`DashboardRun.more_goals`."""


@dataclass
class DashboardRun:
    """A finished dashboard run: the scenario and its replicates (nothing saved on disk), the
    messages about refused inputs, and the token that counts it against the server's limits."""

    scenario: Scenario
    result: ScenarioResult
    messages: tuple[str, ...] = ()
    token: RunToken | None = None

    @property
    def goals(self):
        cfg, _ = goals_evaluated(self.scenario)
        return scaled_goals(cfg)

    @property
    def scale(self) -> float:
        return population_scale(self.scenario)

    @property
    def parametric(self) -> bool:
        """Whether replicates draw their parameters (a posterior or ``uncertainties``), so the
        band shows parameter uncertainty and not only the model's own noise."""
        return uncertainty.has_uncertainty(self.scenario)

    def headline(self) -> dict[str, float]:
        """Province-equivalent medians, 10-90% bands and goal probabilities at the goal date."""
        s = self.result.summary.set_index("outcome")
        year = self.goals.date[:4]
        out: dict[str, float] = {}
        for key in ("cloud", "transformed"):
            row = s.loc[f"{key}_firms_{year}"]
            for stat in ("median", "p10", "p90"):
                out[f"{key}_{stat}"] = float(row[stat]) / self.scale
            out[f"{key}_p_meet"] = float(s.loc[f"p_meet_{key}_goal", "mean"])
        return out

    def more_goals(self, lang: str = "en") -> pd.DataFrame:
        """The scenario's further goals (``goals.more``) as the page lists them: the goal as written
        (``goal_value``, ``goal_text`` in ``lang``), the simulated value at its month (median and
        10-90% over replicates; counts province-equivalent, rates as shares) and the share of
        replicates meeting it (NaN with ``n_evaluable`` 0 when the month is outside the run)."""
        cfg, _ = goals_evaluated(self.scenario)
        table = goal_table(self.result.timeseries, cfg).iloc[2:]  # the two headline goals are the tiles
        rows = []
        for r in table.itertuples(index=False):
            rate = r.indicator.endswith("_rate")
            factor = 1.0 if rate else 1.0 / self.scale
            rows.append({"indicator": r.indicator, "indicator_name": i18n.indicator_name(r.indicator, lang),
                         "date": r.date, "goal_value": r.goal_value,
                         "goal_text": i18n.goal_value_text(r.indicator, r.goal_value, lang), "rate": rate,
                         "median": r.value_median * factor, "p10": r.value_p10 * factor,
                         "p90": r.value_p90 * factor, "p_meet": r.p_meet, "n_evaluable": r.n_evaluable,
                         "scope": i18n.goal_scope(r.scope, lang), "source": r.source})
        return pd.DataFrame(rows, columns=MORE_GOAL_COLUMNS)


def run_dashboard(scenario: Scenario, *, progress: bool = False, messages: tuple[str, ...] = (),
                  token: RunToken | None = None) -> DashboardRun:
    """Run every replicate of ``scenario`` serially, in memory."""
    res = run_scenario(scenario, save=False, figures=False, progress=progress)
    return DashboardRun(scenario, res, tuple(messages), token)


def figures_for(run: DashboardRun, lang: str = "en") -> dict[str, Figure]:
    """The page's figures: both goals' provincial paths with bands (the count goals of
    ``goals.more`` marked), progress by city and cluster, and, if the scenario lists further
    goals, one panel per goal (``goals_more``)."""
    ts, goals = run.result.timeseries, run.goals
    sc, _ = goals_evaluated(run.scenario)
    n = len(run.result.replicates_done)
    firms = sc.population.total_firms
    out: dict[str, Figure] = {}
    for key, metric in (("cloud", "cloud_cumulative"), ("transformed", "transformed")):
        fig = Figure(figsize=(8, 5.2), layout="constrained")
        plot_provincial(fig.add_subplot(), ts, goals, metric=metric, scale=run.scale, lang=lang, config=sc)
        figure_header(fig, sc.name, firms, n, lang)
        out[key] = fig
    if sc.goals.more:
        k = min(len(sc.goals.more), MAX_PANELS)
        fig = Figure(figsize=(4.6 * min(3, k), 3.9 * -(-k // 3) + 1.2), layout="constrained")
        plot_more_goals(fig, ts, sc, lang=lang)
        fig.suptitle(i18n.text("more_goals_title", lang))
        note = i18n.text("scaled_note", lang, scale=f"{run.scale:.4g}") if run.scale != 1.0 else None
        figure_header(fig, sc.name, firms, n, lang, note=note)
        out["goals_more"] = fig
    for level in ("city", "cluster"):
        fig = Figure(figsize=(11, 7.5), layout="constrained")
        goal_plots.plot_group_progress(fig, ts, goals, level=level, lang=lang, config=sc)
        figure_header(fig, sc.name, firms, n, lang, note=i18n.text("progress_note", lang))
        out[f"progress_{level}"] = fig
    return out


def download_bundle(run: DashboardRun, lang: str = "en") -> bytes:
    """A zip of the current run: figures (PNG), summary, wide, goals, provincial and group tables
    (CSV, UTF-8 with BOM in Chinese), ``results.xlsx``, the resolved scenario and, when the
    replicates drew their parameters, ``parameters.csv``."""
    from sim.scenario.loader import resolved_yaml

    ts, sc = run.result.timeseries, run.scenario
    cfg, _ = goals_evaluated(sc)
    buf = io.BytesIO()
    with tempfile.TemporaryDirectory(prefix="gdcloud-dash-") as tmp:
        folder = Path(tmp)
        write_figures(folder / "figures", ts, cfg, lang=lang)
        tables.write_csv(folder / "summary.csv", run.result.summary, lang)
        tables.write_report_tables(folder, ts, run.result.summary, cfg, run.goals, lang=lang)
        (folder / "scenario.resolved.yaml").write_text(resolved_yaml(sc), encoding="utf-8")
        if run.parametric:  # the values each replicate drew, as in a run folder
            params = uncertainty.parameters_frame(sc, run.result.replicates_done)
            tables.write_csv(folder / uncertainty.PARAMETERS, params, lang)
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for p in sorted(folder.rglob("*")):
                if p.is_file():
                    zf.write(p, p.relative_to(folder).as_posix())
    return buf.getvalue()


def bundle_name(run: DashboardRun) -> str:
    """File name of the download: ``<scenario>-<firms>-<replicates>rep.zip``."""
    sc = run.scenario
    return f"{sc.name}-{sc.population.total_firms}-{len(run.result.replicates_done)}rep.zip"


def summary_frame(run: DashboardRun, lang: str = "en") -> pd.DataFrame:
    """The run's summary with the outcome names in ``lang`` (for a table on the page)."""
    s = run.result.summary.copy()
    s.insert(1, "outcome_name", [i18n.outcome_name(o, lang) for o in s["outcome"]])
    return s
