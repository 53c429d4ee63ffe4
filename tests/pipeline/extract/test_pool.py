"""Tests of service.pipeline.extract.pool: decoding, page text, metadata, the killable pool, the cache."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import multiprocessing
import operator
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.pipeline.errors import ExtractionError, ExtractionTimeout
from service.pipeline.extract import reading
from service.pipeline.extract.pool import ExtractorPool, _await_page, _Generation, extract_article
from service.pipeline.extract.reading import PageReading
from service.settings import ExtractSettings

SEED = Path(__file__).parents[2] / "data" / "seed" / "pages"
TOI = SEED / "timesofisrael-in-call-netanyahu-flogs-putin.html"
TOI_URL = "https://www.timesofisrael.com/in-call-netanyahu-flogs-putin-over-gaza-war-stance-and-blossoming-iran-ties/"
KREMLIN = SEED / "kremlin-72947.html"
KREMLIN_URL = "http://en.kremlin.ru/events/president/news/72947"
CORPUS = Path("/work/shared/corpus")

TOI_HEADLINE = "In call, Netanyahu flogs Putin over Gaza war stance and blossoming Iran ties"
TOI_STANDFIRST = (
    "Premier holds 50-minute conversation with Russian leader, ‘expresses annoyance’ over Russian "
    "backing for a ceasefire at the UN but asks for help to pressure the Red Cross"
)
TOI_PARAGRAPH = (
    "Netanyahu stepped out of his government’s weekly cabinet meeting for the approximately 50-minute "
    "phone call, his office said, the first talks between the leaders since mid-October amid rapidly "
    "cooling ties between Jerusalem and Moscow."
)
PARAGRAPH = (
    "The committee met on Tuesday to review the findings of the annual report, which covered budget "
    "allocations, staffing levels and the progress of several long-running infrastructure projects."
)


def article(body: str, head: str = "") -> str:
    """A plausible article page around ``body``, long enough that trafilatura keeps it."""
    return (
        f"<!DOCTYPE html><html><head>{head}<title>Report</title></head><body>"
        f"<nav><a href='/'>Home</a></nav><article>{body}<p>{PARAGRAPH}</p><p>{PARAGRAPH} Again.</p>"
        "</article></body></html>"
    )


def paragraph_flood(count: int) -> bytes:
    """Many paragraphs: trafilatura's cost grows superlinearly with them (security.md §3)."""
    return (
        "<html><body><article>" + "<p>word and more words here</p>" * count + "</article></body></html>"
    ).encode()


def dead(pid: int) -> bool:
    """True once ``pid`` has exited (gone, or a zombie awaiting its parent's reaping)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in {"Z", "X"}


async def until(condition: Callable[[], bool], steps: int = 10_000) -> None:
    """Let the event loop run until ``condition`` holds: bounded, and without sleeping."""
    for _ in range(steps):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never held")


# ---------------------------------------------------------------- the seed pages


def test_seed_toi_metadata() -> None:
    """The Times of Israel page yields its title, byline, publication time and canonical URL."""
    ex = extract_article(TOI.read_bytes(), url=TOI_URL + "?utm_source=twitter", content_type="text/html")
    assert ex.title == TOI_HEADLINE
    assert "Staff" in (ex.author or "")
    assert (ex.published or "").startswith("2023-12-10")
    assert ex.canonical_url == TOI_URL


def test_seed_toi_texts() -> None:
    """Headline and standfirst are in page_text; the article paragraphs are in main_text."""
    ex = extract_article(TOI.read_bytes(), url=TOI_URL)
    assert TOI_HEADLINE in ex.page_text.splitlines()
    assert TOI_STANDFIRST in ex.page_text.splitlines()
    assert TOI_PARAGRAPH in ex.main_text.splitlines()
    assert "The Kremlin’s account of the call said" in ex.main_text
    assert "File: Prime Minister Benjamin Netanyahu meets" in ex.page_text


def test_seed_kremlin() -> None:
    """The Kremlin readout: microdata date, canonical link and all three paragraphs."""
    ex = extract_article(KREMLIN.read_bytes(), url="http://kremlin.ru/d/72947")
    assert ex.published == "2023-12-10"
    assert ex.canonical_url == KREMLIN_URL
    assert ex.title == "Telephone conversation with Prime Minister of Israel Benjamin Netanyahu"
    assert "Vladimir Putin and Benjamin Netanyahu agreed to continue contacts." in ex.main_text
    assert "Russia is ready to provide all possible assistance" in ex.main_text


# ---------------------------------------------------------------- encodings


def test_latin1_meta_charset() -> None:
    """A latin-1 page labelled by <meta charset> decodes, windows-1252 quotes included."""
    page = article("<p>Le café crème coûte cher, “dit-il”, à Besançon.</p>", "<meta charset=iso-8859-1>")
    ex = extract_article(page.encode("cp1252"), url="http://example.com/fr")
    assert "Le café crème coûte cher, “dit-il”, à Besançon." in ex.main_text
    assert "Le café crème coûte cher, “dit-il”, à Besançon." in ex.page_text


def test_windows1251_header_charset_only() -> None:
    """A windows-1251 page with no <meta> decodes from the HTTP header's charset."""
    page = article("<p>Владимир Путин провёл телефонный разговор с премьер-министром Израиля.</p>")
    ex = extract_article(
        page.encode("cp1251"), url="http://example.ru/", content_type="text/html; charset=windows-1251"
    )
    assert "Владимир Путин провёл телефонный разговор с премьер-министром Израиля." in ex.main_text
    assert "Владимир Путин провёл" in ex.page_text


