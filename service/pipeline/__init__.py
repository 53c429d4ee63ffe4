"""The framework-free verification pipeline: post → sources → alignments → report.

What callers (the CLI, the HTTP API, the queue workers) use is exported here; each name is
loaded on first use, so importing this package loads neither the HTTP client nor trafilatura."""

from __future__ import annotations

from typing import TYPE_CHECKING

from service.pipeline._facade import lazy_getattr

if TYPE_CHECKING:
    from service.pipeline.batch import BatchSummary, read_line, run_batch
    from service.pipeline.deps import Deps, EventSink, open_deps
    from service.pipeline.errors import InputError, PipelineError
    from service.pipeline.models import (
        EventKind,
        FailureCode,
        InputFormat,
        Post,
        ProgressEvent,
        QuoteStatus,
        Report,
        SourceReason,
        SourceStatus,
        Verdict,
    )
    from service.pipeline.posts.input import parse_format, parse_posted_at, post_from_mapping
    from service.pipeline.posts.reader import parse_post
    from service.pipeline.report.build import build_report, error_report
    from service.pipeline.report.render import render_html, render_json, render_text
    from service.pipeline.urls import extract_urls, normalize_url
    from service.pipeline.verify import verify_post

__all__ = [
    "BatchSummary",
    "Deps",
    "EventKind",
    "EventSink",
    "FailureCode",
    "InputError",
    "InputFormat",
    "PipelineError",
    "Post",
    "ProgressEvent",
    "QuoteStatus",
    "Report",
    "SourceReason",
    "SourceStatus",
    "Verdict",
    "build_report",
    "error_report",
    "extract_urls",
    "normalize_url",
    "open_deps",
    "parse_format",
    "parse_post",
    "parse_posted_at",
    "post_from_mapping",
    "read_line",
    "render_html",
    "render_json",
    "render_text",
    "run_batch",
    "verify_post",
]

_WHERE = {
    "parse_post": "service.pipeline.posts.reader",
    "parse_format": "service.pipeline.posts.input",
    "parse_posted_at": "service.pipeline.posts.input",
    "post_from_mapping": "service.pipeline.posts.input",
    "verify_post": "service.pipeline.verify",
    "BatchSummary": "service.pipeline.batch",
    "read_line": "service.pipeline.batch",
    "run_batch": "service.pipeline.batch",
    "Deps": "service.pipeline.deps",
    "EventSink": "service.pipeline.deps",
    "open_deps": "service.pipeline.deps",
    "build_report": "service.pipeline.report.build",
    "error_report": "service.pipeline.report.build",
    "render_html": "service.pipeline.report.render",
    "render_json": "service.pipeline.report.render",
    "render_text": "service.pipeline.report.render",
    "EventKind": "service.pipeline.models",
    "FailureCode": "service.pipeline.models",
    "InputFormat": "service.pipeline.models",
    "Post": "service.pipeline.models",
    "ProgressEvent": "service.pipeline.models",
    "QuoteStatus": "service.pipeline.models",
    "Report": "service.pipeline.models",
    "SourceReason": "service.pipeline.models",
    "SourceStatus": "service.pipeline.models",
    "Verdict": "service.pipeline.models",
    "InputError": "service.pipeline.errors",
    "PipelineError": "service.pipeline.errors",
    "extract_urls": "service.pipeline.urls",
    "normalize_url": "service.pipeline.urls",
}


__getattr__ = lazy_getattr(__name__, _WHERE)
