"""Findings: every problem found in a delivery becomes a typed record a data officer can act on
(the `dq_issue` row of reporting-db.md), never a printed line that is forgotten."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl

VALUE_MAX = 200
"""dq_issue.value is cut to this many characters (reporting-db.md)."""

ISSUE_SCHEMA: dict[str, pl.DataType] = {
    "as_of": pl.Date(),
    "extract": pl.String(),
    "record_id": pl.String(),
    "child_id": pl.String(),
    "team_id": pl.String(),
    "rule_id": pl.String(),
    "severity": pl.String(),
    "column_name": pl.String(),
    "value": pl.String(),
    "message": pl.String(),
    "source_row": pl.Int64(),
}


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


def findings_frame(findings: list[Finding]) -> pl.DataFrame:
    rows = [
        {
            "as_of": f.as_of, "extract": f.extract, "record_id": f.record_id,
            "child_id": f.child_id, "team_id": f.team_id, "rule_id": f.rule_id,
            "severity": f.severity, "column_name": f.column_name,
            "value": None if f.value is None else f.value[:VALUE_MAX],
            "message": f.message, "source_row": f.source_row,
        }
        for f in findings
    ]
    return pl.DataFrame(rows, schema=ISSUE_SCHEMA)


def empty_issues() -> pl.DataFrame:
    return pl.DataFrame(schema=ISSUE_SCHEMA)
