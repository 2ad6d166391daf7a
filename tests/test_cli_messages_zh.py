"""What ``gdcloud`` prints on stderr and what ``validate``, ``list``, ``schema`` and ``latest``
print follow the language (``--lang zh``); English stays as it was, word for word."""

from __future__ import annotations

import json
import re
import string

import pytest

import sim.cli.main as cli_main
from sim import i18n
from sim.cli.main import main
from sim.errors import ScenarioError
from sim.i18n.messages import error_line, translate
from sim.runs.lifecycle import Interrupted
from sim.runs.rundir import AnalysisInterrupted

ENGLISH_FRAME = ("error", "allowed", "got", "input should", "unknown key", "did you mean", "more error",
                 "interrupted", "failed", "replicate", "see `")
"""Words of the English lines that must not be left in a Chinese one."""


def one_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def no_english_frame(line: str) -> None:
    words = re.sub(r"--\S+|[\w./=-]*[._=][\w./=-]*", "", line)  # key paths and --set values stay as written
    left = [w for w in ENGLISH_FRAME if w in words]
    assert left == [], line


@pytest.mark.parametrize(("argv", "expected"), [
    (["run", "baseline", "--set", "population.total_firms=abc"],
     "错误：--set population.total_firms=abc：population.total_firms：得到 'abc'：应为整数（无法把该文本读作整数）；"
     "允许：整数，1000 <= x <= 20000000"),
    (["run", "baseline", "--set", "run.replicates=0"],
     "错误：--set run.replicates=0：run.replicates：得到 0：应不小于1；允许：整数，1 <= x <= 100000"),
    (["validate", "baseline", "--set", "time.end=2025-13"],
     "错误：--set time.end=2025-13：time.end：应为“YYYY-MM”格式的月份（例如 '2021-06'），得到 '2025-13'；"
     "允许：月份，YYYY-MM（月份01-12）"),
    (["run", "baseline", "--set", "policies.vouchers.budget_cny_per_year=-1"],
     "错误：--set policies.vouchers.budget_cny_per_year=-1：policies.vouchers.budget_cny_per_year：取值 −1 超出范围；"
     "允许：0 <= x"),
    (["run", "no_such_scenario"], None),
    (["run", "baseline", "--bogus"], "错误：无法识别的参数：--bogus（见 `gdcloud --help`）"),
    (["run", "baseline", "-n", "x"], "错误：参数 --replicates/-n：无效的int值 'x'（见 `gdcloud run --help`）"),
    (["compare", "baseline"], "错误：compare 至少需要两个情景（第一个为参照情景）"),
])
def test_bad_input_is_one_chinese_line(capsys, argv, expected):
    code = main([*argv, "--lang", "zh"])
    line = one_line(capsys.readouterr().err)
    assert code == 2
    assert line.startswith("错误：")
    no_english_frame(line)
    if expected is not None:
        assert line == expected.replace("−", "-")
    if argv[0] in ("run", "validate") and "--set" in argv:
        key = argv[argv.index("--set") + 1].split("=")[0]
        assert f"--set {argv[argv.index('--set') + 1]}：{key}：" in line and "；允许：" in line


