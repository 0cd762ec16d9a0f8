"""A hostile night (issue 12): each malformed delivery gets its exact outcome, the same on
SQLite and PostgreSQL, and no identifying value reaches any output.

Each item has its own test; `test_hostile_batch_*` then combines every input in one batch,
runs it into both databases, compares `dq_issue` and the case tables, and searches every
output (the SQLite file's bytes, a pg_dump, logs, stdout, the report, the worklists, the work
folder) for the planted NHS numbers.
"""

from __future__ import annotations

import logging
import subprocess
import zipfile
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from qa_pipeline.cli.main import main
from qa_pipeline.ingest.staging import stage_batch
from qa_pipeline.load.db import history_table_name, make_engine, metadata
from qa_pipeline.privacy.redaction import MASK, valid_nhs_digits
from qa_pipeline.spec.contracts import load_contracts
from tests.batch_builder import AS_OF, base, csv_text, write_batch
from tests.pg_server import PostgresServer


def nhs_numbers(n: int, start: int = 123_456_000) -> list[str]:
    """`n` valid NHS numbers (made here, so the test plants numbers no file holds)."""
    out: list[str] = []
    prefix = start
    while len(out) < n:
        for last in "0123456789":
            if valid_nhs_digits(f"{prefix}{last}"):
                out.append(f"{prefix}{last}")
                break
        prefix += 1
    return out


def spaced(number: str, groups: tuple[int, ...] = (3, 3, 4), sep: str = " ") -> str:
    parts, i = [], 0
    for g in groups:
        parts.append(number[i:i + g])
        i += g
    return sep.join(parts)


def _issues(db_url: str, as_of: date = AS_OF) -> list[dict[str, Any]]:
    engine = make_engine(db_url)
    t = metadata.tables["dq_issue"]
    cols = [c for c in t.c if c.name not in ("issue_id", "run_id")]
    with engine.connect() as conn:
        rows = conn.execute(sa.select(*cols).where(t.c.as_of == as_of)).mappings().all()
    engine.dispose()
    return sorted((dict(r) for r in rows), key=lambda r: repr(sorted(r.items())))


def _case_tables(db_url: str) -> dict[str, list[tuple[Any, ...]]]:
    engine = make_engine(db_url)
    out = {}
    with engine.connect() as conn:
        for e in load_contracts().extracts.values():
            t = metadata.tables[history_table_name(e.name)]
            out[e.name] = sorted((tuple(r) for r in conn.execute(sa.select(t))), key=repr)
        iv = metadata.tables["indicator_value"]
        out["indicator_value"] = sorted((tuple(r) for r in conn.execute(sa.select(iv))),
                                        key=repr)
    engine.dispose()
    return out


def _run_status(db_url: str) -> list[tuple[str, int]]:
    engine = make_engine(db_url)
    t = metadata.tables["pipeline_run"]
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t.c.status, t.c.exit_code)).all()
    engine.dispose()
    return [(r.status, r.exit_code) for r in rows]


def _rules(issues: list[dict[str, Any]]) -> set[str]:
    return {i["rule_id"] for i in issues}


# --- 1. invalid bytes ------------------------------------------------------------------------


def test_utf8_file_with_one_bad_byte_is_read_as_utf8(db_url: str, tmp_path: Path) -> None:
    data = base()
    data["teams"].append({"team_id": "T3", "team_name": "Tîm Drws Ffrynt – De \udcffX",
                          "service_area": "OTHER"})
    data["teams"][1]["team_name"] = "Tîm Drws Ffrynt – Gogledd"
    folder = write_batch(tmp_path / "landing", data)
    assert main(["run", str(folder), "--db", db_url]) == 0
    engine = make_engine(db_url)
    with engine.connect() as conn:
        names = dict(conn.execute(sa.text("SELECT team_id, team_name FROM stg_teams")).all())
    assert names == {"T1": "Tîm Maes, Gogledd", "T2": "Tîm Drws Ffrynt – Gogledd"}
    [issue] = [i for i in _issues(db_url) if i["rule_id"] == "teams.invalid_byte"]
    assert issue["severity"] == "error" and issue["source_row"] == 3
    assert issue["column_name"] == "team_name" and issue["record_id"] == "T3"
    assert issue["value"] == "Tîm Drws Ffrynt – De \ufffdX"  # the bad byte marked
    engine.dispose()


