"""The data officers' worklists: the open issues of the latest batch, per team.

`load_latest_issues` reads the `dq_issue_latest` view (issues of the latest published batch,
with `first_seen`, `status` new/persisting, `age_days` and the accepted `exception_id`);
`write_workbook` writes them to one Excel workbook per batch — a summary sheet, one sheet per
team and one for issues no team owns — for the officers to work through in Paris.

Only open issues are listed: an issue covered by an accepted exception in force is left out
(and counted on the summary sheet). Every text cell that a spreadsheet could take for a
formula (`=`, `+`, `-`, `@`, tab, carriage return) is stored as text with Excel's quote
prefix, so `=HYPERLINK(...)` delivered in a field is shown, never evaluated.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from qa_pipeline.officers.issues import (
    Issue,
    filter_issues,
    latest_batch,
    load_latest_issues,
    team_names,
)
from qa_pipeline.privacy.redaction import redact, redact_cut

NO_TEAM = "No team"
SUMMARY = "Summary"

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


def sheet_title(name: str, taken: Iterable[str] = ()) -> str:
    """A valid, unique Excel sheet name: ≤ 31 characters, none of []:*?/\\, not 'History',
    not starting or ending with an apostrophe."""
    t = _SHEET_FORBIDDEN.sub(" ", redact(name))
    t = re.sub(r"\s+", " ", t).strip().strip("'").strip()
    if not t or t.lower() == "history":
        t = f"Sheet {t}".strip()
    t = t[:31].rstrip().rstrip("'")
    used = {x.lower() for x in taken}
    base, n = t, 2
    while t.lower() in used:
        suffix = f" ({n})"
        t = base[: 31 - len(suffix)].rstrip().rstrip("'") + suffix
        n += 1
    return t


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
    ("Record id", 16), ("Child id", 12), ("Extract", 18), ("Rule", 44), ("Severity", 10),
    ("Column", 22), ("Value", 20), ("Message", 70), ("How to fix it in Paris", 70),
    ("First seen", 12), ("Age (days)", 10), ("Status", 11), ("Row in file", 11),
]
DATE_FORMAT = "yyyy-mm-dd"


def _issue_cells(i: Issue) -> list[tuple[Any, str | None]]:
    return [
        (i.record_id or "", None), (i.child_id or "", None), (i.extract, None),
        (i.rule_id, None), (i.severity, None), (i.column_name or "", None),
        (i.value or "", None), (i.message, None), (i.guidance or "", None),
        (i.first_seen, DATE_FORMAT), (i.age_days, "0"), (i.status, None),
        (i.source_row, "0"),
    ]


def _table_sheet(ws: Any, header: Sequence[tuple[str, int]],
                 rows: Iterable[Sequence[tuple[Any, str | None]]], top: int = 1) -> None:
    """Header row at `top` (bold, frozen below it), then rows, autofilter and widths."""
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter

    bold, fill = Font(bold=True), PatternFill("solid", fgColor="DDE6F0")
    for c, (name, width) in enumerate(header, start=1):
        _put(ws, top, c, name)
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


def workbook_path(out_dir: Path, as_of: date) -> Path:
    return Path(out_dir) / f"qa_worklists_{as_of.isoformat()}.xlsx"


def write_workbook(engine: sa.Engine, out_dir: Path, *,
                   issues: list[Issue] | None = None) -> Path:
    """Write `qa_worklists_<as_of>.xlsx` for the latest batch into out_dir; return its path."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    as_of = latest_batch(engine)
    all_issues = load_latest_issues(engine) if issues is None else issues
    names = team_names(engine, as_of)
    open_issues = filter_issues(all_issues)
    accepted = [i for i in all_issues if i.accepted]

    by_team: dict[str | None, list[Issue]] = {t: [] for t in sorted(names)}
    by_team[None] = []
    for i in open_issues:
        by_team.setdefault(i.team_id, []).append(i)

    wb = Workbook()
    summary = wb.active
    summary.title = SUMMARY
    taken = [SUMMARY, NO_TEAM]
    sheets: dict[str | None, str] = {None: NO_TEAM}
    for tid in sorted(k for k in by_team if k is not None):
        title = sheet_title(f"{tid} {names.get(tid, '')}".strip(), taken)
        taken.append(title)
        sheets[tid] = title

    # Summary: a few lines of context, then one row per team sheet.
    info = [
        ("Worklists of batch", as_of.isoformat()),
        ("Generated (UTC)", datetime.now(UTC).strftime("%Y-%m-%d %H:%M")),
        ("Open issues", str(len(open_issues))),
        ("Accepted exceptions (not listed)", str(len(accepted))),
        ("How to use", "Each team sheet lists its open issues, oldest first within severity. "
                       "Put each one right in Paris; it drops off after the next nightly run. "
                       "If a failure is correct practice, ask for an accepted exception "
                       "(qa-pipeline exceptions add)."),
    ]
    for r, (k, v) in enumerate(info, start=1):
        _put(summary, r, 1, k)
        summary.cell(row=r, column=1).font = Font(bold=True)
        _put(summary, r, 2, v)
    top = len(info) + 2
    team_rows = []
    for t, title in sorted(sheets.items(), key=lambda kv: (kv[0] is None, kv[0] or "")):
        items = by_team.get(t, [])
        team_rows.append([
            (t or "", None), (names.get(t, "") if t else "(no team)", None), (title, None),
            (len(items), "0"), (sum(i.status == "new" for i in items), "0"),
            (sum(i.status == "persisting" for i in items), "0"),
            (sum(i.severity in ("error", "file_error") for i in items), "0"),
            (sum(i.severity == "warning" for i in items), "0"),
            (max((i.age_days for i in items), default=0), "0"),
        ])
    _table_sheet(summary, [("Team id", 10), ("Team", 36), ("Sheet", 32), ("Open", 8),
                           ("New", 8), ("Persisting", 11), ("Errors", 8), ("Warnings", 10),
                           ("Oldest (days)", 13)], team_rows, top=top)

    for t, title in sorted(sheets.items(), key=lambda kv: (kv[0] is None, kv[0] or "")):
        ws = wb.create_sheet(title)
        _table_sheet(ws, WORKLIST_COLUMNS, (_issue_cells(i) for i in by_team.get(t, [])))

    out = workbook_path(out_dir, as_of)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".qa_worklists_", suffix=".xlsx", dir=out.parent)
    os.close(fd)
    try:
        wb.save(tmp)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out
