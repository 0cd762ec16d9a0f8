"""Stage one batch: read every extract of a batch folder, guard it, validate it, and write the
staged (typed, validated) rows and the findings to a work folder as parquet plus a manifest.

Staging touches no database, so a batch can be staged and checked without one, and the
publish step (`publish.py`) gets file paths, not frames (what Prefect tasks pass around).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import asdict, dataclass, field
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any, Literal

import polars as pl

from qa_pipeline import __version__
from qa_pipeline.ingest.findings import (
    TEXT_BOUNDS,
    Finding,
    bound_issues,
    empty_issues,
    findings_frame,
)
from qa_pipeline.ingest.reading import ROW_COLUMN, FileProblem, RawFile, read_text_csv
from qa_pipeline.ingest.validation import (
    ROOT_RECORD_COL,
    ROOT_RULE_COL,
    ParentState,
    ValidationResult,
    raw,
    validate_extract,
)
from qa_pipeline.ingest.welsh_details import STATUS_CY, welsh_details
from qa_pipeline.ops.faults import failpoint
from qa_pipeline.ops.settings import Settings
from qa_pipeline.privacy.identifying import forbidden_headers, nhs_number_rows
from qa_pipeline.privacy.redaction import redact_cut
from qa_pipeline.spec.contracts import Contracts, Extract, load_contracts

log = logging.getLogger(__name__)

BATCH_NAME = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MANIFEST = "manifest.json"
ISSUES_FILE = "dq_issue.parquet"

WORK_PARQUET_COMPRESSION: Literal["lz4"] = "lz4"
"""The work folder's files live for one run: lz4 writes and reads faster than the default
zstd (about 20 % each way at national scale, docs/performance.md) for twice the size."""


class BatchError(ValueError):
    """The path given is not a batch folder (a usage problem, not a data problem)."""


@dataclass
class ExtractOutcome:
    """What happened to one extract of a batch (one row of pipeline_run_extract)."""

    extract: str
    file_name: str | None
    status: str  # loaded | rejected | missing
    sha256: str | None = None
    encoding: str | None = None
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    warnings: int = 0
    parquet: str | None = None
    reason: str | None = None


@dataclass
class Manifest:
    as_of: date
    batch_path: str
    work_dir: str
    code_version: str
    contract_version: int
    extracts: dict[str, ExtractOutcome] = field(default_factory=dict)
    unknown_files: list[str] = field(default_factory=list)
    issues_parquet: str = ""
    indicators: dict[str, str] = field(default_factory=dict)

    @property
    def files_rejected_or_missing(self) -> list[str]:
        return [n for n, o in self.extracts.items() if o.status != "loaded"]

    def to_json(self) -> str:
        d = asdict(self)
        d["as_of"] = self.as_of.isoformat()
        return json.dumps(d, indent=2)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        d: dict[str, Any] = json.loads(text)
        d["as_of"] = date.fromisoformat(d["as_of"])
        d["extracts"] = {k: ExtractOutcome(**v) for k, v in d["extracts"].items()}
        return cls(**d)

    def write(self) -> Path:
        path = Path(self.work_dir) / MANIFEST
        path.write_text(self.to_json(), encoding="utf-8")
        return path


def batch_date(batch_dir: Path) -> date:
    """The extract date is the batch folder's name, `YYYY-MM-DD`."""
    name = batch_dir.name
    if not BATCH_NAME.match(name):
        raise BatchError(f"{batch_dir}: a batch folder is named with its extract date, "
                         "YYYY-MM-DD")
    try:
        return date.fromisoformat(name)
    except ValueError as exc:
        raise BatchError(f"{batch_dir}: {name} is not a real date") from exc


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def match_files(batch_dir: Path, contracts: Contracts
                 ) -> tuple[dict[str, Path], list[Path]]:
    """Extract files by case-insensitive name; everything else is reported and ignored."""
    wanted = {e.file_name: e.name for e in contracts.extracts.values()}
    found: dict[str, Path] = {}
    others: list[Path] = []
    for p in sorted(batch_dir.iterdir()):
        name = wanted.get(p.name.lower())
        if name is not None and p.is_file() and name not in found:
            found[name] = p
        else:
            others.append(p)
    return found, others


