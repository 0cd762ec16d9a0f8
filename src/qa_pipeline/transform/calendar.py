"""Calendar rules shared by every indicator: working days, month arithmetic and periods.

The definitions follow ``indicators.md`` ("Common definitions"). Everything that runs per row
is a polars expression, so the indicator code can apply it to whole tables at once; plain
Python only ever touches the handful of distinct years and bank holidays.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from functools import lru_cache

import holidays as holidays_pkg
import polars as pl

__all__ = [
    "PERIOD_TYPES",
    "add_months",
    "bank_holidays",
    "period_date",
    "period_end",
    "period_label",
    "period_start",
    "periods_between",
    "working_days",
    "working_days_between",
]

PERIOD_TYPES: tuple[str, ...] = ("month", "quarter", "year")
"""Reporting periods: calendar month, financial quarter (Q1 = April–June), financial year."""

_FY_FIRST_MONTH = 4  # the financial year starts on 1 April


# --------------------------------------------------------------------------------------------
# Bank holidays and working days
# --------------------------------------------------------------------------------------------


@lru_cache(maxsize=64)
def _bank_holidays(first_year: int, last_year: int) -> tuple[date, ...]:
    # observed=True (the default) is what adds the substitute days, e.g. Mon 27 and Tue 28 Dec
    # 2010 for a Christmas on a weekend; the package names them "Christmas Day (observed)".
    calendar = holidays_pkg.country_holidays(
        "GB", subdiv="WLS", years=range(first_year, last_year + 1), observed=True
    )
    # A holiday on a Saturday or Sunday is not a working day anyway; its substitute weekday
    # (listed separately by the package) is the one that matters.
    return tuple(sorted(d for d in calendar if d.weekday() < 5))


def bank_holidays(first_year: int, last_year: int) -> list[date]:
    """Bank holidays of England and Wales that fall on a weekday, sorted, for the years given.

    From the ``holidays`` package (``GB``, subdivision ``WLS``), which is the source the spec
    names. Includes substitute days and one-off holidays (jubilees, royal events); weekend
    dates the package also lists (e.g. Sat 25 Dec 2010) are left out because the substitute
    day carries the holiday and a weekend day is never a working day.
    """
    if first_year > last_year:
        return []
    return list(_bank_holidays(first_year, last_year))


def working_days(a: pl.Expr, b: pl.Expr, holidays: Sequence[date]) -> pl.Expr:
    """wd(a, b): signed count of working days d with a < d <= b (Int32; null if either is null).

    ``pl.business_day_count(start, end)`` always counts ``start`` and never ``end``: for
    start <= end it is the count over ``[start, end)``, for start > end it is
    ``-count((end, start])`` (numpy's ``busday_count`` does the same). So for a <= b both
    ends are shifted a day to get ``(a, b]``, while for a > b the unshifted call already
    gives ``-count((b, a]) = -wd(b, a)``. The holiday list must cover the years spanned.
    """
    hol = sorted(set(holidays))
    one_day = pl.duration(days=1)
    forward = pl.business_day_count(a + one_day, b + one_day, holidays=hol)
    backward = pl.business_day_count(a, b, holidays=hol)
    # A null a or b makes the condition null, hence `backward`, which is then null too.
    return pl.when(a <= b).then(forward).otherwise(backward)


def _as_date_series(values: pl.Series | Iterable[date | None]) -> pl.Series:
    series = values if isinstance(values, pl.Series) else pl.Series(values, dtype=pl.Date)
    return series.cast(pl.Date)


def working_days_between(
    a: pl.Series | Iterable[date | None],
    b: pl.Series | Iterable[date | None],
    holidays: Sequence[date] | None = None,
) -> pl.Series:
    """wd(a, b) element-wise on two date series (eager convenience around ``working_days``).

    When ``holidays`` is not given, bank holidays are taken for the years the data spans, so
    callers do not have to guess a range.
    """
    sa, sb = _as_date_series(a), _as_date_series(b)
    frame = pl.DataFrame({"a": sa, "b": sb})
    if holidays is None:
        years = frame.select(
            lo=pl.min_horizontal(pl.col("a").min(), pl.col("b").min()).dt.year(),
            hi=pl.max_horizontal(pl.col("a").max(), pl.col("b").max()).dt.year(),
        ).row(0)
        holidays = [] if years[0] is None else bank_holidays(years[0], years[1])
    return frame.select(wd=working_days(pl.col("a"), pl.col("b"), holidays)).to_series()


# --------------------------------------------------------------------------------------------
# Month arithmetic
# --------------------------------------------------------------------------------------------


def add_months(d: pl.Expr, k: int | pl.Expr) -> pl.Expr:
    """d + k calendar months, the day clamped to the target month's last day.

    31 Aug 2013 + 3 = 30 Nov 2013; 29 Feb 2012 + 12 = 28 Feb 2013. ``k`` may be a per-row
    integer expression and may be negative (re-referrals look back 12 months). Due dates in
    the spec are defined this way, so ``d + 3 months`` never overflows into the next month.
    """
    k_expr = pl.lit(k, dtype=pl.Int64) if isinstance(k, int) else k.cast(pl.Int64)
    month_index = d.dt.year().cast(pl.Int64) * 12 + d.dt.month().cast(pl.Int64) - 1 + k_expr
    year = month_index // 12
    month = month_index % 12 + 1
    first = pl.date(year, month, 1)
    day = pl.min_horizontal(d.dt.day().cast(pl.Int64), first.dt.days_in_month().cast(pl.Int64))
    # A null d or k makes year/month null, and pl.date() of a null part is null.
    return pl.date(year, month, day)


# --------------------------------------------------------------------------------------------
# Periods
# --------------------------------------------------------------------------------------------


def _check_period_type(period_type: str) -> None:
    if period_type not in PERIOD_TYPES:
        raise ValueError(f"unknown period type {period_type!r}; expected one of {PERIOD_TYPES}")


def _fy_start_year(d: pl.Expr) -> pl.Expr:
    """Calendar year in which d's financial year starts (Jan–Mar belong to the year before)."""
    return d.dt.year().cast(pl.Int32) - (d.dt.month() < _FY_FIRST_MONTH).cast(pl.Int32)


def _fy_label(fy: pl.Expr) -> pl.Expr:
    # 1999 -> "1999-00": the second year is always two digits, taken modulo 100.
    second = ((fy + 1) % 100).cast(pl.String).str.zfill(2)
    return pl.concat_str([fy.cast(pl.String), pl.lit("-"), second])


def _fy_quarter(d: pl.Expr) -> pl.Expr:
    """Financial quarter 1–4: April–June is 1, January–March is 4."""
    return ((d.dt.month().cast(pl.Int32) - _FY_FIRST_MONTH) % 12) // 3 + 1


def period_label(d: pl.Expr, period_type: str) -> pl.Expr:
    """Label of the period containing d: ``2013-04``, ``2013-14 Q1`` or ``2013-14``."""
    _check_period_type(period_type)
    if period_type == "month":
        return d.dt.strftime("%Y-%m")
    year_label = _fy_label(_fy_start_year(d))
    if period_type == "year":
        return year_label
    return pl.concat_str([year_label, pl.lit(" Q"), _fy_quarter(d).cast(pl.String)])


def period_start(d: pl.Expr, period_type: str) -> pl.Expr:
    """First day of the period containing d."""
    _check_period_type(period_type)
    if period_type == "month":
        return d.dt.month_start()
    if period_type == "year":
        return pl.date(_fy_start_year(d), _FY_FIRST_MONTH, 1)
    # Financial quarters line up with calendar quarters (Apr–Jun, Jul–Sep, Oct–Dec, Jan–Mar).
    first_month = (d.dt.month().cast(pl.Int32) - 1) // 3 * 3 + 1
    return pl.date(d.dt.year(), first_month, 1)


def period_end(d: pl.Expr, period_type: str) -> pl.Expr:
    """Last day of the period containing d."""
    _check_period_type(period_type)
    if period_type == "month":
        return d.dt.month_end()
    if period_type == "year":
        return pl.date(_fy_start_year(d) + 1, _FY_FIRST_MONTH - 1, 31)
    return add_months(period_start(d, "quarter"), 2).dt.month_end()


def periods_between(
    first: date, last: date, period_type: str | Iterable[str] = "month"
) -> pl.DataFrame:
    """Every period (of the type or types given) containing any day in [first, last].

    Columns ``period_type``, ``period_label``, ``period_start``, ``period_end``, ordered by
    type (in the order asked) then start. Empty if ``last < first``.
    """
    types = [period_type] if isinstance(period_type, str) else list(period_type)
    schema = pl.Schema(
        {
            "period_type": pl.String,
            "period_label": pl.String,
            "period_start": pl.Date,
            "period_end": pl.Date,
        }
    )
    for t in types:
        _check_period_type(t)
    if last < first or not types:
        return pl.DataFrame(schema=schema)
    # One date per calendar month touched by [first, last] reaches every period of any type.
    months = pl.DataFrame(
        {"d": pl.date_range(first.replace(day=1), last, interval="1mo", eager=True)}
    )
    d = pl.col("d")
    frames = [
        months.select(
            period_type=pl.lit(t, dtype=pl.String),
            period_label=period_label(d, t),
            period_start=period_start(d, t),
            period_end=period_end(d, t),
        ).unique(maintain_order=True)
        for t in types
    ]
    return pl.concat(frames).cast(schema)


def period_date(period_end: pl.Expr, extract_date: date) -> pl.Expr:
    """Date at which point-in-time indicators are measured: period end, capped at the extract.

    A period still running on the extract date can only be measured as at the extract date.
    """
    extract = pl.lit(extract_date, dtype=pl.Date)
    return pl.when(period_end > extract).then(extract).otherwise(period_end)


# --------------------------------------------------------------------------------------------
# The calendar dimension
# --------------------------------------------------------------------------------------------

DIM_DATE_FIRST = date(2000, 1, 1)
DIM_DATE_LAST = date(2040, 12, 31)
"""The default range of `dim_date` (reporting-db.md 1.1; the settings `dim_date_first` and
`dim_date_last` change it)."""


def bank_holiday_names(first_year: int, last_year: int) -> dict[date, str]:
    """The name of every bank holiday of England and Wales in the years: the weekday ones
    `bank_holidays` gives (substitute days included: "Christmas Day (observed)") and those
    on a weekend (Sat 25 Dec 2010 is "Christmas Day", though its substitute carries it)."""
    if first_year > last_year:
        return {}
    calendar = holidays_pkg.country_holidays(
        "GB", subdiv="WLS", years=range(first_year, last_year + 1), observed=True)
    return {d: str(calendar[d]) for d in sorted(calendar)}


def calendar_frame(first: date, last: date) -> pl.DataFrame:
    """One row per day from `first` to `last`: the `dim_date` table, its working days and
    period labels exactly as the indicators count and label them."""
    names = bank_holiday_names(first.year, last.year)
    days = pl.date_range(first, last, "1d", eager=True).alias("date").to_frame()
    d = pl.col("date")
    holiday = pl.DataFrame({"date": list(names), "bank_holiday": list(names.values())},
                           schema={"date": pl.Date, "bank_holiday": pl.String})
    return days.join(holiday, on="date", how="left", maintain_order="left").select(
        "date",
        d.dt.weekday().cast(pl.Int64).alias("weekday"),
        ((d.dt.weekday() <= 5) & pl.col("bank_holiday").is_null()).alias("is_working_day"),
        "bank_holiday",
        period_label(d, "month").alias("month_label"),
        period_label(d, "quarter").alias("quarter_label"),
        period_label(d, "year").alias("year_label"),
        period_start(d, "month").alias("month_start"),
        period_start(d, "quarter").alias("quarter_start"),
        period_start(d, "year").alias("year_start"),
    )
