"""Dependent rows on a generated batch (issue 14's acceptance): the seeded generator's batch,
with its own planted defects, and on top faults planted in records that others refer to - a
referral with assessments, a father of a child on a plan, a strategy discussion with an
initial conference, a CIN plan with reviews, a child with referrals, a team.

Checked against what the test computes itself from the delivered text and the spec:
- the errors fall exactly on the planted rows (the generator's ground truth and ours);
- every row that refers to a planted record is loaded and listed once as a warning naming
  that record and its rule (the contracts' references say which rows refer to which);
- every indicator value equals the value computed on the loaded rows with the dependent rows
  deleted for exactly the indicators the "Dependent rows" table of indicators.md names, and
  kept for all the others.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from qa_pipeline.ingest.reading import ROW_COLUMN, RawFile, read_text_csv
from qa_pipeline.ingest.staging import Manifest, stage_batch
from qa_pipeline.sample.generate import generate_batch
from qa_pipeline.spec.contracts import load_contracts
from qa_pipeline.transform.indicators import CATALOGUE, derive, derive_batch

AS_OF = date(2026, 11, 25)
CONTRACTS = load_contracts()
PER_KIND = 3
FATHER_FIGURES = ("BIRTH_FATHER", "ADOPTIVE_FATHER", "STEP_FATHER", "MALE_CARER")

# indicators.md, "Dependent rows": (extract, reference column) -> the indicators it is kept
# out of. Every other reference excludes nothing.
TABLE: dict[tuple[str, str], set[str]] = {
    ("assessments", "referral_id"): {"ASM01", "ASM02", "ASM03", "ASM04", "ASM05"},
    ("relationships", "related_person_id"): {"FTH02"},
    ("cp_conferences", "strategy_id"): {"CPC01"},
    ("cin_reviews", "cin_plan_id"): {"CIN03", "CIN04"},
}

Text = dict[str, pl.DataFrame]


def _record_id(e_name: str) -> pl.Expr:
    key = CONTRACTS.extracts[e_name].key
    return pl.concat_str([pl.col(k).fill_null("") for k in key], separator="|")


def _read(batch: Path) -> Text:
    out = {}
    for e in CONTRACTS.extracts.values():
        read = read_text_csv(batch / e.file_name)
        assert isinstance(read, RawFile), e.file_name
        out[e.name] = read.frame.drop(ROW_COLUMN)
    return out


def _referrers(text: Text, parent: str, keys: set[str]) -> list[tuple[str, str, str, str]]:
    """(extract, record_id, column, parent key) of every row referring to one of `keys` of
    `parent`, by the contracts' single-column references."""
    out = []
    for e in CONTRACTS.extracts.values():
        for ref in e.references:
            if ref.extract != parent:
                continue
            assert len(ref.columns) == 1, f"{e.name} refers to {parent} by several columns"
            col = ref.columns[0]
            hits = text[e.name].filter(pl.col(col).is_in(sorted(keys)))
            out += [(e.name, rid, col, k) for rid, k in zip(
                hits.select(_record_id(e.name)).to_series(), hits[col], strict=True)]
    return out


def _pick(candidates: pl.Series, text: Text, parent: str, avoid: set[str], k: int
          ) -> list[str]:
    """k candidate keys, each unique in its extract and not a record the generator planted
    a defect in. (A row with a planted defect may refer to one: it is quarantined for its own
    fault and listed as dependent too.)"""
    counts = text[parent].group_by(CONTRACTS.extracts[parent].key[0]).len()
    unique = set(counts.filter(pl.col("len") == 1)[CONTRACTS.extracts[parent].key[0]])
    chosen: list[str] = []
    for key in sorted(set(candidates.drop_nulls()) & unique):
        if key in avoid:
            continue
        chosen.append(key)
        if len(chosen) == k:
            break
    assert len(chosen) == k, f"not enough {parent} to plant in"
    return chosen


