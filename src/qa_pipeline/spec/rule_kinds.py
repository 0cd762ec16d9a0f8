"""Rule kinds: one entry per kind of check, saying which contract declarations produce its
rules (with each rule's message and guidance) and, for a row-level kind, the polars
expression that is true where a row passes.

Adding a contract option is: a field in `contracts.Column` (parsed there) and one `RuleKind`
here. The rules are made once, when the contracts load, and never changed afterwards (their
`params` are read-only): everything a check needs, such as the type of the parent's column a
date is compared with, is resolved at load.

The validation frame these expressions read (`validation.validation_frame`) holds, for each
contract column `c`, its typed value as `c` and its delivered text as `raw(c)`, plus the
helper columns named below.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

import polars as pl

if TYPE_CHECKING:
    from qa_pipeline.spec.contracts import Condition, Extract, ParentLookup, Rule, Severity

LOCAL_TZ = "Europe/London"
"""Paris datetimes are UK local time; they are stored as UTC (reporting-db.md)."""

DIGITS_PATTERN = r"^-?\d+$"
DEFAULT_EARLIEST: Mapping[str, date] = MappingProxyType(
    {"birth": date(1900, 1, 1), "event": date(1990, 1, 1)})
"""Dates before these are row-level errors (settings `earliest_birth_date` and
`earliest_event_date`); they also bound every period range the indicators compute."""

OVERLAP_COL = "__overlap"
FIELD_COUNT_COL = "__field_count"
TOO_LONG_COL = "__too_long"
INVALID_BYTE_COL = "__invalid_byte"
REF_STATUS_COL = "__ref_status"
DEPENDENT_KIND = "reference_quarantined"
DEPENDENT_RULE_SUFFIX = f".{DEPENDENT_KIND}"
"""The rule kind (and rule-id ending) of a dependent row's warning (extracts.md "Severity")."""
ROW_COLUMN_RULES = {"value_too_long": TOO_LONG_COL, "invalid_byte": INVALID_BYTE_COL}
"""Row rules whose column differs row by row: rule suffix -> helper column naming it."""


def raw(column: str) -> str:
    """Name of the delivered text of a column inside the validation frame."""
    return f"__raw__{column}"


def ref_status(index: int) -> str:
    return f"__ref{index}"


def parent_col(lookup: ParentLookup) -> str:
    return f"__parent__{lookup.extract}__{lookup.column}__via__{lookup.via}"


def as_date(expr: pl.Expr, ctype: str) -> pl.Expr:
    """A date or datetime column compared as a UK local date."""
    if ctype == "datetime":
        return expr.dt.convert_time_zone(LOCAL_TZ).dt.date()
    return expr


def condition_expr(cond: Condition) -> pl.Expr:
    """True where a contract condition (`{column, in}` / `{column, present}`) holds."""
    if cond.present:
        return pl.col(raw(cond.column)).is_not_null()
    return pl.col(cond.column).is_in(list(cond.values))


# --- the registry ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckContext:
    """What a row check may read besides the frame: the extract, the batch date, the
    configured earliest dates."""

    extract: Extract
    as_of: date
    earliest: Mapping[str, date] = field(default_factory=lambda: DEFAULT_EARLIEST)

    def typed(self, rule: Rule) -> pl.Expr:
        assert rule.column is not None and rule.column in self.extract.columns, rule.rule_id
        return pl.col(rule.column)

    def ctype(self, rule: Rule) -> str:
        return self.extract.columns[rule.column].type if rule.column in self.extract.columns \
            else ""

    def text(self, rule: Rule) -> pl.Expr:
        return pl.col(raw(rule.column or ""))


@dataclass(frozen=True)
class Draft:
    """One rule a kind produces, before its id is made (`<extract>.<column>.<suffix>`)."""

    column: str | None
    suffix: str
    message: str
    guidance: str
    severity: Severity = "error"
    position: int = -1
    """Where it sorts within its section: the column's or the reference's index."""
    params: dict[str, Any] = field(default_factory=dict)
    message_cy: str = ""
    guidance_cy: str = ""
    """The message and guidance in Welsh: every kind gives both (a test holds them to the
    glossary, qa_pipeline/i18n/glossary.yaml)."""


Section = Literal["file", "row", "column", "reference", "record"]
SECTIONS: tuple[Section, ...] = ("file", "row", "column", "reference", "record")
Produce = Callable[["Extract", Mapping[str, "Extract"]], Iterable[Draft]]
Check = Callable[["Rule", CheckContext], pl.Expr]


@dataclass(frozen=True)
class RuleKind:
    name: str
    section: Section
    """Where its rules stand in the catalogue: file-level, whole-row, per column (in column
    order), per reference, per record group."""
    produce: Produce
    check: Check | None = None
    """The row expression; None for a file-level kind (the reader and staging raise it)."""

    @property
    def level(self) -> Literal["file", "row"]:
        return "file" if self.check is None else "row"


KINDS: dict[str, RuleKind] = {}


def kind(name: str, section: Section, check: Check | None = None
         ) -> Callable[[Produce], Produce]:
    """Register the function that produces a kind's rules (in declaration order: within a
    section and a position, kinds sort in the order they are registered)."""
    def register(produce: Produce) -> Produce:
        if name in KINDS:
            raise ValueError(f"rule kind {name!r} registered twice")
        KINDS[name] = RuleKind(name, section, produce, check)
        return produce
    return register


