"""Welsh and English: the Welsh of the rule catalogue, the issues and the indicators

Adds `dq_rule.description_cy` and `guidance_cy`, `dq_issue.message_cy`, and the Welsh of
each indicator's title, description and definitions (reporting-db.md 1.1, "Welsh and
English"), and rebuilds `dq_issue_latest` and `dq_issue_resolved` to carry them. The columns
are nullable: the rule catalogue and the indicator table are rewritten by the next publish;
an issue published before this revision keeps a null `message_cy`, and every reader falls
back to the English. Plain ADD COLUMN and DROP COLUMN (SQLite 3.35+), so SQLite does not
rebuild a table that other views read.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from collections.abc import Sequence
from importlib import import_module

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("indicator", "title_cy", "The title in Welsh."),
    ("indicator", "description_cy", "The description in Welsh."),
    ("indicator", "numerator_definition_cy", "The numerator definition in Welsh."),
    ("indicator", "denominator_definition_cy", "The denominator definition in Welsh."),
    ("dq_issue", "message_cy", "The message in Welsh."),
    ("dq_rule", "description_cy", "The description in Welsh."),
    ("dq_rule", "guidance_cy", "The guidance in Welsh."),
)

_EIGHTH = "qa_pipeline.load.migrations.versions.0008_record_history"


def _views_0008() -> tuple[str, str]:
    eighth = import_module(_EIGHTH)
    return eighth.DQ_ISSUE_LATEST, eighth.DQ_ISSUE_RESOLVED


def dq_issue_latest() -> str:
    latest, _ = _views_0008()
    out = latest.replace("       r.guidance, s.first_seen,",
                         "       r.guidance, i.message_cy, r.guidance_cy, s.first_seen,")
    assert out != latest, "0008's dq_issue_latest changed"
    return out


def dq_issue_resolved() -> str:
    _, resolved = _views_0008()
    out = resolved.replace("i.value, i.message\n", "i.value, i.message, i.message_cy\n")
    assert out != resolved, "0008's dq_issue_resolved changed"
    return out


def upgrade() -> None:
    op.execute("DROP VIEW IF EXISTS dq_issue_latest")
    op.execute("DROP VIEW IF EXISTS dq_issue_resolved")
    for table, column, comment in COLUMNS:
        op.add_column(table, sa.Column(column, sa.Text(), nullable=True, comment=comment))
    op.execute(f"CREATE VIEW dq_issue_latest AS {dq_issue_latest()}")
    op.execute(f"CREATE VIEW dq_issue_resolved AS {dq_issue_resolved()}")


def downgrade() -> None:
    latest, resolved = _views_0008()
    op.execute("DROP VIEW IF EXISTS dq_issue_latest")
    op.execute("DROP VIEW IF EXISTS dq_issue_resolved")
    for table, column, _comment in reversed(COLUMNS):
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    op.execute(f"CREATE VIEW dq_issue_latest AS {latest}")
    op.execute(f"CREATE VIEW dq_issue_resolved AS {resolved}")
