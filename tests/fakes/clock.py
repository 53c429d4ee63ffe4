"""A fake clock: ``sleep`` moves time forward at once, so tests of waiting never wait."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta


class FakeClock:
    """Monotonic seconds (``now``), a matching UTC wall clock (``utcnow``) and an instant ``sleep``."""

    def __init__(
        self, start: float = 1_000.0, epoch: datetime = datetime(2025, 3, 1, 12, tzinfo=UTC)
    ) -> None:
        self.start = self.t = start
        self.epoch = epoch
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.t

    def utcnow(self) -> datetime:
        return self.epoch + timedelta(seconds=self.t - self.start)

    def advance(self, seconds: float) -> None:
        self.t += seconds

    async def sleep(self, seconds: float) -> None:
        """Advance by ``seconds`` and let other tasks run once."""
        self.sleeps.append(seconds)
        self.t += max(0.0, seconds)
        await asyncio.sleep(0)
