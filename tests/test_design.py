"""The one parameter vocabulary (sim.scenario.parameters) and the one Latin-hypercube sampler."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from sim.analysis.design import factorial_rows, latin_hypercube, lhs_rows
from sim.scenario.parameters import Categorical, Integer, Real, integer_bounds, to_ema, values_at


def test_from_unit_maps_equal_strata() -> None:
    i = Integer("n", ("a.b",), 3, 5)
    assert [i.from_unit(u) for u in (0.0, 0.33, 0.34, 0.66, 0.67, 0.999)] == [3, 3, 4, 4, 5, 5]
    c = Categorical("c", ("a.c",), ("x", "y"))
    assert [c.from_unit(u) for u in (0.0, 0.49, 0.5, 0.99)] == ["x", "x", "y", "y"]
    r = Real("r", ("a.r",), 2.0, 4.0)
    assert r.from_unit(0.25) == 2.5
    assert Real("l", ("a.l",), 0.01, 1.0, "loguniform").from_unit(0.5) == pytest.approx(0.1)
    t = Real("t", ("a.t",), 0.0, 6.0, "triangular", 3.0)
    assert t.from_unit(0.5) == pytest.approx(3.0) and t.from_unit(0.125) == pytest.approx(1.5)
    assert integer_bounds(2.5, 7.0) == (3, 7) and integer_bounds(2.0000000001, 3.0) == (2, 3)


def test_latin_hypercube_has_one_point_per_stratum_and_is_seeded() -> None:
    u = latin_hypercube(10, 3, seed=4)
    assert u.shape == (10, 3)
    for j in range(3):
        assert sorted(np.floor(u[:, j] * 10).astype(int)) == list(range(10))
    np.testing.assert_array_equal(u, latin_hypercube(10, 3, np.random.default_rng(4)))
    assert not np.array_equal(u, latin_hypercube(10, 3, seed=5))


def test_rows_and_values() -> None:
    params = [Integer("n", ("a.n",), 1, 4), Categorical("c", ("a.c", "b.c"), (True, False))]
    rows = lhs_rows(params, 8, seed=0)
    assert sorted(r[0] for r in rows) == [1, 1, 2, 2, 3, 3, 4, 4]
    assert sorted(r[1] for r in rows) == [False] * 4 + [True] * 4
    assert factorial_rows([Real("r", ("a.r",), 0.0, 1.0), params[1]], [3, None]) == [
        [0.0, True], [0.0, False], [0.5, True], [0.5, False], [1.0, True], [1.0, False]]
    assert values_at(params, [2, False]) == {"a.n": 2, "a.c": False, "b.c": False}


@pytest.mark.skipif(importlib.util.find_spec("ema_workbench") is None, reason="ema_workbench not installed")
def test_to_ema() -> None:
    ema = to_ema([Real("r", ("a.r",), 0.0, 1.0), Integer("n", ("a.n",), 1, 4),
                  Categorical("c", ("a.c",), ("x", "y"))])
    assert [type(p).__name__ for p in ema] == ["RealParameter", "IntegerParameter", "CategoricalParameter"]
    assert (ema[0].lower_bound, ema[0].upper_bound) == (0.0, 1.0)


def test_dashboard_levers_are_parameters_the_scenario_accepts() -> None:
    from sim.dashboard.core import LEVERS
    from sim.scenario.paths import get_value, set_values
    from sim.scenario.schema import Scenario

    kinds = {lv.name: type(lv.parameter()).__name__ for lv in LEVERS}
    assert kinds["chain_leaders_on"] == "Categorical" and kinds["service_capacity_per_month"] == "Integer"
    assert kinds["voucher_subsidy_share"] == "Real"
    for lv in LEVERS:
        p = lv.parameter()
        for u in (0.0, 0.999):
            value = p.from_unit(u)
            sc = set_values(Scenario(), dict.fromkeys(p.paths, value))
            assert get_value(sc, p.paths[0]) == value
    budget = next(lv for lv in LEVERS if lv.name == "voucher_budget_m_cny").parameter()
    assert (budget.lower, budget.upper) == (0, 2_000_000_000)  # million CNY on the slider, CNY here
