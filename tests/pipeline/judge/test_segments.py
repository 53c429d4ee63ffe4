"""Paragraphs judged whole or in pieces: copied news paragraphs, commentary, mixed lines."""

from __future__ import annotations

from service.pipeline.judge.segments import _line_splits, _looks_wrapped, judge_block
from service.pipeline.models import Passage, SourceReport, SourceStatus, TextKind
from service.pipeline.state import ReadSource, SourceText, new_index_cache
from service.settings import AlignSettings

A = "https://a.example/"
PAGE = (
    "“We have never seen waves like these in thirty years,” the harbour master said on Friday. "
    "The port will stay closed until the weekend, officials added."
)
CITED = ReadSource(A, SourceReport(url=A, final_url=A, status=SourceStatus.OK),
                   live=(SourceText(A, TextKind.MAIN, PAGE, new_index_cache()),))  # fmt: skip


def paragraph(text: str, quote: str, rest: str | None = None) -> Passage:
    start = text.index(quote)
    parts = [Passage(quote, (start, start + len(quote)), True, A)]
    if rest is not None:
        r = text.index(rest)
        parts.append(Passage(rest, (r, r + len(rest)), False, A))
    return Passage(text, (0, len(text)), False, A, parts=tuple(sorted(parts, key=lambda p: p.span)))


def test_copied_paragraph_with_changed_attribution_is_one_altered_quote() -> None:
    """The words around the quotation come from the source: the paragraph is one changed copy."""
    text = "“We have never seen waves like these in thirty years,” the harbour master admitted on Friday."
    quote = "We have never seen waves like these in thirty years,"
    reports = judge_block(paragraph(text, quote), CITED, [], settings=AlignSettings())
    assert [(r.status.value, r.text) for r in reports] == [("altered", text)]


def test_a_paraphrased_attribution_tail_leaves_the_quotation_judged_alone() -> None:
    """``"…," the minister said on Tuesday.`` where the source names the speaker otherwise: the tail
    is the poster's paraphrase, so only the quotation is judged (verbatim, its own span)."""
    quote = "We have never seen waves like these in thirty years,"
    for tail in ("the port's chief told reporters.", "the minister said on Tuesday.", "he said"):
        text = f"“{quote}” {tail}"
        reports = judge_block(paragraph(text, quote), CITED, [], settings=AlignSettings())
        assert [(r.status.value, r.text, r.post_span) for r in reports] == [
            ("verbatim", quote, (1, 1 + len(quote)))
        ], tail


def test_a_tail_that_copies_the_sources_attribution_stays_part_of_the_paragraph() -> None:
    """A tail that is the source's attribution is judged with the quotation: faithful whole, or
    changed whole (a figure in the quotation, the day of the attribution)."""
    quote = "We have never seen waves like these in thirty years,"
    text = f"“{quote}” the harbour master said on Friday."
    reports = judge_block(paragraph(text, quote), CITED, [], settings=AlignSettings())
    assert [(r.status.value, r.text) for r in reports] == [("verbatim", text)]
    for changed in (text.replace("Friday", "Monday"), text.replace("thirty", "forty")):
        reports = judge_block(
            paragraph(changed, changed[1 : changed.index("”")]), CITED, [], settings=AlignSettings()
        )
        assert [(r.status.value, r.flagged) for r in reports] == [("altered", True)], changed


def test_commentary_around_a_quote_reports_the_quote() -> None:
    """Words around the quotation that the source lacks are the poster's: the quote stands alone."""
    text = "Can you believe it: “We have never seen waves like these in thirty years” — wow, just wow."
    quote = "We have never seen waves like these in thirty years"
    reports = judge_block(paragraph(text, quote), CITED, [], settings=AlignSettings())
    assert [(r.status.value, r.text) for r in reports] == [("verbatim", quote)]


