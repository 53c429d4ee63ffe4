"""The fetcher's five time limits, each ending a fetch with its own reason, against loopback servers
that connect nowhere, never answer, stall a body, or answer slowly; and the wait for a turn at a
busy host, which is limited on its own and never eats into a URL's total."""

from __future__ import annotations

import asyncio
import select
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace

import pytest
from aiohttp import web
from redis.asyncio import Redis

from service.pipeline.fetch.live import LiveFetcher
from service.pipeline.fetch.session import make_client_session
from service.pipeline.fleet import RedisHostGate
from service.pipeline.models import FetchResult, SourceStatus
from service.pipeline.streams import RedisNames
from service.settings import HttpSettings
from tests.fakes.origin import DEFAULT_PAGES, serve_every_path, serve_origin, serve_stall

# Every limit out of reach unless a test brings one down.
SLOW = HttpSettings(
    allow_private_addresses=True, allowed_ports=None, connect_timeout=10.0, pool_timeout=10.0,
    first_byte_timeout=10.0, read_timeout=10.0, total_timeout=10.0,
)  # fmt: skip
PAGE = DEFAULT_PAGES["a"]
STALLED_BODY = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 1000\r\n\r\n<!doctype html><p>The start"
)

FetcherFactory = Callable[..., LiveFetcher]


@pytest.fixture
async def make_fetcher() -> AsyncIterator[FetcherFactory]:
    """Fetchers on their own sessions (each its own process, as far as host slots go)."""
    sessions = []

    def factory(settings: HttpSettings, **kwargs: object) -> LiveFetcher:
        session = make_client_session(settings)
        sessions.append(session)
        return LiveFetcher(session, settings, **kwargs)  # type: ignore[arg-type]

    yield factory
    for session in sessions:
        await session.close()


async def _timed(fetcher: LiveFetcher, url: str) -> tuple[FetchResult, float]:
    started = time.monotonic()
    result = await fetcher.fetch(url)
    return result, time.monotonic() - started


def _outcome(result: FetchResult) -> tuple[SourceStatus, str | None]:
    return result.status, result.reason


# ---------------------------------------------------------------- one limit each


async def test_silent_server_is_a_first_byte_timeout(make_fetcher: FetcherFactory) -> None:
    """Connected and asked, the server never answers: ``first_byte_timeout``, at that limit."""
    fetcher = make_fetcher(replace(SLOW, first_byte_timeout=0.3))
    async with serve_stall() as silent:
        result, took = await _timed(fetcher, silent.url("/never"))
    assert _outcome(result) == (SourceStatus.TIMEOUT, "first_byte_timeout")
    assert silent.hits["/never"] == 1  # the request did go out
    assert 0.25 < took < 2


async def test_stalled_body_is_a_read_timeout_and_keeps_the_status(make_fetcher: FetcherFactory) -> None:
    """Headers and a first chunk, then silence: ``read_timeout``, with the answer's 200 kept."""
    fetcher = make_fetcher(replace(SLOW, read_timeout=0.3))
    async with serve_stall(STALLED_BODY) as stalling:
        result, took = await _timed(fetcher, stalling.url("/stalls"))
    assert _outcome(result) == (SourceStatus.TIMEOUT, "read_timeout")
    assert result.http_status == 200
    assert 0.25 < took < 2


@contextmanager
def _blackhole() -> Iterator[int]:
    """A loopback port where a connect hangs: a socket listening with a backlog of 0, its accept
    queue filled by connections nobody accepts, so the kernel drops further SYNs (Linux)."""
    listener = socket.socket()
    fillers: list[socket.socket] = []
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        for _ in range(8):
            filler = socket.socket()
            filler.setblocking(False)
            fillers.append(filler)
            filler.connect_ex(("127.0.0.1", port))
            _, writable, _ = select.select([], [filler], [], 0.3)
            if not writable:  # this one hangs: so will the fetcher's
                break
        else:
            pytest.skip("this kernel accepts every connection: no blackhole on loopback")
        yield port
    finally:
        for sock in (*fillers, listener):
            sock.close()


