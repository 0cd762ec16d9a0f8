"""The drill-through writes only what changed (issue 15 point 2), on SQLite and PostgreSQL:
unchanged rows keep their case_id and the date they were written, changed and new rows are
inserted, gone rows deleted; the content equals a full rewrite of the new night."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import sqlalchemy as sa

from qa_pipeline.load import publish
from qa_pipeline.load.db import indicator, make_engine, upgrade
from qa_pipeline.spec.published import row
from qa_pipeline.transform.indicators import catalogue_rows, load_config

D1, D2 = date(2026, 11, 24), date(2026, 11, 25)
CONTENT = ("indicator_code", "record_id", "child_id", "team_id", "in_numerator", "measure",
           "event_date", "month", "quarter", "year", "excluded_reason", "extract",
           "version_id", "outcome")


def _cases(as_of: date, n: int, changed: frozenset[int] = frozenset()) -> pl.DataFrame:
    return pl.DataFrame({
        "indicator_code": ["REF01"] * n, "record_id": [f"R{i}" for i in range(n)],
        "child_id": [f"C{i}" for i in range(n)], "team_id": ["T1"] * n,
        "in_numerator": [(i in changed) != (i % 2 == 0) for i in range(n)],
        "measure": [None] * n, "event_date": [date(2026, 10, 1)] * n,
        "month": ["2026-10"] * n, "quarter": ["2026-27 Q3"] * n, "year": ["2026-27"] * n,
        "excluded_reason": [None] * n, "extract": ["referrals"] * n,
        "version_id": [i + 1 for i in range(n)], "outcome": ["counted"] * n,
        "as_of": [as_of] * n,
    }, schema_overrides={"measure": pl.Float64, "excluded_reason": pl.String})


def _content(engine: sa.Engine) -> tuple[list[tuple[object, ...]], dict[str, tuple[int, str]]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text(f"SELECT {', '.join(CONTENT)} FROM indicator_case")).all()
        ids = {r[0]: (r[1], str(r[2])) for r in conn.execute(sa.text(
            "SELECT record_id, case_id, as_of FROM indicator_case"))}
    return sorted((tuple(_plain(v) for v in r) for r in rows), key=repr), ids


def _plain(v: object) -> object:
    """One spelling on both databases (SQLite returns 1 and '2026-10-01')."""
    return int(v) if isinstance(v, bool) else v.isoformat() if isinstance(v, date) else v


def _engine(url: str) -> sa.Engine:
    engine = make_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(indicator.insert(), [row("indicator", r)
                                          for r in catalogue_rows(load_config())])
    return engine


def test_only_changed_rows_are_written(db_url: str, tmp_path: Path) -> None:
    engine = _engine(db_url)
    with engine.begin() as conn:
        publish.write_drill_through(conn, _cases(D1, 100))
    _, first = _content(engine)
    night2 = _cases(D2, 101, changed=frozenset({3, 7})).filter(pl.col("record_id") != "R5")
    with engine.begin() as conn:
        publish.write_drill_through(conn, night2)
    content, ids = _content(engine)
    # unchanged rows: same case_id, still dated the first night
    for r in ("R0", "R1", "R99"):
        assert ids[r] == first[r]
    # changed and new rows written on the second night, with new case_ids; R5 is gone
    for r in ("R3", "R7", "R100"):
        assert ids[r][1] == D2.isoformat() and ids[r][0] > max(i for i, _ in first.values())
    assert "R5" not in ids
    assert len(ids) == 100
    engine.dispose()

    # the same content as a full write of the second night
    fresh = _engine(f"sqlite:///{tmp_path}/fresh.db")
    with fresh.begin() as conn:
        publish.write_drill_through(conn, night2)
    assert _content(fresh)[0] == content
    fresh.dispose()


def test_a_night_that_changed_most_rows_replaces_the_drill_through(db_url: str) -> None:
    engine = _engine(db_url)
    with engine.begin() as conn:
        publish.write_drill_through(conn, _cases(D1, 10))
        publish.write_drill_through(conn, _cases(D2, 10, changed=frozenset(range(8))))
    content, ids = _content(engine)
    assert sorted(i for i, _ in ids.values()) == list(range(1, 11))  # renumbered from 1
    assert {d for _, d in ids.values()} == {D2.isoformat()}
    assert len(content) == 10
    engine.dispose()


def test_rows_alike_in_every_value_are_kept_one_to_one_and_ids_are_not_reused(
        db_url: str) -> None:
    engine = _engine(db_url)
    base_night = _cases(D1, 20)
    twice = pl.concat([_cases(D2, 20), _cases(D2, 20).filter(pl.col("record_id") == "R3")])
    with engine.begin() as conn:
        publish.write_drill_through(conn, base_night)
    _, first = _content(engine)
    with engine.begin() as conn:
        publish.write_drill_through(conn, twice.filter(pl.col("record_id") != "R19"))
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT case_id, record_id FROM indicator_case")).all()
    assert len(rows) == 20  # 19 of the first night, R3 twice
    assert sum(1 for _, r in rows if r == "R3") == 2
    # R19's id (the highest) was deleted tonight and names no other row
    assert first["R19"][0] not in {i for i, r in rows}
    engine.dispose()
