"""Reading one cited source: fetch, extract, judge its health, keep the evidence.

A live read is shared by every post that cites the URL (``Deps.cache``); an at-post read by every
post with the same time. What comes out is a ``ReadSource``: the report entry and the texts a
passage may be checked against.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import structlog

from service.pipeline.deps import Deps
from service.pipeline.errors import ArchiveError, ExtractionError, FetchError, InvalidURL, UnsupportedURL
from service.pipeline.extract.health import Health, assess, assess_probe, probe_answer, probe_url
from service.pipeline.fetch.guard import check_url
from service.pipeline.models import (
    AtPostCapture,
    Citation,
    ConditionalFetcher,
    Extraction,
    FetchResult,
    ProbeAnswer,
    SourceReason,
    SourceReport,
    SourceStatus,
    TextKind,
    WarcEntry,
    WaybackEntry,
)
from service.pipeline.state import ReadSource, SourceText
from service.pipeline.urls import normalize_url, url_origin

log = structlog.get_logger(__name__)

# A page behind these is not the article: what it lacks says nothing about the quote.
_UNREADABLE = frozenset({SourceStatus.SOFT_404, SourceStatus.BLOCKED})


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _texts(url: str, extraction: Extraction, deps: Deps) -> tuple[SourceText, ...]:
    texts = []
    if extraction.main_text.strip():
        texts.append(SourceText(url, TextKind.MAIN, extraction.main_text, deps.indexes))
    if extraction.page_text.strip():
        texts.append(SourceText(url, TextKind.PAGE, extraction.page_text, deps.indexes))
    return tuple(texts)


def _extractable(fetched: FetchResult) -> bool:
    """An ok answer; or a 503 with a body, which may be a bot challenge (``health`` reads its
    signals, which only the extraction worker may parse out of it)."""
    return fetched.status is SourceStatus.OK or (fetched.http_status == 503 and bool(fetched.body))


async def _extract(fetched: FetchResult, deps: Deps) -> tuple[Extraction | None, SourceReason | None]:
    if not _extractable(fetched):
        return None, None
    try:
        extraction = await deps.extractor.extract(
            fetched.body, url=fetched.final_url, content_type=fetched.content_type, digest=fetched.sha256
        )
    except ExtractionError as exc:
        log.warning("extraction_failed", url=fetched.final_url, reason=exc.reason)
        return None, exc.reason
    return extraction, None


async def _read_probe(origin: str, deps: Deps) -> ProbeAnswer:
    """Fetch and read ``origin``'s made-up path; a live answer is kept in the evidence store, so a
    replay of the store asks for the same probe (``probe_url`` depends on the origin only) and
    reaches the same verdict."""
    fetched = await deps.fetcher.fetch(probe_url(origin))
    extraction = None
    if fetched.status is SourceStatus.OK:
        extraction, _ = await _extract(fetched, deps)
    if deps.live:
        await _keep(fetched, extraction, deps)
    return probe_answer(fetched, extraction)


def _probe(origin: str, deps: Deps) -> asyncio.Future[ProbeAnswer]:
    """The probe of ``origin``, started now: read once per origin while ``deps.probes`` keeps it."""
    return asyncio.ensure_future(deps.probes.get(("probe", origin), lambda: _read_probe(origin, deps)))


@dataclass(frozen=True, slots=True)
class _EarlyProbe:
    """The probe of the cited URL's origin, started with the page's fetch."""

    origin: str
    answer: asyncio.Future[ProbeAnswer]


def _start_probe(url: str, deps: Deps) -> _EarlyProbe | None:
    origin = url_origin(url) if deps.settings.http.probe_soft_404 and _guard_allows(url, deps) else None
    return _EarlyProbe(origin, _probe(origin, deps)) if origin else None


def _guard_allows(url: str, deps: Deps) -> bool:
    """Whether the live fetcher's URL checks let ``url`` through. A link refused before anything
    is sent (credentials in it, a port not allowed, an over-long URL to a public host) sends
    nothing at all: not even its host's soft-404 probe, which would otherwise be started alongside."""
    if not deps.live:
        return True
    http = deps.settings.http
    try:
        check_url(url, allow_private=http.allow_private_addresses, allowed_ports=http.allowed_ports)
    except FetchError:
        return False
    return True


async def _drop(early: _EarlyProbe | None) -> None:
    """Stop waiting for a probe; the cache cancels its read unless another page waits for it."""
    if early is None:
        return
    early.answer.cancel()
    await asyncio.wait([early.answer])
    if not early.answer.cancelled():
        early.answer.exception()  # an unused probe's failure is not the page's: read and dropped


