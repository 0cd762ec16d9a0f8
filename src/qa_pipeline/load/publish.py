"""Publish a staged batch into the reporting database in ONE transaction.

Either everything of the batch becomes visible (case tables, issues, rule catalogue, batch
record, run status) or nothing does: a run killed mid-load leaves the database as it was.
Re-publishing an extract date first deletes that date's rows, so re-runs never duplicate.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from qa_pipeline import __version__
from qa_pipeline.ingest.staging import Manifest
from qa_pipeline.load.db import (
    as_date,
    batch,
    batch_hold,
    dim_date,
    dim_team,
    dq_issue,
    dq_issue_span,
    dq_rule,
    history_table_name,
    indicator,
    indicator_case,
    indicator_run,
    indicator_spc,
    indicator_spc_series,
    indicator_value,
    metadata,
    pipeline_run,
    pipeline_run_extract,
)
from qa_pipeline.ops.exits import ExitStatus
from qa_pipeline.ops.faults import failpoint
from qa_pipeline.privacy.redaction import redact_cut
from qa_pipeline.spec.contracts import Contracts, load_contracts
from qa_pipeline.spec.published import row
from qa_pipeline.transform.calendar import DIM_DATE_FIRST, DIM_DATE_LAST, calendar_frame
from qa_pipeline.transform.indicators import catalogue_rows, load_config
from qa_pipeline.transform.spc import BASELINE_POINTS, IndicatorSpec, spc_tables

log = logging.getLogger(__name__)

CHUNK_ROWS = 20_000


DQ_RULE_RENAME: dict[str, str] = {"column_name": "column", "description": "message",
                                  "description_cy": "message_cy"}
"""`dq_rule`'s columns that a contract `Rule` names otherwise (its message is the rule's
description)."""

def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass
class RunOutcome:
    run_id: str
    status: str
    exit_code: int
    message: str


def start_run(engine: Engine, manifest_as_of: Any, batch_path: str,
              contracts: Contracts | None = None) -> str:
    """Record the run before any work: it reads `failed` until the publish transaction
    commits, so a run that is killed stays visible in the history as one that did not finish."""
    run_id = str(uuid.uuid4())
    with engine.begin() as conn:
        conn.execute(pipeline_run.insert().values(
            run_id=run_id, as_of=manifest_as_of, started_at=utcnow(), status="failed",
            exit_code=ExitStatus.FAILED, message="started; did not finish",
            code_version=__version__,
            contract_version=(contracts or load_contracts()).version, batch_path=batch_path,
        ))
    return run_id


def finish_failed_run(engine: Engine, run_id: str, message: str) -> None:
    with engine.begin() as conn:
        conn.execute(pipeline_run.update().where(pipeline_run.c.run_id == run_id).values(
            finished_at=utcnow(), status="failed", exit_code=ExitStatus.FAILED,
            message=redact_cut(message, 2000)))


def _naive_utc(frame: pl.DataFrame) -> pl.DataFrame:
    """UTC datetimes become naive UTC (the TIMESTAMP columns of reporting-db.md)."""
    return frame.with_columns(
        pl.col(c).dt.replace_time_zone(None)
        for c, t in frame.schema.items()
        if isinstance(t, pl.Datetime) and t.time_zone is not None
    )


def _insert(conn: Connection, table: sa.Table, frame: pl.DataFrame) -> None:
    """Bulk-insert a frame's columns that the table has, inside the caller's transaction:
    PostgreSQL COPY from polars-written CSV; SQLite executemany over plain tuples, with
    values formatted exactly as SQLAlchemy stores them. Both are many times faster than
    SQLAlchemy's executemany of dicts, which matters at national scale (docs/performance.md).
    """
    columns = [c.name for c in table.columns if c.name in frame.columns]
    if frame.height == 0 or not columns:
        return
    frame = _naive_utc(frame.select(columns))
    dialect = conn.dialect.name
    if dialect == "postgresql":
        _copy_postgres(conn, table, frame)
    elif dialect == "sqlite":
        _executemany_sqlite(conn, table, frame)
    else:  # any other SQLAlchemy backend: the portable (slower) path
        for start in range(0, frame.height, CHUNK_ROWS):
            conn.execute(table.insert(), frame.slice(start, CHUNK_ROWS).to_dicts())


REBUILD_INDEXES_MIN_ROWS = 100_000
"""Loads of at least this many rows into an empty table build its indexes after the load."""


def load_frame(conn: Connection, table: sa.Table, frame: pl.DataFrame, replace: bool = False
          ) -> None:
    """Bulk-insert (after emptying the table when `replace`), building the table's secondary
    indexes after the load when the table is empty and the load is large (a first load, a
    full rebuild, the drill-through every night): one sorted build is much cheaper than
    millions of index insertions (docs/performance.md). A table holding other batches keeps
    its indexes, as rebuilding them would re-sort every kept batch. All steps are
    transactional: a failed publish leaves the table and its indexes as they were."""
    large = frame.height >= REBUILD_INDEXES_MIN_ROWS
    if replace:
        _clear(conn, table, large)
    rebuild = bool(table.indexes) and large and conn.execute(
        sa.select(sa.literal(1)).select_from(table).limit(1)).first() is None
    if rebuild:
        for index in table.indexes:
            index.drop(conn)
    _insert(conn, table, frame)
    if rebuild:
        for index in table.indexes:
            index.create(conn)


def _clear(conn: Connection, table: sa.Table, large: bool) -> None:
    """Empty a table. Before a large load on PostgreSQL, TRUNCATE (transactional there): a
    DELETE of millions of rows leaves them dead in the heap, which the load and the index
    build after it then wade through (docs/performance.md). It takes the exclusive lock that
    dropping the indexes for the load takes anyway."""
    if large and conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"TRUNCATE {conn.dialect.identifier_preparer.format_table(table)}")
    else:
        conn.execute(table.delete())


def _copy_postgres(conn: Connection, table: sa.Table, frame: pl.DataFrame) -> None:
    prep = conn.dialect.identifier_preparer
    cols = ", ".join(prep.quote(c) for c in frame.columns)
    # Nulls are written as unquoted empty fields, which CSV-format COPY reads as NULL; the
    # pipeline never stores empty strings (blank values are null).
    sql = f"COPY {prep.format_table(table)} ({cols}) FROM STDIN WITH (FORMAT csv)"
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(sql) as copy:
        for start in range(0, frame.height, CHUNK_ROWS * 5):
            copy.write(frame.slice(start, CHUNK_ROWS * 5).write_csv(
                include_header=False, datetime_format="%Y-%m-%d %H:%M:%S%.6f",
                date_format="%Y-%m-%d"))


def _executemany_sqlite(conn: Connection, table: sa.Table, frame: pl.DataFrame) -> None:
    prep = conn.dialect.identifier_preparer
    cols = ", ".join(prep.quote(c) for c in frame.columns)
    marks = ", ".join("?" for _ in frame.columns)
    sql = f"INSERT INTO {prep.format_table(table)} ({cols}) VALUES ({marks})"  # noqa: S608
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    for start in range(0, frame.height, CHUNK_ROWS * 5):  # formatted slice by slice
        cursor.executemany(sql, _sqlite_values(frame.slice(start, CHUNK_ROWS * 5)).rows())


def _sqlite_values(frame: pl.DataFrame) -> pl.DataFrame:
    """Values as SQLAlchemy's SQLite types store them: dates and timestamps as text,
    booleans as 0/1."""
    return frame.with_columns(
        [pl.col(c).dt.strftime("%Y-%m-%d") for c, t in frame.schema.items()
         if t == pl.Date()]
        + [pl.col(c).dt.strftime("%Y-%m-%d %H:%M:%S.%6f") for c, t in frame.schema.items()
           if isinstance(t, pl.Datetime)]
        + [pl.col(c).cast(pl.Int8) for c, t in frame.schema.items() if t == pl.Boolean()]
    )


def run_status(manifest: Manifest) -> tuple[str, int]:
    """succeeded (exit 0) unless a file was rejected or missing (succeeded_with_issues, 3)."""
    if manifest.files_rejected_or_missing:
        return "succeeded_with_issues", ExitStatus.ISSUES
    return "succeeded", ExitStatus.OK


def content_checksum(manifest: Manifest) -> str:
    import hashlib

    h = hashlib.sha256()
    for name in sorted(manifest.extracts):
        o = manifest.extracts[name]
        h.update(f"{name}:{o.file_name}:{o.sha256}\n".encode())
    for f in sorted(manifest.unknown_files):
        h.update(f"other:{f}\n".encode())
    return h.hexdigest()


def _publish_indicators(conn: Connection, manifest: Manifest, run_id: str,
                        covering: dict[str, pl.DataFrame]) -> None:
    """Indicator catalogue, values and run record of the batch; the drill-through cases only
    when the batch is (or becomes) the latest, so an older batch re-run keeps the newest
    (whose version keys it re-reads, as a late batch may have split those versions)."""
    if not manifest.indicators:
        return
    as_of = manifest.as_of
    config = load_config()
    conn.execute(indicator.delete())
    conn.execute(indicator.insert(), [row("indicator", r) for r in catalogue_rows(config)])
    conn.execute(indicator_value.delete().where(indicator_value.c.as_of == as_of))
    _insert(conn, indicator_value, pl.read_parquet(manifest.indicators["values"]).with_columns(
        pl.lit(as_of).alias("as_of")))
    runs = pl.read_parquet(manifest.indicators["runs"])
    timescales = {r["code"]: r["timescales"] for r in catalogue_rows(config)}
    conn.execute(indicator_run.delete().where(indicator_run.c.as_of == as_of))
    conn.execute(indicator_run.insert(), [
        row("indicator_run", r, as_of=as_of, run_id=run_id,
            timescales=timescales.get(r["indicator_code"]))
        for r in runs.iter_rows(named=True)
    ])
    latest = conn.execute(sa.select(sa.func.max(batch.c.as_of))).scalar()
    if latest is None or as_of >= as_date(latest):
        cases = pl.read_parquet(manifest.indicators["cases"]).with_columns(
            pl.lit(as_of).alias("as_of"))
        write_drill_through(conn, _with_versions(cases, config, covering))
    else:
        _rekey_drill_through(conn)


def refresh_spc(conn: Connection, baseline_points: int = BASELINE_POINTS) -> None:
    """Recompute indicator_spc and indicator_spc_series from the monthly rows of each
    indicator's latest computed batch (the series indicator_value_latest shows), so a late
    batch leaves them as the newest batch made them. Small (a row per series and month):
    replaced whole, in the batch's transaction."""
    latest = (sa.select(indicator_run.c.indicator_code,
                        sa.func.max(indicator_run.c.as_of).label("as_of"))
              .where(indicator_run.c.status == "computed")
              .group_by(indicator_run.c.indicator_code).subquery())
    v = indicator_value.c
    cols = ("as_of", "indicator_code", "breakdown", "breakdown_value", "period_label",
            "period_start", "period_end", "value", "denominator")
    stmt = (sa.select(*(v[c] for c in cols))
            .join(latest, sa.and_(latest.c.indicator_code == v.indicator_code,
                                  latest.c.as_of == v.as_of))
            .where(v.period_type == "month"))
    fetched = conn.execute(stmt).all()
    months = pl.DataFrame(
        [dict(zip(cols, r, strict=True)) for r in fetched],
        schema={"as_of": pl.Date, "indicator_code": pl.String, "breakdown": pl.String,
                "breakdown_value": pl.String, "period_label": pl.String,
                "period_start": pl.Date, "period_end": pl.Date, "value": pl.Float64,
                "denominator": pl.Int64}, orient="row")
    months = months.with_columns(*(pl.col(c).cast(pl.Date) for c in
                                   ("as_of", "period_start", "period_end")))
    specs = {r.code: IndicatorSpec(polarity=r.polarity, target=r.target)
             for r in conn.execute(sa.select(indicator.c.code, indicator.c.polarity,
                                             indicator.c.target))}
    s = indicator_spc_series.c
    previous = {(r.indicator_code, r.breakdown, r.breakdown_value):
                (as_date(r.as_of), r.signal, None if r.previous_as_of is None
                 else as_date(r.previous_as_of), r.previous_signal)
                for r in conn.execute(
                    sa.select(s.indicator_code, s.breakdown, s.breakdown_value, s.as_of,
                              s.previous_as_of, s.previous_signal,
                              indicator_spc.c.signal)
                    .join(indicator_spc, sa.and_(
                        indicator_spc.c.indicator_code == s.indicator_code,
                        indicator_spc.c.breakdown == s.breakdown,
                        indicator_spc.c.breakdown_value == s.breakdown_value,
                        indicator_spc.c.period_start == s.period_start)))}
    points, series = spc_tables(months, specs, previous, baseline_points)
    conn.execute(indicator_spc_series.delete())
    conn.execute(indicator_spc.delete())
    for table, rows in ((indicator_spc, points), (indicator_spc_series, series)):
        for i in range(0, len(rows), CHUNK_ROWS):
            conn.execute(table.insert(), rows[i:i + CHUNK_ROWS])


