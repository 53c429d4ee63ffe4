"""Quote alignment: statuses, reasons, spans and diffs on a real article, plus properties."""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.pipeline.align.aligner import TextIndex, align_quote, index_text
from service.pipeline.align.tokens import normalize_word, tokenize
from service.pipeline.models import FAITHFUL_STATUSES, Alignment, DiffOp, QuoteStatus, Reason
from service.settings import AlignSettings

TEXT = (Path(__file__).parents[2] / "data" / "align" / "nyt_elections.txt").read_text(encoding="utf-8")
INDEX = index_text(TEXT)
SETTINGS = AlignSettings()
V, C, E, A, N = (
    QuoteStatus.VERBATIM,
    QuoteStatus.COSMETIC,
    QuoteStatus.ELIDED,
    QuoteStatus.ALTERED,
    QuoteStatus.NOT_FOUND,
)
SENT_VA = "In Virginia, they voted for control of the state Legislature"
SENT_TRUMP = "Trump thought voters would repudiate impeachment and vindicate him."


def align(passage: str, *, explicit: bool = True, index: TextIndex = INDEX) -> Alignment:
    return align_quote(passage, index, explicit=explicit, settings=SETTINGS)


def words(s: str) -> list[str]:
    return [normalize_word(w) for w in tokenize(s).words]


# ---------------------------------------------------------------- faithful


def test_verbatim_with_span_slicing_the_source() -> None:
    """An exact copy is verbatim, scores 1 and its span slices exactly that text."""
    al = align(SENT_VA)
    assert al.status is V
    assert al.score == 1.0
    assert al.span is not None
    assert TEXT[al.span[0] : al.span[1]] == SENT_VA
    assert al.coverage == 1.0


def test_verbatim_ignores_line_breaks_and_nbsp() -> None:
    """Whitespace (line breaks, non-breaking spaces, doubled spaces) never matters."""
    assert align("In Virginia,\nthey voted for\u00a0control  of the state Legislature").status is V


def test_outer_punctuation_does_not_matter() -> None:
    """Opening quote marks and a closing period around a copied stretch keep it verbatim."""
    assert align(f"“{SENT_TRUMP}”").status is V


@pytest.mark.parametrize(
    "passage",
    [
        "“The people of this country aren't buying” impeachment",  # straight apostrophe
        '"The people of this country aren’t buying" impeachment',  # straight quotes
        "the people of this country aren’t buying impeachment",  # case, punctuation dropped
        "Democrats in Mississippi made significant gains even as they fell short of victory - their nominee",
        "Democrats in Mississippi made significant gains even as they fell short of victory -- their nominee",
        "It's true that Democrats didn't run on the issue of impeachment.",
        "IN VIRGINIA, THEY VOTED FOR CONTROL OF THE STATE LEGISLATURE",
        "Virginia Democrats won a legislative majority for the first time since 1993 flipping historically",
    ],
)
def test_typography_is_cosmetic(passage: str) -> None:
    """Quote marks, apostrophes, dashes, case and punctuation only: cosmetic, not flagged."""
    al = align(passage)
    assert al.status is C
    assert not al.reasons
    assert 0.9 < al.score < 1.0


def test_thousands_separator_and_hyphen_split() -> None:
    """A thousands separator and hyphens do not matter: 400,000 is 400000, five-and-a-half too."""
    assert align("which gave coverage to more than 400000 state residents").status is C
    assert align("Jim Hood, lost by five and a half points").status is C


@pytest.mark.parametrize("marker", ["...", "…", ". . .", "[…]", "[...]", "(...)", " ... ", " … "])
def test_elision_in_every_spelling(marker: str) -> None:
    """Pieces found in order with the gaps marked are elided, whatever the marker's spelling."""
    passage = f"Trump thought voters would repudiate{marker}Virginia Democrats won a legislative majority"
    al = align(passage)
    assert al.status is E
    assert al.span is not None
    assert TEXT[al.span[0] : al.span[1]].startswith("Trump thought")
    assert TEXT[al.span[0] : al.span[1]].endswith("legislative majority")


