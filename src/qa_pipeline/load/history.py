"""Record history: every version of every record instead of a copy of every night
(reporting-db.md 1.1, "Record history"; dbt snapshots: versions with valid_from/valid_to,
written incrementally).

A night's extract is a full snapshot. For each record it tells one of three things: the
record's values (present), that it is gone (absent: the file was loaded and the record is not
in it), or nothing (unknown: its row was quarantined, or the file was missing or rejected:
its last loaded version stays open). The history is the run-length form of those
observations over the published batches, in date order; `plan_versions` recomputes it over the
window of batches a publish touches and says which versions to insert, which to give another
`valid_to`, and which to delete. The window is the batch before this one and every later
batch: for a new night that is two batches (the common case, only the current versions are
read); a late batch or the re-run of an older one recomputes from the batch before it, so the
intervals around its date split exactly as if it had arrived on time, and a re-run leaves the
history as one run would. What a night said about a record is recovered from the history
itself (the version covering that night), the quarantined records kept open that night
(`history_carried`) and the extracts not loaded that night (`pipeline_run_extract`).
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from qa_pipeline.load.db import (
    as_date,
    batch,
    history_carried,
    history_table_name,
    metadata,
    pipeline_run_extract,
)
from qa_pipeline.spec.contracts import Extract

ABSENT = ""
"""The state of a record on a night it is known not to be in the extract."""
NEW = -1
"""The source of a state that comes from tonight's rows (not from a stored version)."""
VERSION_SCHEMA: dict[str, pl.DataType] = {
    "version_id": pl.Int64(), "record_id": pl.String(), "occurrence": pl.Int64(),
    "valid_from": pl.Date(), "valid_to": pl.Date(), "record_hash": pl.String(),
}
"""The columns of the stored versions `plan_versions` reads."""


def _canonical(frame: pl.DataFrame, columns: list[str]) -> pl.Expr:
    """One text per row naming each non-null value, in a fixed format: a column added to a
    contract and left empty does not change any record's hash."""
    parts = []
    for c in columns:
        dtype = frame.schema[c]
        if dtype == pl.Date():
            text = pl.col(c).dt.strftime("%Y-%m-%d")
        elif isinstance(dtype, pl.Datetime):
            text = pl.col(c).dt.strftime("%Y-%m-%dT%H:%M:%S%.6f")
        else:
            text = pl.col(c).cast(pl.String)
        parts.append(pl.when(pl.col(c).is_not_null()).then(pl.lit(f"{c}=") + text))
    return pl.concat_str(parts, separator="\x1f", ignore_nulls=True)


def record_hash(frame: pl.DataFrame, columns: list[str]) -> pl.Series:
    """A stable 64-bit hash (BLAKE2b, hex) of each row's values. Stored with each version and
    compared night after night, so it must not change with the polars version (polars' own
    hash may)."""
    texts = frame.select(_canonical(frame, columns).fill_null("").alias("t"))["t"]
    b2 = hashlib.blake2b
    # in slices: a million rows' texts as Python strings would cost a GiB at once
    parts = [pl.Series("record_hash", [b2(t.encode(), digest_size=8).hexdigest()
                                       for t in texts.slice(i, HASH_SLICE).to_list()],
                       pl.String) for i in range(0, texts.len(), HASH_SLICE)]
    return pl.concat(parts) if parts else pl.Series("record_hash", [], pl.String)


HASH_SLICE = 100_000


def record_id_of(e: Extract) -> pl.Expr:
    """The record's key as in dq_issue: the key columns joined by `|`, blanks as ''."""
    return pl.concat_str([pl.col(k).cast(pl.String).fill_null("") for k in e.key],
                         separator="|")


def typed_keys(e: Extract, record_ids: pl.Series) -> pl.Series:
    """Record ids as delivered (dq_issue's) in the spelling of the typed key columns the
    history's record_id is built from (a code delivered as `mother` is `MOTHER`), so a
    quarantined row finds its record's versions."""
    from qa_pipeline.ingest.validation import DTYPES, parse_expr
    from qa_pipeline.spec.rule_kinds import raw

    parts = pl.DataFrame({"id": record_ids}).with_columns(
        pl.col("id").str.split_exact("|", len(e.key) - 1).alias("p")).unnest("p")
    fields = [f"field_{i}" for i in range(len(e.key))]
    frame = parts.select(pl.col(f).alias(raw(k)) for f, k in zip(fields, e.key, strict=True))
    typed = frame.select(parse_expr(e.columns[k]).cast(DTYPES[e.columns[k].type]).alias(k)
                         for k in e.key)
    return typed.select(record_id_of(e).alias("record_id"))["record_id"]


