"""What an HTTP answer means for a source: its status, its reason, and whether it is a page to read.

Pure, and shared by every fetcher (live, WARC replay, the evidence store's past versions) so that
one HTTP answer maps to the same source status wherever it came from.
"""

from __future__ import annotations

import re
from datetime import datetime

from service.pipeline.errors import (
    AddressBlocked,
    DNSFailure,
    FetchError,
    FetchTimeout,
    HTTPStatusError,
    InvalidURL,
    UnsupportedURL,
)
from service.pipeline.models import FetchResult, Redirect, SourceStatus, WarcEntry, header_value

# Defined here, a leaf, rather than beside the redirect follower (which re-exports it): the WARC
# reader needs it in extraction workers, which do not load yarl and the URL rules.
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_DEAD = frozenset({404, 410})
_BLOCKED = frozenset({401, 403, 429, 451})
_NO_CONTENT = frozenset({204, 205})
_HTML_START = re.compile(rb"^\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body)\b", re.I | re.S)


def http_status_error(code: int) -> HTTPStatusError | None:
    """None if ``code`` may carry a page worth reading, else the error that explains it."""
    if 200 <= code < 300 and code not in _NO_CONTENT:
        return None
    return HTTPStatusError(code)


def status_for_error(err: FetchError) -> SourceStatus:
    """The source status a fetch error is reported as (contract: source statuses)."""
    if isinstance(err, HTTPStatusError):
        if err.status in _DEAD:
            return SourceStatus.DEAD
        if err.status in _BLOCKED:
            return SourceStatus.BLOCKED
        if err.status == 402:
            return SourceStatus.PAYWALLED
        return SourceStatus.ERROR
    if isinstance(err, AddressBlocked):
        return SourceStatus.REFUSED
    if isinstance(err, UnsupportedURL | InvalidURL):
        return SourceStatus.UNSUPPORTED
    if isinstance(err, FetchTimeout):
        return SourceStatus.TIMEOUT
    if isinstance(err, DNSFailure):
        return SourceStatus.DEAD
    return SourceStatus.ERROR


def media_type(content_type: str | None) -> str | None:
    """``text/html; charset=utf-8`` → ``text/html``; None when absent or empty."""
    if not content_type:
        return None
    value = content_type.split(";", 1)[0].strip().lower()
    return value or None


def looks_like_html(body: bytes) -> bool:
    """A sniff for answers without a Content-Type: does the body open like an HTML page?"""
    return bool(_HTML_START.match(body[:2048]))


def content_type_accepted(content_type: str | None, body: bytes, accepted: tuple[str, ...]) -> bool:
    """Whether to read the answer as a page: a listed type, or none given and HTML-looking."""
    kind = media_type(content_type)
    if kind is None:
        return looks_like_html(body)
    return kind in accepted


def worth_extracting(
    status: int, headers: tuple[tuple[str, str], ...], body: bytes, accepted: tuple[str, ...]
) -> bool:
    """Whether an answer (its final hop) will be handed to extraction: a readable page (a 2xx
    with content, of an accepted type), or a 503 with a body (a bot challenge's signals). A
    redirect with a ``Location`` is a hop, not an answer. The rule ``sources`` applies to what a
    fetcher made of the answer, stated on the raw answer for whoever reads it first."""
    if status in REDIRECT_STATUSES and header_value(headers, "location"):
        return False
    if status == 503:
        return bool(body)
    return http_status_error(status) is None and content_type_accepted(
        header_value(headers, "content-type"), body, accepted
    )


def encoding_problem(values: list[str], decodable: frozenset[str]) -> str | None:
    """What is wrong with an answer's ``Content-Encoding`` header lines, or None when its body
    arrives decoded: no coding, ``identity``, or one coding in ``decodable``. Two codings
    (``gzip, gzip``), an alias the client does not decode (``x-gzip``) or an unknown one would
    leave compressed bytes to be read as the page: its hash, its text and every quote wrong."""
    codings = [c.strip().lower() for value in values for c in value.split(",") if c.strip()]
    if len(codings) > 1:  # the client decodes one coding, named alone, or none
        return f"several content codings: {', '.join(codings)}"
    if codings and codings[0] not in decodable | {"identity"}:
        return f"content coding {codings[0]!r} is not decoded"
    return None


def failure(
    url: str,
    final_url: str,
    err: FetchError,
    *,
    redirects: tuple[Redirect, ...] = (),
    http_status: int | None = None,
    headers: tuple[tuple[str, str], ...] = (),
    fetched_at: datetime | None = None,
    captured_at: datetime | None = None,
    peer: str | None = None,
    body: bytes = b"",
    evidence: WarcEntry | None = None,
) -> FetchResult:
    """The result of a fetch that ended in ``err``: status and reason come from the error."""
    return FetchResult(
        url=url,
        final_url=final_url,
        status=status_for_error(err),
        reason=err.reason,
        redirects=redirects,
        http_status=http_status,
        content_type=header_value(headers, "content-type"),
        headers=headers,
        fetched_at=fetched_at,
        captured_at=captured_at,
        peer=peer,
        body=body,
        evidence=evidence,
    )
