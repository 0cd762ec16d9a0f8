"""Indicator tests: every indicator of indicators.md on small hand-built staged tables.

Every expected numerator, denominator and value is worked out BY HAND in the test; the
comment next to each case shows the working (days counted one by one on a printed calendar,
bank holidays of England and Wales named). Nothing here computes an expectation with the code
under test or with polars business-day functions.

Calendars used (bank holidays in [brackets]):

    Dec 2013  Mo 2 9 16 23 30 | Tu 3 10 17 24 31 | Wed 4 ... [Wed 25, Thu 26 Dec]
    Jan 2014  Wed 1 [New Year] Thu 2 Fri 3 | Mo 6 13 20 27
    Apr 2014  Tu 1 ... Thu 17, [Fri 18 Good Friday], Sa 19 Su 20, [Mon 21 Easter Monday]
    May 2014  Thu 1 Fri 2, [Mon 5 May Day] ... Fri 23, [Mon 26 Spring bank holiday]
    Jun 2014  Sun 1, Mo 2 9 16 23 30
    Jul 2014  Tu 1 ... Thu 10 (extract date of most tests), Mo 7 14 21 28
    Aug 2014  Fri 1, Mo 4 11 18 [Mon 25 Summer bank holiday]
    Sep 2014  Mo 1 8 15 22 29;  Oct 2014  Wed 1, Mo 6 13 20 27
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

import polars as pl
import pytest

from qa_pipeline.transform.indicators import (
    CATALOGUE,
    IndicatorConfig,
    IndicatorResult,
    catalogue_rows,
    derive,
    load_config,
)
from tests.indicator_builders import frame, schema, staged, statuses

AS_OF = date(2014, 7, 10)  # a Thursday

ALL_CODES = [
    "REF01", "REF02", "REF03", "REF04", "REF05", "REF06",
    "ASM01", "ASM02", "ASM03", "ASM04", "ASM05", "ASM06",
    "FTH01", "FTH02", "FTH03", "FTH04", "FTH05",
    "CPC01", "CPC02",
    "CIN01", "CIN02", "CIN03", "CIN04", "CIN05",
    "FIT01", "FIT02",
]


# --- row factories: staged rows, only the columns that matter spelt out ----------------------


def referral(rid: str, when: str, *, child: str | None = None, team: str = "T1",
             source: str = "POLICE", decision: str | None = None, checked: str = "N",
             mgmt: str = "N", risk: str = "N", informed: str | None = None) -> dict[str, Any]:
    """`when` is the UTC referral_datetime; the flags are only set when a decision exists."""
    decided = decision is not None
    return {
        "referral_id": rid, "child_id": child or f"C-{rid}", "referral_datetime": when,
        "referral_source": source, "team_id": team, "decision_date": decision,
        "decision": "INITIAL_ASSESSMENT" if decided else None,
        "previous_referrals_checked": checked if decided else None,
        "management_decision_recorded": mgmt if decided else None,
        "risk_analysis_recorded": risk if decided else None,
        "referrer_informed_date": informed,
    }


def assessment(aid: str, kind: str, start: str, completed: str | None = None, *,
               referral_id: str = "R1", child: str = "C1", team: str = "T1",
               seen: str = "N", alone: str = "N", father: str = "NA") -> dict[str, Any]:
    done = completed is not None
    return {
        "assessment_id": aid, "referral_id": referral_id, "child_id": child,
        "assessment_type": kind, "start_date": start, "completed_date": completed,
        "child_seen": seen if done else None, "child_seen_alone": alone if done else None,
        "father_involved": father if done else None, "outcome": "NFA" if done else None,
        "team_id": team,
    }


def person(pid: str, *, full: bool = True, **flags: str) -> dict[str, Any]:
    base = "Y" if full else "N"
    row = {"person_id": pid, "person_type": "ADULT", "sex": "M", "name_recorded": base,
           "dob_recorded": base, "address_recorded": base, "contact_recorded": base}
    row.update(flags)
    return row


def relationship(rid: str, child: str, related: str, kind: str, start: str | None = None,
                 end: str | None = None) -> dict[str, Any]:
    return {"relationship_id": rid, "child_id": child, "related_person_id": related,
            "relationship_type": kind, "parental_responsibility": "Y", "lives_with_child": "Y",
            "start_date": start, "end_date": end}


def cp_plan(pid: str, child: str, start: str, end: str | None = None, *,
            team: str = "T1") -> dict[str, Any]:
    return {"cp_plan_id": pid, "child_id": child, "start_date": start, "end_date": end,
            "category": "NEGLECT", "team_id": team}


def conference(cid: str, child: str, kind: str, when: str, *, team: str = "T1",
               strategy: str | None = None) -> dict[str, Any]:
    return {"conference_id": cid, "child_id": child, "conference_type": kind,
            "conference_date": when, "strategy_id": strategy, "outcome": "PLAN_CONTINUES",
            "team_id": team}


def strategy(sid: str, child: str, when: str, *, team: str = "T1") -> dict[str, Any]:
    return {"strategy_id": sid, "referral_id": f"R-{sid}", "child_id": child,
            "strategy_date": when, "team_id": team}


def attendance(cid: str, child: str, role: str, invited: str, attended: str,
               person_id: str | None = None) -> dict[str, Any]:
    return {"conference_id": cid, "child_id": child, "attendee_role": role,
            "person_id": person_id, "invited": invited, "attended": attended}


def cin_plan(pid: str, start: str, *, end: str | None = None, outcomes: int = 1,
             agencies: str = "Y", closure: str | None = None, team: str = "T1",
             child: str | None = None) -> dict[str, Any]:
    return {"cin_plan_id": pid, "child_id": child or f"C-{pid}", "start_date": start,
            "end_date": end, "outcomes_recorded": outcomes, "multi_agency_at_start": agencies,
            "closure_outcome": closure, "team_id": team}


def cin_review(rid: str, plan: str, when: str, *, progress: str = "Y") -> dict[str, Any]:
    return {"review_id": rid, "cin_plan_id": plan, "child_id": f"C-{plan}",
            "review_date": when, "child_participated": "Y", "multi_agency_attended": "Y",
            "progress_recorded": progress}


def fit(fid: str, when: str, *, tasks: str = "Y", end: str | None = None,
        outcome: str | None = None, team: str = "T1") -> dict[str, Any]:
    return {"fit_referral_id": fid, "child_id": f"C-{fid}", "referral_date": when,
            "tasks_outcomes_defined": tasks, "start_date": when if end else None,
            "end_date": end, "outcome_achieved": outcome, "team_id": team}


# --- running and reading the result ----------------------------------------------------------


def run(as_of: date = AS_OF, status: dict[str, str] | None = None,
        **tables: list[dict[str, Any]]) -> IndicatorResult:
    return derive(staged(**tables), status or statuses(), as_of)


Triple = tuple[int | None, int, float]


def table(res: IndicatorResult, code: str, period_type: str = "month",
          breakdown: str = "all") -> dict[Any, Triple]:
    """{label: (num, den, value)} for `all`; {(label, team): (...)} for `team`."""
    out: dict[Any, Triple] = {}
    sel = res.values.filter((pl.col("indicator_code") == code)
                            & (pl.col("period_type") == period_type)
                            & (pl.col("breakdown") == breakdown))
    for r in sel.iter_rows(named=True):
        key = r["period_label"] if breakdown == "all" else (r["period_label"],
                                                             r["breakdown_value"])
        assert key not in out, f"duplicate row {code} {period_type} {key}"
        if breakdown == "all":
            assert r["breakdown_value"] == "ALL"
        out[key] = (r["numerator"], r["denominator"], r["value"])
    return out


def assert_table(res: IndicatorResult, code: str, period_type: str,
                 expected: dict[Any, Triple], breakdown: str = "all") -> None:
    got = table(res, code, period_type, breakdown)
    assert set(got) == set(expected), f"{code} {period_type}: periods {sorted(got)}"
    for key, (num, den, value) in expected.items():
        g_num, g_den, g_value = got[key]
        assert (g_num, g_den) == (num, den), f"{code} {period_type} {key}: {got[key]}"
        assert g_value == pytest.approx(value, abs=1e-9), f"{code} {period_type} {key}"


def assert_team_rows_sum_to_all(res: IndicatorResult, code: str) -> None:
    """For every period, the team rows' numerators and denominators add up to the all row."""
    v = res.values.filter(pl.col("indicator_code") == code)
    assert v.height > 0, f"{code}: no values at all"
    sums: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    alls: dict[tuple[str, str], tuple[int | None, int]] = {}
    for r in v.iter_rows(named=True):
        key = (r["period_type"], r["period_label"])
        if r["breakdown"] == "all":
            alls[key] = (r["numerator"], r["denominator"])
        else:
            assert r["breakdown"] == "team"
            sums[key][0] += r["numerator"] or 0
            sums[key][1] += r["denominator"]
    assert set(alls) == set(sums), code
    for key, (num, den) in alls.items():
        assert sums[key][1] == den, f"{code} {key}: team denominators {sums[key][1]} != {den}"
        if num is not None:
            assert sums[key][0] == num, f"{code} {key}: team numerators {sums[key][0]} != {num}"


def case_rows(res: IndicatorResult, code: str, label: str,
              period_type: str = "month") -> dict[str, tuple[bool | None, float | None]]:
    sel = res.cases.filter((pl.col("indicator_code") == code)
                           & (pl.col("period_type") == period_type)
                           & (pl.col("period_label") == label))
    out = {r["record_id"]: (r["in_numerator"], r["measure"]) for r in sel.iter_rows(named=True)}
    assert len(out) == sel.height, "a record listed twice in one period"
    return out


def run_status(res: IndicatorResult, code: str) -> dict[str, Any]:
    found = [r for r in res.runs if r["indicator_code"] == code]
    assert len(found) == 1, code
    return found[0]


# --- the builder itself ----------------------------------------------------------------------


def test_builder_gives_every_contract_column_with_staged_dtypes() -> None:
    f = frame("referrals", [{"referral_id": "R1", "referral_datetime": "2014-06-30 23:30",
                             "decision_date": "2014-07-02"}])
    assert f.schema["referral_datetime"] == pl.Datetime("us", "UTC")
    assert f.schema["decision_date"] == pl.Date
    assert f.schema["referral_id"] == pl.String
    assert f["referral_source"].to_list() == [None]  # not given -> null of the right type
    assert frame("cin_plans").schema["outcomes_recorded"] == pl.Int64
    assert set(staged()) == set(statuses())
    assert dict(staged()["assessments"].schema) == schema("assessments")
    with pytest.raises(KeyError):
        frame("referrals", [{"no_such_column": 1}])


