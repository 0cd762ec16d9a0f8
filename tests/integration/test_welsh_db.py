"""The Welsh in the reporting database (reporting-db.md 1.1, "Welsh and English"), on SQLite
and PostgreSQL: every issue's message, every rule's description and guidance and every
indicator's title and description in Welsh; a database upgraded from before the Welsh
(revision 0009) reads its old issues in English; `qa-pipeline issues` prints the configured
language while its headings stay English."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import openpyxl
import pytest
import sqlalchemy as sa

from qa_pipeline.cli.main import main
from qa_pipeline.i18n import Lang
from qa_pipeline.load.db import make_engine
from qa_pipeline.officers.issues import load_latest_issues
from qa_pipeline.officers.worklists import write_workbook
from qa_pipeline.ops.job import run_path
from qa_pipeline.sample.generate import generate_batch

AS_OF = date(2026, 11, 25)


def _batch(root: Path) -> Path:
    """The sample batch with defects, one unknown file and one undeclared column (file-level
    findings whose particulars are translated too)."""
    batch = generate_batch(root / "landing", children=120, seed=7, as_of=AS_OF, defects=True)
    (batch / "notes.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    # bytes, not a CSV reader: the defects include bytes that are not UTF-8
    lines = (batch / "teams.csv").read_bytes().rstrip(b"\r\n").split(b"\n")
    eol = b"\r" if lines[0].endswith(b"\r") else b""
    lines = [ln.rstrip(b"\r") + (b",extra_col" if i == 0 else b",x") + eol
             for i, ln in enumerate(lines)]
    (batch / "teams.csv").write_bytes(b"\n".join(lines) + b"\n")
    return batch


@pytest.fixture
def published_db(db_url: str, tmp_path: Path) -> str:
    _batch(tmp_path)
    assert run_path(tmp_path / "landing", db_url).exit_code in (0, 1)
    return db_url


def _scalar(engine: sa.Engine, sql: str) -> object:
    with engine.connect() as conn:
        return conn.execute(sa.text(sql)).scalar()


def test_every_text_of_the_database_has_its_welsh(published_db: str) -> None:
    engine = make_engine(published_db)
    assert _scalar(engine, "SELECT COUNT(DISTINCT rule_id) FROM dq_issue") >= 8
    assert _scalar(engine, "SELECT COUNT(*) FROM dq_issue WHERE message_cy IS NULL "
                           "OR message_cy = '' OR message_cy = message") == 0
    assert _scalar(engine, "SELECT COUNT(*) FROM dq_rule WHERE description_cy IS NULL "
                           "OR guidance_cy IS NULL OR description_cy = description "
                           "OR guidance_cy = guidance") == 0
    assert _scalar(engine, "SELECT COUNT(*) FROM indicator WHERE title_cy IS NULL "
                           "OR description_cy IS NULL OR numerator_definition_cy IS NULL "
                           "OR denominator_definition_cy IS NULL OR title_cy = title") == 0
    with engine.connect() as conn:
        files = dict(conn.execute(sa.text(
            "SELECT rule_id, message_cy FROM dq_issue WHERE rule_id IN "
            "('batch.unknown_file', 'teams.unknown_column')")).all())
        latest = conn.execute(sa.text(
            "SELECT COUNT(*), COUNT(message_cy), COUNT(guidance_cy) FROM dq_issue_latest")).one()
    # the particulars of a file-level finding in Welsh too ("column extra_col")
    assert files["teams.unknown_column"].endswith("(colofn extra_col)")
    assert "column" not in files["teams.unknown_column"]
    assert files["batch.unknown_file"]
    # the view BI reads carries the Welsh of each issue and of its rule's guidance
    assert latest[0] == latest[1] == latest[2] > 0
    engine.dispose()


def test_an_upgraded_database_reads_its_old_issues_in_english(published_db: str,
                                                              tmp_path: Path) -> None:
    """Down to 0009 and up again: the issues lose their Welsh (as if published before it);
    the listing and the Welsh worklists show the English message rather than nothing."""
    from alembic import command

    from qa_pipeline.load.db import alembic_config, current_revision, upgrade

    engine = make_engine(published_db)
    command.downgrade(alembic_config(engine), "0009")
    assert "message_cy" not in {c["name"] for c in sa.inspect(engine).get_columns("dq_issue")}
    upgrade(engine)
    assert current_revision(engine) == "0010"
    assert _scalar(engine, "SELECT COUNT(message_cy) FROM dq_issue") == 0
    issues = load_latest_issues(engine)
    assert issues and all(i.message_cy is None for i in issues)
    cy = Lang("cy")
    assert [cy.pair(i.message, i.message_cy) for i in issues] == [i.message for i in issues]

    book = openpyxl.load_workbook(write_workbook(engine, tmp_path / "out", lang=cy))
    header_row = 2
    messages = []
    for ws in book.worksheets:
        headers = [c.value for c in ws[header_row]]
        if "Neges" in headers:
            col = headers.index("Neges") + 1
            messages += [ws.cell(row=r, column=col).value
                         for r in range(header_row + 1, ws.max_row + 1)]
    assert messages and all(m for m in messages)
    assert set(messages) <= {i.message for i in issues}
    engine.dispose()


def _issues_csv(capsys: pytest.CaptureFixture[str], *argv: str) -> list[dict[str, str]]:
    assert main(["issues", "--format", "csv", *argv]) == 0
    return list(csv.DictReader(io.StringIO(capsys.readouterr().out)))


def test_the_issues_listing_prints_the_configured_language(
        published_db: str, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    engine = make_engine(published_db)
    with engine.connect() as conn:
        welsh = dict(conn.execute(sa.text(
            "SELECT issue_id, message_cy FROM dq_issue_latest")).all())
        english = dict(conn.execute(sa.text(
            "SELECT issue_id, message FROM dq_issue_latest")).all())
    engine.dispose()

    en = _issues_csv(capsys, "--db", published_db, "--all")
    assert en and {r["message"] for r in en} <= set(english.values())
    cy = _issues_csv(capsys, "--db", published_db, "--all", "--language", "cy")
    assert list(cy[0]) == list(en[0])  # the headings stay English
    assert {r["message"] for r in cy} <= set(welsh.values())
    assert not {r["message"] for r in cy} & set(english.values())
    assert all(r["guidance"] for r in cy)

    monkeypatch.setenv("QA_PIPELINE_LANGUAGE", "cy+en")
    both = _issues_csv(capsys, "--db", published_db, "--all")
    assert all(" / " in r["message"] for r in both)
    first = both[0]["message"]
    assert first.split(" / ")[0] in welsh.values()

    # the table for the terminal: English headings, Welsh messages
    assert main(["issues", "--db", published_db, "--language", "cy"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("team")
    assert "record(s) to fix in batch" in out
    assert any(w[:40] in out for w in welsh.values())
