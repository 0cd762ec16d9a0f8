"""The HTML report: self-contained, and it renders in headless Chromium with no network.

One database of three generated batches (with defects) is built for the module; the report
is rendered once, with a made-up Great Expectations result holding one failure (the real
checkpoint is tested in test_expectations_checkpoint.py).
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa

from qa_pipeline.load.db import make_engine
from qa_pipeline.officers.report import SECTIONS, gather, render
from tests.integration.sample_report import build_sample_report

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--host-resolver-rules=MAP * ~NOTFOUND"]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    report, workbook = build_sample_report(tmp_path_factory.mktemp("report"))
    return report, workbook, report.read_text(encoding="utf-8")


def test_report_file_and_sections(built: tuple[Path, Path, str]) -> None:
    report, workbook, text = built
    assert report.name == "qa_report_2026-11-25.html"
    for sid, title in SECTIONS:
        assert f'id="{sid}"' in text and f'href="#{sid}"' in text  # table of contents
        assert title in text
    assert 'href="#trend-referrals"' in text and 'id="trend-referrals"' in text
    assert "REF01" in text and "FIT02" in text
    assert f'href="{workbook.name}"' in text
    assert 'href="data_docs/2026-11-25/index.html"' in text
    # the failed check is named and turns the run's status
    assert "stg_referrals: row count at least 50%" in text and "found 99 rows" in text
    assert "succeeded_with_issues" in text
    assert text.count("<svg") >= 1 + 6  # issues chart + one per indicator area


def test_report_is_self_contained(built: tuple[Path, Path, str]) -> None:
    _, _, text = built
    lowered = text.lower()
    for needle in ("<script", "<link", "@import", "<iframe", "<img"):
        assert needle not in lowered, needle
    # the only URLs are the SVG XML namespaces, which are names, not requests
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", text))
    assert urls <= {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}, urls
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", text)
    assert "url(http" not in lowered


def test_report_has_no_identifying_data(built: tuple[Path, Path, str]) -> None:
    """Only record ids: no issue values (a mistyped date could be a date of birth)."""
    _, _, text = built
    engine_db = built[0].parent.parent / "qa.db"
    engine = make_engine(f"sqlite:///{engine_db}")
    data = gather(engine)
    records = {i.record_id for i in data.issues}
    values = {i.value for i in data.issues if i.value and len(i.value) > 5
              and i.value not in records}  # a duplicate key's value is its record id
    assert values
    assert not [v for v in values if v in text]


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (.ci/run installs it)")
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    return found


def _run_chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([_chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=120, check=False)


def test_report_renders_in_headless_chromium(built: tuple[Path, Path, str],
                                            tmp_path: Path) -> None:
    report = built[0]
    url = report.resolve().as_uri()
    png = tmp_path / "report.png"
    shot = _run_chromium([f"--screenshot={png}", "--window-size=1280,3000", url],
                         tmp_path / "profile1")
    assert png.exists(), shot.stderr[-2000:]
    head = png.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", head[16:24]) == (1280, 3000)
    assert png.stat().st_size > 50_000  # a page with tables and charts, not a blank one

    dom = _run_chromium(["--dump-dom", url], tmp_path / "profile2")
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    for sid, _ in SECTIONS:
        assert f'id="{sid}"' in html
    assert "Data quality and indicators — batch 25 November 2026" in html
    assert len(re.findall(r"<svg\b", html)) >= 7
    assert re.search(r"<svg[^>]*aria-label=\"Bar chart of open issues", html)
    assert "Headline indicators" in html and "REF01" in html
    assert "ERR_NAME_NOT_RESOLVED" not in dom.stderr  # it asked for nothing on the network


def _section_html(text: str, sid: str) -> str:
    start = text.index(f'<section id="{sid}">')
    return text[start:text.index("</section>", start)]


def test_report_reads_the_indicators_as_spc(built: tuple[Path, Path, str]) -> None:
    """Issue 16: variation icons instead of "better/worse than last month", an SPC chart
    per indicator, what changed tonight first, and target columns only where targets are."""
    report, _, text = built
    engine = make_engine(f"sqlite:///{report.parent.parent / 'qa.db'}")
    data = gather(engine)
    assert SECTIONS[0][0] == "tonight"
    assert text.index('<section id="tonight">') < text.index('<section id="run">')
    assert "better</span> <span" not in text and "vs 20" not in text  # no month-on-month
    charted = [h for h in data.headlines if h.spc is not None and h.spc.points]
    assert len(charted) >= 20
    for h in data.headlines:
        assert f'<figure class="spc" id="spc-{h.code}"' in text, h.code
    headline = _section_html(text, "indicators")
    assert "<th>Variation</th>" in headline
    assert headline.count('class="mdc-icon mdc-icon-variation') == len(charted)
    assert "<th class=n>Target</th>" not in headline and "Assurance" not in headline[:2000]
    with engine.connect() as conn:
        signals = dict(conn.execute(sa.text(
            "SELECT indicator_code, signal FROM indicator_spc_summary "
            "WHERE breakdown = 'all'")).all())
        new = conn.execute(sa.text(
            "SELECT COUNT(*) FROM indicator_spc_summary WHERE new_special_cause "
            "AND breakdown = 'all'")).scalar()
    for h in charted:  # the icon is the stored signal of the latest month
        row = headline[headline.index(f'href="#spc-{h.code}"'):]
        row = row[:row.index("</tr>")]
        assert f"mdc-variation-{signals[h.code]}" in row, h.code
    tonight = _section_html(text, "tonight")
    new_rc = sum(rc.issue.status == "new" for rc in data.root_causes)
    assert f"<b>{new_rc}</b> new records to fix" in tonight
    assert f"<b>{len(data.resolved_root_causes)}</b> resolved" in tonight
    if new:
        assert f"<b>{new}</b> indicator(s) with a new special cause" in tonight
    else:
        assert "No indicator has a new special cause" in tonight

    # with a target, the table gains Target and Assurance, with the assurance icon
    target = charted[0]
    assert target.spc is not None
    target.target, target.spc.assurance = 50.0, "hit_and_miss"
    page = render(data)
    table = _section_html(page, "indicators")
    assert "<th class=n>Target</th>" in table and "<th>Assurance</th>" in table
    assert table.count("mdc-assurance-hit_and_miss") == 1
    engine.dispose()
