"""The data officers' worklists: the open issues of the latest batch, per team.

`load_latest_issues` reads the `dq_issue_latest` view (issues of the latest published batch,
with `first_seen`, `status` new/persisting, `age_days` and the accepted `exception_id`);
`write_workbook` writes them to one Excel workbook per batch — a summary sheet, one sheet per
team with open issues, one for open issues no team owns, and a Resolved sheet (the issues of
the previous batch that the latest no longer has, from `dq_issue_resolved`) — for the
officers to work through in Paris.

Counts are stored as numbers and dates as Excel dates. The summary links to each sheet
(internal hyperlinks, `'Sheet name'!A1`) and each sheet links back to it. A team with nothing
to fix gets no sheet: its summary row shows 0 and "nothing to fix", without a link. Sheet
names keep the team id whole and cut the team's name at a word boundary (`sheet_title`).

Only open issues are listed: an issue covered by an accepted exception in force is left out
(and counted on the summary sheet). Every text cell that a spreadsheet could take for a
formula (`=`, `+`, `-`, `@`, tab, carriage return) is stored as text with Excel's quote
prefix, so `=HYPERLINK(...)` delivered in a field is shown, never evaluated.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from qa_pipeline.i18n import ENGLISH, N_, Lang
from qa_pipeline.officers.issues import (
    Issue,
    ResolvedIssue,
    RootCause,
    latest_batch,
    load_latest_issues,
    load_resolved_issues,
    previous_batch,
    root_causes,
    team_names,
)
from qa_pipeline.ops.files import write_with
from qa_pipeline.privacy.redaction import redact, redact_cut

NO_TEAM = N_("No team")
SUMMARY = N_("Summary")
RESOLVED = N_("Resolved")
"""The fixed sheets' names, in English; each workbook shows them in its language
(`Lang.tr`: "Crynodeb", "Crynodeb / Summary")."""

# Text a spreadsheet (or a CSV import) may read as a formula or a command.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
# Control characters that are not allowed in an .xlsx cell (openpyxl refuses them).
_ILLEGAL_XLSX = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")


# --- spreadsheet safety -----------------------------------------------------------------


def is_formula_like(text: str) -> bool:
    return text.startswith(FORMULA_PREFIXES)


def csv_safe(value: Any) -> Any:
    """A CSV cell that a spreadsheet will not evaluate: formula-like text gets a leading '."""
    if isinstance(value, str) and is_formula_like(value):
        return "'" + value
    return value


SHEET_MAX = 31
"""Excel's longest sheet name."""
CUT = "\u2026"
"""Marks a sheet name cut short (…)."""
_CUT_TRAIL = " ,;:.–—-'"


def _clean_name(text: str) -> str:
    t = _SHEET_FORBIDDEN.sub(" ", redact(text))
    return re.sub(r"\s+", " ", t).strip().strip("'").strip()


def _cut_words(text: str, room: int) -> str:
    """`text` in at most `room` characters: cut at the last word boundary that fits, marked
    with …; a first word longer than the room is cut within it (never left empty)."""
    if len(text) <= room:
        return text
    if room <= 1:
        return CUT[:room]
    cut = text[: room - 1]
    if text[room - 1] != " " and " " in cut:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(_CUT_TRAIL) + CUT


def _fit(head: str, body: str, room: int) -> str:
    if not head:
        return _cut_words(body, room)
    if not body or len(head) + 2 > room:
        return _cut_words(head, room) if len(head) > room else head
    return f"{head} {_cut_words(body, room - len(head) - 1)}"


def sheet_title(name: str, taken: Iterable[str] = (), *, head: str = "") -> str:
    """A valid, unique Excel sheet name: ≤ 31 characters, none of []:*?/\\, not 'History',
    not starting or ending with an apostrophe, never empty.

    `head` (a team id) is kept whole at the start; `name` follows it, cut at a word boundary
    with … when it does not fit. A name Excel already has (compared without case) gets
    " (2)", " (3)"... with the name cut shorter to make room."""
    head, body = _clean_name(head), _clean_name(name)
    if not head and (not body or body.lower() == "history"):
        body = f"Sheet {body}".strip()
    used = {x.lower() for x in taken}
    n = 1
    while True:
        suffix = f" ({n})" if n > 1 else ""
        title = _fit(head, body, SHEET_MAX - len(suffix)) + suffix
        if title.lower() not in used:
            return title
        n += 1


def sheet_ref(title: str, cell: str = "A1") -> str:
    """The in-workbook reference to a cell of sheet `title`: `'Sheet name'!A1`, an
    apostrophe in the name doubled."""
    return "'" + title.replace("'", "''") + "'!" + cell


CELL_MAX = 1000
"""The longest text a worksheet cell holds (its original length is noted)."""


