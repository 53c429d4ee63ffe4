"""Which way a post's URLs stand: above or below their passages, settled by the sources.

Layout alone cannot always tell whether a post's URLs stand above or below their passages; the
text can. Kept apart from judging a passage: this decides the citation, ``passage.py`` the status.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from service.pipeline.judge.library import Library
from service.pipeline.judge.passage import best_match, match_rank
from service.pipeline.models import Passage
from service.pipeline.state import ReadSource
from service.settings import AlignSettings

_SWAP_MARGIN = 2


def _fits(
    passage: Passage,
    url: str | None,
    by_url: dict[str, ReadSource],
    settings: AlignSettings,
    library: Library | None,
) -> bool:
    source = by_url.get(url) if url else None
    if source is None:
        return False
    return match_rank(best_match(passage, source.current, settings=settings, library=library))[0] > 0


def choose_attachment(
    passages: Sequence[Passage],
    by_url: dict[str, ReadSource],
    *,
    settings: AlignSettings,
    library: Library | None = None,
) -> tuple[Passage, ...]:
    """The post's passages under the attachment convention their sources support best.

    Layout alone cannot always tell whether a post's URLs stand above or below their passages;
    the text can: under the right convention most passages are found under their own link. The
    layout's reading stands unless at least two more passages are found under their link with the
    other reading, so one passage planted under the wrong link is still flagged misattributed.
    ``library`` (the post's) keeps each passage's words for judging it afterwards.
    """
    ambiguous = [p for p in passages if p.alt_cited_url is not None]
    if not ambiguous:
        return tuple(passages)
    current = sum(_fits(p, p.cited_url, by_url, settings, library) for p in ambiguous)
    other = sum(_fits(p, p.alt_cited_url, by_url, settings, library) for p in ambiguous)
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