def test_elision_with_several_gaps_and_across_paragraphs() -> None:
    """Three gaps, one of them across paragraphs, are still an elision."""
    passage = (
        "Americans have gone to the polls four times … In each case, President Trump tied himself "
        "to the outcome. […] Trump sent a similar message ahead of the Virginia elections … "
        "“You gotta give me a big win please,” he said later."
    )
    assert align(passage).status is E


def test_ellipsis_at_the_ends_is_only_a_marker() -> None:
    """An ellipsis at the very start or end marks nothing missing inside the quote."""
    assert align(f"…{SENT_VA}…").status in {V, C}


def test_short_piece_must_join_its_neighbour() -> None:
    """A one-word end piece counts only right next to its neighbour piece; far away it does not."""
    assert align("Instead, they did the opposite … Virginia").status is E
    assert align("Instead, they did the opposite … Reuters").status is A


def test_repeated_sentence_picks_the_first() -> None:
    """When the page has the passage twice, the span is the first occurrence."""
    index = index_text(f"{SENT_VA}. Something else entirely here. {SENT_VA}.")
    al = align(SENT_VA, index=index)
    assert al.status is V
    assert al.span == (0, len(SENT_VA))


@pytest.mark.parametrize("passage", ["Trump", "Medicaid expansion", "quotidian issues like"])
def test_short_passages(passage: str) -> None:
    """Passages of one to three words are found through word and word-pair seeds."""
    al = align(passage)
    assert al.status is V
    assert al.span is not None
    assert TEXT[al.span[0] : al.span[1]] == passage


# ---------------------------------------------------------------- altered


def test_number_changed() -> None:
    """One number changed is altered with number_changed, and the diff shows the swap."""
    al = align("Kentucky Democrats beat incumbent Gov. Matt Bevin in a state Trump won by 40 points in 2016.")
    assert al.status is A
    assert Reason.NUMBER_CHANGED in al.reasons
    assert [(d.post, d.source) for d in al.diff if d.op is DiffOp.REPLACE] == [("40", "30")]


def test_number_word_changed() -> None:
    """A number written as a word counts as a number too."""
    al = align("Americans have gone to the polls five times this month to vote")
    assert Reason.NUMBER_CHANGED in al.reasons


def test_negation_inserted() -> None:
    """A "not" inserted is altered with negation_changed and words_inserted."""
    al = align("Trump thought voters would not repudiate impeachment and vindicate him.")
    assert al.status is A
    assert {Reason.NEGATION_CHANGED, Reason.WORDS_INSERTED} <= set(al.reasons)
    assert [d.post for d in al.diff if d.op is DiffOp.INSERT] == ["not"]


def test_negation_removed() -> None:
    """A contracted negation removed ("didn't run" -> "did run") is negation_changed."""
    al = align("It’s true that Democrats did run on the issue of impeachment.")
    assert al.status is A
    assert Reason.NEGATION_CHANGED in al.reasons


def test_name_changed() -> None:
    """A capitalised name swapped for another is name_changed."""
    al = align("Kentucky Democrats beat incumbent Gov. Matt Bevin in a state Obama won by 30 points in 2016.")
    assert al.status is A
    assert al.reasons == (Reason.NAME_CHANGED,)


def test_words_replaced() -> None:
    """An ordinary word swapped is words_replaced."""
    al = align("These races were centered on more ordinary issues like health care, transportation")
    assert al.status is A
    assert Reason.WORDS_REPLACED in al.reasons


def test_words_deleted_in_the_middle() -> None:
    """Words dropped from the middle of a sentence are words_deleted, shown as a delete."""
    al = align("Virginia Democrats won a majority for the first time since 1993, flipping historically")
    assert al.status is A
    assert Reason.WORDS_DELETED in al.reasons
    assert [d.source for d in al.diff if d.op is DiffOp.DELETE] == ["legislative"]


