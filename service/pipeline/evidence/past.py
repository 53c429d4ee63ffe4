"""Evidence around a live fetch: the past version of a page, and captures of the present one.

The past (``fetch_at``) comes from the local WARC store first, then from the Wayback Machine's
nearest capture at or before the post's time, fetched raw (``id_``). The present is recorded in
the store and, when asked, submitted to Save Page Now; a capture never holds up a verdict: it is
awaited for a few seconds at most, then reported ``pending`` with its job id, and every outcome
is appended to ``wayback.jsonl`` in the data folder so a later run or look-up finds it.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog

from service.pipeline.errors import ArchiveError
from service.pipeline.evidence.save_queue import CaptureQueue
from service.pipeline.evidence.store import EvidenceStore
from service.pipeline.evidence.wayback import CaptureOutcome, CaptureStatus, WaybackClient
from service.pipeline.fetch.redirects import REDIRECT_STATUSES, Hop, follow_redirects
from service.pipeline.fetch.warc_reader import Capture
from service.pipeline.models import Fetcher, FetchResult, Redirect, SourceReason, SourceStatus

log = structlog.get_logger(__name__)

WAYBACK_LOG = "wayback.jsonl"


class _NotStored(Exception):
    """A URL (or a stored hop of it) has no readable capture in the store at that moment."""


@dataclass(frozen=True, slots=True)
class EvidenceFetcher:
    """A live fetcher whose past comes from the evidence store and the Wayback Machine."""

    live: Fetcher
    store: EvidenceStore | None = None
    wayback: WaybackClient | None = None
    max_redirects: int = 10

    async def fetch(self, url: str) -> FetchResult:
        return await self.live.fetch(url)

    async def fetch_at(self, url: str, when: datetime) -> FetchResult | None:
        """The latest capture at or before ``when``: our own store first, then the Wayback Machine."""
        stored = await self._from_store(url, when) if self.store is not None else None
        if stored is not None and stored.status is SourceStatus.OK:
            return stored
        if self.wayback is not None:
            archived = await self._from_wayback(url, when)
            if archived is not None:
                return archived
        return stored or await self.live.fetch_at(url, when)

    async def _from_store(self, url: str, when: datetime) -> FetchResult | None:
        """The stored capture at or before ``when``, its stored redirect hops followed (each hop
        at or before ``when`` too), as replay would answer it."""
        store = self.store
        assert store is not None
        read: list[Capture] = []

        async def step(current: str, redirects: tuple[Redirect, ...]) -> FetchResult | Hop:
            capture = await asyncio.to_thread(store.capture_at, current, when)
            if capture is None:
                raise _NotStored
            try:
                found = await store.aread(capture)
            except ArchiveError as exc:
                log.warning("store_capture_unreadable", url=current, error=str(exc))
                raise _NotStored from exc
            read.append(capture)
            location = found.header("Location")
            if found.http_status in REDIRECT_STATUSES and location:
                return Hop(found.http_status, location)
            return found

        try:
            followed = await follow_redirects(url, step, max_redirects=self.max_redirects)
        except _NotStored:
            return None
        if followed.answer is None:
            return None
        capture = read[-1]
        return replace(
            followed.answer,
            url=url,
            redirects=followed.redirects,
            archive_url=f"{store.relative(capture)}#{capture.offset}",
            evidence=store.entry(capture),
        )

    async def _from_wayback(self, url: str, when: datetime) -> FetchResult | None:
        assert self.wayback is not None
        try:
            snapshot = await self.wayback.closest_before(url, when)
            if snapshot is None:
                return None
            raw = await self.wayback.fetch_raw(snapshot)
        except ArchiveError as exc:
            log.warning("wayback_lookup_failed", url=url, error=str(exc))
            return None
        status = SourceStatus.OK if raw.status == 200 else SourceStatus.ERROR
        headers = tuple((str(k), str(v)) for k, v in raw.headers.items())
        content_type = next((v for k, v in headers if k.lower() == "content-type"), None)
        return FetchResult(
            url=url,
            final_url=url,
            status=status,
            reason=None if status is SourceStatus.OK else SourceReason.for_http_status(raw.status),
            http_status=raw.status,
            content_type=content_type,
            headers=headers,
            body=raw.body,
            captured_at=snapshot.timestamp,
            archive_url=snapshot.replay_url(self.wayback.base_url),
        )


def wayback_entry(outcome: CaptureOutcome) -> dict[str, Any]:
    """The report's ``source.archive.wayback``."""
    return {
        "status": outcome.status.value,
        "url": outcome.snapshot_url,
        "timestamp": outcome.timestamp.astimezone(UTC).isoformat().replace("+00:00", "Z")
        if outcome.timestamp
        else None,
        "job_id": outcome.job_id,
        "message": outcome.message or None,
    }


