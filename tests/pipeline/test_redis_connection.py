"""A task cancelled while redis-py sends its command is cancelled: Python 3.11's ``wait_for``
(which redis-py sends through) drops a cancel that arrives as the write completes, and the
batch client, lease renewers and heartbeats then ran on after being cancelled."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from redis.asyncio import Redis

from service.pipeline.redis_connection import CANCEL_KEEPING, _send_keeping_cancellation
from service.pipeline.streams import RedisNames, connect

Shared = tuple[Redis, RedisNames]


async def test_a_cancel_at_any_step_of_a_command_cancels_the_task(shared_redis: Shared) -> None:
    """The cancel is sent at each loop turn of a SET in turn, until the SET is done before it:
    every cancelled one raises, and the connection it used never hands a stale reply to the
    next command (each GET reads back the value its SET wrote)."""
    redis, names = shared_redis
    key = f"{names.prefix}:cancel-probe"
    cancelled = 0
    for turns in range(200):
        setting = asyncio.ensure_future(redis.set(key, str(turns)))
        for _ in range(turns):
            await asyncio.sleep(0)
        if setting.done():
            break
        setting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await setting
        cancelled += 1
        await redis.set(key, f"after-{turns}")
        assert await redis.get(key) == f"after-{turns}".encode()
    else:
        pytest.fail("a SET never finished within 200 loop turns")
    assert cancelled >= 2  # the probe did reach the send and the reply, not only the queueing


async def test_a_send_that_swallowed_the_cancel_raises_it_and_drops_the_connection() -> None:
    """What ``wait_for`` does in the race, done on purpose: the send catches the cancel and
    returns. The cancel is raised again, and the connection (its reply unread) is closed."""

    class Connection:
        closed = False

        async def disconnect(self, nowait: bool = False) -> None:
            self.closed = nowait

    async def swallowing_send() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            return

    connection = Connection()
    sending: asyncio.Future[Any] = asyncio.ensure_future(
        _send_keeping_cancellation(connection, swallowing_send())  # type: ignore[arg-type]
    )
    await asyncio.sleep(0.01)
    sending.cancel()
    with pytest.raises(asyncio.CancelledError):
        await sending
    assert connection.closed


async def test_a_send_with_no_cancel_keeps_the_connection() -> None:
    class Connection:
        closed = False

        async def disconnect(self, nowait: bool = False) -> None:
            self.closed = True

    async def send() -> None:
        await asyncio.sleep(0)

    connection = Connection()
    await _send_keeping_cancellation(connection, send())  # type: ignore[arg-type]
    assert not connection.closed


@pytest.mark.parametrize(
    "url", ["redis://127.0.0.1:6379/0", "rediss://127.0.0.1:6379/0", "unix:///run/redis.sock"]
)
async def test_every_url_scheme_gets_a_cancel_keeping_connection(url: str) -> None:
    client = connect(url)
    try:
        assert client.connection_pool.connection_class in set(CANCEL_KEEPING.values())
    finally:
        await client.aclose()
