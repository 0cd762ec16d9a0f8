"""The contracts and the indicator configuration are package data; a site's own copies are
named by the settings `contracts_file` and `indicators_file` (file < environment < the
settings a run was started with), and a copy that would change the database is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa_pipeline.ops.job import check_site_files
from qa_pipeline.ops.settings import Settings, load_settings, settings_in_use, using
from qa_pipeline.spec.contracts import (
    ContractError,
    contracts_path,
    load_contracts,
    packaged_contracts_path,
)
from qa_pipeline.transform.indicators import config_path, load_config, packaged_config_path
from tests.site_copies import site_contracts, site_indicators

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "qa_pipeline"


def test_packaged_files_are_real_files_inside_the_package() -> None:
    for path in (packaged_contracts_path(), packaged_config_path()):
        assert path.is_file() and not path.is_symlink()
        assert path.resolve().is_relative_to(PACKAGE.resolve())
    assert not (PACKAGE / "spec").is_symlink()
    for folder in ("contracts", "config"):  # no second copy at the top of the source tree
        assert not (PACKAGE.parents[1] / folder).exists()


def test_by_default_the_packaged_files_are_used(monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no ./qa_pipeline.yaml
    for name in ("QA_PIPELINE_CONFIG", "QA_PIPELINE_CONTRACTS_FILE",
                 "QA_PIPELINE_INDICATORS_FILE"):
        monkeypatch.delenv(name, raising=False)
    assert contracts_path() == packaged_contracts_path()
    assert config_path() == packaged_config_path()
    assert load_contracts() is load_contracts(packaged_contracts_path())


def test_site_files_from_settings_file_environment_and_the_run(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    contracts, indicators = site_contracts(tmp_path), site_indicators(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("QA_PIPELINE_CONTRACTS_FILE", raising=False)
    monkeypatch.delenv("QA_PIPELINE_INDICATORS_FILE", raising=False)
    settings_file = tmp_path / "site.yaml"
    settings_file.write_text(f"contracts_file: {contracts}\nindicators_file: {indicators}\n",
                             encoding="utf-8")
    assert load_settings(settings_file, environ={}).contracts_file == contracts

    monkeypatch.setenv("QA_PIPELINE_CONFIG", str(settings_file))  # the file
    assert "TELEPATHY" in load_contracts().extracts["referrals"].columns[
        "referral_source"].codes
    assert load_config().timescales["decision_working_days"] == 2
    monkeypatch.delenv("QA_PIPELINE_CONFIG")

    monkeypatch.setenv("QA_PIPELINE_INDICATORS_FILE", str(indicators))  # the environment
    assert load_config().timescales["decision_working_days"] == 2
    monkeypatch.delenv("QA_PIPELINE_INDICATORS_FILE")
    assert load_config().timescales["decision_working_days"] == 1

    with using(Settings(contracts_file=contracts)):  # the settings a run was started with
        assert settings_in_use().contracts_file == contracts
        assert contracts_path() == contracts
        assert "TELEPATHY" in load_contracts().extracts["referrals"].columns[
            "referral_source"].codes
    assert contracts_path() == packaged_contracts_path()
    assert "TELEPATHY" not in load_contracts().extracts["referrals"].columns[
        "referral_source"].codes


def test_a_site_contracts_file_may_not_change_the_database(tmp_path: Path) -> None:
    """Extracts, keys and columns make the `stg_*` tables (built from the packaged
    contracts): a copy that changes them is refused, naming the extract."""
    packaged = packaged_contracts_path().read_text(encoding="utf-8")
    column = "      team_name:\n        type: text\n"  # a valid contract, another table
    assert packaged.count(column) == 1
    changed = tmp_path / "changed" / "extracts.yaml"
    changed.parent.mkdir()
    changed.write_text(packaged.replace(column, "      team_name:\n        type: id\n"),
                       encoding="utf-8")
    with pytest.raises(ContractError, match="differs in: teams"):
        load_contracts(changed)
    with pytest.raises(ContractError, match="the setting contracts_file: .*differs in: teams"):
        check_site_files(Settings(contracts_file=changed))
    with pytest.raises(ValueError, match="indicators_file .*FileNotFoundError"):
        check_site_files(Settings(indicators_file=tmp_path / "missing.yaml"))
    check_site_files(Settings(contracts_file=site_contracts(tmp_path),
                              indicators_file=site_indicators(tmp_path)))
