"""After-publish work that cannot be done never turns a published batch into a failed run.

The batch is committed before the data checks, the HTML report and the Excel worklists: a
report folder that cannot be created, a disk that fills up, or after-publish code that breaks
outright leaves the batch published and the run `succeeded_with_issues` (exit 3) with the
reason in `pipeline_run.message`; the next landing run skips the batch as published, and
`qa-pipeline report` (with its defaults) rebuilds what is missing. SQLite and PostgreSQL.
"""

from __future__ import annotations

import errno
import os
import re
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import qa_pipeline.officers.aftercare as aftercare_mod
from qa_pipeline.cli.main import main
from qa_pipeline.load.db import make_engine
from qa_pipeline.officers.expectations import ExpectationsResult
from qa_pipeline.privacy.redaction import MASK
from tests.batch_builder import AS_OF, base, write_batch

pytestmark = pytest.mark.aftercare

REPORT = f"qa_report_{AS_OF.isoformat()}.html"
WORKBOOK = f"qa_worklists_{AS_OF.isoformat()}.xlsx"
NHS = "943 476 5919"  # a valid NHS number (modulus 11)


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`qa-pipeline ARGS` in a fresh process, with the default report folder (no
    QA_PIPELINE_REPORT_DIR): reports/ next to a SQLite database, else ./reports (cwd)."""
    env = {k: v for k, v in os.environ.items() if k != "QA_PIPELINE_REPORT_DIR"}
    return subprocess.run([sys.executable, "-m", "qa_pipeline.cli.main", *args], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=900)


def _runs(db_url: str) -> list[Any]:
    with make_engine(db_url).connect() as conn:
        return list(conn.execute(sa.text(
            "SELECT run_id, status, exit_code, published, message FROM pipeline_run "
            "ORDER BY started_at")).all())


def _published(db_url: str, as_of: date = AS_OF) -> tuple[Any, int, int]:
    """The batch row's run id and the rows of the batch in two case tables."""
    with make_engine(db_url).connect() as conn:
        run_id = conn.execute(sa.text("SELECT run_id FROM batch WHERE as_of = :d"),
                              {"d": as_of}).scalar()
        counts = [conn.execute(sa.text(f"SELECT COUNT(*) FROM {t} WHERE as_of = :d"),
                               {"d": as_of}).scalar_one()
                  for t in ("stg_teams", "stg_referrals")]
    return run_id, counts[0], counts[1]


def _quick_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Great Expectations checkpoint (seconds per run) is not the subject here: a
    stand-in that passes and 'writes' its Data Docs."""

    def checkpoint(engine: Any, as_of: date, docs_dir: Path | None = None,
                   **kwargs: Any) -> ExpectationsResult:
        if docs_dir is None:
            return ExpectationsResult(as_of=as_of)
        docs_dir.mkdir(parents=True, exist_ok=True)
        (docs_dir / "index.html").write_text("docs", encoding="utf-8")
        return ExpectationsResult(as_of=as_of, data_docs_path=docs_dir / "index.html")

    monkeypatch.setattr(aftercare_mod, "run_checkpoint", checkpoint)


def test_unwritable_report_folder_keeps_the_batch_published(db_url: str,
                                                            tmp_path: Path) -> None:
    """A regular file where the (default) report folder should be: the real command, the
    real data checks. Exit 3, published, skipped next time; `report` rebuilds it."""
    landing = tmp_path / "landing"
    write_batch(landing, base())
    folder = tmp_path / "reports"  # the default for both: next to qa.db, and ./reports
    folder.write_text("a file where the report folder should be\n", encoding="utf-8")

    run = _cli("run", str(landing), "--db", db_url, cwd=tmp_path)
    assert run.returncode == 3, run.stdout + run.stderr
    assert "succeeded_with_issues (exit 3)" in run.stdout
    [(run_id, status, exit_code, published, message)] = _runs(db_url)
    assert (status, exit_code, bool(published)) == ("succeeded_with_issues", 3, True)
    assert re.match(r"\d+ of \d+ rows loaded, 0 quarantined, \d+ issues; published; ", message)
    assert (f"; published; the report folder {folder} could not be created: a file is in "
            "its place, so no report, worklists or Data Docs were written — run "
            "`qa-pipeline report --check` to rebuild what is missing") in message
    assert "data checks failed" not in message  # the checks ran, without Data Docs, and passed
    assert message in run.stdout
    assert _published(db_url) == (run_id, 2, 2)
    assert folder.read_text(encoding="utf-8").startswith("a file where")  # left as it was

    again = _cli("run", str(landing), "--db", db_url, cwd=tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"batch {AS_OF}: already published with the same files; skipped" in again.stdout
    assert len(_runs(db_url)) == 1

    still = _cli("report", "--db", db_url, cwd=tmp_path)  # not fixed yet: says so, exit 1
    assert still.returncode == 1
    assert f"could not be written to {folder}: a file is in the report folder's place" \
        in still.stderr

    folder.unlink()  # the operator fixes the folder, then rebuilds with the defaults
    rebuilt = _cli("report", "--db", db_url, cwd=tmp_path)
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    assert (folder / REPORT).is_file() and (folder / WORKBOOK).is_file()
    assert f"wrote {folder / REPORT}" in rebuilt.stdout
    assert f"wrote {folder / WORKBOOK}" in rebuilt.stdout
    assert _runs(db_url)[0][1] == "succeeded_with_issues"  # the history is not rewritten


def test_disk_full_while_writing_the_worklists(db_url: str, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """ENOSPC from the workbook writer: the report is still written (without a link to the
    missing workbook), the run is succeeded_with_issues, `report` writes the workbook."""
    _quick_checks(monkeypatch)
    real = aftercare_mod.write_workbook

    def full(*args: Any, **kwargs: Any) -> Path:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(aftercare_mod, "write_workbook", full)
    landing = tmp_path / "landing"
    write_batch(landing, base())
    reports = tmp_path / "reports"  # QA_PIPELINE_REPORT_DIR (conftest)

    assert main(["run", str(landing), "--db", db_url]) == 3
    out = capsys.readouterr().out
    [(run_id, status, exit_code, published, message)] = _runs(db_url)
    assert (status, exit_code, bool(published)) == ("succeeded_with_issues", 3, True)
    assert message.endswith(
        f"; published; the worklists could not be written to {reports / WORKBOOK}: No space "
        "left on device — run `qa-pipeline report` to rebuild what is missing")
    assert message in out
    assert f"report: {reports / REPORT}" in out
    assert f"worklists: not written ({reports / WORKBOOK})" in out
    assert _published(db_url) == (run_id, 2, 2)
    assert (reports / REPORT).is_file() and not (reports / WORKBOOK).exists()
    assert WORKBOOK not in (reports / REPORT).read_text(encoding="utf-8")  # no dead link

    assert main(["run", str(landing), "--db", db_url]) == 0  # published: skipped
    assert "already published with the same files; skipped" in capsys.readouterr().out
    assert len(_runs(db_url)) == 1

    monkeypatch.setattr(aftercare_mod, "write_workbook", real)  # space freed
    assert main(["report", "--db", db_url]) == 0
    assert (reports / WORKBOOK).is_file()
    assert f"wrote {reports / WORKBOOK}" in capsys.readouterr().out


def test_disk_full_while_writing_the_report(db_url: str, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """ENOSPC from the report's file writer: the workbook is still written."""
    import qa_pipeline.officers.report as report_mod

    _quick_checks(monkeypatch)

    def full(path: Path, text: str) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(report_mod, "write_text_atomic", full)
    batch = write_batch(tmp_path / "landing", base())
    reports = tmp_path / "reports"
    assert main(["run", str(batch), "--db", db_url]) == 3
    [(run_id, status, _, _, message)] = _runs(db_url)
    assert status == "succeeded_with_issues"
    assert (f"the report could not be written to {reports / REPORT}: No space left on device"
            " — run `qa-pipeline report` to rebuild what is missing") in message
    assert (reports / WORKBOOK).is_file() and not (reports / REPORT).exists()
    assert _published(db_url)[0] == run_id
    out = capsys.readouterr().out
    assert f"report: not written ({reports / REPORT})" in out
    assert f"worklists: {reports / WORKBOOK}" in out


