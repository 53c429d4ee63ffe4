"""A passage's status from its alignments with the post's sources; citations settled."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from service.pipeline.judge.attachment import choose_attachment
    from service.pipeline.judge.passage import Match, best_match, judge_passage
    from service.pipeline.judge.segments import judge_block

__all__ = [
    "Match",
    "best_match",
    "choose_attachment",
    "judge_block",
    "judge_passage",
]

_WHERE = {
    "Match": "service.pipeline.judge.passage",
    "best_match": "service.pipeline.judge.passage",
    "judge_passage": "service.pipeline.judge.passage",
    "choose_attachment": "service.pipeline.judge.attachment",
    "judge_block": "service.pipeline.judge.segments",
}


def __getattr__(name: str) -> Any:
    """Import a name's module on first use (PEP 562), so the facade costs nothing to import."""
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
