"""Shared fixtures: the fake origin server (tests/fakes/origin.py) on loopback; the machine's Redis
under a key prefix of the test's own."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

from service.pipeline.streams import RedisNames, connect
from tests.fakes.origin import Origin, serve_origin


@pytest.fixture
async def origin() -> AsyncIterator[Origin]:
    """A fake origin on 127.0.0.1 at a free port; ``origin.hits`` counts the requests it got."""
    async with serve_origin() as running:
        yield running


@pytest.fixture
async def shared_redis() -> AsyncIterator[tuple[Redis, RedisNames]]:
    """The machine's Redis under a key prefix of this test's own; every key under it is deleted."""
    client = connect("redis://127.0.0.1:6379/0")
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        await client.aclose()
        pytest.skip(f"no Redis at 127.0.0.1:6379 ({exc})")
    names = RedisNames(f"test-{secrets.token_hex(6)}")
    try:
        yield client, names
    finally:
        keys = [key async for key in client.scan_iter(match=f"{names.prefix}:*", count=1000)]
        if keys:
            await client.delete(*keys)
        await client.aclose()
