"""Answering fetches from WARC files (``--replay``): the same ``FetchResult`` as the live web.

The index holds only each capture's place (``warc_reader.Capture``); a record is read on demand
through the one checked reader, so memory stays flat however large the archive. Replay semantics
are the contract's: the live version of a URL is its latest capture, the at-post version the
latest at or before a moment; redirect captures are followed hop by hop (``redirects.py``) under
the same time rule.

A capture is read by the run's ``CaptureReader`` when it has one: the extraction pool, which reads
the record in the worker that will extract its page (``extract/captures.py``), so the parent
neither inflates nor hashes it. Without one it is read here, by the same checked reader.

A revisit is resolved by reference, in any replayed file: ``WARC-Refers-To`` (the original's
record id), then ``WARC-Refers-To-Target-URI`` + ``-Date``, then the payload digest in any encoding
(``digest_key``), preferring the same URL at or before the revisit. One that resolves to nothing
answers ``revisit_original_missing``; it is never skipped.
"""

from __future__ import annotations

import asyncio
import bisect
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from yarl import URL

from service.pipeline.errors import FetchError, InvalidURL, NotInReplay, TooManyRedirects, UnsupportedURL
from service.pipeline.fetch.answers import content_type_accepted, failure, http_status_error
from service.pipeline.fetch.redirects import REDIRECT_STATUSES, Hop, follow_redirects
from service.pipeline.fetch.warc_reader import (
    Capture,
    StoredAnswer,
    digest_key,
    index_warc,
    read_capture,
    warc_files,
)
from service.pipeline.models import (
    FetchResult,
    Redirect,
    SourceReason,
    WarcEntry,
    header_value,
)
from service.pipeline.urls import URL_PARSE_ERRORS, normalize_url
from service.settings import HttpSettings


def _key(url: str) -> str | None:
    try:
        return normalize_url(url)
    except (UnsupportedURL, InvalidURL):
        return None


class CaptureReader(Protocol):
    """Reads a capture somewhere other than the event loop (``ExtractorPool.read_capture``)."""

    async def read_capture(
        self,
        capture: Capture,
        original: Capture | None,
        *,
        url: str,
        limit: int,
        accepted: tuple[str, ...],
        extract: bool,
    ) -> tuple[StoredAnswer, str | None]:
        """``warc_reader.read_capture``'s answer (it raises as that does) and the SHA-256 of its
        body when taken. ``url``: the URL the capture answers for; ``extract``: whether its page
        may be extracted while it is read (false when a capture of the same payload was read)."""
        ...


class _NoCapture(Exception):
    """The asked URL (or a hop of it) has no capture at or before the moment asked."""


_AnswerKey = tuple[str, str, Path, int, tuple[Redirect, ...]]
# The last answers read, for a second fetch of the same capture: a post's live and at-post
# versions are one capture when nothing newer was archived before the post (a batch asks both
# for every cited URL). Bounded in count and in body bytes, so memory stays flat.
_RECENT_ANSWERS = 64
_RECENT_BYTES = 16 * 1024 * 1024
# Payload digests of the last captures read by the reader (``_read_elsewhere``).
_PAYLOADS_READ = 4096