def rules_for(e: Extract, extracts: Mapping[str, Extract]) -> tuple[Rule, ...]:
    """Every rule the contract implies for one extract, in a stable order."""
    from qa_pipeline.spec.contracts import Rule

    ranked = []
    for rank, k in enumerate(KINDS.values()):
        for d in k.produce(e, extracts):
            rule_id = ".".join(p for p in (e.name, d.column, d.suffix) if p)
            rule = Rule(rule_id, e.name, d.column, k.name, d.severity, d.message, d.guidance,
                        MappingProxyType(dict(d.params)), k.level, d.message_cy, d.guidance_cy)
            ranked.append(((SECTIONS.index(k.section), d.position, rank), rule))
    return tuple(r for _, r in sorted(ranked, key=lambda x: x[0]))


def row_expr(rule: Rule, ctx: CheckContext) -> pl.Expr:
    """True where a row passes `rule` (a null comparison passes: another rule covers it)."""
    check = KINDS[rule.kind].check
    if check is None:
        raise ValueError(f"rule {rule.rule_id}: kind {rule.kind!r} is not a row check")
    return check(rule, ctx).fill_null(True)


# --- file-level kinds: one rule per extract, no row to point at ---------------------------------

_FILE_KINDS: tuple[tuple[str, Severity, str, str, str, str], ...] = (
    ("file_missing", "file_error",
     "{fname} was not in the batch: the export of {name} did not arrive.",
     "Check the Paris export job for this extract and re-run it; the pipeline picks the "
     "batch up again on the next run.",
     "Nid oedd {fname} yn y swp: ni chyrhaeddodd yr allforiad o {name}.",
     "Gwiriwch waith allforio Paris ar gyfer yr echdyniad hwn a'i redeg eto; mae'r biblinell "
     "yn codi'r swp eto ar y rhediad nesaf."),
    ("unreadable", "file_error",
     "{fname} could not be read as a CSV file; nothing of it was loaded.",
     "Re-export the file from Paris as comma-separated UTF-8 or Windows-1252 text with one "
     "header row.",
     "Ni ellid darllen {fname} fel ffeil CSV; ni lwythwyd dim ohoni.",
     "Allforiwch y ffeil eto o Paris fel testun UTF-8 neu Windows-1252 wedi'i wahanu gan "
     "atalnodau, gydag un rhes pennawd."),
    ("identifying_column", "file_error",
     "{fname} has a column that would carry identifying data (a name, address, NHS number or "
     "contact detail); the whole file was rejected and none of it was kept.",
     "Tell the Paris administrator at once: the anonymisation step of the export has failed. "
     "Remove the column from the export definition and re-run it.",
     "Mae gan {fname} golofn a fyddai'n cario data adnabod (enw, cyfeiriad, rhif GIG neu "
     "fanylion cyswllt); gwrthodwyd y ffeil gyfan ac ni chadwyd dim ohoni.",
     "Rhowch wybod i weinyddwr Paris ar unwaith: mae cam dienwi'r allforiad wedi methu. "
     "Tynnwch y golofn o ddiffiniad yr allforiad a'i redeg eto."),
    ("nhs_number", "file_error",
     "{fname} holds a value that is a valid NHS number; the whole file was rejected and the "
     "value was not kept.",
     "Tell the Paris administrator at once: an identifier was not pseudonymised. Fix the "
     "export and re-run it.",
     "Mae {fname} yn dal gwerth sy'n rhif GIG dilys; gwrthodwyd y ffeil gyfan ac ni chadwyd "
     "y gwerth.",
     "Rhowch wybod i weinyddwr Paris ar unwaith: ni chafodd dynodydd ei ffugenwi. Cywirwch yr "
     "allforiad a'i redeg eto."),
    ("missing_column", "file_error",
     "{fname} lacks a required column; the whole file was rejected.",
     "Restore the column in the Paris export definition (see docs/rules.md for the columns of "
     "each extract) and re-run the export.",
     "Mae colofn ofynnol yn eisiau yn {fname}; gwrthodwyd y ffeil gyfan.",
     "Adferwch y golofn yn niffiniad allforio Paris (mae docs/rules.md yn rhestru colofnau "
     "pob echdyniad) a rhedwch yr allforiad eto."),
    ("duplicate_column", "file_error",
     "{fname} names the same column twice; the whole file was rejected.",
     "Remove the repeated column from the Paris export definition and re-run the export.",
     "Mae {fname} yn enwi'r un golofn ddwywaith; gwrthodwyd y ffeil gyfan.",
     "Tynnwch y golofn a ailadroddir o ddiffiniad allforio Paris a rhedwch yr allforiad eto."),
    ("too_large", "file_error",
     "{fname} is larger than the configured limit; it was not read.",
     "Check the Paris export: a runaway export can repeat rows. If the size is genuine, raise "
     "QA_PIPELINE_MAX_FILE_MB.",
     "Mae {fname} yn fwy na'r terfyn a osodwyd; ni chafodd ei darllen.",
     "Gwiriwch allforiad Paris: gall allforiad sydd wedi rhedeg yn wyllt ailadrodd rhesi. Os "
     "yw'r maint yn gywir, codwch QA_PIPELINE_MAX_FILE_MB."),
    ("not_in_landing", "file_error",
     "{fname} is a link that leads out of the landing folder; it was not read.",
     "Deliver the file itself into the batch folder, not a link to elsewhere.",
     "Mae {fname} yn ddolen sy'n arwain allan o'r ffolder glanio; ni chafodd ei darllen.",
     "Rhowch y ffeil ei hun yn ffolder y swp, nid dolen i rywle arall."),
    ("duplicate_file", "file_error",
     "The batch holds {fname} twice, under names that differ only in case; both were "
     "rejected, since there is no telling which one is right.",
     "Check the Paris export job: deliver each extract once. Remove the wrong file from the "
     "batch folder and run the batch again.",
     "Mae'r swp yn dal {fname} ddwywaith, dan enwau sy'n wahanol o ran priflythrennau yn "
     "unig; gwrthodwyd y ddwy, gan nad oes modd gwybod pa un sy'n gywir.",
     "Gwiriwch waith allforio Paris: anfonwch bob echdyniad unwaith. Tynnwch y ffeil anghywir "
     "o ffolder y swp a rhedwch y swp eto."),
    ("unnamed_column", "warning",
     "{fname} has a column with no name in its header (often a trailing comma from Excel) "
     "and no values in it; it was ignored.",
     "No action is needed; to tidy the export, remove the trailing comma from the header.",
     "Mae gan {fname} golofn heb enw yn ei phennawd (atalnod ar y diwedd o Excel, yn aml) a "
     "dim gwerthoedd ynddi; cafodd ei hanwybyddu.",
     "Nid oes angen gwneud dim; i dacluso'r allforiad, tynnwch yr atalnod olaf o'r pennawd."),
    ("no_rows", "warning",
     "{fname} has a header but no rows: the extract is empty.",
     "Check the Paris export job: a full snapshot of this extract is rarely empty.",
     "Mae gan {fname} bennawd ond dim rhesi: mae'r echdyniad yn wag.",
     "Gwiriwch waith allforio Paris: anaml y mae ciplun llawn o'r echdyniad hwn yn wag."),
    ("unknown_column", "warning",
     "{fname} has a column that is not in the contract; it was ignored.",
     "No action in Paris is needed if the column is expected; otherwise ask for the export "
     "definition to be corrected, or for the contract to be extended.",
     "Mae gan {fname} golofn nad yw yn y contract; cafodd ei hanwybyddu.",
     "Nid oes angen gwneud dim yn Paris os oes disgwyl y golofn; fel arall, gofynnwch i "
     "ddiffiniad yr allforiad gael ei gywiro, neu i'r contract gael ei ehangu."),
)
"""File-level kinds: kind, severity, message, guidance, and the two in Welsh."""


