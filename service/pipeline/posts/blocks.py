"""Lines and blocks: the pieces ``reader.py`` builds passages from.

Everything here works on a view text (the post itself, or its HTML rendering) and view offsets.
Lines are classified once (quote, text, URL-only, dropped); consecutive lines of one kind inside
one paragraph form a block. Quotation marks are found by ``quotes.py``, Markdown inline syntax
undone by ``markdown.py``.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from itertools import islice
from typing import NamedTuple

from service.pipeline.posts.citing import is_reference_entry
from service.pipeline.posts.quotes import QuoteScanner
from service.pipeline.urls import extract_urls


class BlockKind(Enum):
    BLANK = "blank"
    TEXT = "text"
    QUOTE = "quote"
    HEADING = "heading"
    URL = "url"
    DROP = "drop"


class Line(NamedTuple):
    """One line: its kind, its content's view span (markers stripped) and its paragraph.

    Immutable like a frozen dataclass, but built in a third of the time: a post holds up to half
    a million lines, and a frozen dataclass's ``__init__`` set each of these nine fields by hand.
    """

    kind: BlockKind
    start: int
    end: int
    para: int
    url: str | None = None
    urls: tuple[str, ...] = ()  # every URL of a URL line, ``url`` first ("Sources: <a>, <b>")
    attribution: bool = False
    introduces: bool = False  # a URL line ending in ':' ("From <url>:") heads what follows
    closes: bool = False  # a dash-led URL line ("— <url>") signs what precedes


@dataclass(slots=True)
class Block:
    """Consecutive quote lines, text lines or one heading, within one paragraph."""

    kind: BlockKind
    lines: list[Line]
    attrib_urls: tuple[str, ...] = ()
    extra: list[Line] = field(default_factory=list)

    @property
    def start(self) -> int:
        return self.lines[0].start

    @property
    def end(self) -> int:
        return max(line.end for line in [*self.lines, *self.extra])


_BLANK_CHARS = "\u200b\u200c\u200d\u2060\ufeff"
_QUOTE_MARK_RE = re.compile(r"[ \t]{0,3}(?:>[ \t]?)+")
_REPLY_RE = re.compile(r"[ \t]*(?:(?:>>\d+|>>>/\w+/\d*)[ \t]*)+")
_FENCE_RE = re.compile(r"(?:```|~~~)")
_HEADING_RE = re.compile(r"[ \t]{0,3}#{1,6}(?:[ \t]+|$)")
_RULE_RE = re.compile(r"[ \t]{0,3}(?:[-*_=][ \t]*){3,}")
_COUNTER_RE = re.compile(r"[\s\d.,:;/()+#%-]*")
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_DATE_RE = re.compile(
    rf"(?:(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*,?\s+)?"
    rf"(?:{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}|\d{{1,2}}\s+{_MONTH},?\s+\d{{4}}"
    rf"|\d{{4}}-\d{{2}}-\d{{2}}|\d{{1,2}}[/.]\d{{1,2}}[/.]\d{{2,4}})"
    rf"(?:[\sT,]+(?:\(\w{{2,3}}\)\s*)?\d{{1,2}}:\d{{2}}(?::\d{{2}})?\s*(?:[ap]\.?m\.?|z|utc|gmt)?)?",
    re.IGNORECASE,
)
_HEADER_RE = re.compile(
    r"(?:\d{1,2}/\d{1,2}/\d{2,4}|\d{4}-\d{2}-\d{2}).*\bNo\.?\s*\d{3,}\b|^\s*No\.\s*\d+\s*$"
)
_SIGNATURE_RE = re.compile(r"(?:--|—|–|~)\s*\S+(?:\s+\S+){0,3}|sent from my\b.*", re.IGNORECASE)
_ATTRIBUTION_RE = re.compile(
    r"[—–~-]|\(?\s*(?:source|sources|via|from|credit|h/t|cf\.?|see|link|quelle|read more)\b", re.IGNORECASE
)
_ATTRIBUTION_WORDS = frozenset(
    {"source", "sources", "via", "from", "credit", "h", "t", "cf", "see", "link", "quelle", "read", "more"}
    | {"here"}
)
_URL_LINE_WORDS = 3  # words besides URLs and attribution words on a line that only cites
MAX_URLS_ON_A_LINE = 10  # cited together by the passages under the line; more is a link dump
MAX_LEAD_IN_WORDS = 16  # "The [BBC](url) wrote this today:": a lead-in carries its link to what follows
_POST_WORD_RE = re.compile(r"\w+(?:['’.-]\w+)*")


def words(text: str) -> int:
    """Words in ``text``, URLs not counted."""
    for found in reversed(extract_urls(text)):
        text = text[: found.span[0]] + " " + text[found.span[1] :]
    return len(_POST_WORD_RE.findall(text))


def has_words(text: str, start: int, end: int, count: int) -> bool:
    """Whether ``text[start:end]`` holds at least ``count`` words, URLs counted: an upper bound
    of ``words`` of any passage cut from it, so a block below it needs no closer reading (a post
    of one-word lines is a hundred thousand such blocks). Stops at the ``count``-th word."""
    return sum(1 for _ in islice(_POST_WORD_RE.finditer(text, start, end), count)) >= count


def is_blank(line: str) -> bool:
    """Whitespace only, non-breaking and zero-width spaces included."""
    return not line.strip().strip(_BLANK_CHARS).strip()


def _is_dropped(content: str) -> bool:
    """Board headers, bare dates, counters, signatures and rules are never passages."""
    return bool(
        _COUNTER_RE.fullmatch(content)
        or _DATE_RE.fullmatch(content.strip())
        or _HEADER_RE.search(content)
        or _SIGNATURE_RE.fullmatch(content.strip())
        or _RULE_RE.fullmatch(content)
    )


def _url_line(
    text: str, start: int, end: int, marks: Sequence[tuple[int, str]], st: _State
) -> tuple[tuple[str, ...], int]:
    """The URLs on a line, and how many words it holds besides URLs, link labels and attribution
    words (a URL line holds at most 3; a lead-in ending in ':' a few more)."""
    first = bisect_left(st.mark_pos, start)
    if first >= len(marks) or marks[first][0] >= end:
        return (), 0
    content = text[start:end]
    # Link texts on this line blanked out: only the spans that overlap it are visited.
    i = max(0, bisect_left(st.link_ends, start + 1))
    pieces, at = [], start
    while i < len(st.links) and st.links[i][0] < end:
        a, b = max(st.links[i][0], at), min(st.links[i][1], end)
        if a < b:
            pieces += [text[at:a], " " * (b - a)]
            at = b
        i += 1
    kept = "".join([*pieces, text[at:end]]) if pieces else content
    rest = [w.lower() for w in _POST_WORD_RE.findall(_without_urls(kept))]
    last = bisect_left(st.mark_pos, end, lo=first)
    urls = tuple(dict.fromkeys(url for _, url in marks[first:last]))[:MAX_URLS_ON_A_LINE]
    return urls, len([w for w in rest if w not in _ATTRIBUTION_WORDS])


def _without_urls(text: str) -> str:
    for found in reversed(extract_urls(text)):
        text = text[: found.span[0]] + text[found.span[1] :]
    return text


def _line_ranges(text: str) -> list[tuple[int, int]]:
    ranges, pos = [], 0
    for line in text.split("\n"):
        ranges.append((pos, pos + len(line)))
        pos += len(line) + 1
    return ranges


@dataclass(slots=True)
class _State:
    markdown: bool
    fences: bool
    links: Sequence[tuple[int, int]]  # sorted by start
    link_ends: Sequence[int]  # running maximum of the links' ends, for bisection
    mark_pos: Sequence[int]
    para: int = 0
    blank: bool = True
    in_fence: bool = False
    after_signature: bool = False


def _classify(text: str, start: int, end: int, marks: Sequence[tuple[int, str]], st: _State) -> Line:
    raw = text[start:end]
    quoted = False
    reply = _REPLY_RE.match(raw)
    if reply:
        start += reply.end()
    elif quote := _QUOTE_MARK_RE.match(raw):
        quoted, start = True, start + quote.end()
    content = text[start:end].rstrip()
    end = start + len(content)
    if st.fences and _FENCE_RE.match(content.lstrip()):
        st.in_fence = not st.in_fence
        return Line(BlockKind.DROP, start, end, st.para)
    if st.in_fence or (reply and not content.strip()):
        return Line(BlockKind.DROP, start, end, st.para)
    urls, prose = _url_line(text, start, end, marks, st)
    lead_in = content.endswith(":") and prose <= MAX_LEAD_IN_WORDS
    if urls and (prose <= _URL_LINE_WORDS or lead_in or is_reference_entry(content)):
        attribution = bool(_ATTRIBUTION_RE.match(content.lstrip()))
        closes = content.lstrip().startswith(("—", "–", "--", "~"))
        return Line(
            BlockKind.URL, start, end, st.para, urls[0], urls, attribution, content.endswith(":"), closes
        )
    if content.strip() in ("--", "-- "):
        st.after_signature = True
    if quoted:
        return Line(BlockKind.QUOTE, start, end, st.para)
    if st.after_signature or _is_dropped(content):
        return Line(BlockKind.DROP, start, end, st.para)
    heading = _HEADING_RE.match(content) if st.markdown else None
    if heading:
        body = content[heading.end() :].rstrip("# \t")
        return Line(BlockKind.HEADING, start + heading.end(), start + heading.end() + len(body), st.para)
    lead = len(content) - len(content.lstrip())
    return Line(BlockKind.TEXT, start + lead, end, st.para)


_MD_LINK_RE = re.compile(r"!?\[[^\]\n]*\]\((?:[^()\s]|\([^()\s]*\))*(?:\s+\"[^\"\n]*\")?\)")


def classify_lines(
    text: str,
    marks: Sequence[tuple[int, str]],
    *,
    markdown: bool,
    fences: bool,
    links: Sequence[tuple[int, int]] = (),
) -> list[Line]:
    """Classify every line of ``text``.

    ``marks`` are (view position, URL as written); ``links`` the view spans of HTML link texts.
    Markdown links are found here.
    """
    if markdown:
        links = [*links, *((m.start(), m.end()) for m in _MD_LINK_RE.finditer(text))]
    spans = sorted(links)
    ends, top = [], 0
    for _, b in spans:
        top = max(top, b)
        ends.append(top)
    st = _State(markdown, fences, spans, ends, [pos for pos, _ in marks])
    lines: list[Line] = []
    for start, end in _line_ranges(text):
        if is_blank(text[start:end]):
            if not st.blank:
                st.para += 1
            st.blank = True
            lines.append(Line(BlockKind.BLANK, start, start, st.para))
            continue
        st.blank = False
        lines.append(_classify(text, start, end, marks, st))
    return lines


_SENTENCE_END_RE = re.compile(r"[.!?…]['\"”’)\]]*$")


def _continues(
    text: str, block: Block | None, line: Line, scanner: QuoteScanner | None, *, greentext: bool
) -> bool:
    """Whether ``line`` carries on ``block``: same kind and paragraph, and (for text and
    greentext) the block's last line stops mid-sentence or inside an open quotation, as a
    hard-wrapped line does. Lines that each end a sentence are separate passages. ``scanner``
    reads the block's quotation marks once, however long it grows."""
    if block is None or block.kind is not line.kind or block.lines[-1].para != line.para:
        return False
    if line.kind is BlockKind.QUOTE and not greentext:
        return True
    last = text[block.lines[-1].start : block.lines[-1].end]
    if not _SENTENCE_END_RE.search(last):
        return True
    return scanner is not None and scanner.open_at(block.lines[-1].end)


