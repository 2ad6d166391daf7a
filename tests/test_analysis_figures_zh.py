"""Analysis and record figures in Chinese: every glyph drawn, no English word in a title, axis
label, tick label, legend or annotation, parameters by their human names (never a key path), no
scientific offset on an axis; and ``--lang zh`` / ``lang="zh"`` of every analysis and record
command reaches its figure.

Each figure is captured just before it is saved (``save_figure`` patched in the drawing module)
and rendered again with matplotlib's "Glyph ... missing" warning turned into an error. Fast:
5,000 firms or fewer, one-year horizons, a handful of runs.
"""

from __future__ import annotations

import io
import re
import typing
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from matplotlib.figure import Figure
from PIL import Image
from pydantic import BaseModel

from sim import i18n
from sim.analysis import backtest as bt
from sim.analysis import history_match as hm
from sim.analysis.calibration import calibrate
from sim.analysis.discover import discover
from sim.analysis.evaluate import INSTRUMENTS
from sim.analysis.questions import attribution, what_it_takes
from sim.analysis.sensitivity import SensitivitySpec, run_sensitivity
from sim.analysis.sweep import run_sweep
from sim.fileio import FIGURE_DPI, save_figure
from sim.i18n.header import figure_texts, plain_numbers
from sim.scenario.labels import parameter_label
from sim.scenario.loader import load_scenario
from sim.scenario.schema import Scenario

SHORT = {"time.end": "2022-06", "goals.date": "2022-06", "goals.cloud_firms": 750_000}
"""One year: the goal date moved to the end of the run (as in test_policy_questions)."""
ZH = {**SHORT, "outputs.lang": "zh"}
LEVER = "diffusion.cloud.market_rate_per_year"
BUDGET = "policies.vouchers.budget_cny_per_year"
FIGURE_MODULES = ("sim.analysis.sensitivity", "sim.analysis.calibration", "sim.analysis.sweep_figure",
                  "sim.analysis.questions", "sim.analysis.discover_figure", "sim.plots.record")

PROPER_NAMES = {"Sobol", "Morris", "PRIM", "ABC", "Clopper", "Pearson", "Bass", "S1", "ST"}
"""Latin words a Chinese report keeps: the names of methods (as Chinese publications write them)."""
ALLOWED = re.compile(r"\S+\.(?:yaml|csv|png)|\$[^$]*\$")
"""File names (the caveat line names scenario.resolved.yaml) and mathtext tick labels of a log
axis (``$\\mathdefault{10^{-2}}$``)."""


def english_words(text: str, scenario: str) -> list[str]:
    """Latin words of a figure's text other than the scenario name, file names and method names."""
    text = ALLOWED.sub(" ", text.replace(scenario, " "))
    return [w for w in re.findall(r"[A-Za-z][A-Za-z0-9_.*]*[A-Za-z0-9*]|[A-Za-z]", text) if w not in PROPER_NAMES]


class Drawn(typing.NamedTuple):
    """What a figure showed when it was saved."""

    text: str
    """Every text (titles, labels, tick labels, legends, header, caveat), one per line."""
    missing_glyphs: list[str]
    """matplotlib's "Glyph ... missing" warnings while drawing."""
    offsets: list[str]
    """Offset texts of the axes (``1e9``): all empty when no axis has an offset."""


