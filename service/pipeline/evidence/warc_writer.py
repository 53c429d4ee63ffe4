"""Writing fetches as WARC 1.1 records (warcio): the evidence a verdict can be checked against.

Bodies are stored **decoded**: the fetcher asks aiohttp to undo ``Content-Encoding`` and chunking,
so the bytes we hold are not the bytes that crossed the wire. A WARC's payload digest must be
over the entity as stored, and a replay tool must not try to gunzip plain HTML, so the stored
HTTP headers are rewritten to match what is stored: ``Content-Encoding``, ``Transfer-Encoding``
and ``Content-Length`` are removed, the originals are kept as ``X-Provenance-Orig-<name>``, and a
``Content-Length`` equal to the stored body length is added (dependencies.md §3).

A ``metadata`` record describing a fetch uses its own URI ``urn:provenance:meta:<final_url>``:
with the page's URI and the same second, pywb would replay it instead of the page (§5).
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from typing import Any, BinaryIO

from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date
from warcio.warcwriter import WARCWriter
from yarl import URL

from service.pipeline.errors import ArchiveError
from service.pipeline.models import Extraction, FetchResult

META_PREFIX = "urn:provenance:meta:"
ORIG_PREFIX = "X-Provenance-Orig-"
SOFTWARE = "provenance (warcio)"

# Headers that describe the wire form of the body, not the decoded bytes we store.
_WIRE_HEADERS = frozenset({"content-encoding", "transfer-encoding", "content-length"})

Headers = Sequence[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class RecordLocation:
    """Where a record landed in its output stream, and what identifies it."""

    offset: int
    length: int
    record_id: str
    digest: str | None
    warc_date: str


@dataclass(frozen=True, slots=True)
class FetchRecords:
    """The records written for one fetch: its final response and its metadata."""

    response: RecordLocation
    metadata: RecordLocation
    hops: tuple[RecordLocation, ...] = ()


def new_writer(out: BinaryIO, *, gzip: bool = True) -> WARCWriter:
    """A WARC/1.1 writer (one gzip member per record, so any record can be read by offset)."""
    return WARCWriter(out, gzip=gzip, warc_version="1.1")


def warc_date(when: datetime | None) -> str:
    """``WARC-Date`` with microseconds (WARC 1.1); naive datetimes are taken as UTC."""
    moment = when or datetime.now(UTC)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return str(datetime_to_iso_date(moment, use_micros=True))


def reason_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def stored_headers(headers: Headers, body: bytes) -> list[tuple[str, str]]:
    """The response headers as they describe the decoded ``body`` we store (see module doc)."""
    out: list[tuple[str, str]] = []
    for name, value in headers:
        if name.lower() in _WIRE_HEADERS:
            out.append((ORIG_PREFIX + name, value))
        else:
            out.append((name, value))
    out.append(("Content-Length", str(len(body))))
    return out


def _write(writer: WARCWriter, record: Any) -> RecordLocation:
    out = writer.out
    start = int(out.tell())
    writer.write_record(record)
    headers = record.rec_headers
    return RecordLocation(
        offset=start,
        length=int(out.tell()) - start,
        record_id=str(headers.get_header("WARC-Record-ID")),
        digest=headers.get_header("WARC-Payload-Digest"),
        warc_date=str(headers.get_header("WARC-Date")),
    )


def _request_line(url: str) -> tuple[str, str]:
    parsed = URL(url)
    target = parsed.raw_path_qs or "/"
    host = parsed.raw_host or ""
    if parsed.port is not None and not parsed.is_default_port():
        host = f"{host}:{parsed.port}"
    return f"GET {target} HTTP/1.1", host


def write_exchange(
    writer: WARCWriter,
    *,
    url: str,
    http_status: int,
    reason_phrase: str,
    headers: Headers,
    body: bytes,
    fetched_at: datetime | None,
    peer_ip: str | None,
    request_headers: Headers = (),
) -> RecordLocation:
    """Write a ``response`` record and then its ``request`` record; return the response's place.

    ``body`` is the decoded body; ``headers`` are rewritten by ``stored_headers``. warcio computes
    the block and payload digests; the request is tied to the response by ``WARC-Concurrent-To``.
    """
    date = warc_date(fetched_at)
    warc_headers = {"WARC-Date": date}
    if peer_ip:
        warc_headers["WARC-IP-Address"] = peer_ip
    http = StatusAndHeaders(
        f"{http_status} {reason_phrase}".strip(), stored_headers(headers, body), protocol="HTTP/1.1"
    )
    response = writer.create_warc_record(
        url, "response", payload=io.BytesIO(body), length=len(body),
        http_headers=http, warc_headers_dict=warc_headers,
    )  # fmt: skip
    location = _write(writer, response)
    line, host = _request_line(url)
    req_http = StatusAndHeaders(line, [("Host", host), *request_headers], is_http_request=True)
    req_warc = dict(warc_headers)
    req_warc["WARC-Concurrent-To"] = location.record_id
    request = writer.create_warc_record(
        url, "request", payload=io.BytesIO(b""), length=0, http_headers=req_http, warc_headers_dict=req_warc
    )
    writer.write_record(request)
    return location


def summarize_extraction(extraction: Extraction) -> dict[str, Any]:
    """What the metadata record keeps of an extraction: identity and fingerprints, not the text."""
    main = extraction.main_text.encode("utf-8")
    return {
        "title": extraction.title,
        "author": extraction.author,
        "published": extraction.published,
        "canonical_url": extraction.canonical_url,
        "main_text_length": len(extraction.main_text),
        "page_text_length": len(extraction.page_text),
        "main_text_sha256": hashlib.sha256(main).hexdigest(),
    }


def _metadata_payload(fetched: FetchResult, extraction: Mapping[str, Any] | Extraction | None) -> bytes:
    if isinstance(extraction, Extraction):
        summary: Mapping[str, Any] | None = summarize_extraction(extraction)
    else:
        summary = extraction
    doc = {
        "url": fetched.url,
        "final_url": fetched.final_url,
        "redirects": [{"url": r.url, "status": r.status} for r in fetched.redirects],
        "http_status": fetched.http_status,
        "fetched_at": fetched.fetched_at.isoformat() if fetched.fetched_at else None,
        "peer": fetched.peer,
        "body_length": len(fetched.body),
        "body_sha256": hashlib.sha256(fetched.body).hexdigest(),
        "extraction": dict(summary) if summary is not None else None,
    }
    return json.dumps(doc, ensure_ascii=False, sort_keys=True, default=str).encode("utf-8")


def hop_targets(fetched: FetchResult) -> list[tuple[str, int, str]]:
    """(url, status, Location) of each redirect hop: each hop points at the next URL."""
    urls = [r.url for r in fetched.redirects] + [fetched.final_url]
    return [(r.url, r.status, urls[i + 1]) for i, r in enumerate(fetched.redirects)]


def write_fetch(
    writer: WARCWriter,
    fetched: FetchResult,
    *,
    extraction: Mapping[str, Any] | Extraction | None = None,
    request_headers: Headers = (),
) -> FetchRecords:
    """Every record of one fetch: a response+request per redirect hop, the final pair, metadata.

    Hops are stored as their status with a ``Location`` header and an empty body (the fetcher
    keeps no more of them), so a replay follows the chain as the live fetch did.
    """
    if fetched.http_status is None:
        raise ArchiveError(f"nothing to archive for {fetched.url[:200]}: no HTTP answer ({fetched.reason})")
    hops = tuple(
        write_exchange(
            writer,
            url=url,
            http_status=status,
            reason_phrase=reason_phrase(status),
            headers=[("Location", location)],
            body=b"",
            fetched_at=fetched.fetched_at,
            peer_ip=None,
            request_headers=request_headers,
        )
        for url, status, location in hop_targets(fetched)
    )
    response = write_exchange(
        writer,
        url=fetched.final_url,
        http_status=fetched.http_status,
        reason_phrase=reason_phrase(fetched.http_status),
        headers=fetched.headers,
        body=fetched.body,
        fetched_at=fetched.fetched_at,
        peer_ip=fetched.peer,
        request_headers=request_headers,
    )
    meta = writer.create_warc_record(
        META_PREFIX + fetched.final_url,
        "metadata",
        payload=io.BytesIO(payload := _metadata_payload(fetched, extraction)),
        length=len(payload),
        warc_content_type="application/json",
        warc_headers_dict={
            "WARC-Date": response.warc_date,
            "WARC-Refers-To": response.record_id,
            "WARC-Concurrent-To": response.record_id,
        },
    )
    return FetchRecords(response=response, metadata=_write(writer, meta), hops=hops)


def write_warcinfo(writer: WARCWriter, filename: str, **extra: str) -> RecordLocation:
    """The ``warcinfo`` record that opens every file we write."""
    info = {"software": SOFTWARE, "format": "WARC File Format 1.1", **extra}
    return _write(writer, writer.create_warcinfo_record(filename, info))


def write_standalone_warc(path: Path, fetches: Iterable[FetchResult]) -> None:
    """One standalone WARC (``provenance capture URL... -o FILE.warc.gz``), warcinfo first.

    Gzipped per record when the name ends in ``.gz``. Fetches without any HTTP answer (DNS
    failure, refused address) have nothing to store and are skipped.
    """
    with path.open("wb") as fh:
        writer = new_writer(fh, gzip=path.name.endswith(".gz"))
        write_warcinfo(writer, path.name)
        for fetched in fetches:
            if fetched.http_status is not None:
                write_fetch(writer, fetched)
