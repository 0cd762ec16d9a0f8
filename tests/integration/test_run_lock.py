"""The SQLite run lock is the database file's, whatever path reaches the file."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from qa_pipeline.load.db import make_engine
from tests.batch_builder import base, write_batch
from tests.cli_proc import CliProc, release, wait_for_file, waitpoint_env


def test_one_lock_per_sqlite_file_whatever_the_path(tmp_path: Path) -> None:
    """A run holds the lock through the file's real path; runs reaching the same file through
    a symlink to it, a symlinked folder or a relative path wait for that lock and time out
    (before the fix, the symlinked path got a lock of its own and wrote at once)."""
    real_dir = tmp_path / "data"
    real_dir.mkdir()
    db = real_dir / "qa.db"
    (tmp_path / "link.db").symlink_to(db)
    (tmp_path / "linkdir").symlink_to(real_dir, target_is_directory=True)
    batch = write_batch(tmp_path / "landing", base())
    hold = tmp_path / "hold"
    first = CliProc("run", str(batch), "--db", f"sqlite:///{db}",
                    **waitpoint_env("publish:begin", hold))
    try:
        wait_for_file(hold / "reached", first)  # the first run holds the lock
        for url, cwd in [(f"sqlite:///{tmp_path / 'link.db'}", None),
                         (f"sqlite:///{tmp_path / 'linkdir' / 'qa.db'}", None),
                         ("sqlite:///data/qa.db", tmp_path)]:
            second = CliProc("run", str(batch), "--db", url, cwd=cwd,
                             QA_PIPELINE_LOCK_TIMEOUT_SECONDS="1")
            assert second.wait() == 1, f"{url}: {second.stdout}{second.stderr}"
            assert f"another qa-pipeline run still holds {db}.lock" in second.stderr, url
        assert first.popen.poll() is None  # still held at its fault point
    except BaseException:
        first.kill()
        raise
    finally:
        release(hold)
    assert first.wait() == 0, first.stdout + first.stderr
    assert (real_dir / "qa.db.lock").is_file()
    assert not (tmp_path / "link.db.lock").exists()  # the old lock of the symlinked path
    engine = make_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            runs = conn.execute(sa.text("SELECT status FROM pipeline_run")).scalars().all()
    finally:
        engine.dispose()
    assert runs == ["succeeded"]  # none of the others started a run