async def _health(
    fetched: FetchResult, extraction: Extraction | None, early: _EarlyProbe | None, deps: Deps
) -> Health:
    """Blocked, paywalled or soft 404; a page the other rules find ok is compared with a made-up
    path of its host (``probe_url``), one probe per origin.

    The probe belongs to the origin that answered (the final URL's). It was started with the
    fetch for the cited URL's origin, the same one unless the page redirected to another host or
    scheme; then the final origin's probe is read now, and the early one is dropped like any probe
    no rule needs (a page that failed, is blocked, paywalled or already a soft 404): not waited for.
    """
    health = assess(fetched, extraction)
    if early is None or extraction is None or health.status is not SourceStatus.OK:
        return health
    origin = url_origin(fetched.final_url)
    if origin is None:
        return health
    probe = await (early.answer if origin == early.origin else _probe(origin, deps))
    return assess_probe(fetched, extraction, probe)


async def _keep(fetched: FetchResult, extraction: Extraction | None, deps: Deps) -> WarcEntry | None:
    """The live answer written to the evidence store; where it went."""
    if deps.store is None or fetched.http_status is None:
        return fetched.evidence
    try:
        record = await deps.store.arecord(fetched, extraction=extraction)
    except ArchiveError as exc:
        log.warning("evidence_not_stored", url=fetched.final_url, error=str(exc))
        return None
    return record


async def _save(fetched: FetchResult, deps: Deps) -> WaybackEntry | None:
    if deps.saves is None or fetched.status is not SourceStatus.OK:
        return None
    return await deps.saves.save(fetched.final_url)


def _source_report(
    citation: Citation, fetched: FetchResult, extraction: Extraction | None, health: Health | None
) -> SourceReport:
    status, reason = (health.status, health.reason) if health else (fetched.status, fetched.reason)
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


async def _read_live(citation: Citation, deps: Deps, fetched: FetchResult | None = None) -> ReadSource:
    """Fetch (unless ``fetched`` is the answer already), extract, judge health, keep evidence."""
    early = _start_probe(citation.key, deps)  # alongside the page, not after it
    try:
        if fetched is None:
            fetched = await deps.fetcher.fetch(citation.key)
        extraction, failure = await _extract(fetched, deps)
        if deps.store is None and deps.saves is None:  # a replay: nothing to keep, judged at once
            health, warc, wayback = await _health(fetched, extraction, early, deps), fetched.evidence, None
        else:
            health, warc, wayback = await asyncio.gather(
                _health(fetched, extraction, early, deps),
                _keep(fetched, extraction, deps),
                _save(fetched, deps),
            )
    finally:
        await _drop(early)
    if failure is not None and fetched.status is SourceStatus.OK:
        health = Health(SourceStatus.ERROR, failure)
    if fetched.status is not SourceStatus.OK:
        extraction = None  # a 503's page was read for its signals only, never as the source
    health = _completeness(health, extraction)
    report = replace(
        _source_report(citation, fetched, extraction, health), archive_warc=warc, archive_wayback=wayback
    )
    readable = extraction is not None and health.status not in _UNREADABLE
    texts = _texts(fetched.final_url, extraction, deps) if readable and extraction else ()
    validators = tuple((name, value) for name in _VALIDATORS if (value := fetched.header(name)))
    return ReadSource(citation.key, report, live=texts, partial=_partial(health),
                      validators=validators if fetched.status is SourceStatus.OK else ())  # fmt: skip


def _completeness(health: Health, extraction: Extraction | None) -> Health:
    """An ok page whose extraction stopped early (parser depth or size limit) stays ok and
    readable, with the reason ``extraction_incomplete``."""
    if extraction is not None and extraction.incomplete and health.status is SourceStatus.OK:
        return Health(SourceStatus.OK, SourceReason.EXTRACTION_INCOMPLETE, ("extraction incomplete",))
    return health


def _partial(health: Health) -> bool:
    """Only part of the article can be read: behind a paywall, or cut short by a parser limit."""
    return health.status is SourceStatus.PAYWALLED or health.reason is SourceReason.EXTRACTION_INCOMPLETE


_VALIDATORS = ("ETag", "Last-Modified")


async def _revalidate_live(citation: Citation, stale: ReadSource, deps: Deps) -> ReadSource | None:
    """A kept read grown old, asked again with its validators: still good on a 304 (only its
    ``fetched_at`` moves; its evidence stays the capture it was read from); else the new answer
    is read as any fetch is, without a second request."""
    if not stale.validators or not isinstance(deps.fetcher, ConditionalFetcher):
        return None
    answer = await deps.fetcher.fetch_if_changed(stale.report.final_url, stale.validators)
    if answer.http_status == 304:
        log.info("source_not_modified", url=stale.report.final_url)
        return replace(stale, report=replace(stale.report, fetched_at=_iso(answer.fetched_at)))
    if answer.final_url != stale.report.final_url:
        return None  # it moved: read it afresh from the cited URL, redirects and all
    return await _read_live(
        citation, deps, replace(answer, url=citation.key, redirects=stale.report.redirects)
    )


