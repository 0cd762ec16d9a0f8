"""Bad deliveries: each gets a clear, specific outcome, nothing is lost, and the previously
published state is intact (docs/reliability.md lists these cases)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from qa_pipeline.cli.main import main
from qa_pipeline.load.db import loaded_rows, make_engine
from tests.batch_builder import AS_OF, base, csv_text, write_batch

DAY1 = AS_OF - timedelta(days=1)


def _published(engine: sa.Engine, as_of: date) -> dict[str, list[tuple[object, ...]]]:
    """Everything published for one batch date (content columns only)."""
    out = {}
    with engine.connect() as conn:
        for extract in ("teams", "referrals", "persons"):  # the rows the batch loaded
            rows = conn.execute(loaded_rows(extract, as_of))
            out[extract] = sorted((tuple(r) for r in rows), key=repr)
        rows = conn.execute(sa.text("SELECT * FROM indicator_value WHERE as_of = :d"),
                            {"d": as_of})
        out["indicator_value"] = sorted((tuple(r) for r in rows), key=repr)
        rows = conn.execute(sa.text(
            "SELECT extract, record_id, rule_id, value FROM dq_issue WHERE as_of = :d"),
            {"d": as_of})
        out["dq_issue"] = sorted((tuple(r) for r in rows), key=repr)
    return out


def _issues(engine: sa.Engine, as_of: date) -> list[dict[str, object]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT extract, record_id, rule_id, severity, column_name, value, message "
            "FROM dq_issue WHERE as_of = :d ORDER BY extract, rule_id, record_id"),
            {"d": as_of}).mappings().all()
    return [dict(r) for r in rows]


def _checksums(folder: Path) -> dict[str, tuple[str, float]]:
    return {str(p.relative_to(folder)): (hashlib.sha256(p.read_bytes()).hexdigest(),
                                         p.stat().st_mtime)
            for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink()}


class Scenario:
    """Day 1 published cleanly; day 2 is delivered with one defect and run by the CLI."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.landing = tmp_path / "landing"
        self.db = f"sqlite:///{tmp_path / 'qa.db'}"
        write_batch(self.landing, base(), as_of=DAY1)
        assert main(["run", str(self.landing / DAY1.isoformat()), "--db", self.db]) == 0
        self.engine = make_engine(self.db)
        self.before = _published(self.engine, DAY1)
        self.day2 = write_batch(self.landing, base(), as_of=AS_OF)

    def run(self, *extra: str) -> int:
        self.delivered = _checksums(self.landing)
        code = main(["run", str(self.day2), "--db", self.db, *extra])
        assert _published(self.engine, DAY1) == self.before, "day 1 must stay intact"
        assert _checksums(self.landing) == self.delivered, "delivered files must be untouched"
        return code

    def file_issue(self, rule_id: str) -> dict[str, object]:
        [row] = [i for i in _issues(self.engine, AS_OF) if i["rule_id"] == rule_id]
        return row

    def loaded(self, extract: str) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(
                loaded_rows(extract, AS_OF).subquery())).scalar_one())


@pytest.fixture
def sc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Scenario:
    monkeypatch.setenv("QA_PIPELINE_HOLD_DIR", str(tmp_path / "holds"))
    return Scenario(tmp_path)


def _write(path: Path, data: bytes) -> Callable[[], None]:
    return lambda: path.write_bytes(data)


HEADER = b"team_id,team_name,service_area\r\n"
REJECTED_FILES: list[tuple[str, bytes, str, str]] = [
    ("empty", b"", "teams.unreadable", "the file is empty"),
    ("semicolons", b"team_id;team_name;service_area\nT1;A;OTHER\n", "teams.unreadable",
     "separated by semicolons"),
    ("tabs", b"team_id\tteam_name\tservice_area\nT1\tA\tOTHER\n", "teams.unreadable",
     "separated by tabs"),
    ("utf16", "team_id,team_name,service_area\n".encode("utf-16"), "teams.unreadable",
     "UTF-16"),
    ("binary", bytes(range(256)) * 4, "teams.unreadable", "binary"),
    ("cut_off", HEADER + b'T1,"Fieldwork, nor', "teams.unreadable",
     "ends inside a quoted field"),
    ("duplicate_columns", b"team_id,team_name,Team Name\r\nT1,A,B\r\n",
     "teams.duplicate_column", "appears twice"),
    ("other_extracts_header", csv_text(base()["fit_referrals"]).encode(),
     "teams.missing_column", "the header is that of fit_referrals.csv"),
]


@pytest.mark.parametrize("data,rule_id,says", [r[1:] for r in REJECTED_FILES],
                         ids=[r[0] for r in REJECTED_FILES])
def test_unusable_file_rejected_with_specific_message(sc: Scenario, data: bytes, rule_id: str,
                                                      says: str) -> None:
    (sc.day2 / "teams.csv").write_bytes(data)
    assert sc.run() == 3
    issue = sc.file_issue(rule_id)
    assert issue["severity"] == "file_error" and issue["extract"] == "teams.csv"
    assert says in str(issue["message"])
    assert issue["value"] is None and issue["record_id"] is None
    assert sc.loaded("teams") == 0
    assert sc.loaded("referrals") == 2  # the other extracts still load (references unchecked)


