"""Validation of untrusted request bodies: every problem is a ``RequestError`` with a 4xx."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

# RFC 3339 date-time, as JSON Schema's "date-time" format means it (the API is stricter than the CLI,
# which also takes a bare date).
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})")


def rfc3339_for_python(value: str) -> str:
    """A leap second (``:60``) as the last instant before it: Python's datetime has no leap seconds."""
    return value[:17] + "59.999999" + value[19:].lstrip(".0123456789") if value[17:19] == "60" else value


class RequestError(Exception):
    """A request the API refuses: its HTTP status, a stable code, a one-line message."""

    def __init__(self, status: int, code: str, message: str, *, headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = dict(headers or {})


async def read_body(request: web.Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it passes ``limit`` bytes: a declared length over the
    limit is refused before a byte is read, an undeclared (chunked) one as it streams in."""
    if request.content_length is not None and request.content_length > limit:
        raise RequestError(413, "body_too_large", f"the body is over {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await request.content.read(65536)
        if not chunk:
            break
        size += len(chunk)
        if size > limit:
            raise RequestError(413, "body_too_large", f"the body is over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def json_object(body: bytes) -> dict[str, Any]:
    """A JSON object from a body, or a 400 saying what is wrong with it."""
    try:
        data = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise RequestError(400, "bad_json", f"the body is not UTF-8 (byte {exc.start})") from exc
    except (ValueError, RecursionError) as exc:
        raise RequestError(400, "bad_json", "the body is not JSON") from exc
    if not isinstance(data, dict):
        raise RequestError(400, "bad_json", "the body must be a JSON object")
    return data


@dataclass(frozen=True, slots=True)
class Field:
    """One string field of a request body; ``choices`` and ``format`` also go into the OpenAPI document."""

    name: str
    required: bool = False
    max_chars: int | None = None
    choices: tuple[str, ...] = ()
    format: str | None = None


def check_fields(data: Mapping[str, Any], fields: tuple[Field, ...]) -> None:
    """Known fields only, required ones present, every one a string within its length."""
    known = {f.name for f in fields}
    unknown = sorted(set(data) - known)
    if unknown:
        raise RequestError(
            400, "unknown_field", f"unknown field {unknown[0]!r} (known: {', '.join(sorted(known))})"
        )
    for f in fields:
        value = data.get(f.name)
        if value is None:
            if f.required:
                raise RequestError(400, "missing_field", f"{f.name!r} is required")
            continue
        if not isinstance(value, str):
            raise RequestError(400, "wrong_type", f"{f.name!r} must be a string")
        if f.max_chars is not None and len(value) > f.max_chars:
            raise RequestError(400, "too_long", f"{f.name!r} is longer than {f.max_chars} characters")
        if f.format == "date-time" and not _RFC3339.fullmatch(value):
            raise RequestError(
                400, "bad_input", f"{f.name!r} must be an RFC 3339 date-time (2023-12-10T14:23:38Z)"
            )
        if f.choices and value not in f.choices:
            raise RequestError(400, "bad_input", f"{f.name!r} must be one of {', '.join(f.choices)}")


def flag(request: web.Request, name: str, default: bool) -> bool:
    """A true/false query parameter; anything else is a 400."""
    raw = request.query.get(name)
    if raw is None:
        return default
    if raw not in ("true", "false"):
        raise RequestError(400, "bad_parameter", f"{name} must be true or false")
    return raw == "true"


VERIFY_FIELDS = (
    Field("text", required=True),
    Field("format", choices=("auto", "text", "markdown", "html")),
    Field("posted_at", format="date-time"),
    Field("id", max_chars=200),
)
CHECK_FIELDS = (
    Field("quote", required=True, max_chars=5000),
    Field("url", required=True, max_chars=4096),
    Field("html"),
)
