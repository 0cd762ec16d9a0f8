"""Statistical process control of one monthly series (reporting-db.md 1.1, "Statistical
process control"; NHS England "Making Data Count": an XmR chart).

`judge` is the pure core: a series in, one verdict per point out. `spc_tables` applies it to
every monthly series of `indicator_value` (one per indicator, breakdown and breakdown value)
and gives the rows of `indicator_spc` and `indicator_spc_series`; the publish calls it
(`load.publish.refresh_spc`) in the batch's transaction.

Decisions where the spec is silent (docs/decisions.md, "Statistical process control"):
- sigma is the mean moving range / 1.128 (so the limits, mean ± 2.66 × mean moving range, are
  mean ± 3 sigma), and "beyond 2 sigma" is beyond mean ± 2 × that sigma;
- the moving ranges of the baseline are those between consecutive baseline points;
- a point exactly on the mean is on neither side: it ends a run; two equal consecutive
  values end a trend;
- every point of a run, a trend or a two-of-three window that fires is marked (as Making Data
  Count colours them), and in a two-of-three window the points beyond 2 sigma are marked;
- the partial month is a point of the series like any other (it is drawn and judged) but
  never part of the baseline; it is the month of the batch's as_of unless as_of is the
  month's last day;
- the limits are not clipped to what a value can be (0-100 %, >= 0 days): the table keeps
  mean ± 2.66 × mean moving range as the spec defines them; the report's charts clip the axis;
- a "new" special cause (what changed tonight) is a series whose latest month is a special
  cause when the previous batch's latest month was not one of the same signal; re-running a
  batch keeps the comparison with the batch before it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import polars as pl

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


SERIES_KEY = ("indicator_code", "breakdown", "breakdown_value")
SPECIAL = ("improvement", "concern")


@dataclass(frozen=True)
class IndicatorSpec:
    """What judging an indicator's series needs from the catalogue."""

    polarity: Polarity
    target: float | None


def spc_tables(months: pl.DataFrame, indicators: Mapping[str, IndicatorSpec],
               previous: Mapping[tuple[str, str, str], tuple[date, str, date | None, str | None]]
               | None = None, points: int = BASELINE_POINTS
               ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The rows of indicator_spc and indicator_spc_series.

    `months`: the monthly rows of indicator_value of each indicator's latest batch (as_of,
    indicator_code, breakdown, breakdown_value, period_label, period_start, period_end, value,
    denominator). `previous`: per series the stored (as_of, latest signal, previous_as_of,
    previous_signal), to tell a new special cause from one already reported."""
    previous = previous or {}
    point_rows: list[dict[str, Any]] = []
    series_rows: list[dict[str, Any]] = []
    ordered = months.filter(months["denominator"] > 0).sort(
        [*SERIES_KEY, "period_start"])
    for key, group in ordered.group_by(list(SERIES_KEY), maintain_order=True):
        code, breakdown, breakdown_value = (str(k) for k in key)
        spec = indicators.get(code)
        if spec is None:  # not in the catalogue any more
            continue
        rows = group.to_dicts()
        as_of = rows[-1]["as_of"]
        partial = [r["period_end"] > as_of for r in rows]
        values = [float(r["value"]) for r in rows]
        lim, verdicts = judge(values, partial, spec.polarity, points)
        in_base = [not p for p in partial]
        seen = 0
        for i, p in enumerate(partial):
            if not p:
                seen += 1
                in_base[i] = seen <= points
        for n, (r, part, base, v) in enumerate(zip(rows, partial, in_base, verdicts,
                                                   strict=True), start=1):
            point_rows.append({
                "as_of": as_of, "indicator_code": code, "breakdown": breakdown,
                "breakdown_value": breakdown_value, "period_label": r["period_label"],
                "period_start": r["period_start"], "value": float(r["value"]),
                "denominator": int(r["denominator"]),
                "mean": lim.mean if lim else None, "lower_limit": lim.lower if lim else None,
                "upper_limit": lim.upper if lim else None, "signal": v.signal, "rule": v.rule,
                "partial": part, "in_baseline": base, "point_number": n})
        latest = verdicts[-1].signal
        prev_as_of, prev_signal = _previous(previous.get((code, breakdown, breakdown_value)),
                                            as_of)
        series_rows.append({
            "as_of": as_of, "indicator_code": code, "breakdown": breakdown,
            "breakdown_value": breakdown_value, "period_start": rows[-1]["period_start"],
            "points": len(rows), "baseline_points": min(points, sum(not p for p in partial)),
            "target": spec.target, "assurance": assurance(lim, spec.target, spec.polarity),
            "previous_as_of": prev_as_of, "previous_signal": prev_signal,
            "new_special_cause": latest in SPECIAL and prev_signal != latest})
    return point_rows, series_rows


def _previous(stored: tuple[date, str, date | None, str | None] | None, as_of: date
              ) -> tuple[date | None, str | None]:
    """The earlier batch to compare with: the stored state when it is older than this batch;
    when it is this batch (a re-run), the comparison it was given then."""
    if stored is None:
        return None, None
    stored_as_of, signal, prev_as_of, prev_signal = stored
    if stored_as_of < as_of:
        return stored_as_of, signal
    return prev_as_of, prev_signal