def test_shift_jis_meta() -> None:
    """A Shift_JIS page labelled by http-equiv decodes to the right Japanese text."""
    head = '<meta http-equiv="Content-Type" content="text/html; charset=Shift_JIS">'
    page = article("<p>日本語の記事の本文です。首相は記者会見で述べた。</p>", head)
    ex = extract_article(page.encode("shift_jis"), url="http://example.jp/")
    assert "日本語の記事の本文です。首相は記者会見で述べた。" in ex.page_text


def test_undeclared_legacy_encoding_is_guessed() -> None:
    """Without any declaration, non-UTF-8 bytes are decoded by charset-normalizer's guess."""
    text = "Сегодня президент провёл совещание с членами правительства по экономическим вопросам. " * 3
    ex = extract_article(article(f"<p>{text}</p>").encode("cp1251"), url="http://example.ru/")
    assert "президент провёл совещание" in ex.page_text


@pytest.mark.parametrize(
    "label",
    ["base64", "rot13", "zlib", "hex", "bz2", "uu", "quopri", "idna", "punycode", "undefined",
     "unicode_escape", "raw_unicode_escape", "utf-7", "x-no-such-charset"],
)  # fmt: skip
@pytest.mark.parametrize("where", ["header", "meta"])
def test_a_charset_that_is_no_web_encoding_is_ignored(label: str, where: str) -> None:
    """A label naming one of Python's bytes-to-bytes codecs (base64, zlib...) or its own text
    codecs (idna, unicode-escape, utf-7...) is not obeyed, in the header or in ``<meta>``: the page
    is read as if it had no label, where it used to fail or lose its text."""
    meta = f'<meta charset="{label}">' if where == "meta" else ""
    body = article("<p>Zoë said +AGE- and \\x41 to the C++ room.</p>", meta).encode("utf-8")
    content_type = f"text/html; charset={label}" if where == "header" else "text/html"
    ex = extract_article(body, url="http://example.com/", content_type=content_type)
    assert "Zoë said +AGE- and \\x41 to the C++ room." in ex.page_text


def test_utf8_bom_wins_over_meta() -> None:
    """A UTF-8 BOM decides the encoding even when <meta> claims otherwise (as in browsers)."""
    page = "\ufeff" + article("<p>Zoë’s naïve café — “quoted”.</p>", "<meta charset=windows-1252>")
    ex = extract_article(page.encode("utf-8"), url="http://example.com/")
    assert "Zoë’s naïve café — “quoted”." in ex.page_text
    assert not ex.page_text.startswith("\ufeff")


def test_utf16_bom() -> None:
    """A UTF-16 page with a BOM decodes."""
    page = "\ufeff" + article("<p>Привет из UTF-16, мир.</p>")
    ex = extract_article(page.encode("utf-16-le"), url="http://example.com/")
    assert "Привет из UTF-16, мир." in ex.page_text


# ---------------------------------------------------------------- page_text


def test_inline_elements_join_without_spaces() -> None:
    """Inline markup inside a word leaves the word whole: Arte<b>mis</b> reads Artemis."""
    ex = extract_article(
        article("<p>The Arte<b>mis</b> II <i>crew</i> flew.</p>").encode(), url="http://e.com/"
    )
    assert "The Artemis II crew flew." in ex.page_text.splitlines()


def test_blocks_are_lines_and_whitespace_collapses() -> None:
    """Block elements become lines; whitespace runs (newlines, tabs, nbsp) collapse to one space."""
    body = "<div>one\n\t two<div>three</div>four</div><ul><li>a  b</li><li>c\u00a0\u00a0d</li></ul>x<br>y"
    ex = extract_article(article(body).encode(), url="http://e.com/")
    lines = ex.page_text.splitlines()
    for expected in ("one two", "three", "four", "a b", "c d", "x", "y"):
        assert expected in lines


def test_invisible_content_is_left_out() -> None:
    """Scripts, styles, noscript, templates, svg and hidden elements (the ``hidden`` attribute,
    ``aria-hidden``, ``display: none``, ``visibility: hidden``) never reach page_text."""
    body = (
        "<script>var secretScript = 1;</script><style>.secretStyle{}</style>"
        "<noscript>secretNoscript</noscript><template>secretTemplate</template>"
        "<svg><text>secretSvg</text></svg><div hidden>secretHidden</div>"
        "<p style='display: none'>secretDisplay</p><p>Visible words.</p>"
        "<span aria-hidden='true'>secretAria</span><p style='visibility:hidden'>secretVisibility</p>"
    )
    ex = extract_article(article(body).encode(), url="http://e.com/")
    assert "secret" not in ex.page_text.lower()
    assert "Visible words." in ex.page_text


