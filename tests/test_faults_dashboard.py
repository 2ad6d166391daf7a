"""Fault injection (issue 15), point 4: the dashboard trusts nothing its browser sends.

Every value is checked on the server, refused values become a message in the page, the
population and the number of large models are limited, and the WebSocket is accepted only from
the page's own origin.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time

import pytest
from faults_support import REPO

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
def test_p4_page_shows_refused_value_as_a_message(monkeypatch) -> None:
    import time

    import ipyvuetify as v
    import solara
    import solara.widgets

    from sim.dashboard import app, report
    from sim.dashboard.core import LEVER_BY_NAME

    monkeypatch.setattr(report, "DASHBOARD_POPULATION", 50_000)
    monkeypatch.setattr(report, "DEFAULT_REPLICATES", 1)

    @solara.component
    def Harness():
        with solara.AppLayout() as main:
            app.Page()
        return main

    def html_text() -> str:
        return " ".join(h.unsafe_innerHTML for h in rc.find(solara.widgets.HTML).widgets)

    def wait_for(phrase: str) -> str:
        deadline = time.monotonic() + 180
        while phrase not in html_text():
            assert time.monotonic() < deadline, f"{phrase!r} not shown: {html_text()[:300]}"
            time.sleep(0.2)
        return html_text()

    _, rc = solara.render(Harness(), handle_error=False)
    try:
        wait_for('data-scenario="baseline"')
        label = LEVER_BY_NAME["voucher_budget_m_cny"].label
        rc.find(v.Slider, label=label).widget.v_model = 4_000_000  # beyond the slider: a script
        rc.find(v.Btn, children=["Run"]).widget.click()
        text = wait_for("gd-error")
        assert "not a number from 0 to 2,000" in text and "Traceback" not in text
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