def test_catalogue_has_the_26_indicators_of_the_spec() -> None:
    assert [i.code for i in CATALOGUE] == ALL_CODES
    res = run()  # nothing at all: every indicator computed, no values, no error
    assert [r["indicator_code"] for r in res.runs] == ALL_CODES
    assert {r["status"] for r in res.runs} == {"computed"}
    assert res.values.height == 0 and res.cases.height == 0


# --- REF01 -----------------------------------------------------------------------------------


REF01_ROWS = [
    # Tue 24 Dec 2013 -> Fri 27 Dec: 25 and 26 Dec are bank holidays, 27 counts: wd = 1 -> in
    referral("R1", "2013-12-24 10:00", decision="2013-12-27", team="T1"),
    # Fri 6 Dec -> Mon 9 Dec: Sat, Sun skipped, Mon counts: wd = 1 -> in
    referral("R2", "2013-12-06 10:00", decision="2013-12-09", team="T1"),
    # Mon 2 Dec -> Tue 3 Dec: wd = 1 (exactly on the limit) -> in
    referral("R3", "2013-12-02 10:00", decision="2013-12-03", team="T1"),
    # Mon 2 Dec -> Wed 4 Dec: Tue, Wed: wd = 2 -> out
    referral("R4", "2013-12-02 11:00", decision="2013-12-04", team="T2"),
    # no decision yet: in the denominator, never in the numerator
    referral("R5", "2013-12-10 10:00", team="T2"),
    # same-day decision: wd = 0 -> in
    referral("R6", "2013-12-16 10:00", decision="2013-12-16", team="T2"),
    # Easter 2014: Thu 17 Apr (10:00 UTC = 11:00 BST) -> Tue 22 Apr: Fri 18 Good Friday,
    # Sat, Sun, Mon 21 Easter Monday are not working days; Tue 22 counts: wd = 1 -> in
    referral("R7", "2014-04-17 10:00", decision="2014-04-22", team="T1"),
    # Thu 17 Apr -> Wed 23 Apr: Tue 22, Wed 23: wd = 2 -> out
    referral("R8", "2014-04-17 10:00", decision="2014-04-23", team="T2"),
]


def test_ref01_boundary_bank_holidays_and_weekend() -> None:
    res = run(referrals=REF01_ROWS)
    # Dec 2013: R1, R2, R3, R6 in; R4 (2 wd), R5 (no decision) out -> 4 / 6 = 66.67 %
    # Apr 2014: R7 in, R8 out -> 1 / 2 = 50 %
    assert_table(res, "REF01", "month", {"2013-12": (4, 6, 400 / 6), "2014-04": (1, 2, 50.0)})
    # financial quarters: Dec is in 2013-14 Q3 (Oct-Dec), April in 2014-15 Q1 (Apr-Jun)
    assert_table(res, "REF01", "quarter",
                 {"2013-14 Q3": (4, 6, 400 / 6), "2014-15 Q1": (1, 2, 50.0)})
    assert_table(res, "REF01", "year", {"2013-14": (4, 6, 400 / 6), "2014-15": (1, 2, 50.0)})
    # team T1: R1, R2, R3 all in (3/3) and R7 (1/1); T2: R6 in of R4, R5, R6 (1/3), R8 (0/1)
    assert_table(res, "REF01", "month", {
        ("2013-12", "T1"): (3, 3, 100.0), ("2013-12", "T2"): (1, 3, 100 / 3),
        ("2014-04", "T1"): (1, 1, 100.0), ("2014-04", "T2"): (0, 1, 0.0)}, breakdown="team")
    assert_team_rows_sum_to_all(res, "REF01")


def test_ref01_period_columns_and_labels() -> None:
    res = run(referrals=REF01_ROWS)
    v = res.values.filter((pl.col("indicator_code") == "REF01") & (pl.col("breakdown") == "all"))
    spans = {(r["period_type"], r["period_label"]): (r["period_start"], r["period_end"])
             for r in v.iter_rows(named=True)}
    assert spans == {
        ("month", "2013-12"): (date(2013, 12, 1), date(2013, 12, 31)),
        ("month", "2014-04"): (date(2014, 4, 1), date(2014, 4, 30)),
        ("quarter", "2013-14 Q3"): (date(2013, 10, 1), date(2013, 12, 31)),
        ("quarter", "2014-15 Q1"): (date(2014, 4, 1), date(2014, 6, 30)),
        ("year", "2013-14"): (date(2013, 4, 1), date(2014, 3, 31)),
        ("year", "2014-15"): (date(2014, 4, 1), date(2015, 3, 31)),
    }


def test_ref01_drill_through_cases() -> None:
    res = run(referrals=REF01_ROWS)
    # record -> (in_numerator, measure = wd(referral date, decision date); null if no decision)
    assert case_rows(res, "REF01", "2013-12") == {
        "R1": (True, 1.0), "R2": (True, 1.0), "R3": (True, 1.0), "R4": (False, 2.0),
        "R5": (False, None), "R6": (True, 0.0)}
    assert case_rows(res, "REF01", "2014-15 Q1", "quarter") == {
        "R7": (True, 1.0), "R8": (False, 2.0)}
    c = res.cases.filter((pl.col("indicator_code") == "REF01") & (pl.col("record_id") == "R4")
                         & (pl.col("period_type") == "year"))
    assert c.select("child_id", "team_id", "period_label", "period_start", "period_end").row(0) \
        == ("C-R4", "T2", "2013-14", date(2013, 4, 1), date(2014, 3, 31))


def test_ref01_referral_date_is_the_london_local_date() -> None:
    res = run(referrals=[
        # 23:30 UTC on Mon 30 Jun 2014 is 00:30 BST on Tue 1 Jul: the referral is July's, and
        # Tue 1 Jul -> Wed 2 Jul is wd = 1 -> in (the UTC date would give 2 and June)
        referral("R1", "2014-06-30 23:30", decision="2014-07-02"),
        # 23:30 UTC on Mon 31 Mar 2014 is 00:30 BST on Tue 1 Apr: financial year 2014-15;
        # Tue 1 Apr -> Thu 3 Apr is wd = 2 -> out
        referral("R2", "2014-03-31 23:30", decision="2014-04-03"),
        # winter: 23:30 UTC on Tue 31 Dec 2013 is 23:30 GMT, still 31 Dec; -> Thu 2 Jan 2014:
        # Wed 1 Jan is New Year's Day, Thu 2 counts: wd = 1 -> in
        referral("R3", "2013-12-31 23:30", decision="2014-01-02"),
    ])
    assert_table(res, "REF01", "month", {
        "2013-12": (1, 1, 100.0), "2014-04": (0, 1, 0.0), "2014-07": (1, 1, 100.0)})
    assert_table(res, "REF01", "year", {"2013-14": (1, 1, 100.0), "2014-15": (1, 2, 50.0)})


def test_ref01_weekend_referral() -> None:
    res = run(referrals=[
        # Sat 7 Dec 2013 -> Mon 9 Dec: Sun skipped, Mon counts: wd 1 -> in
        referral("R1", "2013-12-07 10:00", decision="2013-12-09"),
        # Sun 8 Dec -> Mon 9 Dec: wd 1 -> in
        referral("R2", "2013-12-08 10:00", decision="2013-12-09"),
        # Sat 7 Dec -> Tue 10 Dec: Mon, Tue: wd 2 -> out
        referral("R3", "2013-12-07 11:00", decision="2013-12-10"),
        # Sat 7 Dec -> Sun 8 Dec (a weekend decision): no working day in between: wd 0 -> in
        referral("R4", "2013-12-07 12:00", decision="2013-12-08"),
        # Mon 23 Dec -> Thu 26 Dec (decided on a bank holiday): Tue 24 (1), Wed 25 and Thu 26
        # are bank holidays: wd 1 -> in
        referral("R5", "2013-12-23 10:00", decision="2013-12-26"),
        # Fri 20 Dec -> Tue 24 Dec: Mon 23, Tue 24: wd 2 -> out
        referral("R6", "2013-12-20 10:00", decision="2013-12-24"),
    ])
    assert case_rows(res, "REF01", "2013-12") == {
        "R1": (True, 1.0), "R2": (True, 1.0), "R3": (False, 2.0), "R4": (True, 0.0),
        "R5": (True, 1.0), "R6": (False, 2.0)}
    assert table(res, "REF01")["2013-12"] == (4, 6, 400 / 6)


def test_ref01_bank_holidays_before_2000() -> None:
    # Fri 24 Dec 1999 -> Wed 29 Dec 1999: Sat 25, Sun 26, Mon 27 (Christmas Day substitute)
    # and Tue 28 (Boxing Day substitute) are not working days; Wed 29 counts: wd 1 -> in
    res = run(referrals=[referral("R1", "1999-12-24 10:00", decision="1999-12-29")])
    assert case_rows(res, "REF01", "1999-12") == {"R1": (True, 1.0)}


def test_ref01_holiday_in_the_year_of_the_referral_datetime_only() -> None:
    # Thu 30 Dec 1999 -> Tue 4 Jan 2000: Fri 31 Dec 1999 (Millennium bank holiday), Sat 1,
    # Sun 2, Mon 3 Jan 2000 (New Year's Day substitute) are not working days; Tue 4 counts:
    # wd 1 -> in. The only 1999 date of the batch is the referral_datetime.
    res = run(referrals=[referral("R1", "1999-12-30 10:00", decision="2000-01-04")])
    assert case_rows(res, "REF01", "1999-12") == {"R1": (True, 1.0)}


def test_timescales_come_from_the_configuration() -> None:
    base = load_config()
    config = IndicatorConfig({**base.timescales, "decision_working_days": 2}, base.targets)
    res = derive(staged(referrals=REF01_ROWS), statuses(), AS_OF, config)
    # with 2 working days allowed, R4 (2 wd) and R8 (2 wd) are in as well:
    # Dec 2013 5/6, Apr 2014 2/2
    assert_table(res, "REF01", "month", {"2013-12": (5, 6, 500 / 6), "2014-04": (2, 2, 100.0)})
    titles = {r["code"]: r["title"] for r in catalogue_rows(config)}
    assert titles["REF01"] == "Referral decisions made within 2 working days (SCC/006)"
    titles = {r["code"]: r["title"] for r in catalogue_rows(base)}
    assert titles["REF01"] == "Referral decisions made within 1 working day (SCC/006)"


