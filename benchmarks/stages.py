"""One benchmark stage, run in a fresh process by `run.py` (so peak RSS is per stage).

    python benchmarks/stages.py STAGE --batch DIR --work DIR [--db URL] [--profile FILE]

Prints ONE JSON line on stdout: wall seconds of the stage itself (imports and set-up not
included), peak RSS of this process (``getrusage(RUSAGE_SELF).ru_maxrss``: the high-water mark
of the whole process, imports included), the RSS after imports, and a breakdown where the
stage is instrumented. The instrumentation wraps a few library functions with a timer (a
handful of calls per extract, negligible cost); nothing under src/ is edited.

``night`` (the nights mode): the nightly job on one batch folder into a database holding the
nights before, each step timed through `run_job`'s ``step`` hook, and the database's size.

With ``--profile FILE`` the stage runs under cProfile and the stats are dumped to FILE.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import functools
import json
import resource
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import polars as pl  # noqa: E402

from qa_pipeline.spec.contracts import load_contracts  # noqa: E402

TIMES: dict[str, float] = defaultdict(float)
COUNTS: dict[str, int] = defaultdict(int)


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def current_rss_mib() -> float:
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def timed(label: str | Callable[..., str], fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        key = label(*args, **kwargs) if callable(label) else label
        t = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            TIMES[key] += time.perf_counter() - t
            COUNTS[key] += 1

    return wrapper


def wrap(module: Any, name: str, label: str | Callable[..., str]) -> None:
    """Time every call of module.name (skipped if the function was renamed meanwhile)."""
    fn = getattr(module, name, None)
    if fn is not None:
        setattr(module, name, timed(label, fn))


def as_of_of(batch: Path) -> date:
    return date.fromisoformat(batch.name)


# --- our pipeline --------------------------------------------------------------------------


def instrument_staging() -> None:
    from qa_pipeline.ingest import staging, validation

    wrap(staging, "sha256_file", "sha256 of the file")
    wrap(staging, "read_text_csv", "read: bytes -> decode -> text frame")
    wrap(staging, "nhs_number_rows", "identifying-data guard (NHS numbers)")
    wrap(validation, "typed_frame", "parse: text -> typed columns")
    wrap(validation, "_reference_status", "references (joins to parents)")
    wrap(validation, "_parent_lookups", "parent lookups (joins)")
    wrap(validation, "_overlap", "overlap check")
    wrap(validation, "build_schema", "build pandera schema")
    wrap(validation, "_failures", "pandera validate (all row checks)")
    wrap(validation, "_issue_rows", "issue rows")
    pl.DataFrame.write_parquet = timed("parquet writes", pl.DataFrame.write_parquet)


def stage_read_parse(a: argparse.Namespace) -> dict[str, Any]:
    """read_text_csv + typed_frame per extract (read & parse, no checks, nothing written)."""
    from qa_pipeline.ingest.reading import read_text_csv
    from qa_pipeline.ingest.validation import typed_frame

    contracts = load_contracts()
    rows = 0
    read_s = parse_s = 0.0
    t0 = time.perf_counter()
    for e in contracts.ordered():
        t = time.perf_counter()
        raw = read_text_csv(a.batch / e.file_name)
        read_s += time.perf_counter() - t
        assert not hasattr(raw, "kind"), raw
        t = time.perf_counter()
        typed = typed_frame(raw.frame, e)  # type: ignore[union-attr]
        parse_s += time.perf_counter() - t
        rows += typed.height
    return {"wall": time.perf_counter() - t0, "rows": rows,
            "breakdown": {"read_text_csv": read_s, "typed_frame": parse_s}}


def stage_stage_batch(a: argparse.Namespace) -> dict[str, Any]:
    """stage_batch: read, guard, parse, validate, write staged parquet + issues + manifest."""
    from qa_pipeline.ingest import staging

    instrument_staging()
    contracts = load_contracts()
    t0 = time.perf_counter()
    manifest = staging.stage_batch(a.batch, a.work, contracts)
    wall = time.perf_counter() - t0
    rows = sum(o.rows_read for o in manifest.extracts.values())
    quarantined = sum(o.rows_quarantined for o in manifest.extracts.values())
    return {"wall": wall, "rows": rows, "quarantined": quarantined, "breakdown": dict(TIMES)}


def load_manifest(work: Path) -> Any:
    from qa_pipeline.ingest.staging import MANIFEST, Manifest

    return Manifest.from_json((work / MANIFEST).read_text(encoding="utf-8"))


def stage_derive(a: argparse.Namespace) -> dict[str, Any]:
    from qa_pipeline.transform import facts, indicators

    for name, s in list(facts.SUBJECTS.items()):
        facts.SUBJECTS[name] = dataclasses.replace(
            s, build=timed(f"facts: {name}", s.build))
    wrap(indicators, "cases", "indicator cases (periods)")
    wrap(indicators, "values", "indicator values (group by)")
    pl.DataFrame.write_parquet = timed("parquet writes", pl.DataFrame.write_parquet)
    manifest = load_manifest(a.work)
    t0 = time.perf_counter()
    manifest = indicators.derive_batch(manifest)
    wall = time.perf_counter() - t0
    cases = pl.scan_parquet(manifest.indicators["cases"]).select(pl.len()).collect().item()
    vals = pl.scan_parquet(manifest.indicators["values"]).select(pl.len()).collect().item()
    return {"wall": wall, "rows": cases + vals, "breakdown": dict(TIMES)}


def stage_load(a: argparse.Namespace) -> dict[str, Any]:
    """publish() of a staged + derived batch into a fresh database (schema made first), then
    of the same rows as the next night's batch into the tables now holding the first."""
    from qa_pipeline.load import publish as pub
    from qa_pipeline.load.db import make_engine, upgrade

    manifest = load_manifest(a.work)
    engine = make_engine(a.db)
    t = time.perf_counter()
    upgrade(engine)
    upgrade_s = time.perf_counter() - t
    run_id = pub.start_run(engine, manifest.as_of, manifest.batch_path)

    def table_label(conn: Any, table: Any, frame: Any, *rest: Any, **kw: Any) -> str:
        return f"insert {table.name}"

    wrap(pub, "_insert", table_label)
    pl.read_parquet = timed("read staged parquet", pl.read_parquet)
    t0 = time.perf_counter()
    outcome = pub.publish(manifest, engine, run_id)
    wall = time.perf_counter() - t0
    first_night = dict(TIMES)
    # The nightly steady state: the same rows as the next day's batch, into tables that
    # already hold this one (so they keep their indexes).
    TIMES.clear()
    next_night = dataclasses.replace(manifest, as_of=manifest.as_of + timedelta(days=1))
    run_id = pub.start_run(engine, next_night.as_of, next_night.batch_path)
    t0 = time.perf_counter()
    next_outcome = pub.publish(next_night, engine, run_id)
    next_wall = time.perf_counter() - t0
    engine.dispose()
    rows = sum(o.rows_loaded for o in manifest.extracts.values())
    return {"wall": wall, "rows": rows, "status": outcome.status,
            "upgrade_s": upgrade_s, "breakdown": first_night,
            "next_night_s": next_wall, "next_night_status": next_outcome.status,
            "next_night_breakdown": dict(TIMES)}


