"""LiveFetcher against the hostile fake origin on loopback (tests/fakes/origin.py)."""

from __future__ import annotations

import gzip
import time
import zlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from urllib.parse import quote

import pytest
from aiohttp import compression_utils

from service.pipeline.fetch.live import LiveFetcher
from service.pipeline.fetch.session import AddressPolicy, make_client_session
from service.pipeline.models import SourceStatus
from service.settings import MIB, HttpSettings
from tests.fakes.origin import (
    DEFAULT_PAGES,
    UNTYPED_BINARY,
    UNTYPED_HTML,
    Origin,
    StaticResolver,
    serve_origin,
    serve_raw,
)

LOCAL_NAMES: dict[str, str | list[str]] = {
    "localhost": "127.0.0.1",
    "public.test": "127.0.0.1",
    "private.test": "127.0.0.2",
    "mixed.test": ["127.0.0.3", "127.0.0.2"],  # an allowed address that refuses, then a denied one
}
PRIVATE_OK = HttpSettings(allow_private_addresses=True, total_timeout=10.0)

FetcherFactory = Callable[..., LiveFetcher]


@pytest.fixture
async def make_fetcher() -> AsyncIterator[FetcherFactory]:
    """Builds fetchers on sessions that resolve only LOCAL_NAMES; closes them afterwards."""
    sessions = []

    def factory(settings: HttpSettings = PRIVATE_OK, *, policy: AddressPolicy | None = None) -> LiveFetcher:
        session = make_client_session(settings, resolver=StaticResolver(LOCAL_NAMES), address_policy=policy)
        sessions.append(session)
        return LiveFetcher(session, settings)

    yield factory
    for session in sessions:
        await session.close()


def _loopback_spellings(port: int) -> list[str]:
    hosts = [
        "127.0.0.1", "localhost", "localhost.", "LOCALHOST", "[::1]", "[::ffff:127.0.0.1]", "2130706433",
        "0x7f.1", "0x7f000001", "0177.0.0.1", "017700000001", "127.1", "127.000.000.001",
        "１２７.０.０.１", "①②⑦.⓪.⓪.①", "evil.com@127.0.0.1", "127.0.0.1:80@127.0.0.1",
    ]  # fmt: skip
    return [f"http://{h}:{port}/pages/a" for h in hosts]


# ---------------------------------------------------------------- SSRF


async def test_loopback_in_every_spelling_is_refused_and_sends_nothing(
    origin: Origin, make_fetcher: FetcherFactory
) -> None:
    """With private addresses off, no spelling of loopback reaches the server."""
    fetcher = make_fetcher(HttpSettings(allowed_ports=None))
    for url in _loopback_spellings(origin.port):
        result = await fetcher.fetch(url)
        assert result.status is SourceStatus.REFUSED, url
        assert result.reason in {"private_address", "userinfo_in_url"}, url
    assert origin.total == 0


async def test_loopback_spellings_reach_the_server_when_private_allowed(
    origin: Origin, make_fetcher: FetcherFactory
) -> None:
    """allow_private_addresses lifts the address rules: decodable spellings are fetched."""
    fetcher = make_fetcher()
    reachable = [u for u in _loopback_spellings(origin.port) if "@" not in u and "::" not in u]
    for url in reachable:
        result = await fetcher.fetch(url)
        assert result.status is SourceStatus.OK, (url, result.reason)
        assert result.body == DEFAULT_PAGES["a"]
    assert origin.hits["/pages/a"] == len(reachable)


async def test_userinfo_is_refused_even_when_private_allowed(
    origin: Origin, make_fetcher: FetcherFactory
) -> None:
    """Credentials in a URL are a parser-confusion trick, never needed: always refused."""
    result = await make_fetcher().fetch(origin.url("/pages/a", host="evil.com@127.0.0.1"))
    assert (result.status, result.reason) == (SourceStatus.REFUSED, "userinfo_in_url")
    assert origin.total == 0


async def test_public_name_resolving_to_loopback_is_refused_at_connect(
    origin: Origin, make_fetcher: FetcherFactory
) -> None:
    """A harmless-looking name that resolves to 127.0.0.1 is stopped by the socket guard."""
    fetcher = make_fetcher(HttpSettings(allowed_ports=None))
    result = await fetcher.fetch(origin.url("/pages/a", host="public.test"))
    assert (result.status, result.reason) == (SourceStatus.REFUSED, "private_address")
    assert origin.total == 0


