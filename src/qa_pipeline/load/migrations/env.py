"""Alembic environment: migrations run on the engine the pipeline hands over (`db.upgrade`),
or, from the `alembic` command line, on the URL in QA_PIPELINE_DB.

Every pending revision runs in ONE transaction (the `engine.begin()` below: Alembic sees an
external transaction and opens none of its own, whatever `transaction_per_migration` says),
and the engine of `db.make_engine` makes DDL transactional on SQLite too: an upgrade either
completes or leaves the database at its previous revision."""

from __future__ import annotations

import os

from alembic import context

from qa_pipeline.load.db import make_engine, metadata
from qa_pipeline.ops.faults import failpoint

config = context.config
target_metadata = metadata


def run_migrations_online() -> None:
    engine = config.attributes.get("engine")
    if engine is None:
        engine = make_engine(os.environ.get("QA_PIPELINE_DB", "sqlite:///qa_pipeline.db"))
    with engine.begin() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
            transaction_per_migration=False,
        )
        context.run_migrations()
        failpoint("migrate:before_commit")


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported")
run_migrations_online()
