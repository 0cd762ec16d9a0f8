"""Validate one extract's text frame against its contract with pandera (polars backend).

The path of one extract: text -> typed columns (explicit parsing, one format at a time) ->
lookup columns from the already-loaded parent extracts -> one pandera check per rule, run on
an eager DataFrame with `lazy=True` so every failure of every row is collected -> findings,
and the rows with an error quarantined by `failure_cases["index"]`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date

import pandera.polars as pa
import polars as pl
from pandera.api.polars.types import PolarsData

from qa_pipeline.ingest.findings import ISSUE_SCHEMA, empty_issues
from qa_pipeline.ingest.reading import INVALID_BYTE, ROW_COLUMN
from qa_pipeline.spec.contracts import Column, Condition, Extract, Rule
from qa_pipeline.spec.rule_kinds import (  # noqa: F401  (raw, ref_status, ... are used by callers)
    DEFAULT_EARLIEST,
    DEPENDENT_KIND,
    FIELD_COUNT_COL,
    INVALID_BYTE_COL,
    LOCAL_TZ,
    OVERLAP_COL,
    REF_STATUS_COL,
    ROW_COLUMN_RULES,
    TOO_LONG_COL,
    CheckContext,
    as_date,
    condition_expr,
    parent_col,
    raw,
    ref_status,
    row_expr,
)

DATE_FORMATS: tuple[tuple[str, str], ...] = (
    (r"^\d{1,2}/\d{1,2}/\d{4}$", "%d/%m/%Y"),
    (r"^\d{4}-\d{2}-\d{2}$", "%Y-%m-%d"),
)
DATETIME_FORMATS: tuple[tuple[str, str], ...] = (
    (r"^\d{1,2}/\d{1,2}/\d{4} \d{1,2}:\d{2}$", "%d/%m/%Y %H:%M"),
    (r"^\d{1,2}/\d{1,2}/\d{4} \d{1,2}:\d{2}:\d{2}$", "%d/%m/%Y %H:%M:%S"),
    (r"^\d{4}-\d{2}-\d{2}[ T]\d{1,2}:\d{2}$", "%Y-%m-%d %H:%M"),
    (r"^\d{4}-\d{2}-\d{2}[ T]\d{1,2}:\d{2}:\d{2}$", "%Y-%m-%d %H:%M:%S"),
)
FLAG_SYNONYMS = {"YES": "Y", "NO": "N"}
INT_PATTERN = r"^-?\d{1,18}$"

DTYPES: dict[str, pl.DataType] = {
    "id": pl.String(), "text": pl.String(), "code": pl.String(), "flag": pl.String(),
    "date": pl.Date(), "datetime": pl.Datetime("us", "UTC"), "int": pl.Int64(),
}


ROOT_RULE_COL = "__root_rule_id"
ROOT_RECORD_COL = "__root_record_id"
"""A quarantined row's root cause, offered to the rows that refer to it: the first error rule
it broke (in the contract's rule order) and its record_id."""


def ref_roots(index: int) -> tuple[str, str]:
    """The helper columns holding the root cause a reference found (null unless quarantined)."""
    return f"__ref{index}_root_rule", f"__ref{index}_root_record"


DEFAULT_MAX_FIELD_CHARS = 32_767
"""The longest value a row may carry (Excel's cell limit); configurable."""


# --- parsing -------------------------------------------------------------------------------


def parse_expr(c: Column) -> pl.Expr:
    """The typed value of a column; null where the text is missing or does not parse."""
    src = pl.col(raw(c.name))
    if c.type in ("id", "text"):
        return src
    if c.type in ("code", "flag"):
        up = src.str.to_uppercase()
        if c.type == "flag":
            up = up.replace(FLAG_SYNONYMS)
        return pl.when(up.is_in(list(c.allowed_values))).then(up)
    if c.type == "int":
        return pl.when(src.str.contains(INT_PATTERN)).then(src.cast(pl.Int64, strict=False))
    if c.type == "date":
        return pl.coalesce(
            [pl.when(src.str.contains(p)).then(src.str.to_date(f, strict=False))
             for p, f in DATE_FORMATS]
        )
    if c.type == "datetime":
        text = src.str.replace("T", " ", literal=True)
        local = pl.coalesce(
            [pl.when(text.str.contains(p)).then(
                text.str.to_datetime(f.replace("T", " "), strict=False, time_unit="us"))
             for p, f in DATETIME_FORMATS]
        )
        # A time that does not exist in UK local time (the hour skipped in March) is an error.
        return local.dt.replace_time_zone(
            LOCAL_TZ, ambiguous="earliest", non_existent="null"
        ).dt.convert_time_zone("UTC")
    raise ValueError(f"unknown column type {c.type}")


def rule_expr(rule: Rule, e: Extract, as_of: date,
              earliest: Mapping[str, date] | None = None) -> pl.Expr:
    """True where a row passes the rule: the rule's kind says how (`rule_kinds`)."""
    return row_expr(rule, CheckContext(e, as_of, earliest or DEFAULT_EARLIEST))


# --- parent lookups ------------------------------------------------------------------------


@dataclass
class ParentState:
    """What an extract offers to the extracts that reference it."""

    status: str  # loaded | rejected | missing
    loaded: pl.DataFrame | None = None
    quarantined_keys: pl.DataFrame | None = None
    """Keys (as delivered) of the quarantined rows, each with its root cause (ROOT_RULE_COL,
    ROOT_RECORD_COL)."""
    unique_key: tuple[str, ...] = ()
    """Key columns on which the loaded rows are known to be unique (duplicates are
    quarantined and the key is text as delivered), so no grouping is needed."""
    column_types: dict[str, str] | None = None
    _key_status: dict[tuple[object, ...], pl.DataFrame] = field(default_factory=dict)

    def key_status(self, columns: tuple[str, ...], where: Condition | None) -> pl.DataFrame:
        """Every distinct delivered key with what a reference to it finds: ok, wrong_type
        (loaded, but the `where` condition fails for all its rows) or quarantined (with the
        root cause of its first quarantined row, null otherwise). Built once
        per parent and key, however many extracts refer to it (persons is referred to eight
        times), so each reference is one join (docs/performance.md)."""
        cache_key = (columns, where)
        if cache_key not in self._key_status:
            assert self.loaded is not None and self.quarantined_keys is not None
            cols = list(columns)
            where_ok = (condition_expr(where) if where else pl.lit(True)).alias("__where_ok")
            loaded = self.loaded.select([*cols, where_ok])
            if columns != self.unique_key:
                loaded = loaded.group_by(cols).agg(pl.col("__where_ok").any())
            loaded = loaded.select(*cols, pl.when(pl.col("__where_ok")).then(pl.lit("ok"))
                                   .otherwise(pl.lit("wrong_type")).alias(REF_STATUS_COL),
                                   pl.lit(None, pl.String).alias(ROOT_RULE_COL),
                                   pl.lit(None, pl.String).alias(ROOT_RECORD_COL))
            quarantined = self.quarantined_keys.select(
                *cols, ROOT_RULE_COL, ROOT_RECORD_COL
            ).unique(subset=cols, keep="first", maintain_order=True).join(
                loaded, on=cols, how="anti", nulls_equal=False
            ).select(*cols, pl.lit("quarantined").alias(REF_STATUS_COL), ROOT_RULE_COL,
                     ROOT_RECORD_COL)
            self._key_status[cache_key] = pl.concat([loaded, quarantined])
        return self._key_status[cache_key]


def _reference_status(frame: pl.DataFrame, e: Extract, parents: dict[str, ParentState]
                      ) -> tuple[pl.DataFrame, list[int]]:
    """Add one status column per reference: ok, missing, quarantined, wrong_type, or null where
    the value is blank or the referenced extract was not loaded; and, for a quarantined one,
    the root cause (`ref_roots`). Returns the unchecked refs."""
    unchecked: list[int] = []
    for i, ref in enumerate(e.references):
        state = parents.get(ref.extract)
        name = ref_status(i)
        root_rule, root_record = ref_roots(i)
        if state is None or state.status != "loaded" or state.loaded is None:
            frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias(c)
                                       for c in (name, root_rule, root_record))
            unchecked.append(i)
            continue
        keys = state.key_status(ref.to_columns, ref.where).rename(
            dict(zip(ref.to_columns, ref.columns, strict=True)))
        joined = frame.select(list(ref.columns)).join(
            keys, on=list(ref.columns), how="left", maintain_order="left", nulls_equal=False)
        any_null = pl.any_horizontal([pl.col(c).is_null() for c in ref.columns])
        status = (pl.when(any_null).then(None)
                  .otherwise(pl.col(REF_STATUS_COL).fill_null(pl.lit("missing"))))
        frame = frame.with_columns(joined.select(
            status.alias(name), pl.col(ROOT_RULE_COL).alias(root_rule),
            pl.col(ROOT_RECORD_COL).alias(root_record)))
    return frame, unchecked