REPLACE_SHARE = 0.5
"""When more than this share of the drill-through changed, it is replaced whole (with its
indexes built after the load) rather than edited row by row."""


def _rank_alike(frame: pl.DataFrame) -> pl.Series:
    """`k`: each row's number among the rows of its row_hash, in frame order (0 for a hash
    seen once: most rows; only the repeated ones pay for the window)."""
    repeated = frame["row_hash"].is_duplicated()
    k = pl.zeros(frame.height, pl.Int64, eager=True).alias("k")
    if not repeated.any():
        return k
    at = frame.select(pl.int_range(pl.len(), dtype=pl.Int64).alias("_i"), "row_hash").filter(
        repeated).select("_i", pl.int_range(pl.len()).over("row_hash").cast(pl.Int64)
                         .alias("k"))
    return k.scatter(at["_i"], at["k"])


def write_drill_through(conn: Connection, cases: pl.DataFrame) -> None:
    """Write only the drill-through rows that changed: each row's hash (of every value but
    the as_of) is compared with the stored ones; gone rows are deleted, new and changed rows
    inserted with new case_ids, and the rest stay as they are (their as_of says when they were
    written). A first load, or a night that changed most of it, replaces it whole. The hash
    is polars' own: a polars upgrade that changes it costs one full rewrite, never a wrong
    row."""
    from qa_pipeline.load.history import read_frame

    ic = indicator_case
    values = [c.name for c in ic.columns if c.name in cases.columns and c.name != "as_of"]
    cases = cases.with_columns(
        cases.select(values).hash_rows(seed=0).cast(pl.String).alias("row_hash"))
    stored = read_frame(conn, sa.select(ic.c.case_id, ic.c.row_hash),
                        {"case_id": pl.Int64(), "row_hash": pl.String()})

    def replace() -> None:
        load_frame(conn, ic, cases.with_columns(
            pl.int_range(1, pl.len() + 1).cast(pl.Int64).alias("case_id")), replace=True)

    if not stored.height:
        replace()
        return
    # rows alike in every value are matched one to one (k: their number among their like)
    stored = stored.sort("case_id")
    keys = [f.select("row_hash").with_columns(_rank_alike(f)) for f in (cases, stored)]
    fresh_rows = keys[0].with_row_index("_i").join(keys[1], on=["row_hash", "k"],
                                                   how="anti")["_i"].sort()
    gone = stored.with_columns(keys[1]["k"]).join(keys[0], on=["row_hash", "k"], how="anti")
    if fresh_rows.len() + gone.height > REPLACE_SHARE * stored.height:
        replace()
        return
    fresh = cases[fresh_rows]
    from qa_pipeline.load.history import delete_ids

    start = conn.execute(sa.select(sa.func.coalesce(sa.func.max(ic.c.case_id), 0))).scalar_one()
    delete_ids(conn, ic, ic.c.case_id, gone["case_id"].to_list())  # ids are never reused
    _insert(conn, ic, fresh.with_columns(
        (pl.int_range(pl.len()) + start + 1).cast(pl.Int64).alias("case_id")))


