"""record history: <extract>_history and _current, stg_<extract> as views, dim_team

Each extract's nightly copies (`stg_<extract>`, the newest `keep_batches` batches) give way to
`<extract>_history`, one row per version of a record with valid_from/valid_to
(reporting-db.md 1.1, Record history), and `<extract>_current`, the versions still open.
`stg_<extract>` becomes a view of the current versions with the latest published batch's
as_of, for the reports that read it (`source_row` is gone: a version spans many files).
`history_carried` remembers the records quarantined in a batch (their versions stayed open);
`dim_team` lists every team delivered; `indicator_case` gains the extract and version_id of
the record each case was computed from, and its `outcome`.

Every column of every published view gets a declared type on SQLite too (reporting-db.md
1.1): SQLite declares a view column only when it is a plain column reference (a CAST is not),
so the computed columns come from typed columns. `dq_issue_span` holds the issue episodes
(recomputed by each publish) that `dq_issue_latest`, `dq_issue_resolved` and
`dq_issue_episode` read; `indicator_case.outcome` is stored; the period type comes from
`dim_period_type`, the exception id from a subquery of one column.

The history starts empty: the kept staged batches are dropped, and the next published batch
opens a version for each of its records (`qa-pipeline rebuild LANDING` replays every delivered
batch for the full history). The table definitions below are frozen copies of the contracts
of this revision (extracts.yaml, contract version 1).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from collections.abc import Sequence
from importlib import import_module

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# extract: (label, description, key, unique, [(column, SQLAlchemy type, description)])
EXTRACTS: dict[str, tuple[str, str, tuple[str, ...], bool, list[tuple[str, str, str]]]] = {
    'teams': ('team', 'The teams that own referrals, assessments, conferences and plans.', ('team_id',), True, [
        ('team_id', 'String', "The team's pseudonymised identifier."),
        ('team_name', 'Text', "The team's name as shown in Paris."),
        ('service_area', 'String', 'The service the team belongs to.'),
    ]),
    'persons': ('person', 'Children, unborn children and the adults related to them. Names, addresses and contact details are never extracted; only whether Paris holds them.', ('person_id',), True, [
        ('person_id', 'String', "The person's pseudonymised identifier."),
        ('person_type', 'String', 'Whether the person is a child, an unborn child or an adult.'),
        ('sex', 'String', "The person's recorded sex."),
        ('date_of_birth', 'Date', 'Date of birth, anonymised to the first of the month.'),
        ('expected_date_of_birth', 'Date', 'Expected date of birth of an unborn child (may be in the future).'),
        ('date_of_death', 'Date', 'Date of death, where the person has died.'),
        ('ethnicity', 'String', 'Ethnicity (Welsh Government codes).'),
        ('disability', 'String', 'Whether the person has a disability (U = unknown).'),
        ('name_recorded', 'String', "The person's name is held in Paris (the name itself is not extracted)."),
        ('dob_recorded', 'String', "The person's date of birth is held in Paris."),
        ('address_recorded', 'String', "The person's current address is held in Paris."),
        ('contact_recorded', 'String', 'A phone number or e-mail address is held in Paris.'),
    ]),
    'relationships': ('relationship', 'How an adult or another child is related to a child (fathers, mothers, carers).', ('relationship_id',), True, [
        ('relationship_id', 'String', "The relationship's pseudonymised identifier."),
        ('child_id', 'String', 'The child (or unborn child) the relationship is recorded for.'),
        ('related_person_id', 'String', 'The person related to the child.'),
        ('relationship_type', 'String', 'How the person is related to the child.'),
        ('parental_responsibility', 'String', 'Whether the person holds parental responsibility for the child.'),
        ('lives_with_child', 'String', 'Whether the person lives with the child.'),
        ('start_date', 'Date', 'When the relationship began (blank = always).'),
        ('end_date', 'Date', 'When the relationship ended (blank = still active).'),
    ]),
    'referrals': ('referral', 'Referrals received at the front door, with the decision made on each.', ('referral_id',), True, [
        ('referral_id', 'String', "The referral's pseudonymised identifier."),
        ('child_id', 'String', 'The child referred.'),
        ('referral_datetime', 'DateTime', 'When the referral was received (UK local time as delivered; stored as UTC).'),
        ('referral_source', 'String', 'Who made the referral.'),
        ('team_id', 'String', 'The team that received the referral.'),
        ('decision_date', 'Date', 'When the decision on the referral was made (blank while awaiting one).'),
        ('decision', 'String', 'The decision made on the referral.'),
        ('previous_referrals_checked', 'String', 'The decision shows earlier referrals were taken into account.'),
        ('risk_analysis_recorded', 'String', 'The decision is based on a recorded analysis of risk.'),
        ('management_decision_recorded', 'String', 'A management decision sheet is recorded.'),
        ('referrer_informed_date', 'Date', 'When the referrer was told the outcome of the referral.'),
    ]),
    'fit_referrals': ('Family Intervention Team referral', 'Referrals to the Family Intervention Team.', ('fit_referral_id',), True, [
        ('fit_referral_id', 'String', "The FIT referral's pseudonymised identifier."),
        ('child_id', 'String', 'The child referred.'),
        ('referral_date', 'Date', 'When the referral to the team was made.'),
        ('tasks_outcomes_defined', 'String', 'The referral set out clear tasks and outcomes.'),
        ('start_date', 'Date', "When the team's work started."),
        ('end_date', 'Date', "When the team's work ended."),
        ('outcome_achieved', 'String', 'Whether the work achieved its outcomes.'),
        ('team_id', 'String', 'The team that received the referral.'),
    ]),
    'assessments': ('assessment', 'Initial and core assessments of children.', ('assessment_id',), True, [
        ('assessment_id', 'String', "The assessment's pseudonymised identifier."),
        ('referral_id', 'String', 'The referral the assessment follows.'),
        ('child_id', 'String', "The child assessed; the same child as the referral's."),
        ('assessment_type', 'String', 'Initial or core assessment.'),
        ('start_date', 'Date', 'When the assessment started.'),
        ('completed_date', 'Date', 'When the assessment was completed (blank while in progress).'),
        ('authorised_date', 'Date', 'When a manager authorised the completed assessment.'),
        ('child_seen', 'String', 'The child was seen during the assessment.'),
        ('child_seen_alone', 'String', 'The child was seen alone during the assessment.'),
        ('father_involved', 'String', 'The father was involved in the assessment (NA = no father figure known, or his involvement was judged unsafe).'),
        ('outcome', 'String', 'What the assessment led to.'),
        ('team_id', 'String', 'The team that carried out the assessment.'),
        ('worker_id', 'String', 'The pseudonymised worker who carried out the assessment.'),
    ]),
    'strategy_discussions': ('strategy discussion', 'Strategy discussions held on referrals (section 47 enquiries).', ('strategy_id',), True, [
        ('strategy_id', 'String', "The strategy discussion's pseudonymised identifier."),
        ('referral_id', 'String', 'The referral the discussion was held on.'),
        ('child_id', 'String', "The child discussed; the same child as the referral's."),
        ('strategy_date', 'Date', 'When the strategy discussion was held.'),
        ('s47_outcome', 'String', 'The outcome of the section 47 enquiry.'),
        ('team_id', 'String', 'The team that held the discussion.'),
    ]),
    'cp_conferences': ('child protection conference', 'Child protection conferences, one row per child per conference.', ('conference_id', 'child_id'), True, [
        ('conference_id', 'String', "The conference's pseudonymised identifier (shared by siblings conferenced together)."),
        ('child_id', 'String', "The child conferenced; for an initial conference, the same child as the strategy discussion's."),
        ('conference_type', 'String', 'Initial, review or transfer-in conference.'),
        ('conference_date', 'Date', 'When the conference was held.'),
        ('strategy_id', 'String', 'The strategy discussion that led to an initial conference.'),
        ('outcome', 'String', 'What the conference decided about the child protection plan.'),
        ('team_id', 'String', 'The team responsible for the conference.'),
    ]),
    'cin_plans': ('child in need plan', 'Child in need plans.', ('cin_plan_id',), True, [
        ('cin_plan_id', 'String', "The plan's pseudonymised identifier."),
        ('child_id', 'String', 'The child on the plan.'),
        ('assessment_id', 'String', 'The assessment that led to the plan.'),
        ('start_date', 'Date', 'When the plan started.'),
        ('end_date', 'Date', 'When the plan ended (blank while open).'),
        ('outcomes_recorded', 'Integer', 'The number of outcomes written into the plan.'),
        ('multi_agency_at_start', 'String', 'Other agencies were engaged at the initial planning stage.'),
        ('closure_outcome', 'String', 'What had changed for the child when the plan closed.'),
        ('team_id', 'String', 'The team responsible for the plan.'),
    ]),
    'conference_attendance': ('conference invitation and attendance', "Who was invited to and attended each child's conference.", ('conference_id', 'child_id', 'attendee_role', 'person_id'), False, [
        ('conference_id', 'String', 'The conference.'),
        ('child_id', 'String', 'The child whose conference it was.'),
        ('attendee_role', 'String', "The attendee's role (family or professional)."),
        ('person_id', 'String', 'The family member (blank for professionals).'),
        ('invited', 'String', 'The attendee was invited.'),
        ('attended', 'String', 'The attendee attended.'),
        ('report_submitted', 'String', 'The attendee submitted a report to the conference.'),
    ]),
    'cp_plans': ('child protection plan', 'Child protection plans.', ('cp_plan_id',), True, [
        ('cp_plan_id', 'String', "The plan's pseudonymised identifier."),
        ('child_id', 'String', 'The child on the plan.'),
        ('start_date', 'Date', 'When the plan started.'),
        ('end_date', 'Date', 'When the plan ended (blank while open).'),
        ('category', 'String', 'The category of abuse or neglect.'),
        ('initial_conference_id', 'String', 'The initial conference that started the plan.'),
        ('team_id', 'String', 'The team responsible for the plan.'),
    ]),
    'cin_reviews': ('child in need review', 'Reviews of child in need plans.', ('review_id',), True, [
        ('review_id', 'String', "The review's pseudonymised identifier."),
        ('cin_plan_id', 'String', 'The plan reviewed.'),
        ('child_id', 'String', "The child on the plan; the same child as the plan's."),
        ('review_date', 'Date', 'When the review was held.'),
        ('child_participated', 'String', 'The child took part in the review.'),
        ('multi_agency_attended', 'String', 'Other agencies attended the review.'),
        ('progress_recorded', 'String', 'The review assessed implementation, progress and outcomes.'),
    ]),
}

TYPES = {"String": sa.String, "Text": sa.Text, "Date": sa.Date, "DateTime": sa.DateTime,
         "Integer": sa.Integer}


def _contract_columns(columns: list[tuple[str, str, str]]) -> list[sa.Column]:  # type: ignore[type-arg]
    return [sa.Column(name, TYPES[type_](), nullable=True, comment=text or None)
            for name, type_, text in columns]


def _create_history(name: str, label: str, description: str,
                    columns: list[tuple[str, str, str]]) -> None:
    table = f"{name}_history"
    op.create_table(
        table,
        sa.Column("version_id", sa.Integer(), autoincrement=False, nullable=False,
                  comment="The version's key; BI joins the drill-through on it."),
        sa.Column("record_id", sa.Text(), nullable=False,
                  comment="The record's key as in dq_issue (key columns joined by |)."),
        sa.Column("occurrence", sa.Integer(), nullable=False,
                  comment="1; where an extract's key is not unique, the number of the row "
                          "among those of the same key (ordered by record_hash)."),
        sa.Column("valid_from", sa.Date(), nullable=False,
                  comment="as_of of the first published batch that holds this version."),
        sa.Column("valid_to", sa.Date(), nullable=True,
                  comment="as_of of the first later published batch in which the record has "
                          "other values or is absent; null while current."),
        sa.Column("record_hash", sa.String(length=16), nullable=False,
                  comment="Hash of the version's values (change detection)."),
        *_contract_columns(columns),
        sa.PrimaryKeyConstraint("version_id", name=op.f(f"pk_{table}")),
        comment=f"History of {name}: one row per version of a {label}. {description}",
    )
    op.create_index(f"ux_{table}_record", table, ["record_id", "occurrence", "valid_from"],
                    unique=True)
    op.create_index(f"ix_{table}_valid_to", table, ["valid_to"])


def _views(name: str, columns: list[tuple[str, str, str]]) -> None:
    names = ", ".join(c[0] for c in columns)
    op.execute(f"CREATE VIEW {name}_current AS SELECT version_id, record_id, occurrence, "
               f"valid_from, valid_to, record_hash, {names} FROM {name}_history "
               f"WHERE valid_to IS NULL")
    # the as_of as a scalar subquery of batch.as_of, so SQLite declares it DATE
    op.execute(f"CREATE VIEW stg_{name} AS SELECT (SELECT b.as_of FROM batch b ORDER BY "
               f"b.as_of DESC LIMIT 1) AS as_of, {names} FROM {name}_history "
               f"WHERE valid_to IS NULL")


def _days(dialect: str, later: str, earlier: str) -> str:
    if dialect == "sqlite":
        return f"CAST(julianday({later}) - julianday({earlier}) AS INTEGER)"
    return f"({later} - {earlier})"


def spans_select(dialect: str) -> str:
    """The episodes of dq_issue over the published batches (as 0003's SPANS and 0006's
    dq_issue_episode computed them at every query), for dq_issue_span."""
    third = import_module("qa_pipeline.load.migrations.versions.0003_holds_exceptions_issue_lifecycle")
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
SELECT s.extract, s.rk, s.rule_id, s.ck, s.first_seen, s.last_seen, nb.as_of AS resolved_in,
       {_days(dialect, "nb.as_of", "s.first_seen")} AS days_to_fix,
       lb.seq - fb.seq + 1 AS batches,
       {_days(dialect, "s.last_seen", "s.first_seen")} AS age_days,
       CASE WHEN s.first_seen = s.last_seen THEN 'new' ELSE 'persisting' END AS status,
       l.record_id, l.column_name, l.severity, l.child_id, l.team_id
FROM spans s
JOIN batches fb ON fb.as_of = s.first_seen
JOIN batches lb ON lb.as_of = s.last_seen
JOIN last_rows l ON l.extract = s.extract AND l.rk = s.rk AND l.rule_id = s.rule_id
    AND l.ck = s.ck AND l.as_of = s.last_seen
LEFT JOIN batches nb ON nb.seq = lb.seq + 1
"""


