"""Statistical process control of one monthly series (reporting-db.md 1.1, "Statistical
process control"; NHS England "Making Data Count": an XmR chart).

The pure core of issue 16 point 1: a series in, one verdict per point out. Not yet wired
into the nightly run or the database (`indicator_spc` is still to come).

Decisions where the spec is silent (to be written up in docs/decisions.md when wired):
- sigma is the mean moving range / 1.128 (so the limits, mean ± 2.66 × mean moving range, are
  mean ± 3 sigma), and "beyond 2 sigma" is beyond mean ± 2 × that sigma;
- the moving ranges of the baseline are those between consecutive baseline points;
- a point exactly on the mean is on neither side: it ends a run; two equal consecutive
  values end a trend;
- every point of a run, a trend or a two-of-three window that fires is marked (as Making Data
  Count colours them), and in a two-of-three window the points beyond 2 sigma are marked;
- the partial month is a point of the series like any other (it is drawn and judged) but
  never part of the baseline.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Polarity = Literal["higher_is_better", "lower_is_better"]

BASELINE_POINTS = 20
"""The baseline: the first this many points (configurable)."""
MIN_BASELINE_POINTS = 12
"""Fewer baseline points than this: no limits, every point common cause."""
RUN_LENGTH = 7
TREND_LENGTH = 6
D2 = 1.128  # the bias constant of a moving range of two points
RULES = ("outside_limits", "run", "trend", "two_of_three")
"""In the spec's order: when several fire on one point, the first is named."""


@dataclass(frozen=True)
class Limits:
    mean: float
    lower: float
    upper: float

    @property
    def sigma(self) -> float:
        return (self.upper - self.mean) / 3


@dataclass(frozen=True)
class Point:
    """The verdict on one point: signal (common_cause, improvement, concern) and the rule."""

    signal: str
    rule: str | None


def baseline_limits(values: list[float], partial: list[bool],
                    points: int = BASELINE_POINTS) -> Limits | None:
    """Mean and natural process limits over the baseline (the first `points` values that are
    not the partial month), or None when it has fewer than MIN_BASELINE_POINTS."""
    base = [v for v, p in zip(values, partial, strict=True) if not p][:points]
    if len(base) < MIN_BASELINE_POINTS:
        return None
    mean = sum(base) / len(base)
    ranges = [abs(b - a) for a, b in zip(base, base[1:], strict=False)]
    mr = sum(ranges) / len(ranges)
    return Limits(mean=mean, lower=mean - 2.66 * mr, upper=mean + 2.66 * mr)


def _sides(values: list[float], centre: float) -> list[int]:
    return [(v > centre) - (v < centre) for v in values]


def _outside(values: list[float], lim: Limits) -> list[int]:
    return [1 if v > lim.upper else -1 if v < lim.lower else 0 for v in values]


def _runs(sides: list[int], length: int) -> list[int]:
    """Each point's side where it belongs to `length` or more consecutive points on one side
    (0 elsewhere)."""
    out = [0] * len(sides)
    i = 0
    while i < len(sides):
        j = i
        while j + 1 < len(sides) and sides[j + 1] == sides[i]:
            j += 1
        if sides[i] != 0 and j - i + 1 >= length:
            out[i:j + 1] = [sides[i]] * (j - i + 1)
        i = j + 1
    return out


def _trends(values: list[float], length: int) -> list[int]:
    """+1 / -1 on the points of `length` or more points each higher (lower) than the one
    before."""
    steps = [(b > a) - (b < a) for a, b in zip(values, values[1:], strict=False)]
    out = [0] * len(values)
    for i, side in enumerate(_runs(steps, length - 1)):
        if side:
            out[i] = out[i + 1] = side
    return out


def _two_of_three(values: list[float], lim: Limits) -> list[int]:
    """The points beyond 2 sigma in any three consecutive points of which at least two are
    beyond 2 sigma on the same side."""
    far = [1 if v > lim.mean + 2 * lim.sigma else -1 if v < lim.mean - 2 * lim.sigma else 0
           for v in values]
    out = [0] * len(values)
    for i in range(len(values) - 2):
        window = far[i:i + 3]
        for side in (1, -1):
            if window.count(side) >= 2:
                for k in range(i, i + 3):
                    if far[k] == side:
                        out[k] = side
    return out


def judge(values: list[float], partial: list[bool], polarity: Polarity,
          points: int = BASELINE_POINTS) -> tuple[Limits | None, list[Point]]:
    """The limits of a series (its points in date order) and the verdict on each point."""
    lim = baseline_limits(values, partial, points)
    if lim is None:
        return None, [Point("common_cause", None) for _ in values]
    fired = dict(zip(RULES, (_outside(values, lim), _runs(_sides(values, lim.mean), RUN_LENGTH),
                             _trends(values, TREND_LENGTH), _two_of_three(values, lim)),
                     strict=True))
    better = 1 if polarity == "higher_is_better" else -1
    verdicts = []
    for i in range(len(values)):
        rule = next((r for r in RULES if fired[r][i]), None)
        if rule is None:
            verdicts.append(Point("common_cause", None))
        else:
            side = fired[rule][i]
            verdicts.append(Point("improvement" if side == better else "concern", rule))
    return lim, verdicts


def assurance(lim: Limits | None, target: float | None, polarity: Polarity) -> str | None:
    """Against a target: `pass` when the whole process range meets it, `fail` when none of
    it does, else `hit_and_miss`; None without a target or without limits."""
    if target is None or lim is None:
        return None
    if polarity == "higher_is_better":
        meets_all, meets_none = lim.lower >= target, lim.upper < target
    else:
        meets_all, meets_none = lim.upper <= target, lim.lower > target
    return "pass" if meets_all else "fail" if meets_none else "hit_and_miss"
