"""`qa-pipeline`: the command line of the nightly job.

Exit status of `run`: 0 succeeded (row-level issues allowed), 3 finished but a file was
rejected or missing, 1 failed (nothing published), 2 usage error.
"""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import date
from pathlib import Path
from typing import NoReturn

from qa_pipeline import __version__
from qa_pipeline.officer_cli import iso_date

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # exit 2 (usage), with a short message
        self.print_usage(sys.stderr)
        print(f"qa-pipeline: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def _children(text: str) -> int:
    """argparse type for --children: a number or a named size (S, M, L)."""
    from qa_pipeline.generate import SIZES, children_count

    try:
        return children_count(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a number of children or one of {', '.join(SIZES)}") from None


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="qa-pipeline", description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--version", action="version", version=f"qa-pipeline {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="log progress of each extract")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="ingest, validate and publish a batch or landing folder")
    run.add_argument("path", type=Path,
                     help="a batch folder (.../2026-11-25/) or a landing folder of batches")
    run.add_argument("--db", default=None,
                     help="SQLAlchemy URL of the reporting database (default: settings, else "
                          "sqlite:///./qa_pipeline.db)")
    run.add_argument("--work-dir", type=Path, default=None,
                     help="where staged files are written during a run (default: temp dir)")
    run.add_argument("--config", type=Path, default=None,
                     help="settings file (default: $QA_PIPELINE_CONFIG or ./qa_pipeline.yaml)")

    rel = sub.add_parser("release", help="publish a batch that was held (sharp row drop)")
    rel.add_argument("as_of", type=iso_date, help="the held batch's date")
    rel.add_argument("--by", required=True, help="who releases it (recorded)")
    rel.add_argument("--db", default=None)
    rel.add_argument("--config", type=Path, default=None)

    gen = sub.add_parser("generate-sample", help="write a synthetic batch (seeded)")
    gen.add_argument("out", type=Path, help="landing folder; the batch is OUT/<as-of>/")
    gen.add_argument("--children", type=_children, default=300,
                     help="how many children: a number, or S (300), M (30,000), "
                          "L (1,000,000)")
    gen.add_argument("--seed", type=int, default=1)
    gen.add_argument("--as-of", type=iso_date, default=date(2026, 11, 25),
                     help="extract date, YYYY-MM-DD")
    gen.add_argument("--years", type=int, default=3, help="years of history")
    gen.add_argument("--defects", action="store_true",
                     help="inject deliberate defects and write OUT/<as-of>.ground_truth.csv")
    gen.add_argument("--identifying", action="store_true",
                     help="plant identifying data (the persons file must then be rejected)")

    dbp = sub.add_parser("db", help="reporting database schema (Alembic)")
    dbp.add_argument("action", choices=["upgrade", "current", "grant-reporting"])
    dbp.add_argument("--db", default=None)
    dbp.add_argument("--role", default="qa_reporting",
                     help="grant-reporting: the read-only role for BI tools (PostgreSQL)")

    docs = sub.add_parser("docs", help="regenerate docs/rules.md and docs/indicators.md")
    docs.add_argument("--out", type=Path, default=Path("docs"), help="the docs folder")

    # Commands of the data officers' tools and of the operator register themselves here
    # (set_defaults(handler=...)).
    from qa_pipeline import officer_cli, ops_cli

    officer_cli.add_commands(sub)
    ops_cli.add_commands(sub)
    return p


def _print_summary(result: object) -> None:
    from qa_pipeline.pipeline import LandingResult

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
        if b.report_path:
            print(f"  report: {b.report_path}")
            print(f"  worklists: {b.workbook_path}")


def main(argv: list[str] | None = None) -> int:
    from qa_pipeline.contracts import ContractError
    from qa_pipeline.redaction import install_log_redaction, redact_standard_streams

    redact_standard_streams()  # before anything is printed: no NHS number reaches a terminal
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    install_log_redaction()
    try:
        return _dispatch(args)
    except ContractError as exc:  # the contract file is broken: one line, no traceback
        print(f"qa-pipeline: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return EXIT_USAGE


def _dispatch(args: argparse.Namespace) -> int:
    """Run the command. The contracts are loaded lazily (at the first import of the database
    module, or by the command itself); a broken contract file raises ContractError."""
    from qa_pipeline.contracts import ContractError

    handler = getattr(args, "handler", None)
    if handler is not None:
        return int(handler(args))
    if args.command in ("run", "release"):
        from qa_pipeline.db import mask_url
        from qa_pipeline.holds import ReleaseError
        from qa_pipeline.locking import LockTimeout
        from qa_pipeline.pipeline import check_site_files, release, run_path
        from qa_pipeline.settings import load_settings
        from qa_pipeline.staging import BatchError

        try:
            settings = load_settings(args.config).with_overrides(db_url=args.db)
            check_site_files(settings)  # a site's contracts or indicator configuration
        except (OSError, ValueError) as exc:
            print(f"qa-pipeline: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        try:
            if args.command == "release":
                outcome = release(args.as_of, args.by, settings.db_url, settings)
                print(f"batch {args.as_of}: {outcome.status} (exit {outcome.exit_code})")
                print(f"  {outcome.message}")
                return outcome.exit_code
            result = run_path(args.path, settings.db_url, args.work_dir, settings)
        except ContractError:
            raise
        except (BatchError, ReleaseError) as exc:
            print(f"qa-pipeline: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        except LockTimeout as exc:
            print(f"qa-pipeline: {exc}", file=sys.stderr)
            return 1
        except Exception as exc:  # database unreachable, bad URL, ...: nothing published
            print(f"qa-pipeline: run failed: {type(exc).__name__}: {mask_url(str(exc))}",
                  file=sys.stderr)
            return 1
        _print_summary(result)
        print(f"database: {mask_url(settings.db_url)}")
        return result.exit_code
    if args.command == "generate-sample":
        from qa_pipeline.generate import generate_batch

        if args.children < 1:
            print("qa-pipeline: error: --children must be at least 1", file=sys.stderr)
            return EXIT_USAGE
        out = generate_batch(args.out, children=args.children, seed=args.seed,
                             as_of=args.as_of, defects=args.defects,
                             identifying=args.identifying, years=args.years)
        print(f"wrote {out}")
        return 0
    if args.command == "db":
        from qa_pipeline.db import current_revision, make_engine, upgrade
        from qa_pipeline.settings import load_settings

        engine = make_engine(args.db or load_settings().db_url)
        if args.action == "upgrade":
            upgrade(engine)
        if args.action == "grant-reporting":
            from qa_pipeline.roles import grant_reporting

            upgrade(engine)
            views = grant_reporting(engine, args.role)
            print(f"{args.role} may read {len(views)} views in schema reporting")
        print(f"schema revision: {current_revision(engine)}")
        return 0
    if args.command == "docs":
        from qa_pipeline.docs import write_docs

        for path in write_docs(args.out):
            print(f"wrote {path}")
        return 0
    return EXIT_USAGE


if __name__ == "__main__":
    raise SystemExit(main())
