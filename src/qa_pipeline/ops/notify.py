"""The message after a nightly run: each batch's status, new root causes (how many, the top
rules), a held batch, failed data checks and new special causes, sent through apprise to
e-mail (SMTP) and to Teams, Slack or any webhook named in the settings (`notify_urls`).

Three rules hold here:

* **Counts, rule ids and dates only**: no record id, child, value or message text of a
  delivery is ever put in the message (the checks are named by their sentence, which comes
  from the contracts; everything is `redact`ed as well).
* **No password in any output**: the SMTP password lives in the environment variable named by
  `notify_password_env` and is put in place of `{password}` only in the URL handed to
  apprise; every URL is masked (`mask_notify_url`) where it is logged or printed, and the
  password is scrubbed from apprise's and urllib3's log records while a message is sent.
* **A message never fails the run**: each destination is sent to with a timeout, in a thread
  of its own; anything that goes wrong is one warning (logged, printed by `qa-pipeline run`,
  in the flow's result) and the exit status stays what the batches made it.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import quote, quote_plus, urlsplit

from sqlalchemy.engine import Engine

from qa_pipeline.load.publish import RunOutcome
from qa_pipeline.officers.issues import RootCauseCounts
from qa_pipeline.ops.exits import ExitStatus
from qa_pipeline.ops.settings import PASSWORD_PLACEHOLDER, Settings
from qa_pipeline.privacy.redaction import redact

log = logging.getLogger(__name__)

TOP_RULES = 5
"""How many rules the message names for new root causes and failed checks."""
SCRUBBED_LOGGERS = ("apprise", "urllib3", "requests")
"""Loggers whose records are scrubbed of the password, and their URLs masked, while a
message is sent."""
URL_IN_TEXT = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s'\"<>]+", re.IGNORECASE)


class BatchResult(Protocol):
    """What the message reads of a batch's result (`qa_pipeline.ops.job.BatchResult`; the job
    imports this module, not the other way round)."""

    @property
    def as_of(self) -> str: ...
    @property
    def skipped(self) -> bool: ...
    @property
    def held(self) -> bool: ...
    @property
    def outcome(self) -> RunOutcome | None: ...
    @property
    def failed_checks(self) -> list[str]: ...
    @property
    def root_causes(self) -> RootCauseCounts | None: ...
    @property
    def new_special_causes(self) -> list[str]: ...
    @property
    def exit_code(self) -> int: ...
    @property
    def published(self) -> bool: ...
    def checks_line(self) -> str | None: ...


class LandingResult(Protocol):
    """What the message reads of the night (`qa_pipeline.ops.job.LandingResult`), and where
    its outcome is noted."""

    notified: list[str]
    notify_warnings: list[str]

    @property
    def batches(self) -> Sequence[BatchResult]: ...
    @property
    def refused(self) -> list[str]: ...
    @property
    def exit_code(self) -> int: ...


@dataclass(frozen=True)
class BatchNotice:
    """What the message says of one batch."""

    as_of: str
    status: str
    exit_code: int
    held: bool = False
    checks: str | None = None
    """`checks: passed · root causes: ...` (BatchResult.checks_line), for a published batch."""
    failed_checks: tuple[str, ...] = ()
    """The failed data checks by their sentence (never what was found)."""
    root_causes: RootCauseCounts | None = None
    new_special_causes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class NightSummary:
    """What the message says of the night (built from `LandingResult`, plain data)."""

    exit_code: int
    batches: tuple[BatchNotice, ...] = ()
    skipped: int = 0
    not_processed: int = 0

    @property
    def new_special_causes(self) -> list[str]:
        return [s for b in self.batches for s in b.new_special_causes]

    @property
    def problems(self) -> bool:
        """Whether `notify_on: problems` sends: a batch not succeeded, held or with failed
        checks, a folder not processed, new root causes or new special causes."""
        return (self.exit_code != ExitStatus.OK or self.not_processed > 0
                or any(b.held or b.status != "succeeded" or b.failed_checks
                       or (b.root_causes is not None and b.root_causes.new)
                       or b.new_special_causes for b in self.batches))


def check_name(label: str) -> str:
    """A failed check's sentence without what was found (a count, but possibly a value)."""
    name = label.split(" — ", 1)[0]
    if name.startswith("the expectations checkpoint did not run"):
        return "the expectations checkpoint did not run"
    return name


def summarise(result: LandingResult) -> NightSummary:
    """The night's summary (each batch's new special causes were read when it was
    published: by the end of a night of several batches the SPC tables hold the last one's)."""
    notices = []
    for b in result.batches:
        if b.skipped:
            continue
        notices.append(_notice(b))
    return NightSummary(exit_code=result.exit_code, batches=tuple(notices),
                        skipped=sum(b.skipped for b in result.batches),
                        not_processed=len(result.refused))


