"""Command-line tools of the person who keeps the nightly job running (serve, schedule).

Each command registers itself with `set_defaults(handler=...)`; `cli.main` calls the handler,
which returns the exit status (`ExitStatus`): 0 done, 1 the database or the Prefect server
could not be reached (or `status --check`: the latest run failed), 2 usage error (or no
reporting database at the path given), 3 (`status --check`) a batch is held.
docs/operations.md is the operator's guide. `--db URL`, `--config FILE` and `-v` are the
shared options of `cli_common`.

    qa-pipeline settings [--table] [--db URL] [--config FILE]
    qa-pipeline schedule [--next N] [--after YYYY-MM-DD]
    qa-pipeline deploy [--name NAME] [--config FILE] [--project-dir DIR] [--prefect-file F]
    qa-pipeline serve [--landing DIR] [--db URL] [--name NAME] [--config FILE]
    qa-pipeline alerts --block TYPE/NAME [--file deploy/automation-failed-run.yaml]
    qa-pipeline status [--last N] [--check] [--db URL] [--config FILE]
    qa-pipeline backup OUT [--db URL] [--config FILE]
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import os
import subprocess
import sys
from dataclasses import MISSING, fields
from datetime import datetime, time
from pathlib import Path
from typing import Any

from qa_pipeline.cli.common import (
    existing_database,
    iso_date,
    one_line,
    options,
    positive_int,
    settings_of,
)
from qa_pipeline.ops.exits import ExitStatus

BLOCK_PLACEHOLDER = "{{ notification_block_id }}"
AUTOMATION_FILE = Path("deploy") / "automation-failed-run.yaml"


def _err(message: str) -> None:
    print(f"qa-pipeline: error: {message}", file=sys.stderr)


# --- settings ---------------------------------------------------------------------------


def settings_reference() -> list[tuple[str, str, str, str]]:
    """(setting, environment variable, default, meaning) of every setting, from the attribute
    docstrings of `qa_pipeline.ops.settings.Settings` (the one source)."""
    from qa_pipeline.ops import settings as settings_module
    from qa_pipeline.ops.settings import ENV_PREFIX, Settings

    tree = ast.parse(Path(settings_module.__file__).read_text(encoding="utf-8"))
    docs: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == "Settings":
            body = node.body
            for stmt, nxt in zip(body, body[1:], strict=False):
                if (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)
                        and isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant)
                        and isinstance(nxt.value.value, str)):
                    docs[stmt.target.id] = " ".join(nxt.value.value.split())
    rows = []
    for f in fields(Settings):
        if f.default is not MISSING:
            default = "—" if f.default in (None, ()) else str(f.default)
        elif f.default_factory is not MISSING:
            default = str(f.default_factory()).replace(str(Path.cwd()), ".")
        else:  # pragma: no cover - every setting has a default
            default = ""
        rows.append((f.name, ENV_PREFIX + f.name.upper(), default, docs.get(f.name, "")))
    return rows


def settings_table() -> str:
    """The settings reference as the markdown table of docs/operations.md."""
    lines = ["| setting | environment variable | default | meaning |", "|---|---|---|---|"]
    for name, env, default, doc in settings_reference():
        shown = default if default == "—" else f"`{default}`"
        lines.append(f"| `{name}` | `{env}` | {shown} | {doc.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


def _cmd_settings(args: argparse.Namespace) -> int:
    if args.table:
        print(settings_table(), end="")
        return ExitStatus.OK
    from qa_pipeline.load.db import mask_url
    from qa_pipeline.orchestrate.scheduling import config_path
    from qa_pipeline.spec.contracts import packaged_contracts_path
    from qa_pipeline.transform.indicators import packaged_config_path

    settings = settings_of(args)  # unreadable settings: `failure_status` (exit 2)
    config = config_path(args.config)
    packaged = {"contracts_file": packaged_contracts_path(),
                "indicators_file": packaged_config_path()}
    print(f"settings file: {config or 'none (defaults and environment only)'}")
    for f in fields(settings):
        value = getattr(settings, f.name)
        shown = mask_url(value) if f.name == "db_url" else value
        if f.name == "notify_urls":
            from qa_pipeline.ops.notify import mask_notify_url

            shown = " ".join(mask_notify_url(u) for u in value) or "()"
        if value is None and f.name in packaged:  # the file a site copy starts from
            shown = f"None (packaged: {packaged[f.name]})"
        print(f"{f.name:<24}{shown}")
    return ExitStatus.OK


# --- schedule, deploy, serve --------------------------------------------------------------


def _cmd_schedule(args: argparse.Namespace) -> int:
    from zoneinfo import ZoneInfo

    from qa_pipeline.orchestrate.scheduling import CRON, TIMEZONE, next_runs

    after = (datetime.combine(args.after, time(), tzinfo=ZoneInfo(TIMEZONE))
             if args.after else None)
    print(f"{CRON!r} in {TIMEZONE} (Prefect cron schedule of the deployment)")
    for when in next_runs(args.next, after=after):
        utc = when.astimezone(ZoneInfo("UTC"))
        print(f"  {when:%a %Y-%m-%d %H:%M} {when.tzname()} = {utc:%H:%M} UTC")
    return ExitStatus.OK


def _project_dir(args: argparse.Namespace) -> Path:
    from qa_pipeline.orchestrate.scheduling import find_project_dir

    return Path(args.project_dir).resolve() if args.project_dir else find_project_dir()


def _cmd_deploy(args: argparse.Namespace) -> int:
    from qa_pipeline.orchestrate.scheduling import FLOW_NAME, deployment_environment

    try:
        settings = settings_of(args)
        project = _project_dir(args)
        env = deployment_environment(settings, args.config)
    except (OSError, ValueError) as exc:  # DeploymentError is a ValueError
        _err(str(exc))
        return ExitStatus.USAGE
    prefect_file = Path(args.prefect_file) if args.prefect_file else project / "prefect.yaml"
    if not Path(env["QA_PIPELINE_LANDING"]).is_dir():
        _err(f"the landing folder {env['QA_PIPELINE_LANDING']} does not exist")
        return ExitStatus.USAGE
    print(f"deploying {FLOW_NAME}/{args.name} from {prefect_file}: landing "
          f"{env['QA_PIPELINE_LANDING']}, settings file {env['QA_PIPELINE_CONFIG'] or '-'}")
    cmd = [sys.executable, "-m", "prefect", "--no-prompt", "deploy",
           "--prefect-file", str(prefect_file.resolve()), "--name", f"{FLOW_NAME}/{args.name}"]
    return subprocess.call(cmd, cwd=project, env={**os.environ, **env})


def _cmd_serve(args: argparse.Namespace) -> int:
    from qa_pipeline.orchestrate.scheduling import NoPrefectServer, load_nightly_flow, serve_nightly

    try:
        settings = settings_of(args, landing=args.landing)
        project = _project_dir(args)
    except (OSError, ValueError) as exc:
        _err(str(exc))
        return ExitStatus.USAGE
    if args.db:  # each served run is a child process that reads the settings again
        os.environ["QA_PIPELINE_DB_URL"] = args.db
    try:
        flow = load_nightly_flow(project)
        os.chdir(project)  # the deployment's entrypoint is flows/nightly.py, relative
        return serve_nightly(flow, settings, name=args.name, config_file=args.config)
    except NoPrefectServer as exc:  # none configured answers, no temporary one started
        _err(str(exc))
        return ExitStatus.FAILED
    except ValueError as exc:
        _err(str(exc))
        return ExitStatus.USAGE


# --- alerts -------------------------------------------------------------------------------


def automation_definition(path: Path, block_document_id: str) -> dict[str, Any]:
    """The automation of PATH (YAML) with the notification block's id filled in."""
    import yaml

    text = path.read_text(encoding="utf-8")
    if BLOCK_PLACEHOLDER not in text:
        raise ValueError(f"{path}: no {BLOCK_PLACEHOLDER} to fill in")
    data = yaml.safe_load(text.replace(BLOCK_PLACEHOLDER, block_document_id))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not one automation")
    return data


