"""The collaborators one run shares, opened and closed by one async context manager."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Protocol

from service.settings import Settings

from .align import TextIndex
from .cache import IndexCache, SourceCache
from .extract import ExtractorPool
from .judge import ReadSource, new_index_cache
from .models import Extraction, Fetcher, ProgressEvent
from .replay import ReplayArchive

EventSink = Callable[[ProgressEvent], None]


class Extractor(Protocol):
    async def extract(
        self, body: bytes, *, url: str, content_type: str | None = None, digest: str | None = None
    ) -> Extraction:
        """Main text, page text and metadata of one page."""
        ...


@dataclass(frozen=True, slots=True)
class Deps:
    settings: Settings
    fetcher: Fetcher
    extractor: Extractor
    cache: SourceCache[ReadSource] = field(default_factory=SourceCache)
    indexes: IndexCache[TextIndex] = field(default_factory=new_index_cache)
    events: EventSink | None = None


@asynccontextmanager
async def open_deps(settings: Settings, *, events: EventSink | None = None) -> AsyncIterator[Deps]:
    """Open the fetcher (live HTTP or WARC replay) and the extraction pool; close both on exit."""
    async with AsyncExitStack() as stack:
        # The extraction workers start (spawn, import trafilatura) while the WARC files are indexed.
        starting = asyncio.ensure_future(stack.enter_async_context(ExtractorPool(settings.extract)))
        fetcher: Fetcher
        try:
            if settings.replay:
                fetcher = await asyncio.to_thread(
                    ReplayArchive.open, list(settings.replay), settings=settings.http
                )
            else:
                # Imported only for live runs: a replay never loads the HTTP client stack.
                from .fetch import LiveFetcher
                from .http import make_client_session

                session = await stack.enter_async_context(make_client_session(settings.http))
                fetcher = LiveFetcher(session, settings.http)
        finally:
            extractor = await starting
        yield Deps(settings=settings, fetcher=fetcher, extractor=extractor, events=events)
