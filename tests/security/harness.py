"""The battery's live pipeline: the product's guarded session and fetcher, with 127.0.0.1 playing
"the internet" and every other address judged by the product's own rule."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp.abc import AbstractResolver

from service.pipeline.deps import Deps
from service.pipeline.extract.pool import ExtractorPool
from service.pipeline.fetch.guard import is_denied_address
from service.pipeline.fetch.live import LiveFetcher
from service.pipeline.fetch.session import make_client_session
from service.settings import ExtractSettings, HttpSettings, Settings

PUBLIC = "127.0.0.1"
# Every limit is the default; only ports are open, since the fakes listen on random ones.
SETTINGS = Settings(http=HttpSettings(allowed_ports=None), extract=ExtractSettings(workers=0))


def public_or_product_rule(ip: str) -> bool:
    """127.0.0.1 plays the internet; any other address is judged by the product's rule."""
    return ip == PUBLIC or not is_denied_address(ip)


@asynccontextmanager
async def deps_with(
    resolver: AbstractResolver, settings: Settings = SETTINGS, extractor: ExtractorPool | None = None
) -> AsyncIterator[Deps]:
    """A live run's collaborators (as ``open_deps`` builds them, minus evidence) on a guarded
    session whose resolver is ``resolver``."""
    async with make_client_session(
        settings.http, resolver=resolver, address_policy=public_or_product_rule
    ) as session:
        yield Deps(
            settings=settings,
            fetcher=LiveFetcher(session, settings.http),
            extractor=extractor or ExtractorPool(settings.extract),
            live=True,
        )