async def _install_automation(path: Path, block: str) -> tuple[str, str]:
    from prefect.client.orchestration import get_client
    from prefect.events.schemas.automations import AutomationCore

    slug, _, name = block.partition("/")
    if not name:
        raise ValueError(f"--block {block!r}: give it as BLOCK-TYPE/NAME, e.g. "
                         "custom-webhook/qa-alerts (see `prefect block ls`)")
    async with get_client() as client:
        document = await client.read_block_document_by_name(name, slug)
        automation = AutomationCore.model_validate(
            automation_definition(path, str(document.id)))
        for old in await client.read_automations_by_name(automation.name):
            await client.delete_automation(old.id)
        return automation.name, str(await client.create_automation(automation))


def _cmd_alerts(args: argparse.Namespace) -> int:
    path = Path(args.file) if args.file else _project_dir(args) / AUTOMATION_FILE
    try:
        name, automation_id = asyncio.run(_install_automation(path, args.block))
    except (OSError, ValueError) as exc:
        _err(str(exc))
        return ExitStatus.USAGE
    except Exception as exc:  # the server is unreachable, the block does not exist, ...
        _err(f"{type(exc).__name__}: {exc}")
        return ExitStatus.FAILED
    print(f"automation {name!r} ({automation_id}) notifies {args.block}")
    return ExitStatus.OK


