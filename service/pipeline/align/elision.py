"""What each ellipsis of a passage removed, and whether that changes what the rest asserts.

An ellipsis may drop words that do not matter ("the minister said … the plan") or words that
carry the sentence's force ("her client did … intend", source "did not intend"). The removed words
that count are those of a sentence the passage keeps part of (whole sentences dropped between two
kept ones change nothing the passage says). Among them, a condition, an attribution or a denial
changes the kept sentence wherever it stands in it ("we win … ", source "we win if it holds"); a
negation, a hedge or a quantifier changes it when it stands in the same clause as kept words, not
inside a clause the ellipsis removed whole ("the bridge … opens", source "the bridge, which would
cost $5m, opens"). And the cut must have been made to remove them: a cut that also takes content
words ("a statement that [her client did not] intend") shortens the passage and happens to hold
one; quoters shorten passages all the time, and flagging every such cut would flag faithful copies.
"""

from __future__ import annotations

from collections.abc import Sequence

from service.pipeline.align.diff import Gap
from service.pipeline.align.lexicon import (
    COMPLEMENTISERS,
    CONJUNCTIONS,
    DANGLING,
    GLUE,
    INTRODUCERS,
    word_class,
)
from service.pipeline.align.phrases import kept_partner, phrase_classes
from service.pipeline.align.tokens import Tokens
from service.pipeline.models import WordClass

__all__ = ["SHOWN_WORDS", "edge_gaps", "gap_words", "misleading_classes"]

SHOWN_WORDS = 20  # a longer gap is shown by its first and last SHOWN_WORDS words
_CLAUSE_MARKS = frozenset(',;:()[]{}—–"“”«»')
_ANYWHERE = frozenset({WordClass.CONDITION, WordClass.ATTRIBUTION})
_DENIALS = frozenset({WordClass.NEGATION, WordClass.ATTRIBUTION})
_SHORT_HEAD = 6  # the most words of a governing head ending on "that" a cut removes whole
_EDGE_WORDS = 25  # the most words of a sentence an edge ellipsis is taken to have removed


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


def _aside(text: str, src: Tokens, gap: Gap, t: int, phrases: dict[int, WordClass | None]) -> bool:
    """Whether removed word ``t`` stands in an aside of class words and glue alone, set off by
    commas or dashes inside the sentence (", allegedly,", ", может быть,"): unlike a removed clause
    of its own, such an aside qualifies the clause it stands in."""
    a, b = t, t
    while a > gap.s0 and not _clause_break(text, src, a - 1):
        a -= 1
    while b + 1 < gap.s1 and not _clause_break(text, src, b):
        b += 1
    if a == 0 or src.brk[a - 1] or src.brk[b] or not _clause_break(text, src, a - 1):
        return False
    if not _clause_break(text, src, b):
        return False
    return all(u in phrases or word_class(src.norms[u]) or src.norms[u] in GLUE for u in range(a, b + 1))


def _class_at(src: Tokens, t: int, phrases: dict[int, WordClass | None]) -> WordClass | None:
    """The class of text word ``t``, its phrase's when it stands in one (``phrases.py``); "May"
    inside a sentence is the month, not the modal."""
    if t in phrases:
        return phrases[t]
    kind = word_class(src.norms[t])
    if kind is WordClass.HEDGE and src.words[t] == "May" and t > 0 and not src.brk[t - 1]:
        return None
    return kind


def _first_content(src: Tokens, words: Sequence[int]) -> int | None:
    return next((t for t in words if src.norms[t] not in GLUE), None)


