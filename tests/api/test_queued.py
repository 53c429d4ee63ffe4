"""The API with Redis: verifications run on queue workers (a worker in this process, the real
pipeline replaying the seed WARC), any API process answers for any job, jobs survive an API
restart, progress streams from the worker, keys live in Redis, batches go through the queue."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import jsonschema
import redis as blocking_redis
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from service.api import keys
from service.api.app import create_app
from service.api.credentials import RedisKeyStore
from service.pipeline import open_deps
from service.pipeline.report.schema import report_schema
from service.pipeline.streams import JobMessage, RedisNames, ResultMessage
from service.settings import QueueSettings, Settings
from tests.api.conftest import SEED_POST, SEED_POSTED_AT, seed_settings
from tests.api.test_app import _events, assert_seed_events
from workers.jobs import dead_letter_result, dead_report, finish_api_job, run_api_job, run_job
from workers.runtime import Worker

Shared = tuple[Redis, RedisNames]
Client = TestClient[Any, Any]
REPORTS = jsonschema.Draft202012Validator(report_schema())
QUEUE = QueueSettings(lease_s=5, block_s=0.05, heartbeat_s=0.2)


def _settings(tmp_path: Path, names: RedisNames, **api: Any) -> Settings:
    base = seed_settings(tmp_path, **api)
    return replace(base, redis_url="redis://127.0.0.1:6379/0", redis_prefix=names.prefix, queue=QUEUE)


@asynccontextmanager
async def _api(settings: Settings) -> AsyncIterator[Client]:
    client = TestClient(TestServer(create_app(settings), host="127.0.0.1"))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


@asynccontextmanager
async def _worker(
    redis: Redis, settings: Settings, *, handled: list[str] | None = None
) -> AsyncIterator[Worker]:
    """A queue worker on the real pipeline, as ``provenance worker`` wires it."""
    names = RedisNames(settings.redis_prefix)
    async with open_deps(settings, shared=redis) as deps:

        async def handle(message: JobMessage) -> ResultMessage:
            if handled is not None:
                handled.append(message.job)
            if message.job:
                return await run_api_job(message, deps, redis=redis, names=names, timeout_s=60,
                                         ttl_s=settings.api.job_ttl_s, worker="w")  # fmt: skip
            return await run_job(message, deps, timeout_s=60, worker="w")

        async def dead(message: JobMessage, deliveries: int) -> ResultMessage:
            if message.job:
                await finish_api_job(redis, names, message, dead_report(message, deliveries), ttl_s=60)
            return dead_letter_result(message, deliveries, worker="w")

        worker = Worker(redis, names, settings.queue, handle=handle, dead_letter=dead, name="w")
        await worker.ensure_group()
        stop = asyncio.Event()
        running = asyncio.ensure_future(worker.run(stop=stop))
        try:
            yield worker
        finally:
            stop.set()
            await running


def _seed_body(**extra: str) -> dict[str, str]:
    return {"text": SEED_POST, "posted_at": SEED_POSTED_AT, **extra}


async def test_verify_runs_on_a_worker_and_answers_the_same_report(
    shared_redis: Shared, tmp_path: Path
) -> None:
    """The report a worker made is the report the in-process API makes (when aside)."""
    redis, names = shared_redis
    settings = _settings(tmp_path, names)
    handled: list[str] = []
    async with _worker(redis, settings, handled=handled), _api(settings) as client:
        resp = await client.post("/v1/verify", json=_seed_body(id="seed"))
        assert resp.status == 200
        queued = await resp.json()
    async with _api(replace(settings, redis_url=None)) as local:
        here = await (await local.post("/v1/verify", json=_seed_body(id="seed"))).json()
    REPORTS.validate(queued)
    assert len(handled) == 1
    assert handled[0]
    queued.pop("checked_at")
    here.pop("checked_at")
    assert queued == here


async def test_progress_streams_from_the_worker_and_resumes(shared_redis: Shared, tmp_path: Path) -> None:
    """Events numbered from 1 as the worker announces them, then the report; Last-Event-ID resumes."""
    redis, names = shared_redis
    settings = _settings(tmp_path, names)
    async with _worker(redis, settings), _api(settings) as client:
        job = (await (await client.post("/v1/verify?wait=false", json=_seed_body())).json())["job"]
        events = _events(await (await client.get(f"/v1/jobs/{job}/events")).text())
        assert_seed_events(events)
        resumed = _events(
            await (await client.get(f"/v1/jobs/{job}/events", headers={"Last-Event-ID": "10"})).text()
        )
        assert [i for i, _, _ in resumed] == list(range(11, len(events) + 1))
        html = await client.get(f"/v1/jobs/{job}/report.html")
        assert html.status == 200
        assert "VERIFIED" in (await html.text()).upper()


async def test_a_job_survives_an_api_restart(shared_redis: Shared, tmp_path: Path) -> None:
    """Accepted by one API process with no worker running; done by a worker after that process
    stopped; another API process answers with the report."""
    redis, names = shared_redis
    settings = _settings(tmp_path, names)
    async with _api(settings) as first:
        resp = await first.post("/v1/verify?wait=false", json=_seed_body())
        assert resp.status == 202
        job = (await resp.json())["job"]
        assert (await (await first.get(f"/v1/jobs/{job}")).json())["status"] == "queued"
    async with _worker(redis, settings), _api(settings) as second:
        for _ in range(500):
            status = await (await second.get(f"/v1/jobs/{job}")).json()
            if status["status"] == "done":
                break
            await asyncio.sleep(0.02)
        assert status["status"] == "done"
        assert status["report"]["verdict"] == "verified"
        assert status["text"] == SEED_POST


async def test_a_job_given_up_on_fails_with_its_reason(shared_redis: Shared, tmp_path: Path) -> None:
    """A job whose workers kept dying: the API reports it failed, dead-lettered, not forever queued."""
    redis, names = shared_redis
    settings = _settings(tmp_path, names)
    async with _api(settings) as client:
        job = (await (await client.post("/v1/verify?wait=false", json=_seed_body())).json())["job"]
        message = JobMessage("api", 0, {"text": SEED_POST}, line=1, job=job)
        await finish_api_job(redis, names, message, dead_report(message, 5), ttl_s=60)
        status = await (await client.get(f"/v1/jobs/{job}")).json()
        assert status["status"] == "failed"
        assert status["error"]["code"] == "dead_lettered"
        events = _events(await (await client.get(f"/v1/jobs/{job}/events")).text())
        assert events[-1][1] == "error"
        assert await redis.zcard(names.api_running("ip:127.0.0.1")) == 0  # no longer counted


async def test_keys_live_in_redis_and_a_revoked_key_stops_working(
    shared_redis: Shared, tmp_path: Path
) -> None:
    """A key made by `provenance keys` (a blocking client) works on the API; revoked, it is refused
    after the API's next refresh; keys never touch the data folder."""
    redis, names = shared_redis
    settings = _settings(tmp_path, names, host="0.0.0.0", open_access=False, allow_open_public=False)
    cli_client = blocking_redis.Redis.from_url("redis://127.0.0.1:6379/0", protocol=2)
    store = RedisKeyStore(names, cli_client)
    try:
        key, token = store.create("ci")
        async with _api(settings) as client:
            assert (await client.get("/v1/sources?url=https://example.org/")).status == 401
            auth = {"Authorization": f"Bearer {token}"}
            assert (await client.get("/v1/sources?url=https://example.org/", headers=auth)).status == 404
            store.revoke(key.id)
            api_store = client.app[keys.KEYSTORE]
            assert isinstance(api_store, RedisKeyStore)
            await api_store.refresh(redis)
            refused = await client.get("/v1/sources?url=https://example.org/", headers=auth)
            assert refused.status == 401
        assert [k.id for k in store.all_keys()] == [key.id]
        assert not (tmp_path / "data" / "api-keys.json").exists()
    finally:
        store.close()


async def test_an_api_batch_goes_through_the_workers(shared_redis: Shared, tmp_path: Path) -> None:
    """POST /v1/batches with Redis: the workers verify, the API hands back the reports in order."""
    redis, names = shared_redis
    settings = _settings(tmp_path, names)
    lines = [json.dumps({"id": f"p{i}", "text": SEED_POST}) for i in range(3)] + ["{broken"]
    handled: list[str] = []
    async with _worker(redis, settings, handled=handled), _api(settings) as client:
        resp = await client.post("/v1/batches", data="\n".join(lines).encode())
        batch = (await resp.json())["batch"]
        body = ""
        for _ in range(500):
            answer = await client.get(f"/v1/batches/{batch}")
            if answer.content_type == "application/x-ndjson":
                body = await answer.text()
                break
            await asyncio.sleep(0.02)
    reports = [json.loads(line) for line in body.splitlines()]
    assert [r["id"] for r in reports] == ["p0", "p1", "p2", None]
    assert [r["verdict"] for r in reports[:3]] == ["verified"] * 3
    assert reports[3]["error"]["code"] == "bad_json"
    assert len(handled) == 3  # the three posts ran on the worker; the broken line never left
