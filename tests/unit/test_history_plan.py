"""`history.plan_versions`, the one recompute behind every publish, on versions worked by hand
(the database side is tests/integration/test_record_history.py)."""

from __future__ import annotations

from datetime import date

import polars as pl

from qa_pipeline.load.history import NEW, VERSION_SCHEMA, plan_versions

D1, D2, D3 = date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 3)


def _versions(*rows: tuple[int, str, date, date | None, str]) -> pl.DataFrame:
    return pl.DataFrame([(v, r, 1, f, t, h) for v, r, f, t, h in rows],
                        schema=VERSION_SCHEMA, orient="row")


def _tonight(**hashes: str) -> pl.DataFrame:
    return pl.DataFrame({"record_id": list(hashes), "occurrence": [1] * len(hashes),
                         "record_hash": list(hashes.values())},
                        schema={"record_id": pl.String(), "occurrence": pl.Int64(),
                                "record_hash": pl.String()})


NO_CARRIED = pl.DataFrame(schema={"record_id": pl.String(), "b": pl.Date()})


def _rows(frame: pl.DataFrame, *cols: str) -> set[tuple[object, ...]]:
    return set(frame.select(cols).iter_rows())


def test_a_new_night_changes_closes_opens_and_keeps() -> None:
    stored = _versions((1, "A", D1, None, "a"), (2, "B", D1, None, "b"),
                       (3, "C", D1, None, "c"))
    carried = pl.DataFrame({"record_id": ["C"], "b": [D2]})  # C quarantined tonight
    plan = plan_versions([D1, D2], D2, stored, _tonight(A="a", B="b2", N="n"), carried,
                         set(), has_prior=True)
    assert _rows(plan.insert, "record_id", "valid_from", "valid_to", "record_hash",
                 "source") == {("B", D2, None, "b2", NEW), ("N", D2, None, "n", NEW)}
    assert _rows(plan.retime, "version_id", "valid_to") == {(2, D2)}
    assert plan.delete == []  # A unchanged, C kept open


def test_a_deleted_record_is_closed_unless_its_file_was_not_loaded() -> None:
    stored = _versions((1, "A", D1, None, "a"))
    gone = plan_versions([D1, D2], D2, stored, _tonight(), NO_CARRIED, set(), True)
    assert _rows(gone.retime, "version_id", "valid_to") == {(1, D2)}
    missing = plan_versions([D1, D2], D2, stored, None, NO_CARRIED, set(), True)
    assert missing.changes == 0


def test_rerun_of_the_latest_with_other_values_replaces_that_nights_versions() -> None:
    # first run of D2 said A changed to a2; the redelivery says A is still a
    stored = _versions((1, "A", D1, D2, "a"), (2, "A", D2, None, "a2"))
    plan = plan_versions([D1, D2], D2, stored, _tonight(A="a"), NO_CARRIED, set(), True)
    assert plan.delete == [2]
    assert _rows(plan.retime, "version_id", "valid_to") == {(1, None)}
    assert plan.insert.height == 0


def test_a_late_night_splits_a_version_and_repeats_its_values_after() -> None:
    # published D1 and D3 with A = a throughout; D2 arrives late saying A was a2 that night
    stored = _versions((1, "A", D1, None, "a"))
    plan = plan_versions([D1, D2, D3], D2, stored, _tonight(A="a2"), NO_CARRIED, set(), True)
    assert _rows(plan.retime, "version_id", "valid_to") == {(1, D2)}
    assert _rows(plan.insert, "record_id", "valid_from", "valid_to", "record_hash",
                 "source") == {("A", D2, D3, "a2", NEW), ("A", D3, None, "a", 1)}


