"""`transform.spc` on series worked by hand. The baseline (set to 12 points here) is 12
points alternating 10 and 12: mean 11, every moving range 2, so the limits are
11 ± 2.66 × 2 = 5.68 and 16.32, sigma 1.7733, and "beyond 2 sigma" is above 14.5467 or
below 7.4533."""

from __future__ import annotations

import pytest

from qa_pipeline.transform.spc import assurance, baseline_limits, judge

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
