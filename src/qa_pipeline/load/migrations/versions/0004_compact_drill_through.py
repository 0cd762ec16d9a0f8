"""compact drill-through: one indicator_case row per case and event date

The drill-through is rebuilt by every run of the latest batch, so the table is recreated
empty; the next run fills it. The view keeps its columns (one row per case and period).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDICATOR_CASE_LATEST = """
SELECT c.as_of, c.indicator_code, i.title AS indicator_title, p.period_type,
       p.period_label, c.record_id, c.child_id, c.team_id, c.in_numerator,
       CASE WHEN c.in_numerator IS NULL THEN NULL
            WHEN c.in_numerator THEN 'counted' ELSE 'not counted' END AS outcome,
       c.measure, c.event_date, i.unit, i.polarity
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
    op.execute("DROP VIEW IF EXISTS indicator_case_latest")
    op.drop_table("indicator_case")
    op.create_table(
        "indicator_case",
        sa.Column("case_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("indicator_code", sa.String(length=16), nullable=False),
        sa.Column("record_id", sa.Text(), nullable=False, comment="The case's record key."),
        sa.Column("child_id", sa.String(), nullable=True),
        sa.Column("team_id", sa.String(), nullable=True),
        sa.Column("in_numerator", sa.Boolean(), nullable=True,
                  comment="Null for a median's cases."),
        sa.Column("measure", sa.Double(), nullable=True,
                  comment="The derived measure, e.g. a delay in working days."),
        sa.Column("event_date", sa.Date(), nullable=False,
                  comment="The date that places the case in its periods (the period date for "
                          "a point-in-time indicator)."),
        sa.Column("month", sa.String(length=16), nullable=True,
                  comment="Month label, 2013-04; null when the case does not count there."),
        sa.Column("quarter", sa.String(length=16), nullable=True,
                  comment="Financial quarter label; null when the case does not count there."),
        sa.Column("year", sa.String(length=16), nullable=True,
                  comment="Financial year label; null when the case does not count there."),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_indicator_case")),
        comment="Drill-through of the latest batch, one row per case and event date; the "
                "view indicator_case_latest lists it per period.",
    )
    op.create_index("ix_indicator_case_code_month", "indicator_case",
                    ["indicator_code", "month"], unique=False)
    op.execute(f"CREATE VIEW indicator_case_latest AS {INDICATOR_CASE_LATEST}")


def downgrade() -> None:
    from importlib import import_module

    previous = import_module("qa_pipeline.load.migrations.versions.0002_indicators")
    op.execute("DROP VIEW IF EXISTS indicator_case_latest")
    op.drop_table("indicator_case")
    op.create_table(
        "indicator_case",
        sa.Column("case_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("indicator_code", sa.String(length=16), nullable=False),
        sa.Column("period_type", sa.String(length=8), nullable=False),
        sa.Column("period_label", sa.String(length=16), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("record_id", sa.Text(), nullable=False),
        sa.Column("child_id", sa.String(), nullable=True),
        sa.Column("team_id", sa.String(), nullable=True),
        sa.Column("in_numerator", sa.Boolean(), nullable=True),
        sa.Column("measure", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_indicator_case")),
    )
    op.create_index("ix_indicator_case_lookup", "indicator_case",
                    ["indicator_code", "period_type", "period_label"], unique=False)
    op.execute(f"CREATE VIEW indicator_case_latest AS {previous.INDICATOR_CASE_LATEST}")
