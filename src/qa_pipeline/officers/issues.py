"""The data-quality issues as data officers read them: the open issues of the latest published
batch (`dq_issue_latest`), sorted and filtered, and the team names they are listed under. The
worklists, the report, the data checks and `qa-pipeline issues` all read them through here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import date
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from qa_pipeline.load.db import as_date, history_table_name, metadata
from qa_pipeline.spec.published import published
from qa_pipeline.spec.rule_kinds import DEPENDENT_RULE_SUFFIX

if TYPE_CHECKING:
    import polars as pl

SEVERITY_ORDER = {"file_error": 0, "error": 1, "warning": 2}


class NoPublishedBatch(LookupError):
    """The database holds no published batch yet."""


class SchemaMissing(LookupError):
    """The database has not been created or upgraded by `qa-pipeline db upgrade`."""


@dataclass(frozen=True)
class IssueRow:
    """What every issue row names, open or resolved: the record, the rule broken, the value
    and the message (declared columns of dq_issue; a test checks each field)."""

    extract: str
    record_id: str | None
    child_id: str | None
    team_id: str | None
    rule_id: str
    severity: str
    column_name: str | None
    value: str | None
    message: str


@dataclass(frozen=True)
class Issue(IssueRow):
    """One row of `dq_issue_latest`: an open issue of the latest batch, with its history."""

    as_of: date
    guidance: str | None
    first_seen: date
    status: str
    age_days: int
    exception_id: int | None
    source_row: int | None
    root_rule_id: str | None = None
    root_record_id: str | None = None
    message_cy: str | None = None
    """The message in Welsh; None on an issue published before the Welsh (revision 0010):
    readers show the English (`Lang.pair`)."""
    guidance_cy: str | None = None

    @property
    def accepted(self) -> bool:
        return self.exception_id is not None

    @property
    def is_dependent(self) -> bool:
        """A dependent row's warning: the row is loaded, its parent was quarantined."""
        return self.root_rule_id is not None

    @property
    def root_key(self) -> tuple[str, str | None]:
        """(rule, record) of the root cause this issue is or names."""
        if self.root_rule_id is not None:
            return self.root_rule_id, self.root_record_id
        return self.rule_id, self.record_id


def is_dependent_rule(rule_id: str) -> bool:
    return rule_id.endswith(DEPENDENT_RULE_SUFFIX)


@dataclass(frozen=True)
class RootCause:
    """One record to fix: an issue that is not a dependent row's warning, with the warnings of
    the dependent rows that name it as their root cause (fixing it clears them too)."""

    issue: Issue
    dependents: tuple[Issue, ...] = ()


def root_causes(issues: Iterable[Issue], *, include_accepted: bool = False
                ) -> list[RootCause]:
    """The issues as records to fix, in their order: each dependent row's warning is listed
    under its root cause when that is among `issues`; one whose root cause is not stays a
    line of its own, so nothing is lost. A root cause under an accepted exception is left
    out with its dependents (their fix is the accepted record's), unless `include_accepted`;
    so is an accepted issue of its own."""
    items = list(issues)
    roots: dict[tuple[str, str | None], int] = {}
    for n, i in enumerate(items):
        if not i.is_dependent:
            roots.setdefault(i.root_key, n)
    under: dict[int, list[Issue]] = {}
    for i in items:
        if i.is_dependent and i.root_key in roots:
            under.setdefault(roots[i.root_key], []).append(i)
    return [RootCause(i, tuple(under.get(n, ()))) for n, i in enumerate(items)
            if not (i.is_dependent and i.root_key in roots)
            and (include_accepted or not i.accepted)]


@dataclass(frozen=True)
class RootCauseCounts:
    """Records to fix of one published batch as the report counts them: open root causes
    (accepted exceptions left out) new in it or persisting from before, and those resolved
    since the previous batch. Plain data, so the run summary, the Prefect flow and the
    notifications read the same numbers without the database."""

    as_of: date
    new: int
    persisting: int
    resolved: int
    new_by_rule: tuple[tuple[str, int], ...] = ()
    """(rule id, new root causes) most first, then by rule id."""

    @property
    def open(self) -> int:
        return self.new + self.persisting


def root_cause_counts(as_of: date, issues: Iterable[Issue], resolved_rule_ids: Iterable[str]
                      ) -> RootCauseCounts:
    """The counts of `RootCauseCounts` from the latest batch's issues (`load_latest_issues`)
    and the rule ids of its resolved issues (`dq_issue_resolved`): a dependent row's warning
    counts under its root cause, never on its own, open or resolved."""
    opened = [rc.issue for rc in root_causes(issues)]
    new: dict[str, int] = {}
    for i in opened:
        if i.status == "new":
            new[i.rule_id] = new.get(i.rule_id, 0) + 1
    resolved = sum(not is_dependent_rule(r) for r in resolved_rule_ids)
    total_new = sum(new.values())
    return RootCauseCounts(as_of=as_of, new=total_new, persisting=len(opened) - total_new,
                           resolved=resolved,
                           new_by_rule=tuple(sorted(new.items(), key=lambda kv: (-kv[1], kv[0]))))


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
class ResolvedIssue(IssueRow):
    """One row of `dq_issue_resolved`: an issue of a published batch that the next one no
    longer has."""

    last_seen: date
    first_seen: date
    resolved_in: date
    message_cy: str | None = None


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
    """team_id -> team_name as the teams extract last delivered it up to `as_of` (the newest
    version of each team in `teams_history` that began by then)."""
    th = metadata.tables[history_table_name("teams")]
    with engine.connect() as conn:
        rows = conn.execute(sa.select(th.c.team_id, th.c.team_name)
                            .where(th.c.valid_from <= as_of).order_by(th.c.valid_from)).all()
    return {str(t): str(n or t) for t, n in rows if t}


