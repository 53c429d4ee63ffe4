"""``extract/selections.py``: each walk selects the elements its trafilatura XPath selects, in the
same order, on generated trees and on the corpus; it is installed only over its own XPath."""

from __future__ import annotations

import gzip
import importlib
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import html
from lxml.etree import XPath

from service.pipeline.extract import selections
from service.pipeline.extract.page_text import decode_page, parse_html
from service.pipeline.extract.selections import WALKS, BodyWalk, CommentsAndListsWalk, DiscardWalk, Walk

SHARED = Path(__file__).resolve().parents[3].parent / "shared"
_RE = {"re": "http://exslt.org/regular-expressions"}
_XPATHS = importlib.import_module("trafilatura.xpaths")


def _original(name: str, index: int) -> XPath:
    """trafilatura's XPath, whether or not this process has put a walk in its place."""
    current = getattr(_XPATHS, name)[index]
    return current if isinstance(current, XPath) else XPath(current.path, namespaces=_RE)


def _pairs() -> list[tuple[str, XPath, Walk]]:
    """Each XPath with a walk made from it here (not the installed one)."""
    out = []
    for name, index, walk in WALKS:
        xpath = _original(name, index)
        patterns = walk.patterns_of(xpath)
        assert patterns is not None, f"{name}[{index}] no longer matches {walk.__name__}'s template"
        out.append((f"{name}[{index}]", xpath, walk(xpath, patterns)))
    return out


PAIRS = _pairs()

# Attribute values around the patterns' tokens: matches, near misses (case, "commentary"), words
# inside other words, several classes, and plain values.
_VALUES = st.sampled_from(
    [
        "", "x", "comment", "Comments", "commentary", "comment-list", "comol", "disqus_thread",
        "dsq-comments", "article-comments", "post-comments x", "mvp-post-add-box", "mvp-post-add-wrap",
        "infinite-scroll",
        "infinitescroll", "elementor-share-buttons", "elementor-widget", "share-bar", "shared", "social",
        "nav", "Nav", "navbar", "menu", "footer", "Footer", "related", "premium", "ad-slot", "x ad y",
        "widget", "byline", "meta", "tags", "cookie", "sidebar", "banner", "hidden", "hide-print",
        "x hidden", "reply-box", "reply-", "message", "akismet", "comments-title", "post", "entry",
        "article-body", "articleBody", "articleContent", "story-body", "content-main", "entry-content",
        "main", "text", "teaser", "display:none", "display: none", "color: red", "true", "false",
        "navigation", "MostPopularStories", "articleBodyX",
    ]
)  # fmt: skip
_NAMES = st.sampled_from(
    [
        "id",
        "class",
        "style",
        "role",
        "aria-hidden",
        "data-component",
        "data-lp-replacement-content",
        "itemprop",
    ],
)
_TAGS = st.sampled_from(
    [
        "div", "section", "aside", "article", "main", "p", "span", "ol", "ul", "list", "item", "details",
        "h1", "a",
    ]
)  # fmt: skip


@st.composite
def _markup(draw: st.DrawFn, depth: int = 0) -> str:
    """Nested elements, each with a few of the attributes the XPaths test, in any order."""
    parts = []
    for _ in range(draw(st.integers(0, 3 if depth < 4 else 0))):
        tag = draw(_TAGS)
        names = draw(st.lists(_NAMES, max_size=4, unique=True))
        attrs = " ".join(f'{name}="{draw(_VALUES)}"' for name in names)
        parts.append(f"<{tag} {attrs}>{draw(_markup(depth + 1))}t</{tag}>tail")
    return "".join(parts)


def _same(xpath: XPath, walk: Walk, tree: html.HtmlElement) -> None:
    expected, got = xpath(tree), walk(tree)
    assert len(got) == len(expected)
    assert all(a is b for a, b in zip(got, expected, strict=True))


@settings(max_examples=400, deadline=None)
@given(body=_markup())
def test_every_walk_selects_what_its_xpath_selects(body: str) -> None:
    """Any tree, from its root and from an element inside it (never the context itself)."""
    tree = html.fromstring(f"<html><body><div id='c'>{body}</div></body></html>")
    inner = tree.find(".//div")
    assert inner is not None
    for _, xpath, walk in PAIRS:
        _same(xpath, walk, tree)
        _same(xpath, walk, inner)


