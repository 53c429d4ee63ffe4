"""The WARC evidence store (service/pipeline/evidence/store.py): write, rotate, index, read back."""

from __future__ import annotations

import asyncio
import gzip
import io
import multiprocessing
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from warcio.archiveiterator import ArchiveIterator

from service.pipeline.errors import ArchiveError
from service.pipeline.evidence import cdxj
from service.pipeline.evidence.store import EvidenceStore
from service.pipeline.fetch.live import LiveFetcher
from service.pipeline.models import FetchResult, SourceStatus
from service.pipeline.urls import surt_key
from service.settings import StoreSettings
from tests.fakes.origin import serve_raw
from tests.pipeline._warc_helpers import PAGE, WHEN, chain_fetch, warcio_check, warcio_index


def page(url: str, when: datetime, body: bytes, status: int = 200) -> FetchResult:
    """A plain fetch of ``url`` at ``when``."""
    return FetchResult(
        url=url, final_url=url, status=SourceStatus.OK, http_status=status, content_type="text/html",
        headers=(("Content-Type", "text/html"),), body=body, fetched_at=when, peer="127.0.0.1",
    )  # fmt: skip


def warcs(root: Path) -> list[Path]:
    """The store's WARC files."""
    return sorted((root / "warc").glob("*.warc.gz"))


@pytest.fixture
def store(tmp_path: Path) -> EvidenceStore:
    """A store under tmp_path with the default (large) file size."""
    return EvidenceStore(tmp_path / "data")


def test_record_chain_is_valid_and_indexed(store: EvidenceStore) -> None:
    """A 301→301→200 fetch: warcio check passes; every record is listed with its own URI."""
    rec = store.record(chain_fetch(), extraction={"title": "T"})
    store.close()
    [path] = warcs(store.folder.parent)
    warcio_check(path)
    rows = warcio_index(path)
    assert rows[0]["warc-type"] == "warcinfo"
    kinds = [(r["warc-type"], r["warc-target-uri"]) for r in rows[1:]]
    assert ("metadata", "urn:provenance:meta:https://example.com/new?b=2&a=1") in kinds
    assert kinds.count(("request", "http://example.com/old")) == 1
    response = next(r for r in rows if r.get("warc-target-uri") == "https://example.com/new?b=2&a=1")
    assert (int(response["offset"]), int(response["length"])) == (rec.offset, rec.length)
    assert rec.file == f"warc/{path.name}"
    assert rec.captured_at == "2024-05-14T09:30:00.123456+00:00"
    assert rec.digest is not None
    assert rec.digest.startswith("sha1:")
    assert set(rec.to_dict()) == {"file", "offset", "length", "digest", "captured_at"}


def test_archive_record_cuts_out_the_response(store: EvidenceStore) -> None:
    """file/offset/length of an WarcEntry locate exactly one gzip member: the response."""
    store.record(page("https://a.test/1", WHEN, b"first"))
    rec = store.record(chain_fetch())
    assert rec.length is not None
    data = (store.folder.parent / rec.file).read_bytes()[rec.offset : rec.offset + rec.length]
    [got] = list(ArchiveIterator(io.BytesIO(data)))
    assert got.rec_type == "response"
    assert got.rec_headers.get_header("WARC-Payload-Digest") == rec.digest
    assert gzip.decompress(data).startswith(b"WARC/1.1\r\n")


async def test_gzip_origin_is_stored_decoded(store: EvidenceStore, fetcher: LiveFetcher) -> None:
    """A real gzip answer from a loopback origin: the decoded page is stored and reads back as is."""
    zipped = gzip.compress(PAGE)
    answer = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\n"
        b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(zipped), zipped)
    )
    async with serve_raw(answer) as origin:
        fetched = await fetcher.fetch(origin.url("/zipped"))
    assert fetched.body == PAGE
    rec = await store.arecord(fetched)
    store.close()
    warcio_check(store.folder.parent / rec.file)
    [cap] = store.captures(origin.url("/zipped"))
    back = store.read(cap)
    assert back.body == PAGE
    assert back.http_status == 200
    assert back.status is SourceStatus.OK
    assert back.header("Content-Encoding") is None
    assert back.header("Content-Length") == str(len(PAGE))
    assert back.header("X-Provenance-Orig-Content-Encoding") == "gzip"
    assert back.peer == "127.0.0.1"