# --- REF02 -----------------------------------------------------------------------------------


def test_ref02_twelve_month_boundary_and_ties() -> None:
    res = run(referrals=[
        # child A: 31 Mar 2013 then 31 Mar 2014; 31 Mar 2014 - 12 months = 31 Mar 2013, and the
        # earlier referral is on that date -> re-referral (exactly 12 months counts)
        referral("A1", "2013-03-31 10:00", child="A", team="T1"),
        referral("A2", "2014-03-31 10:00", child="A", team="T1"),
        # child B: 30 Mar 2013 then 31 Mar 2014: 12 months + 1 day -> not a re-referral
        referral("B1", "2013-03-30 10:00", child="B", team="T2"),
        referral("B2", "2014-03-31 10:00", child="B", team="T2"),
        # child C: two referrals with the same datetime: neither is "earlier" -> neither counts
        referral("C1", "2014-03-20 09:00", child="C", team="T1"),
        referral("C2", "2014-03-20 09:00", child="C", team="T2"),
        # child D: same day, 09:00 then 15:00: the 15:00 one has an earlier referral -> counts
        referral("D1", "2014-03-01 09:00", child="D", team="T1"),
        referral("D2", "2014-03-01 15:00", child="D", team="T1"),
        # child E: the earlier referral is 23:30 UTC on 30 Jun 2013 = 00:30 BST on 1 Jul 2013;
        # 1 Jul 2014 - 12 months = 1 Jul 2013 -> counts (its UTC date, 30 Jun, would not)
        referral("E1", "2013-06-30 23:30", child="E", team="T2"),
        referral("E2", "2014-07-01 10:00", child="E", team="T2"),
    ])
    # Mar 2013: A1, B1 first referrals -> 0 / 2
    # Jul 2013: E1 (local date 1 Jul) first referral -> 0 / 1
    # Mar 2014: A2 yes, B2 no, C1 no, C2 no, D1 no, D2 yes -> 2 / 6
    # Jul 2014: E2 yes -> 1 / 1
    assert_table(res, "REF02", "month", {
        "2013-03": (0, 2, 0.0), "2013-07": (0, 1, 0.0), "2014-03": (2, 6, 100 / 3),
        "2014-07": (1, 1, 100.0)})
    # years: 2012-13 = Mar 2013 (0/2); 2013-14 = Jul 2013 + Mar 2014 (2/7); 2014-15 = E2 (1/1)
    assert_table(res, "REF02", "year", {
        "2012-13": (0, 2, 0.0), "2013-14": (2, 7, 200 / 7), "2014-15": (1, 1, 100.0)})
    # Mar 2014 by team: T1 = A2 (yes), C1, D1, D2 (yes) -> 2/4; T2 = B2, C2 -> 0/2
    assert_table(res, "REF02", "month", {
        ("2013-03", "T1"): (0, 1, 0.0), ("2013-03", "T2"): (0, 1, 0.0),
        ("2013-07", "T2"): (0, 1, 0.0), ("2014-03", "T1"): (2, 4, 50.0),
        ("2014-03", "T2"): (0, 2, 0.0), ("2014-07", "T2"): (1, 1, 100.0)}, breakdown="team")
    assert_team_rows_sum_to_all(res, "REF02")
    assert {k: v[0] for k, v in case_rows(res, "REF02", "2014-03").items()} == {
        "A2": True, "B2": False, "C1": False, "C2": False, "D1": False, "D2": True}


def test_ref02_month_end_clamping_looking_back() -> None:
    res = run(as_of=date(2016, 3, 10), referrals=[
        # 29 Feb 2016 - 12 months = 28 Feb 2015 (clamped); the earlier one is on 28 Feb 2015
        referral("A1", "2015-02-28 10:00", child="A"),
        referral("A2", "2016-02-29 10:00", child="A"),
        # 27 Feb 2015 is before 28 Feb 2015 -> not a re-referral
        referral("B1", "2015-02-27 10:00", child="B"),
        referral("B2", "2016-02-29 11:00", child="B"),
    ])
    assert table(res, "REF02")["2016-02"] == (1, 2, 50.0)
    assert_team_rows_sum_to_all(res, "REF02")


# --- REF03 -----------------------------------------------------------------------------------


def test_ref03_only_referrals_with_an_earlier_referral() -> None:
    res = run(referrals=[
        # child A: first referral in Jan 2014 (no earlier one: excluded even with a decision)
        referral("A1", "2014-01-15 10:00", child="A", decision="2014-01-15", checked="Y"),
        # ... then two more in Feb, both with an earlier referral and a decision
        referral("A2", "2014-02-10 10:00", child="A", decision="2014-02-11", checked="Y",
                 team="T1"),
        referral("A3", "2014-02-12 10:00", child="A", decision="2014-02-12", checked="N",
                 team="T2"),
        # child B: a first referral: excluded
        referral("B1", "2014-02-05 10:00", child="B", decision="2014-02-05", checked="Y"),
        # child C: earlier referral in May 2013 (excluded: first), Feb one has no decision
        referral("C1", "2013-05-01 10:00", child="C", decision="2013-05-01", checked="Y"),
        referral("C2", "2014-02-20 10:00", child="C"),
        # child D: two referrals at the same datetime: neither has an earlier one
        referral("D1", "2014-02-25 09:00", child="D", decision="2014-02-25", checked="Y"),
        referral("D2", "2014-02-25 09:00", child="D", decision="2014-02-25", checked="Y"),
    ])
    # Feb 2014: A2 (Y) and A3 (N) -> 1 / 2. Jan 2014 and May 2013 hold only excluded
    # referrals (A1, C1): NO row there, while February has one.
    assert_table(res, "REF03", "month", {"2014-02": (1, 2, 50.0)})
    assert_table(res, "REF03", "quarter", {"2013-14 Q4": (1, 2, 50.0)})
    assert_table(res, "REF03", "year", {"2013-14": (1, 2, 50.0)})
    assert_table(res, "REF03", "month", {("2014-02", "T1"): (1, 1, 100.0),
                                         ("2014-02", "T2"): (0, 1, 0.0)}, breakdown="team")
    assert_team_rows_sum_to_all(res, "REF03")
    assert set(case_rows(res, "REF03", "2014-02")) == {"A2", "A3"}


# --- REF04 / REF06 ---------------------------------------------------------------------------


FLAG_REFERRALS = [
    referral("R1", "2014-05-06 09:00", decision="2014-05-06", mgmt="Y", risk="N", team="T1"),
    referral("R2", "2014-05-07 09:00", decision="2014-05-07", mgmt="N", risk="Y", team="T1"),
    referral("R3", "2014-05-08 09:00", decision="2014-05-09", mgmt="Y", risk="Y", team="T2"),
    referral("R4", "2014-05-09 09:00", team="T2"),  # no decision: excluded
    referral("R5", "2014-06-02 09:00", team="T2"),  # June: only a referral without decision
]


def test_ref04_management_decision_recorded() -> None:
    res = run(referrals=FLAG_REFERRALS)
    # May: R1, R2, R3 have decisions; management decision Y on R1 and R3 -> 2 / 3.
    # June holds only R5 (no decision): no row.
    assert_table(res, "REF04", "month", {"2014-05": (2, 3, 200 / 3)})
    assert_table(res, "REF04", "quarter", {"2014-15 Q1": (2, 3, 200 / 3)})
    assert_table(res, "REF04", "month", {("2014-05", "T1"): (1, 2, 50.0),
                                         ("2014-05", "T2"): (1, 1, 100.0)}, breakdown="team")
    assert_team_rows_sum_to_all(res, "REF04")


def test_ref06_risk_analysis_recorded() -> None:
    res = run(referrals=FLAG_REFERRALS)
    # May: R1 N, R2 Y, R3 Y -> 2 / 3; team T1 (R1, R2) 1/2, T2 (R3) 1/1; June: no row
    assert_table(res, "REF06", "month", {"2014-05": (2, 3, 200 / 3)})
    assert_table(res, "REF06", "year", {"2014-15": (2, 3, 200 / 3)})
    assert_table(res, "REF06", "month", {("2014-05", "T1"): (1, 2, 50.0),
                                         ("2014-05", "T2"): (1, 1, 100.0)}, breakdown="team")
    assert_team_rows_sum_to_all(res, "REF06")


# --- REF05 -----------------------------------------------------------------------------------


def test_ref05_referrer_informed_within_7_working_days() -> None:
    res = run(referrals=[
        # decision Mon 2 Jun -> informed Wed 11 Jun: 3,4,5,6 (4), 9,10,11 (7): wd 7 -> in
        referral("R1", "2014-06-02 09:00", decision="2014-06-02", informed="2014-06-11"),
        # -> Thu 12 Jun: wd 8 -> out
        referral("R2", "2014-06-02 09:00", decision="2014-06-02", informed="2014-06-12",
                 team="T2"),
        # ANONYMOUS referrer: excluded, however quickly told
        referral("R3", "2014-06-02 09:00", decision="2014-06-02", informed="2014-06-03",
                 source="ANONYMOUS"),
        # decision but referrer never told: in the denominator, not the numerator
        referral("R4", "2014-06-03 09:00", decision="2014-06-03", team="T2"),
        # no decision: excluded
        referral("R5", "2014-06-04 09:00", informed="2014-06-05"),
        # decision Fri 23 May -> informed Wed 4 Jun: Sat, Sun, Mon 26 May bank holiday;
        # 27,28,29,30 May (4), 2,3,4 Jun (7): wd 7 -> in
        referral("R6", "2014-05-23 09:00", decision="2014-05-23", informed="2014-06-04"),
        # -> Thu 5 Jun: wd 8 -> out
        referral("R7", "2014-05-23 09:00", decision="2014-05-23", informed="2014-06-05",
                 team="T2"),
        # April: only an ANONYMOUS referral -> no April row
        referral("R8", "2014-04-08 09:00", decision="2014-04-08", informed="2014-04-08",
                 source="ANONYMOUS"),
    ])
    # June: R1 in, R2 out, R4 out -> 1/3; May: R6 in, R7 out -> 1/2; April: no row
    assert_table(res, "REF05", "month", {"2014-05": (1, 2, 50.0), "2014-06": (1, 3, 100 / 3)})
    assert_table(res, "REF05", "quarter", {"2014-15 Q1": (2, 5, 40.0)})
    assert_table(res, "REF05", "month", {
        ("2014-05", "T1"): (1, 1, 100.0), ("2014-05", "T2"): (0, 1, 0.0),
        ("2014-06", "T1"): (1, 1, 100.0), ("2014-06", "T2"): (0, 2, 0.0)}, breakdown="team")
    assert_team_rows_sum_to_all(res, "REF05")
    assert case_rows(res, "REF05", "2014-06") == {
        "R1": (True, 7.0), "R2": (False, 8.0), "R4": (False, None)}


