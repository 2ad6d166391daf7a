"""The dashboard (``sim.dashboard``): levers, panels, the SolaraViz page in-process, and the
served page in a real headless browser.

* The first tests need only the core dependencies (model, Matplotlib, networkx).
* ``test_solaraviz_page_in_process`` renders Mesa's SolaraViz page with Solara's test renderer
  (no server, no browser) and drives it: slider, Reset, Step. Skipped without the ``dashboard``
  extra.
* ``test_dashboard_in_headless_chromium`` starts ``python -m sim.dashboard`` on a free localhost
  port, opens it in the system Chromium through Playwright, moves the population slider, presses
  Reset and Step and checks the headline (population, month counter) and that a chart is redrawn; the screenshot goes to ``tests/browser/artifacts/``
  (git-ignored; ``GDCLOUD_TEST_ARTIFACTS`` overrides the folder). Skipped, with the reason, when
  Playwright, Solara or Chromium is missing (``GDCLOUD_CHROMIUM`` may name the browser binary).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure

from sim.core.policies import cell_grid
from sim.dashboard import figures
from sim.dashboard.core import (
    DEFAULT_POPULATION,
    LEVERS,
    NETWORK_SAMPLE,
    STAGES,
    DashboardModel,
    default_levers,
    lever_overrides,
)
from sim.scenario.schema import Scenario

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = Path(os.environ.get("GDCLOUD_TEST_ARTIFACTS", ROOT / "tests" / "browser" / "artifacts"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SMALL = 10_000
FIGURES = (figures.cloud_figure, figures.transformed_figure, figures.cluster_figure,
           figures.network_figure, figures.bottleneck_figure)


def _has(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


# --------------------------------------------------------------------------- model and panels


def test_levers_default_to_the_scenario_defaults():
    d = default_levers()
    sc = Scenario()
    assert d["total_firms"] == DEFAULT_POPULATION
    assert d["voucher_budget_m_cny"] * 1e6 == sc.policies.vouchers.budget_cny_per_year
    assert d["voucher_subsidy_share"] == sc.policies.vouchers.subsidy_share
    assert d["chain_leaders_on"] is sc.policies.chain_leaders.enabled
    assert d["service_capacity_per_month"] == sc.policies.service_capacity.onboardings_per_month
    assert d["cloud_market_rate"] == sc.diffusion.cloud.market_rate_per_year
    assert d["seed"] == sc.run.seed
    # every lever's default lies on its slider
    for lv in LEVERS:
        if lv.kind in ("int", "float"):
            assert lv.min <= d[lv.name] <= lv.max, lv.name


def test_levers_reach_the_scenario():
    m = DashboardModel(voucher_budget_m_cny=600, voucher_subsidy_share=0.5, chain_leaders_on=False,
                       chain_leader_strength=2.0, service_capacity_per_month=10_000, cloud_market_rate=0.08,
                       chain_peer_weight=0.05, park_peer_weight=0.01, cluster_city_peer_weight=0.02,
                       total_firms=SMALL, seed="123")  # the seed box sends text
    c = m.config
    assert c.policies.vouchers.budget_cny_per_year == 600e6
    assert c.policies.vouchers.subsidy_share == 0.5
    assert c.policies.chain_leaders.enabled is False and c.policies.chain_leaders.scale == 2.0
    assert c.policies.service_capacity.onboardings_per_month == 10_000
    assert (c.diffusion.cloud.market_rate_per_year, c.diffusion.cloud.chain_weight_per_year,
            c.diffusion.cloud.park_weight_per_year, c.diffusion.cloud.cluster_city_weight_per_year) == (0.08, 0.05, 0.01, 0.02)
    assert c.population.total_firms == SMALL and c.run.seed == 123
    # other scenario overrides pass through; Mesa's own scenario object (sent on Reset) is ignored
    m2 = DashboardModel(total_firms=SMALL, scenario=object(), diffusion__churn_rate_per_year=0.0)
    assert m2.config.diffusion.churn_rate_per_year == 0.0
    assert lever_overrides(voucher_budget_m_cny=1) == {"policies__vouchers__budget_cny_per_year": 1_000_000}
    refused = DashboardModel(total_firms=SMALL, seed="twelve")  # shown in the page, not raised
    assert refused.config.run.seed == Scenario().run.seed
    assert any("whole number" in m for m in refused.input_messages)


def test_panels_follow_the_model():
    m = DashboardModel(total_firms=SMALL, service_capacity_per_month=2000)
    assert m.goal_cloud == pytest.approx(1_000_000 * SMALL / 2_000_000)
    assert m.goal_transformed == pytest.approx(50_000 * SMALL / 2_000_000)
    net = m.network
    assert int(net.sampled.sum()) == NETWORK_SAMPLE
    assert net.pos.shape == (net.nodes.size, 2) and np.isfinite(net.pos).all()
    assert net.edges.size and net.edges.max() < net.nodes.size
    stage0 = m.network_stages()
    for make in FIGURES:  # month 0: empty monthly series
        assert make(m).axes
    for _ in range(3):
        m.step()
    s = m.series()
    assert len(s["cloud_cumulative"]) == 4 and np.all(np.diff(s["cloud_cumulative"]) >= 0)
    shares = m.cluster_shares()
    assert shares.shape == (20,) and np.all((shares >= 0) & (shares <= 1))
    n_cluster = np.bincount(cell_grid()[0], weights=m.cube[m.month, :, 0], minlength=20)
    assert np.average(shares, weights=n_cluster) == pytest.approx(m.province_share())
    stage = m.network_stages()
    assert stage.shape == stage0.shape and stage.max() < len(STAGES)
    assert (stage >= 3).sum() >= (stage0 >= 3).sum()  # on the cloud or transformed: never fewer here
    cap = m.capacity_per_month()
    assert np.isnan(cap[0]) and cap[1] == pytest.approx(2000 * SMALL / 2_000_000)
    assert set(m.voucher_budget_per_year()) == {2021, 2022, 2023, 2024, 2025}
    for make in FIGURES:
        fig = make(m)
        assert isinstance(fig, Figure) and fig.axes[0].get_title(loc="left")
    title = figures.cloud_figure(m).axes[0].get_title(loc="left")
    assert "Sep 2021" in title and "% of the scaled goal" in title


def test_network_layout_is_reproducible():
    a, b = DashboardModel(total_firms=SMALL), DashboardModel(total_firms=SMALL)
    np.testing.assert_array_equal(a.network.nodes, b.network.nodes)
    np.testing.assert_allclose(a.network.pos, b.network.pos)
    assert len(a.agents) == 0  # the sampled agent views were released


# --------------------------------------------------------------------------- SolaraViz in-process


def _status(rc) -> str:
    import solara.widgets

    return next(w.unsafe_innerHTML for w in rc.find(solara.widgets.HTML).widgets if "gd-status" in w.unsafe_innerHTML)


def _month(rc) -> int:
    return int(re.search(r'data-month="(\d+)"', _status(rc)).group(1))


def test_solaraviz_page_in_process():
    if not (_has("solara") and _has("altair")):
        pytest.skip("needs the dashboard extra: pip install -e '.[dashboard]'")
    import ipyvuetify as v
    import ipywidgets as w
    import solara

    from sim.dashboard import app

    @solara.component
    def Harness():
        with solara.AppLayout() as main:
            app.Page()
        return main

    _, rc = solara.render(Harness(), handle_error=False)
    try:
        assert _month(rc) == 0
        labels = {s.label for s in rc.find(v.Slider).widgets}
        assert {lv.label for lv in LEVERS if lv.kind in ("int", "float")} <= labels
        rc.find(v.Slider, label=next(lv.label for lv in LEVERS if lv.name == "total_firms")).widget.v_model = 20_000
        rc.find(v.Btn, children=["Reset"]).widget.click()
        assert "20,000 firms" in _status(rc) and _month(rc) == 0
        chart = rc.find(w.Image).widgets[0]
        before = bytes(chart.value)
        for k in (1, 2, 3):
            rc.find(v.Btn, children=["Step"]).widget.click()
            assert _month(rc) == k
        assert bytes(rc.find(w.Image).widgets[0].value) != before
        assert len(rc.find(w.Image).widgets) == 5  # cloud, transformed, clusters, network, bottlenecks
    finally:
        rc.close()


# --------------------------------------------------------------------------- real browser


def _chromium() -> str | None:
    """The Chromium binary: ``GDCLOUD_CHROMIUM`` if set, else chromium on PATH."""
    if "GDCLOUD_CHROMIUM" in os.environ:
        c = os.environ["GDCLOUD_CHROMIUM"]
        return c if os.path.isfile(c) else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def dashboard_url(tmp_path_factory):
    """``python -m sim.dashboard`` on a free localhost port; stopped after the module."""
    if not (_has("solara") and _has("altair")):
        pytest.skip("needs the dashboard extra: pip install -e '.[dashboard]'")
    if not _has("playwright"):
        pytest.skip("needs Playwright: pip install -e '.[dashboard-test]'")
    if _chromium() is None:
        pytest.skip("needs a Chromium binary: apt-get install chromium (or set GDCLOUD_CHROMIUM)")
    port = _free_port()
    log = tmp_path_factory.mktemp("dashboard") / "server.log"
    env = {**os.environ, "MPLBACKEND": "Agg", "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False"}
    with open(log, "w") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "sim.dashboard", "--port", str(port)], cwd=ROOT,
                                env=env, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                pytest.fail(f"dashboard server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"dashboard server did not answer within 90 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_dashboard_in_headless_chromium(dashboard_url):
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "dashboard.png"
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=_chromium(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1750})
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(dashboard_url)
            month = page.locator(".gd-month")
            expect(month).to_have_attribute("data-month", "0", timeout=90_000)
            expect(page.get_by_text("Guangdong enterprises on the cloud")).to_be_visible()

            # A lever: click the population slider's track near its left end (10,000 .. 2,000,000
            # firms in steps of 10,000), as a user would, then Reset to build the new model.
            lever = page.locator(".v-input__slider", has_text="Simulated firms at the start")
            box = lever.locator(".v-slider").bounding_box()
            page.mouse.click(box["x"] + box["width"] * 0.01, box["y"] + box["height"] / 2)
            chosen = int(lever.locator("[role=slider]").get_attribute("aria-valuenow"))
            assert 10_000 <= chosen <= 100_000 and chosen != 50_000
            status = page.locator(".gd-status")
            serial = status.get_attribute("data-model")
            page.get_by_role("button", name="Reset").click()
            expect(status).not_to_have_attribute("data-model", serial or "", timeout=60_000)
            expect(status).to_contain_text(f"{chosen:,} firms")
            expect(month).to_have_attribute("data-month", "0")

            chart = page.locator("img.widget-image").first
            expect(chart).to_be_visible()
            before = chart.get_attribute("src")
            step = page.get_by_role("button", name="Step")
            for k in (1, 2, 3):
                step.click()
                expect(month).to_have_attribute("data-month", str(k), timeout=60_000)
            expect(month).to_contain_text("Sep 2021")
            expect(chart).not_to_have_attribute("src", before or "", timeout=30_000)
            expect(page.locator("img.widget-image")).to_have_count(5)
            page.wait_for_timeout(500)
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    print(f"\ndashboard screenshot: {shot}")
    assert shot.stat().st_size > 50_000
    assert not errors, errors
