"""Fault injection and hostile input (issue 15): every case must end in one line, the right exit
code, nothing written where it should not be, and no traceback.

Test names carry the numbered point of issue 15 they cover (``p6`` = duplicate keys, ``p7`` =
memory exhaustion, ...). This file: input files, sizes, names and paths, command-line errors;
``test_faults_runs.py``: workers, signals, resume integrity, disk full;
``test_faults_dashboard.py``: the dashboard's server-side checks. Tests slower than ~30 s are
marked ``slow``.
"""

from __future__ import annotations

import time

import pytest
from faults_support import REPO, SMALL, cli, one_error_line, validate_cli, write_file

import sim
from sim.cli.main import main
from sim.errors import ScenarioError
from sim.scenario import limits
from sim.scenario.loader import load_scenario, parse_overrides
from sim.scenario.safeyaml import YamlProblem, load_yaml
from sim.scenario.schema import Scenario

# --------------------------------------------------------------------------- p6 duplicate keys


@pytest.mark.parametrize(
    ("text", "key", "lines"),
    [
        ("policies:\n  vouchers: {scale: 2}\nrun: {replicates: 2}\npolicies:\n  pilots: {scale: 0}\n",
         "policies", (1, 4)),
        ("policies:\n  vouchers:\n    scale: 2\n    enabled: true\n    scale: 3\n", "scale", (3, 5)),
        ("run:\n  replicates: 2\n  seed: 1\n  replicates: 5\n", "replicates", (2, 4)),
    ],
)
def test_p6_duplicate_key_names_both_lines(tmp_path, capsys, text, key, lines) -> None:
    path = write_file(tmp_path, "dup.yaml", text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    msg = str(info.value)
    assert f"{key!r} is written twice (line {lines[0]} and line {lines[1]})" in msg
    code, err = validate_cli(capsys, str(path))
    assert code == 2 and f"line {lines[0]} and line {lines[1]}" in one_error_line(err)


def test_p6_duplicate_key_in_analysis_spec(tmp_path, capsys) -> None:
    spec = write_file(tmp_path, "sweep.yaml",
                  "base: demo\nreplicates: 1\nparameters:\n  - path: policies.vouchers.scale\n"
                  "    values: [0, 1]\nreplicates: 3\n")
    code = main(["sweep", str(spec), "--dry-run", "--out", str(tmp_path / "out")])
    line = one_error_line(capsys.readouterr().err)
    assert code == 2 and "'replicates' is written twice (line 2 and line 6)" in line
    assert not (tmp_path / "out").exists()


def test_p6_duplicate_key_in_set_value() -> None:
    with pytest.raises(ScenarioError, match="written twice"):
        parse_overrides(["population.cluster_shares={C01: 1, C01: 2}"])


def test_p6_merge_keys_and_distinct_keys_still_load() -> None:
    data = load_yaml("base: &b {a: 1, b: 2}\nchild:\n  <<: *b\n  b: 3\n")
    assert data["child"] == {"a": 1, "b": 3}


# --------------------------------------------------------------------------- p7 oversized input

BOMB = "".join(
    f"{c}: &{c} [{', '.join([f'*{p}'] * 9) if p else ', '.join(['lol'] * 9)}]\n"
    for p, c in zip([None, "a", "b", "c", "d", "e", "f"], "abcdefg", strict=True)
) + "description: *g\n"


def test_p7_alias_bomb_refused_fast(tmp_path, capsys) -> None:
    path = write_file(tmp_path, "bomb.yaml", BOMB)
    assert len(BOMB) < 500
    t0 = time.process_time()  # CPU time of this process: not inflated by other load on the machine
    code, err = validate_cli(capsys, str(path))
    assert time.process_time() - t0 < 5  # expanded, the bomb took 88 s and 2.9 GB
    line = one_error_line(err)
    assert code == 2 and "aliases are expanded" in line and len(line) < 400


def test_p7_many_aliases_and_recursive_alias_refused() -> None:
    many = "a: &a 1\nb: [" + ", ".join(["*a"] * (limits.MAX_YAML_ALIASES + 1)) + "]\n"
    with pytest.raises(YamlProblem, match="aliases"):
        load_yaml(many)
    with pytest.raises(YamlProblem, match="contains it"):
        load_yaml("a: &a [1, *a]\n")


def test_p7_deep_nesting_refused(tmp_path, capsys) -> None:
    path = write_file(tmp_path, "deep.yaml", "description: " + "[" * 20_000 + "]" * 20_000 + "\n")
    code, err = validate_cli(capsys, str(path))
    assert code == 2 and f"nested more than {limits.MAX_YAML_DEPTH} levels" in one_error_line(err)


def test_p7_oversized_file_refused_before_reading(tmp_path, capsys) -> None:
    path = tmp_path / "big.yaml"
    with path.open("w", encoding="utf-8") as fh:
        fh.write("description: ")
        fh.write("x" * 50_000_000)
    code, err = validate_cli(capsys, str(path))
    line = one_error_line(err)
    assert code == 2 and "larger than" in line and len(line) < 400


def test_p7_long_description_refused_in_set(capsys) -> None:
    code, err = validate_cli(capsys, "demo", "--set", "description=" + "x" * 20_000)
    line = one_error_line(err)
    assert code == 2 and f"at most {limits.MAX_TEXT_CHARS} characters" in line and len(line) < 1500


def test_p7_huge_integer_is_one_line(tmp_path, capsys) -> None:
    path = write_file(tmp_path, "int.yaml", "run: {seed: " + "9" * 5000 + "}\n")
    code, err = validate_cli(capsys, str(path))
    assert code == 2 and "invalid value" in one_error_line(err)


@pytest.mark.parametrize(
    ("override", "phrase"),
    [
        ("population.above_scale_year_end={2023: 1000000000000}", "less than or equal to 20000000"),
        ("population.total_firms=30000000", "less than or equal to 20000000"),
        ("population.service_growth_per_year=1.0", "the population would reach about"),
    ],
)
def test_p7_population_bounded(capsys, override, phrase) -> None:
    extra = ["--set", "time.end=2060-12"] if "growth" in override else []
    code, err = validate_cli(capsys, "baseline", "--set", override, *extra)
    assert code == 2 and phrase in one_error_line(err)


def test_p7_largest_allowed_population_fits_the_stated_rule() -> None:
    sc = load_scenario("baseline", ["population.total_firms=10000000"])
    from sim.scenario.schema_population import peak_firms

    peak = peak_firms(sc.population, sc.time)
    assert 10_000_000 < peak <= limits.MAX_FIRMS
    assert limits.MAX_FIRMS * limits.BYTES_PER_FIRM <= 6e9


# --------------------------------------------------------------------------- p8 cross-field checks


@pytest.mark.parametrize(
    ("override", "phrase"),
    [
        ("goals.date=2020-12", "goals.date 2020-12 is before time.start 2021-06"),
        ("population.cluster_shares={C01: .nan}", "finite number"),
        ("population.sme_city_shares={Guangzhou: .inf}", "finite number"),
        ("diffusion.cloud.market_rate_per_year=.nan", "finite number"),
    ],
)
def test_p8_cross_field_and_finite_checks_at_validation(capsys, override, phrase) -> None:
    code, err = validate_cli(capsys, "demo", "--set", override)
    assert code == 2 and phrase in one_error_line(err)


def test_p8_all_zero_shares_refused() -> None:
    from sim import datasets

    zero = {c: 0.0 for c in datasets.cluster_ids()}
    with pytest.raises(ScenarioError, match="every entry a weight of 0"):
        load_scenario("demo", {"population.cluster_shares": zero})


def test_p8_goal_at_the_start_month_is_allowed() -> None:
    assert load_scenario("demo", ["goals.date=2021-06"]).goals.date == "2021-06"


# --------------------------------------------------------------------------- p11 smaller


def test_p11_seed_true_refused(capsys) -> None:
    code, err = validate_cli(capsys, "demo", "--set", "run.seed=true")
    assert code == 2 and "run.seed: got true" in one_error_line(err)
    with pytest.raises(Exception, match="got true"):
        Scenario.model_validate({"run": {"replicates": True}})
    assert Scenario.model_validate({"outputs": {"figures": False}}).outputs.figures is False


def test_p11_extends_of_a_non_scenario_file_does_not_echo_its_keys(tmp_path, capsys) -> None:
    write_file(tmp_path, "secrets.yaml", "api_token_9f8e: hunter2\nother: 1\n")
    child = write_file(tmp_path, "child.yaml", "extends: secrets.yaml\n")
    code, err = validate_cli(capsys, str(child))
    line = one_error_line(err)
    assert code == 2 and "is not a scenario file" in line
    assert "api_token_9f8e" not in line and "hunter2" not in line
    other = write_file(tmp_path, "child2.yaml", "extends: /etc/passwd\n")
    code, err = validate_cli(capsys, str(other))
    line = one_error_line(err)
    assert code == 2 and "not a .yaml/.yml file" in line and ":0:0:" not in line


def test_p11_compare_with_a_single_string_is_refused() -> None:
    with pytest.raises(ScenarioError, match="got one str, not a list"):
        sim.compare("demo", save=False)


# --------------------------------------------------------------------------- p2/p10 names


@pytest.mark.parametrize("name", ["..", ".", ".hidden", "a/b", "a\\b", "x" * 300, ""])
def test_p2_names_are_single_safe_path_components(capsys, name) -> None:
    code, err = validate_cli(capsys, "demo", "--set", f"name={name}")
    line = one_error_line(err)
    assert code == 2 and "name" in line and len(line) < 1500


def test_p2_file_named_dotdot_yaml_is_refused(tmp_path, capsys) -> None:
    path = write_file(tmp_path, "...yaml", "run: {replicates: 1}\n")
    code, err = validate_cli(capsys, str(path))
    assert code == 2 and "name: got '..'" in one_error_line(err)


# --------------------------------------------------------------------------- p2/p3/p10 paths and CLI


def test_p2_run_name_cannot_leave_out(tmp_path, capsys) -> None:
    out = tmp_path / "a" / "out"
    for name in ("..", ".", "../escape", "x" * 300):
        code, err = cli(capsys, "run", "demo", "--set", f"name={name}", "--out", str(out), *[
            "--set", SMALL[0], "--set", SMALL[1]])
        assert code == 2 and "name" in one_error_line(err)
    assert not (tmp_path / "a").exists()  # nothing written anywhere, inside or outside --out


def test_p2_results_folder_refuses_an_unsafe_name(tmp_path) -> None:
    from sim.runs.rundir import new_run_folder

    with pytest.raises(ScenarioError, match="not a single safe folder name"):
        new_run_folder(tmp_path / "out", "..", "abc")
    assert not (tmp_path / "out").exists()


def test_p3_spec_write_scenario_cannot_leave_its_folders(tmp_path, capsys) -> None:
    from sim.analysis.calibration_spec import CalibrationSpec, scenario_target

    shipped = (REPO / "scenarios" / "analysis" / "calibration.yaml").read_text(encoding="utf-8")
    spec_dir = tmp_path / "specs"
    spec_dir.mkdir()
    victim = tmp_path / "elsewhere" / "victim.txt"
    victim.parent.mkdir()
    victim.write_text("precious", encoding="utf-8")
    text = "\n".join(ln for ln in shipped.splitlines() if not ln.startswith("write_scenario"))
    for target, phrase in ((str(victim), "is not a .yaml file"),
                           ("../elsewhere/victim.yaml", "is outside the spec's folder")):
        rel = target if target.startswith("/") else str(spec_dir / target)
        spec = write_file(spec_dir, "cal.yaml", text + f"\nwrite_scenario: {rel}\n")
        code, err = cli(capsys, "calibrate", str(spec), "--out", str(tmp_path / "out"))
        assert code == 2 and phrase in one_error_line(err)
    assert victim.read_text(encoding="utf-8") == "precious"
    assert not (tmp_path / "out").exists()
    inside = CalibrationSpec.load(write_file(spec_dir, "ok.yaml", text + "\nwrite_scenario: calibrated.yaml\n"))
    inside.write_scenario = str(spec_dir / "calibrated.yaml")
    assert scenario_target(inside, None, True) == spec_dir / "calibrated.yaml"
    outside = CalibrationSpec.load(spec)
    assert scenario_target(outside, None, True, force=True) is not None  # --force


def test_p10_out_is_a_file_or_not_writable(tmp_path, capsys) -> None:
    afile = write_file(tmp_path, "afile", "x")
    code, err = cli(capsys, "run", "demo", "--out", str(afile))
    assert code == 2 and "is a file, not a folder" in one_error_line(err)
    code, err = cli(capsys, "run", "demo", "--out", "/proc/gdcloud-results", "--set", SMALL[0],
                     "--set", SMALL[1])
    assert code == 2 and "cannot create" in one_error_line(err)


def test_p10_bad_scheduler_address_is_one_line(capsys) -> None:
    code, err = cli(capsys, "run", "demo", "--address", "notaurl")
    assert code == 2 and "not a scheduler address" in one_error_line(err)


def test_p10_unexpected_error_is_one_line_unless_debug(monkeypatch, capsys) -> None:
    import sim.cli.main as cli_module

    def boom(args):
        raise RuntimeError("something nobody expected")

    monkeypatch.setattr(cli_module, "cmd_list", boom)
    code, err = cli(capsys, "list")
    assert code == 1 and "unexpected RuntimeError: something nobody expected" in one_error_line(err)
    with pytest.raises(RuntimeError):
        main(["list", "--debug"])


# --------------------------------------------------------------------------- p7 analysis sizes


def test_p7_factorial_sweep_size_counted_before_building(tmp_path, capsys) -> None:
    params = "".join(f"  - path: {p}\n    lower: 0\n    upper: 1\n    levels: 1000\n" for p in (
        "policies.vouchers.scale", "policies.pilots.scale", "policies.platforms.scale",
        "policies.chain_leaders.scale"))
    spec = write_file(tmp_path, "huge.yaml", f"base: demo\nparameters:\n{params}")
    t0 = time.process_time()  # CPU time of this process
    code, err = cli(capsys, "sweep", str(spec), "--dry-run")
    assert time.process_time() - t0 < 10
    line = one_error_line(err)
    assert code == 2 and "the design has 1,000,000,000,000 points" in line
    lhs = write_file(tmp_path, "lhs.yaml", "base: demo\ndesign: latin_hypercube\nsamples: 900000\n"
                 "parameters:\n  - {path: policies.vouchers.scale, lower: 0, upper: 1}\n")
    code, err = cli(capsys, "sweep", str(lhs), "--dry-run")
    assert code == 2 and "900,000 points" in one_error_line(err)


@pytest.mark.parametrize(
    ("kind", "text", "phrase"),
    [
        ("sensitivity", "base: demo\nn: 1048576\nparameters:\n  - {path: policies.vouchers.scale, lower: 0, upper: 2}\n",
         "less than or equal to 50000"),
        ("sensitivity", "base: demo\nn: 16384\nparameters:\n  - {path: policies.vouchers.scale, lower: 0, upper: 2}\n"
         "  - {path: policies.pilots.scale, lower: 0, upper: 2}\n", "sample points"),
        ("calibrate", "base: demo\nabc: {draws: 100000000}\nparameters:\n"
         "  - {path: diffusion.cloud.market_rate_per_year, lower: 0, upper: 0.2}\n", "less than or equal to 50000"),
        ("calibrate", "base: demo\nprofile: {points: 1000000}\nparameters:\n"
         "  - {path: diffusion.cloud.market_rate_per_year, lower: 0, upper: 0.2}\n", "less than or equal to 1000"),
    ],
)
def test_p7_analysis_sizes_bounded(tmp_path, capsys, kind, text, phrase) -> None:
    spec = write_file(tmp_path, f"{kind}.yaml", text)
    code, err = cli(capsys, kind, str(spec), "--out", str(tmp_path / "out"))
    assert code == 2 and phrase in one_error_line(err)
    assert not (tmp_path / "out").exists()


def test_p7_discover_samples_bounded(tmp_path, capsys) -> None:
    code, err = cli(capsys, "discover", "demo", "--samples", "100000000", "--out", str(tmp_path))
    assert code == 2 and "too large" in one_error_line(err)


def test_p7_workers_times_population_must_fit_in_memory(tmp_path, capsys) -> None:
    import psutil

    available_gb = psutil.virtual_memory().available / 1e9
    workers = int(available_gb / 2.45) + 2  # 10,000,000 firms: ~2.45 GB per worker
    # As many replicates as workers: a single replicate runs in this process whatever -j says.
    code, err = cli(capsys, "run", "baseline", "--set", "population.total_firms=10000000",
                     "-n", str(workers), "--workers", str(workers), "--out", str(tmp_path / "out"))
    assert code == 2 and "GB of memory" in one_error_line(err)
    assert not (tmp_path / "out").exists()