def stage_end_to_end(a: argparse.Namespace) -> dict[str, Any]:
    from qa_pipeline.ops.job import run_path

    a.work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    result = run_path(a.batch, a.db, work_root=a.work)
    wall = time.perf_counter() - t0
    statuses = [b.outcome.status if b.outcome else "skipped" for b in result.batches]
    if result.exit_code not in (0, 3):
        raise SystemExit(f"run_path failed: {statuses} {[b.error for b in result.batches]}")
    # Incremental (issue 6): the nightly job on the landing folder again, nothing changed:
    # the batch must be recognised by its files' checksums and skipped.
    t0 = time.perf_counter()
    again = run_path(a.batch.parent, a.db, work_root=a.work)
    unchanged_s = time.perf_counter() - t0
    if not (again.batches and all(b.skipped for b in again.batches)):
        raise SystemExit(f"the unchanged batch was not skipped: {again.batches}")
    return {"wall": wall, "status": statuses, "unchanged_rerun_s": unchanged_s}


def database_bytes(url: str) -> int:
    """The database's size on disk: SQLite its file (and WAL, if any); PostgreSQL
    pg_database_size of the database."""
    import sqlalchemy as sa

    u = sa.make_url(url)
    if u.get_backend_name() == "sqlite":
        path = Path(u.database or "")
        return sum(p.stat().st_size for p in (path, path.with_name(path.name + "-wal"))
                   if p.exists())
    engine = sa.create_engine(u)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text("SELECT pg_database_size(current_database())"))
                       .scalar_one())
    finally:
        engine.dispose()


