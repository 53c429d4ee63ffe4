"""A post's HTML rendered to plain lines that remember where each character came from.

Private helper of ``posts``. The block finder reads text lines; for HTML it reads this rendering:
block elements become blank-line-separated paragraphs, ``<br>`` a line break, ``<blockquote>``
lines get a ``> `` marker, ``<q>`` gets curly quote marks, ``<pre>`` a code fence. Every rendered
character keeps the raw offsets it was made from, so passage spans point into the submitted HTML.
The tokenizer is the stdlib's ``html.parser`` because, unlike lxml, it reports source positions.
"""

from __future__ import annotations

import html
import re
from bisect import bisect_right
from dataclasses import dataclass
from html.parser import HTMLParser

_BLOCK_TAGS = frozenset(
    {
        "p", "div", "blockquote", "li", "ul", "ol", "dl", "dt", "dd", "h1", "h2", "h3", "h4", "h5", "h6",
        "pre", "table", "tr", "td", "th", "section", "article", "header", "footer", "figure",
        "figcaption", "hr", "main", "aside", "nav", "address", "details", "summary", "form", "fieldset",
    }
)  # fmt: skip
_SKIP_TAGS = frozenset(
    {"script", "style", "template", "head", "title", "noscript", "iframe", "object", "svg", "math"}
)
_VOID_TAGS = frozenset(
    {"br", "hr", "img", "input", "meta", "link", "wbr", "area", "base", "col", "embed", "source", "track"}
)
_ENTITY_RE = re.compile(r"&#?[0-9A-Za-z]+;?")
_END = 2**63  # sorts after any offset
_HREF_CONTEXT_RE = re.compile(r"""(?:href|cite)\s*=\s*["']?$""", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class View:
    """Rendered text plus, per character, the raw ``[start, end)`` it came from (None: identity)."""

    text: str
    raw_len: int
    starts: tuple[int, ...] | None = None
    ends: tuple[int, ...] | None = None
    cites: tuple[tuple[int, int, str], ...] = ()  # (view start, view end, cite URL) of blockquotes
    visible: tuple[tuple[int, int], ...] = ()  # raw ranges of rendered text (HTML only)
    links: tuple[tuple[int, int], ...] = ()  # view spans of <a href> texts

    def raw_span(self, start: int, end: int) -> tuple[int, int]:
        """Map a view span to the raw post; always inside ``[0, raw_len]``."""
        if self.starts is None or self.ends is None:
            return (start, end)
        if start >= end or start >= len(self.starts):
            pos = self.starts[start] if start < len(self.starts) else self.raw_len
            return (pos, pos)
        begin = self.starts[start]
        return (begin, max(begin, self.ends[end - 1]))

    def view_pos(self, raw: int) -> int:
        """The first view character made from raw offset ``raw`` or later."""
        if self.starts is None:
            return raw
        lo, hi = 0, len(self.starts)
        while lo < hi:
            mid = (lo + hi) // 2
            if self.starts[mid] < raw:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def in_attribute(self, raw_start: int, raw: str) -> bool:
        """For HTML, whether a URL is an ``href``/``cite`` value rather than visible text."""
        before = raw[max(0, raw_start - 16) : raw_start]
        return self.starts is not None and bool(_HREF_CONTEXT_RE.search(before))

    def keeps_url(self, raw_start: int, raw: str) -> bool:
        """For HTML, a citation is an href/cite value or a URL in visible text, not an img src."""
        if self.starts is None:
            return True
        if _HREF_CONTEXT_RE.search(raw[max(0, raw_start - 16) : raw_start]):
            return True
        i = bisect_right(self.visible, (raw_start, _END)) - 1  # ranges come in order and never overlap
        return i >= 0 and self.visible[i][0] <= raw_start < self.visible[i][1]


def text_view(text: str) -> View:
    """Plain text and Markdown are read as they are."""
    return View(text=text, raw_len=len(text))


class _Renderer(HTMLParser):
    def __init__(self, raw: str) -> None:
        super().__init__(convert_charrefs=False)
        self.raw = raw
        self.line_starts = [0] + [i + 1 for i, ch in enumerate(raw) if ch == "\n"]
        self.out: list[str] = []
        self.starts: list[int] = []
        self.ends: list[int] = []
        self.visible: list[tuple[int, int]] = []
        self.cites: list[tuple[int, int, str]] = []
        self.skip = 0
        self.pre = 0
        self.quote = 0
        self.cite_open: tuple[int, str] | None = None
        self.links: list[tuple[int, int]] = []
        self.link_open: int | None = None

    def _pos(self) -> int:
        line, col = self.getpos()
        return self.line_starts[line - 1] + col

    def _put(self, ch: str, start: int, end: int) -> None:
        if self.quote and ch != "\n" and (not self.out or self.out[-1] == "\n"):
            for marker in "> ":
                self.out.append(marker)
                self.starts.append(start)
                self.ends.append(start)
        self.out.append(ch)
        self.starts.append(start)
        self.ends.append(end)

    def _text(self, text: str, start: int, end: int, *, raw_chars: bool) -> None:
        for i, ch in enumerate(text):
            s, e = (start + i, start + i + 1) if raw_chars else (start, end)
            if ch == _DEAD_LT and raw_chars and self.raw[s] == "<":
                ch = "<"
            if self.pre:
                self._put(ch, s, e)
            elif ch.isspace() and ch != "\u00a0":
                if self.out and self.out[-1] not in " \n":
                    self._put(" ", s, e)
            else:
                self._put(ch, s, e)

    def _newline(self, pos: int) -> None:
        while self.out and self.out[-1] == " ":
            self.out.pop()
            self.starts.pop()
            self.ends.pop()
        self._put("\n", pos, pos)

    def _break(self, pos: int) -> None:
        """End the paragraph: a blank line, or an empty ``>`` line inside a blockquote."""
        if not self.out:
            return
        if self.out[-1] != "\n":
            self._newline(pos)
        tail = "".join(self.out[-3:])
        if self.quote:
            if not tail.endswith(">\n"):
                self._put(">", pos, pos)
                self._newline(pos)
        elif not tail.endswith("\n\n"):
            self._newline(pos)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        pos = self._pos()
        if tag in _SKIP_TAGS:
            self.skip += tag not in _VOID_TAGS
            return
        if tag == "a" and dict(attrs).get("href"):
            self.link_open = len(self.out)
        elif tag == "br":
            self._newline(pos)
        elif tag == "q":
            self._put("“", pos, pos)
        elif tag in _BLOCK_TAGS:
            self._break(pos)
            if tag == "blockquote":
                self.quote += 1
                cite = dict(attrs).get("cite") or ""
                if self.quote == 1 and cite.lower().startswith(("http://", "https://")):
                    self.cite_open = (len(self.out), cite)
            elif tag == "pre":
                self.pre += 1
                self._text("```\n", pos, pos, raw_chars=False)

    def handle_endtag(self, tag: str) -> None:
        pos = self._pos()
        if tag in _SKIP_TAGS:
            self.skip = max(0, self.skip - 1)
        elif tag == "a" and self.link_open is not None:
            self.links.append((self.link_open, len(self.out)))
            self.link_open = None
        elif tag == "q":
            self._put("”", pos, pos)
        elif tag in _BLOCK_TAGS and tag not in _VOID_TAGS:
            if tag == "pre" and self.pre:
                self._newline(pos)
                self.pre -= 1
                self._text("```", pos, pos, raw_chars=False)
            self._break(pos)
            if tag == "blockquote" and self.quote:
                self.quote -= 1
                if self.quote == 0 and self.cite_open is not None:
                    self.cites.append((self.cite_open[0], len(self.out), self.cite_open[1]))
                    self.cite_open = None
                self._break(pos)

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        start = self._pos()
        self.visible.append((start, start + len(data)))
        self._text(data, start, start + len(data), raw_chars=True)

    def _entity(self) -> None:
        if self.skip:
            return
        start = self._pos()
        match = _ENTITY_RE.match(self.raw, start)
        end = match.end() if match else start + 1
        self._text(html.unescape(self.raw[start:end]), start, end, raw_chars=False)

    def handle_entityref(self, name: str) -> None:
        self._entity()

    def handle_charref(self, name: str) -> None:
        self._entity()


_COMMENT_CLOSE_RE = re.compile(r"--\s*>")  # html.parser's own closers
_SECTION_CLOSE_RE = re.compile(r"]\s*]\s*>")
_DEAD_LT = "\ue000"  # stands for a "<" that opens nothing; rendered back as "<"


def _last_end(pattern: re.Pattern[str], raw: str) -> int:
    last = -1
    for last_match in pattern.finditer(raw):
        last = last_match.start()
    return last


def _defused(raw: str) -> str:
    """``raw`` with every ``<`` that can never close replaced by ``_DEAD_LT`` (same length).

    html.parser, at the end of its input, looks for the end of each unfinished construct from
    where it starts to the end of the text: ``<a `` or ``<!--`` ten thousand times with no
    ``>`` or ``-->`` after them cost it a hundred million steps. A ``<`` after the last ``>``,
    a ``<!--`` after the last comment close and a ``<![`` after the last ``]]>`` open nothing it
    could finish; the parser would give them back as text, and so do we, at once.
    """
    last_gt = raw.rfind(">")
    last_comment = _last_end(_COMMENT_CLOSE_RE, raw) if "<!--" in raw else -1
    last_section = _last_end(_SECTION_CLOSE_RE, raw) if "<![" in raw else -1
    out = list(raw) if "<" in raw[last_gt + 1 :] or "<!" in raw else None
    if out is None:
        return raw
    for i in range(len(raw)):
        if raw[i] != "<":
            continue
        if (
            i > last_gt
            or (i > last_comment and raw.startswith("<!--", i))
            or (i > last_section and raw.startswith("<![", i))
        ):
            out[i] = _DEAD_LT
    return "".join(out)


def html_view(raw: str) -> View:
    """Render ``raw`` HTML to lines with a raw-offset map; never raises on bad markup."""
    renderer = _Renderer(raw)
    renderer.feed(_defused(raw))
    renderer.close()
    return View(
        text="".join(renderer.out),
        raw_len=len(raw),
        starts=tuple(renderer.starts),
        ends=tuple(renderer.ends),
        cites=tuple(renderer.cites),
        visible=tuple(renderer.visible),
        links=tuple(renderer.links),
    )
