"""The `qa-pipeline` command: exit statuses and the printed summary."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from qa_pipeline.cli.main import main
from qa_pipeline.load.db import make_engine
from tests.batch_builder import base, write_batch


def _db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'qa.db'}"


def test_run_success_exit_0_and_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                        ) -> None:
    data = base()
    data["referrals"][1]["referral_source"] = "ZZZ"
    code = main(["run", str(write_batch(tmp_path / "landing", data)), "--db", _db(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    assert "referrals" in out and "succeeded (exit 0)" in out
    line = next(ln for ln in out.splitlines() if ln.strip().startswith("referrals "))
    assert line.split()[1:] == ["loaded", "2", "1", "1", "0"]


def test_run_missing_file_exit_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = base()
    del data["fit_referrals"]
    code = main(["run", str(write_batch(tmp_path / "landing", data)), "--db", _db(tmp_path)])
    assert code == 3
    assert "fit_referrals.csv was not in the batch" in capsys.readouterr().out


def test_run_rejected_file_exit_3(tmp_path: Path) -> None:
    folder = write_batch(tmp_path / "landing", base())
    (folder / "teams.csv").write_bytes(b"\x00\x01binary")
    assert main(["run", str(folder), "--db", _db(tmp_path)]) == 3


@pytest.mark.parametrize("args", [["run"], ["frobnicate"], ["run", "x", "--bogus"]])
def test_usage_errors_exit_2(args: list[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2


def test_generate_sample_takes_a_named_size(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """--children M is the benchmark's M (30,000 children): the same files as --children
    30000 (not the default 300)."""
    args = ["--seed", "3", "--as-of", "2026-11-25"]
    assert main(["generate-sample", str(tmp_path / "named"), "--children", "m", *args]) == 0
    assert main(["generate-sample", str(tmp_path / "number"), "--children", "30000", *args]) == 0
    named, number = (tmp_path / d / "2026-11-25" for d in ("named", "number"))
    assert sorted(p.name for p in named.iterdir()) == sorted(p.name for p in number.iterdir())
    for f in number.iterdir():
        assert (named / f.name).read_bytes() == f.read_bytes()
    assert sum(1 for _ in (named / "referrals.csv").open()) > 30_000
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main(["generate-sample", str(tmp_path / "bad"), "--children", "XL"])
    assert exc.value.code == 2
    assert "'XL' is not a number of children or one of S, M, L" in capsys.readouterr().err


def test_not_a_batch_folder_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    assert main(["run", str(tmp_path / "empty"), "--db", _db(tmp_path)]) == 2
    assert main(["run", str(tmp_path / "nowhere"), "--db", _db(tmp_path)]) == 2
    (tmp_path / "2026-02-30").mkdir()
    assert main(["run", str(tmp_path / "2026-02-30"), "--db", _db(tmp_path)]) == 2
    assert "not a real date" in capsys.readouterr().err


def test_unreachable_database_exit_1_password_masked(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    folder = write_batch(tmp_path / "landing", base())
    url = "postgresql+psycopg://loader:S3cretPw@127.0.0.1:1/qa"
    assert main(["run", str(folder), "--db", url]) == 1
    captured = capsys.readouterr()
    assert "S3cretPw" not in captured.err + captured.out
    assert "run failed" in captured.err


def test_fault_during_publish_exit_1_nothing_published(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import qa_pipeline.load.publish as publish_mod

    folder = write_batch(tmp_path / "landing", base())

    def boom(name: str) -> None:
        if name == "publish:after:referrals":
            raise RuntimeError("simulated fault")

    monkeypatch.setattr(publish_mod, "failpoint", boom)
    assert main(["run", str(folder), "--db", _db(tmp_path)]) == 1
    engine = make_engine(_db(tmp_path))
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM stg_teams")).scalar_one() == 0
        status, message = conn.execute(sa.text("SELECT status, message FROM pipeline_run")).one()
    assert status == "failed" and "simulated fault" in message


def test_db_and_docs_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "upgrade", "--db", _db(tmp_path)]) == 0
    assert "schema revision: 0010" in capsys.readouterr().out
    assert main(["docs", "--out", str(tmp_path)]) == 0
    assert "persons.date_of_birth.invalid_date" in (tmp_path / "rules.md").read_text()
    assert "## ASM04" in (tmp_path / "indicators.md").read_text()


@pytest.mark.aftercare
def test_run_writes_report_and_worklists(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """With the after-publish step on, a run leaves the HTML report and the workbook next to
    the database and names them; the data checks pass on a sound batch."""
    code = main(["run", str(write_batch(tmp_path / "landing", base())), "--db", _db(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0, out
    report = next(ln.split(": ", 1)[1] for ln in out.splitlines() if "report: " in ln)
    workbook = next(ln.split(": ", 1)[1] for ln in out.splitlines() if "worklists: " in ln)
    assert Path(report).is_file() and Path(workbook).is_file()


@pytest.mark.aftercare
def test_released_truncated_batch_accepts_the_volume_check(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A third of an extract: the batch is held; released, the data checks still compute the
    truncated table's volume check, and the release accepts it (named as accepted by the
    officer, exit 0). Other failed checks still count: test_release_acknowledgement."""
    from qa_pipeline.sample.generate import generate_batch

    monkeypatch.setenv("QA_PIPELINE_HOLD_DIR", str(tmp_path / "holds"))
    landing = tmp_path / "landing"
    generate_batch(landing, children=200, seed=4, as_of=date(2026, 11, 24))
    assert main(["run", str(landing / "2026-11-24"), "--db", _db(tmp_path)]) == 0
    second = generate_batch(landing, children=200, seed=4, as_of=date(2026, 11, 25))
    path = second / "fit_referrals.csv"  # a leaf extract: nothing else refers to it
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[: 1 + (len(lines) - 1) // 3]))
    capsys.readouterr()
    assert main(["run", str(second), "--db", _db(tmp_path)]) == 3
    assert "held, not published: fit_referrals has" in capsys.readouterr().out
    assert main(["release", "2026-11-25", "--by", "officer", "--db", _db(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "batch 2026-11-25: succeeded (exit 0)" in out
    assert "data checks accepted: stg_fit_referrals: row count at least 50%" in out
    assert "accepted by officer at release" in out and "data checks failed" not in out
    with make_engine(_db(tmp_path)).connect() as conn:
        status = conn.execute(sa.text("SELECT status FROM pipeline_run ORDER BY started_at "
                                      "DESC")).first()
    assert status is not None and status[0] == "succeeded"


def test_version_is_the_installed_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    import qa_pipeline

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"qa-pipeline {qa_pipeline.__version__}"
    assert version("qa_pipeline") == qa_pipeline.__version__  # declared once (pyproject)
