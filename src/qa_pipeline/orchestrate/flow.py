"""The nightly Prefect flow: the job of `qa_pipeline.ops.job.run_job`, each of its steps run
as a Prefect task (file paths and typed results between them, never frames). The CLI runs the
same steps directly, so the flow and `qa-pipeline run` cannot drift apart; all logic is
tested without Prefect. `flows/nightly.py` is its entry point (the deployment's and
`python flows/nightly.py`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from prefect import flow, get_run_logger, task
from prefect.artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    create_table_artifact,
)
from prefect.cache_policies import NO_CACHE

from qa_pipeline.load.db import mask_url
from qa_pipeline.ops import job as pipeline
from qa_pipeline.ops.exits import ExitStatus
from qa_pipeline.ops.job import BatchResult, extract_table, rule_table, run_job
from qa_pipeline.ops.settings import load_settings
from qa_pipeline.privacy.redaction import install_log_redaction, redact

T = TypeVar("T")

# A hung step fails the batch instead of blocking the night: database steps get minutes,
# the per-batch stages an hour (a national-scale batch takes a few minutes). No task
# retries: the publish retries a lost connection itself (the one retry policy, as in the CLI).
TIMEOUTS: dict[str, float] = {"prepare": 600.0, "select_batches": 900.0, "begin": 120.0,
                              "stage": 3600.0, "derive": 3600.0, "publish": 3600.0,
                              "after_publish": 3600.0}
STEPS: tuple[Callable[..., Any], ...] = (
    pipeline.prepare, pipeline.select_batches, pipeline.begin, pipeline.stage,
    pipeline.derive, pipeline.publish, pipeline.after_publish)
# No caching: every step reads or writes the database or the work folder.
TASKS = {step.__name__: task(step, name=step.__name__, cache_policy=NO_CACHE,  # type: ignore[call-overload]
                             timeout_seconds=TIMEOUTS[step.__name__]) for step in STEPS}


def as_task(step: Callable[..., T], *args: Any) -> T:
    """Run one step of the job as its Prefect task."""
    return TASKS[step.__name__](*args)  # type: ignore[no-any-return]


def publish_artifacts(result: BatchResult) -> None:
    """The batch's tables and summary as Prefect artifacts (redacted)."""
    if result.skipped or result.manifest is None:
        return
    m = result.manifest
    key = f"qa-batch-{m.as_of.isoformat()}"
    create_table_artifact(key=key + "-extracts", table=extract_table(m),
                          description=f"Rows per extract, batch {m.as_of}")
    create_table_artifact(key=key + "-rules", table=rule_table(m) or [
        {"rule_id": "", "severity": "", "issues": 0}], description=f"Issues per rule, batch "
                          f"{m.as_of}")
    o = result.outcome
    create_markdown_artifact(key=key + "-summary", markdown=redact(
        f"# Batch {m.as_of}\n\n**{o.status if o else ''}** (exit {result.exit_code})"
        f"\n\n{o.message if o else ''}\n"))
    if result.summary_markdown:
        create_markdown_artifact(key=key + "-report", markdown=redact(result.summary_markdown),
                                 description=f"Run summary, batch {m.as_of}")
        create_table_artifact(key=key + "-open-issues", table=result.open_issues_by_rule or [
            {"rule_id": "", "open": 0}], description=f"Open issues per rule, batch {m.as_of}")
    if result.report_path and Path(result.report_path).is_file():
        create_link_artifact(key=key + "-html", link=Path(result.report_path).resolve().as_uri(),
                             link_text=f"QA report {m.as_of}", description="HTML report")


class NightFailed(RuntimeError):
    """A batch of the night failed (its run is recorded `failed`): the flow run fails too."""


@flow(name="qa-nightly", log_prints=True, timeout_seconds=6 * 3600)
def nightly(path: str, db_url: str | None = None, work_root: str | None = None
            ) -> dict[str, object]:
    """Ingest, validate and publish every unprocessed batch under PATH, oldest first."""
    logger = get_run_logger()
    install_log_redaction()  # every configured handler, Prefect's API handler included
    settings = load_settings().with_overrides(db_url=db_url, work_dir=work_root)
    logger.info("database %s", mask_url(settings.db_url))
    result = run_job(Path(path), settings, step=as_task, on_batch=publish_artifacts)
    for b in result.batches:
        if not b.skipped and b.outcome is not None:
            logger.info("batch %s: %s", b.as_of, redact(b.outcome.message))
            if b.checks_line():
                logger.info("batch %s: %s", b.as_of, b.checks_line())
    for line in result.refused:
        logger.warning("not processed: %s", line)
    for line in result.notify_warnings:  # masked; never the flow run's state
        logger.warning("%s", line)
    if result.exit_code == ExitStatus.FAILED:
        failed = [b.as_of for b in result.batches if b.exit_code == ExitStatus.FAILED]
        raise NightFailed(f"batch {', '.join(failed)} failed: see pipeline_run")
    return result.as_dict()


