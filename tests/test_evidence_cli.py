"""Evidence end to end through the command line: the WARC store and its replay, the Wayback
Machine (a fake one on loopback speaking the real protocol), source health, ``capture``."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.test_utils import TestServer

from service.pipeline.extract.health import probe_url
from tests.fakes.origin import PAGES, serve_origin
from tests.fakes.wayback import FakeWayback, serve_wayback

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "tests" / "data" / "seed"
WARCIO = Path(sys.executable).parent / "warcio"
TOI = "https://www.timesofisrael.com/in-call-netanyahu-flogs-putin-over-gaza-war-stance-and-blossoming-iran-ties/"
KREMLIN = "http://en.kremlin.ru/events/president/news/72947"
ARTICLE = """<!doctype html><html><head><title>Harbour news</title></head><body><article>
<h1>Storm closes the harbour</h1>
<p>Fishermen stayed ashore on Friday as a storm with winds of over {speed} kilometres an hour closed
the harbour for the second time this winter, the port authority said in a short statement.</p>
<p>The authority expects to reopen the harbour on Monday morning if the forecast holds, and it asked
boat owners to check their moorings twice a day until then.</p>
</article></body></html>"""


async def run(*args: str, stdin: str = "", env: dict[str, str] | None = None) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "service", *args, cwd=ROOT, env={**os.environ, **(env or {})},
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), 120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def warcio_check(path: Path) -> None:
    """``warcio check -v`` passes: every record's block and payload digests verify."""
    proc = await asyncio.create_subprocess_exec(
        str(WARCIO),
        "check",
        "-v",
        str(path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    assert proc.returncode == 0, out.decode()
    assert b"digest pass" in out


def _essentials(report: dict[str, Any]) -> dict[str, Any]:
    """What must not change between a live run and its replay: everything but times and storage."""
    return {
        "verdict": report["verdict"],
        "sources": [
            (s["url"], s["status"], s["sha256"], s["title"], s["published"]) for s in report["sources"]
        ],
        "quotes": [
            (q["text"], q["status"], q["flagged"], q["post_span"], (q["source"] or {}).get("exact"))
            for q in report["quotes"]
        ],
    }


async def assert_replay_agrees(live: dict[str, Any], post: str, data: Path, *flags: str) -> None:
    """Replaying the data folder of a live run gives the same report, timings and storage aside."""
    code, out, err = await run("verify", "-", "--replay", str(data), *flags, stdin=post)
    assert code == 0, err
    assert _essentials(json.loads(out)) == _essentials(live)


async def test_live_run_writes_valid_warc_and_replay_reproduces_the_report(tmp_path: Path) -> None:
    """The seed live from a loopback origin writes evidence that warcio accepts and that replays
    to the same report, timings aside."""
    pages = {
        "toi": (SEED / "pages" / "timesofisrael-in-call-netanyahu-flogs-putin.html").read_bytes(),
        "kremlin": (SEED / "pages" / "kremlin-72947.html").read_bytes(),
    }
    data = tmp_path / "data"
    async with serve_origin(pages=pages) as origin:
        post = (SEED / "post.txt").read_text(encoding="utf-8")
        post = post.replace(TOI, origin.url("/pages/toi")).replace(KREMLIN, origin.url("/pages/kremlin"))
        code, out, err = await run("verify", "-", "--allow-private-addresses", "--data-dir", str(data),
                                   "--posted-at", "2023-12-10T14:23:38Z", stdin=post)  # fmt: skip
    assert code == 0, err
    live = json.loads(out)
    assert live["verdict"] == "verified"
    warcs = sorted((data / "warc").glob("*.warc.gz"))
    assert warcs
    for path in warcs:
        await warcio_check(path)
    for source in live["sources"]:
        where = source["archive"]["warc"]
        assert where is not None
        assert (data / where["file"]).is_file()
        assert where["offset"] >= 0
    await assert_replay_agrees(live, post, data, "--posted-at", "2023-12-10T14:23:38Z")


async def test_source_edited_after_the_post_is_source_changed_via_wayback(tmp_path: Path) -> None:
    """The live page changed a figure; the Wayback capture before the post has the quoted words."""
    quoted = (
        "Fishermen stayed ashore on Friday as a storm with winds of over 90 kilometres an hour closed "
        "the harbour for the second time this winter"
    )
    async with serve_origin(pages={"storm": ARTICLE.format(speed=120).encode()}) as origin:
        url = origin.url("/pages/storm")
        fake = FakeWayback(pending_polls=0)
        async with serve_wayback(fake) as wayback:
            wayback.add_snapshot(url, "20230301120000", ARTICLE.format(speed=90))
            env = {
                "PROVENANCE_WAYBACK_URL": wayback.base_url, "PROVENANCE_WAYBACK_CAPTURE_WAIT": "2",
                # Save Page Now needs keys (without them it is skipped, no_credentials)
                "PROVENANCE_WAYBACK_ACCESS_KEY": "AK", "PROVENANCE_WAYBACK_SECRET_KEY": "SK",
            }  # fmt: skip
            code, out, err = await run(
                "verify", "-", "--allow-private-addresses", "--archive", "wayback", "--data-dir",
                str(tmp_path), "--posted-at", "2023-06-01T00:00:00Z", stdin=f'"{quoted}"\n\n{url}\n', env=env,
            )  # fmt: skip
            submissions = len(wayback.submissions)
    assert code == 0, err
    report = json.loads(out)
    [quote] = report["quotes"]
    assert quote["status"] == "source_changed"
    assert not quote["flagged"]
    [source] = report["sources"]
    assert source["at_post"]["archive_url"].startswith(f"{wayback.base_url}/web/20230301120000/")
    assert source["at_post"]["captured_at"].startswith("2023-03-01")
    assert source["archive"]["wayback"]["status"] in {"success", "pending"}
    assert submissions == 1
    logged = [json.loads(line) for line in (tmp_path / "wayback.jsonl").read_text().splitlines()]
    assert [entry["url"] for entry in logged] == [url]


@asynccontextmanager
async def serve_every_path(
    handler: Callable[[web.Request], Awaitable[web.Response]],
) -> AsyncIterator[TestServer]:
    """A loopback site answering every path with ``handler``."""
    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    try:
        yield server
    finally:
        await server.close()


@asynccontextmanager
async def catch_all_404_site() -> AsyncIterator[str]:
    """A site that answers every path with 200 and a 'Page not found' page: a soft 404."""

    async def handler(request: web.Request) -> web.Response:
        html = "<html><head><title>Page not found</title></head><body><h1>Page not found</h1>"
        return web.Response(
            text=html + f"<p>Nothing at {request.path}.</p></body></html>", content_type="text/html"
        )

    async with serve_every_path(handler) as server:
        yield str(server.make_url("/news/2023/storm-closes-harbour"))


async def test_soft_404_source_leaves_quotes_unverifiable(tmp_path: Path) -> None:
    """A 200 that means 'not found' is soft_404, and its quotes are unverifiable, not fabricated."""
    async with catch_all_404_site() as url:
        post = f'"Fishermen stayed ashore on Friday as a storm closed the harbour"\n\n{url}\n'
        code, out, err = await run("verify", "-", "--allow-private-addresses", "--data-dir", str(tmp_path),
                                   stdin=post)  # fmt: skip
    assert code == 0, err
    report = json.loads(out)
    assert report["sources"][0]["status"] == "soft_404"
    assert [q["status"] for q in report["quotes"]] == ["unverifiable"]
    assert report["verdict"] == "unverifiable"


async def test_capture_command_writes_a_replayable_warc(tmp_path: Path) -> None:
    """``provenance capture`` writes one WARC that warcio accepts and replay answers from."""
    target = tmp_path / "out.warc.gz"
    async with serve_origin(pages={"storm": ARTICLE.format(speed=90).encode()}) as origin:
        url = origin.url("/pages/storm")
        code, _, err = await run("capture", url, origin.url("/pages/missing"), "-o", str(target),
                                 "--allow-private-addresses")  # fmt: skip
    assert code == 1, err  # one of the two pages was missing
    assert "ok " + url in err
    assert "dead" in err
    await warcio_check(target)
    quoted = "Fishermen stayed ashore on Friday as a storm with winds of over 90 kilometres an hour"
    code, out, err = await run("verify", "-", "--replay", str(target), stdin=f'"{quoted}"\n\n{url}\n')
    assert code == 0, err
    assert [q["status"] for q in json.loads(out)["quotes"]] == ["verbatim"]


async def test_capture_refuses_private_addresses_by_default(tmp_path: Path) -> None:
    """capture goes through the same guard as verify: loopback is refused and nothing is sent."""
    async with serve_origin() as origin:
        code, _, err = await run("capture", origin.url("/pages/a"), "-o", str(tmp_path / "x.warc.gz"))
        assert sum(origin.hits.values()) == 0
    assert code == 1
    assert "refused (private_address)" in err


async def test_redirected_source_edited_later_is_source_changed_live_and_replayed(tmp_path: Path) -> None:
    """A cited URL that redirects: the store's earlier capture is found through its stored hop,
    so the live run and its replay both say source_changed."""
    quoted = "Fishermen stayed ashore on Friday as a storm with winds of over 90 kilometres an hour"
    pages = {"storm": ARTICLE.format(speed=90).encode()}
    data = tmp_path / "data"
    async with serve_origin(pages=pages) as origin:
        cited = origin.url("/to?url=/pages/storm&code=302")
        post = f'"{quoted}"\n\n{cited}\n'
        code, _, err = await run(
            "verify", "-", "--allow-private-addresses", "--data-dir", str(data), stdin=post
        )
        assert code == 0, err
        await asyncio.sleep(1.1)  # the next capture is a later second
        middle = datetime.now(UTC).isoformat()
        await asyncio.sleep(1.1)
        assert origin.server is not None
        pages_now = origin.server.app[PAGES]
        pages_now["storm"] = ARTICLE.format(speed=150).encode()
        flags = ("--data-dir", str(data), "--posted-at", middle)
        code, out, err = await run("verify", "-", "--allow-private-addresses", *flags, stdin=post)
    assert code == 0, err
    live = json.loads(out)
    assert [q["status"] for q in live["quotes"]] == ["source_changed"]
    assert live["sources"][0]["at_post"] is not None
    await assert_replay_agrees(live, post, data, "--posted-at", middle)


async def test_soft_404_verdict_survives_replay(tmp_path: Path) -> None:
    """The soft-404 probe is derived from the URL and stored, so replay reaches the same verdict."""
    async with catch_all_404_site() as url:
        post = f'"Fishermen stayed ashore on Friday as a storm closed the harbour"\n\n{url}\n'
        code, out, err = await run("verify", "-", "--allow-private-addresses", "--data-dir", str(tmp_path),
                                   stdin=post)  # fmt: skip
    assert code == 0, err
    live = json.loads(out)
    assert live["sources"][0]["status"] == "soft_404"
    await assert_replay_agrees(live, post, tmp_path)


async def test_a_soft_404_found_only_by_the_probe_survives_replay(tmp_path: Path) -> None:
    """A catch-all site with no tell-tale title, caught by its probe alone: the live run probes the
    host once for both cited pages and stores the answer; a replay of the store (the probe URL
    depends on the origin only) reaches the same soft_404 verdicts, for the same reason."""
    template = (ROOT / "tests" / "data" / "health" / "catch_all.html").read_text("utf-8")
    asked: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        asked.append(request.path)
        slug = request.path.rsplit("/", 1)[-1]
        return web.Response(text=template.replace("__SLUG__", slug), content_type="text/html")

    async with serve_every_path(handler) as server:
        urls = [str(server.make_url(path)) for path in ("/2019/garden-notes", "/2020/bridge-opens")]
        post = "".join(
            f'"Fishermen stayed ashore on Friday as a storm closed the harbour"\n\n{u}\n\n' for u in urls
        )
        code, out, err = await run("verify", "-", "--allow-private-addresses", "--data-dir", str(tmp_path),
                                   stdin=post)  # fmt: skip
    assert code == 0, err
    live = json.loads(out)
    assert [(s["status"], s["reason"]) for s in live["sources"]] == [("soft_404", "same_as_random_path")] * 2
    assert sorted(asked) == sorted(
        [urlsplit(probe_url(urls[0])).path, "/2019/garden-notes", "/2020/bridge-opens"]
    )
    code, out, err = await run("verify", "-", "--replay", str(tmp_path), stdin=post)
    assert code == 0, err
    replayed = json.loads(out)
    assert _essentials(replayed) == _essentials(live)
    assert [s["reason"] for s in replayed["sources"]] == ["same_as_random_path"] * 2


async def test_challenge_page_on_503_is_blocked_and_kept_as_evidence(tmp_path: Path) -> None:
    """A Cloudflare challenge answered with 503 is 'blocked', and its page is stored, not dropped."""
    challenge = (
        "<html><head><title>Just a moment...</title></head><body><div id='cf-browser-verification'>"
        "Checking your browser before accessing the site.</div></body></html>"
    )

    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=503, text=challenge, content_type="text/html")

    async with serve_every_path(handler) as server:
        url = str(server.make_url("/story"))
        post = f'"Some words the story is said to contain here"\n\n{url}\n'
        code, out, err = await run("verify", "-", "--allow-private-addresses", "--data-dir", str(tmp_path),
                                   stdin=post)  # fmt: skip
    assert code == 0, err
    [source] = json.loads(out)["sources"]
    assert (source["status"], source["reason"]) == ("blocked", "challenge_page")
    assert source["sha256"] is not None
    assert source["archive"]["warc"] is not None


async def test_report_is_not_held_up_by_an_unreachable_wayback(tmp_path: Path) -> None:
    """Wayback down: the report comes out at once, the capture pending with the reason why."""
    async with serve_origin(pages={"storm": ARTICLE.format(speed=90).encode()}) as origin:
        url = origin.url("/pages/storm")
        env = {"PROVENANCE_WAYBACK_URL": "http://127.0.0.1:9", "PROVENANCE_WAYBACK_CAPTURE_WAIT": "1",
               "PROVENANCE_WAYBACK_DRAIN": "1",  # keys: without them Save Page Now is skipped, not tried
               "PROVENANCE_WAYBACK_ACCESS_KEY": "AK", "PROVENANCE_WAYBACK_SECRET_KEY": "SK"}  # fmt: skip
        started = asyncio.get_running_loop().time()
        code, out, err = await run("verify", "-", "--allow-private-addresses", "--archive", "warc,wayback",
                                   "--data-dir", str(tmp_path), stdin=f"{url}\n", env=env)  # fmt: skip
        elapsed = asyncio.get_running_loop().time() - started
    assert code == 0, err
    wayback = json.loads(out)["sources"][0]["archive"]["wayback"]
    assert wayback["status"] == "pending"
    assert wayback["message"].startswith(("retrying after", "queued"))
    assert elapsed < 20
    logged = [json.loads(line) for line in (tmp_path / "wayback.jsonl").read_text().splitlines()]
    assert [(e["url"], e["wayback"]["status"]) for e in logged] == [(url, "pending")]
