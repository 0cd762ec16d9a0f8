"""Data Docs that open with no network.

Great Expectations' pages load Bootstrap, jQuery, bootstrap-table (which draws the index's
list of validations from data in the page), Font Awesome (the pass/fail icons) and its logo
from content delivery networks: offline, the list is blank and the icons missing. And every
build copies GX's 4.7 MB `static/` folder into the batch's folder, of which the pages use
two small images.

So the site's assets are **vendored once per site**: `ensure_static` copies them into
`data_docs/_static/` (beside the batch folders) from the Python packages that ship them,
and writes a file again only when its content changed (a package upgrade); `make_offline`
then points each page of a batch at those copies with relative URLs. `OfflineSiteBuilder`
(in `data_docs_site`) is GX's site builder without the per-batch copy of `static/`.

Where the files come from (docs/decisions.md, "Data Docs offline"):

* jQuery (`XStatic-jQuery`), Bootstrap 4 (`XStatic-Bootstrap`), Font Awesome 6
  (`fontawesomefree`): PyPI packages, runtime dependencies;
* Popper 1.12.9, bootstrap-table 1.19.1 with its filter-control extension,
  bootstrap-datepicker 1.9.0 and bootstrap-dark 1.1.0, which no PyPI package ships: the
  exact files GX names, from their npm packages, kept in this package
  (`data_docs_assets/`, with their licences and `SOURCES.md`);
* GX's favicon and logo: from the `great_expectations` package itself.

Vega (three script tags) draws the charts of profiling and of distribution expectations;
this site builds neither, so the tags are removed from pages that draw no chart. A page
that does keeps them and is logged (vendor Vega then).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from qa_pipeline.ops.files import write_bytes_atomic, write_text_atomic

log = logging.getLogger(__name__)

STATIC_DIR = "_static"
"""The site's shared assets, beside the batch folders: `data_docs/_static/`."""

VENDORED = "qa_pipeline.officers"
VENDORED_DIR = "data_docs_assets"


@dataclass(frozen=True)
class Asset:
    """One file a page loads: the Python package that ships it, its path in the package,
    and its path under the site's `_static/`."""

    package: str
    source: str
    target: str


def _vendored(source: str, target: str) -> Asset:
    return Asset(VENDORED, f"{VENDORED_DIR}/{source}", target)


FA_WEBFONTS = ("fa-brands-400", "fa-regular-400", "fa-solid-900", "fa-v4compatibility")

ASSETS: tuple[Asset, ...] = (
    Asset("xstatic.pkg.jquery", "data/jquery.min.js", "jquery/jquery.min.js"),
    Asset("xstatic.pkg.bootstrap", "data/css/bootstrap.min.css",
          "bootstrap/css/bootstrap.min.css"),
    Asset("xstatic.pkg.bootstrap", "data/js/bootstrap.min.js", "bootstrap/js/bootstrap.min.js"),
    Asset("fontawesomefree", "static/fontawesomefree/css/all.min.css",
          "fontawesome/css/all.min.css"),  # its url(../webfonts/...) need the layout kept
    *(Asset("fontawesomefree", f"static/fontawesomefree/webfonts/{name}.{ext}",
            f"fontawesome/webfonts/{name}.{ext}")
      for name in FA_WEBFONTS for ext in ("woff2", "ttf")),
    _vendored("popper.js-1.12.9/popper.min.js", "popper/popper.min.js"),
    _vendored("bootstrap-table-1.19.1/bootstrap-table.min.css",
              "bootstrap-table/bootstrap-table.min.css"),
    _vendored("bootstrap-table-1.19.1/bootstrap-table.min.js",
              "bootstrap-table/bootstrap-table.min.js"),
    *(_vendored(f"bootstrap-table-1.19.1/extensions/filter-control/{name}",
                f"bootstrap-table/extensions/filter-control/{name}")
      for name in ("bootstrap-table-filter-control.min.js",
                   "bootstrap-table-filter-control.min.css",
                   "bootstrap-table-filter-control.css")),
    _vendored("bootstrap-datepicker-1.9.0/css/bootstrap-datepicker.min.css",
              "bootstrap-datepicker/css/bootstrap-datepicker.min.css"),
    _vendored("bootstrap-datepicker-1.9.0/js/bootstrap-datepicker.min.js",
              "bootstrap-datepicker/js/bootstrap-datepicker.min.js"),
    _vendored("bootstrap-dark-1.1.0/bootstrap-prefers-dark.min.css",
              "bootstrap-dark/bootstrap-prefers-dark.min.css"),
    Asset("great_expectations", "render/view/static/images/favicon.ico",
          "gx/images/favicon.ico"),
    Asset("great_expectations", "render/view/static/images/logo-long.png",
          "gx/images/logo-long.png"),
)

_UNPKG_TABLE = "https://unpkg.com/bootstrap-table@"
_CDNJS = "https://cdnjs.cloudflare.com/ajax/libs/"
_GX_ASSETS = "https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/"

