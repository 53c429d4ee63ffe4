"""The consume loop of ``provenance worker``: Redis Streams with one consumer group (R10).

Semantics, each an option of ``Worker`` and each tested:
- at-least-once: an entry stays in the group's pending list (PEL) until its result is written;
  a worker first re-reads its own PEL (a restart under the same name), then takes over entries
  idle past the lease (``XAUTOCLAIM``: their worker died), then reads new ones;
- a lease kept alive while a job runs (the entry's idle time reset every third of a lease), so
  a slow job is not taken over from a live worker;
- a delivery cap: an entry delivered more than ``max_deliveries`` times goes to the dead-letter
  stream with its last error, and its batch gets an error report for it, so the batch ends;
- the result written once per job and fenced: one Lua script checks that this worker still owns
  the entry, adds the job to the batch's done set (``SADD``: a second delivery writes nothing),
  appends the result and acknowledges, all or nothing;
- bounded concurrency, a per-job timeout (``jobs.run_job``), a drain on SIGTERM (jobs get
  ``drain_grace_s``, then go back to the queue at once), a heartbeat key with a TTL, a burst
  mode that returns when nothing is new or pending, and trimming by ``MINID`` of the oldest
  pending entry (a ``MAXLEN`` trim would drop pending jobs: dependencies.md §4).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog
from redis.exceptions import RedisError, ResponseError
from service.pipeline.streams import GROUP, JobMessage, MessageError, RedisNames, ResultMessage
from service.settings import QueueSettings

from workers.metrics import WorkerMetrics

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = structlog.get_logger(__name__)

Handler = Callable[[JobMessage], Awaitable[ResultMessage]]
DeadLetter = Callable[[JobMessage, int], Awaitable[ResultMessage]]

# Is entry ARGV[2] of group ARGV[1] still pending with consumer ARGV[3]?
_OWNED = """
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)
if #p == 0 then return 'gone' end
if p[1][2] ~= ARGV[3] then return 'stale' end
"""

# KEYS: jobs, done set, results stream, dead stream.
# ARGV: group, entry id, consumer, seq, ttl s, dead job id ('' = not dead), error, deliveries,
#       job fields JSON, then the result's fields.
_FINISH = (
    _OWNED
    + """
local written = 0
if ARGV[4] ~= '' and redis.call('SADD', KEYS[2], ARGV[4]) == 1 then
  redis.call('EXPIRE', KEYS[2], ARGV[5])
  redis.call('XADD', KEYS[3], '*', unpack(ARGV, 10))
  redis.call('EXPIRE', KEYS[3], ARGV[5])
  written = 1
end
if ARGV[6] ~= '' then
  redis.call('XADD', KEYS[4], 'MAXLEN', '~', 100000, '*', 'v', '1', 'job', ARGV[6], 'error', ARGV[7],
             'deliveries', ARGV[8], 'fields', ARGV[9], 'worker', ARGV[3])
