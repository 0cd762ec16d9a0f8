"""Tests for qa_pipeline.transform.calendar against indicators.md, "Common definitions".

Every expected value below was worked out by hand from a printed calendar and the gov.uk list
of bank holidays; the comment next to each case shows the working.
"""

from __future__ import annotations

import calendar as pycal
import random
from datetime import date, timedelta

import holidays as holidays_pkg
import numpy as np
import polars as pl
import pytest

from qa_pipeline.transform.calendar import (
    PERIOD_TYPES,
    add_months,
    bank_holidays,
    period_date,
    period_end,
    period_label,
    period_start,
    periods_between,
    working_days,
    working_days_between,
)

D = date
HOLIDAYS = bank_holidays(1998, 2025)


def wd(a: date | None, b: date | None, hol: list[date] | None = None) -> int | None:
    frame = pl.DataFrame({"a": [a], "b": [b]}, schema={"a": pl.Date, "b": pl.Date})
    out = frame.select(
        working_days(pl.col("a"), pl.col("b"), HOLIDAYS if hol is None else hol)
    ).item()
    return None if out is None else int(out)


def one(expr: pl.Expr, d: date | None) -> object:
    return pl.DataFrame({"d": [d]}, schema={"d": pl.Date}).select(expr).item()


# --------------------------------------------------------------------------------------------
# bank_holidays
# --------------------------------------------------------------------------------------------


def test_bank_holidays_2013_full_list() -> None:
    # gov.uk, England and Wales 2013: New Year, Good Friday 29 Mar, Easter Monday 1 Apr,
    # early May 6 May, spring 27 May, summer 26 Aug, Christmas 25 Dec (Wed), Boxing 26 Dec (Thu).
    assert bank_holidays(2013, 2013) == [
        D(2013, 1, 1),
        D(2013, 3, 29),
        D(2013, 4, 1),
        D(2013, 5, 6),
        D(2013, 5, 27),
        D(2013, 8, 26),
        D(2013, 12, 25),
        D(2013, 12, 26),
    ]


def test_bank_holidays_2011_full_list_with_royal_wedding_and_substitutes() -> None:
    # 1 Jan 2011 is a Saturday -> Mon 3 Jan; royal wedding Fri 29 Apr; Christmas Sunday ->
    # Boxing Day Mon 26 Dec and Christmas substitute Tue 27 Dec.
    assert bank_holidays(2011, 2011) == [
        D(2011, 1, 3),
        D(2011, 4, 22),
        D(2011, 4, 25),
        D(2011, 4, 29),
        D(2011, 5, 2),
        D(2011, 5, 30),
        D(2011, 8, 29),
        D(2011, 12, 26),
        D(2011, 12, 27),
    ]


