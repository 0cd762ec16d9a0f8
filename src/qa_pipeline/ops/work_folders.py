"""Work folders: a run stages a batch (pseudonymised case rows as parquet) into its own work
folder `qa_<as_of>_<random>` under the work root (`work_dir`, else the system temp dir). The
folder is owner-only and carries an owner marker; a killed run cannot remove it, so each run
first removes the work folders whose owner process is gone (`clean_work_folders`)."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import socket
import tempfile
import time
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from qa_pipeline.load.db import batch_hold
from qa_pipeline.ops.settings import Settings

log = logging.getLogger(__name__)

OWNER_FILE = "owner.json"
WORK_FOLDER = re.compile(r"^qa_\d{4}-\d{2}-\d{2}_[a-z0-9_]{8}$")
"""The name `tempfile.mkdtemp(prefix=f"qa_{as_of}_")` gives; nothing else is ever removed."""
UNMARKED_AGE_SECONDS = 24 * 3600
"""A work folder without an owner marker (written before markers existed, or a run killed
between creating the folder and marking it) is removed from a configured work_dir once it
has not changed for this long; in the shared system temp dir it is never removed."""



def _proc_stat(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (Linux), None where unknown."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    return text.rpartition(")")[2].split()



def _boot_id() -> str | None:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip()
    except OSError:
        return None



def owner_record(pid: int | None = None) -> dict[str, Any]:
    """Who owns a work folder: pid, host, boot and the process's start time (clock ticks
    since boot), so that a pid reused by another process is not taken for the owner."""
    pid = os.getpid() if pid is None else pid
    stat = _proc_stat(pid)
    return {"pid": pid, "host": socket.gethostname(), "boot_id": _boot_id(),
            "start": stat[19] if stat and len(stat) > 19 else None}



def owner_alive(owner: dict[str, Any]) -> bool:
    """Whether the process that wrote an owner marker is still running. A marker written on
    another host is taken as alive (not ours to judge)."""
    if owner.get("host") != socket.gethostname():
        return True
    boot = _boot_id()
    if owner.get("boot_id") and boot and owner["boot_id"] != boot:
        return False  # the machine has restarted since
    pid = owner.get("pid")
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, run by another user
    except OSError:
        return True
    stat = _proc_stat(pid)
    if stat is None:
        return True  # no /proc: the pid exists, that is all we can tell
    if stat[0] == "Z":
        return False  # killed, not yet reaped
    return not (owner.get("start") and len(stat) > 19 and stat[19] != owner["start"])



def write_owner(work_dir: Path, owner: dict[str, Any] | None = None) -> Path:
    """Mark a work folder as this process's (atomically: a marker is whole or absent)."""
    path = Path(work_dir) / OWNER_FILE
    fd, tmp = tempfile.mkstemp(prefix=".owner.", dir=work_dir)  # 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(owner or owner_record(), f)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path



def read_owner(work_dir: Path) -> dict[str, Any] | None:
    try:
        owner = json.loads((Path(work_dir) / OWNER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return owner if isinstance(owner, dict) else None



def make_work_folder(as_of: date, root: Path | None) -> Path:
    """A new owner-only (0700) work folder `qa_<as_of>_<random>` under root (the system temp
    dir when None), marked with this process as its owner."""
    if root is not None:
        Path(root).mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"qa_{as_of}_", dir=root))
    os.chmod(work, 0o700)
    write_owner(work)
    return work



def owner_only(folder: Path) -> None:
    """Files of a work folder readable by their owner only (0600; folders 0700)."""
    for dirpath, _dirs, filenames in os.walk(folder):
        os.chmod(dirpath, 0o700)
        for name in filenames:
            os.chmod(os.path.join(dirpath, name), 0o600)



def clean_work_folders(root: Path | None, keep: Iterable[Path | str] = ()) -> list[Path]:
    """Remove the work folders under root (the system temp dir when None) of runs that are
    no longer alive: killed runs cannot remove their own. Only this user's folders named as a
    run names them are considered; a folder whose owner still runs, a folder in (or holding)
    one of `keep` (held batches, hold_dir) and, in the system temp dir, any folder without
    an owner marker are left alone. Returns the folders removed."""
    base = Path(root) if root is not None else Path(tempfile.gettempdir())
    protected = [Path(k).absolute() for k in keep]
    try:
        entries = sorted(base.iterdir())
    except OSError:
        return []
    removed = []
    for entry in entries:
        try:
            if (not WORK_FOLDER.match(entry.name) or entry.is_symlink() or not entry.is_dir()
                    or entry.stat().st_uid != os.getuid()):
                continue
            here = entry.absolute()
            if any(k == here or k.is_relative_to(here) for k in protected):
                continue
            owner = read_owner(entry)
            if owner is None:
                if root is None or time.time() - entry.stat().st_mtime < UNMARKED_AGE_SECONDS:
                    continue
            elif owner_alive(owner):
                continue
            shutil.rmtree(entry)
        except OSError as exc:
            log.warning("could not remove the work folder %s: %s", entry, exc)
            continue
        log.info("removed the work folder %s of a run that is no longer running", entry)
        removed.append(entry)
    return removed



def held_paths(engine: Engine) -> list[str]:
    """Where the staged files of held batches wait (never removed by the clean-up)."""
    with engine.connect() as conn:
        return [r for r in conn.execute(sa.select(batch_hold.c.staged_path)
                                        .where(batch_hold.c.status == "held")).scalars() if r]



def clean_stale_work(engine: Engine, settings: Settings) -> list[Path]:
    """The clean-up at the start of a run; it never fails the run."""
    try:
        keep: list[Path | str] = [settings.hold_dir, *held_paths(engine)]
        return clean_work_folders(settings.work_dir, keep)
    except Exception as exc:
        log.warning("work folders of earlier runs not cleaned up: %s", exc)
        return []
