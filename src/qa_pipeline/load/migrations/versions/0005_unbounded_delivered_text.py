"""delivered text that the two databases hold alike

`dq_issue.extract` (a stray file's name), `dq_exception.extract` and
`indicator_value.breakdown_value` (a delivered team_id) were VARCHARs with a length: PostgreSQL
refused a longer value and failed the whole batch, where SQLite stored it. They are TEXT now,
so one batch gives one outcome on both (the texts themselves are bounded where they are
written: `findings.TEXT_BOUNDS`). The views that read these columns are dropped and recreated
around the change (PostgreSQL does not alter a column a view uses).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from collections.abc import Sequence
from importlib import import_module

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_VIEWS = ("dq_issue_resolved", "dq_issue_latest", "indicator_value_latest")


def _alter(types: dict[tuple[str, str], sa.types.TypeEngine]) -> None:  # type: ignore[type-arg]
    dialect = op.get_bind().dialect.name
    for view in _VIEWS:
        op.execute(f"DROP VIEW IF EXISTS {view}")
    for (table, column), type_ in types.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(column, type_=type_, existing_nullable=column != "extract"
                                  and column != "breakdown_value")
    third = import_module("qa_pipeline.load.migrations.versions.0003_holds_exceptions_issue_lifecycle")
    second = import_module("qa_pipeline.load.migrations.versions.0002_indicators")
    op.execute(f"CREATE VIEW indicator_value_latest AS {second.INDICATOR_VALUE_LATEST}")
    op.execute(f"CREATE VIEW dq_issue_latest AS {third.dq_issue_latest(dialect)}")
    op.execute(f"CREATE VIEW dq_issue_resolved AS {third.DQ_ISSUE_RESOLVED}")


def upgrade() -> None:
    _alter({("dq_issue", "extract"): sa.Text(), ("dq_exception", "extract"): sa.Text(),
            ("indicator_value", "breakdown_value"): sa.Text()})


def downgrade() -> None:
    _alter({("dq_issue", "extract"): sa.String(128), ("dq_exception", "extract"): sa.String(128),
            ("indicator_value", "breakdown_value"): sa.String(64)})
