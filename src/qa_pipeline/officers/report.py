"""The HTML report of a batch: one self-contained file a data officer or manager opens.

`build_report` writes `qa_report_<as_of>.html` for the latest published batch: run status
and per-extract counts, open issues by rule and by team as records to fix (new / persisting /
their dependent records / resolved), a chart of open issues over the last batches, the oldest
records to fix with their dependent records beneath, the median time to fix per team, the
headline indicators (latest month, target, polarity, trend charts) and, when they were run,
the Great Expectations checks. No network is needed to view it: the CSS is inline and the charts are
drawn with matplotlib and inlined as SVG; there is no script. Only pseudonymised record ids
appear — never an issue's value, and there is no identifying data in the database anyway.
"""

from __future__ import annotations

import html
import io
import os
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from qa_pipeline.i18n import ENGLISH, N_, Lang
from qa_pipeline.load.db import (
    as_date,
    batch,
    dq_exception,
    dq_issue,
    dq_rule,
    indicator,
    indicator_run,
    pipeline_run,
    pipeline_run_extract,
)
from qa_pipeline.officers.episodes import TeamTimeToFix, load_time_to_fix
from qa_pipeline.officers.issues import (
    DEPENDENT_RULE_SUFFIX,
    SEVERITY_ORDER,
    Issue,
    RootCause,
    filter_issues,
    is_dependent_rule,
    latest_batch,
    load_latest_issues,
    root_causes,
    team_names,
)
from qa_pipeline.officers.spc_report import (
    RULE_TEXT,
    SPC_CSS,
    VARIATION_TEXT,
    NewSpecialCause,
    SpcSeries,
    assurance_icon,
    chart_figure,
    chart_key,
    load_spc,
    variation_icon,
)
from qa_pipeline.privacy.redaction import redact_cut

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from qa_pipeline.officers.expectations import ExpectationsResult

HISTORY_BATCHES = 14
FIX_WINDOW_DAYS = 90
"""Time to fix, per team: the episodes resolved in the last this many days, to the batch."""
AREAS = [  # indicator code prefix -> area of the catalogue (indicators.md)
    ("REF", N_("Referrals")), ("ASM", N_("Assessments")), ("FTH", N_("Fathers")),
    ("CPC", N_("Child protection")), ("CIN", N_("Child in need plans")),
    ("FIT", N_("Family Intervention Team")),
]
SEVERITY_COLOURS = {"file_error": "#7f1d1d", "error": "#dc2626", "warning": "#f59e0b"}


def area_of(code: str) -> tuple[int, str]:
    for n, (prefix, name) in enumerate(AREAS):
        if code.startswith(prefix):
            return n, name
    return len(AREAS), N_("Other")


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


# --- data --------------------------------------------------------------------------------


@dataclass
class Headline:
    code: str
    title: str
    unit: str
    polarity: str
    target: float | None
    status: str                 # computed / skipped in the latest batch (or "not run")
    reason: str | None
    values_as_of: date | None   # the batch the shown values come from
    period_label: str | None = None
    value: float | None = None
    denominator: int | None = None
    partial: bool = False
    spc: SpcSeries | None = None
    """The statistical process control of its monthly series (indicator_spc)."""
    title_cy: str | None = None


@dataclass
class ReportData:
    as_of: date
    previous_as_of: date | None
    run: dict[str, Any] | None
    extracts: list[dict[str, Any]]
    issues: list[Issue]
    resolved: list[dict[str, Any]]
    rules: dict[str, dict[str, Any]]
    teams: dict[str, str]
    history: list[tuple[date, Counter[str]]]
    headlines: list[Headline]
    fix_since: date | None = None
    time_to_fix: list[TeamTimeToFix] = field(default_factory=list)
    new_special_causes: list[NewSpecialCause] = field(default_factory=list)

    @property
    def open_issues(self) -> list[Issue]:
        return filter_issues(self.issues)

    @property
    def root_causes(self) -> list[RootCause]:
        """The open issues as records to fix: what the counts count (a dependent row's
        warning is counted under its root cause, not on its own; under an accepted root cause
        it is left out with it)."""
        return root_causes(self.issues)

    @property
    def resolved_root_causes(self) -> list[dict[str, Any]]:
        """The resolved issues the counts count: not the dependent rows' warnings (they go
        with their root cause, as the open counts do)."""
        return [x for x in self.resolved if not is_dependent_rule(x["rule_id"])]

    @property
    def accepted(self) -> list[Issue]:
        return [i for i in self.issues if i.accepted]


def _view(name: str, *cols: str) -> sa.TableClause:
    return sa.table(name, *(sa.column(c) for c in cols))


def _history(conn: sa.Connection, batches: Sequence[date]) -> list[tuple[date, Counter[str]]]:
    """Open issues per batch by severity, without those under an exception in force then:
    records to fix, as the tables count them (not the dependent rows' warnings)."""
    i, e = dq_issue, dq_exception
    accepted = sa.exists().where(
        e.c.removed_at.is_(None), e.c.rule_id == i.c.rule_id, e.c.extract == i.c.extract,
        sa.func.coalesce(e.c.record_id, "") == sa.func.coalesce(i.c.record_id, ""),
        sa.or_(e.c.expires_on.is_(None), e.c.expires_on >= i.c.as_of))
    rows = conn.execute(
        sa.select(i.c.as_of, i.c.severity, sa.func.count())
        .where(i.c.as_of.in_(list(batches)), ~accepted,
               i.c.rule_id.not_like(f"%{DEPENDENT_RULE_SUFFIX}"))
        .group_by(i.c.as_of, i.c.severity)).all()
    counts: dict[date, Counter[str]] = {d: Counter() for d in batches}
    for d, sev, n in rows:
        counts[as_date(d)][str(sev)] += int(n)
    return sorted(counts.items())


