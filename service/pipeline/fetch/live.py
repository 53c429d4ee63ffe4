"""Fetching live pages: manual redirects, a decoded-body cap, and a typed answer for every failure.

Every hop is re-checked by ``guard.check_url`` before it is requested, and the session's socket
guard (``session.py``) checks each address dialled. ``LiveFetcher.fetch`` never raises for a network
or HTTP problem: aiohttp's exceptions are translated into the ``errors.py`` tree here, then into a
``FetchResult`` whose status and reason say what happened.

Each hop first waits for a turn at its host (``pool_timeout``), then runs on the fetch's
``Stopwatch`` (``total_timeout``) with aiohttp timing the connection (``connect_timeout``), the
wait for the answer (``first_byte_timeout``) and each gap in its body (``read_timeout``): five
limits, five reasons (``limits.py``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime

import aiohttp
from aiohttp import compression_utils
from yarl import URL

from service.pipeline.errors import (
    AddressBlocked,
    BodyTooLarge,
    ConnectTimeout,
    DNSFailure,
    FetchError,
    FetchTimeout,
    FirstByteTimeout,
    PoolTimeout,
    ReadTimeout,
    TLSFailure,
    TooManyRedirects,
)
from service.pipeline.fetch.answers import (
    content_type_accepted,
    encoding_problem,
    failure,
    http_status_error,
    media_type,
)
from service.pipeline.fetch.guard import check_url
from service.pipeline.fetch.limits import HostGate, HostSlots, Stopwatch, slot_key, time_body_gaps
from service.pipeline.fetch.redirects import REDIRECT_STATUSES, Hop, follow_redirects, join_location
from service.pipeline.fetch.session import BlockedAddressError, DialLog, track_dials
from service.pipeline.models import FetchResult, Redirect, SourceReason, SourceStatus
from service.settings import HttpSettings

CHUNK_BYTES = 65536
# What aiohttp decodes: gzip and deflate always, brotli and zstd when their libraries are installed.
DECODABLE = frozenset(
    {"gzip", "deflate"}
    | ({"br"} if compression_utils.HAS_BROTLI else set())
    | ({"zstd"} if compression_utils.HAS_ZSTD else set())
)


def _translate(exc: BaseException, dials: DialLog) -> FetchError:
    """An aiohttp (or socket) exception as the pipeline's own error."""
    if dials.blocked or isinstance(getattr(exc, "os_error", None), BlockedAddressError):
        return AddressBlocked("connection refused by the address guard")
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return DNSFailure(str(exc))
    if isinstance(exc, aiohttp.ClientSSLError | aiohttp.ServerFingerprintMismatch):
        return TLSFailure(str(exc))
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return ConnectTimeout(str(exc) or "connect timeout")
    if isinstance(exc, TimeoutError):
        return FetchTimeout(str(exc) or "timeout")
    if isinstance(exc, aiohttp.ClientPayloadError):
        return FetchError(str(exc), reason=SourceReason.PAYLOAD_ERROR)
    if isinstance(exc, aiohttp.InvalidURL):
        return FetchError(str(exc), reason=SourceReason.BAD_URL)
    if isinstance(exc, aiohttp.ClientResponseError):
        if "content-encoding" in str(exc).lower():  # a coding aiohttp knows but cannot decode here
            return FetchError(str(exc), reason=SourceReason.BAD_ENCODING)
        return FetchError(str(exc), reason=SourceReason.BAD_RESPONSE)
    if isinstance(exc, aiohttp.ClientConnectionError | OSError):
        return FetchError(str(exc), reason=SourceReason.CONNECTION_FAILED)
    return FetchError(str(exc), reason=SourceReason.FETCH_FAILED)


def _peer(resp: aiohttp.ClientResponse, dials: DialLog) -> str | None:
    """The address that answered; the connection is gone once the body is read, so ask early."""
    conn = resp.connection
    transport = conn.transport if conn is not None else None
    peername = transport.get_extra_info("peername") if transport is not None else None
    if isinstance(peername, tuple) and peername:
        return str(peername[0])
    return dials.dialled[-1] if dials.dialled else None


