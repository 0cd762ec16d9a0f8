"""The published tables and views are declared once (spec/published.yaml): the SQLAlchemy
tables, the frame schemas, the row mappings, the BI grant list, the officers' reads and
docs/reporting-db.md all come from the declaration."""

from __future__ import annotations

import copy
import typing
from dataclasses import fields
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from qa_pipeline.cli.officers import ISSUE_FIELDS
from qa_pipeline.ingest.findings import ISSUE_SCHEMA, Finding, findings_frame
from qa_pipeline.ingest.staging import ExtractOutcome
from qa_pipeline.load import db, roles
from qa_pipeline.load.publish import DQ_RULE_RENAME
from qa_pipeline.officers import issues
from qa_pipeline.spec.contracts import load_contracts
from qa_pipeline.spec.docs import render_reporting_db
from qa_pipeline.spec.published import (
    DeclarationError,
    parse_published,
    polars_schema,
    published,
    row,
)
from qa_pipeline.transform import indicators

ROOT = Path(__file__).resolve().parents[2]
P = published()
RAW = yaml.safe_load((ROOT / "src/qa_pipeline/spec/published.yaml").read_text("utf-8"))

# reporting-db.md (shared spec), version 1: every column it names per relation, with its
# type family (the external contract, transcribed: a test of the declaration against it).
SPEC_V1: dict[str, dict[str, str]] = {
    "indicator": {"code": "text", "title": "text", "description": "text",
                  "numerator_definition": "text", "denominator_definition": "text",
                  "unit": "text", "polarity": "text", "target": "number", "source": "text"},
    "indicator_value": {"as_of": "date", "indicator_code": "text", "period_type": "text",
                        "period_label": "text", "period_start": "date", "period_end": "date",
                        "breakdown": "text", "breakdown_value": "text", "numerator": "int",
                        "denominator": "int", "value": "number"},
    "indicator_value_latest": {"as_of": "date", "indicator_code": "text",
                               "period_type": "text", "period_label": "text",
                               "period_start": "date", "period_end": "date",
                               "breakdown": "text", "breakdown_value": "text",
                               "numerator": "int", "denominator": "int", "value": "number"},
    "dq_issue": {"as_of": "date", "extract": "text", "record_id": "text", "child_id": "text",
                 "team_id": "text", "rule_id": "text", "severity": "text",
                 "column_name": "text", "value": "text", "message": "text"},
    "dq_issue_latest": {"as_of": "date", "extract": "text", "record_id": "text",
                        "child_id": "text", "team_id": "text", "rule_id": "text",
                        "severity": "text", "column_name": "text", "value": "text",
                        "message": "text", "first_seen": "date", "status": "text"},
    "dq_rule": {"rule_id": "text", "extract": "text", "severity": "text",
                "description": "text", "guidance": "text"},
    "pipeline_run": {"run_id": "text", "as_of": "date", "started_at": "timestamp",
                     "finished_at": "timestamp", "status": "text", "code_version": "text"},
}
FAMILIES = {"text": {"string", "text"}, "date": {"date"}, "timestamp": {"datetime"},
            "int": {"int"}, "number": {"double"}}


def test_every_column_the_spec_names_is_declared_with_a_compatible_type() -> None:
    for name, columns in SPEC_V1.items():
        rel = P[name]
        assert rel.bi, name
        for column, family in columns.items():
            assert column in rel.columns, f"{name}.{column}"
            assert rel.columns[column].type in FAMILIES[family], f"{name}.{column}"
    # the view holds every column of the table it shows the latest rows of
    assert (P["indicator_value_latest"].column_names()
            == P["indicator_value"].column_names())


def test_bi_grant_list_is_the_declared_published_set() -> None:
    assert roles.PUBLISHED == tuple(n for n, r in RAW["relations"].items() if r["bi"])
    assert "indicator_case" not in roles.PUBLISHED  # read through its view only
    assert not [n for n in roles.PUBLISHED if n.startswith("stg_")]


