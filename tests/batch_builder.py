"""A small, hand-built, fully valid batch (every rule holds) that tests copy and break.

Rows are plain dicts of text exactly as Paris would write them; `write_batch` turns them into
a batch folder. Kept small and explicit so a reader can check each rule test by eye.
"""

from __future__ import annotations

import copy
import csv
import io
from datetime import date
from pathlib import Path

AS_OF = date(2026, 11, 25)

Row = dict[str, str]

BASE: dict[str, list[Row]] = {
    "teams": [
        {"team_id": "T1", "team_name": "Tîm Maes, Gogledd", "service_area": "FIELDWORK"},
        {"team_id": "T2", "team_name": "Front door", "service_area": "FRONT_DOOR"},
    ],
    "persons": [
        {"person_id": "000101", "person_type": "CHILD", "sex": "M", "date_of_birth": "01/03/2015",
         "expected_date_of_birth": "", "date_of_death": "", "ethnicity": "WBRI",
         "disability": "N", "name_recorded": "Y", "dob_recorded": "Y", "address_recorded": "Y",
         "contact_recorded": "Y"},
        {"person_id": "000102", "person_type": "CHILD", "sex": "F", "date_of_birth": "01/06/2016",
         "expected_date_of_birth": "", "date_of_death": "", "ethnicity": "WBRI",
         "disability": "N", "name_recorded": "Y", "dob_recorded": "Y", "address_recorded": "Y",
         "contact_recorded": "Y"},
        {"person_id": "000201", "person_type": "ADULT", "sex": "M", "date_of_birth": "",
         "expected_date_of_birth": "", "date_of_death": "", "ethnicity": "", "disability": "U",
         "name_recorded": "Y", "dob_recorded": "N", "address_recorded": "N",
         "contact_recorded": "N"},
        {"person_id": "000202", "person_type": "ADULT", "sex": "F", "date_of_birth": "",
         "expected_date_of_birth": "", "date_of_death": "", "ethnicity": "WBRI",
         "disability": "N", "name_recorded": "Y", "dob_recorded": "Y", "address_recorded": "Y",
         "contact_recorded": "Y"},
        {"person_id": "000301", "person_type": "UNBORN", "sex": "U", "date_of_birth": "",
         "expected_date_of_birth": "01/02/2027", "date_of_death": "", "ethnicity": "",
         "disability": "", "name_recorded": "N", "dob_recorded": "N", "address_recorded": "N",
         "contact_recorded": "N"},
    ],
    "relationships": [
        {"relationship_id": "RL1", "child_id": "000101", "related_person_id": "000201",
         "relationship_type": "BIRTH_FATHER", "parental_responsibility": "Y",
         "lives_with_child": "N", "start_date": "01/03/2015", "end_date": "01/01/2026"},
        {"relationship_id": "RL2", "child_id": "000102", "related_person_id": "000202",
         "relationship_type": "BIRTH_MOTHER", "parental_responsibility": "Y",
         "lives_with_child": "Y", "start_date": "", "end_date": ""},
    ],
    "referrals": [
        {"referral_id": "R1", "child_id": "000101", "referral_datetime": "01/04/2024 10:00",
         "referral_source": "POLICE", "team_id": "T2", "decision_date": "02/04/2024",
         "decision": "INITIAL_ASSESSMENT", "previous_referrals_checked": "Y",
         "risk_analysis_recorded": "Y", "management_decision_recorded": "Y",
         "referrer_informed_date": "05/04/2024"},
        {"referral_id": "R2", "child_id": "000102", "referral_datetime": "2024-05-01 09:30",
         "referral_source": "HEALTH", "team_id": "T2", "decision_date": "01/05/2024",
         "decision": "STRATEGY_DISCUSSION", "previous_referrals_checked": "N",
         "risk_analysis_recorded": "Y", "management_decision_recorded": "Y",
         "referrer_informed_date": ""},
    ],
    "fit_referrals": [
        {"fit_referral_id": "FR1", "child_id": "000101", "referral_date": "01/05/2024",
         "tasks_outcomes_defined": "Y", "start_date": "10/05/2024", "end_date": "01/08/2024",
         "outcome_achieved": "PARTIAL", "team_id": "T1"},
    ],
    "assessments": [
        {"assessment_id": "A1", "referral_id": "R1", "child_id": "000101",
         "assessment_type": "INITIAL", "start_date": "03/04/2024", "completed_date": "10/04/2024",
         "authorised_date": "11/04/2024", "child_seen": "Y", "child_seen_alone": "Y",
         "father_involved": "NA", "outcome": "CIN_PLAN", "team_id": "T1", "worker_id": "W1"},
    ],
    "strategy_discussions": [
        {"strategy_id": "S1", "referral_id": "R2", "child_id": "000102",
         "strategy_date": "02/05/2024", "s47_outcome": "ICPC", "team_id": "T1"},
    ],
    "cp_conferences": [
        {"conference_id": "K1", "child_id": "000102", "conference_type": "INITIAL",
         "conference_date": "20/05/2024", "strategy_id": "S1", "outcome": "PLAN_STARTED",
         "team_id": "T1"},
    ],
    "conference_attendance": [
        {"conference_id": "K1", "child_id": "000102", "attendee_role": "MOTHER",
         "person_id": "000202", "invited": "Y", "attended": "Y", "report_submitted": "N"},
        {"conference_id": "K1", "child_id": "000102", "attendee_role": "SOCIAL_WORKER",
         "person_id": "", "invited": "Y", "attended": "Y", "report_submitted": "Y"},
    ],
    "cp_plans": [
        {"cp_plan_id": "P1", "child_id": "000102", "start_date": "20/05/2024",
         "end_date": "01/05/2025", "category": "NEGLECT", "initial_conference_id": "K1",
         "team_id": "T1"},
    ],
    "cin_plans": [
        {"cin_plan_id": "N1", "child_id": "000101", "assessment_id": "A1",
         "start_date": "15/04/2024", "end_date": "01/03/2025", "outcomes_recorded": "2",
         "multi_agency_at_start": "Y", "closure_outcome": "IMPROVED", "team_id": "T1"},
    ],
    "cin_reviews": [
        {"review_id": "V1", "cin_plan_id": "N1", "child_id": "000101",
         "review_date": "15/07/2024", "child_participated": "Y", "multi_agency_attended": "Y",
         "progress_recorded": "Y"},
    ],
}


