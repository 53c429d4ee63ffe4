"""Turns at a host and a fetch's stopwatch (service/pipeline/fetch/limits.py), without a network."""

from __future__ import annotations

import asyncio

import pytest
from yarl import URL

from service.pipeline.errors import FetchTimeout
from service.pipeline.fetch.limits import HostSlots, Stopwatch, slot_key


@pytest.mark.parametrize(
    ("url", "key"),
    [("http://Example.org/a", "example.org"), ("https://example.org:443/", "example.org"),
     ("http://example.org:80/", "example.org"), ("http://example.org:8080/", "example.org:8080"),
     ("https://example.org:80/", "example.org:80"), ("http://127.0.0.1:5000/x", "127.0.0.1:5000")],
)  # fmt: skip
def test_slot_key_is_the_host_and_any_port_not_the_default(url: str, key: str) -> None:
    """Two servers on one address are two hosts; a scheme's own port adds nothing."""
    assert slot_key(URL(url)) == key


async def test_host_slots_cap_each_host_and_forget_idle_ones() -> None:
    """Two at once per host; a third request at that host waits, another host's does not; a host
    nobody holds or waits for is forgotten."""
    slots = HostSlots(limit=10, per_host=2)
    order: list[str] = []
    release = asyncio.Event()

    async def request(key: str, name: str) -> None:
        async with slots.hold(key):
            order.append(name)
            await release.wait()

    held = [asyncio.create_task(request("a", f"a{i}")) for i in range(3)]
    other = asyncio.create_task(request("b", "b0"))
    await asyncio.sleep(0.05)
    assert sorted(order) == ["a0", "a1", "b0"]  # a2 waits for a slot at a
    release.set()
    await asyncio.gather(*held, other)
    assert order[-1] == "a2"
    assert slots._hosts == {}


async def test_stopwatch_spends_only_running_time() -> None:
    """Time between two runs is not spent; a run past what is left is ``FetchTimeout``."""
    watch = Stopwatch(0.3)
    async with watch.running():
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.3)  # a wait for a turn: not on the clock
    assert 0.1 < watch.left < 0.21
    with pytest.raises(FetchTimeout):
        async with watch.running():
            await asyncio.sleep(1)
    assert watch.left <= 0
    with pytest.raises(FetchTimeout):  # nothing left: refused at once
        async with watch.running():
            pass


async def test_stopwatch_lets_an_inner_timeout_through() -> None:
    """A timeout raised inside the block (aiohttp's own) is not the total's: it passes unchanged."""

    class InnerTimeout(TimeoutError):
        pass

    with pytest.raises(InnerTimeout):
        async with Stopwatch(5.0).running():
            raise InnerTimeout