def test_head_metadata_in_page_text() -> None:
    """Title, og:title, description and og:description lead page_text, each once."""
    head = (
        '<meta name="description" content="A standfirst in the description.">'
        '<meta property="og:description" content="A standfirst in the description.">'
        '<meta property="og:title" content="The social headline">'
    )
    ex = extract_article(article("<p>Body.</p>", head).encode(), url="http://e.com/")
    lines = ex.page_text.splitlines()
    assert lines[:3] == ["Report", "The social headline", "A standfirst in the description."]


def test_discarded_page_still_has_page_text() -> None:
    """When trafilatura discards a page, main_text is empty but page_text still holds its words."""
    ex = extract_article(
        b"<html><body><footer><p>Only a footer note.</p></footer></body></html>", url="http://e.com/"
    )
    assert ex.main_text == ""
    assert ex.page_text == "Only a footer note."


def test_empty_and_garbage_bodies() -> None:
    """Empty or binary bodies give empty texts, not an exception."""
    assert extract_article(b"", url="http://e.com/").page_text == ""
    ex = extract_article(bytes(range(256)) * 4, url="http://e.com/")
    assert ex.main_text == "" or isinstance(ex.main_text, str)
    assert "\x00" not in ex.page_text


def test_long_html_is_truncated_not_rejected() -> None:
    """Past max_html_bytes the rest of the page is dropped; the start is still extracted."""
    page = article("<p>Early words.</p>" + "<p>filler text</p>" * 2000 + "<p>Late words.</p>").encode()
    ex = extract_article(page, url="http://e.com/", max_html_bytes=4096)
    assert "Early words." in ex.page_text
    assert "Late words." not in ex.page_text
    assert "Late words." in extract_article(page, url="http://e.com/").page_text


# ---------------------------------------------------------------- metadata


def test_canonical_relative_and_tracking_params() -> None:
    """A relative canonical link resolves against the URL; tracking parameters are stripped."""
    head = '<link rel="Canonical" href="/news/story-1?utm_source=og&id=7">'
    ex = extract_article(article("<p>x</p>", head).encode(), url="https://News.Example.com/amp/story-1")
    assert ex.canonical_url == "https://news.example.com/news/story-1?id=7"


def test_canonical_falls_back_to_og_url_then_url() -> None:
    """Without rel=canonical, og:url is used; without either, the page's own URL."""
    head = '<meta property="og:url" content="https://example.com/og-story">'
    assert extract_article(article("", head).encode(), url="https://m.example.com/s").canonical_url == (
        "https://example.com/og-story"
    )
    bare = extract_article(article("").encode(), url="https://example.com/s?fbclid=abc")
    assert bare.canonical_url == "https://example.com/s"


def test_published_from_json_ld_graph() -> None:
    """JSON-LD datePublished (inside @graph) is read with its time of day."""
    ld = {
        "@context": "https://schema.org",
        "@graph": [{"@type": "NewsArticle", "datePublished": "2024-05-14T09:30:00Z"}],
    }
    head = f'<script type="application/ld+json">{json.dumps(ld)}</script>'
    ex = extract_article(article("<p>x</p>", head).encode(), url="https://example.com/")
    assert ex.published == "2024-05-14T09:30:00+00:00"


# ---------------------------------------------------------------- properties


SCRIPT_BODY = st.text(st.characters(codec="utf-8"), max_size=60).filter(lambda s: "</" not in s)


@settings(max_examples=60, deadline=None)
@given(
    body=SCRIPT_BODY, position=st.integers(min_value=0, max_value=3), tag=st.sampled_from(["script", "style"])
)
def test_script_content_never_in_page_text(body: str, position: int, tag: str) -> None:
    """Whatever a script or style holds, and wherever it stands, none of it reaches page_text."""
    marker = "QQZXMARKERQQ"
    blocks = ["<p>First.</p>", "<div>Second <b>bold</b>.</div>", "<p>Third.</p>"]
    blocks.insert(position, f"<{tag}>{marker}{body}{marker}</{tag}>")
    ex = extract_article(article("".join(blocks)).encode(), url="http://e.com/")
    assert marker not in ex.page_text
    assert marker not in ex.main_text


WORD = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyzéü"), min_size=1, max_size=8)
INLINE = st.sampled_from(["b", "i", "em", "strong", "span", "a", "code", "small"])


@settings(max_examples=60, deadline=None)
@given(pieces=st.lists(st.tuples(WORD, INLINE, st.booleans()), min_size=1, max_size=8))
def test_inline_markup_never_splits_text(pieces: list[tuple[str, str, bool]]) -> None:
    """A paragraph cut into inline elements reads exactly as its concatenated text."""
    html = "".join(f"<{tag}>{word}</{tag}>" if wrap else word for word, tag, wrap in pieces)
    ex = extract_article(article(f"<p>{html}</p>").encode(), url="http://e.com/")
    assert "".join(word for word, _, _ in pieces) in ex.page_text.splitlines()


# ---------------------------------------------------------------- the pool


@pytest.fixture
async def pool() -> AsyncIterator[ExtractorPool]:
    """A two-worker pool with a short timeout (hostile pages take seconds), closed after the test."""
    async with ExtractorPool(ExtractSettings(workers=2, timeout_s=1.0)) as p:
        yield p


