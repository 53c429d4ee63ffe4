"""Getting a page: the guarded session, the one redirect follower, live fetching, WARC replay and
the one checked WARC reader. Loaded lazily: a replay never imports the HTTP client."""

from __future__ import annotations

from typing import TYPE_CHECKING

from service.pipeline._facade import lazy_getattr

if TYPE_CHECKING:
    from service.pipeline.fetch.answers import failure, http_status_error, status_for_error
    from service.pipeline.fetch.guard import check_url, is_denied_address
    from service.pipeline.fetch.live import LiveFetcher
    from service.pipeline.fetch.redirects import (
        REDIRECT_STATUSES,
        Followed,
        Hop,
        follow_redirects,
        join_location,
    )
    from service.pipeline.fetch.replay import ReplayArchive
    from service.pipeline.fetch.session import make_client_session, track_dials
    from service.pipeline.fetch.warc_reader import Capture, StoredAnswer, index_warc, read_capture, warc_files

__all__ = [
    "REDIRECT_STATUSES",
    "Capture",
    "Followed",
    "Hop",
    "LiveFetcher",
    "ReplayArchive",
    "StoredAnswer",
    "check_url",
    "failure",
    "follow_redirects",
    "http_status_error",
    "index_warc",
    "is_denied_address",
    "join_location",
    "make_client_session",
    "read_capture",
    "status_for_error",
    "track_dials",
    "warc_files",
]

_WHERE = {
    "check_url": "service.pipeline.fetch.guard",
    "is_denied_address": "service.pipeline.fetch.guard",
    "make_client_session": "service.pipeline.fetch.session",
    "track_dials": "service.pipeline.fetch.session",
    "failure": "service.pipeline.fetch.answers",
    "http_status_error": "service.pipeline.fetch.answers",
    "status_for_error": "service.pipeline.fetch.answers",
    "REDIRECT_STATUSES": "service.pipeline.fetch.redirects",
    "Followed": "service.pipeline.fetch.redirects",
    "Hop": "service.pipeline.fetch.redirects",
    "follow_redirects": "service.pipeline.fetch.redirects",
    "join_location": "service.pipeline.fetch.redirects",
    "LiveFetcher": "service.pipeline.fetch.live",
    "ReplayArchive": "service.pipeline.fetch.replay",
    "Capture": "service.pipeline.fetch.warc_reader",
    "StoredAnswer": "service.pipeline.fetch.warc_reader",
    "index_warc": "service.pipeline.fetch.warc_reader",
    "read_capture": "service.pipeline.fetch.warc_reader",
    "warc_files": "service.pipeline.fetch.warc_reader",
}


if not TYPE_CHECKING:  # type checkers see the imports above, and refuse any other name
    __getattr__ = lazy_getattr(__name__, _WHERE)
