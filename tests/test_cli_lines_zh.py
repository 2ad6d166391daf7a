"""What ``gdcloud run`` and ``compare`` print follows the language: with ``--lang zh`` every
sentence is Chinese (from ``sim/i18n/terms.csv``); only scenario names and paths stay as written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sim.cli.main import main

REPO = Path(__file__).resolve().parents[1]

TINY = ["--set", "population.total_firms=20000", "--set", "time.end=2022-06", "--executor", "serial",
        "--no-figures"]
"""Small and short: the language of the lines does not depend on the size."""


def english_words(printed: str, out, names: tuple[str, ...]) -> list[str]:
    """Latin words of two letters or more left once paths under ``out`` and scenario names are removed."""
    text = re.sub(re.escape(str(out)) + r"\S*", "", printed)
    for name in sorted(names, key=len, reverse=True):
        text = text.replace(name, "")
    return re.findall(r"[A-Za-z]{2,}", text)


@pytest.mark.parametrize("replicates", ["1", "2"])
def test_run_prints_chinese_sentences(tmp_path, capsys, replicates):
    out = tmp_path / "out"
    assert main(["run", "baseline", *TINY, "-n", replicates, "--lang", "zh", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert english_words(printed, out, ("baseline",)) == []
    assert "2022-06上云用云企业数" in printed and "2022-06完成数字化转型的规上工业企业数" in printed
    assert "早于目标日期2025-12" in printed  # the horizon note of the manifest, translated
    assert "2022-06前未达成" in printed  # 10,000 cloud firms (scaled) are not reached by 2022-06
    assert "结果：" + str(out) in printed
    if replicates == "1":
        assert "仅1次重复：无区间" in printed and "：未达成；首次达成：" in printed
    else:
        assert "中位数" in printed and "达成概率0.00（共2次重复，仅含随机性" in printed


def test_run_prints_english_by_default(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", "baseline", *TINY, "-n", "1", "--out", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert re.fullmatch(r"baseline: 1 of 1 replicates done, 0 failed, \d+\.\d s", lines[0])
    assert lines[2] == ("  note: the run ends at 2022-06, before the goal date 2025-12: goals are "
                        "evaluated at 2022-06")
    assert re.fullmatch(r"  firms on the cloud at 2022-06: [\d,]+ \(one replicate: no spread\)", lines[3])
    assert lines[4] == "    goal 10,000 (scaled x0.01 to 20,000 firms): not met; first reached: not by 2022-06"


def test_compare_prints_chinese_sentences(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["compare", "baseline", "no_policy_at_all", *TINY, "-n", "2", "--lang", "zh",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert english_words(printed, out, ("baseline", "no_policy_at_all")) == []
    assert "比较结果：" + str(out) in printed
    assert "与基准情景的配对差异（相同随机种子，逐次重复配对）：" in printed  # shipped scenarios by their titles
    assert "与基准情景相比，无任何政策情景" in printed  # the differences' sentences


SENS = {"overrides": {"time.end": "2022-06", "goals.date": "2022-06", "goals.cloud_firms": 750000},
        "method": "morris", "n": 2, "replicates": 1, "total_firms": 5000,
        "parameters": [{"path": "diffusion.cloud.market_rate_per_year", "lower": 0.02, "upper": 0.2},
                       {"path": "diffusion.churn_rate_per_year", "lower": 0.0, "upper": 0.2}],
        "outcomes": ["cloud_firms", "voucher_cny_per_extra_cloud_firm"]}
"""Morris with 2 trajectories of 2 inputs at 5,000 firms over one year (12 runs with the voucher outcome)."""

PROPER_NAMES = ("Morris", "Sobol")
"""Method names written as Chinese reports write them."""


def write_spec(tmp_path):
    import yaml

    path = tmp_path / "sens.yaml"
    path.write_text(yaml.safe_dump(SENS), encoding="utf-8")
    return path


def test_sensitivity_dry_run_prints_chinese(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["sensitivity", str(write_spec(tmp_path)), "--dry-run", "--lang", "zh", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert english_words(printed, tmp_path, PROPER_NAMES) == [], printed
    assert f"敏感性分析试运行（{tmp_path / 'sens.yaml'}）：未写入任何文件" in printed
    assert "Morris方法：6个样本点×1次重复×2（每新增一家上云用云企业的服务券支出另需不发服务券的运行）＝12次模型运行" in printed
    assert "预计用时：约" in printed and not out.exists()


def test_sensitivity_prints_chinese(tmp_path):
    """In a fresh process: the figure's Chinese text must find its glyphs there too."""
    out = tmp_path / "out"
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "sim.cli.main", "sensitivity", str(write_spec(tmp_path)),
                           "--lang", "zh", "--executor", "serial", "--out", str(out)],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "missing from font" not in proc.stderr  # matplotlib: "Glyph ... missing from font(s)"
    printed = proc.stdout
    assert english_words(printed, out, PROPER_NAMES) == [], printed
    lines = printed.splitlines()
    assert lines[0].startswith("敏感性分析（Morris方法：6个样本点") and lines[0].endswith("秒（串行（单进程））")
    assert lines[1] == "  结果：" + str(next((out / "sensitivity").iterdir()))
    assert "  目标日上云用云企业数，按μ*从大到小：上云用云市场自发采纳率（每年） " in printed


