"""What an HTTP answer means for a source (service/pipeline/fetch/answers.py): statuses, reasons,
and whether an answer is a page to read."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.pipeline import errors
from service.pipeline.errors import (
    AddressBlocked,
    BodyTooLarge,
    ConnectTimeout,
    DNSFailure,
    FetchError,
    FetchTimeout,
    FirstByteTimeout,
    HTTPStatusError,
    InvalidURL,
    NotInReplay,
    PoolTimeout,
    ReadTimeout,
    TLSFailure,
    TooManyRedirects,
    UnsupportedURL,
)
from service.pipeline.fetch import failure, http_status_error, status_for_error
from service.pipeline.fetch.answers import content_type_accepted, looks_like_html, media_type
from service.pipeline.models import Redirect, SourceReason, SourceStatus, WarcEntry
from service.settings import HttpSettings

ACCEPTED = HttpSettings().accepted_content_types
PAGE = b"<!doctype html><html><body><p>Words.</p></body></html>"

# Every FetchError class: how to make one, and the source status it is reported as.
BY_CLASS: dict[type[FetchError], tuple[Callable[[], FetchError], SourceStatus]] = {
    FetchError: (lambda: FetchError("boom"), SourceStatus.ERROR),
    FetchTimeout: (FetchTimeout, SourceStatus.TIMEOUT),
    ConnectTimeout: (ConnectTimeout, SourceStatus.TIMEOUT),
    PoolTimeout: (PoolTimeout, SourceStatus.TIMEOUT),
    FirstByteTimeout: (FirstByteTimeout, SourceStatus.TIMEOUT),
    ReadTimeout: (ReadTimeout, SourceStatus.TIMEOUT),
    DNSFailure: (DNSFailure, SourceStatus.DEAD),
    TLSFailure: (TLSFailure, SourceStatus.ERROR),
    BodyTooLarge: (BodyTooLarge, SourceStatus.ERROR),
    AddressBlocked: (AddressBlocked, SourceStatus.REFUSED),
    UnsupportedURL: (UnsupportedURL, SourceStatus.UNSUPPORTED),
    InvalidURL: (InvalidURL, SourceStatus.UNSUPPORTED),
    TooManyRedirects: (lambda: TooManyRedirects(5), SourceStatus.ERROR),
    NotInReplay: (NotInReplay, SourceStatus.ERROR),
    HTTPStatusError: (lambda: HTTPStatusError(404), SourceStatus.DEAD),
}
CLASSES = sorted(BY_CLASS, key=lambda c: c.__name__)


def _subclasses(cls: type[FetchError]) -> set[type[FetchError]]:
    found = {cls}
    for sub in cls.__subclasses__():
        found |= _subclasses(sub)
    return found


# ---------------------------------------------------------------- status_for_error


def test_every_fetch_error_class_is_mapped_here() -> None:
    """BY_CLASS covers every FetchError class the pipeline defines: a new class needs a row there."""
    defined = {c for c in _subclasses(FetchError) if c.__module__ == errors.__name__}
    assert defined == set(BY_CLASS)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_status_for_each_error_class(cls: type[FetchError]) -> None:
    """Each error class maps to its contract status: timeouts time out, DNS failures are dead,
    refused addresses refused, unfetchable URLs unsupported, everything else an error."""
    make, status = BY_CLASS[cls]
    assert status_for_error(make()) is status


@pytest.mark.parametrize(
    ("code", "status"),
    [(404, SourceStatus.DEAD), (410, SourceStatus.DEAD),
     (401, SourceStatus.BLOCKED), (403, SourceStatus.BLOCKED), (429, SourceStatus.BLOCKED),
     (451, SourceStatus.BLOCKED), (402, SourceStatus.PAYWALLED),
     (100, SourceStatus.ERROR), (204, SourceStatus.ERROR), (205, SourceStatus.ERROR),
     (301, SourceStatus.ERROR), (304, SourceStatus.ERROR), (400, SourceStatus.ERROR),
     (405, SourceStatus.ERROR), (418, SourceStatus.ERROR), (500, SourceStatus.ERROR),
     (502, SourceStatus.ERROR), (503, SourceStatus.ERROR), (599, SourceStatus.ERROR)],
)  # fmt: skip
def test_status_for_each_http_status_family(code: int, status: SourceStatus) -> None:
    """404/410 are dead, 401/403/429/451 blocked, 402 paywalled; any other status is an error."""
    assert status_for_error(HTTPStatusError(code)) is status


@given(st.integers(min_value=100, max_value=599))
def test_status_for_an_http_error_never_raises_and_is_never_ok(code: int) -> None:
    """Whatever the HTTP status, the mapping answers with a failure status (never ok or soft_404)."""
    status = status_for_error(HTTPStatusError(code))
    assert status in set(SourceStatus) - {SourceStatus.OK, SourceStatus.SOFT_404}


@given(st.sampled_from(CLASSES), st.sampled_from(list(SourceReason)))
def test_status_for_any_error_with_any_reason_never_raises(
    cls: type[FetchError], reason: SourceReason
) -> None:
    """The status depends on the error's class alone, never on the reason it carries."""
    make, status = BY_CLASS[cls]
    err = make()
    err.reason = reason
    assert status_for_error(err) is status


# ---------------------------------------------------------------- http_status_error


@pytest.mark.parametrize("code", [200, 201, 202, 203, 206, 226, 299])
def test_a_2xx_with_content_is_no_error(code: int) -> None:
    """Success statuses that can carry a page are read."""
    assert http_status_error(code) is None


