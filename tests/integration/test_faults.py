"""Faults: two runs at once, a database that goes away mid-run. Tests synchronise on events
(a run held at a fault point until the test releases it, a line of a log), never on sleeps."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

import qa_pipeline.load.publish as publish_mod
from qa_pipeline.load.db import make_engine
from qa_pipeline.ops.job import run_path
from qa_pipeline.ops.settings import Settings
from tests.batch_builder import base, write_batch
from tests.cli_proc import CliProc, release, wait_for_file, waitpoint_env
from tests.pg_server import PostgresServer


def test_second_run_waits_or_exits_clearly(db_url: str, tmp_path: Path) -> None:
    """The first run is held inside its publish transaction (on an event: it waits for a
    release file); a second run with a short lock timeout exits 1, a patient one waits for
    the lock and runs after the first has finished."""
    batch = write_batch(tmp_path / "landing", base())
    run = ("run", str(batch), "--db", db_url)
    hold = tmp_path / "hold"
    first = CliProc(*run, **waitpoint_env("publish:after:teams", hold))
    patient: CliProc | None = None
    try:
        wait_for_file(hold / "reached", first)  # holds the lock, inside its transaction
        impatient = CliProc(*run, QA_PIPELINE_LOCK_TIMEOUT_SECONDS="1")
        assert impatient.wait() == 1, impatient.stdout + impatient.stderr
        assert "another qa-pipeline run" in impatient.stderr
        patient = CliProc(*run, QA_PIPELINE_LOCK_TIMEOUT_SECONDS="600")
        patient.wait_for_line("waiting up to")  # it found the lock taken
        assert patient.popen.poll() is None and first.popen.poll() is None
    except BaseException:
        for proc in (first, patient):
            if proc is not None:
                proc.kill()
        raise
    finally:
        release(hold)
    assert first.wait() == 0, first.stdout + first.stderr
    assert patient is not None
    assert patient.wait() == 0, patient.stdout + patient.stderr  # then ran
    engine = make_engine(db_url)
    with engine.connect() as conn:
        runs = conn.execute(sa.text("SELECT status, started_at, finished_at FROM pipeline_run "
                                    "ORDER BY started_at")).all()
        teams = conn.execute(sa.text("SELECT COUNT(*) FROM stg_teams")).scalar_one()
    engine.dispose()
    # the impatient run never started a run row; the patient one started after the first
    # had finished: their writes never interleaved
    assert [r[0] for r in runs] == ["succeeded", "succeeded"]
    assert runs[0][2] <= runs[1][1]
    assert teams == 2


@pytest.mark.postgres
def test_database_outage_during_publish_is_retried(postgres_server: PostgresServer,
                                                   pg_url: str, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """PostgreSQL stops in the middle of the publish transaction and comes back: the run
    retries with back-off and completes; nothing is duplicated."""
    batch = write_batch(tmp_path / "landing", base())
    stopped = threading.Event()
    real = publish_mod.failpoint
    back_offs: list[float] = []

    def outage(name: str) -> None:
        real(name)
        if name == "publish:after:referrals" and not stopped.is_set():
            stopped.set()
            postgres_server.stop(mode="fast")

    def back_off(seconds: float) -> None:
        # on events, not a timer: the server comes back during the second back-off, after
        # two attempts have failed
        back_offs.append(seconds)
        if len(back_offs) == 2:
            postgres_server.start()
        time.sleep(seconds)

    monkeypatch.setattr(publish_mod, "failpoint", outage)
    monkeypatch.setattr(publish_mod, "time", SimpleNamespace(sleep=back_off))
    settings = Settings(db_retry_attempts=6, db_retry_base_seconds=0.5, aftercare=False)
    result = run_path(batch, pg_url, settings=settings)
    assert stopped.is_set()
    assert result.exit_code == 0, result.batches[0].error
    assert back_offs == [0.5, 1.0]  # retried twice, doubling, then the third attempt worked
    engine = make_engine(pg_url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM stg_referrals")).scalar_one() == 2
        assert conn.execute(sa.text("SELECT COUNT(*) FROM batch")).scalar_one() == 1
        assert conn.execute(sa.text("SELECT status FROM pipeline_run")).scalar_one() == \
            "succeeded"


@pytest.mark.postgres
def test_database_gone_for_good_fails_cleanly(postgres_server: PostgresServer, pg_url: str,
                                              tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    first = write_batch(tmp_path / "one", base())
    assert run_path(first, pg_url).exit_code == 0
    changed = base()
    changed["teams"][0]["team_name"] = "Changed"
    second = write_batch(tmp_path / "two", changed)
    real = publish_mod.failpoint

    def outage(name: str) -> None:
        real(name)
        if name == "publish:after:persons" and postgres_server.is_running():
            postgres_server.stop(mode="fast")

    monkeypatch.setattr(publish_mod, "failpoint", outage)
    result = run_path(second, pg_url, settings=Settings(db_retry_attempts=2, aftercare=False,
                                                        db_retry_base_seconds=0.1))
    assert result.exit_code == 1
    assert "OperationalError" in (result.batches[0].error or "")
    postgres_server.start()
    engine = make_engine(pg_url)
    with engine.connect() as conn:
        names = [r[0] for r in conn.execute(sa.text("SELECT team_name FROM stg_teams "
                                                    "ORDER BY team_id"))]
        runs = [r[0] for r in conn.execute(sa.text("SELECT status FROM pipeline_run "
                                                   "ORDER BY started_at"))]
    assert names == ["Tîm Maes, Gogledd", "Front door"]  # the previous state
    assert runs == ["succeeded", "failed"]
    monkeypatch.setattr(publish_mod, "failpoint", real)
    assert run_path(second, pg_url).exit_code == 0  # and the next run succeeds
