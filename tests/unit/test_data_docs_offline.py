"""Data Docs offline without running Great Expectations: every asset the pages name is shipped
by an installed package, copied once, and the page's CDN URLs become relative local paths.
(The real pages, and Chromium with the network off: test_expectations_checkpoint.py.)"""

from __future__ import annotations

import os
from pathlib import Path

from qa_pipeline.officers.data_docs import (
    ASSETS,
    STATIC_DIR,
    URLS,
    ensure_static,
    make_offline,
    offline_page,
    remote_references,
)
from tests.offline_pages import css_problems, problems

CDNJS = "https://cdnjs.cloudflare.com/ajax/libs"
GX_WEB = "https://great-expectations-web-assets.s3.us-east-2.amazonaws.com"
HEAD = f"""<!DOCTYPE html><html><head>
<link rel="stylesheet"
  href="https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css"/>
<link rel="stylesheet" href="{CDNJS}/font-awesome/6.6.0/css/all.min.css">
<style>.x {{ background: url('{GX_WEB}/full_logo_dark.png') }}</style>
<script src="https://cdn.jsdelivr.net/npm/vega@5"></script>
<script src="https://cdn.jsdelivr.net/npm/vega-lite@5"></script>
<script src="https://cdn.jsdelivr.net/npm/vega-embed@6"></script>
<script src="https://code.jquery.com/jquery-3.7.1.min.js"></script>
<script src="{CDNJS}/popper.js/1.12.9/umd/popper.min.js" integrity="sha384-x"
  crossorigin="anonymous"></script>
<script src="https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js"></script>
<link rel="shortcut icon" href="../../../static/images/favicon.ico" type="image/x-icon"/>
</head><body>
<img src="{GX_WEB}/logo-long.png?d=20261202T1">
<a href="../../../../expectations/stg_teams_2026-11-25.html">suite</a>
<a href="https://greatexpectations.io">GX</a>
</body></html>
"""


def test_every_url_has_a_shipped_asset() -> None:
    targets = {a.target for a in ASSETS}
    assert set(URLS.values()) <= targets
    assert len(targets) == len(ASSETS)


def test_assets_copied_once_and_again_only_when_changed(tmp_path: Path) -> None:
    static = tmp_path / STATIC_DIR
    first = ensure_static(static)
    assert len(first) == len(ASSETS)
    stamps = {p: p.stat().st_mtime_ns for p in first}
    assert ensure_static(static) == []
    assert {p: p.stat().st_mtime_ns for p in first} == stamps
    jquery = static / "jquery" / "jquery.min.js"
    jquery.write_bytes(b"truncated")  # a half-copied or outdated file is written again
    assert ensure_static(static) == [jquery]
    assert jquery.stat().st_size > 50_000
    for css in static.rglob("*.css"):
        assert not css_problems(css), css


def test_page_points_at_local_copies(tmp_path: Path) -> None:
    site = tmp_path / "data_docs"
    page = site / "2026-11-25" / "validations" / "t" / "__none__" / "run" / "page.html"
    page.parent.mkdir(parents=True)
    page.write_text(HEAD, encoding="utf-8")
    assert len(remote_references(HEAD)) == 10
    assert make_offline(site / "2026-11-25") == site / STATIC_DIR
    text = page.read_text(encoding="utf-8")
    assert remote_references(text) == []
    assert not problems(page), problems(page)
    up = "../" * 5
    assert f'src="{up}{STATIC_DIR}/jquery/jquery.min.js"' in text
    assert f'href="{up}{STATIC_DIR}/gx/images/favicon.ico"' in text
    assert "vega" not in text and "integrity" not in text and "crossorigin" not in text
    assert "expectations/stg_teams" not in text  # the suite's page is not built
    assert 'href="https://greatexpectations.io"' in text  # a link, not a fetch: kept


def test_page_with_a_chart_keeps_vega() -> None:
    html = HEAD.replace("</body>", "<script>vegaEmbed('#c', spec)</script></body>")
    out = offline_page(html, Path("/site/day"), Path("/site/_static"))
    assert "https://cdn.jsdelivr.net/npm/vega@5" in out
    assert remote_references(out) == [f"https://cdn.jsdelivr.net/npm/{n}"
                                      for n in ("vega@5", "vega-lite@5", "vega-embed@6")]
    assert os.path.relpath("/site/_static/jquery/jquery.min.js", "/site/day") in out
