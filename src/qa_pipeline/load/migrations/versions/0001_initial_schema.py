"""initial schema: staged tables, data quality, runs

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Views live in the migrations: a changed view is a new migration (reporting-db.md: a
# published interface changes only with a new version).
DQ_ISSUE_LATEST = """
WITH batches AS (
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
)
SELECT i.issue_id, i.as_of, i.run_id, i.extract, i.record_id, i.child_id, i.team_id,
       i.rule_id, i.severity, i.column_name, i.value, i.message, i.source_row,
       s.first_seen,
       CASE WHEN s.first_seen = i.as_of THEN 'new' ELSE 'persisting' END AS status
FROM dq_issue i
JOIN spans s ON s.extract = i.extract AND s.rk = COALESCE(i.record_id, '')
    AND s.rule_id = i.rule_id AND s.ck = COALESCE(i.column_name, '') AND s.last_seen = i.as_of
WHERE i.as_of = (SELECT MAX(as_of) FROM batch)
"""


def upgrade() -> None:
    op.create_table(
        "batch",
        sa.Column("as_of", sa.Date(), nullable=False, comment="The batch's extract date."),
        sa.Column(
            "run_id",
            sa.String(length=36),
            nullable=False,
            comment="The run that last published the batch.",
        ),
        sa.Column("published_at", sa.DateTime(), nullable=False, comment="When (UTC)."),
        sa.Column(
            "content_sha256",
            sa.String(length=64),
            nullable=False,
            comment="Checksum over the batch's files: a changed delivery is reprocessed.",
        ),
        sa.Column(
            "batch_path", sa.Text(), nullable=True, comment="Where the batch folder was read from."
        ),
        sa.PrimaryKeyConstraint("as_of", name=op.f("pk_batch")),
        comment="One row per published batch.",
    )
    op.create_table(
        "dq_issue",
        sa.Column("issue_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False, comment="The batch's extract date."),
        sa.Column("run_id", sa.String(length=36), nullable=False),
        sa.Column(
            "extract",
            sa.String(length=128),
            nullable=False,
            comment="The extract, or the file name for a file-level issue.",
        ),
        sa.Column(
            "record_id",
            sa.Text(),
            nullable=True,
            comment="The record's key as delivered (| between parts).",
        ),
        sa.Column("child_id", sa.String(), nullable=True),
        sa.Column("team_id", sa.String(), nullable=True),
        sa.Column("rule_id", sa.String(length=128), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("column_name", sa.Text(), nullable=True),
        sa.Column(
            "value",
            sa.String(length=200),
            nullable=True,
            comment="As delivered, cut to 200 characters.",
        ),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column(
            "source_row",
            sa.Integer(),
            nullable=True,
            comment="Record number in the delivered file.",
        ),
        sa.PrimaryKeyConstraint("issue_id", name=op.f("pk_dq_issue")),
        comment="One row per (batch, record, rule) that failed.",
    )
    with op.batch_alter_table("dq_issue", schema=None) as batch_op:
        batch_op.create_index("ix_dq_issue_as_of_rule", ["as_of", "rule_id"], unique=False)
        batch_op.create_index(
            "ix_dq_issue_record", ["extract", "record_id", "rule_id"], unique=False
        )

    op.create_table(
        "dq_rule",
        sa.Column("rule_id", sa.String(length=128), nullable=False),
        sa.Column("extract", sa.String(length=64), nullable=False),
        sa.Column("column_name", sa.Text(), nullable=True),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("level", sa.String(length=8), nullable=False, comment="file or row."),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("guidance", sa.Text(), nullable=False, comment="How to put it right in Paris."),
        sa.PrimaryKeyConstraint("rule_id", name=op.f("pk_dq_rule")),
        comment="The rule catalogue, generated from the contracts.",
    )
    op.create_table(
        "pipeline_run",
        sa.Column("run_id", sa.String(length=36), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False, comment="The batch's extract date."),
        sa.Column("started_at", sa.DateTime(), nullable=False, comment="UTC."),
        sa.Column(
            "finished_at",
            sa.DateTime(),
            nullable=True,
            comment="UTC; null if the run never finished.",
        ),
        sa.Column(
            "status",
            sa.String(length=32),
            nullable=False,
            comment="succeeded, succeeded_with_issues or failed.",
        ),
        sa.Column(
            "exit_code", sa.Integer(), nullable=True, comment="The CLI's exit status for this run."
        ),
        sa.Column("message", sa.Text(), nullable=True, comment="Summary, or why the run failed."),
        sa.Column("rows_read", sa.Integer(), nullable=True),
        sa.Column("rows_loaded", sa.Integer(), nullable=True),
        sa.Column("rows_quarantined", sa.Integer(), nullable=True),
        sa.Column("code_version", sa.String(length=64), nullable=False),
        sa.Column("contract_version", sa.Integer(), nullable=True),
        sa.Column("batch_path", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_pipeline_run")),
        comment="One row per run; per-extract counts in pipeline_run_extract.",
    )
    op.create_table(
        "pipeline_run_extract",
        sa.Column("run_id", sa.String(length=36), nullable=False),
        sa.Column("extract", sa.String(length=64), nullable=False),
        sa.Column("file_name", sa.Text(), nullable=True),
        sa.Column(
            "status", sa.String(length=16), nullable=False, comment="loaded, rejected or missing."
        ),
        sa.Column("rows_read", sa.Integer(), nullable=False),
        sa.Column("rows_loaded", sa.Integer(), nullable=False),
        sa.Column("rows_quarantined", sa.Integer(), nullable=False),
        sa.Column("warnings", sa.Integer(), nullable=False),
        sa.Column("encoding", sa.String(length=16), nullable=True),
        sa.Column(
            "sha256", sa.String(length=64), nullable=True, comment="Checksum of the delivered file."
        ),
        sa.Column(
            "reason", sa.Text(), nullable=True, comment="Why the file was rejected or missing."
        ),
        sa.PrimaryKeyConstraint("run_id", "extract", name=op.f("pk_pipeline_run_extract")),
        comment="Per-extract row counts of each run.",
    )
    op.create_table(
        "stg_assessments",
        sa.Column("as_of", sa.Date(), nullable=False, comment="The batch's extract date."),
        sa.Column(
            "source_row",
            sa.Integer(),
            nullable=False,
            comment="Record number in the delivered file (1 = first after the header).",
        ),
        sa.Column(
            "assessment_id",
            sa.String(),
            nullable=True,
            comment="The assessment's pseudonymised identifier.",
        ),
        sa.Column(
            "referral_id",
            sa.String(),
            nullable=True,
            comment="The referral the assessment follows.",
        ),
        sa.Column(
            "child_id",
            sa.String(),
            nullable=True,
            comment="The child assessed; the same child as the referral's.",
        ),
        sa.Column(
            "assessment_type", sa.String(), nullable=True, comment="Initial or core assessment."
        ),
        sa.Column("start_date", sa.Date(), nullable=True, comment="When the assessment started."),
        sa.Column(
            "completed_date",
            sa.Date(),
            nullable=True,
            comment="When the assessment was completed (blank while in progress).",
        ),
        sa.Column(
            "authorised_date",
            sa.Date(),
            nullable=True,
            comment="When a manager authorised the completed assessment.",
        ),
        sa.Column(
            "child_seen",
            sa.String(),
            nullable=True,
            comment="The child was seen during the assessment.",
        ),
        sa.Column(
            "child_seen_alone",
            sa.String(),
            nullable=True,
            comment="The child was seen alone during the assessment.",
        ),
        sa.Column(
            "father_involved",
            sa.String(),
            nullable=True,
            comment="The father was involved in the assessment (NA = no father figure known, or his involvement was judged unsafe).",
        ),
        sa.Column("outcome", sa.String(), nullable=True, comment="What the assessment led to."),
        sa.Column(
            "team_id",
            sa.String(),
            nullable=True,
            comment="The team that carried out the assessment.",
        ),
        sa.Column(
            "worker_id",
            sa.String(),
            nullable=True,
            comment="The pseudonymised worker who carried out the assessment.",
        ),
        sa.PrimaryKeyConstraint("as_of", "source_row", name=op.f("pk_stg_assessments")),
        comment="Staged assessments: one row per loaded assessment per batch. Initial and core assessments of children.",
    )
    with op.batch_alter_table("stg_assessments", schema=None) as batch_op:
        batch_op.create_index("ux_stg_assessments_key", ["as_of", "assessment_id"], unique=True)

    op.create_table(
        "stg_cin_plans",
        sa.Column("as_of", sa.Date(), nullable=False, comment="The batch's extract date."),
        sa.Column(
            "source_row",
            sa.Integer(),
            nullable=False,
            comment="Record number in the delivered file (1 = first after the header).",
        ),
        sa.Column(
            "cin_plan_id",
            sa.String(),
            nullable=True,
            comment="The plan's pseudonymised identifier.",
        ),
        sa.Column("child_id", sa.String(), nullable=True, comment="The child on the plan."),
        sa.Column(
            "assessment_id",
            sa.String(),
            nullable=True,
            comment="The assessment that led to the plan.",
        ),
        sa.Column("start_date", sa.Date(), nullable=True, comment="When the plan started."),
        sa.Column(
            "end_date", sa.Date(), nullable=True, comment="When the plan ended (blank while open)."
        ),
        sa.Column(
            "outcomes_recorded",
            sa.Integer(),
            nullable=True,
            comment="The number of outcomes written into the plan.",
        ),
        sa.Column(
            "multi_agency_at_start",
            sa.String(),
            nullable=True,
            comment="Other agencies were engaged at the initial planning stage.",
        ),
        sa.Column(
            "closure_outcome",
            sa.String(),
            nullable=True,
            comment="What had changed for the child when the plan closed.",
        ),
        sa.Column(
            "team_id", sa.String(), nullable=True, comment="The team responsible for the plan."
        ),
        sa.PrimaryKeyConstraint("as_of", "source_row", name=op.f("pk_stg_cin_plans")),
        comment="Staged cin_plans: one row per loaded child in need plan per batch. Child in need plans.",
    )
    with op.batch_alter_table("stg_cin_plans", schema=None) as batch_op:
        batch_op.create_index("ux_stg_cin_plans_key", ["as_of", "cin_plan_id"], unique=True)

    op.create_table(
        "stg_cin_reviews",
        sa.Column("as_of", sa.Date(), nullable=False, comment="The batch's extract date."),
        sa.Column(
            "source_row",
            sa.Integer(),
            nullable=False,
            comment="Record number in the delivered file (1 = first after the header).",
        ),
        sa.Column(
            "review_id",
            sa.String(),
            nullable=True,
            comment="The review's pseudonymised identifier.",
        ),
        sa.Column("cin_plan_id", sa.String(), nullable=True, comment="The plan reviewed."),
        sa.Column(
            "child_id",
            sa.String(),
            nullable=True,
            comment="The child on the plan; the same child as the plan's.",
        ),
        sa.Column("review_date", sa.Date(), nullable=True, comment="When the review was held."),
        sa.Column(
            "child_participated",
            sa.String(),
            nullable=True,
            comment="The child took part in the review.",
        ),
        sa.Column(
            "multi_agency_attended",
            sa.String(),
            nullable=True,
            comment="Other agencies attended the review.",
        ),
        sa.Column(
            "progress_recorded",
            sa.String(),
            nullable=True,
            comment="The review assessed implementation, progress and outcomes.",
        ),
        sa.PrimaryKeyConstraint("as_of", "source_row", name=op.f("pk_stg_cin_reviews")),
        comment="Staged cin_reviews: one row per loaded child in need review per batch. Reviews of child in need plans.",
    )
    with op.batch_alter_table("stg_cin_reviews", schema=None) as batch_op:
        batch_op.create_index("ux_stg_cin_reviews_key", ["as_of", "review_id"], unique=True)

    op.create_table(
        "stg_conference_attendance",
        sa.Column("as_of", sa.Date(), nullable=False, comment="The batch's extract date."),
        sa.Column(
            "source_row",
            sa.Integer(),
            nullable=False,
            comment="Record number in the delivered file (1 = first after the header).",
        ),
        sa.Column("conference_id", sa.String(), nullable=True, comment="The conference."),
        sa.Column(
            "child_id", sa.String(), nullable=True, comment="The child whose conference it was."
        ),
        sa.Column(
            "attendee_role",
            sa.String(),
            nullable=True,
            comment="The attendee's role (family or professional).",
        ),
        sa.Column(
            "person_id",
            sa.String(),
            nullable=True,
            comment="The family member (blank for professionals).",
        ),
        sa.Column("invited", sa.String(), nullable=True, comment="The attendee was invited."),
        sa.Column("attended", sa.String(), nullable=True, comment="The attendee attended."),
        sa.Column(
            "report_submitted",
            sa.String(),
            nullable=True,
            comment="The attendee submitted a report to the conference.",
        ),
        sa.PrimaryKeyConstraint("as_of", "source_row", name=op.f("pk_stg_conference_attendance")),
        comment="Staged conference_attendance: one row per loaded conference invitation and attendance per batch. Who was invited to and attended each child's conference.",
    )
    op.create_table(
        "stg_cp_conferences",
        sa.Column("as_of", sa.Date(), nullable=False, comment="The batch's extract date."),
        sa.Column(
            "source_row",
            sa.Integer(),
            nullable=False,
            comment="Record number in the delivered file (1 = first after the header).",
        ),
        sa.Column(
            "conference_id",
            sa.String(),
            nullable=True,
            comment="The conference's pseudonymised identifier (shared by siblings conferenced together).",
        ),
        sa.Column(
            "child_id",
            sa.String(),
            nullable=True,
            comment="The child conferenced; for an initial conference, the same child as the strategy discussion's.",
        ),
        sa.Column(
            "conference_type",
            sa.String(),
            nullable=True,
            comment="Initial, review or transfer-in conference.",
        ),
        sa.Column(
            "conference_date", sa.Date(), nullable=True, comment="When the conference was held."
        ),
        sa.Column(
            "strategy_id",
            sa.String(),
            nullable=True,
            comment="The strategy discussion that led to an initial conference.",
        ),
        sa.Column(
            "outcome",
            sa.String(),
            nullable=True,
            comment="What the conference decided about the child protection plan.",
        ),
        sa.Column(
            "team_id",
            sa.String(),
            nullable=True,
            comment="The team responsible for the conference.",
        ),
        sa.PrimaryKeyConstraint("as_of", "source_row", name=op.f("pk_stg_cp_conferences")),
        comment="Staged cp_conferences: one row per loaded child protection conference per batch. Child protection conferences, one row per child per conference.",
    )
    with op.batch_alter_table("stg_cp_conferences", schema=None) as batch_op:
        batch_op.create_index(
            "ux_stg_cp_conferences_key", ["as_of", "conference_id", "child_id"], unique=True
        )

    op.create_table(
        "stg_cp_plans",
        sa.Column("as_of", sa.Date(), nullable=False, comment="The batch's extract date."),
        sa.Column(
            "source_row",
            sa.Integer(),
            nullable=False,
            comment="Record number in the delivered file (1 = first after the header).",
        ),
        sa.Column(
            "cp_plan_id", sa.String(), nullable=True, comment="The plan's pseudonymised identifier."
        ),
        sa.Column("child_id", sa.String(), nullable=True, comment="The child on the plan."),
        sa.Column("start_date", sa.Date(), nullable=True, comment="When the plan started."),
        sa.Column(
            "end_date", sa.Date(), nullable=True, comment="When the plan ended (blank while open)."
        ),
        sa.Column(
            "category", sa.String(), nullable=True, comment="The category of abuse or neglect."
        ),
        sa.Column(
            "initial_conference_id",
            sa.String(),
            nullable=True,
            comment="The initial conference that started the plan.",
        ),
        sa.Column(
            "team_id", sa.String(), nullable=True, comment="The team responsible for the plan."
        ),
        sa.PrimaryKeyConstraint("as_of", "source_row", name=op.f("pk_stg_cp_plans")),
        comment="Staged cp_plans: one row per loaded child protection plan per batch. Child protection plans.",
    )
    with op.batch_alter_table("stg_cp_plans", schema=None) as batch_op:
        batch_op.create_index("ux_stg_cp_plans_key", ["as_of", "cp_plan_id"], unique=True)

    op.create_table(
        "stg_fit_referrals",
        sa.Column("as_of", sa.Date(), nullable=False, comment="The batch's extract date."),
        sa.Column(
            "source_row",
            sa.Integer(),
            nullable=False,
            comment="Record number in the delivered file (1 = first after the header).",
        ),
        sa.Column(
            "fit_referral_id",
            sa.String(),
            nullable=True,
            comment="The FIT referral's pseudonymised identifier.",
        ),
        sa.Column("child_id", sa.String(), nullable=True, comment="The child referred."),
        sa.Column(
            "referral_date",
            sa.Date(),
            nullable=True,
            comment="When the referral to the team was made.",
        ),
        sa.Column(
            "tasks_outcomes_defined",
            sa.String(),
            nullable=True,
            comment="The referral set out clear tasks and outcomes.",
        ),
        sa.Column("start_date", sa.Date(), nullable=True, comment="When the team's work started."),
        sa.Column("end_date", sa.Date(), nullable=True, comment="When the team's work ended."),
        sa.Column(
            "outcome_achieved",
            sa.String(),
            nullable=True,
            comment="Whether the work achieved its outcomes.",
        ),
        sa.Column(
            "team_id", sa.String(), nullable=True, comment="The team that received the referral."
        ),
        sa.PrimaryKeyConstraint("as_of", "source_row", name=op.f("pk_stg_fit_referrals")),
        comment="Staged fit_referrals: one row per loaded Family Intervention Team referral per batch. Referrals to the Family Intervention Team.",
    )
    with op.batch_alter_table("stg_fit_referrals", schema=None) as batch_op:
        batch_op.create_index("ux_stg_fit_referrals_key", ["as_of", "fit_referral_id"], unique=True)

    op.create_table(
        "stg_persons",
        sa.Column("as_of", sa.Date(), nullable=False, comment="The batch's extract date."),
        sa.Column(
            "source_row",
            sa.Integer(),
            nullable=False,
            comment="Record number in the delivered file (1 = first after the header).",
        ),
        sa.Column(
            "person_id",
            sa.String(),
            nullable=True,
            comment="The person's pseudonymised identifier.",
        ),
        sa.Column(
            "person_type",
            sa.String(),
            nullable=True,
            comment="Whether the person is a child, an unborn child or an adult.",
        ),
        sa.Column("sex", sa.String(), nullable=True, comment="The person's recorded sex."),
        sa.Column(
            "date_of_birth",
            sa.Date(),
            nullable=True,
            comment="Date of birth, anonymised to the first of the month.",
        ),
        sa.Column(
            "expected_date_of_birth",
            sa.Date(),
            nullable=True,
            comment="Expected date of birth of an unborn child (may be in the future).",
        ),
        sa.Column(
            "date_of_death",
            sa.Date(),
            nullable=True,
            comment="Date of death, where the person has died.",
        ),
        sa.Column(
            "ethnicity", sa.String(), nullable=True, comment="Ethnicity (Welsh Government codes)."
        ),
        sa.Column(
            "disability",
            sa.String(),
            nullable=True,
            comment="Whether the person has a disability (U = unknown).",
        ),
        sa.Column(
            "name_recorded",
            sa.String(),
            nullable=True,
            comment="The person's name is held in Paris (the name itself is not extracted).",
        ),
        sa.Column(
            "dob_recorded",
            sa.String(),
            nullable=True,
            comment="The person's date of birth is held in Paris.",
        ),
        sa.Column(
            "address_recorded",
            sa.String(),
            nullable=True,
            comment="The person's current address is held in Paris.",
        ),
        sa.Column(
            "contact_recorded",
            sa.String(),
            nullable=True,
            comment="A phone number or e-mail address is held in Paris.",
        ),
        sa.PrimaryKeyConstraint("as_of", "source_row", name=op.f("pk_stg_persons")),
        comment="Staged persons: one row per loaded person per batch. Children, unborn children and the adults related to them. Names, addresses and contact details are never extracted; only whether Paris holds them.",
    )
    with op.batch_alter_table("stg_persons", schema=None) as batch_op:
        batch_op.create_index("ux_stg_persons_key", ["as_of", "person_id"], unique=True)

    op.create_table(
        "stg_referrals",
        sa.Column("as_of", sa.Date(), nullable=False, comment="The batch's extract date."),
        sa.Column(
            "source_row",
            sa.Integer(),
            nullable=False,
            comment="Record number in the delivered file (1 = first after the header).",
        ),
        sa.Column(
            "referral_id",
            sa.String(),
            nullable=True,
            comment="The referral's pseudonymised identifier.",
        ),
        sa.Column("child_id", sa.String(), nullable=True, comment="The child referred."),
        sa.Column(
            "referral_datetime",
            sa.DateTime(),
            nullable=True,
            comment="When the referral was received (UK local time as delivered; stored as UTC).",
        ),
        sa.Column("referral_source", sa.String(), nullable=True, comment="Who made the referral."),
        sa.Column(
            "team_id", sa.String(), nullable=True, comment="The team that received the referral."
        ),
        sa.Column(
            "decision_date",
            sa.Date(),
            nullable=True,
            comment="When the decision on the referral was made (blank while awaiting one).",
        ),
        sa.Column(
            "decision", sa.String(), nullable=True, comment="The decision made on the referral."
        ),
        sa.Column(
            "previous_referrals_checked",
            sa.String(),
            nullable=True,
            comment="The decision shows earlier referrals were taken into account.",
        ),
        sa.Column(
            "risk_analysis_recorded",
            sa.String(),
            nullable=True,
            comment="The decision is based on a recorded analysis of risk.",
        ),
        sa.Column(
            "management_decision_recorded",
            sa.String(),
            nullable=True,
            comment="A management decision sheet is recorded.",
        ),
        sa.Column(
            "referrer_informed_date",
            sa.Date(),
            nullable=True,
            comment="When the referrer was told the outcome of the referral.",
        ),
        sa.PrimaryKeyConstraint("as_of", "source_row", name=op.f("pk_stg_referrals")),
        comment="Staged referrals: one row per loaded referral per batch. Referrals received at the front door, with the decision made on each.",
    )
    with op.batch_alter_table("stg_referrals", schema=None) as batch_op:
        batch_op.create_index("ux_stg_referrals_key", ["as_of", "referral_id"], unique=True)

    op.create_table(
        "stg_relationships",
        sa.Column("as_of", sa.Date(), nullable=False, comment="The batch's extract date."),
        sa.Column(
            "source_row",
            sa.Integer(),
            nullable=False,
            comment="Record number in the delivered file (1 = first after the header).",
        ),
        sa.Column(
            "relationship_id",
            sa.String(),
            nullable=True,
            comment="The relationship's pseudonymised identifier.",
        ),
        sa.Column(
            "child_id",
            sa.String(),
            nullable=True,
            comment="The child (or unborn child) the relationship is recorded for.",
        ),
        sa.Column(
            "related_person_id",
            sa.String(),
            nullable=True,
            comment="The person related to the child.",
        ),
        sa.Column(
            "relationship_type",
            sa.String(),
            nullable=True,
            comment="How the person is related to the child.",
        ),
        sa.Column(
            "parental_responsibility",
            sa.String(),
            nullable=True,
            comment="Whether the person holds parental responsibility for the child.",
        ),
        sa.Column(
            "lives_with_child",
            sa.String(),
            nullable=True,
            comment="Whether the person lives with the child.",
        ),
        sa.Column(
            "start_date",
            sa.Date(),
            nullable=True,
            comment="When the relationship began (blank = always).",
        ),
        sa.Column(
            "end_date",
            sa.Date(),
            nullable=True,
            comment="When the relationship ended (blank = still active).",
        ),
        sa.PrimaryKeyConstraint("as_of", "source_row", name=op.f("pk_stg_relationships")),
        comment="Staged relationships: one row per loaded relationship per batch. How an adult or another child is related to a child (fathers, mothers, carers).",
    )
    with op.batch_alter_table("stg_relationships", schema=None) as batch_op:
        batch_op.create_index("ux_stg_relationships_key", ["as_of", "relationship_id"], unique=True)

    op.create_table(
        "stg_strategy_discussions",
        sa.Column("as_of", sa.Date(), nullable=False, comment="The batch's extract date."),
        sa.Column(
            "source_row",
            sa.Integer(),
            nullable=False,
            comment="Record number in the delivered file (1 = first after the header).",
        ),
        sa.Column(
            "strategy_id",
            sa.String(),
            nullable=True,
            comment="The strategy discussion's pseudonymised identifier.",
        ),
        sa.Column(
            "referral_id",
            sa.String(),
            nullable=True,
            comment="The referral the discussion was held on.",
        ),
        sa.Column(
            "child_id",
            sa.String(),
            nullable=True,
            comment="The child discussed; the same child as the referral's.",
        ),
        sa.Column(
            "strategy_date",
            sa.Date(),
            nullable=True,
            comment="When the strategy discussion was held.",
        ),
        sa.Column(
            "s47_outcome",
            sa.String(),
            nullable=True,
            comment="The outcome of the section 47 enquiry.",
        ),
        sa.Column(
            "team_id", sa.String(), nullable=True, comment="The team that held the discussion."
        ),
        sa.PrimaryKeyConstraint("as_of", "source_row", name=op.f("pk_stg_strategy_discussions")),
        comment="Staged strategy_discussions: one row per loaded strategy discussion per batch. Strategy discussions held on referrals (section 47 enquiries).",
    )
    with op.batch_alter_table("stg_strategy_discussions", schema=None) as batch_op:
        batch_op.create_index(
            "ux_stg_strategy_discussions_key", ["as_of", "strategy_id"], unique=True
        )

    op.create_table(
        "stg_teams",
        sa.Column("as_of", sa.Date(), nullable=False, comment="The batch's extract date."),
        sa.Column(
            "source_row",
            sa.Integer(),
            nullable=False,
            comment="Record number in the delivered file (1 = first after the header).",
        ),
        sa.Column(
            "team_id", sa.String(), nullable=True, comment="The team's pseudonymised identifier."
        ),
        sa.Column(
            "team_name", sa.Text(), nullable=True, comment="The team's name as shown in Paris."
        ),
        sa.Column(
            "service_area", sa.String(), nullable=True, comment="The service the team belongs to."
        ),
        sa.PrimaryKeyConstraint("as_of", "source_row", name=op.f("pk_stg_teams")),
        comment="Staged teams: one row per loaded team per batch. The teams that own referrals, assessments, conferences and plans.",
    )
    with op.batch_alter_table("stg_teams", schema=None) as batch_op:
        batch_op.create_index("ux_stg_teams_key", ["as_of", "team_id"], unique=True)

    op.execute(f"CREATE VIEW dq_issue_latest AS {DQ_ISSUE_LATEST}")


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS dq_issue_latest")
    with op.batch_alter_table("stg_teams", schema=None) as batch_op:
        batch_op.drop_index("ux_stg_teams_key")

    op.drop_table("stg_teams")
    with op.batch_alter_table("stg_strategy_discussions", schema=None) as batch_op:
        batch_op.drop_index("ux_stg_strategy_discussions_key")

    op.drop_table("stg_strategy_discussions")
    with op.batch_alter_table("stg_relationships", schema=None) as batch_op:
        batch_op.drop_index("ux_stg_relationships_key")

    op.drop_table("stg_relationships")
    with op.batch_alter_table("stg_referrals", schema=None) as batch_op:
        batch_op.drop_index("ux_stg_referrals_key")

    op.drop_table("stg_referrals")
    with op.batch_alter_table("stg_persons", schema=None) as batch_op:
        batch_op.drop_index("ux_stg_persons_key")

    op.drop_table("stg_persons")
    with op.batch_alter_table("stg_fit_referrals", schema=None) as batch_op:
        batch_op.drop_index("ux_stg_fit_referrals_key")

    op.drop_table("stg_fit_referrals")
    with op.batch_alter_table("stg_cp_plans", schema=None) as batch_op:
        batch_op.drop_index("ux_stg_cp_plans_key")

    op.drop_table("stg_cp_plans")
    with op.batch_alter_table("stg_cp_conferences", schema=None) as batch_op:
        batch_op.drop_index("ux_stg_cp_conferences_key")

    op.drop_table("stg_cp_conferences")
    op.drop_table("stg_conference_attendance")
    with op.batch_alter_table("stg_cin_reviews", schema=None) as batch_op:
        batch_op.drop_index("ux_stg_cin_reviews_key")

    op.drop_table("stg_cin_reviews")
    with op.batch_alter_table("stg_cin_plans", schema=None) as batch_op:
        batch_op.drop_index("ux_stg_cin_plans_key")

    op.drop_table("stg_cin_plans")
    with op.batch_alter_table("stg_assessments", schema=None) as batch_op:
        batch_op.drop_index("ux_stg_assessments_key")

    op.drop_table("stg_assessments")
    op.drop_table("pipeline_run_extract")
    op.drop_table("pipeline_run")
    op.drop_table("dq_rule")
    with op.batch_alter_table("dq_issue", schema=None) as batch_op:
        batch_op.drop_index("ix_dq_issue_record")
        batch_op.drop_index("ix_dq_issue_as_of_rule")

    op.drop_table("dq_issue")
    op.drop_table("batch")
