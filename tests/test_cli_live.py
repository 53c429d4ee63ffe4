"""The command line against a live local origin: the seed post verified over real HTTP, and a post
citing loopback in every spelling that reaches nothing unless private addresses are allowed."""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from tests.fakes.origin import Origin, serve_origin

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "tests" / "data" / "seed"
TOI = "https://www.timesofisrael.com/in-call-netanyahu-flogs-putin-over-gaza-war-stance-and-blossoming-iran-ties/"
KREMLIN = "http://en.kremlin.ru/events/president/news/72947"


async def _verify(post: str, *flags: str) -> tuple[int, dict[str, Any], str]:
    """``provenance verify -`` with the evidence store in a fresh temporary folder."""
    with tempfile.TemporaryDirectory() as data:
        return await _run_verify(post, "--data-dir", data, *flags)


async def _run_verify(post: str, *flags: str) -> tuple[int, dict[str, Any], str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "service", "verify", "-", *flags,
        cwd=ROOT, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
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


def _spellings(port: int) -> list[str]:
    hosts = [
        "127.0.0.1", "localhost", "localhost.", "LOCALHOST", "foo.localhost", "[::1]",
        "[::ffff:127.0.0.1]", "2130706433", "017700000001", "0x7f000001", "0x7f.1", "0177.0.0.1",
        "127.1", "127.000.000.001", "①②⑦.⓪.⓪.①", "１２７.０.０.１", "evil.example@127.0.0.1",
    ]  # fmt: skip
    return [f"http://{host}:{port}/pages/a?via={i}" for i, host in enumerate(hosts)]


async def test_loopback_in_every_spelling_is_refused_and_reached_only_when_allowed() -> None:
    """Every spelling of loopback is refused with nothing sent; with the flag the same post reaches it."""
    async with serve_origin() as origin:
        urls = _spellings(origin.port)
        post = "\n\n".join(f'He wrote "Page A says something" and cited {url}' for url in urls)
        code, report, err = await _verify(post)
        assert code == 0, err
        sources = report["sources"]
        assert isinstance(sources, list)
        assert len(sources) == len(urls)
        assert {s["status"] for s in sources} == {"refused"}
        assert sum(origin.hits.values()) == 0

        code, report, err = await _verify(post, "--allow-private-addresses")
        assert code in (0, 1), err
        reached = [s for s in report["sources"] if s["status"] == "ok"]
        assert origin.hits["/pages/a"] >= 10
        assert len(reached) >= 10
