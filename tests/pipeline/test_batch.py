"""Batches: input order kept, bad lines become error reports, the batch goes on."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.pipeline.batch import parse_posted_at, post_from_mapping, read_line, run_batch
from service.pipeline.deps import Deps
from service.pipeline.errors import InputError
from service.pipeline.models import InputFormat, Post, Report
from service.settings import HttpSettings, Settings
from tests.fakes.sources import FakeFetcher, TextExtractor

NO_PROBE = Settings(http=HttpSettings(probe_soft_404=False))  # fetch counts without the soft-404 probe
URL = "https://news.example/a"
PAGE = "The harbour reopened on Monday after three days of storms, the port authority said in a statement."


def test_posted_at_parsing() -> None:
    """Z, offsets and naive times are accepted (naive means UTC); nonsense is an InputError."""
    assert parse_posted_at("2023-12-10T14:23:38Z").utcoffset() is not None
    assert parse_posted_at("2023-12-10T16:23:38+02:00").hour == 16
    assert parse_posted_at("2023-12-10").tzinfo is not None
    with pytest.raises(InputError):
        parse_posted_at("yesterday")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, '"text" must be a string'),
        ({"text": 5}, '"text" must be a string'),
        ({"text": "x", "format": "pdf"}, "unknown input format"),
        ({"text": "x", "posted_at": 12}, "posted_at"),
        ({"text": "x", "posted_at": "not a date"}, "ISO-8601"),
        ({"text": "x", "id": ["a"]}, '"id"'),
    ],
)
def test_bad_mappings_say_what_is_wrong(data: dict[str, object], message: str) -> None:
    """Every malformed field is an InputError naming the problem."""
    with pytest.raises(InputError, match=message):
        post_from_mapping(data)


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
