"""ReplayArchive: answers from WARC files under the contract's replay semantics."""

from __future__ import annotations

import asyncio
import gzip
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.pipeline.errors import ArchiveError
from service.pipeline.fetch.replay import ReplayArchive
from service.pipeline.models import SourceStatus
from service.settings import HttpSettings
from tests.pipeline._warc_helpers import Cap, write_warc

DATA = Path(__file__).resolve().parents[2] / "data" / "seed"
SEED_URLS = {
    "https://www.timesofisrael.com/in-call-netanyahu-flogs-putin-over-gaza-war-stance-and-blossoming-iran-ties/":
        "timesofisrael-in-call-netanyahu-flogs-putin.html",
    "http://en.kremlin.ru/events/president/news/72947": "kremlin-72947.html",
}  # fmt: skip
POSTED_AT = datetime(2023, 12, 10, 14, 23, 38, tzinfo=UTC)

URL_A = "http://example.com/a"
URL_B = "http://example.com/b"


def _t(day: int) -> datetime:
    return datetime(2024, 1, day, 12, 0, tzinfo=UTC)


def _html(text: str) -> bytes:
    return f"<!doctype html><html><body><p>{text}</p></body></html>".encode()


@pytest.fixture
def history(tmp_path: Path) -> ReplayArchive:
    """Three captures of URL_A (days 1, 10, 20), and a redirect B → A captured on day 5."""
    path = write_warc(
        tmp_path / "h.warc.gz",
        [
            Cap(URL_A, _t(10), _html("ten")),
            Cap(URL_A, _t(1), _html("one")),
            Cap(URL_A, _t(20), _html("twenty")),
            Cap(URL_B, _t(5), status="302 Found", headers=(("Location", "/a"),)),
        ],
    )
    return ReplayArchive.open([path])


async def test_live_is_the_latest_capture(history: ReplayArchive) -> None:
    """fetch() answers the latest capture by WARC-Date, whatever the file order."""
    result = await history.fetch(URL_A)
    assert result.status is SourceStatus.OK
    assert result.body == _html("twenty")
    assert result.captured_at == _t(20)
    assert result.http_status == 200


@pytest.mark.parametrize(
    ("when", "expected"),
    [(_t(1), "one"), (_t(9), "one"), (_t(10), "ten"), (_t(19), "ten"), (_t(25), "twenty")],
)
async def test_fetch_at_is_the_latest_at_or_before(
    history: ReplayArchive, when: datetime, expected: str
) -> None:
    """fetch_at() answers the latest capture at or before the moment."""
    result = await history.fetch_at(URL_A, when)
    assert result is not None
    assert result.body == _html(expected)
    assert result.captured_at is not None
    assert result.captured_at <= when


async def test_fetch_at_before_any_capture_is_none(history: ReplayArchive) -> None:
    """Nothing captured by then: no at-post version (also for naive datetimes, read as UTC)."""
    assert await history.fetch_at(URL_A, _t(1) - timedelta(seconds=1)) is None
    assert await history.fetch_at(URL_A, datetime(2023, 1, 1)) is None


async def test_redirect_capture_is_followed(history: ReplayArchive) -> None:
    """A 302 capture is followed to the target's capture under the same time rule."""
    live = await history.fetch(URL_B)
    assert (live.status, live.final_url, live.body) == (SourceStatus.OK, URL_A, _html("twenty"))
    assert [(r.url, r.status) for r in live.redirects] == [(URL_B, 302)]
    past = await history.fetch_at(URL_B, _t(6))
    assert past is not None
    assert past.body == _html("one")
    assert [(r.url, r.status) for r in past.redirects] == [(URL_B, 302)]


async def test_unknown_url_is_not_in_replay(history: ReplayArchive) -> None:
    """No capture at all: status error, reason not_in_replay; fetch_at says None."""
    result = await history.fetch("http://example.com/missing")
    assert (result.status, result.reason) == (SourceStatus.ERROR, "not_in_replay")
    assert await history.fetch_at("http://example.com/missing", _t(30)) is None


async def test_redirect_to_uncaptured_url(tmp_path: Path) -> None:
    """A redirect whose target was never captured ends as not_in_replay, hop recorded."""
    redirect = Cap(URL_A, _t(1), status="301 Moved", headers=(("Location", URL_B),))
    path = write_warc(tmp_path / "r.warc", [redirect], compress=False)
    result = await ReplayArchive.open([path]).fetch(URL_A)
    assert (result.status, result.reason, result.final_url) == (SourceStatus.ERROR, "not_in_replay", URL_B)
    assert [(r.url, r.status) for r in result.redirects] == [(URL_A, 301)]