# --- ASM01 / ASM02 / ASM03 -------------------------------------------------------------------


ASM01_REFERRALS = [
    referral("R1", "2014-06-02 09:00"),   # Mon 2 Jun 2014 (10:00 BST)
    referral("R2", "2014-04-16 09:00"),   # Wed 16 Apr 2014, before Easter
    referral("R3", "2014-06-05 23:30"),   # 23:30 UTC Thu 5 Jun = 00:30 BST Fri 6 Jun
    referral("R4", "2014-05-01 09:00"),
]
ASM01_ASSESSMENTS = [
    # R1 Mon 2 Jun -> Wed 11 Jun: 3,4,5,6 (4), 9,10,11 (7): wd 7 -> in
    assessment("A1", "INITIAL", "2014-06-02", "2014-06-11", referral_id="R1", team="T1",
               seen="Y", alone="Y"),
    # R1 Mon 2 Jun -> Thu 12 Jun: wd 8 -> out
    assessment("A2", "INITIAL", "2014-06-02", "2014-06-12", referral_id="R1", team="T2",
               seen="N", alone="N"),
    # R2 Wed 16 Apr -> Tue 29 Apr: Thu 17 (1), [Fri 18 Good Friday, Sat, Sun, Mon 21 Easter
    # Monday], 22,23,24,25 (5), 28,29 (7): wd 7 -> in
    assessment("A3", "INITIAL", "2014-04-16", "2014-04-29", referral_id="R2", team="T1",
               seen="Y", alone="N"),
    # R2 -> Wed 30 Apr: wd 8 -> out
    assessment("A4", "INITIAL", "2014-04-16", "2014-04-30", referral_id="R2", team="T2",
               seen="Y", alone="Y"),
    # R3 (local Fri 6 Jun) -> Tue 17 Jun: 9..13 (5), 16,17 (7): wd 7 -> in.
    # (From the UTC date, Thu 5 Jun, it would be 8 and out.)
    assessment("A5", "INITIAL", "2014-06-06", "2014-06-17", referral_id="R3", team="T2",
               seen="Y", alone="N"),
    # excluded: a CORE assessment; an INITIAL not completed
    assessment("A6", "CORE", "2014-06-03", "2014-06-04", referral_id="R1", seen="Y", alone="Y"),
    assessment("A7", "INITIAL", "2014-06-03", None, referral_id="R1"),
    # May: only a CORE completed -> no ASM01/02/03 row for May
    assessment("A8", "CORE", "2014-05-02", "2014-05-20", referral_id="R4", seen="Y"),
]


def test_asm01_initial_assessment_within_7_working_days() -> None:
    res = run(referrals=ASM01_REFERRALS, assessments=ASM01_ASSESSMENTS)
    # June: A1 in, A2 out, A5 in -> 2/3; April: A3 in, A4 out -> 1/2; May: no row
    assert_table(res, "ASM01", "month", {"2014-04": (1, 2, 50.0), "2014-06": (2, 3, 200 / 3)})
    # 2014-15 Q1 (Apr-Jun) and the year 2014-15: 3 / 5 = 60 %
    assert_table(res, "ASM01", "quarter", {"2014-15 Q1": (3, 5, 60.0)})
    assert_table(res, "ASM01", "year", {"2014-15": (3, 5, 60.0)})
    # by team: T1 = A1, A3 (2/2); T2 = A2, A4, A5 (1/3)
    assert_table(res, "ASM01", "quarter", {("2014-15 Q1", "T1"): (2, 2, 100.0),
                                           ("2014-15 Q1", "T2"): (1, 3, 100 / 3)},
                 breakdown="team")
    assert_team_rows_sum_to_all(res, "ASM01")
    assert case_rows(res, "ASM01", "2014-06") == {
        "A1": (True, 7.0), "A2": (False, 8.0), "A5": (True, 7.0)}


def test_asm02_child_seen() -> None:
    res = run(referrals=ASM01_REFERRALS, assessments=ASM01_ASSESSMENTS)
    # June initials A1 Y, A2 N, A5 Y -> 2/3; April A3 Y, A4 Y -> 2/2; the COREs don't count
    assert_table(res, "ASM02", "month", {"2014-04": (2, 2, 100.0), "2014-06": (2, 3, 200 / 3)})
    assert_table(res, "ASM02", "quarter", {"2014-15 Q1": (4, 5, 80.0)})
    assert_team_rows_sum_to_all(res, "ASM02")


def test_asm03_child_seen_alone() -> None:
    res = run(referrals=ASM01_REFERRALS, assessments=ASM01_ASSESSMENTS)
    # June A1 Y, A2 N, A5 N -> 1/3; April A3 N, A4 Y -> 1/2
    assert_table(res, "ASM03", "month", {"2014-04": (1, 2, 50.0), "2014-06": (1, 3, 100 / 3)})
    assert_table(res, "ASM03", "month", {
        ("2014-04", "T1"): (0, 1, 0.0), ("2014-04", "T2"): (1, 1, 100.0),
        ("2014-06", "T1"): (1, 1, 100.0), ("2014-06", "T2"): (0, 2, 0.0)}, breakdown="team")
    assert_team_rows_sum_to_all(res, "ASM03")


# --- ASM04 / ASM05 ---------------------------------------------------------------------------


CORE_ASSESSMENTS = [
    # referral R1: initials completed Mon 2 Jun and Mon 9 Jun (and Mon 30 Jun, after the core
    # start: ignored). The LATEST initial on or before the core start (Mon 16 Jun) is 9 Jun:
    # 10,11,12,13,16 -> delay 5 (from 2 Jun it would be 10)
    assessment("I1a", "INITIAL", "2014-06-02", "2014-06-02", referral_id="R1"),
    assessment("I1b", "INITIAL", "2014-06-03", "2014-06-09", referral_id="R1"),
    assessment("I1c", "INITIAL", "2014-06-20", "2014-06-30", referral_id="R1"),
    assessment("K1", "CORE", "2014-06-16", referral_id="R1", team="T1"),
    # R2: Mon 2 Jun -> Mon 16 Jun: 3,4,5,6,9,10,11,12,13,16 -> 10 (exactly the limit: ASM05 in)
    assessment("I2", "INITIAL", "2014-05-30", "2014-06-02", referral_id="R2"),
    assessment("K2", "CORE", "2014-06-16", referral_id="R2", team="T1"),
    # R3: Mon 2 Jun -> Tue 17 Jun -> 11 (ASM05 out)
    assessment("I3", "INITIAL", "2014-05-30", "2014-06-02", referral_id="R3"),
    assessment("K3", "CORE", "2014-06-17", referral_id="R3", team="T2"),
    # R4: the only initial was completed (20 Jun) after the core start (18 Jun): excluded
    assessment("I4", "INITIAL", "2014-06-10", "2014-06-20", referral_id="R4"),
    assessment("K4", "CORE", "2014-06-18", referral_id="R4", team="T2"),
    # R5: no initial at all: excluded (this is the only core starting in July -> no July row)
    assessment("K5", "CORE", "2014-07-01", referral_id="R5", team="T2"),
    # R6: initial completed the same day as the core start (Wed 25 Jun) -> 0
    assessment("I6", "INITIAL", "2014-06-20", "2014-06-25", referral_id="R6"),
    assessment("K6", "CORE", "2014-06-25", referral_id="R6", team="T2"),
    # May (odd count):
    # R7: Fri 2 May -> Fri 9 May: [Mon 5 May bank holiday], 6,7,8,9 -> 4
    assessment("I7", "INITIAL", "2014-04-28", "2014-05-02", referral_id="R7"),
    assessment("K7", "CORE", "2014-05-09", referral_id="R7", team="T1"),
    # R8: Fri 23 May -> Tue 27 May: [Mon 26 May bank holiday], 27 -> 1
    assessment("I8", "INITIAL", "2014-05-20", "2014-05-23", referral_id="R8"),
    assessment("K8", "CORE", "2014-05-27", referral_id="R8", team="T1"),
    # R9: Thu 1 May -> Tue 20 May: 2 (1), [5], 6..9 (5), 12..16 (10), 19,20 (12) -> 12
    assessment("I9", "INITIAL", "2014-04-28", "2014-05-01", referral_id="R9"),
    assessment("K9", "CORE", "2014-05-20", referral_id="R9", team="T2"),
]


def test_asm04_median_core_start_delay() -> None:
    res = run(assessments=CORE_ASSESSMENTS)
    # June: K1 5, K2 10, K3 11, K6 0 (K4 excluded) -> sorted 0,5,10,11, even count:
    #   median = (5 + 10) / 2 = 7.5, denominator 4, numerator null
    # May: K7 4, K8 1, K9 12 -> sorted 1,4,12, odd count: median 4
    # July: only K5, which has no initial: no row
    assert_table(res, "ASM04", "month", {"2014-05": (None, 3, 4.0), "2014-06": (None, 4, 7.5)})
    # 2014-15 Q1: 0,1,4,5,10,11,12 -> 7 values, the 4th is 5
    assert_table(res, "ASM04", "quarter", {"2014-15 Q1": (None, 7, 5.0)})
    assert_table(res, "ASM04", "year", {"2014-15": (None, 7, 5.0)})
    # teams in June: T1 K1 5, K2 10 -> 7.5; T2 K3 11, K6 0 -> 5.5
    # May: T1 K7 4, K8 1 -> 2.5; T2 K9 -> 12
    assert_table(res, "ASM04", "month", {
        ("2014-05", "T1"): (None, 2, 2.5), ("2014-05", "T2"): (None, 1, 12.0),
        ("2014-06", "T1"): (None, 2, 7.5), ("2014-06", "T2"): (None, 2, 5.5)},
        breakdown="team")
    assert_team_rows_sum_to_all(res, "ASM04")
    nums = res.values.filter(pl.col("indicator_code") == "ASM04")["numerator"]
    assert nums.null_count() == nums.len()