def test_rotation_starts_a_new_file(tmp_path: Path) -> None:
    """Past max_file_bytes the file is closed and the next fetch goes into a new, valid one."""
    store = EvidenceStore(tmp_path, StoreSettings(max_file_bytes=1))
    first = store.record(page("https://a.test/1", WHEN, b"one"))
    second = store.record(page("https://a.test/2", WHEN, b"two"))
    store.close()
    assert first.file != second.file
    files = warcs(tmp_path)
    assert len(files) == 2
    for path in files:
        warcio_check(path)
        assert path.with_name(path.name.removesuffix(".warc.gz") + ".cdxj").is_file()
    assert store.read(store.captures("https://a.test/2")[0]).body == b"two"


def test_captures_are_time_ordered_and_capture_at_picks_at_or_before(store: EvidenceStore) -> None:
    """Written out of order, captures come back oldest first; capture_at takes the latest ≤ when."""
    url = "https://news.test/story"
    for days, body in [(2, b"v2"), (0, b"v0"), (1, b"v1")]:
        store.record(page(url, WHEN + timedelta(days=days), body))
    store.record(page("https://news.test/other", WHEN + timedelta(days=5), b"x"))
    caps = store.captures(url)
    assert [store.read(c).body for c in caps] == [b"v0", b"v1", b"v2"]
    assert [c.captured_at for c in caps] == sorted(c.captured_at for c in caps)
    at = store.capture_at(url, WHEN + timedelta(days=1, hours=3))
    assert at is not None
    assert store.read(at).body == b"v1"
    exact = store.capture_at(url, WHEN + timedelta(days=2))
    assert exact is not None
    assert store.read(exact).body == b"v2"
    naive = store.capture_at(url, (WHEN + timedelta(hours=1)).replace(tzinfo=None))
    assert naive is not None
    assert store.read(naive).body == b"v0"
    assert store.capture_at(url, WHEN - timedelta(seconds=1)) is None
    assert store.captures("https://news.test/never") == []


def test_lookup_falls_back_to_the_normalised_url(store: EvidenceStore) -> None:
    """Another spelling of a stored URL (case, default port, query order, www.) finds it."""
    store.record(page("https://www.Example.test/p?a=1&b=2", WHEN, b"x"))
    [cap] = store.captures("HTTPS://example.test:443/p?b=2&a=1#frag")
    assert cap.url == "https://www.Example.test/p?a=1&b=2"
    assert store.captures("not a url at all") == []


def test_read_returns_status_headers_and_exact_body(store: EvidenceStore) -> None:
    """A 404 keeps its body; its status reads back as dead; a redirect hop as http_301."""
    store.record(page("https://a.test/gone", WHEN, b"<p>not here</p>", status=404))
    store.record(chain_fetch())
    gone = store.read(store.captures("https://a.test/gone")[0])
    assert (gone.http_status, gone.status, gone.reason) == (404, SourceStatus.DEAD, "http_404")
    assert gone.body == b"<p>not here</p>"
    assert gone.fetched_at == gone.captured_at == WHEN
    hop = store.read(store.captures("http://example.com/old")[0])
    assert hop.http_status == 301
    assert hop.header("Location") == "https://example.com/old"
    assert hop.reason == "http_301"


def test_unreadable_capture_is_an_archive_error(store: EvidenceStore) -> None:
    """A capture pointing at nothing raises ArchiveError, not a warcio or OS error."""
    store.record(page("https://a.test/1", WHEN, b"one"))
    [cap] = store.captures("https://a.test/1")
    with pytest.raises(ArchiveError):
        store.read(replace(cap, path=cap.path.with_name("missing.warc.gz")))
    with pytest.raises(ArchiveError):
        store.read(replace(cap, offset=1))


def test_index_is_sorted_on_close_and_torn_lines_are_skipped(store: EvidenceStore) -> None:
    """The CDXJ is rewritten sorted when its WARC closes; a torn line does not break lookups."""
    for name in ["zeta", "alpha", "mid"]:
        store.record(page(f"https://a.test/{name}", WHEN, name.encode()))
    store.close()
    [index] = sorted(store.folder.glob("*.cdxj"))
    lines = index.read_text().splitlines()
    assert lines == sorted(lines)
    assert lines[0] == cdxj.HEADER
    assert len(lines) == 4
    assert lines[1].startswith("test,a)/alpha 20240514093000 {")
    assert not cdxj.tail_of(index).exists()
    with index.open("a") as fh:
        fh.write('test,a)/alpha 20240514093000 {"url": "https://a.t')
    assert [store.read(c).body for c in store.captures("https://a.test/alpha")] == [b"alpha"]


