"""Pure metadata readers of the extraction stage: canonical link, publication time.

trafilatura's canonical URL prefers ``og:url`` with its tracking parameters and its dates drop the
time of day (dependencies.md §1), so these are read from the parsed tree directly, without
changing it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from datetime import date, datetime
from typing import Any

from htmldate import find_date
from lxml import etree, html

from service.pipeline.extract.page_text import PageTags, meta_content, meta_map, page_tags, title_of

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
# The microdata searches, compiled once (``root.xpath`` compiles its expression on every call).
_DATE_PUBLISHED = etree.XPath('descendant::*[@itemprop="datePublished"]')
_AUTHOR = etree.XPath('descendant::*[@itemprop="author"]')


def link_hrefs(
    root: html.HtmlElement, metas: Mapping[str, str] | None = None, tags: PageTags | None = None
) -> tuple[str | None, str | None, str | None]:
    """Raw ``(canonical, og:url, base)`` hrefs, unresolved: resolution depends on the page URL.

    ``metas`` and ``tags`` (here and below): the page's ``meta_map`` and ``page_tags``, when the
    caller has them already."""
    tags = tags or page_tags(root)
    canonical = base = None
    for el in tags.link:
        rels = (el.get("rel") or "").lower().split()
        href = (el.get("href") or "").strip()
        if "canonical" in rels and href:
            canonical = href
            break
    for el in tags.base:
        href = (el.get("href") or "").strip()
        if href:
            base = href
            break
    return canonical, meta_content(meta_map(root, tags) if metas is None else metas, "og:url"), base


def iso_date(value: str) -> str | None:
    """``value`` as ISO 8601 if it reads as a date or time, else None."""
    value = value.strip()
    if _DAY.fullmatch(value):
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).isoformat()
    except ValueError:
        pass
    match = _DAY.match(value)
    return iso_date(match.group(0)) if match else None


def _jsonld_objects(node: Any, depth: int = 0) -> Iterator[dict[str, Any]]:
    """Every JSON-LD object worth reading, nested ones (``@graph``, ``mainEntity``) included."""
    if depth > 8:
        return
    if isinstance(node, list):
        for item in node:
            yield from _jsonld_objects(item, depth + 1)
    elif isinstance(node, dict):
        yield node
        for key in ("@graph", "mainEntity", "mainEntityOfPage"):
            if key in node:
                yield from _jsonld_objects(node[key], depth + 1)


def _jsonld(tags: PageTags) -> Iterator[dict[str, Any]]:
    """The JSON-LD objects of every ``application/ld+json`` script that parses."""
    for script in tags.script:
        if (script.get("type") or "").strip().lower() != "application/ld+json" or not script.text:
            continue
        try:
            data = json.loads(script.text)
        except (ValueError, RecursionError):  # RecursionError: hostile nesting
            continue
        yield from _jsonld_objects(data)


def published_date(
    root: html.HtmlElement, metas: Mapping[str, str] | None = None, tags: PageTags | None = None
) -> str | None:
    """Publication time from ``article:published_time``, JSON-LD or microdata, with its time of day."""
    tags = tags or page_tags(root)
    metas = meta_map(root, tags) if metas is None else metas
    candidates = _date_candidates(root, metas, tags)
    return next((iso for iso in map(iso_date, candidates) if iso), None)


def _date_candidates(root: html.HtmlElement, metas: Mapping[str, str], tags: PageTags) -> Iterator[str]:
    """``published_date``'s candidates, best first; lazily: most pages' first one is a date, and
    the microdata search walks the whole tree."""
    meta = meta_content(metas, "article:published_time", "datePublished", "og:published_time")
    if meta:
        yield meta
    yield from (v for obj in _jsonld(tags) if isinstance(v := obj.get("datePublished"), str))
    for el in _DATE_PUBLISHED(root):
        value = el.get("datetime") or el.get("content")
        if value:
            yield value


def _names(value: Any) -> Iterator[str]:
    for person in value if isinstance(value, list) else [value]:
        if isinstance(person, str) and person.strip():
            yield person.strip()
        elif isinstance(person, dict) and isinstance(person.get("name"), str):
            yield person["name"].strip()


def author(
    root: html.HtmlElement, metas: Mapping[str, str] | None = None, tags: PageTags | None = None
) -> str | None:
    """The byline from ``<meta name=author>``, ``article:author``, JSON-LD or ``itemprop=author``.

    Several authors are joined with "; " as trafilatura does. URLs (some sites put a profile
    link in ``article:author``) are not names.
    """
    names: list[str] = []
    tags = tags or page_tags(root)
    metas = meta_map(root, tags) if metas is None else metas
    meta = meta_content(metas, "author", "article:author", "byl", "dc.creator", "parsely-author")
    if meta:
        names.append(meta.removeprefix("By ").removeprefix("by ").strip())
    if not names:
        names.extend(name for obj in _jsonld(tags) for name in _names(obj.get("author")))
    if not names:
        for el in _AUTHOR(root):
            text = " ".join((el.get("content") or el.text_content() or "").split())
            if text:
                names.append(text)
    clean = [n for n in dict.fromkeys(names) if n and "://" not in n and len(n) <= 200]
    return "; ".join(clean) if clean else None


def guessed_date(root: html.HtmlElement) -> str | None:
    """htmldate's quick (non-extensive) reading, for pages with no structured publication date.

    Handed the parsed tree (htmldate cleans a copy of it), not the bytes: no second parse."""
    try:
        found = find_date(root, extensive_search=False, original_date=True, outputformat="%Y-%m-%d")
    except (ValueError, TypeError):
        return None
    return iso_date(found) if isinstance(found, str) else None


def title(
    root: html.HtmlElement, metas: Mapping[str, str] | None = None, tags: PageTags | None = None
) -> str | None:
    """The headline: ``og:title`` or ``twitter:title`` (no site-name suffix), else ``<title>``."""
    meta = meta_content(
        meta_map(root, tags) if metas is None else metas, "og:title", "twitter:title", "headline"
    )
    return " ".join(meta.split()) if meta else title_of(root, tags)
