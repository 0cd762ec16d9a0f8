"""One test per row of the "Dependent rows" table of indicators.md, worked by hand.

Each test plants one fault in a parent record of the valid base batch, stages the batch and
derives the indicators the way the nightly job does (`stage_batch` then `derive_batch`), and
checks: the parent is the only quarantined row; the row that refers to it is loaded and listed
once as a warning naming its root cause; each indicator counts it, or lists it as excluded
(with the reason) and leaves it out, exactly as the table says.

The base batch (tests/batch_builder.py) in short: referrals R1 (child 000101, Mon 1 Apr 2024,
decided 2 Apr, team T2) and R2 (child 000102, 1 May 2024, decided the same day, T2); INITIAL
assessment A1 of R1 (completed 10 Apr 2024: 7 working days); strategy S1 (2 May 2024) and
INITIAL conference K1 of child 000102 (20 May 2024: 11 working days, the 6 May bank holiday
skipped); CP plan P1 of 000102 (20 May 2024 - 1 May 2025); relationships RL1 (000101's
father, 2015 - 1 Jan 2026) and RL2 (000102's mother); CIN plan N1 of 000101 (15 Apr 2024)
and its review V1 (15 Jul 2024: on time, progress recorded). All values below are for the
financial year 2024-25 (breakdown all) unless said.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from qa_pipeline.ingest.staging import Manifest, stage_batch
from qa_pipeline.transform.indicators import derive_batch
from tests.batch_builder import Row, base, write_batch

YEAR = "2024-25"


class Night:
    """A staged and derived batch, read back from its work files."""

    def __init__(self, tmp_path: Path, data: dict[str, list[Row]]) -> None:
        manifest: Manifest = stage_batch(write_batch(tmp_path / "landing", data),
                                         tmp_path / "work")
        derive_batch(manifest)
        self.manifest = manifest
        self.issues = pl.read_parquet(manifest.issues_parquet)
        self.values = pl.read_parquet(manifest.indicators["values"])
        self.cases = pl.read_parquet(manifest.indicators["cases"])

    def loaded(self, extract: str) -> int:
        return self.manifest.extracts[extract].rows_loaded

    def errors(self) -> list[tuple[str, str]]:
        err = self.issues.filter(pl.col("severity") == "error")
        return list(zip(err["rule_id"], err["record_id"], strict=True))

    def dependent(self) -> list[tuple[Any, ...]]:
        dep = self.issues.filter(pl.col("rule_id").str.ends_with(".reference_quarantined"))
        assert set(dep["severity"]) <= {"warning"}
        return sorted(dep.select("rule_id", "record_id", "root_rule_id", "root_record_id")
                      .rows())

    def value(self, code: str, label: str = YEAR, team: str = "ALL"
              ) -> tuple[int | None, int] | None:
        """(numerator, denominator) of the indicator in the period, None if no row."""
        rows = self.values.filter(
            (pl.col("indicator_code") == code) & (pl.col("period_label") == label)
            & (pl.col("breakdown_value") == team))
        assert rows.height <= 1
        return None if rows.is_empty() else (rows["numerator"][0], rows["denominator"][0])

    def case_rows(self, code: str, label: str = YEAR) -> list[tuple[Any, ...]]:
        """(record_id, excluded_reason) of the indicator's cases in the year."""
        c = self.cases.filter((pl.col("indicator_code") == code) & (pl.col("year") == label))
        return sorted(c.select("record_id", "excluded_reason").rows(),
                      key=lambda r: (r[0], r[1] or ""))


