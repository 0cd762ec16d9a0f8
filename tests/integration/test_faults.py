"""Faults: two runs at once, a database that goes away mid-run."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

import qa_pipeline.publish as publish_mod
from qa_pipeline.db import make_engine
from qa_pipeline.pipeline import run_path
from qa_pipeline.settings import Settings
from tests.batch_builder import base, write_batch
from tests.pg_server import PostgresServer


def _cli(batch: Path, db_url: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "qa_pipeline.cli", "run", str(batch), "--db", db_url],
        env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_run_row(db_url: str, timeout: float = 60.0) -> None:
    engine = make_engine(db_url)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with engine.connect() as conn:
                if conn.execute(sa.text("SELECT COUNT(*) FROM pipeline_run")).scalar_one():
                    return
        except sa.exc.DBAPIError:
            pass  # schema not created yet
        time.sleep(0.2)
    raise AssertionError("the first run never started")


def test_second_run_waits_or_exits_clearly(db_url: str, tmp_path: Path) -> None:
    batch = write_batch(tmp_path / "landing", base())
    first = _cli(batch, db_url, QA_PIPELINE_PAUSEPOINT="publish:after:teams:6")
    try:
        _wait_for_run_row(db_url)
        time.sleep(1.0)  # the first run is now inside its publish transaction, paused
        impatient = _cli(batch, db_url, QA_PIPELINE_LOCK_TIMEOUT_SECONDS="1")
        out, err = impatient.communicate(timeout=120)
        assert impatient.returncode == 1, out + err
        assert "another qa-pipeline run" in err
        patient = _cli(batch, db_url)  # waits for the lock, then runs
        out, err = patient.communicate(timeout=180)
        assert patient.returncode == 0, out + err
    finally:
        out, err = first.communicate(timeout=180)
    assert first.returncode == 0, out + err
    engine = make_engine(db_url)
    with engine.connect() as conn:
        runs = conn.execute(sa.text("SELECT status, started_at, finished_at FROM pipeline_run "
                                    "ORDER BY started_at")).all()
        teams = conn.execute(sa.text("SELECT COUNT(*) FROM stg_teams")).scalar_one()
    # the impatient run never started a run row; the two others ran one after the other
    assert [r[0] for r in runs] == ["succeeded", "succeeded"]
    assert runs[0][2] <= runs[1][2]
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

    def outage(name: str) -> None:
        real(name)
        if name == "publish:after:referrals" and not stopped.is_set():
            stopped.set()
            postgres_server.stop(mode="fast")
            threading.Timer(2.0, postgres_server.start).start()

    monkeypatch.setattr(publish_mod, "failpoint", outage)
    settings = Settings(db_retry_attempts=6, db_retry_base_seconds=0.5, aftercare=False)
    result = run_path(batch, pg_url, settings=settings)
    assert stopped.is_set()
    assert result.exit_code == 0, result.batches[0].error
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
