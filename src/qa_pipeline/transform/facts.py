"""Intermediate layer: one case-level fact table per subject, joining the staged extracts and
deriving the fields the indicators count (`decision_within_1wd`, `core_start_delay_wd`, ...).

Every builder is a plain function of the staged frames (loaded rows only) and the indicator
configuration; all derivations are polars expressions over whole columns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import polars as pl

from qa_pipeline.ingest.validation import LOCAL_TZ
from qa_pipeline.transform.calendar import add_months, bank_holidays, periods_between, working_days

FATHER_FIGURES = ("BIRTH_FATHER", "ADOPTIVE_FATHER", "STEP_FATHER", "MALE_CARER")
FATHER_ROLES = ("FATHER", "MALE_CARER")

Staged = dict[str, pl.DataFrame]


DEPENDENT_SCHEMA: dict[str, pl.DataType] = {
    "extract": pl.String(), "column_name": pl.String(), "record_id": pl.String(),
    "root_rule_id": pl.String(), "root_record_id": pl.String()}
"""The dependent rows of a batch (extracts.md, "Severity"): each loaded row whose reference
(column_name) names a quarantined record, and that record's root cause."""


def no_dependents() -> pl.DataFrame:
    return pl.DataFrame(schema=DEPENDENT_SCHEMA)


@dataclass(frozen=True)
class Context:
    """What every fact builder needs besides the data."""

    as_of: date
    timescales: dict[str, int]
    holidays: tuple[date, ...]
    dependents: pl.DataFrame = field(default_factory=no_dependents)

    def wd(self, a: pl.Expr, b: pl.Expr) -> pl.Expr:
        return working_days(a, b, self.holidays)

    def t(self, name: str) -> int:
        return int(self.timescales[name])

    def quarantined_parent(self, frame: pl.DataFrame, extract: str, column: str, on: str,
                           alias: str) -> pl.DataFrame:
        """`frame` with a column `alias`: why the record (its key in column `on`) depends on a
        quarantined record through `column` — "<column> <root record> was quarantined
        (<root rule>)" — or null where it does not (indicators.md, "Dependent rows")."""
        deps = self.dependents.filter(
            (pl.col("extract") == extract) & (pl.col("column_name") == column)
        ).select(
            pl.col("record_id").alias(on),
            pl.format("{} {} was quarantined ({})", pl.lit(column), pl.col("root_record_id"),
                      pl.col("root_rule_id")).alias(alias),
        ).unique(on, keep="first")
        return frame.join(deps.cast({on: frame.schema[on]}), on=on, how="left",
                          maintain_order="left")


def make_context(as_of: date, timescales: dict[str, int], first_year: int = 2000,
                 dependents: pl.DataFrame | None = None) -> Context:
    return Context(as_of, timescales, tuple(bank_holidays(first_year, as_of.year + 2)),
                   no_dependents() if dependents is None else dependents)


def _local_date(col: str) -> pl.Expr:
    return pl.col(col).dt.convert_time_zone(LOCAL_TZ).dt.date()


def referral_facts(s: Staged, ctx: Context) -> pl.DataFrame:
    r = s["referrals"].with_columns(_local_date("referral_datetime").alias("referral_date"))
    # The latest strictly earlier referral of the same child (ties on the datetime are not
    # "earlier"): shift over the child's distinct referral datetimes.
    distinct = (
        r.select("child_id", "referral_datetime", "referral_date")
        .unique(["child_id", "referral_datetime"])
        .sort(["child_id", "referral_datetime"])
        .with_columns(pl.col("referral_date").shift(1).over("child_id")
                      .alias("previous_referral_date"))
        .select("child_id", "referral_datetime", "previous_referral_date")
    )
    r = r.join(distinct, on=["child_id", "referral_datetime"], how="left")
    decision_wd = ctx.wd(pl.col("referral_date"), pl.col("decision_date"))
    informed_wd = ctx.wd(pl.col("decision_date"), pl.col("referrer_informed_date"))
    return r.select(
        "referral_id", "child_id", "team_id", "referral_date", "referral_source",
        "decision_date", "decision",
        decision_wd.alias("decision_wd"),
        (decision_wd <= ctx.t("decision_working_days")).fill_null(False)
        .alias("decision_within_timescale"),
        pl.col("previous_referral_date").is_not_null().alias("has_previous_referral"),
        (pl.col("previous_referral_date")
         >= add_months(pl.col("referral_date"), -ctx.t("rereferral_months")))
        .fill_null(False).alias("is_rereferral"),
        "previous_referrals_checked", "management_decision_recorded", "risk_analysis_recorded",
        "referrer_informed_date",
        informed_wd.alias("referrer_informed_wd"),
        (informed_wd <= ctx.t("referrer_informed_working_days")).fill_null(False)
        .alias("referrer_informed_within_timescale"),
    )


