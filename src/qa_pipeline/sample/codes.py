"""The generator's distributions over codes: weights keyed by code, for a code list the contracts
declare (``tests/unit/test_generate_contracts.py`` fails on a weighted code the contract's column
does not allow). A blank key ``""`` weights a missing value. The key order is part of the random
stream."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

__all__ = ["TEAMS", "WEIGHTED", "Weights", "pick", "weights"]

Weights = Mapping[str, float]

WEIGHTED: list[tuple[str, str, Weights]] = []
"""(extract, column, weights) of every distribution below, for the tests."""


def weights(extract: str, column: str, by_code: Weights) -> Weights:
    """Declare a distribution over the codes of ``extract.column``."""
    WEIGHTED.append((extract, column, by_code))
    return by_code


def pick(rng: np.random.Generator, by_code: Weights, n: int) -> np.ndarray:
    """n codes drawn with the given weights."""
    pa = np.asarray(list(by_code.values()), dtype=float)
    return np.asarray(list(by_code))[rng.choice(len(by_code), size=n, p=pa / pa.sum())]


# Team names are invented (Welsh, with commas and a quote); the service area is a code.
TEAMS: tuple[tuple[str, str], ...] = (
    ("Tîm Drws Ffrynt – Gogledd, Conwy", "FRONT_DOOR"),
    ("Tîm Drws Ffrynt – De, Sir Ddinbych", "FRONT_DOOR"),
    ("Tîm Maes – Gogledd, Conwy", "FIELDWORK"),
    ("Tîm Maes – Môn a Menai, Gwynedd", "FIELDWORK"),
    ("Tîm Ymyrraeth Teuluoedd (FIT), Llandudno", "FAMILY_INTERVENTION"),
    ("Tîm Plant Anabl, Ysbyty Gwynedd – Bangor", "DISABILITY"),
    ("Tîm Plant sy'n Derbyn Gofal – Caernarfon", "LOOKED_AFTER"),
    ('Gwasanaethau "Cymorth" Eraill, Rhyl', "OTHER"),
)
for _, _area in TEAMS:
    weights("teams", "service_area", {_area: 1})

_ETH_RAW = {
    "WBRI": 78.0, "WIRI": 1, "WIRT": 0.5, "WOTH": 5, "WROM": 0.5, "MWBC": 1.5, "MWBA": 0.7,
    "MWAS": 0.8, "MOTH": 1, "AIND": 0.8, "APKN": 0.8, "ABAN": 0.6, "AOTH": 0.6, "BCRB": 0.5,
    "BAFR": 0.8, "BOTH": 0.3, "CHNE": 0.6, "OOTH": 0.8, "REFU": 2.2, "NOBT": 3,
}
_eth_p = np.array(list(_ETH_RAW.values()))
_eth_p /= _eth_p.sum()  # normalised here and again in pick(), as the stream always was
ETHNICITY = weights("persons", "ethnicity", dict(zip(_ETH_RAW, _eth_p.tolist(), strict=True)))

# persons
CHILD_SEX = weights("persons", "sex", {"M": 49, "F": 49, "U": 1.5, "I": 0.5})
ORPHAN_SEX = weights("persons", "sex", {"M": 1, "F": 1})
CHILD_DISABILITY = weights("persons", "disability", {"N": 85, "Y": 8, "U": 2, "": 5})
MOTHER_DISABILITY = weights("persons", "disability", {"N": 70, "Y": 5, "U": 5, "": 20})
FATHER_DISABILITY = weights("persons", "disability", {"N": 60, "Y": 4, "U": 6, "": 30})

# relationships
FATHER_TYPE = weights("relationships", "relationship_type", {
    "BIRTH_FATHER": 75, "STEP_FATHER": 12, "MALE_CARER": 10, "ADOPTIVE_FATHER": 3})
PR_BIRTH_MOTHER = weights("relationships", "parental_responsibility", {"Y": 97, "N": 3})
PR_GRANDPARENT = weights("relationships", "parental_responsibility",
                         {"N": 70, "Y": 20, "U": 10})
PR_BIRTH_FATHER = weights("relationships", "parental_responsibility",
                          {"Y": 75, "N": 20, "U": 5})
PR_OTHER_FATHER = weights("relationships", "parental_responsibility",
                          {"N": 80, "Y": 10, "U": 10})
LIVES_MOTHER = weights("relationships", "lives_with_child", {"Y": 85, "N": 12, "U": 3})
LIVES_FATHER = weights("relationships", "lives_with_child", {"Y": 55, "N": 40, "U": 5})
LIVES_SIBLING = weights("relationships", "lives_with_child", {"Y": 80, "N": 20})

# referrals
DECISION_LAST = weights("referrals", "decision", {
    "NFA": 20, "INFO_ADVICE": 12, "INITIAL_ASSESSMENT": 38, "STRATEGY_DISCUSSION": 18,
    "FIT_REFERRAL": 7, "OTHER": 5})
DECISION_EARLIER = weights("referrals", "decision", {
    "NFA": 27, "INFO_ADVICE": 15, "INITIAL_ASSESSMENT": 45, "STRATEGY_DISCUSSION": 0,
    "FIT_REFERRAL": 8, "OTHER": 5})
DECISION_LATER = weights("referrals", "decision", {  # recorded on a later night (--nights)
    "NFA": 35, "INFO_ADVICE": 20, "INITIAL_ASSESSMENT": 40, "OTHER": 5})
SOURCE = weights("referrals", "referral_source", {
    "POLICE": 25, "HEALTH": 17, "SCHOOL": 18, "LA_SERVICES": 10, "FAMILY": 8, "SELF": 4,
    "ANONYMOUS": 4, "OTHER_AGENCY": 9, "OTHER": 5})
ORPHAN_SOURCE = weights("referrals", "referral_source", {"POLICE": 1, "HEALTH": 1, "SCHOOL": 1})

# assessments
FATHER_INVOLVED = weights("assessments", "father_involved", {"Y": 45, "N": 45, "NA": 10})
NO_FATHER_INVOLVED = weights("assessments", "father_involved", {"NA": 95, "N": 5})
INITIAL_OUTCOME = weights("assessments", "outcome", {
    "NFA": 35, "CIN_PLAN": 30, "CORE_ASSESSMENT": 25, "OTHER": 10})
CORE_OUTCOME = weights("assessments", "outcome", {
    "CIN_PLAN": 45, "NFA": 30, "OTHER": 20, "STRATEGY_DISCUSSION": 5})

# CIN plans, strategy discussions, conferences, CP plans, attendance, FIT
CLOSURE = weights("cin_plans", "closure_outcome", {
    "IMPROVED": 50, "LIMITED_IMPROVEMENT": 20, "NO_IMPROVEMENT": 10, "TRANSFERRED": 12,
    "OTHER": 8})
S47 = weights("strategy_discussions", "s47_outcome", {
    "ICPC": 50, "CIN": 20, "NFA": 20, "ONGOING": 7, "": 3})
INITIAL_CONFERENCE = weights("cp_conferences", "outcome", {"PLAN_STARTED": 82, "NO_PLAN": 18})
CATEGORY = weights("cp_plans", "category", {
    "NEGLECT": 45, "EMOTIONAL": 30, "PHYSICAL": 12, "SEXUAL": 5, "MULTIPLE": 8})
REPORT_PROFESSIONAL = weights("conference_attendance", "report_submitted",
                              {"Y": 60, "N": 30, "": 10})
REPORT_FAMILY = weights("conference_attendance", "report_submitted", {"": 80, "Y": 10, "N": 10})
REPORT_SOCIAL_WORKER = weights("conference_attendance", "report_submitted", {"Y": 85, "N": 15})
FIT_OUTCOME = weights("fit_referrals", "outcome_achieved", {"Y": 50, "PARTIAL": 30, "N": 20})
