"""Build STAGED extract frames (typed, validated rows) from a few dict rows, for indicator tests.

The column names and dtypes come from the contracts (`load_contracts()`) and the validator's
type map (`validation.DTYPES`), so they cannot drift from what staging produces. Columns a row
does not mention are null of the right type; extracts a test does not mention are empty frames.

Values may be given as Python objects or as ISO text for convenience:
- date columns: `date(2013, 12, 24)` or `"2013-12-24"`;
- datetime columns (`referral_datetime`): an aware `datetime`, or `"2013-12-24 09:00"`, which
  is read as **UTC** (staged datetimes are UTC; the referral date is the Europe/London date);
- everything else as is (flags `'Y'`/`'N'`, codes upper case, `outcomes_recorded` an int).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

import polars as pl

from qa_pipeline.ingest.validation import DTYPES
from qa_pipeline.spec.contracts import load_contracts

Row = Mapping[str, Any]


def schema(extract: str) -> dict[str, pl.DataType]:
    """The staged schema of one extract: contract column -> polars dtype."""
    e = load_contracts().extracts[extract]
    return {name: DTYPES[c.type] for name, c in e.columns.items()}


def _convert(value: Any, dtype: pl.DataType) -> Any:
    if value is None or not isinstance(value, str):
        return value
    if dtype == pl.Date():
        return date.fromisoformat(value)
    if isinstance(dtype, pl.Datetime):
        parsed = datetime.fromisoformat(value)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return value


def frame(extract: str, rows: Iterable[Row] = ()) -> pl.DataFrame:
    """A staged frame of `extract` from dict rows (unknown column names are an error)."""
    sch = schema(extract)
    rows = list(rows)
    for r in rows:
        unknown = set(r) - set(sch)
        if unknown:
            raise KeyError(f"{extract}: no such column(s) {sorted(unknown)}")
    data = {c: [_convert(r.get(c), t) for r in rows] for c, t in sch.items()}
    return pl.DataFrame(data, schema=sch)


def all_extracts() -> list[str]:
    return list(load_contracts().extracts)


def staged(**tables: Iterable[Row]) -> dict[str, pl.DataFrame]:
    """Every extract of the contract: the ones given built from their rows, the others empty."""
    unknown = set(tables) - set(all_extracts())
    if unknown:
        raise KeyError(f"no such extract(s) {sorted(unknown)}")
    return {name: frame(name, tables.get(name, ())) for name in all_extracts()}


def statuses(**overrides: str) -> dict[str, str]:
    """Every extract 'loaded', except those overridden ('missing' / 'rejected')."""
    out = {name: "loaded" for name in all_extracts()}
    unknown = set(overrides) - set(out)
    if unknown:
        raise KeyError(f"no such extract(s) {sorted(unknown)}")
    out.update(overrides)
    return out
