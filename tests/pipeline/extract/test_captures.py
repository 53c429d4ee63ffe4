"""Replayed captures read in the extraction workers (``extract/captures.py``): the same answers as a
read in this process, each page extracted once, damage and overruns handled as before."""

from __future__ import annotations

import asyncio
import gzip
import pickle
from collections.abc import AsyncIterator
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.pipeline import errors
from service.pipeline.errors import ExtractionTimeout, PipelineError
from service.pipeline.extract.pool import ExtractorPool, extract_article
from service.pipeline.fetch.answers import worth_extracting
from service.pipeline.fetch.replay import ReplayArchive
from service.pipeline.models import FetchResult, SourceReason, SourceStatus
from service.settings import ExtractSettings, HttpSettings
from tests.pipeline._warc_helpers import Cap, tamper, write_warc
from tests.pipeline.extract.test_pool import article, paragraph_flood

BEFORE = datetime(2024, 1, 1, 12, tzinfo=UTC)
AFTER = datetime(2024, 3, 1, 12, tzinfo=UTC)
HTML = (("Content-Type", "text/html; charset=utf-8"),)


def _t(day: int) -> datetime:
    return datetime(2024, 2, day, 12, tzinfo=UTC)


def _page(words: str) -> bytes:
    return article(f"<p>{words} {'and the words went on and on, as articles do. ' * 8}</p>").encode()


def _chunked_gzip(page: bytes) -> bytes:
    packed = gzip.compress(page)
    return b"%x\r\n%s\r\n0\r\n\r\n" % (len(packed), packed)


def _history(folder: Path) -> tuple[list[Path], list[str]]:
    """WARC files holding every kind of answer replay gives, and the URLs to ask."""
    pages = write_warc(
        folder / "pages.warc.gz",
        [
            Cap("http://a.example/one", _t(1), _page("first version")),
            Cap("http://a.example/one", _t(9), _page("second version")),
            Cap("http://a.example/same", _t(2), _page("one payload")),
            Cap("http://b.example/same", _t(2), _page("one payload")),
            Cap("http://a.example/moved", _t(3), status="301 Moved", headers=(("Location", "/one"),)),
            Cap("http://a.example/gone", _t(3), _page("not here"), status="404 Not Found", headers=HTML),
            Cap(
                "http://a.example/busy",
                _t(3),
                b"<html><body>checking your browser</body></html>",
                status="503 Service Unavailable",
                headers=HTML,
            ),
            Cap("http://a.example/pdf", _t(3), b"%PDF-1.4", headers=(("Content-Type", "application/pdf"),)),
            Cap("http://a.example/bare", _t(3), _page("no type given"), headers=()),
            Cap("http://a.example/big", _t(3), _page("x" * 30_000)),
            Cap(
                "http://a.example/packed",
                _t(4),
                _chunked_gzip(_page("packed")),
                headers=(*HTML, ("Content-Encoding", "gzip"), ("Transfer-Encoding", "chunked")),
            ),
        ],
    )
    original = ReplayArchive.open([pages]).captures("http://a.example/same")[0]
    assert original.digest is not None
    revisits = write_warc(
        folder / "revisits.warc.gz",
        [
            Cap("http://a.example/same", _t(20), original.digest.encode(), kind="revisit"),
            Cap("http://a.example/orphan", _t(20), b"sha1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", kind="revisit"),
        ],
    )
    damaged = write_warc(
        folder / "damaged.warc.gz", [Cap("http://a.example/damaged", _t(5), _page("intact"))]
    )
    [capture] = ReplayArchive.open([damaged]).captures("http://a.example/damaged")
    assert capture.length is not None
    tamper(damaged, capture.offset, capture.length, b"intact", b"edited")
    urls = [
        "http://a.example/one", "http://a.example/same", "http://b.example/same", "http://a.example/moved",
        "http://a.example/gone", "http://a.example/busy", "http://a.example/pdf", "http://a.example/bare",
        "http://a.example/big", "http://a.example/packed", "http://a.example/orphan",
        "http://a.example/damaged", "http://a.example/never",
    ]  # fmt: skip
    return [pages, revisits, damaged], urls


