"""Command-line tools of the data officers (issues, exceptions, reports).

Each command registers itself with `set_defaults(handler=...)`; `cli.main` calls the handler,
which returns the exit status: 0 done, 1 the database could not be read or written (or holds
no published batch), 2 usage error or input the register refuses, 3 (`report --check`) the
data checks failed.

    qa-pipeline issues [--team T] [--rule R] [--status new|persisting] [--include-accepted]
                       [--format table|csv] [--db URL]
    qa-pipeline exceptions add --rule R --extract E [--record ID] --reason TEXT --by NAME
                       [--expires YYYY-MM-DD] [--db URL]
    qa-pipeline exceptions list [--all] [--db URL]
    qa-pipeline exceptions remove ID --by NAME [--db URL]
    qa-pipeline report [--out DIR] [--check] [--db URL]
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_DB, EXIT_USAGE, EXIT_CHECKS = 0, 1, 2, 3


def iso_date(text: str) -> date:
    """argparse type for YYYY-MM-DD, with a message a person understands."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _positive_int(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not an exception id (a number)")
    return n


def _err(message: str) -> None:
    print(f"qa-pipeline: error: {message}", file=sys.stderr)


def _guarded(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Turn the expected failures into a message and an exit status (no traceback)."""

    def run(args: argparse.Namespace) -> int:
        from qa_pipeline.contracts import ContractError
        from qa_pipeline.db import mask_url
        from qa_pipeline.exceptions_register import ExceptionError
        from qa_pipeline.worklists import NoPublishedBatch, SchemaMissing

        try:
            return fn(args)
        except BrokenPipeError:  # `qa-pipeline issues | head`: the reader has had enough
            import os

            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return EXIT_OK
        except ContractError:  # the contract file is broken: `main` says so (exit 2)
            raise
        except (ExceptionError, _SettingsError) as exc:
            _err(str(exc))
            return EXIT_USAGE
        except (NoPublishedBatch, SchemaMissing) as exc:
            _err(f"{exc} ({mask_url(str(args.db))})")
            return EXIT_DB
        except Exception as exc:  # unreachable database, bad URL, ...
            _err(f"{type(exc).__name__}: {mask_url(str(exc))}")
            return EXIT_DB

    run.__name__ = fn.__name__
    return run


class _SettingsError(Exception):
    """The settings file or environment could not be read."""


def _settings(args: argparse.Namespace) -> Any:
    """The job's settings (file, environment) with this command's --db applied."""
    from qa_pipeline.settings import load_settings

    try:
        settings = load_settings(args.config).with_overrides(db_url=args.db)
    except (OSError, ValueError) as exc:
        raise _SettingsError(str(exc)) from exc
    args.db = settings.db_url  # for messages
    return settings


def _engine(args: argparse.Namespace) -> Any:
    from qa_pipeline.db import make_engine

    return make_engine(_settings(args).db_url)


# --- issues ------------------------------------------------------------------------------

ISSUE_FIELDS = ["team_id", "extract", "record_id", "child_id", "rule_id", "severity",
                "status", "first_seen", "age_days", "column_name", "value", "message",
                "guidance"]


def _print_table(header: Sequence[str], rows: Sequence[Sequence[str]],
                 widths: dict[str, int] | None = None) -> None:
    widths = widths or {}
    cols = []
    for n, h in enumerate(header):
        w = max([len(h), *(len(r[n]) for r in rows)])
        cols.append(min(w, widths.get(h, 60)))

    def cut(v: str, w: int) -> str:
        v = v.replace("\n", " ").replace("\r", " ").replace("\t", " ")
        return v if len(v) <= w else v[: w - 1] + "…"

    print("  ".join(h.ljust(w) for h, w in zip(header, cols, strict=True)).rstrip())
    print("  ".join("-" * w for w in cols))
    for r in rows:
        print("  ".join(cut(v, w).ljust(w) for v, w in zip(r, cols, strict=True)).rstrip())


@_guarded
def cmd_issues(args: argparse.Namespace) -> int:
    import sqlalchemy as sa

    from qa_pipeline.worklists import csv_safe, filter_issues, load_latest_issues

    engine = _engine(args)
    issues = load_latest_issues(engine)
    if args.rule is not None:
        with engine.connect() as conn:
            known = conn.execute(sa.text("SELECT 1 FROM dq_rule WHERE rule_id = :r"),
                                 {"r": args.rule}).first()
        if known is None:
            _err(f"unknown rule id {args.rule!r} (see docs/rules.md)")
            return EXIT_USAGE
    chosen = filter_issues(issues, team=args.team, rule=args.rule, status=args.status,
                           include_accepted=args.include_accepted)
    fields = ISSUE_FIELDS + (["exception_id"] if args.include_accepted else [])

    def value(i: Any, f: str) -> str:
        v = getattr(i, f)
        return "" if v is None else (v.isoformat() if isinstance(v, date) else str(v))

    if args.format == "csv":
        w = csv.writer(sys.stdout, lineterminator="\n")
        w.writerow(fields)
        for i in chosen:
            w.writerow([csv_safe(value(i, f)) for f in fields])
        return EXIT_OK
    as_of = issues[0].as_of.isoformat() if issues else _latest(engine)
    header = ["team", "extract", "record", "rule", "severity", "status", "first seen", "age",
              "column", "value", "message"] + (["exception"] if args.include_accepted else [])
    rows = [[value(i, f) for f in ("team_id", "extract", "record_id", "rule_id", "severity",
                                   "status", "first_seen", "age_days", "column_name",
                                   "value", "message")]
            + ([value(i, "exception_id")] if args.include_accepted else []) for i in chosen]
    if rows:
        _print_table(header, rows, {"value": 24, "message": 70, "column": 24})
    accepted = sum(i.accepted for i in issues)
    new = sum(i.status == "new" for i in chosen)
    print(f"\n{len(chosen)} issue(s) in batch {as_of} ({new} new, {len(chosen) - new} "
          "persisting)" + ("" if args.include_accepted else
                           f"; {accepted} accepted exception(s) not shown"))
    return EXIT_OK


def _latest(engine: Any) -> str:
    from qa_pipeline.worklists import latest_batch

    return latest_batch(engine).isoformat()


# --- exceptions --------------------------------------------------------------------------


@_guarded
def cmd_exceptions_add(args: argparse.Namespace) -> int:
    from qa_pipeline.exceptions_register import add_exception, matching_issue_count

    engine = _engine(args)
    exc = add_exception(engine, rule_id=args.rule, extract=args.extract,
                        record_id=args.record, reason=args.reason, by=args.by,
                        expires_on=args.expires)
    until = f" until batch {exc.expires_on}" if exc.expires_on else " (no expiry)"
    print(f"exception {exc.exception_id} added: {exc.rule_id} on {exc.extract} "
          f"record {exc.record_id or '(whole file)'}{until}, by {exc.created_by}")
    try:
        n = matching_issue_count(engine, exc)
    except Exception:  # no batch yet: nothing to match
        n = 0
    if n == 0:
        print("note: no issue of the latest batch matches it (yet); check the rule, extract "
              "and record id", file=sys.stderr)
    else:
        print(f"it covers {n} issue(s) of the latest batch")
    return EXIT_OK


@_guarded
def cmd_exceptions_list(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from qa_pipeline.exceptions_register import list_exceptions
    from qa_pipeline.worklists import NoPublishedBatch, latest_batch

    engine = _engine(args)
    items = list_exceptions(engine, include_removed=args.all)
    try:
        on = latest_batch(engine)
    except NoPublishedBatch:
        on = datetime.now(UTC).date()
    rows = [[str(x.exception_id), x.state(on), x.rule_id, x.extract, x.record_id or "",
             x.expires_on.isoformat() if x.expires_on else "", x.created_by,
             f"{x.created_at:%Y-%m-%d}", x.removed_by or "",
             f"{x.removed_at:%Y-%m-%d}" if x.removed_at else "", x.reason]
            for x in items]
    if rows:
        _print_table(["id", "state", "rule", "extract", "record", "expires", "by", "added",
                      "removed by", "removed", "reason"], rows, {"reason": 60})
    print(f"\n{len(rows)} exception(s)" + ("" if args.all else
                                            " not removed (--all lists removed ones too)"))
    return EXIT_OK


@_guarded
def cmd_exceptions_remove(args: argparse.Namespace) -> int:
    from qa_pipeline.exceptions_register import remove_exception

    exc = remove_exception(_engine(args), args.exception_id, by=args.by)
    print(f"exception {exc.exception_id} removed by {exc.removed_by}; its issues are open "
          "again from the next report")
    return EXIT_OK


# --- report ------------------------------------------------------------------------------


@_guarded
def cmd_report(args: argparse.Namespace) -> int:
    from qa_pipeline.settings import using

    settings = _settings(args)
    with using(settings):  # the data checks follow the site's contracts, if it has its own
        return _report(args, settings)


def _report(args: argparse.Namespace, settings: Any) -> int:
    from qa_pipeline.db import make_engine
    from qa_pipeline.report import build_report, gather
    from qa_pipeline.worklists import write_workbook

    engine = make_engine(settings.db_url)
    # the resolved report folder (reports/ next to a SQLite database, else ./reports): the
    # same folder `run` writes to, so `report` rebuilds what a run could not write there
    out = Path(args.out if args.out is not None else settings.reports).absolute()
    data = gather(engine)
    checks = None
    try:
        out.mkdir(parents=True, exist_ok=True)
        if args.check:
            from qa_pipeline.expectations import data_docs_dir, run_checkpoint

            checks = run_checkpoint(engine, data.as_of, data_docs_dir(out, data.as_of),
                                    volume_tolerance=args.volume_tolerance)
        workbook = write_workbook(engine, out, issues=data.issues)
        report = build_report(engine, out, expectations=checks, workbook=workbook, data=data)
    except OSError as exc:  # the folder is still not writable, the disk still full
        from qa_pipeline.redaction import redact

        reason = ("a file is in the report folder's place" if out.exists()
                  and not out.is_dir() else exc.strerror or exc)
        _err(redact(f"the report of batch {data.as_of} could not be written to {out}: "
                    f"{reason}"))
        return EXIT_DB
    print(f"batch {data.as_of}: {len(data.open_issues)} open issue(s)")
    print(f"wrote {report}")
    print(f"wrote {workbook}")
    if checks is not None:
        if checks.data_docs_path:
            print(f"wrote {checks.data_docs_path}")
        failed = checks.failed
        print(f"data checks: {len(checks.outcomes) - len(failed)} of {len(checks.outcomes)} "
              "passed")
        from qa_pipeline.redaction import redact

        for f in failed:
            print(f"  FAILED {redact(f)}")
        if failed:
            return EXIT_CHECKS
    return EXIT_OK


def _volume(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        v = -1.0
    if not 0 <= v <= 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a share between 0 and 1")
    return v


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", default=None,
                   help="SQLAlchemy URL of the reporting database (default: settings, else "
                        "sqlite:///./qa_pipeline.db)")
    p.add_argument("--config", type=Path, default=None,
                   help="settings file (default: $QA_PIPELINE_CONFIG or ./qa_pipeline.yaml)")


def add_commands(sub: Any) -> None:
    """Add the data officers' subcommands to the `qa-pipeline` parser."""

    issues = sub.add_parser(
        "issues", help="list the open issues of the latest batch",
        description="The open issues of the latest published batch (accepted exceptions "
                    "left out unless --include-accepted).")
    issues.add_argument("--team", help="a team id; 'none' for issues that no team owns")
    issues.add_argument("--rule", help="a rule id (see docs/rules.md)")
    issues.add_argument("--status", choices=["new", "persisting"])
    issues.add_argument("--include-accepted", action="store_true",
                        help="also list issues covered by an accepted exception")
    issues.add_argument("--format", choices=["table", "csv"], default="table")
    _common(issues)
    issues.set_defaults(handler=cmd_issues)

    exc = sub.add_parser("exceptions", help="the register of accepted exceptions",
                         description="Failures a data officer accepts as correct practice.")
    esub = exc.add_subparsers(dest="exceptions_command", required=True)
    add = esub.add_parser("add", help="accept a record's failure of a rule")
    add.add_argument("--rule", required=True, help="the rule id, e.g. "
                     "cp_conferences.conference_date.weekend (see docs/rules.md)")
    add.add_argument("--extract", required=True,
                     help="the extract, e.g. referrals (file-level rules: the file name)")
    add.add_argument("--record", default=None,
                     help="the record id as shown in the worklist (required for row rules)")
    add.add_argument("--reason", required=True, help="why the failure is correct practice")
    add.add_argument("--by", required=True, help="who accepts it")
    add.add_argument("--expires", type=iso_date, default=None,
                     help="last batch date it applies to (YYYY-MM-DD); default: no expiry")
    _common(add)
    add.set_defaults(handler=cmd_exceptions_add)

    lst = esub.add_parser("list", help="list the exceptions in force")
    lst.add_argument("--all", action="store_true", help="include removed exceptions")
    _common(lst)
    lst.set_defaults(handler=cmd_exceptions_list)

    rm = esub.add_parser("remove", help="withdraw an exception (its history is kept)")
    rm.add_argument("exception_id", type=_positive_int, metavar="ID")
    rm.add_argument("--by", required=True, help="who withdraws it")
    _common(rm)
    rm.set_defaults(handler=cmd_exceptions_remove)

    rep = sub.add_parser("report", help="rebuild the HTML report and Excel worklists of the "
                                        "latest batch")
    rep.add_argument("--out", type=Path, default=None,
                     help="output folder (default: settings' report_dir: reports/ next to a SQLite "
                          "database, else ./reports)")
    rep.add_argument("--check", action="store_true",
                     help="also run the Great Expectations checks (slow) and build Data Docs")
    rep.add_argument("--volume-tolerance", type=_volume, default=0.5,
                     help="with --check: least share of the previous batch's rows each "
                          "stg_* table must hold (default 0.5)")
    _common(rep)
    rep.set_defaults(handler=cmd_report)
