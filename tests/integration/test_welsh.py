"""The sample batch's report and worklists in each of the three languages (issue 17): the
`<html lang>`, a Welsh heading, Welsh sheet names and column headers read back with openpyxl,
the CLI's `--language`, and screenshots of the Welsh and the bilingual page."""

from __future__ import annotations

import os
import re
from pathlib import Path

import openpyxl
import pytest

from qa_pipeline.cli.main import main
from qa_pipeline.i18n import LANGUAGES, Lang
from qa_pipeline.load.db import make_engine
from qa_pipeline.officers.report import build_report
from qa_pipeline.officers.worklists import write_workbook
from qa_pipeline.ops.job import run_path
from qa_pipeline.sample.generate import generate_batch
from tests.integration.sample_report import DATES


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("welsh")
    db = f"sqlite:///{root / 'qa.db'}"
    for d in DATES:
        generate_batch(root / "landing", children=200, seed=7, as_of=d, defects=True)
    assert run_path(root / "landing", db).exit_code == 0
    return root, db


@pytest.fixture(scope="module")
def written(sample: tuple[Path, str]) -> dict[str, tuple[Path, Path]]:
    """language -> (report, workbook), each written into its own folder."""
    root, db = sample
    engine = make_engine(db)
    out = {}
    for code in LANGUAGES:
        folder = root / f"reports-{code}"
        workbook = write_workbook(engine, folder, lang=Lang(code))
        out[code] = (build_report(engine, folder, workbook=workbook, lang=Lang(code)),
                     workbook)
    engine.dispose()
    return out


def _html(written: dict[str, tuple[Path, Path]], code: str) -> str:
    return written[code][0].read_text(encoding="utf-8")


@pytest.mark.parametrize("code,lang", [("en", "en"), ("cy", "cy"), ("cy+en", "cy")])
def test_the_html_lang_is_the_first_language(written, code, lang):
    assert re.search(r'<html lang="([^"]+)"', _html(written, code))[1] == lang


def test_the_welsh_page_has_welsh_headings_and_no_english_ones(written):
    page = _html(written, "cy")
    assert "<h1>Ansawdd data a dangosyddion — swp 25 Tachwedd 2026</h1>" in page
    assert "Prif ddangosyddion" in page and "Beth newidiodd heno" in page
    assert "Headline indicators" not in page and "What changed tonight" not in page


def test_the_bilingual_page_puts_welsh_first(written):
    page = _html(written, "cy+en")
    h1 = re.search(r"<h1>(.*?)</h1>", page)[1]
    assert h1 == ('<span lang="cy">Ansawdd data a dangosyddion — swp 25 Tachwedd 2026</span>'
                  '<span class="en" lang="en">Data quality and indicators — batch '
                  '25 November 2026</span>')
    assert page.index("Prif ddangosyddion") < page.index("Headline indicators")


ENGLISH_BODY = ("<th>Total", ">Total<", "Open issues of batch", "higher is better",
                "Per extract", "open issues</text>", "Median days to fix", "common cause")
"""English of the page's body (table headers, sentences, chart labels) that the Welsh page
must not hold."""


def _visible(page: str) -> str:
    """The page without its style sheet and markup attributes (class names are English)."""
    return re.sub(r"<style>.*?</style>", "", page, flags=re.S)


def test_the_welsh_page_body_is_welsh(written, sample):
    """Table headers, sentences, chart titles and axes, the indicators' titles and the
    rules' descriptions in Welsh (from the catalogue and the database)."""
    import sqlalchemy as sa

    page = _visible(_html(written, "cy"))
    assert [w for w in ENGLISH_BODY if w in page] == []
    for welsh in ("Cyfanswm", "Fesul echdyniad", "Materion agored swp", "uwch sy'n well",
                  "materion agored", "Canolrif y diwrnodau i gywiro", "gwall"):
        assert welsh in page, welsh
    engine = make_engine(sample[1])
    with engine.connect() as conn:
        title, title_cy = conn.execute(sa.text(
            "SELECT title, title_cy FROM indicator WHERE code = 'REF01'")).one()
        rule_en, rule_cy = conn.execute(sa.text(
            "SELECT r.description, r.description_cy FROM dq_rule r JOIN dq_issue i "
            "ON i.rule_id = r.rule_id LIMIT 1")).one()
    engine.dispose()
    assert html_escape(title_cy) in page and html_escape(title) not in page
    assert html_escape(rule_cy) in page and html_escape(rule_en) not in page
    both = _visible(_html(written, "cy+en"))
    assert html_escape(title_cy) in both and html_escape(title) in both
    assert both.index("Materion agored swp") < both.index("Open issues of batch")


