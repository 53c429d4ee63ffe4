"""Reading a post: its passages, their spans and the URLs they stand under (pure)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from service.pipeline._facade import lazy_getattr

if TYPE_CHECKING:
    from service.pipeline.posts.input import MAX_POST_CHARS, parse_format, parse_posted_at, post_from_mapping
    from service.pipeline.posts.reader import detect_format, parse_post

__all__ = [
    "MAX_POST_CHARS",
    "detect_format",
    "parse_format",
    "parse_post",
    "parse_posted_at",
    "post_from_mapping",
]

_WHERE = {
    "detect_format": "service.pipeline.posts.reader",
    "parse_post": "service.pipeline.posts.reader",
    "MAX_POST_CHARS": "service.pipeline.posts.input",
    "parse_format": "service.pipeline.posts.input",
    "parse_posted_at": "service.pipeline.posts.input",
    "post_from_mapping": "service.pipeline.posts.input",
}


if not TYPE_CHECKING:  # type checkers see the imports above, and refuse any other name
    __getattr__ = lazy_getattr(__name__, _WHERE)
