"""The dashboard (``sim.dashboard``): levers and the step-by-step model, the report view
(runs, figures, download, uploaded scenarios), the page in-process, and the served page in a
real headless browser.

* The model and report tests need only the core dependencies (model, Matplotlib, networkx).
* ``test_page_in_process`` renders the page with Solara's test renderer (no server, no browser)
  and drives it: first run, language switch, scenario picker and Run. Skipped without the
  ``dashboard`` extra.
* ``test_dashboard_in_headless_chromium`` starts ``python -m sim.dashboard`` on a free localhost
  port (50,000 firms, 2 replicates for speed), opens it in the system Chromium through
  Playwright and checks the title, that no Mesa internals are on screen, the language switch
  (no English label left, the embedded CJK font loaded), an uploaded scenario (a bad value
  shown as the one-line error, a valid file run), the scenario picker with Run (a
  scenario with further goals, whose table appears), and the one-click download (a zip of
  figures and tables); the
  screenshot goes to ``tests/browser/artifacts/`` (git-ignored; ``GDCLOUD_TEST_ARTIFACTS``
  overrides the folder). Skipped, with the reason, when Playwright, Solara or Chromium is
  missing (``GDCLOUD_CHROMIUM`` may name the browser binary).
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


# --------------------------------------------------------------------------- report view


QUICK = ["time.end=2022-06"]


@pytest.fixture(scope="module")
def quick_run():
    from sim.dashboard import report
    from sim.scenario.loader import load_scenario

    sc = report.build_scenario(load_scenario("baseline", QUICK), total_firms=50_000, replicates=2,
                               levers={"voucher_budget_m_cny": 600, "chain_leaders_on": False})
    return report.run_dashboard(sc)


def test_report_run_uses_levers_and_size(quick_run):
    from sim.dashboard import report
    from sim.errors import ScenarioError
    from sim.scenario.loader import load_scenario

    sc = quick_run.scenario
    assert sc.population.total_firms == 50_000 and sc.run.replicates == 2
    assert sc.policies.vouchers.budget_cny_per_year == 600e6
    assert sc.policies.chain_leaders.enabled is False
    h = quick_run.headline()
    assert h["cloud_p10"] <= h["cloud_median"] <= h["cloud_p90"]
    assert 0 <= h["transformed_p_meet"] <= 1
    # province-equivalent: the model's count divided by the scale (50,000 / 2,000,000)
    med = quick_run.result.summary.set_index("outcome").loc["cloud_firms_2022", "median"]
    assert h["cloud_median"] == pytest.approx(med * 40)
    assert report.lever_values(load_scenario("baseline"))["voucher_budget_m_cny"] == 300
    with pytest.raises(ScenarioError, match="replicates"):
        report.build_scenario(load_scenario("baseline"), replicates=0)
    with pytest.raises(ScenarioError, match="total_firms"):
        report.build_scenario(load_scenario("baseline"), total_firms=12_345)
    assert report.scenario_names()[0] == "baseline" and "no_policy_at_all" in report.scenario_names()


def test_report_figures_in_chinese_and_the_download(quick_run, tmp_path):
    import io
    import warnings
    import zipfile

    from sim.dashboard import report

    figs = report.figures_for(quick_run, "zh")
    assert set(figs) == {"cloud", "transformed", "progress_city", "progress_cluster"}
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=r".*[Gg]lyph.*missing.*")
        for fig in figs.values():
            fig.savefig(tmp_path / "x.png", dpi=40)
    assert figs["cloud"].axes[0].get_title() == "广东省上云用云企业（累计）"
    data = report.download_bundle(quick_run, "zh")
    names = set(zipfile.ZipFile(io.BytesIO(data)).namelist())
    assert {"figures/provincial_cloud.png", "figures/progress_city.png", "summary.csv",
            "wide.csv", "progress_city.csv", "results.xlsx", "scenario.resolved.yaml"} <= names
    assert report.bundle_name(quick_run) == "baseline-50000-2rep.zip"


def test_uploaded_scenario_is_validated_with_one_line_errors():
    from sim.dashboard import report
    from sim.errors import ScenarioError

    ok = report.scenario_from_upload("mine.yaml", b"extends: baseline\nname: mine\n"
                                     b"policies:\n  vouchers:\n    subsidy_share: 0.5\n")
    assert ok.name == "mine" and ok.policies.vouchers.subsidy_share == 0.5
    with pytest.raises(ScenarioError) as e:
        report.scenario_from_upload("mine.yaml", b"extends: baseline\npolicies:\n  vouchers:\n"
                                    b"    subsidy_share: 2\n")
    line = str(e.value)
    assert "\n" not in line and line.startswith("mine.yaml: policies.vouchers.subsidy_share")
    with pytest.raises(ScenarioError, match="not a YAML file"):
        report.scenario_from_upload("notes.txt", b"x")


MORE_GOALS = b"""extends: baseline
name: with_more_goals
time: {end: "2022-06"}
goals:
  more:
    - {indicator: cloud_firms, value: 700000, date: "2022-03", scope: "a quarter's goal", source: ASSUMPTION}
    - {indicator: cloud_rate, value: 0.99, date: "2022-06", scope: "all firms", source: ASSUMPTION}
    - {indicator: transformed_firms, value: 60000, date: "2027-12", scope: "after the run", source: ASSUMPTION}
