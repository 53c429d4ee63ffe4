"""Page signals for source health, read from the parsed tree where it is parsed once: in the
extraction worker (``pool.py``), or in ``health.py`` for a page nobody extracted."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from lxml import etree, html

from service.pipeline.extract.page_text import PageTags, page_tags, title_of
from service.pipeline.models import PageSignals

_PAYWALL_SCRIPTS = ("tinypass.com", "piano.io")


def read_signals(root: html.HtmlElement, title: str | None, tags: PageTags | None = None) -> PageSignals:
    """The title, the first ``h1``s, every class and id (plus known paywall scripts), and whether
    JSON-LD or microdata says the page is not free.

    ``tags``: the page's ``page_tags``, when the caller has them already."""
    tags = tags or page_tags(root)
    headings = [t for t in (title_of(root, tags), title) if t]
    headings += [h.text_content() for h in tags.h1[:3]]
    not_free = any(v is False for v in _free_flags(tags))
    return PageSignals(tuple(headings), frozenset(_class_tokens(root, tags)), not_free)


# Every class and id value in the tree, gathered by libxml2 (no Python step per element).
_CLASSES_AND_IDS = etree.XPath(
    "descendant-or-self::*/@class | descendant-or-self::*/@id", smart_strings=False
)


def _class_tokens(root: html.HtmlElement, tags: PageTags) -> Iterator[str]:
    yield from class_tokens(_CLASSES_AND_IDS(root))
    for el in tags.script:
        src = (el.get("src") or "").lower()
        yield from (f"script:{host}" for host in _PAYWALL_SCRIPTS if host in src)


def class_tokens(values: Iterable[str]) -> list[str]:
    """The tokens of every value, lower case: ``[t for v in values for t in v.lower().split()]``,
    with one ``lower`` and one ``split`` for the page rather than one per class attribute. The
    same tokens: a space neither joins nor splits a token, and ``lower`` changes no case across
    it (the final-sigma rule looks through case-ignorable characters only, and a space is not one).
    """
    return " ".join(values).lower().split()


def _free_flags(tags: PageTags) -> Iterator[bool]:
    """``isAccessibleForFree`` values from JSON-LD and microdata; "False" strings count as False."""
    for el in tags.meta:
        if (el.get("itemprop") or "").lower() == "isaccessibleforfree":
            yield (el.get("content") or "").strip().lower() != "false"
    for el in tags.script:
        if (el.get("type") or "").lower() == "application/ld+json":
            try:
                data = json.loads(el.text or "")
            except (ValueError, RecursionError):  # broken or hostile JSON-LD is no evidence
                continue
            yield from _walk_free(data, 0)


def _walk_free(node: Any, depth: int) -> Iterator[bool]:
    if depth > 20:
        return
    children: Any = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
    if isinstance(node, dict) and "isAccessibleForFree" in node:
        flag = node["isAccessibleForFree"]
        yield not (flag is False or str(flag).strip().lower() == "false")
    for child in children:
        yield from _walk_free(child, depth + 1)
