"""Every shipped scenario runs: the small demo fully, the full-scale ones for a few months at a
reduced population (their structure, policies and dates are exercised as shipped)."""

from __future__ import annotations

import numpy as np
import pytest

from sim import datasets
from sim.core.model import simulate
from sim.scenario.loader import load_scenario, shipped_scenarios

SCENARIOS = sorted(shipped_scenarios())


@pytest.mark.parametrize("name", SCENARIOS)
def test_shipped_scenario_runs(name: str) -> None:
    overrides = [] if name == "demo" else ["population.total_firms=20000", "time.end=2022-03"]
    config = load_scenario(name, overrides)
    out = simulate(config, replicate=0)
    cloud = out.total("cloud_cumulative")
    firms = out.total("n_firms")
    assert len(out.dates) == len(cloud) > 1
    assert np.all(np.diff(cloud) >= 0)
    assert np.all(cloud <= firms)
    assert np.all(out.total("transformed") <= out.total("cloud_cumulative"))
    # Every scenario starts from the reported state at its start month (550,000 and 17,000 at
    # 2021-06; 500,000 and 15,000 at 2020-12 for the history scenarios), scaled.
    scale = config.population.total_firms / 2_000_000
    ym = (int(config.time.start[:4]), int(config.time.start[5:7]))
    cloud0 = datasets.interpolate_progress("cloud_enterprises_cumulative", ym)
    trans0 = datasets.interpolate_progress("above_scale_transformed_cumulative", ym)
    assert cloud[0] == pytest.approx(cloud0 * scale, rel=0.01)
    assert out.total("transformed")[0] == pytest.approx(trans0 * scale, rel=0.01)
    assert cloud[-1] > cloud[0]


def test_demo_runs_to_the_goal_date() -> None:
    config = load_scenario("demo")
    assert config.time.end == config.goals.date