SPAN_COLUMNS = ("extract, rk, rule_id, ck, first_seen, last_seen, resolved_in, days_to_fix, "
                "batches, age_days, status, record_id, column_name, severity, child_id, team_id")

SAME_SPAN = """s.extract = i.extract AND s.rk = COALESCE(i.record_id, '')
    AND s.rule_id = i.rule_id AND s.ck = COALESCE(i.column_name, '')"""

DQ_ISSUE_LATEST = f"""
SELECT i.issue_id, i.as_of, i.run_id, i.extract, i.record_id, i.child_id, i.team_id,
       i.rule_id, i.severity, i.column_name, i.value, i.message, i.source_row,
       i.root_rule_id, i.root_record_id,
       r.guidance, s.first_seen, s.status, s.age_days,
       (SELECT e.exception_id FROM dq_exception e
         WHERE e.removed_at IS NULL AND e.rule_id = i.rule_id AND e.extract = i.extract
           AND COALESCE(e.record_id, '') = COALESCE(i.record_id, '')
           AND (e.expires_on IS NULL OR e.expires_on >= i.as_of)
         ORDER BY e.exception_id LIMIT 1) AS exception_id
FROM dq_issue i
JOIN dq_issue_span s ON {SAME_SPAN} AND s.last_seen = i.as_of
LEFT JOIN dq_rule r ON r.rule_id = i.rule_id
WHERE i.as_of = (SELECT MAX(as_of) FROM batch)
"""

