"""The data-quality issues as data officers read them: the open issues of the latest published
batch (`dq_issue_latest`), sorted and filtered, and the team names they are listed under. The
worklists, the report, the data checks and `qa-pipeline issues` all read them through here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import date
from typing import Any

import sqlalchemy as sa

from qa_pipeline.load.db import as_date
from qa_pipeline.spec.published import published

SEVERITY_ORDER = {"file_error": 0, "error": 1, "warning": 2}


class NoPublishedBatch(LookupError):
    """The database holds no published batch yet."""


class SchemaMissing(LookupError):
    """The database has not been created or upgraded by `qa-pipeline db upgrade`."""


@dataclass(frozen=True)
class Issue:
    """One row of `dq_issue_latest`: the declared columns (spec/published.yaml) that data
    officers read; a test checks each field against the declaration."""

    as_of: date
    extract: str
    record_id: str | None
    child_id: str | None
    team_id: str | None
    rule_id: str
    severity: str
    column_name: str | None
    value: str | None
    message: str
    guidance: str | None
    first_seen: date
    status: str
    age_days: int
    exception_id: int | None
    source_row: int | None

    @property
    def accepted(self) -> bool:
        return self.exception_id is not None


def require_schema(engine: sa.Engine, *tables: str) -> None:
    names = set(sa.inspect(engine).get_table_names()) | set(
        sa.inspect(engine).get_view_names())
    missing = [t for t in tables if t not in names]
    if missing:
        raise SchemaMissing(
            f"the database has no {', '.join(missing)}: create or upgrade its schema with "
            "`qa-pipeline db upgrade --db URL` (or run a batch)")


def latest_batch(engine: sa.Engine) -> date:
    """The as_of of the newest published batch."""
    require_schema(engine, "batch", "dq_issue_latest")
    with engine.connect() as conn:
        v = conn.execute(sa.text("SELECT MAX(as_of) FROM batch")).scalar()
    if v is None:
        raise NoPublishedBatch("no batch has been published to this database yet")
    return as_date(v)


LATEST_VIEW = published()["dq_issue_latest"]
ISSUE_COLUMNS: tuple[str, ...] = tuple(
    c for c in LATEST_VIEW.column_names() if c in {f.name for f in fields(Issue)})
"""The columns of dq_issue_latest read into an `Issue`, in declared order."""
_LATEST = sa.table(LATEST_VIEW.name, *(sa.column(c) for c in ISSUE_COLUMNS))
_CONVERT: dict[str, Any] = {"date": as_date, "int": int}
"""What a value of each declared type is converted with (SQLite returns dates as text)."""


def _converted(view: Any, columns: Iterable[str], r: Any) -> dict[str, Any]:
    """A row's declared columns, each converted by its declared type."""
    values = {}
    for c in columns:
        v = r[c]
        convert = _CONVERT.get(view.columns[c].type)
        values[c] = v if v is None or convert is None else convert(v)
    return values


def _issue(r: Any) -> Issue:
    values = _converted(LATEST_VIEW, ISSUE_COLUMNS, r)
    values["team_id"] = values["team_id"] or None
    values["age_days"] = values["age_days"] or 0
    return Issue(**values)


def issue_sort_key(i: Issue) -> tuple[Any, ...]:
    return (i.team_id or "~", SEVERITY_ORDER.get(i.severity, 9), -i.age_days, i.extract,
            i.record_id or "", i.rule_id, i.column_name or "")


def load_latest_issues(engine: sa.Engine) -> list[Issue]:
    """Every issue of the latest published batch (accepted ones included), sorted."""
    latest_batch(engine)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(_LATEST)).mappings().all()
    out = [_issue(r) for r in rows]
    return sorted(out, key=issue_sort_key)


@dataclass(frozen=True)
class ResolvedIssue:
    """One row of `dq_issue_resolved`: an issue of the previous published batch that the
    latest batch no longer has (a test checks each field against the declaration)."""

    last_seen: date
    first_seen: date
    resolved_in: date
    extract: str
    record_id: str | None
    child_id: str | None
    team_id: str | None
    rule_id: str
    severity: str
    column_name: str | None
    value: str | None
    message: str


RESOLVED_VIEW = published()["dq_issue_resolved"]
RESOLVED_COLUMNS: tuple[str, ...] = tuple(
    c for c in RESOLVED_VIEW.column_names() if c in {f.name for f in fields(ResolvedIssue)})
"""The columns of dq_issue_resolved read into a `ResolvedIssue`, in declared order."""
def previous_batch(engine: sa.Engine, as_of: date) -> date | None:
    """The as_of of the published batch before `as_of`, if there is one."""
    with engine.connect() as conn:
        v = conn.execute(sa.text("SELECT MAX(as_of) FROM batch WHERE as_of < :d"),
                         {"d": as_of}).scalar()
    return None if v is None else as_date(v)