def test_unknown_key_in_chinese_names_file_key_allowed_and_suggestion(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text("extends: baseline\npopulation:\n  totl_firms: 5\n  parksize: 3\n", encoding="utf-8")
    assert main(["validate", str(path), "--lang", "zh"]) == 2
    line = one_line(capsys.readouterr().err)
    assert line.startswith(f"错误：{path}：population.totl_firms：未知的键 'totl_firms'；允许：total_firms，industrial_firms")
    assert line.endswith("（是否想写 'total_firms'？）（另有1处错误）")


def test_no_such_scenario_in_chinese_lists_the_shipped_names(capsys):
    assert main(["run", "no_such_scenario", "--lang=zh"]) == 2
    line = one_line(capsys.readouterr().err)
    assert line.startswith("错误：no_such_scenario：（文件）：没有此情景文件；允许：YAML 文件或内置情景：as_implemented，baseline，")


def test_english_error_lines_are_unchanged(capsys):
    assert main(["run", "baseline", "--set", "population.total_firms=abc"]) == 2
    assert one_line(capsys.readouterr().err) == (
        "error: --set population.total_firms=abc: population.total_firms: got 'abc': input should be a valid "
        "integer, unable to parse string as an integer; allowed: integer, 1000 <= x <= 20000000")
    assert main(["run", "baseline", "--bogus"]) == 2
    assert one_line(capsys.readouterr().err) == "error: unrecognized arguments: --bogus (see `gdcloud --help`)"
    err = ScenarioError("f.yaml", "a.b", "unknown key 'c'", "x, y", suggestion="x", more=2)
    assert error_line(err) == "error: f.yaml: a.b: unknown key 'c'; allowed: x, y (did you mean 'x'?) (and 2 more errors)"
    assert error_line(err, "zh") == "错误：f.yaml：a.b：未知的键 'c'；允许：x，y（是否想写 'x'？）（另有2处错误）"


def test_an_unknown_message_keeps_its_words_inside_the_chinese_frame():
    assert translate("something new happened", "zh") == "something new happened"
    assert error_line("something new happened", "zh") == "错误：something new happened"


def test_every_message_template_has_the_same_fields_in_both_languages():
    fields = {}
    for key in i18n.keys():
        if key.startswith(("msg.", "msg_frame.", "msg_line.", "cli.")):
            en, zh = (sorted(f for _, f, _, _ in string.Formatter().parse(i18n.text(key, lang)) if f)
                      for lang in ("en", "zh"))
            fields[key] = (en, zh)
    assert len(fields) > 60
    # Chinese may leave a field out (a plural "s", a class name), never use one English lacks.
    assert {k: v for k, v in fields.items() if not set(v[1]) <= set(v[0])} == {}
    assert {k: v for k, v in fields.items() if not k.startswith("msg.") and set(v[0]) - {"s"} != set(v[1])} == {}


def test_failed_replicates_are_listed_in_chinese(tmp_path, capsys):
    code = main(["run", "baseline", "--set", "population.total_firms=20000", "--set", "time.end=2022-06",
                 "--set", "initial.cloud_firms=1000000", "-n", "2", "--executor", "serial", "--no-figures",
                 "--lang", "zh", "--out", str(tmp_path)])
    assert code == 1
    err = capsys.readouterr().err
    assert re.search(r"^  2次重复失败（详情见 \S+failures\.csv）：$", err, re.M), err
    assert "    第0次重复：ValueError：" in err and "    第1次重复：ValueError：" in err
    assert "replicate(s) failed" not in err and "details in" not in err


def test_interruptions_are_reported_in_chinese(monkeypatch, capsys, tmp_path):
    def interrupted(folders):
        def raise_it(*args, **kwargs):
            raise Interrupted(folders)
        return raise_it

    monkeypatch.setattr(cli_main, "cmd_run", interrupted([tmp_path / "x"]))
    assert main(["run", "baseline", "--lang", "zh"]) == 130
    err = capsys.readouterr().err
    assert f"已中断：已完成的重复保留在 {tmp_path / 'x'}；用以下命令补完本次运行：gdcloud run --resume" in err
    assert main(["run", "baseline"]) == 130
    assert "interrupted: finished replicates are kept in" in capsys.readouterr().err
    monkeypatch.setattr(cli_main, "cmd_run", interrupted([]))
    assert main(["run", "baseline", "--lang", "zh"]) == 130
    assert capsys.readouterr().err.strip() == "已中断"

    def analysis(*args, **kwargs):
        from sim.cli.commands import run_and_print

        def stop():
            raise AnalysisInterrupted(tmp_path / "a")
        return run_and_print("discover", stop, "zh")

    monkeypatch.setitem(cli_main.ANALYSIS_COMMANDS, "discover", analysis)
    assert main(["discover", "baseline", "--lang", "zh"]) == 130
    err = capsys.readouterr().err.strip()
    assert err.startswith("已中断：discover 已停止；已写出的内容在") and "分析无法续跑" in err


def test_validate_prints_chinese_ok_lines(capsys):
    assert main(["validate", "baseline", "demo", "--lang", "zh"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert re.fullmatch(r"通过 baseline（名称 baseline，哈希 [0-9a-f]{10}，1次重复）", lines[0])
    assert re.fullmatch(r"通过 demo（名称 demo，哈希 [0-9a-f]{10}，2次重复）", lines[1])
    assert main(["validate", "baseline"]) == 0
    assert re.fullmatch(r"OK baseline \(name baseline, hash [0-9a-f]{10}, 1 replicate\)",
                        capsys.readouterr().out.strip())


def test_list_in_chinese_gives_every_shipped_scenario_a_chinese_title_and_description(capsys):
    from sim.scenario.loader import shipped_scenarios

    assert main(["list", "--lang", "zh"]) == 0
    printed = capsys.readouterr().out
    for name, (path, _) in shipped_scenarios().items():
        title = i18n.scenario_title(name, "zh")
        assert title != name and re.search(r"[\u4e00-\u9fff]", title)
        assert f"{name}  {title}（{path}）" in printed
    body = [ln for ln in printed.splitlines() if ln.startswith("    ")]
    latin = re.findall(r"[A-Za-z]{4,}", re.sub(r"[A-Za-z_/]+\.(yaml|csv|md)|[A-Za-z0-9.]+_[A-Za-z0-9_]+|ASSUMPTION", "", " ".join(body)))
    assert latin == [], latin
    assert main(["list"]) == 0
    assert capsys.readouterr().out.splitlines()[0].startswith("as_implemented  (")  # sorted by name


def test_latest_lists_folders_in_chinese(tmp_path, capsys):
    assert main(["run", "baseline", "--set", "population.total_firms=20000", "--set", "time.end=2021-09",
                 "-n", "1", "--no-figures", "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    assert main(["latest", "--out", str(tmp_path), "--lang", "zh"]) == 0
    assert re.fullmatch(r"\S+（运行，已完成，\S+）", capsys.readouterr().out.strip())
    assert main(["latest", "--out", str(tmp_path / "none"), "--lang", "zh"]) == 0
    assert capsys.readouterr().out.strip() == f"{tmp_path / 'none'} 下没有结果"


def test_schema_in_chinese_titles_the_fields_by_their_chinese_names(capsys):
    assert main(["schema", "--lang", "zh"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["$defs"]["PopulationSpec"]["properties"]["total_firms"]["title"] == "起始模拟企业数"
    assert main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out)["$defs"]["PopulationSpec"]["properties"]["total_firms"]["title"] == "Total Firms"
