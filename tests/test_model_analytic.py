"""Verification of the diffusion core against exact results (``sim/data/validation_reference.md``).

In the degenerate configuration of ``conftest.py`` (one homogeneous group, no entry, no policy,
nobody adopted at the start) the firm-level model reduces to textbook diffusion models:

* complete mixing (province-wide share, weight q) -> Bass (1969), section 1;
* a ring with two-sided weights q/2 -> Fibich & Gibori (2010), section 3;
* two groups with their own p and q -> the two-group ODE (Fibich, Golan & Schochet 2023), s. 4;
* q = 0 -> pure external influence 1 - exp(-pt), section 5.

Which discrete map the model follows (section 2). Each firm draws one threshold
theta ~ Exp(1) and adopts in the first step in which its cumulative hazard Lambda reaches it.
With homogeneous firms every non-adopter has the same Lambda_k, so the adopted share is exactly
the empirical CDF of the thresholds at Lambda_k:

    Lambda_{k+1} = Lambda_k + (p + q F_k) dt,        F_k = G_N(Lambda_k).

With G_N replaced by its expectation 1 - exp(-Lambda):

    F_{k+1} = F_k + (1 - F_k) (1 - exp(-(p + q F_k) dt)),

i.e. the per-step probability ``1 - exp(-h dt)`` from the start-of-step share ("exponential
map"), not the linear map ``F_{k+1} = F_k + (p + q F_k)(1 - F_k) dt`` quoted in section 2. At
monthly steps the exponential map lags the continuous Bass curve by up to 0.0092 (the linear
map by 0.0060); at ``substeps_per_month = 10`` by 0.0009. The tests below check the model
against the map with the realized thresholds (exact), against the mean-field map (a few seeds),
and against the continuous curves.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from sim import datasets
from sim.core.model import CloudAdoptionModel
from sim.core.policies import N_CITIES, N_SIZE

P, Q = 0.03, 0.38
N_FIRMS = 100_000
MONTHS = 120
T = np.arange(MONTHS + 1) / 12.0
"""Time in years of every recorded month (index 0 = initial state)."""
YEARS = np.arange(1, 11)
SEEDS = (0, 1, 2, 3)
"""Replicates averaged for the Bass checks."""

BASS_REFERENCE = [0.0358, 0.0851, 0.1505, 0.2332, 0.3312, 0.4392, 0.5490, 0.6517, 0.7407, 0.8128]
BASS_T50, BASS_PEAK, BASS_F_PEAK = 6.550, 6.193, 0.4605
RING_REFERENCE = [0.0350, 0.0791, 0.1305, 0.1875, 0.2485, 0.3116, 0.3755, 0.4386, 0.4998, 0.5583]
RING_T50 = 9.003
TWO_GROUP_W = (0.5, 0.5)
TWO_GROUP_P = (0.01, 0.05)
TWO_GROUP_Q = (0.20, 0.56)
TWO_GROUP_REFERENCE = {6: 0.4007, 10: 0.7164}
TWO_GROUP_T50 = 7.084


# --------------------------------------------------------------------------- analytic curves


def bass(t: np.ndarray | float, p: float = P, q: float = Q) -> np.ndarray:
    """Bass (1969) adopted share F(t) with F(0) = 0."""
    e = np.exp(-(p + q) * np.asarray(t, dtype=float))
    return (1.0 - e) / (1.0 + (q / p) * e)


def ring(t: np.ndarray | float, p: float = P, q: float = Q) -> np.ndarray:
    """Fibich & Gibori (2010) adopted share on a ring (one-sided q or two-sided q/2)."""
    t = np.asarray(t, dtype=float)
    return 1.0 - np.exp(-(p + q) * t + (q / p) * (1.0 - np.exp(-p * t)))


def exponential_map(dt: float, n_steps: int, p: float = P, q: float = Q) -> np.ndarray:
    """F_{k+1} = F_k + (1 - F_k)(1 - exp(-(p + q F_k) dt)), F_0 = 0 (what the model implements)."""
    f = np.zeros(n_steps + 1)
    for k in range(n_steps):
        f[k + 1] = f[k] + (1.0 - f[k]) * -np.expm1(-(p + q * f[k]) * dt)
    return f


def linear_map(dt: float, n_steps: int, p: float = P, q: float = Q) -> np.ndarray:
    """F_{k+1} = F_k + (p + q F_k)(1 - F_k) dt (explicit Euler; validation_reference.md s. 2)."""
    f = np.zeros(n_steps + 1)
    for k in range(n_steps):
        f[k + 1] = f[k] + (p + q * f[k]) * (1.0 - f[k]) * dt
    return f


def two_group(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Solve dF_k/dt = (1 - F_k)(p_k + q_k sum_j w_j F_j); returns (per-group F, total F)."""
    w, p, q = (np.array(x) for x in (TWO_GROUP_W, TWO_GROUP_P, TWO_GROUP_Q))

    def rhs(_t, f):
        return (1.0 - f) * (p + q * (w @ f))

    sol = solve_ivp(rhs, (0.0, float(t[-1])), np.zeros(2), t_eval=t, rtol=1e-10, atol=1e-12)
    return sol.y, w @ sol.y


