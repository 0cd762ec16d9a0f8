"""The nightly Prefect flow: one run per batch, a task per stage. It only wires library
functions (`qa_pipeline.pipeline`, `.staging`, `.indicators`, `.publish`); all logic is
tested without Prefect.

Run once:  python flows/nightly.py LANDING_OR_BATCH_PATH [--db URL]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from qa_pipeline.db import make_engine, mask_url, upgrade
from qa_pipeline.indicators import derive_batch
from qa_pipeline.locking import run_lock
from qa_pipeline.pipeline import (
    batches_to_process,
    extract_table,
    publish_or_hold,
    rule_table,
)
from qa_pipeline.publish import finish_failed_run, start_run
from qa_pipeline.settings import Settings, load_settings
from qa_pipeline.staging import Manifest, batch_date, stage_batch

DB_RETRIES = 3
DB_RETRY_DELAYS = [5, 30, 120]


def _manifest(path: str) -> Manifest:
    return Manifest.from_json(Path(path).read_text(encoding="utf-8"))


@task(retries=DB_RETRIES, retry_delay_seconds=DB_RETRY_DELAYS)
def prepare_database(db_url: str) -> None:
    upgrade(make_engine(db_url))


@task(retries=2, retry_delay_seconds=[10, 60])
def list_batches(path: str, db_url: str) -> list[str]:
    """Batches to process, in date order; unchanged published batches of a landing folder are
    left out."""
    return [str(b) for b in batches_to_process(Path(path), make_engine(db_url))]


@task(retries=DB_RETRIES, retry_delay_seconds=DB_RETRY_DELAYS)
def begin_run(batch_path: str, db_url: str) -> str:
    return start_run(make_engine(db_url), batch_date(Path(batch_path)), batch_path)


@task(retries=2, retry_delay_seconds=[10, 60])
def stage(batch_path: str, work_root: str, settings: Settings) -> str:
    """Read and validate the batch; returns the manifest's path (files, not frames)."""
    Path(work_root).mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=Path(batch_path).name + "_", dir=work_root))
    manifest = stage_batch(Path(batch_path), work, settings=settings)
    return str(Path(manifest.work_dir) / "manifest.json")


@task
def derive_indicators(manifest_path: str) -> str:
    """Intermediate facts and indicator values of the staged batch, as files."""
    derive_batch(_manifest(manifest_path))
    return manifest_path


@task(retries=DB_RETRIES, retry_delay_seconds=DB_RETRY_DELAYS)
def load(manifest_path: str, settings: Settings, run_id: str) -> dict[str, object]:
    """Publish in one transaction (or hold a suspicious batch); a retry never duplicates."""
    manifest = _manifest(manifest_path)
    outcome, held = publish_or_hold(make_engine(settings.db_url), manifest, run_id, settings)
    return {"as_of": manifest.as_of.isoformat(), "status": outcome.status,
            "exit_code": outcome.exit_code, "message": outcome.message, "run_id": run_id,
            "held": held}


@task
def summarise(manifest_path: str, result: dict[str, object]) -> None:
    manifest = _manifest(manifest_path)
    key = f"qa-batch-{manifest.as_of.isoformat()}"
    create_table_artifact(key=key + "-extracts", table=extract_table(manifest),
                          description=f"Rows per extract, batch {manifest.as_of}")
    create_table_artifact(key=key + "-rules", table=rule_table(manifest) or [{"rule_id": "",
                          "severity": "", "issues": 0}],
                          description=f"Issues per rule, batch {manifest.as_of}")
    create_markdown_artifact(key=key + "-summary", markdown=(
        f"# Batch {manifest.as_of}\n\n**{result['status']}** (exit {result['exit_code']})"
        f"\n\n{result['message']}\n"))


@flow(name="qa-nightly", log_prints=True)
def nightly(path: str, db_url: str | None = None, work_root: str | None = None
            ) -> list[dict[str, object]]:
    """Ingest, validate and publish every unprocessed batch under PATH, oldest first."""
    logger = get_run_logger()
    settings = load_settings().with_overrides(db_url=db_url, work_dir=work_root)
    work = str(settings.work_dir or tempfile.mkdtemp(prefix="qa_work_"))
    logger.info("database %s", mask_url(settings.db_url))
    results: list[dict[str, object]] = []
    engine = make_engine(settings.db_url)
    with run_lock(engine, settings.lock_timeout_seconds):
        prepare_database(settings.db_url)
        for batch_path in list_batches(path, settings.db_url):
            run_id = begin_run(batch_path, settings.db_url)
            try:
                manifest_path = stage(batch_path, work, settings)
                manifest_path = derive_indicators(manifest_path)
                result = load(manifest_path, settings, run_id)
            except Exception as exc:
                finish_failed_run(engine, run_id, f"{type(exc).__name__}: "
                                                  f"{mask_url(str(exc))}")
                raise
            summarise(manifest_path, result)
            logger.info("batch %s: %s", result["as_of"], result["message"])
            results.append(result)
            if not result["held"]:
                shutil.rmtree(Path(manifest_path).parent, ignore_errors=True)
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Run the nightly flow once.")
    p.add_argument("path", help="a batch folder or a landing folder of batches")
    p.add_argument("--db", default=None)
    args = p.parse_args(argv)
    results = nightly(args.path, args.db)
    codes = [int(str(r["exit_code"])) for r in results]
    return 3 if 3 in codes else 0


if __name__ == "__main__":
    sys.exit(main())
