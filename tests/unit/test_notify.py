"""The night's message and the run summary's checks line, without servers: what the text
says (counts, rule ids, check sentences, never what a check found), when it is sent, how
URLs are masked and the password filled in, and the settings that configure it."""

from __future__ import annotations

import json
import logging
import pickle
from datetime import date
from pathlib import Path

import pytest

from qa_pipeline.load.publish import RunOutcome
from qa_pipeline.officers.issues import RootCauseCounts
from qa_pipeline.ops.job import BatchResult, LandingResult
from qa_pipeline.ops.notify import (
    BatchNotice,
    NightSummary,
    NotifyError,
    mask_notify_url,
    message,
    resolve_url,
    should_send,
    summarise,
)
from qa_pipeline.ops.settings import Settings, load_settings

COUNTS = RootCauseCounts(date(2026, 11, 25), new=3, persisting=12, resolved=5,
                         new_by_rule=(("referrals.decision.missing", 2),
                                      ("persons.ethnicity.missing_for_child", 1)))


def _result(status: str = "succeeded", code: int = 0, **kw: object) -> BatchResult:
    r = BatchResult("2026-11-25", "/landing/2026-11-25",
                    RunOutcome("run-1", status, code, "done"), None)
    for k, v in kw.items():
        setattr(r, k, v)
    return r


# --- point 5: the checks line ------------------------------------------------------------------


def test_checks_line_passed_failed_not_run() -> None:
    assert _result(checks_run=True, root_causes=COUNTS).checks_line() == (
        "checks: passed · root causes: 3 new, 12 persisting, 5 resolved")
    assert _result("succeeded_with_issues", 3, checks_run=True, root_causes=COUNTS,
                   failed_checks=["a — found 3 rows", "b"]).checks_line() == (
        "checks: 2 failed · root causes: 3 new, 12 persisting, 5 resolved")
    assert _result().checks_line() == "checks: not run"


def test_no_checks_line_for_a_batch_not_published() -> None:
    assert _result(held=True).checks_line() is None
    assert _result("failed", 1).checks_line() is None
    assert BatchResult("2026-11-25", "x", None, None, skipped=True).checks_line() is None


def test_counts_travel_with_the_batch_result() -> None:
    """Prefect keeps a task's result as it is, or pickles it when results are persisted;
    the flow returns `as_dict` (JSON). The counts survive both."""
    r = _result(checks_run=True, root_causes=COUNTS)
    assert pickle.loads(pickle.dumps(r)).root_causes == COUNTS
    d = json.loads(json.dumps(r.as_dict()))
    assert d["root_causes"] == {"as_of": "2026-11-25", "new": 3, "persisting": 12,
                                "resolved": 5, "new_by_rule": {
                                    "referrals.decision.missing": 2,
                                    "persons.ethnicity.missing_for_child": 1}}
    assert d["checks_run"] is True
    night = LandingResult(batches=[r], notified=["json://127.0.0.1:1/***"])
    assert json.loads(json.dumps(night.as_dict()))["notified"] == ["json://127.0.0.1:1/***"]


# --- point 4: the message ---------------------------------------------------------------------


def test_message_names_counts_rules_and_check_sentences_only() -> None:
    night = LandingResult(batches=[
        _result("succeeded_with_issues", 3, checks_run=True, root_causes=COUNTS,
                failed_checks=["stg_referrals: referral_id is unique — found 2 duplicate "
                               "values: R000123, R000124",
                               "the expectations checkpoint did not run: OperationalError: "
                               "no such table x"]),
        BatchResult("2026-11-26", "/landing/2026-11-26", RunOutcome(
            "run-2", "succeeded_with_issues", 3, "held, not published: referrals has 10 "
            "rows, 300 before"), None, held=True),
        BatchResult("2026-11-23", "/landing/2026-11-23", None, None, skipped=True),
    ], refused=["2027-01-01: a future date"])
    summary = summarise(night)
    title, body = message(summary)
    assert title == "qa-pipeline 2026-11-25 to 2026-11-26: a person must look (exit 3)"
    assert "batch 2026-11-25: succeeded_with_issues (exit 3)" in body
    assert "  checks: 2 failed · root causes: 3 new, 12 persisting, 5 resolved" in body
    assert ("  new root causes by rule: referrals.decision.missing 2; "
            "persons.ethnicity.missing_for_child 1") in body
    assert ("  failed checks (2): stg_referrals: referral_id is unique; the expectations "
            "checkpoint did not run") in body
    assert ("batch 2026-11-26: held, not published (exit 3): check it, then `qa-pipeline "
            "release 2026-11-26 --by NAME`") in body
    assert "1 batch(es) already published with the same files; skipped" in body
    assert "1 folder(s) of the landing not processed" in body
    for never in ("R000123", "found", "OperationalError", "no such table", "300 before",
                  "/landing", "2027-01-01", "run-1"):
        assert never not in title + body, never


