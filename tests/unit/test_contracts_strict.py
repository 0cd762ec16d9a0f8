"""Strict contracts: whatever the contract file says that the parser does not understand is
refused when the contracts load, with a message naming the file, extract, column and key.

Each case takes the real `src/qa_pipeline/spec/extracts.yaml`, breaks one thing and
asserts the whole message (the parts a developer reads: file, extract, column, key, the hint)."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from qa_pipeline.spec.contracts import (
    CHECK_KINDS,
    COLUMN_KEYS,
    CONDITION_KEYS,
    EXTRACT_KEYS,
    LOOKUP_KEYS,
    ONLY_WHEN_KEYS,
    OVERLAP_KEYS,
    REF_KEYS,
    REFERENCE_KEYS,
    TOP_KEYS,
    ContractError,
    _load_file,
    contracts_path,
    load_contracts,
    parse_contracts,
    read_contracts,
)

ROOT = Path(__file__).resolve().parents[2]
REAL = ROOT / "src" / "qa_pipeline" / "spec" / "extracts.yaml"
SOURCE = "contracts/extracts.yaml"
REAL_TEXT = REAL.read_text(encoding="utf-8")
REAL_RAW: dict[str, Any] = yaml.safe_load(REAL_TEXT)


@pytest.fixture
def fresh_cache() -> Iterator[None]:
    """`load_contracts` is cached per process: a test that points it elsewhere clears the
    cache before and after, so later tests load the real file again."""
    _load_file.cache_clear()
    yield
    _load_file.cache_clear()


def _x(raw: dict[str, Any], extract: str) -> dict[str, Any]:
    return raw["extracts"][extract]  # type: ignore[no-any-return]


def _c(raw: dict[str, Any], extract: str, column: str) -> dict[str, Any]:
    return raw["extracts"][extract]["columns"][column]  # type: ignore[no-any-return]


def _rename(d: dict[str, Any], old: str, new: str) -> None:
    d[new] = d.pop(old)


Breaker = Callable[[dict[str, Any]], None]

CASES: list[tuple[str, Breaker, str]] = [
    # --- unknown or misspelt keys, at every level -----------------------------------------
    ("top_level_key", lambda r: _rename(r, "version", "verison"),
     "unknown key 'verison' (did you mean 'version'?)"),
    ("extract_key", lambda r: _rename(_x(r, "referrals"), "unique", "uniqe"),
     "extract referrals: unknown key 'uniqe' (did you mean 'unique'?)"),
    ("column_key", lambda r: _rename(_c(r, "referrals", "decision_date"), "not_before",
                                     "not_befor"),
     "extract referrals, column decision_date: unknown key 'not_befor' "
     "(did you mean 'not_before'?)"),
    ("ref_key", lambda r: _rename(_c(r, "cp_plans", "initial_conference_id")["ref"], "column",
                                  "colum"),
     "extract cp_plans, column initial_conference_id, ref: unknown key 'colum' "
     "(did you mean 'column'?)"),
    ("condition_key", lambda r: _rename(_c(r, "persons", "date_of_birth")["required_when"],
                                        "in", "inn"),
     "extract persons, column date_of_birth, required_when: unknown key 'inn' "
     "(did you mean 'in'?)"),
    ("warn_missing_when_key",
     lambda r: _rename(_c(r, "persons", "ethnicity")["warn_missing_when"], "column", "colum"),
     "extract persons, column ethnicity, warn_missing_when: unknown key 'colum' "
     "(did you mean 'column'?)"),
    ("ref_where_key",
     lambda r: _rename(_c(r, "relationships", "child_id")["ref"]["where"], "column", "col"),
     "extract relationships, column child_id, ref.where: unknown key 'col' "
     "(did you mean 'column'?)"),
    ("only_when_key",
     lambda r: _rename(_c(r, "assessments", "child_seen_alone")["only_when"], "equals",
                       "equal"),
     "extract assessments, column child_seen_alone, only_when: unknown key 'equal' "
     "(did you mean 'equals'?)"),
    ("matches_parent_key",
     lambda r: _rename(_c(r, "assessments", "child_id")["matches_parent"], "via", "vai"),
     "extract assessments, column child_id, matches_parent: unknown key 'vai' "
     "(did you mean 'via'?)"),
    ("not_before_parent_key",
     lambda r: _rename(_c(r, "cin_reviews", "review_date")["not_before_parent"], "extract",
                       "extracts"),
     "extract cin_reviews, column review_date, not_before_parent: unknown key 'extracts' "
     "(did you mean 'extract'?)"),
    ("overlap_key",
     lambda r: _rename(_x(r, "cp_plans")["checks"][0]["overlap"], "group", "grup"),
     "extract cp_plans, checks[1].overlap: unknown key 'grup' (did you mean 'group'?)"),
    ("references_key",
     lambda r: _rename(_x(r, "conference_attendance")["references"][0], "to_columns",
                       "to_column"),
     "extract conference_attendance, references[1]: unknown key 'to_column' "
     "(did you mean 'to_columns'?)"),
    # --- unknown kinds ----------------------------------------------------------------------
    ("column_type", lambda r: _c(r, "teams", "team_name").update(type="txt"),
     "extract teams, column team_name: unknown type 'txt' (did you mean 'text'?)"),
    ("check_kind",
     lambda r: _rename(_x(r, "cp_plans")["checks"][0], "overlap", "overlaps"),
     "extract cp_plans, checks[1]: unknown check 'overlaps' (did you mean 'overlap'?)"),
    ("only_when_severity",
     lambda r: _c(r, "conference_attendance", "attended")["only_when"].update(severity="warn"),
     "extract conference_attendance, column attended, only_when: unknown severity 'warn' "
     "(did you mean 'warning'?)"),
    ("weekend_kind",
     lambda r: _c(r, "cp_conferences", "conference_date").update(weekend="warnings"),
     "extract cp_conferences, column conference_date: weekend must be warning, not "
     "str 'warnings'"),
    ("option_on_wrong_type", lambda r: _c(r, "cin_plans", "outcomes_recorded").update(
        first_of_month=True),
     "extract cin_plans, column outcomes_recorded: first_of_month does not apply to an int "
     "column (only to date, datetime)"),
    # --- refs -------------------------------------------------------------------------------
    ("ref_unknown_extract", lambda r: _c(r, "referrals", "child_id").update(ref="person"),
     "extract referrals, column child_id, ref: unknown extract 'person' "
     "(did you mean 'persons'?)"),
    ("ref_unknown_extract_mapping",
     lambda r: _c(r, "relationships", "child_id")["ref"].update(extract="persns"),
     "extract relationships, column child_id, ref: unknown extract 'persns' "
     "(did you mean 'persons'?)"),
    ("ref_unknown_column",
     lambda r: _c(r, "cp_plans", "initial_conference_id")["ref"].update(column="conf_id"),
     "extract cp_plans, column initial_conference_id, ref: unknown column 'conf_id' of "
     "extract cp_conferences (did you mean 'conference_id'?)"),
    ("references_unknown_extract",
     lambda r: _x(r, "conference_attendance")["references"][0].update(extract="conferences"),
     "extract conference_attendance, references[1]: unknown extract 'conferences' "
     "(did you mean 'cp_conferences'?)"),
    ("references_unknown_column",
     lambda r: _x(r, "conference_attendance")["references"][0].update(
         columns=["conference_id", "chld_id"]),
     "extract conference_attendance, references[1]: unknown column 'chld_id' "
     "(did you mean 'child_id'?)"),
    ("references_unknown_to_column",
     lambda r: _x(r, "conference_attendance")["references"][0].update(
         to_columns=["conference_id", "person_id"]),
     "extract conference_attendance, references[1]: unknown column 'person_id' of extract "
     "cp_conferences (one of child_id, conference_date, conference_id, conference_type, "
     "outcome, strategy_id, team_id)"),
    # --- conditions -------------------------------------------------------------------------
    ("required_when_unknown_column",
     lambda r: _c(r, "referrals", "decision")["required_when"].update(column="decison_date"),
     "extract referrals, column decision, required_when: unknown column 'decison_date' "
     "(did you mean 'decision_date'?)"),
    ("required_when_unknown_code",
     lambda r: _c(r, "persons", "date_of_birth")["required_when"].update({"in": ["CHILDREN"]}),
     "extract persons, column date_of_birth, required_when: 'CHILDREN' is not a code of "
     "column person_type (did you mean 'CHILD'?)"),
    ("warn_missing_when_unknown_column",
     lambda r: _c(r, "persons", "ethnicity")["warn_missing_when"].update(column="type"),
     "extract persons, column ethnicity, warn_missing_when: unknown column 'type' (one of "
     "address_recorded, contact_recorded, date_of_birth, date_of_death, disability, "
     "dob_recorded, ethnicity, expected_date_of_birth, name_recorded, person_id, person_type, "
     "sex)"),
    ("warn_missing_when_unknown_code",
     lambda r: _c(r, "persons", "ethnicity")["warn_missing_when"].update({"in": ["KID"]}),
     "extract persons, column ethnicity, warn_missing_when: 'KID' is not a code of column "
     "person_type (one of ADULT, CHILD, UNBORN)"),
    ("ref_where_unknown_column",
     lambda r: _c(r, "relationships", "child_id")["ref"]["where"].update(column="person_typ"),
     "extract relationships, column child_id, ref.where: unknown column 'person_typ' of "
     "extract persons (did you mean 'person_type'?)"),
    ("ref_where_unknown_code",
     lambda r: _c(r, "relationships", "child_id")["ref"]["where"].update(
         {"in": ["CHILD", "UNBRON"]}),
     "extract relationships, column child_id, ref.where: 'UNBRON' is not a code of column "
     "person_type (did you mean 'UNBORN'?)"),
    ("only_when_unknown_column",
     lambda r: _c(r, "assessments", "child_seen_alone")["only_when"].update(column="seen"),
     "extract assessments, column child_seen_alone, only_when: unknown column 'seen'"),
    ("only_when_unknown_equals",
     lambda r: _c(r, "assessments", "child_seen_alone")["only_when"].update(equals="YES"),
     "extract assessments, column child_seen_alone, only_when: equals 'YES' is not a flag "
     "value of column child_seen (one of N, Y)"),
    ("only_when_unknown_value",
     lambda r: _c(r, "assessments", "child_seen_alone")["only_when"].update(value="YY"),
     "extract assessments, column child_seen_alone, only_when: value 'YY' is not a flag "
     "value of column child_seen_alone (did you mean 'Y'?)"),
    # --- lookups ----------------------------------------------------------------------------
    ("matches_parent_unknown_extract",
     lambda r: _c(r, "assessments", "child_id")["matches_parent"].update(extract="referals"),
     "extract assessments, column child_id, matches_parent: unknown extract 'referals' "
     "(did you mean 'referrals'?)"),
    ("matches_parent_unknown_column",
     lambda r: _c(r, "assessments", "child_id")["matches_parent"].update(column="chld_id"),
     "extract assessments, column child_id, matches_parent: unknown column 'chld_id' of "
     "extract referrals (did you mean 'child_id'?)"),
    ("matches_parent_unknown_via",
     lambda r: _c(r, "assessments", "child_id")["matches_parent"].update(via="referal_id"),
     "extract assessments, column child_id, matches_parent: unknown via column 'referal_id' "
     "(did you mean 'referral_id'?)"),
    ("matches_parent_via_without_ref",
     lambda r: _c(r, "assessments", "child_id")["matches_parent"].update(via="worker_id"),
     "extract assessments, column child_id, matches_parent: via column worker_id has no ref "
     "to extract referrals"),
    ("not_after_parent_unknown_column",
     lambda r: _c(r, "cin_reviews", "review_date")["not_after_parent"].update(column="end"),
     "extract cin_reviews, column review_date, not_after_parent: unknown column 'end' of "
     "extract cin_plans (one of assessment_id, child_id, cin_plan_id, closure_outcome, "
     "end_date, multi_agency_at_start, outcomes_recorded, start_date, team_id)"),
    # --- not_before / not_equal ------------------------------------------------------------
    ("not_before_unknown_column",
     lambda r: _c(r, "referrals", "decision_date").update(not_before="referral_date"),
     "extract referrals, column decision_date, not_before: unknown column 'referral_date' "
     "(did you mean 'referral_datetime'?)"),
    ("not_equal_unknown_column",
     lambda r: _c(r, "relationships", "related_person_id").update(not_equal="child"),
     "extract relationships, column related_person_id, not_equal: unknown column 'child' "
     "(did you mean 'child_id'?)"),
    # --- codes, keys ------------------------------------------------------------------------
    ("empty_code_list", lambda r: _c(r, "teams", "service_area").update(codes=[]),
     "extract teams, column service_area, codes: the list is empty"),
    ("empty_code_mapping", lambda r: _c(r, "persons", "sex").update(codes={}),
     "extract persons, column sex, codes: the list is empty"),
    ("code_column_without_codes", lambda r: _c(r, "teams", "service_area").pop("codes"),
     "extract teams, column service_area: a code column needs codes"),
    ("code_listed_twice",
     lambda r: _c(r, "cp_plans", "category").update(codes=["NEGLECT", "neglect"]),
     "extract cp_plans, column category, codes: 'NEGLECT' is listed twice"),
    ("key_column_not_declared",
     lambda r: _x(r, "cp_conferences").update(key=["conference_id", "child"]),
     "extract cp_conferences, key: unknown column 'child' (did you mean 'child_id'?)"),
    ("team_column_not_declared", lambda r: _x(r, "referrals").update(team_column="team"),
     "extract referrals, team_column: unknown column 'team' (did you mean 'team_id'?)"),
    ("overlap_unknown_column",
     lambda r: _x(r, "cp_plans")["checks"][0]["overlap"].update(end="end_dte"),
     "extract cp_plans, checks[1].overlap: unknown column 'end_dte' "
     "(did you mean 'end_date'?)"),
    # --- values of the wrong shape ------------------------------------------------------------
    ("required_not_a_flag", lambda r: _c(r, "teams", "team_name").update(required="yes"),
     "extract teams, column team_name: required must be true or false, not str 'yes'"),
    ("required_and_required_when",
     lambda r: _c(r, "referrals", "decision").update(required=True),
     "extract referrals, column decision: required and required_when together: give one"),
]


@pytest.mark.parametrize(("breaker", "expected"), [pytest.param(b, m, id=i) for i, b, m in CASES])
def test_a_broken_contract_is_refused_with_where_and_what(breaker: Breaker,
                                                          expected: str) -> None:
    raw = copy.deepcopy(REAL_RAW)
    breaker(raw)
    with pytest.raises(ContractError) as exc:
        parse_contracts(raw, SOURCE)
    assert str(exc.value) == f"{SOURCE}: {expected}"


def test_the_real_file_loads_cleanly(fresh_cache: None) -> None:
    """The file in the repository, the packaged one and the cached one are the same contracts
    (twelve extracts), with no complaint."""
    assert contracts_path().resolve() == REAL.resolve()
    contracts = read_contracts(REAL)
    assert len(contracts.extracts) == 12
    assert load_contracts().extracts == contracts.extracts
    assert parse_contracts(copy.deepcopy(REAL_RAW)).rules == contracts.rules


def _broken_copy(tmp_path: Path, old: str, new: str) -> Path:
    assert REAL_TEXT.count(old) == 1, old
    path = tmp_path / "extracts.yaml"
    path.write_text(REAL_TEXT.replace(old, new), encoding="utf-8")
    return path


def test_load_contracts_names_the_file(tmp_path: Path, fresh_cache: None,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The message starts with the path the loader read: an explicit one, or the one
    QA_PIPELINE_CONTRACTS_FILE points at."""
    path = _broken_copy(tmp_path, "not_before: referral_datetime", "not_befor: referral_datetime")
    expected = (f"{path}: extract referrals, column decision_date: unknown key 'not_befor' "
                "(did you mean 'not_before'?)")
    with pytest.raises(ContractError) as exc:
        load_contracts(str(path))
    assert str(exc.value) == expected
    monkeypatch.setenv("QA_PIPELINE_CONTRACTS_FILE", str(path))
    _load_file.cache_clear()
    with pytest.raises(ContractError) as exc:
        load_contracts()
    assert str(exc.value) == expected