def _headlines(conn: sa.Connection, as_of: date, spc: dict[str, SpcSeries]
               ) -> list[Headline]:
    """Each indicator's latest month for the whole authority, from its SPC series (the
    monthly rows of indicator_value_latest)."""
    cat = conn.execute(sa.select(indicator.c.code, indicator.c.title, indicator.c.unit,
                                 indicator.c.polarity, indicator.c.target,
                                 indicator.c.title_cy)).all()
    runs = {r.indicator_code: r for r in conn.execute(
        sa.select(indicator_run).where(indicator_run.c.as_of == as_of))}
    latest = {r.indicator_code: as_date(r.as_of) for r in conn.execute(
        sa.select(indicator_run.c.indicator_code, sa.func.max(indicator_run.c.as_of)
                  .label("as_of")).where(indicator_run.c.status == "computed")
        .group_by(indicator_run.c.indicator_code))}
    out = []
    for c in sorted(cat, key=lambda c: (area_of(c.code)[0], c.code)):
        run = runs.get(c.code)
        series = spc.get(c.code)
        point = series.latest if series is not None else None
        h = Headline(code=c.code, title=c.title, unit=c.unit, polarity=c.polarity,
                     target=None if c.target is None else float(c.target),
                     status=run.status if run is not None else "not recorded",
                     reason=run.reason if run is not None else None,
                     values_as_of=latest.get(c.code) if point is not None else None,
                     spc=series, title_cy=c.title_cy)
        if point is not None:
            h.period_label, h.value, h.denominator = (point.period_label, point.value,
                                                      point.denominator)
            h.partial = point.partial
        out.append(h)
    return out


def gather(engine: sa.Engine, *, run_id: str | None = None,
           history_batches: int = HISTORY_BATCHES) -> ReportData:
    """Everything the report shows, for the latest published batch."""
    as_of = latest_batch(engine)
    issues = load_latest_issues(engine)
    with engine.connect() as conn:
        batches = [as_date(d) for d in conn.execute(
            sa.select(batch.c.as_of).where(batch.c.as_of <= as_of)
            .order_by(batch.c.as_of.desc()).limit(max(history_batches, 2))).scalars()]
        previous = batches[1] if len(batches) > 1 else None
        if run_id is None:
            run_id = conn.execute(sa.select(batch.c.run_id).where(batch.c.as_of == as_of)
                                  ).scalar()
        run = conn.execute(sa.select(pipeline_run).where(pipeline_run.c.run_id == run_id)
                           ).mappings().first()
        extracts = [dict(r) for r in conn.execute(
            sa.select(pipeline_run_extract).where(pipeline_run_extract.c.run_id == run_id)
        ).mappings()]
        rv = _view("dq_issue_resolved", "extract", "record_id", "team_id", "rule_id",
                   "severity", "first_seen", "last_seen")
        resolved = [dict(r) for r in conn.execute(sa.select(rv)).mappings()]
        rules = {r["rule_id"]: dict(r) for r in conn.execute(sa.select(dq_rule)).mappings()}
        history = _history(conn, batches[:history_batches])
        spc, new_special = load_spc(conn, as_of)
        headlines = _headlines(conn, as_of, spc)
    order = {n: k for k, n in enumerate(_extract_order())}
    extracts.sort(key=lambda r: (order.get(r["extract"], 99), r["extract"]))
    fix_since, time_to_fix = _fix_times(engine, as_of)
    return ReportData(as_of=as_of, previous_as_of=previous,
                      run=dict(run) if run is not None else None, extracts=extracts,
                      issues=issues, resolved=resolved, rules=rules,
                      teams=team_names(engine, as_of), history=history, headlines=headlines,
                      fix_since=fix_since, time_to_fix=time_to_fix,
                      new_special_causes=new_special)


def _fix_times(engine: sa.Engine, as_of: date) -> tuple[date, list[TeamTimeToFix]]:
    """The first day of the FIX_WINDOW_DAYS to `as_of`, and the time to fix per team of the
    episodes resolved in them."""
    since = as_of - timedelta(days=FIX_WINDOW_DAYS - 1)
    return since, load_time_to_fix(engine, since=since, until=as_of)


def _extract_order() -> list[str]:
    from qa_pipeline.spec.contracts import load_contracts

    return [e.name for e in load_contracts().ordered()]


def counts_by_rule(data: ReportData) -> list[dict[str, Any]]:
    """Per rule: open (not accepted) issues of the latest batch as records to fix (root
    causes), new, persisting, their dependent records, resolved since the previous batch,
    and accepted exceptions."""
    rows: dict[str, dict[str, Any]] = {}

    def row(rule_id: str, extract: str, severity: str) -> dict[str, Any]:
        if rule_id not in rows:
            rule = data.rules.get(rule_id, {})
            rows[rule_id] = {"rule_id": rule_id, "extract": rule.get("extract", extract),
                             "severity": rule.get("severity", severity),
                             "description": rule.get("description", ""),
                             "description_cy": rule.get("description_cy"), "open": 0,
                             "new": 0, "persisting": 0, "dependent": 0, "resolved": 0,
                             "accepted": 0}
        return rows[rule_id]

    for i in data.accepted:
        row(i.rule_id, i.extract, i.severity)["accepted"] += 1
    for rc in data.root_causes:
        r = row(rc.issue.rule_id, rc.issue.extract, rc.issue.severity)
        r["open"] += 1
        r[rc.issue.status] += 1
        r["dependent"] += len(rc.dependents)
    for x in data.resolved_root_causes:
        row(x["rule_id"], x["extract"], x["severity"])["resolved"] += 1
    return sorted(rows.values(), key=lambda r: (-r["open"], SEVERITY_ORDER.get(
        r["severity"], 9), r["rule_id"]))