async def _read_capped(resp: aiohttp.ClientResponse, limit: int) -> bytes:
    """The decoded body, aborted as soon as it passes ``limit`` bytes (bombs, endless streams)."""
    declared = resp.content_length
    if declared is not None and declared > limit:
        raise BodyTooLarge(f"declared {declared} bytes")
    body = bytearray()
    async for chunk in resp.content.iter_chunked(CHUNK_BYTES):
        body += chunk
        if len(body) > limit:
            raise BodyTooLarge(f"more than {limit} bytes")
    return bytes(body)


ERROR_BODY_BYTES = 256 * 1024


async def _error_body(resp: aiohttp.ClientResponse) -> bytes:
    """An error answer's page (a 404 notice, a paywall, a challenge), kept as evidence and for
    source health; at most ``ERROR_BODY_BYTES``, and nothing if it cannot be read whole."""
    try:
        return await _read_capped(resp, ERROR_BODY_BYTES)
    except (BodyTooLarge, aiohttp.ClientError):
        return b""


# A page's validators, and the request header that sends each back (RFC 9110 §13.1).
_CONDITIONAL = {"etag": "If-None-Match", "last-modified": "If-Modified-Since"}


class LiveFetcher:
    """Answers URLs from the live web (the ``Fetcher`` protocol).

    ``slots`` limits requests per host in this process (one ``HostSlots`` per session, made here
    unless shared); ``gate``, when given, limits them across every process of the deployment.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        settings: HttpSettings,
        *,
        gate: HostGate | None = None,
        slots: HostSlots | None = None,
    ) -> None:
        self._session = session
        self._settings = settings
        self._gate = gate
        self._slots = slots or HostSlots(limit=settings.limit, per_host=settings.limit_per_host)
        # Per request: the connector's limits are ours (``_turn``), the total is the Stopwatch's.
        self._timeout = aiohttp.ClientTimeout(
            total=None,
            connect=settings.connect_timeout,
            sock_connect=settings.connect_timeout,
            sock_read=settings.first_byte_timeout,  # until the headers; then read_timeout per gap
        )

    async def fetch(self, url: str) -> FetchResult:
        """Follow ``url`` to its final answer within the redirect, size and time limits."""
        fetched_at = datetime.now(UTC)
        watch = Stopwatch(self._settings.total_timeout)

        async def step(current: str, redirects: tuple[Redirect, ...]) -> FetchResult | Hop:
            return await self._hop(url, current, redirects, fetched_at, watch)

        followed = await follow_redirects(url, step, max_redirects=self._settings.max_redirects)
        if followed.answer is not None:
            return followed.answer
        err = TooManyRedirects(self._settings.max_redirects)
        return failure(url, followed.url, err, redirects=followed.redirects, fetched_at=fetched_at)

    async def fetch_at(self, url: str, when: datetime) -> FetchResult | None:
        """The live web has no past: archives answer this (``None`` here)."""
        return None

    async def fetch_if_changed(self, url: str, validators: tuple[tuple[str, str], ...]) -> FetchResult:
        """``url`` (a page's final URL, read before) asked again with its validators (``ETag`` as
        ``If-None-Match``, ``Last-Modified`` as ``If-Modified-Since``): an answer with
        ``http_status`` 304 and no body when it did not change, else the page as ``fetch`` gives it."""
        conditional = tuple(
            (_CONDITIONAL[name.lower()], value) for name, value in validators if name.lower() in _CONDITIONAL
        )
        watch = Stopwatch(self._settings.total_timeout)
        answer = await self._hop(url, url, (), datetime.now(UTC), watch, conditional)
        if isinstance(answer, Hop):  # it moves now: read it afresh, redirects and all
            return await self.fetch(url)
        return answer

    @asynccontextmanager
    async def _turn(self, target: URL) -> AsyncIterator[None]:
        """A slot at the target's host, here and (with a gate) in the fleet, within ``pool_timeout``.

        The host's slot is held while the fleet's is awaited, never the other way round: a fleet
        slot is never held by a request that is still queued in this process.
        """
        key = slot_key(target)
        async with AsyncExitStack() as held:
            try:
                async with asyncio.timeout(self._settings.pool_timeout):
                    await held.enter_async_context(self._slots.hold(key))
                    if self._gate is not None:
                        await held.enter_async_context(self._gate.hold(key))
            except TimeoutError:
                raise PoolTimeout(f"no turn at {key} within {self._settings.pool_timeout:g} s") from None
            yield

    async def _hop(
        self,
        url: str,
        current: str,
        redirects: tuple[Redirect, ...],
        fetched_at: datetime,
        watch: Stopwatch,
        conditional: tuple[tuple[str, str], ...] = (),
    ) -> FetchResult | Hop:
        """One request: a final result, or the next hop of a redirect."""
        settings = self._settings
        try:
            target = check_url(
                current, allow_private=settings.allow_private_addresses, allowed_ports=settings.allowed_ports
            )
        except FetchError as err:
            return failure(url, current, err, redirects=redirects, fetched_at=fetched_at)
        with track_dials() as dials:
            try:
                async with self._turn(target), watch.running():
                    return await self._request(url, target, redirects, fetched_at, dials, conditional)
            except FetchError as err:
                return failure(url, str(target), err, redirects=redirects, fetched_at=fetched_at)
            except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
                translated = _translate(exc, dials)
                return failure(url, str(target), translated, redirects=redirects, fetched_at=fetched_at)

    @asynccontextmanager
    async def _answer(
        self, target: URL, conditional: tuple[tuple[str, str], ...]
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """The response to one GET, its headers in; its body then read with ``read_timeout``
        between chunks. Silence after the request is ``first_byte_timeout``."""
        request = self._session.get(
            target, allow_redirects=False, headers=dict(conditional) or None, timeout=self._timeout
        )
        async with AsyncExitStack() as stack:
            try:
                resp = await stack.enter_async_context(request)
            except aiohttp.SocketTimeoutError as exc:
                raise FirstByteTimeout(f"no answer within {self._settings.first_byte_timeout:g} s") from exc
            time_body_gaps(resp, self._settings.read_timeout)
            yield resp

    async def _request(
        self,
        url: str,
        target: URL,
        redirects: tuple[Redirect, ...],
        fetched_at: datetime,
        dials: DialLog,
        conditional: tuple[tuple[str, str], ...] = (),
    ) -> FetchResult | Hop:
        settings = self._settings
        async with self._answer(target, conditional) as resp:
            peer = _peer(resp, dials)
            headers = tuple(resp.headers.items())
            if resp.status == 304 and conditional:
                return FetchResult(url=url, final_url=str(target), status=SourceStatus.OK, http_status=304,
                                   headers=headers, fetched_at=fetched_at, peer=peer)  # fmt: skip

            def fail(err: FetchError, body: bytes = b"") -> FetchResult:
                return failure(
                    url, str(target), err, redirects=redirects, http_status=resp.status,
                    headers=headers, fetched_at=fetched_at, peer=peer, body=body,
                )  # fmt: skip

            if resp.status in REDIRECT_STATUSES:
                location = resp.headers.get("Location", "").strip()
                if location:  # resolved against the checked URL, as it was requested
                    return Hop(resp.status, join_location(str(target), location))
                return fail(
                    FetchError("redirect without Location", reason=SourceReason.REDIRECT_WITHOUT_LOCATION)
                )
            status_err = http_status_error(resp.status)
            if status_err is not None:
                return fail(status_err, await _error_body(resp))
            content_type = resp.headers.get("Content-Type")
            unsupported = FetchError(
                f"content type {content_type!r}", reason=SourceReason.UNSUPPORTED_CONTENT_TYPE
            )
            if media_type(content_type) is not None and not content_type_accepted(
                content_type, b"", settings.accepted_content_types
            ):
                return fail(unsupported)
            problem = encoding_problem(resp.headers.getall("Content-Encoding", []), DECODABLE)
            if problem is not None:
                return fail(FetchError(problem, reason=SourceReason.BAD_ENCODING))
            try:
                body = await _read_capped(resp, settings.max_body_bytes)
            except FetchError as err:  # too large: the answer's status and headers are kept
                return fail(err)
            except aiohttp.SocketTimeoutError:
                return fail(ReadTimeout(f"the body stalled over {settings.read_timeout:g} s"))
            except aiohttp.ClientPayloadError as exc:
                return fail(_translate(exc, dials))
        if not content_type_accepted(content_type, body, settings.accepted_content_types):
            return fail(unsupported)
        return FetchResult(
            url=url,
            final_url=str(target),
            status=SourceStatus.OK,
            redirects=redirects,
            http_status=resp.status,
            content_type=content_type,
            headers=headers,
            body=body,
            fetched_at=fetched_at,
            peer=peer,
        )
