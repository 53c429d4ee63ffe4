"""The poster's frame at the edges of a paragraph, told apart from what it copies.

Private helper of ``posts``, pure. Around copied words a poster writes things no source holds: a
thread counter (``1/``, ``2/5``), the link itself (``Wow. "…" https://…``), an attribution tail
after the last sentence (``— BBC``, ``— [Reuters](url)``) and reference markers (``… [1].``).
These are cut from a paragraph's edges, so that neither the paragraph nor its commentary is
judged with them; what lies between the edges is left to the verifier. Reference markers also
cut a paragraph in pieces, each citing its own reference.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Sequence

from service.pipeline.posts.citing import RefMarker
from service.pipeline.urls import extract_urls

__all__ = ["attribution_tail", "frame_edges", "marker_segments"]

_COUNTER_HEAD_RE = re.compile(
    r"[ \t]*(?:[(\[]?\d{1,2}[ \t]*/[ \t]*(?:\d{1,2}|n)?[)\]]?|🧵|\d{1,2}[.)](?=[ \t]))[ \t]*(?=\S)"
)
_COUNTER_TAIL_RE = re.compile(r"(?<=[.!?…\"”’»)])[ \t]+[(\[]?\d{1,2}[ \t]*/[ \t]*(?:\d{1,2}|n)?[)\]]?[ \t]*$")
_MD_LINK_TAIL_RE = re.compile(r"!?\[[^\]\n]*\]\([^()\s]*(?:\([^()\s]*\))*[^()\s]*\)[ \t]*$")
_ANGLE_TAIL_RE = re.compile(r"<https?://[^<>\s]+>[ \t]*$")
_DASH_RE = re.compile(r"[ \t](?:—|–|--|~|-)[ \t]*|(?:—|–)")
_SENTENCE_END = frozenset('.!?…"”’»)')
_EDGE_PUNCT = " \t:;,—–-"
_TAIL_WORDS = 4  # an attribution tail names a site or an outlet, not a sentence
_PAREN_TAIL_RE = re.compile(r"[ \t]*[(\[]([^()\[\]\n]{1,60})[)\]][ \t]*$")
_NAME_JOINERS = frozenset({"via", "of", "the", "and", "de", "von", "van", "in"})
_INITIAL_END_RE = re.compile(r"(?:^|[\s.])\w\.$")
_WINDOW = 600  # edges are looked for this far in: each look is bounded, so reading stays linear
_LOOKS = 3  # at most this many pieces cut from each edge
_WORD_RE = re.compile(r"\w+")
_AFTER_MARKER = frozenset('.,;:!?"”’»)')
_QUOTE_CHARS = frozenset('"“”„«»‹›「」『』')
_CLOSING_MARKS = frozenset('"”’»')


def _tail_words(text: str) -> list[str]:
    """The words of a tail, its URLs left out and its links' labels kept."""
    for found in reversed(extract_urls(text)):
        text = text[: found.span[0]] + " " + text[found.span[1] :]
    return _WORD_RE.findall(_MD_LINK_TAIL_RE.sub(lambda m: m.group(0).split("](")[0], text))


def _no_digits(tail: list[str]) -> bool:
    return not any(ch.isdigit() for w in tail for ch in w)


def _names(tail: list[str]) -> bool:
    """A tail that names an outlet or a person: capitalised words (``The Republic``, ``via BBC``)."""
    capitalised = [w[0].isupper() for w in tail]
    return any(capitalised) and all(
        c or w[0].isdigit() or w in _NAME_JOINERS for c, w in zip(capitalised, tail, strict=True)
    )


def _ends_sentence(text: str) -> bool:
    """Ends with a sentence's last mark, not an initial's or an abbreviation's (``C.A.R.E.``)."""
    if not text or text[-1] not in _SENTENCE_END:
        return False
    return not _INITIAL_END_RE.search(text)


def _dash_tail(text: str, start: int, end: int) -> int:
    """Where an attribution tail starts (``. — BBC``, ``… — The Republic``), or ``end``: a few
    words after a sentence's end, or a name after any words (a dash before lower-case words or
    a figure in the middle of a sentence is the text's own: ``as of today — Destiny 2``)."""
    lo = max(start, end - 120)
    for m in reversed(list(_DASH_RE.finditer(text, lo, end))):
        before = text[start : m.start()].rstrip()
        if any(ch in _QUOTE_CHARS for ch in text[m.end() : end]):
            continue  # a closing mark after the dash: the dash is inside the quotation
        tail = _tail_words(text[m.end() : end])
        if not before or not 0 < len(tail) <= _TAIL_WORDS:
            continue
        if _ends_sentence(before) or (_names(tail) and (before[-1] in _SENTENCE_END or _no_digits(tail))):
            return start + len(before)
    return _paren_tail(text, start, end)


def _paren_tail(text: str, start: int, end: int) -> int:
    """Where a bracketed attribution after the last sentence starts (``. (BBC)``, ``" (via AP)``)."""
    m = _PAREN_TAIL_RE.search(text, max(start, end - 80), end)
    if m is None:
        return end
    before = text[start : m.start()].rstrip()
    if any(ch in _QUOTE_CHARS for ch in m.group(1)):
        return end
    tail = _tail_words(m.group(1))
    if _ends_sentence(before) and 0 < len(tail) <= _TAIL_WORDS and _names(tail):
        return start + len(before)
    return end


def _is_mark(marks: Sequence[int], pos: int) -> bool:
    i = bisect_left(marks, pos)
    return i < len(marks) and marks[i] == pos