def test_windows_1252_file_stays_windows_1252_and_undefined_bytes_are_row_issues(
        tmp_path: Path) -> None:
    data = base()
    data["teams"][1]["team_name"] = "Siân – Tîm"
    data["teams"].append({"team_id": "T3", "team_name": "Und\udc81fined", "service_area": "OTHER"})
    folder = write_batch(tmp_path / "landing", data)
    (folder / "teams.csv").write_bytes(csv_text(data["teams"]).encode("cp1252",
                                                                      "surrogateescape"))
    m = stage_batch(folder, tmp_path / "work")
    assert m.extracts["teams"].encoding == "cp1252" and m.extracts["teams"].status == "loaded"
    teams = pl.read_parquet(m.extracts["teams"].parquet or "")
    assert teams["team_name"].to_list() == ["Tîm Maes, Gogledd", "Siân – Tîm"]
    issues = pl.read_parquet(m.issues_parquet).filter(pl.col("rule_id") == "teams.invalid_byte")
    assert issues.select("source_row", "column_name", "value").rows() == [
        (3, "team_name", "Und\ufffdfined")]


# --- 2 and 3. identifying values and headers -------------------------------------------------

PLANTED = nhs_numbers(8)
FORMS = [  # every format the guard must see through
    PLANTED[0], spaced(PLANTED[1]), spaced(PLANTED[2], sep="-"),
    spaced(PLANTED[3], (3, 4, 3)), "W " + spaced(PLANTED[4]), spaced(PLANTED[5], sep="."),
]


@pytest.mark.parametrize("extract,column,value", [
    ("referrals", "referral_id", FORMS[1]),            # id
    ("referrals", "referral_source", FORMS[0]),        # code
    ("referrals", "decision_date", FORMS[2]),          # date
    ("referrals", "referral_datetime", FORMS[3]),      # datetime
    ("referrals", "risk_analysis_recorded", FORMS[5]),  # flag
    ("cin_plans", "outcomes_recorded", FORMS[0]),      # int
    ("teams", "team_name", "Team " + FORMS[1]),        # text, inside longer text
    ("conference_attendance", "person_id", FORMS[4]),  # id with a letter in front
    ("referrals", "notes", "see " + FORMS[2]),         # an unknown column
])
def test_nhs_number_in_any_column_rejects_the_file(extract: str, column: str, value: str,
                                                   tmp_path: Path) -> None:
    data = base()
    row = data[extract][0]
    row[column] = value
    m = stage_batch(write_batch(tmp_path / "landing", data), tmp_path / "work")
    assert m.extracts[extract].status == "rejected"
    issues = pl.read_parquet(m.issues_parquet)
    [row_issue] = issues.filter(pl.col("rule_id") == f"{extract}.nhs_number").to_dicts()
    assert row_issue["column_name"] == column and row_issue["value"] is None
    assert "rows 1" in row_issue["message"]
    digits = "".join(ch for ch in value if ch.isdigit())
    for f in Path(m.work_dir).rglob("*"):
        text = (pl.read_parquet(f).write_csv() if f.suffix == ".parquet"
                else f.read_text(encoding="utf-8"))
        assert digits not in "".join(ch for ch in text if ch.isdigit() or ch == "\n")


@pytest.mark.parametrize("header", [" NHS No. ", "e-mail", "Child Name", "Forename(s)",
                                    "Surname(s)", "Home Address", "mother_surname"])
def test_identifying_header_spellings_reject_the_file(header: str, tmp_path: Path) -> None:
    data = base()
    for r in data["persons"]:
        r[header] = "x"
    m = stage_batch(write_batch(tmp_path / "landing", data), tmp_path / "work")
    assert m.extracts["persons"].status == "rejected"
    issues = pl.read_parquet(m.issues_parquet)
    assert "persons.identifying_column" in set(issues["rule_id"])
    assert m.extracts["teams"].status == "loaded"  # team_name is the contract's own column


# --- 4. one value must not fail a PostgreSQL batch ---------------------------------------------

LONG_TEAM = "T" + "9" * 69  # 70 characters: over the old VARCHAR(64) of breakdown_value
STRAY = "s" * 150 + ".csv"   # over the old VARCHAR(128) of dq_issue.extract


def _wide_values_batch(root: Path) -> Path:
    data = base()
    data["cin_plans"][0]["outcomes_recorded"] = "3000000000"  # above a 32-bit INTEGER
    data["teams"].append({"team_id": LONG_TEAM, "team_name": "Long", "service_area": "OTHER"})
    data["referrals"].append({**data["referrals"][0], "referral_id": "R3",
                              "team_id": LONG_TEAM})
    folder = write_batch(root, data)
    (folder / STRAY).write_text("a,b\n1,2\n", encoding="utf-8")
    return folder


