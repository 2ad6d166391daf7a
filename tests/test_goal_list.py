"""Goals as a list (goals.more): every listed goal is read from the run and evaluated.

Values are checked against recounts from the run's own cells (not pinned numbers); the old
two-goal form keeps reading as before.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.analysis.goal_list import listed_goal_outcomes, listed_goals, scaled_count
from sim.analysis.summary import summarize
from sim.core.model import simulate
from sim.core.outputs import tidy_timeseries
from sim.core.policies import cell_grid
from sim.errors import ScenarioError
from sim.scenario.loader import load_scenario
from sim.scenario.schema import Scenario

N_FIRMS = 20_000
MORE = [
    {"indicator": "sme_cloud_rate", "value": 0.4, "date": "2023-12", "scope": "national; SMEs"},
    {"indicator": "sme_cloud_rate", "value": 0.4, "date": "2023-12", "denominator_firms": 7_745_000},
    {"indicator": "transformed_firms_added", "value": 5_000, "date": "2023-12"},
    {"indicator": "cloud_firms_added", "value": 100_000, "date": "2022-03"},  # only 9 months in the run
    {"indicator": "cloud_firms", "value": 900_000, "date": "2030-12"},       # outside the run
    {"indicator": "transformed_rate", "value": 0.3, "date": "2022-12"},
]


@pytest.fixture(scope="module")
def run():
    config = Scenario.model_validate({"population": {"total_firms": N_FIRMS}, "time": {"end": "2023-12"},
                                      "goals": {"date": "2023-12", "more": MORE}})
    out = simulate(config, replicate=0)
    return config, out, tidy_timeseries(out)


def test_old_two_goal_form_still_reads() -> None:
    old = Scenario.model_validate({"goals": {"date": "2024-12", "cloud_firms": 900_000}})
    assert (old.goals.date, old.goals.cloud_firms, old.goals.transformed_firms) == ("2024-12", 900_000, 50_000)
    assert old.goals.more == []
    assert [g.indicator for g in listed_goals(old)] == ["cloud_firms", "transformed_firms"]


def test_every_listed_goal_is_read_from_the_run(run) -> None:
    config, out, ts = run
    lo = listed_goal_outcomes(ts, config).set_index("goal")
    assert len(lo) == 2 + len(MORE)
    months = [d[:7] for d in out.dates]
    k23 = months.index("2023-12")
    _, _, size = cell_grid()
    cells = out.cells[k23]
    sme = size >= 2
    sme_rate = cells[sme, 1].sum() / cells[sme, 0].sum()
    assert lo.loc["sme_cloud_rate>=0.4@2023-12", "value"].iloc[0] == pytest.approx(sme_rate)
    scaled_den = 7_745_000 * N_FIRMS / 2_000_000
    assert lo.loc["sme_cloud_rate>=0.4@2023-12", "value"].iloc[1] == pytest.approx(cells[sme, 1].sum() / scaled_den)
    added = out.total("new_transformed")[k23 - 11:k23 + 1].sum()
    assert lo.loc["transformed_firms_added>=5000@2023-12", "value"] == added
    assert lo.loc["transformed_firms_added>=5000@2023-12", "target"] == scaled_count(5_000, N_FIRMS) == 50
    assert lo.loc["transformed_firms_added>=5000@2023-12", "met"] == (added >= 50)
    k22 = months.index("2022-12")
    above = size <= 1
    assert lo.loc["transformed_rate>=0.3@2022-12", "value"] == pytest.approx(
        out.cells[k22][above, 3].sum() / out.cells[k22][above, 0].sum())
    # Not evaluable: a flow whose 12 months are not all in the run, a date after the run.
    for label in ("cloud_firms_added>=100000@2022-03", "cloud_firms>=900000@2030-12"):
        assert np.isnan(lo.loc[label, "value"]) and pd.isna(lo.loc[label, "met"])
    # The headline goals follow the same rule.
    assert lo.loc["cloud_firms>=1000000@2023-12", "target"] == scaled_count(1_000_000, N_FIRMS)


def test_summary_has_a_row_for_every_further_goal(run) -> None:
    config, _, ts = run
    s = summarize(ts, config).set_index("outcome")
    assert "p_meet:transformed_firms_added>=5000@2023-12" in s.index
    assert s.loc["goal:sme_cloud_rate>=0.4@2023-12", "unit"].iloc[0] == "share"
    assert "not evaluable" in s.loc["goal:cloud_firms>=900000@2030-12", "note"]


@pytest.mark.parametrize(("goal", "what"), [
    ("{indicator: sme_cloud_rate, value: 40, date: 2027-12}", "value must be in [0, 1]"),
    ("{indicator: cloud_firms, value: 5, date: 2027-12, denominator_firms: 10}", "applies to the rates"),
    ("{indicator: cloud_share, value: 0.4, date: 2027-12}", "indicator"),
    ("{indicator: cloud_firms, value: 5, date: 2027-13}", "YYYY-MM"),
])
def test_bad_goals_are_one_line_errors(tmp_path: Path, goal: str, what: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(f"goals:\n  more:\n    - {goal}\n", encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{path}: goals.more")
    assert what in message
