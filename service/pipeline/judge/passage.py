"""Deciding each passage's status from its alignments against the post's sources.

Pure: ``verify.py`` reads the sources, this module compares. The order of questions is the
contract's: found faithfully under its own link; found in the at-post version only (the source
was edited); found in another cited source (misattributed); found changed (altered); its source
could not be read (unverifiable); else not found.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from service.pipeline.align.aligner import align_words, find_verbatim
from service.pipeline.align.tokens import PassageWords, passage_words
from service.pipeline.judge.library import Library, Shelf, shelf_of
from service.pipeline.models import (
    FAITHFUL_STATUSES,
    NO_MATCH,
    Alignment,
    Passage,
    QuoteReport,
    QuoteStatus,
)
from service.pipeline.report.build import is_flagged, quote_source
from service.pipeline.state import ReadSource, SourceText
from service.settings import AlignSettings


@dataclass(frozen=True, slots=True)
class Match:
    alignment: Alignment
    text: SourceText | None


_NO = Match(NO_MATCH, None)
# Statuses whose report lists the alignment's reasons (a cosmetic or elided one: bracketed stand-ins).
_WITH_REASONS = frozenset({*FAITHFUL_STATUSES, QuoteStatus.ALTERED, QuoteStatus.MISATTRIBUTED})
_RANK = {QuoteStatus.VERBATIM: 3, QuoteStatus.COSMETIC: 3, QuoteStatus.ELIDED: 3, QuoteStatus.ALTERED: 2}
_TOP = (3, 1.0)  # no match ranks higher: the first found this good is the answer


def match_rank(match: Match) -> tuple[int, float]:
    """How good a match is: faithful over altered over nothing, then by score."""
    return _RANK.get(match.alignment.status, 0), match.alignment.score


def _faithful(match: Match) -> bool:
    return match.alignment.status in FAITHFUL_STATUSES


def best_match(
    passage: Passage, texts: Sequence[SourceText], *, settings: AlignSettings, library: Library | None = None
) -> Match:
    """The best alignment over a version's texts; the main text wins ties over the page text.

    The lines of a ``>`` quotation that are not consecutive in the source are read as fragments
    picked apart (an ellipsis between each two) when that makes the copy faithful: a reader of a
    quotation line by line sees separate lines, not one spliced sentence. ``library``, if given,
    keeps the passage's words for its next texts.
    """
    found = _best_match(passage, texts, settings=settings, library=library)
    if _faithful(found) or not passage.line_fragments or "\n" not in passage.text.strip():
        return found
    apart = replace(passage, text=passage.text.replace("\n", " … "))
    found_apart = _best_match(apart, texts, settings=settings, library=library)
    return found_apart if _faithful(found_apart) else found


def _words(text: str, library: Library | None) -> PassageWords:
    return library.words(text) if library is not None else passage_words(text)


def _best_match(
    passage: Passage, texts: Sequence[SourceText], *, settings: AlignSettings, library: Library | None
) -> Match:
    for text in texts:
        exact = find_verbatim(passage.text, text.text)
        if exact is not None:
            return Match(exact, text)
    if not texts:
        return _NO
    best, words = _NO, _words(passage.text, library)
    for text in texts:
        if library is not None:
            library.alignments += 1
        aligned = align_words(passage.text, words, text.index, explicit=passage.explicit, settings=settings)
        found = Match(aligned, text)
        if _faithful(found):
            return found
        if match_rank(found) > match_rank(best):
            best = found
    return best


def _quote(
    passage: Passage,
    status: QuoteStatus,
    match: Match,
    *,
    settings: AlignSettings,
    found_in: str | None = None,
) -> QuoteReport:
    alignment = match.alignment
    source = None
    if match.text is not None and alignment.span is not None:
        source = quote_source(
            match.text.url,
            match.text.text,
            alignment.span,
            context_chars=settings.context_chars,
            text_kind=match.text.kind,
        )
    return QuoteReport(
        text=passage.text,
        post_span=passage.span,
        explicit=passage.explicit,
        cited_url=passage.cited_url,
        status=status,
        flagged=is_flagged(status, explicit=passage.explicit),
        score=alignment.score if match.text is not None else 0.0,
        source=source,
        diff=alignment.diff if status is not QuoteStatus.NOT_FOUND else (),
        reasons=alignment.reasons if status in _WITH_REASONS else (),
        found_in=found_in if status is not QuoteStatus.NOT_FOUND else None,
    )


def _best_of(
    passage: Passage,
    sources: Sequence[ReadSource],
    *,
    settings: AlignSettings,
    library: Library,
    past: bool = False,
) -> tuple[Match, str | None]:
    """The best match over several sources' texts (current, or at-post with ``past``), and its URL;
    the first source wins ties."""
    best, where = _NO, None
    for source in sources:
        texts = source.at_post if past else source.current
        found = best_match(passage, texts, settings=settings, library=library)
        if match_rank(found) > match_rank(best):
            best, where = found, source.report.url
        if _faithful(best):
            break
    return best, where


def judge_passage(
    passage: Passage,
    cited: ReadSource | None,
    others: Shelf | Sequence[ReadSource],
    *,
    settings: AlignSettings,
    also: Sequence[ReadSource] = (),
) -> QuoteReport:
    """One passage's verdict; ``cited`` is None when the post gives the passage no link, ``also``
    the further pages it cites with it (found in any of them is faithful; ``found_in`` says which).

    ``others`` are the post's other pages: a ``Shelf`` of the post's ``Library`` (indexed once for
    all its passages), or a plain list, indexed for this passage alone.
    """
    shelf = shelf_of(others, settings=settings)
    library = shelf.library
    if cited is None:
        return _judge_unattached(passage, shelf, settings=settings)
    group = [cited, *also]
    several = len(group) > 1
    readable = [s for s in group if s.readable]
    if not readable:
        # Its own page was never read: found elsewhere (a syndicated copy, say) proves nothing
        # against the link it stands under.
        return _quote(passage, QuoteStatus.UNVERIFIABLE, _NO, settings=settings)
    own, own_url = _best_of(passage, readable, settings=settings, library=library)
    if _faithful(own):
        return _quote(
            passage, own.alignment.status, own, settings=settings, found_in=own_url if several else None
        )
    edited = [s for s in readable if s.live and s.at_post]
    then, then_url = _best_of(passage, edited, settings=settings, library=library, past=True)
    if _faithful(then):
        found_in = then_url if several else None
        return _quote(passage, QuoteStatus.SOURCE_CHANGED, then, settings=settings, found_in=found_in)
    if len(readable) < len(group):
        return _quote(passage, QuoteStatus.UNVERIFIABLE, _NO, settings=settings)
    where = own_url if several else None
    return _judge_not_under_link(passage, own, where, readable, shelf, settings=settings)


def _judge_not_under_link(
    passage: Passage,
    own: Match,
    own_url: str | None,
    cited: Sequence[ReadSource],
    others: Shelf,
    *,
    settings: AlignSettings,
) -> QuoteReport:
    """Not found faithfully under its links: elsewhere among the post's pages, changed, or not at all.

    Only the pages sharing a seed with the passage are aligned (``Shelf.likely``): any other gives
    no match, and a no-match found elsewhere is never reported.
    """
    library = others.library
    elsewhere, where = _NO, None
    for other in others.likely(library.words(passage.text)):
        found = best_match(passage, other.current, settings=settings, library=library)
        if match_rank(found) > match_rank(elsewhere):
            elsewhere, where = found, other.report.url
            if match_rank(elsewhere) >= _TOP:
                break
    if _faithful(elsewhere) or (
        elsewhere.alignment.status is QuoteStatus.ALTERED and own.alignment.status is QuoteStatus.NOT_FOUND
    ):
        return _quote(passage, QuoteStatus.MISATTRIBUTED, elsewhere, settings=settings, found_in=where)
    if own.alignment.status is QuoteStatus.ALTERED:
        return _quote(passage, QuoteStatus.ALTERED, own, settings=settings, found_in=own_url)
    if any(s.partial for s in cited):
        return _quote(passage, QuoteStatus.UNVERIFIABLE, _NO, settings=settings)
    return _quote(passage, QuoteStatus.NOT_FOUND, own, settings=settings)


def _judge_unattached(passage: Passage, sources: Shelf, *, settings: AlignSettings) -> QuoteReport:
    """A passage under no link: its best match among the pages sharing a seed with it (any other
    page gives ``_NO``, which a near miss elsewhere outranks and which ties go past)."""
    library = sources.library
    likely = sources.likely(library.words(passage.text))
    matches = (best_match(passage, s.current, settings=settings, library=library) for s in likely)
    best = max(matches, key=match_rank, default=_NO)
    status = best.alignment.status
    # A post that cites nothing readable (or nothing at all) has no source to judge a quote by.
    if status is QuoteStatus.NOT_FOUND and not any(s.readable for s in sources.sources):
        status = QuoteStatus.UNVERIFIABLE
    return _quote(passage, status, best, settings=settings)
