"""Prometheus metrics of one worker, on its own registry, served on an optional port."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from service.pipeline.streams import ResultMessage

JOB_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


class WorkerMetrics:
    """Jobs done, failed, dead-lettered and reclaimed; job time; fetches; cache hits; stream lag."""

    def __init__(self, port: int | None, *, addr: str = "0.0.0.0") -> None:
        self.registry = CollectorRegistry()
        self.jobs = Counter(
            "provenance_worker_jobs", "Jobs finished, by verdict", ["verdict"], registry=self.registry
        )
        self.failed = Counter(
            "provenance_worker_jobs_failed", "Jobs whose report has an error, by code", ["code"],
            registry=self.registry,
        )  # fmt: skip
        self.dead_lettered = Counter(
            "provenance_worker_jobs_dead_lettered", "Jobs given up after too many deliveries",
            registry=self.registry,
        )  # fmt: skip
        self.reclaimed = Counter(
            "provenance_worker_jobs_reclaimed", "Jobs taken over from a silent worker", registry=self.registry
        )
        self.seconds = Histogram(
            "provenance_worker_job_seconds", "Time to verify one post", buckets=JOB_BUCKETS,
            registry=self.registry,
        )  # fmt: skip
        self.fetches = Gauge(
            "provenance_worker_sources_read", "Sources this worker read itself", registry=self.registry
        )
        self.cache_hits = Gauge(
            "provenance_worker_source_cache_hits", "Sources another worker had read", registry=self.registry
        )
        self.lag = Gauge(
            "provenance_worker_stream_lag", "Jobs in the stream not yet delivered", registry=self.registry
        )
        self.port = port
        self._server = None
        if port is not None:
            self._server, _ = start_http_server(port, addr=addr, registry=self.registry)

    def close(self) -> None:
        """Stop serving the metrics (the worker is stopping)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def observe_job(self, result: ResultMessage, seconds: float) -> None:
        self.jobs.labels(verdict=result.verdict).inc()
        if result.error is not None:
            self.failed.labels(code=result.error).inc()
        self.seconds.observe(seconds)

    def observe_cache(self, cache: object) -> None:
        """Counts of the run's source cache (``fleet.SharedCache`` has both)."""
        reads, hits = getattr(cache, "reads", None), getattr(cache, "shared_hits", None)
        if isinstance(reads, int):
            self.fetches.set(reads)
        if isinstance(hits, int):
            self.cache_hits.set(hits)
