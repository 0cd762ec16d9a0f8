"""Installs anywhere: a wheel built from the source tree, installed into a fresh virtual
environment outside it, runs the bundled sample batch from a folder of its own.

Slow (a wheel build, in an isolated build environment pip fills from the package registry, and
a virtual environment: about 20-40 s), hence the `wheel` marker: `-m "not wheel"` leaves it
out. The fresh environment gets the wheel with `--no-deps`; its dependencies come from the
project's own virtual environment, whose site-packages a `.pth` file in the fresh one names (a
plain path line: the dev environment's own .pth files, the editable install of the source tree
among them, are not run). The test checks the package imported is the installed one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

import qa_pipeline

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_extracts" / "2026-11-25"
LEFT_OUT = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__",
                                  ".mypy_cache", ".ruff_cache", ".pytest_cache", "reports",
                                  "*.db", "qa_pipeline_holds")

pytestmark = pytest.mark.wheel


def _env(**extra: str) -> dict[str, str]:
    """The environment of the installed commands: no settings, no source tree on the path."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("QA_PIPELINE_") and k not in ("PYTHONPATH", "PYTHONHOME",
                                                              "VIRTUAL_ENV")}
    return {**env, "QA_PIPELINE_AFTERCARE": "false", **extra}


def _check(args: list[str], cwd: Path, timeout: float = 180) -> str:
    done = subprocess.run(args, cwd=cwd, env=_env(), capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, f"{args}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_wheel_installed_outside_the_source_tree_runs_the_sample(tmp_path: Path) -> None:
    # 1. a wheel of a clean copy of the source tree (an in-tree build would leave build/ and
    # *.egg-info in the worktree, and reuse a stale build/lib)
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=LEFT_OUT, symlinks=True)
    dist = tmp_path / "dist"
    _check([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
            "-w", str(dist), str(source)], tmp_path, timeout=300)
    (wheel,) = dist.glob("qa_pipeline-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
    assert "qa_pipeline/spec/extracts.yaml" in names
    assert "qa_pipeline/spec/indicators.yaml" in names
    assert "qa_pipeline/sample/sample.yaml" in names
    assert "qa_pipeline/load/alembic.ini" in names
    assert any(n.startswith("qa_pipeline/load/migrations/versions/") for n in names)
    assert len(names) == len(set(names))

    # 2. a fresh virtual environment outside the source tree, the wheel alone in it
    venv = tmp_path / "venv"
    _check([sys.executable, "-m", "venv", "--without-pip", str(venv)], tmp_path)
    python = venv / "bin" / "python"
    _check([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
            "--no-deps", "--no-index", str(wheel)], tmp_path)
    purelib = _check([str(python), "-c", "import sysconfig; "
                      "print(sysconfig.get_paths()['purelib'])"], tmp_path).strip()
    (Path(purelib) / "qa_pipeline_dev_dependencies.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")

    # 3. it imports the installed package and its packaged contracts, not the source tree
    work = tmp_path / "work"
    work.mkdir()
    where = _check([str(python), "-c", "import qa_pipeline, qa_pipeline.spec.contracts as c, "
                    "qa_pipeline.transform.indicators as i; print(qa_pipeline.__file__); "
                    "print(c.contracts_path()); print(i.config_path())"], work).split()
    assert len(where) == 3
    for path in map(Path, where):
        assert path.is_relative_to(venv), where
        assert not path.resolve().is_relative_to(ROOT.resolve()), where

    # 4. `qa-pipeline --version` and a run of the sample batch from a folder of its own
    command = str(venv / "bin" / "qa-pipeline")
    assert _check([command, "--version"], work).strip() == f"qa-pipeline {qa_pipeline.__version__}"
    landing = tmp_path / "landing"
    shutil.copytree(SAMPLE, landing / SAMPLE.name)
    out = _check([command, "run", str(landing / SAMPLE.name)], work)
    assert "succeeded (exit 0)" in out
    assert (work / "qa_pipeline.db").is_file()