def test_sqlalchemy_tables_are_built_from_the_declaration() -> None:
    assert set(db.TABLES) == {r.name for r in P.tables()}
    for rel in P.tables():
        table = db.metadata.tables[rel.name]
        assert [c.name for c in table.columns] == rel.column_names()
        assert [c.name for c in table.primary_key] == list(rel.primary_key)
        assert {i.name: tuple(c.name for c in i.columns) for i in table.indexes} == dict(
            rel.indexes)
        assert table.comment == rel.description
        for c in rel.columns.values():
            col = table.c[c.name]
            assert col.nullable == c.nullable and col.comment == c.comment, c.name
            assert isinstance(col.type, db.PUBLISHED_SQL_TYPES[c.type]), c.name
            assert getattr(col.type, "length", None) == c.length, c.name
    assert db.dq_issue is db.metadata.tables["dq_issue"]


def test_frame_schemas_are_the_declared_columns() -> None:
    assert list(ISSUE_SCHEMA) == [c for c in P["dq_issue"].columns
                                  if c not in ("issue_id", "run_id")]
    assert list(indicators.VALUE_SCHEMA) == P["indicator_value"].column_names(
        exclude=("as_of",))
    assert list(indicators.COMPACT_CASE_SCHEMA) == P["indicator_case"].column_names(
        exclude=("case_id", "as_of", "extract", "version_id", "outcome", "row_hash"))
    assert str(polars_schema("dq_issue")["source_row"]) == "Int64"
    assert str(polars_schema("indicator_case")["in_numerator"]) == "Boolean"
    frame = findings_frame([Finding(as_of=date(2024, 1, 2), extract="persons",
                                    rule_id="persons.x", severity="error", message="m.")])
    assert frame.schema == ISSUE_SCHEMA and frame["rule_id"].to_list() == ["persons.x"]


def test_row_mappings_take_every_declared_column() -> None:
    o = ExtractOutcome(extract="persons", file_name="persons.csv", status="loaded",
                       rows_read=3, rows_loaded=2, rows_quarantined=1)
    r = row("pipeline_run_extract", o, run_id="r1")
    assert list(r) == P["pipeline_run_extract"].column_names()
    assert r["run_id"] == "r1" and r["rows_quarantined"] == 1
    rule = load_contracts().rules[0]
    r = row("dq_rule", rule, rename=DQ_RULE_RENAME)
    assert r["description"] == rule.message and r["column_name"] == rule.column
    assert r["description_cy"] == rule.message_cy and r["guidance_cy"] == rule.guidance_cy
    with pytest.raises(AttributeError):  # a column the item lacks is never left out
        row("dq_rule", rule)
    with pytest.raises(KeyError, match="dq_rule has no column colour"):
        row("dq_rule", rule, colour="red")


@pytest.mark.parametrize(("relation", "record", "columns"), [
    ("dq_issue_latest", "Issue", "ISSUE_COLUMNS"),
    ("dq_issue_resolved", "ResolvedIssue", "RESOLVED_COLUMNS"),
])
def test_officers_read_declared_columns(relation: str, record: str, columns: str) -> None:
    """Each field of the record officers read is a declared column of the view, of its
    type and nullability (`team_id` may be blank in dq_issue_latest)."""
    view, cls = P[relation], getattr(issues, record)
    hints = typing.get_type_hints(cls)
    python = {"date": date, "int": int, "string": str, "text": str}
    for f in fields(cls):
        assert f.name in view.columns, f.name
        declared = view.columns[f.name]
        assert python[declared.type] in typing.get_args(hints[f.name]) + (hints[f.name],)
        assert (type(None) in typing.get_args(hints[f.name])) == declared.nullable or (
            relation == "dq_issue_latest" and f.name == "team_id"), f.name
    read = getattr(issues, columns)
    assert read == tuple(c for c in view.column_names() if c in {f.name for f in fields(cls)})
    assert set(read) == {f.name for f in fields(cls)}


