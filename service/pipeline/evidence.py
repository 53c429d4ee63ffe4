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

from .archive.store import EvidenceStore
from .archive.wayback import CaptureOutcome, WaybackClient
from .errors import ArchiveError
from .models import ArchiveRecord, Fetcher, FetchResult, SourceStatus

log = structlog.get_logger(__name__)

WAYBACK_LOG = "wayback.jsonl"


@dataclass(frozen=True, slots=True)
class EvidenceFetcher:
    """A live fetcher whose past comes from the evidence store and the Wayback Machine."""

    live: Fetcher
    store: EvidenceStore | None = None
    wayback: WaybackClient | None = None

    async def fetch(self, url: str) -> FetchResult:
        return await self.live.fetch(url)

    async def fetch_at(self, url: str, when: datetime) -> FetchResult | None:
        """The latest capture at or before ``when``: our own store first, then the Wayback Machine."""
        if self.store is not None:
            found = await self._from_store(url, when)
            if found is not None:
                return found
        if self.wayback is not None:
            return await self._from_wayback(url, when)
        return await self.live.fetch_at(url, when)

    async def _from_store(self, url: str, when: datetime) -> FetchResult | None:
        assert self.store is not None
        capture = await asyncio.to_thread(self.store.capture_at, url, when)
        if capture is None:
            return None
        try:
            found = await self.store.aread(capture)
        except ArchiveError as exc:
            log.warning("store_capture_unreadable", url=url, error=str(exc))
            return None
        record = ArchiveRecord(
            file=capture.file,
            offset=capture.offset,
            length=capture.length,
            digest=capture.digest,
            captured_at=capture.captured_at.isoformat(),
        )
        return replace(found, archive_url=f"{capture.file}#{capture.offset}", evidence=record)

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
            reason=None if status is SourceStatus.OK else f"http_{raw.status}",
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

    ``capture`` waits ``wait_s`` (plus a moment for the rate limiter) and then answers whatever is
    known: success, skipped (archived recently), pending with the SPN job id, or pending while
    queued behind the rate limit. The capture goes on in the background; a rate-limited one is
    retried after its back-off while the run lasts. Every landed outcome goes to ``wayback.jsonl``.
    """

    def __init__(
        self, wayback: WaybackClient, *, wait_s: float, data_dir: Path | None, drain_s: float = 60.0
    ) -> None:
        self._wayback, self._wait_s, self._data_dir, self._drain_s = wayback, wait_s, data_dir, drain_s
        self._tasks: dict[str, asyncio.Task[CaptureOutcome]] = {}
        self._closing = False

    async def capture(self, url: str) -> dict[str, Any]:
        task = self._tasks.get(url)
        if task is None:
            task = self._tasks[url] = asyncio.ensure_future(self._run(url))
        try:
            outcome = await asyncio.wait_for(asyncio.shield(task), self._wait_s + 2.0)
        except TimeoutError:
            return {"status": "pending", "url": None, "timestamp": None, "job_id": None,
                    "message": "queued behind the Save Page Now rate limit"}  # fmt: skip
        return wayback_entry(outcome)

    async def _run(self, url: str) -> CaptureOutcome:
        outcome = await self._wayback.capture(url, wait_s=self._wait_s)
        while outcome.retryable and not self._closing and outcome.retry_after_s is not None:
            await asyncio.sleep(min(outcome.retry_after_s, self._drain_s))
            outcome = await self._wayback.capture(url, wait_s=self._wait_s)
        if self._data_dir is not None:
            try:
                await asyncio.to_thread(log_wayback, self._data_dir, outcome)
            except OSError as exc:
                log.warning("wayback_log_failed", error=str(exc))
        return outcome

    async def aclose(self) -> None:
        """Let running captures land for up to ``drain_s``, then cancel the rest."""
        pending = [t for t in self._tasks.values() if not t.done()]
        if pending:
            _, late = await asyncio.wait(pending, timeout=self._drain_s)
            self._closing = True
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        for task in self._tasks.values():
            if task.done() and not task.cancelled() and task.exception() is not None:
                log.warning("wayback_capture_failed", error=str(task.exception()))


async def capture_to_file(urls: list[str], path: Path, *, fetcher: Fetcher) -> list[FetchResult]:
    """Fetch ``urls`` (safely, like any live fetch) and write them as one standalone WARC file."""
    from .archive.warc import write_capture_file

    fetched = list(await asyncio.gather(*(fetcher.fetch(url) for url in urls)))
    await asyncio.to_thread(write_capture_file, path, fetched)
    return fetched
