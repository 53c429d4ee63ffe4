"""Prometheus metrics of one app (its own registry, so two apps in one process never collide)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class Metrics:
    """Requests and latencies by route and status, sources read, cache hits, jobs, verdicts."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "provenance_http_requests", "HTTP requests answered", ["route", "method", "status"],
            registry=self.registry,
        )  # fmt: skip
        self.latency = Histogram(
            "provenance_http_request_seconds", "Time to answer (to the first byte of a stream)", ["route"],
            buckets=LATENCY_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.sources = Counter(
            "provenance_sources_read", "Cited sources read, by status", ["status"], registry=self.registry
        )
        self.check_cache = Counter(
            "provenance_check_cache", "POST /v1/check answers, by cache outcome", ["outcome"],
            registry=self.registry,
        )  # fmt: skip
        # Children looked up once: a cache hit should not pay for label lookups.
        self.check_hits = self.check_cache.labels(outcome="hit")
        self.check_misses = self.check_cache.labels(outcome="miss")
        self.verdicts = Counter(
            "provenance_verdicts", "Reports made, by verdict", ["verdict"], registry=self.registry
        )
        self.jobs = Gauge("provenance_jobs", "Jobs held, by status", ["status"], registry=self.registry)

    def render(self, job_counts: dict[str, int]) -> bytes:
        """The exposition text, jobs counted at scrape time."""
        for status, count in job_counts.items():
            self.jobs.labels(status=status).set(count)
        return bytes(generate_latest(self.registry))
