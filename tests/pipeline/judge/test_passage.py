"""Judging one passage against read sources: the order of the contract's questions."""

from __future__ import annotations

from service.pipeline.judge.attachment import choose_attachment
from service.pipeline.judge.passage import judge_passage
from service.pipeline.models import Passage, QuoteStatus, SourceReport, SourceStatus, TextKind
from service.pipeline.state import ReadSource, SourceText, new_index_cache
from service.settings import AlignSettings

SETTINGS = AlignSettings()
INDEXES = new_index_cache()
A, B = "https://a.example/", "https://b.example/"
TEXT_A = "The harbour reopened on Monday after three days of storms, the port authority said."
TEXT_B = "The council approved the new budget late on Tuesday night after a long debate."


def source(url: str, text: str | None, *, then: str | None = None, partial: bool = False) -> ReadSource:
    status = SourceStatus.OK if text is not None else SourceStatus.DEAD
    live = (SourceText(url, TextKind.MAIN, text, INDEXES),) if text is not None else ()
    past = (SourceText(url, TextKind.MAIN, then, INDEXES),) if then is not None else ()
    return ReadSource(url, SourceReport(url=url, final_url=url, status=status), live=live, at_post=past,
                      partial=partial)  # fmt: skip


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


def test_choose_attachment_needs_two_more_passages_found() -> None:
    """The other URL convention wins only when it places at least two more passages right."""
    a, b = source(A, TEXT_A + " " + TEXT_A.replace("harbour", "port")), source(B, TEXT_B)
    by_url = {A: a, B: b}
    one = [Passage(TEXT_A, (0, 1), True, B, alt_cited_url=A)]
    assert choose_attachment(one, by_url, settings=SETTINGS)[0].cited_url == B
    two = [*one, Passage(TEXT_A.replace("harbour", "port"), (2, 3), True, B, alt_cited_url=A)]
    assert [p.cited_url for p in choose_attachment(two, by_url, settings=SETTINGS)] == [A, A]
