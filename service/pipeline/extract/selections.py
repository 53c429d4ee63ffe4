"""trafilatura's costliest element selections as Python walks over the tree, without libxml2's
XPath engine and its per-element calls back into Python.

trafilatura finds the sections it prunes (comment threads, infinite-scroll containers, share bars,
navigation, hidden blocks) and the article body with XPaths whose predicates test ``class`` and
``id`` against regular expressions (EXSLT's ``re:test``). lxml answers each ``re:test`` by calling
into Python with the attribute wrapped as a node set, and libxml2 walks ``.//*`` with every
predicate evaluated per element: those six XPaths took 2.9 of the 9.3 ms a corpus page spends in
``read_page``. The same tests, made in one Python loop over the candidate elements with the same
patterns (compiled as lxml compiles them, ``re.search`` on the same strings), select the same
elements in the same order in a quarter of the time.

Each ``Walk`` states one XPath's predicates in Python, and a template of that XPath's text in
which every ``re:test`` pattern is a slot. ``install`` puts a walk in place of trafilatura's XPath
only when the XPath's text matches the template (whitespace aside): the patterns are taken from
trafilatura's own text, so a new token in trafilatura's lists is honoured, and a change to the
structure leaves trafilatura's XPath in place. Tests hold each walk to its XPath on generated
trees and on the corpus.

XPath details kept: ``.//*`` is the context's descendants, never the context itself; an absent
attribute is the empty string; ``@id|@class`` as a string is the attribute that comes first in
the source (XPath's document order); ``[…][1]`` without brackets around the path is the first
match among each element's children, not the first in the document.
"""

from __future__ import annotations

import functools
import importlib
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, ClassVar

from lxml.etree import Element, XPath

if TYPE_CHECKING:
    from lxml.html import HtmlElement

_SLOT = "{re}"  # where a template holds an ``re:test`` pattern


def _first_of(el: HtmlElement, first: str, second: str) -> str:
    """XPath's string value of ``@first|@second``: the one written first in the tag, else ''."""
    a: str | None = el.get(first)
    b: str | None = el.get(second)
    if a is None:
        return b or ""
    if b is None:
        return a
    names = el.keys()  # in the tag's order (an XML DTD's default values are not among them)
    if first not in names or second not in names:
        return a if first in names else (b if second in names else "")
    return a if names.index(first) < names.index(second) else b


class Walk:
    """One XPath's selection, computed by a loop over ``TAGS`` below the context element.

    ``TEMPLATE``: the XPath's text with each ``re:test`` pattern replaced by ``{re}``; the walk
    receives the patterns in their order (``self._re``, compiled as lxml's EXSLT compiles them).
    """

    TEMPLATE: ClassVar[str]
    TAGS: ClassVar[tuple[object, ...]]  # tag names, or lxml's ``Element`` for every element (``*``)

    def __init__(self, xpath: XPath, patterns: Sequence[str]) -> None:
        self.path = xpath.path  # what it stands for (trafilatura never reads it)
        self._re = [re.compile(p).search for p in patterns]

    @classmethod
    def patterns_of(cls, xpath: object) -> tuple[str, ...] | None:
        """The patterns in ``xpath``'s text when it is this template's XPath, else None."""
        if not isinstance(xpath, XPath):
            return None
        found = _template_re(cls.TEMPLATE).fullmatch(xpath.path)
        return found.groups() if found else None

    def __call__(self, tree: HtmlElement) -> list[HtmlElement]:
        selects = self.selects
        return [el for el in tree.iterdescendants(*self.TAGS) if selects(el)]

    def selects(self, el: HtmlElement) -> bool:
        """The XPath's predicates, on one element of ``TAGS``."""
        raise NotImplementedError


@functools.cache
def _template_re(template: str) -> re.Pattern[str]:
    """A template as a pattern over XPath texts: its words as written, any run of whitespace
    where it has some, and a quoted pattern (no quote inside) at each slot."""
    parts = []
    for i, literal in enumerate(template.split(_SLOT)):
        if i:
            parts.append("'([^']*)'")
        parts.append(r"\s+".join(re.escape(word) for word in re.split(r"\s+", literal)))
    return re.compile(r"\s*" + "".join(parts) + r"\s*")


class InfiniteScrollWalk(Walk):
    """``RAW_TREE_PRUNE_XPATH[0]``: infinite-scroll containers of follow-up articles."""

    TEMPLATE = (
        ".//*[self::div or self::section or self::aside][ re:test(@id, {re}) or re:test(@class, {re})][ "
        "not(.//h1) or re:test(@id, {re}) or re:test(@class, {re})]"
    )
    TAGS = ("div", "section", "aside")

    def selects(self, el: HtmlElement) -> bool:
        on_id, on_class, keep_id, keep_class = self._re
        i, c = el.get("id") or "", el.get("class") or ""
        if not (on_id(i) or on_class(c)):
            return False
        return next(el.iterdescendants("h1"), None) is None or bool(keep_id(i) or keep_class(c))


class ShareButtonsWalk(Walk):
    """``RAW_TREE_PRUNE_XPATH[1]``: Elementor share bars (no pattern: a plain ``contains``)."""

    TEMPLATE = ".//*[self::div or self::section or self::aside][contains(@class, 'elementor-share-buttons')]"
    TAGS = ("div", "section", "aside")

    def selects(self, el: HtmlElement) -> bool:
        return "elementor-share-buttons" in (el.get("class") or "")


