"""The guarded client session (service/pipeline/fetch/session.py) on its own: the dial log and the
socket factory's refusal. LiveFetcher's use of both is tested in test_live.py."""

from __future__ import annotations

import asyncio
import errno

import aiohttp
import pytest

from service.pipeline.fetch import make_client_session, track_dials
from service.pipeline.fetch.session import AddressPolicy, BlockedAddressError
from service.settings import HttpSettings
from tests.fakes.origin import Origin

SETTINGS = HttpSettings(allow_private_addresses=True, total_timeout=10.0)


async def _get(origin: Origin, policy: AddressPolicy | None = None) -> int:
    async with (
        make_client_session(SETTINGS, address_policy=policy) as session,
        session.get(origin.url("/pages/a")) as resp,
    ):
        await resp.read()
        return resp.status


async def test_an_allowed_address_is_dialled_and_logged(origin: Origin) -> None:
    """Inside track_dials, each address the connector dials is recorded; nothing is blocked."""
    with track_dials() as log:
        assert await _get(origin) == 200
    assert (log.dialled, log.blocked) == (["127.0.0.1"], [])
    assert await _get(origin) == 200  # outside any block the guard still runs, with nowhere to log
    assert log.dialled == ["127.0.0.1"]


async def test_a_denied_address_is_refused_without_dialling(origin: Origin) -> None:
    """The policy says no: the socket factory raises BlockedAddressError before any socket exists,
    the address is logged as blocked, and the server receives nothing."""
    asked: list[str] = []

    def deny(ip: str) -> bool:
        asked.append(ip)
        return False

    with track_dials() as log, pytest.raises(aiohttp.ClientConnectorError) as caught:
        await _get(origin, deny)
    assert isinstance(caught.value.os_error, BlockedAddressError)
    assert (asked, log.blocked, log.dialled) == (["127.0.0.1"], ["127.0.0.1"], [])
    assert origin.total == 0


def test_the_refusal_does_not_name_the_address() -> None:
    """BlockedAddressError is EACCES with one fixed message, so several refusals of one request
    keep their type when aiohappyeyeballs merges them."""
    first, second = BlockedAddressError(), BlockedAddressError()
    assert first.errno == errno.EACCES
    assert str(first) == str(second)
    assert "127." not in str(first)


async def test_dial_logs_nest_and_child_tasks_share_them(origin: Origin) -> None:
    """An inner block has its own log and the outer one is back after it; a task started inside a
    block writes to that block's log."""
    with track_dials() as outer:
        with track_dials() as inner:
            assert inner is not outer
            assert await asyncio.create_task(_get(origin)) == 200
        assert await _get(origin) == 200
    assert inner.dialled == ["127.0.0.1"]
    assert outer.dialled == ["127.0.0.1"]