@pytest.mark.parametrize(
    ("year", "present", "absent"),
    [
        # Christmas Sat, Boxing Day Sun -> substitutes Mon 27 and Tue 28.
        (2010, [D(2010, 12, 27), D(2010, 12, 28)], [D(2010, 12, 25), D(2010, 12, 26)]),
        # Christmas Fri, Boxing Day Sat -> substitute Mon 28.
        (2015, [D(2015, 12, 25), D(2015, 12, 28)], [D(2015, 12, 26), D(2015, 12, 29)]),
        # Christmas Sun -> Boxing Day Mon 26, Christmas substitute Tue 27.
        (2016, [D(2016, 12, 26), D(2016, 12, 27)], [D(2016, 12, 25), D(2016, 12, 28)]),
        (2021, [D(2021, 12, 27), D(2021, 12, 28)], [D(2021, 12, 25), D(2021, 12, 29)]),
        (2022, [D(2022, 12, 26), D(2022, 12, 27)], [D(2022, 12, 25)]),
        # New Year's Day Sat 1 Jan 2022 -> Mon 3 Jan; Sun 1 Jan 2023 -> Mon 2 Jan.
        (2022, [D(2022, 1, 3)], [D(2022, 1, 1)]),
        (2023, [D(2023, 1, 2)], [D(2023, 1, 1)]),
        # Easter 2013: Good Friday 29 Mar, Easter Monday 1 Apr (Easter Sunday not listed).
        (2013, [D(2013, 3, 29), D(2013, 4, 1)], [D(2013, 3, 31)]),
        # Easter 2014: 18 and 21 April; Easter 2016: 25 and 28 March.
        (2014, [D(2014, 4, 18), D(2014, 4, 21)], []),
        (2016, [D(2016, 3, 25), D(2016, 3, 28)], []),
        # 2012: spring bank holiday moved from Mon 28 May to Mon 4 Jun, Diamond Jubilee Tue
        # 5 Jun.
        (2012, [D(2012, 6, 4), D(2012, 6, 5)], [D(2012, 5, 28)]),
        # 2022: spring bank holiday moved to Thu 2 Jun, Platinum Jubilee Fri 3 Jun; 30 May is
        # an ordinary Monday; the Queen's state funeral Mon 19 Sep.
        (2022, [D(2022, 6, 2), D(2022, 6, 3), D(2022, 9, 19)], [D(2022, 5, 30)]),
        # 2023: Coronation of Charles III, Mon 8 May (besides early May Mon 1 May).
        (2023, [D(2023, 5, 1), D(2023, 5, 8)], []),
        # 2020: early May bank holiday moved to Fri 8 May (VE Day 75).
        (2020, [D(2020, 5, 8)], [D(2020, 5, 4)]),
        # 1999: Millennium holiday Fri 31 Dec; 2000: New Year substitute Mon 3 Jan.
        (1999, [D(1999, 12, 31)], []),
        (2000, [D(2000, 1, 3)], [D(2000, 1, 1)]),
    ],
)
def test_bank_holidays_special_cases(year: int, present: list[date], absent: list[date]) -> None:
    days = set(bank_holidays(year, year))
    for d in present:
        assert d in days, d
    for d in absent:
        assert d not in days, d


def test_bank_holidays_only_weekdays_sorted_and_ranges_compose() -> None:
    many = bank_holidays(2009, 2024)
    assert all(d.weekday() < 5 for d in many)
    assert many == sorted(set(many))
    assert many == [d for y in range(2009, 2025) for d in bank_holidays(y, y)]
    assert {d.year for d in many} == set(range(2009, 2025))
    assert bank_holidays(2014, 2013) == []


def test_bank_holidays_returns_a_fresh_list() -> None:
    first = bank_holidays(2013, 2013)
    first.clear()
    assert len(bank_holidays(2013, 2013)) == 8


def test_holidays_package_naming_of_substitute_days() -> None:
    # A canary for package upgrades: the package names substitute days "... (observed)", and
    # in 2012 it calls 4 Jun the spring bank holiday and 5 Jun the Diamond Jubilee (as gov.uk).
    cal = holidays_pkg.country_holidays("GB", subdiv="WLS", years=[2010, 2012])
    assert cal.get(D(2010, 12, 27)) == "Christmas Day (observed)"
    assert cal.get(D(2010, 12, 28)) == "Boxing Day (observed)"
    assert cal.get(D(2012, 6, 4)) == "Spring Bank Holiday"
    assert "Jubilee" in str(cal.get(D(2012, 6, 5)))


