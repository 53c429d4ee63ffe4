"""Batches: input order kept, bad lines become error reports, the batch goes on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from structlog.testing import capture_logs

from service.pipeline.batch import read_line, run_batch
from service.pipeline.deps import Deps
from service.pipeline.models import Extraction, InputFormat, Post, Report
from service.settings import HttpSettings, Settings
from tests.fakes.sources import FakeFetcher, TextExtractor

NO_PROBE = Settings(http=HttpSettings(probe_soft_404=False))  # fetch counts without the soft-404 probe
URL = "https://news.example/a"
PAGE = "The harbour reopened on Monday after three days of storms, the port authority said in a statement."


def test_read_line_turns_garbage_into_error_reports() -> None:
    """Non-JSON and non-object lines become error reports; a good line becomes a post."""
    bad = read_line("{nope", 3, default_format=InputFormat.AUTO)
    assert isinstance(bad, Report)
    assert bad.error is not None
    assert "line 3" in bad.error.message
    arr = read_line("[1, 2]", 4, default_format=InputFormat.AUTO)
    assert isinstance(arr, Report)
    assert arr.error is not None
    assert arr.error.code == "bad_json"
    keeps_id = read_line('{"id": "p9", "text": 1}', 5, default_format=InputFormat.AUTO)
    assert isinstance(keeps_id, Report)
    assert keeps_id.id == "p9"
    good = read_line(json.dumps({"id": "p1", "text": "hello " + URL}), 1, default_format=InputFormat.AUTO)
    assert isinstance(good, Post)
    assert good.id == "p1"


_LINES = st.one_of(
    st.text(max_size=200),
    st.fixed_dictionaries(
        {"text": st.text(max_size=80) | st.integers()},
        optional={
            "id": st.text(max_size=10) | st.integers(),
            "format": st.sampled_from(["text", "markdown", "html", "auto", "docx"]),
            "posted_at": st.sampled_from(["2023-12-10T14:23:38Z", "2023-12-10", "soon"]),
        },
    ).map(json.dumps),
)


@given(_LINES)
def test_read_line_never_raises(line: str) -> None:
    """Whatever a line holds, reading it gives a post or an error report, never an exception; an
    error report says what was wrong with which line, a post has the text the line gave."""
    item = read_line(line, 1, default_format=InputFormat.AUTO)
    if isinstance(item, Report):
        assert item.error is not None
        assert item.error.code in {"bad_json", "bad_input"}
        assert item.error.message.startswith("line 1: ")
    else:
        data = json.loads(line)
        assert item.text == data["text"]
        assert item.id == (str(data["id"]) if "id" in data else None)


async def test_batch_keeps_order_and_goes_on_after_bad_lines() -> None:
    """Reports come out in input order, one per non-blank line, errors included."""
    lines = []
    for i in range(30):
        if i % 7 == 3:
            lines.append("this is not json\n")
        else:
            lines.append(json.dumps({"id": f"p{i}", "text": f"{PAGE}\n\n{URL}\n"}) + "\n")
    lines.insert(5, "\n")
    out: list[str] = []
    fetcher = FakeFetcher({URL: PAGE})
    deps = Deps(settings=NO_PROBE, fetcher=fetcher, extractor=TextExtractor())
    summary = await run_batch(lines, out.append, deps=deps, concurrency=4)
    reports = [json.loads(line) for line in out]
    assert summary.posts == 30
    assert summary.errors == 4
    assert [r["id"] for r in reports if r["error"] is None] == [f"p{i}" for i in range(30) if i % 7 != 3]
    assert [i for i, r in enumerate(reports) if r["error"]] == [3, 10, 17, 24]
    assert all(r["verdict"] == "verified" for r in reports if r["error"] is None)
    assert fetcher.calls == [URL]


async def test_batch_announces_every_post_through_events() -> None:
    """One post_finished event per report, bad lines included: what the progress bar counts."""
    from service.pipeline.models import EventKind, ProgressEvent

    events: list[ProgressEvent] = []
    lines = [
        json.dumps({"id": "a", "text": f"{PAGE}\n\n{URL}\n"}),
        "garbage",
        json.dumps({"id": "c", "text": 3}),
    ]
    deps = Deps(
        settings=Settings(), fetcher=FakeFetcher({URL: PAGE}), extractor=TextExtractor(), events=events.append
    )
    out: list[str] = []
    await run_batch(lines, out.append, deps=deps)
    finished = [e for e in events if e.kind is EventKind.POST_FINISHED]
    assert [e.post_id for e in finished] == ["a", None, "c"]
    assert [e.data.get("error") for e in finished] == [None, "bad_json", "bad_input"]
    assert any(e.kind is EventKind.SOURCE_READ for e in events)


BUGGY = "https://news.example/buggy"


class BuggyExtractor(TextExtractor):
    """Extracts every page but one, on which it has a bug (not an ExtractionError)."""

    async def extract(
        self, body: bytes, *, url: str, content_type: str | None = None, digest: str | None = None
    ) -> Extraction:
        if url == BUGGY:
            raise ZeroDivisionError("division by zero")
        return await super().extract(body, url=url, content_type=content_type, digest=digest)


async def test_post_that_fails_unexpectedly_is_an_error_report_and_logged() -> None:
    """A bug while verifying one post makes that post an ``internal_error`` report, logs a
    ``post_failed`` error with the post's id and the traceback, and the batch goes on."""
    lines = [
        json.dumps({"id": "bad", "text": f"{PAGE}\n\n{BUGGY}\n"}),
        json.dumps({"id": "good", "text": f"{PAGE}\n\n{URL}\n"}),
    ]
    deps = Deps(settings=NO_PROBE, fetcher=FakeFetcher({URL: PAGE, BUGGY: PAGE}), extractor=BuggyExtractor())
    out: list[str] = []
    with capture_logs() as logs:
        summary = await run_batch(lines, out.append, deps=deps)
    reports = [json.loads(line) for line in out]
    assert [(r["id"], r["error"]) for r in reports] == [
        ("bad", {"code": "internal_error", "message": "ZeroDivisionError: division by zero"}),
        ("good", None),
    ]
    assert reports[1]["verdict"] == "verified"
    assert (summary.posts, summary.errors) == (2, 1)
    assert [e for e in logs if e["event"] == "post_failed"] == [
        {"event": "post_failed", "log_level": "error", "post_id": "bad", "exc_info": True}
    ]