SPANS_REVISION = "qa_pipeline.load.migrations.versions.0008_record_history"
"""The revision that created dq_issue_span: its query fills the table (one definition; a
later revision that changes the table brings its own)."""


def refresh_issue_spans(conn: Connection) -> None:
    """Recompute `dq_issue_span`, the episodes of every issue over the published batches
    (the typed source of dq_issue_latest, dq_issue_resolved and dq_issue_episode), after
    the batch's issues and its `batch` row are written."""
    from importlib import import_module

    revision = import_module(SPANS_REVISION)
    conn.execute(dq_issue_span.delete())
    conn.exec_driver_sql(f"INSERT INTO dq_issue_span ({revision.SPAN_COLUMNS}) "
                         f"{revision.spans_select(conn.dialect.name)}")


def _case_outcome() -> pl.Expr:
    """As indicator_case_latest showed it: excluded, else counted / not counted (null for a
    median's cases)."""
    return (pl.when(pl.col("excluded_reason").is_not_null()).then(pl.lit("excluded"))
            .when(pl.col("in_numerator").is_null()).then(pl.lit(None, pl.String))
            .when(pl.col("in_numerator")).then(pl.lit("counted"))
            .otherwise(pl.lit("not counted")).alias("outcome"))


def _case_extracts(config: Any) -> dict[str, str]:
    """Indicator code → the extract whose records its cases are."""
    from qa_pipeline.transform.facts import SUBJECTS

    return {r["code"]: SUBJECTS[r["subject"]].record_extract for r in catalogue_rows(config)}


