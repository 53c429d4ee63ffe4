"""One passage against one text: seed-and-extend alignment, the word diff, the reasons."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from service.pipeline.align.aligner import TextIndex, align_quote, find_verbatim, index_text

__all__ = [
    "TextIndex",
    "align_quote",
    "find_verbatim",
    "index_text",
]

_WHERE = {
    "TextIndex": "service.pipeline.align.aligner",
    "align_quote": "service.pipeline.align.aligner",
    "find_verbatim": "service.pipeline.align.aligner",
    "index_text": "service.pipeline.align.aligner",
}


def __getattr__(name: str) -> Any:
    """Import a name's module on first use (PEP 562), so the facade costs nothing to import."""
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
