"""Command-line tools of the data officers (issues, exceptions, reports).

Each command registers itself with `set_defaults(handler=...)`; `cli.main` calls the handler,
which returns the exit status (`ExitStatus`): 0 done, 1 the database could not be read or
written (or holds no published batch), 2 usage error, no reporting database at the path given,
or input the register refuses, 3 (`report --check`) the data checks failed. None of them
creates a database. Each takes `--db URL`, `--config FILE` and `-v` (`cli_common`).

    qa-pipeline issues [--team T] [--rule R] [--status new|persisting] [--include-accepted]
                       [--all] [--format table|csv]
    qa-pipeline issues --status resolved [--since YYYY-MM-DD] [--team T] [--rule R]
                       [--format table|csv]
    qa-pipeline exceptions add --rule R --extract E [--record ID] --reason TEXT --by NAME
                       [--expires YYYY-MM-DD]
    qa-pipeline exceptions list [--all]
    qa-pipeline exceptions remove ID --by NAME
    qa-pipeline report [--out DIR] [--check] [--volume-tolerance SHARE]
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from qa_pipeline.cli.common import existing_database, iso_date, options
from qa_pipeline.i18n import ENGLISH, Lang, lang_of
from qa_pipeline.ops.exits import ExitStatus
from qa_pipeline.spec.published import published


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


def _engine(args: argparse.Namespace) -> Any:
    """The existing reporting database (never created: a SQLite file that does not exist is
    "no reporting database at PATH", exit 2). `cli.main` turns every failure into one line
    and an exit status (`cli_common.failure_status`)."""
    return existing_database(args)[1]


# --- issues ------------------------------------------------------------------------------

ISSUE_FIELDS = published()["dq_issue_latest"].pick(
    "team_id", "extract", "record_id", "child_id", "rule_id", "severity", "status",
    "first_seen", "age_days", "column_name", "value", "message", "guidance")
"""The columns of dq_issue_latest that `qa-pipeline issues` shows, in its order (a name the
declaration does not have is refused when the module loads)."""
RESOLVED_FIELDS = published()["dq_issue_resolved"].pick(
    "resolved_in", "team_id", "extract", "record_id", "child_id", "rule_id", "severity",
    "first_seen", "last_seen", "column_name", "value", "message")
"""The columns of dq_issue_resolved that `qa-pipeline issues --status resolved` shows."""


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


def _known_teams(engine: Any, issues: Sequence[Any]) -> set[str]:
    """The team ids of the latest batch: its teams extract, and any team an issue names."""
    from qa_pipeline.officers.issues import latest_batch, team_names

    return set(team_names(engine, latest_batch(engine))) | {
        i.team_id for i in issues if i.team_id}


def _combination_problem(args: argparse.Namespace) -> str | None:
    """Why the options given do not go together (None: they do)."""
    if args.since is not None and args.status != "resolved":
        return ("--since DATE limits the resolved issues: use it with --status resolved "
                "(open issues are always those of the latest batch)")
    if args.status == "resolved" and args.all:
        return ("--all is for open issues (root causes and their dependent rows); --status "
                "resolved lists every resolved issue")
    if args.status == "resolved" and args.include_accepted:
        return ("--include-accepted is for open issues; --status resolved lists every "
                "resolved issue, covered by an exception or not")
    return None


WELSH_OF = {"message": "message_cy", "guidance": "guidance_cy"}
"""The texts `issues` shows in the configured language: English column -> its Welsh."""


def _value(i: Any, f: str, lang: Lang = ENGLISH) -> str:
    if f in WELSH_OF:
        return lang.pair(getattr(i, f), getattr(i, WELSH_OF[f], None))
    v = getattr(i, f)
    return "" if v is None else (v.isoformat() if isinstance(v, date) else str(v))


def _write_csv(fields: Sequence[str], items: Sequence[Any], lang: Lang = ENGLISH) -> None:
    from qa_pipeline.officers.worklists import csv_safe

    w = csv.writer(sys.stdout, lineterminator="\n")
    w.writerow(fields)
    for i in items:
        w.writerow([csv_safe(_value(i, f, lang)) for f in fields])


def cmd_issues(args: argparse.Namespace) -> int:
    import sqlalchemy as sa

    from qa_pipeline.officers.issues import load_latest_issues, load_resolved_issues

    if (problem := _combination_problem(args)) is not None:
        _err(problem)
        return ExitStatus.USAGE
    settings, engine = existing_database(args)
    lang = lang_of(settings.language)
    issues = load_latest_issues(engine)
    resolved = (load_resolved_issues(engine, args.since) if args.status == "resolved"
                else None)
    if args.rule is not None:
        with engine.connect() as conn:
            known = conn.execute(sa.text("SELECT 1 FROM dq_rule WHERE rule_id = :r"),
                                 {"r": args.rule}).first()
        if known is None:
            _err(f"unknown rule id {args.rule!r} (see docs/rules.md)")
            return ExitStatus.USAGE
    if args.team is not None and args.team.lower() != "none":
        teams = _known_teams(engine, issues) | {
            r.team_id for r in resolved or [] if r.team_id}
        if args.team not in teams:
            shown = ", ".join(sorted(teams)) or "none in this batch"
            _err(f"unknown team {args.team!r} (team ids are compared exactly; the teams of the "
                 f"latest batch are: {shown}; 'none' lists the issues no team owns)")
            return ExitStatus.USAGE
    if resolved is not None:
        return _print_resolved(args, engine, resolved, lang)
    chosen = _chosen(args, issues)
    extra = (["exception_id"] if args.include_accepted else []) + (
        list(ROOT_FIELDS) if args.all else ["dependents"])
    if args.format == "csv":
        _write_csv(ISSUE_FIELDS + extra, chosen, lang)
        return ExitStatus.OK
    as_of = issues[0].as_of.isoformat() if issues else _latest(engine)
    columns = ("team_id", "extract", "record_id", "rule_id", "severity", "status",
               "first_seen", "age_days", "column_name", "value", "message", *extra)
    header = ["team", "extract", "record", "rule", "severity", "status", "first seen", "age",
              "column", "value", "message"] + (["exception"] if args.include_accepted else []
                                              ) + (["root rule", "root record"] if args.all
                                                   else ["dependents"])
    rows = [[_value(i, f, lang) for f in columns] for i in chosen]
    if rows:
        _print_table(header, rows, {"value": 24, "message": 70, "column": 24})
    print(_issues_summary(args, issues, chosen, as_of))
    return ExitStatus.OK


ROOT_FIELDS = published()["dq_issue_latest"].pick("root_rule_id", "root_record_id")
"""The columns `issues --all` adds: the root cause a dependent row's warning names."""