def _with_versions(cases: pl.DataFrame, config: Any, covering: dict[str, pl.DataFrame]
                   ) -> pl.DataFrame:
    """Each case with the extract and version_id of the record it was computed from. Only
    the two key columns are joined (a join of the whole drill-through, millions of rows,
    would copy it), in the cases' order."""
    extract = cases["indicator_code"].replace_strict(
        _case_extracts(config), default=None, return_dtype=pl.String()).alias("extract")
    used = set(extract.unique().drop_nulls().to_list())
    parts = [f.select("record_id", "version_id").with_columns(pl.lit(name).alias("extract"))
             for name, f in covering.items() if name in used]
    versions = pl.concat(parts, how="vertical_relaxed") if parts else pl.DataFrame(
        schema={"record_id": pl.String(), "version_id": pl.Int64(), "extract": pl.String()})
    keys = pl.DataFrame([extract, cases["record_id"]])
    version_id = keys.join(versions, on=["extract", "record_id"], how="left",
                           maintain_order="left")["version_id"]
    return cases.with_columns(extract, version_id.cast(pl.Int64)).with_columns(
        _case_outcome())


def _rekey_drill_through(conn: Connection) -> None:
    """Point the drill-through's cases (computed from the latest batch) at the versions that
    hold on the latest batch's date; a row whose version moved loses its row_hash, so the
    next night writes it again."""
    ic = indicator_case
    latest = conn.execute(sa.select(sa.func.max(batch.c.as_of))).scalar()
    if latest is None:
        return
    day = as_date(latest)
    for name in conn.execute(sa.select(ic.c.extract).distinct()).scalars():
        if name is None or history_table_name(name) not in metadata.tables:
            continue
        h = metadata.tables[history_table_name(name)]
        holds = sa.select(h.c.version_id).where(
            h.c.record_id == ic.c.record_id, h.c.occurrence == 1, h.c.valid_from <= day,
            sa.or_(h.c.valid_to.is_(None), h.c.valid_to > day)).scalar_subquery()
        conn.execute(ic.update().where(ic.c.extract == name, sa.or_(
            ic.c.version_id.is_(None), ic.c.version_id != holds)).values(
            version_id=holds, row_hash=None))


