"""A batch through the queue (``provenance batch --redis``): enqueue, then collect in input order.

The batch's posts go to the job stream that ``provenance worker`` processes consume; their
results come back on the batch's own result stream, and are written in input order as the
in-process batch writes them. At most ``enqueue_window`` posts are queued ahead of the output,
so a batch of any length keeps flat memory here and in Redis.

A batch is named by a digest of its input (``batch_id``): run again on the same input and
output, it skips the reports already in the output, enqueues only the posts never enqueued, and
collects the results the workers wrote meanwhile. Each post is enqueued once (one Lua script
checks and adds), and each result is written once by the workers.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

import structlog
from redis.exceptions import RedisError

from service.pipeline.batch import BatchSummary, known_id, read_object
from service.pipeline.deps import EventSink
from service.pipeline.models import EventKind, FailureCode, InputFormat, ProgressEvent, Report
from service.pipeline.report.build import error_report
from service.pipeline.streams import JobMessage, MessageError, RedisNames, ResultMessage
from service.settings import QueueSettings

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = structlog.get_logger(__name__)
T = TypeVar("T")
_REDIS_OUTAGE_S = 300.0  # a batch client gives up after Redis has been away this long
_CHECK_AFTER_QUIET_S = 10.0  # no result for this long: look for workers and for lost jobs
_GRACE_S = 30.0  # past the budget, how long posts under way have to send their reports

# KEYS: job stream, the batch's queued set, its done set. ARGV: seq, ttl s, then the fields.
_ENQUEUE = """
if redis.call('SISMEMBER', KEYS[3], ARGV[1]) == 1 then return 0 end
if redis.call('SADD', KEYS[2], ARGV[1]) == 0 then return 0 end
redis.call('EXPIRE', KEYS[2], ARGV[2])
redis.call('XADD', KEYS[1], '*', unpack(ARGV, 3))
return 1
"""


def batch_id(chunks: Iterable[bytes], default_format: InputFormat) -> str:
    """A batch's name: the digest of its input (and of how its posts are read)."""
    digest = hashlib.sha256(f"provenance-batch-v1\x00{default_format.value}\x00".encode())
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()[:24]


@dataclass(frozen=True, slots=True)
class _Finished:
    line: str
    verdict: str
    flagged: bool
    error: str | None
    sources: int
    post_id: str | None


def _local(report: Report) -> _Finished:
    """A line that was never a post (not JSON, say): its report is made here, not by a worker."""
    line = json.dumps(report.to_dict(), ensure_ascii=False) + "\n"
    error = report.error.code.value if report.error else None
    return _Finished(line, report.verdict.value, report.flagged, error, 0, report.id)


def _remote(result: ResultMessage) -> _Finished:
    return _Finished(result.report.rstrip("\n") + "\n", result.verdict, result.flagged, result.error,
                     result.sources, None)  # fmt: skip