@pytest.mark.parametrize("code", [301, 302, 307])
async def test_redirect_to_a_denied_address_is_refused(
    origin: Origin, make_fetcher: FetcherFactory, code: int
) -> None:
    """An allowed origin redirecting to a name on a denied address: the guard refuses the hop."""
    settings = HttpSettings(allowed_ports=None)
    fetcher = make_fetcher(settings, policy=lambda ip: ip == "127.0.0.1")
    async with serve_origin(host="127.0.0.2") as canary:
        target = canary.url("/pages/a", host="private.test")
        url = origin.url(f"/to?code={code}&url={quote(target, safe='')}", host="public.test")
        result = await fetcher.fetch(url)
        assert (result.status, result.reason) == (SourceStatus.REFUSED, "private_address")
        assert [(r.url, r.status) for r in result.redirects] == [(url, code)]
        assert result.final_url == target
        assert origin.total == 1
        assert canary.total == 0


async def test_every_resolved_address_is_checked(make_fetcher: FetcherFactory) -> None:
    """Two A records, one allowed but refusing, one denied: the denied one is never dialled."""
    fetcher = make_fetcher(HttpSettings(allowed_ports=None), policy=lambda ip: ip != "127.0.0.2")
    async with serve_origin(host="127.0.0.2") as canary:
        result = await fetcher.fetch(canary.url("/pages/a", host="mixed.test"))
        assert (result.status, result.reason) == (SourceStatus.REFUSED, "private_address")
        assert canary.total == 0


@pytest.mark.parametrize(
    "target",
    ["http://127.0.0.2:{port}/pages/a", "http://2130706434:{port}/", "http://[::ffff:127.0.0.2]:{port}/",
     "http://localhost:{port}/", "http://169.254.169.254/latest/meta-data/", "//127.0.0.2:{port}/",
     "http://user:pass@127.0.0.100/"],
)  # fmt: skip
async def test_redirect_to_a_private_literal_is_refused_before_connecting(
    origin: Origin, make_fetcher: FetcherFactory, target: str
) -> None:
    """Every hop is re-checked: a Location naming a private address is refused outright."""
    fetcher = make_fetcher(HttpSettings(allowed_ports=None), policy=lambda ip: ip == "127.0.0.1")
    async with serve_origin(host="127.0.0.2") as canary:
        location = target.format(port=canary.port)
        url = origin.url(f"/to?url={quote(location, safe='')}", host="public.test")
        result = await fetcher.fetch(url)
        assert result.status is SourceStatus.REFUSED
        assert len(result.redirects) == 1
        assert canary.total == 0


async def test_redirect_to_file_scheme_is_unsupported(origin: Origin, make_fetcher: FetcherFactory) -> None:
    """A redirect to file:// ends the chain as unsupported, with the hop recorded."""
    url = origin.url("/to?url=file:///etc/passwd")
    result = await make_fetcher().fetch(url)
    assert (result.status, result.reason) == (SourceStatus.UNSUPPORTED, "unsupported_scheme")
    assert result.final_url == "file:///etc/passwd"
    assert [r.url for r in result.redirects] == [url]


@pytest.mark.parametrize(
    "url", ["ftp://example.com/x", "gopher://127.0.0.1:6379/_INFO", "javascript:alert(1)"]
)
async def test_unsupported_scheme(make_fetcher: FetcherFactory, url: str) -> None:
    """Non-http(s) URLs are not fetched."""
    result = await make_fetcher().fetch(url)
    assert (result.status, result.reason) == (SourceStatus.UNSUPPORTED, "unsupported_scheme")


# ---------------------------------------------------------------- redirects


@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
async def test_redirect_chain_is_followed_and_recorded(
    origin: Origin, make_fetcher: FetcherFactory, code: int
) -> None:
    """Each redirecting hop is recorded with its status; the final answer is the page."""
    result = await make_fetcher().fetch(origin.url(f"/chain/3?code={code}"))
    assert result.status is SourceStatus.OK
    assert [r.status for r in result.redirects] == [code] * 3
    assert [r.url for r in result.redirects] == [origin.url(f"/chain/{n}?code={code}") for n in (3, 2, 1)]
    assert result.final_url == origin.url(f"/chain/0?code={code}")
    assert result.body == DEFAULT_PAGES["a"]


async def test_long_chain_stops_at_max_redirects(origin: Origin, make_fetcher: FetcherFactory) -> None:
    """A 50-hop chain ends as too_many_redirects after max_redirects hops."""
    fetcher = make_fetcher(HttpSettings(allow_private_addresses=True, max_redirects=5))
    result = await fetcher.fetch(origin.url("/chain/50"))
    assert (result.status, result.reason) == (SourceStatus.ERROR, "too_many_redirects")
    assert len(result.redirects) == 6
    assert origin.total == 6


