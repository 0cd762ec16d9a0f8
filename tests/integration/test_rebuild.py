"""`qa-pipeline rebuild LANDING` (issue 15 point 3): every delivered batch replayed, oldest
first, into an empty reporting database, exactly as the nightly runs would have published
them; resumable after a kill or a failed batch; a database of other deliveries, or one ahead
of the rebuild, refused with nothing written; held batches reported, not stopping it; the
progress on stderr one line per batch when stderr is not a terminal.

Assertions are on `batch`, `pipeline_run`, `dq_issue`, `indicator_value` and what the command
prints (never on the case tables, which issue 15 point 1 rewrites). Tests synchronise on
events (a process that killed itself at a fault point, database states), never on sleeps."""

from __future__ import annotations

import re
import shutil
import signal
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import qa_pipeline.load.publish as publish_mod
from qa_pipeline.cli.main import main
from qa_pipeline.load.db import make_engine
from qa_pipeline.ops.faults import FAILPOINT_ENV
from qa_pipeline.sample.nights import Rates, generate_nights
from qa_pipeline.spec.contracts import load_contracts
from tests.cli_proc import CliProc, wait_for_file, waitpoint_env

AS_OF = date(2026, 11, 20)
NIGHTS = 5
DATES = [(AS_OF + timedelta(days=i)).isoformat() for i in range(NIGHTS)]
LINE = re.compile(r"^rebuild: (\d+)/(\d+) batches, (\d{4}-\d\d-\d\d) ([a-z ()]+), "
                  r"elapsed (\d+:\d\d:\d\d), about (\d+:\d\d:\d\d) left$")


@pytest.fixture(scope="module")
def delivered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Five nights of one evolving caseload, with planted defects (never modified: a test
    that changes a delivery works on its own copy)."""
    landing = tmp_path_factory.mktemp("delivered") / "landing"
    generate_nights(landing, nights=NIGHTS, children=150, seed=23, as_of=AS_OF,
                    defects=True, rates=Rates(change=0.05, new=0.02, delete=0.01))
    return landing


@pytest.fixture
def landing(delivered: Path, tmp_path: Path) -> Path:
    """This test's own copy of the deliveries."""
    return Path(shutil.copytree(delivered, tmp_path / "landing"))


