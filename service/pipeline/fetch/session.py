"""The HTTP client session, its connect-time address guard, and answer classification.

The guard lives in the connector's ``socket_factory``: it sees every address actually dialled
(literals, resolved names, each happy-eyeballs attempt, each redirect hop), so DNS tricks cannot
get past it (security.md §1.1). The classification helpers are shared by the live fetcher and
WARC replay so both map an HTTP answer to the same source status.
"""

from __future__ import annotations

import errno
import re
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime

import aiohttp
from aiohappyeyeballs import AddrInfoType

from service.pipeline.errors import (
    AddressBlocked,
    DNSFailure,
    FetchError,
    FetchTimeout,
    HTTPStatusError,
    UnsupportedURL,
)
from service.pipeline.fetch.guard import is_denied_address
from service.pipeline.models import ArchiveRecord, FetchResult, Redirect, SourceStatus
from service.settings import HttpSettings

AddressPolicy = Callable[[str], bool]
"""Given an IP address about to be dialled, True if the connection may go ahead."""

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_DEAD = frozenset({404, 410})
_BLOCKED = frozenset({401, 403, 429, 451})
_NO_CONTENT = frozenset({204, 205})
_HTML_START = re.compile(rb"^\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body)\b", re.I | re.S)


class BlockedAddressError(OSError):
    """Raised by the socket factory for a denied address; nothing is sent to it.

    The message does not name the address, so several refused attempts of one request still
    surface as this type (aiohappyeyeballs keeps the type only when all messages agree).
    """

    def __init__(self) -> None:
        super().__init__(errno.EACCES, "address blocked by policy")


@dataclass(slots=True)
class DialLog:
    """Addresses one request dialled or was refused, filled in by the socket factory."""

    dialled: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)


_DIALS: ContextVar[DialLog | None] = ContextVar("provenance_dials", default=None)


@contextmanager
def track_dials() -> Iterator[DialLog]:
    """Collect the addresses dialled within this block (child tasks share the same log)."""
    log = DialLog()
    token = _DIALS.set(log)
    try:
        yield log
    finally:
        _DIALS.reset(token)


def _guarded_socket_factory(policy: AddressPolicy) -> Callable[[AddrInfoType], socket.socket]:
    def factory(addr_info: AddrInfoType) -> socket.socket:
        family, type_, proto, _, sockaddr = addr_info
        host = str(sockaddr[0])
        log = _DIALS.get()
        if not policy(host):
            if log is not None:
                log.blocked.append(host)
            raise BlockedAddressError
        if log is not None:
            log.dialled.append(host)
        return socket.socket(family, type_, proto)

    return factory


def make_client_session(
    settings: HttpSettings,
    *,
    resolver: aiohttp.abc.AbstractResolver | None = None,
    address_policy: AddressPolicy | None = None,
) -> aiohttp.ClientSession:
    """A session whose every connection passes the address guard.

    ``address_policy`` replaces the default rule (deny non-global addresses unless
    ``settings.allow_private_addresses``); tests use it to allow one loopback address but not
    another. ``trust_env`` stays off: a proxy would hide the real destination from the guard.
    """
    if address_policy is None:
        allow_all = settings.allow_private_addresses

        def address_policy(ip: str) -> bool:
            return allow_all or not is_denied_address(ip)

    connector = aiohttp.TCPConnector(
        limit=settings.limit,
        limit_per_host=settings.limit_per_host,
        resolver=resolver,
        socket_factory=_guarded_socket_factory(address_policy),
        ttl_dns_cache=10,
    )
    timeout = aiohttp.ClientTimeout(
        total=settings.total_timeout,
        connect=settings.connect_timeout,
        sock_connect=settings.connect_timeout,
    )
    return aiohttp.ClientSession(
        connector=connector,
        timeout=timeout,
        trust_env=False,
        auto_decompress=True,
        headers={"User-Agent": settings.user_agent, "Accept-Encoding": "gzip, deflate"},
    )


# ---------------------------------------------------------------- classification (pure)


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
    if isinstance(err, UnsupportedURL):
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
    evidence: ArchiveRecord | None = None,
) -> FetchResult:
    """The result of a fetch that ended in ``err``: status and reason come from the error."""
    return FetchResult(
        url=url,
        final_url=final_url,
        status=status_for_error(err),
        reason=err.reason,
        redirects=redirects,
        http_status=http_status,
        content_type=_header(headers, "content-type"),
        headers=headers,
        fetched_at=fetched_at,
        captured_at=captured_at,
        peer=peer,
        body=body,
        evidence=evidence,
    )


def _header(headers: tuple[tuple[str, str], ...], name: str) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None
