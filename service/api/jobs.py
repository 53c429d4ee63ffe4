"""Verification jobs and batches held by the API while they run and for ``job_ttl_s`` after.

In memory (the embedded default); the queue issue moves them to Redis so that they survive a
restart and run on workers. A job keeps every progress event it announced, numbered from 1, so an
SSE client can resume with ``Last-Event-ID``; waiting clients are woken by one shared event per
change (``changed``), never by polling.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import structlog

from service.pipeline import FailureCode, ProgressEvent, Report

log = structlog.get_logger(__name__)


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass(slots=True)
class Job:
    """One verification: its progress events, then its report (or why it failed)."""

    id: str
    owner: str
    text: str = ""
    """The post as submitted: a permalink shows it with its passages in place."""
    format: str = "auto"
    status: JobStatus = JobStatus.QUEUED
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    report: Report | None = None
    error: dict[str, str] | None = None
    finished_at: float | None = None
    task: asyncio.Task[None] | None = None
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def finished(self) -> bool:
        return self.status in (JobStatus.DONE, JobStatus.FAILED)

    def announce(self, event: ProgressEvent) -> None:
        """A pipeline progress event (the job's ``EventSink``), kept as JSON-ready data."""
        self.events.append((event.kind.value, event.plain_data()))
        self._wake()

    async def changed(self, wait_s: float) -> bool:
        """Wait for the next event or the end; False when ``wait_s`` passed with nothing new."""
        waiter = self._changed
        try:
            await asyncio.wait_for(waiter.wait(), wait_s)
        except TimeoutError:
            return False
        return True

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def finish(self, report: Report | None, error: dict[str, str] | None) -> None:
        self.report, self.error = report, error
        self.status = JobStatus.DONE if report is not None else JobStatus.FAILED
        self.finished_at = time.monotonic()
        self._wake()

    def to_dict(self) -> dict[str, Any]:
        return {
            "job": self.id,
            "status": self.status.value,
            "text": self.text,
            "format": self.format,
            "report": self.report.to_dict() if self.report is not None else None,
            "error": self.error,
        }


@dataclass(slots=True)
class Batch:
    """Many posts: reports collected in input order."""

    id: str
    owner: str
    lines: int
    status: JobStatus = JobStatus.RUNNING
    results: list[str] = field(default_factory=list)
    flagged: int = 0
    errors: int = 0
    error: dict[str, str] | None = None
    finished_at: float | None = None
    task: asyncio.Task[None] | None = None

    @property
    def finished(self) -> bool:
        return self.status in (JobStatus.DONE, JobStatus.FAILED)

    def progress(self) -> dict[str, Any]:
        return {
            "batch": self.id,
            "status": self.status.value,
            "posts": self.lines,
            "done": len(self.results),
            "flagged": self.flagged,
            "errors": self.errors,
            "error": self.error,
        }


class JobStore:
    """Jobs and batches by id, swept ``ttl_s`` after they finish."""

    def __init__(self, ttl_s: float) -> None:
        self._ttl_s = ttl_s
        self._jobs: dict[str, Job] = {}
        self._batches: dict[str, Batch] = {}
        self._running: dict[str, int] = {}  # per owner: kept up to date, never counted by a scan

    def new_job(self, owner: str, text: str = "", format: str = "auto") -> Job:
        job = Job(id=_new_id(), owner=owner, text=text, format=format)
        self._jobs[job.id] = job
        self._started(owner)
        return job

    def new_batch(self, owner: str, lines: int) -> Batch:
        batch = Batch(id=_new_id(), owner=owner, lines=lines)
        self._batches[batch.id] = batch
        self._started(owner)
        return batch

    def _started(self, owner: str) -> None:
        self._running[owner] = self._running.get(owner, 0) + 1

    def ended(self, owner: str) -> None:
        """One job or batch of ``owner`` finished (called once per job by its runner)."""
        left = self._running.get(owner, 0) - 1
        if left > 0:
            self._running[owner] = left
        else:
            self._running.pop(owner, None)

    def job(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def batch(self, batch_id: str) -> Batch | None:
        return self._batches.get(batch_id)

    def running(self, owner: str) -> int:
        """Jobs and batches of ``owner`` not finished yet (the per-key concurrency limit)."""
        return self._running.get(owner, 0)

    def counts(self) -> dict[str, int]:
        """Jobs by status, for ``/metrics``."""
        out = {status.value: 0 for status in JobStatus}
        for job in self._jobs.values():
            out[job.status.value] += 1
        return out

    def sweep(self) -> int:
        """Forget what finished more than ``ttl_s`` ago; how many were dropped."""
        horizon = time.monotonic() - self._ttl_s
        dropped = 0
        for table in (self._jobs, self._batches):
            for key in [k for k, v in table.items() if v.finished_at is not None and v.finished_at < horizon]:
                del table[key]
                dropped += 1
        return dropped

    async def close(self) -> None:
        """Cancel whatever still runs (the server is stopping)."""
        tasks = [item.task for item in self._all() if item.task is not None and not item.task.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _all(self) -> Iterator[Job | Batch]:
        yield from self._jobs.values()
        yield from self._batches.values()


def _new_id() -> str:
    return secrets.token_urlsafe(12)


async def run_job(job: Job, work: Callable[[], Awaitable[Report]], store: JobStore) -> None:
    """Run one verification into ``job``; an unexpected failure is the job's error, never lost."""
    job.status = JobStatus.RUNNING
    try:
        await _run(job, work)
    finally:
        store.ended(job.owner)


async def _run(job: Job, work: Callable[[], Awaitable[Report]]) -> None:
    try:
        report = await work()
    except asyncio.CancelledError:
        job.finish(None, {"code": "cancelled", "message": "the server stopped before the job ended"})
        raise
    except Exception as exc:
        log.exception("job_failed", job_id=job.id)
        job.finish(None, {"code": FailureCode.INTERNAL_ERROR.value, "message": f"{type(exc).__name__}"})
        return
    job.finish(report, None)
