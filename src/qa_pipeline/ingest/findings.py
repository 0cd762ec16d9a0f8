"""Findings: every problem found in a delivery becomes a typed record a data officer can act on
(the `dq_issue` row of reporting-db.md), never a printed line that is forgotten."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import partial

import polars as pl

from qa_pipeline.privacy.redaction import NHS_RUN_PREFILTER, redact_cut
from qa_pipeline.spec.published import polars_schema, row

VALUE_MAX = 200
"""dq_issue.value is cut to this many characters (reporting-db.md)."""

TEXT_BOUNDS: dict[str, int] = {
    "extract": 200, "record_id": 200, "child_id": 200, "team_id": 200, "column_name": 200,
    "value": VALUE_MAX, "message": 2000, "root_record_id": 200, "message_cy": 2000,
}
"""The longest delivered text each dq_issue column stores (a 5 MB key is cut, its original
length noted); the same bounds hold on SQLite and PostgreSQL."""

ISSUE_EXCLUDED = ("issue_id", "run_id")
"""The dq_issue columns the database (issue_id) and the publish (run_id) fill in."""
ISSUE_SCHEMA: dict[str, pl.DataType] = polars_schema("dq_issue", exclude=ISSUE_EXCLUDED)
"""The frame of findings, as written to dq_issue (spec/published.yaml)."""


@dataclass(frozen=True)
class Finding:
    """One file-level or batch-level issue (row-level issues are built as frames in bulk)."""

    as_of: date
    extract: str
    rule_id: str
    severity: str
    message: str
    column_name: str | None = None
    value: str | None = None
    record_id: str | None = None
    child_id: str | None = None
    team_id: str | None = None
    source_row: int | None = None
    root_rule_id: str | None = None
    root_record_id: str | None = None
    message_cy: str | None = None
    """The message in Welsh (the rule's Welsh and the particulars in Welsh)."""


def findings_frame(findings: list[Finding]) -> pl.DataFrame:
    rows = [row("dq_issue", f, exclude=ISSUE_EXCLUDED) for f in findings]
    return pl.DataFrame(rows, schema=ISSUE_SCHEMA)


def empty_issues() -> pl.DataFrame:
    return pl.DataFrame(schema=ISSUE_SCHEMA)


def _rewrite(frame: pl.DataFrame, column: str, where: pl.Expr,
             fn: Callable[[str], str | None]) -> pl.DataFrame:
    """Apply a Python function to the (few) values of `column` selected by `where`."""
    hits = frame.select(pl.int_range(pl.len()).alias("__i"), pl.col(column)).filter(where)
    if hits.height == 0:
        return frame
    new = pl.Series(column, [fn(v) for v in hits[column]], dtype=pl.String)
    return frame.with_columns(frame[column].scatter(hits["__i"], new))


def bound_issues(issues: pl.DataFrame) -> pl.DataFrame:
    """Every delivered text of the issues redacted (`redaction.redact`) and cut to its bound
    (`TEXT_BOUNDS`): the one gate between a delivery and `dq_issue`."""
    for column, limit in TEXT_BOUNDS.items():
        text = pl.col(column)
        issues = _rewrite(issues, column, text.str.contains(NHS_RUN_PREFILTER)
                          | (text.str.len_chars() > limit), partial(redact_cut, limit=limit))
    return issues