def _parent_lookups(frame: pl.DataFrame, e: Extract, parents: dict[str, ParentState]
                    ) -> pl.DataFrame:
    for c in e.columns.values():
        for lookup in (c.matches_parent, c.not_before_parent, c.not_after_parent):
            if lookup is None or parent_col(lookup) in frame.columns:
                continue
            state = parents.get(lookup.extract)
            ref = next(r for r in e.references if r.columns == (lookup.via,))
            if state is None or state.status != "loaded" or state.loaded is None:
                # No parent values: nulls of the parent column's type (the checks pass).
                ptype = next((r.params["parent_type"] for r in e.rules
                              if r.params.get("lookup") == lookup and "parent_type" in r.params),
                             "id")
                frame = frame.with_columns(
                    pl.lit(None, dtype=DTYPES[ptype]).alias(parent_col(lookup)))
                continue
            target = state.loaded.select(
                pl.col(ref.to_columns[0]).alias(lookup.via),
                pl.col(lookup.column).alias(parent_col(lookup)),
            ).unique(subset=[lookup.via], keep="first")
            looked = frame.select(lookup.via).join(
                target, on=lookup.via, how="left", maintain_order="left"
            )
            frame = frame.with_columns(looked[parent_col(lookup)])
    return frame


def _first_column(e: Extract, test: Callable[[pl.Expr], pl.Expr]) -> pl.Expr:
    """The name of the first contract column whose raw text passes `test`, else null."""
    found = pl.lit(None, dtype=pl.String)
    for c in reversed(list(e.columns)):
        found = pl.when(test(pl.col(raw(c)))).then(pl.lit(c)).otherwise(found)
    return found


