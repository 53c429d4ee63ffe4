"""Pure helpers of the extraction stage: decode a page, parse it, read its whole visible text.

trafilatura's main text leaves out headlines, standfirsts, captions and bylines (dependencies.md
§1): ``page_text`` keeps every visible block so that a passage copied from them can still be
found. Decoding is done here, once, so that trafilatura and lxml read the same characters.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Mapping
from dataclasses import dataclass

import charset_normalizer
from lxml import etree, html

from service.pipeline.extract.charset import codec_of, declared_encoding

# Control characters libxml2 rejects or mangles (trafilatura strips the same set before parsing).
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_INVALID_XML_BYTES = bytes([*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20)])  # the ASCII ones, as UTF-8
_DOCTYPE = re.compile(r"^\s*<!doctype[^>]*>", re.IGNORECASE)
_SPACES = re.compile(r"\s+")
# A start tag this long is a hostile one (libxml2 checks a tag's attributes for duplicates pairwise:
# 100,000 attributes hold it for 50 s): it keeps its name and loses its attributes. Linear: a
# scan from each "<" stops at the next "<" or ">".
_MAX_TAG_CHARS = 32 * 1024
_HUGE_TAG = re.compile(rf"<([A-Za-z][A-Za-z0-9:-]{{0,63}})[^<>]{{{_MAX_TAG_CHARS},}}>")

_SKIP = frozenset(
    {
        "script",
        "style",
        "noscript",
        "template",
        "svg",
        "math",
        "head",
        "iframe",
        "object",
        "canvas",
        "select",
        "datalist",
        "input",
        "textarea",
        "button",
    }
)
_BLOCKS = frozenset(
    {
        "address",
        "article",
        "aside",
        "blockquote",
        "body",
        "br",
        "caption",
        "center",
        "dd",
        "details",
        "dialog",
        "dir",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hgroup",
        "hr",
        "html",
        "legend",
        "li",
        "main",
        "menu",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "summary",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "tr",
        "ul",
    }
)
# lxml.html's parser picks each element's class in Python (``HtmlElementClassLookup``: forms,
# inputs, labels get their own), once per element every time a walk reaches it, in our readers
# and in trafilatura's on its copies (about a sixth of trafilatura's time). One class for every
# element, picked in C: the same methods for every reader here, the same results (checked on
# the corpus), no Python call per element.
_ONE_CLASS = etree.ElementDefaultClassLookup(
    element=html.HtmlElement,
    comment=html.HtmlComment,
    pi=html.HtmlProcessingInstruction,
    entity=html.HtmlEntity,
)
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)


def decode_html(body: bytes, content_type: str | None = None) -> str:
    """The page as text: declared encoding, else UTF-8 if valid, else charset-normalizer's guess."""
    return decode_page(body, content_type)[0]


def decode_page(body: bytes, content_type: str | None = None) -> tuple[str, bytes | None]:
    """``decode_html``'s text, and the UTF-8 bytes of that text when ``body`` holds them as they
    are (a UTF-8 page decoded without a replacement; its BOM cut off), else None: ``parse_html``
    then takes them instead of encoding the text again (0.1 ms a corpus page)."""
    encoding = declared_encoding(body, content_type)
    if encoding is None:
        try:
            return body.decode("utf-8"), body  # no BOM: a BOM is a declaration
        except UnicodeDecodeError:
            best = charset_normalizer.from_bytes(body[: 512 * 1024]).best()
            encoding = codec_of(best.encoding) if best is not None else None
    encoding = encoding or "utf-8"
    text = body.decode(encoding, errors="replace")
    bom = text.startswith("\ufeff")
    text = text[1:] if bom else text
    # Decoded without a replacement, UTF-8 re-encodes to the very bytes it was read from.
    same = encoding == "utf-8" and "\ufffd" not in text
    return text, (body[len(codecs.BOM_UTF8) :] if bom else body) if same else None