def test_assessment_of_a_quarantined_referral(tmp_path: Path) -> None:
    """assessments -> referral: out of ASM01-ASM05, counted in ASM06 and FTH03."""
    data = base()
    data["referrals"].append(dict(data["referrals"][1], referral_id="R3",
                                  referral_source="TELEPATHY"))  # R3 quarantined
    a1 = data["assessments"][0]
    data["assessments"] += [
        # INITIAL of R3, completed Mon 10 Jun 2024; father involved.
        dict(a1, assessment_id="A3", referral_id="R3", child_id="000102",
             start_date="03/06/2024", completed_date="10/06/2024", authorised_date="",
             father_involved="Y"),
        # CORE of R3: started 12 Jun, completed Mon 1 Jul 2024 = 13 working days.
        dict(a1, assessment_id="A4", referral_id="R3", child_id="000102",
             assessment_type="CORE", start_date="12/06/2024", completed_date="01/07/2024",
             authorised_date="", father_involved="N"),
    ]
    night = Night(tmp_path, data)
    assert night.errors() == [("referrals.referral_source.unknown_code", "R3")]
    assert night.loaded("assessments") == 3
    root = ("referrals.referral_source.unknown_code", "R3")
    assert night.dependent() == [
        ("assessments.referral_id.reference_quarantined", "A3", *root),
        ("assessments.referral_id.reference_quarantined", "A4", *root)]
    reason = "referral_id R3 was quarantined (referrals.referral_source.unknown_code)"
    # ASM01-03: A1 alone counts (7 working days, seen, seen alone); A3 listed as excluded.
    # Counted, A3 would have been a failure of ASM01 (no referral date): 1/2.
    for code in ("ASM01", "ASM02", "ASM03"):
        assert night.value(code) == (1, 1), code
        assert night.case_rows(code) == [("A1", None), ("A3", reason)], code
    # ASM04-05: the only core is A4, excluded; A3 starts no delay: no value at all.
    for code in ("ASM04", "ASM05"):
        assert night.value(code) is None, code
        assert night.case_rows(code) == [("A4", reason)], code
    # ASM06 counts A4 (13 <= 35); FTH03 counts A3 (Y) and A4 (N); A1 has NA.
    assert night.value("ASM06") == (1, 1)
    assert night.value("FTH03") == (1, 2)
    assert night.case_rows("FTH03") == [("A3", None), ("A4", None)]


def test_relationship_to_a_quarantined_person(tmp_path: Path) -> None:
    """relationships -> person (related_person_id): out of FTH02; an active father figure for
    FTH01, FTH04 and FTH05. The father's attendance row (person_id) is dependent too, and
    counted: no indicator reads the person through it."""
    data = base()
    data["persons"].append(dict(data["persons"][2], person_id="000203", disability="ZZ"))
    data["relationships"].append(dict(data["relationships"][0], relationship_id="RL3",
                                      child_id="000102", related_person_id="000203",
                                      start_date="01/06/2016", end_date=""))
    data["conference_attendance"].append(dict(
        data["conference_attendance"][0], attendee_role="FATHER", person_id="000203",
        invited="Y", attended="N"))
    night = Night(tmp_path, data)
    assert night.errors() == [("persons.disability.invalid_flag", "000203")]
    assert night.loaded("relationships") == 3 and night.loaded("conference_attendance") == 3
    root = ("persons.disability.invalid_flag", "000203")
    assert night.dependent() == [
        ("conference_attendance.person_id.reference_quarantined", "K1|000102|FATHER|000203",
         *root),
        ("relationships.related_person_id.reference_quarantined", "RL3", *root)]
    # FTH01, month by month: 000102's plan P1 is open on D (31 May 2024 ... 30 Apr 2025) and
    # RL3 is active: 1/1 (without RL3 the child has only a mother: 0/1).
    assert night.value("FTH01", "2024-06") == (1, 1)
    assert night.value("FTH01", "2025-04") == (1, 1)
    # FTH02: RL3 is the only father figure of a child on a plan: excluded, no value.
    assert night.value("FTH02", "2024-06") is None
    reason = "related_person_id 000203 was quarantined (persons.disability.invalid_flag)"
    june = night.cases.filter((pl.col("indicator_code") == "FTH02")
                              & (pl.col("month") == "2024-06"))
    assert june.select("record_id", "excluded_reason").rows() == [("RL3", reason)]
    # FTH04/05: K1 (20 May 2024) has a father figure active (RL3); his row: invited, absent.
    assert night.value("FTH04", "2024-05") == (1, 1)
    assert night.value("FTH05", "2024-05") == (0, 1)


