"""Capture limiters: a sliding window of N per 60 s, held slots, penalties; local and shared in Redis."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from service.pipeline.evidence.ratelimit import (
    LocalLimiter,
    RedisLimiter,
    save_rate,
    save_slot,
    window_for,
)
from service.settings import WaybackSettings
from tests.fakes.clock import FakeClock


def max_in_window(times: list[float], window: float = 60.0) -> int:
    """The most events in any half-open window [t, t + window)."""
    ordered = sorted(times)
    return max((sum(1 for u in ordered if t <= u < t + window) for t in ordered), default=0)


def test_window_for_budgets() -> None:
    """Whole budgets use a 60 s window, fractions round down, budgets below 1 widen the window."""
    assert window_for(6) == (6, 60.0)
    assert window_for(6.9) == (6, 60.0)
    assert window_for(0.5) == (1, 120.0)
    with pytest.raises(ValueError, match="positive"):
        window_for(0)


def test_capture_rate_depends_on_keys() -> None:
    """Keys earn the authenticated budget; without them the anonymous one applies."""
    assert save_rate(WaybackSettings(captures_per_minute=6, anonymous_captures_per_minute=3)) == 3
    keyed = WaybackSettings(access_key="k", secret_key="s", captures_per_minute=6)
    assert save_rate(keyed) == 6


async def test_local_allows_n_then_waits_a_window() -> None:
    """N acquisitions pass at once; the next waits until the first's window has passed."""
    clock = FakeClock()
    limiter = LocalLimiter(3, now=clock.now, sleep=clock.sleep)
    for _ in range(3):
        async with save_slot(limiter):
            pass
    assert clock.t == clock.start
    await limiter.acquire()
    assert clock.t == clock.start + 60


async def test_local_held_slot_counts_from_release() -> None:
    """A slot held for 30 s counts one window from its release, not from its acquisition."""
    clock = FakeClock()
    limiter = LocalLimiter(1, now=clock.now, sleep=clock.sleep)
    token = await limiter.acquire()
    clock.advance(30)
    await limiter.release(token)
    await limiter.acquire()
    assert clock.t == clock.start + 90


async def test_local_unreleased_slot_expires() -> None:
    """A slot never released (a crashed submitter) frees itself after hold + window."""
    clock = FakeClock()
    limiter = LocalLimiter(1, now=clock.now, sleep=clock.sleep, hold_s=10)
    await limiter.acquire()
    await limiter.acquire()
    assert clock.t == pytest.approx(clock.start + 70)


async def test_local_penalty_blocks_and_never_shortens() -> None:
    """A penalty stops acquisition until it passes; a shorter later penalty does not cut it."""
    clock = FakeClock()
    limiter = LocalLimiter(10, now=clock.now, sleep=clock.sleep)
    await limiter.penalize(100)
    await limiter.penalize(5)
    await limiter.acquire()
    assert clock.t == clock.start + 100


async def test_local_concurrent_waiters_keep_the_window() -> None:
    """Twenty concurrent submitters through a limit of 4 never put 5 in one window."""
    clock = FakeClock()
    limiter = LocalLimiter(4, now=clock.now, sleep=clock.sleep)
    starts: list[float] = []

    async def submit() -> None:
        async with save_slot(limiter):
            starts.append(clock.now())
            await clock.sleep(2)  # the request takes time: the slot counts from its end

    await asyncio.gather(*(submit() for _ in range(20)))
    assert len(starts) == 20
    assert max_in_window(starts) == 4


@settings(max_examples=60, deadline=None)
@given(
    limit=st.integers(1, 7),
    steps=st.lists(st.tuples(st.floats(0, 90), st.floats(0, 20), st.booleans()), min_size=1, max_size=40),
)
@example(limit=1, steps=[(0.0, 0.35725204351922285, False), (0.0, 0.0, False), (0.0, 0.0, False)])
def test_local_window_property(limit: int, steps: list[tuple[float, float, bool]]) -> None:
    """For any gaps, request durations and penalties, no 60 s window holds more than the limit."""

    async def scenario() -> list[float]:
        clock = FakeClock()
        limiter = LocalLimiter(limit, now=clock.now, sleep=clock.sleep)
        ends: list[float] = []
        for gap, duration, penalize in steps:
            clock.advance(gap)
            if penalize:
                await limiter.penalize(duration)
            async with save_slot(limiter):
                clock.advance(duration)
                ends.append(clock.now())  # the archive sees the request at most at its end
        return ends

    ends = asyncio.run(scenario())
    assert max_in_window(ends) <= limit


# RedisLimiter against the real Redis on 127.0.0.1:6379 ----------------------------------------


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    """A client of the local Redis; the test is skipped when none is running."""
    client = Redis(host="127.0.0.1", port=6379, socket_connect_timeout=1)
    try:
        await client.ping()
    except (RedisConnectionError, OSError):
        await client.aclose()
        pytest.skip("no Redis at 127.0.0.1:6379")
    yield client
    await client.aclose()


@pytest.fixture
async def prefix(redis: Redis) -> AsyncIterator[str]:
    """A key prefix unique to the test; its keys are deleted afterwards."""
    name = f"test:ratelimit:{uuid.uuid4().hex}"
    yield name
    keys = [k async for k in redis.scan_iter(match=f"{name}:*")]
    if keys:
        await redis.delete(*keys)