"""


@pytest.fixture(scope="module")
def more_goals_run():
    """An uploaded scenario listing further goals, run with parameter uncertainty switched on."""
    from sim.dashboard import report

    base = report.scenario_from_upload("more.yaml", MORE_GOALS)
    assert base.posterior is None
    sc = report.build_scenario(base, total_firms=50_000, replicates=3, posterior=True)
    return report.run_dashboard(sc)


def test_more_goals_are_listed_drawn_and_downloaded(more_goals_run):
    import io
    import zipfile

    from sim.dashboard import app, report

    run = more_goals_run
    table = run.more_goals("zh")
    assert list(table["indicator"]) == ["cloud_firms", "cloud_rate", "transformed_firms"]
    assert list(table["indicator_name"])[:2] == ["上云用云企业数（累计）", "企业上云率"]
    first, rate, outside = (table.iloc[i] for i in range(3))
    # counts province-equivalent: the simulated count at 2022-03 divided by the scale (1:40)
    prov = run.result.timeseries
    prov = prov[(prov["cluster"] == "all") & (prov["city"] == "all") & (prov["size_class"] == "all")]
    at = prov[prov["date"].astype(str).str[:7] == "2022-03"]["cloud_cumulative"]
    assert first["median"] == pytest.approx(at.median() * 40)
    assert first["p_meet"] == pytest.approx(float((at >= 700_000 / 40).mean()))
    assert 0 < rate["median"] < 0.99 and rate["p_meet"] == 0 and rate["goal_text"] == "99%"
    assert outside["n_evaluable"] == 0 and np.isnan(outside["p_meet"])
    html = app.goals_html(run, "zh")
    assert "本情景的其他目标" in html and 'data-indicator="cloud_rate"' in html
    assert "无法评估" in html and "a quarter&#x27;s goal" in html
    assert app.goals_html(run, "en").count("<tr") == 4
    figs = report.figures_for(run, "en")
    assert len(figs["goals_more"].axes) >= 3
    labels = figs["cloud"].axes[0].get_legend_handles_labels()[1]
    assert any("Further goal" in lb and "2022-03" in lb for lb in labels)  # the count goal marked
    names = set(zipfile.ZipFile(io.BytesIO(report.download_bundle(run, "en"))).namelist())
    assert {"figures/goals_more.png", "goals.csv", "parameters.csv"} <= names


def test_band_from_the_posterior_or_the_replicates(more_goals_run, quick_run):
    from sim.dashboard import app, report
    from sim.scenario.loader import load_scenario

    assert more_goals_run.scenario.posterior == report.POSTERIOR and more_goals_run.parametric
    ts = more_goals_run.result.timeseries  # replicates differ by their drawn rates
    ends = ts[ts["date"] == ts["date"].max()].groupby("replicate")["cloud_cumulative"].sum()
    assert ends.nunique() == 3
    band = app.notes_text(more_goals_run, "en")[0][1]
    assert "posterior 'record'" in band
    assert "不含参数不确定性" in app.notes_text(quick_run, "zh")[0][1] and not quick_run.parametric
    uncertain = load_scenario("baseline_uncertain")
    assert report.build_scenario(uncertain, total_firms=50_000, posterior=False).posterior is None
    assert report.build_scenario(uncertain, total_firms=50_000).posterior == "record"


def test_levers_scheduled_by_the_scenario_stay_scheduled():
    """history.yaml schedules the voucher budget and the chain-leader strength by year: the page
    shows them as schedules and the run keeps them, even if a client sends a number."""
    from sim.dashboard import app, report
    from sim.scenario.loader import load_scenario

    base = load_scenario("history")
    values = report.lever_values(base)
    assert values["voucher_budget_m_cny"] is None and values["chain_leader_strength"] is None
    assert values["voucher_subsidy_share"] == pytest.approx(base.policies.vouchers.subsidy_share)
    schedule = report.scheduled_levers(base)["voucher_budget_m_cny"]
    assert schedule["2022"] == pytest.approx(547.65)
    assert app.schedule_text(schedule).startswith("2021: 300, 2022: 547.65")
    sent = {**values, "voucher_budget_m_cny": 900, "chain_leader_strength": 3.0,
            "voucher_subsidy_share": 0.5}
    checked, _, messages, _ = report.check_inputs(base, sent, 50_000)
    sc = report.build_scenario(base, levers=checked, total_firms=50_000, replicates=1)
    assert messages == [] and sc.policies.vouchers.subsidy_share == 0.5
    assert sc.policies.vouchers.budget_cny_per_year == base.policies.vouchers.budget_cny_per_year
    assert sc.policies.chain_leaders.scale == base.policies.chain_leaders.scale


def test_dashboard_sizes_are_measured_and_unbiased():
    """Every size offered is measured by scripts/scale_bias.py (docs/scale_bias.csv) and the
    default size with the default replicates is unbiased: its bias is below its MC error."""
    import pandas as pd

    from sim.dashboard import report

    csv = pd.read_csv(ROOT / "docs" / "scale_bias.csv").set_index(["total_firms", "outcome"])
    for n in report.POPULATIONS:
        for outcome, (mean, sd) in report.SIZE_STATS[n].items():
            assert (csv.loc[(n, outcome), "mean"], csv.loc[(n, outcome), "sd"]) == (mean, sd)
    assert set(report.SIZE_STATS) == set(report.POPULATIONS)
    check = report.size_check(report.DASHBOARD_POPULATION, report.DEFAULT_REPLICATES)
    assert all(ok for _, _, ok in check.values()), check
    # the README's figures: at 200,000 firms -0.01% (cloud) and -0.20% (transformed)
    assert f"{report.size_check(200_000, 5)['cloud_cumulative'][0]:.2f}" == "-0.01"
    assert f"{report.size_check(200_000, 5)['transformed'][0]:.2f}" == "-0.20"
    # 200,000 firms x 20 replicates: the transformed count's bias (-0.20%) exceeds the MC error
    bias, error, ok = report.size_check(200_000, 20)["transformed"]
    assert bias == pytest.approx(-0.205, abs=0.001) and error == pytest.approx(0.176, abs=0.001) and not ok


def _status(rc) -> str:
    import solara.widgets

    return next((w.unsafe_innerHTML for w in rc.find(solara.widgets.HTML).widgets
                 if "gd-status" in w.unsafe_innerHTML), "")


def _wait(rc, pattern: str, timeout: float = 120.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        html = _status(rc)
        if re.search(pattern, html):
            return html
        time.sleep(0.2)
    raise AssertionError(f"{pattern!r} not shown within {timeout} s; status: {_status(rc)[:300]}")


def test_page_in_process(monkeypatch):
    if not (_has("solara") and _has("altair")):
        pytest.skip("needs the dashboard extra: pip install -e '.[dashboard]'")
    import ipyvuetify as v
    import solara

    from sim.dashboard import app, report

    monkeypatch.setattr(report, "DASHBOARD_POPULATION", 50_000)
    monkeypatch.setattr(report, "DEFAULT_REPLICATES", 2)

    @solara.component
    def Harness():
        with solara.AppLayout() as main:
            app.Page()
        return main

    _, rc = solara.render(Harness(), handle_error=False)
    try:
        html = _wait(rc, r'data-scenario="baseline" data-lang="en"')
        assert 'data-firms="50000"' in html and 'data-replicates="2"' in html
        labels = {s.label for s in rc.find(v.Slider).widgets}
        assert "Voucher budget, million CNY / year (province-wide)" in labels
        rc.find(v.BtnToggle).widget.v_model = 1  # what clicking "中文" does in the browser
        _wait(rc, r'data-lang="zh"')
        assert "上云用云企业数" in _status(rc)
        assert "服务券预算（百万元/年，全省）" in {s.label for s in rc.find(v.Slider).widgets}
        picker = rc.find(v.Select, label="情景").widget
        assert "无任何政策情景（no_policy_at_all）" in picker.items  # shipped scenarios by their Chinese titles
        picker.v_model = "无任何政策情景（no_policy_at_all）"
        rc.find(v.Btn, children=["运行"]).widget.click()
        _wait(rc, r'data-scenario="no_policy_at_all" data-lang="zh"')
        text = " ".join(str(getattr(w, "children", "")) for w in rc.find(v.Html).widgets)
        for internal in ("Play Interval", "Render Interval", "Use Threads"):
            assert internal not in text
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
    env = {**os.environ, "MPLBACKEND": "Agg", "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False",
           "GDCLOUD_DASHBOARD_FIRMS": "50000", "GDCLOUD_DASHBOARD_REPLICATES": "2"}
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


def _drop_file(page, selector: str, path: Path) -> None:
    """Drop a file on an element as a person dragging it from the desktop would (Chromium's
    DevTools drag events: a script-made DataTransfer has no file entries, and Solara's drop zone
    reads the dropped file's entry)."""
    box = page.locator(selector).bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    cdp = page.context.new_cdp_session(page)
    data = {"items": [], "files": [str(path)], "dragOperationsMask": 1}
    for kind in ("dragEnter", "dragOver", "drop"):
        cdp.send("Input.dispatchDragEvent", {"type": kind, "x": x, "y": y, "data": data})
    cdp.detach()


def test_dashboard_in_headless_chromium(dashboard_url, tmp_path):
    import zipfile

    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "dashboard.png"
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=_chromium(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1750}, accept_downloads=True)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(dashboard_url)
            status = page.locator(".gd-status")
            expect(status).to_have_attribute("data-scenario", "baseline", timeout=180_000)
            expect(page).to_have_title("Guangdong firms on the cloud: will the 2025 goals be met?")
            body = page.locator("body").inner_text()
            for internal in ("Play Interval", "Render Interval", "Use Threads", "PAGE 0", "Time:"):
                assert internal not in body, internal

            # the language switch: Chinese headline, title and tiles from the same run, every
            # page text in Chinese, drawn with the page's own CJK font (no system font needed)
            page.get_by_role("button", name="中文").click()
            expect(status).to_have_attribute("data-lang", "zh", timeout=60_000)
            expect(page).to_have_title("广东省企业上云用云：2025年目标能否实现？")
            expect(status).to_contain_text("上云用云企业数")
            from sim import i18n

            english = [i18n.text(k, "en") for k in i18n.keys() if k.startswith(("dash.", "lever."))
                       and "{" not in i18n.text(k, "en")]
            deadline = time.monotonic() + 30  # the sidebar follows the tiles within a second
            while (left := [t for t in english if t in page.locator("body").inner_text()]) \
                    and time.monotonic() < deadline:
                page.wait_for_timeout(300)
            assert not left, left
            body = page.locator("body").inner_text()
            assert "runs on Solara" not in body
            assert page.evaluate("document.fonts.check('16px \"GD CJK\"', '上云用云')")

            # an uploaded scenario: a bad value is refused with the command line's one-line
            # error; a valid file is used by the next Run
            bad, good = tmp_path / "bad.yaml", tmp_path / "mine.yaml"
            bad.write_text("extends: baseline\npolicies:\n  vouchers:\n    subsidy_share: 2\n")
            good.write_text("extends: baseline\nname: mine\ntime: {end: '2022-06'}\n")
            _drop_file(page, ".solara-file-drop", bad)
            expect(page.locator(".gd-upload-error")).to_contain_text(
                "bad.yaml：policies.vouchers.subsidy_share：得到 2", timeout=120_000)  # in the page's language
            _drop_file(page, ".solara-file-drop", good)
            expect(page.get_by_text("正在使用上传的情景 mine")).to_be_visible(timeout=120_000)
            page.get_by_role("button", name="运行").click()
            expect(status).to_have_attribute("data-scenario", "mine", timeout=180_000)

            # the scenario picker: another shipped scenario (one listing further goals), then Run
            page.locator(".v-select", has_text="情景").click()
            page.get_by_role("option", name="历史情景（2020–2025年实际政策）（history）", exact=True).click()
            # the page has taken the pick (the upload is dropped, history's scheduled levers
            # shown) before Run is pressed
            expect(page.get_by_text("正在使用上传的情景 mine")).to_have_count(0, timeout=60_000)
            expect(page.locator(".gd-scheduled").first).to_contain_text("按情景设定的时间表",
                                                                          timeout=60_000)
            page.get_by_role("button", name="运行").click()
            expect(status).to_have_attribute("data-scenario", "history", timeout=180_000)
            goals = page.locator(".gd-goals tr[data-indicator='transformed_firms_added']")
            expect(goals.first).to_contain_text("近12个月新增", timeout=60_000)

            # one-click download of the current run's figures and tables
            with page.expect_download(timeout=240_000) as dl:  # figures are drawn on click
                page.get_by_role("button", name="下载图表与数据表（zip）").click()
            path = tmp_path / dl.value.suggested_filename
            dl.value.save_as(path)
            assert path.name.startswith("history-")
            names = set(zipfile.ZipFile(path).namelist())
            assert {"figures/provincial_cloud.png", "figures/goals_more.png", "summary.csv",
                    "goals.csv", "results.xlsx"} <= names
            page.wait_for_timeout(500)
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    print(f"\ndashboard screenshot: {shot}")
    assert shot.stat().st_size > 50_000
    assert not errors, errors