DQ_ISSUE_RESOLVED = f"""
WITH ranked AS (SELECT as_of, ROW_NUMBER() OVER (ORDER BY as_of DESC) AS rn FROM batch)
SELECT i.as_of AS last_seen, s.first_seen, (SELECT as_of FROM ranked WHERE rn = 1)
       AS resolved_in, i.extract, i.record_id, i.child_id, i.team_id, i.rule_id,
       i.severity, i.column_name, i.value, i.message
FROM dq_issue i
JOIN dq_issue_span s ON {SAME_SPAN} AND s.last_seen = i.as_of
WHERE i.as_of = (SELECT as_of FROM ranked WHERE rn = 2)
  AND NOT EXISTS (
      SELECT 1 FROM dq_issue l
      WHERE l.as_of = (SELECT as_of FROM ranked WHERE rn = 1)
        AND l.extract = i.extract AND COALESCE(l.record_id, '') = COALESCE(i.record_id, '')
        AND l.rule_id = i.rule_id AND COALESCE(l.column_name, '') = COALESCE(i.column_name, ''))
"""

DQ_ISSUE_EPISODE = """
SELECT s.extract, s.record_id, s.rule_id, s.column_name, s.severity, s.child_id, s.team_id,
       s.first_seen, s.last_seen, s.resolved_in, s.days_to_fix, s.batches
FROM dq_issue_span s
"""


