"""``provenance capture``'s work (service/pipeline/evidence/export.py): pages fetched from a loopback
origin and written as one standalone WARC that warcio accepts."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.pipeline.evidence import export_warc
from service.pipeline.fetch import LiveFetcher, index_warc, read_capture
from service.pipeline.models import SourceReason, SourceStatus
from tests.fakes.origin import DEFAULT_PAGES, Origin, serve_origin
from tests.pipeline._warc_helpers import warcio_check, warcio_index


async def _closed_url() -> str:
    """A loopback URL nothing listens on any more."""
    async with serve_origin() as gone:
        return gone.url("/pages/a")


async def test_each_pages_response_is_written_and_checks(
    origin: Origin, fetcher: LiveFetcher, tmp_path: Path
) -> None:
    """Every fetched page is in the file as a response record holding its exact body; the file passes
    warcio check, starts with a warcinfo record and each URL was asked once."""
    urls = [origin.url("/pages/a"), origin.url("/pages/b")]
    path = tmp_path / "out.warc.gz"
    fetched = await export_warc(urls, path, fetcher=fetcher)
    assert [(f.url, f.status) for f in fetched] == [(u, SourceStatus.OK) for u in urls]
    warcio_check(path)
    rows = warcio_index(path)
    assert rows[0]["warc-type"] == "warcinfo"
    responses = [r["warc-target-uri"] for r in rows if r["warc-type"] == "response"]
    assert sorted(responses) == sorted(urls)
    bodies = {c.url: read_capture(c, limit=1_000_000).body for c in index_warc(path)}
    assert bodies == {urls[0]: DEFAULT_PAGES["a"], urls[1]: DEFAULT_PAGES["b"]}
    assert (origin.hits["/pages/a"], origin.hits["/pages/b"]) == (1, 1)


async def test_failures_are_returned_with_status_and_reason(
    origin: Origin, fetcher: LiveFetcher, tmp_path: Path
) -> None:
    """Results come back in the order asked, each with its status and reason. An HTTP error is
    still an answer and is written; a URL that got no answer at all has nothing to store."""
    closed = await _closed_url()
    urls = [origin.url("/pages/missing"), closed, origin.url("/pages/a")]
    path = tmp_path / "out.warc.gz"
    fetched = await export_warc(urls, path, fetcher=fetcher)
    assert [(f.url, f.status, f.reason) for f in fetched] == [
        (urls[0], SourceStatus.DEAD, SourceReason.for_http_status(404)),
        (closed, SourceStatus.ERROR, SourceReason.CONNECTION_FAILED),
        (urls[2], SourceStatus.OK, None),
    ]  # fmt: skip
    warcio_check(path)
    rows = warcio_index(path)
    written = {r["warc-target-uri"]: r.get("http:status") for r in rows if r["warc-type"] == "response"}
    assert written == {urls[0]: "404", urls[2]: "200"}
    assert closed not in {r.get("warc-target-uri") for r in rows}


async def test_redirect_hops_are_written_too(origin: Origin, fetcher: LiveFetcher, tmp_path: Path) -> None:
    """A redirected URL leaves a response record for each hop and one for the final page."""
    start = origin.url("/chain/2")
    path = tmp_path / "out.warc.gz"
    [result] = await export_warc([start], path, fetcher=fetcher)
    assert [r.status for r in result.redirects] == [302, 302]
    warcio_check(path)
    responses = [
        (r["warc-target-uri"], r["http:status"]) for r in warcio_index(path) if r["warc-type"] == "response"
    ]
    assert sorted(responses) == sorted([(start, "302"), (origin.url("/chain/1?code=302"), "302"),
                                        (origin.url("/chain/0?code=302"), "200")])  # fmt: skip


@pytest.mark.parametrize(("name", "magic"), [("out.warc.gz", b"\x1f\x8b"), ("out.warc", b"WARC/1.1\r\n")])
async def test_the_file_name_decides_compression(
    origin: Origin, fetcher: LiveFetcher, tmp_path: Path, name: str, magic: bytes
) -> None:
    """A name ending in .gz gives a gzipped WARC, any other an uncompressed one; both check."""
    path = tmp_path / name
    await export_warc([origin.url("/pages/a")], path, fetcher=fetcher)
    assert path.read_bytes().startswith(magic)
    warcio_check(path)


async def test_nothing_to_fetch_is_a_warcinfo_only_file(fetcher: LiveFetcher, tmp_path: Path) -> None:
    """No URLs: an empty result, and a valid file holding just its warcinfo record."""
    path = tmp_path / "empty.warc.gz"
    assert await export_warc([], path, fetcher=fetcher) == []
    warcio_check(path)
    assert [r["warc-type"] for r in warcio_index(path)] == ["warcinfo"]
