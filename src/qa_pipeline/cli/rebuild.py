"""`qa-pipeline rebuild LANDING`: replay every delivered batch into an empty reporting
database, oldest first, with its progress on stderr (`qa_pipeline.ops.rebuild`).

On a terminal the progress is a bar (rich): batches done / total, the elapsed time and the
time left. Anywhere else (a log, CI, cron) it is one plain line per batch with the same
counts and times. What the rebuild did is printed to stdout at the end."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TextIO

from qa_pipeline.cli.common import err, settings_of, site_files_of
from qa_pipeline.ops.exits import ExitStatus

if TYPE_CHECKING:  # the job's modules are imported when the command runs, not for --help
    from qa_pipeline.ops.job import BatchResult
    from qa_pipeline.ops.rebuild import Plan, RebuildResult


def time_left(replayed: int, remaining: int, elapsed: float) -> float | None:
    """Seconds left for `remaining` batches at the mean pace so far (`replayed` batches in
    `elapsed` seconds); None before the first batch."""
    if replayed <= 0:
        return None
    return max(remaining, 0) * elapsed / replayed


def clock(seconds: float | None) -> str:
    """H:MM:SS, or "unknown"."""
    if seconds is None:
        return "unknown"
    return str(timedelta(seconds=round(seconds)))


def state(result: BatchResult) -> str:
    """What became of a batch, in a word or three."""
    if result.held:
        return "held (not published)"
    if result.exit_code == ExitStatus.FAILED:
        return "failed"
    if result.exit_code == ExitStatus.ISSUES:
        return "published with issues"
    return "published"


class LineProgress:
    """One line per batch (a stream that is not a terminal)."""

    def __init__(self, stream: TextIO, now: Callable[[], float] = time.monotonic) -> None:
        self.stream, self.now = stream, now
        self.total = self.done = self.replayed = 0
        self.began = 0.0

    def __enter__(self) -> LineProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def start(self, plan: Plan) -> None:
        self.total, self.done, self.replayed = len(plan.batches), plan.done, 0
        self.began = self.now()
        self._line(f"{self.total} batches, {plan.done} already in the database, "
                   f"{len(plan.todo)} to replay")

    def batch_done(self, result: BatchResult) -> None:
        self.done += 1
        self.replayed += 1
        elapsed = self.now() - self.began
        left = time_left(self.replayed, self.total - self.done, elapsed)
        self._line(f"{self.done}/{self.total} batches, {result.as_of} {state(result)}, "
                   f"elapsed {clock(elapsed)}, about {clock(left)} left")

    def _line(self, text: str) -> None:
        print(f"rebuild: {text}", file=self.stream, flush=True)


class BarProgress:
    """A progress bar (a terminal): batches done / total, elapsed, time left, last batch."""

    def __init__(self, stream: TextIO) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(
            TextColumn("rebuild"), BarColumn(), MofNCompleteColumn(), TextColumn("batches"),
            TimeElapsedColumn(), TextColumn("elapsed,"), TimeRemainingColumn(),
            TextColumn("left  {task.fields[last]}"),
            console=Console(file=stream), speed_estimate_period=366 * 86400.0)
        self.task: Any = None
        self.stream = stream
        self.moved: list[logging.StreamHandler[TextIO]] = []

    def __enter__(self) -> BarProgress:
        self.progress.start()  # sys.stderr now writes above the bar; the log (-v) too:
        for h in logging.getLogger().handlers:
            if isinstance(h, logging.StreamHandler) and h.stream is self.stream:
                h.setStream(sys.stderr)
                self.moved.append(h)
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        for h in self.moved:
            h.setStream(self.stream)
        self.progress.stop()

    def start(self, plan: Plan) -> None:
        self.task = self.progress.add_task("rebuild", total=len(plan.batches),
                                           completed=plan.done, last="")

    def batch_done(self, result: BatchResult) -> None:
        self.progress.update(self.task, advance=1, last=f"{result.as_of} {state(result)}")


def progress_for(stream: TextIO) -> LineProgress | BarProgress:
    """A bar on a terminal, plain lines anywhere else."""
    return BarProgress(stream) if stream.isatty() else LineProgress(stream)


# --- the command -------------------------------------------------------------------------------


def print_rebuild(result: RebuildResult, landing: Path) -> None:
    """What the rebuild did (stdout)."""
    plan = result.plan
    for line in result.ignored:
        print(f"ignored {line}")
    for line in result.refused:
        print(f"! not processed: {line}")
    replayed = len(result.batches)
    span = f", {result.batches[0].as_of} to {result.batches[-1].as_of}" if replayed else ""
    print(f"rebuild of {landing}: {len(plan.batches)} batches; replayed {replayed}{span}; "
          f"{len(plan.kept)} already published (kept)")
    published = sum(1 for b in result.batches if b.exit_code != ExitStatus.FAILED
                    and not b.held)
    print(f"  published {published}, held {len(result.held)}")
    issues = [b for b in result.batches if b.exit_code == ExitStatus.ISSUES and not b.held]
    for b in issues:
        assert b.outcome is not None
        print(f"  ! {b.as_of}: {b.outcome.status}: {b.outcome.message}")
    if result.held:
        print("  held, not published (a data officer checks each, then "
              "`qa-pipeline release DATE --by NAME`):")
        messages = {b.as_of: b.outcome.message for b in result.batches
                    if b.held and b.outcome}
        for d in result.held:
            print(f"    {d}: {messages.get(d, 'held before this rebuild; still held')}")
    _print_end(result, landing)


def _print_end(result: RebuildResult, landing: Path) -> None:
    if result.stopped is not None:
        o = result.stopped.outcome
        assert o is not None
        left = len(result.plan.todo) - len(result.batches)
        print(f"  stopped at {result.stopped.as_of}: run {o.run_id} failed: {o.message}")
        print(f"  the database holds every batch before it; {left} batches after it not "
              f"replayed. Fix the cause, then `qa-pipeline rebuild {landing}` again resumes "
              "there.")
    elif not result.plan.todo:
        print("  nothing to replay: every batch is in the database")
    if result.newest is not None and result.newest.outcome is not None:
        o = result.newest.outcome
        print(f"  newest batch {result.newest.as_of}: run {o.run_id}: {o.status} "
              f"(exit {o.exit_code})")
        if result.newest.report_path:
            print(f"  report: {result.newest.report_path}")
            print(f"  worklists: {result.newest.workbook_path}")


def cmd_rebuild(args: argparse.Namespace) -> int:
    from qa_pipeline.ingest.staging import BatchError
    from qa_pipeline.load.db import NoDatabase, mask_url
    from qa_pipeline.ops.locking import LockTimeout
    from qa_pipeline.ops.rebuild import RebuildRefused, rebuild
    from qa_pipeline.spec.contracts import ContractError

    settings = settings_of(args, work_dir=args.work_dir)
    site_files_of(settings)
    try:
        with progress_for(sys.stderr) as watch:
            result = rebuild(args.landing, settings, watch)
    except RebuildRefused as exc:
        err(str(exc))
        return ExitStatus.USAGE
    except (BatchError, NoDatabase, LockTimeout, ContractError):
        raise  # a usage error, or another run: `failure_status` says so
    except KeyboardInterrupt:
        print(f"qa-pipeline: rebuild interrupted: the database holds every batch published "
              f"so far; `qa-pipeline rebuild {args.landing}` again resumes after the last",
              file=sys.stderr)
        return ExitStatus.FAILED
    except Exception as exc:  # database unreachable, bad URL, ...
        print(f"qa-pipeline: rebuild failed: {type(exc).__name__}: {mask_url(str(exc))}",
              file=sys.stderr)
        return ExitStatus.FAILED
    print_rebuild(result, args.landing)
    print(f"database: {mask_url(settings.db_url)}")
    return result.exit_code


def add_command(sub: Any, options: Callable[..., list[Any]]) -> None:
    """Add `rebuild` to the `qa-pipeline` parser."""
    p = sub.add_parser("rebuild", parents=options(db=True, config=True),
                       help="replay every batch of a landing folder, oldest first, into an "
                            "empty reporting database (resumes where it stopped)")
    p.add_argument("landing", type=Path, metavar="LANDING",
                   help="the landing folder holding the batch folders (YYYY-MM-DD)")
    p.add_argument("--work-dir", type=Path, default=None, metavar="DIR",
                   help="where staged files are written during a batch (default: the "
                        "settings' work_dir, else a temporary folder)")
    p.set_defaults(handler=cmd_rebuild)
