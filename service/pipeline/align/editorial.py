"""Square brackets the quoter put in: a stand-in for the source's words, or a name swapped in.

Journalistic convention lets a quoter replace a pronoun or a short phrase with what it refers to,
in square brackets: "[Holmes] said" where the source says "He said". That is faithful when the
bracket names the source's referent (the first name of the sentence, or of the sentences just
before), and a changed name when it names someone else. A bracket that adds a short clarification
("he [the mayor] said") or a footnote marker ("[1]") is faithful too. A bracket that changes a
number is never a stand-in.
"""

from __future__ import annotations

from service.pipeline.align.diff import Region
from service.pipeline.align.tokens import Tokens, is_number
from service.pipeline.models import Reason

__all__ = ["bracket_reasons"]


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


STAND_IN_WORDS = 4  # source words a bracket may stand for
REFERENT_SENTENCES = 3  # sentences before the stand-in searched for the referent
REFERENT_WORDS = 150
PRONOUNS = _words(
    "he she they it him her them his its their hers theirs this that these those who we i you"
    " er sie es ihn ihm ihr ihre sein seine il elle ils elles lui leur son sa ses él ella ellos ellas"
    " le la les su sus он она они оно его её ее их ему ей им"
)
_NOT_NAMES = _words(
    "the a an mr mrs ms dr der die das ein eine le la les un une el los las una"
    " herr frau monsieur madame señor señora"
)


def _names(words: Tokens, t0: int, t1: int) -> set[str]:
    """Capitalised words of a range that may be names (articles and titles left out)."""
    return {words.norms[t] for t in range(t0, t1) if words.cap[t] and words.norms[t] not in _NOT_NAMES}


def _referent(src: Tokens, s0: int) -> set[str]:
    """The source's referent for a stand-in at word ``s0``: the first run of name words in the
    nearest sentence (the stand-in's own first, then up to three before) that has one."""
    end = s0
    lo = max(0, s0 - REFERENT_WORDS)
    for _ in range(REFERENT_SENTENCES + 1):
        if end <= lo:
            break
        start = end - 1
        while start > lo and not src.brk[start - 1]:
            start -= 1
        names = _first_name_run(src, start, end)
        if names:
            return names
        end = start
    return set()


def _first_name_run(src: Tokens, t0: int, t1: int) -> set[str]:
    run: set[str] = set()
    for t in range(t0, t1):
        named = src.cap[t] and src.norms[t] not in _NOT_NAMES and src.norms[t] not in PRONOUNS
        if named:
            run.add(src.norms[t])
        elif run:
            break
    return run


def bracket_reasons(
    r: Region, post: Tokens, src: Tokens, brackets: tuple[tuple[int, int], ...]
) -> set[Reason] | None:
    """The reasons of a changed region that is exactly a bracketed stand-in, or None for any other."""
    if (r.p0, r.p1) not in brackets:
        return None
    pn, sn = post.norms[r.p0 : r.p1], src.norms[r.s0 : r.s1]
    if not sn:
        return {Reason.BRACKETED_SUBSTITUTION} if len(pn) <= STAND_IN_WORDS else None
    if len(sn) > STAND_IN_WORDS or sorted(w for w in pn if is_number(w)) != sorted(
        w for w in sn if is_number(w)
    ):
        return None
    names = _names(post, r.p0, r.p1)
    if not names:
        # "[the policy]" for "it": a stand-in for a pronoun or for words of its own
        return {Reason.BRACKETED_SUBSTITUTION} if set(sn) & PRONOUNS or set(pn) & set(sn) else None
    if not set(sn) & PRONOUNS and _names(src, r.s0, r.s1):
        named = _names(src, r.s0, r.s1)
        return {Reason.BRACKETED_SUBSTITUTION} if names & named else {Reason.NAME_CHANGED}
    return {Reason.BRACKETED_SUBSTITUTION} if names & _referent(src, r.s0) else {Reason.NAME_CHANGED}