# --------------------------------------------------------------------------------------------
# working_days
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        # Spec examples.
        (D(2013, 6, 5), D(2013, 6, 5), 0),  # same day
        (D(2013, 6, 7), D(2013, 6, 10), 1),  # Fri -> next Mon
        (D(2013, 12, 24), D(2013, 12, 27), 1),  # Tue -> Fri over 25/26 Dec
        (D(2013, 6, 8), D(2013, 6, 10), 1),  # Sat -> Mon
        # Weekends.
        (D(2013, 6, 9), D(2013, 6, 10), 1),  # Sun -> Mon
        (D(2013, 6, 8), D(2013, 6, 9), 0),  # Sat -> Sun
        (D(2013, 6, 7), D(2013, 6, 8), 0),  # Fri -> Sat
        (D(2013, 6, 7), D(2013, 6, 9), 0),  # Fri -> Sun
        (D(2013, 6, 8), D(2013, 6, 8), 0),  # same Saturday
        (D(2013, 6, 3), D(2013, 6, 4), 1),  # Mon -> Tue
        (D(2013, 6, 3), D(2013, 6, 10), 5),  # Mon -> next Mon: Tue..Fri + Mon
        (D(2013, 6, 3), D(2013, 6, 17), 10),  # two whole weeks
        (D(2013, 12, 25), D(2013, 12, 25), 0),  # same day, a holiday
        (D(2013, 12, 24), D(2013, 12, 26), 0),  # only holidays in (a, b]
        (D(2013, 12, 25), D(2013, 12, 27), 1),  # from a holiday
        # Christmas falling on a weekend (substitute days).
        (D(2010, 12, 24), D(2010, 12, 29), 1),  # Sat, Sun, 27 hol, 28 hol, Wed 29
        (D(2011, 12, 23), D(2011, 12, 28), 1),  # Sat, Sun, 26 hol, 27 hol, Wed 28
        (D(2015, 12, 24), D(2015, 12, 29), 1),  # 25 Fri hol, Sat, Sun, 28 hol, Tue 29
        (D(2016, 12, 23), D(2016, 12, 28), 1),  # Sat, Sun, 26 hol, 27 hol, Wed 28
        (D(2021, 12, 24), D(2021, 12, 29), 1),  # Sat, Sun, 27 hol, 28 hol, Wed 29
        (D(2022, 12, 23), D(2022, 12, 28), 1),  # Sat, Sun, 26 hol, 27 hol, Wed 28
        (D(2021, 12, 31), D(2022, 1, 4), 1),  # Sat 1 Jan, Sun, Mon 3 hol, Tue 4
        (D(2013, 12, 31), D(2014, 1, 2), 1),  # Wed 1 Jan hol, Thu 2
        (D(2010, 12, 24), D(2011, 1, 4), 4),  # 29, 30, 31 Dec; 3 Jan hol; Tue 4 Jan
        # Easter.
        (D(2013, 3, 28), D(2013, 4, 2), 1),  # GF 29 Mar, Sat, Sun, EM 1 Apr, Tue 2
        (D(2014, 4, 17), D(2014, 4, 22), 1),  # GF 18 Apr, Sat, Sun, EM 21, Tue 22
        (D(2013, 3, 29), D(2013, 4, 1), 0),  # GF -> EM: nothing working in between
        # 2012: Diamond Jubilee and the moved spring bank holiday.
        (D(2012, 6, 1), D(2012, 6, 6), 1),  # Sat, Sun, Mon 4 hol, Tue 5 hol, Wed 6
        (D(2012, 5, 25), D(2012, 5, 29), 2),  # Mon 28 May 2012 was a working day
        # 2022: Platinum Jubilee, moved spring bank holiday, the Queen's funeral.
        (D(2022, 6, 1), D(2022, 6, 6), 1),  # Thu 2 hol, Fri 3 hol, Sat, Sun, Mon 6
        (D(2022, 5, 27), D(2022, 5, 31), 2),  # Mon 30 May 2022 was a working day
        (D(2022, 9, 16), D(2022, 9, 20), 1),  # Sat, Sun, Mon 19 hol, Tue 20
        # 2023: Coronation.
        (D(2023, 5, 5), D(2023, 5, 9), 1),  # Sat, Sun, Mon 8 hol, Tue 9
        (D(2023, 4, 28), D(2023, 5, 12), 8),  # 1 May hol, Tue-Fri 4, 8 May hol, Tue-Fri 4
        # 2020: VE Day moved the early May holiday to Fri 8 May.
        (D(2020, 5, 1), D(2020, 5, 8), 4),  # Mon 4..Thu 7 working, Fri 8 hol
        # A whole financial year: (1 Apr 2013, 31 Mar 2014] is exactly 52 weeks = 260
        # weekdays, less 6 May, 27 May, 26 Aug, 25 Dec, 26 Dec, 1 Jan = 254.
        (D(2013, 4, 1), D(2014, 3, 31), 254),
        # Negative: wd(a, b) = -wd(b, a).
        (D(2013, 12, 27), D(2013, 12, 24), -1),
        (D(2013, 6, 10), D(2013, 6, 7), -1),  # Mon -> previous Fri
        (D(2013, 6, 10), D(2013, 6, 8), -1),  # Mon -> Sat = -wd(Sat, Mon)
        (D(2013, 6, 9), D(2013, 6, 8), 0),  # Sun -> Sat
        (D(2013, 6, 10), D(2013, 6, 3), -5),
        (D(2014, 3, 31), D(2013, 4, 1), -254),
        (D(2012, 6, 6), D(2012, 6, 1), -1),
    ],
)
def test_working_days(a: date, b: date, expected: int) -> None:
    assert wd(a, b) == expected
    assert wd(b, a) == -expected


