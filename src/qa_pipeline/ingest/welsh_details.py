"""The Welsh of a finding's particulars: what the reader and staging add to a file-level
rule's message in brackets ("column 7", "missing: team_id", "the file is empty").

The rule's own message and guidance are declared in both languages in the contracts; these
particulars are built where a file is read, from a small set of English phrases. Each phrase
is translated here, whole, by one pattern; what no pattern knows (a library's own error text,
a column name, a number) is kept as it is, so nothing of the particulars is lost. A test
holds every phrase the reader and staging write to a pattern.
"""

from __future__ import annotations

import re

STATUS_CY = {"missing": "roedd {extract} ar goll", "rejected": "gwrthodwyd {extract}",
             "loaded": "llwythwyd {extract}"}
"""A parent extract's status, as a reference_not_checked finding names it ("teams was
rejected")."""

_PHRASES: tuple[tuple[str, str], ...] = (
    (r"the file ends inside a quoted field \((.+?)\): it was cut off or a quote is not closed",
     r"mae'r ffeil yn gorffen y tu mewn i faes mewn dyfynnodau (\1): cafodd ei thorri neu nid "
     r"yw dyfynnod wedi'i gau"),
    (r"the file is not valid CSV near (.+?) \(", r"nid yw'r ffeil yn CSV dilys ger \1 ("),
    (r"the file is not valid CSV \(", r"nid yw'r ffeil yn CSV dilys ("),
    (r"(\d+) MB, above the limit of (\d+) MB", r"\1 MB, uwchlaw'r terfyn o \2 MB"),
    (r"the file could not be opened \(", r"ni ellid agor y ffeil ("),
    (r"the file is UTF-16 text; Paris exports must be UTF-8 or Windows-1252",
     r"testun UTF-16 yw'r ffeil; rhaid i allforiadau Paris fod yn UTF-8 neu Windows-1252"),
    (r"the file holds NUL bytes: it is binary, not text",
     r"mae beitiau NUL yn y ffeil: ffeil ddeuaidd yw hi, nid testun"),
    (r"the file is empty \(not even a header row\)",
     r"mae'r ffeil yn wag (nid oes hyd yn oed res pennawd)"),
    (r"the columns are separated by semicolons, not commas",
     r"mae'r colofnau wedi'u gwahanu gan hanner colonau, nid atalnodau"),
    (r"the columns are separated by tabs, not commas",
     r"mae'r colofnau wedi'u gwahanu gan dabiau, nid atalnodau"),
    (r"the columns are separated by vertical bars, not commas",
     r"mae'r colofnau wedi'u gwahanu gan linellau fertigol, nid atalnodau"),
    (r"the column ('.*?'|\".*?\") appears twice", r"mae'r golofn \1 yn ymddangos ddwywaith"),
    (r"; the header is that of (\S+): was the wrong file delivered\?",
     r"; pennawd \1 yw'r pennawd: a anfonwyd y ffeil anghywir?"),
    (r"\bmissing: ", r"ar goll: "),
    (r"which has no name in the header but holds values",
     r"nad oes enw iddi yn y pennawd ond sy'n dal gwerthoedd"),
    (r"\bthe header\b", r"y pennawd"),
    (r"\brecord (\d+)", r"cofnod \1"),
    (r"\brows (?=\d)", r"rhesi "),
    (r"\bcolumn (?=\S)", r"colofn "),
)
_COMPILED = tuple((re.compile(p), r) for p, r in _PHRASES)


def welsh_details(detail: str) -> str:
    """The Welsh of a finding's particulars; phrases no pattern knows are kept as written."""
    out = detail
    for pattern, replacement in _COMPILED:
        out = pattern.sub(replacement, out)
    return out


def english_left(detail_cy: str) -> list[str]:
    """The English phrases a Welsh text still holds (for the test of the patterns)."""
    words = ("the file", "column", "missing", "header", "rows", "record", "appears", "was ",
             "not valid", "separated", "above the limit", "could not", "which has")
    return [w for w in words if re.search(rf"\b{w}", detail_cy)]
