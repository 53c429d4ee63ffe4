"""The whole URL map on one screen."""

from __future__ import annotations

from aiohttp import web

from service.api import extension, handlers
from service.api.openapi import openapi

ROUTES = [
    web.post("/v1/verify", handlers.verify, name="verify"),
    web.get("/v1/jobs/{id}", handlers.job_status, name="job"),
    web.get("/v1/jobs/{id}/events", handlers.job_events, name="job_events"),
    web.get("/v1/jobs/{id}/report.html", handlers.job_report_html, name="job_report_html"),
    web.post("/v1/check", handlers.check, name="check"),
    web.get("/v1/sources", handlers.sources, name="sources"),
    web.post("/v1/batches", handlers.create_batch, name="batches"),
    web.get("/v1/batches/{id}", handlers.batch_status, name="batch"),
    web.get("/healthz", handlers.healthz, name="healthz"),
    web.get("/readyz", handlers.readyz, name="readyz"),
    web.get("/metrics", handlers.metrics, name="metrics"),
    web.get("/openapi.json", openapi, name="openapi"),
    web.get("/", handlers.index, name="index"),
    web.get("/extension.zip", extension.chromium_zip, name="extension_zip"),
    web.get("/extension-firefox.zip", extension.firefox_zip, name="extension_firefox_zip"),
]