def crossing_time(f: np.ndarray, level: float, t: np.ndarray = T) -> float:
    """First time a monotone curve reaches ``level`` (linear interpolation between samples)."""
    k = int(np.argmax(f >= level))
    assert f[k] >= level > f[0], "the curve never reaches the level"
    return float(t[k - 1] + (level - f[k - 1]) / (f[k] - f[k - 1]) * (t[k] - t[k - 1]))


def peak_time(f: np.ndarray, half_window: int = 36) -> float:
    """Time of the maximum adoption rate: vertex of a parabola fitted to the monthly increments
    within ``half_window`` months of the maximum of their 13-month moving average."""
    rate = np.diff(f) * 12.0
    mid = (np.arange(rate.size) + 0.5) / 12.0
    k = int(np.argmax(np.convolve(rate, np.ones(13) / 13.0, mode="same")))
    sel = slice(max(k - half_window, 0), k + half_window + 1)
    a, b, _ = np.polyfit(mid[sel], rate[sel], 2)
    return float(-b / (2.0 * a))


# --------------------------------------------------------------------------- model runs


def adopted_share(model: CloudAdoptionModel) -> np.ndarray:
    """Run ``model`` and return cumulative adopters / firms for every month."""
    out = model.run()
    return out.total("cloud_cumulative") / out.total("n_firms")


def replay_thresholds(thresholds: np.ndarray, p: float, q: float, substeps: int,
                      months: int = MONTHS) -> np.ndarray:
    """Adopters per month predicted from the realized thresholds (float32 like the model).

    Lambda_{k+1} = Lambda_k + (p + q F_k) dt and F_k = #{theta <= Lambda_k} / (N - 1): the
    share among the deciding firm's peers (the firm itself is not among the adopters).
    """
    thr = np.sort(thresholds)
    n = thr.size
    dt = np.float32(1.0 / (12 * substeps))
    lam, adopted, counts = np.float32(0.0), 0, [0]
    for _ in range(months):
        for _ in range(substeps):
            h = np.float32(p) + np.float32(q * (adopted / (n - 1)))
            lam = np.float32(lam + h * dt)
            adopted = int(np.searchsorted(thr, lam, side="right"))
        counts.append(adopted)
    return np.array(counts, dtype=float)


@pytest.fixture(scope="module")
def bass_runs(make_degenerate) -> dict[int, dict[str, list[np.ndarray]]]:
    """Bass runs for substeps 10 and 1, same replicates (common random numbers)."""
    runs: dict[int, dict[str, list[np.ndarray]]] = {}
    for substeps in (10, 1):
        cfg = make_degenerate(P, Q, substeps=substeps)
        curves, counts, thresholds = [], [], []
        for r in SEEDS:
            model = CloudAdoptionModel(cfg, replicate=r)
            out = model.run()
            counts.append(out.total("cloud_cumulative"))
            curves.append(counts[-1] / out.total("n_firms"))
            thresholds.append(model.state.thr_cloud.copy())
        runs[substeps] = {"curves": curves, "counts": counts, "thresholds": thresholds}
    return runs


@pytest.fixture(scope="module")
def ring_runs(make_degenerate) -> list[np.ndarray]:
    cfg = make_degenerate(P, Q, network="ring")
    return [adopted_share(CloudAdoptionModel(cfg, replicate=r)) for r in (0, 1)]


# --------------------------------------------------------------------------- the references


