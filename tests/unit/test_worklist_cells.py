"""Spreadsheet safety of the worklists: formula injection and sheet names."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

from qa_pipeline.officers.worklists import _put, csv_safe, sheet_title

DANGEROUS = ["=1+1", '=HYPERLINK("http://example.invalid","x")', "+44 20 7946 0000", "-1",
             "@SUM(A1:A2)", "\t=1+1", "\r=1+1", "=cmd|' /C calc'!A0"]


def test_formula_like_text_is_stored_as_text(tmp_path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    for r, v in enumerate([*DANGEROUS, "#N/A", "plain", "000123"], start=1):
        _put(ws, r, 1, v)
    path = tmp_path / "cells.xlsx"
    wb.save(path)

    back = load_workbook(path).active
    for r, v in enumerate(DANGEROUS, start=1):
        cell = back.cell(row=r, column=1)
        # the value as delivered (XML reads a carriage return back as a line feed)
        assert cell.value == v.replace("\r", "\n")
        assert cell.data_type == "s"      # a string, not a formula ("f")
        assert isinstance(cell.value, str)
        assert cell.quotePrefix           # Excel keeps it text when the cell is edited
    assert back.cell(row=len(DANGEROUS) + 1, column=1).data_type == "s"  # not an error
    assert back.cell(row=len(DANGEROUS) + 3, column=1).value == "000123"  # leading zeros
    # Nothing in the saved sheet is a formula.
    import zipfile

    with zipfile.ZipFile(path) as z:
        sheet_xml = z.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet_xml and "<f " not in sheet_xml


def test_illegal_control_characters_do_not_break_the_workbook(tmp_path: Path) -> None:
    wb = Workbook()
    _put(wb.active, 1, 1, "bad\x00\x07value")
    wb.save(tmp_path / "x.xlsx")
    assert load_workbook(tmp_path / "x.xlsx").active["A1"].value == "bad\ufffd\ufffdvalue"


@pytest.mark.parametrize("value", DANGEROUS)
def test_csv_cells_are_neutralised(value: str) -> None:
    assert csv_safe(value) == "'" + value
    assert csv_safe("plain") == "plain" and csv_safe(3) == 3


@pytest.mark.parametrize("name, expected", [
    ("0091 Tîm Maes – Gogledd, Conwy", "0091 Tîm Maes – Gogledd, Conwy"),
    ("0094 Tîm Plant Anabl, Ysbyty Gwynedd – Bangor", "0094 Tîm Plant Anabl, Ysbyty Gw"),
    ("T1 [North]: a/b\\c*d?", "T1 North a b c d"),
    ("'quoted'", "quoted"),
    ("History", "Sheet History"),
    ("", "Sheet"),
])
def test_sheet_titles_are_valid(name: str, expected: str) -> None:
    title = sheet_title(name)
    assert title == expected
    assert 0 < len(title) <= 31
    assert not set(title) & set("[]:*?/\\")
    assert not title.startswith("'") and not title.endswith("'")


def test_sheet_titles_are_unique() -> None:
    long = "0094 Tîm Plant Anabl, Ysbyty Gwynedd – Bangor"
    taken = ["Summary", sheet_title(long)]
    second = sheet_title(long + " (bis)", taken)
    assert second != taken[1] and len(second) <= 31 and second.endswith("(2)")
    assert sheet_title("summary", taken) == "summary (2)"  # Excel names ignore case