def _file_kind(name: str, severity: Severity, message: str, guidance: str, message_cy: str,
               guidance_cy: str) -> None:
    @kind(name, "file")
    def produce(e: Extract, _x: Mapping[str, Extract]) -> Iterable[Draft]:
        names = {"fname": e.file_name, "name": e.name}
        yield Draft(None, name, message.format(**names), guidance, severity,
                    message_cy=message_cy.format(**names), guidance_cy=guidance_cy)


for _spec in _FILE_KINDS:
    _file_kind(*_spec)


@kind("reference_not_checked", "file")
def _reference_not_checked(e: Extract, _x: Mapping[str, Extract]) -> Iterable[Draft]:
    if e.references:
        yield Draft(None, "reference_not_checked",
                    f"References from {e.name} to an extract that was missing or rejected "
                    "could not be checked; the rows were loaded unchecked.",
                    "Fix the missing or rejected extract; the references are checked on the "
                    "next run.", "warning",
                    message_cy=f"Ni ellid gwirio'r cyfeiriadau o {e.name} at echdyniad a oedd "
                    "ar goll neu a wrthodwyd; llwythwyd y rhesi heb eu gwirio.",
                    guidance_cy="Cywirwch yr echdyniad sydd ar goll neu a wrthodwyd; caiff y "
                    "cyfeiriadau eu gwirio ar y rhediad nesaf.")


# --- whole-row kinds ---------------------------------------------------------------------------


_HELPER_ROW_KINDS: tuple[tuple[str, str, str, str, str, str, str], ...] = (
    ("field_count", FIELD_COUNT_COL, "wrong_field_count",
     "This row of {fname} has more or fewer fields than the header; it was quarantined "
     "because its values cannot be matched to columns.",
     "Look for an unquoted comma or a missing field in this record of the export; the value "
     "column shows how many fields it had.",
     "Mae gan y rhes hon o {fname} fwy neu lai o feysydd na'r pennawd; fe'i rhoddwyd mewn "
     "cwarantîn gan na ellir paru ei gwerthoedd â'r colofnau.",
     "Chwiliwch am atalnod heb ddyfynnodau neu faes coll yn y cofnod hwn o'r allforiad; mae'r "
     "golofn gwerth yn dangos faint o feysydd oedd ganddo."),
    ("too_long", TOO_LONG_COL, "value_too_long",
     "A value in this row of {fname} is longer than the configured limit; the row was "
     "quarantined.",
     "Check the record in Paris: a field this long is usually a broken export (a missing "
     "closing quote swallowing the following rows).",
     "Mae gwerth yn y rhes hon o {fname} yn hwy na'r terfyn a osodwyd; rhoddwyd y rhes mewn "
     "cwarantîn.",
     "Gwiriwch y cofnod yn Paris: mae maes mor hir â hyn fel arfer yn arwydd o allforiad "
     "toredig (dyfynnod cau coll yn llyncu'r rhesi sy'n dilyn)."),
    ("invalid_byte", INVALID_BYTE_COL, "invalid_byte",
     "A value in this row of {fname} holds a byte that is not a character of the file's "
     "encoding (shown as \N{REPLACEMENT CHARACTER}); the row was quarantined rather than "
     "guessed at.",
     "Look at the record in Paris: the character was corrupted on export (often text pasted "
     "from another program). Retype it and re-run the export; the value column shows where "
     "the bad byte is.",
     "Mae gwerth yn y rhes hon o {fname} yn dal beit nad yw'n nod yn amgodiad y ffeil (a "
     "ddangosir fel \N{REPLACEMENT CHARACTER}); rhoddwyd y rhes mewn cwarantîn yn hytrach na "
     "dyfalu.",
     "Edrychwch ar y cofnod yn Paris: cafodd y nod ei lygru wrth allforio (testun wedi'i "
     "ludo o raglen arall, yn aml). Teipiwch ef eto a rhedwch yr allforiad eto; mae'r golofn "
     "gwerth yn dangos ble mae'r beit gwael."),
)
"""Whole-row kinds found while reading (validation sets a helper column on the rows they
hit): kind, helper column, rule suffix, message, guidance, and the two in Welsh. No one
column is at fault, so their issues name none (`at_column` None)."""


