"""The command line as one interface (issue "One engine", point 8): one set of exit statuses,
the shared options defined once, help on every command and option, commands that read never
creating a database, the SQLite lock file, the README's list of commands, and
`python flows/nightly.py` without a Prefect server."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qa_pipeline.cli import common as cli_common
from qa_pipeline.cli.main import main, parse_args, parser
from qa_pipeline.ops.exits import ExitStatus
from tests.batch_builder import base, write_batch

ROOT = Path(__file__).resolve().parents[2]


def _subparsers(p: argparse.ArgumentParser) -> argparse._SubParsersAction[Any] | None:
    return next((a for a in p._actions if isinstance(a, argparse._SubParsersAction)), None)


def _walk(p: argparse.ArgumentParser, path: tuple[str, ...] = ()
          ) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every parser of the tree with its command path: (), ("run",), ("db", "upgrade")..."""
    yield path, p
    sub = _subparsers(p)
    if sub is not None:
        for name, child in sub.choices.items():
            yield from _walk(child, (*path, name))


def _leaves() -> dict[str, argparse.ArgumentParser]:
    return {" ".join(path): p for path, p in _walk(parser())
            if path and _subparsers(p) is None}


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "qa_pipeline.cli.main", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=180,
                          env={**os.environ, "QA_PIPELINE_CONFIG": str(cwd / "none.yaml")})


# --- one exit-status enum ------------------------------------------------------------------


def test_one_exit_status_enum_with_the_published_values() -> None:
    assert {s.name: int(s) for s in ExitStatus} == {"OK": 0, "FAILED": 1, "USAGE": 2,
                                                     "ISSUES": 3}
    defined = [f"{f.relative_to(ROOT)}:{n}" for folder in ("src", "flows")
               for f in (ROOT / folder).rglob("*.py")
               for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1)
               if re.search(r"\bEXIT_[A-Z]+\b", line)]
    assert defined == [], "exit statuses defined outside qa_pipeline.ops.exits"


def test_the_run_status_and_the_flow_status_are_exit_statuses() -> None:
    from qa_pipeline.load.publish import run_status
    from qa_pipeline.orchestrate.scheduling import exit_status

    class _Manifest:
        files_rejected_or_missing = True

    status = run_status(_Manifest())  # type: ignore[arg-type]
    assert status == ("succeeded_with_issues", ExitStatus.ISSUES)

    class _Failed:
        def is_completed(self) -> bool:
            return False

        def result(self, raise_on_failure: bool = False) -> object:
            return RuntimeError("gone")

    assert exit_status(_Failed()) is ExitStatus.FAILED


# --- help on everything ------------------------------------------------------------------------


def test_every_command_and_option_has_help() -> None:
    missing = []
    for path, p in _walk(parser()):
        where = "qa-pipeline " + " ".join(path)
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                helped = {c.dest for c in action._choices_actions if c.help}
                missing += [f"{where} {name} (command)" for name in action.choices
                            if name not in helped]
            elif not action.help or action.help == argparse.SUPPRESS:
                missing.append(f"{where} {'/'.join(action.option_strings) or action.dest}")
    assert missing == []


