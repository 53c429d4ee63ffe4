"""Pure readers of Wayback answers: CDX rows, availability, SPN2 submit/status (errors inside HTTP 200)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.pipeline.errors import ArchiveError, WaybackUnavailable
from service.pipeline.evidence.spn_errors import (
    DAILY_CAPTURES,
    STATUS_EXT,
    Scope,
    SpnError,
    hold_seconds,
    rule_for,
)
from service.pipeline.evidence.wayback_parse import (
    Snapshot,
    SpnState,
    format_timestamp,
    latest_at_or_before,
    parse_availability,
    parse_cdx_rows,
    parse_retry_after,
    parse_spn_status,
    parse_spn_submit,
    parse_timestamp,
    parse_user_status,
    seconds_to_midnight,
    spn_error,
)
from tests.fakes.wayback import DOC_ERRORS

CDX_JSON = json.dumps(
    [
        ["urlkey", "timestamp", "original", "mimetype", "statuscode", "digest", "length"],
        ["com,example)/", "20200101000000", "https://example.com/", "text/html", "200",
         "HT2DYGA5UKZCPBSFVCV3JOBXGW2G5UUA", "1251"],
        ["com,example)/", "20210315120102", "https://example.com/", "warc/revisit", "-",
         "HT2DYGA5UKZCPBSFVCV3JOBXGW2G5UUA", "563"],
    ]
)  # fmt: skip
CDX_TEXT = (
    "com,example)/ 20200101000000 https://example.com/ text/html 200 HT2DYGA5UKZCPBSFVCV3JOBXGW2G5UUA 1251\n"
    "com,example)/ 20230704050607 http://example.com/ text/html 301 3I42H3S6NNFQ2MSVX7XZKYAYSCX5QBYJ 440\n"
)
CLOSEST = {
    "status": "200",
    "available": True,
    "url": "http://web.archive.org/web/20130919044612/http://example.com/",
    "timestamp": "20130919044612",
}
AVAILABLE = {"url": "example.com", "archived_snapshots": {"closest": CLOSEST}}


def test_cdx_json_rows_become_snapshots() -> None:
    """JSON CDX (row 0 = field names) gives UTC datetimes, ints, and None for '-' fields."""
    rows = parse_cdx_rows(CDX_JSON)
    assert rows[0] == Snapshot(
        datetime(2020, 1, 1, tzinfo=UTC), "https://example.com/", 200, "HT2DYGA5UKZCPBSFVCV3JOBXGW2G5UUA",
        "text/html", 1251,
    )  # fmt: skip
    assert rows[1].status is None
    assert rows[1].mime == "warc/revisit"
    assert rows[1].timestamp == datetime(2021, 3, 15, 12, 1, 2, tzinfo=UTC)


def test_cdx_plain_text_and_bytes() -> None:
    """Plain-text CDX (the 7 default fields), as str or bytes, reads the same."""
    rows = parse_cdx_rows(CDX_TEXT.encode())
    assert [(r.ts14, r.status, r.original) for r in rows] == [
        ("20200101000000", 200, "https://example.com/"),
        ("20230704050607", 301, "http://example.com/"),
    ]


def test_cdx_header_order_is_honoured() -> None:
    """A custom ``fl=`` order is read from the header row, not assumed."""
    data = [["original", "timestamp", "statuscode"], ["http://a.test/", "20240229235959", "404"]]
    (row,) = parse_cdx_rows(data)
    assert (row.original, row.status, row.timestamp.day) == ("http://a.test/", 404, 29)
    assert row.digest is None


@pytest.mark.parametrize("empty", ["", "   \n", "[]", b"[]", []])
def test_cdx_empty_answers(empty: str | bytes | list[object]) -> None:
    """No captures is an empty list whatever the shape of the empty answer."""
    assert parse_cdx_rows(empty) == []


def test_cdx_bad_rows_are_skipped() -> None:
    """Short rows and bad timestamps are dropped, the rest kept."""
    data = [
        ["urlkey", "timestamp", "original", "mimetype", "statuscode", "digest", "length"],
        ["k", "2020", "http://a/", "text/html", "200", "D", "1"],
        ["k", "20201301000000", "http://a/", "text/html", "200", "D", "1"],
        ["k", "20200101000000"],
        ["k", "20200101000000", "http://a/", "text/html", "200", "D", "1"],
    ]
    assert [r.ts14 for r in parse_cdx_rows(data)] == ["20200101000000"]


@pytest.mark.parametrize("bad", ["[not json", '{"a": 1}', '[["x", "y"], ["1", "2"]]', "[[1, 2]]"])
def test_cdx_garbage_is_an_archive_error(bad: str) -> None:
    """Unreadable or header-less JSON raises ArchiveError, never a bare ValueError/KeyError."""
    with pytest.raises(ArchiveError):
        parse_cdx_rows(bad)


@given(st.text(max_size=300))
def test_cdx_never_raises_anything_but_archive_error(text: str) -> None:
    """Whatever the server sends, the parser returns snapshots or raises ArchiveError."""
    try:
        rows = parse_cdx_rows(text)
    except ArchiveError:
        return
    assert all(r.timestamp.tzinfo is UTC for r in rows)


@given(st.datetimes(min_value=datetime(1996, 1, 1), max_value=datetime(2099, 12, 31)))
def test_timestamps_round_trip(when: datetime) -> None:
    """Formatting then parsing a time gives it back, to the second, in UTC."""
    parsed = parse_timestamp(format_timestamp(when))
    assert parsed == when.replace(microsecond=0, tzinfo=UTC)


def test_timestamp_rejects_non_timestamps() -> None:
    """Partial, non-ASCII-digit and impossible timestamps are None."""
    assert parse_timestamp("2020") is None
    assert parse_timestamp("２０２００１０１０００００") is None
    assert parse_timestamp("20200231000000") is None


def test_snapshot_urls() -> None:
    """Replay and raw (id_) URLs are built from the base URL, trailing slash or not."""
    snap = Snapshot(datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC), "https://example.com/a?b=1")
    assert (
        snap.replay_url("https://web.archive.org/")
        == "https://web.archive.org/web/20200102030405/https://example.com/a?b=1"
    )
    assert snap.raw_url("http://h:1") == "http://h:1/web/20200102030405id_/https://example.com/a?b=1"


def test_availability_closest() -> None:
    """The availability answer's closest capture, with the original URL taken from its replay URL."""
    snap = parse_availability(AVAILABLE)
    assert snap is not None
    assert snap.timestamp == datetime(2013, 9, 19, 4, 46, 12, tzinfo=UTC)
    assert (snap.original, snap.status) == ("http://example.com/", 200)


