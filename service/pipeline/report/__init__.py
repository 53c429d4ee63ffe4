"""The report: verdict rules, selectors and text-fragment links, and its renderings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from service.pipeline._facade import lazy_getattr

if TYPE_CHECKING:
    from service.pipeline.report.build import build_report, error_report, quote_source, text_fragment_url
    from service.pipeline.report.render import render_html, render_json, render_text

__all__ = [
    "build_report",
    "error_report",
    "quote_source",
    "render_html",
    "render_json",
    "render_text",
    "text_fragment_url",
]

_WHERE = {
    "build_report": "service.pipeline.report.build",
    "error_report": "service.pipeline.report.build",
    "quote_source": "service.pipeline.report.build",
    "text_fragment_url": "service.pipeline.report.build",
    "render_html": "service.pipeline.report.render",
    "render_json": "service.pipeline.report.render",
    "render_text": "service.pipeline.report.render",
}


if not TYPE_CHECKING:  # type checkers see the imports above, and refuse any other name
    __getattr__ = lazy_getattr(__name__, _WHERE)
