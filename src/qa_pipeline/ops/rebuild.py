"""`qa-pipeline rebuild LANDING`: replay every batch of a landing folder, oldest first, into an
empty reporting database (a new site with years of history; a new database after a contract
change), resumable after an interruption.

Each batch is the nightly job's own `run_batch` (stage, derive, publish or hold: one publish
transaction per batch), so a rebuild that is stopped (Ctrl-C, a kill, a failed batch) leaves
the database at its last published batch, and the same command continues from there:

* a batch already published with the same files is kept, never published again; one whose
  files changed since is replayed;
* a batch whose latest run held it (a sharp row drop) with the same files is not staged
  again: the hold stands, and is listed at the end for a data officer to release;
* the first batch that fails stops the rebuild (the ones after it would be published out of
  order); fix the cause and run it again.

A database that holds a batch that is not in the landing folder, or one newer than the next
batch to replay, is refused before anything is written (`RebuildRefused`, a usage error):
that is a database of other deliveries, or a nightly run (`qa-pipeline run`), not a rebuild.

The after-publish work (data checks, report, worklists: `job.after_publish`) runs once, for
the newest batch the rebuild published, not for every batch (it would dominate a rebuild of
years); docs/operations.md, "Rebuilding the database".
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from qa_pipeline.ingest.landing import scan_landing
from qa_pipeline.load.db import make_engine, pipeline_run
from qa_pipeline.ops.exits import ExitStatus
from qa_pipeline.ops.job import (
    BatchResult,
    after_publish,
    check_site_files,
    is_unchanged,
    prepare,
    published_checksums,
    run_batch,
)
from qa_pipeline.ops.locking import run_lock
from qa_pipeline.ops.settings import Settings, using

log = logging.getLogger(__name__)


class RebuildRefused(ValueError):
    """The database is not one a rebuild of this landing folder may write (a usage error)."""


@dataclass(frozen=True)
class Plan:
    """What a rebuild of a landing folder does to a database, decided before any write."""

    batches: list[Path]
    """Every batch folder of the landing folder, oldest first."""
    todo: list[Path]
    """The batches to replay, oldest first."""
    kept: list[str] = field(default_factory=list)
    """Dates already published with the same files: kept as they are."""
    held: list[str] = field(default_factory=list)
    """Dates whose latest run held the same files: the hold stands (release it)."""
    changed: list[str] = field(default_factory=list)
    """Dates published (or held) before whose files changed since: replayed."""

    @property
    def done(self) -> int:
        """How many of the batches need nothing more (kept or held)."""
        return len(self.kept) + len(self.held)


def plan_replay(batches: Sequence[Path], published: dict[str, str], held: dict[str, str],
                same: Callable[[Path, str], bool] = is_unchanged) -> Plan:
    """The plan of a rebuild of `batches` (oldest first) into a database holding `published`
    and `held` (date -> content checksum); `same(batch, checksum)`: the folder holds exactly
    those files. RebuildRefused for a database of other deliveries, or one ahead of the next
    batch to replay."""
    names = [b.name for b in batches]
    foreign = sorted(set(published) - set(names)) + sorted(set(held) - set(names))
    if foreign:
        raise RebuildRefused(
            f"the database holds {_dates(foreign)}, not in the landing folder: a rebuild "
            "replays one landing folder into an empty database (give --db a new database, "
            "or the landing folder these batches came from)")
    kept, still_held, changed, todo = [], [], [], []
    for b in batches:
        if b.name in published and same(b, published[b.name]):
            kept.append(b.name)
        elif b.name not in published and b.name in held and same(b, held[b.name]):
            still_held.append(b.name)
        else:
            changed += [b.name] if b.name in published or b.name in held else []
            todo.append(b)
    if todo:
        nxt = todo[0].name
        newer = sorted(d for d in {*published, *held} if d > nxt)
        if newer:
            why = " (its files changed since it was published)" if nxt in changed else ""
            raise RebuildRefused(
                f"the database already holds {_dates(newer)}, newer than {nxt}, the next "
                f"batch to replay{why}: that is not a rebuild but a nightly run; use "
                "`qa-pipeline run LANDING`")
    return Plan(list(batches), todo, kept, still_held, changed)


def _dates(dates: Sequence[str], shown: int = 5) -> str:
    more = f" and {len(dates) - shown} more" if len(dates) > shown else ""
    noun = "batch" if len(dates) == 1 else "batches"
    return f"{len(dates)} {noun} ({', '.join(dates[:shown])}{more})"


def held_checksums(engine: Engine) -> dict[str, str]:
    """Dates not published whose latest run held the batch: the checksum of the held files.
    (A held run finished without publishing, with its files' checksum; a failed one has
    none.)"""
    inspector = sa.inspect(engine)
    if not inspector.has_table(pipeline_run.name) or not {"published", "content_sha256"} <= {
            c["name"] for c in inspector.get_columns(pipeline_run.name)}:
        return {}  # an empty database, or one from before holds were recorded
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(pipeline_run.c.as_of, pipeline_run.c.published,
                      pipeline_run.c.content_sha256, pipeline_run.c.finished_at)
            .order_by(pipeline_run.c.as_of, pipeline_run.c.started_at)).all()
    latest = {r.as_of.isoformat(): r for r in rows}
    return {d: r.content_sha256 for d, r in latest.items()
            if not r.published and r.content_sha256 and r.finished_at is not None}


def plan_rebuild(batches: Sequence[Path], engine: Engine) -> Plan:
    """The plan for this database (it only reads; an empty database has no tables yet)."""
    published = (published_checksums(engine) if sa.inspect(engine).has_table("batch")
                 else {})
    held = {d: c for d, c in held_checksums(engine).items() if d not in published}
    return plan_replay(batches, published, held)


# --- the replay --------------------------------------------------------------------------


class Watch(Protocol):
    """What follows a rebuild as it goes (the progress bar of the CLI)."""

    def start(self, plan: Plan) -> None: ...

    def batch_done(self, result: BatchResult) -> None: ...


@dataclass
class RebuildResult:
    plan: Plan
    batches: list[BatchResult] = field(default_factory=list)
    """The batches this rebuild replayed, oldest first."""
    ignored: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    """Batch folders of the landing folder that cannot be processed (not replayed)."""
    stopped: BatchResult | None = None
    """The batch that failed and stopped the rebuild (the ones after it were not replayed)."""
    newest: BatchResult | None = None
    """The newest batch published by this rebuild: the one whose after-publish work ran."""

    @property
    def held(self) -> list[str]:
        """Every date held at the end: held by this rebuild, or before it and still held."""
        return sorted({*self.plan.held, *(b.as_of for b in self.batches if b.held)})

    @property
    def exit_code(self) -> int:
        """Failed (the rebuild stopped) > a batch held or with issues, a folder refused > 0."""
        codes = [b.exit_code for b in self.batches]
        if self.stopped is not None or ExitStatus.FAILED in codes:
            return ExitStatus.FAILED
        if ExitStatus.ISSUES in codes or self.refused or self.held:
            return ExitStatus.ISSUES
        return ExitStatus.OK


def replay(plan: Plan, settings: Settings, watch: Watch | None = None) -> RebuildResult:
    """Run every batch of the plan, oldest first, without the after-publish work; stop at
    the first that fails; then the after-publish work of the newest batch published."""
    quiet = settings.with_overrides(aftercare=False)
    result = RebuildResult(plan)
    if watch is not None:
        watch.start(plan)
    for b in plan.todo:
        done = run_batch(str(b), quiet)
        result.batches.append(done)
        if watch is not None:
            watch.batch_done(done)
        if done.exit_code == ExitStatus.FAILED:
            result.stopped = done
            log.error("%s: failed; the rebuild stops here (the database holds every batch "
                      "before it)", done.as_of)
            return result
        if not done.held:
            result.newest = done
    if result.newest is not None:
        after_publish(result.newest, settings)  # settings.aftercare decides
    return result


def rebuild(landing: Path, settings: Settings, watch: Watch | None = None) -> RebuildResult:
    """Replay every batch of the landing folder not yet in the database, oldest first, under
    the database's run lock; RebuildRefused (nothing written) for a database that is not
    this landing folder's rebuild, or a batch folder given for the landing folder."""
    check_site_files(settings)
    scan = scan_landing(landing)
    if len(scan.batches) == 1 and Path(landing).resolve() == scan.batches[0].resolve():
        raise RebuildRefused(f"{landing} is one batch folder: give the landing folder that "
                             "holds the batch folders")
    engine = make_engine(settings.db_url)
    try:
        with using(settings), run_lock(engine, settings.lock_timeout_seconds):
            plan = plan_rebuild(scan.batches, engine)
            if plan.todo:  # nothing to do writes nothing, not even a schema upgrade
                prepare(settings)
            result = replay(plan, settings, watch)
    finally:
        engine.dispose()
    result.ignored, result.refused = scan.ignored, scan.refused
    return result