def test_reference_values_follow_from_the_formulas():
    """The numbers quoted in validation_reference.md agree with the formulas used here."""
    assert np.allclose(bass(YEARS), BASS_REFERENCE, atol=5e-5)
    assert np.log(Q / P) / (P + Q) == pytest.approx(BASS_PEAK, abs=5e-4)
    assert (Q - P) / (2 * Q) == pytest.approx(BASS_F_PEAK, abs=5e-5)
    assert np.log(2 + Q / P) / (P + Q) == pytest.approx(BASS_T50, abs=5e-4)
    assert np.allclose(ring(YEARS), RING_REFERENCE, atol=5e-5)
    fine = np.linspace(0, 12, 12_001)
    assert crossing_time(ring(fine), 0.5, fine) == pytest.approx(RING_T50, abs=5e-4)
    _, total = two_group(fine)
    for year, value in TWO_GROUP_REFERENCE.items():
        assert total[year * 1000] == pytest.approx(value, abs=5e-5)
    assert crossing_time(total, 0.5, fine) == pytest.approx(TWO_GROUP_T50, abs=5e-4)
    # section 2: the linear map at annual steps and its gap to the continuous curve
    lin_annual = linear_map(1.0, 10)
    assert np.allclose(lin_annual[1:], [0.0300, 0.0702, 0.1228, 0.1901, 0.2729, 0.3701, 0.4776,
                                        0.5881, 0.6925, 0.7826], atol=5e-5)
    assert np.abs(lin_annual - bass(np.arange(11))).max() == pytest.approx(0.071, abs=5e-4)
    assert np.abs(linear_map(1 / 12, MONTHS) - bass(T)).max() == pytest.approx(0.006, abs=5e-4)


def test_degenerate_configuration_is_homogeneous(make_degenerate):
    """The conftest configuration really removes heterogeneity, entry, links and initial adopters."""
    cfg = make_degenerate(P, Q, substeps=1, years=1)
    model = CloudAdoptionModel(cfg)
    pop = model.pop
    assert pop.n_firms == pop.n_initial == N_FIRMS
    assert np.all(pop.n_present == N_FIRMS)
    assert np.all(pop.readiness == 1.0), "cluster_assumptions.csv readiness must be overridden"
    assert np.all(pop.cluster == 0)
    assert pop.adj_indices.size == 0
    assert model.cube[0, :, 1].sum() == 0 and model.cube[0, :, 3].sum() == 0


# --------------------------------------------------------------------------- Bass (section 1)


def test_bass_mean_curve(bass_runs):
    """Mean of 4 seeds at N = 10^5, dt = 1/120 yr: within 0.005 of Bass at every month."""
    mean = np.mean(bass_runs[10]["curves"], axis=0)
    assert np.abs(mean - bass(T)).max() < 0.005  # measured 0.0016 (single seeds 0.0026-0.0066)
    assert np.abs(mean[12::12] - BASS_REFERENCE).max() < 0.005  # measured 0.0013


def test_bass_half_adoption_and_peak_time(bass_runs):
    mean = np.mean(bass_runs[10]["curves"], axis=0)
    assert crossing_time(mean, 0.5) == pytest.approx(BASS_T50, abs=0.05)  # measured 6.559
    assert peak_time(mean) == pytest.approx(BASS_PEAK, abs=0.1)  # measured 6.24; sd of a 4-seed mean 0.022
    # the peak estimator recovers the analytic peak from the exact curve
    assert peak_time(bass(T)) == pytest.approx(BASS_PEAK, abs=0.02)


@pytest.mark.parametrize("substeps", [1, 10])
def test_threshold_method_replays_the_realized_map(bass_runs, substeps):
    """With the realized thresholds the model is a deterministic map (section 2 derivation)."""
    runs = bass_runs[substeps]
    for counts, thresholds in zip(runs["counts"], runs["thresholds"], strict=True):
        predicted = replay_thresholds(thresholds, P, Q, substeps)
        assert np.abs(predicted - counts).max() <= 2  # measured 0 (identical)


# --------------------------------------------------------------------------- time step (section 2)


def test_monthly_steps_follow_the_exponential_map(bass_runs):
    """At monthly steps the mean curve follows the exponential map, not the linear map."""
    exp1, exp10 = exponential_map(1 / 12, MONTHS), exponential_map(1 / 120, 10 * MONTHS)[::10]
    lin1, lin10 = linear_map(1 / 12, MONTHS), linear_map(1 / 120, 10 * MONTHS)[::10]
    mean1 = np.mean(bass_runs[1]["curves"], axis=0)
    assert np.abs(mean1 - exp1).max() < 0.004  # measured 0.0014 (sampling noise)
    # Common random numbers: the difference substeps 1 - substeps 10 of one seed is nearly
    # free of sampling noise and discriminates between the two maps.
    for c1, c10 in zip(bass_runs[1]["curves"], bass_runs[10]["curves"], strict=True):
        diff = c1 - c10
        assert np.abs(diff - (exp1 - exp10)).max() < 0.0015  # measured <= 0.0009
        assert np.abs(diff - (lin1 - lin10)).max() > 0.003  # measured >= 0.0045


