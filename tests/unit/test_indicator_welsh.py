"""The Welsh of every indicator (issue 17, Welsh and English): declared beside its English,
the same placeholders, the glossary's vocabulary, and rendered into the `indicator` rows."""

from __future__ import annotations

import string
from dataclasses import replace

import pytest

from qa_pipeline.i18n import glossary_misses
from qa_pipeline.transform import indicators as ind_mod
from qa_pipeline.transform.indicators import (
    BY_CODE,
    CATALOGUE,
    Indicator,
    IndicatorConfig,
    Welsh,
    catalogue_rows,
    load_config,
)

FIELDS = ("title", "numerator_text", "denominator_text")
WELSH_KEYS = ("title_cy", "description_cy", "numerator_definition_cy",
              "denominator_definition_cy")


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def welsh_problems(ind: Indicator) -> list[str]:
    """Everything wrong with an indicator's Welsh: missing, empty, the English copied,
    placeholders that differ from the English, a glossary term not used."""
    if ind.cy is None:
        return [f"{ind.code}: no Welsh"]
    found = []
    for name in FIELDS:
        en, cy = getattr(ind, name), getattr(ind.cy, name)
        if not cy.strip():
            found.append(f"{ind.code}.{name}: empty Welsh")
            continue
        if cy.strip() == en.strip():
            found.append(f"{ind.code}.{name}: Welsh equals the English")
        if placeholders(cy) != placeholders(en):
            found.append(f"{ind.code}.{name}: placeholders differ "
                         f"{sorted(placeholders(cy))} != {sorted(placeholders(en))}")
        for t in glossary_misses(en, cy):
            found.append(f"{ind.code}.{name}: {t['en']!r} is not {t['cy']!r} "
                         f"(or a form) in {cy!r}")
    return found


def test_every_indicator_has_its_welsh() -> None:
    assert len(CATALOGUE) == 26
    assert [i.code for i in CATALOGUE if i.cy is None] == []


def test_the_welsh_of_every_indicator_is_sound() -> None:
    """Not empty, not the English, the same placeholders, the glossary's terms."""
    assert [p for i in CATALOGUE for p in welsh_problems(i)] == []


def test_the_check_catches_a_welsh_title_with_another_placeholder() -> None:
    good = BY_CODE["REF01"]
    assert good.cy is not None and welsh_problems(good) == []
    bad = replace(good, cy=replace(
        good.cy, title="Penderfyniadau ar atgyfeiriadau o fewn {rereferral_months} diwrnod "
                       "gwaith (SCC/006)"))
    found = welsh_problems(bad)
    assert len(found) == 1 and found[0].startswith("REF01.title: placeholders differ")


def test_the_check_catches_missing_copied_and_off_glossary_welsh() -> None:
    good = BY_CODE["CPC01"]
    assert good.cy is not None
    assert welsh_problems(replace(good, cy=None)) == ["CPC01: no Welsh"]
    copied = replace(good, cy=replace(good.cy, denominator_text=good.denominator_text))
    assert any("denominator_text: Welsh equals the English" in p
               for p in welsh_problems(copied))
    # "cyfarfod strategaeth" is not the glossary's "trafodaeth strategaeth"
    off = replace(good, cy=replace(good.cy, title="Cynadleddau cychwynnol o fewn "
                                   "{icpc_working_days} diwrnod gwaith i'r cyfarfod "
                                   "strategaeth (SCC/014)"))
    assert any("'strategy discussion'" in p for p in welsh_problems(off))
    assert welsh_problems(replace(good, cy=replace(good.cy, numerator_text=" "))) == [
        "CPC01.numerator_text: empty Welsh"]


def test_the_rows_carry_the_welsh_rendered() -> None:
    rows = catalogue_rows(load_config())
    assert len(rows) == len(CATALOGUE)
    for r in rows:
        for key in WELSH_KEYS:
            assert isinstance(r[key], str) and r[key], (r["code"], key)
            assert "{" not in r[key] and "}" not in r[key], (r["code"], key, r[key])
        assert r["description_cy"] == (f"{r['title_cy']}. Cyfrifir: "
                                       f"{r['numerator_definition_cy']} ymhlith "
                                       f"{r['denominator_definition_cy']}.")
    by = {r["code"]: r for r in rows}
    assert by["REF01"]["title_cy"] == ("Penderfyniadau ar atgyfeiriadau a wnaed o fewn "
                                       "1 diwrnod gwaith (SCC/006)")
    assert by["REF02"]["title_cy"] == "Ail-atgyfeiriadau o fewn 12 mis (SCC/010)"
    # the English keys are as before
    assert by["REF01"]["title"] == "Referral decisions made within 1 working day (SCC/006)"


@pytest.mark.parametrize(("value", "title"), [
    (1, "o fewn 1 diwrnod gwaith"),
    (2, "o fewn 2 ddiwrnod gwaith"),     # dau ddiwrnod: the soft mutation after 2
    (5, "o fewn 5 diwrnod gwaith"),      # a numeral takes the singular
    (12, "o fewn 12 diwrnod gwaith"),
])
def test_a_welsh_number_of_working_days_is_singular(value: int, title: str) -> None:
    base = load_config()
    config = IndicatorConfig({**base.timescales, "decision_working_days": value},
                             base.targets)
    row = next(r for r in catalogue_rows(config) if r["code"] == "REF01")
    assert title in row["title_cy"]
    assert f"<= {value}" in row["numerator_definition_cy"]


def test_two_months_in_welsh_is_dau_fis() -> None:
    base = load_config()
    config = IndicatorConfig({**base.timescales, "rereferral_months": 2}, base.targets)
    row = next(r for r in catalogue_rows(config) if r["code"] == "REF02")
    assert row["title_cy"] == "Ail-atgyfeiriadau o fewn 2 fis (SCC/010)"


def test_an_indicator_without_welsh_has_no_welsh_columns(monkeypatch) -> None:
    plain = replace(BY_CODE["REF04"], code="NEW01", cy=None)
    monkeypatch.setattr(ind_mod, "CATALOGUE", (*CATALOGUE, plain))
    row = catalogue_rows(load_config())[-1]
    assert row["code"] == "NEW01" and row["title"] == "Management decision recorded"
    assert {k: row[k] for k in WELSH_KEYS} == dict.fromkeys(WELSH_KEYS)


def test_welsh_is_a_frozen_dataclass() -> None:
    cy = Welsh("a", "b", "c")
    with pytest.raises(AttributeError):
        cy.title = "x"  # type: ignore[misc]