def _put(ws: Any, row: int, col: int, value: Any, number_format: str | None = None) -> None:
    """Write one cell; text is always stored as text, never as a formula."""
    cell = ws.cell(row=row, column=col)
    if isinstance(value, str):
        value = _ILLEGAL_XLSX.sub("\ufffd", redact_cut(value, CELL_MAX) or "")
        cell.value = value
        if is_formula_like(value) or cell.data_type != "s":
            cell.data_type = "s"      # openpyxl would otherwise write "=..." as a formula
            cell.quotePrefix = True   # and Excel keeps it text when the cell is edited
    else:
        cell.value = value
    if number_format:
        cell.number_format = number_format


WORKLIST_COLUMNS: list[tuple[str, int]] = [
    # header, width
    (N_("Record id"), 16), (N_("Child id"), 12), (N_("Extract"), 18), (N_("Rule"), 44),
    (N_("Severity"), 10), (N_("Column"), 22), (N_("Value"), 20), (N_("Message"), 70),
    (N_("How to fix it in Paris"), 70), (N_("First seen"), 12), (N_("Age (days)"), 10),
    (N_("Status"), 11), (N_("Row in file"), 11),
    (N_("Dependent records"), 12), (N_("Dependent records (extract: record ids)"), 50),
]
DATE_FORMAT = "yyyy-mm-dd"
CELL_MAX = 32_767
"""Excel's limit on the characters of a cell."""


def dependent_list(rc: RootCause, limit: int = CELL_MAX) -> str:
    """The dependent records of a root cause, by extract: "assessments: A3, A4; ..." (cut,
    with how many more, where a cell could not hold them)."""
    by_extract: dict[str, list[str]] = {}
    for d in rc.dependents:
        by_extract.setdefault(d.extract, []).append(d.record_id or "")
    text = "; ".join(f"{x}: {', '.join(ids)}" for x, ids in by_extract.items())
    if len(text) <= limit:
        return text
    note = f" … ({len(rc.dependents)} records in all; qa-pipeline issues --all lists them)"
    return text[: limit - len(note)].rsplit(",", 1)[0] + note


def _issue_cells(rc: RootCause, lang: Lang = ENGLISH) -> list[tuple[Any, str | None]]:
    """One line of a team sheet: the message and guidance in the book's language (the
    English where an issue published before the Welsh has none)."""
    i = rc.issue
    return [
        (i.record_id or "", None), (i.child_id or "", None), (i.extract, None),
        (i.rule_id, None), (i.severity, None), (i.column_name or "", None),
        (i.value or "", None), (lang.pair(i.message, i.message_cy), None),
        (lang.pair(i.guidance, i.guidance_cy), None), (i.first_seen, DATE_FORMAT),
        (i.age_days, "0"), (i.status, None),
        (i.source_row, "0"), (len(rc.dependents), "0"), (dependent_list(rc), None),
    ]


def _table_sheet(ws: Any, header: Sequence[tuple[str, int]],
                 rows: Iterable[Sequence[tuple[Any, str | None]]], top: int = 1,
                 lang: Lang = ENGLISH) -> None:
    """Header row at `top` (bold, frozen below it) in the book's language, then rows,
    autofilter and widths."""
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter

    bold, fill = Font(bold=True), PatternFill("solid", fgColor="DDE6F0")
    for c, (name, width) in enumerate(header, start=1):
        _put(ws, top, c, lang.tr(name))
        ws.cell(row=top, column=c).font = bold
        ws.cell(row=top, column=c).fill = fill
        ws.column_dimensions[get_column_letter(c)].width = width
    r = top
    for r, cells in enumerate(rows, start=top + 1):
        for c, (v, fmt) in enumerate(cells, start=1):
            _put(ws, r, c, v, fmt)
    last = get_column_letter(len(header))
    ws.auto_filter.ref = f"A{top}:{last}{max(r, top)}"
    ws.freeze_panes = f"A{top + 1}"


RESOLVED_COLUMNS: list[tuple[str, int]] = [
    # header, width
    (N_("Team id"), 10), (N_("Team"), 30), (N_("Extract"), 18), (N_("Record id"), 16),
    (N_("Rule"), 44), (N_("Severity"), 10), (N_("Column"), 22), (N_("First seen"), 12),
    (N_("Last seen"), 12), (N_("Resolved in"), 12),
]
NOTHING_TO_FIX = N_("nothing to fix")
"""The Sheet cell of a team with no open issue: it gets no sheet."""


