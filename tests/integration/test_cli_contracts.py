"""A broken contract file stops every command that loads the contracts: one line on stderr
(`qa-pipeline: error: <file>: extract .., column ..: ...`), exit 2, no traceback, nothing
written.

The commands run as subprocesses: the database module builds its tables from the contracts
when it is imported, so the broken file must be the first one the process reads."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_BATCH = ROOT / "sample_extracts" / "2026-11-25"
REAL = ROOT / "src" / "qa_pipeline" / "spec" / "extracts.yaml"


def _broken_contracts(tmp_path: Path) -> Path:
    text = REAL.read_text(encoding="utf-8")
    assert text.count("not_before: referral_datetime") == 1
    path = tmp_path / "broken.yaml"
    path.write_text(text.replace("not_before: referral_datetime", "not_befor: referral_datetime"),
                    encoding="utf-8")
    return path


def _cli(tmp_path: Path, *args: str, contracts: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qa_pipeline.cli.main", *args], cwd=tmp_path, capture_output=True,
        text=True, timeout=300, check=False,
        env={**os.environ, "QA_PIPELINE_CONTRACTS_FILE": str(contracts)})


@pytest.mark.parametrize("command", [
    pytest.param(["run", str(SAMPLE_BATCH)], id="run"),
    pytest.param(["docs", "--out", "docs"], id="docs"),
])
def test_a_broken_contract_is_one_line_and_exit_2(tmp_path: Path, command: list[str]) -> None:
    broken = _broken_contracts(tmp_path)
    db = tmp_path / "qa.db"
    args = [*command, "--db", f"sqlite:///{db}"] if command[0] != "docs" else command
    proc = _cli(tmp_path, *args, contracts=broken)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    where = "the setting contracts_file: " if command[0] == "run" else ""
    assert proc.stderr.splitlines() == [
        f"qa-pipeline: error: {where}{broken}: extract referrals, column decision_date: unknown "
        "key 'not_befor' (did you mean 'not_before'?)"]
    assert proc.stdout == ""
    assert not db.exists()  # nothing was written: no database, no run recorded
    assert not (tmp_path / "docs").exists()


def test_the_real_contracts_through_the_same_variable(tmp_path: Path) -> None:
    """The variable the tests above use reads a good file as the default one."""
    db = tmp_path / "qa.db"
    proc = _cli(tmp_path, "db", "upgrade", "--db", f"sqlite:///{db}", contracts=REAL)
    assert proc.returncode == 0, proc.stderr
    assert "schema revision" in proc.stdout