def test_fetch_without_http_answer_is_refused(store: EvidenceStore) -> None:
    """Nothing to store for a refused fetch: ArchiveError and no file created."""
    failed = FetchResult(url="http://10.0.0.1/", final_url="http://10.0.0.1/", status=SourceStatus.REFUSED)
    with pytest.raises(ArchiveError):
        store.record(failed)
    assert warcs(store.folder.parent) == []


async def test_concurrent_tasks_share_one_valid_file(store: EvidenceStore) -> None:
    """Twenty asyncio tasks recording at once: one file, distinct offsets, every digest valid."""
    fetches = [page(f"https://a.test/{i}", WHEN + timedelta(seconds=i), b"%d" % i * 500) for i in range(20)]
    recs = await asyncio.gather(*(store.arecord(f) for f in fetches))
    store.close()
    assert len({r.file for r in recs}) == 1
    assert len({r.offset for r in recs}) == 20
    [path] = warcs(store.folder.parent)
    assert warcio_check(path).count("response") == 20
    for i in (0, 7, 19):
        [cap] = store.captures(f"https://a.test/{i}")
        assert (await store.aread(cap)).body == b"%d" % i * 500


def _record_many(root: str, worker: int) -> None:
    """Child process body: record a few pages into the shared store root."""
    with EvidenceStore(Path(root)) as store:
        for i in range(5):
            store.record(
                page(f"https://p{worker}.test/{i}", WHEN + timedelta(seconds=i), b"w%d-%d" % (worker, i))
            )


def test_two_processes_write_separate_valid_files(tmp_path: Path) -> None:
    """Two spawned processes on one root: a file each (PID in the name), all valid and indexed."""
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_record_many, args=(str(tmp_path), w)) for w in (1, 2)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
    assert [proc.exitcode for proc in procs] == [0, 0]
    files = warcs(tmp_path)
    assert len(files) == 2
    pids = {str(proc.pid) for proc in procs}
    assert {f.name.split("-")[2] for f in files} == pids
    for path in files:
        warcio_check(path)
    store = EvidenceStore(tmp_path)
    for worker in (1, 2):
        caps = [store.captures(f"https://p{worker}.test/{i}") for i in range(5)]
        assert [store.read(c).body for [c] in caps] == [b"w%d-%d" % (worker, i) for i in range(5)]


async def test_store_folder_replays(store: EvidenceStore) -> None:
    """The store root is a --replay source: the cited URL follows the stored chain to the same body."""
    try:
        from service.pipeline.fetch.replay import ReplayArchive
    except ImportError as e:  # pragma: no cover - replay is written by someone else
        pytest.skip(f"service.pipeline.fetch.replay not importable: {e}")
    store.record(page("https://example.com/new?b=2&a=1", WHEN - timedelta(days=1), b"older"))
    store.record(chain_fetch())
    archive = ReplayArchive.open([store.folder.parent])
    got = await archive.fetch("http://example.com/old")
    assert got.status is SourceStatus.OK, got.reason
    assert got.body == PAGE
    assert got.final_url == "https://example.com/new?b=2&a=1"
    assert [(r.url, r.status) for r in got.redirects] == [
        ("http://example.com/old", 301),
        ("https://example.com/old", 301),
    ]
    then = await archive.fetch_at("https://example.com/new?b=2&a=1", WHEN - timedelta(hours=1))
    assert then is not None
    assert then.body == b"older"


hosts = (
    st.lists(st.from_regex(r"[a-z][a-z0-9]{0,6}", fullmatch=True), min_size=2, max_size=4)
    .map(".".join)
    .filter(lambda h: not h.startswith("www."))
)
params = st.dictionaries(
    st.from_regex(r"[a-z]{1,4}", fullmatch=True), st.from_regex(r"[a-z0-9]{0,4}", fullmatch=True), max_size=4
)


@given(host=hosts, path=st.from_regex(r"(/[a-z0-9]{1,5}){0,3}", fullmatch=True), query=params)
def test_surt_key_ignores_spelling(host: str, path: str, query: dict[str, str]) -> None:
    """Host case, default port, www., fragment, trailing slash and query order never change the key."""
    forward = "&".join(f"{k}={v}" for k, v in query.items())
    backward = "&".join(f"{k}={v}" for k, v in reversed(query.items()))
    plain = surt_key(f"https://{host}{path}?{forward}" if forward else f"https://{host}{path}")
    slash = f"{path}/" if path else path
    other = (
        f"HTTPS://WWW.{host.upper()}:443{slash}?{backward}#top"
        if backward
        else f"https://www1.{host}:443{slash}#x"
    )
    assert surt_key(other) == plain
    assert plain.startswith(",".join(reversed(host.split("."))) + ")")