def _as_read_here(answer: FetchResult | None) -> tuple[object, ...] | None:
    """Every field of an answer, ``sha256`` included (a digest carried over must be the body's)."""
    return None if answer is None else tuple(getattr(answer, f.name) for f in fields(answer))


@pytest.fixture(params=[0, 1], ids=["inline", "worker"])
async def pool(request: pytest.FixtureRequest) -> AsyncIterator[ExtractorPool]:
    async with ExtractorPool(ExtractSettings(workers=request.param, timeout_s=2.0)) as p:
        yield p


async def test_captures_read_by_the_pool_are_the_answers_read_here(
    tmp_path: Path, pool: ExtractorPool
) -> None:
    """Live and at-post answers of every kind (page, two versions, shared payload, redirect, 404,
    503, other type, no type, over the body limit, encoded, revisits, a damaged record, nothing)
    are the same, field for field, whether this process or the pool reads the captures."""
    paths, urls = _history(tmp_path)
    http = HttpSettings(max_body_bytes=20_000)
    here = ReplayArchive.open(paths, settings=http)
    there = ReplayArchive.open(paths, settings=http, reader=pool)
    for url in urls:
        assert _as_read_here(await there.fetch(url)) == _as_read_here(await here.fetch(url)), url
        for moment in (BEFORE, _t(5), AFTER):
            expected = _as_read_here(await here.fetch_at(url, moment))
            assert _as_read_here(await there.fetch_at(url, moment)) == expected, (url, moment)
    damaged = await there.fetch("http://a.example/damaged")
    assert (damaged.status, damaged.reason) == (SourceStatus.ERROR, SourceReason.CORRUPT_CAPTURE)
    orphan = await there.fetch("http://a.example/orphan")
    assert orphan.reason == SourceReason.REVISIT_ORIGINAL_MISSING
    big = await there.fetch("http://a.example/big")
    assert big.reason == SourceReason.BODY_TOO_LARGE


async def test_a_page_is_extracted_once_where_it_was_read(tmp_path: Path) -> None:
    """The worker that reads a page extracts it: asking for its extraction afterwards runs nothing
    more, and gives what extracting the body here gives. Two URLs of one payload, read at once,
    are extracted once; a 404 and a PDF are not extracted at all."""
    paths, _ = _history(tmp_path)
    async with ExtractorPool(ExtractSettings(workers=1, timeout_s=30)) as pool:
        archive = ReplayArchive.open(paths, reader=pool)
        one = await archive.fetch("http://a.example/one")
        assert pool.extractions == 1
        extraction = await pool.extract(
            one.body, url=one.final_url, content_type=one.content_type, digest=one.sha256
        )
        assert pool.extractions == 1
        assert extraction == extract_article(one.body, url=one.final_url, content_type=one.content_type)
        assert "second version" in extraction.main_text
        shared = await asyncio.gather(
            archive.fetch("http://a.example/same"), archive.fetch("http://b.example/same")
        )
        for answer in shared:
            await pool.extract(
                answer.body, url=answer.final_url, content_type=answer.content_type, digest=answer.sha256
            )
        assert pool.extractions == 2
        for url in ("http://a.example/gone", "http://a.example/pdf"):
            assert (await archive.fetch(url)).status is not SourceStatus.OK
        assert pool.extractions == 2


async def test_a_page_that_overruns_in_the_worker_is_read_here_and_not_tried_again(tmp_path: Path) -> None:
    """A hostile page read by a worker overruns the pool's limit: its capture is still answered
    (read here), and its extraction fails at once as timed out, without a second run."""
    flood = paragraph_flood(60_000)
    path = write_warc(tmp_path / "hostile.warc.gz", [Cap("http://h.example/", _t(1), flood)])
    async with ExtractorPool(ExtractSettings(workers=1, timeout_s=1.0)) as pool:
        archive = ReplayArchive.open([path], reader=pool)
        answer = await archive.fetch("http://h.example/")
        assert (answer.status, answer.body) == (SourceStatus.OK, flood)
        assert pool.extractions == 1
        with pytest.raises(ExtractionTimeout):
            await pool.extract(
                answer.body, url=answer.final_url, content_type=answer.content_type, digest=answer.sha256
            )
        assert pool.extractions == 1
        calm = await pool.extract(_page("calm"), url="http://c.example/")
        assert "calm" in calm.main_text


