"""What a page says and what it is: the extraction pool (trafilatura in killable workers), page
text, metadata, signals, and source health."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from service.pipeline.extract.health import Health, assess, probe_url
    from service.pipeline.extract.pool import ExtractorPool

__all__ = [
    "ExtractorPool",
    "Health",
    "assess",
    "probe_url",
]

_WHERE = {
    "ExtractorPool": "service.pipeline.extract.pool",
    "Health": "service.pipeline.extract.health",
    "assess": "service.pipeline.extract.health",
    "probe_url": "service.pipeline.extract.health",
}


def __getattr__(name: str) -> Any:
    """Import a name's module on first use (PEP 562), so the facade costs nothing to import."""
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
