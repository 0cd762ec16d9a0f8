"""Running it every night, for real: a Prefect server on 127.0.0.1 (its own SQLite database in a
temporary folder), the deployment of prefect.yaml made by `qa-pipeline deploy`, a process
worker, `qa-pipeline serve`, and the failed-run automation — the commands of
docs/operations.md. Every process started here is stopped at the end, also on failure.
"""

from __future__ import annotations

import asyncio
import atexit
import fcntl
import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import sqlalchemy as sa

from qa_pipeline.load.db import make_engine
from tests.batch_builder import AS_OF, base, write_batch
from tests.pg_server import free_port, sigterm_as_keyboard_interrupt

pytestmark = pytest.mark.prefect

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SECRET = "hunter2-Secret-Block-Value"
DAY1, DAY2, DAY3 = AS_OF - timedelta(days=2), AS_OF - timedelta(days=1), AS_OF


# --- processes -----------------------------------------------------------------------------


class Proc:
    """A child process in its own session (so its children can be stopped with it)."""

    def __init__(self, cmd: list[str], env: dict[str, str], log: Path,
                 cwd: Path = ROOT) -> None:
        self.log = log
        self._out = log.open("wb")
        self.popen = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=self._out,
                                      stderr=subprocess.STDOUT, start_new_session=True)
        atexit.register(self.stop)

    def stop(self, grace: float = 15.0) -> int | None:
        """SIGTERM to the process group, then SIGKILL after GRACE seconds."""
        if self.popen.returncode is None:
            for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
                try:
                    os.killpg(self.popen.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.popen.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        try:  # grandchildren left in the group (a flow run, uvicorn)
            os.killpg(self.popen.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self._out.close()
        atexit.unregister(self.stop)
        return self.popen.returncode

    def tail(self, chars: int = 4000) -> str:
        self._out.flush()
        return self.log.read_text(errors="replace")[-chars:]

    def __enter__(self) -> Proc:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class Server:
    url: str
    env: dict[str, str]
    home: Path


def _clean_env() -> dict[str, str]:
    """This environment without Prefect, qa_pipeline or libpq settings — but with the suite's
    QA_PIPELINE_AFTERCARE (tests/conftest.py: the after-publish reports are tested elsewhere)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PREFECT_", "QA_PIPELINE_", "PG"))}
    if "QA_PIPELINE_AFTERCARE" in os.environ:
        env["QA_PIPELINE_AFTERCARE"] = os.environ["QA_PIPELINE_AFTERCARE"]
    return env


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`prefect server start --host 127.0.0.1 --port <free>` with PREFECT_HOME and a SQLite
    Prefect database in a temporary folder; ready when /api/health answers."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    home = tmp_path_factory.mktemp("prefect_home")
    port = free_port()
    url = f"http://127.0.0.1:{port}/api"
    env = {**_clean_env(), "PREFECT_HOME": str(home), "PREFECT_API_URL": url,
           "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{home / 'prefect.db'}",
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_SERVER_UI_ENABLED": "false",
           "PREFECT_WORKER_QUERY_SECONDS": "1", "PREFECT_RUNNER_POLL_FREQUENCY": "1",
           "PATH": f"{BIN}:{os.environ.get('PATH', '')}"}
    with sigterm_as_keyboard_interrupt(), Proc(
            [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port",
             str(port)], env, home / "server.log") as server:
        deadline = time.monotonic() + 90
        while True:
            if server.popen.poll() is not None:
                pytest.fail(f"prefect server exited {server.popen.returncode}:\n"
                            f"{server.tail()}")
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"prefect server not healthy after 90 s:\n{server.tail()}")
            time.sleep(0.25)
        with temporary_settings({PREFECT_API_URL: url}):
            try:
                yield Server(url, env, home)
            finally:
                _drain_prefect_workers()


def _drain_prefect_workers() -> None:
    """Send this process's pending logs and events to the server before it stops (as
    prefect_test_harness does); else they are retried against a dead server at exit."""
    import inspect

    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker
    from prefect.utilities.asyncutils import run_coro_as_sync

    async def drain() -> None:
        try:
            result = APILogWorker.instance().drain()
            if inspect.isawaitable(result):
                await result
        except RuntimeError:  # never started
            pass
        result = EventsWorker.drain_all()
        if inspect.isawaitable(result):
            await result

    run_coro_as_sync(drain())


@pytest.fixture(scope="module")
def work_pool(prefect_server: Server) -> str:
    _run(["prefect", "work-pool", "create", "qa-nightly", "--type", "process"],
         prefect_server.env)
    return "qa-nightly"


def _run(cmd: list[str], env: dict[str, str], cwd: Path = ROOT, check: bool = True
         ) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(BIN / cmd[0]), *cmd[1:]], env=env, cwd=cwd, text=True,
                          capture_output=True, timeout=180)
    if check and done.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done


# --- helpers -------------------------------------------------------------------------------


def _client_call(fn: Any) -> Any:
    from prefect.client.orchestration import get_client

    async def call() -> Any:
        async with get_client() as client:
            return await fn(client)

    return asyncio.run(call())


def _logs(flow_run_id: Any, last: str = "Finished in state", seconds: float = 30
          ) -> list[Any]:
    """The flow run's log in Prefect, once its LAST line has arrived (logs are shipped to the
    server in the background)."""
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.client.schemas.sorting import LogSort

    deadline = time.monotonic() + seconds
    while True:
        logs = _client_call(lambda c: c.read_logs(
            LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])),
            sort=LogSort.TIMESTAMP_ASC))
        if any(last in log.message and log.name == "prefect.flow_runs" for log in logs) or (
                time.monotonic() > deadline):
            return list(logs)
        time.sleep(0.5)


def _scheduled_runs(deployment_id: Any, seconds: float = 60) -> list[Any]:
    """The runs the server's scheduler created for the deployment (it does so within seconds
    of the deployment's creation)."""
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterId,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    deadline = time.monotonic() + seconds
    while True:
        runs = _client_call(lambda c: c.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])),
            flow_run_filter=FlowRunFilter(state=FlowRunFilterState(
                type=FlowRunFilterStateType(any_=[StateType.SCHEDULED])))))
        if len(runs) >= 3 or time.monotonic() > deadline:
            assert len(runs) >= 3, runs
            return list(runs)
        time.sleep(0.5)


