"""Revisit records resolved by reference (warc_reader.py, replay.py): wget ``--warc-dedup`` WARCs,
warcio's ``create_revisit_record``, and hand-written records for each case of the WARC 1.1 spec.

tests/data/wget/ was written by GNU Wget 1.21.3 (Debian) against ``python3 -m http.server`` on
127.0.0.1:18765: ``wget --warc-file=crawl1 --warc-cdx --no-warc-compression`` fetched same.html and
changing.html (crawl1.warc, crawl1.cdx); changing.html was then edited and
``wget --warc-file=crawl2 --warc-dedup=crawl1.cdx`` fetched both again (crawl2.warc.gz): same.html
became a revisit (``WARC-Refers-To`` naming crawl1's record, ``identical-payload-digest``, HTTP
headers only, ``WARC-Target-URI`` in angle brackets), changing.html a new response.
"""

from __future__ import annotations

import hashlib
import shutil
from base64 import b32encode
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from service.pipeline.fetch.replay import ReplayArchive
from service.pipeline.fetch.warc_reader import digest_key, index_warc
from service.pipeline.models import SourceReason, SourceStatus

WGET = Path(__file__).resolve().parents[2] / "data" / "wget"
SAME = "http://127.0.0.1:18765/same.html"
CHANGING = "http://127.0.0.1:18765/changing.html"
SAME_BODY = b"<html><body><p>The same page, fetched twice.</p></body></html>\n"

URL = "https://news.example/story"
BODY = b"<!doctype html><html><body><p>Quoted words.</p></body></html>"
FIRST = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
LATER = datetime(2024, 3, 1, 8, 30, tzinfo=UTC)
ORIGINAL_ID = "urn:uuid:11111111-2222-3333-4444-555555555555"


def sha1_b32(data: bytes) -> str:
    """``sha1:`` + base32, as WARC writers usually spell a digest."""
    return "sha1:" + b32encode(hashlib.sha1(data).digest()).decode()


def original_record(path: Path, *, body: bytes = BODY, record_id: str = ORIGINAL_ID) -> None:
    """One 200 response (warcio, uncompressed) with a fixed record id, dated FIRST."""
    with path.open("ab") as fh:
        writer = WARCWriter(fh, gzip=False, warc_version="1.1")
        http = StatusAndHeaders(
            "200 OK", [("Content-Type", "text/html"), ("ETag", '"v1"')], protocol="HTTP/1.1"
        )
        rec = writer.create_warc_record(
            URL, "response", payload=BytesIO(body), length=len(body), http_headers=http,
            warc_headers_dict={"WARC-Date": "2024-01-01T12:00:00Z", "WARC-Record-ID": f"<{record_id}>"},
        )  # fmt: skip
        writer.write_record(rec)


def hand_written(path: Path, headers: dict[str, str], block: bytes = b"") -> None:
    """A revisit record typed out by hand (no block digest), appended to ``path``."""
    lines = ["WARC/1.1", "WARC-Type: revisit", f"WARC-Target-URI: {URL}", "WARC-Date: 2024-03-01T08:30:00Z",
             "WARC-Record-ID: <urn:uuid:99999999-8888-7777-6666-555555555555>"]  # fmt: skip
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if block:
        lines.append("Content-Type: application/http; msgtype=response")
    lines.append(f"Content-Length: {len(block)}")
    with path.open("ab") as fh:
        fh.write(("\r\n".join(lines) + "\r\n\r\n").encode() + block + b"\r\n\r\n")


NOT_MODIFIED = b'HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\n\r\n'
SAME_HEADERS = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nX-Second: yes\r\n\r\n"


# ---------------------------------------------------------------- digests


@pytest.mark.parametrize(
    "spelling",
    [
        sha1_b32(BODY),
        sha1_b32(BODY).removeprefix("sha1:"),
        sha1_b32(BODY).lower(),
        "sha1:" + hashlib.sha1(BODY).hexdigest(),
        hashlib.sha1(BODY).hexdigest().upper(),
        "SHA1:" + hashlib.sha1(BODY).hexdigest(),
    ],
)
def test_digest_key_reads_every_spelling(spelling: str) -> None:
    """Base32 or hex, with or without ``sha1:``, any case: one key."""
    assert digest_key(spelling) == sha1_b32(BODY)


def test_digest_key_refuses_what_is_no_sha1() -> None:
    """Garbage and empty digests key nothing; another algorithm keeps its own spelling."""
    assert digest_key("") is None
    assert digest_key("sha1:NOT-A-DIGEST") is None
    assert digest_key("sha256:abc") == "sha256:abc"


# ---------------------------------------------------------------- wget --warc-dedup


async def test_wget_dedup_revisit_replays_the_first_crawl_body(tmp_path: Path) -> None:
    """wget's revisit (WARC-Refers-To into another file) answers with crawl1's body, dated by the
    revisit; before the revisit the first capture answers; the edited page has its new body."""
    archive = ReplayArchive.open([WGET])
    [first, revisit] = archive.captures(SAME)
    assert revisit.revisit
    assert revisit.refers_to == first.record_id
    now = await archive.fetch(SAME)
    assert now.status is SourceStatus.OK, now.reason
    assert now.body == SAME_BODY
    assert now.captured_at == revisit.captured_at
    then = await archive.fetch_at(SAME, first.captured_at)
    assert then is not None
    assert then.body == SAME_BODY
    assert then.captured_at == first.captured_at
    assert b"Second version." in (await archive.fetch(CHANGING)).body


