"""Screenshots of the HTML report at 800 and 1400 px, in headless Chromium with no network.

The report of three generated batches (with defects) is built once for the module and shot
once per width (tests/integration/screenshots.py: the layout is measured in the page, then the
whole page is taken as one PNG whose pixels line up with the measured boxes). The checks: the
page does not scroll sideways; every table and chart lies inside its section (a table may
scroll inside its `.table-wrap`, which must then lie inside the section); each section and
each chart has drawn something.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PIL import Image

from qa_pipeline.officers.report import SECTIONS, SEVERITY_COLOURS
from qa_pipeline.officers.spc_report import LIMIT_COLOUR, LINE_COLOUR, MDC_COLOURS
from tests.integration.sample_report import build_sample_report
from tests.integration.screenshots import (
    Box,
    Element,
    Shot,
    blank_elements,
    colours_present,
    crop,
    hex_rgb,
    outside,
    require_chromium,
    shoot,
)
from tests.offline_pages import problems

WIDTHS = [800, 1400]
SECTION_INK = 0.02
"""The least share of a section's pixels that are not white (text, table rules, charts)."""
CHART_INK = 0.02
"""The least share of a chart's pixels that are not white (bars, lines, axes, labels)."""
ICON_INK = 0.1
"""The least share of a Making Data Count icon's pixels that are not white."""
KEEP_DIR = "QA_SCREENSHOT_DIR"
"""Set it to a folder to keep the screenshots there (to look at them) instead of tmp."""


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_chromium()  # skip before building anything
    return build_sample_report(tmp_path_factory.mktemp("report"))[0]


@pytest.fixture(scope="module", params=WIDTHS, ids=lambda w: f"{w}px")
def shot(request: pytest.FixtureRequest, report: Path,
         tmp_path_factory: pytest.TempPathFactory) -> Shot:
    width: int = request.param
    keep = os.environ.get(KEEP_DIR)
    out = Path(keep) if keep else tmp_path_factory.mktemp(f"shots-{width}")
    before = report.read_bytes()
    result = shoot(report, width, out, chromium=require_chromium())
    assert report.read_bytes() == before  # the script went into the copy only
    return result


def test_screenshot_written_at_the_width(shot: Shot, request: pytest.FixtureRequest) -> None:
    assert shot.png.is_file() and shot.png.suffix == ".png"
    assert shot.width == request.node.callspec.params["shot"]
    assert shot.height == min(shot.page_height, 16_000) and not shot.truncated
    assert problems(shot.html) == []  # nothing remote to ask for, every local file there


def test_page_does_not_scroll_sideways(shot: Shot) -> None:
    assert shot.page_width <= shot.width, (
        f"the page is {shot.page_width} px wide in a {shot.width} px window; too wide: "
        + "; ".join(el.describe() for el in shot.layout
                    if el.box.right > shot.width + 0.5 and not el.in_table_wrap)[:3000])


def test_tables_and_charts_lie_inside_their_section(shot: Shot) -> None:
    sections = {el.id: el for el in shot.select("section")}
    assert [sid for sid, _ in SECTIONS] == [s for s in sections if s in dict(SECTIONS)]
    window = Box(0, 0, shot.width, shot.height)
    assert not outside(sections.values(), window), "a section is wider than the window"
    bad: list[str] = []
    for sid, sec in sections.items():
        inner = [el for el in shot.layout if el.section == sid and el.selector != "section"]
        # a table or chart in a .table-wrap may scroll inside it: the wrap is what must fit
        free = [el for el in inner if not el.in_table_wrap]
        bad += [el.describe() for el in outside(free, sec.box)]
        for wrap in (el for el in inner if el.selector == ".table-wrap"):
            if wrap.scroll_width > wrap.client_width and not wrap.scrolls_horizontally:
                bad.append(f"{wrap.describe()} overflows without scrolling")
    orphans = [el for el in shot.layout if el.section is None and el.selector in (
        "table", "svg", "figure.spc") and not el.box.empty]
    bad += [f"{el.describe()} is in no section" for el in orphans]
    assert not bad, "\n".join(bad)


def test_each_section_drew(shot: Shot) -> None:
    sections = shot.select("section")
    assert sections
    faint = blank_elements(shot.image(), sections, SECTION_INK)
    assert not faint, f"sections left blank: {faint}"


