"""``provenance worker``: the pipeline's collaborators opened once, then the consume loop."""

from __future__ import annotations

import asyncio
from functools import partial

from service.pipeline import open_deps
from service.pipeline.streams import JobMessage, RedisNames, ResultMessage, connect
from service.settings import Settings

from workers.jobs import dead_letter_result, run_job
from workers.metrics import WorkerMetrics
from workers.runtime import Worker, WorkerStats, default_worker_name, worker_alive


async def run_worker(
    settings: Settings,
    *,
    name: str | None = None,
    burst: bool = False,
    stop: asyncio.Event | None = None,
) -> WorkerStats:
    """Consume the job stream of ``settings.redis_url`` until ``stop`` (or, in burst mode, until
    nothing is left). The evidence store, the extraction pool and the fleet's caches are opened
    once for every job of this process."""
    if not settings.redis_url:
        raise ValueError("a worker needs a Redis URL")
    queue = settings.queue
    name = name or queue.worker_name or default_worker_name()
    redis = connect(settings.redis_url, block_s=queue.block_s)
    try:
        await redis.ping()
        metrics = WorkerMetrics(queue.metrics_port)
        async with open_deps(settings, shared=redis) as deps:

            async def handle(message: JobMessage) -> ResultMessage:
                return await run_job(message, deps, timeout_s=queue.job_timeout_s, worker=name)

            worker = Worker(
                redis, RedisNames(settings.redis_prefix), queue,
                handle=handle, dead_letter=partial(dead_letter_result, worker=name), name=name,
                concurrency=settings.concurrency, metrics=metrics, cache=deps.cache,
            )  # fmt: skip
            return await worker.run(burst=burst, stop=stop)
    finally:
        await redis.aclose()


async def check_worker(settings: Settings, *, name: str | None) -> bool:
    """The heartbeat of this worker (or of any worker on this host) is fresh."""
    if not settings.redis_url:
        raise ValueError("a worker needs a Redis URL")
    redis = connect(settings.redis_url)
    try:
        return await worker_alive(
            redis, RedisNames(settings.redis_prefix), name or settings.queue.worker_name
        )
    finally:
        await redis.aclose()
