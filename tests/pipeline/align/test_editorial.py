"""Editorial conventions: bracketed stand-ins, [sic], (emphasis added) and emphasis marks are no change;
a bracket that swaps in another name than the source's referent stays flagged."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.pipeline.align.aligner import align_quote, index_text
from service.pipeline.align.tokens import passage_words
from service.pipeline.models import Alignment, QuoteStatus, Reason
from service.settings import AlignSettings

SETTINGS = AlignSettings()
SOURCE = (
    "Sherlock Holmes met Dr Watson at the station on Monday morning. He said the case of the missing "
    "jewels was closed and that the thief had left the country by boat. Watson later told reporters "
    "that the recieved wisdom about the case was wrong. Watson said it was the strangest affair of his "
    "long career in London."
)


def align(passage: str, source: str = SOURCE) -> Alignment:
    return align_quote(passage, index_text(source), explicit=True, settings=SETTINGS)


@pytest.mark.parametrize(
    "passage",
    [
        "[Holmes] said the case of the missing jewels was closed and that the thief had left the country",
        "[Sherlock Holmes] said the case of the missing jewels was closed and that the thief had left",
        "He said the case of the missing jewels [the diamonds] was closed and that the thief had left",
        "Watson said [the jewels case] was the strangest affair of his long career in London.",
    ],
)
def test_a_bracketed_stand_in_for_the_referent_is_cosmetic(passage: str) -> None:
    """A bracket naming the source's referent, or clarifying, is cosmetic with its reason."""
    al = align(passage)
    assert al.status is QuoteStatus.COSMETIC, al
    assert al.reasons == (Reason.BRACKETED_SUBSTITUTION,)


def test_a_bracket_naming_someone_else_is_a_changed_name() -> None:
    """[Watson] for "He", whose referent is Holmes: altered, name_changed."""
    al = align(
        "[Watson] said the case of the missing jewels was closed and that the thief had left the country"
    )
    assert al.status is QuoteStatus.ALTERED
    assert Reason.NAME_CHANGED in al.reasons
    assert Reason.BRACKETED_SUBSTITUTION not in al.reasons


def test_a_bracket_that_changes_a_number_is_a_change() -> None:
    """A bracketed number that differs from the source's is never a stand-in."""
    source = "The council said three people were hurt in the fire at the old mill on Sunday night."
    al = align(
        "The council said [five] people were hurt in the fire at the old mill on Sunday night.", source
    )
    assert al.status is QuoteStatus.ALTERED
    assert Reason.NUMBER_CHANGED in al.reasons


@pytest.mark.parametrize(
    "passage",
    [
        "Watson later told reporters that the recieved [sic] wisdom about the case was wrong.",
        "Watson later told reporters that the recieved wisdom about the case was wrong (emphasis added).",
        "Watson later told reporters that the **recieved wisdom** about the case was wrong (emphasis mine)",
        "Watson later told reporters that the recieved [sic!] wisdom about the case was *wrong*.",
        "[W]atson later told reporters that the recieved wisdom about the case was wrong.",
    ],
)
def test_editorial_marks_are_cosmetic(passage: str) -> None:
    """[sic], (emphasis added/mine), emphasis asterisks and a bracketed capital change no word: the
    copy is faithful (cosmetic, or verbatim when the note stands after its last word)."""
    assert align(passage).status in {QuoteStatus.COSMETIC, QuoteStatus.VERBATIM}


def test_editorial_notes_leave_no_words_but_keep_offsets() -> None:
    """The notes' words are dropped; every other word keeps its offset in the passage."""
    passage = "the recieved [sic] wisdom (emphasis added) was wrong"
    pw = passage_words(passage)
    assert pw.tokens.words == ["the", "recieved", "wisdom", "was", "wrong"]
    assert [passage[a:b] for a, b in zip(pw.tokens.starts, pw.tokens.ends, strict=True)] == pw.tokens.words


@settings(max_examples=30, deadline=None)
@given(
    note=st.sampled_from(
        ["[sic]", "(emphasis added)", "(emphasis mine)", "[sic!]", "(Hervorhebung d. Verf.)"]
    )
)
def test_a_note_anywhere_between_words_is_cosmetic(note: str) -> None:
    """Wherever an editorial note stands between two words of a copy, the copy stays faithful."""
    words = [
        "Watson",
        "later",
        "told",
        "reporters",
        "that",
        "the",
        "recieved",
        "wisdom",
        "about",
        "the",
        "case",
        "was",
        "wrong",
    ]
    for at in range(1, len(words)):
        passage = " ".join([*words[:at], note, *words[at:]])
        assert align(passage).status is QuoteStatus.COSMETIC