async def test_connect_that_hangs_is_a_connect_timeout(make_fetcher: FetcherFactory) -> None:
    """A TCP handshake that never completes: ``connect_timeout``, at that limit, not the total."""
    fetcher = make_fetcher(replace(SLOW, connect_timeout=0.4))
    with _blackhole() as port:
        result, took = await _timed(fetcher, f"http://127.0.0.1:{port}/page")
    assert _outcome(result) == (SourceStatus.TIMEOUT, "connect_timeout")
    assert 0.3 < took < 3


async def _late_answer(request: web.Request) -> web.Response:
    await asyncio.sleep(0.6)
    return web.Response(body=PAGE, content_type="text/html")


async def _gappy_body(request: web.Request) -> web.StreamResponse:
    resp = web.StreamResponse(headers={"Content-Type": "text/html"})
    await resp.prepare(request)
    for part in (b"<!doctype html><html><body>", b"<p>Slow, ", b"but steady.</p></body></html>"):
        await resp.write(part)
        await asyncio.sleep(0.6)
    await resp.write_eof()
    return resp


async def test_first_byte_and_read_limits_are_separate(make_fetcher: FetcherFactory) -> None:
    """An answer 0.6 s late is read under a 0.3 s read limit, a body with 0.6 s gaps under a 0.3 s
    first-byte limit; swap the limits and each ends with its own reason."""
    late_ok = make_fetcher(replace(SLOW, first_byte_timeout=2.0, read_timeout=0.3))
    gaps_ok = make_fetcher(replace(SLOW, first_byte_timeout=0.3, read_timeout=2.0))
    async with serve_every_path(_late_answer) as late, serve_every_path(_gappy_body) as gappy:
        assert _outcome(await late_ok.fetch(late.url("/late"))) == (SourceStatus.OK, None)
        read = await gaps_ok.fetch(gappy.url("/gappy"))
        assert _outcome(read) == (SourceStatus.OK, None)
        assert read.body.endswith(b"but steady.</p></body></html>")
        assert _outcome(await gaps_ok.fetch(late.url("/late"))) == (
            SourceStatus.TIMEOUT,
            "first_byte_timeout",
        )
        assert _outcome(await late_ok.fetch(gappy.url("/gappy"))) == (SourceStatus.TIMEOUT, "read_timeout")


async def _slow_hop(request: web.Request) -> web.StreamResponse:
    await asyncio.sleep(0.4)
    hop = int(request.match_info["tail"] or 0)
    raise web.HTTPFound(f"/{hop + 1}")


async def test_total_spans_the_redirect_chain(make_fetcher: FetcherFactory) -> None:
    """Each hop answers in 0.4 s, well within every per-request limit; the chain as a whole runs
    past the 1 s total: ``timeout``, at the hop where it ran out."""
    fetcher = make_fetcher(replace(SLOW, total_timeout=1.0, first_byte_timeout=0.8))
    async with serve_every_path(_slow_hop) as chain:
        result, took = await _timed(fetcher, chain.url("/0"))
        cut_at = chain.url("/2")
    assert _outcome(result) == (SourceStatus.TIMEOUT, "timeout")
    assert len(result.redirects) == 2  # /0 and /1 answered; /2 was cut
    assert result.final_url == cut_at
    assert 0.9 < took < 2


# ---------------------------------------------------------------- turns at a busy host