async def test_pool_matches_inline(pool: ExtractorPool) -> None:
    """The pool's answer equals a direct call's."""
    body = TOI.read_bytes()
    assert await pool.extract(body, url=TOI_URL) == extract_article(body, url=TOI_URL)
    assert len(pool.worker_pids) == 2


async def test_inline_mode() -> None:
    """workers=0 extracts in-process, with no worker processes."""
    async with ExtractorPool(ExtractSettings(workers=0)) as inline:
        ex = await inline.extract(KREMLIN.read_bytes(), url=KREMLIN_URL)
        assert ex.canonical_url == KREMLIN_URL
        assert inline.worker_pids == []


async def test_timeout_kills_workers_and_pool_recovers(pool: ExtractorPool) -> None:
    """A page over the limit raises ExtractionTimeout, its workers die, and the next page works."""
    old = pool.worker_pids
    with pytest.raises(ExtractionTimeout) as info:
        await pool.extract(paragraph_flood(60_000), url="http://hostile.example/")
    assert info.value.reason == "extraction_timeout"
    assert len(old) == 2
    assert all(dead(pid) for pid in old)
    ex = await pool.extract(TOI.read_bytes(), url=TOI_URL)
    assert TOI_PARAGRAPH in ex.main_text
    assert set(pool.worker_pids).isdisjoint(old)


# Run in a fresh interpreter, as a spawned worker is: the modules the initializer imports, then those
# reading the pages named on the command line imports on top.
_IMPORTS_PROBE = """
import json, sys
from pathlib import Path
from service.pipeline.extract import pool as extract
from service.pipeline.extract import reading
cold = set(sys.modules)
reading.init_worker()
warm = set(sys.modules)
for path in sys.argv[1:]:
    extract.extract_article(Path(path).read_bytes(), url="https://e.com/")
print(json.dumps([sorted(warm - cold), sorted(set(sys.modules) - warm)]))
"""


