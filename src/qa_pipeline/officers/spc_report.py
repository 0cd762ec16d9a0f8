"""What the report draws of the statistical process control (issue 16): each indicator's
SPC chart and the Making Data Count icons.

The chart of a series (breakdown `all`, from `indicator_spc`) shows its last months: the
values joined only between consecutive months (a month without cases leaves a gap), the
mean and the natural process limits, the special-cause points coloured by their signal, the
partial month as a hollow point, the target where one is set, and each point's n under it.
The icons are drawn as Making Data Count draws them — a circle in grey (common cause), blue
(improvement, pass) or orange (concern, fail) with its letter — as inline SVG with a text
label beside it, so the page needs no image file and no script and is read without colour.

Every text a reader sees follows the document's language (`lang`, English by default): the
module's constants are marked with `N_` and translated where they are shown, so that
`VARIATION_TEXT`, `ASSURANCE_TEXT` and `RULE_TEXT` still map to the English.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

import sqlalchemy as sa

from qa_pipeline.i18n import ENGLISH, N_, ByLang, Lang
from qa_pipeline.load.db import as_date, indicator_spc, indicator_spc_series

if TYPE_CHECKING:
    from matplotlib.axes import Axes

MDC_COLOURS: dict[str, str] = {
    "common_cause": "#7b7d7d", "improvement": "#289de0", "concern": "#fab428",
    "pass": "#289de0", "fail": "#fab428", "hit_and_miss": "#7b7d7d",
}
"""Making Data Count's palette: grey for common cause (and hit and miss), blue for
improvement (and pass), orange for concern (and fail)."""
LINE_COLOUR = "#1e3a5f"
LIMIT_COLOUR = "#6b7280"
TARGET_COLOUR = "#b91c1c"
CHART_MONTHS = 24
"""The calendar months each chart shows, to the series' latest month (its mean and limits
come from the baseline, wherever it is)."""
SPC_CSS = """
.spc-grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(330px,1fr));gap:12px}
figure.spc{margin:0;border:1px solid #e5e7eb;border-radius:4px;padding:6px;min-width:0}
figure.spc figcaption{font-size:.82em;color:#374151;margin-top:2px}
.mdc-icon{display:inline-block;vertical-align:middle;line-height:0}
.key{display:inline-block;margin-right:12px;white-space:nowrap}
.dot{display:inline-block;width:10px;height:10px;border-radius:50%;margin-right:4px;
vertical-align:middle;border:2px solid transparent}
.dot.hollow{background:#fff;border-color:#7b7d7d}
ul.plain{list-style:none;padding-left:8px;margin:4px 0}
"""

VARIATION_TEXT = {
    "common_cause": N_("Common cause variation"),
    "improvement": N_("Special cause: improvement"),
    "concern": N_("Special cause: concern"),
}
ASSURANCE_TEXT = {
    "pass": N_("Consistently meets the target"),
    "fail": N_("Consistently misses the target"),
    "hit_and_miss": N_("Hit and miss: the target is within the limits"),
}
RULE_TEXT = {
    "outside_limits": N_("a point outside the limits"),
    "run": N_("a run of 7 or more points on one side of the mean"),
    "trend": N_("6 or more points all rising or all falling"),
    "two_of_three": N_("2 of 3 points beyond 2 sigma"),
}
SIGNAL_WORD = {
    "improvement": N_("improvement"),
    "concern": N_("concern"),
}
"""A special cause's signal in the night's message (any other signal is shown as its code)."""
SPECIAL_CAUSE = N_("special cause")
"""The night's message where the series' rule has no text."""


def _forms(lang: Lang, msgid: str | None, fallback: str = "") -> ByLang:
    """A marked text as a field of another translated text: each language its own words
    (`fallback` in every language where there is no text)."""
    if not msgid:
        return ByLang(dict.fromkeys(lang.languages, fallback))
    return ByLang(zip(lang.languages, lang.forms(msgid), strict=True))


@dataclass(frozen=True)
class SpcPoint:
    period_start: date
    period_label: str
    value: float
    denominator: int
    signal: str
    rule: str | None
    partial: bool


@dataclass
class SpcSeries:
    """One indicator's series for the whole authority, with the verdict on its latest month."""

    code: str
    points: list[SpcPoint] = field(default_factory=list)
    mean: float | None = None
    lower: float | None = None
    upper: float | None = None
    signal: str = "common_cause"
    rule: str | None = None
    assurance: str | None = None
    target: float | None = None
    new_special_cause: bool = False
    baseline_points: int = 0

    @property
    def latest(self) -> SpcPoint | None:
        return self.points[-1] if self.points else None


@dataclass(frozen=True)
class NewSpecialCause:
    """A series whose latest month became a special cause with this batch."""

    code: str
    breakdown_value: str
    signal: str
    rule: str | None
    period_label: str


def load_spc(conn: sa.Connection, as_of: date
             ) -> tuple[dict[str, SpcSeries], list[NewSpecialCause]]:
    """The whole authority's series of every indicator, and every series (teams too) whose
    latest month became a special cause with batch `as_of` (an indicator skipped in it keeps
    an older batch's series and verdict: not news tonight)."""
    p, s = indicator_spc.c, indicator_spc_series.c
    series: dict[str, SpcSeries] = {}
    for r in conn.execute(sa.select(indicator_spc_series).where(s.breakdown == "all")):
        series[r.indicator_code] = SpcSeries(
            code=r.indicator_code, assurance=r.assurance,
            target=None if r.target is None else float(r.target),
            new_special_cause=bool(r.new_special_cause), baseline_points=int(r.baseline_points))
    for r in conn.execute(sa.select(indicator_spc).where(p.breakdown == "all")
                          .order_by(p.indicator_code, p.period_start)):
        sr = series.get(r.indicator_code)
        if sr is None:
            continue
        sr.points.append(SpcPoint(as_date(r.period_start), r.period_label, float(r.value),
                                  int(r.denominator), r.signal, r.rule, bool(r.partial)))
        sr.mean, sr.lower, sr.upper = r.mean, r.lower_limit, r.upper_limit
        sr.signal, sr.rule = r.signal, r.rule
    new = [x for x, series_as_of in _new_special(conn) if series_as_of == as_of]
    return series, new


def new_special_cause_texts(conn: sa.Connection, as_of: date, *, lang: Lang = ENGLISH
                            ) -> list[str]:
    """What the night's message says of each series whose latest month became a special
    cause with batch `as_of`: indicator, whose series, month, signal and rule (plain text in
    `lang`)."""
    out = []
    for x, series_as_of in _new_special(conn):
        if series_as_of != as_of:
            continue
        whose = (_forms(lang, N_("whole authority")) if x.breakdown_value == "ALL"
                 else ByLang(zip(lang.languages,
                                 lang.forms(N_("team {team}"), team=x.breakdown_value),
                                 strict=True)))
        out.append(lang.tr("{code} {whose} {month}: {signal}, {reason}",
                           code=x.code, whose=whose, month=x.period_label,
                           signal=_forms(lang, SIGNAL_WORD.get(x.signal), x.signal),
                           reason=_forms(lang, RULE_TEXT.get(x.rule or "", SPECIAL_CAUSE))))
    return out


def _new_special(conn: sa.Connection) -> list[tuple[NewSpecialCause, date]]:
    p, s = indicator_spc.c, indicator_spc_series.c
    rows = conn.execute(
        sa.select(s.indicator_code, s.breakdown_value, p.signal, p.rule, p.period_label,
                  s.as_of)
        .join(indicator_spc, sa.and_(
            p.indicator_code == s.indicator_code, p.breakdown == s.breakdown,
            p.breakdown_value == s.breakdown_value, p.period_start == s.period_start))
        .where(s.new_special_cause == sa.true())
        .order_by(s.indicator_code, s.breakdown, s.breakdown_value))
    return [(NewSpecialCause(r.indicator_code, r.breakdown_value, r.signal, r.rule,
                             r.period_label), as_date(r.as_of))
            for r in rows]


# --- icons -------------------------------------------------------------------------------

def _circle_icon(colour: str, letter: str, label: str, kind: str, extra: str = "") -> str:
    return (f'<span class="mdc-icon {kind}" title="{html.escape(label)}">'
            f'<svg role="img" aria-label="{html.escape(label)}" width="26" height="26" '
            'viewBox="0 0 26 26" xmlns="http://www.w3.org/2000/svg">'
            f'<circle cx="13" cy="13" r="11.5" fill="#fff" stroke="{colour}" '
            f'stroke-width="2.5"/>{extra}'
            f'<text x="13" y="17.5" text-anchor="middle" font-size="12" font-weight="700" '
            f'font-family="Arial,sans-serif" fill="{colour}">{letter}</text></svg></span>')


def variation_icon(signal: str, polarity: str = "higher_is_better", *,
                   lang: Lang = ENGLISH) -> str:
    """Making Data Count's variation icon: grey for common cause, blue for improvement,
    orange for concern, with H or L for the direction of the special cause (higher or lower
    values: an improvement is higher where higher is better). Its label is in `lang`."""
    colour = MDC_COLOURS.get(signal, MDC_COLOURS["common_cause"])
    text = VARIATION_TEXT.get(signal)
    label = signal if text is None else lang.tr(text)
    if signal == "common_cause":
        wave = (f'<path d="M6 13 q3.5 -6 7 0 t7 0" fill="none" stroke="{colour}" '
                'stroke-width="2.2" stroke-linecap="round"/>')
        return _circle_icon(colour, "", label, "mdc-icon-variation mdc-variation-common_cause",
                            wave)
    high = (signal == "improvement") == (polarity != "lower_is_better")
    letter = "H" if high else "L"
    words = _forms(lang, text, signal)
    label = (lang.tr("{label} (high)", label=words) if high
             else lang.tr("{label} (low)", label=words))
    return _circle_icon(colour, letter, label, f"mdc-icon-variation mdc-variation-{signal}")


def assurance_icon(assurance: str | None, *, lang: Lang = ENGLISH) -> str:
    """Making Data Count's assurance icon: P (pass, blue), F (fail, orange), ? (hit and miss,
    grey); nothing without a target. Its label is in `lang`."""
    if assurance is None:
        return ""
    letter = {"pass": "P", "fail": "F", "hit_and_miss": "?"}[assurance]
    return _circle_icon(MDC_COLOURS[assurance], letter, lang.tr(ASSURANCE_TEXT[assurance]),
                        f"mdc-icon-assurance mdc-assurance-{assurance}")


# --- the chart ---------------------------------------------------------------------------

def _months_apart(a: date, b: date) -> int:
    return (b.year - a.year) * 12 + b.month - a.month


def _month_start(d: date, back: int) -> date:
    """The first day of the month `back` months before d's."""
    m = d.year * 12 + d.month - 1 - back
    return date(m // 12, m % 12 + 1, 1)


def _window(s: SpcSeries) -> tuple[date, date, list[SpcPoint]]:
    """The months a chart shows: the last CHART_MONTHS to the series' latest."""
    last = s.points[-1].period_start
    first = _month_start(last, CHART_MONTHS - 1)
    return first, last, [p for p in s.points if p.period_start >= first]


def _draw(ax: Axes, s: SpcSeries, unit: str, *, lang: Lang = ENGLISH) -> None:
    from matplotlib.dates import date2num

    first, last, pts = _window(s)
    x = [float(date2num(p.period_start)) for p in pts]
    # the line joins consecutive months only: a month without cases is a gap, not a bridge
    start = 0
    for i in range(1, len(pts) + 1):
        if i == len(pts) or _months_apart(pts[i - 1].period_start, pts[i].period_start) != 1:
            ax.plot(x[start:i], [p.value for p in pts[start:i]], color=LINE_COLOUR,
                    linewidth=1.2, zorder=2)
            start = i
    values = [p.value for p in pts] + [y for y in (s.mean, s.upper, s.target) if y is not None]
    top = 105.0 if unit == "percent" else max(values) * 1.1 + 1
    if s.mean is not None and s.lower is not None and s.upper is not None:
        ax.axhline(s.mean, color=LIMIT_COLOUR, linewidth=1.6, zorder=1)
        for y in (s.lower, s.upper):  # a limit no value can reach (< 0, > 100 %) is not drawn
            if 0 <= y <= top:
                ax.axhline(y, color=LIMIT_COLOUR, linewidth=1, linestyle=(0, (4, 3)),
                           zorder=1)
    if s.target is not None:
        ax.axhline(s.target, color=TARGET_COLOUR, linewidth=1.2, linestyle=(0, (1, 2)),
                   zorder=1)
    for xi, p in zip(x, pts, strict=True):
        colour = MDC_COLOURS.get(p.signal, MDC_COLOURS["common_cause"])
        ax.scatter([xi], [p.value], s=30 if p.signal != "common_cause" else 16,
                   facecolor="white" if p.partial else colour, edgecolor=colour,
                   linewidth=1.4, zorder=3)
    ax.set_ylim(-top * 0.14, top)  # room under 0 for the n of each point
    for xi, p in zip(x, pts, strict=True):
        ax.text(xi, -top * 0.08, str(p.denominator), fontsize=6, ha="center",
                va="center", color="#374151")
    if pts[-1].partial:
        ax.annotate(lang.tr("partial"), (x[-1], pts[-1].value), textcoords="offset points",
                    xytext=(0, 7), ha="center", fontsize=6, color="#374151")
    ax.axhline(0, color="#d1d5db", linewidth=0.6, zorder=0)
    ax.set_xlim(float(date2num(first)) - 20, float(date2num(last)) + 20)


def spc_chart(s: SpcSeries, title: str, unit: str, polarity: str, *,
              lang: Lang = ENGLISH) -> str:
    """The SPC chart of one series as inline SVG, its words and month ticks in `lang`."""
    import matplotlib.dates as mdates
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    from qa_pipeline.officers.report import svg

    fig = Figure(figsize=(4.4, 2.5))
    ax = fig.add_axes((0.11, 0.13, 0.87, 0.76))
    if s.points:
        _draw(ax, s, unit, lang=lang)
    else:
        ax.text(0.5, 0.5, lang.tr("no values"), ha="center", va="center", transform=ax.transAxes,
                fontsize=8, color="#666")
    heading = (lang.tr("{code} · higher is better", code=s.code)
               if polarity != "lower_is_better"
               else lang.tr("{code} · lower is better", code=s.code))
    ax.set_title(heading, fontsize=9, loc="left")
    ax.tick_params(labelsize=7)
    ax.xaxis.set_major_locator(mdates.MonthLocator(bymonth=(1, 4, 7, 10)))
    ax.xaxis.set_major_formatter(FuncFormatter(
        lambda x, _pos: lang.month_short(mdates.num2date(x))))
    ax.set_ylabel("%" if unit == "percent" else lang.tr("working days"), fontsize=7)
    ax.spines[["top", "right"]].set_visible(False)
    limits = (_forms(lang, N_("no limits: fewer than 12 baseline months")) if s.mean is None
              else _forms(lang, N_("grey: mean, dashed: limits")))
    label = lang.tr("SPC chart of {code}: {title}. {signal}; {limits}", code=s.code,
                    title=title, signal=_forms(lang, VARIATION_TEXT.get(s.signal)),
                    limits=limits)
    return svg(fig, label, f"spc-{s.code}")


def chart_figure(s: SpcSeries, title: str, unit: str, polarity: str, *,
                 lang: Lang = ENGLISH) -> str:
    """The chart in its <figure>, with a caption a screen reader and a printout can read
    (in `lang`; `title` is the indicator's title, already in it)."""
    caption = [f"<b>{html.escape(s.code)}</b> {html.escape(title)}."]
    last = s.latest
    if last is not None:
        caption.append(
            lang.trh("Latest: {month} (partial month), n = {n}.", month=last.period_label,
                     n=last.denominator) if last.partial
            else lang.trh("Latest: {month}, n = {n}.", month=last.period_label,
                          n=last.denominator))
    if s.mean is None:
        caption.append(lang.trh("No limits: {n} baseline months (12 needed).",
                                n=s.baseline_points))
    elif s.rule:
        caption.append(lang.trh("{signal}: {reason}.",
                                signal=_forms(lang, VARIATION_TEXT[s.signal]),
                                reason=_forms(lang, RULE_TEXT[s.rule])))
    shown = sorted({p.signal for p in _window(s)[2]}) if s.points else []
    return (f'<figure class="spc" id="spc-{html.escape(s.code)}" '
            f'data-indicator="{html.escape(s.code)}" data-signal="{html.escape(s.signal)}" '
            f'data-shown="{" ".join(shown)}" data-limits="{"no" if s.mean is None else "yes"}">'
            f'{spc_chart(s, title, unit, polarity, lang=lang)}'
            f'<figcaption>{" ".join(caption)}</figcaption></figure>')


def chart_key(*, lang: Lang = ENGLISH) -> str:
    """The legend shared by every chart, in `lang`."""
    items = [(MDC_COLOURS["common_cause"], lang.trh("common cause")),
             (MDC_COLOURS["improvement"], lang.trh("special cause: improvement")),
             (MDC_COLOURS["concern"], lang.trh("special cause: concern"))]
    dots = "".join(f'<span class="key"><span class="dot" style="background:{c}"></span>'
                   f'{t}</span>' for c, t in items)
    partial = lang.trh("partial month")
    lines = lang.trh("Grey line: mean; dashed: natural process limits (mean ± 2.66 × mean "
                     "moving range of the baseline; a limit below 0 or above 100 per cent is not "
                     "drawn); red dotted: target. The number under each point is its n "
                     "(cases). A month without cases is a gap.")
    return (f'<p class="muted">{dots}<span class="key"><span class="dot hollow"></span>'
            f'{partial}</span> {lines}</p>')