def tonight_versions(e: Extract, loaded: pl.DataFrame) -> pl.DataFrame:
    """Tonight's loaded rows as versions-to-be: record_id, occurrence, record_hash and the
    contract's columns. Where the key is not unique, rows of one key are numbered by hash."""
    columns = list(e.columns)
    frame = loaded.select(columns)
    frame = frame.with_columns(  # naive UTC, as stored (and as read back for a repeat)
        pl.col(c).dt.replace_time_zone(None) for c, t in frame.schema.items()
        if isinstance(t, pl.Datetime) and t.time_zone is not None)
    frame = frame.with_columns(record_id_of(e).alias("record_id"),
                               record_hash(frame, columns))
    frame = frame.sort("record_id", "record_hash").with_columns(
        pl.int_range(1, pl.len() + 1).over("record_id").cast(pl.Int64).alias("occurrence"))
    return frame.select("record_id", "occurrence", "record_hash", *columns)


@dataclass
class VersionPlan:
    """What a publish writes to one history table."""

    insert: pl.DataFrame
    """record_id, occurrence, valid_from, valid_to, record_hash, source (NEW: tonight's row;
    otherwise the version_id whose values the new version repeats)."""
    retime: pl.DataFrame
    """version_id, valid_to: kept versions whose end changes (null: open again)."""
    delete: list[int]
    """version_ids no longer in the history."""

    @property
    def changes(self) -> int:
        return self.insert.height + self.retime.height + len(self.delete)


def _observations(dates: list[date], as_of: date, has_prior: bool, versions: pl.DataFrame,
                  tonight: pl.DataFrame | None, carried: pl.DataFrame,
                  unloaded: set[date]) -> pl.DataFrame:
    """One row per (record, night of the window): pos, state (hash, ABSENT, or null for
    unknown) and src (version_id, NEW, or -2 for absent)."""
    ident = ["record_id", "occurrence"]
    keys = [versions.select(ident)]
    if tonight is not None:
        keys.append(tonight.select(ident))
    records = pl.concat(keys).unique()
    nights = pl.DataFrame({"b": dates, "pos": list(range(len(dates)))},
                          schema={"b": pl.Date(), "pos": pl.Int64()})
    grid = records.join(nights, how="cross")
    covering = grid.join(versions.select(*ident, "version_id", "valid_from", "valid_to",
                                         "record_hash"), on=ident).filter(
        (pl.col("valid_from") <= pl.col("b"))
        & (pl.col("valid_to").is_null() | (pl.col("valid_to") > pl.col("b")))
    ).select(*ident, "b", pl.col("record_hash").alias("h_hash"),
             pl.col("version_id").alias("h_src"))
    grid = grid.join(covering, on=[*ident, "b"], how="left")
    if tonight is not None:
        grid = grid.join(tonight.select(*ident, pl.col("record_hash").alias("t_hash"),
                                        pl.lit(as_of, pl.Date()).alias("b")),
                         on=[*ident, "b"], how="left")
    else:
        grid = grid.with_columns(pl.lit(None, pl.String).alias("t_hash"))
    grid = grid.join(carried.select("record_id", "b", pl.lit(True).alias("carried")).unique(),
                     on=["record_id", "b"], how="left")
    is_tonight = pl.col("b") == as_of
    # the first night of the window (the batch before this one) is read as the history has
    # it; any other night is unknown when its file was not loaded or the row was quarantined
    unknown = ((pl.col("pos") > 0) | ~pl.lit(has_prior)) & (
        pl.col("b").is_in(sorted(unloaded)) | pl.col("carried").fill_null(False)
        | (is_tonight & pl.lit(tonight is None)))
    unknown = unknown & ~(is_tonight & pl.col("t_hash").is_not_null())
    state = pl.when(is_tonight).then(pl.col("t_hash")).otherwise(pl.col("h_hash"))
    src = pl.when(is_tonight).then(
        pl.when(pl.col("t_hash").is_not_null()).then(pl.lit(NEW))).otherwise(pl.col("h_src"))
    return grid.select(
        *ident, "pos",
        pl.when(unknown).then(None).otherwise(state.fill_null(ABSENT)).alias("state"),
        pl.when(unknown).then(None).otherwise(src.fill_null(-2)).cast(pl.Int64).alias("src"),
    )


