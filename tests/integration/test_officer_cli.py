"""`qa-pipeline issues` and `qa-pipeline report` (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import pytest

from qa_pipeline.cli.main import main
from qa_pipeline.ops.job import run_path
from tests.batch_builder import base, write_batch

PERSISTING = "cin_reviews.child_participated.invalid_flag"   # V1, in both batches
NEW = "fit_referrals.outcome_achieved.invalid_flag"           # FR1, in the second only
FORMULA = "=1+1"


@pytest.fixture
def db(db_url: str, tmp_path: Path) -> str:
    for n, as_of in enumerate((date(2026, 11, 24), date(2026, 11, 25))):
        data = base()
        data["cin_reviews"][0]["child_participated"] = "MAYBE"
        if n == 1:
            data["fit_referrals"][0]["outcome_achieved"] = FORMULA
        run_path(write_batch(tmp_path / "landing", data, as_of=as_of), db_url)
    return db_url


def _csv(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, str]]:
    assert main(["issues", "--format", "csv", *args]) == 0
    return list(csv.DictReader(io.StringIO(capsys.readouterr().out)))


def test_issues_table(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["issues", "--db", db]) == 0
    out = capsys.readouterr().out
    assert PERSISTING in out and NEW in out
    assert "2 record(s) to fix in batch 2026-11-25 (1 new, 1 persisting)" in out


def test_issues_filters_and_csv(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    rows = _csv(capsys, "--db", db)
    assert {r["rule_id"] for r in rows} == {PERSISTING, NEW}
    assert list(rows[0])[:4] == ["team_id", "extract", "record_id", "child_id"]
    new = next(r for r in rows if r["rule_id"] == NEW)
    assert new["value"] == "'" + FORMULA  # neutralised for spreadsheets
    assert new["status"] == "new" and new["first_seen"] == "2026-11-25"
    old = next(r for r in rows if r["rule_id"] == PERSISTING)
    assert old["status"] == "persisting" and old["age_days"] == "1"
    assert old["guidance"]

    assert [r["rule_id"] for r in _csv(capsys, "--db", db, "--status", "new")] == [NEW]
    assert [r["rule_id"] for r in _csv(capsys, "--db", db, "--status", "persisting")] == \
        [PERSISTING]
    assert [r["rule_id"] for r in _csv(capsys, "--db", db, "--rule", PERSISTING)] == \
        [PERSISTING]
    team = new["team_id"]
    assert team
    assert {r["rule_id"] for r in _csv(capsys, "--db", db, "--team", team)} >= {NEW}
    no_team = _csv(capsys, "--db", db, "--team", "none")
    assert all(r["team_id"] == "" for r in no_team)

    assert main(["issues", "--db", db, "--rule", "no.such.rule"]) == 2
    assert "unknown rule id" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["issues", "--db", db, "--status", "fixed"])
    assert exc.value.code == 2


def test_report_command(db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["report", "--db", db, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    report = out / "qa_report_2026-11-25.html"
    workbook = out / "qa_worklists_2026-11-25.xlsx"
    assert report.exists() and workbook.exists()
    assert str(report) in printed and str(workbook) in printed
    text = report.read_text(encoding="utf-8")
    assert PERSISTING in text and "were not run for this report" in text


def test_an_unknown_team_is_a_usage_error_naming_the_known_ones(
        db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = base()  # team T1 becomes 0069: an id with leading zeros, as Paris gives them
    data = {e: [{k: "0069" if v == "T1" else v for k, v in row.items()} for row in rows]
            for e, rows in data.items()}
    data["fit_referrals"][0]["outcome_achieved"] = "MAYBE"  # an issue of team 0069's
    run_path(write_batch(tmp_path / "landing", data, as_of=date(2026, 11, 25)), db_url)
    assert {r["team_id"] for r in _csv(capsys, "--db", db_url)} == {"0069"}
    for wrong in ("9999", "69", "0069 ", "T1"):
        assert main(["issues", "--db", db_url, "--team", wrong]) == 2, wrong
        captured = capsys.readouterr()
        assert captured.out == ""
        assert f"unknown team {wrong!r}" in captured.err
        assert "0069, T2" in captured.err  # the known teams, named
    assert [r["team_id"] for r in _csv(capsys, "--db", db_url, "--team", "0069")] == ["0069"]
    assert _csv(capsys, "--db", db_url, "--team", "T2") == []  # known, and no issues


@pytest.fixture
def nights(db_url: str, tmp_path: Path) -> str:
    """Four batches: PERSISTING (V1) in the first three, gone from the fourth; NEW (FR1) in
    the first, gone from the second, back in the third and fourth."""
    for as_of, v1, fr1 in ((date(2026, 11, 22), True, True), (date(2026, 11, 23), True, False),
                           (date(2026, 11, 24), True, True), (date(2026, 11, 25), False, True)):
        data = base()
        if v1:
            data["cin_reviews"][0]["child_participated"] = "MAYBE"
        if fr1:
            data["fit_referrals"][0]["outcome_achieved"] = FORMULA
        run_path(write_batch(tmp_path / "landing", data, as_of=as_of), db_url)
    return db_url


def _resolved(capsys: pytest.CaptureFixture[str], *args: str) -> list[tuple[str, ...]]:
    return [(r["resolved_in"], r["rule_id"], r["first_seen"], r["last_seen"])
            for r in _csv(capsys, "--status", "resolved", *args)]


def test_resolved_issues_of_the_latest_batch_and_since_a_date(
        nights: str, capsys: pytest.CaptureFixture[str]) -> None:
    import sqlalchemy as sa

    from qa_pipeline.load.db import make_engine

    v1 = ("2026-11-25", PERSISTING, "2026-11-22", "2026-11-24")
    fr1 = ("2026-11-23", NEW, "2026-11-22", "2026-11-22")
    # without --since: the latest batch against the one before, exactly the view
    assert _resolved(capsys, "--db", nights) == [v1]
    with make_engine(nights).connect() as conn:
        view = conn.execute(sa.text("SELECT resolved_in, rule_id, first_seen, last_seen "
                                    "FROM dq_issue_resolved")).all()
    assert [tuple(str(v) for v in r) for r in view] == [v1]
    # --since: every published batch on or after the date, each against the one before
    assert _resolved(capsys, "--db", nights, "--since", "2026-11-22") == [v1, fr1]
    assert _resolved(capsys, "--db", nights, "--since", "2026-11-23") == [v1, fr1]
    assert _resolved(capsys, "--db", nights, "--since", "2026-11-24") == [v1]
    assert _resolved(capsys, "--db", nights, "--since", "2026-11-26") == []
    assert _resolved(capsys, "--db", nights, "--since", "2026-11-01", "--rule", NEW) == [fr1]
    rows = _csv(capsys, "--db", nights, "--status", "resolved", "--since", "2026-11-01")
    assert list(rows[0]) == ["resolved_in", "team_id", "extract", "record_id", "child_id",
                             "rule_id", "severity", "first_seen", "last_seen", "column_name",
                             "value", "message"]
    fr1_row = next(r for r in rows if r["rule_id"] == NEW)
    assert fr1_row["value"] == "'" + FORMULA  # neutralised for spreadsheets
    team = fr1_row["team_id"]
    assert team and team != next(r for r in rows if r["rule_id"] == PERSISTING)["team_id"]
    assert _resolved(capsys, "--db", nights, "--since", "2026-11-01", "--team", team) == [fr1]
    assert main(["issues", "--db", nights, "--status", "resolved", "--team", "T9"]) == 2
    assert "unknown team 'T9'" in capsys.readouterr().err

    assert main(["issues", "--db", nights, "--status", "resolved", "--since",
                 "2026-11-23"]) == 0
    out = capsys.readouterr().out
    assert PERSISTING in out and NEW in out
    assert ("2 issue(s) resolved in the batches from 2026-11-23 to 2026-11-25, each against "
            "the batch before") in out
    assert main(["issues", "--db", nights, "--status", "resolved"]) == 0
    assert "1 issue(s) resolved in batch 2026-11-25 (gone since the previous batch)" in \
        capsys.readouterr().out


@pytest.mark.parametrize("args, says", [
    (["--since", "2026-11-23"], "--since DATE limits the resolved issues"),
    (["--status", "new", "--since", "2026-11-23"], "use it with --status resolved"),
    (["--status", "resolved", "--include-accepted"], "--include-accepted is for open issues"),
])
def test_options_that_do_not_go_together_are_a_usage_error(
        db: str, args: list[str], says: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["issues", "--db", db, *args]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and says in captured.err


def test_since_must_be_a_date(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["issues", "--db", db, "--status", "resolved", "--since", "25/11/2026"])
    assert exc.value.code == 2
