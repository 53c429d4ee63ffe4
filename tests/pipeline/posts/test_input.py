"""A post as callers hand it over (service/pipeline/posts/input.py): a JSON object, a format name,
a date; every problem an InputError that says which field is wrong."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.pipeline.errors import InputError
from service.pipeline.models import InputFormat, SourceReason
from service.pipeline.posts import MAX_POST_CHARS, parse_format, parse_posted_at, post_from_mapping

URL = "https://news.example/a"


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


# ---------------------------------------------------------------- dates


@pytest.mark.parametrize(
    ("value", "expected"),
    [("2023-12-10T14:23:38Z", datetime(2023, 12, 10, 14, 23, 38, tzinfo=UTC)),
     ("2023-12-10t14:23:38z", datetime(2023, 12, 10, 14, 23, 38, tzinfo=UTC)),
     (" 2023-12-10T16:23:38+02:00\n", datetime(2023, 12, 10, 14, 23, 38, tzinfo=UTC)),
     ("2023-12-10T14:23:38", datetime(2023, 12, 10, 14, 23, 38, tzinfo=UTC)),
     ("2023-12-10", datetime(2023, 12, 10, tzinfo=UTC))],
)  # fmt: skip
def test_posted_at_is_the_moment_written(value: str, expected: datetime) -> None:
    """Each spelling is the same instant: Z in either case, an offset, or no zone read as UTC."""
    assert parse_posted_at(value) == expected


def test_posted_at_keeps_its_offset() -> None:
    """An offset is kept as written, not converted."""
    assert parse_posted_at("2023-12-10T16:23:38+02:00").utcoffset() == timedelta(hours=2)


@pytest.mark.parametrize("value", ["", "   ", "2023-13-01", "10/12/2023", "2023-12-10T25:00:00Z"])
def test_impossible_dates_are_input_errors(value: str) -> None:
    """A date that is no ISO-8601 moment is bad input, its message quoting what was given."""
    with pytest.raises(InputError, match="posted_at is not an ISO-8601 date") as caught:
        parse_posted_at(value)
    assert repr(value) in str(caught.value)
    assert caught.value.reason is SourceReason.BAD_INPUT


@given(st.text(max_size=40))
def test_posted_at_is_aware_or_an_input_error(value: str) -> None:
    """Whatever the string: a timezone-aware moment, or an InputError (never another exception)."""
    try:
        moment = parse_posted_at(value)
    except InputError:
        return
    assert moment.tzinfo is not None


# ---------------------------------------------------------------- formats


@pytest.mark.parametrize("fmt", list(InputFormat))
def test_every_format_name_parses_to_its_format(fmt: InputFormat) -> None:
    """Each InputFormat's name is accepted and gives that format."""
    assert parse_format(fmt.value) is fmt


@pytest.mark.parametrize("name", ["pdf", "HTML", " text", "", "md"])
def test_an_unknown_format_names_the_choices(name: str) -> None:
    """An unknown name (names are exact: no case folding, no blanks, no abbreviations) is an
    InputError quoting it and listing every format there is."""
    with pytest.raises(InputError) as caught:
        parse_format(name)
    message = str(caught.value)
    assert repr(name) in message
    assert "choose from auto, text, markdown, html" in message
    assert all(f.value in message for f in InputFormat)


# ---------------------------------------------------------------- mappings


def test_a_full_mapping_makes_a_post() -> None:
    """id, text, format and posted_at are all taken; an integer id becomes a string."""
    text = f"Some words here.\n\n{URL}\n"
    post = post_from_mapping({"id": 17, "text": text, "format": "text", "posted_at": "2023-12-10T14:23:38Z"})
    assert (post.id, post.format, post.text) == ("17", InputFormat.TEXT, text)
    assert post.posted_at == datetime(2023, 12, 10, 14, 23, 38, tzinfo=UTC)
    assert [c.url for c in post.citations] == [URL]


@pytest.mark.parametrize("fmt", ["absent", "", None])
def test_a_missing_format_is_the_default_one(fmt: str | None) -> None:
    """No format (absent, empty or null): the caller's default, not auto-detection."""
    data: dict[str, object] = {"text": "<p>Some words.</p>"}
    if fmt != "absent":
        data["format"] = fmt
    assert post_from_mapping(data, default_format=InputFormat.TEXT).format is InputFormat.TEXT
    assert post_from_mapping(data).format is InputFormat.HTML  # the default default is auto


def test_optional_fields_may_be_absent_or_null() -> None:
    """Without id and posted_at (or with them null) the post has none."""
    for data in ({"text": "x"}, {"text": "x", "id": None, "posted_at": None}):
        post = post_from_mapping(data)
        assert (post.id, post.posted_at) == (None, None)


def test_post_length_limit() -> None:
    """A post of MAX_POST_CHARS characters (the default cap) is read; one character more is
    refused as bad input; a caller's own cap (``PostSettings.max_chars``) moves the line."""
    assert MAX_POST_CHARS == 100_000
    assert len(post_from_mapping({"text": " " * MAX_POST_CHARS}).text) == MAX_POST_CHARS
    with pytest.raises(InputError, match=f"longer than {MAX_POST_CHARS:,} characters"):
        post_from_mapping({"text": " " * (MAX_POST_CHARS + 1)})
    assert len(post_from_mapping({"text": " " * 200_000}, max_chars=200_000).text) == 200_000
    with pytest.raises(InputError, match=r"longer than 5 characters \(6\)"):
        post_from_mapping({"text": "abcdef"}, max_chars=5)


_VALUES = st.one_of(st.none(), st.integers(), st.text(max_size=30), st.lists(st.integers()))


@given(st.dictionaries(st.sampled_from(["id", "text", "format", "posted_at", "other"]), _VALUES))
def test_any_mapping_is_a_post_or_an_input_error(data: dict[str, object]) -> None:
    """Whatever a JSON object holds, reading it gives its post or an InputError, never another error."""
    try:
        post = post_from_mapping(data)
    except InputError:
        return
    assert post.text == data["text"]
