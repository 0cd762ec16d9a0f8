"""Read-only access for BI tools on PostgreSQL: a `reporting` schema of views over the
published relations, owned by the loader role, and SELECT on those views only for the
reporting role. The base tables (case data included) stay unreadable to it.

Run as the loader after every schema upgrade (`qa-pipeline db grant-reporting`); the roles
themselves are created once by a superuser with deploy/postgres_roles.sql.
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from qa_pipeline.spec.published import published

REPORTING_SCHEMA = "reporting"
ROLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")

PUBLISHED: tuple[str, ...] = published().bi_relations()
"""The relations BI reads: those declared `bi: true` in spec/published.yaml."""


def case_history_relations() -> tuple[str, ...]:
    """`<extract>_history` and `<extract>_current` of every extract: the record history,
    pseudonymised case rows (reporting-db.md 1.1), readable by BI only when a site grants it
    (`grant-reporting --case-history`)."""
    from qa_pipeline.spec.contracts import load_contracts

    return tuple(f"{e}{suffix}" for e in load_contracts().extracts
                 for suffix in ("_history", "_current"))


def grant_reporting(engine: Engine, role: str, case_history: bool = False) -> list[str]:
    """(Re)create reporting.<relation> views and grant `role` SELECT on them alone: the
    published relations, and the record history when `case_history` (so a BI tool can join
    the drill-through's version_id to the record version). Without it, reporting views of
    the history left by an earlier grant are dropped."""
    if engine.dialect.name != "postgresql":
        raise ValueError("read-only reporting roles are a PostgreSQL feature; SQLite files "
                         "are protected by file permissions")
    if not ROLE_NAME.match(role):
        raise ValueError(f"{role!r} is not a plain role name (letters, digits, underscores)")
    prep = engine.dialect.identifier_preparer
    schema = prep.quote(REPORTING_SCHEMA)
    grantee = prep.quote(role)
    existing = set(sa.inspect(engine).get_table_names()) | set(
        sa.inspect(engine).get_view_names())
    done = []
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA IF NOT EXISTS {schema}"))
        conn.execute(sa.text(f"REVOKE ALL ON SCHEMA {schema} FROM PUBLIC"))
        history = case_history_relations()
        if not case_history:
            for name in history:
                conn.execute(sa.text(f"DROP VIEW IF EXISTS {schema}.{prep.quote(name)}"))
        for name in (*PUBLISHED, *(history if case_history else ())):
            if name not in existing:
                continue
            view = f"{schema}.{prep.quote(name)}"
            # DROP + CREATE (not CREATE OR REPLACE): a migration may have changed columns
            conn.execute(sa.text(f"DROP VIEW IF EXISTS {view}"))
            # Identifiers cannot be bound parameters: these are quoted by the dialect and come
            # from the fixed PUBLISHED list and a validated role name, never from data.
            source = f"public.{prep.quote(name)}"
            conn.execute(sa.text(f"CREATE VIEW {view} AS SELECT * FROM {source}"))  # noqa: S608
            conn.execute(sa.text(f"GRANT SELECT ON {view} TO {grantee}"))
            done.append(name)
        conn.execute(sa.text(f"GRANT USAGE ON SCHEMA {schema} TO {grantee}"))
        conn.execute(sa.text(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {grantee}"))
    return done
