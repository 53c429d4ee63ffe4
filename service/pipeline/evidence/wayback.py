"""The Wayback Machine: CDX/availability lookups, verbatim (``id_``) replay, Save Page Now 2 captures.

waybackpy is deliberately not used: it is synchronous ``requests`` with no timeout anywhere plus
blocking ``time.sleep`` calls, so one slow answer would freeze the event loop (or pin a thread that
can never be cancelled), and its save call uses the keyless endpoint the archive now refuses
(dependencies.md §2.1). Everything here runs on the caller's aiohttp session with a per-request
timeout; this is the only module that catches aiohttp errors for Wayback calls, and it turns them
into ``errors.py`` classes. Saves never hold up a verdict: ``save`` waits at most ``wait_s``, and
``save_queue.SaveQueue`` retries rate-limited saves later instead of dropping them.

Save Page Now needs keys: without them ``save`` answers ``skipped`` (``no_credentials``) and sends
nothing, since the service refuses anonymous submissions (401, or 429 on the old GET endpoint).
With keys, ``/save/status/user`` is asked before each submission (inside the limiter's slot, so
after any account-wide pause): no free session, or the day's captures used up, is an
account-wide wait, not a failed submission. Each failure carries its
scope and hold from ``spn_errors.py``; ``SaveQueue`` applies them.

At-post lookups (``closest_before``) ask CDX in the ways its documentation guarantees:
``closest=<ts>&sort=closest`` (rows nearest the moment, either side), then, if none of those is
at or before it, ascending ``from``/``to`` windows whose last row is taken. ``warc/revisit`` rows
count as captures (of content already archived); ``limit=-1`` and ``filter=statuscode:200`` are
never used: the former does not mean "latest before ``to``" on the real server, the latter drops
revisits. The availability API is the fallback only when CDX fails.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import aiohttp
from yarl import URL

from service.pipeline.errors import (
    RETRYABLE,
    ArchiveError,
    WaybackRateLimited,
    WaybackRefused,
    WaybackUnavailable,
)
from service.pipeline.evidence.ratelimit import SaveLimiter, save_slot
from service.pipeline.evidence.spn_errors import DAILY_CAPTURES, Scope, SpnError, hold_seconds
from service.pipeline.evidence.wayback_parse import (
    Snapshot,
    SpnState,
    SpnStatus,
    UserStatus,
    format_timestamp,
    latest_at_or_before,
    parse_availability,
    parse_cdx_rows,
    parse_retry_after,
    parse_spn_status,
    parse_spn_submit,
    parse_user_status,
    spn_error,
)
from service.pipeline.fetch.redirects import REDIRECT_STATUSES, Hop, follow_redirects, join_location
from service.pipeline.models import Redirect, SourceReason, WaybackStatus
from service.pipeline.urls import URL_PARSE_ERRORS
from service.settings import WaybackSettings

__all__ = [
    "RawCapture",
    "SaveOutcome",
    "Snapshot",
    "SpnState",
    "SpnStatus",
    "WaybackClient",
    "WaybackStatus",
    "parse_availability",
    "parse_cdx_rows",
    "parse_spn_status",
    "parse_spn_submit",
]

# Sandcrawler's flags: keep 4xx/5xx captures, skip the outlink crawl of a first capture, no JS wait.
# Only flags that are on are sent ("=0" trips an API bug); if_not_archived_within comes from settings.
DEFAULT_FLAGS: Mapping[str, str] = {"capture_all": "1", "skip_first_archive": "1", "js_behavior_timeout": "0"}
BACKOFF_S = 20.0  # a 429 without Retry-After: spn.sh and security.md §7 start at 20 s
MAX_BODY_BYTES = 50 * 1024 * 1024
_ID_REPLAY = re.compile(r"^/web/\d{14}id_/")
CLOSEST_ROWS = 25  # rows asked nearest the moment; fewer back means there are no more
WINDOW_DAYS: tuple[int | None, ...] = (30, 365, None)  # then ascending windows ending at the moment


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _json_or_none(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def within_flag(hours: float) -> str:
    """``if_not_archived_within``: whole hours as ``"24h"``, anything else in seconds."""
    return f"{int(hours)}h" if hours == int(hours) else str(round(hours * 3600))


class RawCapture(NamedTuple):
    """A verbatim capture: the archived status, headers (with ``X-Archive-*``) and body bytes."""

    status: int
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class SaveOutcome:
    """What became of one capture request; ``retry_after_s`` is set when it should be tried again."""

    url: str
    status: WaybackStatus
    job_id: str | None = None
    snapshot_url: str | None = None
    timestamp: datetime | None = None
    message: str = ""
    retryable: bool = False
    retry_after_s: float | None = None
    code: str | None = None  # status_ext, http-<n>, or our own (no_credentials, daily-captures)
    scope: Scope | None = None
    hold_s: float | None = None  # how long the scope is left alone


NO_CREDENTIALS = "no_credentials"
NO_CREDENTIALS_MESSAGE = (
    f"{NO_CREDENTIALS}: Save Page Now needs archive.org S3 keys (PROVENANCE_WAYBACK_ACCESS_KEY and "
    "PROVENANCE_WAYBACK_SECRET_KEY); it refuses anonymous captures, so none was attempted"
)


def failed(
    url: str, error: ArchiveError, job_id: str | None = None, *, now: datetime | None = None
) -> SaveOutcome:
    """An error outcome with its scope and hold (``spn_errors.py``); retryable ones carry a retry time."""
    if isinstance(error, SpnError):
        hold = hold_seconds(
            error.rule, now=now or _utcnow(), backoff_s=BACKOFF_S, retry_after_s=error.retry_after_s
        )
        return SaveOutcome(
            url, WaybackStatus.ERROR, job_id, message=str(error), retryable=error.rule.retryable,
            retry_after_s=hold if error.rule.retryable else None, code=error.code, scope=error.rule.scope,
            hold_s=hold,
        )  # fmt: skip
    retry_after = None
    if isinstance(error, WaybackRateLimited):
        retry_after = error.retry_after_s if error.retry_after_s is not None else BACKOFF_S
    retryable = isinstance(error, RETRYABLE)
    scope = (
        Scope.ACCOUNT if isinstance(error, WaybackRateLimited) else Scope.SERVICE if retryable else Scope.URL
    )
    return SaveOutcome(url, WaybackStatus.ERROR, job_id, message=str(error), retryable=retryable,
                          retry_after_s=retry_after, scope=scope, hold_s=retry_after)  # fmt: skip


@asynccontextmanager
async def _translated(what: str) -> AsyncIterator[None]:
    """aiohttp and JSON failures become retryable archive errors."""
    try:
        yield
    except TimeoutError as e:
        raise WaybackUnavailable(f"{what}: timed out") from e
    except aiohttp.ClientError as e:
        raise WaybackUnavailable(f"{what}: {type(e).__name__}: {e}"[:300]) from e
    except ValueError as e:  # a non-JSON body where JSON was due (an HTML error page)
        raise WaybackUnavailable(f"{what}: unreadable answer") from e


def _check(status: int, retry_after: str | None, what: str) -> None:
    if status == 429:
        raise WaybackRateLimited(f"{what}: HTTP 429", retry_after_s=parse_retry_after(retry_after))
    if status >= 500:
        raise WaybackUnavailable(f"{what}: HTTP {status}")
    if status in {401, 403}:
        raise WaybackRefused(f"{what}: HTTP {status}")


class WaybackClient:
    """Lookups, raw replay and SPN2 captures on a session the caller owns.

    ``now``/``sleep`` pace polling and ``utcnow`` dates captures; tests pass fake clocks.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        settings: WaybackSettings,
        limiter: SaveLimiter,
        *,
        now: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        utcnow: Callable[[], datetime] = _utcnow,
        flags: Mapping[str, str] = DEFAULT_FLAGS,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self._session, self.settings, self.limiter = session, settings, limiter
        self._now, self._sleep, self.utcnow = now, sleep, utcnow
        self.sleep = sleep  # the queue's retries wait on the same clock
        self.base_url = settings.base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=settings.request_timeout_s)
        self._max_body = max_body_bytes
        self.flags = dict(flags)
        if settings.skip_if_archived_within_hours > 0:
            self.flags["if_not_archived_within"] = within_flag(settings.skip_if_archived_within_hours)

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if self.settings.authenticated:
            headers["Authorization"] = f"LOW {self.settings.access_key}:{self.settings.secret_key}"
        return headers

    async def _get_json(self, url: str, params: Mapping[str, str], what: str) -> Any:
        request = self._session.get(url, params=params, headers=self._headers(), timeout=self._timeout)
        async with _translated(what), request as r:
            _check(r.status, r.headers.get("Retry-After"), what)
            if r.status != 200:
                raise WaybackUnavailable(f"{what}: HTTP {r.status}")
            return await r.json(content_type=None)

    # Lookups ---------------------------------------------------------------------------------

    async def cdx(self, url: str, **params: str) -> list[Snapshot]:
        """CDX rows for exactly ``url`` (``output=json``, never gzipped)."""
        query = {"url": url, "output": "json", "gzip": "false", **params}
        data = await self._get_json(f"{self.base_url}/cdx/search/cdx", query, "CDX")
        return parse_cdx_rows(data if isinstance(data, list) else [])

    async def availability(self, url: str, when: datetime | None = None) -> Snapshot | None:
        """The availability API's closest capture (either side of ``when``): the CDX fallback."""
        query = {"url": url} if when is None else {"url": url, "timestamp": format_timestamp(when)}
        return parse_availability(await self._get_json(self.settings.availability_url, query, "availability"))

    async def closest_before(self, url: str, when: datetime) -> Snapshot | None:
        """The latest capture of ``url`` at or before ``when`` (a 200, or a revisit of one).

        First the ``CLOSEST_ROWS`` rows nearest ``when`` (``closest`` + ``sort=closest``, plus
        ``to``), filtered here to at-or-before; if they are all later or none is the page and
        there may be more, ascending ``from``/``to`` windows ending at ``when``, last row taken.
        The availability API answers only when CDX fails."""
        when = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
        stamp = format_timestamp(when)
        try:
            rows = await self.cdx(url, closest=stamp, sort="closest", to=stamp, limit=str(CLOSEST_ROWS))
            found = latest_at_or_before(rows, when)
            if found is not None or len(rows) < CLOSEST_ROWS:
                return found
            for days in WINDOW_DAYS:
                start = {} if days is None else {"from": format_timestamp(when - timedelta(days=days))}
                found = latest_at_or_before(await self.cdx(url, to=stamp, **start), when)
                if found is not None:
                    return found
            return None
        except (WaybackUnavailable, WaybackRateLimited):
            found = await self.availability(url, when)
            return found if found is not None and found.timestamp <= when else None

    async def latest(self, url: str) -> Snapshot | None:
        """The newest capture of ``url`` (a 200, or a revisit of one): ``closest_before`` now."""
        return await self.closest_before(url, self.utcnow())

    # Raw replay ------------------------------------------------------------------------------

    def _replay_hop(self, location: str | None, current: str) -> str | None:
        """The next ``/web/<ts>id_/`` URL on the archive, or None for any other redirect."""
        if not location:
            return None
        try:
            target = URL(join_location(current, location))
            same_archive = target.origin() == URL(self.base_url).origin()
        except URL_PARSE_ERRORS:
            return None  # a Location nobody can parse is no hop to follow
        if not same_archive or not _ID_REPLAY.match(target.raw_path):
            return None
        return str(target)

    async def _read(self, response: aiohttp.ClientResponse) -> bytes:
        body = bytearray()
        async for chunk in response.content.iter_chunked(65536):
            body += chunk
            if len(body) > self._max_body:
                raise ArchiveError(
                    f"capture larger than {self._max_body} bytes", reason=SourceReason.BODY_TOO_LARGE
                )
        return bytes(body)

    async def fetch_raw(self, snapshot: Snapshot, *, max_hops: int = 3) -> RawCapture:
        """The capture's bytes as archived; redirects to a neighbouring capture are followed a few hops."""

        async def step(target: str, redirects: tuple[Redirect, ...]) -> RawCapture | Hop:
            request = self._session.get(target, allow_redirects=False, timeout=self._timeout)
            async with _translated("replay"), request as r:
                location = r.headers.get("Location")
                if r.status in REDIRECT_STATUSES and self._replay_hop(location, target) is not None:
                    return Hop(r.status, location or "")
                _check(r.status, r.headers.get("Retry-After"), "replay")
                if "X-Archive-Src" not in r.headers and not 300 <= r.status < 400:
                    raise ArchiveError(f"no capture of {snapshot.original[:200]} (HTTP {r.status})")
                return RawCapture(r.status, r.headers, await self._read(r))

        followed = await follow_redirects(snapshot.raw_url(self.base_url), step, max_redirects=max_hops)
        if followed.answer is None:
            raise ArchiveError(f"more than {max_hops} replay redirects for {snapshot.original[:200]}")
        return followed.answer

    # Save Page Now 2 -------------------------------------------------------------------------

    async def submit(self, url: str) -> str:
        """Start a capture; returns the job id. Waits for the limiter (and any account-wide pause),
        then asks ``/save/status/user`` whether the account can start one; an account-wide refusal
        penalizes the limiter until its stated time."""
        try:
            async with save_slot(self.limiter):
                refusal = await self.account_refusal()
                if refusal is not None:
                    raise refusal
                form = {"url": url, **self.flags}
                async with _translated("Save Page Now"), self._session.post(
                    f"{self.base_url}/save", data=form, headers=self._headers(), timeout=self._timeout,
                    allow_redirects=False,
                ) as r:  # fmt: skip
                    status, retry_after = r.status, r.headers.get("Retry-After")
                    text = await r.text(errors="replace")
            return parse_spn_submit(status, _json_or_none(text), retry_after=retry_after, now=self.utcnow())
        except SpnError as e:
            if e.rule.scope is Scope.ACCOUNT:  # every submitter waits, even outside a SaveQueue
                now = self.utcnow()
                await self.limiter.penalize(
                    hold_seconds(e.rule, now=now, backoff_s=BACKOFF_S, retry_after_s=e.retry_after_s)
                )
            raise

    async def poll(self, job_id: str, *, max_hops: int = 3) -> SpnStatus:
        """The job's state; a reused capture (``original_job_id``) is followed to its original job."""
        status = SpnStatus(SpnState.PENDING, job_id)
        for _ in range(max_hops):
            data = await self._get_json(f"{self.base_url}/save/status/{job_id}", {}, "SPN status")
            status = parse_spn_status(data)
            if status.original_job_id in {None, job_id}:
                break
            job_id = status.original_job_id or job_id
        return status

    async def user_status(self) -> UserStatus:
        """This account's free and running capture sessions (and today's captures when reported)."""
        query = {"_t": str(random.getrandbits(32))}  # dodges caches in front of the API
        data = await self._get_json(f"{self.base_url}/save/status/user", query, "SPN user status")
        return parse_user_status(data)

    async def account_refusal(self) -> SpnError | None:
        """Why the account cannot start a capture now (no free session, the day's captures used
        up), or None; a failed status request is no reason to stop."""
        try:
            status = await self.user_status()
        except ArchiveError:
            return None
        if status.day_used_up:
            used = f"{status.daily_captures}/{status.daily_captures_limit}"
            return SpnError(DAILY_CAPTURES, f"the account's captures for today are used up ({used})")
        if status.available <= 0:
            return SpnError("user-session-limit", f"no free capture session ({status.processing} running)")
        return None

    async def wait(self, job_id: str, *, wait_s: float) -> SpnStatus:
        """Poll each ``poll_interval_s`` until the job ends or ``wait_s`` passes; failed polls are skipped."""
        deadline = self._now() + wait_s
        status = SpnStatus(SpnState.PENDING, job_id)
        while (left := deadline - self._now()) > 0:
            await self._sleep(min(self.settings.poll_interval_s, left))
            try:
                status = await self.poll(job_id)
            except (WaybackUnavailable, WaybackRateLimited):
                continue
            if status.state is not SpnState.PENDING:
                break
        return status

    async def _recent(self, url: str) -> Snapshot | None:
        hours = self.settings.skip_if_archived_within_hours
        if hours <= 0:
            return None
        try:
            found = await self.latest(url)
        except ArchiveError:
            return None  # a failed lookup must not stop the capture
        if found is None or self.utcnow() - found.timestamp > timedelta(hours=hours):
            return None
        return found

    async def outcome(self, url: str, job_id: str, status: SpnStatus, since: datetime) -> SaveOutcome:
        """A job's state as an outcome; a reported failure is checked in CDX (SPN misreports some)."""
        if status.state is SpnState.PENDING:
            return SaveOutcome(url, WaybackStatus.PENDING, job_id, message="capture still running")
        if status.state is SpnState.SUCCESS and status.timestamp is not None:
            original = status.original_url or ""
            snap = Snapshot(status.timestamp, original if original.startswith(("http:", "https:")) else url)
            return SaveOutcome(url, WaybackStatus.SUCCESS, job_id, snap.replay_url(self.base_url),
                                  snap.timestamp)  # fmt: skip
        try:
            found = await self.latest(url)
        except ArchiveError:
            found = None
        if found is not None and found.timestamp >= since.replace(microsecond=0):
            note = "confirmed in CDX after a reported failure"
            replay = found.replay_url(self.base_url)
            return SaveOutcome(url, WaybackStatus.SUCCESS, job_id, replay, found.timestamp, message=note)
        return failed(url, spn_error(status.status_ext, status.message), job_id, now=self.utcnow())

    async def save(self, url: str, *, wait_s: float | None = None) -> SaveOutcome:
        """Capture ``url`` unless archived recently; never raises archive errors or waits past ``wait_s``.

        Without keys nothing is sent: ``skipped`` with reason ``no_credentials``."""
        if not self.settings.authenticated:
            return SaveOutcome(
                url, WaybackStatus.SKIPPED, message=NO_CREDENTIALS_MESSAGE, code=NO_CREDENTIALS
            )
        recent = await self._recent(url)
        if recent is not None:
            return SaveOutcome(url, WaybackStatus.SKIPPED, None, recent.replay_url(self.base_url),
                                  recent.timestamp, message="archived recently")  # fmt: skip
        since = self.utcnow()
        try:
            job_id = await self.submit(url)
        except ArchiveError as e:
            return failed(url, e, now=self.utcnow())
        wait_s = self.settings.capture_wait_s if wait_s is None else wait_s
        try:
            status = await self.wait(job_id, wait_s=wait_s)
        except ArchiveError as e:
            return failed(url, e, job_id, now=self.utcnow())
        return await self.outcome(url, job_id, status, since)
