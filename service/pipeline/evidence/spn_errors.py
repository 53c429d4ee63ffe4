"""Every Save Page Now 2 failure in one table: whom it concerns, whether to retry, how long to wait.

The answers are those of V. Banos's "Save Page Now 2 Public API Docs Draft" (revised 2025-10-22),
"Error codes" and "Limitations", plus the HTTP answers of ``POST /save`` itself. Each has a
*scope*: ``url`` (this URL only: the target page failed, or its own daily limit), ``host`` (the
target host: it throttles or blocks SPN, or hit SPN's per-host bandwidth), ``account`` (our keys:
sessions, captures a minute, bandwidth a day) or ``service`` (SPN itself failed). Only ``account``
and ``service`` pause every submission; a ``url`` or ``host`` outcome is recorded for that URL or
host alone. ``hold`` says until when the scope is left alone: a back-off, the server's
``Retry-After``, the next 00:00 UTC (daily limits), or a fixed time.

Target-side failures (404, 401, 501, too many redirects, an invalid answer…) are final for that
URL: SPN saw what the page is, and asking again the same day will not change it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from service.pipeline.errors import ArchiveError
from service.pipeline.models import SourceReason


class Scope(StrEnum):
    URL = "url"
    HOST = "host"
    ACCOUNT = "account"
    SERVICE = "service"


class Hold(StrEnum):
    NONE = "none"  # final for the scope, nothing to wait for (the outcome is landed)
    BACKOFF = "backoff"  # exponential from 20 s, with jitter
    RETRY_AFTER = "retry_after"  # the server's Retry-After, else the back-off
    MIDNIGHT = "midnight"  # daily limits reset at 00:00 UTC
    FIXED = "fixed"  # ``seconds``


@dataclass(frozen=True, slots=True)
class Rule:
    scope: Scope
    retryable: bool
    hold: Hold
    seconds: float = 0.0


_URL_FINAL = Rule(Scope.URL, retryable=False, hold=Hold.NONE)
_URL_RETRY = Rule(Scope.URL, retryable=True, hold=Hold.BACKOFF)
_SERVICE = Rule(Scope.SERVICE, retryable=True, hold=Hold.BACKOFF)
_HOST_FINAL = Rule(Scope.HOST, retryable=False, hold=Hold.FIXED, seconds=3600.0)  # this URL; the host for 1 h

# ``status_ext`` without its ``error:`` prefix.
STATUS_EXT: dict[str, Rule] = {
    # The target answered something final for this URL.
    "not-found": _URL_FINAL,  # 404
    "no-access": _URL_FINAL,  # 403
    "unauthorized": _URL_FINAL,  # the target's 401, not our keys
    "bad-request": _URL_FINAL,
    "method-not-allowed": _URL_FINAL,  # 405
    "not-implemented": _URL_FINAL,  # 501
    "http-version-not-supported": _URL_FINAL,  # 505
    "network-authentication-required": _URL_FINAL,  # 511
    "too-many-redirects": _URL_FINAL,  # SPN follows 3
    "invalid-server-response": _URL_FINAL,
    "ftp-access-denied": _URL_FINAL,
    "invalid-url-syntax": _URL_FINAL,
    "blocked-url": _URL_FINAL,  # SPN's tracker block list
    "filesize-limit": _URL_FINAL,  # over 2 GB
    # This URL's own daily limit ("captured 10 times today"): other URLs go on.
    "too-many-daily-captures": Rule(Scope.URL, retryable=False, hold=Hold.MIDNIGHT),
    # The target failed for now: this URL is tried again later, alone.
    "bad-gateway": _URL_RETRY,  # 502
    "service-unavailable": _URL_RETRY,  # 503
    "gateway-timeout": _URL_RETRY,  # 504
    "read-timeout": _URL_RETRY,
    "protocol-error": _URL_RETRY,
    "browsing-timeout": _URL_RETRY,
    "soft-time-limit-exceeded": _URL_RETRY,
    # The target host.
    "too-many-requests": Rule(Scope.HOST, retryable=True, hold=Hold.FIXED, seconds=20.0),  # delayed 10-20 s
    "blocked": _HOST_FINAL,  # the site blocks SPN (its 999)
    "bandwidth-limit-exceeded": _HOST_FINAL,  # the target's own 509
    "invalid-host-resolution": _HOST_FINAL,
    "max-daily-bandwidth-host": Rule(Scope.HOST, retryable=False, hold=Hold.MIDNIGHT),  # 100 GB/day a host
    # Our account (or, anonymous, our IP).
    "user-session-limit": Rule(Scope.ACCOUNT, retryable=True, hold=Hold.BACKOFF),
    "max-daily-bandwidth": Rule(Scope.ACCOUNT, retryable=True, hold=Hold.MIDNIGHT),
    "max-daily-bandwidth-from-ip": Rule(Scope.ACCOUNT, retryable=True, hold=Hold.MIDNIGHT),
    "blocked-client-ip": Rule(Scope.ACCOUNT, retryable=False, hold=Hold.MIDNIGHT),
    # Save Page Now itself.
    "internal-server-error": _SERVICE,
    "job-failed": _SERVICE,
    "no-browsers-available": _SERVICE,
    "celery": _SERVICE,
    "cannot-fetch": _SERVICE,  # "system overload"
    "capture-location-error": _SERVICE,
    "proxy-error": _SERVICE,
}

# HTTP answers of ``POST /save`` (and the status polls) that carry no ``status_ext``.
HTTP_STATUS: dict[int, Rule] = {
    401: Rule(Scope.ACCOUNT, retryable=False, hold=Hold.FIXED, seconds=3600.0),  # keys missing or refused
    403: Rule(Scope.ACCOUNT, retryable=False, hold=Hold.FIXED, seconds=3600.0),
    429: Rule(Scope.ACCOUNT, retryable=True, hold=Hold.RETRY_AFTER),  # captures a minute
}
DAILY_CAPTURES = "daily-captures"  # /save/status/user says the account's day is used up
ACCOUNT_RULES: dict[str, Rule] = {DAILY_CAPTURES: Rule(Scope.ACCOUNT, retryable=True, hold=Hold.MIDNIGHT)}


def seconds_to_midnight(now: datetime) -> float:
    """Daily limits reset at 00:00 UTC."""
    day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return (day + timedelta(days=1) - now).total_seconds()


def rule_for(code: str) -> Rule:
    """The rule of a ``status_ext`` (any spelling), ``http-<status>`` or an account code; anything
    unknown is taken as a service failure worth retrying."""
    key = code.strip().lower().removeprefix("error:")
    if key.startswith("http-") and key[5:].isdigit():
        status = int(key[5:])
        if status in HTTP_STATUS:
            return HTTP_STATUS[status]
        return _SERVICE if status >= 500 or status in {408, 425} else _URL_FINAL
    return STATUS_EXT.get(key) or ACCOUNT_RULES.get(key) or _SERVICE


_REASONS = {
    (Scope.ACCOUNT, True): SourceReason.WAYBACK_RATE_LIMITED,
    (Scope.HOST, True): SourceReason.WAYBACK_RATE_LIMITED,
    (Scope.SERVICE, True): SourceReason.WAYBACK_UNAVAILABLE,
    (Scope.URL, True): SourceReason.WAYBACK_UNAVAILABLE,
}


class SpnError(ArchiveError):
    """A Save Page Now refusal or failure with its ``code`` (``status_ext`` or ``http-<n>``), its
    rule from the table and, when the server named one, its ``Retry-After`` in seconds."""

    def __init__(self, code: str, message: str = "", *, retry_after_s: float | None = None) -> None:
        self.code = code.strip().lower().removeprefix("error:")
        self.rule = rule_for(self.code)
        self.retry_after_s = retry_after_s
        text = f"{self.code}: {message}" if message else self.code
        reason = _REASONS.get((self.rule.scope, self.rule.retryable), SourceReason.WAYBACK_REFUSED)
        super().__init__(text, reason=reason)


def hold_seconds(rule: Rule, *, now: datetime, backoff_s: float, retry_after_s: float | None) -> float:
    """How long the rule's scope is left alone, from ``now``."""
    if rule.hold is Hold.MIDNIGHT:
        return seconds_to_midnight(now)
    if rule.hold is Hold.FIXED:
        return rule.seconds
    if rule.hold is Hold.RETRY_AFTER and retry_after_s is not None:
        return max(retry_after_s, 0.0)
    if rule.hold is Hold.NONE:
        return 0.0
    return backoff_s