def test_asm04_drill_through_cases_carry_the_delay() -> None:
    res = run(assessments=CORE_ASSESSMENTS)
    # a median has no numerator: in_numerator is null; measure = the per-case delay
    assert case_rows(res, "ASM04", "2014-06") == {
        "K1": (None, 5.0), "K2": (None, 10.0), "K3": (None, 11.0), "K6": (None, 0.0)}
    assert case_rows(res, "ASM04", "2014-05") == {
        "K7": (None, 4.0), "K8": (None, 1.0), "K9": (None, 12.0)}
    assert case_rows(res, "ASM04", "2014-07") == {}


def test_asm05_core_started_within_10_working_days() -> None:
    res = run(assessments=CORE_ASSESSMENTS)
    # June: K1 5 in, K2 10 in (limit), K3 11 out, K6 0 in -> 3/4; May: K7 4, K8 1 in,
    # K9 12 out -> 2/3; July: no row (K5 excluded)
    assert_table(res, "ASM05", "month", {"2014-05": (2, 3, 200 / 3), "2014-06": (3, 4, 75.0)})
    assert_table(res, "ASM05", "quarter", {"2014-15 Q1": (5, 7, 500 / 7)})
    assert_table(res, "ASM05", "month", {
        ("2014-05", "T1"): (2, 2, 100.0), ("2014-05", "T2"): (0, 1, 0.0),
        ("2014-06", "T1"): (2, 2, 100.0), ("2014-06", "T2"): (1, 2, 50.0)},
        breakdown="team")
    assert_team_rows_sum_to_all(res, "ASM05")
    assert case_rows(res, "ASM05", "2014-06") == {
        "K1": (True, 5.0), "K2": (True, 10.0), "K3": (False, 11.0), "K6": (True, 0.0)}


def test_asm04_initial_of_another_referral_does_not_qualify() -> None:
    res = run(assessments=[
        # the child's initial was completed under referral R1; the core follows referral R2,
        # which has no initial of its own -> excluded from ASM04/ASM05
        assessment("I1", "INITIAL", "2014-06-02", "2014-06-03", referral_id="R1"),
        assessment("K2", "CORE", "2014-06-10", referral_id="R2"),
        # R3: initial Tue 3 Jun -> core Tue 10 Jun: 4,5,6,9,10 -> 5
        assessment("I3", "INITIAL", "2014-06-02", "2014-06-03", referral_id="R3"),
        assessment("K3", "CORE", "2014-06-10", referral_id="R3"),
    ])
    assert_table(res, "ASM04", "month", {"2014-06": (None, 1, 5.0)})
    assert_table(res, "ASM05", "month", {"2014-06": (1, 1, 100.0)})


# --- ASM06 -----------------------------------------------------------------------------------


def test_asm06_core_completed_within_35_working_days() -> None:
    res = run(as_of=date(2014, 10, 31), assessments=[
        # start Mon 2 Jun: June 3..6 (4), 9..13 (9), 16..20 (14), 23..27 (19), 30 (20);
        # July 1..4 (24), 7..11 (29), 14..18 (34), Mon 21 (35), Tue 22 (36)
        assessment("C1", "CORE", "2014-06-02", "2014-07-21", referral_id="R1", team="T1"),
        assessment("C2", "CORE", "2014-06-02", "2014-07-22", referral_id="R2", team="T2"),
        # start Mon 18 Aug: 19..22 (4), [Mon 25 Aug bank holiday], 26..29 (8), Sep 1..5 (13),
        # 8..12 (18), 15..19 (23), 22..26 (28), 29, 30 (30), Oct 1..3 (33), Mon 6 (34),
        # Tue 7 (35), Wed 8 (36)
        assessment("C3", "CORE", "2014-08-18", "2014-10-07", referral_id="R3", team="T1"),
        assessment("C4", "CORE", "2014-08-18", "2014-10-08", referral_id="R4", team="T1"),
        # excluded: a core not completed; September: only an INITIAL completed -> no row
        assessment("C5", "CORE", "2014-08-18", None, referral_id="R5"),
        assessment("I6", "INITIAL", "2014-09-01", "2014-09-05", referral_id="R6"),
    ])
    # July: C1 (35) in, C2 (36) out -> 1/2; October: C3 (35) in, C4 (36) out -> 1/2
    assert_table(res, "ASM06", "month", {"2014-07": (1, 2, 50.0), "2014-10": (1, 2, 50.0)})
    assert_table(res, "ASM06", "quarter", {"2014-15 Q2": (1, 2, 50.0),
                                           "2014-15 Q3": (1, 2, 50.0)})
    assert_table(res, "ASM06", "year", {"2014-15": (2, 4, 50.0)})
    assert_table(res, "ASM06", "year", {("2014-15", "T1"): (2, 3, 200 / 3),
                                        ("2014-15", "T2"): (0, 1, 0.0)}, breakdown="team")
    assert_team_rows_sum_to_all(res, "ASM06")
    assert case_rows(res, "ASM06", "2014-10") == {"C3": (True, 35.0), "C4": (False, 36.0)}


# --- FTH01 / FTH02: point in time ------------------------------------------------------------


FATHER_TABLES: dict[str, list[dict[str, Any]]] = {
    "cp_plans": [
        # K1: open from 15 May; ends Fri 11 Jul, the day AFTER the extract date (Thu 10 Jul):
        # still open on July's period date D = 10 Jul (not the month end, 31 Jul)
        cp_plan("P1", "K1", "2014-05-15", "2014-07-11", team="T1"),
        # K2: ends on 30 Jun = June's D: end_date > D fails -> never open on a period date
        cp_plan("P2", "K2", "2014-06-10", "2014-06-30", team="T2"),
        # K3: starts ON the extract date: open on D = 10 Jul
        cp_plan("P3", "K3", "2014-07-10", team="T2"),
        # K4: open on 30 Jun, ended 1 Jul
        cp_plan("P4", "K4", "2014-06-05", "2014-07-01", team="T1"),
        # K5: open from 1 Jul
        cp_plan("P5", "K5", "2014-07-01", team="T2"),
    ],
    "relationships": [
        # K1: birth father, always; male carer from 15 Jun (active on 30 Jun and 10 Jul)
        relationship("RF1", "K1", "F1", "BIRTH_FATHER"),
        relationship("RM1", "K1", "M1", "MALE_CARER", start="2014-06-15"),
        relationship("RW1", "K1", "W1", "BIRTH_MOTHER"),
        # K3: step-father from 20 Jul: after the extract date, before the month end ->
        # NOT active on D = 10 Jul
        relationship("RF3", "K3", "F3", "STEP_FATHER", start="2014-07-20"),
        # K4: a mother, and a male carer whose relationship ended on 30 Jun (not active on D)
        relationship("RW4", "K4", "W4", "BIRTH_MOTHER"),
        relationship("RM4", "K4", "M4", "MALE_CARER", start="2014-01-01", end="2014-06-30"),
        # K5: adoptive father from the extract date itself: active on D = 10 Jul
        relationship("RF5", "K5", "F5", "ADOPTIVE_FATHER", start="2014-07-10"),
    ],
    "persons": [
        person("F1"), person("F3"), person("F5"), person("W1"), person("W4"), person("M4"),
        person("M1", address_recorded="N"),  # one detail missing: not "full details"
    ],
}


def test_fth01_children_on_a_plan_with_a_father_figure_at_the_period_date() -> None:
    res = run(**FATHER_TABLES)
    # May (D = 31 May): P1 open; K1 has a father -> 1/1
    # June (D = 30 Jun): P1, P4 open (P2 ends on D: not open); K1 yes, K4 no -> 1/2
    # July (D = 10 Jul, the extract date): P1 (ends 11 Jul), P3, P5 open (P4 ended 1 Jul);
    #   K1 yes, K3 no (father from 20 Jul), K5 yes (father from 10 Jul) -> 2/3
    # April 2014: no plan open on 30 Apr -> no row
    assert_table(res, "FTH01", "month", {
        "2014-05": (1, 1, 100.0), "2014-06": (1, 2, 50.0), "2014-07": (2, 3, 200 / 3)})
    # Q1 2014-15: D = 30 Jun -> as June; Q2: D = 10 Jul -> as July; year 2014-15: D = 10 Jul
    assert_table(res, "FTH01", "quarter", {"2014-15 Q1": (1, 2, 50.0),
                                           "2014-15 Q2": (2, 3, 200 / 3)})
    assert_table(res, "FTH01", "year", {"2014-15": (2, 3, 200 / 3)})
    # teams: June both plans T1 (1/2); July P1 T1 (1/1), P3 and P5 T2 (1/2)
    assert_table(res, "FTH01", "month", {
        ("2014-05", "T1"): (1, 1, 100.0), ("2014-06", "T1"): (1, 2, 50.0),
        ("2014-07", "T1"): (1, 1, 100.0), ("2014-07", "T2"): (1, 2, 50.0)}, breakdown="team")
    assert_team_rows_sum_to_all(res, "FTH01")
    assert {k: v[0] for k, v in case_rows(res, "FTH01", "2014-07").items()} == {
        "P1": True, "P3": False, "P5": True}
    v = res.values.filter((pl.col("indicator_code") == "FTH01")
                          & (pl.col("period_label") == "2014-07") & (pl.col("breakdown") == "all"))
    assert v.select("period_start", "period_end").row(0) == (date(2014, 7, 1), date(2014, 7, 31))


def test_fth02_father_figures_with_full_details() -> None:
    res = run(**FATHER_TABLES)
    # May (D 31 May): K1's RF1 (full) -> 1/1; RM1 starts 15 Jun, not yet active
    # June (D 30 Jun): K1's RF1 (full), RM1 (address missing); K4's RM4 ended on D -> 1/2
    # July (D 10 Jul): K1's RF1, RM1; K3's RF3 not active; K5's RF5 (full) -> 2/3
    # mothers never count
    assert_table(res, "FTH02", "month", {
        "2014-05": (1, 1, 100.0), "2014-06": (1, 2, 50.0), "2014-07": (2, 3, 200 / 3)})
    assert_table(res, "FTH02", "quarter", {"2014-15 Q1": (1, 2, 50.0),
                                           "2014-15 Q2": (2, 3, 200 / 3)})
    assert_table(res, "FTH02", "year", {"2014-15": (2, 3, 200 / 3)})
    # teams: the child's open plan: K1 -> P1 (T1), K5 -> P5 (T2)
    assert_table(res, "FTH02", "month", {
        ("2014-05", "T1"): (1, 1, 100.0), ("2014-06", "T1"): (1, 2, 50.0),
        ("2014-07", "T1"): (1, 2, 50.0), ("2014-07", "T2"): (1, 1, 100.0)}, breakdown="team")
    assert_team_rows_sum_to_all(res, "FTH02")
    assert {k: v[0] for k, v in case_rows(res, "FTH02", "2014-07").items()} == {
        "RF1": True, "RM1": False, "RF5": True}


