"""Judging one passage against read sources: the order of the contract's questions."""

from __future__ import annotations

from service.pipeline.judge.passage import judge_passage
from service.pipeline.models import DiffOp, Passage, QuoteStatus, Reason
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


def test_a_misattributed_passage_names_the_page_it_was_found_in() -> None:
    """found_in is the cited URL whose page holds the passage; other statuses leave it empty."""
    a, b = source(A, TEXT_A), source(B, TEXT_B)
    wrong = judge_passage(passage(TEXT_B, A), a, [b], settings=SETTINGS)
    assert (wrong.status, wrong.found_in) == (QuoteStatus.MISATTRIBUTED, B)
    assert wrong.to_dict()["found_in"] == B
    right = judge_passage(passage(TEXT_A, A), a, [b], settings=SETTINGS)
    assert right.found_in is None
    assert right.to_dict()["found_in"] is None


def test_a_misleading_elision_under_its_link_is_altered() -> None:
    """An ellipsis that removes the source's negation is altered, and the diff shows the removed word."""
    text = "The harbour office did not reopen on Monday after three days of storms, the port said."
    a = source(A, text)
    report = judge_passage(
        passage("The harbour office did … reopen on Monday after three days of storms", A),
        a,
        [],
        settings=SETTINGS,
    )
    assert (report.status, report.flagged) == (QuoteStatus.ALTERED, True)
    assert Reason.MISLEADING_ELISION in report.reasons
    assert [d.source for d in report.diff if d.op is DiffOp.DELETE] == ["not"]


C = "https://c.example/"
TEXT_C = "The library will close for renovation in March and reopen in the autumn, the mayor said."


def test_a_passage_citing_several_pages_is_faithful_in_any_and_names_it() -> None:
    """Cited together (a line of several URLs, a reference list): found in the second page is
    verbatim, and found_in says which page; changed in one of them is altered there."""
    a, b, c = source(A, TEXT_A), source(B, TEXT_B), source(C, TEXT_C)
    both = Passage(TEXT_B, (0, len(TEXT_B)), True, A, also_cited=(B,))
    report = judge_passage(both, a, [c], settings=SETTINGS, also=[b])
    assert (report.status, report.flagged, report.found_in) == (QuoteStatus.VERBATIM, False, B)
    first = judge_passage(
        Passage(TEXT_A, (0, 5), True, A, also_cited=(B,)), a, [c], settings=SETTINGS, also=[b]
    )
    assert (first.status, first.found_in) == (QuoteStatus.VERBATIM, A)
    changed = TEXT_B.replace("Tuesday", "Friday")
    altered = judge_passage(
        Passage(changed, (0, 5), True, A, also_cited=(B,)), a, [c], settings=SETTINGS, also=[b]
    )
    assert (altered.status, altered.flagged, altered.found_in) == (QuoteStatus.ALTERED, True, B)


def test_several_cited_pages_misattribution_and_unread_pages() -> None:
    """Found only in a page the post cites elsewhere: misattributed, naming it. One of the cited
    pages unread and the passage not in the others: unverifiable, never misattributed."""
    a, b, c = source(A, TEXT_A), source(B, TEXT_B), source(C, TEXT_C)
    elsewhere = judge_passage(
        Passage(TEXT_C, (0, 5), True, A, also_cited=(B,)), a, [c], settings=SETTINGS, also=[b]
    )
    assert (elsewhere.status, elsewhere.found_in) == (QuoteStatus.MISATTRIBUTED, C)
    dead = source(B, None)
    unread = judge_passage(
        Passage(TEXT_C, (0, 5), True, A, also_cited=(B,)), a, [c], settings=SETTINGS, also=[dead]
    )
    assert (unread.status, unread.flagged) == (QuoteStatus.UNVERIFIABLE, False)
    found = judge_passage(
        Passage(TEXT_A, (0, 5), True, A, also_cited=(B,)), a, [c], settings=SETTINGS, also=[dead]
    )
    assert (found.status, found.found_in) == (QuoteStatus.VERBATIM, A)


PARAGRAPH = (
    "Residents living near the site complained about the noise and the dust that the works have caused "
    "for almost three years now. The council will publish a full report on the project's finances before "
    "the end of the year, officials said on Wednesday."
)
APART = "Residents living near the site complained about the noise\nThe council will publish a full report"


def test_lines_of_a_quotation_picked_apart_are_fragments() -> None:
    """The lines of a ">" quotation that are not consecutive in the source are fragments picked apart:
    elided, not spliced, and the diff shows what lay between them."""
    lines = Passage(text=APART, span=(0, len(APART)), explicit=True, cited_url=A, line_fragments=True)
    report = judge_passage(lines, source(A, PARAGRAPH), [], settings=SETTINGS)
    assert (report.status, report.flagged, report.reasons) == (QuoteStatus.ELIDED, False, ())
    assert [d.source for d in report.diff if d.op is DiffOp.DELETE] == [
        "and the dust that the works have caused for almost three years now"
    ]


def test_one_quotation_across_two_lines_that_skips_words_is_spliced() -> None:
    """The same words as one quotation (not ">" lines) join two places with nothing between them:
    spliced, and the diff shows the join."""
    report = judge_passage(passage(APART, A), source(A, PARAGRAPH), [], settings=SETTINGS)
    assert report.status is QuoteStatus.ALTERED
    assert Reason.SPLICED in report.reasons
    assert [d.source for d in report.diff if d.op is DiffOp.DELETE] == [
        "and the dust that the works have caused for almost three years now"
    ]
