"""Seeded generator of realistic *synthetic* Paris extract batches.

Nothing here is, or is derived from, real data: every id is a made-up pseudonymous string, and
the only free text is a fixed list of invented team names. The generator writes a batch as
the Paris extract specification (``shared/spec/extracts.md``) describes it: twelve CSV
extracts in a folder named with the extract date. Tests, benchmarks and demonstrations use it.

Public API
----------
``generate_batch(out_root, children=..., seed=..., as_of=...)`` writes
``out_root/<as_of ISO>/<extract>.csv`` for all twelve extracts (see :data:`EXTRACTS`) and
returns the batch folder. The output is a pure function of the arguments (``children``,
``seed``, ``as_of``, ``defects``, ``identifying``, ``years``, ``chunk_children``): the same
arguments always give byte-identical files. ``chunk_children`` only bounds memory, but it is
part of the random stream, so change it and the (equally valid) data changes too.

Clean data (``defects=False``) obeys every rule of the specification: every reference
resolves, every conditional value is present, every date is in order and not after the
extract date, no two CP plans of a child overlap, no conference falls on a weekend, nobody
attended a conference without an invitation, every CHILD has an ethnicity, and no id is
(or could be) a valid NHS number (numeric ids have 9 digits, 4 for teams; the others carry
a letter prefix). A validator that implements the specification exactly reports nothing
for it.

The data model: about ``years`` years of history ending at ``as_of``. Children come in
families of one to three that share a mother (a grandparent for about 5 %) and, for about
75 %, a father figure; about 60 % of father figures have all four ``*_recorded`` flags Y.
Each child has one to three referrals; decisions lead to initial and core assessments, CIN
plans with three-monthly reviews, strategy discussions, initial child protection conferences,
CP plans with review conferences (three months, then six-monthly) and Family Intervention
referrals; a few children arrive with a TRANSFER_IN conference. Only a child's last referral
can lead to a strategy discussion, so a child never has two overlapping CP plans.

Format variety (all of it valid input, chosen deterministically from the seed): dates
``dd/mm/yyyy`` in most files, ``yyyy-mm-dd`` in some and mixed row by row in one; referral
datetimes in all the allowed formats; flags ``Y``/``N`` and, in some files, ``Yes``/``no``/
``YES``...; codes in lower case on some rows of some files; ids zero-padded numbers
(``000012345``) for some id namespaces and prefixed strings (``P00012345``) for the others;
headers ``snake_case``, ``Title Case``, ``UPPER-HYPHEN``...; shuffled column order in at least
one file; ``teams.csv`` always Windows-1252 with Welsh characters, commas and a quote in the
team names (RFC 4180 quoting); at least one UTF-8 file with a byte-order mark; ``\\r\\n`` line
endings in some files; surrounding white space on a few values.

Defects (``defects=True``)
--------------------------
A handful of each kind in :data:`DEFECT_KINDS` (2 each below 10,000 children, 5 each above)
is injected into records that nothing else references, so nothing cascades, and appended at
the end of the files. ``out_root/<as_of ISO>.ground_truth.csv`` (next to, never inside, the
batch folder) lists one row per injected issue with the columns
``extract,record_id,rule_id,column_name,severity``. ``record_id`` is the record's key as
delivered (trimmed); composite keys are joined with ``|`` (``conference_id|child_id``).

Identifying data (``identifying=True``)
---------------------------------------
``persons.csv`` gets an extra column ``Surname`` holding obviously synthetic values
(``Testname``, ``Fakename``...): identifying data that must make the whole file rejected.
The ground-truth file then also holds ``persons,,persons.identifying_column,surname,
file_error``. It lists the injected issue only, not its consequences: with persons.csv
rejected no ``child_id`` of the batch resolves, and whether and how those rows are reported
is for the contracts to say; the row-level person defects are left out of the ground truth
because a rejected file is not loaded. All other files are byte-identical to the batch
generated with ``identifying=False``.
"""

from __future__ import annotations

import argparse
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import IO, Any, Literal, NamedTuple

import numpy as np
import polars as pl

from qa_pipeline.ops.exits import ExitStatus

__all__ = [
    "DEFECT_KINDS",
    "EXTRACTS",
    "SCHEMA",
    "DefectKind",
    "defects_per_kind",
    "generate_batch",
    "main",
]

EXTRACTS: tuple[str, ...] = (
    "teams",
    "persons",
    "relationships",
    "referrals",
    "assessments",
    "strategy_discussions",
    "cp_conferences",
    "conference_attendance",
    "cp_plans",
    "cin_plans",
    "cin_reviews",
    "fit_referrals",
)

# Column kinds: "id:<namespace>", "date", "datetime", "flag", "code", "int", "text".
SCHEMA: dict[str, tuple[tuple[str, str], ...]] = {
    "teams": (
        ("team_id", "id:team"),
        ("team_name", "text"),
        ("service_area", "code"),
    ),
    "persons": (
        ("person_id", "id:person"),
        ("person_type", "code"),
        ("sex", "code"),
        ("date_of_birth", "date"),
        ("expected_date_of_birth", "date"),
        ("date_of_death", "date"),
        ("ethnicity", "code"),
        ("disability", "flag"),
        ("name_recorded", "flag"),
        ("dob_recorded", "flag"),
        ("address_recorded", "flag"),
        ("contact_recorded", "flag"),
    ),
    "relationships": (
        ("relationship_id", "id:relationship"),
        ("child_id", "id:person"),
        ("related_person_id", "id:person"),
        ("relationship_type", "code"),
        ("parental_responsibility", "flag"),
        ("lives_with_child", "flag"),
        ("start_date", "date"),
        ("end_date", "date"),
    ),
    "referrals": (
        ("referral_id", "id:referral"),
        ("child_id", "id:person"),
        ("referral_datetime", "datetime"),
        ("referral_source", "code"),
        ("team_id", "id:team"),
        ("decision_date", "date"),
        ("decision", "code"),
        ("previous_referrals_checked", "flag"),
        ("risk_analysis_recorded", "flag"),
        ("management_decision_recorded", "flag"),
        ("referrer_informed_date", "date"),
    ),
    "assessments": (
        ("assessment_id", "id:assessment"),
        ("referral_id", "id:referral"),
        ("child_id", "id:person"),
        ("assessment_type", "code"),
        ("start_date", "date"),
        ("completed_date", "date"),
        ("authorised_date", "date"),
        ("child_seen", "flag"),
        ("child_seen_alone", "flag"),
        ("father_involved", "flag"),
        ("outcome", "code"),
        ("team_id", "id:team"),
        ("worker_id", "id:worker"),
    ),
    "strategy_discussions": (
        ("strategy_id", "id:strategy"),
        ("referral_id", "id:referral"),
        ("child_id", "id:person"),
        ("strategy_date", "date"),
        ("s47_outcome", "code"),
        ("team_id", "id:team"),
    ),
    "cp_conferences": (
        ("conference_id", "id:conference"),
        ("child_id", "id:person"),
        ("conference_type", "code"),
        ("conference_date", "date"),
        ("strategy_id", "id:strategy"),
        ("outcome", "code"),
        ("team_id", "id:team"),
    ),
    "conference_attendance": (
        ("conference_id", "id:conference"),
        ("child_id", "id:person"),
        ("attendee_role", "code"),
        ("person_id", "id:person"),
        ("invited", "flag"),
        ("attended", "flag"),
        ("report_submitted", "flag"),
    ),
    "cp_plans": (
        ("cp_plan_id", "id:cp_plan"),
        ("child_id", "id:person"),
        ("start_date", "date"),
        ("end_date", "date"),
        ("category", "code"),
        ("initial_conference_id", "id:conference"),
        ("team_id", "id:team"),
    ),
    "cin_plans": (
        ("cin_plan_id", "id:cin_plan"),
        ("child_id", "id:person"),
        ("assessment_id", "id:assessment"),
        ("start_date", "date"),
        ("end_date", "date"),
        ("outcomes_recorded", "int"),
        ("multi_agency_at_start", "flag"),
        ("closure_outcome", "code"),
        ("team_id", "id:team"),
    ),
    "cin_reviews": (
        ("review_id", "id:cin_review"),
        ("cin_plan_id", "id:cin_plan"),
        ("child_id", "id:person"),
        ("review_date", "date"),
        ("child_participated", "flag"),
        ("multi_agency_attended", "flag"),
        ("progress_recorded", "flag"),
    ),
    "fit_referrals": (
        ("fit_referral_id", "id:fit_referral"),
        ("child_id", "id:person"),
        ("referral_date", "date"),
        ("tasks_outcomes_defined", "flag"),
        ("start_date", "date"),
        ("end_date", "date"),
        ("outcome_achieved", "flag"),
        ("team_id", "id:team"),
    ),
}

# Id namespaces: prefix used when the namespace is "prefixed", and digit widths
# (numeric, prefixed). Numeric ids have 9 digits (4 for teams): never 10, so never an NHS
# number.
_ID_NAMESPACES: dict[str, tuple[str, int, int]] = {
    "team": ("TM", 4, 3),
    "person": ("P", 9, 8),
    "relationship": ("R", 9, 8),
    "referral": ("RF", 9, 8),
    "assessment": ("A", 9, 8),
    "strategy": ("SD", 9, 8),
    "conference": ("C", 9, 8),
    "cp_plan": ("CP", 9, 8),
    "cin_plan": ("CN", 9, 8),
    "cin_review": ("RV", 9, 8),
    "fit_referral": ("F", 9, 8),
    "worker": ("W", 9, 6),
}


