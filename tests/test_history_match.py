"""History match: the ABC-SMC posterior of the model given the record (small and fast here)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.analysis import history_match as hm
from sim.analysis import observation
from sim.scenario.loader import load_scenario

PARAMS = (hm.Parameter("cloud_market_rate", ("diffusion.cloud.market_rate_per_year",), 0.0, 0.15),
          hm.Parameter("transform_peer_weight", ("diffusion.transform.chain_weight_per_year",
                                                 "diffusion.transform.park_weight_per_year"), 0.0, 0.4))


@pytest.fixture(scope="module")
def match() -> hm.MatchResult:
    base = load_scenario("baseline")
    return hm.history_match(base, params=PARAMS, published_by="2021-12", end="2022-06", start="2020-12",
                            overrides=hm.IN_FORCE_SINCE_2018, total_firms=5_000, particles=12,
                            generations=3, max_simulations=60, seed=5)


def test_match_uses_the_figures_published_by_the_origin(match: hm.MatchResult) -> None:
    assert [f.row for f in match.figures] == [3, 4, 5, 6]
    g = match.abc.generations
    assert g["generation"].iloc[0] == 0 and np.isinf(g["tolerance"].iloc[0])
    assert (g["simulations"].sum() <= 60) and g["tolerance"].iloc[1:].is_monotonic_decreasing
    # every kept particle was simulated within the tolerance of its generation
    last = g[g["complete"]].iloc[-1]
    assert np.all(match.abc.distances <= last["tolerance"])
    # the kept series reproduce the distances (the observation model is the one distance)
    series = {m: match.series(m) for m in hm.METRICS}
    d = observation.total_distance(match.figures, match.dates, series)
    assert np.allclose(d, match.abc.distances, rtol=1e-5)


def test_posterior_frame_ties_paths_and_sums_to_one(match: hm.MatchResult, tmp_path) -> None:
    df = match.posterior_frame()
    assert list(df.columns) == ["diffusion.cloud.market_rate_per_year", "diffusion.transform.chain_weight_per_year",
                                "diffusion.transform.park_weight_per_year", "weight"]
    assert np.array_equal(df.iloc[:, 1], df.iloc[:, 2])
    assert df["weight"].sum() == pytest.approx(1.0)
    back = pd.read_csv(hm.save_posterior(match, tmp_path / "p.csv"))
    assert np.allclose(back.to_numpy(), df.to_numpy())


def test_predictive_table_against_every_figure(match: hm.MatchResult) -> None:
    series = {m: match.series(m) for m in hm.METRICS}
    t = hm.predictive_table(match.dates, series, match.abc.weights, observation.figures())
    # figures with a value inside the simulated months 2020-12..2022-06 (targets excluded)
    assert t["row"].tolist() == [1, 2, 3, 4, 5, 6, 12, 13]
    assert (t["p05"] <= t["p50"]).all() and (t["p50"] <= t["p95"]).all()
    assert t.loc[t["row"] == 1, "p50"].item() == pytest.approx(500_000)  # the initial state
    assert t["consistent"].between(0, 1).all()


def test_match_runs_on_the_batch_path(match: hm.MatchResult) -> None:
    """The particles' runs cycle over STRUCTURE_POOL cached structures (readiness redrawn per
    particle), and a kept particle's series is what a fresh run of it gives (same bytes)."""
    from sim.core import batch
    from sim.core.model import simulate
    from sim.core.population import build_population
    from sim.core.seeds import replicate_structure_seed

    assert match.config.population.structure_pool == hm.STRUCTURE_POOL
    assert int(match.abc.generations["simulations"].sum()) > hm.STRUCTURE_POOL  # so structures were reused
    assert hm.DATA_PRECISION == observation.REPORTING_REL_SD
    i = int(np.argmax(match.keys))  # the latest run: its structure came from the cache
    cfg = hm.uncertainty.apply(match.config, hm.values_of(match.params, match.abc.particles[i]))
    key = int(match.keys[i])
    pop = build_population(cfg, replicate_structure_seed(cfg, cfg.run.seed, key))  # no cache
    fresh = simulate(cfg, key, population=pop).total("transformed") * hm.scale_up(cfg)
    np.testing.assert_array_equal(fresh.astype(np.float32), match.series("transformed")[i])
    assert batch.structure_index(cfg, key) == key % hm.STRUCTURE_POOL


def test_runs_stopped_at_a_checkpoint_would_have_been_rejected(match: hm.MatchResult) -> None:
    """A run that misses a figure by more than the batch's tolerance stops at that month; the same
    run to the end misses by at least as much, and runs that get through are the same bytes."""
    rng = np.random.default_rng(0)
    lo, hi = np.array([p.lower for p in PARAMS]), np.array([p.upper for p in PARAMS])
    thetas = lo + rng.random((8, len(PARAMS))) * (hi - lo)
    keys = np.arange(500, 508)
    assert hm.checkpoints(match.figures, match.dates) == [6, 12]  # 2021-06 and 2021-12 from 2020-12
    dates, full = hm.simulate_particles(match.config, PARAMS, thetas, keys)
    stacked = {m: np.stack([r[m] for r in full]) for m in hm.METRICS}
    d_full = observation.total_distance(match.figures, dates, stacked)
    tol = float(np.median(d_full))
    _, staged = hm.simulate_particles(match.config, PARAMS, thetas, keys, figures=match.figures, tolerance=tol)
    stopped = np.array(["distance" in r for r in staged])
    assert stopped.any() and not stopped.all()
    for r, f, d in zip(staged, full, d_full, strict=True):
        if "distance" in r:
            assert tol < r["distance"] <= d + 1e-12
        else:
            assert d <= tol
            for m in hm.METRICS:
                np.testing.assert_array_equal(r[m], f[m])
