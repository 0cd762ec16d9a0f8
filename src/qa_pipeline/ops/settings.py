"""One settings object for the nightly job: defaults, then a YAML config file, then
environment variables (`QA_PIPELINE_<NAME>`), then command-line options.

Secrets never live here: a database password comes from the environment (PGPASSWORD,
~/.pgpass, or a Prefect Secret block named in `db_password_secret`), not from a file in the
repository.

The contracts and the indicator configuration are package data; a site's own copies are
named by `contracts_file` and `indicators_file`. Code that loads them (`contracts.load_contracts`,
`indicators.load_config`) reads these two settings from `settings_in_use()`: the settings a
run was started with (`pipeline.run_path`, `release`, `run_one_batch` and `qa-pipeline report`
run inside `using(settings)`), else the ones `load_settings()` finds.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, fields, replace
from datetime import date
from pathlib import Path
from typing import Any

import yaml

ENV_PREFIX = "QA_PIPELINE_"
CONFIG_ENV = "QA_PIPELINE_CONFIG"
DEFAULT_CONFIG = Path("qa_pipeline.yaml")

log = logging.getLogger(__name__)

NOTIFY_ON = ("always", "problems", "never")
PASSWORD_PLACEHOLDER = "{password}"
"""Where the value of `notify_password_env` goes in a notify URL (filled at send time)."""


@dataclass(frozen=True)
class Settings:
    db_url: str = field(default_factory=lambda: f"sqlite:///{Path.cwd() / 'qa_pipeline.db'}")
    """SQLAlchemy URL of the reporting database (no password in it: use PGPASSWORD)."""
    landing: Path | None = None
    """The landing folder Paris drops batch folders into."""
    work_dir: Path | None = None
    """Where staged files are written during a run (default: a temporary folder)."""
    hold_dir: Path = Path("qa_pipeline_holds")
    """Where a held batch waits, staged, until a data officer releases it."""
    report_dir: Path | None = None
    """Where the HTML report, the worklists and the Data Docs are written (default: a
    `reports` folder next to a SQLite database, else ./reports)."""
    aftercare: bool = True
    """After publishing: run the data checks and write the report and worklists."""
    max_file_mb: float = 2048.0
    """A delivered file larger than this is rejected unread."""
    max_field_chars: int = 32_767
    """A value longer than this quarantines its row (Excel's cell limit)."""
    volume_drop_threshold: float = 0.5
    """Hold the batch when an extract has fewer rows than this share of the previous batch's."""
    lock_timeout_seconds: float = 600.0
    """How long a run waits for another run on the same database before giving up."""
    db_retry_attempts: int = 5
    """Attempts at publishing when the database connection fails."""
    db_retry_base_seconds: float = 2.0
    """First back-off delay; doubled after each failed attempt."""
    db_password_secret: str | None = None
    """Name of a Prefect Secret block holding the database password (flows only)."""
    earliest_birth_date: date = date(1900, 1, 1)
    """A date of birth (or death, or expected birth) before this is a row-level error."""
    earliest_event_date: date = date(1990, 1, 1)
    """A case event (referral, assessment, plan, review, ...) dated before this is a row-level
    error: `12/05/0211` is a typing slip, and would stretch every period range back to 211."""
    dim_date_first: date = date(2000, 1, 1)
    """The first day of the calendar dimension `dim_date` (reporting-db.md 1.1)."""
    dim_date_last: date = date(2040, 12, 31)
    """Its last day; the publish refills `dim_date` when the range changes."""
    spc_baseline_points: int = 20
    """The SPC baseline: the first this many months of each monthly series (the partial month
    never counts) give the mean and the limits (reporting-db.md 1.1). A series needs 12."""
    contracts_file: Path | None = None
    """A site's extract contracts instead of the packaged ones (default: the contracts of the
    installed package); same extracts and columns, e.g. a code added to a code list."""
    indicators_file: Path | None = None
    """A site's indicator configuration (timescales, targets) instead of the packaged one
    (default: the configuration of the installed package)."""
    notify_urls: tuple[str, ...] = ()
    """Where the message after each nightly run goes: apprise URLs (`mailto://`, `msteams://`,
    `slack://`, `json://`; in the environment separated by spaces). A password is never
    written in one: put `{password}` where it goes and name its variable in
    notify_password_env."""
    notify_on: str = "problems"
    """When to send it: `always`, `problems` (a batch not succeeded, held or with failed data
    checks, a folder not processed, new root causes or special causes) or `never`."""
    notify_password_env: str | None = None
    """The environment variable whose value replaces `{password}` in notify_urls at send
    time (the SMTP password; never in a file or a log line)."""
    notify_password_secret: str | None = None
    """Name of a Prefect Secret block holding that password (flows only): each flow run puts
    its value into the variable notify_password_env names."""
    notify_timeout_seconds: float = 10.0
    """How long sending to one destination may take before it is given up (the run goes on)."""
    language: str = "en"
    """The language of the report, the worklists and the `issues` listing: `en`, `cy`
    (Welsh) or `cy+en` (both, Welsh first). The operator's messages stay English."""

    @property
    def reports(self) -> Path:
        """The report folder, resolved (next to a SQLite database by default)."""
        if self.report_dir is not None:
            return Path(self.report_dir).absolute()
        from sqlalchemy.engine import make_url

        try:
            url = make_url(self.db_url)
        except Exception:
            return Path("reports").absolute()
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            return (Path(str(url.database)).parent / "reports").absolute()
        return Path("reports").absolute()

    @property
    def earliest_dates(self) -> dict[str, date]:
        """The earliest plausible date of each kind (contracts' `earliest: birth|event`)."""
        return {"birth": self.earliest_birth_date, "event": self.earliest_event_date}

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * 1024 * 1024)

    def __post_init__(self) -> None:
        if self.dim_date_first > self.dim_date_last:
            raise ValueError(f"dim_date_first ({self.dim_date_first}) is after dim_date_last "
                             f"({self.dim_date_last})")
        if self.notify_on not in NOTIFY_ON:
            raise ValueError(f"notify_on must be one of {', '.join(NOTIFY_ON)}, not "
                             f"{self.notify_on!r}")
        from qa_pipeline.i18n import parse_language

        object.__setattr__(self, "language", parse_language(self.language))
        if self.spc_baseline_points < 12:
            raise ValueError(f"spc_baseline_points ({self.spc_baseline_points}) is below 12: "
                             "a series needs 12 baseline points for limits")

    def with_overrides(self, **values: Any) -> Settings:
        """These settings with the non-None values given (command-line options)."""
        return replace(self, **{k: v for k, v in values.items() if v is not None})