def test_working_days_nulls() -> None:
    assert wd(None, D(2013, 6, 10)) is None
    assert wd(D(2013, 6, 10), None) is None
    assert wd(None, None) is None


def test_working_days_without_holidays_counts_weekdays_only() -> None:
    assert wd(D(2013, 12, 24), D(2013, 12, 27), hol=[]) == 3


def test_working_days_tolerates_weekend_and_duplicate_holidays() -> None:
    # A caller may pass the package's raw list (with Sat 25 Dec 2010) or duplicates.
    raw = list(holidays_pkg.country_holidays("GB", subdiv="WLS", years=[2010]).keys())
    assert D(2010, 12, 25) in raw
    assert wd(D(2010, 12, 24), D(2010, 12, 29), hol=raw + raw) == 1
    assert wd(D(2010, 12, 24), D(2010, 12, 29), hol=raw) == wd(D(2010, 12, 24), D(2010, 12, 29))


def test_working_days_per_row_columns_and_lazy() -> None:
    lf = pl.LazyFrame(
        {
            "a": [D(2013, 12, 24), D(2013, 6, 7), None, D(2013, 12, 27)],
            "b": [D(2013, 12, 27), D(2013, 6, 10), D(2013, 6, 10), D(2013, 12, 24)],
        }
    )
    out = lf.select(n=working_days(pl.col("a"), pl.col("b"), HOLIDAYS)).collect()
    assert out["n"].dtype.is_integer()
    assert out["n"].to_list() == [1, 1, None, -1]


def test_working_days_against_a_literal_date() -> None:
    frame = pl.DataFrame({"a": [D(2013, 12, 20), D(2013, 12, 23)]})
    out = frame.select(working_days(pl.col("a"), pl.lit(D(2013, 12, 30)), HOLIDAYS)).to_series()
    # Fri 20 -> Mon 30: 23, 24, 27, 30 = 4; Mon 23 -> Mon 30: 24, 27, 30 = 3.
    assert out.to_list() == [4, 3]


def test_working_days_between_derives_holidays_from_the_data() -> None:
    out = working_days_between(
        [D(2013, 12, 24), D(2013, 12, 31), D(2012, 6, 1), None],
        [D(2013, 12, 27), D(2014, 1, 2), D(2012, 6, 6), D(2013, 1, 1)],
    )
    assert out.to_list() == [1, 1, 1, None]
    # Explicit list wins; all-null input gives nulls, not an error.
    assert working_days_between([D(2013, 12, 24)], [D(2013, 12, 27)], []).to_list() == [3]
    assert working_days_between([None], [None]).to_list() == [None]
    series = working_days_between(pl.Series([D(2022, 9, 16)]), pl.Series([D(2022, 9, 20)]))
    assert series.to_list() == [1]


# --------------------------------------------------------------------------------------------
# add_months
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("d", "k", "expected"),
    [
        (D(2013, 8, 31), 3, D(2013, 11, 30)),  # spec: November has 30 days
        (D(2013, 11, 30), 3, D(2014, 2, 28)),  # spec: over the year end, Feb 2014 has 28
        (D(2012, 2, 29), 12, D(2013, 2, 28)),  # 29 Feb + 1 year -> 28 Feb
        (D(2012, 2, 29), 48, D(2016, 2, 29)),  # to the next leap year keeps the 29th
        (D(2012, 1, 31), 1, D(2012, 2, 29)),  # leap February
        (D(2013, 1, 31), 1, D(2013, 2, 28)),  # ordinary February
        (D(2000, 1, 31), 1, D(2000, 2, 29)),  # 2000 was a leap year
        (D(2013, 11, 15), 3, D(2014, 2, 15)),
        (D(2013, 10, 31), 6, D(2014, 4, 30)),
        (D(2013, 12, 31), 1, D(2014, 1, 31)),
        (D(2013, 5, 17), 0, D(2013, 5, 17)),
        (D(2014, 3, 31), -12, D(2013, 3, 31)),
        (D(2013, 2, 28), -12, D(2012, 2, 28)),  # not clamped up to the 29th
        (D(2012, 2, 29), -12, D(2011, 2, 28)),
        (D(2013, 3, 31), -1, D(2013, 2, 28)),
        (D(2013, 1, 15), -1, D(2012, 12, 15)),
        (D(2013, 1, 31), -13, D(2011, 12, 31)),
        (D(2013, 5, 31), -3, D(2013, 2, 28)),
    ],
)
def test_add_months(d: date, k: int, expected: date) -> None:
    assert one(add_months(pl.col("d"), k), d) == expected