def draw(fig: Figure) -> Drawn:
    """Draw ``fig`` (tick labels and offsets are set when drawn) and record what it shows."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig.savefig(io.BytesIO(), dpi=40, format="png")
    glyphs = [str(w.message) for w in caught if re.search(r"[Gg]lyph.*missing", str(w.message))]
    offsets = [axis.get_offset_text().get_text() for ax in fig.axes for axis in (ax.xaxis, ax.yaxis)]
    return Drawn(figure_texts(fig), glyphs, offsets)


@pytest.fixture
def figures(monkeypatch) -> dict[str, Drawn]:
    """File name -> what the figure written there showed (drawn just before it is saved)."""
    figs: dict[str, Drawn] = {}

    def capture(fig: Figure, path):
        figs[Path(path).name] = draw(fig)
        return save_figure(fig, path)

    for module in FIGURE_MODULES:
        monkeypatch.setattr(f"{module}.save_figure", capture)
    return figs


def check_chinese(drawn: Drawn, scenario: str = "baseline") -> str:
    """Check a drawn Chinese figure (see the module docstring); return its texts."""
    text = drawn.text
    assert not drawn.missing_glyphs, drawn.missing_glyphs
    assert not english_words(text, scenario), (english_words(text, scenario), text)
    assert "." not in re.sub(r"\d\.\d|…", "", ALLOWED.sub("", text)).replace("。", ""), text  # no key path
    assert not any(drawn.offsets), drawn.offsets
    assert re.search(r"\de[+−-]?\d", text) is None, text  # no scientific notation
    assert i18n.text("caveat", "zh") in text
    return text


def test_the_check_finds_english_words_and_offsets() -> None:
    assert english_words("哪些参数影响 cloud firms？Sobol指数 S1 baseline scenario.resolved.yaml", "baseline") == \
        ["cloud", "firms"]
    assert english_words("policies.vouchers.budget_cny_per_year（元/年）", "x") == \
        ["policies.vouchers.budget_cny_per_year"]
    fig = Figure()
    ax = fig.add_subplot()
    ax.set_title("广东", fontfamily="DejaVu Sans")  # no CJK glyphs in this font
    ax.plot([1e9, 1e9 + 1], [0, 1])
    drawn = draw(fig)
    assert drawn.missing_glyphs and any(drawn.offsets)
    plain_numbers(ax.xaxis)
    assert not any(draw(fig).offsets)


def test_every_schema_field_has_a_name_in_both_languages() -> None:
    """No figure can show a raw key: the translation table names every field of the schema, and
    only fields that exist (a renamed key leaves no stale row)."""
    paths: list[str] = []

    def walk(model: type[BaseModel], prefix: str) -> None:
        for name, f in model.model_fields.items():
            cands = [f.annotation, *typing.get_args(f.annotation)]
            cands += [a for c in list(cands) for a in typing.get_args(c)]
            sub = next((c for c in cands if isinstance(c, type) and issubclass(c, BaseModel)), None)
            walk(sub, f"{prefix}{name}.") if sub else paths.append(prefix + name)

    walk(Scenario, "")
    named = {k.removeprefix("param.") for k in i18n.keys() if k.startswith("param.")}
    missing = [p for p in paths if p not in named and p not in ("name", "description")]
    assert not missing, missing
    from sim.analysis.history_match import (
        DEFAULT_PARAMETERS,
        LAUNCH_PARAMETERS,
        MECHANISM_PARAMETERS,
        PROGRAMME_PARAMETER,
    )

    groups = {"cloud.peer_weights"} | {p.name for p in (*DEFAULT_PARAMETERS, *MECHANISM_PARAMETERS, *LAUNCH_PARAMETERS,
                                                   PROGRAMME_PARAMETER)}
    stale = [k for k in named - set(paths) if k not in groups]  # a shipped spec's or the history match's names
    assert not stale, stale
    assert parameter_label(BUDGET, "zh") == "服务券预算（元/年）"
    assert parameter_label(BUDGET, "en") == "Voucher budget (CNY per year)"
    assert parameter_label(f"{BUDGET}.2024", "zh") == "服务券预算（2024年，元/年）"
    assert parameter_label("policies.platforms.items.0.cloud_rate_per_year", "zh") == "平台带来的上云附加采纳率（第1项，每年）"
    assert parameter_label("population.cluster_readiness.electronics", "zh") == "产业集群准备度倍数（新一代电子信息）"


def test_sweep_figures_in_chinese(figures, tmp_path: Path) -> None:
    one = {"base": "baseline", "overrides": {**SHORT, "population.total_firms": 3_000},
           "parameters": [{"path": BUDGET, "values": [0, 6e8, 1.2e9]}], "design": "factorial", "replicates": 1}
    run_sweep(one, out_dir=tmp_path / "one", executor="serial", lang="zh")
    text = check_chinese(figures["sweep.png"])
    assert "服务券预算（亿元/年）" in text and "\n12\n" in text and "上云用云目标" in text
    two = {**one, "parameters": [{"path": BUDGET, "values": [0, 6e8]},
                                 {"path": "policies.chain_leaders.enabled", "values": [True, False]}]}
    run_sweep(two, out_dir=tmp_path / "two", executor="serial", lang="zh")
    text = check_chinese(figures["sweep.png"])
    assert "链主企业带动计划开启" in text and "开启" in text and "关闭" in text
    three = {**one, "parameters": [{"path": "policies.transformation_programme.mode", "values": ["top_up", "additive"]},
                                   {"path": "policies.pilots.items.0.level", "values": ["park", "cluster"]}]}
    run_sweep(three, out_dir=tmp_path / "three", executor="serial", lang="zh")
    text = check_chinese(figures["sweep.png"])  # the schema's choices by their names, not top_up, park
    assert all(x in text for x in ("任务模式（补足或叠加）", "补足", "叠加", "园区", "产业集群", "第1项"))


@pytest.mark.parametrize("method", ["morris", "sobol"])
def test_sensitivity_figure_in_chinese(figures, tmp_path: Path, method: str) -> None:
    spec = SensitivitySpec.model_validate({
        "overrides": {"outputs.lang": "zh"}, "method": method, "n": 8, "seed": 1, "total_firms": 10_000,
        "parameters": [{"path": BUDGET, "lower": 0.0, "upper": 1.2e9}, {"path": LEVER, "lower": 0.02, "upper": 0.1},
                       {"name": "cloud.peer_weights", "path": ["diffusion.cloud.chain_weight_per_year"],
                        "lower": 0.0, "upper": 0.15}],
        "outcomes": ["cloud_firms"]})

    def linear(x: pd.DataFrame) -> pd.DataFrame:
        y = x["vouchers.budget_cny_per_year"] / 1e3 + 1e7 * x["cloud.market_rate_per_year"]
        return pd.DataFrame({"cloud_firms": y + 1e5 * x["cloud.peer_weights"]}, index=x.index)

    run_sensitivity(spec, evaluate=linear, out_dir=tmp_path)
    text = check_chinese(figures["sensitivity_cloud_firms.png"])
    raw = (tmp_path / "indices.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # a byte-order mark: Excel opens the Chinese intact
    indices = pd.read_csv(tmp_path / "indices.csv", encoding="utf-8-sig")
    assert list(indices.columns[:4]) == ["outcome", "outcome_name", "parameter", "parameter_name"]
    assert set(indices.parameter) == {"vouchers.budget_cny_per_year", "cloud.market_rate_per_year",
                                      "cloud.peer_weights"}  # the identifiers stay
    assert "服务券预算（元/年）" in set(indices.parameter_name)
    assert set(indices.outcome_name) == {"目标日上云用云企业数"}
    assert "服务券预算（元/年）" in text and "上云用云市场自发采纳率（每年）" in text
    assert "同伴带动上云强度" in text and "目标日上云用云企业数" in text
    assert ("Morris μ*" in text and "（家）" in text) if method == "morris" else "一阶指数 S1" in text


def test_calibration_figures_in_chinese(figures, tmp_path: Path) -> None:
    spec = {"parameters": [{"path": LEVER, "lower": 0.0, "upper": 0.2}], "total_firms": 3000,
            "replicates": 1, "optimizer": {"max_evaluations": 3}, "abc": {"draws": 4, "accept_fraction": 0.5},
            "profile": {"enabled": True, "points": 3}, "overrides": {"time.end": "2022-06", "outputs.lang": "zh"}}
    calibrate(spec, out_dir=tmp_path)
    fit = check_chinese(figures["calibration_fit.png"])
    assert "官方公布数" in fit and "月末" in fit and "ABC后验抽样" in fit
    profile = check_chinese(figures["calibration_profiles.png"])
    assert "上云用云市场自发采纳率" in profile and "ABC后验90%区间" in profile
    summary = pd.read_csv(tmp_path / "calibration_summary.csv", encoding="utf-8-sig")
    assert summary.parameter.tolist() == ["cloud.market_rate_per_year"]
    assert summary.parameter_name.tolist() == ["上云用云市场自发采纳率（每年）"]


def test_what_it_takes_and_attribution_figures_in_chinese(figures, tmp_path: Path) -> None:
    what_it_takes("baseline", BUDGET, bounds=(0.0, 2e9), replicates=2, total_firms=3_000, overrides=ZH,
                  rel_tol=0.3, grid=2, out_dir=tmp_path / "w")
    text = check_chinese(figures["what_it_takes.png"])
    assert "达成上云用云目标的概率" in text and "服务券预算（亿元/年）" in text and "\n20\n" in text
    attribution("baseline", replicates=1, total_firms=3_000, overrides={"time.end": "2022-06", "outputs.lang": "zh"},
                out_dir=tmp_path / "a")
    text = check_chinese(figures["attribution.png"])
    assert all(i18n.text(f"channel.{c}", "zh") in text for c in ("policy", "supply_chain", "market"))
    table = pd.read_csv(tmp_path / "a" / "attribution.csv", encoding="utf-8-sig")
    assert list(table.columns[:5]) == ["date", "metric", "metric_name", "channel", "channel_name"]
    assert set(table.channel_name) == {i18n.text(f"channel.{c}", "zh") for c in set(table.channel)}


def test_discovery_figure_in_chinese(figures, tmp_path: Path) -> None:
    discover("baseline", n_samples=12, total_firms=3_000, overrides=ZH, seed=2, out_dir=tmp_path)
    text = check_chinese(figures["discovery.png"])
    assert "情景发现" in text and "覆盖率" in text and "PRIM剥离轨迹" in text
    box = pd.read_csv(tmp_path / "prim_box.csv", encoding="utf-8-sig")
    assert list(box.columns[:2]) == ["input", "input_name"] and "input_name" not in box.input.tolist()


def test_record_figures_in_chinese(figures, tmp_path: Path) -> None:
    from sim.plots.record import fan_chart, instruments_figure, predictive_figure

    base = load_scenario("baseline", {"outputs.lang": "zh"})
    match = hm.history_match(base, params=hm.DEFAULT_PARAMETERS[:2], published_by="2021-12", end="2022-06",
                             start="2020-12", overrides=hm.IN_FORCE_SINCE_2018, total_firms=3_000,
                             particles=4, generations=1, max_simulations=8, seed=2)
    predictive_figure(match, tmp_path / "predictive.png", i18n.text("record.match_title", "zh", scenario="baseline"))
    fan_chart(bt.OriginResult("2021-12", match, pd.DataFrame()), tmp_path / "fan.png")
    med = np.linspace(-50.0, 3000.0, len(INSTRUMENTS))
    table = pd.DataFrame({"instrument": list(INSTRUMENTS),
                          **{f"{m}_{q}": med + d for m in ("transformed", "cloud_cumulative")
                             for q, d in (("p05", -10.0), ("p50", 0.0), ("p95", 10.0))}})
    instruments_figure(table, tmp_path / "instruments.png", "2022-06", match)
    texts = {n: check_chinese(figures[n]) for n in ("predictive.png", "fan.png", "instruments.png")}
    assert "90%后验预测区间" in texts["predictive.png"] and "官方公布数" in texts["predictive.png"]
    assert "朴素预测：Bass扩散曲线" in texts["fan.png"] and "预测起点2021-12" in texts["fan.png"]
    assert all(i18n.instrument_name(x, "zh") in texts["instruments.png"] for x in INSTRUMENTS)


# --------------------------------------------------------------------------- --lang on the command line


def _yaml(path: Path, data: dict) -> str:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return str(path)


CLI_SHORT = ["--set", "time.end=2022-06", "--set", "goals.date=2022-06", "--set", "goals.cloud_firms=750000"]
RECORD = ["baseline", "--particles", "4", "--generations", "2", "--max-simulations", "4", "--total-firms", "2000"]


def _cli_cases(tmp: Path) -> dict[str, tuple[list[str], str, str]]:
    """Command -> (arguments, figure file, a Chinese text the figure must show)."""
    calib = _yaml(tmp / "calib.yaml", {
        "parameters": [{"path": LEVER, "lower": 0.0, "upper": 0.2}], "total_firms": 3000, "replicates": 1,
        "optimizer": {"max_evaluations": 2}, "abc": {"enabled": False}, "profile": {"enabled": False},
        "overrides": {"time.end": "2022-06"}, "write_scenario": None})
    sens = _yaml(tmp / "sens.yaml", {
        "overrides": {"time.end": "2022-06", "goals.date": "2022-06"}, "method": "morris", "n": 2, "replicates": 1,
        "total_firms": 3000, "parameters": [{"path": LEVER, "lower": 0.02, "upper": 0.2},
                                            {"path": "diffusion.churn_rate_per_year", "lower": 0.0, "upper": 0.2}],
        "outcomes": ["cloud_firms"]})
    sweep = _yaml(tmp / "sweep.yaml", {
        "base": "baseline", "overrides": {**SHORT, "population.total_firms": 3000},
        "parameters": [{"path": BUDGET, "values": [0, 6e8]}], "design": "factorial", "replicates": 1})
    small = ["--total-firms", "3000", "--replicates", "1"]
    return {
        "calibrate": ([calib], "calibration_fit.png", "校准：模型"),
        "sensitivity": ([sens], "sensitivity_cloud_firms.png", "哪些参数影响"),
        "sweep": ([sweep, "--executor", "serial"], "sweep.png", "达成各项目标的概率"),
        "what-it-takes": (["baseline", LEVER, "--bounds", "0", "0.4", *small, "--rel-tol", "0.5", *CLI_SHORT],
                          "what_it_takes.png", "需要的政策力度"),
        "attribution": (["baseline", *small, "--set", "time.end=2022-06"], "attribution.png", "按渠道分解"),
        "discover": (["baseline", "--samples", "6", "--total-firms", "3000", *CLI_SHORT], "discovery.png", "情景发现"),
        "history-match": (RECORD, "predictive.png", "历史拟合"),
        "backtest": ([*RECORD, "--origins", "2021-12"], "fan_2021-12.png", "回测"),
        "evaluate": ([*RECORD, "--instruments", "vouchers"], "instruments.png", "各政策工具的贡献"),
    }


@pytest.mark.parametrize("command", ["calibrate", "sensitivity", "sweep", "what-it-takes", "attribution",
                                     "discover", "history-match", "backtest", "evaluate"])
def test_cli_lang_zh_reaches_the_figure(command: str, figures, tmp_path: Path, capsys) -> None:
    from sim.cli.main import main

    if command == "sensitivity":
        pytest.importorskip("SALib")
    args, name, phrase = _cli_cases(tmp_path)[command]
    assert main([command, *args, "--lang", "zh", "--out", str(tmp_path / "out")]) == 0, capsys.readouterr().err
    text = check_chinese(figures[name])
    assert phrase in text, text
    (png,) = (tmp_path / "out").glob(f"*/*/**/{name}")
    with Image.open(png) as img:  # one resolution for every figure (sim.fileio.FIGURE_DPI)
        assert img.info["dpi"] == pytest.approx((FIGURE_DPI, FIGURE_DPI), abs=0.1)
    if command == "evaluate":  # the tables name the categories in the same language
        (table,) = (tmp_path / "out" / "evaluate").glob("*/instruments.csv")
        inst = pd.read_csv(table, encoding="utf-8-sig")
        assert inst.instrument.tolist() == ["vouchers"] and inst.instrument_name.tolist() == ["上云上平台服务券"]
