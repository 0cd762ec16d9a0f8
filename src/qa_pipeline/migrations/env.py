"""Alembic environment: migrations run on the engine the pipeline hands over (`db.upgrade`),
or, from the `alembic` command line, on the URL in QA_PIPELINE_DB."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import create_engine

from qa_pipeline.db import metadata

config = context.config
target_metadata = metadata


def run_migrations_online() -> None:
    engine = config.attributes.get("engine")
    if engine is None:
        engine = create_engine(os.environ.get("QA_PIPELINE_DB", "sqlite:///qa_pipeline.db"))
    with engine.begin() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported")
run_migrations_online()
