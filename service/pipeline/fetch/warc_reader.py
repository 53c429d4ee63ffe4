"""Reading WARC files: the one checked reader used by replay and by the evidence store.

A capture is found by its index entry (``Capture``: URL, date, file, offset) and read on demand by
seeking to its offset, so memory stays flat however large the archive. Every read checks the
record's digests and caps its body: a truncated or edited record is never taken as evidence,
whichever caller asks (replay, or the store's past-version lookup).

A revisit record carries what finds its original (``WARC-Refers-To``, ``WARC-Refers-To-Target-URI``
+ ``-Date``, ``WARC-Payload-Digest``, compared through ``digest_key`` in any encoding); the caller
resolves it (``replay.py``) and ``read_capture`` takes the body, and for a ``server-not-modified``
revisit or one with an empty block also the status and headers, from that original, dated by the
revisit.
"""

from __future__ import annotations

import base64
import binascii
import os
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, ClassVar, cast

from isal import isal_zlib
from warcio.archiveiterator import ArchiveIterator
from warcio.bufferedreaders import DecompressingBufferedReader
from warcio.exceptions import ArchiveLoadFailed
from warcio.recordloader import ArcWarcRecord
from warcio.statusandheaders import StatusAndHeaders

from service.pipeline.errors import ArchiveError, BodyTooLarge, FetchError
from service.pipeline.fetch.answers import REDIRECT_STATUSES
from service.pipeline.models import FetchResult, Redirect, SourceReason, SourceStatus, WarcEntry, header_value

WARC_SUFFIXES = (".warc", ".warc.gz")
NOT_MODIFIED_PROFILE = "/revisit/server-not-modified"
_INFLATE_ERROR = cast("type[Exception]", isal_zlib.error)  # a class; isal's stub calls it an instance


def _isal_gzip() -> object:
    return isal_zlib.decompressobj(16 + isal_zlib.MAX_WBITS)


class _IsalGzipReader(DecompressingBufferedReader):  # type: ignore[misc]
    """warcio's record reader with ISA-L's inflate (``isal``, the same API as ``zlib``), which
    inflates a corpus record 2-2.5 times faster: every replayed record is inflated twice (once
    to index the file, once to read it), the largest cost of a replayed page in the main
    process. Corrupt data raises ``isal_zlib.error`` where zlib raised ``zlib.error``; warcio
    catches both alike (any exception on a first block means "not gzip")."""

    DECOMPRESSORS: ClassVar[dict[str, Callable[[], object]]] = {
        **DecompressingBufferedReader.DECOMPRESSORS,
        "gzip": _isal_gzip,
    }


def _records(fh: BinaryIO, *, check_digests: bool | str = False) -> ArchiveIterator:
    """warcio's iterator over ``fh``, reading through ``_IsalGzipReader``. The reader is swapped
    before the first record is read (warcio takes no reader class; the iterator is lazy)."""
    records = ArchiveIterator(fh, check_digests=check_digests)
    records.reader = _IsalGzipReader(records.fh)
    return records


def digest_key(value: str | None) -> str | None:
    """A SHA-1 digest in one spelling (``sha1:`` + base32, upper case) whether written in base32
    or hex, with or without the ``sha1:`` label; None for anything else (other algorithms keep
    their own spelling, lower-cased label)."""
    if not value:
        return None
    text = value.strip()
    label, sep, digest = text.partition(":")
    if not sep:
        label, digest = "sha1", text
    label = label.lower()
    if label != "sha1":
        return f"{label}:{digest}"
    if len(digest) == 40:
        try:
            return "sha1:" + base64.b32encode(bytes.fromhex(digest)).decode()
        except ValueError:
            return None
    try:
        raw = base64.b32decode(digest.upper())
    except (binascii.Error, ValueError):
        return None
    return "sha1:" + base64.b32encode(raw).decode() if len(raw) == 20 else None


def _uri(value: str | None) -> str:
    return (value or "").strip().strip("<>")