def _row_shape(frame: pl.DataFrame, e: Extract, ragged: dict[int, int],
               max_field_chars: int, marked_bytes: bool = False) -> pl.DataFrame:
    """Helper columns for the wrong-field-count, value-too-long and invalid-byte rules."""
    counts = pl.DataFrame({ROW_COLUMN: list(ragged), FIELD_COUNT_COL: list(ragged.values())},
                          schema={ROW_COLUMN: pl.Int64, FIELD_COUNT_COL: pl.Int64})
    frame = frame.join(counts, on=ROW_COLUMN, how="left", maintain_order="left")
    invalid = (_first_column(e, lambda v: v.str.contains(INVALID_BYTE, literal=True))
               if marked_bytes else pl.lit(None, dtype=pl.String))
    return frame.with_columns(
        _first_column(e, lambda v: v.str.len_chars() > max_field_chars).alias(TOO_LONG_COL),
        invalid.alias(INVALID_BYTE_COL))


def _overlap(frame: pl.DataFrame, e: Extract) -> pl.DataFrame:
    """Flag each record that starts before an earlier record of the same group has ended
    (end dates are exclusive, as for "active on D"; a blank end is open-ended)."""
    if e.overlap is None:
        return frame
    ov = e.overlap
    order = frame.select(
        pl.int_range(pl.len()).alias("__pos"), pl.col(ov.group), pl.col(ov.start), pl.col(ov.end)
    ).filter(pl.col(ov.group).is_not_null() & pl.col(ov.start).is_not_null())
    order = order.sort([ov.group, ov.start, "__pos"]).with_columns(
        pl.col(ov.end).fill_null(date.max).cum_max().shift(1).over(ov.group).alias("__prev_end")
    ).with_columns((pl.col(ov.start) < pl.col("__prev_end")).fill_null(False).alias(OVERLAP_COL))
    flags = pl.int_range(frame.height, eager=True).alias("__pos").to_frame().join(
        order.select("__pos", OVERLAP_COL), on="__pos", how="left", maintain_order="left"
    )
    return frame.with_columns(flags[OVERLAP_COL].fill_null(False))