def plan_versions(dates: list[date], as_of: date, versions: pl.DataFrame,
                  tonight: pl.DataFrame | None, carried: pl.DataFrame, unloaded: set[date],
                  has_prior: bool) -> VersionPlan:
    """Recompute the history over `dates` (the window: the batch before `as_of` when
    `has_prior`, then every published batch from it on, `as_of` included, sorted).

    `versions`: the stored versions that reach into the window (VERSION_SCHEMA);
    `tonight`: `tonight_versions` of the batch, None when its file was not loaded;
    `carried`: record_id, b — records quarantined on night b (their versions stay open);
    `unloaded`: nights of the window (other than `as_of`) whose file was not loaded."""
    ident = ["record_id", "occurrence"]
    if versions.height == 0 and dates == [as_of]:  # the first batch: every row opens
        rows = tonight if tonight is not None else pl.DataFrame(
            schema={c: VERSION_SCHEMA[c] for c in (*ident, "record_hash")})
        return VersionPlan(
            insert=rows.select(*ident, pl.lit(as_of, pl.Date()).alias("valid_from"),
                               pl.lit(None, pl.Date()).alias("valid_to"), "record_hash",
                               pl.lit(NEW, pl.Int64()).alias("source")),
            retime=pl.DataFrame(schema={"version_id": pl.Int64(), "valid_to": pl.Date()}),
            delete=[])
    obs = _observations(dates, as_of, has_prior, versions, tonight, carried, unloaded)
    # sorted by record then night, the per-record windows are done with whole-column
    # operations (a window per record costs seconds at a million records): g numbers the
    # records, a fill only takes a value from its own record, and `run` (a new number at
    # each change of state, and at each record's first night) is unique across records
    g = ((pl.col("record_id") != pl.col("record_id").shift(1))
         | (pl.col("occurrence") != pl.col("occurrence").shift(1))
         ).fill_null(True).cast(pl.Int64).cum_sum()
    obs = obs.sort(*ident, "pos").with_columns(g.alias("g"))

    def filled(c: str, missing: Any) -> pl.Expr:
        own = pl.when(pl.col(c).is_not_null()).then(pl.col("g")).forward_fill()
        return (pl.when(own == pl.col("g")).then(pl.col(c).forward_fill())
                .otherwise(None).fill_null(missing).alias(c))

    obs = obs.with_columns(filled("state", ABSENT), filled("src", -2))
    same = pl.col("g") == pl.col("g").shift(1)
    obs = obs.with_columns(
        (~same.fill_null(False) | (pl.col("state") != pl.col("state").shift(1)))
        .cast(pl.Int64).cum_sum().alias("run"))
    runs = obs.filter(pl.col("state") != ABSENT).group_by("run").agg(
        pl.col("record_id").first(), pl.col("occurrence").first(),
        pl.col("pos").min().alias("first"), pl.col("pos").max().alias("last"),
        pl.col("state").first().alias("record_hash"),
        # tonight's row where the run has one (NEW), else the stored version it repeats
        pl.col("src").first().alias("first_src"), pl.col("src").min().alias("source"))
    ends = pl.DataFrame({"last": list(range(len(dates))),
                         "valid_to": [*dates[1:], None]},
                        schema={"last": pl.Int64(), "valid_to": pl.Date()})
    starts = pl.DataFrame({"first": list(range(len(dates))), "start": dates},
                          schema={"first": pl.Int64(), "start": pl.Date()})
    since = versions.select(pl.col("version_id").alias("first_src"),
                            pl.col("valid_from").alias("since"))
    runs = runs.join(ends, on="last", how="left").join(starts, on="first", how="left").join(
        since, on="first_src", how="left").with_columns(
        pl.when((pl.col("first") == 0) & pl.lit(has_prior)).then(pl.col("since"))
        .otherwise(pl.col("start")).alias("valid_from"))
    return _match(runs.select(*ident, "valid_from", "valid_to", "record_hash", "source"),
                  versions)