def assessment_facts(s: Staged, ctx: Context) -> pl.DataFrame:
    # A dependent assessment (its referral quarantined) has no referral date, and its
    # initial assessment starts no core's delay (indicators.md, "Dependent rows").
    a = ctx.quarantined_parent(s["assessments"], "assessments", "referral_id",
                               "assessment_id", "referral_quarantined")
    if "referrals" in s:
        ref_dates = s["referrals"].select(
            "referral_id", _local_date("referral_datetime").alias("referral_date"))
        a = a.join(ref_dates, on="referral_id", how="left")
    else:
        a = a.with_columns(pl.lit(None, pl.Date).alias("referral_date"))
    initials = a.filter((pl.col("assessment_type") == "INITIAL")
                        & pl.col("completed_date").is_not_null()
                        & pl.col("referral_quarantined").is_null()).select(
        "referral_id", pl.col("completed_date").alias("initial_completed_date"))
    cores = a.filter(pl.col("assessment_type") == "CORE").select(
        "assessment_id", "referral_id", "start_date")
    latest_initial = (
        cores.join(initials, on="referral_id", how="inner")
        .filter(pl.col("initial_completed_date") <= pl.col("start_date"))
        .group_by("assessment_id").agg(pl.col("initial_completed_date").max())
    )
    a = a.join(latest_initial, on="assessment_id", how="left")
    completion_wd = ctx.wd(pl.col("referral_date"), pl.col("completed_date"))
    core_delay = ctx.wd(pl.col("initial_completed_date"), pl.col("start_date"))
    core_duration = ctx.wd(pl.col("start_date"), pl.col("completed_date"))
    is_core = pl.col("assessment_type") == "CORE"
    return a.select(
        "assessment_id", "referral_id", "child_id", "team_id", "assessment_type",
        "referral_date", "start_date", "completed_date",
        "child_seen", "child_seen_alone", "father_involved", "referral_quarantined",
        pl.when(pl.col("assessment_type") == "INITIAL").then(completion_wd)
        .alias("initial_completion_wd"),
        (completion_wd <= ctx.t("initial_assessment_working_days")).fill_null(False)
        .alias("initial_within_timescale"),
        "initial_completed_date",
        pl.when(is_core).then(core_delay).alias("core_start_delay_wd"),
        (core_delay <= ctx.t("core_start_working_days")).fill_null(False)
        .alias("core_started_within_timescale"),
        pl.when(is_core).then(core_duration).alias("core_duration_wd"),
        (core_duration <= ctx.t("core_completion_working_days")).fill_null(False)
        .alias("core_completed_within_timescale"),
    )


def _father_figures(s: Staged) -> pl.DataFrame:
    return s["relationships"].filter(pl.col("relationship_type").is_in(FATHER_FIGURES)).select(
        "relationship_id", "child_id", "related_person_id", "start_date", "end_date")


def _active_on(d: str) -> pl.Expr:
    """A relationship or plan active on date column d (start <= d < end; blanks open)."""
    return ((pl.col("start_date").is_null() | (pl.col("start_date") <= pl.col(d)))
            & (pl.col("end_date").is_null() | (pl.col("end_date") > pl.col(d))))


