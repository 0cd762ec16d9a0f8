"""The identifying-data guard: extracts are anonymised before they leave Paris, so a file that
carries a name, address, contact detail or NHS number is rejected whole, and the offending
values are never copied anywhere (only the column name and row numbers are reported).

Headers: the spec's identifying names (`contracts.FORBIDDEN_HEADERS`) are matched as *words*
of the header, after punctuation is folded (` NHS No. `, `e-mail`, `Forename(s)`, `Child
Name`, `Home Address`, `mother_surname`); a column the contracts declare (`name_recorded`,
`team_name`, ...) is allowed by name. Values: every column of every type (unknown columns
included) is searched for an NHS-number-shaped run with a valid check digit
(`redaction.nhs_runs`: grouped by spaces, dashes or dots, alone or inside longer text).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import polars as pl

from qa_pipeline.privacy.redaction import NHS_RUN_PREFILTER, holds_nhs_number
from qa_pipeline.spec.contracts import FORBIDDEN_HEADER_PREFIXES, FORBIDDEN_HEADERS

_WORD = re.compile(r"[a-z0-9]+")
_DATETIME_SHAPE = r"^\d{4}-\d{2}-\d{2}[ T]\d{1,2}:\d{2}(:\d{2})?$"
"""An ISO date and time: passes the cheap prefilter but is never an NHS number."""

_FORBIDDEN_WORDS: tuple[tuple[str, ...], ...] = tuple(
    sorted({tuple(h.split("_")) for h in FORBIDDEN_HEADERS}
           | {tuple(p.strip("_").split("_")) for p in FORBIDDEN_HEADER_PREFIXES})
)


def header_words(name: str) -> list[str]:
    """The words of a header: lower case, punctuation folded, `(s)` dropped, a plural `s`
    taken off, and split words joined where they spell one (`e mail`, `post code`)."""
    text = re.sub(r"\(s\)", "", name.lower())
    words: list[str] = []
    for w in _WORD.findall(text):  # `N.I. Number` -> ni number
        if len(w) == 1 and words and len(words[-1]) == 1 and words[-1].isalpha():
            words[-1] += w
        else:
            words.append(w)
    singular = [w[:-2] if w.endswith("sses") else w[:-1] if (
        w.endswith("s") and len(w) > 3 and not w.endswith("ss")) else w for w in words]
    return singular


def _holds_words(words: list[str], wanted: tuple[str, ...]) -> bool:
    n = len(wanted)
    if any(tuple(words[i:i + n]) == wanted for i in range(len(words) - n + 1)):
        return True
    joined = "".join(wanted)
    # Two neighbouring words that spell a one-word name: `e mail`, `post code`, `tele phone`.
    return any(words[i] + words[i + 1] == joined for i in range(len(words) - 1))


def is_identifying_header(name: str, allowed: Iterable[str] = ()) -> bool:
    """Whether a delivered header names identifying data (see the module docstring)."""
    if name in set(allowed):
        return False
    words = header_words(name)
    return any(_holds_words(words, w) for w in _FORBIDDEN_WORDS)


def forbidden_headers(names: list[str], allowed: Iterable[str] = ()) -> list[str]:
    """Header names (as given) that mean identifying data; `allowed` are the contract's own
    column names, which are never identifying (`name_recorded`, `team_name`)."""
    allowed = set(allowed)
    return [n for n in names if is_identifying_header(n, allowed)]


def nhs_number_rows(frame: pl.DataFrame, columns: list[str],
                    row_column: str) -> dict[str, list[int]]:
    """For each column, the record numbers whose value holds a valid NHS number (the values
    themselves are not returned). Every column is searched, whatever its type."""
    columns = [c for c in columns if c in frame.columns]
    # A cheap shape test in polars first, every column at once (in parallel); the exact run
    # and check digit in Python for the few distinct values that pass it.
    shaped_any = frame.select(
        (pl.col(c).str.contains(NHS_RUN_PREFILTER) & ~pl.col(c).str.contains(_DATETIME_SHAPE))
        .any().alias(c) for c in columns).row(0, named=True) if columns else {}
    found: dict[str, list[int]] = {}
    for c in (c for c in columns if shaped_any.get(c)):
        shaped = frame.select(row_column, c).filter(
            pl.col(c).str.contains(NHS_RUN_PREFILTER)
            & ~pl.col(c).str.contains(_DATETIME_SHAPE))
        hits = [v for v in shaped[c].unique().to_list() if holds_nhs_number(v)]
        if hits:
            rows = shaped.filter(pl.col(c).is_in(hits))[row_column].sort().to_list()
            found[c] = [int(r) for r in rows]
    return found
