"""dimensions: dim_date, indicator_value.fraction

`dim_date` (reporting-db.md 1.1, Dimensions) is created empty: the publish fills it for the
configured range (`publish.ensure_dim_date`). `indicator_value` gains `fraction` (value / 100
for a percentage, null for a median); `indicator_value_latest` shows it. Values published
before this revision have no fraction until their batch is published again.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from collections.abc import Sequence
from importlib import import_module

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDICATOR_VALUE_LATEST = """
SELECT v.as_of, v.indicator_code, v.period_type, v.period_label, v.period_start,
       v.period_end, v.breakdown, v.breakdown_value, v.numerator, v.denominator, v.value,
       v.fraction
FROM indicator_value v
JOIN (
    SELECT indicator_code, MAX(as_of) AS as_of
    FROM indicator_run WHERE status = 'computed' GROUP BY indicator_code
) latest ON latest.indicator_code = v.indicator_code AND latest.as_of = v.as_of
"""


def upgrade() -> None:
    op.create_table(
        "dim_date",
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False, comment="1 = Monday ... 7 = Sunday."),
        sa.Column("is_working_day", sa.Boolean(), nullable=False,
                  comment="Monday to Friday and not a bank holiday of England and Wales (as "
                          "wd() counts)."),
        sa.Column("bank_holiday", sa.Text(), nullable=True,
                  comment="The bank holiday's name, where the day is one (a weekend holiday "
                          "too: its substitute weekday has its own row, '(observed)'); null "
                          "otherwise."),
        sa.Column("month_label", sa.String(length=16), nullable=False),
        sa.Column("quarter_label", sa.String(length=16), nullable=False),
        sa.Column("year_label", sa.String(length=16), nullable=False),
        sa.Column("month_start", sa.Date(), nullable=False),
        sa.Column("quarter_start", sa.Date(), nullable=False),
        sa.Column("year_start", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("date", name=op.f("pk_dim_date")),
        comment="The calendar for BI tools: one row per day of the configured range "
                "(reporting-db.md 1.1, Dimensions).",
    )
    op.execute("DROP VIEW IF EXISTS indicator_value_latest")
    with op.batch_alter_table("indicator_value", schema=None) as batch_op:
        batch_op.add_column(sa.Column(
            "fraction", sa.Double(), nullable=True,
            comment="value / 100 for a percentage (0-1, for BI percent formats); null for a "
                    "median (reporting-db.md 1.1)."))
    op.execute(f"CREATE VIEW indicator_value_latest AS {INDICATOR_VALUE_LATEST}")


def downgrade() -> None:
    second = import_module("qa_pipeline.load.migrations.versions.0002_indicators")
    op.execute("DROP VIEW IF EXISTS indicator_value_latest")
    with op.batch_alter_table("indicator_value", schema=None) as batch_op:
        batch_op.drop_column("fraction")
    op.execute(f"CREATE VIEW indicator_value_latest AS {second.INDICATOR_VALUE_LATEST}")
    op.drop_table("dim_date")
