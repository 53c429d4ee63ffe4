"""The consume loop against the real Redis, with a stand-in for verification: every job finished
once, dead workers' jobs taken over, poison jobs dead-lettered, stale writes fenced off, a drain
that hands jobs back, trimming that never drops a pending job, and a heartbeat."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from service.pipeline.streams import GROUP, JobMessage, RedisNames, ResultMessage
from service.settings import QueueSettings
from workers.jobs import dead_letter_result
from workers.metrics import WorkerMetrics
from workers.runtime import Worker, worker_alive

Shared = tuple[Redis, RedisNames]
FAST = QueueSettings(lease_s=0.3, block_s=0.05, heartbeat_s=0.1, max_deliveries=2, drain_grace_s=0.2)


async def eventually(check: Callable[[], Awaitable[object]], within_s: float = 10.0) -> None:
    """Poll ``check`` until it holds, failing the test after ``within_s`` seconds."""
    for _ in range(int(within_s / 0.02)):
        if await check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"still false after {within_s} s")


async def _true(value: object) -> object:
    return value


async def enqueue(
    redis: Redis, names: RedisNames, count: int, batch: str = "b1", start: int = 0
) -> list[Any]:
    ids = []
    for seq in range(start, start + count):
        message = JobMessage(batch, seq, {"id": f"p{seq}", "text": "x"}, line=seq + 1)
        ids.append(await redis.xadd(names.jobs, message.to_fields()))  # type: ignore[arg-type]
    return ids


async def _pending(redis: Redis, names: RedisNames) -> bool:
    return bool((await redis.xpending(names.jobs, GROUP))["pending"])


async def _done_at_least(redis: Redis, names: RedisNames, count: int) -> bool:
    return bool(await redis.scard(names.done("b1")) >= count)


def make_worker(redis: Redis, names: RedisNames, handled: Counter[int], *, name: str, delay: float = 0.0,
                settings: QueueSettings = FAST, concurrency: int = 4, until: asyncio.Event | None = None,
                metrics: WorkerMetrics | None = None) -> Worker:  # fmt: skip
    """A worker whose jobs take ``delay`` seconds (or last ``until`` the event is set)."""

    async def handle(message: JobMessage) -> ResultMessage:
        handled[message.seq] += 1
        await asyncio.sleep(delay)
        if until is not None:
            await until.wait()
        report = json.dumps({"id": message.post["id"], "verdict": "verified"})
        return ResultMessage(message.seq, report, "verified", False, None, 1, name)

    async def dead(message: JobMessage, deliveries: int) -> ResultMessage:
        return dead_letter_result(message, deliveries, worker=name)

    return Worker(redis, names, settings, handle=handle, dead_letter=dead, name=name, concurrency=concurrency,
                  metrics=metrics)  # fmt: skip


async def results(redis: Redis, names: RedisNames, batch: str = "b1") -> list[dict[str, Any]]:
    entries: Any = await redis.xrange(names.results(batch))
    return [json.loads(ResultMessage.from_fields(fields).report) for _, fields in entries]


async def test_burst_worker_finishes_every_job_once_and_leaves_nothing_pending(shared_redis: Shared) -> None:
    """Thirty jobs, one result each, all acknowledged, the stream trimmed of them."""
    redis, names = shared_redis
    await enqueue(redis, names, 30)
    handled: Counter[int] = Counter()
    stats = await make_worker(redis, names, handled, name="w1").run(burst=True)
    assert stats.done == 30
    assert set(handled) == set(range(30))
    assert set(handled.values()) == {1}
    got = await results(redis, names)
    assert sorted(r["id"] for r in got) == sorted(f"p{i}" for i in range(30))
    assert (await redis.xpending(names.jobs, GROUP))["pending"] == 0
    assert await redis.scard(names.done("b1")) == 30
    assert await redis.xlen(names.jobs) <= 1  # acknowledged entries trimmed away


async def test_a_dead_consumers_jobs_are_reclaimed_after_the_lease(shared_redis: Shared) -> None:
    """A consumer that read jobs and died: its jobs are taken over once idle past the lease."""
    redis, names = shared_redis
    await enqueue(redis, names, 3)
    worker = make_worker(redis, names, Counter(), name="w1")
    await worker.ensure_group()
    await redis.xreadgroup(GROUP, "ghost", {names.jobs: ">"}, count=3)  # read, never acknowledged
    stats = await worker.run(burst=True)
    assert (stats.done, stats.reclaimed) == (3, 3)
    pending = await redis.xpending(names.jobs, GROUP)
    assert pending["pending"] == 0


async def test_a_job_delivered_too_often_is_dead_lettered_and_its_batch_gets_a_report(
    shared_redis: Shared,
) -> None:
    """Past max_deliveries: into the dead-letter stream with its error, and an error report."""
    redis, names = shared_redis
    [entry] = await enqueue(redis, names, 1)
    handled: Counter[int] = Counter()
    worker = make_worker(redis, names, handled, name="w1")
    await worker.ensure_group()
    await redis.xreadgroup(GROUP, "ghost", {names.jobs: ">"}, count=1)  # delivery 1: died
    await redis.xclaim(names.jobs, GROUP, "ghost2", 0, [entry])  # delivery 2: died too
    stats = await worker.run(burst=True)
    assert stats.dead_lettered == 1
    assert not handled
    dead_entries: Any = await redis.xrange(names.dead)
    [(_, dead)] = dead_entries
    assert dead[b"job"] == b"b1:0"
    assert b"without a result" in dead[b"error"]
    assert json.loads(dead[b"fields"])["seq"] == "0"
    [report] = await results(redis, names)
    assert report["error"]["code"] == "dead_lettered"
    assert report["id"] == "p0"
    assert (await redis.xpending(names.jobs, GROUP))["pending"] == 0


async def test_a_result_is_written_once_and_a_stale_owner_is_fenced_off(shared_redis: Shared) -> None:
    """A job taken over while its first worker still ran: only the owner's result counts; a job
    already done (a re-delivery) writes nothing more."""
    redis, names = shared_redis
    await enqueue(redis, names, 1)
    claimed = asyncio.Event()
    slow = make_worker(redis, names, Counter(), name="slow", until=claimed,
                       settings=QueueSettings(lease_s=30, block_s=0.05, heartbeat_s=0.1))  # fmt: skip
    await slow.ensure_group()
    stop = asyncio.Event()
    running = asyncio.ensure_future(slow.run(stop=stop))
    await eventually(lambda: redis.xpending_range(names.jobs, GROUP, "-", "+", 10))
    [pending] = await redis.xpending_range(names.jobs, GROUP, "-", "+", 10)
    await redis.xclaim(names.jobs, GROUP, "thief", 0, [pending["message_id"]])
    claimed.set()  # the slow job ends only now, after its job was taken over
    await eventually(lambda: _true(slow.stats.stale))
    stop.set()
    stats = await running
    assert (stats.stale, stats.done) == (1, 0)
    assert await redis.xlen(names.results("b1")) == 0  # nothing written by the stale owner
    await redis.sadd(names.done("b1"), 0)  # the thief finished it meanwhile
    thief = make_worker(redis, names, Counter(), name="thief")
    thief_stats = await thief.run(burst=True)  # re-reads its own pending entry
    assert (thief_stats.duplicates, thief_stats.done) == (1, 0)
    assert await redis.xlen(names.results("b1")) == 0
    assert (await redis.xpending(names.jobs, GROUP))["pending"] == 0


async def test_a_drained_worker_hands_its_jobs_back_at_once(shared_redis: Shared) -> None:
    """Stopped mid-job, past the grace time: the job is free for another worker without waiting
    out the lease, and its delivery count is not inflated by the hand-back."""
    redis, names = shared_redis
    await enqueue(redis, names, 1)
    long_lease = QueueSettings(lease_s=30, block_s=0.05, heartbeat_s=0.1, drain_grace_s=0.1)
    stuck = make_worker(redis, names, Counter(), name="stuck", until=asyncio.Event(), settings=long_lease)
    stop = asyncio.Event()
    await stuck.ensure_group()
    running = asyncio.ensure_future(stuck.run(stop=stop))
    await eventually(lambda: _pending(redis, names))
    stop.set()
    stats = await asyncio.wait_for(running, 10)
    assert stats.handed_back == 1
    assert stats.done == 0
    handled: Counter[int] = Counter()
    other = make_worker(redis, names, handled, name="other", settings=long_lease)
    other_stats = await asyncio.wait_for(other.run(burst=True), 5)
    assert (other_stats.done, other_stats.reclaimed, handled[0]) == (1, 1, 1)


async def test_trimming_never_drops_a_pending_job(shared_redis: Shared) -> None:
    """Hundreds of jobs done while one early job is still pending: that one survives the trim."""
    redis, names = shared_redis
    settings = QueueSettings(lease_s=60, block_s=0.05, heartbeat_s=0.1)
    ids = await enqueue(redis, names, 250)
    worker = make_worker(redis, names, Counter(), name="w1", settings=settings, concurrency=16)
    await worker.ensure_group()
    await redis.xreadgroup(GROUP, "slowpoke", {names.jobs: ">"}, count=1)  # holds the first job
    stop = asyncio.Event()
    running = asyncio.ensure_future(worker.run(stop=stop))
    await eventually(lambda: _done_at_least(redis, names, 249), within_s=60)
    stop.set()
    await running
    assert await redis.xrange(names.jobs, ids[0], ids[0])  # still there for its reclaim
    # Once it is taken over and done, nothing holds the trim back.
    after = make_worker(redis, names, Counter(), name="w2")
    assert (await after.run(burst=True)).done == 1
    assert await redis.xlen(names.jobs) <= 1


async def test_the_group_is_created_once_and_only_busygroup_is_ignored(shared_redis: Shared) -> None:
    """MKSTREAM at id 0; a second creation is fine; any other error is not swallowed."""
    redis, names = shared_redis
    worker = make_worker(redis, names, Counter(), name="w1")
    await worker.ensure_group()
    await worker.ensure_group()
    groups = await redis.xinfo_groups(names.jobs)
    assert [g["name"] for g in groups] == [GROUP.encode()]
    await redis.delete(names.jobs)
    await redis.set(names.jobs, "not a stream")
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        await worker.ensure_group()


async def test_a_running_worker_beats_and_a_stopped_one_does_not(shared_redis: Shared) -> None:
    """The heartbeat key exists with a TTL while the worker runs, and is gone after."""
    redis, names = shared_redis
    worker = make_worker(redis, names, Counter(), name="beater")
    stop = asyncio.Event()
    running = asyncio.ensure_future(worker.run(stop=stop))
    await eventually(lambda: worker_alive(redis, names, "beater"))
    state = json.loads(await redis.get(names.worker("beater")) or "{}")
    assert state["name"] == "beater"
    assert 0 < await redis.pttl(names.worker("beater")) <= 300
    stop.set()
    await running
    assert not await worker_alive(redis, names, "beater")


async def test_the_worker_serves_its_metrics(shared_redis: Shared) -> None:
    """Jobs by verdict, job seconds, reclaimed and lag on the metrics port, in Prometheus text."""
    import socket
    import urllib.request

    redis, names = shared_redis
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    metrics = WorkerMetrics(port, addr="127.0.0.1")
    try:
        await enqueue(redis, names, 3)
        worker = make_worker(redis, names, Counter(), name="m")
        worker_with_metrics = Worker(
            redis,
            names,
            FAST,
            handle=worker._handle,
            dead_letter=worker._dead_letter,
            name="m",
            metrics=metrics,
        )
        assert (await worker_with_metrics.run(burst=True)).done == 3
        text = await asyncio.to_thread(
            lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        )
    finally:
        metrics.close()
    assert 'provenance_worker_jobs_total{verdict="verified"} 3.0' in text
    assert "provenance_worker_job_seconds_count 3.0" in text
    assert "provenance_worker_jobs_reclaimed_total 0.0" in text
    assert "provenance_worker_stream_lag" in text
