"""``/openapi.json``: the API described (OpenAPI 3.1), its report schema taken from the pipeline.

The report's schema is ``service.pipeline.report.schema`` itself, so the document cannot drift from
what ``--format json`` writes; request bodies mirror ``schemas.py``'s field lists.
"""

from __future__ import annotations

import functools
from importlib import metadata
from typing import Any

from aiohttp import web

from service.api.schemas import CHECK_FIELDS, VERIFY_FIELDS, Field
from service.pipeline.report.schema import QUOTE, REPORT, SOURCE, SOURCE_REASON, WARC_ENTRY

_STR = {"type": "string"}
_OPT_STR = {"type": ["string", "null"]}
ERROR = {
    "type": "object",
    "required": ["error"],
    "additionalProperties": False,
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": _STR, "message": _STR},
        }
    },
}
JOB_STATUS = {"type": "string", "enum": ["queued", "running", "done", "failed"]}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _body(fields: tuple[Field, ...]) -> dict[str, Any]:
    props: dict[str, Any] = {}
    for f in fields:
        schema: dict[str, Any] = {"type": "string" if f.required else ["string", "null"]}
        if f.max_chars is not None:
            schema["maxLength"] = f.max_chars
        if f.choices:
            schema["enum"] = list(f.choices)
        if f.format:
            schema["format"] = f.format
        props[f.name] = schema
    return {
        "type": "object",
        "properties": props,
        "required": [f.name for f in fields if f.required],
        "additionalProperties": False,
    }


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


SSE_EVENT = {
    "type": "object",
    "description": "one server-sent event; data is JSON (the report, last)",
    "required": ["event", "data"],
    "properties": {
        "event": {
            "enum": ["post_started", "source_read", "quote_judged", "post_finished", "report", "error"]
        },
        "data": {"type": "string", "contentMediaType": "application/json"},
        "id": {"type": "string", "pattern": "^[0-9]+$"},
    },
}
ERRORS = {"default": _json(_ref("Error"), "an error: {error: {code, message}}")}
NDJSON = {
    "type": "string",
    "pattern": "\\S",
    "description": "one JSON post a line: {id, text, format?, posted_at?}",
}
JOB_LINKS = {
    name: {"operationId": op, "parameters": {"id": "$response.body#/job"}}
    for name, op in (("status", "job"), ("events", "jobEvents"), ("html", "jobReportHtml"))
}
ZIP = {"type": "string", "format": "binary"}
ID = [{"name": "id", "in": "path", "required": True, "schema": _STR}]