@pytest.fixture
def other_url(db_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A second empty database on the same backend as `db_url` (for the reference runs)."""
    if db_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'reference.db'}"
        return
    server = request.getfixturevalue("postgres_server")
    name = f"t_reference_{uuid.uuid4().hex[:8]}"
    server.create_database(name)
    try:
        yield server.url(name)
    finally:
        server.ensure_running()
        server.drop_database(name)


@pytest.fixture(autouse=True)
def _holds_in_tmp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("QA_PIPELINE_HOLD_DIR", str(tmp_path / "holds"))


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _rows(url: str, query: str) -> list[tuple[Any, ...]]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(query))]
    finally:
        engine.dispose()


def _contents(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """What BI reads of every batch, without run ids, row ids and timestamps."""
    def rows(query: str) -> list[tuple[Any, ...]]:
        return sorted(_rows(url, query), key=lambda r: tuple(map(str, r)))

    return {
        "batch": rows("SELECT as_of, content_sha256, batch_path FROM batch"),
        "dq_issue": rows(
            "SELECT as_of, extract, record_id, child_id, team_id, rule_id, severity, "
            "column_name, value, message, source_row, root_rule_id, root_record_id "
            "FROM dq_issue"),
        "indicator_value": rows("SELECT * FROM indicator_value"),
        "runs": rows("SELECT as_of, status, exit_code, rows_read, rows_loaded, "
                     "rows_quarantined, content_sha256 FROM pipeline_run WHERE published"),
        # the record history and what is built on it (version ids included)
        **{f"{e}_history": rows(f"SELECT * FROM {e}_history")  # noqa: S608
           for e in load_contracts().extracts},
        "dim_team": rows("SELECT * FROM dim_team"),
        "indicator_case": rows("SELECT indicator_code, record_id, event_date, extract, "
                               "version_id, outcome FROM indicator_case"),
    }


def _batch_runs(url: str) -> dict[str, str]:
    return {str(d): r for d, r in _rows(url, "SELECT as_of, run_id FROM batch")}


def _everything(url: str) -> list[list[tuple[Any, ...]]]:
    """Every row of the tables a refused rebuild must not touch (nothing written)."""
    return [sorted(_rows(url, f"SELECT * FROM {t}"), key=lambda r: tuple(map(str, r)))
            for t in ("batch", "pipeline_run", "dq_issue", "indicator_value")]


# --- (1) a rebuild publishes what the nightly runs published ------------------------------


def test_rebuild_publishes_every_batch_in_date_order_as_the_nightly_runs_do(
        delivered: Path, db_url: str, other_url: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _cli(capsys, "rebuild", str(delivered), "--db", db_url)
    assert code == 0, out + err
    assert f"replayed {NIGHTS}, {DATES[0]} to {DATES[-1]}" in out
    assert f"newest batch {DATES[-1]}" in out
    runs = _rows(db_url, "SELECT as_of, status FROM pipeline_run ORDER BY started_at")
    assert [(str(d), s) for d, s in runs] == [(d, "succeeded") for d in DATES]
    for night in DATES:  # the reference: each night run on its own, as the schedule would
        code, out, err = _cli(capsys, "run", str(delivered / night), "--db", other_url)
        assert code == 0, out + err
    rebuilt, nightly = _contents(db_url), _contents(other_url)
    assert [str(r[0]) for r in rebuilt["batch"]] == DATES
    for table in ("dq_issue", "indicator_value"):  # every night has some of each
        assert {str(r[0]) for r in rebuilt[table]} == set(DATES), table
    assert rebuilt == nightly


# --- (2) interrupted, then resumed --------------------------------------------------------


def test_a_rebuild_killed_mid_batch_resumes_after_the_last_published_batch(
        delivered: Path, db_url: str, other_url: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Killed (SIGKILL) inside the publish transaction of its third batch: the database holds
    the first two; the same command again publishes the other three, never the first two
    again, and ends where an uninterrupted rebuild ends."""
    killed = CliProc("rebuild", str(delivered), "--db", db_url,
                     **{FAILPOINT_ENV: "publish:begin#3"})
    assert killed.wait() == -9, killed.stdout + killed.stderr
    assert f"2/{NIGHTS} batches, {DATES[1]} published" in killed.stderr
    before = _batch_runs(db_url)
    assert sorted(before) == DATES[:2]
    assert [(str(d), s, m) for d, s, m in _rows(
        db_url, f"SELECT as_of, status, message FROM pipeline_run WHERE as_of = '{DATES[2]}'"
    )] == [(DATES[2], "failed", "started; did not finish")]

    code, out, err = _cli(capsys, "rebuild", str(delivered), "--db", db_url)
    assert code == 0, out + err
    assert f"rebuild: {NIGHTS} batches, 2 already in the database, 3 to replay" in err
    assert f"replayed 3, {DATES[2]} to {DATES[-1]}; 2 already published (kept)" in out
    after = _batch_runs(db_url)
    assert sorted(after) == DATES
    assert {d: after[d] for d in DATES[:2]} == before  # not republished
    published = _rows(db_url, "SELECT as_of FROM pipeline_run WHERE published")
    assert sorted(str(d) for (d,) in published) == DATES  # one published run per batch

    code, out, err = _cli(capsys, "rebuild", str(delivered), "--db", other_url)
    assert code == 0, out + err
    assert _contents(db_url) == _contents(other_url)


def test_ctrl_c_mid_batch_rolls_it_back_and_the_rebuild_resumes(
        delivered: Path, db_url: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Ctrl-C (SIGINT) while the third batch is inside its publish transaction (held there on
    an event): one line saying how to resume, exit 1, the database at the second batch; the
    same command again publishes the rest."""
    hold = tmp_path / "hold"
    proc = CliProc("rebuild", str(delivered), "--db", db_url,
                   **waitpoint_env("publish:begin#3", hold))
    try:
        wait_for_file(hold / "reached", proc)
        proc.popen.send_signal(signal.SIGINT)
        assert proc.wait() == 1, proc.stdout + proc.stderr
    finally:
        proc.kill()
    assert ("qa-pipeline: rebuild interrupted: the database holds every batch published so "
            f"far; `qa-pipeline rebuild {delivered}` again resumes after the last") in proc.stderr
    assert "Traceback" not in proc.stderr
    before = _batch_runs(db_url)
    assert sorted(before) == DATES[:2]
    code, out, err = _cli(capsys, "rebuild", str(delivered), "--db", db_url)
    assert code == 0, out + err
    after = _batch_runs(db_url)
    assert sorted(after) == DATES and {d: after[d] for d in DATES[:2]} == before


def test_a_failed_batch_stops_the_rebuild_and_the_next_rebuild_resumes_there(
        delivered: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A batch that fails stops the rebuild (the later batches are not published out of
    order): exit 1, what to do next; run again, it starts at the failed batch."""
    url = f"sqlite:///{tmp_path / 'qa.db'}"
    real = publish_mod.failpoint
    begun: list[str] = []

    def fail_third(name: str, note: str = "") -> None:
        real(name, note)
        if name == "publish:begin":
            begun.append(name)
            if len(begun) == 3:
                raise RuntimeError("the disk filled up")

    monkeypatch.setattr(publish_mod, "failpoint", fail_third)
    code, out, err = _cli(capsys, "rebuild", str(delivered), "--db", url)
    assert code == 1, out + err
    assert f"stopped at {DATES[2]}: run " in out and "the disk filled up" in out
    assert f"{NIGHTS - 3} batches after it not replayed" in out
    assert f"`qa-pipeline rebuild {delivered}` again resumes there" in out
    assert len(begun) == 3  # nothing after the failed batch was tried
    before = _batch_runs(url)
    assert sorted(before) == DATES[:2]

    monkeypatch.setattr(publish_mod, "failpoint", real)
    code, out, err = _cli(capsys, "rebuild", str(delivered), "--db", url)
    assert code == 0, out + err
    after = _batch_runs(url)
    assert sorted(after) == DATES and {d: after[d] for d in DATES[:2]} == before
    assert f"replayed 3, {DATES[2]} to {DATES[-1]}" in out


def test_a_batch_whose_files_changed_since_is_replayed(
        landing: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The newest batch redelivered with a changed file: a rebuild replays that batch only."""
    url = f"sqlite:///{tmp_path / 'qa.db'}"
    assert _cli(capsys, "rebuild", str(landing), "--db", url)[0] == 0
    before = _batch_runs(url)
    sums = dict(_rows(url, "SELECT as_of, content_sha256 FROM batch"))
    teams = landing / DATES[-1] / "teams.csv"
    teams.write_bytes(teams.read_bytes() + b"\n")
    code, out, err = _cli(capsys, "rebuild", str(landing), "--db", url)
    assert code == 0, out + err
    assert f"replayed 1, {DATES[-1]} to {DATES[-1]}; {NIGHTS - 1} already published" in out
    after = _batch_runs(url)
    assert {d: after[d] for d in DATES[:-1]} == {d: before[d] for d in DATES[:-1]}
    assert after[DATES[-1]] != before[DATES[-1]]
    new_sums = dict(_rows(url, "SELECT as_of, content_sha256 FROM batch"))
    assert [d for d in new_sums if new_sums[d] != sums[d]] == [
        d for d in new_sums if str(d) == DATES[-1]]


# --- (3) refused: not this landing folder's rebuild ----------------------------------------


def test_a_database_of_other_deliveries_is_refused_and_nothing_is_written(
        delivered: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'qa.db'}"
    elsewhere = generate_nights(tmp_path / "elsewhere", nights=1, children=60, seed=4,
                                as_of=date(2026, 10, 1))
    assert _cli(capsys, "run", str(elsewhere[0]), "--db", url)[0] == 0
    before = _everything(url)
    code, out, err = _cli(capsys, "rebuild", str(delivered), "--db", url)
    assert code == 2 and out == ""
    assert ("qa-pipeline: error: the database holds 1 batch (2026-10-01), not in the landing "
            "folder") in err
    assert _everything(url) == before


def test_a_database_ahead_of_the_rebuild_is_a_nightly_run_and_is_refused(
        delivered: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The newest night already published: replaying the older ones under it is not a
    rebuild; the message says to use `run`. A middle batch redelivered likewise."""
    url = f"sqlite:///{tmp_path / 'qa.db'}"
    assert _cli(capsys, "run", str(delivered / DATES[-1]), "--db", url)[0] == 0
    before = _everything(url)
    code, out, err = _cli(capsys, "rebuild", str(delivered), "--db", url)
    assert code == 2 and out == ""
    assert (f"the database already holds 1 batch ({DATES[-1]}), newer than {DATES[0]}, the "
            "next batch to replay: that is not a rebuild but a nightly run; use "
            "`qa-pipeline run LANDING`") in err
    assert _everything(url) == before


def test_a_changed_batch_under_newer_ones_is_refused(
        landing: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'qa.db'}"
    assert _cli(capsys, "rebuild", str(landing), "--db", url)[0] == 0
    before = _everything(url)
    teams = landing / DATES[1] / "teams.csv"
    teams.write_bytes(teams.read_bytes() + b"\n")
    code, out, err = _cli(capsys, "rebuild", str(landing), "--db", url)
    assert code == 2, out + err
    assert (f"newer than {DATES[1]}, the next batch to replay (its files changed since it "
            "was published)") in err and "qa-pipeline run LANDING" in err
    assert _everything(url) == before


def test_a_batch_folder_is_not_a_landing_folder(
        delivered: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _cli(capsys, "rebuild", str(delivered / DATES[0]), "--db",
                          f"sqlite:///{tmp_path / 'qa.db'}")
    assert code == 2 and "is one batch folder: give the landing folder" in err
    assert not (tmp_path / "qa.db").exists()


# --- held batches -------------------------------------------------------------------------


def test_a_held_batch_does_not_stop_the_rebuild_and_is_listed_at_the_end(
        landing: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The third night's referrals truncated (a sharp row drop): that batch is held, the
    rebuild goes on with the others, lists it with the release command and exits 3; run
    again, the hold stands (nothing replayed); released, it is published."""
    url = f"sqlite:///{tmp_path / 'qa.db'}"
    referrals = landing / DATES[2] / "referrals.csv"
    referrals.write_bytes(b"".join(referrals.read_bytes().splitlines(keepends=True)[:6]))
    code, out, err = _cli(capsys, "rebuild", str(landing), "--db", url)
    assert code == 3, out + err
    assert f"3/{NIGHTS} batches, {DATES[2]} held (not published)" in err
    assert "published 4, held 1" in out
    assert "`qa-pipeline release DATE --by NAME`" in out
    assert f"    {DATES[2]}: held, not published: referrals has 5 rows" in out
    assert sorted(_batch_runs(url)) == [d for d in DATES if d != DATES[2]]
    runs = _rows(url, "SELECT COUNT(*) FROM pipeline_run")

    code, out, err = _cli(capsys, "rebuild", str(landing), "--db", url)
    assert code == 3, out + err
    assert "nothing to replay" in out
    assert f"    {DATES[2]}: held before this rebuild; still held" in out
    assert _rows(url, "SELECT COUNT(*) FROM pipeline_run") == runs  # nothing staged again

    code, out, err = _cli(capsys, "release", DATES[2], "--by", "a.officer", "--db", url)
    assert code == 0, out + err
    assert sorted(_batch_runs(url)) == DATES


# --- (4) the progress ---------------------------------------------------------------------


def test_progress_off_a_terminal_is_one_line_per_batch(
        delivered: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """stderr captured (not a terminal): a first line with the plan, then one line per
    batch with batches done / total, the batch, the elapsed time and the time left."""
    code, out, err = _cli(capsys, "rebuild", str(delivered), "--db",
                          f"sqlite:///{tmp_path / 'qa.db'}")
    assert code == 0, out + err
    lines = [ln for ln in err.splitlines() if ln.startswith("rebuild: ")]
    assert lines[0] == f"rebuild: {NIGHTS} batches, 0 already in the database, {NIGHTS} to replay"
    steps = [LINE.match(ln) for ln in lines[1:]]
    assert all(steps), lines
    assert [(int(m[1]), int(m[2]), m[3], m[4]) for m in steps if m] == [
        (i + 1, NIGHTS, d, "published") for i, d in enumerate(DATES)]
    assert steps[-1] is not None and steps[-1][6] == "0:00:00"
    assert "\x1b[" not in err  # no terminal control codes in a log


# --- the after-publish work -----------------------------------------------------------------


@pytest.mark.aftercare
def test_the_after_publish_work_runs_for_the_newest_batch_only(
        delivered: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    reports = tmp_path / "reports"  # QA_PIPELINE_REPORT_DIR of the conftest
    code, out, err = _cli(capsys, "rebuild", str(delivered), "--db",
                          f"sqlite:///{tmp_path / 'qa.db'}")
    assert code in (0, 3), out + err
    assert f"newest batch {DATES[-1]}" in out and "report: " in out
    written = [p.name for p in reports.rglob("*")]
    assert any(DATES[-1] in name for name in written)
    assert not [n for n in written if any(d in n for d in DATES[:-1])]
    # one batch's pages, and the assets every batch's pages share (copied once)
    assert sorted(p.name for p in (reports / "data_docs").iterdir()) == [DATES[-1], "_static"]
