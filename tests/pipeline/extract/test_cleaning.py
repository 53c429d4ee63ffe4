"""``extract/cleaning.py``: trafilatura's basic cleaning selects the same elements, in the same order,
through ``BasicCleanSelection`` as through its own XPath."""

from __future__ import annotations

import gzip
import importlib
import json
import re
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from lxml import html
from lxml.etree import XPath
from trafilatura.settings import _COOKIE_CONSENT_RE, BASIC_CLEAN_XPATH

from service.pipeline.extract import cleaning
from service.pipeline.extract.cleaning import BasicCleanSelection, expected_expression, leading_words

CORPUS = Path(__file__).resolve().parents[3].parent / "shared" / "corpus"
# trafilatura's own XPath, kept before anything in this process may have replaced it.
ORIGINAL = XPath(BASIC_CLEAN_XPATH.path, namespaces={"re": "http://exslt.org/regular-expressions"})
SELECTION = BasicCleanSelection(_COOKIE_CONSENT_RE, ORIGINAL)

# Class and id values: banner words in any case (a Kelvin sign and a long s fold to k and s under
# the pattern's ignore-case), "footer" inside other words, and plain ones.
_VALUES = st.sampled_from(
    [
        "cookie-banner", "COOKIE_CONSENT", "Cookie-Notice", "coo\u212aie-bar", "con\u017fent-banner",
        "notice--cookie", "consent-manager", "CookieBot", "cmplz-x", "onetrust-pc", "moove_gdpr", "borlabs",
        "cookies", "site-footer", "footer", "pagefooter", "Footer", "main", "nav ad", "", "cookie banner",
    ]
)  # fmt: skip
_TAGS = st.sampled_from(
    ["div", "section", "aside", "footer", "p", "span", "svg", "template", "script", "nav"]
)


@st.composite
def _markup(draw: st.DrawFn, depth: int = 0) -> str:
    """An HTML fragment of nested elements with class and id attributes in either order."""
    parts = []
    for _ in range(draw(st.integers(0, 3 if depth < 3 else 0))):
        tag = draw(_TAGS)
        attrs = []
        if draw(st.booleans()):
            attrs.append(f'class="{draw(_VALUES)}"')
        if draw(st.booleans()):
            attrs.append(f'id="{draw(_VALUES)}"')
        if draw(st.booleans()):
            attrs.reverse()
        inner = draw(_markup(depth + 1)) if tag not in ("script", "svg") else "x"
        parts.append(f"<{tag} {' '.join(attrs)}>{inner}t</{tag}>tail")
    return "".join(parts)


def _same(tree: html.HtmlElement) -> None:
    expected, got = ORIGINAL(tree), SELECTION(tree)
    assert len(got) == len(expected)
    assert all(a is b for a, b in zip(got, expected, strict=True))


@settings(max_examples=300, deadline=None)
@given(body=_markup())
def test_the_selection_is_the_xpaths(body: str) -> None:
    """Any page: the same elements, the same order, whether a banner is there or not."""
    tree = html.fromstring(f"<html><body><div>{body}</div></body></html>")
    _same(tree)
    body_element = tree.find("body")
    assert body_element is not None
    _same(body_element)


def test_a_page_with_a_banner_and_one_without_both_match() -> None:
    """Both ways through the selection are taken, and each gives the XPath's answer."""
    banner = html.fromstring('<html><body><div id="onetrust-banner">x</div><footer>f</footer></body></html>')
    plain = html.fromstring('<html><body><div class="a">x</div><div id="site-footer">f</div></body></html>')
    for tree, count in ((banner, 2), (plain, 1)):
        _same(tree)
        assert len(SELECTION(tree)) == count


@pytest.mark.skipif(not CORPUS.is_dir(), reason="needs ../shared/corpus")
def test_the_selection_is_the_xpaths_on_the_corpus() -> None:
    pages = 0
    for line in (CORPUS / "manifest.jsonl").read_text(encoding="utf-8").splitlines():
        raw = gzip.decompress((CORPUS / json.loads(line)["html"]).read_bytes())
        _same(html.fromstring(raw))
        pages += 1
    assert pages >= 100


def test_installed_only_over_the_expression_it_splits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Installed over trafilatura 2.3's XPath (the version pinned); over any other, nothing changes."""
    baseline = importlib.import_module("trafilatura.baseline")
    assert BASIC_CLEAN_XPATH.path == expected_expression(_COOKIE_CONSENT_RE)
    monkeypatch.setattr(baseline, "BASIC_CLEAN_XPATH", ORIGINAL)
    assert cleaning.install.__wrapped__() is True
    assert isinstance(baseline.BASIC_CLEAN_XPATH, BasicCleanSelection)
    other = XPath(".//aside|.//footer")
    monkeypatch.setattr(baseline, "BASIC_CLEAN_XPATH", other)
    assert cleaning.install.__wrapped__() is False
    assert baseline.BASIC_CLEAN_XPATH is other


# Pattern pieces: letters, optional letters, classes (with the characters that split or nest
# outside one), groups with alternatives inside.
_PIECES = st.sampled_from(
    [
        "a", "b", "c", "k", "s", "i", "ab", "ki", "s?", "k*", "b{0,2}", "[-_]", "[|(]", "[(]", "[]a]",
        "[^]|]", "(?:a|b)", "(s|k)?",
    ]
)  # fmt: skip


@st.composite
def _pattern(draw: st.DrawFn) -> str:
    alternatives = draw(
        st.lists(st.lists(_PIECES, min_size=1, max_size=4).map("".join), min_size=1, max_size=4)
    )
    return "|".join(alternatives)


@settings(max_examples=300, deadline=None)
@example(pattern="a[(]|c", values=["c"])
@example(pattern="ab(?#[)|ef", values=["ef"])
@given(pattern=_pattern(), values=st.lists(st.text(alphabet="abkisK_-|(]\u212a\u017f\u0131 ", max_size=8)))
def test_the_words_shortcut_never_misses_a_match(pattern: str, values: list[str]) -> None:
    """Whatever the pattern and the values (the Kelvin sign, long s and dotless i included, which
    ignore-case folds onto ASCII letters), ``_any_banner`` answers what trying each value does."""
    selection = BasicCleanSelection(pattern, ORIGINAL)
    assert selection._any_banner(values) == any(re.search(pattern, v, re.IGNORECASE) for v in values)
    words = leading_words(pattern)
    if words is not None:  # every ASCII match holds a word
        for value in values:
            if value.isascii() and re.search(pattern, value, re.IGNORECASE):
                assert any(word in value.lower() for word in words)


def test_the_words_of_trafilaturas_pattern() -> None:
    """The cookie pattern's alternatives each start with a word, so its shortcut is taken."""
    assert leading_words(_COOKIE_CONSENT_RE) == (
        "cookie", "notice", "consent", "borlabs", "cookiebot", "cmplz", "onetrust", "moove"
    )  # fmt: skip
    assert leading_words("ab?|[xy]z") is None
    assert leading_words("a[|]b|cd") == ("a", "cd")
    assert leading_words("a[(]|c") == ("a", "c")  # a "(" in a class opens no group
    assert leading_words("a[]|]|c") == ("a", "c")  # a first "]" is in the class
    assert leading_words("ab(?#(|)cd|ef") is None  # a comment's brackets and bars are not the pattern's
    assert leading_words("ab(?#c)?") is None
    assert leading_words("(?i)ab") is None
    assert leading_words("ab(?:c|d)|ef") == ("ab", "ef")