def test_add_months_per_row_k_and_nulls() -> None:
    frame = pl.DataFrame(
        {
            "d": [D(2013, 8, 31), D(2013, 8, 31), D(2014, 3, 31), None, D(2013, 1, 1)],
            "k": [3, 6, -12, 3, None],
        },
        schema={"d": pl.Date, "k": pl.Int8},  # a narrow dtype must not overflow
    )
    out = frame.select(add_months(pl.col("d"), pl.col("k"))).to_series()
    assert out.dtype == pl.Date
    assert out.to_list() == [D(2013, 11, 30), D(2014, 2, 28), D(2013, 3, 31), None, None]


def test_add_months_from_a_when_expression() -> None:
    # CPC02 style: +3 months after an INITIAL conference, +6 after a REVIEW.
    frame = pl.DataFrame(
        {"d": [D(2013, 8, 31), D(2013, 8, 31)], "kind": ["INITIAL", "REVIEW"]},
    )
    k = pl.when(pl.col("kind") == "REVIEW").then(6).otherwise(3)
    out = frame.select(add_months(pl.col("d"), k)).to_series().to_list()
    assert out == [D(2013, 11, 30), D(2014, 2, 28)]


# --------------------------------------------------------------------------------------------
# Periods
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("d", "month", "quarter", "year"),
    [
        (D(2013, 4, 15), "2013-04", "2013-14 Q1", "2013-14"),
        (D(2013, 4, 1), "2013-04", "2013-14 Q1", "2013-14"),
        (D(2013, 3, 31), "2013-03", "2012-13 Q4", "2012-13"),
        (D(2013, 6, 30), "2013-06", "2013-14 Q1", "2013-14"),
        (D(2013, 7, 1), "2013-07", "2013-14 Q2", "2013-14"),
        (D(2013, 9, 30), "2013-09", "2013-14 Q2", "2013-14"),
        (D(2013, 10, 1), "2013-10", "2013-14 Q3", "2013-14"),
        (D(2013, 12, 31), "2013-12", "2013-14 Q3", "2013-14"),
        (D(2014, 1, 1), "2014-01", "2013-14 Q4", "2013-14"),
        (D(2014, 3, 31), "2014-03", "2013-14 Q4", "2013-14"),
        (D(2014, 4, 1), "2014-04", "2014-15 Q1", "2014-15"),
        # Century boundary: the second year is two digits.
        (D(2000, 3, 15), "2000-03", "1999-00 Q4", "1999-00"),
        (D(1999, 12, 31), "1999-12", "1999-00 Q3", "1999-00"),
        (D(2000, 4, 1), "2000-04", "2000-01 Q1", "2000-01"),
        (D(2009, 4, 1), "2009-04", "2009-10 Q1", "2009-10"),
        (D(2010, 2, 1), "2010-02", "2009-10 Q4", "2009-10"),
        (D(2099, 4, 1), "2099-04", "2099-00 Q1", "2099-00"),
    ],
)
def test_period_label(d: date, month: str, quarter: str, year: str) -> None:
    assert one(period_label(pl.col("d"), "month"), d) == month
    assert one(period_label(pl.col("d"), "quarter"), d) == quarter
    assert one(period_label(pl.col("d"), "year"), d) == year


