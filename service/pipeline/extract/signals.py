"""Page signals for source health, read from the parsed tree where it is parsed once: in the
extraction worker (``pool.py``), or in ``health.py`` for a page nobody extracted."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from lxml import etree, html

from service.pipeline.extract.page_text import title_of
from service.pipeline.models import PageSignals

_PAYWALL_SCRIPTS = ("tinypass.com", "piano.io")


def read_signals(root: html.HtmlElement, title: str | None) -> PageSignals:
    """The title, the first ``h1``s, every class and id (plus known paywall scripts), and whether
    JSON-LD or microdata says the page is not free."""
    headings = [t for t in (title_of(root), title) if t]
    headings += [h.text_content() for h in root.iter("h1")][:3]
    not_free = any(v is False for v in _free_flags(root))
    return PageSignals(tuple(headings), frozenset(_class_tokens(root)), not_free)


# Every class and id value in the tree, gathered by libxml2 (no Python step per element).
_CLASSES_AND_IDS = etree.XPath(
    "descendant-or-self::*/@class | descendant-or-self::*/@id", smart_strings=False
)


def _class_tokens(root: html.HtmlElement) -> Iterator[str]:
    for value in _CLASSES_AND_IDS(root):
        yield from str(value).lower().split()
    for el in root.iter("script"):
        src = (el.get("src") or "").lower()
        yield from (f"script:{host}" for host in _PAYWALL_SCRIPTS if host in src)


def _free_flags(root: html.HtmlElement) -> Iterator[bool]:
    """``isAccessibleForFree`` values from JSON-LD and microdata; "False" strings count as False."""
    for el in root.iter("meta"):
        if (el.get("itemprop") or "").lower() == "isaccessibleforfree":
            yield (el.get("content") or "").strip().lower() != "false"
    for el in root.iter("script"):
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
