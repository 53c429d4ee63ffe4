"""Answering fetches from WARC files (``--replay``): the same ``FetchResult`` as the live web.

The index holds only (URI, date, file, offset) per capture; a record is read on demand by
seeking to its offset, so memory stays flat however large the archive. Replay semantics are the
contract's: the live version of a URL is its latest capture, the at-post version the latest at
or before a moment; redirect captures are followed hop by hop under the same time rule.
"""

from __future__ import annotations

import asyncio
import bisect
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed
from yarl import URL

from service.pipeline.errors import (
    ArchiveError,
    BodyTooLarge,
    FetchError,
    NotInReplay,
    UnsupportedURL,
)
from service.pipeline.fetch.session import (
    REDIRECT_STATUSES,
    content_type_accepted,
    failure,
    http_status_error,
)
from service.pipeline.models import ArchiveRecord, FetchResult, Redirect, SourceStatus
from service.pipeline.urls import normalize_url
from service.settings import HttpSettings

WARC_SUFFIXES = (".warc", ".warc.gz")


@dataclass(frozen=True, slots=True)
class Capture:
    """Where one capture of a URL lives: enough to seek to it later, nothing more."""

    uri: str
    date: datetime
    path: Path
    offset: int
    revisit: bool = False
    payload_digest: str | None = None


@dataclass(frozen=True, slots=True)
class _Record:
    """The HTTP answer stored in a capture, body decoded (chunking and Content-Encoding removed)."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    ip: str | None


def _key(url: str) -> str | None:
    try:
        return normalize_url(url)
    except UnsupportedURL:
        return None


def _parse_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def warc_files(paths: Iterable[Path]) -> list[Path]:
    """Each path as given if a file, or every ``.warc``/``.warc.gz`` below it if a folder."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith(WARC_SUFFIXES)))
        elif path.is_file():
            found.append(path)
        else:
            raise FileNotFoundError(f"replay path not found: {path}")
    return found


def _index_file(path: Path) -> list[Capture]:
    captures: list[Capture] = []
    try:
        with path.open("rb") as fh:
            records = ArchiveIterator(fh)
            for rec in records:
                if not str(rec.format).startswith("warc"):
                    raise ArchiveError(f"not a WARC file: {path}")
                if rec.rec_type not in ("response", "revisit") or rec.http_headers is None:
                    continue
                uri = (rec.rec_headers.get_header("WARC-Target-URI") or "").strip().strip("<>")
                date = _parse_date(rec.rec_headers.get_header("WARC-Date"))
                if not uri or date is None:
                    continue
                captures.append(
                    Capture(
                        uri=uri,
                        date=date,
                        path=path,
                        offset=records.get_record_offset(),
                        revisit=rec.rec_type == "revisit",
                        payload_digest=rec.rec_headers.get_header("WARC-Payload-Digest"),
                    )
                )
    except ArchiveLoadFailed as e:
        raise ArchiveError(f"unreadable WARC {path}: {e}") from e
    return captures


def _read_body(path: Path, offset: int, limit: int) -> bytes:
    with path.open("rb") as fh:
        fh.seek(offset)
        rec = next(iter(ArchiveIterator(fh)))
        body: bytes = rec.content_stream().read(limit + 1)
    if len(body) > limit:
        raise BodyTooLarge(f"more than {limit} bytes")
    return body


def _read_record(capture: Capture, original: Capture | None, limit: int) -> _Record:
    """A capture, decoded, or ``FetchError(corrupt_capture)`` when its digests do not verify (a
    truncated or edited file must not pass for evidence)."""
    try:
        return _read_checked(capture, original, limit)
    except (ArchiveLoadFailed, EOFError, OSError, zlib.error) as e:
        raise FetchError(
            f"capture at {capture.path.name}:{capture.offset} is damaged", reason="corrupt_capture"
        ) from e


def _read_checked(capture: Capture, original: Capture | None, limit: int) -> _Record:
    """Seek to a capture and decode it; a revisit takes its body from the original response."""
    with capture.path.open("rb") as fh:
        fh.seek(capture.offset)
        rec = next(iter(ArchiveIterator(fh, check_digests="raise")))
        http = rec.http_headers
        status = int(http.get_statuscode() or 0)
        headers = tuple((str(k), str(v)) for k, v in http.headers)
        ip = rec.rec_headers.get_header("WARC-IP-Address")
        redirect = status in REDIRECT_STATUSES
        if not capture.revisit and not redirect:
            body: bytes = rec.content_stream().read(limit + 1)
            if len(body) > limit:
                raise BodyTooLarge(f"more than {limit} bytes")
            # warcio checks a digest only once the record was read to its declared length: a
            # record cut short never gets there, so "not checked" is a failure too when the
            # record declares a digest.
            declared = rec.rec_headers.get_header("WARC-Payload-Digest") or rec.rec_headers.get_header(
                "WARC-Block-Digest"
            )
            if declared and rec.digest_checker.passed is not True:
                raise ArchiveLoadFailed("record digest not verified (truncated?)")
            return _Record(status, headers, body, ip)
    if capture.revisit and not redirect:
        if original is None:
            raise FetchError("revisit of a capture not in the archive", reason="revisit_original_missing")
        return _Record(status, headers, _read_body(original.path, original.offset, limit), ip)
    return _Record(status, headers, b"", ip)


