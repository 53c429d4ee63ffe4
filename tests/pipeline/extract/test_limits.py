"""The extraction stage's own limits (issue 13): a CPU-time limit in each worker besides the wall
clock, a cap on what lxml is handed, and no parse of a fetched page anywhere else."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import html

from service.pipeline.errors import ExtractionTimeout
from service.pipeline.extract import page_text
from service.pipeline.extract.health import assess
from service.pipeline.extract.page_text import parse_html
from service.pipeline.extract.pool import ExtractorPool, extract_article
from service.pipeline.models import FetchResult, SourceStatus
from service.settings import ExtractSettings
from tests.pipeline.extract.test_pool import paragraph_flood


def attribute_bomb(count: int) -> bytes:
    """One ``<div>`` with ``count`` attributes (libxml2 checks them for duplicates pairwise)."""
    attributes = " ".join(f"a{i}=x" for i in range(count))
    return f"<html><body><div {attributes}><p>The text after the bomb.</p></div></body></html>".encode()


async def test_a_worker_over_its_cpu_time_is_ended_and_the_page_is_an_extraction_timeout() -> None:
    """With a wall clock far away, the worker's RLIMIT_CPU ends a page that burns CPU: the page
    is an ``extraction_timeout`` naming the CPU limit, and the pool reads the next page."""
    settings = ExtractSettings(workers=1, timeout_s=120, cpu_limit_s=1)
    async with ExtractorPool(settings) as pool:
        started = time.monotonic()
        with pytest.raises(ExtractionTimeout, match="CPU") as info:
            await pool.extract(paragraph_flood(60_000), url="http://hostile.example/")
        assert info.value.reason == "extraction_timeout"
        assert time.monotonic() - started < 30
        ex = await pool.extract(
            b"<html><body><p>An ordinary page of words.</p></body></html>", url="http://e.com/"
        )
        assert "ordinary page" in ex.page_text


_PER_PAGE_PROBE = """
import time
from service.pipeline.extract.reading import read_limited
for _ in range(4):
    read_limited(b"<p>words here</p>", "http://e.com/", None, 1 << 20, 1.0)
    started = time.process_time()
    while time.process_time() - started < 0.6:  # 0.6 s of CPU per page, 2.4 s in all
        pass
print("alive")
"""


def test_the_cpu_limit_is_per_page_not_per_worker_life() -> None:
    """Each page gets the whole allowance: the limit counts from the CPU the worker used so far,
    so a long-lived worker is not ended by the sum of its honest pages."""
    result = subprocess.run(
        [sys.executable, "-c", _PER_PAGE_PROBE], capture_output=True, text=True, timeout=60, check=False
    )
    assert (result.returncode, result.stdout.strip()) == (0, "alive")


@pytest.mark.parametrize("count", [10_000, 50_000, 100_000])
def test_an_attribute_bomb_is_read_in_milliseconds_and_its_text_kept(count: int) -> None:
    """A start tag past 32 KiB loses its attributes before lxml sees it (100,000 attributes held
    lxml 49 s): the page reads at once and keeps its text."""
    started = time.perf_counter()
    ex = extract_article(attribute_bomb(count), url="http://e.com/")
    assert time.perf_counter() - started < 1.0
    assert "The text after the bomb." in ex.page_text


def test_html_past_the_cap_is_cut_before_lxml() -> None:
    """lxml gets no more than the cap's bytes of a page."""
    root, data = parse_html("<p>" + "word " * 100_000 + "</p>", 4096)
    assert root is not None
    assert len(data) <= 4096


