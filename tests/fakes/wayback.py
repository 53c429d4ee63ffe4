"""A fake web.archive.org on loopback speaking the documented protocol (dependencies.md §2,
security.md §7; V. Banos's "Save Page Now 2 Public API Docs Draft", 2025-10-22; the wayback CDX
server README).

Save Page Now 2:
- ``POST /save`` needs ``Authorization: LOW <key>:<secret>`` (``require_auth``, on by default):
  without it, 401 "You need to be logged in to use Save Page Now." Every submission is logged with
  its clock time. Errors come the documented ways: inside HTTP 200 as ``{"status": "error",
  "status_ext": "error:<code>", "message": <the docs' text>}`` (``url_errors``/``host_errors`` at
  submission, ``job_errors`` when the job ends, or ``script``), HTTP 429 over ``per_minute``
  (with ``Retry-After``), ``error:user-session-limit`` over ``max_active`` running jobs,
  ``error:too-many-daily-captures`` for a URL captured ``per_url_daily`` times this UTC day, and
  HTTP 429 once the account's ``daily_limit`` is used up.
- ``if_not_archived_within`` (``"3d 5h 20m"``, ``"24h"`` or seconds; 45 min when absent) reuses a
  recent capture: the job succeeds at once with that capture's timestamp and the submission answer
  carries a ``message`` saying so.
- ``GET /save/status/{job_id}``: pending for ``pending_polls`` polls, then success with a 14-digit
  timestamp (which stores the capture) or the job's error. ``GET /save/status/user``:
  ``available``, ``processing``, ``daily_captures``, ``daily_captures_limit``.
- A new capture reaches CDX, availability and replay only ``index_lag_s`` later (clock seconds).

Lookups:
- ``GET /cdx/search/cdx``: ``output=json`` (header row) or text; ``from``/``to`` (prefixes padded),
  ``filter=[!]field:regex`` (full match, so ``statuscode:200`` drops revisits, whose status is
  ``-`` and mime ``warc/revisit``), ``closest`` + ``sort=closest`` (``closest_ignores_range``: the
  range is then not applied), ``limit=N`` (the first N rows). ``limit=-N`` behaves like the real
  servers, not the convenient way: ``limit_quirk="break"`` (the open-source server's reverse scan
  stops at the first row newer than ``to``, so any later capture empties the answer) or
  ``"stale_block"`` (a public report of the live service: the last rows of an older index block
  come back, years before the newest one before ``to``).
- ``GET /wayback/available`` and ``GET /web/<ts>id_/<url>`` (raw bytes with ``X-Archive-Src``; a
  302 to the nearest capture when the timestamp is not exact; a revisit replays its original's body).
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
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any, Literal

from aiohttp import web
from aiohttp.test_utils import TestServer
from yarl import URL

TS = "%Y%m%d%H%M%S"
CDX_HEADER = ["urlkey", "timestamp", "original", "mimetype", "statuscode", "digest", "length"]
REVISIT = "warc/revisit"
_REPLAY = re.compile(r"^/web/(\d{1,14})([a-z]{2}_)?/(.*)$", re.DOTALL)
_DELTA = re.compile(r"(\d+)\s*([dhms])")

# The docs' "Error codes" table: status_ext -> description (the message the fake answers with).
DOC_ERRORS = {
    "bad-gateway": "Bad Gateway for URL (HTTP status=502).",
    "bad-request": "The server could not understand the request due to invalid syntax. (HTTP status=401)",
    "bandwidth-limit-exceeded": "The target server has exceeded the bandwidth specified by the server "
    "administrator. (HTTP status=509).",
    "blocked": "The target site is blocking us (HTTP status=999).",
    "blocked-client-ip": "Anonymous clients which are listed in spamhaus XBL or SBL lists are blocked.",
    "blocked-url": "We use a URL block list based on Mozilla web tracker lists to avoid unwanted captures.",
    "browsing-timeout": "SPN2 back-end headless browser timeout.",
    "capture-location-error": "SPN2 back-end cannot find the created capture location. (system error).",
    "cannot-fetch": "Cannot fetch the target URL due to system overload.",
    "celery": "Cannot start capture task.",
    "filesize-limit": "Cannot capture web resources over 2GB.",
    "ftp-access-denied": "Tried to capture an FTP resource but access was denied.",
    "gateway-timeout": "The target server didn't respond in time. (HTTP status=504).",
    "http-version-not-supported": "The target server does not support the HTTP protocol version used in "
    "the request for URL (HTTP status=505).",
    "internal-server-error": "SPN internal server error.",
    "invalid-url-syntax": "Target URL syntax is not valid.",
    "invalid-server-response": "The target server response was invalid.",
    "invalid-host-resolution": "Couldn't resolve the target host.",
    "job-failed": "Capture failed due to system error.",
    "method-not-allowed": "The request method is known by the server but has been disabled and cannot be "
    "used (HTTP status=405).",
    "not-implemented": "The request method is not supported by the server and cannot be handled "
    "(HTTP status=501).",
    "no-browsers-available": "SPN2 back-end headless browser cannot run.",
    "network-authentication-required": "The client needs to authenticate to gain network access to the URL "
    "(HTTP status=511).",
    "no-access": "Target URL could not be accessed (status=403).",
    "not-found": "Target URL not found (status=404).",
    "proxy-error": "SPN2 back-end proxy error.",
    "protocol-error": "HTTP connection broken.",
    "read-timeout": "HTTP connection read timeout.",
    "soft-time-limit-exceeded": "Capture duration exceeded 45s time limit and was terminated.",
    "service-unavailable": "Service unavailable for URL (HTTP status=503).",
    "too-many-daily-captures": "This URL has been captured 10 times today. We cannot make any more captures.",
    "too-many-redirects": "Too many redirects. SPN2 tries to follow 3 redirects automatically.",
    "too-many-requests": "The target host has received too many requests from SPN and it is blocking it. "
    "(HTTP status=429).",
    "user-session-limit": "User has reached the limit of concurrent active capture sessions.",
    "unauthorized": "The server requires authentication (HTTP status=401).",
    "max-daily-bandwidth": "An authenticated user can archive up to 5GB per day.",
    "max-daily-bandwidth-from-ip": "An anonymous user can archive up to 2GB per day.",
    "max-daily-bandwidth-host": "SPN2 can archive up to 100GB per day from a host.",
}


def key(url: str) -> str:
    """Stored and requested URLs compare after yarl's normalisation."""
    return str(URL(url))


