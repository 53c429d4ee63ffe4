"""The HTML report in Debian's chromium: its source table readable at 1280 px and on a phone (390 px).

A header cell must never wrap inside a word (the old CSS broke "Redirects" and "Published" mid-word);
long URLs may wrap anywhere, and on a narrow screen the table scrolls sideways inside its own box
instead of widening the page.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from service.pipeline.models import (
    AtPostCapture,
    QuoteReport,
    QuoteStatus,
    Redirect,
    Report,
    SourceReason,
    SourceReport,
    SourceStatus,
    Verdict,
)
from service.pipeline.report.render import render_html

CHROMIUM = Path(os.environ.get("PROVENANCE_CHROMIUM", "/usr/bin/chromium"))

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.is_file(), reason=f"needs Debian's chromium at {CHROMIUM}"),
]

LONG = "https://news.example/" + "a-very-long-slug-without-spaces-" * 6 + "?utm_source=x&utm_medium=y"

# Per header cell: its text, whether that text sits on one line (one client rect per word range),
# and whether it overflows its cell.
_MEASURE = """() => [...document.querySelectorAll('table.sources th')].map(th => {
  const range = document.createRange();
  range.selectNodeContents(th);
  const tops = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
  return {text: th.textContent, lines: tops.size, overflow: th.scrollWidth > th.clientWidth + 1};
})"""


def _report() -> Report:
    source = SourceReport(
        url=LONG, final_url=LONG + "&final=1", status=SourceStatus.SOFT_404,
        reason=SourceReason.TIMEOUT, redirects=(Redirect(LONG, 301), Redirect(LONG, 302)), http_status=200,
        title="A title that goes on for a while, as news titles do, with a subtitle after a colon",
        author="Someone With A Long Name", published="2024-03-01T10:00:00Z",
        sha256="0123456789abcdef" * 4, fetched_at="2025-01-01T00:00:00Z",
        at_post=AtPostCapture("2024-03-02T00:00:00Z", None, "https://web.archive.org/web/2024/" + LONG),
    )  # fmt: skip
    quote = QuoteReport(
        text="a passage", post_span=(0, 9), explicit=True, cited_url=LONG, status=QuoteStatus.UNVERIFIABLE,
        flagged=False, score=0.0, source=None, diff=(), reasons=(),
    )  # fmt: skip
    return Report(
        id="wide", posted_at=None, verdict=Verdict.UNVERIFIABLE, checked_at="2025-01-01T00:00:00Z",
        generator_version="0.1.0", sources=(source, source), quotes=(quote,), error=None,
    )  # fmt: skip


@pytest.mark.parametrize("width", [1280, 390])
def test_source_table_headers_never_break_inside_a_word(width: int) -> None:
    """At 1280 px and at a phone's 390 px: every header on one line, none overflowing its cell, and
    the page itself no wider than the window (the table scrolls in its own box)."""
    page_html = render_html(_report())
    with sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=False,
            args=["--headless=new", "--no-sandbox", "--disable-gpu"],
        )
        try:
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.set_content(page_html)
            cells = page.evaluate(_MEASURE)
            page_width = page.evaluate("document.documentElement.scrollWidth")
        finally:
            browser.close()
    assert [c["text"] for c in cells][:3] == ["Status", "URL", "Final URL"]
    assert len(cells) == 11
    wrapped = [c["text"] for c in cells if c["lines"] != 1 or c["overflow"]]
    assert wrapped == [], f"headers broken at {width} px: {wrapped}"
    assert page_width <= width, f"the page scrolls sideways at {width} px ({page_width} px wide)"
