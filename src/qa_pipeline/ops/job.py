"""The nightly job as plain functions: find batches, stage one, derive its indicators, then
publish it (or hold it). The CLI and the Prefect flow (`flows/nightly.py`) call these same
functions."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Protocol, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from qa_pipeline.ingest.landing import delivered_manifest, scan_landing
from qa_pipeline.ingest.staging import (
    MANIFEST,
    Manifest,
    batch_date,
    stage_batch,
)
from qa_pipeline.load.db import (
    batch,
    make_engine,
    mask_url,
    pipeline_run,
    pipeline_run_extract,
    upgrade,
)
from qa_pipeline.load.publish import (
    RunOutcome,
    content_checksum,
    finish_failed_run,
    publish_with_retry,
    start_run,
)
from qa_pipeline.officers.issues import RootCauseCounts
from qa_pipeline.ops.exits import ExitStatus
from qa_pipeline.ops.holds import held_drops, held_manifest, hold_batch, volume_drops
from qa_pipeline.ops.locking import run_lock
from qa_pipeline.ops.settings import Settings, load_settings, using
from qa_pipeline.ops.work_folders import (
    clean_stale_work,
    make_work_folder,
    owner_only,
)
from qa_pipeline.privacy.redaction import redact
from qa_pipeline.spec.contracts import ContractError, load_contracts
from qa_pipeline.transform.indicators import derive_batch, load_config

log = logging.getLogger(__name__)


@dataclass
class BatchResult:
    as_of: str
    batch_path: str
    outcome: RunOutcome | None
    manifest: Manifest | None
    skipped: bool = False
    held: bool = False
    error: str | None = None
    report_path: str | None = None
    workbook_path: str | None = None
    failed_checks: list[str] = field(default_factory=list)
    summary_markdown: str = ""
    """The after-publish summary (for the flow's artifacts)."""
    open_issues_by_rule: list[dict[str, Any]] = field(default_factory=list)
    checks_run: bool = False
    """Whether the after-publish data checks ran (off, or broken: "checks: not run")."""
    root_causes: RootCauseCounts | None = None
    """New, persisting and resolved records to fix of the latest batch after this one was
    published, as the report shows them (None: the after-publish step did not run)."""
    new_special_causes: list[str] = field(default_factory=list)
    """The SPC series whose latest month became a special cause with this batch, read as
    it was published (`spc_report.new_special_cause_texts`), for the night's message."""

    @property
    def exit_code(self) -> int:
        if self.skipped:
            return ExitStatus.OK
        return self.outcome.exit_code if self.outcome else ExitStatus.FAILED

    @property
    def published(self) -> bool:
        """Published by this run: not skipped, not held, not failed."""
        return (not self.skipped and not self.held and self.outcome is not None
                and self.outcome.status != "failed")

    def checks_line(self) -> str | None:
        """`checks: passed · root causes: 3 new, 12 persisting, 5 resolved` for a published
        batch (`checks: 2 failed`, `checks: not run`); None for any other."""
        if not self.published:
            return None
        if not self.checks_run:
            line = "checks: not run"
        elif self.failed_checks:
            line = f"checks: {len(self.failed_checks)} failed"
        else:
            line = "checks: passed"
        c = self.root_causes
        if c is not None:
            line += (f" · root causes: {c.new} new, {c.persisting} persisting, "
                     f"{c.resolved} resolved")
        return line

    def as_dict(self) -> dict[str, object]:
        """What the flow returns for the batch (JSON, for Prefect's result)."""
        o = self.outcome
        return {"as_of": self.as_of, "batch_path": self.batch_path, "skipped": self.skipped,
                "held": self.held, "run_id": o.run_id if o else None,
                "status": o.status if o else "skipped", "exit_code": self.exit_code,
                "message": o.message if o else "already published with the same files",
                "report": self.report_path, "worklists": self.workbook_path,
                "failed_checks": list(self.failed_checks), "checks_run": self.checks_run,
                "new_special_causes": list(self.new_special_causes),
                "root_causes": None if self.root_causes is None else {
                    "as_of": self.root_causes.as_of.isoformat(), "new": self.root_causes.new,
                    "persisting": self.root_causes.persisting,
                    "resolved": self.root_causes.resolved,
                    "new_by_rule": dict(self.root_causes.new_by_rule)}}


@dataclass
class LandingResult:
    batches: list[BatchResult] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    """Entries of the landing folder that are not batches, and why (reported, not run)."""
    refused: list[str] = field(default_factory=list)
    """Batch folders that cannot be processed (a future date, a link out of the landing)."""
    notified: list[str] = field(default_factory=list)
    """Where the night's message went (masked URLs; `qa_pipeline.ops.notify`)."""
    notify_warnings: list[str] = field(default_factory=list)
    """Destinations it could not be sent to, and why (masked); never the exit status."""

    def as_dict(self) -> dict[str, object]:
        """What the flow returns for the night (JSON, for Prefect's result)."""
        return {"exit_code": self.exit_code, "refused": list(self.refused),
                "ignored": list(self.ignored),
                "batches": [b.as_dict() for b in self.batches if not b.skipped],
                "skipped": [b.as_of for b in self.batches if b.skipped],
                "notified": list(self.notified), "notify_warnings": list(self.notify_warnings)}

    @property
    def exit_code(self) -> int:
        """The worst exit status: failed > a file or batch not processed > succeeded."""
        codes = [b.exit_code for b in self.batches] + ([ExitStatus.ISSUES] if self.refused else [])
        for code in (ExitStatus.FAILED, ExitStatus.ISSUES):
            if code in codes:
                return code
        return ExitStatus.OK


def published_checksums(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(batch.c.as_of, batch.c.content_sha256)).all()
    return {r.as_of.isoformat(): r.content_sha256 for r in rows}


def is_unchanged(batch_dir: Path, checksum: str) -> bool:
    """Whether a batch folder holds exactly the files that were published for its date."""
    return content_checksum(delivered_manifest(batch_dir)) == checksum


def batches_to_process(path: Path, engine: Engine) -> list[Path]:
    """The batches to run, oldest first: a batch folder named explicitly is always (re)run;
    in a landing folder, a batch already published with the same files is left out."""
    batches = scan_landing(path).batches
    if len(batches) == 1 and Path(path).resolve() == batches[0].resolve():
        return batches
    done = published_checksums(engine)
    return [b for b in batches if not (b.name in done and is_unchanged(b, done[b.name]))]


def redelivery_note(engine: Engine, manifest: Manifest) -> str | None:
    """What changed since the batch of the same date was last published, if it was."""
    with engine.connect() as conn:
        prev = conn.execute(sa.select(batch.c.run_id).where(batch.c.as_of == manifest.as_of)
                            ).scalar()
        if prev is None:
            return None
        rows = conn.execute(sa.select(pipeline_run_extract.c.extract,
                                      pipeline_run_extract.c.sha256)
                            .where(pipeline_run_extract.c.run_id == prev)).all()
    before = {r.extract: r.sha256 for r in rows}
    changed = [o.file_name or f"{n}.csv" for n, o in manifest.extracts.items()
               if before.get(n) != o.sha256]
    if not changed:
        return "re-run of an unchanged delivery"
    return f"redelivered with changed files: {', '.join(changed)}"


def publish_or_hold(engine: Engine, manifest: Manifest, run_id: str, settings: Settings
                    ) -> tuple[RunOutcome, bool]:
    """The last step of a batch: hold it when an extract's rows fell sharply, else publish
    it (retried on connection failures). Returns the outcome and whether it was held."""
    drops = volume_drops(engine, manifest, settings.volume_drop_threshold)
    if drops:
        return hold_batch(engine, manifest, run_id, drops, settings.hold_dir), True
    return publish_with_retry(
        manifest, engine, run_id, attempts=settings.db_retry_attempts,
        base_seconds=settings.db_retry_base_seconds,
        note=redelivery_note(engine, manifest),
        dim_dates=(settings.dim_date_first, settings.dim_date_last),
        spc_baseline_points=settings.spc_baseline_points), False


def aftercare(engine: Engine, result: BatchResult, as_of: date, settings: Settings,
              released: tuple[str, list[str]] | None = None) -> None:
    """After a publish: data checks on the published tables, the report and the worklists
    (`qa_pipeline.officers.aftercare`); failed checks mark the run succeeded_with_issues.
    `released` (who, the extracts whose drop held the batch): a release acknowledges those
    extracts' volume checks, named in the run's message as accepted by that officer.

    The batch is committed by now: nothing here may turn it into a failed run. A report,
    workbook or Data Docs that cannot be written (no permission, disk full), or after-publish
    work that breaks outright, marks the run succeeded_with_issues (exit 3) with the reason
    and the command that rebuilds what is missing (`qa-pipeline report`)."""
    if not settings.aftercare or result.outcome is None:
        return
    failed: list[str] = []
    problems: list[str] = []
    accepted: list[str] = []
    try:
        from qa_pipeline.officers.aftercare import (
            after_publish,  # Great Expectations and matplotlib
        )
        from qa_pipeline.officers.expectations import Acknowledgement

        care = after_publish(engine, as_of, result.outcome.run_id, settings.reports,
                             volume_tolerance=settings.volume_drop_threshold,
                             language=settings.language,
                             acknowledge=None if released is None else Acknowledgement(
                                 released[0], tuple(released[1])))
    except Exception as exc:  # the database went away, a bug: the batch stays published
        problems.append(redact(f"the after-publish checks and report did not complete: "
                               f"{type(exc).__name__}: {mask_url(str(exc))}"))
        log.error("%s: %s", as_of, problems[-1], exc_info=_quotes_nothing(exc))
        docs_missing = True
    else:
        failed, problems = care.failed_expectations, care.problems
        accepted = care.accepted_expectations
        docs_missing = not care.data_docs_written
        # (the run summary prints both; a file that is missing is named as such)
        result.summary_markdown = care.summary_markdown
        result.open_issues_by_rule = care.open_issues_by_rule
        result.checks_run = True
        result.root_causes = care.root_causes
        result.report_path = (str(care.report_path) if care.report_written
                              else f"not written ({care.report_path})")
        result.workbook_path = (str(care.workbook_path) if care.workbook_written
                                else f"not written ({care.workbook_path})")
    try:
        result.outcome = record_checks(engine, result.outcome, failed, problems,
                                       rebuild=docs_missing, accepted=accepted)
    except Exception:  # the database is gone now; the published batch is not undone
        log.exception("%s: could not record the after-publish outcome", as_of)
        if failed or problems:
            message = _aftercare_message(result.outcome.message, failed, problems,
                                         docs_missing, accepted)
            result.outcome = RunOutcome(result.outcome.run_id, "succeeded_with_issues",
                                        ExitStatus.ISSUES, message)
    result.failed_checks = failed


def _quotes_nothing(exc: BaseException) -> bool:
    """Whether an exception's text is safe to log with its traceback (nothing redacted)."""
    return redact(str(exc)) == str(exc)


def _aftercare_message(message: str, failed: list[str], problems: list[str],
                       rebuild: bool = False, accepted: Sequence[str] = ()) -> str:
    """The run's message with what went wrong after the publish (and the checks a release
    accepted), redacted and bounded."""
    if accepted:
        message = f"{message}; data checks accepted: {'; '.join(accepted)}"
    if failed:
        message = f"{message}; data checks failed: {'; '.join(failed)}"
    if problems:
        command = "qa-pipeline report --check" if rebuild else "qa-pipeline report"
        message = (f"{message}; published; {'; '.join(problems)} — run `{command}` to "
                   "rebuild what is missing")
    return redact(message)[:4000]


def record_checks(engine: Engine, outcome: RunOutcome, failed: list[str],
                  problems: list[str] | None = None, *, rebuild: bool = False,
                  accepted: Sequence[str] = ()) -> RunOutcome:
    """A failed data check on the published tables, or a report / worklists / Data Docs that
    could not be written (`problems`), marks the run succeeded_with_issues (exit 3) and says
    so in its message; `rebuild`: the Data Docs are missing too (`report --check`). Checks a
    release `accepted` are named in the message and leave the status as it was."""
    if not failed and not problems and not accepted:
        return outcome
    message = _aftercare_message(outcome.message, failed, list(problems or []), rebuild,
                                 accepted)
    status, code = ((outcome.status, outcome.exit_code) if not failed and not problems
                    else ("succeeded_with_issues", ExitStatus.ISSUES))
    with engine.begin() as conn:
        conn.execute(pipeline_run.update().where(pipeline_run.c.run_id == outcome.run_id)
                     .values(status=status, exit_code=code, message=message))
    (log.warning if code != ExitStatus.OK else log.info)("%s", message)
    return RunOutcome(outcome.run_id, status, code, message)


def check_site_files(settings: Settings) -> None:
    """Read the site's contracts and indicator configuration, when the settings name them, so
    that a missing or unusable file stops a run before it starts (ValueError)."""
    for name, path, load in (("contracts_file", settings.contracts_file, load_contracts),
                             ("indicators_file", settings.indicators_file, load_config)):
        if path is None:
            continue
        try:
            load(path)
        except ContractError as exc:  # it names the file and what is wrong in it
            raise ContractError(f"the setting {name}: {exc}") from exc
        except Exception as exc:
            raise ValueError(f"{name} {path}: {type(exc).__name__}: {exc}") from exc


# --- the job: one control flow for the CLI and the Prefect flow -------------------------------
# Each step is a plain function of paths, settings and typed results (never frames), so the
# Prefect flow can run the very same steps as tasks (`flows/nightly.py`) and a test can call
# them without Prefect. `run_job` is the night: lock, upgrade and clean-up, the batches to
# run, then per batch stage -> derive -> publish or hold -> after-publish, a failure recorded
# on its run, the work folder removed (kept for a held batch), and the outcome.

T = TypeVar("T")


class StepRunner(Protocol):
    """How a step is run: directly (the CLI), or as a Prefect task (the flow)."""

    def __call__(self, step: Callable[..., T], *args: Any) -> T: ...


def direct(step: Callable[..., T], *args: Any) -> T:
    return step(*args)


def _engine(settings: Settings) -> Engine:
    return make_engine(settings.db_url)


def prepare(settings: Settings) -> None:
    """Create or upgrade the schema; remove the work folders of runs that were killed."""
    engine = _engine(settings)
    try:
        upgrade(engine)
        clean_stale_work(engine, settings)
    finally:
        engine.dispose()


def select_batches(path: str, settings: Settings) -> list[str]:
    """The batch folders to run, oldest first (`batches_to_process`)."""
    engine = _engine(settings)
    try:
        return [str(b) for b in batches_to_process(Path(path), engine)]
    finally:
        engine.dispose()


def begin(batch_path: str, settings: Settings) -> str:
    """The batch's `pipeline_run` row (status failed, "started; did not finish"): its id."""
    engine = _engine(settings)
    try:
        return start_run(engine, batch_date(Path(batch_path)), batch_path)
    finally:
        engine.dispose()


def stage(batch_path: str, settings: Settings) -> str:
    """Read, guard and validate the batch into a new owner-only work folder; the manifest's
    path. A failed attempt removes its own folder."""
    work = make_work_folder(batch_date(Path(batch_path)), settings.work_dir)
    try:
        manifest = stage_batch(Path(batch_path), work, settings=settings)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return str(Path(manifest.work_dir) / MANIFEST)


def derive(manifest_path: str) -> str:
    """Intermediate facts and indicator values of the staged batch, as files."""
    manifest = derive_batch(read_manifest(manifest_path))
    owner_only(Path(manifest.work_dir))  # 0700 already; a held batch keeps these modes
    return str(manifest.write())


def publish(manifest_path: str, run_id: str, settings: Settings) -> BatchResult:
    """Publish in one transaction, retried on a lost connection (the one retry policy), or
    hold a batch whose rows fell sharply."""
    manifest = read_manifest(manifest_path)
    engine = _engine(settings)
    try:
        outcome, held = publish_or_hold(engine, manifest, run_id, settings)
        special = [] if held or outcome.status == "failed" else _new_special_causes(
            engine, manifest.as_of)
    finally:
        engine.dispose()
    return BatchResult(manifest.as_of.isoformat(), manifest.batch_path, outcome, manifest,
                       held=held, new_special_causes=special)


def _new_special_causes(engine: Engine, as_of: date) -> list[str]:
    """Read right after the publish, while the SPC tables hold this batch's series; a
    database error here costs the message's list, never the published batch."""
    from qa_pipeline.officers.spc_report import new_special_cause_texts

    try:
        with engine.connect() as conn:
            return new_special_cause_texts(conn, as_of)
    except sa.exc.SQLAlchemyError as exc:
        log.warning("%s: new special causes not read: %s", as_of, type(exc).__name__)
        return []


def after_publish(result: BatchResult, settings: Settings) -> BatchResult:
    """The data checks, report and worklists of a published batch (`aftercare`)."""
    engine = _engine(settings)
    try:
        aftercare(engine, result, date.fromisoformat(result.as_of), settings)
    finally:
        engine.dispose()
    return result


def record_failure(run_id: str, message: str, settings: Settings) -> None:
    """Mark the batch's run failed with the (masked, redacted) reason."""
    engine = _engine(settings)
    try:
        finish_failed_run(engine, run_id, message)
    finally:
        engine.dispose()


def read_manifest(path: str) -> Manifest:
    return Manifest.from_json(Path(path).read_text(encoding="utf-8"))


def run_batch(batch_path: str, settings: Settings, step: StepRunner = direct,
              keep_work: bool = False,
              on_batch: Callable[[BatchResult], None] | None = None) -> BatchResult:
    """Stage, derive and publish (or hold) one batch; a fault in the code marks the run
    failed, never half published (the publish transaction rolls back). `on_batch` sees the
    result while the staged files are still there (the flow's artifacts read them)."""
    as_of = batch_date(Path(batch_path))
    run_id = step(begin, batch_path, settings)
    manifest_path: str | None = None
    result: BatchResult | None = None
    try:
        try:
            manifest_path = step(stage, batch_path, settings)
            manifest_path = step(derive, manifest_path)
            result = step(publish, manifest_path, run_id, settings)
            if not result.held:
                result = step(after_publish, result, settings)
        except Exception as exc:
            message = redact(f"{type(exc).__name__}: {mask_url(str(exc))}")
            log.error("%s: run failed: %s", as_of, message, exc_info=_quotes_nothing(exc))
            try:
                record_failure(run_id, message, settings)
            except Exception:  # the database itself is down; the run row stays 'failed'
                log.exception("%s: could not record the failure", as_of)
            result = BatchResult(as_of.isoformat(), batch_path, RunOutcome(
                run_id, "failed", ExitStatus.FAILED, message),
                read_manifest(manifest_path) if manifest_path else None, error=message)
        if on_batch is not None:
            try:
                on_batch(result)
            except Exception as exc:  # a report of the batch; never the batch's outcome
                log.warning("%s: after the batch: %s", as_of,
                            redact(f"{type(exc).__name__}: {exc}"))
        return result
    finally:
        if manifest_path is not None and not keep_work and not (result and result.held):
            shutil.rmtree(Path(manifest_path).parent, ignore_errors=True)


def run_job(path: Path, settings: Settings, step: StepRunner = direct,
            on_batch: Callable[[BatchResult], None] | None = None) -> LandingResult:
    """The night: every unprocessed batch of a landing folder (or the one batch folder
    named) in date order, under the database's run lock. A failing batch is recorded and the
    night goes on; the result's exit status is the worst of its batches. Then, the lock
    released, the night's message (`notify_urls`; a failure to send is a warning only)."""
    from qa_pipeline.ops.notify import notify_after_run

    scan = scan_landing(path)
    engine = make_engine(settings.db_url)
    try:
        with using(settings), run_lock(engine, settings.lock_timeout_seconds):
            step(prepare, settings)
            todo = set(step(select_batches, str(path), settings)) if scan.batches else set()
            result = LandingResult(ignored=scan.ignored, refused=scan.refused)
            for b in scan.batches:
                if str(b) not in todo:
                    log.info("%s: already published with the same files; skipped", b.name)
                    done = BatchResult(b.name, str(b), None, None, skipped=True)
                else:
                    done = run_batch(str(b), settings, step, on_batch=on_batch)
                result.batches.append(done)
        notify_after_run(engine, result, settings)
        return result
    finally:
        engine.dispose()


def run_one_batch(batch_dir: Path, engine: Engine, settings: Settings | None = None,
                  keep_work: bool = False) -> BatchResult:
    """One batch, directly (without the landing scan and the lock): `run_batch`."""
    settings = (settings or load_settings()).with_overrides(db_url=str(
        engine.url.render_as_string(hide_password=False)))
    with using(settings):  # the site's contracts and indicator configuration, if it has any
        return run_batch(str(batch_dir), settings, keep_work=keep_work)


def run_path(path: Path, db_url: str, work_root: Path | None = None,
             settings: Settings | None = None) -> LandingResult:
    """Run a batch folder, or every unprocessed batch of a landing folder in date order."""
    settings = (settings or load_settings()).with_overrides(db_url=db_url, work_dir=work_root)
    check_site_files(settings)
    return run_job(path, settings)


def release(as_of: date, by: str, db_url: str, settings: Settings | None = None
            ) -> RunOutcome:
    """Publish a held batch as it was staged, on a data officer's word."""
    settings = (settings or load_settings()).with_overrides(db_url=db_url)
    check_site_files(settings)
    with using(settings):
        return _release(as_of, by, settings)


def _release(as_of: date, by: str, settings: Settings) -> RunOutcome:
    engine = make_engine(settings.db_url)
    try:
        with run_lock(engine, settings.lock_timeout_seconds):
            upgrade(engine)
            hold_id, manifest = held_manifest(engine, as_of)
            dropped = held_drops(engine, hold_id, manifest)  # acknowledged by the release
            run_id = start_run(engine, as_of, manifest.batch_path)
            try:
                outcome = publish_with_retry(
                    manifest, engine, run_id, attempts=settings.db_retry_attempts,
                    base_seconds=settings.db_retry_base_seconds,
                    note=f"released by {by} after a hold", release=(hold_id, by),
                    dim_dates=(settings.dim_date_first, settings.dim_date_last),
                    spc_baseline_points=settings.spc_baseline_points)
            except Exception as exc:
                finish_failed_run(engine, run_id, redact(f"{type(exc).__name__}: "
                                                         f"{mask_url(str(exc))}"))
                raise
            shutil.rmtree(manifest.work_dir, ignore_errors=True)
            result = BatchResult(as_of.isoformat(), manifest.batch_path, outcome, manifest)
            aftercare(engine, result, as_of, settings, released=(by, dropped))
            assert result.outcome is not None
            return result.outcome
    finally:
        engine.dispose()


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

    if not Path(manifest.issues_parquet).is_file():  # a held batch's files moved on
        return []
    issues = pl.read_parquet(manifest.issues_parquet)
    if issues.height == 0:
        return []
    return (
        issues.group_by("rule_id", "severity").agg(pl.len().alias("issues"))
        .sort(["issues", "rule_id"], descending=[True, False]).to_dicts()
    )