def test_monthly_gap_to_continuous_bass_and_its_shrinking(bass_runs):
    """Gap to the continuous curve: ~0.008-0.009 at monthly steps, 6x smaller at 10 substeps."""
    gap_map = np.abs(exponential_map(1 / 12, MONTHS) - bass(T)).max()
    assert gap_map == pytest.approx(0.0092, abs=2e-4)
    gap1 = np.abs(np.mean(bass_runs[1]["curves"], axis=0) - bass(T)).max()
    gap10 = np.abs(np.mean(bass_runs[10]["curves"], axis=0) - bass(T)).max()
    assert 0.005 < gap1 < 0.012  # measured 0.0095
    assert gap10 < 0.5 * gap1  # measured 0.0016
    # the model lags the continuous curve (the map is biased downwards)
    assert np.all(np.mean(bass_runs[1]["curves"], axis=0)[12:] < bass(T)[12:])


# --------------------------------------------------------------------------- q = 0 (section 5)


def test_pure_external_influence(make_degenerate):
    """q = 0: F = 1 - exp(-pt) up to sampling error, with no time-step error at all."""
    p = 0.1
    expected = 1.0 - np.exp(-p * T)
    sd = np.sqrt(expected * (1 - expected) / N_FIRMS)
    shares = {}
    for substeps in (1, 10):
        model = CloudAdoptionModel(make_degenerate(p, 0.0, substeps=substeps), replicate=5)
        shares[substeps] = adopted_share(model)
        assert np.all(np.abs(shares[substeps] - expected) <= 4 * sd + 1e-12)
        # exactly the firms whose threshold is below p t (float32 rounding aside)
        exact = np.array([np.count_nonzero(model.state.thr_cloud <= np.float32(p * t)) for t in T]) / N_FIRMS
        assert np.abs(shares[substeps] - exact).max() <= 3 / N_FIRMS
    # the same thresholds give the same curve whatever the step
    assert np.abs(shares[1] - shares[10]).max() <= 3 / N_FIRMS


# --------------------------------------------------------------------------- ring (section 3)


def test_ring_matches_fibich_gibori(ring_runs):
    mean = np.mean(ring_runs, axis=0)
    assert np.abs(mean - ring(T)).max() < 0.005  # measured 0.0010 (2 seeds), 0.003 per seed
    assert np.abs(mean[12::12] - RING_REFERENCE).max() < 0.005
    assert crossing_time(mean, 0.5) == pytest.approx(RING_T50, abs=0.1)


def test_pure_external_below_ring_below_bass(bass_runs, ring_runs):
    """Ordering of section 3: no peers < ring (local) < complete mixing, at every month."""
    t = T[12:]
    ring_mean = np.mean(ring_runs, axis=0)[12:]
    bass_mean = np.mean(bass_runs[10]["curves"], axis=0)[12:]
    assert np.all(1 - np.exp(-P * t) < ring_mean)
    assert np.all(ring_mean < bass_mean)
    assert bass_mean[-1] - ring_mean[-1] > 0.2  # 0.81 vs 0.56 at ten years


# --------------------------------------------------------------------------- two groups (section 4)


def test_two_group_ode(make_degenerate):
    """Two clusters at 1/2 each, p = (0.01, 0.05), q = (0.20, 0.56), influence from the total."""
    a, b = datasets.cluster_ids()[:2]
    cfg = make_degenerate(
        1.0, 1.0, groups={a: 0.5, b: 0.5},
        market_multiplier={a: TWO_GROUP_P[0], b: TWO_GROUP_P[1]},
        peer_multiplier={a: TWO_GROUP_Q[0], b: TWO_GROUP_Q[1]},
    )
    per_cell = N_CITIES * N_SIZE
    totals, groups = [], []
    for r in (0, 1, 2):
        out = CloudAdoptionModel(cfg, replicate=r).run()
        totals.append(out.total("cloud_cumulative") / out.total("n_firms"))
        cum = out.cells[:, :, 1].reshape(MONTHS + 1, -1, per_cell).sum(axis=2)
        n = out.cells[:, :, 0].reshape(MONTHS + 1, -1, per_cell).sum(axis=2)
        assert np.all(n[:, 2:] == 0)  # only the two clusters hold firms
        groups.append(cum[:, :2] / n[:, :2])
    total = np.mean(totals, axis=0)
    group = np.mean(groups, axis=0)
    ode_groups, ode_total = two_group(T)
    for year, value in TWO_GROUP_REFERENCE.items():
        assert total[12 * year] == pytest.approx(value, abs=0.005)  # measured 0.4018, 0.7179
    assert np.abs(total - ode_total).max() < 0.005
    assert np.abs(group - ode_groups.T).max() < 0.006
    assert crossing_time(total, 0.5) == pytest.approx(TWO_GROUP_T50, abs=0.1)
    # heterogeneity with positively related p and q slows diffusion (0.7164 < 0.8128)
    assert total[-1] < bass(10.0) - 0.07
