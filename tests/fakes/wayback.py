"""A fake web.archive.org on loopback speaking the real protocol (dependencies.md §2, security.md §7).

Endpoints: ``POST /save`` (SPN2: form body, ``LOW key:secret``; every submission is logged with its
clock time), ``GET /save/status/{job_id}`` (pending for ``pending_polls`` polls, then success with a
14-digit timestamp, which also stores the capture), ``GET /save/status/user``, ``GET /cdx/search/cdx``
(``output=json`` with a header row; from/to/filter/limit/closest/sort), ``GET /wayback/available``
and ``GET /web/<ts>id_/<url>`` (raw bytes with ``X-Archive-Src``; a 302 to the nearest capture when the
timestamp is not exact). Failures are scripted: ``script`` holds the answers of the next submissions
("429", "401", "html", an SPN ``status_ext`` answered inside HTTP 200, or "job" for a normal answer).
"""

from __future__ import annotations

import hashlib
import re
import time
from base64 import b32encode
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer
from yarl import URL

TS = "%Y%m%d%H%M%S"
CDX_HEADER = ["urlkey", "timestamp", "original", "mimetype", "statuscode", "digest", "length"]
_REPLAY = re.compile(r"^/web/(\d{1,14})([a-z]{2}_)?/(.*)$", re.DOTALL)


def key(url: str) -> str:
    """Stored and requested URLs compare after yarl's normalisation."""
    return str(URL(url))


def surt(url: str) -> str:
    u = URL(url)
    host = ",".join(reversed((u.host or "").removeprefix("www.").split(".")))
    return f"{host}){u.raw_path_qs}".lower()


@dataclass
class Submission:
    url: str
    at: float
    authorization: str | None
    form: dict[str, str]
    answer: str


@dataclass
class Job:
    job_id: str
    url: str
    error: str | None = None  # a status_ext the job ends with
    original_job_id: str | None = None
    polls: int = 0
    timestamp: str | None = None


@dataclass
class StoredCapture:
    url: str
    timestamp: str
    body: bytes
    status: int = 200
    mime: str = "text/html"
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        return b32encode(hashlib.sha1(self.body).digest()).decode()  # the CDX digest is SHA-1

    def row(self) -> list[str]:
        return [surt(self.url), self.timestamp, self.url, self.mime, str(self.status), self.digest,
                str(len(self.body))]  # fmt: skip


def _pad(ts: str, fill: str) -> str:
    return ts + fill * (14 - len(ts))


def _filters(specs: list[str]) -> Callable[[StoredCapture], bool]:
    parsed = []
    for spec in specs:
        neg = spec.startswith("!")
        name, _, pattern = spec.lstrip("!").partition(":")
        parsed.append(
            (neg, {"statuscode": "status", "mimetype": "mime"}.get(name, name), re.compile(pattern))
        )

    def keep(c: StoredCapture) -> bool:
        return all(bool(p.fullmatch(str(getattr(c, attr, "")))) != neg for neg, attr, p in parsed)

    return keep


