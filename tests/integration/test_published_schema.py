"""The frozen migrations build exactly the declared published tables and views
(spec/published.yaml), on SQLite and on PostgreSQL."""

from __future__ import annotations

import sqlalchemy as sa

from qa_pipeline.load.db import make_engine, upgrade
from qa_pipeline.spec.contracts import load_contracts
from qa_pipeline.spec.published import published

# The SQLAlchemy types a database may report for a column of each logical type.
COMPATIBLE: dict[str, type[sa.types.TypeEngine]] = {  # type: ignore[type-arg]
    "date": sa.Date, "datetime": sa.DateTime, "string": sa.String, "text": sa.String,
    "int": sa.Integer, "bool": sa.Boolean, "double": sa.Float,
}


def test_migrations_build_exactly_the_declared_relations(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine)
    insp = sa.inspect(engine)
    p = published()
    tables = set(insp.get_table_names()) - {"alembic_version"}
    views = set(insp.get_view_names())
    extracts = load_contracts().extracts
    history = {f"{e}_history" for e in extracts}
    generated_views = {f"stg_{e}" for e in extracts} | {f"{e}_current" for e in extracts}

    # nothing published that is not declared (the case tables and their views come from the
    # contracts)
    assert tables - history == {r.name for r in p.tables()}
    assert history <= tables
    assert views - generated_views == {r.name for r in p.views()}
    assert generated_views <= views

    for rel in p.relations.values():
        found = insp.get_columns(rel.name)
        assert [c["name"] for c in found] == rel.column_names(), rel.name
        for c in found:
            declared = rel.columns[c["name"]]
            where = f"{rel.name}.{c['name']}: {c['type']!r}"
            if rel.kind == "table":
                assert isinstance(c["type"], COMPATIBLE[declared.type]), where
                assert c["nullable"] == declared.nullable, where
                if declared.type == "string":
                    assert c["type"].length == declared.length, where
                if declared.type == "text":
                    assert not isinstance(c["type"], sa.String) or c["type"].length is None
            else:
                # every view column has a declared type (reporting-db.md 1.1): on SQLite only
                # a plain column reference has one, so the views are built on typed columns
                assert not isinstance(c["type"], sa.types.NullType), where
                assert isinstance(c["type"], COMPATIBLE[declared.type]), where
        if rel.kind == "table":
            pk = insp.get_pk_constraint(rel.name)["constrained_columns"]
            assert pk == list(rel.primary_key), rel.name
            indexes = {i["name"]: tuple(i["column_names"]) for i in insp.get_indexes(rel.name)}
            assert indexes == dict(rel.indexes), rel.name
    engine.dispose()


def test_every_view_column_has_a_declared_type(db_url: str) -> None:
    """What a BI tool reads: each column of each view (the declared ones and the generated
    stg_<extract> and <extract>_current) has a type, through SQLAlchemy and, on SQLite, in
    the declared types sqlite3 reports (PRAGMA table_info)."""
    engine = make_engine(db_url)
    upgrade(engine)
    insp = sa.inspect(engine)
    missing = [f"{view}.{c['name']}" for view in insp.get_view_names()
               for c in insp.get_columns(view) if isinstance(c["type"], sa.types.NullType)]
    assert missing == []
    assert len(insp.get_view_names()) == len(published().views()) + 2 * len(
        load_contracts().extracts)
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            undeclared = [f"{view}.{r[1]}" for view in insp.get_view_names()
                          for r in conn.exec_driver_sql(f"PRAGMA table_info({view})")
                          if not r[2]]
        assert undeclared == []
    engine.dispose()


def test_record_history_revision_downgrades_and_upgrades_again(db_url: str) -> None:
    """0008 (the record history) can be undone to 0007 and redone, on both databases (SQLite
    rebuilds a table for a dropped column, and must not meet a view reading it)."""
    from alembic import command

    from qa_pipeline.load.db import alembic_config, current_revision

    engine = make_engine(db_url)
    upgrade(engine)
    command.downgrade(alembic_config(engine), "0007")
    assert current_revision(engine) == "0007"
    tables = set(sa.inspect(engine).get_table_names())
    assert "stg_referrals" in tables and "referrals_history" not in tables
    upgrade(engine)
    assert current_revision(engine) == "0010"
    assert "referrals_history" in sa.inspect(engine).get_table_names()
    engine.dispose()


def test_spc_revision_downgrades_and_upgrades(db_url: str) -> None:
    """0009 (statistical process control) can be undone to 0008 and redone."""
    from alembic import command

    from qa_pipeline.load.db import alembic_config, current_revision

    engine = make_engine(db_url)
    upgrade(engine)
    command.downgrade(alembic_config(engine), "0008")
    insp = sa.inspect(engine)
    assert "indicator_spc" not in insp.get_table_names()
    assert "indicator_spc_summary" not in insp.get_view_names()
    upgrade(engine)
    assert current_revision(engine) == "0010"
    assert "indicator_spc_summary" in sa.inspect(engine).get_view_names()
    engine.dispose()


def test_welsh_revision_downgrades_and_upgrades(db_url: str) -> None:
    """0010 (Welsh and English) can be undone to 0009 and redone on both databases: its
    columns dropped, the views that read them rebuilt as 0008 made them, and back."""
    from alembic import command

    from qa_pipeline.load.db import alembic_config, current_revision

    engine = make_engine(db_url)
    upgrade(engine)
    command.downgrade(alembic_config(engine), "0009")
    insp = sa.inspect(engine)
    assert "message_cy" not in {c["name"] for c in insp.get_columns("dq_issue")}
    assert "guidance_cy" not in {c["name"] for c in insp.get_columns("dq_issue_latest")}
    assert "title_cy" not in {c["name"] for c in insp.get_columns("indicator")}
    upgrade(engine)
    assert current_revision(engine) == "0010"
    latest = [c["name"] for c in sa.inspect(engine).get_columns("dq_issue_latest")]
    assert latest == published()["dq_issue_latest"].column_names()
    engine.dispose()