@pytest.mark.parametrize("code", [100, 204, 205, 301, 302, 304, 400, 404, 451, 500, 503])
def test_other_statuses_are_errors_with_their_reason(code: int) -> None:
    """No Content, Reset Content, 1xx, 3xx, 4xx and 5xx: an HTTPStatusError with reason http_<code>."""
    err = http_status_error(code)
    assert err is not None
    assert err.status == code
    assert err.reason == f"http_{code}"
    assert err.reason is SourceReason.for_http_status(code)


@given(st.integers(min_value=100, max_value=599))
def test_http_status_error_rule(code: int) -> None:
    """For every status: no error exactly for 2xx other than 204/205, else an error naming the status."""
    err = http_status_error(code)
    readable = 200 <= code < 300 and code not in (204, 205)
    assert (err is None) is readable
    if err is not None:
        assert (err.status, err.reason.http_status) == (code, code)


# ---------------------------------------------------------------- content types


@pytest.mark.parametrize(
    ("value", "expected"),
    [("text/html; charset=utf-8", "text/html"), (" Text/HTML ", "text/html"),
     ("application/xhtml+xml;q=1", "application/xhtml+xml"), (None, None), ("", None), (";charset=x", None)],
)  # fmt: skip
def test_media_type(value: str | None, expected: str | None) -> None:
    """The media type without parameters, lower case; None when absent or empty."""
    assert media_type(value) == expected


@pytest.mark.parametrize(
    "content_type",
    ["text/html", "text/html; charset=utf-8", "TEXT/HTML", "application/xhtml+xml", "text/plain"],
)
def test_listed_content_types_are_accepted(content_type: str) -> None:
    """A listed media type is read whatever its parameters or case, and whatever the body."""
    assert content_type_accepted(content_type, b"\x00\x01", ACCEPTED)


@pytest.mark.parametrize("content_type", ["image/png", "application/pdf", "application/json", "text/css"])
def test_unlisted_content_types_are_refused_even_for_html_bodies(content_type: str) -> None:
    """A declared type outside the list is refused: the sniff is only for answers without one."""
    assert not content_type_accepted(content_type, PAGE, ACCEPTED)


@pytest.mark.parametrize(
    "body",
    [PAGE, b"<html><p>x</p></html>", b"  \r\n<HTML lang=en>", b"<head><title>t</title></head>",
     b"<body>x</body>", b"<!-- a comment -->\n<!-- another -->\n<!DOCTYPE html>", b"\n<!doctype HTML>"],
)  # fmt: skip
@pytest.mark.parametrize("content_type", [None, ""])
def test_html_looking_body_without_content_type_is_accepted(body: bytes, content_type: str | None) -> None:
    """No (or an empty) Content-Type: a body that opens like an HTML page is read."""
    assert looks_like_html(body)
    assert content_type_accepted(content_type, body, ACCEPTED)


@pytest.mark.parametrize(
    "body",
    [b"", b"\x89PNG\r\n\x1a\n", b"plain words <html>", b"<htmlx>", b"<p>a paragraph</p>", b"%PDF-1.7",
     b" " * 2048 + b"<html>"],
)  # fmt: skip
def test_other_bodies_without_content_type_are_refused(body: bytes) -> None:
    """No Content-Type and no HTML opening (within the first 2 KiB): not read."""
    assert not content_type_accepted(None, body, ACCEPTED)


@given(st.binary(max_size=300))
def test_the_sniff_never_accepts_a_body_not_opening_with_a_tag(body: bytes) -> None:
    """Without a Content-Type, a body is read only if its first non-blank byte opens a tag."""
    if content_type_accepted(None, body, ACCEPTED):
        assert body.lstrip().startswith(b"<")


# ---------------------------------------------------------------- failure


def test_failure_carries_status_reason_and_content_type() -> None:
    """failure() takes status and reason from the error, content type from the headers (any case)."""
    when = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    evidence = WarcEntry("warc/x.warc.gz", 10, 20, "sha1:X", when.isoformat())
    result = failure(
        "http://a.test/",
        "http://a.test/final",
        HTTPStatusError(403),
        redirects=(Redirect("http://a.test/", 301),),
        http_status=403,
        headers=(("X-Other", "1"), ("content-TYPE", "text/html; charset=utf-8")),
        fetched_at=when,
        captured_at=when,
        peer="192.0.2.1",
        body=b"<html>forbidden</html>",
        evidence=evidence,
    )
    assert (result.status, result.reason) == (SourceStatus.BLOCKED, SourceReason.for_http_status(403))
    assert result.content_type == "text/html; charset=utf-8"
    assert (result.url, result.final_url, result.http_status) == (
        "http://a.test/",
        "http://a.test/final",
        403,
    )
    assert result.redirects == (Redirect("http://a.test/", 301),)
    assert (result.fetched_at, result.captured_at, result.peer, result.evidence) == (
        when, when, "192.0.2.1", evidence
    )  # fmt: skip
    assert result.body == b"<html>forbidden</html>"
    assert result.sha256 is not None


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_failure_without_an_answer(cls: type[FetchError]) -> None:
    """With no HTTP answer: the error's status and reason, no content type, no body and no hash."""
    make, status = BY_CLASS[cls]
    err = make()
    result = failure("http://a.test/", "http://a.test/", err)
    assert (result.status, result.reason) == (status, err.reason)
    assert (result.content_type, result.http_status, result.headers, result.body) == (None, None, (), b"")
    assert result.sha256 is None
