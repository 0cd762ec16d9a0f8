"""The comparison: the same read, parse, validation and load written "the pandas way".

What a team would naturally write with pandas + pandera's pandas backend + ``DataFrame.to_sql``,
driven by the same contracts (``src/qa_pipeline/spec/extracts.yaml``) so that it checks
the same kinds of rule, but kept simple:

* read: ``pd.read_csv(dtype=str)`` (UTF-8, falling back to Windows-1252), headers normalised,
  values trimmed, blanks -> missing;
* parse: codes/flags upper-cased (YES/NO -> Y/N), dates with ``pd.to_datetime(format=...)``
  for each accepted format (``dd/mm/yyyy`` then ISO), datetimes likewise then
  ``tz_localize("Europe/London").tz_convert("UTC")``, ints with ``pd.to_numeric``;
* validate (``pandera.pandas``, ``lazy=True``): required values (``nullable=False``),
  ``required_when`` conditions, code lists (``Check.isin``), date/datetime/int formats (a value
  was delivered but did not parse), dates not in the future, ``not_before`` between columns,
  key uniqueness (``unique=key``), references to the loaded parent extract (``Check.isin`` of
  the parent's keys, composite keys through a MultiIndex). Rows with a failure are dropped.
  NOT covered (our pipeline does them, so the comparison flatters pandas): the
  identifying-data guard, first-of-month, minimum, not_equal, only_when, weekend warnings,
  matches/not_before/not_after parent lookups, overlap, quarantined-vs-missing reference
  status, the issue rows' record ids and values;
* load: ``DataFrame.to_sql(if_exists="append", index=False)`` into the same schema, in one
  transaction.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa

from qa_pipeline.spec.contracts import Column, Condition, Contracts, Extract

DATE_FORMATS = ("%d/%m/%Y", "%Y-%m-%d")
DATETIME_FORMATS = ("%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S")
FLAG_SYNONYMS = {"YES": "Y", "NO": "N"}
LOCAL_TZ = "Europe/London"
TEXT = "__text"  # suffix of the delivered text kept next to a parsed date/datetime/int column


# --- read ----------------------------------------------------------------------------------


def read_csv(path: Path) -> pd.DataFrame:
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except UnicodeDecodeError:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="cp1252")
    df.columns = [re.sub(r"[\s\-]+", "_", c.strip()).lower() for c in df.columns]
    df = df.apply(lambda s: s.str.strip().replace("", None))
    df.insert(0, "source_row", range(1, len(df) + 1))
    return df


# --- parse ---------------------------------------------------------------------------------


def to_datetime(text: pd.Series, formats: tuple[str, ...]) -> pd.Series:
    out = pd.to_datetime(text, format=formats[0], errors="coerce")
    for f in formats[1:]:
        out = out.fillna(pd.to_datetime(text, format=f, errors="coerce"))
    return out


def parse_column(s: pd.Series, c: Column) -> pd.Series:
    if c.type in ("code", "flag"):
        up = s.str.upper()
        return up.replace(FLAG_SYNONYMS) if c.type == "flag" else up
    if c.type == "date":
        return to_datetime(s, DATE_FORMATS)
    if c.type == "datetime":
        local = to_datetime(s.str.replace("T", " ", regex=False), DATETIME_FORMATS)
        # the repeated hour in October: the earlier (summer time) reading, as ours does
        earliest = np.ones(len(local), dtype=bool)
        return local.dt.tz_localize(LOCAL_TZ, ambiguous=earliest, nonexistent="NaT"
                                    ).dt.tz_convert("UTC")
    if c.type == "int":
        return pd.to_numeric(s.where(s.str.fullmatch(r"-?\d{1,18}")), errors="coerce"
                             ).astype("Int64")
    return s


def parse(df: pd.DataFrame, e: Extract) -> pd.DataFrame:
    out = pd.DataFrame({"source_row": df["source_row"]})
    for c in e.columns.values():
        s = df[c.name] if c.name in df.columns else pd.Series(None, index=df.index, dtype=str)
        out[c.name] = parse_column(s, c)
        if c.type in ("date", "datetime", "int"):
            out[c.name + TEXT] = s
    return out


# --- validate ------------------------------------------------------------------------------


def local_day(s: pd.Series) -> pd.Series:
    """A date or datetime column as a naive UK local date (for comparisons)."""
    if getattr(s.dtype, "tz", None) is not None:
        return s.dt.tz_convert(LOCAL_TZ).dt.tz_localize(None).dt.normalize()
    return s


def condition(df: pd.DataFrame, cond: Condition) -> pd.Series:
    if cond.present:
        return df[cond.column].notna()
    return df[cond.column].isin(cond.values)


def schema(e: Extract, as_of: date, parents: dict[str, pd.DataFrame]) -> pa.DataFrameSchema:
    columns: dict[str, pa.Column] = {}
    checks: list[pa.Check] = []
    today = pd.Timestamp(as_of)
    for c in e.columns.values():
        col_checks = []
        if c.allowed_values:
            col_checks.append(pa.Check.isin(list(c.allowed_values),
                                            name=f"{e.name}.{c.name}.unknown_code"))
        for ref in e.references:
            if ref.columns == (c.name,) and ref.extract in parents:
                parent = parents[ref.extract]
                if ref.where is not None:
                    parent = parent[condition(parent, ref.where)]
                keys = parent[ref.to_columns[0]].dropna().unique().tolist()
                col_checks.append(pa.Check.isin(keys, name=f"{e.name}.{c.name}.unresolved"))
        columns[c.name] = pa.Column(checks=col_checks, nullable=not c.required,
                                    required=True)
        name = c.name
        if c.type in ("date", "datetime", "int"):
            checks.append(pa.Check(lambda df, n=name: df[n + TEXT].isna() | df[n].notna(),
                                   name=f"{e.name}.{name}.invalid_{c.type}"))
        if c.required_when is not None:
            checks.append(pa.Check(
                lambda df, n=name, w=c.required_when: ~condition(df, w) | df[n].notna(),
                name=f"{e.name}.{name}.missing"))
        if c.type in ("date", "datetime") and not c.future_allowed:
            checks.append(pa.Check(
                lambda df, n=name: ~(local_day(df[n]) > today),
                name=f"{e.name}.{name}.future_date"))
        if c.not_before is not None:
            checks.append(pa.Check(
                lambda df, n=name, o=c.not_before: ~(local_day(df[n]) < local_day(df[o])),
                name=f"{e.name}.{name}.before_{c.not_before}"))
    for ref in e.references:
        if len(ref.columns) > 1 and ref.extract in parents:
            keys = pd.MultiIndex.from_frame(parents[ref.extract][list(ref.to_columns)])
            checks.append(pa.Check(
                lambda df, cols=list(ref.columns), k=keys:
                    df[cols].isna().any(axis=1) | pd.MultiIndex.from_frame(df[cols]).isin(k),
                name=f"{e.name}.{'|'.join(ref.columns)}.unresolved"))
    return pa.DataFrameSchema(
        columns, checks=checks, strict=False, name=e.name,
        unique=list(e.key) if e.unique else None, report_duplicates="exclude_first",
    )


def validate(typed: pd.DataFrame, e: Extract, as_of: date, parents: dict[str, pd.DataFrame]
             ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(loaded rows, failure cases). Every failure quarantines its row."""
    try:
        schema(e, as_of, parents).validate(typed, lazy=True)
        failures = pd.DataFrame(columns=["index", "check", "column", "failure_case"])
    except pa.errors.SchemaErrors as exc:
        failures = exc.failure_cases
    bad = failures["index"].dropna().unique()
    loaded = typed.drop(index=bad).drop(columns=[c for c in typed.columns if c.endswith(TEXT)])
    return loaded, failures


# --- the stages as the benchmark calls them ------------------------------------------------


def read_parse_batch(batch_dir: Path, contracts: Contracts) -> dict[str, int]:
    rows = {}
    for e in contracts.ordered():
        typed = parse(read_csv(batch_dir / e.file_name), e)
        rows[e.name] = len(typed)
    return rows


def read_validate_batch(batch_dir: Path, contracts: Contracts, as_of: date
                        ) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    loaded: dict[str, pd.DataFrame] = {}
    stats: dict[str, Any] = {}
    for e in contracts.ordered():
        typed = parse(read_csv(batch_dir / e.file_name), e)
        ok, failures = validate(typed, e, as_of, loaded)
        loaded[e.name] = ok
        stats[e.name] = {"read": len(typed), "loaded": len(ok), "failures": len(failures)}
    return loaded, stats


def to_sql_all(frames: dict[str, pd.DataFrame], conn: Any) -> None:
    """The load: every table appended with DataFrame.to_sql on one connection (transaction)."""
    for table, df in frames.items():
        df.to_sql(table, conn, if_exists="append", index=False)
