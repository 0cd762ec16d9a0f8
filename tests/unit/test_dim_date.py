"""The calendar dimension and indicator_value.fraction (reporting-db.md 1.1), worked by hand."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from qa_pipeline.ops.settings import Settings
from qa_pipeline.transform.calendar import calendar_frame
from qa_pipeline.transform.indicators import BY_CODE, COMPACT_CASE_SCHEMA, values


def test_calendar_days_around_a_christmas_on_a_weekend() -> None:
    rows = {r["date"]: r for r in calendar_frame(date(2010, 12, 24), date(2010, 12, 28)
                                                 ).to_dicts()}
    assert list(rows) == [date(2010, 12, d) for d in range(24, 29)]
    # Fri 24: a working day; Sat 25 and Sun 26: Christmas and Boxing Day on a weekend;
    # Mon 27 and Tue 28: their substitute days.
    assert [(r["weekday"], r["is_working_day"], r["bank_holiday"]) for r in rows.values()] == [
        (5, True, None), (6, False, "Christmas Day"), (7, False, "Boxing Day"),
        (1, False, "Christmas Day (observed)"), (2, False, "Boxing Day (observed)")]
    r = rows[date(2010, 12, 27)]
    assert (r["month_label"], r["quarter_label"], r["year_label"]) == (
        "2010-12", "2010-11 Q3", "2010-11")
    assert (r["month_start"], r["quarter_start"], r["year_start"]) == (
        date(2010, 12, 1), date(2010, 10, 1), date(2010, 4, 1))


def test_calendar_year_end_and_size() -> None:
    f = calendar_frame(date(2014, 3, 31), date(2014, 4, 1))
    assert f.select("quarter_label", "year_label", "quarter_start", "year_start").rows() == [
        ("2013-14 Q4", "2013-14", date(2014, 1, 1), date(2013, 4, 1)),
        ("2014-15 Q1", "2014-15", date(2014, 4, 1), date(2014, 4, 1))]
    full = calendar_frame(date(2000, 1, 1), date(2040, 12, 31))
    assert full.height == 14_976 and full["date"].is_unique().all()
    # 2013: 365 days, 261 weekdays, 8 bank holidays on weekdays.
    y2013 = full.filter(pl.col("date").dt.year() == 2013)
    assert y2013["is_working_day"].sum() == 261 - 8


def test_a_range_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(ValueError, match="dim_date_first"):
        Settings(dim_date_first=date(2041, 1, 1))


def test_fraction_is_the_share_for_a_rate_and_null_for_a_median() -> None:
    compact = pl.DataFrame({
        "indicator_code": ["X"] * 3, "record_id": ["a", "b", "c"], "child_id": ["1", "2", "3"],
        "team_id": ["T1"] * 3, "in_numerator": [True, False, True],
        "measure": [2.0, 5.0, 9.0], "event_date": [date(2024, 5, 2)] * 3,
        "month": ["2024-05"] * 3, "quarter": ["2024-25 Q1"] * 3, "year": ["2024-25"] * 3,
        "excluded_reason": [None, None, None]}, schema=COMPACT_CASE_SCHEMA)
    rate = values(BY_CODE["REF01"], compact).filter(pl.col("breakdown") == "all")
    assert rate["value"].to_list() == pytest.approx([200 / 3] * 3)
    assert rate["fraction"].to_list() == [v / 100 for v in rate["value"]]  # value / 100
    assert rate["fraction"].to_list() == pytest.approx([2 / 3] * 3)
    median = values(BY_CODE["ASM04"], compact).filter(pl.col("breakdown") == "all")
    assert median["value"].to_list() == [5.0] * 3 and median["fraction"].null_count() == 3