end
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
if written == 1 then return 'written' end
return 'duplicate'
"""
)

# Reset the entry's idle time (JUSTID: the delivery count stays), or set it (hand back).
_TOUCH = (
    _OWNED
    + """
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[3], 0, ARGV[2], 'IDLE', ARGV[4], 'JUSTID')
return 'ok'
"""
)


def default_worker_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def _decode(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass(slots=True)
class WorkerStats:
    done: int = 0
    duplicates: int = 0
    stale: int = 0
    dead_lettered: int = 0
    reclaimed: int = 0
    handed_back: int = 0


class Worker:
    """One consumer of the job stream. ``run`` returns after a drain (``stop``) or, in burst
    mode, when the stream has nothing new and nothing pending."""

    def __init__(
        self,
        redis: Redis,
        names: RedisNames,
        settings: QueueSettings,
        *,
        handle: Handler,
        dead_letter: DeadLetter,
        name: str | None = None,
        concurrency: int = 8,
        metrics: WorkerMetrics | None = None,
        cache: object = None,
    ) -> None:
        self._redis, self._names, self._settings = redis, names, settings
        self._handle, self._dead_letter = handle, dead_letter
        self.name = name or settings.worker_name or default_worker_name()
        self._concurrency = max(1, concurrency)
        self._metrics = metrics or WorkerMetrics(None)
        self._cache = cache  # counted in the metrics at each heartbeat
        self._tasks: set[asyncio.Task[None]] = set()
        self._own_backlog = True
        self._since_trim = 0
        self.stats = WorkerStats()

    # ---------------------------------------------------------------- set-up

    async def ensure_group(self) -> None:
        """Create the group (and the stream) at the start of the stream; ignore only BUSYGROUP."""
        try:
            await self._redis.xgroup_create(self._names.jobs, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    # ---------------------------------------------------------------- the loop

    async def run(self, *, burst: bool = False, stop: asyncio.Event | None = None) -> WorkerStats:
        stop = stop or asyncio.Event()
        await self.ensure_group()
        beating = asyncio.ensure_future(self._heartbeat())
        log.info("worker_started", worker=self.name, burst=burst, concurrency=self._concurrency)
        try:
            while not stop.is_set():
                if len(self._tasks) >= self._concurrency:
                    await self._wait_for_room(stop)
                    continue
                try:
                    entries = await self._next_entries(self._concurrency - len(self._tasks))
                    for entry_id, fields, fresh in entries:
                        await self._dispatch(entry_id, fields, fresh=fresh)  # XPENDING of a reclaimed one
                    if not entries and burst and not self._tasks and await self._queue_is_empty():
                        break
                except (RedisError, OSError) as exc:  # an entry left undispatched is reclaimed later
                    await self._redis_trouble(exc, stop)
                    continue
                await self._trim_now_and_then()
            await self._drain()
            await self._trim_now_and_then(now=True)
        finally:
            beating.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beating
            with contextlib.suppress(RedisError, OSError):
                await self._redis.delete(self._names.worker(self.name))
        log.info("worker_stopped", worker=self.name, done=self.stats.done)
        return self.stats

    async def _wait_for_room(self, stop: asyncio.Event) -> None:
        stopping = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({*self._tasks, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()

    async def _redis_trouble(self, exc: BaseException, stop: asyncio.Event) -> None:
        """Redis away (restarting, failing over) or its data lost: wait, re-create the group."""
        log.warning("redis_unavailable", error=str(exc))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)
        with contextlib.suppress(RedisError, OSError):
            await self.ensure_group()  # NOGROUP after a data loss: recreated at 0, never at $

    async def _next_entries(self, room: int) -> list[tuple[Any, Any, bool]]:
        """Own pending entries first, then entries whose worker died, then new ones."""
        jobs = self._names.jobs
        if self._own_backlog:
            own: Any = await self._redis.xreadgroup(GROUP, self.name, {jobs: "0"}, count=room)
            entries = [(i, f, False) for _, batch in own for i, f in batch if f]
            if entries:
                return entries
            self._own_backlog = False
        lease_ms = int(self._settings.lease_s * 1000)
        claimed: Any = await self._redis.xautoclaim(
            jobs, GROUP, self.name, min_idle_time=lease_ms, count=room
        )
        taken = [(i, f, False) for i, f in claimed[1] if f]
        if taken:
            self.stats.reclaimed += len(taken)
            self._metrics.reclaimed.inc(len(taken))
            log.info("jobs_reclaimed", count=len(taken))
            return taken
        block = int(self._settings.block_s * 1000)
        fresh: Any = await self._redis.xreadgroup(GROUP, self.name, {jobs: ">"}, count=room, block=block)
        return [(i, f, True) for _, batch in fresh for i, f in batch]

    async def _queue_is_empty(self) -> bool:
        """Burst mode's end: no entry pending anywhere in the group. (Called after a read of new
        entries came back empty; the group's ``lag`` is not consulted: Redis 7.0 can report it
        wrong after trims and claims, and a burst worker would then never end.)"""
        pending: Any = await self._redis.xpending(self._names.jobs, GROUP)
        return not pending["pending"]

    # ---------------------------------------------------------------- one entry

    async def _deliveries(self, entry_id: Any) -> int:
        found: Any = await self._redis.xpending_range(self._names.jobs, GROUP, entry_id, entry_id, 1)
        return int(found[0]["times_delivered"]) if found else 1

    async def _dispatch(self, entry_id: Any, fields: Any, *, fresh: bool) -> None:
        try:
            message = JobMessage.from_fields(fields)
        except MessageError as exc:
            log.error("job_unreadable", entry=_decode(entry_id), error=str(exc))
            await self._finish(entry_id, None, None, dead=(str(exc), 1, fields))
            return
        deliveries = 1 if fresh else await self._deliveries(entry_id)
        if deliveries > self._settings.max_deliveries:
            error = f"delivered {deliveries} times without a result"
            result = await self._dead_letter(message, deliveries - 1)
            with structlog.contextvars.bound_contextvars(job_id=message.job_id, batch_id=message.batch):
                log.error("job_dead_lettered", deliveries=deliveries - 1)
                await self._finish(entry_id, message, result, dead=(error, deliveries - 1, fields))
            return
        task = asyncio.ensure_future(self._run_one(entry_id, message, deliveries))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_one(self, entry_id: Any, message: JobMessage, deliveries: int) -> None:
        with structlog.contextvars.bound_contextvars(job_id=message.job_id, batch_id=message.batch):
            started = time.monotonic()
            keeping = asyncio.ensure_future(self._keep_lease(entry_id))
            try:
                result = await self._handle(message)
            except asyncio.CancelledError:
                await asyncio.shield(self._hand_back(entry_id))
                raise
            finally:
                keeping.cancel()
            outcome = await asyncio.shield(self._finish(entry_id, message, result))
            self._metrics.observe_job(result, time.monotonic() - started)
            log.info("job_done", verdict=result.verdict, error=result.error, deliveries=deliveries,
                     result=outcome, seconds=round(time.monotonic() - started, 3))  # fmt: skip

    async def _keep_lease(self, entry_id: Any) -> None:
        """Reset the entry's idle time every third of a lease while its job runs."""
        while True:
            await asyncio.sleep(self._settings.lease_s / 3)
            with contextlib.suppress(RedisError, OSError):
                await self._touch(entry_id, idle_ms=0)

    async def _touch(self, entry_id: Any, *, idle_ms: int) -> str:
        answer = await self._redis.eval(_TOUCH, 1, self._names.jobs, GROUP, entry_id, self.name, idle_ms)
        return _decode(answer)

    async def _hand_back(self, entry_id: Any) -> None:
        """A job cut short by a drain: idle as if its lease had ended, for another worker now."""
        idle = int(self._settings.lease_s * 1000) * 10
        with contextlib.suppress(RedisError, OSError):
            await self._touch(entry_id, idle_ms=idle)
            self.stats.handed_back += 1
            log.info("job_handed_back")

    async def _finish(
        self,
        entry_id: Any,
        message: JobMessage | None,
        result: ResultMessage | None,
        *,
        dead: tuple[str, int, Any] | None = None,
    ) -> str:
        """Write the result once and acknowledge, retrying while Redis is away (a restart).

        Returns ``written``, ``duplicate`` (done before: acknowledged only), ``stale`` (another
        worker owns the job now: nothing written) or ``gone``/``unwritten``.
        """
        names = self._names
        batch = message.batch if message else ""
        keys = [names.jobs, names.done(batch), names.results(batch), names.dead]
        dead_args = ["", "", "0", ""]
        if dead is not None:
            error, deliveries, fields = dead
            job = message.job_id if message else _decode(entry_id)
            plain = {_decode(k): _decode(v) for k, v in dict(fields or {}).items()}
            dead_args = [job, error, str(deliveries), json.dumps(plain, ensure_ascii=False)]
        flat: list[str] = []
        for key, value in (result.to_fields() if result else {}).items():
            flat += [key, value]
        # A batch's job writes its result once here; an API job wrote its own into its hash.
        seq = str(message.seq) if message and result and not message.job else ""
        args = [GROUP, entry_id, self.name, seq, int(self._settings.result_ttl_s), *dead_args, *flat]
        for attempt in range(30):
            try:
                outcome = _decode(await self._redis.eval(_FINISH, 4, *keys, *args))
                break
            except (RedisError, OSError) as exc:
                log.warning("result_not_written", attempt=attempt + 1, error=str(exc))
                await asyncio.sleep(min(2.0, 0.1 * 2**attempt))
        else:
            return "unwritten"  # left pending: another delivery writes it
        self._count(outcome, dead is not None)
        return outcome

    def _count(self, outcome: str, dead: bool) -> None:
        if outcome == "stale":
            self.stats.stale += 1  # another worker took the job over meanwhile: its write counts
            log.warning("stale_result_rejected")
            return
        if outcome == "duplicate":
            self.stats.duplicates += 1
        if dead:
            self.stats.dead_lettered += 1
            self._metrics.dead_lettered.inc()
        elif outcome == "written":
            self.stats.done += 1
        self._since_trim += 1

    # ---------------------------------------------------------------- upkeep

    async def _trim_now_and_then(self, *, now: bool = False) -> None:
        """Trim acknowledged entries: below the oldest pending one, or below the last delivered."""
        if self._since_trim < 100 and not (now and self._since_trim):
            return
        self._since_trim = 0
        jobs = self._names.jobs
        with contextlib.suppress(RedisError, OSError):
            pending: Any = await self._redis.xpending(jobs, GROUP)
            groups: Any = await self._redis.xinfo_groups(jobs)
            ours = [g for g in groups if _decode(g["name"]) == GROUP]
            if not ours:
                return
            floor = _decode(ours[0]["last-delivered-id"])
            if pending["pending"]:
                floor = min(floor, _decode(pending["min"]), key=_stream_id)
            await self._redis.xtrim(jobs, minid=floor, approximate=False)
            lag = ours[0].get("lag")
            self._metrics.lag.set(float(lag or 0))

    async def _heartbeat(self) -> None:
        key = self._names.worker(self.name)
        started = time.time()
        while True:
            state = {"name": self.name, "pid": os.getpid(), "host": socket.gethostname(),
                     "started": started, "beat": time.time(), "running": len(self._tasks),
                     "done": self.stats.done}  # fmt: skip
            with contextlib.suppress(RedisError, OSError):
                await self._redis.set(key, json.dumps(state), px=int(self._settings.heartbeat_s * 3000))
            self._metrics.observe_cache(self._cache)
            await asyncio.sleep(self._settings.heartbeat_s)

    async def _drain(self) -> None:
        """Let running jobs finish within the grace time; hand the rest back, then return."""
        if not self._tasks:
            return
        log.info("worker_draining", running=len(self._tasks), grace_s=self._settings.drain_grace_s)
        _, late = await asyncio.wait(set(self._tasks), timeout=self._settings.drain_grace_s)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)


def _stream_id(value: str) -> tuple[int, int]:
    ms, _, seq = value.partition("-")
    return int(ms), int(seq or 0)


async def worker_alive(redis: Redis, names: RedisNames, name: str | None) -> bool:
    """``provenance worker --check``: this worker's heartbeat (or, without a name, any heartbeat
    of a worker on this host) is fresh."""
    if name:
        return bool(await redis.exists(names.worker(name)))
    pattern = names.worker(f"{socket.gethostname()}-*")
    async for _ in redis.scan_iter(match=pattern, count=100):
        return True
    return False
