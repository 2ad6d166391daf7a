"""Figures drawn from a real small model run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from sim.analysis.outcomes import scaled_goals
from sim.core.model import CloudAdoptionModel
from sim.core.outputs import concat_replicates, tidy_timeseries
from sim.core.population import population_scale
from sim.plots import maps
from sim.plots.scenario import (
    plot_city_gap,
    plot_clusters,
    plot_compare,
    plot_provincial,
    plot_transformed,
    short_source,
    thousands,
    write_figures,
)
from sim.scenario import Scenario

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def run() -> tuple[Scenario, pd.DataFrame, pd.DataFrame]:
    base = Scenario.model_validate({"name": "demo", "population": {"total_firms": 20_000}})
    more = Scenario.model_validate({"name": "more", "population": {"total_firms": 20_000},
                                    "policies": {"vouchers": {"budget_cny_per_year": 9e8}}})
    ts = concat_replicates(tidy_timeseries(CloudAdoptionModel(base, replicate=r).run()) for r in range(2))
    ts2 = concat_replicates(tidy_timeseries(CloudAdoptionModel(more, replicate=r).run()) for r in range(2))
    return base, ts, ts2


def _png(fig: Figure, path: Path) -> Path:
    fig.savefig(path, dpi=60)
    assert path.read_bytes()[:8] == PNG_MAGIC
    assert path.stat().st_size > 5_000
    return path


def test_plot_provincial(run, tmp_path: Path) -> None:
    cfg, ts, _ = run
    goals = scaled_goals(cfg)
    fig = Figure(figsize=(9, 5.5), layout="constrained")
    ax = fig.add_subplot()
    assert plot_provincial(ax, ts, goals, scale=population_scale(cfg)) is ax
    labels = ax.get_legend_handles_labels()[1]
    assert f"Goal: {goals.cloud_firms:,} firms by 2025-12" in labels
    assert "Reported (rounding interval)" in labels and "Reported lower bound ('more than')" in labels
    assert ax.get_ylim()[1] > goals.cloud_firms
    assert "," in ax.yaxis.get_major_formatter()(goals.cloud_firms, 0)
    assert any("Reported:" in t.get_text() for t in ax.texts)
    _png(fig, tmp_path / "prov.png")


def test_plot_transformed_and_options(run, tmp_path: Path) -> None:
    cfg, ts, _ = run
    fig = Figure(figsize=(9, 5.5), layout="constrained")
    ax = plot_transformed(fig.add_subplot(), ts, scaled_goals(cfg), reported=False, label="demo")
    labels = ax.get_legend_handles_labels()[1]
    assert "demo" in labels and not any(x.startswith("Reported") for x in labels)
    assert "transformed" in ax.get_title()
    _png(fig, tmp_path / "transformed.png")


def test_plot_clusters(run, tmp_path: Path) -> None:
    cfg, ts, _ = run
    fig = Figure(figsize=(11, 13), layout="constrained")
    axes = plot_clusters(fig, ts, goals=scaled_goals(cfg))
    assert axes.shape == (5, 4)
    titles = [a.get_title() for a in axes.flat]
    assert "Automotive" in titles and all(titles)
    lo, hi = axes[0, 0].get_ylim()
    assert lo == 0 and 0 < hi <= 1
    _png(fig, tmp_path / "clusters.png")


def test_plot_city_gap(run, tmp_path: Path) -> None:
    cfg, ts, _ = run
    fig = Figure(figsize=(9, 7), layout="constrained")
    ax = plot_city_gap(fig.add_subplot(), ts, scaled_goals(cfg))
    assert len(ax.patches) == 21
    assert len(ax.get_yticklabels()) == 21
    _png(fig, tmp_path / "city.png")


def test_plot_compare(run, tmp_path: Path) -> None:
    cfg, ts, ts2 = run
    fig = Figure(figsize=(9, 5.5), layout="constrained")
    ax = plot_compare(fig.add_subplot(), {"baseline": ts, "more": ts2}, scaled_goals(cfg))
    labels = ax.get_legend_handles_labels()[1]
    assert labels[:2] == ["baseline", "more"]
    _png(fig, tmp_path / "compare.png")


def test_plots_draw_into_pyplot_axes(run, tmp_path: Path) -> None:
    plt = pytest.importorskip("matplotlib.pyplot")
    cfg, ts, _ = run
    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4))
    try:
        plot_provincial(a, ts, scaled_goals(cfg))
        plot_city_gap(b, ts, scaled_goals(cfg))
        _png(fig, tmp_path / "pyplot.png")
    finally:
        plt.close(fig)


def test_write_figures(run, tmp_path: Path) -> None:
    cfg, ts, ts2 = run
    folder = tmp_path / "figures"
    paths = write_figures(folder, ts, cfg, compare={"demo": ts, "more": ts2})
    names = [p.name for p in paths]
    expected = ["provincial_cloud.png", "provincial_transformed.png", "clusters.png",
                "city_gap.png", "progress_city.png", "progress_cluster.png"]
    expected += ["map_cities.png"] if maps.available() else []
    assert names == [*expected, "compare.png"]
    for p in paths:
        assert p.read_bytes()[:8] == PNG_MAGIC and p.stat().st_size > 10_000
    # no temporary files left behind
    assert sorted(x.name for x in folder.iterdir()) == sorted(names)
    # 150 dpi: a 9-inch-wide figure is 1350 pixels wide
    width = int.from_bytes(paths[0].read_bytes()[16:20], "big")
    assert width == 1350
    # without a comparison, no compare.png
    assert [p.name for p in write_figures(tmp_path / "f2", ts, cfg)] == expected


def test_backend_untouched_and_helpers() -> None:
    # Importing the figure module does not load pyplot (no display or backend switch needed).
    code = "import sys, sim.plots.scenario; print('matplotlib.pyplot' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    assert out.stdout.strip() == "False"
    assert thousands(1_000_000) == "1,000,000"
    assert thousands(-5_000) == "\u22125,000"
    assert short_source("Xinhua, China's manufacturing heartland (2021-04-05)") == "Xinhua (2021-04-05)"
    assert short_source("\u5e7f\u4e1c\u7701 (2022-07); CCTV 2022-08-02") == "CCTV 2022-08-02"
    assert short_source("\u5e7f\u4e1c\u7701 (2021-07-06)") == "official document (2021-07-06)"
    assert np.isfinite(population_scale(Scenario()))
