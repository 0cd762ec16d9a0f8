"""Named fault points of a run, for the crash-safety and concurrency tests."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

FAILPOINT_ENV = "QA_PIPELINE_FAILPOINT"
PAUSEPOINT_ENV = "QA_PIPELINE_PAUSEPOINT"
WAITPOINT_ENV = "QA_PIPELINE_WAITPOINT"
WAITPOINT_DIR_ENV = "QA_PIPELINE_WAITPOINT_DIR"
TRACE_ENV = "QA_PIPELINE_FAILPOINT_TRACE"
WAITPOINT_TIMEOUT_SECONDS = 600.0
"""A waitpoint never released within this long fails the run (a test that died)."""

_reached: dict[str, int] = {}
"""How many times this process has reached each point (for `<name>#<n>`)."""


def failpoint(name: str, note: str = "") -> None:
    """Fault-test hook at a named point of a run; a no-op unless the environment asks.

    QA_PIPELINE_FAILPOINT=<name> SIGKILLs the process there (a real kill, so no clean-up code
    runs: the crash-safety tests); QA_PIPELINE_FAILPOINT=<name>#<n> only the n-th time the
    process reaches it (a rebuild killed in the publish of its third batch: `publish:begin#3`;
    the waitpoint likewise);
    QA_PIPELINE_PAUSEPOINT=<name>:<seconds> sleeps there.
    QA_PIPELINE_WAITPOINT=<name> with QA_PIPELINE_WAITPOINT_DIR=<dir> holds the run there on
    an event, not a time: it writes <dir>/reached (its pid and the point's name) and waits
    until <dir>/release exists (the concurrency tests hold a run in the middle of its
    transaction). QA_PIPELINE_FAILPOINT_TRACE=<file> appends a line for every point reached
    to <file>, before any kill: its name, and after a tab the `note` if any (what the point
    is about; the tests list the points there are, and check where a run died).
    """
    trace = os.environ.get(TRACE_ENV)
    if trace:
        with open(trace, "a", encoding="utf-8") as f:
            f.write(f"{name}\t{note}\n" if note else f"{name}\n")
    _reached[name] = _reached.get(name, 0) + 1
    here = (name, f"{name}#{_reached[name]}")
    if os.environ.get(FAILPOINT_ENV) in here:
        os.kill(os.getpid(), signal.SIGKILL)
    if os.environ.get(WAITPOINT_ENV) in here:
        _wait_for_release(name, Path(os.environ.get(WAITPOINT_DIR_ENV) or "."))
    pause = os.environ.get(PAUSEPOINT_ENV, "")
    if pause.rpartition(":")[0] == name:
        time.sleep(float(pause.rpartition(":")[2]))


def _wait_for_release(name: str, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    partial = directory / f".reached.{os.getpid()}"
    partial.write_text(f"{os.getpid()} {name}\n", encoding="utf-8")
    partial.replace(directory / "reached")  # atomic: a reader never sees half of it
    deadline = time.monotonic() + WAITPOINT_TIMEOUT_SECONDS
    while not (directory / "release").exists():
        if time.monotonic() >= deadline:
            raise TimeoutError(f"waitpoint {name}: {directory / 'release'} not created "
                               f"within {WAITPOINT_TIMEOUT_SECONDS:.0f} s")
        time.sleep(0.02)