def test_message_lists_the_top_rules_and_special_causes() -> None:
    many = RootCauseCounts(date(2026, 11, 25), 7, 0, 0,
                           tuple((f"rule.{n}", 1) for n in range(7)))
    body = message(NightSummary(0, (BatchNotice(
        "2026-11-25", "succeeded", 0, root_causes=many,
        new_special_causes=["ASM04 all: concern"]),)))[1]
    assert "rule.0 1; rule.1 1; rule.2 1; rule.3 1; rule.4 1; and 2 more" in body
    assert "new special causes (1): ASM04 all: concern" in body


def test_a_failed_batch_and_a_night_without_batches() -> None:
    body = message(NightSummary(1, (BatchNotice("2026-11-25", "failed", 1),)))[1]
    assert ("batch 2026-11-25: failed, nothing published (exit 1): see `qa-pipeline "
            "status`") in body
    title, body = message(NightSummary(0, (), skipped=2))
    assert title == "qa-pipeline: no new batch (exit 0)"
    assert "no batch was run" in body


def test_when_it_is_sent() -> None:
    clean = NightSummary(0, (BatchNotice("2026-11-25", "succeeded", 0, root_causes=replace(
        COUNTS, new=0, new_by_rule=())),))
    assert not should_send(clean, "problems") and should_send(clean, "always")
    assert not should_send(NightSummary(0), "problems")
    for problem in (
            NightSummary(3, (BatchNotice("2026-11-25", "held", 3, held=True),)),
            NightSummary(0, (BatchNotice("2026-11-25", "succeeded", 0, root_causes=COUNTS),)),
            NightSummary(0, (BatchNotice("2026-11-25", "succeeded", 0,
                                         new_special_causes=["ASM04"]),)),
            NightSummary(3, (BatchNotice("2026-11-25", "succeeded_with_issues", 3,
                                         failed_checks=("a",)),)),
            NightSummary(3, (), not_processed=1)):
        assert should_send(problem, "problems") and not should_send(problem, "never")


def replace(counts: RootCauseCounts, **kw: object) -> RootCauseCounts:
    from dataclasses import replace as dc_replace

    return dc_replace(counts, **kw)  # type: ignore[arg-type]


# --- URLs and the password -------------------------------------------------------------------


@pytest.mark.parametrize(("url", "masked"), [
    ("mailto://qa-bot:s3cret@smtp.example.org:587?to=dq@example.org",
     "mailto://qa-bot:***@smtp.example.org:587?…"),
    ("mailto://qa-bot:{password}@smtp.example.org?to=dq@example.org",
     "mailto://qa-bot:***@smtp.example.org?…"),
    ("msteams://team/TOKENA/TOKENB/TOKENC/", "msteams://***"),
    ("slack://TOKENA/TOKENB/TOKENC/#dq", "slack://***"),
    ("workflows://prod.logic.azure.com:443/ID/SIG/", "workflows://prod.logic.azure.com:443/***"),
    ("not a url", "***"),
    ("json://127.0.0.1:8080/hook", "json://127.0.0.1:8080/***"),
    ("json://host:notaport/x", "json://***"),
])
def test_urls_are_masked(url: str, masked: str) -> None:
    assert mask_notify_url(url) == masked


def test_password_from_the_environment_and_timeouts() -> None:
    s = Settings(notify_password_env="QA_SMTP", notify_timeout_seconds=7)
    url, password = resolve_url("mailto://bot:{password}@h:25?to=a@example.org", s,
                                {"QA_SMTP": "p@ss/w rd"})
    assert password == "p@ss/w rd"
    assert url == "mailto://bot:p%40ss%2Fw%20rd@h:25?to=a@example.org&cto=7&rto=7"
    assert resolve_url("json://h/x?rto=2", s, {})[0] == "json://h/x?rto=2&cto=7"
    with pytest.raises(NotifyError, match="QA_SMTP .* is not set") as exc:
        resolve_url("mailto://bot:{password}@h", s, {})
    with pytest.raises(NotifyError, match="notify_password_env is not set"):
        resolve_url("mailto://bot:{password}@h", Settings(), {"QA_SMTP": "x"})
    assert "p@ss" not in str(exc.value)


