"""The security battery's instruments: an in-process audit hook that sees every ``connect`` and
every name handed to the system resolver, canary listeners that count every TCP connection they
accept, and a heartbeat that measures how long the event loop was ever kept from running.

Run the battery alone with ``pytest tests/security`` (or ``-m security``); README "Hardening".
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

_WATCHED = frozenset({"socket.connect", "socket.getaddrinfo"})
_RECORDING: list[AuditLog] = []
_HOOKED = threading.Lock()
_installed = False


@dataclass
class AuditLog:
    """``("connect", host, port)`` and ``("resolve", name, port)`` for each event seen while open."""

    events: list[tuple[str, str, object]] = field(default_factory=list)

    @property
    def connects(self) -> list[tuple[str, str, object]]:
        return [e for e in self.events if e[0] == "connect"]


def _hook(event: str, args: tuple[Any, ...]) -> None:
    # Runs on every audit event of the process, in every thread: cheap unless recording.
    if not _RECORDING or event not in _WATCHED:
        return
    if event == "socket.connect":
        address = args[1]
        if isinstance(address, tuple):
            entry = ("connect", str(address[0]), address[1])
        else:
            entry = ("connect", str(address), None)
    else:
        entry = ("resolve", str(args[0]), args[1])
    for log in _RECORDING:
        log.events.append(entry)


@contextmanager
def audited() -> Iterator[AuditLog]:
    """Record every connect and system-resolver lookup this process makes inside the block.

    Audit hooks cannot be removed: the hook is installed once, on first use, and stays idle
    outside these blocks.
    """
    global _installed
    with _HOOKED:
        if not _installed:
            sys.addaudithook(_hook)
            _installed = True
    log = AuditLog()
    _RECORDING.append(log)
    try:
        yield log
    finally:
        _RECORDING.remove(log)


@dataclass
class Canary:
    """A listener that only counts the connections it accepts (and drops them)."""

    host: str
    port: int
    accepted: int = 0


@asynccontextmanager
async def canary(host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[Canary]:
    """A canary on ``host`` (loopback, ``::1``, or an address of a test namespace) at ``port``."""
    bird = Canary(host, port)

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        bird.accepted += 1
        writer.close()
        with suppress(ConnectionError):
            await writer.wait_closed()

    server = await asyncio.start_server(accept, host, port)
    bird.port = server.sockets[0].getsockname()[1]
    try:
        yield bird
    finally:
        server.close()
        await server.wait_closed()


@dataclass
class Heartbeat:
    """How long the event loop was ever kept from a task that asks to run every ``interval`` s.

    Per interval between two ticks (each includes the interval itself, so each is an upper bound):
    ``longest`` is the wall-clock gap; ``held`` is that gap less the time the loop's thread sat
    runnable in the kernel's run queue while other processes had the CPUs (Linux schedstat), that
    is the time the loop was held by this process itself (its own work or a blocking call);
    ``busiest`` is the CPU time the thread spent in it.
    """

    interval: float
    ticks: int = 0
    longest: float = 0.0
    held: float = 0.0
    busiest: float = 0.0

    def __str__(self) -> str:
        return (
            f"held {self.held * 1000:.0f} ms, wall gap {self.longest * 1000:.0f} ms, "
            f"CPU {self.busiest * 1000:.0f} ms, {self.ticks} ticks"
        )


def _run_queue_wait() -> Callable[[], float]:
    """Seconds this thread has spent runnable but not running (0 where the kernel can't tell)."""
    path = Path(f"/proc/self/task/{threading.get_native_id()}/schedstat")

    def read() -> float:
        try:
            return int(path.read_text().split()[1]) / 1e9
        except (OSError, ValueError, IndexError):
            return 0.0

    return read


@asynccontextmanager
async def heartbeat(interval: float = 0.005) -> AsyncIterator[Heartbeat]:
    """Tick on the running loop for the block's duration (see ``Heartbeat``)."""
    beat = Heartbeat(interval)

    async def run() -> None:
        loop = asyncio.get_running_loop()
        waited = _run_queue_wait()
        last, last_cpu, last_wait = loop.time(), time.thread_time(), waited()
        while True:
            await asyncio.sleep(interval)
            now, cpu, wait = loop.time(), time.thread_time(), waited()
            beat.longest = max(beat.longest, now - last)
            beat.held = max(beat.held, now - last - (wait - last_wait))
            beat.busiest = max(beat.busiest, cpu - last_cpu)
            beat.ticks += 1
            last, last_cpu, last_wait = now, cpu, wait

    task = asyncio.create_task(run())
    try:
        yield beat
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/security carries the ``security`` marker (``pytest -m security``)."""
    for item in items:
        if "tests/security/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.security)
