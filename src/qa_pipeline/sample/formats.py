"""How a batch is delivered: the per-file format plan (headers, column order, date, flag and code
styles, encodings, line endings, padding, id styles) drawn from the seed, and the writing of typed
arrays as those strings."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import IO, Any

import numpy as np
import polars as pl

from qa_pipeline.sample.arrays import Arrays
from qa_pipeline.sample.schema import EXTRACTS, ID_NAMESPACES, SCHEMA, kinds

__all__ = [
    "CsvSink", "FileFormat", "FormatPlan", "date_text", "format_plan", "header_name", "read_file",
    "to_frame",
]

_DT_FORMATS = (
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M",
)
_DT_WEIGHTS = {
    "dmy": (0.55, 0.3, 0.06, 0.04, 0.03, 0.02),
    "iso": (0.05, 0.05, 0.4, 0.3, 0.1, 0.1),
    "mixed": (0.3, 0.2, 0.2, 0.1, 0.1, 0.1),
}


@dataclass(frozen=True)
class FileFormat:
    header_style: str
    order: tuple[str, ...]
    date_style: str
    flags_mixed: bool
    codes_mixed: bool
    encoding: str  # "utf-8", "utf-8-sig" or "cp1252"
    newline: str
    pad_columns: tuple[str, ...]


@dataclass(frozen=True)
class FormatPlan:
    files: dict[str, FileFormat]
    ids: dict[str, tuple[str, int]]  # namespace -> (prefix, width)


def format_plan(seed: int) -> FormatPlan:
    rng = np.random.default_rng([seed, 0xF0F0F0])

    def subset(pool: Sequence[str], lo: int, hi: int) -> set[str]:
        pool = sorted(pool)
        k = min(len(pool), int(rng.integers(lo, hi + 1)))
        idx = rng.choice(len(pool), size=k, replace=False)
        return {pool[int(i)] for i in idx}

    names = list(EXTRACTS)
    others = [e for e in names if e != "teams"]
    bom = subset(others, 1, 2)
    cp1252 = {"teams"} | subset([e for e in others if e not in bom], 0, 1)
    crlf = subset(names, 2, 5)
    title = subset(names, 1, 2)
    upper_hyphen = subset([e for e in names if e not in title], 1, 2)
    rest = [e for e in names if e not in title | upper_hyphen]
    upper_snake = subset(rest, 0, 1)
    lower_hyphen = subset([e for e in rest if e not in upper_snake], 0, 2)
    styles = {"title": title, "upper_hyphen": upper_hyphen, "upper_snake": upper_snake,
              "lower_hyphen": lower_hyphen}
    shuffled = subset([e for e in names if len(SCHEMA[e]) >= 4], 1, 3)
    dated = [e for e in names if kinds(e) & {"date", "datetime"}]
    iso = subset(dated, 2, 3)
    mixed_dates = subset([e for e in dated if e not in iso], 1, 1)
    flags_mixed = subset([e for e in names if "flag" in kinds(e)], 2, 4)
    codes_mixed = subset([e for e in names if "code" in kinds(e)], 2, 4)
    padded = subset(names, 2, 4)

    files: dict[str, FileFormat] = {}
    for e in names:
        order, pad = _order_and_padding(rng, e, e in shuffled, e in padded)
        files[e] = FileFormat(
            header_style=next((s for s, members in styles.items() if e in members), "snake"),
            order=order,
            date_style="iso" if e in iso else "mixed" if e in mixed_dates else "dmy",
            flags_mixed=e in flags_mixed,
            codes_mixed=e in codes_mixed,
            encoding="cp1252" if e in cp1252 else "utf-8-sig" if e in bom else "utf-8",
            newline="\r\n" if e in crlf else "\n",
            pad_columns=pad,
        )
    return FormatPlan(files=files, ids=_id_styles(rng))


def _order_and_padding(
    rng: np.random.Generator, extract: str, shuffled: bool, padded: bool
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    cols = [c for c, _ in SCHEMA[extract]]
    order = list(cols)
    if shuffled:
        perm = rng.permutation(len(cols))
        if list(perm) == list(range(len(cols))):
            perm = perm[::-1]
        order = [cols[int(i)] for i in perm]
    pad: tuple[str, ...] = ()
    if padded:
        pick = rng.choice(len(cols), size=min(2, len(cols)), replace=False)
        pad = tuple(cols[int(i)] for i in sorted(pick))
    return tuple(order), pad


def _id_styles(rng: np.random.Generator) -> dict[str, tuple[str, int]]:
    """Half the id spaces numeric (zero-padded), the others prefixed."""
    spaces = sorted(ID_NAMESPACES)
    perm = rng.permutation(len(spaces))
    numeric = {spaces[int(i)] for i in perm[: (len(spaces) + 1) // 2]}
    ids: dict[str, tuple[str, int]] = {}
    for ns, (prefix, num_width, pre_width) in ID_NAMESPACES.items():
        ids[ns] = ("", num_width) if ns in numeric else (prefix, pre_width)
    return ids


def header_name(col: str, style: str) -> str:
    if style == "title":
        return " ".join(w.capitalize() for w in col.split("_"))
    if style == "upper_hyphen":
        return col.upper().replace("_", "-")
    if style == "upper_snake":
        return col.upper()
    if style == "lower_hyphen":
        return col.replace("_", "-")
    return col


# --------------------------------------------------------------------------- formatting


def to_frame(
    extract: str,
    data: Arrays,
    plan: FormatPlan,
    rng: np.random.Generator,
    overrides: dict[str, list[str | None]] | None = None,
) -> pl.DataFrame:
    """Turn typed arrays into the delivered strings of one file (canonical column names)."""
    fmt = plan.files[extract]
    n = len(next(iter(data.values())))
    raw: dict[str, pl.Series] = {}
    exprs: list[pl.Expr] = []
    for col, kind in SCHEMA[extract]:
        arr = data[col]
        if kind.startswith("id:"):
            expr = _id_expr(col, arr, plan.ids[kind[3:]], raw)
        elif kind == "date":
            expr = _date_expr(col, arr, fmt, rng, n, raw)
        elif kind == "datetime":
            expr = _datetime_expr(col, arr, fmt, rng, n, raw)
        elif kind == "int":
            raw[col] = pl.Series(col, arr.astype(np.int64))
            expr = pl.col(col).cast(pl.String)
        else:  # flag, code, text: '' means missing
            expr = _text_expr(col, kind, arr, fmt, rng, n, raw)
        if col in fmt.pad_columns:
            expr = _padded(col, expr, rng, n, raw)
        if overrides and col in overrides:
            ov = f"__ov_{col}"
            raw[ov] = pl.Series(ov, overrides[col], dtype=pl.String)
            expr = pl.coalesce(pl.col(ov), expr)
        exprs.append(expr.alias(col))
    return pl.DataFrame(raw).select(exprs)


def _id_expr(col: str, arr: np.ndarray, style: tuple[str, int],
             raw: dict[str, pl.Series]) -> pl.Expr:
    prefix, width = style
    c = pl.col(col)
    raw[col] = pl.Series(col, arr.astype(np.int64))
    return pl.when(c >= 0).then(pl.lit(prefix) + c.cast(pl.String).str.zfill(width))


def _date_expr(col: str, arr: np.ndarray, fmt: FileFormat, rng: np.random.Generator, n: int,
               raw: dict[str, pl.Series]) -> pl.Expr:
    c = pl.col(col)
    raw[col] = pl.Series(col, arr.astype("datetime64[D]"))
    dmy, iso = c.dt.strftime("%d/%m/%Y"), c.dt.strftime("%Y-%m-%d")
    if fmt.date_style == "dmy":
        return dmy
    if fmt.date_style == "iso":
        return iso
    mix = f"__mix_{col}"
    raw[mix] = pl.Series(mix, rng.random(n) < 0.5)
    return pl.when(pl.col(mix)).then(iso).otherwise(dmy)


def _datetime_expr(col: str, arr: np.ndarray, fmt: FileFormat, rng: np.random.Generator,
                   n: int, raw: dict[str, pl.Series]) -> pl.Expr:
    c = pl.col(col)
    raw[col] = pl.Series(col, arr.astype("datetime64[ms]"))
    sel = f"__fmt_{col}"
    w = np.asarray(_DT_WEIGHTS[fmt.date_style])
    raw[sel] = pl.Series(sel, rng.choice(len(_DT_FORMATS), size=n, p=w / w.sum()))
    chain: Any = pl.when(pl.col(sel) == 0).then(c.dt.strftime(_DT_FORMATS[0]))
    for i, f in enumerate(_DT_FORMATS[1:], start=1):
        chain = chain.when(pl.col(sel) == i).then(c.dt.strftime(f))
    expr: pl.Expr = chain
    return expr


def _text_expr(col: str, kind: str, arr: np.ndarray, fmt: FileFormat,
               rng: np.random.Generator, n: int, raw: dict[str, pl.Series]) -> pl.Expr:
    c = pl.col(col)
    raw[col] = pl.Series(col, arr.astype(str))
    expr = pl.when(c != "").then(c)
    if kind == "flag" and fmt.flags_mixed:
        sel = f"__var_{col}"
        raw[sel] = pl.Series(sel, rng.integers(0, 12, n))
        v = pl.col(sel)
        return (
            pl.when((c == "Y") & (v == 0)).then(pl.lit("Yes"))
            .when((c == "Y") & (v == 1)).then(pl.lit("yes"))
            .when((c == "Y") & (v == 2)).then(pl.lit("YES"))
            .when((c == "N") & (v == 0)).then(pl.lit("No"))
            .when((c == "N") & (v == 1)).then(pl.lit("no"))
            .when((c == "N") & (v == 2)).then(pl.lit("NO"))
            .otherwise(expr)
        )
    if kind == "code" and fmt.codes_mixed:
        sel = f"__low_{col}"
        raw[sel] = pl.Series(sel, rng.random(n) < 0.1)
        return pl.when(pl.col(sel)).then(expr.str.to_lowercase()).otherwise(expr)
    return expr


def _padded(col: str, expr: pl.Expr, rng: np.random.Generator, n: int,
            raw: dict[str, pl.Series]) -> pl.Expr:
    sel = f"__pad_{col}"
    raw[sel] = pl.Series(sel, rng.integers(0, 60, n))
    v = pl.col(sel)
    return (
        pl.when(v == 0).then(pl.lit(" ") + expr)
        .when(v == 1).then(expr + pl.lit("  "))
        .when(v == 2).then(pl.lit("  ") + expr + pl.lit(" "))
        .otherwise(expr)
    )


class CsvSink:
    """One extract file, written chunk by chunk with its encoding and line endings."""

    def __init__(
        self, path: Path, extract: str, fmt: FileFormat, extra: Sequence[str] = ()
    ) -> None:
        self.fmt = fmt
        self.extra = tuple(extra)
        self._fh: IO[bytes] = path.open("wb")
        if fmt.encoding == "utf-8-sig":
            self._fh.write(b"\xef\xbb\xbf")
        header = [header_name(c, fmt.header_style) for c in fmt.order]
        header[1:1] = self.extra
        self._fh.write(self._encode(",".join(header) + fmt.newline))

    def _encode(self, text: str) -> bytes:
        return text.encode("cp1252" if self.fmt.encoding == "cp1252" else "utf-8")

    def write(self, frame: pl.DataFrame) -> None:
        if frame.height == 0:
            return
        cols = list(self.fmt.order)
        cols[1:1] = self.extra
        buf = io.BytesIO()
        frame.select(cols).write_csv(
            buf, include_header=False, line_terminator=self.fmt.newline
        )
        data = buf.getvalue()
        if self.fmt.encoding == "cp1252":
            data = data.decode("utf-8").encode("cp1252")
        self._fh.write(data)

    def close(self) -> None:
        self._fh.close()


def date_text(fmt: FileFormat, day: date, rng: np.random.Generator, n: int) -> np.ndarray:
    """n copies of ``day`` written as a file of this format writes its dates (a ``mixed``
    file: ISO or dd/mm/yyyy, row by row): for a value set on an existing row."""
    dmy, iso = day.strftime("%d/%m/%Y"), day.isoformat()
    if fmt.date_style == "dmy":
        return np.full(n, dmy)
    if fmt.date_style == "iso":
        return np.full(n, iso)
    return np.where(rng.random(n) < 0.5, iso, dmy)


def read_file(path: Path, extract: str, fmt: FileFormat) -> pl.DataFrame:
    """A file this module wrote, read back as delivered (every value a string, blanks null,
    white space kept), with the canonical column names in contract order: written again
    with :class:`CsvSink`, an unchanged frame gives the same bytes."""
    data = path.read_bytes()
    if fmt.encoding == "cp1252":
        data = data.decode("cp1252").encode("utf-8")
    elif data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    frame = pl.read_csv(io.BytesIO(data), infer_schema=False, has_header=True)
    if frame.width != len(fmt.order):
        raise ValueError(f"{path}: not a file of this format ({frame.width} columns)")
    frame.columns = list(fmt.order)
    return frame.select([c for c, _ in SCHEMA[extract]])
