"""The extract contracts: `contracts/extracts.yaml` loaded into typed objects, and the rule
catalogue generated from it.

Every field is declared once in the YAML; this module turns each declaration into the rules a
data officer sees (stable `rule_id`, severity, message, guidance). The validator, the database
schema and the docs are all built from these objects, never from a second hand-written list.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml

ColumnType = Literal["id", "text", "code", "flag", "date", "datetime", "int"]
Severity = Literal["file_error", "error", "warning"]
COLUMN_TYPES: tuple[str, ...] = ("id", "text", "code", "flag", "date", "datetime", "int")
SEVERITIES: tuple[str, ...] = ("file_error", "error", "warning")

# Normalised header names that mean a file carries identifying data (extracts.md).
FORBIDDEN_HEADERS: frozenset[str] = frozenset(
    {
        "name", "forename", "first_name", "given_name", "surname", "last_name", "family_name",
        "full_name", "address", "postcode", "post_code", "nhs_number", "nhs_no", "ni_number",
        "national_insurance_number", "upn", "phone", "telephone", "mobile", "email",
    }
)
FORBIDDEN_HEADER_PREFIXES: tuple[str, ...] = ("address_line_",)

INT_MIN, INT_MAX = -(2**31), 2**31 - 1
"""The range of an `int` value: the INTEGER of both databases (PostgreSQL's is 32-bit), so a
batch gives the same outcome on SQLite and PostgreSQL."""

TYPE_WORDS: dict[str, str] = {
    "date": "a date (dd/mm/yyyy or yyyy-mm-dd)",
    "datetime": "a date and time (dd/mm/yyyy HH:MM[:SS] or yyyy-mm-dd HH:MM[:SS])",
    "flag": "a flag",
    "int": "a whole number",
    "code": "a code",
}


class ContractError(ValueError):
    """The contract file itself is inconsistent (a fault in the project, not in the data)."""


@dataclass(frozen=True)
class Condition:
    """`{column: C, in: [..]}` or `{column: C, present: true}`."""

    column: str
    values: tuple[str, ...] = ()
    present: bool = False

    def describe(self) -> str:
        col = human(self.column)
        if self.present:
            return f"when {col} is filled in"
        return f"when {col} is {' or '.join(self.values)}"


@dataclass(frozen=True)
class Reference:
    """Columns of this extract that must name a record loaded from another extract."""

    columns: tuple[str, ...]
    extract: str
    to_columns: tuple[str, ...]
    where: Condition | None = None


@dataclass(frozen=True)
class ParentLookup:
    """The value of `column` in the record of `extract` named by this row's `via` column."""

    via: str
    extract: str
    column: str


@dataclass(frozen=True)
class OnlyWhen:
    value: str
    column: str
    equals: str
    severity: Severity = "error"
    rule: str | None = None


@dataclass(frozen=True)
class Overlap:
    group: str
    start: str
    end: str


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    description: str
    required: bool = False
    required_when: Condition | None = None
    codes: dict[str, str] = field(default_factory=dict)
    flags: tuple[str, ...] = ("Y", "N")
    future_allowed: bool = False
    first_of_month: bool = False
    not_before: str | None = None
    minimum: int | None = None
    not_equal: str | None = None
    only_when: OnlyWhen | None = None
    warn_missing_when: Condition | None = None
    weekend_warning: bool = False
    matches_parent: ParentLookup | None = None
    not_before_parent: ParentLookup | None = None
    not_after_parent: ParentLookup | None = None
    earliest: Literal["birth", "event"] = "event"
    """Which configured earliest date bounds a date column (settings `earliest_birth_date`,
    `earliest_event_date`): an earlier year is a typing slip, never a real case event."""

    @property
    def allowed_values(self) -> tuple[str, ...]:
        """The stored values a code or flag column may hold."""
        if self.type == "code":
            return tuple(self.codes)
        if self.type == "flag":
            return self.flags
        return ()


@dataclass(frozen=True)
class Rule:
    """One check a data officer can act on. `kind` selects how the validator evaluates it."""

    rule_id: str
    extract: str
    column: str | None
    kind: str
    severity: Severity
    message: str
    guidance: str
    params: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def level(self) -> Literal["file", "row"]:
        return "file" if self.kind in FILE_RULE_KINDS else "row"


@dataclass(frozen=True)
class Extract:
    name: str
    label: str
    description: str
    key: tuple[str, ...]
    unique: bool
    child_column: str | None
    team_column: str | None
    columns: dict[str, Column]
    references: tuple[Reference, ...]
    overlap: Overlap | None
    rules: tuple[Rule, ...] = ()

    @property
    def file_name(self) -> str:
        return f"{self.name}.csv"

    @property
    def singular(self) -> str:
        return self.name[:-1] if self.name.endswith("s") else self.name

    def rule(self, suffix: str, column: str | None = None) -> Rule:
        """Look a generated rule up by its id suffix (used by the validator and tests)."""
        rule_id = ".".join(p for p in (self.name, column, suffix) if p)
        for r in self.rules:
            if r.rule_id == rule_id:
                return r
        raise KeyError(rule_id)

    def parents(self) -> set[str]:
        return {r.extract for r in self.references} - {self.name}


@dataclass(frozen=True)
class Contracts:
    version: int
    extracts: dict[str, Extract]
    batch_rules: tuple[Rule, ...]

    def ordered(self) -> list[Extract]:
        """Extracts in dependency order: every extract after the ones it references."""
        done: list[str] = []
        pending = dict(self.extracts)
        while pending:
            ready = [n for n, e in pending.items() if e.parents() <= set(done)]
            if not ready:
                raise ContractError(f"circular references among {sorted(pending)}")
            for n in ready:  # keep declaration order among the ready ones
                done.append(n)
                del pending[n]
        return [self.extracts[n] for n in done]

    @property
    def rules(self) -> list[Rule]:
        out = list(self.batch_rules)
        for e in self.extracts.values():
            out.extend(e.rules)
        return out

    def rule_by_id(self, rule_id: str) -> Rule:
        for r in self.rules:
            if r.rule_id == rule_id:
                return r
        raise KeyError(rule_id)


FILE_RULE_KINDS = frozenset(
    {
        "file_missing", "unreadable", "identifying_column", "nhs_number", "missing_column",
        "unknown_column", "duplicate_column", "reference_not_checked", "unknown_file",
        "too_large", "no_rows", "not_in_landing", "duplicate_file", "unnamed_column",
    }
)


def human(column: str) -> str:
    """`decision_date` -> `decision date`: how a data officer reads a column name."""
    return column.replace("_", " ")


def _date_word(column: str) -> str:
    """A datetime compared as a date is named as a date (`referral_datetime` -> `referral_date`)."""
    return column[: -len("_datetime")] + "_date" if column.endswith("_datetime") else column


def _condition(raw: Any, where: str) -> Condition:
    if not isinstance(raw, dict) or "column" not in raw:
        raise ContractError(f"{where}: a condition needs a column")
    if raw.get("present"):
        return Condition(column=raw["column"], present=True)
    values = raw.get("in")
    if not values:
        raise ContractError(f"{where}: a condition needs `in` or `present`")
    return Condition(column=raw["column"], values=tuple(str(v).upper() for v in values))


def _lookup(raw: Any, where: str) -> ParentLookup:
    try:
        return ParentLookup(via=raw["via"], extract=raw["extract"], column=raw["column"])
    except (KeyError, TypeError) as exc:
        raise ContractError(f"{where}: needs via, extract and column") from exc


def _column(name: str, raw: dict[str, Any], where: str) -> Column:
    ctype = raw.get("type")
    if ctype not in COLUMN_TYPES:
        raise ContractError(f"{where}: unknown type {ctype!r}")
    codes_raw = raw.get("codes") or {}
    codes = (
        {str(k).upper(): str(v) for k, v in codes_raw.items()}
        if isinstance(codes_raw, dict)
        else {str(c).upper(): "" for c in codes_raw}
    )
    if ctype == "code" and not codes:
        raise ContractError(f"{where}: a code column needs codes")
    only_when = None
    if "only_when" in raw:
        ow = raw["only_when"]
        only_when = OnlyWhen(
            value=str(ow["value"]).upper(), column=ow["column"], equals=str(ow["equals"]).upper(),
            severity=ow.get("severity", "error"), rule=ow.get("rule"),
        )
    return Column(
        name=name,
        type=ctype,
        description=" ".join(str(raw.get("description", "")).split()),
        required=bool(raw.get("required", False)),
        required_when=_condition(raw["required_when"], where) if "required_when" in raw else None,
        codes=codes,
        flags=tuple(str(f).upper() for f in raw.get("flags", ("Y", "N"))),
        future_allowed=raw.get("not_after_extract_date", True) is False,
        first_of_month=bool(raw.get("first_of_month", False)),
        not_before=raw.get("not_before"),
        minimum=raw.get("minimum"),
        not_equal=raw.get("not_equal"),
        only_when=only_when,
        warn_missing_when=(
            _condition(raw["warn_missing_when"], where) if "warn_missing_when" in raw else None
        ),
        weekend_warning=raw.get("weekend") == "warning",
        matches_parent=_lookup(raw["matches_parent"], where) if "matches_parent" in raw else None,
        not_before_parent=(
            _lookup(raw["not_before_parent"], where) if "not_before_parent" in raw else None
        ),
        not_after_parent=(
            _lookup(raw["not_after_parent"], where) if "not_after_parent" in raw else None
        ),
        earliest=_earliest(raw.get("earliest", "event"), where),
    )


def _earliest(value: Any, where: str) -> Literal["birth", "event"]:
    if value not in ("birth", "event"):
        raise ContractError(f"{where}: earliest must be birth or event, not {value!r}")
    return "birth" if value == "birth" else "event"


def _references(name: str, raw: dict[str, Any], columns: dict[str, Column],
                extracts_raw: dict[str, Any]) -> tuple[Reference, ...]:
    refs: list[Reference] = []
    for cname, craw in raw["columns"].items():
        ref = craw.get("ref")
        if ref is None:
            continue
        target = ref if isinstance(ref, str) else ref["extract"]
        if target not in extracts_raw:
            raise ContractError(f"{name}.{cname}: reference to unknown extract {target!r}")
        to_col = ref.get("column") if isinstance(ref, dict) else None
        to_col = to_col or extracts_raw[target]["key"][0]
        where = (
            _condition(ref["where"], f"{name}.{cname}")
            if isinstance(ref, dict) and "where" in ref
            else None
        )
        refs.append(Reference((cname,), target, (to_col,), where))
    for r in raw.get("references", []):
        refs.append(Reference(tuple(r["columns"]), r["extract"], tuple(r["to_columns"])))
    for r in refs:
        for c in r.columns:
            if c not in columns:
                raise ContractError(f"{name}: reference column {c!r} is not declared")
    return tuple(refs)


# --- rule generation ------------------------------------------------------------------------


def _rules_for(e: Extract, extracts: dict[str, Extract]) -> tuple[Rule, ...]:
    """Every rule the contract implies for one extract, in a stable order."""
    rules: list[Rule] = []
    lbl = e.label
    fname = e.file_name

    def add(column: str | None, suffix: str, kind: str, severity: Severity, message: str,
            guidance: str, **params: Any) -> None:
        rule_id = ".".join(p for p in (e.name, column, suffix) if p)
        rules.append(Rule(rule_id, e.name, column, kind, severity, message, guidance, params))

    # File-level rules (no row to point at).
    add(None, "file_missing", "file_missing", "file_error",
        f"{fname} was not in the batch: the export of {e.name} did not arrive.",
        "Check the Paris export job for this extract and re-run it; the pipeline picks the "
        "batch up again on the next run.")
    add(None, "unreadable", "unreadable", "file_error",
        f"{fname} could not be read as a CSV file; nothing of it was loaded.",
        "Re-export the file from Paris as comma-separated UTF-8 or Windows-1252 text with one "
        "header row.")
    add(None, "identifying_column", "identifying_column", "file_error",
        f"{fname} has a column that would carry identifying data (a name, address, "
        "NHS number or contact detail); the whole file was rejected and none of it was kept.",
        "Tell the Paris administrator at once: the anonymisation step of the export has "
        "failed. Remove the column from the export definition and re-run it.")
    add(None, "nhs_number", "nhs_number", "file_error",
        f"{fname} holds a value that is a valid NHS number; the whole file was rejected and "
        "the value was not kept.",
        "Tell the Paris administrator at once: an identifier was not pseudonymised. Fix the "
        "export and re-run it.")
    add(None, "missing_column", "missing_column", "file_error",
        f"{fname} lacks a required column; the whole file was rejected.",
        "Restore the column in the Paris export definition (see docs/rules.md for the "
        "columns of each extract) and re-run the export.")
    add(None, "duplicate_column", "duplicate_column", "file_error",
        f"{fname} names the same column twice; the whole file was rejected.",
        "Remove the repeated column from the Paris export definition and re-run the export.")
    add(None, "too_large", "too_large", "file_error",
        f"{fname} is larger than the configured limit; it was not read.",
        "Check the Paris export: a runaway export can repeat rows. If the size is genuine, "
        "raise QA_PIPELINE_MAX_FILE_MB.")
    add(None, "not_in_landing", "not_in_landing", "file_error",
        f"{fname} is a link that leads out of the landing folder; it was not read.",
        "Deliver the file itself into the batch folder, not a link to elsewhere.")
    add(None, "duplicate_file", "duplicate_file", "file_error",
        f"The batch holds {fname} twice, under names that differ only in case; both were "
        "rejected, since there is no telling which one is right.",
        "Check the Paris export job: deliver each extract once. Remove the wrong file from the "
        "batch folder and run the batch again.")
    add(None, "unnamed_column", "unnamed_column", "warning",
        f"{fname} has a column with no name in its header (often a trailing comma from "
        "Excel) and no values in it; it was ignored.",
        "No action is needed; to tidy the export, remove the trailing comma from the header.")
    add(None, "no_rows", "no_rows", "warning",
        f"{fname} has a header but no rows: the extract is empty.",
        "Check the Paris export job: a full snapshot of this extract is rarely empty.")
    add(None, "unknown_column", "unknown_column", "warning",
        f"{fname} has a column that is not in the contract; it was ignored.",
        "No action in Paris is needed if the column is expected; otherwise ask for the export "
        "definition to be corrected, or for the contract to be extended.")
    if e.references:
        add(None, "reference_not_checked", "reference_not_checked", "warning",
            f"References from {e.name} to an extract that was missing or rejected could not be "
            "checked; the rows were loaded unchecked.",
            "Fix the missing or rejected extract; the references are checked on the next run.")

    add(None, "wrong_field_count", "field_count", "error",
        f"This row of {fname} has more or fewer fields than the header; it was quarantined "
        "because its values cannot be matched to columns.",
        "Look for an unquoted comma or a missing field in this record of the export; the "
        "value column shows how many fields it had.", at_column=None)
    add(None, "value_too_long", "too_long", "error",
        f"A value in this row of {fname} is longer than the configured limit; the row was "
        "quarantined.",
        "Check the record in Paris: a field this long is usually a broken export (a missing "
        "closing quote swallowing the following rows).", at_column=None)
    add(None, "invalid_byte", "invalid_byte", "error",
        f"A value in this row of {fname} holds a byte that is not a character of the file's "
        "encoding (shown as \N{REPLACEMENT CHARACTER}); the row was quarantined rather than "
        "guessed at.",
        "Look at the record in Paris: the character was corrupted on export (often text pasted "
        "from another program). Retype it and re-run the export; the value column shows where "
        "the bad byte is.", at_column=None)

    key_desc = ", ".join(human(k) for k in e.key)
    if e.unique:
        add(None, "duplicate_key", "duplicate_key", "error",
            f"Another {lbl} with the same {key_desc} appears earlier in the file; this later "
            "one was quarantined.",
            f"Find the two {lbl} records with this {key_desc} in Paris and merge or correct "
            "them.", key=list(e.key))

    for c in e.columns.values():
        col_h = human(c.name)
        req_rule_guidance = f"Record the {col_h} on the {lbl} in Paris."
        if c.required:
            add(c.name, "missing", "missing", "error",
                f"The {col_h} of the {lbl} is missing; it is required.", req_rule_guidance)
        elif c.required_when is not None:
            add(c.name, "missing", "missing", "error",
                f"The {col_h} of the {lbl} is missing; it is required "
                f"{c.required_when.describe()}.", req_rule_guidance,
                condition=c.required_when)
        if c.type == "code":
            add(c.name, "unknown_code", "unknown_code", "error",
                f"The {col_h} of the {lbl} is not one of the allowed codes "
                f"({', '.join(c.codes)}).",
                f"Correct the {col_h} in Paris to one of: {', '.join(c.codes)}.")
        elif c.type == "flag":
            add(c.name, "invalid_flag", "invalid_flag", "error",
                f"The {col_h} of the {lbl} is not an allowed value ({'/'.join(c.flags)}).",
                f"Correct the {col_h} in Paris to one of: {', '.join(c.flags)}.")
        elif c.type in ("date", "datetime", "int"):
            add(c.name, f"invalid_{c.type}", f"invalid_{c.type}", "error",
                f"The {col_h} of the {lbl} is not {TYPE_WORDS[c.type]}.",
                f"Correct the {col_h} in Paris; if it looks right there, the export format has "
                "changed and the Paris administrator should be told.")
        if c.type == "int":
            add(c.name, "out_of_range", "int_range", "error",
                f"The {col_h} of the {lbl} is a whole number too large to be real (beyond "
                f"{INT_MIN:,} to {INT_MAX:,}).",
                f"Correct the {col_h} in Paris: a number this size is a typing or export "
                "error.")
        if c.type in ("date", "datetime"):
            setting = f"earliest_{c.earliest}_date"
            add(c.name, "too_early", "too_early", "error",
                f"The {col_h} of the {lbl} is earlier than the earliest plausible "
                f"{'date of birth' if c.earliest == 'birth' else 'date of a case event'} "
                f"(the {setting} setting); the year is most likely mistyped.",
                f"Correct the year of the {col_h} in Paris.", earliest=c.earliest,
                setting=setting)
        if c.type in ("date", "datetime") and not c.future_allowed:
            add(c.name, "future_date", "future_date", "error",
                f"The {col_h} of the {lbl} is later than the extract date.",
                f"Correct the {col_h} in Paris: events cannot be recorded before they happen.")
        if c.first_of_month:
            add(c.name, "not_first_of_month", "first_of_month", "error",
                f"The {col_h} of the {lbl} is not anonymised to the first of the month; the "
                "value is withheld from reports.",
                "Tell the Paris administrator: the export's anonymisation of dates of birth "
                "is not working.", sensitive=True)
        if c.not_before is not None:
            other = e.columns[c.not_before]
            add(c.name, f"before_{_date_word(other.name)}", "not_before", "error",
                f"The {col_h} of the {lbl} is earlier than its {human(_date_word(other.name))}.",
                f"Check both dates on the {lbl} in Paris and correct the wrong one.",
                other=other.name)
        if c.minimum is not None:
            add(c.name, "below_minimum", "minimum", "error",
                f"The {col_h} of the {lbl} is below {c.minimum}.",
                f"Correct the {col_h} in Paris.", minimum=c.minimum)
        if c.not_equal is not None:
            add(c.name, f"same_as_{c.not_equal}", "not_equal", "error",
                f"The {col_h} of the {lbl} is the same as its {human(c.not_equal)}.",
                f"Correct the {lbl} in Paris: it links a person to themself.",
                other=c.not_equal)
        if c.only_when is not None:
            ow = c.only_when
            suffix = ow.rule or f"{ow.value.lower()}_without_{ow.column}"
            add(c.name, suffix, "only_when", ow.severity,
                f"The {col_h} of the {lbl} is {ow.value} but its {human(ow.column)} is not "
                f"{ow.equals}.",
                f"Check the {col_h} and the {human(ow.column)} on the {lbl} in Paris.",
                value=ow.value, other=ow.column, equals=ow.equals)
        if c.warn_missing_when is not None:
            cond = c.warn_missing_when
            add(c.name, f"missing_for_{'_'.join(v.lower() for v in cond.values)}",
                "warn_missing", "warning",
                f"The {col_h} of the {lbl} is blank {cond.describe()}.",
                f"Record the {col_h} in Paris where it is known.", condition=cond)
        if c.weekend_warning:
            add(c.name, "weekend", "weekend", "warning",
                f"The {col_h} of the {lbl} falls on a Saturday or Sunday.",
                f"Check the {col_h} in Paris; correct it if it was mistyped.")
        for lookup, suffix_word, kind, word in (
            (c.matches_parent, "differs_from", "matches_parent", None),
            (c.not_before_parent, "before", "not_before_parent", "earlier than"),
            (c.not_after_parent, "after", "not_after_parent", "later than"),
        ):
            if lookup is None:
                continue
            parent = extracts[lookup.extract]
            if kind == "matches_parent":
                suffix = f"differs_from_{parent.singular}"
                msg = (f"The {col_h} of the {lbl} is not the {human(lookup.column)} of the "
                       f"{parent.label} it belongs to.")
                guide = (f"Link the {lbl} in Paris to the right {parent.label}, or correct "
                         f"its {col_h}.")
            else:
                pcol = _date_word(lookup.column)
                if not pcol.startswith(parent.singular + "_"):
                    pcol = f"{parent.singular}_{pcol}"
                suffix = f"{suffix_word}_{pcol}"
                msg = (f"The {col_h} of the {lbl} is {word} the {human(_date_word(lookup.column))}"
                       f" of its {parent.label}.")
                guide = f"Check the dates of the {lbl} and its {parent.label} in Paris."
            add(c.name, suffix, kind, "error", msg, guide, lookup=lookup)

    for i, ref in enumerate(e.references):
        target = extracts[ref.extract]
        col = ref.columns[0] if len(ref.columns) == 1 else "|".join(ref.columns)
        col_h = " and ".join(human(c) for c in ref.columns)
        add(col, "unresolved_reference", "unresolved_reference", "error",
            f"The {col_h} of the {lbl} does not name any {target.label} in {target.file_name}.",
            f"Correct the {col_h} on the {lbl} in Paris, or check that the {target.label} was "
            "not deleted.", ref_index=i)
        add(col, "reference_quarantined", "reference_quarantined", "error",
            f"The {col_h} of the {lbl} names a {target.label} that was itself quarantined, so "
            f"this {lbl} was kept out too.",
            f"Fix the {target.label}'s own issue first (see its issue rows); this {lbl} is "
            "then loaded on the next run.", ref_index=i)
        if ref.where is not None:
            add(col, "reference_wrong_type", "reference_wrong_type", "error",
                f"The {col_h} of the {lbl} names a {target.label} whose "
                f"{human(ref.where.column)} is not {' or '.join(ref.where.values)}.",
                f"Link the {lbl} in Paris to the right {target.label}.", ref_index=i)

    if e.overlap is not None:
        ov = e.overlap
        add(None, "overlap", "overlap", "error",
            f"This {lbl} overlaps an earlier {lbl} of the same "
            f"{human(ov.group).replace(' id', '')}; the later one was quarantined.",
            f"End the earlier {lbl} in Paris before this one starts, or correct the dates.",
            group=ov.group, start=ov.start, end=ov.end, at_column=ov.start)
    return tuple(rules)


BATCH_RULES: tuple[Rule, ...] = (
    Rule("batch.unknown_file", "batch", None, "unknown_file", "warning",
         "A file in the batch folder is not one of the extracts; it was ignored.",
         "Check the Paris export job: the file may be misnamed (the names are "
         "<extract>.csv) or not belong in the batch."),
)


def contracts_path() -> Path:
    """Where the contract lives; `QA_PIPELINE_CONTRACTS` overrides it (for tests)."""
    override = os.environ.get("QA_PIPELINE_CONTRACTS")
    if override:
        return Path(override)
    return Path(str(resources.files("qa_pipeline") / "contracts" / "extracts.yaml"))


def parse_contracts(raw: dict[str, Any]) -> Contracts:
    extracts_raw: dict[str, Any] = raw["extracts"]
    shells: dict[str, Extract] = {}
    for name, er in extracts_raw.items():
        columns = {c: _column(c, cr, f"{name}.{c}") for c, cr in er["columns"].items()}
        for k in er["key"]:
            if k not in columns:
                raise ContractError(f"{name}: key column {k!r} is not declared")
        ov = None
        for chk in er.get("checks", []):
            if "overlap" in chk:
                o = chk["overlap"]
                ov = Overlap(o["group"], o["start"], o["end"])
        shells[name] = Extract(
            name=name,
            label=er.get("label", name),
            description=" ".join(str(er.get("description", "")).split()),
            key=tuple(er["key"]),
            unique=bool(er.get("unique", True)),
            child_column=er.get("child_column"),
            team_column=er.get("team_column"),
            columns=columns,
            references=_references(name, er, columns, extracts_raw),
            overlap=ov,
        )
    extracts = {
        n: Extract(**{**e.__dict__, "rules": _rules_for(e, shells)}) for n, e in shells.items()
    }
    contracts = Contracts(version=int(raw.get("version", 1)), extracts=extracts,
                          batch_rules=BATCH_RULES)
    ids = [r.rule_id for r in contracts.rules]
    dupes = {i for i in ids if ids.count(i) > 1}
    if dupes:
        raise ContractError(f"rule ids generated twice: {sorted(dupes)}")
    contracts.ordered()  # raises on a reference cycle
    return contracts


@cache
def load_contracts(path: str | None = None) -> Contracts:
    """The contracts, parsed once per process."""
    p = Path(path) if path else contracts_path()
    with p.open(encoding="utf-8") as fh:
        return parse_contracts(yaml.safe_load(fh))
