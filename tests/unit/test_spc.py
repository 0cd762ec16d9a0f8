"""`transform.spc` on series worked by hand. The baseline (set to 12 points here) is 12
points alternating 10 and 12: mean 11, every moving range 2, so the limits are
11 ± 2.66 × 2 = 5.68 and 16.32, sigma 1.7733, and "beyond 2 sigma" is above 14.5467 or
below 7.4533."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest

from qa_pipeline.transform.spc import (
    IndicatorSpec,
    assurance,
    baseline_limits,
    judge,
    spc_tables,
)

BASE = [10.0, 12.0] * 6


def _judge(tail: list[float], polarity: str = "higher_is_better", partial_last: bool = False):
    values = BASE + tail
    partial = [False] * len(values)
    if partial_last:
        partial[-1] = True
    # the baseline is BASE alone (by default it would take the first 20 points)
    lim, points = judge(values, partial, polarity, points=12)  # type: ignore[arg-type]
    return lim, [(p.signal, p.rule) for p in points[len(BASE):]], points[:len(BASE)]


def test_the_baseline_mean_and_limits() -> None:
    lim = baseline_limits(BASE, [False] * 12)
    assert lim is not None
    assert lim.mean == pytest.approx(11) and lim.lower == pytest.approx(5.68)
    assert lim.upper == pytest.approx(16.32) and lim.sigma == pytest.approx(1.773333)


def test_fewer_than_12_baseline_points_have_no_limits_and_no_signal() -> None:
    values = BASE[:10] + [30.0]
    lim, points = judge(values, [False] * 11, "higher_is_better")
    assert lim is None and {(p.signal, p.rule) for p in points} == {("common_cause", None)}
    # twelve points, but one is the partial month: eleven baseline points
    lim, _ = judge(BASE, [False] * 11 + [True], "higher_is_better")
    assert lim is None


def test_the_baseline_is_the_first_points_and_never_the_partial_month() -> None:
    values = [100.0] + BASE + [50.0] * 10
    lim = baseline_limits(values, [True] + [False] * 22, points=12)
    assert lim is not None and lim.mean == pytest.approx(11)  # neither 100 nor the 50s
    lim20 = baseline_limits(values, [True] + [False] * 22)  # 12 of BASE and 8 of 50
    assert lim20 is not None and lim20.mean == pytest.approx((132 + 8 * 50) / 20)


def test_a_point_outside_the_limits_by_polarity() -> None:
    _, tail, base = _judge([17.0, 11.0])
    assert tail == [("improvement", "outside_limits"), ("common_cause", None)]
    assert {(p.signal, p.rule) for p in base} == {("common_cause", None)}
    _, tail, _ = _judge([17.0], "lower_is_better")
    assert tail == [("concern", "outside_limits")]
    _, tail, _ = _judge([5.0], "lower_is_better")
    assert tail == [("improvement", "outside_limits")]


def test_a_run_of_seven_on_one_side_and_not_six_and_the_mean_breaks_it() -> None:
    # BASE ends with 12, above the mean: it is the first point of a run above
    _, tail, _ = _judge([11.5] * 6)
    assert tail == [("improvement", "run")] * 6
    _, tail, _ = _judge([10.0] + [11.5] * 7)
    assert tail == [("common_cause", None)] + [("improvement", "run")] * 7
    _, tail, _ = _judge([10.0] + [11.5] * 6)
    assert tail == [("common_cause", None)] * 7
    _, tail, _ = _judge([10.0] + [11.5] * 3 + [11.0] + [11.5] * 3)
    assert tail == [("common_cause", None)] * 8
    _, tail, _ = _judge([10.5] * 7)
    assert tail == [("concern", "run")] * 7


def test_a_trend_of_six_and_not_five() -> None:
    _, tail, _ = _judge([8.0, 9.0, 10.0, 11.5, 12.0, 13.0, 11.0])
    assert tail == [("improvement", "trend")] * 6 + [("common_cause", None)]
    _, tail, _ = _judge([9.0, 10.0, 11.5, 12.0, 13.0, 11.0])
    assert tail == [("common_cause", None)] * 6
    _, tail, _ = _judge([13.0, 12.0, 11.5, 10.0, 9.0, 8.0], "lower_is_better")
    assert tail == [("improvement", "trend")] * 6
    _, tail, _ = _judge([8.0, 9.0, 9.0, 10.0, 11.5, 12.0])  # a repeat breaks it
    assert tail == [("common_cause", None)] * 6


def test_two_of_three_beyond_two_sigma_on_one_side() -> None:
    _, tail, _ = _judge([15.0, 11.0, 15.0, 11.0])
    assert tail == [("improvement", "two_of_three"), ("common_cause", None),
                    ("improvement", "two_of_three"), ("common_cause", None)]
    _, tail, _ = _judge([15.0, 11.0, 7.0])  # one beyond on each side: nothing
    assert tail == [("common_cause", None)] * 3
    _, tail, _ = _judge([7.0, 7.0], "lower_is_better")
    assert tail == [("improvement", "two_of_three")] * 2


def test_the_first_rule_in_the_spec_order_is_named() -> None:
    _, tail, _ = _judge([17.0, 15.0])  # both in a two-of-three window, the first outside
    assert tail == [("improvement", "outside_limits"), ("improvement", "two_of_three")]


def test_the_partial_month_is_judged_but_not_in_the_baseline() -> None:
    lim, tail, _ = _judge([17.0], partial_last=True)
    assert lim is not None and lim.mean == pytest.approx(11)
    assert tail == [("improvement", "outside_limits")]


@pytest.mark.parametrize(("target", "polarity", "expected"), [
    (5.0, "higher_is_better", "pass"), (17.0, "higher_is_better", "fail"),
    (11.0, "higher_is_better", "hit_and_miss"), (17.0, "lower_is_better", "pass"),
    (5.0, "lower_is_better", "fail"), (11.0, "lower_is_better", "hit_and_miss"),
    (None, "higher_is_better", None)])
def test_assurance_against_a_target(target, polarity, expected) -> None:
    lim = baseline_limits(BASE, [False] * 12)
    assert assurance(lim, target, polarity) == expected
    assert assurance(None, target, polarity) is None


# --- spc_tables: every series of indicator_value -----------------------------------------

def _months(values: list[float], as_of: date, code: str = "REF01",
            team: str | None = None) -> pl.DataFrame:
    """A monthly series ending with the month of as_of."""
    rows = []
    y, m = as_of.year, as_of.month
    for i, v in enumerate(reversed(values)):
        mm = m - i
        yy = y + (mm - 1) // 12
        mm = (mm - 1) % 12 + 1
        start = date(yy, mm, 1)
        end = date(yy + mm // 12, mm % 12 + 1, 1) - timedelta(days=1)
        rows.append({"as_of": as_of, "indicator_code": code,
                     "breakdown": "team" if team else "all",
                     "breakdown_value": team or "ALL", "period_label": f"{yy}-{mm:02d}",
                     "period_start": start, "period_end": end, "value": v,
                     "denominator": 3})
    return pl.DataFrame(rows[::-1])


SPECS = {"REF01": IndicatorSpec("higher_is_better", None),
         "REF02": IndicatorSpec("lower_is_better", 15.0)}


def test_spc_tables_mark_the_partial_month_and_the_baseline() -> None:
    values = BASE * 2 + [17.0]  # 24 full months, then the month of as_of
    points, series = spc_tables(_months(values, date(2026, 11, 18)), SPECS)
    assert len(points) == 25 and len(series) == 1
    assert [p["partial"] for p in points] == [False] * 24 + [True]
    assert [p["in_baseline"] for p in points] == [True] * 20 + [False] * 5
    assert [p["point_number"] for p in points] == list(range(1, 26))
    assert points[-1]["period_label"] == "2026-11" and points[-1]["rule"] == "outside_limits"
    assert series[0]["baseline_points"] == 20 and series[0]["points"] == 25
    assert series[0]["new_special_cause"] is True and series[0]["previous_signal"] is None
    # on the last day of the month nothing is partial; a shorter baseline is configurable
    points, series = spc_tables(_months(values, date(2026, 11, 30)), SPECS, points=12)
    assert not any(p["partial"] for p in points)
    assert sum(p["in_baseline"] for p in points) == 12 and series[0]["baseline_points"] == 12


def test_spc_tables_skip_empty_months_and_judge_each_series_alone() -> None:
    ok = _months(BASE, date(2026, 11, 30))
    short = _months(BASE[:11], date(2026, 11, 30), team="T1")
    empty = ok.head(1).with_columns(pl.lit(0, pl.Int64).alias("denominator"), pl.lit("T2").alias(
        "breakdown_value"), pl.lit("team").alias("breakdown"))
    unknown = _months(BASE, date(2026, 11, 30), code="GONE1")
    points, series = spc_tables(pl.concat([ok, short, empty, unknown]), SPECS)
    keys = {(s["breakdown_value"], s["baseline_points"]) for s in series}
    assert keys == {("ALL", 12), ("T1", 11)}  # no series of no cases, none of no indicator
    t1 = [p for p in points if p["breakdown_value"] == "T1"]
    assert all(p["mean"] is None and p["signal"] == "common_cause" for p in t1)


def test_spc_tables_assurance_and_a_new_special_cause_against_the_previous_batch() -> None:
    night = date(2026, 11, 18)
    months = _months([*BASE, 5.0], night, code="REF02")  # lower is better: 5 improves
    key = ("REF02", "all", "ALL")
    _, (s,) = spc_tables(months, SPECS)
    assert s["assurance"] == "hit_and_miss" and s["target"] == 15.0
    # the night before had no special cause: new; it had the same one: not new
    _, (s,) = spc_tables(months, SPECS, {key: (date(2026, 11, 17), "common_cause", None,
                                               None)})
    assert (s["new_special_cause"], s["previous_as_of"]) == (True, date(2026, 11, 17))
    _, (s,) = spc_tables(months, SPECS, {key: (date(2026, 11, 17), "improvement", None,
                                               None)})
    assert s["new_special_cause"] is False
    # a re-run of the same night keeps the comparison it was given the first time
    _, (s,) = spc_tables(months, SPECS, {key: (night, "improvement", date(2026, 11, 17),
                                               "common_cause")})
    assert (s["new_special_cause"], s["previous_signal"]) == (True, "common_cause")