def test_spliced_across_paragraphs() -> None:
    """Two sentences from different paragraphs joined without a marker are spliced."""
    al = align(f"{SENT_TRUMP} Voters could have shown they were tired of Democratic investigations.")
    assert al.status is A
    assert Reason.SPLICED in al.reasons


def test_whole_sentence_dropped_is_spliced() -> None:
    """Dropping a whole short sentence between two others, unmarked, is a splice, and the diff shows
    the join: what the splice skipped stands as a delete part where it was left out."""
    al = align(f"{SENT_TRUMP} Virginia Democrats won a legislative majority for the first time since 1993")
    assert Reason.SPLICED in al.reasons
    assert [(d.op, d.source) for d in al.diff if d.op is not DiffOp.EQUAL] == [
        (DiffOp.DELETE, "Instead they did the opposite")
    ]


WIDGET_PAGE = (
    "The council met on Tuesday evening to discuss the harbour bridge and its budget at length.\n"
    "Critics of the project said the total cost had risen {widget} to more than forty million dollars "
    "since the plan was first approved by the council in the spring of 2016.\n"
    "Residents complained about the noise and the dust that the works have caused for three years."
)
WIDGET_QUOTE = (
    "Critics of the project said the total cost had risen to more than forty million dollars since the "
    "plan was first approved by the council"
)


@pytest.mark.parametrize(
    "widget",
    [
        "READ MORE: Council votes on the harbour budget after a long and bitter debate",
        "Advertisement",
        "Lesen Sie auch: Der Stadtrat stimmt über den Haushalt ab",
        "RELATED Council votes on the harbour budget",
        "Related: Council votes on the harbour budget",
        "À lire aussi : le conseil vote le budget du port",
    ],
)
def test_a_widget_inside_the_copied_sentence_is_no_splice(widget: str) -> None:
    """A page's widget inside the sentence, left out by the copy, is no change a person could see as
    one: faithful (cosmetic), and the diff still shows what the page had there."""
    al = align(WIDGET_QUOTE, index=index_text(WIDGET_PAGE.format(widget=widget)))
    assert al.status is C
    assert al.reasons == ()
    deleted = [d.source for d in al.diff if d.op is DiffOp.DELETE]
    assert len(deleted) == 1
    assert deleted[0].split()[-1] == widget.split()[-1]


@pytest.mark.parametrize(
    "skipped",
    [
        "related to the tunnel works and to the new station at the north end of the harbour",
        "more or less every year since the first contracts were signed with the builders in town",
        "as the council admitted in a long statement published on its website late on Monday night",
    ],
)
def test_words_that_only_look_like_a_label_are_still_a_splice(skipped: str) -> None:
    """Ordinary words that open like a label ("related to", "more or less") are the source's text:
    leaving them out is spliced, and the diff shows them."""
    al = align(WIDGET_QUOTE, index=index_text(WIDGET_PAGE.format(widget=skipped)))
    assert al.status is A
    assert Reason.SPLICED in al.reasons
    assert [d.source for d in al.diff if d.op is DiffOp.DELETE] == [
        " ".join(w.strip(",.") for w in skipped.split())
    ]


def test_elided_pieces_out_of_order_are_reordered() -> None:
    """Pieces of an elided quote in a different order than the source: altered, reordered."""
    al = align("Virginia Democrats won a legislative majority … Trump thought voters would repudiate")
    assert al.status is A
    assert Reason.REORDERED in al.reasons


def test_elided_piece_that_differs_makes_it_altered() -> None:
    """An elision whose piece was itself changed is altered, not elided."""
    al = align("Trump thought voters would embrace impeachment … Virginia Democrats won a legislative")
    assert al.status is A
    assert Reason.WORDS_REPLACED in al.reasons