async def test_redirect_loop_is_cut(tmp_path: Path) -> None:
    """Captured A→B→A loops end as too_many_redirects."""
    path = write_warc(tmp_path / "loop.warc.gz", [
        Cap(URL_A, _t(1), status="302 Found", headers=(("Location", URL_B),)),
        Cap(URL_B, _t(1), status="302 Found", headers=(("Location", URL_A),)),
    ])  # fmt: skip
    result = await ReplayArchive.open([path], settings=HttpSettings(max_redirects=3)).fetch(URL_A)
    assert (result.status, result.reason) == (SourceStatus.ERROR, "too_many_redirects")
    assert len(result.redirects) == 4


async def test_gzip_and_chunked_payload_is_decoded(tmp_path: Path) -> None:
    """Content-Encoding and chunked transfer are removed: the body is the page itself."""
    page = _html("compressed")
    packed = gzip.compress(page)
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(packed), packed)
    headers = (("Content-Type", "text/html"), ("Content-Encoding", "gzip"), ("Transfer-Encoding", "chunked"))
    path = write_warc(tmp_path / "gz.warc.gz", [Cap(URL_A, _t(1), chunked, headers=headers)])
    result = await ReplayArchive.open([path]).fetch(URL_A)
    assert (result.status, result.body) == (SourceStatus.OK, page)


async def test_folder_of_warcs_is_searched_recursively(tmp_path: Path) -> None:
    """A folder argument indexes every .warc and .warc.gz below it, and ignores other files."""
    write_warc(tmp_path / "store" / "x" / "one.warc.gz", [Cap(URL_A, _t(1), _html("one"))])
    write_warc(tmp_path / "store" / "y" / "z" / "two.warc", [Cap(URL_B, _t(2), _html("two"))], compress=False)
    (tmp_path / "store" / "notes.txt").write_text("not a warc")
    archive = ReplayArchive.open([tmp_path / "store"])
    assert len(archive) == 2
    assert (await archive.fetch(URL_A)).body == _html("one")
    assert (await archive.fetch(URL_B)).body == _html("two")


async def test_canonical_match_and_exact_preference(tmp_path: Path) -> None:
    """Lookups fall back to the canonical URL (case, default port, tracking params), exact first."""
    path = write_warc(tmp_path / "c.warc.gz", [
        Cap("http://example.com/page?utm_source=feed", _t(1), _html("tracked")),
        Cap("http://example.com/other", _t(1), _html("other")),
        Cap("http://example.com/other?fbclid=1", _t(2), _html("other-fbclid")),
    ])  # fmt: skip
    archive = ReplayArchive.open([path])
    assert (await archive.fetch("HTTP://Example.COM:80/page#top")).body == _html("tracked")
    assert (await archive.fetch("http://example.com/other")).body == _html("other")
    assert (await archive.fetch("http://example.com/other?fbclid=1")).body == _html("other-fbclid")


@pytest.mark.parametrize(
    ("status", "expected", "reason"),
    [("404 Not Found", SourceStatus.DEAD, "http_404"), ("410 Gone", SourceStatus.DEAD, "http_410"),
     ("403 Forbidden", SourceStatus.BLOCKED, "http_403"), ("500 Oops", SourceStatus.ERROR, "http_500")],
)  # fmt: skip
async def test_captured_status_mapping(
    tmp_path: Path, status: str, expected: SourceStatus, reason: str
) -> None:
    """Captured HTTP errors map to source statuses as live answers do."""
    path = write_warc(tmp_path / "s.warc.gz", [Cap(URL_A, _t(1), _html("err"), status=status)])
    result = await ReplayArchive.open([path]).fetch(URL_A)
    assert (result.status, result.reason) == (expected, reason)
    assert result.captured_at == _t(1)


async def test_non_html_capture_is_refused(tmp_path: Path) -> None:
    """A captured image is not a page."""
    path = write_warc(
        tmp_path / "i.warc.gz", [Cap(URL_A, _t(1), b"\x89PNG", headers=(("Content-Type", "image/png"),))]
    )
    result = await ReplayArchive.open([path]).fetch(URL_A)
    assert (result.status, result.reason) == (SourceStatus.ERROR, "unsupported_content_type")