def html_escape(text: str) -> str:
    import html

    return html.escape(text)


def test_the_english_page_is_english(written):
    page = _html(written, "en")
    assert "Headline indicators" in page and "Prif ddangosyddion" not in page
    assert 'lang="cy"' not in page


@pytest.mark.parametrize("code,sheets,header", [
    ("en", ["Summary", "No team", "Resolved"], "Record id"),
    ("cy", ["Crynodeb", "Dim tîm", "Wedi'u datrys"], "Dynodydd y cofnod"),
    ("cy+en", ["Crynodeb - Summary", "Dim tîm - No team", "Wedi'u datrys - Resolved"],
     "Dynodydd y cofnod / Record id"),
])
def test_the_worklists_sheets_and_headers_are_in_the_language(written, code, sheets, header):
    wb = openpyxl.load_workbook(written[code][1])
    assert wb.sheetnames[0] == sheets[0]
    assert set(sheets) <= set(wb.sheetnames)
    team_sheet = next(ws for ws in wb.worksheets if ws.title not in sheets)
    assert team_sheet.cell(row=2, column=1).value == header
    # every internal link still lands on a sheet of the book
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.hyperlink is not None and cell.hyperlink.location:
                    target = cell.hyperlink.location.rsplit("!", 1)[0].strip("'")
                    assert target.replace("''", "'") in wb.sheetnames


def test_the_cli_writes_the_language_asked_and_speaks_english(sample, tmp_path, capsys):
    _root, db = sample
    assert main(["report", "--db", db, "--language", "cy", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "wrote" in out and "open issue(s)" in out  # the operator's messages stay English
    page = next(tmp_path.glob("qa_report_*.html")).read_text(encoding="utf-8")
    assert '<html lang="cy">' in page


def test_the_setting_gives_the_language_and_the_option_overrides_it(sample, tmp_path,
                                                                     monkeypatch):
    _root, db = sample
    monkeypatch.setenv("QA_PIPELINE_LANGUAGE", "cy+en")
    assert main(["report", "--db", db, "--out", str(tmp_path / "a")]) == 0
    assert "<html lang=\"cy\">" in next((tmp_path / "a").glob("*.html")).read_text("utf-8")
    assert main(["report", "--db", db, "--language", "en", "--out", str(tmp_path / "b")]) == 0
    assert "<html lang=\"en\">" in next((tmp_path / "b").glob("*.html")).read_text("utf-8")


def test_a_language_not_offered_is_a_usage_error(sample, tmp_path, capsys, monkeypatch):
    _root, db = sample
    with pytest.raises(SystemExit) as exit_:
        main(["report", "--db", db, "--language", "fr", "--out", str(tmp_path)])
    assert exit_.value.code == 2
    assert "language must be one of en, cy, cy+en" in capsys.readouterr().err
    monkeypatch.setenv("QA_PIPELINE_LANGUAGE", "klingon")
    assert main(["report", "--db", db, "--out", str(tmp_path)]) != 0
    assert "language must be one of en, cy, cy+en" in capsys.readouterr().err
    assert not list(tmp_path.glob("*.html"))


@pytest.mark.parametrize("code", ["cy", "cy+en"])
def test_screenshot_of_the_welsh_and_the_bilingual_page(written, code, tmp_path):
    from tests.integration.screenshots import blank_elements, require_chromium, shoot

    chromium = require_chromium()
    keep = os.environ.get("QA_SCREENSHOT_DIR")
    out = Path(keep) / code if keep else tmp_path
    out.mkdir(parents=True, exist_ok=True)
    # the bilingual page is the taller: each paragraph is there twice
    shot = shoot(written[code][0], 800, out, chromium=chromium, max_height=28_000)
    assert not shot.truncated
    assert shot.page_width <= 800, "the page scrolls sideways"
    sections = shot.select("section")
    assert len(sections) == 10
    assert not blank_elements(shot.image(), sections, 0.02)