def conference_facts(s: Staged, ctx: Context) -> pl.DataFrame:
    c = ctx.quarantined_parent(s["cp_conferences"].with_columns(
        (pl.col("conference_id") + "|" + pl.col("child_id")).alias("record_id")),
        "cp_conferences", "strategy_id", "record_id", "strategy_discussion_quarantined")
    # CPC01: the strategy discussion that led to the initial conference.
    if "strategy_discussions" in s:
        strat = s["strategy_discussions"].select("strategy_id", "strategy_date")
        c = c.join(strat, on="strategy_id", how="left")
    else:
        c = c.with_columns(pl.lit(None, pl.Date).alias("strategy_date"))
    icpc_wd = ctx.wd(pl.col("strategy_date"), pl.col("conference_date"))
    # CPC02: the child's latest conference strictly before this one's date.
    by_date = (
        c.group_by("child_id", "conference_date")
        .agg(pl.col("conference_type").is_in(["INITIAL", "TRANSFER_IN"]).any()
             .alias("__short_timescale"))
        .sort(["child_id", "conference_date"])
        .with_columns(
            pl.col("conference_date").shift(1).over("child_id")
            .alias("previous_conference_date"),
            pl.col("__short_timescale").shift(1).over("child_id")
            .alias("previous_was_initial"),
        )
        .select("child_id", "conference_date", "previous_conference_date",
                "previous_was_initial")
    )
    c = c.join(by_date, on=["child_id", "conference_date"], how="left")
    months = pl.when(pl.col("previous_was_initial")).then(
        pl.lit(ctx.t("cp_first_review_months"))).otherwise(pl.lit(ctx.t("cp_review_months")))
    c = c.with_columns(add_months(pl.col("previous_conference_date"), months)
                       .alias("review_due_date"))
    # FTH04/05: a father figure active on the conference date, and was he invited/there?
    if "relationships" in s:
        ff = _father_figures(s).join(
            c.select("record_id", "child_id", "conference_date"), on="child_id", how="inner"
        ).filter(_active_on("conference_date")).select("record_id").unique()
        c = c.join(ff.with_columns(pl.lit(True).alias("father_figure_active")),
                   on="record_id", how="left")
    else:
        c = c.with_columns(pl.lit(None, pl.Boolean).alias("father_figure_active"))
    if "conference_attendance" in s:
        att = s["conference_attendance"].filter(pl.col("attendee_role").is_in(FATHER_ROLES))
        att = att.group_by("conference_id", "child_id").agg(
            (pl.col("invited") == "Y").any().alias("father_invited"),
            # FTH05's "such a row": the father's invited row, with attended = Y
            ((pl.col("invited") == "Y") & (pl.col("attended") == "Y")).any()
            .alias("father_attended"))
        c = c.join(att, on=["conference_id", "child_id"], how="left")
    else:
        c = c.with_columns(pl.lit(None, pl.Boolean).alias("father_invited"),
                           pl.lit(None, pl.Boolean).alias("father_attended"))
    return c.select(
        "record_id", "conference_id", "child_id", "team_id", "conference_type",
        "conference_date", "strategy_id", "strategy_date", "strategy_discussion_quarantined",
        icpc_wd.alias("icpc_wd"),
        (icpc_wd <= ctx.t("icpc_working_days")).fill_null(False).alias("icpc_within_timescale"),
        "previous_conference_date", "review_due_date",
        (pl.col("conference_date") <= pl.col("review_due_date")).fill_null(False)
        .alias("review_on_time"),
        pl.col("father_figure_active").fill_null(False),
        pl.col("father_invited").fill_null(False),
        pl.col("father_attended").fill_null(False),
    )


def open_plan_child_facts(s: Staged, ctx: Context) -> pl.DataFrame:
    """Point in time: per month and child with a CP plan open on the month's period date D.

    Months only: a quarter's (or year's) period date is that of its last month, or of the
    extract date's month, so its cases are those of that month (indicators.cases labels
    them)."""
    plans = s["cp_plans"]
    if plans.height == 0:
        return pl.DataFrame()
    first = plans["start_date"].min()
    assert isinstance(first, date)
    periods = periods_between(first, ctx.as_of, "month").with_columns(
        pl.min_horizontal(pl.col("period_end"), pl.lit(ctx.as_of)).alias("period_date"))
    open_ = (
        periods.join(plans.select("cp_plan_id", "child_id", "team_id", "start_date",
                                  "end_date"), how="cross")
        .filter(_active_on("period_date"))
        .sort("start_date", descending=True)
        .unique(["period_type", "period_label", "child_id"], keep="first")
    )
    if "relationships" in s:
        ff = _father_figures(s)
        with_father = (
            open_.select("period_type", "period_label", "period_date", "child_id")
            .join(ff, on="child_id", how="inner").filter(_active_on("period_date"))
            .select("period_type", "period_label", "child_id").unique()
            .with_columns(pl.lit(True).alias("father_figure_recorded"))
        )
        open_ = open_.join(with_father, on=["period_type", "period_label", "child_id"],
                           how="left")
    else:
        open_ = open_.with_columns(pl.lit(None, pl.Boolean).alias("father_figure_recorded"))
    return open_.select(
        "period_type", "period_label", "period_start", "period_end", "period_date",
        "cp_plan_id", "child_id", "team_id",
        pl.col("father_figure_recorded").fill_null(False),
    )


