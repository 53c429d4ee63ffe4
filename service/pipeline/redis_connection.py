"""redis-py's asyncio connections, made to keep a task's cancellation.

redis-py (8.x sets a socket timeout by default; ``streams.connect`` always does) sends each
command through ``asyncio.wait_for``. On Python 3.11, ``wait_for`` returns the inner result when
a cancel arrives in the same loop turn as the write completes, and the cancel is lost (CPython
gh-86296, fixed in 3.12 by the rewrite of ``wait_for``). A task so cancelled runs on: a batch
client ignores Ctrl-C or its test's cancel, a lease renewer cancelled by its owner renews
forever, a heartbeat being stopped is awaited forever. These classes notice the lost cancel and
raise it again, after closing the connection (its reply is still unread, so it cannot go back to
the pool). Written here because redis-py has no hook for it and the bug is in the standard
library of the Python we run on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable

from redis.asyncio.connection import (
    AbstractConnection,
    Connection,
    SSLConnection,
    UnixDomainSocketConnection,
)


async def _send_keeping_cancellation(connection: AbstractConnection, send: Awaitable[None]) -> None:
    task = asyncio.current_task()
    asked = task.cancelling() if task is not None else 0
    await send
    if task is not None and task.cancelling() > asked:  # a cancel came and the send returned anyway
        await connection.disconnect(nowait=True)
        raise asyncio.CancelledError


class _KeepsCancellation(AbstractConnection):
    """Mixed in before one of redis-py's connection classes (its ``send_packed_command`` is the
    one ``super`` reaches)."""

    async def send_packed_command(
        self, command: bytes | str | Iterable[bytes], check_health: bool = True
    ) -> None:
        await _send_keeping_cancellation(self, super().send_packed_command(command, check_health))


class CancelKeepingConnection(_KeepsCancellation, Connection):
    pass


class CancelKeepingSSLConnection(_KeepsCancellation, SSLConnection):
    pass


class CancelKeepingUnixConnection(_KeepsCancellation, UnixDomainSocketConnection):
    pass


CANCEL_KEEPING: dict[type[AbstractConnection], type[AbstractConnection]] = {
    Connection: CancelKeepingConnection,
    SSLConnection: CancelKeepingSSLConnection,
    UnixDomainSocketConnection: CancelKeepingUnixConnection,
}
"""The class ``redis.asyncio.ConnectionPool.from_url`` picks for a URL, and the one to use."""
