"""What every process of a deployment shares through Redis, so that the fleet behaves as one.

- ``SharedCache``: each cited page (and each host's soft-404 probe) is fetched and extracted
  once for the whole fleet. The first process to want a value takes a lease and reads it; the
  others wait for its value and take the read over if the lease lapses (its holder died).
  Values live for a TTL.
- ``RedisHostGate``: at most N requests at once to one host across every worker, and an optional
  minimum delay between two of them.
- ``RedisSaveClaims``: one Save Page Now submission per URL per hour, whichever process and
  however many deliveries of a job ask for it.

Hand-written on purpose: the ``limits`` package (used for the API's rate limits and the Save
Page Now rate) counts requests in windows; it has no notion of requests *in flight* (a
semaphore), nor of a read that others wait on. Each operation here is one Lua script, so it is
atomic on the server and needs no client clock.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import structlog
from redis.exceptions import RedisError

from service.pipeline.align.aligner import TextIndex
from service.pipeline.models import ProbeAnswer, SourceReport, SourceStatus, TextKind
from service.pipeline.state import IndexCache, ReadSource, Revalidate, SourceCache, SourceText
from service.pipeline.streams import RedisNames

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = structlog.get_logger(__name__)

_Key = tuple[str, str]
V = TypeVar("V")
CODEC_VERSION = 1

# Delete a key only if it still holds our token (a lease we hold, not one taken over since).
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""


# ---------------------------------------------------------------- codec of a read source


def encode_source(source: ReadSource) -> bytes:
    """A read source as JSON: its report entry and its readable texts (not their indexes)."""

    def texts(items: tuple[SourceText, ...]) -> list[list[str]]:
        return [[t.url, t.kind.value, t.text] for t in items]

    data = {
        "v": CODEC_VERSION,
        "key": source.key,
        "report": source.report.to_dict(),
        "live": texts(source.live),
        "at_post": texts(source.at_post),
        "partial": source.partial,
        "validators": [list(pair) for pair in source.validators],
    }
    return json.dumps(data, ensure_ascii=False).encode()


def decode_source(raw: bytes, indexes: IndexCache[TextIndex]) -> ReadSource:
    """The inverse of ``encode_source``; texts are indexed by this process on first use."""
    data: dict[str, Any] = json.loads(raw)
    if data.get("v") != CODEC_VERSION:
        raise ValueError(f"source codec version {data.get('v')!r}")

    def texts(items: list[list[str]]) -> tuple[SourceText, ...]:
        return tuple(SourceText(url, TextKind(kind), text, indexes) for url, kind, text in items)

    return ReadSource(
        key=data["key"],
        report=SourceReport.from_dict(data["report"]),
        live=texts(data["live"]),
        at_post=texts(data["at_post"]),
        partial=bool(data["partial"]),
        validators=tuple((str(name), str(value)) for name, value in data.get("validators", ())),
    )


# ---------------------------------------------------------------- one read per source for the fleet


@dataclass(frozen=True, slots=True)
class SharedCacheSettings:
    ttl_s: float = 3600.0
    failed_ttl_s: float = 60.0  # a timeout or a 503 is worth trying again soon
    lease_s: float = (
        6.0  # renewed every third of it while the read runs; lapses this long after its holder died
    )
    poll_s: float = 0.05
    stale_s: float = 86400.0  # past its TTL, a value with validators is kept this long to revalidate


@dataclass(frozen=True, slots=True)
class Codec(Generic[V]):
    """How a cached value travels through Redis, and whether it is a failure (kept briefly)."""

    encode: Callable[[V], bytes]
    decode: Callable[[bytes], V]
    failed: Callable[[V], bool]
    revalidatable: Callable[[V], bool] = lambda _: False
    """Worth keeping past its TTL: a conditional request can tell whether it is still good."""


def source_codec(indexes: IndexCache[TextIndex]) -> Codec[ReadSource]:
    return Codec(encode_source, lambda raw: decode_source(raw, indexes),
                 lambda value: value.report.status in _RETRY_SOON,
                 lambda value: bool(value.validators))  # fmt: skip


def probe_codec() -> Codec[ProbeAnswer]:
    return Codec(lambda value: json.dumps(value.to_dict(), ensure_ascii=False).encode(),
                 lambda raw: ProbeAnswer.from_dict(json.loads(raw)),
                 lambda value: value.status in _RETRY_SOON)  # fmt: skip


def _stamped(fresh_until: float, payload: bytes) -> bytes:
    """A stored value: until when it is fresh (epoch ms), a newline, the encoded value."""
    return b"%d\n" % int(fresh_until * 1000) + payload


def _unstamped(raw: bytes | str) -> tuple[float, bytes]:
    data = raw.encode() if isinstance(raw, str) else raw
    head, _, payload = data.partition(b"\n")
    return int(head) / 1000, payload


_RETRY_SOON = frozenset({SourceStatus.ERROR, SourceStatus.TIMEOUT})


async def _revalidated(stale: V, revalidate: Revalidate[V], read: Callable[[], Awaitable[V]]) -> V:
    fresh = await revalidate(stale)
    return fresh if fresh is not None else await read()


class SharedCache(Generic[V]):
    """This process's ``SourceCache`` in front of the fleet's copy in Redis (the ``Memo`` protocol).

    ``kind`` keeps the key spaces of two caches apart (sources, probes). ``reads`` counts values
    this process read itself; ``shared_hits`` those another process had read. A Redis error
    makes the read local (a page read twice beats a post not verified).
    """

    def __init__(
        self,
        redis: Redis,
        names: RedisNames,
        codec: Codec[V],
        settings: SharedCacheSettings = SharedCacheSettings(),
        *,
        local: SourceCache[V] | None = None,
    ) -> None:
        self._redis, self._names, self._codec, self._settings = redis, names, codec, settings
        self._local: SourceCache[V] = local if local is not None else SourceCache()
        self.reads = 0
        self.shared_hits = 0
        self.waits = 0

    def peek(self, key: _Key) -> V | None:
        return self._local.peek(key)

    async def get(
        self, key: _Key, read: Callable[[], Awaitable[V]], revalidate: Revalidate[V] | None = None
    ) -> V:
        return await self._local.get(key, lambda: self._shared(key, read, revalidate), revalidate=revalidate)

    async def _shared(
        self, key: _Key, read: Callable[[], Awaitable[V]], revalidate: Revalidate[V] | None
    ) -> V:
        kind, url_key = key
        value_key = self._names.source(kind, url_key)
        lease_key = self._names.source_lease(kind, url_key)
        token = secrets.token_hex(8)
        waited = False
        while True:
            try:
                fresh, stale, taken = await self._lookup(value_key, lease_key, token)
            except (RedisError, OSError, ValueError, KeyError, TypeError) as exc:
                # Redis away, or a value another version wrote: this process reads it itself.
                log.warning("shared_cache_unavailable", error=str(exc))
                self.reads += 1
                return await read()
            if fresh is not None:
                self.shared_hits += 1
                return fresh
            if taken:
                if stale is not None and revalidate is not None:
                    again = partial(_revalidated, stale, revalidate, read)
                    return await self._read_under_lease(value_key, lease_key, token, again)
                return await self._read_under_lease(value_key, lease_key, token, read)
            if not waited:
                waited, self.waits = True, self.waits + 1
            await asyncio.sleep(self._settings.poll_s)  # another process is reading it

    def _decoded(self, raw: bytes | str | None) -> tuple[V | None, V | None]:
        """(the value if still fresh, the value if stale)."""
        if raw is None:
            return None, None
        fresh_until, payload = _unstamped(raw)
        value = self._codec.decode(payload)
        return (value, None) if time.time() < fresh_until else (None, value)

    async def _lookup(self, value_key: str, lease_key: str, token: str) -> tuple[V | None, V | None, bool]:
        """A fresh value; else the stale one (if kept) and whether we now hold the lease to read."""
        fresh, stale = self._decoded(await self._redis.get(value_key))
        if fresh is not None:
            return fresh, None, False
        if not await self._redis.set(lease_key, token, nx=True, px=int(self._settings.lease_s * 1000)):
            return None, stale, False
        # The holder before us may have stored a fresh value between our two calls.
        fresh, stale = self._decoded(await self._redis.get(value_key))
        if fresh is not None:
            await self._redis.eval(_RELEASE, 1, lease_key, token)
            return fresh, None, False
        return None, stale, True

    async def _read_under_lease(
        self, value_key: str, lease_key: str, token: str, read: Callable[[], Awaitable[V]]
    ) -> V:
        self.reads += 1
        lease_ms = int(self._settings.lease_s * 1000)
        renewing = asyncio.ensure_future(self._renew(lease_key, token, lease_ms))
        try:
            value = await read()
        except BaseException:
            # A read that failed or was given up: free the lease now, so that a waiting process
            # reads at once instead of after the lease lapses.
            with suppress(RedisError, OSError):
                await asyncio.shield(self._redis.eval(_RELEASE, 1, lease_key, token))
            raise
        finally:
            renewing.cancel()
            with suppress(asyncio.CancelledError):
                await renewing
        ttl = self._settings.failed_ttl_s if self._codec.failed(value) else self._settings.ttl_s
        keep = ttl + (self._settings.stale_s if self._codec.revalidatable(value) else 0.0)
        try:
            stamped = _stamped(time.time() + ttl, self._codec.encode(value))
            await self._redis.set(value_key, stamped, px=int(keep * 1000))
            await self._redis.eval(_RELEASE, 1, lease_key, token)
        except (RedisError, OSError) as exc:
            log.warning("shared_cache_unavailable", error=str(exc))
        return value

    async def _renew(self, lease_key: str, token: str, lease_ms: int) -> None:
        while True:
            await asyncio.sleep(lease_ms / 3000)
            with suppress(RedisError, OSError):
                await self._redis.eval(_RENEW, 1, lease_key, token, lease_ms)


# ---------------------------------------------------------------- per-host politeness

# KEYS: slots (sorted set token -> lease end), next (earliest start). ARGV: token, limit, lease ms,
# delay ms. Returns 0 when a slot is taken, else how many ms to wait before asking again.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return math.max(1, math.min(50, tonumber(first[2]) - now))
end
local nxt = tonumber(redis.call('GET', KEYS[2]) or '0')
if nxt > now then return nxt - now end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
if tonumber(ARGV[4]) > 0 then redis.call('SET', KEYS[2], now + tonumber(ARGV[4]), 'PX', ARGV[4]) end
return 0
"""


