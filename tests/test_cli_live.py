"""The command line against a live local origin: the seed post verified over real HTTP, and a post
citing loopback in every spelling that reaches nothing unless private addresses are allowed."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.fakes.origin import Origin, serve_every_path, serve_origin, serve_stall

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "tests" / "data" / "seed"
TOI = "https://www.timesofisrael.com/in-call-netanyahu-flogs-putin-over-gaza-war-stance-and-blossoming-iran-ties/"
KREMLIN = "http://en.kremlin.ru/events/president/news/72947"


async def _verify(post: str, *flags: str) -> tuple[int, dict[str, Any], str]:
    """``provenance verify -`` with the evidence store in a fresh temporary folder."""
    with tempfile.TemporaryDirectory() as data:
        return await _run_verify(post, "--data-dir", data, *flags)


async def _run_verify(
    post: str, *flags: str, env: dict[str, str] | None = None, python: tuple[str, ...] = ("-m", "service")
) -> tuple[int, dict[str, Any], str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, *python, "verify", "-", *flags,
        cwd=ROOT, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(post.encode()), 120)
    assert proc.returncode is not None
    return proc.returncode, json.loads(out) if out.strip() else {}, err.decode()


def _seed_origin_pages() -> dict[str, bytes]:
    return {
        "toi": (SEED / "pages" / "timesofisrael-in-call-netanyahu-flogs-putin.html").read_bytes(),
        "kremlin": (SEED / "pages" / "kremlin-72947.html").read_bytes(),
    }


def _seed_post_for(origin: Origin) -> str:
    post = (SEED / "post.txt").read_text(encoding="utf-8")
    return post.replace(TOI, origin.url("/pages/toi")).replace(KREMLIN, origin.url("/pages/kremlin"))


async def test_seed_post_live_against_local_origin() -> None:
    """Live fetching of the seed pages from a loopback origin (allowed by flag): verified, nothing flagged."""
    async with serve_origin(pages=_seed_origin_pages()) as origin:
        code, report, err = await _verify(_seed_post_for(origin), "--allow-private-addresses")
        assert code == 0, err
        assert report["verdict"] == "verified"
        sources = report["sources"]
        assert [s["status"] for s in sources] == ["ok", "ok"]
        quotes = report["quotes"]
        assert isinstance(quotes, list)
        assert not [q for q in quotes if q["flagged"]]
        assert len([q for q in quotes if q["status"] in {"verbatim", "cosmetic"}]) >= 11
        assert origin.hits["/pages/toi"] == 1
        assert origin.hits["/pages/kremlin"] == 1


async def test_seed_post_live_refused_by_default() -> None:
    """Without the flag the loopback origin is refused: nothing is sent, the post is unverifiable."""
    async with serve_origin(pages=_seed_origin_pages()) as origin:
        code, report, err = await _verify(_seed_post_for(origin))
        assert code == 0, err
        assert report["verdict"] == "unverifiable"
        assert {(s["status"], s["reason"]) for s in report["sources"]} == {("refused", "private_address")}
        assert sum(origin.hits.values()) == 0


# The CLI run under an audit hook: every ``socket.connect`` to an IP address and every name asked
# of the resolver (``socket.getaddrinfo``, aiohttp's threaded resolver) is written to a file, so a
# test sees what was dialled whatever the guard's own logs say.
_AUDITED = """
import runpy, sys
_log = open(sys.argv.pop(1), "a", encoding="utf-8", buffering=1)
def _hook(event, args):
    if event == "socket.connect" and isinstance(args[1], tuple):
        _log.write("connect %s %s\\n" % (args[1][0], args[1][1]))
    elif event == "socket.getaddrinfo":
        _log.write("resolve %s %s\\n" % (args[0], args[1]))
