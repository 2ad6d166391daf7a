"""A small writer of ``.xlsx`` workbooks: sheets of plain values, the first row bold and frozen,
columns of given widths.

Why not openpyxl (through ``pandas.ExcelWriter``): it serialises every cell through an XML
element tree, ~0.1-0.2 s of CPU for ``results.xlsx``'s ~2,700 cells, spent while the run's
figures need both CPUs; this writes the same XML by string joining in a few milliseconds.
Cells are typed as openpyxl types them, so openpyxl (or pandas) reads back the same values:
numbers as ``"%.16g"`` (openpyxl's format), text as inline strings, ``True``/``False`` as
booleans, ``None`` or ``""`` as an empty cell.
"""

from __future__ import annotations

import math
import os
import re
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from sim.fileio import atomic_write

Value = str | int | float | bool | None

ZIP_DATE = (1980, 1, 1, 0, 0, 0)
"""Date of every part in the package (the zip format's earliest): a workbook's bytes depend only
on its sheets, as every other file of a run depends only on its seed and scenario."""

_ILLEGAL = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")  # not allowed in XML 1.0 (as openpyxl)
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_STYLES = (  # style 0: normal; style 1: bold (the header row)
    f'<styleSheet xmlns="{_MAIN}">'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>")


@dataclass(frozen=True)
class Sheet:
    """One worksheet.

    Attributes:
        rows: The rows, the first one the header (bold, frozen); values ``str``, ``int``,
            ``float``, ``bool`` or ``None`` (an empty cell, as is ``""``).
        widths: Width of each column in characters (may be shorter than the rows).
    """

    rows: Sequence[Sequence[Value]]
    widths: Sequence[float] = ()


def column_letter(index: int) -> str:
    """Excel's name of the 1-based column ``index`` (1 -> ``A``, 27 -> ``AA``)."""
    name = ""
    while index > 0:
        index, rem = divmod(index - 1, 26)
        name = chr(65 + rem) + name
    return name


def _cell(ref: str, value: Value, style: str) -> str:
    if value is None or value == "":
        return f'<c r="{ref}"{style}/>'
    if isinstance(value, bool):
        return f'<c r="{ref}"{style} t="b"><v>{int(value)}</v></c>'
    if isinstance(value, int | float):
        if math.isnan(value) or math.isinf(value):
            return f'<c r="{ref}"{style}/>'  # as openpyxl: no number for NaN or infinity
        return f'<c r="{ref}"{style} t="n"><v>{value:.16g}</v></c>'
    if not isinstance(value, str):
        raise TypeError(f"cell {ref}: cannot write a {type(value).__name__} ({value!r})")
    if _ILLEGAL.search(value):
        raise ValueError(f"cell {ref}: text with a control character XML cannot hold: {value!r}")
    space = ' xml:space="preserve"' if value != value.strip() else ""
    return f'<c r="{ref}"{style} t="inlineStr"><is><t{space}>{escape(value)}</t></is></c>'


def sheet_xml(sheet: Sheet) -> str:
    """The worksheet part of one sheet."""
    n_cols = max((len(r) for r in sheet.rows), default=0)
    letters = [column_letter(i + 1) for i in range(max(n_cols, 1))]
    last = f"{letters[n_cols - 1]}{len(sheet.rows)}" if n_cols and sheet.rows else "A1"
    out = [_DECL, f'<worksheet xmlns="{_MAIN}"><dimension ref="A1:{last}"/>',
           '<sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" '
           'activePane="bottomLeft" state="frozen"/><selection pane="bottomLeft" activeCell="A1" '
           'sqref="A1"/></sheetView></sheetViews><sheetFormatPr baseColWidth="8" defaultRowHeight="15"/>']
    if sheet.widths:
        out.append("<cols>")
        out += [f'<col min="{i}" max="{i}" width="{w:g}" customWidth="1"/>'
                for i, w in enumerate(sheet.widths, start=1)]
        out.append("</cols>")
    out.append("<sheetData>")
    for r, row in enumerate(sheet.rows, start=1):
        style = ' s="1"' if r == 1 else ""
        out.append(f'<row r="{r}">')
        out += [_cell(f"{letters[c]}{r}", v, style) for c, v in enumerate(row)]
        out.append("</row>")
    out.append("</sheetData></worksheet>")
    return "".join(out)


def package_parts(sheets: Mapping[str, Sheet]) -> dict[str, str]:
    """Every part of the workbook's zip package, by name."""
    names = list(sheets)
    for name in names:
        if not name or len(name) > 31 or re.search(r"[\\/?*\[\]:]", name):
            raise ValueError(f"sheet name {name!r}: 1-31 characters, none of \\ / ? * [ ] :")
    n = len(names)
    sheet_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
    types = "".join(f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="{sheet_type}"/>'
                    for i in range(1, n + 1))
    parts = {
        "[Content_Types].xml": (
            f'{_DECL}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/styles.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
            f"{types}</Types>"),
        "_rels/.rels": (
            f'{_DECL}<Relationships xmlns="{_PKG_REL}"><Relationship Id="rId1" '
            f'Type="{_REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>'),
        "xl/workbook.xml": (
            f'{_DECL}<workbook xmlns="{_MAIN}" xmlns:r="{_REL}"><sheets>'
            + "".join(f'<sheet name={quoteattr(s)} sheetId="{i}" r:id="rId{i}"/>'
                      for i, s in enumerate(names, start=1))
            + "</sheets></workbook>"),
        "xl/_rels/workbook.xml.rels": (
            f'{_DECL}<Relationships xmlns="{_PKG_REL}">'
            + "".join(f'<Relationship Id="rId{i}" Type="{_REL}/worksheet" Target="worksheets/sheet{i}.xml"/>'
                      for i in range(1, n + 1))
            + f'<Relationship Id="rId{n + 1}" Type="{_REL}/styles" Target="styles.xml"/></Relationships>'),
        "xl/styles.xml": _DECL + _STYLES,
    }
    parts.update({f"xl/worksheets/sheet{i}.xml": sheet_xml(sheets[s]) for i, s in enumerate(names, start=1)})
    return parts


def write_workbook(path: str | os.PathLike[str], sheets: Mapping[str, Sheet]) -> Path:
    """Write a workbook of ``sheets`` (by sheet name, in order) to ``path``, atomically."""
    parts = package_parts(sheets)

    def write(tmp: Path) -> None:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for name, text in parts.items():
                # a fixed date: the same tables give the same bytes (zipfile stamps the clock)
                member = zipfile.ZipInfo(name, date_time=ZIP_DATE)
                zf.writestr(member, text.encode("utf-8"), compress_type=zipfile.ZIP_DEFLATED)

    return atomic_write(path, write)
