"""Quotation marks in running text (service/pipeline/posts/quotes.py): which marks open and close
a quotation, nested or not. Passages built from them are tested in test_reader.py."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.pipeline.models import InputFormat
from service.pipeline.posts.quotes import find_quotes, quote_open
from service.pipeline.posts.reader import parse_post

OPENERS = {
    '"': '"”', "“": '”"', "„": '“”"', "‚": "‘’", "«": "»", "»": "«»", "‹": "›", "「": "」", "『": "』",
    "‘": "’", "”": "”", "<": ">",
}  # fmt: skip
INNER = "the budget was approved"


def _quoted(text: str) -> list[str]:
    return [text[start:end] for start, end in find_quotes(text)]


@pytest.mark.parametrize(
    ("opener", "closer"),
    [('"', '"'), ("“", "”"), ("„", "“"), ("„", "”"), ("«", "»"), ("‹", "›"), ("「", "」"), ("『", "』"),
     ("‘", "’")],
)  # fmt: skip
def test_each_kind_of_mark_delimits_a_quotation(opener: str, closer: str) -> None:
    """Straight, curly (English and German), guillemets, corner brackets: the span is the inside."""
    text = f"She wrote {opener}{INNER}{closer} yesterday."
    start = text.index(INNER)
    assert find_quotes(text) == [(start, start + len(INNER))]


def test_quotations_in_a_row_are_found_in_order() -> None:
    """Several quotations, of mixed kinds, come back in text order."""
    text = '“one two” and «three four» and "five six"'
    assert _quoted(text) == ["one two", "three four", "five six"]


@pytest.mark.parametrize(
    "text",
    ["He said 'we will not back down' today.", "It's the council's 'plan', isn't it?"],
)
def test_straight_single_quotes_are_apostrophes(text: str) -> None:
    """' never opens or closes a quotation."""
    assert find_quotes(text) == []


def test_a_curly_apostrophe_before_a_letter_does_not_close() -> None:
    """’ followed by a letter (Moscow’s) is an apostrophe inside the quotation, not its end."""
    text = "They called it ‘Moscow’s alliance with Iran’ in the call."
    assert _quoted(text) == ["Moscow’s alliance with Iran"]
    assert find_quotes("Moscow’s alliance and Iran’s role") == []


def test_nested_quotations_stay_inside_the_outer_one() -> None:
    """An inner quotation is part of the outer span, never a span of its own."""
    text = "“He told us ‘we will fight’ and «then» he left,” she said."
    assert _quoted(text) == ["He told us ‘we will fight’ and «then» he left,"]


def test_closing_the_outer_quotation_closes_an_unfinished_inner_one() -> None:
    """An inner mark left open ends with the outer quotation."""
    assert _quoted("“He said ‘we will and left” today.") == ["He said ‘we will and left"]


@pytest.mark.parametrize(
    "text",
    ["A mark followed by a blank “ does not open” here.",  # an opener needs a word after it
     "A straight quote after a word\" does not open\".",  # " inside a word is no opener
     "An unmatched closer” and another» are ignored.",
     "“The wrong closer» leaves it open",
     "“Never closed at all"],
)  # fmt: skip
def test_marks_that_open_or_close_nothing(text: str) -> None:
    """Marks in the wrong place or of the wrong kind make no quotation."""
    assert find_quotes(text) == []


def test_a_straight_quote_after_a_blank_does_not_close() -> None:
    """A straight " preceded by a blank opens (or is nothing); it never ends a quotation."""
    assert _quoted('"one "two" three"') == ['one "two" three']


@pytest.mark.parametrize(
    ("text", "expected"),
    [("He said “we will", True), ("He said ‘we will", True), ("«Ils ont dit", True),
     ("“Outer ‘inner’ still open", True), ("He said “we will”", False), ("No quotes at all", False),
     ("It’s the council’s plan", False), ("He said 'we will", False), ("Closed “here” and “open", True),
     ("", False)],
)  # fmt: skip
def test_quote_open(text: str, expected: bool) -> None:
    """Whether the text ends inside a quotation it opened (nested ones count; apostrophes do not)."""
    assert quote_open(text) is expected


_MARKY = st.text(alphabet=st.sampled_from(list("\"“”„«»‹›「」『』‘’'<> ab.\n")), max_size=60)