class _Line:
    """A line of `qa-pipeline issues`: an issue's fields, and (by default, one line per
    record to fix) how many dependent records it has."""

    def __init__(self, issue: Any, dependents: int = 0) -> None:
        self.issue, self.dependents = issue, dependents

    def __getattr__(self, name: str) -> Any:
        return getattr(self.issue, name)


def _chosen(args: argparse.Namespace, issues: Sequence[Any]) -> list[_Line]:
    """The lines to show: by default the root causes (each dependent row's warning counted
    under the record to fix), with --all every issue; filtered by team, rule and status."""
    from qa_pipeline.officers.issues import filter_issues, root_causes

    def wanted(items: Sequence[Any]) -> list[Any]:
        return filter_issues(items, team=args.team, rule=args.rule, status=args.status,
                             include_accepted=True)

    if args.all:
        return [_Line(i) for i in wanted(filter_issues(
            issues, include_accepted=args.include_accepted))]
    roots = root_causes(issues, include_accepted=args.include_accepted)
    keep = {id(i) for i in wanted([r.issue for r in roots])}
    return [_Line(r.issue, len(r.dependents)) for r in roots if id(r.issue) in keep]


def _issues_summary(args: argparse.Namespace, issues: Sequence[Any], chosen: Sequence[Any],
                    as_of: str) -> str:
    accepted = sum(i.accepted for i in issues)
    new = sum(i.status == "new" for i in chosen)
    what = "issue(s)" if args.all else "record(s) to fix"
    line = f"\n{len(chosen)} {what} in batch {as_of} ({new} new, {len(chosen) - new} persisting)"
    if not args.all:
        dependents = sum(i.dependents for i in chosen)
        line += (f"; {dependents} dependent record(s) counted under their root cause "
                 "(--all lists every issue)")
    return line + ("" if args.include_accepted else f"; {accepted} accepted exception(s) "
                   "not shown")


