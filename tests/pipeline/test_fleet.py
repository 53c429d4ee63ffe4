"""What the fleet shares through Redis: one read per source whichever process asks first, a read
taken over when its holder dies, politeness per host across processes, one Save Page Now claim
per URL and hour. Two caches or gates on one Redis stand for two worker processes."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest
from redis.asyncio import Redis

from service.pipeline.align.aligner import TextIndex
from service.pipeline.fleet import (
    RedisHostGate,
    RedisSaveClaims,
    SharedCache,
    SharedCacheSettings,
    decode_source,
    encode_source,
    probe_codec,
    source_codec,
)
from service.pipeline.models import (
    AtPostCapture,
    ProbeAnswer,
    Redirect,
    SourceReason,
    SourceReport,
    SourceStatus,
    TextKind,
    WarcEntry,
    WaybackEntry,
    WaybackStatus,
)
from service.pipeline.state import IndexCache, ReadSource, SourceText, new_index_cache
from service.pipeline.streams import RedisNames, connect

Shared = tuple[Redis, RedisNames]
FAST = SharedCacheSettings(ttl_s=60, failed_ttl_s=5, lease_s=0.3, poll_s=0.01)


def _source(indexes: IndexCache[TextIndex], *, status: SourceStatus = SourceStatus.OK) -> ReadSource:
    report = SourceReport(
        url="https://example.org/a?x=1", final_url="https://example.org/a", status=status,
        reason=SourceReason.for_http_status(404) if status is SourceStatus.DEAD else None,
        redirects=(Redirect("https://example.org/a?x=1", 301),), http_status=200, title="Ä title",
        author="A. Writer", published="2024-01-02", canonical_url="https://example.org/a", sha256="ab" * 32,
        fetched_at="2024-01-03T00:00:00Z",
        archive_warc=WarcEntry("warc/x.warc.gz", 120, 900, "sha1:ABC", "2024-01-03T00:00:00Z"),
        archive_wayback=WaybackEntry(WaybackStatus.PENDING, job_id="spn2-1", message="capture running"),
        at_post=AtPostCapture("2023-12-01T00:00:00Z", "cd" * 32, "https://web.archive.org/web/2023/x"),
    )  # fmt: skip
    url = "https://example.org/a"
    live = (SourceText(url, TextKind.MAIN, "The mayor said “no”.", indexes),
            SourceText(url, TextKind.PAGE, "Headline\nThe mayor said “no”.", indexes))  # fmt: skip
    at_post = (SourceText("https://example.org/a", TextKind.MAIN, "Earlier text.", indexes),)
    return ReadSource("https://example.org/a", report, live=live, at_post=at_post, partial=True)


def test_a_read_source_round_trips_through_its_codec() -> None:
    """Report entry (reasons, redirects, captures) and texts come back equal; indexes are not sent."""
    indexes = new_index_cache()
    for status in (SourceStatus.OK, SourceStatus.DEAD):
        source = _source(indexes, status=status)
        assert decode_source(encode_source(source), indexes) == source
    with pytest.raises(ValueError, match="codec version"):
        decode_source(b'{"v": 99}', indexes)


async def test_two_processes_asking_at_once_read_a_source_once(shared_redis: Shared) -> None:
    """The second asker waits for the first one's read and takes its value from Redis."""
    redis, names = shared_redis
    reads = 0

    async def read() -> ReadSource:
        nonlocal reads
        reads += 1
        await asyncio.sleep(0.2)
        return _source(new_index_cache())

    one = SharedCache(redis, names, source_codec(new_index_cache()), FAST)
    two = SharedCache(redis, names, source_codec(new_index_cache()), FAST)
    key = ("live", "https://example.org/a")
    a, b = await asyncio.gather(one.get(key, read), two.get(key, read))
    assert reads == 1
    assert a.report == b.report
    assert [t.text for t in a.live] == [t.text for t in b.live]
    assert (one.reads + two.reads, one.shared_hits + two.shared_hits) == (1, 1)
    third = SharedCache(redis, names, source_codec(new_index_cache()), FAST)
    await third.get(key, read)  # a later process: straight from Redis
    assert (reads, third.shared_hits) == (1, 1)
    ttl = await redis.pttl(names.source(*key))
    assert 55_000 < ttl <= 60_000


async def test_a_dead_holders_lease_lapses_and_another_process_reads(shared_redis: Shared) -> None:
    """A lease left by a process that died is waited out, not forever."""
    redis, names = shared_redis
    key = ("live", "https://example.org/dead-holder")
    await redis.set(names.source_lease(*key), "ghost", px=300)
    cache = SharedCache(redis, names, source_codec(new_index_cache()), FAST)

    async def read() -> ReadSource:
        return _source(new_index_cache())

    started = time.monotonic()
    await cache.get(key, read)
    assert time.monotonic() - started >= 0.25
    assert (cache.reads, cache.waits) == (1, 1)
    assert await redis.exists(names.source_lease(*key)) == 0  # released after the read