def surt(url: str) -> str:
    """A SURT-like key (the fake never needs more)."""
    u = URL(url)
    host = ",".join(reversed((u.host or "").removeprefix("www.").split(".")))
    return f"{host}){u.raw_path_qs}".lower()


def parse_within(text: str) -> float | None:
    """``if_not_archived_within``: seconds, or ``"3d 5h 20m"``; the first value of ``a,b``."""
    first = text.split(",")[0].strip()
    if first.isdigit():
        return float(first)
    parts = _DELTA.findall(first)
    if not parts:
        return None
    unit = {"d": 86400, "h": 3600, "m": 60, "s": 1}
    return float(sum(int(n) * unit[u] for n, u in parts))


@dataclass
class Submission:
    url: str
    at: float
    authorization: str | None
    form: dict[str, str]
    answer: str
    day: str = ""  # the UTC day it was sent on (daily limits)


@dataclass
class Job:
    job_id: str
    url: str
    error: str | None = None  # a status_ext the job ends with
    original_job_id: str | None = None
    polls: int = 0
    timestamp: str | None = None
    reused: bool = False


@dataclass
class StoredCapture:
    url: str
    timestamp: str
    body: bytes
    status: int = 200
    mime: str = "text/html"
    headers: dict[str, str] = field(default_factory=dict)
    visible_at: float = float("-inf")  # the clock time it reaches the indexes
    revisit_of: StoredCapture | None = None

    @property
    def digest(self) -> str:
        if self.revisit_of is not None:
            return self.revisit_of.digest
        return b32encode(hashlib.sha1(self.body).digest()).decode()  # the CDX digest is SHA-1

    @property
    def cdx_status(self) -> str:
        return "-" if self.revisit_of is not None else str(self.status)

    def row(self) -> list[str]:
        return [surt(self.url), self.timestamp, self.url, self.mime, self.cdx_status, self.digest,
                str(len(self.body))]  # fmt: skip


def _pad(ts: str, fill: str) -> str:
    return ts + fill * (14 - len(ts))


