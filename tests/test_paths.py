"""The one dotted-path get/set of scenarios (sim.scenario.paths): values, the integer rule, errors."""

from __future__ import annotations

import pytest

from sim.core.model import apply_overrides
from sim.errors import ScenarioError
from sim.runs.runner import resolve_scenario
from sim.scenario.paths import annotation_of, get_value, is_integer, set_values, spec_key
from sim.scenario.schema import Scenario

CAPACITY = "policies.service_capacity.onboardings_per_month"


def test_get_value_reads_sections_lists_and_integer_mapping_keys() -> None:
    sc = Scenario()
    assert get_value(sc, "policies.vouchers.subsidy_share") == 0.3
    assert get_value(sc, "policies.platforms.items[0].cloud_rate_per_year") == 0.01
    assert get_value(sc, "policies.platforms.items.0.cloud_rate_per_year") == 0.01
    year_end = sc.population.above_scale_year_end
    year, count = next(iter(year_end.items()))
    assert get_value(sc, f"population.above_scale_year_end.{year}") == count
    # A JSON dump writes the integer keys as text: the same path still reads them.
    assert get_value(sc.model_dump(mode="json"), f"population.above_scale_year_end.{year}") == count
    assert get_value(sc, "population.cluster_shares") is None


def test_set_values_rounds_integer_keys_only() -> None:
    sc = set_values(Scenario(), {CAPACITY: 12345.6, "policies.vouchers.subsidy_share": 0.45})
    assert sc.policies.service_capacity.onboardings_per_month == 12346
    assert sc.policies.vouchers.subsidy_share == 0.45
    assert is_integer(CAPACITY) and not is_integer("policies.vouchers.subsidy_share")
    with pytest.raises(ScenarioError, match="input should be a valid integer"):
        set_values(Scenario(), {CAPACITY: 12345.6}, round_integers=False)


@pytest.mark.parametrize("call", [
    lambda: get_value(Scenario(), "policies.voucher.scale"),
    lambda: set_values(Scenario(), {"policies.voucher.scale": 2.0}),
    lambda: apply_overrides(Scenario(), {"policies__voucher__scale": 2.0}),
    lambda: resolve_scenario(Scenario(), overrides=["policies.voucher.scale=2"]),
])
def test_every_entry_point_gives_the_same_did_you_mean(call) -> None:
    with pytest.raises(ScenarioError) as info:
        call()
    text = str(info.value)
    assert "policies.voucher: unknown key 'voucher'" in text
    assert text.endswith("(did you mean 'vouchers'?)")
    assert "\n" not in text


def test_bad_values_name_the_label_key_and_range() -> None:
    with pytest.raises(ScenarioError) as info:
        set_values(Scenario(), {"policies.vouchers.subsidy_share": 3}, label="my.yaml")
    assert str(info.value) == ("my.yaml: policies.vouchers.subsidy_share: got 3: input should be less "
                               "than or equal to 1; allowed: number, 0 <= x <= 1")


def test_numeric_keys_and_spec_errors() -> None:
    assert annotation_of("diffusion.churn_rate_per_year", numeric=True) is not None
    with pytest.raises(ScenarioError, match="policies.vouchers: a section, not a number"):
        annotation_of("policies.vouchers", numeric=True)
    with pytest.raises(ScenarioError, match=r"not a number \(true/false\)"):
        annotation_of("policies.vouchers.enabled", numeric=True)
    with pytest.raises(ScenarioError) as info:
        spec_key("diffusion.cloud.market_rate", "spec.yaml", "parameters[1].path")
    assert str(info.value).startswith("spec.yaml: parameters[1].path: diffusion.cloud.market_rate: unknown "
                                      "key 'market_rate'")
    assert "did you mean 'market_rate_per_year'" in str(info.value)
    with pytest.raises(ScenarioError, match="empty key"):
        get_value(Scenario(), "policies..vouchers")


def test_uncertainty_draws_use_the_integer_rule() -> None:
    from sim.core.uncertainty import apply

    sc = apply(Scenario(), {CAPACITY: 20000.4, "diffusion.churn_rate_per_year": 0.2})
    assert sc.policies.service_capacity.onboardings_per_month == 20000
    assert sc.diffusion.churn_rate_per_year == 0.2
    assert sc.uncertainties == []