def _match(runs: pl.DataFrame, versions: pl.DataFrame) -> VersionPlan:
    """Keep each stored version that a run repeats (same record, start and values), retiming
    its end where that moved; insert the other runs; delete the versions no run repeats."""
    key = ["record_id", "occurrence", "valid_from", "record_hash"]
    stored = versions.select(*key, "version_id", pl.col("valid_to").alias("stored_to"))
    both = runs.join(stored, on=key, how="left")
    kept = both.filter(pl.col("version_id").is_not_null())
    retime = kept.filter(~pl.col("valid_to").eq_missing(pl.col("stored_to"))).select(
        "version_id", "valid_to")
    insert = both.filter(pl.col("version_id").is_null()).select(
        "record_id", "occurrence", "valid_from", "valid_to", "record_hash", "source")
    keep_ids = set(kept["version_id"].to_list())
    delete = [v for v in versions["version_id"].to_list() if v not in keep_ids]
    return VersionPlan(insert=insert, retime=retime, delete=delete)


# --- reading and writing the history tables (inside the publish transaction) ---------------


def read_frame(conn: Connection, stmt: sa.Select[Any], schema: dict[str, pl.DataType]
                ) -> pl.DataFrame:
    """A query's rows as a typed frame, through the driver (COPY on PostgreSQL): SQLAlchemy's
    row processing would cost seconds for the millions of current versions read nightly."""
    sql = str(stmt.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    text_schema = {c: pl.String() for c in schema}
    if conn.dialect.name == "postgresql":
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        cursor.execute("SET LOCAL DateStyle TO ISO, YMD")  # dates as 2026-11-25, whatever
        buf = io.BytesIO()
        with cursor.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)") as copy:
            for block in copy:
                buf.write(block)
        buf.seek(0)
        frame = (pl.read_csv(buf, has_header=False, new_columns=list(schema),
                             schema_overrides=text_schema)
                 if buf.getbuffer().nbytes else pl.DataFrame(schema=text_schema))
    else:
        # the driver's own cursor (SQLAlchemy's rows cost as much again), typed by the
        # schema, never by the first rows (valid_to is null in most)
        # (in slices: millions of rows as Python tuples at once would cost gigabytes)
        read_schema = {c: pl.String() if t == pl.Date() else t for c, t in schema.items()}
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        parts = [pl.DataFrame(schema=read_schema)]
        try:
            cursor.execute(sql)
            while rows := cursor.fetchmany(FETCH_ROWS):
                parts.append(pl.DataFrame(rows, orient="row", schema=read_schema))
        finally:
            cursor.close()
        frame = pl.concat(parts, rechunk=True)
    return frame.with_columns(
        pl.col(c).cast(pl.String).str.slice(0, 10).str.to_date("%Y-%m-%d")
        if t == pl.Date() else pl.col(c).cast(t)
        for c, t in schema.items())


FETCH_ROWS = 200_000
"""Rows read from SQLite per slice by `read_frame`."""


def _window(conn: Connection, as_of: date) -> tuple[list[date], bool]:
    """The nights a publish of `as_of` recomputes: the batch before it (if any) and every
    published batch from it on."""
    published = {as_date(v) for v in conn.execute(
        sa.select(batch.c.as_of).where(batch.c.in_history)).scalars()}  # not those before it
    before = [d for d in published if d < as_of]
    prior = max(before) if before else None
    nights = sorted({d for d in published if prior is None or d >= prior} | {as_of})
    return nights, prior is not None


def _unloaded(conn: Connection, extract: str, nights: list[date], as_of: date) -> set[date]:
    pre = pipeline_run_extract
    others = [d for d in nights if d != as_of]
    if not others:
        return set()
    rows = conn.execute(sa.select(batch.c.as_of).join(
        pre, sa.and_(pre.c.run_id == batch.c.run_id, pre.c.extract == extract))
        .where(batch.c.as_of.in_(others), pre.c.status != "loaded"))
    return {as_date(v) for v in rows.scalars()}


def _carried(conn: Connection, extract: str, nights: list[date], as_of: date,
             tonight: pl.DataFrame) -> pl.DataFrame:
    hc = history_carried
    stored = read_frame(conn, sa.select(hc.c.record_id, hc.c.as_of).where(
        hc.c.extract == extract, hc.c.as_of.in_([d for d in nights if d != as_of])),
        {"record_id": pl.String(), "b": pl.Date()})
    return pl.concat([stored, tonight.select("record_id", pl.lit(as_of).alias("b"))])


@dataclass
class HistoryWrite:
    """One extract's history written by a publish (for the log and the benchmark)."""

    extract: str
    inserted: int
    retimed: int
    deleted: int
    covering: pl.DataFrame
    """record_id, version_id of the versions that hold on the batch's date (occurrence 1)."""