def open_plan_father_facts(s: Staged, ctx: Context) -> pl.DataFrame:
    """Point in time: per period, father-figure relationship active on D of a child in
    FTH01's denominator, with whether the father's details are all recorded."""
    children = open_plan_child_facts(s, ctx)
    if children.height == 0:
        return pl.DataFrame()
    persons = s["persons"].select(
        pl.col("person_id").alias("related_person_id"),
        ((pl.col("name_recorded") == "Y") & (pl.col("dob_recorded") == "Y")
         & (pl.col("address_recorded") == "Y") & (pl.col("contact_recorded") == "Y"))
        .alias("full_details_recorded"))
    fathers = ctx.quarantined_parent(_father_figures(s), "relationships", "related_person_id",
                                     "relationship_id", "related_person_quarantined")
    return (
        children.select("period_type", "period_label", "period_start", "period_end",
                        "period_date", "child_id", "team_id")
        .join(fathers, on="child_id", how="inner")
        .filter(_active_on("period_date"))
        .join(persons, on="related_person_id", how="left")
        .select("period_type", "period_label", "period_start", "period_end", "period_date",
                "relationship_id", "child_id", "team_id", "related_person_id",
                pl.col("full_details_recorded").fill_null(False),
                "related_person_quarantined")
    )


def cin_plan_facts(s: Staged, ctx: Context) -> pl.DataFrame:
    return s["cin_plans"].select(
        "cin_plan_id", "child_id", "team_id", "start_date", "end_date", "closure_outcome",
        (pl.col("outcomes_recorded") >= 1).fill_null(False).alias("outcomes_written"),
        (pl.col("multi_agency_at_start") == "Y").alias("multi_agency_at_start"),
    )


def cin_review_facts(s: Staged, ctx: Context) -> pl.DataFrame:
    plans = s["cin_plans"].select("cin_plan_id", "team_id",
                                  pl.col("start_date").alias("plan_start_date"))
    # A review of a quarantined plan is kept (left join), with no plan start or team.
    r = ctx.quarantined_parent(s["cin_reviews"], "cin_reviews", "cin_plan_id", "review_id",
                               "cin_plan_quarantined").join(plans, on="cin_plan_id", how="left")
    by_date = (
        r.select("cin_plan_id", "review_date").unique().sort(["cin_plan_id", "review_date"])
        .with_columns(pl.col("review_date").shift(1).over("cin_plan_id")
                      .alias("previous_review_date"))
    )
    r = r.join(by_date, on=["cin_plan_id", "review_date"], how="left")
    due = add_months(pl.coalesce(pl.col("previous_review_date"), pl.col("plan_start_date")),
                     ctx.t("cin_review_months"))
    return r.select(
        "review_id", "cin_plan_id", "child_id", "team_id", "review_date",
        "previous_review_date", "plan_start_date", due.alias("review_due_date"),
        (pl.col("review_date") <= due).fill_null(False).alias("review_on_time"),
        (pl.col("progress_recorded") == "Y").alias("progress_recorded"),
        "cin_plan_quarantined",
    )


def fit_referral_facts(s: Staged, ctx: Context) -> pl.DataFrame:
    return s["fit_referrals"].select(
        "fit_referral_id", "child_id", "team_id", "referral_date", "start_date", "end_date",
        "tasks_outcomes_defined", "outcome_achieved",
    )


@dataclass(frozen=True)
class Subject:
    """A fact table: how to build it and which extracts it needs."""

    name: str
    build: Callable[[Staged, Context], pl.DataFrame]
    requires: tuple[str, ...]
    record: str
    point_in_time: bool = False
    extract: str = ""
    """The extract whose records the cases are (`record` is its key); default requires[0]."""

    @property
    def record_extract(self) -> str:
        return self.extract or self.requires[0]


SUBJECTS: dict[str, Subject] = {
    s.name: s for s in (
        Subject("referral", referral_facts, ("referrals",), "referral_id"),
        Subject("assessment", assessment_facts, ("assessments",), "assessment_id"),
        Subject("conference", conference_facts, ("cp_conferences",), "record_id"),
        Subject("open_plan_child", open_plan_child_facts, ("cp_plans", "relationships"),
                "cp_plan_id", point_in_time=True),
        Subject("open_plan_father", open_plan_father_facts,
                ("cp_plans", "relationships", "persons"), "relationship_id",
                point_in_time=True, extract="relationships"),
        Subject("cin_plan", cin_plan_facts, ("cin_plans",), "cin_plan_id"),
        Subject("cin_review", cin_review_facts, ("cin_reviews", "cin_plans"), "review_id"),
        Subject("fit_referral", fit_referral_facts, ("fit_referrals",), "fit_referral_id"),
    )
}
