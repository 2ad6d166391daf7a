"""Fault injection and hostile input (issue 15): every case must end in one line, the right exit
code, nothing written where it should not be, and no traceback.

Sections follow the numbered points of issue 15; each test names its point (``p6`` = duplicate
keys, ``p7`` = memory exhaustion, ...). Tests slower than ~30 s are marked ``slow``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

import sim
from sim.cli.main import main
from sim.errors import ScenarioError
from sim.scenario import limits
from sim.scenario.loader import load_scenario, parse_overrides
from sim.scenario.safeyaml import YamlProblem, load_yaml
from sim.scenario.schema import Scenario

REPO = Path(__file__).resolve().parents[1]
SMALL = ["population.total_firms=5000", "time.end=2021-09"]


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def _validate_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(["validate", *argv])
    err = capsys.readouterr().err
    return code, err


def _one_error_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and "Traceback" not in err
    return lines[0]


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
    path = _write(tmp_path, "dup.yaml", text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    msg = str(info.value)
    assert f"{key!r} is written twice (line {lines[0]} and line {lines[1]})" in msg
    code, err = _validate_cli(capsys, str(path))
    assert code == 2 and f"line {lines[0]} and line {lines[1]}" in _one_error_line(err)


def test_p6_duplicate_key_in_analysis_spec(tmp_path, capsys) -> None:
    spec = _write(tmp_path, "sweep.yaml",
                  "base: demo\nreplicates: 1\nparameters:\n  - path: policies.vouchers.scale\n"
                  "    values: [0, 1]\nreplicates: 3\n")
    code = main(["sweep", str(spec), "--dry-run", "--out", str(tmp_path / "out")])
    line = _one_error_line(capsys.readouterr().err)
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
    path = _write(tmp_path, "bomb.yaml", BOMB)
    assert len(BOMB) < 500
    t0 = time.perf_counter()
    code, err = _validate_cli(capsys, str(path))
    assert time.perf_counter() - t0 < 5
    line = _one_error_line(err)
    assert code == 2 and "aliases are expanded" in line and len(line) < 400


def test_p7_many_aliases_and_recursive_alias_refused() -> None:
    many = "a: &a 1\nb: [" + ", ".join(["*a"] * (limits.MAX_YAML_ALIASES + 1)) + "]\n"
    with pytest.raises(YamlProblem, match="aliases"):
        load_yaml(many)
    with pytest.raises(YamlProblem, match="contains it"):
        load_yaml("a: &a [1, *a]\n")


def test_p7_deep_nesting_refused(tmp_path, capsys) -> None:
    path = _write(tmp_path, "deep.yaml", "description: " + "[" * 20_000 + "]" * 20_000 + "\n")
    code, err = _validate_cli(capsys, str(path))
    assert code == 2 and f"nested more than {limits.MAX_YAML_DEPTH} levels" in _one_error_line(err)


def test_p7_oversized_file_refused_before_reading(tmp_path, capsys) -> None:
    path = tmp_path / "big.yaml"
    with path.open("w", encoding="utf-8") as fh:
        fh.write("description: ")
        fh.write("x" * 50_000_000)
    code, err = _validate_cli(capsys, str(path))
    line = _one_error_line(err)
    assert code == 2 and "larger than" in line and len(line) < 400


def test_p7_long_description_refused_in_set(capsys) -> None:
    code, err = _validate_cli(capsys, "demo", "--set", "description=" + "x" * 20_000)
    line = _one_error_line(err)
    assert code == 2 and f"at most {limits.MAX_TEXT_CHARS} characters" in line and len(line) < 1500


def test_p7_huge_integer_is_one_line(tmp_path, capsys) -> None:
    path = _write(tmp_path, "int.yaml", "run: {seed: " + "9" * 5000 + "}\n")
    code, err = _validate_cli(capsys, str(path))
    assert code == 2 and "invalid value" in _one_error_line(err)


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
    code, err = _validate_cli(capsys, "baseline", "--set", override, *extra)
    assert code == 2 and phrase in _one_error_line(err)


def test_p7_largest_allowed_population_fits_the_stated_rule() -> None:
    sc = load_scenario("baseline", ["population.total_firms=10000000"])
    from sim.scenario.schema import peak_firms

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
    code, err = _validate_cli(capsys, "demo", "--set", override)
    assert code == 2 and phrase in _one_error_line(err)


def test_p8_all_zero_shares_refused() -> None:
    from sim import datasets

    zero = {c: 0.0 for c in datasets.cluster_ids()}
    with pytest.raises(ScenarioError, match="every entry a weight of 0"):
        load_scenario("demo", {"population.cluster_shares": zero})


def test_p8_goal_at_the_start_month_is_allowed() -> None:
    assert load_scenario("demo", ["goals.date=2021-06"]).goals.date == "2021-06"


# --------------------------------------------------------------------------- p11 smaller


def test_p11_seed_true_refused(capsys) -> None:
    code, err = _validate_cli(capsys, "demo", "--set", "run.seed=true")
    assert code == 2 and "run.seed: got true" in _one_error_line(err)
    with pytest.raises(Exception, match="got true"):
        Scenario.model_validate({"run": {"replicates": True}})
    assert Scenario.model_validate({"outputs": {"figures": False}}).outputs.figures is False


def test_p11_extends_of_a_non_scenario_file_does_not_echo_its_keys(tmp_path, capsys) -> None:
    _write(tmp_path, "secrets.yaml", "api_token_9f8e: hunter2\nother: 1\n")
    child = _write(tmp_path, "child.yaml", "extends: secrets.yaml\n")
    code, err = _validate_cli(capsys, str(child))
    line = _one_error_line(err)
    assert code == 2 and "is not a scenario file" in line
    assert "api_token_9f8e" not in line and "hunter2" not in line
    other = _write(tmp_path, "child2.yaml", "extends: /etc/passwd\n")
    code, err = _validate_cli(capsys, str(other))
    line = _one_error_line(err)
    assert code == 2 and "not a .yaml/.yml file" in line and ":0:0:" not in line


def test_p11_compare_with_a_single_string_is_refused() -> None:
    with pytest.raises(ScenarioError, match="got one str, not a list"):
        sim.compare("demo", save=False)


# --------------------------------------------------------------------------- p2/p10 names


@pytest.mark.parametrize("name", ["..", ".", ".hidden", "a/b", "a\\b", "x" * 300, ""])
def test_p2_names_are_single_safe_path_components(capsys, name) -> None:
    code, err = _validate_cli(capsys, "demo", "--set", f"name={name}")
    line = _one_error_line(err)
    assert code == 2 and "name" in line and len(line) < 1500


def test_p2_file_named_dotdot_yaml_is_refused(tmp_path, capsys) -> None:
    path = _write(tmp_path, "...yaml", "run: {replicates: 1}\n")
    code, err = _validate_cli(capsys, str(path))
    assert code == 2 and "name: got '..'" in _one_error_line(err)


# --------------------------------------------------------------------------- p5 workers and signals


def square_or_die(item: tuple[int, int, str]) -> int:
    """Module level so workers can unpickle it: dies on ``x == bad`` (always, or once if
    ``marker`` names a file that does not exist yet)."""
    x, bad, marker = item
    if x == bad:
        if not marker:
            os._exit(17)
        if not os.path.exists(marker):
            Path(marker).write_text("died once", encoding="utf-8")
            os._exit(17)
    time.sleep(0.05)
    return x * x


def test_p5_one_dead_worker_fails_only_its_own_run() -> None:
    from sim.runs.executors import ProcessExecutor

    out, errors = [], []
    with ProcessExecutor(2) as ex:
        ex.map(square_or_die, [(x, 2, "") for x in range(8)], out.append,
               lambda spec, exc: errors.append((spec[0], type(exc).__name__)))
    assert errors == [(2, "BrokenProcessPool")]
    assert sorted(out) == [x * x for x in range(8) if x != 2]


def test_p5_a_worker_killed_once_is_retried_and_succeeds(tmp_path) -> None:
    from sim.runs.executors import ProcessExecutor

    marker = str(tmp_path / "marker")
    out, errors = [], []
    with ProcessExecutor(2) as ex:
        ex.map(square_or_die, [(x, 5, marker) for x in range(8)], out.append,
               lambda spec, exc: errors.append(spec[0]))
    assert Path(marker).exists() and errors == []
    assert sorted(out) == [x * x for x in range(8)]


def _start_run(tmp_path: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO), "MPLBACKEND": "Agg"}
    cmd = [sys.executable, "-m", "sim", "run", "demo", "--set", "population.total_firms=200000",
           "--replicates", "6", "--workers", "2", "--no-figures", "--out", str(tmp_path / "out"),
           *extra]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _workers_started(proc: subprocess.Popen, n: int, timeout_s: float = 60) -> list[psutil.Process]:
    """The run's descendant processes, once at least ``n`` of them exist besides helpers."""
    parent = psutil.Process(proc.pid)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        kids = parent.children(recursive=True)
        if len(kids) >= n + 2:  # workers + fork server + resource tracker
            time.sleep(1.0)  # let the workers start a replicate
            return parent.children(recursive=True)
        time.sleep(0.2)
    raise AssertionError(f"the run did not start {n} workers: {parent.children(recursive=True)}")


