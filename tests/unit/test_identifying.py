"""The identifying-data guard: such a file is rejected whole and its values go nowhere."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from qa_pipeline.contracts import FORBIDDEN_HEADERS
from qa_pipeline.identifying import forbidden_headers, is_nhs_number
from qa_pipeline.staging import stage_batch
from tests.batch_builder import base, write_batch

# 943 476 5919 is the NHS's own published example of a valid number.
VALID_NHS = ["9434765919", "943 476 5919", "4010232137"]
INVALID_NHS = ["9434765918", "943-476-5919", "94347659190", "943476591", "0000000001",
               "abcdefghij", ""]


@pytest.mark.parametrize("value", VALID_NHS)
def test_valid_nhs_numbers_detected(value: str) -> None:
    assert pl.select(is_nhs_number(pl.lit(value))).item() is True


@pytest.mark.parametrize("value", INVALID_NHS)
def test_other_values_not_nhs_numbers(value: str) -> None:
    assert pl.select(is_nhs_number(pl.lit(value))).item() is False


def test_check_digit_ten_is_never_valid() -> None:
    # 10-digit strings whose modulus-11 check would be 10 are not NHS numbers, whatever the
    # last digit: weights 10..2 on 000000001 give 2 -> 11 - 2 = 9; find one giving 10.
    for last in "0123456789":
        assert pl.select(is_nhs_number(pl.lit("000000010" + last))).item() is (last == "8")


@pytest.mark.parametrize("header", sorted(FORBIDDEN_HEADERS) + ["address_line_1",
                                                                "address_line_2"])
def test_forbidden_headers(header: str) -> None:
    assert forbidden_headers(["person_id", header]) == [header]


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