async def test_a_relative_warc_path_is_read_by_a_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A WARC named relative to this process's directory, which is not the fork server's, is found
    by the worker too; the evidence still names the file as given."""
    write_warc(tmp_path / "rel.warc.gz", [Cap("http://r.example/", _t(1), _page("relative"))])
    async with ExtractorPool(ExtractSettings(workers=1, timeout_s=30)) as pool:
        monkeypatch.chdir(tmp_path)  # the workers and their fork server stay where they started
        archive = ReplayArchive.open([Path("rel.warc.gz")], reader=pool)
        answer = await archive.fetch("http://r.example/")
        assert (answer.status, pool.extractions) == (SourceStatus.OK, 1)
        assert answer.evidence is not None
        assert answer.evidence.file == "rel.warc.gz"


@pytest.mark.parametrize(
    ("status", "headers", "body", "expected"),
    [
        (200, HTML, b"<p>x</p>", True),
        (200, (), b"<!doctype html><p>x</p>", True),
        (200, (), b"%PDF", False),
        (200, (("Content-Type", "application/pdf"),), b"%PDF", False),
        (204, HTML, b"", False),
        (301, (("Location", "/x"),), b"", False),
        (404, HTML, b"<p>x</p>", False),
        (503, HTML, b"<p>x</p>", True),
        (503, HTML, b"", False),
    ],
)
async def test_worth_extracting_is_what_sources_extract(
    tmp_path: Path, status: int, headers: tuple[tuple[str, str], ...], body: bytes, expected: bool
) -> None:
    """The rule a worker applies to a raw answer is the one ``sources`` applies to the fetch
    replay makes of the same capture."""
    from service.pipeline.sources import _extractable

    reason = {200: "OK", 204: "No Content", 301: "Moved", 404: "Not Found", 503: "Unavailable"}[status]
    path = write_warc(
        tmp_path / "one.warc.gz", [Cap("http://w.example/", _t(1), body, f"{status} {reason}", headers)]
    )
    fetched = await ReplayArchive.open([path]).fetch("http://w.example/")
    assert worth_extracting(status, headers, body, HttpSettings().accepted_content_types) is expected
    assert _extractable(fetched) is expected


_ERRORS = [e for e in vars(errors).values() if isinstance(e, type) and issubclass(e, PipelineError)]


@given(
    kind=st.sampled_from([e for e in _ERRORS if e.__init__ is PipelineError.__init__]),
    message=st.text(max_size=40),
    reason=st.none() | st.sampled_from(list(SourceReason)),
)
def test_pipeline_errors_cross_a_process_boundary_whole(
    kind: type[PipelineError], message: str, reason: SourceReason | None
) -> None:
    """Any pipeline error, pickled (as a worker's answer is), keeps its class, message and reason."""
    error = kind(message, reason=reason)
    back = pickle.loads(pickle.dumps(error))
    assert (type(back), back.args, back.reason) == (kind, error.args, error.reason)


def test_errors_made_their_own_way_cross_a_process_boundary_whole() -> None:
    """Those whose constructor takes other arguments keep them too."""
    back = pickle.loads(pickle.dumps(errors.HTTPStatusError(451)))
    assert (back.status, back.reason, str(back)) == (451, SourceReason.for_http_status(451), "HTTP 451")
    hops = pickle.loads(pickle.dumps(errors.TooManyRedirects(7)))
    assert (type(hops), str(hops)) == (errors.TooManyRedirects, "more than 7 redirects")
    assert hops.reason == errors.TooManyRedirects(7).reason
    assert len([e for e in _ERRORS if e.__init__ is PipelineError.__init__]) >= 10