def _all_gone(procs: list[psutil.Process], timeout_s: float = 10) -> list[str]:
    """The command lines of the processes still alive after ``timeout_s`` (then killed)."""
    _, alive = psutil.wait_procs(procs, timeout=timeout_s)
    names = []
    for p in alive:  # do not leave them behind for the next test
        with contextlib.suppress(psutil.Error):
            names.append(" ".join(p.cmdline())[:200])
            p.kill()
    return names


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_p5_sigterm_or_sigint_leaves_no_process_and_a_resumable_folder(tmp_path, sig) -> None:
    proc = _start_run(tmp_path)
    kids = _workers_started(proc, 2)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "--resume" in err
    assert _all_gone(kids) == []
    manifest = json.loads(next((tmp_path / "out").rglob("manifest.json")).read_text())
    assert manifest["status"] == "interrupted"


def test_p5_sigkill_of_the_main_process_leaves_no_worker(tmp_path) -> None:
    proc = _start_run(tmp_path)
    kids = _workers_started(proc, 2)
    proc.kill()
    proc.wait(timeout=30)
    assert _all_gone(kids) == []
    proc.communicate(timeout=30)


# --------------------------------------------------------------------------- p4 dashboard


HAVE_SOLARA = importlib.util.find_spec("solara") is not None


