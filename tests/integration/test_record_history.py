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
        # every drill-through case names the version of its record that held on its as_of
        cases = conn.execute(sa.text(
            "SELECT c.extract, c.record_id, c.version_id, c.as_of FROM indicator_case c")).all()
        assert cases
        for extract, record_id, version_id, as_of in cases:
            held = conn.execute(sa.text(
                f"SELECT version_id FROM {extract}_history WHERE record_id = :r "  # noqa: S608
                "AND valid_from <= :d AND (valid_to IS NULL OR valid_to > :d)"),
                {"r": record_id, "d": _d(as_of)}).scalar_one()
            assert version_id == held, (extract, record_id)
    assert teams == {"T1": ("a1", D23, D26), "T2": ("b2", D23, D26), "T3": ("c", D23, D26),
                     "T4": ("d", D23, D26), "T5": ("e", D24, D25)}
    engine.dispose()