def log_wayback(data_dir: Path, outcome: CaptureOutcome) -> None:
    """Append one capture outcome to the data folder's Wayback log (one JSON object a line)."""
    entry = {
        "url": outcome.url,
        "logged_at": datetime.now(UTC).isoformat(),
        "wayback": wayback_entry(outcome),
    }
    data_dir.mkdir(parents=True, exist_ok=True)
    with (data_dir / WAYBACK_LOG).open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry) + "\n")


class CaptureRunner:
    """Save Page Now captures running beside verification, awaited briefly, drained on close.

    URLs go through a ``CaptureQueue`` (rate limiter, back-off and retry of 429s and session
    limits, polling). ``capture`` waits ``wait_s`` and then answers what is known: success,
    skipped (archived recently), or pending, with the SPN job id once there is one. The capture
    goes on in the background; every landed outcome is appended to ``wayback.jsonl``.
    """

    def __init__(
        self, wayback: WaybackClient, *, wait_s: float, data_dir: Path | None, drain_s: float = 60.0
    ) -> None:
        self._wait_s, self._data_dir, self._drain_s = wait_s, data_dir, drain_s
        self._queue = CaptureQueue(
            wayback, on_result=self._landed, on_submitted=self._submitted, on_retry=self._retrying,
            poll_for_s=drain_s,
        )  # fmt: skip
        self._outcomes: dict[str, asyncio.Future[CaptureOutcome]] = {}
        self._jobs: dict[str, str] = {}
        self._retries: dict[str, str] = {}

    async def __aenter__(self) -> CaptureRunner:
        await self._queue.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        """Let running captures land for up to ``drain_s``, then stop the rest."""
        try:
            await asyncio.wait_for(self._queue.join(), self._drain_s)
        except TimeoutError:
            log.warning("wayback_captures_unfinished", count=self._queue.backlog)
        except RuntimeError as exc:
            log.warning("wayback_queue_failed", error=str(exc))
        finally:
            await self._queue.__aexit__(TimeoutError, None, None)  # stop without waiting again
            await self._log_unlanded()

    async def _log_unlanded(self) -> None:
        """Captures still running when the run ends are logged as pending, with their job id if
        they have one, so nothing submitted is forgotten."""
        for url, landed in self._outcomes.items():
            if landed.done():
                continue
            outcome = CaptureOutcome(
                url, CaptureStatus.PENDING, self._jobs.get(url), message=self._pending_message(url)
            )
            await self._landed(outcome)

    async def capture(self, url: str) -> dict[str, Any]:
        landed = self._outcomes.get(url)
        if landed is None:
            landed = self._outcomes[url] = asyncio.get_running_loop().create_future()
            self._queue.put(url)
        try:
            return wayback_entry(await asyncio.wait_for(asyncio.shield(landed), self._wait_s))
        except TimeoutError:
            job = self._jobs.get(url)
            return {"status": "pending", "url": None, "timestamp": None, "job_id": job,
                    "message": self._pending_message(url)}  # fmt: skip

    def _pending_message(self, url: str) -> str:
        if url in self._jobs:
            return "capture running"
        if url in self._retries:
            return f"retrying after: {self._retries[url]}"
        return "queued behind the Save Page Now rate limit"

    def _submitted(self, url: str, job_id: str) -> None:
        self._jobs[url] = job_id

    def _retrying(self, outcome: CaptureOutcome) -> None:
        self._retries[outcome.url] = outcome.message[:200]

    async def _landed(self, outcome: CaptureOutcome) -> None:
        if self._data_dir is not None:
            try:
                await asyncio.to_thread(log_wayback, self._data_dir, outcome)
            except OSError as exc:
                log.warning("wayback_log_failed", error=str(exc))
        landed = self._outcomes.get(outcome.url)
        if landed is not None and not landed.done():
            landed.set_result(outcome)


async def capture_to_file(urls: list[str], path: Path, *, fetcher: Fetcher) -> list[FetchResult]:
    """Fetch ``urls`` (safely, like any live fetch) and write them as one standalone WARC file."""
    from service.pipeline.evidence.warc_writer import write_capture_file

    fetched = list(await asyncio.gather(*(fetcher.fetch(url) for url in urls)))
    await asyncio.to_thread(write_capture_file, path, fetched)
    return fetched
