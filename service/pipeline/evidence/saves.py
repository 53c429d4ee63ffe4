"""Save Page Now captures of the present page, run beside verification.

A save never holds up a verdict: it is awaited for a few seconds at most, then reported
``pending`` with its job id, and every outcome is appended to ``wayback.jsonl`` in the data folder
so a later run or look-up finds it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import structlog

from service.pipeline.evidence.save_queue import SaveQueue
from service.pipeline.evidence.wayback import SaveOutcome, WaybackClient
from service.pipeline.models import WaybackEntry, WaybackStatus

log = structlog.get_logger(__name__)

WAYBACK_LOG = "wayback.jsonl"


def wayback_entry(outcome: SaveOutcome) -> WaybackEntry:
    """The report's ``source.archive.wayback``."""
    stamp = outcome.timestamp
    return WaybackEntry(
        status=outcome.status,
        url=outcome.snapshot_url,
        timestamp=stamp.astimezone(UTC).isoformat().replace("+00:00", "Z") if stamp else None,
        job_id=outcome.job_id,
        message=outcome.message or None,
    )


def log_wayback(data_dir: Path, outcome: SaveOutcome) -> None:
    """Append one capture outcome to the data folder's Wayback log (one JSON object a line)."""
    entry = {
        "url": outcome.url,
        "logged_at": datetime.now(UTC).isoformat(),
        "wayback": wayback_entry(outcome).to_dict(),
    }
    data_dir.mkdir(parents=True, exist_ok=True)
    with (data_dir / WAYBACK_LOG).open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry) + "\n")


CLAIMED_ELSEWHERE = "submitted by another worker within the hour"


class SaveRunner:
    """Save Page Now captures running beside verification, awaited briefly, drained on close.

    URLs go through a ``SaveQueue`` (rate limiter, back-off and retry of 429s and session
    limits, polling). ``capture`` waits ``wait_s`` and then answers what is known: success,
    skipped (archived recently), or pending, with the SPN job id once there is one. The capture
    goes on in the background; every landed outcome is appended to ``wayback.jsonl``.
    """

    def __init__(
        self,
        wayback: WaybackClient,
        *,
        wait_s: float,
        data_dir: Path | None,
        drain_s: float = 60.0,
        claim: Callable[[str], Awaitable[bool]] | None = None,
    ) -> None:
        """``claim``, when given, is asked before a URL is submitted: False means another process
        of the deployment submitted it this hour (``fleet.RedisSaveClaims``), so this one does not."""
        self._wait_s, self._data_dir, self._drain_s = wait_s, data_dir, drain_s
        self._claim = claim
        self._queue = SaveQueue(
            wayback, on_result=self._landed, on_submitted=self._submitted, on_retry=self._retrying,
            poll_for_s=drain_s,
        )  # fmt: skip
        self._outcomes: dict[str, asyncio.Future[SaveOutcome]] = {}
        self._jobs: dict[str, str] = {}
        self._retries: dict[str, str] = {}

    async def __aenter__(self) -> SaveRunner:
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
            outcome = SaveOutcome(
                url, WaybackStatus.PENDING, self._jobs.get(url), message=self._pending_message(url)
            )
            await self._landed(outcome)

    async def save(self, url: str) -> WaybackEntry:
        """Submit ``url`` once (later calls share the first), wait ``wait_s``, say what is known."""
        landed = self._outcomes.get(url)
        if landed is None:
            landed = self._outcomes[url] = asyncio.get_running_loop().create_future()
            if self._claim is not None and not await self._claim(url):
                landed.set_result(SaveOutcome(url, WaybackStatus.SKIPPED, None, message=CLAIMED_ELSEWHERE))
            else:
                self._queue.put(url)
        try:
            return wayback_entry(await asyncio.wait_for(asyncio.shield(landed), self._wait_s))
        except TimeoutError:
            job = self._jobs.get(url)
            return WaybackEntry(WaybackStatus.PENDING, job_id=job, message=self._pending_message(url))

    def _pending_message(self, url: str) -> str:
        if url in self._jobs:
            return "capture running"
        if url in self._retries:
            return f"retrying after: {self._retries[url]}"
        return "queued behind the Save Page Now rate limit"

    def _submitted(self, url: str, job_id: str) -> None:
        self._jobs[url] = job_id

    def _retrying(self, outcome: SaveOutcome) -> None:
        self._retries[outcome.url] = outcome.message[:200]

    async def _landed(self, outcome: SaveOutcome) -> None:
        if self._data_dir is not None:
            try:
                await asyncio.to_thread(log_wayback, self._data_dir, outcome)
            except OSError as exc:
                log.warning("wayback_log_failed", error=str(exc))
        landed = self._outcomes.get(outcome.url)
        if landed is not None and not landed.done():
            landed.set_result(outcome)
