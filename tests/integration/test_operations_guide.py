"""docs/operations.md is followed as written: its `<!-- ci: run -->` bash blocks run in order,
in one shell, in a temporary folder with a SQLite reporting database; its `<!-- ci: sql -->`
queries run against what they leave. The Prefect steps of the guide are run by
tests/integration/test_deployment.py with the commands checked here to be in the guide."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "operations.md"
BLOCK = re.compile(r"<!-- ci: (run|sql) -->\n```(bash|sql)\n(.*?)```", re.S)

# The commands of the guide that tests/integration/test_deployment.py runs against a real
# Prefect server (the two must stay the same).
PREFECT_STEPS = [
    "prefect server start --host 127.0.0.1 --port",
    "prefect work-pool create qa-nightly --type process",
    "qa-pipeline deploy",
    "prefect worker start --pool qa-nightly",
    "qa-pipeline serve",
    "qa-pipeline alerts --block custom-webhook/qa-alerts",
    "prefect deployment run qa-nightly/nightly",
    "PREFECT_API_DATABASE_CONNECTION_URL=postgresql+asyncpg://",
]


def _blocks(kind: str) -> list[str]:
    return [m.group(3) for m in BLOCK.finditer(GUIDE.read_text(encoding="utf-8"))
            if m.group(1) == kind]


def test_guide_steps_run_as_written(tmp_path: Path) -> None:
    steps = _blocks("run")
    assert len(steps) >= 7
    script = tmp_path / "guide.sh"
    script.write_text("set -euo pipefail\n" + "\n".join(steps), encoding="utf-8")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("QA_PIPELINE_", "PREFECT_", "PG"))}
    env.update(QA_ROOT=str(tmp_path / "qa"), PATH=f"{Path(sys.executable).parent}:"
                                                  f"{env.get('PATH', '')}")
    done = subprocess.run(["bash", str(script)], cwd=tmp_path, env=env, text=True,
                          capture_output=True, timeout=300)
    out = done.stdout
    assert done.returncode == 0, f"{out}\n{done.stderr}"
    # 3. configure: the settings file is the one in effect
    assert f"settings file: {tmp_path / 'qa' / 'qa_pipeline.yaml'}" in out
    # 5. first run: both batches in date order, then nothing new
    assert "batch 2026-11-23:\n" in out and "batch 2026-11-24:\n" in out
    assert out.index("batch 2026-11-23:\n") < out.index("batch 2026-11-24:\n")
    assert "batch 2026-11-24: already published with the same files; skipped" in out
    # 7. the schedule
    assert "'0 2 * * *' in Europe/London" in out
    # 10. a held batch, its exit statuses, its release
    assert "held, not published" in out and "exit status 3 (3: held" in out
    assert "exit status 3 (3: a batch is held)" in out
    assert "released by a.officer after a hold" in out and "held batches: 0" in out
    assert "accepted by a.officer at release" in out  # the row drop that held it
    assert "published, but a data check other than" not in out  # exit 0
    # 16. the landing folder rebuilt into a second database: the short delivery held, the
    # hold standing when run again, then released; the live database untouched
    assert "rebuild of " in out and "published 2, held 1" in out
    assert "exit status 3 (3: the rebuild held a batch)" in out
    assert "exit status 3 (3: still held)" in out
    assert out.count("nothing to replay: every batch is in the database") == 2
    with sqlite3.connect(tmp_path / "qa" / "rebuilt.db") as conn:
        assert conn.execute("SELECT as_of FROM batch ORDER BY as_of").fetchall() == [
            ("2026-11-23",), ("2026-11-24",), ("2026-11-25",)]
    # the newest, then the release; the assets the pages share are copied once, in _static
    assert sorted(p.name for p in (tmp_path / "qa" / "rebuilt-reports" / "data_docs")
                  .iterdir()) == ["2026-11-24", "2026-11-25", "_static"]
    # 12./13. backups that open
    backups = sorted((tmp_path / "qa" / "backups").glob("*.db"))
    assert len(backups) == 2
    for b in backups:
        with sqlite3.connect(b) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            assert conn.execute("SELECT COUNT(*) FROM batch").fetchone() == (3,)

    # 11. the guide's queries on what the steps left
    db = tmp_path / "qa" / "qa_pipeline.db"
    queries = _blocks("sql")
    assert len(queries) >= 4
    with sqlite3.connect(db) as conn:
        results = [conn.execute(q).fetchall() for q in queries]
    runs, extracts, holds, batches = results[:4]
    # newest first: the release (published; the volume checks of the short extracts it
    # accepts), the held run, then the two clean nights
    assert [r[1] for r in runs] == ["succeeded", "succeeded_with_issues",
                                    "succeeded", "succeeded"]
    assert len({e[1] for e in extracts}) == 12 and {e[0] for e in extracts} == {"2026-11-25"}
    assert [(h[0], h[4], h[6]) for h in holds] == [("2026-11-25", "released", "a.officer")]
    assert [b[0] for b in batches] == ["2026-11-25", "2026-11-24", "2026-11-23"]
    # delivered files are only read
    assert sorted(p.name for p in (tmp_path / "qa" / "landing").iterdir()
                  if p.is_dir()) == ["2026-11-23", "2026-11-24", "2026-11-25"]


def test_settings_table_is_generated_from_settings_py() -> None:
    from qa_pipeline.cli.ops import settings_table

    text = GUIDE.read_text(encoding="utf-8")
    table = text.split("<!-- settings-table:start -->\n")[1].split("<!-- settings-table:end")[0]
    assert table == settings_table(), (
        "docs/operations.md's settings table is stale: paste `qa-pipeline settings --table`")


def test_guide_names_the_prefect_steps_that_test_deployment_runs() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    for step in PREFECT_STEPS:
        assert step in text, step


@pytest.mark.parametrize("command", sorted({
    m.group(1) for m in re.finditer(r"qa-pipeline ([a-z-]+)", GUIDE.read_text("utf-8"))}))
def test_every_command_the_guide_names_exists(command: str) -> None:
    from qa_pipeline.cli.main import main

    with pytest.raises(SystemExit) as done:
        main([command, "--help"])
    assert done.value.code == 0


@pytest.mark.postgres
def test_backup_of_a_postgresql_database_is_a_pg_dump(pg_url: str, tmp_path: Path) -> None:
    from qa_pipeline.cli.main import main

    assert main(["db", "upgrade", "--db", pg_url]) == 0
    out = tmp_path / "qa_reporting.dump"
    assert main(["backup", str(out), "--db", pg_url]) == 0
    listing = subprocess.run(["pg_restore", "--list", str(out)], capture_output=True,
                             text=True, check=True).stdout
    assert "TABLE public pipeline_run" in listing and "TABLE public batch_hold" in listing
    assert main(["backup", str(out), "--db", pg_url]) == 2  # never overwrites
