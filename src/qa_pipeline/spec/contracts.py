"""The extract contracts: `qa_pipeline/spec/extracts.yaml` (package data; a site's own
copy through the setting `contracts_file`) loaded into typed objects, and the rule catalogue
generated from it.

Every field is declared once in the YAML; this module turns each declaration into the rules a
data officer sees (stable `rule_id`, severity, message, guidance). The validator, the database
schema and the docs are all built from these objects, never from a second hand-written list.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal, TypeVar

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
TYPE_WORDS_CY: dict[str, str] = {
    "date": "ddyddiad (dd/mm/yyyy neu yyyy-mm-dd)",
    "datetime": "ddyddiad ac amser (dd/mm/yyyy HH:MM[:SS] neu yyyy-mm-dd HH:MM[:SS])",
    "flag": "faner",
    "int": "rhif cyfan",
    "code": "god",
}
"""The same after "yn" (which mutates them softly: dyddiad -> ddyddiad)."""


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

    def describe_cy(self, name_cy: Callable[[str], str]) -> str:
        """The Welsh of `describe`, naming the column by `name_cy` (`Extract.column_cy`)."""
        col = name_cy(self.column)
        if self.present:
            return f"pan fo {col} wedi'i lenwi"
        return f"pan fo {col} yn {' neu '.join(self.values)}"


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
    """`value` is allowed only in a row whose `column` equals `equals` (a rule when not)."""

    value: str
    column: str
    equals: str
    severity: Severity = "error"
    rule: str | None = None


@dataclass(frozen=True)
class Overlap:
    """Records of one `group` (a child) whose `start`..`end` periods must not overlap."""

    group: str
    start: str
    end: str
    """A blank end is an open period: it overlaps every later start."""


@dataclass(frozen=True)
class Column:
    """One delivered column: its type and every rule the contract sets on it."""

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
    name_cy: str = ""
    """The column's name in Welsh, as the Welsh rule texts name it (blank: the English)."""

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
    params: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)
    """Read-only (a MappingProxyType): a rule is made once, when the contracts load."""
    level: Literal["file", "row"] = "row"
    """`file`: raised by the reader and staging; `row`: a pandera check (rule_kinds)."""
    message_cy: str = ""
    """The message in Welsh (`dq_rule.description_cy`, `dq_issue.message_cy`)."""
    guidance_cy: str = ""
    """The guidance in Welsh (`dq_rule.guidance_cy`)."""


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
    label_cy: str = ""
    """What one row is, in Welsh: a noun in its radical form ("atgyfeiriad"), which the Welsh
    rule texts place after "cofnod" (a record of ...) so that it never mutates."""

    @property
    def label_in_welsh(self) -> str:
        return self.label_cy or self.label

    def column_cy(self, column: str) -> str:
        """A column as the Welsh rule texts name it: its Welsh name in quotes."""
        c = self.columns.get(column)
        return f"\u2018{(c.name_cy if c is not None and c.name_cy else human(column))}\u2019"

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


def human(column: str) -> str:
    """`decision_date` -> `decision date`: how a data officer reads a column name."""
    return column.replace("_", " ")


def date_word(column: str) -> str:
    """A datetime compared as a date is named as a date (`referral_datetime` -> `referral_date`)."""
    return column[: -len("_datetime")] + "_date" if column.endswith("_datetime") else column


# --- the contract file's grammar ------------------------------------------------------------
#
# Every key each level of spec/extracts.yaml allows, declared once: the parser refuses
# any other key (a misspelt option would otherwise drop its rule without a word), so adding
# an option means adding it here and reading it in the parser below.