def filter_issues(issues: Iterable[Issue], *, team: str | None = None,
                  rule: str | None = None, status: str | None = None,
                  include_accepted: bool = False) -> list[Issue]:
    """The open issues (accepted exceptions left out unless asked), optionally filtered.

    `team` is a team id, or `none` for issues that no team owns.
    """
    out = []
    for i in issues:
        if i.accepted and not include_accepted:
            continue
        if not in_team(i.team_id, team):
            continue
        if rule is not None and i.rule_id != rule:
            continue
        if status is not None and i.status != status:
            continue
        out.append(i)
    return out


def in_team(team_id: str | None, team: str | None) -> bool:
    """Whether an issue of `team_id` is listed for `team` (None: every team; `none`: the
    issues that no team owns; else the team id, compared exactly)."""
    if team is None:
        return True
    if team.lower() == "none":
        return not team_id
    return team_id == team


def team_names(engine: sa.Engine, as_of: date) -> dict[str, str]:
    """team_id -> team_name from the newest loaded teams extract up to `as_of`."""
    with engine.connect() as conn:
        newest = conn.execute(
            sa.text("SELECT MAX(as_of) FROM stg_teams WHERE as_of <= :d"), {"d": as_of}
        ).scalar()
        if newest is None:
            return {}
        rows = conn.execute(
            sa.text("SELECT team_id, team_name FROM stg_teams WHERE as_of = :d"),
            {"d": as_date(newest)},
        ).all()
    return {str(t): str(n or t) for t, n in rows if t}


# --- resolved issues ------------------------------------------------------------------------

RESOLVED_SQL = """
WITH batches AS (
    SELECT as_of, ROW_NUMBER() OVER (ORDER BY as_of) AS seq FROM batch
),
pairs AS (
    SELECT p.as_of AS last_seen, n.as_of AS resolved_in
    FROM batches p JOIN batches n ON n.seq = p.seq + 1
),
keyed AS (
    SELECT DISTINCT i.extract, COALESCE(i.record_id, '') AS rk, i.rule_id,
           COALESCE(i.column_name, '') AS ck, b.seq, i.as_of
    FROM dq_issue i JOIN batches b ON b.as_of = i.as_of
),
islands AS (
    SELECT extract, rk, rule_id, ck, as_of,
           seq - ROW_NUMBER() OVER (PARTITION BY extract, rk, rule_id, ck ORDER BY seq) AS grp
    FROM keyed
),
spans AS (
    SELECT extract, rk, rule_id, ck, MIN(as_of) AS first_seen, MAX(as_of) AS last_seen
    FROM islands GROUP BY extract, rk, rule_id, ck, grp
)
SELECT pr.last_seen, s.first_seen, pr.resolved_in, i.extract, i.record_id, i.child_id,
       i.team_id, i.rule_id, i.severity, i.column_name, i.value, i.message
FROM dq_issue i
JOIN pairs pr ON pr.last_seen = i.as_of
JOIN spans s ON s.extract = i.extract AND s.rk = COALESCE(i.record_id, '')
    AND s.rule_id = i.rule_id AND s.ck = COALESCE(i.column_name, '')
    AND s.last_seen = i.as_of
WHERE pr.resolved_in >= :since
  AND NOT EXISTS (
      SELECT 1 FROM dq_issue l
      WHERE l.as_of = pr.resolved_in
        AND l.extract = i.extract AND COALESCE(l.record_id, '') = COALESCE(i.record_id, '')
        AND l.rule_id = i.rule_id AND COALESCE(l.column_name, '') = COALESCE(i.column_name, ''))
"""
"""`dq_issue_resolved` for every pair of consecutive published batches, not only the last
two: the issues of each batch that the next one no longer has, resolved in a batch on or
after `:since` (`dq_issue` keeps every batch, so this covers all published batches)."""


def load_resolved_issues(engine: sa.Engine, since: date | None = None
                         ) -> list[ResolvedIssue]:
    """The issues resolved in the latest batch (gone since the previous one, as the view
    `dq_issue_resolved` holds them), or, with `since`, in every published batch on or after
    `since`, each against the batch before it. Newest resolution first, then as issues sort.
    An issue that was fixed, came back and was fixed again is listed once per fix."""
    latest = latest_batch(engine)
    stmt = sa.text(RESOLVED_SQL).bindparams(sa.bindparam("since", type_=sa.Date()))
    with engine.connect() as conn:
        rows = conn.execute(stmt, {"since": latest if since is None else since}
                            ).mappings().all()
    out = []
    for r in rows:
        values = _converted(RESOLVED_VIEW, RESOLVED_COLUMNS, r)
        values["team_id"] = values["team_id"] or None
        out.append(ResolvedIssue(**values))
    return sorted(out, key=lambda i: (-i.resolved_in.toordinal(), i.team_id or "~",
                                      SEVERITY_ORDER.get(i.severity, 9), i.extract,
                                      i.record_id or "", i.rule_id, i.column_name or ""))


def filter_resolved(items: Iterable[ResolvedIssue], *, team: str | None = None,
                    rule: str | None = None) -> list[ResolvedIssue]:
    """The resolved issues of a team (`in_team`) and / or a rule."""
    return [i for i in items
            if in_team(i.team_id, team) and (rule is None or i.rule_id == rule)]