class CommentsAndListsWalk(Walk):
    """``REMOVE_COMMENTS_AND_LISTS_XPATH[0]``: comment sections, and lists that are comment lists."""

    TEMPLATE = (
        ".//*[self::div or self::list or self::section or self::details or self::ol or self::ul][ "
        "re:test(@id, {re}) or re:test(@class, {re})][ "
        "not(self::ol or self::ul) or re:test(@id, {re}) or re:test(@class, {re})]"
    )
    TAGS = ("div", "list", "section", "details", "ol", "ul")

    def selects(self, el: HtmlElement) -> bool:
        on_id, on_class, list_id, list_class = self._re
        i, c = el.get("id") or "", el.get("class") or ""
        if not (on_id(i) or on_class(c)):
            return False
        return el.tag not in ("ol", "ul") or bool(list_id(i) or list_class(c))


class DiscardWalk(Walk):
    """``OVERALL_DISCARD_XPATH[0]``: navigation, share, ad, footer, related… blocks."""

    TEMPLATE = (
        ".//*[self::div or self::item or self::list or self::p or self::section or self::span][ "
        "@data-lp-replacement-content or contains(translate(@role, 'N', 'n'), 'nav') or "
        "contains(@data-component, 'MostPopularStories') or re:test(@id|@class, {re}) or "
        "re:test(@id, {re}) or re:test(@class, {re})]"
    )
    TAGS = ("div", "item", "list", "p", "section", "span")

    def selects(self, el: HtmlElement) -> bool:
        either, on_id, on_class = self._re
        get = el.get
        return bool(
            on_class(get("class") or "")
            or on_id(get("id") or "")
            or either(_first_of(el, "id", "class"))
            or get("data-lp-replacement-content") is not None
            or "nav" in (get("role") or "").replace("N", "n")
            or "MostPopularStories" in (get("data-component") or "")
        )


class HiddenWalk(Walk):
    """``OVERALL_DISCARD_XPATH[1]``: hidden blocks and comment furniture, of any tag."""

    TEMPLATE = (
        ".//*[@class='comments-title' or starts-with(@id|@class, 'reply-') or re:test(@id|@style, {re}) or "
        "contains(@style, 'display:none') or contains(@style, 'display: none') or "
        "re:test(@id, {re}) or re:test(@class, {re}) or @aria-hidden='true']"
    )

    TAGS = (Element,)  # any tag; no comment or processing instruction

    def selects(self, el: HtmlElement) -> bool:
        id_or_style, on_id, on_class = self._re
        get = el.get
        c, style = get("class"), get("style") or ""
        return bool(
            c == "comments-title"
            or get("aria-hidden") == "true"
            or on_class(c or "")
            or on_id(get("id") or "")
            or "display:none" in style
            or "display: none" in style
            or id_or_style(_first_of(el, "id", "style"))
            or _first_of(el, "id", "class").startswith("reply-")
        )


class BodyWalk(Walk):
    """``BODY_XPATH[0]``: the article body's usual containers; each element's first matching child."""

    TEMPLATE = (
        ".//*[self::article or self::div or self::main or self::section][ "
        "@class='post' or @class='entry' or @itemprop='articleBody' or @id='articleContent' or "
        "re:test(@id, {re}) or re:test(@class, {re}) ][1]"
    )
    TAGS = ("article", "div", "main", "section")

    def __call__(self, tree: HtmlElement) -> list[HtmlElement]:
        selects = self.selects
        found: list[HtmlElement] = []
        parents: set[HtmlElement] = set()  # the proxies stay alive in the set, so identity holds
        for el in tree.iterdescendants(*self.TAGS):
            if selects(el):
                parent = el.getparent()
                if parent not in parents:
                    parents.add(parent)
                    found.append(el)
        return found

    def selects(self, el: HtmlElement) -> bool:
        on_id, on_class = self._re
        get = el.get
        c, i = get("class"), get("id")
        return bool(
            c in ("post", "entry")
            or get("itemprop") == "articleBody"
            or i == "articleContent"
            or on_id(i or "")
            or on_class(c or "")
        )


# Where each walk goes: trafilatura.xpaths' list and index.
WALKS: tuple[tuple[str, int, type[Walk]], ...] = (
    ("RAW_TREE_PRUNE_XPATH", 0, InfiniteScrollWalk),
    ("RAW_TREE_PRUNE_XPATH", 1, ShareButtonsWalk),
    ("REMOVE_COMMENTS_AND_LISTS_XPATH", 0, CommentsAndListsWalk),
    ("OVERALL_DISCARD_XPATH", 0, DiscardWalk),
    ("OVERALL_DISCARD_XPATH", 1, HiddenWalk),
    ("BODY_XPATH", 0, BodyWalk),
)


@functools.cache
def install() -> tuple[str, ...]:
    """Put each walk in place of its XPath in trafilatura's lists (once per process; every
    module that imported a list sees the change). Returns the names of those replaced: an XPath
    whose text is not its template's stays as it is."""
    xpaths = importlib.import_module("trafilatura.xpaths")
    done: list[str] = []
    for name, index, walk in WALKS:
        selections: list[Callable[[HtmlElement], list[HtmlElement]]] | None = getattr(xpaths, name, None)
        if not isinstance(selections, list) or len(selections) <= index:
            continue
        current = selections[index]
        patterns = walk.patterns_of(current)
        if patterns is not None and isinstance(current, XPath):
            selections[index] = walk(current, patterns)
            done.append(f"{name}[{index}]")
    return tuple(done)
