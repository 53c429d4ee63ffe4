"""The JSON report's schema (``provenance.report/1``), as JSON Schema 2020-12.

One source of truth: the API's OpenAPI document embeds it, and tests check that every report the
CLI and the API write validates against it, so the JSON report, ``--format json`` and the API
cannot drift apart. The closed sets come from the enums in ``models.py``.
"""

from __future__ import annotations

from typing import Any

from service.pipeline.models import (
    SCHEMA,
    DiffOp,
    FailureCode,
    QuoteStatus,
    Reason,
    SourceReason,
    SourceStatus,
    TextKind,
    Verdict,
    WaybackStatus,
)

_STR = {"type": "string"}
_OPT_STR = {"type": ["string", "null"]}
_SPAN = {"type": "array", "items": {"type": "integer", "minimum": 0}, "minItems": 2, "maxItems": 2}


def _enum(values: Any) -> dict[str, Any]:
    return {"type": "string", "enum": [v.value for v in values]}


def _object(properties: dict[str, Any], *, nullable: bool = False) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": ["object", "null"] if nullable else "object",
        "properties": properties,
        "required": sorted(properties),
        "additionalProperties": False,
    }
    return schema


SOURCE_REASON = {
    "type": ["string", "null"],
    "anyOf": [{"enum": [r.value for r in SourceReason] + [None]}, {"pattern": "^http_(0|[1-9][0-9]{0,2})$"}],
}

WARC_ENTRY = _object(
    {"file": _STR, "offset": {"type": "integer"}, "length": {"type": ["integer", "null"]},
     "digest": _OPT_STR, "captured_at": _STR},
    nullable=True,
)  # fmt: skip
WAYBACK_ENTRY = _object(
    {"status": _enum(WaybackStatus), "url": _OPT_STR, "timestamp": _OPT_STR, "job_id": _OPT_STR,
     "message": _OPT_STR},
    nullable=True,
)  # fmt: skip
SOURCE = _object(
    {
        "url": _STR, "final_url": _STR,
        "redirects": {"type": "array", "items": _object({"url": _STR, "status": {"type": "integer"}})},
        "status": _enum(SourceStatus), "reason": SOURCE_REASON, "http_status": {"type": ["integer", "null"]},
        "title": _OPT_STR, "author": _OPT_STR, "published": _OPT_STR, "canonical_url": _OPT_STR,
        "sha256": {"type": ["string", "null"], "pattern": "^[0-9a-f]{64}$"}, "fetched_at": _OPT_STR,
        "archive": _object({"warc": WARC_ENTRY, "wayback": WAYBACK_ENTRY}),
        "at_post": _object({"captured_at": _STR, "sha256": _OPT_STR, "archive_url": _OPT_STR}, nullable=True),
    }
)  # fmt: skip
QUOTE_SOURCE = _object(
    {"url": _STR, "text": _enum(TextKind), "span": _SPAN, "exact": _STR, "prefix": _STR, "suffix": _STR,
     "text_fragment_url": _STR},
    nullable=True,
)  # fmt: skip
QUOTE = _object(
    {
        "text": _STR, "post_span": _SPAN, "explicit": {"type": "boolean"}, "cited_url": _OPT_STR,
        "status": _enum(QuoteStatus), "flagged": {"type": "boolean"},
        "score": {"type": "number", "minimum": 0, "maximum": 1}, "source": QUOTE_SOURCE,
        "diff": {"type": "array", "items": _object({"op": _enum(DiffOp), "post": _STR, "source": _STR})},
        "reasons": {"type": "array", "items": _enum(Reason)}, "found_in": _OPT_STR,
    }
)  # fmt: skip
REPORT = _object(
    {
        "schema": {"const": SCHEMA}, "id": _OPT_STR, "posted_at": _OPT_STR, "verdict": _enum(Verdict),
        "checked_at": _STR, "generator": _object({"name": {"const": "provenance"}, "version": _STR}),
        "sources": {"type": "array", "items": SOURCE}, "quotes": {"type": "array", "items": QUOTE},
        "error": _object({"code": _enum(FailureCode), "message": _STR}, nullable=True),
    }
)  # fmt: skip


def report_schema() -> dict[str, Any]:
    """The report's JSON Schema, standalone (with ``$schema`` and ``$id``)."""
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA, **REPORT}
