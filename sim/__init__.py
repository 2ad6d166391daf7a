"""gdcloud-sim: agent-based scenarios of Guangdong firms moving onto the cloud (goals for 2025-12).

The notebook API (see :mod:`sim.api`) is importable from here; names are loaded on first use so
that ``import sim`` and the scenario tools stay fast::

    import sim
    res = sim.run("demo")
    res.plot_provincial()

Command line: ``gdcloud --help`` (or ``python -m sim --help``).

``__all__`` repeats ``sim.api.__all__`` (plus ``__version__``) on purpose: importing ``sim.api``
here would make ``import sim`` load the whole library, and ``sim.api`` needs its own literal list
for its imports; tests/test_cli_analysis.py keeps the two equal.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from sim.import_frames import name_frozen_import_frames

name_frozen_import_frames()  # before Mesa is imported by any path (see sim.import_frames)

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
    "history_match", "backtest", "evaluate", "__version__",
]

if TYPE_CHECKING:  # pragma: no cover
    from sim.api import (
        AnalysisFailed,
        CloudAdoptionModel,
        CompareResult,
        DaskExecutor,
        Executor,
        Firm,
        ProcessExecutor,
        RunsFailed,
        SavedSweep,
        Scenario,
        ScenarioError,
        ScenarioResult,
        SerialExecutor,
        attribution,
        backtest,
        calibrate,
        compare,
        compare_scenarios,
        discover,
        evaluate,
        format_table,
        get_value,
        group_gaps,
        history_match,
        latest,
        list_results,
        load_compare,
        load_results,
        load_scenario,
        load_sweep,
        make_executor,
        plot_city_gap,
        plot_clusters,
        plot_compare,
        plot_provincial,
        plot_transformed,
        population_scale,
        resolved_yaml,
        results_root,
        run,
        run_scenario,
        run_sensitivity,
        run_sweep,
        scaled_goals,
        scenario_hash,
        sensitivity,
        set_values,
        shipped_scenarios,
        simulate,
        sweep,
        what_it_takes,
        write_figures,
    )


def _installed_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("gdcloud-sim")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0+unknown"


def __getattr__(name: str) -> Any:
    # __version__ too is read on first use: importlib.metadata costs ~30 ms at every start-up,
    # before a single run's population build can begin (sim.runs.prebuild).
    if name == "__version__":
        value = _installed_version()
    elif name in __all__:
        value = getattr(import_module("sim.api"), name)
    else:
        raise AttributeError(f"module 'sim' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
