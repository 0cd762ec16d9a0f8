"""The report both report test modules read: three generated batches with defects, published
into SQLite, rendered with a made-up Great Expectations result holding one failure (the real
checkpoint is tested in test_expectations_checkpoint.py)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from qa_pipeline.load.db import make_engine
from qa_pipeline.officers.expectations import ExpectationsResult, Outcome
from qa_pipeline.officers.report import build_report
from qa_pipeline.officers.worklists import write_workbook
from qa_pipeline.ops.job import run_path
from qa_pipeline.sample.generate import generate_batch

DATES = [date(2026, 11, 23), date(2026, 11, 24), date(2026, 11, 25)]


def build_sample_report(root: Path) -> tuple[Path, Path]:
    """(report, workbook) of the sample under `root` (its database is root/qa.db)."""
    db = f"sqlite:///{root / 'qa.db'}"
    for d in DATES:
        generate_batch(root / "landing", children=200, seed=7, as_of=d, defects=True)
    assert run_path(root / "landing", db).exit_code == 0
    engine = make_engine(db)
    out = root / "reports"
    failed = Outcome(name="stg_referrals: row count at least 50% of the previous batch "
                          "(100 of 200 rows on 2026-11-24)", table="stg_referrals",
                     kind="volume", success=False, observed="99 rows")
    passed = Outcome(name="stg_teams: key team_id is unique", table="stg_teams", kind="key",
                     success=True, observed="0 unexpected rows")
    checks = ExpectationsResult(as_of=DATES[-1], outcomes=[failed, passed],
                                data_docs_path=out / "data_docs" / "2026-11-25" / "index.html")
    workbook = write_workbook(engine, out)
    report = build_report(engine, out, expectations=checks, workbook=workbook)
    engine.dispose()
    return report, workbook
