"""Reading what Paris sends: encodings, header styles, quoting, line endings, formats — a batch
written to the spec by someone else loads with no false error."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest

from qa_pipeline.ingest.reading import (
    INVALID_BYTE,
    FileProblem,
    RawFile,
    decode,
    normalise_header,
    read_text_csv,
)
from qa_pipeline.ingest.staging import stage_batch
from qa_pipeline.ingest.validation import parse_expr, raw
from qa_pipeline.spec.contracts import load_contracts
from tests.batch_builder import base, csv_text, write_batch

CONTRACTS = load_contracts()


@pytest.mark.parametrize("header", ["Referral Date", "referral-date", "REFERRAL_DATE",
                                    "  referral date ", "Referral - Date"])
def test_header_variants_normalise(header: str) -> None:
    assert normalise_header(header) == "referral_date"


def _read(tmp_path: Path, data: bytes) -> RawFile | FileProblem:
    p = tmp_path / "teams.csv"
    p.write_bytes(data)
    return read_text_csv(p)


@pytest.mark.parametrize("encoding,prefix", [("utf-8", b""), ("utf-8", b"\xef\xbb\xbf"),
                                             ("cp1252", b"")])
def test_encodings_read_correctly(tmp_path: Path, encoding: str, prefix: bytes) -> None:
    text = "team_id,team_name,service_area\nT1,Ysbyty Gwynedd – Bangor,OTHER\nT2,Siân's,OTHER\n"
    got = _read(tmp_path, prefix + text.encode(encoding))
    assert isinstance(got, RawFile)
    assert got.frame["team_name"].to_list() == ["Ysbyty Gwynedd – Bangor", "Siân's"]
    assert got.frame.columns[1] == "team_id"  # no BOM left on the first header


def test_quoting_crlf_and_trimming(tmp_path: Path) -> None:
    data = (b'Team ID,"Team Name",SERVICE-AREA\r\n'
            b' 000123 ,"North, ""East""\r\nand West",  fieldwork \r\n'
            b"T2,,OTHER\r\n")
    got = _read(tmp_path, data)
    assert isinstance(got, RawFile)
    assert got.frame.columns == ["source_row", "team_id", "team_name", "service_area"]
    assert got.frame.row(0) == (1, "000123", 'North, "East"\r\nand West', "fieldwork")
    assert got.frame["team_name"][1] is None  # empty field is missing


@pytest.mark.parametrize("data,kind", [
    (b"", "unreadable"),
    (b"   \n", "unreadable"),
    (b"\xff\xfe\x00t\x00e\x00a\x00m", "unreadable"),  # UTF-16: neither UTF-8 nor cp1252 text
    (b"team_id,team_id\nT1,T2\n", "duplicate_column"),
])
def test_whole_file_problems(tmp_path: Path, data: bytes, kind: str) -> None:
    got = _read(tmp_path, data)
    assert isinstance(got, FileProblem)
    assert got.kind == kind


def _parse(column: str, extract: str, values: list[str | None]) -> list[object]:
    c = CONTRACTS.extracts[extract].columns[column]
    frame = pl.DataFrame({raw(column): values}, schema={raw(column): pl.String})
    return frame.select(parse_expr(c)).to_series().to_list()


def test_dates_both_formats_and_bad_ones() -> None:
    got = _parse("decision_date", "referrals",
                 ["02/04/2024", "2024-04-02", "2/4/2024", "31/02/2024", "2024-13-01",
                  "yesterday", "02/04/24", None])
    assert got == [date(2024, 4, 2)] * 3 + [None] * 5


def test_datetimes_all_formats_to_utc() -> None:
    got = _parse("referral_datetime", "referrals",
                 ["01/12/2024 10:00", "01/12/2024 10:00:30", "2024-12-01 10:00",
                  "2024-12-01T10:00:30", "2024-07-01 10:00", "01/12/2024", "2024-03-31 01:30"])
    utc = [None if g is None else g.replace(tzinfo=None) for g in got]  # type: ignore[union-attr]
    assert utc == [datetime(2024, 12, 1, 10, 0), datetime(2024, 12, 1, 10, 0, 30),
                   datetime(2024, 12, 1, 10, 0), datetime(2024, 12, 1, 10, 0, 30),
                   datetime(2024, 7, 1, 9, 0),  # BST
                   None,   # a date alone is not a datetime
                   None]   # 01:30 on 31 March 2024 did not exist in UK local time


def test_flags_and_codes_any_case() -> None:
    assert _parse("child_seen", "assessments", ["Y", "n", "Yes", "NO", "yes", "U", "x"]) == \
        ["Y", "N", "Y", "N", "Y", None, None]
    assert _parse("father_involved", "assessments", ["na", "NA", "Y"]) == ["NA", "NA", "Y"]
    assert _parse("referral_source", "referrals", ["police", "Police", "COPS"]) == \
        ["POLICE", "POLICE", None]


def test_ints_and_ids() -> None:
    assert _parse("outcomes_recorded", "cin_plans", ["0", "12", "-1", "1.0", "two"]) == \
        [0, 12, -1, None, None]
    assert _parse("child_id", "referrals", ["000123", "00", "1e5"]) == ["000123", "00", "1e5"]


def test_batch_in_another_style_loads_without_false_errors(tmp_path: Path) -> None:
    """Other header styles, column order, encodings, ISO dates, Yes/No, lower-case codes."""
    data = base()
    for r in data["referrals"]:
        r["referral_source"] = r["referral_source"].lower()
        r["previous_referrals_checked"] = {"Y": "Yes", "N": "no"}[r["previous_referrals_checked"]]
        if r["decision_date"]:
            d, m, y = r["decision_date"].split("/")
            r["decision_date"] = f"{y}-{m}-{d}"
    folder = write_batch(tmp_path / "landing", data)
    rows = data["referrals"]
    header = list(reversed(list(rows[0])))
    styled = csv_text(rows, header).splitlines()
    styled[0] = ",".join(h.replace("_", " ").title() for h in header)
    (folder / "referrals.csv").write_text("\n".join(styled) + "\n", encoding="utf-8-sig")
    (folder / "teams.csv").unlink()
    (folder / "TEAMS.CSV").write_bytes(csv_text(data["teams"]).encode("cp1252"))
    m = stage_batch(folder, tmp_path / "work")
    issues = pl.read_parquet(m.issues_parquet)
    assert issues.height == 0, issues.to_dicts()
    assert m.extracts["teams"].encoding == "cp1252"
    assert m.extracts["referrals"].encoding == "utf-8-sig"
    teams = pl.read_parquet(m.extracts["teams"].parquet or "")
    assert teams["team_name"].to_list()[0] == "Tîm Maes, Gogledd"


def test_unknown_column_warns_and_is_not_loaded(tmp_path: Path) -> None:
    data = base()
    for r in data["teams"]:
        r["colour"] = "blue"
    m = stage_batch(write_batch(tmp_path / "landing", data), tmp_path / "work")
    issues = pl.read_parquet(m.issues_parquet)
    [row] = issues.filter(pl.col("rule_id") == "teams.unknown_column").to_dicts()
    assert row["severity"] == "warning" and row["column_name"] == "colour"
    assert "colour" not in pl.read_parquet(m.extracts["teams"].parquet or "").columns
    assert m.extracts["teams"].rows_loaded == 2


def test_missing_required_column_rejects_file(tmp_path: Path) -> None:
    data = base()
    for r in data["teams"]:
        del r["service_area"]
    m = stage_batch(write_batch(tmp_path / "landing", data), tmp_path / "work")
    assert m.extracts["teams"].status == "rejected"
    assert m.extracts["teams"].parquet is None
    issues = pl.read_parquet(m.issues_parquet)
    [row] = issues.filter(pl.col("rule_id") == "teams.missing_column").to_dicts()
    assert row["severity"] == "file_error" and row["extract"] == "teams.csv"
    assert row["column_name"] == "service_area"
    # references to the rejected teams are not checked; the rows still load
    assert m.extracts["referrals"].rows_loaded == 2


def test_other_file_reported_and_ignored(tmp_path: Path) -> None:
    folder = write_batch(tmp_path / "landing", base())
    (folder / "readme.txt").write_text("hello")
    m = stage_batch(folder, tmp_path / "work")
    issues = pl.read_parquet(m.issues_parquet)
    assert issues.select("extract", "rule_id", "severity").to_dicts() == [
        {"extract": "readme.txt", "rule_id": "batch.unknown_file", "severity": "warning"}]


WELSH = "Tîm Drws Ffrynt – Gogledd"


@pytest.mark.parametrize("data,encoding,invalid", [
    (f"a\n{WELSH}\n".encode(), "utf-8", 0),
    (f"a\n{WELSH}\n".encode() + b"x\xffy\n", "utf-8", 1),          # one bad byte: UTF-8
    (b"\xef\xbb\xbf" + b"a\nx\xffy\n", "utf-8-sig", 1),            # a BOM says UTF-8
    (f"a\n{WELSH}\nSiân\n".encode("cp1252"), "cp1252", 0),        # Windows-1252 throughout
    (f"a\n{WELSH}\n".encode("cp1252") + b"und\x81\x8d\x8f\x90\x9d\n", "cp1252", 5),
])
def test_decoding_marks_bad_bytes_and_never_garbles(data: bytes, encoding: str,
                                                    invalid: int) -> None:
    decoded = decode(data)
    assert (decoded.encoding, decoded.invalid_bytes) == (encoding, invalid)
    assert WELSH in decoded.text or "Tîm" not in data.decode("utf-8", "replace")
    assert decoded.text.count(INVALID_BYTE) == invalid
    assert "Ã" not in decoded.text and "â€" not in decoded.text


def test_trailing_comma_on_the_header(tmp_path: Path) -> None:
    path = tmp_path / "teams.csv"
    path.write_bytes(b"team_id,team_name,\r\nT1,One,\r\nT2,Two\r\nT3,Three,x,y\r\n")
    raw = read_text_csv(path)
    assert isinstance(raw, RawFile)
    assert raw.unnamed == ("unnamed_column_3",)
    assert raw.ragged == {3: 4}  # only the row with a field too many
    assert raw.frame["unnamed_column_3"].to_list() == [None, None, "x"]