class DefectKind(NamedTuple):
    """One kind of deliberately injected defect and how a correct validator reports it."""

    rule_id: str
    extract: str
    column_name: str
    severity: str
    description: str


SIZES: dict[str, int] = {"S": 300, "M": 30_000, "L": 1_000_000}
"""The named batch sizes (children) of the benchmark and of ``generate-sample --children``."""


def children_count(text: str) -> int:
    """A number of children, or a named size (S, M, L)."""
    if text.upper() in SIZES:
        return SIZES[text.upper()]
    return int(text)


DEFECT_KINDS: tuple[DefectKind, ...] = (
    DefectKind(
        "persons.date_of_birth.invalid_date", "persons", "date_of_birth", "error",
        "an orphan CHILD whose date_of_birth is an impossible date such as 31/02/2014",
    ),
    DefectKind(
        "persons.ethnicity.missing_for_child", "persons", "ethnicity", "warning",
        "an orphan CHILD with a blank ethnicity",
    ),
    DefectKind(
        "referrals.referral_source.unknown_code", "referrals", "referral_source", "error",
        "a referral whose referral_source is not in the code list (TELEPATHY...)",
    ),
    DefectKind(
        "referrals.decision.missing", "referrals", "decision", "error",
        "a referral with a decision_date but a blank decision",
    ),
    DefectKind(
        "referrals.duplicate_key", "referrals", "referral_id", "error",
        "a second, otherwise valid, row with an existing referral_id; only the later row "
        "is reported",
    ),
    DefectKind(
        "assessments.referral_id.unresolved_reference", "assessments", "referral_id", "error",
        "an assessment whose referral_id exists nowhere in referrals.csv",
    ),
    DefectKind(
        "assessments.completed_date.before_start_date", "assessments", "completed_date",
        "error", "an assessment completed before it started",
    ),
    DefectKind(
        "cp_plans.overlap", "cp_plans", "start_date", "error",
        "a second CP plan of a child starting while the first is open; the later plan is "
        "reported",
    ),
    DefectKind(
        "cp_conferences.conference_date.weekend", "cp_conferences", "conference_date",
        "warning", "a TRANSFER_IN conference held on a Saturday or Sunday",
    ),
)

IDENTIFYING_KIND = DefectKind(
    "persons.identifying_column", "persons", "surname", "file_error",
    "persons.csv carries a Surname column (synthetic values): the whole file is rejected",
)

GROUND_TRUTH_COLUMNS: tuple[str, ...] = (
    "extract", "record_id", "rule_id", "column_name", "severity",
)

_TEAMS: tuple[tuple[str, str], ...] = (
    ("Tîm Drws Ffrynt – Gogledd, Conwy", "FRONT_DOOR"),
    ("Tîm Drws Ffrynt – De, Sir Ddinbych", "FRONT_DOOR"),
    ("Tîm Maes – Gogledd, Conwy", "FIELDWORK"),
    ("Tîm Maes – Môn a Menai, Gwynedd", "FIELDWORK"),
    ("Tîm Ymyrraeth Teuluoedd (FIT), Llandudno", "FAMILY_INTERVENTION"),
    ("Tîm Plant Anabl, Ysbyty Gwynedd – Bangor", "DISABILITY"),
    ("Tîm Plant sy'n Derbyn Gofal – Caernarfon", "LOOKED_AFTER"),
    ('Gwasanaethau "Cymorth" Eraill, Rhyl', "OTHER"),
)

_ETHNICITY = (
    "WBRI", "WIRI", "WIRT", "WOTH", "WROM", "MWBC", "MWBA", "MWAS", "MOTH", "AIND",
    "APKN", "ABAN", "AOTH", "BCRB", "BAFR", "BOTH", "CHNE", "OOTH", "REFU", "NOBT",
)
_ETHNICITY_P = np.array(
    [78.0, 1, 0.5, 5, 0.5, 1.5, 0.7, 0.8, 1, 0.8, 0.8, 0.6, 0.6, 0.5, 0.8, 0.3, 0.6, 0.8,
     2.2, 3]
)
_ETHNICITY_P /= _ETHNICITY_P.sum()

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

_NAT = np.datetime64("NaT", "D")
_DAY = np.timedelta64(1, "D")

Arrays = dict[str, np.ndarray]


def defects_per_kind(children: int) -> int:
    """How many defects of each kind ``generate_batch(..., defects=True)`` injects."""
    return 2 if children < 10_000 else 5


# --------------------------------------------------------------------------- format plan


@dataclass(frozen=True)
class _FileFormat:
    header_style: str
    order: tuple[str, ...]
    date_style: str
    flags_mixed: bool
    codes_mixed: bool
    encoding: str  # "utf-8", "utf-8-sig" or "cp1252"
    newline: str
    pad_columns: tuple[str, ...]


@dataclass(frozen=True)
class _FormatPlan:
    files: dict[str, _FileFormat]
    ids: dict[str, tuple[str, int]]  # namespace -> (prefix, width)


def _kinds(extract: str) -> set[str]:
    return {kind for _, kind in SCHEMA[extract]}


