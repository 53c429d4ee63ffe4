"""What each ellipsis of a passage removed, and whether that changes what the rest asserts.

An ellipsis may drop words that do not matter ("the minister said … the plan") or words that
carry the sentence's force ("her client did … intend", source "did not intend"). The removed words
that count are those of a sentence the passage keeps part of (whole sentences dropped between two
kept ones change nothing the passage says). Among them, a condition, an attribution or a denial
changes the kept sentence wherever it stands in it ("we win … ", source "we win if it holds"); a
negation, a hedge or a quantifier changes it when it stands in the same clause as kept words, not
inside a clause the ellipsis removed whole ("the bridge … opens", source "the bridge, which would
cost $5m, opens").
"""

from __future__ import annotations

from collections.abc import Sequence

from service.pipeline.align.diff import Gap
from service.pipeline.align.lexicon import word_class
from service.pipeline.align.tokens import Tokens
from service.pipeline.models import WordClass

__all__ = ["SHOWN_WORDS", "gap_words", "misleading_classes"]

SHOWN_WORDS = 20  # a longer gap is shown by its first and last SHOWN_WORDS words
_CLAUSE_MARKS = frozenset(',;:()[]{}—–"“”«»')
_ANYWHERE = frozenset({WordClass.CONDITION, WordClass.ATTRIBUTION})


def _clause_break(text: str, src: Tokens, t: int) -> bool:
    """Whether a clause ends between text words ``t`` and ``t + 1`` (punctuation or a sentence end)."""
    if t < 0 or t + 1 >= len(src):
        return True
    if src.brk[t]:
        return True
    between = text[src.ends[t] : src.starts[t + 1]]
    return any(c in _CLAUSE_MARKS for c in between) or " - " in between


def _kept_sentence_words(src: Tokens, gap: Gap) -> list[int]:
    """The removed words that belong to a sentence the passage keeps part of."""
    out: list[int] = []
    chunk: list[int] = []
    whole_start = gap.s0 == 0 or src.brk[gap.s0 - 1]
    for t in range(gap.s0, gap.s1):
        chunk.append(t)
        if src.brk[t]:
            if not whole_start:
                out += chunk
            chunk, whole_start = [], True
    return out + chunk


def _same_clause_as_kept(text: str, src: Tokens, gap: Gap, t: int) -> bool:
    """Whether removed word ``t`` shares a clause with the kept words before or after the gap."""
    before = not any(_clause_break(text, src, u) for u in range(gap.s0 - 1, t))
    after = not any(_clause_break(text, src, u) for u in range(t, gap.s1))
    return before or after


def misleading_classes(text: str, src: Tokens, gaps: Sequence[Gap]) -> frozenset[WordClass]:
    """The word classes whose removal by one of ``gaps`` changes what the kept words assert."""
    found: set[WordClass] = set()
    for gap in gaps:
        for t in _kept_sentence_words(src, gap):
            kind = word_class(src.norms[t])
            if kind is not None and (kind in _ANYWHERE or _same_clause_as_kept(text, src, gap, t)):
                found.add(kind)
    return frozenset(found)


def gap_words(src: Tokens, gap: Gap) -> str:
    """The words a gap removed, as the diff shows them (a long gap by its two ends)."""
    words = src.words[gap.s0 : gap.s1]
    if len(words) > 2 * SHOWN_WORDS + 1:
        words = [*words[:SHOWN_WORDS], "…", *words[-SHOWN_WORDS:]]
    return " ".join(words)