@dataclass(frozen=True, slots=True)
class Capture:
    """One response (or revisit) record of a WARC file, as an index describes it.

    Enough to seek to the record and check it, nothing more: ``path`` is the WARC file,
    ``offset`` where the record starts, ``digest`` its ``WARC-Payload-Digest``; ``length``,
    ``status`` and ``mime`` are known when the index (CDXJ) recorded them.
    """

    url: str
    captured_at: datetime
    path: Path
    offset: int
    digest: str | None = None
    revisit: bool = False
    length: int | None = None
    status: int | None = None
    mime: str | None = None
    record_id: str | None = None
    refers_to: str | None = None
    refers_to_url: str | None = None
    refers_to_date: datetime | None = None
    not_modified: bool = False


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    """The HTTP answer a capture holds, body decoded (chunking and Content-Encoding removed)."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    ip: str | None

    def as_fetch_result(
        self,
        capture: Capture,
        *,
        url: str,
        final_url: str,
        redirects: tuple[Redirect, ...] = (),
        evidence: WarcEntry | None = None,
        body_sha256: str | None = None,
    ) -> FetchResult:
        """This answer as a fetch of ``url`` that ended at ``final_url``, dated by its capture;
        ``body_sha256``: the body's SHA-256, when whoever read the capture took it already.

        ``status`` is ``ok``: whether the answer is a page to read is the caller's rule
        (``answers.py``), applied after redirects are followed.
        """
        return FetchResult(
            url=url,
            final_url=final_url,
            status=SourceStatus.OK,
            redirects=redirects,
            http_status=self.status,
            content_type=header_value(self.headers, "content-type"),
            headers=self.headers,
            body=self.body,
            fetched_at=capture.captured_at,
            captured_at=capture.captured_at,
            peer=self.ip,
            evidence=evidence,
            body_sha256=body_sha256,
        )


def parse_warc_date(value: str | None) -> datetime | None:
    """A ``WARC-Date`` (ISO 8601, ``Z`` or an offset; naive means UTC), or None if unreadable."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
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


def index_warc(path: Path) -> list[Capture]:
    """Every response and revisit record of one WARC file, in file order."""
    captures: list[Capture] = []
    try:
        with path.open("rb") as fh:
            records = _records(fh)
            last: Capture | None = None  # the previous record's capture, whose length is now known
            for rec in records:
                offset = records.get_record_offset()
                if last is not None:
                    captures.append(replace(last, length=offset - last.offset))
                    last = None
                if not str(rec.format).startswith("warc"):
                    raise ArchiveError(f"not a WARC file: {path}")
                # A revisit may have an empty block (no HTTP headers): it still is a capture.
                if rec.rec_type != "revisit" and (rec.rec_type != "response" or rec.http_headers is None):
                    continue
                last = _capture_of(rec, path, offset)
            if last is not None:
                captures.append(replace(last, length=fh.seek(0, os.SEEK_END) - last.offset))
    except (ArchiveLoadFailed, AttributeError) as e:  # warcio: AttributeError on a record cut in its headers
        raise ArchiveError(f"unreadable WARC {path}: {e}") from e
    return captures


def _capture_of(rec: ArcWarcRecord, path: Path, offset: int) -> Capture | None:
    """The index entry of one response or revisit record; None without a URI or a date."""
    head = rec.rec_headers.get_header
    uri, date = _uri(head("WARC-Target-URI")), parse_warc_date(head("WARC-Date"))
    if not uri or date is None:
        return None
    revisit = rec.rec_type == "revisit"
    http = rec.http_headers
    status = http.get_statuscode() if http is not None else None
    return Capture(
        url=uri,
        captured_at=date,
        path=path,
        offset=offset,
        revisit=revisit,
        digest=head("WARC-Payload-Digest"),
        record_id=_uri(head("WARC-Record-ID")) or None,
        refers_to=_uri(head("WARC-Refers-To")) or None if revisit else None,
        refers_to_url=_uri(head("WARC-Refers-To-Target-URI")) or None if revisit else None,
        refers_to_date=parse_warc_date(head("WARC-Refers-To-Date")) if revisit else None,
        not_modified=revisit
        and (NOT_MODIFIED_PROFILE in (head("WARC-Profile") or "") or status == "304" or http is None),
    )


