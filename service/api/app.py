"""The app factory: settings in, a ``web.Application`` out (style R9); no import-time side effects.

Every resource is opened and closed by one ``cleanup_ctx`` generator: the pipeline's collaborators
(``open_deps``: fetcher or replay archive, extraction pool, evidence store, Save Page Now runner),
and the job store with its sweeper.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import replace

import structlog
from aiohttp import web
from limits import parse
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.storage import storage_from_string
from redis.exceptions import RedisError

from service.api import keys, middlewares
from service.api.credentials import REFRESH_S, KeyStore, KeyStoreError, RedisKeyStore
from service.api.handlers import STATIC
from service.api.jobs import JobStore
from service.api.metrics import Metrics
from service.api.queued import QueuedJobs
from service.api.routes import ROUTES
from service.pipeline import open_deps
from service.pipeline.state import SourceCache
from service.pipeline.streams import RedisNames, connect
from service.settings import Settings

SWEEP_S = 60.0
log = structlog.get_logger(__name__)


class OpenOnPublicInterface(Exception):
    """Refusing to serve without API keys on an address others can reach."""


def is_loopback(host: str) -> bool:
    if host in {"localhost", "localhost."}:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def open_access(settings: Settings) -> bool:
    """No keys needed: as configured, else only when listening on loopback. Open on a public
    interface only with ``allow_open_public``."""
    api = settings.api
    wanted = api.open_access if api.open_access is not None else is_loopback(api.host)
    if wanted and not is_loopback(api.host) and not api.allow_open_public:
        raise OpenOnPublicInterface(
            f"refusing to serve {api.host} without API keys: create one (provenance keys create) "
            "or pass --allow-open-public"
        )
    return wanted


async def _pipeline(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    async with open_deps(settings) as deps:
        # A server runs for days: what it read of a page, or of a host's soft-404 probe, is read
        # again once it is this old.
        max_age_s = settings.api.source_max_age_s
        app[keys.DEPS] = replace(
            deps, cache=SourceCache(max_age_s=max_age_s), probes=SourceCache(max_age_s=max_age_s)
        )
        yield


async def _shared(app: web.Application) -> AsyncIterator[None]:
    """With Redis: verifications go to the queue workers, API keys come from Redis (re-read every
    ``REFRESH_S`` by a background task), and the client is closed with the app."""
    settings = app[keys.SETTINGS]
    if settings.redis_url is None:
        yield
        return
    redis = connect(settings.redis_url)
    store = app[keys.KEYSTORE]
    refresher: asyncio.Task[None] | None = None
    if isinstance(store, RedisKeyStore):
        await store.refresh(redis)

        async def refresh() -> None:
            while True:
                await asyncio.sleep(REFRESH_S)
                try:
                    await store.refresh(redis)
                except (RedisError, OSError, KeyStoreError) as exc:  # keep the last snapshot
                    log.warning("api_keys_not_refreshed", error=str(exc))

        refresher = asyncio.get_running_loop().create_task(refresh())
    app[keys.QUEUED] = QueuedJobs(redis, settings)
    try:
        yield
    finally:
        if refresher is not None:
            refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await refresher
        await redis.aclose()


async def _jobs(app: web.Application) -> AsyncIterator[None]:
    store = app[keys.JOBS]

    async def sweep() -> None:
        while True:
            await asyncio.sleep(SWEEP_S)
            store.sweep()

    sweeper = asyncio.get_running_loop().create_task(sweep())
    yield
    sweeper.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await sweeper
    await store.close()


def _limit_storage(settings: Settings) -> Storage:
    """Rate-limit counters shared by every API process through Redis when configured, else local."""
    if settings.redis_url is None:
        return MemoryStorage()
    uri = "async+" + settings.redis_url
    storage = storage_from_string(
        uri, implementation="redispy", key_prefix=f"{settings.redis_prefix}:ratelimit"
    )
    assert isinstance(storage, Storage)
    return storage


def create_app(settings: Settings) -> web.Application:
    """The API for these settings (``provenance serve``, tests, the browser tests)."""
    app = web.Application(
        middlewares=[middlewares.observe, middlewares.cors_preflight, middlewares.errors, middlewares.access],
        client_max_size=settings.api.max_batch_bytes,
    )
    app[keys.SETTINGS] = settings
    app[keys.OPEN_ACCESS] = open_access(settings)
    app[keys.JOBS] = JobStore(settings.api.job_ttl_s)
    app[keys.KEYSTORE] = (
        RedisKeyStore(RedisNames(settings.redis_prefix))
        if settings.redis_url
        else KeyStore(settings.data_dir)
    )
    app[keys.LIMITER] = SlidingWindowCounterRateLimiter(_limit_storage(settings))
    app[keys.RATE] = parse(settings.api.rate_limit)
    app[keys.METRICS] = Metrics()
    app[keys.CHECK_CACHE] = OrderedDict[tuple[str, str, str | None], bytes]()
    app.on_response_prepare.append(middlewares.add_cors_headers)
    app.cleanup_ctx.extend([_pipeline, _shared, _jobs])
    app.add_routes(ROUTES)
    if STATIC.is_dir():
        app.router.add_static("/static/", str(STATIC), name="static")
    return app
