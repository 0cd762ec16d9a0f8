"""The nights mode's targets table (benchmarks/nights_mode.py): measured numbers in, one row
per target of issue 15 point 6 out, each met, not met or not measured."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import nights_mode as nm  # noqa: E402

MIB = 2**20


def verdicts(rows: list[nm.Target]) -> dict[str, bool | None]:
    return {r.what: r.met for r in rows}


def test_each_target_met_or_not_at_its_limit() -> None:
    dbs = {
        # next night exactly 10 x floor, publish exactly 10 %, first 25 x, size 1.3 x: all met
        "sqlite": nm.DbNights(first_e2e=25.0, first_publish=10.0, next_e2e=20.0,
                              next_publish=1.0, size_first=100 * MIB, size_last=130 * MIB),
        # just over each limit: none met
        "postgresql": nm.DbNights(first_e2e=25.1, first_publish=10.0, next_e2e=20.1,
                                  next_publish=1.01, size_first=100 * MIB,
                                  size_last=131 * MIB),
    }
    rows = nm.targets(dbs, floor_first=1.0, floor_next=2.0, peak_rss_mib=3 * 1024)
    assert verdicts(rows) == {
        "next night end to end, SQLite": True,
        "next night end to end, PostgreSQL": False,
        "next night publish, SQLite": True,
        "next night publish, PostgreSQL": False,
        "first night end to end (empty database), SQLite": True,
        "first night end to end (empty database), PostgreSQL": False,
        "peak memory (highest peak RSS of every night, every database)": True,
        "database size after the last night, SQLite": True,
        "database size after the last night, PostgreSQL": False,
    }
    by = {r.what: r for r in rows}
    assert by["next night end to end, SQLite"].measured.startswith("20.00 s = 10.0 × floor")
    assert by["next night publish, PostgreSQL"].measured.startswith("1.01 s = 10% ")
    assert by["database size after the last night, PostgreSQL"].measured.startswith(
        "131.0 MiB = 1.31 ×")


def test_missing_measures_are_not_measured_never_met() -> None:
    rows = nm.targets({"sqlite": nm.DbNights()}, floor_first=None, floor_next=0.0,
                      peak_rss_mib=None)
    assert [r.met for r in rows] == [None] * 5
    assert all(r.verdict == "not measured" for r in rows)
    assert len(nm.targets_table(rows)) == 2 + 5


def test_db_nights_from_runs() -> None:
    def night(wall: float, publish: float, size: int) -> dict[str, object]:
        return {"wall": wall, "steps": {"stage": 0.5, "publish": publish}, "db_bytes": size,
                "peak_rss_mib": 100.0}

    runs = [night(5.0, 2.0, 10), night(3.0, 0.5, 12), night(3.1, 0.4, 13)]
    m = nm.db_nights(runs)
    assert m == nm.DbNights(first_e2e=5.0, first_publish=2.0, next_e2e=3.0,
                            next_publish=0.5, size_first=10, size_last=13)
    # a failed night: no size after the last night (the run did not get there)
    failed = nm.db_nights([*runs[:2], {"error": "exit 1"}])
    assert failed.size_last is None and failed.next_e2e == 3.0
    assert nm.peak_of({"sqlite": runs, "postgresql": [{"error": "x"}]}) == 100.0