class FakeWayback:
    """State of the fake archive; ``serve_wayback`` runs it."""

    def __init__(
        self,
        *,
        now: Callable[[], float] = time.monotonic,
        utcnow: Callable[[], datetime] = lambda: datetime.now(UTC),
        pending_polls: int = 2,
        require_auth: bool = False,
        per_minute: int | None = None,
        max_active: int | None = None,
        retry_after: str | None = "30",
    ) -> None:
        self.now, self.utcnow = now, utcnow
        self.pending_polls, self.require_auth = pending_polls, require_auth
        self.per_minute, self.max_active, self.retry_after = per_minute, max_active, retry_after
        self.script: deque[str] = deque()
        self.job_errors: dict[str, str] = {}  # url -> status_ext its job ends with
        self.submissions: list[Submission] = []
        self.jobs: dict[str, Job] = {}
        self.captures: dict[str, list[StoredCapture]] = {}
        self.hits: Counter[str] = Counter()
        self.cdx_status: int | None = None  # answer CDX with this status (to test the fallback)
        self.base_url = ""

    # Setup ---------------------------------------------------------------------------------------

    def add_snapshot(
        self, url: str, timestamp: str, html: bytes | str, *, status: int = 200, mime: str = "text/html",
        headers: dict[str, str] | None = None,
    ) -> StoredCapture:  # fmt: skip
        body = html.encode() if isinstance(html, str) else html
        capture = StoredCapture(url, timestamp, body, status, mime, dict(headers or {}))
        self.captures.setdefault(key(url), []).append(capture)
        self.captures[key(url)].sort(key=lambda c: c.timestamp)
        return capture

    def add_job(self, url: str, *, job_id: str, original_job_id: str | None = None) -> Job:
        self.jobs[job_id] = Job(job_id, url, original_job_id=original_job_id)
        return self.jobs[job_id]

    def submission_times(self) -> list[float]:
        return [s.at for s in self.submissions]

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/save", self._save)
        app.router.add_get("/save/status/user", self._user)
        app.router.add_get("/save/status/{job_id}", self._status)
        app.router.add_get("/cdx/search/cdx", self._cdx)
        app.router.add_get("/wayback/available", self._available)
        app.router.add_get("/web/{rest:.*}", self._replay)
        return app

    # SPN2 ----------------------------------------------------------------------------------------

    def _active(self) -> int:
        return sum(1 for j in self.jobs.values() if j.timestamp is None and j.error is None)

    def _decide(self, request: web.Request) -> str:
        auth = request.headers.get("Authorization", "")
        if self.require_auth and not re.fullmatch(r"LOW [^:\s]+:\S+", auth):
            return "401"
        scripted = self.script.popleft() if self.script else "job"
        if scripted != "job":
            return scripted
        now = self.now()
        recent = sum(1 for s in self.submissions if now - 60 < s.at <= now)
        if self.per_minute is not None and recent > self.per_minute:
            return "429"
        if self.max_active is not None and self._active() >= self.max_active:
            return "user-session-limit"
        return "job"

    async def _save(self, request: web.Request) -> web.Response:
        self.hits["save"] += 1
        form = {k: str(v) for k, v in (await request.post()).items()}
        url = form.get("url", "")
        record = Submission(url, self.now(), request.headers.get("Authorization"), form, "")
        self.submissions.append(record)
        record.answer = answer = self._decide(request)
        if answer == "401":
            return web.Response(status=401, text="You need to be logged in to use Save Page Now.")
        if answer == "429":
            headers = {"Retry-After": self.retry_after} if self.retry_after else {}
            return web.Response(status=429, text="Too Many Requests", headers=headers)
        if answer == "html":
            return web.Response(text="<html>Service Unavailable</html>", content_type="text/html")
        if answer != "job":
            message = f"Capture failed: {answer}"
            return web.json_response({"status": "error", "status_ext": answer, "message": message})
        job_id = "spn2-" + hashlib.sha1(f"{url}#{len(self.jobs)}".encode()).hexdigest()
        self.jobs[job_id] = Job(job_id, url, error=None)
        if url in self.job_errors:
            self.jobs[job_id].error = self.job_errors[url]
        record.answer = job_id
        return web.json_response({"url": url, "job_id": job_id})

    async def _status(self, request: web.Request) -> web.Response:
        self.hits["status"] += 1
        job = self.jobs.get(request.match_info["job_id"])
        if job is None:
            return web.json_response({"status": "error", "status_ext": "error:not-found"}, status=404)
        job.polls += 1
        base: dict[str, Any] = {"job_id": job.job_id}
        if job.original_job_id:
            base["original_job_id"] = job.original_job_id
        if job.polls <= self.pending_polls:
            return web.json_response({**base, "status": "pending", "resources": []})
        if job.error is not None:
            return web.json_response({**base, "status": "error", "status_ext": f"error:{job.error}",
                                      "message": f"Job failed: {job.error}"})  # fmt: skip
        if job.timestamp is None:
            job.timestamp = self.utcnow().strftime(TS)
            self.add_snapshot(job.url, job.timestamp, f"<html><body>captured {job.url}</body></html>")
        done = {"status": "success", "original_url": job.url, "timestamp": job.timestamp, "duration_sec": 1.5}
        return web.json_response({**base, **done, "resources": []})

    async def _user(self, request: web.Request) -> web.Response:
        active = self._active()
        return web.json_response({"available": max(0, (self.max_active or 8) - active), "processing": active})

    # Lookups -------------------------------------------------------------------------------------

    def _find(self, url: str) -> list[StoredCapture]:
        return list(self.captures.get(key(url), []))

    async def _cdx(self, request: web.Request) -> web.Response:
        self.hits["cdx"] += 1
        if self.cdx_status is not None:
            return web.Response(status=self.cdx_status, text="CDX trouble")
        q = request.query
        rows = [c for c in self._find(q.get("url", "")) if _filters(q.getall("filter", []))(c)]
        rows = [c for c in rows if _pad(q.get("from", ""), "0") <= c.timestamp <= _pad(q.get("to", ""), "9")]
        if "closest" in q and q.get("sort") == "closest":
            target = int(_pad(q["closest"], "0"))
            rows.sort(key=lambda c: abs(int(c.timestamp) - target))
        limit = int(q.get("limit", "0") or "0")
        rows = rows[:limit] if limit > 0 else rows[limit:] if limit < 0 else rows
        if q.get("output") == "json":
            return web.json_response([CDX_HEADER, *(c.row() for c in rows)] if rows else [])
        return web.Response(text="".join(" ".join(c.row()) + "\n" for c in rows))

    async def _available(self, request: web.Request) -> web.Response:
        self.hits["available"] += 1
        url = request.query.get("url", "")
        found = [c for c in self._find(url) if c.status == 200]
        wanted = request.query.get("timestamp")
        if wanted:
            found.sort(key=lambda c: abs(int(c.timestamp) - int(_pad(wanted, "0"))))
        else:
            found.reverse()
        closest = {}
        if found:
            c = found[0]
            closest = {"closest": {"status": str(c.status), "available": True, "timestamp": c.timestamp,
                                   "url": f"http://web.archive.org/web/{c.timestamp}/{c.url}"}}  # fmt: skip
        return web.json_response({"url": url, "archived_snapshots": closest})

    async def _replay(self, request: web.Request) -> web.Response:
        self.hits["replay"] += 1
        match = _REPLAY.match(request.raw_path)
        if match is None:
            raise web.HTTPNotFound(text="not a replay URL")
        ts, flag, url = match.groups()
        captures = self._find(url)
        exact = [c for c in captures if c.timestamp == ts]
        if exact and flag == "id_":
            c = exact[0]
            when = datetime.strptime(c.timestamp, TS).replace(tzinfo=UTC)
            headers = {"X-Archive-Src": f"fake-{c.timestamp}.warc.gz",
                       "Memento-Datetime": format_datetime(when, usegmt=True), **c.headers}  # fmt: skip
            return web.Response(status=c.status, body=c.body, headers=headers, content_type=c.mime)
        if not captures:
            return web.Response(status=404, text="Wayback Machine has not archived that URL.")
        target = _pad(ts, "0")
        nearest = min(captures, key=lambda c: abs(int(c.timestamp) - int(target)))
        origin = f"{request.scheme}://{request.host}"
        return web.Response(
            status=302, headers={"Location": f"{origin}/web/{nearest.timestamp}{flag or ''}/{url}"}
        )


@asynccontextmanager
async def serve_wayback(fake: FakeWayback | None = None) -> AsyncIterator[FakeWayback]:
    """Run ``fake`` (or a default one) on 127.0.0.1 at a free port; ``fake.base_url`` points at it."""
    fake = fake or FakeWayback()
    server = TestServer(fake.app(), host="127.0.0.1", port=0)
    await server.start_server()
    fake.base_url = str(server.make_url("")).rstrip("/")
    try:
        yield fake
    finally:
        await server.close()
