"""The database fixtures themselves work (real PostgreSQL started by the session)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa


def _engine(url: str) -> sa.Engine:
    return sa.create_engine(url)


def test_db_url_runs_a_query(db_url: str) -> None:
    engine = _engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE t (id INTEGER PRIMARY KEY, label TEXT)"))
            conn.execute(sa.text("INSERT INTO t VALUES (1, 'crèche Église')"))
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT label FROM t")).scalar_one() == "crèche Église"
        expected = "postgresql" if db_url.startswith("postgresql") else "sqlite"
        assert engine.dialect.name == expected
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_pg_urls_are_distinct_and_empty(pg_url: str, request: pytest.FixtureRequest) -> None:
    # a second database, created and dropped by the same machinery
    server = request.getfixturevalue("postgres_server")
    other_name = server.create_database("t_second_db")
    other_url = server.url(other_name)
    try:
        assert pg_url != other_url
        seen = set()
        for url in (pg_url, other_url):
            engine = _engine(url)
            try:
                with engine.connect() as conn:
                    seen.add(conn.execute(sa.text("SELECT current_database()")).scalar_one())
                    assert sa.inspect(conn).get_table_names() == []
                    assert conn.execute(sa.text("SELECT current_user")).scalar_one() == server.user
            finally:
                engine.dispose()
        assert len(seen) == 2

        # writes to one are invisible in the other
        a, b = _engine(pg_url), _engine(other_url)
        try:
            with a.begin() as conn:
                conn.execute(sa.text("CREATE TABLE only_here (x int)"))
            with b.connect() as conn:
                assert sa.inspect(conn).get_table_names() == []
        finally:
            a.dispose()
            b.dispose()
    finally:
        server.drop_database(other_name)


@pytest.mark.postgres
def test_server_stop_start_keeps_data(pg_url: str, postgres_server) -> None:
    engine = _engine(pg_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE survivors (id int PRIMARY KEY, name text)"))
            conn.execute(sa.text("INSERT INTO survivors VALUES (1, 'a'), (2, 'b')"))
        port = postgres_server.port

        postgres_server.stop()
        try:
            assert not postgres_server.is_running()
            engine.dispose()  # pooled connections died with the server
            with pytest.raises(sa.exc.OperationalError):
                with engine.connect():
                    pass
        finally:
            postgres_server.start()

        assert postgres_server.is_running()
        assert postgres_server.port == port  # same URL works again
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT id, name FROM survivors ORDER BY id")).all()
        assert [tuple(r) for r in rows] == [(1, "a"), (2, "b")]
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_fast_settings_are_applied(pg_url: str) -> None:
    engine = _engine(pg_url)
    try:
        with engine.connect() as conn:
            for name in ("fsync", "synchronous_commit", "full_page_writes"):
                assert conn.execute(sa.text(f"SHOW {name}")).scalar_one() == "off"
            assert conn.execute(sa.text("SHOW server_encoding")).scalar_one() == "UTF8"
            assert conn.execute(sa.text("SHOW listen_addresses")).scalar_one() == "127.0.0.1"
    finally:
        engine.dispose()