def _notice(b: BatchResult) -> BatchNotice:
    special = list(b.new_special_causes) if b.published else []
    return BatchNotice(
        as_of=b.as_of, status="held" if b.held else (b.outcome.status if b.outcome
                                                      else "failed"),
        exit_code=b.exit_code, held=b.held, checks=b.checks_line(),
        failed_checks=tuple(dict.fromkeys(check_name(f) for f in b.failed_checks)),
        root_causes=b.root_causes, new_special_causes=special)


def _status_text(b: BatchNotice) -> str:
    if b.held:
        return (f"held, not published (exit {b.exit_code}): check it, then `qa-pipeline "
                f"release {b.as_of} --by NAME`")
    if b.status == "failed":
        return f"failed, nothing published (exit {b.exit_code}): see `qa-pipeline status`"
    return f"{b.status} (exit {b.exit_code})"


def _listed(items: Sequence[str], limit: int = TOP_RULES) -> str:
    more = len(items) - limit
    return "; ".join(items[:limit]) + (f"; and {more} more" if more > 0 else "")


def message(summary: NightSummary) -> tuple[str, str]:
    """(title, body) of the message: counts, rule ids, dates and check names only."""
    verdict = {ExitStatus.OK: "all succeeded", ExitStatus.FAILED: "a batch failed"}.get(
        ExitStatus(summary.exit_code), "a person must look")
    dates = [b.as_of for b in summary.batches]
    if not dates and summary.exit_code == ExitStatus.OK:
        verdict = "no new batch"
    span = (f" {dates[0]}" if len(dates) == 1 else f" {dates[0]} to {dates[-1]}"
            ) if dates else ""
    title = f"qa-pipeline{span}: {verdict} (exit {summary.exit_code})"
    lines = [f"Nightly data-quality run: {verdict} (exit {summary.exit_code})", ""]
    for b in summary.batches:
        lines.append(f"batch {b.as_of}: {_status_text(b)}")
        if b.checks:
            lines.append(f"  {b.checks}")
        c = b.root_causes
        if c is not None and c.new_by_rule:
            rules = [f"{rule} {n}" for rule, n in c.new_by_rule]
            lines.append(f"  new root causes by rule: {_listed(rules)}")
        if b.failed_checks:
            lines.append(f"  failed checks ({len(b.failed_checks)}): "
                         f"{_listed(list(b.failed_checks))}")
        if b.new_special_causes:
            lines.append(f"  new special causes ({len(b.new_special_causes)}): "
                         f"{_listed(b.new_special_causes)}")
    if not summary.batches:
        lines.append("no batch was run")
    if summary.skipped:
        lines.append(f"{summary.skipped} batch(es) already published with the same files; "
                     "skipped")
    if summary.not_processed:
        lines.append(f"{summary.not_processed} folder(s) of the landing not processed: see "
                     "the run's output")
    lines += ["", "The report, the worklists and `qa-pipeline status` have the details; this "
              "message carries counts and rule ids only."]
    return redact(title), redact("\n".join(lines))


def should_send(summary: NightSummary, notify_on: str) -> bool:
    if notify_on == "never":
        return False
    return notify_on == "always" or summary.problems


# --- sending ------------------------------------------------------------------------------------


HOST_SCHEMES = frozenset({"mailto", "mailtos", "json", "jsons", "xml", "xmls", "form",
                          "forms", "workflow", "workflows"})
"""apprise schemes whose URL names a real host; in the others (`slack://`, `msteams://`,
...) what stands there is a token, so nothing after the scheme is shown."""


def mask_notify_url(url: str) -> str:
    """`mailto://bot:***@smtp.example.org:587/***?…`: scheme, user and host only; a password,
    a path (a webhook's tokens) and the query are hidden, for logs and printed output."""
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme.lower() not in HOST_SCHEMES:
        return f"{scheme}://***" if scheme else "***"
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return f"{scheme}://***"
    user = parts.username or ""
    auth = f"{user}:***@" if parts.password is not None else (f"{user}@" if user else "")
    path = "/***" if parts.path not in ("", "/") else ""
    query = "?…" if parts.query else ""
    return f"{parts.scheme}://{auth}{host}{port}{path}{query}"


class NotifyError(RuntimeError):
    """A destination that could not be sent to (the message is masked)."""


def resolve_url(url: str, settings: Settings, environ: Mapping[str, str]) -> tuple[str, str]:
    """(the URL apprise is given, the password put in it or ""): `{password}` replaced by
    the value of `notify_password_env`, and the connect / read timeouts added."""
    password = ""
    if PASSWORD_PLACEHOLDER in url:
        name = settings.notify_password_env
        if not name:
            raise NotifyError("the URL has {password} but notify_password_env is not set")
        if not environ.get(name):
            raise NotifyError(f"the environment variable {name} (notify_password_env) is "
                              "not set")
        password = environ[name]
        url = url.replace(PASSWORD_PLACEHOLDER, quote(password, safe=""))
    query = urlsplit(url).query
    timeout = f"{settings.notify_timeout_seconds:g}"
    extra = [f"{k}={timeout}" for k in ("cto", "rto") if f"{k}=" not in query]
    if extra:
        url += ("&" if "?" in url else "?") + "&".join(extra)
    return url, password


