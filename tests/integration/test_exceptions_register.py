"""`qa-pipeline exceptions add|list|remove`: validation, soft delete, effect on the latest
batch's issues (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from qa_pipeline.cli.main import main
from qa_pipeline.load.db import make_engine
from qa_pipeline.officers.issues import filter_issues, load_latest_issues
from qa_pipeline.ops.job import run_path
from tests.batch_builder import AS_OF, base, write_batch

RULE = "cin_reviews.child_participated.invalid_flag"


@pytest.fixture
def published(db_url: str, tmp_path: Path) -> str:
    """A batch with one row-level issue (cin_reviews V1) and one missing file."""
    data = base()
    data["cin_reviews"][0]["child_participated"] = "MAYBE"
    del data["fit_referrals"]
    assert run_path(write_batch(tmp_path / "landing", data), db_url).exit_code == 3
    return db_url


def _add(db: str, *extra: str, rule: str = RULE, extract: str = "cin_reviews",
         record: str | None = "V1") -> int:
    args = ["exceptions", "add", "--rule", rule, "--extract", extract, "--reason",
            "Child is a baby: participation not applicable", "--by", "J. Officer",
            "--db", db, *extra]
    if record is not None:
        args += ["--record", record]
    return main(args)


def test_add_list_remove(published: str, capsys: pytest.CaptureFixture[str]) -> None:
    db = published
    engine = make_engine(db)
    assert [i.record_id for i in filter_issues(load_latest_issues(engine))
            if i.rule_id == RULE] == ["V1"]

    assert _add(db) == 0
    out = capsys.readouterr().out
    assert "exception 1 added" in out and "covers 1 issue" in out
    issues = load_latest_issues(engine)
    v1 = next(i for i in issues if i.rule_id == RULE)
    assert v1.exception_id == 1 and v1.accepted
    assert all(i.rule_id != RULE for i in filter_issues(issues))

    assert main(["exceptions", "list", "--db", db]) == 0
    out = capsys.readouterr().out
    assert RULE in out and "in force" in out and "J. Officer" in out

    assert main(["issues", "--db", db, "--format", "csv"]) == 0
    assert RULE not in capsys.readouterr().out
    assert main(["issues", "--db", db, "--format", "csv", "--include-accepted"]) == 0
    assert RULE in capsys.readouterr().out

    assert main(["exceptions", "remove", "1", "--by", "K. Lead", "--db", db]) == 0
    capsys.readouterr()
    assert main(["exceptions", "list", "--db", db]) == 0
    assert RULE not in capsys.readouterr().out
    assert main(["exceptions", "list", "--all", "--db", db]) == 0
    out = capsys.readouterr().out
    assert "removed" in out and "K. Lead" in out
    with engine.connect() as conn:  # soft delete: the history is kept
        row = conn.execute(sa.text("SELECT created_by, removed_by, removed_at "
                                   "FROM dq_exception")).one()
    assert row.created_by == "J. Officer" and row.removed_by == "K. Lead"
    assert row.removed_at is not None
    v1 = next(i for i in load_latest_issues(engine) if i.rule_id == RULE)
    assert v1.exception_id is None  # open again

    assert main(["exceptions", "remove", "1", "--by", "K. Lead", "--db", db]) == 2
    assert "already removed" in capsys.readouterr().err
    assert _add(db) == 0  # can be accepted again after removal


@pytest.mark.parametrize("kwargs, extra, message", [
    ({"rule": "cin_reviews.no_such_rule"}, [], "unknown rule id"),
    ({"extract": "referrals"}, [], "belongs to extract 'cin_reviews'"),
    ({"record": None}, [], "--record is required"),
    ({}, ["--expires", "2026-11-01"], "before the latest batch"),
], ids=["unknown-rule", "wrong-extract", "no-record", "expired"])
def test_add_refuses_bad_input(published: str, capsys: pytest.CaptureFixture[str],
                               kwargs: dict[str, str | None], extra: list[str],
                               message: str) -> None:
    assert _add(published, *extra, **kwargs) == 2  # type: ignore[arg-type]
    assert message in capsys.readouterr().err
    with make_engine(published).connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM dq_exception")).scalar_one() == 0


def test_usage_errors_exit_2(published: str, capsys: pytest.CaptureFixture[str]) -> None:
    for args in (["exceptions", "add", "--rule", RULE, "--db", published],
                 ["exceptions", "add", "--rule", RULE, "--extract", "cin_reviews",
                  "--record", "V1", "--reason", "r", "--by", "me", "--expires", "31/12/2026",
                  "--db", published],
                 ["exceptions", "remove", "x", "--by", "me", "--db", published],
                 ["exceptions", "remove", "1", "--db", published],
                 ["exceptions"]):
        with pytest.raises(SystemExit) as exc:
            main(args)
        assert exc.value.code == 2
    assert main(["exceptions", "remove", "42", "--by", "me", "--db", published]) == 2
    assert "no exception 42" in capsys.readouterr().err
    assert _add(published, "--reason", "   ") == 2  # a blank reason


def test_duplicate_refused(published: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert _add(published) == 0
    assert _add(published) == 2
    assert "already covers" in capsys.readouterr().err


def test_file_level_exception_and_expiry(published: str, tmp_path: Path) -> None:
    """A file-level rule: the bare extract name maps to the file name dq_issue uses; an
    exception expiring on the batch date covers it, the next batch does not."""
    engine = make_engine(published)
    assert _add(published, "--expires", AS_OF.isoformat(), rule="fit_referrals.file_missing",
                extract="fit_referrals", record=None) == 0
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT extract FROM dq_exception")).scalar_one() == \
            "fit_referrals.csv"
    missing = next(i for i in load_latest_issues(engine)
                   if i.rule_id == "fit_referrals.file_missing")
    assert missing.accepted

    data = base()
    del data["fit_referrals"]
    run_path(write_batch(tmp_path / "landing2", data, as_of=date(2026, 11, 26)), published)
    missing = next(i for i in load_latest_issues(engine)
                   if i.rule_id == "fit_referrals.file_missing")
    assert not missing.accepted and missing.status == "persisting"


def test_no_schema_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                    ) -> None:
    path = tmp_path / "new.db"
    db = f"sqlite:///{path}"
    assert main(["exceptions", "list", "--db", db]) == 2  # no file: nothing is created
    assert capsys.readouterr().err == f"qa-pipeline: error: no reporting database at {path}\n"
    assert not path.exists()
    path.touch()  # an empty SQLite file: a database without the schema
    assert main(["exceptions", "list", "--db", db]) == 1
    assert "db upgrade" in capsys.readouterr().err
    assert main(["issues", "--db", db]) == 1
    main(["db", "upgrade", "--db", db])
    capsys.readouterr()
    assert main(["issues", "--db", db]) == 1
    assert "no batch has been published" in capsys.readouterr().err
    assert _add(db) == 2
    assert "catalogue (dq_rule) is empty" in capsys.readouterr().err


def test_reason_quoting_an_nhs_number_is_stored_masked(published: str,
                                                       capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    db = published
    args = ["exceptions", "add", "--rule", RULE, "--extract", "cin_reviews", "--record", "V1",
            "--reason", "Checked with health: NHS 943-476-5919 is the baby", "--by",
            "J. Officer", "--db", db]
    assert main(args) == 0
    with make_engine(db).connect() as conn:
        reason = conn.execute(sa.text("SELECT reason FROM dq_exception")).scalar_one()
    assert reason == "Checked with health: NHS [NHS number removed] is the baby"
    assert main(["exceptions", "list", "--db", db]) == 0
    assert "943-476-5919" not in capsys.readouterr().out
