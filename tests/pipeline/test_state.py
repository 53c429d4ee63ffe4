"""The source cache: one read per key while in use, shared by concurrent callers, bounded."""

from __future__ import annotations

import asyncio

import pytest

from service.pipeline.state import IndexCache, SourceCache


async def test_concurrent_callers_share_one_read() -> None:
    """Ten posts citing one URL at once cause one read."""
    cache: SourceCache[str] = SourceCache()
    calls = 0
    release = asyncio.Event()

    async def read() -> str:
        nonlocal calls
        calls += 1
        await release.wait()
        return "page"

    tasks = [asyncio.create_task(cache.get(("live", "u"), read)) for _ in range(10)]
    await asyncio.sleep(0)
    release.set()
    assert await asyncio.gather(*tasks) == ["page"] * 10
    assert calls == 1
    assert cache.reads == 1


async def test_lru_evicts_the_oldest() -> None:
    """Past its size the cache forgets the least recently used key, so memory stays flat."""
    cache: SourceCache[int] = SourceCache(size=2)
    counts: dict[str, int] = {}

    def reader(key: str):  # type: ignore[no-untyped-def]
        async def read() -> int:
            counts[key] = counts.get(key, 0) + 1
            return len(counts)

        return read

    for key in ("a", "b", "a", "c", "a", "b"):
        await cache.get(("live", key), reader(key))
    assert counts == {"a": 1, "b": 2, "c": 1}


async def test_failed_read_is_not_cached() -> None:
    """An exception reaches every waiter and the next call reads again."""
    cache: SourceCache[str] = SourceCache()
    attempts = 0

    async def read() -> str:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise RuntimeError("boom")
        return "ok"

    with pytest.raises(RuntimeError):
        await cache.get(("live", "u"), read)
    assert await cache.get(("live", "u"), read) == "ok"
    assert attempts == 2


async def test_a_cancelled_caller_leaves_the_shared_read_to_the_others() -> None:
    """Two callers share one read; the first is cancelled (its job timed out): the second still
    gets the value, and it is cached."""
    cache: SourceCache[str] = SourceCache()
    release = asyncio.Event()

    async def read() -> str:
        await release.wait()
        return "page"

    first = asyncio.create_task(cache.get(("live", "k"), read))
    second = asyncio.create_task(cache.get(("live", "k"), read))
    await asyncio.sleep(0)
    first.cancel()
    await asyncio.sleep(0)
    release.set()
    assert await second == "page"
    assert first.cancelled()
    assert cache.peek(("live", "k")) == "page"
    assert cache.reads == 1


async def test_reads_older_than_the_age_limit_are_read_again() -> None:
    """With ``max_age_s`` (a long-running server), a read is kept that long, then read again;
    without it (a batch), it is kept for as long as the LRU holds it."""
    now = [1000.0]
    aged: SourceCache[int] = SourceCache(max_age_s=60, clock=lambda: now[0])
    forever: SourceCache[int] = SourceCache(clock=lambda: now[0])
    counter = iter(range(100))

    async def read() -> int:
        return next(counter)

    first = await aged.get(("live", "k"), read)
    kept = await forever.get(("live", "k"), read)
    now[0] += 59
    assert await aged.get(("live", "k"), read) == first
    now[0] += 2
    assert aged.peek(("live", "k")) is None
    assert await aged.get(("live", "k"), read) != first
    assert await forever.get(("live", "k"), read) == kept
    assert (aged.reads, forever.reads) == (2, 1)


def test_index_cache_holds_every_text_of_a_post_while_it_is_judged() -> None:
    """Texts held for a post are never evicted, however many: read round-robin, each is built once;
    once released, the cache shrinks back to its bound."""
    cache: IndexCache[str] = IndexCache(str.upper, size=2)
    texts = [f"text {n}" for n in range(6)]
    with cache.holding(texts):
        for _ in range(3):
            for text in texts:
                assert cache.get(text) == text.upper()
        assert cache.builds == 6
    assert cache.get("text 5") == "TEXT 5"
    assert cache.builds == 6
    cache.get("text 0")
    assert cache.builds == 7  # evicted after the post: the bound applies again