def _helper_row_kind(name: str, helper: str, suffix: str, message: str, guidance: str,
                     message_cy: str, guidance_cy: str) -> None:
    @kind(name, "row", lambda r, c: pl.col(helper).is_null())
    def produce(e: Extract, _x: Mapping[str, Extract]) -> Iterable[Draft]:
        yield Draft(None, suffix, message.format(fname=e.file_name), guidance,
                    params={"at_column": None},
                    message_cy=message_cy.format(fname=e.file_name), guidance_cy=guidance_cy)


for _row_spec in _HELPER_ROW_KINDS:
    _helper_row_kind(*_row_spec)


@kind("duplicate_key", "row",
      lambda r, c: pl.struct([raw(k) for k in r.params["key"]]).is_first_distinct())
def _duplicate_key(e: Extract, _x: Mapping[str, Extract]) -> Iterable[Draft]:
    from qa_pipeline.spec.contracts import human

    if e.unique:
        key = ", ".join(human(k) for k in e.key)
        key_cy = ", ".join(e.column_cy(k) for k in e.key)
        yield Draft(None, "duplicate_key",
                    f"Another {e.label} with the same {key} appears earlier in the file; this "
                    "later one was quarantined.",
                    f"Find the two {e.label} records with this {key} in Paris and merge or "
                    "correct them.", params={"key": list(e.key)},
                    message_cy=f"Mae cofnod {e.label_in_welsh} arall â'r un {key_cy} yn "
                    "gynharach yn y ffeil; rhoddwyd yr un diweddarach hwn mewn cwarantîn.",
                    guidance_cy=f"Dewch o hyd i'r ddau gofnod {e.label_in_welsh} â'r un "
                    f"{key_cy} yn Paris a'u huno neu eu cywiro.")


# --- per-column kinds, in the order their rules are listed for a column ------------------------


def _columns(e: Extract) -> Iterable[tuple[int, Any, str]]:
    from qa_pipeline.spec.contracts import human

    for i, c in enumerate(e.columns.values()):
        yield i, c, human(c.name)


def _vowel(text: str) -> bool:
    """Whether a Welsh name (in its quotes) starts with a vowel: "a" is then "ac", "â" "ag"."""
    return text.lstrip("\u2018").lower()[:1] in tuple("aeiouwyâêîôûŵŷ")


def _and_cy(names: list[str]) -> str:
    """Names joined by "a" (and), "ac" before a vowel."""
    out = names[0]
    for n in names[1:]:
        out += f" {'ac' if _vowel(n) else 'a'} {n}"
    return out


def _with_cy(name: str) -> str:
    """"â" (as, with) before a name, "ag" before a vowel."""
    return f"{'ag' if _vowel(name) else 'â'} {name}"


def _at(e: Extract, column: str) -> str:
    """"‘X’ ar gofnod Y": a column of a record, in Welsh (the label after "cofnod" never
    mutates; "cofnod" after "ar" does)."""
    return f"{e.column_cy(column)} ar gofnod {e.label_in_welsh}"


@kind("missing", "column", lambda r, c: (
    c.text(r).is_not_null() if "condition" not in r.params
    else ~condition_expr(r.params["condition"]) | c.text(r).is_not_null()))
def _missing(e: Extract, _x: Mapping[str, Extract]) -> Iterable[Draft]:
    for i, c, col_h in _columns(e):
        guidance = f"Record the {col_h} on the {e.label} in Paris."
        guidance_cy = f"Cofnodwch {_at(e, c.name)} yn Paris."
        if c.required:
            yield Draft(c.name, "missing", f"The {col_h} of the {e.label} is missing; it is "
                        "required.", guidance, position=i,
                        message_cy=f"Mae {_at(e, c.name)} ar goll; mae'n ofynnol.",
                        guidance_cy=guidance_cy)
        elif c.required_when is not None:
            yield Draft(c.name, "missing", f"The {col_h} of the {e.label} is missing; it is "
                        f"required {c.required_when.describe()}.", guidance, position=i,
                        params={"condition": c.required_when},
                        message_cy=f"Mae {_at(e, c.name)} ar goll; mae'n ofynnol "
                        f"{c.required_when.describe_cy(e.column_cy)}.",
                        guidance_cy=guidance_cy)


def _parsed(r: Rule, c: CheckContext) -> pl.Expr:
    """The delivered text is blank, or it parsed (`validation.parse_expr`)."""
    return c.text(r).is_null() | c.typed(r).is_not_null()


Make = Callable[["Extract", Any, str], Draft]


def per_column(applies: Callable[[Any], bool]) -> Callable[[Make], Produce]:
    """A kind with one rule for each column that `applies` to (in column order): the
    decorated function makes the rule of one column, given the extract, the column and the
    column's name as a data officer reads it."""
    def wrap(make: Make) -> Produce:
        def produce(e: Extract, _x: Mapping[str, Extract]) -> Iterable[Draft]:
            for i, c, col_h in _columns(e):
                if applies(c):
                    yield replace(make(e, c, col_h), position=i)
        return produce
    return wrap