def _url_tail(text: str, start: int, end: int, marks: Sequence[int]) -> int:
    """Where a citing URL or link ending the paragraph starts, or ``end``. A link after a
    sentence's end or a dash is the poster's; a bare URL is, when it cites (``marks``: where
    the citing URLs stand; a site named by the copied words is not one of them)."""
    lo = max(start, end - _WINDOW)
    for pattern in (_MD_LINK_TAIL_RE, _ANGLE_TAIL_RE):
        m = pattern.search(text, lo, end)
        if m is not None:
            before = text[start : m.start()].rstrip(" \t:—–-~(")
            return m.start() if not before or before[-1] in _SENTENCE_END else end
    urls = extract_urls(text[lo:end])
    if urls and lo + urls[-1].span[1] == end and _is_mark(marks, lo + urls[-1].span[0]):
        return lo + urls[-1].span[0]
    return end


def _url_head(text: str, start: int, end: int, marks: Sequence[int]) -> int:
    urls = extract_urls(text[start : min(end, start + _WINDOW)])
    if urls and urls[0].span[0] == 0 and _is_mark(marks, start):
        return start + urls[0].span[1]
    return start


def _marker_tail(text: str, start: int, end: int, markers: Sequence[RefMarker]) -> int:
    for marker in reversed(markers):
        if start <= marker.start and marker.end <= end:
            rest = text[marker.end : end]
            # Inside a quotation ("… [1].") the marker stays: the quotation's text leaves it out.
            closing = any(ch in _CLOSING_MARKS for ch in rest)
            return (
                marker.start
                if not closing and all(ch in _AFTER_MARKER or ch.isspace() for ch in rest)
                else end
            )
    return end


def frame_edges(
    text: str, start: int, end: int, *, marks: Sequence[int] = (), markers: Sequence[RefMarker] = ()
) -> tuple[int, int]:
    """``text[start:end]`` without the frame at its edges: counters, links, attribution tails and
    reference markers. ``marks``: the sorted view positions of the post's citing URLs."""
    for _ in range(_LOOKS):
        was = start
        if m := _COUNTER_HEAD_RE.match(text, start, end):
            start = m.end()
        start = _url_head(text, start, end, marks)
        while start < end and text[start] in _EDGE_PUNCT:
            start += 1
        if start == was:
            break
    for _ in range(_LOOKS):
        was = end
        end = _marker_tail(text, start, end, markers)
        if m := _COUNTER_TAIL_RE.search(text, max(start, end - 40), end):
            end = m.start()
        end = _dash_tail(text, start, _url_tail(text, start, end, marks))
        while end > start and text[end - 1] in _EDGE_PUNCT:
            end -= 1
        if end == was:
            break
    return start, end


def marker_segments(
    text: str, start: int, end: int, markers: Sequence[RefMarker]
) -> list[tuple[int, int, tuple[int, ...]]]:
    """``text[start:end]`` cut after each run of reference markers (and the punctuation that
    follows it), each piece with the reference numbers it ends with; the last one may have none."""
    pieces: list[tuple[int, int, tuple[int, ...]]] = []
    at = start
    numbers: tuple[int, ...] = ()
    i = 0
    inside = [m for m in markers if start <= m.start and m.end <= end]
    while i < len(inside):
        numbers = inside[i].numbers
        cut = inside[i].end
        while i + 1 < len(inside) and not text[cut : inside[i + 1].start].strip():
            i += 1
            numbers += inside[i].numbers
            cut = inside[i].end
        while cut < end and text[cut] in _AFTER_MARKER:
            cut += 1
        pieces.append((at, cut, tuple(dict.fromkeys(numbers))))
        at = cut
        i += 1
    if text[at:end].strip():
        pieces.append((at, end, ()))
    return pieces


def _word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Verbs of saying, in the forms an attribution after a quotation takes ("," the minister said).
_SPEECH_VERBS = _word_set(
    # en
    "said says say told tells added adds wrote writes stated states explained explains noted notes"
    " insisted claimed claims warned warns argued argues admitted declared announced replied asked"
    " continued concluded tweeted posted commented remarked observed according recalled acknowledged"
    " conceded confirmed stressed emphasised emphasized suggested testified responded urged"
    # fr
    " dit déclaré déclare affirmé affirme expliqué explique ajouté ajoute souligné souligne estimé estime"
    " selon écrit précisé précise indiqué indique assuré assure"
    # de
    " sagte sagt sagten erklärte erklärt betonte betont schrieb schreibt meinte meint laut berichtete"
    # es
    " dijo dice afirmó declaró explicó añadió agregó señaló aseguró según escribió indicó"
    # ru
    " сказал сказала заявил заявила отметил отметила написал написала добавил добавила говорит"
    " пояснил пояснила подчеркнул подчеркнула сообщил сообщила"
)
_TAIL_OPEN = ' \t\n"“”„«»‹›’<>,—–-'
_TAIL_CLOSE = " \t\n.!"
_TAIL_CLAUSE = frozenset(',;:—–()[]"“”„«»‹›\n')
_SENTENCE_INSIDE_RE = re.compile(r"[.!?]\s")
_ATTRIBUTION_WORDS = 10


def attribution_tail(text: str) -> tuple[str, ...] | None:
    """The casefolded words of ``text``, what follows a paragraph's only quotation, when it is that
    quotation's attribution alone (``"…," the minister said on Tuesday.``): a few words with a verb of
    saying and no clause of their own; None otherwise. Such a tail names the speaker in the poster's
    words or the source's; which, only the source can tell (``judge/segments.py``)."""
    body = text.lstrip(_TAIL_OPEN).rstrip(_TAIL_CLOSE)
    if not body or any(ch in _TAIL_CLAUSE for ch in body) or _SENTENCE_INSIDE_RE.search(body):
        return None
    words = tuple(w.casefold() for w in _WORD_RE.findall(body))
    if len(words) > _ATTRIBUTION_WORDS or not any(w in _SPEECH_VERBS for w in words):
        return None
    return words