# --- status and backup --------------------------------------------------------------------


def _cmd_status(args: argparse.Namespace) -> int:
    """Reads only: a SQLite file that does not exist is "no reporting database at PATH"
    (exit 2, nothing created); a database that cannot be read is one line (exit 1)."""
    import sqlalchemy as sa

    from qa_pipeline.load.db import batch_hold, mask_url, pipeline_run

    settings, engine = existing_database(args)
    try:
        with engine.connect() as conn:
            runs = conn.execute(
                sa.select(pipeline_run.c.run_id, pipeline_run.c.as_of,
                          pipeline_run.c.started_at, pipeline_run.c.finished_at,
                          pipeline_run.c.status, pipeline_run.c.exit_code,
                          pipeline_run.c.message)
                .order_by(pipeline_run.c.started_at.desc()).limit(args.last)).all()
            holds = conn.execute(
                sa.select(batch_hold.c.as_of, batch_hold.c.held_at, batch_hold.c.reason)
                .where(batch_hold.c.status == "held").order_by(batch_hold.c.as_of)).all()
    except Exception as exc:  # unreachable, no such database on the server, no schema...
        _err(f"cannot read {mask_url(settings.db_url)}: {one_line(exc)}")
        return ExitStatus.FAILED
    finally:
        engine.dispose()
    print(f"database: {mask_url(settings.db_url)}")
    print(f"last {len(runs)} runs, newest first:")
    for r in runs:
        finished = (f"finished {r.finished_at:%H:%M}" if r.finished_at
                    else "did not finish")
        message = " ".join((r.message or "").split())[:100]
        code = "-" if r.exit_code is None else r.exit_code
        print(f"  {r.as_of}  {r.status:<22} exit {code}  started "
              f"{r.started_at:%Y-%m-%d %H:%M} UTC, {finished}  {message}")
    print(f"held batches: {len(holds)}")
    for h in holds:
        reason = h.reason if len(h.reason) <= 160 else h.reason[:159] + "…"
        print(f"  {h.as_of}  held {h.held_at:%Y-%m-%d %H:%M} UTC: {reason}")
        print(f"    after checking it: qa-pipeline release {h.as_of} --by YOUR.NAME")
    if args.check:
        if runs and runs[0].status == "failed":
            return ExitStatus.FAILED
        if holds:
            return ExitStatus.ISSUES
    return ExitStatus.OK


def backup_database(db_url: str, out: Path) -> None:
    """A consistent copy of the reporting database: SQLite through the sqlite3 online-backup
    API (safe while a run writes), PostgreSQL with pg_dump (custom format, for pg_restore)."""
    from sqlalchemy.engine import make_url

    from qa_pipeline.load.db import require_database

    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":
        import sqlite3

        path = require_database(db_url)  # NoDatabase (a ValueError) if there is none
        if path is None:
            raise ValueError(f"{url.database or ':memory:'}: no SQLite database file to "
                             "back up")
        out.parent.mkdir(parents=True, exist_ok=True)
        src = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)
        dst = sqlite3.connect(out)
        try:
            with dst:
                src.backup(dst)
        finally:
            dst.close()
            src.close()
        return
    if url.get_backend_name() != "postgresql":
        raise ValueError(f"cannot back up a {url.get_backend_name()} database")
    out.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    if url.password is not None:  # never on a command line (visible in ps)
        env["PGPASSWORD"] = str(url.password)
    libpq = url.set(drivername="postgresql", password=None).render_as_string(
        hide_password=False)
    subprocess.run(["pg_dump", "--format=custom", "--no-owner", "--file", str(out),
                    "--dbname", libpq], check=True, env=env)