def test_worker_initializer_imports_what_extraction_imports_lazily(tmp_path: Path) -> None:
    """Once a fresh worker's initializer has run, reading pages (declared charsets, an undeclared
    legacy one) imports nothing more: a page's time limit never pays the worker's imports."""
    legacy = tmp_path / "legacy.html"
    legacy.write_bytes(
        article("<p>Çà et là, des «wörds» en Windows-1252 sans déclaration.</p>").encode("cp1252")
    )
    result = subprocess.run(
        [sys.executable, "-c", _IMPORTS_PROBE, str(TOI), str(KREMLIN), str(legacy)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    at_init, later = json.loads(result.stdout)
    assert "trafilatura" in at_init
    assert later == []


async def test_timeout_is_cached_per_body(pool: ExtractorPool) -> None:
    """The same hostile bytes under another URL fail at once, without burning CPU again."""
    flood = paragraph_flood(60_000)
    with pytest.raises(ExtractionTimeout):
        await pool.extract(flood, url="http://hostile.example/a")
    with pytest.raises(ExtractionTimeout):
        await pool.extract(flood, url="http://hostile.example/b")
    assert pool.extractions == 1


async def test_innocent_extraction_is_retried_after_a_kill() -> None:
    """An extraction running in a pool killed for another page is retried on the fresh pool."""
    async with ExtractorPool(ExtractSettings(workers=2, timeout_s=60)) as slow_pool:
        old = slow_pool.worker_pids
        task = asyncio.ensure_future(slow_pool.extract(paragraph_flood(15_000), url="http://e.com/"))
        await until(lambda: slow_pool.running > 0)
        await slow_pool.restart()
        ex = await task
        assert ex.main_text.count("word and more words here") >= 1
        assert len(old) == 2
        assert all(dead(pid) for pid in old)
        assert slow_pool.extractions == 1


async def test_crashed_worker_raises_extraction_error() -> None:
    """A worker dying under a page gives ExtractionError('extraction_crashed'); the pool recovers."""
    async with ExtractorPool(ExtractSettings(workers=2, timeout_s=60)) as crash_pool:
        task = asyncio.ensure_future(crash_pool.extract(paragraph_flood(15_000), url="http://e.com/"))
        await until(lambda: crash_pool.running > 0)
        for pid in crash_pool.worker_pids:
            os.kill(pid, signal.SIGKILL)
        with pytest.raises(ExtractionError) as info:
            await task
        assert info.value.reason == "extraction_crashed"
        ex = await crash_pool.extract(KREMLIN.read_bytes(), url=KREMLIN_URL)
        assert "agreed to continue contacts" in ex.main_text


async def test_exit_stops_workers() -> None:
    """Leaving the context shuts every worker down."""
    async with ExtractorPool(ExtractSettings(workers=2)) as p:
        pids = p.worker_pids
        await p.extract(KREMLIN.read_bytes(), url=KREMLIN_URL)
    assert len(pids) == 2
    assert all(dead(pid) for pid in pids)


async def test_cache_extracts_once_per_body(pool: ExtractorPool) -> None:
    """The same bytes under two URLs are extracted once; canonical_url stays right for each."""
    page = article("<p>Shared page.</p>").encode()
    first, second = await asyncio.gather(
        pool.extract(page, url="https://a.example/x"), pool.extract(page, url="https://b.example/y")
    )
    again = await pool.extract(page, url="https://c.example/z?utm_medium=social")
    assert pool.extractions == 1
    assert first.canonical_url == "https://a.example/x"
    assert second.canonical_url == "https://b.example/y"
    assert again.canonical_url == "https://c.example/z"
    assert first.page_text == second.page_text == again.page_text


async def test_cache_resolves_relative_canonical_per_url() -> None:
    """A cached page's relative canonical link is resolved against each URL it is served under."""
    page = article("", '<link rel="canonical" href="/story">').encode()
    async with ExtractorPool(ExtractSettings(workers=0)) as inline:
        a = await inline.extract(page, url="https://a.example/amp/story")
        b = await inline.extract(page, url="https://b.example/m/story")
        assert inline.extractions == 1
    assert (a.canonical_url, b.canonical_url) == ("https://a.example/story", "https://b.example/story")


async def test_cache_separates_charsets() -> None:
    """The same bytes with a different header charset are extracted separately, and decode differently."""
    page = article("<p>Señal café.</p>").encode("cp1252")
    async with ExtractorPool(ExtractSettings(workers=0)) as inline:
        latin = await inline.extract(
            page, url="http://e.com/", content_type="text/html; charset=windows-1252"
        )
        cyrillic = await inline.extract(
            page, url="http://e.com/", content_type="text/html; charset=windows-1251"
        )
        assert inline.extractions == 2
    assert "Señal café." in latin.page_text
    assert "Señal café." not in cyrillic.page_text


# ---------------------------------------------------------------- real pages


def _sentences(body: str) -> list[str]:
    parts = re.split(r"(?<=[.!?。])\s*|\n+", body)
    return [p for p in parts if len(p.strip()) >= 20]


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


@pytest.mark.skipif(not (CORPUS / "manifest.jsonl").exists(), reason="evaluation corpus not present")
def test_corpus_sentences_are_found() -> None:
    """On ten real pages, at least 90 % of each ground-truth body's sentences are in main or page text."""
    rows = [json.loads(line) for line in (CORPUS / "manifest.jsonl").read_text().splitlines()[:10]]
    for row in rows:
        ex = extract_article(gzip.decompress((CORPUS / row["html"]).read_bytes()), url=row["url"])
        haystack = _squash(ex.main_text) + "\x00" + _squash(ex.page_text)
        sentences = _sentences(row["body"])
        found = sum(_squash(s) in haystack for s in sentences)
        assert found >= 0.9 * len(sentences), (row["id"], found, len(sentences))


def test_trafilatura_failure_keeps_page_text(monkeypatch: pytest.MonkeyPatch) -> None:
    """If trafilatura raises on a page, main_text is empty but page_text and metadata still come."""

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("trafilatura bug")

    monkeypatch.setattr("trafilatura.bare_extraction", broken)
    monkeypatch.setattr("trafilatura.core.trafilatura_sequence", broken)  # the in-place read's cascade
    ex = extract_article(KREMLIN.read_bytes(), url=KREMLIN_URL)
    assert ex.main_text == ""
    assert "Vladimir Putin and Benjamin Netanyahu agreed to continue contacts." in ex.page_text
    assert (ex.title or "").startswith("Telephone conversation with Prime Minister of Israel")
    assert ex.published == "2023-12-10"


async def test_recycled_workers_keep_working() -> None:
    """With max_tasks_per_child=1 every page gets a fresh worker, and every page still extracts."""
    async with ExtractorPool(ExtractSettings(workers=1), max_tasks_per_child=1) as recycling:
        first = recycling.worker_pids
        results = [
            await recycling.extract(article(f"<p>Page {i}.</p>").encode(), url="http://e.com/")
            for i in range(3)
        ]
        assert [f"Page {i}." in r.page_text for i, r in enumerate(results)] == [True, True, True]
        # Whoever was working at the start (the warm-up may already have retired it) is gone now.
        assert not set(first) & set(recycling.worker_pids)


def test_author_and_title_from_page_metadata() -> None:
    """Bylines come from meta tags or JSON-LD (several names joined), titles from og:title first."""
    ld = (
        '<script type="application/ld+json">{"@graph": [{"@type": "NewsArticle", "author": '
        '[{"@type": "Person", "name": "Ana Lima"}, {"name": "Bo Chen"}, "https://x.example/staff"],'
        ' "datePublished": "2021-05-04T08:00:00Z"}]}</script>'
    )
    page = (
        f"<html><head><title>Story | Site</title><meta property='og:title' content='Story'>{ld}</head>"
        "<body><article><p>" + "Words of the story go on here. " * 30 + "</p></article></body></html>"
    ).encode()
    ex = extract_article(page, url="https://x.example/story")
    assert ex.author == "Ana Lima; Bo Chen"
    assert ex.title == "Story"
    assert ex.published == "2021-05-04T08:00:00+00:00"
    meta_page = page.replace(b"<title>", b"<meta name='author' content='By Cy Dee'><title>")
    assert extract_article(meta_page, url="https://x.example/story").author == "Cy Dee"


async def test_extraction_processes_die_with_their_parent(tmp_path: Path) -> None:
    """A worker SIGKILLed (or OOM-killed) takes its extraction processes with it: none is left."""
    import os
    import signal
    import subprocess
    import sys

    script = tmp_path / "parent.py"
    script.write_text(
        "import asyncio, sys\n"
        "from service.pipeline.extract.pool import ExtractorPool\n"
        "from service.settings import ExtractSettings\n"
        "async def main():\n"
        "    async with ExtractorPool(ExtractSettings(workers=2)) as pool:\n"
        "        await pool.extract(b'<html><body><p>warm</p></body></html>', url='https://x.example/')\n"
        "        print(' '.join(map(str, pool.worker_pids)), flush=True)\n"
        "        await asyncio.sleep(60)\n"
        "if __name__ == '__main__':\n"
        "    asyncio.run(main())\n"
    )
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)  # noqa: ASYNC220
    assert parent.stdout is not None
    line = await asyncio.wait_for(asyncio.to_thread(parent.stdout.readline), 60)
    children = [int(pid) for pid in line.split()]
    assert len(children) == 2
    parent.send_signal(signal.SIGKILL)
    parent.wait(10)
    parent.stdout.close()

    def alive(pid: int) -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"  # a zombie is dead

    for _ in range(100):
        if not any(alive(pid) for pid in children):
            break
        await asyncio.sleep(0.05)
    assert not any(alive(pid) for pid in children)


async def test_workers_are_not_respawned_per_task_count() -> None:
    """By default workers live for the whole run: 40 pages later the same processes extract."""
    async with ExtractorPool(ExtractSettings(workers=2)) as steady:
        first = sorted(steady.worker_pids)
        for i in range(40):
            await steady.extract(article(f"<p>Page number {i}.</p>").encode(), url="http://e.com/")
        assert sorted(steady.worker_pids) == first
        assert len(first) == 2


async def test_workers_are_recycled_on_memory() -> None:
    """A worker grown past the memory bound is retired for a fresh one; every page still extracts."""
    async with ExtractorPool(ExtractSettings(workers=1), recycle_rss_bytes=1) as recycling:
        first = recycling.worker_pids
        pages = [article(f"<p>Page {i}.</p>").encode() for i in range(40)]
        results = [await recycling.extract(page, url="http://e.com/") for page in pages]
        assert all(f"Page {i}." in r.page_text for i, r in enumerate(results))
        assert not set(first) & set(recycling.worker_pids)


_WORKER_MODULES = """
import asyncio, json, sys
from service.pipeline.extract.pool import ExtractorPool
from service.settings import ExtractSettings

def loaded() -> list[str]:
    return sorted(sys.modules)

async def main() -> None:
    async with ExtractorPool(ExtractSettings(workers=1)) as pool:
        await pool.extract(b"<html><body><p>warm</p></body></html>", url="https://x.example/")
        gen = pool._gen
        assert gen is not None
        modules = await (await gen.call(loaded))
    print(json.dumps(modules))

if __name__ == "__main__":
    asyncio.run(main())
"""


def test_worker_imports_the_extraction_stack_only(tmp_path: Path) -> None:
    """An extraction worker started by the ``provenance`` script loads trafilatura and the WARC
    reader (it reads replayed captures, ``captures.py``) but not the HTTP client, the web layer,
    the queue, structlog or the pipeline's composition: multiprocessing re-imports the main script
    in every worker, and the CLI module imports only leaves at start."""
    script = tmp_path / "provenance.py"
    script.write_text(
        "from service.cli import main as _main  # as the console script does\n" + _WORKER_MODULES
    )
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=True
    )
    modules = set(json.loads(result.stdout.strip().splitlines()[-1]))
    assert {"trafilatura", "warcio", "service.pipeline.extract.captures"} <= modules
    heavy = {"aiohttp", "service.api", "workers", "redis", "structlog", "service.pipeline.deps"}
    assert not heavy & modules


