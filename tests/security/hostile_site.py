"""A hostile web site for the security battery, run in a process of its own
(``python -m tests.security.hostile_site``) so that its work (compressing a 1 GiB bomb, writing
10,000 headers) never runs on the event loop whose stalls the battery measures.

It serves the fake origin's endpoints (``tests/fakes/origin.py``: ``/bomb``, ``/huge``, ``/liar``,
``/drip``, ``/chain/{n}``, ``/loop/{side}``) plus header floods, parser bombs, bogus charsets and
bad content codings, and, on a second port, a raw server for what aiohttp's server won't send:
headers dripped one line a second, and silence after accept. It prints ``{"web": port, "raw":
port}`` on one line, then serves until killed.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import sys
from contextlib import suppress

from aiohttp import web

from tests.fakes.origin import Handler, create_origin_app

PAGE = "<html><head><title>{title}</title></head><body><h1>{title}</h1><p>{text}</p></body></html>"

# Each page's own sentence, quoted by the battery's post.
SENTENCES = {
    "normal": "The harbour master said the ferry would sail again on Monday morning.",
    "attrs": "After the flood of attributes the council published its annual report.",
    "nest255": "Two hundred and fifty five boxes deep lies this sentence about rivers.",
    "nest1000": "One thousand boxes deep lies this other sentence about mountains.",
    "nest100000": "A hundred thousand boxes deep lies this sentence about the sea.",
    "charset_bogus": "The bogus charset page says the library will open on Sundays.",
    "charset_base64": "The base64 charset page says the bridge repairs are finished.",
    "charset_utf7": "The utf-7 meta page says C++ classes + lessons start in May.",
    "flood": "word and more words here",
}


def page(name: str, title: str = "A page") -> bytes:
    return PAGE.format(title=title, text=SENTENCES[name]).encode()


def nested(name: str, depth: int) -> bytes:
    """An introduction, then the page's sentence ``depth`` ``<div>``s deep, then a footer."""
    return (
        "<html><head><title>Nested</title></head><body><p>An introduction that comes first.</p>"
        + "<div>" * depth + f"<p>{SENTENCES[name]}</p>" + "</div>" * depth
        + "<p>A footer after it.</p></body></html>"
    ).encode()  # fmt: skip


def attribute_bomb(count: int) -> bytes:
    attributes = " ".join(f"a{i}=x" for i in range(count))
    return f"<html><body><div {attributes}><p>{SENTENCES['attrs']}</p></div></body></html>".encode()


def paragraph_flood(count: int) -> bytes:
    return (
        "<html><body><article>" + "<p>word and more words here</p>" * count + "</article></body></html>"
    ).encode()


def _html(body: bytes, charset: str | None = "utf-8", **headers: str) -> web.Response:
    content_type = "text/html" + (f"; charset={charset}" if charset else "")
    return web.Response(body=body, headers={"Content-Type": content_type, **headers})


async def _many_headers(request: web.Request) -> web.Response:
    headers = {f"X-Flood-{i}": "y" * 20 for i in range(10_000)}
    return web.Response(body=page("normal"), content_type="text/html", headers=headers)


async def _huge_header(request: web.Request) -> web.Response:
    return web.Response(
        body=page("normal"), content_type="text/html", headers={"Set-Cookie": "a=" + "b" * 100_000}
    )


def _fixed(body: bytes, **kwargs: str | None) -> Handler:
    charset = kwargs.pop("charset", "utf-8")
    headers = {k.replace("_", "-"): v for k, v in kwargs.items() if v is not None}

    async def handler(request: web.Request) -> web.Response:
        return _html(body, charset, **headers)

    return handler


def create_hostile_app() -> web.Application:
    app = create_origin_app({"normal": page("normal")})
    app.router.add_get("/headers/many", _many_headers)
    app.router.add_get("/headers/huge", _huge_header)
    app.router.add_get("/attrs", _fixed(attribute_bomb(100_000)))
    for depth in (255, 1000, 100_000):
        app.router.add_get(f"/nest/{depth}", _fixed(nested(f"nest{depth}", depth)))
    app.router.add_get("/charset/bogus", _fixed(page("charset_bogus"), charset="x-no-such-charset"))
    app.router.add_get("/charset/base64", _fixed(page("charset_base64"), charset="base64"))
    utf7 = page("charset_utf7").replace(b"<head>", b'<head><meta charset="utf-7">')
    app.router.add_get("/charset/utf7", _fixed(utf7, charset=None))
    app.router.add_get("/encoding/unknown", _fixed(b"\x00\x01\x02 not a page", Content_Encoding="made-up"))
    app.router.add_get("/encoding/double", _fixed(gzip.compress(gzip.compress(page("normal"))),
                                                  Content_Encoding="gzip, gzip"))  # fmt: skip
    app.router.add_get("/flood", _fixed(paragraph_flood(150_000)))  # ~23 s of CPU, 4.4 MiB
    return app


async def _raw(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """``/headers/slow``: a status line, then a header line a second for a minute; anything else:
    read the request and say nothing for a minute."""
    with suppress(ConnectionError, asyncio.IncompleteReadError):
        head = await reader.readuntil(b"\r\n\r\n")
        if head.split(b" ", 2)[1] == b"/headers/slow":
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n")
            for i in range(60):
                writer.write(b"X-Slow-%d: y\r\n" % i)
                await writer.drain()
                await asyncio.sleep(1)
        else:
            await asyncio.sleep(60)
    writer.close()


async def main() -> None:
    runner = web.AppRunner(create_hostile_app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    raw = await asyncio.start_server(_raw, "127.0.0.1", 0)
    ports = {"web": site._server.sockets[0].getsockname()[1], "raw": raw.sockets[0].getsockname()[1]}  # type: ignore[union-attr]
    sys.stdout.write(json.dumps(ports) + "\n")
    sys.stdout.flush()
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
