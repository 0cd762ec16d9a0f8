"""The reporting database schema (reporting-db.md), built from the contracts with SQLAlchemy.

The staged case tables `stg_<extract>` are generated from the packaged contracts
(`qa_pipeline/spec/extracts.yaml`; a site's `contracts_file` declares the same extracts
and columns); the published-interface tables (`dq_issue`, `dq_rule`, `pipeline_run`, ...)
are declared here once.
Alembic migrations (`qa_pipeline/load/migrations`) are generated from this metadata, and a test
checks they never drift apart.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine, make_url

from qa_pipeline.spec.contracts import Contracts, Extract, load_contracts, packaged_contracts_path

SQL_TYPES: dict[str, type[sa.types.TypeEngine]] = {  # type: ignore[type-arg]
    "id": sa.String, "text": sa.Text, "code": sa.String, "flag": sa.String,
    "date": sa.Date, "datetime": sa.DateTime, "int": sa.Integer,
}

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def staged_table_name(extract: str) -> str:
    return f"stg_{extract}"


def _staged_table(e: Extract, md: sa.MetaData) -> sa.Table:
    cols: list[sa.Column] = [  # type: ignore[type-arg]
        sa.Column("as_of", sa.Date, primary_key=True,
                  comment="The batch's extract date."),
        sa.Column("source_row", sa.Integer, primary_key=True,
                  comment="Record number in the delivered file (1 = first after the header)."),
    ]
    for c in e.columns.values():
        cols.append(sa.Column(c.name, SQL_TYPES[c.type](), nullable=True,
                              comment=c.description or None))
    args: list[sa.schema.SchemaItem] = [*cols]
    key_cols = ["as_of", *e.key]
    if e.unique:
        args.append(sa.Index(f"ux_stg_{e.name}_key", *key_cols, unique=True))
    return sa.Table(staged_table_name(e.name), md, *args,
                    comment=f"Staged {e.name}: one row per loaded {e.label} per batch. "
                            f"{e.description}")


def build_metadata(contracts: Contracts) -> sa.MetaData:
    """Add the staged tables of the given contracts to the module metadata (idempotent)."""
    for e in contracts.ordered():
        if staged_table_name(e.name) not in metadata.tables:
            _staged_table(e, metadata)
    return metadata


batch = sa.Table(
    "batch", metadata,
    sa.Column("as_of", sa.Date, primary_key=True, comment="The batch's extract date."),
    sa.Column("run_id", sa.String(36), nullable=False,
              comment="The run that last published the batch."),
    sa.Column("published_at", sa.DateTime, nullable=False, comment="When (UTC)."),
    sa.Column("content_sha256", sa.String(64), nullable=False,
              comment="Checksum over the batch's files: a changed delivery is reprocessed."),
    sa.Column("batch_path", sa.Text, comment="Where the batch folder was read from."),
    comment="One row per published batch.",
)

pipeline_run = sa.Table(
    "pipeline_run", metadata,
    sa.Column("run_id", sa.String(36), primary_key=True),
    sa.Column("as_of", sa.Date, nullable=False, comment="The batch's extract date."),
    sa.Column("started_at", sa.DateTime, nullable=False, comment="UTC."),
    sa.Column("finished_at", sa.DateTime, comment="UTC; null if the run never finished."),
    sa.Column("status", sa.String(32), nullable=False,
              comment="succeeded, succeeded_with_issues or failed."),
    sa.Column("exit_code", sa.Integer, comment="The CLI's exit status for this run."),
    sa.Column("message", sa.Text, comment="Summary, or why the run failed."),
    sa.Column("rows_read", sa.Integer), sa.Column("rows_loaded", sa.Integer),
    sa.Column("rows_quarantined", sa.Integer),
    sa.Column("code_version", sa.String(64), nullable=False),
    sa.Column("contract_version", sa.Integer),
    sa.Column("batch_path", sa.Text),
    sa.Column("content_sha256", sa.String(64),
              comment="Checksum over the batch's files as this run read them."),
    sa.Column("published", sa.Boolean,
              comment="Whether this run published its batch (false: failed, held or skipped)."),
    comment="One row per run; per-extract counts in pipeline_run_extract.",
)

pipeline_run_extract = sa.Table(
    "pipeline_run_extract", metadata,
    sa.Column("run_id", sa.String(36), primary_key=True),
    sa.Column("extract", sa.String(64), primary_key=True),
    sa.Column("file_name", sa.Text),
    sa.Column("status", sa.String(16), nullable=False, comment="loaded, rejected or missing."),
    sa.Column("rows_read", sa.Integer, nullable=False),
    sa.Column("rows_loaded", sa.Integer, nullable=False),
    sa.Column("rows_quarantined", sa.Integer, nullable=False),
    sa.Column("warnings", sa.Integer, nullable=False),
    sa.Column("encoding", sa.String(16)),
    sa.Column("sha256", sa.String(64), comment="Checksum of the delivered file."),
    sa.Column("reason", sa.Text, comment="Why the file was rejected or missing."),
    comment="Per-extract row counts of each run.",
)

dq_issue = sa.Table(
    "dq_issue", metadata,
    sa.Column("issue_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("as_of", sa.Date, nullable=False, comment="The batch's extract date."),
    sa.Column("run_id", sa.String(36), nullable=False),
    sa.Column("extract", sa.Text, nullable=False,
              comment="The extract, or the file name for a file-level issue."),
    sa.Column("record_id", sa.Text, comment="The record's key as delivered (| between parts)."),
    sa.Column("child_id", sa.String),
    sa.Column("team_id", sa.String),
    sa.Column("rule_id", sa.String(128), nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("column_name", sa.Text),
    sa.Column("value", sa.String(200), comment="As delivered, cut to 200 characters."),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("source_row", sa.Integer, comment="Record number in the delivered file."),
    sa.Index("ix_dq_issue_as_of_rule", "as_of", "rule_id"),
    sa.Index("ix_dq_issue_record", "extract", "record_id", "rule_id"),
    comment="One row per (batch, record, rule) that failed.",
)

dq_rule = sa.Table(
    "dq_rule", metadata,
    sa.Column("rule_id", sa.String(128), primary_key=True),
    sa.Column("extract", sa.String(64), nullable=False),
    sa.Column("column_name", sa.Text),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("level", sa.String(8), nullable=False, comment="file or row."),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("guidance", sa.Text, nullable=False, comment="How to put it right in Paris."),
    comment="The rule catalogue, generated from the contracts.",
)

batch_hold = sa.Table(
    "batch_hold", metadata,
    sa.Column("hold_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("as_of", sa.Date, nullable=False),
    sa.Column("run_id", sa.String(36), nullable=False, comment="The run that held it."),
    sa.Column("held_at", sa.DateTime, nullable=False, comment="UTC."),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("staged_path", sa.Text, nullable=False,
              comment="Where the staged batch waits to be published."),
    sa.Column("status", sa.String(16), nullable=False,
              comment="held, released or superseded (a newer delivery of the date)."),
    sa.Column("released_at", sa.DateTime),
    sa.Column("released_by", sa.String(128)),
    sa.Index("ix_batch_hold_as_of", "as_of"),
    comment="Batches staged but not published until a data officer releases them.",
)

dq_exception = sa.Table(
    "dq_exception", metadata,
    sa.Column("exception_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("rule_id", sa.String(128), nullable=False),
    sa.Column("extract", sa.Text, nullable=False),
    sa.Column("record_id", sa.Text, comment="Null: the whole file-level issue."),
    sa.Column("reason", sa.Text, nullable=False,
              comment="Why the failure is correct practice (e.g. father genuinely unknown)."),
    sa.Column("created_by", sa.String(128), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False, comment="UTC."),
    sa.Column("expires_on", sa.Date, comment="Last batch date it applies to; null: no expiry."),
    sa.Column("removed_at", sa.DateTime, comment="UTC; null while in force."),
    sa.Column("removed_by", sa.String(128)),
    sa.Index("ix_dq_exception_key", "rule_id", "extract", "record_id"),
    comment="Accepted exceptions: failures a data officer has accepted; history is kept.",
)

indicator = sa.Table(
    "indicator", metadata,
    sa.Column("code", sa.String(16), primary_key=True),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("numerator_definition", sa.Text, nullable=False),
    sa.Column("denominator_definition", sa.Text, nullable=False),
    sa.Column("unit", sa.String(16), nullable=False, comment="percent or working_days."),
    sa.Column("polarity", sa.String(24), nullable=False,
              comment="higher_is_better or lower_is_better."),
    sa.Column("target", sa.Double, comment="From config/indicators.yaml; null = none set."),
    sa.Column("source", sa.Text, nullable=False,
              comment="The audit or published indicator it comes from."),
    sa.Column("subject", sa.String(32), comment="The fact table it counts."),
    sa.Column("event_date", sa.String(64), comment="The date that places a case in a period."),
    sa.Column("team", sa.Text, comment="Whose team a case counts for."),
    sa.Column("timescales", sa.Text, comment="Configuration values used (JSON)."),
    sa.Column("requires", sa.Text, comment="Extracts it needs (comma separated)."),
    comment="The indicator catalogue (indicators.md), definitions with the values used.",
)

indicator_value = sa.Table(
    "indicator_value", metadata,
    sa.Column("as_of", sa.Date, primary_key=True, comment="The batch's extract date."),
    sa.Column("indicator_code", sa.String(16), primary_key=True),
    sa.Column("period_type", sa.String(8), primary_key=True),
    sa.Column("period_label", sa.String(16), primary_key=True),
    sa.Column("period_start", sa.Date, nullable=False),
    sa.Column("period_end", sa.Date, nullable=False),
    sa.Column("breakdown", sa.String(8), primary_key=True, comment="all or team."),
    sa.Column("breakdown_value", sa.Text, primary_key=True, comment="ALL or team_id."),
    sa.Column("numerator", sa.Integer, comment="Null for a median."),
    sa.Column("denominator", sa.Integer, nullable=False),
    sa.Column("value", sa.Double, nullable=False,
              comment="100 x numerator / denominator, or the median."),
    comment="One row per (as_of, indicator, period, breakdown) with a denominator > 0.",
)

indicator_run = sa.Table(
    "indicator_run", metadata,
    sa.Column("as_of", sa.Date, primary_key=True),
    sa.Column("indicator_code", sa.String(16), primary_key=True),
    sa.Column("run_id", sa.String(36), nullable=False),
    sa.Column("status", sa.String(16), nullable=False, comment="computed or skipped."),
    sa.Column("reason", sa.Text, comment="Why it was skipped (extract missing or rejected)."),
    sa.Column("timescales", sa.Text, comment="Configuration values used (JSON)."),
    comment="Whether each indicator was computed for a batch, and why not.",
)

indicator_case = sa.Table(
    "indicator_case", metadata,
    sa.Column("case_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("as_of", sa.Date, nullable=False),
    sa.Column("indicator_code", sa.String(16), nullable=False),
    sa.Column("record_id", sa.Text, nullable=False, comment="The case's record key."),
    sa.Column("child_id", sa.String),
    sa.Column("team_id", sa.String),
    sa.Column("in_numerator", sa.Boolean, comment="Null for a median's cases."),
    sa.Column("measure", sa.Double, comment="The derived measure, e.g. a delay in working days."),
    sa.Column("event_date", sa.Date, nullable=False,
              comment="The date that places the case in its periods (the period date for a "
                      "point-in-time indicator)."),
    sa.Column("month", sa.String(16), comment="Month label, 2013-04; null when the case does "
              "not count there."),
    sa.Column("quarter", sa.String(16),
              comment="Financial quarter label; null when the case does not count there."),
    sa.Column("year", sa.String(16),
              comment="Financial year label; null when the case does not count there."),
    sa.Index("ix_indicator_case_code_month", "indicator_code", "month"),
    comment="Drill-through of the latest batch, one row per case and event date; the view "
            "indicator_case_latest lists it per period.",
)

build_metadata(load_contracts(packaged_contracts_path()))

# --- engines and migrations ----------------------------------------------------------------


def default_db_url(cwd: Path | None = None) -> str:
    return f"sqlite:///{(cwd or Path.cwd()) / 'qa_pipeline.db'}"


def mask_url(url: str) -> str:
    """The URL with any password hidden, for logs and messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL: hide anything that looks like user:pass@
        return re.sub(r"//[^@/]*@", "//***@", url)


