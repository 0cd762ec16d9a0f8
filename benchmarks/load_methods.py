"""Where the load's time goes, table by table and method by method, on one staged batch.

    .venv/bin/python benchmarks/load_methods.py --size L [--db sqlite postgresql]

Needs the staged work folder that `run.py` left for that size (/tmp/qa_bench_work/<size>/
staged). Evidence for docs/performance.md's "why the floor ratios are not met"; not a test.

  tuples    SQLite: building Python tuples (DataFrame.rows(), or column-wise zip of to_list())
            against sqlite3.executemany itself, for indicator_case
  copy      PostgreSQL: COPY of indicator_case in one write and in publish's chunks, and the
            index build after it
  indexes   publish's _insert (indexes maintained row by row) against _load (indexes built
            after the rows) for stg_persons, on each database
  parquet   zstd (polars' default) against lz4 (the work files') writes and reads
  clear     PostgreSQL: replacing a full indicator_case (the next night) after DELETE against
            after TRUNCATE, each in a transaction rolled back
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests.pg_server

import polars as pl  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from qa_pipeline.load import db, publish  # noqa: E402

AS_OF = date(2026, 11, 25)


def clock(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def report(group: str, label: str, seconds: float, rows: int) -> None:
    print(f"| {group} | {label} | {rows:,} | {seconds:.2f} |", flush=True)


def frame(work: Path, table: str) -> pl.DataFrame:
    return pl.read_parquet(work / f"{table}.parquet").with_columns(pl.lit(AS_OF).alias("as_of"))


@contextmanager
def databases(kinds: list[str], tmp: Path) -> Iterator[Callable[[str], sa.Engine]]:
    """Fresh, migrated databases of one kind, one per call."""
    server = None
    if "postgresql" in kinds:
        from tests.pg_server import PostgresServer

        server = PostgresServer(settings={"shared_buffers": "256MB", "max_wal_size": "4GB"})
        server.__enter__()
    try:
        def fresh(kind: str) -> sa.Engine:
            name = f"m{time.time_ns()}"
            url = (f"sqlite:///{tmp / name}.db" if kind == "sqlite"
                   else server.url(server.create_database(name)))  # type: ignore[union-attr]
            engine = sa.create_engine(url)
            db.upgrade(engine)
            return engine
        yield fresh
    finally:
        if server is not None:
            server.__exit__(None, None, None)


def bench_tuples(work: Path, tmp: Path) -> None:
    cases = frame(work, "indicator_case").head(3_000_000)
    cases = cases.with_columns(
        [pl.col(c).dt.strftime("%Y-%m-%d") for c, t in cases.schema.items() if t == pl.Date()]
        + [pl.col(c).cast(pl.Int8) for c, t in cases.schema.items() if t == pl.Boolean()])
    rows: list[tuple[Any, ...]] = []

    def by_rows() -> None:
        rows.extend(cases.rows())

    report("tuples", "DataFrame.rows()", clock(by_rows), cases.height)
    report("tuples", "zip(*[column.to_list()])", clock(
        lambda: list(zip(*[s.to_list() for s in cases.iter_columns()], strict=True))),
        cases.height)
    con = sqlite3.connect(tmp / "tuples.db")
    cols = ", ".join(cases.columns)
    con.execute(f"CREATE TABLE t (id INTEGER PRIMARY KEY, {cols})")
    marks = ", ".join("?" for _ in cases.columns)

    def insert() -> None:
        con.executemany(f"INSERT INTO t ({cols}) VALUES ({marks})", rows)  # noqa: S608
        con.commit()

    report("tuples", "sqlite3.executemany + commit", clock(insert), cases.height)
    con.close()


def copy_in_one_write(conn: sa.Connection, table: sa.Table, cases: pl.DataFrame) -> None:
    out = cases.select([c.name for c in table.columns if c.name in cases.columns])
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f"COPY {table.name} ({', '.join(out.columns)}) FROM STDIN "
                     "WITH (FORMAT csv)") as copy:
        copy.write(out.write_csv(include_header=False, date_format="%Y-%m-%d"))


def bench_copy(work: Path, fresh: Callable[[str], sa.Engine]) -> None:
    cases = frame(work, "indicator_case")
    table = db.indicator_case
    for label in ("one write", "publish's chunks"):
        engine = fresh("postgresql")
        with engine.begin() as conn:
            for index in table.indexes:
                index.drop(conn)
            if label == "one write":
                seconds = clock(lambda: copy_in_one_write(conn, table, cases))  # noqa: B023
            else:
                seconds = clock(lambda: publish._insert(conn, table, cases))  # noqa: B023
            report("copy", f"COPY indicator_case, {label}", seconds, cases.height)
            report("copy", "CREATE INDEX after it", clock(
                lambda: [index.create(conn) for index in table.indexes]),  # noqa: B023
                cases.height)
        engine.dispose()


def bench_clear(work: Path, fresh: Callable[[str], sa.Engine]) -> None:
    cases = frame(work, "indicator_case")
    table = db.indicator_case
    engine = fresh("postgresql")
    with engine.begin() as conn:
        publish._load(conn, table, cases)
    for how in ("DELETE", "TRUNCATE"):
        with engine.connect() as conn:
            report("clear", f"{how} of a full indicator_case", clock(
                lambda: conn.exec_driver_sql(f"{how} {'FROM ' if how == 'DELETE' else ''}"  # noqa: B023
                                             "indicator_case")), cases.height)
            report("clear", f"then COPY + index build after {how}", clock(
                lambda: publish._load(conn, table, cases)), cases.height)  # noqa: B023
            conn.rollback()
    engine.dispose()


def bench_indexes(work: Path, kinds: list[str], fresh: Callable[[str], sa.Engine]) -> None:
    persons = frame(work, "stg_persons")
    table = db.metadata.tables["stg_persons"]
    for kind in kinds:
        for label, load in (("indexes maintained (_insert)", publish._insert),
                            ("indexes built after (_load)", publish._load)):
            engine = fresh(kind)
            t0 = time.perf_counter()
            with engine.begin() as conn:
                load(conn, table, persons)
            report("indexes", f"{kind}: stg_persons, {label}, with commit",
                   time.perf_counter() - t0, persons.height)
            engine.dispose()


def bench_parquet(work: Path, tmp: Path) -> None:
    for name in ("indicator_case", "stg_persons"):
        data = pl.read_parquet(work / f"{name}.parquet")
        for compression in ("zstd", "lz4"):
            path = tmp / f"{name}_{compression}.parquet"
            report("parquet", f"{name}: write {compression}", clock(
                lambda: data.write_parquet(path, compression=compression)),  # noqa: B023
                data.height)
            report("parquet", f"{name}: read {compression} ({path.stat().st_size >> 20} MiB)",
                   clock(lambda: pl.read_parquet(path)), data.height)  # noqa: B023


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", default="L")
    p.add_argument("--db", nargs="+", default=["sqlite", "postgresql"],
                   choices=["sqlite", "postgresql"])
    p.add_argument("--only", nargs="+",
                   choices=["tuples", "copy", "indexes", "parquet", "clear"])
    p.add_argument("--work-root", type=Path, default=Path("/tmp/qa_bench_work"))
    a = p.parse_args()
    work = a.work_root / a.size / "staged"
    if not (work / "indicator_case.parquet").exists():
        sys.exit(f"{work} has no staged batch: run benchmarks/run.py --sizes {a.size} first")
    only = set(a.only or ["tuples", "copy", "indexes", "parquet", "clear"])
    print(f"### load methods at {a.size} ({work})\n\n| group | what | rows | seconds |\n"
          "|---|---|---:|---:|", flush=True)
    with tempfile.TemporaryDirectory() as tmp_name, databases(a.db, Path(tmp_name)) as fresh:
        tmp = Path(tmp_name)
        if "tuples" in only and "sqlite" in a.db:
            bench_tuples(work, tmp)
        if "copy" in only and "postgresql" in a.db:
            bench_copy(work, fresh)
        if "indexes" in only:
            bench_indexes(work, a.db, fresh)
        if "parquet" in only:
            bench_parquet(work, tmp)
        if "clear" in only and "postgresql" in a.db:
            bench_clear(work, fresh)


if __name__ == "__main__":
    main()
