"""``sim.xlsx`` and ``tables.write_xlsx``: the workbook holds the cell values pandas' own Excel
writer (openpyxl) would write, read back with openpyxl and pandas; header bold and frozen,
widths as asked."""

from __future__ import annotations

import csv
import math
import shutil
import subprocess

import numpy as np
import openpyxl
import pandas as pd
import pytest

from sim.analysis import tables
from sim.xlsx import Sheet, column_letter, write_workbook

TRICKY = pd.DataFrame({
    "text": ["plain", " leading space", "a & b < c > d \"q\" 'q'", "", "广东 上云", "=1+1"],
    "ints": np.array([0, -3, 12345678901234567, 7, 2**40, 1], dtype=np.int64),
    "floats": [0.1 + 0.2, math.nan, math.inf, -math.inf, 1e-300, 123456.789012345678],
    "flags": [True, False, True, False, True, False],
    "mixed": [None, 1, 2.5, "x", np.float32(0.1), np.int32(4)],
    "年份": [2021, 2022, 2023, 2024, 2025, 2026],
})


def reference_xlsx(path, sheets):
    """The workbook as pandas writes it with openpyxl (what ``write_xlsx`` wrote before)."""
    with pd.ExcelWriter(path, engine="openpyxl") as xw:
        for name, frame in sheets.items():
            frame.to_excel(xw, sheet_name=name, index=False)


def cells(path):
    book = openpyxl.load_workbook(path)
    return {ws.title: [[c.value for c in row] for row in ws.iter_rows()] for ws in book.worksheets}


def test_cell_values_are_those_pandas_writes(tmp_path):
    sheets = {"tricky": TRICKY, "empty": TRICKY.iloc[:0], "one": pd.DataFrame({"a": [1.5]})}
    reference_xlsx(tmp_path / "ref.xlsx", sheets)
    tables.write_xlsx(tmp_path / "new.xlsx", sheets)
    ref, new = cells(tmp_path / "ref.xlsx"), cells(tmp_path / "new.xlsx")
    assert list(new) == list(ref)
    assert new == ref
    assert new["tricky"][3][2] == "inf" and new["tricky"][4][2] == "-inf"  # as pandas' inf_rep
    assert new["tricky"][1][2] == 0.3 and new["tricky"][3][1] == 1.234567890123457e16  # "%.16g"
    for name in ref:  # and pandas reads the same frames, except that text starting with "="
        # stays text (openpyxl wrote a formula without a value, which pandas reads as missing)
        got = pd.read_excel(tmp_path / "new.xlsx", sheet_name=name)
        want = pd.read_excel(tmp_path / "ref.xlsx", sheet_name=name)
        if name == "tricky":
            assert got.loc[5, "text"] == "=1+1" and pd.isna(want.loc[5, "text"])
            got, want = got.drop(index=5), want.drop(index=5)
        pd.testing.assert_frame_equal(got, want)


def test_header_bold_frozen_and_widths(tmp_path):
    tables.write_xlsx(tmp_path / "t.xlsx", {"tricky": TRICKY})
    ws = openpyxl.load_workbook(tmp_path / "t.xlsx")["tricky"]
    assert ws.freeze_panes == "A2"
    assert [c.font.b for c in ws[1]] == [True] * 6 and not ws["A2"].font.b
    widths = [ws.column_dimensions[column_letter(i)].width for i in range(1, 7)]
    assert widths == [len("a & b < c > d \"q\" 'q'") + 2, 19, len(str(0.1 + 0.2)) + 2, 7, 7, 6]
    assert [c.data_type for c in ws[2]] == ["s", "n", "n", "b", "n", "n"]


def test_column_letters_and_bad_input(tmp_path):
    assert [column_letter(i) for i in (1, 26, 27, 52, 703)] == ["A", "Z", "AA", "AZ", "AAA"]
    with pytest.raises(ValueError, match="control character"):
        write_workbook(tmp_path / "x.xlsx", {"s": Sheet([["a"], ["bad\x01"]])})
    with pytest.raises(ValueError, match="sheet name"):
        write_workbook(tmp_path / "x.xlsx", {"a/b": Sheet([["a"]])})
    with pytest.raises(TypeError, match="cell A2"):
        write_workbook(tmp_path / "x.xlsx", {"s": Sheet([["a"], [object()]])})
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_the_same_sheets_give_the_same_bytes_whenever_written(tmp_path, monkeypatch):
    import time
    import zipfile

    sheets = {"表": Sheet([["a", "b"], [1, "x"]], widths=[4, 6])}
    first = write_workbook(tmp_path / "first.xlsx", sheets).read_bytes()
    later = time.time() + 3 * 86400  # zip dates have a 2-second resolution: three days on
    monkeypatch.setattr(time, "time", lambda: later)
    monkeypatch.setattr(time, "localtime", lambda *a: time.gmtime(later))
    second = write_workbook(tmp_path / "second.xlsx", sheets).read_bytes()
    assert first == second
    with zipfile.ZipFile(tmp_path / "second.xlsx") as zf:
        assert {info.date_time for info in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}


SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")


@pytest.mark.skipif(SOFFICE is None, reason="LibreOffice is not installed (.ci/run installs "
                    "Debian's libreoffice-calc-nogui)")
def test_libreoffice_reads_every_cell(tmp_path):
    """A spreadsheet program, not only openpyxl, opens the workbook: LibreOffice Calc converts
    every sheet to CSV (its whole-workbook CSV filter, all sheets) and each cell reads as
    openpyxl reads it (numbers at full precision, booleans as TRUE/FALSE, text as written)."""
    sheets = {"tricky": TRICKY, "empty": TRICKY.iloc[:0], "表二": pd.DataFrame({"甲": [1.5, -2.0]})}
    tables.write_xlsx(tmp_path / "book.xlsx", sheets)
    all_sheets_csv = "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1"
    done = subprocess.run([SOFFICE, "--headless", "--norestore", f"-env:UserInstallation=file://{tmp_path}/lo",
                           "--convert-to", all_sheets_csv, "--outdir", str(tmp_path), str(tmp_path / "book.xlsx")],
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    for name, want in cells(tmp_path / "book.xlsx").items():
        with open(tmp_path / f"book-{name}.csv", encoding="utf-8", newline="") as fh:
            got = list(csv.reader(fh))
        assert len(got) == len(want), name
        for got_row, want_row in zip(got, want, strict=True):
            assert len(got_row) == len(want_row), (name, got_row)
            for text, value in zip(got_row, want_row, strict=True):
                if value is None:
                    assert text == ""
                elif isinstance(value, bool):
                    assert text == ("TRUE" if value else "FALSE")
                elif isinstance(value, int | float):
                    assert float(text) == pytest.approx(value, rel=1e-14, abs=0), (name, text, value)
                else:
                    assert text == value, name
