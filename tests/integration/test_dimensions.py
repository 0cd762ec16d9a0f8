"""dim_date and indicator_value.fraction in the reporting database (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import sqlalchemy as sa

from qa_pipeline.load.db import as_date, make_engine
from qa_pipeline.ops.job import run_path
from qa_pipeline.ops.settings import Settings
from tests.batch_builder import base, write_batch


def test_dim_date_and_fraction(db_url: str, tmp_path: Path) -> None:
    batch = write_batch(tmp_path / "landing", base())
    assert run_path(batch, db_url).exit_code == 0
    engine = make_engine(db_url)
    with engine.connect() as conn:
        n, first, last = conn.execute(sa.text(
            "SELECT COUNT(*), MIN(date), MAX(date) FROM dim_date")).one()
        day = conn.execute(sa.text(
            "SELECT weekday, is_working_day, bank_holiday, quarter_label, year_start "
            "FROM dim_date WHERE date = :d"), {"d": date(2010, 12, 27)}).one()
        ref01 = conn.execute(sa.text(
            "SELECT value, fraction FROM indicator_value_latest WHERE indicator_code = 'REF01' "
            "AND period_type = 'year' AND breakdown = 'all'")).one()
    assert (n, as_date(first), as_date(last)) == (14_976, date(2000, 1, 1), date(2040, 12, 31))
    assert (day[0], bool(day[1]), day[2], day[3], as_date(day[4])) == (
        1, False, "Christmas Day (observed)", "2010-11 Q3", date(2010, 4, 1))
    assert tuple(ref01) == (100.0, 1.0)  # R1 and R2 both decided within a working day

    # A site's own range: the next publish refills the dimension.
    settings = Settings(dim_date_first=date(2013, 1, 1), dim_date_last=date(2013, 12, 31))
    assert run_path(batch, db_url, settings=settings).exit_code == 0
    with engine.connect() as conn:
        n, working = conn.execute(sa.text(
            "SELECT COUNT(*), SUM(CASE WHEN is_working_day THEN 1 ELSE 0 END) FROM dim_date")
        ).one()
    assert (n, working) == (365, 253)
    engine.dispose()
