"""The HTTP client session and its connect-time address guard.

The guard lives in the connector's ``socket_factory``: it sees every address actually dialled
(literals, resolved names, each happy-eyeballs attempt, each redirect hop), so DNS tricks cannot
get past it (security.md §1.1).
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

import aiohttp
from aiohappyeyeballs import AddrInfoType

from service.pipeline.fetch.guard import is_denied_address
from service.settings import HttpSettings

AddressPolicy = Callable[[str], bool]
"""Given an IP address about to be dialled, True if the connection may go ahead."""


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

    # Unlimited here: the fetcher gives out turns per host (``limits.HostSlots``) under a limit of
    # its own, so no request ever waits inside the connector, where the wait would count against
    # the connect timeout and be reported as one.
    connector = aiohttp.TCPConnector(
        limit=0,
        limit_per_host=0,
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
