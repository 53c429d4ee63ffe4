"""A post as callers hand it over: a JSON object (a batch line, an API body), a format name, a date.

Pure validation of untrusted input; every problem is an ``InputError`` whose message says which
field is wrong. Shared by ``verify`` (the CLI), ``batch`` and the HTTP API.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from service.pipeline.errors import InputError
from service.pipeline.models import InputFormat, Post
from service.pipeline.posts.reader import MAX_POST_CHARS, check_length, parse_post

__all__ = ["MAX_POST_CHARS", "parse_format", "parse_posted_at", "post_from_mapping"]


def parse_posted_at(value: str) -> datetime:
    """ISO-8601 with ``Z`` or an offset; a time without a zone is taken as UTC."""
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        raise InputError(f"posted_at is not an ISO-8601 date: {value!r}") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_format(value: str) -> InputFormat:
    """An input format by name (``auto``, ``text``, ``markdown``, ``html``)."""
    try:
        return InputFormat(value)
    except ValueError as exc:
        choices = ", ".join(f.value for f in InputFormat)
        raise InputError(f"unknown input format {value!r} (choose from {choices})") from exc


def post_from_mapping(
    data: Mapping[str, Any],
    *,
    default_format: InputFormat = InputFormat.AUTO,
    max_chars: int = MAX_POST_CHARS,
) -> Post:
    """A post from a batch line or an API body: ``{"id"?, "text", "format"?, "posted_at"?}``."""
    text = data.get("text")
    if not isinstance(text, str):
        raise InputError('"text" must be a string')
    check_length(text, max_chars)
    post_id = data.get("id")
    if post_id is not None and not isinstance(post_id, (str, int)):
        raise InputError('"id" must be a string')
    fmt = data.get("format") or default_format.value
    if not isinstance(fmt, str):
        raise InputError('"format" must be a string')
    posted = data.get("posted_at")
    if posted is not None and not isinstance(posted, str):
        raise InputError('"posted_at" must be an ISO-8601 string')
    return parse_post(
        text,
        parse_format(fmt),
        id=None if post_id is None else str(post_id),
        posted_at=parse_posted_at(posted) if posted else None,
        max_chars=max_chars,
    )