class QueuedBatch:
    """One batch's round trip through Redis; ``run`` returns when every report is written."""

    def __init__(
        self,
        redis: Redis,
        names: RedisNames,
        settings: QueueSettings,
        *,
        batch: str,
        skip: int = 0,
        default_format: InputFormat = InputFormat.AUTO,
        events: EventSink | None = None,
        check_after_s: float = _CHECK_AFTER_QUIET_S,
        budget_s: float | None = None,
        grace_s: float = _GRACE_S,
    ) -> None:
        self._redis, self._names, self._settings = redis, names, settings
        self._check_after_s = check_after_s
        self._budget_s = budget_s
        self._deadline = None if budget_s is None else time.time() + budget_s
        self._grace_s = grace_s
        self._batch, self._skip, self._format, self._events = batch, skip, default_format, events
        self._finished: dict[int, _Finished] = {}
        self._to_delete: list[bytes | str] = []
        self._last_id: bytes | str = "0"
        self._count = 0  # non-blank lines seen
        self._outstanding: dict[int, tuple[int, str | bytes]] = {}  # enqueued, not yet written
        self._check_soon = False
        self.enqueued = 0
        self.collected = 0

    async def run(
        self,
        lines: Iterable[str | bytes],
        write: Callable[[str], object],
        sync: Callable[[], object] | None = None,
    ) -> BatchSummary:
        """Enqueue the posts of ``lines`` and write one report line per post, in input order.

        ``sync`` makes written lines durable (flush and fsync); results are deleted from Redis
        only after it, so an interrupted batch never loses a report it had not really written.
        """
        posts = flagged = errors = not_started = 0
        next_seq = self._skip
        total: int | None = None
        source = self._numbered(lines)
        quiet_s = 0.0
        while True:
            while total is None and self._count - next_seq < self._settings.enqueue_window:
                item = next(source, None)
                if item is None:
                    total = self._count
                    break
                await self._retrying(partial(self._submit, *item))
            while next_seq in self._finished:
                done = self._finished.pop(next_seq)
                self._outstanding.pop(next_seq, None)
                write(done.line)
                posts += 1
                flagged += done.flagged
                errors += done.error is not None
                not_started += done.error == FailureCode.BUDGET_EXHAUSTED
                self._announce(done)
                next_seq += 1
            if total is not None and next_seq >= total:
                break
            self._give_up_after_grace()
            if len(self._to_delete) >= 200:
                await self._retrying(partial(self._flush_deletes, sync))
            got = await self._retrying(partial(self._collect, next_seq))
            quiet_s = 0.0 if got else quiet_s + self._settings.block_s
            if quiet_s >= self._check_after_s or (self._check_soon and not got):
                await self._retrying(self._check_on_redis)
                quiet_s = 0.0
        if sync is not None:
            sync()
        await self._retrying(self._forget)
        if not_started:
            log.warning(
                "batch_budget_exhausted", budget_s=self._budget_s, not_started=not_started, posts=posts
            )
        return BatchSummary(posts=posts, flagged=flagged, errors=errors, not_started=not_started)

    def _past(self, extra_s: float = 0.0) -> bool:
        return self._deadline is not None and time.time() >= self._deadline + extra_s

    def _not_started(self, lineno: int, line: str | bytes) -> _Finished:
        """A post's ``budget_exhausted`` report; an unreadable line keeps its own error."""
        data = read_object(line, lineno)
        if isinstance(data, Report):
            return _local(data)
        post_id = known_id(data)
        message = f"the batch's budget of {self._budget_s:g} s ran out before this post was started"
        return _local(error_report(post_id, FailureCode.BUDGET_EXHAUSTED, message))

    def _give_up_after_grace(self) -> None:
        """Past the budget and its grace, posts still without a result (no worker took them, or
        none runs) get a ``budget_exhausted`` report here; a late result is then ignored."""
        if not self._past(self._grace_s):
            return
        for seq, (lineno, line) in sorted(self._outstanding.items()):
            self._finished.setdefault(seq, self._not_started(lineno, line))
        self._outstanding.clear()

    async def _retrying(self, operation: Callable[[], Awaitable[T]]) -> T:
        """Redis away (a restart, a failover) is waited out, up to ``_REDIS_OUTAGE_S``."""
        waited = 0.0
        while True:
            try:
                return await operation()
            except (RedisError, OSError) as exc:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise asyncio.CancelledError from exc  # redis-py reports a cancelled read as an error
                if waited >= _REDIS_OUTAGE_S:
                    raise
                log.warning("redis_unavailable", batch=self._batch, error=str(exc), waited_s=round(waited))
                await asyncio.sleep(1.0)
                waited += 1.0
                self._check_soon = True

    async def _check_on_redis(self) -> None:
        """Long quiet: are workers running, and does Redis still know this batch? A Redis that
        lost its data (restarted without an append-only file) lost the queued posts too: they
        are enqueued again from what this client holds."""
        self._check_soon = False
        if self._outstanding and not await self._redis.exists(self._names.queued(self._batch)):
            log.warning("batch_lost_by_redis", batch=self._batch, requeued=len(self._outstanding))
            self._last_id = "0"
            for seq, (lineno, line) in sorted(self._outstanding.items()):
                await self._submit(seq, lineno, line)
        async for _ in self._redis.scan_iter(match=self._names.workers, count=100):
            return
        log.warning("no_workers", batch=self._batch, hint="start `provenance worker` with the same --redis")

    # ---------------------------------------------------------------- enqueueing

    def _numbered(self, lines: Iterable[str | bytes]) -> Iterator[tuple[int, int, str | bytes]]:
        """(seq, line number, line) for each non-blank line; seq is the place in the output."""
        for lineno, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            seq = self._count
            self._count += 1
            if seq < self._skip:
                continue  # its report is in the output already
            yield seq, lineno, line

    async def _submit(self, seq: int, lineno: int, line: str | bytes) -> None:
        if self._past():  # the budget ran out: what is not queued yet is not started
            self._finished[seq] = self._not_started(lineno, line)
            return
        data = read_object(line, lineno)
        if isinstance(data, Report):
            self._finished[seq] = _local(data)
            return
        self._outstanding[seq] = (lineno, line)
        message = JobMessage(self._batch, seq, data, self._format.value, line=lineno, deadline=self._deadline)
        fields: list[str] = []
        for key, value in message.to_fields().items():
            fields += [key, value]
        added = await self._redis.eval(
            _ENQUEUE, 3, self._names.jobs, self._names.queued(self._batch), self._names.done(self._batch),
            seq, int(self._settings.result_ttl_s), *fields,
        )  # fmt: skip
        self.enqueued += int(added)

    # ---------------------------------------------------------------- collecting

    async def _collect(self, next_seq: int) -> bool:
        """Read results that arrived (waiting up to ``block_s``); True when any did."""
        stream = self._names.results(self._batch)
        answer: Any = await self._redis.xread(
            {stream: self._last_id}, count=500, block=int(self._settings.block_s * 1000)
        )
        got = False
        for _, entries in answer:
            for entry_id, fields in entries:
                self._last_id = entry_id
                self._to_delete.append(entry_id)
                try:
                    result = ResultMessage.from_fields(fields)
                except MessageError as exc:
                    log.warning("unreadable_result", batch=self._batch, error=str(exc))
                    continue
                if result.seq >= next_seq and result.seq not in self._finished:
                    self._finished[result.seq] = _remote(result)
                    self.collected += 1
                    got = True
        return got

    async def _flush_deletes(self, sync: Callable[[], object] | None) -> None:
        if sync is not None:
            sync()
        if self._to_delete:
            await self._redis.xdel(self._names.results(self._batch), *self._to_delete)
            self._to_delete.clear()

    async def _forget(self) -> None:
        """The batch is complete: its bookkeeping in Redis is no longer needed."""
        names = self._names
        await self._redis.delete(
            names.queued(self._batch), names.done(self._batch), names.results(self._batch)
        )

    def _announce(self, done: _Finished) -> None:
        if self._events is None:
            return
        for _ in range(done.sources):
            self._events(ProgressEvent(kind=EventKind.SOURCE_READ, post_id=done.post_id, data={}))
        data: dict[str, Any] = {"verdict": done.verdict, "error": done.error}
        self._events(ProgressEvent(kind=EventKind.POST_FINISHED, post_id=done.post_id, data=data))


async def run_queued_batch(
    lines: Iterable[str | bytes],
    write: Callable[[str], object],
    *,
    redis: Redis,
    names: RedisNames,
    settings: QueueSettings,
    batch: str,
    skip: int = 0,
    default_format: InputFormat = InputFormat.AUTO,
    events: EventSink | None = None,
    sync: Callable[[], object] | None = None,
    budget_s: float | None = None,
) -> BatchSummary:
    """``run_batch`` through the workers: same lines in, same report lines out, in input order;
    within ``budget_s`` (the batch's budget, if any) as the in-process batch is."""
    queued = QueuedBatch(redis, names, settings, batch=batch, skip=skip, default_format=default_format,
                         events=events, budget_s=budget_s)  # fmt: skip
    return await queued.run(lines, write, sync)
