"""Quotation marks as keyboards give them (``<<…>>``, ``”…”``, ``»…»``, ``»…«``, ``“…"``, ``"…”``),
end to end: an invented sentence in them is a quotation, hence flagged, and a faithful one verified."""

from __future__ import annotations

import pytest

from service.pipeline.deps import Deps
from service.pipeline.models import InputFormat, QuoteStatus, Report
from service.pipeline.posts.reader import parse_post
from service.pipeline.verify import verify_post
from service.settings import HttpSettings, Settings
from tests.fakes.sources import FakeFetcher, TextExtractor

URL = "https://news.example/budget"
PAGE = (
    "Council approves new budget\n"
    "The city council approved a budget of 42 million dollars on Tuesday, after a debate that lasted "
    "nearly six hours and ended with a narrow vote.\n"
    "The mayor said the plan would not raise taxes for residents this year."
)
FAITHFUL = "The city council approved a budget of 42 million dollars on Tuesday"
INVENTED = "The mayor promised to close every public school in the city by next spring"
MARKS = [("<<", ">>"), ("<< ", " >>"), ("”", "”"), ("»", "»"), ("»", "«"), ("“", '"'), ('"', "”"), ("„", '"')]


async def _verify(text: str) -> Report:
    deps = Deps(
        settings=Settings(http=HttpSettings(probe_soft_404=False)),
        fetcher=FakeFetcher({URL: PAGE}),
        extractor=TextExtractor(),
    )
    return await verify_post(parse_post(text, InputFormat.TEXT), deps=deps)


@pytest.mark.parametrize(("opener", "closer"), MARKS)
async def test_an_invented_sentence_in_these_marks_is_flagged(opener: str, closer: str) -> None:
    """The invented sentence is an explicit quote, not the poster's own words: not_found, flagged."""
    report = await _verify(f"Look at this: {opener}{INVENTED}{closer} Unbelievable.\n\n{URL}\n")
    explicit = [q for q in report.quotes if q.explicit]
    assert [(q.text, q.status, q.flagged) for q in explicit] == [(INVENTED, QuoteStatus.NOT_FOUND, True)]
    assert report.verdict.value == "flagged"


@pytest.mark.parametrize(("opener", "closer"), MARKS)
async def test_a_faithful_sentence_in_these_marks_is_verified(opener: str, closer: str) -> None:
    """The faithful quotation is judged alone, without its marks: verbatim, and the post verified."""
    report = await _verify(f"Look at this: {opener}{FAITHFUL}{closer} Unbelievable.\n\n{URL}\n")
    explicit = [q for q in report.quotes if q.explicit]
    assert [(q.text, q.status) for q in explicit] == [(FAITHFUL, QuoteStatus.VERBATIM)]
    assert not any(q.flagged for q in report.quotes)
    assert report.verdict.value == "verified"
