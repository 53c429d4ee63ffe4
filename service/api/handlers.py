"""Thin handlers: validate, call the pipeline, answer JSON or a stream (style: no domain logic)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from dataclasses import replace
from importlib import resources
from typing import Any

import structlog
from aiohttp import web

from service.api import keys
from service.api.jobs import Job, JobStatus, run_job
from service.api.queued import END, QueuedJob, QueuedJobs
from service.api.schemas import (
    CHECK_FIELDS,
    VERIFY_FIELDS,
    RequestError,
    check_fields,
    flag,
    json_object,
    read_body,
    rfc3339_for_python,
)
from service.pipeline import (
    EventKind,
    EventSink,
    InputError,
    PipelineError,
    ProgressEvent,
    Report,
    normalize_url,
    post_from_mapping,
    render_html,
    run_batch,
    verify_post,
)
from service.pipeline.extract import ExtractorPool
from service.pipeline.judge import judge_passage
from service.pipeline.models import FAITHFUL_STATUSES, Citation, Passage, SourceStatus
from service.pipeline.sources import known_source, read_source, read_supplied_page

log = structlog.get_logger(__name__)

STATIC = resources.files("service.api") / "static"


def owner(request: web.Request) -> str:
    """Whose request this is: the API key's id, or the client address in open mode."""
    key_id = request.get(keys.KEY_ID)
    return str(key_id) if key_id else f"ip:{request.remote or '?'}"


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda d: json.dumps(d, ensure_ascii=False))


async def _slot(request: web.Request) -> None:
    limit = request.app[keys.SETTINGS].api.max_jobs_per_key
    queued = request.app.get(keys.QUEUED)
    running = request.app[keys.JOBS].running(owner(request))
    if queued is not None:
        running += await queued.running(owner(request))
    if running >= limit:
        raise RequestError(429, "too_many_jobs", f"{limit} verifications are already running for this key",
                           headers={"Retry-After": "5"})  # fmt: skip


def _job_sink(request: web.Request, job: Job) -> EventSink:
    metrics = request.app[keys.METRICS]

    def sink(event: ProgressEvent) -> None:
        if event.kind is EventKind.SOURCE_READ:
            metrics.sources.labels(status=str(event.data.get("status"))).inc()
        job.announce(event)

    return sink


async def verify(request: web.Request) -> web.Response:
    """POST /v1/verify: the report when done within the wait, else 202 and the job's id."""
    api = request.app[keys.SETTINGS].api
    data = json_object(await read_body(request, api.max_body_bytes))
    check_fields(data, VERIFY_FIELDS)
    if isinstance(data.get("posted_at"), str):
        data["posted_at"] = rfc3339_for_python(data["posted_at"])
    try:
        post = post_from_mapping(data, max_chars=request.app[keys.SETTINGS].post.max_chars)
    except InputError as exc:
        raise RequestError(400, "bad_input", str(exc)) from exc
    await _slot(request)
    queued = request.app.get(keys.QUEUED)
    if queued is not None:
        return await _verify_queued(request, queued, data, post.text, post.format.value)
    store = request.app[keys.JOBS]
    job = store.new_job(owner(request), post.text, post.format.value)
    deps = replace(request.app[keys.DEPS], events=_job_sink(request, job))
    metrics = request.app[keys.METRICS]

    async def work() -> Report:
        report = await verify_post(post, deps=deps)
        metrics.verdicts.labels(verdict=report.verdict.value).inc()
        return report

    job.task = asyncio.get_running_loop().create_task(run_job(job, work, store))
    accepted = {"job": job.id, "events": f"/v1/jobs/{job.id}/events", "status_url": f"/v1/jobs/{job.id}"}
    if not flag(request, "wait", True):
        return _json(accepted, status=202)
    try:
        await asyncio.wait_for(asyncio.shield(job.task), api.verify_wait_s)
    except TimeoutError:
        return _json(accepted, status=202)
    if job.report is None:
        raise RequestError(500, "internal_error", (job.error or {}).get("message", "verification failed"))
    return _json(job.report.to_dict())


