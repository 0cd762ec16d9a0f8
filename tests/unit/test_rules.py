"""One test per row-level rule of the contract: a failing row raises exactly that rule and is
quarantined (error) or kept (warning); the untouched passing row next to it raises nothing.

The failing row is derived from the valid base batch by a mutation chosen by the rule's kind,
so a new rule in the contract gets its test automatically (and fails here if no mutation
knows how to break it).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from qa_pipeline.ingest.staging import stage_batch
from qa_pipeline.spec.contracts import Extract, Rule, load_contracts
from tests.batch_builder import Row, base, write_batch

CONTRACTS = load_contracts()
ROW_RULES = [r for r in CONTRACTS.rules if r.level == "row"]
BAD_VALUE = {
    "unknown_code": "ZZZ", "invalid_flag": "MAYBE", "invalid_date": "31/02/2024",
    "invalid_datetime": "yesterday", "invalid_int": "two",
}
OLD_DATE = "01/01/2000"


def _new_key(e: Extract, row: Row, n: int = 9) -> None:
    for k in e.key:
        if row.get(k) and e.columns[k].type == "id" and k not in (
                c for r in e.references for c in r.columns):
            row[k] = f"{row[k]}X{n}"


def _set_condition(row: Row, cond: object, data: dict[str, list[Row]]) -> None:
    values = getattr(cond, "values", ())
    column = getattr(cond, "column", "")
    if getattr(cond, "present", False):
        assert row[column], f"base row must have {column} filled in"
    else:
        row[column] = values[0]


def break_row(rule: Rule, data: dict[str, list[Row]]) -> Row:
    """Append to `data` a copy of the extract's first row that breaks `rule`; return it."""
    e = CONTRACTS.extracts[rule.extract]
    rows = data[e.name]
    row = dict(rows[0])
    col = rule.column
    k, p = rule.kind, rule.params
    if k != "duplicate_key":
        _new_key(e, row)
    if k == "missing":
        if "condition" in p:
            _set_condition(row, p["condition"], data)
        assert col is not None
        row[col] = ""
    elif k in BAD_VALUE:
        assert col is not None
        row[col] = BAD_VALUE[k] if e.columns[col].type != "datetime" or k != "future_date" \
            else BAD_VALUE[k]
    elif k == "future_date":
        assert col is not None
        row[col] = "01/01/2027 10:00" if e.columns[col].type == "datetime" else "01/01/2027"
    elif k == "first_of_month":
        assert col is not None
        row[col] = "15/03/2015"
    elif k == "not_before":
        assert col is not None
        assert row[p["other"]], f"base row must have {p['other']}"
        row[col] = OLD_DATE
    elif k == "minimum":
        assert col is not None
        row[col] = str(p["minimum"] - 1)
    elif k == "not_equal":
        assert col is not None
        row[col] = row[p["other"]]
    elif k == "only_when":
        assert col is not None
        row[col] = p["value"]
        row[p["other"]] = "N"
    elif k == "warn_missing":
        _set_condition(row, p["condition"], data)
        assert col is not None
        row[col] = ""
    elif k == "weekend":
        assert col is not None
        row[col] = "23/11/2024"  # a Saturday
    elif k == "matches_parent":
        assert col is not None
        children = [r["person_id"] for r in data["persons"] if r["person_type"] == "CHILD"]
        row[col] = next(c for c in children if c != row[col])
    elif k == "not_before_parent":
        assert col is not None
        row[col] = OLD_DATE
    elif k == "not_after_parent":
        assert col is not None
        row[col] = "01/06/2026"
    elif k == "duplicate_key":
        pass  # an exact second occurrence of the first row
    elif k == "unresolved_reference":
        ref = e.references[p["ref_index"]]
        row[ref.columns[0]] = "NOPE"
    elif k == "reference_quarantined":
        ref = e.references[p["ref_index"]]
        target = CONTRACTS.extracts[ref.extract]
        parent = next(r for r in data[target.name]
                      if all(r[t] == row[s] for s, t in zip(ref.columns, ref.to_columns,
                                                            strict=True))) \
            if all(row[c] for c in ref.columns) else dict(data[target.name][0])
        broken = dict(parent)
        for s, t in zip(ref.columns, ref.to_columns, strict=True):
            broken[t] = f"{parent[t]}Q"
            row[s] = broken[t]
        referencing = {c for r in target.references for c in r.columns}
        victim = next(c for c in target.columns.values()
                      if c.required and c.name not in target.key and c.name not in referencing)
        broken[victim.name] = ""  # quarantines the parent (required value missing)
        data[target.name].append(broken)
    elif k == "reference_wrong_type":
        ref = e.references[p["ref_index"]]
        adult = next(r["person_id"] for r in data["persons"] if r["person_type"] == "ADULT")
        row[ref.columns[0]] = adult
    elif k == "field_count":
        row["__extra_fields__"] = "surplus|fields"
    elif k == "too_long":
        row[list(e.columns)[-1]] = "x" * 40_000
    elif k == "int_range":
        assert col is not None
        row[col] = "3000000000"  # above PostgreSQL's INTEGER (2147483648 is a valid NHS no.)
    elif k == "too_early":
        assert col is not None
        row[col] = "01/05/0211 10:00" if e.columns[col].type == "datetime" else "01/05/0211"
        if e.overlap is not None and col == e.overlap.start:  # not overlapping the base rows
            row[e.overlap.end] = "01/06/0211"
    elif k == "invalid_byte":
        # Valid UTF-8 around one byte that is not (written through surrogateescape).
        row[list(e.columns)[-1]] = "Si\u00e2n \u2013 T\udcffm"
    elif k == "overlap":
        row[p["group"]] = rows[0][p["group"]]
        row[p["start"]] = rows[0][p["start"]]
    else:
        raise AssertionError(f"no mutation for rule kind {k!r}: add one to break_row")
    rows.append(row)
    return row