def write_history(conn: Connection, e: Extract, as_of: date, loaded: pl.DataFrame | None,
                  quarantined: pl.DataFrame) -> HistoryWrite:
    """Bring `<extract>_history` up to date with batch `as_of` (reporting-db.md 1.1).

    `loaded`: the batch's loaded rows (None: the file was missing or rejected);
    `quarantined`: record_id of the batch's quarantined rows of this extract (those that
    have no loaded row stay open, and are remembered in `history_carried`)."""
    table = metadata.tables[history_table_name(e.name)]
    conn.execute(history_carried.delete().where(history_carried.c.as_of == as_of,
                                                history_carried.c.extract == e.name))
    nights, has_prior = _window(conn, as_of)
    if loaded is None and nights[-1] == as_of and not _touches(conn, table, as_of):
        return HistoryWrite(e.name, 0, 0, 0, _no_versions())  # all stays open
    tonight = None if loaded is None else tonight_versions(e, loaded)
    carried_tonight = pl.DataFrame({"record_id": typed_keys(
        e, quarantined["record_id"])}).drop_nulls().unique()
    if tonight is not None and e.unique:  # a duplicate key whose first copy loaded: present
        carried_tonight = carried_tonight.join(tonight.select("record_id"), on="record_id",
                                               how="anti")
    elif tonight is not None:  # rows of one key are told apart by values: keep the key open
        tonight = tonight.join(carried_tonight, on="record_id", how="anti")
    stmt = sa.select(*(table.c[c] for c in VERSION_SCHEMA))
    if has_prior:  # the versions that reach into the window
        stmt = stmt.where(sa.or_(table.c.valid_to.is_(None), table.c.valid_to > nights[0]))
    versions = read_frame(conn, stmt, VERSION_SCHEMA)
    if tonight is not None and not e.unique:
        tonight = _keep_occurrences(tonight, versions)
    plan = plan_versions(nights, as_of, versions, tonight,
                         _carried(conn, e.name, nights, as_of, carried_tonight),
                         _unloaded(conn, e.name, nights, as_of), has_prior)
    inserted = _apply(conn, table, plan, tonight, e)
    if loaded is not None and carried_tonight.height:
        conn.execute(history_carried.insert(), [
            {"as_of": as_of, "extract": e.name, "record_id": r}
            for r in carried_tonight["record_id"].to_list()])
    return HistoryWrite(e.name, plan.insert.height, plan.retime.height, len(plan.delete),
                        _covering(versions, plan, inserted, as_of))


def _keep_occurrences(tonight: pl.DataFrame, versions: pl.DataFrame) -> pl.DataFrame:
    """Where a key is not unique: a row whose values an open version of its key has keeps
    that version's occurrence number (identical rows matched one to one); the other rows
    take numbers after the key's highest, so an added row does not renumber the others."""
    def ranked(f: pl.DataFrame) -> pl.DataFrame:
        return f.with_columns(pl.int_range(pl.len()).over("record_id", "record_hash")
                              .alias("k"))

    open_ = ranked(versions.filter(pl.col("valid_to").is_null()).select(
        "record_id", "record_hash", pl.col("occurrence").alias("kept")).sort("kept"))
    top = versions.group_by("record_id").agg(pl.col("occurrence").max().alias("top"))
    rows = ranked(tonight.drop("occurrence")).join(
        open_, on=["record_id", "record_hash", "k"], how="left").join(
        top, on="record_id", how="left")
    fresh = pl.col("kept").is_null().cast(pl.Int64).cum_sum().over("record_id")
    return rows.with_columns(
        pl.when(pl.col("kept").is_null()).then(pl.col("top").fill_null(0) + fresh)
        .otherwise(pl.col("kept")).cast(pl.Int64).alias("occurrence")).select(tonight.columns)


def _no_versions() -> pl.DataFrame:
    return pl.DataFrame(schema={"record_id": pl.String(), "version_id": pl.Int64()})


def _covering(versions: pl.DataFrame, plan: VersionPlan, inserted: pl.DataFrame,
              as_of: date) -> pl.DataFrame:
    """The versions that hold on `as_of` once the plan is written."""
    kept = versions.filter(~pl.col("version_id").is_in(plan.delete)).join(
        plan.retime.rename({"valid_to": "moved"}), on="version_id", how="left").with_columns(
        pl.when(pl.col("version_id").is_in(plan.retime["version_id"].implode()))
        .then(pl.col("moved")).otherwise(pl.col("valid_to")).alias("valid_to"))
    cols = ["record_id", "occurrence", "version_id", "valid_from", "valid_to"]
    both = pl.concat([kept.select(cols), inserted.select(cols)], how="vertical_relaxed")
    return both.filter(pl.col("occurrence") == 1, pl.col("valid_from") <= as_of,
                       pl.col("valid_to").is_null() | (pl.col("valid_to") > as_of)
                       ).select("record_id", "version_id")