def test_header_only_file_is_an_empty_extract_and_holds_the_batch(sc: Scenario) -> None:
    (sc.day2 / "cin_reviews.csv").write_bytes(b"review_id,cin_plan_id,child_id,review_date,"
                                              b"child_participated,multi_agency_attended,"
                                              b"progress_recorded\r\n")
    assert sc.run() == 3  # 0 rows against 1 the day before: held, not published
    with sc.engine.connect() as conn:
        hold = conn.execute(sa.text("SELECT status, reason FROM batch_hold")).one()
        assert conn.execute(sa.text("SELECT COUNT(*) FROM batch WHERE as_of = :d"),
                            {"d": AS_OF}).scalar_one() == 0
    assert hold[0] == "held" and "cin_reviews has 0 rows" in hold[1]


def test_header_only_file_in_a_first_batch_loads_with_a_warning(tmp_path: Path) -> None:
    data = base()
    folder = write_batch(tmp_path / "landing", data)
    (folder / "cin_reviews.csv").write_text(
        "review_id,cin_plan_id,child_id,review_date,child_participated,"
        "multi_agency_attended,progress_recorded\n")
    db = f"sqlite:///{tmp_path / 'qa.db'}"
    assert main(["run", str(folder), "--db", db]) == 0
    [issue] = [i for i in _issues(make_engine(db), AS_OF) if i["rule_id"] == "cin_reviews.no_rows"]
    assert issue["severity"] == "warning"


def test_field_of_several_megabytes_quarantines_the_row(sc: Scenario) -> None:
    rows = base()["teams"]
    rows[1]["team_name"] = "A" * 5_000_000
    (sc.day2 / "teams.csv").write_text(csv_text(rows), encoding="utf-8")
    assert sc.run() == 0
    issue = sc.file_issue("teams.value_too_long")
    assert issue["record_id"] == "T2" and issue["column_name"] == "team_name"
    # cut to 200 characters, the original length noted
    assert issue["value"] == "A" * 176 + "… [5,000,000 characters]"
    assert len(issue["value"]) == 200
    assert sc.loaded("teams") == 1


def test_rows_with_too_many_or_too_few_fields(sc: Scenario) -> None:
    text = HEADER + b"T1,Fieldwork,FIELDWORK,surplus\r\nT2,Front door\r\nT3,Third,OTHER\r\n"
    (sc.day2 / "teams.csv").write_bytes(text)
    assert sc.run() == 0
    got = sorted((i["record_id"], i["value"]) for i in _issues(sc.engine, AS_OF)
                 if i["rule_id"] == "teams.wrong_field_count")
    assert got == [("T1", "4 fields"), ("T2", "2 fields")]
    assert sc.loaded("teams") == 1


def test_file_over_the_size_limit_is_not_read(sc: Scenario, monkeypatch: pytest.MonkeyPatch
                                              ) -> None:
    monkeypatch.setenv("QA_PIPELINE_MAX_FILE_MB", "0.0001")  # ~100 bytes
    assert sc.run() == 3
    issue = sc.file_issue("persons.too_large")
    assert "above the limit" in str(issue["message"])
    assert sc.loaded("persons") == 0


def test_symlink_out_of_the_landing_folder_is_not_read(sc: Scenario) -> None:
    outside = sc.tmp / "outside.csv"
    outside.write_bytes(csv_text(base()["teams"]).encode())
    (sc.day2 / "teams.csv").unlink()
    (sc.day2 / "teams.csv").symlink_to(Path("..") / ".." / "outside.csv")
    assert sc.run() == 3
    assert sc.file_issue("teams.not_in_landing")["severity"] == "file_error"
    assert sc.loaded("teams") == 0