@pytest.mark.parametrize(
    ("d", "period_type", "start", "end"),
    [
        (D(2012, 2, 15), "month", D(2012, 2, 1), D(2012, 2, 29)),
        (D(2013, 2, 15), "month", D(2013, 2, 1), D(2013, 2, 28)),
        (D(2012, 2, 15), "quarter", D(2012, 1, 1), D(2012, 3, 31)),
        (D(2012, 2, 15), "year", D(2011, 4, 1), D(2012, 3, 31)),
        (D(2013, 4, 1), "quarter", D(2013, 4, 1), D(2013, 6, 30)),
        (D(2013, 8, 15), "quarter", D(2013, 7, 1), D(2013, 9, 30)),
        (D(2013, 12, 31), "quarter", D(2013, 10, 1), D(2013, 12, 31)),
        (D(2013, 8, 15), "year", D(2013, 4, 1), D(2014, 3, 31)),
        (D(2014, 3, 31), "year", D(2013, 4, 1), D(2014, 3, 31)),
        (D(2013, 3, 31), "year", D(2012, 4, 1), D(2013, 3, 31)),
    ],
)
def test_period_start_and_end(d: date, period_type: str, start: date, end: date) -> None:
    assert one(period_start(pl.col("d"), period_type), d) == start
    assert one(period_end(pl.col("d"), period_type), d) == end


def test_period_functions_null_and_bad_type() -> None:
    for t in PERIOD_TYPES:
        assert one(period_label(pl.col("d"), t), None) is None
        assert one(period_start(pl.col("d"), t), None) is None
        assert one(period_end(pl.col("d"), t), None) is None
    with pytest.raises(ValueError, match="period type"):
        period_label(pl.col("d"), "week")
    with pytest.raises(ValueError, match="period type"):
        periods_between(D(2013, 1, 1), D(2013, 2, 1), "fortnight")


def _rows(frame: pl.DataFrame) -> list[tuple[object, ...]]:
    return frame.rows()


def test_periods_between_single_day() -> None:
    got = periods_between(D(2013, 4, 1), D(2013, 4, 1), PERIOD_TYPES)
    assert got.columns == ["period_type", "period_label", "period_start", "period_end"]
    assert _rows(got) == [
        ("month", "2013-04", D(2013, 4, 1), D(2013, 4, 30)),
        ("quarter", "2013-14 Q1", D(2013, 4, 1), D(2013, 6, 30)),
        ("year", "2013-14", D(2013, 4, 1), D(2014, 3, 31)),
    ]


def test_periods_between_straddling_the_financial_year_end() -> None:
    got = periods_between(D(2013, 3, 31), D(2013, 4, 1), PERIOD_TYPES)
    assert _rows(got) == [
        ("month", "2013-03", D(2013, 3, 1), D(2013, 3, 31)),
        ("month", "2013-04", D(2013, 4, 1), D(2013, 4, 30)),
        ("quarter", "2012-13 Q4", D(2013, 1, 1), D(2013, 3, 31)),
        ("quarter", "2013-14 Q1", D(2013, 4, 1), D(2013, 6, 30)),
        ("year", "2012-13", D(2012, 4, 1), D(2013, 3, 31)),
        ("year", "2013-14", D(2013, 4, 1), D(2014, 3, 31)),
    ]


def test_periods_between_partial_months_inside_one_quarter() -> None:
    # 15 Jan -> 14 Feb 2013 touches two months, one quarter, one year.
    assert periods_between(D(2013, 1, 15), D(2013, 2, 14), "month")["period_label"].to_list() == [
        "2013-01",
        "2013-02",
    ]
    assert _rows(periods_between(D(2013, 1, 15), D(2013, 2, 14), "quarter")) == [
        ("quarter", "2012-13 Q4", D(2013, 1, 1), D(2013, 3, 31))
    ]
    assert _rows(periods_between(D(2013, 1, 15), D(2013, 2, 14), "year")) == [
        ("year", "2012-13", D(2012, 4, 1), D(2013, 3, 31))
    ]


