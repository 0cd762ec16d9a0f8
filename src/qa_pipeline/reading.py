"""Reading one delivered CSV file into a frame of trimmed text, without losing or guessing.

Everything is read as text first and parsed later (`parsing.py`), so that one bad value is one
row-level issue and never a crashed file. The reader only fails for faults of the whole file,
which it reports as a `FileProblem` (a file-level issue), not as an exception.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl

ROW_COLUMN = "source_row"
"""Record number in the delivered file, 1 = the first record after the header."""

UTF8_BOM = b"\xef\xbb\xbf"
_HEADER_SEP = re.compile(r"[\s\-]+")


@dataclass(frozen=True)
class FileProblem:
    """A fault of the whole file; `kind` is the suffix of a file-level rule."""

    kind: str
    detail: str
    column: str | None = None


@dataclass(frozen=True)
class RawFile:
    """A file read as text: normalised header names and trimmed values (empty -> null)."""

    frame: pl.DataFrame
    encoding: str
    original_headers: tuple[str, ...]


def normalise_header(name: str) -> str:
    """`' Referral Date'`, `referral-date`, `REFERRAL_DATE` -> `referral_date` (extracts.md)."""
    return _HEADER_SEP.sub("_", name.strip()).lower()


def decode(data: bytes) -> tuple[str, str]:
    """The text of a file that is UTF-8 (with or without BOM) or Windows-1252.

    UTF-8 is tried first: Windows-1252 text with any non-ASCII character is almost never valid
    UTF-8, while every byte string is *nearly* valid Windows-1252, so the order matters.
    Raises UnicodeDecodeError when it is neither.
    """
    if data.startswith(UTF8_BOM):
        return data[len(UTF8_BOM):].decode("utf-8"), "utf-8-sig"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("cp1252"), "cp1252"


def read_text_csv(path: Path) -> RawFile | FileProblem:
    """Read a delivered CSV as text columns with normalised headers and trimmed values."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return FileProblem("unreadable", f"the file could not be opened ({exc.strerror})")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return FileProblem("unreadable", "the file is UTF-16 text; Paris exports must be "
                                         "UTF-8 or Windows-1252")
    if b"\x00" in data:
        return FileProblem("unreadable", "the file holds NUL bytes: it is binary, not text")
    try:
        text, encoding = decode(data)
    except UnicodeDecodeError:
        return FileProblem("unreadable", "the file is neither UTF-8 nor Windows-1252 text")
    del data
    if not text.strip():
        return FileProblem("unreadable", "the file is empty (not even a header row)")
    try:
        frame = pl.read_csv(
            io.StringIO(text),
            has_header=False,
            infer_schema=False,
            quote_char='"',
            raise_if_empty=False,
        )
    except pl.exceptions.PolarsError as exc:
        # Polars' message can quote file content; keep only its first line's general shape.
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        first = re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", first)[:200]
        return FileProblem("unreadable", f"the file is not valid CSV ({first})")
    del text
    if frame.height == 0:
        return FileProblem("unreadable", "the file is empty (not even a header row)")
    header_row = frame.row(0)
    originals = tuple("" if h is None else str(h) for h in header_row)
    names = [normalise_header(h) for h in originals]
    seen: set[str] = set()
    for n in names:
        if n in seen:
            return FileProblem("duplicate_column", f"the column {n!r} appears twice", column=n)
        seen.add(n)
    if any(n == "" for n in names):
        return FileProblem("unreadable", "the header row has an empty column name")
    frame = frame.slice(1)
    frame.columns = names
    frame = frame.with_columns(
        pl.col(n).str.strip_chars().replace("", None) for n in names
    ).with_row_index(ROW_COLUMN, offset=1)
    return RawFile(frame=frame, encoding=encoding, original_headers=originals)