def counts_by_team(data: ReportData) -> list[dict[str, Any]]:
    """Per team (and "no team"): open (records to fix), new, persisting, their dependent
    records, resolved, accepted."""
    rows: dict[str | None, dict[str, Any]] = {}

    def row(team: str | None) -> dict[str, Any]:
        team = team or None
        if team not in rows:
            rows[team] = {"team_id": team or "", "team_name": data.teams.get(team, "")
                          if team else "(no team)", "open": 0, "new": 0, "persisting": 0,
                          "dependent": 0, "resolved": 0, "accepted": 0, "oldest_days": 0}
        return rows[team]

    for t in data.teams:
        row(t)
    for i in data.accepted:
        row(i.team_id)["accepted"] += 1
    for rc in data.root_causes:
        r = row(rc.issue.team_id)
        r["open"] += 1
        r[rc.issue.status] += 1
        r["dependent"] += len(rc.dependents)
        r["oldest_days"] = max(r["oldest_days"], rc.issue.age_days)
    for x in data.resolved_root_causes:
        row(x["team_id"])["resolved"] += 1
    return sorted(rows.values(), key=lambda r: (r["team_id"] == "", r["team_id"]))


def effective_status(run_status: str | None, failed_expectations: Sequence[str]) -> str:
    """The run's status once failed expectations are taken into account."""
    status = run_status or "unknown"
    if failed_expectations and status == "succeeded":
        return "succeeded_with_issues"
    return status


# --- charts ------------------------------------------------------------------------------


def svg(fig: Figure, label: str, salt: str, *, tight: bool = False) -> str:
    """The figure as an inline <svg> element (text kept as text, no external reference)."""
    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": salt}):
        fig.savefig(buf, format="svg", bbox_inches="tight" if tight else None,
                    metadata={"Date": None})
    text = buf.getvalue()
    text = text[text.index("<svg"):]
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.S)  # RDF: no use here
    return text.replace("<svg ", f'<svg role="img" aria-label="{html.escape(label)}" ', 1)


SEVERITY_WORDS = {"file_error": N_("file error"), "error": N_("error"),
                  "warning": N_("warning")}
"""A severity as a reader reads it (the code stays in the worklists and the database)."""


def issues_chart(history: Sequence[tuple[date, Counter[str]]], lang: Lang = ENGLISH) -> str:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 3.2))
    ax = fig.add_subplot()
    labels = [lang.day_short(d) for d, _ in history]
    xs = list(range(len(history)))
    bottom = [0] * len(history)
    for sev in ("file_error", "error", "warning"):
        ys = [c.get(sev, 0) for _, c in history]
        ax.bar(xs, ys, bottom=bottom, color=SEVERITY_COLOURS[sev],
               label=lang.tr(SEVERITY_WORDS[sev]), width=0.7)
        bottom = [b + y for b, y in zip(bottom, ys, strict=True)]
    for x, total in zip(xs, bottom, strict=True):
        ax.annotate(str(total), (x, total), ha="center", va="bottom", fontsize=8,
                    xytext=(0, 2), textcoords="offset points")
    ax.set_xticks(xs, labels, rotation=45, ha="right", fontsize=8)
    ax.set_xlim(-0.6, max(len(xs), 8) - 0.4)  # a few batches: keep the bars narrow
    ax.set_ylabel(lang.tr("open issues"))
    ax.set_ylim(0, max(bottom + [1]) * 1.15)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_title(lang.tr("Open issues per batch (accepted exceptions excluded)"), fontsize=10)
    return svg(fig, lang.tr("Bar chart of open issues per batch by severity"), "issues",
               tight=True)


