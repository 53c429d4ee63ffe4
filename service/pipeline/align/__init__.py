"""One passage against one text: seed-and-extend alignment, the word diff, the reasons."""

from __future__ import annotations

from typing import TYPE_CHECKING

from service.pipeline._facade import lazy_getattr

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


if not TYPE_CHECKING:  # type checkers see the imports above, and refuse any other name
    __getattr__ = lazy_getattr(__name__, _WHERE)