def _wait_for_deployment(name: str, proc: Proc, seconds: float = 90) -> Any:
    from prefect.exceptions import ObjectNotFound

    deadline = time.monotonic() + seconds
    while True:
        try:
            return _client_call(lambda c: c.read_deployment_by_name(name))
        except ObjectNotFound:
            pass
        if proc.popen.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"no deployment {name}:\n{proc.tail()}")
        time.sleep(0.5)


def _run_deployment(name: str, worker: Proc) -> Any:
    from prefect.deployments import run_deployment

    flow_run = run_deployment(name, timeout=180, poll_interval=1)
    assert flow_run.state is not None and flow_run.state.is_final(), worker.tail()
    return flow_run


def _settings_file(tmp_path: Path, landing: Path, db: Path, **extra: object) -> Path:
    lines = {"landing": landing, "db_url": f"sqlite:///{db}", "hold_dir": tmp_path / "holds",
             "work_dir": tmp_path / "work", "report_dir": tmp_path / "reports", **extra}
    path = tmp_path / "qa_pipeline.yaml"
    path.write_text("".join(f"{k}: {v}\n" for k, v in lines.items()), encoding="utf-8")
    return path


def _runs(db: Path) -> list[tuple[str, str]]:
    engine = make_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            return [(str(r[0]), r[1]) for r in conn.execute(sa.text(
                "SELECT as_of, status FROM pipeline_run ORDER BY started_at"))]
    finally:
        engine.dispose()


def _published(db: Path) -> list[str]:
    engine = make_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            return [str(r[0]) for r in conn.execute(sa.text(
                "SELECT as_of FROM batch ORDER BY as_of"))]
    finally:
        engine.dispose()


def _snapshot(landing: Path) -> dict[str, tuple[str, int]]:
    return {str(p.relative_to(landing)): (hashlib.sha256(p.read_bytes()).hexdigest(),
                                           p.stat().st_mtime_ns)
            for p in sorted(landing.rglob("*")) if p.is_file()}


