"""The Excel worklists of a published batch (SQLite and PostgreSQL): one sheet per team, a
summary and a no-team sheet, open issues only, formula injection neutralised."""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

from openpyxl import load_workbook

from qa_pipeline.load.db import make_engine
from qa_pipeline.officers.exceptions import add_exception
from qa_pipeline.officers.issues import load_latest_issues
from qa_pipeline.officers.worklists import (
    NO_TEAM,
    NOTHING_TO_FIX,
    RESOLVED,
    RESOLVED_COLUMNS,
    SUMMARY,
    WORKLIST_COLUMNS,
    write_workbook,
)
from qa_pipeline.ops.job import run_path
from tests.batch_builder import AS_OF, base, plant_defects, write_batch

INJECTIONS = {  # (extract, row, column) -> a value a spreadsheet would evaluate
    ("fit_referrals", 0, "outcome_achieved"): '=HYPERLINK("http://example.invalid","x")',
    ("cin_reviews", 0, "child_participated"): "@SUM(1+1)",
    ("conference_attendance", 0, "invited"): "+1",
    ("cp_plans", 0, "category"): "-2+3",
}


def _published(db_url: str, tmp_path: Path) -> Path:
    data = base()
    for (extract, row, column), value in INJECTIONS.items():
        data[extract][row][column] = value
    data["teams"][0]["team_name"] = "Tîm Plant Anabl, Ysbyty Gwynedd – Bangor [North]"
    run_path(write_batch(tmp_path / "landing", data), db_url)
    return tmp_path / "reports"


def test_workbook(db_url: str, tmp_path: Path) -> None:
    out = _published(db_url, tmp_path)
    engine = make_engine(db_url)
    # An accepted exception: its issue is not in the worklists.
    add_exception(engine, rule_id="cp_plans.category.unknown_code", extract="cp_plans",
                  record_id="P1", reason="Category agreed with the service manager", by="me")
    path = write_workbook(engine, out)
    assert path == out / f"qa_worklists_{AS_OF.isoformat()}.xlsx"

    wb = load_workbook(path)
    names = wb.sheetnames
    assert names[0] == SUMMARY and NO_TEAM in names and names[-1] == RESOLVED
    assert "T1 Tîm Plant Anabl, Ysbyty…" in names  # cut at a word, no [ ] in a sheet name
    assert not any(n.startswith("T2") for n in names)  # nothing to fix: no sheet
    for n in names:
        assert len(n) <= 31 and not set(n) & set("[]:*?/\\")

    rows: list[dict[str, object]] = []
    for n in names[1:-1]:
        ws = wb[n]
        header = [c.value for c in ws[2]]
        assert header == [h for h, _ in WORKLIST_COLUMNS]
        assert ws.freeze_panes == "A3"
        assert ws.auto_filter.ref and ws.auto_filter.ref.startswith("A2:")
        assert ws.column_dimensions["H"].width == 70  # Message
        for r in ws.iter_rows(min_row=3):
            rows.append({"sheet": n, **{h: c.value for h, c in zip(header, r, strict=True)}})
            for c in r:  # no formula anywhere
                assert c.data_type != "f"
    by_rule = {str(r["Rule"]): r for r in rows}
    assert "cp_plans.category.unknown_code" not in by_rule  # accepted
    for (extract, _, column), value in INJECTIONS.items():
        if extract == "cp_plans":
            continue
        hit = next(r for r in rows if r["Extract"] == extract and r["Column"] == column)
        assert hit["Value"] == value  # shown as delivered, as text
    cell = next(c for n in names[1:-1] for row in wb[n].iter_rows(min_row=3) for c in row
                if c.value == INJECTIONS[("fit_referrals", 0, "outcome_achieved")])
    assert cell.data_type == "s" and cell.quotePrefix
    fit = next(r for r in rows if r["Extract"] == "fit_referrals")
    assert fit["sheet"].startswith("T1") and fit["Record id"] == "FR1"
    assert fit["Age (days)"] == 0 and fit["Status"] == "new"
    assert fit["How to fix it in Paris"]

    summary = wb[SUMMARY]
    assert summary.freeze_panes is not None and summary.auto_filter.ref
    values = [[c.value for c in r] for r in summary.iter_rows()]
    info = {r[0]: r[1] for r in values[:7] if r[0]}
    assert info["Accepted exceptions (not listed)"] == 1  # a number, not "1"
    assert info["Open issues (records to fix)"] == len(rows)
    assert info["Dependent records (listed with their root cause)"] == 0
    assert info["Worklists of batch"] == datetime(AS_OF.year, AS_OF.month, AS_OF.day)
    assert info["Resolved (no previous batch)"] == 0 and wb[RESOLVED].max_row == 2
    top = next(n for n, r in enumerate(values) if r[0] == "Team id")
    assert summary.freeze_panes == f"A{top + 2}"
    teams = values[top + 1:]
    assert [r[2] for r in teams if r[3]] == names[1:-1]  # a row per sheet, no-team last
    assert sum(r[3] for r in teams) == len(rows)
    check_workbook(wb)


