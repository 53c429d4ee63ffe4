"""Fixtures shared by the evidence tests: a live fetcher allowed to reach the loopback origin."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from service.pipeline.fetch.live import LiveFetcher
from service.pipeline.fetch.session import make_client_session
from service.settings import HttpSettings

PRIVATE_OK = HttpSettings(allow_private_addresses=True, total_timeout=10.0)


@pytest.fixture
async def fetcher() -> AsyncIterator[LiveFetcher]:
    """A live fetcher allowed to reach loopback."""
    session = make_client_session(PRIVATE_OK)
    yield LiveFetcher(session, PRIVATE_OK)
    await session.close()
