"""Word tokens with character offsets, and the word classes the aligner's reasons rely on.

Both sides of an alignment go through ``tokenize`` so that typography (case, quote marks,
apostrophes, dashes, punctuation, whitespace, thousands separators) never decides a match,
while every token still knows where it stands in the original text.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass

from service.pipeline.align.lexicon import is_negation as is_negation

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_LETTER = rf"(?:[^\W_{_CJK}]|[\u0300-\u036f])"
# A word: letters/digits, joined by inner apostrophes ("don't") or by a separator between digits
# ("1,000", "3.5"). CJK characters carry no spaces between words, so each is a token of its own.
_TOKEN_RE = re.compile(rf"[{_CJK}]|{_LETTER}+(?:(?:['’ʼ‘`′]|(?<=\d)[.,](?=\d)){_LETTER}+)*")
_APOSTROPHES = str.maketrans({"’": "'", "ʼ": "'", "‘": "'", "`": "'", "′": "'"})
_THOUSANDS = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_BREAK = re.compile(r"[.!?。！？\n]")
# Markers of an elision: bracketed forms first, then runs of dots and the ellipsis character.
ELLIPSIS = re.compile(r"[\[(]\s*(?:…|\.(?:\s?\.){2,})\s*[\])]|\.(?:\s?\.){2,}|…")
INVISIBLE = re.compile(r"[\u00ad\u200b\u200c\u200d\u2060\ufeff]")
# Editorial notes that are no part of the quoted words: [sic], (emphasis added), and their kin.
EDITORIAL = re.compile(
    r"[\[(]\s*(?:sic!?|emphasis (?:added|mine|ours|in original)|my emphasis|Hervorhebung[^\])]{0,30}"
    r"|c'est (?:moi|nous) qui soulign\w*|(?:el )?énfasis (?:añadido|es (?:mío|nuestro))"
    r"|курсив (?:мой|наш))\s*[\])]",
    re.IGNORECASE,
)
# A bracketed stand-in the quoter put for the source's words ("[Holmes] said"), and one capital
# made lower or upper case inside a word ("[T]he").
BRACKET = re.compile(r"\[([^\[\]()\n]{1,60})\](?!\()")
_CASE_BRACKET = re.compile(r"\[(\w)\](?=\w)")

NUMBER_WORDS = frozenset(
    [
        "zero",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
        "twenty",
        "thirty",
        "forty",
        "fifty",
        "sixty",
        "seventy",
        "eighty",
        "ninety",
        "hundred",
        "thousand",
        "million",
        "billion",
        "trillion",
        "dozen",
        "half",
        "twice",
        "once",
        "first",
        "second",
        "third",
        "fourth",
        "fifth",
        "sixth",
        "seventh",
        "eighth",
        "ninth",
        "tenth",
    ]
)


def normalize_word(word: str) -> str:
    """The comparison form of one word: NFKC, casefolded, one apostrophe, no thousands commas."""
    norm = unicodedata.normalize("NFKC", word).casefold().translate(_APOSTROPHES)
    if norm[0].isdigit() and _THOUSANDS.fullmatch(norm):
        norm = norm.replace(",", "")
    return norm


def is_number(norm: str) -> bool:
    """Whether a normalised word is a number, in digits or in words."""
    return any(c.isdigit() for c in norm) or norm in NUMBER_WORDS


@dataclass(frozen=True, slots=True)
class Tokens:
    """Parallel arrays, one entry per word: offsets, surface form, comparison form, flags.

    ``brk[t]`` says a sentence or line ends between word ``t`` and the next one; ``cap[t]`` says
    the word is written with a capital.
    """

    starts: list[int]
    ends: list[int]
    words: list[str]
    norms: list[str]
    cap: list[bool]
    brk: list[bool]

    def __len__(self) -> int:
        return len(self.starts)


def tokenize(text: str, offset: int = 0) -> Tokens:
    """Split ``text`` into words; offsets are shifted by ``offset`` (for a slice of a larger text)."""
    spans = [m.span() for m in _TOKEN_RE.finditer(text)]
    starts = [a + offset for a, _ in spans]
    ends = [b + offset for _, b in spans]
    words = [text[a:b] for a, b in spans]
    memo: dict[str, str] = {}
    norms = [memo.get(w) or memo.setdefault(w, normalize_word(w)) for w in words]
    cap = [w[0].isupper() for w in words]
    brk = [False] * len(words)
    for m in _BREAK.finditer(text):
        pos = m.start() + offset
        t = bisect_right(starts, pos) - 1
        if t >= 0 and pos >= ends[t]:
            brk[t] = True
    return Tokens(starts, ends, words, norms, cap, brk)


def collapse_space(text: str) -> str:
    """``text`` with invisible characters dropped and every run of whitespace made one space."""
    return " ".join(INVISIBLE.sub("", text).split())


@dataclass(frozen=True, slots=True)
class PassageWords:
    """A passage's words and where its ellipsis markers stand between them.

    ``markers`` holds token boundaries ``b`` (a marker between word ``b - 1`` and word ``b``),
    only those strictly inside the passage; ``piece[t]`` numbers the marker-separated pieces.
    """

    tokens: Tokens
    markers: tuple[int, ...]
    piece: list[int]
    has_marker: bool
    brackets: tuple[tuple[int, int], ...] = ()
    """Word ranges ``[t0, t1)`` the quoter wrote in square brackets in place of the source's words."""


def _blank(match: re.Match[str]) -> str:
    return " " * len(match.group())


def editorial_clean(passage: str) -> str:
    """The passage with editorial notes blanked and ``[T]he`` read as ``The``, offsets unchanged."""
    passage = EDITORIAL.sub(_blank, passage)
    return _CASE_BRACKET.sub(lambda m: "  " + m.group(1), passage)


def _bracket_words(passage: str, tokens: Tokens) -> tuple[tuple[int, int], ...]:
    out = []
    for m in BRACKET.finditer(passage):
        if ELLIPSIS.fullmatch(m.group()):
            continue
        inside = [t for t, start in enumerate(tokens.starts) if m.start(1) <= start < m.end(1)]
        if inside:
            out.append((inside[0], inside[-1] + 1))
    return tuple(out)


def passage_words(passage: str) -> PassageWords:
    """Tokenise a passage piece by piece, splitting it at ellipsis markers; editorial notes dropped."""
    original, passage = passage, editorial_clean(passage)
    cuts = [(m.start(), m.end()) for m in ELLIPSIS.finditer(passage)]
    bounds = [0, *(c for cut in cuts for c in cut), len(passage)]
    parts = [tokenize(passage[bounds[i] : bounds[i + 1]], bounds[i]) for i in range(0, len(bounds), 2)]
    merged = Tokens([], [], [], [], [], [])
    markers: list[int] = []
    piece: list[int] = []
    for part in parts:
        if not len(part):
            continue
        if merged.starts:
            markers.append(len(merged))
        for name in ("starts", "ends", "words", "norms", "cap", "brk"):
            getattr(merged, name).extend(getattr(part, name))
        piece.extend([len(markers)] * len(part))
    return PassageWords(merged, tuple(markers), piece, bool(cuts), _bracket_words(original, merged))