def _accepted(job_id: str) -> dict[str, str]:
    return {"job": job_id, "events": f"/v1/jobs/{job_id}/events", "status_url": f"/v1/jobs/{job_id}"}


async def _verify_queued(
    request: web.Request, queued: QueuedJobs, data: dict[str, Any], text: str, fmt: str
) -> web.Response:
    """The verification on a queue worker; the answer as the in-process path gives it."""
    job_id = await queued.create(owner(request), data, text, fmt)
    if not flag(request, "wait", True):
        return _json(_accepted(job_id), status=202)
    job = await queued.finished(job_id, request.app[keys.SETTINGS].api.verify_wait_s)
    if job is None or not job.finished:
        return _json(_accepted(job_id), status=202)
    if job.report is None:
        raise RequestError(
            500, "internal_error", str((job.error or {}).get("message", "verification failed"))
        )
    request.app[keys.METRICS].verdicts.labels(verdict=str(json.loads(job.report).get("verdict"))).inc()
    return web.Response(text=job.report, content_type="application/json")


_UNKNOWN_JOB = "no such job (finished jobs are kept for a while, then dropped)"


def _job(request: web.Request) -> Job:
    job = request.app[keys.JOBS].job(request.match_info["id"])
    if job is None:
        raise RequestError(404, "unknown_job", _UNKNOWN_JOB)
    return job


async def _queued_job(request: web.Request) -> QueuedJob | None:
    queued = request.app.get(keys.QUEUED)
    if queued is None:
        return None
    job = await queued.get(request.match_info["id"])
    if job is None:
        raise RequestError(404, "unknown_job", _UNKNOWN_JOB)
    return job


async def job_status(request: web.Request) -> web.Response:
    """GET /v1/jobs/{id}: the job's state and, when done, its report."""
    queued = await _queued_job(request)
    return _json(queued.to_dict() if queued is not None else _job(request).to_dict())


async def job_report_html(request: web.Request) -> web.Response:
    """GET /v1/jobs/{id}/report.html: the self-contained HTML report, as a download."""
    queued = await _queued_job(request)
    if queued is not None:
        if queued.html is None:
            raise RequestError(409, "not_done", f"the job is {queued.status}")
        html = queued.html
    else:
        job = _job(request)
        if job.report is None:
            raise RequestError(409, "not_done", f"the job is {job.status.value}")
        html = render_html(job.report)
    return web.Response(
        text=html, content_type="text/html",
        headers={"Content-Disposition": f'attachment; filename="provenance-{request.match_info["id"]}.html"'},
    )  # fmt: skip


def _sse(kind: str, data: Any, event_id: int | None = None) -> bytes:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


async def job_events(request: web.Request) -> web.StreamResponse:
    """GET /v1/jobs/{id}/events: server-sent events as they happen, then the report.

    Events are numbered from 1; ``Last-Event-ID`` (or ``?last_event_id=``) resumes after one.
    """
    queued = await _queued_job(request)
    job = _job(request) if queued is None else None
    keepalive = request.app[keys.SETTINGS].api.keepalive_s
    raw = request.headers.get("Last-Event-ID") or request.query.get("last_event_id") or "0"
    cursor = int(raw) if raw.isdigit() else 0
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache",
                                           "X-Accel-Buffering": "no"})  # fmt: skip
    await response.prepare(request)
    try:
        if job is not None:
            await _stream_local(response, job, cursor, keepalive)
        else:
            await _stream_queued(request, response, request.match_info["id"], cursor, keepalive)
    except (ConnectionResetError, asyncio.CancelledError):
        log.info("sse_client_gone", job_id=request.match_info["id"])
        raise
    await response.write_eof()
    return response


async def _stream_local(response: web.StreamResponse, job: Job, cursor: int, keepalive: float) -> None:
    while True:
        while cursor < len(job.events):
            kind, data = job.events[cursor]
            cursor += 1
            await response.write(_sse(kind, data, cursor))
        if job.finished:
            if job.report is not None:
                await response.write(_sse("report", job.report.to_dict(), cursor + 1))
            else:
                await response.write(_sse("error", {"error": job.error}, cursor + 1))
            return
        if not await job.changed(keepalive):
            await response.write(b": keep-alive\n\n")


