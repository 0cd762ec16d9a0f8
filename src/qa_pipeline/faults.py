"""Named fault points of a run, for the crash-safety and concurrency tests."""

from __future__ import annotations

import os
import signal
import time

FAILPOINT_ENV = "QA_PIPELINE_FAILPOINT"
PAUSEPOINT_ENV = "QA_PIPELINE_PAUSEPOINT"


def failpoint(name: str) -> None:
    """Fault-test hook at a named point of a run; a no-op unless the environment asks.

    QA_PIPELINE_FAILPOINT=<name> SIGKILLs the process there (a real kill, so no clean-up code
    runs: the crash-safety tests); QA_PIPELINE_PAUSEPOINT=<name>:<seconds> sleeps there (the
    concurrency tests hold a run in the middle of its transaction).
    """
    if os.environ.get(FAILPOINT_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
    pause = os.environ.get(PAUSEPOINT_ENV, "")
    if pause.rpartition(":")[0] == name:
        time.sleep(float(pause.rpartition(":")[2]))