def test_fth01_past_period_uses_the_period_end_not_the_extract_date() -> None:
    # Extract date Fri 15 Aug 2014. A plan that ended on 1 Aug was open on 31 Jul (July's D)
    # but not on 15 Aug; the father figure arrived on 1 Aug: not active on 31 Jul.
    res = run(as_of=date(2014, 8, 15),
              cp_plans=[cp_plan("P1", "K1", "2014-07-01", "2014-08-01")],
              relationships=[relationship("RF1", "K1", "F1", "BIRTH_FATHER",
                                          start="2014-08-01")],
              persons=[person("F1")])
    # July: D = 31 Jul, P1 open, no father yet -> 0/1; August: D = 15 Aug, P1 ended -> no row
    # Q2 (Jul-Sep): D = 15 Aug -> P1 not open -> no row; year 2014-15 likewise no row
    assert_table(res, "FTH01", "month", {"2014-07": (0, 1, 0.0)})
    assert_table(res, "FTH01", "quarter", {})
    assert_table(res, "FTH01", "year", {})
    assert table(res, "FTH02", "month") == {}  # no active father figure on any D


# --- FTH03 -----------------------------------------------------------------------------------


def test_fth03_fathers_involved_excludes_na() -> None:
    res = run(assessments=[
        assessment("A1", "INITIAL", "2014-06-02", "2014-06-05", father="Y", team="T1"),
        assessment("A2", "CORE", "2014-06-02", "2014-06-20", father="N", team="T1"),
        assessment("A3", "INITIAL", "2014-06-09", "2014-06-10", father="Y", team="T2"),
        assessment("A4", "INITIAL", "2014-06-09", "2014-06-10", father="NA", team="T2"),
        assessment("A5", "CORE", "2014-06-09", None, team="T2"),  # not completed
        # May: only an NA -> no May row
        assessment("A6", "INITIAL", "2014-05-12", "2014-05-13", father="NA"),
    ])
    # June: A1 Y, A2 N, A3 Y (A4 NA and A5 open excluded) -> 2/3
    assert_table(res, "FTH03", "month", {"2014-06": (2, 3, 200 / 3)})
    assert_table(res, "FTH03", "year", {"2014-15": (2, 3, 200 / 3)})
    assert_table(res, "FTH03", "month", {("2014-06", "T1"): (1, 2, 50.0),
                                         ("2014-06", "T2"): (1, 1, 100.0)}, breakdown="team")
    assert_team_rows_sum_to_all(res, "FTH03")


# --- FTH04 / FTH05 ---------------------------------------------------------------------------


CONFERENCE_FATHER_TABLES: dict[str, list[dict[str, Any]]] = {
    "cp_conferences": [
        conference("CF1", "K1", "INITIAL", "2014-06-10", team="T1"),
        conference("CF1", "K2", "INITIAL", "2014-06-10", team="T1"),
        conference("CF2", "K3", "REVIEW", "2014-06-12", team="T2"),
        conference("CF3", "K4", "REVIEW", "2014-06-20", team="T2"),
        conference("CF4", "K5", "TRANSFER_IN", "2014-06-24", team="T2"),
        conference("CF5", "K6", "INITIAL", "2014-06-25", team="T1"),
        conference("CF5", "K8", "INITIAL", "2014-06-25", team="T1"),
        conference("CF6", "K7", "REVIEW", "2014-05-15", team="T1"),
    ],
    "relationships": [
        relationship("R1", "K1", "F1", "BIRTH_FATHER"),                       # active
        relationship("R2", "K2", "F2", "STEP_FATHER", start="2014-06-11"),    # from the day after
        relationship("R3", "K3", "F3", "MALE_CARER", "2014-01-01", "2014-06-12"),  # ended on it
        relationship("R4", "K4", "F4", "ADOPTIVE_FATHER"),                    # active
        relationship("R5", "K5", "F5", "BIRTH_FATHER", start="2014-06-24"),   # from that day
        relationship("R6", "K6", "F6", "BIRTH_FATHER"),                       # active
        relationship("R7", "K7", "W7", "BIRTH_MOTHER"),                       # not a father
        relationship("R8", "K8", "W8", "BIRTH_MOTHER"),                       # not a father
    ],
    "conference_attendance": [
        attendance("CF1", "K1", "FATHER", "Y", "Y", "F1"),
        attendance("CF1", "K2", "FATHER", "Y", "Y", "F2"),
        attendance("CF2", "K3", "MALE_CARER", "Y", "Y", "F3"),
        attendance("CF3", "K4", "MALE_CARER", "Y", "N", "F4"),
        attendance("CF3", "K4", "MOTHER", "Y", "Y", "W4"),
        attendance("CF4", "K5", "FATHER", "N", "N", "F5"),
        attendance("CF4", "K5", "SOCIAL_WORKER", "Y", "Y"),
        # CF5: K6 has no attendance rows; the father row is for another child (K8)
        attendance("CF5", "K8", "FATHER", "Y", "Y", "F6"),
    ],
}


def test_fth04_fathers_invited_only_where_a_father_figure_is_active() -> None:
    res = run(**CONFERENCE_FATHER_TABLES)
    # denominator (father figure active on the conference date): CF1|K1, CF3|K4, CF4|K5
    #   (father from that very day), CF5|K6. Out: CF1|K2 (father from the next day),
    #   CF2|K3 (carer ended that day), CF5|K8 and CF6|K7 (no father figure).
    # invited: CF1|K1 (FATHER Y), CF3|K4 (MALE_CARER Y); CF4|K5 invited N; CF5|K6 no rows
    #   (the father row of CF5 is K8's) -> 2/4. May (CF6|K7 only, excluded): no row.
    assert_table(res, "FTH04", "month", {"2014-06": (2, 4, 50.0)})
    assert_table(res, "FTH04", "month", {("2014-06", "T1"): (1, 2, 50.0),
                                         ("2014-06", "T2"): (1, 2, 50.0)}, breakdown="team")
    assert_team_rows_sum_to_all(res, "FTH04")
    assert {k: v[0] for k, v in case_rows(res, "FTH04", "2014-06").items()} == {
        "CF1|K1": True, "CF3|K4": True, "CF4|K5": False, "CF5|K6": False}


def test_fth05_fathers_attending() -> None:
    res = run(**CONFERENCE_FATHER_TABLES)
    # same denominator (4); attended: CF1|K1 only (K4's carer did not attend, the mother's
    # attendance does not count) -> 1/4
    assert_table(res, "FTH05", "month", {"2014-06": (1, 4, 25.0)})
    assert_table(res, "FTH05", "quarter", {"2014-15 Q1": (1, 4, 25.0)})
    assert_table(res, "FTH05", "month", {("2014-06", "T1"): (1, 2, 50.0),
                                         ("2014-06", "T2"): (0, 2, 0.0)}, breakdown="team")
    assert_team_rows_sum_to_all(res, "FTH05")


def test_fth04_a_conference_row_counts_once() -> None:
    # two active father figures and two father-role attendance rows: still one case
    res = run(cp_conferences=[conference("CF1", "K1", "REVIEW", "2014-06-10")],
              relationships=[relationship("R1", "K1", "F1", "BIRTH_FATHER"),
                             relationship("R2", "K1", "F2", "STEP_FATHER")],
              conference_attendance=[attendance("CF1", "K1", "FATHER", "Y", "Y", "F1"),
                                     attendance("CF1", "K1", "MALE_CARER", "Y", "N", "F2")])
    assert_table(res, "FTH04", "month", {"2014-06": (1, 1, 100.0)})
    assert_table(res, "FTH05", "month", {"2014-06": (1, 1, 100.0)})


def test_fth05_uninvited_attendance_does_not_count() -> None:
    # FTH05's numerator is "such a row" as FTH04's (role FATHER/MALE_CARER, invited = Y) with
    # attended = Y: a father who came uninvited (itself a data-quality warning) is not counted.
    res = run(cp_conferences=[conference("CF1", "K1", "REVIEW", "2014-06-10"),
                              conference("CF2", "K2", "REVIEW", "2014-06-11")],
              relationships=[relationship("R1", "K1", "F1", "BIRTH_FATHER"),
                             relationship("R2", "K2", "F2", "BIRTH_FATHER")],
              conference_attendance=[attendance("CF1", "K1", "FATHER", "N", "Y", "F1"),
                                     attendance("CF2", "K2", "FATHER", "Y", "Y", "F2")])
    # denominator 2 (both fathers active); invited: CF2 only; attended as invited: CF2 only
    assert_table(res, "FTH04", "month", {"2014-06": (1, 2, 50.0)})
    assert_table(res, "FTH05", "month", {"2014-06": (1, 2, 50.0)})


# --- CPC01 -----------------------------------------------------------------------------------


def test_cpc01_initial_conference_within_15_working_days() -> None:
    res = run(as_of=date(2014, 9, 30), strategy_discussions=[
        strategy("S1", "K1", "2014-06-02"), strategy("S2", "K2", "2014-06-02"),
        strategy("S3", "K3", "2014-08-15"), strategy("S4", "K4", "2014-08-15"),
    ], cp_conferences=[
        # Mon 2 Jun -> 3..6 (4), 9..13 (9), 16..20 (14), Mon 23 (15), Tue 24 (16)
        conference("CF1", "K1", "INITIAL", "2014-06-23", strategy="S1", team="T1"),
        conference("CF2", "K2", "INITIAL", "2014-06-24", strategy="S2", team="T2"),
        # Fri 15 Aug -> 18..22 (5), [Mon 25 Aug bank holiday], 26..29 (9), Sep 1..5 (14),
        # Mon 8 (15), Tue 9 (16)
        conference("CF3", "K3", "INITIAL", "2014-09-08", strategy="S3", team="T1"),
        conference("CF4", "K4", "INITIAL", "2014-09-09", strategy="S4", team="T1"),
        # excluded: a REVIEW; an INITIAL whose strategy does not resolve (June and July);
        # July holds only the unresolved one -> no July row
        conference("CF5", "K1", "REVIEW", "2014-06-25", team="T1"),
        conference("CF6", "K6", "INITIAL", "2014-06-26", strategy="S9", team="T2"),
        conference("CF7", "K7", "INITIAL", "2014-07-15", strategy="S9", team="T2"),
    ])
    # June: CF1 in, CF2 out -> 1/2; September: CF3 in, CF4 out -> 1/2
    assert_table(res, "CPC01", "month", {"2014-06": (1, 2, 50.0), "2014-09": (1, 2, 50.0)})
    assert_table(res, "CPC01", "quarter", {"2014-15 Q1": (1, 2, 50.0),
                                           "2014-15 Q2": (1, 2, 50.0)})
    assert_table(res, "CPC01", "year", {"2014-15": (2, 4, 50.0)})
    assert_table(res, "CPC01", "year", {("2014-15", "T1"): (2, 3, 200 / 3),
                                        ("2014-15", "T2"): (0, 1, 0.0)}, breakdown="team")
    assert_team_rows_sum_to_all(res, "CPC01")
    assert case_rows(res, "CPC01", "2014-09") == {"CF3|K3": (True, 15.0),
                                                  "CF4|K4": (False, 16.0)}


