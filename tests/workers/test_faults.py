"""Fault tests of the queue against a real Redis (security.md §4): workers and batch clients are
real processes, killed, stopped and restarted the way an orchestrator or a crash would.

Each test checks every report of its batch: one per input line, in input order, none twice, each
with its expected verdict or error code. Timings are small (lease 2 s, heartbeat 0.5 s, at most 3
deliveries, drain grace 5 s: see ``QUEUE_ENV``), so a lease ends within seconds.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from service.pipeline.models import InputFormat
from service.pipeline.queue import batch_id
from service.pipeline.streams import GROUP, RedisNames, connect
from tests.workers.conftest import (
    OwnRedis,
    Proc,
    Processes,
    SlowOrigin,
    check_reports,
    post_line,
    read_reports,
    until,
)

pytestmark = pytest.mark.slow

SUMMARY = re.compile(r"worker (\d+) jobs done, (\d+) dead-lettered, (\d+) reclaimed")


def _worker(url: str, data_dir: Path, *extra: str) -> list[str]:
    """``provenance worker`` arguments: loopback pages allowed, evidence under ``data_dir``."""
    return ["worker", "--redis", url, "--allow-private-addresses", "--data-dir", str(data_dir), *extra]


def _batch(url: str, given: Path, output: Path) -> list[str]:
    """``provenance batch --redis`` arguments."""
    return ["batch", str(given), "-o", str(output), "--redis", url]


def _write_input(path: Path, lines: Sequence[str]) -> str:
    """Write the batch's input; its batch id, as ``provenance batch`` names it."""
    data = "".join(f"{line}\n" for line in lines).encode()
    path.write_bytes(data)
    return batch_id([data], InputFormat.AUTO)


def _summary(proc: Proc) -> tuple[int, int, int]:
    """(done, dead-lettered, reclaimed) from a worker's last stderr line."""
    found = SUMMARY.search(proc.err())
    assert found, f"{proc.label}: no summary line; stderr:\n{proc.err_tail()}"
    done, dead, reclaimed = (int(n) for n in found.groups())
    return done, dead, reclaimed


def _job_ids(proc: Proc) -> list[str]:
    """The job ids of a worker's ``job_done`` events, in order."""
    return [str(e["job_id"]) for e in proc.events("job_done")]


@asynccontextmanager
async def _client(url: str) -> AsyncIterator[Redis]:
    """A Redis client of the test itself (to watch the queue), closed at the end."""
    redis = connect(url)
    try:
        yield redis
    finally:
        await redis.aclose()


async def _pending_of(redis: Redis, names: RedisNames, consumer: str) -> list[str]:
    """Entry ids pending with ``consumer`` (delivered to it, not acknowledged)."""
    entries: Any = await redis.xpending_range(names.jobs, GROUP, "-", "+", 1000, consumername=consumer)
    return [e["message_id"].decode() for e in entries]


async def _finished(client: Proc, workers: Sequence[Proc], within: float) -> None:
    """The batch client exits 0 within ``within`` s; else fail with its and the workers' stderr."""
    try:
        code = await asyncio.wait_for(client.process.wait(), within)
    except TimeoutError:
        tails = "\n".join(f"--- {w.label} (exit {w.returncode}):\n{w.err_tail()}" for w in workers)
        pytest.fail(f"batch still running after {within:g} s:\n{client.err_tail()}\n{tails}")
    assert code == 0, f"batch client exited {code}:\n{client.err_tail()}"


# ---------------------------------------------------------------- 1. SIGKILL a worker mid-batch


