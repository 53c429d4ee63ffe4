"""Deciding each passage's status from its alignments against the post's sources.

Pure: ``verify.py`` reads the sources, this module compares. The order of questions is the
contract's: found faithfully under its own link; found in the at-post version only (the source
was edited); found in another cited source (misattributed); found changed (altered); its source
could not be read (unverifiable); else not found.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from service.pipeline.align.aligner import TextIndex, align_quote, find_verbatim, index_text
from service.pipeline.models import (
    FAITHFUL_STATUSES,
    NO_MATCH,
    Alignment,
    Passage,
    QuoteReport,
    QuoteStatus,
    SourceReport,
)
from service.pipeline.report.build import is_flagged, quote_source
from service.pipeline.state import IndexCache
from service.settings import AlignSettings


def new_index_cache(size: int = 128) -> IndexCache[TextIndex]:
    return IndexCache(index_text, size)


@dataclass(frozen=True, slots=True)
class SourceText:
    """One readable text of a source version: the article's main text or the whole-page text.

    Its index is built on first use, through a cache shared by the whole run.
    """

    url: str
    kind: str
    text: str
    indexes: IndexCache[TextIndex]

    @property
    def index(self) -> TextIndex:
        return self.indexes.get(self.text)


@dataclass(frozen=True, slots=True)
class ReadSource:
    """What verification knows of one cited URL: its report entry and its readable texts."""

    key: str
    report: SourceReport
    live: tuple[SourceText, ...] = ()
    at_post: tuple[SourceText, ...] = ()
    partial: bool = False
    """Only part of the article is readable (a paywall): a passage missing from it is unverifiable."""

    @property
    def readable(self) -> bool:
        return bool(self.live or self.at_post)

    @property
    def current(self) -> tuple[SourceText, ...]:
        """The version a passage is checked against: live, or the at-post capture of a dead page."""
        return self.live or self.at_post


@dataclass(frozen=True, slots=True)
class Match:
    alignment: Alignment
    text: SourceText | None


_NO = Match(NO_MATCH, None)
_RANK = {QuoteStatus.VERBATIM: 3, QuoteStatus.COSMETIC: 3, QuoteStatus.ELIDED: 3, QuoteStatus.ALTERED: 2}


def _rank(match: Match) -> tuple[int, float]:
    return _RANK.get(match.alignment.status, 0), match.alignment.score


def _faithful(match: Match) -> bool:
    return match.alignment.status in FAITHFUL_STATUSES


def best_match(passage: Passage, texts: Sequence[SourceText], *, settings: AlignSettings) -> Match:
    """The best alignment over a version's texts; the main text wins ties over the page text."""
    for text in texts:
        exact = find_verbatim(passage.text, text.text)
        if exact is not None:
            return Match(exact, text)
    best = _NO
    for text in texts:
        found = Match(
            align_quote(passage.text, text.index, explicit=passage.explicit, settings=settings), text
        )
        if _faithful(found):
            return found
        if _rank(found) > _rank(best):
            best = found
    return best


def _quote(passage: Passage, status: QuoteStatus, match: Match, *, settings: AlignSettings) -> QuoteReport:
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
        reasons=alignment.reasons if status in (QuoteStatus.ALTERED, QuoteStatus.MISATTRIBUTED) else (),
    )


def judge_passage(
    passage: Passage,
    cited: ReadSource | None,
    others: Sequence[ReadSource],
    *,
    settings: AlignSettings,
) -> QuoteReport:
    """One passage's verdict; ``cited`` is None when the post gives the passage no link."""
    if cited is None:
        return _judge_unattached(passage, others, settings=settings)
    if not cited.readable:
        # Its own page was never read: found elsewhere (a syndicated copy, say) proves nothing
        # against the link it stands under.
        return _quote(passage, QuoteStatus.UNVERIFIABLE, _NO, settings=settings)
    own = best_match(passage, cited.current, settings=settings)
    if _faithful(own):
        return _quote(passage, own.alignment.status, own, settings=settings)
    if cited.live and cited.at_post:
        then = best_match(passage, cited.at_post, settings=settings)
        if _faithful(then):
            return _quote(passage, QuoteStatus.SOURCE_CHANGED, then, settings=settings)
    elsewhere = max(
        (best_match(passage, other.current, settings=settings) for other in others),
        key=_rank,
        default=_NO,
    )
    if _faithful(elsewhere) or (
        elsewhere.alignment.status is QuoteStatus.ALTERED and own.alignment.status is QuoteStatus.NOT_FOUND
    ):
        return _quote(passage, QuoteStatus.MISATTRIBUTED, elsewhere, settings=settings)
    if own.alignment.status is QuoteStatus.ALTERED:
        return _quote(passage, QuoteStatus.ALTERED, own, settings=settings)
    if cited.partial:
        return _quote(passage, QuoteStatus.UNVERIFIABLE, _NO, settings=settings)
    return _quote(passage, QuoteStatus.NOT_FOUND, own, settings=settings)


def _judge_unattached(
    passage: Passage, sources: Sequence[ReadSource], *, settings: AlignSettings
) -> QuoteReport:
    best = max((best_match(passage, s.current, settings=settings) for s in sources), key=_rank, default=_NO)
    status = best.alignment.status
    # A post that cites nothing readable (or nothing at all) has no source to judge a quote by.
    if status is QuoteStatus.NOT_FOUND and not any(s.readable for s in sources):
        status = QuoteStatus.UNVERIFIABLE
    return _quote(passage, status, best, settings=settings)


_SWAP_MARGIN = 2


def _fits(passage: Passage, url: str | None, by_url: dict[str, ReadSource], settings: AlignSettings) -> bool:
    source = by_url.get(url) if url else None
    if source is None:
        return False
    return _rank(best_match(passage, source.current, settings=settings))[0] > 0


def choose_attachment(
    passages: Sequence[Passage], by_url: dict[str, ReadSource], *, settings: AlignSettings
) -> tuple[Passage, ...]:
    """The post's passages under the attachment convention their sources support best.

    Layout alone cannot always tell whether a post's URLs stand above or below their passages;
    the text can: under the right convention most passages are found under their own link. The
    layout's reading stands unless at least two more passages are found under their link with the
    other reading, so one passage planted under the wrong link is still flagged misattributed.
    """
    ambiguous = [p for p in passages if p.alt_cited_url is not None]
    if not ambiguous:
        return tuple(passages)
    current = sum(_fits(p, p.cited_url, by_url, settings) for p in ambiguous)
    other = sum(_fits(p, p.alt_cited_url, by_url, settings) for p in ambiguous)
    if other - current < _SWAP_MARGIN:
        return tuple(passages)
    return tuple(_swap(p) for p in passages)


def _swap(passage: Passage) -> Passage:
    if passage.alt_cited_url is None:
        return passage
    return replace(
        passage,
        cited_url=passage.alt_cited_url,
        alt_cited_url=passage.cited_url,
        parts=tuple(_swap(part) for part in passage.parts),
    )
