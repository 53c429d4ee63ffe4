"""Shared by the WARC tests: WARC files written from a list of captures, a sample redirect-chain
fetch, and warcio's own checker and indexer."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from service.pipeline.models import FetchResult, Redirect, SourceStatus

WARCIO = str(Path(sys.executable).with_name("warcio"))
WHEN = datetime(2024, 5, 14, 9, 30, 0, 123456, tzinfo=UTC)
PAGE = b"<!doctype html><html><head><title>T</title></head><body><p>Quoted words.</p></body></html>"


def chain_fetch(body: bytes = PAGE) -> FetchResult:
    """A 301 -> 301 -> 200 fetch whose origin answered gzip (body here is the decoded one)."""
    return FetchResult(
        url="http://example.com/old",
        final_url="https://example.com/new?b=2&a=1",
        status=SourceStatus.OK,
        redirects=(Redirect("http://example.com/old", 301), Redirect("https://example.com/old", 301)),
        http_status=200,
        content_type="text/html; charset=utf-8",
        headers=(
            ("Content-Type", "text/html; charset=utf-8"),
            ("Content-Encoding", "gzip"),
            ("Content-Length", "61"),
            ("Transfer-Encoding", "chunked"),
        ),
        body=body,
        fetched_at=WHEN,
        peer="93.184.215.14",
    )


def warcio_check(path: Path) -> str:
    """``warcio check -v`` output; fails the test unless every digest passes."""
    done = subprocess.run([WARCIO, "check", "-v", str(path)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "fail" not in done.stdout.replace(str(path), "").lower(), done.stdout  # the path may say "fail"
    return done.stdout


def warcio_index(path: Path) -> list[dict[str, str]]:
    """``warcio index`` rows with type, URI, offset and HTTP status."""
    fields = "warc-type,warc-target-uri,offset,length,http:status,warc-refers-to,warc-record-id"
    done = subprocess.run(
        [WARCIO, "index", "-f", fields, str(path)], capture_output=True, text=True, check=True
    )
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


@dataclass
class Cap:
    """One capture to write: URL, date, HTTP status line, headers, body, WARC type, peer address."""

    url: str
    when: datetime
    body: bytes = b""
    status: str = "200 OK"
    headers: tuple[tuple[str, str], ...] = (("Content-Type", "text/html; charset=utf-8"),)
    kind: str = "response"
    ip: str | None = None


def write_warc(path: Path, caps: list[Cap], *, compress: bool = True) -> Path:
    """A WARC/1.1 file with these captures (each response preceded by its request)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        writer = WARCWriter(fh, gzip=compress, warc_version="1.1")
        for cap in caps:
            date = cap.when.strftime("%Y-%m-%dT%H:%M:%SZ")
            request = writer.create_warc_record(
                cap.url, "request",
                http_headers=StatusAndHeaders("GET / HTTP/1.1", [("Host", "x")], is_http_request=True),
                warc_headers_dict={"WARC-Date": date},
            )  # fmt: skip
            writer.write_record(request)
            http = StatusAndHeaders(cap.status, list(cap.headers), protocol="HTTP/1.1")
            if cap.kind == "revisit":
                record = writer.create_revisit_record(
                    cap.url,
                    digest=cap.body.decode(),
                    refers_to_uri=cap.url,
                    refers_to_date=date,
                    http_headers=http,
                )
                record.rec_headers.replace_header("WARC-Date", date)
            else:
                record = writer.create_warc_record(
                    cap.url, "response", payload=BytesIO(cap.body), length=len(cap.body), http_headers=http,
                    warc_headers_dict={"WARC-Date": date},
                )  # fmt: skip
            if cap.ip:
                record.rec_headers.add_header("WARC-IP-Address", cap.ip)
            writer.write_record(record)
    return path


def tamper(path: Path, offset: int, length: int, old: bytes, new: bytes) -> None:
    """Rewrite one gzip member of a WARC so its payload says ``new`` where it said ``old``: the
    file still decompresses, but the record's digests no longer match its bytes."""
    data = path.read_bytes()
    member = gzip.decompress(data[offset : offset + length])
    assert old in member
    path.write_bytes(data[:offset] + gzip.compress(member.replace(old, new)) + data[offset + length :])
