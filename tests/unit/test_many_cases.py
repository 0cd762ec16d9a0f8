"""A regression: polars 2.1 refuses a filter whose predicate folds to a literal on a frame of
16,384 rows or more ("filter predicate length of 2 doesn't match"). `cases()` built one for
an indicator whose population is every fact and which has no dependent rows (FTH01): a
real-size batch (the benchmark's size M, 21,374 open-plan months) failed in derive."""

from __future__ import annotations

from datetime import date

import polars as pl

from qa_pipeline.transform.indicators import CATALOGUE, cases

AS_OF = date(2026, 11, 25)
N = 20_000


def test_cases_of_an_every_fact_indicator_on_more_than_16384_facts() -> None:
    fth01 = next(i for i in CATALOGUE if i.code == "FTH01")
    assert fth01.excluded_by is None  # the case the regression is about
    facts = pl.DataFrame({
        "cp_plan_id": [f"P{i}" for i in range(N)],
        "child_id": [f"C{i}" for i in range(N)],
        "team_id": ["T1"] * N,
        "period_date": [date(2026, 10, 31)] * N,
        "father_figure_recorded": [i % 2 == 0 for i in range(N)],
    })
    out = cases(fth01, facts, AS_OF)
    assert out.height == N
    assert out["in_numerator"].sum() == N // 2
