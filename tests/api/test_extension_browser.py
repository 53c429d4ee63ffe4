"""The browser extension (service/extension/) loaded unpacked in Debian's chromium, against the real app.

Chromium runs in its new headless mode (``--headless=new``, Playwright's ``headless=False``) with
``--disable-extensions-except`` and ``--load-extension`` on a fresh profile. The app replays the seed
WARC on a loopback port and allows the extension's origin (``--cors-origin chrome-extension://<id>``,
the id computed from the manifest's ``key``); a second loopback origin serves a forum-like page holding
the seed post (and a misquoted variant), under a strict Content-Security-Policy of its own.

Playwright cannot click a native context menu or press a browser shortcut, so a test calls the one
function both of them call, ``run(command, tabId)``, in the extension's service worker. Without the
user's gesture there is no ``activeTab`` grant: the content script goes in through the extension's
host permission for loopback (the local API's origin), which covers the local forum too.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from playwright.async_api import BrowserContext, Page, Worker, async_playwright, expect

from service.api.app import create_app
from service.api.credentials import KeyStore
from service.api.extension import EXTENSION, extension_id, manifest
from service.settings import ApiSettings, ExtractSettings, Settings
from tests.api.test_page import CHROMIUM
from tests.api.test_page import CHROMIUM_ARGS as PAGE_CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "tests" / "data" / "seed"
SEED_POST = (SEED / "post.txt").read_text("utf-8")
MISQUOTE = SEED_POST.replace("approximately 50-minute", "approximately 30-minute")
TOI = "https://www.timesofisrael.com/in-call-netanyahu-flogs-putin-over-gaza-war-stance-and-blossoming-iran-ties/"
TOI_SENTENCE = (
    "Prime Minister Benjamin Netanyahu spoke with Russian leader Vladimir Putin for nearly an hour Sunday, "
    "criticizing Moscow’s alliance with Iran and expressing dissatisfaction with its stance on Israel’s war "
    "with Hamas."
)
SCREENSHOT = ROOT / "tests" / "data" / "screenshots" / "extension.png"
EXTENSION_DIR = Path(str(EXTENSION))
ORIGIN = f"chrome-extension://{extension_id(manifest())}"

CHROMIUM_ARGS = [
    *PAGE_CHROMIUM_ARGS,
    f"--disable-extensions-except={EXTENSION_DIR}",
    f"--load-extension={EXTENSION_DIR}",
]
DONE_MS = 60_000
PANEL = "#provenance-extension-panel"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.is_file(),
        reason=f"browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium; .ci/run does "
        "it as root): skipped, not failed",
    ),
]


def forum_page(title: str, post: str) -> str:
    """A forum thread page holding one post: a paragraph per block of lines, URL lines as links."""
    blocks: list[list[str]] = [[]]
    for line in post.split("\n"):
        if line.strip():
            blocks[-1].append(line.strip())
        elif blocks[-1]:
            blocks.append([])

    def line_html(line: str) -> str:
        if re.fullmatch(r"https?://\S+", line):
            return f'<a href="{html.escape(line)}">{html.escape(line)}</a>'
        return html.escape(line)

    paragraphs = "\n".join("<p>" + "<br>\n".join(map(line_html, b)) + "</p>" for b in blocks if b)
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
</head><body><header><h1>/pol/ thread</h1><nav><a href="/">Board index</a></nav></header>
<main><article class="post" id="p20053536">{paragraphs}</article>
<aside><p>Posting rules: be civil.</p></aside></main></body></html>"""