def test_health_never_parses_a_page(monkeypatch: pytest.MonkeyPatch) -> None:
    """An answer nobody extracted (its extraction overran) is judged without parsing it: health
    runs on the event loop, where a hostile page would hold every other post."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("health parsed a page")

    monkeypatch.setattr(html, "document_fromstring", refuse)
    monkeypatch.setattr(html, "fromstring", refuse)
    for status, code in ((SourceStatus.OK, 200), (SourceStatus.ERROR, 503)):
        bomb = attribute_bomb(100_000)
        fetched = FetchResult(url="http://e.com/a", final_url="http://e.com/a", status=status,
                              http_status=code, content_type="text/html", body=bomb)  # fmt: skip
        started = time.perf_counter()
        assess(fetched, None)
        assert time.perf_counter() - started < 0.5


_PIECES = ["a", " ", "<", ">", "é", "\u2028", "\x00", "\x0b", "\x1c", "\ufffe", "\uffff", "\ud800",
           "<!doctype html>", "<!doc", "type>", "<div", "<p ", "x=1 " * 9000]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=30))
def test_cleaning_before_lxml_is_the_three_patterns(pieces: list[str]) -> None:
    """What lxml is handed is exactly the rejected characters removed, then the doctype, then
    every start tag past 32 KiB cut to its name, whatever shortcut finds them."""
    text = "".join(pieces)
    expected = page_text._DOCTYPE.sub("", page_text._INVALID_XML.sub("", text), count=1)
    expected = page_text._HUGE_TAG.sub(r"<\1>", expected)
    assert page_text._clean_bytes(text) == expected.encode("utf-8", errors="replace")


_RUNS = ["<", ">", "<p ", "<div", "é", " ", *("y" * n for n in (1, 16383, 16384, 16385, 32767, 32768, 32769))]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_RUNS), max_size=12))
def test_huge_tags_are_cut_as_the_pattern_cuts_them(pieces: list[str]) -> None:
    """Runs without a ``<`` of every length around the block size and the tag limit, anywhere:
    the block test finds every start tag the pattern cuts, and only those."""
    text = "".join(pieces)
    assert page_text._strip_huge_tags(text) == page_text._HUGE_TAG.sub(r"<\1>", text)


def test_a_tag_just_over_the_limit_is_cut_wherever_it_starts() -> None:
    """The shortest tags the pattern cuts (and the longest it keeps), starting at each offset
    around the block edges, where a tag holds the fewest whole blocks."""
    half = page_text._MAX_TAG_CHARS // 2
    for start in (k * half + d for k in range(3) for d in range(-3, 4) if k * half + d >= 0):
        for length in range(page_text._MAX_TAG_CHARS - 2, page_text._MAX_TAG_CHARS + 3):
            text = "a" * start + "<p" + "y" * length + "><b>"
            assert page_text._strip_huge_tags(text) == page_text._HUGE_TAG.sub(r"<\1>", text), (start, length)


def test_every_element_is_an_html_element() -> None:
    """The tree's elements are all ``HtmlElement`` (no per-tag classes), so every reader and
    trafilatura find the methods they use on a form or an input too."""
    page = "<html><body><form><input name=q><label>L</label></form><p>x</p></body></html>"
    root, _ = parse_html(page, 1 << 20)
    assert root is not None
    assert {type(el) for el in root.iter()} == {html.HtmlElement}


# Pieces of a page as bytes: a BOM, doctypes with Unicode spaces before them, replacement
# characters (written, and made by invalid bytes), rejected characters, long tags, other scripts.
_BYTE_PIECES = [
    b"\xef\xbb\xbf", b"<!doctype html>", b"<!DOCTYPE html PUBLIC>", "\u00a0\u2003".encode(), b" \n",
    "\ufffd".encode(), b"\xff", b"\xc3", "é".encode(), "中文".encode(), "\U0001f600".encode(),
    b"\x00", b"\x0b", "\ufffe".encode(), b"<p>", b"<div x=1 ", b"y" * 33000, b">", b"text ",
    b'<meta charset="utf-8">', b'<meta charset="latin-1">', b"\xe9",
    # a start tag over the limit in characters, and one over it in bytes only
    b"<div x=1 " + b"y" * 33000 + b">", ("<p " + "\u00e9" * 17000 + ">").encode(),
]  # fmt: skip


_PAGE_STARTS = [b"", b"\xef\xbb\xbf", b" \n", "\u00a0\u2003".encode(), b"\xef\xbb\xbf\t\xc2\xa0"]
_DOCTYPES = [b"", b"<!doctype html>", "<!DOCTYPE html \u00e9>".encode()]


@settings(max_examples=400, deadline=None)
@given(
    st.tuples(st.sampled_from(_PAGE_STARTS), st.sampled_from(_DOCTYPES)).map(list)
    | st.lists(st.sampled_from(_BYTE_PIECES), max_size=3),
    st.lists(st.sampled_from(_BYTE_PIECES), max_size=12),
    st.sampled_from([None, "text/html", "text/html; charset=utf-8", "text/html; charset=windows-1252"]),
    st.sampled_from([1 << 20, 40_000, 50]),
)
def test_parsing_from_the_pages_own_utf8_gives_the_same_bytes(
    start: list[bytes], pieces: list[bytes], content_type: str | None, cap: int
) -> None:
    """Whatever the page and its charset: the bytes lxml is handed, and the text, are the same
    whether the page's own UTF-8 is reused (``decode_page``) or the text is encoded again. Its
    start (a BOM, spaces of any script, a doctype with a non-ASCII letter) is drawn on purpose."""
    body = b"".join(start + pieces)
    text, utf8 = page_text.decode_page(body, content_type)
    assert text == page_text.decode_html(body, content_type)
    if utf8 is not None:
        assert utf8 == text.encode("utf-8")
    assert page_text._clean_bytes(text, utf8) == page_text._clean_bytes(text)
    assert parse_html(text, cap, utf8)[1] == parse_html(text, cap)[1]


def test_a_utf8_page_reuses_its_own_bytes() -> None:
    """The common case takes the short way: a UTF-8 page, declared or not, BOM or not."""
    page = "<!doctype html><html><body><p>Un café à Zürich — “quoted”.</p></body></html>".encode()
    for body, content_type in (
        (page, None),
        (page, "text/html; charset=utf-8"),
        (b"\xef\xbb\xbf" + page, None),
    ):
        text, utf8 = page_text.decode_page(body, content_type)
        assert text == page.decode()
        assert utf8 == page
    assert (
        page_text.decode_page(page.decode().encode("cp1252", "replace"), "text/html; charset=windows-1252")[1]
        is None
    )
