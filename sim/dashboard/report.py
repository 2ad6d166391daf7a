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
from sim.analysis.summary import scaled_goals
from sim.core.population import population_scale
from sim.dashboard import guard
from sim.dashboard.core import LEVER_BY_NAME, LEVERS
from sim.errors import ScenarioError
from sim.i18n.header import figure_header
from sim.plots import goals as goal_plots
from sim.plots.scenario import plot_provincial, write_figures
from sim.runs.results import ScenarioResult, goals_evaluated
from sim.runs.runner import resolve_scenario, run_scenario
from sim.scenario.loader import load_scenario, shipped_scenarios
from sim.scenario.paths import get_value
from sim.scenario.schema import Scenario

POPULATIONS: tuple[int, ...] = (50_000, 200_000, 500_000, 2_000_000)
"""Population sizes offered on the page."""

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


def lever_values(scenario: Scenario) -> dict[str, Any]:
    """The policy levers' values in a scenario (in the slider units)."""
    out = {}
    for name in POLICY_LEVERS:
        lv = LEVER_BY_NAME[name]
        value: Any = get_value(scenario, lv.path)
        if lv.kind == "bool":
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
    keeps its default and gives a one-line message); a population not offered on the page, or
    above ``GDCLOUD_DASHBOARD_MAX_FIRMS``, falls back to the smallest size with a message; and
    :func:`sim.dashboard.guard.admit` limits the large runs alive at once.

    Returns:
        ``(levers, total_firms, messages, token)``: keep ``token`` referenced while the run lives.
    """
    values, messages = guard.check_levers([LEVER_BY_NAME[n] for n in POLICY_LEVERS], levers, base)
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
                   lang: str = "en") -> Scenario:
    """The scenario a dashboard run simulates: ``base`` with the levers, size and language."""
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
    return resolve_scenario(base, replicates=replicates, overrides=overrides)


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


def run_dashboard(scenario: Scenario, *, progress: bool = False, messages: tuple[str, ...] = (),
                  token: RunToken | None = None) -> DashboardRun:
    """Run every replicate of ``scenario`` serially, in memory."""
    res = run_scenario(scenario, save=False, figures=False, progress=progress)
    return DashboardRun(scenario, res, tuple(messages), token)


def figures_for(run: DashboardRun, lang: str = "en") -> dict[str, Figure]:
    """The page's figures: both goals' provincial paths with bands, progress by city and cluster."""
    ts, goals, sc = run.result.timeseries, run.goals, run.scenario
    n = len(run.result.replicates_done)
    firms = sc.population.total_firms
    out: dict[str, Figure] = {}
    for key, metric in (("cloud", "cloud_cumulative"), ("transformed", "transformed")):
        fig = Figure(figsize=(8, 5.2), layout="constrained")
        plot_provincial(fig.add_subplot(), ts, goals, metric=metric, scale=run.scale, lang=lang)
        figure_header(fig, sc.name, firms, n, lang)
        out[key] = fig
    for level in ("city", "cluster"):
        fig = Figure(figsize=(11, 7.5), layout="constrained")
        goal_plots.plot_group_progress(fig, ts, goals, level=level, lang=lang, config=sc)
        figure_header(fig, sc.name, firms, n, lang, note=i18n.text("progress_note", lang))
        out[f"progress_{level}"] = fig
    return out


def download_bundle(run: DashboardRun, lang: str = "en") -> bytes:
    """A zip of the current run: figures (PNG), summary, wide, provincial and group tables
    (CSV, UTF-8 with BOM in Chinese), ``results.xlsx`` and the resolved scenario."""
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