sys.addaudithook(_hook)
sys.argv[0] = "service"
runpy.run_module("service", run_name="__main__", alter_sys=True)
"""


async def _verify_audited(post: str, *flags: str) -> tuple[int, dict[str, Any], list[str]]:
    """``_verify`` under the audit hook: exit code, report, and each connect or lookup made."""
    with tempfile.TemporaryDirectory() as data:
        audit = Path(data) / "audit.log"
        audit.touch()
        code, report, err = await _run_verify(
            post, "--data-dir", data, *flags, env=dict(os.environ), python=("-c", _AUDITED, str(audit))
        )
        assert code in (0, 1), err
        return code, report, audit.read_text(encoding="utf-8").splitlines()


_HOSTS = {
    "127.0.0.1": "private_address", "localhost": "private_address", "localhost.": "private_address",
    "LOCALHOST": "private_address", "foo.localhost": "private_address", "[::1]": "private_address",
    "[::ffff:127.0.0.1]": "private_address", "2130706433": "private_address",
    "017700000001": "private_address", "0x7f000001": "private_address", "0x7f.1": "private_address",
    "0177.0.0.1": "private_address", "127.1": "private_address", "127.000.000.001": "private_address",
    "①②⑦.⓪.⓪.①": "private_address", "１２７.０.０.１": "private_address",
    "evil.example@127.0.0.1": "userinfo_in_url",
}  # fmt: skip
"""Each spelling of loopback and the exact reason it is refused for."""


def _spellings(port: int | None) -> list[str]:
    at = f":{port}" if port else ""  # no port: the default one, 80, allowed by the port rule
    return [f"http://{host}{at}/pages/a?via={i}" for i, host in enumerate(_HOSTS)]


async def test_loopback_in_every_spelling_is_refused_and_reached_only_when_allowed() -> None:
    """Every spelling of loopback, on the origin's port and on the default one, is refused for its
    exact reason, and nothing is resolved or dialled (an audit hook in the CLI process sees every
    connect and lookup); with the flag the same post reaches the origin, which the hook sees too."""
    async with serve_origin() as origin:
        urls = _spellings(origin.port) + _spellings(None)
        post = "\n\n".join(f'He wrote "Page A says something" and cited {url}' for url in urls)
        code, report, audit = await _verify_audited(post)
        assert audit == []  # not one connect, not one name resolved
        sources = report["sources"]
        assert isinstance(sources, list)
        assert [s["url"] for s in sources] == urls
        expected = [("refused", reason) for _ in (0, 1) for reason in _HOSTS.values()]
        assert [(s["status"], s["reason"]) for s in sources] == expected
        assert [s["http_status"] for s in sources] == [None] * len(urls)
        assert sum(origin.hits.values()) == 0
        assert code == 0

        code, report, audit = await _verify_audited(post, "--allow-private-addresses")
        reached = [s for s in report["sources"] if s["status"] == "ok"]
        assert origin.hits["/pages/a"] >= 10
        assert len(reached) >= 10
        # The hook sees dials when there are some (pooled connections are reused: not one per URL).
        assert [line for line in audit if line.startswith("connect ") and line.endswith(f" {origin.port}")]


async def test_other_schemes_and_malformed_urls_are_reported_without_a_dial() -> None:
    """A post citing ``file:``, ``gopher:``, ``ftp:``, ``data:``, ``javascript:`` and malformed
    http URLs (bad port, bad host) lists each as a source, ``unsupported``/``unsupported_scheme``
    or ``error``/``bad_url``; its quotes are unverifiable; nothing is resolved or dialled."""
    async with serve_origin() as origin:
        cited = {
            "file:///etc/passwd": ("unsupported", "unsupported_scheme"),
            f"gopher://127.0.0.1:{origin.port}/1": ("unsupported", "unsupported_scheme"),
            f"ftp://127.0.0.1:{origin.port}/x": ("unsupported", "unsupported_scheme"),
            "data:text/plain;base64,SGVsbG8=": ("unsupported", "unsupported_scheme"),
            "javascript:alert(1)": ("unsupported", "unsupported_scheme"),
            "http://127.0.0.1:99999/x": ("error", "bad_url"),
            "http://a..b.example/x": ("error", "bad_url"),
        }
        post = "\n\n".join(f'She said "the same words in every line" in\n{url}' for url in cited)
        code, report, audit = await _verify_audited(post, "--allow-private-addresses")
        assert code == 0
        assert [(s["url"], s["status"], s["reason"]) for s in report["sources"]] == [
            (url, *expected) for url, expected in cited.items()
        ]
        assert {q["status"] for q in report["quotes"]} == {"unverifiable"}
        assert not [q for q in report["quotes"] if q["flagged"]]
        assert report["verdict"] == "unverifiable"
        assert audit == []
        assert sum(origin.hits.values()) == 0


# ---------------------------------------------------------------- time limits and budgets

_SENTENCE = "The harbour reopened on Monday after the storm, and the first boats left before dawn."
_ARTICLE = (
    "<!doctype html><html><head><title>Harbour</title></head><body><article><h1>Harbour reopens</h1>"
    f"<p>{_SENTENCE}</p><p>Fishermen said the week ashore had cost them dearly, and the port "
    "authority promised to review its storm rules before the next winter.</p></article></body></html>"
).encode()
_QUOTED = f'The report says "{_SENTENCE}" as cited in\n{{url}}'


async def test_post_budget_cuts_a_stalled_source_and_the_report_is_written() -> None:
    """``verify --post-budget 1``: a cited server that never answers is cut at the budget, long
    before any fetch limit (first byte: 15 s): ``error``/``budget_exhausted``, its quote
    ``unverifiable``, the report printed, exit 0. (A read source beside it: tests/pipeline/test_budget.py.)"""
    async with serve_stall() as stall:
        started = asyncio.get_running_loop().time()
        code, report, err = await _verify(
            _QUOTED.format(url=stall.url("/never")), "--allow-private-addresses", "--post-budget", "1"
        )
        took = asyncio.get_running_loop().time() - started
        assert stall.hits["/never"] == 1
    assert code == 0, err
    assert [(s["status"], s["reason"]) for s in report["sources"]] == [("error", "budget_exhausted")]
    assert [q["status"] for q in report["quotes"]] == ["unverifiable"]
    assert report["verdict"] == "unverifiable"
    assert took < 10


async def test_timeouts_come_from_the_environment() -> None:
    """``PROVENANCE_FIRST_BYTE_TIMEOUT`` reaches the fetcher: a silent server is
    ``timeout``/``first_byte_timeout`` well before the default 15 s."""
    async with serve_stall() as stall:
        env = {**os.environ, "PROVENANCE_FIRST_BYTE_TIMEOUT": "0.5"}
        with tempfile.TemporaryDirectory() as data:
            code, report, err = await _run_verify(
                _QUOTED.format(url=stall.url("/never")),
                "--data-dir",
                data,
                "--allow-private-addresses",
                env=env,
            )
    assert code == 0, err
    assert [(s["status"], s["reason"]) for s in report["sources"]] == [("timeout", "first_byte_timeout")]


async def test_batch_past_its_budget_writes_every_line_and_exits_3() -> None:
    """``batch --batch-budget 1 --concurrency 1``: the first post (a silent server) is cut at the
    deadline and still reported, the three after it get ``budget_exhausted`` error reports without
    a request sent; four lines out, in order, and exit status 3."""
    async with serve_origin(pages={"a": _ARTICLE, "b": _ARTICLE}) as origin, serve_stall() as stall:
        urls = [stall.url("/never"), origin.url("/pages/a"), origin.url("/pages/b"), "http://a..b.example/x"]
        lines = "".join(
            json.dumps({"id": f"p{i}", "text": _QUOTED.format(url=u)}) + "\n" for i, u in enumerate(urls)
        )
        with tempfile.TemporaryDirectory() as data:
            out = Path(data) / "out.jsonl"
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "service", "batch", "-", "-o", str(out), "--data-dir", data,
                "--allow-private-addresses", "--concurrency", "1", "--batch-budget", "1",
                cwd=ROOT, stdin=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            _, err = await asyncio.wait_for(proc.communicate(lines.encode()), 120)
            reports = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
        assert origin.total == 0  # posts never started asked for nothing
    assert proc.returncode == 3, err.decode()
    assert [r["id"] for r in reports] == ["p0", "p1", "p2", "p3"]
    assert [r["error"]["code"] if r["error"] else None for r in reports] == [
        None, "budget_exhausted", "budget_exhausted", "budget_exhausted"
    ]  # fmt: skip
    assert [(s["status"], s["reason"]) for s in reports[0]["sources"]] == [("error", "budget_exhausted")]
    assert [q["status"] for q in reports[0]["quotes"]] == ["unverifiable"]
    assert "3 posts not started" in err.decode()


class _PeakCounter:
    """A slow origin that keeps the largest number of requests it held at once."""

    def __init__(self) -> None:
        self.now = 0
        self.peak = 0

    async def handle(self, request: web.Request) -> web.Response:
        self.now += 1
        self.peak = max(self.peak, self.now)
        try:
            await asyncio.sleep(0.3)
        finally:
            self.now -= 1
        if request.path.startswith("/a/"):
            return web.Response(body=_ARTICLE, content_type="text/html")
        return web.Response(
            status=404, text="<html><title>Not found</title>no</html>", content_type="text/html"
        )


def _five_links(origin: Origin) -> str:
    return "\n\n".join(_QUOTED.format(url=origin.url(f"/a/{i}")) for i in range(5))


async def test_one_post_opens_its_links_on_one_host_as_a_browser_would() -> None:
    """``verify`` of one post citing five pages of one host fetches them at once (up to
    ``PROVENANCE_ONE_POST_LIMIT_PER_HOST``, 6), not two at a time as a batch does."""
    counter = _PeakCounter()
    async with serve_every_path(counter.handle) as origin:
        code, report, err = await _verify(
            _five_links(origin), "--allow-private-addresses", "--archive", "none"
        )
        assert code == 0, err
        assert [s["status"] for s in report["sources"]] == ["ok"] * 5
        assert 5 <= counter.peak <= 6  # the five pages, and the soft-404 probe beside them
        counter.peak = 0
        with tempfile.TemporaryDirectory() as data:
            env = {**os.environ, "PROVENANCE_ONE_POST_LIMIT_PER_HOST": "2"}
            code, report, err = await _run_verify(
                _five_links(origin),
                "--data-dir",
                data,
                "--allow-private-addresses",
                "--archive",
                "none",
                env=env,
            )
        assert code == 0, err
        assert counter.peak == 2


async def test_a_batch_keeps_two_requests_at_once_per_host() -> None:
    """The same post in a batch: a crawler's manners, two at a time (``PROVENANCE_LIMIT_PER_HOST``)."""
    counter = _PeakCounter()
    async with serve_every_path(counter.handle) as origin:
        line = json.dumps({"id": "p", "text": _five_links(origin)}) + "\n"
        with tempfile.TemporaryDirectory() as data:
            out = Path(data) / "out.jsonl"
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "service", "batch", "-", "-o", str(out), "--data-dir", data,
                "--allow-private-addresses", "--archive", "none",
                cwd=ROOT, stdin=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            _, err = await asyncio.wait_for(proc.communicate(line.encode()), 120)
            report = json.loads(out.read_text(encoding="utf-8"))
    assert proc.returncode == 0, err.decode()
    assert [s["status"] for s in report["sources"]] == ["ok"] * 5
    assert counter.peak == 2
