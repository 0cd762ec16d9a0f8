"""The landing folder: which batch folders a night has delivered, and what each holds, before
anything is read as CSV. A batch folder is named YYYY-MM-DD; a future date or a link out of
the landing folder is refused (reported, never read)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from qa_pipeline.ingest.staging import (
    BATCH_NAME,
    BatchError,
    ExtractOutcome,
    Manifest,
    batch_date,
    is_inside,
    match_files,
    sha256_file,
)
from qa_pipeline.spec.contracts import load_contracts


@dataclass
class Scan:
    batches: list[Path]
    ignored: list[str]
    refused: list[str]



def scan_landing(path: Path, today: date | None = None) -> Scan:
    """PATH is one batch folder (named YYYY-MM-DD) or a landing folder of batch folders.

    A named batch folder that is not a real, past date is a usage error. In a landing folder,
    other entries are listed as ignored, and batch folders dated in the future or reached
    through a link out of the landing folder are refused (reported, never read)."""
    path = Path(path)
    today = today or date.today()
    if not path.is_dir():
        raise BatchError(f"{path}: no such folder")
    if BATCH_NAME.match(path.name):
        as_of = batch_date(path)
        if as_of > today:
            raise BatchError(f"{path}: the extract date {as_of} is in the future")
        return Scan([path], [], [])
    scan = Scan([], [], [])
    for p in sorted(path.iterdir()):
        if not BATCH_NAME.match(p.name):
            if p.is_dir():
                scan.ignored.append(f"{p.name}: not a batch folder (not named YYYY-MM-DD)")
            continue
        try:
            as_of = batch_date(p)
        except BatchError as exc:
            scan.refused.append(str(exc))
            continue
        if not p.is_dir():
            scan.ignored.append(f"{p.name}: not a folder")
        elif not is_inside(p, path):
            scan.refused.append(f"{p.name}: a link that leads out of the landing folder; "
                                "not read")
        elif as_of > today:
            scan.refused.append(f"{p.name}: the extract date is in the future; not read")
        else:
            scan.batches.append(p)
    if not scan.batches and not scan.refused:
        raise BatchError(f"{path}: neither a batch folder (YYYY-MM-DD) nor a landing folder "
                         "holding batch folders")
    return scan



def find_batches(path: Path) -> list[Path]:
    return scan_landing(path).batches



def delivered_manifest(batch_dir: Path) -> Manifest:
    """The files of a batch folder and their checksums, without reading them as CSV."""
    contracts = load_contracts()
    files, others = match_files(batch_dir, contracts)
    m = Manifest(as_of=batch_date(batch_dir), batch_path=str(batch_dir), work_dir="",
                 code_version="", contract_version=contracts.version)
    for e in contracts.ordered():
        p = files.get(e.name)
        m.extracts[e.name] = (
            ExtractOutcome(e.name, p.name, "loaded", sha256=sha256_file(p)) if p
            else ExtractOutcome(e.name, None, "missing")
        )
    m.unknown_files = [p.name for p in others]
    return m
