"""The identifying-data guard: such a file is rejected whole and its values go nowhere."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest

from qa_pipeline.ingest.staging import stage_batch
from qa_pipeline.privacy.identifying import forbidden_headers
from qa_pipeline.privacy.redaction import (
    MASK,
    holds_nhs_number,
    redact,
    redact_cut,
    valid_nhs_digits,
)
from qa_pipeline.spec.contracts import FORBIDDEN_HEADERS, load_contracts
from tests.batch_builder import base, write_batch

# 943 476 5919 is the NHS's own published example of a valid number.
VALID_NHS = ["9434765919", "943 476 5919", "4010232137", "943-476-5919", "943 4765 919",
             "943.476.5919", "W 943 476 5919", "Team 943 476 5919", "ref9434765919x",
             "943 - 476 - 5919"]
INVALID_NHS = ["9434765918", "94347659190", "1 943 476 5919", "943 476 5919 1", "943476591",
               "0000000001", "abcdefghij", "", "2024-01-15 10:30", "15/01/2024 10:30:00",
               "2013-12-24T10:30"]


@pytest.mark.parametrize("value", VALID_NHS)
def test_valid_nhs_numbers_detected_and_masked(value: str) -> None:
    assert holds_nhs_number(value)
    masked = redact(value)
    assert MASK in masked and not holds_nhs_number(masked)
    assert re.sub(r"\D", "", masked) == ""  # no digit of the number is left


@pytest.mark.parametrize("value", INVALID_NHS)
def test_other_values_not_nhs_numbers(value: str) -> None:
    assert not holds_nhs_number(value)
    assert redact(value) == value


def test_check_digit_ten_is_never_valid() -> None:
    # 10-digit strings whose modulus-11 check would be 10 are not NHS numbers, whatever the
    # last digit: weights 10..2 on 000000001 give 2 -> 11 - 2 = 9; find one giving 10.
    for last in "0123456789":
        assert valid_nhs_digits("000000010" + last) is (last == "8")


def test_redaction_keeps_the_rest_of_the_text() -> None:
    text = "int out of range: 9434765919 in row 3; ids 000123, 943 476 5918"
    assert redact(text) == f"int out of range: {MASK} in row 3; ids 000123, 943 476 5918"


def test_cut_notes_the_original_length() -> None:
    cut = redact_cut("x" * 5_000_000, 200)
    assert len(cut) == 200 and cut.endswith("[5,000,000 characters]")
    assert redact_cut("short", 200) == "short"


@pytest.mark.parametrize("header", sorted(FORBIDDEN_HEADERS) + ["address_line_1",
                                                                "address_line_2"])
def test_forbidden_headers(header: str) -> None:
    assert forbidden_headers(["person_id", header]) == [header]


@pytest.mark.parametrize("header", [
    " NHS No. ", "e-mail", "E-Mail Address", "Child Name", "Forename(s)", "Surname(s)",
    "Home Address", "mother_surname", "child_name", "home_address", "Post Code", "NHS Number",
    "N.I. Number", "Telephone No", "Mobile Phone", "Names", "Addresses", "first-name",
])
def test_identifying_headers_in_other_spellings(header: str) -> None:
    assert forbidden_headers([header]) == [header]


def test_contract_columns_are_allowed_by_name() -> None:
    allowed = {c for e in load_contracts().extracts.values() for c in e.columns}
    assert {"name_recorded", "address_recorded", "team_name"} <= allowed
    assert forbidden_headers(sorted(allowed), allowed) == []
    # The same words outside the contract are refused.
    assert forbidden_headers(["team_name", "worker_name"], allowed) == ["worker_name"]


def test_plain_headers_are_not_identifying() -> None:
    names = ["referral_id", "notes", "namespace_version", "surnamed", "addressed_to_team"]
    assert forbidden_headers(names) == []


def test_forbidden_header_in_file_rejects_it_and_keeps_no_value(tmp_path: Path) -> None:
    data = base()
    for r in data["persons"]:
        r["Last Name"] = "Plantedsurname"
    m = stage_batch(write_batch(tmp_path / "landing", data), tmp_path / "work")
    assert m.extracts["persons"].status == "rejected"
    issues = pl.read_parquet(m.issues_parquet)
    [row] = issues.filter(pl.col("rule_id") == "persons.identifying_column").to_dicts()
    assert row["severity"] == "file_error" and row["column_name"] == "last_name"
    assert row["value"] is None
    _assert_not_in_outputs(Path(m.work_dir), b"Plantedsurname")


def test_nhs_number_id_rejects_file_and_keeps_no_value(tmp_path: Path) -> None:
    data = base()
    data["persons"][2]["person_id"] = "943 476 5919"
    m = stage_batch(write_batch(tmp_path / "landing", data), tmp_path / "work")
    assert m.extracts["persons"].status == "rejected"
    issues = pl.read_parquet(m.issues_parquet)
    [row] = issues.filter(pl.col("rule_id") == "persons.nhs_number").to_dicts()
    assert row["record_id"] is None and row["value"] is None
    assert "rows 3" in row["message"]
    _assert_not_in_outputs(Path(m.work_dir), b"9434765919", b"943 476 5919")


def _assert_not_in_outputs(work: Path, *needles: bytes) -> None:
    files = list(work.rglob("*"))
    assert files
    for f in files:
        if f.is_file():
            content = f.read_bytes()
            if f.suffix == ".parquet":
                content = pl.read_parquet(f).write_csv().encode()
            for n in needles:
                assert n not in content, f"{n!r} leaked into {f.name}"


def test_log_handlers_and_streams_mask_nhs_numbers() -> None:
    import io
    import logging

    from qa_pipeline.privacy.redaction import RedactingStream, install_log_redaction

    buffer = io.StringIO()
    logger = logging.getLogger("qa_pipeline.test_redaction")
    handler = logging.StreamHandler(buffer)
    logger.addHandler(handler)
    logger.propagate = False
    try:
        install_log_redaction(logger)
        logger.warning("value %s in row %d", "943 476 5919", 3)
        try:
            raise ValueError("integer out of range: 9434765919")
        except ValueError:
            logger.exception("load failed")
    finally:
        logger.removeHandler(handler)
    text = buffer.getvalue()
    assert "value [NHS number removed] in row 3" in text
    assert "load failed" in text and "9434765919" not in text and "943 476 5919" not in text
    out = io.StringIO()
    RedactingStream(out).write("ignored 9434765919.csv\n")
    assert out.getvalue() == "ignored [NHS number removed].csv\n"
