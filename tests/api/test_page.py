"""The web page at ``/`` in a real browser: Debian's chromium driven by Playwright, against the real app.

The app listens on a free loopback port and answers every URL from the seed WARC; the browser runs
with its background networking off and a fresh profile, and the page loads nothing from elsewhere.
No test downloads a browser: without /usr/bin/chromium (``.ci/run`` installs it) they skip, saying so.
Set ``PROVENANCE_UPDATE_SCREENSHOTS=1`` to rewrite the README's screenshot.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from aiohttp import web
from playwright.async_api import BrowserContext, Page, Playwright, async_playwright, expect

from service.api.app import create_app
from service.api.credentials import KeyStore
from service.settings import ApiSettings, ExtractSettings, Settings

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "tests" / "data" / "seed"
SEED_POST = (SEED / "post.txt").read_text("utf-8")
# Astral characters first (mathematical bold N and B), so every offset after them differs between code
# points (the report's) and UTF-16 units (JavaScript's).
MISQUOTE = "𝐍𝐁 " + SEED_POST.replace("approximately 50-minute", "approximately 30-minute")
TOI = "https://www.timesofisrael.com/in-call-netanyahu-flogs-putin-over-gaza-war-stance-and-blossoming-iran-ties/"
SCREENSHOT = ROOT / "tests" / "data" / "screenshots" / "page-flagged.png"

CHROMIUM = Path(os.environ.get("PROVENANCE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPORT_TIMEOUT_MS = 60_000

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.is_file(),
        reason=f"browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium; .ci/run does "
        "it as root): skipped, not failed",
    ),
]

# Recorded from the page's first script on: CSP violations, and (for the progress test) what the
# progress region, the verdict and the post showed after each change of the page.
WATCH = """
window.__csp = [];
document.addEventListener("securitypolicyviolation",
  (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
window.__seen = [];
document.addEventListener("DOMContentLoaded", () => {
  const note = () => window.__seen.push({
    progress: document.getElementById("progress").textContent,
    verdict: document.querySelector("#verdict .verdict")?.textContent ?? null,
    passages: document.querySelectorAll("#post-view .passage").length,
    sources: document.querySelectorAll("#sources .source").length,
  });
  new MutationObserver(note).observe(document.body, {subtree: true, childList: true, characterData: true});
});
"""

# Contrast of text against the first opaque background behind it (WCAG 2 relative luminance).
CONTRAST = """
(selectors) => {
  const rgb = (s) => (s.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const c = [r, g, b].map((v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  };
  const background = (el) => {
    for (let n = el; n; n = n.parentElement) {
      const c = rgb(getComputedStyle(n).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] === 1)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const low = [];
  let checked = 0;
  for (const el of document.querySelectorAll(selectors)) {
    if (!el.textContent.trim() || !el.getClientRects().length) continue;
    const a = lum(rgb(getComputedStyle(el).color)), b = lum(background(el));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    checked += 1;
    if (ratio < 4.5) low.push(`${el.tagName}.${el.className} ${ratio.toFixed(2)}`);
  }
  return {checked, low};
}
"""

UNLABELLED = """
() => [...document.querySelectorAll("input, select, textarea, button")]
  .filter((el) => !(el.labels?.length || el.getAttribute("aria-label")
                    || (el.tagName === "BUTTON" && el.textContent.trim())))
  .map((el) => el.id || el.outerHTML)
"""


@dataclass
class Browser:
    """One chromium profile on the app; pages opened through it are watched for errors."""

    context: BrowserContext
    base: str
    errors: list[str] = field(default_factory=list)
    allowed: tuple[str, ...] = ()  # console errors a test expects (a refused request)

    async def open(self, path: str = "/") -> Page:
        page = await self.context.new_page()
        page.on("console", lambda m: self._console(m.type, m.text))
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        page.on("dialog", lambda d: self.errors.append(f"dialog: {d.message}"))
        await page.goto(self.base + path)
        return page

    def _console(self, kind: str, text: str) -> None:
        if kind == "error" and not any(a in text for a in self.allowed):
            self.errors.append(f"console: {text}")

    async def assert_clean(self, page: Page) -> None:
        """No script error, no console error, no dialog, no Content-Security-Policy violation."""
        assert await page.evaluate("window.__csp") == []
        assert self.errors == []


Serve = Callable[..., Awaitable[str]]
Launch = Callable[..., Awaitable[Browser]]


@pytest.fixture
async def serve(tmp_path: Path) -> AsyncIterator[Serve]:
    """Start the real app (replaying the seed WARC) on a free loopback port; its base URL."""
    runners: list[web.AppRunner] = []

    async def start(**api: Any) -> str:
        settings = Settings(
            replay=(SEED / "seed.warc.gz",),
            archive=frozenset(),
            data_dir=tmp_path / "data",
            extract=ExtractSettings(workers=1),
            api=ApiSettings(**api),
        )
        runner = web.AppRunner(create_app(settings))
        await runner.setup()
        runners.append(runner)
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        port = runner.addresses[0][1]
        return f"http://127.0.0.1:{port}"

    yield start
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
async def playwright() -> AsyncIterator[Playwright]:
    """Playwright's driver (it ships in the wheel); the browser is Debian's, never a downloaded one."""
    async with async_playwright() as driver:
        yield driver


@pytest.fixture
async def launch(playwright: Playwright, tmp_path: Path) -> AsyncIterator[Launch]:
    """Start chromium on a fresh profile folder; every one is closed after the test."""
    contexts: list[BrowserContext] = []

    async def start(base: str, width: int = 1280, height: int = 900) -> Browser:
        profile = tmp_path / f"profile-{len(contexts)}"
        context = await playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": width, "height": height},
            accept_downloads=True,
        )
        contexts.append(context)
        await context.add_init_script(WATCH)
        return Browser(context, base)

    yield start
    for context in contexts:
        await context.close()


@pytest.fixture
async def browser(serve: Serve, launch: Launch) -> Browser:
    """The app in open mode (it listens on loopback) and a browser on it."""
    return await launch(await serve())


async def verify(page: Page, post: str, *, fmt: str | None = None) -> str:
    """Paste ``post``, press Verify, wait for the report; the job's id from the page's address."""
    await page.fill("#post", post)
    if fmt is not None:
        await page.select_option("#format", fmt)
    await page.click("#verify")
    await expect(page.locator("#progress")).to_have_text(re.compile(r"^Done: "), timeout=REPORT_TIMEOUT_MS)
    return job_of(page)


def job_of(page: Page) -> str:
    job = parse_qs(urlsplit(page.url).query).get("job", [""])[0]
    assert job, f"no ?job= in {page.url}"
    return job


async def fetch_json(url: str) -> Any:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 200
        return await response.json()


def words(text: str, span: list[int]) -> str:
    return text[span[0] : span[1]]


async def passages(page: Page) -> list[tuple[str, str]]:
    """Every highlighted passage of the post: (group class, its words)."""
    result: list[tuple[str, str]] = await page.eval_on_selector_all(
        "#post-view .passage",
        """(els) => els.map((el) => [[...el.classList].find((c) => c.startsWith("g-")),
                                     el.querySelector(".words").textContent])""",
    )
    return result


async def test_seed_post_is_verified_with_eleven_faithful_passages(browser: Browser) -> None:
    """The seed post, with its posting time given in Berlin time, comes back VERIFIED: eleven
    passages highlighted as faithful in place, each over exactly the characters of its post_span,
    and one card per source, read from the WARC."""
    page = await browser.open()
    await page.fill("#posted-local", "2023-12-10T15:23:38")
    await page.select_option("#posted-tz", "Europe/Berlin")
    await expect(page.locator("#posted-utc")).to_have_text("That is 2023-12-10T14:23:38Z (UTC).")
    job = await verify(page, SEED_POST)

    await expect(page.locator("#verdict")).to_have_text("Verdict: ✓ VERIFIED")
    report = (await fetch_json(f"{browser.base}/v1/jobs/{job}"))["report"]
    assert report["posted_at"] == "2023-12-10T14:23:38Z"
    await expect(page.locator("#meta")).to_contain_text("posted 2023-12-10T14:23:38Z · checked ")
    shown = await passages(page)
    assert len(shown) == len(report["quotes"]) == 11
    assert {group for group, _ in shown} == {"g-faithful"}
    assert [w for _, w in shown] == [words(SEED_POST, q["post_span"]) for q in report["quotes"]]
    await expect(page.locator("#post-view .passage .tag").first).to_have_text("✓ faithful")
    await expect(page.locator("#summary")).to_have_text("11 passages: 11 faithful · 2 of 2 sources read")
    cards = page.locator("#sources .source")
    await expect(cards).to_have_count(2)
    await expect(cards.nth(0)).to_contain_text("In call, Netanyahu flogs Putin")
    await expect(cards.nth(0)).to_contain_text("seed.warc.gz @")
    await expect(cards.nth(0)).to_contain_text("captured 2023-12-10T14:00:00Z")
    await browser.assert_clean(page)


async def test_misquote_is_flagged_altered_with_its_diff(browser: Browser, tmp_path: Path) -> None:
    """One number changed in a copied sentence (after astral characters that shift UTF-16 offsets): that
    passage alone is highlighted as altered, in the right place, and its details show the reason,
    the word diff (50 struck out, 30 inserted), the source's title and the text-fragment link."""
    page = await browser.open()
    job = await verify(page, MISQUOTE)

    await expect(page.locator("#verdict")).to_have_text("Verdict: ✗ FLAGGED")
    report = (await fetch_json(f"{browser.base}/v1/jobs/{job}"))["report"]
    shown = await passages(page)
    assert [w for _, w in shown] == [words(MISQUOTE, q["post_span"]) for q in report["quotes"]]
    altered = [w for group, w in shown if group == "g-altered"]
    assert len(altered) == 1
    assert "approximately 30-minute phone call" in altered[0]
    assert sum(group == "g-faithful" for group, _ in shown) == 10

    passage = page.locator("#post-view .passage.g-altered")
    await expect(passage.locator(".tag")).to_have_text("≠ altered")
    await passage.click()
    details = page.locator("#details")
    await expect(details).to_be_visible()
    await expect(page.locator("#details-heading")).to_contain_text("≠ altered")
    await expect(details.locator(".reasons li")).to_have_text(["a number was changed"])
    await expect(details.locator(".diff del")).to_have_text("[source had: 50]")
    await expect(details.locator(".diff ins")).to_have_text("[post has: 30]")
    await expect(details.locator(".diff del")).to_have_css("text-decoration-line", "line-through")
    await expect(details).to_contain_text("In call, Netanyahu flogs Putin over Gaza war stance")
    link = details.locator("a.fragment")
    assert (await link.get_attribute("href") or "").startswith(TOI + "#:~:text=")
    assert await link.get_attribute("rel") == "noopener noreferrer"
    assert await passage.get_attribute("aria-expanded") == "true"

    await page.set_viewport_size({"width": 1200, "height": 1500})
    await page.locator("#results").evaluate("(el) => el.scrollIntoView({block: 'start'})")
    shot = tmp_path / "page-flagged.png"
    await page.screenshot(path=str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("PROVENANCE_UPDATE_SCREENSHOTS") == "1":
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, SCREENSHOT)
    await browser.assert_clean(page)


async def test_progress_arrives_before_the_report(browser: Browser) -> None:
    """The page shows the stream's progress before the verdict: "1 of 2 sources read", then both,
    source cards and passages appearing one by one, while the heading still says Checking…; the
    verdict and "Done:" come last."""
    page = await browser.open()
    await verify(page, SEED_POST)
    seen: list[dict[str, Any]] = await page.evaluate("window.__seen")

    def first(test: Callable[[dict[str, Any]], bool]) -> int:
        found = [i for i, s in enumerate(seen) if test(s)]
        assert found, f"never shown; the progress region showed {[s['progress'] for s in seen]}"
        return found[0]

    one_source = first(lambda s: s["progress"] == "1 of 2 sources read, 0 quotes judged")
    both = first(lambda s: s["progress"] == "2 of 2 sources read, 0 quotes judged")
    all_quotes = first(lambda s: s["progress"] == "2 of 2 sources read, 11 quotes judged")
    verdict = first(lambda s: s["verdict"] is not None)
    done = first(lambda s: s["progress"].startswith("Done: "))
    assert one_source < both < all_quotes < done
    assert verdict > both
    assert seen[one_source]["verdict"] is None
    assert seen[one_source]["sources"] == 1
    live = [s["passages"] for s in seen[both:verdict] if s["progress"].endswith("judged")]
    assert 1 in live
    assert 11 in live
    assert live == sorted(live)
    assert await page.locator("#progress").get_attribute("role") == "status"
    await expect(page.locator("#progress")).to_have_text(
        "Done: 2 of 2 sources read, 11 quotes judged. Verdict: verified."
    )
    await browser.assert_clean(page)


async def focus_id(page: Page) -> str:
    ident: str = await page.evaluate("document.activeElement?.id ?? ''")
    return ident


async def tab_until(page: Page, target: Callable[[str], bool], limit: int = 40) -> list[str]:
    """Press Tab until the focused element's id passes ``target``; the ids on the way, repeats merged."""
    path: list[str] = []
    for _ in range(limit):
        await page.keyboard.press("Tab")
        ident = await focus_id(page)
        if not path or path[-1] != ident:
            path.append(ident)
        if target(ident):
            return path
    raise AssertionError(f"never reached after {limit} tabs: {path}")


async def test_keyboard_only(browser: Browser) -> None:
    """With the keyboard alone: Tab to the box, type the post, Tab through the options to Verify,
    Enter; then Tab past the report's links to the first passage (a visible focus ring), Enter opens
    its details with focus on them, Escape brings focus back to the passage."""
    page = await browser.open()
    assert await tab_until(page, lambda i: i == "post") == ["skip", "post"]
    await page.keyboard.insert_text(SEED_POST[:-40])
    await page.keyboard.type(SEED_POST[-40:])
    assert await page.input_value("#post") == SEED_POST
    order = await tab_until(page, lambda i: i == "verify")
    assert order == ["post-file", "format", "posted-local", "posted-tz", "key-summary", "verify"]
    await page.keyboard.press("Enter")
    await expect(page.locator("#progress")).to_have_text(re.compile(r"^Done: "), timeout=REPORT_TIMEOUT_MS)
    await expect(page.locator("#verdict")).to_have_text("Verdict: ✓ VERIFIED")

    path = await tab_until(page, lambda i: i.startswith("passage-"))
    assert path == ["permalink", "download-json", "download-html", "passage-0"]
    ring = await page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert ring == "solid"
    await page.keyboard.press("Enter")
    await expect(page.locator("#details")).to_be_visible()
    assert await focus_id(page) == "details-heading"
    await expect(page.locator("#details-heading")).to_have_text("Passage 1 of 11: ✓ faithful")
    await page.keyboard.press("Escape")
    await expect(page.locator("#details")).to_be_hidden()
    assert await focus_id(page) == "passage-0"
    await page.keyboard.press("Tab")
    assert await focus_id(page) == "passage-1"
    await page.keyboard.press(" ")
    await expect(page.locator("#details-heading")).to_have_text("Passage 2 of 11: ✓ faithful")
    await browser.assert_clean(page)


async def snapshot(page: Page) -> dict[str, Any]:
    return {
        "verdict": await page.inner_text("#verdict"),
        "summary": await page.inner_text("#summary"),
        "passages": await passages(page),
        "sources": await page.locator("#sources .source h3").all_inner_texts(),
    }


async def test_permalink_reloads_the_same_report(browser: Browser, launch: Launch) -> None:
    """The page's address becomes /?job=<id>: opened again (and reloaded) it shows the same verdict,
    passages and sources with the post back in the box; opened in another profile, which never saw
    the post, it shows the same post and passages too (the server keeps the post with its job)."""
    page = await browser.open()
    job = await verify(page, MISQUOTE)
    assert urlsplit(page.url).path == "/"
    await expect(page.locator("#permalink")).to_have_attribute("href", f"/?job={job}")
    before = await snapshot(page)
    assert before["verdict"] == "Verdict: ✗ FLAGGED"

    again = await browser.open(f"/?job={job}")
    await expect(again.locator("#progress")).to_have_text(re.compile(r"^Done: "))
    assert await snapshot(again) == before
    assert await again.input_value("#post") == MISQUOTE
    await again.reload()
    await expect(again.locator("#progress")).to_have_text(re.compile(r"^Done: "))
    assert await snapshot(again) == before

    stranger = await launch(browser.base)
    elsewhere = await stranger.open(f"/?job={job}")
    await expect(elsewhere.locator("#progress")).to_have_text(re.compile(r"^Done: "))
    # The server keeps the post with its job: another browser sees the same post, passages in place.
    assert await snapshot(elsewhere) == before
    assert await elsewhere.input_value("#post") == MISQUOTE
    assert "[…]" not in await elsewhere.inner_text("#post-view")
    await browser.assert_clean(again)
    await stranger.assert_clean(elsewhere)


async def test_downloads_are_the_job_json_and_the_html_report(browser: Browser) -> None:
    """Download JSON saves GET /v1/jobs/<id> (the report inside); Download HTML report saves the
    self-contained report page; both named after the job."""
    page = await browser.open()
    job = await verify(page, MISQUOTE)

    async with page.expect_download() as info:
        await page.click("#download-json")
    saved = await info.value
    assert saved.suggested_filename == f"provenance-{job}.json"
    body = json.loads(await asyncio.to_thread((await saved.path()).read_text, "utf-8"))
    assert body["job"] == job
    assert body["status"] == "done"
    assert body["report"]["verdict"] == "flagged"

    async with page.expect_download() as info:
        await page.click("#download-html")
    saved = await info.value
    assert saved.suggested_filename == f"provenance-{job}.html"
    html = await asyncio.to_thread((await saved.path()).read_text, "utf-8")
    assert html.startswith("<!DOCTYPE html>")
    assert "FLAGGED" in html
    await browser.assert_clean(page)


async def test_hostile_post_text_stays_text(browser: Browser) -> None:
    """Markup in a post (and so in its report) is shown as characters: no element is made from it,
    no script runs; the quote found nowhere is flagged as not found."""
    post = (
        'He said "<img src=x onerror=alert(1)> Netanyahu <b>never</b> called <script>alert(2)</script>"\n\n'
        f"{TOI}\n"
    )
    page = await browser.open()
    await verify(page, post, fmt="text")
    await expect(page.locator("#verdict")).to_have_text("Verdict: ✗ FLAGGED")
    view = page.locator("#post-view")
    await expect(view.locator("img, b, script")).to_have_count(0)
    flagged = view.locator(".passage.g-not_found")
    await expect(flagged).to_have_count(1)
    await expect(flagged.locator(".words")).to_contain_text("<img src=x onerror=alert(1)>")
    await flagged.click()
    await expect(page.locator("#details .passage-text")).to_contain_text("<script>alert(2)</script>")
    await expect(page.locator("#details img, #details script")).to_have_count(0)
    await browser.assert_clean(page)


KREMLIN = "http://en.kremlin.ru/events/president/news/72947"


async def test_misattributed_passage_names_the_page_it_was_found_in(browser: Browser) -> None:
    """A Kremlin sentence placed under the Times of Israel link is highlighted as misattributed (its
    own colour, icon and label); its details name the page it was found in and that page's title,
    and link to the passage there; the correctly placed one stays faithful."""
    post = (
        '"Vladimir Putin and Benjamin Netanyahu agreed to continue contacts."\n\n'
        f"{TOI}\n\n"
        '"Vladimir Putin had a telephone conversation with Prime Minister of Israel Benjamin Netanyahu."\n\n'
        f"{KREMLIN}\n"
    )
    page = await browser.open()
    await verify(page, post, fmt="text")
    await expect(page.locator("#verdict")).to_have_text("Verdict: ✗ FLAGGED")
    assert [group for group, _ in await passages(page)] == ["g-misattributed", "g-faithful"]
    passage = page.locator("#post-view .passage.g-misattributed")
    await expect(passage.locator(".tag")).to_have_text("⇄ misattributed")
    await passage.focus()
    await page.keyboard.press("Enter")
    details = page.locator("#details")
    await expect(details).to_contain_text("Found in")
    await expect(details.locator("dd a[href='" + KREMLIN + "']")).to_have_count(1)
    await expect(details).to_contain_text("Telephone conversation with Prime Minister of Israel")
    fragment = await details.locator("a.fragment").get_attribute("href")
    assert (fragment or "").startswith(KREMLIN + "#:~:text=")
    await expect(page.locator("#summary")).to_have_text(
        "2 passages: 1 faithful, 1 misattributed · 2 of 2 sources read"
    )
    await browser.assert_clean(page)


async def test_narrow_screen_labels_and_contrast(serve: Serve, launch: Launch) -> None:
    """At 320 px wide the flagged report scrolls only down, never sideways; every control has a label;
    the legend names all seven kinds in words; every text checked has contrast of at least 4.5:1."""
    browser = await launch(await serve(), width=320, height=700)
    page = await browser.open()
    assert await page.evaluate(UNLABELLED) == []
    await verify(page, MISQUOTE)
    await page.locator("#post-view .passage.g-altered").click()
    await expect(page.locator("#details")).to_be_visible()
    assert await page.evaluate("document.documentElement.scrollWidth") <= 320
    legend = await page.locator("#legend .badge").all_inner_texts()
    labels = [re.sub(r"\s*\(\d+\)$", "", text) for text in legend]
    assert labels == [
        "✓ faithful",
        "≠ altered",
        "⇄ misattributed",
        "✗ not found",
        "↻ source changed",
        "? unverifiable",
        "✎ own words",
    ]
    contrast = await page.evaluate(
        CONTRAST,
        "body, h1, h2, h3, p, label, legend, summary, dt, dd, li, a, button, .tag, .badge, .verdict, "
        ".words, del, ins, .help, .hint",
    )
    assert contrast["checked"] > 50
    assert contrast["low"] == []
    await browser.assert_clean(page)


async def test_file_open_and_drop_fill_the_box(browser: Browser, tmp_path: Path) -> None:
    """A file chosen with "Or open a file" lands in the box and sets the format by its extension (.md
    → Markdown); so does a file dropped on the box (.html → HTML)."""
    page = await browser.open()
    note = tmp_path / "note.md"
    note.write_text("> quoted line\n\nhttps://example.org/\n", "utf-8")
    await page.set_input_files("#post-file", str(note))
    await expect(page.locator("#post")).to_have_value("> quoted line\n\nhttps://example.org/\n")
    await expect(page.locator("#format")).to_have_value("markdown")

    await page.locator("#post").evaluate(
        """(box) => {
          const data = new DataTransfer();
          data.items.add(new File(["<blockquote>dropped</blockquote>"], "post.html", {type: "text/html"}));
          box.dispatchEvent(new DragEvent("drop", {dataTransfer: data, bubbles: true, cancelable: true}));
        }"""
    )
    await expect(page.locator("#post")).to_have_value("<blockquote>dropped</blockquote>")
    await expect(page.locator("#format")).to_have_value("html")
    await browser.assert_clean(page)


async def test_api_key_is_kept_and_sent(serve: Serve, launch: Launch, tmp_path: Path) -> None:
    """With keys required, Verify without one shows the API's refusal; a key typed in the key field
    is kept in the browser and sent: the request goes through, the event stream is opened with
    ?key= (EventSource cannot send headers), the JSON download carries the key, and a reload still
    has the key."""
    _, token = KeyStore(tmp_path / "data").create("browser test")
    browser = await launch(await serve(open_access=False))
    browser.allowed = ("401",)
    page = await browser.open()
    streams: list[tuple[str, int]] = []
    page.on("response", lambda r: streams.append((r.url, r.status)) if "/events" in r.url else None)

    await page.fill("#post", SEED_POST)
    await page.click("#verify")
    await expect(page.locator("#error")).to_contain_text("(key_required, HTTP 401)")

    await page.click("#key-summary")
    await page.fill("#api-key", token)
    await page.locator("#api-key").press("Tab")
    assert await page.evaluate("localStorage.getItem('provenance.apiKey')") == token
    await page.click("#verify")
    await expect(page.locator("#progress")).to_have_text(re.compile(r"^Done: "), timeout=REPORT_TIMEOUT_MS)
    await expect(page.locator("#verdict")).to_have_text("Verdict: ✓ VERIFIED")
    assert [status for url, status in streams if f"key={token}" in url] == [200]
    await expect(page.locator("#error")).to_have_text("")
    async with page.expect_download() as info:
        await page.click("#download-json")  # with a key: fetched with X-API-Key, saved from a blob
    saved = await info.value
    assert saved.suggested_filename == f"provenance-{job_of(page)}.json"
    body = json.loads(await asyncio.to_thread((await saved.path()).read_text, "utf-8"))
    assert body["report"]["verdict"] == "verified"
    await page.reload()
    await expect(page.locator("#api-key")).to_have_value(token)
    await expect(page.locator("#progress")).to_have_text(re.compile(r"^Done: "))
    await browser.assert_clean(page)


async def test_source_card_redirects_captures_and_unsafe_addresses(browser: Browser) -> None:
    """The page's own renderer, given a source no seed page has: every redirect hop listed with its
    status, http(s) hops and the Wayback capture as links, a javascript: hop as inert text, the WARC
    file @offset and the at-post capture shown, a bidi override in the title shown as an escape."""
    page = await browser.open()
    card = await page.evaluate(
        """async () => {
          const { renderSource } = await import("/static/page-render.js");
          const card = renderSource({
            url: "http://example.org/a", final_url: "https://example.org/b", status: "ok", reason: null,
            http_status: 200, title: "Evil\\u202etitle",
            redirects: [{url: "http://example.org/a", status: 301},
                        {url: "javascript:alert(1)", status: 302}],
            archive: {warc: {file: "warc/x.warc.gz", offset: 1234, captured_at: "2024-01-01T00:00:00Z"},
                      wayback: {status: "success", url: "https://web.archive.org/web/2024/https://example.org/b",
                                timestamp: "20240101000000"}},
            at_post: {captured_at: "2023-12-01T00:00:00Z", sha256: "ab", archive_url: "warc/x.warc.gz"},
          });
          document.getElementById("sources").replaceChildren(card);
          return {
            title: card.querySelector("h3").textContent,
            hops: [...card.querySelectorAll(".hops li")]
              .map((li) => [li.textContent, li.querySelector("a")?.href ?? null]),
            links: [...card.querySelectorAll("a")].map((a) => a.getAttribute("href")),
            text: card.textContent,
          };
        }"""
    )
    assert card["title"] == "Evil\\u202etitle"
    assert card["hops"] == [
        ["301 http://example.org/a", "http://example.org/a"],
        ["302 javascript:alert(1)", None],
    ]
    assert not [link for link in card["links"] if not link.startswith(("http://", "https://"))]
    assert "https://web.archive.org/web/2024/https://example.org/b" in card["links"]
    assert "warc/x.warc.gz @1234" in card["text"]
    assert "captured 2023-12-01T00:00:00Z in warc/x.warc.gz" in card["text"]
    assert "success 20240101000000" in card["text"]
    await browser.assert_clean(page)


async def test_offsets_overlaps_and_time_zones(browser: Browser) -> None:
    """The page's pure helpers: code-point spans land on the right UTF-16 characters after astral
    ones, overlapping or out-of-range spans never show a character twice, and wall-clock times
    become UTC by the zone's rules on either side of a daylight-saving change."""
    page = await browser.open()
    result = await page.evaluate(
        """async () => {
          const t = await import("/static/page-text.js");
          const text = "𝐍𝐁 abc def";
          const cut = (quotes) => t.segments(text, quotes).map((p) => [text.slice(p.start, p.end), p.quote]);
          return {
            astral: cut([{post_span: [3, 6]}, {post_span: [7, 10]}]),
            overlap: cut([{post_span: [3, 8]}, {post_span: [5, 10]},
                          {post_span: [8, 99]}, {post_span: [4, 4]}]),
            winter: t.zonedToUtc("2023-12-10T15:23:38", "Europe/Berlin"),
            summer: t.zonedToUtc("2023-07-10T15:23", "Europe/Berlin"),
            newYork: t.zonedToUtc("2023-11-05T12:00:00", "America/New_York"),
            bad: [t.zonedToUtc("2023-12-10", "UTC"), t.zonedToUtc("2023-12-10T10:00", "Nowhere/Atlantis")],
            http: [t.httpUrl("https://a.example/x"), t.httpUrl("javascript:alert(1)"),
                   t.httpUrl("//a.example")],
          };
        }"""
    )
    assert result["astral"] == [["𝐍𝐁 ", None], ["abc", 0], [" ", None], ["def", 1]]
    assert result["overlap"] == [["𝐍𝐁 ", None], ["abc d", 0], ["ef", 1]]
    assert result["winter"] == "2023-12-10T14:23:38Z"
    assert result["summer"] == "2023-07-10T13:23:00Z"
    assert result["newYork"] == "2023-11-05T17:00:00Z"
    assert result["bad"] == [None, None]
    assert result["http"] == ["https://a.example/x", None, None]
    await browser.assert_clean(page)