SQLITE_MAGIC = b"SQLite format 3\x00"
"""The first 16 bytes of every SQLite database file."""


class NoDatabase(ValueError):
    """A command that reads (or edits) the reporting database was pointed at a SQLite file
    that does not exist, or at a file that is not a SQLite database (its run lock, say)."""


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL (as given, relative to the working folder), None
    for an in-memory database, another backend or a `file:` URI (`?uri=true`)."""
    u = make_url(url)
    if (u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:"
            or "uri" in u.query):
        return None
    return Path(u.database)


def require_database(url: str, *, must_exist: bool = True) -> Path | None:
    """Refuse a SQLite URL whose file does not exist (unless not `must_exist`), or is not a
    SQLite database (the run lock `<file>.lock` next to it, say): NoDatabase, and nothing is
    created. Returns the file (None for other backends, where connecting never creates a
    database)."""
    path = sqlite_file(url)
    if path is None:
        return None
    if not path.exists():
        if not must_exist:
            return path
        raise NoDatabase(f"no reporting database at {path.absolute()}")
    try:
        with path.open("rb") as f:
            head = f.read(len(SQLITE_MAGIC))
    except IsADirectoryError:
        raise NoDatabase(f"no reporting database at {path.absolute()} (a folder)") from None
    except OSError:  # unreadable: SQLite says why
        return path
    if not SQLITE_MAGIC.startswith(head):  # empty (a new database) or being written: fine
        lock = (f" (it is the run lock of {path.name.removesuffix('.lock')})"
                if path.name.endswith(".lock") else "")
        raise NoDatabase(f"{path.absolute()} is not a reporting database: not a SQLite "
                         f"file{lock}")
    return path


def make_engine(url: str, *, create: bool = True) -> Engine:
    """An engine for SQLite or PostgreSQL; SQLite waits for a lock instead of failing, and
    its transactions include DDL (see `_transactional_sqlite`).

    `create=False` (the commands that only read or edit a database a run created): a SQLite
    file that does not exist is `NoDatabase`, and the file is opened in SQLite's `mode=rw`,
    so neither the file nor its folder is ever created (not even if it vanishes after the
    check)."""
    u = make_url(url)
    if u.get_backend_name() != "sqlite":
        return sa.create_engine(u, pool_pre_ping=True)
    path = require_database(url, must_exist=not create)  # never a lock file or a stray file
    if path is not None and not create:
        import sqlite3

        uri = f"{path.absolute().as_uri()}?mode=rw"

        def connect() -> sqlite3.Connection:
            return sqlite3.connect(uri, uri=True, timeout=60, check_same_thread=False)

        return _transactional_sqlite(sa.create_engine(u, creator=connect))
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    return _transactional_sqlite(sa.create_engine(u, connect_args={"timeout": 60}))


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Create or upgrade the schema to the code's version (Alembic), atomically: every
    revision runs in one transaction (migrations/env.py), on SQLite as on PostgreSQL, so a
    run killed mid-upgrade leaves the database at its previous revision (or empty).

    Each statement the upgrade executes is a fault point `migrate:stmt:N` (N counts from 1;
    on SQLite statement 1 is the BEGIN; the trace notes its first words, "CREATE TABLE
    batch"), for the crash tests."""
    import itertools

    from qa_pipeline.ops.faults import failpoint

    counter = itertools.count(1)

    def each_statement(_conn: object, _cursor: object, statement: str, *_args: object
                       ) -> None:
        failpoint(f"migrate:stmt:{next(counter)}", note=" ".join(statement.split()[:3]))

    sa.event.listen(engine, "before_cursor_execute", each_statement)
    try:
        command.upgrade(alembic_config(engine), revision)
    finally:
        sa.event.remove(engine, "before_cursor_execute", each_statement)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _transactional_sqlite(engine: Engine) -> Engine:
    """Make SQLite transactions real, DDL included (SQLAlchemy's "Serializable isolation /
    Savepoints / Transactional DDL" recipe for pysqlite). Python's sqlite3 driver only
    BEGINs before INSERT/UPDATE/DELETE, so a CREATE TABLE outside such a transaction commits
    on its own: a first run killed while creating the schema left tables without an
    `alembic_version` row, and every later upgrade failed on "table ... already exists".
    Here the driver never BEGINs or COMMITs by itself; SQLAlchemy emits BEGIN whenever it
    starts a transaction, so `engine.begin()` covers every statement until its COMMIT."""
    import sqlite3

    @sa.event.listens_for(engine, "connect")
    def _driver_autocommit(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        dbapi_connection.isolation_level = None

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: sa.Connection) -> None:
        conn.exec_driver_sql("BEGIN")

    return engine


def as_date(v: Any) -> date:
    """A DATE from the database (SQLite returns ISO text from views)."""
    if isinstance(v, datetime):
        return v.date()
    if isinstance(v, date):
        return v
    return date.fromisoformat(str(v)[:10])
