"""One post end to end: read every cited source once, judge every passage, build the report.

Used by the CLI (``verify`` and in-process ``batch``), the API and the workers. Reading the
sources runs on the post's wall-clock budget (``BudgetSettings.post_s``): a source not read by then
is ``error``/``budget_exhausted``, and the report is built from what was read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

import structlog

from service.pipeline.deps import Deps
from service.pipeline.judge.attachment import choose_attachment
from service.pipeline.judge.library import Library
from service.pipeline.judge.segments import judge_block
from service.pipeline.models import (
    Citation,
    EventKind,
    Post,
    ProgressEvent,
    QuoteReport,
    Report,
    SourceReason,
)
from service.pipeline.report.build import build_report
from service.pipeline.sources import not_read, read_source
from service.pipeline.state import ReadSource

log = structlog.get_logger(__name__)


def _emit(deps: Deps, kind: EventKind, post: Post, **data: object) -> None:
    if deps.events is not None:
        deps.events(ProgressEvent(kind=kind, post_id=post.id, data=dict(data)))


def _deadline(deps: Deps, until: float | None) -> float | None:
    """When reading must stop (the event loop's clock): the post's budget from now, or the
    caller's ``until`` (a batch's own deadline), whichever comes first; None: no limit."""
    budget = deps.settings.budget.post_s
    own = None if budget is None else asyncio.get_running_loop().time() + budget
    ends = [t for t in (own, until) if t is not None]
    return min(ends) if ends else None


async def _read_within(
    citations: Sequence[Citation],
    read: Callable[[Citation], Awaitable[ReadSource]],
    deadline: float | None,
    at_once: int,
) -> list[ReadSource | None]:
    """Every citation read until ``deadline``, ``at_once`` at a time (the session's connection
    limit: more would only queue in the connector), each reader yielding to the loop between two
    reads; None for each still unread then (its read is cancelled). A read that fails stops the
    others and is raised, as ``gather`` would.

    A post may cite thousands of URLs, most of them refused before any I/O: read all at once, they
    held the event loop for seconds (16,000 refused links: 4.5 s of CPU in one loop iteration).
    """
    read_sources: list[ReadSource | None] = [None] * len(citations)
    pending = iter(enumerate(citations))

    async def reader() -> None:
        for index, citation in pending:
            read_sources[index] = await read(citation)
            await asyncio.sleep(0)  # a refused link is read without a pause: let the loop run

    tasks = [asyncio.ensure_future(reader()) for _ in range(min(max(at_once, 1), len(citations)))]
    try:
        left = None if deadline is None else max(0.0, deadline - asyncio.get_running_loop().time())
        if tasks:
            await asyncio.wait(tasks, timeout=left, return_when=asyncio.FIRST_EXCEPTION)
        failed = next((t for t in tasks if t.done() and not t.cancelled() and t.exception()), None)
        if failed is not None:
            failed.result()
        return list(read_sources)
    finally:  # out of time, failed or cancelled: no read of this post runs on unseen
        unread = [t for t in tasks if not t.done()]
        for task in unread:
            task.cancel()
        await asyncio.gather(*unread, return_exceptions=True)


async def verify_post(post: Post, *, deps: Deps, until: float | None = None) -> Report:
    """Verify one parsed post against the pages it cites.

    The sources are read within the post's budget and by ``until`` (the event loop's clock), if
    given; the passages are then judged against what was read.
    """
    _emit(deps, EventKind.POST_STARTED, post, sources=len(post.citations), quotes=len(post.passages))

    def announce(citation: Citation, source: ReadSource) -> ReadSource:
        # The entry itself travels with the event: a listener that shows it serialises it.
        _emit(deps, EventKind.SOURCE_READ, post, url=citation.url, status=source.report.status.value,
              source=source.report)  # fmt: skip
        return source

    async def read(citation: Citation) -> ReadSource:
        return announce(citation, await read_source(citation, post.posted_at, deps))

    # Past the link limit a citation is not read, but still reported (``too_many_links``).
    allowed = post.citations[: deps.settings.post.max_links]
    over = [announce(c, not_read(c, SourceReason.TOO_MANY_LINKS)) for c in post.citations[len(allowed) :]]
    if over:
        log.warning("post_too_many_links", post_id=post.id, unread=len(over), sources=len(post.citations))
    read_in_time = await _read_within(allowed, read, _deadline(deps, until), deps.settings.http.limit)
    unread = [c for c, s in zip(allowed, read_in_time, strict=True) if s is None]
    if unread:
        log.warning("post_budget_exhausted", post_id=post.id, unread=len(unread), sources=len(post.citations))
    sources = [s if s is not None else announce(c, not_read(c))
               for c, s in zip(allowed, read_in_time, strict=True)] + over  # fmt: skip
    by_url = {c.url: s for c, s in zip(post.citations, sources, strict=True)}  # in citation order
    quotes: list[QuoteReport] = []
    settings = deps.settings.align
    # Every text of the post stays indexed while it is judged: each is indexed once, however many.
    # The library indexes them together, once, for every passage looked for beyond its own links.
    library = Library(sources, settings=settings)
    with deps.indexes.holding(t.text for s in sources for t in (*s.live, *s.at_post)):
        for passage in choose_attachment(post.passages, by_url, settings=settings, library=library):
            cited = by_url.get(passage.cited_url) if passage.cited_url else None
            also = [by_url[u] for u in passage.also_cited if u in by_url]
            others = library.of([cited, *also])
            for quote in judge_block(passage, cited, others, settings=settings, also=also):
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
