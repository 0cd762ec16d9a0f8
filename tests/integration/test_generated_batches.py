"""The seeded generator and the validator agree: clean synthetic batches raise nothing, and a
batch with injected defects raises exactly the ground truth."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from qa_pipeline.ingest.staging import stage_batch
from qa_pipeline.sample.generate import generate_batch

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_extracts"
KEY = ["extract", "record_id", "rule_id", "column_name", "severity"]


def _issues(batch: Path, work: Path) -> pl.DataFrame:
    m = stage_batch(batch, work)
    return pl.read_parquet(m.issues_parquet)


@pytest.mark.parametrize("seed,children,as_of", [(1, 300, date(2026, 11, 25)),
                                                 (7, 2_000, date(2025, 12, 28))])
def test_clean_batch_raises_nothing(tmp_path: Path, seed: int, children: int,
                                    as_of: date) -> None:
    batch = generate_batch(tmp_path / "landing", children=children, seed=seed, as_of=as_of)
    issues = _issues(batch, tmp_path / "work")
    assert issues.height == 0, issues.head(20).to_dicts()


def _truth(path: Path) -> pl.DataFrame:
    return pl.read_csv(path, infer_schema=False).with_columns(
        pl.col("record_id").replace("", None))


@pytest.mark.parametrize("children,seed", [(500, 3), (100_000, 42)])
def test_defects_raise_exactly_the_ground_truth(tmp_path: Path, children: int,
                                               seed: int) -> None:
    """At 100,000 children, seed 42 (the benchmark's size M) one referral time once fell in
    the hour UK clocks skip in March: an invalid_datetime that was no planted defect. The
    generator now moves such a time an hour on."""
    as_of = date(2026, 11, 25)
    batch = generate_batch(tmp_path / "landing", children=children, seed=seed, as_of=as_of,
                           defects=True)
    truth = _truth(tmp_path / "landing" / f"{as_of}.ground_truth.csv")
    got = _issues(batch, tmp_path / "work").select(KEY)
    assert got.sort(KEY).to_dicts() == truth.select(KEY).sort(KEY).to_dicts()


def test_identifying_data_rejects_persons(tmp_path: Path) -> None:
    as_of = date(2026, 11, 25)
    batch = generate_batch(tmp_path / "landing", children=100, seed=5, as_of=as_of,
                           identifying=True)
    m = stage_batch(batch, tmp_path / "work")
    assert m.extracts["persons"].status == "rejected"
    issues = pl.read_parquet(m.issues_parquet)
    row = issues.filter(pl.col("rule_id") == "persons.identifying_column").row(0, named=True)
    assert row["column_name"] == "surname" and row["value"] is None


def test_sample_extracts_are_the_generators_output(tmp_path: Path) -> None:
    """The bundled sample is exactly what the seeded generator writes (see its README)."""
    generate_batch(tmp_path, children=300, seed=20261125, as_of=date(2026, 11, 25),
                   defects=True)
    made = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    shipped = sorted(p.relative_to(SAMPLE) for p in SAMPLE.rglob("*.csv"))
    assert made == shipped
    for rel in made:
        assert (tmp_path / rel).read_bytes() == (SAMPLE / rel).read_bytes(), rel


def test_sample_issues_match_its_ground_truth(tmp_path: Path) -> None:
    got = _issues(SAMPLE / "2026-11-25", tmp_path / "work").select(KEY)
    truth = _truth(SAMPLE / "2026-11-25.ground_truth.csv")
    assert got.sort(KEY).to_dicts() == truth.select(KEY).sort(KEY).to_dicts()
