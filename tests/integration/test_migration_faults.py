"""Killed while creating or upgrading the schema: the upgrade is one transaction (SQLite too),
so the database is left empty or at its previous revision, and the next upgrade and run work.

Every statement an upgrade executes is a fault point `migrate:stmt:N` (`db.upgrade`), plus
`migrate:before_commit` after the last one (`migrations/env.py`). A first upgrade run with
QA_PIPELINE_FAILPOINT_TRACE lists the points with their statements (and is itself killed
before its commit); then a `qa-pipeline db upgrade` is SIGKILLed at each point in turn, on the
same database. After each kill the database must be exactly as before, and each next killed
upgrade must get past every statement the previous one ran (before the fix, SQLite failed
there with "table batch already exists"). A normal `qa-pipeline db upgrade` and
`qa-pipeline run` end each test.

How many kills: creating the schema on SQLite runs ~120 statements, ~80 of which write (DDL,
the alembic_version rows, the BEGIN; the rest are the reads of batch mode's reflection,
PRAGMA and SELECT, which change nothing: a kill before a read leaves what a kill before the
next write leaves). The SQLite test kills before every writing statement and before the
commit (~80 subprocesses, ~60 s). PostgreSQL runs ~270 statements (one COMMENT per documented
column), so there, and for the upgrade from an older revision, the tests kill at SAMPLE evenly
spaced writing statements (always the first and the last) and before the commit.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from qa_pipeline.load.db import alembic_config, current_revision, make_engine, upgrade
from qa_pipeline.ops.faults import FAILPOINT_ENV, TRACE_ENV
from tests.batch_builder import base, write_batch

SAMPLE = 16
PREVIOUS = "0002"  # an older revision with rows: the later ones add columns, replace views,
# rebuild a table and (SQLite batch mode) copy tables to change a column's type


def _head() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config(make_engine("sqlite://"))
                                       ).get_current_head()
    assert head is not None
    return head


def _cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "qa_pipeline.cli.main", *args],
                          env={**os.environ, **env}, capture_output=True, text=True,
                          timeout=180)


def _state(db_url: str) -> dict[str, Any]:
    """Schema (tables, columns, indexes, views), revision and every row: to compare states."""
    engine = make_engine(db_url)
    try:
        insp = sa.inspect(engine)
        tables = sorted(insp.get_table_names())
        state: dict[str, Any] = {
            "revision": current_revision(engine) if "alembic_version" in tables else None,
            "views": sorted(insp.get_view_names()),
            "columns": {key[1]: [(c["name"], str(c["type"]), c["nullable"]) for c in cols]
                        for key, cols in insp.get_multi_columns().items()},
            "indexes": {key[1]: sorted((i["name"], tuple(i["column_names"]), bool(i["unique"]))
                                       for i in ixs)
                        for key, ixs in insp.get_multi_indexes().items()},
        }
        with engine.connect() as conn:
            state["rows"] = {t: sorted(map(repr, conn.execute(sa.text(f'SELECT * FROM "{t}"'))))
                             for t in tables}
        return state
    finally:
        engine.dispose()


READS = ("PRAGMA", "SELECT")


def _trace(path: Path) -> list[tuple[str, str]]:
    """(point, note) of each line of a failpoint trace."""
    return [(name, note) for name, _, note in
            (line.partition("\t") for line in path.read_text(encoding="utf-8").splitlines())]


def _migration_points(db_url: str, trace: Path) -> list[str]:
    """The fault points of an upgrade of this database before a statement that writes, from a
    traced upgrade that is killed just before its commit (so the database is left as it was);
    the last is `migrate:before_commit`."""
    proc = _cli("db", "upgrade", "--db", db_url,
                **{TRACE_ENV: str(trace), FAILPOINT_ENV: "migrate:before_commit"})
    assert proc.returncode == -9, proc.stderr
    points = _trace(trace)
    n = len(points) - 1
    assert [p for p, _ in points] == [f"migrate:stmt:{i}" for i in range(1, n + 1)] + [
        "migrate:before_commit"]
    assert all(note for _, note in points[:-1])  # each statement's first words
    return [p for p, note in points if not note.upper().startswith(READS)]


def _sample(points: list[str], limit: int) -> list[str]:
    if len(points) <= limit:
        return points
    picked = {round(i * (len(points) - 1) / (limit - 1)) for i in range(limit)}
    return [points[i] for i in sorted(picked)]


def _kill_at_each(db_url: str, points: list[str], before: dict[str, Any], tmp_path: Path
                  ) -> None:
    for n, point in enumerate(points):
        trace = tmp_path / f"trace-{n}"
        proc = _cli("db", "upgrade", "--db", db_url,
                    **{TRACE_ENV: str(trace), FAILPOINT_ENV: point})
        assert proc.returncode == -9, f"{point}: {proc.stderr}"  # killed, not a clean exit
        # it died exactly there, having run every statement before it (from the first: the
        # killed upgrades before it left nothing behind)
        k = int(point.rpartition(":")[2])
        assert [p for p, _ in _trace(trace)] == [f"migrate:stmt:{i}" for i in range(1, k + 1)]
        assert _state(db_url) == before, f"killed at {point}: the database changed"


def _upgrade_and_run(db_url: str, tmp_path: Path) -> None:
    proc = _cli("db", "upgrade", "--db", db_url)
    assert proc.returncode == 0, proc.stderr
    assert f"schema revision: {_head()}" in proc.stdout
    batch_dir = write_batch(tmp_path / "landing", base())
    proc = _cli("run", str(batch_dir), "--db", db_url)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT COUNT(*) FROM stg_teams")).scalar_one() == 2
            assert conn.execute(sa.text(
                "SELECT status FROM pipeline_run WHERE published")).scalars().all() == [
                "succeeded"]
    finally:
        engine.dispose()


def test_killed_at_each_statement_creating_the_schema(db_url: str, tmp_path: Path) -> None:
    """SIGKILL at each statement of the first upgrade: the database stays empty (no table,
    not even alembic_version); then `db upgrade` and `run` succeed."""
    before = _state(db_url)
    assert before["columns"] == {} and before["views"] == []
    points = _migration_points(db_url, tmp_path / "trace")
    assert len(points) > 60  # every table, index and view of the revisions
    assert _state(db_url) == before  # the traced upgrade, killed before its commit
    on_sqlite = db_url.startswith("sqlite")
    _kill_at_each(db_url, points[:-1] if on_sqlite else _sample(points[:-1], SAMPLE),
                  before, tmp_path)
    _upgrade_and_run(db_url, tmp_path)


def test_first_run_killed_creating_the_schema_runs_next_time(db_url: str, tmp_path: Path
                                                              ) -> None:
    """The reported case: the first `qa-pipeline run` is killed half way through creating the
    schema; the next run works (it failed for good on SQLite with "table batch already
    exists")."""
    points = _migration_points(db_url, tmp_path / "trace")
    batch_dir = write_batch(tmp_path / "landing", base())
    for point in (points[len(points) // 2], points[-2]):
        proc = _cli("run", str(batch_dir), "--db", db_url, **{FAILPOINT_ENV: point})
        assert proc.returncode == -9, proc.stderr
        assert _state(db_url)["columns"] == {}
    proc = _cli("run", str(batch_dir), "--db", db_url)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    engine = make_engine(db_url)
    try:
        assert current_revision(engine) == _head()
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT COUNT(*) FROM stg_teams")).scalar_one() == 2
    finally:
        engine.dispose()


def _fill_previous_revision(db_url: str) -> None:
    """The schema at PREVIOUS with a published batch, a run, an issue, an indicator value
    and a drill-through case."""
    engine = make_engine(db_url)
    try:
        upgrade(engine, PREVIOUS)
        md = sa.MetaData()
        tables = {t: sa.Table(t, md, autoload_with=engine)
                  for t in ("batch", "pipeline_run", "dq_issue", "indicator_value",
                            "indicator_case")}
        old = date(2026, 11, 1)
        with engine.begin() as conn:
            conn.execute(tables["batch"].insert().values(
                as_of=old, run_id="r-old", published_at=datetime(2026, 11, 2, 3, 0),
                content_sha256="0" * 64, batch_path="/landing/2026-11-01"))
            conn.execute(tables["pipeline_run"].insert().values(
                run_id="r-old", as_of=old, started_at=datetime(2026, 11, 2, 2, 0),
                finished_at=datetime(2026, 11, 2, 3, 0), status="succeeded", exit_code=0,
                code_version="old"))
            conn.execute(tables["dq_issue"].insert().values(
                as_of=old, run_id="r-old", extract="referrals", record_id="R1",
                rule_id="referrals.decision_date.required", severity="error",
                message="the decision date is missing", source_row=1))
            conn.execute(tables["indicator_value"].insert().values(
                as_of=old, indicator_code="QA1", period_type="month", period_label="2026-10",
                period_start=date(2026, 10, 1), period_end=date(2026, 10, 31),
                breakdown="team", breakdown_value="T1", numerator=1, denominator=2,
                value=50.0))
            conn.execute(tables["indicator_case"].insert().values(
                as_of=old, indicator_code="QA1", period_type="month", period_label="2026-10",
                period_start=date(2026, 10, 1), period_end=date(2026, 10, 31),
                record_id="R1"))
    finally:
        engine.dispose()


def test_killed_upgrading_from_a_previous_revision(db_url: str, tmp_path: Path) -> None:
    """SIGKILL during an upgrade of a database in use (revision 0002 with rows): it stays at
    0002 with every row; then `db upgrade` and `run` succeed and keep the old rows."""
    _fill_previous_revision(db_url)
    before = _state(db_url)
    assert before["revision"] == PREVIOUS and before["rows"]["indicator_case"]
    points = _migration_points(db_url, tmp_path / "trace")
    assert _state(db_url) == before
    _kill_at_each(db_url, _sample(points[:-1], SAMPLE), before, tmp_path)
    _upgrade_and_run(db_url, tmp_path)
    after = _state(db_url)
    assert after["revision"] == _head()
    assert [r for r in after["rows"]["pipeline_run"] if "r-old" in r]
    assert len(after["rows"]["batch"]) == 2  # the old batch and the new one
    assert [r for r in after["rows"]["dq_issue"] if "r-old" in r]
    assert [r for r in after["rows"]["indicator_value"] if "QA1" in r]


@pytest.mark.parametrize("points, limit, expected", [
    (list("abcdef"), 16, list("abcdef")),
    ([str(i) for i in range(100)], 5, ["0", "25", "50", "74", "99"]),
])
def test_sample_keeps_first_and_last(points: list[str], limit: int, expected: list[str]
                                     ) -> None:
    assert _sample(points, limit) == expected