@pytest.mark.postgres
def test_wide_values_give_the_same_outcome_on_both_databases(pg_url: str,
                                                              tmp_path: Path) -> None:
    folder = _wide_values_batch(tmp_path / "landing")
    lite = f"sqlite:///{tmp_path / 'qa.db'}"
    for url in (lite, pg_url):
        assert main(["run", str(folder), "--db", url]) == 0  # row issues and warnings only
    issues = _issues(lite)
    assert issues == _issues(pg_url)
    [big] = [i for i in issues if i["rule_id"] == "cin_plans.outcomes_recorded.out_of_range"]
    assert big["value"] == "3000000000" and big["severity"] == "error"
    assert STRAY in {i["extract"] for i in issues}
    tables = _case_tables(lite)
    assert tables == _case_tables(pg_url)
    assert tables["cin_plans"] == []  # the one plan was quarantined
    assert any(LONG_TEAM in row for row in tables["indicator_value"])
    assert _run_status(pg_url) == [("succeeded", 0)]


# --- 7. the same extract twice ---------------------------------------------------------------


def test_same_extract_under_two_spellings_rejects_both(db_url: str, tmp_path: Path) -> None:
    folder = write_batch(tmp_path / "landing", base())
    (folder / "Referrals.CSV").write_bytes((folder / "referrals.csv").read_bytes())
    assert main(["run", str(folder), "--db", db_url]) == 3
    issues = _issues(db_url)
    [twin] = [i for i in issues if i["rule_id"] == "referrals.duplicate_file"]
    assert twin["severity"] == "file_error"
    assert "Referrals.CSV" in twin["message"] and "referrals.csv" in twin["message"]
    assert "batch.unknown_file" not in _rules(issues)  # reported once, as the twin
    tables = _case_tables(db_url)
    assert tables["referrals"] == [] and len(tables["persons"]) == 5  # the others load


# --- 8. implausible years ----------------------------------------------------------------------


def test_year_0211_is_a_row_error_and_does_not_stretch_the_indicators(tmp_path: Path) -> None:
    clean = f"sqlite:///{tmp_path / 'clean.db'}"
    assert main(["run", str(write_batch(tmp_path / "a", base())), "--db", clean]) == 0
    data = base()
    data["cp_plans"].append({**data["cp_plans"][0], "cp_plan_id": "P2", "child_id": "000101",
                             "start_date": "12/05/0211", "end_date": ""})
    dirty = f"sqlite:///{tmp_path / 'dirty.db'}"
    assert main(["run", str(write_batch(tmp_path / "b", data)), "--db", dirty]) == 0
    issues = {(i["rule_id"], i["value"]) for i in _issues(dirty)}
    assert issues == {("cp_plans.start_date.too_early", "12/05/0211")}
    # The plan is quarantined: every indicator row is as without it (no months since 211).
    dirty_values = _case_tables(dirty)["indicator_value"]
    assert dirty_values == _case_tables(clean)["indicator_value"]
    assert min(r[4] for r in dirty_values) >= date(2013, 4, 1)  # period_start


def test_earliest_dates_are_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = base()
    data["referrals"][0]["referral_datetime"] = "01/04/2004 10:00"
    folder = write_batch(tmp_path / "landing", data)
    monkeypatch.setenv("QA_PIPELINE_EARLIEST_EVENT_DATE", "2005-01-01")
    db = f"sqlite:///{tmp_path / 'qa.db'}"
    assert main(["run", str(folder), "--db", db]) == 0
    assert "referrals.referral_datetime.too_early" in _rules(_issues(db))


# --- 9. a trailing comma on the header ---------------------------------------------------------


def test_unnamed_columns(db_url: str, tmp_path: Path) -> None:
    data = base()
    folder = write_batch(tmp_path / "landing", data)
    rel = (folder / "relationships.csv").read_text(encoding="utf-8").splitlines()
    # Excel: a trailing comma on the header; the rows have it on one line and not the other.
    rel = [rel[0] + ",", rel[1] + ",", rel[2]]
    (folder / "relationships.csv").write_text("\n".join(rel) + "\n", encoding="utf-8")
    conf = (folder / "cp_conferences.csv").read_text(encoding="utf-8").splitlines()
    conf = [conf[0] + ",", conf[1] + ",kept out"]
    (folder / "cp_conferences.csv").write_text("\n".join(conf) + "\n", encoding="utf-8")
    assert main(["run", str(folder), "--db", db_url]) == 0
    issues = _issues(db_url)
    found = {(i["extract"], i["rule_id"], i["column_name"]) for i in issues}
    assert ("relationships.csv", "relationships.unnamed_column", "unnamed_column_9") in found
    assert ("cp_conferences.csv", "cp_conferences.unknown_column", "unnamed_column_8") in found
    assert not [i for i in issues if i["severity"] != "warning"]
    tables = _case_tables(db_url)
    assert len(tables["relationships"]) == 2 and len(tables["cp_conferences"]) == 1
    assert all("kept out" not in map(str, row) for row in tables["cp_conferences"])