def test_a_key_given_twice_is_refused(tmp_path: Path) -> None:
    """PyYAML keeps the last of two equal keys silently; the contract loader refuses them."""
    path = _broken_copy(tmp_path, "        not_before: referral_datetime\n",
                        "        not_before: referral_datetime\n        not_before: team_id\n")
    line = REAL_TEXT.splitlines().index("        not_before: referral_datetime") + 2
    with pytest.raises(ContractError) as exc:
        read_contracts(path)
    assert str(exc.value) == f"{path}, line {line}, column 9: key 'not_before' is given twice"


def test_a_yaml_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    path = _broken_copy(tmp_path, "        not_before: referral_datetime\n",
                        "        not_before: [referral_datetime\n")
    with pytest.raises(ContractError) as exc:
        read_contracts(path)
    assert re.fullmatch(rf"{re.escape(str(path))}, line \d+, column \d+: .+", str(exc.value))
    assert "\n" not in str(exc.value)


def test_a_missing_file_is_a_contract_error(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.yaml"
    with pytest.raises(ContractError) as exc:
        read_contracts(path)
    assert str(exc.value) == f"{path}: cannot read the contracts: No such file or directory"


def test_parse_contracts_without_a_source_name() -> None:
    raw = copy.deepcopy(REAL_RAW)
    _rename(_x(raw, "teams"), "label", "lable")
    with pytest.raises(ContractError, match=r"^contracts: extract teams: unknown key 'lable' "
                                            r"\(did you mean 'label'\?\)$"):
        parse_contracts(raw)


def test_every_allowed_key_is_documented_in_the_header() -> None:
    """The header comment of extracts.yaml documents every option the parser allows."""
    header = "\n".join(ln for ln in REAL_TEXT.splitlines() if ln.startswith("#"))
    allowed = (TOP_KEYS | EXTRACT_KEYS | COLUMN_KEYS | REF_KEYS | CONDITION_KEYS
               | ONLY_WHEN_KEYS | LOOKUP_KEYS | REFERENCE_KEYS | CHECK_KINDS | OVERLAP_KEYS)
    undocumented = sorted(k for k in allowed if not re.search(rf"\b{k}\b", header))
    assert undocumented == []
