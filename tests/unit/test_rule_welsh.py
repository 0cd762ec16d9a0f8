"""The Welsh of every data-quality rule (issue 17): each rule kind gives its message and
guidance in Welsh, naming the record and the column by the contract's `label_cy` and
`name_cy`, in the glossary's vocabulary; a contract without them falls back to the English
names rather than failing."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from qa_pipeline.i18n import glossary_misses
from qa_pipeline.spec.contracts import ContractError, Rule, load_contracts
from qa_pipeline.spec.rule_kinds import KINDS

CONTRACTS = load_contracts()
ENGLISH_WORDS = ("the ", " of the ", " is not ", " was ", " in Paris", "record the", "missing;",
                 "Correct ", "Check ")


def _identifiers_removed(text: str, extract_names: set[str]) -> str:
    """The English without what stays as it is in Welsh: file names, ids, codes, extract
    names ("teams.csv", "root_rule_id", "REVIEW", "referrals")."""
    text = re.sub(r"\S*[._/<]\S*", " ", text)
    text = re.sub(r"\b[A-Z][A-Z_0-9]+\b", " ", text)
    return re.sub(r"\b(" + "|".join(map(re.escape, extract_names)) + r")\b", " ", text)


def welsh_problems(rule: Rule, extract_names: set[str]) -> list[str]:
    """Everything wrong with a rule's Welsh: empty, the English copied, English left in it,
    a glossary term of the English without its Welsh term."""
    found = []
    for what, en, cy in (("message", rule.message, rule.message_cy),
                         ("guidance", rule.guidance, rule.guidance_cy)):
        if not cy.strip():
            found.append(f"{rule.rule_id}.{what}: no Welsh")
            continue
        if cy == en:
            found.append(f"{rule.rule_id}.{what}: Welsh equals the English")
        left = [w for w in ENGLISH_WORDS if w in cy]
        if left:
            found.append(f"{rule.rule_id}.{what}: English left {left} in {cy!r}")
        for t in glossary_misses(_identifiers_removed(en, extract_names), cy):
            found.append(f"{rule.rule_id}.{what}: {t['en']!r} is not {t['cy']!r} in {cy!r}")
    return found


def test_every_rule_has_sound_welsh() -> None:
    names = set(CONTRACTS.extracts)
    assert len(CONTRACTS.rules) > 400
    assert [p for r in CONTRACTS.rules for p in welsh_problems(r, names)] == []


def test_every_rule_kind_gives_welsh() -> None:
    """No kind is left out: each registered kind produces at least one rule here, and each
    of them has Welsh (a new kind without Welsh fails the test above)."""
    kinds = {r.kind for r in CONTRACTS.rules}
    assert set(KINDS) - kinds == set()
    assert "unknown_file" in kinds


def test_the_check_catches_copied_english_and_off_glossary_welsh() -> None:
    from dataclasses import replace

    names = set(CONTRACTS.extracts)
    rule = CONTRACTS.rule_by_id("referrals.decision.missing")
    assert welsh_problems(rule, names) == []
    assert welsh_problems(replace(rule, message_cy=""), names) == [
        "referrals.decision.missing.message: no Welsh"]
    copied = welsh_problems(replace(rule, guidance_cy=rule.guidance), names)
    assert any("Welsh equals the English" in p for p in copied)
    # "cyfeiriad" (an address) is not the glossary's "atgyfeiriad" (a referral)
    off = replace(rule, message_cy="Mae ‘penderfyniad’ ar gofnod cyfeiriad ar goll.")
    assert any("'referral'" in p for p in welsh_problems(off, names))


def test_the_welsh_names_the_record_and_column_from_the_contract() -> None:
    e = CONTRACTS.extracts["referrals"]
    rule = e.rule("missing", "decision")
    assert e.label_cy == "atgyfeiriad"
    assert e.columns["decision"].name_cy == "penderfyniad"
    # the condition names its column in Welsh too
    assert rule.message_cy == ("Mae ‘penderfyniad’ ar gofnod atgyfeiriad ar goll; mae'n "
                               "ofynnol pan fo ‘dyddiad penderfynu’ wedi'i lenwi.")
    # every extract and column of the bundled contract has its Welsh name
    assert [n for n, x in CONTRACTS.extracts.items() if not x.label_cy] == []
    assert [f"{n}.{c}" for n, x in CONTRACTS.extracts.items() for c, col in x.columns.items()
            if not col.name_cy] == []


def _site_copy(tmp_path: Path, edit: object) -> Path:
    from importlib import resources

    raw = yaml.safe_load(resources.files("qa_pipeline.spec").joinpath("extracts.yaml")
                         .read_text(encoding="utf-8"))
    assert callable(edit)
    edit(raw)
    path = tmp_path / "contracts.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


def test_a_site_copy_without_the_welsh_names_falls_back_to_the_english(
        tmp_path: Path) -> None:
    def drop(raw: dict) -> None:
        ref = raw["extracts"]["referrals"]
        del ref["label_cy"]
        del ref["columns"]["decision"]["name_cy"]

    c = load_contracts(_site_copy(tmp_path, drop))
    rule = c.extracts["referrals"].rule("missing", "decision")
    assert rule.message_cy.startswith("Mae ‘decision’ ar gofnod referral ar goll")
    assert rule.guidance_cy


def test_a_misspelt_welsh_key_is_refused(tmp_path: Path) -> None:
    def misspell(raw: dict) -> None:
        raw["extracts"]["teams"]["columns"]["team_id"]["name_cyy"] = "id tîm"

    with pytest.raises(ContractError, match="name_cyy.*name_cy"):
        load_contracts(_site_copy(tmp_path, misspell))


def test_and_and_with_take_their_form_before_a_vowel() -> None:
    """"a" is "ac" and "â" is "ag" before a vowel (‘id plentyn’), as Welsh writes them."""
    same = CONTRACTS.rule_by_id("relationships.related_person_id.same_as_child_id")
    assert "yr un fath ag ‘id plentyn’" in same.message_cy
    ref = next(r for r in CONTRACTS.extracts["conference_attendance"].rules
               if r.kind == "unresolved_reference" and "|" in (r.column or ""))
    assert "‘id cynhadledd’ ac ‘id plentyn’" in ref.message_cy
    assert " â ‘i" not in " ".join(r.message_cy for r in CONTRACTS.rules)


def test_a_welsh_name_that_is_not_a_text_is_refused(tmp_path: Path) -> None:
    def number(raw: dict) -> None:
        raw["extracts"]["teams"]["label_cy"] = 7

    with pytest.raises(ContractError, match="label_cy must be a text"):
        load_contracts(_site_copy(tmp_path, number))
