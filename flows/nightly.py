"""The nightly Prefect flow: one run per batch, a task per stage. It only wires library
functions (`qa_pipeline.pipeline`, `.staging`, `.indicators`, `.publish`); all logic is
tested without Prefect.

Run once:  python flows/nightly.py LANDING_OR_BATCH_PATH [--db URL]
"""

from __future__ import annotations

import argparse
import shutil
import sys
from datetime import date
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    create_table_artifact,
)

from qa_pipeline.db import make_engine, mask_url, upgrade
from qa_pipeline.indicators import derive_batch
from qa_pipeline.locking import run_lock
from qa_pipeline.pipeline import (
    batches_to_process,
    clean_stale_work,
    extract_table,
    make_work_folder,
    publish_or_hold,
    record_checks,
    rule_table,
)
from qa_pipeline.publish import RunOutcome, finish_failed_run, start_run
from qa_pipeline.redaction import install_log_redaction, redact
from qa_pipeline.settings import Settings, load_settings
from qa_pipeline.staging import Manifest, batch_date, stage_batch

DB_RETRIES = 3
DB_RETRY_DELAYS: list[float] = [5, 30, 120]
# A hung task fails (and is retried) instead of blocking the night: quick database steps get
# minutes, the per-batch stages an hour (a national-scale batch takes a few minutes).
TIMEOUTS: dict[str, float] = {"migrate": 600.0, "scan": 900.0, "row": 120.0,
                               "batch": 3600.0, "artifacts": 300.0}


def _manifest(path: str) -> Manifest:
    return Manifest.from_json(Path(path).read_text(encoding="utf-8"))


@task(retries=DB_RETRIES, retry_delay_seconds=DB_RETRY_DELAYS, timeout_seconds=TIMEOUTS["migrate"])
def prepare_database(db_url: str) -> None:
    upgrade(make_engine(db_url))


@task(retries=2, retry_delay_seconds=[10.0, 60.0], timeout_seconds=TIMEOUTS["scan"])
def list_batches(path: str, db_url: str) -> list[str]:
    """Batches to process, in date order; unchanged published batches of a landing folder are
    left out."""
    return [str(b) for b in batches_to_process(Path(path), make_engine(db_url))]


@task(retries=DB_RETRIES, retry_delay_seconds=DB_RETRY_DELAYS, timeout_seconds=TIMEOUTS["row"])
def begin_run(batch_path: str, db_url: str) -> str:
    return start_run(make_engine(db_url), batch_date(Path(batch_path)), batch_path)


@task(retries=2, retry_delay_seconds=[10.0, 60.0], timeout_seconds=TIMEOUTS["batch"])
def stage(batch_path: str, work_root: str | None, settings: Settings) -> str:
    """Read and validate the batch; returns the manifest's path (files, not frames). The work
    folder is owner-only and marked with this process (see `pipeline.clean_work_folders`); a
    failed attempt removes its own."""
    work = make_work_folder(batch_date(Path(batch_path)), Path(work_root) if work_root else None)
    try:
        manifest = stage_batch(Path(batch_path), work, settings=settings)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return str(Path(manifest.work_dir) / "manifest.json")


@task(timeout_seconds=TIMEOUTS["batch"])
def derive_indicators(manifest_path: str) -> str:
    """Intermediate facts and indicator values of the staged batch, as files."""
    derive_batch(_manifest(manifest_path))
    return manifest_path


@task(retries=DB_RETRIES, retry_delay_seconds=DB_RETRY_DELAYS, timeout_seconds=TIMEOUTS["batch"])
def load(manifest_path: str, settings: Settings, run_id: str) -> dict[str, object]:
    """Publish in one transaction (or hold a suspicious batch); a retry never duplicates."""
    manifest = _manifest(manifest_path)
    outcome, held = publish_or_hold(make_engine(settings.db_url), manifest, run_id, settings)
    return {"as_of": manifest.as_of.isoformat(), "status": outcome.status,
            "exit_code": outcome.exit_code, "message": outcome.message, "run_id": run_id,
            "held": held}


@task(retries=1, retry_delay_seconds=[30.0], timeout_seconds=TIMEOUTS["batch"])
def check_and_report(result: dict[str, object], settings: Settings) -> dict[str, object]:
    """Data checks on the published tables, HTML report and Excel worklists; a failed check
    marks the run succeeded_with_issues. Publishes the run summary as Prefect artifacts."""
    if not settings.aftercare:
        return result
    from qa_pipeline.aftercare import after_publish  # Great Expectations, matplotlib

    engine = make_engine(settings.db_url)
    as_of = date.fromisoformat(str(result["as_of"]))
    care = after_publish(engine, as_of, str(result["run_id"]), settings.reports,
                         volume_tolerance=settings.volume_drop_threshold)
    outcome = record_checks(engine, RunOutcome(
        str(result["run_id"]), str(result["status"]), int(str(result["exit_code"])),
        str(result["message"])), care.failed_expectations, care.problems,
        rebuild=not care.data_docs_written)
    key = f"qa-batch-{as_of.isoformat()}"
    create_markdown_artifact(key=key + "-report", markdown=redact(care.summary_markdown),
                             description=f"Run summary, batch {as_of}")
    create_table_artifact(key=key + "-open-issues", table=care.open_issues_by_rule or [
        {"rule_id": "", "open": 0}], description=f"Open issues per rule, batch {as_of}")
    create_link_artifact(key=key + "-html", link=care.report_path.resolve().as_uri(),
                         link_text=f"QA report {as_of}", description="HTML report")
    return {**result, "status": outcome.status, "exit_code": outcome.exit_code,
            "message": outcome.message, "report": str(care.report_path),
            "worklists": str(care.workbook_path), "failed_checks": care.failed_expectations}