class ReplayArchive:
    """Answers URLs from WARC captures (the ``Fetcher`` protocol); nothing touches the network."""

    def __init__(self, captures: Iterable[Capture], settings: HttpSettings | None = None) -> None:
        self._settings = settings or HttpSettings()
        self._exact: dict[str, list[Capture]] = {}
        self._canonical: dict[str, list[Capture]] = {}
        self._by_digest: dict[str, Capture] = {}
        for cap in sorted(captures, key=lambda c: c.date):
            self._exact.setdefault(cap.uri, []).append(cap)
            key = _key(cap.uri)
            if key is not None:
                self._canonical.setdefault(key, []).append(cap)
            if not cap.revisit and cap.payload_digest:
                self._by_digest.setdefault(cap.payload_digest, cap)
        self._size = sum(len(v) for v in self._exact.values())

    @classmethod
    def open(cls, paths: Sequence[Path], *, settings: HttpSettings | None = None) -> ReplayArchive:
        """Index every response and revisit record of these files or folders."""
        captures = [cap for path in warc_files(paths) for cap in _index_file(path)]
        return cls(captures, settings)

    def __len__(self) -> int:
        return self._size

    def captures(self, url: str) -> tuple[Capture, ...]:
        """Every capture of ``url`` (exact URI, else its canonical form), oldest first."""
        key = _key(url)
        return tuple(self._exact.get(url) or (self._canonical.get(key, []) if key else []))

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
            i = bisect.bisect_right([c.date for c in caps], when)
            if i:
                return caps[i - 1]
        return None

    async def _resolve(self, url: str, when: datetime | None) -> FetchResult | None:
        redirects: list[Redirect] = []
        current = url
        for _ in range(self._settings.max_redirects + 1):
            if not _fetchable(current):
                return failure(url, current, UnsupportedURL(current[:200]), redirects=tuple(redirects))
            capture = self._pick(current, when)
            if capture is None:
                if when is not None and not redirects:
                    return None
                return failure(url, current, NotInReplay(current[:200]), redirects=tuple(redirects))
            answer = await self._answer(url, current, capture, tuple(redirects))
            if isinstance(answer, FetchResult):
                return answer
            redirects.append(Redirect(url=current, status=answer[0]))
            current = answer[1]
        err = FetchError(f"more than {self._settings.max_redirects} redirects", reason="too_many_redirects")
        return failure(url, current, err, redirects=tuple(redirects))

    async def _answer(
        self, url: str, current: str, capture: Capture, redirects: tuple[Redirect, ...]
    ) -> FetchResult | tuple[int, str]:
        """One capture as a final result, or (status, next URL) for a redirect capture."""
        settings = self._settings
        original = self._by_digest.get(capture.payload_digest or "") if capture.revisit else None
        try:
            record = await asyncio.to_thread(_read_record, capture, original, settings.max_body_bytes)
        except FetchError as err:
            return failure(url, current, err, redirects=redirects, captured_at=capture.date)
        result = FetchResult(
            url=url,
            final_url=current,
            status=SourceStatus.OK,
            redirects=redirects,
            http_status=record.status,
            content_type=_header(record.headers, "content-type"),
            headers=record.headers,
            body=record.body,
            fetched_at=capture.date,
            captured_at=capture.date,
            peer=record.ip,
            evidence=ArchiveRecord(
                file=str(capture.path),
                offset=capture.offset,
                length=None,
                digest=capture.payload_digest,
                captured_at=capture.date.isoformat(),
            ),
        )
        location = _header(record.headers, "location")
        if record.status in REDIRECT_STATUSES and location:
            return record.status, _join(current, location.strip())
        problem: FetchError | None = http_status_error(record.status)
        if problem is None and not content_type_accepted(
            result.content_type, record.body, settings.accepted_content_types
        ):
            problem = FetchError(f"content type {result.content_type!r}", reason="unsupported_content_type")
        if problem is not None:
            return failure(
                url, current, problem, redirects=redirects, http_status=record.status, headers=record.headers,
                fetched_at=capture.date, captured_at=capture.date, peer=record.ip,
                body=record.body if problem.reason.startswith("http_") else b"", evidence=result.evidence,
            )  # fmt: skip
        return result


def _fetchable(url: str) -> bool:
    """An http(s) URL; replay answers nothing else, as the live fetcher would not."""
    try:
        return URL(url).scheme in ("http", "https")
    except (ValueError, UnicodeError):
        return False


def _header(headers: tuple[tuple[str, str], ...], name: str) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


def _join(base: str, location: str) -> str:
    try:
        return str(URL(base).join(URL(location)))
    except (ValueError, UnicodeError):
        return location