def test_periods_between_whole_financial_year() -> None:
    months = periods_between(D(2013, 4, 1), D(2014, 3, 31), "month")
    assert months.height == 12
    assert months["period_label"][0] == "2013-04"
    assert months["period_label"][-1] == "2014-03"
    assert months.filter(pl.col("period_label") == "2014-02")["period_end"].item() == D(2014, 2, 28)
    quarters = periods_between(D(2013, 4, 1), D(2014, 3, 31), "quarter")
    assert _rows(quarters) == [
        ("quarter", "2013-14 Q1", D(2013, 4, 1), D(2013, 6, 30)),
        ("quarter", "2013-14 Q2", D(2013, 7, 1), D(2013, 9, 30)),
        ("quarter", "2013-14 Q3", D(2013, 10, 1), D(2013, 12, 31)),
        ("quarter", "2013-14 Q4", D(2014, 1, 1), D(2014, 3, 31)),
    ]
    assert periods_between(D(2013, 4, 1), D(2014, 3, 31), "year")["period_label"].to_list() == [
        "2013-14"
    ]


def test_periods_between_leap_february_and_last_day_of_a_month() -> None:
    assert _rows(periods_between(D(2012, 2, 29), D(2012, 2, 29), "month")) == [
        ("month", "2012-02", D(2012, 2, 1), D(2012, 2, 29))
    ]
    # Last day = first day of the next month: that month is included.
    assert periods_between(D(2012, 1, 31), D(2012, 3, 1), "month")["period_label"].to_list() == [
        "2012-01",
        "2012-02",
        "2012-03",
    ]


def test_periods_between_empty_and_default() -> None:
    empty = periods_between(D(2013, 4, 2), D(2013, 4, 1), PERIOD_TYPES)
    assert empty.height == 0
    assert empty.schema == pl.Schema(
        {
            "period_type": pl.String,
            "period_label": pl.String,
            "period_start": pl.Date,
            "period_end": pl.Date,
        }
    )
    assert periods_between(D(2013, 4, 1), D(2013, 4, 30))["period_type"].to_list() == ["month"]


def test_periods_between_tiles_the_range_without_gaps() -> None:
    rng = random.Random(20130401)
    for _ in range(20):
        first = D(2008, 1, 1) + timedelta(days=rng.randrange(6000))
        last = first + timedelta(days=rng.randrange(1500))
        for t in PERIOD_TYPES:
            got = periods_between(first, last, t)
            starts, ends = got["period_start"].to_list(), got["period_end"].to_list()
            assert starts[0] <= first <= ends[0]
            assert starts[-1] <= last <= ends[-1]
            for prev_end, next_start in zip(ends, starts[1:], strict=False):
                assert next_start == prev_end + timedelta(days=1)
            assert got["period_label"].n_unique() == got.height


def test_period_date() -> None:
    frame = pl.DataFrame(
        {"end": [D(2014, 3, 31), D(2013, 12, 31), D(2014, 1, 15), D(2014, 1, 16), None]},
        schema={"end": pl.Date},
    )
    out = frame.select(period_date(pl.col("end"), D(2014, 1, 15))).to_series().to_list()
    assert out == [D(2014, 1, 15), D(2013, 12, 31), D(2014, 1, 15), D(2014, 1, 15), None]


# --------------------------------------------------------------------------------------------
# Vectorised: ~1 million rows, checked against slow pure-Python references
# --------------------------------------------------------------------------------------------

_RAW_HOLIDAYS = set(holidays_pkg.country_holidays("GB", subdiv="WLS", years=range(1998, 2026)))


def ref_wd(a: date | None, b: date | None) -> int | None:
    """The spec's definition, literally: count d with a < d <= b, Mon-Fri, not a holiday."""
    if a is None or b is None:
        return None
    if a > b:
        return -(ref_wd(b, a) or 0)
    n, d = 0, a + timedelta(days=1)
    while d <= b:
        if d.weekday() < 5 and d not in _RAW_HOLIDAYS:
            n += 1
        d += timedelta(days=1)
    return n


def ref_add_months(d: date | None, k: int | None) -> date | None:
    if d is None or k is None:
        return None
    y, m0 = divmod(d.year * 12 + d.month - 1 + k, 12)
    return D(y, m0 + 1, min(d.day, pycal.monthrange(y, m0 + 1)[1]))


def ref_label(d: date | None, period_type: str) -> str | None:
    if d is None:
        return None
    if period_type == "month":
        return f"{d.year:04d}-{d.month:02d}"
    fy = d.year if d.month >= 4 else d.year - 1
    year = f"{fy}-{str(fy + 1)[-2:]}"
    if period_type == "year":
        return year
    return f"{year} Q{(d.month - 4) % 12 // 3 + 1}"


