"""What one run knows of its sources: each source read once (``SourceCache``), each text indexed
once (``IndexCache``), and what a read source offers to judging (``ReadSource``, ``SourceText``).

Built by ``sources.py``, cached by ``deps.py``, read by ``judge/``: kept here so that neither the
dependency container nor the reading of sources depends on the judging module.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from service.pipeline.align.aligner import TextIndex, index_text
from service.pipeline.models import SourceReport, TextKind

V = TypeVar("V")
_Key = tuple[str, str]
Revalidate = Callable[[V], Awaitable[V | None]]


class Memo(Protocol[V]):
    """What reading sources needs of a cache: this process's ``SourceCache``, or the fleet's
    ``fleet.SharedCache`` in front of it."""

    def peek(self, key: _Key) -> V | None:
        """A finished read of ``key`` already at hand, without reading anything."""
        ...

    async def get(
        self, key: _Key, read: Callable[[], Awaitable[V]], revalidate: Revalidate[V] | None = None
    ) -> V:
        """The value for ``key``, read at most once however many callers ask at once.

        ``revalidate``, when a kept value is too old, is asked first: it returns the value still
        good (a conditional request answered 304), or a new one, or None (then ``read`` runs).
        """
        ...


class SourceCache(Generic[V]):
    """Reads each source version once while it is in use, however many posts cite it.

    In-flight reads are shared (two posts citing one URL wait for one fetch); finished reads stay
    in a bounded LRU so a long batch keeps flat memory. A batch whose posts cite more distinct
    URLs than ``size`` at once may read an evicted URL again. ``max_age_s`` bounds how old a kept
    read may be (a long-running server must read an edited page again; a batch keeps them all).
    """

    def __init__(
        self, size: int = 1024, *, max_age_s: float | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._size = size
        self._max_age_s, self._clock = max_age_s, clock
        self._done: OrderedDict[_Key, V] = OrderedDict()
        self._read_at: dict[_Key, float] = {}
        self._pending: dict[_Key, asyncio.Future[V]] = {}  # reads under way, shared by their callers
        self._waiting: dict[_Key, int] = {}  # callers waiting on each read under way
        self.reads = 0

    def peek(self, key: _Key) -> V | None:
        """A finished read of ``key`` if the cache still holds it and it is young enough (an old
        one stays kept, so that the next ``get`` can revalidate it instead of reading afresh)."""
        value = self._done.get(key)
        return None if value is None or self._too_old(key) else value

    def _too_old(self, key: _Key) -> bool:
        return self._max_age_s is not None and self._clock() - self._read_at.get(key, 0.0) > self._max_age_s

    def _expire(self, key: _Key) -> V | None:
        """Drop a kept value past ``max_age_s``; it is returned, for a revalidation."""
        if key not in self._done or not self._too_old(key):
            return None
        self._read_at.pop(key, None)
        return self._done.pop(key)

    async def get(
        self, key: _Key, read: Callable[[], Awaitable[V]], revalidate: Revalidate[V] | None = None
    ) -> V:
        """The value for ``key``: cached, or being read for another caller, or read now.

        The read runs in its own task, so a caller that is cancelled (its job timed out) leaves the
        read going for every other caller waiting on it, instead of cancelling them all; when the
        last caller gives up, the read is cancelled too.
        """
        stale = self._expire(key)
        if key in self._done:
            self._done.move_to_end(key)
            return self._done[key]
        task = self._pending.get(key)
        if task is None:
            self.reads += 1
            if stale is not None and revalidate is not None:
                read = _revalidating(stale, revalidate, read)
            task = self._pending[key] = asyncio.ensure_future(read())
            task.add_done_callback(lambda done: self._settle(key, done))
        self._waiting[key] = self._waiting.get(key, 0) + 1
        try:
            return await asyncio.shield(task)
        finally:
            left = self._waiting[key] = self._waiting[key] - 1
            if left == 0:
                del self._waiting[key]
                if not task.done():
                    task.cancel()  # every caller gave up: nobody is left to want this read

    def _settle(self, key: _Key, task: asyncio.Future[V]) -> None:
        self._pending.pop(key, None)
        if task.cancelled() or task.exception() is not None:
            return  # a failed read is not kept: the next caller reads again
        self._done[key] = task.result()
        self._read_at[key] = self._clock()
        if len(self._done) > self._size:
            oldest, _ = self._done.popitem(last=False)
            self._read_at.pop(oldest, None)


def _revalidating(
    stale: V, revalidate: Revalidate[V], read: Callable[[], Awaitable[V]]
) -> Callable[[], Awaitable[V]]:
    async def again() -> V:
        fresh = await revalidate(stale)
        return fresh if fresh is not None else await read()

    return again


class IndexCache(Generic[V]):
    """Text indexes by text, built on first use and kept in a small LRU.

    The same page under several URLs, or its live and at-post captures when they are equal, share
    one index; a page text that no passage needs is never indexed at all. While a post is judged
    its texts are held (``holding``): they are never evicted then, however many the post cites,
    so each is indexed once per post (an LRU smaller than one post's texts, read round-robin by
    each passage, would rebuild every index for every passage). The LRU bound applies to the rest.
    """

    def __init__(self, build: Callable[[str], V], size: int = 128) -> None:
        self._build = build
        self._size = size
        self._items: OrderedDict[str, V] = OrderedDict()
        self._held: dict[str, int] = {}
        self.builds = 0

    def get(self, text: str) -> V:
        found = self._items.get(text)
        if found is not None:
            self._items.move_to_end(text)
            return found
        self.builds += 1
        value = self._items[text] = self._build(text)
        self._trim()
        return value

    @contextmanager
    def holding(self, texts: Iterable[str]) -> Iterator[None]:
        """Keep the indexes of ``texts`` (once built) until the block ends."""
        held = list(dict.fromkeys(texts))
        for text in held:
            self._held[text] = self._held.get(text, 0) + 1
        try:
            yield
        finally:
            for text in held:
                left = self._held[text] - 1
                if left:
                    self._held[text] = left
                else:
                    del self._held[text]
            self._trim()

    def _trim(self) -> None:
        """Evict the least recently used indexes that nobody holds, down to ``size``."""
        excess = len(self._items) - self._size
        if excess <= 0:
            return
        victims = []
        for text in self._items:
            if text not in self._held:
                victims.append(text)
                if len(victims) == excess:
                    break
        for text in victims:
            del self._items[text]


def new_index_cache(size: int = 128) -> IndexCache[TextIndex]:
    return IndexCache(index_text, size)


@dataclass(frozen=True, slots=True)
class SourceText:
    """One readable text of a source version: the article's main text or the whole-page text.

    Its index is built on first use, through a cache shared by the whole run.
    """

    url: str
    kind: TextKind
    text: str
    indexes: IndexCache[TextIndex]

    @property
    def index(self) -> TextIndex:
        return self.indexes.get(self.text)


@dataclass(frozen=True, slots=True)
class ReadSource:
    """What verification knows of one cited URL: its report entry and its readable texts."""

    key: str
    report: SourceReport
    live: tuple[SourceText, ...] = ()
    at_post: tuple[SourceText, ...] = ()
    partial: bool = False
    """Only part of the article is readable (a paywall): a passage missing from it is unverifiable."""
    validators: tuple[tuple[str, str], ...] = ()
    """The page's ``ETag``/``Last-Modified``: a later read asks whether it changed (304) first."""

    @property
    def readable(self) -> bool:
        return bool(self.live or self.at_post)

    @property
    def current(self) -> tuple[SourceText, ...]:
        """The version a passage is checked against: live, or the at-post capture of a dead page."""
        return self.live or self.at_post