def main(argv: list[str] | None = None) -> int:
    """`python flows/nightly.py PATH [--db URL] [--config FILE]` runs the flow once and exits
    with the status `qa-pipeline run` would give; `python flows/nightly.py --serve [LANDING]`
    serves it on its nightly schedule (02:00 Europe/London) until stopped. Either needs a
    Prefect server: PREFECT_API_URL, else a temporary one started here (given
    `scheduling.EPHEMERAL_STARTUP_SECONDS`); without one it says so in one line and exits 1.
    See docs/operations.md."""
    import os

    from qa_pipeline.cli.common import Parser, options, parse
    from qa_pipeline.ops.settings import CONFIG_ENV
    from qa_pipeline.orchestrate.scheduling import (
        DEPLOYMENT_NAME,
        NoPrefectServer,
        ensure_prefect_server,
        exit_status,
        serve_nightly,
    )

    p = Parser(prog="flows/nightly.py", parents=options(db=True, config=True),
               description="Run the nightly flow once, or serve it nightly.")
    p.add_argument("path", nargs="?", default=None,
                   help="a batch folder or a landing folder of batches (with --serve: the "
                        "landing folder, default: the settings' `landing`)")
    p.add_argument("--work-dir", default=None, metavar="DIR",
                   help="where staged files are written (default: the settings' work_dir, "
                        "else a temporary folder)")
    p.add_argument("--serve", action="store_true",
                   help="create the deployment qa-nightly/NAME and run it every night")
    p.add_argument("--name", default=DEPLOYMENT_NAME,
                   help=f"--serve: the deployment's name ({DEPLOYMENT_NAME})")
    args = parse(p, argv)
    if args.path is None and not args.serve:
        p.error("PATH is required (or --serve)")
    if args.verbose:
        import logging

        logging.getLogger("qa_pipeline").setLevel(logging.INFO)
    if args.config is not None:  # the flow (and each served run) reads the settings itself
        if not Path(args.config).is_file():
            p.error(f"{args.config}: no such config file")
        os.environ[CONFIG_ENV] = str(Path(args.config).resolve())
    try:
        if args.serve:
            # the served runs are child processes: they read the settings from the environment
            for name, value in (("QA_PIPELINE_DB_URL", args.db),
                                ("QA_PIPELINE_WORK_DIR", args.work_dir)):
                if value:
                    os.environ[name] = value
            settings = load_settings().with_overrides(landing=args.path and Path(args.path))
            return serve_nightly(nightly, settings, name=args.name)
        ensure_prefect_server()  # before the flow run: one line instead of a traceback
    except NoPrefectServer as exc:
        print(f"qa-nightly: error: {exc}", file=sys.stderr)
        return ExitStatus.FAILED
    except ValueError as exc:  # --serve: no landing folder, a password in db_url
        print(f"qa-nightly: error: {exc}", file=sys.stderr)
        return ExitStatus.USAGE
    state = nightly(args.path, args.db, args.work_dir, return_state=True)
    return exit_status(state)


@nightly.on_running
def load_db_password(flow: object, flow_run: object, state: object) -> None:
    """Before the flow body: when the settings name a Prefect Secret block
    (`db_password_secret`), its value becomes PGPASSWORD of the flow-run process. The password
    is never in a URL, a parameter or a log line. (A hook's error is logged by Prefect and the
    run goes on; the database then refuses the connection and the run fails.)"""
    from prefect.logging.loggers import flow_run_logger

    from qa_pipeline.orchestrate.scheduling import PASSWORD_ENV
    from qa_pipeline.orchestrate.scheduling import load_db_password as load_password

    settings = load_settings()
    if load_password(settings):
        flow_run_logger(flow_run, flow).info(  # type: ignore[arg-type]
            "database password: from Prefect Secret block %r (into %s)",
            settings.db_password_secret, PASSWORD_ENV)


@nightly.on_running
def load_notify_password(flow: object, flow_run: object, state: object) -> None:
    """Before the flow body: when the settings name a Prefect Secret block
    (`notify_password_secret`), its value goes into the variable `notify_password_env` names,
    for the night's e-mail; never into a URL, a parameter or a log line."""
    from prefect.logging.loggers import flow_run_logger

    from qa_pipeline.orchestrate.scheduling import load_notify_password as load_password

    settings = load_settings()
    if load_password(settings):
        flow_run_logger(flow_run, flow).info(  # type: ignore[arg-type]
            "notification password: from Prefect Secret block %r (into %s)",
            settings.notify_password_secret, settings.notify_password_env)


@nightly.on_running
def log_library_progress(flow: object, flow_run: object, state: object) -> None:
    """The library's own lines (each batch and extract: staged, rows read / loaded /
    quarantined, published, held) at INFO; with PREFECT_LOGGING_EXTRA_LOGGERS=qa_pipeline (set
    by the deployment and by `serve`) they are in the flow run's log in Prefect too."""
    import logging

    library = logging.getLogger("qa_pipeline")
    if library.level == logging.NOTSET:
        library.setLevel(logging.INFO)

