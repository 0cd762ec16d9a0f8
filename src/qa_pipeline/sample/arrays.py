"""What every part of the generator shares: the batch context (extract date, history, working-day
calendar, teams, id counters) and small helpers on numpy arrays of one column each."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from qa_pipeline.transform.calendar import bank_holidays

__all__ = [
    "NAT", "Arrays", "Ctx", "blank", "business_calendar", "chron_ids", "concat", "days",
    "first_of_month", "group_rank", "no_dates", "none_ids", "take", "uniform_day", "wd", "yn",
]

NAT = np.datetime64("NaT", "D")

Arrays = dict[str, np.ndarray]
"""One part of an extract: column -> values (ids as int64, -1 for none; dates as datetime64)."""


@dataclass
class Ctx:
    as_of: np.datetime64
    hist_start: np.datetime64
    cal: np.busdaycalendar
    teams: dict[str, np.ndarray]  # service area -> team numbers
    counters: dict[str, int]
    workers_per_team: int = 30

    def alloc(self, ns: str, k: int) -> np.ndarray:
        start = self.counters[ns]
        self.counters[ns] = start + k
        return np.arange(start, start + k, dtype=np.int64)


def business_calendar(first_year: int, last_year: int) -> np.busdaycalendar:
    """Working days: Monday to Friday less the bank holidays of ``transform.calendar``."""
    hols = bank_holidays(first_year, last_year)
    return np.busdaycalendar(holidays=np.array(hols, dtype="datetime64[D]"))


def yn(rng: np.random.Generator, p_yes: float | np.ndarray, n: int) -> np.ndarray:
    return np.where(rng.random(n) < p_yes, "Y", "N")


def wd(
    ctx: Ctx, d: np.ndarray, k: np.ndarray | int,
    roll: Literal["forward", "backward"] = "forward",
) -> np.ndarray:
    """Working days after d (rolled to a working day first); NaT stays NaT."""
    offset: Any = np.busday_offset
    out: np.ndarray = offset(d, k, roll=roll, busdaycal=ctx.cal)
    return out


def days(a: np.ndarray) -> np.ndarray:
    return a.astype("timedelta64[D]").astype(np.int64)


def uniform_day(
    rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray
) -> np.ndarray:
    """A random day in [lo, hi] (elementwise, hi >= lo)."""
    span = days(hi - lo)
    return lo + (rng.random(len(lo)) * (span + 1)).astype(np.int64)


def first_of_month(d: np.ndarray) -> np.ndarray:
    return d.astype("datetime64[M]").astype("datetime64[D]")


def past_spring_gap(day: np.ndarray, seconds: np.ndarray) -> np.ndarray:
    """Local times of day (seconds) moved out of the hour UK clocks skip: 01:00-02:00 on the
    last Sunday of March does not exist in Europe/London, and a delivered time in it is an
    error (`invalid_datetime`); the generator writes valid data, so such a time becomes the
    same minute an hour later."""
    d = day.astype("datetime64[D]")
    month_start = d.astype("datetime64[M]")
    is_march = month_start.astype(np.int64) % 12 == 2
    is_sunday = (d.astype(np.int64) + 3) % 7 == 6        # 1970-01-01 was a Thursday
    last_week = (d - month_start.astype("datetime64[D]")).astype(np.int64) >= 24  # 25th on
    skipped = is_march & is_sunday & last_week & (seconds >= 3600) & (seconds < 7200)
    return np.where(skipped, seconds + 3600, seconds)


def group_rank(counts: np.ndarray) -> np.ndarray:
    """0-based position of each row within its group, for rows laid out by np.repeat."""
    starts = np.cumsum(counts) - counts
    return np.arange(int(counts.sum())) - np.repeat(starts, counts)


def chron_ids(ctx: Ctx, ns: str, *keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Allocate ids in the order of the sort keys (last key primary); return (ids, order)."""
    n = len(keys[0])
    order = np.lexsort(keys) if n else np.arange(0)
    ids = np.empty(n, dtype=np.int64)
    ids[order] = ctx.alloc(ns, n)
    return ids, order


def take(data: Arrays, order: np.ndarray) -> Arrays:
    return {k: v[order] for k, v in data.items()}


def concat(parts: Sequence[Arrays]) -> Arrays:
    keys = parts[0].keys()
    return {k: np.concatenate([p[k] for p in parts]) for k in keys}


def none_ids(n: int) -> np.ndarray:
    return np.full(n, -1, dtype=np.int64)


def no_dates(n: int) -> np.ndarray:
    return np.full(n, NAT, dtype="datetime64[D]")


def blank(n: int) -> np.ndarray:
    return np.full(n, "", dtype="<U2")