@kind("unknown_code", "column", _parsed)
@per_column(lambda c: c.type == "code")
def _unknown_code(e: Extract, c: Any, col_h: str) -> Draft:
    codes = ", ".join(c.codes)
    return Draft(c.name, "unknown_code", f"The {col_h} of the {e.label} is not one of the "
                 f"allowed codes ({codes}).", f"Correct the {col_h} in Paris to one of: {codes}.",
                 message_cy=f"Nid yw {_at(e, c.name)} yn un o'r codau a ganiateir ({codes}).",
                 guidance_cy=f"Cywirwch {_at(e, c.name)} yn Paris i un o: {codes}.")


@kind("invalid_flag", "column", _parsed)
@per_column(lambda c: c.type == "flag")
def _invalid_flag(e: Extract, c: Any, col_h: str) -> Draft:
    return Draft(c.name, "invalid_flag", f"The {col_h} of the {e.label} is not an allowed "
                 f"value ({'/'.join(c.flags)}).",
                 f"Correct the {col_h} in Paris to one of: {', '.join(c.flags)}.",
                 message_cy=f"Nid yw {_at(e, c.name)} yn un o'r gwerthoedd a ganiateir "
                 f"({'/'.join(c.flags)}).",
                 guidance_cy=f"Cywirwch {_at(e, c.name)} yn Paris i un o: "
                 f"{', '.join(c.flags)}.")


def _invalid_type(type_: str) -> Produce:
    @per_column(lambda c: c.type == type_)
    def make(e: Extract, c: Any, col_h: str) -> Draft:
        from qa_pipeline.spec.contracts import TYPE_WORDS, TYPE_WORDS_CY

        return Draft(c.name, f"invalid_{type_}", f"The {col_h} of the {e.label} is not "
                     f"{TYPE_WORDS[type_]}.", f"Correct the {col_h} in Paris; if it looks right "
                     "there, the export format has changed and the Paris administrator should "
                     "be told.",
                     message_cy=f"Nid yw {_at(e, c.name)} yn {TYPE_WORDS_CY[type_]}.",
                     guidance_cy=f"Cywirwch {_at(e, c.name)} yn Paris; os yw'n edrych yn gywir "
                     "yno, mae fformat yr allforiad wedi newid a dylid rhoi gwybod i weinyddwr "
                     "Paris.")
    return make


kind("invalid_date", "column", _parsed)(_invalid_type("date"))
kind("invalid_datetime", "column", _parsed)(_invalid_type("datetime"))
# Digits too many for any integer are out_of_range, not "not a whole number".
kind("invalid_int", "column", lambda r, c: c.text(r).is_null()
     | c.text(r).str.contains(DIGITS_PATTERN))(_invalid_type("int"))


def _int_range(r: Rule, c: CheckContext) -> pl.Expr:
    from qa_pipeline.spec.contracts import INT_MAX, INT_MIN

    return ~c.text(r).str.contains(DIGITS_PATTERN) | c.typed(r).is_between(INT_MIN, INT_MAX)


@kind("int_range", "column", _int_range)
@per_column(lambda c: c.type == "int")
def _out_of_range(e: Extract, c: Any, col_h: str) -> Draft:
    from qa_pipeline.spec.contracts import INT_MAX, INT_MIN

    return Draft(c.name, "out_of_range", f"The {col_h} of the {e.label} is a whole number "
                 f"too large to be real (beyond {INT_MIN:,} to {INT_MAX:,}).",
                 f"Correct the {col_h} in Paris: a number this size is a typing or export "
                 "error.",
                 message_cy=f"Mae {_at(e, c.name)} yn rhif cyfan rhy fawr i fod yn gredadwy (y tu "
                 f"hwnt i {INT_MIN:,} i {INT_MAX:,}).",
                 guidance_cy=f"Cywirwch {_at(e, c.name)} yn Paris: gwall teipio neu allforio "
                 "yw rhif o'r maint hwn.")


@kind("too_early", "column", lambda r, c: as_date(c.typed(r), c.ctype(r))
      >= pl.lit(c.earliest[r.params["earliest"]]))
@per_column(lambda c: c.type in ("date", "datetime"))
def _too_early(e: Extract, c: Any, col_h: str) -> Draft:
    setting = f"earliest_{c.earliest}_date"
    what = "date of birth" if c.earliest == "birth" else "date of a case event"
    what_cy = ("dyddiad geni cynharaf sy'n gredadwy" if c.earliest == "birth"
               else "dyddiad cynharaf sy'n gredadwy ar gyfer digwyddiad mewn achos")
    return Draft(c.name, "too_early", f"The {col_h} of the {e.label} is earlier than the "
                 f"earliest plausible {what} (the {setting} setting); the year is most likely "
                 "mistyped.", f"Correct the year of the {col_h} in Paris.",
                 params={"earliest": c.earliest, "setting": setting},
                 message_cy=f"Mae {_at(e, c.name)} yn gynharach na'r {what_cy} "
                 f"(y gosodiad {setting}); mae'n debyg bod y flwyddyn wedi'i "
                 "theipio'n anghywir.",
                 guidance_cy=f"Cywirwch flwyddyn {_at(e, c.name)} yn Paris.")


@kind("future_date", "column", lambda r, c: as_date(c.typed(r), c.ctype(r))
      <= pl.lit(c.as_of))