def _touches(conn: Connection, table: sa.Table, as_of: date) -> bool:
    """Whether a stored version starts or ends at `as_of` (an earlier run of this batch)."""
    return conn.execute(sa.select(sa.literal(1)).select_from(table).where(
        (table.c.valid_from == as_of) | (table.c.valid_to == as_of)).limit(1)).first() is not None


IDS_PER_STATEMENT = 1000


def _in_chunks(ids: list[int]) -> list[list[int]]:
    return [ids[i:i + IDS_PER_STATEMENT] for i in range(0, len(ids), IDS_PER_STATEMENT)]


def delete_ids(conn: Connection, table: sa.Table, key: sa.Column[Any], ids: list[int]
               ) -> None:
    """Delete rows by a list of keys, a thousand per statement."""
    for chunk in _in_chunks(sorted(ids)):
        conn.execute(table.delete().where(key.in_(chunk)))


def _apply(conn: Connection, table: sa.Table, plan: VersionPlan, tonight: pl.DataFrame | None,
           e: Extract) -> pl.DataFrame:
    """Write a plan: deletes and retimes by version_id lists (a night's retimes share one
    valid_to, so they are a few statements), inserts in bulk with new version_ids (returned:
    record_id, occurrence, version_id, valid_from, valid_to)."""
    from qa_pipeline.load.publish import load_frame

    vid = table.c.version_id
    # the values of repeated versions are read before any of them is deleted, and new ids
    # start after the highest before the deletes (an id never names two versions)
    frame = _new_versions(conn, table, plan, tonight, e) if plan.insert.height else None
    start = conn.execute(sa.select(sa.func.coalesce(sa.func.max(vid), 0))).scalar_one()
    delete_ids(conn, table, vid, plan.delete)
    for (valid_to,), group in plan.retime.group_by("valid_to", maintain_order=True):
        for chunk in _in_chunks(sorted(group["version_id"].to_list())):
            conn.execute(table.update().where(vid.in_(chunk)).values(valid_to=valid_to))
    if frame is None:
        return pl.DataFrame(schema={c: VERSION_SCHEMA[c] for c in (
            "record_id", "occurrence", "version_id", "valid_from", "valid_to")})
    # ids in key order, so the same batches give the same ids on every database
    frame = frame.sort("record_id", "occurrence", "valid_from").with_columns(
        (pl.int_range(pl.len()) + start + 1).cast(pl.Int64).alias("version_id"))
    load_frame(conn, table, frame)
    return frame.select("record_id", "occurrence", "version_id", "valid_from", "valid_to")


def _new_versions(conn: Connection, table: sa.Table, plan: VersionPlan,
                  tonight: pl.DataFrame | None, e: Extract) -> pl.DataFrame:
    """The inserted versions with their values: tonight's row, or (where a late batch split a
    version) the values of the stored version they repeat."""
    from qa_pipeline.spec.published import CONTRACT_TYPES, polars_type

    ident = ["record_id", "occurrence", "record_hash"]
    columns = list(e.columns)
    parts = []
    new = plan.insert.filter(pl.col("source") == NEW)
    if new.height:
        assert tonight is not None, "a version from tonight's rows without rows tonight"
        parts.append(new.join(tonight.select(*ident, *columns), on=ident, how="left"))
    repeats = plan.insert.filter(pl.col("source") != NEW)
    if repeats.height:
        vid = table.c.version_id
        schema = {"source": pl.Int64(),
                  **{c: polars_type(CONTRACT_TYPES[e.columns[c].type]) for c in columns}}
        rows: list[Any] = []
        for chunk in _in_chunks(repeats["source"].unique().to_list()):
            rows += conn.execute(sa.select(vid, *(table.c[c] for c in columns))
                                 .where(vid.in_(chunk))).all()
        values = pl.DataFrame([tuple(r) for r in rows], schema=schema, orient="row")
        parts.append(repeats.join(values, on="source", how="left"))
    return pl.concat(parts, how="diagonal_relaxed")