def _stage(tmp_path: Path, data: dict[str, list[Row]]) -> tuple[pl.DataFrame, dict[str, int]]:
    m = stage_batch(write_batch(tmp_path / "landing", data), tmp_path / "work")
    issues = pl.read_parquet(m.issues_parquet)
    loaded_rows: dict[str, int] = {}
    for name, o in m.extracts.items():
        loaded_rows[name] = o.rows_loaded
    return issues, loaded_rows


def _with_ancestors(name: str) -> set[str]:
    seen = {name}
    for parent in CONTRACTS.extracts[name].parents():
        seen |= _with_ancestors(parent)
    return seen


def test_base_batch_is_clean(tmp_path: Path) -> None:
    issues, loaded = _stage(tmp_path, base())
    assert issues.height == 0, issues.to_dicts()
    assert loaded == {n: len(rows) for n, rows in base().items()}


@pytest.mark.parametrize("rule", ROW_RULES, ids=[r.rule_id for r in ROW_RULES])
def test_rule_fails_bad_row_and_passes_good_row(rule: Rule, tmp_path: Path) -> None:
    keep = _with_ancestors(rule.extract)  # only what the rule needs: a faster test
    data = {n: rows for n, rows in base().items() if n in keep}
    n_before = len(data[rule.extract])
    break_row(rule, data)
    issues, loaded = _stage(tmp_path, data)
    extract_issues = issues.filter(pl.col("extract") == rule.extract)
    hits = extract_issues.filter(pl.col("rule_id") == rule.rule_id)
    bad_row = len(data[rule.extract])  # source_row of the appended row
    own_errors = extract_issues.filter((pl.col("source_row") == bad_row)
                                       & (pl.col("severity") == "error"))
    if rule.kind == "reference_quarantined" and own_errors.height:
        # The mutation also broke a rule of the row itself (its new child differs from its
        # referral's, its plan overlaps): quarantined, so not a dependent row - no warning.
        assert hits.is_empty(), hits.to_dicts()
        assert loaded[rule.extract] == bad_row - 1
        return
    assert hits["source_row"].to_list() == [bad_row], (
        f"{rule.rule_id} should fire on row {bad_row} only; issues: {issues.to_dicts()}")
    hit = hits.row(0, named=True)
    assert hit["severity"] == rule.severity
    assert hit["message"] == rule.message
    assert hit["as_of"] is not None
    # The passing rows (the base rows) raise nothing in this extract.
    assert extract_issues.filter(pl.col("source_row") <= n_before).height == 0
    n_quarantined = extract_issues.filter(pl.col("severity") == "error")["source_row"].n_unique()
    if rule.severity == "error":
        assert loaded[rule.extract] == bad_row - n_quarantined
        assert n_quarantined >= 1
    else:
        assert loaded[rule.extract] == bad_row


def test_every_rule_kind_has_a_mutation() -> None:
    kinds = {r.kind for r in ROW_RULES}
    assert kinds  # the parametrised test above raises for a kind it cannot break
    assert {"missing", "unknown_code", "duplicate_key", "unresolved_reference", "overlap",
            "not_before", "reference_quarantined"} <= kinds