def _same_name_twins(files: dict[str, Path], others: list[Path]) -> dict[str, list[Path]]:
    """Extracts delivered twice under names that differ only in case (`referrals.csv` and
    `Referrals.CSV`): extract -> every such file. Neither can be preferred, so both are
    rejected."""
    twins: dict[str, list[Path]] = {}
    for name, path in files.items():
        same = [p for p in others if p.is_file() and p.name.lower() == path.name.lower()]
        if same:
            twins[name] = sorted([path, *same])
    return twins


def _file_finding(as_of: date, e: Extract, file_name: str, suffix: str, detail: str,
                  column: str | None = None) -> Finding:
    rule = e.rule(suffix)
    message = rule.message if not detail else f"{rule.message} ({detail})"
    message_cy = rule.message_cy if not detail else \
        f"{rule.message_cy} ({welsh_details(detail)})"
    return Finding(as_of=as_of, extract=file_name, rule_id=rule.rule_id,
                   severity=rule.severity, message=message, column_name=column,
                   message_cy=message_cy)


Staged = tuple[ExtractOutcome, list[Finding], pl.DataFrame | None, pl.DataFrame, ParentState]
"""What staging one file gives: its outcome, file-level findings, the loaded rows (None if
rejected), the row-level issues and what it offers its children."""


def stage_extract(path: Path, e: Extract, as_of: date, parents: dict[str, ParentState],
                  limits: Settings | None = None) -> Staged:
    """Read, guard and validate one file. Returns its outcome, file-level findings, the
    loaded rows (None if rejected), the row-level issues and what it offers its children."""
    outcome = ExtractOutcome(extract=e.name, file_name=path.name, status="rejected",
                             sha256=sha256_file(path))
    limits = limits or Settings()
    read = read_text_csv(path, max_bytes=limits.max_file_bytes)
    if isinstance(read, FileProblem):
        return _rejected(outcome, read, e, as_of, path.name)
    outcome.encoding = read.encoding
    outcome.rows_read = read.frame.height
    names = [c for c in read.frame.columns if c != ROW_COLUMN]
    problem = _guard(read, names, e)
    if problem is not None:
        return _rejected(outcome, problem, e, as_of, path.name)

    findings = _extra_column_findings(read, names, e, as_of, path.name)
    if read.frame.height == 0:
        findings.append(_file_finding(as_of, e, path.name, "no_rows", ""))
    result = validate_extract(read.frame, e, as_of, parents, ragged=read.ragged,
                              max_field_chars=limits.max_field_chars,
                              marked_bytes=read.invalid_bytes > 0,
                              earliest=limits.earliest_dates)
    findings.extend(_unchecked_reference_findings(result, e, as_of, parents))
    outcome.status = "loaded"
    outcome.rows_loaded = result.loaded.height
    outcome.rows_quarantined = result.quarantined
    outcome.warnings = result.warnings + sum(f.severity == "warning" for f in findings)
    return outcome, findings, result.loaded, result.issues, _offered_state(e, result)


def _rejected(outcome: ExtractOutcome, problem: FileProblem, e: Extract, as_of: date,
              file_name: str) -> Staged:
    """A whole file rejected: its one finding, nothing loaded, nothing offered to children
    (their references to it are not checked)."""
    finding = _file_finding(as_of, e, file_name, problem.kind, problem.detail, problem.column)
    outcome.reason = redact_cut(finding.message, TEXT_BOUNDS["message"])
    log.warning("%s rejected: %s", file_name, finding.rule_id)
    return outcome, [finding], None, empty_issues(), ParentState(status="rejected")


