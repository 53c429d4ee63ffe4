"""Reading one cited source (service/pipeline/sources.py): what it reports and logs when a stage fails."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from aiohttp import web
from structlog.testing import capture_logs

from service.pipeline.batch import run_batch
from service.pipeline.deps import Deps
from service.pipeline.errors import ExtractionError
from service.pipeline.evidence.store import EvidenceStore
from service.pipeline.extract.health import probe_url
from service.pipeline.fetch.live import LiveFetcher
from service.pipeline.fetch.session import make_client_session
from service.pipeline.models import (
    Citation,
    Extraction,
    InputFormat,
    QuoteStatus,
    SourceReason,
    SourceStatus,
)
from service.pipeline.posts import parse_post
from service.pipeline.sources import read_source
from service.pipeline.verify import verify_post
from service.settings import HttpSettings, Settings
from tests.fakes.origin import StaticResolver, serve_every_path, serve_origin
from tests.fakes.sources import FakeFetcher, TextExtractor

NO_PROBE = Settings(http=HttpSettings(probe_soft_404=False))
CATCH_ALL = (Path(__file__).resolve().parents[1] / "data" / "health" / "catch_all.html").read_text("utf-8")
URL = "https://news.example/a"
PAGE = (
    "Council approves new budget\n"
    "The city council approved a budget of 42 million dollars on Tuesday, after a debate that lasted "
    "nearly six hours and ended with a narrow vote.\n"
)
POST = (
    "The city council approved a budget of 42 million dollars on Tuesday, after a debate that lasted "
    "nearly six hours and ended with a narrow vote.\n\n" + URL + "\n"
)


class CrashingExtractor:
    """An extraction pool whose worker died on the page."""

    async def extract(
        self, body: bytes, *, url: str, content_type: str | None = None, digest: str | None = None
    ) -> Extraction:
        raise ExtractionError("an extraction worker died", reason=SourceReason.EXTRACTION_CRASHED)


async def test_failed_extraction_is_an_error_source_and_logged() -> None:
    """A page the extractor fails on is an error source with the failure's reason, its passage is
    unverifiable, and an ``extraction_failed`` warning names the URL and the reason."""
    deps = Deps(settings=NO_PROBE, fetcher=FakeFetcher({URL: PAGE}), extractor=CrashingExtractor())
    with capture_logs() as logs:
        report = await verify_post(parse_post(POST, InputFormat.TEXT), deps=deps)
    assert [(s.status, s.reason) for s in report.sources] == [(SourceStatus.ERROR, "extraction_crashed")]
    assert [q.status for q in report.quotes] == [QuoteStatus.UNVERIFIABLE]
    assert [e for e in logs if e["event"] == "extraction_failed"] == [
        {"event": "extraction_failed", "log_level": "warning", "url": URL, "reason": "extraction_crashed"}
    ]


async def test_evidence_the_store_cannot_write_is_logged_and_the_check_goes_on(tmp_path: Path) -> None:
    """When the evidence store cannot write (its folder cannot be created), the source is still read
    and its passage verified, without a WARC location, and ``evidence_not_stored`` names the URL and
    the store's error."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the store's folder should be")
    store = EvidenceStore(blocker)
    deps = Deps(settings=NO_PROBE, fetcher=FakeFetcher({URL: PAGE}), extractor=TextExtractor(), store=store)
    with capture_logs() as logs:
        report = await verify_post(parse_post(POST, InputFormat.TEXT), deps=deps)
    assert [q.status for q in report.quotes] == [QuoteStatus.VERBATIM]
    assert [(s.status, s.archive_warc) for s in report.sources] == [(SourceStatus.OK, None)]
    [event] = [e for e in logs if e["event"] == "evidence_not_stored"]
    assert event["log_level"] == "warning"
    assert event["url"] == URL
    assert event["error"].startswith("cannot create ")
    assert str(blocker) in event["error"]


# ---------------------------------------------------------------- the soft-404 probe, live


PROBING = Settings(http=HttpSettings(allow_private_addresses=True, total_timeout=10.0))
STORY = (
    "<html><head><title>Story {n}</title></head><body><h1>Story {n}</h1><p>Story {n}: the ferry "
    "number {n} left the harbour at dawn with {n} passengers and a cargo of timber for the island "
    "school, its captain said on the radio.</p></body></html>"
)


