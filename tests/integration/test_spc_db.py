"""indicator_spc and indicator_spc_summary in the reporting database (SQLite and PostgreSQL).

The acceptance check of issue 16: on generated batches covering several years, the stored
XmR chart of every monthly series equals an independent computation from indicator_value
(written here from reporting-db.md 1.1 with polars window expressions, not with
transform/spc.py): mean, limits and the points outside the limits, for every series with at
least 12 baseline months; fewer, and the series has no limits and no special cause.
"""

from __future__ import annotations

import math
import re
from datetime import date
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa

from qa_pipeline.load.db import make_engine
from qa_pipeline.officers.spc_report import load_spc, new_special_cause_texts
from qa_pipeline.ops.job import run_one_batch, run_path
from qa_pipeline.ops.settings import Settings
from qa_pipeline.sample.generate import generate_batch

KEY = ["indicator_code", "breakdown", "breakdown_value"]
NIGHTS = [date(2026, 9, 30), date(2026, 11, 18)]  # the first ends a month: no partial month


def _frame(conn: sa.Connection, sql: str) -> pl.DataFrame:
    result = conn.execute(sa.text(sql))
    return pl.DataFrame([dict(r._mapping) for r in result], infer_schema_length=None)


def _dates(frame: pl.DataFrame, *cols: str) -> pl.DataFrame:
    return frame.with_columns(*(pl.col(c).cast(pl.String).str.slice(0, 10)
                                .str.to_date("%Y-%m-%d") for c in cols))


def independent_xmr(months: pl.DataFrame, baseline: int = 20) -> pl.DataFrame:
    """The XmR chart of each series, straight from the spec's words."""
    pts = (months.filter(pl.col("denominator") > 0)
           .sort([*KEY, "period_start"])
           .with_columns(partial=pl.col("period_end") > pl.col("as_of"))
           .with_columns(nth=(~pl.col("partial")).cast(pl.Int64).cum_sum().over(KEY))
           .with_columns(in_base=~pl.col("partial") & (pl.col("nth") <= baseline)))
    base = (pts.filter("in_base")
            .with_columns(mr=(pl.col("value") - pl.col("value").shift(1)).abs().over(KEY))
            .group_by(KEY).agg(n=pl.len(), mean=pl.col("value").mean(),
                               mr_bar=pl.col("mr").mean()))
    charted = pts.join(base, on=KEY, how="left").with_columns(
        has_limits=pl.col("n").fill_null(0) >= 12)
    return charted.with_columns(
        x_mean=pl.when("has_limits").then("mean"),
        x_lower=pl.when("has_limits").then(pl.col("mean") - 2.66 * pl.col("mr_bar")),
        x_upper=pl.when("has_limits").then(pl.col("mean") + 2.66 * pl.col("mr_bar")),
    ).with_columns(x_outside=pl.col("has_limits") & (
        (pl.col("value") > pl.col("x_upper")) | (pl.col("value") < pl.col("x_lower"))))


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("spc") / "landing"
    for night in NIGHTS:
        generate_batch(root, children=500, seed=11, as_of=night, defects=True, years=5)
    return root


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def test_indicator_spc_equals_an_independent_xmr(db_url: str, landing: Path) -> None:
    settings = Settings(aftercare=False)
    assert run_path(landing, db_url, settings=settings).exit_code == 0
    engine = make_engine(db_url)
    with engine.connect() as conn:
        months = _dates(_frame(conn, "SELECT * FROM indicator_value_latest "
                                     "WHERE period_type = 'month'"),
                        "as_of", "period_start", "period_end")
        stored = _dates(_frame(conn, "SELECT * FROM indicator_spc"), "as_of", "period_start")
        summary = _dates(_frame(conn, "SELECT * FROM indicator_spc_summary"),
                         "as_of", "period_start")
    engine.dispose()
    expected = independent_xmr(months)
    assert stored.height == expected.height > 0
    both = expected.join(stored, on=[*KEY, "period_start"], how="inner", suffix="_db")
    assert both.height == expected.height
    assert (both["as_of"] == NIGHTS[-1]).all()

    charted = both.filter("has_limits")
    series = charted.select(KEY).unique().height
    assert series >= 20  # several indicators and teams with 12+ baseline months
    for r in both.iter_rows(named=True):
        where = (r["indicator_code"], r["breakdown_value"], r["period_start"])
        assert _close(r["mean_db"], r["x_mean"]), where
        assert _close(r["lower_limit"], r["x_lower"]), where
        assert _close(r["upper_limit"], r["x_upper"]), where
        assert bool(r["partial_db"]) == r["partial"], where
        assert bool(r["in_baseline"]) == r["in_base"], where
        # outside_limits is the first rule: a point outside the limits is named so
        assert (r["rule"] == "outside_limits") == r["x_outside"], where
        if not r["has_limits"]:
            assert r["signal"] == "common_cause" and r["rule"] is None, where
    assert charted.filter("x_outside").height > 0  # the check compared real signals
    assert both.filter(~pl.col("has_limits")).height > 0  # and series without limits

    # the month of the extract date is partial, and the only one
    partial = both.filter("partial")
    assert set(partial["period_start"]) == {date(2026, 11, 1)}
    # the summary: one row per series, its latest month
    latest = (both.sort("period_start").group_by(KEY).last()
              .select(*KEY, "period_start", "signal"))
    assert summary.height == latest.height
    joined = summary.join(latest, on=KEY, suffix="_x")
    assert (joined["period_start"] == joined["period_start_x"]).all()
    assert (joined["signal"] == joined["signal_x"]).all()
    assert summary["assurance"].is_null().all()  # no target is set in the package


