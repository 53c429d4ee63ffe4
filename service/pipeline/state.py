"""A bounded, in-flight-sharing cache of source reads."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

V = TypeVar("V")
_Key = tuple[str, str]


class SourceCache(Generic[V]):
    """Reads each source version once while it is in use, however many posts cite it.

    In-flight reads are shared (two posts citing one URL wait for one fetch); finished reads stay
    in a bounded LRU so a long batch keeps flat memory. A batch whose posts cite more distinct
    URLs than ``size`` at once may read an evicted URL again.
    """

    def __init__(self, size: int = 1024) -> None:
        self._size = size
        self._done: OrderedDict[_Key, V] = OrderedDict()
        self._pending: dict[_Key, asyncio.Future[V]] = {}
        self.reads = 0

    async def get(self, key: _Key, read: Callable[[], Awaitable[V]]) -> V:
        if key in self._done:
            self._done.move_to_end(key)
            return self._done[key]
        if key in self._pending:
            return await asyncio.shield(self._pending[key])
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            self.reads += 1
            value = await read()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters re-raise it themselves
            raise
        finally:
            self._pending.pop(key, None)
        future.set_result(value)
        self._done[key] = value
        if len(self._done) > self._size:
            self._done.popitem(last=False)
        return value


class IndexCache(Generic[V]):
    """Text indexes by text, built on first use and kept in a small LRU.

    The same page under several URLs, or its live and at-post captures when they are equal, share
    one index; a page text that no passage needs is never indexed at all.
    """

    def __init__(self, build: Callable[[str], V], size: int = 128) -> None:
        self._build = build
        self._size = size
        self._items: OrderedDict[str, V] = OrderedDict()
        self.builds = 0

    def get(self, text: str) -> V:
        found = self._items.get(text)
        if found is not None:
            self._items.move_to_end(text)
            return found
        self.builds += 1
        value = self._items[text] = self._build(text)
        if len(self._items) > self._size:
            self._items.popitem(last=False)
        return value
