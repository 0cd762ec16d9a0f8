"""A site's own copies of the packaged contracts and indicator configuration, for tests: the
packaged contracts with `TELEPATHY` added to the referral sources, the packaged configuration
with two working days for the referral decision (REF01)."""

from __future__ import annotations

from pathlib import Path

from qa_pipeline.spec.contracts import packaged_contracts_path
from qa_pipeline.transform.indicators import packaged_config_path

SOURCES = ("codes: [POLICE, HEALTH, SCHOOL, LA_SERVICES, FAMILY, SELF, ANONYMOUS, OTHER_AGENCY, "
           "OTHER]")  # referrals.referral_source


def site_contracts(tmp_path: Path) -> Path:
    text = packaged_contracts_path().read_text(encoding="utf-8")
    assert text.count(SOURCES) == 1
    path = tmp_path / "site_extracts.yaml"
    path.write_text(text.replace(SOURCES, SOURCES.replace("OTHER]", "OTHER, TELEPATHY]")),
                    encoding="utf-8")
    return path


def site_indicators(tmp_path: Path) -> Path:
    text = packaged_config_path().read_text(encoding="utf-8")
    old = "decision_working_days: 1 "
    assert text.count(old) == 1
    path = tmp_path / "site_indicators.yaml"
    path.write_text(text.replace(old, "decision_working_days: 2 "), encoding="utf-8")
    return path