CALIB = {"parameters": [{"path": "diffusion.cloud.market_rate_per_year", "lower": 0.0, "upper": 0.2},
                        {"path": "diffusion.transform.market_rate_per_year", "lower": 0.0, "upper": 0.6}],
         "total_firms": 5000, "replicates": 1, "optimizer": {"max_evaluations": 3},
         "abc": {"draws": 4, "accept_fraction": 0.5}, "profile": {"enabled": False}, "write_scenario": None}
"""Two market rates fitted at 5,000 firms with a handful of trials and ABC draws."""


def test_calibrate_prints_chinese(tmp_path, capsys):
    import yaml

    spec = tmp_path / "calib.yaml"
    spec.write_text(yaml.safe_dump(CALIB), encoding="utf-8")
    out = tmp_path / "out"
    assert main(["calibrate", str(spec), "--lang", "zh", "--executor", "serial", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert english_words(printed, out, ()) == [], printed
    assert "校准：2个参数拟合" in printed and "次模型运行" in printed
    assert "  拟合（目标函数" in printed and "2021-12-31上云用云企业数（累计）：公布值" in printed
    assert "  参数：" in printed and "（取值范围0至0.2）" in printed
    assert "近似贝叶斯计算90%区间" in printed and "区间宽度比" in printed
    assert "  校准后的情景：" + str(out) in printed


SHORT_GOAL = ["--set", "time.end=2022-06", "--set", "goals.date=2022-06", "--set", "goals.cloud_firms=750000",
              "--executor", "serial"]
"""One year with a cloud goal that a higher market rate reaches (as in test_cli_analysis.py)."""


def test_what_it_takes_prints_chinese(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["what-it-takes", "baseline", "diffusion.cloud.market_rate_per_year", "--bounds", "0", "0.4",
                 "--replicates", "3", "--total-firms", "5000", "--rel-tol", "0.1", *SHORT_GOAL, "--lang", "zh",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert english_words(printed, out, ("baseline",)) == [], printed
    assert printed.startswith("所需力度：以不低于0.9的概率达成上云用云目标所需的最小上云用云市场自发采纳率（每年）"
                              "（基准情景，3次重复×5,000家企业，目标日期2022-06）")
    assert "  所需取值：" in printed and "次重复达成目标，95%置信区间" in printed
    assert "达成比例以1/3为步长变化" in printed


def test_attribution_prints_chinese(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["attribution", "baseline", "--replicates", "1", "--total-firms", "5000",
                 "--set", "time.end=2022-06", "--executor", "serial", "--lang", "zh", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert english_words(printed, out, ("baseline",)) == [], printed
    assert printed.startswith("新增采纳的渠道归因：2021-06至2022-06（基准情景，1次重复×5,000家企业")
    assert "  新增上云用云企业" in printed and "产业链带动" in printed and "；交互作用" in printed
    assert "  新增完成数字化转型的规上工业企业" in printed


def test_discover_prints_chinese(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["discover", "baseline", "--samples", "8", "--total-firms", "5000", "--seed", "1",
                 *SHORT_GOAL, "--lang", "zh", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert english_words(printed, out, ("baseline", "PRIM", "NumPy", "EMA", "Workbench")) == [], printed
    assert printed.startswith("情景发现：8个样本点（基准情景，1次重复×5,000家企业），其中")
    assert "  PRIM盒子（" in printed and "覆盖率" in printed


SWEEP = {"base": "baseline",
         "overrides": {"population.total_firms": 5000, "time.end": "2022-06", "goals.date": "2022-06"},
         "parameters": [{"path": "policies.vouchers.budget_cny_per_year", "values": [0, 3e8]},
                        {"path": "policies.vouchers.subsidy_share", "lower": 0.2, "upper": 0.6, "levels": 2}],
         "design": "factorial", "replicates": 1}
"""Four points of one year at 5,000 firms."""


def write_sweep(tmp_path):
    import yaml

    path = tmp_path / "vouchers.yaml"
    path.write_text(yaml.safe_dump(SWEEP), encoding="utf-8")
    return path


def test_sweep_dry_run_prints_chinese(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["sweep", str(write_sweep(tmp_path)), "--dry-run", "--executor", "serial", "--lang", "zh",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert english_words(printed, tmp_path, ("baseline",)) == [], printed
    lines = printed.splitlines()
    assert lines[0] == f"参数扫描试运行（{tmp_path / 'vouchers.yaml'}）：未写入任何文件"
    assert lines[1].startswith("  全因子设计：4个样本点×1次重复＝4次基准情景模型运行（5,000家企业，2021-06至2022-06）")
    assert lines[3] == "  服务券预算（元/年）：2个不同取值：0元、3亿元"  # money as a report writes it, never 3e+08
    assert lines[4] == "  政府补贴比例（比例，0–1）：2个不同取值：0.2、0.6"
    assert lines[5].startswith("  预计用时：约") and not out.exists()


def test_sweep_prints_chinese(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["sweep", str(write_sweep(tmp_path)), "--executor", "serial", "--no-figures", "--lang", "zh",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert english_words(printed, out, ("vouchers",)) == [], printed
    lines = printed.splitlines()
    assert re.fullmatch(r"参数扫描vouchers：4个样本点×1次重复＝4次运行，已完成4次，失败0次，用时\d+\.\d秒", lines[0])
    assert lines[1].startswith("  结果：" + str(out))
    assert lines[2].startswith("  2022-06目标：上云用云") and "；计数与目标均按5,000家企业的模拟总体" in lines[2]
    head = lines[3].split()
    assert head == ["样本点", "服务券预算（元/年）", "政府补贴比例（比例，0–1）", "上云目标达成概率", "转型目标达成概率",
                    "上云企业数中位数"]
    assert len(lines) == 8  # the four points
    assert "3亿元" in lines[4] + lines[5] + lines[6] + lines[7] and "e+" not in printed


RECORD = ["baseline", "--particles", "4", "--generations", "2", "--max-simulations", "4", "--total-firms", "3000",
          "--lang", "zh"]
"""The smallest history match the record commands accept (as in test_record_api.py)."""


@pytest.mark.parametrize("command, extra", [("history-match", []), ("backtest", ["--origins", "2023-09"]),
                                            ("evaluate", ["--instruments", "vouchers"])])
def test_record_commands_print_chinese(tmp_path, capsys, command, extra):
    out = tmp_path / "out"
    assert main([command, *RECORD, *extra, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert english_words(printed, out, ("baseline", "Bass")) == [], printed
    head = {"history-match": "历史拟合", "backtest": "回测", "evaluate": "事后评估"}[command]
    assert printed.startswith(f"{head}：基准情景（3,000家企业，4个粒子，随机种子0）")
    if command == "backtest":
        assert "预测起点" in printed and "延续最近增速" in printed and "90%区间覆盖率" in printed
    if command == "evaluate":
        assert "上云用云企业数（累计）" in printed and "达成目标概率" in printed
        assert "上云上平台服务券" in printed and "每新增一家上云企业所需资金（元）中位数" in printed


def test_translation_keys_are_unique_and_a_duplicate_is_refused(tmp_path, monkeypatch):
    """A key given twice would silently replace the first row's text (it happened: wit.largest
    was both a figure label with {value} and a bare word); the loader refuses it."""
    import csv
    from importlib import resources

    from sim import i18n

    path = resources.files("sim.i18n").joinpath("terms.csv")
    with path.open(encoding="utf-8", newline="") as fh:
        keys = [row["key"] for row in csv.DictReader(fh)]
    assert len(keys) == len(set(keys))
    assert "{value}" in i18n.text("wit.largest", "en")
    assert i18n.text("wit.direction_largest", "zh") == "最大"

    bad = tmp_path / "terms.csv"
    bad.write_text("key,en,zh\na,one,一\nb,two,二\na,again,再\n", encoding="utf-8")

    class Files:
        def joinpath(self, name):
            return bad

    monkeypatch.setattr(i18n.resources, "files", lambda pkg: Files())
    i18n._terms.cache_clear()
    try:
        with pytest.raises(ValueError, match="keys given twice: a"):
            i18n._terms()
    finally:
        monkeypatch.undo()
        i18n._terms.cache_clear()
