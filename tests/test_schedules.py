"""Policies that change over time: schedules by year or month and rounds of one instrument.

Meaning-based: a schedule that changes nothing reproduces the unscheduled run byte for byte
(common random numbers); a budget that doubles doubles the money spent when it binds; a round
that ends stops the instrument's effect from the next month; a scale that drops to 0 is the
same as ending the instrument; bad schedules and rounds are one-line errors.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sim.core.model import CloudAdoptionModel, simulate
from sim.core.schedules import monthly, value_at
from sim.errors import ScenarioError
from sim.scenario.loader import load_scenario
from sim.scenario.schema import Scenario
from sim.scenario.schema_types import month_number

N_FIRMS = 20_000


def _config(**sections) -> Scenario:
    data = {"population": {"total_firms": N_FIRMS}, "time": {"end": "2023-12"}}
    for key, value in sections.items():
        data[key] = value
    return Scenario.model_validate(data)


def _yearly(out, metric: str) -> dict[int, float]:
    series = out.total(metric)
    years: dict[int, float] = {}
    for date, v in zip(out.dates[1:], series[1:], strict=True):
        years[int(date[:4])] = years.get(int(date[:4]), 0.0) + float(v)
    return years


def _month_index(out, ym: str) -> int:
    return [d[:7] for d in out.dates].index(ym)


# --------------------------------------------------------------------------- evaluation


def test_monthly_step_function_by_year_and_month() -> None:
    start = month_number("2021-06")
    v = monthly({"2022": 2.0, "2021": 1.0, "2022-07": 5.0}, start, 14)
    # 2021-06..2021-12 -> 1, 2022-01..2022-06 -> 2, 2022-07, 2022-08 -> 5
    assert v.tolist() == [1.0] * 7 + [2.0] * 6 + [5.0] * 2
    assert monthly(3.0, start, 2).tolist() == [3.0, 3.0, 3.0]
    # Before the first entry the first value holds.
    assert value_at({"2023": 7.0, "2024": 9.0}, month_number("2020-01")) == 7.0
    assert value_at({"2023": 7.0, "2024": 9.0}, month_number("2024-03")) == 9.0


# --------------------------------------------------------------------------- common random numbers


def test_constant_schedules_reproduce_the_unscheduled_run_byte_for_byte() -> None:
    base = _config()
    sched = _config(policies={
        "vouchers": {"budget_cny_per_year": {"2018": 3e8}, "scale": {"2021-07": 1.0, "2023": 1.0},
                     "rate_per_year_at_full_subsidy": {"2020": 0.5}, "rounds": [{"start": "2021-07", "end": "2025-12"}]},
        "platforms": {"scale": {"2021": 1.0}, "items": [{"cloud_rate_per_year": {"2021": 0.01, "2024": 0.01}}]},
        "pilots": {"items": [{"parks_per_year": {"2021": 20}, "transform_rate_per_year": {"2021": 0.2}}]},
        "chain_leaders": {"leader_transform_rate_per_year": {"2021": 0.5}},
        "service_capacity": {"onboardings_per_month": {"2021": 25_000}, "scale": {"2021": 1.0}},
        "sme_pilot_cities": {"cloud_rate_per_year": {"2023": 0.05}, "rounds": [{"start": "2023-01", "end": "2025-12"}]},
    })
    assert np.array_equal(simulate(base, replicate=2).cells, simulate(sched, replicate=2).cells)


def test_scale_dropping_to_zero_equals_ending_the_instrument() -> None:
    ended = _config(policies={"platforms": {"items": [{"end": "2022-12"}]}, "chain_leaders": {"end": "2022-12"}})
    scheduled = _config(policies={"platforms": {"scale": {"2021": 1.0, "2023": 0.0}},
                                  "chain_leaders": {"scale": {"2021": 1.0, "2023-01": 0.0}}})
    rounds = _config(policies={"platforms": {"scale": {"2021": 1.0, "2023": 0.0}},
                               "chain_leaders": {"rounds": [{"start": "2021-07", "end": "2022-12"}]}})
    a = simulate(ended, replicate=1).cells
    assert np.array_equal(a, simulate(scheduled, replicate=1).cells)
    assert np.array_equal(a, simulate(rounds, replicate=1).cells)
    # ... and it is not the unchanged run (the instruments did act after 2022).
    assert not np.array_equal(a, simulate(_config(), replicate=1).cells)


# --------------------------------------------------------------------------- budgets


def test_budget_that_doubles_in_2023_doubles_the_2023_spend_when_it_binds() -> None:
    # 30 M CNY a year at full scale = 300,000 CNY at 20,000 firms = 20 vouchers of 15,000 CNY:
    # far fewer than the eligible firms that decide in a year, so the budget binds.
    flat = _config(policies={"vouchers": {"budget_cny_per_year": 3e7}})
    doubled = _config(policies={"vouchers": {"budget_cny_per_year": {"2021": 3e7, "2023": 6e7}}})
    a, b = simulate(flat, replicate=0), simulate(doubled, replicate=0)
    spend_a, spend_b = _yearly(a, "voucher_spend_cny"), _yearly(b, "voucher_spend_cny")
    assert spend_a[2022] == pytest.approx(300_000)  # binding: the whole budget is spent
    assert spend_b[2022] == spend_a[2022]
    assert spend_b[2023] == pytest.approx(2 * spend_a[2023]) == pytest.approx(600_000)
    # Common random numbers: identical until the budget changes, different after.
    k = _month_index(a, "2022-12")
    assert np.array_equal(a.cells[: k + 1], b.cells[: k + 1])
    assert not np.array_equal(a.cells[k + 1:], b.cells[k + 1:])


def test_budget_schedule_by_month_is_allotted_pro_rata_at_the_start() -> None:
    config = _config(policies={"vouchers": {"budget_cny_per_year": {"2021": 1.2e8, "2022-04": 2.4e8}}})
    v = CloudAdoptionModel(config).instruments["vouchers"]
    scale = N_FIRMS / 2_000_000
    # 2021: July-December = 6/12 of 1.2e8; 2022: the January value (the April change waits for 2023).
    assert v.budget_by_year() == pytest.approx({2021: 0.6e8 * scale, 2022: 1.2e8 * scale, 2023: 2.4e8 * scale})


# --------------------------------------------------------------------------- rounds


def test_voucher_round_that_ends_stops_spending_that_month() -> None:
    config = _config(policies={"vouchers": {"rounds": [{"start": "2021-07", "end": "2022-06"},
                                                       {"start": "2023-03", "end": "2023-08"}]}})
    out = simulate(config, replicate=0)
    spend = out.total("voucher_spend_cny")
    at = {ym: spend[_month_index(out, ym)] for ym in ("2022-06", "2022-07", "2023-02", "2023-03", "2023-08", "2023-09")}
    assert at["2022-06"] > 0 and at["2023-03"] > 0 and at["2023-08"] > 0
    assert at["2022-07"] == at["2023-02"] == at["2023-09"] == 0
    off = (np.arange(len(spend)) > _month_index(out, "2022-06")) & (np.arange(len(spend)) < _month_index(out, "2023-03"))
    assert not spend[off].any()


def test_service_capacity_round_that_ends_releases_the_queue_next_month() -> None:
    config = _config(policies={"service_capacity": {"onboardings_per_month": 5_000,
                                                    "rounds": [{"start": "2021-07", "end": "2022-03"}]}})
    out = simulate(config, replicate=0)
    waiting = out.total("waiting")
    assert waiting[_month_index(out, "2022-03")] > 0
    assert waiting[_month_index(out, "2022-04")] == 0


def test_parks_per_year_schedule_sets_the_count_selected_each_year() -> None:
    config = _config(policies={"pilots": {"items": [{"parks_per_year": {"2021": 3000, "2022": 0, "2023": 5000},
                                                     "years": [2021, 2022, 2023]}]}})
    model = CloudAdoptionModel(config)
    pilots = model.instruments["pilots"]
    # Counts are given for the full population and cover the same share of firms here
    # (policies.pilot_park_count): value x scale x park_size_mean / mean park size, +-1 rounding.
    mean_park = np.bincount(model.pop.park).mean()
    factor = N_FIRMS / 2_000_000 * config.population.park_size_mean / mean_park
    counts = [len(p) for p in pilots.selected_parks]
    assert counts[1] == 0
    assert abs(counts[0] - 3000 * factor) <= 1 and abs(counts[2] - 5000 * factor) <= 1
    assert counts[2] > counts[0] > 0


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(("text", "where", "what"), [
    # The voucher eligibility rules (a number or a schedule since the tenth session).
    ("policies:\n  vouchers:\n    min_revenue_cny: {2026-13: 5.0e6}\n", "policies.vouchers.min_revenue_cny", "expected a year 'YYYY' or a month 'YYYY-MM'"),
    ("policies:\n  vouchers:\n    min_revenue_cny: {2026: -1}\n", "policies.vouchers.min_revenue_cny", "out of range; allowed: 0 <= x"),
    ("policies:\n  vouchers:\n    min_revenue_cny: {}\n", "policies.vouchers.min_revenue_cny", "a schedule needs at least one entry"),
    ("policies:\n  vouchers:\n    min_age_months: {2026: 6, 2026-01: 3}\n", "policies.vouchers.min_age_months", "name the same month"),
    ("policies:\n  vouchers:\n    min_age_months: {2026: 2.5}\n", "policies.vouchers.min_age_months", "integer"),
    ("policies:\n  vouchers:\n    min_age_months: -3\n", "policies.vouchers.min_age_months", "out of range; allowed: 0 <= x"),
    ("policies:\n  vouchers:\n    budget_cny_per_year: {2023-13: 1}\n",
     "policies.vouchers.budget_cny_per_year", "expected a year 'YYYY' or a month 'YYYY-MM'"),
    ("policies:\n  vouchers:\n    budget_cny_per_year: {2023: 1, 2023-01: 2}\n",
     "policies.vouchers.budget_cny_per_year", "name the same month"),
    ("policies:\n  platforms:\n    scale: {2023: -1}\n", "policies.platforms.scale", "out of range"),
    ("policies:\n  chain_leaders:\n    rounds:\n      - {start: 2021-07, end: 2022-06}\n"
     "      - {start: 2022-06, end: 2022-12}\n", "policies.chain_leaders", "overlap"),
    ("policies:\n  chain_leaders:\n    rounds:\n      - {start: 2022-07, end: 2022-06}\n",
     "policies.chain_leaders.rounds", "before start"),
])
def test_bad_schedules_and_rounds_are_one_line_errors(tmp_path: Path, text: str, where: str, what: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: {where}")
    assert what in message
