"""A screenshot harness for the HTML report: headless Chromium, network off, Pillow.

`shoot(html, width, out_dir)` copies the page into out_dir, adds (to the copy only) a small
script that measures the layout once the page has loaded — the page's scroll width and height
and the box, in page coordinates, of every element that matches a list of CSS selectors — and
writes it as JSON into a hidden `<pre id="__layout">`. One `chromium --dump-dom` run reads
that JSON back; a second, `chromium --screenshot` with the window as tall as the page, takes
the whole page as one PNG whose pixels line up with the measured boxes. Each run has a fresh
profile, device scale factor 1, no scrollbars and no network (names resolve to nothing, the
proxy is a closed port).

The pixel helpers (`crop`, `count_colour`, `non_background_fraction`, `colours_present`) work
on Pillow images (Pillow comes with matplotlib), so no new dependency is needed.
"""

from __future__ import annotations

import html as html_lib
import json
import os
import re
import shutil
import struct
import subprocess
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageChops

RGB = tuple[int, int, int]

DEFAULT_SELECTORS: tuple[str, ...] = (
    "section", "table", ".table-wrap", "figure.spc", ".mdc-icon", "svg")
MAX_HEIGHT = 16_000
"""The tallest screenshot taken (px); a taller page is cut there and `Shot.truncated` set."""
MEASURE_HEIGHT = 1_000
"""The window height of the measuring run (the report uses no viewport-height units)."""
TIMEOUT = 300
"""Seconds one Chromium run may take: generous, the test machine is shared and loaded."""
VIRTUAL_TIME_BUDGET_MS = 10_000
LAYOUT_ID = "__layout"

NETWORK_OFF_FLAGS: tuple[str, ...] = (
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
    "--disable-extensions", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--disable-default-apps", "--disable-domain-reliability",
    "--metrics-recording-only", "--no-pings", "--mute-audio",
    "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9",
    "--proxy-bypass-list=<-loopback>",
    "--force-device-scale-factor=1", "--hide-scrollbars", "--force-color-profile=srgb",
    "--font-render-hinting=none",
)

# Runs after load (and once the fonts are ready); kept in ES5-ish syntax, no modules.
_MEASURE_JS = """
(function () {
  var SELECTORS = %(selectors)s;
  function attrs(el) {
    var data = {};
    for (var i = 0; i < el.attributes.length; i++) {
      var a = el.attributes[i];
      if (a.name.indexOf("data-") === 0) { data[a.name.slice(5)] = a.value; }
    }
    return data;
  }
  function measure() {
    var doc = document.documentElement, out = [];
    SELECTORS.forEach(function (sel) {
      document.querySelectorAll(sel).forEach(function (el) {
        var r = el.getBoundingClientRect(), sec = el.closest("section"),
            wrap = el.parentElement ? el.parentElement.closest(".table-wrap") : null;
        out.push({
          selector: sel, tag: el.tagName.toLowerCase(), id: el.id || "",
          classes: (el.getAttribute("class") || "").split(/\\s+/).filter(Boolean),
          aria_label: el.getAttribute("aria-label"), data: attrs(el),
          x: r.left + window.scrollX, y: r.top + window.scrollY,
          width: r.width, height: r.height,
          section: sec ? sec.id : null, in_table_wrap: wrap !== null,
          scroll_width: el.scrollWidth, client_width: el.clientWidth,
          overflow_x: getComputedStyle(el).overflowX
        });
      });
    });
    var pre = document.createElement("pre");
    pre.id = "%(layout_id)s";
    pre.hidden = true;
    pre.textContent = JSON.stringify({
      scroll_width: doc.scrollWidth, scroll_height: doc.scrollHeight,
      body_height: document.body.scrollHeight, inner_width: window.innerWidth,
      device_pixel_ratio: window.devicePixelRatio, elements: out
    });
    document.body.appendChild(pre);
  }
  window.addEventListener("load", function () {
    (document.fonts ? document.fonts.ready : Promise.resolve()).then(measure);
  });
})();
"""


@dataclass(frozen=True)
class Box:
    """A rectangle in page coordinates (CSS px, which are device px at scale factor 1)."""

    x: float
    y: float
    width: float
    height: float

    @property
    def right(self) -> float:
        return self.x + self.width

    @property
    def bottom(self) -> float:
        return self.y + self.height

    @property
    def empty(self) -> bool:
        """Not rendered (display:none, or inside a closed <details>)."""
        return self.width <= 0 or self.height <= 0

    def inside_horizontally(self, other: Box, slack: float = 0.5) -> bool:
        return self.x >= other.x - slack and self.right <= other.right + slack