async def test_body_cap(tmp_path: Path) -> None:
    """Captured bodies over max_body_bytes are refused like live ones."""
    path = write_warc(tmp_path / "big.warc.gz", [Cap(URL_A, _t(1), _html("x" * 5000))])
    result = await ReplayArchive.open([path], settings=HttpSettings(max_body_bytes=1000)).fetch(URL_A)
    assert (result.status, result.reason) == (SourceStatus.ERROR, "body_too_large")


async def test_revisit_takes_the_original_body(tmp_path: Path) -> None:
    """A revisit record (same payload digest) answers with the original response's body."""
    first = tmp_path / "first.warc.gz"
    write_warc(first, [Cap(URL_A, _t(1), _html("same"))])
    digest = ReplayArchive.open([first]).captures(URL_A)[0].digest
    assert digest is not None
    write_warc(tmp_path / "second.warc.gz", [Cap(URL_A, _t(8), digest.encode(), kind="revisit")])
    archive = ReplayArchive.open([tmp_path])
    result = await archive.fetch(URL_A)
    assert (result.status, result.body, result.captured_at) == (SourceStatus.OK, _html("same"), _t(8))


async def test_unsupported_scheme(history: ReplayArchive) -> None:
    """Replay answers only http(s) URLs."""
    result = await history.fetch("ftp://example.com/a")
    assert result.status is SourceStatus.UNSUPPORTED


def test_missing_path_and_corrupt_file(tmp_path: Path) -> None:
    """A missing replay path and a file that is not a WARC are reported, not ignored."""
    with pytest.raises(FileNotFoundError):
        ReplayArchive.open([tmp_path / "nope.warc.gz"])
    bad = tmp_path / "bad.warc"
    bad.write_bytes(b"this is not a warc file\r\n\r\n")
    with pytest.raises(ArchiveError):
        ReplayArchive.open([bad])


@settings(max_examples=25, deadline=None)
@given(
    days=st.lists(st.integers(min_value=1, max_value=28), min_size=1, max_size=6, unique=True),
    probe=st.integers(min_value=0, max_value=29),
)
def test_fetch_at_property(days: list[int], probe: int) -> None:
    """For any capture dates and moment, fetch_at picks max(date <= moment), or None."""
    with tempfile.TemporaryDirectory() as folder:
        path = write_warc(Path(folder) / "p.warc.gz", [Cap(URL_A, _t(d), _html(str(d))) for d in days])
        archive = ReplayArchive.open([path])
        when = _t(probe) if probe else _t(1) - timedelta(days=1)
        result = asyncio.run(archive.fetch_at(URL_A, when))
        earlier = [d for d in days if probe and d <= probe]
        if not earlier:
            assert result is None
        else:
            assert result is not None
            assert result.body == _html(str(max(earlier)))
        assert asyncio.run(archive.fetch(URL_A)).body == _html(str(max(days)))


# ---------------------------------------------------------------- the seed WARC


@pytest.mark.parametrize("url", sorted(SEED_URLS))
async def test_seed_warc_answers_both_cited_pages(url: str) -> None:
    """tests/data/seed/seed.warc.gz replays each cited page with its exact bytes, before the post."""
    archive = ReplayArchive.open([DATA / "seed.warc.gz"])
    page = (DATA / "pages" / SEED_URLS[url]).read_bytes()
    live = await archive.fetch(url)
    assert (live.status, live.body, live.http_status) == (SourceStatus.OK, page, 200)
    assert live.captured_at == datetime(2023, 12, 10, 14, 0, tzinfo=UTC)
    at_post = await archive.fetch_at(url, POSTED_AT)
    assert at_post is not None
    assert at_post.body == page


async def test_one_capture_asked_twice_is_read_once(
    history: ReplayArchive, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A post's live and at-post versions that are one capture (nothing archived in between) are
    read from the WARC once, and are the very same answer; another capture is read on its own."""
    from service.pipeline.fetch import replay, warc_reader

    reads: list[int] = []

    def counting(*args: object, **kwargs: object) -> object:
        reads.append(1)
        return warc_reader.read_capture(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(replay, "read_capture", counting)
    live = await history.fetch(URL_A)
    then = await history.fetch_at(URL_A, _t(25))
    assert then is live
    assert len(reads) == 1
    older = await history.fetch_at(URL_A, _t(12))
    assert older is not None
    assert older.body == _html("ten")
    assert len(reads) == 2
