"""The exit statuses of every `qa-pipeline` command and of `python flows/nightly.py`: one
definition, stored as `pipeline_run.exit_code` too (the values are a published interface and
never change; README.md lists them)."""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    OK = 0
    """Done. `run`: every batch published (row-level issues and warnings allowed), or
    nothing new."""
    FAILED = 1
    """Failed: nothing of the failing batch was published; or the reporting database, a
    folder or the Prefect server could not be read, written or reached; `status --check`:
    the latest run failed."""
    USAGE = 2
    """Usage error: bad arguments or settings, PATH not a batch or landing folder, no
    reporting database where one was named, input the exceptions register refuses."""
    ISSUES = 3
    """Finished, but a person must look (`pipeline_run.status` `succeeded_with_issues`): a
    file rejected or missing, a batch folder not processed, a batch held, data checks that
    failed, or a report, worklists or data checks that could not be written."""