def _period(name: str) -> str:
    return f"(SELECT t.period_type FROM dim_period_type t WHERE t.period_type = '{name}')"


INDICATOR_CASE_LATEST = f"""
SELECT (SELECT b.as_of FROM batch b ORDER BY b.as_of DESC LIMIT 1) AS as_of,
       c.indicator_code, i.title AS indicator_title, p.period_type,
       p.period_label, c.record_id, c.child_id, c.team_id, c.in_numerator, c.outcome,
       c.measure, c.event_date, i.unit, i.polarity, c.excluded_reason, c.extract,
       c.version_id
FROM indicator_case c
JOIN indicator i ON i.code = c.indicator_code
JOIN (
    SELECT case_id, {_period("month")} AS period_type, month AS period_label
    FROM indicator_case WHERE month IS NOT NULL
    UNION ALL
    SELECT case_id, {_period("quarter")}, quarter FROM indicator_case WHERE quarter IS NOT NULL
    UNION ALL
    SELECT case_id, {_period("year")}, year FROM indicator_case WHERE year IS NOT NULL
) p ON p.case_id = c.case_id
"""

OUTCOME = """CASE WHEN excluded_reason IS NOT NULL THEN 'excluded'
            WHEN in_numerator IS NULL THEN NULL
            WHEN in_numerator THEN 'counted' ELSE 'not counted' END"""