def check_workbook(wb: Any) -> None:
    """Sheet names valid and unique, every hyperlink lands on a sheet of the workbook (the
    summary's on the sheet of its row), every count on the summary a number."""
    names = wb.sheetnames
    assert len({n.lower() for n in names}) == len(names)
    for n in names:
        assert 0 < len(n) <= 31 and not set(n) & set("[]:*?/\\"), n
    links = 0
    for ws in wb:
        for row in ws.iter_rows():
            for c in row:
                if c.hyperlink is not None:
                    target = _target(c.hyperlink.location)
                    assert target in names, (ws.title, c.coordinate, c.hyperlink.location)
                    links += 1
        if ws.title != SUMMARY:
            assert _target(ws["A1"].hyperlink.location) == SUMMARY  # the way back
    summary = wb[SUMMARY]
    top = next(r for r in range(1, summary.max_row + 1) if summary.cell(r, 1).value == "Team id")
    for r in range(top + 1, summary.max_row + 1):
        counts = [summary.cell(r, c).value for c in range(4, 10)]
        assert all(type(v) is int for v in counts), counts
        sheet = summary.cell(r, 3)
        if counts[0]:
            assert _target(sheet.hyperlink.location) == sheet.value  # its own sheet
        else:  # nothing to fix: no sheet, no link
            assert sheet.value == NOTHING_TO_FIX and sheet.hyperlink is None
    assert links == (len(names) - 1) * 2  # there and back, for every sheet


def _target(location: str) -> str:
    """The sheet of an in-workbook reference such as 'T1 O''Brien'!A1."""
    sheet, cell = location.rsplit("!", 1)
    assert cell == "A1"
    if sheet.startswith("'"):
        assert sheet.endswith("'")
        sheet = sheet[1:-1]
        assert "'" not in sheet.replace("''", ""), location  # an apostrophe is doubled
        sheet = sheet.replace("''", "'")
    else:
        assert re.fullmatch(r"\w+", sheet), location  # only a plain name goes unquoted
    return sheet


# --- two consecutive nights: what was resolved -----------------------------------------

B1, B2 = date(2026, 11, 18), date(2026, 11, 19)
LONG = "Tîm Maes Gogledd Conwy a Sir Ddinbych – Dyffryn Clwyd"
APOSTROPHE = "Tîm O'Brien, Llŷn"
PLANTED = {  # defect -> (team, extract, record, rule, severity)
    "A": (None, "cin_reviews", "V1", "cin_reviews.child_participated.invalid_flag"),
    "B": ("0069", "fit_referrals", "FR1", "fit_referrals.tasks_outcomes_defined.invalid_flag"),
    "C": ("T3", "cp_conferences", "K1|000102", "cp_conferences.conference_date.weekend"),
    "D": (None, "cin_reviews", "V2", "cin_reviews.progress_recorded.invalid_flag"),
    "E": ("T1", "cp_plans", "P1", "cp_plans.category.unknown_code"),
}
NIGHTS = {B1: {"A", "B", "C", "E"}, B2: {"A", "C", "D"}}


def _night(root: Path, as_of: date) -> Path:
    defects = NIGHTS[as_of]
    data = base()
    data["teams"] += [
        {"team_id": "0069", "team_name": LONG, "service_area": "FIELDWORK"},
        {"team_id": "T3", "team_name": APOSTROPHE, "service_area": "FIELDWORK"},
    ]
    data["fit_referrals"][0]["team_id"] = "0069"
    data["cp_conferences"][0]["team_id"] = "T3"
    plant_defects(data, defects)
    return write_batch(root, data, as_of=as_of)


def _table(ws: Any, top: int = 2) -> list[dict[str, Any]]:
    header = [c.value for c in ws[top]]
    return [dict(zip(header, (c.value for c in r), strict=True))
            for r in ws.iter_rows(min_row=top + 1)]


