"""Work folders (the staged parquet of pseudonymised case rows) of killed runs are removed by
the next run; they are owner-only while they exist. SQLite and PostgreSQL.

A run stages into `qa_<as_of>_<random>` under the work root (`work_dir`, else the system temp
dir), marked with its owner (pid, host, boot, process start time). A SIGKILLed run cannot
remove its folder; the next run removes the folders whose owner is gone, and never a folder
whose owner still runs, a held batch's staged files, or (in the shared system temp dir) a
folder without the marker.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from qa_pipeline.load.db import make_engine, upgrade
from qa_pipeline.ops import job as pipeline
from qa_pipeline.ops.job import run_one_batch, run_path
from qa_pipeline.ops.settings import Settings
from qa_pipeline.ops.work_folders import (
    OWNER_FILE,
    clean_work_folders,
    make_work_folder,
    owner_record,
    write_owner,
)
from tests.batch_builder import AS_OF, base, write_batch

DAY = 24 * 3600


def _cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "qa_pipeline.cli.main", *args],
                          env={**os.environ, **env}, capture_output=True, text=True,
                          timeout=600)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(done.stdout)


def _runs(db_url: str) -> list[tuple[str, object]]:
    with make_engine(db_url).connect() as conn:
        return [(r[0], r[1]) for r in conn.execute(sa.text(
            "SELECT status, finished_at FROM pipeline_run ORDER BY started_at"))]


@pytest.fixture
def system_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private stand-in for the system temp dir (this process and its children)."""
    root = tmp_path / "systmp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    monkeypatch.setenv("TMPDIR", str(root))
    return root