# --- 10. a 5 MB key ------------------------------------------------------------------------------


def test_huge_key_is_cut_with_its_length_noted(db_url: str, tmp_path: Path) -> None:
    data = base()
    data["referrals"].append({**data["referrals"][0], "referral_id": "K" * 5_000_000})
    folder = write_batch(tmp_path / "landing", data)
    assert main(["run", str(folder), "--db", db_url]) == 0
    [issue] = [i for i in _issues(db_url) if i["rule_id"] == "referrals.value_too_long"]
    assert len(issue["record_id"]) <= 200 and issue["record_id"].endswith(
        "[5,000,000 characters]")
    assert len(issue["value"]) <= 200 and issue["column_name"] == "referral_id"


# --- the hostile batch: 1-10 together --------------------------------------------------------

HOSTILE_NHS = nhs_numbers(4, start=555_123_000)


def hostile_batch(root: Path) -> Path:
    data = base()
    # 1: one invalid byte in a UTF-8 file of Welsh names.
    data["teams"].append({"team_id": "T3", "team_name": "Tîm \udcff – De", "service_area": "OTHER"})
    # 2: NHS numbers in a flag column (file rejected) and in a header (unknown column).
    data["fit_referrals"][0]["outcome_achieved"] = spaced(HOSTILE_NHS[0], sep="-")
    for r in data["strategy_discussions"]:
        r[f"ref {spaced(HOSTILE_NHS[1])}"] = ""
    # 3: an identifying header in another spelling.
    for r in data["cin_reviews"]:
        r["Home Address"] = "somewhere"
    # 4: an int above 32 bits and a team id over 64 characters.
    data["cin_plans"][0]["outcomes_recorded"] = "3000000000"
    data["teams"].append({"team_id": LONG_TEAM, "team_name": "Long", "service_area": "OTHER"})
    data["referrals"].append({**data["referrals"][0], "referral_id": "R3", "team_id": LONG_TEAM})
    # 8: a CP plan in the year 211.
    data["cp_plans"].append({**data["cp_plans"][0], "cp_plan_id": "P2", "child_id": "000101",
                             "start_date": "12/05/0211", "end_date": ""})
    # 10: a 5 MB key.
    data["referrals"].append({**data["referrals"][0], "referral_id": "K" * 5_000_000})
    folder = write_batch(root, data)
    # 4 and 2: stray files with a long name and with an NHS number for a name.
    (folder / STRAY).write_text("a\n1\n", encoding="utf-8")
    (folder / f"{HOSTILE_NHS[2]}.csv").write_text("a\n1\n", encoding="utf-8")
    # 7: the same extract twice.
    (folder / "Assessments.CSV").write_bytes((folder / "assessments.csv").read_bytes())
    # 9: a trailing comma on a header.
    rel = (folder / "relationships.csv").read_text(encoding="utf-8").splitlines()
    (folder / "relationships.csv").write_text("\n".join([rel[0] + ","] + rel[1:]) + "\n",
                                              encoding="utf-8")
    return folder


def _everything(tmp: Path, logs: str, dump: bytes) -> bytes:
    """Every output of the runs as bytes: logs and stdout, the database dump or file, the
    report and worklists (xlsx unzipped), whatever is left in the work folders."""
    parts = [logs.encode(), dump]
    for f in tmp.rglob("*"):
        if not f.is_file() or "landing" in f.parts:
            continue
        if f.suffix == ".xlsx":
            with zipfile.ZipFile(f) as book:
                parts += [book.read(n) for n in book.namelist()]
        elif f.suffix == ".parquet":
            parts.append(pl.read_parquet(f).write_csv().encode())
        else:
            parts.append(f.read_bytes())
    return b"\n".join(parts)