async def test_redis_two_instances_share_the_window(redis: Redis, prefix: str) -> None:
    """Two processes' limiters on one prefix draw from one budget."""
    clock = FakeClock(start=1_700_000_000.0)
    a = RedisLimiter(redis, prefix, 3, now=clock.now, sleep=clock.sleep)
    b = RedisLimiter(redis, prefix, 3, now=clock.now, sleep=clock.sleep)
    for limiter in (a, b, a):
        async with save_slot(limiter):
            pass
    assert clock.t == clock.start
    assert await redis.zcard(a.window_key) == 3
    await b.acquire()
    assert clock.t == pytest.approx(clock.start + 60)
    assert await redis.zcard(a.window_key) == 1  # the three expired entries were dropped


async def test_redis_penalty_is_shared(redis: Redis, prefix: str) -> None:
    """A penalty set by one instance stops the other, and a shorter one does not cut it."""
    clock = FakeClock(start=1_700_000_000.0)
    a = RedisLimiter(redis, prefix, 5, now=clock.now, sleep=clock.sleep)
    b = RedisLimiter(redis, prefix, 5, now=clock.now, sleep=clock.sleep)
    await a.penalize(45)
    await b.penalize(3)
    await b.acquire()
    assert clock.t == pytest.approx(clock.start + 45)
    assert 0 < await redis.pttl(a.penalty_key) <= 105_000


async def test_redis_keys_expire(redis: Redis, prefix: str) -> None:
    """The window key carries a TTL, so an abandoned prefix cleans itself up."""
    limiter = RedisLimiter(redis, prefix, 2)
    async with save_slot(limiter):
        pass
    assert 0 < await redis.pttl(limiter.window_key) <= 180_000


async def test_redis_held_slot_rechecks_and_counts_from_release(redis: Redis, prefix: str) -> None:
    """Waiting on a held slot re-checks often, and the slot counts from its release."""
    clock = FakeClock(start=1_700_000_000.0)
    five_seconds = asyncio.Event()

    async def sleep(seconds: float) -> None:
        await clock.sleep(seconds)
        if clock.t >= clock.start + 5:
            five_seconds.set()

    a = RedisLimiter(redis, prefix, 1, now=clock.now, sleep=clock.sleep, recheck_s=1)
    b = RedisLimiter(redis, prefix, 1, now=clock.now, sleep=sleep, recheck_s=1)
    token = await a.acquire()
    waiter = asyncio.create_task(b.acquire())
    await five_seconds.wait()
    released_at = clock.t
    await a.release(token)
    await waiter
    assert clock.t >= released_at + 60
    assert max(clock.sleeps) <= 60


async def test_redis_concurrent_burst_keeps_the_window(redis: Redis, prefix: str) -> None:
    """Fifteen submitters over two instances with a budget of 3 never put 4 in one window."""
    clock = FakeClock(start=1_700_000_000.0)
    limiters = [RedisLimiter(redis, prefix, 3, now=clock.now, sleep=clock.sleep) for _ in range(2)]
    ends: list[float] = []

    async def submit(i: int) -> None:
        async with save_slot(limiters[i % 2]):
            await clock.sleep(1)
            ends.append(clock.now())

    await asyncio.gather(*(submit(i) for i in range(15)))
    assert len(ends) == 15
    assert max_in_window(ends) <= 3


async def test_redis_hold_is_shared_and_scoped(redis: Redis, prefix: str) -> None:
    """A host held by one process is held for the other, with its reason; other keys and the
    shared window stay free; a shorter hold never cuts a longer one, and it ends on time."""
    clock = FakeClock(start=1_700_000_000.0)
    a = RedisLimiter(redis, prefix, 3, now=clock.now, sleep=clock.sleep)
    b = RedisLimiter(redis, prefix, 3, now=clock.now, sleep=clock.sleep)
    await a.hold("host:slow.example", 20, "too-many-requests")
    await b.hold("host:slow.example", 5, "other")
    held = await b.held("host:slow.example")
    assert held is not None
    assert held.seconds == pytest.approx(20)
    assert held.reason == "too-many-requests"
    assert await b.held("host:fast.example") is None
    await b.acquire()  # the window is not paused by a host's hold
    assert clock.t == clock.start
    clock.advance(21)
    assert await a.held("host:slow.example") is None


async def test_local_hold_is_scoped() -> None:
    """The in-process limiter holds a key alone and lets it go on time."""
    clock = FakeClock()
    limiter = LocalLimiter(3, now=clock.now, sleep=clock.sleep)
    await limiter.hold("url:https://a.example/", 60, "too-many-daily-captures!")
    held = await limiter.held("url:https://a.example/")
    assert held is not None
    assert held.reason == "too-many-daily-captures!"
    assert await limiter.held("url:https://b.example/") is None
    clock.advance(61)
    assert await limiter.held("url:https://a.example/") is None


def test_a_run_without_a_shared_limiter_loads_no_redis_client() -> None:
    """``verify`` imports the Wayback client (and this module) on every run; the Redis client,
    a tenth of a second of start-up, is loaded only by the caller that shares limits through it."""
    code = "import sys\nimport service.pipeline.evidence.past\nprint('redis' in sys.modules)\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "False"
