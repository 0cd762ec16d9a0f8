"""Welsh and English: the language object, the catalogue check and the glossary."""

from __future__ import annotations

from datetime import date

import pytest

from qa_pipeline.i18n import (
    LANGUAGES,
    Lang,
    MissingTranslation,
    glossary,
    glossary_misses,
    parse_language,
    welsh_catalogue,
)
from qa_pipeline.i18n import catalogue as cat


def test_the_catalogue_has_every_marked_string_and_welsh_for_each():
    """Fails on a marked string missing from the .po, an entry without Welsh, an entry whose
    placeholders differ, and an entry no code marks (docs/translation.md)."""
    assert cat.problems() == []
    assert len(welsh_catalogue()) >= 50


def test_the_check_finds_a_marked_string_missing_and_an_entry_without_welsh(tmp_path,
                                                                            monkeypatch):
    """The malformed catalogue: the same check on a .po that lacks one marked string and
    leaves another untranslated."""
    marked = cat.extract()
    welsh = cat.read_welsh()
    dropped, blank = sorted(marked)[:2]
    po = tmp_path / "qa_pipeline.po"
    pot = tmp_path / "qa_pipeline.pot"
    monkeypatch.setattr(cat, "po_path", lambda locale="cy": po)
    monkeypatch.setattr(cat, "pot_path", lambda: pot)
    kept = {m: f for m, f in marked.items() if m != dropped}
    cat.write_catalogues(kept, {m: w for m, w in welsh.items() if m != blank})
    found = cat.problems()
    assert any("not in qa_pipeline.po" in p and repr(dropped) in p for p in found)
    assert f"no Welsh for {blank!r}" in found


def test_a_welsh_form_must_keep_the_placeholders(tmp_path, monkeypatch):
    marked = cat.extract()
    welsh = cat.read_welsh()
    msgid = next(m for m in marked if cat.fields_of(m))
    po = tmp_path / "qa_pipeline.po"
    monkeypatch.setattr(cat, "po_path", lambda locale="cy": po)
    monkeypatch.setattr(cat, "pot_path", lambda: tmp_path / "x.pot")
    cat.write_catalogues(marked, {**welsh, msgid: "dim maes yma"})
    assert any(p.startswith(f"placeholders differ for {msgid!r}") for p in cat.problems())


def test_three_languages_welsh_first():
    msgid = "Summary"
    assert Lang("en").tr(msgid) == "Summary"
    assert Lang("cy").tr(msgid) == "Crynodeb"
    assert Lang("cy+en").tr(msgid) == "Crynodeb / Summary"
    assert Lang("cy+en").trh(msgid) == (
        '<span lang="cy">Crynodeb</span><span class="en" lang="en">Summary</span>')
    assert [Lang(c).html_lang for c in LANGUAGES] == ["en", "cy", "cy"]


def test_fields_are_filled_after_translation_and_escaped_in_html():
    lang = Lang("cy")
    assert lang.tr("Resolved since {day}", day="2026-11-24") == "Wedi'u datrys ers 2026-11-24"
    assert "&lt;b&gt;" in lang.trh("Resolved since {day}", day="<b>")


def test_dates_in_welsh_use_welsh_month_names():
    d = date(2026, 11, 25)
    assert Lang("en").date(d) == "25 November 2026"
    assert Lang("cy").date(d) == "25 Tachwedd 2026"
    assert Lang("cy").month(date(2026, 2, 1)) == "Chwefror 2026"
    assert Lang("cy+en").trh("Data quality report — batch {day}",
                             day=Lang("cy+en").date_by(d)) == (
        '<span lang="cy">Adroddiad ansawdd data — swp 25 Tachwedd 2026</span>'
        '<span class="en" lang="en">Data quality report — batch 25 November 2026</span>')


def test_sheet_names_fit_excel():
    assert Lang("cy+en").sheet("Summary") == "Crynodeb - Summary"
    for code in LANGUAGES:
        for msgid in ("Summary", "Resolved", "No team"):
            name = Lang(code).sheet(msgid)
            assert len(name) <= 31 and "/" not in name


def test_a_string_without_welsh_is_a_fault_not_english_in_a_welsh_page():
    with pytest.raises(MissingTranslation):
        Lang("cy").tr("a string nobody marked")
    assert Lang("en").tr("a string nobody marked") == "a string nobody marked"


@pytest.mark.parametrize("bad", ["fr", "", "welsh", "en+cy"])
def test_a_language_outside_the_three_is_refused(bad):
    with pytest.raises(ValueError, match="language must be one of en, cy, cy\\+en"):
        parse_language(bad)


def test_pair_falls_back_to_english_where_no_welsh_is_stored():
    assert Lang("cy").pair("Missing", None) == "Missing"
    assert Lang("cy+en").pair("Missing", "Ar goll") == "Ar goll / Missing"


def test_the_glossary_has_the_children_services_vocabulary():
    terms = {t["en"]: t["cy"] for t in glossary()}
    for en in ("child protection plan", "child in need", "core assessment", "referral",
               "strategy discussion", "conference", "father figure"):
        assert terms[en]


def test_the_catalogue_uses_the_glossary_terms():
    """Each catalogue entry whose English has a glossary term has its Welsh term (or one of
    its listed forms): one Welsh word for one English word."""
    bad = [(en, t["en"], cy) for en, cy in welsh_catalogue().items()
           for t in glossary_misses(en, cy)]
    assert bad == []


def test_a_glossary_miss_is_found_in_any_form_and_only_for_checked_terms():
    """The one check the catalogue, the rules and the indicators share."""
    assert [t["en"] for t in glossary_misses("Open referrals", "Cyfeiriadau agored")] == [
        "referral"]
    assert glossary_misses("Open referrals", "Atgyfeiriadau agored") == []
    assert glossary_misses("the dates of birth", "dyddiadau geni") == []
    # "record" is checked: false (a verb as well as a noun)
    assert glossary_misses("Record the date", "Nodwch y dyddiad") == []