ARTICLE = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Subscriber story</title>
</head><body><article><h1>Netanyahu calls Putin</h1><p>{TOI_SENTENCE}</p>
<p>The rest of this story is for subscribers.</p></article></body></html>"""

PAGES = {
    "/thread/seed": forum_page("Netanyahu flogs Putin", SEED_POST),
    "/thread/misquote": forum_page("Netanyahu flogs Putin", MISQUOTE),
    "/thread/no-links": forum_page("Opinions", "I think this is all wrong and everyone knows it by now.\n"),
    "/subscriber/story": ARTICLE,
}


@dataclass
class Api:
    """The app on a loopback port, and the CORS side of every answer it gave:
    (Origin, method, path, Access-Control-Allow-Origin)."""

    base: str
    seen: list[tuple[str, str, str, str]] = field(default_factory=list)


StartApi = Callable[..., Awaitable[Api]]


@pytest.fixture
async def start_api(tmp_path: Path) -> AsyncIterator[StartApi]:
    """Start the real app (replaying the seed WARC, allowing the extension's origin) on a free port."""
    runners: list[web.AppRunner] = []

    async def start(host: str = "127.0.0.1", **api: Any) -> Api:
        settings = Settings(
            replay=(SEED / "seed.warc.gz",),
            archive=frozenset(),
            data_dir=tmp_path / "data",
            extract=ExtractSettings(workers=1),
            api=ApiSettings(cors_origins=(ORIGIN,), **api),
        )
        app = create_app(settings)
        seen: list[tuple[str, str, str, str]] = []

        async def record(request: web.Request, response: web.StreamResponse) -> None:
            seen.append((request.headers.get("Origin", ""), request.method, request.path,
                         response.headers.get("Access-Control-Allow-Origin", "")))  # fmt: skip

        app.on_response_prepare.append(record)
        runner = web.AppRunner(app)
        await runner.setup()
        runners.append(runner)
        await web.TCPSite(runner, host, 0).start()
        return Api(f"http://{host}:{runner.addresses[0][1]}", seen)

    yield start
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
async def forum() -> AsyncIterator[str]:
    """A forum-like site on loopback (never the internet), every page under a strict CSP."""

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=PAGES[request.path], content_type="text/html",
                            headers={"Content-Security-Policy": "default-src 'self'"})  # fmt: skip

    app = web.Application()
    for path in PAGES:
        app.router.add_get(path, page)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    await runner.cleanup()


@dataclass
class Chromium:
    """Chromium with the extension loaded: its service worker, and pages watched for script errors."""

    context: BrowserContext
    worker: Worker
    errors: list[str] = field(default_factory=list)

    async def open(self, url: str) -> Page:
        page = await self.context.new_page()
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        await page.goto(url)
        return page

    async def configure(self, api_base: str, key: str = "") -> None:
        """Set the API's address and key through the options page, as a user would."""
        page = await self.open(f"{ORIGIN}/options.html")
        await page.fill("#api-base", api_base)
        await page.fill("#api-key", key)
        await page.click("#save")
        await expect(page.locator("#saved")).to_have_text(f"Saved: the extension will call {api_base}.")
        await page.close()

    async def store(self, api_base: str) -> None:
        """Set the API's address straight into the extension's storage: for an address the options page
        would ask the user's permission to reach, which a test cannot give."""
        await self.worker.evaluate("(base) => chrome.storage.local.set({apiBase: base})", api_base)

    async def run(self, command: str, page: Page) -> dict[str, Any]:
        """What the context menu, the shortcut and the toolbar button call, for this page's tab."""
        result: dict[str, Any] = await self.worker.evaluate(
            """async ([command, url]) => {
                const tab = (await chrome.tabs.query({})).find((t) => t.url === url);
                return run(command, tab.id);
            }""",
            [command, page.url],
        )
        return result


@pytest.fixture
async def chromium(tmp_path: Path) -> AsyncIterator[Chromium]:
    """Debian's chromium, new headless mode, the unpacked extension loaded on a fresh profile."""
    async with async_playwright() as driver:
        context = await driver.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=str(CHROMIUM),
            headless=False,  # the new headless mode, asked for in CHROMIUM_ARGS; it runs extensions
            args=CHROMIUM_ARGS,
            ignore_default_args=["--disable-extensions"],
            viewport={"width": 1280, "height": 900},
        )
        try:
            workers = context.service_workers
            worker = workers[0] if workers else await context.wait_for_event("serviceworker")
            yield Chromium(context, worker)
        finally:
            await context.close()


async def marks(page: Page) -> list[tuple[str, str]]:
    """Each marked passage of the page in order: (its group, its words), its pieces joined."""
    found: list[tuple[str, str]] = await page.evaluate(
        """() => {
            const byQuote = new Map();
            for (const span of document.querySelectorAll(".provenance-mark")) {
                const key = span.dataset.provenanceQuote;
                const entry = byQuote.get(key) ?? [span.dataset.provenanceGroup, ""];
                entry[1] += " " + span.textContent;
                byQuote.set(key, entry);
            }
            return [...byQuote.values()].map(([g, t]) => [g, t.replace(/\\s+/g, " ").trim()]);
        }"""
    )
    return found


def squash(text: str) -> str:
    return " ".join(text.split())


async def job_report(api: Api, page: Page) -> dict[str, Any]:
    """The report of the job the panel links to, straight from the API."""
    href = await page.locator(f"{PANEL} a", has_text="full report").get_attribute("href") or ""
    job = href.rsplit("job=", 1)[-1]
    async with aiohttp.ClientSession() as session, session.get(f"{api.base}/v1/jobs/{job}") as response:
        assert response.status == 200
        report: dict[str, Any] = (await response.json())["report"]
        return report


