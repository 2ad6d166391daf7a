"""Scenario loading: extends chains, --set overrides, one-line errors, resolved YAML and hash.

Validation only: no model is run. Bad files are written into ``tmp_path``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.errors import ScenarioError
from sim.scenario.loader import (
    load_scenario,
    parse_overrides,
    resolved_yaml,
    scenario_hash,
    shipped_scenarios,
    short_hash,
)
from sim.scenario.schema import Scenario


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(path: Path, *args, **kwargs) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, *args, **kwargs)
    text = str(info.value)
    assert "\n" not in text
    return info.value


# --------------------------------------------------------------------------- extends


def test_empty_mapping_gives_defaults_and_name_from_stem(tmp_path: Path) -> None:
    sc = load_scenario(write(tmp_path, "my_case.yaml", "{}\n"))
    assert sc == Scenario(name="my_case")


def test_child_overrides_only_its_keys(tmp_path: Path) -> None:
    write(
        tmp_path,
        "parent.yaml",
        "name: parent\ndescription: Parent question.\n"
        "policies:\n  vouchers:\n    budget_cny_per_year: 1000000\n    subsidy_share: 0.5\n"
        "run:\n  seed: 7\n",
    )
    child = write(
        tmp_path,
        "child.yaml",
        "extends: parent.yaml\npolicies:\n  vouchers:\n    subsidy_share: 0.2\n",
    )
    parent_sc = load_scenario(tmp_path / "parent.yaml")
    sc = load_scenario(child)
    assert sc.policies.vouchers.subsidy_share == 0.2
    assert sc.policies.vouchers.budget_cny_per_year == 1_000_000
    assert sc.run.seed == 7
    assert sc.name == "child"  # name is not inherited
    assert sc.description == "Parent question."  # description is, when the child sets none
    expected = parent_sc.model_copy(deep=True)
    expected.name = "child"
    expected.policies.vouchers.subsidy_share = 0.2
    assert sc == expected


def test_three_level_chain_and_bare_name(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "run:\n  seed: 1\n  replicates: 3\n")
    write(tmp_path, "b.yaml", "extends: a\nrun:\n  seed: 2\n")
    c = write(tmp_path, "c.yaml", "extends: b.yaml\ndescription: C.\ntime:\n  end: '2024-12'\n")
    sc = load_scenario(c)
    assert (sc.run.seed, sc.run.replicates, sc.time.end, sc.description) == (2, 3, "2024-12", "C.")


def test_extends_shipped_scenario_by_name(tmp_path: Path) -> None:
    child = write(tmp_path, "mine.yaml", "extends: baseline\nrun:\n  replicates: 4\n")
    sc = load_scenario(child)
    base = load_scenario(shipped_scenarios()["baseline"][0])
    assert sc.run.replicates == 4
    assert sc.policies == base.policies
    assert sc.description == base.description


def test_shipped_folder_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    write(shipped, "base.yaml", "description: Other folder.\nrun:\n  seed: 99\n")
    monkeypatch.setenv("GDCLOUD_SCENARIOS", str(shipped))
    assert set(shipped_scenarios()) == {"base"}
    child = write(tmp_path, "child.yaml", "extends: base\n")
    assert load_scenario(child).run.seed == 99
    assert load_scenario("base").run.seed == 99
    assert load_scenario("base.yaml").name == "base"


def test_lists_and_free_mappings_are_replaced_whole(tmp_path: Path) -> None:
    write(
        tmp_path,
        "p.yaml",
        "policies:\n  pilots:\n    items:\n      - parks_per_year: 5\n      - level: cluster\n",
    )
    child = write(
        tmp_path,
        "c.yaml",
        "extends: p.yaml\npolicies:\n  pilots:\n    items:\n      - parks_per_year: 9\n"
        "  sme_pilot_cities:\n    schedule: {Zhuhai: 2024}\n",
    )
    sc = load_scenario(child)
    assert [p.parks_per_year for p in sc.policies.pilots.items] == [9]
    assert sc.policies.pilots.items[0].level == "park"  # item defaults come from the schema
    assert sc.policies.sme_pilot_cities.schedule == {"Zhuhai": 2024}


def test_partial_section_keeps_defaults(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "p.yaml",
        "policies:\n  # nothing here yet\ndiffusion:\n  cloud:\n    market_rate_per_year: 0.2\n",
    )
    sc = load_scenario(path)
    default = Scenario().diffusion.cloud
    assert sc.diffusion.cloud.market_rate_per_year == 0.2
    assert sc.diffusion.cloud.chain_weight_per_year == default.chain_weight_per_year
    assert sc.policies == Scenario().policies


def test_cycle_is_an_error_with_the_chain(tmp_path: Path) -> None:
    a = write(tmp_path, "a.yaml", "extends: b.yaml\n")
    write(tmp_path, "b.yaml", "extends: a.yaml\n")
    err = error_of(a)
    assert err.key_path == "extends"
    assert "circular extends: a.yaml -> b.yaml -> a.yaml" in str(err)


def test_self_extension_is_a_cycle(tmp_path: Path) -> None:
    a = write(tmp_path, "a.yaml", "extends: a.yaml\n")
    assert "a.yaml -> a.yaml" in str(error_of(a))


def test_missing_parent_is_an_error_with_the_chain(tmp_path: Path) -> None:
    write(tmp_path, "b.yaml", "extends: nowhere.yaml\n")
    a = write(tmp_path, "a.yaml", "extends: b.yaml\n")
    err = error_of(a)
    assert err.file == str(tmp_path / "b.yaml")
    assert err.key_path == "extends"
    assert "a.yaml -> b.yaml -> nowhere.yaml" in err.message
    assert "baseline" in err.allowed  # shipped scenarios are offered


def test_extends_must_be_text(tmp_path: Path) -> None:
    err = error_of(write(tmp_path, "a.yaml", "extends: [x, y]\n"))
    assert err.key_path == "extends"


def test_missing_file(tmp_path: Path) -> None:
    err = error_of(tmp_path / "absent.yaml")
    assert "no such scenario file" in str(err)


# --------------------------------------------------------------------------- --set overrides


def test_parse_overrides_reads_values_as_yaml() -> None:
    got = parse_overrides(
        ["run.replicates=5", "a.b=0.3", "c=true", "d=[a, b]", "e=null", "f=2021-07", "g=x=y"]
    )
    assert got == {
        "run.replicates": 5,
        "a.b": 0.3,
        "c": True,
        "d": ["a", "b"],
        "e": None,
        "f": "2021-07",
        "g": "x=y",
    }


@pytest.mark.parametrize("text", ["run.replicates", "=5"])
def test_parse_overrides_malformed(text: str) -> None:
    with pytest.raises(ScenarioError) as info:
        parse_overrides([text])
    assert str(info.value).startswith(f"--set {text}: ")


def test_set_beats_the_file_and_arguments_beat_set(tmp_path: Path) -> None:
    path = write(
        tmp_path, "s.yaml", "run:\n  replicates: 2\n  seed: 3\npopulation:\n  total_firms: 5000\n"
    )
    sc = load_scenario(path, ["run.replicates=7", "population.total_firms=6000", "run.seed=4"])
    assert (sc.run.replicates, sc.population.total_firms, sc.run.seed) == (7, 6000, 4)
    sc = load_scenario(path, ["run.replicates=7", "run.seed=4"], replicates=9, seed=11)
    assert (sc.run.replicates, sc.run.seed) == (9, 11)
    sc = load_scenario(path, {"policies.vouchers.enabled": False})
    assert sc.policies.vouchers.enabled is False


def test_set_list_item_and_mapping_entry(tmp_path: Path) -> None:
    path = write(tmp_path, "s.yaml", "{}\n")
    sc = load_scenario(
        path,
        [
            "policies.platforms.items.0.cloud_rate_per_year=0.5",
            "policies.sme_pilot_cities.schedule.Zhuhai=2025",
            "population.above_scale_year_end.2024=73000",
            "population.cluster_shares.electronics=0.5",
            "policies.vouchers.excluded_cities=[]",
        ],
    )
    assert sc.policies.platforms.items[0].cloud_rate_per_year == 0.5
    assert sc.policies.sme_pilot_cities.schedule["Zhuhai"] == 2025
    assert sc.policies.sme_pilot_cities.schedule["Shenzhen"] == 2023
    assert sc.population.above_scale_year_end[2024] == 73_000
    assert sc.population.cluster_shares == {"electronics": 0.5}
    assert sc.policies.vouchers.excluded_cities == []


def test_set_unknown_key_path_names_the_override(tmp_path: Path) -> None:
    path = write(tmp_path, "s.yaml", "{}\n")
    err = error_of(path, ["policies.vouchers.budjet_cny_per_year=1"])
    assert str(err).startswith(
        "--set policies.vouchers.budjet_cny_per_year=1: policies.vouchers.budjet_cny_per_year: "
        "unknown key 'budjet_cny_per_year'; allowed: enabled, start, end, scale, rounds, budget_cny_per_year"
    )
    assert str(err).endswith("(did you mean 'budget_cny_per_year'?)")
    err = error_of(path, ["polices.x=1"])
    assert err.key_path == "polices" and err.suggestion == "policies"


def test_set_bad_value_names_the_override(tmp_path: Path) -> None:
    path = write(tmp_path, "s.yaml", "run:\n  replicates: 2\n")
    err = error_of(path, ["run.replicates=0"])
    assert err.file == "--set run.replicates=0"
    assert err.key_path == "run.replicates"
    assert "1 <= x <= 100000" in err.allowed


def test_set_into_a_scalar_or_past_a_list_end(tmp_path: Path) -> None:
    path = write(tmp_path, "s.yaml", "{}\n")
    assert "not a mapping" in error_of(path, ["run.seed.x=1"]).message
    err = error_of(path, ["policies.pilots.items.4.parks_per_year=1"])
    assert err.key_path == "policies.pilots.items[4]"
    assert err.allowed == "an item index 0..0"


def test_bad_argument_names_the_argument(tmp_path: Path) -> None:
    err = error_of(write(tmp_path, "s.yaml", "{}\n"), replicates=0)
    assert err.file == "argument replicates=0"


# --------------------------------------------------------------------------- error messages


def test_misspelt_key_one_line_with_suggestion(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.yaml", "policies:\n  vouchers:\n    budjet_cny_per_year: 1\n")
    err = error_of(path)
    text = str(err)
    assert text.startswith(f"{path}: policies.vouchers.budjet_cny_per_year: unknown key ")
    assert "; allowed: enabled, start, end, scale, rounds, budget_cny_per_year," in text
    assert text.endswith("(did you mean 'budget_cny_per_year'?)")


def test_misspelt_top_level_key_offers_extends(tmp_path: Path) -> None:
    err = error_of(write(tmp_path, "bad.yaml", "extend: baseline\n"))
    assert err.key_path == "extend"
    assert err.suggestion == "extends"
    assert err.allowed.startswith("extends, name, description, time")


def test_error_in_parent_names_the_parent_file(tmp_path: Path) -> None:
    parent = write(tmp_path, "parent.yaml", "run:\n  seedd: 3\n")
    child = write(tmp_path, "child.yaml", "extends: parent.yaml\n")
    err = error_of(child)
    assert err.file == str(parent)
    assert err.key_path == "run.seedd" and err.suggestion == "seed"


def test_wrong_type_names_path_and_type(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.yaml", "population:\n  total_firms: many\n")
    err = error_of(path)
    assert err.key_path == "population.total_firms"
    assert "'many'" in err.message
    assert err.allowed == "integer, 1000 <= x <= 20000000"


def test_section_given_a_scalar(tmp_path: Path) -> None:
    err = error_of(write(tmp_path, "bad.yaml", "time: 5\n"))
    assert err.key_path == "time"
    assert err.allowed == "a mapping with keys start, end, substeps_per_month"


def test_out_of_range_names_path_and_bounds(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.yaml", "diffusion:\n  churn_rate_per_year: 150\n")
    err = error_of(path)
    assert str(err) == (
        f"{path}: diffusion.churn_rate_per_year: got 150: input should be less than or equal to "
        "100; allowed: number, 0 <= x <= 100"
    )


def test_literal_in_list_item(tmp_path: Path) -> None:
    path = write(
        tmp_path, "bad.yaml", "policies:\n  pilots:\n    items:\n      - {}\n      - level: town\n"
    )
    err = error_of(path)
    assert err.key_path == "policies.pilots.items[1].level"
    assert "'park'" in err.allowed and "'cluster'" in err.allowed


def test_unknown_city_in_a_list(tmp_path: Path) -> None:
    path = write(
        tmp_path, "bad.yaml", "policies:\n  vouchers:\n    excluded_cities: [Shenzhen, Atlantis]\n"
    )
    err = error_of(path)
    assert err.key_path == "policies.vouchers.excluded_cities"
    assert err.message == "unknown city 'Atlantis'"
    assert err.allowed.startswith("Guangzhou, Shenzhen, Zhuhai")


def test_unknown_cluster_in_a_list_item(tmp_path: Path) -> None:
    path = write(
        tmp_path, "bad.yaml", "policies:\n  platforms:\n    items:\n      - clusters: [toys]\n"
    )
    err = error_of(path)
    assert err.key_path == "policies.platforms.items[0].clusters"
    assert "unknown cluster 'toys'" in err.message and "electronics" in err.allowed


def test_month_format(tmp_path: Path) -> None:
    err = error_of(write(tmp_path, "bad.yaml", "time:\n  end: '2025-13'\n"))
    assert err.key_path == "time.end" and "YYYY-MM" in err.allowed


def test_cross_field_check_names_the_section(tmp_path: Path) -> None:
    err = error_of(write(tmp_path, "bad.yaml", "time:\n  start: '2022-01'\n  end: '2021-12'\n"))
    assert err.key_path == "time"
    assert "must be after start" in err.message


def test_several_errors_are_counted(tmp_path: Path) -> None:
    path = write(
        tmp_path, "bad.yaml", "run:\n  replicates: 0\n  seed: -1\noutputs:\n  figure: true\n"
    )
    err = error_of(path)
    assert err.key_path == "run.replicates"
    assert str(err).endswith("(and 2 more errors)")


def test_yaml_syntax_error_gives_the_line(tmp_path: Path) -> None:
    err = error_of(
        write(tmp_path, "bad.yaml", "name: x\ntime:\n  start: 2021-06\n    end: 2025-12\n")
    )
    assert err.key_path == "line 4, column 8"
    assert err.message == "invalid YAML: mapping values are not allowed here"


@pytest.mark.parametrize(
    ("text", "what"), [("- a\n- b\n", "list"), ("just text\n", "str"), ("", "empty")]
)
def test_top_level_must_be_a_mapping(tmp_path: Path, text: str, what: str) -> None:
    err = error_of(write(tmp_path, "bad.yaml", text))
    assert err.key_path == "(top level)"
    assert what in err.message


def test_bad_name_from_stem(tmp_path: Path) -> None:
    err = error_of(write(tmp_path, "two words.yaml", "{}\n"))
    assert err.key_path == "name" and "A-Za-z0-9" in err.allowed


# --------------------------------------------------------------------------- resolved YAML and hash


def test_resolved_yaml_round_trips(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "s.yaml",
        "description: Round trip.\npopulation:\n  total_firms: 12345\n  cluster_shares: {electronics: 2}\n"
        "policies:\n  pilots:\n    items:\n      - level: cluster\n        cities: [Foshan]\n",
    )
    sc = load_scenario(path, ["run.replicates=3"])
    text = resolved_yaml(sc)
    again = load_scenario(write(tmp_path, "resolved.yaml", text))
    assert again == sc
    assert scenario_hash(again) == scenario_hash(sc)
    assert resolved_yaml(again) == text
    assert text.splitlines()[0] == "name: s"  # schema key order


def test_hash_ignores_replicates_only(tmp_path: Path) -> None:
    path = write(tmp_path, "s.yaml", "{}\n")
    base = load_scenario(path)
    digest = scenario_hash(base)
    assert len(digest) == 64 and int(digest, 16) >= 0
    assert short_hash(base) == digest[:10]
    assert scenario_hash(load_scenario(path, replicates=50)) == digest
    for override in (
        "run.seed=1",
        "policies.vouchers.budget_cny_per_year=300000001",
        "diffusion.cloud.chain_weight_per_year=0.041",
        "outputs.cells=true",
        "name=other",
        "policies.sme_pilot_cities.schedule.Zhuhai=2025",
    ):
        assert scenario_hash(load_scenario(path, [override])) != digest, override
