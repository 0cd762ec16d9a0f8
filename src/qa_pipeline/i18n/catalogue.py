"""The message catalogue's upkeep, with Babel: what `pybabel extract` and `pybabel update`
do (docs/translation.md), as functions the catalogue test and `qa-pipeline translations`
call, so the check and the command read the same extraction.

- `extract()`: the marked strings of the package (`N_`, `tr`, `trh`, `trh_markup`);
- `write_catalogues(messages, welsh)`: the template (`qa_pipeline.pot`) and the Welsh
  catalogue (`locale/cy/LC_MESSAGES/qa_pipeline.po`), each message with its Welsh or an
  empty msgstr for a translator to fill; strings no longer marked are dropped;
- `problems()`: what the test fails on — a marked string missing from the catalogue, an
  entry without Welsh, an entry whose placeholders differ from the English.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path

from qa_pipeline.i18n import BABEL_KEYWORDS, DOMAIN, package_dir, po_path, pot_path

FIELD = re.compile(r"(?<!\{)\{([A-Za-z_][A-Za-z0-9_]*)[^{}]*\}")
FIXED_DATE = datetime(2026, 12, 2, tzinfo=UTC)
"""The catalogues' header date: fixed, so that an extraction that found nothing new leaves
the files unchanged."""


def source_dir() -> Path:
    return package_dir().parent


def extract() -> dict[str, list[str]]:
    """msgid -> the files that mark it (relative to the package), as pybabel extract sees
    them with `babel.cfg`'s method and our keywords."""
    from babel.messages.extract import extract_from_dir

    root = source_dir()
    found: dict[str, list[str]] = {}
    for filename, _lineno, message, _comments, _context in extract_from_dir(
            str(root), method_map=[("**.py", "python")], keywords=BABEL_KEYWORDS,
            comment_tags=(), strip_comment_tags=True):
        if isinstance(message, str) and message:
            files = found.setdefault(message, [])
            if filename not in files:
                files.append(filename)
    return dict(sorted(found.items()))


def read_welsh(path: Path | None = None) -> dict[str, str]:
    """msgid -> Welsh of the catalogue on disk (empty strings left out)."""
    from babel.messages.pofile import read_po

    p = path or po_path("cy")
    if not p.exists():
        return {}
    with p.open("rb") as fh:
        catalog = read_po(fh, locale="cy", domain=DOMAIN)
    return {m.id: m.string for m in catalog
            if isinstance(m.id, str) and m.id and isinstance(m.string, str) and m.string}


def _catalog(messages: Mapping[str, list[str]], welsh: Mapping[str, str] | None, locale: str | None
             ):  # type: ignore[no-untyped-def]
    from babel.messages.catalog import Catalog

    cat = Catalog(locale=locale, domain=DOMAIN, project="qa_pipeline",
                  copyright_holder="the council", creation_date=FIXED_DATE,
                  revision_date=FIXED_DATE, fuzzy=False)
    for msgid, files in messages.items():
        cat.add(msgid, (welsh or {}).get(msgid, ""), locations=[(f, 0) for f in files],
                flags=("python-brace-format",) if FIELD.search(msgid) else ())
    return cat


def _write(path: Path, cat) -> None:  # type: ignore[no-untyped-def]
    from babel.messages.pofile import write_po

    buf = BytesIO()
    write_po(buf, cat, width=96, sort_output=True, include_lineno=False)
    data = buf.getvalue()
    if path.exists() and path.read_bytes() == data:
        return
    tmp = path.with_name(path.name + ".tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp.write_bytes(data)
    tmp.replace(path)


def write_catalogues(messages: Mapping[str, list[str]], welsh: Mapping[str, str]
                     ) -> list[str]:
    """Write the template and the Welsh catalogue; return the marked strings with no Welsh."""
    _write(pot_path(), _catalog(messages, None, None))
    _write(po_path("cy"), _catalog(messages, welsh, "cy"))
    return [m for m in messages if not welsh.get(m)]


def fields_of(text: str) -> set[str]:
    return set(FIELD.findall(text))


def problems() -> list[str]:
    """Every fault of the catalogue against the code, as sentences (empty: all is well)."""
    marked = extract()
    welsh = read_welsh()
    on_disk = _all_ids(po_path("cy"))
    out = [f"marked in {', '.join(marked[m])} but not in {po_path('cy').name}: {m!r}"
           for m in marked if m not in on_disk]
    out += [f"no Welsh for {m!r}" for m in on_disk if not welsh.get(m)]
    for m, cy in welsh.items():
        if fields_of(m) != fields_of(cy):
            out.append(f"placeholders differ for {m!r}: English {sorted(fields_of(m))}, "
                       f"Welsh {sorted(fields_of(cy))}")
    out += [f"in the catalogue but marked nowhere (run qa-pipeline translations): {m!r}"
            for m in on_disk if m not in marked]
    return out


def _all_ids(path: Path) -> set[str]:
    from babel.messages.pofile import read_po

    if not path.exists():
        return set()
    with path.open("rb") as fh:
        return {m.id for m in read_po(fh, locale="cy", domain=DOMAIN)
                if isinstance(m.id, str) and m.id}
