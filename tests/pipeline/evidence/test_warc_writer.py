"""WARC writing (service/pipeline/evidence/warc_writer.py): records, digests and URIs checked by warcio."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from warcio.archiveiterator import ArchiveIterator

from service.pipeline.errors import ArchiveError
from service.pipeline.evidence.warc_writer import (
    META_PREFIX,
    ORIG_PREFIX,
    new_writer,
    stored_headers,
    write_exchange,
    write_fetch,
    write_standalone_warc,
)
from service.pipeline.models import Extraction, FetchResult, SourceStatus
from tests.pipeline._warc_helpers import PAGE, WHEN, chain_fetch, warcio_check, warcio_index


def records(data: bytes) -> list[tuple[str, str, Any]]:
    """(type, target URI, (WARC headers, HTTP headers, content)) of every record in ``data``."""
    out = []
    for rec in ArchiveIterator(io.BytesIO(data)):
        uri = rec.rec_headers.get_header("WARC-Target-URI") or ""
        out.append((rec.rec_type, uri, (rec.rec_headers, rec.http_headers, rec.content_stream().read())))
    return out


def test_write_exchange_locates_the_response_and_links_the_request(tmp_path: Path) -> None:
    """The returned offset/length cut out exactly the response; the request points back at it."""
    path = tmp_path / "x.warc.gz"
    with path.open("wb") as fh:
        writer = new_writer(fh)
        loc = write_exchange(
            writer, url="https://example.com/p?q=1", http_status=200, reason_phrase="OK",
            headers=[("Content-Type", "text/html")], body=PAGE, fetched_at=WHEN, peer_ip="192.0.2.7",
            request_headers=[("User-Agent", "test")],
        )  # fmt: skip
    data = path.read_bytes()
    assert loc.offset == 0
    rec = next(iter(ArchiveIterator(io.BytesIO(data[loc.offset : loc.offset + loc.length]))))
    assert rec.rec_type == "response"
    assert rec.rec_headers.get_header("WARC-IP-Address") == "192.0.2.7"
    assert rec.rec_headers.get_header("WARC-Date") == "2024-05-14T09:30:00.123456Z"
    assert rec.rec_headers.get_header("WARC-Payload-Digest") == loc.digest
    assert rec.content_stream().read() == PAGE
    (_, _, _resp), (kind, uri, (req_headers, req_http, _)) = records(data)
    assert kind == "request"
    assert uri == "https://example.com/p?q=1"
    assert req_headers.get_header("WARC-Concurrent-To") == loc.record_id
    assert f"{req_http.protocol} {req_http.statusline}" == "GET /p?q=1 HTTP/1.1"
    assert req_http.get_header("Host") == "example.com"
    assert req_http.get_header("User-Agent") == "test"
    assert data.startswith(b"\x1f\x8b")
    warcio_check(path)


def test_unknown_peer_writes_no_ip_address(tmp_path: Path) -> None:
    """WARC-IP-Address appears only when the peer is known."""
    buf = io.BytesIO()
    write_exchange(
        new_writer(buf), url="http://example.com/", http_status=404, reason_phrase="Not Found",
        headers=[], body=b"gone", fetched_at=WHEN, peer_ip=None,
    )  # fmt: skip
    rec = next(iter(ArchiveIterator(io.BytesIO(buf.getvalue()))))
    assert rec.rec_headers.get_header("WARC-IP-Address") is None
    assert rec.http_headers.get_statuscode() == "404"


def test_fetch_records_pass_warcio_check_and_index(tmp_path: Path) -> None:
    """A 301→301→200 chain: a response+request per hop, the final pair, then the metadata record."""
    path = tmp_path / "chain.warc.gz"
    with path.open("wb") as fh:
        written = write_fetch(new_writer(fh), chain_fetch(), extraction={"title": "T"})
    out = warcio_check(path)
    assert out.count("digest pass") == 7
    rows = warcio_index(path)
    assert [(r["warc-type"], r["warc-target-uri"]) for r in rows] == [
        ("response", "http://example.com/old"),
        ("request", "http://example.com/old"),
        ("response", "https://example.com/old"),
        ("request", "https://example.com/old"),
        ("response", "https://example.com/new?b=2&a=1"),
        ("request", "https://example.com/new?b=2&a=1"),
        ("metadata", META_PREFIX + "https://example.com/new?b=2&a=1"),
    ]
    assert [r.get("http:status") for r in rows if r["warc-type"] == "response"] == ["301", "301", "200"]
    assert rows[6]["warc-refers-to"] == rows[4]["warc-record-id"] == written.response.record_id
    assert int(rows[4]["offset"]) == written.response.offset
    assert [h.offset for h in written.hops] == [int(rows[0]["offset"]), int(rows[2]["offset"])]


def test_redirect_hops_point_at_the_next_url(tmp_path: Path) -> None:
    """Each hop is stored with its status and a Location naming the next URL, body empty."""
    buf = io.BytesIO()
    write_fetch(new_writer(buf), chain_fetch())
    responses = [r for r in records(buf.getvalue()) if r[0] == "response"]
    locations = [http.get_header("Location") for _, _, (_, http, _) in responses]
    assert locations == ["https://example.com/old", "https://example.com/new?b=2&a=1", None]
    assert [body for _, _, (_, _, body) in responses][:2] == [b"", b""]


def test_decoded_body_is_stored_with_rewritten_headers() -> None:
    """A gzip origin's decoded body: no Content-Encoding, a true Content-Length, originals kept."""
    buf = io.BytesIO()
    write_fetch(new_writer(buf), chain_fetch())
    _, _, (_, http, body) = [r for r in records(buf.getvalue()) if r[0] == "response"][-1]
    assert body == PAGE
    assert http.get_header("Content-Encoding") is None
    assert http.get_header("Transfer-Encoding") is None
    assert http.get_header("Content-Length") == str(len(PAGE))
    assert http.get_header(ORIG_PREFIX + "Content-Encoding") == "gzip"
    assert http.get_header(ORIG_PREFIX + "Content-Length") == "61"


