"""Judging one passage against read sources: the order of the contract's questions."""

from __future__ import annotations

from service.pipeline.judge.passage import judge_passage
from service.pipeline.models import Passage, QuoteStatus
from tests.pipeline.judge._sources import SETTINGS, TEXT_A, TEXT_B, A, B, source


def passage(text: str, url: str | None, *, explicit: bool = True) -> Passage:
    return Passage(text=text, span=(0, len(text)), explicit=explicit, cited_url=url)


def test_questions_in_the_contracts_order() -> None:
    """Faithful under its link, else edited since, else elsewhere, else changed, else missing."""
    a, b = source(A, TEXT_A), source(B, TEXT_B)
    assert judge_passage(passage(TEXT_A, A), a, [b], settings=SETTINGS).status is QuoteStatus.VERBATIM
    assert judge_passage(passage(TEXT_B, A), a, [b], settings=SETTINGS).status is QuoteStatus.MISATTRIBUTED
    changed = TEXT_A.replace("three", "five")
    assert judge_passage(passage(changed, A), a, [b], settings=SETTINGS).status is QuoteStatus.ALTERED
    invented = "Nobody in the harbour office would answer any question about the closure at all."
    report = judge_passage(passage(invented, A), a, [b], settings=SETTINGS)
    assert (report.status, report.flagged) == (QuoteStatus.NOT_FOUND, True)


def test_edited_source_dead_source_and_paywall() -> None:
    """At-post match → source_changed; dead link → unverifiable; missing behind a paywall → unverifiable."""
    edited = source(A, TEXT_A.replace("three", "four"), then=TEXT_A)
    assert (
        judge_passage(passage(TEXT_A, A), edited, [], settings=SETTINGS).status is QuoteStatus.SOURCE_CHANGED
    )
    dead = source(A, None)
    report = judge_passage(passage(TEXT_B, A), dead, [source(B, TEXT_B)], settings=SETTINGS)
    assert (report.status, report.flagged) == (QuoteStatus.UNVERIFIABLE, False)
    paywalled = source(A, "Subscribe to read the rest of this story.", partial=True)
    assert (
        judge_passage(passage(TEXT_A, A), paywalled, [], settings=SETTINGS).status is QuoteStatus.UNVERIFIABLE
    )
