"""A post's paragraphs judged as wholes or in pieces.

A paragraph holding inline quotations is reported whole when it is a copy (a news paragraph
quotes people too) and quotation by quotation when it is commentary around them; an unmarked
paragraph whose lines come from different places is cut at a line break where the pieces say so.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from difflib import SequenceMatcher

from service.pipeline.judge.library import Shelf, shelf_of
from service.pipeline.judge.passage import judge_passage
from service.pipeline.models import FAITHFUL_STATUSES, DiffOp, Passage, QuoteReport, QuoteStatus
from service.pipeline.posts.frame import attribution_tail
from service.pipeline.state import ReadSource
from service.settings import AlignSettings

_WORD_CHARS_RE = re.compile(r"\w+")
# A copied paragraph's words around its quotations come from the source: at least one of them,
# and 15 % or more (an invented tail may follow the real attribution: "..., said Oza, and ...").
_COPY_FRAME = 0.15
_COPY_FRAME_MIN = 1
_WHOLE_IF_MATCHED = frozenset({QuoteStatus.ALTERED, QuoteStatus.MISATTRIBUTED, QuoteStatus.SOURCE_CHANGED})


def _count(text: str) -> int:
    return len(_WORD_CHARS_RE.findall(text))


def _frame_matches(whole: QuoteReport, passage: Passage) -> bool:
    """Whether the words around a paragraph's quotations come from the source too.

    They do in a copied news paragraph ("...," the minister said); they do not in commentary
    around a quotation ("He wrote "..." and nobody blinked").
    """
    quoted = sum(_count(p.text) for p in passage.parts if p.explicit)
    frame = _count(passage.text) - quoted
    if frame <= 0:
        return False
    equal = sum(_count(d.post) for d in whole.diff if d.op is DiffOp.EQUAL)
    matched = equal - quoted
    return matched >= _COPY_FRAME_MIN and matched >= _COPY_FRAME * frame


def judge_block(
    passage: Passage,
    cited: ReadSource | None,
    others: Shelf | Sequence[ReadSource],
    *,
    settings: AlignSettings,
    split: bool = True,
    also: Sequence[ReadSource] = (),
) -> list[QuoteReport]:
    """A passage, or a paragraph with inline quotations: the whole when it is a copy, else its parts.

    An unmarked paragraph of several lines that is not one faithful copy may be lines from
    different places: a copied line then the poster's own, a headline then a paragraph. It is
    cut at a line break that starts something new when the pieces say so (see ``_good_split``).
    ``others`` are the post's other pages (see ``judge_passage``).
    """
    others = shelf_of(others, settings=settings)
    whole = _judge_whole(passage, cited, others, settings=settings, also=also)
    if all(q.status in FAITHFUL_STATUSES for q in whole) or passage.explicit or not split:
        return whole
    wrapped = _looks_wrapped(passage.text)
    for head, tail in _line_splits(passage):
        pair = [
            judge_block(p, cited, others, settings=settings, split=False, also=also) for p in (head, tail)
        ]
        if _good_split(pair, wrapped=wrapped):
            return pair[0] + pair[1]
    return whole


def _judge_whole(
    passage: Passage,
    cited: ReadSource | None,
    others: Shelf,
    *,
    settings: AlignSettings,
    also: Sequence[ReadSource],
) -> list[QuoteReport]:
    """The paragraph as one copy, or its quotations (and commentary) one by one.

    A changed copy stands whole only when its quotation marks are the source's too: a news
    paragraph quotes someone, and the source has the same marks around the same words. Marks the
    source lacks are the poster's, and the words around them the poster's frame (``He faces "…"``,
    ``"…," the report said``): only the quotation is judged.
    """
    whole = judge_passage(passage, cited, others, settings=settings, also=also)
    if not passage.parts or whole.status in FAITHFUL_STATUSES:
        return [whole]
    parts = [judge_passage(part, cited, others, settings=settings, also=also) for part in passage.parts]
    copy = whole.status in _WHOLE_IF_MATCHED and (not whole.diff or _frame_matches(whole, passage))
    if not copy:
        return parts
    if _paraphrased_tail(passage, parts, [cited, *also, *others.sources]):
        return [_as_commentary(p) if not p.explicit and p.flagged else p for p in parts]
    if whole.status is not QuoteStatus.ALTERED or _marks_are_the_sources(
        parts, [cited, *also, *others.sources]
    ):
        return [whole]
    # The marks are the poster's: so are the words around them, copied ones included.
    return [_as_commentary(p) if not p.explicit and p.flagged else p for p in parts]


def _paraphrased_tail(
    passage: Passage, parts: Sequence[QuoteReport], sources: Sequence[ReadSource | None]
) -> bool:
    """Whether the paragraph is one faithful quotation and its attribution in the poster's words
    (``"…," the minister said on Tuesday.``, the source saying "the mayor told reporters"): the
    quotation is judged apart. A tail that is the source's own attribution after the quotation, a
    word or so changed or not ("the harbour master admitted on Friday", the source saying "said on
    Friday"), is a copy of it, and the paragraph stays whole."""
    explicit = [p for p in parts if p.explicit]
    if len(explicit) != 1 or explicit[0].status not in FAITHFUL_STATUSES or explicit[0].source is None:
        return False
    at = passage.text.find(explicit[0].text)
    if at < 0 or passage.text[:at].strip(_OPENING):
        return False
    words = attribution_tail(passage.text[at + len(explicit[0].text) :])
    if words is None:
        return False
    found = explicit[0].source
    texts = [t for s in sources for t in (s.current if s is not None else ())]
    own = next((t.text for t in texts if t.url == found.url and t.kind is found.text), "")
    return not _copies(words, _sentence_rest(own, found.span[1]))


def _copies(tail: Sequence[str], own: Sequence[str]) -> bool:
    """Whether the tail is the source's attribution with a word or so changed ("the doctor admitted"
    for "the doctor said", "on Friday evening" for "on Monday evening"): at most one word in three
    of the source's differs. A paraphrase ("Raab said on Tuesday" for "Raab told the BBC") is not."""
    if not own:
        return False
    same = sum(block.size for block in SequenceMatcher(None, tail, own, autojunk=False).get_matching_blocks())
    return max(len(tail), len(own)) - same <= max(1, len(own) // 3)


def _sentence_rest(text: str, at: int) -> tuple[str, ...]:
    """The casefolded words from ``at`` to the end of the sentence (its attribution, after a quotation)."""
    rest = text[at : at + _REST_CHARS]
    end = _SENTENCE_END_RE.search(rest)
    return tuple(w.casefold() for w in _WORD_CHARS_RE.findall(rest[: end.start() if end else len(rest)]))


def _as_commentary(report: QuoteReport) -> QuoteReport:
    """The poster's words around a quotation of theirs: reported, never judged as a copy."""
    return replace(
        report, status=QuoteStatus.NOT_FOUND, flagged=False, source=None, diff=(), reasons=(), found_in=None
    )


_QUOTE_MARKS = frozenset("\"“”„‟«»‹›「」『』‘’‚'")
_OPENING = ' \t\n"“„«»‹‚‘”<'
_REST_CHARS = 200
_SENTENCE_END_RE = re.compile(r"[.!?](?:\s|$)|\n")
_MAX_OCCURRENCES = 20
_EDGE = " \t\n\u00a0,.;:!?…"


def _marks_are_the_sources(parts: Sequence[QuoteReport], sources: Sequence[ReadSource | None]) -> bool:
    """Whether the paragraph's quotation marks may be the source's: some explicit part was found
    with quotation marks around it in its page (at any of its occurrences), or some explicit part
    was not found on its own at all (then the changed whole is the better report)."""
    texts: dict[str, list[str]] = {}
    for source in sources:
        for t in source.current if source is not None else ():
            texts.setdefault(t.url, []).append(t.text)
    for part in parts:
        if not part.explicit:
            continue
        found = part.source
        if found is None:
            return True
        if _marked(found.exact, found.prefix, found.suffix) or any(
            _marked_somewhere(found.exact, text) for text in texts.get(found.url, ())
        ):
            return True
    return False


def _marked(exact: str, prefix: str, suffix: str) -> bool:
    before = prefix.rstrip(_EDGE)[-1:] or " "
    after = suffix.lstrip(_EDGE)[:1] or " "
    return bool({before, after, exact[:1], exact[-1:]} & _QUOTE_MARKS)


def _marked_somewhere(exact: str, text: str) -> bool:
    """Whether ``exact`` stands between quotation marks at one of its first occurrences in ``text``."""
    at = text.find(exact) if exact else -1
    for _ in range(_MAX_OCCURRENCES):
        if at < 0:
            return False
        if _marked(exact, text[max(0, at - 8) : at], text[at + len(exact) : at + len(exact) + 8]):
            return True
        at = text.find(exact, at + 1)
    return False


def _copied(side: list[QuoteReport]) -> bool:
    """A piece that is a faithful copy, give or take the poster's unflagged words around it."""
    return any(q.status in FAITHFUL_STATUSES for q in side) and not any(q.flagged for q in side)


def _good_split(pair: list[list[QuoteReport]], *, wrapped: bool) -> bool:
    """One piece copied and the other not (own words, or a changed copy): a real cut. Both copied
    from different places is a cut only in a paragraph that is not hard-wrapped, since a wrapped
    paragraph joining two places is a splice."""
    copied = sum(_copied(side) for side in pair)
    return copied == 1 or (copied == 2 and not wrapped)


def _looks_wrapped(text: str) -> bool:
    """Hard-wrapped: every line but the last of a similar, terminal-width length."""
    lines = text.split("\n")[:-1]
    return len(lines) >= 2 and all(_WRAP_MIN <= len(line.rstrip()) <= _WRAP_MAX for line in lines)


_WRAP_MIN, _WRAP_MAX = 40, 100
_NEW_LINE = re.compile(r"\n[ \t\u00a0]*(?=[A-Z0-9\"“‘'«>(\[])")
_MAX_SPLITS = 12


def _line_splits(passage: Passage) -> list[tuple[Passage, Passage]]:
    """The passage cut at each line break that starts something new (a capital, a quote mark)."""
    text = passage.text
    exact = len(text) == passage.span[1] - passage.span[0]
    splits = []
    for found in list(_NEW_LINE.finditer(text))[:_MAX_SPLITS]:
        cut, resume = found.start(), found.end()
        if not text[:cut].strip() or not text[resume:].strip():
            continue
        start, end = passage.span
        head_span = (start, start + cut) if exact else passage.span
        tail_span = (start + resume, end) if exact else passage.span
        splits.append(
            (_piece(passage, text[:cut], head_span, exact), _piece(passage, text[resume:], tail_span, exact))
        )
    return splits


def _piece(passage: Passage, text: str, span: tuple[int, int], exact: bool) -> Passage:
    """Part of a paragraph, keeping the inline quotations that fall inside it."""
    parts = tuple(p for p in passage.parts if span[0] <= p.span[0] and p.span[1] <= span[1]) if exact else ()
    return replace(passage, text=text, span=span, alt_cited_url=None, parts=parts)