def _plant(text: Text, avoid: set[str]) -> list[tuple[str, str, str]]:
    """Break records others refer to; returns (extract, record_id, rule_id) of each."""
    t = text
    on_plans = t["relationships"].filter(
        pl.col("child_id").is_in(t["cp_plans"]["child_id"].implode())
        & pl.col("relationship_type").str.to_uppercase().is_in(FATHER_FIGURES))
    initial = t["cp_conferences"].filter(pl.col("conference_type").str.to_uppercase()
                                         == "INITIAL")
    children = t["persons"].filter(pl.col("person_id").is_in(t["referrals"]["child_id"]
                                                             .implode()))
    plan = [  # parent, candidate keys, column, bad value, rule broken
        ("referrals", t["assessments"]["referral_id"], "referral_source", "TELEPATHY",
         "referrals.referral_source.unknown_code"),
        ("persons", on_plans["related_person_id"], "disability", "ZZ",
         "persons.disability.invalid_flag"),
        ("strategy_discussions", initial["strategy_id"], "s47_outcome", "ZZZ",
         "strategy_discussions.s47_outcome.unknown_code"),
        ("cin_plans", t["cin_reviews"]["cin_plan_id"], "multi_agency_at_start", "MAYBE",
         "cin_plans.multi_agency_at_start.invalid_flag"),
        ("persons", children["person_id"], "ethnicity", "ZZZZ",
         "persons.ethnicity.unknown_code"),
        ("teams", t["referrals"]["team_id"], "service_area", "NOWHERE",
         "teams.service_area.unknown_code"),
    ]
    planted: list[tuple[str, str, str]] = []
    taken: set[str] = set(avoid)
    for parent, candidates, column, bad, rule in plan:
        k = 1 if parent == "teams" else PER_KIND
        keys = _pick(candidates, t, parent, taken, k)
        taken |= set(keys)
        key_col = CONTRACTS.extracts[parent].key[0]
        t[parent] = t[parent].with_columns(
            pl.when(pl.col(key_col).is_in(keys)).then(pl.lit(bad)).otherwise(pl.col(column))
            .alias(column))
        planted += [(parent, key, rule) for key in keys]
    return planted


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("dependent_generated")
    batch = generate_batch(root / "landing", children=600, seed=14, as_of=AS_OF, defects=True)
    truth = pl.read_csv(root / "landing" / f"{AS_OF}.ground_truth.csv", infer_schema=False
                        ).with_columns(pl.col("record_id").replace("", None))
    text = _read(batch)
    planted = _plant(text, set(truth["record_id"].drop_nulls()))
    for name in {p[0] for p in planted}:  # rewritten plainly: UTF-8, normalised header
        text[name].write_csv(batch / CONTRACTS.extracts[name].file_name)
    manifest: Manifest = stage_batch(batch, root / "work")
    derive_batch(manifest)
    return {"truth": truth, "text": text, "planted": planted, "manifest": manifest,
            "issues": pl.read_parquet(manifest.issues_parquet)}


def _dependents(night: dict[str, object]) -> list[tuple[str, str, str, str, str]]:
    """(extract, record_id, column, root rule, root record) from the text and the plant: the
    rows referring to a planted record, less those with an error of their own (quarantined,
    not dependent: the generator's planted errors)."""
    text, planted, truth = night["text"], night["planted"], night["truth"]
    assert isinstance(text, dict) and isinstance(planted, list)
    assert isinstance(truth, pl.DataFrame)
    errors = truth.filter(pl.col("severity") == "error")
    # A duplicated key: the later row is quarantined, the first is loaded (and may depend).
    twice = set(errors.filter(pl.col("rule_id").str.ends_with(".duplicate_key")).select(
        "extract", "record_id").rows())
    erring = set(errors.filter(~pl.col("rule_id").str.ends_with(".duplicate_key")).select(
        "extract", "record_id").rows()) | {(x, key) for x, key, _ in planted}
    out = []
    dropped: set[tuple[str, str, str]] = set()
    for parent in {p[0] for p in planted}:
        rules = {key: rule for x, key, rule in planted if x == parent}
        for x, rid, col, key in _referrers(text, parent, set(rules)):
            if (x, rid) in erring:
                continue
            if (x, rid) in twice and (x, rid, col) not in dropped:  # the quarantined copy
                dropped.add((x, rid, col))
                continue
            out.append((x, rid, col, rules[key], key))
    return sorted(out)


