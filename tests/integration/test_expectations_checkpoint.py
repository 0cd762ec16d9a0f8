"""Great Expectations on the published tables, through `after_publish` (SQLite, PostgreSQL).

Two generated batches; in the second, referrals.csv keeps only the first half of its rows
(a truncated export), and it is published although the pipeline would normally hold it.
The checkpoint is slow (≈3 s to import, a few seconds to run), so each backend runs it once
per module and the tests share the result.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from qa_pipeline.cli.main import main
from qa_pipeline.load.db import make_engine
from qa_pipeline.officers.aftercare import AftercareResult, after_publish
from qa_pipeline.officers.data_docs import STATIC_DIR, ensure_static
from qa_pipeline.officers.expectations import data_docs_dir, plan_checks, run_checkpoint
from qa_pipeline.ops.job import run_path
from qa_pipeline.ops.settings import Settings
from qa_pipeline.sample.generate import generate_batch
from tests.integration.screenshots import require_chromium, run_chromium
from tests.offline_pages import css_problems, dead_links, problems
from tests.pg_server import PostgresServer

D1, D2 = date(2026, 11, 24), date(2026, 11, 25)
VOLUME = "stg_referrals: row count at least 50% of the previous batch"


@dataclass
class Checked:
    db_url: str
    root: Path
    result: AftercareResult
    run_id: str
    previous_referrals: int
    kept_referrals: int


def _truncate_referrals(batch: Path, previous: int) -> int:
    """Keep the first half of referrals.csv's records (strictly fewer than half of the
    previous batch's loaded rows: exactly half would meet "at least 50%")."""
    path = batch / "referrals.csv"
    lines = path.read_bytes().splitlines(keepends=True)
    header, records = lines[0], lines[1:]
    keep = min(len(records) // 2, math.ceil(previous / 2) - 1)
    path.write_bytes(header + b"".join(records[:keep]))
    return keep


def _build(db_url: str, root: Path, children: int) -> Checked:
    landing = root / "landing"
    generate_batch(landing, children=children, seed=11, as_of=D1, defects=True)
    assert run_path(landing / D1.isoformat(), db_url).exit_code == 0
    engine = make_engine(db_url)
    with engine.connect() as conn:
        previous = conn.execute(sa.text("SELECT COUNT(*) FROM stg_referrals WHERE as_of = :d"),
                                {"d": D1}).scalar_one()
    batch2 = generate_batch(landing, children=children, seed=11, as_of=D2, defects=True)
    kept = _truncate_referrals(batch2, previous)
    # The pipeline would hold the batch (a sharp drop); this one is published anyway, as
    # when the hold is switched off: the check must see it (a release would still compute
    # it, then accept it in the officer's name: test_release_acknowledgement.py).
    settings = Settings(volume_drop_threshold=0, hold_dir=root / "holds")
    outcome = run_path(batch2, db_url, settings=settings).batches[0].outcome
    assert outcome is not None and outcome.status == "succeeded", outcome
    result = after_publish(engine, D2, outcome.run_id, root / "reports")
    engine.dispose()
    return Checked(db_url, root, result, outcome.run_id, previous, kept)


@pytest.fixture(scope="module")
def sqlite_checked(tmp_path_factory: pytest.TempPathFactory) -> Checked:
    root = tmp_path_factory.mktemp("ge_sqlite")
    return _build(f"sqlite:///{root / 'qa.db'}", root, children=600)


@pytest.fixture(scope="module")
def pg_checked(postgres_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[Checked]:
    name = postgres_server.create_database(f"t_ge_{uuid.uuid4().hex[:8]}")
    try:
        yield _build(postgres_server.url(name), tmp_path_factory.mktemp("ge_pg"), children=150)
    finally:
        postgres_server.drop_database(name)


def _check_truncation_caught(c: Checked) -> None:
    failed = c.result.failed_expectations
    assert any(f.startswith(VOLUME) for f in failed), failed
    name = next(f for f in failed if f.startswith(VOLUME))
    assert f"of {c.previous_referrals} rows on {D1}" in name
    assert name.endswith(f"found {c.kept_referrals - _quarantined(c)} rows")
    # Keys, indicators and the catalogue are fine: only volume checks may fail (the
    # assessments of the dropped referrals are quarantined too, so they may shrink as well).
    assert all("row count at least" in f for f in failed), failed


def _quarantined(c: Checked) -> int:
    engine = make_engine(c.db_url)
    with engine.connect() as conn:
        n = conn.execute(sa.text(
            "SELECT rows_quarantined FROM pipeline_run_extract WHERE run_id = :r "
            "AND extract = 'referrals'"), {"r": c.run_id}).scalar_one()
    engine.dispose()
    return int(n)


def test_truncated_extract_fails_volume_expectation(sqlite_checked: Checked) -> None:
    _check_truncation_caught(sqlite_checked)


@pytest.mark.postgres
def test_truncated_extract_fails_volume_expectation_postgres(pg_checked: Checked) -> None:
    _check_truncation_caught(pg_checked)
    assert pg_checked.result.data_docs_path is not None
    assert pg_checked.result.data_docs_path.exists()


def test_outputs_of_after_publish(sqlite_checked: Checked) -> None:
    r, reports = sqlite_checked.result, sqlite_checked.root / "reports"
    assert r.report_path == reports / f"qa_report_{D2}.html"
    assert r.workbook_path == reports / f"qa_worklists_{D2}.xlsx"
    assert r.report_path.exists() and r.workbook_path.exists()
    assert r.data_docs_path == reports / "data_docs" / D2.isoformat() / "index.html"
    assert r.data_docs_path.exists()
    db_file = sqlite_checked.db_url.removeprefix("sqlite:///")
    for page in r.data_docs_path.parent.rglob("*.html"):  # no connection string in the docs
        assert db_file not in page.read_text(encoding="utf-8")
    assert r.expectations_total > 40 and r.expectations_passed < r.expectations_total
    html = r.report_path.read_text(encoding="utf-8")
    assert VOLUME in html and "succeeded_with_issues" in html
    assert 'href="data_docs/2026-11-25/index.html"' in html


def test_summary_markdown(sqlite_checked: Checked) -> None:
    md = sqlite_checked.result.summary_markdown
    assert md.startswith(f"# Batch {D2} — succeeded_with_issues")
    assert sqlite_checked.run_id in md
    assert "| extract | status | read | loaded | quarantined | warnings |" in md
    assert "| referrals | loaded |" in md
    assert "**Open issues (records to fix):**" in md and f"resolved since {D1}" in md
    assert VOLUME in md
    assert str(sqlite_checked.result.report_path) in md
    assert str(sqlite_checked.result.workbook_path) in md


def test_open_issues_by_rule(sqlite_checked: Checked) -> None:
    rows = sqlite_checked.result.open_issues_by_rule
    assert rows
    assert set(rows[0]) == {"rule_id", "extract", "severity", "open", "new", "persisting",
                            "resolved", "accepted"}
    for row in rows:
        assert row["open"] == row["new"] + row["persisting"]
    engine = make_engine(sqlite_checked.db_url)
    with engine.connect() as conn:
        open_total = conn.execute(sa.text(
            "SELECT COUNT(*) FROM dq_issue_latest WHERE exception_id IS NULL "
            "AND root_rule_id IS NULL")).scalar_one()  # root causes: dependents count under them
    assert sum(r["open"] for r in rows) == open_total


def test_volume_tolerance_is_a_parameter(sqlite_checked: Checked) -> None:
    engine = make_engine(sqlite_checked.db_url)

    def least(tolerance: float) -> int:
        plans = plan_checks(engine, D2, volume_tolerance=tolerance)
        plan = next(p for p in plans if p.table == "stg_referrals")
        check = next(c for c in plan.checks if c.kind == "volume")
        return int(check.kwargs["min_value"])

    prev = sqlite_checked.previous_referrals
    assert least(0.5) == math.ceil(prev / 2)
    assert least(0.2) == math.ceil(prev * 0.2)
    with pytest.raises(ValueError):
        plan_checks(engine, D2, volume_tolerance=1.5)
    # The first batch has nothing to compare with: no volume check.
    assert not [c for p in plan_checks(engine, D1) for c in p.checks if c.kind == "volume"]
    # Every catalogue indicator is checked against indicator_run.
    coverage = next(p for p in plan_checks(engine, D2) if p.table == "indicator_run")
    assert "LEFT OUTER JOIN indicator_run" in coverage.query


def test_report_check_command(sqlite_checked: Checked, tmp_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    """`qa-pipeline report --check` runs the checks too, and exits 3 when one fails."""
    code = main(["report", "--db", sqlite_checked.db_url, "--out", str(tmp_path), "--check"])
    out = capsys.readouterr().out
    assert code == 3
    assert f"FAILED {VOLUME}" in out
    assert (tmp_path / "data_docs" / D2.isoformat() / "index.html").exists()


def _site(c: Checked) -> Path:
    return c.root / "reports" / "data_docs"


def test_pages_open_offline(sqlite_checked: Checked) -> None:
    """The report and every Data Docs page of both batches fetch nothing from the network,
    and every script, style, icon and font they load is a file of the site."""
    site = _site(sqlite_checked)
    pages = [p for p in site.rglob("*.html") if STATIC_DIR not in p.parts]
    assert len(pages) >= 2 * 17  # an index and one page per validated asset, per batch
    for page in [sqlite_checked.result.report_path, *pages]:
        assert not problems(page), (page, problems(page))
    for page in pages:  # no link to the suites' pages, which are not built
        assert not dead_links(page), (page, dead_links(page))
    styles = list((site / STATIC_DIR).rglob("*.css"))
    assert len(styles) >= 5
    for css in styles:  # Font Awesome's webfonts are there
        assert not css_problems(css), (css, css_problems(css))


def test_data_docs_render_offline_in_chromium(sqlite_checked: Checked) -> None:
    """With the network off, the index's list of validations is drawn (bootstrap-table and
    jQuery ran from the local copies): blank before, as the scripts came from CDNs."""
    require_chromium()
    index = sqlite_checked.result.data_docs_path
    assert index is not None
    engine = make_engine(sqlite_checked.db_url)
    suites = len(plan_checks(engine, D2))
    engine.dispose()
    dom = run_chromium(["--virtual-time-budget=10000", "--dump-dom", index.resolve().as_uri()])
    assert dom.returncode == 0, dom.stderr[-2000:]
    drawn = re.search(r"<tbody\b.*?</tbody>", dom.stdout, re.S)  # not the script's data
    assert drawn, dom.stdout[-2000:]
    rows = re.findall(r'<tr[^>]*data-index="\d+"', drawn.group(0))
    assert len(rows) == min(suites, 10), len(rows)  # the first page of the list
    assert f"Showing 1 to {min(suites, 10)} of {suites} rows" in dom.stdout
    assert "ge-success-icon" in drawn.group(0)
    page = next(p for p in index.parent.rglob("reporting-stg_referrals_*.html"))
    dom = run_chromium(["--virtual-time-budget=10000", "--dump-dom", page.resolve().as_uri()])
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "row count at least 50% of the previous batch" in dom.stdout


def test_static_assets_written_once_per_site(sqlite_checked: Checked) -> None:
    """Both batches share `data_docs/_static/`; a batch folder holds its pages only (not
    GX's 4.7 MB of static files), and building a batch again rewrites no asset."""
    site = _site(sqlite_checked)
    assert {d.name for d in site.iterdir()} == {STATIC_DIR, D1.isoformat(), D2.isoformat()}
    for day in (D1, D2):
        folder = site / day.isoformat()
        assert not (folder / "static").exists()
        assert sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) < 1_500_000

    def stamps() -> dict[Path, tuple[int, int]]:
        return {f: (f.stat().st_ino, f.stat().st_mtime_ns)
                for f in (site / STATIC_DIR).rglob("*") if f.is_file()}

    before = stamps()
    assert len(before) > 20
    engine = make_engine(sqlite_checked.db_url)
    result = run_checkpoint(engine, D2, data_docs_dir(sqlite_checked.root / "reports", D2))
    engine.dispose()
    assert result.data_docs_path is not None and result.data_docs_path.exists()
    assert stamps() == before
    assert ensure_static(site / STATIC_DIR) == []
