"""Issue lifecycle over three consecutive batches (SQLite and PostgreSQL): `dq_issue_latest`
(first_seen, status new/persisting, age_days, exception_id) and `dq_issue_resolved`, and an
accepted exception that expires.

    defect                                      batch 1    batch 2      batch 3
    A cin_reviews V1 child_participated=MAYBE   new        persisting   persisting
    B fit_referrals FR1 tasks_outcomes=MAYBE    new        resolved     -
    C cp_conferences K1 held on a Saturday      new        resolved     new again
    D cin_reviews V2 progress_recorded=MAYBE    -          new          resolved
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import sqlalchemy as sa

from qa_pipeline.load.db import as_date, make_engine
from qa_pipeline.officers.exceptions import add_exception
from qa_pipeline.officers.issues import filter_issues, load_latest_issues
from qa_pipeline.officers.report import counts_by_rule, counts_by_team, gather
from qa_pipeline.ops.job import run_path
from tests.batch_builder import base, plant_defects, write_batch

B1, B2, B3 = date(2026, 11, 2), date(2026, 11, 9), date(2026, 11, 16)
A = ("V1", "cin_reviews.child_participated.invalid_flag")
B = ("FR1", "fit_referrals.tasks_outcomes_defined.invalid_flag")
C = ("K1|000102", "cp_conferences.conference_date.weekend")
D = ("V2", "cin_reviews.progress_recorded.invalid_flag")


def _batch(root: Path, as_of: date, defects: set[str]) -> Path:
    data = base()
    plant_defects(data, defects)
    return write_batch(root, data, as_of=as_of)


def _latest(engine: sa.Engine) -> dict[tuple[str, str], dict[str, object]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT record_id, rule_id, first_seen, status, age_days, exception_id, as_of "
            "FROM dq_issue_latest")).mappings().all()
    return {(r["record_id"], r["rule_id"]): dict(r) for r in rows}


def _resolved(engine: sa.Engine) -> dict[tuple[str, str], dict[str, object]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT record_id, rule_id, first_seen, last_seen, resolved_in "
            "FROM dq_issue_resolved")).mappings().all()
    return {(r["record_id"], r["rule_id"]): dict(r) for r in rows}


def _check(issue: dict[str, object], first_seen: date, status: str, age: int) -> None:
    assert as_date(issue["first_seen"]) == first_seen
    assert issue["status"] == status
    assert int(issue["age_days"]) == age  # type: ignore[call-overload]


def test_lifecycle_over_three_batches(db_url: str, tmp_path: Path) -> None:
    engine = make_engine(db_url)
    landing = tmp_path / "landing"

    assert run_path(_batch(landing, B1, {"A", "B", "C"}), db_url).exit_code == 0
    latest = _latest(engine)
    assert set(latest) == {A, B, C}
    for key in (A, B, C):
        _check(latest[key], B1, "new", 0)
    assert _resolved(engine) == {}
    # Accept A until batch 2 (inclusive): it must come back in batch 3.
    exc = add_exception(engine, rule_id=A[1], extract="cin_reviews", record_id=A[0],
                        reason="Child too young to take part", by="officer", expires_on=B2)

    assert run_path(_batch(landing, B2, {"A", "D"}), db_url).exit_code == 0
    latest = _latest(engine)
    assert set(latest) == {A, D}
    _check(latest[A], B1, "persisting", 7)
    _check(latest[D], B2, "new", 0)
    assert latest[A]["exception_id"] == exc.exception_id
    assert latest[D]["exception_id"] is None
    resolved = _resolved(engine)
    assert set(resolved) == {B, C}
    for key in (B, C):
        assert as_date(resolved[key]["last_seen"]) == B1
        assert as_date(resolved[key]["resolved_in"]) == B2
    # The accepted issue stays in dq_issue but is not open: not in worklists or counts.
    issues = load_latest_issues(engine)
    assert {(i.record_id, i.rule_id) for i in filter_issues(issues)} == {D}
    assert {(i.record_id, i.rule_id) for i in filter_issues(issues, include_accepted=True)
            } == {A, D}
    by_rule = {r["rule_id"]: r for r in counts_by_rule(gather(engine))}
    assert by_rule[A[1]]["open"] == 0 and by_rule[A[1]]["accepted"] == 1
    assert by_rule[B[1]]["resolved"] == 1 and by_rule[C[1]]["resolved"] == 1
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM dq_issue WHERE rule_id = :r"),
                            {"r": A[1]}).scalar_one() == 2

    assert run_path(_batch(landing, B3, {"A", "C"}), db_url).exit_code == 0
    latest = _latest(engine)
    assert set(latest) == {A, C}
    _check(latest[A], B1, "persisting", 14)
    _check(latest[C], B3, "new", 0)  # absent from batch 2 and back: new again
    assert latest[A]["exception_id"] is None  # expired: 2026-11-09 < 2026-11-16
    resolved = _resolved(engine)
    assert set(resolved) == {D}
    assert as_date(resolved[D]["first_seen"]) == B2
    assert as_date(resolved[D]["resolved_in"]) == B3
    data = gather(engine)
    assert {(i.record_id, i.rule_id) for i in data.open_issues} == {A, C}
    by_rule = {r["rule_id"]: r for r in counts_by_rule(data)}
    assert (by_rule[A[1]]["open"], by_rule[A[1]]["persisting"]) == (1, 1)
    assert (by_rule[C[1]]["open"], by_rule[C[1]]["new"]) == (1, 1)
    assert by_rule[D[1]]["resolved"] == 1 and by_rule[D[1]]["open"] == 0
    totals = {k: sum(r[k] for r in counts_by_team(data)) for k in ("open", "new", "resolved")}
    assert totals == {"open": 2, "new": 1, "resolved": 1}
    # The chart's history agrees with the latest batch and honours the expiry date: the
    # exception (in the register now, expiring after batch 2) covers A in batches 1 and 2.
    history = dict(data.history)
    assert [sum(history[d].values()) for d in (B1, B2, B3)] == [2, 1, 2]


def test_rerun_of_latest_batch_keeps_lifecycle(db_url: str, tmp_path: Path) -> None:
    """Re-running the newest batch replaces its rows: first_seen and status are unchanged."""
    engine = make_engine(db_url)
    landing = tmp_path / "landing"
    run_path(_batch(landing, B1, {"A"}), db_url)
    folder = _batch(landing, B2, {"A"})
    run_path(folder, db_url)
    before = _latest(engine)
    run_path(folder, db_url)
    after = _latest(engine)
    assert set(after) == {A}
    _check(after[A], B1, "persisting", 7)
    assert {k: (v["status"], v["age_days"]) for k, v in before.items()} == \
        {k: (v["status"], v["age_days"]) for k, v in after.items()}
