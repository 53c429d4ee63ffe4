"""The collaborators one run shares, opened and closed by one async context manager."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Protocol

from service.settings import Settings

from .cache import SourceCache
from .extract import ExtractorPool
from .fetch import LiveFetcher
from .http import make_client_session
from .judge import ReadSource
from .models import Extraction, Fetcher, ProgressEvent
from .replay import ReplayArchive

EventSink = Callable[[ProgressEvent], None]


class Extractor(Protocol):
    async def extract(self, body: bytes, *, url: str, content_type: str | None = None) -> Extraction:
        """Main text, page text and metadata of one page."""
        ...


@dataclass(frozen=True, slots=True)
class Deps:
    settings: Settings
    fetcher: Fetcher
    extractor: Extractor
    cache: SourceCache[ReadSource] = field(default_factory=SourceCache)
    events: EventSink | None = None


@asynccontextmanager
async def open_deps(settings: Settings, *, events: EventSink | None = None) -> AsyncIterator[Deps]:
    """Open the fetcher (live HTTP or WARC replay) and the extraction pool; close both on exit."""
    async with AsyncExitStack() as stack:
        fetcher: Fetcher
        if settings.replay:
            fetcher = ReplayArchive.open(list(settings.replay), settings=settings.http)
        else:
            session = await stack.enter_async_context(make_client_session(settings.http))
            fetcher = LiveFetcher(session, settings.http)
        extractor = await stack.enter_async_context(ExtractorPool(settings.extract))
        yield Deps(settings=settings, fetcher=fetcher, extractor=extractor, events=events)