def _cut_to_remove(src: Tokens, words: Sequence[int], kinds: dict[int, WordClass]) -> set[WordClass]:
    """The classes a cut of ``words`` was made to remove, judged by what else it took.

    A cut of class words and glue alone that ends on them or on what introduces the kept words
    ("did [not] intend", "[there is no evidence that]", "[he denied that]"), a short one with a
    negation or an attribution that ends on a complementiser ("[there is no scientific evidence
    that]"), or one that opens on a condition or an attribution ("[if the money arrives]",
    "[accused by critics of]") was made to remove them. So was one ending on the perfect's "have"
    before a kept past participle ("the firm [may have] violated the rules": the kept words still
    read as a sentence). A cut that also takes other content words ("[her client did not] intend"),
    or the verb the class word governs ("we [do not have] the right", "the toll [may be] higher"),
    removed a stretch that merely held one, as a quoter shortening a passage does.
    """
    if not kinds:
        return set()
    last = max(kinds)
    tail = [t for t in words if t > last]
    perfect = (
        len(tail) == 1
        and src.norms[tail[0]] == "have"
        and tail[0] + 1 < len(src)
        and src.norms[tail[0] + 1].endswith("ed")
    )
    if all(t in kinds or src.norms[t] in GLUE for t in words) and (
        perfect or all(src.norms[t] in INTRODUCERS for t in tail)
    ):
        return set(kinds.values())
    denial = {k for k in kinds.values() if k in _DENIALS}
    if denial and len(words) <= _SHORT_HEAD and src.norms[words[-1]] in COMPLEMENTISERS:
        return denial  # "[there is no scientific evidence that] …": a short head cut whole
    first = next((t for t in words if src.norms[t] not in CONJUNCTIONS), None)
    if first is not None and kinds.get(first) is WordClass.CONDITION:
        return {WordClass.CONDITION}
    lead = _first_content(src, words)
    dangling = src.norms[words[-1]] in DANGLING
    if lead is not None and kinds.get(lead) is WordClass.ATTRIBUTION and not dangling:
        return {WordClass.ATTRIBUTION}
    return set()


def misleading_classes(text: str, src: Tokens, gaps: Sequence[Gap]) -> frozenset[WordClass]:
    """The word classes whose removal by one of ``gaps`` changes what the kept words assert."""
    found: set[WordClass] = set()
    for gap in gaps:
        words = _kept_sentence_words(src, gap)
        phrases = phrase_classes(src.norms, gap.s0, gap.s1)
        kinds = {
            t: kind
            for t in words
            if (kind := _class_at(src, t, phrases)) is not None
            and (
                kind in _ANYWHERE
                or _same_clause_as_kept(text, src, gap, t)
                or _aside(text, src, gap, t, phrases)
            )
            and not kept_partner(src.norms, src.brk, t, gap.s1)
        }
        found |= _cut_to_remove(src, words, kinds)
    return frozenset(found)


def edge_gaps(src: Tokens, first: int, last: int, *, lead: bool, trail: bool, end_at: int) -> tuple[Gap, ...]:
    """What an ellipsis at the start or end of a passage removed from its sentence, when that changes
    what the kept words assert: a head that conditions, attributes, denies or qualifies them ("[There
    is no evidence that] vaccines …", "[If the deal fails,] the company …", "[He denied that] he …")
    or a tail that opens on a condition ("the company will go bankrupt [if the deal fails]").

    ``first`` and ``last`` bound the passage's words in the text, ``end_at`` is the passage's length
    in words (where a trailing gap stands). Harmless heads and tails are not reported.
    """
    out: list[Gap] = []
    if lead:
        t0 = first
        while t0 > 0 and not src.brk[t0 - 1] and first - t0 < _EDGE_WORDS:
            t0 -= 1
        head = range(t0, first)
        phrases = phrase_classes(src.norms, t0, first)
        kinds = {t: kind for t in head if (kind := _class_at(src, t, phrases)) is not None}
        introduced = bool(kinds) and src.norms[first - 1] in COMPLEMENTISERS
        if head and (_cut_to_remove(src, head, kinds) or introduced):
            out.append(Gap(0, t0, first))
    if trail and last < len(src) and not src.brk[last - 1]:
        t1 = last
        while t1 < len(src) and t1 - last < _EDGE_WORDS:
            t1 += 1
            if src.brk[t1 - 1]:
                break
        lead_word = _first_content(src, range(last, t1))
        phrases = phrase_classes(src.norms, last, t1)
        if lead_word is not None and _class_at(src, lead_word, phrases) is WordClass.CONDITION:
            out.append(Gap(end_at, last, t1))
    return tuple(out)


def gap_words(src: Tokens, gap: Gap) -> str:
    """The words a gap removed, as the diff shows them (a long gap by its two ends)."""
    words = src.words[gap.s0 : gap.s1]
    if len(words) > 2 * SHOWN_WORDS + 1:
        words = [*words[:SHOWN_WORDS], "…", *words[-SHOWN_WORDS:]]
    return " ".join(words)