def test_conference_of_a_quarantined_strategy_discussion(tmp_path: Path) -> None:
    """cp_conferences -> strategy discussion: out of CPC01; counted in FTH04, FTH05, CPC02."""
    data = base()
    data["strategy_discussions"].append(dict(
        data["strategy_discussions"][0], strategy_id="S2", referral_id="R1", child_id="000101",
        strategy_date="02/04/2024", s47_outcome="ZZZ"))
    k1 = data["cp_conferences"][0]
    data["cp_conferences"] += [
        # INITIAL of child 000101 on Wed 10 Apr 2024, from the quarantined S2.
        dict(k1, conference_id="K2", child_id="000101", conference_date="10/04/2024",
             strategy_id="S2"),
        # Its REVIEW on 5 Jul 2024: due 10 Jul (3 months after an INITIAL): on time.
        dict(k1, conference_id="K3", child_id="000101", conference_type="REVIEW",
             conference_date="05/07/2024", strategy_id="", outcome="PLAN_CONTINUES"),
    ]
    night = Night(tmp_path, data)
    assert night.errors() == [("strategy_discussions.s47_outcome.unknown_code", "S2")]
    assert night.loaded("cp_conferences") == 3
    assert night.dependent() == [
        ("cp_conferences.strategy_id.reference_quarantined", "K2|000101",
         "strategy_discussions.s47_outcome.unknown_code", "S2")]
    reason = "strategy_id S2 was quarantined (strategy_discussions.s47_outcome.unknown_code)"
    # CPC01: K1 (11 working days) counts; K2 is listed as excluded.
    assert night.value("CPC01") == (1, 1)
    assert night.case_rows("CPC01") == [("K1|000102", None), ("K2|000101", reason)]
    # CPC02: K3 is a review of K2, held on time: 1/1.
    assert night.value("CPC02") == (1, 1)
    # FTH04/05: K2 and K3 have 000101's father (RL1, to 1 Jan 2026) active; no attendance
    # rows for them: 0 of 2 invited (K1's child has no father figure).
    assert night.value("FTH04") == (0, 2)
    assert night.case_rows("FTH04") == [("K2|000101", None), ("K3|000101", None)]
    assert night.value("FTH05") == (0, 2)


def test_review_of_a_quarantined_cin_plan(tmp_path: Path) -> None:
    """cin_reviews -> CIN plan: out of CIN03 and CIN04."""
    data = base()
    data["cin_plans"].append(dict(data["cin_plans"][0], cin_plan_id="N2", child_id="000102",
                                  start_date="01/05/2024", end_date="",
                                  closure_outcome="", multi_agency_at_start="MAYBE"))
    data["cin_reviews"].append(dict(data["cin_reviews"][0], review_id="V2", cin_plan_id="N2",
                                    child_id="000102", review_date="01/09/2024",
                                    progress_recorded="N"))
    night = Night(tmp_path, data)
    assert night.errors() == [("cin_plans.multi_agency_at_start.invalid_flag", "N2")]
    assert night.loaded("cin_reviews") == 2
    assert night.dependent() == [
        ("cin_reviews.cin_plan_id.reference_quarantined", "V2",
         "cin_plans.multi_agency_at_start.invalid_flag", "N2")]
    reason = "cin_plan_id N2 was quarantined (cin_plans.multi_agency_at_start.invalid_flag)"
    # V1: due 15 Jul 2024 (N1's start + 3 months), held 15 Jul, progress recorded: 1/1. V2,
    # counted, would be late (no plan start) and without progress: 1/2 for both.
    for code in ("CIN03", "CIN04"):
        assert night.value(code) == (1, 1), code
        assert night.case_rows(code) == [("V1", None), ("V2", reason)], code
    # The plan itself is quarantined: CIN01 counts N1 alone.
    assert night.value("CIN01") == (1, 1)