@task(timeout_seconds=TIMEOUTS["artifacts"])
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


@flow(name="qa-nightly", log_prints=True, timeout_seconds=6 * 3600)
def nightly(path: str, db_url: str | None = None, work_root: str | None = None
            ) -> list[dict[str, object]]:
    """Ingest, validate and publish every unprocessed batch under PATH, oldest first."""
    logger = get_run_logger()
    install_log_redaction()  # every configured handler, Prefect's API handler included
    settings = load_settings().with_overrides(db_url=db_url, work_dir=work_root)
    work = str(settings.work_dir) if settings.work_dir is not None else None
    logger.info("database %s", mask_url(settings.db_url))
    results: list[dict[str, object]] = []
    engine = make_engine(settings.db_url)
    with run_lock(engine, settings.lock_timeout_seconds):
        prepare_database(settings.db_url)
        clean_stale_work(engine, settings)  # work folders of killed runs
        for batch_path in list_batches(path, settings.db_url):
            run_id = begin_run(batch_path, settings.db_url)
            manifest_path = None
            try:
                manifest_path = stage(batch_path, work, settings)
                manifest_path = derive_indicators(manifest_path)
                result = load(manifest_path, settings, run_id)
            except Exception as exc:
                finish_failed_run(engine, run_id, f"{type(exc).__name__}: "
                                                  f"{mask_url(str(exc))}")
                if manifest_path is not None:  # staged, not published: nothing to keep
                    shutil.rmtree(Path(manifest_path).parent, ignore_errors=True)
                raise
            held = bool(result["held"])
            try:
                if not held:
                    result = check_and_report(result, settings)
                summarise(manifest_path, result)
            finally:  # published (or failed after it): the staged files are not needed
                if not held:
                    shutil.rmtree(Path(manifest_path).parent, ignore_errors=True)
            logger.info("batch %s: %s", result["as_of"], result["message"])
            results.append(result)
    return results


def main(argv: list[str] | None = None) -> int:
    """`python flows/nightly.py PATH [--db URL]` runs the flow once and exits with the status
    `qa-pipeline run` would give; `python flows/nightly.py --serve [LANDING]` serves it on its
    nightly schedule (02:00 Europe/London) until stopped. See docs/operations.md."""
    from qa_pipeline.scheduling import DEPLOYMENT_NAME, exit_status, serve_nightly

    p = argparse.ArgumentParser(description="Run the nightly flow once, or serve it nightly.")
    p.add_argument("path", nargs="?", default=None,
                   help="a batch folder or a landing folder of batches (with --serve: the "
                        "landing folder, default: the settings' `landing`)")
    p.add_argument("--db", default=None, help="SQLAlchemy URL of the reporting database")
    p.add_argument("--work-dir", default=None, help="where staged files are written")
    p.add_argument("--serve", action="store_true",
                   help="create the deployment qa-nightly/NAME and run it every night")
    p.add_argument("--name", default=DEPLOYMENT_NAME, help="--serve: the deployment's name")
    args = p.parse_args(argv)
    if args.serve:
        import os

        # the served runs are child processes: they read the settings from the environment
        for name, value in (("QA_PIPELINE_DB_URL", args.db),
                            ("QA_PIPELINE_WORK_DIR", args.work_dir)):
            if value:
                os.environ[name] = value
        settings = load_settings().with_overrides(landing=args.path and Path(args.path))
        return serve_nightly(nightly, settings, name=args.name)
    if args.path is None:
        p.error("PATH is required (or --serve)")
    state = nightly(args.path, args.db, args.work_dir, return_state=True)
    return exit_status(state)


@nightly.on_running
def load_db_password(flow: object, flow_run: object, state: object) -> None:
    """Before the flow body: when the settings name a Prefect Secret block
    (`db_password_secret`), its value becomes PGPASSWORD of the flow-run process. The password
    is never in a URL, a parameter or a log line. (A hook's error is logged by Prefect and the
    run goes on; the database then refuses the connection and the run fails.)"""
    from prefect.logging.loggers import flow_run_logger

    from qa_pipeline.scheduling import PASSWORD_ENV
    from qa_pipeline.scheduling import load_db_password as load_password

    settings = load_settings()
    if load_password(settings):
        flow_run_logger(flow_run, flow).info(  # type: ignore[arg-type]
            "database password: from Prefect Secret block %r (into %s)",
            settings.db_password_secret, PASSWORD_ENV)


@nightly.on_running
def log_library_progress(flow: object, flow_run: object, state: object) -> None:
    """The library's own lines (each batch and extract: staged, rows read / loaded /
    quarantined, published, held) at INFO; with PREFECT_LOGGING_EXTRA_LOGGERS=qa_pipeline (set
    by the deployment and by `serve`) they are in the flow run's log in Prefect too."""
    import logging

    library = logging.getLogger("qa_pipeline")
    if library.level == logging.NOTSET:
        library.setLevel(logging.INFO)


if __name__ == "__main__":
    sys.exit(main())
