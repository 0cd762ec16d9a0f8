"""Running the nightly flow every night: the schedule, the deployment's parameters taken from
the one Settings object, the database password from a Prefect Secret block, the mapping of a
flow run's final state to the CLI's exit status, and serving the flow without a work pool.

The deployment itself is declared once, in `prefect.yaml` (work pool) — `serve_nightly` uses
the same constants, and `tests/unit/test_schedule.py` checks the two agree. How to run it is
in docs/operations.md.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, MutableMapping
from datetime import datetime
from pathlib import Path
from typing import Any

from qa_pipeline.ops.exits import ExitStatus
from qa_pipeline.ops.settings import CONFIG_ENV, DEFAULT_CONFIG, Settings

log = logging.getLogger(__name__)

FLOW_NAME = "qa-nightly"
"""The name of the Prefect flow (`flows/nightly.py`, `@flow(name=...)`)."""
DEPLOYMENT_NAME = "nightly"
"""The deployment in prefect.yaml, run as `qa-nightly/nightly`."""
ENTRYPOINT = "flows/nightly.py:nightly"
WORK_POOL = "qa-nightly"
"""The process work pool of prefect.yaml."""
CRON = "0 2 * * *"
"""Every night at 02:00 ..."""
TIMEZONE = "Europe/London"
"""... London time: 01:00 UTC in summer (BST), 02:00 UTC in winter (GMT)."""
TAGS = ["qa-pipeline", "nightly"]
EXTRA_LOGGERS = "qa_pipeline"
"""PREFECT_LOGGING_EXTRA_LOGGERS: the library's log lines (batch, extract, counts) go to the
flow run's log in Prefect, not only to stderr."""
PASSWORD_ENV = "PGPASSWORD"
"""Where the database password goes: libpq (psycopg) reads it when the URL has none."""


class DeploymentError(ValueError):
    """The settings cannot make a deployment (no landing folder, a password in a URL)."""


# --- schedule ---------------------------------------------------------------------------


def nightly_schedule(cron: str = CRON, timezone: str = TIMEZONE) -> Any:
    """The schedule object given to Prefect (`flow.serve(schedules=[...])`)."""
    from prefect.schedules import Cron

    return Cron(cron, timezone=timezone)


def next_runs(n: int = 5, after: datetime | None = None, cron: str = CRON,
              timezone: str = TIMEZONE) -> list[datetime]:
    """The next N start times, computed exactly as the Prefect server's scheduler does
    (`prefect.server.schemas.schedules.CronSchedule`), as aware datetimes in `timezone`.

    `after` (aware, or naive in `timezone`) defaults to now; a run exactly at `after` counts.
    """
    from zoneinfo import ZoneInfo

    from prefect.server.schemas.schedules import CronSchedule

    schedule = CronSchedule(cron=cron, timezone=timezone)
    dates = asyncio.run(schedule.get_dates(n=n, start=after))
    zone = ZoneInfo(timezone)
    return [datetime.fromtimestamp(d.timestamp(), tz=zone) for d in dates]


# --- parameters and environment from the settings ----------------------------------------


def config_path(config_file: Path | None = None,
                environ: MutableMapping[str, str] | None = None) -> Path | None:
    """The settings file in use (as `load_settings` finds it), absolute; None if there is none."""
    env = os.environ if environ is None else environ
    path = config_file or (Path(env[CONFIG_ENV]) if env.get(CONFIG_ENV) else DEFAULT_CONFIG)
    return path.resolve() if path.is_file() else None


def _has_password(url: str) -> bool:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).password is not None
    except Exception:
        return False


def deployment_parameters(settings: Settings) -> dict[str, Any]:
    """The flow's parameters stored on the deployment: only the landing folder. The database
    URL, folders and thresholds are read from the settings by each flow run (so a deployment
    never stores a URL, let alone a password)."""
    if settings.landing is None:
        raise DeploymentError("no landing folder: set `landing` in the settings file or "
                              "QA_PIPELINE_LANDING")
    if _has_password(settings.db_url):
        raise DeploymentError("db_url carries a password; take it out and use PGPASSWORD, "
                              "~/.pgpass or a Prefect Secret block (db_password_secret)")
    return {"path": str(Path(settings.landing).resolve())}


