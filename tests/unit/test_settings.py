"""One Settings object: defaults < config file < environment; what a deployment takes from it;
the database password from a Prefect Secret block into PGPASSWORD, never into a URL."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa_pipeline.ops.settings import Settings, load_settings
from qa_pipeline.orchestrate.scheduling import (
    DeploymentError,
    config_path,
    deployment_environment,
    deployment_parameters,
    exit_status,
    load_db_password,
)


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "qa_pipeline.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_then_file_then_environment(tmp_path: Path) -> None:
    config = _config(tmp_path, "landing: /data/landing\nlock_timeout_seconds: 30\n"
                               "hold_dir: /srv/holds\n")
    s = load_settings(environ={"QA_PIPELINE_CONFIG": str(config)})
    assert s.landing == Path("/data/landing") and s.hold_dir == Path("/srv/holds")
    assert s.lock_timeout_seconds == 30.0 and s.volume_drop_threshold == 0.5  # default
    s = load_settings(environ={"QA_PIPELINE_CONFIG": str(config),
                               "QA_PIPELINE_LOCK_TIMEOUT_SECONDS": "5",
                               "QA_PIPELINE_LANDING": "/other/landing",
                               "QA_PIPELINE_DB_PASSWORD_SECRET": "qa-db-password"})
    assert s.lock_timeout_seconds == 5.0 and s.landing == Path("/other/landing")
    assert s.db_password_secret == "qa-db-password"
    assert s.with_overrides(db_url="sqlite:///x.db", landing=None).landing == Path(
        "/other/landing")


def test_config_file_must_not_hold_a_password_or_unknown_names(tmp_path: Path) -> None:
    bad = _config(tmp_path, "db_url: postgresql+psycopg://qa_loader:s3cret@db/qa\n")
    with pytest.raises(ValueError, match="must not carry a password"):
        load_settings(bad, environ={})
    typo = _config(tmp_path, "landin: /data\n")
    with pytest.raises(ValueError, match="unknown settings"):
        load_settings(typo, environ={})


def test_config_path_is_the_file_load_settings_reads(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    config = _config(tmp_path, "landing: /data\n")
    assert config_path(environ={"QA_PIPELINE_CONFIG": str(config)}) == config.resolve()
    assert config_path(config, environ={}) == config.resolve()
    monkeypatch.chdir(tmp_path)
    assert config_path(environ={}) == config.resolve()  # ./qa_pipeline.yaml
    assert config_path(environ={"QA_PIPELINE_CONFIG": str(tmp_path / "none.yaml")}) is None


def test_deployment_parameters_are_only_the_landing_folder(tmp_path: Path) -> None:
    s = Settings(landing=tmp_path / "landing", db_url="postgresql+psycopg://qa_loader@db/qa")
    assert deployment_parameters(s) == {"path": str((tmp_path / "landing").resolve())}
    with pytest.raises(DeploymentError, match="no landing folder"):
        deployment_parameters(Settings())
    leaky = Settings(landing=tmp_path, db_url="postgresql+psycopg://qa_loader:pw@db/qa")
    with pytest.raises(DeploymentError, match="carries a password") as err:
        deployment_parameters(leaky)
    assert "pw@" not in str(err.value)


def test_deployment_environment_fills_prefect_yaml(tmp_path: Path) -> None:
    config = _config(tmp_path, f"landing: {tmp_path / 'landing'}\n")
    settings = load_settings(config, environ={})
    env = deployment_environment(settings, config, environ={})
    assert env == {"QA_PIPELINE_LANDING": str((tmp_path / "landing").resolve()),
                   "QA_PIPELINE_CONFIG": str(config.resolve())}
    no_file = deployment_environment(Settings(landing=tmp_path), environ={
        "QA_PIPELINE_CONFIG": str(tmp_path / "missing.yaml")})
    assert no_file["QA_PIPELINE_CONFIG"] == ""  # the runs read ./qa_pipeline.yaml


def test_password_from_secret_block_goes_to_pgpassword_only() -> None:
    asked: list[str] = []

    def secret(name: str) -> str:
        asked.append(name)
        return "s3cret-from-block"

    environ: dict[str, str] = {"PGPASSWORD": "old"}
    settings = Settings(db_url="postgresql+psycopg://qa_loader@db/qa",
                        db_password_secret="qa-db-password")
    assert load_db_password(settings, environ, load_secret=secret) is True
    assert asked == ["qa-db-password"] and environ == {"PGPASSWORD": "s3cret-from-block"}
    assert "s3cret" not in settings.db_url  # never in the URL
    untouched: dict[str, str] = {}
    assert load_db_password(Settings(), untouched, load_secret=secret) is False
    assert untouched == {} and asked == ["qa-db-password"]
    with pytest.raises(DeploymentError, match="is empty"):
        load_db_password(settings, {}, load_secret=lambda name: "")


def test_final_state_maps_to_the_cli_exit_status() -> None:
    from prefect.states import Cancelled, Completed, Crashed, Failed

    from qa_pipeline.ingest.staging import BatchError

    # The flow returns the night (`LandingResult.as_dict()`), its exit code the worst batch's.
    assert exit_status(Completed(data={"exit_code": 0, "batches": [{"exit_code": 0}]})) == 0
    assert exit_status(Completed(data={"exit_code": 0, "batches": []})) == 0  # nothing new
    assert exit_status(Completed(data={"exit_code": 3, "batches": [{"exit_code": 3}]})) == 3
    assert exit_status(Completed(data={"exit_code": 3, "batches": [], "refused": ["x"]})) == 3
    assert exit_status(Failed(data=RuntimeError("database gone"))) == 1
    assert exit_status(Failed(data=BatchError("not a landing folder"))) == 2
    assert exit_status(Failed(name="TimedOut")) == 1
    assert exit_status(Crashed()) == 1 and exit_status(Cancelled()) == 1


def test_settings_command_masks_the_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    from qa_pipeline.cli.main import main

    monkeypatch.setenv("QA_PIPELINE_CONFIG", str(_config(tmp_path, "landing: /data\n")))
    monkeypatch.setenv("QA_PIPELINE_DB_URL", "postgresql+psycopg://qa_loader:hunter2@db/qa")
    assert main(["settings"]) == 0
    out = capsys.readouterr().out
    assert "hunter2" not in out and "qa_loader:***@db/qa" in out
    assert "landing                 /data" in out


def test_an_spc_baseline_under_twelve_points_is_refused() -> None:
    """Fewer than 12 baseline points never give limits (reporting-db.md 1.1): such a
    setting would silently turn every chart into common cause, so it stops the run."""
    assert Settings().spc_baseline_points == 20
    assert load_settings(None, environ={"QA_PIPELINE_SPC_BASELINE_POINTS": "12"}
                         ).spc_baseline_points == 12
    with pytest.raises(ValueError, match="spc_baseline_points \\(11\\) is below 12"):
        load_settings(None, environ={"QA_PIPELINE_SPC_BASELINE_POINTS": "11"})
    with pytest.raises(ValueError):
        load_settings(None, environ={"QA_PIPELINE_SPC_BASELINE_POINTS": "twenty"})
