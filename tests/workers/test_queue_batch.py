"""``batch --redis`` end to end in one process: the client enqueues and collects, workers verify
through the real pipeline (the seed WARC replayed), and the output is what the in-process batch
writes; results arriving out of order are written in input order; an interrupted batch resumes
without enqueueing any post twice."""

from __future__ import annotations

import asyncio
import io
import json
import random
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from service.pipeline import open_deps, run_batch
from service.pipeline.deps import Deps
from service.pipeline.models import InputFormat
from service.pipeline.queue import QueuedBatch, batch_id, run_queued_batch
from service.pipeline.streams import JobMessage, RedisNames, ResultMessage
from service.settings import BudgetSettings, ExtractSettings, HttpSettings, QueueSettings, Settings
from tests.fakes.sources import TextExtractor
from tests.pipeline.test_budget import SlowFetcher
from workers.jobs import dead_letter_result, run_job
from workers.runtime import Worker

Shared = tuple[Redis, RedisNames]
ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "tests" / "data" / "seed"
FAST = QueueSettings(lease_s=5, block_s=0.05, heartbeat_s=0.2)


def _lines() -> list[bytes]:
    post = (SEED / "post.txt").read_text("utf-8")
    misquote = post.replace("for nearly an hour", "for nearly three hours")
    rows = [{"id": f"p{i}", "text": misquote if i % 3 == 0 else post} for i in range(7)]
    lines = [json.dumps(row).encode() for row in rows]
    lines.insert(2, b"{not json")
    lines.insert(4, b"")  # blank lines are skipped by both
    lines.insert(5, json.dumps({"id": "bad", "text": 7}).encode())
    return lines


def _without_clock(line: str) -> dict[str, Any]:
    report = json.loads(line)
    report.pop("checked_at")
    return dict(report)


async def test_queued_batch_writes_what_the_in_process_batch_writes(shared_redis: Shared) -> None:
    """Same input, same reports in the same order (apart from when they were checked)."""
    redis, names = shared_redis
    settings = Settings(replay=(SEED / "seed.warc.gz",), http=HttpSettings(probe_soft_404=False),
                        extract=ExtractSettings(workers=1), redis_prefix=names.prefix)  # fmt: skip
    lines = _lines()
    here = io.StringIO()
    async with open_deps(settings) as deps:
        await run_batch(lines, here.write, deps=deps)
    queued = io.StringIO()
    async with open_deps(settings, shared=redis) as deps:

        async def handle(message: JobMessage) -> ResultMessage:
            return await run_job(message, deps, timeout_s=60, worker="w1")

        async def dead(message: JobMessage, deliveries: int) -> ResultMessage:
            return dead_letter_result(message, deliveries, worker="w1")

        worker = Worker(redis, names, FAST, handle=handle, dead_letter=dead, name="w1")
        await worker.ensure_group()
        stop = asyncio.Event()
        working = asyncio.ensure_future(worker.run(stop=stop))
        summary = await run_queued_batch(
            lines, queued.write, redis=redis, names=names, settings=FAST, batch="b1"
        )
        stop.set()
        await working
    mine = [_without_clock(line) for line in queued.getvalue().splitlines()]
    theirs = [_without_clock(line) for line in here.getvalue().splitlines()]
    assert mine == theirs
    assert [r["id"] for r in mine] == ["p0", "p1", None, "p2", "bad", "p3", "p4", "p5", "p6"]
    assert summary.posts == 9
    assert summary.errors == 2
    assert summary.flagged == 3  # p0, p3, p6 carry the misquote
    assert worker.stats.done == 8  # the unreadable line never went to a worker
    assert not await redis.exists(names.results("b1"), names.done("b1"), names.queued("b1"))


def _echo_worker(
    redis: Redis,
    names: RedisNames,
    seen: Counter[int],
    *,
    seed: int,
    held: tuple[int, asyncio.Event] | None = None,
) -> Worker:
    """A worker whose jobs finish in random order, each result naming its post; with ``held``,
    jobs from that number on wait for the event."""
    rng = random.Random(seed)

    async def handle(message: JobMessage) -> ResultMessage:
        seen[message.seq] += 1
        if held is not None and message.seq >= held[0]:
            await held[1].wait()
        await asyncio.sleep(rng.random() * 0.03)
        line = json.dumps({"id": message.post["id"]})
        return ResultMessage(message.seq, line, "verified", False, None, 0, "echo")

    async def dead(message: JobMessage, deliveries: int) -> ResultMessage:
        return dead_letter_result(message, deliveries, worker="echo")

    return Worker(redis, names, FAST, handle=handle, dead_letter=dead, name=f"echo{seed}", concurrency=8)


