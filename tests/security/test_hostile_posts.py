"""The hostile-post battery: posts built to blow up the reader are read in under 2 s of CPU in
every input format, or refused by the size cap (``MAX_POST_CHARS``) with a clear error at every
entry (the reader, batch lines and API bodies, the CLI); and a post citing 16,000 URLs is verified
without holding the event loop.

``tests/pipeline/posts/test_complexity.py`` already proves reading linear for each shape and reads
the three probe posts in automatic format; this adds every explicit format, shapes at the full
cap, and the verify step.
"""

from __future__ import annotations

import asyncio
import gc
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from service.cli import freeze_startup_heap
from service.pipeline.errors import InputError
from service.pipeline.models import InputFormat
from service.pipeline.posts.input import post_from_mapping
from service.pipeline.posts.reader import MAX_POST_CHARS, parse_post
from service.pipeline.verify import verify_post
from tests.fakes.origin import StaticResolver
from tests.security.conftest import audited, heartbeat
from tests.security.harness import deps_with

ROOT = Path(__file__).resolve().parents[2]


def _fill(unit: str, head: str = "", tail: str = "") -> str:
    """``unit`` repeated to fill the post up to the cap between ``head`` and ``tail``."""
    room = MAX_POST_CHARS - len(head) - len(tail)
    return head + unit * (room // len(unit)) + tail


# name -> the post: the shapes, and those that stay fast up to the full cap
HOSTILE_POSTS: dict[str, Callable[[], str]] = {
    "160k_gt_lines": lambda: ">\n" * 160_000,
    "16k_urls": lambda: "".join(f"> see https://example.com/{i}\n" for i in range(16_000)),
    "16k_nested_q": lambda: "<p>" + "<q>a " * 16_000 + "</q>" * 16_000 + "</p>",
    "16k_nested_quotation_marks": lambda: "“a ‘b «c „d " * 16_000 + "” ’ » “" * 16_000,
    "16k_unclosed_quotation_marks": lambda: '"a b c.\n' * 16_000,
    "16k_nested_blockquotes": lambda: "<blockquote>" * 16_000 + "some words here" + "</blockquote>" * 16_000,
    "nested_quotation_marks_at_cap": lambda: _fill("“a ‘b «c „d "),
    "nested_blockquotes_at_cap": lambda: _fill("<blockquote>"),
    "deep_markdown_quote_at_cap": lambda: _fill(">", tail=" some quoted words here\n"),
    "one_long_line_at_cap": lambda: _fill("word "),
    "one_long_quoted_line_at_cap": lambda: _fill("word ", '"', '"'),
    "one_token_at_cap": lambda: "x" * MAX_POST_CHARS,
}
# Shapes that, at the full cap, take more than the 2 s target (measured on this 2-core machine,
# CPU s in auto/text/markdown/html): 500,000 ">" lines 2.5/2.6/2.6/1.2; 52,000 URLs on one line
# 2.7/2.6/2.6/3.2; 125,000 unclosed-quote lines 2.0/1.9/3.1/1.0; 200,000 nested <q> 1.6/0.6/0.6/1.5;
# 16,000 nested links 0.4/1.6/1.7/0.4. Reading stays linear (test_complexity.py), so these are
# bounded at 6 s; meeting 2 s needs a cap near 400,000 characters or a faster line classifier
# (README "Hardening").
SLOW_AT_CAP: dict[str, Callable[[], str]] = {
    "gt_lines_at_cap": lambda: _fill(">\n", "intro line\n", "> a quoted line with words\n"),
    "urls_at_cap": lambda: _fill("http://e.example/a "),
    "unclosed_quotation_marks_at_cap": lambda: _fill('"a b c.\n'),
    "nested_q_at_cap": lambda: _fill("<q>a ", "<p>", "</p>"),
    "16k_nested_links": lambda: '<a href="http://e.example/">' * 16_000 + "x" + "</a>" * 16_000,
}
FORMATS = [InputFormat.AUTO, InputFormat.TEXT, InputFormat.MARKDOWN, InputFormat.HTML]


def _cpu_to_read(text: str, fmt: InputFormat) -> float:
    assert len(text) <= MAX_POST_CHARS
    started = time.process_time()
    parse_post(text, fmt)
    return time.process_time() - started


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.value)
@pytest.mark.parametrize("name", sorted(HOSTILE_POSTS))
def test_a_hostile_post_is_read_in_under_two_seconds_in_every_format(name: str, fmt: InputFormat) -> None:
    """The issue's hostile posts, and the shapes that stay fast up to the full 1,000,000
    characters, are each read in under 2 s of CPU in every input format."""
    assert _cpu_to_read(HOSTILE_POSTS[name](), fmt) < 2.0


@pytest.mark.parametrize("name", sorted(SLOW_AT_CAP))
def test_the_slowest_shapes_at_the_cap_stay_bounded(name: str) -> None:
    """At the full cap some shapes miss the 2 s target (see SLOW_AT_CAP); each is still read in
    under 6 s of CPU (automatic format, what the CLI and the API use unless told; the figures
    above cover the others)."""
    assert _cpu_to_read(SLOW_AT_CAP[name](), InputFormat.AUTO) < 6.0


OVER = "a" * (MAX_POST_CHARS + 1)
MESSAGE = r"post is longer than 1,000,000 characters \(1,000,001\)"


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
    assert "post is longer than 1,000,000 characters (1,000,001)" in err.decode()


async def test_a_post_citing_16000_urls_is_verified_without_holding_the_loop() -> None:
    """16,000 cited links, all private (refused before any I/O): every source is refused, nothing
    is dialled or looked up, and the loop keeps ticking. All read at once they held it for 4.5 s
    of CPU in one stretch; read 64 at a time, yielding between reads, what is left are the
    interpreter's full garbage collections, which walk every live object. The commands freeze
    their start-up heap (``freeze_startup_heap``) and so does this test: without it, a full
    collection here also walks the test runner's own heap (held 264 ms in CI; ~20 ms frozen),
    which no user's process has. Frozen, the loop stays under the issue's 100 ms."""
    text = "".join(f"> see https://127.0.0.{i % 250 + 1}:{8000 + i % 1000}/{i}\n" for i in range(16_000))
    post = parse_post(text)
    assert len(post.citations) == 16_000
    resolver = StaticResolver({})
    with audited() as audit:
        async with deps_with(resolver) as deps:
            freeze_startup_heap()
            try:
                async with heartbeat() as beat:
                    started = time.monotonic()
                    report = await verify_post(post, deps=deps)
                    elapsed = time.monotonic() - started
            finally:
                gc.unfreeze()
    print(f"16k urls: {elapsed:.1f} s; loop {beat}")  # shown with -s, for README figures
    assert {(s.status.value, s.reason) for s in report.sources} == {("refused", "private_address")}
    assert len(report.sources) == 16_000
    assert audit.events == []
    assert resolver.asked == []
    assert beat.held < 0.1, str(beat)
    assert elapsed < 60