def _charts(shot: Shot) -> list[Element]:
    """The matplotlib charts: svgs with an aria-label (icons are small, charts are not)."""
    return [el for el in shot.select("svg")
            if el.aria_label and el.box.width >= 200 and el.box.height >= 100]


def test_each_chart_drew(shot: Shot) -> None:
    img = shot.image()
    charts = _charts(shot)
    issues = [el for el in charts if (el.aria_label or "").startswith("Bar chart of open issues")]
    assert len(issues) == 1, [el.aria_label for el in charts]
    assert len(charts) >= 1 + 6, [el.aria_label for el in charts]  # + one per indicator area
    faint = blank_elements(img, charts, CHART_INK)
    assert not faint, f"charts that drew nothing: {faint}"
    # the bars are drawn in the severity colours
    palette = {sev: hex_rgb(c) for sev, c in SEVERITY_COLOURS.items()}
    assert colours_present(crop(img, issues[0]), palette, min_pixels=50, tolerance=16)


def test_each_icon_drew(shot: Shot) -> None:
    """The variation and assurance icons (`.mdc-icon`), where the report has them."""
    icons = [el for el in shot.select(".mdc-icon") if not el.box.empty]
    if not icons:
        pytest.skip("no Making Data Count icons in this report")
    faint = blank_elements(shot.image(), icons, ICON_INK)
    assert not faint, f"icons that drew nothing: {faint}"


def _mean_line_rows(img: Image.Image, rgb: tuple[int, int, int], share: float = 0.5,
                    tolerance: int = 40) -> int:
    """Rows of the crop where one colour runs across at least `share` of its width (a
    horizontal line such as the mean)."""
    px = img.convert("RGB").load()
    width, height = img.size
    rows = 0
    for y in range(height):
        hits = sum(1 for x in range(width)
                   if all(abs(c - t) <= tolerance for c, t in zip(px[x, y], rgb, strict=True)))
        rows += hits >= share * width
    return rows


def test_each_spc_chart_drew_its_series_mean_and_signals(shot: Shot) -> None:
    """Issue 16: every indicator's SPC chart drew its line, its mean (where it has limits)
    and the colour of every signal among the points it shows (Making Data Count's blue for
    improvement, orange for concern). Common cause's grey is not looked for: the grey of the
    mean and limit lines would be found in its place."""
    img = shot.image()
    figures = [el for el in shot.select("figure.spc") if not el.box.empty]
    assert len(figures) >= 20
    charts = _charts(shot)
    checked_limits = 0
    for fig in figures:
        (chart,) = [c for c in charts if fig.box.x <= c.box.x and c.box.right <= fig.box.right
                    and fig.box.y <= c.box.y and c.box.bottom <= fig.box.bottom]
        area = crop(img, chart)
        shown = fig.data.get("shown", "").split()
        assert shown, fig.describe()
        palette = {sig: hex_rgb(MDC_COLOURS[sig]) for sig in shown if sig != "common_cause"}
        palette["line"] = hex_rgb(LINE_COLOUR)
        found = colours_present(area, palette, min_pixels=8, tolerance=24)
        assert set(palette) <= found, (fig.describe(), found)
        if fig.data.get("limits") == "yes":
            assert _mean_line_rows(area, hex_rgb(LIMIT_COLOUR)) >= 1, fig.describe()
            checked_limits += 1
    assert checked_limits >= 10
    assert any("improvement" in f.data.get("shown", "") or "concern" in f.data.get("shown", "")
               for f in figures)  # special causes were drawn, not only grey points


def test_each_icon_shows_its_making_data_count_colour(shot: Shot) -> None:
    img = shot.image()
    icons = [el for el in shot.select(".mdc-icon") if not el.box.empty]
    assert len(icons) >= 20  # one per indicator in the headline table, at least
    for el in icons:
        kind = next(c.split("-", 2)[2] for c in el.classes
                    if c.startswith(("mdc-variation-", "mdc-assurance-")))
        rgb = hex_rgb(MDC_COLOURS[kind])
        assert colours_present(crop(img, el), {kind: rgb}, min_pixels=15, tolerance=24), \
            el.describe()
