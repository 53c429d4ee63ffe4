"""Reading a post: which passages it quotes or copies, which URLs it cites, and which goes with which.

Pure, no I/O. The post is read as lines (plain text and Markdown as written; HTML through a
rendering that maps each character back to the raw markup, see ``html.py``). Lines become
blocks (``blocks.py``; quotation marks in ``quotes.py``); blocks become passages: explicit ones
(quotation marks, blockquotes, greentext) and unmarked paragraphs, which the verifier later judges
copied or the poster's own. Attachment rules are in ``_attach``.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from service.pipeline.errors import InputError, InvalidURL, UnsupportedURL
from service.pipeline.models import Citation, InputFormat, Passage, Post
from service.pipeline.posts.blocks import (
    Block,
    BlockKind,
    Line,
    build_blocks,
    classify_lines,
    words,
)
from service.pipeline.posts.html import View, html_view, text_view
from service.pipeline.posts.markdown import render_markdown
from service.pipeline.posts.quotes import find_quotes
from service.pipeline.urls import FoundURL, extract_urls, normalize_url

__all__ = ["detect_format", "parse_post"]

MAX_POST_CHARS = 1_000_000
"""The longest post read (``verify``, batch lines, the API): reading is linear, so this bounds it
to about a second of CPU whatever the post holds."""
MIN_QUOTE_WORDS = 3  # fewer inside quotation marks: a scare quote
MIN_PASSAGE_WORDS = 4  # fewer in an unmarked paragraph: a name, a date, a counter
MIN_COMMENTARY_WORDS = 6  # fewer around an inline quote: the quote's frame, not a passage

_HTML_RE = re.compile(
    r"<(?:p|div|blockquote|br|q|ul|ol|li|h[1-6]|pre|table|span|em|strong|b|i|cite|footer)\b[^<>]*>"
    r"|<a\s[^<>]*href",
    re.IGNORECASE,
)
_MD_STRONG_RE = re.compile(
    r"\[[^\]\n]+\]\([^)\s]+[^)\n]*\)|^[ \t]{0,3}(?:```|~~~)|^[ \t]{0,3}#{1,6}[ \t]+\S", re.MULTILINE
)
_MD_QUOTE_RE = re.compile(r"^[ \t]{0,3}> ", re.MULTILINE)
_MD_WEAK_RE = re.compile(
    r"\*\*\S|__\S|`[^`\n]+`|^[ \t]{0,3}(?:[-*+]|\d+[.)])[ \t]+\S|<https?://|^\[[^\]\n]+\]:[ \t]*\S",
    re.MULTILINE,
)


def detect_format(text: str) -> InputFormat:
    """HTML if it has block tags or links; Markdown if it has Markdown structure; else text."""
    if _HTML_RE.search(text):
        return InputFormat.HTML
    if _MD_STRONG_RE.search(text) or (_MD_QUOTE_RE.search(text) and _MD_WEAK_RE.search(text)):
        return InputFormat.MARKDOWN
    return InputFormat.TEXT


@dataclass(frozen=True, slots=True)
class _Draft:
    """A passage in view coordinates, with what attachment needs to know about its block."""

    text: str
    start: int
    end: int
    explicit: bool
    block_start: int
    block_end: int
    own_url: str | None  # a cite attribute, an attribution line or an inline link in its block
    parts: tuple[_Draft, ...] = ()  # a paragraph's inline quotations and commentary
    line_fragments: bool = False  # the lines of a ">" quotation: each may quote on its own


def parse_post(
    text: str,
    fmt: InputFormat | str = InputFormat.AUTO,
    *,
    id: str | None = None,
    posted_at: datetime | None = None,
) -> Post:
    """Passages and citations of one post, each passage attached to the URL it stands with."""
    try:
        fmt = InputFormat(fmt)
    except ValueError as exc:
        raise InputError(f"unknown input format: {fmt!r}") from exc
    if len(text) > MAX_POST_CHARS:
        raise InputError(f"post is longer than {MAX_POST_CHARS:,} characters ({len(text):,})")
    resolved = detect_format(text) if fmt is InputFormat.AUTO else fmt
    view = html_view(text) if resolved is InputFormat.HTML else text_view(text)
    found = [f for f in extract_urls(text, every=True) if view.keeps_url(f.span[0], text)]
    citations = _citations(found)
    marks = [(view.view_pos(f.span[0]), f.url) for f in found]
    lines = classify_lines(
        view.text,
        marks,
        markdown=resolved is InputFormat.MARKDOWN,
        fences=resolved is not InputFormat.TEXT,
        links=view.links,
    )
    blocks = build_blocks(lines, view.text, greentext=resolved is InputFormat.TEXT)
    markdown = resolved is InputFormat.MARKDOWN
    where = _Marks(marks, view.cites)
    drafts = [d for block in blocks for d in _block_passages(view, block, where, markdown=markdown)]
    url_lines = [
        _UrlLine(ln.start, ln.url, ln.introduces, ln.closes)
        for ln in lines
        if ln.kind is BlockKind.URL and ln.url
    ]
    default, other = _attach(drafts, url_lines, citations)
    as_cited = _AsCited(citations)
    passages = tuple(
        _passage(view, d, as_cited(url), as_cited(alt) if alt != url else None)
        for d, url, alt in zip(drafts, default, other, strict=True)
    )
    return Post(
        text=text, format=resolved, passages=passages, citations=citations, id=id, posted_at=posted_at
    )


def _passage(view: View, draft: _Draft, url: str | None, alt: str | None) -> Passage:
    return Passage(
        text=draft.text,
        span=view.raw_span(draft.start, draft.end),
        explicit=draft.explicit,
        cited_url=url,
        parts=tuple(_passage(view, part, url, alt) for part in draft.parts),
        alt_cited_url=alt,
        line_fragments=draft.line_fragments,
    )


def _key(url: str) -> str:
    """The fetch key of ``url``; for a URL never fetched (another scheme, a malformed host or
    port), the URL as written: it is still a citation, reported ``unsupported`` or ``bad_url``."""
    try:
        return normalize_url(url)
    except (UnsupportedURL, InvalidURL):
        return url


def _citations(found: Sequence[FoundURL]) -> tuple[Citation, ...]:
    """Every URL once, by fetch key, in order of first appearance."""
    seen: dict[str, Citation] = {}
    for f in found:
        key = _key(f.url)
        seen.setdefault(key, Citation(url=f.url, key=key, span=f.span))
    return tuple(seen.values())


class _AsCited:
    """The URL as its citation first wrote it (one post may write one URL several ways)."""

    def __init__(self, citations: Sequence[Citation]) -> None:
        self._by_key: dict[str, str] = {}
        for c in citations:
            self._by_key.setdefault(c.key, c.url)
        self._seen: dict[str, str] = {}

    def __call__(self, url: str | None) -> str | None:
        if url is None:
            return None
        if url not in self._seen:
            self._seen[url] = self._by_key.get(_key(url), url)
        return self._seen[url]


class _Marks:
    """URL marks and blockquote cites by view position, for bisection (blocks come in order)."""

    def __init__(self, marks: Sequence[tuple[int, str]], cites: Sequence[tuple[int, int, str]]) -> None:
        self.marks = marks
        self.mark_pos = [pos for pos, _ in marks]
        self.cites = sorted(cites)
        self.cite_starts = [a for a, _, _ in self.cites]

    def first_between(self, start: int, end: int) -> str | None:
        """The first URL mark in ``[start, end]``."""
        i = bisect_left(self.mark_pos, start)
        return self.marks[i][1] if i < len(self.marks) and self.marks[i][0] <= end else None

    def cite_at(self, pos: int) -> str | None:
        """The ``cite`` of the blockquote holding view position ``pos``."""
        i = bisect_right(self.cite_starts, pos) - 1
        if i < 0:  # cites are top-level blockquotes: they do not nest, so one look is enough
            return None
        a, b, url = self.cites[i]
        return url if a <= pos < b else None


def _render(text: str, *, markdown: bool) -> str:
    return render_markdown(text) if markdown else text


def _block_passages(view: View, block: Block, where: _Marks, *, markdown: bool) -> list[_Draft]:
    """The passages of one block: a blockquote, or a paragraph with its inline quotations."""
    source = view.text
    inline = where.first_between(block.start, block.end)
    cite = where.cite_at(block.start)
    own = cite or block.attrib_url or inline

    def draft(text: str, start: int, end: int, explicit: bool) -> _Draft:
        return _Draft(text, start, end, explicit, block.start, block.end, own)

    last: Line = block.lines[-1]
    if block.kind is BlockKind.QUOTE:
        # A blank ">" line is a paragraph break inside the quotation: each paragraph is its own
        # passage, since quoting two paragraphs with others left out between them is no splice.
        drafts = []
        for group in _paragraphs(block.lines, source):
            body = "\n".join(_render(source[ln.start : ln.end], markdown=markdown) for ln in group)
            if words(body) >= MIN_QUOTE_WORDS:
                drafts.append(replace(draft(body, group[0].start, group[-1].end, True), line_fragments=True))
        return drafts
    raw = source[block.start : last.end]
    quotes = [(qs, qe) for qs, qe in find_quotes(raw) if words(raw[qs:qe]) >= MIN_QUOTE_WORDS]
    drafts = [
        draft(_render(raw[qs:qe], markdown=markdown), block.start + qs, block.start + qe, True)
        for qs, qe in (_inside_spaces(raw, qs, qe) for qs, qe in quotes)
    ]
    if not quotes:
        if words(raw) >= MIN_PASSAGE_WORDS:
            drafts.append(draft(_render(raw, markdown=markdown), block.start, last.end, False))
        return drafts
    # Around inline quotes, the commentary is one passage only if there is enough of it: its
    # longest stretch between the quotes (the marks themselves left out).
    cuts = [0, *(edge for qs, qe in quotes for edge in (qs - 1, qe + 1)), len(raw)]
    pieces = [_strip_piece(raw, a, b) for a, b in zip(cuts[::2], cuts[1::2], strict=True)]
    frame = sum(words(raw[a:b]) for a, b in pieces)
    if frame >= MIN_COMMENTARY_WORDS:
        a, b = max(pieces, key=lambda p: words(raw[p[0] : p[1]]))
        if words(raw[a:b]) >= MIN_PASSAGE_WORDS:
            text = _render(raw[a:b], markdown=markdown)
            drafts.append(draft(text, block.start + a, block.start + b, False))
    drafts.sort(key=lambda d: d.start)
    if frame == 0:
        return drafts
    # A news paragraph quotes people too: the whole paragraph may be a copy whose quotation marks
    # are the article's. The verifier decides between the whole and its parts.
    whole = draft(_render(raw, markdown=markdown), block.start, last.end, False)
    return [replace(whole, parts=tuple(drafts))]


def _paragraphs(lines: Sequence[Line], source: str) -> list[list[Line]]:
    """Runs of non-empty lines."""
    groups: list[list[Line]] = [[]]
    for line in lines:
        if source[line.start : line.end].strip():
            groups[-1].append(line)
        elif groups[-1]:
            groups.append([])
    return [g for g in groups if g]


def _inside_spaces(text: str, start: int, end: int) -> tuple[int, int]:
    """A quotation without the spaces that set it apart from its marks (« … »)."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _strip_piece(text: str, start: int, end: int) -> tuple[int, int]:
    """Trim whitespace and the punctuation a quotation leaves at the edges of its frame."""
    while start < end and (text[start].isspace() or text[start] in ",;:.!?)—–-"):
        start += 1
    while end > start and (text[end - 1].isspace() or text[end - 1] in ",;:(—–-"):
        end -= 1
    return start, end


