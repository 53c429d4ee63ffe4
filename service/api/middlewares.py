"""Request ids and access logs, errors as JSON, CORS, API keys and rate limits.

Order (outermost first): ``observe`` sees every final status; ``cors_preflight`` answers OPTIONS
before any key is asked for; ``errors`` turns every failure into ``{"error": {...}}``; ``access``
checks the key and the rate. CORS headers are added in ``on_response_prepare`` so that they reach
error answers and event streams too.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Awaitable, Callable
from http import HTTPStatus

import structlog
from aiohttp import web

from service.api import keys
from service.api.schemas import RequestError
from service.pipeline import PipelineError

log = structlog.get_logger("service.api.access")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
CORS_HEADERS = "Authorization, Content-Type, Last-Event-ID, X-API-Key, X-Request-ID"
CORS_METHODS = "GET, POST, OPTIONS"
OPEN_PATHS = frozenset(
    {"/", "/healthz", "/readyz", "/metrics", "/openapi.json", "/extension.zip", "/extension-firefox.zip"}
)


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status, headers=headers)


def _code(status: int) -> str:
    try:
        return HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        return "http_error"


@web.middleware
async def observe(request: web.Request, handler: Handler) -> web.StreamResponse:
    """One request id (taken from ``X-Request-ID`` when sane), bound to every log line of the
    request and returned in the answer; one access-log line and the metrics per request."""
    given = request.headers.get("X-Request-ID", "")
    request_id = given if _REQUEST_ID.fullmatch(given) else secrets.token_hex(8)
    request[keys.REQUEST_ID] = request_id
    structlog.contextvars.bind_contextvars(request_id=request_id)
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    finally:
        elapsed = time.perf_counter() - started
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else "unmatched"
        metrics = request.app[keys.METRICS]
        metrics.requests.labels(route=route, method=request.method, status=str(status)).inc()
        metrics.latency.labels(route=route).observe(elapsed)
        log.info("request", method=request.method, path=request.path, route=route, status=status,
                 ms=round(elapsed * 1000, 1), key=request.get(keys.KEY_ID))  # fmt: skip
        structlog.contextvars.unbind_contextvars("request_id")


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure as ``{"error": {"code", "message"}}``: never a traceback, never HTML."""
    try:
        return await handler(request)
    except RequestError as exc:
        return error_response(exc.status, exc.code, exc.message, exc.headers)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        headers = {k: v for k, v in exc.headers.items() if k.lower() in {"allow", "retry-after"}}
        return error_response(exc.status, _code(exc.status), exc.reason, headers)
    except PipelineError as exc:
        return error_response(400, str(exc.reason), str(exc)[:300])
    except Exception:
        log.exception("unhandled_error", path=request.path)
        return error_response(500, "internal_error", "the server failed on this request; it is logged")


def _allowed_origin(request: web.Request) -> str | None:
    origin = request.headers.get("Origin")
    if origin and origin in request.app[keys.SETTINGS].api.cors_origins:
        return origin
    return None


@web.middleware
async def cors_preflight(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer a CORS preflight: allowed origins get the methods and headers, others a 403."""
    if request.method != "OPTIONS" or "Access-Control-Request-Method" not in request.headers:
        return await handler(request)
    if _allowed_origin(request) is None:
        return error_response(403, "origin_not_allowed", "this origin may not call the API")
    return web.Response(status=204, headers={"Access-Control-Allow-Methods": CORS_METHODS,
                                             "Access-Control-Allow-Headers": CORS_HEADERS,
                                             "Access-Control-Max-Age": "600"})  # fmt: skip


async def add_cors_headers(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: the allow-origin header on every answer, streams and errors too."""
    origin = _allowed_origin(request)
    if origin is not None:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Vary"] = "Origin"
        response.headers["Access-Control-Expose-Headers"] = "Retry-After, X-Request-ID"
    if keys.REQUEST_ID in request:
        response.headers["X-Request-ID"] = request[keys.REQUEST_ID]


def _token(request: web.Request) -> str | None:
    auth = request.headers.get("Authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip() or None
    # EventSource cannot send headers: the stream may carry the key in its query.
    return request.headers.get("X-API-Key") or request.query.get("key") or None


@web.middleware
async def access(request: web.Request, handler: Handler) -> web.StreamResponse:
    """API keys (unless the server is open) and the per-key rate limit, for every ``/v1/`` route."""
    if not request.path.startswith("/v1/"):
        return await handler(request)
    app = request.app
    token = _token(request)
    if token is not None:
        key = app[keys.KEYSTORE].check(token)
        if key is None:
            raise RequestError(401, "bad_key", "this API key is unknown or revoked")
        request[keys.KEY_ID] = key.id
    elif not app[keys.OPEN_ACCESS]:
        raise RequestError(401, "key_required", "send an API key: Authorization: Bearer <key> or X-API-Key")
    who = str(request.get(keys.KEY_ID) or f"ip:{request.remote or '?'}")
    limiter, rate = app[keys.LIMITER], app[keys.RATE]
    if not await limiter.hit(rate, who):
        stats = await limiter.get_window_stats(rate, who)
        wait = max(1, int(stats.reset_time - time.time()) + 1)
        raise RequestError(
            429, "rate_limited", f"more than {rate} for this key", headers={"Retry-After": str(wait)}
        )
    return await handler(request)