class _Webhook:
    """A notification endpoint on 127.0.0.1 that records what is posted to it."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        posts = self.posts

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                posts.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, seconds: float = 60) -> list[dict[str, Any]]:
        deadline = time.monotonic() + seconds
        while not self.posts and time.monotonic() < deadline:
            time.sleep(0.2)
        return self.posts

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- the tests ---------------------------------------------------------------------------


def test_deployment_and_worker_process_the_landing_folder_nightly(
        prefect_server: Server, work_pool: str, tmp_path: Path) -> None:
    from prefect.blocks.notifications import CustomWebhookNotificationBlock

    from qa_pipeline.cli.main import main as qa_pipeline
    from qa_pipeline.orchestrate.scheduling import exit_status

    landing = tmp_path / "landing"
    write_batch(landing, base(), as_of=DAY2)  # delivered out of order: processed in date order
    write_batch(landing, base(), as_of=DAY1)
    db = tmp_path / "qa.db"
    config = _settings_file(tmp_path, landing, db, lock_timeout_seconds=2)
    env = {**prefect_server.env, "QA_PIPELINE_CONFIG": str(config)}

    # qa-pipeline deploy: prefect.yaml, with the landing folder and settings file in effect
    _run(["qa-pipeline", "deploy"], env)
    deployment = _client_call(lambda c: c.read_deployment_by_name("qa-nightly/nightly"))
    assert deployment.parameters == {"path": str(landing.resolve())}
    assert deployment.work_pool_name == work_pool
    assert deployment.job_variables["env"] == {"QA_PIPELINE_CONFIG": str(config.resolve()),
                                               "PREFECT_LOGGING_EXTRA_LOGGERS": "qa_pipeline"}
    (schedule,) = deployment.schedules
    assert (schedule.schedule.cron, schedule.schedule.timezone) == ("0 2 * * *",
                                                                     "Europe/London")
    assert schedule.active
    before = _snapshot(landing)
    with Proc([str(BIN / "prefect"), "worker", "start", "--pool", work_pool, "--name",
               "test-worker"], env, tmp_path / "worker.log") as worker:
        # the server's scheduler has scheduled the coming nights at 02:00 London time
        scheduled = _scheduled_runs(deployment.id)
        local = sorted(r.expected_start_time.astimezone(ZoneInfo("Europe/London"))
                       for r in scheduled)
        assert {(t.hour, t.minute) for t in local} == {(2, 0)}
        assert len({t.date() for t in local}) == len(local)
        # not at 02:00 during this test: the runs below are triggered by hand
        _client_call(lambda c: c.update_deployment_schedule(deployment.id, schedule.id,
                                                            active=False))

        # run 1: both batches, in date order, recorded
        run1 = _run_deployment("qa-nightly/nightly", worker)
        assert run1.state.is_completed(), (run1.state, worker.tail())
        assert _runs(db) == [(str(DAY1), "succeeded"), (str(DAY2), "succeeded")]
        assert _published(db) == [str(DAY1), str(DAY2)]
        messages = [(log.name, log.message) for log in _logs(run1.id)]
        text = "\n".join(m for _, m in messages)
        assert f"batch {DAY1}: 20 of 20 rows loaded" in text
        assert text.index(f"batch {DAY1}:") < text.index(f"batch {DAY2}:")
        assert ("qa_pipeline.ingest.staging", f"{DAY2}: referrals read 2, loaded 2, quarantined 0"
                ) in messages

        # run 2: the next night's batch arrives; only it is processed
        write_batch(landing, base(), as_of=DAY3)
        before.update({k: v for k, v in _snapshot(landing).items() if k.startswith(str(DAY3))})
        run2 = _run_deployment("qa-nightly/nightly", worker)
        assert run2.state.is_completed(), worker.tail()
        assert _runs(db)[2:] == [(str(DAY3), "succeeded")]

        # run 3: nothing new, nothing processed
        run3 = _run_deployment("qa-nightly/nightly", worker)
        assert run3.state.is_completed(), worker.tail()
        assert len(_runs(db)) == 3 and _published(db) == [str(DAY1), str(DAY2), str(DAY3)]
        assert _snapshot(landing) == before  # delivered files neither changed nor touched

        # a failed run: Failed, the CLI's exit 1, and the automation posts an alert
        hook = _Webhook()
        try:
            CustomWebhookNotificationBlock(
                name="qa-alerts", url=hook.url, allow_private_urls=True,
                json_data={"subject": "{{subject}}", "text": "{{body}}"},
            ).save("qa-alerts", overwrite=True)
            assert qa_pipeline(["alerts", "--block", "custom-webhook/qa-alerts",
                                "--project-dir", str(ROOT)]) == 0
            lock = os.open(f"{db}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:  # another run holds the database
                fcntl.flock(lock, fcntl.LOCK_EX)
                run4 = _run_deployment("qa-nightly/nightly", worker)
                cli = _run(["qa-pipeline", "run", str(landing)], env, check=False)
            finally:
                os.close(lock)
            assert run4.state.is_failed() and exit_status(run4.state) == 1
            assert "another qa-pipeline run still holds" in str(run4.state.message)
            assert cli.returncode == 1 and "another qa-pipeline run" in cli.stderr
            posts = hook.wait()
        finally:
            hook.close()
        assert len(_runs(db)) == 3  # the failed run never got as far as a batch
    assert worker.popen.returncode is not None
    assert posts, "the failed-run automation sent nothing"
    assert posts[0]["subject"] == f"qa-nightly: run {run4.name} Failed"
    assert "another qa-pipeline run still holds" in posts[0]["text"]
    assert str(landing.resolve()) in posts[0]["text"]


def test_serve_runs_the_flow_without_a_work_pool_and_keeps_the_password_secret(
        prefect_server: Server, tmp_path: Path) -> None:
    from prefect.blocks.system import Secret

    Secret(value=SECRET).save("qa-db-password", overwrite=True)
    landing = tmp_path / "landing"
    write_batch(landing, base(), as_of=DAY1)
    write_batch(landing, base(), as_of=DAY2)
    db = tmp_path / "qa.db"
    config = _settings_file(tmp_path, landing, db, db_password_secret="qa-db-password")
    env = {**prefect_server.env, "QA_PIPELINE_CONFIG": str(config)}

    with Proc([str(BIN / "qa-pipeline"), "serve", "--name", "served"], env,
              tmp_path / "serve.log", cwd=tmp_path) as serve:
        deployment = _wait_for_deployment("qa-nightly/served", serve)
        assert deployment.parameters == {"path": str(landing.resolve())}
        (schedule,) = deployment.schedules
        assert (schedule.schedule.cron, schedule.schedule.timezone) == ("0 2 * * *",
                                                                         "Europe/London")
        flow_run = _run_deployment("qa-nightly/served", serve)
        assert flow_run.state.is_completed(), serve.tail()
        assert _runs(db) == [(str(DAY1), "succeeded"), (str(DAY2), "succeeded")]
        messages = [log.message for log in _logs(flow_run.id)]
        assert ("database password: from Prefect Secret block 'qa-db-password' "
                "(into PGPASSWORD)") in messages
        assert not [m for m in messages if SECRET in m]
        assert flow_run.parameters == {"path": str(landing.resolve())}
        assert serve.stop() is not None  # SIGTERM: serve stops
    assert SECRET not in serve.log.read_text(errors="replace")
    assert SECRET not in config.read_text()


def test_multi_authority_example_deploys_one_deployment_per_authority(
        prefect_server: Server, work_pool: str) -> None:
    _run(["prefect", "--no-prompt", "deploy", "--prefect-file",
          "deploy/prefect-authorities.yaml", "--all"], prefect_server.env)
    for name in ("authority-a", "authority-b"):
        d = _client_call(lambda c, n=name: c.read_deployment_by_name(f"qa-nightly/{n}"))
        assert d.work_pool_name == work_pool
        assert d.parameters == {"path": f"/data/paris/{name}/landing"}
        assert d.job_variables["env"]["QA_PIPELINE_CONFIG"] == f"/etc/qa_pipeline/{name}.yaml"
        assert [(s.schedule.cron, s.schedule.timezone) for s in d.schedules] == [
            ("0 2 * * *", "Europe/London")]
        for s in d.schedules:  # nothing of this example may run
            _client_call(lambda c, d=d, s=s: c.update_deployment_schedule(d.id, s.id,
                                                                          active=False))


def test_python_flows_nightly_runs_once_with_the_cli_exit_status(
        prefect_server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import flows.nightly as nightly_mod

    landing = tmp_path / "landing"
    write_batch(landing, base(), as_of=DAY1)
    db_url = f"sqlite:///{tmp_path / 'qa.db'}"
    monkeypatch.setenv("QA_PIPELINE_CONFIG", str(tmp_path / "none.yaml"))
    monkeypatch.setenv("QA_PIPELINE_HOLD_DIR", str(tmp_path / "holds"))
    assert nightly_mod.main([str(landing), "--db", db_url, "--work-dir",
                             str(tmp_path / "work")]) == 0
    assert _runs(tmp_path / "qa.db") == [(str(DAY1), "succeeded")]
    # not a landing folder: usage error, as `qa-pipeline run`
    (tmp_path / "empty").mkdir()
    assert nightly_mod.main([str(tmp_path / "empty"), "--db", db_url]) == 2


def test_python_flows_nightly_serve_uses_the_settings(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import flows.nightly as nightly_mod
    from qa_pipeline.orchestrate import scheduling

    served: dict[str, Any] = {}

    def fake_serve(flow: Any, settings: Any, name: str = "nightly", **kw: Any) -> int:
        served.update(flow=flow, settings=settings, name=name)
        return 0

    monkeypatch.setattr(scheduling, "serve_nightly", fake_serve)
    monkeypatch.setenv("QA_PIPELINE_CONFIG", str(tmp_path / "none.yaml"))
    monkeypatch.setenv("QA_PIPELINE_LANDING", str(tmp_path / "from-env"))
    assert nightly_mod.main(["--serve"]) == 0
    assert served["flow"] is nightly_mod.nightly and served["name"] == "nightly"
    assert served["settings"].landing == tmp_path / "from-env"
    assert nightly_mod.main(["--serve", str(tmp_path / "given"), "--name", "x"]) == 0
    assert served["settings"].landing == tmp_path / "given" and served["name"] == "x"


@pytest.mark.postgres
def test_two_authorities_one_database_one_schema_each(pg_url: str, tmp_path: Path) -> None:
    """The scale-out of docs/operations.md §15: each authority's db_url selects its own schema
    (search_path); the run lock is per database, so their runs take turns."""
    from qa_pipeline.ops.job import run_path
    from qa_pipeline.ops.locking import LockTimeout, run_lock
    from qa_pipeline.ops.settings import Settings

    admin = sa.create_engine(pg_url)
    with admin.begin() as conn:
        for schema in ("authority_a", "authority_b"):
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))

    def url(schema: str) -> str:
        return f"{pg_url}{'&' if '?' in pg_url else '?'}options=-csearch_path%3D{schema}"

    for schema, as_of in (("authority_a", DAY1), ("authority_b", DAY2)):
        landing = tmp_path / schema
        write_batch(landing, base(), as_of=as_of)
        result = run_path(landing, url(schema), tmp_path / "work",
                          Settings(hold_dir=tmp_path / f"holds_{schema}", aftercare=False))
        assert result.exit_code == 0
    with admin.connect() as conn:
        assert [str(r[0]) for r in conn.execute(sa.text(
            "SELECT as_of FROM authority_a.batch"))] == [str(DAY1)]
        assert [str(r[0]) for r in conn.execute(sa.text(
            "SELECT as_of FROM authority_b.batch"))] == [str(DAY2)]
        assert conn.execute(sa.text(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public'"
        )).scalar_one() == 0

    # authority A's run holds the lock: authority B's run waits, then gives up
    engine_a = make_engine(url("authority_a"))
    try:
        with run_lock(engine_a, 1), pytest.raises(LockTimeout):
            run_path(tmp_path / "authority_b", url("authority_b"), tmp_path / "work",
                     Settings(hold_dir=tmp_path / "holds_b", lock_timeout_seconds=0.5,
                              aftercare=False))
    finally:
        engine_a.dispose()
        admin.dispose()
