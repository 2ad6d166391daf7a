"""The notebook API: load a scenario, run it, compare scenarios, read saved results, plot.

Everything here is also available from the package itself (``import sim``)::

    import sim

    res = sim.run("baseline", replicates=20)            # a shipped scenario name or a YAML path
    res.summary                                         # medians, 10-90% bands, P(goal met)
    res.plot_provincial()                               # median path, band, goal, reported points
    res.folder                                          # results/baseline/<timestamp>-<hash>/

    cmp = sim.compare(["baseline", "no_policy_at_all"], replicates=20)
    cmp.differences[["scenario", "outcome", "median", "p10", "p90", "sentence"]]

    sim.sweep("sweep_vouchers")                         # the analysis tools, as on the command line
    sim.calibrate("calibration"); sim.sensitivity("sensitivity")
    sim.what_it_takes("baseline", "policies.vouchers.budget_cny_per_year", bounds=(0, 2e9))
    sim.attribution("baseline"); sim.discover("baseline")
    sim.history_match(); sim.backtest(); sim.evaluate()  # the 2020-2025 record

    old = sim.load_results("results/baseline/20251126T101500Z-0123456789")
    old = sim.load_results(sim.latest("baseline"))      # newest complete run (or a --label)
    cmp = sim.load_results(sim.latest("compare"))       # a comparison folder -> CompareResult

Results are written under one results root: ``out_dir=`` if given, else the environment variable
``GDCLOUD_RESULTS_DIR``, else ``results`` (:func:`results_root`). ``lang="zh"`` writes figures,
table headers and sentences in Simplified Chinese.

Runs are serial by default in Python; pass ``workers=4`` (local processes) or
``executor="dask"`` (optionally with ``address="tcp://host:8786"``) to run replicates in
parallel. Results do not depend on the executor.

Example:
    >>> import sim
    >>> sc = sim.load_scenario("demo", ["population.total_firms=20000", "time.end=2022-06"])
    >>> res = sim.run(sc, replicates=2, save=False)
    >>> res.replicates_done, list(res.timeseries.columns[:5])
    ([0, 1], ['replicate', 'date', 'cluster', 'city', 'size_class'])
"""

from __future__ import annotations

from sim.analysis.outcomes import scaled_goals
from sim.analysis.question_tools import attribution_tool, discover_tool, what_it_takes_tool
from sim.analysis.sensitivity import run_sensitivity
from sim.analysis.summary import group_gaps
from sim.analysis.sweep import run_sweep
from sim.analysis.tables import format_table
from sim.analysis.tools import calibrate_tool, sensitivity_tool
from sim.core.model import CloudAdoptionModel, Firm, simulate
from sim.core.population import population_scale
from sim.errors import AnalysisFailed, RunsFailed, ScenarioError
from sim.plots.record_tools import backtest_tool, evaluate_tool, history_match_tool
from sim.plots.scenario import (
    plot_city_gap,
    plot_clusters,
    plot_compare,
    plot_provincial,
    plot_transformed,
    write_figures,
)
from sim.runs.compare import CompareResult, compare_scenarios
from sim.runs.executors import (
    DaskExecutor,
    Executor,
    ProcessExecutor,
    SerialExecutor,
    make_executor,
)
from sim.runs.finding import (
    SavedSweep,
    latest,
    list_results,
    load_any,
    load_compare,
    load_sweep,
)
from sim.runs.results import ScenarioResult
from sim.runs.root import results_root
from sim.runs.runner import run_scenario
from sim.scenario.loader import load_scenario, resolved_yaml, scenario_hash, shipped_scenarios
from sim.scenario.paths import get_value, set_values
from sim.scenario.schema import Scenario

load_results = load_any
"""Alias of :func:`sim.runs.finding.load_any`: read a run, comparison or sweep folder back."""

run = run_scenario
"""Alias of :func:`sim.runs.runner.run_scenario`: run every replicate of a scenario and save them."""

compare = compare_scenarios
"""Alias of :func:`sim.runs.compare.compare_scenarios`: scenarios with common random numbers."""

sweep = run_sweep
"""Alias of :func:`sim.analysis.sweep.run_sweep`: a factorial, Latin-hypercube or table sweep."""

sensitivity = sensitivity_tool
"""Alias of :func:`sim.analysis.tools.sensitivity_tool` (``gdcloud sensitivity``): Sobol or Morris
indices in a new results folder."""

calibrate = calibrate_tool
"""Alias of :func:`sim.analysis.tools.calibrate_tool` (``gdcloud calibrate``)."""

what_it_takes = what_it_takes_tool
"""Alias of :func:`sim.analysis.question_tools.what_it_takes_tool` (``gdcloud what-it-takes``)."""

attribution = attribution_tool
"""Alias of :func:`sim.analysis.question_tools.attribution_tool` (``gdcloud attribution``)."""

discover = discover_tool
"""Alias of :func:`sim.analysis.question_tools.discover_tool` (``gdcloud discover``)."""

history_match = history_match_tool
"""Alias of :func:`sim.plots.record_tools.history_match_tool` (``gdcloud history-match``): the
ABC-SMC posterior of the model's rates given every published figure 2020-2025."""

backtest = backtest_tool
"""Alias of :func:`sim.plots.record_tools.backtest_tool` (``gdcloud backtest``)."""

evaluate = evaluate_tool
"""Alias of :func:`sim.plots.record_tools.evaluate_tool` (``gdcloud evaluate``)."""

__all__ = [
    "load_scenario", "run", "run_scenario", "compare", "compare_scenarios", "load_results",
    "Scenario", "ScenarioResult", "CompareResult", "shipped_scenarios", "resolved_yaml",
    "scenario_hash", "Executor", "SerialExecutor", "ProcessExecutor", "DaskExecutor",
    "make_executor", "plot_provincial", "plot_transformed", "plot_clusters", "plot_city_gap",
    "plot_compare", "write_figures", "CloudAdoptionModel", "Firm", "simulate",
    "sweep", "run_sweep", "calibrate", "sensitivity", "run_sensitivity", "what_it_takes",
    "attribution", "discover", "get_value", "set_values", "ScenarioError", "RunsFailed",
    "latest", "list_results", "load_compare", "load_sweep", "results_root", "SavedSweep",
    "scaled_goals", "population_scale", "group_gaps", "format_table", "AnalysisFailed",
    "history_match", "backtest", "evaluate",
]