def test_a_late_night_carries_into_a_later_unknown_night() -> None:
    # D3 had A quarantined (carried) and the teams file unloaded for B: the late D2's values
    # hold through D3 for both
    stored = _versions((1, "A", D1, None, "a"), (2, "B", D1, None, "b"))
    carried = pl.DataFrame({"record_id": ["A"], "b": [D3]})
    plan = plan_versions([D1, D2, D3], D2, stored, _tonight(A="a2", B="b2"), carried,
                         set(), True)
    assert _rows(plan.insert, "record_id", "valid_from", "valid_to", "record_hash") == {
        ("A", D2, None, "a2"), ("B", D2, D3, "b2"), ("B", D3, None, "b")}
    unloaded = plan_versions([D1, D2, D3], D2, stored, _tonight(A="a2", B="b2"), carried,
                             {D3}, True)
    assert _rows(unloaded.insert, "record_id", "valid_from", "valid_to") == {
        ("A", D2, None), ("B", D2, None)}


def test_read_frame_types_a_column_whose_first_rows_are_null() -> None:
    """The nightly read of the stored versions (SQLite): most valid_to are null; a date after
    the first hundred rows must not fail the read (it failed a replayed middle batch)."""
    import sqlalchemy as sa

    from qa_pipeline.load.history import read_frame

    engine = sa.create_engine("sqlite://")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE v (version_id INTEGER, valid_to DATE)")
        conn.exec_driver_sql("INSERT INTO v VALUES " + ", ".join(
            f"({i}, NULL)" for i in range(150)) + ", (150, '2026-11-24')")
        t = sa.Table("v", sa.MetaData(), sa.Column("version_id", sa.Integer),
                     sa.Column("valid_to", sa.Date))
        frame = read_frame(conn, sa.select(t.c.version_id, t.c.valid_to),
                           {"version_id": pl.Int64(), "valid_to": pl.Date()})
    assert frame.height == 151
    assert frame["valid_to"].drop_nulls().to_list() == [date(2026, 11, 24)]


def test_record_hash_is_blake2b_of_the_canonical_text_in_slices(monkeypatch) -> None:
    """The stored hash must not change with polars: it is BLAKE2b (8 bytes, hex) of
    `column=value` joined by the unit separator, null values left out; the slices it is
    computed in do not change it."""
    import hashlib

    from qa_pipeline.load import history

    frame = pl.DataFrame({"a": [1, None, 3] * 5, "b": ["x", "y", None] * 5,
                          "d": [D1, None, D2] * 5})
    expected = [hashlib.blake2b(t.encode(), digest_size=8).hexdigest()
                for t in ["a=1\x1fb=x\x1fd=2026-11-01", "b=y", "a=3\x1fd=2026-11-02"] * 5]
    assert history.record_hash(frame, ["a", "b", "d"]).to_list() == expected
    monkeypatch.setattr(history, "HASH_SLICE", 4)
    assert history.record_hash(frame, ["a", "b", "d"]).to_list() == expected
    assert history.record_hash(frame.head(0), ["a", "b", "d"]).len() == 0


def test_read_frame_reads_sqlite_in_slices(monkeypatch) -> None:
    import sqlalchemy as sa

    from qa_pipeline.load import history

    monkeypatch.setattr(history, "FETCH_ROWS", 3)
    engine = sa.create_engine("sqlite://")
    meta = sa.MetaData()
    t = sa.Table("t", meta, sa.Column("i", sa.Integer), sa.Column("d", sa.Date))
    meta.create_all(engine)
    with engine.begin() as conn:
        conn.execute(t.insert(), [{"i": i, "d": D1 if i % 2 else None} for i in range(10)])
        frame = history.read_frame(conn, sa.select(t.c.i, t.c.d).order_by(t.c.i),
                                   {"i": pl.Int64(), "d": pl.Date()})
        empty = history.read_frame(conn, sa.select(t.c.i, t.c.d).where(t.c.i < 0),
                                   {"i": pl.Int64(), "d": pl.Date()})
    assert frame["i"].to_list() == list(range(10))
    assert frame["d"].to_list() == [D1 if i % 2 else None for i in range(10)]
    assert empty.height == 0 and empty.schema == {"i": pl.Int64(), "d": pl.Date()}
