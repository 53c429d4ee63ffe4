"""Evidence: the local WARC store, the past version of a page, Wayback lookups and Save Page Now
saves, standalone WARC export. Loaded lazily."""

from __future__ import annotations

from typing import TYPE_CHECKING

from service.pipeline._facade import lazy_getattr

if TYPE_CHECKING:
    from service.pipeline.evidence.export import export_warc
    from service.pipeline.evidence.past import EvidenceFetcher
    from service.pipeline.evidence.ratelimit import LocalLimiter, RedisLimiter, SaveLimiter, save_rate
    from service.pipeline.evidence.save_queue import SaveQueue
    from service.pipeline.evidence.saves import WAYBACK_LOG, SaveRunner, wayback_entry
    from service.pipeline.evidence.store import EvidenceStore
    from service.pipeline.evidence.wayback import SaveOutcome, WaybackClient

__all__ = [
    "WAYBACK_LOG",
    "EvidenceFetcher",
    "EvidenceStore",
    "LocalLimiter",
    "RedisLimiter",
    "SaveLimiter",
    "SaveOutcome",
    "SaveQueue",
    "SaveRunner",
    "WaybackClient",
    "export_warc",
    "save_rate",
    "wayback_entry",
]

_WHERE = {
    "EvidenceStore": "service.pipeline.evidence.store",
    "EvidenceFetcher": "service.pipeline.evidence.past",
    "WAYBACK_LOG": "service.pipeline.evidence.saves",
    "SaveRunner": "service.pipeline.evidence.saves",
    "wayback_entry": "service.pipeline.evidence.saves",
    "SaveQueue": "service.pipeline.evidence.save_queue",
    "SaveOutcome": "service.pipeline.evidence.wayback",
    "WaybackClient": "service.pipeline.evidence.wayback",
    "LocalLimiter": "service.pipeline.evidence.ratelimit",
    "RedisLimiter": "service.pipeline.evidence.ratelimit",
    "SaveLimiter": "service.pipeline.evidence.ratelimit",
    "save_rate": "service.pipeline.evidence.ratelimit",
    "export_warc": "service.pipeline.evidence.export",
}


if not TYPE_CHECKING:  # type checkers see the imports above, and refuse any other name
    __getattr__ = lazy_getattr(__name__, _WHERE)