async def test_out_of_order_results_are_written_in_input_order_within_the_window(
    shared_redis: Shared,
) -> None:
    """Two workers finishing at random: the output is still in input order, and the client never
    has more than its window of posts queued ahead of its output."""
    redis, names = shared_redis
    window = QueueSettings(lease_s=5, block_s=0.05, enqueue_window=10)
    lines = [json.dumps({"id": f"p{i}", "text": "x"}) for i in range(60)]
    seen: Counter[int] = Counter()
    workers = [_echo_worker(redis, names, seen, seed=s) for s in (1, 2)]
    await workers[0].ensure_group()
    stop = asyncio.Event()
    running = [asyncio.ensure_future(w.run(stop=stop)) for w in workers]
    peak = 0

    async def watch() -> None:
        nonlocal peak
        while True:
            both = redis.pipeline(transaction=True)  # one moment: the batch deletes both when it ends
            _ = both.scard(names.queued("b2"))
            _ = both.scard(names.done("b2"))
            queued, done = await both.execute()
            peak = max(peak, queued - done)
            await asyncio.sleep(0.005)

    watching = asyncio.ensure_future(watch())
    out = io.StringIO()
    client = QueuedBatch(redis, names, window, batch="b2")
    await client.run(lines, out.write)
    watching.cancel()
    stop.set()
    await asyncio.gather(*running)
    assert [json.loads(line)["id"] for line in out.getvalue().splitlines()] == [f"p{i}" for i in range(60)]
    assert set(seen.values()) == {1}
    assert 0 < peak <= 10


async def test_an_interrupted_batch_resumes_without_enqueueing_a_post_twice(shared_redis: Shared) -> None:
    """The client dies after some reports; the re-run skips what the output holds, collects what
    the workers finished meanwhile and enqueues only what was never enqueued."""
    redis, names = shared_redis
    lines = [json.dumps({"id": f"p{i}", "text": "x"}) for i in range(40)]
    seen: Counter[int] = Counter()
    first = io.StringIO()
    small = QueueSettings(block_s=0.05, enqueue_window=25)
    client = QueuedBatch(redis, names, small, batch="b3")
    interrupted = asyncio.ensure_future(client.run(lines, first.write))
    release = asyncio.Event()
    worker = _echo_worker(redis, names, seen, seed=3, held=(20, release))
    stop = asyncio.Event()
    working = asyncio.ensure_future(worker.run(stop=stop))
    for _ in range(500):
        if first.getvalue().count("\n") >= 20:
            break
        await asyncio.sleep(0.01)
    interrupted.cancel()
    with pytest.raises(asyncio.CancelledError):
        await interrupted
    release.set()
    written = first.getvalue().count("\n")
    assert written == 20
    second = io.StringIO()
    resumed = QueuedBatch(
        redis, names, QueueSettings(block_s=0.05, enqueue_window=25), batch="b3", skip=written
    )
    summary = await resumed.run(lines, second.write)
    stop.set()
    await working
    ids = [json.loads(line)["id"] for line in (first.getvalue() + second.getvalue()).splitlines()]
    assert ids == [f"p{i}" for i in range(40)]
    assert summary.posts == 40 - written
    assert client.enqueued + resumed.enqueued == 40  # nobody was enqueued twice
    assert set(seen.values()) == {1}  # nobody was verified twice


def test_a_batch_is_named_by_its_input_and_how_it_is_read() -> None:
    """The same input gives the same name; another input or format, another name."""
    a = batch_id([b"line one\n", b"line two\n"], InputFormat.AUTO)
    assert a == batch_id([b"line one\nline two\n"], InputFormat.AUTO)
    assert a != batch_id([b"line one\n"], InputFormat.AUTO)
    assert a != batch_id([b"line one\nline two\n"], InputFormat.MARKDOWN)


async def test_posts_a_redis_data_loss_took_are_enqueued_again(shared_redis: Shared) -> None:
    """Redis restarted without its data (no AOF): the queued posts are gone from the stream; the
    batch client notices its batch is unknown to Redis and enqueues what it still waits for."""
    redis, names = shared_redis
    lines = [json.dumps({"id": f"p{i}", "text": "x"}) for i in range(6)]
    client = QueuedBatch(redis, names, QueueSettings(block_s=0.05), batch="b5", check_after_s=0.2)
    out = io.StringIO()
    running = asyncio.ensure_future(client.run(lines, out.write))
    for _ in range(200):
        if await redis.xlen(names.jobs) == 6:
            break
        await asyncio.sleep(0.01)
    keys = [key async for key in redis.scan_iter(match=f"{names.prefix}:*")]
    await redis.delete(*keys)  # what a restart without persistence leaves
    seen: Counter[int] = Counter()
    worker = _echo_worker(redis, names, seen, seed=5)
    await worker.ensure_group()
    stop = asyncio.Event()
    working = asyncio.ensure_future(worker.run(stop=stop))
    summary = await asyncio.wait_for(running, 20)
    stop.set()
    await working
    assert [json.loads(line)["id"] for line in out.getvalue().splitlines()] == [f"p{i}" for i in range(6)]
    assert summary.posts == 6
    assert client.enqueued == 12  # each post once before the loss, once after
    assert set(seen.values()) == {1}


