"""Reading a page again once a kept read is old: a conditional request first (``If-None-Match``,
``If-Modified-Since``), the kept read reused on a 304, the new page read from that one answer
when it changed; in this process's cache and in the fleet's."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiohttp import web
from redis.asyncio import Redis

from service.pipeline.deps import Deps
from service.pipeline.fetch.live import LiveFetcher
from service.pipeline.fetch.session import make_client_session
from service.pipeline.fleet import SharedCache, SharedCacheSettings, source_codec
from service.pipeline.models import Citation, SourceStatus
from service.pipeline.sources import read_source
from service.pipeline.state import ReadSource, SourceCache, new_index_cache
from service.pipeline.streams import RedisNames
from service.settings import HttpSettings, Settings
from tests.fakes.sources import TextExtractor

SETTINGS = Settings(http=HttpSettings(allow_private_addresses=True, probe_soft_404=False))
PAGE = "<html><head><title>Harbour</title></head><body><p>The harbour reopened on {day}.</p></body></html>"


@dataclass
class Origin:
    """One page with an ETag; ``requests`` records (conditional?, status) of every request."""

    day: str = "Monday"
    requests: list[tuple[bool, int]] = field(default_factory=list)
    url: str = ""

    async def page(self, request: web.Request) -> web.Response:
        etag = f'"v-{self.day}"'
        conditional = "If-None-Match" in request.headers
        if request.headers.get("If-None-Match") == etag:
            self.requests.append((True, 304))
            return web.Response(status=304, headers={"ETag": etag})
        self.requests.append((conditional, 200))
        return web.Response(text=PAGE.format(day=self.day), content_type="text/html", headers={"ETag": etag})


@asynccontextmanager
async def serve() -> AsyncIterator[Origin]:
    origin = Origin()
    app = web.Application()
    app.router.add_get("/story", origin.page)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    origin.url = f"http://127.0.0.1:{runner.addresses[0][1]}/story"
    try:
        yield origin
    finally:
        await runner.cleanup()


def _citation(url: str) -> Citation:
    return Citation(url=url, key=url, span=(0, len(url)))


async def test_an_old_read_is_revalidated_and_reused_on_a_304() -> None:
    """Past max_age: one conditional request, answered 304; the same texts, a newer fetched_at."""
    async with serve() as origin, make_client_session(SETTINGS.http) as session:
        clock = [0.0]
        deps = Deps(settings=SETTINGS, fetcher=LiveFetcher(session, SETTINGS.http), extractor=TextExtractor(),
                    cache=SourceCache(max_age_s=60, clock=lambda: clock[0]), live=True)  # fmt: skip
        first = await read_source(_citation(origin.url), None, deps)
        assert first.validators == (("ETag", '"v-Monday"'),)
        clock[0] = 61
        await asyncio.sleep(1.1)  # fetched_at has a resolution of one second
        second = await read_source(_citation(origin.url), None, deps)
        assert origin.requests == [(False, 200), (True, 304)]
        assert [t.text for t in second.live] == [t.text for t in first.live]
        assert second.report.sha256 == first.report.sha256
        assert (second.report.fetched_at or "") > (first.report.fetched_at or "")


async def test_a_changed_page_is_read_from_the_one_answer() -> None:
    """The page changed: its new text comes from the conditional request's own 200, no second request."""
    async with serve() as origin, make_client_session(SETTINGS.http) as session:
        clock = [0.0]
        deps = Deps(settings=SETTINGS, fetcher=LiveFetcher(session, SETTINGS.http), extractor=TextExtractor(),
                    cache=SourceCache(max_age_s=60, clock=lambda: clock[0]), live=True)  # fmt: skip
        await read_source(_citation(origin.url), None, deps)
        origin.day, clock[0] = "Tuesday", 61
        again = await read_source(_citation(origin.url), None, deps)
        assert origin.requests == [(False, 200), (True, 200)]
        assert "Tuesday" in again.live[0].text
        assert again.report.status is SourceStatus.OK
        assert again.validators == (("ETag", '"v-Tuesday"'),)


async def test_the_fleet_keeps_a_page_with_validators_past_its_ttl_to_revalidate_it(
    shared_redis: tuple[Redis, RedisNames],
) -> None:
    """Another worker, after the TTL: a 304 from one conditional request, not a second full read;
    a page without validators is simply read again."""
    redis, names = shared_redis
    fleet = SharedCacheSettings(ttl_s=0.2, stale_s=60, poll_s=0.01)
    async with serve() as origin, make_client_session(SETTINGS.http) as session:
        fetcher = LiveFetcher(session, SETTINGS.http)

        def worker() -> Deps:
            indexes = new_index_cache()
            cache: SharedCache[ReadSource] = SharedCache(redis, names, source_codec(indexes), fleet)
            return Deps(settings=SETTINGS, fetcher=fetcher, extractor=TextExtractor(), cache=cache,
                        indexes=indexes, live=True)  # fmt: skip

        await read_source(_citation(origin.url), None, worker())
        assert await redis.pttl(names.source("live", origin.url)) > 50_000  # kept to revalidate
        await read_source(_citation(origin.url), None, worker())  # fresh: from Redis, no request
        assert origin.requests == [(False, 200)]
        await asyncio.sleep(0.25)
        later = await read_source(_citation(origin.url), None, worker())
        assert origin.requests == [(False, 200), (True, 304)]
        assert "Monday" in later.live[0].text


async def test_the_cache_asks_revalidate_first_and_reads_only_when_it_says_none() -> None:
    """An expired value goes to ``revalidate``; its answer is kept; None falls back to ``read``."""
    clock = [0.0]
    cache: SourceCache[str] = SourceCache(max_age_s=10, clock=lambda: clock[0])
    calls: list[str] = []

    async def read() -> str:
        calls.append("read")
        return f"read@{clock[0]:g}"

    async def still_good(stale: str) -> str | None:
        calls.append(f"revalidate {stale}")
        return stale + "+304"

    async def changed(stale: str) -> str | None:
        calls.append(f"revalidate {stale}")
        return None

    key = ("live", "k")
    assert await cache.get(key, read, revalidate=still_good) == "read@0"
    clock[0] = 11
    assert await cache.get(key, read, revalidate=still_good) == "read@0+304"
    clock[0] = 22
    assert await cache.get(key, read, revalidate=changed) == "read@22"
    assert await cache.get(key, read, revalidate=changed) == "read@22"  # fresh again: nothing asked
    assert calls == ["read", "revalidate read@0", "revalidate read@0+304", "read"]


async def test_peeking_at_an_old_read_leaves_it_to_be_revalidated() -> None:
    """``peek`` (GET /v1/sources) says an old read is too old, but keeps it for ``get`` to revalidate."""
    clock = [0.0]
    cache: SourceCache[str] = SourceCache(max_age_s=10, clock=lambda: clock[0])
    calls: list[str] = []

    async def read() -> str:
        calls.append("read")
        return "first"

    async def still_good(stale: str) -> str | None:
        calls.append(f"revalidate {stale}")
        return stale

    await cache.get(("live", "k"), read)
    clock[0] = 11
    assert cache.peek(("live", "k")) is None
    assert await cache.get(("live", "k"), read, revalidate=still_good) == "first"
    assert calls == ["read", "revalidate first"]
