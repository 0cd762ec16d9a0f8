"""Atomic writes of the files people open (report, worklists, Data Docs assets).

A reader (a colleague opening the report on the shared folder, a browser loading a page)
sees the previous file or the new one, never half of one: the content goes to a temporary
file in the same folder, which then replaces the target (`os.replace`, atomic on one file
system). `tempfile.mkstemp` creates that file mode 0600, which would make every report
private to the pipeline's account; so before the replace it is given the mode an ordinary
`open()` would have given it, `0o666 & ~umask`. The operator chooses who reads the reports
with the umask of the pipeline's account (022: everyone, 027: the group, 077: nobody else),
as for any other program.

The work folders (`ops.work_folders`) hold staged case data and stay owner-only: they do
not use this module.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

_UMASK_LOCK = threading.Lock()


def current_umask() -> int:
    """The process's umask, read without changing it where the system allows.

    Linux (4.7 and later) shows it in /proc/self/status ("Umask:"), which is read-only and
    so safe with other threads creating files. Elsewhere the only way is to set it and set
    it back; that is done under a lock with the most restrictive mask (077), so a file
    another thread creates in that instant is at worst too private, never too open.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _UMASK_LOCK:
        mask = os.umask(0o077)
        os.umask(mask)
    return mask


def readable_mode() -> int:
    """The mode `open()` gives a new file under the current umask (0644 under 022)."""
    return 0o666 & ~current_umask()


@contextmanager
def atomic_path(path: Path, *, prefix: str | None = None,
                suffix: str = "") -> Iterator[Path]:
    """A temporary path beside `path` to write to; on leaving without error it gets the
    umask's mode and replaces `path`. On an error `path` is untouched and the temporary file
    removed. `suffix` keeps an extension a writer needs (openpyxl wants `.xlsx`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=prefix or f".{path.name}.", suffix=suffix,
                                dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, readable_mode())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_with(path: Path, write: Callable[[Path], object], *, prefix: str | None = None,
               suffix: str = "") -> Path:
    """Write `path` atomically by calling `write(tmp)` (a library that saves to a path)."""
    with atomic_path(path, prefix=prefix, suffix=suffix) as tmp:
        write(tmp)
    return Path(path)


def write_bytes_atomic(path: Path, data: bytes) -> Path:
    """Write `data` to `path` atomically, readable as the umask allows."""
    return write_with(path, lambda tmp: tmp.write_bytes(data))


def write_text_atomic(path: Path, text: str, encoding: str = "utf-8") -> Path:
    """Write `text` to `path` atomically, readable as the umask allows."""
    return write_bytes_atomic(path, text.encode(encoding))
