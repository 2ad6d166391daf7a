"""What ``gdcloud run`` and ``compare`` print follows the language: with ``--lang zh`` every
sentence is Chinese (from ``sim/i18n/terms.csv``); only scenario names and paths stay as written."""

from __future__ import annotations

import re

import pytest

from sim.cli.main import main

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
    assert "与baseline的配对差异（相同随机种子，逐次重复配对）：" in printed
    assert "与baseline相比，no_policy_at_all" in printed  # the differences' sentences
