"""Shared fixtures: the fake origin server (tests/fakes/origin.py) on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.fakes.origin import Origin, serve_origin


@pytest.fixture
async def origin() -> AsyncIterator[Origin]:
    """A fake origin on 127.0.0.1 at a free port; ``origin.hits`` counts the requests it got."""
    async with serve_origin() as running:
        yield running
