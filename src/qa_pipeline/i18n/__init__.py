"""Welsh and English (reporting-db.md "Welsh and English"): the language a report, a worklist
or the `issues` listing is written in, and the message catalogue its words come from.

Every heading, label, chart title, axis label, sheet name and column header is marked in the
code and extracted into a gettext catalogue with Babel (`pybabel extract`, see
docs/translation.md); the Welsh is in `locale/cy/LC_MESSAGES/qa_pipeline.po`. Texts that
are data, not code (a rule's message, an indicator's title) are declared in both languages
side by side where they are declared, and come here as a pair (`Lang.pair`).

How to mark a string:
- `lang.tr("Records to fix")`: plain text in the language (a sheet cell, a chart label);
- `lang.trh("Records to fix")`: the same as HTML, each language in a `lang` span;
- `N_("Records to fix")`: a module-level constant, translated later by `lang.tr(CONST)`.
Placeholders are `str.format` fields (`lang.tr("Batch {day}", day=...)`), filled after
translation, so the Welsh may put them where Welsh grammar wants them. Plural forms are
avoided (Welsh has six): write "Records: {n}", not "{n} records".

The three languages (setting `language`): `en`; `cy`; `cy+en`, both, Welsh first, as the
Welsh Language Standards expect of a public document.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

LanguageCode = Literal["en", "cy", "cy+en"]
Day = date | datetime
LANGUAGES: tuple[LanguageCode, ...] = ("en", "cy", "cy+en")
DOMAIN = "qa_pipeline"
SEPARATOR = " / "
"""Between the Welsh and the English of one text in `cy+en` plain text."""
SHEET_MAX = 31
"""Excel's limit on a sheet name."""
BABEL_KEYWORDS = {"N_": None, "tr": None, "trh": None, "trh_markup": None}
"""The functions that mark a string for the catalogue (`pybabel extract -k N_ -k tr -k trh
-k trh_markup`): the first argument is the message id."""


def N_(msgid: str) -> str:  # noqa: N802 - the gettext convention
    """Mark a module-level constant for the catalogue; it is translated where it is shown."""
    return msgid


def package_dir() -> Path:
    return Path(str(resources.files("qa_pipeline.i18n")))


def po_path(locale: str = "cy") -> Path:
    return package_dir() / "locale" / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


def pot_path() -> Path:
    return package_dir() / f"{DOMAIN}.pot"


@cache
def welsh_catalogue() -> Mapping[str, str]:
    """msgid -> Welsh, read from the .po with Babel (no compiled .mo to fall out of step)."""
    from babel.messages.pofile import read_po

    with po_path("cy").open("rb") as fh:
        catalog = read_po(fh, locale="cy", domain=DOMAIN)
    return {m.id: m.string for m in catalog
            if m.id and isinstance(m.id, str) and isinstance(m.string, str) and m.string}


class ByLang(dict[str, str]):
    """A field value that differs by language (a date: "25 Tachwedd 2026" in the Welsh of a
    `cy+en` heading, "25 November 2026" in its English)."""


def _fill(text: str, fields: Mapping[str, Any], lang: str) -> str:
    if not fields:
        return text
    return text.format(**{k: (v[lang] if isinstance(v, ByLang) else v)
                          for k, v in fields.items()})


class MissingTranslation(LookupError):
    """A marked string has no Welsh in the catalogue: a fault in the release, found by the
    catalogue test before it ships (docs/translation.md)."""


def parse_language(value: object) -> LanguageCode:
    """The setting's value, refused unless one of the three."""
    text = str(value).strip().lower().replace(" ", "")
    if text in LANGUAGES:
        return text  # type: ignore[return-value]
    raise ValueError(f"language must be one of {', '.join(LANGUAGES)} (got {value!r})")