@dataclass(frozen=True)
class Element:
    """One measured element: which selector matched it, its attributes and its box."""

    selector: str
    tag: str
    id: str
    classes: tuple[str, ...]
    aria_label: str | None
    data: Mapping[str, str]
    box: Box
    section: str | None
    """The id of the closest enclosing <section> (itself for a section), or None."""
    in_table_wrap: bool
    """Whether an ancestor (not the element itself) is a `.table-wrap`."""
    scroll_width: int
    client_width: int
    overflow_x: str

    @property
    def scrolls_horizontally(self) -> bool:
        return self.overflow_x in ("auto", "scroll") and self.scroll_width > self.client_width

    def describe(self) -> str:
        name = self.tag + (f"#{self.id}" if self.id else "") + "".join(
            f".{c}" for c in self.classes)
        label = f" [{self.aria_label}]" if self.aria_label else ""
        b = self.box
        return f"{name}{label} in {self.section} at x={b.x:.0f}..{b.right:.0f} y={b.y:.0f}"


@dataclass(frozen=True)
class Shot:
    """A whole-page screenshot and the layout measured in the same page at the same width."""

    png: Path
    html: Path
    """The measured copy of the page (with the layout script)."""
    width: int
    """The PNG's width: the window width asked for."""
    height: int
    """The PNG's height: the page height, or MAX_HEIGHT when the page is taller."""
    page_width: int
    """document.documentElement.scrollWidth: more than `width` means horizontal overflow."""
    page_height: int
    truncated: bool
    layout: list[Element] = field(default_factory=list, repr=False)
    stderr: str = field(default="", repr=False)

    def select(self, selector: str) -> list[Element]:
        """The elements the given selector (one of those measured) matched, in page order."""
        return [el for el in self.layout if el.selector == selector]

    def by_id(self, element_id: str) -> Element:
        for el in self.layout:
            if el.id == element_id:
                return el
        raise KeyError(element_id)

    def image(self) -> Image.Image:
        with Image.open(self.png) as img:
            return img.convert("RGB")


class ChromiumError(RuntimeError):
    pass


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def require_chromium() -> str:
    """Chromium's path; skip the test when it is missing (fail on CI, which installs it)."""
    found = chromium_path()
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (.ci/run installs it)")
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    return found


def run_chromium(args: Sequence[str], *, chromium: str | None = None,
                 timeout: float = TIMEOUT) -> subprocess.CompletedProcess[str]:
    """One headless run with the network off and a fresh profile (removed afterwards)."""
    exe = chromium or chromium_path()
    if exe is None:
        raise ChromiumError("chromium is not installed")
    with tempfile.TemporaryDirectory(prefix="chromium-profile-",
                                     ignore_cleanup_errors=True) as profile:
        return subprocess.run([exe, *NETWORK_OFF_FLAGS, f"--user-data-dir={profile}", *args],
                              capture_output=True, text=True, timeout=timeout, check=False)


def inject_measurement(text: str, selectors: Sequence[str]) -> str:
    """The page with the measuring script added just before </body>."""
    script = _MEASURE_JS % {"selectors": json.dumps(list(selectors)), "layout_id": LAYOUT_ID}
    tag = f"<script>{script}</script>"
    at = text.lower().rfind("</body>")
    return text + tag if at < 0 else text[:at] + tag + text[at:]


def read_layout(dom: str) -> dict[str, Any]:
    """The layout JSON the script wrote into a dumped DOM."""
    m = re.search(rf'<pre id="{LAYOUT_ID}"[^>]*>(.*?)</pre>', dom, flags=re.S)
    if m is None:
        raise ChromiumError("the layout script did not run (no #__layout in the DOM)")
    data: dict[str, Any] = json.loads(html_lib.unescape(m.group(1)))
    return data


def _element(raw: Mapping[str, Any]) -> Element:
    return Element(selector=raw["selector"], tag=raw["tag"], id=raw["id"],
                   classes=tuple(raw["classes"]), aria_label=raw["aria_label"],
                   data=dict(raw["data"]),
                   box=Box(float(raw["x"]), float(raw["y"]), float(raw["width"]),
                           float(raw["height"])),
                   section=raw["section"], in_table_wrap=bool(raw["in_table_wrap"]),
                   scroll_width=int(raw["scroll_width"]),
                   client_width=int(raw["client_width"]), overflow_x=str(raw["overflow_x"]))


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from a PNG's header."""
    head = path.read_bytes()[:24]
    if head[:8] != b"\x89PNG\r\n\x1a\n":
        raise ChromiumError(f"{path} is not a PNG")
    w, h = struct.unpack(">II", head[16:24])
    return int(w), int(h)