def _run_into_both(folder: Path, pg_url: str, tmp_path: Path,
                   caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run one batch into a SQLite file and into PostgreSQL, each with its own report folder,
    logging everything; both must finish with exit 3. Returns the SQLite file."""
    lite_path = tmp_path / "lite" / "qa.db"
    with caplog.at_level(logging.DEBUG):
        for url, side in ((f"sqlite:///{lite_path}", "lite"), (pg_url, "pg")):
            monkeypatch.setenv("QA_PIPELINE_REPORT_DIR", str(tmp_path / side / "reports"))
            assert main(["-v", "run", str(folder), "--db", url, "--work-dir",
                         str(tmp_path / "work")]) == 3, side
    return lite_path


def _forms(number: str) -> list[bytes]:
    return [number.encode(), spaced(number).encode(), spaced(number, sep="-").encode()]


@pytest.mark.aftercare
@pytest.mark.postgres
def test_hostile_batch_same_outcome_on_both_databases_and_no_identifying_value_anywhere(
        postgres_server: PostgresServer, pg_url: str, tmp_path: Path,
        caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    folder = hostile_batch(tmp_path / "landing")
    lite_path = _run_into_both(folder, pg_url, tmp_path, caplog, monkeypatch)
    lite = f"sqlite:///{lite_path}"
    out = capsys.readouterr()
    issues = _issues(lite)
    assert issues == _issues(pg_url)
    assert _case_tables(lite) == _case_tables(pg_url)
    rules = _rules(issues)
    assert {"teams.invalid_byte", "fit_referrals.nhs_number", "strategy_discussions.unknown_column",
            "cin_reviews.identifying_column", "cin_plans.outcomes_recorded.out_of_range",
            "assessments.duplicate_file", "cp_plans.start_date.too_early",
            "relationships.unnamed_column", "referrals.value_too_long",
            "batch.unknown_file"} <= rules
    assert all(len(i["record_id"] or "") <= 200 for i in issues)
    assert MASK in {i["extract"] for i in issues if i["rule_id"] == "batch.unknown_file"
                    and "[NHS" in i["extract"]}.pop()
    assert [s for s, _ in _run_status(pg_url)] == ["succeeded_with_issues"]
    dump = _pg_dump(postgres_server, pg_url)
    assert b"stg_referrals" in dump and b"teams.invalid_byte" in dump
    everything = _everything(tmp_path, "\n".join([out.out, out.err, caplog.text]),
                             dump + lite_path.read_bytes())
    assert b"<html" in everything  # the report was written and searched
    for number in HOSTILE_NHS[:3]:
        for needle in _forms(number):
            assert needle not in everything, needle
    # The 5 MB key is not printed whole: the report stays a page, not megabytes.
    pages = list(tmp_path.glob("*/reports/**/*.html"))
    assert pages and max(p.stat().st_size for p in pages) < 1_000_000


def _pg_dump(server: PostgresServer, pg_url: str) -> bytes:
    url = make_url(pg_url)
    return subprocess.run(
        [server.binaries.path("pg_dump"), "-h", str(url.host), "-p", str(url.port),
         "-U", str(url.username), str(url.database)], capture_output=True, check=True).stdout


EVERY_TYPE = nhs_numbers(9, start=777_001_000)


@pytest.mark.aftercare
@pytest.mark.postgres
def test_nhs_numbers_in_every_column_type_and_format_reach_no_output(
        postgres_server: PostgresServer, pg_url: str, tmp_path: Path,
        caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    n = EVERY_TYPE
    data = base()
    ref = data["referrals"]
    ref[0]["referral_id"] = spaced(n[0])                        # id, 3-3-4 spaces
    ref[0]["referral_source"] = n[1]                            # code, plain
    ref[1]["decision_date"] = spaced(n[2], sep="-")             # date, dashes
    ref[1]["referral_datetime"] = spaced(n[3], (3, 4, 3))       # datetime, 3-4-3
    ref[1]["risk_analysis_recorded"] = spaced(n[4], sep=".")    # flag, dots
    data["cin_plans"][0]["outcomes_recorded"] = n[5]            # int
    data["teams"][0]["team_name"] = "Team " + spaced(n[6])      # text, inside longer text
    data["conference_attendance"][0]["person_id"] = "W " + spaced(n[7])  # id, letter first
    for r in data["persons"]:
        r["notes"] = f"see {n[8]}"                              # an unknown column
    folder = write_batch(tmp_path / "landing", data)
    lite_path = _run_into_both(folder, pg_url, tmp_path, caplog, monkeypatch)
    out = capsys.readouterr()
    issues = _issues(f"sqlite:///{lite_path}")
    assert issues == _issues(pg_url)
    assert {f"{x}.nhs_number" for x in ("referrals", "cin_plans", "teams",
                                        "conference_attendance", "persons")} <= _rules(issues)
    everything = _everything(tmp_path, "\n".join([out.out, out.err, caplog.text]),
                             _pg_dump(postgres_server, pg_url) + lite_path.read_bytes())
    assert b"<html" in everything and b"referrals.nhs_number" in everything
    for number in n:
        for needle in [*_forms(number), spaced(number, (3, 4, 3)).encode(),
                       spaced(number, sep=".").encode()]:
            assert needle not in everything, needle