def test_after_publish_breaking_outright_is_recorded_redacted(
        db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """An error after the commit that is not a write failure (here quoting a delivered value
    that is an NHS number) still leaves the run succeeded_with_issues, and the number is
    masked in pipeline_run.message and in what the command prints."""
    _quick_checks(monkeypatch)

    def broken(*args: Any, **kwargs: Any) -> None:
        raise ValueError(f"cannot format the value {NHS!r}")

    monkeypatch.setattr(aftercare_mod, "gather", broken)
    batch = write_batch(tmp_path / "landing", base())
    assert main(["run", str(batch), "--db", db_url]) == 3
    captured = capsys.readouterr()
    [(run_id, status, exit_code, _, message)] = _runs(db_url)
    assert (status, exit_code) == ("succeeded_with_issues", 3)
    assert ("published; the after-publish checks and report did not complete: ValueError: "
            f"cannot format the value '{MASK}' — run `qa-pipeline report --check`") in message
    assert _published(db_url)[0] == run_id
    for text in (message, captured.out, captured.err):
        assert NHS not in text and NHS.replace(" ", "") not in text


def test_release_with_an_unwritable_report_folder(db_url: str, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """`release` publishes a held batch, then its after-publish work cannot write (the
    report folder's parent is a regular file): exit 3, not a failed release."""
    _quick_checks(monkeypatch)
    monkeypatch.setenv("QA_PIPELINE_HOLD_DIR", str(tmp_path / "holds"))
    monkeypatch.setenv("QA_PIPELINE_VOLUME_DROP_THRESHOLD", "0.6")
    landing = tmp_path / "landing"
    write_batch(landing, base(), as_of=AS_OF - timedelta(days=1))
    halved = base()
    halved["referrals"] = halved["referrals"][:1]
    write_batch(landing, halved, as_of=AS_OF)
    assert main(["run", str(landing), "--db", db_url]) == 3  # the second batch is held
    assert "held, not published" in capsys.readouterr().out

    blocker = tmp_path / "blocker"
    blocker.write_text("", encoding="utf-8")
    monkeypatch.setenv("QA_PIPELINE_REPORT_DIR", str(blocker / "reports"))
    assert main(["release", AS_OF.isoformat(), "--by", "data.officer", "--db", db_url]) == 3
    out = capsys.readouterr().out
    assert f"batch {AS_OF}: succeeded_with_issues (exit 3)" in out
    run_id, status, exit_code, published, message = _runs(db_url)[-1]
    assert (status, exit_code, bool(published)) == ("succeeded_with_issues", 3, True)
    assert message.startswith("released by data.officer after a hold")
    assert (f"the report folder {blocker / 'reports'} could not be created: Not a directory"
            in message)
    assert _published(db_url) == (run_id, 2, 1)
    with make_engine(db_url).connect() as conn:
        assert conn.execute(sa.text("SELECT status FROM batch_hold")).scalar_one() == \
            "released"
