"""A virtual clock: sleeping tasks wake in deadline order and time jumps, so no test really waits.

Concurrent sleeps overlap as they would in real time (two tasks sleeping 60 s from the same moment
both wake at +60 s, not +120 s): a driver task lets runnable tasks settle, then moves time to the
earliest pending deadline and wakes that sleeper.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from datetime import UTC, datetime, timedelta

EPOCH = datetime(2025, 3, 1, 12, tzinfo=UTC)


class FakeClock:
    """Monotonic seconds (``now``), a matching UTC wall clock (``utcnow``) and a virtual ``sleep``."""

    def __init__(self, start: float = 1_000.0, epoch: datetime = EPOCH, settle: int = 8) -> None:
        self.start = self.t = start
        self.epoch = epoch
        self.sleeps: list[float] = []
        self._settle = settle
        self._waiters: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self._driver: asyncio.Task[None] | None = None

    def now(self) -> float:
        return self.t

    def utcnow(self) -> datetime:
        return self.epoch + timedelta(seconds=self.t - self.start)

    def advance(self, seconds: float) -> None:
        self.t += seconds

    async def sleep(self, seconds: float) -> None:
        """Return once virtual time has reached now + ``seconds``."""
        self.sleeps.append(seconds)
        loop = asyncio.get_running_loop()
        wake: asyncio.Future[None] = loop.create_future()
        heapq.heappush(self._waiters, (self.t + max(0.0, seconds), next(self._seq), wake))
        if self._driver is None or self._driver.done():
            self._driver = loop.create_task(self._drive())
        await wake

    async def _drive(self) -> None:
        while self._waiters:
            for _ in range(self._settle):
                await asyncio.sleep(0)  # let woken tasks run up to their next sleep
            deadline, _, wake = heapq.heappop(self._waiters)
            if wake.done():
                continue  # its sleeper was cancelled
            self.t = max(self.t, deadline)
            wake.set_result(None)
