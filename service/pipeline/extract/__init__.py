"""What a page says and what it is: the extraction pool (trafilatura in killable workers), page
text, metadata, signals, and source health."""

from __future__ import annotations

from typing import TYPE_CHECKING

from service.pipeline._facade import lazy_getattr

if TYPE_CHECKING:
    from service.pipeline.extract.health import Health, assess, assess_probe, probe_answer, probe_url
    from service.pipeline.extract.pool import ExtractorPool

__all__ = [
    "ExtractorPool",
    "Health",
    "assess",
    "assess_probe",
    "probe_answer",
    "probe_url",
]

_WHERE = {
    "ExtractorPool": "service.pipeline.extract.pool",
    "Health": "service.pipeline.extract.health",
    "assess": "service.pipeline.extract.health",
    "assess_probe": "service.pipeline.extract.health",
    "probe_answer": "service.pipeline.extract.health",
    "probe_url": "service.pipeline.extract.health",
}


if not TYPE_CHECKING:  # type checkers see the imports above, and refuse any other name
    __getattr__ = lazy_getattr(__name__, _WHERE)