def stories(k: int) -> dict[str, bytes]:
    return {f"s{n}": STORY.format(n=n).encode() for n in range(k)}


def quoting(url: str, n: int) -> str:
    return f'"the ferry number {n} left the harbour at dawn with {n} passengers"\n\n{url}\n'


def probe_path(url: str) -> str:
    return urlsplit(probe_url(url)).path


@asynccontextmanager
async def live_deps(settings: Settings = PROBING) -> AsyncIterator[Deps]:
    """Live fetches on a real session (loopback allowed); text 'extraction'; no evidence store."""
    async with make_client_session(settings.http) as session:
        fetcher = LiveFetcher(session, settings.http)
        yield Deps(settings=settings, fetcher=fetcher, extractor=TextExtractor(), live=True)


async def test_a_batch_citing_k_pages_of_one_host_probes_it_once() -> None:
    """Five posts, each citing another page of one host, verified concurrently: the host gets six
    requests, its five pages and one probe at the origin's made-up path."""
    async with serve_origin(pages=stories(5)) as origin, live_deps() as deps:
        lines = [
            json.dumps({"id": f"p{n}", "text": quoting(origin.url(f"/pages/s{n}"), n)}) for n in range(5)
        ]
        out: list[str] = []
        await run_batch(lines, out.append, deps=deps, concurrency=8)
        hits, probe = dict(origin.hits), probe_path(origin.url("/"))
    assert [json.loads(line)["verdict"] for line in out] == ["verified"] * 5
    assert hits == {**{f"/pages/s{n}": 1 for n in range(5)}, probe: 1}


async def test_a_link_the_guard_refuses_sends_no_probe_either() -> None:
    """Links refused before anything is sent (credentials in them; an over-long URL) to a host
    that is allowed: its name is not even looked up, where the soft-404 probe of its origin, which
    a readable link starts alongside its page, used to ask the resolver before it was dropped."""
    resolver = StaticResolver({"public.test": "127.0.0.1"})
    async with (
        serve_origin(pages=stories(1)) as origin,
        make_client_session(PROBING.http, resolver=resolver) as session,
    ):
        deps = Deps(settings=PROBING, fetcher=LiveFetcher(session, PROBING.http), extractor=TextExtractor(),
                    live=True)  # fmt: skip
        page = origin.url("/pages/s0", host="public.test")
        for url in (origin.url("/pages/s0", host="user:pw@public.test"), page + "?" + "x" * 3000):
            source = await read_source(Citation(url, url, (0, 0)), None, deps)
            assert source.report.status is SourceStatus.REFUSED, url
        assert resolver.asked == []
        assert origin.total == 0
        readable = await read_source(Citation(page, page, (0, 0)), None, deps)
        assert readable.report.status is SourceStatus.OK
        assert origin.hits == {"/pages/s0": 1, probe_path(page): 1}
        assert resolver.asked


async def test_two_hosts_get_one_probe_each() -> None:
    """Pages of two origins read one after the other: one probe per origin, each at its own path."""
    async with serve_origin(pages=stories(3)) as one, serve_origin(pages=stories(3)) as two:
        async with live_deps() as deps:
            for n in range(3):
                for origin in (one, two):
                    post = parse_post(quoting(origin.url(f"/pages/s{n}"), n), InputFormat.TEXT)
                    assert (await verify_post(post, deps=deps)).verdict.value == "verified"
        probes = [probe_path(one.url("/")), probe_path(two.url("/"))]
        assert probes[0] != probes[1]
        assert [one.hits[probes[0]], two.hits[probes[1]]] == [1, 1]
        assert [one.total, two.total] == [4, 4]