def test_flows_nightly_options_have_help(monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    import flows.nightly as nightly_mod

    with pytest.raises(SystemExit) as done:
        nightly_mod.main(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    for option in ("--db URL", "--config FILE", "-v", "--work-dir DIR", "--serve", "--name"):
        assert option in out


# --- --db, --config, -v: defined once, accepted the same way ----------------------------------

NEEDS_DB = {"run", "rebuild", "release", "status", "issues", "report", "exceptions add",
            "exceptions list", "exceptions remove", "db upgrade", "db current",
            "db grant-reporting", "backup", "settings", "serve"}
NEEDS_CONFIG = NEEDS_DB | {"deploy"}


def test_shared_options_are_the_one_definition_everywhere() -> None:
    shared = {"--db": cli_common.DATABASE._actions[0], "--config": cli_common.CONFIG._actions[0],
              "-v": cli_common.VERBOSE._actions[0]}
    has: dict[str, set[str]] = {o: set() for o in shared}
    for path, p in _walk(parser()):
        for action in p._actions:
            for option, one in shared.items():
                if option in action.option_strings:
                    assert action is one, f"qa-pipeline {' '.join(path)} redefines {option}"
                    has[option].add(" ".join(path))
    for one in shared.values():  # never changed by building a parser (set_defaults would)
        assert one.default is argparse.SUPPRESS
    leaves = set(_leaves())
    assert has["--db"] & leaves == NEEDS_DB
    assert has["--config"] & leaves == NEEDS_CONFIG
    assert has["-v"] >= leaves | {""}  # every command, and before the command's name


@pytest.mark.parametrize("argv, expected", [
    (["status"], {"db": None, "config": None, "verbose": False}),
    (["status", "-v", "--db", "sqlite:///x.db", "--config", "c.yaml"],
     {"db": "sqlite:///x.db", "config": Path("c.yaml"), "verbose": True}),
    (["-v", "issues", "--db", "sqlite:///x.db"], {"db": "sqlite:///x.db", "verbose": True}),
    (["db", "--db", "sqlite:///x.db", "upgrade"], {"db": "sqlite:///x.db"}),
    (["db", "upgrade", "--db", "sqlite:///x.db", "-v"], {"db": "sqlite:///x.db",
                                                         "verbose": True}),
    (["exceptions", "list", "--all", "--config", "c.yaml"], {"config": Path("c.yaml"),
                                                              "db": None}),
    (["run", "landing", "-v", "--work-dir", "w"], {"verbose": True, "work_dir": Path("w")}),
    (["rebuild", "landing", "--db", "sqlite:///x.db", "--work-dir", "w", "-v"],
     {"db": "sqlite:///x.db", "verbose": True, "work_dir": Path("w"),
      "landing": Path("landing")}),
    (["generate-sample", "out", "-v"], {"verbose": True, "db": None}),
])
def test_shared_options_parse_the_same_way(argv: list[str], expected: dict[str, Any]) -> None:
    args = vars(parse_args(argv))
    assert {k: args[k] for k in expected} == expected


def test_run_takes_v_after_the_command(tmp_path: Path) -> None:
    """README's `qa-pipeline run PATH ... [-v]` (before, -v was only accepted before `run`)."""
    batch = write_batch(tmp_path / "landing", base())
    done = _cli("run", str(batch), "--db", f"sqlite:///{tmp_path / 'qa.db'}", "-v",
                cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "INFO qa_pipeline" in done.stderr


def test_db_honours_the_settings_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                      ) -> None:
    """`db` used to ignore --config; now every command reads the settings the same way."""
    db = tmp_path / "from-config.db"
    config = tmp_path / "qa.yaml"
    config.write_text(f"db_url: sqlite:///{db}\n", encoding="utf-8")
    assert main(["db", "upgrade", "--config", str(config)]) == 0
    assert db.is_file()
    assert main(["db", "current", "--config", str(config)]) == 0
    assert "schema revision: 0010" in capsys.readouterr().out


# --- commands that read never create a database ------------------------------------------------

READING = [
    ["status"], ["status", "--check"], ["issues"], ["issues", "--format", "csv"], ["report"],
    ["report", "--check"], ["exceptions", "list"], ["exceptions", "list", "--all"],
    ["exceptions", "add", "--rule", "r", "--extract", "referrals", "--reason", "x", "--by", "y"],
    ["exceptions", "remove", "1", "--by", "y"], ["db", "current"], ["backup", "BACKUP"],
    ["release", "2026-11-25", "--by", "y"],
]


@pytest.mark.parametrize("command", READING, ids=" ".join)
def test_reading_commands_never_create_a_database(command: list[str], tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nowhere" / "qa.db"
    argv = [str(tmp_path / "b.db") if a == "BACKUP" else a for a in command]
    assert main([*argv, "--db", f"sqlite:///{missing}"]) == ExitStatus.USAGE
    captured = capsys.readouterr()
    assert captured.err == f"qa-pipeline: error: no reporting database at {missing}\n"
    assert captured.out == ""
    assert list(tmp_path.iterdir()) == []  # neither the file, nor its folder, nor a lock


def test_reading_commands_refuse_a_missing_database_from_the_settings(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The same through the settings, with a relative path: the message names the file."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("QA_PIPELINE_DB_URL", "sqlite:///data/qa.db")
    for command in (["status"], ["issues"], ["db", "current"]):
        assert main(command) == ExitStatus.USAGE
        assert capsys.readouterr().err == (
            f"qa-pipeline: error: no reporting database at {tmp_path / 'data' / 'qa.db'}\n")
    assert not (tmp_path / "data").exists()


def test_status_of_an_unreachable_database_is_one_line(tmp_path: Path) -> None:
    """Never an OperationalError traceback or repr: one line, password masked, exit 1."""
    url = "postgresql+psycopg://loader:S3cretPw@127.0.0.1:1/qa_reporting"
    for command in (["status"], ["status", "--check"], ["issues"], ["db", "current"]):
        done = _cli(*command, "--db", url, cwd=tmp_path)
        assert done.returncode == ExitStatus.FAILED, done.stderr
        assert done.stdout == ""
        assert len(done.stderr.splitlines()) == 1, done.stderr
        assert done.stderr.startswith("qa-pipeline: error: ")
        assert "S3cretPw" not in done.stderr and "Traceback" not in done.stderr
        assert "sqlalche.me" not in done.stderr
    # and a URL SQLAlchemy cannot parse
    done = _cli("status", "--db", "nonsense://", cwd=tmp_path)
    assert done.returncode == ExitStatus.FAILED and len(done.stderr.splitlines()) == 1


@pytest.mark.postgres
def test_a_database_the_server_does_not_have_is_one_line(postgres_server: Any,
                                                         capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    """PostgreSQL: connecting never creates a database; "does not exist" is one line."""
    url = postgres_server.url("qa_no_such_database")
    for command in (["status"], ["issues"], ["db", "current"], ["exceptions", "list"]):
        assert main([*command, "--db", url]) == ExitStatus.FAILED
        err = capsys.readouterr().err
        assert len(err.splitlines()) == 1 and "does not exist" in err, err


def test_status_of_a_database_without_the_schema_is_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty.db").touch()
    assert main(["status", "--db", f"sqlite:///{tmp_path / 'empty.db'}"]) == ExitStatus.FAILED
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "no such table" in err


# --- the SQLite lock file ------------------------------------------------------------------------


def test_a_lock_file_is_never_taken_for_a_database(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """The lock file stays after a run (removing it would break the lock: see locking.py),
    holds a line of text saying what it is, and no command takes it for a database."""
    db = tmp_path / "qa.db"
    assert main(["run", str(write_batch(tmp_path / "landing", base())),
                 "--db", f"sqlite:///{db}"]) == 0
    lock = tmp_path / "qa.db.lock"
    assert lock.is_file()  # kept, on purpose
    text = lock.read_text(encoding="utf-8")
    assert text.startswith("qa-pipeline run lock of qa.db: not a database") and text.endswith("\n")
    capsys.readouterr()
    for command in (["status"], ["issues"], ["db", "current"], ["backup", str(tmp_path / "b")],
                    ["db", "upgrade"], ["run", str(tmp_path / "landing")]):
        assert main([*command, "--db", f"sqlite:///{lock}"]) == ExitStatus.USAGE, command
        assert capsys.readouterr().err.endswith(
            f"{lock} is not a reporting database: not a SQLite file (it is the run lock of "
            "qa.db)\n"), command
    assert lock.read_text(encoding="utf-8") == text  # untouched
    assert not (tmp_path / "qa.db.lock.lock").exists() and not (tmp_path / "b").exists()
    # a second run reuses it
    assert main(["run", str(tmp_path / "landing"), "--db", f"sqlite:///{db}"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("qa.db")) == [
        "qa.db", "qa.db.lock"]


def test_the_lock_file_is_documented_next_to_the_database() -> None:
    guide = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    section = guide.split("Files next to a SQLite reporting database")[1].split("\n## ")[0]
    assert "`qa_pipeline.db.lock`" in section and "kept when a run ends" in section
    why = " ".join((ROOT / "src" / "qa_pipeline" / "ops" / "locking.py").read_text(
        encoding="utf-8").split())
    assert "is **kept** when a run ends" in why and "races" in why


# --- the README lists every command -----------------------------------------------------------


def test_readme_lists_every_command_once_with_its_doc() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("### Commands\n")[1].split("\n### ")[0]
    rows = [ln for ln in table.splitlines() if ln.startswith("| `")]
    listed: dict[str, str] = {}
    for row in rows:
        m = re.match(r"\| `qa-pipeline ((?:[a-z][a-z-]*)(?: [a-z][a-z-]*)?)", row)
        if m is None:
            assert row.startswith("| `python flows/nightly.py"), row
            continue
        words = m.group(1).split()
        command = " ".join(words) if " ".join(words) in _leaves() else words[0]
        assert command not in listed, f"{command} listed twice"
        listed[command] = row
    assert set(listed) == set(_leaves())
    for command, row in listed.items():
        docs = re.findall(r"\]\(((?:docs/)?[\w./-]+\.md)\)", row.split(" | ")[-1])
        assert docs, f"{command}: no doc named"
        for doc in docs:
            assert (ROOT / doc).is_file(), doc
    assert any(r.startswith("| `python flows/nightly.py") for r in rows)
    assert "Other commands" not in readme


# --- python flows/nightly.py without a Prefect server ----------------------------------------


@pytest.fixture
def no_prefect_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[object]]:
    """No PREFECT_API_URL, the temporary server enabled, and its start simulated failing
    (nothing is started): yields the timeouts it was asked to wait."""
    from prefect.server.api.server import SubprocessASGIServer
    from prefect.settings import (
        PREFECT_API_URL,
        PREFECT_SERVER_EPHEMERAL_ENABLED,
        temporary_settings,
    )

    asked: list[object] = []

    def start(self: SubprocessASGIServer, timeout: int | None = None) -> None:
        asked.append(timeout)
        raise RuntimeError("Timed out while attempting to connect to ephemeral Prefect API "
                           "server.\n" + "  a line of the server's output\n" * 150)

    monkeypatch.setattr(SubprocessASGIServer, "start", start)
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    with temporary_settings(restore_defaults={PREFECT_API_URL},
                            updates={PREFECT_SERVER_EPHEMERAL_ENABLED: True}):
        yield asked


def test_the_temporary_server_gets_the_time_it_needs(no_prefect_server: list[object]) -> None:
    from prefect.settings import (
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS,
        temporary_settings,
    )

    from qa_pipeline.orchestrate.scheduling import (
        EPHEMERAL_STARTUP_SECONDS,
        NoPrefectServer,
        ensure_prefect_server,
    )

    with pytest.raises(NoPrefectServer) as failed:
        ensure_prefect_server()
    assert no_prefect_server == [EPHEMERAL_STARTUP_SECONDS]  # not Prefect's 20 s
    assert EPHEMERAL_STARTUP_SECONDS >= 120
    message = str(failed.value)
    assert "\n" not in message and "PREFECT_API_URL" in message
    assert f"did not start within {EPHEMERAL_STARTUP_SECONDS} s" in message
    with temporary_settings(updates={PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS: 1}):
        with pytest.raises(NoPrefectServer, match="within 1 s"):
            ensure_prefect_server()  # a value someone chose wins
    assert no_prefect_server[-1] == 1


def test_nightly_without_a_server_says_so_in_one_line(
        no_prefect_server: list[object], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    import flows.nightly as nightly_mod

    batch = write_batch(tmp_path / "landing", base())
    db = tmp_path / "qa.db"
    assert nightly_mod.main([str(batch), "--db", f"sqlite:///{db}"]) == ExitStatus.FAILED
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1, err
    assert err.startswith("qa-nightly: error: no Prefect server is configured and the "
                          "temporary one did not start within")
    assert "PREFECT_API_URL" in err and "Traceback" not in err
    assert not db.exists()  # no flow run started
    assert nightly_mod.main(["--serve", str(tmp_path / "landing")]) == ExitStatus.FAILED
    assert "PREFECT_API_URL" in capsys.readouterr().err
    assert nightly_mod.main(["--serve"]) == ExitStatus.USAGE  # no landing folder: one line
    assert capsys.readouterr().err == ("qa-nightly: error: no landing folder: set `landing` "
                                       "in the settings file or QA_PIPELINE_LANDING\n")


def test_nightly_with_a_server_that_does_not_answer_says_so_in_one_line(tmp_path: Path) -> None:
    """PREFECT_API_URL set, nothing listening there: one line, exit 1 (was a 100-line
    traceback). A real process; no server is started."""
    batch = write_batch(tmp_path / "landing", base())
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_API_URL="http://127.0.0.1:1/api", PREFECT_HOME=str(tmp_path / "prefect"),
               QA_PIPELINE_CONFIG=str(tmp_path / "none.yaml"))
    done = subprocess.run([sys.executable, str(ROOT / "flows" / "nightly.py"), str(batch),
                           "--db", f"sqlite:///{tmp_path / 'qa.db'}"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == ExitStatus.FAILED, done.stderr
    assert done.stderr.splitlines() == [
        "qa-nightly: error: the Prefect server at http://127.0.0.1:1/api does not answer "
        "(ConnectError); start it, or point PREFECT_API_URL at a running Prefect server "
        "(`prefect config set PREFECT_API_URL=http://127.0.0.1:4200/api`, docs/operations.md "
        "section 6)"]
    assert not (tmp_path / "qa.db").exists()
