"""SSRF battery, part 1: every spelling of a private, loopback, link-local or metadata destination
(``spellings.py``) cited in a post is refused for its exact reason, and nothing is dialled or
looked up: an audit hook sees every ``socket.connect``/``socket.getaddrinfo`` of the process, a
canary on loopback counts every connection, the stub resolver every name it is asked.

Each spelling goes through the product's entry point (``verify_post``, default settings, a live
fetcher on the guarded session) as its own post, with the link as an ``href`` so the spelling
reaches the reader verbatim; then all of them at once through ``provenance batch`` under the audit
hook of ``tests/test_cli_live.py``.
"""

from __future__ import annotations

import asyncio
import html
import json
import os
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from service.pipeline.deps import Deps
from service.pipeline.extract.pool import ExtractorPool
from service.pipeline.fetch.live import LiveFetcher
from service.pipeline.fetch.session import make_client_session
from service.pipeline.models import InputFormat, QuoteStatus, Report
from service.pipeline.posts.reader import parse_post
from service.pipeline.verify import verify_post
from service.settings import ExtractSettings, HttpSettings, Settings
from tests.fakes.origin import StaticResolver
from tests.security.conftest import audited, canary
from tests.security.spellings import SPELLINGS, Spelling, spelled
from tests.test_cli_live import _AUDITED

ROOT = Path(__file__).resolve().parents[2]
DEFAULTS = Settings(extract=ExtractSettings(workers=0))  # nothing here is extracted: no pool to start


def _post(url: str, n: int = 0) -> str:
    quote = f"<blockquote>The minister said these words {n}.</blockquote>"
    return f'{quote}<p><a href="{html.escape(url)}">source</a></p>'


@asynccontextmanager
async def _deps(settings: Settings, resolver: StaticResolver) -> AsyncIterator[Deps]:
    """What ``open_deps`` builds for a live run, on a session whose resolver is the stub."""
    async with make_client_session(settings.http, resolver=resolver) as session:
        yield Deps(
            settings=settings,
            fetcher=LiveFetcher(session, settings.http),
            extractor=ExtractorPool(settings.extract),
            live=True,
        )


async def _verify(url: str, settings: Settings = DEFAULTS) -> tuple[Report, list[str]]:
    resolver = StaticResolver({})
    async with _deps(settings, resolver) as deps:
        report = await verify_post(parse_post(_post(url), InputFormat.HTML), deps=deps)
    return report, resolver.asked


def _id(spelling: Spelling) -> str:
    return f"{spelling.kind}:{spelling.url[:60]}"


@pytest.mark.parametrize("spelling", SPELLINGS, ids=_id)
async def test_a_private_destination_in_any_spelling_is_refused_for_its_reason_and_never_dialled(
    spelling: Spelling,
) -> None:
    """The spelling's source has its exact status and reason; its quote is unverifiable, not
    flagged; not one connect, not one system lookup, not one stub lookup, not one connection at
    the canary."""
    async with canary() as bird:
        url, cited = spelled(spelling, bird.port)
        with audited() as audit:
            report, asked = await _verify(url)
        assert audit.events == []
        assert asked == []
        assert bird.accepted == 0
    if cited is None:
        assert report.sources == ()
        return
    assert [(s.url, s.status.value, s.reason) for s in report.sources] == [
        (cited, spelling.status, spelling.reason)
    ]
    assert [(q.status, q.flagged) for q in report.quotes] == [(QuoteStatus.UNVERIFIABLE, False)]


async def test_the_instruments_see_a_dial_when_one_is_made() -> None:
    """The control: with private addresses allowed, loopback spellings do reach the canary, and the
    audit hook records each connect, so the battery's zeros above are not blind ones."""
    allowed = Settings(http=HttpSettings(allow_private_addresses=True), extract=ExtractSettings(workers=0))
    async with canary() as bird:
        for host in ("127.0.0.1", "0x7f.1", "2130706433", "[::ffff:127.0.0.1]"):
            with audited() as audit:
                await _verify(f"http://{host}:{bird.port}/", allowed)
            dialled = {address for _, address, port in audit.connects if port == bird.port}
            assert dialled <= {"127.0.0.1", "::ffff:7f00:1"}, host
            assert dialled, host
        assert bird.accepted >= 4


def _offline(spelling: Spelling) -> bool:
    """Spellings whose every host is a literal or a local name: a regression could not send a
    lookup for a public name to the machine's DNS."""
    return not any(public in spelling.url for public in ("evil.com", "example"))


async def test_every_spelling_through_the_cli_batch_dials_nothing() -> None:
    """``provenance batch`` with its default settings, one post per spelling, under the audit hook
    of the CLI tests: every report has the spelling's exact outcome and the process made not one
    connect and not one lookup; the canary accepted nothing."""
    chosen = [s for s in SPELLINGS if _offline(s)]
    async with canary() as bird:
        posts = []
        expected = []
        for n, spelling in enumerate(chosen):
            url, cited = spelled(spelling, bird.port)
            posts.append(json.dumps({"id": f"s{n}", "text": _post(url, n), "format": "html"}))
            expected.append([] if cited is None else [(cited, spelling.status, spelling.reason)])
        with tempfile.TemporaryDirectory() as data:
            audit = Path(data) / "audit.log"
            audit.touch()
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-c", _AUDITED, str(audit), "batch", "-", "-o", "-", "--data-dir", data,
                cwd=ROOT, env=dict(os.environ), stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            out, err = await asyncio.wait_for(proc.communicate("\n".join(posts).encode() + b"\n"), 120)
            assert proc.returncode == 0, err.decode()
            lines = audit.read_text(encoding="utf-8").splitlines()
        reports = [json.loads(line) for line in out.decode().splitlines()]
        assert [r["id"] for r in reports] == [f"s{n}" for n in range(len(chosen))]
        got = [[(s["url"], s["status"], s["reason"]) for s in r["sources"]] for r in reports]
        assert got == expected
        assert lines == []
        assert bird.accepted == 0
    assert len(chosen) >= 150
