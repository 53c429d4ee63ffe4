"""The pipeline's exception tree: third-party errors are translated into these at the edge.

A leaf module. Each error carries the source ``reason`` string the report shows, so a stage
that catches one can turn it into a typed result without a lookup table elsewhere.
"""

from __future__ import annotations


class PipelineError(Exception):
    """Base of every error the pipeline raises on purpose."""

    reason: str = "error"

    def __init__(self, message: str = "", *, reason: str | None = None) -> None:
        super().__init__(message or self.reason)
        if reason is not None:
            self.reason = reason


class InputError(PipelineError):
    """The post (or a batch line) cannot be read: bad JSON, bad format name, bad date."""

    reason = "bad_input"


class FetchError(PipelineError):
    reason = "fetch_failed"


class FetchTimeout(FetchError):
    reason = "timeout"


class DNSFailure(FetchError):
    reason = "name_not_resolved"


class TLSFailure(FetchError):
    reason = "tls_error"


class HTTPStatusError(FetchError):
    def __init__(self, status: int, message: str = "") -> None:
        super().__init__(message or f"HTTP {status}", reason=f"http_{status}")
        self.status = status


class BodyTooLarge(FetchError):
    reason = "body_too_large"


class AddressBlocked(FetchError):
    """A URL or the address it resolves to is private, local or otherwise forbidden."""

    reason = "private_address"


class UnsupportedURL(FetchError):
    """Not an http(s) URL, or not a URL that can be fetched at all."""

    reason = "unsupported_scheme"


class NotInReplay(FetchError):
    reason = "not_in_replay"


class ExtractionError(PipelineError):
    reason = "extraction_failed"


class ExtractionTimeout(ExtractionError):
    reason = "extraction_timeout"


class ArchiveError(PipelineError):
    reason = "archive_error"


class WaybackRateLimited(ArchiveError):
    """Save Page Now said "not now" (429, session or daily limits): retry after ``retry_after_s``."""

    reason = "wayback_rate_limited"
    retry_after_s: float | None = None

    def __init__(
        self, message: str = "", *, reason: str | None = None, retry_after_s: float | None = None
    ) -> None:
        super().__init__(message, reason=reason)
        self.retry_after_s = retry_after_s


class WaybackRefused(ArchiveError):
    reason = "wayback_refused"


class WaybackUnavailable(ArchiveError):
    """The Wayback Machine failed for now (timeout, 5xx, a transient SPN error): worth a later retry."""

    reason = "wayback_unavailable"


class AlignmentError(PipelineError):
    reason = "alignment_failed"


# Errors worth retrying later (a queue worker re-delivers these; the CLI reports them).
RETRYABLE: tuple[type[PipelineError], ...] = (
    FetchTimeout,
    DNSFailure,
    WaybackRateLimited,
    WaybackUnavailable,
)
