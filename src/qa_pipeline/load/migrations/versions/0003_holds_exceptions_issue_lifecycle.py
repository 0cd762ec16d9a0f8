"""holds, exceptions, issue lifecycle

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# The unbroken runs ("spans") of published batches in which a record broke a rule.
SPANS = """
batches AS (
    SELECT as_of, ROW_NUMBER() OVER (ORDER BY as_of) AS seq FROM batch
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
)"""

SAME_ISSUE = """s.extract = i.extract AND s.rk = COALESCE(i.record_id, '')
    AND s.rule_id = i.rule_id AND s.ck = COALESCE(i.column_name, '')"""

# An exception is in force for a batch when not removed and not expired by its date.
EXCEPTIONS = """
exceptions AS (
    SELECT rule_id, extract, COALESCE(record_id, '') AS rk, expires_on,
           MIN(exception_id) AS exception_id
    FROM dq_exception WHERE removed_at IS NULL
    GROUP BY rule_id, extract, COALESCE(record_id, ''), expires_on
)"""


def _age(dialect: str) -> str:
    if dialect == "sqlite":
        return "CAST(julianday(i.as_of) - julianday(s.first_seen) AS INTEGER)"
    return "(i.as_of - s.first_seen)"


def dq_issue_latest(dialect: str) -> str:
    return f"""
WITH {SPANS}, {EXCEPTIONS}
SELECT i.issue_id, i.as_of, i.run_id, i.extract, i.record_id, i.child_id, i.team_id,
       i.rule_id, i.severity, i.column_name, i.value, i.message, i.source_row,
       r.guidance,
       s.first_seen,
       CASE WHEN s.first_seen = i.as_of THEN 'new' ELSE 'persisting' END AS status,
       {_age(dialect)} AS age_days,
       (SELECT MIN(e.exception_id) FROM exceptions e
         WHERE e.rule_id = i.rule_id AND e.extract = i.extract
           AND e.rk = COALESCE(i.record_id, '')
           AND (e.expires_on IS NULL OR e.expires_on >= i.as_of)) AS exception_id
FROM dq_issue i
JOIN spans s ON {SAME_ISSUE} AND s.last_seen = i.as_of
LEFT JOIN dq_rule r ON r.rule_id = i.rule_id
WHERE i.as_of = (SELECT MAX(as_of) FROM batch)
"""


DQ_ISSUE_RESOLVED = f"""
WITH {SPANS},
ranked AS (SELECT as_of, ROW_NUMBER() OVER (ORDER BY as_of DESC) AS rn FROM batch)
SELECT i.as_of AS last_seen, s.first_seen, (SELECT as_of FROM ranked WHERE rn = 1)
       AS resolved_in, i.extract, i.record_id, i.child_id, i.team_id, i.rule_id,
       i.severity, i.column_name, i.value, i.message
FROM dq_issue i
JOIN spans s ON {SAME_ISSUE} AND s.last_seen = i.as_of
WHERE i.as_of = (SELECT as_of FROM ranked WHERE rn = 2)
  AND NOT EXISTS (
      SELECT 1 FROM dq_issue l
      WHERE l.as_of = (SELECT as_of FROM ranked WHERE rn = 1)
        AND l.extract = i.extract AND COALESCE(l.record_id, '') = COALESCE(i.record_id, '')
        AND l.rule_id = i.rule_id AND COALESCE(l.column_name, '') = COALESCE(i.column_name, ''))
"""


def upgrade() -> None:
    op.create_table('batch_hold',
    sa.Column('hold_id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('as_of', sa.Date(), nullable=False),
    sa.Column('run_id', sa.String(length=36), nullable=False, comment='The run that held it.'),
    sa.Column('held_at', sa.DateTime(), nullable=False, comment='UTC.'),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('staged_path', sa.Text(), nullable=False, comment='Where the staged batch waits to be published.'),
    sa.Column('status', sa.String(length=16), nullable=False, comment='held, released or superseded (a newer delivery of the date).'),
    sa.Column('released_at', sa.DateTime(), nullable=True),
    sa.Column('released_by', sa.String(length=128), nullable=True),
    sa.PrimaryKeyConstraint('hold_id', name=op.f('pk_batch_hold')),
    comment='Batches staged but not published until a data officer releases them.'
    )
    with op.batch_alter_table('batch_hold', schema=None) as batch_op:
        batch_op.create_index('ix_batch_hold_as_of', ['as_of'], unique=False)

    op.create_table('dq_exception',
    sa.Column('exception_id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('rule_id', sa.String(length=128), nullable=False),
    sa.Column('extract', sa.String(length=128), nullable=False),
    sa.Column('record_id', sa.Text(), nullable=True, comment='Null: the whole file-level issue.'),
    sa.Column('reason', sa.Text(), nullable=False, comment='Why the failure is correct practice (e.g. father genuinely unknown).'),
    sa.Column('created_by', sa.String(length=128), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False, comment='UTC.'),
    sa.Column('expires_on', sa.Date(), nullable=True, comment='Last batch date it applies to; null: no expiry.'),
    sa.Column('removed_at', sa.DateTime(), nullable=True, comment='UTC; null while in force.'),
    sa.Column('removed_by', sa.String(length=128), nullable=True),
    sa.PrimaryKeyConstraint('exception_id', name=op.f('pk_dq_exception')),
    comment='Accepted exceptions: failures a data officer has accepted; history is kept.'
    )
    with op.batch_alter_table('dq_exception', schema=None) as batch_op:
        batch_op.create_index('ix_dq_exception_key', ['rule_id', 'extract', 'record_id'], unique=False)

    with op.batch_alter_table('pipeline_run', schema=None) as batch_op:
        batch_op.add_column(sa.Column('content_sha256', sa.String(length=64), nullable=True, comment="Checksum over the batch's files as this run read them."))
        batch_op.add_column(sa.Column('published', sa.Boolean(), nullable=True, comment='Whether this run published its batch (false: failed, held or skipped).'))

    dialect = op.get_bind().dialect.name
    op.execute("DROP VIEW IF EXISTS dq_issue_latest")
    op.execute(f"CREATE VIEW dq_issue_latest AS {dq_issue_latest(dialect)}")
    op.execute(f"CREATE VIEW dq_issue_resolved AS {DQ_ISSUE_RESOLVED}")


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS dq_issue_resolved")
    op.execute("DROP VIEW IF EXISTS dq_issue_latest")
    from importlib import import_module

    first = import_module("qa_pipeline.load.migrations.versions.0001_initial_schema")
    op.execute(f"CREATE VIEW dq_issue_latest AS {first.DQ_ISSUE_LATEST}")
    with op.batch_alter_table('pipeline_run', schema=None) as batch_op:
        batch_op.drop_column('published')
        batch_op.drop_column('content_sha256')

    with op.batch_alter_table('dq_exception', schema=None) as batch_op:
        batch_op.drop_index('ix_dq_exception_key')

    op.drop_table('dq_exception')
    with op.batch_alter_table('batch_hold', schema=None) as batch_op:
        batch_op.drop_index('ix_batch_hold_as_of')

    op.drop_table('batch_hold')