def _print_resolved(args: argparse.Namespace, engine: Any, resolved: Sequence[Any],
                    lang: Lang = ENGLISH) -> int:
    """`issues --status resolved [--since DATE]`: the issues gone since the batch before."""
    from qa_pipeline.officers.issues import filter_resolved

    chosen = filter_resolved(resolved, team=args.team, rule=args.rule)
    if args.format == "csv":
        _write_csv(RESOLVED_FIELDS, chosen, lang)
        return ExitStatus.OK
    header = ["resolved in", "team", "extract", "record", "rule", "severity", "first seen",
              "last seen", "column", "value", "message"]
    rows = [[_value(i, f, lang) for f in RESOLVED_FIELDS if f != "child_id"] for i in chosen]
    if rows:
        _print_table(header, rows, {"value": 24, "message": 70, "column": 24})
    latest = _latest(engine)
    where = (f"in the batches from {args.since} to {latest}, each against the batch before"
             if args.since is not None else f"in batch {latest} (gone since the previous "
                                                "batch)")
    print(f"\n{len(chosen)} issue(s) resolved {where}")
    return ExitStatus.OK


def _latest(engine: Any) -> str:
    from qa_pipeline.officers.issues import latest_batch

    return latest_batch(engine).isoformat()


# --- exceptions --------------------------------------------------------------------------


def cmd_exceptions_add(args: argparse.Namespace) -> int:
    from qa_pipeline.officers.exceptions import add_exception, matching_issue_count

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
    return ExitStatus.OK


