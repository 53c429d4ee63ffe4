"""The framework-free verification pipeline: post → sources → alignments → report.

What callers (the CLI, the HTTP API, the queue workers) use is exported here; each name is
loaded on first use, so importing this package loads neither the HTTP client nor trafilatura."""

from __future__ import annotations

from typing import TYPE_CHECKING

from service.pipeline._facade import lazy_getattr

if TYPE_CHECKING:
    from service.pipeline.batch import BatchSummary, read_line, run_batch
    from service.pipeline.deps import Deps, EventSink, Extractor, open_deps
    from service.pipeline.errors import (
        RETRYABLE,
        ArchiveError,
        ExtractionError,
        FetchError,
        InputError,
        PipelineError,
    )
    from service.pipeline.models import (
        SCHEMA,
        Citation,
        EventKind,
        FailureCode,
        Fetcher,
        InputFormat,
        Post,
        ProgressEvent,
        QuoteReport,
        QuoteStatus,
        Report,
        SourceReason,
        SourceReport,
        SourceStatus,
        StageFailure,
        TextKind,
        Verdict,
        WaybackStatus,
    )
    from service.pipeline.posts.input import MAX_POST_CHARS, parse_format, parse_posted_at, post_from_mapping
    from service.pipeline.posts.reader import detect_format, parse_post
    from service.pipeline.report.build import build_report, error_report
    from service.pipeline.report.render import render_html, render_json, render_text
    from service.pipeline.report.schema import report_schema
    from service.pipeline.sources import read_source
    from service.pipeline.urls import extract_urls, normalize_url
    from service.pipeline.verify import verify_post

__all__ = [
    "MAX_POST_CHARS",
    "RETRYABLE",
    "SCHEMA",
    "ArchiveError",
    "BatchSummary",
    "Citation",
    "Deps",
    "EventKind",
    "EventSink",
    "ExtractionError",
    "Extractor",
    "FailureCode",
    "FetchError",
    "Fetcher",
    "InputError",
    "InputFormat",
    "PipelineError",
    "Post",
    "ProgressEvent",
    "QuoteReport",
    "QuoteStatus",
    "Report",
    "SourceReason",
    "SourceReport",
    "SourceStatus",
    "StageFailure",
    "TextKind",
    "Verdict",
    "WaybackStatus",
    "build_report",
    "detect_format",
    "error_report",
    "extract_urls",
    "normalize_url",
    "open_deps",
    "parse_format",
    "parse_post",
    "parse_posted_at",
    "post_from_mapping",
    "read_line",
    "read_source",
    "render_html",
    "render_json",
    "render_text",
    "report_schema",
    "run_batch",
    "verify_post",
]

_WHERE = {
    "detect_format": "service.pipeline.posts.reader",
    "parse_post": "service.pipeline.posts.reader",
    "MAX_POST_CHARS": "service.pipeline.posts.input",
    "parse_format": "service.pipeline.posts.input",
    "parse_posted_at": "service.pipeline.posts.input",
    "post_from_mapping": "service.pipeline.posts.input",
    "verify_post": "service.pipeline.verify",
    "BatchSummary": "service.pipeline.batch",
    "read_line": "service.pipeline.batch",
    "run_batch": "service.pipeline.batch",
    "Deps": "service.pipeline.deps",
    "EventSink": "service.pipeline.deps",
    "Extractor": "service.pipeline.deps",
    "open_deps": "service.pipeline.deps",
    "read_source": "service.pipeline.sources",
    "build_report": "service.pipeline.report.build",
    "error_report": "service.pipeline.report.build",
    "render_html": "service.pipeline.report.render",
    "render_json": "service.pipeline.report.render",
    "render_text": "service.pipeline.report.render",
    "report_schema": "service.pipeline.report.schema",
    "SCHEMA": "service.pipeline.models",
    "Citation": "service.pipeline.models",
    "EventKind": "service.pipeline.models",
    "FailureCode": "service.pipeline.models",
    "Fetcher": "service.pipeline.models",
    "InputFormat": "service.pipeline.models",
    "Post": "service.pipeline.models",
    "ProgressEvent": "service.pipeline.models",
    "QuoteReport": "service.pipeline.models",
    "QuoteStatus": "service.pipeline.models",
    "Report": "service.pipeline.models",
    "SourceReason": "service.pipeline.models",
    "SourceReport": "service.pipeline.models",
    "SourceStatus": "service.pipeline.models",
    "StageFailure": "service.pipeline.models",
    "TextKind": "service.pipeline.models",
    "Verdict": "service.pipeline.models",
    "WaybackStatus": "service.pipeline.models",
    "RETRYABLE": "service.pipeline.errors",
    "ArchiveError": "service.pipeline.errors",
    "ExtractionError": "service.pipeline.errors",
    "FetchError": "service.pipeline.errors",
    "InputError": "service.pipeline.errors",
    "PipelineError": "service.pipeline.errors",
    "extract_urls": "service.pipeline.urls",
    "normalize_url": "service.pipeline.urls",
}

if not TYPE_CHECKING:  # type checkers see the imports above, and refuse any other name
    __getattr__ = lazy_getattr(__name__, _WHERE)