async def test_third_url_on_a_host_with_two_stalled_is_read(make_fetcher: FetcherFactory) -> None:
    """Two stalled URLs fill the host's two slots for their 1 s total; the host's third URL waits
    about that long for a turn (longer than its own total), then is sent and read: ``ok``. Another
    host's URL is read at once meanwhile."""
    settings = replace(SLOW, total_timeout=1.0, limit_per_host=2)
    fetcher = make_fetcher(settings)
    release = asyncio.Event()

    async def stuck_paths_stall(request: web.Request) -> web.Response:
        if request.path.startswith("/stuck/"):
            await release.wait()
        return web.Response(body=PAGE, content_type="text/html")

    async with serve_every_path(stuck_paths_stall) as host_a, serve_origin() as host_b:
        stalled = [asyncio.create_task(fetcher.fetch(host_a.url(f"/stuck/{i}"))) for i in range(2)]
        await asyncio.sleep(0.1)  # both hold their slots
        # Timed from the task's creation, not from its first step: a loop held up meanwhile (a
        # busy CI machine) would make the wait it measures look shorter than it was.
        asked = time.monotonic()
        third = asyncio.create_task(fetcher.fetch(host_a.url("/third")))
        other, other_took = await _timed(fetcher, host_b.url("/pages/a"))
        assert _outcome(other) == (SourceStatus.OK, None)
        assert other_took < 0.5  # not held up by the stalled host
        assert not third.done()  # still waiting for a turn at host A
        result = await third
        took = time.monotonic() - asked
        assert [_outcome(await t) for t in stalled] == [(SourceStatus.TIMEOUT, "timeout")] * 2
        release.set()
    assert _outcome(result) == (SourceStatus.OK, None)
    assert result.body == PAGE
    assert took > 0.8  # it waited for a slot: longer than a wait inside its 1 s total would allow


async def test_no_turn_within_the_pool_limit_is_a_pool_timeout(make_fetcher: FetcherFactory) -> None:
    """The host's slots stay busy past ``pool_timeout``: the queued URL ends ``pool_timeout``
    without a request sent."""
    fetcher = make_fetcher(replace(SLOW, pool_timeout=0.3, limit_per_host=2))
    async with serve_stall() as stall:
        stalled = [asyncio.create_task(fetcher.fetch(stall.url(f"/stuck/{i}"))) for i in range(2)]
        await asyncio.sleep(0.1)
        result, took = await _timed(fetcher, stall.url("/queued"))
        for task in stalled:
            task.cancel()
        await asyncio.gather(*stalled, return_exceptions=True)
    assert _outcome(result) == (SourceStatus.TIMEOUT, "pool_timeout")
    assert stall.hits["/queued"] == 0
    assert 0.25 < took < 1.5


async def test_stalled_host_cannot_take_the_shared_pool(make_fetcher: FetcherFactory) -> None:
    """Three slots in all, two per host: five URLs of a stalled host hold two slots and queue for
    their host's, not for the shared ones; another host's page is read at once."""
    fetcher = make_fetcher(replace(SLOW, limit=3, limit_per_host=2))
    async with serve_stall() as stall, serve_origin() as other:
        stalled = [asyncio.create_task(fetcher.fetch(stall.url(f"/stuck/{i}"))) for i in range(5)]
        await asyncio.sleep(0.2)
        result, took = await _timed(fetcher, other.url("/pages/a"))
        assert stall.total == 2  # two sent, three queued behind them
        for task in stalled:
            task.cancel()
        await asyncio.gather(*stalled, return_exceptions=True)
    assert _outcome(result) == (SourceStatus.OK, None)
    assert took < 0.5


async def test_the_fleet_gate_wait_is_a_turn_not_total_time(
    make_fetcher: FetcherFactory, shared_redis: tuple[Redis, RedisNames]
) -> None:
    """Another process holds the host's only fleet slot: within ``pool_timeout`` the fetch waits
    for it (its 0.3 s total untouched) and is read when it frees; past it, ``pool_timeout``."""
    redis, names = shared_redis
    holder = RedisHostGate(redis, names, limit=1, lease_s=5.0)
    gate = RedisHostGate(redis, names, limit=1, lease_s=5.0)
    patient = make_fetcher(replace(SLOW, total_timeout=0.3, pool_timeout=3.0), gate=gate)
    hasty = make_fetcher(replace(SLOW, total_timeout=0.3, pool_timeout=0.2), gate=gate)
    async with serve_origin() as site:
        key = f"127.0.0.1:{site.port}"
        async with holder.hold(key):
            refused = await hasty.fetch(site.url("/pages/a"))
            waiting = asyncio.create_task(_timed(patient, site.url("/pages/a")))
            await asyncio.sleep(0.6)
            assert not waiting.done()
        result, took = await waiting
    assert _outcome(refused) == (SourceStatus.TIMEOUT, "pool_timeout")
    assert _outcome(result) == (SourceStatus.OK, None)
    assert took > 0.5
    assert site.hits["/pages/a"] == 1  # the refused fetch sent nothing
