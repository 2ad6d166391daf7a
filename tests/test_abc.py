"""ABC-SMC against a posterior known in closed form."""

from __future__ import annotations

import numpy as np
import pytest

from sim.analysis.abc import Simulation, abc_smc, weighted_quantile

Y_OBS = 1.0


def gaussian(thetas: np.ndarray, keys: np.ndarray, tolerance: float = np.inf) -> Simulation:
    """x ~ N(theta, 1) with the noise of each key drawn from its own SeedSequence."""
    noise = np.array([np.random.default_rng(np.random.SeedSequence(7, spawn_key=(int(k),))).standard_normal()
                      for k in keys])
    x = thetas[:, 0] + noise
    return Simulation(np.abs(x - Y_OBS), keep=list(x))


@pytest.mark.parametrize("kernel", ["olcm", "scaled"])
def test_recovers_the_normal_posterior(kernel: str) -> None:
    # prior U(-10, 10), x ~ N(theta, 1), observed 1: the posterior as eps -> 0 is N(1, 1).
    # At tolerance eps it is the prior times P(|x - 1| <= eps): variance 1 + eps^2 / 3.
    res = abc_smc(gaussian, ["theta"], np.array([-10.0]), np.array([10.0]), particles=400,
                  generations=15, min_tolerance=0.1, max_simulations=40_000, seed=3, kernel=kernel)
    g = res.generations
    assert g["complete"].all()
    assert g["tolerance"].iloc[0] == np.inf and g["tolerance"].is_monotonic_decreasing
    assert g["tolerance"].iloc[-1] == pytest.approx(0.1) and not res.budget_exhausted
    assert g["acceptance_rate"].iloc[-1] < g["acceptance_rate"].iloc[1] <= 1.0
    mean = float(res.particles[:, 0] @ res.weights)
    sd = float(np.sqrt(((res.particles[:, 0] - mean) ** 2) @ res.weights))
    # Monte Carlo error of a mean over ESS ~ 300 particles: 1 / sqrt(300) = 0.06
    assert res.ess > 150
    assert mean == pytest.approx(1.0, abs=0.2)
    assert sd == pytest.approx(1.0, abs=0.15)
    assert np.all(res.distances <= 0.1)
    assert np.allclose(np.abs(np.array(res.kept) - Y_OBS), res.distances)
    # the weighted quantiles of N(1, 1): 5% at -0.645, 95% at 2.645
    q = weighted_quantile(res.particles[:, 0], res.weights, [0.05, 0.95])
    assert q[0] == pytest.approx(-0.645, abs=0.3) and q[1] == pytest.approx(2.645, abs=0.3)


def test_same_seed_same_posterior_and_budget_stop() -> None:
    kw = dict(particles=50, generations=10, min_tolerance=0.0, max_simulations=400, seed=1)
    a = abc_smc(gaussian, ["theta"], np.array([-10.0]), np.array([10.0]), **kw)
    b = abc_smc(gaussian, ["theta"], np.array([-10.0]), np.array([10.0]), **kw)
    assert np.array_equal(a.particles, b.particles) and np.array_equal(a.weights, b.weights)
    assert int(a.generations["simulations"].sum()) <= 400
    # the budget ran out inside a generation: the result is the last complete one
    assert a.budget_exhausted and not a.generations["complete"].iloc[-1]
    assert len(a.particles) == 50 and a.generations["complete"].iloc[-2]
    assert a.summary()["parameter"].tolist() == ["theta"]


def test_stop_ends_at_the_last_complete_generation_and_a_rerun_reproduces_it() -> None:
    calls = {"n": 0}

    def stop() -> bool:  # a deadline reached among the third generation's batches
        calls["n"] += 1
        return calls["n"] > 12

    kw = dict(particles=50, generations=12, min_tolerance=0.0, max_simulations=20_000, seed=2, max_batch=40)
    a = abc_smc(gaussian, ["theta"], np.array([-10.0]), np.array([10.0]), stop=stop, **kw)
    assert a.budget_exhausted and not a.generations["complete"].iloc[-1]
    done = int(a.generations["complete"].sum())
    assert 2 <= done < 12
    b = abc_smc(gaussian, ["theta"], np.array([-10.0]), np.array([10.0]), **(kw | {"generations": done}))
    assert np.array_equal(a.particles, b.particles) and np.array_equal(a.weights, b.weights)
    with pytest.raises(ValueError, match="unknown kernel"):
        abc_smc(gaussian, ["theta"], np.array([-10.0]), np.array([10.0]), kernel="wide")