# --- pandera -------------------------------------------------------------------------------


def _check_fn(expr: pl.Expr) -> Callable[[PolarsData], pl.LazyFrame]:
    def fn(data: PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(expr.alias("passes"))

    return fn


def build_schema(e: Extract, as_of: date, earliest: Mapping[str, date] | None = None
                 ) -> tuple[pa.DataFrameSchema, list[Rule]]:
    """The pandera schema of an extract: typed columns plus one named check per row rule."""
    rules = [r for r in e.rules if r.level == "row"]
    columns = {
        c.name: pa.Column(DTYPES[c.type], nullable=True, required=True, coerce=False,
                          description=c.description)
        for c in e.columns.values()
    }
    checks = [
        pa.Check(_check_fn(rule_expr(r, e, as_of, earliest)), name=r.rule_id,
                 error=r.rule_id)
        for r in rules
    ]
    return pa.DataFrameSchema(columns, checks=checks, strict=False, name=e.name), rules


@dataclass
class ValidationResult:
    loaded: pl.DataFrame           # rows not quarantined: typed columns + source_row
    quarantined_rows: pl.DataFrame  # the other rows (validation frame: raw and typed)
    issues: pl.DataFrame           # row-level findings (ISSUE_SCHEMA)
    quarantined: int
    warnings: int
    unchecked_references: list[int]


def typed_frame(text: pl.DataFrame, e: Extract) -> pl.DataFrame:
    """Delivered text -> typed columns next to their raw text (missing optional columns null)."""
    present = set(text.columns)
    frame = text.select(
        [pl.col(ROW_COLUMN).cast(pl.Int64)]
        + [
            (pl.col(c) if c in present else pl.lit(None, dtype=pl.String)).alias(raw(c))
            for c in e.columns
        ]
    )
    return frame.with_columns(
        parse_expr(c).cast(DTYPES[c.type]).alias(c.name) for c in e.columns.values()
    )


def validation_frame(text: pl.DataFrame, e: Extract, parents: dict[str, ParentState],
                     ragged: dict[int, int] | None = None,
                     max_field_chars: int = DEFAULT_MAX_FIELD_CHARS,
                     marked_bytes: bool = False) -> tuple[pl.DataFrame, list[int]]:
    """The frame pandera validates: typed columns, raw text and every helper column the
    rules read (row shape, reference status, parent values, overlap). Also returns the
    references that could not be checked (their extract was not loaded)."""
    frame = typed_frame(text, e)
    frame = _row_shape(frame, e, ragged or {}, max_field_chars, marked_bytes)
    frame, unchecked = _reference_status(frame, e, parents)
    frame = _parent_lookups(frame, e, parents)
    return _overlap(frame, e), unchecked


def validate_extract(text: pl.DataFrame, e: Extract, as_of: date,
                     parents: dict[str, ParentState], ragged: dict[int, int] | None = None,
                     max_field_chars: int = DEFAULT_MAX_FIELD_CHARS,
                     marked_bytes: bool = False,
                     earliest: Mapping[str, date] | None = None) -> ValidationResult:
    """Validate one extract. `marked_bytes`: the file had bytes invalid in its encoding
    (`reading.INVALID_BYTE` marks them); `earliest`: the earliest plausible dates."""
    frame, unchecked = validation_frame(text, e, parents, ragged, max_field_chars,
                                        marked_bytes)
    schema, rules = build_schema(e, as_of, earliest)
    error_ids = {r.rule_id for r in rules if r.severity == "error"}
    failures = _without_dependence_of_quarantined(_failures(schema, frame), rules, error_ids)
    issues = _issue_rows(failures, frame, e, as_of, rules)
    bad_pos = (
        failures.filter(pl.col("rule_id").is_in(list(error_ids)))["index"].unique()
        if failures.height else pl.Series("index", [], dtype=pl.Int64)
    )
    keep = ~pl.int_range(pl.len()).is_in(bad_pos.cast(pl.Int64).implode())
    loaded = frame.filter(keep).select([ROW_COLUMN, *e.columns])
    warnings = issues.filter(pl.col("severity") == "warning").height
    return ValidationResult(loaded, _with_root_cause(frame, keep, failures, rules, e), issues,
                            frame.height - loaded.height, warnings, unchecked)


def _without_dependence_of_quarantined(failures: pl.DataFrame, rules: list[Rule],
                                       error_ids: set[str]) -> pl.DataFrame:
    """A row with an error of its own is quarantined, not a dependent row: its reference to a
    quarantined record is no warning (extracts.md "Severity": a dependent row is loaded)."""
    dependence = [r.rule_id for r in rules if r.kind == DEPENDENT_KIND]
    if not dependence or failures.height == 0:
        return failures
    erring = failures.filter(pl.col("rule_id").is_in(list(error_ids)))["index"].implode()
    return failures.filter(~(pl.col("rule_id").is_in(dependence)
                             & pl.col("index").is_in(erring)))


def _with_root_cause(frame: pl.DataFrame, keep: pl.Expr, failures: pl.DataFrame,
                     rules: list[Rule], e: Extract) -> pl.DataFrame:
    """The quarantined rows, each with its root cause: the first error rule it broke, in the
    contract's rule order (the order docs/rules.md lists them), and its record_id."""
    order = {r.rule_id: n for n, r in enumerate(rules) if r.severity == "error"}
    first = failures.filter(pl.col("rule_id").is_in(list(order))).with_columns(
        pl.col("rule_id").replace_strict(order, return_dtype=pl.Int64).alias("__order")
    ).sort("index", "__order").unique("index", keep="first").select(
        pl.col("index").alias("__pos"), pl.col("rule_id").alias(ROOT_RULE_COL))
    return frame.with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias("__pos")).filter(
        ~keep).join(first, on="__pos", how="left", maintain_order="left").with_columns(
        record_id_expr(e).alias(ROOT_RECORD_COL)).drop("__pos")


