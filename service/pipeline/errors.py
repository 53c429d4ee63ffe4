"""The pipeline's exception tree: third-party errors are translated into these at the edge.

A leaf module (beside ``models``, whose ``SourceReason`` it uses). Each error carries the source
``reason`` the report shows, so a stage that catches one can turn it into a typed result without
a lookup table elsewhere.
"""

from __future__ import annotations

from service.pipeline.models import SourceReason


class PipelineError(Exception):
    """Base of every error the pipeline raises on purpose."""

    reason: SourceReason = SourceReason.ERROR

    def __init__(self, message: str = "", *, reason: SourceReason | None = None) -> None:
        super().__init__(message or self.reason)
        if reason is not None:
            self.reason = reason

    def __reduce__(self) -> tuple[object, ...]:
        """Pickled with its attributes: an error raised in an extraction worker (a damaged capture
        it read, say) reaches the pool with its class and ``reason``. ``Exception``'s own pickling
        calls the class with ``args`` alone, which drops a ``reason`` given by keyword."""
        return (_restored, (type(self), self.args, dict(self.__dict__)))


def _restored(cls: type[PipelineError], args: tuple[object, ...], state: dict[str, object]) -> PipelineError:
    error = cls.__new__(cls, *args)
    error.args = args
    error.__dict__.update(state)
    return error


class InputError(PipelineError):
    """The post (or a batch line) cannot be read: bad JSON, bad format name, bad date."""

    reason = SourceReason.BAD_INPUT


class FetchError(PipelineError):
    reason = SourceReason.FETCH_FAILED


class FetchTimeout(FetchError):
    """The fetch's total time ran out; the subclasses name the limit that ended it earlier."""

    reason = SourceReason.TIMEOUT


class ConnectTimeout(FetchTimeout):
    """Name lookup, TCP and TLS together took longer than ``HttpSettings.connect_timeout``."""

    reason = SourceReason.CONNECT_TIMEOUT


class PoolTimeout(FetchTimeout):
    """No turn at the host within ``HttpSettings.pool_timeout``: its slots stayed busy, nothing was
    sent. Kept apart from the total, which starts only once a turn is granted."""

    reason = SourceReason.POOL_TIMEOUT


class FirstByteTimeout(FetchTimeout):
    """The request went out; no answer began within ``HttpSettings.first_byte_timeout``."""

    reason = SourceReason.FIRST_BYTE_TIMEOUT


class ReadTimeout(FetchTimeout):
    """The answer began, then its body stalled longer than ``HttpSettings.read_timeout``."""

    reason = SourceReason.READ_TIMEOUT


class DNSFailure(FetchError):
    reason = SourceReason.NAME_NOT_RESOLVED


class TLSFailure(FetchError):
    reason = SourceReason.TLS_ERROR


class HTTPStatusError(FetchError):
    def __init__(self, status: int, message: str = "") -> None:
        super().__init__(message or f"HTTP {status}", reason=SourceReason.for_http_status(status))
        self.status = status


class BodyTooLarge(FetchError):
    reason = SourceReason.BODY_TOO_LARGE


class AddressBlocked(FetchError):
    """A URL or the address it resolves to is private, local or otherwise forbidden."""

    reason = SourceReason.PRIVATE_ADDRESS


class UnsupportedURL(FetchError):
    """Not an http(s) URL, or not a URL that can be fetched at all."""

    reason = SourceReason.UNSUPPORTED_SCHEME


class TooManyRedirects(FetchError):
    reason = SourceReason.TOO_MANY_REDIRECTS

    def __init__(self, limit: int) -> None:
        super().__init__(f"more than {limit} redirects")


class InvalidURL(FetchError):
    """A URL that does not parse (a malformed host, an impossible port): nothing can be asked."""

    reason = SourceReason.BAD_URL


class NotInReplay(FetchError):
    reason = SourceReason.NOT_IN_REPLAY


class ExtractionError(PipelineError):
    reason = SourceReason.EXTRACTION_FAILED


class ExtractionTimeout(ExtractionError):
    reason = SourceReason.EXTRACTION_TIMEOUT


class ArchiveError(PipelineError):
    reason = SourceReason.ARCHIVE_ERROR


class WaybackRateLimited(ArchiveError):
    """Save Page Now said "not now" (429, session or daily limits): retry after ``retry_after_s``."""

    reason = SourceReason.WAYBACK_RATE_LIMITED
    retry_after_s: float | None = None

    def __init__(
        self, message: str = "", *, reason: SourceReason | None = None, retry_after_s: float | None = None
    ) -> None:
        super().__init__(message, reason=reason)
        self.retry_after_s = retry_after_s


class WaybackRefused(ArchiveError):
    reason = SourceReason.WAYBACK_REFUSED


class WaybackUnavailable(ArchiveError):
    """The Wayback Machine failed for now (timeout, 5xx, a transient SPN error): worth a later retry."""

    reason = SourceReason.WAYBACK_UNAVAILABLE


class AlignmentError(PipelineError):
    reason = SourceReason.ALIGNMENT_FAILED


# Errors worth retrying later (a queue worker re-delivers these; the CLI reports them).
RETRYABLE: tuple[type[PipelineError], ...] = (
    FetchTimeout,
    DNSFailure,
    WaybackRateLimited,
    WaybackUnavailable,
)