def _guard(read: RawFile, names: list[str], e: Extract) -> FileProblem | None:
    """Why a readable file is rejected before validation, if it is. Identifying data first:
    nothing of such a file goes any further, values included; then the contract's columns."""
    bad_headers = forbidden_headers(names, contract_columns())
    if bad_headers:
        return FileProblem("identifying_column", f"column {', '.join(bad_headers)}",
                           ",".join(bad_headers))
    nhs = nhs_number_rows(read.frame, names, ROW_COLUMN)
    if nhs:
        where = "; ".join(
            f"column {col}, rows " + ", ".join(str(r) for r in rows[:10])
            + (" …" if len(rows) > 10 else "") for col, rows in nhs.items())
        return FileProblem("nhs_number", where, ",".join(nhs))
    missing = [c for c in e.columns if c not in names]
    if missing:
        detail = f"missing: {', '.join(missing)}"
        lookalike = _lookalike(names, e)
        if lookalike:
            detail += f"; the header is that of {lookalike}: was the wrong file delivered?"
        return FileProblem("missing_column", detail, ",".join(missing))
    return None


def _extra_column_findings(read: RawFile, names: list[str], e: Extract, as_of: date,
                           file_name: str) -> list[Finding]:
    """Columns the contract does not declare are ignored, each with a warning: an empty one
    with no name (a trailing comma) as `unnamed_column`, any other as `unknown_column`."""
    findings: list[Finding] = []
    for extra in (c for c in names if c not in e.columns):
        position = names.index(extra) + 1
        if extra in read.unnamed and read.frame[extra].null_count() == read.frame.height:
            rule = e.rule("unnamed_column")
            findings.append(Finding(as_of=as_of, extract=file_name, rule_id=rule.rule_id,
                                    severity=rule.severity, column_name=extra,
                                    message=f"{rule.message} (column {position})",
                                    message_cy=f"{rule.message_cy} (colofn {position})"))
            continue
        rule = e.rule("unknown_column")
        what = (f"column {position}, which has no name in the header but holds values"
                if extra in read.unnamed else f"column {extra}")
        findings.append(Finding(as_of=as_of, extract=file_name, rule_id=rule.rule_id,
                                severity=rule.severity, column_name=extra,
                                message=f"{rule.message} ({what})",
                                message_cy=f"{rule.message_cy} ({welsh_details(what)})"))
    return findings


def _unchecked_reference_findings(result: ValidationResult, e: Extract, as_of: date,
                                  parents: dict[str, ParentState]) -> list[Finding]:
    """One warning per reference whose parent was missing or rejected: its rows were loaded
    without the check, and the officer should know why."""
    findings: list[Finding] = []
    for i in result.unchecked_references:
        rule = e.rule("reference_not_checked")
        ref = e.references[i]
        status = parents.get(ref.extract, ParentState(status="rejected")).status
        findings.append(Finding(
            as_of=as_of, extract=e.name, rule_id=rule.rule_id, severity=rule.severity,
            column_name="|".join(ref.columns),
            message=f"{rule.message} ({'/'.join(ref.columns)} -> {ref.extract}: "
                    f"{ref.extract} was {status})",
            message_cy=f"{rule.message_cy} ({'/'.join(ref.columns)} -> {ref.extract}: "
                       f"{STATUS_CY.get(status, status).format(extract=ref.extract)})"))
    return findings


def _offered_state(e: Extract, result: ValidationResult) -> ParentState:
    """What a loaded extract offers the extracts that reference it: its loaded rows, the keys
    of its quarantined rows with their root causes, and the key it is known to be unique
    on."""
    return ParentState(
        status="loaded",
        loaded=result.loaded,
        quarantined_keys=result.quarantined_rows.select(
            *[pl.col(raw(k)).alias(k) for k in _offered_keys(e)], ROOT_RULE_COL,
            ROOT_RECORD_COL),
        unique_key=tuple(e.key) if e.unique and all(
            e.columns[k].type == "id" for k in e.key) else (),
        column_types={c.name: c.type for c in e.columns.values()},
    )


@cache
def contract_columns() -> frozenset[str]:
    """Every column name the contracts declare: never an identifying header."""
    return frozenset(c for e in load_contracts().extracts.values() for c in e.columns)


def _lookalike(names: list[str], e: Extract) -> str | None:
    """The other extract whose columns this header has (another extract's file delivered
    under this name)."""
    for other in load_contracts().extracts.values():
        if other.name != e.name and set(other.columns) <= set(names):
            return other.file_name
    return None


