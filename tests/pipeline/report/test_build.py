"""Report building: flag rule, verdict rule, TextQuoteSelector and text-fragment links."""

from __future__ import annotations

import re
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


# A directive part: unreserved URL characters and %XX escapes only (so no raw ',', '&', '-', space or
# anything else to escape), with a '-' only as the context mark at its edge.
_SAFE_PART = re.compile(r"(-?)((?:[A-Za-z0-9_.~]|%[0-9A-F]{2})+)(-?)")
_WORDS = re.compile(r"\S+")


def _prose(max_words: int) -> st.SearchStrategy[str]:
    """Any text, or runs of words (of any characters) joined by spaces or, now and then, a newline."""
    words = st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=max_words)
    return st.one_of(st.text(max_size=200), words.map(" ".join), words.map(" ".join), words.map("\n".join))


@given(_prose(14).filter(bool), _prose(5), _prose(5))
def test_text_fragment_directive_has_only_safe_characters(exact: str, prefix: str, suffix: str) -> None:
    """Whatever the passage and its context, every directive part is non-empty and escapes every
    character a text directive reserves; percent-decoded, the parts are the passage's first and last
    words (all of them when short) between the context words, marked by a '-' at their outer edge."""
    link = text_fragment_url("https://e.com/", exact, prefix, suffix)
    words = _WORDS.findall(exact)
    if not words:
        assert link == "https://e.com/"
        return
    assert link.startswith("https://e.com/#:~:text=")
    parts = link.partition("#:~:text=")[2].split(",")
    matches = [_SAFE_PART.fullmatch(part) for part in parts]
    assert all(matches), parts
    marks = [(m.group(1), m.group(3)) for m in matches if m]
    decoded = [unquote(m.group(2)).split(" ") for m in matches if m]
    pre = _WORDS.findall(prefix.split("\n")[-1])[-3:] if "\n" not in exact else []
    suf = _WORDS.findall(suffix.split("\n")[0])[:3] if "\n" not in exact else []
    core = [words] if len(words) <= 8 else [words[:4], words[-4:]]
    assert decoded == ([pre] if pre else []) + core + ([suf] if suf else [])
    assert marks == ([("", "-")] if pre else []) + [("", "")] * len(core) + ([("-", "")] if suf else [])


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
