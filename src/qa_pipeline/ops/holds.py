"""Holding a suspicious batch: when an extract's row count falls sharply against the previous
published batch (a truncated export), the batch is staged but not published until a data
officer releases it with `qa-pipeline release`."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from qa_pipeline.ingest.staging import MANIFEST, Manifest
from qa_pipeline.load.db import batch, batch_hold, pipeline_run, pipeline_run_extract
from qa_pipeline.load.publish import RunOutcome, content_checksum, utcnow
from qa_pipeline.ops.exits import ExitStatus

log = logging.getLogger(__name__)


class ReleaseError(ValueError):
    """Nothing to release for that date (a usage problem)."""


@dataclass(frozen=True)
class VolumeDrop:
    extract: str
    rows: int
    previous_rows: int
    previous_as_of: date

    def describe(self) -> str:
        share = 100.0 * self.rows / self.previous_rows
        return (f"{self.extract} has {self.rows} rows, {share:.0f}% of the "
                f"{self.previous_rows} delivered on {self.previous_as_of}")


def volume_drops(engine: Engine, manifest: Manifest, threshold: float) -> list[VolumeDrop]:
    """Extracts whose rows fell below `threshold` x the latest earlier published batch's."""
    if threshold <= 0:
        return []
    with engine.connect() as conn:
        prev = conn.execute(
            sa.select(batch.c.as_of, batch.c.run_id).where(batch.c.as_of < manifest.as_of)
            .order_by(batch.c.as_of.desc()).limit(1)).first()
        if prev is None:
            return []
        rows = conn.execute(
            sa.select(pipeline_run_extract.c.extract, pipeline_run_extract.c.rows_read)
            .where(pipeline_run_extract.c.run_id == prev.run_id,
                   pipeline_run_extract.c.status == "loaded")).all()
    before = {r.extract: int(r.rows_read) for r in rows}
    drops = []
    for name, o in manifest.extracts.items():
        was = before.get(name, 0)
        if o.status == "loaded" and was > 0 and o.rows_read < threshold * was:
            drops.append(VolumeDrop(name, o.rows_read, was, prev.as_of))
    return drops


def relocate(manifest: Manifest, new_dir: Path) -> Manifest:
    """Move a staged batch's files to a new folder and point the manifest at them."""
    old = manifest.work_dir
    new_dir.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(old, new_dir)
    text = (new_dir / MANIFEST).read_text(encoding="utf-8").replace(old, str(new_dir.resolve()))
    moved = Manifest.from_json(text)
    moved.write()
    return moved


def hold_batch(engine: Engine, manifest: Manifest, run_id: str, drops: list[VolumeDrop],
               hold_dir: Path) -> RunOutcome:
    """Keep the staged batch under hold_dir and record the hold; publish nothing."""
    target = Path(hold_dir) / f"{manifest.as_of}_{run_id[:8]}"
    held = relocate(manifest, target)
    reason = "; ".join(d.describe() for d in drops)
    message = (f"held, not published: {reason}. A data officer releases it with "
               f"`qa-pipeline release {manifest.as_of}`")
    with engine.begin() as conn:
        conn.execute(batch_hold.update().where(
            batch_hold.c.as_of == manifest.as_of, batch_hold.c.status == "held"
        ).values(status="superseded"))
        conn.execute(batch_hold.insert().values(
            as_of=manifest.as_of, run_id=run_id, held_at=utcnow(), reason=reason,
            staged_path=held.work_dir, status="held"))
        conn.execute(pipeline_run.update().where(pipeline_run.c.run_id == run_id).values(
            finished_at=utcnow(), status="succeeded_with_issues",
            exit_code=ExitStatus.ISSUES, message=message, published=False,
            content_sha256=content_checksum(held)))
    log.warning("%s: %s", manifest.as_of, message)
    return RunOutcome(run_id=run_id, status="succeeded_with_issues",
                      exit_code=ExitStatus.ISSUES,
                      message=message)


def dropped_extracts(reason: str, extracts: Iterable[str]) -> list[str]:
    """The extracts whose row drop a hold's `reason` names (`hold_batch` joins one
    `VolumeDrop.describe` per extract with "; "), among `extracts`, in their order."""
    parts = reason.split("; ")
    return [e for e in extracts if any(p.startswith(f"{e} has ") for p in parts)]


def held_drops(engine: Engine, hold_id: int, manifest: Manifest) -> list[str]:
    """The extracts of a held batch whose row drop caused its hold (as the hold recorded)."""
    with engine.connect() as conn:
        reason = conn.execute(sa.select(batch_hold.c.reason)
                              .where(batch_hold.c.hold_id == hold_id)).scalar()
    return dropped_extracts(reason or "", manifest.extracts)


def held_manifest(engine: Engine, as_of: date) -> tuple[int, Manifest]:
    """The batch held for a date (the latest hold), ready to publish."""
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(batch_hold.c.hold_id, batch_hold.c.staged_path)
            .where(batch_hold.c.as_of == as_of, batch_hold.c.status == "held")
            .order_by(batch_hold.c.hold_id.desc()).limit(1)).first()
    if row is None:
        raise ReleaseError(f"no batch is held for {as_of}")
    path = Path(row.staged_path) / MANIFEST
    if not path.is_file():
        raise ReleaseError(f"the staged files of the batch held for {as_of} are gone "
                           f"({row.staged_path}); re-run the batch instead")
    return int(row.hold_id), Manifest.from_json(path.read_text(encoding="utf-8"))