def test_batch_folder_linked_from_outside_is_refused(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    landing = tmp_path / "landing"
    write_batch(landing, base(), as_of=DAY1)
    elsewhere = write_batch(tmp_path / "elsewhere", base(), as_of=AS_OF)
    (landing / AS_OF.isoformat()).symlink_to(elsewhere, target_is_directory=True)
    db = f"sqlite:///{tmp_path / 'qa.db'}"
    assert main(["run", str(landing), "--db", db]) == 3
    out = capsys.readouterr().out
    assert f"not processed: {AS_OF}: a link that leads out of the landing folder" in out
    with make_engine(db).connect() as conn:
        assert [str(r[0]) for r in conn.execute(sa.text("SELECT as_of FROM batch"))] == [
            DAY1.isoformat()]


def test_batch_folder_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = f"sqlite:///{tmp_path / 'qa.db'}"
    future = date.today() + timedelta(days=3)
    landing = tmp_path / "landing"
    write_batch(landing, base(), as_of=DAY1)
    write_batch(landing, base(), as_of=future)
    (landing / "archive").mkdir()
    (landing / "2026-13-01").mkdir()
    assert main(["run", str(landing), "--db", db]) == 3
    out = capsys.readouterr().out
    assert "ignored archive: not a batch folder" in out
    assert f"not processed: {future}: the extract date is in the future" in out
    assert "2026-13-01 is not a real date" in out
    # named directly, the same folders are usage errors
    assert main(["run", str(landing / future.isoformat()), "--db", db]) == 2
    assert "is in the future" in capsys.readouterr().err
    (tmp_path / "nightly").mkdir()
    assert main(["run", str(tmp_path / "nightly"), "--db", db]) == 2


def test_same_batch_twice_and_a_changed_redelivery(sc: Scenario,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(sc.landing), "--db", sc.db]) == 0
    capsys.readouterr()
    assert main(["run", str(sc.landing), "--db", sc.db]) == 0
    assert f"batch {AS_OF}: already published with the same files; skipped" in \
        capsys.readouterr().out
    changed = base()
    changed["teams"][0]["team_name"] = "Renamed"
    write_batch(sc.landing, changed, as_of=AS_OF)
    assert main(["run", str(sc.landing), "--db", sc.db]) == 0
    with sc.engine.connect() as conn:
        message = conn.execute(sa.text(
            "SELECT message FROM pipeline_run WHERE as_of = :d ORDER BY started_at DESC"),
            {"d": AS_OF}).first()[0]
        names = [r[0] for r in conn.execute(sa.text(
            "SELECT team_name FROM stg_teams WHERE as_of = :d ORDER BY team_id"), {"d": AS_OF})]
    assert message.startswith("redelivered with changed files: teams.csv;")
    assert names == ["Renamed", "Front door"]
    assert _published(sc.engine, DAY1) == sc.before


def test_older_batch_is_processed_but_does_not_become_latest(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'qa.db'}"
    newer = base()
    newer["persons"][0]["ethnicity"] = ""
    write_batch(tmp_path / "a", newer, as_of=AS_OF)
    assert main(["run", str(tmp_path / "a" / AS_OF.isoformat()), "--db", db]) == 0
    older = base()
    older["persons"][1]["ethnicity"] = ""
    write_batch(tmp_path / "b", older, as_of=DAY1)
    assert main(["run", str(tmp_path / "b" / DAY1.isoformat()), "--db", db]) == 0
    with make_engine(db).connect() as conn:
        latest = conn.execute(sa.text("SELECT as_of, record_id FROM dq_issue_latest")).all()
        cases = conn.execute(sa.text("SELECT DISTINCT as_of FROM indicator_case")).all()
        values = conn.execute(sa.text("SELECT DISTINCT as_of FROM indicator_value_latest")
                              ).all()
        published = conn.execute(sa.text("SELECT COUNT(*) FROM batch")).scalar_one()
    assert [(str(a), r) for a, r in latest] == [(AS_OF.isoformat(), "000101")]
    assert [str(r[0]) for r in cases] == [AS_OF.isoformat()]
    assert [str(r[0]) for r in values] == [AS_OF.isoformat()]
    assert published == 2


def test_sharp_row_drop_holds_the_batch_until_released(sc: Scenario,
                                                       capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    halved = base()
    halved["referrals"] = halved["referrals"][:1]  # R2 gone: 1 of 2 rows
    write_batch(sc.landing, halved, as_of=AS_OF)
    hold_dir = sc.tmp / "holds"  # (the fixture points QA_PIPELINE_HOLD_DIR here)
    os.environ["QA_PIPELINE_VOLUME_DROP_THRESHOLD"] = "0.6"  # hold below 60% of yesterday
    try:
        assert sc.run() == 3
        out = capsys.readouterr().out
        assert "held, not published: referrals has 1 rows, 50% of the 2 delivered on" in out
        with sc.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT COUNT(*) FROM stg_referrals WHERE as_of = :d"),
                                {"d": AS_OF}).scalar_one() == 0
            run = conn.execute(sa.text("SELECT status, published FROM pipeline_run "
                                       "WHERE as_of = :d"), {"d": AS_OF}).one()
        assert run[0] == "succeeded_with_issues" and not run[1]
        assert any(hold_dir.iterdir())
        # releasing publishes exactly what was staged
        # R2's strategy discussion, conference and plan now point at nothing: quarantined
        assert main(["release", AS_OF.isoformat(), "--by", "data.officer", "--db", sc.db]) == 0
        with sc.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT COUNT(*) FROM stg_referrals WHERE as_of = :d"),
                                {"d": AS_OF}).scalar_one() == 1
            hold = conn.execute(sa.text("SELECT status, released_by FROM batch_hold")).one()
        assert tuple(hold) == ("released", "data.officer")
        assert not any(hold_dir.iterdir())
        assert main(["release", AS_OF.isoformat(), "--by", "x", "--db", sc.db]) == 2
    finally:
        del os.environ["QA_PIPELINE_VOLUME_DROP_THRESHOLD"]
