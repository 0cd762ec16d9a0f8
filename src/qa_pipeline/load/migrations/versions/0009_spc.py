"""statistical process control: indicator_spc, indicator_spc_series, indicator_spc_summary

`indicator_spc` holds, for each indicator's latest computed batch, every month of each
monthly series judged as a point of an XmR chart (reporting-db.md 1.1, "Statistical process
control"); `indicator_spc_series` one row per series (its latest point, the assurance against
the target, the previous batch's signal); `indicator_spc_summary` is the view BI reads. Both
tables are created empty: the next publish fills them from `indicator_value`. The view reads
plain columns of the typed tables, so each of its columns has a declared type on SQLite too.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SERIES = ("indicator_code", "breakdown", "breakdown_value")

INDICATOR_SPC_SUMMARY = """
SELECT s.as_of, s.indicator_code, s.breakdown, s.breakdown_value, p.period_label,
       s.period_start, p.value, p.denominator, p.partial, p.mean, p.lower_limit,
       p.upper_limit, p.signal, p.rule, s.points, s.baseline_points, s.target, s.assurance,
       s.new_special_cause
FROM indicator_spc_series s
JOIN indicator_spc p ON p.indicator_code = s.indicator_code AND p.breakdown = s.breakdown
 AND p.breakdown_value = s.breakdown_value AND p.period_start = s.period_start
"""


def _series_key() -> list[sa.Column]:  # type: ignore[type-arg]
    return [sa.Column("as_of", sa.Date(), nullable=False),
            sa.Column("indicator_code", sa.String(length=16), nullable=False),
            sa.Column("breakdown", sa.String(length=8), nullable=False),
            sa.Column("breakdown_value", sa.Text(), nullable=False)]


def upgrade() -> None:
    op.create_table(
        "indicator_spc",
        *_series_key(),
        sa.Column("period_label", sa.String(length=16), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("value", sa.Double(), nullable=False),
        sa.Column("denominator", sa.Integer(), nullable=False),
        sa.Column("mean", sa.Double(), nullable=True),
        sa.Column("lower_limit", sa.Double(), nullable=True),
        sa.Column("upper_limit", sa.Double(), nullable=True),
        sa.Column("signal", sa.String(length=16), nullable=False),
        sa.Column("rule", sa.String(length=16), nullable=True),
        sa.Column("partial", sa.Boolean(), nullable=False),
        sa.Column("in_baseline", sa.Boolean(), nullable=False),
        sa.Column("point_number", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(*SERIES, "period_start", name=op.f("pk_indicator_spc")),
        comment="Statistical process control of the monthly series (reporting-db.md 1.1; "
                "NHS Making Data Count): for each indicator the series of its latest computed "
                "batch, replaced by each publish.",
    )
    op.create_table(
        "indicator_spc_series",
        *_series_key(),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("baseline_points", sa.Integer(), nullable=False),
        sa.Column("target", sa.Double(), nullable=True),
        sa.Column("assurance", sa.String(length=16), nullable=True),
        sa.Column("previous_as_of", sa.Date(), nullable=True),
        sa.Column("previous_signal", sa.String(length=16), nullable=True),
        sa.Column("new_special_cause", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint(*SERIES, name=op.f("pk_indicator_spc_series")),
        comment="The state of each series of indicator_spc (its latest point, assurance, the "
                "signal of the previous batch), read by indicator_spc_summary; replaced by "
                "each publish.",
    )
    op.execute(f"CREATE VIEW indicator_spc_summary AS {INDICATOR_SPC_SUMMARY}")


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS indicator_spc_summary")
    op.drop_table("indicator_spc_series")
    op.drop_table("indicator_spc")
