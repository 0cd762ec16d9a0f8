"""How long issues took to fix, per team, from the view `dq_issue_episode` (one row per
episode: an unbroken run of published batches in which one record broke one rule, with the
batch that no longer had it and the days from its first batch to that one).

The report's "Time to fix, per team" reads it through `load_time_to_fix`; the grouping and
the median are `time_to_fix`, kept apart from the SQL so they can be checked by hand.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from qa_pipeline.officers.issues import DEPENDENT_RULE_SUFFIX, require_schema
from qa_pipeline.spec.published import published

EPISODE_VIEW = published()["dq_issue_episode"]
TEAM, RESOLVED_IN, DAYS_TO_FIX, RULE = EPISODE_VIEW.pick(
    "team_id", "resolved_in", "days_to_fix", "rule_id")
"""The declared columns read (a name the declaration does not have fails on import)."""
_EPISODES = sa.table(EPISODE_VIEW.name, sa.column(TEAM), sa.column(RESOLVED_IN, sa.Date),
                     sa.column(DAYS_TO_FIX), sa.column(RULE))


@dataclass(frozen=True)
class TeamTimeToFix:
    """One team's episodes: how many were resolved in the window, the median days they took
    (None when none was), and how many are still open in the latest batch."""

    team_id: str | None  # None: the issues no team owns, grouped as one row
    resolved: int
    median_days: float | None
    still_open: int


def time_to_fix(episodes: Iterable[tuple[str | None, int | None]]) -> list[TeamTimeToFix]:
    """Per team, from (team_id, days_to_fix) pairs: days_to_fix None is an episode still
    open, any other value one resolved (the caller has kept only those of its window). An
    empty team id counts as no team. The median of an even count is the mean of the two
    middle values. Teams in team-id order, no team last."""
    days: dict[str | None, list[int]] = {}
    still_open: dict[str | None, int] = {}
    for team_id, d in episodes:
        team = team_id or None
        days.setdefault(team, [])
        still_open.setdefault(team, 0)
        if d is None:
            still_open[team] += 1
        else:
            days[team].append(int(d))
    return [TeamTimeToFix(team_id=t, resolved=len(days[t]),
                          median_days=float(statistics.median(days[t])) if days[t] else None,
                          still_open=still_open[t])
            for t in sorted(days, key=lambda t: (t is None, t or ""))]


def load_time_to_fix(engine: sa.Engine, *, since: date | None = None,
                     until: date | None = None) -> list[TeamTimeToFix]:
    """Per team: the episodes resolved in a batch from `since` to `until` (both included;
    either may be left open), their median days to fix, and the episodes still open (open
    in the latest batch, whatever the window; accepted exceptions included: the view does
    not know them). A team with neither has no row. Records to fix only, as the open
    counts: a dependent row's warning goes with its root cause, not on its own."""
    require_schema(engine, EPISODE_VIEW.name)
    v = _EPISODES.c
    window: list[sa.ColumnElement[bool]] = [v[RESOLVED_IN].is_not(None)]
    if since is not None:
        window.append(v[RESOLVED_IN] >= since)
    if until is not None:
        window.append(v[RESOLVED_IN] <= until)
    query = sa.select(v[TEAM], v[DAYS_TO_FIX]).where(
        sa.or_(v[RESOLVED_IN].is_(None), sa.and_(*window)),
        v[RULE].not_like(f"%{DEPENDENT_RULE_SUFFIX}"))
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return time_to_fix((None if t is None else str(t), None if d is None else int(d))
                       for t, d in rows)