@pytest.mark.parametrize(
    ("lever", "value", "phrase"),
    [
        ("seed", "abc", "not a whole number"),
        ("seed", "-5", "not a whole number"),
        ("seed", "9" * 5000, "not a whole number"),
        ("total_firms", 4_000_000, "not a number from 10,000 to 2,000,000"),
        ("total_firms", 20_000_000, "not a number from 10,000 to 2,000,000"),
        ("total_firms", "50000", "not a number"),
        ("voucher_subsidy_share", float("nan"), "not a number"),
        ("voucher_subsidy_share", 7.0, "not a number from 0 to 1"),
        ("chain_leaders_on", "yes", "not on/off"),
        ("service_capacity_per_month", [1, 2], "not a number"),
    ],
)
def test_p4_dashboard_checks_every_value_on_the_server(lever, value, phrase) -> None:
    from sim.dashboard.core import LEVERS, DashboardModel, default_levers

    model = DashboardModel(**{lever: value})
    assert len(model.input_messages) == 1 and phrase in model.input_messages[0]
    assert len(model.input_messages[0]) < 300
    assert model.levers[lever] == default_levers()[lever]  # the default is kept
    assert model.config.population.total_firms <= 2_000_000
    assert {lv.name for lv in LEVERS} == set(model.levers)


def test_p4_dashboard_accepts_good_values_without_message() -> None:
    from sim.dashboard.core import DashboardModel

    model = DashboardModel(total_firms=10_000, seed="1,234", voucher_subsidy_share=0.5)
    assert model.input_messages == [] and model.config.run.seed == 1234


def test_p4_dashboard_limits_concurrent_large_models(monkeypatch) -> None:
    from sim.dashboard import guard
    from sim.dashboard.core import DEFAULT_POPULATION, DashboardModel

    monkeypatch.setattr(guard, "MAX_MODELS", 1)
    monkeypatch.setattr(guard, "_LIVE", guard.weakref.WeakSet())
    first = DashboardModel(total_firms=60_000)
    second = DashboardModel(total_firms=60_000)
    assert first.config.population.total_firms == 60_000
    assert second.config.population.total_firms == DEFAULT_POPULATION
    assert "already runs 1 large models" in second.input_messages[0]
    del first
    third = DashboardModel(total_firms=60_000)  # the first page was closed: room again
    assert third.config.population.total_firms == 60_000