def build_blocks(lines: Sequence[Line], text: str, *, greentext: bool) -> list[Block]:
    """Group lines into blocks; an attribution URL line right after a blockquote joins it."""
    blocks: list[Block] = []
    current: Block | None = None
    last_closed: Block | None = None
    gap = 0  # blank lines since last_closed ended
    scanner: QuoteScanner | None = None
    for line in lines:
        joinable = _continues(text, current, line, scanner, greentext=greentext)
        if line.kind in (BlockKind.TEXT, BlockKind.QUOTE) and joinable and current is not None:
            current.lines.append(line)
            continue
        if current is not None:
            blocks.append(current)
            last_closed, gap, current = current, 0, None
        if line.kind is BlockKind.BLANK:
            gap += 1
        elif line.kind is BlockKind.URL:
            # "From <url>:" heads what follows, so it never signs the quote before it; after a
            # blank line only a dash-led "— <url>" does ("Source: <url>" may head the next one).
            signs = not line.introduces and (gap == 0 or (line.closes and gap <= 2))
            near = last_closed is not None and signs
            if near and last_closed is not None and last_closed.kind is BlockKind.QUOTE:
                last_closed.attrib_urls = last_closed.attrib_urls or line.urls
                last_closed.extra.append(line)
            last_closed = None
        elif line.kind in (BlockKind.TEXT, BlockKind.QUOTE, BlockKind.HEADING):
            current = Block(line.kind, [line])
            scanner = QuoteScanner(text, lo=line.start)
        else:
            last_closed = None
    if current is not None:
        blocks.append(current)
    return [_trim_quote(b) for b in blocks]


def _trim_quote(block: Block) -> Block:
    """Empty ``>`` lines at the edges of a blockquote are not part of it."""
    lines = block.lines
    first, last = 0, len(lines)
    while last - first > 1 and lines[first].start == lines[first].end:
        first += 1
    while last - first > 1 and lines[last - 1].start == lines[last - 1].end:
        last -= 1
    return Block(block.kind, lines[first:last], block.attrib_urls, block.extra)
