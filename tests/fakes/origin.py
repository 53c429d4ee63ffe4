"""A hostile origin server for fetch tests, on loopback only (security.md §2 "hostile test server").

It counts every request it receives, so a test can prove that a refused URL sent nothing.
Endpoints: pages from a dict, redirect chains and loops, redirects to any Location, every status,
a 1 byte/s drip, an endless chunked body, lying Content-Lengths, a streamed 1 GiB gzip bomb and
non-HTML answers. ``StaticResolver`` maps made-up names to loopback addresses.
"""

from __future__ import annotations

import asyncio
import socket
import zlib
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass

from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.test_utils import TestServer

HITS = web.AppKey("hits", Counter[str])
PAGES = web.AppKey("pages", dict[str, bytes])

GIB = 1024**3
ZEROS = bytes(65536)

DEFAULT_PAGES: dict[str, bytes] = {
    "a": b"<!doctype html><html><head><title>A</title></head><body><p>Page A.</p></body></html>",
    "b": b"<!doctype html><html><head><title>B</title></head><body><p>Page B.</p></body></html>",
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def _count(request: web.Request, handler: Handler) -> web.StreamResponse:
    request.app[HITS][request.path] += 1
    return await handler(request)


async def _page(request: web.Request) -> web.Response:
    body = request.app[PAGES].get(request.match_info["name"])
    if body is None:
        raise web.HTTPNotFound(text="no such page")
    return web.Response(body=body, content_type="text/html", charset="utf-8")


def _redirect(location: str, code: int) -> web.Response:
    return web.Response(status=code, headers={"Location": location})


async def _chain(request: web.Request) -> web.Response:
    """``/chain/{n}`` redirects n times, then answers page ``a``."""
    n = int(request.match_info["n"])
    code = int(request.query.get("code", "302"))
    if n <= 0:
        return web.Response(body=DEFAULT_PAGES["a"], content_type="text/html")
    return _redirect(f"/chain/{n - 1}?code={code}", code)


async def _loop(request: web.Request) -> web.Response:
    other = "b" if request.match_info["side"] == "a" else "a"
    return _redirect(f"/loop/{other}", 302)


async def _to(request: web.Request) -> web.Response:
    """``/to?url=X&code=302``: a redirect to anything (file://, loopback, private addresses)."""
    return _redirect(request.query["url"], int(request.query.get("code", "302")))


async def _no_location(request: web.Request) -> web.Response:
    return web.Response(status=302)


async def _status(request: web.Request) -> web.Response:
    return web.Response(status=int(request.match_info["code"]), text="<html>status</html>",
                        content_type="text/html")  # fmt: skip


async def _drip(request: web.Request) -> web.StreamResponse:
    """One byte a second for a minute: only a total timeout stops it."""
    resp = web.StreamResponse(headers={"Content-Type": "text/html"})
    await resp.prepare(request)
    for _ in range(60):
        await resp.write(b"<")
        await asyncio.sleep(1)
    return resp


async def _stream(request: web.Request, resp: web.StreamResponse, chunks: Callable[[], bytes]) -> None:
    """Write chunks until 1 GiB or the client leaves."""
    await resp.prepare(request)
    sent = 0
    with suppress(ConnectionResetError, ConnectionError):
        while sent < GIB:
            data = chunks()
            sent += len(ZEROS)
            if data:
                await resp.write(data)
            await asyncio.sleep(0)  # the client shares this event loop: let it read


async def _huge(request: web.Request) -> web.StreamResponse:
    """1 GiB chunked, no Content-Length."""
    resp = web.StreamResponse(headers={"Content-Type": "text/html"})
    resp.enable_chunked_encoding()
    await _stream(request, resp, lambda: ZEROS)
    return resp


async def _bomb(request: web.Request) -> web.StreamResponse:
    """1 GiB of zeros gzip-compressed as it is sent (~1 MiB on the wire); never held in memory."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    resp = web.StreamResponse(headers={"Content-Type": "text/html", "Content-Encoding": "gzip"})
    resp.enable_chunked_encoding()
    await _stream(request, resp, lambda: comp.compress(ZEROS) + comp.flush(zlib.Z_SYNC_FLUSH))
    return resp


async def _liar(request: web.Request) -> web.StreamResponse:
    """Declares 1 GiB, sends a few bytes and hangs up."""
    resp = web.StreamResponse(headers={"Content-Type": "text/html", "Content-Length": str(GIB)})
    resp.force_close()
    await resp.prepare(request)
    await resp.write(b"<html>")
    return resp


async def _short(request: web.Request) -> web.StreamResponse:
    """Declares 1,000 bytes, sends 10 and hangs up: an incomplete body."""
    resp = web.StreamResponse(headers={"Content-Type": "text/html", "Content-Length": "1000"})
    resp.force_close()
    await resp.prepare(request)
    await resp.write(b"<html>0123")
    return resp


async def _image(request: web.Request) -> web.Response:
    return web.Response(body=b"\x89PNG\r\n\x1a\n" + bytes(64), content_type="image/png")


def create_origin_app(pages: Mapping[str, bytes] | None = None) -> web.Application:
    """The fake origin; ``app[HITS]`` counts requests per path."""
    app = web.Application(middlewares=[_count])
    app[HITS] = Counter()
    app[PAGES] = dict(DEFAULT_PAGES if pages is None else pages)
    app.router.add_get("/pages/{name}", _page)
    app.router.add_get("/chain/{n}", _chain)
    app.router.add_get("/loop/{side}", _loop)
    app.router.add_get("/to", _to)
    app.router.add_get("/no-location", _no_location)
    app.router.add_get("/status/{code}", _status)
    app.router.add_get("/drip", _drip)
    app.router.add_get("/huge", _huge)
    app.router.add_get("/bomb", _bomb)
    app.router.add_get("/liar", _liar)
    app.router.add_get("/short", _short)
    app.router.add_get("/image", _image)
    return app


@dataclass
class Origin:
    """A running fake origin: its address and request counter."""

    server: TestServer | None
    hits: Counter[str]
    raw_host: str = ""
    raw_port: int = 0

    @property
    def host(self) -> str:
        return self.server.host if self.server is not None else self.raw_host

    @property
    def port(self) -> int:
        if self.server is None:
            return self.raw_port
        assert self.server.port is not None
        return self.server.port

    @property
    def total(self) -> int:
        return sum(self.hits.values())

    def url(self, path: str, host: str | None = None) -> str:
        return f"http://{host or self.host}:{self.port}{path}"


@asynccontextmanager
async def serve_origin(
    host: str = "127.0.0.1", pages: Mapping[str, bytes] | None = None
) -> AsyncIterator[Origin]:
    """Start the fake origin on ``host`` (a loopback address) at a free port."""
    app = create_origin_app(pages)
    server = TestServer(app, host=host, port=0)
    await server.start_server()
    try:
        yield Origin(server, app[HITS])
    finally:
        await server.close()


@asynccontextmanager
async def serve_every_path(handler: Handler, host: str = "127.0.0.1") -> AsyncIterator[Origin]:
    """A site answering every path with ``handler``; ``hits`` counts its requests per path."""
    app = web.Application(middlewares=[_count])
    app[HITS] = Counter()
    app.router.add_get("/{tail:.*}", handler)
    server = TestServer(app, host=host, port=0)
    await server.start_server()
    try:
        yield Origin(server, app[HITS])
    finally:
        await server.close()


UNTYPED_HTML = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (
    len(DEFAULT_PAGES["b"]),
    DEFAULT_PAGES["b"],
)
UNTYPED_BINARY = b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\n\x00\x01binary"


@asynccontextmanager
async def serve_raw(answer: bytes, host: str = "127.0.0.1") -> AsyncIterator[Origin]:
    """A server that answers every request with ``answer`` verbatim (headers aiohttp would add).

    Counts requests by path like ``serve_origin``; ``server`` is None-free only for ``url``.
    """
    hits: Counter[str] = Counter()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        parts = head.split(b" ", 2)
        hits[parts[1].decode("latin-1") if len(parts) > 1 else ""] += 1
        writer.write(answer)
        await writer.drain()
        writer.close()
        with suppress(ConnectionError):
            await writer.wait_closed()

    server = await asyncio.start_server(handle, host, 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield Origin(None, hits, raw_host=host, raw_port=port)
    finally:
        server.close()
        await server.wait_closed()


@asynccontextmanager
async def serve_stall(head: bytes = b"", host: str = "127.0.0.1") -> AsyncIterator[Origin]:
    """A server that reads each request, sends ``head`` (by default nothing, not even a status
    line), then stays silent with the connection open until it is shut down.

    Counts requests by path like ``serve_origin``; nothing waits on a timer, so a test's own
    limits are all that end a request to it.
    """
    hits: Counter[str] = Counter()
    shutdown = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with suppress(ConnectionError, asyncio.IncompleteReadError):
            request = await reader.readuntil(b"\r\n\r\n")
            parts = request.split(b" ", 2)
            hits[parts[1].decode("latin-1") if len(parts) > 1 else ""] += 1
            writer.write(head)
            await writer.drain()
            await shutdown.wait()
        writer.close()

    server = await asyncio.start_server(handle, host, 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield Origin(None, hits, raw_host=host, raw_port=port)
    finally:
        shutdown.set()
        server.close()
        await server.wait_closed()


class StaticResolver(AbstractResolver):
    """Resolves only the names it is given; any other name fails like NXDOMAIN."""

    def __init__(self, names: Mapping[str, str | list[str]]) -> None:
        self.names = {k.lower().rstrip("."): [v] if isinstance(v, str) else list(v) for k, v in names.items()}
        self.asked: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.asked.append(host)
        ips = self.names.get(host.lower().rstrip("."))
        if not ips:
            raise OSError(socket.EAI_NONAME, f"name not known: {host}")
        return [
            ResolveResult(
                hostname=host,
                host=ip,
                port=port,
                family=socket.AF_INET6 if ":" in ip else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for ip in ips
        ]

    async def close(self) -> None:
        return None