def test_notify_settings_from_file_and_environment(tmp_path: Path) -> None:
    cfg = tmp_path / "qa.yaml"
    cfg.write_text("notify_urls:\n  - mailto://bot:{password}@h?to=a@example.org\n"
                   "  - json://127.0.0.1/hook\nnotify_on: always\n"
                   "notify_password_env: QA_SMTP\n", encoding="utf-8")
    s = load_settings(cfg, environ={})
    assert s.notify_urls == ("mailto://bot:{password}@h?to=a@example.org",
                             "json://127.0.0.1/hook")
    assert (s.notify_on, s.notify_password_env) == ("always", "QA_SMTP")
    s = load_settings(cfg, environ={"QA_PIPELINE_NOTIFY_URLS": "json://a/x  slack://T/B/C",
                                    "QA_PIPELINE_NOTIFY_ON": "never"})
    assert s.notify_urls == ("json://a/x", "slack://T/B/C") and s.notify_on == "never"
    assert Settings().notify_urls == () and Settings().notify_on == "problems"


def test_a_password_in_the_file_or_a_bad_notify_on_is_refused(tmp_path: Path) -> None:
    cfg = tmp_path / "qa.yaml"
    cfg.write_text("notify_urls: ['mailto://bot:hunter2@h?to=a@example.org']\n",
                   encoding="utf-8")
    with pytest.raises(ValueError, match="notify_urls must not carry a password") as exc:
        load_settings(cfg, environ={})
    assert "hunter2" not in str(exc.value)
    # apprise also takes a password from the query string
    cfg.write_text("notify_urls: ['mailto://bot@h?to=a@example.org&pass=hunter2']\n",
                   encoding="utf-8")
    with pytest.raises(ValueError, match="notify_urls must not carry a password") as exc:
        load_settings(cfg, environ={})
    assert "hunter2" not in str(exc.value)
    cfg.write_text("notify_urls: ['mailto://bot@h?to=a@example.org&pass={password}']\n",
                   encoding="utf-8")
    assert load_settings(cfg, environ={}).notify_urls
    with pytest.raises(ValueError, match="notify_on must be one of"):
        Settings(notify_on="sometimes")


def test_password_from_a_secret_block_goes_to_the_named_variable_only() -> None:
    from qa_pipeline.orchestrate.scheduling import DeploymentError, load_notify_password

    settings = Settings(notify_password_secret="qa-smtp", notify_password_env="QA_SMTP")
    environ: dict[str, str] = {}
    assert load_notify_password(settings, environ, load_secret=lambda name: f"pw-{name}")
    assert environ == {"QA_SMTP": "pw-qa-smtp"}
    assert not load_notify_password(Settings(), environ, load_secret=lambda name: "x")
    with pytest.raises(DeploymentError, match="notify_password_env is not"):
        load_notify_password(Settings(notify_password_secret="qa-smtp"), {},
                             load_secret=lambda name: "x")
    with pytest.raises(DeploymentError, match="is empty"):
        load_notify_password(settings, {}, load_secret=lambda name: "")


def test_settings_command_masks_the_notify_urls(monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    from qa_pipeline.cli.main import main

    monkeypatch.setenv("QA_PIPELINE_NOTIFY_URLS", "mailto://bot:hunter2@smtp.example.org:587"
                       "?to=a@example.org slack://TOKENA/TOKENB/TOKENC")
    assert main(["settings"]) == 0
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if ln.startswith("notify_urls"))
    assert line.split(None, 1)[1] == "mailto://bot:***@smtp.example.org:587?… slack://***"
    assert "hunter2" not in out and "TOKENB" not in out


def test_the_password_is_scrubbed_from_urllib3s_child_loggers(
        caplog: pytest.LogCaptureFixture) -> None:
    """urllib3 logs each request's path from `urllib3.connectionpool`: the filter must be on
    that logger, not only on `urllib3`, whose filters never see its children's records."""
    from qa_pipeline.ops.notify import _scrubbed as scrubbed

    caplog.set_level(logging.DEBUG)
    with scrubbed(["s3cret-token"]):
        logging.getLogger("urllib3.connectionpool").debug(
            'http://127.0.0.1:8080 "POST /hook/s3cret-token HTTP/1.1" 200')
    assert caplog.records and "s3cret-token" not in caplog.text