def _offered_keys(e: Extract) -> list[str]:
    """Columns other extracts may reference (the key, plus any single key column)."""
    return list(dict.fromkeys(e.key))


def is_inside(path: Path, folder: Path) -> bool:
    """Whether a path, links resolved, stays inside the folder (no link or `..` escapes)."""
    try:
        return path.resolve().is_relative_to(folder.resolve())
    except OSError:
        return False


def stage_batch(batch_dir: Path, work_dir: Path, contracts: Contracts | None = None,
                settings: Settings | None = None) -> Manifest:
    """Stage every extract of one batch into `work_dir`; write and return its manifest."""
    contracts = contracts or load_contracts()
    batch_dir = Path(batch_dir)
    if not batch_dir.is_dir():
        raise BatchError(f"{batch_dir}: no such batch folder")
    as_of = batch_date(batch_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    manifest = Manifest(as_of=as_of, batch_path=str(batch_dir.resolve()),
                        work_dir=str(work_dir.resolve()), code_version=__version__,
                        contract_version=contracts.version)
    files, others = match_files(batch_dir, contracts)
    findings: list[Finding] = []
    issue_frames: list[pl.DataFrame] = []
    twins = _same_name_twins(files, others)
    others = [p for p in others if not any(p in ps for ps in twins.values())]
    for p in others:
        rule = contracts.rule_by_id("batch.unknown_file")
        findings.append(Finding(as_of=as_of, extract=p.name, rule_id=rule.rule_id,
                                severity=rule.severity, message=rule.message,
                                message_cy=rule.message_cy))
        manifest.unknown_files.append(p.name)
    parents: dict[str, ParentState] = {}
    for e in contracts.ordered():
        path = files.get(e.name)
        if path is None:
            f = _file_finding(as_of, e, e.file_name, "file_missing", "")
            findings.append(f)
            manifest.extracts[e.name] = ExtractOutcome(e.name, None, "missing", reason=f.message)
            parents[e.name] = ParentState(status="missing")
            log.warning("%s: %s is missing", as_of, e.file_name)
            continue
        log.info("%s: staging %s", as_of, path.name)
        if e.name in twins:
            names = ", ".join(p.name for p in twins[e.name])
            f = _file_finding(as_of, e, names, "duplicate_file", f"files {names}")
            findings.append(f)
            manifest.extracts[e.name] = ExtractOutcome(e.name, names, "rejected",
                                                       reason=f.message)
            parents[e.name] = ParentState(status="rejected")
            log.warning("%s: %s delivered twice; both rejected", as_of, e.file_name)
            continue
        if not is_inside(path, batch_dir):
            f = _file_finding(as_of, e, path.name, "not_in_landing", "")
            findings.append(f)
            manifest.extracts[e.name] = ExtractOutcome(e.name, path.name, "rejected",
                                                       reason=f.message)
            parents[e.name] = ParentState(status="rejected")
            continue
        outcome, file_findings, loaded, issues, state = stage_extract(path, e, as_of, parents,
                                                                      settings)
        findings.extend(file_findings)
        issue_frames.append(issues)
        parents[e.name] = state
        if loaded is not None:
            target = work_dir / f"stg_{e.name}.parquet"
            loaded.write_parquet(target, compression=WORK_PARQUET_COMPRESSION)
            outcome.parquet = str(target.resolve())
        manifest.extracts[e.name] = outcome
        failpoint(f"stage:after:{e.name}")
        log.info("%s: %s read %d, loaded %d, quarantined %d", as_of, e.name,
                 outcome.rows_read, outcome.rows_loaded, outcome.rows_quarantined)
    issues = bound_issues(pl.concat([findings_frame(findings), *issue_frames],
                                    how="vertical"))
    issues_path = work_dir / ISSUES_FILE
    issues.write_parquet(issues_path, compression=WORK_PARQUET_COMPRESSION)
    manifest.issues_parquet = str(issues_path.resolve())
    manifest.write()
    return manifest
