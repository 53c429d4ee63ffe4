"""Reading a post: which passages it quotes or copies, which URLs it cites, and which goes with which.

Pure, no I/O. The post is read as lines (plain text and Markdown as written; HTML through a
rendering that maps each character back to the raw markup, see ``html.py``). Lines become
blocks (``blocks.py``; quotation marks in ``quotes.py``); blocks become passages: explicit ones
(quotation marks, blockquotes, greentext) and unmarked paragraphs, which the verifier later judges
copied or the poster's own. Which URLs cite is read in ``citing.py`` (link texts and sites named by
copied words are none; reference lists and markers), the poster's frame at a paragraph's edges is
cut in ``frame.py``, and the attachment rules are in ``attach.py``.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from service.pipeline.errors import InputError, InvalidURL, UnsupportedURL
from service.pipeline.models import Citation, InputFormat, Passage, Post
from service.pipeline.posts.attach import MAX_CITED_TOGETHER, Placed, Urls, attach, citing_lines, references
from service.pipeline.posts.blocks import (
    Block,
    BlockKind,
    Line,
    build_blocks,
    classify_lines,
    has_words,
    words,
)
from service.pipeline.posts.citing import RefMarker, cited_urls, find_markers, strip_markers
from service.pipeline.posts.frame import frame_edges, marker_segments
from service.pipeline.posts.html import View, html_view, text_view
from service.pipeline.posts.markdown import render_markdown
from service.pipeline.posts.quotes import find_quotes
from service.pipeline.urls import FoundURL, extract_urls, normalize_url

__all__ = ["check_length", "detect_format", "parse_post"]

MAX_POST_CHARS = 100_000
"""The longest post read by default (``verify``, batch lines, the API; ``PostSettings.max_chars``
sets it per run): reading is linear, and this bounds it to about a second of CPU whatever the
post holds (the worst shapes, a line per short sentence, cost ~10 µs a character)."""
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
    own: Urls  # a cite attribute, an attribution line, inline links or reference markers
    parts: tuple[_Draft, ...] = ()  # a paragraph's inline quotations and commentary
    line_fragments: bool = False  # the lines of a ">" quotation: each may quote on its own


def parse_post(
    text: str,
    fmt: InputFormat | str = InputFormat.AUTO,
    *,
    id: str | None = None,
    posted_at: datetime | None = None,
    max_chars: int = MAX_POST_CHARS,
) -> Post:
    """Passages and citations of one post, each passage attached to the URL it stands with; a
    post over ``max_chars`` characters is refused (``InputError``) before it is read."""
    try:
        fmt = InputFormat(fmt)
    except ValueError as exc:
        raise InputError(f"unknown input format: {fmt!r}") from exc
    check_length(text, max_chars)
    resolved = detect_format(text) if fmt is InputFormat.AUTO else fmt
    view = html_view(text) if resolved is InputFormat.HTML else text_view(text)
    found = [f for f in extract_urls(text, every=True) if view.keeps_url(f.span[0], text)]
    kept = cited_urls(
        found, view.text, [view.view_pos(f.span[0]) for f in found], links=view.links,
        html=resolved is InputFormat.HTML, in_attribute=[view.in_attribute(f.span[0], text) for f in found],
    )  # fmt: skip
    citations = _citations([f for f, _ in kept])
    marks = [(pos, f.url) for f, pos in kept]
    lines = classify_lines(
        view.text,
        marks,
        markdown=resolved is InputFormat.MARKDOWN,
        fences=resolved is not InputFormat.TEXT,
        links=view.links,
    )
    blocks = build_blocks(lines, view.text, greentext=resolved is InputFormat.TEXT)
    refs = references(lines, view.text)
    ctx = _Context(view, _Marks(marks, view.cites), refs, markdown=resolved is InputFormat.MARKDOWN)
    drafts = [d for block in blocks for d in _block_passages(ctx, block)]
    url_lines = citing_lines(lines)
    default, other = attach(
        [Placed(d.start, d.block_start, d.block_end, d.own) for d in drafts],
        url_lines,
        tuple(c.url for c in citations),
        everywhere=tuple(dict.fromkeys(refs.values()))[:MAX_CITED_TOGETHER] if ctx.used_refs else (),
    )
    as_cited = _AsCited(citations)
    passages = tuple(
        _passage(view, d, urls, alt, as_cited) for d, urls, alt in zip(drafts, default, other, strict=True)
    )
    return Post(
        text=text, format=resolved, passages=passages, citations=citations, id=id, posted_at=posted_at
    )


def check_length(text: str, max_chars: int) -> None:
    """Refuse a post over the cap, saying how long it is."""
    if len(text) > max_chars:
        raise InputError(f"post is longer than {max_chars:,} characters ({len(text):,})")


def _passage(view: View, draft: _Draft, urls: Urls, alt: Urls, as_cited: _AsCited) -> Passage:
    group = tuple(dict.fromkeys(u for u in map(as_cited, urls) if u is not None))
    other = as_cited(alt[0]) if alt and len(group) == 1 and len(alt) == 1 and alt != urls else None
    return Passage(
        text=draft.text,
        span=view.raw_span(draft.start, draft.end),
        explicit=draft.explicit,
        cited_url=group[0] if group else None,
        parts=tuple(_passage(view, part, urls, alt, as_cited) for part in draft.parts),
        alt_cited_url=other,
        also_cited=group[1:],
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

    def between(self, start: int, end: int) -> Urls:
        """The URL marks in ``[start, end]``, each once, in order."""
        i, j = bisect_left(self.mark_pos, start), bisect_right(self.mark_pos, end)
        return tuple(dict.fromkeys(url for _, url in self.marks[i:j]))[:MAX_CITED_TOGETHER]

    def cite_at(self, pos: int) -> str | None:
        """The ``cite`` of the blockquote holding view position ``pos``."""
        i = bisect_right(self.cite_starts, pos) - 1
        if i < 0:  # cites are top-level blockquotes: they do not nest, so one look is enough
            return None
        a, b, url = self.cites[i]
        return url if a <= pos < b else None


def _render(text: str, *, markdown: bool) -> str:
    return render_markdown(text) if markdown else text


class _Context:
    """What reading a block needs of the whole post; notes whether any reference marker was used."""

    def __init__(self, view: View, where: _Marks, refs: dict[int, str], *, markdown: bool) -> None:
        self.view, self.where, self.refs, self.markdown = view, where, refs, markdown
        self.used_refs = False

    def render(self, text: str) -> str:
        text = _render(text, markdown=self.markdown)
        return strip_markers(text, self.refs) if self.refs else text

    def cited_by(self, numbers: Sequence[int]) -> Urls:
        self.used_refs = self.used_refs or bool(numbers)
        return tuple(dict.fromkeys(self.refs[n] for n in numbers))


def _block_passages(ctx: _Context, block: Block) -> list[_Draft]:
    """The passages of one block: a blockquote, or a paragraph with its inline quotations, cut
    at its reference markers when it has any."""
    source = ctx.view.text
    end = block.end  # walks the block's lines: read once, not once per passage
    if not has_words(source, block.start, end, MIN_QUOTE_WORDS):
        return []  # too few words for any passage: rendering and cutting only ever remove words
    cite = ctx.where.cite_at(block.start)
    own = (cite,) if cite else block.attrib_urls or ctx.where.between(block.start, end)
    last: Line = block.lines[-1]
    markers = find_markers(source, block.start, last.end, ctx.refs) if ctx.refs else []
    if block.kind is BlockKind.QUOTE:
        # A blank ">" line is a paragraph break inside the quotation: each paragraph is its own
        # passage, since quoting two paragraphs with others left out between them is no splice.
        own = ctx.cited_by([n for m in markers for n in m.numbers]) or own
        drafts = []
        for group in _paragraphs(block.lines, source):
            a, b = frame_edges(
                source, group[0].start, group[-1].end, marks=ctx.where.mark_pos, markers=markers
            )
            kept = [(max(ln.start, a), min(ln.end, b)) for ln in group if max(ln.start, a) < min(ln.end, b)]
            body = "\n".join(ctx.render(source[x:y]) for x, y in kept)
            if kept and words(body) >= MIN_QUOTE_WORDS:
                drafts.append(
                    _Draft(body, kept[0][0], kept[-1][1], True, block.start, end, own, line_fragments=True)
                )
        return drafts
    return [
        d
        for a, b, numbers in marker_segments(source, block.start, last.end, markers)
        for d in _text_passages(ctx, (block.start, end), (a, b), ctx.cited_by(numbers) or own, markers)
    ]


def _text_passages(
    ctx: _Context, block: tuple[int, int], span: tuple[int, int], own: Urls, markers: Sequence[RefMarker]
) -> list[_Draft]:
    """A paragraph (or a piece of one) without its frame's edges, with its inline quotations."""
    a, b = frame_edges(ctx.view.text, *span, marks=ctx.where.mark_pos, markers=markers)
    raw = ctx.view.text[a:b]

    def draft(start: int, end: int, explicit: bool) -> _Draft:
        text = ctx.render(raw[start:end])
        return _Draft(text, a + start, a + end, explicit, *block, own)

    quotes = [(qs, qe) for qs, qe in find_quotes(raw) if words(raw[qs:qe]) >= MIN_QUOTE_WORDS]
    drafts = [draft(qs, qe, True) for qs, qe in (_inside_spaces(raw, qs, qe) for qs, qe in quotes)]
    if not quotes:
        return [draft(0, len(raw), False)] if words(raw) >= MIN_PASSAGE_WORDS else []
    # Around inline quotes, the commentary is one passage only if there is enough of it: its
    # longest stretch between the quotes (the marks themselves left out).
    cuts = [0, *(edge for qs, qe in quotes for edge in (qs - 1, qe + 1)), len(raw)]
    pieces = [_strip_piece(raw, x, y) for x, y in zip(cuts[::2], cuts[1::2], strict=True)]
    frame = sum(words(raw[x:y]) for x, y in pieces)
    if frame >= MIN_COMMENTARY_WORDS:
        x, y = max(pieces, key=lambda p: words(raw[p[0] : p[1]]))
        edges = frame_edges(ctx.view.text, a + x, a + y, marks=ctx.where.mark_pos, markers=markers)
        x, y = edges[0] - a, edges[1] - a
        if words(raw[x:y]) >= MIN_PASSAGE_WORDS:
            drafts.append(draft(x, y, False))
    drafts.sort(key=lambda d: d.start)
    if frame == 0:
        return drafts
    # A news paragraph quotes people too: the whole paragraph may be a copy whose quotation marks
    # are the article's. The verifier decides between the whole and its parts.
    return [replace(draft(0, len(raw), False), parts=tuple(drafts))]


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