async def _stream_queued(
    request: web.Request, response: web.StreamResponse, job_id: str, cursor: int, keepalive: float
) -> None:
    """The worker's events as it writes them to Redis, then the outcome from the job's hash."""
    queued = request.app[keys.QUEUED]
    ended = False
    while not ended:
        sent = False
        async for number, kind, data in queued.events(job_id, after=cursor, wait_s=keepalive):
            if kind == END:
                ended = True
                break
            cursor, sent = number, True
            await response.write(_sse(kind, data, number))
        if not (ended or sent):
            current = await queued.get(job_id)
            ended = current is None or current.finished  # finished before its end mark was read
            if not ended:
                await response.write(b": keep-alive\n\n")
    job = await queued.get(job_id)
    if job is not None and job.report is not None:
        # The report goes as the worker wrote it (JSON already): not parsed and encoded again.
        await response.write(f"id: {cursor + 1}\nevent: report\ndata: {job.report}\n\n".encode())
    else:
        await response.write(_sse("error", {"error": job.error if job else None}, cursor + 1))


async def check(request: web.Request) -> web.Response:
    """POST /v1/check: one quote against one page (and the page the client sees, if sent)."""
    app = request.app
    api = app[keys.SETTINGS].api
    data = json_object(await read_body(request, api.max_body_bytes + api.max_check_html_bytes))
    check_fields(data, CHECK_FIELDS)
    quote, url, html = str(data["quote"]), str(data["url"]), data.get("html")
    html_bytes = html.encode("utf-8") if isinstance(html, str) else None
    client_sha = hashlib.sha256(html_bytes).hexdigest() if html_bytes is not None else None
    cache = app[keys.CHECK_CACHE]
    cache_key = (quote, url, client_sha)  # the URL as sent: a hit needs no normalising
    cached = cache.get(cache_key)
    if cached is not None:
        cache.move_to_end(cache_key)
        app[keys.METRICS].check_hits.inc()
        return web.Response(body=cached, content_type="application/json")
    app[keys.METRICS].check_misses.inc()
    try:
        key = normalize_url(url)
    except PipelineError:
        key = url  # not a URL anyone can read: the quote is unverifiable, and says why
    answer = await _judge_one(request, quote, url, key, html_bytes, client_sha)
    body = json.dumps(answer, ensure_ascii=False).encode("utf-8")
    cache[cache_key] = body
    if len(cache) > api.check_cache_size:
        cache.popitem(last=False)
    return web.Response(body=body, content_type="application/json")


async def _judge_one(
    request: web.Request, quote: str, url: str, key: str, html: bytes | None, client_sha: str | None
) -> dict[str, Any]:
    deps = request.app[keys.DEPS]
    settings = deps.settings.align
    passage = Passage(text=quote, span=(0, len(quote)), explicit=True, cited_url=url)
    fetched_source = await read_source(Citation(url=url, key=key, span=(0, len(url))), None, deps)
    fetched = judge_passage(passage, fetched_source, [], settings=settings)
    answer: dict[str, Any] = {**fetched.to_dict(), "evidence": "fetched", "client_sha256": client_sha,
                              "source_status": fetched_source.report.status.value}  # fmt: skip
    if html is None or fetched.status in FAITHFUL_STATUSES:
        return answer
    client_source = await read_supplied_page(url, html, deps)
    if client_source.report.status is not SourceStatus.OK:
        return answer
    client = judge_passage(passage, client_source, [], settings=settings)
    if client.status in FAITHFUL_STATUSES or not fetched_source.readable:
        return {**client.to_dict(), "evidence": "client", "client_sha256": client_sha,
                "source_status": fetched_source.report.status.value}  # fmt: skip
    return answer


