"""The report's SPC charts and Making Data Count icons (officers/spc_report.py)."""

from __future__ import annotations

import re
from datetime import date

import pytest
from matplotlib.dates import num2date
from matplotlib.figure import Figure

from qa_pipeline.officers.spc_report import (
    CHART_MONTHS,
    MDC_COLOURS,
    SpcPoint,
    SpcSeries,
    _draw,
    assurance_icon,
    chart_figure,
    variation_icon,
)


def _series(months: list[tuple[int, int, float, int]], partial_last: bool = False,
            signal: str = "common_cause") -> SpcSeries:
    pts = [SpcPoint(date(y, m, 1), f"{y}-{m:02d}", v, n, signal, None,
                    partial_last and i == len(months) - 1)
           for i, (y, m, v, n) in enumerate(months)]
    return SpcSeries(code="REF01", points=pts, mean=50.0, lower=10.0, upper=90.0,
                     signal=pts[-1].signal if pts else "common_cause", baseline_points=20)


def _lines(fig: Figure) -> list[list[date]]:
    """The x of each drawn data line (not the horizontal mean, limit and target lines)."""
    ax = fig.axes[0]
    out = []
    for line in ax.get_lines():
        xs = list(line.get_xdata())
        if len(xs) >= 1 and line.get_color() == "#1e3a5f":
            out.append([num2date(x).date() for x in xs])
    return out


def test_a_month_without_cases_is_a_gap_not_a_bridge() -> None:
    s = _series([(2026, 1, 40, 3), (2026, 2, 60, 2), (2026, 4, 55, 4), (2026, 5, 50, 1)])
    fig = Figure()
    _draw(fig.add_subplot(), s, "percent")
    assert _lines(fig) == [[date(2026, 1, 1), date(2026, 2, 1)],
                           [date(2026, 4, 1), date(2026, 5, 1)]]
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts[:4] == ["3", "2", "4", "1"]  # the n of each point, in order


def test_the_chart_shows_the_last_months_and_marks_the_partial_one() -> None:
    months = [(2023 + (m - 1) // 12, (m - 1) % 12 + 1, 50.0, 2) for m in range(1, 41)]
    s = _series(months, partial_last=True)
    fig = Figure()
    _draw(fig.add_subplot(), s, "percent")
    (line,) = _lines(fig)
    assert len(line) == CHART_MONTHS and line[-1] == date(2026, 4, 1)
    ax = fig.axes[0]
    assert "partial" in [t.get_text() for t in ax.texts]
    last = ax.collections[-1]  # the partial point is hollow: white face, coloured edge
    assert tuple(last.get_facecolor()[0][:3]) == (1.0, 1.0, 1.0)


def test_the_limits_and_mean_are_drawn_only_where_there_are_limits() -> None:
    s = _series([(2026, m, 50.0, 2) for m in range(1, 7)])
    fig = Figure()
    _draw(fig.add_subplot(), s, "percent")
    horizontals = {line.get_ydata()[0] for line in fig.axes[0].get_lines()
                   if line.get_color() != "#1e3a5f"}
    assert {50.0, 10.0, 90.0} <= horizontals
    s.mean = s.lower = s.upper = None
    fig = Figure()
    _draw(fig.add_subplot(), s, "percent")
    horizontals = {line.get_ydata()[0] for line in fig.axes[0].get_lines()
                   if line.get_color() != "#1e3a5f"}
    assert horizontals == {0.0}  # the zero line only


@pytest.mark.parametrize(("signal", "polarity", "letter", "colour"), [
    ("common_cause", "higher_is_better", "", MDC_COLOURS["common_cause"]),
    ("improvement", "higher_is_better", "H", MDC_COLOURS["improvement"]),
    ("improvement", "lower_is_better", "L", MDC_COLOURS["improvement"]),
    ("concern", "higher_is_better", "L", MDC_COLOURS["concern"]),
    ("concern", "lower_is_better", "H", MDC_COLOURS["concern"]),
])
def test_variation_icons(signal: str, polarity: str, letter: str, colour: str) -> None:
    """H or L is the direction of the special cause: an improvement where lower is better
    is lower values, whatever side of the mean the point lies."""
    icon = variation_icon(signal, polarity)
    assert f"mdc-variation-{signal}" in icon and f'stroke="{colour}"' in icon
    assert re.search(r"<text[^>]*>" + letter + "</text>", icon)
    assert 'role="img"' in icon and "aria-label=" in icon


def test_assurance_icons() -> None:
    assert assurance_icon(None) == ""
    for kind, letter in (("pass", "P"), ("fail", "F"), ("hit_and_miss", "?")):
        icon = assurance_icon(kind)
        assert f"mdc-assurance-{kind}" in icon and f">{letter}</text>" in icon


def test_chart_figure_says_why_there_are_no_limits() -> None:
    s = _series([(2026, m, 50.0, 2) for m in range(1, 7)], partial_last=True)
    s.mean = s.lower = s.upper = None
    s.baseline_points = 5
    fig = chart_figure(s, "Referral decisions", "percent", "higher_is_better")
    assert 'class="spc" id="spc-REF01"' in fig and "<svg" in fig
    assert "No limits: 5 baseline months (12 needed)." in fig
    assert "Latest: 2026-06 (partial month), n = 2." in fig