async def test_wget_revisit_without_its_first_crawl_is_reported(tmp_path: Path) -> None:
    """The second crawl alone: the revisit's original is nowhere, and the answer says so."""
    shutil.copy(WGET / "crawl2.warc.gz", tmp_path)
    archive = ReplayArchive.open([tmp_path / "crawl2.warc.gz"])
    got = await archive.fetch(SAME)
    assert got.status is not SourceStatus.OK
    assert got.reason == SourceReason.REVISIT_ORIGINAL_MISSING


# ---------------------------------------------------------------- warcio create_revisit_record


@pytest.mark.parametrize("same_file", [True, False])
async def test_warcio_revisit_by_target_uri_and_date(tmp_path: Path, same_file: bool) -> None:
    """warcio's revisit names its original by Refers-To-Target-URI + Date (and digest): replayed
    with the original's body and the revisit's own headers and date, in one file or two."""
    first = tmp_path / "a.warc"
    original_record(first)
    second = first if same_file else tmp_path / "b.warc.gz"
    with second.open("ab") as fh:
        writer = WARCWriter(fh, gzip=not same_file, warc_version="1.1")
        http = StatusAndHeaders(
            "200 OK", [("Content-Type", "text/html"), ("X-Second", "yes")], protocol="HTTP/1.1"
        )
        rec = writer.create_revisit_record(
            URL, sha1_b32(BODY), URL, "2024-01-01T12:00:00Z", http_headers=http,
            warc_headers_dict={"WARC-Date": "2024-03-01T08:30:00Z"},
        )  # fmt: skip
        writer.write_record(rec)
    archive = ReplayArchive.open([tmp_path])
    got = await archive.fetch(URL)
    assert got.status is SourceStatus.OK, got.reason
    assert got.body == BODY
    assert got.captured_at == LATER
    assert got.header("X-Second") == "yes"


# ---------------------------------------------------------------- hand-written records


async def test_server_not_modified_revisit_answers_the_referred_response(tmp_path: Path) -> None:
    """A 304 revisit with no payload digest, WARC-Refers-To naming a response in the same file:
    the original's 200, headers and body, dated by the revisit."""
    path = tmp_path / "one.warc"
    original_record(path)
    hand_written(path, {
        "WARC-Refers-To": f"<{ORIGINAL_ID}>",
        "WARC-Profile": "http://netpreserve.org/warc/1.1/revisit/server-not-modified",
    }, NOT_MODIFIED)  # fmt: skip
    archive = ReplayArchive.open([path])
    got = await archive.fetch(URL)
    assert (got.status, got.http_status, got.body) == (SourceStatus.OK, 200, BODY)
    assert got.header("ETag") == '"v1"'
    assert got.captured_at == LATER


async def test_hex_digest_revisit_matches_a_base32_original(tmp_path: Path) -> None:
    """A revisit whose payload digest is hex (no Refers-To) finds the base32-labelled original."""
    original_record(tmp_path / "a.warc")
    hand_written(tmp_path / "b.warc", {
        "WARC-Payload-Digest": "sha1:" + hashlib.sha1(BODY).hexdigest(),
        "WARC-Profile": "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest",
    }, SAME_HEADERS)  # fmt: skip
    got = await ReplayArchive.open([tmp_path]).fetch(URL)
    assert (got.status, got.body, got.captured_at) == (SourceStatus.OK, BODY, LATER)
    assert got.header("X-Second") == "yes"


async def test_empty_block_revisit_is_indexed_and_resolved(tmp_path: Path) -> None:
    """A revisit with no block at all is a capture too (it used to be skipped, so the live date
    came out wrong): it answers the original's status and body at its own date."""
    path = tmp_path / "one.warc"
    original_record(path)
    hand_written(path, {
        "WARC-Refers-To-Target-URI": URL,
        "WARC-Refers-To-Date": "2024-01-01T12:00:00Z",
        "WARC-Profile": "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest",
    })  # fmt: skip
    assert [c.revisit for c in index_warc(path)] == [False, True]
    got = await ReplayArchive.open([path]).fetch(URL)
    assert (got.status, got.http_status, got.body, got.captured_at) == (SourceStatus.OK, 200, BODY, LATER)


async def test_unresolvable_revisit_is_reported_not_skipped(tmp_path: Path) -> None:
    """A revisit naming a record, a URI/date and a digest that are all absent answers
    ``revisit_original_missing`` at its date; the older capture still answers before it."""
    path = tmp_path / "one.warc"
    original_record(path, body=b"<p>something else</p>")
    hand_written(path, {
        "WARC-Refers-To": "<urn:uuid:00000000-0000-0000-0000-000000000000>",
        "WARC-Refers-To-Target-URI": URL,
        "WARC-Refers-To-Date": "2023-06-01T00:00:00Z",
        "WARC-Payload-Digest": sha1_b32(BODY),
    }, SAME_HEADERS)  # fmt: skip
    archive = ReplayArchive.open([path])
    got = await archive.fetch(URL)
    assert got.reason == SourceReason.REVISIT_ORIGINAL_MISSING
    assert got.captured_at == LATER
    before = await archive.fetch_at(URL, FIRST)
    assert before is not None
    assert before.body == b"<p>something else</p>"