def test_rows_of_a_quarantined_child_or_team_count_everywhere(tmp_path: Path) -> None:
    """Any extract -> person as child_id, or team_id: no indicator reads that row; a team
    breakdown uses the row's own team_id."""
    data = base()
    data["teams"][1]["service_area"] = "NOWHERE"   # team T2 quarantined
    data["persons"][0]["ethnicity"] = "ZZZZ"       # child 000101 quarantined
    night = Night(tmp_path, data)
    assert sorted(night.errors()) == [("persons.ethnicity.unknown_code", "000101"),
                                      ("teams.service_area.unknown_code", "T2")]
    assert {n: night.loaded(n) for n in ("referrals", "assessments", "relationships",
                                         "fit_referrals", "cin_plans", "cin_reviews")} == {
        n: len(base()[n]) for n in ("referrals", "assessments", "relationships",
                                    "fit_referrals", "cin_plans", "cin_reviews")}
    roots = {r[2:] for r in night.dependent()}
    assert roots == {("persons.ethnicity.unknown_code", "000101"),
                     ("teams.service_area.unknown_code", "T2")}
    assert ("referrals.team_id.reference_quarantined", "R1", "teams.service_area.unknown_code",
            "T2") in night.dependent()
    assert night.cases.filter(pl.col("excluded_reason").is_not_null()).is_empty()
    # REF01: R1 (1 working day) and R2 (same day) both on time, in team T2's row too.
    assert night.value("REF01") == (2, 2)
    assert night.value("REF01", team="T2") == (2, 2)
    # ASM01 (A1 of the quarantined child): 1/1; CIN03 (V1 of 000101's plan N1): 1/1.
    assert night.value("ASM01") == (1, 1)
    assert night.value("CIN03") == (1, 1)
    assert night.value("FIT01") == (1, 1)


def test_findings_staged_before_root_causes_have_no_dependent_rows() -> None:
    """A batch staged by version 1 (held across an upgrade, say) has findings without the root
    columns; its rows that referred to quarantined records were quarantined themselves."""
    from qa_pipeline.transform.indicators import dependent_rows

    old = pl.DataFrame({"extract": ["assessments"], "record_id": ["A3"],
                        "rule_id": ["assessments.referral_id.reference_quarantined"],
                        "column_name": ["referral_id"], "severity": ["error"]})
    assert dependent_rows(old).is_empty()
    new = old.with_columns(pl.lit("referrals.referral_source.unknown_code").alias(
        "root_rule_id"), pl.lit("R3").alias("root_record_id"))
    assert dependent_rows(new).rows() == [
        ("assessments", "referral_id", "A3", "referrals.referral_source.unknown_code", "R3")]


def test_a_row_with_its_own_error_is_quarantined_not_dependent(tmp_path: Path) -> None:
    """A second A1 (a duplicate key: an error of its own) that refers to the quarantined R3 is
    quarantined, with no dependent warning; the loaded A1 (of R1) still counts in ASM01."""
    data = base()
    data["referrals"].append(dict(data["referrals"][1], referral_id="R3",
                                  referral_source="TELEPATHY"))
    data["assessments"].append(dict(data["assessments"][0], referral_id="R3",
                                    child_id="000102"))
    night = Night(tmp_path, data)
    assert sorted(night.errors()) == [("assessments.duplicate_key", "A1"),
                                      ("referrals.referral_source.unknown_code", "R3")]
    assert night.dependent() == []
    assert night.value("ASM01") == (1, 1)
    assert night.case_rows("ASM01") == [("A1", None)]
