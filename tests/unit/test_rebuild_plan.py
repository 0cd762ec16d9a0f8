"""The rebuild's plan (what it replays, keeps or refuses) and its progress lines, without a
database: `qa_pipeline.ops.rebuild.plan_replay` and `qa_pipeline.cli.rebuild`."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from qa_pipeline.cli.rebuild import (
    BarProgress,
    LineProgress,
    clock,
    progress_for,
    time_left,
)
from qa_pipeline.load.publish import RunOutcome
from qa_pipeline.ops.job import BatchResult
from qa_pipeline.ops.rebuild import Plan, RebuildRefused, plan_replay

DAYS = ["2026-11-20", "2026-11-21", "2026-11-22", "2026-11-23"]
BATCHES = [Path("/landing") / d for d in DAYS]
FILES = {d: f"sum-{d}" for d in DAYS}
"""The checksum of each folder's files as delivered now."""


def same(batch: Path, checksum: str) -> bool:
    return FILES[batch.name] == checksum


def _plan(published: dict[str, str], held: dict[str, str] | None = None) -> Plan:
    return plan_replay(BATCHES, published, held or {}, same)


def test_an_empty_database_replays_every_batch_in_date_order() -> None:
    plan = _plan({})
    assert plan.todo == BATCHES and plan.kept == [] and plan.done == 0


def test_resuming_keeps_the_published_batches_and_replays_the_rest() -> None:
    plan = _plan({d: FILES[d] for d in DAYS[:2]})
    assert plan.todo == BATCHES[2:] and plan.kept == DAYS[:2] and plan.done == 2


def test_the_last_published_batch_with_changed_files_is_replayed() -> None:
    plan = _plan({DAYS[0]: FILES[DAYS[0]], DAYS[1]: "an older delivery"})
    assert plan.todo == BATCHES[1:] and plan.kept == DAYS[:1] and plan.changed == DAYS[1:2]


def test_a_held_batch_with_the_same_files_is_not_staged_again() -> None:
    plan = _plan({DAYS[0]: FILES[DAYS[0]], DAYS[2]: FILES[DAYS[2]]},
                 held={DAYS[1]: FILES[DAYS[1]]})
    assert plan.held == DAYS[1:2] and plan.todo == BATCHES[3:] and plan.done == 3


def test_a_held_batch_redelivered_is_replayed() -> None:
    plan = _plan({DAYS[0]: FILES[DAYS[0]]}, held={DAYS[1]: "the truncated delivery"})
    assert plan.held == [] and plan.todo == BATCHES[1:] and plan.changed == DAYS[1:2]


def test_everything_published_leaves_nothing_to_do() -> None:
    plan = _plan(dict(FILES))
    assert plan.todo == [] and plan.done == len(DAYS)


@pytest.mark.parametrize(("published", "held"), [
    ({"2026-10-01": "x"}, {}),
    ({DAYS[0]: FILES[DAYS[0]]}, {"2026-12-01": "x"}),
])
def test_batches_from_elsewhere_are_refused(published: dict[str, str],
                                             held: dict[str, str]) -> None:
    with pytest.raises(RebuildRefused, match="not in the landing folder"):
        _plan(published, held)


@pytest.mark.parametrize(("published", "held", "why"), [
    ({DAYS[3]: FILES[DAYS[3]]}, {}, ""),  # the nightly run of the newest batch
    ({DAYS[0]: FILES[DAYS[0]]}, {DAYS[2]: FILES[DAYS[2]]}, ""),  # held, ahead of 21st
    ({DAYS[0]: FILES[DAYS[0]], DAYS[1]: "old", DAYS[2]: FILES[DAYS[2]]}, {},
     " (its files changed since it was published)"),
])
def test_a_database_ahead_of_the_next_batch_is_refused(published: dict[str, str],
                                                        held: dict[str, str], why: str) -> None:
    with pytest.raises(RebuildRefused) as refused:
        _plan(published, held)
    assert "not a rebuild but a nightly run; use `qa-pipeline run LANDING`" in str(refused.value)
    assert f"the next batch to replay{why}:" in str(refused.value)


def test_a_long_list_of_dates_is_cut_short() -> None:
    many = {f"2025-01-{i:02d}": "x" for i in range(1, 13)}
    with pytest.raises(RebuildRefused, match=r"12 batches \(2025-01-01, .*, 2025-01-05 and 7 "
                                             r"more\)"):
        _plan(many)


# --- the progress ---------------------------------------------------------------------------


def test_time_left_is_the_mean_pace_times_the_batches_left() -> None:
    assert time_left(0, 10, 5.0) is None
    assert time_left(2, 8, 30.0) == 120.0
    assert time_left(4, 0, 30.0) == 0.0
    assert clock(None) == "unknown" and clock(3725.4) == "1:02:05"


def _result(day: str, code: int = 0, held: bool = False) -> BatchResult:
    status = "succeeded" if code == 0 else "failed" if code == 1 else "succeeded_with_issues"
    return BatchResult(day, f"/landing/{day}", RunOutcome("r", status, code, "m"), None,
                       held=held)


def test_line_progress_counts_from_the_batches_already_done() -> None:
    """A resumed rebuild: 4 batches, 1 kept; the time left is paced on this session only."""
    times = iter([100.0, 110.0, 130.0, 136.0])
    out = io.StringIO()
    watch = LineProgress(out, now=lambda: next(times))
    watch.start(Plan(BATCHES, BATCHES[1:], kept=DAYS[:1]))
    watch.batch_done(_result(DAYS[1]))
    watch.batch_done(_result(DAYS[2], held=True, code=3))
    watch.batch_done(_result(DAYS[3], code=1))
    assert out.getvalue().splitlines() == [
        "rebuild: 4 batches, 1 already in the database, 3 to replay",
        "rebuild: 2/4 batches, 2026-11-21 published, elapsed 0:00:10, about 0:00:20 left",
        "rebuild: 3/4 batches, 2026-11-22 held (not published), elapsed 0:00:30, about "
        "0:00:15 left",
        "rebuild: 4/4 batches, 2026-11-23 failed, elapsed 0:00:36, about 0:00:00 left",
    ]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_a_bar_with_counts_and_time_left() -> None:
    assert isinstance(progress_for(io.StringIO()), LineProgress)
    screen = _Terminal()
    watch = progress_for(screen)
    assert isinstance(watch, BarProgress)
    with watch:
        watch.start(Plan(BATCHES, BATCHES))
        watch.batch_done(_result(DAYS[0]))
        watch.batch_done(_result(DAYS[1], code=3))
    shown = screen.getvalue()
    assert "2/4" in shown and "batches" in shown and "left" in shown
    assert "2026-11-21 published with issues" in shown