# --- CPC02 -----------------------------------------------------------------------------------


def test_cpc02_reviews_on_time_with_month_end_clamping() -> None:
    res = run(cp_conferences=[
        # K1: INITIAL Sat 31 Aug 2013 -> due 31 Aug + 3 months = 30 Nov 2013 (clamped);
        #   REVIEW 30 Nov: on time. Next REVIEW: due 30 Nov + 6 months = 30 May 2014;
        #   held 30 May: on time (+3 would have made it late: due 28 Feb).
        conference("A", "K1", "INITIAL", "2013-08-31", team="T1"),
        conference("B", "K1", "REVIEW", "2013-11-30", team="T1"),
        conference("C", "K1", "REVIEW", "2014-05-30", team="T1"),
        # K2: INITIAL 31 Aug 2013 -> due 30 Nov; REVIEW 1 Dec: late.
        #   Next: due 1 Dec + 6 = 1 Jun 2014; REVIEW Mon 2 Jun: late.
        conference("D", "K2", "INITIAL", "2013-08-31", team="T2"),
        conference("E", "K2", "REVIEW", "2013-12-01", team="T2"),
        conference("F", "K2", "REVIEW", "2014-06-02", team="T2"),
        # K3: TRANSFER_IN 31 Mar 2014 -> due 30 Jun (+3); REVIEW 30 Jun: on time
        conference("G", "K3", "TRANSFER_IN", "2014-03-31", team="T1"),
        conference("H", "K3", "REVIEW", "2014-06-30", team="T1"),
        # K4: TRANSFER_IN 5 Mar 2014 -> due 5 Jun (+3, not +6); REVIEW 6 Jun: late
        conference("I", "K4", "TRANSFER_IN", "2014-03-05", team="T2"),
        conference("J", "K4", "REVIEW", "2014-06-06", team="T2"),
        # excluded: K5 REVIEW with no earlier conference; K6 REVIEW on the same date as its
        # INITIAL (not strictly earlier); K7's only conference is an April REVIEW -> no April row
        conference("K", "K5", "REVIEW", "2014-06-10", team="T1"),
        conference("L", "K6", "INITIAL", "2014-06-12", team="T1"),
        conference("M", "K6", "REVIEW", "2014-06-12", team="T1"),
        conference("N", "K7", "REVIEW", "2014-04-15", team="T1"),
    ])
    # Nov 2013: B on time 1/1; Dec 2013: E late 0/1; May 2014: C on time 1/1;
    # Jun 2014: F late, H on time, J late -> 1/3. No row for Aug 2013, Mar 2014, Apr 2014.
    assert_table(res, "CPC02", "month", {
        "2013-11": (1, 1, 100.0), "2013-12": (0, 1, 0.0), "2014-05": (1, 1, 100.0),
        "2014-06": (1, 3, 100 / 3)})
    # 2013-14 Q3 (Oct-Dec): B, E -> 1/2; 2014-15 Q1: C, F, H, J -> 2/4
    assert_table(res, "CPC02", "quarter", {"2013-14 Q3": (1, 2, 50.0),
                                           "2014-15 Q1": (2, 4, 50.0)})
    assert_table(res, "CPC02", "year", {"2013-14": (1, 2, 50.0), "2014-15": (2, 4, 50.0)})
    # teams 2014-15: T1 = C, H (2/2); T2 = F, J (0/2)
    assert_table(res, "CPC02", "year", {
        ("2013-14", "T1"): (1, 1, 100.0), ("2013-14", "T2"): (0, 1, 0.0),
        ("2014-15", "T1"): (2, 2, 100.0), ("2014-15", "T2"): (0, 2, 0.0)}, breakdown="team")
    assert_team_rows_sum_to_all(res, "CPC02")
    assert {k: v[0] for k, v in case_rows(res, "CPC02", "2014-06").items()} == {
        "F|K2": False, "H|K3": True, "J|K4": False}


# --- CIN01 / CIN02 / CIN05 -------------------------------------------------------------------


CIN_PLANS = [
    cin_plan("P1", "2014-06-02", outcomes=0, agencies="Y", team="T1"),
    cin_plan("P2", "2014-06-03", outcomes=1, agencies="N", team="T1"),
    cin_plan("P3", "2014-06-04", outcomes=3, agencies="N", team="T2"),
    cin_plan("P4", "2014-05-06", outcomes=2, agencies="Y", team="T2"),
    # closed plans (started in 2013)
    cin_plan("E1", "2013-09-02", end="2014-06-10", closure="IMPROVED", team="T1"),
    cin_plan("E2", "2013-09-02", end="2014-06-11", closure="LIMITED_IMPROVEMENT", team="T1"),
    cin_plan("E3", "2013-09-02", end="2014-06-12", closure="NO_IMPROVEMENT", team="T2"),
    cin_plan("E4", "2013-09-02", end="2014-06-13", closure="TRANSFERRED", team="T2"),
    cin_plan("E5", "2013-09-02", end="2014-06-16", closure="OTHER", team="T2"),
    cin_plan("E6", "2013-09-02", end="2014-05-16", closure="TRANSFERRED", team="T2"),
]


def test_cin01_outcomes_written_in() -> None:
    res = run(cin_plans=CIN_PLANS)
    # June starts: P1 0 outcomes (out), P2 1 (in: >= 1), P3 3 (in) -> 2/3; May: P4 -> 1/1
    # Sep 2013: E1..E6 with outcomes 1 (the default) -> 6/6
    assert_table(res, "CIN01", "month", {
        "2013-09": (6, 6, 100.0), "2014-05": (1, 1, 100.0), "2014-06": (2, 3, 200 / 3)})
    assert_table(res, "CIN01", "quarter", {"2013-14 Q2": (6, 6, 100.0),
                                           "2014-15 Q1": (3, 4, 75.0)})
    team = table(res, "CIN01", "month", "team")
    assert team[("2014-06", "T1")] == (1, 2, 50.0)   # P1 out, P2 in
    assert team[("2014-06", "T2")] == (1, 1, 100.0)  # P3 in
    assert_team_rows_sum_to_all(res, "CIN01")


def test_cin02_agencies_engaged_at_start() -> None:
    res = run(cin_plans=CIN_PLANS)
    # June: P1 Y, P2 N, P3 N -> 1/3; May: P4 Y -> 1/1; Sep 2013: all Y (default) -> 6/6
    assert_table(res, "CIN02", "month", {
        "2013-09": (6, 6, 100.0), "2014-05": (1, 1, 100.0), "2014-06": (1, 3, 100 / 3)})
    assert_table(res, "CIN02", "year", {"2013-14": (6, 6, 100.0), "2014-15": (2, 4, 50.0)})
    assert_team_rows_sum_to_all(res, "CIN02")


def test_cin05_closed_with_improved_outcomes() -> None:
    res = run(cin_plans=CIN_PLANS)
    # June closures: E1 IMPROVED (in), E2 LIMITED, E3 NO_IMPROVEMENT -> 1/3; E4 TRANSFERRED
    # and E5 OTHER excluded. May: only E6 TRANSFERRED -> no row. Open plans: never counted.
    assert_table(res, "CIN05", "month", {"2014-06": (1, 3, 100 / 3)})
    assert_table(res, "CIN05", "month", {("2014-06", "T1"): (1, 2, 50.0),
                                         ("2014-06", "T2"): (0, 1, 0.0)}, breakdown="team")
    assert_team_rows_sum_to_all(res, "CIN05")


# --- CIN03 / CIN04 ---------------------------------------------------------------------------


CIN_REVIEW_TABLES: dict[str, list[dict[str, Any]]] = {
    "cin_plans": [
        cin_plan("Q1", "2013-08-31", team="T1"),
        cin_plan("Q2", "2013-08-31", team="T2"),
        cin_plan("Q3", "2014-05-10", team="T2"),
        cin_plan("Q4", "2014-01-15", team="T1"),
    ],
    "cin_reviews": [
        # Q1: first review due from the plan start: 31 Aug + 3 months = 30 Nov (clamped)
        cin_review("V1", "Q1", "2013-11-30", progress="Y"),  # on time (on the due date)
        # then 30 Nov + 3 months = 28 Feb 2014 (clamped)
        cin_review("V2", "Q1", "2014-02-28", progress="N"),  # on time
        # then 28 Feb + 3 = 28 May
        cin_review("V3", "Q1", "2014-05-29", progress="Y"),  # late by a day
        # Q2: due 30 Nov; held 1 Dec: late. Then due 1 Dec + 3 = 1 Mar: held 1 Mar, on time
        cin_review("V4", "Q2", "2013-12-01", progress="N"),
        cin_review("V5", "Q2", "2014-03-01", progress="Y"),
        # Q3: two reviews on the plan's start date 10 May: neither is "strictly earlier"
        # than the other; both due from the plan start (10 Aug) -> on time
        cin_review("V6", "Q3", "2014-05-10", progress="N"),
        cin_review("V7", "Q3", "2014-05-10", progress="Y"),
        # Q4: start 15 Jan -> due 15 Apr; two reviews on 15 Apr, both on time
        cin_review("V8", "Q4", "2014-04-15", progress="Y"),
        cin_review("V9", "Q4", "2014-04-15", progress="Y"),
    ],
}