def test_issue_value_is_as_delivered_and_record_id_is_key(tmp_path: Path) -> None:
    data = base()
    data["referrals"][1]["referral_source"] = "  telepathy "
    issues, _ = _stage(tmp_path, data)
    row = issues.filter(pl.col("rule_id") == "referrals.referral_source.unknown_code").row(
        0, named=True)
    assert row["value"] == "telepathy"  # trimmed, as delivered (not upper-cased)
    assert row["record_id"] == "R2"
    assert row["child_id"] == "000102"
    assert row["team_id"] == "T2"
    assert row["column_name"] == "referral_source"


def test_composite_record_id(tmp_path: Path) -> None:
    data = base()
    data["conference_attendance"][0]["invited"] = "maybe"
    issues, _ = _stage(tmp_path, data)
    row = issues.filter(pl.col("extract") == "conference_attendance").row(0, named=True)
    assert row["record_id"] == "K1|000102|MOTHER|000202"


def test_sensitive_value_withheld(tmp_path: Path) -> None:
    data = base()
    data["persons"][0]["date_of_birth"] = "17/03/2015"
    issues, _ = _stage(tmp_path, data)
    row = issues.filter(pl.col("rule_id") == "persons.date_of_birth.not_first_of_month").row(
        0, named=True)
    assert row["value"] is None


def test_dependent_rows_are_loaded_with_their_root_cause(tmp_path: Path) -> None:
    """A bad child is quarantined; the rows that refer to it are loaded, each listed once as a
    warning naming the child's own fault (extracts.md "Severity", version 1.1)."""
    data = base()
    data["persons"][0]["sex"] = "X"  # child 000101 quarantined
    issues, loaded = _stage(tmp_path, data)
    base_rows = {n: len(rows) for n, rows in base().items()}
    assert loaded["persons"] == base_rows["persons"] - 1
    assert issues.filter(pl.col("severity") == "error")["rule_id"].to_list() == [
        "persons.sex.unknown_code"]
    dependent = issues.filter(pl.col("rule_id").str.ends_with("reference_quarantined"))
    assert set(dependent["severity"]) == {"warning"}
    assert set(dependent["root_rule_id"]) == {"persons.sex.unknown_code"}
    assert set(dependent["root_record_id"]) == {"000101"}
    # The child's referrals, relationships and FIT referral are loaded; the referral of
    # another child, and what hangs off a loaded (dependent) referral, are ordinary rows.
    assert {n: loaded[n] for n in ("referrals", "relationships", "fit_referrals",
                                   "assessments")} == {
        n: base_rows[n] for n in ("referrals", "relationships", "fit_referrals", "assessments")}
    assert "assessments.referral_id.reference_quarantined" not in set(dependent["rule_id"])
    per_record = dependent.group_by("extract", "record_id").len()
    assert per_record["len"].max() == 1  # listed once per row and reference
    # The issues of other rows carry no root cause.
    assert issues.filter(~pl.col("rule_id").str.ends_with("reference_quarantined"))[
        "root_rule_id"].null_count() == issues.height - dependent.height


def test_reference_to_a_duplicated_key_finds_the_loaded_copy(tmp_path: Path) -> None:
    """The second copy of a key is quarantined, the first loads: references to that key
    resolve (they are not "quarantined"); when every copy is quarantined, they depend on the
    first copy's fault."""
    data = base()
    data["persons"].append(dict(data["persons"][0]))  # child 000101 twice
    issues, loaded = _stage(tmp_path, data)
    assert issues.filter(pl.col("rule_id") == "persons.duplicate_key").height == 1
    assert issues.filter(pl.col("rule_id").str.contains("reference")).is_empty()
    assert loaded["referrals"] == 2

    data["persons"][0]["sex"] = "X"  # now the first copy is bad too: no copy loads
    issues, loaded = _stage(tmp_path / "again", data)
    dependent = issues.filter(pl.col("rule_id") == "referrals.child_id.reference_quarantined")
    assert dependent.select("record_id", "root_rule_id", "root_record_id").rows() == [
        ("R1", "persons.sex.unknown_code", "000101")]
    assert loaded["referrals"] == 2


def test_missing_parent_extract_loads_rows_unchecked(tmp_path: Path) -> None:
    data = base()
    del data["teams"]
    m = stage_batch(write_batch(tmp_path / "landing", data), tmp_path / "work")
    issues = pl.read_parquet(m.issues_parquet)
    assert m.extracts["teams"].status == "missing"
    assert m.extracts["referrals"].rows_loaded == 2
    not_checked = issues.filter(pl.col("rule_id") == "referrals.reference_not_checked")
    assert not_checked["column_name"].to_list() == ["team_id"]
    assert not_checked["severity"].to_list() == ["warning"]
    assert issues.filter(pl.col("rule_id") == "teams.file_missing")["extract"].to_list() == [
        "teams.csv"]
