"""The report and the worklists are readable as the umask says, and still written atomically.

`tempfile.mkstemp` makes 0600 files: a colleague on the shared reports folder could not open
the report. Each write is checked under three umasks (everyone, the group, nobody else), and
a write that fails half-way leaves the previous file whole and no temporary file behind.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qa_pipeline.officers import report, worklists
from qa_pipeline.ops import files
from qa_pipeline.ops.files import current_umask, write_bytes_atomic, write_text_atomic

MODES = [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)]


@pytest.fixture
def umask() -> Iterator[Any]:
    """Set the process umask for one test; restored afterwards whatever happens."""
    saved = os.umask(0o022)
    os.umask(saved)
    yield os.umask
    os.umask(saved)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _only(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def _workbook(title: str) -> Any:
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.title = title
    return wb


@pytest.mark.parametrize(("mask", "mode"), MODES)
def test_report_and_workbook_modes_follow_umask(tmp_path: Path, umask: Any, mask: int,
                                                mode: int) -> None:
    umask(mask)
    page = tmp_path / "qa_report_2026-11-25.html"
    report.write_text_atomic(page, "<!DOCTYPE html><p>ok</p>")
    book = tmp_path / "qa_worklists_2026-11-25.xlsx"
    worklists._save(_workbook("Summary"), book)
    assert _mode(page) == mode and _mode(book) == mode
    assert page.read_text(encoding="utf-8") == "<!DOCTYPE html><p>ok</p>"
    assert book.read_bytes()[:2] == b"PK"
    assert _only(tmp_path) == [page.name, book.name]  # no temporary file left
    report.write_text_atomic(page, "<p>again</p>")  # replacing keeps the umask's mode
    assert _mode(page) == mode


def test_umask_read_without_proc_matches(monkeypatch: pytest.MonkeyPatch, umask: Any) -> None:
    """/proc/self/status and the set-and-restore fallback agree, and neither changes it."""
    umask(0o027)
    assert current_umask() == 0o027
    real_open = open

    def no_proc(path: Any, *args: Any, **kwargs: Any) -> Any:
        if str(path) == "/proc/self/status":
            raise FileNotFoundError(path)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr("builtins.open", no_proc)
    assert current_umask() == 0o027
    monkeypatch.undo()
    assert current_umask() == 0o027


def test_failed_text_write_keeps_previous_file(tmp_path: Path, umask: Any,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    umask(0o022)
    page = tmp_path / "qa_report.html"
    write_text_atomic(page, "old")
    before = page.stat().st_ino

    def broken_replace(src: Any, dst: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, "replace", broken_replace)
    with pytest.raises(OSError, match="No space"):
        report.write_text_atomic(page, "new " * 10_000)
    assert page.read_text(encoding="utf-8") == "old" and page.stat().st_ino == before
    assert _only(tmp_path) == [page.name]


def test_failed_workbook_save_keeps_previous_file(tmp_path: Path, umask: Any) -> None:
    """openpyxl fails half-way through the zip (disk full): the old workbook stays."""
    umask(0o027)
    book = tmp_path / "qa_worklists.xlsx"
    worklists._save(_workbook("Old"), book)
    old = book.read_bytes()

    class HalfSaved:
        def save(self, path: Path) -> None:
            Path(path).write_bytes(b"PK\x03\x04 half a zip")
            raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        worklists._save(HalfSaved(), book)
    assert book.read_bytes() == old and _mode(book) == 0o640
    assert _only(tmp_path) == [book.name]


def test_bytes_write_creates_folder_readable(tmp_path: Path, umask: Any) -> None:
    umask(0o027)
    target = tmp_path / "data_docs" / "_static" / "jquery" / "jquery.min.js"
    write_bytes_atomic(target, b"/* js */")
    assert target.read_bytes() == b"/* js */" and _mode(target) == 0o640
    assert _mode(target.parent) == 0o750  # folders as mkdir makes them under the umask
