"""The drill-through is stored compactly (one row per case and event date, with month,
quarter and year labels) and must unpivot to exactly the cases behind every value."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl

from qa_pipeline.ingest.staging import stage_batch
from qa_pipeline.sample.generate import generate_batch
from qa_pipeline.transform.indicators import derive

AS_OF = date(2026, 8, 14)  # mid-quarter: the point-in-time current quarter is capped


def test_compact_cases_unpivot_to_the_long_cases(tmp_path: Path) -> None:
    batch = generate_batch(tmp_path / "landing", children=400, seed=9, as_of=AS_OF)
    m = stage_batch(batch, tmp_path / "work")
    staged = {n: pl.read_parquet(o.parquet) for n, o in m.extracts.items() if o.parquet}
    result = derive(staged, {n: o.status for n, o in m.extracts.items()}, AS_OF)
    long = result.cases  # unpivoted from the compact form by the code under test...
    compact = result.compact
    assert compact.height * 2 < long.height  # much smaller than the long form
    unpivoted = pl.concat([
        compact.filter(pl.col(p).is_not_null()).select(
            "indicator_code", "record_id", "in_numerator", "measure", "event_date",
            pl.lit(p).alias("period_type"), pl.col(p).alias("period_label"))
        for p in ("month", "quarter", "year")
    ])
    cols = unpivoted.columns
    left = long.select(cols).sort(cols, nulls_last=True)
    right = unpivoted.sort(cols, nulls_last=True)
    assert left.equals(right)
    # point-in-time cases count in a quarter only from its measuring month
    fth = compact.filter(pl.col("indicator_code") == "FTH01")
    assert fth.height > 0
    assert fth.filter(pl.col("quarter").is_not_null())["event_date"].dt.month().is_in(
        [3, 6, 9, 12, AS_OF.month]).all()
