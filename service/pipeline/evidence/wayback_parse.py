"""Pure readers of the Wayback Machine's answers: CDX rows, availability, Save Page Now 2 replies.

Kept apart from the client (``wayback.py``) so every quirk is unit-tested on payloads alone: SPN2
reports most failures inside HTTP 200 (``{"status": "error", "status_ext": ...}``); what each one
means (its scope, whether to retry, how long to wait) is ``spn_errors.py``'s table.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Any

from service.pipeline.errors import ArchiveError, WaybackUnavailable
from service.pipeline.evidence.spn_errors import SpnError, seconds_to_midnight

__all__ = ["seconds_to_midnight"]  # re-exported: older callers import it from here

TS_FORMAT = "%Y%m%d%H%M%S"
CDX_FIELDS = ("urlkey", "timestamp", "original", "mimetype", "statuscode", "digest", "length")
_REPLAY = re.compile(r"/web/\d{1,14}(?:[a-z]{2}_)?/(.+)$")


def format_timestamp(when: datetime) -> str:
    """A datetime as the archive's 14-digit UTC timestamp (a naive datetime is taken as UTC)."""
    aware = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime(TS_FORMAT)


def parse_timestamp(text: str) -> datetime | None:
    """A 14-digit archive timestamp as an aware UTC datetime; None when it is not one."""
    if len(text) != 14 or not (text.isascii() and text.isdigit()):
        return None
    try:
        return datetime.strptime(text, TS_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One capture in the archive: when, of which URL, and what the archive recorded about it."""

    timestamp: datetime
    original: str
    status: int | None = None
    digest: str | None = None
    mime: str | None = None
    length: int | None = None

    @property
    def ts14(self) -> str:
        return format_timestamp(self.timestamp)

    def replay_url(self, base_url: str) -> str:
        """The page a reader opens (rewritten by the Wayback Machine)."""
        return f"{base_url.rstrip('/')}/web/{self.ts14}/{self.original}"

    def raw_url(self, base_url: str) -> str:
        """The capture verbatim (``id_``): the bytes the archive received."""
        return f"{base_url.rstrip('/')}/web/{self.ts14}id_/{self.original}"


class SpnState(StrEnum):
    PENDING = "pending"
    SUCCESS = "success"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class SpnStatus:
    """One answer of ``/save/status/<job_id>``."""

    state: SpnState
    job_id: str | None = None
    timestamp: datetime | None = None
    original_url: str | None = None
    status_ext: str | None = None
    message: str = ""
    original_job_id: str | None = None


def _opt(value: object) -> str | None:
    text = str(value) if value is not None else ""
    return None if text in {"", "-"} else text


def _int(value: object) -> int | None:
    text = _opt(value)
    return int(text) if text is not None and text.isascii() and text.isdigit() else None


def _rows(fields: tuple[str, ...], rows: list[Any]) -> list[Snapshot]:
    if "timestamp" not in fields or "original" not in fields:
        raise ArchiveError(f"CDX answer without timestamp/original fields: {list(fields)[:10]}")
    at = {name: i for i, name in enumerate(fields)}
    out: list[Snapshot] = []
    for row in rows:
        if not isinstance(row, list) or len(row) != len(fields):
            continue
        when = parse_timestamp(str(row[at["timestamp"]]))
        if when is None:
            continue
        get = {name: row[i] for name, i in at.items()}.get
        out.append(
            Snapshot(when, str(row[at["original"]]), status=_int(get("statuscode")),
                     digest=_opt(get("digest")), mime=_opt(get("mimetype")), length=_int(get("length")))
        )  # fmt: skip
    return out


def parse_cdx_rows(data: str | bytes | list[Any]) -> list[Snapshot]:
    """CDX output, JSON (row 0 names the fields) or plain text (the 7 default fields); skips bad rows."""
    if isinstance(data, bytes):
        data = data.decode("utf-8", "replace")
    if isinstance(data, str):
        text = data.strip()
        if not text.startswith(("[", "{")):
            return _rows(CDX_FIELDS, [line.split() for line in text.splitlines() if line.strip()])
        try:
            data = json.loads(text)
        except ValueError as e:
            raise ArchiveError("CDX answer is not valid JSON") from e
    if not isinstance(data, list):
        raise ArchiveError("CDX answer is not a list of rows")
    if not data:
        return []
    header = data[0]
    if not isinstance(header, list) or not all(isinstance(name, str) for name in header):
        raise ArchiveError("CDX answer has no header row")
    return _rows(tuple(header), data[1:])


REVISIT_MIME = "warc/revisit"


def latest_at_or_before(rows: list[Snapshot], when: datetime) -> Snapshot | None:
    """The latest capture of a page at or before ``when`` among CDX rows in any order: a 200 row,
    or a ``warc/revisit`` row (the same content as an earlier capture) unless the rows show that
    content was a non-200 answer. Other rows (redirects, errors) are not the page."""
    moment = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
    not_pages = {
        r.digest for r in rows if r.mime != REVISIT_MIME and r.status not in (None, 200) and r.digest
    }
    pages = {r.digest for r in rows if r.mime != REVISIT_MIME and r.status == 200 and r.digest}

    def is_page(row: Snapshot) -> bool:
        if row.mime == REVISIT_MIME or row.status is None:
            return row.digest in pages or row.digest not in not_pages
        return row.status == 200

    return max(
        (r for r in rows if r.timestamp <= moment and is_page(r)), key=lambda r: r.timestamp, default=None
    )


def parse_availability(data: Any) -> Snapshot | None:
    """The availability API's one ``closest`` capture, or None (``{}`` or ``available: false``)."""
    if not isinstance(data, dict):
        raise ArchiveError("availability answer is not a JSON object")
    archived = data.get("archived_snapshots")
    closest = archived.get("closest") if isinstance(archived, dict) else None
    if not isinstance(closest, dict) or closest.get("available") is False:
        return None
    when = parse_timestamp(str(closest.get("timestamp", "")))
    if when is None:
        return None
    found = _REPLAY.search(str(closest.get("url", "")))
    original = found.group(1) if found else str(data.get("url", ""))
    return Snapshot(when, original, status=_int(closest.get("status")))


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds: a number, or an HTTP date when ``now`` is known."""
    if not value:
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    if now is None:
        return None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def normalize_status_ext(value: object) -> str | None:
    """``"error:user-session-limit"`` and ``"user-session-limit"`` are the same answer."""
    text = _opt(value)
    return text.strip().lower().removeprefix("error:") if text else None


def spn_error(status_ext: str | None, message: str = "", *, retry_after_s: float | None = None) -> SpnError:
    """The error an SPN2 failure stands for; ``spn_errors.STATUS_EXT`` says what it means."""
    ext = normalize_status_ext(status_ext)
    if ext is None and "limit of active sessions" in message.lower():
        ext = "user-session-limit"
    return SpnError(ext or "unknown", message or "Save Page Now error", retry_after_s=retry_after_s)


def parse_spn_submit(
    status: int, data: Any, *, retry_after: str | None = None, now: datetime | None = None
) -> str:
    """The job id of an accepted ``POST /save``; otherwise raise the ``SpnError`` it means."""
    message = str(data.get("message", "")) if isinstance(data, dict) else ""
    if status != 200:
        wait = parse_retry_after(retry_after, now)
        detail = message or ("keys missing or refused" if status in {401, 403} else "")
        text = f"HTTP {status} from Save Page Now {detail}".strip()
        raise SpnError(f"http-{status}", text, retry_after_s=wait)
    if not isinstance(data, dict):
        raise SpnError("http-502", "Save Page Now answered without a JSON object")
    job_id = data.get("job_id")
    if data.get("status") == "error" or not isinstance(job_id, str) or not job_id:
        raise spn_error(data.get("status_ext"), message, retry_after_s=parse_retry_after(retry_after, now))
    return job_id


@dataclass(frozen=True, slots=True)
class UserStatus:
    """``/save/status/user``: capture sessions free and running; today's captures when reported."""

    available: int
    processing: int
    daily_captures: int | None = None
    daily_captures_limit: int | None = None

    @property
    def day_used_up(self) -> bool:
        used, limit = self.daily_captures, self.daily_captures_limit
        return used is not None and limit is not None and limit > 0 and used >= limit


def parse_user_status(data: Any) -> UserStatus:
    """One ``/save/status/user`` answer (``daily_captures``/``daily_captures_limit`` are optional)."""
    if not isinstance(data, dict):
        raise WaybackUnavailable("SPN user status is not a JSON object")
    return UserStatus(
        available=_int(data.get("available")) or 0,
        processing=_int(data.get("processing")) or 0,
        daily_captures=_int(data.get("daily_captures")),
        daily_captures_limit=_int(data.get("daily_captures_limit")),
    )


def parse_spn_status(data: Any) -> SpnStatus:
    """One ``/save/status/<job_id>`` answer; ``original_job_id`` names the job to poll instead."""
    if not isinstance(data, dict):
        raise WaybackUnavailable("SPN status answer is not a JSON object")
    state, job_id = data.get("status"), _opt(data.get("job_id"))
    original_job_id = _opt(data.get("original_job_id"))
    if state == SpnState.PENDING:
        return SpnStatus(SpnState.PENDING, job_id, original_job_id=original_job_id)
    if state == SpnState.SUCCESS:
        when = parse_timestamp(str(data.get("timestamp", "")))
        if when is None:
            raise WaybackUnavailable(f"SPN success without a timestamp for job {job_id}")
        original = _opt(data.get("original_url"))
        return SpnStatus(SpnState.SUCCESS, job_id, when, original, original_job_id=original_job_id)
    if state == SpnState.ERROR:
        ext = normalize_status_ext(data.get("status_ext"))
        return SpnStatus(SpnState.ERROR, job_id, status_ext=ext, message=str(data.get("message", "")))
    raise WaybackUnavailable(f"unknown SPN status {str(state)[:40]!r}")
