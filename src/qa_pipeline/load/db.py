"""The reporting database schema (reporting-db.md), built from the contracts with SQLAlchemy.

The case tables `<extract>_history` (and the views `<extract>_current` and
`stg_<extract>` over them) are generated from the packaged contracts
(`qa_pipeline/spec/extracts.yaml`; a site's `contracts_file` declares the same extracts
and columns); the other published tables (`dq_issue`, `dq_rule`, `pipeline_run`, ...) are
built from their declaration in `qa_pipeline/spec/published.yaml` (`spec/published.py`).
The Alembic migrations (`qa_pipeline/load/migrations`) are frozen; tests check that they build
exactly this metadata and exactly the declared tables and views.
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
from qa_pipeline.spec.published import CONTRACT_TYPES, PublishedColumn, Relation, published

PUBLISHED_SQL_TYPES: dict[str, type[sa.types.TypeEngine]] = {  # type: ignore[type-arg]
    "date": sa.Date, "datetime": sa.DateTime, "string": sa.String, "text": sa.Text,
    "int": sa.Integer, "bool": sa.Boolean, "double": sa.Double,
}
"""The SQL type of each logical type of spec/published.py."""
SQL_TYPES: dict[str, type[sa.types.TypeEngine]] = {  # type: ignore[type-arg]
    ctype: PUBLISHED_SQL_TYPES[logical] for ctype, logical in CONTRACT_TYPES.items()}
"""The SQL type of a staged column of each contract type."""

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def staged_table_name(extract: str) -> str:
    return f"stg_{extract}"


def history_table_name(extract: str) -> str:
    return f"{extract}_history"


def current_view_name(extract: str) -> str:
    return f"{extract}_current"


HISTORY_COLUMNS: tuple[str, ...] = ("version_id", "record_id", "occurrence", "valid_from",
                                    "valid_to", "record_hash")
"""The columns every `<extract>_history` table has before the contract's columns."""


def _history_table(e: Extract, md: sa.MetaData) -> sa.Table:
    """One row per version of a record (reporting-db.md 1.1, Record history)."""
    name = history_table_name(e.name)
    cols: list[sa.Column] = [  # type: ignore[type-arg]
        sa.Column("version_id", sa.Integer, primary_key=True, autoincrement=False,
                  comment="The version's key; BI joins the drill-through on it."),
        sa.Column("record_id", sa.Text, nullable=False,
                  comment="The record's key as in dq_issue (key columns joined by |)."),
        sa.Column("occurrence", sa.Integer, nullable=False,
                  comment="1; where an extract's key is not unique, the number of the row "
                          "among those of the same key (ordered by record_hash)."),
        sa.Column("valid_from", sa.Date, nullable=False,
                  comment="as_of of the first published batch that holds this version."),
        sa.Column("valid_to", sa.Date, nullable=True,
                  comment="as_of of the first later published batch in which the record has "
                          "other values or is absent; null while current."),
        sa.Column("record_hash", sa.String(16), nullable=False,
                  comment="Hash of the version's values (change detection)."),
    ]
    for c in e.columns.values():
        cols.append(sa.Column(c.name, SQL_TYPES[c.type](), nullable=True,
                              comment=c.description or None))
    return sa.Table(name, md, *cols,
                    sa.Index(f"ux_{name}_record", "record_id", "occurrence", "valid_from",
                             unique=True),
                    sa.Index(f"ix_{name}_valid_to", "valid_to"),
                    comment=f"History of {e.name}: one row per version of a {e.label}. "
                            f"{e.description}")


view_metadata = sa.MetaData()
"""The generated views (`stg_<extract>`, `<extract>_current`), for queries: never created
from this metadata (the migrations create them)."""


def _views(e: Extract, history: sa.Table) -> None:
    contract = [sa.Column(c.name, c.type) for c in history.columns
                if c.name in e.columns]
    sa.Table(current_view_name(e.name), view_metadata,
             *(sa.Column(c.name, c.type) for c in history.columns))
    sa.Table(staged_table_name(e.name), view_metadata, sa.Column("as_of", sa.Date),
             *contract)


def build_metadata(contracts: Contracts) -> sa.MetaData:
    """Add the history tables of the given contracts to the module metadata, and their views
    to `view_metadata` (idempotent)."""
    for e in contracts.ordered():
        if history_table_name(e.name) not in metadata.tables:
            _views(e, _history_table(e, metadata))
    return metadata


def _sql_type(c: PublishedColumn) -> sa.types.TypeEngine:  # type: ignore[type-arg]
    if c.type == "string":
        return sa.String(c.length)
    return PUBLISHED_SQL_TYPES[c.type]()


def _published_table(rel: Relation, md: sa.MetaData) -> sa.Table:
    """The SQLAlchemy table of a declared published table (spec/published.yaml)."""
    cols = [sa.Column(c.name, _sql_type(c), primary_key=c.name in rel.primary_key,
                      nullable=c.nullable, comment=c.comment)
            for c in rel.columns.values()]
    indexes = [sa.Index(name, *columns) for name, columns in rel.indexes.items()]
    return sa.Table(rel.name, md, *cols, *indexes, comment=rel.description)


TABLES: dict[str, sa.Table] = {rel.name: _published_table(rel, metadata)
                               for rel in published().tables()}
"""Every declared published table (not the staged ones), by name."""

batch = TABLES["batch"]
pipeline_run = TABLES["pipeline_run"]
pipeline_run_extract = TABLES["pipeline_run_extract"]
dq_issue = TABLES["dq_issue"]
dq_rule = TABLES["dq_rule"]
batch_hold = TABLES["batch_hold"]
dq_exception = TABLES["dq_exception"]
indicator = TABLES["indicator"]
indicator_value = TABLES["indicator_value"]
indicator_run = TABLES["indicator_run"]
indicator_case = TABLES["indicator_case"]
dim_date = TABLES["dim_date"]
dim_team = TABLES["dim_team"]
dim_period_type = TABLES["dim_period_type"]
dq_issue_span = TABLES["dq_issue_span"]
history_carried = TABLES["history_carried"]
indicator_spc = TABLES["indicator_spc"]
indicator_spc_series = TABLES["indicator_spc_series"]

build_metadata(load_contracts(packaged_contracts_path()))

def holds_on(table: sa.Table, day: date) -> sa.ColumnElement[bool]:
    """The versions of a history table that hold on `day` (reporting-db.md 1.1: the record as
    it stood on D)."""
    return sa.and_(table.c.valid_from <= day,
                   sa.or_(table.c.valid_to.is_(None), table.c.valid_to > day))


def loaded_rows(extract: str, day: date) -> sa.Select[Any]:
    """The rows batch `day` loaded for an extract, from its history: the versions that hold
    that day, less the records whose row was quarantined (kept open) and nothing when the file
    was not loaded. (Its columns: the contract's.)"""
    e_hist = metadata.tables[history_table_name(extract)]
    carried = history_carried
    loaded = sa.exists().where(
        batch.c.as_of == day, pipeline_run_extract.c.run_id == batch.c.run_id,
        pipeline_run_extract.c.extract == extract, pipeline_run_extract.c.status == "loaded")
    kept_open = sa.select(carried.c.record_id).where(carried.c.as_of == day,
                                                     carried.c.extract == extract)
    columns = [c for c in e_hist.columns if c.name not in HISTORY_COLUMNS]
    return sa.select(*columns).where(holds_on(e_hist, day), loaded,
                                     e_hist.c.record_id.not_in(kept_open))


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