def ensure_dim_date(conn: Connection, first: date, last: date) -> None:
    """`dim_date` holds exactly the days from `first` to `last` (reporting-db.md 1.1): filled
    on the first publish, refilled when the configured range changes; otherwise one query."""
    have = conn.execute(sa.select(sa.func.min(dim_date.c.date), sa.func.max(dim_date.c.date),
                                  sa.func.count())).one()
    if have[2] and as_date(have[0]) == first and as_date(have[1]) == last and \
            have[2] == (last - first).days + 1:
        return
    conn.execute(dim_date.delete())
    _insert(conn, dim_date, calendar_frame(first, last))


def _publish_history(conn: Connection, manifest: Manifest, contracts: Contracts,
                     issues: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """Each extract's history brought up to date with the batch (load/history.py); returns,
    per extract, the version of each record that holds at the batch's date (record_id,
    version_id), for the drill-through."""
    from qa_pipeline.load.history import write_history

    quarantined = issues.filter(pl.col("severity") == "error",
                                pl.col("record_id").is_not_null())
    covering = {}
    for e in contracts.ordered():
        outcome = manifest.extracts.get(e.name)
        loaded = (pl.read_parquet(outcome.parquet)
                  if outcome is not None and outcome.parquet else None)
        written = write_history(conn, e, manifest.as_of, loaded,
                                quarantined.filter(pl.col("extract") == e.name))
        covering[e.name] = written.covering
        log.info("%s: %s history: %d versions opened, %d ends moved, %d removed",
                 manifest.as_of, e.name, written.inserted, written.retimed, written.deleted)
        failpoint(f"publish:after:{e.name}")
    return covering


def refresh_dim_team(conn: Connection, as_of: date) -> None:
    """`dim_team` from `teams_history` (a few rows): the latest version's name and service
    area, the first night a version opened, the last published night one held (`as_of`, the
    batch being published, included)."""
    th = metadata.tables[history_table_name("teams")]
    nights = sorted({as_of, *(as_date(v) for v in conn.execute(
        sa.select(batch.c.as_of).where(batch.c.in_history)).scalars())})
    rows = conn.execute(sa.select(th.c.team_id, th.c.team_name, th.c.service_area,
                                  th.c.valid_from, th.c.valid_to)).all()
    teams: dict[str, dict[str, Any]] = {}
    for team_id, name, area, since, until in sorted(rows, key=lambda r: as_date(r[3])):
        since = as_date(since)
        held = [d for d in nights if d >= since and (until is None or d < as_date(until))]
        t = teams.setdefault(team_id, {"team_id": team_id, "first_seen": since})
        t.update(team_name=name, service_area=area,
                 last_seen=max([*held, t.get("last_seen", since)]))
    conn.execute(dim_team.delete())
    if teams:
        conn.execute(dim_team.insert(), list(teams.values()))


def publish(manifest: Manifest, engine: Engine, run_id: str,
            contracts: Contracts | None = None, note: str | None = None,
            release: tuple[int, str] | None = None,
            dim_dates: tuple[date, date] = (DIM_DATE_FIRST, DIM_DATE_LAST),
            spc_baseline_points: int = BASELINE_POINTS) -> RunOutcome:
    """Replace the batch's rows in every published table, in one transaction.

    `note` is prefixed to the run's message (e.g. what changed in a redelivery); `release`
    (hold id, who) marks a held batch released in the same transaction. The case tables
    keep each record's versions (`<extract>_history`); issues, indicators and the run history
    keep every batch. `dim_date` covers `dim_dates` (first, last); the SPC baseline is the
    first `spc_baseline_points` points of each monthly series."""
    contracts = contracts or load_contracts()
    as_of = manifest.as_of
    status, exit_code = run_status(manifest)
    issues = pl.read_parquet(manifest.issues_parquet)
    issues = issues.with_columns(pl.lit(run_id).alias("run_id"))
    totals = {k: sum(getattr(o, k) for o in manifest.extracts.values())
              for k in ("rows_read", "rows_loaded", "rows_quarantined")}
    problems = manifest.files_rejected_or_missing
    message = (
        f"{totals['rows_loaded']} of {totals['rows_read']} rows loaded, "
        f"{totals['rows_quarantined']} quarantined, {issues.height} issues"
        + (f"; not loaded: {', '.join(problems)}" if problems else "")
    )
    if note:
        message = f"{note}; {message}"
    with engine.begin() as conn:
        failpoint("publish:begin")
        covering = _publish_history(conn, manifest, contracts, issues)
        refresh_dim_team(conn, as_of)
        conn.execute(dq_issue.delete().where(dq_issue.c.as_of == as_of))
        _insert(conn, dq_issue, issues)
        failpoint("publish:after:dq_issue")
        conn.execute(dq_rule.delete())
        conn.execute(dq_rule.insert(), [
            row("dq_rule", r, rename=DQ_RULE_RENAME)
            for r in contracts.rules
        ])
        _publish_indicators(conn, manifest, run_id, covering)
        if manifest.indicators:
            refresh_spc(conn, spc_baseline_points)
        ensure_dim_date(conn, *dim_dates)
        failpoint("publish:after:indicators")
        conn.execute(pipeline_run_extract.delete().where(pipeline_run_extract.c.run_id == run_id))
        conn.execute(pipeline_run_extract.insert(), [
            row("pipeline_run_extract", o, run_id=run_id) for o in manifest.extracts.values()
        ])
        conn.execute(batch.delete().where(batch.c.as_of == as_of))
        conn.execute(batch.insert().values(row(
            "batch", manifest, run_id=run_id, published_at=utcnow(),
            content_sha256=content_checksum(manifest), in_history=True)))
        refresh_issue_spans(conn)
        holds = batch_hold.update().where(batch_hold.c.as_of == as_of,
                                          batch_hold.c.status == "held")
        if release is not None:
            conn.execute(holds.where(batch_hold.c.hold_id == release[0]).values(
                status="released", released_at=utcnow(), released_by=release[1]))
        conn.execute(holds.values(status="superseded"))
        conn.execute(pipeline_run.update().where(pipeline_run.c.run_id == run_id).values(
            finished_at=utcnow(), status=status, exit_code=exit_code,
            message=redact_cut(message, 4000),
            published=True, content_sha256=content_checksum(manifest), **totals))
        failpoint("publish:before_commit")
    log.info("%s published: %s", as_of, message)
    return RunOutcome(run_id=run_id, status=status, exit_code=exit_code, message=message)


RETRYABLE = (sa.exc.OperationalError, sa.exc.InterfaceError)


def publish_with_retry(manifest: Manifest, engine: Engine, run_id: str, attempts: int = 5,
                       base_seconds: float = 2.0, **kwargs: Any) -> RunOutcome:
    # kwargs: contracts, note, release, dim_dates (see publish)
    """Publish, retrying with exponential back-off when the database connection fails.

    Safe because a publish is one transaction that first deletes the batch's rows: a failed
    attempt leaves nothing behind and a retry never duplicates."""
    from qa_pipeline.load.db import mask_url

    for attempt in range(1, attempts + 1):
        try:
            return publish(manifest, engine, run_id, **kwargs)
        except RETRYABLE as exc:
            if attempt == attempts:
                raise
            delay = base_seconds * 2 ** (attempt - 1)
            log.warning("%s: publishing failed (attempt %d of %d: %s); retrying in %.0f s",
                        manifest.as_of, attempt, attempts,
                        mask_url(str(exc.orig or exc)).splitlines()[0][:200], delay)
            engine.dispose()  # drop dead pooled connections
            time.sleep(delay)
    raise AssertionError("unreachable")
