"""Indicators in the nightly run: every indicator for every period and team with cases, teams
summing to the authority, re-runs identical, skipped indicators keeping their last values."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa

from qa_pipeline.load.db import make_engine
from qa_pipeline.ops.job import run_path
from qa_pipeline.sample.generate import generate_batch
from qa_pipeline.transform.calendar import PERIOD_TYPES, period_label
from qa_pipeline.transform.indicators import CATALOGUE

AS_OF = date(2026, 11, 25)


def _frame(engine: sa.Engine, sql: str) -> pl.DataFrame:
    with engine.connect() as conn:
        result = conn.execute(sa.text(sql))
        rows = [tuple(r) for r in result.all()]
        return pl.DataFrame(rows, schema=list(result.keys()), orient="row")


@pytest.fixture(scope="module")
def generated_landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    landing = tmp_path_factory.mktemp("landing")
    generate_batch(landing, children=1500, seed=11, as_of=AS_OF, years=4)
    return landing


def test_every_indicator_every_period_and_team(db_url: str, generated_landing: Path) -> None:
    result = run_path(generated_landing / AS_OF.isoformat(), db_url)
    assert result.exit_code == 0
    engine = make_engine(db_url)
    values = _frame(engine, "SELECT * FROM indicator_value")
    cases = _frame(engine, "SELECT * FROM indicator_case_latest")
    runs = _frame(engine, "SELECT indicator_code, status FROM indicator_run")
    assert sorted(runs["indicator_code"]) == sorted(i.code for i in CATALOGUE)
    assert set(runs["status"]) == {"computed"}
    assert set(values["indicator_code"]) == {i.code for i in CATALOGUE}
    assert (values["denominator"] > 0).all()
    assert (values["period_start"].cast(pl.String) <= AS_OF.isoformat()).all()

    # Every (indicator, period, team) that has cases has a value row, and no other exists.
    expected = cases.select("indicator_code", "period_type", "period_label",
                            pl.col("team_id").alias("breakdown_value")).unique()
    got = values.filter(pl.col("breakdown") == "team").select(
        "indicator_code", "period_type", "period_label", "breakdown_value").unique()
    assert expected.sort(expected.columns).equals(got.sort(got.columns))

    # Several years of history: many months, quarters and years per indicator.
    per_type = values.filter(pl.col("indicator_code") == "REF01", pl.col("breakdown") == "all"
                             ).group_by("period_type").len()
    counts = dict(zip(per_type["period_type"], per_type["len"], strict=True))
    assert counts["month"] >= 40 and counts["quarter"] >= 14 and counts["year"] >= 4

    # Rates: the teams sum to the authority; medians have no numerator.
    keys = ["indicator_code", "period_type", "period_label"]
    rates = values.filter(pl.col("numerator").is_not_null())
    teams = rates.filter(pl.col("breakdown") == "team").group_by(keys).agg(
        pl.col("numerator").sum().alias("t_num"), pl.col("denominator").sum().alias("t_den"))
    alls = rates.filter(pl.col("breakdown") == "all").join(teams, on=keys, how="left")
    assert alls.height > 0
    assert (alls["numerator"] == alls["t_num"]).all()
    assert (alls["denominator"] == alls["t_den"]).all()
    assert ((alls["value"] - 100.0 * alls["numerator"] / alls["denominator"]).abs() < 1e-9).all()
    medians = values.filter(pl.col("indicator_code") == "ASM04")
    assert medians.height > 0 and medians["numerator"].is_null().all()

    # The drill-through reproduces each value.
    month_all = values.filter(pl.col("breakdown") == "all", pl.col("numerator").is_not_null())
    recount = cases.group_by(keys).agg(
        pl.col("in_numerator").cast(pl.Int64).sum().alias("c_num"), pl.len().alias("c_den"))
    joined = month_all.join(recount, on=keys, how="left")
    assert (joined["numerator"] == joined["c_num"]).all()
    assert (joined["denominator"] == joined["c_den"]).all()
    # Each case's period really contains its event (checked for referrals via labels).
    assert set(cases["period_type"]) == set(PERIOD_TYPES)


def test_rerun_gives_identical_indicator_rows(db_url: str, generated_landing: Path) -> None:
    batch = generated_landing / AS_OF.isoformat()
    run_path(batch, db_url)
    engine = make_engine(db_url)
    order = "ORDER BY indicator_code, period_type, period_label, breakdown, breakdown_value"
    first = _frame(engine, f"SELECT * FROM indicator_value {order}")
    run_path(batch, db_url)
    second = _frame(engine, f"SELECT * FROM indicator_value {order}")
    assert first.equals(second)
    with engine.connect() as conn:
        n_runs = conn.execute(sa.text("SELECT COUNT(*) FROM indicator_run")).scalar_one()
    assert n_runs == len(CATALOGUE)


def test_missing_extract_skips_its_indicators_and_keeps_last_values(
        db_url: str, tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    first_day, second_day = date(2026, 11, 24), AS_OF
    generate_batch(landing, children=300, seed=2, as_of=first_day)
    second = generate_batch(landing, children=300, seed=3, as_of=second_day)
    (second / "cin_reviews.csv").unlink()
    result = run_path(landing, db_url)
    assert [b.exit_code for b in result.batches] == [0, 3]
    engine = make_engine(db_url)
    runs = _frame(engine, f"SELECT indicator_code, status, reason FROM indicator_run "
                          f"WHERE as_of = '{second_day.isoformat()}'")
    skipped = runs.filter(pl.col("status") == "skipped")
    assert sorted(skipped["indicator_code"]) == ["CIN03", "CIN04"]
    assert all("cin_reviews missing" in r for r in skipped["reason"])
    latest = _frame(engine, "SELECT indicator_code, as_of FROM indicator_value_latest")
    as_of_by_code = {c: str(a) for c, a in latest.unique().iter_rows()}
    assert as_of_by_code["CIN03"].startswith(first_day.isoformat())
    assert as_of_by_code["REF01"].startswith(second_day.isoformat())


def test_period_labels_of_cases() -> None:
    """Sanity of the label function the drill-through uses (financial year edges)."""
    df = pl.DataFrame({"d": [date(2014, 3, 31), date(2014, 4, 1)]})
    got = df.select(period_label(pl.col("d"), "quarter"), period_label(pl.col("d"), "year")
                    .alias("y")).rows()
    assert got == [("2013-14 Q4", "2013-14"), ("2014-15 Q1", "2014-15")]
