"""`qa-pipeline` subprocesses that tests synchronise with on events, never on sleeps.

* `waitpoint_env(point, directory)`: the environment that holds a run at a fault point
  (`qa_pipeline.ops.faults`): the run writes `directory/reached` there and waits until the test
  creates `directory/release`.
* `wait_for_file(path, proc)`: wait (generous deadline) until a file exists; fails at once if
  the process exits first.
* `CliProc`: a running `python -m qa_pipeline.cli.main ...` whose output is read as it comes, so a
  test can wait for a line of its log (e.g. "waiting up to") before going on.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

from qa_pipeline.ops.faults import WAITPOINT_DIR_ENV, WAITPOINT_ENV

DEADLINE_SECONDS = 180.0


def waitpoint_env(point: str, directory: Path) -> dict[str, str]:
    return {WAITPOINT_ENV: point, WAITPOINT_DIR_ENV: str(directory)}


def release(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "release").touch()


class CliProc:
    def __init__(self, *args: str, cwd: Path | None = None, **env: str) -> None:
        self.args = args
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "qa_pipeline.cli.main", *args], env={**os.environ, **env},
            cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self._lines: dict[str, list[str]] = {"out": [], "err": []}
        self._changed = threading.Condition()
        self._readers = [threading.Thread(target=self._read, args=(stream, key), daemon=True)
                         for stream, key in ((self.popen.stdout, "out"),
                                             (self.popen.stderr, "err"))]
        for t in self._readers:
            t.start()

    def _read(self, stream: IO[str] | None, key: str) -> None:
        assert stream is not None
        for line in stream:
            with self._changed:
                self._lines[key].append(line)
                self._changed.notify_all()
        with self._changed:
            self._lines[key].append("")  # end of the stream
            self._changed.notify_all()

    @property
    def stdout(self) -> str:
        return "".join(self._lines["out"])

    @property
    def stderr(self) -> str:
        return "".join(self._lines["err"])

    def wait_for_line(self, text: str, timeout: float = DEADLINE_SECONDS) -> None:
        """Until a line of the process's stderr contains `text`."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not any(text in line for line in self._lines["err"]):
                if self._lines["err"][-1:] == [""]:
                    raise AssertionError(f"{self.args} ended without logging {text!r}:\n"
                                         f"{self.stdout}{self.stderr}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{self.args} did not log {text!r} within "
                                         f"{timeout:.0f} s:\n{self.stderr}")
                self._changed.wait(left)

    def wait(self, timeout: float = DEADLINE_SECONDS) -> int:
        """The exit status, once the process has ended and its output is read."""
        code = self.popen.wait(timeout)
        for t in self._readers:
            t.join(timeout)
        return code

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
        self.popen.wait(30)


def wait_for_file(path: Path, proc: CliProc | None = None,
                  timeout: float = DEADLINE_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc is not None and proc.popen.poll() is not None:
            proc.wait()
            raise AssertionError(f"{proc.args} exited {proc.popen.returncode} before "
                                 f"{path} appeared:\n{proc.stdout}{proc.stderr}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} did not appear within {timeout:.0f} s")
        time.sleep(0.02)
