"""Report building: flag rule, verdict rule, TextQuoteSelector and text-fragment links."""

from __future__ import annotations

from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.pipeline.models import FailureCode, QuoteReport, QuoteStatus, Verdict
from service.pipeline.report.build import (
    build_report,
    decide_verdict,
    error_report,
    is_flagged,
    quote_source,
    text_fragment_url,
)


def _quote(status: QuoteStatus, *, explicit: bool = True) -> QuoteReport:
    return QuoteReport(
        text="x",
        post_span=(0, 1),
        explicit=explicit,
        cited_url="https://example.com/",
        status=status,
        flagged=is_flagged(status, explicit=explicit),
        score=1.0,
    )


@pytest.mark.parametrize(
    ("status", "explicit", "flagged"),
    [
        (QuoteStatus.VERBATIM, True, False),
        (QuoteStatus.COSMETIC, True, False),
        (QuoteStatus.ELIDED, True, False),
        (QuoteStatus.ALTERED, False, True),
        (QuoteStatus.MISATTRIBUTED, False, True),
        (QuoteStatus.NOT_FOUND, True, True),
        (QuoteStatus.NOT_FOUND, False, False),
        (QuoteStatus.SOURCE_CHANGED, True, False),
        (QuoteStatus.UNVERIFIABLE, True, False),
    ],
)
def test_flag_rule_follows_the_contract(status: QuoteStatus, explicit: bool, flagged: bool) -> None:
    """Changes are always flagged, a missing passage only when the post marks it as a quote."""
    assert is_flagged(status, explicit=explicit) is flagged


def test_verdicts() -> None:
    """Each verdict of the contract comes from the rule that names it."""
    ok, bad = _quote(QuoteStatus.VERBATIM), _quote(QuoteStatus.ALTERED)
    commentary = _quote(QuoteStatus.NOT_FOUND, explicit=False)
    unverifiable = _quote(QuoteStatus.UNVERIFIABLE)
    assert decide_verdict([ok], cited=False, source_read=True) is Verdict.NO_CITATIONS
    assert decide_verdict([ok, bad], cited=True, source_read=True) is Verdict.FLAGGED
    assert decide_verdict([ok, commentary], cited=True, source_read=True) is Verdict.VERIFIED
    assert decide_verdict([unverifiable], cited=True, source_read=False) is Verdict.UNVERIFIABLE
    assert decide_verdict([commentary], cited=True, source_read=False) is Verdict.UNVERIFIABLE
    assert decide_verdict([_quote(QuoteStatus.SOURCE_CHANGED)], cited=True, source_read=True) is (
        Verdict.VERIFIED
    )


def test_quote_source_selector_slices_the_text() -> None:
    """exact is the span's text; prefix and suffix are the characters either side."""
    text = "Alpha beta gamma. Delta epsilon zeta eta. Theta iota."
    start = text.index("Delta")
    end = text.index(" Theta")
    source = quote_source("https://example.com/a", text, (start, end), context_chars=8)
    assert source.exact == "Delta epsilon zeta eta."
    assert source.prefix == "a gamma. "[-8:]
    assert source.suffix == " Theta i"
    assert source.text_fragment_url.startswith("https://example.com/a#:~:text=")


def test_text_fragment_long_passage_uses_start_and_end() -> None:
    """A long passage becomes textStart,textEnd; reserved characters are escaped."""
    exact = "one two three four five six seven eight nine ten-eleven, twelve"
    link = text_fragment_url("https://e.com/p#old", exact, "before it ", " after it")
    directive = link.split("#:~:text=", 1)[1]
    parts = directive.split(",")
    assert link.startswith("https://e.com/p#:~:text=")
    assert unquote(parts[1]) == "one two three four"
    assert unquote(parts[2]) == "eight nine ten-eleven, twelve"
    assert parts[0].endswith("-")
    assert parts[-1].startswith("-")
    assert "%2D" in parts[2]
    assert "%2C" in parts[2]


def test_text_fragment_multiblock_has_no_context() -> None:
    """Prefix and suffix only work inside one block, so a multi-paragraph passage drops them."""
    link = text_fragment_url("https://e.com/", "a b c\nd e f g h i j k", "pre ", " suf")
    assert len(link.split("#:~:text=", 1)[1].split(",")) == 2


@given(st.text(min_size=1, max_size=200))
def test_text_fragment_directive_has_only_safe_characters(exact: str) -> None:
    """Whatever the passage, the directive never carries a raw separator inside a part."""
    directive = text_fragment_url("https://e.com/", exact, "", "").partition("#:~:text=")[2]
    for part in directive.split(","):
        body = part.strip("-")
        assert "," not in body
        assert "&" not in body
        assert " " not in body


def test_build_and_error_report_shape() -> None:
    """The report carries the schema, generator and error fields of the contract."""
    report = build_report(
        post_id="p1",
        posted_at=None,
        sources=(),
        quotes=[_quote(QuoteStatus.VERBATIM)],
        cited=True,
        source_read=True,
    )
    data = report.to_dict()
    assert data["schema"] == "provenance.report/1"
    assert data["verdict"] == "verified"
    assert data["generator"]["name"] == "provenance"
    assert data["checked_at"].endswith("Z")
    bad = error_report("p2", FailureCode.BAD_JSON, "line 3: not JSON").to_dict()
    assert bad["error"] == {"code": "bad_json", "message": "line 3: not JSON"}
    assert bad["id"] == "p2"
