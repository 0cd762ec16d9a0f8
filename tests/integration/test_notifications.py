"""The message after a nightly run, end to end through `qa-pipeline run`: an SMTP server with
AUTH (aiosmtpd) and an HTTP endpoint started here on 127.0.0.1 receive it; the SMTP password
(from the environment) is in no log record and no output; an unreachable destination leaves
the exit status alone; `notify_on: problems` is silent on a clean run. Every wait is on a
queue the servers fill, never a sleep.

The run's `checks: ... · root causes: N new, N persisting, N resolved` line is checked here
against the database too (two generated nights with defects: some new, persisting, resolved).
"""

from __future__ import annotations

import email
import json
import logging
import queue
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from qa_pipeline.cli.main import main
from qa_pipeline.load.db import make_engine
from qa_pipeline.officers.spc_report import new_special_cause_texts
from qa_pipeline.spec.rule_kinds import DEPENDENT_RULE_SUFFIX

PASSWORD = "Zq-8r!pw/+s3cret%42"
"""Characters that must be URL-quoted: the password is checked as given and as quoted."""
PASSWORD_ENV = "QA_TEST_SMTP_PASSWORD"
WAIT = 60.0
"""The longest a test waits on a queue (a send normally arrives within a second)."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Smtp:
    port: int
    messages: queue.Queue[Message] = field(default_factory=queue.Queue)
    logins: list[tuple[str, bool]] = field(default_factory=list)


@pytest.fixture
def smtp() -> Iterator[Smtp]:
    """An SMTP server that requires AUTH (plain text allowed: no TLS on 127.0.0.1)."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    server = Smtp(_free_port())

    class Handler:
        async def handle_DATA(self, srv: Any, session: Any, envelope: Any) -> str:
            server.messages.put(email.message_from_bytes(envelope.original_content))
            return "250 OK"

    def authenticator(srv: Any, session: Any, envelope: Any, mechanism: str,
                      auth_data: Any) -> AuthResult:
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login == b"qa-bot"
              and auth_data.password == PASSWORD.encode())
        server.logins.append((mechanism, ok))
        return AuthResult(success=ok)

    controller = Controller(Handler(), hostname="127.0.0.1", port=server.port,
                            authenticator=authenticator, auth_require_tls=False,
                            auth_required=True)
    controller.start()
    try:
        yield server
    finally:
        controller.stop()


@dataclass
class Http:
    port: int
    bodies: queue.Queue[tuple[str, bytes]] = field(default_factory=queue.Queue)