@pytest.mark.parametrize(
    ("origin", "host", "ok"),
    [
        (None, "127.0.0.1:8765", True),
        ("http://127.0.0.1:8765", "127.0.0.1:8765", True),
        ("http://localhost:8765", "localhost:8765", True),
        ("http://evil.example", "127.0.0.1:8765", False),
        ("http://127.0.0.1:9999", "127.0.0.1:8765", False),
        ("null", "127.0.0.1:8765", False),
        ("https://dash.example.org", "10.0.0.5:8765", True),  # listed
        ("http://rebind.example:8765", "rebind.example:8765", False),  # DNS rebinding to 127.0.0.1
    ],
)
def test_p4_websocket_origin_rule(origin, host, ok) -> None:
    from sim.dashboard import guard

    assert guard.origin_allowed(origin, host, {"https://dash.example.org:443"}) is ok


def test_p4_origin_guard_closes_a_foreign_websocket() -> None:
    import asyncio

    from sim.dashboard import guard

    reached, sent = [], []

    async def app(scope, receive, send):
        reached.append(scope["type"])

    async def send(message):
        sent.append(message)

    def scope(origin: str) -> dict:
        return {"type": "websocket", "headers": [(b"host", b"127.0.0.1:8765"), (b"origin", origin.encode())]}

    guarded = guard.origin_guard(app)
    asyncio.run(guarded(scope("http://evil.example"), None, send))
    assert reached == [] and sent == [{"type": "websocket.close", "code": 1008}]
    asyncio.run(guarded(scope("http://127.0.0.1:8765"), None, send))
    assert reached == ["websocket"]