@pytest.mark.parametrize(
    "answer",
    [
        {"url": "example.com", "archived_snapshots": {}},
        {},
        {"archived_snapshots": {"closest": {**CLOSEST, "available": False}}},
        {"archived_snapshots": {"closest": {"timestamp": "bad"}}},
    ],
)
def test_availability_nothing(answer: dict[str, object]) -> None:
    """No capture (empty, unavailable, unreadable) is None."""
    assert parse_availability(answer) is None


def test_availability_not_an_object() -> None:
    """A non-object answer is an ArchiveError."""
    with pytest.raises(ArchiveError):
        parse_availability(["nope"])


def test_submit_accepted() -> None:
    """An accepted submission gives its job id."""
    assert parse_spn_submit(200, {"url": "https://example.com/", "job_id": "spn2-abc"}) == "spn2-abc"


def test_submit_429_with_retry_after_seconds_and_date() -> None:
    """HTTP 429 is the account's rate limit, with Retry-After read as seconds or as an HTTP date."""
    with pytest.raises(SpnError) as caught:
        parse_spn_submit(429, None, retry_after="30")
    assert (caught.value.code, caught.value.rule.scope, caught.value.retry_after_s) == (
        "http-429",
        Scope.ACCOUNT,
        30,
    )
    now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
    with pytest.raises(SpnError) as caught:
        parse_spn_submit(429, None, retry_after="Wed, 01 Jan 2025 12:01:30 GMT", now=now)
    assert caught.value.retry_after_s == 90