@pytest.mark.parametrize(
    ("markup", "count"),
    [
        # @id|@class: whichever is written first is the one tested
        ('<div class="cookie" id="main">x</div>', 1),
        ('<div id="main" class="cookie">x</div>', 0),
    ],
)
def test_either_attribute_means_the_first_in_the_tag(markup: str, count: int) -> None:
    tree = html.fromstring(f"<html><body>{markup}</body></html>")
    xpath = _original("OVERALL_DISCARD_XPATH", 0)
    walk = DiscardWalk(xpath, DiscardWalk.patterns_of(xpath) or ())
    _same(xpath, walk, tree)
    assert len(walk(tree)) == count


def test_the_first_match_is_per_parent_not_per_document() -> None:
    """``BODY_XPATH[0]`` ends in ``[1]`` without brackets: one match for each parent."""
    tree = html.fromstring(
        "<html><body><div><div class='post'>a</div><div class='entry'>b</div></div>"
        "<section><div class='post'>c</div></section></body></html>"
    )
    xpath = _original("BODY_XPATH", 0)
    walk = BodyWalk(xpath, BodyWalk.patterns_of(xpath) or ())
    _same(xpath, walk, tree)
    assert [el.text for el in walk(tree)] == ["a", "c"]


def test_the_patterns_come_from_trafilaturas_text() -> None:
    """A token trafilatura adds to a pattern is honoured: the walk uses the XPath's own patterns."""
    template = CommentsAndListsWalk.TEMPLATE.replace("{re}", "'{}'")
    xpath = XPath(template.format("^remarks", "remarks", "^remarks", "remarks"), namespaces=_RE)
    patterns = CommentsAndListsWalk.patterns_of(xpath)
    assert patterns == ("^remarks", "remarks", "^remarks", "remarks")
    tree = html.fromstring("<html><body><div id='remarks-1'>a</div><div id='comments'>b</div></body></html>")
    walk = CommentsAndListsWalk(xpath, patterns)
    _same(xpath, walk, tree)
    assert [el.text for el in walk(tree)] == ["a"]


def test_installed_over_each_xpath_and_only_over_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    """On the trafilatura pinned, all six are replaced; an XPath of another structure is left alone."""
    for name, index, _ in WALKS:
        monkeypatch.setattr(_XPATHS, name, list(getattr(_XPATHS, name)))  # restored after the test
        getattr(_XPATHS, name)[index] = _original(name, index)
    assert selections.install.__wrapped__() == tuple(f"{name}[{index}]" for name, index, _ in WALKS)
    for name, index, walk in WALKS:
        assert isinstance(getattr(_XPATHS, name)[index], walk)
    other = XPath(".//*[self::div][re:test(@id, 'comment')]", namespaces=_RE)
    assert CommentsAndListsWalk.patterns_of(other) is None
    _XPATHS.REMOVE_COMMENTS_AND_LISTS_XPATH[0] = other
    _XPATHS.BODY_XPATH[0] = other
    assert "REMOVE_COMMENTS_AND_LISTS_XPATH[0]" not in selections.install.__wrapped__()
    assert _XPATHS.REMOVE_COMMENTS_AND_LISTS_XPATH[0] is other


def _corpus_trees() -> list[html.HtmlElement]:
    trees = []
    for folder in (SHARED / "corpus", SHARED / "corpus-intl"):
        for line in (folder / "manifest.jsonl").read_text(encoding="utf-8").splitlines():
            name = json.loads(line)["html"]
            raw = (folder / name).read_bytes()
            text, utf8 = decode_page(gzip.decompress(raw) if name.endswith(".gz") else raw, None)
            root, _ = parse_html(text, 10_000_000, utf8)
            if root is not None:
                trees.append(root)
    return trees


@pytest.mark.skipif(not (SHARED / "corpus").is_dir(), reason="needs ../shared/corpus")
def test_every_walk_selects_what_its_xpath_selects_on_the_corpus() -> None:
    trees = _corpus_trees()
    assert len(trees) >= 170
    selected = dict.fromkeys((name for name, _, _ in PAIRS), 0)
    for tree in trees:
        body = tree.find("body")
        for name, xpath, walk in PAIRS:
            _same(xpath, walk, tree)
            if body is not None:
                _same(xpath, walk, body)
            selected[name] += len(xpath(tree))
    assert all(selected.values()), selected  # every walk selects something somewhere