@per_column(lambda c: c.type in ("date", "datetime") and not c.future_allowed)
def _future_date(e: Extract, c: Any, col_h: str) -> Draft:
    return Draft(c.name, "future_date", f"The {col_h} of the {e.label} is later than the "
                 "extract date.", f"Correct the {col_h} in Paris: events cannot be recorded "
                 "before they happen.",
                 message_cy=f"Mae {_at(e, c.name)} yn hwyrach na dyddiad yr echdyniad.",
                 guidance_cy=f"Cywirwch {_at(e, c.name)} yn Paris: ni ellir cofnodi "
                 "digwyddiadau cyn iddynt ddigwydd.")


@kind("first_of_month", "column", lambda r, c: c.typed(r).dt.day() == 1)
@per_column(lambda c: c.first_of_month)
def _first_of_month(e: Extract, c: Any, col_h: str) -> Draft:
    return Draft(c.name, "not_first_of_month", f"The {col_h} of the {e.label} is not "
                 "anonymised to the first of the month; the value is withheld from reports.",
                 "Tell the Paris administrator: the export's anonymisation of dates of birth "
                 "is not working.", params={"sensitive": True},
                 message_cy=f"Nid yw {_at(e, c.name)} wedi'i ddienwi i'r cyntaf o'r mis; "
                 "cedwir y gwerth yn ôl o'r adroddiadau.",
                 guidance_cy="Rhowch wybod i weinyddwr Paris: nid yw dienwi dyddiadau geni "
                 "yn yr allforiad yn gweithio.")


def _not_before(r: Rule, c: CheckContext) -> pl.Expr:
    other = c.extract.columns[r.params["other"]]
    return as_date(c.typed(r), c.ctype(r)) >= as_date(pl.col(other.name), other.type)


@kind("not_before", "column", _not_before)
@per_column(lambda c: c.not_before is not None)
def _not_before_rules(e: Extract, c: Any, col_h: str) -> Draft:
    from qa_pipeline.spec.contracts import date_word, human

    other = date_word(c.not_before)
    return Draft(c.name, f"before_{other}", f"The {col_h} of the {e.label} is earlier than its "
                 f"{human(other)}.",
                 f"Check both dates on the {e.label} in Paris and correct the wrong one.",
                 params={"other": c.not_before},
                 message_cy=f"Mae {_at(e, c.name)} yn gynharach na "
                 f"{e.column_cy(c.not_before)} yr un cofnod.",
                 guidance_cy=f"Gwiriwch {e.column_cy(c.name)} a {e.column_cy(c.not_before)} "
                 f"ar gofnod {e.label_in_welsh} yn Paris a chywirwch yr un anghywir.")


@kind("minimum", "column", lambda r, c: c.typed(r) >= r.params["minimum"])
@per_column(lambda c: c.minimum is not None)
def _minimum(e: Extract, c: Any, col_h: str) -> Draft:
    return Draft(c.name, "below_minimum", f"The {col_h} of the {e.label} is below "
                 f"{c.minimum}.", f"Correct the {col_h} in Paris.", params={"minimum": c.minimum},
                 message_cy=f"Mae {_at(e, c.name)} yn is na {c.minimum}.",
                 guidance_cy=f"Cywirwch {_at(e, c.name)} yn Paris.")


@kind("not_equal", "column", lambda r, c: c.typed(r) != pl.col(r.params["other"]))
@per_column(lambda c: c.not_equal is not None)
def _not_equal(e: Extract, c: Any, col_h: str) -> Draft:
    from qa_pipeline.spec.contracts import human

    return Draft(c.name, f"same_as_{c.not_equal}", f"The {col_h} of the {e.label} is the same "
                 f"as its {human(c.not_equal)}.",
                 f"Correct the {e.label} in Paris: it links a person to themself.",
                 params={"other": c.not_equal},
                 message_cy=f"Mae {_at(e, c.name)} yr un fath {_with_cy(e.column_cy(c.not_equal))} "
                 "yr un cofnod.",
                 guidance_cy=f"Cywirwch gofnod {e.label_in_welsh} yn Paris: mae'n cysylltu "
                 "person ag ef ei hun.")


@kind("only_when", "column", lambda r, c: (c.typed(r) != r.params["value"])
      | (pl.col(r.params["other"]) == r.params["equals"]).fill_null(False))
@per_column(lambda c: c.only_when is not None)
def _only_when(e: Extract, c: Any, col_h: str) -> Draft:
    from qa_pipeline.spec.contracts import human

    ow = c.only_when
    return Draft(c.name, ow.rule or f"{ow.value.lower()}_without_{ow.column}",
                 f"The {col_h} of the {e.label} is {ow.value} but its {human(ow.column)} is "
                 f"not {ow.equals}.", f"Check the {col_h} and the {human(ow.column)} on the "
                 f"{e.label} in Paris.", ow.severity,
                 params={"value": ow.value, "other": ow.column, "equals": ow.equals},
                 message_cy=f"Mae {_at(e, c.name)} yn {ow.value} ond nid yw "
                 f"{e.column_cy(ow.column)} yn {ow.equals}.",
                 guidance_cy=f"Gwiriwch {e.column_cy(c.name)} a {e.column_cy(ow.column)} ar "
                 f"gofnod {e.label_in_welsh} yn Paris.")


@kind("warn_missing", "column", lambda r, c: ~condition_expr(r.params["condition"])
      | c.text(r).is_not_null())
