"""What every `qa-pipeline` command shares, defined once: the parser class (a usage error
exits 2 with one line), the options `--db`, `--config` and `-v`, the settings and reporting
database of a command, and how an expected failure becomes one line and an exit status.

The three options are parent parsers (`argparse` `parents=`), given to each command that
needs them: `qa-pipeline COMMAND [--db URL] [--config FILE] [-v]`, after the command's name
(`-v` also before it). Their defaults are suppressed in every parser and filled in by `parse`
(never with `set_defaults`, which would change the one shared action), so an option given at
either level is kept.
"""

from __future__ import annotations

import argparse
import re
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from qa_pipeline.ops.exits import ExitStatus

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from qa_pipeline.ops.settings import Settings

PROG = "qa-pipeline"
DB_HELP = ("SQLAlchemy URL of the reporting database (default: the settings' db_url, else "
           "sqlite:///./qa_pipeline.db)")
CONFIG_HELP = "settings file (default: $QA_PIPELINE_CONFIG or ./qa_pipeline.yaml)"
VERBOSE_HELP = "log progress (each batch and extract) to stderr"


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # exit 2 (usage), with a short message
        self.print_usage(sys.stderr)
        print(f"{self.prog.split()[0]}: error: {message}", file=sys.stderr)
        raise SystemExit(ExitStatus.USAGE)


def _parent(*args: str, **kwargs: Any) -> Parser:
    p = Parser(add_help=False)
    p.add_argument(*args, default=argparse.SUPPRESS, **kwargs)
    return p


DATABASE = _parent("--db", metavar="URL", help=DB_HELP)
CONFIG = _parent("--config", type=Path, metavar="FILE", help=CONFIG_HELP)
VERBOSE = _parent("-v", "--verbose", action="store_true", help=VERBOSE_HELP)
LANGUAGE = _parent("--language", type=lambda v: _language(v), metavar="en|cy|cy+en",
                   help="the language of the report, worklists and listings: en, cy (Welsh) "
                        "or cy+en (both, Welsh first); default: the setting `language`")
DEFAULTS: dict[str, Any] = {"db": None, "config": None, "verbose": False, "language": None}
"""The values of the shared options when none is given."""


def parse(p: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """Parse ARGV with the shared options' defaults filled in."""
    return p.parse_args(argv, namespace=argparse.Namespace(**DEFAULTS))


def options(*, db: bool = False, config: bool = False, language: bool = False
            ) -> list[Parser]:
    """The shared options of a command: `parents=options(db=True, config=True)`. Every
    command takes -v."""
    return [*([DATABASE] if db else []), *([CONFIG] if config else []),
            *([LANGUAGE] if language else []), VERBOSE]


def _language(text: str) -> str:
    from qa_pipeline.i18n import parse_language

    try:
        return parse_language(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


# --- argument types -------------------------------------------------------------------------


def iso_date(text: str) -> date:
    """argparse type for YYYY-MM-DD, with a message a person understands."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def positive_int(text: str) -> int:
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return int(text)


# --- settings and database --------------------------------------------------------------------


class SettingsError(ValueError):
    """The settings file or environment could not be read."""


def settings_of(args: argparse.Namespace, **overrides: Any) -> Settings:
    """The settings (defaults < file < environment) with this command's --db and OVERRIDES
    applied; a settings file or environment that cannot be read is a SettingsError."""
    from qa_pipeline.ops.settings import load_settings

    try:
        return load_settings(getattr(args, "config", None)).with_overrides(
            db_url=getattr(args, "db", None), language=getattr(args, "language", None),
            **overrides)
    except (OSError, ValueError) as exc:
        raise SettingsError(str(exc)) from exc


def existing_database(args: argparse.Namespace) -> tuple[Settings, Engine]:
    """The settings and an engine on the reporting database that must already exist: a
    SQLite file that does not is `db.NoDatabase` ("no reporting database at PATH"), never
    created. `args.db` becomes the URL in effect (for messages)."""
    from qa_pipeline.load.db import make_engine

    settings = settings_of(args)
    args.db = settings.db_url
    return settings, make_engine(settings.db_url, create=False)


# --- failures -----------------------------------------------------------------------------------


def err(message: str) -> None:
    print(f"{PROG}: error: {message}", file=sys.stderr)


def one_line(exc: BaseException, limit: int = 300) -> str:
    """An exception as one line: its type and message, passwords masked, NHS numbers
    redacted, SQLAlchemy's statement, parameters and "Background on this error" left out."""
    from qa_pipeline.load.db import mask_url
    from qa_pipeline.privacy.redaction import redact

    text = str(exc).split("\n[SQL:")[0]
    text = re.sub(r"\(Background on this error at: [^)]*\)", "", text)
    text = " ".join(mask_url(text).split())
    line = redact(f"{type(exc).__name__}: {text}" if text else type(exc).__name__)
    return line if len(line) <= limit else line[: limit - 1] + "…"


def failure_status(exc: Exception, args: argparse.Namespace) -> ExitStatus:
    """Print what went wrong in one line (never a traceback) and give the exit status: 2 for
    what the person typed or pointed at, 1 for what could not be read, written or reached."""
    from qa_pipeline.ingest.staging import BatchError
    from qa_pipeline.load.db import NoDatabase, mask_url
    from qa_pipeline.officers.exceptions import ExceptionError
    from qa_pipeline.officers.issues import NoPublishedBatch, SchemaMissing
    from qa_pipeline.ops.holds import ReleaseError
    from qa_pipeline.ops.locking import LockTimeout
    from qa_pipeline.spec.contracts import ContractError

    if isinstance(exc, ContractError):  # the contract file is broken: where and what
        err(" ".join(str(exc).split()))
        return ExitStatus.USAGE
    if isinstance(exc, SettingsError | NoDatabase | BatchError | ReleaseError | ExceptionError):
        err(str(exc))
        return ExitStatus.USAGE
    if isinstance(exc, NoPublishedBatch | SchemaMissing):
        err(f"{exc} ({mask_url(str(getattr(args, 'db', None)))})")
        return ExitStatus.FAILED
    if isinstance(exc, LockTimeout):
        print(f"{PROG}: {exc}", file=sys.stderr)
        return ExitStatus.FAILED
    err(one_line(exc))  # an unreachable database, a bad URL, a full disk, ...
    return ExitStatus.FAILED


def site_files_of(settings: Settings) -> None:
    """A site's contracts or indicator configuration that cannot be used stops a run before
    it starts: a broken contract file as itself, anything else as a SettingsError (exit 2)."""
    from qa_pipeline.ops.job import check_site_files
    from qa_pipeline.spec.contracts import ContractError

    try:
        check_site_files(settings)
    except ContractError:
        raise
    except ValueError as exc:
        raise SettingsError(str(exc)) from exc