def _format_plan(seed: int) -> _FormatPlan:
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
    shuffled = subset([e for e in names if len(SCHEMA[e]) >= 4], 1, 3)
    dated = [e for e in names if _kinds(e) & {"date", "datetime"}]
    iso = subset(dated, 2, 3)
    mixed_dates = subset([e for e in dated if e not in iso], 1, 1)
    flags_mixed = subset([e for e in names if "flag" in _kinds(e)], 2, 4)
    codes_mixed = subset([e for e in names if "code" in _kinds(e)], 2, 4)
    padded = subset(names, 2, 4)

    files: dict[str, _FileFormat] = {}
    for e in names:
        cols = [c for c, _ in SCHEMA[e]]
        order = list(cols)
        if e in shuffled:
            perm = rng.permutation(len(cols))
            if list(perm) == list(range(len(cols))):
                perm = perm[::-1]
            order = [cols[int(i)] for i in perm]
        pad: tuple[str, ...] = ()
        if e in padded:
            pick = rng.choice(len(cols), size=min(2, len(cols)), replace=False)
            pad = tuple(cols[int(i)] for i in sorted(pick))
        if e in title:
            style = "title"
        elif e in upper_hyphen:
            style = "upper_hyphen"
        elif e in upper_snake:
            style = "upper_snake"
        elif e in lower_hyphen:
            style = "lower_hyphen"
        else:
            style = "snake"
        files[e] = _FileFormat(
            header_style=style,
            order=tuple(order),
            date_style="iso" if e in iso else "mixed" if e in mixed_dates else "dmy",
            flags_mixed=e in flags_mixed,
            codes_mixed=e in codes_mixed,
            encoding="cp1252" if e in cp1252 else "utf-8-sig" if e in bom else "utf-8",
            newline="\r\n" if e in crlf else "\n",
            pad_columns=pad,
        )

    spaces = sorted(_ID_NAMESPACES)
    perm = rng.permutation(len(spaces))
    numeric = {spaces[int(i)] for i in perm[: (len(spaces) + 1) // 2]}
    ids: dict[str, tuple[str, int]] = {}
    for ns, (prefix, num_width, pre_width) in _ID_NAMESPACES.items():
        ids[ns] = ("", num_width) if ns in numeric else (prefix, pre_width)
    return _FormatPlan(files=files, ids=ids)


def _header_name(col: str, style: str) -> str:
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


def _to_frame(
    extract: str,
    data: Arrays,
    plan: _FormatPlan,
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
        c = pl.col(col)
        expr: pl.Expr
        if kind.startswith("id:"):
            prefix, width = plan.ids[kind[3:]]
            raw[col] = pl.Series(col, arr.astype(np.int64))
            expr = pl.when(c >= 0).then(
                pl.lit(prefix) + c.cast(pl.String).str.zfill(width)
            )
        elif kind == "date":
            raw[col] = pl.Series(col, arr.astype("datetime64[D]"))
            dmy, iso = c.dt.strftime("%d/%m/%Y"), c.dt.strftime("%Y-%m-%d")
            if fmt.date_style == "dmy":
                expr = dmy
            elif fmt.date_style == "iso":
                expr = iso
            else:
                mix = f"__mix_{col}"
                raw[mix] = pl.Series(mix, rng.random(n) < 0.5)
                expr = pl.when(pl.col(mix)).then(iso).otherwise(dmy)
        elif kind == "datetime":
            raw[col] = pl.Series(col, arr.astype("datetime64[ms]"))
            sel = f"__fmt_{col}"
            w = np.asarray(_DT_WEIGHTS[fmt.date_style])
            raw[sel] = pl.Series(sel, rng.choice(len(_DT_FORMATS), size=n, p=w / w.sum()))
            chain: Any = pl.when(pl.col(sel) == 0).then(c.dt.strftime(_DT_FORMATS[0]))
            for i, f in enumerate(_DT_FORMATS[1:], start=1):
                chain = chain.when(pl.col(sel) == i).then(c.dt.strftime(f))
            expr = chain
        elif kind == "int":
            raw[col] = pl.Series(col, arr.astype(np.int64))
            expr = c.cast(pl.String)
        else:  # flag, code, text: '' means missing
            raw[col] = pl.Series(col, arr.astype(str))
            expr = pl.when(c != "").then(c)
            if kind == "flag" and fmt.flags_mixed:
                sel = f"__var_{col}"
                raw[sel] = pl.Series(sel, rng.integers(0, 12, n))
                v = pl.col(sel)
                expr = (
                    pl.when((c == "Y") & (v == 0)).then(pl.lit("Yes"))
                    .when((c == "Y") & (v == 1)).then(pl.lit("yes"))
                    .when((c == "Y") & (v == 2)).then(pl.lit("YES"))
                    .when((c == "N") & (v == 0)).then(pl.lit("No"))
                    .when((c == "N") & (v == 1)).then(pl.lit("no"))
                    .when((c == "N") & (v == 2)).then(pl.lit("NO"))
                    .otherwise(expr)
                )
            elif kind == "code" and fmt.codes_mixed:
                sel = f"__low_{col}"
                raw[sel] = pl.Series(sel, rng.random(n) < 0.1)
                expr = pl.when(pl.col(sel)).then(expr.str.to_lowercase()).otherwise(expr)
        if col in fmt.pad_columns:
            sel = f"__pad_{col}"
            raw[sel] = pl.Series(sel, rng.integers(0, 60, n))
            v = pl.col(sel)
            expr = (
                pl.when(v == 0).then(pl.lit(" ") + expr)
                .when(v == 1).then(expr + pl.lit("  "))
                .when(v == 2).then(pl.lit("  ") + expr + pl.lit(" "))
                .otherwise(expr)
            )
        if overrides and col in overrides:
            ov = f"__ov_{col}"
            raw[ov] = pl.Series(ov, overrides[col], dtype=pl.String)
            expr = pl.coalesce(pl.col(ov), expr)
        exprs.append(expr.alias(col))
    return pl.DataFrame(raw).select(exprs)


class _CsvSink:
    """One extract file, written chunk by chunk with its encoding and line endings."""

    def __init__(
        self, path: Path, extract: str, fmt: _FileFormat, extra: Sequence[str] = ()
    ) -> None:
        self.fmt = fmt
        self.extra = tuple(extra)
        self._fh: IO[bytes] = path.open("wb")
        if fmt.encoding == "utf-8-sig":
            self._fh.write(b"\xef\xbb\xbf")
        header = [_header_name(c, fmt.header_style) for c in fmt.order]
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


# --------------------------------------------------------------------------- helpers


@dataclass
class _Ctx:
    as_of: np.datetime64
    hist_start: np.datetime64
    cal: np.busdaycalendar
    teams: dict[str, np.ndarray]  # service area -> team numbers
    counters: dict[str, int]
    workers_per_team: int = 30

    def alloc(self, ns: str, k: int) -> np.ndarray:
        start = self.counters[ns]
        self.counters[ns] = start + k
        return np.arange(start, start + k, dtype=np.int64)


def _calendar(first_year: int, last_year: int) -> np.busdaycalendar:
    hols: list[date] = []
    try:
        import holidays

        hols = sorted(
            holidays.country_holidays("GB", subdiv="WLS", years=range(first_year, last_year + 1))
        )
    except Exception:  # pragma: no cover - holidays is a dependency; weekends still hold
        hols = []
    return np.busdaycalendar(holidays=np.array(hols, dtype="datetime64[D]"))


def _pick(
    rng: np.random.Generator, values: Sequence[str], p: Sequence[float] | np.ndarray, n: int
) -> np.ndarray:
    pa = np.asarray(p, dtype=float)
    return np.asarray(values)[rng.choice(len(values), size=n, p=pa / pa.sum())]


def _yn(rng: np.random.Generator, p_yes: float | np.ndarray, n: int) -> np.ndarray:
    return np.where(rng.random(n) < p_yes, "Y", "N")


def _wd(
    ctx: _Ctx, d: np.ndarray, k: np.ndarray | int,
    roll: Literal["forward", "backward"] = "forward",
) -> np.ndarray:
    """Working days after d (rolled to a working day first); NaT stays NaT."""
    offset: Any = np.busday_offset
    out: np.ndarray = offset(d, k, roll=roll, busdaycal=ctx.cal)
    return out


def _days(a: np.ndarray) -> np.ndarray:
    return a.astype("timedelta64[D]").astype(np.int64)


def _uniform_day(
    rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray
) -> np.ndarray:
    """A random day in [lo, hi] (elementwise, hi >= lo)."""
    span = _days(hi - lo)
    return lo + (rng.random(len(lo)) * (span + 1)).astype(np.int64)


def _first_of_month(d: np.ndarray) -> np.ndarray:
    return d.astype("datetime64[M]").astype("datetime64[D]")


def _group_rank(counts: np.ndarray) -> np.ndarray:
    """0-based position of each row within its group, for rows laid out by np.repeat."""
    starts = np.cumsum(counts) - counts
    return np.arange(int(counts.sum())) - np.repeat(starts, counts)


def _chron_ids(ctx: _Ctx, ns: str, *keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Allocate ids in the order of the sort keys (last key primary); return (ids, order)."""
    n = len(keys[0])
    order = np.lexsort(keys) if n else np.arange(0)
    ids = np.empty(n, dtype=np.int64)
    ids[order] = ctx.alloc(ns, n)
    return ids, order


def _take(data: Arrays, order: np.ndarray) -> Arrays:
    return {k: v[order] for k, v in data.items()}


def _concat(parts: Sequence[Arrays]) -> Arrays:
    keys = parts[0].keys()
    return {k: np.concatenate([p[k] for p in parts]) for k in keys}


def _none_ids(n: int) -> np.ndarray:
    return np.full(n, -1, dtype=np.int64)


def _no_dates(n: int) -> np.ndarray:
    return np.full(n, _NAT, dtype="datetime64[D]")


def _blank(n: int) -> np.ndarray:
    return np.full(n, "", dtype="<U2")


# --------------------------------------------------------------------------- one chunk


def _cp_reviews(
    ctx: _Ctx, rng: np.random.Generator, start: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Review conferences of CP plans starting on ``start``.

    Returns (plan index, review date, outcome) of the reviews held by as_of, and each
    plan's end date (NaT while open): the first review about 3 months after the start,
    then every 6 months; the last intended review ends the plan.
    """
    p = len(start)
    k_max = 6
    intended = rng.choice(np.arange(1, k_max + 1), size=p, p=[0.25, 0.25, 0.2, 0.15, 0.1, 0.05])
    first = np.where(
        rng.random(p) < 0.9, 91 - rng.integers(3, 21, p), 91 + rng.integers(3, 30, p)
    )
    later = np.where(
        rng.random((p, k_max - 1)) < 0.9,
        182 - rng.integers(3, 25, (p, k_max - 1)),
        182 + rng.integers(3, 40, (p, k_max - 1)),
    )
    offs = np.cumsum(np.concatenate([first[:, None], later], axis=1), axis=1)
    dates = _wd(ctx, start[:, None] + offs, 0, roll="backward")
    kidx = np.arange(k_max)[None, :]
    valid = (kidx < intended[:, None]) & (dates <= ctx.as_of)
    last = dates[np.arange(p), intended - 1]
    ended = last <= ctx.as_of
    end = np.where(ended, last, _NAT)
    outcome = np.where(kidx == (intended - 1)[:, None], "PLAN_ENDED", "PLAN_CONTINUES")
    pi, ki = np.nonzero(valid)
    return pi, dates[pi, ki], outcome[pi, ki], end


def _gen_chunk(ctx: _Ctx, rng: np.random.Generator, n: int) -> dict[str, Arrays]:
    A = ctx.as_of
    out: dict[str, Arrays] = {}
    fieldwork = ctx.teams["FIELDWORK"]
    disability_team = ctx.teams["DISABILITY"]
    front_door = ctx.teams["FRONT_DOOR"]
    fit_team = ctx.teams["FAMILY_INTERVENTION"]

    # ---- children
    unborn = rng.random(n) < 0.02
    age_days = rng.integers(0, 18 * 365, n)
    dob = np.where(unborn, _NAT, _first_of_month(A - age_days))
    edd = np.where(unborn, A + rng.integers(-30, 200, n), _NAT)
    earliest = np.where(unborn, A - 150, np.maximum(dob, ctx.hist_start))
    child_sex = np.where(unborn, "U", _pick(rng, ("M", "F", "U", "I"), (49, 49, 1.5, 0.5), n))
    child_eth = _pick(rng, _ETHNICITY, _ETHNICITY_P, n)
    child_eth = np.where(unborn & (rng.random(n) < 0.3), "", child_eth)
    disab = np.where(unborn, "", _pick(rng, ("N", "Y", "U", ""), (85, 8, 2, 5), n))
    child_team = np.where(
        disab == "Y", disability_team[0], fieldwork[rng.integers(0, len(fieldwork), n)]
    )
    child_pid = ctx.alloc("person", n)

    # ---- families: 1-3 children sharing a mother (or grandparent) and a father figure
    sizes = rng.choice([1, 2, 3], size=n, p=[0.6, 0.3, 0.1])
    cs = np.cumsum(sizes)
    nfam = int(np.searchsorted(cs, n)) + 1
    sizes = sizes[:nfam].copy()
    sizes[-1] -= int(cs[nfam - 1]) - n
    fam = np.repeat(np.arange(nfam), sizes)
    fam_start = np.cumsum(sizes) - sizes
    anchor = np.minimum.reduceat(np.where(unborn, A, dob), fam_start)

    grandparent = rng.random(nfam) < 0.05
    mother_pid = ctx.alloc("person", nfam)
    has_father = rng.random(nfam) < 0.75
    nfa = int(has_father.sum())
    father_of_fam = _none_ids(nfam)
    father_of_fam[has_father] = ctx.alloc("person", nfa)
    father_type_fam = np.full(nfam, "", dtype="<U16")
    father_type_fam[has_father] = _pick(
        rng, ("BIRTH_FATHER", "STEP_FATHER", "MALE_CARER", "ADOPTIVE_FATHER"),
        (75, 12, 10, 3), nfa,
    )

    # ---- persons
    m_years = np.where(grandparent, rng.integers(40, 66, nfam), rng.integers(17, 43, nfam))
    m_dob = _first_of_month(anchor - (m_years * 365.25).astype(np.int64))
    m_flags = {
        "name_recorded": _yn(rng, 0.99, nfam),
        "dob_recorded": _yn(rng, 0.94, nfam),
        "address_recorded": _yn(rng, 0.93, nfam),
        "contact_recorded": _yn(rng, 0.9, nfam),
    }
    m_death = np.where(
        grandparent & (rng.random(nfam) < 0.05), A - rng.integers(0, 700, nfam), _NAT
    )
    m_dob = np.where(m_flags["dob_recorded"] == "Y", m_dob, _NAT)
    m_eth = np.where(rng.random(nfam) < 0.85, child_eth[fam_start], "")
    m_eth = np.where(m_eth == "", _pick(rng, _ETHNICITY, _ETHNICITY_P, nfam), m_eth)
    m_eth = np.where(rng.random(nfam) < 0.1, "", m_eth)

    f_idx = np.nonzero(has_father)[0]
    f_dob = _first_of_month(anchor[f_idx] - (rng.integers(18, 50, nfa) * 365.25).astype(np.int64))
    complete = rng.random(nfa) < 0.6
    missing = rng.random((nfa, 4)) < 0.5
    none_missing = ~missing.any(axis=1)
    missing[none_missing, rng.integers(0, 4, nfa)[none_missing]] = True
    missing[complete] = False
    f_flags = {
        name: np.where(missing[:, i], "N", "Y")
        for i, name in enumerate(
            ("name_recorded", "dob_recorded", "address_recorded", "contact_recorded")
        )
    }
    f_dob = np.where(f_flags["dob_recorded"] == "Y", f_dob, _NAT)
    f_eth = np.where(rng.random(nfa) < 0.25, "", _pick(rng, _ETHNICITY, _ETHNICITY_P, nfa))

    # ---- relationships
    m_type = np.where(grandparent[fam], "GRANDPARENT", "BIRTH_MOTHER")
    gp_start = np.where(
        grandparent[fam] & ~unborn & (rng.random(n) < 0.5),
        _uniform_day(rng, np.where(unborn, A, dob), np.full(n, A)),
        _NAT,
    )
    rel_mother: Arrays = {
        "child": np.arange(n),
        "related_person_id": mother_pid[fam],
        "relationship_type": m_type,
        "parental_responsibility": np.where(
            m_type == "BIRTH_MOTHER",
            _pick(rng, ("Y", "N"), (97, 3), n),
            _pick(rng, ("N", "Y", "U"), (70, 20, 10), n),
        ),
        "lives_with_child": _pick(rng, ("Y", "N", "U"), (85, 12, 3), n),
        "start_date": gp_start,
        "end_date": _no_dates(n),
        "sort": np.zeros(n, dtype=np.int64),
    }
    fc = np.nonzero(has_father[fam])[0]
    nf = len(fc)
    ftype = father_type_fam[fam[fc]]
    pr = np.where(
        ftype == "BIRTH_FATHER",
        _pick(rng, ("Y", "N", "U"), (75, 20, 5), nf),
        np.where(
            ftype == "ADOPTIVE_FATHER", "Y", _pick(rng, ("N", "Y", "U"), (80, 10, 10), nf)
        ),
    )
    f_unborn = unborn[fc]
    f_cdob = np.where(f_unborn, A, dob[fc])
    lo = np.maximum(f_cdob, A - 8 * 365)
    hi = np.full(nf, A - 2)
    can_start = ~f_unborn & (hi >= lo)
    step_like = (ftype == "STEP_FATHER") | (ftype == "MALE_CARER")
    start_step = np.where(
        step_like & (hi >= lo), _uniform_day(rng, np.minimum(lo, hi), hi), _NAT
    )
    start_birth = np.where(
        (ftype == "BIRTH_FATHER") & ~f_unborn & (rng.random(nf) < 0.3), dob[fc], _NAT
    )
    adopt_start = np.minimum(f_cdob + rng.integers(180, 1500, nf), A - 2)
    start_adopt = np.where(
        (ftype == "ADOPTIVE_FATHER") & can_start & (adopt_start >= f_cdob), adopt_start, _NAT
    )
    f_start = np.where(step_like, start_step, np.where(ftype == "BIRTH_FATHER", start_birth,
                                                       start_adopt))
    end_lo = np.where(np.isnat(f_start), np.maximum(f_cdob, ctx.hist_start), f_start) + 1
    p_end = np.where(np.isnat(f_start), 0.1, 0.2)
    want_end = ~f_unborn & (rng.random(nf) < p_end) & (end_lo <= A)
    f_end = np.where(
        want_end, _uniform_day(rng, np.minimum(end_lo, A), np.full(nf, A)), _NAT
    )
    rel_father: Arrays = {
        "child": fc,
        "related_person_id": father_of_fam[fam[fc]],
        "relationship_type": ftype,
        "parental_responsibility": pr,
        "lives_with_child": _pick(rng, ("Y", "N", "U"), (55, 40, 5), nf),
        "start_date": f_start,
        "end_date": f_end,
        "sort": np.ones(nf, dtype=np.int64),
    }
    first_of_fam = fam_start[fam]
    sib = np.nonzero((np.arange(n) != first_of_fam) & (rng.random(n) < 0.7))[0]
    ns_ = len(sib)
    rel_sib: Arrays = {
        "child": sib,
        "related_person_id": child_pid[first_of_fam[sib]],
        "relationship_type": np.full(ns_, "SIBLING"),
        "parental_responsibility": np.full(ns_, "N"),
        "lives_with_child": _pick(rng, ("Y", "N"), (80, 20), ns_),
        "start_date": _no_dates(ns_),
        "end_date": _no_dates(ns_),
        "sort": np.full(ns_, 2, dtype=np.int64),
    }
    rel = _concat([rel_mother, rel_father, rel_sib])
    rel = _take(rel, np.lexsort((rel["sort"], rel["child"])))
    nrel = len(rel["child"])
    out["relationships"] = {
        "relationship_id": ctx.alloc("relationship", nrel),
        "child_id": child_pid[rel["child"]],
        "related_person_id": rel["related_person_id"],
        "relationship_type": rel["relationship_type"],
        "parental_responsibility": rel["parental_responsibility"],
        "lives_with_child": rel["lives_with_child"],
        "start_date": rel["start_date"],
        "end_date": rel["end_date"],
    }

    # ---- referrals
    nref = np.where(unborn, 1, rng.choice([1, 2, 3], size=n, p=[0.68, 0.22, 0.10]))
    rc = np.repeat(np.arange(n), nref)
    nr = len(rc)
    rday = _uniform_day(rng, earliest[rc], np.full(nr, A))
    office = rng.random(nr) < 0.85
    tod = np.where(
        office, rng.integers(8 * 3600, 18 * 3600, nr), rng.integers(0, 24 * 3600, nr)
    )
    o = np.lexsort((tod, rday, rc))
    rday, tod = rday[o], tod[o]
    rank = _group_rank(nref)
    is_last = rank == nref[rc] - 1
    decisions = ("NFA", "INFO_ADVICE", "INITIAL_ASSESSMENT", "STRATEGY_DISCUSSION",
                 "FIT_REFERRAL", "OTHER")
    dec = np.where(
        is_last,
        _pick(rng, decisions, (20, 12, 38, 18, 7, 5), nr),
        _pick(rng, decisions, (27, 15, 45, 0, 8, 5), nr),
    )
    lag = np.where(
        rng.random(nr) < 0.94,
        rng.choice([0, 1, 2, 3], size=nr, p=[0.48, 0.35, 0.1, 0.07]),
        rng.integers(4, 16, nr),
    )
    dec_date = _wd(ctx, rday, lag)
    awaiting = (dec_date > A) | ((rday >= A - 4) & (rng.random(nr) < 0.4))
    decided = ~awaiting
    dec_date = np.where(decided, dec_date, _NAT)
    dec = np.where(decided, dec, "")
    source = _pick(
        rng,
        ("POLICE", "HEALTH", "SCHOOL", "LA_SERVICES", "FAMILY", "SELF", "ANONYMOUS",
         "OTHER_AGENCY", "OTHER"),
        (25, 17, 18, 10, 8, 4, 4, 9, 5), nr,
    )
    inf_kind = rng.choice(3, size=nr, p=[0.7, 0.15, 0.15])
    inf_lag = np.where(inf_kind == 0, rng.integers(0, 8, nr), rng.integers(8, 31, nr))
    informed = _wd(ctx, dec_date, inf_lag)
    informed = np.where(
        decided & (source != "ANONYMOUS") & (inf_kind < 2) & (informed <= A), informed, _NAT
    )
    prev_checked = np.where(rank > 0, _yn(rng, 0.75, nr), _yn(rng, 0.85, nr))
    ref_team = front_door[rng.integers(0, len(front_door), nr)]
    ref_id, ref_order = _chron_ids(ctx, "referral", tod, rday)
    ref_dt = rday.astype("datetime64[s]") + tod.astype("timedelta64[s]")
    out["referrals"] = _take({
        "referral_id": ref_id,
        "child_id": child_pid[rc],
        "referral_datetime": ref_dt,
        "referral_source": source,
        "team_id": ref_team,
        "decision_date": dec_date,
        "decision": dec,
        "previous_referrals_checked": np.where(decided, prev_checked, ""),
        "risk_analysis_recorded": np.where(decided, _yn(rng, 0.7, nr), ""),
        "management_decision_recorded": np.where(decided, _yn(rng, 0.85, nr), ""),
        "referrer_informed_date": informed,
    }, ref_order)

    has_father_child = has_father[fam]

    def completion_fields(ci: np.ndarray, done: np.ndarray, p_seen: float,
                          outcomes: Sequence[str], p_out: Sequence[float]) -> Arrays:
        k = len(ci)
        seen = np.where(unborn[ci], "N", _yn(rng, p_seen, k))
        alone = np.where(seen == "Y", _yn(rng, 0.55, k), "N")
        fi = np.where(
            has_father_child[ci],
            _pick(rng, ("Y", "N", "NA"), (45, 45, 10), k),
            _pick(rng, ("NA", "N"), (95, 5), k),
        )
        return {
            "child_seen": np.where(done, seen, ""),
            "child_seen_alone": np.where(done, alone, ""),
            "father_involved": np.where(done, fi, ""),
            "outcome": np.where(done, _pick(rng, outcomes, p_out, k), ""),
        }

    def workers(teams: np.ndarray) -> np.ndarray:
        k = len(teams)
        w = teams * 1000 + rng.integers(1, ctx.workers_per_team + 1, k)
        return np.where(rng.random(k) < 0.05, -1, w)

    # ---- initial assessments
    ia = np.nonzero(dec == "INITIAL_ASSESSMENT")[0]
    ia_start = _wd(ctx, dec_date[ia], rng.choice([0, 1, 2], size=len(ia), p=[0.5, 0.35, 0.15]))
    keep = ia_start <= A
    ia, ia_start = ia[keep], ia_start[keep]
    k = len(ia)
    c_lag = np.where(rng.random(k) < 0.72, rng.integers(1, 6, k), rng.integers(6, 16, k))
    ia_comp = _wd(ctx, ia_start, c_lag)
    ia_done = (ia_comp <= A) & (rng.random(k) >= 0.03)
    ia_comp = np.where(ia_done, ia_comp, _NAT)
    ia_child = rc[ia]
    ia_fields = completion_fields(
        ia_child, ia_done, 0.88, ("NFA", "CIN_PLAN", "CORE_ASSESSMENT", "OTHER"),
        (35, 30, 25, 10),
    )
    ia_auth = _wd(ctx, ia_comp, rng.integers(0, 6, k))
    ia_auth = np.where(ia_done & (rng.random(k) < 0.85) & (ia_auth <= A), ia_auth, _NAT)
    ia_team = child_team[ia_child]
    asm_ia: Arrays = {
        "ref": ia,
        "assessment_type": np.full(k, "INITIAL"),
        "start_date": ia_start,
        "completed_date": ia_comp,
        "authorised_date": ia_auth,
        **ia_fields,
        "team_id": ia_team,
        "worker_id": workers(ia_team),
    }

    # ---- core assessments
    cx = np.nonzero(ia_fields["outcome"] == "CORE_ASSESSMENT")[0]
    kc = len(cx)
    delay = np.where(rng.random(kc) < 0.7, rng.integers(1, 11, kc), rng.integers(11, 23, kc))
    co_start = _wd(ctx, ia_comp[cx], delay)
    keep = co_start <= A
    cx, co_start = cx[keep], co_start[keep]
    kc = len(cx)
    c_lag = np.where(rng.random(kc) < 0.75, rng.integers(10, 36, kc), rng.integers(36, 61, kc))
    co_comp = _wd(ctx, co_start, c_lag)
    co_done = (co_comp <= A) & (rng.random(kc) >= 0.05)
    co_comp = np.where(co_done, co_comp, _NAT)
    co_fields = completion_fields(
        rc[ia[cx]], co_done, 0.95, ("CIN_PLAN", "NFA", "OTHER", "STRATEGY_DISCUSSION"),
        (45, 30, 20, 5),
    )
    co_auth = _wd(ctx, co_comp, rng.integers(0, 8, kc))
    co_auth = np.where(co_done & (rng.random(kc) < 0.85) & (co_auth <= A), co_auth, _NAT)
    co_team = ia_team[cx]
    asm_co: Arrays = {
        "ref": ia[cx],
        "assessment_type": np.full(kc, "CORE"),
        "start_date": co_start,
        "completed_date": co_comp,
        "authorised_date": co_auth,
        **co_fields,
        "team_id": co_team,
        "worker_id": np.where(rng.random(kc) < 0.7, asm_ia["worker_id"][cx], workers(co_team)),
    }
    asm = _concat([asm_ia, asm_co])
    asm_id, asm_order = _chron_ids(ctx, "assessment", asm["start_date"])
    asm_child = rc[asm["ref"]]
    out["assessments"] = _take({
        "assessment_id": asm_id,
        "referral_id": ref_id[asm["ref"]],
        "child_id": child_pid[asm_child],
        "assessment_type": asm["assessment_type"],
        "start_date": asm["start_date"],
        "completed_date": asm["completed_date"],
        "authorised_date": asm["authorised_date"],
        "child_seen": asm["child_seen"],
        "child_seen_alone": asm["child_seen_alone"],
        "father_involved": asm["father_involved"],
        "outcome": asm["outcome"],
        "team_id": asm["team_id"],
        "worker_id": asm["worker_id"],
    }, asm_order)

    # ---- CIN plans and reviews
    cp_src = np.nonzero(asm["outcome"] == "CIN_PLAN")[0]
    cin_start = _wd(ctx, asm["completed_date"][cp_src], rng.integers(0, 11, len(cp_src)))
    keep = cin_start <= A
    cp_src, cin_start = cp_src[keep], cin_start[keep]
    kp = len(cp_src)
    cin_child = asm_child[cp_src]
    cin_end = cin_start + rng.integers(90, 601, kp)
    cin_closed = cin_end <= A
    cin_end = np.where(cin_closed, cin_end, _NAT)
    cin_id, cin_order = _chron_ids(ctx, "cin_plan", cin_start)
    cin_team = child_team[cin_child]
    out["cin_plans"] = _take({
        "cin_plan_id": cin_id,
        "child_id": child_pid[cin_child],
        "assessment_id": np.where(rng.random(kp) < 0.92, asm_id[cp_src], -1),
        "start_date": cin_start,
        "end_date": cin_end,
        "outcomes_recorded": rng.choice(6, size=kp, p=[0.12, 0.2, 0.25, 0.23, 0.12, 0.08]),
        "multi_agency_at_start": _yn(rng, 0.7, kp),
        "closure_outcome": np.where(
            cin_closed,
            _pick(rng, ("IMPROVED", "LIMITED_IMPROVEMENT", "NO_IMPROVEMENT", "TRANSFERRED",
                        "OTHER"), (50, 20, 10, 12, 8), kp),
            "",
        ),
        "team_id": cin_team,
    }, cin_order)
    eff_end = np.where(cin_closed, cin_end, A)
    nrev = _days(eff_end - cin_start) // 91
    pi = np.repeat(np.arange(kp), nrev)
    kk = _group_rank(nrev) + 1
    kr = len(pi)
    rv_date = cin_start[pi] + kk * 91 + rng.integers(-14, 21, kr)
    rv_date = np.minimum(np.maximum(rv_date, cin_start[pi]), eff_end[pi])
    rv_id, rv_order = _chron_ids(ctx, "cin_review", rv_date)
    out["cin_reviews"] = _take({
        "review_id": rv_id,
        "cin_plan_id": cin_id[pi],
        "child_id": child_pid[cin_child[pi]],
        "review_date": rv_date,
        "child_participated": _yn(rng, 0.6, kr),
        "multi_agency_attended": _yn(rng, 0.65, kr),
        "progress_recorded": _yn(rng, 0.7, kr),
    }, rv_order)

    # ---- strategy discussions (only a child's last referral gets here)
    sx = np.nonzero(dec == "STRATEGY_DISCUSSION")[0]
    ks = len(sx)
    sd_date = _wd(ctx, dec_date[sx], rng.choice([0, 1], size=ks, p=[0.7, 0.3]))
    sd_date = np.where(sd_date <= A, sd_date, dec_date[sx])
    recent = _days(A - sd_date) < 20
    s47 = np.where(
        recent & (rng.random(ks) < 0.6),
        "ONGOING",
        _pick(rng, ("ICPC", "CIN", "NFA", "ONGOING", ""), (50, 20, 20, 7, 3), ks),
    )
    sd_child = rc[sx]
    sd_id, sd_order = _chron_ids(ctx, "strategy", sd_date)
    out["strategy_discussions"] = _take({
        "strategy_id": sd_id,
        "referral_id": ref_id[sx],
        "child_id": child_pid[sd_child],
        "strategy_date": sd_date,
        "s47_outcome": s47,
        "team_id": child_team[sd_child],
    }, sd_order)

    # ---- initial conferences and the CP plans they start
    ic = np.nonzero(s47 == "ICPC")[0]
    ki = len(ic)
    ic_lag = np.where(rng.random(ki) < 0.75, rng.integers(5, 16, ki), rng.integers(16, 31, ki))
    ic_date = _wd(ctx, sd_date[ic], ic_lag)
    keep = ic_date <= A
    ic, ic_date = ic[keep], ic_date[keep]
    ki = len(ic)
    ic_child = sd_child[ic]
    ic_outcome = _pick(rng, ("PLAN_STARTED", "NO_PLAN"), (82, 18), ki)
    started = np.nonzero(ic_outcome == "PLAN_STARTED")[0]
    i_pi, i_rdate, i_rout, i_end = _cp_reviews(ctx, rng, ic_date[started])

    # ---- transfers in from other authorities (never overlapping the referral route)
    tr = np.nonzero(~unborn & (rng.random(n) < 0.012))[0]
    t_date = _wd(ctx, _uniform_day(rng, earliest[tr], np.full(len(tr), A)), 0)
    keep = t_date <= A
    tr, t_date = tr[keep], t_date[keep]
    t_pi, t_rdate, t_rout, t_end = _cp_reviews(ctx, rng, t_date)
    strat_ref_date = np.full(n, _NAT, dtype="datetime64[D]")
    strat_ref_date[sd_child] = rday[sx]
    conflict = ~np.isnat(strat_ref_date[tr]) & ~(t_end < strat_ref_date[tr] - 30)
    ok = ~conflict
    remap = np.cumsum(ok) - 1
    t_keep_rev = ok[t_pi]
    t_pi, t_rdate, t_rout = remap[t_pi[t_keep_rev]], t_rdate[t_keep_rev], t_rout[t_keep_rev]
    tr, t_date, t_end = tr[ok], t_date[ok], t_end[ok]
    kt = len(tr)

    conf = _concat([
        {   # initial
            "child": ic_child, "type": np.full(ki, "INITIAL"), "date": ic_date,
            "strategy": sd_id[ic], "outcome": ic_outcome, "src": np.zeros(ki, np.int64),
            "idx": np.arange(ki),
        },
        {   # reviews of plans started at initial conferences
            "child": ic_child[started[i_pi]], "type": np.full(len(i_pi), "REVIEW"),
            "date": i_rdate, "strategy": _none_ids(len(i_pi)), "outcome": i_rout,
            "src": np.full(len(i_pi), 1, np.int64), "idx": i_pi,
        },
        {   # transfer-in
            "child": tr, "type": np.full(kt, "TRANSFER_IN"), "date": t_date,
            "strategy": _none_ids(kt), "outcome": np.full(kt, "PLAN_STARTED"),
            "src": np.full(kt, 2, np.int64), "idx": np.arange(kt),
        },
        {   # reviews of transferred plans
            "child": tr[t_pi], "type": np.full(len(t_pi), "REVIEW"), "date": t_rdate,
            "strategy": _none_ids(len(t_pi)), "outcome": t_rout,
            "src": np.full(len(t_pi), 3, np.int64), "idx": t_pi,
        },
    ])
    conf_id, conf_order = _chron_ids(ctx, "conference", conf["child"], conf["date"])
    conf = _take(conf, conf_order)
    conf_id = conf_id[conf_order]
    nconf = len(conf_id)
    out["cp_conferences"] = {
        "conference_id": conf_id,
        "child_id": child_pid[conf["child"]],
        "conference_type": conf["type"],
        "conference_date": conf["date"],
        "strategy_id": conf["strategy"],
        "outcome": conf["outcome"],
        "team_id": child_team[conf["child"]],
    }
    src0 = conf["src"] == 0
    ic_conf_id = _none_ids(ki)
    ic_conf_id[conf["idx"][src0]] = conf_id[src0]
    src2 = conf["src"] == 2
    t_conf_id = _none_ids(kt)
    t_conf_id[conf["idx"][src2]] = conf_id[src2]

    plan_child = np.concatenate([ic_child[started], tr])
    plan_start = np.concatenate([ic_date[started], t_date])
    plan_end = np.concatenate([i_end, t_end])
    plan_conf = np.concatenate([ic_conf_id[started], t_conf_id])
    npl = len(plan_child)
    plan_id, plan_order = _chron_ids(ctx, "cp_plan", plan_start)
    out["cp_plans"] = _take({
        "cp_plan_id": plan_id,
        "child_id": child_pid[plan_child],
        "start_date": plan_start,
        "end_date": plan_end,
        "category": _pick(rng, ("NEGLECT", "EMOTIONAL", "PHYSICAL", "SEXUAL", "MULTIPLE"),
                          (45, 30, 12, 5, 8), npl),
        "initial_conference_id": np.where(rng.random(npl) < 0.97, plan_conf, -1),
        "team_id": child_team[plan_child],
    }, plan_order)

    # ---- conference attendance
    cc = conf["child"]
    cfam = fam[cc]
    age_at = np.where(unborn[cc], -1.0,
                      _days(conf["date"] - np.where(unborn[cc], conf["date"], dob[cc])) / 365.25)
    parts: list[Arrays] = []

    def role_rows(mask: np.ndarray, role: str | np.ndarray, person: np.ndarray,
                  p_inv: float, p_att: float, report: np.ndarray, order: int) -> None:
        rows = np.nonzero(mask)[0]
        m = len(rows)
        inv = _yn(rng, p_inv, m)
        att = np.where(inv == "Y", _yn(rng, p_att, m), "N")
        parts.append({
            "row": rows,
            "role": np.broadcast_to(np.asarray(role), (nconf,))[rows].astype("<U18"),
            "person": person[rows],
            "invited": inv,
            "attended": att,
            "report": report[rows],
            "order": np.full(m, order, np.int64),
        })

    everyone = np.ones(nconf, dtype=bool)
    no_person = _none_ids(nconf)
    prof_report = _pick(rng, ("Y", "N", ""), (60, 30, 10), nconf)
    fam_report = _pick(rng, ("", "Y", "N"), (80, 10, 10), nconf)
    role_rows(everyone, "SOCIAL_WORKER", no_person, 1.0, 0.96,
              _pick(rng, ("Y", "N"), (85, 15), nconf), 0)
    role_rows(everyone, np.where(grandparent[cfam], "OTHER_FAMILY", "MOTHER"),
              mother_pid[cfam], 0.96, 0.72, fam_report, 1)
    fth = has_father[cfam]
    ftype_c = father_type_fam[cfam]
    frole = np.where(
        (ftype_c == "BIRTH_FATHER") | (ftype_c == "ADOPTIVE_FATHER"), "FATHER", "MALE_CARER"
    )
    role_rows(fth, frole, father_of_fam[cfam], 0.8, 0.62, fam_report, 2)
    role_rows((age_at >= 11) & (rng.random(nconf) < 0.35), "CHILD", child_pid[cc],
              0.95, 0.8, fam_report, 3)
    for order, (role, p_role) in enumerate(
        (("HEALTH", 0.92), ("POLICE", 0.65), ("EDUCATION", 0.8), ("PROBATION", 0.06),
         ("OTHER_PROFESSIONAL", 0.12)),
        start=4,
    ):
        mask = rng.random(nconf) < p_role
        if role == "EDUCATION":
            mask &= age_at >= 4
        role_rows(mask, role, no_person, 0.97, 0.7, prof_report, order)
    att = _concat(parts)
    att = _take(att, np.lexsort((att["order"], att["row"])))
    out["conference_attendance"] = {
        "conference_id": conf_id[att["row"]],
        "child_id": child_pid[cc[att["row"]]],
        "attendee_role": att["role"],
        "person_id": att["person"],
        "invited": att["invited"],
        "attended": att["attended"],
        "report_submitted": att["report"],
    }

    # a grandparent who died is not someone the conferences deal with
    m_death[cfam] = _NAT
    out["persons"] = _concat([
        {
            "person_id": child_pid,
            "person_type": np.where(unborn, "UNBORN", "CHILD"),
            "sex": child_sex,
            "date_of_birth": dob,
            "expected_date_of_birth": edd,
            "date_of_death": _no_dates(n),
            "ethnicity": child_eth,
            "disability": disab,
            "name_recorded": np.where(unborn, "N", _yn(rng, 0.99, n)),
            "dob_recorded": np.where(unborn, "N", "Y"),
            "address_recorded": np.where(unborn, _yn(rng, 0.9, n), _yn(rng, 0.96, n)),
            "contact_recorded": np.where(unborn, "N", _yn(rng, 0.85, n)),
        },
        {
            "person_id": mother_pid,
            "person_type": np.full(nfam, "ADULT"),
            "sex": np.full(nfam, "F"),
            "date_of_birth": m_dob,
            "expected_date_of_birth": _no_dates(nfam),
            "date_of_death": m_death,
            "ethnicity": m_eth,
            "disability": _pick(rng, ("N", "Y", "U", ""), (70, 5, 5, 20), nfam),
            **m_flags,
        },
        {
            "person_id": father_of_fam[f_idx],
            "person_type": np.full(nfa, "ADULT"),
            "sex": np.full(nfa, "M"),
            "date_of_birth": f_dob,
            "expected_date_of_birth": _no_dates(nfa),
            "date_of_death": _no_dates(nfa),
            "ethnicity": f_eth,
            "disability": _pick(rng, ("N", "Y", "U", ""), (60, 4, 6, 30), nfa),
            **f_flags,
        },
    ])

    # ---- Family Intervention Team referrals
    fx = np.nonzero(dec == "FIT_REFERRAL")[0]
    kf = len(fx)
    fr_date = _wd(ctx, dec_date[fx], rng.integers(0, 6, kf))
    fr_date = np.where(fr_date <= A, fr_date, dec_date[fx])
    f_st = _wd(ctx, fr_date, rng.integers(0, 21, kf))
    f_st = np.where((rng.random(kf) < 0.8) & (f_st <= A), f_st, _NAT)
    f_en = f_st + rng.integers(30, 201, kf)
    f_en = np.where(~np.isnat(f_st) & (rng.random(kf) < 0.85) & (f_en <= A), f_en, _NAT)
    fit_id, fit_order = _chron_ids(ctx, "fit_referral", fr_date)
    out["fit_referrals"] = _take({
        "fit_referral_id": fit_id,
        "child_id": child_pid[rc[fx]],
        "referral_date": fr_date,
        "tasks_outcomes_defined": _yn(rng, 0.72, kf),
        "start_date": f_st,
        "end_date": f_en,
        "outcome_achieved": np.where(
            ~np.isnat(f_en), _pick(rng, ("Y", "PARTIAL", "N"), (50, 30, 20), kf), ""
        ),
        "team_id": np.full(kf, fit_team[0]),
    }, fit_order)
    return out


# --------------------------------------------------------------------------- defects


class _Defects(NamedTuple):
    rows: dict[str, list[Arrays]]
    overrides: dict[str, dict[str, list[str | None]]]
    truth: list[tuple[str, str, str, str, str]]


def _orphan_children(ctx: _Ctx, rng: np.random.Generator, k: int, ethnicity: bool) -> Arrays:
    age = rng.integers(365, 16 * 365, k)
    return {
        "person_id": ctx.alloc("person", k),
        "person_type": np.full(k, "CHILD"),
        "sex": _pick(rng, ("M", "F"), (1, 1), k),
        "date_of_birth": _first_of_month(ctx.as_of - age),
        "expected_date_of_birth": _no_dates(k),
        "date_of_death": _no_dates(k),
        "ethnicity": _pick(rng, _ETHNICITY, _ETHNICITY_P, k) if ethnicity else _blank(k),
        "disability": np.full(k, "N"),
        "name_recorded": np.full(k, "Y"),
        "dob_recorded": np.full(k, "Y"),
        "address_recorded": np.full(k, "Y"),
        "contact_recorded": np.full(k, "Y"),
    }


def _make_defects(
    ctx: _Ctx, rng: np.random.Generator, plan: _FormatPlan, k: int, with_persons: bool
) -> _Defects:
    A = ctx.as_of
    rows: dict[str, list[Arrays]] = {e: [] for e in EXTRACTS}
    overrides: dict[str, dict[str, list[str | None]]] = {}
    truth: list[tuple[str, str, str, str, str]] = []

    def fid(ns: str, value: int) -> str:
        prefix, width = plan.ids[ns]
        return prefix + str(value).zfill(width)

    def gt(kind_id: str, record_id: str) -> None:
        kind = next(d for d in DEFECT_KINDS if d.rule_id == kind_id)
        truth.append((kind.extract, record_id, kind.rule_id, kind.column_name, kind.severity))

    def some_days(m: int) -> np.ndarray:
        lo = max(ctx.hist_start + 30, A - 700)
        return _wd(ctx, _uniform_day(rng, np.full(m, lo), np.full(m, A - 60)), 0)

    team_fd = int(ctx.teams["FRONT_DOOR"][0])
    team_fw = int(ctx.teams["FIELDWORK"][0])

    # persons: impossible dates of birth, blank ethnicity
    bad_dob = _orphan_children(ctx, rng, k, ethnicity=True)
    missing_eth = _orphan_children(ctx, rng, k, ethnicity=False)
    hosts = _orphan_children(ctx, rng, 7 * k, ethnicity=True)
    rows["persons"].append(_concat([bad_dob, missing_eth, hosts]))
    impossible = [(31, 2), (30, 2), (31, 4), (31, 6), (31, 9), (31, 11), (29, 2)]
    iso = plan.files["persons"].date_style == "iso"
    dob_over: list[str | None] = []
    for i in range(k):
        d, m = impossible[i % len(impossible)]
        y = 2009 + (i * 3) % 10
        if (d, m) == (29, 2) and y % 4 == 0:
            y += 1
        dob_over.append(f"{y}-{m:02d}-{d:02d}" if iso else f"{d:02d}/{m:02d}/{y}")
    overrides["persons"] = {"date_of_birth": dob_over + [None] * (8 * k)}
    if with_persons:
        for i in range(k):
            gt("persons.date_of_birth.invalid_date", fid("person", int(bad_dob["person_id"][i])))
        for i in range(k):
            gt("persons.ethnicity.missing_for_child",
               fid("person", int(missing_eth["person_id"][i])))
    host = iter(hosts["person_id"].tolist())

    # referrals: 4 groups of k, then the k duplicates
    m = 4 * k
    rdays = some_days(m)
    dt = rdays.astype("datetime64[s]") + rng.integers(9 * 3600, 17 * 3600, m).astype(
        "timedelta64[s]"
    )
    ddate = _wd(ctx, rdays, 1)
    group = np.repeat(np.arange(4), k)  # 0 unknown code, 1 decision missing, 2 dup, 3 host
    ref_ids = ctx.alloc("referral", m)
    refs: Arrays = {
        "referral_id": ref_ids,
        "child_id": np.array([next(host) for _ in range(m)], dtype=np.int64),
        "referral_datetime": dt,
        "referral_source": np.where(
            group == 0,
            np.resize(np.array(["TELEPATHY", "CRYSTAL_BALL", "CARRIER_PIGEON"]), m),
            _pick(rng, ("POLICE", "HEALTH", "SCHOOL"), (1, 1, 1), m),
        ),
        "team_id": np.full(m, team_fd),
        "decision_date": ddate,
        "decision": np.where(group == 1, "", np.where(group == 3, "INITIAL_ASSESSMENT", "NFA")),
        "previous_referrals_checked": np.full(m, "Y"),
        "risk_analysis_recorded": np.full(m, "Y"),
        "management_decision_recorded": np.full(m, "N"),
        "referrer_informed_date": _no_dates(m),
    }
    dup_idx = np.nonzero(group == 2)[0]
    dup = _take(refs, dup_idx)
    dup["referral_datetime"] = dup["referral_datetime"] + np.timedelta64(60, "s")
    dup["referral_source"] = np.full(k, "HEALTH")
    rows["referrals"] += [refs, dup]
    for rid in ref_ids[group == 0].tolist():
        gt("referrals.referral_source.unknown_code", fid("referral", rid))
    for rid in ref_ids[group == 1].tolist():
        gt("referrals.decision.missing", fid("referral", rid))
    for rid in ref_ids[dup_idx].tolist():
        gt("referrals.duplicate_key", fid("referral", rid))

    # assessments: k on referrals that do not exist, k completed before they started
    phantom = ctx.alloc("referral", k)  # allocated, never written
    host_refs = np.nonzero(group == 3)[0]
    a_start = np.concatenate([some_days(k), _wd(ctx, ddate[host_refs], 1)])
    a_done = np.concatenate([np.zeros(k, bool), np.ones(k, bool)])
    a_ids = ctx.alloc("assessment", 2 * k)
    rows["assessments"].append({
        "assessment_id": a_ids,
        "referral_id": np.concatenate([phantom, ref_ids[host_refs]]),
        "child_id": np.concatenate([
            np.array([next(host) for _ in range(k)], dtype=np.int64),
            refs["child_id"][host_refs],
        ]),
        "assessment_type": np.full(2 * k, "INITIAL"),
        "start_date": a_start,
        "completed_date": np.where(a_done, a_start - 2, _NAT),
        "authorised_date": _no_dates(2 * k),
        "child_seen": np.where(a_done, "Y", ""),
        "child_seen_alone": np.where(a_done, "N", ""),
        "father_involved": np.where(a_done, "NA", ""),
        "outcome": np.where(a_done, "NFA", ""),
        "team_id": np.full(2 * k, team_fw),
        "worker_id": np.full(2 * k, team_fw * 1000 + 7),
    })
    for i in range(k):
        gt("assessments.referral_id.unresolved_reference", fid("assessment", int(a_ids[i])))
    for i in range(k, 2 * k):
        gt("assessments.completed_date.before_start_date", fid("assessment", int(a_ids[i])))

    # cp_plans: a second plan starting while the first is still open
    p_child = np.array([next(host) for _ in range(k)], dtype=np.int64)
    first_start = some_days(k) - 30
    second_start = first_start + rng.integers(20, 50, k)
    first_end = np.where(rng.random(k) < 0.5, _NAT, np.minimum(second_start + 60, A))
    p_ids = ctx.alloc("cp_plan", 2 * k)
    rows["cp_plans"].append({
        "cp_plan_id": p_ids,
        "child_id": np.concatenate([p_child, p_child]),
        "start_date": np.concatenate([first_start, second_start]),
        "end_date": np.concatenate([first_end, _no_dates(k)]),
        "category": np.full(2 * k, "NEGLECT"),
        "initial_conference_id": _none_ids(2 * k),
        "team_id": np.full(2 * k, team_fw),
    })
    for i in range(k, 2 * k):
        gt("cp_plans.overlap", fid("cp_plan", int(p_ids[i])))

    # cp_conferences: TRANSFER_IN conferences held at a weekend
    w_child = np.array([next(host) for _ in range(k)], dtype=np.int64)
    w_day = some_days(k)
    weekday = (_days(w_day - np.datetime64("1970-01-05")) % 7)  # Monday = 0
    w_day = w_day + (5 - weekday) + np.where(np.arange(k) % 2 == 1, 1, 0) - 7
    c_ids = ctx.alloc("conference", k)
    rows["cp_conferences"].append({
        "conference_id": c_ids,
        "child_id": w_child,
        "conference_type": np.full(k, "TRANSFER_IN"),
        "conference_date": w_day,
        "strategy_id": _none_ids(k),
        "outcome": np.full(k, "PLAN_CONTINUES"),
        "team_id": np.full(k, team_fw),
    })
    for i in range(k):
        gt("cp_conferences.conference_date.weekend",
           f"{fid('conference', int(c_ids[i]))}|{fid('person', int(w_child[i]))}")
    return _Defects(rows=rows, overrides=overrides, truth=truth)


# --------------------------------------------------------------------------- driver


def generate_batch(
    out_root: Path,
    *,
    children: int,
    seed: int,
    as_of: date,
    defects: bool = False,
    identifying: bool = False,
    years: int = 3,
    chunk_children: int = 50_000,
) -> Path:
    """Write out_root/<as_of ISO>/<extract>.csv for all 12 extracts; return the batch folder.

    If ``defects``: inject the deliberate defects of :data:`DEFECT_KINDS`
    (:func:`defects_per_kind` of each) and write ``out_root/<as_of>.ground_truth.csv`` (NOT
    inside the batch folder: a non-extract file inside the batch would itself be reported),
    columns ``extract,record_id,rule_id,column_name,severity``, one row per injected issue.

    If ``identifying``: add a ``Surname`` column of synthetic values to persons.csv (the
    whole file must then be rejected, rule ``persons.identifying_column``, severity
    ``file_error``) and list it in the ground-truth file; see the module docstring for what
    the ground truth then leaves out. Without either flag, a stale ground-truth file of the
    same batch is removed. The twelve files are overwritten; nothing else in the batch
    folder is touched.
    """
    if children < 1:
        raise ValueError("children must be at least 1")
    if years < 1:
        raise ValueError("years must be at least 1")
    if chunk_children < 1:
        raise ValueError("chunk_children must be at least 1")
    if children * 30 + 100_000 >= 10**8:
        raise ValueError("children too large for the 8-digit id spaces")
    out_root = Path(out_root)
    batch = out_root / as_of.isoformat()
    batch.mkdir(parents=True, exist_ok=True)
    truth_path = out_root / f"{as_of.isoformat()}.ground_truth.csv"

    plan = _format_plan(seed)
    a = np.datetime64(as_of.isoformat(), "D")
    hist_start = a - int(round(years * 365.25))
    id_rng = np.random.default_rng([seed, 0x1D])
    counters = {ns: int(id_rng.integers(1_000, 60_000)) for ns in _ID_NAMESPACES}
    counters["team"] = int(id_rng.integers(1, 90))
    team_no = np.arange(counters["team"], counters["team"] + len(_TEAMS), dtype=np.int64)
    areas = np.array([area for _, area in _TEAMS])
    ctx = _Ctx(
        as_of=a,
        hist_start=hist_start,
        cal=_calendar(as_of.year - years - 2, as_of.year + 2),
        teams={area: team_no[areas == area] for area in set(areas.tolist())},
        counters=counters,
    )

    sinks: dict[str, _CsvSink] = {}
    try:
        for e in EXTRACTS:
            extra = ("Surname",) if identifying and e == "persons" else ()
            sinks[e] = _CsvSink(batch / f"{e}.csv", e, plan.files[e], extra)
        teams = {
            "team_id": team_no,
            "team_name": np.array([name for name, _ in _TEAMS]),
            "service_area": areas,
        }
        _write(sinks, "teams", teams, plan, np.random.default_rng([seed, 0xC0DE, 0]), 0)

        person_rows = 0
        n_chunks = math.ceil(children / chunk_children)
        for ci in range(n_chunks):
            n = min(chunk_children, children - ci * chunk_children)
            chunk = _gen_chunk(ctx, np.random.default_rng([seed, ci]), n)
            frng = np.random.default_rng([seed, 0xC0DE, ci + 1])
            for e in EXTRACTS[1:]:
                person_rows = _write(sinks, e, chunk[e], plan, frng, person_rows)

        truth: list[tuple[str, str, str, str, str]] = []
        if defects:
            drng = np.random.default_rng([seed, 0xDEFEC7])
            found = _make_defects(ctx, drng, plan, defects_per_kind(children),
                                  with_persons=not identifying)
            frng = np.random.default_rng([seed, 0xC0DE, 0xDEFEC7])
            for e in EXTRACTS[1:]:
                for part in found.rows[e]:
                    person_rows = _write(sinks, e, part, plan, frng, person_rows,
                                         found.overrides.get(e))
            truth = found.truth
        for ns, (_, width) in plan.ids.items():
            if ctx.counters[ns] >= 10**width:
                raise ValueError(f"too many {ns} ids for a {width}-digit id space")
    finally:
        for sink in sinks.values():
            sink.close()

    if identifying:
        k = IDENTIFYING_KIND
        truth.insert(0, (k.extract, "", k.rule_id, k.column_name, k.severity))
    if defects or identifying:
        frame = pl.DataFrame(truth, schema=list(GROUND_TRUTH_COLUMNS), orient="row")
        # an empty record_id (file-level issue) is written as an empty field, not as ""
        frame.with_columns(pl.col("record_id").replace("", None)).write_csv(truth_path)
    elif truth_path.exists():
        truth_path.unlink()
    return batch


_SURNAMES = ("Testname", "Fakename", "Dummyname", "Samplename", "Madeupname")


def _write(
    sinks: dict[str, _CsvSink],
    extract: str,
    data: Arrays,
    plan: _FormatPlan,
    rng: np.random.Generator,
    person_rows: int,
    overrides: dict[str, list[str | None]] | None = None,
) -> int:
    """Format one part of an extract and append it; return the persons row count so far."""
    n = len(next(iter(data.values())))
    if overrides is not None and any(len(v) != n for v in overrides.values()):
        raise ValueError(f"{extract}: overrides do not match the rows")
    frame = _to_frame(extract, data, plan, rng, overrides)
    sink = sinks[extract]
    if extract == "persons":
        if sink.extra:
            idx = np.arange(person_rows, person_rows + n) % len(_SURNAMES)
            frame = frame.with_columns(
                pl.Series("Surname", np.asarray(_SURNAMES)[idx], dtype=pl.String)
            )
        person_rows += n
    sink.write(frame)
    return person_rows


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``qa-pipeline generate-sample OUT_ROOT --children N --seed S ...``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("out_root", type=Path)
    parser.add_argument("--children", type=children_count, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--as-of", type=date.fromisoformat, default=date(2026, 11, 25))
    parser.add_argument("--years", type=int, default=3)
    parser.add_argument("--chunk-children", type=int, default=50_000)
    parser.add_argument("--defects", action="store_true")
    parser.add_argument("--identifying", action="store_true")
    args = parser.parse_args(argv)
    batch = generate_batch(
        args.out_root,
        children=args.children,
        seed=args.seed,
        as_of=args.as_of,
        defects=args.defects,
        identifying=args.identifying,
        years=args.years,
        chunk_children=args.chunk_children,
    )
    print(batch)
    return ExitStatus.OK


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