def stage_night(a: argparse.Namespace) -> dict[str, Any]:
    """One night of the nights mode: the nightly job on one batch folder, as `run_path` runs
    it (settings, check_site_files, run_job), into a database holding the nights before.
    Each step of run_job/run_batch is timed through their public ``step`` hook (a StepRunner:
    prepare, select_batches, begin, stage, derive, publish, after_publish); a few publish
    internals are wrapped for the breakdown where they exist (skipped once renamed)."""
    from qa_pipeline.load import publish as pub
    from qa_pipeline.ops import job
    from qa_pipeline.ops.settings import load_settings

    steps: dict[str, float] = defaultdict(float)

    def timing(step: Callable[..., Any], *args: Any) -> Any:
        t = time.perf_counter()
        try:
            return step(*args)
        finally:
            steps[getattr(step, "__name__", str(step))] += time.perf_counter() - t

    def table_label(*args: Any, **kw: Any) -> str:
        table = args[1] if len(args) > 1 else kw.get("table")
        return f"insert {getattr(table, 'name', '?')}"

    wrap(pub, "_insert", table_label)
    wrap(pub, "_prune_case_tables", "prune old batches")
    from qa_pipeline.load import history

    wrap(pub, "_publish_history", "history (all extracts)")
    wrap(history, "read_frame", "history/drill-through: read stored keys")
    wrap(history, "plan_versions", "history: plan versions")
    wrap(history, "_apply", "history: write versions")
    wrap(pub, "write_drill_through", "drill-through (changed rows)")
    wrap(pub, "refresh_issue_spans", "issue episodes (dq_issue_span)")
    wrap(pub, "refresh_dim_team", "dim_team")
    a.work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    settings = load_settings().with_overrides(db_url=a.db, work_dir=a.work)
    job.check_site_files(settings)
    result = job.run_job(a.batch, settings, step=timing)
    wall = time.perf_counter() - t0
    peak = rss_mib()
    done = [b for b in result.batches if not b.skipped]
    statuses = [b.outcome.status if b.outcome else "none" for b in done]
    if result.exit_code not in (0, 3) or len(done) != 1 or done[0].held:
        raise SystemExit(f"the night did not publish: exit {result.exit_code}, {statuses}, "
                         f"held {[b.held for b in done]}, {[b.error for b in done]}, "
                         f"refused {result.refused}")
    return {"wall": wall, "status": statuses[0], "steps": dict(steps),
            "publish_breakdown": dict(TIMES), "db_bytes": database_bytes(a.db),
            "peak_rss_during_mib": peak}


# --- the floor -----------------------------------------------------------------------------


FLOOR_DTYPES = {"int": pl.Int64}
FLOOR_DATE_FORMATS = ("%d/%m/%Y", "%Y-%m-%d")
FLOOR_DATETIME_FORMATS = ("%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%Y-%m-%d %H:%M",
                          "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S")


def floor_read(path: Path, e: Any) -> pl.DataFrame:
    """pl.read_csv with an explicit schema (final dtypes for ints, text for the rest), dates
    and datetimes parsed with str.to_date / str.to_datetime (each delivered format), nothing
    else: no trimming, no header checks, no validation, nothing written."""
    import re

    with path.open("rb") as fh:
        header = fh.readline().decode("utf-8-sig", errors="replace").rstrip("\r\n").split(",")
    names = [re.sub(r"[\s\-]+", "_", h.strip()).lower() for h in header]
    schema = {n: FLOOR_DTYPES.get(e.columns[n].type if n in e.columns else "", pl.String)
              for n in names}
    # utf8-lossy: a Windows-1252 file is read as bytes-for-text (a floor, not a decoder)
    frame = pl.read_csv(path, has_header=True, new_columns=names, schema=schema,
                        encoding="utf8-lossy")
    exprs = []
    for c in e.columns.values():
        if c.type == "date":
            exprs.append(pl.coalesce([pl.col(c.name).str.to_date(f, strict=False)
                                      for f in FLOOR_DATE_FORMATS]))
        elif c.type == "datetime":
            exprs.append(pl.coalesce([
                pl.col(c.name).str.to_datetime(f, strict=False, time_unit="us")
                for f in FLOOR_DATETIME_FORMATS]).dt.replace_time_zone(
                    "Europe/London", ambiguous="earliest", non_existent="null"))
    return frame.with_columns(exprs)


def stage_floor(a: argparse.Namespace) -> dict[str, Any]:
    contracts = load_contracts()
    total = 0.0
    rows = 0
    per_file = {}
    for e in contracts.ordered():
        t = time.perf_counter()
        frame = floor_read(a.batch / e.file_name, e)
        dt = time.perf_counter() - t
        per_file[e.name] = dt
        total += dt
        rows += frame.height
        del frame
    return {"wall": total, "rows": rows, "breakdown": per_file}


# --- the pandas way ------------------------------------------------------------------------