@functools.cache
def document() -> dict[str, Any]:
    """The OpenAPI document (built once: it depends on nothing that changes while serving)."""
    accepted = {
        "type": "object",
        "required": ["job", "events", "status_url"],
        "properties": {"job": _STR, "events": _STR, "status_url": _STR},
    }
    job = {
        "type": "object",
        "required": ["job", "status", "text", "format", "report", "error"],
        "properties": {
            "job": _STR,
            "status": JOB_STATUS,
            "text": _STR,
            "format": {"enum": ["auto", "text", "markdown", "html"]},
            "report": {"oneOf": [_ref("Report"), {"type": "null"}]},
            "error": {"type": ["object", "null"]},
        },
    }
    check = {
        **QUOTE,
        "properties": {
            **QUOTE["properties"],
            "evidence": {"enum": ["fetched", "client"]},
            "client_sha256": _OPT_STR,
            "source_status": _STR,
        },
        "required": [*QUOTE["required"], "evidence", "client_sha256", "source_status"],
    }
    source_info = {
        "type": "object",
        "required": ["url", "key", "source", "warc_captures"],
        "properties": {
            "url": _STR,
            "key": _STR,
            "source": {"oneOf": [_ref("Source"), {"type": "null"}]},
            "warc_captures": {"type": "array", "items": {"type": "object"}},
        },
    }
    batch = {
        "type": "object",
        "required": ["batch", "status"],
        "properties": {"batch": _STR, "status": JOB_STATUS},
    }
    paths: dict[str, Any] = {
        "/v1/verify": {
            "post": {
                "summary": "Verify one post",
                "operationId": "verify",
                "parameters": [
                    {"name": "wait", "in": "query", "schema": {"type": "string", "enum": ["true", "false"]}}
                ],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _body(VERIFY_FIELDS)}},
                },
                "responses": {
                    "200": _json(_ref("Report"), "the report"),
                    "202": {**_json(accepted, "still running (or wait=false): the job"), "links": JOB_LINKS},
                    **ERRORS,
                },
            }
        },
        "/v1/jobs/{id}": {
            "get": {
                "summary": "A job and, when done, its report",
                "operationId": "job",
                "parameters": ID,
                "responses": {"200": _json(job, "the job"), **ERRORS},
            }
        },
        "/v1/jobs/{id}/events": {
            "get": {
                "summary": "Progress as server-sent events, then the report",
                "operationId": "jobEvents",
                "parameters": ID,
                "responses": {
                    "200": {
                        "description": "text/event-stream",
                        "content": {"text/event-stream": {"schema": SSE_EVENT}},
                    },
                    **ERRORS,
                },
            }
        },
        "/v1/jobs/{id}/report.html": {
            "get": {
                "summary": "The self-contained HTML report",
                "operationId": "jobReportHtml",
                "parameters": ID,
                "responses": {
                    "200": {"description": "HTML", "content": {"text/html": {"schema": _STR}}},
                    **ERRORS,
                },
            }
        },
        "/v1/check": {
            "post": {
                "summary": "One quote against one page (browser extension)",
                "operationId": "check",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _body(CHECK_FIELDS)}},
                },
                "responses": {"200": _json(check, "the quote, judged"), **ERRORS},
            }
        },
        "/v1/sources": {
            "get": {
                "summary": "What is known of a URL",
                "operationId": "sources",
                "parameters": [{"name": "url", "in": "query", "required": True, "schema": _STR}],
                "responses": {"200": _json(source_info, "what is known"), **ERRORS},
            }
        },
        "/v1/batches": {
            "post": {
                "summary": "Many posts (NDJSON)",
                "operationId": "createBatch",
                "requestBody": {
                    "required": True,
                    "content": {"application/x-ndjson": {"schema": NDJSON}, "text/plain": {"schema": NDJSON}},
                },
                "responses": {
                    "202": {
                        **_json(
                            {"type": "object", "required": ["batch"], "properties": {"batch": _STR}},
                            "the batch",
                        ),
                        "links": {
                            "progress": {
                                "operationId": "batch",
                                "parameters": {"id": "$response.body#/batch"},
                            }
                        },
                    },
                    **ERRORS,
                },
            }
        },
        "/v1/batches/{id}": {
            "get": {
                "summary": "A batch's progress, then its reports (NDJSON)",
                "operationId": "batch",
                "parameters": ID,
                "responses": {
                    "200": {
                        "description": "progress (JSON) or the reports (NDJSON)",
                        "content": {
                            "application/json": {"schema": batch},
                            "application/x-ndjson": {"schema": _STR},
                        },
                    },
                    **ERRORS,
                },
            }
        },
        "/healthz": {
            "get": {
                "summary": "Liveness",
                "operationId": "healthz",
                "responses": {"200": _json({"type": "object"}, "alive"), **ERRORS},
            }
        },
        "/readyz": {
            "get": {
                "summary": "Readiness",
                "operationId": "readyz",
                "responses": {"200": _json({"type": "object"}, "ready"), **ERRORS},
            }
        },
        **{
            path: {
                "get": {
                    "summary": f"The reference browser extension for {browser} (a zip to load unpacked)",
                    "operationId": op,
                    "responses": {
                        "200": {
                            "description": "the extension's folder, zipped",
                            "content": {"application/zip": {"schema": ZIP}},
                        },
                        **ERRORS,
                    },
                }
            }
            for path, op, browser in (
                ("/extension.zip", "extensionZip", "Chromium"),
                ("/extension-firefox.zip", "extensionFirefoxZip", "Firefox"),
            )
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics",
                "operationId": "metrics",
                "responses": {
                    "200": {"description": "exposition", "content": {"text/plain": {"schema": _STR}}}
                },
            }
        },
    }
    try:
        version = metadata.version("provenance-verify")
    except metadata.PackageNotFoundError:
        version = "0"
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "provenance",
            "version": version,
            "description": "Check every quoted passage of a post against the pages it cites.",
        },
        "paths": paths,
        "components": {
            "schemas": {
                "Report": REPORT,
                "Source": SOURCE,
                "Quote": QUOTE,
                "Error": ERROR,
                "WarcEntry": WARC_ENTRY,
                "SourceReason": SOURCE_REASON,
            },
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            },
        },
        "security": [{}, {"bearer": []}, {"apiKey": []}],
    }


async def openapi(request: web.Request) -> web.Response:
    """GET /openapi.json."""
    return web.json_response(document())
