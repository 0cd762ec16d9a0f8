"""Shared fixtures.

PostgreSQL: a real server is started lazily (first test that needs it) on 127.0.0.1 and
stopped at the end of the session. See tests/pg_server.py.

* ``postgres_server`` (session)  -> :class:`tests.pg_server.PostgresServer`
* ``pg_url`` (function)          -> URL of a fresh, empty database, dropped afterwards
* ``db_url`` (function)          -> parametrized ``sqlite`` / ``postgresql`` URL

``QA_SKIP_POSTGRES=1`` skips everything PostgreSQL. Without it, missing PostgreSQL
binaries are a hard error (CI must not silently skip).
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.pg_server import PostgresServer, sigterm_as_keyboard_interrupt


def _skip_postgres() -> bool:
    return os.environ.get("QA_SKIP_POSTGRES", "").strip().lower() in {"1", "true", "yes"}


_SKIP_REASON = "QA_SKIP_POSTGRES=1: PostgreSQL tests skipped"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not _skip_postgres():
        return
    skip = pytest.mark.skip(reason=_SKIP_REASON)
    for item in items:
        if item.get_closest_marker("postgres") is not None:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A running PostgreSQL server for the whole session (started on first use)."""
    if _skip_postgres():
        pytest.skip(_SKIP_REASON)
    with sigterm_as_keyboard_interrupt(), PostgresServer() as server:
        yield server


@pytest.fixture
def pg_url(postgres_server: PostgresServer, request: pytest.FixtureRequest) -> Iterator[str]:
    """SQLAlchemy URL of a brand-new empty database, dropped after the test."""
    slug = re.sub(r"[^a-z0-9]+", "_", request.node.name.lower()).strip("_")[:40]
    name = f"t_{slug}_{uuid.uuid4().hex[:8]}"
    postgres_server.create_database(name)
    try:
        yield postgres_server.url(name)
    finally:
        # A test may have stopped the server to simulate an outage and failed before
        # restarting it: bring it back so the database can be dropped and later tests run.
        postgres_server.ensure_running()
        postgres_server.drop_database(name)


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
    ids=["sqlite", "postgresql"],
)
def db_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """Database URL for each supported backend (the server only starts if needed)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'qa.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture(autouse=True)
def _quiet_settings(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch,
                    tmp_path: Path) -> None:
    """Tests see no qa_pipeline.yaml of the developer's, and skip the after-publish checks
    and reports (seconds per run) unless marked `aftercare`."""
    monkeypatch.setenv("QA_PIPELINE_CONFIG", str(tmp_path / "no-config.yaml"))
    monkeypatch.setenv("QA_PIPELINE_REPORT_DIR", str(tmp_path / "reports"))
    if request.node.get_closest_marker("aftercare") is None:
        monkeypatch.setenv("QA_PIPELINE_AFTERCARE", "false")


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One temporary Prefect server for every flow test of the session (~8-20 s to start)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session", autouse=True)
def _prefect_logging_set_up_once() -> None:
    """Prefect configures its console log handler on first import, on the `sys.stderr` of
    that moment. Imported first inside a test that captures output (capsys), the handler
    would keep writing to that test's closed capture stream in every later test; imported
    here, it writes to the session's stream."""
    import prefect.main  # noqa: F401  (prefect itself imports lazily; main sets up logging)
