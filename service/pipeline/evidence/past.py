"""The past version of a page: a live fetcher whose ``fetch_at`` answers from archives.

The past comes from the local WARC store first (read through the one checked WARC reader, stored
redirect hops followed by the one redirect follower), then from the Wayback Machine's nearest
capture at or before the post's time, fetched raw (``id_``).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import datetime

import structlog

from service.pipeline.errors import ArchiveError
from service.pipeline.evidence.store import EvidenceStore
from service.pipeline.evidence.wayback import WaybackClient
from service.pipeline.fetch.redirects import REDIRECT_STATUSES, Hop, follow_redirects
from service.pipeline.fetch.warc_reader import Capture
from service.pipeline.models import (
    ConditionalFetcher,
    Fetcher,
    FetchResult,
    Redirect,
    SourceReason,
    SourceStatus,
    header_value,
)

log = structlog.get_logger(__name__)


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

    async def fetch_if_changed(self, url: str, validators: tuple[tuple[str, str], ...]) -> FetchResult:
        if isinstance(self.live, ConditionalFetcher):
            return await self.live.fetch_if_changed(url, validators)
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
        content_type = header_value(headers, "content-type")
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