@pytest.mark.parametrize(
    ("status_ext", "scope", "retryable"),
    [
        ("user-session-limit", Scope.ACCOUNT, True),
        ("error:user-session-limit", Scope.ACCOUNT, True),
        ("error:max-daily-bandwidth", Scope.ACCOUNT, True),
        ("error:too-many-requests", Scope.HOST, True),
        ("error:max-daily-bandwidth-host", Scope.HOST, False),
        ("error:bandwidth-limit-exceeded", Scope.HOST, False),
        ("error:too-many-daily-captures", Scope.URL, False),
        ("not-found", Scope.URL, False),
        ("error:blocked-url", Scope.URL, False),
        ("invalid-url-syntax", Scope.URL, False),
        ("error:unauthorized", Scope.URL, False),
        ("error:too-many-redirects", Scope.URL, False),
        ("error:gateway-timeout", Scope.URL, True),
        ("error:job-failed", Scope.SERVICE, True),
        ("error:something-new", Scope.SERVICE, True),
        (None, Scope.SERVICE, True),
    ],
)
def test_submit_errors_inside_http_200(status_ext: str | None, scope: Scope, retryable: bool) -> None:
    """HTTP 200 with status=error is classified by the table: its scope and whether to retry."""
    body = {"status": "error", "status_ext": status_ext, "message": "Couldn't capture."}
    with pytest.raises(SpnError) as caught:
        parse_spn_submit(200, body)
    assert (caught.value.rule.scope, caught.value.rule.retryable) == (scope, retryable)
    assert "Couldn't capture." in str(caught.value)


def test_submit_session_limit_by_message_only() -> None:
    """The 'limit of active sessions' message without a status_ext is the account's session limit."""
    body = {"message": "You have already reached the limit of active sessions. Try again later."}
    with pytest.raises(SpnError) as caught:
        parse_spn_submit(200, body)
    assert caught.value.code == "user-session-limit"


def test_daily_limits_hold_until_midnight_utc() -> None:
    """A daily cap (a URL's, a host's or the account's) is held until the next 00:00 UTC."""
    now = datetime(2025, 5, 5, 23, 0, 0, tzinfo=UTC)
    for code in (
        "too-many-daily-captures",
        "max-daily-bandwidth-host",
        "max-daily-bandwidth",
        DAILY_CAPTURES,
    ):
        rule = rule_for(code)
        assert hold_seconds(rule, now=now, backoff_s=20, retry_after_s=None) == 3600


@pytest.mark.parametrize(
    ("status", "body", "scope", "retryable"),
    [
        (401, None, Scope.ACCOUNT, False),
        (403, {"message": "blocked"}, Scope.ACCOUNT, False),
        (400, None, Scope.URL, False),
        (502, None, Scope.SERVICE, True),
        (503, {"status": "error"}, Scope.SERVICE, True),
        (200, None, Scope.SERVICE, True),
        (200, ["job"], Scope.SERVICE, True),
    ],
)
def test_submit_http_failures(status: int, body: object, scope: Scope, retryable: bool) -> None:
    """Keys refused stop the account; server errors and non-JSON answers are the service's, retried."""
    with pytest.raises(SpnError) as caught:
        parse_spn_submit(status, body)
    assert (caught.value.rule.scope, caught.value.rule.retryable) == (scope, retryable)


def test_every_documented_status_ext_is_in_the_table() -> None:
    """Every code of the SPN2 docs' error table (as the fake speaks them) has its own rule."""
    assert set(DOC_ERRORS) <= set(STATUS_EXT)


@given(st.from_regex(r"(error:)?[a-z][a-z-]{0,28}", fullmatch=True))
def test_every_status_ext_has_a_rule(ext: str) -> None:
    """Any status_ext gets a rule; unknown ones are the service's, retried."""
    error = spn_error(ext)
    known = STATUS_EXT.get(ext.removeprefix("error:"))
    assert error.rule == (known or rule_for("job-failed"))
    assert error.code == ext.removeprefix("error:")


