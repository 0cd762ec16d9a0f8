"""`qa-pipeline release` acknowledges the volume check that held the batch (issue 14, point 5).

A batch held for a sharp row drop, once released, is checked like any other after its
publish (Great Expectations, real checkpoint): the row-volume checks of exactly the extracts
whose drop held it (as `batch_hold.reason` records them) are still computed but accepted by
the officer who released it, named in the run's message, the report and the run summary;
every other failed check still makes the run `succeeded_with_issues` (exit 3). SQLite and
PostgreSQL.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from qa_pipeline.cli.main import main
from qa_pipeline.load.db import make_engine
from qa_pipeline.officers.aftercare import summary_markdown
from qa_pipeline.officers.expectations import Acknowledgement, ExpectationsResult, Outcome
from qa_pipeline.officers.report import gather
from qa_pipeline.ops.holds import VolumeDrop, dropped_extracts
from tests.batch_builder import AS_OF, base, write_batch

pytestmark = pytest.mark.aftercare

ACCEPTED = "accepted by data.officer at release"


def _hold(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
          today: dict[str, list[dict[str, str]]]) -> None:
    """Publish the base batch the day before, then run `today`: held (relationships 1 of 2
    rows, below the 60% threshold)."""
    monkeypatch.setenv("QA_PIPELINE_HOLD_DIR", str(tmp_path / "holds"))
    monkeypatch.setenv("QA_PIPELINE_VOLUME_DROP_THRESHOLD", "0.6")
    landing = tmp_path / "landing"
    write_batch(landing, base(), as_of=AS_OF - timedelta(days=1))
    write_batch(landing, today, as_of=AS_OF)
    assert main(["run", str(landing), "--db", db_url]) == 3


def _last_run(db_url: str) -> Any:
    with make_engine(db_url).connect() as conn:
        return conn.execute(sa.text(
            "SELECT status, exit_code, message FROM pipeline_run ORDER BY started_at DESC")
        ).first()


def test_release_accepts_the_volume_check_that_held_the_batch(
        db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    today = base()
    today["relationships"] = today["relationships"][:1]  # a leaf: nothing refers to it
    _hold(db_url, tmp_path, monkeypatch, today)
    assert "held, not published: relationships has 1 rows, 50%" in capsys.readouterr().out

    assert main(["release", AS_OF.isoformat(), "--by", "data.officer", "--db", db_url]) == 0
    out = capsys.readouterr().out
    assert f"batch {AS_OF}: succeeded (exit 0)" in out
    accepted = ("stg_relationships: row count at least 60% of the previous batch (2 of 2 rows "
                f"on {AS_OF - timedelta(days=1)}) — found 1 rows — {ACCEPTED}")
    assert accepted in out
    status, code, message = _last_run(db_url)
    assert (status, code) == ("succeeded", 0)
    assert message.startswith("released by data.officer after a hold")
    assert f"data checks accepted: {accepted}" in message and "failed" not in message
    report = (tmp_path / "reports" / f"qa_report_{AS_OF}.html").read_text(encoding="utf-8")
    assert "Accepted at release" in report and ACCEPTED in report


def test_release_still_fails_on_any_other_check(
        db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Relationships held the batch (accepted); referral R2 has a date Paris cannot have
    written, so it is quarantined: stg_referrals holds 1 of 2 rows although 2 were read (no
    hold for it), and its volume check fails."""
    today = base()
    today["relationships"] = today["relationships"][:1]
    today["referrals"][1]["referral_datetime"] = "31/02/2024 09:30"
    _hold(db_url, tmp_path, monkeypatch, today)
    capsys.readouterr()

    assert main(["release", AS_OF.isoformat(), "--by", "data.officer", "--db", db_url]) == 3
    out = capsys.readouterr().out
    assert f"batch {AS_OF}: succeeded_with_issues (exit 3)" in out
    status, code, message = _last_run(db_url)
    assert (status, code) == ("succeeded_with_issues", 3)
    failed = message.split("data checks failed: ", 1)[1]
    assert "stg_referrals: row count at least 60%" in failed
    assert "stg_relationships" not in failed
    assert "stg_relationships: row count at least 60%" in message and ACCEPTED in message


def test_the_hold_reason_names_exactly_the_extracts_that_dropped() -> None:
    day = date(2026, 11, 24)
    reason = "; ".join(d.describe() for d in (VolumeDrop("fit_referrals", 3, 10, day),
                                              VolumeDrop("cin_reviews", 1, 4, day)))
    names = ["referrals", "fit_referrals", "cin_plans", "cin_reviews"]
    assert dropped_extracts(reason, names) == ["fit_referrals", "cin_reviews"]
    assert dropped_extracts("", names) == []


def test_the_run_summary_names_the_acknowledgement(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The Prefect run summary lists the accepted check apart from the failed ones."""
    monkeypatch.setenv("QA_PIPELINE_AFTERCARE", "false")  # checks made up below
    write_batch(tmp_path / "landing", base())
    db = f"sqlite:///{tmp_path / 'qa.db'}"
    assert main(["run", str(tmp_path / "landing"), "--db", db]) == 0
    volume = Outcome("stg_relationships: row count at least 60%", "stg_relationships",
                     "volume", False, "1 rows")
    other = Outcome("stg_referrals: row count at least 60%", "stg_referrals", "volume",
                    False, "1 rows")
    key = Outcome("stg_teams: key team_id is unique", "stg_teams", "key", True, "")
    checks = Acknowledgement("data.officer", ("relationships",)).apply(
        ExpectationsResult(as_of=AS_OF, outcomes=[volume, key]))
    assert checks.failed == [] and checks.acknowledged == [
        f"stg_relationships: row count at least 60% — found 1 rows — {ACCEPTED}"]
    text = summary_markdown(gather(make_engine(db)), checks, tmp_path / "r.html",
                            tmp_path / "w.xlsx", checked_as_of=AS_OF, run_id="r1")
    assert "**Data checks:** the other 1 passed." in text
    assert "**Accepted at release**" in text and ACCEPTED in text
    both = Acknowledgement("data.officer", ("relationships",)).apply(
        ExpectationsResult(as_of=AS_OF, outcomes=[volume, other, key]))
    assert both.failed == ["stg_referrals: row count at least 60% — found 1 rows"]
    assert "1 failed" in summary_markdown(gather(make_engine(db)), both, tmp_path / "r.html",
                                          tmp_path / "w.xlsx", checked_as_of=AS_OF,
                                          run_id="r1")
