"""The rule kinds registry: one place per kind (which declarations produce it, its message and
guidance, its row expression), and rules that nothing changes after the contracts load."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from qa_pipeline.ingest.staging import stage_batch
from qa_pipeline.spec.contracts import load_contracts
from qa_pipeline.spec.rule_kinds import KINDS
from tests.batch_builder import base, write_batch

CONTRACTS = load_contracts()


def test_every_rule_has_a_registered_kind_of_its_level() -> None:
    for r in CONTRACTS.rules:
        if r.extract == "batch":
            continue
        k = KINDS[r.kind]
        assert r.level == k.level, r.rule_id
        assert (k.check is not None) == (r.level == "row"), r.rule_id


def test_every_registered_kind_produces_a_rule_from_the_contracts() -> None:
    used = {r.kind for r in CONTRACTS.rules}
    assert set(KINDS) <= used, sorted(set(KINDS) - used)


def test_rule_params_are_read_only() -> None:
    rule = next(r for r in CONTRACTS.rules if r.kind == "not_before_parent")
    with pytest.raises(TypeError):
        rule.params["parent_type"] = "datetime"  # type: ignore[index]
    # The parent's column type is resolved when the contracts load, not while validating.
    parent = CONTRACTS.extracts[rule.params["lookup"].extract]
    assert rule.params["parent_type"] == parent.columns[rule.params["lookup"].column].type


def test_validating_leaves_the_rules_as_loaded(tmp_path: Path) -> None:
    before = [(r.rule_id, dict(r.params)) for r in CONTRACTS.rules]
    snapshot = copy.deepcopy(before)
    data = base()
    del data["referrals"]  # parents missing: the lookups have nothing to resolve
    stage_batch(write_batch(tmp_path / "a", data), tmp_path / "wa")
    stage_batch(write_batch(tmp_path / "b", base()), tmp_path / "wb")
    assert [(r.rule_id, dict(r.params)) for r in load_contracts().rules] == snapshot