def test_user_status_with_and_without_daily_counts() -> None:
    """``/save/status/user``: sessions, and the day's captures when the service reports them."""
    plain = parse_user_status({"available": 3, "processing": 1})
    assert (plain.available, plain.processing, plain.day_used_up) == (3, 1, False)
    full = parse_user_status(
        {"available": 8, "processing": 0, "daily_captures": 100, "daily_captures_limit": 100}
    )
    assert full.day_used_up


def test_latest_at_or_before_counts_revisits_and_ignores_order() -> None:
    """Rows in any order: the latest 200 or revisit of a 200 at or before the moment; a revisit
    of a 404's content, redirects and later rows are not the page."""
    rows = parse_cdx_rows(CDX_JSON)
    when = datetime(2021, 12, 31, tzinfo=UTC)
    found = latest_at_or_before(list(reversed(rows)), when)
    assert found is not None
    assert found.timestamp == datetime(2021, 3, 15, 12, 1, 2, tzinfo=UTC)
    assert latest_at_or_before(rows, datetime(2019, 1, 1, tzinfo=UTC)) is None
    gone = Snapshot(datetime(2020, 6, 1, tzinfo=UTC), "https://example.com/", status=404, digest="GONE")
    again = Snapshot(
        datetime(2020, 7, 1, tzinfo=UTC), "https://example.com/", mime="warc/revisit", digest="GONE"
    )
    moved = Snapshot(datetime(2020, 8, 1, tzinfo=UTC), "https://example.com/", status=301, digest="M")
    picked = latest_at_or_before([rows[0], gone, again, moved], datetime(2020, 12, 1, tzinfo=UTC))
    assert picked == rows[0]


def test_status_pending_success_error() -> None:
    """Status answers: pending, success with a UTC timestamp, error with the status_ext unprefixed."""
    assert parse_spn_status({"status": "pending", "job_id": "j", "resources": []}).state is SpnState.PENDING
    ok = parse_spn_status({"status": "success", "job_id": "j", "original_url": "https://example.com/",
                           "timestamp": "20250301120005", "duration_sec": 6.2})  # fmt: skip
    assert (ok.state, ok.original_url) == (SpnState.SUCCESS, "https://example.com/")
    assert ok.timestamp == datetime(2025, 3, 1, 12, 0, 5, tzinfo=UTC)
    bad = parse_spn_status(
        {"status": "error", "job_id": "j", "status_ext": "error:not-found", "message": "404"}
    )
    assert (bad.state, bad.status_ext, bad.message) == (SpnState.ERROR, "not-found", "404")


def test_status_original_job_id() -> None:
    """A reused capture names the job to poll instead."""
    status = parse_spn_status({"status": "success", "job_id": "new", "original_job_id": "old",
                               "timestamp": "20250301120005", "original_url": "/"})  # fmt: skip
    assert status.original_job_id == "old"


@pytest.mark.parametrize("body", [{"status": "success", "job_id": "j"}, {"status": "weird"}, "pending", None])
def test_status_unreadable(body: object) -> None:
    """A success without timestamp, an unknown status or a non-object is a transient error."""
    with pytest.raises(WaybackUnavailable):
        parse_spn_status(body)


def test_retry_after_forms() -> None:
    """Retry-After: missing, seconds, negative, a date without a clock, garbage."""
    assert parse_retry_after(None) is None
    assert parse_retry_after(" 12 ") == 12
    assert parse_retry_after("-5") == 0
    assert parse_retry_after("Wed, 01 Jan 2025 12:01:30 GMT") is None
    assert parse_retry_after("soon", datetime(2025, 1, 1, tzinfo=UTC)) is None


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC)))
def test_midnight_is_within_a_day(now: datetime) -> None:
    """The wait for the daily reset lands exactly on the next 00:00 UTC."""
    wait = seconds_to_midnight(now)
    assert 0 < wait <= 86400
    reset = now + timedelta(seconds=wait)
    assert (reset.hour, reset.minute, reset.second, reset.microsecond) == (0, 0, 0, 0)
