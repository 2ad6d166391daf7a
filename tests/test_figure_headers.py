"""Every kind of figure carries the one header (scenario, population scale, replicates) and the
caveat line, in the figure's language: run figures, analysis figures (sweep, sensitivity,
calibration, what-it-takes, attribution, discovery) and the record's figures (history match,
backtest, evaluation). Each figure is captured just before it is saved, at a cheap size."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from sim import i18n
from sim.analysis import backtest as bt
from sim.analysis import history_match as hm
from sim.analysis.calibration import calibrate
from sim.analysis.discover import discover
from sim.analysis.questions import attribution, what_it_takes
from sim.analysis.sensitivity import SensitivitySpec, run_sensitivity
from sim.analysis.sweep import run_sweep
from sim.fileio import save_figure
from sim.i18n.header import figure_header, figure_texts, header_text, scale_text
from sim.scenario.loader import load_scenario

SHORT = {"time.end": "2022-06", "goals.date": "2022-06", "goals.cloud_firms": 750_000}
"""One year: the goal date moved to the end of the run (as in test_policy_questions)."""
LEVER = "diffusion.cloud.market_rate_per_year"
FIGURE_MODULES = ("sim.analysis.sensitivity", "sim.analysis.calibration", "sim.analysis.sweep_figure",
                  "sim.analysis.questions", "sim.analysis.discover_figure", "sim.plots.record")


@pytest.fixture
def saved(monkeypatch) -> dict[str, str]:
    """File name -> every text of the figure written there (captured before saving)."""
    texts: dict[str, str] = {}

    def capture(fig: Figure, path):
        texts[Path(path).name] = figure_texts(fig)
        return save_figure(fig, path)

    for module in FIGURE_MODULES:
        monkeypatch.setattr(f"{module}.save_figure", capture)
    return texts


def _assert_header(text: str, scenario: str, firms: int, n: int, lang: str, runs: str = "replicates") -> None:
    assert header_text(scenario, firms, n, lang, runs=runs) in text, text
    assert i18n.text("caveat", lang) in text, text


def test_header_text_in_both_languages() -> None:
    assert scale_text(2_000_000, "en") == "full scale (2,000,000 firms)"
    assert scale_text(50_000, "en") == "scale 1:40 (50,000 firms)"
    assert header_text("baseline", 50_000, 20, "en") == "Scenario baseline · scale 1:40 (50,000 firms) · 20 replicates"
    zh = header_text("baseline", 2_000_000, 20, "zh")
    assert zh.startswith("情景 基准情景 · 全量规模") and "20次重复模拟" in zh
    assert "后验" in header_text("history", 50_000, 60, "zh", runs="posterior")
    fig = Figure()
    fig.subplots()
    fig.suptitle("A title")
    figure_header(fig, "baseline", 100_000, 4, "zh", note="说明")
    text = figure_texts(fig)
    assert text.startswith("A title\n情景 基准情景 · 比例 1:20（100,000家企业） · 4次重复模拟")
    assert "说明" in text and i18n.text("caveat", "zh") in text
    assert type(fig.get_layout_engine()).__name__ == "ConstrainedLayoutEngine"


def test_sweep_figure_has_the_header(saved, tmp_path: Path) -> None:
    spec = {"base": "baseline", "overrides": {**SHORT, "population.total_firms": 5_000, "outputs.lang": "zh"},
            "parameters": [{"path": "policies.vouchers.budget_cny_per_year", "values": [0, 6e8]}],
            "design": "factorial", "replicates": 2}
    run_sweep(spec, out_dir=tmp_path, executor="serial")
    _assert_header(saved["sweep.png"], "baseline", 5_000, 2, "zh")
    assert "2个取值点 × 每点2次重复 = 4次模型运行" in saved["sweep.png"]


def test_sensitivity_figure_has_the_header(saved, tmp_path: Path) -> None:
    spec = SensitivitySpec.model_validate({
        "parameters": [{"path": f"x{i}", "lower": 0.0, "upper": 1.0} for i in (1, 2)],
        "outcomes": ["y"], "method": "morris", "n": 8, "seed": 1, "total_firms": 10_000, "replicates": 3})

    def linear(x: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"y": 2.0 * x.x1 + x.x2}, index=x.index)

    res = run_sensitivity(spec, evaluate=linear, out_dir=tmp_path)
    text = saved["sensitivity_y.png"]
    _assert_header(text, "baseline", 10_000, 3, "en")
    assert f"{len(res.samples)} points × 3 replicates" in text


def test_calibration_figures_have_the_header(saved, tmp_path: Path) -> None:
    spec = {"parameters": [{"path": LEVER, "lower": 0.0, "upper": 0.2}], "total_firms": 5000,
            "replicates": 1, "optimizer": {"max_evaluations": 3}, "abc": {"enabled": False},
            "profile": {"enabled": True, "points": 3}, "overrides": {"time.end": "2022-06"}}
    calibrate(spec, out_dir=tmp_path)
    for name in ("calibration_fit.png", "calibration_profiles.png"):
        _assert_header(saved[name], "baseline", 5_000, 1, "en")


def test_what_it_takes_and_attribution_figures_have_the_header(saved, tmp_path: Path) -> None:
    what_it_takes("baseline", LEVER, bounds=(0.0, 0.4), replicates=2, total_firms=5_000,
                  overrides={**SHORT, "outputs.lang": "zh"}, rel_tol=0.2, grid=2, out_dir=tmp_path / "w")
    _assert_header(saved["what_it_takes.png"], "baseline", 5_000, 2, "zh")
    attribution("baseline", replicates=1, total_firms=5_000, overrides={"time.end": "2022-06"},
                out_dir=tmp_path / "a")
    _assert_header(saved["attribution.png"], "baseline", 5_000, 1, "en")


def test_discovery_figure_has_the_header(saved, tmp_path: Path) -> None:
    res = discover("baseline", n_samples=12, total_firms=5_000, overrides=SHORT, seed=2, out_dir=tmp_path)
    assert res.files["plot"] == tmp_path / "discovery.png" and res.files["plot"].stat().st_size > 0
    _assert_header(saved["discovery.png"], "baseline", 5_000, 1, "en")
    assert "12 points × 1 replicates = 12 model runs" in saved["discovery.png"]


def test_record_figures_have_the_header(saved, tmp_path: Path) -> None:
    from sim.plots.record import fan_chart, instruments_figure, predictive_figure

    base = load_scenario("baseline", {"outputs.lang": "zh"})
    match = hm.history_match(base, params=hm.DEFAULT_PARAMETERS[:2], published_by="2021-12", end="2022-06",
                             start="2020-12", overrides=hm.IN_FORCE_SINCE_2018, total_firms=5_000,
                             particles=4, generations=1, max_simulations=8, seed=2)
    n = len(match.abc.kept)
    predictive_figure(match, tmp_path / "predictive.png", "History match")
    fan_chart(bt.OriginResult("2021-12", match, pd.DataFrame()), tmp_path / "fan.png")
    med = np.array([100.0, -20.0])
    table = pd.DataFrame({"instrument": ["vouchers", "chain_leaders"],
                          **{f"{m}_{q}": med + d for m in ("transformed", "cloud_cumulative")
                             for q, d in (("p05", -10.0), ("p50", 0.0), ("p95", 10.0))}})
    instruments_figure(table, tmp_path / "instruments.png", "2022-06", match)
    for name in ("predictive.png", "fan.png", "instruments.png"):
        _assert_header(saved[name], "baseline", 5_000, n, "zh", runs="posterior")


def test_chinese_header_renders_without_importing_sim_plots(tmp_path: Path) -> None:
    """Analysis figures are drawn without sim.plots (which registers the CJK font on import):
    the header registers it, so no glyph is missing."""
    import subprocess
    import sys

    code = (
        "import sys, warnings\n"
        "from matplotlib.figure import Figure\n"
        "from sim.i18n.header import figure_header\n"
        "fig = Figure(); fig.subplots()\n"
        "figure_header(fig, 'baseline', 50_000, 4, 'zh', title='敏感性分析')\n"
        "warnings.filterwarnings('error', message=r'.*[Gg]lyph.*missing.*')\n"
        f"fig.savefig({str(tmp_path / 'zh.png')!r}, dpi=40)\n"
        "assert 'sim.plots' not in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0, done.stderr[-2000:]


def test_cli_lang_reaches_the_analysis_figure_header(saved, tmp_path: Path) -> None:
    from sim.cli.main import main

    assert main(["discover", "baseline", "--samples", "8", "--total-firms", "5000", "--seed", "1",
                 "--set", "time.end=2022-06", "--set", "goals.date=2022-06", "--set", "goals.cloud_firms=750000",
                 "--lang", "zh", "--out", str(tmp_path)]) == 0
    _assert_header(saved["discovery.png"], "baseline", 5_000, 1, "zh")
