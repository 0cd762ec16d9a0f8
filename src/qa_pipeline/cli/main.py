"""`qa-pipeline`: the command line of the nightly job.

Every command exits with a `qa_pipeline.ops.exits.ExitStatus`: 0 done, 1 failed (nothing
published, or the database could not be read), 2 usage error, 3 finished but a person must
look (a file rejected or missing, a batch held, data checks failed). README.md lists the
commands.
"""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import date
from pathlib import Path
from typing import Any

from qa_pipeline import __version__
from qa_pipeline.cli.common import (
    Parser,
    err,
    failure_status,
    iso_date,
    options,
    parse,
    settings_of,
    site_files_of,
)
from qa_pipeline.ops.exits import ExitStatus


def _children(text: str) -> int:
    """argparse type for --children: a number or a named size (S, M, L)."""
    from qa_pipeline.sample.generate import SIZES, children_count

    try:
        return children_count(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a number of children or one of {', '.join(SIZES)}") from None


# --- run, release ---------------------------------------------------------------------------


def _print_summary(result: object) -> None:
    from qa_pipeline.ops.job import LandingResult

    assert isinstance(result, LandingResult)
    for line in result.ignored:
        print(f"ignored {line}")
    for line in result.refused:
        print(f"! not processed: {line}")
    for b in result.batches:
        if b.skipped:
            print(f"batch {b.as_of}: already published with the same files; skipped")
            continue
        print(f"batch {b.as_of}:")
        if b.manifest is not None:
            print(f"  {'extract':<24}{'status':<10}{'read':>9}{'loaded':>9}{'quarant.':>9}"
                  f"{'warnings':>9}")
            for o in b.manifest.extracts.values():
                print(f"  {o.extract:<24}{o.status:<10}{o.rows_read:>9}{o.rows_loaded:>9}"
                      f"{o.rows_quarantined:>9}{o.warnings:>9}")
            for o in b.manifest.extracts.values():
                if o.reason:
                    print(f"  ! {o.file_name or o.extract}: {o.reason}")
            for f in b.manifest.unknown_files:
                print(f"  ! {f}: not an extract; ignored")
        assert b.outcome is not None
        print(f"  run {b.outcome.run_id}: {b.outcome.status} (exit {b.outcome.exit_code})")
        print(f"  {b.outcome.message}")
        checks = b.checks_line()
        if checks is not None:
            print(f"  {checks}")
        if b.report_path:
            print(f"  report: {b.report_path}")
            print(f"  worklists: {b.workbook_path}")


def _cmd_run(args: argparse.Namespace) -> int:
    from qa_pipeline.ingest.staging import BatchError
    from qa_pipeline.load.db import NoDatabase, mask_url
    from qa_pipeline.ops.job import run_path
    from qa_pipeline.ops.locking import LockTimeout
    from qa_pipeline.spec.contracts import ContractError

    settings = settings_of(args)
    site_files_of(settings)
    try:
        result = run_path(args.path, settings.db_url, args.work_dir, settings)
    except (BatchError, NoDatabase, LockTimeout, ContractError):
        raise  # a usage error, or another run: `failure_status` says so
    except Exception as exc:  # database unreachable, bad URL, ...: nothing published
        print(f"qa-pipeline: run failed: {type(exc).__name__}: {mask_url(str(exc))}",
              file=sys.stderr)
        return ExitStatus.FAILED
    _print_summary(result)
    print(f"database: {mask_url(settings.db_url)}")
    if result.notified:
        print(f"notification sent to {', '.join(result.notified)}")
    for line in result.notify_warnings:
        print(f"! {line}")
    return result.exit_code


def _cmd_release(args: argparse.Namespace) -> int:
    from qa_pipeline.load.db import NoDatabase, mask_url, require_database
    from qa_pipeline.ops.holds import ReleaseError
    from qa_pipeline.ops.job import release
    from qa_pipeline.ops.locking import LockTimeout
    from qa_pipeline.spec.contracts import ContractError

    settings = settings_of(args)
    site_files_of(settings)
    require_database(settings.db_url)  # a held batch lives in an existing database
    try:
        outcome = release(args.as_of, args.by, settings.db_url, settings)
    except (ReleaseError, NoDatabase, LockTimeout, ContractError):
        raise
    except Exception as exc:
        print(f"qa-pipeline: run failed: {type(exc).__name__}: {mask_url(str(exc))}",
              file=sys.stderr)
        return ExitStatus.FAILED
    print(f"batch {args.as_of}: {outcome.status} (exit {outcome.exit_code})")
    print(f"  {outcome.message}")
    return outcome.exit_code


# --- generate-sample, db, docs -----------------------------------------------------------------


def _cmd_generate(args: argparse.Namespace) -> int:
    from qa_pipeline.sample.generate import generate_batch
    from qa_pipeline.sample.nights import Rates, check_nights, generate_nights

    if args.children < 1:
        err("--children must be at least 1")
        return ExitStatus.USAGE
    rates = Rates(change=args.change_rate, new=args.new_rate, delete=args.delete_rate)
    try:
        check_nights(args.nights, rates)
    except ValueError as exc:
        err(f"--{str(exc).replace(' rate', '-rate', 1)}")
        return ExitStatus.USAGE
    if args.nights == 1:
        out = generate_batch(args.out, children=args.children, seed=args.seed,
                             as_of=args.as_of, defects=args.defects,
                             identifying=args.identifying, years=args.years)
        print(f"wrote {out}")
        return ExitStatus.OK
    if args.identifying:
        err("--identifying is for one batch: it cannot be combined with --nights")
        return ExitStatus.USAGE
    generate_nights(args.out, nights=args.nights, children=args.children, seed=args.seed,
                    as_of=args.as_of, defects=args.defects, years=args.years, rates=rates,
                    progress=lambda batch: print(f"wrote {batch}", flush=True))
    return ExitStatus.OK


def _cmd_db(args: argparse.Namespace) -> int:
    from qa_pipeline.load.db import current_revision, make_engine, upgrade

    settings = settings_of(args)
    if args.db_command == "current":  # reads only: never creates a database
        engine = make_engine(settings.db_url, create=False)
    else:
        engine = make_engine(settings.db_url)
    try:
        if args.db_command in ("upgrade", "grant-reporting"):
            upgrade(engine)
        if args.db_command == "grant-reporting":
            from qa_pipeline.load.roles import grant_reporting

            views = grant_reporting(engine, args.role, case_history=args.case_history)
            print(f"{args.role} may read {len(views)} views in schema reporting")
        print(f"schema revision: {current_revision(engine) or 'none (an empty database)'}")
    finally:
        engine.dispose()
    return ExitStatus.OK


def _cmd_docs(args: argparse.Namespace) -> int:
    from qa_pipeline.spec.docs import write_docs

    for path in write_docs(args.out):
        print(f"wrote {path}")
    return ExitStatus.OK


# --- the parser -------------------------------------------------------------------------------


def _add_run_commands(sub: Any) -> None:
    """`run`, and `rebuild` (cli/rebuild.py) after it."""
    run = sub.add_parser("run", parents=options(db=True, config=True, language=True),
                         help="ingest, validate and publish a batch or landing folder")
    run.add_argument("path", type=Path,
                     help="a batch folder (.../2026-11-25/) or a landing folder of batches")
    run.add_argument("--work-dir", type=Path, default=None, metavar="DIR",
                     help="where staged files are written during a run (default: the "
                          "settings' work_dir, else a temporary folder)")
    run.set_defaults(handler=_cmd_run)

    from qa_pipeline.cli.rebuild import add_command as add_rebuild

    add_rebuild(sub, options)


def _parser() -> argparse.ArgumentParser:
    p = Parser(prog="qa-pipeline", parents=options(),
               description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--version", action="version", version=f"qa-pipeline {__version__}",
                   help="print the version and exit")
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser,
                           metavar="COMMAND", help="one of:")

    _add_run_commands(sub)
    rel = sub.add_parser("release", parents=options(db=True, config=True),
                         help="publish a batch that was held (sharp row drop)")
    rel.add_argument("as_of", type=iso_date, metavar="DATE",
                     help="the held batch's date, YYYY-MM-DD")
    rel.add_argument("--by", required=True, metavar="NAME", help="who releases it (recorded)")
    rel.set_defaults(handler=_cmd_release)

    gen = sub.add_parser("generate-sample", parents=options(),
                         help="write a synthetic batch (seeded)")
    gen.add_argument("out", type=Path, help="landing folder; the batch is OUT/<as-of>/")
    gen.add_argument("--children", type=_children, default=300, metavar="N",
                     help="how many children: a number, or S (300), M (30,000), "
                          "L (1,000,000)")
    gen.add_argument("--seed", type=int, default=1,
                     help="random seed: the same arguments give the same bytes (1)")
    gen.add_argument("--as-of", type=iso_date, default=date(2026, 11, 25), metavar="DATE",
                     help="extract date, YYYY-MM-DD (2026-11-25)")
    gen.add_argument("--years", type=int, default=3, help="years of history (3)")
    gen.add_argument("--defects", action="store_true",
                     help="inject deliberate defects and write OUT/<as-of>.ground_truth.csv")
    gen.add_argument("--identifying", action="store_true",
                     help="plant identifying data (the persons file must then be rejected)")
    gen.add_argument("--nights", type=int, default=1, metavar="N",
                     help="write N consecutive nightly batches of one evolving caseload, "
                          "OUT/<as-of>/ .. OUT/<as-of + N-1 days>/, ids stable (1)")
    gen.add_argument("--change-rate", type=float, default=0.01, metavar="R",
                     help="with --nights: share of records changed each night (0.01)")
    gen.add_argument("--new-rate", type=float, default=0.005, metavar="R",
                     help="with --nights: share of new records each night (0.005)")
    gen.add_argument("--delete-rate", type=float, default=0.001, metavar="R",
                     help="with --nights: share of records deleted each night (0.001)")
    gen.set_defaults(handler=_cmd_generate)

    dbp = sub.add_parser("db", parents=options(db=True, config=True),
                         help="the reporting database's schema (Alembic)")
    dsub = dbp.add_subparsers(dest="db_command", required=True, parser_class=Parser,
                              metavar="ACTION", help="one of:")
    dsub.add_parser("upgrade", parents=options(db=True, config=True),
                    help="create or upgrade the schema to this version's (`run` does it too)")
    dsub.add_parser("current", parents=options(db=True, config=True),
                    help="print the schema revision of an existing database (reads only)")
    grant = dsub.add_parser("grant-reporting", parents=options(db=True, config=True),
                            help="upgrade, then give a PostgreSQL role read access to the "
                                 "published views only")
    grant.add_argument("--role", default="qa_reporting",
                       help="the read-only role for BI tools (qa_reporting)")
    grant.add_argument("--case-history", action="store_true",
                       help="let the role read the record history too (<extract>_history, "
                            "_current: pseudonymised case rows), to join the drill-through's "
                            "version_id")
    dbp.set_defaults(handler=_cmd_db)

    docs = sub.add_parser("docs", parents=options(),
                          help="regenerate docs/rules.md, docs/indicators.md and "
                               "docs/reporting-db.md")
    docs.add_argument("--out", type=Path, default=Path("docs"), metavar="DIR",
                      help="the docs folder (docs)")
    docs.set_defaults(handler=_cmd_docs)

    # The data officers' and the operator's commands register themselves here
    # (set_defaults(handler=...)).
    from qa_pipeline.cli import officers as officer_cli
    from qa_pipeline.cli import ops as ops_cli

    officer_cli.add_commands(sub)
    ops_cli.add_commands(sub)
    return p


def parser() -> argparse.ArgumentParser:
    """The whole `qa-pipeline` parser (for the tests and the README check)."""
    return _parser()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """ARGV parsed as `main` parses it (the shared options' defaults filled in)."""
    return parse(_parser(), argv)


def main(argv: list[str] | None = None) -> int:
    from qa_pipeline.privacy.redaction import install_log_redaction, redact_standard_streams

    redact_standard_streams()  # before anything is printed: no NHS number reaches a terminal
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    install_log_redaction()
    try:
        return int(args.handler(args))
    except BrokenPipeError:  # `qa-pipeline issues | head`: the reader has had enough
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return ExitStatus.OK
    except Exception as exc:  # one line and an exit status, never a traceback
        return failure_status(exc, args)


if __name__ == "__main__":
    raise SystemExit(main())
