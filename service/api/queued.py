"""The API's verifications through the queue, when the deployment has Redis.

A ``POST /v1/verify`` becomes a hash (``RedisNames.api_job``: owner, post, status) and a job on the
workers' stream, written in one transaction; the worker that takes it announces its progress to
the job's event stream and writes the report (and the HTML report) into the hash. Any API process
answers for any job, and jobs survive an API restart: nothing of a job lives in the API process.
The API itself stays responsive, since verification runs on the workers.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from service.pipeline.queue import run_queued_batch
from service.pipeline.streams import JobMessage, RedisNames, field_text
from service.settings import Settings

if TYPE_CHECKING:
    from redis.asyncio import Redis

END = "_end"  # the worker's last event entry (workers/jobs.py::END): the hash holds the outcome


@dataclass(frozen=True, slots=True)
class QueuedJob:
    """One API verification as the job's hash has it."""

    id: str
    owner: str
    status: str
    text: str
    format: str
    report: str | None  # the report's JSON, as the worker wrote it
    html: str | None
    error: dict[str, Any] | None

    @property
    def finished(self) -> bool:
        return self.status in {"done", "failed"}

    def to_dict(self) -> dict[str, Any]:
        return {"job": self.id, "status": self.status, "text": self.text, "format": self.format,
                "report": json.loads(self.report) if self.report else None, "error": self.error}  # fmt: skip


class QueuedJobs:
    """API verifications kept in Redis and run by ``provenance worker`` processes."""

    def __init__(self, redis: Redis, settings: Settings) -> None:
        self._redis = redis
        self._names = RedisNames(settings.redis_prefix)
        self._ttl_s = int(settings.api.job_ttl_s)
        # A job of a key is "running" until its worker finishes it, or until no worker could still
        # be on it (its worker died and nobody took it over): then it stops counting against the key.
        queue = self._queue = settings.queue
        self._stale_s = queue.job_timeout_s + queue.lease_s * queue.max_deliveries + 60

    async def create(self, owner: str, post: dict[str, Any], text: str, fmt: str) -> str:
        """The job's hash and its queue entry, together or not at all."""
        job = secrets.token_urlsafe(12)
        names, now = self._names, time.time()
        message = JobMessage(batch="api", seq=0, post=post, line=1, job=job)
        row: dict[Any, Any] = {
            "owner": owner,
            "text": text,
            "format": fmt,
            "status": "queued",
            "created": now,
        }
        pipe = self._redis.pipeline(transaction=True)  # queued commands answer with the pipeline
        _ = pipe.hset(names.api_job(job), mapping=row)
        _ = pipe.expire(names.api_job(job), self._ttl_s)
        _ = pipe.zadd(names.api_running(owner), {job: now})
        _ = pipe.expire(names.api_running(owner), self._ttl_s)
        _ = pipe.xadd(names.jobs, message.to_fields())  # type: ignore[arg-type]
        await pipe.execute()
        return job

    async def run_batch(self, batch: str, lines: list[bytes], write: Callable[[str], object]) -> None:
        """A ``POST /v1/batches`` through the workers, its reports written in input order."""
        await run_queued_batch(lines, write, redis=self._redis, names=self._names,
                               settings=self._queue, batch=f"api-{batch}")  # fmt: skip

    async def running(self, owner: str) -> int:
        key = self._names.api_running(owner)
        await self._redis.zremrangebyscore(key, "-inf", time.time() - self._stale_s)
        return int(await self._redis.zcard(key))

    async def get(self, job: str) -> QueuedJob | None:
        row: Any = await self._redis.hgetall(self._names.api_job(job))
        if not row:
            return None
        error = field_text(row, "error")
        return QueuedJob(
            id=job, owner=field_text(row, "owner") or "", status=field_text(row, "status") or "queued",
            text=field_text(row, "text") or "", format=field_text(row, "format") or "auto",
            report=field_text(row, "report"), html=field_text(row, "html"),
            error=json.loads(error) if error else None,
        )  # fmt: skip

    async def events(self, job: str, *, after: int, wait_s: float) -> AsyncIterator[tuple[int, str, Any]]:
        """Progress events numbered after ``after``, as the worker writes them, until its end mark
        (``(0, END, {})``) or ``wait_s`` with nothing new (the caller then sends a keep-alive)."""
        stream = self._names.api_job_events(job)
        last: bytes | str = "0"
        block = max(1, int(wait_s * 1000))
        while True:
            answer: Any = await self._redis.xread({stream: last}, count=200, block=block)
            if not answer:
                return
            for entry_id, fields in answer[0][1]:
                last = entry_id
                number = int(field_text(fields, "n") or 0)
                kind = field_text(fields, "kind") or ""
                if kind == END:
                    yield 0, END, {}
                    return
                if number > after:
                    yield number, kind, json.loads(field_text(fields, "data") or "{}")

    async def finished(self, job: str, wait_s: float) -> QueuedJob | None:
        """The job once finished, waiting up to ``wait_s`` for its end mark."""
        deadline = time.monotonic() + wait_s
        while True:
            current = await self.get(job)
            left = deadline - time.monotonic()
            if current is None or current.finished or left <= 0:
                return current
            async for _, kind, _ in self.events(job, after=1 << 30, wait_s=min(left, 5.0)):
                if kind == END:
                    break