def base() -> dict[str, list[Row]]:
    return copy.deepcopy(BASE)


def csv_text(rows: list[Row], header: list[str] | None = None) -> str:
    header = header or [h for h in rows[0] if h != "__extra_fields__"]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(header)
    for r in rows:
        extra = r.get("__extra_fields__")  # a ragged row: fields beyond the header
        w.writerow([r.get(h, "") for h in header] + (extra.split("|") if extra else []))
    return buf.getvalue()


def write_batch(root: Path, data: dict[str, list[Row]], as_of: date = AS_OF,
                encoding: str = "utf-8") -> Path:
    """Write the extracts to root/<as_of>/<extract>.csv; returns the batch folder."""
    folder = root / as_of.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in data.items():
        if rows:
            (folder / f"{name}.csv").write_bytes(
                csv_text(rows).encode(encoding, errors="surrogateescape"))
    return folder


def plant_defects(data: dict[str, list[Row]], defects: set[str]) -> None:
    """Add a second CIN review V2 and plant the lifecycle tests' defects by letter: A V1's
    child_participated, B FR1's tasks_outcomes_defined, C a Saturday conference (warning),
    D V2's progress_recorded, E CP1's category."""
    v2 = dict(data["cin_reviews"][0], review_id="V2", review_date="15/10/2024")
    data["cin_reviews"].append(v2)
    planted: dict[str, tuple[Row, str, str]] = {
        "A": (data["cin_reviews"][0], "child_participated", "MAYBE"),
        "B": (data["fit_referrals"][0], "tasks_outcomes_defined", "MAYBE"),
        "C": (data["cp_conferences"][0], "conference_date", "18/05/2024"),  # a Saturday
        "D": (v2, "progress_recorded", "MAYBE"),
        "E": (data["cp_plans"][0], "category", "BOGUS"),
    }
    for letter in defects:
        row, column, value = planted[letter]
        row[column] = value