async def test_redirect_loop_stops(origin: Origin, make_fetcher: FetcherFactory) -> None:
    """A↔B loops are cut by the hop limit."""
    result = await make_fetcher(HttpSettings(allow_private_addresses=True, max_redirects=4)).fetch(
        origin.url("/loop/a")
    )
    assert result.reason == "too_many_redirects"
    assert origin.hits["/loop/a"] + origin.hits["/loop/b"] == 5


async def test_redirect_without_location(origin: Origin, make_fetcher: FetcherFactory) -> None:
    """A 302 with no Location is an error, not a page."""
    result = await make_fetcher().fetch(origin.url("/no-location"))
    assert (result.status, result.reason, result.http_status) == (
        SourceStatus.ERROR,
        "redirect_without_location",
        302,
    )


# ---------------------------------------------------------------- limits


@pytest.mark.parametrize("path", ["/huge", "/bomb", "/liar"])
async def test_body_cap(origin: Origin, make_fetcher: FetcherFactory, path: str) -> None:
    """Endless chunked bodies, gzip bombs and huge declared lengths stop at the cap, quickly."""
    fetcher = make_fetcher(HttpSettings(allow_private_addresses=True, max_body_bytes=MIB))
    started = time.monotonic()
    result = await fetcher.fetch(origin.url(path))
    assert (result.status, result.reason) == (SourceStatus.ERROR, "body_too_large")
    assert result.http_status == 200  # the answer came: its status is kept
    assert result.body == b""
    assert time.monotonic() - started < 5


async def test_short_body_is_an_error(origin: Origin, make_fetcher: FetcherFactory) -> None:
    """A body shorter than its Content-Length ends as a payload error."""
    result = await make_fetcher().fetch(origin.url("/short"))
    assert (result.status, result.reason) == (SourceStatus.ERROR, "payload_error")


async def test_drip_times_out(origin: Origin, make_fetcher: FetcherFactory) -> None:
    """A 1 byte/s drip is cut by the total timeout."""
    fetcher = make_fetcher(HttpSettings(allow_private_addresses=True, total_timeout=1.0))
    started = time.monotonic()
    result = await fetcher.fetch(origin.url("/drip"))
    assert (result.status, result.reason) == (SourceStatus.TIMEOUT, "timeout")
    assert time.monotonic() - started < 3


# ---------------------------------------------------------------- statuses and content


@pytest.mark.parametrize(
    ("code", "status"),
    [(404, SourceStatus.DEAD), (410, SourceStatus.DEAD), (401, SourceStatus.BLOCKED),
     (403, SourceStatus.BLOCKED), (429, SourceStatus.BLOCKED), (402, SourceStatus.PAYWALLED),
     (500, SourceStatus.ERROR), (503, SourceStatus.ERROR), (204, SourceStatus.ERROR)],
)  # fmt: skip
async def test_http_status_mapping(
    origin: Origin, make_fetcher: FetcherFactory, code: int, status: SourceStatus
) -> None:
    """HTTP answers map to the contract's source statuses, with reason http_<code>; the error page
    itself is kept (evidence, and what source health reads)."""
    result = await make_fetcher().fetch(origin.url(f"/status/{code}"))
    assert (result.status, result.reason, result.http_status) == (status, f"http_{code}", code)
    assert result.body == (b"" if code in (204, 205) else b"<html>status</html>")


async def test_unresolvable_name_is_dead(make_fetcher: FetcherFactory) -> None:
    """A name that does not resolve: dead, name_not_resolved."""
    result = await make_fetcher(HttpSettings()).fetch("http://nowhere.invalid/page")
    assert (result.status, result.reason) == (SourceStatus.DEAD, "name_not_resolved")


async def test_connection_refused_is_an_error(make_fetcher: FetcherFactory) -> None:
    """Nothing listening: a plain connection error, not a refusal by policy."""
    async with serve_origin() as gone:
        url = gone.url("/pages/a")
    result = await make_fetcher().fetch(url)
    assert (result.status, result.reason) == (SourceStatus.ERROR, "connection_failed")


async def test_non_html_content_type_is_an_error(origin: Origin, make_fetcher: FetcherFactory) -> None:
    """An image is not a page: error, unsupported_content_type, body not kept."""
    result = await make_fetcher().fetch(origin.url("/image"))
    assert (result.status, result.reason) == (SourceStatus.ERROR, "unsupported_content_type")
    assert result.body == b""


