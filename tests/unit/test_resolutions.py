"""`officers.issues.resolutions`: runs of consecutive batches in which an issue was present,
and the batch that no longer had it — worked by hand."""

from __future__ import annotations

from datetime import date

import polars as pl

from qa_pipeline.officers.issues import KEY, resolutions

B = [date(2026, 11, d) for d in (20, 21, 22, 23, 24)]


def _keys(rows: list[tuple[date, str | None, str]]) -> pl.DataFrame:
    return pl.DataFrame([(d, "referrals", rec, rule, None) for d, rec, rule in rows],
                        schema={"as_of": pl.Date, **dict.fromkeys(KEY, pl.String)},
                        orient="row")


def test_fixed_returned_and_fixed_again_is_two_resolutions() -> None:
    keys = _keys([(B[0], "R1", "x"), (B[1], "R1", "x"),   # fixed in B2
                  (B[3], "R1", "x"),                      # back in B3, fixed in B4
                  (B[0], None, "file"), (B[4], None, "file"),  # no record id; open now
                  (B[2], "R2", "x")])                     # one night, fixed in B3
    got = resolutions(B, keys, since=B[0]).sort("resolved_in", "record_id")
    assert got.select("record_id", "first_seen", "last_seen", "resolved_in").rows() == [
        (None, B[0], B[0], B[1]),
        ("R1", B[0], B[1], B[2]),
        ("R2", B[2], B[2], B[3]),
        ("R1", B[3], B[3], B[4]),
    ]
    assert resolutions(B, keys, since=B[4]).select("record_id").rows() == [("R1",)]
    assert resolutions(B, keys, since=date(2026, 11, 25)).height == 0


def test_an_issue_still_open_in_the_latest_batch_is_not_resolved() -> None:
    keys = _keys([(d, "R1", "x") for d in B])
    assert resolutions(B, keys, since=B[0]).height == 0
    assert resolutions([B[0]], _keys([(B[0], "R1", "x")]), since=B[0]).height == 0
