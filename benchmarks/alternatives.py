"""Measure the cheaper alternatives to the hotspots that `run.py` finds, on one staged batch.

    .venv/bin/python benchmarks/alternatives.py --size M [--db sqlite postgresql]

Needs the batch and the staged work folder that `run.py` left for that size
(/tmp/qa_bench_data/<size>..., /tmp/qa_bench_work/<size>/staged). Each measurement runs the
CURRENT library function and a prototype of the alternative side by side on the same data, in
this one process (so it gives the gain, not a per-stage peak RSS). Nothing under src/ is
changed: the prototypes live here, as evidence for docs/performance.md.

  read      reading.read_text_csv  vs  its parts: bytes+decode+StringIO, the Python csv
            row-width scan (_field_counts), polars on the decoded text, polars on the path
  guard     identifying.nhs_number_rows  vs  shape regex first, checksum on the matches only
  checks    pandera (validation._failures)  vs  the same rule expressions in ONE polars
            select over the validation frame
  sqlite    publish()  vs  raw sqlite3 executemany of pre-formatted tuples, one transaction
            (and indicator_case's index built after the load)
  postgres  publish()  vs  psycopg COPY FROM STDIN of polars-written CSV, one transaction
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import polars as pl  # noqa: E402

from qa_pipeline.spec.contracts import load_contracts  # noqa: E402

RESULTS: list[tuple[str, str, float, float]] = []


def clock(fn: Callable[[], Any]) -> tuple[float, Any]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def record(group: str, label: str, now: float, alt: float) -> None:
    RESULTS.append((group, label, now, alt))
    print(f"{group:9} {label:60} now {now:8.2f} s  alternative {alt:8.2f} s  "
          f"gain {now / alt if alt else float('inf'):5.1f}×", flush=True)


# --- read ----------------------------------------------------------------------------------


def bench_read(batch: Path) -> None:
    from qa_pipeline.ingest import reading

    contracts = load_contracts()
    parts = {"read_text_csv": 0.0, "read+decode+StringIO": 0.0, "csv row-width scan": 0.0,
             "polars on StringIO": 0.0, "polars on path": 0.0, "strip+null": 0.0}
    for e in contracts.ordered():
        path = batch / e.file_name
        dt, _ = clock(lambda p=path: reading.read_text_csv(p))
        parts["read_text_csv"] += dt
        t = time.perf_counter()
        text, _enc = reading.decode(path.read_bytes())
        parts["read+decode+StringIO"] += time.perf_counter() - t
        if hasattr(reading, "_field_counts"):
            dt, _ = clock(lambda text=text: reading._field_counts(text))
            parts["csv row-width scan"] += dt
        dt, _ = clock(lambda text=text: pl.read_csv(io.StringIO(text), has_header=False,
                                                     infer_schema=False, quote_char='"'))
        parts["polars on StringIO"] += dt
        dt, frame = clock(lambda p=path: pl.read_csv(p, has_header=True, infer_schema=False,
                                                     encoding="utf8-lossy"))
        parts["polars on path"] += dt
        dt, _ = clock(lambda f=frame: f.with_columns(
            pl.col(c).str.strip_chars().replace("", None) for c in f.columns))
        parts["strip+null"] += dt
    for k, v in parts.items():
        print(f"read      {k:30} {v:8.2f} s")
    record("read", "read_text_csv vs polars on the path + strip (UTF-8 files)",
           parts["read_text_csv"], parts["polars on path"] + parts["strip+null"])


# --- guard ---------------------------------------------------------------------------------


def bench_guard(batch: Path) -> None:
    from qa_pipeline.ingest import reading
    from qa_pipeline.privacy import identifying

    contracts = load_contracts()
    now = alt = 0.0
    shape = getattr(identifying, "_NHS_SHAPE", r"^\d{3} ?\d{3} ?\d{4}$")
    for e in contracts.ordered():
        raw = reading.read_text_csv(batch / e.file_name)
        frame = raw.frame  # type: ignore[union-attr]
        ids = [c.name for c in e.columns.values() if c.type == "id"]
        dt, a = clock(lambda f=frame, ids=ids: identifying.nhs_number_rows(f, ids, "source_row"))
        now += dt

        def prefiltered(f: pl.DataFrame = frame, ids: list[str] = ids) -> dict[str, list[int]]:
            found = {}
            for c in ids:
                if c not in f.columns:
                    continue
                cand = f.select(c, "source_row").filter(pl.col(c).str.contains(shape))
                if cand.height:
                    rows = cand.filter(identifying.is_nhs_number(pl.col(c)))["source_row"]
                    if rows.len():
                        found[c] = rows.to_list()
            return found

        dt, b = clock(prefiltered)
        alt += dt
        assert a == b, (e.name, a, b)
    record("guard", "nhs_number_rows vs shape regex first, checksum on matches", now, alt)


# --- pandera checks ------------------------------------------------------------------------


def bench_checks(batch: Path, work: Path) -> None:
    """Capture each extract's (schema, validation frame, rules) during a real stage_batch,
    then time pandera against one polars select of the same rule expressions."""
    from qa_pipeline.ingest import staging, validation

    captured: list[tuple[Any, pl.DataFrame, list[Any], Any, Any]] = []
    orig_build, orig_fail = validation.build_schema, validation._failures
    last: dict[str, Any] = {}

    def build(e: Any, as_of: Any, *a: Any, **k: Any) -> Any:
        schema, rules = orig_build(e, as_of, *a, **k)
        last.update(e=e, as_of=as_of, rules=rules)
        return schema, rules

    def failures(schema: Any, frame: pl.DataFrame, *a: Any, **k: Any) -> Any:
        captured.append((schema, frame, last["rules"], last["e"], last["as_of"]))
        return orig_fail(schema, frame, *a, **k)

    validation.build_schema, validation._failures = build, failures
    staging.stage_batch(batch, work / "alt_stage")
    validation.build_schema, validation._failures = orig_build, orig_fail
    now = alt = 0.0
    nchecks = 0
    for schema, frame, rules, e, as_of in captured:
        dt, fails = clock(lambda s=schema, f=frame: orig_fail(s, f))
        now += dt

        def one_select(f: pl.DataFrame = frame, rules: list[Any] = rules, e: Any = e,
                       as_of: Any = as_of) -> pl.DataFrame:
            passes = f.lazy().select(
                pl.int_range(pl.len()).alias("index"),
                *[validation.rule_expr(r, e, as_of).alias(r.rule_id) for r in rules])
            names = [r.rule_id for r in rules]
            bad = passes.filter(~pl.all_horizontal(names)).collect()
            return bad.unpivot(index="index", on=names, variable_name="rule_id").filter(
                ~pl.col("value")).select("index", "rule_id")

        dt, alt_fails = clock(one_select)
        alt += dt
        nchecks += len(rules)
        assert alt_fails.height == fails.height, (e.name, alt_fails.height, fails.height)
    record("checks", f"pandera validate ({nchecks} checks) vs one polars select", now, alt)


# --- loads ---------------------------------------------------------------------------------


def load_frames(work: Path) -> tuple[Any, dict[str, pl.DataFrame]]:
    from qa_pipeline.ingest.staging import MANIFEST, Manifest

    m = Manifest.from_json((work / MANIFEST).read_text(encoding="utf-8"))
    frames = {}
    for name, o in m.extracts.items():
        if o.parquet:
            frames[f"stg_{name}"] = pl.read_parquet(o.parquet).with_columns(
                pl.lit(m.as_of).alias("as_of"))
    frames["indicator_value"] = pl.read_parquet(m.indicators["values"]).with_columns(
        pl.lit(m.as_of).alias("as_of"))
    frames["indicator_case"] = pl.read_parquet(m.indicators["cases"]).with_columns(
        pl.lit(m.as_of).alias("as_of"))
    return m, frames


def published_time(db_url: str, m: Any) -> float:
    from qa_pipeline.load import publish as pub
    from qa_pipeline.load.db import make_engine, upgrade

    engine = make_engine(db_url)
    upgrade(engine)
    run_id = pub.start_run(engine, m.as_of, m.batch_path)
    dt, _ = clock(lambda: pub.publish(m, engine, run_id))
    engine.dispose()
    return dt


def bench_sqlite(work: Path, tmp: Path) -> None:
    import sqlite3

    from qa_pipeline.load.db import make_engine, metadata, upgrade

    m, frames = load_frames(work)
    now = published_time(f"sqlite:///{tmp / 'now.db'}", m)
    path = tmp / "alt.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()

    def raw_load() -> None:
        con = sqlite3.connect(path, isolation_level=None)
        con.execute("BEGIN")
        con.execute("DROP INDEX IF EXISTS ix_indicator_case_lookup")
        for name, frame in frames.items():
            table = metadata.tables[name]
            cols = [c.name for c in table.columns if c.name in frame.columns]
            f = frame.select(cols).with_columns(
                [pl.col(c).dt.to_string("%Y-%m-%d") for c in cols
                 if frame.schema[c] == pl.Date]
                + [pl.col(c).dt.replace_time_zone(None).dt.to_string("%Y-%m-%d %H:%M:%S.%6f")
                   for c in cols if isinstance(frame.schema[c], pl.Datetime)]
                + [pl.col(c).cast(pl.Int8) for c in cols if frame.schema[c] == pl.Boolean])
            sql = (f"INSERT INTO {name} ({', '.join(cols)}) "  # noqa: S608
                   f"VALUES ({', '.join('?' * len(cols))})")
            for start in range(0, f.height, 100_000):
                con.executemany(sql, f.slice(start, 100_000).iter_rows())
        con.execute("CREATE INDEX ix_indicator_case_lookup ON indicator_case "
                    "(indicator_code, period_type, period_label)")
        con.execute("COMMIT")
        con.close()

    alt, _ = clock(raw_load)
    rows = sum(f.height for f in frames.values())
    record("sqlite", f"publish() vs raw sqlite3 executemany ({rows:,} rows)", now, alt)


def bench_postgres(work: Path) -> None:
    import psycopg

    from qa_pipeline.load.db import metadata, upgrade
    from tests.pg_server import PostgresServer

    m, frames = load_frames(work)
    with PostgresServer(fast=False, settings={"shared_buffers": "256MB",
                                              "max_wal_size": "4GB"}) as server:
        now = published_time(server.url(server.create_database("now")), m)
        url = server.url(server.create_database("alt"))
        from qa_pipeline.load.db import make_engine

        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()

        def copy_load() -> None:
            with psycopg.connect(server.conninfo("alt")) as conn, conn.cursor() as cur:
                cur.execute("DROP INDEX IF EXISTS ix_indicator_case_lookup")
                for name, frame in frames.items():
                    table = metadata.tables[name]
                    cols = [c.name for c in table.columns if c.name in frame.columns]
                    f = frame.select(cols).with_columns(
                        pl.col(c).dt.replace_time_zone(None) for c in cols
                        if isinstance(frame.schema[c], pl.Datetime))
                    sql = f"COPY {name} ({', '.join(cols)}) FROM STDIN (FORMAT csv)"
                    with cur.copy(sql) as copy:
                        for start in range(0, f.height, 500_000):
                            copy.write(f.slice(start, 500_000).write_csv(include_header=False))
                cur.execute("CREATE INDEX ix_indicator_case_lookup ON indicator_case "
                            "(indicator_code, period_type, period_label)")

        alt, _ = clock(copy_load)
    rows = sum(f.height for f in frames.values())
    record("postgres", f"publish() vs psycopg COPY ({rows:,} rows)", now, alt)


def main() -> None:
    from run import SIZES, batch_for

    p = argparse.ArgumentParser()
    p.add_argument("--size", default="M")
    p.add_argument("--only", nargs="+",
                   default=["read", "guard", "checks", "sqlite", "postgres"])
    p.add_argument("--data-root", type=Path, default=Path("/tmp/qa_bench_data"))
    p.add_argument("--work-root", type=Path, default=Path("/tmp/qa_bench_work"))
    a = p.parse_args()
    assert a.size in SIZES or a.size.isdigit()
    batch = batch_for(a.size, a.data_root)
    work = a.work_root / a.size / "staged"
    tmp = a.work_root / a.size / "alternatives"
    import shutil

    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    if "read" in a.only:
        bench_read(batch)
    if "guard" in a.only:
        bench_guard(batch)
    if "checks" in a.only:
        bench_checks(batch, tmp)
    if "sqlite" in a.only:
        bench_sqlite(work, tmp)
    if "postgres" in a.only:
        bench_postgres(work)
    print()
    print("| where | current → alternative | now s | alternative s | gain |")
    print("|---|---|---:|---:|---:|")
    for g, label, now, alt in RESULTS:
        print(f"| {g} | {label} | {now:.2f} | {alt:.2f} | {now / alt:.1f}× |")


if __name__ == "__main__":
    main()
