"""Record history (reporting-db.md 1.1) over four nights published out of order, worked by
hand, on SQLite and PostgreSQL: changes, a deletion, a return, a quarantined row kept open, a
missing file kept open, a late batch placed in date order, re-runs that change nothing.

The teams of the nights (T1, T2 are referenced by the other extracts and stay; T3-T5 are not):

| team | 11-23 | 11-24 | 11-25 (published last) | 11-26 |
|---|---|---|---|---|
| T1 | a | a | a | a1 |
| T2 | b | b2 | b2 | b2 |
| T3 | c | (deleted) | c (returns) | c |
| T4 | d | d | bad service_area: quarantined | d |
| T5 | - | e (new) | e | (deleted) |

fit_referrals.csv is missing on 11-24 (FR1 stays open). On time, the versions are:
T1 a [23, 26), a1 [26, -); T2 b [23, 24), b2 [24, -); T3 c [23, 24), c [25, -);
T4 d [23, -); T5 e [24, 26); FR1 [23, -).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from qa_pipeline.load.db import make_engine, upgrade
from qa_pipeline.ops.job import run_one_batch
from tests.batch_builder import base, write_batch

D23, D24, D25, D26 = (date(2026, 11, d) for d in (23, 24, 25, 26))
NAMES = {"T1": "a", "T2": "b", "T3": "c", "T4": "d", "T5": "e"}


def _team(team_id: str, name: str, area: str = "FIELDWORK") -> dict[str, str]:
    return {"team_id": team_id, "team_name": name, "service_area": area}


def _night(day: date) -> dict[str, list[dict[str, str]]]:
    data = base()
    teams = {
        D23: [_team("T1", "a"), _team("T2", "b"), _team("T3", "c"), _team("T4", "d")],
        D24: [_team("T1", "a"), _team("T2", "b2"), _team("T4", "d"), _team("T5", "e")],
        D25: [_team("T1", "a"), _team("T2", "b2"), _team("T3", "c"),
              _team("T4", "d", "NOT_A_SERVICE"), _team("T5", "e")],
        D26: [_team("T1", "a1"), _team("T2", "b2"), _team("T3", "c"), _team("T4", "d")],
    }[day]
    data["teams"] = teams
    if day == D25:  # the late night also says R1 came from elsewhere that night only
        data["referrals"][0]["referral_source"] = "HEALTH"
    if day == D24:
        data["fit_referrals"] = []  # not written: the file is missing that night
    return data


EXPECTED = sorted([
    ("T1", "a", D23, D26), ("T1", "a1", D26, None),
    ("T2", "b", D23, D24), ("T2", "b2", D24, None),
    ("T3", "c", D23, D24), ("T3", "c", D25, None),
    ("T4", "d", D23, None),
    ("T5", "e", D24, D26),
], key=repr)


def _versions(engine: sa.Engine, table: str = "teams_history") -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            f"SELECT record_id, {'team_name' if table == 'teams_history' else 'child_id'}, "
            f"valid_from, valid_to FROM {table}")).all()
    return sorted(((r[0], r[1], _d(r[2]), _d(r[3])) for r in rows), key=repr)


def _d(v: object) -> date | None:
    return None if v is None else v if isinstance(v, date) else date.fromisoformat(str(v))


def _as_at(engine: sa.Engine, day: date) -> dict[str, str]:
    """The teams as they stood on `day` (the spec's as-at query)."""
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT team_id, team_name FROM teams_history WHERE valid_from <= :d "
            "AND (valid_to IS NULL OR valid_to > :d)"), {"d": day}).all()
    return dict(rows)


@pytest.fixture
def nights(tmp_path: Path) -> dict[date, Path]:
    return {d: write_batch(tmp_path / "landing", _night(d), as_of=d) for d in (D23, D24, D25, D26)}


def _run(folder: Path, engine: sa.Engine) -> None:
    result = run_one_batch(folder, engine)
    assert result.outcome is not None and result.outcome.status != "failed", result.error


def test_history_over_four_nights_with_a_late_batch(db_url: str, nights: dict[date, Path]
                                                    ) -> None:
    engine = make_engine(db_url)
    upgrade(engine)
    for d in (D23, D24, D26):
        _run(nights[d], engine)
    # before the late batch: T3 came back on 11-26, T4 was never quarantined
    before = _versions(engine)
    assert ("T3", "c", D26, None) in before and ("T4", "d", D23, None) in before

    _run(nights[D25], engine)  # late: older than the latest published batch
    assert _versions(engine) == EXPECTED

    # the as-at query for each night equals that night's batch (T4's quarantined row on 11-25
    # is unknown, not absent: its last loaded version stands)
    for d in (D23, D24, D25, D26):
        delivered = {t["team_id"]: t["team_name"] for t in _night(d)["teams"]}
        assert _as_at(engine, d) == delivered, d
    # _current is the last night; stg_teams the current records with the latest as_of
    with engine.connect() as conn:
        current = dict(conn.execute(sa.text(
            "SELECT team_id, team_name FROM teams_current")).all())
        staged = conn.execute(sa.text("SELECT as_of, team_id FROM stg_teams")).all()
        carried = conn.execute(sa.text(
            "SELECT as_of, extract, record_id FROM history_carried")).all()
    assert current == {"T1": "a1", "T2": "b2", "T3": "c", "T4": "d"}
    assert {(_d(a), t) for a, t in staged} == {(D26, t) for t in current}
    assert [(_d(a), e, r) for a, e, r in carried] == [(D25, "teams", "T4")]
    # the file missing on 11-24 kept FR1 open
    assert _versions(engine, "fit_referrals_history") == [("FR1", "000101", D23, None)]

    # re-runs (the late batch, then the newest) leave the history as one run would
    ids = _ids(engine)
    _run(nights[D25], engine)
    _run(nights[D26], engine)
    assert _versions(engine) == EXPECTED
    assert _ids(engine) == ids
    engine.dispose()


