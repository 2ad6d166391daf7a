"""Voucher eligibility that changes over time (``min_revenue_cny`` and ``min_age_months`` as schedules).

Meaning-based: a schedule constant over the run gives the bytes of the plain number; a revenue
threshold lowered from a month on makes exactly the firms a direct computation from the population
columns names eligible, from that month only, and vouchers then go to firms below the old
threshold; both kernels agree byte for byte. (Bad eligibility schedules are one-line errors:
tests/test_schedules.py, with the other schedules.)
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from sim import datasets
from sim.core import kernel
from sim.core.model import CloudAdoptionModel
from sim.scenario.schema import Scenario

KERNELS = ["numpy", "numba"] if importlib.util.find_spec("numba") is not None else ["numpy"]
N_FIRMS = 30_000
CHANGE = "2022-07"  # the month the wider rules start
OLD_REVENUE_CNY, NEW_REVENUE_CNY = 10e6, 2e6


def _config(vouchers: dict) -> Scenario:
    return Scenario.model_validate({"population": {"total_firms": N_FIRMS}, "time": {"end": "2023-12"},
                                    "policies": {"vouchers": vouchers}})


def _eligible_direct(model: CloudAdoptionModel, k: int, min_revenue_cny: float, min_age_months: int) -> np.ndarray:
    """Firms eligible in month k from the population columns (revenue, city, age) and a nonzero push."""
    pop = model.pop
    shenzhen = datasets.city_names().index("Shenzhen")
    push = np.multiply(model.state.readiness_dt, model.voucher_push.rate) != 0
    return ((pop.revenue_cny >= min_revenue_cny) & (pop.city != shenzhen)
            & (pop.birth_month.astype(np.int32) + min_age_months <= k) & push)


@pytest.mark.parametrize("name", KERNELS)
def test_constant_schedules_give_the_bytes_of_the_plain_numbers(monkeypatch, name: str) -> None:
    monkeypatch.setenv("GDCLOUD_KERNEL", name)
    assert kernel.kernel_name() == name
    plain = CloudAdoptionModel(_config({}), replicate=1).run().cells
    sched = CloudAdoptionModel(_config({"min_revenue_cny": {"2018": 10e6, "2022-07": 10e6},
                                        "min_age_months": {"2019": 12, "2023": 12}}), replicate=1).run().cells
    assert plain.tobytes() == sched.tobytes()
    assert plain[1:, :, 6].sum() > 0  # vouchers were paid


def _run_by_month(config: Scenario) -> tuple[CloudAdoptionModel, list[int], list[np.ndarray]]:
    """Steps a run; per month the eligible firms as the model holds them, and the new vouchers."""
    model = CloudAdoptionModel(config, replicate=2)
    eligible, granted = [], []
    before = model.state.subsidised.copy()
    for _ in range(model.n_months):
        model.step()
        k = model.month
        model.voucher_push.now(k)
        eligible.append(int(np.count_nonzero(model.voucher_push.pushed)))
        granted.append(np.flatnonzero(model.state.subsidised & ~before))
        before = model.state.subsidised.copy()
    return model, eligible, granted


@pytest.mark.parametrize("name", KERNELS)
def test_lower_revenue_threshold_widens_eligibility_from_its_month_only(monkeypatch, name: str) -> None:
    monkeypatch.setenv("GDCLOUD_KERNEL", name)
    rules = {"min_revenue_cny": {"2018": OLD_REVENUE_CNY, CHANGE: NEW_REVENUE_CNY}}
    model, eligible, granted = _run_by_month(_config(rules))
    base, base_eligible, base_granted = _run_by_month(_config({}))
    change = [d[:7] for d in model.dates].index(CHANGE)
    for k in range(1, model.n_months + 1):
        threshold = OLD_REVENUE_CNY if k < change else NEW_REVENUE_CNY
        direct = _eligible_direct(model, k, threshold, 12)
        assert eligible[k - 1] == int(np.count_nonzero(direct)), k
        assert base_eligible[k - 1] == int(np.count_nonzero(_eligible_direct(base, k, OLD_REVENUE_CNY, 12))), k
        # Every voucher of the month goes to a firm eligible under the month's rules.
        assert direct[granted[k - 1]].all(), k
        if k < change:  # before the change the two runs are the same run (common random numbers)
            assert eligible[k - 1] == base_eligible[k - 1]
            assert np.array_equal(granted[k - 1], base_granted[k - 1])
        else:
            assert eligible[k - 1] > base_eligible[k - 1] * 1.5  # many firms are between 2 M and 10 M CNY
    assert np.array_equal(model.cube[:change], base.cube[:change])
    revenue = model.pop.revenue_cny
    before = np.concatenate(granted[:change - 1])
    after = np.concatenate(granted[change - 1:])
    assert before.size > 0 and after.size > 0
    assert (revenue[before] >= OLD_REVENUE_CNY).all()
    newly = np.count_nonzero(revenue[after] < OLD_REVENUE_CNY)
    assert newly > 0.2 * after.size  # firms below the old threshold now get vouchers


@pytest.mark.parametrize("name", KERNELS)
def test_lower_minimum_age_switches_on_younger_firms_from_its_month(monkeypatch, name: str) -> None:
    monkeypatch.setenv("GDCLOUD_KERNEL", name)
    model, eligible, _ = _run_by_month(_config({"min_age_months": {"2018": 24, CHANGE: 3}}))
    change = [d[:7] for d in model.dates].index(CHANGE)
    for k in range(1, model.n_months + 1):
        age = 24 if k < change else 3
        assert eligible[k - 1] == int(np.count_nonzero(_eligible_direct(model, k, OLD_REVENUE_CNY, age))), k
    assert eligible[change - 1] > eligible[change - 2]


def test_kernels_agree_on_a_changing_eligibility(monkeypatch) -> None:
    if len(KERNELS) < 2:
        pytest.skip("numba (the 'fast' extra) is not installed")
    config = _config({"min_revenue_cny": {"2018": OLD_REVENUE_CNY, CHANGE: NEW_REVENUE_CNY},
                      "min_age_months": {"2018": 12, "2023-03": 6}, "budget_cny_per_year": 6e8})
    cells = []
    for name in KERNELS:
        monkeypatch.setenv("GDCLOUD_KERNEL", name)
        cells.append(CloudAdoptionModel(config, replicate=3).run().cells)
    assert cells[0].tobytes() == cells[1].tobytes()