# --- HTML --------------------------------------------------------------------------------

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;margin:0;
color:#1f2937;background:#f8fafc;line-height:1.4}
header{background:#1e3a5f;color:#fff;padding:18px 32px}
header h1{margin:0 0 6px;font-size:1.5em}
header p{margin:2px 0;opacity:.9}
main{max-width:1180px;margin:0 auto;padding:8px 32px 40px}
nav{max-width:1180px;margin:16px auto 0;padding:0 32px}
nav ol{columns:2;margin:4px 0 0;padding-left:20px}
section{background:#fff;border:1px solid #e2e8f0;border-radius:6px;padding:12px 20px;
margin:18px 0}
h2{font-size:1.2em;margin:6px 0 10px;color:#1e3a5f}
h3{font-size:1.02em;margin:16px 0 6px}
table{border-collapse:collapse;width:100%;font-size:.86em;margin:6px 0}
th,td{border-bottom:1px solid #e5e7eb;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#eef2f7;position:sticky;top:0}
td{overflow-wrap:break-word}td code{overflow-wrap:anywhere}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.table-wrap{max-width:100%;margin:6px 0}.table-wrap>table{margin:0}
tr.total td{font-weight:600;border-top:2px solid #cbd5e1}
.badge{display:inline-block;padding:2px 9px;border-radius:10px;font-weight:600;font-size:.9em}
.succeeded{background:#dcfce7;color:#14532d}
.succeeded_with_issues{background:#fef3c7;color:#78350f}
.failed{background:#fee2e2;color:#7f1d1d}
.unknown{background:#e5e7eb}
.sev-file_error{color:#7f1d1d;font-weight:600}.sev-error{color:#b91c1c}
.sev-warning{color:#92400e}.sev-file_error,.sev-error,.sev-warning,.badge{white-space:nowrap}
.better{color:#15803d}.worse{color:#b91c1c}.same{color:#6b7280}
.muted{color:#6b7280;font-size:.9em}.nowrap{white-space:nowrap}
.top{float:right;font-size:.8em;font-weight:normal}
svg{max-width:100%;height:auto}
.chart,figure{margin:8px 0;max-width:100%}
main{overflow-wrap:break-word}
details{margin:8px 0}
footer{max-width:1180px;margin:0 auto;padding:0 32px 30px;color:#6b7280;font-size:.85em}
@media (max-width:900px){header{padding:14px 16px}main{padding:4px 12px 32px}
nav{padding:0 12px}footer{padding:0 12px 24px}section{padding:10px 12px}
table{font-size:.8em}th,td{padding:3px 4px}.table-wrap{overflow-x:auto}}
@media print{nav,.top{display:none}section{break-inside:avoid}}
"""

BILINGUAL_CSS = """
h1 span.en,h2 span.en{display:block;font-size:.72em;font-weight:normal;opacity:.85}
nav span.en,footer span.en,header p span.en{opacity:.8}
nav span.en::before,header p span.en::before,footer span.en::before,
a.top span.en::before{content:" / "}
p.para span.en{display:block;margin-top:6px;opacity:.85}
li>span.en::before,th span.en::before,td span.en::before,h3 span.en::before{content:" / "}
"""
"""In `cy+en` the English follows the Welsh: under it in a heading, after a slash in a line."""

SECTIONS = [
    ("tonight", N_("What changed tonight")),
    ("run", N_("Run status and extracts")),
    ("issues-by-rule", N_("Open issues by rule")),
    ("issues-by-team", N_("Open issues by team")),
    ("issues-trend", N_("Open issues over the last batches")),
    ("oldest-issues", N_("Oldest open issues")),
    ("time-to-fix", N_("Time to fix, per team")),
    ("indicators", N_("Headline indicators")),
    ("indicator-trends", N_("Indicator charts (statistical process control)")),
    ("expectations", N_("Data checks (Great Expectations)")),
]


DISPLAY_MAX = 1000
"""The longest text the report prints in one place (its original length is noted)."""


def e(v: Any) -> str:
    """A value as HTML text: NHS numbers masked, cut to DISPLAY_MAX, escaped."""
    return html.escape(redact_cut("" if v is None else str(v), DISPLAY_MAX) or "")


def _table(header: Sequence[tuple[str, bool]], rows: Iterable[Sequence[str]],
           total: Sequence[str] | None = None, lang: Lang = ENGLISH) -> str:
    """header: (label, numeric), the label a catalogue message id (`N_`) shown in `lang`.
    Cells are HTML already. The table is in a `.table-wrap` that scrolls sideways on a
    narrow screen, inside its section."""
    out = ['<div class="table-wrap"><table><thead><tr>']
    out += [f'<th{" class=n" if num else ""}>{lang.trh(h)}</th>' for h, num in header]
    out.append("</tr></thead><tbody>")
    body = list(rows)
    for r in body:
        out.append("<tr>" + "".join(
            f'<td{" class=n" if num else ""}>{c}</td>'
            for c, (_, num) in zip(r, header, strict=True)) + "</tr>")
    if not body:
        out.append(f'<tr><td colspan="{len(header)}" class="muted">' + lang.trh("none")
                   + "</td></tr>")
    if total is not None and body:
        out.append('<tr class="total">' + "".join(
            f'<td{" class=n" if num else ""}>{c}</td>'
            for c, (_, num) in zip(total, header, strict=True)) + "</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def _fmt_value(v: float | None, unit: str, lang: Lang = ENGLISH) -> str:
    if v is None:
        return "—"
    if unit == "percent":
        return f"{v:.1f}%"
    return lang.trh("{days} wd", days=f"{v:.1f}")


def _section(sid: str, title: str, body: str, lang: Lang = ENGLISH) -> str:
    """`title` is HTML (a heading already in the document's languages)."""
    up = lang.trh("contents")
    return (f'<section id="{sid}"><h2>{title}<a class="top" href="#contents">'
            f'↑ {up}</a></h2>{body}</section>')


def _para(lang: Lang, build: Callable[[Lang], str]) -> str:
    """A paragraph of sentences with markup, whole in each language (`Lang.each`)."""
    return f'<p class="para">{lang.each(build)}</p>'


STATUS_WORDS = {"succeeded": N_("succeeded"),
                "succeeded_with_issues": N_("succeeded_with_issues"),
                "failed": N_("failed"), "running": N_("running"), "unknown": N_("unknown"),
                "loaded": N_("loaded"), "rejected": N_("rejected"), "missing": N_("missing"),
                "computed": N_("computed"), "skipped": N_("skipped"),
                "not recorded": N_("not recorded")}
"""The status words the report shows (a run's, an extract's, an indicator's); another is
shown as it is stored."""


def _status(lang: Lang, value: Any) -> str:
    text = "" if value is None else str(value)
    return lang.trh(STATUS_WORDS[text]) if text in STATUS_WORDS else e(text)


def _severity(lang: Lang, sev: str) -> str:
    word = lang.trh(SEVERITY_WORDS[sev]) if sev in SEVERITY_WORDS else e(sev)
    return f'<span class="sev-{e(sev)}">{word}</span>'


def _run_section(data: ReportData, failed: Sequence[str], lang: Lang = ENGLISH) -> str:
    run = data.run or {}
    status = effective_status(run.get("status"), failed)
    note = ""
    if status != (run.get("status") or "unknown"):
        link = '<a href="#expectations">' + lang.trh("data checks") + "</a>"
        note = (' <span class="muted">'
                + lang.trh_markup("(recorded as {status}; data checks failed — see {link})",
                                  status=_status(lang, run.get("status")), link=link)
                + "</span>")
    facts = [
        (N_("Batch (extract date)"), e(data.as_of.isoformat())),
        (N_("Status"), f'<span class="badge {e(status)}">{_status(lang, status)}</span>{note}'),
        (N_("Run"), f'<code>{e(run.get("run_id"))}</code>'),
        (N_("Started / finished (UTC)"),
         f'{e(_ts(run.get("started_at")))} / {e(_ts(run.get("finished_at")))}'),
        (N_("Rows read / loaded / quarantined"),
         f'{e(run.get("rows_read"))} / {e(run.get("rows_loaded"))} / '
         f'{e(run.get("rows_quarantined"))}'),
        (N_("Message"), e(run.get("message"))),
        (N_("Code version"), e(run.get("code_version"))),
        (N_("Previous batch"), e(data.previous_as_of.isoformat()) if data.previous_as_of
         else lang.trh("none")),
    ]
    dl = "<table>" + "".join(f"<tr><th>{lang.trh(k)}</th><td>{v}</td></tr>"
                             for k, v in facts) + "</table>"
    rows = [[e(x["extract"]), e(x["file_name"]), _status(lang, x["status"]),
             e(x["rows_read"]), e(x["rows_loaded"]), e(x["rows_quarantined"]),
             e(x["warnings"]), e(x.get("reason") or "")] for x in data.extracts]
    tot = [lang.trh("Total"), "", "", *(e(sum(int(x[k] or 0) for x in data.extracts))
                                        for k in ("rows_read", "rows_loaded",
                                                  "rows_quarantined", "warnings")), ""]
    ex = _table([(N_("Extract"), False), (N_("File"), False), (N_("Status"), False),
                 (N_("Read"), True), (N_("Loaded"), True), (N_("Quarantined"), True),
                 (N_("Warnings"), True), (N_("Reason"), False)], rows, tot, lang)
    return dl + "<h3>" + lang.trh("Per extract") + "</h3>" + ex


def _ts(v: Any) -> str:
    if isinstance(v, datetime):
        return v.strftime("%Y-%m-%d %H:%M:%S")
    return "" if v is None else str(v)[:19]


def _rule_section(data: ReportData, lang: Lang = ENGLISH) -> str:
    rows = counts_by_rule(data)
    cells = [[f'<code>{e(r["rule_id"])}</code><br><span class="muted">'
              f'{lang.pairh(r["description"], r.get("description_cy"))}</span>',
              e(r["extract"]), _severity(lang, r["severity"]),
              e(r["open"]), e(r["new"]), e(r["persisting"]), e(r["dependent"]),
              e(r["resolved"]), e(r["accepted"])] for r in rows]
    tot = [lang.trh("Total"), "", "", *(e(sum(r[k] for r in rows)) for k in (
        "open", "new", "persisting", "dependent", "resolved", "accepted"))]

    def explain(x: Lang) -> str:
        since = (x.trh("since the previous batch ({day})", day=str(data.previous_as_of))
                 if data.previous_as_of else x.trh("(first batch: nothing to compare)"))
        words = {k: "<b>" + x.trh(w) + "</b>" for k, w in (
            ("new", N_("new")), ("persisting", N_("persisting")),
            ("dependent", N_("Dependent")), ("resolved", N_("Resolved")),
            ("accepted", N_("Accepted")))}
        return x.trh_markup(
            "Open issues of batch {day}, one per record to fix: {new} first appeared in this "
            "batch, {persisting} were already there in the previous one. {dependent}: "
            "records loaded although the record they refer to was quarantined for this "
            "fault; they are left out of the indicators that read it, and their warnings are "
            "counted here, under their root cause, not as open issues of their own. "
            "{resolved}: gone {since}. {accepted}: covered by an accepted exception (not "
            "counted as open).", day=e(data.as_of), since=since, **words)

    return (_para(lang, explain)
            + _table([(N_("Rule"), False), (N_("Extract"), False), (N_("Severity"), False),
                      (N_("Open"), True), (N_("New"), True), (N_("Persisting"), True),
                      (N_("Dependent"), True), (N_("Resolved"), True), (N_("Accepted"), True)],
                     cells, tot, lang))


def _no_team(lang: Lang) -> str:
    return lang.trh("(no team)")


def _team_section(data: ReportData, lang: Lang = ENGLISH) -> str:
    rows = counts_by_team(data)
    cells = [[e(r["team_id"] or "—"),
              e(r["team_name"]) if r["team_id"] else _no_team(lang), e(r["open"]),
              e(r["new"]), e(r["persisting"]), e(r["dependent"]), e(r["resolved"]),
              e(r["accepted"]), e(r["oldest_days"])] for r in rows]
    tot = [lang.trh("Total"), "", *(e(sum(r[k] for r in rows)) for k in (
        "open", "new", "persisting", "dependent", "resolved", "accepted")), ""]
    return ("<p>" + lang.trh("Each team with records to fix has its own sheet of the Excel "
                             "worklists of this batch.") + "</p>"
            + _table([(N_("Team"), False), (N_("Name"), False), (N_("Open"), True),
                      (N_("New"), True), (N_("Persisting"), True), (N_("Dependent"), True),
                      (N_("Resolved"), True), (N_("Accepted"), True),
                      (N_("Oldest (days)"), True)], cells, tot, lang))


def _trend_section(data: ReportData, lang: Lang = ENGLISH) -> str:
    if not data.history:
        return '<p class="muted">' + lang.trh("No batch.") + "</p>"
    return f'<div class="chart">{issues_chart(data.history, lang)}</div>'


DEPENDENTS_SHOWN = 10
"""How many dependent records the report names beneath a root cause (the worklists list
them all)."""


def dependents_html(rc: RootCause, shown: int = DEPENDENTS_SHOWN, lang: Lang = ENGLISH
                    ) -> str:
    """"N dependent records", and the first of them, beneath a root cause's record."""
    if not rc.dependents:
        return ""
    names = ", ".join(f"{e(d.extract)} {e(d.record_id)}" for d in rc.dependents[:shown])
    more = len(rc.dependents) - shown
    if lang.code == "en":  # English has the plural "s"; Welsh counts as "Cofnodion dibynnol: N"
        text = (f'{len(rc.dependents)} dependent record'
                f'{"s" if len(rc.dependents) != 1 else ""}: {names}'
                f'{f" and {more} more" if more > 0 else ""}')
    else:
        text = lang.trh_markup("Dependent records: {n}: {names}", n=str(len(rc.dependents)),
                               names=names)
        if more > 0:
            text += " " + lang.trh("and {more} more", more=more)
    return f'<br><span class="muted">{text}</span>'


def _oldest_section(data: ReportData, limit: int = 25, lang: Lang = ENGLISH) -> str:
    roots = sorted(data.root_causes, key=lambda rc: (-rc.issue.age_days, SEVERITY_ORDER.get(
        rc.issue.severity, 9), rc.issue.extract, rc.issue.record_id or ""))[:limit]
    cells = [[(e(rc.issue.record_id) if rc.issue.record_id else lang.trh("(file)"))
              + dependents_html(rc, lang=lang), e(rc.issue.extract),
              f"<code>{e(rc.issue.rule_id)}</code>", _severity(lang, rc.issue.severity),
              e(rc.issue.team_id or "—"), e(rc.issue.first_seen.isoformat()),
              e(rc.issue.age_days)] for rc in roots]
    intro = lang.trh("The {limit} oldest records to fix (record ids are pseudonymised Paris "
                     "keys; the full lists are in the worklists). Beneath a record: the "
                     "records that depend on it (loaded, but left out of the indicators that "
                     "read it).", limit=limit)
    return (f"<p>{intro}</p>"
            + _table([(N_("Record"), False), (N_("Extract"), False), (N_("Rule"), False),
                      (N_("Severity"), False), (N_("Team"), False), (N_("First seen"), False),
                      (N_("Age (days)"), True)], cells, lang=lang))


def _has_targets(data: ReportData) -> bool:
    return any(h.target is not None for h in data.headlines)


def _indicator_section(data: ReportData, lang: Lang = ENGLISH) -> str:
    targets = _has_targets(data)
    cells = []
    for h in data.headlines:
        sp = h.spc
        variation = ""
        if sp is not None and sp.points:
            variation = (variation_icon(sp.signal, h.polarity, lang=lang)
                         + f' <span class="muted">{_variation_words(sp, lang)}</span>')
        status = _status(lang, h.status)
        if h.status != "computed":
            status += f'<br><span class="muted">{e(h.reason or "")}</span>'
            if h.values_as_of:
                status += ('<br><span class="muted">'
                           + lang.trh("values of {day}", day=str(h.values_as_of)) + "</span>")
        month = e(h.period_label or "—") + (
            ' <span class="muted">' + lang.trh("(partial)") + "</span>" if h.partial else "")
        row = [f'<a href="#spc-{e(h.code)}"><b>{e(h.code)}</b></a>',
               lang.pairh(h.title, h.title_cy),
               f'<span class="nowrap">{month}</span>', _fmt_value(h.value, h.unit, lang),
               e(h.denominator if h.denominator is not None else "—"), variation]
        if targets:
            assured = assurance_icon(sp.assurance if sp else None, lang=lang)
            row += ["—" if h.target is None else _fmt_value(h.target, h.unit, lang),
                    assured or '<span class="muted">—</span>']
        row += [lang.trh("higher is better") if h.polarity != "lower_is_better"
                else lang.trh("lower is better"), status]
        cells.append(row)
    header = [(N_("Code"), False), (N_("Indicator"), False), (N_("Month"), False),
              (N_("Value"), True), (N_("n"), True), (N_("Variation"), False)]
    if targets:
        header += [(N_("Target"), True), (N_("Assurance"), False)]
    header += [(N_("Direction"), False), (N_("This batch"), False)]

    def explain(x: Lang) -> str:
        text = x.trh_markup(
            "The latest month of each indicator for the whole authority ({all}), judged on "
            "its statistical process control chart ({summary}): a {common} icon means the "
            "month is within the variation the indicator always shows — not news, however "
            "it compares with the month before; a {special} is blue when it is an "
            "improvement and orange when it is a concern. {n} is the number of cases: on a "
            "few cases a value swings widely.", all="<code>breakdown = all</code>",
            summary="<code>indicator_spc_summary</code>",
            common="<b>" + x.trh("common cause") + "</b>",
            special="<b>" + x.trh("special cause") + "</b>", n="<i>" + x.trh("n") + "</i>")
        if targets:
            return text + " " + x.trh_markup(
                "{word} says whether the process will meet the target.",
                word="<b>" + x.trh("Assurance") + "</b>")
        return text + " " + x.trh("No indicator has a target set, so there is no assurance.")

    return _para(lang, explain) + _table(header, cells, lang=lang)


def _variation_words(sp: SpcSeries, lang: Lang = ENGLISH) -> str:
    """HTML: the verdict on the latest month, and the rule that made it a special cause."""
    if sp.mean is None:
        return lang.trh("no limits yet ({n} of 12 baseline months)", n=sp.baseline_points)
    words = lang.trh(VARIATION_TEXT[sp.signal])
    return f"{words}: {lang.trh(RULE_TEXT[sp.rule])}" if sp.rule else words


def _indicator_trend_section(data: ReportData, lang: Lang = ENGLISH) -> str:
    by_area: dict[str, list[Headline]] = defaultdict(list)
    for h in data.headlines:
        by_area[area_of(h.code)[1]].append(h)
    if not by_area:
        return '<p class="muted">' + lang.trh("No indicators in the database.") + "</p>"
    links = " · ".join(f'<a href="#trend-{slug(a)}">{lang.trh(a)}</a>' for a in by_area)
    intro = lang.trh("Each indicator's monthly values for the whole authority, the last "
                     "months of its series, as an XmR chart (NHS Making Data Count).")
    parts = [f"<p>{intro} {links}</p>", chart_key(lang=lang)]
    for area, hs in by_area.items():
        figures = "".join(
            chart_figure(h.spc or SpcSeries(code=h.code), lang.pair(h.title, h.title_cy),
                         h.unit, h.polarity, lang=lang)
            for h in hs)
        parts.append(f'<h3 id="trend-{slug(area)}">{lang.trh(area)}</h3>'
                     f'<div class="spc-grid">{figures}</div>')
    return "".join(parts)


def _tonight_section(data: ReportData, failed: Sequence[str], lang: Lang = ENGLISH) -> str:
    """What a reader of last night's report wants first: what is new."""
    new = [rc for rc in data.root_causes if rc.issue.status == "new"]
    by_rule = Counter(rc.issue.rule_id for rc in new)
    resolved = data.resolved_root_causes
    authority = [x for x in data.new_special_causes if x.breakdown_value == "ALL"]
    polarity = {h.code: h.polarity for h in data.headlines}
    teams = [x for x in data.new_special_causes if x.breakdown_value != "ALL"]

    def items(x: Lang) -> list[str]:
        since = (x.trh("since the previous batch ({day})", day=str(data.previous_as_of))
                 if data.previous_as_of else x.trh("(the first batch: everything is new)"))
        rules = (": " + ", ".join(f"<code>{e(r)}</code> {n}" for r, n in
                                  by_rule.most_common(5))
                 + (", …" if len(by_rule) > 5 else "") if new else "")
        out = [x.trh_markup("{n} new records to fix {since}", n=f"<b>{len(new)}</b>",
                            since=since) + rules,
               x.trh_markup("{n} resolved {since}", n=f"<b>{len(resolved)}</b>", since=since)]
        if authority:
            rows = "".join(
                f'<li>{variation_icon(s.signal, polarity.get(s.code, ""), lang=x)} '
                f'<a href="#spc-{e(s.code)}"><b>{e(s.code)}</b></a> {e(s.period_label)}: '
                f'{x.trh(VARIATION_TEXT[s.signal])} — '
                f'{x.trh(RULE_TEXT[s.rule]) if s.rule in RULE_TEXT else ""}</li>'
                for s in authority)
            out.append(x.trh_markup("{n} indicator(s) with a new special cause (whole "
                                    "authority):", n=f"<b>{len(authority)}</b>")
                       + f'<ul class="plain">{rows}</ul>')
        else:
            out.append(x.trh("No indicator has a new special cause for the whole authority."))
        if teams:
            out.append(x.trh_markup("{n} team series with a new special cause ({table}, "
                                    "{column})", n=f"<b>{len(teams)}</b>",
                                    table="<code>indicator_spc_summary</code>",
                                    column="<code>new_special_cause</code>"))
        if failed:
            out.append(x.trh_markup("{n} data checks failed: see {link}",
                                    n=f"<b>{len(failed)}</b>",
                                    link='<a href="#expectations">'
                                         + x.trh("the data checks") + "</a>"))
        return out

    if lang.code != "cy+en":
        return "<ul>" + "".join(f"<li>{i}</li>" for i in items(lang)) + "</ul>"
    pairs = zip(items(Lang("cy")), items(Lang("en")), strict=True)
    return "<ul>" + "".join(f'<li><span lang="cy">{cy}</span><span class="en" lang="en">'
                            f"{en}</span></li>" for cy, en in pairs) + "</ul>"


def _days(v: float | None) -> str:
    if v is None:
        return "—"
    return str(int(v)) if v.is_integer() else f"{v:.1f}"


def _time_to_fix_section(data: ReportData, lang: Lang = ENGLISH) -> str:
    cells = [[e(r.team_id or "—"), e(data.teams.get(r.team_id, "")) if r.team_id
              else _no_team(lang), e(r.resolved), e(_days(r.median_days)), e(r.still_open)]
             for r in data.time_to_fix]

    def explain(x: Lang) -> str:
        window = (x.trh("from {since} to {day} (the last {days} days)",
                        since=str(data.fix_since), day=str(data.as_of), days=FIX_WINDOW_DAYS)
                  if data.fix_since else x.trh("up to {day}", day=str(data.as_of)))
        return x.trh_markup(
            "Per team: the issues resolved in a batch {window}, with the median days they "
            "took to fix, and the issues still open. Each counts once per {episode}, an "
            "unbroken run of published batches in which one record broke one rule (an issue "
            "fixed, back and fixed again is two). {days}: from the first batch of the "
            "episode to the first batch without it; the median of an even count is the mean "
            "of the two middle values. {open}: in the latest batch, accepted exceptions "
            "included. From {table}.", window=window, episode="<i>" + x.trh("episode") + "</i>",
            days="<b>" + x.trh("Days to fix") + "</b>", open="<b>" + x.trh("Still open") + "</b>",
            table="<code>dq_issue_episode</code>")

    return (_para(lang, explain)
            + _table([(N_("Team"), False), (N_("Name"), False), (N_("Resolved"), True),
                      (N_("Median days to fix"), True), (N_("Still open"), True)], cells,
                     lang=lang))


def _expectations_section(result: ExpectationsResult | None, out_dir: Path,
                          lang: Lang = ENGLISH) -> str:
    if result is None:
        return ('<p class="muted">'
                + lang.trh_markup("The Great Expectations checks were not run for this report "
                                  "(they run after each nightly publish, or with {command}).",
                                  command="<code>qa-pipeline report --check</code>")
                + "</p>")
    failed = result.failed
    passed = sum(o.success for o in result.outcomes)
    head = "<p>" + lang.trh_markup("{passed} of {total} checks passed on batch {day}.",
                                   passed=f"<b>{passed}</b>", total=str(len(result.outcomes)),
                                   day=e(result.as_of))
    if result.data_docs_path is not None:
        rel = os.path.relpath(result.data_docs_path, out_dir)
        head += " " + lang.trh_markup("Details: {link}.", link=(
            f'<a href="{e(Path(rel).as_posix())}">Data Docs</a>'))
    head += "</p>"
    if failed:
        head += ("<h3>" + lang.trh("Failed checks") + "</h3><ul>"
                 + "".join(f'<li class="worse">{e(f)}</li>' for f in failed) + "</ul>")
    if result.acknowledged:
        head += ("<h3>" + lang.trh("Accepted at release") + '</h3><p class="muted">'
                 + lang.trh("Still checked, not counted as failed: the row drop that held the "
                            "batch, accepted by the officer who released it.")
                 + "</p><ul>"
                 + "".join(f"<li>{e(a)}</li>" for a in result.acknowledged) + "</ul>")
    rows = [[e(o.table), e(o.kind), e(o.name),
             '<span class="better">' + lang.trh("passed") + "</span>" if o.success
             else e(o.accepted) if o.accepted
             else '<span class="worse">' + lang.trh("failed") + "</span>", e(o.observed)]
            for o in result.outcomes]
    return head + ("<details><summary>" + lang.trh("All checks") + "</summary>"
                   + _table([(N_("Table"), False), (N_("Kind"), False), (N_("Check"), False),
                             (N_("Result"), False), (N_("Found"), False)], rows, lang=lang)
                   + "</details>")


def report_path(out_dir: Path, as_of: date) -> Path:
    return Path(out_dir) / f"qa_report_{as_of.isoformat()}.html"


def render(data: ReportData, *, expectations: ExpectationsResult | None = None,
           out_dir: Path = Path("."), workbook: Path | None = None,
           lang: Lang = ENGLISH) -> str:
    """The page in `lang` (setting `language`): its `<html lang>` is the first language's,
    and in `cy+en` each heading is a Welsh span then an English one."""
    failed = expectations.failed if expectations is not None else []
    status = effective_status((data.run or {}).get("status"), failed)
    open_n = len(data.root_causes)
    bodies = {
        "tonight": _tonight_section(data, failed, lang),
        "run": _run_section(data, failed, lang),
        "issues-by-rule": _rule_section(data, lang),
        "issues-by-team": _team_section(data, lang),
        "issues-trend": _trend_section(data, lang),
        "oldest-issues": _oldest_section(data, lang=lang),
        "time-to-fix": _time_to_fix_section(data, lang),
        "indicators": _indicator_section(data, lang),
        "indicator-trends": _indicator_trend_section(data, lang),
        "expectations": _expectations_section(expectations, out_dir, lang),
    }
    toc = "".join(f'<li><a href="#{sid}">{lang.trh(t)}</a></li>' for sid, t in SECTIONS)
    wb = ""
    if workbook is not None:
        rel = Path(os.path.relpath(workbook, out_dir)).as_posix()
        link = f'<a style="color:#fff" href="{e(rel)}">{e(Path(rel).name)}</a>'
        wb = " · " + lang.trh_markup("worklists: {link}", link=link)
    new = sum(rc.issue.status == "new" for rc in data.root_causes)
    day = lang.date_by(data.as_of)
    title = lang.trh("Data quality and indicators — batch {day}", day=day)
    counts = lang.trh("{n} open issues ({new} new)", n=open_n, new=new)
    now = f"{datetime.now(UTC):%Y-%m-%d %H:%M}"
    generated = lang.trh("generated {at} UTC", at=now)
    header = (f'<header id="top"><h1>{title}</h1><p><span class="badge {e(status)}">'
              f'{_status(lang, status)}</span> · {counts} · {generated}{wb}</p></header>')
    sections = "".join(_section(sid, f"{n}. {lang.trh(t)}", bodies[sid], lang)
                       for n, (sid, t) in enumerate(SECTIONS, start=1))
    page_title = lang.tr("Data quality report — batch {day}", day=day)
    contents, contents_h = lang.tr("Contents"), lang.trh("Contents")
    footer = lang.trh("qa_pipeline report. Only pseudonymised record ids are shown; the "
                      "database holds no names, addresses or other identifying data. "
                      "Self-contained: this file needs no network.")
    return (
        f"<!DOCTYPE html>\n<html lang=\"{lang.html_lang}\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{e(page_title)}</title>"
        f"<style>{CSS}{SPC_CSS}{BILINGUAL_CSS}</style></head><body>{header}"
        f'<nav id="contents" aria-label="{e(contents)}"><h2>{contents_h}</h2><ol>{toc}</ol>'
        f"</nav><main>{sections}</main><footer>{footer}</footer></body></html>\n")


def write_text_atomic(path: Path, text: str) -> None:
    """Atomic and readable as the umask allows (the group, on a shared folder)."""
    from qa_pipeline.ops.files import write_text_atomic as write

    write(path, text)


def build_report(engine: sa.Engine, out_dir: Path, *, run_id: str | None = None,
                 expectations: ExpectationsResult | None = None,
                 workbook: Path | None = None, data: ReportData | None = None,
                 lang: Lang = ENGLISH) -> Path:
    """Write `qa_report_<as_of>.html` for the latest batch into out_dir, in `lang`; return
    its path."""
    out_dir = Path(out_dir)
    data = data if data is not None else gather(engine, run_id=run_id)
    path = report_path(out_dir, data.as_of)
    write_text_atomic(path, render(data, expectations=expectations, out_dir=out_dir,
                                   workbook=workbook, lang=lang))
    return path
