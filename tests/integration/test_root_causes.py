"""Root causes, not cascades, as the data officers read them (SQLite and PostgreSQL): the
dependent rows' warnings in the database, `qa-pipeline issues` (root causes by default,
everything with --all), the worklists (one line per record to fix, its dependent records in
a column), the report (listed beneath), and the drill-through's excluded cases.

The batch: the base batch with three faults.
- A: child 000101's sex is X. Five rows refer to the child (relationship RL1, referral R1,
  FIT referral FR1, assessment A1, CIN plan N1): each loaded, each a dependent row. (The CIN
  review V1 names the child too, but refers to its plan, which is loaded: an ordinary row.)
- B: CP plan P1's category is BOGUS (team T1); nothing depends on it.
- C: a referral R3 (child 000102) whose source is TELEPATHY, and its INITIAL assessment A3,
  a dependent row kept out of ASM01-ASM03.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from qa_pipeline.cli.main import main
from qa_pipeline.load.db import make_engine
from qa_pipeline.officers.episodes import load_time_to_fix
from qa_pipeline.officers.exceptions import add_exception
from qa_pipeline.officers.report import build_report, counts_by_rule, counts_by_team, gather
from qa_pipeline.officers.worklists import WORKLIST_COLUMNS, write_workbook
from qa_pipeline.ops.job import run_path
from tests.batch_builder import base, write_batch

A = ("persons.sex.unknown_code", "000101")
B = ("cp_plans.category.unknown_code", "P1")
C = ("referrals.referral_source.unknown_code", "R3")
A_DEPENDENTS = {("relationships", "RL1"), ("referrals", "R1"), ("fit_referrals", "FR1"),
                ("assessments", "A1"), ("cin_plans", "N1")}


def _faults(with_a: bool = True) -> dict[str, list[dict[str, str]]]:
    """The base batch with faults B and C, and A unless it was put right."""
    data = base()
    if with_a:
        data["persons"][0]["sex"] = "X"
    data["cp_plans"][0]["category"] = "BOGUS"
    data["referrals"].append(dict(data["referrals"][1], referral_id="R3",
                                  referral_source="TELEPATHY"))
    data["assessments"].append(dict(data["assessments"][0], assessment_id="A3",
                                    referral_id="R3", child_id="000102",
                                    start_date="03/06/2024", completed_date="10/06/2024",
                                    authorised_date=""))
    return data


@pytest.fixture
def db(db_url: str, tmp_path: Path) -> str:
    result = run_path(write_batch(tmp_path / "landing", _faults()), db_url)
    assert result.exit_code == 0
    return db_url


def test_dependent_rows_in_the_database(db: str) -> None:
    engine = make_engine(db)
    with engine.connect() as conn:
        errors = conn.execute(sa.text(
            "SELECT rule_id, record_id FROM dq_issue_latest WHERE severity = 'error' "
            "ORDER BY rule_id")).all()
        deps = conn.execute(sa.text(
            "SELECT extract, record_id, severity, root_rule_id, root_record_id "
            "FROM dq_issue_latest WHERE root_rule_id IS NOT NULL")).all()
        loaded = {t: conn.execute(sa.text(f"SELECT COUNT(*) FROM stg_{t}")).scalar()
                  for t in ("referrals", "assessments", "relationships", "cin_reviews")}
        cases = conn.execute(sa.text(
            "SELECT record_id, outcome, excluded_reason FROM indicator_case_latest "
            "WHERE indicator_code = 'ASM01' AND period_type = 'year' ORDER BY record_id")).all()
        value = conn.execute(sa.text(
            "SELECT numerator, denominator FROM indicator_value_latest WHERE indicator_code = "
            "'ASM01' AND period_type = 'year' AND breakdown = 'all'")).one()
    assert [tuple(r) for r in errors] == sorted([B, C, A])
    assert {(r[0], r[1]) for r in deps} == A_DEPENDENTS | {("assessments", "A3")}
    assert {r[2] for r in deps} == {"warning"}
    assert {(r[0], r[1]): (r[3], r[4]) for r in deps}[("assessments", "A3")] == C
    assert {(r[3], r[4]) for r in deps if r[1] != "A3"} == {A}
    # Loaded: only 000101, P1 and R3 are quarantined.
    assert loaded == {"referrals": 2, "assessments": 2, "relationships": 2, "cin_reviews": 1}
    # A1 counts (7 working days), A3 is listed as excluded, with why.
    assert [tuple(r) for r in cases] == [
        ("A1", "counted", None),
        ("A3", "excluded", "referral_id R3 was quarantined "
                           "(referrals.referral_source.unknown_code)")]
    assert tuple(value) == (1, 1)


def _csv(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, str]]:
    assert main(["issues", "--format", "csv", *args]) == 0
    return list(csv.DictReader(io.StringIO(capsys.readouterr().out)))


def test_issues_lists_root_causes_by_default_and_everything_with_all(
        db: str, capsys: pytest.CaptureFixture[str]) -> None:
    rows = _csv(capsys, "--db", db)
    assert {(r["rule_id"], r["record_id"]): r["dependents"] for r in rows} == {
        A: "5", B: "0", C: "1"}
    every = _csv(capsys, "--db", db, "--all")
    assert len(every) == 9
    assert {(r["extract"], r["record_id"]) for r in every if r["root_rule_id"]} == \
        A_DEPENDENTS | {("assessments", "A3")}
    assert "dependents" not in every[0]
    # A team's root causes: P1 is T1's; A (a person: no team) is not listed under T1.
    assert [(r["rule_id"], r["record_id"]) for r in _csv(capsys, "--db", db, "--team", "T1")
            ] == [B]
    assert main(["issues", "--db", db]) == 0
    out = capsys.readouterr().out
    assert ("3 record(s) to fix in batch 2026-11-25 (3 new, 0 persisting); 6 dependent "
            "record(s) counted under their root cause") in out


def test_worklists_and_report_list_one_line_per_record_to_fix(db: str, tmp_path: Path) -> None:
    engine = make_engine(db)
    wb = load_workbook(write_workbook(engine, tmp_path / "out"))
    header = [h for h, _ in WORKLIST_COLUMNS]
    count_col = header.index("Dependent records")
    list_col = header.index("Dependent records (extract: record ids)")
    lines = {}
    for ws in wb.worksheets[1:]:
        if ws.title == "Resolved":
            continue
        for row in ws.iter_rows(min_row=3, values_only=True):
            lines[(row[header.index("Rule")], row[header.index("Record id")])] = (
                row[count_col], row[list_col])
    assert set(lines) == {A, B, C}
    assert lines[C] == (1, "assessments: A3")
    count, listed = lines[A]
    assert count == 5 and isinstance(count, int)
    named = {(part.split(": ")[0], rid) for part in listed.split("; ")
             for rid in part.split(": ")[1].split(", ")}
    assert named == A_DEPENDENTS
    summary = {r[0]: r[1] for r in wb["Summary"].iter_rows(max_col=2, values_only=True)
               if r[0]}
    assert summary["Open issues (records to fix)"] == 3
    assert summary["Dependent records (listed with their root cause)"] == 6

    html = build_report(engine, tmp_path / "out").read_text(encoding="utf-8")
    assert "000101<br><span class=\"muted\">5 dependent records: " in html
    assert "R3<br><span class=\"muted\">1 dependent record: assessments A3</span>" in html
    assert "3 open issues (0 new)" not in html and "3 open issues (3 new)" in html


def test_fixing_the_root_cause_clears_its_dependents(db: str, tmp_path: Path) -> None:
    """The next night child 000101 is put right: its five dependent records' warnings go
    with it. The counts count one resolved record to fix; the Resolved sheet lists all six."""
    run_path(write_batch(tmp_path / "landing2", _faults(with_a=False),
                         as_of=date(2026, 11, 26)), db)
    engine = make_engine(db)
    report = gather(engine)
    assert {(rc.issue.rule_id, rc.issue.record_id): len(rc.dependents)
            for rc in report.root_causes} == {B: 0, C: 1}
    by_rule = {r["rule_id"]: r for r in counts_by_rule(report)}
    assert by_rule["persons.sex.unknown_code"]["resolved"] == 1
    assert not any(r["resolved"] for k, r in by_rule.items()
                   if k.endswith(".reference_quarantined"))
    assert sum(r["resolved"] for r in counts_by_team(report)) == 1
    assert sum(r["open"] for r in counts_by_team(report)) == 2
    wb = load_workbook(write_workbook(engine, tmp_path / "out"))
    resolved = [r for r in wb["Resolved"].iter_rows(min_row=3, values_only=True) if r[0]
                or r[2]]
    assert len(resolved) == 6
    # Time to fix counts records to fix: A fixed in 1 day (no team: a person); B (T1) and C
    # (T2) still open; the dependents' warnings (RL1, R1, FR1, A1, N1 fixed; A3 open) not.
    assert [(t.team_id, t.resolved, t.median_days, t.still_open)
            for t in load_time_to_fix(engine)] == [("T1", 0, None, 1), ("T2", 0, None, 1),
                                                   (None, 1, 1.0, 0)]


def test_an_accepted_root_cause_takes_its_dependents_with_it(
        db: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Child 000101's sex is accepted as correct practice: its five dependent records are not
    listed as records to fix of their own; with --include-accepted they are back under it."""
    engine = make_engine(db)
    add_exception(engine, rule_id=A[0], extract="persons", record_id=A[1],
                  reason="recorded as the child describes", by="officer")
    rows = _csv(capsys, "--db", db)
    assert {(r["rule_id"], r["record_id"]): r["dependents"] for r in rows} == {B: "0", C: "1"}
    rows = _csv(capsys, "--db", db, "--include-accepted")
    assert {(r["rule_id"], r["record_id"]): r["dependents"] for r in rows} == {
        A: "5", B: "0", C: "1"}
    report = gather(engine)
    assert sum(r["open"] for r in counts_by_team(report)) == 2
    assert sum(r["accepted"] for r in counts_by_team(report)) == 1