async def test_a_failed_read_frees_its_lease_and_is_not_kept(shared_redis: Shared) -> None:
    """An exception releases the lease at once; a failed fetch is kept only briefly."""
    redis, names = shared_redis
    cache = SharedCache(redis, names, source_codec(new_index_cache()), FAST)
    key = ("live", "https://example.org/boom")

    async def boom() -> ReadSource:
        raise RuntimeError("extraction crashed")

    with pytest.raises(RuntimeError):
        await cache.get(key, boom)
    assert await redis.exists(names.source_lease(*key), names.source(*key)) == 0

    async def failed() -> ReadSource:
        return _source(new_index_cache(), status=SourceStatus.TIMEOUT)

    await cache.get(key, failed)
    assert 0 < await redis.pttl(names.source(*key)) <= 5_000


async def test_without_redis_sources_are_read_locally() -> None:
    """Redis away: the post is still verified, its sources read by this process."""
    dead = connect("redis://127.0.0.1:1/0")
    try:
        cache = SharedCache(dead, RedisNames("x"), source_codec(new_index_cache()), FAST)

        async def read() -> ReadSource:
            return _source(new_index_cache())

        got = await cache.get(("live", "https://example.org/a"), read)
        assert got.report.title == "Ä title"
        assert cache.reads == 1
    finally:
        await dead.aclose()


async def test_a_host_gets_at_most_its_limit_of_requests_across_processes(shared_redis: Shared) -> None:
    """Two gates (two workers) share the limit of 2 per host; another host is not held up."""
    redis, names = shared_redis
    gates = [RedisHostGate(redis, names, limit=2, lease_s=5.0) for _ in range(2)]
    running = {"a.example": 0, "b.example": 0}
    peak = dict(running)

    async def request(gate: RedisHostGate, host: str) -> None:
        async with gate.hold(host):
            running[host] += 1
            peak[host] = max(peak[host], running[host])
            await asyncio.sleep(0.05)
            running[host] -= 1

    jobs = [request(gates[i % 2], "a.example") for i in range(8)] + [request(gates[0], "b.example")]
    await asyncio.gather(*jobs)
    assert peak == {"a.example": 2, "b.example": 1}
    assert await redis.zcard(names.host_slots("a.example")) == 0  # every slot given back


async def test_a_slot_of_a_dead_process_frees_itself_and_starts_are_spaced(shared_redis: Shared) -> None:
    """A slot held by a process that died ends with its lease; the minimum delay spaces starts."""
    redis, names = shared_redis
    seconds, micros = await redis.time()
    now_ms = seconds * 1000 + micros // 1000
    await redis.zadd(names.host_slots("c.example"), {"ghost": now_ms + 300})
    gate = RedisHostGate(redis, names, limit=1, lease_s=5.0, delay_s=0.2)
    began = time.monotonic()
    starts = []
    for _ in range(3):
        async with gate.hold("c.example"):
            starts.append(time.monotonic())
    assert starts[0] - began >= 0.25  # the ghost's slot was waited out
    assert gate.waits >= 1
    assert all(b - a >= 0.18 for a, b in itertools.pairwise(starts))


async def test_a_url_is_claimed_for_save_page_now_once_an_hour(shared_redis: Shared) -> None:
    """The first process claims; every other one (or a re-delivery) is told no; a new hour may."""
    redis, names = shared_redis
    clock = [1_700_000_000.0]
    first = RedisSaveClaims(redis, names, clock=lambda: clock[0])
    second = RedisSaveClaims(redis, names, clock=lambda: clock[0])
    assert await first.claim("https://example.org/a") is True
    assert await second.claim("https://example.org/a") is False
    assert await second.claim("https://example.org/b") is True
    clock[0] += 3600
    assert await second.claim("https://example.org/a") is True


async def test_a_hosts_probe_is_shared_by_the_fleet(shared_redis: Shared) -> None:
    """One soft-404 probe per host for every worker: the second process takes the first's answer."""
    redis, names = shared_redis
    probe = ProbeAnswer(
        url="https://example.org/0a1b", final_url="https://example.org/", status=SourceStatus.OK,
        http_status=200, sha256="ef" * 32, main_text="Home", page_text="home news",
        canonical_url="https://example.org/",
    )  # fmt: skip
    probes = 0

    async def read() -> ProbeAnswer:
        nonlocal probes
        probes += 1
        return probe

    one = SharedCache(redis, names, probe_codec(), FAST)
    two = SharedCache(redis, names, probe_codec(), FAST)
    key = ("probe", "https://example.org")
    assert await one.get(key, read) == probe
    assert await two.get(key, read) == probe
    assert (probes, two.shared_hits) == (1, 1)
    assert await redis.exists(names.source("live", "https://example.org")) == 0  # its own key space


async def test_a_slow_request_keeps_its_slot(shared_redis: Shared) -> None:
    """A request longer than the slot's lease keeps its slot (renewed), so the limit still holds."""
    redis, names = shared_redis
    gates = [RedisHostGate(redis, names, limit=1, lease_s=0.3) for _ in range(2)]
    order: list[str] = []

    async def request(gate: RedisHostGate, name: str, seconds: float) -> None:
        async with gate.hold("slow.example"):
            order.append(f"{name} in")
            await asyncio.sleep(seconds)
            order.append(f"{name} out")

    first = asyncio.ensure_future(request(gates[0], "long", 1.0))
    await asyncio.sleep(0.1)
    await request(gates[1], "next", 0.0)
    await first
    assert order == ["long in", "long out", "next in", "next out"]