@per_column(lambda c: c.warn_missing_when is not None)
def _warn_missing(e: Extract, c: Any, col_h: str) -> Draft:
    cond = c.warn_missing_when
    return Draft(c.name, f"missing_for_{'_'.join(v.lower() for v in cond.values)}",
                 f"The {col_h} of the {e.label} is blank {cond.describe()}.",
                 f"Record the {col_h} in Paris where it is known.", "warning",
                 params={"condition": cond},
                 message_cy=f"Mae {_at(e, c.name)} yn wag {cond.describe_cy(e.column_cy)}.",
                 guidance_cy=f"Cofnodwch {_at(e, c.name)} yn Paris lle mae'n hysbys.")


@kind("weekend", "column", lambda r, c: c.typed(r).dt.weekday() <= 5)
@per_column(lambda c: c.weekend_warning)
def _weekend(e: Extract, c: Any, col_h: str) -> Draft:
    return Draft(c.name, "weekend", f"The {col_h} of the {e.label} falls on a Saturday or "
                 "Sunday.", f"Check the {col_h} in Paris; correct it if it was mistyped.",
                 "warning",
                 message_cy=f"Mae {_at(e, c.name)} yn disgyn ar ddydd Sadwrn neu ddydd Sul.",
                 guidance_cy=f"Gwiriwch {_at(e, c.name)} yn Paris; cywirwch ef os cafodd ei "
                 "deipio'n anghywir.")


@kind("matches_parent", "column",
      lambda r, c: c.typed(r) == pl.col(parent_col(r.params["lookup"])))
def _matches_parent(e: Extract, extracts: Mapping[str, Extract]) -> Iterable[Draft]:
    from qa_pipeline.spec.contracts import human

    for i, c, col_h in _columns(e):
        lookup = c.matches_parent
        if lookup is not None:
            parent = extracts[lookup.extract]
            yield Draft(c.name, f"differs_from_{parent.singular}",
                        f"The {col_h} of the {e.label} is not the {human(lookup.column)} of "
                        f"the {parent.label} it belongs to.",
                        f"Link the {e.label} in Paris to the right {parent.label}, or correct "
                        f"its {col_h}.", position=i, params={"lookup": lookup},
                        message_cy=f"Nid yw {_at(e, c.name)} yr un fath "
                        f"{_with_cy(parent.column_cy(lookup.column))} y cofnod "
                        f"{parent.label_in_welsh} y mae'n perthyn iddo.",
                        guidance_cy=f"Cysylltwch gofnod {e.label_in_welsh} yn Paris â'r "
                        f"cofnod {parent.label_in_welsh} cywir, neu cywirwch "
                        f"{e.column_cy(c.name)}.")


def _parent_date(before: bool) -> Check:
    def check(r: Rule, c: CheckContext) -> pl.Expr:
        mine = as_date(c.typed(r), c.ctype(r))
        theirs = as_date(pl.col(parent_col(r.params["lookup"])), r.params["parent_type"])
        return mine >= theirs if before else mine <= theirs
    return check


def _parent_dates(attr: str, suffix_word: str, word: str, word_cy: str) -> Produce:
    def produce(e: Extract, extracts: Mapping[str, Extract]) -> Iterable[Draft]:
        from qa_pipeline.spec.contracts import date_word, human

        for i, c, col_h in _columns(e):
            lookup: ParentLookup | None = getattr(c, attr)
            if lookup is None:
                continue
            parent = extracts[lookup.extract]
            pcol = date_word(lookup.column)
            if not pcol.startswith(parent.singular + "_"):
                pcol = f"{parent.singular}_{pcol}"
            yield Draft(c.name, f"{suffix_word}_{pcol}",
                        f"The {col_h} of the {e.label} is {word} the "
                        f"{human(date_word(lookup.column))} of its {parent.label}.",
                        f"Check the dates of the {e.label} and its {parent.label} in Paris.",
                        message_cy=f"Mae {_at(e, c.name)} yn {word_cy} "
                        f"{parent.column_cy(lookup.column)} ei gofnod {parent.label_in_welsh}.",
                        guidance_cy=f"Gwiriwch ddyddiadau cofnod {e.label_in_welsh} a'i gofnod "
                        f"{parent.label_in_welsh} yn Paris.",
                        position=i, params={
                            "lookup": lookup,
                            # resolved here, once: the check compares as this type
                            "parent_type": parent.columns[lookup.column].type})
    return produce


kind("not_before_parent", "column", _parent_date(before=True))(
    _parent_dates("not_before_parent", "before", "earlier than", "gynharach na"))
kind("not_after_parent", "column", _parent_date(before=False))(
    _parent_dates("not_after_parent", "after", "later than", "hwyrach na"))


# --- per-reference kinds -------------------------------------------------------------------------


def _reference_status(status: str) -> Check:
    return lambda r, c: pl.col(ref_status(r.params["ref_index"])) != status


def _references(e: Extract, extracts: Mapping[str, Extract]
                ) -> Iterable[tuple[int, str, str, str, Extract, Any]]:
    """Each reference: its index, rule column, columns in English and in Welsh (the Welsh
    with the record they are on), target, declaration."""
    from qa_pipeline.spec.contracts import human

    for i, ref in enumerate(e.references):
        col = ref.columns[0] if len(ref.columns) == 1 else "|".join(ref.columns)
        cy = f"{_and_cy([e.column_cy(c) for c in ref.columns])} ar gofnod {e.label_in_welsh}"
        yield (i, col, " and ".join(human(c) for c in ref.columns), cy, extracts[ref.extract],
               ref)