@dataclass(frozen=True, slots=True)
class _UrlLine:
    pos: int
    url: str
    introduces: bool
    closes: bool


def _attach(
    drafts: Sequence[_Draft], url_lines: Sequence[_UrlLine], citations: Sequence[Citation]
) -> tuple[list[str | None], list[str | None]]:
    """Each passage's URL: its own, the post's only one, or its URL line by the post's convention.

    URLs stand below their passages (the seed's style) when more passages precede the first URL
    line than follow the last one (a lead or tail comment is outvoted); on a tie, when the first
    passage comes before the first URL line. Otherwise URLs stand above what they introduce.
    The second list is the attachment under the other convention, for the verifier to weigh.
    """
    if not citations:
        none: list[str | None] = [None] * len(drafts)
        return none, none
    if len(citations) == 1:
        only: list[str | None] = [citations[0].url] * len(drafts)
        return only, only
    if not url_lines or not drafts:
        own: list[str | None] = [d.own_url for d in drafts]
        return own, own
    leading = sum(d.start < url_lines[0].pos for d in drafts)
    trailing = sum(d.block_start > url_lines[-1].pos for d in drafts)
    below = leading > trailing if leading != trailing else drafts[0].start < url_lines[0].pos
    positions = [u.pos for u in url_lines]
    return (
        [d.own_url or _between(d, url_lines, positions, below=below) for d in drafts],
        [d.own_url or _between(d, url_lines, positions, below=not below) for d in drafts],
    )


def _between(d: _Draft, url_lines: Sequence[_UrlLine], positions: Sequence[int], *, below: bool) -> str:
    """The URL line a passage belongs to among the two around it (``positions``: theirs, sorted).

    "From <url>:" heads what follows and "— <url>" signs what precedes, whatever the post's
    convention; otherwise the convention decides.
    """
    before_end = bisect_left(positions, d.block_start)  # url_lines[:before_end] stand before
    after_start = bisect_left(positions, d.block_end)  # url_lines[after_start:] stand after
    if before_end == 0 or after_start == len(url_lines):
        return url_lines[before_end - 1 if before_end else min(after_start, len(url_lines) - 1)].url
    before, after = url_lines[before_end - 1], url_lines[after_start]
    if before.introduces and not after.closes:
        return before.url
    if after.closes and not before.introduces:
        return after.url
    return after.url if below else before.url