# --- resolved issues ------------------------------------------------------------------------

KEY = ("extract", "record_id", "rule_id", "column_name")
"""What makes issue rows of different batches the same issue."""


def resolutions(batches: Sequence[date], keys: pl.DataFrame, since: date) -> pl.DataFrame:
    """Each run of consecutive published batches in which an issue was present and after
    which it was gone: its KEY, first_seen, last_seen and resolved_in (the next batch), for
    the runs resolved in a batch on or after `since`. `keys`: distinct (as_of, *KEY)."""
    import polars as pl

    seq = pl.DataFrame({"as_of": list(batches), "seq": range(len(batches))},
                       schema={"as_of": pl.Date, "seq": pl.Int64})
    runs = (keys.join(seq, on="as_of").sort([*KEY, "seq"], nulls_last=True)
            # within a run the batch number rises by one a row: seq - row number is constant
            .with_columns((pl.col("seq") - pl.int_range(pl.len()).over(KEY))
                          .alias("run"))
            .group_by([*KEY, "run"])
            .agg(pl.col("as_of").min().alias("first_seen"), pl.col("seq").max().alias("seq")))
    after = seq.with_columns(pl.col("as_of").alias("last_seen"),
                             pl.col("as_of").shift(-1).alias("resolved_in")).drop("as_of")
    return (runs.join(after, on="seq").filter(pl.col("resolved_in") >= since)
            .select(*KEY, "first_seen", "last_seen", "resolved_in"))


def load_resolved_issues(engine: sa.Engine, since: date | None = None
                         ) -> list[ResolvedIssue]:
    """The issues resolved in the latest batch (gone since the previous one, as the view
    `dq_issue_resolved` holds them), or, with `since`, in every published batch on or after
    `since`, each against the batch before it. Newest resolution first, then as issues sort.
    An issue that was fixed, came back and was fixed again is listed once per fix."""

    from qa_pipeline.load.db import batch, dq_issue

    latest = latest_batch(engine)
    details = [c for c in RESOLVED_COLUMNS if c not in (*KEY, "first_seen", "last_seen",
                                                           "resolved_in")]
    with engine.connect() as conn:
        batches = [as_date(d) for d in conn.execute(
            sa.select(batch.c.as_of).order_by(batch.c.as_of)).scalars()]
        keys = conn.execute(sa.select(dq_issue.c.as_of, *(dq_issue.c[k] for k in KEY))
                            .distinct()).all()
        gone = resolutions(batches, _frame(keys, ("as_of", *KEY)),
                           latest if since is None else since)
        rows = conn.execute(sa.select(dq_issue.c.as_of, *(dq_issue.c[c] for c in (*KEY, *details)))
                            .where(dq_issue.c.as_of.in_(gone["last_seen"].unique().to_list()))
                            ).all() if gone.height else []
    found = _frame(rows, ("as_of", *KEY, *details)).rename({"as_of": "last_seen"})
    joined = gone.join(found, on=["last_seen", *KEY], nulls_equal=True).unique(
        ["last_seen", *KEY], keep="first", maintain_order=True)
    out = []
    for r in joined.iter_rows(named=True):
        values = _converted(RESOLVED_VIEW, RESOLVED_COLUMNS, r)
        values["team_id"] = values["team_id"] or None
        out.append(ResolvedIssue(**values))
    return sorted(out, key=lambda i: (-i.resolved_in.toordinal(), i.team_id or "~",
                                      SEVERITY_ORDER.get(i.severity, 9), i.extract,
                                      i.record_id or "", i.rule_id, i.column_name or ""))


def _frame(rows: Sequence[Any], names: Sequence[str]) -> pl.DataFrame:
    """Database rows as a frame: `as_of` a date, every other column text."""
    import polars as pl

    return pl.DataFrame([(as_date(r[0]), *(None if v is None else str(v) for v in r[1:]))
                         for r in rows],
                        schema={"as_of": pl.Date, **dict.fromkeys(names[1:], pl.String)},
                        orient="row")


def filter_resolved(items: Iterable[ResolvedIssue], *, team: str | None = None,
                    rule: str | None = None) -> list[ResolvedIssue]:
    """The resolved issues of a team (`in_team`) and / or a rule."""
    return [i for i in items
            if in_team(i.team_id, team) and (rule is None or i.rule_id == rule)]