def test_cin03_reviews_on_time() -> None:
    res = run(**CIN_REVIEW_TABLES)
    # Nov 2013 V1 1/1; Dec 2013 V4 0/1; Feb 2014 V2 1/1; Mar 2014 V5 1/1;
    # Apr 2014 V8, V9 2/2; May 2014 V3 late, V6, V7 on time -> 2/3
    assert_table(res, "CIN03", "month", {
        "2013-11": (1, 1, 100.0), "2013-12": (0, 1, 0.0), "2014-02": (1, 1, 100.0),
        "2014-03": (1, 1, 100.0), "2014-04": (2, 2, 100.0), "2014-05": (2, 3, 200 / 3)})
    # 2013-14 Q3 (Oct-Dec) V1, V4 -> 1/2; Q4 (Jan-Mar) V2, V5 -> 2/2; 2014-15 Q1 -> 4/5
    assert_table(res, "CIN03", "quarter", {
        "2013-14 Q3": (1, 2, 50.0), "2013-14 Q4": (2, 2, 100.0), "2014-15 Q1": (4, 5, 80.0)})
    assert_table(res, "CIN03", "year", {"2013-14": (3, 4, 75.0), "2014-15": (4, 5, 80.0)})
    # team = the plan's: 2014-15 T1 = V3 (late), V8, V9 -> 2/3; T2 = V6, V7 -> 2/2
    assert_table(res, "CIN03", "year", {
        ("2013-14", "T1"): (2, 2, 100.0), ("2013-14", "T2"): (1, 2, 50.0),
        ("2014-15", "T1"): (2, 3, 200 / 3), ("2014-15", "T2"): (2, 2, 100.0)},
        breakdown="team")
    assert_team_rows_sum_to_all(res, "CIN03")
    assert {k: v[0] for k, v in case_rows(res, "CIN03", "2014-05").items()} == {
        "V3": False, "V6": True, "V7": True}


def test_cin04_reviews_assessed_progress() -> None:
    res = run(**CIN_REVIEW_TABLES)
    # 2013-14 Q3: V1 Y, V4 N -> 1/2; Q4: V2 N, V5 Y -> 1/2; 2014-15 Q1: V3 Y, V6 N, V7 Y,
    # V8 Y, V9 Y -> 4/5
    assert_table(res, "CIN04", "quarter", {
        "2013-14 Q3": (1, 2, 50.0), "2013-14 Q4": (1, 2, 50.0), "2014-15 Q1": (4, 5, 80.0)})
    assert_table(res, "CIN04", "month", {
        ("2013-11", "T1"): (1, 1, 100.0), ("2013-12", "T2"): (0, 1, 0.0),
        ("2014-02", "T1"): (0, 1, 0.0), ("2014-03", "T2"): (1, 1, 100.0),
        ("2014-04", "T1"): (2, 2, 100.0), ("2014-05", "T1"): (1, 1, 100.0),
        ("2014-05", "T2"): (1, 2, 50.0)}, breakdown="team")
    assert_team_rows_sum_to_all(res, "CIN04")


# --- FIT01 / FIT02 ---------------------------------------------------------------------------


FIT_ROWS = [
    fit("F1", "2014-06-02", tasks="Y", end="2014-06-20", outcome="Y", team="T1"),
    fit("F2", "2014-06-03", tasks="N", end="2014-06-23", outcome="PARTIAL", team="T1"),
    fit("F3", "2014-06-04", tasks="Y", end="2014-06-24", outcome="N", team="T2"),
    fit("F4", "2014-06-05", tasks="Y", team="T2"),  # still open: not in FIT02
    # referred in March, ended in May without an outcome recorded: May has no FIT02 row
    fit("F5", "2014-03-10", tasks="N", end="2014-05-12", outcome=None, team="T2"),
]


def test_fit01_clear_tasks_and_outcomes() -> None:
    res = run(fit_referrals=FIT_ROWS)
    # June referrals: F1 Y, F2 N, F3 Y, F4 Y -> 3/4; March: F5 N -> 0/1
    assert_table(res, "FIT01", "month", {"2014-03": (0, 1, 0.0), "2014-06": (3, 4, 75.0)})
    assert_table(res, "FIT01", "quarter", {"2013-14 Q4": (0, 1, 0.0),
                                           "2014-15 Q1": (3, 4, 75.0)})
    assert_table(res, "FIT01", "month", {
        ("2014-03", "T2"): (0, 1, 0.0), ("2014-06", "T1"): (1, 2, 50.0),
        ("2014-06", "T2"): (2, 2, 100.0)}, breakdown="team")
    assert_team_rows_sum_to_all(res, "FIT01")


def test_fit02_outcomes_achieved() -> None:
    res = run(fit_referrals=FIT_ROWS)
    # June ends: F1 Y (in), F2 PARTIAL (out), F3 N (out) -> 1/3; F4 open; May: F5 has no
    # outcome -> excluded -> no May row
    assert_table(res, "FIT02", "month", {"2014-06": (1, 3, 100 / 3)})
    assert_table(res, "FIT02", "month", {("2014-06", "T1"): (1, 2, 50.0),
                                         ("2014-06", "T2"): (0, 1, 0.0)}, breakdown="team")
    assert_team_rows_sum_to_all(res, "FIT02")


# --- periods after the extract date ----------------------------------------------------------


def test_only_periods_starting_on_or_before_the_extract_date() -> None:
    # A (hypothetical) case dated after the extract date: its month (Jul 2014) and quarter
    # (2014-15 Q2) start after 30 Jun and get no row; the year 2014-15 started 1 Apr and does.
    res = run(as_of=date(2014, 6, 30), fit_referrals=[
        fit("F1", "2014-06-30", tasks="Y"), fit("F2", "2014-07-01", tasks="N")])
    assert_table(res, "FIT01", "month", {"2014-06": (1, 1, 100.0)})
    assert_table(res, "FIT01", "quarter", {"2014-15 Q1": (1, 1, 100.0)})
    assert_table(res, "FIT01", "year", {"2014-15": (1, 2, 50.0)})


# --- skipping --------------------------------------------------------------------------------


def _all_tables() -> dict[str, list[dict[str, Any]]]:
    """Data on which every one of the 26 indicators has at least one value."""
    return {
        "referrals": [*REF01_ROWS,  # + a re-referral with a decision, for REF03
                      referral("X1", "2014-01-15 10:00", child="X"),
                      referral("X2", "2014-02-10 10:00", child="X", decision="2014-02-11")],
        "assessments": [*ASM01_ASSESSMENTS, *CORE_ASSESSMENTS,  # + one for FTH03
                        assessment("X1", "INITIAL", "2014-06-02", "2014-06-03", father="Y")],
        "cp_plans": FATHER_TABLES["cp_plans"],
        "persons": FATHER_TABLES["persons"],
        "relationships": FATHER_TABLES["relationships"]
        + [r for r in CONFERENCE_FATHER_TABLES["relationships"] if r["child_id"] == "K6"],
        "cp_conferences": CONFERENCE_FATHER_TABLES["cp_conferences"]
        + [conference("X1", "K9", "INITIAL", "2014-06-02", strategy="S1"),
           conference("X2", "K9", "REVIEW", "2014-07-01")],
        "conference_attendance": CONFERENCE_FATHER_TABLES["conference_attendance"],
        "strategy_discussions": [strategy("S1", "K9", "2014-05-28")],
        "cin_plans": CIN_PLANS + CIN_REVIEW_TABLES["cin_plans"],
        "cin_reviews": CIN_REVIEW_TABLES["cin_reviews"],
        "fit_referrals": FIT_ROWS,
    }


@pytest.mark.parametrize(("extract", "status", "skipped"), [
    ("referrals", "missing",
     {"REF01", "REF02", "REF03", "REF04", "REF05", "REF06", "ASM01"}),
    ("referrals", "rejected",
     {"REF01", "REF02", "REF03", "REF04", "REF05", "REF06", "ASM01"}),
    ("relationships", "rejected", {"FTH01", "FTH02", "FTH04", "FTH05"}),
    ("persons", "missing", {"FTH02"}),
    ("conference_attendance", "missing", {"FTH04", "FTH05"}),
    ("strategy_discussions", "rejected", {"CPC01"}),
    ("cp_conferences", "missing", {"FTH04", "FTH05", "CPC01", "CPC02"}),
    ("cin_plans", "rejected", {"CIN01", "CIN02", "CIN03", "CIN04", "CIN05"}),
    ("cin_reviews", "missing", {"CIN03", "CIN04"}),
    ("assessments", "rejected",
     {"ASM01", "ASM02", "ASM03", "ASM04", "ASM05", "ASM06", "FTH03"}),
    ("fit_referrals", "missing", {"FIT01", "FIT02"}),
])
def test_indicator_of_a_missing_or_rejected_extract_is_skipped(
        extract: str, status: str, skipped: set[str]) -> None:
    # The staged frame is still passed in (with rows): the status alone decides.
    res = run(AS_OF, statuses(**{extract: status}), **_all_tables())
    for code in ALL_CODES:
        r = run_status(res, code)
        if code in skipped:
            assert r["status"] == "skipped", code
            assert r["reason"] == f"{extract} {status}", code
        else:
            assert r["status"] == "computed", code
            assert r["reason"] is None
    produced = set(res.values["indicator_code"].unique())
    assert produced.isdisjoint(skipped)
    assert set(res.cases["indicator_code"].unique()).isdisjoint(skipped)
    # the others still produce values (every indicator has data in _all_tables)
    assert produced == set(ALL_CODES) - skipped


def test_extract_absent_from_statuses_counts_as_missing() -> None:
    status = statuses()
    del status["fit_referrals"]
    res = run(AS_OF, status, fit_referrals=FIT_ROWS)
    assert run_status(res, "FIT01") == {"indicator_code": "FIT01", "status": "skipped",
                                        "reason": "fit_referrals missing"}
    assert res.values.height == 0


def test_skip_reason_names_every_extract_not_loaded() -> None:
    res = run(AS_OF, statuses(assessments="rejected", referrals="missing"))
    reason = run_status(res, "ASM01")["reason"]
    assert run_status(res, "ASM01")["status"] == "skipped"
    assert "assessments rejected" in reason and "referrals missing" in reason


def test_computed_runs_report_their_row_count() -> None:
    res = run(referrals=REF01_ROWS)
    r = run_status(res, "REF01")
    # 2 months + 2 quarters + 2 years, each with an `all` row and two team rows
    assert (r["status"], r["rows"]) == ("computed", 18)
    assert r["rows"] == res.values.filter(pl.col("indicator_code") == "REF01").height