# Push a held slot's lease end forward (XX: only a slot still held; a lapsed one stays gone).
_RENEW_SLOT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""


class RedisHostGate:
    """At most ``limit`` requests at once to one host, across every process sharing the Redis.

    A slot is a lease, renewed while its request runs: a process that dies holding one frees it
    when the lease ends (``lease_s``). ``delay_s`` spaces the starts of two requests.
    """

    def __init__(self, redis: Redis, names: RedisNames, *, limit: int, lease_s: float, delay_s: float = 0.0):
        self._redis, self._names = redis, names
        self._limit, self._lease_ms, self._delay_ms = limit, int(lease_s * 1000), int(delay_s * 1000)
        self.waits = 0

    @asynccontextmanager
    async def hold(self, host: str) -> AsyncIterator[None]:
        """A slot at ``host`` for the duration of the context, renewed every third of a lease
        (a dead holder's slot frees itself one lease after its last renewal)."""
        token = secrets.token_hex(8)
        slots = self._names.host_slots(host)
        while True:
            try:
                wait_ms = await self._redis.eval(
                    _ACQUIRE, 2, slots, self._names.host_next(host),
                    token, self._limit, self._lease_ms, self._delay_ms,
                )  # fmt: skip
            except (RedisError, OSError) as exc:
                log.warning("host_gate_unavailable", host=host, error=str(exc))
                wait_ms = 0  # Redis away: the local per-host connection limit still holds
                token = ""
            if int(wait_ms) == 0:
                break
            self.waits += 1
            await asyncio.sleep(int(wait_ms) / 1000)
        renewing = asyncio.ensure_future(self._renew(slots, token)) if token else None
        try:
            yield
        finally:
            if renewing is not None:
                renewing.cancel()
                with suppress(asyncio.CancelledError):
                    await renewing
            if token:
                with suppress(RedisError, OSError):
                    await asyncio.shield(self._redis.zrem(slots, token))

    async def _renew(self, slots: str, token: str) -> None:
        while True:
            await asyncio.sleep(self._lease_ms / 3000)
            with suppress(RedisError, OSError):
                await self._redis.eval(_RENEW_SLOT, 1, slots, token, self._lease_ms)


# ---------------------------------------------------------------- one Save Page Now submission per URL


class RedisSaveClaims:
    """Claims a URL's Save Page Now submission for the current hour: the first caller of the fleet
    wins; a re-delivered job, or another worker citing the same page, does not submit again."""

    def __init__(self, redis: Redis, names: RedisNames, *, clock: Callable[[], float] = time.time) -> None:
        self._redis, self._names, self._clock = redis, names, clock

    async def claim(self, url: str) -> bool:
        hour = datetime.fromtimestamp(self._clock(), UTC).strftime("%Y%m%d%H")
        try:
            return bool(await self._redis.set(self._names.wayback_claim(url, hour), "1", nx=True, ex=3600))
        except (RedisError, OSError) as exc:
            log.warning("save_claims_unavailable", error=str(exc))
            return True