def deployment_environment(settings: Settings, config_file: Path | None = None,
                           environ: MutableMapping[str, str] | None = None
                           ) -> dict[str, str]:
    """The variables `prefect.yaml` reads when it is deployed (`{{ $NAME }}`): the landing
    folder and the settings file, both absolute. An empty QA_PIPELINE_CONFIG means
    ./qa_pipeline.yaml in the deployment's working folder."""
    params = deployment_parameters(settings)
    config = config_path(config_file, environ)
    return {"QA_PIPELINE_LANDING": params["path"],
            CONFIG_ENV: str(config) if config else ""}


# --- the database password ---------------------------------------------------------------


def _prefect_secret(name: str) -> str:
    from prefect.blocks.system import Secret

    value = Secret.load(name).get()  # type: ignore[union-attr]
    return value if isinstance(value, str) else str(value)


def load_db_password(settings: Settings, environ: MutableMapping[str, str] | None = None,
                     load_secret: Callable[[str], str] | None = None) -> bool:
    """When `db_password_secret` names a Prefect Secret block, put its value into PGPASSWORD of
    this process (and so of the database connections it opens). Returns whether it did.

    The password never goes into a URL, a flow parameter, a log line or the repository; the
    Secret block's value wins over a PGPASSWORD already set, so rotating the block takes
    effect at the next run."""
    name = settings.db_password_secret
    if not name:
        return False
    env = os.environ if environ is None else environ
    value = (load_secret or _prefect_secret)(name)
    if not value:
        raise DeploymentError(f"the Prefect Secret block {name!r} is empty")
    env[PASSWORD_ENV] = value
    return True


def load_notify_password(settings: Settings, environ: MutableMapping[str, str] | None = None,
                         load_secret: Callable[[str], str] | None = None) -> bool:
    """When `notify_password_secret` names a Prefect Secret block, put its value into the
    variable `notify_password_env` names, where the notifications read it at send time (as
    `load_db_password` does for the database). Returns whether it did."""
    name = settings.notify_password_secret
    if not name:
        return False
    if not settings.notify_password_env:
        raise DeploymentError("notify_password_secret is set but notify_password_env is not: "
                              "name the variable the password goes into")
    value = (load_secret or _prefect_secret)(name)
    if not value:
        raise DeploymentError(f"the Prefect Secret block {name!r} is empty")
    (os.environ if environ is None else environ)[settings.notify_password_env] = value
    return True


# --- final state -> exit status ---------------------------------------------------------


def exit_status(state: Any) -> int:
    """The exit status `qa-pipeline run` gives for what a flow run did: 0 Completed (every
    batch succeeded), 3 Completed but a batch was held or a file rejected or missing,
    2 Failed because PATH is not a batch or landing folder, 1 Failed, Crashed, Cancelled or
    TimedOut (nothing of the failing batch was published)."""
    from qa_pipeline.ingest.staging import BatchError

    if state.is_completed():
        try:
            result = state.result(raise_on_failure=False)
        except Exception:  # a run started elsewhere: its result is not kept; counts are
            return ExitStatus.OK  # in pipeline_run
        if isinstance(result, dict):  # the night's LandingResult.as_dict()
            return ExitStatus(int(str(result.get("exit_code", 0))))
        return ExitStatus.OK
    try:
        error = state.result(raise_on_failure=False)
    except Exception as exc:
        error = exc
    return ExitStatus.USAGE if isinstance(error, BatchError) else ExitStatus.FAILED


# --- the Prefect server ---------------------------------------------------------------------

EPHEMERAL_STARTUP_SECONDS = 180
"""How long `python flows/nightly.py` and `qa-pipeline serve` wait for Prefect's temporary
server when no server is configured. Prefect's own default
(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS, 20 s) is too short on a loaded host: the
server migrates its SQLite database before it answers. A value set there other than 20 wins."""
PREFECT_DEFAULT_STARTUP_SECONDS = 20


class NoPrefectServer(RuntimeError):
    """No Prefect server answers: the one configured is down, or the temporary one did not
    start in time."""