def _filters(specs: list[str]) -> Callable[[StoredCapture], bool]:
    parsed = []
    for spec in specs:
        neg = spec.startswith("!")
        name, _, pattern = spec.lstrip("!").partition(":")
        parsed.append(
            (neg, {"statuscode": "cdx_status", "mimetype": "mime"}.get(name, name), re.compile(pattern))
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
        require_auth: bool = True,
        per_minute: int | None = None,
        max_active: int | None = None,
        retry_after: str | None = "30",
        per_url_daily: int | None = None,
        daily_limit: int | None = None,
        index_lag_s: float = 0.0,
        limit_quirk: Literal["break", "stale_block"] = "break",
        block_rows: int = 3,
        closest_ignores_range: bool = False,
    ) -> None:
        self.now, self.utcnow = now, utcnow
        self.pending_polls, self.require_auth = pending_polls, require_auth
        self.per_minute, self.max_active, self.retry_after = per_minute, max_active, retry_after
        self.per_url_daily, self.daily_limit, self.index_lag_s = per_url_daily, daily_limit, index_lag_s
        self.limit_quirk, self.block_rows = limit_quirk, block_rows
        self.closest_ignores_range = closest_ignores_range
        self.script: deque[str] = deque()
        self.url_errors: dict[str, str] = {}  # url -> status_ext answered at submission
        self.host_errors: dict[str, str] = {}  # host -> status_ext answered at submission
        self.job_errors: dict[str, str] = {}  # url -> status_ext its job ends with
        self.submissions: list[Submission] = []
        self.jobs: dict[str, Job] = {}
        self.captures: dict[str, list[StoredCapture]] = {}
        self.hits: Counter[str] = Counter()
        self.cdx_status: int | None = None  # answer CDX with this status (to test the fallback)
        self.cdx_queries: list[dict[str, str]] = []
        self.base_url = ""

    # Setup ---------------------------------------------------------------------------------------

    def add_snapshot(
        self, url: str, timestamp: str, html: bytes | str, *, status: int = 200, mime: str = "text/html",
        headers: dict[str, str] | None = None, visible_at: float = float("-inf"),
    ) -> StoredCapture:  # fmt: skip
        body = html.encode() if isinstance(html, str) else html
        capture = StoredCapture(url, timestamp, body, status, mime, dict(headers or {}), visible_at)
        return self._store(capture)

    def add_revisit(self, url: str, timestamp: str, of: StoredCapture) -> StoredCapture:
        """A ``warc/revisit`` row: the same content as ``of``, captured again at ``timestamp``."""
        capture = StoredCapture(url, timestamp, of.body, of.status, REVISIT, dict(of.headers), revisit_of=of)
        return self._store(capture)

    def _store(self, capture: StoredCapture) -> StoredCapture:
        rows = self.captures.setdefault(key(capture.url), [])
        rows.append(capture)
        rows.sort(key=lambda c: c.timestamp)
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

    def _today(self) -> list[Submission]:
        day = self.utcnow().strftime("%Y%m%d")
        return [s for s in self.submissions if s.answer.startswith("spn2-") and s.day == day]

    def _authorized(self, request: web.Request) -> bool:
        auth = request.headers.get("Authorization", "")
        return not self.require_auth or bool(re.fullmatch(r"LOW [^:\s]+:\S+", auth))

    def _decide(self, request: web.Request, url: str) -> str:
        if not self._authorized(request):
            return "401"
        scripted = self.script.popleft() if self.script else "job"
        if scripted != "job":
            return scripted
        now = self.now()
        recent = sum(1 for s in self.submissions if now - 60 < s.at <= now)
        if self.per_minute is not None and recent > self.per_minute:
            return "429"
        if self.daily_limit is not None and len(self._today()) >= self.daily_limit:
            return "429-daily"
        if self.max_active is not None and self._active() >= self.max_active:
            return "user-session-limit"
        if url in self.url_errors:
            return self.url_errors[url]
        host = URL(url).host or ""
        if host in self.host_errors:
            return self.host_errors[host]
        same_url_today = sum(1 for s in self._today() if s.url == url)
        if self.per_url_daily is not None and same_url_today >= self.per_url_daily:
            return "too-many-daily-captures"
        return "job"

    def _recent_capture(self, url: str, within: float) -> StoredCapture | None:
        cutoff = (self.utcnow() - timedelta(seconds=within)).strftime(TS)
        found = [c for c in self.captures.get(key(url), []) if c.timestamp >= cutoff]
        return found[-1] if found else None

    async def _save(self, request: web.Request) -> web.Response:
        self.hits["save"] += 1
        form = {k: str(v) for k, v in (await request.post()).items()}
        url = form.get("url", "")
        day = self.utcnow().strftime("%Y%m%d")
        record = Submission(url, self.now(), request.headers.get("Authorization"), form, "", day)
        self.submissions.append(record)
        record.answer = answer = self._decide(request, url)
        if answer == "401":
            return web.Response(status=401, text="You need to be logged in to use Save Page Now.")
        if answer in {"429", "429-daily"}:
            headers = {"Retry-After": self.retry_after} if self.retry_after else {}
            text = "Too Many Requests" if answer == "429" else "You have reached your daily captures limit."
            return web.Response(status=429, text=text, headers=headers)
        if answer == "html":
            return web.Response(text="<html>Service Unavailable</html>", content_type="text/html")
        if answer != "job":
            message = DOC_ERRORS.get(answer, f"Capture failed: {answer}")
            return web.json_response({"status": "error", "status_ext": f"error:{answer}", "message": message})
        job_id = "spn2-" + hashlib.sha1(f"{url}#{len(self.jobs)}".encode()).hexdigest()
        job = self.jobs[job_id] = Job(job_id, url, error=self.job_errors.get(url))
        record.answer = job_id
        within = parse_within(form.get("if_not_archived_within", "")) or 45 * 60.0
        recent = self._recent_capture(url, within)
        if recent is not None and job.error is None:
            job.timestamp, job.reused = recent.timestamp, True
            then = datetime.strptime(recent.timestamp, TS).replace(tzinfo=UTC)
            ago = int((self.utcnow() - then).total_seconds())
            message = f"The same snapshot had been made {ago // 60} minutes ago."
            return web.json_response({"url": url, "job_id": job_id, "message": message})
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
        if job.polls <= self.pending_polls and not job.reused:
            return web.json_response({**base, "status": "pending", "resources": []})
        if job.error is not None:
            message = DOC_ERRORS.get(job.error, f"Job failed: {job.error}")
            return web.json_response({**base, "status": "error", "status_ext": f"error:{job.error}",
                                      "message": message})  # fmt: skip
        if job.timestamp is None:
            job.timestamp = self.utcnow().strftime(TS)
            self.add_snapshot(job.url, job.timestamp, f"<html><body>captured {job.url}</body></html>",
                              visible_at=self.now() + self.index_lag_s)  # fmt: skip
        done = {"status": "success", "original_url": job.url, "timestamp": job.timestamp, "duration_sec": 1.5}
        return web.json_response({**base, **done, "resources": []})

    async def _user(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.Response(status=401, text="You need to be logged in to use Save Page Now.")
        active = self._active()
        return web.json_response({
            "available": max(0, (self.max_active or 8) - active), "processing": active,
            "daily_captures": len(self._today()), "daily_captures_limit": self.daily_limit or 100_000,
        })  # fmt: skip

    # Lookups -------------------------------------------------------------------------------------

    def _find(self, url: str) -> list[StoredCapture]:
        now = self.now()
        return [c for c in self.captures.get(key(url), []) if c.visible_at <= now]

    def _limited(self, rows: list[StoredCapture], limit: int, to: str) -> list[StoredCapture]:
        """``limit`` as the real servers apply it (see the module doc for ``limit=-N``)."""
        if limit >= 0:
            return rows[:limit] if limit else rows
        if self.limit_quirk == "stale_block":
            block = [c for c in rows[: self.block_rows] if c.timestamp <= to]
            return block[limit:]
        out: list[StoredCapture] = []
        for c in reversed(rows):  # a reverse scan that ends at the first row past ``to``
            if c.timestamp > to:
                break
            out.insert(0, c)
            if len(out) == -limit:
                break
        return out

    async def _cdx(self, request: web.Request) -> web.Response:
        self.hits["cdx"] += 1
        q = request.query
        self.cdx_queries.append(dict(q))
        if self.cdx_status is not None:
            return web.Response(status=self.cdx_status, text="CDX trouble")
        rows = [c for c in self._find(q.get("url", "")) if _filters(q.getall("filter", []))(c)]
        low, high = _pad(q.get("from", ""), "0"), _pad(q.get("to", ""), "9")
        limit = int(q.get("limit", "0") or "0")
        closest = "closest" in q and q.get("sort") == "closest"
        if limit < 0:
            rows = self._limited([c for c in rows if low <= c.timestamp], limit, high)
        else:
            if not (closest and self.closest_ignores_range):
                rows = [c for c in rows if low <= c.timestamp <= high]
            if closest:
                target = int(_pad(q["closest"], "0"))
                rows.sort(key=lambda c: abs(int(c.timestamp) - target))
            rows = self._limited(rows, limit, high)
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
            mime = c.revisit_of.mime if c.revisit_of is not None else c.mime
            headers = {"X-Archive-Src": f"fake-{c.timestamp}.warc.gz",
                       "Memento-Datetime": format_datetime(when, usegmt=True), **c.headers}  # fmt: skip
            return web.Response(status=c.status, body=c.body, headers=headers, content_type=mime)
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