class _Scrub(logging.Filter):
    """Replaces each secret in a log record by ***."""

    def __init__(self, secrets: Sequence[str]) -> None:
        super().__init__()
        self.keep = False
        self.secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def clean(self, text: str) -> str:
        for s in self.secrets:
            text = text.replace(s, "***")
        # apprise's own "privacy" form still shows a password's first and last character
        return URL_IN_TEXT.sub(lambda m: mask_notify_url(m.group()), text)

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        clean = self.clean(text)
        if clean != text:
            record.msg, record.args = clean, None
        if record.exc_info:  # a traceback could quote the URL: keep only the exception's type
            record.exc_info, record.exc_text = None, None
        return True


@contextmanager
def _scrubbed(secrets: Sequence[str]) -> Iterator[_Scrub]:
    """The password (as given and URL-quoted) scrubbed from those loggers' records in the
    block; a send still running after it (timed out) keeps the filter."""
    scrub = _Scrub([v for s in secrets if s for v in (s, quote(s, safe=""), quote_plus(s))])
    loggers = _scrubbed_loggers()
    for lg in loggers:
        lg.addFilter(scrub)
    try:
        yield scrub
    finally:
        if not scrub.keep:
            for lg in loggers:
                lg.removeFilter(scrub)


def _scrubbed_loggers() -> list[logging.Logger]:
    """SCRUBBED_LOGGERS and their children (`urllib3.connectionpool` logs request paths,
    which hold a webhook's token): a logger's filter sees only its own records, not those
    its children pass up."""
    names = set(SCRUBBED_LOGGERS) | {
        n for n in logging.root.manager.loggerDict
        if any(n.startswith(f"{s}.") for s in SCRUBBED_LOGGERS)}
    for child in ("urllib3.connectionpool", "urllib3.util.retry", "urllib3.poolmanager"):
        names.add(child)
    return [logging.getLogger(n) for n in sorted(names)]


def send_one(url: str, title: str, body: str, settings: Settings,
             environ: Mapping[str, str] | None = None) -> None:
    """Send the message to one destination; NotifyError (masked) when it was not sent."""
    import apprise

    resolved, password = resolve_url(url, settings, os.environ if environ is None else environ)
    outcome: list[bool] = []
    errors: list[str] = []

    def work() -> None:
        try:
            ap = apprise.Apprise()
            if not ap.add(resolved):
                errors.append("not a URL apprise can send to")
                return
            outcome.append(bool(ap.notify(body=body, title=title)))
        except Exception as exc:  # a bug of a plugin: its text may quote the URL
            errors.append(type(exc).__name__)

    with _scrubbed([password]) as scrub:
        worker = threading.Thread(target=work, name="qa-notify", daemon=True)
        worker.start()
        # apprise's own timeouts bound each connection; this bounds the whole exchange
        worker.join(settings.notify_timeout_seconds * 3 + 5)
        scrub.keep = worker.is_alive()
    if worker.is_alive():
        raise NotifyError(f"no answer within {settings.notify_timeout_seconds * 3 + 5:g} s")
    if errors:
        raise NotifyError(errors[0])
    if not outcome or not outcome[0]:
        raise NotifyError("the destination did not accept it (unreachable, refused, or a "
                          "wrong address or login; `-v` logs apprise's reason)")


@dataclass
class NotifyOutcome:
    sent: list[str] = field(default_factory=list)
    """The destinations the message went to (masked)."""
    warnings: list[str] = field(default_factory=list)
    """One line per destination it did not go to (masked), or why nothing was sent."""


def notify(summary: NightSummary, settings: Settings,
           environ: Mapping[str, str] | None = None) -> NotifyOutcome:
    """Send the night's message to every `notify_urls` when `notify_on` says so."""
    out = NotifyOutcome()
    if not settings.notify_urls or not should_send(summary, settings.notify_on):
        return out
    title, body = message(summary)
    for url in settings.notify_urls:
        masked = mask_notify_url(url)
        try:
            send_one(url, title, body, settings, environ)
        except Exception as exc:
            reason = str(exc) if isinstance(exc, NotifyError) else type(exc).__name__
            out.warnings.append(f"notification not sent to {masked}: {reason}")
            log.warning("%s", out.warnings[-1])
        else:
            out.sent.append(masked)
            log.info("notification sent to %s", masked)
    return out


def notify_after_run(engine: Engine | None, result: LandingResult, settings: Settings
                     ) -> None:
    """The message of a finished night (`run_job`), its outcome noted on `result`; never
    raises, whatever fails (the night's exit status is the batches')."""
    if not settings.notify_urls or settings.notify_on == "never":
        return
    try:
        outcome = notify(summarise(result), settings)
    except Exception as exc:  # a bug here: the run is done, say so and go on
        outcome = NotifyOutcome(warnings=[f"notification not sent: {type(exc).__name__}"])
        log.warning("%s", outcome.warnings[0])
    result.notified = outcome.sent
    result.notify_warnings = outcome.warnings