@pytest.mark.timeout(120)
async def test_sigkilled_worker_jobs_are_reclaimed_and_the_batch_completes(
    tmp_path: Path, procs: Processes, redis_url: str, origin: SlowOrigin, prefix: str
) -> None:
    """F1/F2: worker A is SIGKILLed with jobs in flight; worker B takes them over after the lease
    (its summary counts them as reclaimed), the batch gets every report once, in input order,
    and no page is fetched more than twice (once per delivery)."""
    slugs = [f"kill-{i:02d}" for i in range(24)]
    lines = [post_line(f"post-{i:02d}", origin, origin_slug) for i, origin_slug in enumerate(slugs)]
    for slug in slugs:
        origin.add(slug, delay_s=0.6)
    lines.insert(5, "this line is not JSON")
    given, output, data = tmp_path / "in.jsonl", tmp_path / "out.jsonl", tmp_path / "data"
    batch = _write_input(given, lines)
    names = RedisNames(prefix)

    client = await procs.start("batch", *_batch(redis_url, given, output))
    worker_a = await procs.start(
        "worker-a", *_worker(redis_url, data, "--name", "worker-a", "--concurrency", "4")
    )
    async with _client(redis_url) as redis:

        async def some_done_some_in_flight() -> bool:
            done = int(await redis.scard(names.done(batch)))
            assert done < len(slugs), "worker A finished the whole batch before it could be killed"
            return done >= 4 and bool(await _pending_of(redis, names, "worker-a"))

        await until(some_done_some_in_flight, within=40, what="worker A to be mid-batch")
        worker_a.signal(signal.SIGKILL)
        assert await worker_a.wait(10) == -signal.SIGKILL
        in_flight = await _pending_of(redis, names, "worker-a")
        done_at_kill = int(await redis.scard(names.done(batch)))
    assert in_flight, "worker A held no job when it was killed"
    assert done_at_kill < len(slugs)

    worker_b = await procs.start("worker-b", *_worker(redis_url, data, "--name", "worker-b", "--burst",
                                                      "--concurrency", "4"))  # fmt: skip
    await _finished(client, [worker_b], within=90)
    assert await worker_b.wait(30) == 0, worker_b.err_tail()

    expected: list[tuple[str | None, str]] = [(f"post-{i:02d}", "verified") for i in range(24)]
    expected.insert(5, (None, "bad_json"))
    check_reports(output, expected)
    done_b, dead_b, reclaimed_b = _summary(worker_b)
    assert reclaimed_b == len(in_flight), (reclaimed_b, in_flight)
    assert dead_b == 0
    assert done_b == len(slugs) - done_at_kill
    redelivered = [e for e in worker_b.events("job_done") if e["deliveries"] == 2]
    assert len(redelivered) == len(in_flight)
    for slug in slugs:
        assert 1 <= origin.page_hits(slug) <= 2, (slug, origin.page_hits(slug))
    assert sum(origin.page_hits(s) for s in slugs) <= len(slugs) + len(in_flight)


# ---------------------------------------------------------------- 2. Redis restarted mid-batch


@pytest.mark.timeout(120)
async def test_redis_killed_and_restarted_with_aof_mid_batch(
    tmp_path: Path, procs: Processes, own_redis: OwnRedis, origin: SlowOrigin, prefix: str
) -> None:
    """F6: a private redis-server (AOF, fsync always) is SIGKILLed part-way and started again on the
    same port and directory; the worker and the batch client ride out the outage and the batch
    ends with every report once, in input order."""
    slugs = [f"restart-{i:02d}" for i in range(16)]
    lines = [post_line(f"post-{i:02d}", origin, slug) for i, slug in enumerate(slugs)]
    for slug in slugs:
        origin.add(slug, delay_s=0.4)
    given, output, data = tmp_path / "in.jsonl", tmp_path / "out.jsonl", tmp_path / "data"
    batch = _write_input(given, lines)
    names = RedisNames(prefix)
    url = own_redis.url

    client = await procs.start("batch", *_batch(url, given, output))
    worker = await procs.start("worker", *_worker(url, data, "--name", "worker", "--concurrency", "4"))
    async with _client(url) as redis:

        async def some_done() -> bool:
            done = int(await redis.scard(names.done(batch)))
            assert done < len(slugs), "the batch finished before Redis could be killed"
            return done >= 3

        await until(some_done, within=40, what="the first results")
    await own_redis.kill()
    await asyncio.sleep(1.5)  # the outage itself: both processes must notice it and wait
    assert client.returncode is None, f"batch client died with Redis:\n{client.err_tail()}"
    assert worker.returncode is None, f"worker died with Redis:\n{worker.err_tail()}"
    await own_redis.start()

    await _finished(client, [worker], within=90)
    worker.signal(signal.SIGTERM)
    assert await worker.wait(15) == 0, worker.err_tail()
    check_reports(output, [(f"post-{i:02d}", "verified") for i in range(16)])
    for slug in slugs:
        assert 1 <= origin.page_hits(slug) <= 2, (slug, origin.page_hits(slug))


# ---------------------------------------------------------------- 3. a poison job

_WRAPPER = '''\
"""provenance, with verify_post replaced by one that kills the process on the post "poison"."""
import os
import sys

import service.pipeline.verify
import workers.jobs
from service.cli import main

_real = workers.jobs.verify_post


async def _poisoned(post, **kwargs):
    if post.id == "poison":
        os._exit(137)  # as an OOM kill would: no cleanup, no acknowledgement
    return await _real(post, **kwargs)


service.pipeline.verify.verify_post = _poisoned
workers.jobs.verify_post = _poisoned

if __name__ == "__main__":  # the extraction pool's processes import this file again
    sys.exit(main(sys.argv[1:]))
'''