def _cmd_backup(args: argparse.Namespace) -> int:
    from qa_pipeline.load.db import mask_url
    from qa_pipeline.orchestrate.scheduling import load_db_password

    settings = settings_of(args)  # unreadable settings: `failure_status` (exit 2)
    out = Path(args.out)
    if out.exists():
        _err(f"{out} exists; a backup never overwrites")
        return ExitStatus.USAGE
    try:
        load_db_password(settings)
        backup_database(settings.db_url, out)
    except ValueError as exc:
        _err(str(exc))
        return ExitStatus.USAGE
    except (OSError, subprocess.CalledProcessError) as exc:
        _err(f"backup failed: {mask_url(str(exc))}")
        out.unlink(missing_ok=True)
        return ExitStatus.FAILED
    print(f"backed up {mask_url(settings.db_url)} to {out} ({out.stat().st_size} bytes)")
    return ExitStatus.OK


# --- registration -------------------------------------------------------------------------


def add_commands(sub: Any) -> None:
    """Add the operator's subcommands to the `qa-pipeline` parser."""
    from qa_pipeline.orchestrate.scheduling import CRON, DEPLOYMENT_NAME, TIMEZONE

    def project(p: argparse.ArgumentParser) -> None:
        p.add_argument("--project-dir", default=None, metavar="DIR",
                       help="the installation folder holding prefect.yaml and flows/ "
                            "(default: the current folder or its parents)")

    p = sub.add_parser("settings", parents=options(db=True, config=True),
                       help="show the settings in effect (or --table: the reference of every "
                            "setting)")
    p.add_argument("--table", action="store_true", help="print the settings reference table")
    p.set_defaults(handler=_cmd_settings)

    p = sub.add_parser("schedule", parents=options(),
                       help=f"the nightly schedule ({CRON!r} {TIMEZONE}) and its next run "
                            "times")
    p.add_argument("--next", type=positive_int, default=5, metavar="N",
                   help="how many run times (5)")
    p.add_argument("--after", type=iso_date, default=None, metavar="DATE",
                   help="from this date, YYYY-MM-DD (default: now)")
    p.set_defaults(handler=_cmd_schedule)

    p = sub.add_parser("deploy", parents=options(config=True),
                       help="create or update the Prefect deployment of prefect.yaml with the "
                            "landing folder and settings file in effect")
    p.add_argument("--name", default=DEPLOYMENT_NAME,
                   help=f"the deployment in prefect.yaml ({DEPLOYMENT_NAME})")
    p.add_argument("--prefect-file", default=None, metavar="FILE",
                   help="the Prefect project file (default: PROJECT/prefect.yaml)")
    project(p)
    p.set_defaults(handler=_cmd_deploy)

    p = sub.add_parser("serve", parents=options(db=True, config=True),
                       help="serve the nightly flow on its schedule in this process (no work "
                            "pool needed) until stopped")
    p.add_argument("--landing", type=Path, default=None, metavar="DIR",
                   help="the landing folder (default: the settings' `landing`)")
    p.add_argument("--name", default=DEPLOYMENT_NAME,
                   help=f"the deployment's name ({DEPLOYMENT_NAME})")
    project(p)
    p.set_defaults(handler=_cmd_serve)

    p = sub.add_parser("alerts", parents=options(),
                       help="create or replace the Prefect automation that notifies on a "
                            "failed, crashed or timed-out nightly run")
    p.add_argument("--block", required=True, metavar="TYPE/NAME",
                   help="the notification block, BLOCK-TYPE/NAME (e.g. custom-webhook/qa-alerts)")
    p.add_argument("--file", default=None,
                   help=f"the automation definition (default: PROJECT/{AUTOMATION_FILE})")
    project(p)
    p.set_defaults(handler=_cmd_alerts)

    p = sub.add_parser("status", parents=options(db=True, config=True),
                       help="the last runs and the held batches (pipeline_run, batch_hold); "
                            "reads only")
    p.add_argument("--last", type=positive_int, default=10, metavar="N",
                   help="how many runs (10)")
    p.add_argument("--check", action="store_true",
                   help="exit 1 if the latest run failed, 3 if a batch is held (monitoring)")
    p.set_defaults(handler=_cmd_status)

    p = sub.add_parser("backup", parents=options(db=True, config=True),
                       help="copy the reporting database (SQLite backup API, or pg_dump for "
                            "PostgreSQL)")
    p.add_argument("out", help="the backup file to write (never overwritten)")
    p.set_defaults(handler=_cmd_backup)
