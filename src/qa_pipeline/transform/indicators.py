"""The indicator catalogue of indicators.md as declarative definitions over the fact tables of
`facts.py`, and the one routine that turns any definition into period x team values and the
cases behind them. Adding an indicator is one `Indicator(...)` entry, not new plumbing.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import polars as pl
import yaml

from qa_pipeline.ingest.staging import WORK_PARQUET_COMPRESSION
from qa_pipeline.spec.published import polars_schema
from qa_pipeline.spec.rule_kinds import DEPENDENT_RULE_SUFFIX
from qa_pipeline.transform.calendar import PERIOD_TYPES, period_end, period_label, period_start
from qa_pipeline.transform.facts import (
    DEPENDENT_SCHEMA,
    SUBJECTS,
    Context,
    Staged,
    make_context,
)

Unit = Literal["percent", "working_days"]
Polarity = Literal["higher_is_better", "lower_is_better"]
C = pl.col


@dataclass(frozen=True)
class Welsh:
    """The Welsh of an indicator's texts (issue 17, Welsh and English), declared beside the
    English: the vocabulary of `qa_pipeline/i18n/glossary.yaml` and the same `str.format`
    placeholders. A numeral takes the singular noun in Welsh ("{n} diwrnod gwaith", "{n}
    mis"), so the Welsh needs no plural fix; `Indicator.render_cy` mutates after a 2."""

    title: str
    numerator_text: str
    denominator_text: str


@dataclass(frozen=True)
class Indicator:
    """One indicator: which cases count (population), which of them succeed (numerator) —
    or, for a median, which measure — when a case happens (event_date) and whose it is."""

    code: str
    title: str
    source: str
    subject: str
    population: pl.Expr
    denominator_text: str
    numerator_text: str
    event_date: str | None = None       # None: point in time (the subject carries periods)
    numerator: pl.Expr | None = None    # None for a median
    measure: str | None = None          # shown in the drill-through; the median's values
    unit: Unit = "percent"
    polarity: Polarity = "higher_is_better"
    team_text: str = ""
    requires: tuple[str, ...] = ()      # extracts needed beyond the subject's own
    timescales: tuple[str, ...] = ()    # configuration values the definition uses
    excluded_by: str | None = None
    """The fact column naming why a case depends on a quarantined record this indicator
    reads (indicators.md, "Dependent rows"): such a case is listed, excluded, not counted."""
    excluded_population: pl.Expr | None = None
    """Which dependent cases the drill-through lists as excluded, where the population itself
    reads the quarantined record (default: the population)."""
    cy: Welsh | None = None
    """The Welsh of title, numerator_text and denominator_text."""

    @property
    def needs(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(SUBJECTS[self.subject].requires + self.requires))

    def render(self, text: str, timescales: dict[str, int]) -> str:
        """The text with the configured values filled in ("1 working day", "2 working days")."""
        filled = text.format(**timescales)
        return re.sub(r"\b(\d+) working day\(s\)",
                      lambda m: f"{m[1]} working day{'' if m[1] == '1' else 's'}", filled)

    def render_cy(self, text: str, timescales: dict[str, int]) -> str:
        """A Welsh text with the configured values filled in. The noun after a numeral stays
        singular ("1 diwrnod gwaith", "7 diwrnod gwaith", "12 mis"); after 2 ("dau") it
        takes the soft mutation: "2 ddiwrnod gwaith", "2 fis"."""
        filled = text.format(**timescales)
        return re.sub(r"\b2 (diwrnod|mis)\b",
                      lambda m: f"2 {_SOFT_AFTER_TWO[m[1]]}", filled)


_SOFT_AFTER_TWO = {"diwrnod": "ddiwrnod", "mis": "fis"}


Y = "Y"
LOWER: Polarity = "lower_is_better"
WITH_DECISION = C("decision_date").is_not_null()
CORE_STARTED = (C("assessment_type") == "CORE") & C("start_date").is_not_null()
INITIAL_CONFERENCE = (C("conference_type") == "INITIAL") & C("conference_date").is_not_null()

CATALOGUE: tuple[Indicator, ...] = (
    # --- Referrals: the Referral audit ---
    Indicator("REF01", "Referral decisions made within {decision_working_days} working day(s) "
              "(SCC/006)", "Referral audit; SCC/006", "referral", C("referral_date").is_not_null(),
              "referrals whose referral date is in the period",
              "decision_date present and wd(referral date, decision_date) <= "
              "{decision_working_days}", "referral_date", C("decision_within_timescale"),
              measure="decision_wd", team_text="the referral's team",
              timescales=("decision_working_days",),
              cy=Welsh(
                  title="Penderfyniadau ar atgyfeiriadau a wnaed o fewn {decision_working_days} "
                        "diwrnod gwaith (SCC/006)",
                  numerator_text="decision_date yn bresennol a wd(dyddiad yr atgyfeiriad, "
                                 "decision_date) <= {decision_working_days}",
                  denominator_text="atgyfeiriadau y mae eu dyddiad atgyfeirio yn y cyfnod")),
    Indicator("REF02", "Re-referrals within {rereferral_months} months (SCC/010)",
              "Referral audit; SCC/010",
              "referral", C("referral_date").is_not_null(),
              "referrals whose referral date is in the period",
              "the same child has another referral with an earlier referral_datetime whose "
              "referral date is on or after (this referral date - {rereferral_months} months)",
              "referral_date", C("is_rereferral"), polarity=LOWER,
              team_text="the referral's team", timescales=("rereferral_months",),
              cy=Welsh(
                  title="Ail-atgyfeiriadau o fewn {rereferral_months} mis (SCC/010)",
                  numerator_text="mae gan yr un plentyn atgyfeiriad arall â referral_datetime "
                                 "cynharach y mae ei ddyddiad atgyfeirio ar neu ar ôl (dyddiad "
                                 "yr atgyfeiriad hwn - {rereferral_months} mis)",
                  denominator_text="atgyfeiriadau y mae eu dyddiad atgyfeirio yn y cyfnod")),
    Indicator("REF03", "Previous referrals taken into account", "Referral audit", "referral",
              WITH_DECISION & C("has_previous_referral"),
              "referrals in the period with a decision_date, whose child has at least one "
              "referral with an earlier referral_datetime", "previous_referrals_checked = Y",
              "referral_date", C("previous_referrals_checked") == Y,
              team_text="the referral's team",
              cy=Welsh(
                  title="Atgyfeiriadau blaenorol wedi'u hystyried",
                  numerator_text="previous_referrals_checked = Y (ystyriwyd yr atgyfeiriadau "
                                 "blaenorol)",
                  denominator_text="atgyfeiriadau yn y cyfnod sydd â decision_date, lle mae gan "
                                   "y plentyn o leiaf un atgyfeiriad â referral_datetime "
                                   "cynharach")),
    Indicator("REF04", "Management decision recorded", "Referral audit", "referral",
              WITH_DECISION, "referrals in the period with a decision_date",
              "management_decision_recorded = Y", "referral_date",
              C("management_decision_recorded") == Y, team_text="the referral's team",
              cy=Welsh(
                  title="Penderfyniad rheoli wedi'i gofnodi",
                  numerator_text="management_decision_recorded = Y (cofnodwyd penderfyniad "
                                 "rheoli)",
                  denominator_text="atgyfeiriadau yn y cyfnod sydd â decision_date")),
    Indicator("REF05", "Referrer told the outcome within {referrer_informed_working_days} "
              "working days of the decision", "Referral audit", "referral",
              WITH_DECISION & (C("referral_source") != "ANONYMOUS"),
              "referrals in the period with a decision_date and referral_source != ANONYMOUS",
              "referrer_informed_date present and wd(decision_date, referrer_informed_date) <= "
              "{referrer_informed_working_days}", "referral_date",
              C("referrer_informed_within_timescale"), measure="referrer_informed_wd",
              team_text="the referral's team", timescales=("referrer_informed_working_days",),
              cy=Welsh(
                  title="Rhoddwyd gwybod i'r atgyfeiriwr am y canlyniad o fewn "
                        "{referrer_informed_working_days} diwrnod gwaith i'r penderfyniad",
                  numerator_text="referrer_informed_date yn bresennol a wd(decision_date, "
                                 "referrer_informed_date) <= {referrer_informed_working_days}",
                  denominator_text="atgyfeiriadau yn y cyfnod sydd â decision_date a "
                                   "referral_source != ANONYMOUS")),
    Indicator("REF06", "Decision based on an analysis of risk", "Referral audit", "referral",
              WITH_DECISION, "referrals in the period with a decision_date",
              "risk_analysis_recorded = Y", "referral_date", C("risk_analysis_recorded") == Y,
              team_text="the referral's team",
              cy=Welsh(
                  title="Penderfyniad yn seiliedig ar ddadansoddiad o'r risg",
                  numerator_text="risk_analysis_recorded = Y (cofnodwyd dadansoddiad o'r risg)",
                  denominator_text="atgyfeiriadau yn y cyfnod sydd â decision_date")),
    # --- Assessments: the Child in Need audit ---
    Indicator("ASM01", "Initial assessments completed within {initial_assessment_working_days} "
              "working days of referral (SCC/042a)", "Child in Need audit; SCC/042a", "assessment",
              (C("assessment_type") == "INITIAL") & C("completed_date").is_not_null(),
              "INITIAL assessments whose completed_date is in the period",
              "wd(its referral's referral date, completed_date) <= "
              "{initial_assessment_working_days}", "completed_date",
              C("initial_within_timescale"), measure="initial_completion_wd",
              team_text="the assessment's team", requires=("referrals",),
              timescales=("initial_assessment_working_days",),
              excluded_by="referral_quarantined",
              cy=Welsh(
                  title="Asesiadau cychwynnol a gwblhawyd o fewn "
                        "{initial_assessment_working_days} diwrnod gwaith i'r atgyfeiriad "
                        "(SCC/042a)",
                  numerator_text="wd(dyddiad ei atgyfeiriad, completed_date) <= "
                                 "{initial_assessment_working_days}",
                  denominator_text="asesiadau cychwynnol (INITIAL) y mae eu completed_date yn y "
                                   "cyfnod")),
    Indicator("ASM02", "Child seen during the initial assessment (SCC/011a)",
              "Child in Need audit; SCC/011a", "assessment",
              (C("assessment_type") == "INITIAL") & C("completed_date").is_not_null(),
              "INITIAL assessments whose completed_date is in the period", "child_seen = Y",
              "completed_date", C("child_seen") == Y, team_text="the assessment's team",
              excluded_by="referral_quarantined",
              cy=Welsh(
                  title="Gwelwyd y plentyn yn ystod yr asesiad cychwynnol (SCC/011a)",
                  numerator_text="child_seen = Y (gwelwyd y plentyn)",
                  denominator_text="asesiadau cychwynnol (INITIAL) y mae eu completed_date yn y "
                                   "cyfnod")),
    Indicator("ASM03", "Child seen alone during the initial assessment (SCC/011b)",
              "Child in Need audit; SCC/011b", "assessment",
              (C("assessment_type") == "INITIAL") & C("completed_date").is_not_null(),
              "INITIAL assessments whose completed_date is in the period",
              "child_seen_alone = Y", "completed_date", C("child_seen_alone") == Y,
              team_text="the assessment's team",
              excluded_by="referral_quarantined",
              cy=Welsh(
                  title="Gwelwyd y plentyn ar ei ben ei hun yn ystod yr asesiad cychwynnol "
                        "(SCC/011b)",
                  numerator_text="child_seen_alone = Y (gwelwyd y plentyn ar ei ben ei hun)",
                  denominator_text="asesiadau cychwynnol (INITIAL) y mae eu completed_date yn y "
                                   "cyfnod")),
    Indicator("ASM04", "Core assessment start delay, median working days",
              "Child in Need audit", "assessment",
              (C("assessment_type") == "CORE") & C("core_start_delay_wd").is_not_null(),
              "CORE assessments whose start_date is in the period and whose referral has an "
              "INITIAL assessment completed on or before the core start_date",
              "median: per case, wd(latest such initial completed_date, core start_date)",
              "start_date", None, measure="core_start_delay_wd", unit="working_days",
              polarity=LOWER, team_text="the core assessment's team",
              excluded_by="referral_quarantined", excluded_population=CORE_STARTED,
              cy=Welsh(
                  title="Oedi cyn dechrau asesiad craidd, canolrif y diwrnodau gwaith",
                  numerator_text="canolrif: fesul achos, wd(completed_date yr asesiad cychwynnol "
                                 "diweddaraf o'r fath, start_date yr asesiad craidd)",
                  denominator_text="asesiadau craidd (CORE) y mae eu start_date yn y cyfnod ac y "
                                   "mae gan eu hatgyfeiriad asesiad cychwynnol (INITIAL) a "
                                   "gwblhawyd ar neu cyn start_date yr asesiad craidd")),
    Indicator("ASM05", "Core assessments started within {core_start_working_days} working days "
              "of the initial assessment", "Child in Need audit", "assessment",
              (C("assessment_type") == "CORE") & C("core_start_delay_wd").is_not_null(),
              "CORE assessments whose start_date is in the period and whose referral has an "
              "INITIAL assessment completed on or before the core start_date",
              "that per-case delay <= {core_start_working_days}", "start_date",
              C("core_started_within_timescale"), measure="core_start_delay_wd",
              team_text="the core assessment's team", timescales=("core_start_working_days",),
              excluded_by="referral_quarantined", excluded_population=CORE_STARTED,
              cy=Welsh(
                  title="Asesiadau craidd a ddechreuwyd o fewn {core_start_working_days} diwrnod "
                        "gwaith i'r asesiad cychwynnol",
                  numerator_text="yr oedi hwnnw fesul achos <= {core_start_working_days}",
                  denominator_text="asesiadau craidd (CORE) y mae eu start_date yn y cyfnod ac y "
                                   "mae gan eu hatgyfeiriad asesiad cychwynnol (INITIAL) a "
                                   "gwblhawyd ar neu cyn start_date yr asesiad craidd")),
    Indicator("ASM06", "Core assessments completed within {core_completion_working_days} "
              "working days (SCC/043a)", "Child in Need audit; SCC/043a", "assessment",
              (C("assessment_type") == "CORE") & C("completed_date").is_not_null(),
              "CORE assessments whose completed_date is in the period",
              "wd(start_date, completed_date) <= {core_completion_working_days}",
              "completed_date", C("core_completed_within_timescale"),
              measure="core_duration_wd", team_text="the assessment's team",
              timescales=("core_completion_working_days",),
              cy=Welsh(
                  title="Asesiadau craidd a gwblhawyd o fewn {core_completion_working_days} "
                        "diwrnod gwaith (SCC/043a)",
                  numerator_text="wd(start_date, completed_date) <= "
                                 "{core_completion_working_days} (y diwrnodau gwaith o "
                                 "start_date hyd at completed_date)",
                  denominator_text="asesiadau craidd (CORE) y mae eu completed_date yn y cyfnod")),
    # --- Fathers: the Engaging Fathers audit ---
    Indicator("FTH01", "Children on a child protection plan with a father figure recorded",
              "Engaging Fathers audit", "open_plan_child", pl.lit(True),
              "children with a CP plan open on the period date D (start_date <= D and "
              "(end_date blank or end_date > D))",
              "the child has a father-figure relationship active on D", None,
              C("father_figure_recorded"), team_text="the open plan's team",
              cy=Welsh(
                  title="Plant ar gynllun amddiffyn plant â ffigur tadol wedi'i gofnodi",
                  numerator_text="mae gan y plentyn berthynas ffigur tadol sy'n weithredol ar D",
                  denominator_text="plant y mae cynllun amddiffyn plant (CP) ar agor ar eu cyfer "
                                   "ar ddyddiad cyfnod D (start_date <= D a (end_date yn wag neu "
                                   "end_date > D))")),
    Indicator("FTH02", "Father figures with full details recorded", "Engaging Fathers audit",
              "open_plan_father", pl.lit(True),
              "father-figure relationships active on D of the children in FTH01's "
              "denominator, one per relationship",
              "the related person has name_recorded, dob_recorded, address_recorded and "
              "contact_recorded all Y", None, C("full_details_recorded"),
              team_text="the child's open plan's team",
              excluded_by="related_person_quarantined",
              cy=Welsh(
                  title="Ffigurau tadol â manylion llawn wedi'u cofnodi",
                  numerator_text="mae name_recorded, dob_recorded, address_recorded a "
                                 "contact_recorded i gyd = Y ar gyfer y person cysylltiedig",
                  denominator_text="perthnasoedd ffigur tadol sy'n weithredol ar D y plant yn "
                                   "enwadur FTH01, un i bob perthynas")),
    Indicator("FTH03", "Fathers involved in assessments", "Engaging Fathers audit",
              "assessment",
              C("completed_date").is_not_null() & C("father_involved").is_in(["Y", "N"]),
              "assessments (INITIAL and CORE) whose completed_date is in the period and "
              "father_involved is Y or N", "father_involved = Y", "completed_date",
              C("father_involved") == Y, team_text="the assessment's team",
              cy=Welsh(
                  title="Tadau a gynhwyswyd mewn asesiadau",
                  numerator_text="father_involved = Y (cafodd y tad ei gynnwys)",
                  denominator_text="asesiadau (INITIAL a CORE) y mae eu completed_date yn y "
                                   "cyfnod ac y mae father_involved yn Y neu N")),
    Indicator("FTH04", "Fathers invited to child protection conferences",
              "Engaging Fathers audit", "conference", C("father_figure_active"),
              "conference rows (one per child; any type) whose conference_date is in the "
              "period, where the child has a father-figure relationship active on the "
              "conference date",
              "an attendance row of that conference and child with attendee_role FATHER or "
              "MALE_CARER and invited = Y", "conference_date", C("father_invited"),
              team_text="the conference's team",
              requires=("relationships", "conference_attendance"),
              cy=Welsh(
                  title="Tadau a wahoddwyd i gynadleddau amddiffyn plant",
                  numerator_text="rhes presenoldeb ar gyfer y gynhadledd honno a'r plentyn hwnnw "
                                 "ag attendee_role FATHER (tad) neu MALE_CARER (gofalwr "
                                 "gwrywaidd) ac invited = Y",
                  denominator_text="rhesi cynhadledd (un i bob plentyn; unrhyw fath) y mae eu "
                                   "conference_date yn y cyfnod, lle mae gan y plentyn berthynas "
                                   "ffigur tadol sy'n weithredol ar ddyddiad y gynhadledd")),
    Indicator("FTH05", "Fathers attending child protection conferences",
              "Engaging Fathers audit", "conference", C("father_figure_active"),
              "as FTH04", "such a row with attended = Y", "conference_date",
              C("father_attended"), team_text="the conference's team",
              requires=("relationships", "conference_attendance"),
              cy=Welsh(
                  title="Tadau a fynychodd gynadleddau amddiffyn plant",
                  numerator_text="rhes o'r fath ag attended = Y",
                  denominator_text="fel FTH04")),
    # --- Child protection ---
    Indicator("CPC01", "Initial conferences within {icpc_working_days} working days of the "
              "strategy discussion (SCC/014)", "SCC/014", "conference",
              (C("conference_type") == "INITIAL") & C("strategy_date").is_not_null(),
              "INITIAL conference rows (per child) whose conference_date is in the period and "
              "whose strategy_id resolves",
              "wd(strategy_date, conference_date) <= {icpc_working_days}", "conference_date",
              C("icpc_within_timescale"), measure="icpc_wd", team_text="the conference's team",
              requires=("strategy_discussions",), timescales=("icpc_working_days",),
              excluded_by="strategy_discussion_quarantined",
              excluded_population=INITIAL_CONFERENCE,
              cy=Welsh(
                  title="Cynadleddau cychwynnol o fewn {icpc_working_days} diwrnod gwaith i'r "
                        "drafodaeth strategaeth (SCC/014)",
                  numerator_text="wd(strategy_date, conference_date) <= {icpc_working_days} (y "
                                 "diwrnodau gwaith o strategy_date hyd at conference_date)",
                  denominator_text="rhesi cynhadledd INITIAL (fesul plentyn) y mae eu "
                                   "conference_date yn y cyfnod ac y mae eu strategy_id yn "
                                   "cyfateb i drafodaeth strategaeth")),
    Indicator("CPC02", "Child protection reviews held on time (SCC/034)", "SCC/034", "conference",
              (C("conference_type") == "REVIEW") & C("previous_conference_date").is_not_null(),
              "REVIEW conference rows whose conference_date is in the period and whose child "
              "has an earlier conference (strictly earlier date)",
              "conference_date <= due date: the latest earlier conference's date + "
              "{cp_first_review_months} months when that was INITIAL or TRANSFER_IN, + "
              "{cp_review_months} months when it was a REVIEW", "conference_date",
              C("review_on_time"), team_text="the conference's team",
              timescales=("cp_first_review_months", "cp_review_months"),
              cy=Welsh(
                  title="Adolygiadau amddiffyn plant a gynhaliwyd ar amser (SCC/034)",
                  numerator_text="conference_date <= y dyddiad dyledus: dyddiad y gynhadledd "
                                 "gynharach ddiweddaraf + {cp_first_review_months} mis pan oedd "
                                 "honno o fath INITIAL neu TRANSFER_IN, + {cp_review_months} mis "
                                 "pan oedd yn gynhadledd adolygu (REVIEW)",
                  denominator_text="rhesi cynhadledd adolygu (REVIEW) y mae eu conference_date "
                                   "yn y cyfnod ac y mae gan eu plentyn gynhadledd gynharach "
                                   "(dyddiad sy'n gynharach, nid yr un dyddiad)")),
    # --- Child in need plans: the Child in Need audit ---
    Indicator("CIN01", "CIN plans with outcomes written in", "Child in Need audit", "cin_plan",
              C("start_date").is_not_null(), "CIN plans whose start_date is in the period",
              "outcomes_recorded >= 1", "start_date", C("outcomes_written"),
              team_text="the plan's team",
              cy=Welsh(
                  title="Cynlluniau CIN â chanlyniadau wedi'u nodi",
                  numerator_text="outcomes_recorded >= 1 (cofnodwyd o leiaf un canlyniad)",
                  denominator_text="cynlluniau CIN y mae eu start_date yn y cyfnod")),
    Indicator("CIN02", "Other agencies engaged at the start of the CIN plan",
              "Child in Need audit", "cin_plan", C("start_date").is_not_null(),
              "CIN plans whose start_date is in the period", "multi_agency_at_start = Y",
              "start_date", C("multi_agency_at_start"), team_text="the plan's team",
              cy=Welsh(
                  title="Asiantaethau eraill yn ymgysylltu ar ddechrau'r cynllun CIN",
                  numerator_text="multi_agency_at_start = Y (roedd asiantaethau eraill yn "
                                 "ymgysylltu ar y dechrau)",
                  denominator_text="cynlluniau CIN y mae eu start_date yn y cyfnod")),
    Indicator("CIN03", "CIN reviews held on time", "Child in Need audit", "cin_review",
              C("review_date").is_not_null(), "CIN reviews whose review_date is in the period",
              "review_date <= due date: (the latest earlier review of the same plan, strictly "
              "earlier date; else the plan's start_date) + {cin_review_months} months",
              "review_date", C("review_on_time"), team_text="the plan's team",
              timescales=("cin_review_months",),
              excluded_by="cin_plan_quarantined",
              cy=Welsh(
                  title="Adolygiadau CIN a gynhaliwyd ar amser",
                  numerator_text="review_date <= y dyddiad dyledus: (dyddiad yr adolygiad "
                                 "cynharach diweddaraf o'r un cynllun, â dyddiad sy'n gynharach; "
                                 "fel arall, start_date y cynllun) + {cin_review_months} mis",
                  denominator_text="adolygiadau CIN y mae eu review_date yn y cyfnod")),
    Indicator("CIN04", "CIN reviews that assessed progress", "Child in Need audit",
              "cin_review", C("review_date").is_not_null(),
              "CIN reviews whose review_date is in the period", "progress_recorded = Y",
              "review_date", C("progress_recorded"), team_text="the plan's team",
              excluded_by="cin_plan_quarantined",
              cy=Welsh(
                  title="Adolygiadau CIN a asesodd y cynnydd",
                  numerator_text="progress_recorded = Y (cofnodwyd y cynnydd)",
                  denominator_text="adolygiadau CIN y mae eu review_date yn y cyfnod")),
    Indicator("CIN05", "CIN plans closed with improved outcomes", "Child in Need audit",
              "cin_plan", C("end_date").is_not_null() & C("closure_outcome").is_in(
                  ["IMPROVED", "LIMITED_IMPROVEMENT", "NO_IMPROVEMENT"]),
              "CIN plans whose end_date is in the period and closure_outcome is IMPROVED, "
              "LIMITED_IMPROVEMENT or NO_IMPROVEMENT", "closure_outcome = IMPROVED",
              "end_date", C("closure_outcome") == "IMPROVED", team_text="the plan's team",
              cy=Welsh(
                  title="Cynlluniau CIN a gaewyd â chanlyniadau gwell",
                  numerator_text="closure_outcome = IMPROVED (canlyniadau wedi gwella)",
                  denominator_text="cynlluniau CIN y mae eu end_date yn y cyfnod ac y mae eu "
                                   "closure_outcome yn IMPROVED, LIMITED_IMPROVEMENT neu "
                                   "NO_IMPROVEMENT")),
    # --- Family Intervention Team ---
    Indicator("FIT01", "Family Intervention referrals with clear tasks and outcomes",
              "Child in Need audit (Family Intervention Team)", "fit_referral",
              C("referral_date").is_not_null(),
              "FIT referrals whose referral_date is in the period", "tasks_outcomes_defined = Y",
              "referral_date", C("tasks_outcomes_defined") == Y,
              team_text="the FIT referral's team",
              cy=Welsh(
                  title="Atgyfeiriadau Ymyrraeth i Deuluoedd â thasgau a chanlyniadau clir",
                  numerator_text="tasks_outcomes_defined = Y (diffiniwyd tasgau a chanlyniadau)",
                  denominator_text="atgyfeiriadau FIT y mae eu referral_date yn y cyfnod")),
    Indicator("FIT02", "Family Intervention work that achieved its outcomes",
              "Child in Need audit (Family Intervention Team)", "fit_referral",
              C("end_date").is_not_null() & C("outcome_achieved").is_not_null(),
              "FIT referrals whose end_date is in the period and outcome_achieved is present",
              "outcome_achieved = Y", "end_date", C("outcome_achieved") == Y,
              team_text="the FIT referral's team",
              cy=Welsh(
                  title="Gwaith Ymyrraeth i Deuluoedd a gyflawnodd ei ganlyniadau",
                  numerator_text="outcome_achieved = Y (cyflawnwyd y canlyniad)",
                  denominator_text="atgyfeiriadau FIT y mae eu end_date yn y cyfnod ac y mae "
                                   "outcome_achieved yn bresennol")),
)
BY_CODE = {i.code: i for i in CATALOGUE}


# --- configuration ---------------------------------------------------------------------------


@dataclass(frozen=True)
class IndicatorConfig:
    timescales: dict[str, int]
    targets: dict[str, float | None] = field(default_factory=dict)


def packaged_config_path() -> Path:
    """The configuration shipped in the package (`qa_pipeline/spec/indicators.yaml`)."""
    return Path(str(resources.files("qa_pipeline.spec") / "indicators.yaml"))


def config_path() -> Path:
    """The configuration in use: the setting `indicators_file` (`QA_PIPELINE_INDICATORS_FILE`)
    of the settings in use, else the packaged one."""
    from qa_pipeline.ops.settings import settings_in_use

    site = settings_in_use().indicators_file
    return Path(site) if site else packaged_config_path()


def load_config(path: str | Path | None = None) -> IndicatorConfig:
    """The configuration of `path`, else the one in use (`config_path`); each file is read
    once per process."""
    return _load_config_file(str(Path(path or config_path()).absolute()))


@cache
def _load_config_file(path: str) -> IndicatorConfig:
    with Path(path).open(encoding="utf-8") as fh:
        raw: dict[str, Any] = yaml.safe_load(fh)
    timescales = {k: int(v) for k, v in raw["timescales"].items()}
    missing = {t for i in CATALOGUE for t in i.timescales} - set(timescales)
    if missing:
        raise ValueError(f"{path}: indicator configuration lacks timescales: {sorted(missing)}")
    targets = {k: (None if v is None else float(v)) for k, v in (raw.get("targets") or {}).items()}
    return IndicatorConfig(timescales, targets)


def catalogue_rows(config: IndicatorConfig) -> list[dict[str, Any]]:
    """The `indicator` table: the definition texts with the configured values filled in."""
    rows = []
    for i in CATALOGUE:
        ts = config.timescales
        used = {k: ts[k] for k in i.timescales}
        rows.append({
            "code": i.code, "title": i.render(i.title, ts),
            "description": f"{i.render(i.title, ts)}. Counted: {i.render(i.numerator_text, ts)}"
                           f" among {i.render(i.denominator_text, ts)}.",
            "numerator_definition": i.render(i.numerator_text, ts),
            "denominator_definition": i.render(i.denominator_text, ts),
            "unit": i.unit, "polarity": i.polarity, "target": config.targets.get(i.code),
            "source": i.source, "subject": i.subject,
            "event_date": i.event_date or "period date (point in time)",
            "team": i.team_text, "timescales": json.dumps(used, sort_keys=True),
            "requires": ",".join(i.needs),
            **_welsh_row(i, ts),
        })
    return rows


def _welsh_row(i: Indicator, ts: dict[str, int]) -> dict[str, str | None]:
    """The Welsh columns of an `indicator` row; None where the indicator has no Welsh."""
    if i.cy is None:
        return dict.fromkeys(("title_cy", "description_cy", "numerator_definition_cy",
                              "denominator_definition_cy"))
    title = i.render_cy(i.cy.title, ts)
    numerator = i.render_cy(i.cy.numerator_text, ts)
    denominator = i.render_cy(i.cy.denominator_text, ts)
    return {"title_cy": title,
            "description_cy": f"{title}. Cyfrifir: {numerator} ymhlith {denominator}.",
            "numerator_definition_cy": numerator,
            "denominator_definition_cy": denominator}


# --- computation -----------------------------------------------------------------------------

CASE_SCHEMA: dict[str, pl.DataType] = {
    "indicator_code": pl.String(), "period_type": pl.String(), "period_label": pl.String(),
    "period_start": pl.Date(), "period_end": pl.Date(), "record_id": pl.String(),
    "child_id": pl.String(), "team_id": pl.String(), "in_numerator": pl.Boolean(),
    "measure": pl.Float64(), "event_date": pl.Date(), "excluded_reason": pl.String(),
}
COMPACT_CASE_SCHEMA: dict[str, pl.DataType] = polars_schema(
    "indicator_case", exclude=("case_id", "as_of", "extract", "version_id", "outcome", "row_hash"))
"""The drill-through frame, as written to indicator_case (the publish adds as_of, and the
extract and version of each case's record, its outcome and the row's hash)."""
VALUE_SCHEMA: dict[str, pl.DataType] = polars_schema("indicator_value", exclude=("as_of",))
"""The values frame, as written to indicator_value (the publish adds as_of)."""


def cases(ind: Indicator, facts: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """The cases behind an indicator, compact: one row per case and event date with the
    labels of the month, quarter and year it counts in (COMPACT_CASE_SCHEMA).

    An event counts in the three periods containing its date. A point-in-time case (its
    event date is the period date D of a month) counts in the quarter and the year whose
    period date is that same D: their last month, or the month of the extract date."""
    subject = SUBJECTS[ind.subject]
    if facts.height == 0:
        return pl.DataFrame(schema=COMPACT_CASE_SCHEMA)
    event = pl.col("period_date") if subject.point_in_time else pl.col(ind.event_date or "")
    # a column, never a literal: polars 2.1 refuses a filter whose predicate folds to a
    # literal on a frame of 16,384 rows or more ("filter predicate length of 2 ...")
    reason = (pl.col(ind.excluded_by) if ind.excluded_by
              else pl.repeat(None, pl.len(), dtype=pl.String))
    counted = ind.population.fill_null(False) & reason.is_null()
    excluded = reason.is_not_null() & (
        ind.population if ind.excluded_population is None else ind.excluded_population
    ).fill_null(False)
    out = facts.filter(counted | excluded).select(
        pl.lit(ind.code).alias("indicator_code"),
        pl.col(subject.record).cast(pl.String).alias("record_id"),
        pl.col("child_id"), pl.col("team_id"),
        pl.when(reason.is_null()).then(
            ind.numerator.fill_null(False) if ind.numerator is not None
            else pl.lit(None, pl.Boolean)).alias("in_numerator"),
        pl.when(reason.is_null()).then(
            pl.col(ind.measure).cast(pl.Float64) if ind.measure else pl.lit(None, pl.Float64))
        .alias("measure"),
        event.alias("event_date"),
        reason.alias("excluded_reason"),
    )
    labels = []
    for p in PERIOD_TYPES:
        counts = period_start(pl.col("event_date"), p) <= as_of  # no period after the extract
        if subject.point_in_time and p != "month":
            measured = pl.min_horizontal(period_end(pl.col("event_date"), p), pl.lit(as_of))
            counts = counts & (pl.col("event_date") == measured)
        labels.append(pl.when(counts).then(period_label(pl.col("event_date"), p)).alias(p))
    out = out.with_columns(labels).filter(pl.any_horizontal(
        [pl.col(p).is_not_null() for p in PERIOD_TYPES]))
    if ind.numerator is None:  # a median: a case needs its measure (unless it is excluded)
        out = out.filter(pl.col("measure").is_not_null()
                         | pl.col("excluded_reason").is_not_null())
    return out.select(list(COMPACT_CASE_SCHEMA)).cast(pl.Schema(COMPACT_CASE_SCHEMA)).sort(
        ["event_date", "record_id"])


def long_cases(compact: pl.DataFrame) -> pl.DataFrame:
    """The compact cases unpivoted: one row per (period, case), as BI's drill-through view
    shows them (indicator_case_latest)."""
    parts = [
        compact.filter(pl.col(p).is_not_null()).with_columns(
            pl.lit(p).alias("period_type"), pl.col(p).alias("period_label"),
            period_start(pl.col("event_date"), p).alias("period_start"),
            period_end(pl.col("event_date"), p).alias("period_end"))
        for p in PERIOD_TYPES
    ]
    return pl.concat(parts).select(list(CASE_SCHEMA)).cast(pl.Schema(CASE_SCHEMA)).sort(
        ["period_type", "period_start", "record_id"])


def values(ind: Indicator, compact: pl.DataFrame) -> pl.DataFrame:
    """Aggregate the counted cases (not the excluded ones) into (period, breakdown) rows; no
    row where the denominator is 0."""
    compact = compact.filter(pl.col("excluded_reason").is_null())
    if ind.numerator is None:
        aggs = [pl.lit(None, pl.Int64).alias("numerator"), pl.len().alias("denominator"),
                pl.col("measure").median().alias("value")]
    else:
        aggs = [pl.col("in_numerator").sum().alias("numerator"), pl.len().alias("denominator")]
    parts = []
    for p in PERIOD_TYPES:
        rows = compact.filter(pl.col(p).is_not_null())
        for breakdown, by in (("all", pl.lit("ALL")), ("team", pl.col("team_id"))):
            grouped = rows.with_columns(by.alias("breakdown_value")).group_by(
                [p, "breakdown_value"]).agg(*aggs, pl.col("event_date").min().alias("__day"))
            parts.append(grouped.select(
                pl.lit(ind.code).alias("indicator_code"), pl.lit(p).alias("period_type"),
                pl.col(p).alias("period_label"),
                period_start(pl.col("__day"), p).alias("period_start"),
                period_end(pl.col("__day"), p).alias("period_end"),
                pl.lit(breakdown).alias("breakdown"), "breakdown_value", "numerator",
                "denominator", *(["value"] if ind.numerator is None else [])))
    out = pl.concat(parts, how="diagonal")
    if ind.numerator is not None:
        out = out.with_columns(
            (100.0 * pl.col("numerator") / pl.col("denominator")).alias("value"))
    # reporting-db.md 1.1: the share on 0-1 for BI percent formats; none for a median.
    out = out.with_columns((pl.col("value") / 100.0 if ind.unit == "percent"
                            else pl.lit(None, pl.Float64)).alias("fraction"))
    return out.filter(pl.col("denominator") > 0).select(list(VALUE_SCHEMA)).cast(
        VALUE_SCHEMA).sort(["period_type", "period_start", "breakdown", "breakdown_value"])  # type: ignore[arg-type]


def _first_year(staged: Staged, as_of: date) -> int:
    """The earliest year any date of the batch falls in: the bank holidays must cover it."""
    years = [as_of.year]
    for frame in staged.values():
        for name, dtype in frame.schema.items():
            if frame.height and isinstance(dtype, pl.Date | pl.Datetime):
                first = frame[name].min()
                if isinstance(first, date):  # a datetime is a date too
                    years.append(first.year - (1 if isinstance(dtype, pl.Datetime) else 0))
    return min(years)


@dataclass
class IndicatorResult:
    values: pl.DataFrame
    compact: pl.DataFrame  # the drill-through as stored: one row per case and event date
    runs: list[dict[str, Any]]  # one per indicator: computed or skipped, and why
    facts: dict[str, pl.DataFrame]

    @property
    def cases(self) -> pl.DataFrame:
        """The drill-through, one row per (period, case)."""
        return long_cases(self.compact)


def derive(staged: Staged, statuses: dict[str, str], as_of: date,
           config: IndicatorConfig | None = None,
           dependents: pl.DataFrame | None = None) -> IndicatorResult:
    """Every indicator whose extracts were all loaded; the others are recorded as skipped.
    `dependents`: the batch's dependent rows (`dependent_rows`), kept out of the indicators
    that read their quarantined parent."""
    config = config or load_config()
    ctx: Context = make_context(as_of, config.timescales, _first_year(staged, as_of),
                                dependents)
    facts: dict[str, pl.DataFrame] = {}
    value_parts: list[pl.DataFrame] = []
    case_parts: list[pl.DataFrame] = []
    runs: list[dict[str, Any]] = []
    for ind in CATALOGUE:
        not_loaded = [x for x in ind.needs if statuses.get(x) != "loaded"]
        if not_loaded:
            runs.append({"indicator_code": ind.code, "status": "skipped",
                         "reason": "; ".join(f"{x} {statuses.get(x, 'missing')}"
                                             for x in not_loaded)})
            continue
        if ind.subject not in facts:
            available = {k: v for k, v in staged.items() if statuses.get(k) == "loaded"}
            facts[ind.subject] = SUBJECTS[ind.subject].build(available, ctx)
        c = cases(ind, facts[ind.subject], as_of)
        v = values(ind, c)
        case_parts.append(c)
        value_parts.append(v)
        runs.append({"indicator_code": ind.code, "status": "computed", "reason": None,
                     "rows": v.height})
    return IndicatorResult(
        values=pl.concat(value_parts) if value_parts else pl.DataFrame(schema=VALUE_SCHEMA),
        compact=(pl.concat(case_parts) if case_parts
                 else pl.DataFrame(schema=COMPACT_CASE_SCHEMA)),
        runs=runs, facts=facts)


def dependent_rows(issues: pl.DataFrame) -> pl.DataFrame:
    """The dependent rows of a batch, read from its findings: the `reference_quarantined`
    warnings, each naming the row (extract, record_id), the reference (column_name) and the
    root cause (DEPENDENT_SCHEMA). Findings staged before version 1.1 (a batch held across an
    upgrade) have no root columns and no dependent rows: their rows were quarantined."""
    if not set(DEPENDENT_SCHEMA) <= set(issues.columns):
        return pl.DataFrame(schema=DEPENDENT_SCHEMA)
    return issues.filter(pl.col("rule_id").str.ends_with(DEPENDENT_RULE_SUFFIX)).select(
        list(DEPENDENT_SCHEMA)).cast(DEPENDENT_SCHEMA)  # type: ignore[arg-type]


def derive_batch(manifest: Any) -> Any:
    """The pipeline step: staged parquet of a manifest -> indicator parquet next to it.

    Writes indicator_value, indicator_case and indicator_run files into the manifest's work
    folder and records their paths in the manifest (files between steps, not frames)."""
    statuses = {n: o.status for n, o in manifest.extracts.items()}
    staged = {n: pl.read_parquet(o.parquet) for n, o in manifest.extracts.items()
              if o.parquet}
    dependents = (dependent_rows(pl.read_parquet(manifest.issues_parquet))
                  if manifest.issues_parquet else None)
    result = derive(staged, statuses, manifest.as_of, dependents=dependents)
    work = Path(manifest.work_dir)
    paths = {"values": work / "indicator_value.parquet",
             "cases": work / "indicator_case.parquet",
             "runs": work / "indicator_run.parquet"}
    result.values.write_parquet(paths["values"], compression=WORK_PARQUET_COMPRESSION)
    result.compact.write_parquet(paths["cases"], compression=WORK_PARQUET_COMPRESSION)
    pl.DataFrame(result.runs, schema={"indicator_code": pl.String, "status": pl.String,
                                      "reason": pl.String, "rows": pl.Int64}
                 ).write_parquet(paths["runs"], compression=WORK_PARQUET_COMPRESSION)
    manifest.indicators = {k: str(v) for k, v in paths.items()}
    manifest.write()
    return manifest