async def test_the_probe_is_sent_alongside_the_page_not_after_it() -> None:
    """The page answers only once the probe has arrived (else, after 5 s, with a 500): the source is
    ok, so the probe went out while the page's fetch was still waiting."""
    probed = asyncio.Event()

    async def handler(request: web.Request) -> web.Response:
        if request.path != "/story":
            probed.set()
            raise web.HTTPNotFound
        try:
            await asyncio.wait_for(probed.wait(), 5)
        except TimeoutError:
            raise web.HTTPInternalServerError from None
        return web.Response(text=STORY.format(n=1), content_type="text/html")

    async with serve_every_path(handler) as site, live_deps() as deps:
        post = parse_post(quoting(site.url("/story"), 1), InputFormat.TEXT)
        report = await verify_post(post, deps=deps)
        assert [s.status for s in report.sources] == [SourceStatus.OK]
        assert site.hits[probe_path(site.url("/"))] == 1


async def test_a_probe_no_rule_needs_is_not_waited_for() -> None:
    """A page that is a real 404, or a soft 404 by its title, is reported at once while the host's
    probe hangs: the probe is not waited for when no rule needs it."""
    release = asyncio.Event()
    title_404 = "<html><head><title>Page not found</title></head><body><h1>Page not found</h1></body></html>"

    async def handler(request: web.Request) -> web.Response:
        if request.path == "/gone":
            raise web.HTTPNotFound
        if request.path == "/missing":
            return web.Response(text=title_404, content_type="text/html")
        await release.wait()  # the probe: answers only when the test ends
        raise web.HTTPNotFound

    async with serve_every_path(handler) as site, live_deps() as deps:
        try:
            async with asyncio.timeout(5):
                gone = await read_source(Citation(site.url("/gone"), site.url("/gone"), (0, 0)), None, deps)
                missing = await read_source(
                    Citation(site.url("/missing"), site.url("/missing"), (0, 0)), None, deps
                )
        finally:
            release.set()
    assert gone.report.status is SourceStatus.DEAD
    assert (missing.report.status, missing.report.reason) == (SourceStatus.SOFT_404, "not_found_title")


async def test_a_site_answering_every_path_alike_is_still_a_soft_404() -> None:
    """A catch-all site (every path a 200 listing that echoes the path) is caught by its one probe,
    for each of its cited pages."""

    async def handler(request: web.Request) -> web.Response:
        slug = request.path.rsplit("/", 1)[-1]
        return web.Response(text=CATCH_ALL.replace("__SLUG__", slug), content_type="text/html")

    async with serve_every_path(handler) as site, live_deps() as deps:
        post = parse_post(quoting(site.url("/2019/garden-notes"), 1) + site.url("/2020/bridge-opens") + "\n",
                          InputFormat.TEXT)  # fmt: skip
        report = await verify_post(post, deps=deps)
        hits, probe = dict(site.hits), probe_path(site.url("/"))
    assert [(s.status, s.reason) for s in report.sources] == [
        (SourceStatus.SOFT_404, "same_as_random_path")
    ] * 2
    assert hits == {"/2019/garden-notes": 1, "/2020/bridge-opens": 1, probe: 1}


async def test_a_page_redirected_to_another_host_is_compared_with_that_hosts_probe() -> None:
    """The probe belongs to the origin that answered: a cited URL redirecting to another host is
    compared with a probe of that host, once."""
    async with serve_origin(pages=stories(2)) as target, serve_origin() as short, live_deps() as deps:
        for n in range(2):
            cited = short.url("/to?" + urlencode({"url": target.url(f"/pages/s{n}"), "code": "301"}))
            report = await verify_post(parse_post(quoting(cited, n), InputFormat.TEXT), deps=deps)
            assert [s.final_url for s in report.sources] == [target.url(f"/pages/s{n}")]
            assert report.verdict.value == "verified"
        assert target.hits[probe_path(target.url("/"))] == 1
        # The cited origin's probe starts with each fetch and is dropped once the page left it.
        assert short.hits[probe_path(short.url("/"))] <= 2


async def test_no_probe_at_all_when_the_probe_is_off() -> None:
    """With probe_soft_404 off, only the cited pages are requested."""
    settings = Settings(http=HttpSettings(allow_private_addresses=True, probe_soft_404=False))
    async with serve_origin(pages=stories(2)) as origin, live_deps(settings) as deps:
        for n in range(2):
            await verify_post(parse_post(quoting(origin.url(f"/pages/s{n}"), n), InputFormat.TEXT), deps=deps)
        assert dict(origin.hits) == {"/pages/s0": 1, "/pages/s1": 1}