def test_the_parent_loads_no_page_reading_stack() -> None:
    """The process that owns the pool extracts through it without importing lxml, htmldate,
    charset detection or trafilatura: only its workers read pages (the parent's start-up and
    CPU are the batch's critical path)."""
    code = (
        "import asyncio, sys\n"
        "from service.pipeline.extract.pool import ExtractorPool\n"
        "from service.settings import ExtractSettings\n"
        "async def main():\n"
        "    async with ExtractorPool(ExtractSettings(workers=1)) as pool:\n"
        "        ex = await pool.extract(b'<html><body><p>Hello there.</p></body></html>', url='http://e.com/')\n"
        "    assert 'Hello there.' in ex.page_text\n"
        "asyncio.run(main())\n"
        "stack = ('lxml', 'htmldate', 'charset_normalizer', 'trafilatura')\n"
        "print(sorted(m for m in stack if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == "[]"


_READ = PageReading("main", "page", None, None, None, None, None, None)


async def _finish_at(
    fut: asyncio.Future[PageReading], starts: list[float], start_after: float, run: float
) -> None:
    """A fake worker: stamps its start ``start_after`` seconds from now, answers ``run`` later."""
    loop = asyncio.get_running_loop()
    await asyncio.sleep(start_after)
    starts[0] = loop.time()
    await asyncio.sleep(run)
    if not fut.done():
        fut.set_result(_READ)


async def test_time_queued_behind_another_page_is_not_the_pages_own() -> None:
    """Queued 0.3 s, then read in 0.3 s: 0.6 s after submission, within a 0.45 s limit of its own."""
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[PageReading] = loop.create_future()
    starts = [0.0]
    worker = asyncio.ensure_future(_finish_at(fut, starts, 0.3, 0.3))
    submitted = loop.time()
    assert await _await_page(fut, starts, 0, 0.45) is _READ
    assert loop.time() - submitted > 0.45  # past the limit counted from the submission
    await worker


async def test_a_page_over_its_limit_since_it_started_times_out_and_is_dropped() -> None:
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[PageReading] = loop.create_future()
    starts = [0.0]
    worker = asyncio.ensure_future(_finish_at(fut, starts, 0.1, 5.0))
    submitted = loop.time()
    with pytest.raises(TimeoutError):
        await _await_page(fut, starts, 0, 0.3)
    waited = loop.time() - submitted
    assert 0.4 - 0.05 <= waited < 1.0  # 0.1 s queued + 0.3 s of its own
    assert fut.cancelled()
    worker.cancel()


async def test_a_page_never_started_waits_while_the_pages_ahead_run() -> None:
    """No stamp yet: the wait goes on, and a kill of the pool (the future cancelled) ends it."""
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[PageReading] = loop.create_future()
    loop.call_later(0.5, fut.cancel)
    with pytest.raises(asyncio.CancelledError):
        await _await_page(fut, [0.0], 0, 0.2)


async def test_workers_stamp_when_they_start_a_page() -> None:
    """One worker, two pages at once: the second waits in the queue; both stamps are real moments."""
    loop = asyncio.get_running_loop()
    async with ExtractorPool(ExtractSettings(workers=1, timeout_s=30)) as one:
        before = loop.time()
        pages = [b"<html><body><p>first page of words</p></body></html>", TOI.read_bytes()]
        done = await asyncio.gather(*(one.extract(p, url="http://e.com/") for p in pages))
        assert "first page of words" in done[0].page_text
        assert TOI_PARAGRAPH in done[1].main_text
        gen = one._gen
        assert gen is not None
        stamps = sorted(gen.starts)
        assert len(stamps) == 2
        assert all(before < s <= loop.time() for s in stamps)


async def test_the_parent_runs_no_thread_for_its_workers() -> None:
    """Pages go to the workers and answers come back on the event loop: once the workers are
    up, extracting starts no thread in the parent (each thread hand-off cost the parent CPU)."""
    async with ExtractorPool(ExtractSettings(workers=2)) as steady:
        await steady.extract(article("<p>Warm.</p>").encode(), url="http://e.com/")
        threads = threading.active_count()
        pages = [article(f"<p>Page number {i}.</p>").encode() for i in range(12)]
        results = await asyncio.gather(*(steady.extract(p, url="http://e.com/") for p in pages))
        assert [f"Page number {i}." in r.page_text for i, r in enumerate(results)] == [True] * 12
        assert threading.active_count() == threads


async def test_an_exception_in_a_worker_reaches_the_caller() -> None:
    """A call that raises in the worker fails with that exception; the worker goes on."""
    async with ExtractorPool(ExtractSettings(workers=1)) as one:
        await one.extract(article("<p>Warm.</p>").encode(), url="http://e.com/")
        gen = one._gen
        assert gen is not None
        with pytest.raises(ZeroDivisionError):
            await (await gen.call(operator.truediv, 1, 0))
        assert await (await gen.call(operator.truediv, 1, 4)) == 0.25
        assert len(gen.pids()) == 1


async def test_a_large_page_queued_behind_a_slow_one_never_blocks_the_loop() -> None:
    """A 3 MB page sent to a worker busy with a slow one waits in the socket's buffer: the event
    loop goes on meanwhile (a blocking write would hold it until the worker read the page)."""
    loop = asyncio.get_running_loop()
    async with ExtractorPool(ExtractSettings(workers=1, timeout_s=60)) as one:
        await one.extract(article("<p>Warm.</p>").encode(), url="http://e.com/")
        slow = asyncio.ensure_future(one.extract(paragraph_flood(15_000), url="http://e.com/slow"))
        await until(lambda: one.running > 0)
        large = article("<p>" + "Many words of a long page. " * 120_000 + "</p>").encode()
        assert len(large) > 3_000_000
        before = loop.time()
        queued = asyncio.ensure_future(one.extract(large, url="http://e.com/large"))
        await asyncio.sleep(0.05)  # the large page is handed over (or waiting) by now
        assert loop.time() - before < 1.0
        assert not slow.done()  # the worker is still on the slow page: nothing has read the large one
        done = await asyncio.gather(slow, queued)
        assert "word and more words here" in done[0].main_text
        assert "Many words of a long page." in done[1].page_text


@pytest.mark.parametrize("shutdown", ["close", "kill"])
async def test_a_worker_starting_during_shutdown_is_not_left_behind(
    shutdown: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pool shut down while a second worker is still starting waits for it and ends it too: no
    worker outlives its pool (the interpreter would wait for it at exit)."""
    from service.pipeline.extract import pool as pool_module

    started: list[multiprocessing.process.BaseProcess] = []
    spawn = pool_module._spawn

    def recorded(*args: Any) -> Any:
        proc, sock = spawn(*args)
        started.append(proc)
        return proc, sock

    monkeypatch.setattr(pool_module, "_spawn", recorded)
    gen = _Generation(workers=2, max_tasks_per_child=None, prestart=1, slots=4)
    await gen.ready()
    growing = asyncio.ensure_future(gen._grow())
    await asyncio.sleep(0)  # the second worker's start is under way
    await (gen.close() if shutdown == "close" else gen.kill())
    await asyncio.gather(growing, return_exceptions=True)
    assert len(started) == 2
    for proc in started:
        await asyncio.to_thread(proc.join, 10)
    assert not any(proc.is_alive() for proc in started)
    assert gen.live == []


def _who_warmed() -> tuple[int | None, int, int]:
    """Run in a worker: which process warmed its extraction stack, its pid, its parent's."""
    return reading._warmed_in, os.getpid(), os.getppid()


async def test_workers_start_warmed_by_their_fork_server() -> None:
    """The fork server reads the warm-up pages once (its last preload): every worker it forks
    inherits a warm stack instead of reading them itself after its fork."""
    async with ExtractorPool(ExtractSettings(workers=2)) as two:
        gen = two._gen
        assert gen is not None
        if gen.context.get_start_method() != "forkserver":
            pytest.skip("no fork server here: each worker warms itself")
        sent = [await gen.call(_who_warmed) for _ in range(4)]  # sent at once: both workers answer
        answers = cast(list[tuple[int | None, int, int]], await asyncio.gather(*sent))
        assert {pid for _, pid, _ in answers} == set(gen.pids())
        assert len(answers) == 4
        for warmed_in, pid, parent in answers:
            assert warmed_in == parent != pid  # the fork server, the workers' parent


def _socket_buffer_cap() -> int:
    """The kernel's cap on a socket's send buffer (0 where /proc does not say)."""
    cap = Path("/proc/sys/net/core/wmem_max")
    return int(cap.read_text()) if cap.exists() else 0


async def test_a_workers_socket_holds_a_whole_replayed_answer() -> None:
    """Both ends of a worker's socket take a few MB unread (up to the kernel's cap), so a worker that
    sends a page's answer (its body and texts: 134 KB median, 314 KB at the 90th percentile on the
    corpus) goes on without waiting for the loop to read it, as it did with Linux's 208 KiB."""
    import socket

    from service.pipeline.extract import pool as pool_module

    if _socket_buffer_cap() < 1024 * 1024:
        pytest.skip("the kernel caps socket buffers under 1 MB here")
    mine, theirs = socket.socketpair()
    with mine, theirs:
        pool_module._widen(theirs)
        assert theirs.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF) >= 1024 * 1024
        theirs.setblocking(False)
        sent = 0
        with contextlib.suppress(BlockingIOError):
            while sent < 1024 * 1024:
                sent += theirs.send(b"x" * 65536)
        assert sent >= 1024 * 1024  # a 1 MB answer goes out unread
    async with ExtractorPool(ExtractSettings(workers=1)) as one:
        gen = one._gen
        assert gen is not None
        await gen.ready()
        parent_end = gen.live[0].writer.get_extra_info("socket")
        assert parent_end.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) >= 1024 * 1024