@pytest.mark.skipif(not HAVE_SOLARA, reason="dashboard extra not installed")
def test_p4_page_shows_refused_value_as_a_message() -> None:
    import ipyvuetify as v
    import solara
    import solara.widgets

    from sim.dashboard import app
    from sim.dashboard.core import LEVERS

    @solara.component
    def Harness():
        with solara.AppLayout() as main:
            app.Page()
        return main

    _, rc = solara.render(Harness(), handle_error=False)
    try:
        label = next(lv.label for lv in LEVERS if lv.name == "total_firms")
        rc.find(v.Slider, label=label).widget.v_model = 4_000_000
        rc.find(v.Btn, children=["Reset"]).widget.click()
        text = " ".join(h.unsafe_innerHTML for h in rc.find(solara.widgets.HTML).widgets)
        assert "not a number from 10,000 to 2,000,000" in text and "Traceback" not in text
    finally:
        rc.close()


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_SOLARA, reason="dashboard extra not installed")
def test_p4_live_server_refuses_a_foreign_origin() -> None:
    import asyncio
    import socket as socketlib

    import websockets

    with socketlib.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(REPO), "MPLBACKEND": "Agg"}
    server = subprocess.Popen([sys.executable, "-m", "sim.dashboard", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    async def probe(origin: str) -> str:
        url = f"ws://127.0.0.1:{port}/jupyter/api/kernels/k/channels?session_id=s"
        try:
            ws = await websockets.connect(url, additional_headers={"Origin": origin})
        except websockets.InvalidStatus as exc:
            return f"refused {exc.response.status_code}"
        await ws.close()
        return "accepted"

    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with socketlib.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                assert time.monotonic() < deadline, "the dashboard did not start"
                time.sleep(0.5)
        assert asyncio.run(probe("http://evil.example")) == "refused 403"
        assert asyncio.run(probe(f"http://127.0.0.1:{port}")) == "accepted"
    finally:
        server.terminate()
        server.wait(timeout=30)


# --------------------------------------------------------------------------- p2/p3/p10 paths and CLI


def _cli(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().err


def test_p2_run_name_cannot_leave_out(tmp_path, capsys) -> None:
    out = tmp_path / "a" / "out"
    for name in ("..", ".", "../escape", "x" * 300):
        code, err = _cli(capsys, "run", "demo", "--set", f"name={name}", "--out", str(out), *[
            "--set", SMALL[0], "--set", SMALL[1]])
        assert code == 2 and "name" in _one_error_line(err)
    assert not (tmp_path / "a").exists()  # nothing written anywhere, inside or outside --out


def test_p2_results_folder_refuses_an_unsafe_name(tmp_path) -> None:
    from sim.runs.results import new_run_folder

    with pytest.raises(ScenarioError, match="not a single safe folder name"):
        new_run_folder(tmp_path / "out", "..", "abc")
    assert not (tmp_path / "out").exists()


def test_p3_spec_write_scenario_cannot_leave_its_folders(tmp_path, capsys) -> None:
    from sim.analysis.calibration import load_spec, scenario_target

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
        spec = _write(spec_dir, "cal.yaml", text + f"\nwrite_scenario: {rel}\n")
        code, err = _cli(capsys, "calibrate", str(spec), "--out", str(tmp_path / "out"))
        assert code == 2 and phrase in _one_error_line(err)
    assert victim.read_text(encoding="utf-8") == "precious"
    assert not (tmp_path / "out").exists()
    inside = load_spec(_write(spec_dir, "ok.yaml", text + "\nwrite_scenario: calibrated.yaml\n"))
    inside.write_scenario = str(spec_dir / "calibrated.yaml")
    assert scenario_target(inside, None, True) == spec_dir / "calibrated.yaml"
    outside = load_spec(spec)
    assert scenario_target(outside, None, True, force=True) is not None  # --force


def test_p10_out_is_a_file_or_not_writable(tmp_path, capsys) -> None:
    afile = _write(tmp_path, "afile", "x")
    code, err = _cli(capsys, "run", "demo", "--out", str(afile))
    assert code == 2 and "is a file, not a folder" in _one_error_line(err)
    code, err = _cli(capsys, "run", "demo", "--out", "/proc/gdcloud-results", "--set", SMALL[0],
                     "--set", SMALL[1])
    assert code == 2 and "cannot create" in _one_error_line(err)


def test_p10_bad_scheduler_address_is_one_line(capsys) -> None:
    code, err = _cli(capsys, "run", "demo", "--address", "notaurl")
    assert code == 2 and "not a scheduler address" in _one_error_line(err)


def test_p10_unexpected_error_is_one_line_unless_debug(monkeypatch, capsys) -> None:
    import sim.cli.main as cli

    def boom(args):
        raise RuntimeError("something nobody expected")

    monkeypatch.setattr(cli, "cmd_list", boom)
    code, err = _cli(capsys, "list")
    assert code == 1 and "unexpected RuntimeError: something nobody expected" in _one_error_line(err)
    with pytest.raises(RuntimeError):
        main(["list", "--debug"])


# --------------------------------------------------------------------------- p7 analysis sizes


def test_p7_factorial_sweep_size_counted_before_building(tmp_path, capsys) -> None:
    params = "".join(f"  - path: {p}\n    lower: 0\n    upper: 1\n    levels: 1000\n" for p in (
        "policies.vouchers.scale", "policies.pilots.scale", "policies.platforms.scale",
        "policies.chain_leaders.scale"))
    spec = _write(tmp_path, "huge.yaml", f"base: demo\nparameters:\n{params}")
    t0 = time.perf_counter()
    code, err = _cli(capsys, "sweep", str(spec), "--dry-run")
    assert time.perf_counter() - t0 < 10
    line = _one_error_line(err)
    assert code == 2 and "the design has 1,000,000,000,000 points" in line
    lhs = _write(tmp_path, "lhs.yaml", "base: demo\ndesign: latin_hypercube\nsamples: 900000\n"
                 "parameters:\n  - {path: policies.vouchers.scale, lower: 0, upper: 1}\n")
    code, err = _cli(capsys, "sweep", str(lhs), "--dry-run")
    assert code == 2 and "900,000 points" in _one_error_line(err)


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
    spec = _write(tmp_path, f"{kind}.yaml", text)
    code, err = _cli(capsys, kind, str(spec), "--out", str(tmp_path / "out"))
    assert code == 2 and phrase in _one_error_line(err)
    assert not (tmp_path / "out").exists()


def test_p7_discover_samples_bounded(tmp_path, capsys) -> None:
    code, err = _cli(capsys, "discover", "demo", "--samples", "100000000", "--out", str(tmp_path))
    assert code == 2 and "too large" in _one_error_line(err)


# --------------------------------------------------------------------------- p1/p9 resume integrity

RUN = ["--set", SMALL[0], "--set", SMALL[1], "--executor", "serial", "--no-figures"]


def _complete_run(tmp_path: Path, capsys, replicates: int = 3) -> Path:
    code = main(["run", "demo", "--replicates", str(replicates), "--out", str(tmp_path / "out"), *RUN])
    capsys.readouterr()
    assert code == 0
    [folder] = [p.parent for p in (tmp_path / "out").rglob("manifest.json")]
    return folder


def _manifest(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("damage", ["truncate", "garbage", "delete_checksum"])
def test_p1_resume_reruns_a_damaged_replicate_and_keeps_the_results(tmp_path, capsys, damage) -> None:
    folder = _complete_run(tmp_path, capsys)
    ts_before = (folder / "timeseries.csv").read_bytes()
    rep = folder / "replicates" / "rep-00001.csv"
    good = rep.read_bytes()
    if damage == "truncate":
        rep.write_bytes(good[: len(good) // 2])
    elif damage == "garbage":
        rep.write_bytes(b"not,a,time\nseries,at,all\n")
    else:
        m = _manifest(folder)
        del m["replicate_sha256"]["1"]
        (folder / "manifest.json").write_text(json.dumps(m), encoding="utf-8")
    code, err = _cli(capsys, "run", "--resume", str(folder), "--executor", "serial", "--no-figures")
    assert code == 0, err
    assert rep.read_bytes() == good  # run again, same seed, same bytes
    assert (folder / "timeseries.csv").read_bytes() == ts_before and (folder / "summary.csv").is_file()
    m = _manifest(folder)
    assert m["status"] == "complete" and m["replicates"]["done"] == [0, 1, 2]
    assert 1 in m["replicates_rejected"]


def test_p9_resume_refuses_changed_settings_and_fewer_replicates(tmp_path, capsys) -> None:
    folder = _complete_run(tmp_path, capsys)
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    for extra in (["--set", "policies.vouchers.scale=3"], ["--seed", "5"], ["--replicates", "2"]):
        code, err = _cli(capsys, "run", "--resume", str(folder), "--executor", "serial", *extra)
        assert code == 2, extra
        _one_error_line(err)
    after = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    assert after == before and _manifest(folder)["status"] == "complete"
    # a --set that leaves the scenario as it is, is applied honestly: nothing changes
    code, err = _cli(capsys, "run", "--resume", str(folder), "--executor", "serial", "--no-figures",
                     "--set", SMALL[0])
    assert code == 0, err


def test_p9_second_writer_is_refused_and_stale_tmp_removed(tmp_path, capsys) -> None:
    from sim.runs.integrity import FolderLock

    folder = _complete_run(tmp_path, capsys)
    stale = folder / "replicates" / ".rep-00007.csv.abc123.tmp"
    stale.write_text("half", encoding="utf-8")
    with FolderLock(folder):  # another writer holds the folder
        code, err = _cli(capsys, "run", "--resume", str(folder), "--executor", "serial", "--replicates", "4")
        assert code == 2 and "another process is writing this folder" in _one_error_line(err)
        assert stale.exists()
    code, err = _cli(capsys, "run", "--resume", str(folder), "--executor", "serial", "--no-figures",
                     "--replicates", "4")
    assert code == 0, err
    assert not stale.exists() and _manifest(folder)["replicates"]["done"] == [0, 1, 2, 3]


def test_p9_two_concurrent_resumes_in_two_processes(tmp_path, capsys) -> None:
    assert main(["run", "demo", "--replicates", "1", "--out", str(tmp_path / "out"), "--executor", "serial",
                 "--no-figures"]) == 0  # the full demo: ~1 s per replicate, so the first resume lasts
    capsys.readouterr()
    [folder] = [p.parent for p in (tmp_path / "out").rglob("manifest.json")]
    env = {**os.environ, "PYTHONPATH": str(REPO), "MPLBACKEND": "Agg"}
    cmd = [sys.executable, "-m", "sim", "run", "--resume", str(folder), "--replicates", "40",
           "--executor", "serial", "--no-figures"]
    first = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while _manifest(folder)["status"] != "running":
            assert time.monotonic() < deadline and first.poll() is None
            time.sleep(0.2)
        second = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
        assert second.returncode == 2 and "another process is writing" in _one_error_line(second.stderr)
    finally:
        first.terminate()
        first.communicate(timeout=60)
    assert _manifest(folder)["status"] == "interrupted"


@pytest.mark.parametrize(
    ("content", "phrase"),
    [("[1, 2, 3]", "holds a list"), ('{"status": "complete"}', "scenario: missing"),
     ('{"status": "complete", "scenario": {}, "replicates": {"planned": 3}, "sessions": []}', "scenario.hash")],
)
def test_p10_broken_manifest_is_one_line(tmp_path, capsys, content, phrase) -> None:
    folder = _complete_run(tmp_path, capsys, replicates=1)
    (folder / "manifest.json").write_text(content, encoding="utf-8")
    code, err = _cli(capsys, "run", "--resume", str(folder))
    assert code == 2 and phrase in _one_error_line(err)


def test_p10_invalid_resolved_scenario_is_one_line(tmp_path, capsys) -> None:
    folder = _complete_run(tmp_path, capsys, replicates=1)
    (folder / "scenario.resolved.yaml").write_text("run: {replicates: -4}\n", encoding="utf-8")
    code, err = _cli(capsys, "run", "--resume", str(folder))
    assert code == 2 and "not a valid scenario" in _one_error_line(err)


def test_p11_missing_figures_are_a_failure(tmp_path, capsys) -> None:
    out = tmp_path / "out"
    code = main(["run", "demo", "--replicates", "1", "--out", str(out), "--set", SMALL[0], "--set", SMALL[1],
                 "--executor", "serial", "--no-figures"])
    capsys.readouterr()
    [folder] = [p.parent for p in out.rglob("manifest.json")]
    (folder / "figures").write_text("a file where the figures folder should be", encoding="utf-8")
    code, err = _cli(capsys, "run", "--resume", str(folder), "--executor", "serial", "--replicates", "2")
    assert code == 1 and "the figures could not be written" in err and "Traceback" not in err
    assert _manifest(folder)["status"] == "failed"


# --------------------------------------------------------------------------- p10 disk full


def test_p10_file_too_large_then_resume_gives_identical_bytes(tmp_path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "MPLBACKEND": "Agg"}
    args = ["run", "demo", "--replicates", "3", *RUN]
    limited = ("import resource, sys, runpy; resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000)); "
               "sys.argv = ['gdcloud', *sys.argv[1:]]; runpy.run_module('sim', run_name='__main__')")
    res = subprocess.run([sys.executable, "-c", limited, *args, "--out", str(tmp_path / "a")], env=env,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 1, res.stderr
    line = _one_error_line(res.stderr)
    assert "File too large" in line
    [folder] = [p.parent for p in (tmp_path / "a").rglob("manifest.json")]
    assert _manifest(folder)["status"] in ("failed", "running")
    assert not list(folder.rglob("*.csv")) or all(p.stat().st_size <= 20_000 for p in folder.rglob("*.csv"))
    res = subprocess.run([sys.executable, "-m", "sim", "run", "--resume", str(folder), "--executor", "serial",
                          "--no-figures"], env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    ref = subprocess.run([sys.executable, "-m", "sim", *args, "--out", str(tmp_path / "b")], env=env,
                         capture_output=True, text=True, timeout=300)
    assert ref.returncode == 0, ref.stderr
    [ref_folder] = [p.parent for p in (tmp_path / "b").rglob("manifest.json")]
    assert (folder / "timeseries.csv").read_bytes() == (ref_folder / "timeseries.csv").read_bytes()
    assert _manifest(folder)["status"] == "complete"


def test_p7_workers_times_population_must_fit_in_memory(tmp_path, capsys) -> None:
    import psutil

    available_gb = psutil.virtual_memory().available / 1e9
    workers = int(available_gb / 2.45) + 2  # 10,000,000 firms: ~2.45 GB per worker
    code, err = _cli(capsys, "run", "baseline", "--set", "population.total_firms=10000000",
                     "--workers", str(workers), "--out", str(tmp_path / "out"))
    assert code == 2 and "GB of memory" in _one_error_line(err)
    assert not (tmp_path / "out").exists()


def test_p5_a_worker_killed_during_a_run_costs_no_replicate(tmp_path) -> None:
    proc = _start_run(tmp_path)
    kids = _workers_started(proc, 2)
    workers = [p for p in kids if "forkserver" in " ".join(p.cmdline()) and p.ppid() != proc.pid]
    assert workers, [" ".join(p.cmdline())[:80] for p in kids]
    workers[0].kill()  # e.g. the out-of-memory killer
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    manifest = json.loads(next((tmp_path / "out").rglob("manifest.json")).read_text())
    assert manifest["status"] == "complete" and manifest["replicates"]["done"] == list(range(6))
    assert manifest["failures"] == []