def test_resolved_sheet_after_two_nights(db_url: str, tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    for night in (B1, B2):
        assert run_path(_night(landing, night), db_url).exit_code == 0
    engine = make_engine(db_url)
    path = write_workbook(engine, tmp_path / "out")
    assert path.name == f"qa_worklists_{B2.isoformat()}.xlsx"
    wb = load_workbook(path)
    check_workbook(wb)

    gone = NIGHTS[B1] - NIGHTS[B2]
    assert gone == {"B", "E"}
    resolved = _table(wb[RESOLVED])
    assert [h for h, _ in RESOLVED_COLUMNS] == [c.value for c in wb[RESOLVED][2]]
    assert sorted((r["Team id"] or None, r["Extract"], r["Record id"], r["Rule"])
                  for r in resolved) == sorted(PLANTED[d] for d in gone)  # type: ignore[type-var]
    for r in resolved:
        assert r["Severity"] in ("error", "warning")
        for col in ("First seen", "Last seen", "Resolved in"):  # real dates, not text
            assert isinstance(r[col], datetime), (col, r[col])
        assert (r["First seen"].date(), r["Last seen"].date(), r["Resolved in"].date()) == (
            B1, B1, B2)
    team = {r["Team id"]: r["Team"] for r in resolved}
    assert team["0069"] == LONG and team["T1"] == "Tîm Maes, Gogledd"

    summary = wb[SUMMARY]
    since = next(c for c in summary["A"] if str(c.value).startswith("Resolved since"))
    assert since.value == f"Resolved since {B1.isoformat()}"
    assert _target(since.hyperlink.location) == RESOLVED
    assert summary.cell(since.row, 2).value == len(gone)
    open_now = {PLANTED[d][0] for d in NIGHTS[B2]}  # teams with something to fix
    assert open_now == {None, "T3"}
    titles = wb.sheetnames
    assert titles == [SUMMARY, "T3 Tîm O'Brien, Llŷn", NO_TEAM, RESOLVED]
    top = next(c.row for c in summary["A"] if c.value == "Team id")
    rows = {r["Team id"]: r for r in _table(summary, top)}
    assert set(rows) == {"0069", "T1", "T2", "T3", None}  # every team, fixed or not
    assert rows["0069"]["Open"] == 0 and rows["0069"]["Sheet"] == NOTHING_TO_FIX
    assert rows["T3"]["Open"] == 1 and rows[None]["Open"] == 2
    assert {i.record_id for i in load_latest_issues(engine)} == {"V1", "V2", "K1|000102"}
    t3 = _table(wb["T3 Tîm O'Brien, Llŷn"])
    assert [(r["Record id"], r["Rule"]) for r in t3] == [PLANTED["C"][2:]]


def test_long_team_names_are_cut_at_a_word(db_url: str, tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    assert run_path(_night(landing, B1), db_url).exit_code == 0
    wb = load_workbook(write_workbook(make_engine(db_url), tmp_path / "out"))
    check_workbook(wb)
    title = next(n for n in wb.sheetnames if n.startswith("0069"))
    assert title == "0069 Tîm Maes Gogledd Conwy a…"
    shown = title.removesuffix("…").removeprefix("0069 ")
    assert LONG.startswith(shown) and LONG[len(shown)] == " "  # cut between two words
    assert wb[SUMMARY]["A6"].value == "Resolved (no previous batch)"


def test_resolved_sheet_of_a_run_of_nights(db_url: str, tmp_path: Path) -> None:
    """Two nights of one caseload (`generate-sample --nights 2 --defects`): the Resolved
    sheet lists exactly the planted defects of night 1 that night 2 no longer has."""
    import polars as pl

    from qa_pipeline.sample.nights import generate_nights

    first, second = generate_nights(tmp_path / "landing", nights=2, children=400, seed=11,
                                    as_of=date(2026, 11, 25), defects=True)
    for night in (first, second):
        assert run_path(night, db_url).exit_code == 0, night.name

    def planted(batch: Path) -> set[tuple[str, str, str]]:
        truth = pl.read_csv(batch.parent / f"{batch.name}.ground_truth.csv", infer_schema=False)
        return set(truth.select("extract", "record_id", "rule_id").iter_rows())

    gone = planted(first) - planted(second)
    assert gone and planted(second) - planted(first)  # some fixed, some new
    wb = load_workbook(write_workbook(make_engine(db_url), tmp_path / "out"))
    check_workbook(wb)
    listed = [(r["Extract"], r["Record id"], r["Rule"]) for r in _table(wb[RESOLVED])]
    assert sorted(listed) == sorted(gone)
