"""Turns at a host and the clock of one fetch: the limits that hold separately.

aiohttp's own timeouts mix them. Its ``connect`` covers the wait for a pooled connection, and its
``total`` covers that wait too: a healthy URL queued behind two stalled ones on its host used up
its total before it was even sent, and was reported ``timeout``. Here the wait for a turn
(``HostSlots``, then the fleet's host gate) is limited on its own (``pool_timeout``); the total
(``Stopwatch``) runs only while a request does; and the connector is left unlimited, so nothing
waits inside aiohttp where no limit of ours could tell.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol

import aiohttp
from yarl import URL

from service.pipeline.errors import FetchTimeout

_DEFAULT_PORTS = {"http": 80, "https": 443}


def slot_key(url: URL) -> str:
    """The host a request counts against: its name, and its port when not the scheme's default
    (two servers on one address are two hosts; ``http://x`` and ``https://x`` are one)."""
    host = (url.host or "").lower()
    port = url.port
    return host if port is None or port == _DEFAULT_PORTS.get(url.scheme) else f"{host}:{port}"


class HostGate(Protocol):
    """Politeness shared beyond this process (``fleet.RedisHostGate``): held around each request."""

    def hold(self, host: str) -> AbstractAsyncContextManager[None]:
        """Wait for a turn at ``host``; the turn ends when the context does."""
        ...


class HostSlots:
    """At most ``per_host`` requests at once to one host and ``limit`` in all, in this process.

    The host's slot is taken before the shared one: requests queued behind a stalled host never
    hold a slot of the shared pool while they wait, so one host cannot starve the others.
    """

    def __init__(self, *, limit: int, per_host: int) -> None:
        self._all = asyncio.Semaphore(max(1, limit))
        self._per_host = max(1, per_host)
        self._hosts: dict[str, asyncio.Semaphore] = {}
        self._users: dict[str, int] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        """A slot at ``key`` (and one of the shared pool) for the duration of the context."""
        host = self._hosts.setdefault(key, asyncio.Semaphore(self._per_host))
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with host, self._all:
                yield
        finally:
            left = self._users[key] = self._users[key] - 1
            if not left:  # nobody holds or waits: forget the host (one entry per host ever seen)
                del self._users[key], self._hosts[key]


class Stopwatch:
    """The total time of one fetch (every hop of its redirect chain), spent only while a request
    runs: waiting for a turn at a host costs none of it."""

    def __init__(self, seconds: float) -> None:
        self.left = seconds

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Run the block within what is left; ``FetchTimeout`` (reason ``timeout``) past it."""
        if self.left <= 0:
            raise FetchTimeout("total time used up")
        loop = asyncio.get_running_loop()
        started = loop.time()
        timer = asyncio.timeout(self.left)
        try:
            async with timer:
                yield
        except TimeoutError:
            if timer.expired():
                raise FetchTimeout("total time used up") from None
            raise  # a limit inside the block (aiohttp's), translated by the caller
        finally:
            self.left -= loop.time() - started


def time_body_gaps(resp: aiohttp.ClientResponse, seconds: float) -> None:
    """From now on, wait at most ``seconds`` for each next chunk of ``resp``'s body.

    aiohttp has one read timer per connection (``sock_read``): it was set, per request, to the
    first-byte limit, and it restarts on every chunk received. Once the headers are in, the same
    timer is given the idle-read limit; a body already complete has no timer left to change.
    """
    conn = resp.connection
    protocol = conn.protocol if conn is not None else None
    if protocol is None or resp.content.is_eof():
        return
    protocol.read_timeout = seconds
    protocol.start_timeout()