URLS: dict[str, str] = {
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery/jquery.min.js",
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css":
        "bootstrap/css/bootstrap.min.css",
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js":
        "bootstrap/js/bootstrap.min.js",
    f"{_CDNJS}popper.js/1.12.9/umd/popper.min.js": "popper/popper.min.js",
    f"{_CDNJS}font-awesome/6.6.0/css/all.min.css": "fontawesome/css/all.min.css",
    f"{_CDNJS}bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css":
        "bootstrap-datepicker/css/bootstrap-datepicker.min.css",
    f"{_CDNJS}bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js":
        "bootstrap-datepicker/js/bootstrap-datepicker.min.js",
    f"{_UNPKG_TABLE}1.19.1/dist/bootstrap-table.min.css":
        "bootstrap-table/bootstrap-table.min.css",
    f"{_UNPKG_TABLE}1.19.1/dist/bootstrap-table.min.js": "bootstrap-table/bootstrap-table.min.js",
    # GX names 1.19.0 for the extension's CSS, 1.19.1 for its script; the CSS of the two
    # releases differs only in the version comment.
    **{f"{_UNPKG_TABLE}{v}/dist/extensions/filter-control/{name}":
       f"bootstrap-table/extensions/filter-control/{name}"
       for v in ("1.19.0", "1.19.1")
       for name in ("bootstrap-table-filter-control.min.js",
                    "bootstrap-table-filter-control.min.css",
                    "bootstrap-table-filter-control.css")},
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/"
    "bootstrap-prefers-dark.css": "bootstrap-dark/bootstrap-prefers-dark.min.css",
    f"{_GX_ASSETS}full_logo_dark.png": "gx/images/logo-long.png",
}
"""Each remote URL GX 1.x writes into its pages, and the local copy that replaces it."""

_GX_LOGO = re.compile(re.escape(f"{_GX_ASSETS}logo-long.png") + r"(\?[^\"'\s)]*)?")
_GX_STATIC = re.compile(r"(?<=[\"'(])(?:\./|(?:\.\./)+)static/images/")
_VEGA = re.compile(r'[ \t]*<script src="https://cdn\.jsdelivr\.net/npm/vega(?:-lite|-embed)?'
                   r'@\d+"></script>\n?')
# Subresource integrity fails on file:// (no CORS) and the local Bootstrap is another build.
_INTEGRITY = re.compile(r'\s+(?:integrity|crossorigin)="[^"]*"')
# The suites' own pages are not built (expectations section off): a link to one is dead.
_SUITE_LINK = re.compile(r'\s+href="((?:\.\./)*expectations/[^"]+\.html)"')
_REMOTE = re.compile(
    r"<(?:script|link|img|iframe|source|embed)\b[^>]*?\s(?:src|href)\s*=\s*[\"']?"
    r"((?:https?:)?//[^\"'\s>]+)|url\(\s*[\"']?((?:https?:)?//[^\"')\s]+)|"
    r"@import\s+[\"']((?:https?:)?//[^\"']+)", re.IGNORECASE)


def _package_dir(package: str) -> Path:
    """Where an installed package's files are, found without importing it (GX takes seconds
    to import)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"package {package} is not installed: the Data Docs need "
                                "its files (pip install the project's dependencies)")
    return Path(next(iter(spec.submodule_search_locations)))


def ensure_static(static_dir: Path) -> list[Path]:
    """Copy the assets into `static_dir`, writing only those missing or changed (the first
    batch writes them, later batches only compare); return the files written."""
    written = []
    for asset in ASSETS:
        data = (_package_dir(asset.package) / asset.source).read_bytes()
        target = Path(static_dir) / asset.target
        try:
            same = target.read_bytes() == data
        except OSError:
            same = False
        if not same:
            write_bytes_atomic(target, data)
            written.append(target)
    return written


def remote_references(html: str) -> list[str]:
    """The URLs of other hosts a browser would fetch to show this page (scripts, styles,
    images, fonts), not the links a reader may follow."""
    return [next(g for g in m.groups() if g) for m in _REMOTE.finditer(html)]


def offline_page(html: str, page_dir: Path, static_dir: Path) -> str:
    """The page with every asset URL pointing at the site's local copies, relative to the
    page's folder (so the site can be moved or opened from a shared drive)."""
    def local(target: str) -> str:
        return Path(os.path.relpath(Path(static_dir) / target, page_dir)).as_posix()

    for url, target in URLS.items():
        html = html.replace(url, local(target))
    html = _GX_LOGO.sub(local("gx/images/logo-long.png"), html)
    html = _GX_STATIC.sub(local("gx/images") + "/", html)
    html = _INTEGRITY.sub("", html)
    if "vegaEmbed(" not in html:
        html = _VEGA.sub("", html)
    return _SUITE_LINK.sub(
        lambda m: m.group(0) if (page_dir / m.group(1)).exists() else "", html)


def html_pages(docs_dir: Path) -> Iterator[Path]:
    return (p for p in sorted(Path(docs_dir).rglob("*.html")) if p.is_file())


def make_offline(docs_dir: Path, static_dir: Path | None = None) -> Path:
    """Vendor the assets once into the site's `_static/` (default: beside `docs_dir`) and
    rewrite the pages of `docs_dir` to use them; return the static folder."""
    docs_dir = Path(docs_dir)
    static_dir = Path(static_dir) if static_dir is not None else docs_dir.parent / STATIC_DIR
    ensure_static(static_dir)
    for page in html_pages(docs_dir):
        text = offline_page(page.read_text(encoding="utf-8"), page.parent, static_dir)
        write_text_atomic(page, text)
        if remote := remote_references(text):
            log.warning("Data Docs page %s still loads from the internet: %s (add the "
                        "assets to qa_pipeline.officers.data_docs.ASSETS)", page,
                        ", ".join(sorted(set(remote))))
    return static_dir
