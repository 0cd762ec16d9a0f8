"""The whole path into a real database — the same tests on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from qa_pipeline.load.db import make_engine, metadata, upgrade
from qa_pipeline.ops.job import run_path
from qa_pipeline.spec.contracts import load_contracts
from tests.batch_builder import AS_OF, base, write_batch

CONTRACTS = load_contracts()


def _count(engine: sa.Engine, sql: str, **params: object) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text(sql), params).scalar_one())


def _snapshot(engine: sa.Engine) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every published table (ordered), to compare database states."""
    out: dict[str, list[tuple[object, ...]]] = {}
    insp = sa.inspect(engine)
    names = [t for t in insp.get_table_names() if t != "alembic_version"]
    with engine.connect() as conn:
        for t in sorted(names):
            table = metadata.tables[t]
            # surrogate ids and the run that wrote a row are not content
            cols = [c for c in table.c if c.name not in ("issue_id", "case_id", "run_id")
                    or t in ("pipeline_run", "pipeline_run_extract")]
            rows = conn.execute(sa.select(*cols)).all()
            out[t] = sorted((tuple(r) for r in rows), key=repr)
    return out


def test_schema_matches_metadata(db_url: str) -> None:
    """The Alembic migrations build exactly the schema the code declares (no drift)."""
    engine = make_engine(db_url)
    upgrade(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []
    views = sa.inspect(engine).get_view_names()
    assert "dq_issue_latest" in views


def test_sql_types_follow_contract(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine)
    cols = {c["name"]: c["type"] for c in sa.inspect(engine).get_columns("stg_referrals")}
    assert isinstance(cols["decision_date"], sa.Date)
    assert isinstance(cols["referral_datetime"], sa.DateTime)
    assert isinstance(cols["referral_id"], sa.String)
    assert isinstance(
        {c["name"]: c["type"] for c in sa.inspect(engine).get_columns("stg_cin_plans")}[
            "outcomes_recorded"], sa.Integer)


def test_run_publishes_batch(db_url: str, tmp_path: Path) -> None:
    data = base()
    data["referrals"][0]["referral_id"] = "000123"  # leading zeros survive
    data["assessments"][0]["referral_id"] = "000123"
    data["referrals"][1]["referral_source"] = "TELEPATHY"  # one quarantined row
    batch_dir = write_batch(tmp_path / "landing", data)
    result = run_path(batch_dir, db_url)
    [b] = result.batches
    assert b.outcome is not None and b.outcome.status == "succeeded"
    assert result.exit_code == 0
    engine = make_engine(db_url)
    for name, rows in data.items():
        # Only R2 is quarantined: the strategy discussion that hangs off it is a dependent
        # row, loaded (and what hangs off that is an ordinary row).
        expected = len(rows) - (1 if name == "referrals" else 0)
        assert _count(engine, f"SELECT COUNT(*) FROM stg_{name}") == expected, name
    with engine.connect() as conn:
        ids = conn.execute(sa.text("SELECT referral_id, referral_datetime FROM stg_referrals")
                           ).all()
        assert [r[0] for r in ids] == ["000123"]
        # 01/04/2024 10:00 UK summer time is 09:00 UTC
        assert str(ids[0][1]).startswith("2024-04-01 09:00")
        issue = conn.execute(sa.text(
            "SELECT extract, record_id, rule_id, severity, value, column_name FROM dq_issue "
            "WHERE rule_id = 'referrals.referral_source.unknown_code'")).one()
        assert tuple(issue) == ("referrals", "R2", "referrals.referral_source.unknown_code",
                                "error", "TELEPATHY", "referral_source")
        dependent = conn.execute(sa.text(
            "SELECT extract, record_id, severity, root_rule_id, root_record_id FROM dq_issue "
            "WHERE rule_id LIKE '%reference_quarantined'")).all()
        assert [tuple(r) for r in dependent] == [
            ("strategy_discussions", "S1", "warning", "referrals.referral_source.unknown_code",
             "R2")]
        run = conn.execute(sa.text("SELECT status, finished_at, rows_read FROM pipeline_run")
                           ).one()
        assert run[0] == "succeeded" and run[1] is not None
        assert run[2] == sum(len(r) for r in data.values())
        per_extract = conn.execute(sa.text(
            "SELECT extract, rows_read, rows_loaded, rows_quarantined FROM pipeline_run_extract "
            "WHERE extract = 'referrals'")).one()
        assert tuple(per_extract) == ("referrals", 2, 1, 1)
    assert _count(engine, "SELECT COUNT(*) FROM dq_rule") == len(CONTRACTS.rules)
    assert _count(engine, "SELECT COUNT(*) FROM dq_issue_latest WHERE status = 'new'") == \
        _count(engine, "SELECT COUNT(*) FROM dq_issue")


def test_rerun_replaces_never_duplicates(db_url: str, tmp_path: Path) -> None:
    data = base()
    data["persons"][0]["ethnicity"] = ""  # one warning
    batch_dir = write_batch(tmp_path / "landing", data)
    run_path(batch_dir, db_url)
    engine = make_engine(db_url)
    first = _snapshot(engine)
    run_path(batch_dir, db_url)
    second = _snapshot(engine)
    for table in first:
        if table in ("pipeline_run", "pipeline_run_extract", "batch", "indicator_run"):
            continue  # these name the run, so they differ by design
        assert first[table] == second[table], table
    assert _count(engine, "SELECT COUNT(*) FROM dq_issue") == 1
    assert _count(engine, "SELECT COUNT(*) FROM pipeline_run") == 2
    assert _count(engine, "SELECT COUNT(*) FROM batch") == 1


def test_landing_folder_runs_unprocessed_batches_in_order(db_url: str, tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    for d in (AS_OF - timedelta(days=1), AS_OF):
        write_batch(landing, base(), as_of=d)
    (landing / "not-a-batch").mkdir()
    first = run_path(landing, db_url)
    assert [b.as_of for b in first.batches] == [(AS_OF - timedelta(days=1)).isoformat(),
                                                AS_OF.isoformat()]
    assert not any(b.skipped for b in first.batches)
    again = run_path(landing, db_url)
    assert all(b.skipped for b in again.batches)
    # a changed delivery of a published date is reprocessed
    changed = base()
    changed["teams"][0]["team_name"] = "Renamed"
    write_batch(landing, changed, as_of=AS_OF)
    third = run_path(landing, db_url)
    assert [b.skipped for b in third.batches] == [True, False]


def test_issue_lifecycle_first_seen(db_url: str, tmp_path: Path) -> None:
    """dq_issue_latest: first_seen is the start of the unbroken run of batches with the issue."""
    landing = tmp_path / "landing"
    days = [date(2026, 11, 23), date(2026, 11, 24), date(2026, 11, 25)]
    for i, d in enumerate(days):
        data = base()
        data["teams"][1]["service_area"] = "ZZZ" if i in (0, 2) else "FRONT_DOOR"  # gap
        data["persons"][0]["ethnicity"] = ""                     # all three batches
        if i == 2:
            data["persons"][1]["ethnicity"] = ""                 # new in the last batch
        write_batch(landing, data, as_of=d)
    run_path(landing, db_url)
    engine = make_engine(db_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT record_id, rule_id, first_seen, status, as_of FROM dq_issue_latest "
            "WHERE extract IN ('teams', 'persons') ORDER BY rule_id, record_id")).all()
    got = {(r[0], r[1]): (str(r[2]), r[3], str(r[4])) for r in rows}
    assert got[("000101", "persons.ethnicity.missing_for_child")] == (
        "2026-11-23", "persisting", "2026-11-25")
    assert got[("000102", "persons.ethnicity.missing_for_child")] == (
        "2026-11-25", "new", "2026-11-25")
    assert got[("T2", "teams.service_area.unknown_code")] == ("2026-11-25", "new", "2026-11-25")


def test_missing_file_exit_3_and_older_values_intact(db_url: str, tmp_path: Path) -> None:
    data = base()
    del data["cin_reviews"]
    result = run_path(write_batch(tmp_path / "landing", data), db_url)
    assert result.exit_code == 3
    engine = make_engine(db_url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT status FROM pipeline_run")).scalar_one() == \
            "succeeded_with_issues"
        rows = conn.execute(sa.text(
            "SELECT extract, rule_id, severity FROM dq_issue WHERE rule_id LIKE '%file_missing'"
        )).all()
    assert [tuple(r) for r in rows] == [("cin_reviews.csv", "cin_reviews.file_missing",
                                         "file_error")]


FAILPOINTS = (
    ["stage:after:persons", "stage:after:cin_reviews", "publish:begin"]
    + [f"publish:after:{e.name}" for e in CONTRACTS.ordered()]
    + ["publish:after:dq_issue", "publish:after:indicators", "publish:before_commit"]
)


@pytest.mark.parametrize("night", ["redelivery", "next_night"])
@pytest.mark.parametrize("point", FAILPOINTS)
def test_killed_mid_load_leaves_previous_state(db_url: str, tmp_path: Path,
                                               point: str, night: str) -> None:
    """SIGKILL inside the publish transaction, of a changed redelivery of the batch or of the
    next night: the database (the record history, the drill-through and the issue episodes
    included) holds exactly the previous published state, and the next run succeeds."""
    landing = tmp_path / "landing"
    first = write_batch(landing, base(), as_of=AS_OF - timedelta(days=1))
    run_path(first, db_url)
    engine = make_engine(db_url)
    before = _snapshot(engine)
    changed = base()
    changed["teams"][0]["team_name"] = "Changed"
    changed["referrals"][0]["referral_source"] = "ZZZ"
    day = AS_OF - timedelta(days=1) if night == "redelivery" else AS_OF
    batch_dir = write_batch(tmp_path / "landing2", changed, as_of=day)
    env = {**os.environ, "QA_PIPELINE_FAILPOINT": point}
    proc = subprocess.run(
        [sys.executable, "-m", "qa_pipeline.cli.main", "run", str(batch_dir), "--db", db_url],
        env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == -9, proc.stderr  # killed, not a clean exit
    after = _snapshot(engine)
    # The run's own row ('failed', never finished) is the only trace of the killed run.
    runs_after = after.pop("pipeline_run")
    before_runs = before.pop("pipeline_run")
    assert after == before
    assert len(runs_after) == len(before_runs) + 1
    engine.dispose()
    again = run_path(batch_dir, db_url)
    assert again.exit_code == 0
    engine = make_engine(db_url)
    assert _count(engine, "SELECT COUNT(*) FROM stg_teams WHERE team_name = 'Changed'") == 1
    assert _count(engine, "SELECT COUNT(*) FROM pipeline_run WHERE status = 'failed' "
                          "AND finished_at IS NULL") == 1


def test_case_tables_keep_versions_not_copies(db_url: str, tmp_path: Path) -> None:
    """Full nightly snapshots would grow without bound: three identical nights leave one
    version of each record (opened on the first night, still current), while issues,
    indicators and the run history keep every batch."""
    from qa_pipeline.ops.settings import Settings

    landing = tmp_path / "landing"
    days = [AS_OF - timedelta(days=n) for n in (2, 1, 0)]
    for d in days:
        data = base()
        data["persons"][0]["ethnicity"] = ""  # one warning per batch
        write_batch(landing, data, as_of=d)
    run_path(landing, db_url, settings=Settings(aftercare=False))
    engine = make_engine(db_url)
    with engine.connect() as conn:
        versions = conn.execute(sa.text(
            "SELECT MIN(valid_from), COUNT(*), COUNT(valid_to) FROM persons_history")).one()
        staged = conn.execute(sa.text("SELECT DISTINCT as_of FROM stg_persons")).scalars().all()
        issue_days = conn.execute(sa.text("SELECT COUNT(DISTINCT as_of) FROM dq_issue")
                                  ).scalar_one()
        value_days = conn.execute(sa.text("SELECT COUNT(DISTINCT as_of) FROM indicator_value")
                                  ).scalar_one()
    assert (str(versions[0]), versions[1], versions[2]) == (
        days[0].isoformat(), len(base()["persons"]), 0)
    assert [str(d) for d in staged] == [days[-1].isoformat()]  # the latest batch
    assert issue_days == 3 and value_days == 3


def test_large_loads_into_empty_tables_build_indexes_after(
        db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A first load or full rebuild drops a table's indexes and builds them after the rows
    (issue 6); a table holding other batches keeps them. A failure in between rolls the drop
    back, and the rebuilt unique index still refuses a duplicate key."""
    from qa_pipeline.load import publish

    monkeypatch.setattr(publish, "REBUILD_INDEXES_MIN_ROWS", 1)  # the test batch is small
    dropped: list[str] = []
    real_drop = sa.Index.drop

    def spy_drop(self: sa.Index, bind: sa.Connection, checkfirst: bool = False) -> None:
        dropped.append(str(self.name))
        real_drop(self, bind, checkfirst=checkfirst)

    monkeypatch.setattr(sa.Index, "drop", spy_drop)
    landing = tmp_path / "landing"
    first = write_batch(landing, base(), as_of=AS_OF - timedelta(days=1))
    engine = make_engine(db_url)
    upgrade(engine)

    # Killed between the drop and the rebuild (an exception in the middle of the load):
    real_insert = publish._insert

    def failing_insert(conn: sa.Connection, table: sa.Table, frame: object) -> None:
        if table.name == "persons_history":
            raise RuntimeError("load failed")
        real_insert(conn, table, frame)  # type: ignore[arg-type]

    monkeypatch.setattr(publish, "_insert", failing_insert)
    assert run_path(first, db_url).exit_code == 1  # a fault: the run failed, nothing published
    assert "ux_persons_history_record" in dropped
    assert _count(engine, "SELECT COUNT(*) FROM teams_history") == 0
    with engine.connect() as conn:  # the drop was rolled back with the rest
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    monkeypatch.setattr(publish, "_insert", real_insert)

    dropped.clear()
    assert run_path(first, db_url).exit_code == 0
    assert {"ux_persons_history_record", "ux_referrals_history_record"} <= set(dropped)
    dropped.clear()
    assert run_path(write_batch(landing, base(), as_of=AS_OF), db_url).exit_code == 0
    assert not [n for n in dropped if "_history_" in n]  # versions of another batch present
    cases = _count(engine, "SELECT COUNT(*) FROM indicator_case")
    assert cases > 0
    drill_through = _snapshot(engine)["indicator_case"]

    # A failure after the drill-through was emptied (TRUNCATE on PostgreSQL) keeps the old one.
    def failing_prune(*args: object) -> None:
        raise RuntimeError("publish failed late")

    later = write_batch(landing, base(), as_of=AS_OF + timedelta(days=1))
    monkeypatch.setattr(publish, "ensure_dim_date", failing_prune)
    assert run_path(later, db_url).exit_code == 1
    assert _snapshot(engine)["indicator_case"] == drill_through

    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    person = base()["persons"][0]["person_id"]
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO persons_history (version_id, record_id, occurrence, valid_from, "
            "record_hash, person_id) VALUES (999999, :r, 1, :d, 'x', :p)"),
            {"d": AS_OF - timedelta(days=1), "r": person, "p": person})
    assert _count(engine, "SELECT COUNT(*) FROM persons_history") == len(base()["persons"])
