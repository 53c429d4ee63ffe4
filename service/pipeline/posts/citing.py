"""Which URLs of a post are citations, read the way a reader reads them.

Private helper of ``posts``, pure. A URL is written into a post for one of three reasons: to cite
a page, as the visible text of a link that cites another (``[www.bbc.com](url)``), or because the
copied text itself names a site (``…; www.usef.org.``). Only the first is a citation: a link's
label is the link, and a site named inside copied words is part of the quotation. Numbered
references are read here too: ``[1] https://…`` lines and the ``[1]`` markers that point to them.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from yarl import URL

from service.pipeline.errors import InvalidURL, UnsupportedURL
from service.pipeline.posts.quotes import find_quotes
from service.pipeline.urls import URL_PARSE_ERRORS, FoundURL, normalize_url

__all__ = ["RefMarker", "cited_urls", "find_markers", "is_reference_entry", "ref_number", "strip_markers"]

_MD_LABEL_RE = re.compile(r"!?\[([^\]\n]*)\]\(")
_WORD_RE = re.compile(r"\w+(?:['’.-]\w+)*")
# Words that sit on a citation line without making it prose ("Source: <url>", "via <url>").
_CITING_WORDS = frozenset(
    {"source", "sources", "via", "from", "credit", "h", "t", "cf", "see", "link", "links", "quelle",
     "read", "more", "here", "ref", "refs", "references"}
)  # fmt: skip
_PROSE_WORDS = 4  # a line with this many other words is running text, not a citation line
_END = 2**63  # sorts after any offset
_URLISH_RE = re.compile(r"\S*(?:://|\bwww\.)\S*", re.IGNORECASE)
_MARK_RE = re.compile('["“”„‟«»‹›「」『』‘’‚]')
# "[1] https://…", "[1]: https://…", "[^1]: …", "1. …", "1) …", "(1) …", a list bullet before any.
_REF_LINE_RE = re.compile(
    r"[ \t]*(?:[-*+•][ \t]+)?(?:\[\^?(\d{1,3})\]:?|\((\d{1,3})\)|(\d{1,3})[.):])(?=\s|$)"
)
# "[1]", "[^2]", "[1, 3]", "[1][2]" in running text (a space before a run included); a "]" right
# before it makes it a Markdown reference link's ("[text][1]").
_MARKER_RE = re.compile(r"[ \t]?(?<!\])(?:\[\^?\d{1,3}(?:[ \t]*,[ \t]*\d{1,3})*\])+")
_NUMBER_RE = re.compile(r"\d+")
_BRACKET_REF_RE = re.compile(r"[ \t]*(?:[-*+•][ \t]+)?\[\^?\d{1,3}\]:?(?=\s|$)")


@dataclass(frozen=True, slots=True)
class RefMarker:
    """A reference marker in the text: its view span (a space before it included) and numbers."""

    start: int
    end: int
    numbers: tuple[int, ...]


def _host_only(url: str) -> bool:
    """A site's home page: no path, query or fragment worth fetching for a quotation."""
    try:
        parsed = URL(normalize_url(url))
    except (UnsupportedURL, InvalidURL):
        return False
    except URL_PARSE_ERRORS:
        return False
    return parsed.path in ("", "/") and not parsed.query_string


def _prose_words(line: str) -> int:
    """Words on a line other than its URLs (any run with ``://`` or ``www.``) and citing words."""
    return sum(w.lower() not in _CITING_WORDS for w in _WORD_RE.findall(_URLISH_RE.sub(" ", line)))


def _label_spans(view_text: str, links: Sequence[tuple[int, int]], *, html: bool) -> list[tuple[int, int]]:
    """View spans of link texts, sorted: HTML ``<a>`` texts, or Markdown ``[label](`` labels."""
    if html:
        return sorted(links)
    return [(m.start(1), m.end(1)) for m in _MD_LABEL_RE.finditer(view_text)]