async def test_a_cancelled_batch_leaves_nothing_running() -> None:
    """Cancelling a batch (a job's timeout, a shutdown) cancels every post it started: no fetch of
    it goes on unseen."""
    import asyncio

    from service.pipeline.models import FetchResult

    started: list[str] = []
    hanging: list[asyncio.Task[object]] = []

    class HangingFetcher(FakeFetcher):
        async def fetch(self, url: str) -> FetchResult:
            started.append(url)
            task = asyncio.current_task()
            assert task is not None
            hanging.append(task)
            await asyncio.Event().wait()
            raise AssertionError("never answered")

    lines = [json.dumps({"id": str(i), "text": f"see https://news.example/{i}"}) for i in range(6)]
    deps = Deps(settings=NO_PROBE, fetcher=HangingFetcher({}), extractor=TextExtractor())
    batch = asyncio.create_task(run_batch(lines, lambda _line: None, deps=deps, concurrency=3))
    for _ in range(500):  # lines are read in a thread: give it real time, not loop turns
        await asyncio.sleep(0.01)
        if len(started) >= 3:
            break
    assert len(started) == 3
    batch.cancel()
    await asyncio.gather(batch, return_exceptions=True)
    await asyncio.sleep(0)
    assert all(task.done() for task in hanging)


async def test_lone_surrogates_anywhere_in_a_line_never_crash_the_batch(tmp_path: Path) -> None:
    """A ``\\ud800`` escape in a quote, an id or a URL: every line gets its report, and the output
    file is valid UTF-8 JSON lines (ASCII-escaped where a surrogate must be spelt)."""
    lines = [
        json.dumps({"id": "quote", "text": f'"words \ud800 in a quote here"\n\n{URL}\n'}),
        json.dumps({"id": "id-\udfff", "text": f"{PAGE}\n\n{URL}\n"}),
        json.dumps({"id": "url", "text": f"{PAGE}\n\nhttps://example.com/\ud800/x\n"}),
        json.dumps({"id": "ok", "text": f"{PAGE}\n\n{URL}\n"}),
    ]
    out = tmp_path / "out.jsonl"
    deps = Deps(settings=NO_PROBE, fetcher=FakeFetcher({URL: PAGE}), extractor=TextExtractor())
    with out.open("w", encoding="utf-8") as handle:
        summary = await run_batch([line.encode() + b"\n" for line in lines], handle.write, deps=deps)
    reports = [json.loads(line) for line in out.read_bytes().decode("utf-8").splitlines()]
    assert summary.posts == 4
    assert [r["id"] for r in reports] == ["quote", "id-\udfff", "url", "ok"]
    assert reports[-1]["verdict"] == "verified"


async def test_short_lines_are_read_on_the_loop_and_long_ones_in_a_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A line up to ``INLINE_LINE_BYTES`` is read where it is (a thread hand-off costs more than
    reading it); a longer one, which may hold the reader for long, is read in a thread. Both
    come out as the same reports, in order."""
    import threading

    from service.pipeline import batch

    seen: list[tuple[int, bool]] = []
    real = batch.read_line

    def spy(line: str | bytes, lineno: int, *, default_format: InputFormat, max_chars: int) -> Post | Report:
        seen.append((len(line), threading.current_thread() is threading.main_thread()))
        return real(line, lineno, default_format=default_format, max_chars=max_chars)

    short = json.dumps({"id": "short", "text": f"{PAGE}\n\n{URL}\n"}) + "\n"
    long = json.dumps({"id": "long", "text": f"{PAGE}\n\n{URL}\n" + "x " * batch.INLINE_LINE_BYTES}) + "\n"
    assert len(short) <= batch.INLINE_LINE_BYTES < len(long)
    out: list[str] = []
    deps = Deps(settings=NO_PROBE, fetcher=FakeFetcher({URL: PAGE}), extractor=TextExtractor())
    monkeypatch.setattr(batch, "read_line", spy)
    await run_batch([short, long], out.append, deps=deps, concurrency=2)
    assert seen == [(len(short), True), (len(long), False)]
    assert [json.loads(line)["id"] for line in out] == ["short", "long"]
