"""The hostile-page battery: one post citing every hostile page of ``hostile_site.py`` and one
normal page, verified through the product's entry point (``verify_post``) at the DEFAULT limits
(5 MiB decoded body, 20 s total per fetch, 10 redirects, extraction in 2 killable workers with
10 s wall clock and 10 s CPU per page) while a heartbeat measures the event loop.

Each hostile source ends with its expected status and reason, the normal page's quote is judged
verbatim, nothing is flagged, and this process's event loop is never held for 100 ms. The hostile
site runs in a process of its own, so its own work (compressing the bomb, writing 10,000 headers)
is not charged to the loop measured here.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from service.pipeline.extract.pool import ExtractorPool
from service.pipeline.models import InputFormat, QuoteStatus
from service.pipeline.posts.reader import parse_post
from service.pipeline.verify import verify_post
from service.settings import ExtractSettings, HttpSettings, Settings
from tests.fakes.origin import StaticResolver
from tests.security.conftest import heartbeat
from tests.security.harness import deps_with
from tests.security.hostile_site import SENTENCES

ROOT = Path(__file__).resolve().parents[2]
# The defaults, extraction pool included; only ports are open (the site listens on random ones).
DEFAULTS = Settings(http=HttpSettings(allowed_ports=None), extract=ExtractSettings())

OK = ("ok", None, QuoteStatus.VERBATIM)
INCOMPLETE = ("ok", "extraction_incomplete", QuoteStatus.UNVERIFIABLE)
TOO_LARGE = ("error", "body_too_large", QuoteStatus.UNVERIFIABLE)
TIMEOUT = ("timeout", "timeout", QuoteStatus.UNVERIFIABLE)
REDIRECTS = ("error", "too_many_redirects", QuoteStatus.UNVERIFIABLE)
ENCODING = ("error", "bad_encoding", QuoteStatus.UNVERIFIABLE)

# path on the site (raw: the raw server) -> (source status, reason, status of its quote)
EXPECTED: dict[str, tuple[str, str | None, QuoteStatus]] = {
    "/pages/normal": OK,
    "/bomb": TOO_LARGE,  # 1 GiB of zeros, gzip: stopped at 5 MiB decoded
    "/huge": TOO_LARGE,  # 1 GiB chunked, no length
    "/liar": TOO_LARGE,  # declares 1 GiB
    "/drip": TIMEOUT,  # a byte a second for a minute: cut at 20 s
    "raw:/headers/slow": TIMEOUT,  # a header line a second for a minute
    "raw:/silent": (
        "timeout",
        "first_byte_timeout",
        QuoteStatus.UNVERIFIABLE,
    ),  # accepts, then says nothing: 15 s
    "/headers/many": ("error", "bad_response", QuoteStatus.UNVERIFIABLE),  # 10,000 headers
    "/headers/huge": ("error", "bad_response", QuoteStatus.UNVERIFIABLE),  # one 100 kB header
    "/chain/50": REDIRECTS,
    "/loop/a": REDIRECTS,
    "/attrs": OK,  # 100,000 attributes on one tag: the tag loses them, the text stays
    "/nest/255": INCOMPLETE,
    "/nest/1000": INCOMPLETE,
    "/nest/100000": INCOMPLETE,
    "/charset/bogus": OK,  # charset=x-no-such-charset
    "/charset/base64": OK,  # charset=base64 (a Python codec, no web charset)
    "/charset/utf7": OK,  # <meta charset="utf-7">
    "/encoding/unknown": ENCODING,  # Content-Encoding: made-up
    "/encoding/double": ENCODING,  # Content-Encoding: gzip, gzip
    "/flood": ("error", "extraction_timeout", QuoteStatus.UNVERIFIABLE),  # 150,000 <p>: ~23 s of CPU
}
QUOTED = {
    "/pages/normal": SENTENCES["normal"],
    "/attrs": SENTENCES["attrs"],
    "/nest/255": SENTENCES["nest255"],
    "/nest/1000": SENTENCES["nest1000"],
    "/nest/100000": SENTENCES["nest100000"],
    "/charset/bogus": SENTENCES["charset_bogus"],
    "/charset/base64": SENTENCES["charset_base64"],
    "/charset/utf7": SENTENCES["charset_utf7"],
}


@asynccontextmanager
async def hostile_site() -> AsyncIterator[dict[str, int]]:
    """``hostile_site.py`` in its own process: its two ports."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.security.hostile_site", cwd=ROOT, env=dict(os.environ),
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        ports = json.loads(await asyncio.wait_for(proc.stdout.readline(), 60))
        yield ports
    finally:
        proc.kill()
        await proc.wait()


def _url(path: str, ports: dict[str, int]) -> str:
    if path.startswith("raw:"):
        return f"http://hostile.test:{ports['raw']}{path[4:]}"
    return f"http://hostile.test:{ports['web']}{path}"


def _quote(path: str, n: int) -> str:
    return QUOTED.get(path, f"This hostile page number {n} never arrived in one piece")


async def test_hostile_pages_at_default_limits_leave_the_post_judged_and_the_loop_free() -> None:
    """Every hostile page ends with its expected status and reason, the rest of the post is
    judged (the normal page verbatim), nothing is flagged, the whole post takes about the 20 s
    fetch limit, and the event loop never stalls for 100 ms."""
    async with hostile_site() as ports, ExtractorPool(DEFAULTS.extract) as pool:
        urls = {path: _url(path, ports) for path in EXPECTED}
        text = "\n\n".join(f'"{_quote(path, n)}" {url}' for n, (path, url) in enumerate(urls.items()))
        post = parse_post(text + "\n", InputFormat.TEXT)
        assert [c.url for c in post.citations] == list(urls.values())
        resolver = StaticResolver({"hostile.test": "127.0.0.1"})
        async with deps_with(resolver, DEFAULTS, pool) as deps, heartbeat() as beat:
            started = time.monotonic()
            report = await verify_post(post, deps=deps)
            elapsed = time.monotonic() - started
    print(f"hostile pages: {elapsed:.1f} s; loop {beat}")  # shown with -s, for README figures
    got = {path: (s.status.value, s.reason) for path, s in zip(urls, report.sources, strict=True)}
    assert got == {path: expected[:2] for path, expected in EXPECTED.items()}
    quotes = {q.cited_url: q for q in report.quotes if q.explicit}
    assert {path: quotes[url].status for path, url in urls.items()} == {
        path: expected[2] for path, expected in EXPECTED.items()
    }
    assert not [q for q in report.quotes if q.flagged]
    assert report.verdict.value == "verified"
    assert 19 < elapsed < 45  # the drips end at the 20 s total limit, not at their 60 s
    assert beat.ticks > 100
    assert beat.held < 0.1, str(beat)
    assert beat.longest < 1.0, str(beat)  # run-queue waits on a busy shared machine stay far below this