class _Lines:
    """What each line of the view says about the URLs on it, each read at most once per line."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._quotes: dict[int, list[tuple[int, int]]] = {}
        self._prose: dict[int, int] = {}

    def _line(self, pos: int) -> tuple[int, str]:
        start = self.text.rfind("\n", 0, pos) + 1
        end = self.text.find("\n", pos)
        return start, self.text[start : len(self.text) if end < 0 else end]

    def quoted(self, pos: int) -> bool:
        """Whether ``pos`` stands inside quotation marks on its line."""
        start, line = self._line(pos)
        if start not in self._quotes:
            self._quotes[start] = find_quotes(line) if _MARK_RE.search(line) else []
        quotes = self._quotes[start]
        k = bisect_right(quotes, (pos - start, _END)) - 1  # top-level quotations never overlap
        return k >= 0 and quotes[k][0] <= pos - start < quotes[k][1]

    def prose(self, pos: int) -> int:
        """How many words of running text the line of ``pos`` holds."""
        start, line = self._line(pos)
        if start not in self._prose:
            self._prose[start] = _prose_words(line)
        return self._prose[start]


def cited_urls(
    found: Sequence[FoundURL],
    view_text: str,
    view_pos: Sequence[int],
    *,
    links: Sequence[tuple[int, int]] = (),
    html: bool = False,
    in_attribute: Sequence[bool] = (),
) -> list[tuple[FoundURL, int]]:
    """The URLs of ``found`` that cite a page, each with its view position (``view_pos``: each
    one's, ascending; ``in_attribute``: for HTML, whether it is an ``href``/``cite`` value).

    Left out: a URL that is the visible text of a link (the link's own target is the citation),
    and a URL that stands inside copied words: within quotation marks on its line, or a site's
    bare home page in the middle of running text. The latter are part of the passage's text.
    """
    labels = _label_spans(view_text, links, html=html)
    label_starts = [a for a, _ in labels]
    lines = _Lines(view_text)
    kept = []
    for i, f in enumerate(found):
        pos = view_pos[i]
        if i < len(in_attribute) and in_attribute[i]:
            kept.append((f, pos))
            continue
        j = bisect_right(label_starts, pos) - 1
        if j >= 0 and labels[j][0] <= pos < labels[j][1]:
            continue  # labels do not nest: the one starting last before pos is the only candidate
        if lines.quoted(pos) or (lines.prose(pos) >= _PROSE_WORDS and _host_only(f.url)):
            continue
        kept.append((f, pos))
    return kept


def is_reference_entry(line: str) -> bool:
    """A line that starts like a note's entry, ``[1]`` or ``[^1]:``: with a URL, it cites, however
    many words of title it has (``[1] BBC News, "Budget approved", https://…``)."""
    return bool(_BRACKET_REF_RE.match(line))


def ref_number(line: str) -> int | None:
    """The number a reference-list line starts with (``[1] https://…``, ``1. https://…``)."""
    m = _REF_LINE_RE.match(line)
    if m is None:
        return None
    return int(next(g for g in m.groups() if g is not None))


def find_markers(text: str, lo: int, hi: int, known: Iterable[int]) -> list[RefMarker]:
    """Reference markers in ``text[lo:hi]`` whose numbers are all in ``known``."""
    numbers = set(known)
    markers = []
    for m in _MARKER_RE.finditer(text, lo, hi):
        refs = tuple(int(n) for n in _NUMBER_RE.findall(m.group(0)))
        if all(n in numbers for n in refs):
            markers.append(RefMarker(m.start(), m.end(), refs))
    return markers


def strip_markers(text: str, known: Iterable[int]) -> str:
    """``text`` without its reference markers (those whose numbers are all in ``known``)."""
    numbers = set(known)

    def keep(m: re.Match[str]) -> str:
        return "" if all(int(n) in numbers for n in _NUMBER_RE.findall(m.group(0))) else m.group(0)

    return _MARKER_RE.sub(keep, text)
