"""record history: <extract>_history and _current, stg_<extract> as views, dim_team

Each extract's nightly copies (`stg_<extract>`, the newest `keep_batches` batches) give way to
`<extract>_history`, one row per version of a record with valid_from/valid_to
(reporting-db.md 1.1, Record history), and `<extract>_current`, the versions still open.
`stg_<extract>` becomes a view of the current versions with the latest published batch's
as_of, for the reports that read it (`source_row` is gone: a version spans many files).
`history_carried` remembers the records quarantined in a batch (their versions stayed open);
`dim_team` lists every team delivered; `indicator_case` gains the extract and version_id of
the record each case was computed from.

The history starts empty: the kept staged batches are dropped, and the next published batch
opens a version for each of its records (`qa-pipeline rebuild LANDING` replays every delivered
batch for the full history). The table definitions below are frozen copies of the contracts
of this revision (extracts.yaml, contract version 1).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from collections.abc import Sequence

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


def downgrade() -> None:
    """Back to the staged copies, empty: the history is dropped (its batches can be
    replayed with the older code)."""
    with op.batch_alter_table("indicator_case", schema=None) as batch_op:
        batch_op.drop_column("version_id")
        batch_op.drop_column("extract")
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
