"""The shipped scenarios and generated docs: they load, say what they are, and differ from the
baseline exactly where their description says. Validation only: no model is run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sim.scenario import docs
from sim.scenario.loader import (
    load_scenario,
    resolved_yaml,
    scenario_hash,
    scenarios_dir,
    shipped_scenarios,
)
from sim.scenario.schema import Scenario
from sim.scenario.schema_policies import default_cloud_rates, default_transform_rates

REPO = Path(__file__).resolve().parents[1]
EXPECTED = {
    "baseline",
    "plan_2021",
    "no_provincial_policy",
    "no_policy_at_all",
    "vouchers_doubled",
    "vouchers_halved",
    "chain_leaders",
    "weak_peer_effects",
    "strong_peer_effects",
    "demo",
    "as_implemented",
}
PEER_KEYS = ("chain_weight_per_year", "park_weight_per_year", "cluster_city_weight_per_year")


def leaves(value: object, prefix: str = "") -> dict[str, object]:
    """Flatten a JSON-like value into {dotted.path: leaf}."""
    if isinstance(value, dict):
        out: dict[str, object] = {}
        for key, sub in value.items():
            out.update(leaves(sub, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value}


def changed(a: Scenario, b: Scenario) -> set[str]:
    """Dotted paths whose values differ (lists compared whole)."""
    la, lb = leaves(a.model_dump(mode="json")), leaves(b.model_dump(mode="json"))
    return {k for k in la.keys() | lb.keys() if la.get(k) != lb.get(k)}


@pytest.fixture(scope="module")
def shipped() -> dict[str, Scenario]:
    return {name: load_scenario(path) for name, (path, _) in shipped_scenarios().items()}


def test_the_expected_scenarios_are_shipped() -> None:
    assert scenarios_dir() == REPO / "scenarios"
    assert EXPECTED <= set(shipped_scenarios())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_loads_with_name_and_description(name: str) -> None:
    path, description = shipped_scenarios()[name]
    sc = load_scenario(path)
    assert sc.name == name == path.stem
    assert sc.description == description
    assert description.count(". ") + description.count("? ") >= 2, "multi-sentence description"
    assert "ASSUMPTION" in description or name == "demo"
    raw = path.read_text(encoding="utf-8")
    assert f"name: {name}" in raw and "description:" in raw  # set in the file, not inherited


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_resolved_yaml_round_trips(name: str, tmp_path: Path) -> None:
    sc = load_scenario(name)
    path = tmp_path / f"{name}.resolved.yaml"
    path.write_text(resolved_yaml(sc), encoding="utf-8")
    again = load_scenario(path)
    assert again == sc and scenario_hash(again) == scenario_hash(sc)


def test_hashes_are_distinct(shipped: dict[str, Scenario]) -> None:
    hashes = {scenario_hash(sc) for sc in shipped.values()}
    assert len(hashes) == len(shipped)


def test_baseline_is_the_schema_defaults(shipped: dict[str, Scenario]) -> None:
    assert changed(shipped["baseline"], Scenario()) == {"name", "description"}


def test_plan_2021_strengthens_the_announced_measures(shipped: dict[str, Scenario]) -> None:
    base, plan = shipped["baseline"], shipped["plan_2021"]
    assert {k.split(".")[1] for k in changed(base, plan) if k.startswith("policies.")} == {
        "platforms",
        "pilots",
        "service_capacity",
    }
    assert all(
        k.startswith("policies.") or k in ("name", "description") for k in changed(base, plan)
    )
    assert plan.policies.platforms.scale > base.policies.platforms.scale
    parks = [p for p in plan.policies.pilots.items if p.level == "park"]
    assert parks and parks[0].parks_per_year > base.policies.pilots.items[0].parks_per_year
    assert any(p.level == "cluster" for p in plan.policies.pilots.items)
    assert (
        plan.policies.service_capacity.growth_per_year
        > base.policies.service_capacity.growth_per_year
    )


def test_no_policy_switches_every_instrument_off_but_capacity(shipped: dict[str, Scenario]) -> None:
    p = shipped["no_policy_at_all"].policies
    assert not any(
        (p.vouchers.enabled, p.platforms.enabled, p.pilots.enabled, p.chain_leaders.enabled)
    )
    assert not p.sme_pilot_cities.enabled
    assert p.service_capacity == shipped["baseline"].policies.service_capacity
    assert changed(shipped["baseline"], shipped["no_policy_at_all"]) == {
        "name",
        "description",
        "policies.vouchers.enabled",
        "policies.platforms.enabled",
        "policies.pilots.enabled",
        "policies.chain_leaders.enabled",
        "policies.sme_pilot_cities.enabled",
    }


def test_as_implemented_adds_exactly_the_record_mechanisms(shipped: dict[str, Scenario]) -> None:
    """as_implemented is the baseline plus the two mechanisms the record posterior was fitted
    with, set as in history_launch/history_quota (so the forward family can check the record),
    on top of baseline_uncertain (the posterior draws the mechanisms' sizes with the rates)."""
    delta = changed(shipped["baseline_uncertain"], shipped["as_implemented"])
    assert delta - {"name", "description"} and all(
        k.startswith(("policies.plan_launch.", "policies.transformation_programme.")) for k in delta - {"name", "description"})
    p, launch, quota = (shipped["as_implemented"].policies, load_scenario("history_launch").policies,
                        load_scenario("history_quota").policies)
    assert p.plan_launch.enabled and (p.plan_launch.start, p.plan_launch.end) == (launch.plan_launch.start, launch.plan_launch.end)
    assert p.transformation_programme.firms_per_year == quota.transformation_programme.firms_per_year
    assert (p.transformation_programme.start, p.transformation_programme.mode) == ("2023-01", "top_up")


def test_no_provincial_policy_keeps_the_national_pilot_cities(shipped: dict[str, Scenario]) -> None:
    """The names say what they remove: no_provincial_policy switches off the four provincial
    instruments only; no_policy_at_all also the national SME pilot cities."""
    assert changed(shipped["baseline"], shipped["no_provincial_policy"]) == {
        "name",
        "description",
        "policies.vouchers.enabled",
        "policies.platforms.enabled",
        "policies.pilots.enabled",
        "policies.chain_leaders.enabled",
    }
    assert changed(shipped["no_provincial_policy"], shipped["no_policy_at_all"]) == {
        "name",
        "description",
        "policies.sme_pilot_cities.enabled",
    }


@pytest.mark.parametrize(("name", "factor"), [("vouchers_doubled", 2.0), ("vouchers_halved", 0.5)])
def test_voucher_budget_variants(shipped: dict[str, Scenario], name: str, factor: float) -> None:
    base = shipped["baseline"]
    sc = shipped[name]
    assert base.policies.vouchers.budget_cny_per_year == 300e6
    assert sc.policies.vouchers.budget_cny_per_year == factor * 300e6
    assert changed(base, sc) == {"name", "description", "policies.vouchers.budget_cny_per_year"}


def test_chain_leaders(shipped: dict[str, Scenario]) -> None:
    sc = shipped["chain_leaders"]
    c = sc.policies.chain_leaders
    assert (c.leader_transform_rate_per_year, c.supplier_cloud_pull_per_year) == (2.0, 0.4)
    assert c.supplier_transform_pull_per_year == 0.4 and c.enabled
    assert sc.population.lead_firms == 600
    assert changed(shipped["baseline"], sc) == {
        "name",
        "description",
        "population.lead_firms",
        "policies.chain_leaders.leader_transform_rate_per_year",
        "policies.chain_leaders.supplier_cloud_pull_per_year",
        "policies.chain_leaders.supplier_transform_pull_per_year",
    }


@pytest.mark.parametrize(
    ("name", "factor"), [("weak_peer_effects", 0.5), ("strong_peer_effects", 2.0)]
)
def test_peer_effect_variants(shipped: dict[str, Scenario], name: str, factor: float) -> None:
    sc = shipped[name]
    for stage, defaults in (("cloud", default_cloud_rates()), ("transform", default_transform_rates())):
        rates = getattr(sc.diffusion, stage)
        for key in PEER_KEYS:
            assert getattr(rates, key) == pytest.approx(factor * getattr(defaults, key)), (
                stage,
                key,
            )
        assert rates.market_rate_per_year == defaults.market_rate_per_year
    expected = {f"diffusion.{s}.{k}" for s in ("cloud", "transform") for k in PEER_KEYS}
    assert changed(shipped["baseline"], sc) == {"name", "description"} | expected


def test_demo_is_small_and_fast(shipped: dict[str, Scenario]) -> None:
    sc = shipped["demo"]
    assert sc.population.total_firms == 50_000 and sc.run.replicates == 2
    assert changed(shipped["baseline"], sc) == {
        "name",
        "description",
        "population.total_firms",
        "run.replicates",
    }


def test_committed_docs_are_up_to_date() -> None:
    folder = REPO / "docs"
    md = (folder / "scenario_reference.md").read_text(encoding="utf-8")
    js = json.loads((folder / "scenario.schema.json").read_text(encoding="utf-8"))
    hint = "regenerate with: .venv/bin/python -m sim.scenario.docs"
    assert md == docs.reference_markdown(), hint
    assert js == docs.json_schema(), hint


def test_json_schema_allows_extends_and_checks_months() -> None:
    schema = docs.json_schema()
    assert schema["properties"]["extends"]["type"] == "string"
    assert schema["additionalProperties"] is False
    assert schema["$defs"]["TimeSpec"]["properties"]["start"]["pattern"]
    items = schema["$defs"]["Vouchers"]["properties"]["excluded_cities"]["items"]
    assert "Guangzhou" in items["enum"]
