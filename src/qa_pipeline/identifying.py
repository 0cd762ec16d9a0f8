"""The identifying-data guard: extracts are anonymised before they leave Paris, so a file that
carries a name, address, contact detail or NHS number is rejected whole, and the offending
values are never copied anywhere (only the column name and row numbers are reported)."""

from __future__ import annotations

import polars as pl

from qa_pipeline.contracts import FORBIDDEN_HEADER_PREFIXES, FORBIDDEN_HEADERS

_NHS_SHAPE = r"^\d{3} ?\d{3} ?\d{4}$"


def forbidden_headers(names: list[str]) -> list[str]:
    """Normalised header names that mean identifying data."""
    return [
        n for n in names
        if n in FORBIDDEN_HEADERS or any(n.startswith(p) for p in FORBIDDEN_HEADER_PREFIXES)
    ]


def is_nhs_number(col: pl.Expr) -> pl.Expr:
    """True where a text value is a valid NHS number: 10 digits (optionally spaced 3-3-4) whose
    modulus-11 check digit is correct. Pseudonymised ids are never such numbers."""
    digits = col.str.replace_all(" ", "", literal=True)
    total = pl.sum_horizontal(
        [digits.str.slice(i, 1).cast(pl.Int64, strict=False) * (10 - i) for i in range(9)]
    )
    check = (11 - total % 11) % 11  # 11 -> 0; 10 stays 10, which no digit equals
    last = digits.str.slice(9, 1).cast(pl.Int64, strict=False)
    return (col.str.contains(_NHS_SHAPE) & (check == last)).fill_null(False)


def nhs_number_rows(frame: pl.DataFrame, id_columns: list[str],
                    row_column: str) -> dict[str, list[int]]:
    """For each id column, the record numbers holding a valid NHS number (values not returned)."""
    found: dict[str, list[int]] = {}
    for c in id_columns:
        if c not in frame.columns:
            continue
        # The cheap shape test first; the check digit only for the few 10-digit values.
        shaped = frame.select(row_column, c).filter(pl.col(c).str.contains(_NHS_SHAPE))
        rows = shaped.filter(is_nhs_number(pl.col(c)))[row_column].to_list()
        if rows:
            found[c] = [int(r) for r in rows]
    return found