def test_errors_fall_exactly_on_the_planted_rows(night: dict[str, object]) -> None:
    issues, truth, planted = night["issues"], night["truth"], night["planted"]
    assert isinstance(issues, pl.DataFrame) and isinstance(truth, pl.DataFrame)
    assert isinstance(planted, list)
    errors = issues.filter(pl.col("severity").is_in(["error", "file_error"]))
    expected = set(truth.filter(pl.col("severity").is_in(["error", "file_error"])).select(
        "extract", "record_id", "rule_id").rows()) | set(planted)
    assert sorted(errors.select("extract", "record_id", "rule_id").rows()) == sorted(expected)
    own_warnings = issues.filter((pl.col("severity") == "warning")
                                 & ~pl.col("rule_id").str.ends_with(".reference_quarantined"))
    assert sorted(own_warnings.select("extract", "record_id", "rule_id").rows()) == sorted(
        truth.filter(pl.col("severity") == "warning").select(
            "extract", "record_id", "rule_id").rows())


def test_every_dependent_row_is_loaded_and_names_its_root_cause(
        night: dict[str, object]) -> None:
    issues, manifest = night["issues"], night["manifest"]
    assert isinstance(issues, pl.DataFrame) and isinstance(manifest, Manifest)
    expected = _dependents(night)
    assert len(expected) > 100  # a team, fathers, referrals: many rows depend on them
    found = issues.filter(pl.col("rule_id").str.ends_with(".reference_quarantined"))
    assert set(found["severity"]) == {"warning"}
    got = sorted(found.select("extract", "record_id", "column_name", "root_rule_id",
                              "root_record_id").rows())
    assert got == expected
    assert {r[0] for r in expected} >= {x for x, _ in TABLE}
    # Loaded: every row but those with an error of their own.
    errors = issues.filter(pl.col("severity") == "error").group_by("extract").agg(
        pl.col("record_id").n_unique())
    bad = dict(errors.rows())
    for name, o in manifest.extracts.items():
        assert o.rows_loaded == o.rows_read - bad.get(name, 0), name


def _deleted(staged: dict[str, pl.DataFrame], dependents: list[tuple[str, ...]],
             code: str) -> dict[str, pl.DataFrame]:
    """The loaded rows less the dependent rows the table keeps out of `code`."""
    out = dict(staged)
    for (extract, column), codes in TABLE.items():
        if code not in codes:
            continue
        ids = sorted({d[1] for d in dependents if d[0] == extract and d[2] == column})
        out[extract] = out[extract].filter(~_record_id(extract).is_in(ids))
    return out


def test_indicators_leave_dependent_rows_out_only_where_the_table_says(
        night: dict[str, object]) -> None:
    manifest = night["manifest"]
    assert isinstance(manifest, Manifest)
    dependents = _dependents(night)
    staged = {n: pl.read_parquet(o.parquet) for n, o in manifest.extracts.items() if o.parquet}
    statuses = {n: o.status for n, o in manifest.extracts.items()}
    got = pl.read_parquet(manifest.indicators["values"])
    cases = pl.read_parquet(manifest.indicators["cases"])
    order = ["period_type", "period_label", "breakdown", "breakdown_value"]
    changed = set()
    for ind in CATALOGUE:
        expected = derive(_deleted(staged, dependents, ind.code), statuses, AS_OF).values
        expected = expected.filter(pl.col("indicator_code") == ind.code).sort(order)
        actual = got.filter(pl.col("indicator_code") == ind.code).sort(order)
        assert actual.equals(expected), ind.code
        kept = derive(staged, statuses, AS_OF).values.filter(
            pl.col("indicator_code") == ind.code).sort(order)
        if not kept.equals(expected):
            changed.add(ind.code)
    # Deleting the dependent rows changed the value of indicators the table names only;
    # without the exclusion ASM01 and FTH02 would be wrong.
    assert changed <= set().union(*TABLE.values())
    assert {"ASM01", "FTH02"} <= changed
    # The drill-through lists the excluded cases, each with its reason, only for those.
    excluded = cases.filter(pl.col("excluded_reason").is_not_null())
    assert set(excluded["indicator_code"]) <= set().union(*TABLE.values())
    assert excluded.height > 0
    assert excluded["excluded_reason"].str.contains(" was quarantined (", literal=True).all()
