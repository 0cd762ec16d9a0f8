"""The nightly job as plain functions: find batches, stage one, publish it. The CLI and the
Prefect flow (`flows/nightly.py`) call these same functions."""

from __future__ import annotations

import logging
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from qa_pipeline.db import batch, make_engine, mask_url, upgrade
from qa_pipeline.indicators import derive_batch
from qa_pipeline.publish import (
    RunOutcome,
    content_checksum,
    finish_failed_run,
    publish,
    start_run,
)
from qa_pipeline.staging import BATCH_NAME, BatchError, Manifest, batch_date, stage_batch

log = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_FILES = 0, 1, 2, 3


@dataclass
class BatchResult:
    as_of: str
    batch_path: str
    outcome: RunOutcome | None
    manifest: Manifest | None
    skipped: bool = False
    error: str | None = None

    @property
    def exit_code(self) -> int:
        if self.skipped:
            return EXIT_OK
        return self.outcome.exit_code if self.outcome else EXIT_FAILED


@dataclass
class LandingResult:
    batches: list[BatchResult] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """The worst exit status of the batches: failed > files missing > succeeded."""
        codes = [b.exit_code for b in self.batches]
        for code in (EXIT_FAILED, EXIT_FILES):
            if code in codes:
                return code
        return EXIT_OK


def find_batches(path: Path) -> list[Path]:
    """PATH is one batch folder (named YYYY-MM-DD) or a landing folder of batch folders."""
    path = Path(path)
    if not path.is_dir():
        raise BatchError(f"{path}: no such folder")
    if BATCH_NAME.match(path.name):
        batch_date(path)
        return [path]
    batches = sorted(p for p in path.iterdir() if p.is_dir() and BATCH_NAME.match(p.name))
    for p in batches:
        batch_date(p)
    if not batches:
        raise BatchError(f"{path}: neither a batch folder (YYYY-MM-DD) nor a landing folder "
                         "holding batch folders")
    return batches


def published_checksums(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(batch.c.as_of, batch.c.content_sha256)).all()
    return {r.as_of.isoformat(): r.content_sha256 for r in rows}


def run_one_batch(batch_dir: Path, engine: Engine, work_root: Path | None = None,
                  keep_work: bool = False) -> BatchResult:
    """Stage and publish one batch; a fault in the code marks the run failed, never half
    published (the publish transaction rolls back)."""
    as_of = batch_date(batch_dir)
    run_id = start_run(engine, as_of, str(batch_dir))
    work_dir = Path(tempfile.mkdtemp(prefix=f"qa_{as_of}_", dir=work_root))
    manifest: Manifest | None = None
    try:
        manifest = stage_batch(batch_dir, work_dir)
        manifest = derive_batch(manifest)
        outcome = publish(manifest, engine, run_id)
        return BatchResult(as_of.isoformat(), str(batch_dir), outcome, manifest)
    except Exception as exc:
        log.exception("%s: run failed", as_of)
        message = f"{type(exc).__name__}: {mask_url(str(exc))}"
        try:
            finish_failed_run(engine, run_id, message)
        except Exception:  # the database itself is down; the run row stays 'failed'
            log.exception("%s: could not record the failure", as_of)
        return BatchResult(as_of.isoformat(), str(batch_dir), RunOutcome(
            run_id, "failed", EXIT_FAILED, message), manifest, error=message)
    finally:
        if not keep_work:
            shutil.rmtree(work_dir, ignore_errors=True)


def batches_to_process(path: Path, engine: Engine) -> list[Path]:
    """The batches to run, oldest first: a batch folder named explicitly is always (re)run;
    in a landing folder, a batch already published with the same files is left out."""
    batches = find_batches(path)
    if len(batches) == 1 and Path(path).resolve() == batches[0].resolve():
        return batches
    done = published_checksums(engine)
    return [b for b in batches if not (b.name in done and is_unchanged(b, done[b.name]))]


def run_path(path: Path, db_url: str, work_root: Path | None = None) -> LandingResult:
    """Run a batch folder, or every unprocessed batch of a landing folder in date order.

    A batch named explicitly is always (re)run; in a landing folder a batch already published
    with the same content is skipped, and one whose files changed is reprocessed.
    """
    batches = find_batches(path)
    engine = make_engine(db_url)
    try:
        upgrade(engine)
        todo = batches_to_process(path, engine)
        result = LandingResult()
        for b in batches:
            if b not in todo:
                log.info("%s: already published with the same files; skipped", b.name)
                result.batches.append(BatchResult(b.name, str(b), None, None, skipped=True))
                continue
            result.batches.append(run_one_batch(b, engine, work_root))
        return result
    finally:
        engine.dispose()


def is_unchanged(batch_dir: Path, checksum: str) -> bool:
    """Whether a batch folder holds exactly the files that were published for its date."""
    from qa_pipeline.contracts import load_contracts
    from qa_pipeline.staging import ExtractOutcome, _match_files, sha256_file

    contracts = load_contracts()
    files, others = _match_files(batch_dir, contracts)
    m = Manifest(as_of=batch_date(batch_dir), batch_path="", work_dir="", code_version="",
                 contract_version=contracts.version)
    for e in contracts.ordered():
        p = files.get(e.name)
        m.extracts[e.name] = (
            ExtractOutcome(e.name, p.name, "loaded", sha256=sha256_file(p)) if p
            else ExtractOutcome(e.name, None, "missing")
        )
    m.unknown_files = [p.name for p in others]
    return content_checksum(m) == checksum


def extract_table(manifest: Manifest) -> list[dict[str, object]]:
    """Per-extract counts of a staged batch (the run summary's first table)."""
    return [
        {"extract": o.extract, "file": o.file_name or "", "status": o.status,
         "read": o.rows_read, "loaded": o.rows_loaded, "quarantined": o.rows_quarantined,
         "warnings": o.warnings}
        for o in manifest.extracts.values()
    ]


def rule_table(manifest: Manifest) -> list[dict[str, object]]:
    """Issues per rule of a staged batch, most frequent first (the run summary's second)."""
    import polars as pl

    issues = pl.read_parquet(manifest.issues_parquet)
    if issues.height == 0:
        return []
    return (
        issues.group_by("rule_id", "severity").agg(pl.len().alias("issues"))
        .sort(["issues", "rule_id"], descending=[True, False]).to_dicts()
    )
