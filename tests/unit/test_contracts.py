"""The contract file is the one declaration: everything else is generated from it."""

from __future__ import annotations

from pathlib import Path

import pandera.polars as pa
import polars as pl
import pytest

from qa_pipeline.ingest.validation import build_schema, validation_frame
from qa_pipeline.spec.contracts import ContractError, load_contracts, parse_contracts
from qa_pipeline.spec.docs import render_indicators, render_rules
from tests.batch_builder import AS_OF

CONTRACTS = load_contracts()
ROOT = Path(__file__).resolve().parents[2]
SPEC_COLUMNS = {
    "teams": 3, "persons": 12, "relationships": 8, "referrals": 11, "assessments": 13,
    "strategy_discussions": 6, "cp_conferences": 7, "conference_attendance": 7,
    "cp_plans": 7, "cin_plans": 9, "cin_reviews": 7, "fit_referrals": 8,
}


def test_all_twelve_extracts_with_spec_columns() -> None:
    assert {n: len(e.columns) for n, e in CONTRACTS.extracts.items()} == SPEC_COLUMNS


def test_rule_ids_unique_and_stable_shape() -> None:
    ids = [r.rule_id for r in CONTRACTS.rules]
    assert len(ids) == len(set(ids))
    for r in CONTRACTS.rules:
        assert r.rule_id.startswith(r.extract + ".")
        assert r.severity in ("file_error", "error", "warning")
        assert r.message.endswith(".") and r.guidance


def test_dependency_order_puts_parents_first() -> None:
    order = [e.name for e in CONTRACTS.ordered()]
    for e in CONTRACTS.extracts.values():
        for parent in e.parents():
            assert order.index(parent) < order.index(e.name)


def test_docs_rules_md_is_generated_from_contracts() -> None:
    committed = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    assert committed == render_rules(CONTRACTS), "run `qa-pipeline docs` to regenerate"


def test_docs_indicators_md_is_generated() -> None:
    committed = (ROOT / "docs" / "indicators.md").read_text(encoding="utf-8")
    assert committed == render_indicators(), "run `qa-pipeline docs` to regenerate"


def test_contract_errors_are_caught() -> None:
    bad = {"extracts": {"a": {"key": ["x"], "columns": {"x": {"type": "float"}}}}}
    with pytest.raises(ContractError, match="unknown type"):
        parse_contracts(bad)
    cyclic = {"extracts": {
        "a": {"key": ["x"], "columns": {"x": {"type": "id", "ref": "b"}}},
        "b": {"key": ["y"], "columns": {"y": {"type": "id", "ref": "a"}}}}}
    with pytest.raises(ContractError, match="circular"):
        parse_contracts(cyclic)


def test_pandera_catches_a_bad_value_on_an_eager_frame() -> None:
    """Guard against pandera's LazyFrame trap: value checks must really run."""
    e = CONTRACTS.extracts["teams"]
    text = pl.DataFrame({"source_row": [1, 2], "team_id": ["T1", "T2"],
                         "team_name": ["a", "b"], "service_area": ["OTHER", "BOGUS"]})
    frame, _ = validation_frame(text, e, parents={})
    schema, _ = build_schema(e, AS_OF)
    with pytest.raises(pa.errors.SchemaErrors) as exc:
        schema.validate(frame, lazy=True)
    fc = exc.value.failure_cases
    assert fc["index"].to_list() == [1]
