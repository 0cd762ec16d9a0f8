"""A site's own contracts and indicator configuration take effect in a run: the bundled
sample batch, run with the packaged files and then with a site's copies named in its settings
file (`--config`), one with a code added to a code list, one with another timescale."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from qa_pipeline.cli.main import main
from qa_pipeline.load.db import make_engine
from tests.site_copies import site_contracts, site_indicators

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_extracts" / "2026-11-25"
RULE = "referrals.referral_source.unknown_code"


def _run(tmp_path: Path, name: str, settings_text: str) -> dict[str, object]:
    settings = tmp_path / f"{name}.yaml"
    settings.write_text(f"aftercare: false\n{settings_text}", encoding="utf-8")
    url = f"sqlite:///{tmp_path / name}.db"
    assert main(["run", str(tmp_path / "landing" / SAMPLE.name), "--db", url,
                 "--config", str(settings)]) == 0
    with make_engine(url).connect() as conn:
        unknown = {r for (r,) in conn.execute(sa.text(
            "SELECT record_id FROM dq_issue WHERE rule_id = :r"), {"r": RULE})}
        sources = dict(conn.execute(sa.text(
            "SELECT referral_id, referral_source FROM stg_referrals WHERE referral_id IN "
            "('000005916', '000005917')")).all())
        ref01 = conn.execute(sa.text(
            "SELECT title, timescales FROM indicator WHERE code = 'REF01'")).one()
        values = conn.execute(sa.text(
            "SELECT period_label, numerator, denominator FROM indicator_value WHERE "
            "indicator_code = 'REF01' AND period_type = 'year' AND breakdown = 'all' "
            "ORDER BY period_label")).all()
    return {"unknown": unknown, "sources": sources, "title": ref01.title,
            "timescales": json.loads(ref01.timescales), "values": values}


def test_site_contracts_and_indicator_configuration_take_effect_in_a_run(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("QA_PIPELINE_CONFIG", "QA_PIPELINE_CONTRACTS_FILE",
                 "QA_PIPELINE_INDICATORS_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    shutil.copytree(SAMPLE, tmp_path / "landing" / SAMPLE.name)

    packaged = _run(tmp_path, "packaged", "")
    # the sample's two unknown referral sources are quarantined (ground truth)
    assert packaged["unknown"] == {"000005916", "000005917"} and packaged["sources"] == {}
    assert packaged["timescales"] == {"decision_working_days": 1}

    site = _run(tmp_path, "site", f"contracts_file: {site_contracts(tmp_path)}\n"
                                  f"indicators_file: {site_indicators(tmp_path)}\n")
    # TELEPATHY is a referral source of this site: that referral is loaded, the other is not
    assert site["unknown"] == {"000005917"}
    assert site["sources"] == {"000005916": "TELEPATHY"}
    # two working days for the referral decision: the catalogue says so, and more count
    assert site["timescales"] == {"decision_working_days": 2}
    assert site["title"] == "Referral decisions made within 2 working days (SCC/006)"
    assert packaged["title"] == "Referral decisions made within 1 working day (SCC/006)"
    assert site["values"] != packaged["values"]
    assert sum(n for _, n, _ in site["values"]) > sum(n for _, n, _ in packaged["values"])


def test_a_missing_site_file_stops_the_run_before_it_starts(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = tmp_path / "site.yaml"
    settings.write_text(f"contracts_file: {tmp_path / 'nowhere.yaml'}\n", encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'qa.db'}"
    assert main(["run", str(SAMPLE), "--db", url, "--config", str(settings)]) == 2
    assert "contracts_file" in capsys.readouterr().err
    assert not (tmp_path / "qa.db").exists()  # nothing started