def _resolved_cells(i: ResolvedIssue, names: dict[str, str], lang: Lang = ENGLISH
                    ) -> list[tuple[Any, str | None]]:
    return [
        (i.team_id or "", None), (names.get(i.team_id, i.team_id) if i.team_id
                                  else lang.tr("(no team)"), None),
        (i.extract, None), (i.record_id or "", None), (i.rule_id, None), (i.severity, None),
        (i.column_name or "", None), (i.first_seen, DATE_FORMAT), (i.last_seen, DATE_FORMAT),
        (i.resolved_in, DATE_FORMAT),
    ]


def _link(ws: Any, row: int, col: int, text: str, title: str) -> None:
    """A cell showing `text` that jumps to cell A1 of sheet `title` of the same workbook."""
    from openpyxl.worksheet.hyperlink import Hyperlink

    _put(ws, row, col, text)
    cell = ws.cell(row=row, column=col)
    cell.hyperlink = Hyperlink(ref=cell.coordinate, location=sheet_ref(title))
    cell.style = "Hyperlink"


def workbook_path(out_dir: Path, as_of: date) -> Path:
    return Path(out_dir) / f"qa_worklists_{as_of.isoformat()}.xlsx"


@dataclass
class _Book:
    """What the workbook shows: the batch, its open issues by team, what was resolved."""

    as_of: date
    previous: date | None
    names: dict[str, str]
    by_team: dict[str | None, list[RootCause]]
    """The records to fix of each team: one root cause a line, its dependents under it."""
    accepted: int
    resolved: list[ResolvedIssue]
    sheets: dict[str | None, str] = field(default_factory=dict)
    """Team id (None: no team) -> its sheet; only teams with open issues have one."""
    lang: Lang = ENGLISH

    @property
    def summary_sheet(self) -> str:
        return self.lang.sheet(SUMMARY)

    @property
    def resolved_sheet(self) -> str:
        return self.lang.sheet(RESOLVED)

    @property
    def open_count(self) -> int:
        return sum(len(v) for v in self.by_team.values())

    @property
    def dependent_count(self) -> int:
        return sum(len(rc.dependents) for v in self.by_team.values() for rc in v)

    def teams(self) -> list[str | None]:
        """Every team of the batch in id order, then None (no team)."""
        return sorted(self.by_team, key=lambda t: (t is None, t or ""))


def _book(engine: sa.Engine, issues: list[Issue] | None, lang: Lang = ENGLISH) -> _Book:
    as_of = latest_batch(engine)
    all_issues = load_latest_issues(engine) if issues is None else issues
    names = team_names(engine, as_of)
    by_team: dict[str | None, list[RootCause]] = {t: [] for t in sorted(names)}
    by_team[None] = []
    for rc in root_causes(all_issues):
        by_team.setdefault(rc.issue.team_id, []).append(rc)
    book = _Book(as_of=as_of, previous=previous_batch(engine, as_of), names=names,
                 by_team=by_team, accepted=sum(i.accepted for i in all_issues),
                 resolved=load_resolved_issues(engine), lang=lang)
    no_team = sheet_title(lang.sheet(NO_TEAM))
    taken = [book.summary_sheet, no_team, book.resolved_sheet]
    for t in book.teams():
        if not by_team[t]:
            continue  # nothing to fix: no sheet, a row with 0 on the summary
        title = no_team if t is None else sheet_title(names.get(t, ""), taken, head=t)
        taken.append(title)
        book.sheets[t] = title
    return book


def _summary_info(ws: Any, book: _Book) -> int:
    """The summary's lines of context, counts as numbers; returns the next free row."""
    from openpyxl.styles import Font

    L = book.lang
    since = (L.tr("Resolved since {day}", day=book.previous.isoformat()) if book.previous
             else L.tr("Resolved (no previous batch)"))
    generated = datetime.now(UTC).replace(tzinfo=None, second=0, microsecond=0)
    info: list[tuple[str, Any, str | None]] = [
        (L.tr("Worklists of batch"), book.as_of, DATE_FORMAT),
        (L.tr("Generated (UTC)"), generated, "yyyy-mm-dd hh:mm"),
        (L.tr("Open issues (records to fix)"), book.open_count, "0"),
        (L.tr("Dependent records (listed with their root cause)"), book.dependent_count, "0"),
        (L.tr("Accepted exceptions (not listed)"), book.accepted, "0"),
        (since, len(book.resolved), "0"),
        (L.tr("How to use"), L.tr(
            "Each team sheet lists its open issues, oldest first within severity: "
            "one line per record to fix. A record whose fault keeps other records "
            "out of some indicators (their parent was quarantined) lists them in "
            "its last columns; fixing it clears them too. "
            "Put each one right in Paris; it drops off after the next nightly run "
            "(and is listed on the Resolved sheet). A team with nothing to fix has "
            "no sheet. If a failure is correct practice, ask for an accepted "
            "exception (qa-pipeline exceptions add)."), None),
    ]
    for r, (k, v, fmt) in enumerate(info, start=1):
        if k == since:
            _link(ws, r, 1, k, book.resolved_sheet)
        else:
            _put(ws, r, 1, k)
            ws.cell(row=r, column=1).font = Font(bold=True)
        _put(ws, r, 2, v, fmt)
    return len(info) + 2


