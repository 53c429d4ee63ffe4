"""Every ``web.AppKey`` of the API (style R7): typed, and the only place they are named."""

from __future__ import annotations

from collections import OrderedDict

from aiohttp import web
from limits import RateLimitItem
from limits.aio.strategies import SlidingWindowCounterRateLimiter

from service.api.credentials import KeyStore
from service.api.jobs import JobStore
from service.api.metrics import Metrics
from service.api.queued import QueuedJobs
from service.pipeline import Deps
from service.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
DEPS = web.AppKey("deps", Deps)
JOBS = web.AppKey("jobs", JobStore)
KEYSTORE = web.AppKey("keystore", KeyStore)
OPEN_ACCESS = web.AppKey("open_access", bool)
LIMITER = web.AppKey("limiter", SlidingWindowCounterRateLimiter)
RATE = web.AppKey("rate", RateLimitItem)
METRICS = web.AppKey("metrics", Metrics)
QUEUED = web.AppKey("queued", QueuedJobs)
"""Present when the deployment has Redis: verifications then run on the queue workers."""
CHECK_CACHE = web.AppKey("check_cache", OrderedDict[tuple[str, str, str | None], bytes])

REQUEST_ID = web.RequestKey("request_id", str)
KEY_ID = web.RequestKey("key_id", str)
