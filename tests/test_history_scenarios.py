"""The record scenarios: history.yaml, its competing explanations and the 2030 outlook.

Checks of meaning, not pinned runs: every source a file cites exists in shared/data, the history
starts from the reported end-2020 state, the variants differ from history.yaml only in their
mechanism, the intensity factors are the annual targets over the 2021 pace, and the outlook runs
to 2030 with the national 2027 SME goal.
"""

from __future__ import annotations

import csv
import re

import pytest

from sim import datasets
from sim.scenario.loader import load_scenario, scenarios_dir
from sim.scenario.schema import Scenario

RECORD_FILES = ("history", "history_pool", "history_intensity", "history_quota", "history_launch", "outlook_2030",
                "next_plan_continue", "next_plan_stop_all", "next_plan_no_targets", "next_plan_vouchers_doubled",
                "next_plan_chain_leaders", "next_plan_more_parks", "next_plan_all_levers", "next_plan_vouchers_wider",
                "next_plan_vouchers_wider_doubled")


def _rows(name: str) -> list[dict[str, str]]:
    path = scenarios_dir().parent / "sim" / "data" / name
    with path.open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _dump(config: Scenario, drop: tuple[str, ...]) -> dict:
    data = config.model_dump(mode="json")
    for key in ("name", "description", *drop):
        node = data
        *parents, last = key.split(".")
        for p in parents:
            node = node[p]
        node.pop(last, None)
    return data


@pytest.mark.parametrize("name", RECORD_FILES)
def test_every_cited_source_row_exists(name: str) -> None:
    text = (scenarios_dir() / f"{name}.yaml").read_text(encoding="utf-8")
    instruments = {(r["instrument"], r["date"]) for r in _rows("policy_instruments.csv")}
    progress = {(r["date"], r["indicator"], r["kind"]) for r in _rows("progress_reported.csv")}
    cited_p = re.findall(r"P \(([a-z_]+), ([0-9]{4}(?:-[0-9]{2,4})?)", text)
    for instrument, date in cited_p:
        assert (instrument, date) in instruments, f"{name}: no row ({instrument}, {date}) in policy_instruments.csv"
    cited_r = re.findall(r"R \(([0-9-]+), ([a-z_]+), ([a-z ()]+)\)", text)
    for date, indicator, kind in cited_r:
        assert (date, indicator, kind) in progress, f"{name}: no row ({date}, {indicator}, {kind})"
    if name == "history":
        assert len(cited_p) >= 10 and len(cited_r) >= 3
    assert "ASSUMPTION" in text


def test_history_starts_from_the_reported_end_2020_state() -> None:
    config = load_scenario("history")
    assert config.time.start == "2020-12"
    assert datasets.interpolate_progress("cloud_enterprises_cumulative", (2020, 12)) == 500_000
    assert datasets.interpolate_progress("above_scale_transformed_cumulative", (2020, 12)) == 15_000
    assert config.initial.cloud_firms is None and config.initial.transformed_firms is None
    # Instruments in force before the run are represented (vouchers since 2018, platforms since 2018).
    assert config.policies.vouchers.start < config.time.start
    assert all(p.start < config.time.start for p in config.policies.platforms.items)
    assert config.policies.sme_pilot_cities.schedule == {"Shenzhen": 2023, "Dongguan": 2023, "Guangzhou": 2024,
                                                         "Zhongshan": 2024, "Foshan": 2025, "Jiangmen": 2025}


def test_pool_variant_changes_only_the_pool() -> None:
    history, pool = load_scenario("history"), load_scenario("history_pool")
    assert pool.diffusion.cloud_candidate_share < 1.0
    drop = ("diffusion.cloud_candidate_share", "population.readiness_by_size")
    assert _dump(history, drop) == _dump(pool, drop)


def test_intensity_variant_follows_the_annual_targets() -> None:
    history, intensity = load_scenario("history"), load_scenario("history_intensity")
    drop = ("diffusion.cloud.intensity", "diffusion.transform.intensity", "policies.pilots")
    assert _dump(history, drop) == _dump(intensity, drop)
    targets = {(r["date"], r["indicator"]): float(r["value"]) for r in _rows("progress_reported.csv")
               if r["kind"] == "target"}
    reported = {(r["date"], r["indicator"]): float(r["value"]) for r in _rows("progress_reported.csv")
                if r["kind"] == "reported"}
    cloud_pace_2021 = 2 * (reported[("2021-12-31", "cloud_enterprises_cumulative")]
                           - reported[("2021-06-30", "cloud_enterprises_cumulative")])
    trans_pace_2021 = (reported[("2021-12-31", "above_scale_transformed_cumulative")]
                       - reported[("2020-12-31", "above_scale_transformed_cumulative")])
    cloud = intensity.diffusion.cloud.intensity
    trans = intensity.diffusion.transform.intensity
    assert cloud["2022"] == pytest.approx(targets[("2023-12-31", "cloud_enterprises_annual_flow")] / cloud_pace_2021, abs=0.01)
    assert trans["2022"] == pytest.approx(targets[("2023-12-31", "above_scale_transformed_annual_flow")] / trans_pace_2021, abs=0.01)
    assert trans["2024"] == pytest.approx(targets[("2024-12-31", "above_scale_transformed_annual_flow")] / trans_pace_2021, abs=0.01)


def test_quota_variant_adds_only_the_programme_at_the_published_targets() -> None:
    history, quota = load_scenario("history"), load_scenario("history_quota")
    assert not history.policies.transformation_programme.enabled
    assert _dump(history, ("policies.transformation_programme",)) == _dump(quota, ("policies.transformation_programme",))
    prog = quota.policies.transformation_programme
    targets = {r["date"][:4]: int(r["value"]) for r in _rows("progress_reported.csv")
               if r["kind"] == "target" and r["indicator"] == "above_scale_transformed_annual_flow"}
    assert prog.enabled and prog.start == "2023-01"
    assert prog.firms_per_year == {"2023": targets["2023"], "2024": targets["2024"]}  # 2025 holds 2024's


def test_outlook_continues_history_to_2030_with_the_2027_sme_goal() -> None:
    history, outlook = load_scenario("history"), load_scenario("outlook_2030")
    assert outlook.time.start == history.time.start and outlook.time.end == "2030-12"
    goals = {(g.indicator, g.date): g for g in outlook.goals.more}
    sme = goals[("sme_cloud_rate", "2027-12")]
    assert sme.value == 0.40 and sme.denominator_firms == 7_745_000
    assert all("ASSUMPTION" in g.source for g in outlook.goals.more if g.date == "2030-12")
    assert outlook.policies.vouchers.end == "2030-12"
    assert outlook.policies.vouchers.rounds[: len(history.policies.vouchers.rounds)] == history.policies.vouchers.rounds