TOP_KEYS: frozenset[str] = frozenset({"version", "extracts"})
EXTRACT_KEYS: frozenset[str] = frozenset(
    {"label", "label_cy", "description", "key", "unique", "child_column", "team_column", "columns",
     "references", "checks"}
)
_DATES: frozenset[str] = frozenset({"date", "datetime"})
_ANY_TYPE: frozenset[str] = frozenset(COLUMN_TYPES)
COLUMN_OPTIONS: dict[str, frozenset[str]] = {
    "type": _ANY_TYPE,
    "description": _ANY_TYPE,
    "name_cy": _ANY_TYPE,
    "required": _ANY_TYPE,
    "required_when": _ANY_TYPE,
    "codes": frozenset({"code"}),
    "flags": frozenset({"flag"}),
    "ref": _ANY_TYPE,
    "not_before": _DATES,
    "not_after_extract_date": _DATES,
    "first_of_month": _DATES,
    "minimum": frozenset({"int"}),
    "not_equal": _ANY_TYPE,
    "only_when": _ANY_TYPE,
    "warn_missing_when": _ANY_TYPE,
    "weekend": _DATES,
    "earliest": _DATES,
    "matches_parent": _ANY_TYPE,
    "not_before_parent": _DATES,
    "not_after_parent": _DATES,
}
"""Each column option and the column types it applies to (on another type it would do
nothing, so it is refused too)."""
COLUMN_KEYS: frozenset[str] = frozenset(COLUMN_OPTIONS)
REF_KEYS: frozenset[str] = frozenset({"extract", "column", "where"})
CONDITION_KEYS: frozenset[str] = frozenset({"column", "in", "present"})
ONLY_WHEN_KEYS: frozenset[str] = frozenset({"value", "column", "equals", "severity", "rule"})
LOOKUP_KEYS: frozenset[str] = frozenset(f.name for f in fields(ParentLookup))
LOOKUP_OPTIONS: tuple[str, ...] = ("matches_parent", "not_before_parent", "not_after_parent")
REFERENCE_KEYS: frozenset[str] = frozenset({"columns", "extract", "to_columns"})
CHECK_KINDS: frozenset[str] = frozenset({"overlap"})
OVERLAP_KEYS: frozenset[str] = frozenset(f.name for f in fields(Overlap))
ROW_SEVERITIES: tuple[str, ...] = ("error", "warning")


@dataclass(frozen=True)
class _At:
    """Where a value sits in the contract file, for messages:
    `spec/extracts.yaml: extract referrals, column decision_date, not_before: ...`."""

    source: str
    path: tuple[str, ...] = ()

    def at(self, part: str) -> _At:
        return _At(self.source, (*self.path, part))

    def error(self, problem: str) -> ContractError:
        where = ", ".join(self.path)
        return ContractError(f"{self.source}: {where}: {problem}" if where
                             else f"{self.source}: {problem}")


def _suggest(word: object, choices: Iterable[str]) -> str:
    """` (did you mean 'x'?)`, or the list of choices when it is short and nothing is close."""
    options = sorted(choices)
    close = difflib.get_close_matches(str(word), options, n=1)
    if close:
        return f" (did you mean {close[0]!r}?)"
    if 0 < len(options) <= 12:
        return f" (one of {', '.join(options)})"
    return ""


def _keys(raw: Any, allowed: frozenset[str], at: _At,
          required: tuple[str, ...] = ()) -> dict[str, Any]:
    """A mapping with only `allowed` keys and every `required` one."""
    if not isinstance(raw, dict):
        raise at.error(f"expected a mapping of keys, not {_shown(raw)}")
    for key in raw:
        if key not in allowed:
            raise at.error(f"unknown key {key!r}{_suggest(key, allowed)}")
    for key in required:
        if key not in raw:
            raise at.error(f"missing key {key!r}")
    return raw


def _shown(value: Any) -> str:
    return f"{type(value).__name__} {value!r}" if value is not None else "nothing"


def _name(value: Any, at: _At, key: str) -> str:
    if not isinstance(value, str) or not value:
        raise at.error(f"{key} must be a name, not {_shown(value)}")
    return value