@kind("unresolved_reference", "reference", _reference_status("missing"))
def _unresolved(e: Extract, extracts: Mapping[str, Extract]) -> Iterable[Draft]:
    for i, col, col_h, at_cy, target, _ref in _references(e, extracts):
        yield Draft(col, "unresolved_reference", f"The {col_h} of the {e.label} does not name "
                    f"any {target.label} in {target.file_name}.",
                    f"Correct the {col_h} on the {e.label} in Paris, or check that the "
                    f"{target.label} was not deleted.", position=i, params={"ref_index": i},
                    message_cy=f"Nid yw {at_cy} yn enwi unrhyw gofnod "
                    f"{target.label_in_welsh} yn {target.file_name}.",
                    guidance_cy=f"Cywirwch {at_cy} yn Paris, neu gwiriwch na chafodd y cofnod "
                    f"{target.label_in_welsh} ei ddileu.")


@kind(DEPENDENT_KIND, "reference", _reference_status("quarantined"))
def _quarantined(e: Extract, extracts: Mapping[str, Extract]) -> Iterable[Draft]:
    for i, col, col_h, at_cy, target, _ref in _references(e, extracts):
        t_cy = target.label_in_welsh
        yield Draft(col, DEPENDENT_KIND, f"The {col_h} of the {e.label} names a "
                    f"{target.label} that was quarantined for its own fault (its root cause: "
                    f"see root_rule_id and root_record_id); this {e.label} was loaded, and is "
                    f"left out of any indicator that reads the {target.label} (indicators.md, "
                    "Dependent rows).", f"Nothing to fix on this "
                    f"{e.label}: fix the {target.label}'s own issue (its root cause), and this "
                    "warning goes on the next run.", "warning", position=i,
                    params={"ref_index": i},
                    message_cy=f"Mae {at_cy} yn enwi cofnod {t_cy} a roddwyd mewn cwarantîn am "
                    "ei fai ei hun (achos sylfaenol: gweler root_rule_id a root_record_id); "
                    f"llwythwyd y cofnod {e.label_in_welsh} hwn, ac fe'i gadewir allan o "
                    f"unrhyw ddangosydd sy'n darllen y cofnod {t_cy} (indicators.md, "
                    "Dependent rows).",
                    guidance_cy=f"Dim i'w gywiro ar y cofnod {e.label_in_welsh} hwn: cywirwch "
                    f"broblem y cofnod {t_cy} ei hun (yr achos sylfaenol), a bydd y rhybudd hwn "
                    "yn diflannu ar y rhediad nesaf.")


@kind("reference_wrong_type", "reference", _reference_status("wrong_type"))
def _wrong_type(e: Extract, extracts: Mapping[str, Extract]) -> Iterable[Draft]:
    from qa_pipeline.spec.contracts import human

    for i, col, col_h, at_cy, target, ref in _references(e, extracts):
        if ref.where is not None:
            yield Draft(col, "reference_wrong_type", f"The {col_h} of the {e.label} names a "
                        f"{target.label} whose {human(ref.where.column)} is not "
                        f"{' or '.join(ref.where.values)}.",
                        f"Link the {e.label} in Paris to the right {target.label}.",
                        position=i, params={"ref_index": i},
                        message_cy=f"Mae {at_cy} yn enwi cofnod {target.label_in_welsh} nad "
                        f"yw {target.column_cy(ref.where.column)} ynddo yn "
                        f"{' neu '.join(ref.where.values)}.",
                        guidance_cy=f"Cysylltwch gofnod {e.label_in_welsh} yn Paris â'r cofnod "
                        f"{target.label_in_welsh} cywir.")


# --- record-group kinds ---------------------------------------------------------------------


@kind("overlap", "record", lambda r, c: ~pl.col(OVERLAP_COL))
def _overlap(e: Extract, _x: Mapping[str, Extract]) -> Iterable[Draft]:
    from qa_pipeline.spec.contracts import human

    ov = e.overlap
    if ov is not None:
        group_cy = e.column_cy(ov.group).replace("\u2018id ", "\u2018")
        yield Draft(None, "overlap", f"This {e.label} overlaps an earlier {e.label} of the "
                    f"same {human(ov.group).replace(' id', '')}; the later one was "
                    "quarantined.", f"End the earlier {e.label} in Paris before this one "
                    "starts, or correct the dates.",
                    message_cy=f"Mae'r cofnod {e.label_in_welsh} hwn yn gorgyffwrdd â chofnod "
                    f"{e.label_in_welsh} cynharach ar gyfer yr un {group_cy}; rhoddwyd yr un "
                    "diweddarach mewn cwarantîn.",
                    guidance_cy=f"Rhowch ddyddiad gorffen i'r cofnod {e.label_in_welsh} "
                    "cynharach yn Paris cyn i'r un hwn ddechrau, neu cywirwch y dyddiadau.",
                    params={
                        "group": ov.group, "start": ov.start, "end": ov.end,
                        "at_column": ov.start})


# --- rules of the batch as a whole -------------------------------------------------------------


def batch_rules() -> tuple[Rule, ...]:
    from qa_pipeline.spec.contracts import Rule

    return (Rule("batch.unknown_file", "batch", None, "unknown_file", "warning",
                 "A file in the batch folder is not one of the extracts; it was ignored.",
                 "Check the Paris export job: the file may be misnamed (the names are "
                 "<extract>.csv) or not belong in the batch.", MappingProxyType({}), "file",
                 "Nid yw ffeil yn ffolder y swp yn un o'r echdyniadau; cafodd ei hanwybyddu.",
                 "Gwiriwch waith allforio Paris: efallai fod enw'r ffeil yn anghywir "
                 "(<extract>.csv yw'r enwau) neu nad yw'n perthyn i'r swp."),)