async def sources(request: web.Request) -> web.Response:
    """GET /v1/sources?url=: what is known of a URL (read by this server, stored as evidence)."""
    url = request.query.get("url")
    if url is None:
        raise RequestError(400, "missing_field", "'url' is required")
    try:
        key = normalize_url(url)
    except PipelineError:
        raise RequestError(
            404, "unknown_source", "not a URL that can be read, so nothing is known of it"
        ) from None
    deps = request.app[keys.DEPS]
    read = known_source(key, deps)
    captures = []
    if deps.store is not None:
        found = await asyncio.to_thread(deps.store.captures, key)
        captures = [{**deps.store.entry(c).to_dict(), "url": c.url, "status": c.status} for c in found]
    if read is None and not captures:
        raise RequestError(404, "unknown_source", "nothing is known of this URL here yet")
    return _json({"url": url, "key": key, "source": read.report.to_dict() if read else None,
                  "warc_captures": captures})  # fmt: skip


async def create_batch(request: web.Request) -> web.Response:
    """POST /v1/batches: NDJSON posts in, ``{"batch": id}`` out; the batch runs in the background."""
    app = request.app
    settings = app[keys.SETTINGS]
    body = await read_body(request, settings.api.max_batch_bytes)
    lines = [line for line in body.split(b"\n") if line.strip()]
    if not lines:
        raise RequestError(400, "empty_batch", "no post in the body (one JSON object per line)")
    await _slot(request)
    batch = app[keys.JOBS].new_batch(owner(request), len(lines))
    deps = app[keys.DEPS]

    def write(line: str) -> None:
        report = json.loads(line)
        batch.flagged += report.get("verdict") == "flagged"
        batch.errors += report.get("error") is not None
        batch.results.append(line.rstrip("\n"))

    queued = app.get(keys.QUEUED)

    async def work() -> None:
        try:
            if queued is not None:  # on the queue workers; the reports collected here
                await queued.run_batch(batch.id, lines, write)
            else:
                await run_batch(lines, write, deps=deps, concurrency=settings.concurrency)
            batch.status = JobStatus.DONE
        except Exception as exc:
            log.exception("batch_failed", batch_id=batch.id)
            batch.status, batch.error = (
                JobStatus.FAILED,
                {"code": "internal_error", "message": type(exc).__name__},
            )
        finally:
            batch.finished_at = time.monotonic()
            app[keys.JOBS].ended(batch.owner)

    batch.task = asyncio.get_running_loop().create_task(work())
    return _json({"batch": batch.id, "status_url": f"/v1/batches/{batch.id}"}, status=202)


async def batch_status(request: web.Request) -> web.StreamResponse:
    """GET /v1/batches/{id}: progress while it runs, then the reports as NDJSON in input order."""
    batch = request.app[keys.JOBS].batch(request.match_info["id"])
    if batch is None:
        raise RequestError(404, "unknown_batch", "no such batch")
    if batch.status is not JobStatus.DONE:
        return _json(batch.progress())
    body = "".join(line + "\n" for line in batch.results)
    return web.Response(text=body, content_type="application/x-ndjson")


async def healthz(request: web.Request) -> web.Response:
    """Liveness: the process answers."""
    return _json({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Readiness: the extraction pool is alive, and Redis answers when one is configured."""
    app = request.app
    extractor = app[keys.DEPS].extractor
    if isinstance(extractor, ExtractorPool) and not extractor.alive:
        raise RequestError(503, "not_ready", "the extraction pool is not running")
    if app[keys.SETTINGS].redis_url is not None and not await app[keys.LIMITER].storage.check():
        raise RequestError(503, "not_ready", "Redis does not answer")
    return _json({"status": "ready"})


async def metrics(request: web.Request) -> web.Response:
    """Prometheus exposition."""
    body = request.app[keys.METRICS].render(request.app[keys.JOBS].counts())
    return web.Response(body=body, headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})


async def index(request: web.Request) -> web.Response:
    """The web page for people."""
    page = STATIC / "index.html"
    if not page.is_file():
        raise RequestError(404, "not_found", "the web page is not installed")
    return web.Response(text=page.read_text("utf-8"), content_type="text/html")