def stage_pandas_read_parse(a: argparse.Namespace) -> dict[str, Any]:
    import pandas_way as pw

    contracts = load_contracts()
    t0 = time.perf_counter()
    rows = pw.read_parse_batch(a.batch, contracts)
    return {"wall": time.perf_counter() - t0, "rows": sum(rows.values())}


def stage_pandas_read_validate(a: argparse.Namespace) -> dict[str, Any]:
    import pandas_way as pw

    contracts = load_contracts()
    t0 = time.perf_counter()
    loaded, stats = pw.read_validate_batch(a.batch, contracts, as_of_of(a.batch))
    wall = time.perf_counter() - t0
    return {"wall": wall, "rows": sum(s["read"] for s in stats.values()),
            "quarantined": sum(s["read"] - s["loaded"] for s in stats.values())}


def _pandas_frame(frame: pl.DataFrame) -> Any:
    """polars -> pandas without pyarrow (not installed): column by column via numpy/lists."""
    import pandas as pd

    cols: dict[str, Any] = {}
    for name, dtype in frame.schema.items():
        s = frame[name]
        if dtype.is_integer():
            cols[name] = pd.array(s.to_list(), dtype="Int64")
        elif dtype == pl.Date:
            cols[name] = pd.to_datetime(s.cast(pl.Datetime("us")).to_numpy())
        elif isinstance(dtype, pl.Datetime):
            cols[name] = pd.to_datetime(s.dt.replace_time_zone(None).to_numpy())
        elif dtype == pl.Boolean:
            cols[name] = pd.array(s.to_list(), dtype="boolean")
        else:
            cols[name] = s.to_list()
    return pd.DataFrame(cols)


def stage_pandas_load(a: argparse.Namespace) -> dict[str, Any]:
    """DataFrame.to_sql of the same rows our publish() loads (staged tables, dq_issue,
    indicator_value, indicator_case), into the same schema, in one transaction. The frames
    are built (untimed) from our staged parquet so both loads write the same data."""
    import pandas_way as pw

    from qa_pipeline.load.db import make_engine, upgrade

    manifest = load_manifest(a.work)
    as_of = manifest.as_of
    frames: dict[str, Any] = {}
    for name, o in manifest.extracts.items():
        if o.parquet:
            frames[f"stg_{name}"] = _pandas_frame(
                pl.read_parquet(o.parquet).with_columns(pl.lit(as_of).alias("as_of")))
    frames["dq_issue"] = _pandas_frame(pl.read_parquet(manifest.issues_parquet).with_columns(
        pl.lit("00000000-0000-0000-0000-000000000000").alias("run_id")))
    for key, table in (("values", "indicator_value"), ("cases", "indicator_case")):
        if key in manifest.indicators:
            frames[table] = _pandas_frame(pl.read_parquet(manifest.indicators[key]).with_columns(
                pl.lit(as_of).alias("as_of")))
    rows = sum(len(f) for f in frames.values())
    engine = make_engine(a.db)
    upgrade(engine)
    t0 = time.perf_counter()
    with engine.begin() as conn:
        pw.to_sql_all(frames, conn)
    wall = time.perf_counter() - t0
    engine.dispose()
    return {"wall": wall, "rows": rows}


STAGES: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {
    "floor": stage_floor,
    "read_parse": stage_read_parse,
    "stage_batch": stage_stage_batch,
    "derive": stage_derive,
    "load": stage_load,
    "end_to_end": stage_end_to_end,
    "night": stage_night,
    "pandas_read_parse": stage_pandas_read_parse,
    "pandas_read_validate": stage_pandas_read_validate,
    "pandas_load": stage_pandas_load,
}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("stage", choices=sorted(STAGES))
    p.add_argument("--batch", type=Path, required=True)
    p.add_argument("--work", type=Path, required=True)
    p.add_argument("--db")
    p.add_argument("--profile", type=Path)
    a = p.parse_args()
    if a.stage in ("pandas_read_parse", "pandas_read_validate", "pandas_load"):
        import pandas  # noqa: F401
        import pandera.pandas  # noqa: F401
    if a.db:
        import sqlalchemy  # noqa: F401

    import pandera.polars  # noqa: F401

    rss_import = current_rss_mib()
    fn = STAGES[a.stage]
    if a.profile:
        prof = cProfile.Profile()
        out = prof.runcall(fn, a)
        prof.dump_stats(str(a.profile))
    else:
        out = fn(a)
    out["peak_rss_mib"] = rss_mib()
    out["rss_after_imports_mib"] = rss_import
    print(json.dumps(out, default=str))


if __name__ == "__main__":
    main()
