"""Issue episodes over seven published nights (SQLite and PostgreSQL): every row of the view
`dq_issue_episode`, the time to fix per team read from it (`officers.episodes`), the report's
"Time to fix, per team" and the query of docs/officers.md, run as written.

    night   1     2     3     4     5     6     7
    date    08-01 08-22 11-02 11-04 11-09 11-13 11-20    (2026)
    D       x     -     -     -     -     -     -      V2 progress flag (no team): fixed in 2
    B       -     -     x     x     -     -     -      FR1 tasks flag (T1): first 3, fixed in 5
    C       -     -     x     -     x     x     -      K1 on a Saturday (T1): fixed, back, fixed
    E       -     -     -     x     x     x     x      P1 category (T1): still open
    R3      -     -     x     x     -     -     x      a referral flag (T2): fixed, back: open
    R4      -     -     -     x     x     x     -      a referral flag (T2): fixed in 7
    P       -     -     x     x     x     -     -      child 000101's ethnicity blank (no team)
    F       -     -     -     x     -     -     -      cin_reviews.csv missing (file level)

R3 and R4 are referrals of team T2 added for the test, which nothing refers to (so that
quarantining them puts no warning on another record).
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from qa_pipeline.load.db import as_date, make_engine
from qa_pipeline.officers.episodes import TeamTimeToFix, load_time_to_fix
from qa_pipeline.officers.report import gather, render
from qa_pipeline.ops.job import run_path
from qa_pipeline.spec.published import published
from tests.batch_builder import base, plant_defects, write_batch

ROOT = Path(__file__).resolve().parents[2]
N = [date(2026, 8, 1), date(2026, 8, 22), date(2026, 11, 2), date(2026, 11, 4),
     date(2026, 11, 9), date(2026, 11, 13), date(2026, 11, 20)]
NIGHTS: dict[str, set[int]] = {  # defect -> the nights (1-7) that have it
    "D": {1}, "B": {3, 4}, "C": {3, 5, 6}, "E": {4, 5, 6, 7}, "R3": {3, 4, 7}, "R4": {4, 5, 6},
    "P": {3, 4, 5}, "F": {4},
}
FLAG = "referrals.previous_referrals_checked.invalid_flag"
D1, D2, D3, D4, D5, D6, D7 = N


def _night(landing: Path, night: int) -> Path:
    has = {d for d, nights in NIGHTS.items() if night in nights}
    data = base()
    plant_defects(data, has & {"B", "C", "D", "E"})
    for rid in ("R3", "R4"):  # copies of R1 that nothing refers to
        data["referrals"].append(dict(data["referrals"][0], referral_id=rid,
                                      previous_referrals_checked="MAYBE" if rid in has else "Y"))
    if "P" in has:
        data["persons"][0]["ethnicity"] = ""
    if "F" in has:
        data["cin_reviews"] = []
    return write_batch(landing, data, as_of=N[night - 1])


def _publish(db_url: str, tmp_path: Path) -> sa.Engine:
    codes = [run_path(_night(tmp_path / "landing", n), db_url).exit_code for n in range(1, 8)]
    assert codes == [0, 0, 0, 3, 0, 0, 0]  # night 4: a file missing
    engine = make_engine(db_url)
    with engine.connect() as conn:
        assert [as_date(d) for d in conn.execute(
            sa.text("SELECT as_of FROM batch ORDER BY as_of")).scalars()] == N
    return engine


# extract, record_id, rule_id, column_name, severity, child_id, team_id,
# first_seen, last_seen, resolved_in, days_to_fix, batches
EPISODES = [
    ("cin_reviews", "V2", "cin_reviews.progress_recorded.invalid_flag", "progress_recorded",
     "error", "000101", None, D1, D1, D2, 21, 1),
    ("fit_referrals", "FR1", "fit_referrals.tasks_outcomes_defined.invalid_flag",
     "tasks_outcomes_defined", "error", "000101", "T1", D3, D4, D5, 7, 2),
    ("cp_conferences", "K1|000102", "cp_conferences.conference_date.weekend",
     "conference_date", "warning", "000102", "T1", D3, D3, D4, 2, 1),
    ("cp_conferences", "K1|000102", "cp_conferences.conference_date.weekend",
     "conference_date", "warning", "000102", "T1", D5, D6, D7, 11, 2),
    ("cp_plans", "P1", "cp_plans.category.unknown_code", "category", "error", "000102", "T1",
     D4, D7, None, None, 4),
    ("referrals", "R3", FLAG, "previous_referrals_checked", "error", "000101", "T2",
     D3, D4, D5, 7, 2),
    ("referrals", "R3", FLAG, "previous_referrals_checked", "error", "000101", "T2",
     D7, D7, None, None, 1),
    ("referrals", "R4", FLAG, "previous_referrals_checked", "error", "000101", "T2",
     D4, D6, D7, 16, 3),
    ("persons", "000101", "persons.ethnicity.missing_for_child", "ethnicity", "warning",
     "000101", None, D3, D5, D6, 11, 3),
    ("cin_reviews.csv", None, "cin_reviews.file_missing", None, "file_error", None, None,
     D4, D4, D5, 5, 1),
]


def _key(row: tuple[Any, ...]) -> tuple[str, ...]:
    return tuple("" if v is None else str(v) for v in row)


def _episodes(engine: sa.Engine) -> list[tuple[Any, ...]]:
    view = published()["dq_issue_episode"]
    names = view.column_names()
    with engine.connect() as conn:
        rows = conn.execute(sa.text(f"SELECT {', '.join(names)} FROM dq_issue_episode")).all()
    out = []
    for r in rows:
        values = []
        for name, v in zip(names, r, strict=True):
            kind = view.columns[name].type
            values.append(None if v is None else as_date(v) if kind == "date"
                          else int(v) if kind == "int" else v)
        out.append(tuple(values))
    return sorted(out, key=_key)


def _section_rows(html: str, sid: str) -> list[list[str]]:
    section = re.search(rf'<section id="{sid}">(.*?)</section>', html, re.S)
    assert section is not None
    body = section.group(1).split("<tbody>")[1].split("</tbody>")[0]
    return [[re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)]
            for tr in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)]


def _documented_query() -> str:
    text = (ROOT / "docs" / "officers.md").read_text(encoding="utf-8")
    queries = [q for q in re.findall(r"```sql\n(.*?)```", text, re.S)
               if "FROM dq_issue_episode" in q]
    assert len(queries) == 1
    return queries[0]


def fix(team: str | None, resolved: int, median: float | None, still_open: int
      ) -> TeamTimeToFix:
    return TeamTimeToFix(team_id=team, resolved=resolved, median_days=median,
                         still_open=still_open)


def test_episodes_time_to_fix_report_and_documented_query(db_url: str,
                                                           tmp_path: Path) -> None:
    engine = _publish(db_url, tmp_path)
    assert _episodes(engine) == sorted(EPISODES, key=_key)
    _check_time_to_fix(engine)
    _check_report(engine)
    _check_documented_query(engine)


def _check_time_to_fix(engine: sa.Engine) -> None:
    # every resolution: T1 2, 7, 11 | T2 7, 16 | no team 5, 11, 21; open: E (T1), R3 (T2)
    assert load_time_to_fix(engine) == [fix("T1", 3, 7.0, 1), fix("T2", 2, 11.5, 1),
                                        fix(None, 3, 11.0, 0)]
    # resolved on nights 6 and 7 (both ends of the window included)
    assert load_time_to_fix(engine, since=D6, until=D7) == [
        fix("T1", 1, 11.0, 1), fix("T2", 1, 16.0, 1), fix(None, 1, 11.0, 0)]
    # resolved up to night 5: T1 C (2) and B (7); T2 R3 (7); no team D (21) and F (5)
    assert load_time_to_fix(engine, until=D5) == [
        fix("T1", 2, 4.5, 1), fix("T2", 1, 7.0, 1), fix(None, 2, 13.0, 0)]
    # night 4 only: T1's first C; T2 has only its open episode; no team has neither
    assert load_time_to_fix(engine, since=D4, until=D4) == [fix("T1", 1, 2.0, 1),
                                                            fix("T2", 0, None, 1)]


def _check_report(engine: sa.Engine) -> None:
    data = gather(engine)
    assert data.fix_since == date(2026, 8, 23)  # 2026-11-20 and the 89 days before it
    html = render(data)
    assert 'href="#time-to-fix"' in html
    assert "Time to fix, per team" in html
    assert "from 2026-08-23 to 2026-11-20 (the last 90 days)" in html
    # D, resolved on 2026-08-22, is left out: no team has F (5) and P (11) -> 8
    assert _section_rows(html, "time-to-fix") == [
        ["T1", "Tîm Maes, Gogledd", "3", "7", "1"],
        ["T2", "Front door", "2", "11.5", "1"],
        ["—", "(no team)", "2", "8", "0"],
    ]


def _check_documented_query(engine: sa.Engine) -> None:
    """docs/officers.md's query, as written: October to December 2026 leaves D out."""
    with engine.connect() as conn:
        rows = conn.execute(sa.text(_documented_query())).all()
    got = {team: (int(fixes), float(median), int(longest))
           for team, fixes, median, longest in rows}
    assert got == {"T1": (3, 7.0, 11), "T2": (2, 11.5, 16), "(no team)": (2, 8.0, 11)}
    by_library = load_time_to_fix(engine, since=date(2026, 10, 1), until=date(2026, 12, 31))
    assert {t.team_id or "(no team)": (t.resolved, t.median_days) for t in by_library} == {
        k: v[:2] for k, v in got.items()}
