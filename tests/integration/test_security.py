"""Security: identifying values go nowhere, passwords are masked, BI reads only the
published views."""

from __future__ import annotations

import logging
import re
import zipfile
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from qa_pipeline.cli.main import main
from qa_pipeline.load.db import make_engine, metadata
from tests.batch_builder import base, write_batch
from tests.pg_server import PostgresServer

PLANTED_NAME = "Zyxplantedsurname"
PLANTED_NHS = "943 476 5919"


def _all_text(engine: sa.Engine) -> str:
    """Every value of every table, as one text to search."""
    parts = []
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            for row in conn.execute(sa.select(table)):
                parts.append("|".join(str(v) for v in row))
    return "\n".join(parts)


@pytest.mark.aftercare
def test_planted_identifying_values_appear_nowhere(tmp_path: Path,
                                                   caplog: pytest.LogCaptureFixture,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    data = base()
    for r in data["persons"]:
        r["Surname"] = PLANTED_NAME
    data["referrals"][1]["referral_id"] = PLANTED_NHS
    folder = write_batch(tmp_path / "landing", data)
    db = f"sqlite:///{tmp_path / 'qa.db'}"
    with caplog.at_level(logging.DEBUG):
        assert main(["-v", "run", str(folder), "--db", db, "--work-dir",
                     str(tmp_path / "work")]) == 3
    out = capsys.readouterr()
    everything = "\n".join([out.out, out.err, caplog.text, _all_text(make_engine(db))])
    outputs = [f for d in ("work", "reports") for f in (tmp_path / d).rglob("*") if f.is_file()]
    assert any(f.suffix == ".html" for f in outputs) and any(f.suffix == ".xlsx" for f in outputs)
    for f in outputs:  # the report, the worklists, the Data Docs, anything left behind
        if f.suffix == ".xlsx":
            with zipfile.ZipFile(f) as book:
                everything += "".join(book.read(n).decode("utf-8", "replace")
                                      for n in book.namelist())
        else:
            everything += f.read_bytes().decode("utf-8", "replace")
    assert "persons.identifying_column" in everything  # the rejection itself is reported
    assert "referrals.nhs_number" in everything
    for needle in (PLANTED_NAME, PLANTED_NHS, PLANTED_NHS.replace(" ", "")):
        assert needle not in everything


@pytest.mark.postgres
def test_password_never_shown(postgres_server: PostgresServer, pg_url: str, tmp_path: Path,
                              caplog: pytest.LogCaptureFixture,
                              capsys: pytest.CaptureFixture[str]) -> None:
    secret = "Pa55-word-never-shown"
    url = pg_url.replace("postgresql+psycopg://qa@", f"postgresql+psycopg://qa:{secret}@")
    folder = write_batch(tmp_path / "landing", base())
    with caplog.at_level(logging.DEBUG):
        assert main(["-v", "run", str(folder), "--db", url]) == 0  # trust auth: accepted
        postgres_server.stop()
        try:
            assert main(["-v", "run", str(folder), "--db", url]) == 1  # server gone
        finally:
            postgres_server.start()
    out = capsys.readouterr()
    assert "***" in out.out  # the URL is printed, masked
    assert secret not in out.out + out.err + caplog.text
    assert secret not in _all_text(make_engine(pg_url))


@pytest.mark.postgres
def test_reporting_role_reads_published_views_only(postgres_server: PostgresServer,
                                                   tmp_path: Path) -> None:
    sql = (Path(__file__).resolve().parents[2] / "deploy" / "postgres_roles.sql").read_text()
    statements = [s.strip() for s in re.sub(r"--[^\n]*", "", sql).split(";") if s.strip()]
    with postgres_server.admin_connection() as admin:
        for stmt in statements:
            admin.execute(stmt)  # type: ignore[arg-type]
    try:
        loader_url = postgres_server.url("qa_reporting", user="qa_loader")
        folder = write_batch(tmp_path / "landing", base())
        assert main(["run", str(folder), "--db", loader_url]) == 0
        assert main(["db", "grant-reporting", "--role", "qa_reporting", "--db",
                     loader_url]) == 0
        conninfo = postgres_server.conninfo("qa_reporting", user="qa_reporting")
        with psycopg.connect(conninfo, autocommit=True) as reader:
            n = reader.execute("SELECT COUNT(*) FROM reporting.indicator_value_latest"
                               ).fetchone()
            assert n is not None and n[0] > 0
            reader.execute("SELECT COUNT(*) FROM reporting.dq_rule")
            for forbidden in ("SELECT * FROM public.dq_issue",
                              "SELECT * FROM public.stg_persons",
                              "SELECT * FROM public.persons_history",
                              "DELETE FROM reporting.dq_rule",
                              "CREATE TABLE public.x (a int)",
                              "CREATE TABLE reporting.x (a int)"):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    reader.execute(forbidden)  # type: ignore[arg-type]
            with pytest.raises(psycopg.errors.UndefinedTable):  # case rows: not granted
                reader.execute("SELECT * FROM reporting.referrals_history")
        # granted on request: the drill-through joins the record version it came from
        assert main(["db", "grant-reporting", "--role", "qa_reporting", "--case-history",
                     "--db", loader_url]) == 0
        with psycopg.connect(conninfo, autocommit=True) as reader:
            joined = reader.execute(
                "SELECT COUNT(*), COUNT(h.version_id) FROM reporting.indicator_case_latest c "
                "LEFT JOIN reporting.referrals_history h ON h.version_id = c.version_id "
                "WHERE c.extract = 'referrals'").fetchone()
            assert joined is not None and joined[0] > 0 and joined[0] == joined[1]
        assert main(["db", "grant-reporting", "--role", "qa_reporting", "--db",
                     loader_url]) == 0  # and taken back by a grant without it
        with psycopg.connect(conninfo, autocommit=True) as reader, \
                pytest.raises(psycopg.errors.UndefinedTable):
            reader.execute("SELECT * FROM reporting.referrals_current")
    finally:
        with postgres_server.admin_connection() as admin:
            admin.execute("DROP DATABASE IF EXISTS qa_reporting WITH (FORCE)")
            admin.execute("DROP ROLE IF EXISTS qa_reporting")
            admin.execute("DROP ROLE IF EXISTS qa_loader")
