"""Reading one delivered CSV file into a frame of trimmed text, without losing or guessing.

Everything is read as text first and parsed later (`parsing.py`), so that one bad value is one
row-level issue and never a crashed file. The reader only fails for faults of the whole file,
which it reports as a `FileProblem` (a file-level issue), not as an exception.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
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
    ragged: dict[int, int] = field(default_factory=dict)
    """Record number -> number of fields, for records whose field count is wrong."""
    invalid_bytes: int = 0
    """Bytes not valid in `encoding`; each is `INVALID_BYTE` in the values (a row issue)."""
    unnamed: tuple[str, ...] = ()
    """Frame columns standing for header fields with no name (`unnamed_column_N`)."""


def normalise_header(name: str) -> str:
    """`' Referral Date'`, `referral-date`, `REFERRAL_DATE` -> `referral_date` (extracts.md)."""
    return _HEADER_SEP.sub("_", name.strip()).lower()


INVALID_BYTE = "\ufffd"
"""What a byte that is not valid in the file's encoding becomes in the text (the Unicode
replacement character): the row holding it is reported, and the value shown with it marked."""

CP1252_UNDEFINED = b"\x81\x8d\x8f\x90\x9d"
"""The five bytes Windows-1252 leaves undefined."""


@dataclass(frozen=True)
class Decoded:
    text: str
    encoding: str
    invalid_bytes: int = 0
    """How many bytes were not valid in `encoding` (each became `INVALID_BYTE`)."""


def _non_ascii(text: str) -> int:
    return len(text) - len(text.encode("ascii", "ignore"))


def decode(data: bytes) -> Decoded:
    """The text of a file that is UTF-8 (with or without BOM) or Windows-1252.

    A file that is valid UTF-8 is UTF-8. One that is not is UTF-8 *with invalid bytes* when it
    holds more valid multi-byte UTF-8 characters than invalid bytes (a byte-order mark also
    says UTF-8): it is read as UTF-8 and each invalid byte is marked, never re-decoded, so
    one bad byte cannot garble every `â` and `–` of the file. Otherwise it is Windows-1252
    (genuine Windows-1252 text almost never forms a valid UTF-8 sequence), and the five
    bytes Windows-1252 leaves undefined are marked the same way. Decoding never fails: bad
    bytes are findings on their rows, not a rejected file (docs/reliability.md).
    """
    bom = data.startswith(UTF8_BOM)
    body = data[len(UTF8_BOM):] if bom else data
    try:
        return Decoded(body.decode("utf-8"), "utf-8-sig" if bom else "utf-8")
    except UnicodeDecodeError:
        pass
    as_utf8 = body.decode("utf-8", errors="replace")
    invalid = as_utf8.count(INVALID_BYTE)
    if bom or _non_ascii(as_utf8) - invalid > invalid:
        return Decoded(as_utf8, "utf-8-sig" if bom else "utf-8", invalid)
    text = body.decode("cp1252", errors="replace")
    return Decoded(text, "cp1252", sum(body.count(bytes([b])) for b in CP1252_UNDEFINED))


DEFAULT_MAX_FILE_BYTES = 2 * 1024**3
"""A file larger than this is rejected unread (a runaway export); configurable."""


def _field_counts(text: str) -> tuple[list[str], dict[int, int], set[int]] | FileProblem:
    """Scan the records with Python's RFC 4180 reader: the header, the records whose number
    of fields differs from the header's ({record number: fields}), and blank lines.

    polars would silently pad a short row with nulls or refuse the whole file for a long one;
    this scan lets each such row become one row-level issue instead.
    """
    # A long field is a row-level issue (value_too_long), not an unreadable file.
    csv.field_size_limit(max(csv.field_size_limit(), 2**31 - 1))
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
        width = len(header)
        ragged: dict[int, int] = {}
        blank: set[int] = set()
        for n, rec in enumerate(reader, start=1):
            if len(rec) != width:
                if not rec:
                    blank.add(n)
                else:
                    ragged[n] = len(rec)
    except csv.Error as exc:
        where = f"record {reader.line_num}" if reader.line_num else "the header"
        if "unexpected end of data" in str(exc) or "EOF" in str(exc):
            return FileProblem("unreadable", f"the file ends inside a quoted field ({where}): "
                                             "it was cut off or a quote is not closed")
        return FileProblem("unreadable", f"the file is not valid CSV near {where} "
                                         f"({str(exc)[:80]})")
    return header, ragged, blank


def _field_counts_unquoted(utf8: bytes) -> tuple[list[str], dict[int, int], set[int]] | None:
    """Field counts of a file with no quote character, in polars: each line is a record
    and has its commas plus one fields. None when this shortcut does not apply."""
    if b'"' in utf8 or b"\x1f" in utf8:
        return None
    lines = pl.read_csv(utf8, has_header=False, separator="\x1f", quote_char=None,
                        schema={"line": pl.String}, raise_if_empty=False)["line"]
    if lines.len() == 0 or lines[0] is None:
        return None
    header = str(lines[0]).split(",")
    width = len(header)
    frame = pl.DataFrame({"line": lines.slice(1)}).with_row_index("n", offset=1).with_columns(
        (pl.col("line").str.count_matches(",", literal=True) + 1).alias("fields"))
    odd = frame.filter((pl.col("fields") != width) | pl.col("line").is_null())
    blank = {int(n) for n, line in zip(odd["n"], odd["line"], strict=True) if line is None}
    ragged = {int(n): int(f) for n, f, line in odd.select("n", "fields", "line").iter_rows()
              if line is not None}
    return header, ragged, blank


def read_text_csv(path: Path, max_bytes: int = DEFAULT_MAX_FILE_BYTES) -> RawFile | FileProblem:
    """Read a delivered CSV as text columns with normalised headers and trimmed values."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            return FileProblem("too_large", f"{size / 1024**2:.0f} MB, above the limit of "
                                            f"{max_bytes / 1024**2:.0f} MB")
        data = path.read_bytes()
    except OSError as exc:
        return FileProblem("unreadable", f"the file could not be opened ({exc.strerror})")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return FileProblem("unreadable", "the file is UTF-16 text; Paris exports must be "
                                         "UTF-8 or Windows-1252")
    if b"\x00" in data:
        return FileProblem("unreadable", "the file holds NUL bytes: it is binary, not text")
    decoded = decode(data)
    text, encoding = decoded.text, decoded.encoding
    # polars reads UTF-8 bytes ~8x faster than a Python string: hand it the delivered bytes
    # (without a byte-order mark) when they are valid UTF-8, else the decoded text re-encoded.
    utf8 = (data[len(UTF8_BOM):] if encoding == "utf-8-sig" else data) if (
        encoding.startswith("utf-8") and not decoded.invalid_bytes) else text.encode("utf-8")
    invalid_bytes = decoded.invalid_bytes
    del data, decoded
    if not text.strip():
        return FileProblem("unreadable", "the file is empty (not even a header row)")
    # No quoting (most files): counted in polars; else Python's reader (~2 s per million rows).
    scanned = _field_counts_unquoted(utf8) or _field_counts(text)
    if isinstance(scanned, FileProblem):
        return scanned
    header, ragged, blank = scanned
    if len(header) == 1:
        for sep, word in ((";", "semicolons"), ("\t", "tabs"), ("|", "vertical bars")):
            if sep in header[0]:
                return FileProblem("unreadable", f"the columns are separated by {word}, not "
                                                 "commas")
    try:
        frame = pl.read_csv(
            utf8,
            has_header=False,
            infer_schema=False,
            quote_char='"',
            raise_if_empty=False,
            truncate_ragged_lines=True,
            schema={f"c{i}": pl.String for i in range(len(header))},
        )
    except pl.exceptions.PolarsError as exc:
        # Polars' message can quote file content; keep only its first line's general shape.
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        first = re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", first)[:200]
        return FileProblem("unreadable", f"the file is not valid CSV ({first})")
    del text, utf8
    originals = tuple(header)
    names = [normalise_header(h) for h in originals]
    # An empty header name (a trailing comma from Excel) is a column with no name: kept under
    # a positional name so staging can ignore it (all empty) or report it as unknown.
    unnamed = tuple(unnamed_column(i) for i, n in enumerate(names, start=1) if n == "")
    names = [n or unnamed_column(i) for i, n in enumerate(names, start=1)]
    seen: set[str] = set()
    for n in names:
        if n in seen:
            return FileProblem("duplicate_column", f"the column {n!r} appears twice", column=n)
        seen.add(n)
    # Records that lack only trailing unnamed fields are not ragged: Excel writes the comma on
    # the header but not always on the rows.
    named_width = len(names) - _trailing_unnamed(names, set(unnamed))
    ragged = {n: f for n, f in ragged.items() if not named_width <= f <= len(names)}
    frame = frame.slice(1)
    frame.columns = names
    frame = frame.with_columns(
        pl.col(n).str.strip_chars().replace("", None) for n in names
    ).with_row_index(ROW_COLUMN, offset=1)
    if blank:
        frame = frame.filter(~pl.col(ROW_COLUMN).is_in(sorted(blank)))
    return RawFile(frame=frame, encoding=encoding, original_headers=originals,
                   ragged=ragged, invalid_bytes=invalid_bytes, unnamed=unnamed)


UNNAMED_PREFIX = "unnamed_column_"


def unnamed_column(position: int) -> str:
    """The name given to the header field at `position` (1 = first) when it has none."""
    return f"{UNNAMED_PREFIX}{position}"


def _trailing_unnamed(names: list[str], unnamed: set[str]) -> int:
    n = 0
    for name in reversed(names):
        if name not in unnamed:
            break
        n += 1
    return n
