"""indicators

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# indicator_value_latest: for each indicator, its rows from the latest batch in which it was
# computed (an indicator skipped in the newest batch keeps showing its last values).
INDICATOR_VALUE_LATEST = """
SELECT v.as_of, v.indicator_code, v.period_type, v.period_label, v.period_start,
       v.period_end, v.breakdown, v.breakdown_value, v.numerator, v.denominator, v.value
FROM indicator_value v
JOIN (
    SELECT indicator_code, MAX(as_of) AS as_of
    FROM indicator_run WHERE status = 'computed' GROUP BY indicator_code
) latest ON latest.indicator_code = v.indicator_code AND latest.as_of = v.as_of
"""

# indicator_case_latest: the drill-through with the indicator's words, for BI tools.
INDICATOR_CASE_LATEST = """
SELECT c.as_of, c.indicator_code, i.title AS indicator_title, c.period_type,
       c.period_label, c.period_start, c.period_end, c.record_id, c.child_id, c.team_id,
       c.in_numerator,
       CASE WHEN c.in_numerator IS NULL THEN NULL
            WHEN c.in_numerator THEN 'counted' ELSE 'not counted' END AS outcome,
       c.measure, i.unit, i.polarity
FROM indicator_case c JOIN indicator i ON i.code = c.indicator_code
"""


def upgrade() -> None:
    op.create_table('indicator',
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('numerator_definition', sa.Text(), nullable=False),
    sa.Column('denominator_definition', sa.Text(), nullable=False),
    sa.Column('unit', sa.String(length=16), nullable=False, comment='percent or working_days.'),
    sa.Column('polarity', sa.String(length=24), nullable=False, comment='higher_is_better or lower_is_better.'),
    sa.Column('target', sa.Double(), nullable=True, comment='From config/indicators.yaml; null = none set.'),
    sa.Column('source', sa.Text(), nullable=False, comment='The audit or published indicator it comes from.'),
    sa.Column('subject', sa.String(length=32), nullable=True, comment='The fact table it counts.'),
    sa.Column('event_date', sa.String(length=64), nullable=True, comment='The date that places a case in a period.'),
    sa.Column('team', sa.Text(), nullable=True, comment='Whose team a case counts for.'),
    sa.Column('timescales', sa.Text(), nullable=True, comment='Configuration values used (JSON).'),
    sa.Column('requires', sa.Text(), nullable=True, comment='Extracts it needs (comma separated).'),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_indicator')),
    comment='The indicator catalogue (indicators.md), definitions with the values used.'
    )
    op.create_table('indicator_case',
    sa.Column('case_id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('as_of', sa.Date(), nullable=False),
    sa.Column('indicator_code', sa.String(length=16), nullable=False),
    sa.Column('period_type', sa.String(length=8), nullable=False),
    sa.Column('period_label', sa.String(length=16), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('record_id', sa.Text(), nullable=False, comment="The case's record key."),
    sa.Column('child_id', sa.String(), nullable=True),
    sa.Column('team_id', sa.String(), nullable=True),
    sa.Column('in_numerator', sa.Boolean(), nullable=True, comment="Null for a median's cases."),
    sa.Column('measure', sa.Double(), nullable=True, comment='The derived measure, e.g. a delay in working days.'),
    sa.PrimaryKeyConstraint('case_id', name=op.f('pk_indicator_case')),
    comment='Drill-through: the cases behind every indicator value of the latest batch.'
    )
    with op.batch_alter_table('indicator_case', schema=None) as batch_op:
        batch_op.create_index('ix_indicator_case_lookup', ['indicator_code', 'period_type', 'period_label'], unique=False)

    op.create_table('indicator_run',
    sa.Column('as_of', sa.Date(), nullable=False),
    sa.Column('indicator_code', sa.String(length=16), nullable=False),
    sa.Column('run_id', sa.String(length=36), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False, comment='computed or skipped.'),
    sa.Column('reason', sa.Text(), nullable=True, comment='Why it was skipped (extract missing or rejected).'),
    sa.Column('timescales', sa.Text(), nullable=True, comment='Configuration values used (JSON).'),
    sa.PrimaryKeyConstraint('as_of', 'indicator_code', name=op.f('pk_indicator_run')),
    comment='Whether each indicator was computed for a batch, and why not.'
    )
    op.create_table('indicator_value',
    sa.Column('as_of', sa.Date(), nullable=False, comment="The batch's extract date."),
    sa.Column('indicator_code', sa.String(length=16), nullable=False),
    sa.Column('period_type', sa.String(length=8), nullable=False),
    sa.Column('period_label', sa.String(length=16), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('breakdown', sa.String(length=8), nullable=False, comment='all or team.'),
    sa.Column('breakdown_value', sa.String(length=64), nullable=False, comment='ALL or team_id.'),
    sa.Column('numerator', sa.Integer(), nullable=True, comment='Null for a median.'),
    sa.Column('denominator', sa.Integer(), nullable=False),
    sa.Column('value', sa.Double(), nullable=False, comment='100 x numerator / denominator, or the median.'),
    sa.PrimaryKeyConstraint('as_of', 'indicator_code', 'period_type', 'period_label', 'breakdown', 'breakdown_value', name=op.f('pk_indicator_value')),
    comment='One row per (as_of, indicator, period, breakdown) with a denominator > 0.'
    )
    op.execute(f"CREATE VIEW indicator_value_latest AS {INDICATOR_VALUE_LATEST}")
    op.execute(f"CREATE VIEW indicator_case_latest AS {INDICATOR_CASE_LATEST}")


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS indicator_case_latest")
    op.execute("DROP VIEW IF EXISTS indicator_value_latest")
    op.drop_table('indicator_value')
    op.drop_table('indicator_run')
    with op.batch_alter_table('indicator_case', schema=None) as batch_op:
        batch_op.drop_index('ix_indicator_case_lookup')

    op.drop_table('indicator_case')
    op.drop_table('indicator')
