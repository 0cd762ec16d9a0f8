"""One redaction function for every place that writes a delivered value.

The identifying-data guard (`identifying.py`) rejects a file that carries an NHS number; this
module is the second line: whatever the guard did not stop (a value in a file-level message, a
database error quoting a value, a log line) passes through `redact` before it is stored,
printed or logged, and every NHS-number-shaped run in it is masked.

An *NHS-number-shaped run* is ten digits, optionally grouped by spaces, dashes or dots in any
grouping (`9434765919`, `943 476 5919`, `943-476-5919`, `943 4765 919`, `943.476.5919`),
standing on its own or inside longer text (`W 943 476 5919`, `Team 943 476 5919`), whose
modulus-11 check digit is correct. A longer digit run (eleven digits or more, however
grouped) and a date or time (`2024-01-15 10:30`, `15/01/2024`) are not such a run. Ten-digit
runs whose check digit is wrong are left alone: pseudonymised ids are never valid NHS numbers
(extracts.md), and masking them would hide the record a data officer must find.
"""

from __future__ import annotations

import io
import logging
import re
import sys
from typing import TextIO, overload

MASK = "[NHS number removed]"

_SEP = r"[ .\-]"
NHS_RUN = re.compile(
    r"(?<![\d/:])(?<!\d" + _SEP + r")(?<!\d" + _SEP + r"{2})(?<!\d" + _SEP + r"{3})"
    r"\d(?:" + _SEP + r"{0,3}\d){9}"
    r"(?![\d/:])(?!" + _SEP + r"{1,3}\d)"
)
"""A maximal run of exactly ten digits with at most three separators between two digits."""

NHS_RUN_PREFILTER = r"\d(?:[ .\-]{0,3}\d){9}"
"""The same shape without the look-arounds (polars' regex engine has none): a cheap test that
every value holding an NHS-number-shaped run passes; `nhs_runs` then decides."""


def valid_nhs_digits(digits: str) -> bool:
    """Whether ten digits form a valid NHS number (modulus 11 check digit)."""
    if len(digits) != 10 or not digits.isdigit():
        return False
    total = sum(int(d) * (10 - i) for i, d in enumerate(digits[:9]))
    check = (11 - total % 11) % 11
    return check != 10 and check == int(digits[9])


def nhs_runs(text: str) -> list[tuple[int, int]]:
    """The (start, end) spans of the valid NHS numbers written in `text`."""
    spans = []
    for m in NHS_RUN.finditer(text):
        if valid_nhs_digits(re.sub(r"\D", "", m.group())):
            spans.append(m.span())
    return spans


def holds_nhs_number(text: str | None) -> bool:
    return bool(text) and bool(nhs_runs(str(text)))


@overload
def redact(text: str) -> str: ...
@overload
def redact(text: None) -> None: ...
def redact(text: str | None) -> str | None:
    """`text` with every valid NHS number in it masked; None stays None."""
    if not text:
        return text
    spans = nhs_runs(text)
    if not spans:
        return text
    out, last = [], 0
    for start, end in spans:
        out.append(text[last:start])
        out.append(MASK)
        last = end
    out.append(text[last:])
    return "".join(out)


def redact_cut(text: str | None, limit: int) -> str | None:
    """Redacted, then cut to `limit` characters with the original length noted (a delivered
    text is never stored or printed unbounded)."""
    text = redact(text)
    if text is None or len(text) <= limit:
        return text
    note = f"… [{len(text):,} characters]"
    return text[: max(limit - len(note), 0)] + note


class RedactingFilter(logging.Filter):
    """A logging filter that masks NHS numbers in every record's final message (installed on
    the handlers of the CLI and the Prefect flow)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: let logging report it as it would
            return True
        masked = redact(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and record.exc_info[1] is not None:
            text = str(record.exc_info[1])
            if redact(text) != text:
                # The traceback would quote the value: keep the type, drop the text.
                record.msg = f"{record.msg} ({type(record.exc_info[1]).__name__}: "\
                             f"{redact(text)})"
                record.exc_info = None
                record.exc_text = None
        return True


def install_log_redaction(logger: logging.Logger | None = None) -> None:
    """Add the redacting filter to every handler of `logger`, or, by default, of the root
    logger and of every logger configured so far (Prefect's API and console handlers hang on
    `prefect.*` loggers), that does not have one yet."""
    if logger is not None:
        loggers = [logger]
    else:
        loggers = [logging.getLogger()] + [
            lg for lg in logging.Logger.manager.loggerDict.values()
            if isinstance(lg, logging.Logger) and lg.handlers]
    for lg in loggers:
        for handler in lg.handlers:
            if not any(isinstance(f, RedactingFilter) for f in handler.filters):
                handler.addFilter(RedactingFilter())


class RedactingStream(io.TextIOBase):
    """A text stream that masks NHS numbers in what is written to it (the CLI's stdout and
    stderr: a delivered value in a message can never reach the terminal or a cron mail)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, s: str) -> int:
        self._stream.write(redact(s) or "")
        return len(s)

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return self._stream.isatty()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._stream, "encoding", "utf-8")

    def fileno(self) -> int:
        return self._stream.fileno()


def redact_standard_streams() -> None:
    """Route sys.stdout and sys.stderr through `RedactingStream` (idempotent)."""
    if not isinstance(sys.stdout, RedactingStream):
        sys.stdout = RedactingStream(sys.stdout)
    if not isinstance(sys.stderr, RedactingStream):
        sys.stderr = RedactingStream(sys.stderr)
