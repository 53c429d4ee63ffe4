"""The collaborators one run shares, opened and closed by one async context manager."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from service.pipeline.align.aligner import TextIndex
from service.pipeline.extract.pool import ExtractorPool
from service.pipeline.fetch.replay import ReplayArchive
from service.pipeline.models import Extraction, Fetcher, ProbeAnswer, ProgressEvent
from service.pipeline.state import IndexCache, Memo, ReadSource, SourceCache, new_index_cache
from service.pipeline.streams import RedisNames, connect
from service.settings import ArchiveTarget, Settings

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from service.pipeline.evidence.saves import SaveRunner
    from service.pipeline.evidence.store import EvidenceStore
    from service.pipeline.evidence.wayback import WaybackClient

EventSink = Callable[[ProgressEvent], None]


class Extractor(Protocol):
    async def extract(
        self, body: bytes, *, url: str, content_type: str | None = None, digest: str | None = None
    ) -> Extraction:
        """Main text, page text and metadata of one page."""
        ...


@dataclass(frozen=True, slots=True)
class Deps:
    """What verification works with. ``live`` is False when every answer comes from WARC files;
    ``store`` records live answers as evidence; ``saves`` submits them to the Wayback Machine.
    ``cache`` holds the run's reads of cited URLs, ``probes`` its soft-404 probes by origin
    (``("probe", origin)``), so a host is probed once while its answer is kept."""

    settings: Settings
    fetcher: Fetcher
    extractor: Extractor
    cache: Memo[ReadSource] = field(default_factory=SourceCache)
    probes: Memo[ProbeAnswer] = field(default_factory=SourceCache)
    indexes: IndexCache[TextIndex] = field(default_factory=new_index_cache)
    events: EventSink | None = None
    live: bool = False
    store: EvidenceStore | None = None
    saves: SaveRunner | None = None


async def _open_wayback(settings: Settings, stack: AsyncExitStack, shared: Redis | None) -> WaybackClient:
    """A Wayback client on its own session: the archive is the operator's configured endpoint, not
    a user's URL, so it goes around the SSRF guard (a fake archive on loopback works in tests)."""
    import aiohttp

    from service.pipeline.evidence.ratelimit import LocalLimiter, RedisLimiter, SaveLimiter, save_rate
    from service.pipeline.evidence.wayback import WaybackClient

    session = await stack.enter_async_context(
        aiohttp.ClientSession(
            trust_env=False, timeout=aiohttp.ClientTimeout(total=settings.wayback.request_timeout_s)
        )
    )
    limiter: SaveLimiter
    names = RedisNames(settings.redis_prefix)
    if shared is not None:
        limiter = RedisLimiter(shared, names.wayback_limiter, save_rate(settings.wayback))
    elif settings.redis_url:
        client = connect(settings.redis_url)
        stack.push_async_callback(client.aclose)
        limiter = RedisLimiter(client, names.wayback_limiter, save_rate(settings.wayback))
    else:
        limiter = LocalLimiter(save_rate(settings.wayback))
    return WaybackClient(session, settings.wayback, limiter, max_body_bytes=settings.http.max_body_bytes)


async def _open_live(
    settings: Settings, stack: AsyncExitStack, shared: Redis | None
) -> tuple[Fetcher, EvidenceStore | None, SaveRunner | None]:
    # Imported only for live runs: a replay never loads the HTTP client stack.
    from service.pipeline.evidence.past import EvidenceFetcher
    from service.pipeline.evidence.saves import SaveRunner
    from service.pipeline.evidence.store import EvidenceStore
    from service.pipeline.fetch.live import LiveFetcher
    from service.pipeline.fetch.session import make_client_session

    session = await stack.enter_async_context(make_client_session(settings.http))
    store = None
    if ArchiveTarget.WARC in settings.archive:
        store = stack.enter_context(
            EvidenceStore(settings.data_dir, settings.store, max_body_bytes=settings.http.max_body_bytes)
        )
    wayback = None
    if ArchiveTarget.WAYBACK in settings.archive:
        wayback = await _open_wayback(settings, stack, shared)
    saves = gate = None
    names = RedisNames(settings.redis_prefix)
    if shared is not None:
        from service.pipeline.fleet import RedisHostGate

        queue = settings.queue
        gate = RedisHostGate(
            shared, names, limit=queue.host_concurrency, lease_s=6.0, delay_s=queue.host_delay_s
        )  # a slot is renewed while its request runs: a dead worker's frees itself within 6 s
    if wayback is not None:
        claim = None
        if shared is not None:
            from service.pipeline.fleet import RedisSaveClaims

            claim = RedisSaveClaims(shared, names).claim
        saves = await stack.enter_async_context(
            SaveRunner(
                wayback,
                wait_s=settings.wayback.capture_wait_s,
                data_dir=settings.data_dir,
                drain_s=settings.wayback.drain_s,
                claim=claim,
            )
        )
    fetcher = EvidenceFetcher(
        LiveFetcher(session, settings.http, gate=gate),
        store=store,
        wayback=wayback,
        max_redirects=settings.http.max_redirects,
    )
    return fetcher, store, saves


@asynccontextmanager
async def open_deps(
    settings: Settings, *, events: EventSink | None = None, shared: Redis | None = None
) -> AsyncIterator[Deps]:
    """Open the fetcher (live HTTP with its evidence, or WARC replay) and the extraction pool.

    ``shared``: the deployment's Redis (a queue worker's). Then each source is read once for the
    whole fleet, requests to a host are limited across every worker, and a URL goes to Save Page
    Now once an hour whoever asks. The caller opens and closes the client.
    """
    async with AsyncExitStack() as stack:
        # The extraction workers start (the fork server imports trafilatura, then forks them) while
        # the rest is set up and the first pages are fetched: the first extraction waits for them.
        pool = ExtractorPool(settings.extract, eager=False)
        starting = asyncio.ensure_future(stack.enter_async_context(pool))
        store = saves = None
        try:
            if settings.replay:
                # The pool's workers read the captures (``extract/captures.py``), not this process.
                fetcher: Fetcher = await asyncio.to_thread(
                    ReplayArchive.open, list(settings.replay), settings=settings.http, reader=pool
                )
            else:
                fetcher, store, saves = await _open_live(settings, stack, shared)
        finally:
            extractor = await starting
        indexes = new_index_cache()
        cache: Memo[ReadSource] = SourceCache()
        probes: Memo[ProbeAnswer] = SourceCache()
        if shared is not None:
            from service.pipeline.fleet import SharedCache, SharedCacheSettings, probe_codec, source_codec

            names = RedisNames(settings.redis_prefix)
            fleet = SharedCacheSettings(ttl_s=settings.queue.source_ttl_s)
            cache = SharedCache(shared, names, source_codec(indexes), fleet)
            probes = SharedCache(shared, names, probe_codec(), fleet)
        yield Deps(
            settings=settings,
            fetcher=fetcher,
            extractor=extractor,
            cache=cache,
            probes=probes,
            indexes=indexes,
            events=events,
            live=not settings.replay,
            store=store,
            saves=saves,
        )
