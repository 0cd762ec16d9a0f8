"""The Excel worklists of a published batch (SQLite and PostgreSQL): one sheet per team, a
summary and a no-team sheet, open issues only, formula injection neutralised."""

from __future__ import annotations

from pathlib import Path

from openpyxl import load_workbook

from qa_pipeline.load.db import make_engine
from qa_pipeline.officers.exceptions import add_exception
from qa_pipeline.officers.worklists import NO_TEAM, SUMMARY, WORKLIST_COLUMNS, write_workbook
from qa_pipeline.ops.job import run_path
from tests.batch_builder import AS_OF, base, write_batch

INJECTIONS = {  # (extract, row, column) -> a value a spreadsheet would evaluate
    ("fit_referrals", 0, "outcome_achieved"): '=HYPERLINK("http://example.invalid","x")',
    ("cin_reviews", 0, "child_participated"): "@SUM(1+1)",
    ("conference_attendance", 0, "invited"): "+1",
    ("cp_plans", 0, "category"): "-2+3",
}


def _published(db_url: str, tmp_path: Path) -> Path:
    data = base()
    for (extract, row, column), value in INJECTIONS.items():
        data[extract][row][column] = value
    data["teams"][0]["team_name"] = "Tîm Plant Anabl, Ysbyty Gwynedd – Bangor [North]"
    run_path(write_batch(tmp_path / "landing", data), db_url)
    return tmp_path / "reports"


def test_workbook(db_url: str, tmp_path: Path) -> None:
    out = _published(db_url, tmp_path)
    engine = make_engine(db_url)
    # An accepted exception: its issue is not in the worklists.
    add_exception(engine, rule_id="cp_plans.category.unknown_code", extract="cp_plans",
                  record_id="P1", reason="Category agreed with the service manager", by="me")
    path = write_workbook(engine, out)
    assert path == out / f"qa_worklists_{AS_OF.isoformat()}.xlsx"

    wb = load_workbook(path)
    names = wb.sheetnames
    assert names[0] == SUMMARY and NO_TEAM in names
    assert "T1 Tîm Plant Anabl, Ysbyty Gwyn" in names  # cut to 31, no [ ] in a sheet name
    assert any(n.startswith("T2") for n in names)
    for n in names:
        assert len(n) <= 31 and not set(n) & set("[]:*?/\\")

    rows: list[dict[str, object]] = []
    for n in names[1:]:
        ws = wb[n]
        header = [c.value for c in ws[1]]
        assert header == [h for h, _ in WORKLIST_COLUMNS]
        assert ws.freeze_panes == "A2"
        assert ws.auto_filter.ref and ws.auto_filter.ref.startswith("A1:")
        assert ws.column_dimensions["H"].width == 70  # Message
        for r in ws.iter_rows(min_row=2):
            rows.append({"sheet": n, **{h: c.value for h, c in zip(header, r, strict=True)}})
            for c in r:  # no formula anywhere
                assert c.data_type != "f"
    by_rule = {str(r["Rule"]): r for r in rows}
    assert "cp_plans.category.unknown_code" not in by_rule  # accepted
    for (extract, _, column), value in INJECTIONS.items():
        if extract == "cp_plans":
            continue
        hit = next(r for r in rows if r["Extract"] == extract and r["Column"] == column)
        assert hit["Value"] == value  # shown as delivered, as text
    cell = next(c for n in names[1:] for row in wb[n].iter_rows(min_row=2) for c in row
                if c.value == INJECTIONS[("fit_referrals", 0, "outcome_achieved")])
    assert cell.data_type == "s" and cell.quotePrefix
    fit = next(r for r in rows if r["Extract"] == "fit_referrals")
    assert fit["sheet"].startswith("T1") and fit["Record id"] == "FR1"
    assert fit["Age (days)"] == 0 and fit["Status"] == "new"
    assert fit["How to fix it in Paris"]

    summary = wb[SUMMARY]
    assert summary.freeze_panes is not None and summary.auto_filter.ref
    values = [[c.value for c in r] for r in summary.iter_rows()]
    assert ["Accepted exceptions (not listed)", "1"] == values[3][:2]
    top = next(n for n, r in enumerate(values) if r[0] == "Team id")
    assert summary.freeze_panes == f"A{top + 2}"
    teams = values[top + 1:]
    assert [r[2] for r in teams] == names[1:]  # one row per sheet, the no-team one last
    assert sum(int(r[3]) for r in teams) == len(rows)
