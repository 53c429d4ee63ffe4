"""Reading a post is linear in its length, whatever it holds (issue 13).

Each hostile shape is read at two sizes, four times apart; the slower of the two must not take
more than about twice the fourfold (a quadratic scan takes sixteen times as long). Ratios, not
absolute times, so that a slow machine does not fail them, and CPU time of this process, so that
a busy one does not either. Each time is the best of three reads.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.pipeline.errors import InputError
from service.pipeline.models import InputFormat
from service.pipeline.posts.reader import MAX_POST_CHARS, parse_post
from service.pipeline.urls import extract_urls

_GROWTH = 4
_MAX_RATIO = 10.0  # linear: ~4 (plus allocation noise); quadratic: ~16

# Each hostile shape of the security probe: n -> a post holding n of it.
_SHAPES: dict[str, Callable[[int], str]] = {
    "gt_lines": lambda n: "intro line\n" + ">\n" * n + "> a quoted line with words\n",
    "urls": lambda n: "".join(f"word http://e{i}.example/x\n" for i in range(n // 4)),
    "quoted_urls": lambda n: "".join(f"> see https://example.com/{i} now\n" for i in range(n // 4)),
    "nested_q": lambda n: "<p>" + "<q>a " * n + "</q>" * n + "</p>",
    "open_quote_lines": lambda n: '"' + "a b c.\n" * n,
    "unmatched_closers": lambda n: "«" * n + "”" * n,
    "long_line": lambda n: "word " * (8 * n),
    "failed_url_run": lambda n: "http://-/(" * n,
    "trailing_entities": lambda n: "http://a.example/" + "&gt;" * n,
    "md_links": lambda n: "".join(f"[a](http://e{i}.example) b\n" for i in range(n // 4)),
    "html_links": lambda n: "".join(f'<p><a href="http://e{i}.example">x</a> y</p>' for i in range(n // 4)),
    "html_unclosed_tags": lambda n: "<p>x</p>" + "<a " * n,
    "html_unclosed_comments": lambda n: "<p>x</p>" + "<!--" * n,
    "nested_blockquotes": lambda n: "<blockquote>" * n + "some words here" + "</blockquote>" * n,
}
_N = 4000
_LONG = 1_000_000  # linearity is measured past the default cap: what an operator may set it to


@pytest.fixture(autouse=True)
def _heap_as_the_cli_has_it() -> Iterator[None]:
    """Measured as the commands run: what was alive before the post (here, whatever the earlier
    tests of this process left) frozen out of the collector's walks, as ``cli.freeze_startup_heap``
    does. Otherwise each collection walks the test run's heap, and after the pool tests a 16,000
    link post took 2.35 s of CPU instead of 1.4 to 1.9."""
    gc.collect()
    gc.freeze()
    yield
    gc.unfreeze()


def _best_of_three(text: str, fmt: InputFormat) -> float:
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        parse_post(text, fmt, max_chars=_LONG)
        best = min(best, time.process_time() - start)
    return best


def _ratio(make: Callable[[int], str], n: int, fmt: InputFormat = InputFormat.AUTO) -> float:
    small, large = make(n), make(_GROWTH * n)
    assert len(large) <= _LONG
    return _best_of_three(large, fmt) / max(_best_of_three(small, fmt), 1e-4)


@pytest.mark.parametrize("shape", sorted(_SHAPES))
def test_reading_a_hostile_post_grows_linearly(shape: str) -> None:
    """Four times the hostile content takes about four times as long, never sixteen."""
    assert _ratio(_SHAPES[shape], _N) < _MAX_RATIO


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    unit=st.lists(
        st.sampled_from(['"', "“", "”", "«", "»", ">", "\n", " ", "(", ")", "http://", "www.", "a.b/", "<q>",
                         "</q>", "<a ", "-", ".", "&gt;", "word"]),
        min_size=1, max_size=6,
    ).map("".join),
    fmt=st.sampled_from(list(InputFormat)),
)  # fmt: skip
def test_any_repeated_unit_grows_linearly(unit: str, fmt: InputFormat) -> None:
    """A post made of one small unit repeated (the shape of every known blow-up) reads in time
    linear in its length, in every input format."""
    repeats = 40_000 // len(unit)
    assert _ratio(lambda n: unit * n, repeats // _GROWTH, fmt) < _MAX_RATIO


@pytest.mark.parametrize(
    "text",
    [">\n" * 160_000, "".join(f"> see https://example.com/{i}\n" for i in range(16_000)),
     "<p>" + "<q>a " * 16_000 + "</q>" * 16_000 + "</p>"],
    ids=["160k_gt_lines", "16k_urls", "16k_nested_q"],
)  # fmt: skip
def test_the_probes_posts_read_in_under_five_seconds(text: str) -> None:
    """The security probe's posts (70 s, 39 s and 12 s before) each read in under 5 s of CPU when
    the cap is raised to let them in (at the default cap, 100,000 characters, they are refused).
    The 16,000 quoted URLs took 0.6 s in an earlier session and 1.4 to 2.6 s on 2026-12-03, the
    same code on a slower day of this shared machine: the bound catches the blow-ups, the ratios
    above catch a worse-than-linear read."""
    start = time.process_time()
    parse_post(text, max_chars=_LONG)
    assert time.process_time() - start < 5.0


def test_a_post_over_the_cap_is_refused_with_a_clear_error() -> None:
    """Past the cap (100,000 characters by default, or the caller's) a post is refused before it
    is read, and the error says so."""
    with pytest.raises(InputError, match=r"longer than 100,000 characters \(100,001\)"):
        parse_post("a" * (MAX_POST_CHARS + 1))
    with pytest.raises(InputError, match=r"longer than 10 characters \(11\)"):
        parse_post("a" * 11, max_chars=10)


# ---------------------------------------------------------------- fuzz targets

_PIECES = st.sampled_from(
    ['"', "“", "”", "„", "«", "»", "‘", "’", ">", "> ", "\n", "\n\n", " ", "(", ")", "[", "]", "http://",
     "https://", "www.", "example.com", "/", "?", "&amp;", "<q>", "</q>", "<p>", "</p>", "<blockquote>",
     "</blockquote>", '<a href="', '">', "</a>", "<!--", "-->", "<", "&#", ";", "\\", "\ud800", "\u0085",
     "\x00", "①", "ⓔ", "。", "xn--", "@", ":80", "#", "--", "```", "# ", "* ", "[a](", "word", "Moscow’s"]
)  # fmt: skip
_POSTS = st.one_of(st.text(max_size=300), st.lists(_PIECES | st.text(max_size=5), max_size=80).map("".join))


@settings(max_examples=400, deadline=None)
@given(text=_POSTS, fmt=st.sampled_from(list(InputFormat)))
def test_the_post_reader_never_raises_and_every_span_is_inside_the_post(text: str, fmt: InputFormat) -> None:
    """Any text, in any format: a post comes back (no exception escapes), every passage's span
    and every citation's span lies inside the post, and a citation's span holds its URL."""
    post = parse_post(text, fmt)
    for passage in post.passages:
        for span in (passage.span, *(part.span for part in passage.parts)):
            assert 0 <= span[0] <= span[1] <= len(text)
    for citation in post.citations:
        assert text[citation.span[0] : citation.span[1]] == citation.url


@settings(max_examples=400, deadline=None)
@given(text=_POSTS)
def test_the_url_finder_never_raises_and_finds_urls_where_they_stand(text: str) -> None:
    """Every URL found is the text at its span, in order and without overlap."""
    end = 0
    for found in extract_urls(text):
        assert end <= found.span[0] < found.span[1] <= len(text)
        assert text[found.span[0] : found.span[1]] == found.url
        end = found.span[1]