@dataclass(frozen=True)
class Lang:
    """The language of one document: every text a person reads passes through it."""

    code: LanguageCode = "en"

    @property
    def html_lang(self) -> str:
        """`<html lang>`: Welsh when Welsh comes first; the English parts carry lang="en"."""
        return "en" if self.code == "en" else "cy"

    @property
    def languages(self) -> tuple[LanguageCode, ...]:
        order: dict[str, tuple[LanguageCode, ...]] = {
            "en": ("en",), "cy": ("cy",), "cy+en": ("cy", "en")}
        return order[self.code]

    @property
    def babel_locale(self) -> str:
        return "en_GB" if self.code == "en" else "cy"

    # --- catalogue strings ------------------------------------------------------------------

    def welsh(self, msgid: str) -> str:
        text = welsh_catalogue().get(msgid)
        if text is None:
            raise MissingTranslation(f"no Welsh for {msgid!r} in {po_path('cy')}")
        return text

    def forms(self, msgid: str, **fields: Any) -> tuple[str, ...]:
        """The text in each of the document's languages, Welsh first, fields filled in."""
        return tuple(_fill(msgid if lang == "en" else self.welsh(msgid), fields, lang)
                     for lang in self.languages)

    def tr(self, msgid: str, **fields: Any) -> str:
        """Plain text: one language, or `Welsh / English`."""
        return SEPARATOR.join(self.forms(msgid, **fields))

    def trh(self, msgid: str, **fields: Any) -> str:
        """HTML (escaped): one language, or a Welsh span then an English span. Fields are
        escaped too; pass markup with `trh_markup`."""
        esc = {k: (ByLang({x: html.escape(y) for x, y in v.items()}) if isinstance(v, ByLang)
                   else html.escape(str(v))) for k, v in fields.items()}
        return self._spans(tuple(
            _fill(html.escape(msgid if lang == "en" else self.welsh(msgid), quote=False),
                  esc, lang) for lang in self.languages))

    def trh_markup(self, msgid: str, **markup: str) -> str:
        """HTML with fields that are already markup (a link, a `<strong>`)."""
        return self._spans(tuple(
            _fill(html.escape(msgid if lang == "en" else self.welsh(msgid), quote=False),
                  markup, lang) for lang in self.languages))

    def each(self, build: Callable[[Lang], str]) -> str:
        """HTML built once per language, for a paragraph whose sentences carry markup (a
        `<b>`, a link): one language, or the whole Welsh then the whole English, as spans
        (rather than a Welsh and an English span for every phrase)."""
        return self._spans(tuple(build(Lang(code)) for code in self.languages))

    def _spans(self, forms: tuple[str, ...]) -> str:
        if len(forms) == 1:
            return forms[0]
        cy, en = forms
        return f'<span lang="cy">{cy}</span><span class="en" lang="en">{en}</span>'

    def sheet(self, msgid: str) -> str:
        """An Excel sheet name (31 characters, no `/`): `Welsh - English` where it fits,
        else the Welsh alone."""
        forms = self.forms(msgid)
        both = " - ".join(forms)
        return both if len(both) <= SHEET_MAX else forms[0]

    # --- texts declared side by side (rule messages, indicator titles) -------------------------

    def pair(self, en: str | None, cy: str | None) -> str:
        """Plain text of a text declared in both languages; the English where no Welsh is
        stored (an issue written before the Welsh columns existed)."""
        en = en or ""
        cy = cy or en
        return {"en": en, "cy": cy, "cy+en": en if cy == en else f"{cy}{SEPARATOR}{en}"}[self.code]

    def pairh(self, en: str | None, cy: str | None) -> str:
        en = html.escape(en or "")
        cy = html.escape(cy) if cy else en
        if self.code == "en":
            return en
        if self.code == "cy" or cy == en:
            return cy
        return self._spans((cy, en))

    # --- dates ------------------------------------------------------------------------------

    def _date_forms(self, d: Day, pattern: str) -> tuple[str, ...]:
        from babel.dates import format_date

        day = d.date() if isinstance(d, datetime) else d
        return tuple(format_date(day, pattern, locale="en_GB" if lang == "en" else "cy")
                     for lang in self.languages)

    def date_by(self, d: Day) -> ByLang:
        """A long date as a field of a translated text: each language its own month name."""
        return ByLang(zip(self.languages, self._date_forms(d, "d MMMM y"), strict=True))

    def date(self, d: Day) -> str:
        """A long date: "25 November 2026", "25 Tachwedd 2026"; both in `cy+en`."""
        return SEPARATOR.join(dict.fromkeys(self._date_forms(d, "d MMMM y")))

    def month(self, d: Day) -> str:
        """A month: "November 2026", "Tachwedd 2026"."""
        return SEPARATOR.join(dict.fromkeys(self._date_forms(d, "MMMM y")))

    def month_short(self, d: Day) -> str:
        """A chart tick: "Nov 26", "Tach 26"; Welsh only in `cy+en` (an axis has room for
        one)."""
        return self._date_forms(d, "MMM yy")[0]

    def day_short(self, d: Day) -> str:
        """A short day: "25 Nov", "25 Tach"; Welsh only in `cy+en`."""
        return self._date_forms(d, "d MMM")[0]


ENGLISH = Lang("en")


def lang_of(value: str | Lang | None) -> Lang:
    if isinstance(value, Lang):
        return value
    return ENGLISH if value is None else Lang(parse_language(value))


def glossary_misses(en: str, cy: str) -> list[Mapping[str, Any]]:
    """The glossary terms the English uses (a whole word, singular or plural) whose Welsh
    term, in none of its forms, is in the Welsh: one Welsh word for one English word. Terms
    marked `checked: false` are not looked for."""
    import re

    return [t for t in glossary() if t.get("checked") is not False
            and re.search(rf"\b{re.escape(t['en'])}s?\b", en, re.IGNORECASE)
            and not any(f.lower() in cy.lower() for f in (t["cy"], *t.get("forms", [])))]


@cache
def glossary() -> tuple[Mapping[str, Any], ...]:
    """The glossary (`glossary.yaml`): English term, Welsh term, forms, note."""
    import yaml

    with (package_dir() / "glossary.yaml").open(encoding="utf-8") as fh:
        raw = yaml.safe_load(fh)
    allowed = {"en", "cy", "forms", "note", "checked"}
    terms = []
    for t in raw["terms"]:
        unknown = set(t) - allowed
        if unknown or not t.get("en") or not t.get("cy") or not t.get("note"):
            raise ValueError(f"glossary entry {t!r}: needs en, cy and note; "
                             f"unknown keys {sorted(unknown)}")
        terms.append(t)
    return tuple(terms)