# ---------------------------------------------------------------- the batch's budget


def _budget_lines(count: int) -> list[str]:
    page = "The harbour reopened on Monday after the storm, and the first boats left before dawn."
    return [json.dumps({"id": f"p{i}", "text": f'"{page}"\nhttps://site{i}.example/a'}) for i in range(count)]


async def test_the_batch_budget_holds_through_the_queue(shared_redis: Shared) -> None:
    """``batch --redis`` with a 1 s budget, one worker verifying one post at a time, each source
    answering in 0.4 s: the first posts are verified, one under way at the deadline has its source
    cut (``budget_exhausted``), the worker writes a ``budget_exhausted`` error report for each post
    it picks up past the deadline without reading it, and the client writes every report in
    input order and counts the posts not started."""
    redis, names = shared_redis
    lines = _budget_lines(6)
    pages = {
        f"https://site{i}.example/a": json.loads(line)["text"].split('"')[1] for i, line in enumerate(lines)
    }
    fetcher = SlowFetcher(pages, slow=frozenset(pages), delay=0.4)
    settings = Settings(http=HttpSettings(probe_soft_404=False), budget=BudgetSettings(post_s=None))
    deps = Deps(settings=settings, fetcher=fetcher, extractor=TextExtractor())

    async def handle(message: JobMessage) -> ResultMessage:
        return await run_job(message, deps, timeout_s=60, worker="w1")

    async def dead(message: JobMessage, deliveries: int) -> ResultMessage:
        return dead_letter_result(message, deliveries, worker="w1")

    worker = Worker(redis, names, FAST, handle=handle, dead_letter=dead, name="w1", concurrency=1)
    await worker.ensure_group()
    stop = asyncio.Event()
    working = asyncio.ensure_future(worker.run(stop=stop))
    out = io.StringIO()
    started = time.monotonic()
    summary = await run_queued_batch(
        lines, out.write, redis=redis, names=names, settings=FAST, batch="budget1", budget_s=1.0
    )
    elapsed = time.monotonic() - started
    stop.set()
    await working
    reports = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["id"] for r in reports] == [f"p{i}" for i in range(6)]
    errors = [(r.get("error") or {}).get("code") for r in reports]
    assert errors[:2] == [None, None]  # read in 0.4 s each, within the second
    assert errors[-1] == "budget_exhausted"  # picked up past the deadline: not started
    assert summary.not_started == errors.count("budget_exhausted") >= 2
    cut = [r for r, e in zip(reports, errors, strict=True) if e is None]
    assert {s["reason"] for r in cut[2:] for s in r["sources"]} <= {"budget_exhausted"}
    assert len(fetcher.calls) <= 4  # posts not started never fetched
    assert elapsed < 10


async def test_past_the_budget_and_its_grace_every_post_gets_a_report_without_workers(
    shared_redis: Shared,
) -> None:
    """No worker runs: past the budget (0.3 s) the client stops queueing (the rest are not
    started), and past its grace (0.5 s) the queued posts get their ``budget_exhausted`` reports
    too; the batch ends, every line reported in order, ids kept."""
    redis, names = shared_redis
    lines = [*_budget_lines(5), "{not json"]
    out = io.StringIO()
    client = QueuedBatch(
        redis,
        names,
        QueueSettings(block_s=0.05, enqueue_window=2),
        batch="budget2",
        budget_s=0.3,
        grace_s=0.5,
    )
    summary = await asyncio.wait_for(client.run(lines, out.write), 20)
    reports = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["id"] for r in reports] == [f"p{i}" for i in range(5)] + [None]
    assert [r["error"]["code"] for r in reports] == ["budget_exhausted"] * 5 + ["bad_json"]
    assert summary.not_started == 5
    assert client.enqueued == 2  # the window: the others were never queued


def test_a_job_carries_the_batch_deadline() -> None:
    """The deadline travels with the job message, and a message without one (an older client,
    an API job) reads as no deadline."""
    message = JobMessage("b", 1, {"text": "x"}, deadline=1_900_000_000.25)
    assert JobMessage.from_fields(message.to_fields()).deadline == 1_900_000_000.25
    fields = JobMessage("b", 1, {"text": "x"}).to_fields()
    assert JobMessage.from_fields(fields).deadline is None
    del fields["deadline"]
    assert JobMessage.from_fields(fields).deadline is None