def test_extended_past_the_end_of_the_sentence() -> None:
    """A real sentence grown past its end with invented words is extended."""
    al = align("Instead, they did the opposite and loudly cheered the president at every rally")
    assert al.status is A
    assert Reason.EXTENDED in al.reasons
    assert al.diff[-1].op is DiffOp.INSERT


def test_extended_at_the_start() -> None:
    """Invented words before a real fragment are extended too."""
    al = align("Everyone in Washington privately agrees that voters handed Trump an unambiguous defeat.")
    assert Reason.EXTENDED in al.reasons


# ---------------------------------------------------------------- not found


def test_fabricated_explicit_quote_is_not_found() -> None:
    """A quote sharing only common words with the page is not found."""
    al = align("The governor said that the people of the state want lower taxes and better roads.")
    assert al.status is N
    assert al.span is None


def test_commentary_with_the_articles_names_is_not_found() -> None:
    """Unmarked text mentioning the article's names and a phrase of it is the poster's own words."""
    al = align(
        "So Trump tied himself to the outcome and lost in Kentucky, Louisiana and Virginia. "
        "Anyone who thinks this means nothing for 2020 is kidding themselves.",
        explicit=False,
    )
    assert al.status is N


def test_unmarked_copy_with_a_change_is_altered() -> None:
    """Unmarked text that is clearly a copy but changed is still altered."""
    al = align(
        "Trump thought voters would repudiate impeachment and vindicate him. Instead, they did the "
        "opposite. Virginia Democrats won a legislative majority for the first time since 1999.",
        explicit=False,
    )
    assert al.status is A
    assert Reason.NUMBER_CHANGED in al.reasons


def test_heavily_changed_explicit_quote_keeps_its_diff() -> None:
    """An explicit quote with a real matched core is altered (shown with a diff), not not-found."""
    al = align("Voters handed Trump an unambiguous defeat, and that is a blow to his ego and his party.")
    assert al.status is A
    assert al.diff
    assert 0.0 < al.score < 0.9


def test_empty_passage_and_text() -> None:
    """Nothing to match is not found, never an error."""
    assert align("… !!").status is N
    assert align("anything", index=index_text("")).status is N


# ---------------------------------------------------------------- diff


@pytest.mark.parametrize(
    "passage",
    [
        "Trump thought voters would not repudiate impeachment and vindicate him.",
        "Virginia Democrats won a majority for the first time since 1993, flipping historically Republican",
        "Kentucky Democrats beat incumbent Gov. Matt Bevin in a state Obama won by 40 points in 2016.",
        "Instead, they did the opposite and loudly cheered the president at every rally",
    ],
)
def test_diff_reconstructs_both_sides(passage: str) -> None:
    """The diff's post sides give the passage's words; its source sides the span's words."""
    al = align(passage)
    assert al.span is not None
    post = " ".join(d.post for d in al.diff if d.post).split()
    source = " ".join(d.source for d in al.diff if d.source).split()
    assert post == tokenize(passage).words
    assert source == tokenize(TEXT[al.span[0] : al.span[1]]).words


# ---------------------------------------------------------------- properties

WORDS = re.findall(r"\S+", TEXT)
SOURCE_TOKENS = tokenize(TEXT)
NOISE: list[Callable[[str], str]] = [
    lambda s: s.replace("’", "'").replace("“", '"').replace("”", '"'),
    lambda s: s.replace("—", "-"),
    str.lower,
    str.upper,
    lambda s: s.replace(" ", "  "),
    lambda s: s.replace(" ", "\n", 1),
    lambda s: s.replace(",", ""),
]


@st.composite
def windows(draw: st.DrawFn, min_size: int = 1) -> tuple[int, int]:
    n = len(SOURCE_TOKENS)
    size = draw(st.integers(min_size, 60))
    start = draw(st.integers(0, n - size))
    return start, start + size