class ReplayArchive:
    """Answers URLs from WARC captures (the ``Fetcher`` protocol); nothing touches the network."""

    def __init__(
        self,
        captures: Iterable[Capture],
        settings: HttpSettings | None = None,
        *,
        reader: CaptureReader | None = None,
    ) -> None:
        self._settings = settings or HttpSettings()
        self._reader = reader
        self._payloads_read: OrderedDict[str, asyncio.Future[None]] = OrderedDict()
        self._recent: OrderedDict[_AnswerKey, FetchResult | Hop] = OrderedDict()
        self._recent_bytes = 0
        self._exact: dict[str, list[Capture]] = {}
        self._canonical: dict[str, list[Capture]] = {}
        self._by_digest: dict[str, list[Capture]] = {}
        self._by_id: dict[str, Capture] = {}
        self._by_uri_date: dict[tuple[str, datetime], Capture] = {}
        for cap in sorted(captures, key=lambda c: c.captured_at):
            self._exact.setdefault(cap.url, []).append(cap)
            key = _key(cap.url)
            if key is not None:
                self._canonical.setdefault(key, []).append(cap)
            if cap.revisit:
                continue
            if cap.record_id:
                self._by_id.setdefault(cap.record_id, cap)
            self._by_uri_date.setdefault((cap.url, cap.captured_at), cap)
            digest = digest_key(cap.digest)
            if digest:
                self._by_digest.setdefault(digest, []).append(cap)
        self._size = sum(len(v) for v in self._exact.values())

    @classmethod
    def open(
        cls,
        paths: Sequence[Path],
        *,
        settings: HttpSettings | None = None,
        reader: CaptureReader | None = None,
    ) -> ReplayArchive:
        """Index every response and revisit record of these files or folders."""
        captures = [cap for path in warc_files(paths) for cap in index_warc(path)]
        return cls(captures, settings, reader=reader)

    def __len__(self) -> int:
        return self._size

    def captures(self, url: str) -> tuple[Capture, ...]:
        """Every capture of ``url`` (exact URI, else its canonical form), oldest first."""
        key = _key(url)
        return tuple(self._exact.get(url) or (self._canonical.get(key, []) if key else []))

    def original(self, revisit: Capture) -> Capture | None:
        """The response a revisit stands for (see the module doc for the order); None if none."""
        if revisit.refers_to and revisit.refers_to in self._by_id:
            return self._by_id[revisit.refers_to]
        if revisit.refers_to_url and revisit.refers_to_date:
            found = self._by_uri_date.get((revisit.refers_to_url, revisit.refers_to_date))
            if found is not None:
                return found
        candidates = self._by_digest.get(digest_key(revisit.digest) or "", [])
        if not candidates:
            return None
        before = [c for c in candidates if c.captured_at <= revisit.captured_at] or candidates
        same_url = [c for c in before if c.url == revisit.url]
        return (same_url or before)[-1]

    async def fetch(self, url: str) -> FetchResult:
        """The latest capture of ``url``, redirects followed."""
        result = await self._resolve(url, None)
        return result if result is not None else failure(url, url, NotInReplay(url[:200]))

    async def fetch_at(self, url: str, when: datetime) -> FetchResult | None:
        """The latest capture at or before ``when``; None if ``url`` has none."""
        moment = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
        return await self._resolve(url, moment)

    def _pick(self, url: str, when: datetime | None) -> Capture | None:
        key = _key(url)
        for caps in (self._exact.get(url), self._canonical.get(key) if key else None):
            if not caps:
                continue
            if when is None:
                return caps[-1]
            i = bisect.bisect_right([c.captured_at for c in caps], when)
            if i:
                return caps[i - 1]
        return None

    async def _resolve(self, url: str, when: datetime | None) -> FetchResult | None:
        async def step(current: str, redirects: tuple[Redirect, ...]) -> FetchResult | Hop:
            if not _fetchable(current):
                return failure(url, current, UnsupportedURL(current[:200]), redirects=redirects)
            capture = self._pick(current, when)
            if capture is None:
                if when is not None and not redirects:
                    raise _NoCapture
                return failure(url, current, NotInReplay(current[:200]), redirects=redirects)
            return await self._answer(url, current, capture, redirects)

        try:
            followed = await follow_redirects(url, step, max_redirects=self._settings.max_redirects)
        except _NoCapture:
            return None
        if followed.answer is not None:
            return followed.answer
        err = TooManyRedirects(self._settings.max_redirects)
        return failure(url, followed.url, err, redirects=followed.redirects)

    async def _answer(
        self, url: str, current: str, capture: Capture, redirects: tuple[Redirect, ...]
    ) -> FetchResult | Hop:
        """One capture as a final result, or the next hop of a redirect capture; the same capture
        asked again the same way (``url``, hop and chain) is the same answer, read once."""
        key: _AnswerKey = (url, current, capture.path, capture.offset, redirects)
        answer = self._recent.get(key)
        if answer is None:
            answer = await self._read(url, current, capture, redirects)
            self._remember(key, answer)
        return answer

    def _remember(self, key: _AnswerKey, answer: FetchResult | Hop) -> None:
        self._recent[key] = answer
        self._recent_bytes += len(answer.body) if isinstance(answer, FetchResult) else 0
        while len(self._recent) > _RECENT_ANSWERS or self._recent_bytes > _RECENT_BYTES:
            _, old = self._recent.popitem(last=False)
            self._recent_bytes -= len(old.body) if isinstance(old, FetchResult) else 0

    async def _read(
        self, url: str, current: str, capture: Capture, redirects: tuple[Redirect, ...]
    ) -> FetchResult | Hop:
        settings = self._settings
        original = self.original(capture) if capture.revisit else None
        digest: str | None = None
        try:
            if self._reader is not None:
                record, digest = await self._read_elsewhere(self._reader, capture, original, current)
            elif _small(capture) and (original is None or _small(original)):
                # Read here: the hand-off to a thread cost more than reading a small record.
                record = read_capture(capture, limit=settings.max_body_bytes, original=original)
            else:
                record = await asyncio.to_thread(
                    read_capture, capture, limit=settings.max_body_bytes, original=original
                )
        except FetchError as err:
            return failure(url, current, err, redirects=redirects, captured_at=capture.captured_at)
        evidence = WarcEntry(
            file=str(capture.path),
            offset=capture.offset,
            length=None,
            digest=capture.digest,
            captured_at=capture.captured_at.isoformat(),
        )  # given at once: each FetchResult made (``replace`` too) hashes the body again
        result = record.as_fetch_result(
            capture, url=url, final_url=current, redirects=redirects, evidence=evidence, body_sha256=digest
        )
        location = header_value(record.headers, "location")
        if record.status in REDIRECT_STATUSES and location:
            return Hop(record.status, location)
        problem: FetchError | None = http_status_error(record.status)
        if problem is None and not content_type_accepted(
            result.content_type, record.body, settings.accepted_content_types
        ):
            problem = FetchError(
                f"content type {result.content_type!r}", reason=SourceReason.UNSUPPORTED_CONTENT_TYPE
            )
        if problem is not None:
            return failure(
                url, current, problem, redirects=redirects, http_status=record.status, headers=record.headers,
                fetched_at=capture.captured_at, captured_at=capture.captured_at, peer=record.ip,
                body=record.body if problem.reason.http_status else b"", evidence=result.evidence,
            )  # fmt: skip
        return result

    async def _read_elsewhere(
        self, reader: CaptureReader, capture: Capture, original: Capture | None, current: str
    ) -> tuple[StoredAnswer, str | None]:
        """The capture read by ``reader``, its page extracted meanwhile unless a capture of the same
        payload (``WARC-Payload-Digest``) was read lately: the extraction cache has that page (or it
        was none). A read of a payload being read waits for that read, so the page it extracts is in
        the cache before this one's is asked for; a capture without a digest is always new."""
        settings = self._settings

        async def read(extract: bool) -> tuple[StoredAnswer, str | None]:
            return await reader.read_capture(
                capture, original, url=current, limit=settings.max_body_bytes,
                accepted=settings.accepted_content_types, extract=extract,
            )  # fmt: skip

        payload = digest_key(capture.digest)
        if payload is None:
            return await read(extract=True)
        earlier = self._payloads_read.get(payload)
        if earlier is not None:
            self._payloads_read.move_to_end(payload)
            if not earlier.done():
                await asyncio.wait([earlier])
            return await read(extract=False)
        reading = self._payloads_read[payload] = asyncio.get_running_loop().create_future()
        while len(self._payloads_read) > _PAYLOADS_READ:
            self._payloads_read.popitem(last=False)
        try:
            return await read(extract=True)
        finally:
            reading.set_result(None)


# Records up to this many bytes in the file are read on the event loop (most pages: 10-30 KB
# gzipped, about a millisecond to inflate and check); the body limit bounds what one inflates to.
INLINE_CAPTURE_BYTES = 64 * 1024


def _small(capture: Capture) -> bool:
    return capture.length is not None and capture.length <= INLINE_CAPTURE_BYTES


def _fetchable(url: str) -> bool:
    """An http(s) URL; replay answers nothing else, as the live fetcher would not."""
    try:
        return URL(url).scheme in ("http", "https")
    except URL_PARSE_ERRORS:
        return False
