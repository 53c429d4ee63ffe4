"""``provenance worker``: the pipeline's collaborators opened once, then the consume loop."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

from service.pipeline import open_deps
from service.pipeline.streams import JobMessage, RedisNames, ResultMessage, connect
from service.settings import Settings

from workers.jobs import dead_letter_result, dead_report, finish_api_job, run_api_job, run_job
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
    async with AsyncExitStack() as stack:
        redis = connect(settings.redis_url, block_s=queue.block_s)
        stack.push_async_callback(redis.aclose)
        await redis.ping()
        metrics = WorkerMetrics(queue.metrics_port)
        stack.callback(metrics.close)
        deps = await stack.enter_async_context(open_deps(settings, shared=redis))
        names = RedisNames(settings.redis_prefix)
        ttl_s = settings.api.job_ttl_s

        async def handle(message: JobMessage) -> ResultMessage:
            if message.job:
                return await run_api_job(
                    message, deps, redis=redis, names=names, timeout_s=queue.job_timeout_s,
                    ttl_s=ttl_s, worker=name,
                )  # fmt: skip
            return await run_job(message, deps, timeout_s=queue.job_timeout_s, worker=name)

        async def dead_letter(message: JobMessage, deliveries: int) -> ResultMessage:
            if message.job:
                await finish_api_job(redis, names, message, dead_report(message, deliveries), ttl_s=ttl_s)
            return dead_letter_result(message, deliveries, worker=name)

        worker = Worker(
            redis, names, queue,
            handle=handle, dead_letter=dead_letter, name=name,
            concurrency=settings.concurrency, metrics=metrics, cache=deps.cache,
        )  # fmt: skip
        return await worker.run(burst=burst, stop=stop)


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
