"""What a browser would fetch to show a page the project writes, read with an HTML parser.

`fetched(page)` lists every resource reference of an HTML file: `src` of scripts, images,
frames and media, `href` of `<link>` (styles, icons), and the `url(...)` and `@import` of its
inline styles and style attributes; `css_fetched(file)` those of a stylesheet. Links a reader
may follow (`<a href>`) are not fetched and not listed. `problems(page)` says which of them
are on another host (the page would not open offline) or do not resolve to a file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

_FETCHING = {"script": "src", "img": "src", "iframe": "src", "embed": "src", "source": "src",
             "audio": "src", "video": "src", "track": "src", "input": "src", "link": "href"}
_CSS_URL = re.compile(r"""url\(\s*(['"]?)(.*?)\1\s*\)|@import\s+(['"])(.*?)\3""", re.I | re.S)


def _css_refs(css: str) -> list[str]:
    return [m.group(2) or m.group(4) for m in _CSS_URL.finditer(css)]


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.refs: list[str] = []
        self.links: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if (name := _FETCHING.get(tag)) and values.get(name):
            self.refs.append(values[name])
        if tag == "a" and values.get("href"):
            self.links.append(values["href"])
        if "srcset" in values:
            self.refs.extend(part.split()[0] for part in values["srcset"].split(",") if part)
        if "style" in values:
            self.refs.extend(_css_refs(values["style"]))
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.refs.extend(_css_refs(data))


def _parse(page: Path) -> _Refs:
    parser = _Refs()
    parser.feed(page.read_text(encoding="utf-8"))
    parser.close()
    return parser


def fetched(page: Path) -> list[str]:
    return _parse(page).refs


def dead_links(page: Path) -> list[str]:
    """The page's links to local files that do not exist (remote links are not checked)."""
    local = [h for h in _parse(page).links if not is_remote(h)]
    return [p.removeprefix("missing: ") for p in _problems(page.parent, local)]


def css_fetched(css: Path) -> list[str]:
    text = re.sub(r"/\*.*?\*/", "", css.read_text(encoding="utf-8"), flags=re.S)
    return _css_refs(text)


def is_remote(ref: str) -> bool:
    parts = urlsplit(ref.strip())
    return bool(parts.netloc) or parts.scheme not in ("", "data", "file")


def _problems(base: Path, refs: Iterable[str]) -> list[str]:
    out = []
    for ref in refs:
        ref = ref.strip()
        if is_remote(ref):
            out.append(f"remote: {ref}")
            continue
        parts = urlsplit(ref)
        if parts.scheme == "data" or not parts.path:  # inline data, "#anchor"
            continue
        if not (base / unquote(parts.path)).is_file():
            out.append(f"missing: {ref}")
    return out


def problems(page: Path) -> list[str]:
    """Remote or unresolved resources of an HTML page."""
    return _problems(page.parent, fetched(page))


def css_problems(css: Path) -> list[str]:
    """Remote or unresolved resources (fonts, images, imports) of a stylesheet."""
    return _problems(css.parent, css_fetched(css))