@pytest.fixture
def http() -> Iterator[Http]:
    """An HTTP endpoint that takes any POST (apprise's `json://`)."""
    endpoint = Http(0)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            endpoint.bodies.put((self.path, body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    endpoint.port = int(httpd.server_address[1])
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield endpoint
    finally:
        httpd.shutdown()
        httpd.server_close()


def _urls(smtp_port: int, http_port: int) -> str:
    return (f"mailto://qa-bot:{{password}}@127.0.0.1:{smtp_port}?to=dq-team@example.org"
            f"&from=qa-bot@example.org json://127.0.0.1:{http_port}/hook")


def _notify_env(monkeypatch: pytest.MonkeyPatch, urls: str, notify_on: str) -> None:
    monkeypatch.setenv("QA_PIPELINE_NOTIFY_URLS", urls)
    monkeypatch.setenv("QA_PIPELINE_NOTIFY_ON", notify_on)
    monkeypatch.setenv("QA_PIPELINE_NOTIFY_PASSWORD_ENV", PASSWORD_ENV)
    monkeypatch.setenv("QA_PIPELINE_NOTIFY_TIMEOUT_SECONDS", "5")
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)


def _no_password(*texts: str) -> None:
    from urllib.parse import quote, quote_plus

    # as given, URL-quoted, and apprise's "privacy" form (first and last character)
    forms = (PASSWORD, quote(PASSWORD, safe=""), quote_plus(PASSWORD),
             f"{PASSWORD[0]}...{PASSWORD[-1]}")
    for text in texts:
        for form in forms:
            assert form not in text


def _db_counts(db: str) -> tuple[int, int, int]:
    """New, persisting and resolved records to fix of the latest batch, straight from the
    published views: issues not under an exception and not a dependent row's warning."""
    dependent = f"%{DEPENDENT_RULE_SUFFIX}"
    with make_engine(db).connect() as conn:
        by_status = dict(conn.execute(sa.text(
            "SELECT status, COUNT(*) FROM dq_issue_latest WHERE exception_id IS NULL AND "
            "root_rule_id IS NULL AND rule_id NOT LIKE :d GROUP BY status"), {"d": dependent}
        ).all())
        resolved = conn.execute(sa.text(
            "SELECT COUNT(*) FROM dq_issue_resolved WHERE rule_id NOT LIKE :d"),
            {"d": dependent}).scalar_one()
    return int(by_status.get("new", 0)), int(by_status.get("persisting", 0)), int(resolved)


@pytest.mark.aftercare
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_two_nights_line_counts_and_message(
        tmp_path: Path, smtp: Smtp, http: Http, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
    """Two nights with defects: each batch's checks line matches the database, the e-mail
    (after SMTP AUTH with the environment's password) and the webhook body carry the summary,
    and the password is nowhere in the logs (DEBUG, every logger) or the output."""
    from qa_pipeline.sample.nights import generate_nights

    caplog.set_level(logging.DEBUG)
    for name in ("apprise", "urllib3", "mail.log"):
        caplog.set_level(logging.DEBUG, logger=name)
    _notify_env(monkeypatch, _urls(smtp.port, http.port), "problems")
    landing = tmp_path / "landing"
    generate_nights(landing, nights=2, children=120, seed=3, as_of=date(2026, 11, 24),
                    defects=True)
    db = f"sqlite:///{tmp_path / 'qa.db'}"

    code = main(["run", str(landing), "--db", db])
    out, err = capsys.readouterr()
    assert code == 0, out

    lines = [ln.strip() for ln in out.splitlines() if ln.strip().startswith("checks: ")]
    assert len(lines) == 2, out
    assert lines[0].startswith("checks: passed · root causes: ") and lines[0].endswith(
        " 0 persisting, 0 resolved"), lines[0]
    new, persisting, resolved = _db_counts(db)
    assert new and persisting and resolved  # the generator fixed some and planted more
    assert lines[1] == (f"checks: passed · root causes: {new} new, {persisting} persisting, "
                        f"{resolved} resolved")

    # the new special causes of the second night, as indicator_spc_summary holds them
    engine = make_engine(db)
    with engine.connect() as conn:
        special = new_special_cause_texts(conn, date(2026, 11, 25))
        stored = conn.execute(sa.text(
            "SELECT COUNT(*) FROM indicator_spc_summary WHERE new_special_cause "
            "AND as_of = :d"), {"d": date(2026, 11, 25)}).scalar_one()
    engine.dispose()
    assert len(special) == stored > 0, special

    mail = smtp.messages.get(timeout=WAIT)
    assert smtp.logins and all(ok for _, ok in smtp.logins)
    assert mail["To"] == "dq-team@example.org"
    assert "2026-11-24 to 2026-11-25" in str(mail["Subject"])
    text = _text_of(mail)
    path, raw = http.bodies.get(timeout=WAIT)
    assert path.startswith("/hook")
    posted = json.loads(raw)
    for body in (text, posted["message"]):
        assert "batch 2026-11-25: succeeded (exit 0)" in body
        assert lines[1] in body
        assert "new root causes by rule: " in body
        assert f"new special causes ({len(special)}): {special[0]}" in body
        # the first batch of the night: its special causes were read when it was published
        # (the SPC tables now hold the second one's), and all are new (nothing before it)
        first = body[body.index("batch 2026-11-24"):body.index("batch 2026-11-25")]
        assert "new special causes (" in first, first
    assert "notification sent to mailto://qa-bot:***@127.0.0.1:" in out
    assert f"json://127.0.0.1:{http.port}/***" in out
    assert smtp.messages.empty() and http.bodies.empty()  # one message per night

    assert any(r.name.startswith("apprise") for r in caplog.records)  # the capture works
    _no_password(out, err, caplog.text, *(r.getMessage() for r in caplog.records))


def _text_of(mail: Message) -> str:
    parts = mail.walk() if mail.is_multipart() else [mail]
    for part in parts:
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode(part.get_content_charset() or "utf-8")
    raise AssertionError("no text part in the e-mail")


def test_unreachable_destinations_leave_the_exit_status(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        caplog: pytest.LogCaptureFixture) -> None:
    """Nothing listens: the run exits as it would without notifications, with one warning
    line per destination (masked), and no password anywhere."""
    from qa_pipeline.sample.generate import generate_batch

    caplog.set_level(logging.DEBUG)
    batch = generate_batch(tmp_path / "landing", children=60, seed=2, as_of=date(2026, 11, 25))
    _notify_env(monkeypatch, _urls(_free_port(), _free_port()), "always")
    code = main(["run", str(batch), "--db", f"sqlite:///{tmp_path / 'qa.db'}"])
    out, err = capsys.readouterr()
    assert code == 0, out
    assert "checks: not run" in out  # the after-publish step is off in this test
    warnings = [ln for ln in out.splitlines() if ln.startswith("! notification not sent to ")]
    assert len(warnings) == 2, out
    assert warnings[0].startswith("! notification not sent to mailto://qa-bot:***@127.0.0.1:")
    assert "notification sent to" not in out
    _no_password(out, err, caplog.text, *(r.getMessage() for r in caplog.records))

    monkeypatch.delenv("QA_PIPELINE_NOTIFY_URLS")
    capsys.readouterr()
    assert main(["run", str(batch), "--db", f"sqlite:///{tmp_path / 'qa.db'}"]) == code


@pytest.mark.aftercare
def test_problems_only_is_silent_on_a_clean_run(
        tmp_path: Path, http: Http, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A clean batch (no defects: exit 0, data checks passed, no new root cause) sends
    nothing under `problems`; the same run under `always` sends one message."""
    from qa_pipeline.ops import job
    from qa_pipeline.sample.generate import generate_batch

    batch = generate_batch(tmp_path / "landing", children=60, seed=2, as_of=date(2026, 11, 25))
    db = f"sqlite:///{tmp_path / 'qa.db'}"
    # a first batch has nothing to compare its SPC with, so each special cause is new: a
    # clean night here means no new special cause either
    monkeypatch.setattr(job, "_new_special_causes", lambda engine, as_of: [])
    monkeypatch.setenv("QA_PIPELINE_NOTIFY_URLS", f"json://127.0.0.1:{http.port}/hook")
    monkeypatch.setenv("QA_PIPELINE_NOTIFY_ON", "problems")
    assert main(["run", str(batch), "--db", db]) == 0
    out = capsys.readouterr().out
    assert "checks: passed · root causes: 0 new, 0 persisting, 0 resolved" in out
    assert "notification" not in out
    assert http.bodies.empty()  # the send is synchronous: had it been sent, it would be here

    monkeypatch.setenv("QA_PIPELINE_NOTIFY_ON", "always")
    assert main(["run", str(batch), "--db", db]) == 0
    _, raw = http.bodies.get(timeout=WAIT)
    body = json.loads(raw)
    assert body["title"] == "qa-pipeline 2026-11-25: all succeeded (exit 0)"
    assert "checks: passed · root causes: 0 new, 0 persisting, 0 resolved" in body["message"]