async def test_extension_id_is_the_one_computed_from_the_manifest_key(chromium: Chromium) -> None:
    """The service worker runs at chrome-extension://<id>/ with the id derived from the manifest's key,
    so ``--cors-origin`` can name the extension before it is installed."""
    assert chromium.worker.url == f"{ORIGIN}/background.js"


async def test_seed_post_is_marked_faithful_in_the_page(
    chromium: Chromium, start_api: StartApi, forum: str
) -> None:
    """ "Check this post" on the forum page (the post under the cursor): the eleven passages of the seed
    post are underlined as faithful in the page, each over its own words; the requests came from the
    extension's origin and the API allowed it (CORS), the event stream included."""
    # 127.0.0.2 is loopback too, but outside the extension's host permissions (127.0.0.1, localhost):
    # its requests are plain cross-origin ones, let through by the server's CORS allowlist alone.
    api = await start_api(host="127.0.0.2")
    await chromium.store(api.base)
    page = await chromium.open(f"{forum}/thread/seed")
    await page.hover("#p20053536 p:nth-of-type(3)")
    result = await chromium.run("check-post", page)
    assert result == {"ok": True, "verdict": "verified", "quotes": 11}
    await expect(page.locator(f"{PANEL} .status")).to_have_text("Verdict: VERIFIED: 11 passages checked.")
    shown = await marks(page)
    assert len(shown) == 11
    assert {group for group, _ in shown} == {"faithful"}
    report = await job_report(api, page)
    assert [words for _, words in shown] == [squash(q["text"]) for q in report["quotes"]]
    assert (
        await page.locator(".provenance-mark").first.evaluate(
            "(el) => getComputedStyle(el).textDecorationLine"
        )
        == "underline"
    )
    calls = [(method, path, allowed) for origin, method, path, allowed in api.seen if origin == ORIGIN]
    assert ("OPTIONS", "/v1/verify", ORIGIN) in calls  # a JSON body needs a preflight
    assert ("POST", "/v1/verify", ORIGIN) in calls
    assert any(m == "GET" and re.fullmatch(r"/v1/jobs/[^/]+/events", p) and a == ORIGIN for m, p, a in calls)
    assert chromium.errors == []


async def test_misquote_is_marked_altered_with_its_diff(
    chromium: Chromium, start_api: StartApi, forum: str, tmp_path: Path
) -> None:
    """The variant with 50 changed to 30: that passage alone is underlined as altered, the ten others
    faithful; a click on it shows the word diff (50 struck out, 30 inserted), the reason, the source's
    title and status, the WARC capture and the text-fragment link to the cited page."""
    api = await start_api()
    await chromium.configure(api.base)
    page = await chromium.open(f"{forum}/thread/misquote")
    await page.hover("#p20053536")
    result = await chromium.run("check-post", page)
    assert result["verdict"] == "flagged"
    await expect(page.locator(f"{PANEL} .status")).to_have_text("Verdict: FLAGGED: 11 passages checked.")
    shown = await marks(page)
    altered = [words for group, words in shown if group == "altered"]
    assert len(altered) == 1
    assert "approximately 30-minute phone call" in altered[0]
    assert sum(group == "faithful" for group, _ in shown) == 10

    await page.locator(".provenance-mark[data-provenance-group='altered']").first.click()
    details = page.locator(f"{PANEL} .details")
    await expect(details.locator("h2")).to_have_text("≠ altered")
    await expect(details.locator(".reasons li")).to_have_text(["a number was changed"])
    await expect(details.locator(".diff del")).to_have_text("50")
    await expect(details.locator(".diff ins")).to_have_text("30")
    await expect(details).to_contain_text("In call, Netanyahu flogs Putin over Gaza war stance")
    await expect(details).to_contain_text("seed.warc.gz @")
    fragment = await details.locator("a.fragment").get_attribute("href") or ""
    assert fragment.startswith(TOI + "#:~:text=")

    shot = tmp_path / "extension.png"
    await page.locator(".provenance-mark[data-provenance-group='altered']").first.scroll_into_view_if_needed()
    await page.screenshot(path=str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("PROVENANCE_UPDATE_SCREENSHOTS") == "1":
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, SCREENSHOT)
    assert chromium.errors == []


async def select(page: Page, text: str) -> None:
    """Select ``text`` in the page as a user would with the mouse (one text node holds it)."""
    found = await page.evaluate(
        """(text) => {
            const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
            for (let node = walker.nextNode(); node; node = walker.nextNode()) {
                const at = node.data.indexOf(text);
                if (at < 0) continue;
                const range = document.createRange();
                range.setStart(node, at);
                range.setEnd(node, at + text.length);
                getSelection().removeAllRanges();
                getSelection().addRange(range);
                return true;
            }
            return false;
        }""",
        text,
    )
    assert found, f"not in the page: {text[:40]}"