def ensure_prefect_server(startup_seconds: int | None = None) -> str:
    """The Prefect API the flow will use, checked before any flow run starts.

    With PREFECT_API_URL set, the server there must answer its health check. Without one,
    Prefect's temporary server is started here (the flow run then uses it), waiting up to
    `startup_seconds` (default: the PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS setting
    if changed, else EPHEMERAL_STARTUP_SECONDS). Failing that: NoPrefectServer, whose
    message is one line saying how to point at a server."""
    from prefect.settings import get_current_settings

    settings = get_current_settings()
    hint = ("point PREFECT_API_URL at a running Prefect server (`prefect config set "
            "PREFECT_API_URL=http://127.0.0.1:4200/api`, docs/operations.md section 6)")
    api_url = settings.api.url
    if api_url:
        from prefect.client.orchestration import get_client

        try:
            with get_client(sync_client=True) as client:
                problem = client.api_healthcheck()
        except Exception as exc:
            problem = exc
        if problem is not None:
            raise NoPrefectServer(f"the Prefect server at {api_url} does not answer "
                                  f"({type(problem).__name__}); start it, or {hint}")
        return str(api_url)
    if not settings.server.ephemeral.enabled:
        raise NoPrefectServer(f"no Prefect server is configured; {hint}")
    from prefect.server.api.server import SubprocessASGIServer

    configured = settings.server.ephemeral.startup_timeout_seconds
    wait = startup_seconds or (configured if configured != PREFECT_DEFAULT_STARTUP_SECONDS
                               else EPHEMERAL_STARTUP_SECONDS)
    server = SubprocessASGIServer()
    log.info("no Prefect server configured: starting a temporary one (up to %d s)", wait)
    try:
        server.start(timeout=wait)
    except Exception as exc:
        server.stop()
        raise NoPrefectServer(
            f"no Prefect server is configured and the temporary one did not start within "
            f"{wait} s ({type(exc).__name__}); {hint}, or allow it longer with "
            "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS") from exc
    return server.api_url


# --- serving the flow without a work pool ---------------------------------------------------


def find_project_dir(start: Path | None = None) -> Path:
    """The installation folder: the nearest of START (default: the current folder) and its
    parents holding flows/nightly.py, else the folder this package was installed from."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "flows" / "nightly.py").is_file():
            return folder
    source = Path(__file__).resolve().parents[3]
    if (source / "flows" / "nightly.py").is_file():
        return source
    raise DeploymentError(f"no flows/nightly.py in {here} or its parents: run this from the "
                          "installation folder or pass --project-dir")


def load_nightly_flow(project_dir: Path) -> Any:
    """The `qa-nightly` flow object of the installation's flows/nightly.py."""
    from prefect.flows import load_flow_from_entrypoint

    return load_flow_from_entrypoint(f"{project_dir / ENTRYPOINT.split(':')[0]}:"
                                     f"{ENTRYPOINT.split(':')[1]}")


def serve_nightly(flow: Any, settings: Settings, name: str = DEPLOYMENT_NAME,
                  config_file: Path | None = None, cron: str = CRON,
                  timezone: str = TIMEZONE) -> int:
    """Create the deployment `qa-nightly/NAME` on the Prefect server and run it on its
    schedule in this process until stopped (SIGTERM or Ctrl-C; the schedule is then paused
    until the next start). Each run is a child process reading the same settings file.
    Without a Prefect server that answers: NoPrefectServer (`ensure_prefect_server`)."""
    parameters = deployment_parameters(settings)
    ensure_prefect_server()
    config = config_path(config_file)
    if config is not None:
        os.environ[CONFIG_ENV] = str(config)
    os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", EXTRA_LOGGERS)
    log.info("serving %s/%s at %r %s on %s", FLOW_NAME, name, cron, timezone,
             parameters["path"])
    flow.serve(name=name, schedules=[nightly_schedule(cron, timezone)],
               parameters=parameters, tags=TAGS,
               description=f"Every unprocessed batch of {parameters['path']}, nightly at "
                           f"{cron} ({timezone}).")
    return ExitStatus.OK