@given(_MARKY)
def test_spans_lie_inside_the_text_in_order_without_overlap(text: str) -> None:
    """For any text: each span is inside the text between an opening mark and one of its closers;
    spans come in order and never overlap (marks included)."""
    spans = find_quotes(text)
    for start, end in spans:
        assert 1 <= start <= end < len(text)
        assert text[end] in OPENERS[text[start - 1]]
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert end < start - 1


@given(_MARKY)
def test_a_quotation_is_open_up_to_its_closer(text: str) -> None:
    """For any text: cut just before a (non-empty) quotation's closing mark the text ends inside
    it; cut just after, it does not (after both characters of ``>>``)."""
    for start, end in find_quotes(text):
        if start < end:  # an opener right at the end of a text opens nothing
            assert quote_open(text[:end])
        assert not quote_open(text[: end + (2 if text[end] == ">" else 1)])


@given(st.text(alphabet=st.characters(exclude_characters='"“”„«»‹›「」『』‘’<'), max_size=80))
def test_text_without_quotation_marks_has_no_quotations(text: str) -> None:
    """No quotation mark, no quotation, and nothing left open."""
    assert find_quotes(text) == []
    assert not quote_open(text)


@pytest.mark.parametrize(
    ("text", "inside"),
    [
        ("Il a dit « la maison brûle » hier.", " la maison brûle "),
        ("Il a dit «\u00a0la maison brûle\u00a0» hier.", "\u00a0la maison brûle\u00a0"),
        ("Er sagte „das Haus brennt“ gestern.", "das Haus brennt"),
        ("Er sagte ‚das Haus brennt‘ gestern.", "das Haus brennt"),
        ("Sie sagte »das Haus brennt« gestern.", "das Haus brennt"),
        ("彼は「家が燃えている」と言った", "家が燃えている"),
        ('He wrote ""The house is on fire," he said." Wow.', '"The house is on fire," he said.'),
    ],
)
def test_quotation_marks_of_every_language(text: str, inside: str) -> None:
    """Spaced guillemets, German low-high marks (double and single), reversed guillemets, corner
    brackets, and straight quotes nested in straight quotes all open and close a quotation."""
    assert [text[a:b] for a, b in find_quotes(text)] == [inside]


@pytest.mark.parametrize(
    ("text", "inside"),
    [
        ("He said <<the budget was approved>> today.", "the budget was approved"),
        ("Il a dit << la maison brûle >> hier.", " la maison brûle "),
        ("Han sa ”budgeten godkändes” i går.", "budgeten godkändes"),
        ("Han sa »budgeten godkändes» i går.", "budgeten godkändes"),
        ("Hän sanoi ”budjetti hyväksyttiin” eilen.", "budjetti hyväksyttiin"),
        ('He said “the budget was approved" today.', "the budget was approved"),
        ('He said "the budget was approved” today.', "the budget was approved"),
        ('Er sagte „der Haushalt wurde beschlossen" gestern.', "der Haushalt wurde beschlossen"),
        ('“He said "we will" today,” she wrote.', 'He said "we will" today,'),
    ],
)
def test_marks_as_keyboards_give_them(text: str, inside: str) -> None:
    """ASCII guillemets, the same mark on both sides (Swedish, Finnish), and a curly mark closed
    by a straight one or the other way round all delimit a quotation."""
    assert [text[a:b] for a, b in find_quotes(text)] == [inside]


@pytest.mark.parametrize(
    "text",
    ["x << y and more", "a <<< b >>> c", "one > two >> three", "He wrote” nothing here” at all.",
     "A <<b> c"],
)  # fmt: skip
def test_keyboard_marks_that_open_or_close_nothing(text: str) -> None:
    """A lone ``<<``, three ``<``, ``>>`` with nothing open, a single ``>`` and ``”`` right after a
    word make no quotation."""
    assert find_quotes(text) == []


def test_spaced_guillemet_passage_is_an_explicit_quote_without_its_spaces() -> None:
    """A post's « … » quotation is an explicit passage whose text and span leave the spaces out."""
    text = "Selon Le Monde, « la maison brûle depuis trois jours au centre de Lyon » et personne ne bouge.\n\nhttps://lemonde.fr/a"
    post = parse_post(text, InputFormat.TEXT)
    quoted = [q for p in post.passages for q in (p.parts or (p,)) if q.explicit]
    assert [q.text for q in quoted] == ["la maison brûle depuis trois jours au centre de Lyon"]
    assert text[quoted[0].span[0] : quoted[0].span[1]] == quoted[0].text