def _coerce(name: str, value: Any) -> Any:
    default = {f.name: f for f in fields(Settings)}[name]
    kind = str(default.type)
    if value is None:
        return None
    if "Path" in kind:
        return Path(value)
    if kind.startswith("bool"):
        if isinstance(value, bool):
            return value
        return str(value).strip().lower() in ("1", "true", "yes", "on")
    if kind == "date":
        return value if isinstance(value, date) else date.fromisoformat(str(value).strip())
    if kind.startswith("tuple"):  # a YAML list, or one text of space-separated items
        items = value.split() if isinstance(value, str) else list(value)
        return tuple(str(v) for v in items)
    if kind.startswith("float"):
        return float(value)
    if kind.startswith("int"):
        return int(value)
    return str(value)


REMOVED_SETTINGS: dict[str, str] = {
    "keep_batches": "the case tables keep each record's versions (<extract>_history) instead "
                    "of copies of the newest batches",
}
"""Settings of earlier versions that are accepted and ignored, with a warning saying why (a
site's file that still names one keeps working)."""


def _drop_removed(values: dict[str, Any], where: str) -> dict[str, Any]:
    for name in sorted(set(values) & set(REMOVED_SETTINGS)):
        log.warning("%s: the setting %s is no longer used (%s); remove it", where, name,
                    REMOVED_SETTINGS[name])
    return {k: v for k, v in values.items() if k not in REMOVED_SETTINGS}


def load_settings(config_file: Path | None = None,
                  environ: dict[str, str] | None = None) -> Settings:
    """Defaults < config file (QA_PIPELINE_CONFIG or ./qa_pipeline.yaml) < environment."""
    env = dict(os.environ if environ is None else environ)
    names = {f.name for f in fields(Settings)}
    values: dict[str, Any] = {}
    path = config_file or (Path(env[CONFIG_ENV]) if env.get(CONFIG_ENV) else DEFAULT_CONFIG)
    if path.is_file():
        raw = _drop_removed(yaml.safe_load(path.read_text(encoding="utf-8")) or {}, str(path))
        unknown = set(raw) - names
        if unknown:
            raise ValueError(f"{path}: unknown settings {sorted(unknown)}")
        values.update({k: _coerce(k, v) for k, v in raw.items()})
        if _has_password(values):
            raise ValueError(f"{path}: db_url must not carry a password in a file; use "
                             "PGPASSWORD, ~/.pgpass or a Prefect Secret block")
        if _notify_password(values):
            raise ValueError(f"{path}: notify_urls must not carry a password in a file; put "
                             f"{PASSWORD_PLACEHOLDER} in its place and name the environment "
                             "variable that holds it in notify_password_env")
    elif config_file is not None:
        raise FileNotFoundError(f"{config_file}: no such config file")
    _drop_removed({n: 1 for n in REMOVED_SETTINGS if ENV_PREFIX + n.upper() in env},
                  "the environment")
    for name in names:
        key = ENV_PREFIX + name.upper()
        if key in env and key != CONFIG_ENV:
            values[name] = _coerce(name, env[key])
    return Settings(**values)


_IN_USE: ContextVar[Settings | None] = ContextVar("qa_pipeline_settings", default=None)


def settings_in_use() -> Settings:
    """The settings of the run in progress (`using`; per thread), else `load_settings()`."""
    active = _IN_USE.get()
    return active if active is not None else load_settings()


@contextmanager
def using(settings: Settings) -> Iterator[Settings]:
    """Make `settings` the ones `settings_in_use()` returns until the block ends."""
    token = _IN_USE.set(settings)
    try:
        yield settings
    finally:
        _IN_USE.reset(token)


def _has_password(values: dict[str, Any]) -> bool:
    url = values.get("db_url")
    if not url:
        return False
    from sqlalchemy.engine import make_url

    try:
        return make_url(str(url)).password is not None
    except Exception:
        return False


def _notify_password(values: dict[str, Any]) -> bool:
    """Whether a notify URL of a settings file has a password other than the placeholder."""
    from urllib.parse import parse_qsl, urlsplit

    for url in values.get("notify_urls") or ():
        try:
            parts = urlsplit(str(url))
            password = parts.password
        except ValueError:  # a port that is not a number, ...: apprise refuses it later
            continue
        if password not in (None, "", PASSWORD_PLACEHOLDER):
            return True
        # apprise also reads a password from the query (mailto://...?pass=...)
        if any(k.lower() in ("pass", "password") and v not in ("", PASSWORD_PLACEHOLDER)
               for k, v in parse_qsl(parts.query, keep_blank_values=True)):
            return True
    return False
