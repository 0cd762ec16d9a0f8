"""Spreadsheet safety of the worklists: formula injection and sheet names."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

from qa_pipeline.officers.worklists import _put, csv_safe, sheet_ref, sheet_title

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
    ("0091 Tîm Maes – Gogledd, Conwy", "0091 Tîm Maes – Gogledd, Conwy"),  # fits: whole
    # cut at the word boundary before "Gwynedd", the comma and space dropped, … added
    ("0094 Tîm Plant Anabl, Ysbyty Gwynedd – Bangor", "0094 Tîm Plant Anabl, Ysbyty…"),
    ("T1 [North]: a/b\\c*d?", "T1 North a b c d"),
    ("'quoted'", "quoted"),
    ("History", "Sheet History"),
    ("", "Sheet"),
    ("[]:*?/\\", "Sheet"),  # nothing left but forbidden characters: never empty
    ("Tîm Llŷn ac Eifionydd – Gwynedd", "Tîm Llŷn ac Eifionydd – Gwynedd"),  # 31: fits
    ("0042 Tîm Llŷn ac Eifionydd, Gŵyr", "0042 Tîm Llŷn ac Eifionydd…"),  # 32: cut
])
def test_sheet_titles_are_valid(name: str, expected: str) -> None:
    title = sheet_title(name)
    assert title == expected
    _valid(title)


def _valid(title: str) -> None:
    assert 0 < len(title) <= 31
    assert not set(title) & set("[]:*?/\\")
    assert not title.startswith("'") and not title.endswith("'")


def _words_kept(title: str, full: str) -> None:
    """A `title` cut short (…) shows the first words of `full`, never half a word."""
    assert title.endswith("…")
    shown = title.removesuffix("…")
    assert full.startswith(shown)
    assert full[len(shown)] in " ,;–-", (title, full)


@pytest.mark.parametrize("team_id, name, expected", [
    ("0069", "Tîm Maes Gogledd Conwy a Sir Ddinbych", "0069 Tîm Maes Gogledd Conwy a…"),
    ("0069", "Tîm Maes Gogledd, Conwy a Sir Ddinbych", "0069 Tîm Maes Gogledd, Conwy a…"),
    ("0069", "Tîm Maes Gogledd (Conwy)", "0069 Tîm Maes Gogledd (Conwy)"),
    ("0069", "", "0069"),
    ("0069", "[]", "0069"),
    ("0069", "'", "0069"),
    ("0069", "Tîm O'Brien: Llŷn/Eifionydd", "0069 Tîm O'Brien Llŷn Eifionydd"),
    # no space to cut at: the one word is cut within, the id still whole
    ("0069", "Tîmmaesgogleddconwyasirddinbych", "0069 Tîmmaesgogleddconwyasirdd…"),
    ("TEAM-ID-THAT-IS-VERY-LONG-00001", "Any name", "TEAM-ID-THAT-IS-VERY-LONG-00001"),
])
def test_team_sheet_titles_keep_the_id_and_cut_at_a_word(
        team_id: str, name: str, expected: str) -> None:
    title = sheet_title(name, head=team_id)
    assert title == expected
    _valid(title)
    assert title.startswith(team_id)
    if title.endswith("…") and " " in name:
        _words_kept(title, f"{team_id} {name}")


def test_sheet_titles_are_unique() -> None:
    long = "0094 Tîm Plant Anabl, Ysbyty Gwynedd – Bangor"
    taken = ["Summary", sheet_title(long)]
    second = sheet_title(long + " (bis)", taken)
    assert second == "0094 Tîm Plant Anabl… (2)"  # cut shorter, at a word, to make room
    _valid(second)
    assert sheet_title("summary", taken) == "summary (2)"  # Excel names ignore case
    third = sheet_title(long, [*taken, second])
    assert third == "0094 Tîm Plant Anabl… (3)"
    # Two teams whose names agree up to the cut: the id keeps them apart.
    a = sheet_title("Tîm Maes Gogledd Conwy a Sir Ddinbych", taken, head="0069")
    b = sheet_title("Tîm Maes Gogledd Conwy a Sir Fflint", [*taken, a], head="0070")
    assert a != b and a.startswith("0069 ") and b.startswith("0070 ")
    # The same id and name twice (ids differing only in case): a suffix, id still whole.
    c = sheet_title("Tîm Maes Gogledd Conwy a Sir Ddinbych", [a], head="0069")
    assert c.startswith("0069 ") and c.endswith(" (2)") and len(c) <= 31 and c != a
    titles = [sheet_title("Front door", [], head="T1")]
    for _ in range(12):
        titles.append(sheet_title("Front door", titles, head="T1"))
    assert len({t.lower() for t in titles}) == len(titles) == 13
    assert titles[-1] == "T1 Front door (13)"


@pytest.mark.parametrize("title, ref", [
    ("Summary", "'Summary'!A1"),
    ("T1 O'Brien", "'T1 O''Brien'!A1"),
    ("0069 Tîm Maes Gogledd, Conwy a…", "'0069 Tîm Maes Gogledd, Conwy a…'!A1"),
])
def test_sheet_refs_quote_the_name(title: str, ref: str) -> None:
    assert sheet_ref(title) == ref
