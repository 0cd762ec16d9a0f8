"""One run at a time per reporting database: a PostgreSQL advisory lock, or a lock file next
to a SQLite database. A second run waits up to a timeout, then stops with a clear message;
writes of two runs are never interleaved.

The SQLite lock file `<database file>.lock` is **kept** when a run ends, on purpose. The lock
is the `flock` on the file's inode, not the file's existence. Removing the file at the end of
a run races: a second run that opened the file while the first held it is waiting on that
inode; the first run unlinks and unlocks, the second locks the (now nameless) inode, and a
third run creates a new `<database file>.lock` and locks *that* — two runs write at once.
Closing the race needs every locker to re-check after locking that the path still names the
inode it locked, and retry if not; other lockers of the same file (an older qa_pipeline
during an upgrade, an operator's `flock`, the tests) do not, so removing it is never safe.
The file costs nothing: a few bytes saying what it is (`LOCK_TEXT`: never a SQLite database,
so `db.require_database` refuses it as one), ignored by everything else and safe to leave in
backups. docs/operations.md lists it among the files next to the database."""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

log = logging.getLogger(__name__)

ADVISORY_KEY = 0x51A_91BE  # "qa pipe": one key for every qa_pipeline run on a database
POLL_SECONDS = 0.5
LOCK_TEXT = ("qa-pipeline run lock of {database}: not a database; kept between runs (see "
             "docs/operations.md); last taken by process {pid}\n")
"""What the lock file holds: never empty and never a SQLite header, so that no tool takes it
for a database. The text is informative only (the process may have ended long ago): the lock
is the flock."""


class LockTimeout(RuntimeError):
    """Another run held the lock for longer than the timeout."""


def _lock_file(engine: Engine) -> Path:
    """The lock file of a SQLite database: next to the file the path finally leads to, so
    the same file reached through a symlink (of the file or of a folder on the way), a
    relative or an absolute path, or `..` is locked by one lock file, not one per path."""
    database = make_url(str(engine.url)).database
    if not database or database == ":memory:":
        return Path.cwd() / ".qa_pipeline.lock"
    real = Path(database).resolve()  # relative to the working directory, as SQLite opens it
    return real.with_name(real.name + ".lock")


@contextmanager
def run_lock(engine: Engine, timeout_seconds: float = 600.0) -> Iterator[None]:
    """Hold the database's run lock for the duration of the block."""
    deadline = time.monotonic() + timeout_seconds
    waited = False
    if engine.dialect.name == "postgresql":
        conn = engine.connect()
        try:
            while not conn.execute(sa.select(sa.func.pg_try_advisory_lock(ADVISORY_KEY))
                                   ).scalar():
                conn.rollback()
                if not waited:
                    log.warning("another qa-pipeline run is using this database; waiting up "
                                "to %.0f s", timeout_seconds)
                    waited = True
                if time.monotonic() >= deadline:
                    raise LockTimeout("another qa-pipeline run is still using this database "
                                      f"after {timeout_seconds:.0f} s; try again later")
                time.sleep(POLL_SECONDS)
            conn.commit()
            yield
        finally:
            try:
                conn.execute(sa.select(sa.func.pg_advisory_unlock(ADVISORY_KEY)))
                conn.commit()
            except sa.exc.DBAPIError:  # the connection died; the server released the lock
                pass
            conn.close()
        return
    path = _lock_file(engine)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not waited:
                    log.warning("another qa-pipeline run holds %s; waiting up to %.0f s",
                                path, timeout_seconds)
                    waited = True
                if time.monotonic() >= deadline:
                    raise LockTimeout(f"another qa-pipeline run still holds {path} after "
                                      f"{timeout_seconds:.0f} s; try again later") from None
                time.sleep(POLL_SECONDS)
        text = LOCK_TEXT.format(database=path.name.removesuffix(".lock"),
                                pid=os.getpid()).encode()
        os.pwrite(fd, text, 0)  # written, then cut: the file is never empty once taken
        os.ftruncate(fd, len(text))
        yield
    finally:
        # The file stays (see the module docstring: removing it would break the lock).
        fcntl.flock(fd, fcntl.LOCK_UN)  # the kernel also drops it if the process dies
        os.close(fd)
