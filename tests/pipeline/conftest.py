"""Fixtures shared by the pipeline tests: a fake Wayback Machine on a virtual clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import aiohttp
import pytest

from service.pipeline.evidence.ratelimit import LocalLimiter
from service.pipeline.evidence.wayback import WaybackClient
from service.settings import WaybackSettings
from tests.fakes.clock import FakeClock
from tests.fakes.wayback import FakeWayback, serve_wayback

MakeClient = Callable[..., WaybackClient]


def max_in_window(times: list[float], window: float = 60.0) -> int:
    """The most events in any half-open window [t, t + window)."""
    ordered = sorted(times)
    return max((sum(1 for u in ordered if t <= u < t + window) for t in ordered), default=0)


@pytest.fixture
def clock() -> FakeClock:
    """Virtual time shared by the queue, client, limiter and fake archive."""
    return FakeClock()


@pytest.fixture
async def fake(clock: FakeClock) -> AsyncIterator[FakeWayback]:
    """The fake archive, enforcing 6 captures a minute and 5 active sessions itself."""
    archive = FakeWayback(now=clock.now, utcnow=clock.utcnow, per_minute=6, max_active=5)
    async with serve_wayback(archive) as running:
        yield running


@pytest.fixture
async def make_client(fake: FakeWayback, clock: FakeClock) -> AsyncIterator[MakeClient]:
    """Clients on the fake with an authenticated budget of 6 a minute."""
    async with aiohttp.ClientSession() as session:

        def build(per_minute: float = 6) -> WaybackClient:
            settings = WaybackSettings(
                base_url=fake.base_url, availability_url=f"{fake.base_url}/wayback/available",
                access_key="AK", secret_key="SK", captures_per_minute=per_minute, poll_interval_s=1.0,
            )  # fmt: skip
            limiter = LocalLimiter(per_minute, now=clock.now, sleep=clock.sleep)
            return WaybackClient(
                session, settings, limiter, now=clock.now, sleep=clock.sleep, utcnow=clock.utcnow
            )

        yield build
