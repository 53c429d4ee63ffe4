"""Capture rate limits for Save Page Now: one sliding window shared by every submitter.

SPN2 refuses a client that goes over its per-minute budget (security.md §7), and a refusal costs
more than waiting: so submissions wait for a free slot instead of hoping. A slot is held from
``acquire`` until ``release`` and then counts for one more window, so a request that was slow to
arrive is still counted from the time the archive saw it. ``penalize`` (an account-wide limit)
stops every submitter until the penalty has passed; ``hold`` marks one target host or one URL
(``spn_errors.Scope``) as left alone until a time, with the reason, and stops nothing else.
Clocks are injected so tests never wait for real.
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from service.settings import WaybackSettings

if TYPE_CHECKING:  # a type only: a run without a shared limiter never loads the Redis client
    from redis.asyncio import Redis

Now = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

WINDOW_S = 60.0
# An acquired slot that is never released (a crashed submitter) expires after this hold + a window.
HOLD_S = 120.0
# Waiting on a slot that is still held re-checks this often, since its release comes early.
RECHECK_S = 1.0


class SaveLimiter(Protocol):
    """Admission to Save Page Now: at most a budget of submissions in any window."""

    async def acquire(self) -> str:
        """Wait for a free slot and hold it; returns the token ``release`` takes."""
        ...

    async def release(self, token: str) -> None:
        """The request is done: the slot counts one window from now."""
        ...

    async def penalize(self, seconds: float) -> None:
        """Stop every acquisition for ``seconds`` (never shortens a longer penalty)."""
        ...

    async def hold(self, key: str, seconds: float, reason: str) -> None:
        """Leave ``key`` (``host:<host>`` or ``url:<url>``) alone for ``seconds``, saying why."""
        ...

    async def held(self, key: str) -> Held | None:
        """The hold on ``key`` if one is running."""
        ...


@dataclass(frozen=True, slots=True)
class Held:
    """A running hold: seconds left and the reason given (``<code>`` or ``<code>!`` when final)."""

    seconds: float
    reason: str


@asynccontextmanager
async def save_slot(limiter: SaveLimiter) -> AsyncIterator[None]:
    """Hold one slot of ``limiter`` around a submission."""
    token = await limiter.acquire()
    try:
        yield
    finally:
        await limiter.release(token)


def window_for(per_minute: float) -> tuple[int, float]:
    """(slots, window seconds) for a per-minute budget; fractions round down, below 1 widens the window."""
    if per_minute <= 0:
        raise ValueError("captures per minute must be positive")
    if per_minute < 1:
        return 1, WINDOW_S / per_minute
    return math.floor(per_minute), WINDOW_S


def save_rate(settings: WaybackSettings) -> float:
    """The per-minute budget that applies: keys earn the authenticated one."""
    return settings.captures_per_minute if settings.authenticated else settings.anonymous_captures_per_minute


class LocalLimiter:
    """An in-process sliding window; waiters are served in arrival order."""

    def __init__(
        self,
        per_minute: float,
        *,
        now: Now = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        hold_s: float = HOLD_S,
        recheck_s: float = RECHECK_S,
    ) -> None:
        self.limit, self.window_s = window_for(per_minute)
        self._now, self._sleep = now, sleep
        self._hold_s, self._recheck_s = hold_s, recheck_s
        self._stamps: dict[str, float] = {}  # token -> time its window starts (provisional while held)
        self._held: set[str] = set()
        self._penalty_until = -math.inf
        self._holds: dict[str, tuple[float, str]] = {}
        self._lock = asyncio.Lock()

    def _wait(self, now: float) -> float:
        """Seconds until a slot may be free (0: take one now)."""
        if self._penalty_until > now:
            return self._penalty_until - now
        # The same sum as the wait below: ``at <= now - window`` can disagree with it by one ulp and
        # leave an expired stamp counted while the wait comes out as zero.
        for token in [t for t, at in self._stamps.items() if at + self.window_s <= now]:
            del self._stamps[token]
        if len(self._stamps) < self.limit:
            return 0.0
        oldest = min(self._stamps, key=self._stamps.__getitem__)
        wait = self._stamps[oldest] + self.window_s - now
        return min(wait, self._recheck_s) if oldest in self._held else wait

    async def acquire(self) -> str:
        async with self._lock:
            while (wait := self._wait(self._now())) > 0:
                await self._sleep(wait)
            token = uuid.uuid4().hex
            self._stamps[token] = self._now() + self._hold_s
            self._held.add(token)
            return token

    async def release(self, token: str) -> None:
        if token in self._held:
            self._held.discard(token)
            self._stamps[token] = self._now()

    async def penalize(self, seconds: float) -> None:
        self._penalty_until = max(self._penalty_until, self._now() + seconds)

    async def hold(self, key: str, seconds: float, reason: str) -> None:
        until = self._now() + seconds
        if until > self._holds.get(key, (-math.inf, ""))[0]:
            self._holds[key] = (until, reason)

    async def held(self, key: str) -> Held | None:
        until, reason = self._holds.get(key, (-math.inf, ""))
        left = until - self._now()
        if left <= 0:
            self._holds.pop(key, None)
            return None
        return Held(left, reason)


# KEYS: window zset, penalty key. ARGV: now, window, limit, hold, token.
# Returns "0" when the token now holds a slot, else the seconds to wait as a string (Lua numbers come
# back from Redis truncated to integers), prefixed "h" when the oldest slot is still held (its score is
# provisional, in the future: it may be released early) and "w" otherwise.
_ACQUIRE = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local penalty = tonumber(redis.call('GET', KEYS[2]) or '-1')
if penalty > now then return 'w' .. tostring(penalty - now) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[4]), ARGV[5])
  redis.call('PEXPIRE', KEYS[1], math.ceil((window + tonumber(ARGV[4])) * 1000))
  return '0'
end
local oldest = tonumber(redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2])
local kind = 'w'
if oldest > now then kind = 'h' end
return kind .. tostring(oldest + window - now)
"""