def cmd_exceptions_list(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from qa_pipeline.officers.exceptions import list_exceptions
    from qa_pipeline.officers.issues import NoPublishedBatch, latest_batch

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
    return ExitStatus.OK


def cmd_exceptions_remove(args: argparse.Namespace) -> int:
    from qa_pipeline.officers.exceptions import remove_exception

    exc = remove_exception(_engine(args), args.exception_id, by=args.by)
    print(f"exception {exc.exception_id} removed by {exc.removed_by}; its issues are open "
          "again from the next report")
    return ExitStatus.OK


# --- report ------------------------------------------------------------------------------


def cmd_report(args: argparse.Namespace) -> int:
    from qa_pipeline.ops.settings import using

    settings, engine = existing_database(args)
    with using(settings):  # the data checks follow the site's contracts, if it has its own
        return _report(args, settings, engine)


def _report(args: argparse.Namespace, settings: Any, engine: Any) -> int:
    from qa_pipeline.i18n import Lang
    from qa_pipeline.officers.report import build_report, gather
    from qa_pipeline.officers.worklists import write_workbook

    # the resolved report folder (reports/ next to a SQLite database, else ./reports): the
    # same folder `run` writes to, so `report` rebuilds what a run could not write there
    out = Path(args.out if args.out is not None else settings.reports).absolute()
    data = gather(engine)
    checks = None
    try:
        out.mkdir(parents=True, exist_ok=True)
        if args.check:
            from qa_pipeline.officers.expectations import data_docs_dir, run_checkpoint

            checks = run_checkpoint(engine, data.as_of, data_docs_dir(out, data.as_of),
                                    volume_tolerance=args.volume_tolerance)
        lang = Lang(settings.language)
        workbook = write_workbook(engine, out, issues=data.issues, lang=lang)
        report = build_report(engine, out, expectations=checks, workbook=workbook, data=data,
                              lang=lang)
    except OSError as exc:  # the folder is still not writable, the disk still full
        from qa_pipeline.privacy.redaction import redact

        reason = ("a file is in the report folder's place" if out.exists()
                  and not out.is_dir() else exc.strerror or exc)
        _err(redact(f"the report of batch {data.as_of} could not be written to {out}: "
                    f"{reason}"))
        return ExitStatus.FAILED
    print(f"batch {data.as_of}: {len(data.root_causes)} open issue(s) (records to fix)")
    print(f"wrote {report}")
    print(f"wrote {workbook}")
    if checks is not None:
        if checks.data_docs_path:
            print(f"wrote {checks.data_docs_path}")
        failed = checks.failed
        print(f"data checks: {len(checks.outcomes) - len(failed)} of {len(checks.outcomes)} "
              "passed")
        from qa_pipeline.privacy.redaction import redact

        for f in failed:
            print(f"  FAILED {redact(f)}")
        if failed:
            return ExitStatus.ISSUES
    return ExitStatus.OK


def _volume(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        v = -1.0
    if not 0 <= v <= 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a share between 0 and 1")
    return v


def add_commands(sub: Any) -> None:
    """Add the data officers' subcommands to the `qa-pipeline` parser."""
    shared = options(db=True, config=True)

    issues = sub.add_parser(
        "issues", parents=options(db=True, config=True, language=True),
        help="list the open issues of the latest batch",
        description="The open issues of the latest published batch (accepted exceptions "
                    "left out unless --include-accepted); with --status resolved, the issues "
                    "resolved in it (or, with --since, in every batch since a date). Messages "
                    "and guidance are in the configured language (--language, or the "
                    "setting `language`); the headings stay English.")
    issues.add_argument("--team", help="a team id, exactly as in Paris (0069, not 69; an "
                        "unknown team is an error naming the known ones); 'none' for issues "
                        "that no team owns")
    issues.add_argument("--rule", help="a rule id (see docs/rules.md)")
    issues.add_argument("--status", choices=["new", "persisting", "resolved"],
                        help="only issues new in the latest batch, or only those persisting "
                             "from earlier batches; resolved: the issues of the previous "
                             "batch that the latest batch no longer has (put right)")
    issues.add_argument("--since", type=iso_date, default=None, metavar="YYYY-MM-DD",
                        help="with --status resolved: the issues resolved in every published "
                             "batch on or after this date, each batch compared with the "
                             "published batch before it (all batches are kept)")
    issues.add_argument("--include-accepted", action="store_true",
                        help="also list issues covered by an accepted exception")
    issues.add_argument("--all", action="store_true",
                        help="list every issue, the warnings of dependent rows too (by "
                        "default they are counted under their root cause: one line per "
                        "record to fix)")
    issues.add_argument("--format", choices=["table", "csv"], default="table",
                        help="a table for the terminal, or CSV for a spreadsheet (table)")
    issues.set_defaults(handler=cmd_issues)

    exc = sub.add_parser("exceptions", parents=shared,
                         help="the register of accepted exceptions",
                         description="Failures a data officer accepts as correct practice.")
    esub = exc.add_subparsers(dest="exceptions_command", required=True, metavar="ACTION",
                              help="one of:")
    add = esub.add_parser("add", parents=shared, help="accept a record's failure of a rule")
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
    add.set_defaults(handler=cmd_exceptions_add)

    lst = esub.add_parser("list", parents=shared, help="list the exceptions in force")
    lst.add_argument("--all", action="store_true", help="include removed exceptions")
    lst.set_defaults(handler=cmd_exceptions_list)

    rm = esub.add_parser("remove", parents=shared,
                         help="withdraw an exception (its history is kept)")
    rm.add_argument("exception_id", type=_positive_int, metavar="ID",
                    help="the exception's id (`qa-pipeline exceptions list`)")
    rm.add_argument("--by", required=True, help="who withdraws it")
    rm.set_defaults(handler=cmd_exceptions_remove)

    rep = sub.add_parser("report", parents=options(db=True, config=True, language=True),
                         help="rebuild the HTML report and Excel worklists of the latest batch")
    rep.add_argument("--out", type=Path, default=None, metavar="DIR",
                     help="output folder (default: settings' report_dir: reports/ next to a "
                          "SQLite database, else ./reports)")
    rep.add_argument("--check", action="store_true",
                     help="also run the Great Expectations checks (slow) and build Data Docs")
    rep.add_argument("--volume-tolerance", type=_volume, default=0.5, metavar="SHARE",
                     help="with --check: least share of the previous batch's rows each "
                          "stg_* table must hold (default 0.5)")
    rep.set_defaults(handler=cmd_report)