def _clean_bytes(text: str, utf8: bytes | None = None) -> bytes:
    """``text`` as UTF-8 without the characters libxml2 rejects, its doctype, and the attributes
    of its over-long start tags: ``_HUGE_TAG.sub(r"<\\1>", _DOCTYPE.sub("", _INVALID_XML.sub("",
    text), count=1))`` encoded, in a third of the time (those two patterns scan the whole page in
    Python's regex engine, longer than libxml2 takes to parse it).

    Most pages have none of those characters: looked for at C speed, and removed first (as above)
    only when there are some.
    """
    undoctyped = _DOCTYPE.sub("", text, count=1)  # a prefix of the text, when there is one
    stripped = _strip_huge_tags(undoctyped)
    if utf8 is not None and stripped is undoctyped:  # ``utf8`` is ``text`` encoded: cut its prefix
        cut = len(text) - len(undoctyped)
        data = utf8[len(text[:cut].encode("utf-8")) :] if cut else utf8
    else:
        data = stripped.encode("utf-8", errors="replace")
    # A cut tag may have held rejected characters which, removed first, change its name: then
    # look for them in the text as it was (rare: only pages with an over-long tag pay this).
    seen = data if len(stripped) == len(undoctyped) else undoctyped.encode("utf-8", errors="replace")
    invalid = (
        len(seen.translate(None, _INVALID_XML_BYTES)) != len(seen)
        or "\ufffe" in text  # no scan at all in a page of one-byte characters
        or "\uffff" in text
    )
    if not invalid:
        return data
    text = _DOCTYPE.sub("", _INVALID_XML.sub("", text), count=1)
    return _strip_huge_tags(text).encode("utf-8", errors="replace")


def _strip_huge_tags(text: str) -> str:
    """``_HUGE_TAG.sub(r"<\\1>", text)``, with the pattern tried only where it can match.

    A match starts at a ``<`` and holds no other, over at least ``_MAX_TAG_CHARS`` characters, so
    that run holds a whole aligned block of half that length with no ``<``, and the match starts
    at the last ``<`` before such a block. Blocks are tested with ``find`` (each call stops at
    the block's first ``<``, at once on nearly every page): the pattern runs only from those
    starts, instead of a scan of the whole page in Python's regex engine (0.2 ms a corpus page).
    """
    block = _MAX_TAG_CHARS // 2
    starts: list[int] = []
    for pos in range(0, len(text) - block + 1, block):
        if text.find("<", pos, pos + block) < 0:
            opening = text.rfind("<", 0, pos)
            if opening >= 0 and (not starts or starts[-1] != opening):
                starts.append(opening)
    out: list[str] = []
    last = 0
    for opening in starts:
        tag = _HUGE_TAG.match(text, opening) if opening >= last else None
        if tag:
            out += (text[last : tag.start()], "<", tag.group(1), ">")
            last = tag.end()
    return "".join(out) + text[last:] if out else text


def parse_html(text: str, max_bytes: int, utf8: bytes | None = None) -> tuple[html.HtmlElement | None, bytes]:
    """Parse decoded HTML, truncated to ``max_bytes`` of UTF-8 (a cap, not a rejection), its
    over-long start tags stripped of their attributes (``_MAX_TAG_CHARS``).

    ``utf8``: ``text``'s UTF-8 bytes, when the caller has them (``decode_page``).
    Returns the tree and the cleaned UTF-8 bytes it was parsed from, for trafilatura. The bytes
    are parsed with the encoding forced, so a ``<meta charset>`` can't make libxml2 decode twice.
    Every element is an ``HtmlElement`` (``_ONE_CLASS``).
    """
    if len(text) > max_bytes:  # no more than max_bytes of UTF-8 can come of the rest
        text, utf8 = text[:max_bytes], None
    data = _clean_bytes(text, utf8)
    if len(data) > max_bytes:
        data = data[:max_bytes].decode("utf-8", errors="ignore").encode("utf-8")
    if not data.strip():
        return None, data
    parser = html.HTMLParser(
        collect_ids=False, default_doctype=False, encoding="utf-8", remove_comments=True, remove_pis=True
    )
    parser.set_element_class_lookup(_ONE_CLASS)
    try:
        root = html.document_fromstring(data, parser=parser)
    except (etree.ParserError, ValueError):
        return None, data
    return (root if isinstance(root, html.HtmlElement) else None), data


# ---------------------------------------------------------------- visible text


