"""The Welsh of a finding's particulars (ingest/welsh_details.py): every particular the
reader writes for a malformed file comes out in Welsh, with its numbers and names kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa_pipeline.ingest.reading import FileProblem, read_text_csv
from qa_pipeline.ingest.welsh_details import STATUS_CY, english_left, welsh_details

MALFORMED: dict[str, bytes] = {
    "utf16": "a,b\n1,2\n".encode("utf-16"),
    "nul": b"a,b\n1,\x002\n",
    "empty": b"",
    "semicolons": b"a;b;c\n1;2;3\n",
    "tabs": b"a\tb\n1\t2\n",
    "bars": b"a|b\n1|2\n",
    "unclosed_quote": b'a,b\n1,"2\n3,4\n',
    "duplicate_column": b"a,b,a\n1,2,3\n",
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_each_particular_of_a_malformed_file_is_in_welsh(name: str, tmp_path: Path) -> None:
    path = tmp_path / "referrals.csv"
    path.write_bytes(MALFORMED[name])
    problem = read_text_csv(path)
    assert isinstance(problem, FileProblem), name
    welsh = welsh_details(problem.detail)
    assert welsh != problem.detail
    assert english_left(welsh) == [], (problem.detail, welsh)


def test_a_file_too_large_keeps_its_sizes(tmp_path: Path) -> None:
    path = tmp_path / "referrals.csv"
    path.write_bytes(b"a,b\n" + b"1,2\n" * 600_000)
    problem = read_text_csv(path, max_bytes=1024**2)
    assert isinstance(problem, FileProblem) and problem.kind == "too_large"
    assert welsh_details(problem.detail) == "2 MB, uwchlaw'r terfyn o 1 MB"


@pytest.mark.parametrize("detail,welsh", [
    ("column name, address", "colofn name, address"),
    ("missing: team_id, child_id; the header is that of referrals.csv: was the wrong file "
     "delivered?", "ar goll: team_id, child_id; pennawd referrals.csv yw'r pennawd: a "
     "anfonwyd y ffeil anghywir?"),
    ("column 7, which has no name in the header but holds values",
     "colofn 7, nad oes enw iddi yn y pennawd ond sy'n dal gwerthoedd"),
    ("column nhs_no, rows 1, 2, 3", "colofn nhs_no, rhesi 1, 2, 3"),
])
def test_staging_particulars_are_in_welsh_with_their_names_kept(detail: str, welsh: str
                                                                ) -> None:
    assert welsh_details(detail) == welsh
    assert english_left(welsh) == []


def test_an_unknown_phrase_is_kept_not_lost() -> None:
    """A library's own words (a polars error, say) stay as written: nothing is dropped."""
    assert welsh_details("unexpected thing 42") == "unexpected thing 42"
    assert english_left("the file is odd; column x") == ["the file", "column"]


def test_every_parent_status_has_its_welsh() -> None:
    assert set(STATUS_CY) == {"missing", "rejected", "loaded"}
    assert all("{extract}" in v for v in STATUS_CY.values())