def _failures(schema: pa.DataFrameSchema, frame: pl.DataFrame) -> pl.DataFrame:
    """Run pandera eagerly and return (index, rule_id) of every row-level failure."""
    names = [c.name for c in schema.checks]
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        fc = exc.failure_cases
        table_level = fc.filter(pl.col("index").is_null())
        if table_level.height:
            # A dtype or structure failure means the parser produced the wrong frame: a code
            # fault, never a data problem (data problems are row checks).
            raise RuntimeError(
                f"{schema.name}: schema-level validation failure: "
                f"{table_level.select('check', 'column').to_dicts()}"
            ) from exc
        return fc.select(
            pl.col("index").cast(pl.Int64),
            pl.col("check_number").map_elements(lambda i: names[i], return_dtype=pl.String)
            .alias("rule_id"),
        ).unique(maintain_order=True)
    return pl.DataFrame(schema={"index": pl.Int64, "rule_id": pl.String})


def record_id_expr(e: Extract) -> pl.Expr:
    """The record's key as delivered; several key columns joined by `|` (reporting-db.md)."""
    return pl.concat_str([pl.col(raw(k)).fill_null("") for k in e.key], separator="|")


def _issue_rows(failures: pl.DataFrame, frame: pl.DataFrame, e: Extract, as_of: date,
                rules: list[Rule]) -> pl.DataFrame:
    if failures.height == 0:
        return empty_issues()
    meta = pl.DataFrame(
        {
            "rule_id": [r.rule_id for r in rules],
            "severity": [r.severity for r in rules],
            "message": [r.message for r in rules],
            "message_cy": [r.message_cy or None for r in rules],
            "column_name": [_rule_column(r) for r in rules],
            "sensitive": [bool(r.params.get("sensitive")) for r in rules],
        }
    )
    positions = frame.select(
        pl.int_range(pl.len()).cast(pl.Int64).alias("index"),
        pl.col(ROW_COLUMN).alias("source_row"),
        record_id_expr(e).alias("record_id"),
        (pl.col(raw(e.child_column)) if e.child_column else pl.lit(None, pl.String))
        .alias("child_id"),
        (pl.col(raw(e.team_column)) if e.team_column else pl.lit(None, pl.String))
        .alias("team_id"),
        *[pl.col(raw(c)) for c in e.columns],
        *[pl.col(c) for c in (*ROW_COLUMN_RULES.values(), FIELD_COUNT_COL)
          if c in frame.columns],
        *[pl.col(c) for i in range(len(e.references)) for c in ref_roots(i)
          if c in frame.columns],
    )
    joined = failures.join(meta, on="rule_id", how="left").join(positions, on="index", how="left")
    value = pl.lit(None, dtype=pl.String)
    for col in e.columns:
        value = pl.when(pl.col("column_name") == col).then(pl.col(raw(col))).otherwise(value)
    for ref in e.references:
        if len(ref.columns) > 1:
            joined_val = pl.concat_str([pl.col(raw(c)).fill_null("") for c in ref.columns],
                                       separator="|")
            value = pl.when(pl.col("column_name") == "|".join(ref.columns)).then(
                joined_val).otherwise(value)
    value = pl.when(pl.col("sensitive")).then(None).otherwise(value)
    # Rules whose column differs row by row.
    column = pl.col("column_name")
    for suffix, helper in ROW_COLUMN_RULES.items():
        if helper not in frame.columns:
            continue
        this = pl.col("rule_id") == f"{e.name}.{suffix}"
        row_value = pl.lit(None, dtype=pl.String)
        for col in e.columns:
            row_value = pl.when(pl.col(helper) == col).then(pl.col(raw(col))).otherwise(
                row_value)
        column = pl.when(this).then(pl.col(helper)).otherwise(column)
        value = pl.when(this).then(row_value).otherwise(value)
    if FIELD_COUNT_COL in frame.columns:
        is_count = pl.col("rule_id") == f"{e.name}.wrong_field_count"
        value = pl.when(is_count).then(
            pl.col(FIELD_COUNT_COL).cast(pl.String) + " fields").otherwise(value)
    root_rule = root_record = pl.lit(None, dtype=pl.String)
    for r in rules:
        if r.kind == DEPENDENT_KIND and ref_roots(r.params["ref_index"])[0] in \
                frame.columns:
            this = pl.col("rule_id") == r.rule_id
            rule_col, record_col = ref_roots(r.params["ref_index"])
            root_rule = pl.when(this).then(pl.col(rule_col)).otherwise(root_rule)
            root_record = pl.when(this).then(pl.col(record_col)).otherwise(root_record)
    return joined.select(
        pl.lit(as_of).alias("as_of"),
        pl.lit(e.name).alias("extract"),
        "record_id", "child_id", "team_id", "rule_id", "severity",
        column.alias("column_name"),
        value.alias("value"),  # cut to VALUE_MAX, length noted, by findings.bound_issues
        "message",
        "source_row",
        root_rule.alias("root_rule_id"),
        root_record.alias("root_record_id"),
        "message_cy",
    ).sort(["source_row", "rule_id"]).cast(ISSUE_SCHEMA)  # type: ignore[arg-type]


def _rule_column(r: Rule) -> str | None:
    if r.kind == "duplicate_key":
        return "|".join(r.params["key"])
    if "at_column" in r.params:
        return None if r.params["at_column"] is None else str(r.params["at_column"])
    return r.column