# KEYS: penalty key. ARGV: until (clock time), ttl ms. Only ever lengthens the penalty.
_PENALIZE = """
local current = tonumber(redis.call('GET', KEYS[1]) or '-1')
if tonumber(ARGV[1]) > current then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
return 0
"""


class RedisLimiter:
    """The same window shared by every process through Redis: one atomic script per attempt.

    The clock must agree across processes, so it defaults to wall time (``time.time``).
    """

    def __init__(
        self,
        redis: Redis,
        key_prefix: str,
        per_minute: float,
        *,
        now: Now = time.time,
        sleep: Sleep = asyncio.sleep,
        hold_s: float = HOLD_S,
        recheck_s: float = RECHECK_S,
    ) -> None:
        self.limit, self.window_s = window_for(per_minute)
        self._redis = redis
        self.window_key = f"{key_prefix}:window"
        self.penalty_key = f"{key_prefix}:penalty"
        self.hold_prefix = f"{key_prefix}:hold:"
        self._now, self._sleep = now, sleep
        self._hold_s, self._recheck_s = hold_s, recheck_s
        self._acquire = redis.register_script(_ACQUIRE)
        self._penalize = redis.register_script(_PENALIZE)

    async def acquire(self) -> str:
        token = uuid.uuid4().hex
        while True:
            now = repr(self._now())
            args: list[str | int] = [now, repr(self.window_s), self.limit, repr(self._hold_s), token]
            answer = await self._acquire(keys=[self.window_key, self.penalty_key], args=args)
            text = answer.decode() if isinstance(answer, bytes) else str(answer)
            if text == "0":
                return token
            wait = float(text[1:])
            # A held slot may be released early by another process: re-check instead of oversleeping.
            await self._sleep(min(wait, self._recheck_s) if text[0] == "h" else wait)

    async def release(self, token: str) -> None:
        await self._redis.zadd(self.window_key, {token: self._now()}, xx=True)

    async def penalize(self, seconds: float) -> None:
        until = self._now() + seconds
        ttl_ms = max(1, math.ceil((seconds + self.window_s) * 1000))
        await self._penalize(keys=[self.penalty_key], args=[repr(until), ttl_ms])

    async def hold(self, key: str, seconds: float, reason: str) -> None:
        """A Redis key per held host or URL, ``<until> <reason>``, expiring with the hold."""
        name = self.hold_prefix + key
        current = await self.held(key)
        if current is not None and current.seconds >= seconds:
            return
        value = f"{self._now() + seconds!r} {reason}"
        await self._redis.set(name, value, px=max(1, math.ceil(seconds * 1000)))

    async def held(self, key: str) -> Held | None:
        raw = await self._redis.get(self.hold_prefix + key)
        if raw is None:
            return None
        text = raw.decode() if isinstance(raw, bytes) else str(raw)
        until, _, reason = text.partition(" ")
        try:
            left = float(until) - self._now()
        except ValueError:
            return None
        return Held(left, reason) if left > 0 else None