async def _read_at_post(citation: Citation, when: datetime, deps: Deps) -> ReadSource:
    fetched = await deps.fetcher.fetch_at(citation.key, when)
    extraction = None
    if fetched is not None and fetched.status is SourceStatus.OK:
        extraction, _ = await _extract(fetched, deps)
    if fetched is None or extraction is None:
        placeholder = SourceReport(url=citation.url, final_url=citation.key, status=SourceStatus.ERROR)
        return ReadSource(citation.key, placeholder)
    report = _source_report(citation, fetched, extraction, None)
    capture = AtPostCapture(
        captured_at=report.fetched_at or "",
        sha256=fetched.sha256,
        archive_url=fetched.archive_url or (fetched.evidence.file if fetched.evidence else None),
    )
    report = replace(report, at_post=capture)
    return ReadSource(citation.key, report, at_post=_texts(fetched.final_url, extraction, deps),
                      partial=extraction.incomplete)  # fmt: skip


def unfetchable(citation: Citation) -> ReadSource | None:
    """The report of a cited URL that is never fetched, or None for an http(s) one that may be:
    another scheme is ``unsupported``/``unsupported_scheme``, a malformed host or port
    ``error``/``bad_url``. Nothing is asked of the network, the resolver or an archive for it."""
    try:
        normalize_url(citation.url)
    except UnsupportedURL:
        status, reason = SourceStatus.UNSUPPORTED, SourceReason.UNSUPPORTED_SCHEME
    except InvalidURL:
        status, reason = SourceStatus.ERROR, SourceReason.BAD_URL
    else:
        return None
    report = SourceReport(url=citation.url, final_url=citation.url, status=status, reason=reason)
    return ReadSource(citation.key, report)


def not_read(citation: Citation, reason: SourceReason = SourceReason.BUDGET_EXHAUSTED) -> ReadSource:
    """The report of a cited URL never read: when its post's budget ran out (``budget_exhausted``)
    or past the post's link limit (``too_many_links``). ``error``, nothing readable, so the quotes
    standing with it are ``unverifiable``; the citation still shows in the report."""
    report = SourceReport(url=citation.url, final_url=citation.key, status=SourceStatus.ERROR, reason=reason)
    return ReadSource(citation.key, report)


async def read_source(citation: Citation, posted_at: datetime | None, deps: Deps) -> ReadSource:
    """The live version of a cited URL and, when the post's time is known, the at-post version;
    a URL that is never fetched is reported as such (``unfetchable``)."""
    refused = unfetchable(citation)
    if refused is not None:
        return refused
    live = await deps.cache.get(
        ("live", citation.key),
        lambda: _read_live(citation, deps),
        revalidate=lambda stale: _revalidate_live(citation, stale, deps),
    )
    if live.report.url != citation.url:
        live = replace(live, report=replace(live.report, url=citation.url))
    if posted_at is None:
        return live
    stamp = posted_at.isoformat()
    then = await deps.cache.get(
        ("at:" + stamp, citation.key), lambda: _read_at_post(citation, posted_at, deps)
    )
    if not then.at_post:
        return live
    report = replace(live.report, at_post=then.report.at_post)
    # The same bytes then and now: the page was not edited, and one version is enough to check.
    unchanged = bool(live.live) and then.report.sha256 == live.report.sha256
    # The capture stands in for a page that can't be read now: its own completeness counts then.
    partial = live.partial or (then.partial and not live.live)
    return replace(live, report=report, at_post=() if unchanged else then.at_post, partial=partial)


def known_source(key: str, deps: Deps) -> ReadSource | None:
    """What this run already read of a fetch key (live version), without reading anything."""
    return deps.cache.peek(("live", key))


async def read_supplied_page(url: str, html: bytes, deps: Deps) -> ReadSource:
    """A page as a client saw it (behind a login or a paywall, say), read like a fetched one.

    Nothing is fetched and nothing is stored as evidence: the bytes are the client's word, so the
    report says which judgments rest on them.
    """
    fetched = FetchResult(url=url, final_url=url, status=SourceStatus.OK, http_status=200,
                          content_type="text/html", body=html)  # fmt: skip
    extraction, failure = await _extract(fetched, deps)
    health = _completeness(Health(SourceStatus.OK if extraction is not None else SourceStatus.ERROR, failure),
                           extraction)  # fmt: skip
    report = SourceReport(url=url, final_url=url, status=health.status, reason=health.reason,
                          sha256=fetched.sha256, title=extraction.title if extraction else None)  # fmt: skip
    texts = _texts(url, extraction, deps) if extraction is not None else ()
    return ReadSource(url, report, live=texts, partial=_partial(health))
