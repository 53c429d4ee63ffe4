"""A passage's status from its alignments with the post's sources; citations settled."""

from __future__ import annotations

from typing import TYPE_CHECKING

from service.pipeline._facade import lazy_getattr

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


if not TYPE_CHECKING:  # type checkers see the imports above, and refuse any other name
    __getattr__ = lazy_getattr(__name__, _WHERE)