def cut(a: int, b: int) -> str:
    return TEXT[SOURCE_TOKENS.starts[a] : SOURCE_TOKENS.ends[b - 1]]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(windows(min_size=4))
def test_any_window_is_verbatim(window: tuple[int, int]) -> None:
    """Any contiguous word window of the source is verbatim, its span slicing exactly that window."""
    text = cut(*window)
    al = align(text)
    assert al.status is V
    assert al.span is not None
    assert words(TEXT[al.span[0] : al.span[1]]) == words(text)


@settings(max_examples=150, deadline=None)
@given(windows(min_size=4), st.lists(st.sampled_from(range(len(NOISE))), min_size=1, max_size=4))
def test_cosmetic_noise_is_never_flagged(window: tuple[int, int], ops: list[int]) -> None:
    """Quote style, dash style, case and whitespace changes keep a window verbatim or cosmetic."""
    text = cut(*window)
    for op in ops:
        text = NOISE[op](text)
    assert align(text).status in {V, C}


@settings(max_examples=150, deadline=None)
@given(windows(min_size=8), st.integers(0, 10_000), st.sampled_from(["zeppelin", "marmalade", "quark"]))
def test_one_foreign_word_is_altered(window: tuple[int, int], pos: int, word: str) -> None:
    """Replacing one word of a window of 8+ words by a word not in the source is altered."""
    a, b = window
    t = a + pos % (b - a)
    starts, ends = SOURCE_TOKENS.starts, SOURCE_TOKENS.ends
    text = TEXT[starts[a] : starts[t]] + word + TEXT[ends[t] : ends[b - 1]]
    al = align(text)
    assert al.status is A
    assert al.status not in FAITHFUL_STATUSES


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=0, max_size=200), st.booleans())
def test_span_always_within_the_text(passage: str, explicit: bool) -> None:
    """Whatever the passage, the span (if any) lies within the text and the score within 0..1."""
    al = align(passage, explicit=explicit)
    assert 0.0 <= al.score <= 1.0
    assert 0.0 <= al.coverage <= 1.0
    if al.span is not None:
        assert 0 <= al.span[0] <= al.span[1] <= len(TEXT)


def test_long_source_is_fast() -> None:
    """Fifty passages against a 100k-word text align in well under a second (after indexing)."""
    rng = random.Random(7)
    vocab = sorted(set(WORDS))
    big = " ".join(w + ("." if n % 17 == 16 else "") for n, w in enumerate(rng.choices(vocab, k=101_000)))
    index = index_text(big)
    assert len(index.ids) > 100_000
    toks = index.tokens
    passages = [big[toks.starts[j] : toks.ends[j + 40]] for j in range(1000, 95_000, 1900)][:50]
    started = time.perf_counter()
    results = [align(p, index=index) for p in passages]
    assert time.perf_counter() - started < 1.0
    assert all(r.status is V for r in results)


def test_long_passage_of_several_paragraphs() -> None:
    """A passage of several paragraphs (500+ words) copied whole is verbatim; one change flags it."""
    assert len(TEXT.split()) > 500
    assert align(TEXT).status is V
    changed = TEXT.replace("30 points", "3 points")
    al = align(changed)
    assert al.status is A
    assert Reason.NUMBER_CHANGED in al.reasons


def test_find_verbatim_agrees_with_the_aligner_on_spans() -> None:
    """The regex fast path finds what the aligner finds, on word boundaries only."""
    from service.pipeline.align.aligner import find_verbatim

    text = "She said the plan works. The plan  works\nwell, he said."
    found = find_verbatim("The plan works well,", text)
    assert found is not None
    assert found.status is QuoteStatus.VERBATIM
    assert found.span is not None
    assert text[found.span[0] : found.span[1]] == "The plan  works\nwell"
    slow = align_quote("The plan works well,", index_text(text), explicit=True, settings=AlignSettings())
    assert slow.span == found.span
    assert find_verbatim("he plan works", text) is None
    assert find_verbatim("plan work", text) is None