def _feed(frames: Any, data: bytes, cuts: list[int]) -> None:
    """Hand ``data`` to the protocol as the transport does: into the buffers it offers, in reads
    of at most the sizes in ``cuts`` (then whatever is left), never past what it offers."""
    at, sizes = 0, iter(cuts)
    while at < len(data):
        buffer = frames.get_buffer(-1)
        n = min(len(buffer), next(sizes, len(data)), len(data) - at)
        buffer[:n] = data[at : at + n]
        frames.buffer_updated(n)
        at += n


@settings(max_examples=200, deadline=None)
@given(
    answers=st.lists(st.binary(max_size=300), max_size=6),
    cuts=st.lists(st.integers(min_value=1, max_value=64), max_size=40),
    cut_short=st.integers(min_value=0, max_value=20),
)
def test_answers_come_out_whole_however_the_reads_split_them(
    answers: list[bytes], cuts: list[int], cut_short: int
) -> None:
    """The parent's end of a worker's socket gives back each answer whole and in order, whatever
    sizes the socket's reads come in; an end of stream inside an answer is an IncompleteReadError,
    raised after the whole answers before it, as asyncio's StreamReader did."""
    from service.pipeline.extract.pool import _Frames
    from service.pipeline.extract.reading import FRAME

    async def run() -> None:
        frames = _Frames()
        data = b"".join(FRAME.pack(len(a)) + a for a in answers)
        partial = FRAME.pack(cut_short + 1) + b"x" * cut_short if cut_short else b""
        _feed(frames, data + partial, cuts)
        frames.eof_received()
        for answer in answers:
            assert bytes(await frames.frame()) == answer
        with pytest.raises(asyncio.IncompleteReadError):
            await frames.frame()

    asyncio.run(run())
