"""The web page's files (service/api/static/), read as text: no browser needed.

What a strict ``Content-Security-Policy: default-src 'self'`` and hostile report text demand of them:
no inline script, style or event handler, nothing loaded from another origin, and no script that
turns a string into markup.
"""

from __future__ import annotations

import re
import tomllib
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path

import pytest

STATIC = Path(str(resources.files("service.api") / "static"))
ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted(STATIC.glob("*.js"))


class Tags(HTMLParser):
    """Every start tag of a page with its attributes, and whether text sat inside script or style."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.inline: list[str] = []
        self._open: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._open = tag

    def handle_endtag(self, tag: str) -> None:
        self._open = None

    def handle_data(self, data: str) -> None:
        if self._open in {"script", "style"} and data.strip():
            self.inline.append(self._open)


def page_tags() -> Tags:
    parser = Tags()
    parser.feed((STATIC / "index.html").read_text("utf-8"))
    return parser


def test_the_page_and_its_assets_are_in_the_package() -> None:
    """index.html, its stylesheet, its scripts and icon sit in the package folder the app serves, and
    pyproject ships that folder as package data (a non-editable install has them too)."""
    names = {p.name for p in STATIC.iterdir()}
    assert {"index.html", "page.css", "page.js", "favicon.svg"} <= names
    assert len(SCRIPTS) >= 4
    config = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    assert "api/static/*" in config["tool"]["setuptools"]["package-data"]["service"]
    assert not [p for p in STATIC.iterdir() if p.is_dir()], "package data ships api/static/* only"


def test_no_inline_code_and_nothing_from_elsewhere() -> None:
    """No inline script or style, no style or on* attribute; every script, stylesheet and icon is a
    /static/ file that exists; the page declares the strict policy itself."""
    parser = page_tags()
    assert parser.inline == []
    for tag, attrs in parser.tags:
        assert not [a for a in attrs if a.startswith("on") or a == "style"], (tag, attrs)
        assert tag != "style"
        ref = attrs.get("src") or (attrs.get("href") if tag == "link" else None)
        if ref is not None:
            assert ref.startswith("/static/"), ref
            assert (STATIC / ref.removeprefix("/static/")).is_file(), ref
    scripts = [attrs for tag, attrs in parser.tags if tag == "script"]
    assert scripts == [{"type": "module", "src": "/static/page.js"}]
    csp = "Content-Security-Policy"
    policy = [a.get("content") or "" for _, a in parser.tags if a.get("http-equiv") == csp]
    assert len(policy) == 1
    assert "default-src 'self'" in policy[0]


def test_every_control_has_a_label() -> None:
    """Each input, select and textarea of the page is named by a <label for=...>."""
    parser = page_tags()
    labelled = {attrs.get("for") for tag, attrs in parser.tags if tag == "label"}
    controls = [attrs.get("id") for tag, attrs in parser.tags if tag in {"input", "select", "textarea"}]
    assert len(controls) >= 6
    assert [c for c in controls if c not in labelled] == []


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_scripts_never_make_markup_from_strings(script: Path) -> None:
    """No innerHTML, outerHTML, insertAdjacentHTML, document.write, eval or Function(): report text
    reaches the page as text nodes only; imports are the page's own files."""
    source = script.read_text("utf-8")
    banned = re.compile(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|\bFunction\(")
    assert banned.findall(source) == []
    for target in re.findall(r'from "([^"]+)"', source):
        assert target.startswith("./"), target
        assert (STATIC / target[2:]).is_file(), target
    assert "http://" not in source
    assert "https://" not in source
