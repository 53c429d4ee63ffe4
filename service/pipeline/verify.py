"""One post end to end: read every cited source once, judge every passage, build the report.

Used by the CLI (``verify`` and in-process ``batch``), and later by the API and the workers.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime

import structlog

from .deps import Deps
from .errors import ExtractionError
from .judge import ReadSource, SourceText, choose_attachment, judge_block
from .models import (
    AtPostCapture,
    Citation,
    EventKind,
    Extraction,
    FetchResult,
    Post,
    ProgressEvent,
    QuoteReport,
    Report,
    SourceReport,
    SourceStatus,
)
from .report import build_report

log = structlog.get_logger(__name__)


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _texts(url: str, extraction: Extraction, deps: Deps) -> tuple[SourceText, ...]:
    texts = []
    if extraction.main_text.strip():
        texts.append(SourceText(url, "main", extraction.main_text, deps.indexes))
    if extraction.page_text.strip():
        texts.append(SourceText(url, "page", extraction.page_text, deps.indexes))
    return tuple(texts)


async def _extract(fetched: FetchResult, deps: Deps) -> tuple[Extraction | None, str | None]:
    if fetched.status is not SourceStatus.OK:
        return None, None
    try:
        extraction = await deps.extractor.extract(
            fetched.body, url=fetched.final_url, content_type=fetched.content_type, digest=fetched.sha256
        )
    except ExtractionError as exc:
        log.warning("extraction_failed", url=fetched.final_url, reason=exc.reason)
        return None, exc.reason
    return extraction, None


def _source_report(
    citation: Citation, fetched: FetchResult, extraction: Extraction | None, failure: str | None
) -> SourceReport:
    status, reason = fetched.status, fetched.reason
    if failure is not None:
        status, reason = SourceStatus.ERROR, failure
    meta = extraction or Extraction(main_text="", page_text="")
    return SourceReport(
        url=citation.url,
        final_url=fetched.final_url,
        status=status,
        reason=reason,
        redirects=fetched.redirects,
        http_status=fetched.http_status,
        title=meta.title,
        author=meta.author,
        published=meta.published,
        canonical_url=meta.canonical_url,
        sha256=fetched.sha256,
        fetched_at=_iso(fetched.captured_at or fetched.fetched_at),
    )


async def _read_live(citation: Citation, deps: Deps) -> ReadSource:
    fetched = await deps.fetcher.fetch(citation.key)
    extraction, failure = await _extract(fetched, deps)
    texts = _texts(fetched.final_url, extraction, deps) if extraction else ()
    return ReadSource(citation.key, _source_report(citation, fetched, extraction, failure), live=texts)


async def _read_at_post(citation: Citation, when: datetime, deps: Deps) -> ReadSource | None:
    fetched = await deps.fetcher.fetch_at(citation.key, when)
    if fetched is None or fetched.status is not SourceStatus.OK:
        return None
    extraction, _ = await _extract(fetched, deps)
    if extraction is None:
        return None
    report = _source_report(citation, fetched, extraction, None)
    return ReadSource(citation.key, report, at_post=_texts(fetched.final_url, extraction, deps))


async def read_source(citation: Citation, posted_at: datetime | None, deps: Deps) -> ReadSource:
    """The live version of a cited URL and, when the post's time is known, the at-post version."""
    live = await deps.cache.get(("live", citation.key), lambda: _read_live(citation, deps))
    if live.report.url != citation.url:
        live = ReadSource(live.key, _with_url(live.report, citation.url), live=live.live)
    if posted_at is None:
        return live
    stamp = posted_at.isoformat()
    then = await deps.cache.get(
        ("at:" + stamp, citation.key), lambda: _at_post_or_empty(citation, posted_at, deps)
    )
    if not then.at_post:
        return live
    capture = AtPostCapture(
        captured_at=then.report.fetched_at or "",
        sha256=then.report.sha256,
        archive_url=then.report.final_url if then.report.final_url != citation.key else None,
    )
    report = _with_at_post(live.report, capture)
    # The same bytes then and now: the page was not edited, and one version is enough to check.
    unchanged = live.live and then.report.sha256 == live.report.sha256
    return ReadSource(live.key, report, live=live.live, at_post=() if unchanged else then.at_post)


async def _at_post_or_empty(citation: Citation, when: datetime, deps: Deps) -> ReadSource:
    found = await _read_at_post(citation, when, deps)
    if found is None:
        placeholder = SourceReport(url=citation.url, final_url=citation.key, status=SourceStatus.ERROR)
        return ReadSource(citation.key, placeholder)
    return found


def _with_url(report: SourceReport, url: str) -> SourceReport:
    return replace(report, url=url)


def _with_at_post(report: SourceReport, capture: AtPostCapture) -> SourceReport:
    return replace(report, at_post=capture)


def _emit(deps: Deps, kind: EventKind, post: Post, **data: object) -> None:
    if deps.events is not None:
        deps.events(ProgressEvent(kind=kind, post_id=post.id, data=dict(data)))


async def verify_post(post: Post, *, deps: Deps) -> Report:
    """Verify one parsed post against the pages it cites."""
    _emit(deps, EventKind.POST_STARTED, post, sources=len(post.citations), quotes=len(post.passages))

    async def read(citation: Citation) -> ReadSource:
        source = await read_source(citation, post.posted_at, deps)
        _emit(deps, EventKind.SOURCE_READ, post, url=citation.url, status=source.report.status.value)
        return source

    sources = await asyncio.gather(*(read(c) for c in post.citations))
    by_url = {c.url: s for c, s in zip(post.citations, sources, strict=True)}
    quotes: list[QuoteReport] = []
    for passage in choose_attachment(post.passages, by_url, settings=deps.settings.align):
        cited = by_url.get(passage.cited_url) if passage.cited_url else None
        others = [s for s in sources if s is not cited]
        for quote in judge_block(passage, cited, others, settings=deps.settings.align):
            quotes.append(quote)
            _emit(deps, EventKind.QUOTE_JUDGED, post, status=quote.status.value, flagged=quote.flagged)
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
