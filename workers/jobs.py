"""One job: one post in, its report out, through ``service.pipeline`` exactly as the in-process
batch verifies it (the same reading of the line, the same error reports).

A job of the HTTP API (``JobMessage.job`` set) also announces its progress events to the API's
event stream for that job, as they happen, and writes its report (and the HTML report) into the
job's hash, where every API process reads it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import structlog
from redis.exceptions import RedisError
from service.pipeline import Deps, FailureCode, InputFormat, ProgressEvent, Report, render_html, verify_post
from service.pipeline.batch import known_id, post_or_error
from service.pipeline.report.build import error_report
from service.pipeline.streams import JobMessage, RedisNames, ResultMessage, json_text

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = structlog.get_logger(__name__)

END = "_end"
"""The last entry of an API job's event stream: its report (or error) is in the job's hash."""


def result_of(message: JobMessage, report: Report, *, worker: str) -> ResultMessage:
    """The result a batch collects: the report line and what its progress bar shows."""
    return ResultMessage(
        seq=message.seq,
        report=json_text(report.to_dict()),
        verdict=report.verdict.value,
        flagged=report.flagged,
        error=report.error.code.value if report.error else None,
        sources=len(report.sources),
        worker=worker,
    )


async def verify_message(message: JobMessage, deps: Deps, *, timeout_s: float) -> Report:
    """The report of the post in ``message``; every outcome, a failure included, is a report."""
    try:
        default_format = InputFormat(message.default_format)
    except ValueError:  # a newer producer's format: read the post as the in-process batch would
        default_format = InputFormat.AUTO
    item = post_or_error(
        message.post, message.line, default_format=default_format, max_chars=deps.settings.post.max_chars
    )
    if isinstance(item, Report):
        return item
    until = None
    if message.deadline is not None:  # a queued batch's budget: what is left of it, on this clock
        left = message.deadline - time.time()
        if left <= 0:
            text = "the batch's budget ran out before this post was started"
            return error_report(item.id, FailureCode.BUDGET_EXHAUSTED, text)
        until = asyncio.get_running_loop().time() + left
    try:
        async with asyncio.timeout(timeout_s):
            return await verify_post(item, deps=deps, until=until)
    except TimeoutError:
        log.warning("job_timed_out", timeout_s=timeout_s)
        return error_report(item.id, FailureCode.TIMEOUT, f"not verified within {timeout_s:g} s")
    except Exception as exc:  # one post's failure is its report's error, never the worker's end
        log.exception("job_failed")
        return error_report(item.id, FailureCode.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}")


async def run_job(message: JobMessage, deps: Deps, *, timeout_s: float, worker: str) -> ResultMessage:
    """A batch's job: the post verified, its result for the batch."""
    report = await verify_message(message, deps, timeout_s=timeout_s)
    return result_of(message, report, worker=worker)


def dead_letter_result(message: JobMessage, deliveries: int, *, worker: str) -> ResultMessage:
    """The report written for a job given up on, so that its batch still ends."""
    return result_of(message, dead_report(message, deliveries), worker=worker)


def dead_report(message: JobMessage, deliveries: int) -> Report:
    text = (
        f"line {message.line}: given up after {deliveries} deliveries; the worker handling it "
        "stopped each time (crashed, killed or cut off from Redis)"
    )
    return error_report(known_id(message.post), FailureCode.DEAD_LETTERED, text)


# ---------------------------------------------------------------- jobs of the HTTP API


class _Announcer:
    """Progress events of one API job into its event stream, in order, without blocking the
    pipeline (its event sink is synchronous): a queue and one task writing it out."""

    def __init__(self, redis: Redis, key: str, ttl_s: float) -> None:
        self._redis, self._key, self._ttl_s = redis, key, int(ttl_s)
        self._queue: asyncio.Queue[tuple[str, str] | None] = asyncio.Queue()
        self._count = 0
        self._task = asyncio.ensure_future(self._write())

    def __call__(self, event: ProgressEvent) -> None:
        self._queue.put_nowait((event.kind.value, json_text(event.plain_data())))

    async def _write(self) -> None:
        while (item := await self._queue.get()) is not None:
            self._count += 1
            kind, data = item
            with contextlib.suppress(RedisError, OSError):  # progress is a courtesy; the report is not
                await self._redis.xadd(self._key, {"n": str(self._count), "kind": kind, "data": data})
                if self._count == 1:
                    await self._redis.expire(self._key, self._ttl_s)

    async def close(self) -> None:
        self._queue.put_nowait(None)
        await self._task


async def run_api_job(
    message: JobMessage, deps: Deps, *, redis: Redis, names: RedisNames, timeout_s: float, ttl_s: float,
    worker: str,
) -> ResultMessage:  # fmt: skip
    """An API verification: progress to its event stream, the report into its hash."""
    job_key = names.api_job(message.job)
    await redis.hset(job_key, mapping={"status": "running", "worker": worker})
    announce = _Announcer(redis, names.api_job_events(message.job), ttl_s)
    try:
        report = await verify_message(message, replace(deps, events=announce), timeout_s=timeout_s)
    finally:
        await announce.close()
    await finish_api_job(redis, names, message, report, ttl_s=ttl_s)
    return result_of(message, report, worker=worker)


async def finish_api_job(
    redis: Redis, names: RedisNames, message: JobMessage, report: Report, *, ttl_s: float
) -> None:
    """The report (or the failure) into the job's hash, the job off its key's running set, then
    the end mark on its event stream. Written again by a re-delivery: the same fields."""
    job_key = names.api_job(message.job)
    fields: dict[Any, Any]
    if report.error is None:
        fields = {"status": "done", "report": json_text(report.to_dict()), "html": render_html(report)}
    else:
        fields = {"status": "failed", "error": json.dumps(report.error.to_dict())}
    owner = await redis.hget(job_key, "owner")
    pipe = redis.pipeline(transaction=True)  # queued commands answer with the pipeline: nothing to await
    _ = pipe.hset(job_key, mapping={**fields, "finished": str(time.time())})
    _ = pipe.expire(job_key, int(ttl_s))
    if owner is not None:
        _ = pipe.zrem(names.api_running(owner.decode() if isinstance(owner, bytes) else owner), message.job)
    _ = pipe.xadd(names.api_job_events(message.job), {"n": "0", "kind": END, "data": "{}"})
    _ = pipe.expire(names.api_job_events(message.job), int(ttl_s))
    await pipe.execute()
