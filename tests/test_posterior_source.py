"""A saved posterior as a scenario's source of parametric uncertainty (jointly drawn rows)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.core import uncertainty
from sim.core.model import simulate
from sim.errors import ScenarioError
from sim.scenario.loader import load_scenario

CLOUD = "diffusion.cloud.market_rate_per_year"
TRANS = "diffusion.transform.market_rate_per_year"


@pytest.fixture()
def posterior_csv(tmp_path: Path) -> Path:
    p = tmp_path / "post.csv"
    p.write_text(f"{CLOUD},{TRANS},weight\n0.01,0.30,1\n0.09,0.05,3\n", encoding="utf-8")
    return p


def test_rows_are_drawn_jointly_by_weight(posterior_csv: Path) -> None:
    cfg = load_scenario("baseline", {"posterior": str(posterior_csv)})
    df = uncertainty.parameters_frame(cfg, range(400))
    assert list(df.columns) == ["replicate", CLOUD, TRANS]
    pairs = set(zip(df[CLOUD], df[TRANS], strict=True))
    assert pairs == {(0.01, 0.30), (0.09, 0.05)}  # never a mixed pair
    share = float((df[CLOUD] == 0.09).mean())
    # weight 3 of 4: binomial s.d. sqrt(0.75 * 0.25 / 400) = 0.022
    assert share == pytest.approx(0.75, abs=0.07)


def test_common_random_numbers_across_scenarios(posterior_csv: Path) -> None:
    a = load_scenario("baseline", {"posterior": str(posterior_csv)})
    b = load_scenario("no_policy_at_all", {"posterior": str(posterior_csv)})
    assert uncertainty.parameters_frame(a, range(50)).equals(uncertainty.parameters_frame(b, range(50)))
    # a list of uncertainties draws the same values with or without a posterior after it
    share = posterior_csv.parent / "share.csv"
    share.write_text("initial.above_scale_cloud_share,weight\n0.4,1\n0.6,1\n", encoding="utf-8")
    listed = uncertainty.parameters_frame(load_scenario("baseline_uncertain", {"posterior": None}), range(20))
    both = uncertainty.parameters_frame(load_scenario("baseline_uncertain", {"posterior": str(share)}), range(20))
    assert both[listed.columns].equals(listed)
    assert set(both["initial.above_scale_cloud_share"]) == {0.4, 0.6}


def test_a_replicate_runs_with_its_drawn_row(posterior_csv: Path) -> None:
    over = {"posterior": str(posterior_csv), "population.total_firms": 3_000, "time.end": "2022-06"}
    cfg = load_scenario("baseline", over)
    drawn = uncertainty.sample_for_replicate(cfg, cfg.run.seed, 2)
    plain = uncertainty.apply(load_scenario("baseline", {"population.total_firms": 3_000, "time.end": "2022-06"}), drawn)
    a, b = simulate(cfg, 2), simulate(plain, 2)
    assert np.array_equal(a.cells, b.cells)


def test_bad_posteriors_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="no posterior 'nonexistent'"):
        load_scenario("baseline", {"posterior": "nonexistent"})
    bad = tmp_path / "bad.csv"
    bad.write_text("diffusion.cloud.no_such_rate,weight\n0.1,1\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match="not a scenario key"):
        load_scenario("baseline", {"posterior": str(bad)})
    noweight = tmp_path / "noweight.csv"
    noweight.write_text(f"{CLOUD}\n0.1\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match="'weight' column"):
        load_scenario("baseline", {"posterior": str(noweight)})


def test_shipped_uncertain_baseline_draws_from_the_record_posterior() -> None:
    cfg = load_scenario("baseline_uncertain")
    assert cfg.posterior == "record"
    df = uncertainty.parameters_frame(cfg, range(30))
    post = pd.read_csv(Path(__file__).resolve().parents[1] / "scenarios" / "posteriors" / "record.csv")
    cols = [c for c in post.columns if c != "weight"]
    # every replicate's set is one row of the posterior (jointly drawn)
    rows = {tuple(r) for r in post[cols].to_numpy()}
    assert all(tuple(r) in rows for r in df[cols].to_numpy())