def _names(value: Any, at: _At, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise at.error(f"{key} must be a non-empty list of names, not {_shown(value)}")
    return tuple(_name(v, at, key) for v in value)


def _flag(raw: dict[str, Any], key: str, default: bool, at: _At) -> bool:
    value = raw.get(key, default)
    if not isinstance(value, bool):
        raise at.error(f"{key} must be true or false, not {_shown(value)}")
    return value


def _text(raw: dict[str, Any], key: str, default: str, at: _At) -> str:
    value = raw.get(key, default)
    if not isinstance(value, str):
        raise at.error(f"{key} must be a text, not {_shown(value)}")
    return " ".join(value.split())


def _values(raw: Any, at: _At, key: str) -> tuple[str, ...]:
    """A list of codes or flag values, upper-cased, each once."""
    if not isinstance(raw, list):
        raise at.error(f"{key} must be a list, not {_shown(raw)}")
    return _distinct([str(v).upper() for v in raw], at, key)


def _distinct(values: list[str], at: _At, key: str) -> tuple[str, ...]:
    if not values:
        raise at.at(key).error("the list is empty")
    seen: set[str] = set()
    for v in values:
        if v in seen:
            raise at.at(key).error(f"{v!r} is listed twice")
        seen.add(v)
    return tuple(values)


def _condition(raw: Any, at: _At) -> Condition:
    """`{column: C, in: [..]}` or `{column: C, present: true}` (columns checked later)."""
    raw = _keys(raw, CONDITION_KEYS, at, required=("column",))
    column = _name(raw["column"], at, "column")
    if "in" in raw and "present" in raw:
        raise at.error("a condition has `in` or `present`, not both")
    if "present" in raw:
        if raw["present"] is not True:
            raise at.error(f"present must be true, not {_shown(raw['present'])}")
        return Condition(column=column, present=True)
    if "in" not in raw:
        raise at.error("a condition needs `in: [values]` or `present: true`")
    return Condition(column=column, values=_values(raw["in"], at, "in"))


_NameRecord = TypeVar("_NameRecord", ParentLookup, Overlap)


def _name_record(cls: type[_NameRecord], raw: Any, at: _At) -> _NameRecord:
    """A record whose every field is a name, from a mapping with exactly its fields, all
    required (a lookup's `{via, extract, column}`, an overlap's `{group, start, end}`): the
    dataclass is the one declaration of the keys (LOOKUP_KEYS, OVERLAP_KEYS)."""
    keys = tuple(f.name for f in fields(cls))
    raw = _keys(raw, frozenset(keys), at, required=keys)
    return cls(*(_name(raw[k], at, k) for k in keys))


def _lookup(raw: Any, at: _At) -> ParentLookup:
    return _name_record(ParentLookup, raw, at)


def _only_when(raw: Any, at: _At) -> OnlyWhen:
    raw = _keys(raw, ONLY_WHEN_KEYS, at, required=("value", "column", "equals"))
    severity = raw.get("severity", "error")
    if severity not in ROW_SEVERITIES:
        raise at.error(f"unknown severity {severity!r}{_suggest(severity, ROW_SEVERITIES)}")
    rule = raw.get("rule")
    if rule is not None and not (isinstance(rule, str) and re.fullmatch(r"[a-z][a-z0-9_]*", rule)):
        raise at.error(f"rule must be a rule name (a-z, 0-9, _), not {_shown(rule)}")
    return OnlyWhen(value=str(raw["value"]).upper(), column=_name(raw["column"], at, "column"),
                    equals=str(raw["equals"]).upper(),
                    severity="warning" if severity == "warning" else "error", rule=rule)


@dataclass(frozen=True)
class _RefDecl:
    """A column's `ref`, as declared (checked against the other extracts later)."""

    extract: str
    column: str | None
    where: Condition | None


def _ref(raw: Any, at: _At) -> _RefDecl:
    """`ref: EXTRACT` or `ref: {extract, column, where}` (`at`: the column)."""
    rat = at.at("ref")
    if isinstance(raw, str):
        return _RefDecl(_name(raw, rat, "ref"), None, None)
    raw = _keys(raw, REF_KEYS, rat, required=("extract",))
    return _RefDecl(
        extract=_name(raw["extract"], rat, "extract"),
        column=_name(raw["column"], rat, "column") if "column" in raw else None,
        where=_condition(raw["where"], at.at("ref.where")) if "where" in raw else None,
    )


def _codes(raw: Any, at: _At) -> dict[str, str]:
    if isinstance(raw, dict):
        codes = [str(k).upper() for k in raw]
        _distinct(codes, at, "codes")
        return {str(k).upper(): str(v) for k, v in raw.items()}
    return dict.fromkeys(_values(raw, at, "codes"), "")


def _column(name: str, raw: Any, at: _At) -> tuple[Column, _RefDecl | None]:
    """One column's declaration, checked on its own (names of other columns later)."""
    raw = _keys(raw, COLUMN_KEYS, at, required=("type",))
    ctype = raw["type"]
    if ctype not in COLUMN_TYPES:
        raise at.error(f"unknown type {ctype!r}{_suggest(ctype, COLUMN_TYPES)}")
    for key in raw:
        if ctype not in COLUMN_OPTIONS[key]:
            article = "an" if ctype in ("id", "int") else "a"
            raise at.error(f"{key} does not apply to {article} {ctype} column (only to "
                           f"{', '.join(t for t in COLUMN_TYPES if t in COLUMN_OPTIONS[key])})")
    if ctype == "code" and "codes" not in raw:
        raise at.error("a code column needs codes")
    if "required" in raw and "required_when" in raw:
        raise at.error("required and required_when together: give one")
    minimum = raw.get("minimum")
    if minimum is not None and (isinstance(minimum, bool) or not isinstance(minimum, int)):
        raise at.error(f"minimum must be a whole number, not {_shown(minimum)}")
    if raw.get("weekend", "warning") != "warning":
        raise at.error(f"weekend must be warning, not {_shown(raw['weekend'])}")
    for key in ("not_before", "not_equal"):
        if key in raw:
            _name(raw[key], at, key)
    column = Column(
        name=name,
        type=ctype,
        description=_text(raw, "description", "", at),
        name_cy=_text(raw, "name_cy", "", at),
        required=_flag(raw, "required", False, at),
        required_when=(_condition(raw["required_when"], at.at("required_when"))
                       if "required_when" in raw else None),
        codes=_codes(raw["codes"], at) if ctype == "code" else {},
        flags=_values(raw["flags"], at, "flags") if "flags" in raw else ("Y", "N"),
        future_allowed=not _flag(raw, "not_after_extract_date", True, at),
        first_of_month=_flag(raw, "first_of_month", False, at),
        not_before=raw.get("not_before"),
        minimum=minimum,
        not_equal=raw.get("not_equal"),
        only_when=_only_when(raw["only_when"], at.at("only_when")) if "only_when" in raw else None,
        warn_missing_when=(_condition(raw["warn_missing_when"], at.at("warn_missing_when"))
                           if "warn_missing_when" in raw else None),
        weekend_warning="weekend" in raw,
        matches_parent=(_lookup(raw["matches_parent"], at.at("matches_parent"))
                        if "matches_parent" in raw else None),
        not_before_parent=(_lookup(raw["not_before_parent"], at.at("not_before_parent"))
                           if "not_before_parent" in raw else None),
        not_after_parent=(_lookup(raw["not_after_parent"], at.at("not_after_parent"))
                          if "not_after_parent" in raw else None),
        earliest=_earliest(raw.get("earliest", "event"), at),
    )
    return column, (_ref(raw["ref"], at) if "ref" in raw else None)


def _earliest(value: Any, at: _At) -> Literal["birth", "event"]:
    if value not in ("birth", "event"):
        raise at.error(f"earliest must be birth or event, not {value!r}")
    return "birth" if value == "birth" else "event"


# --- names between columns and extracts -----------------------------------------------------


def _own_column(name: str, columns: dict[str, Column], at: _At) -> Column:
    """A column of the same extract, or a message naming the unknown one."""
    if name not in columns:
        raise at.error(f"unknown column {name!r}{_suggest(name, columns)}")
    return columns[name]


def _other_column(name: str, extract: str, columns: dict[str, Column], at: _At) -> Column:
    if name not in columns:
        raise at.error(f"unknown column {name!r} of extract {extract}"
                       f"{_suggest(name, columns)}")
    return columns[name]


def _other_extract(name: str, declared: dict[str, Any], at: _At) -> None:
    if name not in declared:
        raise at.error(f"unknown extract {name!r}{_suggest(name, declared)}")


def _allowed_value(value: str, column: Column, at: _At, what: str = "") -> None:
    """A value named for a code or flag column must be one it allows."""
    allowed = column.allowed_values
    if allowed and value not in allowed:
        kind = "code" if column.type == "code" else "flag value"
        raise at.error(f"{what}{value!r} is not a {kind} of column {column.name}"
                       f"{_suggest(value, allowed)}")


def _check_condition(cond: Condition, columns: dict[str, Column], at: _At,
                     extract: str | None = None) -> None:
    """The condition's column exists (in `extract` for a ref's `where`), and so do its values."""
    column = (_own_column(cond.column, columns, at) if extract is None
              else _other_column(cond.column, extract, columns, at))
    for v in cond.values:
        _allowed_value(v, column, at)


def _check_columns(columns: dict[str, Column], refs: dict[str, _RefDecl],
                   all_columns: dict[str, dict[str, Column]], at: _At) -> None:
    """Every column, extract and value a column's options name is declared."""
    for c in columns.values():
        cat = at.at(f"column {c.name}")
        ref = refs.get(c.name)
        if ref is not None:
            rat = cat.at("ref")
            _other_extract(ref.extract, all_columns, rat)
            if ref.column is not None:
                _other_column(ref.column, ref.extract, all_columns[ref.extract], rat)
            if ref.where is not None:
                _check_condition(ref.where, all_columns[ref.extract], cat.at("ref.where"),
                                 extract=ref.extract)
        if c.not_before is not None:
            _own_column(c.not_before, columns, cat.at("not_before"))
        if c.not_equal is not None:
            _own_column(c.not_equal, columns, cat.at("not_equal"))
        for key, cond in (("required_when", c.required_when),
                          ("warn_missing_when", c.warn_missing_when)):
            if cond is not None:
                _check_condition(cond, columns, cat.at(key))
        if c.only_when is not None:
            oat = cat.at("only_when")
            _allowed_value(c.only_when.value, c, oat, "value ")
            other = _own_column(c.only_when.column, columns, oat)
            _allowed_value(c.only_when.equals, other, oat, "equals ")
        for key in LOOKUP_OPTIONS:
            lookup: ParentLookup | None = getattr(c, key)
            if lookup is None:
                continue
            lat = cat.at(key)
            _other_extract(lookup.extract, all_columns, lat)
            _other_column(lookup.column, lookup.extract, all_columns[lookup.extract], lat)
            if lookup.via not in columns:
                raise lat.error(f"unknown via column {lookup.via!r}"
                                f"{_suggest(lookup.via, columns)}")
            via_ref = refs.get(lookup.via)
            if via_ref is None or via_ref.extract != lookup.extract:
                raise lat.error(f"via column {lookup.via} has no ref to extract "
                                f"{lookup.extract}")


def _references(er: dict[str, Any], columns: dict[str, Column],
                refs: dict[str, _RefDecl], all_columns: dict[str, dict[str, Column]],
                keys: dict[str, tuple[str, ...]], at: _At) -> tuple[Reference, ...]:
    out = [
        Reference((cname,), r.extract, (r.column or keys[r.extract][0],), r.where)
        for cname, r in refs.items()
    ]
    raw = er.get("references", [])
    if not isinstance(raw, list):
        raise at.at("references").error(f"expected a list, not {_shown(raw)}")
    for i, r in enumerate(raw, start=1):
        rat = at.at(f"references[{i}]")
        r = _keys(r, REFERENCE_KEYS, rat, required=("columns", "extract", "to_columns"))
        cols = _names(r["columns"], rat, "columns")
        target = _name(r["extract"], rat, "extract")
        to_cols = _names(r["to_columns"], rat, "to_columns")
        for c in cols:
            _own_column(c, columns, rat)
        _other_extract(target, all_columns, rat)
        for c in to_cols:
            _other_column(c, target, all_columns[target], rat)
        if len(cols) != len(to_cols):
            raise rat.error(f"{len(cols)} columns but {len(to_cols)} to_columns")
        out.append(Reference(cols, target, to_cols))
    return tuple(out)


def _overlap(er: dict[str, Any], columns: dict[str, Column], at: _At) -> Overlap | None:
    raw = er.get("checks", [])
    if not isinstance(raw, list):
        raise at.at("checks").error(f"expected a list, not {_shown(raw)}")
    found: Overlap | None = None
    for i, chk in enumerate(raw, start=1):
        cat = at.at(f"checks[{i}]")
        if not isinstance(chk, dict) or len(chk) != 1:
            raise cat.error(f"a check is one of {', '.join(sorted(CHECK_KINDS))} with its "
                            f"options, not {_shown(chk)}")
        (kind,) = chk
        if kind not in CHECK_KINDS:
            raise cat.error(f"unknown check {kind!r}{_suggest(kind, CHECK_KINDS)}")
        oat = at.at(f"checks[{i}].{kind}")
        overlap = _name_record(Overlap, chk[kind], oat)
        for part in (overlap.group, overlap.start, overlap.end):
            _own_column(part, columns, oat)
        if found is not None:
            raise cat.error("an extract has one overlap check")
        found = overlap
    return found


def packaged_contracts_path() -> Path:
    """The contracts shipped in the package (`qa_pipeline/spec/extracts.yaml`)."""
    return Path(str(resources.files("qa_pipeline.spec") / "extracts.yaml"))


def contracts_path() -> Path:
    """The contracts in use: the setting `contracts_file` (`QA_PIPELINE_CONTRACTS_FILE`) of
    the settings in use, else the packaged ones."""
    from qa_pipeline.ops.settings import settings_in_use

    site = settings_in_use().contracts_file
    return Path(site) if site else packaged_contracts_path()


def parse_contracts(raw: Any, source: str = "contracts") -> Contracts:
    """The contracts from the parsed YAML; any key, name or value that is not understood is
    a ContractError whose message starts with `source` (the file) and says where it is."""
    from qa_pipeline.spec.rule_kinds import batch_rules, rules_for  # the kinds import this module

    top = _At(source)
    raw = _keys(raw, TOP_KEYS, top, required=("extracts",))
    version = raw.get("version", 1)
    if isinstance(version, bool) or not isinstance(version, int):
        raise top.at("version").error(f"expected a whole number, not {_shown(version)}")
    extracts_raw = raw["extracts"]
    if not isinstance(extracts_raw, dict) or not extracts_raw:
        raise top.at("extracts").error(f"expected a mapping of extracts, not "
                                       f"{_shown(extracts_raw)}")

    # Each extract and its columns on their own first; then the names between them.
    declared: dict[str, dict[str, Any]] = {}
    all_columns: dict[str, dict[str, Column]] = {}
    all_refs: dict[str, dict[str, _RefDecl]] = {}
    keys: dict[str, tuple[str, ...]] = {}
    for name, er in extracts_raw.items():
        at = top.at(f"extract {name}")
        er = _keys(er, EXTRACT_KEYS, at, required=("key", "columns"))
        columns_raw = er["columns"]
        if not isinstance(columns_raw, dict) or not columns_raw:
            raise at.at("columns").error(f"expected a mapping of columns, not "
                                         f"{_shown(columns_raw)}")
        columns: dict[str, Column] = {}
        refs: dict[str, _RefDecl] = {}
        for cname, craw in columns_raw.items():
            column, ref = _column(_name(cname, at, "column name"), craw, at.at(f"column {cname}"))
            columns[cname] = column
            if ref is not None:
                refs[cname] = ref
        declared[name] = er
        all_columns[name] = columns
        all_refs[name] = refs
        keys[name] = _names(er["key"], at, "key")
        for k in keys[name]:
            _own_column(k, columns, at.at("key"))
        for key in ("child_column", "team_column"):
            if key in er:
                _own_column(_name(er[key], at, key), columns, at.at(key))

    shells: dict[str, Extract] = {}
    for name, er in declared.items():
        at = top.at(f"extract {name}")
        columns = all_columns[name]
        _check_columns(columns, all_refs[name], all_columns, at)
        shells[name] = Extract(
            name=name,
            label=_text(er, "label", name, at),
            label_cy=_text(er, "label_cy", "", at),
            description=_text(er, "description", "", at),
            key=keys[name],
            unique=_flag(er, "unique", True, at),
            child_column=er.get("child_column"),
            team_column=er.get("team_column"),
            columns=columns,
            references=_references(er, columns, all_refs[name], all_columns, keys, at),
            overlap=_overlap(er, columns, at),
        )
    extracts = {
        n: Extract(**{**e.__dict__, "rules": rules_for(e, shells)}) for n, e in shells.items()
    }
    contracts = Contracts(version=version, extracts=extracts, batch_rules=batch_rules())
    ids = [r.rule_id for r in contracts.rules]
    dupes = {i for i in ids if ids.count(i) > 1}
    if dupes:
        raise top.error(f"rule ids generated twice: {sorted(dupes)}")
    try:
        contracts.ordered()  # raises on a reference cycle
    except ContractError as exc:
        raise top.error(str(exc)) from None
    return contracts


class _ContractLoader(yaml.SafeLoader):
    """YAML's safe loader, except that a key given twice in one mapping is an error (PyYAML
    keeps the last one silently: a repeated option would override the first)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        self.flatten_mapping(node)
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, Hashable):
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"key {key!r} is given twice", key_node.start_mark)
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


def read_contracts(path: Path) -> Contracts:
    """Parse one contract file (not cached); every fault is a ContractError naming it."""
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ContractError(f"{source}: cannot read the contracts: {reason}") from None
    try:
        raw = yaml.load(text, Loader=_ContractLoader)  # a SafeLoader: no arbitrary objects
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ContractError(f"{source}{where}: {' '.join(str(problem).split())}") from None
    return parse_contracts(raw, source)


def load_contracts(path: str | Path | None = None) -> Contracts:
    """The contracts of `path`, else those in use (`contracts_path`); each file is parsed once
    per process. A site's file must declare the packaged extracts and columns."""
    return _load_file(str(Path(path or contracts_path()).absolute()))


def _shape(contracts: Contracts) -> dict[str, Any]:
    """What the reporting database's tables are built from: extracts, keys, column types."""
    return {e.name: (e.key, e.unique, {c.name: c.type for c in e.columns.values()})
            for e in contracts.extracts.values()}


@cache
def _load_file(path: str) -> Contracts:
    contracts = read_contracts(Path(path))
    packaged = packaged_contracts_path()
    if Path(path) != packaged:
        expected = _shape(_load_file(str(packaged)))
        got = _shape(contracts)
        if got != expected:
            differ = sorted(n for n in expected.keys() | got.keys()
                            if expected.get(n) != got.get(n))
            raise ContractError(
                f"{path}: a site contracts file may change code lists, rules and texts, not "
                f"the extracts, their keys or columns (the reporting database is built from "
                f"the packaged contracts); differs in: {', '.join(differ)}")
    return contracts