SUMMARY_COLUMNS: list[tuple[str, int]] = [
    (N_("Team id"), 10), (N_("Team"), 36), (N_("Sheet"), 32), (N_("Open"), 8), (N_("New"), 8),
    (N_("Persisting"), 11), (N_("Errors"), 8), (N_("Warnings"), 10), (N_("Oldest (days)"), 13),
    (N_("Dependent records"), 12),
]


def _summary(ws: Any, book: _Book) -> None:
    """Context lines, then one row per team (counts as numbers), its sheet linked."""
    top = _summary_info(ws, book)
    rows = []
    for t in book.teams():
        items = [rc.issue for rc in book.by_team[t]]
        rows.append([
            (t or "", None), (book.names.get(t, "") if t else book.lang.tr("(no team)"), None),
            (book.sheets.get(t, book.lang.tr(NOTHING_TO_FIX)), None),
            (len(items), "0"), (sum(i.status == "new" for i in items), "0"),
            (sum(i.status == "persisting" for i in items), "0"),
            (sum(i.severity in ("error", "file_error") for i in items), "0"),
            (sum(i.severity == "warning" for i in items), "0"),
            (max((i.age_days for i in items), default=0), "0"),
            (sum(len(rc.dependents) for rc in book.by_team[t]), "0"),
        ])
    _table_sheet(ws, SUMMARY_COLUMNS, rows, top=top, lang=book.lang)
    for r, t in enumerate(book.teams(), start=top + 1):
        if t in book.sheets:
            _link(ws, r, 3, book.sheets[t], book.sheets[t])


def _sheet_top(ws: Any, text: str, book: _Book) -> None:
    """Row 1 of a list sheet: a link back to the summary, and what the sheet lists."""
    from openpyxl.styles import Font

    _link(ws, 1, 1, f"\u2190 {book.summary_sheet}", book.summary_sheet)
    _put(ws, 1, 2, text)
    ws.cell(row=1, column=2).font = Font(bold=True)


def _list_sheets(wb: Any, book: _Book) -> None:
    for t in book.teams():
        if t not in book.sheets:
            continue
        ws = wb.create_sheet(book.sheets[t])
        L = book.lang
        who = (f"{t} {book.names.get(t, '')}".strip() if t
               else L.tr("Issues no team owns"))
        deps = sum(len(rc.dependents) for rc in book.by_team[t])
        n, day = len(book.by_team[t]), book.as_of.isoformat()
        _sheet_top(ws, (L.tr("{who}: {n} open issues (records to fix) in batch {day}, with "
                             "{deps} dependent records", who=who, n=n, day=day, deps=deps)
                        if deps else
                        L.tr("{who}: {n} open issues (records to fix) in batch {day}",
                             who=who, n=n, day=day)), book)
        _table_sheet(ws, WORKLIST_COLUMNS, (_issue_cells(i, L) for i in book.by_team[t]), top=2,
                     lang=L)
    L = book.lang
    ws = wb.create_sheet(book.resolved_sheet)
    if book.previous is None:
        text = L.tr("No previous batch to compare with: nothing resolved yet")
    else:
        text = L.tr("{n} issues of batch {previous} gone from batch {day}",
                    n=len(book.resolved), previous=book.previous.isoformat(),
                    day=book.as_of.isoformat())
    _sheet_top(ws, text, book)
    _table_sheet(ws, RESOLVED_COLUMNS,
                 (_resolved_cells(i, book.names, L) for i in book.resolved), top=2, lang=L)


def _save(wb: Any, out: Path) -> None:
    """Save atomically: a reader sees the old workbook or the new one, never half of one;
    readable as the umask allows (the team leads open it on a shared folder)."""
    write_with(out, wb.save, prefix=".qa_worklists_", suffix=".xlsx")


def write_workbook(engine: sa.Engine, out_dir: Path, *,
                   issues: list[Issue] | None = None, lang: Lang = ENGLISH) -> Path:
    """Write `qa_worklists_<as_of>.xlsx` for the latest batch into out_dir, in `lang`; return
    its path."""
    from openpyxl import Workbook

    book = _book(engine, issues, lang)
    wb = Workbook()
    summary = wb.active
    summary.title = book.summary_sheet
    _summary(summary, book)
    _list_sheets(wb, book)
    out = workbook_path(out_dir, book.as_of)
    _save(wb, out)
    return out
