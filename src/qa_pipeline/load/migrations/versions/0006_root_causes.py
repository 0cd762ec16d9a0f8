"""root causes: dependent rows, excluded drill-through cases, issue episodes

`dq_issue` gains `root_rule_id` and `root_record_id` (reporting-db.md 1.1: filled on the
warning of a dependent row, a row whose reference names a quarantined record) and
`dq_issue_latest` shows them. `indicator_case` gains `excluded_reason` (a case left out of an
indicator because its parent was quarantined) and `indicator_case_latest` shows it, with the
outcome `excluded`. The new view `dq_issue_episode` lists each issue's episodes: the unbroken
runs of published batches in which one record broke one rule, with when it was resolved.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from collections.abc import Sequence
from importlib import import_module

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_READ_DQ_ISSUE = ("dq_issue_resolved", "dq_issue_latest")


def _third():  # type: ignore[no-untyped-def]
    return import_module(
        "qa_pipeline.load.migrations.versions.0003_holds_exceptions_issue_lifecycle")


def dq_issue_latest(dialect: str) -> str:
    third = _third()
    return f"""
WITH {third.SPANS}, {third.EXCEPTIONS}
SELECT i.issue_id, i.as_of, i.run_id, i.extract, i.record_id, i.child_id, i.team_id,
       i.rule_id, i.severity, i.column_name, i.value, i.message, i.source_row,
       i.root_rule_id, i.root_record_id,
       r.guidance,
       s.first_seen,
       CASE WHEN s.first_seen = i.as_of THEN 'new' ELSE 'persisting' END AS status,
       {third._age(dialect)} AS age_days,
       (SELECT MIN(e.exception_id) FROM exceptions e
         WHERE e.rule_id = i.rule_id AND e.extract = i.extract
           AND e.rk = COALESCE(i.record_id, '')
           AND (e.expires_on IS NULL OR e.expires_on >= i.as_of)) AS exception_id
FROM dq_issue i
JOIN spans s ON {third.SAME_ISSUE} AND s.last_seen = i.as_of
LEFT JOIN dq_rule r ON r.rule_id = i.rule_id
WHERE i.as_of = (SELECT MAX(as_of) FROM batch)
"""


def _days(dialect: str, later: str, earlier: str) -> str:
    if dialect == "sqlite":
        return f"CAST(julianday({later}) - julianday({earlier}) AS INTEGER)"
    return f"({later} - {earlier})"


def dq_issue_episode(dialect: str) -> str:
    """One row per episode (a span of 0003's SPANS); its child, team and severity are those
    of its last batch. The batch after the last one is where it was resolved (null: still
    open). Its batches are consecutive, so it spans last - first + 1 of them."""
    third = _third()
    return f"""
WITH {third.SPANS},
last_rows AS (
    SELECT i.extract, COALESCE(i.record_id, '') AS rk, i.rule_id,
           COALESCE(i.column_name, '') AS ck, i.as_of, MIN(i.record_id) AS record_id,
           MIN(i.column_name) AS column_name, MIN(i.severity) AS severity,
           MIN(i.child_id) AS child_id, MIN(i.team_id) AS team_id
    FROM dq_issue i
    GROUP BY i.extract, COALESCE(i.record_id, ''), i.rule_id, COALESCE(i.column_name, ''),
             i.as_of
)
SELECT s.extract, l.record_id, s.rule_id, l.column_name, l.severity, l.child_id, l.team_id,
       s.first_seen, s.last_seen, nb.as_of AS resolved_in,
       {_days(dialect, "nb.as_of", "s.first_seen")} AS days_to_fix,
       lb.seq - fb.seq + 1 AS batches
FROM spans s
JOIN batches fb ON fb.as_of = s.first_seen
JOIN batches lb ON lb.as_of = s.last_seen
JOIN last_rows l ON l.extract = s.extract AND l.rk = s.rk AND l.rule_id = s.rule_id
    AND l.ck = s.ck AND l.as_of = s.last_seen
LEFT JOIN batches nb ON nb.seq = lb.seq + 1
"""


INDICATOR_CASE_LATEST = """
SELECT c.as_of, c.indicator_code, i.title AS indicator_title, p.period_type,
       p.period_label, c.record_id, c.child_id, c.team_id, c.in_numerator,
       CASE WHEN c.excluded_reason IS NOT NULL THEN 'excluded'
            WHEN c.in_numerator IS NULL THEN NULL
            WHEN c.in_numerator THEN 'counted' ELSE 'not counted' END AS outcome,
       c.measure, c.event_date, i.unit, i.polarity, c.excluded_reason
FROM indicator_case c
JOIN indicator i ON i.code = c.indicator_code
JOIN (
    SELECT case_id, 'month' AS period_type, month AS period_label FROM indicator_case
    WHERE month IS NOT NULL
    UNION ALL
    SELECT case_id, 'quarter', quarter FROM indicator_case WHERE quarter IS NOT NULL
    UNION ALL
    SELECT case_id, 'year', year FROM indicator_case WHERE year IS NOT NULL
) p ON p.case_id = c.case_id
"""


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    for view in (*_READ_DQ_ISSUE, "indicator_case_latest"):
        op.execute(f"DROP VIEW IF EXISTS {view}")
    with op.batch_alter_table("dq_issue", schema=None) as batch_op:
        batch_op.add_column(sa.Column(
            "root_rule_id", sa.String(length=128), nullable=True,
            comment="On a dependent row's warning: the rule broken by the quarantined record "
                    "it refers to (reporting-db.md 1.1)."))
        batch_op.add_column(sa.Column(
            "root_record_id", sa.Text(), nullable=True,
            comment="On a dependent row's warning: that quarantined record's record_id (its "
                    "extract is named in root_rule_id)."))
    with op.batch_alter_table("indicator_case", schema=None) as batch_op:
        batch_op.add_column(sa.Column(
            "excluded_reason", sa.Text(), nullable=True,
            comment="Why the case is left out of the indicator (its parent record was "
                    "quarantined: indicators.md, Dependent rows); null for a case that "
                    "counts."))
    op.execute(f"CREATE VIEW dq_issue_latest AS {dq_issue_latest(dialect)}")
    op.execute(f"CREATE VIEW dq_issue_resolved AS {_third().DQ_ISSUE_RESOLVED}")
    op.execute(f"CREATE VIEW dq_issue_episode AS {dq_issue_episode(dialect)}")
    op.execute(f"CREATE VIEW indicator_case_latest AS {INDICATOR_CASE_LATEST}")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for view in (*_READ_DQ_ISSUE, "dq_issue_episode", "indicator_case_latest"):
        op.execute(f"DROP VIEW IF EXISTS {view}")
    with op.batch_alter_table("indicator_case", schema=None) as batch_op:
        batch_op.drop_column("excluded_reason")
    with op.batch_alter_table("dq_issue", schema=None) as batch_op:
        batch_op.drop_column("root_record_id")
        batch_op.drop_column("root_rule_id")
    fourth = import_module("qa_pipeline.load.migrations.versions.0004_compact_drill_through")
    op.execute(f"CREATE VIEW dq_issue_latest AS {_third().dq_issue_latest(dialect)}")
    op.execute(f"CREATE VIEW dq_issue_resolved AS {_third().DQ_ISSUE_RESOLVED}")
    op.execute(f"CREATE VIEW indicator_case_latest AS {fourth.INDICATOR_CASE_LATEST}")