_TYPED_VIEWS = ("dq_issue_latest", "dq_issue_resolved", "dq_issue_episode",
                "indicator_case_latest")


def _typed_views_upgrade(dialect: str) -> None:
    for view in _TYPED_VIEWS:
        op.execute(f"DROP VIEW IF EXISTS {view}")
    op.create_table(
        "dq_issue_span",
        sa.Column("extract", sa.Text(), nullable=False),
        sa.Column("rk", sa.Text(), nullable=False),
        sa.Column("rule_id", sa.String(length=128), nullable=False),
        sa.Column("ck", sa.Text(), nullable=False),
        sa.Column("first_seen", sa.Date(), nullable=False),
        sa.Column("last_seen", sa.Date(), nullable=False),
        sa.Column("resolved_in", sa.Date(), nullable=True),
        sa.Column("days_to_fix", sa.Integer(), nullable=True),
        sa.Column("batches", sa.Integer(), nullable=False),
        sa.Column("age_days", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("record_id", sa.Text(), nullable=True),
        sa.Column("column_name", sa.Text(), nullable=True),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("child_id", sa.String(), nullable=True),
        sa.Column("team_id", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("extract", "rk", "rule_id", "ck", "first_seen",
                                name=op.f("pk_dq_issue_span")),
        comment="Episodes of the issues, recomputed by each publish from dq_issue and batch: "
                "the typed source of dq_issue_latest, dq_issue_resolved and dq_issue_episode.",
    )
    op.create_index("ix_dq_issue_span_last_seen", "dq_issue_span", ["last_seen"])
    op.execute(f"INSERT INTO dq_issue_span ({SPAN_COLUMNS}) {spans_select(dialect)}")
    op.create_table(
        "dim_period_type",
        sa.Column("period_type", sa.String(length=8), nullable=False),
        sa.Column("sort_order", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("period_type", name=op.f("pk_dim_period_type")),
        comment="The period types of indicator_value and indicator_case_latest: month, "
                "quarter, year (financial, from 1 April).",
    )
    op.execute("INSERT INTO dim_period_type (period_type, sort_order, description) VALUES "
               "('month', 1, 'A calendar month'), "
               "('quarter', 2, 'A financial quarter (Q1 = April to June)'), "
               "('year', 3, 'A financial year, 1 April to 31 March')")
    with op.batch_alter_table("indicator_case", schema=None) as batch_op:
        batch_op.add_column(sa.Column(
            "outcome", sa.String(length=16), nullable=True,
            comment="counted, not counted, or excluded (see excluded_reason); null for a "
                    "median's cases that count."))
        batch_op.add_column(sa.Column(
            "row_hash", sa.String(length=24), nullable=True,
            comment="Hash of the row's values but as_of: the publish writes only the rows "
                    "that changed."))
    op.execute(f"UPDATE indicator_case SET outcome = {OUTCOME}")
    op.execute(f"CREATE VIEW dq_issue_latest AS {DQ_ISSUE_LATEST}")
    op.execute(f"CREATE VIEW dq_issue_resolved AS {DQ_ISSUE_RESOLVED}")
    op.execute(f"CREATE VIEW dq_issue_episode AS {DQ_ISSUE_EPISODE}")
    op.execute(f"CREATE VIEW indicator_case_latest AS {INDICATOR_CASE_LATEST}")


def _typed_views_downgrade(dialect: str) -> None:
    sixth = import_module("qa_pipeline.load.migrations.versions.0006_root_causes")
    for view in _TYPED_VIEWS:
        op.execute(f"DROP VIEW IF EXISTS {view}")
    with op.batch_alter_table("indicator_case", schema=None) as batch_op:
        batch_op.drop_column("row_hash")
        batch_op.drop_column("outcome")
        batch_op.drop_column("version_id")
        batch_op.drop_column("extract")
    op.drop_table("dim_period_type")
    op.drop_table("dq_issue_span")
    op.execute(f"CREATE VIEW dq_issue_latest AS {sixth.dq_issue_latest(dialect)}")
    op.execute(f"CREATE VIEW dq_issue_resolved AS {sixth._third().DQ_ISSUE_RESOLVED}")
    op.execute(f"CREATE VIEW dq_issue_episode AS {sixth.dq_issue_episode(dialect)}")
    op.execute(f"CREATE VIEW indicator_case_latest AS {sixth.INDICATOR_CASE_LATEST}")


def upgrade() -> None:
    for name, (label, description, _key, _unique, columns) in EXTRACTS.items():
        op.drop_table(f"stg_{name}")
        _create_history(name, label, description, columns)
        _views(name, columns)
    op.create_table(
        "history_carried",
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("extract", sa.String(length=64), nullable=False),
        sa.Column("record_id", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("as_of", "extract", "record_id",
                                name=op.f("pk_history_carried")),
        comment="Records quarantined in a batch with no loaded row: their last loaded version "
                "stayed open (reporting-db.md 1.1, Record history). Read by the publish when "
                "a late batch recomputes the history.",
    )
    op.create_table(
        "dim_team",
        sa.Column("team_id", sa.String(), nullable=False),
        sa.Column("team_name", sa.Text(), nullable=True,
                  comment="Its name in the latest batch that delivered it."),
        sa.Column("service_area", sa.String(), nullable=True,
                  comment="Its service area in the latest batch that delivered it."),
        sa.Column("first_seen", sa.Date(), nullable=False,
                  comment="as_of of the first published batch that delivered it."),
        sa.Column("last_seen", sa.Date(), nullable=False,
                  comment="as_of of the last published batch that held it (its row "
                          "quarantined or the file missing that night counts as held: its "
                          "version stayed open)."),
        sa.PrimaryKeyConstraint("team_id", name=op.f("pk_dim_team")),
        comment="The teams for BI tools: one row per team_id ever delivered in teams.csv "
                "(reporting-db.md 1.1, Dimensions).",
    )
    with op.batch_alter_table("indicator_case", schema=None) as batch_op:
        batch_op.add_column(sa.Column(
            "extract", sa.String(length=64), nullable=True,
            comment="The extract the case's record is in (its history table: "
                    "<extract>_history)."))
        batch_op.add_column(sa.Column(
            "version_id", sa.Integer(), nullable=True,
            comment="The version of the record the case was computed from "
                    "(<extract>_history.version_id)."))
    # a plain ADD COLUMN (SQLite would otherwise rebuild batch, which views read)
    op.add_column("batch", sa.Column(
        "in_history", sa.Boolean(), nullable=False, server_default=sa.false(),
        comment="Whether the record history holds this batch (false: published before the "
                "history began; `qa-pipeline rebuild` replays it)."))
    _typed_views_upgrade(op.get_bind().dialect.name)


def downgrade() -> None:
    """Back to the staged copies, empty: the history is dropped (its batches can be
    replayed with the older code)."""
    for view in (*_TYPED_VIEWS, *(f"stg_{name}" for name in EXTRACTS)):  # they read batch
        op.execute(f"DROP VIEW IF EXISTS {view}")
    with op.batch_alter_table("batch", schema=None) as batch_op:
        batch_op.drop_column("in_history")
    _typed_views_downgrade(op.get_bind().dialect.name)
    op.drop_table("dim_team")
    op.drop_table("history_carried")
    for name, (label, description, key, unique, columns) in EXTRACTS.items():
        op.execute(f"DROP VIEW IF EXISTS stg_{name}")
        op.execute(f"DROP VIEW IF EXISTS {name}_current")
        op.drop_table(f"{name}_history")
        op.create_table(
            f"stg_{name}",
            sa.Column("as_of", sa.Date(), nullable=False, comment="The batch's extract date."),
            sa.Column("source_row", sa.Integer(), nullable=False,
                      comment="Record number in the delivered file (1 = first after the "
                              "header)."),
            *_contract_columns(columns),
            sa.PrimaryKeyConstraint("as_of", "source_row", name=op.f(f"pk_stg_{name}")),
            comment=f"Staged {name}: one row per loaded {label} per batch. {description}",
        )
        if unique:
            op.create_index(f"ux_stg_{name}_key", f"stg_{name}", ["as_of", *key], unique=True)