def read_capture(capture: Capture, *, limit: int, original: Capture | None = None) -> StoredAnswer:
    """A capture, decoded; a revisit takes its body from ``original``.

    Raises ``FetchError(corrupt_capture)`` when the record cannot be read or its digests do not
    verify (a truncated or edited file must not pass for evidence), ``BodyTooLarge`` past
    ``limit`` bytes, ``FetchError(revisit_original_missing)`` for a revisit with no original.
    """
    try:
        return _read_checked(capture, original, limit)
    # warcio raises AttributeError (not ArchiveLoadFailed) for a record cut inside its WARC headers.
    except (
        ArchiveLoadFailed,
        AttributeError,
        EOFError,
        OSError,
        StopIteration,
        zlib.error,
        _INFLATE_ERROR,
    ) as e:
        raise FetchError(
            f"capture at {capture.path.name}:{capture.offset} is damaged", reason=SourceReason.CORRUPT_CAPTURE
        ) from e


def _read_checked(capture: Capture, original: Capture | None, limit: int) -> StoredAnswer:
    """Seek to a capture and decode it: the record must be the one its index names, and every
    record with a payload (redirects included) must pass its digests; a revisit takes its body
    from its original, read under the same rules."""
    with capture.path.open("rb") as fh:
        fh.seek(capture.offset)
        rec = next(iter(_records(fh, check_digests="raise")))
        if rec.rec_type not in ("response", "revisit"):
            raise ArchiveLoadFailed(f"no response record at {capture.path.name}:{capture.offset}")
        if rec.http_headers is None and rec.rec_type != "revisit":
            raise ArchiveLoadFailed(f"no HTTP answer at {capture.path.name}:{capture.offset}")
        uri = _uri(rec.rec_headers.get_header("WARC-Target-URI"))
        if uri != capture.url:
            raise ArchiveLoadFailed(
                f"the record at {capture.path.name}:{capture.offset} is not {capture.url!r}"
            )
        ip = rec.rec_headers.get_header("WARC-IP-Address")
        ip = str(ip) if ip else None
        http = rec.http_headers
        status, headers = _status_and_headers(http)
        body: bytes = rec.content_stream().read(limit + 1) if http is not None else b""
        if len(body) > limit:
            raise BodyTooLarge(f"more than {limit} bytes")
        # warcio checks a digest only once the record was read to its declared length: a record
        # cut short never gets there, so "not checked" is a failure too when it declares a digest.
        # (A revisit's payload digest names its original's payload, checked when that is read.)
        declared = rec.rec_headers.get_header("WARC-Payload-Digest") or rec.rec_headers.get_header(
            "WARC-Block-Digest"
        )
        if not capture.revisit and declared and rec.digest_checker.passed is not True:
            raise ArchiveLoadFailed("record digest not verified (truncated?)")
    if capture.revisit:
        return _resolved(capture, original, status, headers, ip, limit)
    if status in REDIRECT_STATUSES:
        return StoredAnswer(status, headers, b"", ip)
    return StoredAnswer(status, headers, body, ip)


def _status_and_headers(http: StatusAndHeaders | None) -> tuple[int, tuple[tuple[str, str], ...]]:
    if http is None:
        return 0, ()
    try:
        status = int(http.get_statuscode() or 0)
    except ValueError as e:
        raise ArchiveLoadFailed("unreadable HTTP status line") from e
    return status, tuple((str(k), str(v)) for k, v in http.headers)


def _resolved(
    capture: Capture,
    original: Capture | None,
    status: int,
    headers: tuple[tuple[str, str], ...],
    ip: str | None,
    limit: int,
) -> StoredAnswer:
    """A revisit answered from its original: the body always; for a ``server-not-modified``
    revisit (or one without HTTP headers) the original's status and headers as well."""
    if status in REDIRECT_STATUSES and not capture.not_modified:
        return StoredAnswer(status, headers, b"", ip)
    if original is None:
        raise FetchError(
            f"revisit of {capture.url[:200]} at {capture.captured_at.isoformat()}: its original is not "
            "in the archive",
            reason=SourceReason.REVISIT_ORIGINAL_MISSING,
        )
    first = read_capture(original, limit=limit)
    if capture.not_modified or status == 0:
        return StoredAnswer(first.status, first.headers, first.body, ip or first.ip)
    return StoredAnswer(status, headers, first.body, ip)
