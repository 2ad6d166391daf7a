"""Policy questions: what it takes (bisection on a fixed replicate set), attribution by
counterfactual channels, PRIM scenario discovery (numpy peeling and the EMA Workbench)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.analysis.discover import discover
from sim.analysis.prim import find_box, peel
from sim.analysis.questions import CHANNELS, attribution, goal_met, what_it_takes
from sim.errors import RunsFailed, ScenarioError
from sim.scenario.loader import load_scenario
from sim.scenario.paths import set_values

SHORT = {"time.end": "2022-06", "goals.date": "2022-06", "goals.cloud_firms": 750_000}
"""One-year horizon with a goal reachable by raising the market rate."""
LEVER = "diffusion.cloud.market_rate_per_year"


def _synthetic(n: int = 1000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = pd.DataFrame(rng.random((n, 3)), columns=["a", "b", "c"])
    y = ((x.a > 0.6) & (x.b < 0.3)).to_numpy()
    flip = rng.random(n) < 0.03
    return x, y ^ flip


@pytest.mark.parametrize("backend", ["numpy", "ema_workbench"])
def test_prim_finds_the_planted_box(backend: str) -> None:
    if backend == "ema_workbench":
        pytest.importorskip("ema_workbench")
    x, y = _synthetic()
    res = find_box(x, y, threshold=0.8, backend=backend)
    assert res.backend == backend
    box = res.restrictions(x).set_index("input")
    assert set(box.index) >= {"a", "b"}
    assert box.loc["a", "box_min"] == pytest.approx(0.6, abs=0.06)
    assert box.loc["b", "box_max"] == pytest.approx(0.3, abs=0.06)
    assert res.stats.density >= 0.8 and res.stats.coverage >= 0.7
    # The reported statistics are those of the box limits applied to the data.
    b = res.box
    inside = np.all((x >= b.loc["min"]) & (x <= b.loc["max"]), axis=1).to_numpy()
    assert (y & inside).sum() / y.sum() == pytest.approx(res.stats.coverage, abs=0.01)
    assert (y & inside).sum() / inside.sum() == pytest.approx(res.stats.density, abs=0.01)


def test_peeling_trajectory_is_monotone_in_mass() -> None:
    x, y = _synthetic(400, 1)
    traj, boxes = peel(x, y, mass_min=0.1)
    assert traj.mass.is_monotonic_decreasing and traj.mass.iloc[-1] >= 0.1
    assert len(boxes) == len(traj) and traj.coverage.iloc[0] == 1.0


def test_what_it_takes_brackets_the_threshold(tmp_path: Path) -> None:
    res = what_it_takes("baseline", LEVER, goal="cloud", probability=0.75, bounds=(0.0, 0.4),
                        replicates=4, total_firms=10_000, overrides=SHORT, rel_tol=0.02, grid=3,
                        out_dir=tmp_path)
    assert res.status == "found"
    lo, hi = res.bracket
    assert 0.0 < lo < hi <= 0.4 and hi - lo <= 0.02 * 0.4 + 1e-12
    ev = res.evaluations.set_index("lever_value")
    assert ev.loc[lo, "probability"] < 0.75 <= ev.loc[hi, "probability"]
    assert res.interval[0] <= res.probability_at_value <= res.interval[1]
    # Same replicate set outside the search: the found value meets the goal as reported.
    cfg = load_scenario("baseline", {**SHORT, "population.total_firms": 10_000})
    met = goal_met(set_values(cfg, {LEVER: hi}), 4)
    assert met.mean() == res.probability_at_value
    # With common random numbers the probability never decreases with the lever here.
    assert ev.probability.is_monotonic_increasing
    assert (tmp_path / "what_it_takes.png").is_file() and (tmp_path / "what_it_takes.csv").is_file()


def test_what_it_takes_reports_unreachable_goal() -> None:
    res = what_it_takes("baseline", LEVER, bounds=(0.0, 0.01), replicates=2, total_firms=10_000,
                        overrides=SHORT)
    assert res.status == "not_reached" and res.value is None


def test_attribution_adds_up(tmp_path: Path) -> None:
    res = attribution("baseline", replicates=1, total_firms=10_000, overrides={"time.end": "2022-06"},
                      out_dir=tmp_path)
    assert set(res.table.channel) == set(CHANNELS)
    sums = res.table.groupby(["date", "metric"]).agg(att=("attributed", "sum"), full=("new_full", "first"))
    assert np.allclose(sums.att, sums.full)
    fin = res.final[res.final.metric == "cloud_cumulative"].set_index("channel")
    assert fin.new_full.iloc[0] > 0
    assert fin.loc["market", "raw"] > 0 and fin.loc["policy", "raw"] > 0
    assert np.isclose(fin.share.sum(), 1.0)
    assert (tmp_path / "attribution.png").is_file()


def test_discover_runs_prim_on_the_sweep(tmp_path: Path) -> None:
    res = discover("baseline", n_samples=24, total_firms=10_000, overrides=SHORT, seed=2,
                   out_dir=tmp_path)
    assert len(res.cases) == 24 and res.cases.index.name == "row"
    # Low market rates miss the goal more often than high ones.
    low = res.cases["cloud.market_rate_per_year"] < 0.06
    assert res.cases.missed[low].mean() >= res.cases.missed[~low].mean()
    # The reported coverage and density are those of the selected box on these cases.
    box = res.prim.box
    inside = np.ones(len(res.cases), dtype=bool)
    for col in box.columns:
        inside &= res.cases[col].between(box.loc["min", col], box.loc["max", col]).to_numpy()
    y = res.cases.missed.to_numpy()
    assert y.any() and inside.any()
    assert res.prim.stats.coverage == pytest.approx((y & inside).sum() / y.sum())
    assert res.prim.stats.density == pytest.approx((y & inside).sum() / inside.sum())
    assert res.prim.stats.mass == pytest.approx(inside.mean())
    assert (tmp_path / "prim_box.csv").is_file()


# --------------------------------------------------------------------------- executors


@pytest.fixture(scope="module")
def pool():
    """Two worker processes shared by the tests below (left open by the functions)."""
    from sim.runs.executors import ProcessExecutor

    with ProcessExecutor(2) as ex:
        yield ex


def _csv(df: pd.DataFrame) -> str:
    return df.to_csv(lineterminator="\n")


def test_what_it_takes_is_the_same_on_processes(pool) -> None:
    kw = dict(goal="cloud", probability=0.75, bounds=(0.0, 0.4), replicates=3, total_firms=5_000,
              overrides=SHORT, rel_tol=0.05, grid=3)
    serial = what_it_takes("baseline", LEVER, **kw)
    pooled = what_it_takes("baseline", LEVER, **kw, executor=pool)
    assert _csv(serial.evaluations) == _csv(pooled.evaluations)
    assert (serial.status, serial.value, serial.bracket, serial.interval) == \
        (pooled.status, pooled.value, pooled.bracket, pooled.interval)


def test_attribution_is_the_same_on_processes(pool) -> None:
    kw = dict(replicates=2, total_firms=5_000, overrides={"time.end": "2022-06"})
    serial = attribution("baseline", **kw)
    pooled = attribution("baseline", **kw, executor=pool)
    assert _csv(serial.table) == _csv(pooled.table)
    assert _csv(serial.interaction) == _csv(pooled.interaction)


def test_discover_is_the_same_on_processes(pool) -> None:
    kw = dict(n_samples=10, replicates=2, total_firms=5_000, overrides=SHORT, seed=2)
    done: list[int] = []
    serial = discover("baseline", **kw)
    pooled = discover("baseline", **kw, executor=pool, progress=lambda k, n: done.append(k))
    assert _csv(serial.cases) == _csv(pooled.cases) and _csv(serial.box) == _csv(pooled.box)
    assert done == list(range(1, 11))


def test_failed_runs_in_workers_are_recorded_with_their_own_error() -> None:
    with pytest.raises(RunsFailed) as info:
        attribution("baseline", replicates=1, total_firms=5_000, workers=2,
                    overrides={"time.end": "2022-06", "initial.cloud_firms": 1_000_000})
    fails = info.value.failures
    assert len(fails) == info.value.total == 5  # the full run and four counterfactuals
    assert {f["error_type"] for f in fails} == {"ValueError"} and all("exceeds" in f["message"] for f in fails)


@pytest.mark.parametrize("call, text", [
    (lambda: what_it_takes("baseline", LEVER, probability=1.5, overrides=SHORT),
     "probability: probability: got 1.5: out of range; allowed: a number 0 < x < 1"),
    (lambda: what_it_takes("baseline", "policies.vouchers.budget_cny", overrides=SHORT),
     "lever_path: policies.vouchers.budget_cny: unknown key 'budget_cny'"),
    (lambda: what_it_takes("baseline", LEVER, bounds=(0.4, 0.1), overrides=SHORT),
     f"bounds: {LEVER}: got 0.4 0.1: the lower bound must be below the upper"),
    (lambda: what_it_takes("baseline", LEVER, bounds=(-1, 0.1), overrides=SHORT),
     f"bounds: {LEVER}: got -1.0: input should be greater than or equal to 0"),
    (lambda: what_it_takes("baseline", LEVER, overrides={"time.end": "2022-06"}),
     "baseline: goals.date: 2025-12 is outside the run 2021-06 to 2022-06"),
    (lambda: discover("baseline", n_samples=1, overrides=SHORT), "n_samples: n_samples: got 1: too small"),
    (lambda: discover("baseline", threshold=0, overrides=SHORT), "threshold: threshold: got 0: out of range"),
    (lambda: attribution("baseline", replicates=0, overrides=SHORT), "replicates: replicates: got 0: too small"),
])
def test_bad_input_through_the_api_is_the_command_lines_one_line_error(call, text) -> None:
    with pytest.raises(ScenarioError) as info:
        call()
    assert str(info.value).startswith(text) and "\n" not in str(info.value)
