"""One post end to end: read every cited source once, judge every passage, build the report.

Used by the CLI (``verify`` and in-process ``batch``), and later by the API and the workers.
"""

from __future__ import annotations

import asyncio

from service.pipeline.deps import Deps
from service.pipeline.judge.attachment import choose_attachment
from service.pipeline.judge.segments import judge_block
from service.pipeline.models import Citation, EventKind, Post, ProgressEvent, QuoteReport, Report
from service.pipeline.report.build import build_report
from service.pipeline.sources import read_source
from service.pipeline.state import ReadSource


def _emit(deps: Deps, kind: EventKind, post: Post, **data: object) -> None:
    if deps.events is not None:
        deps.events(ProgressEvent(kind=kind, post_id=post.id, data=dict(data)))


async def verify_post(post: Post, *, deps: Deps) -> Report:
    """Verify one parsed post against the pages it cites."""
    _emit(deps, EventKind.POST_STARTED, post, sources=len(post.citations), quotes=len(post.passages))

    async def read(citation: Citation) -> ReadSource:
        source = await read_source(citation, post.posted_at, deps)
        # The entry itself travels with the event: a listener that shows it serialises it.
        _emit(deps, EventKind.SOURCE_READ, post, url=citation.url, status=source.report.status.value,
              source=source.report)  # fmt: skip
        return source

    sources = await asyncio.gather(*(read(c) for c in post.citations))
    by_url = {c.url: s for c, s in zip(post.citations, sources, strict=True)}
    quotes: list[QuoteReport] = []
    # Every text of the post stays indexed while it is judged: each is indexed once, however many.
    with deps.indexes.holding(t.text for s in sources for t in (*s.live, *s.at_post)):
        for passage in choose_attachment(post.passages, by_url, settings=deps.settings.align):
            cited = by_url.get(passage.cited_url) if passage.cited_url else None
            also = [by_url[u] for u in passage.also_cited if u in by_url]
            others = [s for s in sources if s is not cited and all(s is not a for a in also)]
            for quote in judge_block(passage, cited, others, settings=deps.settings.align, also=also):
                quotes.append(quote)
                _emit(deps, EventKind.QUOTE_JUDGED, post, index=len(quotes) - 1, status=quote.status.value,
                      flagged=quote.flagged, quote=quote)  # fmt: skip
    report = build_report(
        post_id=post.id,
        posted_at=post.posted_at,
        sources=(s.report for s in sources),
        quotes=quotes,
        cited=bool(post.citations),
        source_read=any(s.readable for s in sources),
    )
    _emit(deps, EventKind.POST_FINISHED, post, verdict=report.verdict.value)
    return report