@pytest.mark.timeout(120)
async def test_poison_job_is_dead_lettered_after_max_deliveries(
    tmp_path: Path, procs: Processes, redis_url: str, origin: SlowOrigin, prefix: str
) -> None:
    """F10: a post that kills its worker every time is delivered 3 times (3 crashes, each worker
    restarted by a supervisor), then goes to ``<prefix>:jobs:dead`` with its job and error; the
    batch gets a ``dead_lettered`` report at its place and every other report once."""
    wrapper = tmp_path / "wrapper.py"
    wrapper.write_text(_WRAPPER, encoding="utf-8")
    ids = [f"post-{i:02d}" for i in range(8)]
    ids.insert(3, "poison")
    lines = [post_line(post_id, origin, f"page-{post_id}") for post_id in ids]
    for post_id in ids:
        origin.add(f"page-{post_id}", delay_s=0.2)
    given, output, data = tmp_path / "in.jsonl", tmp_path / "out.jsonl", tmp_path / "data"
    batch = _write_input(given, lines)
    names = RedisNames(prefix)

    client = await procs.start("batch", *_batch(redis_url, given, output))
    async with _client(redis_url) as redis:

        async def enqueued() -> bool:
            return int(await redis.xlen(names.jobs)) >= len(ids)

        await until(enqueued, within=20, what="the batch to be enqueued")

    workers: list[Proc] = []
    deadline = time.monotonic() + 90
    while client.returncode is None:  # the supervisor: a dead worker is replaced, up to a bound
        if not workers or workers[-1].returncode is not None:
            assert len(workers) < 6, [w.returncode for w in workers]
            args = _worker(redis_url, data, "--concurrency", "1")
            workers.append(await procs.start(f"worker-{len(workers)}", *args, script=wrapper))
        waits = {
            asyncio.ensure_future(client.process.wait()),
            asyncio.ensure_future(workers[-1].process.wait()),
        }
        _, running = await asyncio.wait(waits, timeout=deadline - time.monotonic(),
                                        return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
        for task in running:
            task.cancel()
        assert time.monotonic() < deadline, "the batch did not finish"
    assert client.returncode == 0, client.err_tail()
    last = workers[-1]
    last.signal(signal.SIGTERM)
    assert await last.wait(15) == 0, last.err_tail()

    assert [w.returncode for w in workers[:-1]] == [137, 137, 137], [w.err_tail() for w in workers]
    expected: list[tuple[str | None, str]] = [(i, "verified") for i in ids]
    expected[3] = ("poison", "dead_lettered")
    check_reports(output, expected)
    assert origin.page_hits("page-poison") == 0  # it died before fetching, every time
    assert [e["deliveries"] for e in last.events("job_dead_lettered")] == [3]
    async with _client(redis_url) as redis:
        dead: Any = await redis.xrange(names.dead)
    assert len(dead) == 1, dead
    fields = {k.decode(): v.decode() for k, v in dead[0][1].items()}
    assert fields["job"] == f"{batch}:3"
    assert fields["deliveries"] == "3"
    assert "delivered 4 times without a result" in fields["error"]
    assert json.loads(json.loads(fields["fields"])["post"])["id"] == "poison"


# ---------------------------------------------------------------- 4. two batches at once


@pytest.mark.timeout(90)
async def test_two_batches_through_the_same_workers_do_not_mix(
    tmp_path: Path, procs: Processes, redis_url: str, origin: SlowOrigin, prefix: str
) -> None:
    """Two batches of different inputs, enqueued at once, served by the same two workers: each
    output holds exactly its own posts' reports, in its own input order."""
    inputs = {
        "left": [f"left-{i:02d}" for i in range(10)],
        "right": [f"right-{i:02d}" for i in range(7)],
    }
    for ids in inputs.values():
        for post_id in ids:
            origin.add(f"page-{post_id}", delay_s=0.1)
    data = tmp_path / "data"
    names = RedisNames(prefix)
    clients: dict[str, Proc] = {}
    for side, ids in inputs.items():
        given = tmp_path / f"{side}.jsonl"
        _write_input(given, [post_line(post_id, origin, f"page-{post_id}") for post_id in ids])
        clients[side] = await procs.start(
            f"batch-{side}", *_batch(redis_url, given, tmp_path / f"{side}.out")
        )
    async with _client(redis_url) as redis:

        async def both_enqueued() -> bool:
            return int(await redis.xlen(names.jobs)) >= sum(len(ids) for ids in inputs.values())

        await until(both_enqueued, within=20, what="both batches to be enqueued")
    workers = [
        await procs.start(f"worker-{n}", *_worker(redis_url, data, "--burst", "--concurrency", "3"))
        for n in range(2)
    ]
    for client in clients.values():
        await _finished(client, workers, within=60)
    for worker in workers:
        assert await worker.wait(30) == 0, worker.err_tail()

    for side, ids in inputs.items():
        reports = check_reports(tmp_path / f"{side}.out", [(post_id, "verified") for post_id in ids])
        for post_id, report in zip(ids, reports, strict=True):
            assert [s["url"] for s in report["sources"]] == [origin.url(f"page-{post_id}")]
    assert sum(_summary(w)[0] for w in workers) == sum(len(ids) for ids in inputs.values())


# ---------------------------------------------------------------- 5. SIGTERM drain


@pytest.mark.timeout(90)
async def test_sigterm_drains_finishes_short_jobs_and_hands_back_long_ones(
    tmp_path: Path, procs: Processes, redis_url: str, origin: SlowOrigin, prefix: str
) -> None:
    """F5: worker A gets SIGTERM with two jobs running. The one that ends within the drain grace
    (5 s) is finished by A; the one that would not is handed back. A exits 0 within grace + 3 s;
    worker B does the handed-back job; the batch gets every report once, in input order."""
    origin.add("page-quick", delay_s=1.5)
    origin.add("page-slow", first_delay_s=30.0)  # slow for A only: B's fetch answers at once
    origin.add("page-later", delay_s=0.0)
    ids = ["quick", "slow", "later"]
    given, output, data = tmp_path / "in.jsonl", tmp_path / "out.jsonl", tmp_path / "data"
    batch = _write_input(given, [post_line(i, origin, f"page-{i}") for i in ids])
    names = RedisNames(prefix)

    client = await procs.start("batch", *_batch(redis_url, given, output))
    worker_a = await procs.start(
        "worker-a", *_worker(redis_url, data, "--name", "worker-a", "--concurrency", "2")
    )

    async def both_fetching() -> bool:
        return origin.page_hits("page-quick") >= 1 and origin.page_hits("page-slow") >= 1

    await until(both_fetching, within=30, what="worker A to be fetching both pages")
    worker_a.signal(signal.SIGTERM)
    stopped_at = time.monotonic()
    assert await worker_a.wait(5 + 3) == 0, worker_a.err_tail()
    assert time.monotonic() - stopped_at < 5 + 3
    assert [e["job_id"] for e in worker_a.events("job_done")] == [f"{batch}:0"]
    assert len(worker_a.events("job_handed_back")) == 1
    draining = worker_a.events("worker_draining")
    assert [e["running"] for e in draining] == [2]

    worker_b = await procs.start("worker-b", *_worker(redis_url, data, "--name", "worker-b", "--burst"))
    await _finished(client, [worker_b], within=60)
    assert await worker_b.wait(30) == 0, worker_b.err_tail()
    check_reports(output, [(i, "verified") for i in ids])
    assert sorted(_job_ids(worker_b)) == [f"{batch}:1", f"{batch}:2"]
    [taken_over] = [e for e in worker_b.events("job_done") if e["job_id"] == f"{batch}:1"]
    assert taken_over["deliveries"] == 2
    assert taken_over["seconds"] < 5, "B waited for the source lease A left behind"
    assert _summary(worker_b)[2] == 1  # the handed-back job, taken over at once
    async with _client(redis_url) as redis:
        assert await redis.xlen(names.dead) == 0


# ---------------------------------------------------------------- 6. worker --check


@pytest.mark.timeout(60)
async def test_worker_check_follows_the_heartbeat(
    tmp_path: Path, procs: Processes, redis_url: str, prefix: str
) -> None:
    """``provenance worker --check --name N`` exits 0 while worker N runs; non-zero once it stopped
    (SIGTERM: heartbeat deleted) and once it was SIGKILLed (heartbeat expired after 3 beats)."""
    data = tmp_path / "data"

    async def check(name: str) -> int:
        probe = await procs.start(f"check-{name}", "worker", "--redis", redis_url, "--check", "--name", name)
        return await probe.wait(20)

    for name, stop in (("stopped", signal.SIGTERM), ("killed", signal.SIGKILL)):
        worker = await procs.start(f"worker-{name}", *_worker(redis_url, data, "--name", name))

        async def alive(name: str = name) -> bool:
            return await check(name) == 0

        await until(alive, within=20, what=f"worker {name} to report alive")
        assert await check(name) == 0
        assert await check(f"{name}-other") != 0  # another name has no heartbeat
        worker.signal(stop)
        await worker.wait(15)
        if stop == signal.SIGTERM:
            assert worker.returncode == 0
            assert await check(name) != 0  # deleted at once on a clean stop
        else:

            async def gone(name: str = name) -> bool:
                return await check(name) != 0

            started = time.monotonic()
            await until(gone, within=10, what=f"worker {name}'s heartbeat to expire")
            assert time.monotonic() - started < 0.5 * 3 + 3


# ---------------------------------------------------------------- 7. resume a killed batch client


@pytest.mark.timeout(90)
async def test_rerun_after_killed_client_finishes_without_redoing_posts(
    tmp_path: Path, procs: Processes, redis_url: str, origin: SlowOrigin, prefix: str
) -> None:
    """A batch client SIGKILLed part-way, then run again on the same input and output, finishes
    the batch: every report once, in input order; no post enqueued or processed twice (each page
    fetched once, the worker's ``job_done`` count equals the number of posts)."""
    ids = [f"post-{i:02d}" for i in range(14)]
    for post_id in ids:
        origin.add(f"page-{post_id}", delay_s=0.5)
    lines = [post_line(post_id, origin, f"page-{post_id}") for post_id in ids]
    lines.insert(2, "{not json")
    given, output, data = tmp_path / "in.jsonl", tmp_path / "out.jsonl", tmp_path / "data"
    batch = _write_input(given, lines)
    names = RedisNames(prefix)

    first = await procs.start("batch-1", *_batch(redis_url, given, output))
    worker = await procs.start("worker", *_worker(redis_url, data, "--name", "worker", "--concurrency", "2"))
    async with _client(redis_url) as redis:

        async def part_done() -> bool:
            done = int(await redis.scard(names.done(batch)))
            assert done < len(ids), "the batch finished before its client could be killed"
            return done >= 4

        await until(part_done, within=40, what="the first results")
        first.signal(signal.SIGKILL)
        assert await first.wait(10) == -signal.SIGKILL
        queued_at_kill = int(await redis.scard(names.queued(batch)))
    assert queued_at_kill == len(ids)
    kept = len(read_reports(output)) if output.exists() else 0

    second = await procs.start("batch-2", *_batch(redis_url, given, output))
    await _finished(second, [worker], within=60)
    worker.signal(signal.SIGTERM)
    assert await worker.wait(15) == 0, worker.err_tail()

    expected: list[tuple[str | None, str]] = [(i, "verified") for i in ids]
    expected.insert(2, (None, "bad_json"))
    check_reports(output, expected)
    if kept:
        assert f"{kept} reports already in" in second.err()
    assert len(_job_ids(worker)) == len(ids)
    assert len(set(_job_ids(worker))) == len(ids)
    assert all(origin.page_hits(f"page-{i}") == 1 for i in ids), origin.hits


# ---------------------------------------------------------------- 8. the batch's budget


@pytest.mark.timeout(120)
async def test_the_batch_budget_holds_through_real_workers_and_exits_3(
    tmp_path: Path, procs: Processes, redis_url: str, origin: SlowOrigin
) -> None:
    """``provenance batch --redis --batch-budget 4`` with one worker verifying one post at a time,
    each page taking 1.5 s: the posts the worker picks up past the deadline get ``budget_exhausted``
    error reports without being fetched, every line is reported in input order, and the client
    exits 3 saying how many posts were not started."""
    ids = [f"p{i}" for i in range(6)]
    for post_id in ids:
        origin.add(f"page-{post_id}", delay_s=1.5)
    given, output = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _write_input(given, [post_line(post_id, origin, f"page-{post_id}") for post_id in ids])
    worker = await procs.start("worker", *_worker(redis_url, tmp_path / "data", "--concurrency", "1"))
    client = await procs.start("batch", *_batch(redis_url, given, output), "--batch-budget", "4")
    assert await client.wait(90) == 3, client.err_tail()
    worker.signal(signal.SIGTERM)
    reports = read_reports(output)
    assert [r["id"] for r in reports] == ids
    codes = [(r.get("error") or {}).get("code") for r in reports]
    assert codes[-1] == "budget_exhausted"
    not_started = codes.count("budget_exhausted")
    assert f"{not_started} posts not started" in client.err()
    assert sum(origin.page_hits(f"page-{post_id}") for post_id in ids) <= len(ids) - not_started + 1