N_ROWS = 1_000_000
N_SAMPLE = 3_000


@pytest.fixture(scope="module")
def big() -> pl.DataFrame:
    rng = np.random.default_rng(42)
    base = np.datetime64("2009-01-01")
    a = base + rng.integers(0, 15 * 365, N_ROWS).astype("timedelta64[D]")
    b = a + rng.integers(-120, 400, N_ROWS).astype("timedelta64[D]")
    frame = pl.DataFrame({"a": a, "b": b, "k": rng.integers(-36, 37, N_ROWS)})
    frame = frame.with_columns(pl.col("a").cast(pl.Date), pl.col("b").cast(pl.Date))
    # About 1% nulls in each date column.
    null_a = pl.Series(rng.random(N_ROWS) < 0.01)
    null_b = pl.Series(rng.random(N_ROWS) < 0.01)
    return frame.with_columns(
        a=pl.when(null_a).then(None).otherwise(pl.col("a")),
        b=pl.when(null_b).then(None).otherwise(pl.col("b")),
    )


@pytest.fixture(scope="module")
def big_result(big: pl.DataFrame) -> pl.DataFrame:
    a, b = pl.col("a"), pl.col("b")
    return big.with_columns(
        wd=working_days(a, b, HOLIDAYS),
        plus=add_months(a, pl.col("k")),
        month=period_label(a, "month"),
        quarter=period_label(a, "quarter"),
        year=period_label(a, "year"),
        q_start=period_start(a, "quarter"),
        q_end=period_end(a, "quarter"),
    )


def test_vectorised_working_days_match_reference_on_a_sample(big_result: pl.DataFrame) -> None:
    assert big_result.height == N_ROWS
    sample = big_result.sample(N_SAMPLE, seed=7)
    for row in sample.iter_rows(named=True):
        assert row["wd"] == ref_wd(row["a"], row["b"]), row


def test_vectorised_working_days_match_numpy_on_every_row(big_result: pl.DataFrame) -> None:
    # numpy's busday_count is an independent implementation with the same convention as
    # polars' business_day_count: [begin, end) forwards, -count((end, begin]) backwards.
    # wd(a, b) is busday_count(a + 1, b + 1) when a <= b and busday_count(a, b) otherwise.
    full = big_result.drop_nulls(["a", "b"])
    a, b = full["a"].to_numpy(), full["b"].to_numpy()
    hol = np.array(sorted(_RAW_HOLIDAYS), dtype="datetime64[D]")
    one_day = np.timedelta64(1, "D")
    expected = np.where(
        a <= b,
        np.busday_count(a + one_day, b + one_day, holidays=hol),
        np.busday_count(a, b, holidays=hol),
    )
    assert (a > b).sum() > 100_000  # plenty of negative cases
    assert np.array_equal(full["wd"].to_numpy(), expected)
    nulls = big_result.filter(pl.col("a").is_null() | pl.col("b").is_null())
    assert nulls.height > 0
    assert nulls["wd"].null_count() == nulls.height


def test_business_day_count_semantics_relied_on() -> None:
    # Canary for polars upgrades (the function is marked unstable): start counted, end not,
    # in both directions. Mon 10 Jun 2013 and Sat 8 Jun 2013.
    mon, sat = pl.lit(D(2013, 6, 10)), pl.lit(D(2013, 6, 8))
    assert pl.select(pl.business_day_count(sat, mon)).item() == 0  # [Sat, Mon): nothing
    assert pl.select(pl.business_day_count(mon, sat)).item() == -1  # -(Sat, Mon]: Monday


def test_vectorised_add_months_and_periods_match_reference(big_result: pl.DataFrame) -> None:
    sample = big_result.sample(N_SAMPLE, seed=11)
    for row in sample.iter_rows(named=True):
        d = row["a"]
        assert row["plus"] == ref_add_months(d, row["k"]), row
        for t in PERIOD_TYPES:
            assert row[t] == ref_label(d, t), (row, t)
        if d is not None:
            assert row["q_start"] <= d <= row["q_end"]
            assert row["q_start"].day == 1 and row["q_start"].month in (1, 4, 7, 10)