def _ids(engine: sa.Engine) -> dict[tuple[str, object], int]:
    with engine.connect() as conn:
        return {(r[0], str(r[1])): r[2] for r in conn.execute(sa.text(
            "SELECT record_id, valid_from, version_id FROM teams_history"))}


def test_in_date_order_equals_out_of_order(tmp_path: Path, db_url: str,
                                           nights: dict[date, Path]) -> None:
    """Publishing the four nights on time gives the same intervals as the late arrival."""
    engine = make_engine(db_url)
    upgrade(engine)
    for d in (D23, D24, D25, D26):
        _run(nights[d], engine)
    assert _versions(engine) == EXPECTED
    engine.dispose()


def test_dim_team_and_drill_through_versions(db_url: str, nights: dict[date, Path]) -> None:
    engine = make_engine(db_url)
    upgrade(engine)
    for d in (D23, D24, D26, D25):
        _run(nights[d], engine)
    with engine.connect() as conn:
        teams = {r[0]: (r[1], _d(r[2]), _d(r[3])) for r in conn.execute(sa.text(
            "SELECT team_id, team_name, first_seen, last_seen FROM dim_team"))}
        # every drill-through case (computed from the latest batch, 11-26) names the version
        # of its record that holds on that date, R1's too, although the late 11-25 split it
        cases = conn.execute(sa.text(
            "SELECT extract, record_id, version_id FROM indicator_case_latest")).all()
        assert cases and any(r == "R1" for _, r, _ in cases)
        for extract, record_id, version_id in cases:
            held = conn.execute(sa.text(
                f"SELECT version_id FROM {extract}_history WHERE record_id = :r "  # noqa: S608
                "AND valid_from <= :d AND (valid_to IS NULL OR valid_to > :d)"),
                {"r": record_id, "d": D26}).scalar_one()
            assert version_id == held, (extract, record_id)
        r1 = conn.execute(sa.text("SELECT valid_from, valid_to FROM referrals_history "
                                  "WHERE record_id = 'R1'")).all()
    assert sorted((_d(a), _d(b)) for a, b in r1) == [(D23, D25), (D25, D26), (D26, None)]
    assert teams == {"T1": ("a1", D23, D26), "T2": ("b2", D23, D26), "T3": ("c", D23, D26),
                     "T4": ("d", D23, D26), "T5": ("e", D24, D25)}
    engine.dispose()


def _attendance(role: str, person: str, attended: str) -> dict[str, str]:
    return {"conference_id": "K1", "child_id": "000102", "attendee_role": role,
            "person_id": person, "invited": "Y", "attended": attended,
            "report_submitted": "N"}


def _attendance_versions(engine: sa.Engine) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT record_id, occurrence, attended, valid_from, valid_to "
            "FROM conference_attendance_history")).all()
    return sorted(((r[0], r[1], r[2], _d(r[3]), _d(r[4])) for r in rows), key=repr)


def test_rows_of_a_key_that_is_not_unique(db_url: str, tmp_path: Path) -> None:
    """conference_attendance: two social workers without a person_id share a key. An added
    row does not renumber the others; a quarantined one keeps the key's versions open; a
    code delivered in lower case (`mother`) is the same record as `MOTHER`."""
    sw = "K1|000102|SOCIAL_WORKER|"
    mother = "K1|000102|MOTHER|000202"
    nights = {
        D23: [_attendance("mother", "000202", "Y"), _attendance("SOCIAL_WORKER", "", "Y")],
        D24: [_attendance("MOTHER", "000202", "Y"), _attendance("SOCIAL_WORKER", "", "Y"),
              _attendance("SOCIAL_WORKER", "", "N")],  # a second worker, sorting first
        D25: [_attendance("mother", "000202", "maybe"),  # quarantined: invalid flag
              _attendance("SOCIAL_WORKER", "", "Y"), _attendance("SOCIAL_WORKER", "", "X")],
    }
    engine = make_engine(db_url)
    upgrade(engine)
    for d, rows in nights.items():
        data = base()
        data["conference_attendance"] = rows
        _run(write_batch(tmp_path / "landing", data, as_of=d), engine)
    assert _attendance_versions(engine) == sorted([
        (mother, 1, "Y", D23, None),  # never closed: lower case on 11-23, quarantined 11-25
        (sw, 1, "Y", D23, None),  # the first worker keeps number 1 throughout
        (sw, 2, "N", D24, None),  # the second: added 11-24, its key kept open on 11-25
    ], key=repr)
    engine.dispose()


def test_first_publish_after_the_upgrade_ignores_the_nights_before_the_history(
        db_url: str, nights: dict[date, Path]) -> None:
    """Batches published before migration 0008 are not in the history (batch.in_history
    false): a redelivery of one of them, first, must not read the later ones as absent."""
    engine = make_engine(db_url)
    upgrade(engine)
    for d in (D23, D24, D26):
        _run(nights[d], engine)
    with engine.begin() as conn:  # the state the upgrade leaves: batches, no history
        conn.execute(sa.text("UPDATE batch SET in_history = :f"), {"f": False})
        for table in sa.inspect(engine).get_table_names():
            if table.endswith("_history") or table == "history_carried":
                conn.execute(sa.text(f"DELETE FROM {table}"))  # noqa: S608
    _run(nights[D24], engine)  # redelivered: the history begins with it
    _run(nights[D26], engine)
    assert [v for v in _versions(engine) if v[0] in ("T1", "T3")] == [
        ("T1", "a", D24, D26), ("T1", "a1", D26, None), ("T3", "c", D26, None)]
    engine.dispose()
