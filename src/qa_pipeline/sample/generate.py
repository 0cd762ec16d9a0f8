"""Seeded generator of realistic *synthetic* Paris extract batches.

Nothing here is, or is derived from, real data: every id is a made-up pseudonymous string, and
the only free text is a fixed list of invented team names. The generator writes a batch as
the Paris extract specification (``shared/spec/extracts.md``) describes it: twelve CSV
extracts in a folder named with the extract date. Tests, benchmarks and demonstrations use it.

The extracts, their columns (in order), id references and code lists come from the contracts
(:mod:`qa_pipeline.sample.schema`); the distributions over codes are weights keyed by code
(:mod:`qa_pipeline.sample.codes`); working days and bank holidays are
:mod:`qa_pipeline.transform.calendar`'s. Layout: ``schema`` and ``codes`` (what is generated),
``arrays`` (the batch context and array helpers), ``people`` and ``cases`` (one chunk of
children: persons, relationships, then the case records), ``defects`` (the planted issues),
``formats`` (how each file is delivered and written) and this module (the driver).

Public API
----------
``generate_batch(out_root, children=..., seed=..., as_of=...)`` writes
``out_root/<as_of ISO>/<extract>.csv`` for all twelve extracts (see :data:`EXTRACTS`) and
returns the batch folder; the command is ``qa-pipeline generate-sample`` (its arguments are
defined once, in ``qa_pipeline.cli.main``). The output is a pure function of the arguments
(``children``, ``seed``, ``as_of``, ``defects``, ``identifying``, ``years``,
``chunk_children``): the same arguments always give byte-identical files. ``chunk_children``
only bounds memory, but it is part of the random stream, so change it and the (equally valid)
data changes too. Consecutive nights of one evolving caseload (``generate-sample --nights``)
are :mod:`qa_pipeline.sample.nights`'s, whose first night is this batch.

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

import math
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

from qa_pipeline.sample.arrays import Arrays, Ctx, business_calendar
from qa_pipeline.sample.cases import gen_chunk
from qa_pipeline.sample.codes import TEAMS
from qa_pipeline.sample.defects import (
    DEFECT_KINDS,
    IDENTIFYING_KIND,
    DefectKind,
    Truth,
    defects_per_kind,
    make_defects,
)
from qa_pipeline.sample.formats import CsvSink, FormatPlan, format_plan, to_frame
from qa_pipeline.sample.schema import EXTRACTS, ID_NAMESPACES, SCHEMA

__all__ = [
    "DEFECT_KINDS",
    "EXTRACTS",
    "GROUND_TRUTH_COLUMNS",
    "IDENTIFYING_KIND",
    "SCHEMA",
    "SIZES",
    "DefectKind",
    "batch_context",
    "children_count",
    "defects_per_kind",
    "generate_batch",
    "write_truth",
]

SIZES: dict[str, int] = {"S": 300, "M": 30_000, "L": 1_000_000}
"""The named batch sizes (children) of the benchmark and of ``generate-sample --children``."""


def children_count(text: str) -> int:
    """A number of children, or a named size (S, M, L)."""
    if text.upper() in SIZES:
        return SIZES[text.upper()]
    return int(text)


GROUND_TRUTH_COLUMNS: tuple[str, ...] = (
    "extract", "record_id", "rule_id", "column_name", "severity",
)

_SURNAMES = ("Testname", "Fakename", "Dummyname", "Samplename", "Madeupname")


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
    _check_arguments(children, years, chunk_children)
    out_root = Path(out_root)
    batch = out_root / as_of.isoformat()
    batch.mkdir(parents=True, exist_ok=True)
    plan = format_plan(seed)
    ctx = batch_context(seed, as_of, years)
    sinks: dict[str, CsvSink] = {}
    try:
        for e in EXTRACTS:
            extra = ("Surname",) if identifying and e == "persons" else ()
            sinks[e] = CsvSink(batch / f"{e}.csv", e, plan.files[e], extra)
        truth = _write_all(sinks, ctx, plan, seed, children, chunk_children, defects,
                           identifying)
        for ns, (_, width) in plan.ids.items():
            if ctx.counters[ns] >= 10**width:
                raise ValueError(f"too many {ns} ids for a {width}-digit id space")
    finally:
        for sink in sinks.values():
            sink.close()
    write_truth(out_root / f"{as_of.isoformat()}.ground_truth.csv", truth, defects,
                 identifying)
    return batch


def _check_arguments(children: int, years: int, chunk_children: int) -> None:
    if children < 1:
        raise ValueError("children must be at least 1")
    if years < 1:
        raise ValueError("years must be at least 1")
    if chunk_children < 1:
        raise ValueError("chunk_children must be at least 1")
    if children * 30 + 100_000 >= 10**8:
        raise ValueError("children too large for the 8-digit id spaces")


def batch_context(seed: int, as_of: date, years: int) -> Ctx:
    """The batch context of these arguments: extract date, history, calendar, teams and the
    first id of each id space (drawn from the seed)."""
    a = np.datetime64(as_of.isoformat(), "D")
    id_rng = np.random.default_rng([seed, 0x1D])
    counters = {ns: int(id_rng.integers(1_000, 60_000)) for ns in ID_NAMESPACES}
    counters["team"] = int(id_rng.integers(1, 90))
    team_no = np.arange(counters["team"], counters["team"] + len(TEAMS), dtype=np.int64)
    areas = np.array([area for _, area in TEAMS])
    return Ctx(
        as_of=a,
        hist_start=a - int(round(years * 365.25)),
        cal=business_calendar(as_of.year - years - 2, as_of.year + 2),
        teams={area: team_no[areas == area] for area in set(areas.tolist())},
        counters=counters,
    )


def _write_all(
    sinks: dict[str, CsvSink], ctx: Ctx, plan: FormatPlan, seed: int, children: int,
    chunk_children: int, defects: bool, identifying: bool,
) -> Truth:
    """Teams, then every chunk of children, then the defects; return the ground truth."""
    first = ctx.counters["team"]  # team ids are never allocated: the first one stays put
    team_no = np.arange(first, first + len(TEAMS), dtype=np.int64)
    teams = {
        "team_id": team_no,
        "team_name": np.array([name for name, _ in TEAMS]),
        "service_area": np.array([area for _, area in TEAMS]),
    }
    _write(sinks, "teams", teams, plan, np.random.default_rng([seed, 0xC0DE, 0]), 0)

    person_rows = 0
    for ci in range(math.ceil(children / chunk_children)):
        n = min(chunk_children, children - ci * chunk_children)
        chunk = gen_chunk(ctx, np.random.default_rng([seed, ci]), n)
        frng = np.random.default_rng([seed, 0xC0DE, ci + 1])
        for e in EXTRACTS[1:]:
            person_rows = _write(sinks, e, chunk[e], plan, frng, person_rows)
    if not defects:
        return []
    drng = np.random.default_rng([seed, 0xDEFEC7])
    found = make_defects(ctx, drng, plan, defects_per_kind(children),
                         with_persons=not identifying)
    frng = np.random.default_rng([seed, 0xC0DE, 0xDEFEC7])
    for e in EXTRACTS[1:]:
        for part in found.rows[e]:
            person_rows = _write(sinks, e, part, plan, frng, person_rows,
                                 found.overrides.get(e))
    return found.truth


def write_truth(path: Path, truth: Truth, defects: bool, identifying: bool) -> None:
    """The ground-truth file of a batch (or, with neither flag, a stale one removed)."""
    if identifying:
        k = IDENTIFYING_KIND
        truth.insert(0, (k.extract, "", k.rule_id, k.column_name, k.severity))
    if defects or identifying:
        frame = pl.DataFrame(truth, schema=list(GROUND_TRUTH_COLUMNS), orient="row")
        # an empty record_id (file-level issue) is written as an empty field, not as ""
        frame.with_columns(pl.col("record_id").replace("", None)).write_csv(path)
    elif path.exists():
        path.unlink()


def _write(
    sinks: dict[str, CsvSink],
    extract: str,
    data: Arrays,
    plan: FormatPlan,
    rng: np.random.Generator,
    person_rows: int,
    overrides: dict[str, list[str | None]] | None = None,
) -> int:
    """Format one part of an extract and append it; return the persons row count so far."""
    n = len(next(iter(data.values())))
    if overrides is not None and any(len(v) != n for v in overrides.values()):
        raise ValueError(f"{extract}: overrides do not match the rows")
    frame = to_frame(extract, data, plan, rng, overrides)
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