def test_line_splits_keep_exact_spans_and_wrapping_is_recognised() -> None:
    """Cuts happen before lines that start anew; pieces keep spans that slice the post."""
    text = "The port will stay closed until the weekend\nHonestly? What a week.\nand more"
    p = Passage(text, (10, 10 + len(text)), False, A)
    [(head, tail)] = _line_splits(p)
    assert (head.text, tail.text) == (
        "The port will stay closed until the weekend",
        "Honestly? What a week.\nand more",
    )
    assert head.span == (10, 10 + len(head.text))
    assert tail.span[1] == p.span[1]
    wrapped = "\n".join(["x" * 68] * 3 + ["end"])
    assert _looks_wrapped(wrapped)
    assert not _looks_wrapped("A headline\nA paragraph that goes on")


UNQUOTED = CITED.live[0].text.replace("“", "").replace("”", "")
PLAIN = ReadSource(A, SourceReport(url=A, final_url=A, status=SourceStatus.OK),
                   live=(SourceText(A, TextKind.MAIN, UNQUOTED, new_index_cache()),))  # fmt: skip


def test_the_posters_frame_around_marks_the_source_lacks_is_not_judged() -> None:
    """``The master said "…"`` where the source has no quotation marks: the marks and the words
    around them are the poster's, so only the quotation is reported (verbatim, its own span)."""
    text = "He admitted “never seen waves like these in thirty years” on Friday."
    quote = "never seen waves like these in thirty years"
    reports = judge_block(paragraph(text, quote), PLAIN, [], settings=AlignSettings())
    assert [(r.status.value, r.text, r.post_span) for r in reports] == [
        ("verbatim", quote, (text.index(quote), text.index(quote) + len(quote)))
    ]
    changed = text.replace("thirty", "forty")
    reports = judge_block(
        paragraph(changed, quote.replace("thirty", "forty")), PLAIN, [], settings=AlignSettings()
    )
    assert [(r.status.value, r.flagged) for r in reports] == [("altered", True)]


def test_a_copied_paragraph_with_the_sources_marks_stands_whole() -> None:
    """The same frame around marks the source has: a copy of a news paragraph, judged whole."""
    text = "“We have never seen waves like these in thirty years,” the harbour master admitted on Friday."
    quote = "We have never seen waves like these in thirty years,"
    assert [r.text for r in judge_block(paragraph(text, quote), CITED, [], settings=AlignSettings())] == [
        text
    ]
    assert [r.text for r in judge_block(paragraph(text, quote), PLAIN, [], settings=AlignSettings())] == [
        quote
    ]


def test_marks_at_any_occurrence_and_unfound_quotations_keep_the_copy_whole() -> None:
    """The quoted words may first occur unmarked in the page (a headline): marks around any
    occurrence make the paragraph a copy. A quotation not found on its own (words put inside the
    marks) leaves the changed copy to be reported whole."""
    page = "Coloured Box Festival opens. The opening of the ‘Coloured Box Festival’ was held at the park."
    cited = ReadSource(A, SourceReport(url=A, final_url=A, status=SourceStatus.OK),
                       live=(SourceText(A, TextKind.MAIN, page, new_index_cache()),))  # fmt: skip
    text = "The opening of the ‘Coloured Box Festival’ was held at the harbour."
    reports = judge_block(paragraph(text, "Coloured Box Festival"), cited, [], settings=AlignSettings())
    assert [(r.status.value, r.text) for r in reports] == [("altered", text)]
    inserted = "The opening of the ‘Coloured Big Box Festival’ was held at the park."
    reports = judge_block(
        paragraph(inserted, "Coloured Big Box Festival"), cited, [], settings=AlignSettings()
    )
    assert [(r.status.value, r.text) for r in reports] == [("altered", inserted)]


def test_words_around_the_posters_own_marks_are_commentary_even_when_copied() -> None:
    """Quotation marks the source lacks make the words around them the poster's: a copied stretch
    with the poster's addition in them is reported as commentary, unflagged."""
    text = "We have “never seen waves like these” in thirty years, the harbour master said on Friday at noon."
    quote = "never seen waves like these"
    rest = "in thirty years, the harbour master said on Friday at noon."
    reports = judge_block(paragraph(text, quote, rest), PLAIN, [], settings=AlignSettings())
    assert [(r.text, r.status.value, r.flagged) for r in reports] == [
        (quote, "verbatim", False),
        (rest, "not_found", False),
    ]