async def test_one_quote_is_checked_against_the_link_beside_it_and_on_a_client_copy(
    chromium: Chromium, start_api: StartApi, forum: str
) -> None:
    """ "Check this quote": a sentence selected in the post is judged through /v1/check against the link
    that follows it (verbatim, on the server's fetched copy); the same sentence selected on a page the
    server cannot read (a subscriber story) is judged on the page the browser shows, sent as html, and
    the answer says it rests on the client's copy."""
    api = await start_api()
    await chromium.configure(api.base)
    page = await chromium.open(f"{forum}/thread/seed")
    await select(page, TOI_SENTENCE)
    result = await chromium.run("check-quote", page)
    assert result == {"ok": True, "status": "verbatim", "evidence": "fetched"}
    quote = page.locator(".provenance-mark[data-provenance-quote='quote']")
    await expect(quote).to_have_attribute("data-provenance-group", "faithful")
    assert squash(await quote.inner_text()) == TOI_SENTENCE
    panel = page.locator(PANEL)
    await expect(panel.locator(".status")).to_have_text(f"The quote, checked against {TOI}")
    await expect(panel.locator(".evidence")).to_have_attribute("data-evidence", "fetched")
    assert (ORIGIN, "POST", "/v1/check", ORIGIN) in api.seen

    story = await chromium.open(f"{forum}/subscriber/story")
    await select(story, TOI_SENTENCE)
    result = await chromium.run("check-quote", story)
    assert result == {"ok": True, "status": "verbatim", "evidence": "client"}
    evidence = story.locator(f"{PANEL} .evidence")
    await expect(evidence).to_have_attribute("data-evidence", "client")
    await expect(evidence).to_contain_text("your browser's copy of the page")
    assert chromium.errors == []


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_failures_are_said_in_the_page(chromium: Chromium, forum: str) -> None:
    """Nothing fails silently: with no API listening the panel says the API is unreachable (and where
    it looked); a post with no link says there is nothing to check it against; a check with nothing
    selected asks for a selection."""
    base = f"http://127.0.0.1:{closed_port()}"
    await chromium.configure(base)
    page = await chromium.open(f"{forum}/thread/seed")
    await page.hover("#p20053536")
    result = await chromium.run("check-post", page)
    assert result["code"] == "unreachable"
    status = page.locator(f"{PANEL} .status")
    await expect(status).to_have_attribute("data-code", "unreachable")
    await expect(status).to_contain_text(f"The provenance API at {base} is unreachable")

    lonely = await chromium.open(f"{forum}/thread/no-links")
    await lonely.hover("article")
    assert (await chromium.run("check-post", lonely))["code"] == "no_links"
    await expect(lonely.locator(f"{PANEL} .status")).to_have_text(
        "This post cites no link: there is no page to check its quotes against."
    )
    assert (await chromium.run("check-quote", lonely))["code"] == "no_selection"
    await expect(lonely.locator(f"{PANEL} .status")).to_contain_text("Select the sentence")
    assert chromium.errors == []


async def test_a_refused_key_and_a_rate_limit_are_said_in_the_page(
    chromium: Chromium, start_api: StartApi, forum: str, tmp_path: Path
) -> None:
    """A server that needs keys refuses a wrong one: the panel says the key was refused and where to
    set it. With the right key, past the rate limit, the panel says when to try again (Retry-After)."""
    _, token = KeyStore(tmp_path / "data").create("extension tests")
    api = await start_api(open_access=False, rate_limit="1/minute")
    await chromium.configure(api.base, key=token + "x")
    page = await chromium.open(f"{forum}/thread/seed")
    await select(page, TOI_SENTENCE)
    assert (await chromium.run("check-quote", page))["code"] == "bad_key"
    status = page.locator(f"{PANEL} .status")
    await expect(status).to_contain_text("the API refused the key")
    await expect(status).to_contain_text("Set the key in the extension's options.")

    await chromium.configure(api.base, key=token)
    await select(page, TOI_SENTENCE)
    assert (await chromium.run("check-quote", page))["ok"] is True
    await select(page, TOI_SENTENCE)
    limited = await chromium.run("check-quote", page)
    assert limited["code"] == "rate_limited"
    assert 1 <= limited["retryAfter"] <= 61
    await expect(status).to_contain_text(re.compile(r"Rate-limited by .*: try again in \d+ s \(at "))
    assert chromium.errors == []