def test_the_issues_command_shows_declared_columns() -> None:
    view = P["dq_issue_latest"]
    assert set(ISSUE_FIELDS) <= set(view.columns)
    with pytest.raises(KeyError, match="dq_issue_latest declares no column colour"):
        view.pick("team_id", "colour")


def _declaration(**change: Any) -> dict[str, Any]:
    data = copy.deepcopy(RAW)
    for path, value in change.items():
        *parents, last = path.split("__")
        node = data["relations"]
        for part in parents:
            node = node[part]
        node[last] = value
    return data


@pytest.mark.parametrize(("change", "message"), [
    ({"dq_rule__colour": "red"}, "relation dq_rule: unknown key 'colour'"),
    ({"dq_issue__columns__severity__colour": 1},
     "relation dq_issue, column severity: unknown key 'colour'"),
    ({"dq_issue_latest__primary_key": ["issue_id"]},
     "relation dq_issue_latest: unknown key 'primary_key'"),
    ({"batch__columns__as_of__type": "varchar"}, "column as_of: unknown type 'varchar'"),
    ({"batch__columns__run_id__references": "pipeline_run.nope"},
     "relation batch, column run_id: references unknown column 'pipeline_run.nope'"),
    ({"batch__primary_key": ["nope"]}, "relation batch, primary_key: unknown column 'nope'"),
    ({"batch__columns__as_of__nullable": True}, "a primary key column needs nullable: false"),
    ({"batch__kind": "index"}, "relation batch: kind is table or view"),
    ({"batch__columns__batch_path__length": 9}, "length is a positive number, for a string"),
])
def test_the_declaration_refuses_what_it_does_not_know(change: dict[str, Any],
                                                       message: str) -> None:
    with pytest.raises(DeclarationError, match=message.replace("(", r"\(")):
        parse_published(_declaration(**change), "published.yaml")


def test_the_packaged_declaration_parses_and_missing_description_is_refused() -> None:
    assert parse_published(copy.deepcopy(RAW)) == P
    data = _declaration()
    del data["relations"]["dq_rule"]["columns"]["level"]["description"]
    with pytest.raises(DeclarationError, match="dq_rule, column level: missing key"):
        parse_published(data)


def test_docs_reporting_db_md_is_generated_from_the_declaration() -> None:
    committed = (ROOT / "docs" / "reporting-db.md").read_text(encoding="utf-8")
    assert committed == render_reporting_db(load_contracts()), \
        "run `qa-pipeline docs` to regenerate"
    for rel in P.relations.values():  # every relation and column is described
        assert f"### {rel.name}\n" in committed
        for c in rel.columns.values():
            assert f"| `{c.name}` | {c.sql_type} |" in committed
    assert "### referrals_history\n" in committed and "`stg_<extract>`" in committed


def test_indexes_compare_equal_to_sqlalchemy() -> None:
    # the named indexes keep their names (the naming convention would rename them)
    assert {i.name for i in db.dq_issue.indexes} == {"ix_dq_issue_as_of_rule",
                                                     "ix_dq_issue_record"}
    assert isinstance(db.indicator.c.target.type, sa.Double)


def test_an_nhs_number_in_the_welsh_message_is_redacted_as_in_the_english() -> None:
    """The particulars of a file-level finding reach message_cy too (translated, not
    filtered): the same gate redacts both."""
    from qa_pipeline.ingest.findings import bound_issues

    detail = "the file is not valid CSV near 943 476 5919 (x)"
    frame = bound_issues(findings_frame([Finding(
        as_of=date(2026, 11, 25), extract="persons.csv", rule_id="persons.unreadable",
        severity="file_error", message=f"Could not read ({detail})",
        message_cy=f"Ni ellid darllen ({detail})")]))
    assert "5919" not in frame["message"][0] and "5919" not in frame["message_cy"][0]
