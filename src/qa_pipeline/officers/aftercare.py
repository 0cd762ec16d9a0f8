"""What runs after a batch is published: data checks, report, worklists, run summary.

`after_publish` is called by the nightly job (CLI and Prefect flow) once a batch is in the
reporting database. It

1. runs the Great Expectations checkpoint on the published tables of the batch
   (`qa_pipeline.officers.expectations`) and builds its Data Docs under
   `report_dir/data_docs/<as_of>/`;
2. writes the Excel worklists of the latest batch (`qa_worklists_<as_of>.xlsx`);
3. writes the HTML report of the latest batch (`qa_report_<as_of>.html`), with the checks;
4. returns the content of the Prefect artifacts: a markdown summary and the open issues per
   rule as table rows.

A checkpoint that cannot run at all (Great Expectations error) does not stop the rest: it is
reported as a failed expectation, so the run is marked `succeeded_with_issues`.

Nothing here may turn a published batch into a failed run: a report folder that cannot be
created, a report, workbook or Data Docs that cannot be written (no permission, disk full)
is listed in `AftercareResult.problems` (one sentence each, redacted) and the other outputs
are still written; the job then marks the run `succeeded_with_issues` and the operator
rebuilds what is missing with `qa-pipeline report`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from qa_pipeline.i18n import parse_language
from qa_pipeline.officers.expectations import (
    DEFAULT_VOLUME_TOLERANCE,
    Acknowledgement,
    ExpectationsResult,
    data_docs_dir,
    run_checkpoint,
)
from qa_pipeline.officers.issues import RootCauseCounts, root_cause_counts
from qa_pipeline.officers.report import (
    ReportData,
    build_report,
    counts_by_rule,
    effective_status,
    gather,
)
from qa_pipeline.officers.report import report_path as report_file
from qa_pipeline.officers.worklists import workbook_path as workbook_file
from qa_pipeline.officers.worklists import write_workbook
from qa_pipeline.privacy.redaction import redact

log = logging.getLogger(__name__)


@dataclass
class AftercareResult:
    report_path: Path
    workbook_path: Path
    data_docs_path: Path | None
    failed_expectations: list[str] = field(default_factory=list)
    accepted_expectations: list[str] = field(default_factory=list)
    """Failed checks a release acknowledged ("... — accepted by NAME at release")."""
    open_issues_by_rule: list[dict[str, Any]] = field(default_factory=list)
    summary_markdown: str = ""
    expectations_passed: int = 0
    expectations_total: int = 0
    problems: list[str] = field(default_factory=list)
    """What could not be written (one sentence each); report_path / workbook_path are then
    where the file would be, and report_written / workbook_written say whether it is."""
    report_written: bool = True
    workbook_written: bool = True
    data_docs_written: bool = True
    root_causes: RootCauseCounts | None = None
    """New, persisting and resolved records to fix of the latest batch, as the report shows
    them (the run summary's `checks: ... · root causes: ...` line)."""


def write_problem(what: str, path: Path, exc: BaseException) -> str:
    """`the report could not be written to /x: No space left on device` (redacted)."""
    if isinstance(exc, OSError) and exc.strerror:
        reason = exc.strerror
    else:
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return redact(f"the {what} could not be written to {path}: {reason}")


def _md(v: Any) -> str:
    return str("" if v is None else v).replace("|", "\\|").replace("\n", " ")


def report_counts(data: ReportData) -> RootCauseCounts:
    """The report's new / persisting / resolved records to fix of its batch."""
    return root_cause_counts(data.as_of, data.issues, (x["rule_id"] for x in data.resolved))


def summary_markdown(data: ReportData, expectations: ExpectationsResult | None,
                     report_path: Path, workbook_path: Path, *, checked_as_of: date,
                     run_id: str, problems: Sequence[str] = ()) -> str:
    """The run summary for a Prefect markdown artifact."""
    run = data.run or {}
    failed = expectations.failed if expectations is not None else []
    status = effective_status(run.get("status"), failed)
    lines = [f"# Batch {data.as_of} — {status}", ""]
    if status != run.get("status"):
        lines += [f"Recorded as `{run.get('status')}`; the data checks failed.", ""]
    lines += [f"Run `{run_id}` · rows read {run.get('rows_read')}, loaded "
              f"{run.get('rows_loaded')}, quarantined {run.get('rows_quarantined')}", ""]
    if data.extracts:
        lines += ["| extract | status | read | loaded | quarantined | warnings |",
                  "|---|---|---:|---:|---:|---:|"]
        lines += [f"| {_md(x['extract'])} | {_md(x['status'])} | {x['rows_read']} | "
                  f"{x['rows_loaded']} | {x['rows_quarantined']} | {x['warnings']} |"
                  for x in data.extracts]
        lines.append("")
    counts = report_counts(data)
    since = f" since {data.previous_as_of}" if data.previous_as_of else ""
    dependents = sum(len(rc.dependents) for rc in data.root_causes)
    lines += [f"**Open issues (records to fix):** {counts.open} — {counts.new} new, "
              f"{counts.persisting} persisting, with {dependents} dependent records; "
              f"{counts.resolved} resolved{since}; {len(data.accepted)} "
              "accepted "
              "exceptions not counted.", ""]
    if expectations is None:
        lines += ["**Data checks:** not run.", ""]
    elif failed:
        if checked_as_of != data.as_of:
            lines.append(f"Data checks ran on batch {checked_as_of}.")
        lines += [f"**Data checks:** {len(failed)} failed:", ""]
        lines += [f"- {_md(f)}" for f in failed]
        lines.append("")
    elif expectations.acknowledged:
        lines += [f"**Data checks:** the other "
                  f"{len(expectations.outcomes) - len(expectations.acknowledged)} passed.", ""]
    else:
        lines += [f"**Data checks:** all {len(expectations.outcomes)} passed.", ""]
    if expectations is not None and expectations.acknowledged:
        lines += ["**Accepted at release** (computed, not counted as failures):", ""]
        lines += [f"- {_md(a)}" for a in expectations.acknowledged]
        lines.append("")
    if problems:
        lines += ["**Not written** (rebuild with `qa-pipeline report`):", ""]
        lines += [f"- {_md(p)}" for p in problems]
        lines.append("")
    lines.append(f"**Report:** `{report_path}`  ")
    lines.append(f"**Worklists:** `{workbook_path}`  ")
    if expectations is not None and expectations.data_docs_path is not None:
        lines.append(f"**Data Docs:** `{expectations.data_docs_path}`")
    return "\n".join(lines).rstrip() + "\n"


def after_publish(engine: sa.Engine, as_of: date, run_id: str, report_dir: Path, *,
                  volume_tolerance: float = DEFAULT_VOLUME_TOLERANCE,
                  acknowledge: Acknowledgement | None = None,
                  language: str = "en") -> AftercareResult:
    """Check the published batch `as_of`, write the report and worklists of the latest batch
    into report_dir, and return what the flow needs for its artifacts and run status.

    `volume_tolerance`: each `stg_*` table must hold at least this share (0–1) of the rows it
    held in the previous published batch (default 0.5: a half-empty extract is truncated).
    `acknowledge` (a release): the volume checks of the extracts whose drop held the batch
    are still run but accepted, not failed (`Acknowledgement`).
    """
    report_dir = Path(report_dir).absolute()  # Great Expectations wants absolute paths
    problems: list[str] = []
    try:
        report_dir.mkdir(parents=True, exist_ok=True)
        folder_ok = True
    except OSError as exc:  # a file in its place, no permission, disk full
        folder_ok = False
        reason = ("a file is in its place" if report_dir.exists() and not report_dir.is_dir()
                  else exc.strerror or type(exc).__name__)
        problems.append(redact(
            f"the report folder {report_dir} could not be created: {reason}, so no report, "
            "worklists or Data Docs were written"))
        log.error("%s: %s", as_of, problems[-1])
    docs: Path | None = data_docs_dir(report_dir, as_of) if folder_ok else None
    checks, docs = _checks(engine, as_of, docs, report_dir, problems,
                           volume_tolerance=volume_tolerance)
    if acknowledge is not None:
        checks = acknowledge.apply(checks)
    from qa_pipeline.i18n import Lang

    lang = Lang(parse_language(language))
    data = gather(engine, run_id=run_id if _is_latest(engine, as_of) else None)
    workbook = workbook_file(report_dir, data.as_of)
    workbook_ok = report_ok = False
    if folder_ok:
        try:
            workbook = write_workbook(engine, report_dir, issues=data.issues, lang=lang)
            workbook_ok = True
        except Exception as exc:  # disk full, ...: the report is still written
            problems.append(write_problem("worklists", workbook, exc))
            log.error("%s: %s", as_of, problems[-1])
    report = report_file(report_dir, data.as_of)
    if folder_ok:
        try:
            report = build_report(engine, report_dir, expectations=checks,
                                  workbook=workbook if workbook_ok else None, data=data,
                                  lang=lang)
            report_ok = True
        except Exception as exc:
            problems.append(write_problem("report", report, exc))
            log.error("%s: %s", as_of, problems[-1])
    return AftercareResult(
        report_path=report, workbook_path=workbook, data_docs_path=checks.data_docs_path,
        failed_expectations=checks.failed, accepted_expectations=checks.acknowledged,
        problems=problems, report_written=report_ok,
        workbook_written=workbook_ok,
        data_docs_written=docs is not None and checks.data_docs_path is not None,
        open_issues_by_rule=[
            {k: r[k] for k in ("rule_id", "extract", "severity", "open", "new", "persisting",
                               "resolved", "accepted")}
            for r in counts_by_rule(data) if r["open"] or r["resolved"] or r["accepted"]],
        summary_markdown=summary_markdown(data, checks, report, workbook,
                                          checked_as_of=as_of, run_id=run_id,
                                          problems=problems),
        expectations_passed=sum(o.success for o in checks.outcomes),
        expectations_total=len(checks.outcomes),
        root_causes=report_counts(data),
    )


def _checks(engine: sa.Engine, as_of: date, docs: Path | None, report_dir: Path,
            problems: list[str], *, volume_tolerance: float
            ) -> tuple[ExpectationsResult, Path | None]:
    """The checkpoint of batch `as_of` and the Data Docs folder it wrote (None: not written,
    the reason added to `problems`). Checks that cannot run are one failed expectation."""
    try:
        return run_checkpoint(engine, as_of, docs, volume_tolerance=volume_tolerance), docs
    except OSError as exc:  # the Data Docs could not be written: check without them
        problems.append(write_problem("Data Docs", docs or report_dir, exc))
        log.error("%s: %s", as_of, problems[-1])
        try:
            return run_checkpoint(engine, as_of, None, volume_tolerance=volume_tolerance), None
        except Exception as again:
            log.exception("expectations checkpoint failed")
            return ExpectationsResult(as_of=as_of, error=redact(
                f"{type(again).__name__}: {again}")), None
    except Exception as exc:  # the checks could not run: report it, carry on
        log.exception("expectations checkpoint failed")
        return ExpectationsResult(as_of=as_of,
                                  error=redact(f"{type(exc).__name__}: {exc}")), docs


def _is_latest(engine: sa.Engine, as_of: date) -> bool:
    from qa_pipeline.officers.issues import latest_batch

    return latest_batch(engine) == as_of