def test_metadata_record_holds_the_extraction_summary() -> None:
    """An Extraction is summarised: identity fields, text lengths and hashes, never the text."""
    buf = io.BytesIO()
    extraction = Extraction(main_text="Quoted words.", page_text="T Quoted words.", title="T", author="A")
    write_fetch(new_writer(buf), chain_fetch(), extraction=extraction)
    kind, _uri, (headers, _, payload) = records(buf.getvalue())[-1]
    assert kind == "metadata"
    assert headers.get_header("Content-Type") == "application/json"
    doc = json.loads(payload)
    assert doc["final_url"] == "https://example.com/new?b=2&a=1"
    assert doc["body_sha256"] == chain_fetch().sha256
    assert doc["redirects"] == [
        {"url": "http://example.com/old", "status": 301},
        {"url": "https://example.com/old", "status": 301},
    ]
    ex = doc["extraction"]
    assert ex["title"] == "T"
    assert ex["author"] == "A"
    assert ex["main_text_length"] == 13
    assert ex["page_text_length"] == 15
    assert len(ex["main_text_sha256"]) == 64
    assert "Quoted words." not in payload.decode()


def test_fetch_without_an_http_answer_is_refused() -> None:
    """A DNS failure has nothing to archive: ArchiveError, nothing written."""
    buf = io.BytesIO()
    failed = FetchResult(url="http://nx.invalid/", final_url="http://nx.invalid/", status=SourceStatus.DEAD)
    with pytest.raises(ArchiveError):
        write_fetch(new_writer(buf), failed)
    assert buf.getvalue() == b""


@pytest.mark.parametrize("name", ["capture.warc.gz", "capture.warc"])
def test_capture_file_starts_with_warcinfo(tmp_path: Path, name: str) -> None:
    """A standalone capture file: warcinfo first, each fetch's records, failed fetches skipped."""
    path = tmp_path / name
    failed = FetchResult(url="http://nx.invalid/", final_url="http://nx.invalid/", status=SourceStatus.DEAD)
    second = FetchResult(
        url="https://example.org/", final_url="https://example.org/", status=SourceStatus.OK, http_status=200,
        headers=(("Content-Type", "text/plain"),), body=b"plain", fetched_at=WHEN,
    )  # fmt: skip
    write_standalone_warc(path, [chain_fetch(), failed, second])
    warcio_check(path)
    rows = warcio_index(path)
    assert rows[0]["warc-type"] == "warcinfo"
    assert [r["warc-target-uri"] for r in rows if r["warc-type"] == "response"][-1] == "https://example.org/"
    assert not any("nx.invalid" in r.get("warc-target-uri", "") for r in rows)
    assert path.read_bytes().startswith(b"\x1f\x8b") == name.endswith(".gz")


WIRE = ["Content-Encoding", "content-encoding", "Transfer-Encoding", "CONTENT-LENGTH"]
header_names = st.one_of(st.sampled_from(WIRE), st.from_regex(r"X-[A-Za-z]{1,8}", fullmatch=True))


@given(
    headers=st.lists(st.tuples(header_names, st.from_regex(r"[ -~]{0,12}", fullmatch=True)), max_size=8),
    body=st.binary(max_size=64),
)
def test_stored_headers_describe_the_stored_body(headers: list[tuple[str, str]], body: bytes) -> None:
    """For any headers: one Content-Length equal to the body length, no wire encodings, rest kept."""
    out = stored_headers(headers, body)
    lengths = [v for k, v in out if k.lower() == "content-length"]
    assert lengths == [str(len(body))]
    assert not any(k.lower() in {"content-encoding", "transfer-encoding"} for k, _ in out)
    assert [(k, v) for k, v in out if k.startswith("X-") and not k.startswith(ORIG_PREFIX)] == [
        (k, v) for k, v in headers if k.lower() not in {w.lower() for w in WIRE}
    ]