@pytest.mark.parametrize(
    ("answer", "status"), [(UNTYPED_HTML, SourceStatus.OK), (UNTYPED_BINARY, SourceStatus.ERROR)]
)
async def test_missing_content_type_is_sniffed(
    make_fetcher: FetcherFactory, answer: bytes, status: SourceStatus
) -> None:
    """Without a Content-Type the body decides: HTML-looking is read, anything else refused."""
    async with serve_raw(answer) as raw:
        result = await make_fetcher().fetch(raw.url("/x"))
        assert raw.hits["/x"] == 1
    assert result.status is status
    assert result.header("content-type") is None
    if status is SourceStatus.OK:
        assert result.body == DEFAULT_PAGES["b"]
    else:
        assert result.reason == "unsupported_content_type"


async def test_ok_result_fields(origin: Origin, make_fetcher: FetcherFactory) -> None:
    """A plain page: body, headers, content type, peer and time are recorded."""
    url = origin.url("/pages/b")
    result = await make_fetcher().fetch(url)
    assert result.status is SourceStatus.OK
    assert result.reason is None
    assert (result.url, result.final_url, result.http_status) == (url, url, 200)
    assert result.body == DEFAULT_PAGES["b"]
    assert result.content_type is not None
    assert result.content_type.startswith("text/html")
    assert result.header("content-length") == str(len(DEFAULT_PAGES["b"]))
    assert result.peer == "127.0.0.1"
    assert result.fetched_at is not None
    assert result.fetched_at.tzinfo is UTC
    assert result.sha256 is not None


async def test_fetch_at_has_no_past(make_fetcher: FetcherFactory) -> None:
    """The live web cannot answer for a past moment."""
    assert await make_fetcher().fetch_at("http://example.com/", datetime(2023, 1, 1, tzinfo=UTC)) is None


async def test_session_settings() -> None:
    """The session ignores proxy variables, sends our User-Agent and has a total timeout."""
    settings = HttpSettings(total_timeout=7.0, user_agent="TestBot/1")
    session = make_client_session(settings)
    try:
        assert session.trust_env is False
        assert session.timeout.total == 7.0
        assert session.headers["User-Agent"] == "TestBot/1"
        assert session.auto_decompress is True
    finally:
        await session.close()


# ---------------------------------------------------------------- content codings

_PAGE = b"<html><body><p>The quoted words of the page.</p></body></html>"


def _encoded(coding: str, body: bytes) -> bytes:
    head = f"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: {coding}\r\n"
    return head.encode() + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body


@pytest.mark.parametrize(
    ("coding", "body"),
    [
        ("gzip, gzip", gzip.compress(gzip.compress(_PAGE))),
        ("x-gzip", gzip.compress(_PAGE)),
        ("compress", b"\x1f\x9d\x90compressed"),
        ("made-up", b"\x00\x01"),
        ("gzip, identity", gzip.compress(_PAGE)),
        *([] if compression_utils.HAS_BROTLI else [("br", b"\x1b\x00")]),
        *([] if compression_utils.HAS_ZSTD else [("zstd", b"\x28\xb5\x2f\xfd")]),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
async def test_an_undecoded_content_coding_is_a_bad_encoding(
    make_fetcher: FetcherFactory, coding: str, body: bytes
) -> None:
    """Doubled, aliased, unknown or unsupported codings are refused by name, never read as the
    page (the compressed bytes' hash stored, every quote not found); the 200 is kept."""
    async with serve_raw(_encoded(coding, body)) as raw:
        result = await make_fetcher().fetch(raw.url("/x"))
    assert (result.status, result.reason) == (SourceStatus.ERROR, "bad_encoding")
    if coding not in ("br", "zstd"):  # those two aiohttp refuses itself, before an answer is made
        assert result.http_status == 200
    assert result.body == b""


@pytest.mark.parametrize("coding", ["gzip", "GZIP", "deflate", "identity"])
async def test_a_decoded_content_coding_gives_the_page(make_fetcher: FetcherFactory, coding: str) -> None:
    """gzip and deflate (any case, ``identity`` aside) arrive decoded."""
    compressed = {"gzip": gzip.compress(_PAGE), "deflate": zlib.compress(_PAGE)}
    name = coding.lower().split(",")[0]
    async with serve_raw(_encoded(coding, compressed.get(name, _PAGE))) as raw:
        result = await make_fetcher().fetch(raw.url("/x"))
    assert (result.status, result.body) == (SourceStatus.OK, _PAGE)