def shoot(html: Path, width: int, out_dir: Path, *,
          selectors: Sequence[str] = DEFAULT_SELECTORS, max_height: int = MAX_HEIGHT,
          chromium: str | None = None, timeout: float = TIMEOUT) -> Shot:
    """Measure and screenshot `html` at `width` px; files go to out_dir (the page is copied:
    the original is never changed)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{html.stem}_{width}"
    page = out_dir / f"{stem}.html"
    page.write_text(inject_measurement(html.read_text(encoding="utf-8"), selectors),
                    encoding="utf-8")
    url = page.resolve().as_uri()
    budget = f"--virtual-time-budget={VIRTUAL_TIME_BUDGET_MS}"

    dom = run_chromium([f"--window-size={width},{MEASURE_HEIGHT}", budget, "--dump-dom", url],
                       chromium=chromium, timeout=timeout)
    try:
        layout = read_layout(dom.stdout)
    except ChromiumError as exc:
        raise ChromiumError(f"{exc}; rc={dom.returncode}; stderr: {dom.stderr[-2000:]}"
                            ) from None
    page_height = int(max(layout["scroll_height"], layout["body_height"]))
    height = max(1, min(page_height, max_height))

    png = out_dir / f"{stem}.png"
    cap = run_chromium([f"--window-size={width},{height}", budget, f"--screenshot={png}", url],
                       chromium=chromium, timeout=timeout)
    if not png.exists():
        raise ChromiumError(f"no screenshot written; rc={cap.returncode}; "
                            f"stderr: {cap.stderr[-2000:]}")
    png_w, png_h = png_size(png)
    return Shot(png=png, html=page, width=png_w, height=png_h,
                page_width=int(layout["scroll_width"]), page_height=page_height,
                truncated=page_height > max_height,
                layout=[_element(r) for r in layout["elements"]],
                stderr=dom.stderr + cap.stderr)


# --- pixels ------------------------------------------------------------------------------


def crop(shot: Shot | Image.Image, box: Box | Element) -> Image.Image:
    """The part of the screenshot under the box (clipped to the image), as an RGB image."""
    img = shot.image() if isinstance(shot, Shot) else shot.convert("RGB")
    b = box.box if isinstance(box, Element) else box
    left, top = max(0, round(b.x)), max(0, round(b.y))
    right, bottom = min(img.width, round(b.right)), min(img.height, round(b.bottom))
    if right <= left or bottom <= top:
        return Image.new("RGB", (0, 0))
    return img.crop((left, top, right, bottom))


def _mask(img: Image.Image, rgb: RGB, tolerance: int) -> Image.Image:
    """An "L" mask: 255 where every channel is within `tolerance` of rgb."""
    bands = img.convert("RGB").split()
    masks = [band.point(lambda v, c=c: 255 if abs(v - c) <= tolerance else 0)
             for band, c in zip(bands, rgb, strict=True)]
    return ImageChops.multiply(ImageChops.multiply(masks[0], masks[1]), masks[2])


def count_colour(img: Image.Image, rgb: RGB, tolerance: int = 0) -> int:
    """How many pixels are within `tolerance` of rgb on each channel."""
    if img.width == 0 or img.height == 0:
        return 0
    return _mask(img, rgb, tolerance).histogram()[255]


def non_background_fraction(img: Image.Image, background: RGB = (255, 255, 255),
                            tol: int = 8) -> float:
    """The share of pixels that are not the background colour (0 for an empty image)."""
    total = img.width * img.height
    if total == 0:
        return 0.0
    return 1 - count_colour(img, background, tol) / total


def colours_present(img: Image.Image, palette: Mapping[str, RGB], min_pixels: int = 20,
                    tolerance: int = 24) -> set[str]:
    """The names of the palette's colours that cover at least min_pixels of the image."""
    return {name for name, rgb in palette.items()
            if count_colour(img, rgb, tolerance) >= min_pixels}


def blank_elements(img: Image.Image, elements: Iterable[Element], least: float,
                   background: RGB = (255, 255, 255), tol: int = 8) -> dict[str, float]:
    """The elements (described) whose crop has less than `least` of non-background pixels,
    with that share: those that drew nothing, or too little."""
    faint = {}
    for el in elements:
        ink = non_background_fraction(crop(img, el), background, tol)
        if ink < least:
            faint[el.describe()] = round(ink, 4)
    return faint


def hex_rgb(colour: str) -> RGB:
    """'#1d4ed8' -> (29, 78, 216)."""
    c = colour.lstrip("#")
    return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)


def outside(elements: Iterable[Element], container: Box) -> list[Element]:
    """The rendered elements whose box is not inside the container horizontally."""
    return [el for el in elements if not el.box.empty and not el.box.inside_horizontally(
        container)]