def _blocks(root: html.HtmlElement) -> list[str]:
    """Visible text, one line per block element: inline pieces join as they stand in the source."""
    out: list[str] = []
    buf: list[str] = []
    find_hidden_style = _HIDDEN_STYLE.search
    walker = etree.iterwalk(root, events=("start", "end"))  # iterative: pages nest deeply
    skip_subtree = walker.skip_subtree
    skipped = None
    # Run for every element of the body, so written out in the loop: the hidden rule (a ``hidden``
    # attribute, ``aria-hidden="true"``, a ``display: none`` or ``visibility: hidden`` style), and
    # ``_flush`` only when there is something to flush (an empty buffer makes no line).
    for event, el in walker:
        tag = el.tag
        if event == "start":
            get = el.get
            if (
                tag in _SKIP
                or not isinstance(tag, str)
                or get("hidden") is not None
                or get("aria-hidden") == "true"
                or ((style := get("style")) and find_hidden_style(style))
            ):
                skip_subtree()  # its "end" still comes, for the tail
                skipped = el
                continue
            if buf and tag in _BLOCKS:
                _flush(buf, out)
            if text := el.text:
                buf.append(text)
            continue
        if el is skipped:
            skipped = None
        elif buf and tag in _BLOCKS:
            _flush(buf, out)
        if (tail := el.tail) and el is not root:
            buf.append(tail)
    _flush(buf, out)
    return out


def _flush(buf: list[str], out: list[str]) -> None:
    """End a line: the pieces in ``buf`` joined, whitespace collapsed, appended to ``out`` unless empty."""
    line = " ".join("".join(buf).split())  # = _SPACES.sub(" ", …).strip(), the same whitespace
    if line:
        out.append(line)
    buf.clear()


_TAGGED = ("meta", "link", "base", "script", "h1", "title")


@dataclass(frozen=True, slots=True)
class PageTags:
    """The elements the metadata and signal readers look at, in document order, found in one walk
    (lxml matches the tag names in C, ``_TAGGED``) instead of one walk per reader and tag."""

    meta: list[html.HtmlElement]
    link: list[html.HtmlElement]
    base: list[html.HtmlElement]
    script: list[html.HtmlElement]
    h1: list[html.HtmlElement]
    title: list[html.HtmlElement]  # the root itself left out, as ``root.find(".//title")`` does


def page_tags(root: html.HtmlElement) -> PageTags:
    """``root``'s ``PageTags``: what ``root.iter(tag)`` yields for each of ``_TAGGED``."""
    found: dict[str, list[html.HtmlElement]] = {tag: [] for tag in _TAGGED}
    for el in root.iter(*_TAGGED):
        found[el.tag].append(el)
    titles = found["title"]
    if titles and titles[0] is root:
        del titles[0]
    return PageTags(found["meta"], found["link"], found["base"], found["script"], found["h1"], titles)


def meta_map(root: html.HtmlElement, tags: PageTags | None = None) -> dict[str, str]:
    """Every ``<meta name|property|itemprop=…>`` key (lower case) with its first non-empty
    ``content``: read in one walk, for every ``meta_content`` of the page.

    ``tags`` (here and in the other readers): the page's ``page_tags``, when the caller has them."""
    found: dict[str, str] = {}
    for el in (tags or page_tags(root)).meta:
        key = (el.get("property") or el.get("name") or el.get("itemprop") or "").strip().lower()
        content = (el.get("content") or "").strip()
        if content and key not in found:
            found[key] = content
    return found


def meta_content(metas: Mapping[str, str], *names: str) -> str | None:
    """The first non-empty ``content`` of ``<meta name|property|itemprop=…>`` among ``names``,
    looked up in the page's ``meta_map``."""
    return next((metas[n.lower()] for n in names if n.lower() in metas), None)


def title_of(root: html.HtmlElement, tags: PageTags | None = None) -> str | None:
    """The first ``<title>``, whitespace collapsed."""
    titles = (tags or page_tags(root)).title
    text = _SPACES.sub(" ", titles[0].text_content()).strip() if titles else ""
    return text or None


def page_text(
    root: html.HtmlElement, metas: Mapping[str, str] | None = None, tags: PageTags | None = None
) -> str:
    """Title, description metas, then every visible text block of the body, one per line.

    ``metas``: the page's ``meta_map``, when the caller has it already."""
    tags = tags or page_tags(root)
    metas = meta_map(root, tags) if metas is None else metas
    title = title_of(root, tags)
    head = [title] if title else []
    for name in ("og:title", "description", "og:description", "twitter:description"):
        value = meta_content(metas, name)
        if value:
            head.append(_SPACES.sub(" ", value).strip())
    lines = list(dict.fromkeys(head))
    body = root.find("body")
    lines.extend(_blocks(body if body is not None else root))
    return "\n".join(lines)
