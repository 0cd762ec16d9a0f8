"""The drill-through matches stored and new rows alike in every value one to one: `k`
numbers the rows of one row_hash in frame order, and only repeated hashes are ranked."""

import polars as pl

from qa_pipeline.load.publish import _rank_alike


def test_repeated_hashes_are_numbered_in_frame_order_and_single_ones_are_zero() -> None:
    frame = pl.DataFrame({"row_hash": ["a", "b", "a", "c", "a", "b"], "x": range(6)})
    assert _rank_alike(frame).to_list() == [0, 0, 1, 0, 2, 1]


def test_no_repeated_hash_and_no_rows() -> None:
    assert _rank_alike(pl.DataFrame({"row_hash": ["a", "b"]})).to_list() == [0, 0]
    empty = _rank_alike(pl.DataFrame({"row_hash": []}, schema={"row_hash": pl.String()}))
    assert empty.len() == 0 and empty.dtype == pl.Int64()


def test_many_rows() -> None:
    n = 200_000
    frame = pl.DataFrame({"row_hash": [str(i % 150_000) for i in range(n)]})
    assert _rank_alike(frame).to_list() == [i // 150_000 for i in range(n)]
