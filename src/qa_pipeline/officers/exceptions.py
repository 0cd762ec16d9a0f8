"""The register of accepted exceptions (`dq_exception`).

An accepted exception says that a record's failure of a rule is correct practice (the father
is genuinely unknown, the conference really was held on a Saturday...). The issue stays in
`dq_issue` night after night — the history is never rewritten — but `dq_issue_latest` shows
it with `exception_id` set, and the worklists, the report's open-issue counts and
`qa-pipeline issues` leave it out. An exception with `expires_on` applies up to and including
that batch date; from the first later batch the issue is open again. Removing an exception
is a soft delete (`removed_at`, `removed_by`): the register keeps who accepted what and when.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa

from qa_pipeline.ingest.findings import TEXT_BOUNDS
from qa_pipeline.load.db import as_date, batch, dq_exception, dq_issue, dq_rule
from qa_pipeline.officers.issues import require_schema
from qa_pipeline.privacy.redaction import redact


class ExceptionError(ValueError):
    """Input the register refuses (unknown rule, bad extract, missing reason...)."""


@dataclass(frozen=True)
class AcceptedException:
    exception_id: int
    rule_id: str
    extract: str
    record_id: str | None
    reason: str
    created_by: str
    created_at: datetime
    expires_on: date | None
    removed_at: datetime | None
    removed_by: str | None

    def in_force(self, on: date) -> bool:
        """Whether it applies to the batch of date `on`."""
        return self.removed_at is None and (self.expires_on is None or self.expires_on >= on)

    def state(self, on: date) -> str:
        """`in force`, `expired` or `removed`, for the batch of date `on`."""
        if self.removed_at is not None:
            return "removed"
        return "in force" if self.in_force(on) else "expired"


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def _clean(text: str | None, what: str, max_len: int | None = None) -> str:
    t = (text or "").strip()
    if not t:
        raise ExceptionError(f"{what} must not be empty")
    if max_len is not None and len(t) > max_len:
        raise ExceptionError(f"{what} is longer than {max_len} characters")
    return t


def _row(r: Any) -> AcceptedException:
    return AcceptedException(
        exception_id=int(r.exception_id), rule_id=r.rule_id, extract=r.extract,
        record_id=r.record_id, reason=r.reason, created_by=r.created_by,
        created_at=r.created_at, expires_on=None if r.expires_on is None
        else as_date(r.expires_on),
        removed_at=r.removed_at, removed_by=r.removed_by,
    )


def _resolve_extract(conn: sa.Connection, rule: Any, extract: str) -> str:
    """The `dq_issue.extract` value the exception must carry for this rule.

    Row-level rules: the extract name itself. File-level rules: dq_issue names the file as
    delivered (`teams.csv`, `TEAMS.CSV`); the bare extract name is accepted and mapped to the
    file name of the newest issue of that rule (else `<extract>.csv`).
    """
    if rule.level != "file":
        if extract != rule.extract:
            raise ExceptionError(
                f"rule {rule.rule_id} belongs to extract {rule.extract!r}, not {extract!r}")
        return extract
    if rule.extract == "batch":  # batch.unknown_file: the extract is the stray file's name
        return extract
    stem = extract.lower().removesuffix(".csv")
    if stem != rule.extract:
        raise ExceptionError(
            f"rule {rule.rule_id} is about the file {rule.extract}.csv, not {extract!r}")
    if extract.lower().endswith(".csv"):
        return extract
    seen = conn.execute(
        sa.select(dq_issue.c.extract).where(dq_issue.c.rule_id == rule.rule_id)
        .order_by(dq_issue.c.as_of.desc()).limit(1)).scalar()
    return str(seen) if seen else f"{rule.extract}.csv"


def add_exception(engine: sa.Engine, *, rule_id: str, extract: str, record_id: str | None,
                  reason: str, by: str, expires_on: date | None = None) -> AcceptedException:
    """Record an accepted exception; raises ExceptionError on input it cannot accept."""
    require_schema(engine, "dq_exception", "dq_rule")
    rule_id = _clean(rule_id, "the rule id")
    extract = _clean(extract, "the extract", TEXT_BOUNDS["extract"])
    reason = redact(_clean(reason, "the reason"))  # an officer's words may quote a value
    by = _clean(by, "--by (who accepts it)", 128)
    record_id = (record_id or "").strip() or None
    with engine.begin() as conn:
        rule = conn.execute(sa.select(dq_rule).where(dq_rule.c.rule_id == rule_id)).first()
        if rule is None:
            if conn.execute(sa.select(sa.func.count()).select_from(dq_rule)).scalar_one() == 0:
                raise ExceptionError(
                    f"unknown rule id {rule_id!r}: the rule catalogue (dq_rule) is empty; "
                    "publish a batch first")
            near = conn.execute(
                sa.select(dq_rule.c.rule_id).where(dq_rule.c.rule_id.like(f"{extract}.%"))
                .order_by(dq_rule.c.rule_id).limit(5)).scalars().all()
            hint = f" (rules of {extract}: {', '.join(near)}, ...)" if near else ""
            raise ExceptionError(f"unknown rule id {rule_id!r}: see docs/rules.md{hint}")
        stored_extract = _resolve_extract(conn, rule, extract)
        if record_id is None and rule.level != "file":
            raise ExceptionError(f"rule {rule_id} is a row-level rule: --record is required")
        newest = conn.execute(sa.select(sa.func.max(batch.c.as_of))).scalar()
        if expires_on is not None and newest is not None and expires_on < as_date(newest):
            raise ExceptionError(
                f"--expires {expires_on} is before the latest batch ({as_date(newest)}): "
                "the exception would never apply")
        same = conn.execute(
            sa.select(dq_exception.c.exception_id).where(
                dq_exception.c.rule_id == rule_id, dq_exception.c.extract == stored_extract,
                sa.func.coalesce(dq_exception.c.record_id, "") == (record_id or ""),
                dq_exception.c.removed_at.is_(None))).scalar()
        if same is not None:
            raise ExceptionError(
                f"exception {same} already covers this record and rule; remove it first "
                "to change it")
        new_id = conn.execute(
            dq_exception.insert().values(
                rule_id=rule_id, extract=stored_extract, record_id=record_id, reason=reason,
                created_by=by, created_at=_now(), expires_on=expires_on,
            ).returning(dq_exception.c.exception_id)
        ).scalar_one()
        row = conn.execute(
            sa.select(dq_exception).where(dq_exception.c.exception_id == new_id)).one()
    return _row(row)


def list_exceptions(engine: sa.Engine, *, include_removed: bool = False
                    ) -> list[AcceptedException]:
    """The exceptions not removed (with --all: the whole history), oldest first."""
    require_schema(engine, "dq_exception")
    q = sa.select(dq_exception).order_by(dq_exception.c.exception_id)
    if not include_removed:
        q = q.where(dq_exception.c.removed_at.is_(None))
    with engine.connect() as conn:
        return [_row(r) for r in conn.execute(q)]


def remove_exception(engine: sa.Engine, exception_id: int, *, by: str) -> AcceptedException:
    """Withdraw an exception (soft delete): the issue is open again from the next report."""
    require_schema(engine, "dq_exception")
    by = _clean(by, "--by (who removes it)", 128)
    with engine.begin() as conn:
        row = conn.execute(sa.select(dq_exception).where(
            dq_exception.c.exception_id == exception_id)).first()
        if row is None:
            raise ExceptionError(f"no exception {exception_id}")
        if row.removed_at is not None:
            raise ExceptionError(
                f"exception {exception_id} was already removed by {row.removed_by} "
                f"on {row.removed_at:%Y-%m-%d}")
        conn.execute(dq_exception.update()
                     .where(dq_exception.c.exception_id == exception_id)
                     .values(removed_at=_now(), removed_by=by))
        row = conn.execute(sa.select(dq_exception).where(
            dq_exception.c.exception_id == exception_id)).one()
    return _row(row)


def matching_issue_count(engine: sa.Engine, exc: AcceptedException) -> int:
    """How many issues of the latest batch the exception covers (0: none at the moment)."""
    with engine.connect() as conn:
        return int(conn.execute(
            sa.text("SELECT COUNT(*) FROM dq_issue_latest WHERE exception_id = :e"),
            {"e": exc.exception_id}).scalar_one())
