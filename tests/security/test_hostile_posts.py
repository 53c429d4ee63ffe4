"""The hostile-post battery: posts built to blow up the reader, filling the default cap
(``MAX_POST_CHARS``, 100,000 characters), are read in under 5 s of CPU in every input format; a
longer post is refused with a clear error at every entry (the reader, batch lines and API bodies,
the CLI); and a post citing 16,000 URLs is verified without holding the event loop, its links past
the limit reported ``too_many_links``.

``tests/pipeline/posts/test_complexity.py`` proves reading linear for each shape (up to
1,000,000 characters, for an operator who raises the cap) and reads the probe's three posts.
"""

from __future__ import annotations

import asyncio
import gc
import random
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from service.cli import freeze_startup_heap
from service.pipeline.errors import InputError
from service.pipeline.models import InputFormat
from service.pipeline.posts.input import post_from_mapping
from service.pipeline.posts.reader import MAX_POST_CHARS, parse_post
from service.pipeline.verify import verify_post
from service.settings import PostSettings
from tests.fakes.origin import StaticResolver
from tests.security.conftest import audited, heartbeat
from tests.security.harness import SETTINGS, deps_with

ROOT = Path(__file__).resolve().parents[2]


def _fill(unit: str, head: str = "", tail: str = "") -> str:
    """``unit`` repeated to fill the post up to the cap between ``head`` and ``tail``."""
    room = MAX_POST_CHARS - len(head) - len(tail)
    return head + unit * (room // len(unit)) + tail


_BOUND_S = 5.0

# name -> a post at the default cap. The slowest shapes are many short lines, each a block of
# its own: measured on this 2-core machine shared with other test runs (CPU s, the slowest
# format): short quotations 0.7-0.8, a four-word sentence per line 0.6-0.8, random characters per
# line 0.6-0.8, one-word paragraphs 0.5; the shapes that took 1.6-3.2 s at the old 1,000,000 cap
# take 0.1-0.4 s here.
HOSTILE_POSTS: dict[str, Callable[[], str]] = {
    "gt_lines": lambda: _fill(">\n", "intro line\n", "> a quoted line with words\n"),
    "quoted_urls": lambda: _fill("> see https://example.com/1\n"),
    "urls_on_one_line": lambda: _fill("http://e.example/a "),
    "nested_q": lambda: _fill("<q>a ", "<p>", "</p>"),
    "nested_links": lambda: '<a href="http://e.example/">' * 3_000 + "x" + "</a>" * 3_000,
    "nested_quotation_marks": lambda: _fill("“a ‘b «c „d "),
    "unclosed_quotation_marks": lambda: _fill('"a b c.\n'),
    "nested_blockquotes": lambda: _fill("<blockquote>", tail="some words here"),
    "deep_markdown_quote": lambda: _fill(">", tail=" some quoted words here\n"),
    "one_long_line": lambda: _fill("word "),
    "one_long_quoted_line": lambda: _fill("word ", '"', '"'),
    "one_token": lambda: "x" * MAX_POST_CHARS,
    "one_word_paragraphs": lambda: _fill("a\n\n"),
    "one_sentence_lines": lambda: _fill("a.\n"),
    "four_word_sentence_lines": lambda: _fill("a b c d.\n"),
    "short_quotations": lambda: _fill('"a b c"\n\n'),
    "random_lines": lambda: _random_lines(""),
    "random_quoted_lines": lambda: _random_lines(">"),
    "blank_lines": lambda: "\n" * MAX_POST_CHARS,
}


def _random_lines(head: str) -> str:
    """Lines of one random character each (after ``head``): no two blocks read alike."""
    rnd = random.Random(13)
    marks = 'abcxyz.,!?"“”-—:>#*019 '
    lines = "".join(f"{head}{rnd.choice(marks)}\n" for _ in range(MAX_POST_CHARS // (len(head) + 2)))
    return lines[:MAX_POST_CHARS]


FORMATS = [InputFormat.AUTO, InputFormat.TEXT, InputFormat.MARKDOWN, InputFormat.HTML]


def _cpu_to_read(text: str, fmt: InputFormat) -> float:
    assert len(text) <= MAX_POST_CHARS
    started = time.process_time()
    parse_post(text, fmt)
    return time.process_time() - started


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.value)
@pytest.mark.parametrize("name", sorted(HOSTILE_POSTS))
def test_a_hostile_post_at_the_cap_is_read_in_under_five_seconds_in_every_format(
    name: str, fmt: InputFormat
) -> None:
    """Every shape, filling the default cap, is read in under 5 s of CPU in every format. The
    slowest measured 0.8 s in an earlier session and 2.05 s on 2026-12-03, when this shared
    machine ran every CPU-bound read 2.5 to 3 times slower (``test_complexity``'s ratios are the
    guard against a worse-than-linear read; this bound catches a blow-up of tens of seconds)."""
    assert _cpu_to_read(HOSTILE_POSTS[name](), fmt) < _BOUND_S


OVER = "a" * (MAX_POST_CHARS + 1)
MESSAGE = r"post is longer than 100,000 characters \(100,001\)"


def test_a_post_over_the_cap_is_refused_with_a_clear_error_by_the_reader_and_the_line_reader() -> None:
    """One character over the cap: the reader (every format) and the batch/API line reader refuse
    it before reading, saying how long it is."""
    for fmt in FORMATS:
        with pytest.raises(InputError, match=MESSAGE):
            parse_post(OVER, fmt)
    with pytest.raises(InputError, match=MESSAGE):
        post_from_mapping({"text": OVER})


async def test_a_post_over_the_cap_is_refused_by_the_cli() -> None:
    """``provenance verify`` exits 2 with the reason on stderr and nothing on stdout."""
    with tempfile.TemporaryDirectory() as data:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "service", "verify", "-", "--format", "json", "--archive", "none",
            "--data-dir", data, cwd=ROOT, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(proc.communicate(OVER.encode()), 120)
    assert proc.returncode == 2
    assert out == b""
    assert "post is longer than 100,000 characters (100,001)" in err.decode()


@pytest.mark.parametrize("max_links", [1_000, 16_000], ids=["default_limit", "raised_limit"])
async def test_a_post_citing_16000_urls_is_verified_without_holding_the_loop(max_links: int) -> None:
    """16,000 cited links, all private (refused before any I/O): every one is a source, those within
    the link limit (1,000 by default; raised here to all of them too) refused, the rest
    ``error``/``too_many_links``; nothing is dialled or looked up, and the loop keeps ticking. All
    read at once they held it for 4.5 s of CPU in one stretch; read 64 at a time, yielding between
    reads, what is left are the interpreter's full garbage collections, which walk every live
    object. The commands freeze their start-up heap (``freeze_startup_heap``) and so does this test:
    without it, a full collection here also walks the test runner's own heap (held 264 ms in CI; ~20
    ms frozen), which no user's process has. Frozen, the loop stays under the issue's 100 ms."""
    text = "".join(f"> see https://127.0.0.{i % 250 + 1}:{8000 + i % 1000}/{i}\n" for i in range(16_000))
    post = parse_post(text, max_chars=len(text))
    assert len(post.citations) == 16_000
    settings = replace(SETTINGS, post=PostSettings(max_links=max_links))
    resolver = StaticResolver({})
    with audited() as audit:
        async with deps_with(resolver, settings) as deps:
            freeze_startup_heap()
            try:
                async with heartbeat() as beat:
                    started = time.monotonic()
                    report = await verify_post(post, deps=deps)
                    elapsed = time.monotonic() - started
            finally:
                gc.unfreeze()
    print(f"16k urls, {max_links} read: {elapsed:.1f} s; loop {beat}")  # shown with -s, for README figures
    outcomes = [(s.status.value, s.reason) for s in report.sources]
    assert outcomes == [("refused", "private_address")] * max_links + [("error", "too_many_links")] * (
        16_000 - max_links
    )
    assert [s.url for s in report.sources] == [c.url for c in post.citations]
    assert audit.events == []
    assert resolver.asked == []
    assert beat.held < 0.1, str(beat)
    assert elapsed < 60