@pytest.mark.parametrize("where", ["work_dir", "system temp"])
def test_killed_run_leaves_its_work_folder_and_the_next_run_removes_it(
        db_url: str, tmp_path: Path, where: str, request: pytest.FixtureRequest,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QA_PIPELINE_WORK_DIR", raising=False)
    if where == "work_dir":
        root: Path = tmp_path / "work"
        options = ["--work-dir", str(root)]
    else:
        root = request.getfixturevalue("system_temp")
        options = []
    batch = write_batch(tmp_path / "landing", base())

    killed = _cli("run", str(batch), "--db", db_url, *options,
                  QA_PIPELINE_FAILPOINT="stage:after:persons")
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    [left] = [p for p in root.iterdir() if p.name.startswith("qa_")]
    assert left.name.startswith(f"qa_{AS_OF}_")
    assert (left / "stg_persons.parquet").is_file()  # pseudonymised case rows, left behind
    assert _mode(left) == 0o700  # owner-only: nobody else can list or read what is inside
    owner = json.loads((left / OWNER_FILE).read_text(encoding="utf-8"))
    assert owner["pid"] != os.getpid() and owner["start"]
    assert _mode(left / OWNER_FILE) == 0o600

    live = make_work_folder(AS_OF, root)  # a run of this (live) process, in progress
    unmarked = root / "qa_2026-11-20_abcdefgh"  # no marker, untouched for two days
    unmarked.mkdir()
    os.utime(unmarked, (time.time() - 2 * DAY,) * 2)

    result = run_path(batch, db_url, work_root=root if where == "work_dir" else None)
    assert result.exit_code == 0, result.batches[0].error
    assert not left.exists()
    assert live.is_dir() and (live / OWNER_FILE).is_file()
    # an old unmarked folder goes from a configured work_dir, never from the shared temp dir
    assert unmarked.exists() == (where == "system temp")
    assert {p.name for p in root.iterdir()} == {live.name} | (
        {unmarked.name} if where == "system temp" else set())  # the run removed its own
    [(killed_status, killed_end), (next_status, _)] = _runs(db_url)
    assert (killed_status, killed_end, next_status) == ("failed", None, "succeeded")


def test_clean_up_removes_only_folders_of_runs_that_are_gone(tmp_path: Path) -> None:
    root = tmp_path / "work"
    root.mkdir()
    now = time.time()
    me = owner_record()
    assert me["pid"] == os.getpid() and me["start"] is not None

    def folder(name: str, owner: dict[str, object] | None = None, age: float = 0,
               at: Path = root) -> Path:
        path = at / name
        path.mkdir(parents=True)
        (path / "stg_persons.parquet").write_bytes(b"staged")
        if owner is not None:
            write_owner(path, owner)
        if age:
            os.utime(path, (now - age, now - age))
        return path

    dead = {**me, "pid": _dead_pid(), "start": None}
    gone = [
        folder("qa_2026-11-25_dead0001", dead),
        folder("qa_2026-11-25_reused01", {**me, "start": str(int(me["start"]) + 1)}),
        folder("qa_2026-11-25_rebooted", {**me, "boot_id": "another-boot"}),
        folder("qa_2026-11-20_unmarked", age=2 * DAY),
    ]
    held = folder("qa_2026-11-24_heldheld", dead)
    holding = folder("qa_2026-11-23_holdroot", dead)
    outside = folder("qa_2026-11-25_outside1", dead, at=tmp_path / "elsewhere")
    (root / "qa_2026-11-25_symlink1").symlink_to(outside, target_is_directory=True)
    (root / "qa_2026-11-25_aaaaaaaa").write_bytes(b"a file, not a folder")
    kept = [
        folder("qa_2026-11-25_live0001", me),  # this process: alive
        folder("qa_2026-11-25_otherhst", {**dead, "host": f"{me['host']}-elsewhere"}),
        folder("qa_2026-11-25_unmarkdn"),  # no marker yet, recent: a run just starting
        folder("qa_pipeline_holds", age=2 * DAY),  # not a run's name: never touched
        folder("qa_2026-11-25_corrupt0", age=60),
        held, holding, outside, root / "qa_2026-11-25_symlink1",
        root / "qa_2026-11-25_aaaaaaaa",
    ]
    (kept[4] / OWNER_FILE).write_text("{not json", encoding="utf-8")

    removed = clean_work_folders(root, keep=[held, holding / "2026-11-23_abcd1234"])
    assert sorted(removed) == sorted(gone)
    assert not any(p.exists() for p in gone)
    assert all(p.exists() for p in kept)
    assert (outside / "stg_persons.parquet").is_file()  # a link is not followed


def test_clean_up_in_the_system_temp_dir_needs_the_marker(system_temp: Path) -> None:
    marked = make_work_folder(AS_OF, None)
    assert marked.parent == system_temp and _mode(marked) == 0o700
    write_owner(marked, {**owner_record(), "pid": _dead_pid(), "start": None})
    someone_elses = system_temp / "qa_2026-11-20_abcdefgh"  # old, unmarked: not ours
    someone_elses.mkdir()
    os.utime(someone_elses, (time.time() - 30 * DAY,) * 2)
    assert clean_work_folders(None) == [marked]
    assert someone_elses.is_dir()


def test_work_folder_and_its_files_are_owner_only(db_url: str, tmp_path: Path) -> None:
    """A finished staging (kept here, as a held batch's would be): folder 0700, files 0600."""
    engine = make_engine(db_url)
    upgrade(engine)
    batch = write_batch(tmp_path / "landing", base())
    result = run_one_batch(batch, engine, Settings(db_url=db_url, aftercare=False,
                                                    work_dir=tmp_path / "work"),
                           keep_work=True)
    assert result.exit_code == 0, result.error
    assert result.manifest is not None
    work = Path(result.manifest.work_dir)
    files = [p for p in work.rglob("*") if p.is_file()]
    assert {"manifest.json", "stg_persons.parquet", OWNER_FILE} <= {p.name for p in files}
    assert _mode(work) == 0o700
    assert {p.name: _mode(p) for p in files} == {p.name: 0o600 for p in files}


def test_held_batch_staged_files_survive_the_clean_up(db_url: str, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch
                                                      ) -> None:
    """A batch held by a run that has exited: its staged files (hold_dir, here inside the
    work root) outlive the next run's clean-up, and the release publishes them."""
    work = tmp_path / "work"
    holds = work / "holds"
    monkeypatch.setenv("QA_PIPELINE_HOLD_DIR", str(holds))
    monkeypatch.setenv("QA_PIPELINE_VOLUME_DROP_THRESHOLD", "0.6")
    landing = tmp_path / "landing"
    first = write_batch(landing, base(), as_of=AS_OF - timedelta(days=1))
    assert run_path(first, db_url, work_root=work).exit_code == 0
    halved = base()
    halved["referrals"] = halved["referrals"][:1]
    second = write_batch(landing, halved, as_of=AS_OF)
    held_run = _cli("run", str(second), "--db", db_url, "--work-dir", str(work))
    assert held_run.returncode == 3, held_run.stdout + held_run.stderr
    [held] = list(holds.iterdir())
    assert json.loads((held / OWNER_FILE).read_text(encoding="utf-8"))["pid"] != os.getpid()

    assert run_path(first, db_url, work_root=work).exit_code == 0  # cleans up first
    assert (held / "manifest.json").is_file()
    assert [p.name for p in work.iterdir()] == ["holds"]
    from qa_pipeline.cli.main import main

    assert main(["release", AS_OF.isoformat(), "--by", "data.officer", "--db", db_url]) == 0
    with make_engine(db_url).connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM stg_referrals WHERE as_of = :d"),
                            {"d": AS_OF}).scalar_one() == 1


@pytest.mark.prefect
def test_flow_removes_work_folders_on_failure_and_of_killed_runs(
        prefect_harness: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Prefect flow: a stale folder of a killed run is removed at the start; a publish
    that fails for good removes the run's own staged files."""
    import flows.nightly as nightly_mod

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("database gone")

    monkeypatch.setattr(pipeline, "publish_or_hold", broken)
    work = tmp_path / "work"
    stale = make_work_folder(AS_OF, work)
    write_owner(stale, {**owner_record(), "pid": _dead_pid(), "start": None})
    folder = write_batch(tmp_path / "landing", base())
    db_url = f"sqlite:///{tmp_path / 'qa.db'}"
    state = nightly_mod.nightly(str(folder), db_url, str(work), return_state=True)
    assert state.is_failed()
    assert list(work.iterdir()) == []
    assert _runs(db_url)[0][0] == "failed"