def test_spc_assurance_new_special_causes_and_a_late_batch(db_url: str, landing: Path,
                                                          tmp_path: Path) -> None:
    """A target gives assurance; the previous batch's signal tells a new special cause, and
    neither a re-run nor a late (older) batch changes what the newest batch made."""
    config = tmp_path / "indicators.yaml"
    from importlib import resources

    packaged = resources.files("qa_pipeline.spec").joinpath("indicators.yaml").read_text()
    config.write_text(packaged.replace("  FTH01: null", "  FTH01: 50")
                      .replace("  REF01: null", "  REF01: 99.5"), encoding="utf-8")
    settings = Settings(aftercare=False, indicators_file=config)
    older, newer = (landing / n.isoformat() for n in NIGHTS)
    engine = make_engine(db_url)

    def state() -> dict[tuple[str, str, str], tuple[object, ...]]:
        with engine.connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT indicator_code, breakdown, breakdown_value, signal, assurance, "
                "new_special_cause, lower_limit, upper_limit, target "
                "FROM indicator_spc_summary")).all()
        return {tuple(r[:3]): tuple(r[3:]) for r in rows}

    assert run_path(older, db_url, settings=settings).exit_code == 0
    first = state()
    # the first batch has nothing to compare with: each special cause is new
    assert first and all(bool(v[2]) == (v[0] != "common_cause") for v in first.values())
    assert run_path(newer, db_url, settings=settings).exit_code == 0
    second = state()
    with engine.connect() as conn:
        prev = conn.execute(sa.text(
            "SELECT indicator_code, breakdown, breakdown_value, previous_signal, "
            "previous_as_of FROM indicator_spc_series")).all()
    prev_signal = {tuple(r[:3]): (r[3], r[4]) for r in prev}
    for key, (signal, _, new, *_rest) in second.items():
        before = first.get(key)
        assert prev_signal[key][0] == (before[0] if before else None), key
        assert bool(new) == (signal != "common_cause" and (before is None
                                                           or before[0] != signal)), key
    # what the night's message lists: the new special causes of this batch, authority first
    with engine.connect() as conn:
        texts = new_special_cause_texts(conn, NIGHTS[-1])
        assert new_special_cause_texts(conn, NIGHTS[0]) == []  # not the newest batch's
        # the report's "what changed tonight" reads the same: only tonight's batch's series
        assert len(load_spc(conn, NIGHTS[-1])[1]) == len(texts)
        assert load_spc(conn, NIGHTS[0])[1] == []
    flagged = sorted(k for k, v in second.items() if v[2])
    assert len(texts) == len(flagged) > 0
    assert [t.split(" ", 1)[0] for t in texts] == [k[0] for k in flagged]
    for text, key in zip(texts, flagged, strict=True):
        whose = "whole authority" if key[2] == "ALL" else f"team {key[2]}"
        assert re.fullmatch(rf"{key[0]} {whose} 20\d\d-\d\d: {second[key][0]}, [a-z0-9 ]+",
                            text), text
    # assurance where a target is set, by the process range against it
    for code, target in (("FTH01", 50), ("REF01", 99.5)):  # both higher is better
        _, assured, _, lower, upper, stored_target = second[(code, "all", "ALL")]
        assert stored_target == target
        expected = ("pass" if lower >= target else "fail" if upper < target
                    else "hit_and_miss")
        assert assured == expected, code
    assert second[("REF02", "all", "ALL")][1] is None  # no target

    # a re-run of the newest batch and then the older batch again (run_one_batch does not
    # skip a batch already published): nothing changes
    for again in (newer, older):
        assert run_one_batch(again, engine, settings).outcome.exit_code == 0  # type: ignore[union-attr]
        assert state() == second, again.name
    engine.dispose()
